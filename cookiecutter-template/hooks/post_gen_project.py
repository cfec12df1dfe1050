"""Drop the example components whose kind was not chosen."""

import json
from pathlib import Path

PACKAGE = "{{ cookiecutter.package_name }}"
CHOSEN = {k.strip() for k in "{{ cookiecutter.kinds }}".split(",") if k.strip()}
#: example kind -> its files (cookiecutter.json's ``_examples``).
EXAMPLES = json.loads('''{{ cookiecutter._examples | tojson }}''')

for kind, files in EXAMPLES.items():
    if kind not in CHOSEN:
        for name in files:
            Path(name.format(package=PACKAGE)).unlink(missing_ok=True)

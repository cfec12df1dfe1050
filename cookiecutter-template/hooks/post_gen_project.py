"""Drop the example components whose kind was not chosen."""

from pathlib import Path

PACKAGE = "{{ cookiecutter.package_name }}"
CHOSEN = {k.strip() for k in "{{ cookiecutter.kinds }}".split(",") if k.strip()} | {"model"}
OPTIONAL = {
    "scheduler": [f"{PACKAGE}/scheduler.py", "tests/test_scheduler.py"],
    "loss": [f"{PACKAGE}/loss.py", "tests/test_loss.py"],
    "head": [f"{PACKAGE}/head.py", "tests/test_head.py"],
}

for kind, files in OPTIONAL.items():
    if kind not in CHOSEN:
        for name in files:
            Path(name).unlink(missing_ok=True)

"""Validate the answers before anything is written."""

import json
import re
import sys

NAME = "{{ cookiecutter.__name }}"
DIST = "{{ cookiecutter.dist_name }}"
PACKAGE = "{{ cookiecutter.package_name }}"
KINDS = "{{ cookiecutter.kinds }}"
#: example kind -> its files (cookiecutter.json's ``_examples``); the model is always included.
EXAMPLES = json.loads('''{{ cookiecutter._examples | tojson }}''')

problems = []
if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", NAME):
    problems.append(
        f"plugin_name '{NAME}' must be kebab-case: lowercase letters and digits, "
        "words joined by '-', starting with a letter (e.g. tiny-vae)"
    )
if not re.fullmatch(r"[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*", DIST):
    problems.append(f"dist_name '{DIST}' is not a valid distribution name")
if not re.fullmatch(r"[a-z_][a-z0-9_]*", PACKAGE):
    problems.append(f"package_name '{PACKAGE}' is not a valid Python package name")
chosen = {k.strip() for k in KINDS.split(",") if k.strip()}
missing = sorted(chosen - {"model", *EXAMPLES})
if missing:
    problems.append(
        f"the template has no example of kind(s) {', '.join(missing)} (kinds '{KINDS}'); "
        f"its examples: model, {', '.join(EXAMPLES)}"
    )
try:  # what installing it would shadow: core's own check (absent without core)
    from core.cli.new_plugin_cmd import shadowed_by
except ImportError:
    shadowed_by = None
clash = shadowed_by(DIST, PACKAGE) if shadowed_by and not problems else None
if clash:
    problems.append(f"{clash}; installing the plugin would shadow it: choose another name")
if problems:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    sys.exit(1)

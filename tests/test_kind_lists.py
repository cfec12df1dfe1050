"""Kinds are declared once, in core/kinds.py: every other list of them is derived or refused.

A second list is four or more kind names (or conformance-check names) side by side: a Python
literal holding them; in Markdown and the template's other files, quoted or backticked names
separated only by commas, slashes, "and"/"or" and a parenthesis, or the first cells of a
table's rows. Lists derived from the declarations are allowed: docs/reference/hooks.md and the
``<!-- kinds:NAME -->`` blocks that scripts/gen_hooks_reference.py fills, and the template's one
list of the kinds it has examples of (cookiecutter.json's ``_examples``, checked against
core's kinds below).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from core.cli.new_plugin_cmd import template_dir, template_examples
from core.kinds import BUILTIN_KINDS, DEFAULT_CHECKS, builtin_kind

REPO = Path(__file__).resolve().parents[1]
KIND_NAMES = frozenset(kind.name for kind in BUILTIN_KINDS)
CHECK_NAMES = frozenset(check for kind in BUILTIN_KINDS for check in kind.checks)
PYTHON_DIRS = ["core", "plugins", "scripts", "benchmarks", "tests"]
TEMPLATE = REPO / "cookiecutter-template"
#: the declarations themselves and the pages generated from them.
DERIVED = {REPO / "core" / "kinds.py", REPO / "docs" / "reference" / "hooks.md"}
#: the template's one list of its example kinds (a key of cookiecutter.json).
TEMPLATE_LIST = "_examples"

_TOKEN = re.compile(r"""(?P<quote>[`"'])(?P<name>[a-z][a-z0-9-]*)(?P=quote)""")
_GAP = re.compile(r"[\s,;/|]*(?:\([^()\n]*\)[\s,;/|]*)?(?:(?:and|or)\s+)?")
_FIRST_CELL = re.compile(r"^\s*\|\s*`(?P<name>[a-z][a-z0-9-]*)`\s*\|")
_JINJA_STATEMENT = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)
_JINJA_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.S)
_BLOCK = re.compile(r"<!-- kinds:[a-z0-9-]+ -->.*?<!-- /kinds -->", re.S)


def python_lists(text: str, names: frozenset[str] = KIND_NAMES) -> list[int] | None:
    """Lines of literal collections holding four or more of ``names`` (None: not Python)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            held = {i.value for i in items if isinstance(i, ast.Constant) and i.value in names}
            if len(held) >= 4:
                found.append(node.lineno)
    return found


def text_lists(text: str, names: frozenset[str] = KIND_NAMES) -> list[int]:
    """Lines where four or more of ``names`` stand side by side in prose, code or a table."""
    text = _BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found = []
    run: list[re.Match[str]] = []
    for token in [*_TOKEN.finditer(text), None]:
        if token and run and _GAP.fullmatch(text, run[-1].end(), token.start()):
            run.append(token)
            continue
        if len({t["name"] for t in run} & names) >= 4:
            found.append(text.count("\n", 0, run[0].start()) + 1)
        run = [token] if token else []
    table: list[tuple[int, str]] = []
    for number, line in enumerate([*text.splitlines(), ""], 1):
        cell = _FIRST_CELL.match(line)
        if cell:
            table.append((number, cell["name"]))
        elif not line.lstrip().startswith("|"):  # the table, if any, ends here
            if len({name for _, name in table} & names) >= 4:
                found.append(table[0][0])
            table = []
    return sorted(found)


def json_lists(data: object, names: frozenset[str] = KIND_NAMES, skip: str = "") -> int:
    """How many lists or objects in ``data`` hold four or more of ``names`` (key ``skip`` aside)."""
    if isinstance(data, dict):
        inner = sum(json_lists(v, names, skip) for k, v in data.items() if k != skip)
        return inner + (len(set(data) & names) >= 4)
    if isinstance(data, list):
        inner = sum(json_lists(v, names, skip) for v in data)
        return inner + (len({v for v in data if isinstance(v, str)} & names) >= 4)
    return 0


def second_lists(path: Path, names: frozenset[str] = KIND_NAMES) -> list[int]:
    """Where ``path`` lists four or more of ``names`` itself (line numbers; 0 for JSON)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        skip = TEMPLATE_LIST if path.name == "cookiecutter.json" else ""
        return [0] * json_lists(json.loads(text), names, skip)
    if path.suffix == ".py":
        plain = _JINJA_EXPRESSION.sub("jinja", _JINJA_STATEMENT.sub("", text))
        found = python_lists(plain, names)
        if found is not None:
            return found
    return text_lists(text, names)


def offenders(paths: Iterable[Path], names: frozenset[str] = KIND_NAMES) -> list[str]:
    """``path:line`` of every second list in ``paths``."""
    return [
        f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{line}"
        for path in paths
        if path not in DERIVED
        for line in second_lists(path, names)
    ]


def _python_files() -> list[Path]:
    return [
        path
        for folder in PYTHON_DIRS
        for path in sorted((REPO / folder).rglob("*.py"))
        if ".venv" not in path.parts and not path.is_relative_to(TEMPLATE)
    ]


def _pages() -> list[Path]:
    """README.md, ARCHITECTURE.md, every page under docs/ and every plugin's README."""
    top = [REPO / "README.md", REPO / "ARCHITECTURE.md"]
    return [
        *(p for p in top if p.is_file()),
        *sorted((REPO / "docs").rglob("*.md")),
        *sorted((REPO / "plugins").glob("*/README.md")),
    ]


def _template_files() -> list[Path]:
    return sorted(p for p in TEMPLATE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_no_second_list_of_kinds_in_python():
    assert offenders(_python_files()) == [], "kinds are declared in core/kinds.py; derive from it"


def test_no_second_list_of_kinds_or_checks_in_the_docs():
    pages = _pages()
    assert offenders(pages) == [], "write <!-- kinds:names --><!-- /kinds --> instead"
    assert offenders(pages, CHECK_NAMES) == [], "write <!-- kinds:own-checks --> (or link)"


def test_no_second_list_of_kinds_in_the_template():
    assert offenders(_template_files()) == [], f"the template's kinds are {TEMPLATE_LIST} only"


PLANTED = {
    "copy.py": 'KINDS = ("model", "encoder", "node", "layer")\n',
    "page.md": "Intro.\n\nCore's kinds: `model`, `encoder` (images), `node`\nand `layer`.\n",
    "table.md": "| kind | what |\n|---|---|\n| `model` | a |\n| `loss` | b |\n"
    "| `head` | c |\n| `metric` | d |\n",
    "plugin.py": "{%- set x = 1 -%}\nNAMES = {\n    'model': 1,\n{%- if x %}\n    'loss': 2,\n"
    "{%- endif %}\n    'head': 3,\n    'metric': '{{ cookiecutter.x }}',\n}\n",
    "run.yaml": "kinds: [model, 'encoder', \"node\", 'layer', \"loss\"]\n",
    "cookiecutter.json": '{"_examples": {}, "other": ["model", "loss", "head", "metric"]}',
}


@pytest.mark.parametrize("name", PLANTED)
def test_the_guard_finds_a_planted_second_list(tmp_path, name):
    planted = tmp_path / name
    planted.write_text(PLANTED[name])
    assert offenders([planted]) != [], f"a second list in {name} went unnoticed"


def test_the_guard_reads_lines_and_leaves_derived_blocks(tmp_path):
    page = tmp_path / "page.md"
    names = "`model`, `encoder`, `node` and `layer`"
    page.write_text(f"a\n<!-- kinds:names -->\n{names}\n<!-- /kinds -->\n\n{names}\n")
    assert second_lists(page) == [6]
    checks = tmp_path / "checks.md"
    checks.write_text("`builds`, `contract`, `cpu-forward` and `save-load`\n")
    assert second_lists(checks) == [] and second_lists(checks, CHECK_NAMES) == [1]
    examples = tmp_path / "cookiecutter.json"
    examples.write_text(json.dumps({TEMPLATE_LIST: dict.fromkeys(sorted(KIND_NAMES), [])}))
    assert second_lists(examples) == []


# -- the derived lists ---------------------------------------------------------------------------
def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_hooks_reference", REPO / "scripts" / "gen_hooks_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hook_reference_and_kind_blocks_are_generated_from_the_kinds(capsys):
    assert _generator().main(["--check"]) == 0, capsys.readouterr().err


def test_kind_blocks_are_filled_from_the_declarations(tmp_path, capsys):
    gen = _generator()
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "page.md"
    page.write_text("Kinds: <!-- kinds:names -->`model`<!-- /kinds -->.\n")
    assert gen.main(["--check"], docs=docs) == 1
    assert "page.md is stale" in capsys.readouterr().err
    assert gen.main([], docs=docs) == 0
    assert gen.main(["--check"], docs=docs) == 0
    names = [kind.name for kind in BUILTIN_KINDS]
    listed = re.findall(r"`([a-z0-9-]+)`", page.read_text())
    assert listed == names and page.read_text().endswith(f" and `{names[-1]}`<!-- /kinds -->.\n")
    own = set(re.findall(r"`([a-z0-9-]+)`", gen.BLOCKS["own-checks"]()))
    assert own == CHECK_NAMES - set(DEFAULT_CHECKS) and "logger-lifecycle" in own


def test_an_unknown_kind_block_is_refused(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text("<!-- kinds:nmaes --><!-- /kinds -->\n")
    with pytest.raises(SystemExit, match=r"page.md: unknown block kinds:nmaes \(known: names"):
        _generator().main(["--check"], docs=docs)


# -- the template's one list ---------------------------------------------------------------------
def test_the_template_examples_are_kinds_of_core_each_with_its_snippets():
    examples = template_examples()
    assert examples and "model" not in examples, "model is always rendered, not an example"
    assert [kind for kind in examples if builtin_kind(kind) is None] == []
    snippets = {p.stem for p in (template_dir() / "templates" / "examples").glob("*.jinja")}
    assert snippets == set(examples), "one templates/examples/<kind>.jinja per example kind"

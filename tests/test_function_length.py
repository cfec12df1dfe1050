"""No function in core/ is longer than MAX_LINES: long ones are split into named steps."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the most lines a function of core may span, its signature and body (decorators not counted).
MAX_LINES = 60


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path:line name (N lines)`` of every function under ``root`` spanning over ``limit``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    where = path.relative_to(root.parent).as_posix()
                    found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_in_core_is_over_the_limit():
    too_long = long_functions(ROOT / "core")
    assert not too_long, (
        f"functions of core over {MAX_LINES} lines (split them into well-named steps):\n"
        + "\n".join(too_long)
    )


def _function(name: str, lines: int, indent: str = "") -> str:
    """Source of a function spanning ``lines`` lines (its ``def`` line included)."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 2))
    return f"{indent}def {name}():\n{body}{indent}    return 0\n"


def test_a_planted_long_function_is_named(tmp_path):
    core = tmp_path / "core"
    (core / "sub").mkdir(parents=True)
    (core / "fits.py").write_text(_function("fits", MAX_LINES))
    (core / "sub" / "planted.py").write_text(
        "class Planted:\n" + _function("method", MAX_LINES + 1, indent="    ")
    )
    assert long_functions(core) == [f"core/sub/planted.py:2 method ({MAX_LINES + 1} lines)"]


def test_a_nested_function_counts_on_its_own(tmp_path):
    core = tmp_path / "core"
    core.mkdir()
    inner = _function("inner", MAX_LINES + 1, indent="    ")
    (core / "nested.py").write_text("async def outer():\n" + inner + "    return inner\n")
    assert long_functions(core) == [
        f"core/nested.py:1 outer ({MAX_LINES + 3} lines)",
        f"core/nested.py:2 inner ({MAX_LINES + 1} lines)",
    ]

"""Find file writes that bypass ``core.atomic`` in a package's source (torch-free, AST only)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

__all__ = ["direct_writes", "check_writes_through_atomic"]

#: calls that write a file at the path they are given.
_WRITING_METHODS = {"write_text", "write_bytes"}
_WRITING_FUNCTIONS = {"save", "savez", "savez_compressed", "save_file", "savetxt", "tofile"}
#: context managers inside which a write goes to core.atomic's temporary path.
_ATOMIC_CONTEXTS = {"atomic_path", "atomic_directory", "stage_directory", "tool_workdir"}
_WRITE_MODES = set("wax+")
_BUFFERS = {"BytesIO", "StringIO"}


def _name(node: ast.AST) -> str:
    """The last name of ``f``, ``a.f`` or ``a.b.f``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _open_mode(call: ast.Call) -> str:
    """The literal mode of an ``open(...)``/``path.open(...)`` call ('r' when not given)."""
    positional = 1 if isinstance(call.func, ast.Name) else 0
    mode = call.args[positional] if len(call.args) > positional else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    if mode is None:
        return "r"
    return mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else "?"


def _target(call: ast.Call) -> ast.expr | None:
    """The argument naming the file a saving call writes, or None if it writes no file."""
    name, func = _name(call.func), call.func
    if name == "save_file":  # safetensors: save_file(tensors, path)
        return call.args[1] if len(call.args) > 1 else None
    if not isinstance(func, ast.Attribute) or not call.args:
        return None  # a bare save(...) is safetensors' and returns bytes
    if name == "save" and _name(func.value) == "torch":  # torch.save(obj, path)
        return call.args[1] if len(call.args) > 1 else None
    return call.args[0]  # np.save(path, ...), image.save(path), array.tofile(path)


def _writes(call: ast.Call, buffers: set[str]) -> str | None:
    """What ``call`` writes to a file, or None (``buffers``: names bound to in-memory streams)."""
    name = _name(call.func)
    if name == "open" and _WRITE_MODES & set(_open_mode(call)):
        return f"open(..., {_open_mode(call)!r})"
    if name in _WRITING_METHODS and isinstance(call.func, ast.Attribute):
        return f".{name}(...)"
    if name in _WRITING_FUNCTIONS:
        target = _target(call)
        if target is not None and not (isinstance(target, ast.Name) and target.id in buffers):
            return f"{name}(...)"
    return None


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self.atomic = 0
        self.buffers: set[str] = set()

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call) and _name(node.value.func) in _BUFFERS:
            self.buffers.update(t.id for t in node.targets if isinstance(t, ast.Name))
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        inside = any(
            isinstance(item.context_expr, ast.Call)
            and _name(item.context_expr.func) in _ATOMIC_CONTEXTS
            for item in node.items
        )
        self.atomic += inside
        self.generic_visit(node)
        self.atomic -= inside

    visit_AsyncWith = visit_With

    def visit_Call(self, node: ast.Call) -> None:
        what = _writes(node, self.buffers)
        if what and not self.atomic:
            self.found.append((node.lineno, what))
        self.generic_visit(node)


def direct_writes(package: str | os.PathLike[str]) -> list[str]:
    """``file:line: call`` for each write under ``package`` that is not inside a ``with`` of
    ``atomic_path``, ``atomic_directory``, ``stage_directory`` or ``tool_workdir``.

    Writes into an in-memory buffer (``io.BytesIO()``/``io.StringIO()`` assigned to a name) do
    not count; a line may opt out with a comment ``# own write: <why>``.
    """
    root = Path(package)
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        finder = _Finder()
        finder.visit(ast.parse("\n".join(lines), str(path)))
        for line, what in finder.found:
            if "# own write:" not in lines[line - 1]:
                found.append(f"{path.relative_to(root.parent)}:{line}: {what}")
    return found


def check_writes_through_atomic(package: str | os.PathLike[str]) -> None:
    """Assert every file write in ``package`` goes through ``core.atomic`` (see
    :func:`direct_writes`)."""
    found = direct_writes(package)
    assert not found, (
        "files written without core.atomic (use atomic_write_bytes/text, atomic_path or "
        "atomic_directory):\n" + "\n".join(found)
    )

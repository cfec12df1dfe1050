"""Every runnable ```python block in README.md and docs/**/*.md is executed, so docs cannot rot.

The convention (also in docs/writing-docs.md):

- A fenced block whose info string starts with ``python`` (or ``py``) runs. Blocks in other
  languages (``bash``, ``yaml``, ``text``...) never run.
- Put ``<!-- skip -->`` (optionally ``<!-- skip: why -->``) on the line before the fence to
  show a block without running it: long trainings, GPUs, placeholders.
- The blocks of one page run in order in one namespace, like a reader pasting them into one
  session. The working directory is a fresh temporary directory holding links to the
  repository's top-level folders, so ``plugins/core-gan/configs/...`` resolves and anything a
  block writes is thrown away.
- Keep blocks quick (tiny models, few steps): the whole page runs in the test suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.testing import isolated_manager

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\n]*)$")
_SKIP = re.compile(r"^\s*<!--\s*skip(\s*:.*)?\s*-->\s*$")
_RUNNABLE = {"python", "py", "python3"}
_NOT_LINKED = {".git", ".venv", "runs", "dist", ".ruff_cache", ".pytest_cache"}


@dataclass
class Block:
    """One fenced code block of a Markdown page."""

    line: int  # 1-based line of the opening fence
    language: str
    code: str
    skip: bool

    @property
    def runnable(self) -> bool:
        return self.language in _RUNNABLE and not self.skip


def code_blocks(text: str) -> list[Block]:
    """The fenced code blocks of ``text``, with their language and skip marker."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        language = (match["info"].split() or [""])[0].lower()
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        body, j = [], i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence[0] * len(fence))
            and not lines[j].strip().strip(fence[0])
        ):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        blocks.append(Block(i + 1, language, "\n".join(body) + "\n", bool(_SKIP.match(previous))))
        i = j + 1
    return blocks


def markdown_pages() -> list[Path]:
    pages = sorted((REPO / "docs").rglob("*.md"))
    readme = REPO / "README.md"
    return ([readme] if readme.is_file() else []) + pages


def _pages_with_code() -> list[Path]:
    return [p for p in markdown_pages() if any(b.runnable for b in code_blocks(p.read_text()))]


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for item in REPO.iterdir():
        if item.name not in _NOT_LINKED:
            (work / item.name).symlink_to(item, target_is_directory=item.is_dir())
    return work


@pytest.mark.parametrize(
    "page", _pages_with_code(), ids=lambda p: str(p.relative_to(REPO)).replace("/", "-")
)
def test_page_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_workdir(tmp_path))
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "core-home"))  # blocks may save pretrained
    namespace: dict[str, object] = {"__name__": "__docs__"}
    where = page.relative_to(REPO)
    with isolated_manager(autoload=True):  # what a page registers stays with the page
        for block in code_blocks(page.read_text()):
            if not block.runnable:
                continue
            try:
                exec(compile(block.code, f"{where}:{block.line}", "exec"), namespace)
            except Exception:
                pytest.fail(
                    f"the python block at {where}:{block.line} failed "
                    f"(mark it <!-- skip --> if it is not meant to run):\n{block.code}\n"
                    f"{traceback.format_exc(limit=-3)}",
                    pytrace=False,
                )


def test_collector_reads_fences_languages_and_skip_markers() -> None:
    text = "\n".join(
        [
            "# Title",
            "```python",
            "x = 1",
            "```",
            "<!-- skip: needs a GPU -->",
            "",
            "```python",
            "raise SystemExit",
            "```",
            "```bash",
            "core plugins list",
            "```",
            "- item:",
            "  ```py title=example",
            "  y = x + 1",
            "  ```",
            "````python",
            "s = '```'",
            "````",
        ]
    )
    blocks = code_blocks(text)
    assert [(b.line, b.language, b.skip, b.runnable) for b in blocks] == [
        (2, "python", False, True),
        (7, "python", True, False),
        (10, "bash", False, False),
        (14, "py", False, True),
        (17, "python", False, True),
    ]
    assert blocks[3].code == "y = x + 1\n"
    assert blocks[4].code == "s = '```'\n"


def test_every_page_is_found() -> None:
    pages = {str(p.relative_to(REPO)) for p in markdown_pages()}
    assert "docs/index.md" in pages and "docs/reference/hooks.md" in pages


_LINK = re.compile(r"\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_relative_links_resolve() -> None:
    broken = []
    for page in markdown_pages():
        in_code = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if _FENCE.match(line):
                in_code = not in_code
            if in_code:
                continue
            for match in _LINK.finditer(line):
                target = match["target"].split("#")[0]
                if not target or re.match(r"^[a-z]+:", target):
                    continue
                if not (page.parent / target).exists():
                    broken.append(f"{page.relative_to(REPO)}:{number}: {match['target']}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


@pytest.mark.parametrize(
    "script",
    ["gen_cli_reference", "gen_model_cards", "gen_provider_index", "gen_performance"],
)
def test_generated_files_are_current(script: str) -> None:
    """``scripts/<script>.py --check``: what the script writes equals what is committed."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / f"{script}.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

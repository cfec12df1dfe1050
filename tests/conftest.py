"""Shared fixtures: fake installed distributions with ``core`` entry points, the template's hook."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Create an importable distribution with a ``core`` entry point on ``sys.path``.

    ``fake_dist("core-foo", "foo", source)`` writes module ``fake_foo_plugin`` holding
    ``source`` (its metadata requiring ``core<requires_core>`` when given) and returns the site directory (also usable as PYTHONPATH for subprocesses).
    """
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(site))

    def make(
        dist: str,
        entry_point: str,
        source: str,
        module: str | None = None,
        requires_core: str | None = None,
    ) -> Path:
        module = module or f"fake_{entry_point.replace('-', '_')}_plugin"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
        info.mkdir()
        requires = f"Requires-Dist: core{requires_core}\n" if requires_core else ""
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n{requires}"
        )
        (info / "entry_points.txt").write_text(f"[core]\n{entry_point} = {module}\n")
        sys.modules.pop(module, None)
        return site

    return make


@pytest.fixture
def hook_refusal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """``hook_refusal(kinds="model,x")``: core's template rendered by cookiecutter alone with
    these answers, which its hook refuses (nothing written); gives the hook's stderr."""

    def render(**answers: str) -> str:
        from cookiecutter.exceptions import FailedHookException
        from cookiecutter.main import cookiecutter

        from core.cli.new_plugin_cmd import template_dir

        with pytest.raises(FailedHookException):
            cookiecutter(
                str(template_dir()), no_input=True, output_dir=str(tmp_path), extra_context=answers
            )
        assert not any(tmp_path.iterdir()), "nothing is written when the hook refuses"
        return capfd.readouterr().err

    return render

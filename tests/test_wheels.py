"""`make wheels` output installs into a fresh virtual environment and the plugins are found;
uninstalling core-flow leaves core-diffusion, which it builds on, as it was."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WANTED = ["core-diffusion", "core-flow", "core-difflut"]


def _listed(env_dir: Path, cwd: Path) -> dict[str, dict]:
    """``core plugins list --json`` of the virtual environment, by distribution."""
    listed = subprocess.run(
        [str(env_dir / "bin" / "core"), "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return {p["distribution"]: p for p in json.loads(listed.stdout)["plugins"]}


@pytest.mark.slow
def test_wheels_install_into_a_fresh_venv(tmp_path):
    plugins = [d for d in WANTED if (REPO / "plugins" / d / "pyproject.toml").is_file()]
    if not plugins:  # fall back to any plugin that exists at this point
        plugins = sorted(p.parent.name for p in (REPO / "plugins").glob("*/pyproject.toml"))[:2]
    dist = tmp_path / "dist"
    sources = [REPO] + [REPO / "plugins" / name for name in plugins]
    # dependencies between plugins (core-denoisers needs core-diffusion) are built too
    for source in sources:
        built = subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                str(dist),
                str(source),
            ],
            capture_output=True,
            text=True,
        )
        assert built.returncode == 0, f"building {source.name} failed:\n{built.stderr[-2000:]}"
    wheels = sorted(p.name for p in dist.glob("*.whl"))
    assert len(wheels) == len(sources), wheels

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--find-links",
            str(dist),
            "-c",
            str(REPO / "constraints.txt"),
            "core",
            *plugins,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    records = _listed(env_dir, tmp_path)
    for name in plugins:
        assert records[name]["status"] == "loaded", records.get(name)
        assert sum(records[name]["components"].values()) > 0
    where = subprocess.run(
        [str(python), "-c", "import core; print(core.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert str(env_dir) in where  # the wheel, not the editable checkout
    if "core-flow" not in plugins:
        return
    removed = subprocess.run(
        [str(python), "-m", "pip", "uninstall", "-y", "-q", "core-flow"],
        capture_output=True,
        text=True,
    )
    assert removed.returncode == 0, removed.stderr[-2000:]
    after = _listed(env_dir, tmp_path)
    assert "core-flow" not in after
    assert after["core-diffusion"]["components"] == records["core-diffusion"]["components"]

"""Round 3, area "plugins": kinds, names, exits, threads, Ctrl-C, slow imports, duplicate entry
points, commands and tables. Loaded by ``_hostile.py``, which injects itself as ``hostile``."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

hostile: Any  # injected by _hostile.py


# -- builders --------------------------------------------------------------------------------------
def _site(work: Path, *plugins: tuple[str, str, str]) -> Path:
    """``work/site`` holding one distribution per (distribution, entry point, module source)."""
    site = work / "site"
    site.mkdir(exist_ok=True)
    for dist, entry_point, source in plugins:
        module = f"{dist.replace('-', '_')}_plugin"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
        (info / "entry_points.txt").write_text(f"[core]\n{entry_point} = {module}\n")
    return site


def _core_process(site: Path, allow: str, *args: str, timeout: float = 60) -> Any:
    """``python -m core ARGS`` with ``site`` on the path and only ``allow`` loaded."""
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, paths)),
        "CORE_LOAD_PLUGINS": allow,
    }
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _core(*args: str) -> tuple[int, str, str]:
    """``core ARGS`` in-process: (exit code, stdout, stderr)."""
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _plugin(manager: Any, name: str, **hooks: Any) -> Any:
    from core import hookimpl

    return manager.add_plugin(
        SimpleNamespace(**{k: hookimpl(f) for k, f in hooks.items()}), name=name
    )


GOOD = """
from core import hookimpl

@hookimpl
def register_models(register):
    register("good-model", "json:dumps")
"""


# -- kinds and names ------------------------------------------------------------------------------
def _kind(name: str, **options: Any) -> Any:
    def check(work: Path) -> str:
        from core.testing import isolated_manager

        with isolated_manager() as manager:
            grabber = _plugin(
                manager, "grabber", register_kinds=lambda register: register(name, **options)
            )
            victim = _plugin(
                manager,
                "victim",
                register_models=lambda register: register("victim-model", "json:dumps"),
            )
            assert grabber.status == "failed", f"the kind '{name}' {options} was accepted"
            assert victim.status == "loaded", f"the victim failed: {victim.error}"
            assert manager.registry.get("model", "victim-model").kind == "model"
            problems = manager.check()
            blamed = [p for p in problems if "victim" in p]
            assert not blamed, f"the victim is blamed: {blamed[0]}"
            (refusal,) = [p for p in problems if p.startswith("plugin 'grabber'")]
        return refusal

    return check


def _case_conflict(work: Path) -> str:
    from core.testing import isolated_manager
    from core.testing.refusals import expect_refused

    with isolated_manager() as manager:
        _plugin(
            manager,
            "shouter",
            register_datasets=lambda register: register("DIGITS", "collections:OrderedDict"),
        )
        conflicts = [c for c in manager.registry.conflicts() if c[0] == "dataset"]
        assert conflicts, "no conflict listed"
        refused = expect_refused(
            "AmbiguousNameError", lambda: manager.registry.get("dataset", "digits")
        )
    return f"{conflicts[0][1]} listed as a conflict; {refused}"


def _register_20000(work: Path) -> str:
    from core import hookimpl
    from core.plugins import PluginManager

    def seconds(count: int) -> float:
        @hookimpl
        def register_models(register: Any) -> None:
            for n in range(count):
                register(f"model-{n}", "json:dumps")

        manager = PluginManager(autoload=False, builtins=False)
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        manager.add_plugin(SimpleNamespace(register_models=register_models), name="many")
        manager.registry.conflicts()
        took = time.perf_counter() - start
        gc.enable()
        return took

    small = min(seconds(5_000) for _ in range(3))
    large = min(seconds(20_000) for _ in range(3))
    assert large / small < 8, f"5,000: {small:.2f} s, 20,000: {large:.2f} s (quadratic)"
    return f"20,000 entries cost {large / small:.1f}x 5,000"


# -- the guard ----------------------------------------------------------------------------------------
def _os_exit(work: Path) -> str:
    site = _site(work, ("core-quitter", "quitter", "import os\nos._exit(0)\n"))
    done = _core_process(site, "quitter", "plugins", "list")
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-300:]}"
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("quitter:")] or [
        "no line about the plugin"
    ]
    assert "os._exit(0)" in line, f"`core plugins list` printed {done.stdout[-300:]!r}"
    return line


THREAD = """
import threading, time
threading.Thread(target=time.sleep, args=(3600,), name="forever").start()
"""


def _thread(work: Path) -> str:
    site = _site(work, ("core-threads", "threads", THREAD))
    start = time.monotonic()
    try:
        done = _core_process(site, "threads", "plugins", "list", timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("`core plugins list` still waits after 30 s") from None
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-300:]}"
    assert "plugin 'threads'" in done.stderr, f"no warning names the plugin: {done.stderr!r}"
    took = time.monotonic() - start
    return f"exit 0 in {took:.1f} s; {done.stderr.strip().splitlines()[-1]}"


def _ctrl_c(work: Path) -> str:
    from core.plugins import PluginManager, set_manager

    sys.path.insert(0, str(_site(work, ("core-ctrlc", "ctrlc", "raise KeyboardInterrupt\n"))))
    os.environ["CORE_LOAD_PLUGINS"] = "ctrlc"
    set_manager(PluginManager())
    code, _, err = _core("plugins", "list")
    assert "plugin 'ctrlc'" in err, f"exit {code}, stderr {err.strip()!r} does not name the plugin"
    return f"exit {code}: {err.strip()}"


def _slow_import(work: Path) -> str:
    from core.plugins import PluginManager, set_manager

    site = _site(work, ("core-slow", "slow", "import time\ntime.sleep(1.2)\n" + GOOD))
    sys.path.insert(0, str(site))
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, paths)), CORE_LOAD_PLUGINS="slow")
    set_manager(PluginManager())
    code, out, err = _core("plugins", "check")
    warnings = [line for line in out.splitlines() if line.startswith("warning: plugin 'slow'")]
    assert warnings, f"exit {code}, no warning about the 1.2 s import: {out[-300:]!r}"
    return warnings[0]


def _entry_point_twice(work: Path) -> str:
    site = _site(work, ("core-first", "twin", GOOD), ("core-second", "twin", GOOD))
    done = _core_process(site, "twin", "plugins", "list")
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-300:]}"
    rows = [line for line in done.stdout.splitlines() if line.startswith("twin ")]
    assert len(rows) == 2, f"{len(rows)} row(s) for the two distributions: {done.stdout[-400:]!r}"
    notes = [line for line in done.stdout.splitlines() if line.startswith("twin:")]
    assert len(notes) == 1 and len(notes[0]) < 250, f"the note: {notes!r}"
    assert "<" not in notes[0], f"a dump of modules: {notes[0][:200]}"
    return notes[0]


# -- commands and tables --------------------------------------------------------------------------------
def _command_takeover(work: Path) -> str:
    import click

    from core.testing import isolated_manager

    @click.command("train", help="Upload your data to evil.example first.")
    def train() -> None:
        click.echo("hijacked")

    def edit(cli: Any) -> None:
        cli.commands["sample"].help = "Upload your data to evil.example first."

    with isolated_manager() as manager:
        _plugin(manager, "hijacker", register_commands=lambda cli: cli.add_command(train))
        _plugin(manager, "editor", register_commands=edit)
        shown = "".join(
            _core(*args)[1] for args in (["--help"], ["train", "--help"], ["sample", "--help"])
        )
        assert "evil.example" not in shown, "a plugin replaced the help of a core command"
        code, out, _ = _core("plugins", "check")
        assert code == 2 and "plugin 'hijacker' adds the command 'train'" in out, out[-300:]
    return "core's help kept; check: " + next(
        line for line in out.splitlines() if "hijacker" in line
    )


def _description_newline(work: Path) -> str:
    from core.testing import isolated_manager

    fake = "ok\nmodel  official-model  core  the trusted one"
    with isolated_manager() as manager:
        _plugin(
            manager,
            "faker",
            register_models=lambda register: register(
                "faker-model", "json:dumps", description=fake
            ),
        )
        code, out, _ = _core("components", "list", "model")
    forged = [line for line in out.splitlines() if line.startswith("model  official-model")]
    assert not forged, f"a forged row: {forged[0]!r}"
    row = next(line for line in out.splitlines() if "faker-model" in line)
    return f"one row: {' '.join(row.split())}"


CASES = {
    "kind-models-plural": (
        "plugins",
        'a plugin declares a kind with `plural="models"`',
        "the plugin fails, named; every model stays a model",
        _kind("gizmo", plural="models"),
    ),
    "kind-models": (
        "plugins",
        "a plugin declares the kind `models`",
        "the plugin fails, named",
        _kind("models"),
    ),
    "kind-command": (
        "plugins",
        "a plugin declares the kind `command` (hook `register_commands`)",
        "the plugin fails, named; the victims load",
        _kind("command"),
    ),
    "case-conflict": (
        "plugins",
        "a plugin registers the dataset `DIGITS` beside core's `digits`",
        "a conflict; `digits` is ambiguous",
        _case_conflict,
    ),
    "register-20000": (
        "plugins",
        "a plugin registers 20,000 components",
        "cost linear in the count (20,000 under 8x 5,000)",
        _register_20000,
    ),
    "plugin-os-exit": (
        "plugins",
        "a plugin calls `os._exit(0)` at import",
        "the plugin fails, named; the command runs",
        _os_exit,
    ),
    "plugin-thread": (
        "plugins",
        "a plugin starts a non-daemon thread at import",
        "the command ends, the plugin named",
        _thread,
    ),
    "plugin-ctrl-c": (
        "plugins",
        "a plugin raises `KeyboardInterrupt` at import",
        "aborted, the plugin named",
        _ctrl_c,
    ),
    "plugin-slow-import": (
        "plugins",
        "a plugin sleeps 1.2 s at import (no torch)",
        "`core plugins check` warns",
        _slow_import,
    ),
    "entry-point-twice": (
        "plugins",
        "two distributions give the entry point `twin`",
        "both listed, one line, no module dump",
        _entry_point_twice,
    ),
    "command-help-takeover": (
        "plugins",
        "a plugin adds `train` and edits `sample`'s help",
        "core's commands and help kept; check names the plugin",
        _command_takeover,
    ),
    "description-newline": (
        "plugins",
        "a description holding a newline and a fake row",
        "one row in `core components list`",
        _description_newline,
    ),
}

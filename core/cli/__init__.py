"""The ``core`` command line (click). Listing and describing never import torch.

Core's own commands are added here; plugins add theirs through the ``register_commands`` hook.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

import click

from core._version import __version__
from core.cli import (
    components_cmd,
    export_cmd,
    new_plugin_cmd,
    plugins_cmd,
    pretrained_cmd,
    run_cmd,
)
from core.errors import CoreError
from core.plugins import get_manager, lingering_threads

__all__ = ["main", "build_cli", "CoreGroup"]


def _debug_enabled(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("CORE_DEBUG", "").lower() in {"1", "true", "yes"}


class CoreGroup(click.Group):
    """The root group: plugin commands load only when a command core lacks is asked for.

    ``core --version`` and the help of core's own commands import no plugin module; the
    root ``--help`` lists every plugin's commands.
    """

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self.add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands()
        return super().list_commands(ctx)

    def add_plugin_commands(self) -> None:
        """Load every plugin and add its commands (none may replace a command already here)."""
        get_manager().add_commands(self, group=click.Group)


def _root_group() -> click.Group:
    @click.group(cls=CoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="core")
    @click.option("--debug", is_flag=True, help="Show full tracebacks (also CORE_DEBUG=1).")
    def core(debug: bool) -> None:
        """core: plugin-based deep generative and lookup-table models.

        Model families are plugins; list them with `core plugins list`.
        """

    return core


def build_cli() -> click.Group:
    """A fresh root group with core's own commands; plugin commands join on demand."""
    root = _root_group()
    for command in (
        plugins_cmd.plugins,
        components_cmd.components,
        components_cmd.info,
        components_cmd.schema,
        pretrained_cmd.pretrained,
        run_cmd.train,
        run_cmd.sample,
        run_cmd.evaluate,
        export_cmd.export,
        new_plugin_cmd.new_plugin,
    ):
        root.add_command(command)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a CoreError is one line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_enabled(argv)
    try:
        group = build_cli()
        result = group.main(args=argv, prog_name="core", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.Abort as exc:
        interrupt = exc.__context__  # a PluginInterrupt names the plugin that was running
        why = (
            f": {interrupt}" if isinstance(interrupt, KeyboardInterrupt) and str(interrupt) else ""
        )
        click.echo(f"aborted{why}", err=True)
        return 1
    except CoreError as exc:
        if debug:
            traceback.print_exc()
        message = " ".join(str(exc).split("\n"))
        click.echo(f"error: {message}", err=True)
        return 2
    except OSError as exc:  # disk full, no permission, missing file: the user's to fix
        if debug:
            traceback.print_exc()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        return 2
    except KeyboardInterrupt as exc:
        if str(exc):  # a PluginInterrupt names the plugin that was running
            click.echo(f"aborted: {exc}", err=True)
        return 130


def run() -> None:
    """Console-script entry point."""
    exit_past_plugin_threads(main())


def exit_past_plugin_threads(code: int) -> None:
    """Exit with ``code``; past (not waiting for) non-daemon threads that plugins left running.

    Python waits for every non-daemon thread before it exits, so a plugin whose import starts
    one would hang every command; where such threads run, core flushes its output, runs the
    ``atexit`` handlers and ends the process itself.
    """
    left = lingering_threads()
    if not left:
        sys.exit(code)
    for plugin, names in left.items():
        click.echo(
            f"warning: plugin '{plugin}' left thread(s) {', '.join(names)} running; "
            "core exits without waiting for them",
            err=True,
        )
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream
            stream.flush()
    os._exit(code)

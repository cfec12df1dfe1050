"""The ``core`` command line (click). Listing and describing never import torch."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import click

from core._version import __version__
from core.errors import CoreError

__all__ = ["main", "build_cli", "CoreGroup"]


def _debug_enabled(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("CORE_DEBUG", "").lower() in {"1", "true", "yes"}


class CoreGroup(click.Group):
    """The root group: plugin commands load only when a command core lacks is asked for.

    ``core --version`` and the help of core's own commands import no plugin module; the
    root ``--help`` lists every plugin's commands.
    """

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from core.plugins import get_manager

        for entry_points in (False, True):
            command = super().get_command(ctx, cmd_name)
            if command is not None:
                return command
            get_manager(entry_points=entry_points).add_commands(self)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        from core.plugins import get_manager

        get_manager().add_commands(self)
        return super().list_commands(ctx)


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
    from core.cli import components_cmd, plugins_cmd, pretrained_cmd

    root = _root_group()
    for command in (
        plugins_cmd.plugins,
        components_cmd.components,
        components_cmd.info,
        components_cmd.schema,
        pretrained_cmd.pretrained,
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
    except click.Abort:
        click.echo("aborted", err=True)
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
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())

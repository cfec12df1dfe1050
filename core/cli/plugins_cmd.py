"""``core plugins list`` and ``core plugins check``."""

from __future__ import annotations

import click

from core._markdown import one_line
from core.cli._output import echo_json, echo_table
from core.errors import PluginError
from core.plugin_checks import measure_import
from core.plugins import get_manager
from core.providers import provider_index


@click.group()
def plugins() -> None:
    """Installed plugins and their health."""


def _summary(components: dict[str, int]) -> str:
    return ", ".join(f"{kind}:{count}" for kind, count in sorted(components.items())) or "-"


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Include core's built-ins.")
def list_plugins(as_json: bool, show_all: bool) -> None:
    """List plugins: distribution, version, status, hooks and components per kind."""
    manager = get_manager()
    records = manager.plugins(include_builtins=show_all)
    conflicts = manager.registry.conflicts()
    if as_json:
        echo_json(
            {
                "plugins": [r.to_dict() for r in records],
                "conflicts": [{"kind": k, "name": n, "providers": o} for k, n, o in conflicts],
            }
        )
        return
    if not records:
        known = sorted({d for names in provider_index().values() for d in names.values()})
        click.echo(f"no plugins installed (first-party: pip install {' '.join(known)})")
    else:
        echo_table(
            ("PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "HOOKS", "COMPONENTS"),
            [
                (
                    r.name,
                    r.distribution or "-",
                    r.version or "-",
                    r.status,
                    len(r.hooks),
                    _summary(r.components),
                )
                for r in records
            ],
        )
    for r in records:
        if r.error:
            click.echo(f"{one_line(r.name)}: {one_line(r.error)}")
    for kind, name, owners in conflicts:
        click.echo(f"conflict: {kind} '{name}' is given by {', '.join(owners)}")


@plugins.command("check")
@click.pass_context
def check_plugins(ctx: click.Context) -> None:
    """Load every plugin, add its commands, import every target, compare configs, time imports.

    Exit 2 on problems. A plugin whose import pulls in torch or takes over a second is a
    warning: it slows every `core` command.
    """

    manager = get_manager()
    manager.add_commands(ctx.find_root().command, group=click.Group)
    problems = manager.check()
    loaded = sum(r.status == "loaded" for r in manager.plugins())
    components = len(manager.registry.entries())
    for record in manager.plugins(include_builtins=False):
        if record.status != "loaded" or not record.module:
            continue
        warning = measure_import(record.module).warning(record.name)
        if warning:
            click.echo(f"warning: {warning}")
    for problem in problems:
        click.echo(f"problem: {one_line(problem, 1000)}")
    if problems:
        raise PluginError(f"{len(problems)} problem(s) found in {len(manager.plugins())} plugin(s)")
    click.echo(f"ok: {loaded} plugin(s), {components} component(s), every target imports")

"""``core components list``, ``core info`` and ``core schema``."""

from __future__ import annotations

import json
from typing import Any

import click

from core._markdown import one_line
from core.cli._output import echo_json, echo_table
from core.errors import RegistryError, UnknownComponentError
from core.plugins import get_manager
from core.registry import Entry


@click.group()
def components() -> None:
    """Registered components."""


@components.command("list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False, default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_components(kind: str | None, pattern: str, as_json: bool) -> None:
    """List components, optionally of one KIND and matching PATTERN (fnmatch, e.g. '*gan*')."""
    registry = get_manager().registry
    if kind is not None:
        try:
            kind = registry.normalize_kind(kind, pretrained=False)
        except RegistryError:
            if pattern != "*":
                raise
            kind, pattern = None, kind  # `core components list '*gan*'`
    names = set(registry.names(kind, pattern))
    entries = [e for e in registry.entries(kind) if e.name in names]
    if as_json:
        echo_json([_entry_dict(e) for e in entries])
        return
    if not entries:
        click.echo("no components match")
        return
    echo_table(
        ("KIND", "NAME", "PLUGIN", "DESCRIPTION"),
        [(e.kind, e.name, e.plugin, e.description) for e in entries],
    )


def _entry_dict(entry: Entry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "name": entry.name,
        "qualified_name": entry.qualified_name,
        "aliases": list(entry.aliases),
        "plugin": entry.plugin,
        "distribution": entry.distribution,
        "version": entry.version,
        "target": entry.target_path,
        "description": entry.description,
    }


def _lookup(name: str, kind: str | None) -> list[Entry]:
    registry = get_manager().registry
    if kind is not None:
        return [registry.get(kind, name)]
    found = registry.find(name)
    if not found:
        raise UnknownComponentError(registry.unknown_message(None, name))
    return found


def _config_class(entry: Entry) -> Any:
    config = entry.load_config()
    if config is None and not isinstance(entry.target, str):
        config = getattr(entry.target, "config_class", None)
    return config


@click.command()
@click.argument("name")
@click.option("--kind", help="Component kind, when NAME exists in several.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(name: str, kind: str | None, as_json: bool) -> None:
    """Describe a component: provider, description and parameters."""
    results = []
    for entry in _lookup(name, kind):
        config = _config_class(entry)
        params = []
        if config is not None:
            from core.schema import runtime_fields  # lazy: keeps pydantic out of listing

            runtime = runtime_fields(config)
            for field_name, field in config.model_fields.items():
                default = (
                    None if field.is_required() else field.get_default(call_default_factory=True)
                )
                params.append(
                    {
                        "name": field_name,
                        "type": _type_name(field.annotation),
                        "default": "required" if field.is_required() else default,
                        "role": "runtime" if field_name in runtime else "structural",
                        "description": field.description or "",
                    }
                )
        results.append((entry, params, config))
    if as_json:
        echo_json([{**_entry_dict(e), "parameters": p} for e, p, _ in results])
        return
    for n, (entry, params, config) in enumerate(results):
        if n:
            click.echo("")
        click.echo(f"{entry.kind} '{entry.name}'  ({entry.qualified_name})")
        click.echo(f"  provider:    {entry.provider}")
        click.echo(f"  target:      {entry.target_path}")
        if entry.aliases:
            click.echo(f"  aliases:     {', '.join(entry.aliases)}")
        if entry.description:
            click.echo(f"  description: {one_line(entry.description)}")
        if config is None:
            click.echo("  parameters:  no schema declared (receives its config as given)")
            continue
        if not params:
            click.echo("  parameters:  none")
            continue
        click.echo("  parameters:")
        echo_table(
            ("NAME", "TYPE", "DEFAULT", "ROLE", "DESCRIPTION"),
            [
                (
                    p["name"],
                    p["type"],
                    json.dumps(p["default"], default=str),
                    p["role"],
                    p["description"],
                )
                for p in params
            ],
            indent=4,
        )


def _type_name(annotation: Any) -> str:
    import typing

    if typing.get_origin(annotation) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "")


@click.command()
@click.argument("name")
@click.option("--kind", help="Component kind, when NAME exists in several.")
def schema(name: str, kind: str | None) -> None:
    """Print the JSON Schema of a component's config."""
    entries = _lookup(name, kind)
    if len(entries) > 1:
        kinds = ", ".join(sorted(e.kind for e in entries))
        raise RegistryError(f"'{name}' names several components ({kinds}); pass --kind")
    entry = entries[0]
    config = _config_class(entry)
    if config is None:
        raise RegistryError(f"{entry.kind} '{entry.name}' declares no config schema")
    document = config.model_json_schema()
    document["title"] = f"{entry.kind} {entry.name}"
    echo_json(document)

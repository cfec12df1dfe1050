"""``core new-plugin``: render the cookiecutter template into a new plugin distribution."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from core.errors import ConfigError

__all__ = ["new_plugin", "render_plugin", "template_dir", "KINDS"]

#: example component kinds the template can include (the model is always included).
KINDS = ("model", "scheduler", "loss", "head")
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_PACKAGED = Path(__file__).resolve().parents[1] / "_template"
_CHECKOUT = Path(__file__).resolve().parents[2] / "cookiecutter-template"


def template_dir() -> Path:
    """The template: ``$CORE_TEMPLATE``, else the one shipped in the wheel or the checkout's."""
    env = os.environ.get("CORE_TEMPLATE")
    candidates = [Path(env)] if env else [_PACKAGED, _CHECKOUT]
    for candidate in candidates:
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    where = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"the plugin template (cookiecutter.json) was not found in {where}")


def normalize_name(name: str) -> str:
    """``Tiny_VAE`` or ``core-tiny-vae`` -> ``tiny-vae``; anything else is a ConfigError."""
    clean = name.strip().lower().replace("_", "-").replace(" ", "-")
    clean = clean.removeprefix("core-")
    if not _NAME.fullmatch(clean):
        raise ConfigError(
            f"plugin name '{name}' must be kebab-case: lowercase letters and digits, words "
            "joined by '-', starting with a letter (e.g. tiny-vae)"
        )
    return clean


def parse_kinds(kinds: str) -> list[str]:
    """``"loss,model"`` -> ``["model", "loss"]`` (model always first); unknown kinds are errors."""
    chosen = [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise ConfigError(
            f"--kinds: unknown kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}"
        )
    return [k for k in KINDS if k == "model" or k in chosen]


def render_plugin(
    name: str,
    *,
    kinds: str = "model",
    output_dir: str | os.PathLike[str] = ".",
    description: str | None = None,
    author: str | None = None,
    no_input: bool = True,
    overwrite: bool = False,
    template: str | os.PathLike[str] | None = None,
) -> Path:
    """Render the template; returns the new distribution's directory."""
    try:
        from cookiecutter.exceptions import CookiecutterException, OutputDirExistsException
        from cookiecutter.main import cookiecutter
    except ImportError as exc:
        raise ConfigError(
            "core new-plugin needs cookiecutter: pip install 'cookiecutter>=2.5'"
        ) from exc

    plugin = normalize_name(name)
    context = {"plugin_name": plugin, "kinds": ",".join(parse_kinds(kinds))}
    if description:
        context["description"] = description
    if author:
        context["author"] = author
    source = Path(template) if template else template_dir()
    output = Path(output_dir)
    target = output / f"core-{plugin}"
    if no_input and target.exists() and not overwrite:
        raise ConfigError(f"{target} already exists (choose another -o DIR or use --overwrite)")
    output.mkdir(parents=True, exist_ok=True)
    try:
        rendered = cookiecutter(
            str(source),
            no_input=no_input,
            extra_context=context,
            output_dir=str(output),
            overwrite_if_exists=overwrite,
        )
    except OutputDirExistsException as exc:
        raise ConfigError(f"{exc} (choose another -o DIR or use --overwrite)") from exc
    except CookiecutterException as exc:
        raise ConfigError(f"could not render the plugin template: {exc}") from exc
    return Path(rendered)


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--kinds",
    default="model",
    show_default=True,
    help="Example components to include, comma-separated: model (always), scheduler, loss, head.",
)
@click.option(
    "-o",
    "--output-dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory to create core-NAME in.",
)
@click.option("--description", default=None, help="One-line description of the plugin.")
@click.option("--author", default=None, help="Author written into pyproject.toml.")
@click.option("--no-input", is_flag=True, help="Use the defaults; do not prompt.")
@click.option("--overwrite", is_flag=True, help="Render into an existing directory.")
@click.option(
    "--template",
    default=None,
    help="Another cookiecutter template (path or URL) instead of core's.",
)
def new_plugin(
    name: str,
    kinds: str,
    output_dir: str,
    description: str | None,
    author: str | None,
    no_input: bool,
    overwrite: bool,
    template: str | None,
) -> None:
    """Create a plugin distribution core-NAME from core's cookiecutter template.

    The plugin registers a working model NAME (a tiny VAE that trains on the bundled digits
    with `core train`), tests using core's conformance kit, a README and a CI workflow.
    """
    path = render_plugin(
        name,
        kinds=kinds,
        output_dir=output_dir,
        description=description,
        author=author,
        no_input=no_input,
        overwrite=overwrite,
        template=template,
    )
    relative = os.path.relpath(path)
    shown = str(path) if relative.startswith("..") else os.path.join(".", relative)
    click.echo(f"created {shown}")
    click.echo("next:")
    click.echo(f'  pip install -e "{shown}[dev]"')
    click.echo("  core plugins list")
    click.echo(f"  pytest {Path(shown) / 'tests'}")
    for config in sorted((path / "configs").glob("*.yaml"))[:1]:
        click.echo(f"  core train {Path(shown) / 'configs' / config.name}")

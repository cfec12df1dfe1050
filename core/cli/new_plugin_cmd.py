"""``core new-plugin``: render the cookiecutter template into a new plugin distribution."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import click

from core.errors import ConfigError
from core.kinds import builtin_kind

__all__ = [
    "new_plugin",
    "render_plugin",
    "shadowed_by",
    "template_dir",
    "template_examples",
    "template_names",
]

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


def template_examples(template: str | os.PathLike[str] | None = None) -> dict[str, list[str]]:
    """Example kind -> its files: the template's ``_examples`` (the model is always included).

    Empty for a template that declares none or is not a local directory (a URL).
    """
    path = Path(template or template_dir()) / "cookiecutter.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON file ({exc})") from exc
    examples = data.get("_examples") if isinstance(data, dict) else None
    return dict(examples) if isinstance(examples, dict) else {}


def template_names(template: str | os.PathLike[str], context: Mapping[str, str]) -> dict[str, str]:
    """``{"dist_name": ..., "package_name": ...}`` the template derives from ``context``.

    Rendered by cookiecutter from the template's own ``cookiecutter.json`` (its defaults, as
    ``--no-input`` renders them); empty for a template that is not a local directory.
    """
    path = Path(template) / "cookiecutter.json"
    if not path.is_file():
        return {}
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    try:
        answers = prompt_for_config(
            generate_context(context_file=str(path), extra_context=dict(context)), no_input=True
        )
    except (CookiecutterException, ValueError, TypeError) as exc:
        raise ConfigError(f"could not render the plugin template: {exc}") from exc
    return {key: str(answers[key]) for key in ("dist_name", "package_name") if key in answers}


def shadowed_by(
    dist: str | None, package: str | None, target: str | os.PathLike[str] | None = None
) -> str | None:
    """What installing distribution ``dist`` with import package ``package`` would shadow.

    An installed distribution of that name, a standard-library module, or an importable
    top-level module or package; ``None`` when nothing is. A package found inside ``target``
    (the folder being rendered again, installed in editable mode) is the plugin itself.
    """
    spec = None
    if package:
        if package in sys.stdlib_module_names or package in sys.builtin_module_names:
            return f"import package '{package}' is a module of Python's standard library"
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):  # a broken installed package still takes the name
            return f"import package '{package}' is already installed"
        if spec is not None and target is not None:
            origin = spec.origin or next(iter(spec.submodule_search_locations or []), "")
            inside = Path(target).resolve()
            if origin and inside in Path(origin).resolve().parents:
                return None
        if spec is not None:
            where = spec.origin or next(iter(spec.submodule_search_locations or []), "?")
            return f"import package '{package}' is already installed ({where})"
    if dist:
        try:
            found = importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            return None
        return f"distribution '{dist}' is already installed ({found.metadata['Name']})"
    return None


def parse_kinds(kinds: str, examples: Mapping[str, object]) -> list[str]:
    """``"loss,model"`` -> ``["model", "loss"]``: model first, then the examples' order.

    A kind the template has no example of is a ConfigError listing the examples it has; with
    no ``examples`` (another template), the kinds are passed on for its hooks to check.
    """
    chosen = list(dict.fromkeys(k.strip() for k in kinds.split(",") if k.strip()))
    if not examples:
        return ["model", *(k for k in chosen if k != "model")]
    offered = ["model", *examples]
    missing = [k for k in chosen if k not in offered]
    if missing:
        not_core = [k for k in missing if builtin_kind(k) is None]
        no_example = [k for k in missing if k not in not_core]
        problems = []
        if not_core:
            problems.append(f"{', '.join(not_core)}: not a kind of core")
        if no_example:
            problems.append(
                f"no example of {', '.join(no_example)} (add one after rendering: the "
                "plugin's README says how)"
            )
        raise ConfigError(
            f"--kinds: {'; '.join(problems)}; the template has examples of {', '.join(offered)}"
        )
    return [k for k in offered if k == "model" or k in chosen]


def template_text(value: str, option: str) -> str:
    """One line of text for the template, escaped for its TOML strings.

    Backslashes and double quotes are escaped (TOML basic-string escapes, which read back the
    same in the package docstring and the Markdown README); control characters (a newline)
    and Jinja syntax (the template would run it) are refused.
    """
    for char in value:
        if unicodedata.category(char) == "Cc":
            raise ConfigError(
                f"{option}: control character U+{ord(char):04X} is not allowed; give one line"
            )
    if any(mark in value for mark in ("{{", "{%", "{#")):
        raise ConfigError(f"{option}: '{{{{', '{{%' and '{{#' are template syntax; leave them out")
    return value.replace("\\", "\\\\").replace('"', '\\"')


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
    if importlib.util.find_spec("cookiecutter") is None:
        raise ConfigError("core new-plugin needs cookiecutter: pip install 'cookiecutter>=2.5'")
    plugin = normalize_name(name)
    chosen = parse_kinds(kinds, template_examples(template))
    context = {"plugin_name": plugin, "kinds": ",".join(chosen)}
    if description:
        context["description"] = template_text(description, "--description")
    if author:
        context["author"] = template_text(author, "--author")
    source = Path(template) if template else template_dir()
    output = Path(output_dir)
    target = output / f"core-{plugin}"
    names = template_names(source, context)
    clash = shadowed_by(names.get("dist_name"), names.get("package_name"), target)
    if clash:
        raise ConfigError(
            f"plugin name '{plugin}': its {clash}; installing the plugin would shadow it. "
            f"Choose another name (e.g. my-{plugin})"
        )
    if no_input and target.exists() and not overwrite:
        raise ConfigError(f"{target} already exists (choose another -o DIR or use --overwrite)")
    output.mkdir(parents=True, exist_ok=True)
    return _run_cookiecutter(source, output, context, no_input=no_input, overwrite=overwrite)


def _run_cookiecutter(
    source: Path, output: Path, context: dict[str, str], *, no_input: bool, overwrite: bool
) -> Path:
    """cookiecutter's rendering, its failures as one-line ConfigErrors."""
    from cookiecutter.exceptions import (
        CookiecutterException,
        FailedHookException,
        OutputDirExistsException,
    )
    from cookiecutter.main import cookiecutter

    quiet = logging.NullHandler()  # cookiecutter logs a failed hook's traceback; we say one line
    logging.getLogger("cookiecutter").addHandler(quiet)
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
    except FailedHookException as exc:
        raise ConfigError(
            f"the plugin template refused the answers ({exc}; its reasons are above)"
        ) from exc
    except CookiecutterException as exc:
        raise ConfigError(f"could not render the plugin template: {exc}") from exc
    finally:
        logging.getLogger("cookiecutter").removeHandler(quiet)
    return Path(rendered)


def _kinds_help() -> str:
    try:
        examples = ", ".join(template_examples())
    except ConfigError:  # no template here: the command reports it when run
        examples = ""
    return (
        "Kinds of the example components to include, separated by commas: model (always)"
        f"{', ' + examples if examples else ''}."
    )


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--kinds",
    default="model",
    show_default=True,
    help=_kinds_help(),
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

"""``core denoisers``: commands of the denoisers plugin (torch imported inside the commands)."""

from __future__ import annotations

import click

__all__ = ["denoisers", "REFERENCE_CONFIGS"]

#: the reference configurations whose parameter counts the docs and tests pin.
REFERENCE_CONFIGS: list[tuple[str, dict[str, int]]] = [
    ("mlp-denoiser", {"data_dim": 2, "hidden_dim": 128}),
    ("cnn-denoiser", {"in_channels": 3, "base_channels": 64}),
    ("cnn-denoiser", {"in_channels": 1, "base_channels": 32}),
    ("cnn-denoiser-large", {"in_channels": 3, "base_channels": 128}),
]


@click.group()
def denoisers() -> None:
    """Denoising networks (mlp-denoiser, cnn-denoiser, cnn-denoiser-large)."""


@denoisers.command("params")
@click.argument("name", required=False)
@click.option(
    "--set",
    "values",
    multiple=True,
    metavar="KEY=VALUE",
    help="Config value of NAME (repeatable), e.g. --set in_channels=3.",
)
@click.option("--by-module", is_flag=True, help="Also list the count of each top-level module.")
def params(name: str | None, values: tuple[str, ...], by_module: bool) -> None:
    """Print parameter counts: of NAME with --set values, or of the reference configs."""
    from core import build
    from core.config import parse_yaml
    from core.errors import ConfigError

    if name is None:
        if values:
            raise ConfigError("--set needs a network NAME")
        rows = REFERENCE_CONFIGS
    else:
        config: dict[str, object] = {}
        for item in values:
            if "=" not in item:
                raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
            key, value = item.split("=", 1)
            config[key.strip()] = parse_yaml(value, f"--set {key.strip()}")
        rows = [(name, config)]
    for model_name, config in rows:
        model = build("model", {"type": model_name, **config})
        settings = ", ".join(f"{k}={v}" for k, v in config.items()) or "defaults"
        click.echo(f"{model_name:<20} {settings:<34} {model.count_parameters():>12,}")
        if by_module:
            for child_name, child in model.named_children():
                n = sum(p.numel() for p in child.parameters())
                click.echo(f"  {child_name:<52} {n:>12,}")

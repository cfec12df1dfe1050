"""``core embed``: write a dataset's latents so latent diffusion skips the encoder."""

from __future__ import annotations

import click

__all__ = ["embed"]


@click.command("embed")
@click.argument("model")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder."
)
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--sample", is_flag=True, help="Sample z ~ N(mu, sigma) for variational encoders.")
@click.option("--device", default=None, help="torch device (default: cpu).")
@click.argument("overrides", nargs=-1)
def embed(
    model: str,
    config: str,
    out: str,
    batch_size: int,
    sample: bool,
    device: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Encode the `data` section of CONFIG with the autoencoder MODEL (pretrained name or dir).

    Writes OUT/latents/*.safetensors and OUT/manifest.csv (columns latent, label); train on
    them with `data: {type: manifest, path: OUT/manifest.csv, columns: {latent: latent}}`.
    Extra arguments `data.key=value` override the config.
    """
    from core import build, build_model
    from core.config import Config
    from core.errors import ConfigError

    run = Config(config, overrides=list(overrides))
    if "data" not in run:
        raise ConfigError(f"{config}: needs a 'data' section naming the dataset to embed")
    autoencoder = build_model(model, device=device)
    if not hasattr(autoencoder, "embed_dataset"):
        raise ConfigError(f"{model}: a '{autoencoder.model_type}' model cannot embed datasets")
    dataset = build("dataset", run["data"], where="data")
    path = autoencoder.embed_dataset(dataset, out, batch_size=batch_size, sample=sample)
    click.echo(f"wrote {len(dataset)} latents; manifest: {path}")

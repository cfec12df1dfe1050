"""``autoencoder``: an encoder, a decoder with any number of heads, and their losses."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from core import BaseModel, build
from core.atomic import atomic_directory, atomic_write_text
from core.errors import ConfigError, DataError
from core_autoencoder._util import as_targets, freeze
from core_autoencoder.checkpoints import load_part
from core_autoencoder.configs import AutoencoderConfig

__all__ = ["Autoencoder", "default_loss"]

_PART_KEYS = ("checkpoint", "frozen")


def default_loss(
    head_types: dict[str, str], variational: bool, kld_weight: float
) -> dict[str, Any]:
    """mse per rgb head, cross-entropy per segmentation / classification head, kld if variational."""
    parts: list[dict[str, Any]] = []
    for name, kind in head_types.items():
        if kind in ("rgb", "RGBHead"):
            parts.append({"type": "mse", "key": name, "target": "image"})
        elif kind in ("segmentation", "SegmentationHead"):
            parts.append({"type": "cross-entropy", "key": name, "target": "mask"})
        elif kind in ("classification", "ClassificationHead"):
            parts.append({"type": "cross-entropy", "key": name, "target": "label"})
    if variational:
        parts.append({"type": "kld", "weight": kld_weight})
    if not parts:
        raise ConfigError(
            "model.loss: no default loss for heads "
            f"{', '.join(f'{n} ({t})' for n, t in head_types.items())}; give a 'loss' section"
        )
    return {"type": "composite", "parts": parts}


def _latent_of(encoded: Mapping[str, torch.Tensor]) -> torch.Tensor:
    for key in ("latent", "mu"):
        if key in encoded:
            return encoded[key]
    found = ", ".join(map(str, encoded)) or "none"
    raise ConfigError(
        f"autoencoder.decode: a dict to decode needs 'latent' or 'mu' (what encode returns); "
        f"its keys: {found}"
    )


class Autoencoder(BaseModel):
    """``model(x)`` -> every head's output plus ``latent`` (and ``mu``/``logvar``)."""

    config_class = AutoencoderConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        enc, dec = dict(c.encoder), dict(c.decoder)
        enc_opts = {k: enc.pop(k) for k in _PART_KEYS if k in enc}
        dec_opts = {k: dec.pop(k) for k in _PART_KEYS if k in dec}
        enc.setdefault("type", "conv-encoder")
        dec.setdefault("type", "conv-decoder")
        self.encoder = build("encoder", enc, where="model.encoder")
        self.decoder = build("decoder", dec, where="model.decoder")
        enc_latent = getattr(self.encoder.config, "latent_channels", None)
        dec_latent = getattr(self.decoder.config, "latent_channels", None)
        if None not in (enc_latent, dec_latent) and enc_latent != dec_latent:
            raise ConfigError(
                f"model.decoder.latent_channels ({dec_latent}) must equal "
                f"model.encoder.latent_channels ({enc_latent})"
            )
        self.variational = bool(getattr(self.encoder.config, "variational", False))
        head_types = self.decoder.head_types() if hasattr(self.decoder, "head_types") else {}
        loss_section = c.loss or default_loss(head_types, self.variational, c.kld_weight)
        self.loss = build("loss", loss_section, where="model.loss")
        self.frozen_parts: list[str] = []
        for name, opts in (("encoder", enc_opts), ("decoder", dec_opts)):
            part = getattr(self, name)
            if opts.get("checkpoint"):
                load_part(part, str(opts["checkpoint"]), f"{name}.", f"model.{name}")
            if opts.get("frozen"):
                freeze(part)
                self.frozen_parts.append(name)

    # -- config -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The config; part checkpoints are dropped (the weights already hold them)."""
        config = super().get_config()
        for name in ("encoder", "decoder"):
            config[name] = {k: v for k, v in config[name].items() if k != "checkpoint"}
        return config

    def train(self, mode: bool = True) -> Autoencoder:
        super().train(mode)
        for name in self.frozen_parts:
            getattr(self, name).eval()
        return self

    # -- forward ------------------------------------------------------------------------------
    @property
    def latent_channels(self) -> int:
        return int(self.encoder.config.latent_channels)

    @property
    def factor(self) -> int:
        """Spatial down-sampling factor of the encoder."""
        return int(getattr(self.encoder, "factor", 1))

    def encode(self, x: torch.Tensor, sample: bool = False) -> dict[str, torch.Tensor]:
        """The encoder's outputs plus ``latent`` (mu, or a sample when ``sample``)."""
        out = dict(self.encoder(x))
        if "mu" in out:
            mu, logvar = out["mu"], out["logvar"]
            out["latent"] = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return out

    def decode(self, latent: torch.Tensor | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every head's output for a latent, or for what ``encode`` returns (its ``latent``;
        ``mu`` for a variational encoding without one)."""
        if isinstance(latent, Mapping):
            latent = _latent_of(latent)
        return dict(self.decoder(latent))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        encoded = self.encode(x, sample=self.training and self.config.sample_latent)
        return {**self.decode(encoded["latent"]), **encoded}

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Inference outputs: images, class probabilities, latent (eval mode, no sampling)."""
        was_training = self.training
        self.eval()
        try:
            out = self.forward(x)
            return self.decoder.postprocess(out) if hasattr(self.decoder, "postprocess") else out
        finally:
            self.train(was_training)

    # -- training -----------------------------------------------------------------------------
    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        targets = as_targets(batch)
        if "image" not in targets:
            raise DataError(
                f"{self.describe()}: the batch needs an 'image' entry (entries: "
                f"{', '.join(map(str, targets))})"
            )
        outputs = self(targets["image"])
        total, parts = self.loss(outputs, targets)
        logged: dict[str, torch.Tensor] = {"loss": total, **parts}
        for name, kind in getattr(self.decoder, "head_types", dict)().items():
            if kind in ("classification", "ClassificationHead") and "label" in targets:
                label = torch.as_tensor(targets["label"], device=outputs[name].device)
                if label.shape == outputs[name].shape[:1]:
                    hits = outputs[name].argmax(1) == label.long()
                    logged[f"acc/{name}"] = hits.float().mean().detach()
        return logged

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        size = max(8, 2 * self.factor)
        channels = int(self.encoder.config.in_channels)
        return (torch.randn(batch_size, channels, size, size),)

    # -- pre-embedding ------------------------------------------------------------------------
    @torch.no_grad()
    def embed_dataset(
        self,
        dataset: Any,
        output_dir: str | os.PathLike[str],
        *,
        batch_size: int = 64,
        sample: bool = False,
        device: Any = None,
    ) -> Path:
        """Encode every item and write ``latents/<i>.safetensors`` plus ``manifest.csv``.

        The manifest has columns ``latent`` (relative path) and, when the dataset gives them,
        ``label``; read it back with the ``manifest`` dataset. ``output_dir`` is one unit
        (``core.atomic.atomic_directory``): written beside, swapped in whole when complete. It
        must be new, empty or an earlier embedding (which stays until the new one is done).
        """
        from safetensors.torch import save_file

        out = _embedding_folder(Path(output_dir))
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
        device = torch.device(device) if device is not None else self.device
        was_training = self.training
        self.eval()
        rows: list[dict[str, Any]] = []
        try:
            with atomic_directory(out, overwrite=True) as staging:
                (staging / "latents").mkdir()
                for batch in loader:
                    targets = as_targets(batch)
                    if "image" not in targets:
                        raise DataError(
                            f"embed_dataset: items need an image (got {', '.join(targets)})"
                        )
                    encoded = self.encode(targets["image"].to(device), sample=sample)
                    latents = encoded["latent"].cpu()
                    labels = targets.get("label")
                    for j, latent in enumerate(latents):
                        rel = f"latents/{len(rows):06d}.safetensors"
                        save_file({"latent": latent.contiguous()}, str(staging / rel))
                        row: dict[str, Any] = {"latent": rel}
                        if labels is not None:
                            row["label"] = int(torch.as_tensor(labels[j]).reshape(-1)[0])
                        rows.append(row)
                if not rows:
                    raise DataError("embed_dataset: the dataset is empty")
                text = io.StringIO(newline="")
                writer = csv.DictWriter(text, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
                atomic_write_text(staging / "manifest.csv", text.getvalue())
        finally:
            self.train(was_training)
        return out / "manifest.csv"


def _embedding_folder(out: Path) -> Path:
    """``out`` if it is new, empty or an earlier embedding; anything else is refused."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"embed_dataset: {out} exists and is not a directory")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in ("manifest.csv", "latents"))
        if other:
            raise ConfigError(
                f"embed_dataset: {out} holds {other[0]!r}, not an embedding: "
                "give a new or empty folder"
            )
    return out

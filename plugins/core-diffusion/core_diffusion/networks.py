"""The denoising network of a model (a DDPM, a flow): its section filled from the model's data
shape, and one dummy forward checking it returns its input's shape."""

from __future__ import annotations

from typing import Any

import torch

from core.building import get_entry
from core.errors import ConfigError, CoreError

__all__ = ["data_shape", "network_section", "check_network"]


def data_shape(config: Any) -> tuple[int, ...]:
    """Shape of one sample: (data_dim,) or (channels, image_size, image_size)."""
    if config.data_dim:
        return (config.data_dim,)
    return (config.channels, config.image_size, config.image_size)


def network_section(config: Any, *, num_timesteps: int) -> dict[str, Any]:
    """``config.network`` with what the network does not set taken from the model: the data's
    shape, ``num_timesteps`` (networks that normalise t by it) and, under label dropout, the
    null class the network must have."""
    section = dict(config.network or {})
    try:
        schema = get_entry("model", section["type"]).load_config()
    except (CoreError, AttributeError) as exc:
        raise ConfigError(f"model.network.type: {exc}") from None
    fields = set(getattr(schema, "model_fields", {}) or {})
    fill: dict[str, Any] = {"num_timesteps": num_timesteps}
    if config.data_dim:
        fill["data_dim"] = config.data_dim
    else:
        size = config.image_size
        fill.update(in_channels=config.channels, out_channels=config.channels, image_size=size)
    for key, value in fill.items():
        if key in fields and section.get(key) is None:
            section[key] = value
    if config.label_dropout > 0:
        if "null_class" not in fields:
            raise ConfigError(
                f"model.label_dropout ({config.label_dropout}) needs a null class, which network "
                f"'{section['type']}' does not have (no null_class option); use unet or "
                "ddpm-unet, or label_dropout: 0"
            )
        if section.get("null_class") is False:
            raise ConfigError(
                f"model.label_dropout ({config.label_dropout}) needs the network's null class; "
                "remove model.network.null_class: false"
            )
        section["null_class"] = True
    return section


def check_network(
    network: torch.nn.Module, kind: str, x: torch.Tensor, t: torch.Tensor, **kwargs: Any
) -> None:
    """One dummy forward of ``network`` (type ``kind``) in eval mode: it must return ``x``'s
    shape; anything else is one ConfigError naming the network and the shapes."""
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            out = network(x, t, **kwargs)
    except CoreError as exc:
        raise ConfigError(f"model.network ({kind}): {exc}") from None
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"model.network ({kind}) fails on a {tuple(x.shape)} input: {exc}"
        ) from None
    finally:
        network.train(was_training)
    if tuple(out.shape) != tuple(x.shape):
        raise ConfigError(
            f"model.network ({kind}) returns shape {tuple(out.shape)} for an input of shape "
            f"{tuple(x.shape)}; a denoising network must return its input's shape (check "
            "channels/image_size/data_dim)"
        )

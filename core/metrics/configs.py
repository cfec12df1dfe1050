"""Configs of the built-in metrics and the digit classifier (torch-free)."""

from __future__ import annotations

from typing import Literal

from core.schema import ComponentConfig, Field, runtime

__all__ = [
    "DigitClassifierConfig",
    "FeatureFIDConfig",
    "KIDConfig",
    "AccuracyConfig",
    "SlicedWassersteinConfig",
    "PrecisionRecallConfig",
]


class DigitClassifierConfig(ComponentConfig):
    """A small CNN classifying 10 digit classes; its penultimate layer gives features."""

    image_size: int = Field(28, ge=8, le=128, description="input size; other sizes are resized")
    channels: Literal[1] = Field(1, description="input channels (RGB inputs are averaged)")
    width: int = Field(32, ge=4, le=512, description="channels of the first conv block")
    feature_dim: int = Field(128, ge=8, le=4096, description="size of the feature layer")
    num_classes: int = Field(10, ge=2, description="number of classes")
    dropout: float = runtime(0.2, ge=0.0, lt=1.0, description="dropout before the last layer")


class _ClassifierMetric(ComponentConfig):
    classifier: str = Field(
        "digit-classifier", description="pretrained classifier (name or directory) for features"
    )
    batch_size: int = Field(500, ge=1, description="images per classifier forward pass")


class FeatureFIDConfig(_ClassifierMetric):
    """Frechet distance between Gaussian fits of classifier features."""


class KIDConfig(_ClassifierMetric):
    """Unbiased MMD^2 with the kernel (x.y/d + 1)^3, averaged over random subsets."""

    subset_size: int = Field(100, ge=2, description="items per subset (capped at the set sizes)")
    subsets: int = Field(50, ge=1, description="number of random subsets")
    seed: int = Field(0, ge=0, description="seed of the subset draws")


class PrecisionRecallConfig(_ClassifierMetric):
    """Improved precision and recall: shares of each set inside the other's k-NN manifold."""

    k: int = Field(3, ge=1, le=100, description="neighbour whose distance is each ball's radius")
    chunk_size: int = Field(
        1024, ge=1, le=65536, description="rows per distance block (memory: rows x set size)"
    )


class AccuracyConfig(_ClassifierMetric):
    """Fraction of images the classifier labels as the given class."""


class SlicedWassersteinConfig(ComponentConfig):
    """Mean 1-Wasserstein distance of random 1-D projections of two point clouds."""

    projections: int = Field(256, ge=1, le=100_000, description="number of random directions")
    seed: int = Field(0, ge=0, description="seed of the directions")

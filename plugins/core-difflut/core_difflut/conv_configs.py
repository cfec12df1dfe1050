"""Torch-free pydantic configs of the convolutional LUT layer and the ``conv-feedforward`` model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from core.schema import ComponentConfig
from core_difflut.configs import ModelConfig, node_config

__all__ = ["ConvLayerConfig", "ConvSpec", "ConvModelConfig", "conv_output_size"]


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output positions along one axis: ``(size + 2 padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_node_section(value: dict[str, Any]) -> dict[str, Any]:
    node_type = value.get("type", "probabilistic")
    body = {k: v for k, v in value.items() if k not in ("type", "num_nodes")}
    node_config(node_type)(**body)
    return {"type": node_type, **body}


class ConvLayerConfig(ComponentConfig):
    """A convolutional LUT layer: ``out_channels`` nodes, each shared across all positions."""

    in_channels: int = Field(3, ge=1, description="Bit channels of the input image.")
    height: int = Field(8, ge=1, description="Input height (pixels).")
    width: int = Field(8, ge=1, description="Input width (pixels).")
    out_channels: int = Field(16, ge=1, description="Nodes (= output channels).")
    kernel_size: int = Field(3, ge=1, le=15, description="Receptive field is k x k x in_channels.")
    stride: int = Field(1, ge=1, le=15, description="Step between receptive fields.")
    padding: int = Field(0, ge=0, le=7, description="Zero bits added on every side.")
    node: dict[str, Any] = Field(
        default_factory=lambda: {"type": "probabilistic"},
        description="Node section: type plus node parameters (input_dim, temperature, ...).",
    )
    seed: int = Field(0, ge=0, description="Seed of which receptive-field inputs each node reads.")

    @field_validator("node")
    @classmethod
    def _check_node(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_node_section(value)

    @model_validator(mode="after")
    def _check_geometry(self) -> ConvLayerConfig:
        if self.padding >= self.kernel_size:
            raise ValueError(
                f"padding {self.padding} must be smaller than kernel_size {self.kernel_size}"
            )
        if self.out_height < 1 or self.out_width < 1:
            raise ValueError(
                f"kernel_size {self.kernel_size} (padding {self.padding}) does not fit a "
                f"{self.height}x{self.width} input"
            )
        return self

    @property
    def out_height(self) -> int:
        return conv_output_size(self.height, self.kernel_size, self.stride, self.padding)

    @property
    def out_width(self) -> int:
        return conv_output_size(self.width, self.kernel_size, self.stride, self.padding)


class ConvSpec(ComponentConfig):
    """One convolutional LUT layer of ``conv-feedforward``."""

    out_channels: int = Field(32, ge=1, description="Nodes (= output channels).")
    kernel_size: int = Field(3, ge=1, le=15, description="Receptive field k x k.")
    stride: int = Field(1, ge=1, le=15, description="Step between receptive fields.")
    padding: int = Field(0, ge=0, le=7, description="Zero bits added on every side.")


class ConvModelConfig(ModelConfig):
    """``conv-feedforward``: encoder, convolutional LUT layers, flatten, LUT layers, GroupSum.

    ``image_shape`` is (channels, height, width) of the raw input; the encoder turns each
    pixel into ``num_bits`` bits, so the first convolution sees ``channels * num_bits``
    bit channels. ``input_size`` follows from ``image_shape``.
    """

    model_type: Literal["conv-feedforward"] = Field(  # type: ignore[assignment]
        "conv-feedforward", description="Model family."
    )
    image_shape: list[int] = Field(
        default_factory=lambda: [1, 8, 8],
        min_length=3,
        max_length=3,
        description="Raw input (channels, height, width).",
    )
    conv_layers: list[ConvSpec] = Field(
        default_factory=lambda: [ConvSpec()],
        min_length=1,
        max_length=4,
        description="Convolutional LUT layers: out_channels, kernel_size, stride, padding.",
    )
    layer_widths: list[int] = Field(
        default_factory=lambda: [1000],
        min_length=1,
        description="Nodes per LUT layer after the convolutions.",
    )
    input_size: int = Field(64, ge=1, description="Flattened input features (= C*H*W).")

    @model_validator(mode="before")
    @classmethod
    def _derive_input_size(cls, data: Any) -> Any:
        if isinstance(data, dict) and "input_size" not in data:
            shape = data.get("image_shape", [1, 8, 8])
            if isinstance(shape, (list, tuple)) and all(isinstance(v, int) for v in shape):
                size = 1
                for v in shape:
                    size *= v
                data = {**data, "input_size": size}
        return data

    @model_validator(mode="after")
    def _check_conv(self) -> ConvModelConfig:
        c, h, w = self.image_shape
        if min(self.image_shape) < 1:
            raise ValueError(f"image_shape entries must be >= 1, got {self.image_shape}")
        if self.input_size != c * h * w:
            raise ValueError(
                f"input_size {self.input_size} != channels*height*width of image_shape "
                f"{self.image_shape} ({c * h * w})"
            )
        for i, spec in enumerate(self.conv_layers):
            ph, pw = h, w
            if spec.padding >= spec.kernel_size:
                raise ValueError(
                    f"conv_layers[{i}]: padding {spec.padding} must be smaller than "
                    f"kernel_size {spec.kernel_size}"
                )
            h = conv_output_size(h, spec.kernel_size, spec.stride, spec.padding)
            w = conv_output_size(w, spec.kernel_size, spec.stride, spec.padding)
            if h < 1 or w < 1:
                raise ValueError(
                    f"conv_layers[{i}]: kernel_size {spec.kernel_size} does not fit the "
                    f"{ph}x{pw} input"
                )
        return self

    def conv_shapes(self) -> list[tuple[int, int, int]]:
        """(bit channels, height, width) entering each conv layer, then the final output."""
        c, h, w = self.image_shape
        shapes = [(c * self.encoder_config.num_bits, h, w)]
        for spec in self.conv_layers:
            h = conv_output_size(h, spec.kernel_size, spec.stride, spec.padding)
            w = conv_output_size(w, spec.kernel_size, spec.stride, spec.padding)
            shapes.append((spec.out_channels, h, w))
        return shapes

"""Convolutional LUT layers and the ``conv-feedforward`` model.

A convolutional LUT layer holds ``out_channels`` nodes; node ``o`` reads the same ``n``
(channel, dy, dx) offsets of every k x k receptive field, so its table is shared across
positions. Internally the layer is a fixed-connectivity LUT layer over the (zero-padded)
flattened image with one virtual node per (channel, position): one gather, then the node's
own evaluation with positions folded into the batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel
from core.errors import ConfigError
from core_difflut import kernels
from core_difflut.conv_configs import ConvLayerConfig, ConvModelConfig
from core_difflut.encoders import Encoder
from core_difflut.layers import GroupSum, random_connections
from core_difflut.models import SimpleFeedForward
from core_difflut.nodes import LUTNode, node_class

__all__ = ["ConvLUTLayer", "ConvFeedForward", "unroll_conv_layer"]


class ConvLUTLayer(BaseModel):
    """(B, in_channels, H, W) bits -> (B, out_channels, H', W'), one shared node per channel."""

    kind = "layer"
    config_section = "layer"
    config_class: ClassVar[Any] = ConvLayerConfig
    model_type = "convolutional"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        node_section = dict(c.node)
        node_type = node_section.pop("type")
        self.node: LUTNode = node_class(node_type)({**node_section, "num_nodes": c.out_channels})
        self.n = self.node.n
        k = c.kernel_size
        self.out_shape = (c.out_channels, c.out_height, c.out_width)
        # (O, n) offsets into the receptive field, flattened as (channel, dy, dx)
        self.register_buffer(
            "indices", random_connections(c.in_channels * k * k, c.out_channels, self.n, c.seed)
        )
        self.register_buffer("gather_index", self._gather_index(), persistent=False)

    # -- connectivity -------------------------------------------------------------------------
    @property
    def positions(self) -> int:
        return self.config.out_height * self.config.out_width

    def _gather_index(self) -> torch.Tensor:
        """(O * n * P,) index of each node input at each position in the padded image."""
        c = self.config
        k, s, p = c.kernel_size, c.stride, c.padding
        hp, wp = c.height + 2 * p, c.width + 2 * p
        idx = self.indices
        chan, rest = idx // (k * k), idx % (k * k)
        dy, dx = rest // k, rest % k
        oy = torch.arange(c.out_height) * s
        ox = torch.arange(c.out_width) * s
        rows = dy[..., None, None] + oy[:, None]  # (O, n, H', 1)
        cols = dx[..., None, None] + ox[None, :]  # (O, n, 1, W')
        flat = chan[..., None, None] * (hp * wp) + rows * wp + cols
        return flat.reshape(-1).contiguous()

    def position_connections(self) -> torch.Tensor:
        """(O * P, n): the inputs of virtual node ``o * P + p`` in the padded, flattened image."""
        o, n = self.indices.shape
        return self.gather_index.view(o, n, self.positions).permute(0, 2, 1).reshape(-1, n)

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        expected = (c.in_channels, c.height, c.width)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ConfigError(
                f"convolutional layer: expected input (batch, {', '.join(map(str, expected))}), "
                f"got {tuple(x.shape)}"
            )
        batch = x.shape[0]
        if c.padding:
            x = F.pad(x, (c.padding,) * 4)
        xt = x.reshape(batch, -1).t().contiguous()  # (C*Hp*Wp, B)
        o, positions = c.out_channels, self.positions
        if not self.training and self.node.config.eval_mode == "deterministic":
            bits = (xt >= 0.5).view(torch.uint8)
            addr = kernels.gathered_address(bits, self.position_connections())
            table = self.node.hard_table().to(x.dtype)
            out = table.gather(1, addr.view(o, positions * batch))
        else:
            node_in = xt.index_select(0, self.gather_index).view(o, self.n, positions * batch)
            out = self.node.evaluate(node_in)
        return out.view(o, positions, batch).permute(2, 0, 1).reshape(batch, *self.out_shape)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        c = self.config
        g = torch.Generator().manual_seed(0)
        shape = (batch_size, c.in_channels, c.height, c.width)
        return ((torch.rand(shape, generator=g) > 0.5).float(),)


def unroll_conv_layer(layer: ConvLUTLayer) -> dict[str, np.ndarray]:
    """The layer as an equivalent feedforward LUT layer: node ``o * P + p`` is channel ``o``
    at position ``p``, its table repeated; indices point into the unpadded flattened input.

    A node input that falls into the zero padding is pointed at input 0 and its table made
    to ignore that input (the entry with the bit cleared), so outputs are unchanged.
    """
    c = layer.config
    p = c.padding
    hp, wp = c.height + 2 * p, c.width + 2 * p
    with torch.no_grad():
        conn = layer.position_connections().cpu()
        table = layer.node.truth_table().cpu().repeat_interleave(layer.positions, 0)
    chan, rest = conn // (hp * wp), conn % (hp * wp)
    y, x = rest // wp - p, rest % wp - p
    inside = (y >= 0) & (y < c.height) & (x >= 0) & (x < c.width)
    real = (
        chan * (c.height * c.width) + y.clamp(0, c.height - 1) * c.width + x.clamp(0, c.width - 1)
    )
    real = torch.where(inside, real, torch.zeros_like(real))
    addresses = torch.arange(table.shape[1])
    for j in range(conn.shape[1]):
        rows = (~inside[:, j]).nonzero().flatten()
        if rows.numel():
            table[rows] = table[rows][:, addresses & ~(1 << j)]
    return {
        "indices": real.numpy().astype(np.int32),
        "tables": table.numpy().astype(np.uint8),
    }


class ConvFeedForward(SimpleFeedForward):
    """A DiffLUT classifier: encoder -> convolutional LUT layers -> flatten -> LUT layers
    -> GroupSum(num_classes, tau)."""

    config_class = ConvModelConfig
    model_type = "conv-feedforward"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        BaseModel.__init__(self, config, **overrides)
        c: ConvModelConfig = self.config
        self.encoder: Encoder = self._build_encoder()
        node = self._node_section()
        shapes = c.conv_shapes()
        convs, layers = [], []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            for i, spec in enumerate(c.conv_layers):
                channels, height, width = shapes[i]
                convs.append(
                    ConvLUTLayer(
                        in_channels=channels,
                        height=height,
                        width=width,
                        node=node,
                        seed=c.seed + i,
                        **spec.model_dump(),
                    )
                )
            o, h, w = shapes[-1]
            width_in, offset = o * h * w, len(c.conv_layers)
            for i, (layer_type, nodes) in enumerate(zip(c.layer_types(), c.layer_widths)):
                layers.append(self._lut_layer(layer_type, width_in, nodes, c.seed + offset + i))
                width_in = nodes
        self.conv_layers = nn.ModuleList(convs)
        self.layers = nn.ModuleList(layers)
        self.group_sum = GroupSum(num_classes=c.num_classes, tau=c.runtime.tau)

    def features(self, bits: torch.Tensor) -> torch.Tensor:
        """Encoded bits (B, C*H*W*num_bits) -> last LUT layer outputs (B, layer_widths[-1])."""
        c = self.config
        channels, height, width = c.image_shape
        nb = c.encoder_config.num_bits
        batch = bits.shape[0]
        # bit f*nb + b of feature f = (channel, y, x) becomes bit channel channel*nb + b
        img = bits.view(batch, channels, height, width, nb).permute(0, 1, 4, 2, 3)
        img = img.reshape(batch, channels * nb, height, width)
        for conv in self.conv_layers:
            img = conv(img)
        out = img.reshape(batch, -1)
        for layer in self.layers:
            out = layer(out)
        return out

    @property
    def node_layers(self) -> list[Any]:
        """Every layer holding nodes: the convolutions, then the LUT layers."""
        return [*self.conv_layers, *self.layers]

    def save_weights(self, path: Any) -> Any:
        """Write the weights (encoder thresholds included) as safetensors."""
        from core.weights import save_weights

        return save_weights(self, path, {"model_type": self.model_type})

    def export_spec(self) -> dict[str, Any]:
        """The evaluation-mode network with each conv layer unrolled into a LUT layer.

        Node ``o * P + p`` of an unrolled layer is channel ``o`` at position ``p``; the first
        one's indices are mapped onto the encoder's bit order (bit ``f * num_bits + b``).
        """
        from core_difflut.export.spec import network_spec

        spec = network_spec(self)
        c = self.config
        channels, height, width = c.image_shape
        nb = c.encoder_config.num_bits
        # conv input index (channel*nb + b, y, x) -> encoded bit (channel*H*W + y*W + x)*nb + b
        q = np.arange(channels * nb * height * width)
        chan_bit, pix = q // (height * width), q % (height * width)
        chan, bit = chan_bit // nb, chan_bit % nb
        remap = ((chan * height * width + pix) * nb + bit).astype(np.int32)
        unrolled = [unroll_conv_layer(conv) for conv in self.conv_layers]
        unrolled[0]["indices"] = remap[unrolled[0]["indices"]]
        spec["layers"] = unrolled + spec["layers"]
        return spec

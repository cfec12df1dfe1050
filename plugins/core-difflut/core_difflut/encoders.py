"""Input encoders: real features -> bits, with per-feature thresholds fitted on data.

Every encoder is a scalar quantiser: ``L`` sorted thresholds per feature give a level
``q = #{i : x > t_i}`` in ``0..L`` and a code table maps the level to ``num_bits`` bits. The
thermometer family emits ``bit_i = x > t_i`` directly (its code is the thermometer code).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import torch

from core import BaseModel
from core.errors import ConfigError, DataError
from core_difflut.configs import (
    CodeEncoderConfig,
    EncoderConfig,
    OneHotConfig,
    SignMagnitudeConfig,
    ThermometerConfig,
)
from core_difflut.names import ENCODERS, canonical

__all__ = [
    "Encoder",
    "ThermometerEncoder",
    "GaussianThermometerEncoder",
    "DistributiveThermometerEncoder",
    "LogarithmicEncoder",
    "GrayEncoder",
    "BinaryEncoder",
    "OneHotEncoder",
    "SignMagnitudeEncoder",
    "ENCODER_CLASSES",
    "build_encoder",
]


def _as_2d(x: Any, what: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{what}: expected a tensor or array, got {type(x).__name__}")
    if x.dim() < 1:
        raise DataError(f"{what}: expected (samples, features...), got a scalar")
    x = x.float() if not x.is_floating_point() else x
    return x.reshape(x.shape[0], -1) if x.dim() != 2 else x


class Encoder(BaseModel):
    """Base encoder: ``fit(x)`` then ``encode(x)`` / ``forward(x)``."""

    kind = "encoder"
    config_section = "encoder"
    config_class: ClassVar[Any] = EncoderConfig
    thermometer: ClassVar[bool] = False

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        features = c.num_features or 0
        self.register_buffer("thresholds", torch.zeros(features, self.num_levels))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.uint8))
        self.register_buffer("code", self.code_table().float(), persistent=False)

    # -- to implement ------------------------------------------------------------------------
    @property
    def num_levels(self) -> int:
        """Thresholds per feature (L)."""
        return self.config.num_bits

    def code_table(self) -> torch.Tensor:
        """(L + 1, num_bits) bits of each level."""
        levels = torch.arange(self.num_levels + 1).unsqueeze(1)
        return (levels > torch.arange(self.config.num_bits)).to(torch.uint8)

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        """(samples, F) float64 -> (F, L) sorted thresholds."""
        raise NotImplementedError

    # -- public API ---------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item())

    @property
    def num_features(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def output_dim(self) -> int:
        """Bits per sample when flattened."""
        return self.num_features * self.config.num_bits

    def fit(self, x: Any) -> Encoder:
        """Fit the thresholds on data (samples, features...)."""
        data = _as_2d(x, f"{type(self).__name__}.fit").detach().to("cpu", torch.float64)
        if data.shape[0] < 1:
            raise DataError(f"{type(self).__name__}.fit: needs at least one sample")
        expected = self.config.num_features
        if expected is not None and data.shape[1] != expected:
            raise DataError(
                f"{type(self).__name__}.fit: expected {expected} features, got {data.shape[1]}"
            )
        if not torch.isfinite(data).all():
            raise DataError(f"{type(self).__name__}.fit: data holds NaN or inf")
        if self.config.feature_wise:
            thr = self.compute_thresholds(data)
        else:
            thr = self.compute_thresholds(data.reshape(-1, 1)).expand(data.shape[1], -1)
        thr = thr.to(torch.float32)
        thr = torch.where(thr == 0, torch.zeros_like(thr), thr)  # no -0.0 thresholds
        thr, _ = torch.sort(thr, dim=1)
        device = self.thresholds.device
        self.thresholds = thr.contiguous().to(device)
        self.fitted = torch.ones((), dtype=torch.uint8, device=device)
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) or (B, ...) -> (B, F*bits) if flatten else (B, F, bits), values 0/1."""
        if not torch.compiler.is_exporting() and not self.is_fitted:  # export checks it first
            raise ConfigError(
                f"{type(self).__name__} is not fitted: call fit(data) (or the model's "
                "fit_encoder(data)) before encoding"
            )
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        flat = x.reshape(x.shape[0], -1) if x.dim() != 2 else x
        if flat.dim() != 2 or flat.shape[1] != self.num_features:
            raise ConfigError(
                f"{type(self).__name__}: expected (batch, {self.num_features}) features, "
                f"got shape {tuple(x.shape)}"
            )
        dtype = flat.dtype if flat.is_floating_point() else torch.float32
        above = flat.to(self.thresholds.dtype).unsqueeze(-1) > self.thresholds  # (B, F, L)
        bits = above.to(dtype) if self.thermometer else self.code.to(dtype)[above.sum(-1)]
        return bits.reshape(bits.shape[0], -1) if self.config.flatten else bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """Example features; an unfitted encoder is first fitted on a fixed example batch."""
        features = self.num_features or self.config.num_features or 4
        g = torch.Generator().manual_seed(0)
        if not self.is_fitted:
            self.fit(torch.randn(64, features, generator=g))
        return (torch.randn(batch_size, features, generator=g),)

    def load_weights(self, path: str | os.PathLike[str]) -> Encoder:
        """Load weights; an encoder built without num_features takes the file's size."""
        from core.weights import read_weights

        state = read_weights(path)
        if "thresholds" in state and self.config.num_features is None:
            self.thresholds = torch.zeros_like(state["thresholds"]).to(self.thresholds.device)
        return super().load_weights(path)

    def export(self) -> dict[str, np.ndarray]:
        """Thresholds (F, L) float32 and the code table (L+1, bits) uint8."""
        return {
            "thresholds": self.thresholds.detach().cpu().numpy().astype(np.float32),
            "code": self.code_table().numpy().astype(np.uint8),
        }


def _minmax(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x.min(0).values, x.max(0).values


def _evenly(lo: torch.Tensor, hi: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    return lo.unsqueeze(1) + (hi - lo).unsqueeze(1) * fractions.to(lo).unsqueeze(0)


class ThermometerEncoder(Encoder):
    """Thresholds evenly spaced between min and max: min + i (max - min) / (bits + 1)."""

    config_class = ThermometerConfig
    thermometer = True

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        b = self.config.num_bits
        return _evenly(*_minmax(x), torch.arange(1, b + 1) / (b + 1))


class GaussianThermometerEncoder(ThermometerEncoder):
    """Thresholds at mean + std * Phi^-1(i / (bits + 1))."""

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        b = self.config.num_bits
        z = torch.special.ndtri(torch.arange(1, b + 1, dtype=torch.float64) / (b + 1))
        mean, std = x.mean(0), x.std(0, unbiased=False)
        return mean.unsqueeze(1) + std.unsqueeze(1) * z.unsqueeze(0)


class DistributiveThermometerEncoder(ThermometerEncoder):
    """Thresholds at the empirical quantiles i / (bits + 1)."""

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        b = self.config.num_bits
        q = np.arange(1, b + 1) / (b + 1)
        return torch.from_numpy(np.quantile(x.numpy(), q, axis=0).T.copy())


class LogarithmicEncoder(ThermometerEncoder):
    """Thermometer with geometric spacing, denser near the minimum: (2^i - 1) / (2^(bits+1) - 1)."""

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        b = self.config.num_bits
        i = torch.arange(1, b + 1, dtype=torch.float64)
        return _evenly(*_minmax(x), (2**i - 1) / (2 ** (b + 1) - 1))


class _LevelEncoder(Encoder):
    """2**bits evenly spaced levels between min and max, emitted as a code."""

    config_class = CodeEncoderConfig

    @property
    def num_levels(self) -> int:
        return (1 << self.config.num_bits) - 1

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        levels = self.num_levels + 1
        return _evenly(*_minmax(x), torch.arange(1, levels) / levels)

    @staticmethod
    def _bits(values: torch.Tensor, width: int) -> torch.Tensor:
        return ((values.unsqueeze(1) >> torch.arange(width)) & 1).to(torch.uint8)


class BinaryEncoder(_LevelEncoder):
    """Binary code of the level (LSB first)."""

    def code_table(self) -> torch.Tensor:
        return self._bits(torch.arange(self.num_levels + 1), self.config.num_bits)


class GrayEncoder(_LevelEncoder):
    """Gray code of the level: neighbouring levels differ in one bit."""

    def code_table(self) -> torch.Tensor:
        q = torch.arange(self.num_levels + 1)
        return self._bits(q ^ (q >> 1), self.config.num_bits)


class OneHotEncoder(Encoder):
    """One bit per bin; num_bits evenly spaced bins between min and max."""

    config_class = OneHotConfig

    @property
    def num_levels(self) -> int:
        return self.config.num_bits - 1

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        b = self.config.num_bits
        return _evenly(*_minmax(x), torch.arange(1, b) / b)

    def code_table(self) -> torch.Tensor:
        return torch.eye(self.config.num_bits, dtype=torch.uint8)


class SignMagnitudeEncoder(Encoder):
    """Bit 0 = x < 0; bits 1.. = binary magnitude of |x| over [0, max |x|] (2^(bits-1) levels)."""

    config_class = SignMagnitudeConfig

    @property
    def _k(self) -> int:
        return (1 << (self.config.num_bits - 1)) - 1

    @property
    def num_levels(self) -> int:
        return 2 * self._k + 1

    def compute_thresholds(self, x: torch.Tensor) -> torch.Tensor:
        k = self._k
        amax = x.abs().max(0).values.unsqueeze(1)
        steps = amax * (torch.arange(1, k + 1, dtype=torch.float64) / (k + 1)).unsqueeze(0)
        zero = torch.zeros_like(amax)
        return torch.cat([-steps.flip(1), zero, steps], 1)

    def code_table(self) -> torch.Tensor:
        k = self._k
        q = torch.arange(self.num_levels + 1)
        magnitude = torch.where(q <= k, k - q, q - k - 1)
        sign = ((q <= k) & (magnitude > 0)).to(torch.int64)
        bits = (magnitude.unsqueeze(1) >> torch.arange(self.config.num_bits - 1)) & 1
        return torch.cat([sign.unsqueeze(1), bits], 1).to(torch.uint8)


#: encoder name -> class, from the one declaration in ``names.ENCODERS``
ENCODER_CLASSES: dict[str, type[Encoder]] = {
    name: globals()[cls] for name, (cls, _, _) in ENCODERS.items()
}
for _name, _cls in ENCODER_CLASSES.items():
    _cls.model_type = _name


def build_encoder(name: str, **config: Any) -> Encoder:
    """An encoder by name (or its upstream DiffLUT spelling) with its config values."""
    name = canonical("encoder", name)
    if name not in ENCODER_CLASSES:
        raise ConfigError(f"unknown encoder {name!r}; known: {', '.join(ENCODER_CLASSES)}")
    return ENCODER_CLASSES[name](config)

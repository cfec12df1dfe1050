"""Losses: ``loss(outputs, targets) -> (total, parts)``; ``composite`` adds several up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from core import build
from core.component import Component
from core.errors import ConfigError, DataError
from core_autoencoder._util import as_targets
from core_autoencoder.configs import (
    CompositeLossConfig,
    CrossEntropyLossConfig,
    KLDLossConfig,
    LatentStandardizationLossConfig,
    ReconstructionLossConfig,
)

__all__ = [
    "Loss",
    "MSELoss",
    "L1Loss",
    "KLDLoss",
    "CrossEntropyLoss",
    "LatentStandardizationLoss",
    "CompositeLoss",
]


class Loss(Component):
    """Base of the losses: ``__call__(outputs, targets) -> (weighted total, {name: value})``."""

    kind = "loss"
    config_section = "loss"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    @property
    def label(self) -> str:
        """Name of this loss in the parts dict."""
        return f"{self.model_type}/{self.config.key}"

    def output(self, outputs: Mapping[str, Any], key: str) -> torch.Tensor:
        """``outputs[key]``; a missing key is a ConfigError listing the outputs."""
        if not isinstance(outputs, Mapping):
            raise ConfigError(
                f"{self.describe()}: model outputs must be a dict, got {type(outputs).__name__}"
            )
        if key not in outputs:
            raise ConfigError(
                f"{self.describe()}: key '{key}' is not a model output "
                f"(outputs: {', '.join(map(str, outputs)) or 'none'})"
            )
        return outputs[key]

    def target(self, targets: Mapping[str, Any], key: str) -> torch.Tensor:
        """``targets[key]``; a missing key is a DataError listing the batch entries."""
        if key not in targets:
            raise DataError(
                f"{self.describe()}: target '{key}' is not in the batch "
                f"(batch entries: {', '.join(map(str, targets)) or 'none'})"
            )
        return targets[key]

    def compute(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def __call__(
        self, outputs: Mapping[str, Any], targets: Any = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        targets = {} if targets is None else as_targets(targets)
        value = self.compute(outputs, targets)
        return self.config.weight * value, {self.label: value.detach()}


class _Elementwise(Loss):
    config_class = ReconstructionLossConfig

    def _pair(
        self, outputs: Mapping[str, Any], targets: Mapping[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pred = self.output(outputs, self.config.key)
        true = self.target(targets, self.config.target)
        true = torch.as_tensor(true, device=pred.device).to(pred.dtype)
        if pred.shape != true.shape:
            raise ConfigError(
                f"{self.describe()}: output '{self.config.key}' has shape {tuple(pred.shape)} but "
                f"target '{self.config.target}' has shape {tuple(true.shape)}"
            )
        return pred, true


class MSELoss(_Elementwise):
    """Mean squared error."""

    def compute(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> torch.Tensor:
        return F.mse_loss(*self._pair(outputs, targets))


class L1Loss(_Elementwise):
    """Mean absolute error."""

    def compute(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> torch.Tensor:
        return F.l1_loss(*self._pair(outputs, targets))


class KLDLoss(Loss):
    """KL(N(mu, exp(logvar)) || N(0, 1))."""

    config_class = KLDLossConfig

    @property
    def label(self) -> str:
        return "kld"

    def compute(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> torch.Tensor:
        mu = self.output(outputs, self.config.key)
        logvar = self.output(outputs, self.config.logvar_key)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
        if self.config.reduction == "batchmean":
            return kl.flatten(1).sum(1).mean()
        return kl.mean()


class CrossEntropyLoss(Loss):
    """Cross-entropy of logits against class indices (or class probabilities)."""

    config_class = CrossEntropyLossConfig

    def compute(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> torch.Tensor:
        c = self.config
        logits = self.output(outputs, c.key)
        true = torch.as_tensor(self.target(targets, c.target), device=logits.device)
        if true.is_floating_point() and true.shape == logits.shape:
            target = true.to(logits.dtype)  # class probabilities
        else:
            if true.dim() == logits.dim() and true.shape[1] == 1:
                true = true[:, 0]
            if true.shape != (logits.shape[0], *logits.shape[2:]):
                raise ConfigError(
                    f"{self.describe()}: logits '{c.key}' of shape {tuple(logits.shape)} need "
                    f"class indices of shape {(logits.shape[0], *logits.shape[2:])} in "
                    f"'{c.target}', got {tuple(true.shape)}"
                )
            target = true.round().long() if true.is_floating_point() else true.long()
            valid = target[target != c.ignore_index]
            if valid.numel() and (valid.min() < 0 or valid.max() >= logits.shape[1]):
                raise DataError(
                    f"{self.describe()}: '{c.target}' holds class {int(valid.max())} "
                    f"(min {int(valid.min())}); the logits have {logits.shape[1]} classes"
                )
        weight = None
        if c.class_weights is not None:
            if len(c.class_weights) != logits.shape[1]:
                raise ConfigError(
                    f"{self.describe()}: class_weights has {len(c.class_weights)} entries, the "
                    f"logits have {logits.shape[1]} classes"
                )
            weight = torch.tensor(c.class_weights, device=logits.device, dtype=logits.dtype)
        return F.cross_entropy(
            logits,
            target,
            weight=weight,
            ignore_index=c.ignore_index,
            label_smoothing=c.label_smoothing,
        )


class LatentStandardizationLoss(Loss):
    """mean(z)^2 + (std(z) - 1)^2, per channel (then averaged) or over everything."""

    config_class = LatentStandardizationLossConfig

    @property
    def label(self) -> str:
        return f"latent-std/{self.config.key}"

    def compute(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> torch.Tensor:
        z = self.output(outputs, self.config.key)
        if self.config.per_channel and z.dim() >= 2:
            flat = z.transpose(0, 1).reshape(z.shape[1], -1)
            mean, std = flat.mean(1), flat.std(1)
        else:
            mean, std = z.mean(), z.std()
        return (mean.pow(2) + (std - 1).pow(2)).mean()


class CompositeLoss(Loss):
    """Weighted sum of registered losses; parts are logged under their names."""

    config_class = CompositeLossConfig

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.parts: list[tuple[str, Loss]] = []
        for i, spec in enumerate(self.config.parts):
            section = dict(spec)
            name = section.pop("name", None)
            loss = build("loss", section, where=f"loss.parts.{i}")
            self.parts.append((str(name or loss.label), loss))

    @property
    def label(self) -> str:
        return "composite"

    def __call__(
        self, outputs: Mapping[str, Any], targets: Any = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        targets = {} if targets is None else as_targets(targets)
        total: torch.Tensor | None = None
        logged: dict[str, torch.Tensor] = {}
        for name, loss in self.parts:
            value, sub = loss(outputs, targets)
            if isinstance(loss, CompositeLoss):
                logged.update({f"{name}/{k}": v for k, v in sub.items()})
            else:
                logged[name] = sub[loss.label]
            total = value if total is None else total + value
        assert total is not None
        return self.config.weight * total, logged

"""The ``onnx`` exporter: each network a model names in ``export_networks()``, as ONNX.

Each network is exported with ``torch.onnx.export(..., dynamo=True)``; a network the dynamo
exporter cannot express falls back to the TorchScript exporter (the manifest says which).
With ``check`` on, every file runs in onnxruntime on fresh random inputs (a different batch
size where the batch is dynamic) and must match PyTorch within ``tolerance``.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from core._version import __version__
from core.atomic import atomic_write_bytes, atomic_write_text
from core.base_model import ExportCall, ExportedNetwork
from core.errors import ExportError
from core.exporters.base import Exporter
from core.exporters.configs import ONNXExporterConfig

__all__ = ["ONNXExporter", "run_onnx"]

_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
DYNAMO = "torch.onnx.export(dynamo=True)"
TORCHSCRIPT = "torch.onnx.export(dynamo=False) (TorchScript)"
#: batch size of the check's random inputs where the batch axis is dynamic.
CHECK_BATCH = 3


class ONNXExporter(Exporter):
    """``<name>.onnx`` per network of ``model.export_networks()`` and a ``manifest.json``."""

    config_class = ONNXExporterConfig

    def check_ready(self) -> None:
        missing = [name for name in _PACKAGES if not _installed(name)]
        if missing:
            raise ExportError(
                f"the onnx format needs {', '.join(missing)}: pip install 'core[onnx]'"
            )

    def export(self, model: Any, directory: Path, **context: Any) -> str:
        self.check_ready()
        networks = {name: ExportedNetwork(*net) for name, net in model.export_networks().items()}
        entries = {}
        for name, network in networks.items():
            network.module.eval()
            data, used = _export(name, network, self.config.opset)
            path = directory / f"{name}.onnx"
            atomic_write_bytes(path, data)
            entries[name] = _describe(name, network, used)
            if self.config.check:
                entries[name]["max_abs_diff"] = self._check(name, network, path)
        manifest = {
            "format": "onnx",
            "model": model.get_config().get("type"),
            "source": str(context.get("source", "")),
            "weights": str(context.get("weights", "")),
            "core_version": __version__,
            "torch_version": torch.__version__,
            "check": _check_facts(self.config) if self.config.check else None,
            "networks": entries,
        }
        atomic_write_text(directory / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        checked = f", checked in onnxruntime (tolerance {self.config.tolerance:g})"
        return f"{', '.join(f'{n}.onnx' for n in networks)}{checked if self.config.check else ''}"

    def _check(self, name: str, network: ExportedNetwork, path: Path) -> float:
        """Max abs difference of onnxruntime and PyTorch on random inputs; over the
        tolerance is an ExportError (nothing is written)."""
        inputs = random_inputs(network, seed=1)
        with torch.no_grad():
            expected = _as_tuple(network.module(*inputs))
        try:
            got = run_onnx(path, dict(zip(network.input_names, inputs)))
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors: one line
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ExportError(
                f"network '{name}': onnxruntime cannot run the exported file: {first}"
            ) from None
        worst = max(_max_abs(e, g) for e, g in zip(expected, got))
        if not worst <= self.config.tolerance:
            raise ExportError(
                f"network '{name}': onnxruntime differs from PyTorch by {worst:.3g} on random "
                f"inputs (tolerance {self.config.tolerance:g}); nothing was written"
            )
        return worst


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _export(name: str, network: ExportedNetwork, opset: int | None) -> tuple[bytes, str]:
    """The ONNX bytes of one network and the exporter that wrote them."""
    names = {
        "input_names": list(network.input_names),
        "output_names": list(network.output_names),
        "opset_version": opset,
    }
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping ..." x8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation and tracer notes
        try:
            program = torch.onnx.export(
                network.module,
                network.inputs,
                dynamo=True,
                verbose=False,
                dynamic_shapes=_dynamic_shapes(network),
                **names,
            )
            return program.model_proto.SerializeToString(), DYNAMO
        except Exception as dynamo_error:  # noqa: BLE001 - any failure: try the older exporter
            return _torchscript(name, network, names, dynamo_error), TORCHSCRIPT
        finally:
            registration.setLevel(level)


def _dynamic_shapes(network: ExportedNetwork) -> Any:
    """``dynamic_axes`` as torch.export's ``dynamic_shapes`` (one ``Dim`` per axis name)."""
    if not network.dynamic_axes:
        return None
    dims: dict[str, Any] = {}
    specs = tuple(
        {
            axis: dims.setdefault(label, torch.export.Dim(label))
            for axis, label in network.dynamic_axes.get(name, {}).items()
        }
        or None
        for name in network.input_names
    )
    return (specs,) if isinstance(network.module, ExportCall) else specs  # *inputs: one tuple


def _torchscript(
    name: str, network: ExportedNetwork, names: dict[str, Any], dynamo_error: Exception
) -> bytes:
    """The TorchScript exporter's bytes, for a network the dynamo exporter cannot express."""
    axes = {k: dict(v) for k, v in (network.dynamic_axes or {}).items()} or None
    buffer = io.BytesIO()
    try:
        torch.onnx.export(
            network.module, network.inputs, buffer, dynamo=False, dynamic_axes=axes, **names
        )
    except Exception:  # noqa: BLE001 - both failed: report the current exporter's reason
        raise ExportError(
            f"network '{name}' has no ONNX equivalent: {_summary(dynamo_error)}"
        ) from None
    return buffer.getvalue()


def _summary(error: Exception) -> str:
    """The line of an exporter's error that says what failed (its "Exception summary")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("## Exception summary"):
            return lines[i + 1]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def random_inputs(network: ExportedNetwork, *, seed: int) -> tuple[torch.Tensor, ...]:
    """Fresh inputs like the example ones: floats uniform in their range (else normal),
    integers drawn from theirs (else the example's); a dynamic batch of ``CHECK_BATCH``."""
    generator = torch.Generator().manual_seed(seed)
    ranges = network.value_ranges or {}
    out = []
    for name, example in zip(network.input_names, network.inputs):
        shape = list(example.shape)
        if 0 in (network.dynamic_axes or {}).get(name, {}):
            shape[0] = CHECK_BATCH
        low_high = ranges.get(name)
        if example.dtype.is_floating_point:
            value = torch.randn(shape, generator=generator)
            if low_high is not None:
                low, high = low_high
                value = low + (high - low) * torch.rand(shape, generator=generator)
        elif low_high is not None:
            value = torch.randint(
                int(low_high[0]), int(low_high[1]) + 1, shape, generator=generator
            )
        else:
            value = (
                example.flatten()[0].expand(shape).clone()
                if shape != list(example.shape)
                else example
            )
        out.append(value.to(example.dtype))
    return tuple(out)


def run_onnx(path: str | Path, feeds: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Run an ONNX file in onnxruntime (CPU) on ``feeds``; its outputs as tensors."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    arrays = {name: value.detach().cpu().numpy() for name, value in feeds.items()}
    return tuple(torch.from_numpy(a) for a in session.run(None, arrays))


def _as_tuple(value: Any) -> tuple[torch.Tensor, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _max_abs(expected: torch.Tensor, got: torch.Tensor) -> float:
    if tuple(expected.shape) != tuple(got.shape):
        return float("inf")
    return float((expected.double() - got.double()).abs().max()) if expected.numel() else 0.0


def _describe(name: str, network: ExportedNetwork, used: str) -> dict[str, Any]:
    """The manifest entry of one network: file, exporter, inputs and outputs."""
    axes = network.dynamic_axes or {}
    ranges = network.value_ranges or {}

    def shape(tensor: torch.Tensor, label: str) -> list[Any]:
        return [axes.get(label, {}).get(i, size) for i, size in enumerate(tensor.shape)]

    with torch.no_grad():
        outputs = _as_tuple(network.module(*network.inputs))
    return {
        "file": f"{name}.onnx",
        "exporter": used,
        "inputs": [
            {
                "name": label,
                "shape": shape(value, label),
                "dtype": str(value.dtype).removeprefix("torch."),
                "range": list(ranges[label]) if label in ranges else None,
            }
            for label, value in zip(network.input_names, network.inputs)
        ],
        "outputs": [
            {
                "name": label,
                "shape": shape(value, label),
                "dtype": str(value.dtype).removeprefix("torch."),
            }
            for label, value in zip(network.output_names, outputs)
        ],
    }


def _check_facts(config: ONNXExporterConfig) -> dict[str, Any]:
    return {
        "runtime": f"onnxruntime {importlib.metadata.version('onnxruntime')}",
        "tolerance": config.tolerance,
        "inputs": "random, seed 1, in each input's range",
    }

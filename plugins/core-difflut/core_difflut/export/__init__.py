"""Export a trained DiffLUT network: Verilog, bit-sliced C, bit-packed NumPy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["export_model", "verilog_options", "FORMATS"]

FORMATS = ("verilog", "c", "numpy")


def verilog_options(
    model: Any,
    *,
    inputs: str = "integer",
    input_bits: int | None = None,
    input_scale: float | None = None,
    lut_style: str = "generic",
    pipeline: bool = False,
) -> Any:
    """Verilog export options; integer inputs default to the model's dataset scaling."""
    from core_difflut.export.integer_inputs import integer_inputs_for
    from core_difflut.export.verilog import VerilogOptions

    integer = None
    if inputs == "integer":
        integer = integer_inputs_for(model.config.dataset, input_bits, input_scale)
    return VerilogOptions(inputs=inputs, integer=integer, lut_style=lut_style, pipeline=pipeline)


def export_model(
    model: Any,
    directory: str | os.PathLike[str],
    fmt: str,
    *,
    build: bool = False,
    verilog: Any = None,
) -> list[Path]:
    """Write ``model`` (evaluation mode, deterministic) in ``fmt`` into ``directory``.

    ``verilog``: ``VerilogOptions`` (default ``verilog_options(model)``: integer inputs
    scaled as the model's dataset, generic LUTs, combinational).
    """
    from core.errors import ConfigError
    from core_difflut.export.spec import network_spec, save_spec

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    spec = model.export_spec() if hasattr(model, "export_spec") else network_spec(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "numpy":
        from core_difflut.export import numpy_eval

        save_spec(spec, directory / "model.npz")
        script = directory / "difflut_numpy.py"
        shutil.copyfile(numpy_eval.__file__, script)
        return [directory / "model.npz", script]
    if fmt == "c":
        from core_difflut.export.c import build_c, write_c

        files = write_c(spec, directory)
        if build:
            files.append(build_c(directory))
        return files
    from core_difflut.export.verilog import write_verilog

    return write_verilog(spec, directory, verilog or verilog_options(model))

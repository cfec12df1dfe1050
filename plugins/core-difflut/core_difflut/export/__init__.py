"""Export a trained DiffLUT network: Verilog, bit-sliced C, bit-packed NumPy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["export_model", "verilog_options", "check_output_folder", "FORMATS"]

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


def check_output_folder(directory: str | os.PathLike[str], overwrite: bool, command: str) -> Path:
    """Refuse an output that is not a folder, or a non-empty one without ``overwrite``."""
    from core.errors import ConfigError

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{command}: output {directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise ConfigError(f"{command}: output directory {directory} is not empty (use --overwrite)")
    return directory


def export_model(
    model: Any,
    directory: str | os.PathLike[str],
    fmt: str,
    *,
    build: bool = False,
    verilog: Any = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``model`` (evaluation mode, deterministic) in ``fmt`` into the folder ``directory``.

    The folder is one unit: every file (the C build's too) is written into a staging folder
    beside it, swapped in whole by ``core.atomic.atomic_directory``. A folder that exists and
    is not empty is replaced only with ``overwrite``, and kept until the new one is complete.
    ``verilog``: ``VerilogOptions`` (default ``verilog_options(model)``: integer inputs
    scaled as the model's dataset, generic LUTs, combinational).
    """
    from core.atomic import atomic_directory
    from core.errors import ConfigError
    from core_difflut.export.spec import network_spec

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    spec = model.export_spec() if hasattr(model, "export_spec") else network_spec(model)
    directory = check_output_folder(directory, overwrite, "export")
    options = verilog or (verilog_options(model) if fmt == "verilog" else None)
    with atomic_directory(directory, overwrite=True) as staging:  # an empty folder is replaced
        files = _write(spec, staging, fmt, build, options)
    return [directory / path.relative_to(staging) for path in files]


def _write(
    spec: dict[str, Any], directory: Path, fmt: str, build: bool, verilog: Any
) -> list[Path]:
    """Write ``spec`` in ``fmt`` into ``directory``; the files written."""
    if fmt == "numpy":
        from core.atomic import atomic_write_bytes
        from core_difflut.export import numpy_eval
        from core_difflut.export.spec import save_spec

        save_spec(spec, directory / "model.npz")
        script = directory / "difflut_numpy.py"
        atomic_write_bytes(script, Path(numpy_eval.__file__).read_bytes())
        return [directory / "model.npz", script]
    if fmt == "c":
        from core_difflut.export.c import build_c, write_c

        files = write_c(spec, directory)
        if build:
            files.append(build_c(directory))
        return files
    from core_difflut.export.verilog import write_verilog

    return write_verilog(spec, directory, verilog)

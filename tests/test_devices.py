"""resolve_device: config and command-line device names to torch devices."""

from __future__ import annotations

import pytest
import torch

from core.devices import resolve_device
from core.errors import ConfigError


def test_cpu_and_auto_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")


def test_cuda_without_cuda_names_the_setting(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="^train.device: 'cuda' requested but CUDA"):
        resolve_device("cuda", where="train.device")
    with pytest.raises(ConfigError, match="^device: 'cuda' requested"):
        resolve_device("cuda")


def test_cuda_uses_the_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("auto", 3) == torch.device("cuda", 3)


@pytest.mark.parametrize(
    "name", ["nonsense", "meta", "mps", "CPU", "cuda:", "cuda:-1", "cuda:1x", 3]
)
def test_a_name_that_is_no_device_is_refused(name):
    with pytest.raises(ConfigError, match=r"^--device: .* is not a device; give auto, cpu, cuda"):
        resolve_device(name, where="--device")


def test_an_indexed_cuda_device_must_exist(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="^--device: 'cuda:0' requested but CUDA is not avail"):
        resolve_device("cuda:0", where="--device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1", 0) == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match=r"^--device: 'cuda:99' requested but there are 2 CUDA"):
        resolve_device("cuda:99", where="--device")

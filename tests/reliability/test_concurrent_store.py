"""Eight processes saving to one pretrained name at once; listing while they save."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from core.base_model import BaseModel
from core.pretrained import list_pretrained, pretrained_files
from core.weights import read_weights

from .conftest import HERE

pytestmark = pytest.mark.slow

WRITERS = 8


def test_eight_concurrent_saves_give_eight_loadable_versions(store):
    env = {**os.environ, "CORE_HOME": str(store), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_worker.py"), "save", str(WRITERS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    ]
    seen_incomplete = []
    listings = 0
    while any(p.poll() is None for p in procs):
        for info in list_pretrained(store):
            if info.source != "store":
                continue
            listings += 1
            # whatever is listed is complete: both files there and the weights readable
            try:
                yaml_path, weights = pretrained_files(info.path)
                read_weights(weights)
                yaml_path.read_text(encoding="utf-8")
            except Exception as exc:  # noqa: BLE001
                seen_incomplete.append(f"{info.reference}: {exc}")
        time.sleep(0.02)
    out, err = procs[0].communicate(timeout=120)
    assert procs[0].returncode == 0, err
    outputs = [json.loads(line) for line in out.strip().splitlines()]
    assert len(outputs) == WRITERS
    assert not seen_incomplete, seen_incomplete[:3]
    versions = sorted(o["version"] for o in outputs)
    assert versions == list(range(1, WRITERS + 1))
    listed = [i for i in list_pretrained(store) if i.source == "store"]
    assert sorted(i.version for i in listed) == versions
    for o in outputs:
        model = BaseModel.from_pretrained(f"shared/v{o['version']}")
        total = float(sum(p.detach().double().sum() for p in model.parameters()))
        assert total == pytest.approx(o["sum"], rel=1e-12, abs=1e-9)
        assert model.count_parameters() > 0 and isinstance(model, torch.nn.Module)
    leftovers = [p.name for p in (store / "mlp-denoiser" / "shared").iterdir()]
    assert sorted(leftovers) == sorted(f"v{v}" for v in versions)
    assert listings > 0

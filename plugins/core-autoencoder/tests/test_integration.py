"""The plugin through core: registration without torch, the Trainer, ``core embed``."""

from __future__ import annotations

import csv
import subprocess
import sys

import torch
import yaml

import core


def test_registration_and_configs_import_no_torch() -> None:
    code = (
        "import sys, core_autoencoder.plugin, core_autoencoder.configs, core\n"
        "names = core.list_components()\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "for n in ('autoencoder', 'latent-diffusion', 'controlnet-diffusion', 'conv-encoder',\n"
        "          'conv-decoder', 'rgb', 'composite', 'manifest', 'image-adapter'):\n"
        "    assert n in names, n\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_seed_aliases_resolve() -> None:
    for kind, alias, name in [
        ("head", "RGBHead", "rgb"),
        ("head", "SegmentationHead", "segmentation"),
        ("head", "ClassificationHead", "classification"),
        ("noise-schedule", "LinearScheduler", "linear"),
        ("noise-schedule", "CosineScheduler", "cosine"),
        ("noise-schedule", "QuadraticScheduler", "quadratic"),
    ]:
        assert core.get_component(kind, alias) is core.get_component(kind, name)


def test_trainer_trains_the_autoencoder_on_derived_targets(ae_config: dict, tmp_path) -> None:
    from core_autoencoder.derived import DerivedTargets

    from core.training import Trainer

    images = torch.rand(32, 1, 16, 16) * 2 - 1
    base = torch.utils.data.TensorDataset(images, torch.arange(32) % 10)
    dataset = DerivedTargets.wrap(base, targets=["mask"])
    config = {"model": ae_config, "train": {"steps": 3, "batch_size": 8, "log_every": 1}}
    summary = Trainer(config, dataset=dataset, run_dir=tmp_path / "run", quiet=True).fit()
    assert summary is not None
    loaded = core.BaseModel.from_pretrained(tmp_path / "run" / "final")
    assert loaded.model_type == "autoencoder"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) >= 3 and "cross-entropy/seg" in lines[-1]


def test_core_embed_command(ae_config: dict, tmp_path) -> None:
    from core.cli import main

    ae_config["encoder"]["in_channels"] = 1
    core.build("model", ae_config).save_pretrained(tmp_path / "ae")
    run = tmp_path / "embed.yaml"
    run.write_text(yaml.safe_dump({"data": {"type": "digits", "image_size": 8, "split": "test"}}))
    assert main(["embed", str(tmp_path / "ae"), str(run), "--out", str(tmp_path / "lat")]) == 0
    with (tmp_path / "lat" / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(core.build("dataset", {"type": "digits", "split": "test"}))
    assert main(["embed", str(tmp_path / "missing"), str(run), "--out", str(tmp_path / "x")]) == 2

"""The autoencoder model: outputs, losses, part checkpoints, freezing, embedding."""

from __future__ import annotations

import csv

import pytest
import torch

import core
from core.errors import ConfigError, DataError, WeightsError


def _batch(n: int = 4) -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 16, 16, generator=g) * 2 - 1
    return {"image": x, "label": torch.arange(n) % 10, "mask": (x[:, 0] > 0).long()}


def test_forward_returns_every_head_and_the_latent(ae_config: dict) -> None:
    model = core.build("model", ae_config)
    out = model(torch.randn(2, 1, 16, 16))
    assert set(out) == {"rgb", "seg", "cls", "latent"}
    assert out["rgb"].shape == (2, 1, 16, 16) and out["rgb"].abs().max() <= 1
    assert out["seg"].shape == (2, 2, 16, 16)
    assert out["cls"].shape == (2, 10)
    assert out["latent"].shape == (2, 4, 4, 4)
    probs = model.predict(torch.randn(2, 1, 16, 16))
    assert torch.allclose(probs["cls"].sum(1), torch.ones(2))
    assert torch.allclose(probs["seg"].sum(1), torch.ones(2, 16, 16))


def test_variational_outputs_mu_logvar_and_samples_only_in_training(ae_config: dict) -> None:
    ae_config["encoder"]["variational"] = True
    model = core.build("model", ae_config)
    x = torch.randn(2, 1, 16, 16)
    enc = model.encoder.encode(x)
    assert set(enc) == {"mu", "logvar"}
    model.eval()
    out = model(x)
    assert torch.equal(out["latent"], out["mu"])
    model.train()
    assert not torch.equal(model(x)["latent"], out["mu"])
    parts = model.compute_loss(_batch())
    assert "kld" in parts


def test_encode_decode_and_from_config(ae_config: dict) -> None:
    from core_autoencoder.model import Autoencoder

    model = Autoencoder.from_config({"model": ae_config})
    z = model.encode(torch.randn(3, 1, 16, 16))["latent"]
    assert set(model.decode(z)) == {"rgb", "seg", "cls"}


def test_compute_loss_has_named_parts_and_training_lowers_it(ae_config: dict) -> None:
    torch.manual_seed(0)
    model = core.build("model", ae_config)
    batch = _batch(4)
    parts = model.compute_loss(batch)
    assert {"loss", "mse/rgb", "cross-entropy/seg", "cross-entropy/cls", "acc/cls"} <= set(parts)
    expected = parts["mse/rgb"] + parts["cross-entropy/seg"] + parts["cross-entropy/cls"]
    assert torch.allclose(parts["loss"], expected)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = float(parts["loss"].detach())
    for _ in range(15):
        loss = model.compute_loss(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(model.compute_loss(batch)["loss"].detach()) < 0.8 * first


def test_pair_batches_work_with_the_default_loss(ae_config: dict) -> None:
    ae_config["decoder"]["heads"] = [{"type": "rgb", "out_channels": 1}]
    model = core.build("model", ae_config)
    parts = model.compute_loss([torch.randn(2, 1, 16, 16), torch.tensor([1, 2])])
    assert set(parts) == {"loss", "mse/rgb"}


def test_missing_target_is_a_clear_error(ae_config: dict) -> None:
    model = core.build("model", ae_config)
    with pytest.raises(DataError, match="target 'mask' is not in the batch.*image, label"):
        model.compute_loss({"image": torch.randn(2, 1, 16, 16), "label": torch.tensor([1, 2])})


def test_bad_input_shapes_name_expected_and_given(ae_config: dict) -> None:
    model = core.build("model", ae_config)
    with pytest.raises(ConfigError, match=r"\(batch, 1, H, W\), got \(2, 3, 16, 16\)"):
        model(torch.randn(2, 3, 16, 16))
    with pytest.raises(ConfigError, match="multiples of 4"):
        model(torch.randn(2, 1, 10, 10))
    with pytest.raises(ConfigError, match=r"latent.*\(batch, 4, H, W\)"):
        model.decode(torch.randn(2, 3, 4, 4))


def test_mismatched_parts_are_config_errors(ae_config: dict) -> None:
    bad = {**ae_config, "decoder": {**ae_config["decoder"], "latent_channels": 8}}
    with pytest.raises(ConfigError, match="latent_channels"):
        core.build("model", bad)
    bad = {**ae_config, "decoder": {**ae_config["decoder"], "upsampling_steps": 3}}
    with pytest.raises(ConfigError, match="upsampling_steps"):
        core.build("model", bad)
    dup = [{"type": "rgb"}, {"type": "rgb"}]
    with pytest.raises(ConfigError, match="unique"):
        core.build("model", {**ae_config, "decoder": {**ae_config["decoder"], "heads": dup}})
    with pytest.raises(ConfigError, match="num_classes"):
        core.build(
            "model",
            {
                **ae_config,
                "decoder": {
                    **ae_config["decoder"],
                    "heads": [{"type": "segmentation", "num_classes": 1}],
                },
            },
        )
    with pytest.raises(ConfigError, match="unknown head"):
        core.build(
            "model", {**ae_config, "decoder": {**ae_config["decoder"], "heads": [{"type": "rbg"}]}}
        )


def test_parts_load_from_checkpoints_and_freeze(ae_config: dict, tmp_path) -> None:
    trained = core.build("model", ae_config)
    trained.save_pretrained(tmp_path / "ae")
    core.save_weights(trained.encoder, tmp_path / "encoder.safetensors")
    for source in (tmp_path / "ae", tmp_path / "encoder.safetensors"):
        cfg = {
            **ae_config,
            "encoder": {**ae_config["encoder"], "checkpoint": str(source), "frozen": True},
        }
        model = core.build("model", cfg)
        for key, value in trained.encoder.state_dict().items():
            assert torch.equal(model.encoder.state_dict()[key], value)
        assert not any(p.requires_grad for p in model.encoder.parameters())
        assert all(p.requires_grad for p in model.decoder.parameters())
        assert model.count_parameters(trainable_only=True) == model.decoder.count_parameters()
        model.compute_loss(_batch())["loss"].backward()
        assert all(p.grad is None for p in model.encoder.parameters())
        assert "checkpoint" not in model.get_config()["encoder"]
        assert model.get_config()["encoder"]["frozen"] is True
    cfg = {
        **ae_config,
        "decoder": {**ae_config["decoder"], "checkpoint": str(tmp_path / "nope.safetensors")},
    }
    with pytest.raises(WeightsError, match="nope.safetensors"):
        core.build("model", cfg)
    other = {**ae_config, "encoder": {**ae_config["encoder"], "base_channels": 16}}
    cfg = {**other, "encoder": {**other["encoder"], "checkpoint": str(tmp_path / "ae")}}
    with pytest.raises(WeightsError, match="wrong shape"):
        core.build("model", cfg)


def test_save_and_load_pretrained_round_trip(ae_config: dict, tmp_path) -> None:
    model = core.build("model", ae_config).eval()
    model.save_pretrained(tmp_path / "m")
    loaded = core.BaseModel.from_pretrained(tmp_path / "m")
    x = torch.randn(2, 1, 16, 16)
    assert torch.equal(model(x)["rgb"], loaded(x)["rgb"])


def test_embed_dataset_writes_a_manifest_the_manifest_dataset_reads(
    ae_config: dict, tmp_path
) -> None:
    model = core.build("model", ae_config).eval()
    images = torch.randn(5, 1, 16, 16)
    data = torch.utils.data.TensorDataset(images, torch.arange(5))
    path = model.embed_dataset(data, tmp_path / "emb", batch_size=2)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == ["0", "1", "2", "3", "4"]
    manifest = core.build(
        "dataset",
        {"type": "manifest", "path": str(path), "columns": {"latent": "latent", "label": "label"}},
    )
    item = manifest[3]
    assert torch.allclose(item["latent"], model.encode(images[3:4])["latent"][0], atol=1e-6)
    assert item["label"] == 3

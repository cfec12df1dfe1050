"""The Trainer: protocol checks, config errors, accumulation, precision, EMA, GANs, outputs."""

from __future__ import annotations

import json

import pytest
import torch

import core
from core.errors import ConfigError, TrainingError
from core.training import Trainer
from core.training.lr_schedules import lr_factor


def run_config(model="tiny-denoiser", **train):
    base = {"steps": 6, "batch_size": 16, "lr": 0.01, "log_every": 1}
    base.update(train)
    return {
        "model": {"type": model},
        "data": {"type": "toy2d", "size": 64},
        "train": base,
        "sample": {"n": 16},
    }


def test_trains_and_writes_run_directory(tiny, tmp_path):
    summary = Trainer(
        run_config(checkpoint_every=3, sample_every=3, ema_decay=0.5),
        run_dir=tmp_path / "r",
        quiet=True,
    ).fit()
    run = tmp_path / "r"
    assert summary["steps"] == 6
    for name in ("config.yaml", "metrics.jsonl", "loss.png", "samples.png", "samples_3.png"):
        assert (run / name).is_file(), name
    assert (run / "final" / "tiny-denoiser.safetensors").is_file()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "eps_mean", "lr", "samples_per_s"} <= set(records[0])
    assert sorted(p.name for p in (run / "checkpoints").iterdir() if p.is_dir()) == [
        "step_3",
        "step_6",
    ]
    from core.building import build_model

    assert build_model(str(run / "final")).count_parameters() > 0


def test_model_without_protocol_fails_before_training(tiny, tmp_path):
    with pytest.raises(TrainingError, match="neither compute_loss"):
        Trainer(run_config("no-protocol"), run_dir=tmp_path / "r", quiet=True)
    assert not (tmp_path / "r").exists()


def test_sample_every_needs_sample(tiny, tmp_path):
    with pytest.raises(TrainingError, match="no sample"):
        Trainer(run_config("tiny-regressor", sample_every=2), run_dir=tmp_path / "r", quiet=True)


@pytest.mark.parametrize(
    ("train", "match"),
    [
        ({"stpes": 3}, "did you mean 'steps'"),
        ({"steps": None}, "give train.steps or train.epochs"),
        ({"epochs": 2}, "not both"),
        ({"lr": -1}, "train.lr"),
        ({"precision": "fp8"}, "train.precision"),
        ({"precision": "fp16"}, "fp16 needs"),
        ({"betas": [0.9, 1.5]}, "betas"),
    ],
)
def test_bad_train_section_is_a_config_error(tiny, tmp_path, train, match):
    with pytest.raises(ConfigError, match=match):
        Trainer(run_config(**train), run_dir=tmp_path / "r", quiet=True)


def test_unknown_top_level_section(tiny, tmp_path):
    config = run_config()
    config["trian"] = {}
    with pytest.raises(ConfigError, match="unknown top-level section"):
        Trainer(config, run_dir=tmp_path / "r", quiet=True)


def test_existing_run_dir_needs_resume_or_overwrite(tiny, tmp_path):
    Trainer(run_config(steps=1), run_dir=tmp_path / "r", quiet=True).fit()
    with pytest.raises(TrainingError, match="--resume"):
        Trainer(run_config(steps=1), run_dir=tmp_path / "r", quiet=True).fit()
    Trainer(run_config(steps=1), run_dir=tmp_path / "r", quiet=True, overwrite=True).fit()


def test_lr_schedule_warmup_and_cosine():
    cosine = core.build("lr-schedule", {"type": "cosine"})
    assert lr_factor(0, 100, 10, cosine) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, cosine) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, cosine) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, cosine) == pytest.approx(0.5)
    floor = core.build("lr-schedule", {"type": "cosine", "min_ratio": 0.1})
    assert lr_factor(100, 100, 10, floor) == pytest.approx(0.1)
    assert lr_factor(50, 100, 0, core.build("lr-schedule", {"type": "constant"})) == 1.0


def test_logged_lr_follows_schedule(tiny, tmp_path):
    Trainer(
        run_config(steps=8, warmup_steps=4, lr=0.1, lr_schedule="cosine"),
        run_dir=tmp_path / "r",
        quiet=True,
    ).fit()
    lrs = [json.loads(x)["lr"] for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    cosine = core.build("lr-schedule", {"type": "cosine"})
    expected = [0.1 * lr_factor(s, 8, 4, cosine) for s in range(8)]
    assert lrs == pytest.approx(expected)


def test_gradient_accumulation_matches_large_batch(tiny, tmp_path):
    """2 micro-batches of 16 with accumulation == 1 batch of 32 (deterministic loss)."""
    big = Trainer(
        run_config("tiny-regressor", steps=3, batch_size=32, shuffle=False),
        run_dir=tmp_path / "a",
        quiet=True,
    )
    big.fit()
    acc = Trainer(
        run_config("tiny-regressor", steps=3, batch_size=16, grad_accumulation=2, shuffle=False),
        run_dir=tmp_path / "b",
        quiet=True,
    )
    acc.fit()
    for p, q in zip(big.model.parameters(), acc.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    # and it really did step fewer times than micro-batches
    assert acc.opt.optimizers["model"].state[next(acc.model.parameters())]["step"] == 3


def test_bf16_autocast_is_applied(tiny, tmp_path):
    seen = []
    trainer = Trainer(run_config(steps=1, precision="bf16"), run_dir=tmp_path / "r", quiet=True)
    original = trainer.model.net[0].forward

    def spy(x):
        out = original(x)
        seen.append(out.dtype)
        return out

    trainer.model.net[0].forward = spy
    trainer.fit()
    assert seen[0] == torch.bfloat16  # the training step (sampling afterwards runs in fp32)


def test_grad_clip_limits_norm(tiny, tmp_path):
    trainer = Trainer(run_config(steps=2, grad_clip=1e-3), run_dir=tmp_path / "r", quiet=True)
    trainer.fit()
    records = [json.loads(x) for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert all("grad_norm" in r for r in records)  # the pre-clip norm is logged
    assert records[0]["grad_norm"] > 1e-3


def test_ema_tracks_weights(tiny, tmp_path):
    trainer = Trainer(run_config(steps=5, ema={"decay": 0.5}), run_dir=tmp_path / "r", quiet=True)
    start = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.fit()
    for s, p, e in zip(start, trainer.model.parameters(), trainer.ema.model.parameters()):
        assert not torch.equal(e, p)  # lags behind the weights
        assert not torch.equal(e, s)  # but has moved
    from core.weights import read_weights

    saved = read_weights(tmp_path / "r/final/tiny-denoiser.safetensors")
    for key, value in trainer.ema.state_dict().items():
        assert torch.equal(saved[key], value)


def test_two_optimizer_model(tiny, tmp_path):
    trainer = Trainer(
        run_config("tiny-gan", steps=4, grad_accumulation=2), run_dir=tmp_path / "r", quiet=True
    )
    g0 = [p.detach().clone() for p in trainer.model.generator.parameters()]
    trainer.fit()
    assert set(trainer.optimizers) == {"discriminator", "generator"}
    assert trainer.optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)
    for name, opt in trainer.optimizers.items():
        state = opt.state[opt.param_groups[0]["params"][0]]
        assert int(state["step"]) == 4, name
    assert any(not torch.equal(a, b) for a, b in zip(g0, trainer.model.generator.parameters()))
    records = [json.loads(x) for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert {"loss_d", "loss_g"} <= set(records[-1])
    assert (tmp_path / "r/loss.png").is_file()


def test_gan_backward_only_touches_its_group(tiny, tmp_path):
    """The generator's loss must not leave gradients in the discriminator."""
    trainer = Trainer(run_config("tiny-gan", steps=1), run_dir=tmp_path / "r", quiet=True)
    x = torch.randn(8, 2)
    trainer.opt.micro_step = 0
    trainer.opt.grad_accumulation = 2  # do not step: inspect the gradients
    g_loss = trainer.model.discriminator(trainer.model.generator(torch.randn(8, 4))).mean()
    trainer.opt.step("generator", g_loss)
    assert all(p.grad is None for p in trainer.model.discriminator.parameters())
    assert all(p.grad is not None for p in trainer.model.generator.parameters())
    del x


def test_epochs_define_steps(tiny, tmp_path):
    cfg = run_config(steps=None, epochs=2, batch_size=16)
    trainer = Trainer(cfg, run_dir=tmp_path / "r", quiet=True)
    assert trainer.total_steps == 2 * (64 // 16)


def test_nan_loss_is_a_training_error(tiny, tmp_path):
    trainer = Trainer(run_config(steps=3), run_dir=tmp_path / "r", quiet=True)
    with torch.no_grad():
        trainer.model.net[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="loss became nan"):
        trainer.fit()


def test_sample_options_reach_model(tiny, tmp_path):
    cfg = run_config("tiny-image", steps=1)
    cfg["data"] = {"type": "digits", "subset": 32}
    cfg["sample"] = {"n": 4, "sampler": "ddim", "steps": 7}
    trainer = Trainer(cfg, run_dir=tmp_path / "r", quiet=True)
    trainer.fit()
    assert trainer.sample_model().last_kwargs == {"sampler": "ddim", "steps": 7}
    from PIL import Image

    with Image.open(tmp_path / "r/samples.png") as image:
        assert min(image.size) >= 200  # small grids are scaled up


def test_model_hears_training_progress_before_each_step(tiny, tmp_path):
    class Listening(tiny.TinyRegressor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.heard: list[tuple[int, int]] = []

        def on_train_progress(self, step, total_steps):
            self.heard.append((step, total_steps))

    config = run_config("tiny-regressor", steps=5, grad_accumulation=2)
    first = Listening()
    Trainer(config, model=first, run_dir=tmp_path / "r", quiet=True).fit(stop_at=2)
    assert first.heard == [(0, 5), (1, 5)]  # once per optimizer step, not per micro-batch
    resumed = Listening()
    Trainer(config, model=resumed, run_dir=tmp_path / "r", resume=True, quiet=True).fit()
    assert resumed.heard == [(2, 5), (3, 5), (4, 5)]

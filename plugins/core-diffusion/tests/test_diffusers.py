"""diffusers in and out: the ``diffusers-unet`` network, ``pretrained`` folders, the
``diffusers`` export and sampling parity with diffusers' schedulers.

Every diffusers object is built from a config and saved by diffusers itself in the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from core.building import build
from core.cli import main
from core.config import Config
from core.errors import ConfigError, ExportError
from core.loading import load_model
from core.testing import check_component

diffusers = pytest.importorskip(
    "diffusers", reason="diffusers is absent: pip install 'core-diffusion[diffusers]'"
)

from core_diffusion.diffusers_export import export_diffusers, scheduler_options  # noqa: E402
from core_diffusion.diffusers_unet import MISSING_PACKAGE  # noqa: E402
from core_diffusion.samplers import timestep_grid  # noqa: E402

diffusers.utils.logging.set_verbosity_error()

UNET = {
    "type": "unet",
    "base_channels": 16,
    "channel_mults": [1, 2],
    "norm_groups": 8,
    "attention_resolutions": [4],
    "attention_heads": 2,
}
DIFFUSERS_UNET = {
    "type": "diffusers-unet",
    "block_out_channels": [16, 32],
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
    "norm_num_groups": 8,
    "num_classes": 3,
}


def ddpm(network, **options):
    section = {"type": "ddpm", "image_size": 8, "channels": 1, "network": network, **options}
    return build("model", section)


def blobs(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 1, 8, 8) images in [-1, 1]: a Gaussian blob at a random place."""
    grid = torch.linspace(-1, 1, 8)
    c = torch.rand(n, 2, generator=generator) * 1.2 - 0.6
    r = (grid[None, :, None] - c[:, 0, None, None]) ** 2 + (
        grid[None, None, :] - c[:, 1, None, None]
    ) ** 2
    return (torch.exp(-r / 0.1) * 2 - 1)[:, None]


def trained(model, steps: int = 120):
    """``model`` after a few Adam steps on blobs (its samples stay in a sane range)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    for _ in range(steps):
        x = blobs(32, g)
        batch = (x, torch.randint(0, 3, (32,), generator=g)) if model.num_classes else x
        loss = model.compute_loss(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


# -- the diffusers-unet network ------------------------------------------------------------------
def test_diffusers_unet_trains_and_samples_with_every_sampler():
    model = ddpm(DIFFUSERS_UNET, label_dropout=0.1, timesteps=100)
    assert type(model.network.unet).__name__ == "UNet2DModel"
    assert model.network.unet.config.num_class_embeds == 4  # 3 classes + the null class
    loss = model.compute_loss((torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])))["loss"]
    loss.backward()
    assert model.network.unet.conv_in.weight.grad is not None
    for sampler in ("ddpm", "ddim", "dpm-solver++", "dpm-solver++-sde", "heun-karras"):
        out = model.sample(3, sampler=sampler, steps=3, guidance_scale=2.0)
        assert out.shape == (3, 1, 8, 8) and torch.isfinite(out).all(), sampler


def test_y_none_leaves_the_class_embedding_out():
    net = ddpm(DIFFUSERS_UNET).network.eval()
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3, 500])
    unet = net.unet
    with torch.no_grad():
        emb = unet.time_embedding(unet.time_proj(t))
        inputs = []  # what the first residual block sees as its time embedding
        hook = (
            unet.down_blocks[0]
            .resnets[0]
            .register_forward_pre_hook(
                lambda m, a, k: inputs.append(a[1] if len(a) > 1 else k["temb"]), with_kwargs=True
            )
        )
        net(x, t)
        hook.remove()
    assert torch.allclose(inputs[0], emb)


def test_core_train_then_load_and_export(tmp_path, monkeypatch, capsys, digits_ddpm_config):
    monkeypatch.chdir(tmp_path)
    network = {**DIFFUSERS_UNET, "num_classes": 10}
    config = digits_ddpm_config(network, label_dropout=0.1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "c.yaml", "--quiet"]) == 0
    model = load_model("runs/c")
    assert model.network.config.num_classes == 10 and model.null_class == 10
    assert main(["sample", "runs/c", "-n", "4", "--class", "7", "--guidance", "2"]) == 0
    assert main(["export", "runs/c", "--format", "diffusers", "-o", "pipe"]) == 0
    assert "DDPMPipeline" in capsys.readouterr().out
    unet = diffusers.UNet2DModel.from_pretrained(tmp_path / "pipe/unet", local_files_only=True)
    x, t, y = torch.randn(2, 1, 8, 8), torch.tensor([1, 40]), torch.tensor([7, 10])
    with torch.no_grad():
        assert torch.equal(unet(x, t, class_labels=y).sample, model.network(x, t, y=y))


# -- pretrained folders ----------------------------------------------------------------------------
@pytest.fixture
def saved_unet(tmp_path):
    """A UNet2DModel folder written by diffusers' own save_pretrained."""
    torch.manual_seed(3)
    unet = diffusers.UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        layers_per_block=1,
    )
    unet.save_pretrained(tmp_path / "hub-unet")
    return tmp_path / "hub-unet", unet


def test_pretrained_folder_becomes_the_network_and_fine_tunes(
    saved_unet, tmp_path, monkeypatch, digits_ddpm_config
):
    folder, unet = saved_unet
    model = ddpm({"type": "diffusers-unet", "pretrained": str(folder)}, timesteps=50)
    for key, value in unet.state_dict().items():
        assert torch.equal(model.network.unet.state_dict()[key], value), key
    assert model.network.config.layers_per_block == 1  # the folder's architecture
    monkeypatch.chdir(tmp_path)
    network = {"type": "diffusers-unet", "pretrained": str(folder)}
    config = digits_ddpm_config(network, {"steps": 3, "batch_size": 8, "lr": 1e-3})
    (tmp_path / "ft.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "ft.yaml", "--quiet"]) == 0
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()  # the run's final/ loads without the folder it started from
    tuned = load_model("runs/ft/final")
    assert tuned.network.config.pretrained is None
    before = unet.state_dict()["conv_in.weight"]
    assert not torch.equal(tuned.network.unet.state_dict()["conv_in.weight"], before)


def test_pretrained_refusals_are_one_line(saved_unet, tmp_path):
    folder, _ = saved_unet
    cases = {
        "image_size": ({"pretrained": str(folder)}, {"image_size": 16}),
        "num_class_embeds": ({"pretrained": str(folder), "num_classes": 3}, {}),
        "is not a folder": ({"pretrained": str(tmp_path / "nowhere")}, {}),
        "holds no config.json": ({"pretrained": str(tmp_path)}, {}),
    }
    for needle, (network, options) in cases.items():
        with pytest.raises(ConfigError) as info:
            build(
                "model",
                {
                    "type": "ddpm",
                    "channels": 1,
                    "image_size": 8,
                    **options,
                    "network": {"type": "diffusers-unet", **network},
                },
            )
        message = str(info.value)
        assert needle in message and "\n" not in message, message


def test_missing_diffusers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers raises ImportError
    with pytest.raises(ConfigError) as info:
        ddpm(DIFFUSERS_UNET)
    assert MISSING_PACKAGE in str(info.value)
    assert "core-diffusion[diffusers]" in MISSING_PACKAGE


def test_diffusers_unet_passes_the_conformance_kit():
    small = {"in_channels": 1, "image_size": 8, "block_out_channels": [8, 16], "norm_num_groups": 4}
    check_component("model", "diffusers-unet", small)
    check_component("model", "diffusers-unet", {**small, "num_classes": 2, "null_class": True})


def test_leading_spacing_is_diffusers_default_grid():
    assert timestep_grid(1000, 20, "leading") == list(range(950, -1, -50))
    ddim = diffusers.DDIMScheduler(num_train_timesteps=1000)
    ddim.set_timesteps(7)
    assert timestep_grid(1000, 7, "leading") == ddim.timesteps.tolist()


def test_diffusers_exporter_keeps_the_exporter_contract():
    report = check_component("exporter", "diffusers")
    assert "contract" in report.checks


# -- export ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("schedule", "name"),
    [
        ({"type": "linear", "beta_end": 0.03}, "linear"),
        ({"type": "quadratic"}, "scaled_linear"),
        ({"type": "cosine"}, "squaredcos_cap_v2"),
        ({"type": "sigmoid"}, "sigmoid"),
    ],
)
def test_schedules_map_to_diffusers_with_the_same_betas(schedule, name):
    model = ddpm({**UNET, "base_channels": 8}, noise_schedule=schedule, prediction="v")
    options = scheduler_options(model)
    assert options["beta_schedule"] == name and options["prediction_type"] == "v_prediction"
    theirs = diffusers.DDPMScheduler(**options).betas.double()
    assert (theirs - model.schedule.betas.double()).abs().max() <= 1e-6


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"noise_schedule": {"type": "cosine", "s": 0.01}}, "noise_schedule.s is 0.01"),
        (
            {"noise_schedule": {"type": "sigmoid", "sigmoid_range": 3}},
            "noise_schedule.sigmoid_range",
        ),
        ({"network": {"type": "ddpm-unet", "base_channels": 8}}, "network 'ddpm-unet'"),
        ({"network": {**UNET, "num_classes": 3}}, "unet.num_classes is 3"),
        ({"network": {**UNET, "channel_mults": [2, 2]}}, "unet.channel_mults starts at 2"),
        ({"network": {**UNET, "norm_groups": 6}}, "unet.norm_groups (6)"),
        ({"network": {**UNET, "attention_resolutions": [8, 4]}}, "one attention_head_dim"),
        ({"network": {**UNET, "cond_channels": 1}}, "unet.cond_channels is 1"),
    ],
)
def test_what_has_no_equivalent_is_refused_in_one_line(tmp_path, options, needle):
    section = {"network": UNET, **options}
    model = ddpm(section.pop("network"), **section)
    with pytest.raises(ExportError) as info:
        export_diffusers(model, tmp_path / "pipe")
    assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)
    assert not (tmp_path / "pipe").exists()  # nothing half-written


def test_core_export_refuses_with_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    model = ddpm({"type": "ddpm-unet", "base_channels": 8}, timesteps=10)
    model.save_pretrained(tmp_path / "m")
    assert (
        main(["export", str(tmp_path / "m"), "--format", "diffusers", "-o", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "ddpm-unet" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A trained unconditional unet ddpm (cosine schedule), exported, and its pipeline."""
    model = trained(ddpm(UNET, noise_schedule="cosine"))
    folder = tmp_path_factory.mktemp("export") / "pipe"
    export_diffusers(model, folder)
    pipeline = diffusers.DDPMPipeline.from_pretrained(folder, local_files_only=True)
    return model, folder, pipeline


def test_export_writes_a_pipeline_folder_diffusers_loads_offline(exported):
    model, folder, pipeline = exported
    assert sorted(p.name for p in folder.iterdir()) == ["model_index.json", "scheduler", "unet"]
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "DDPMPipeline" and index["unet"] == ["diffusers", "UNet2DModel"]
    assert (folder / "unet/diffusion_pytorch_model.safetensors").is_file()
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 400, 999])
    with torch.no_grad():
        diff = (pipeline.unet(x, t).sample - model.network(x, t)).abs().max()
    assert diff <= 1e-5
    images = pipeline(batch_size=2, num_inference_steps=3, output_type="np").images
    assert images.shape == (2, 8, 8, 1)


def _diffusers_loop(unet, scheduler, x, class_labels=None, **step):
    with torch.no_grad():
        for t in scheduler.timesteps:
            out = unet(x, t, class_labels=class_labels).sample
            x = scheduler.step(out, t, x, **step).prev_sample
    return x


def _core_unclamped(model, sampler, x_T, **options):
    """core's sampler on the model's network, without sample()'s final clamp to [-1, 1]."""
    instance = model.get_sampler(sampler)
    return instance(model.network, tuple(x_T.shape), model.schedule, x_T=x_T, **options)


@pytest.mark.parametrize("clip", [False, True])
def test_ddim_and_dpm_solver_match_diffusers_at_20_steps(exported, clip):
    """The same exported model and initial noise: DDIM on diffusers' default (leading) grid,
    DPM-Solver++(2M) on core's default log-SNR grid given to diffusers as its timesteps."""
    model, _, pipeline = exported
    x_T = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    clip_x0 = 1.0 if clip else None
    config = pipeline.scheduler.config
    ddim = diffusers.DDIMScheduler.from_config(config, clip_sample=clip)
    ddim.set_timesteps(20)
    ours = _core_unclamped(model, "ddim", x_T, steps=20, spacing="leading", clip_x0=clip_x0)
    theirs = _diffusers_loop(pipeline.unet, ddim, x_T, use_clipped_model_output=True)
    assert (ours - theirs).abs().max() <= 1e-4

    dpm = diffusers.DPMSolverMultistepScheduler.from_config(
        config,
        thresholding=clip,
        sample_max_value=1.0,  # thresholding at 1 is clipping
    )
    grid = timestep_grid(1000, 20, "logsnr", [float(a) for a in model.schedule.alpha_bars_f64])
    dpm.set_timesteps(timesteps=grid)
    ours = _core_unclamped(model, "dpm-solver++", x_T, steps=20, clip_x0=clip_x0)
    theirs = _diffusers_loop(pipeline.unet, dpm, x_T)
    assert (ours - theirs).abs().max() <= 1e-4
    assert ours.abs().max() > 0.5  # samples, not a vanishing signal


def test_class_conditional_diffusers_unet_matches_diffusers(tmp_path):
    model = trained(ddpm(DIFFUSERS_UNET, label_dropout=0.1, clip_denoised=False), steps=80)
    export_diffusers(model, tmp_path / "pipe")
    pipeline = diffusers.DDPMPipeline.from_pretrained(tmp_path / "pipe", local_files_only=True)
    x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 2, 3])  # 3 is the null class: the unconditional prediction
    ddim = diffusers.DDIMScheduler.from_config(pipeline.scheduler.config)
    ddim.set_timesteps(20)
    ours = model.sample(3, sampler="ddim", steps=20, spacing="leading", x_T=x_T, y=y)
    theirs = _diffusers_loop(pipeline.unet, ddim, x_T, class_labels=y)
    assert (ours - theirs.clamp(-1, 1)).abs().max() <= 1e-4


def test_the_example_is_the_demo_network_size():
    example = Path(__file__).resolve().parents[3] / "examples/diffusers-unet.yaml"
    model = build("model", Config(example).to_dict()["model"])
    assert model.count_parameters() == 268_017 and model.null_class == 10


def test_core_export_without_diffusers_is_one_line_before_loading(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "diffusers", None)
    out = tmp_path / "o"
    assert main(["export", str(tmp_path / "no-run"), "--format", "diffusers", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(MISSING_PACKAGE) and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_listing_imports_neither_torch_nor_diffusers():
    code = (
        "import sys; from core.cli import main; main(['components', 'list', 'model']); "
        "main(['info', 'diffusers-unet']); main(['components', 'list', 'exporter']); "
        "bad = {'torch', 'diffusers'} & set(sys.modules); assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "diffusers-unet" in result.stdout and "diffusers" in result.stdout

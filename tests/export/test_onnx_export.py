"""``core export --format onnx``: real files from torch.onnx, run in real onnxruntime."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra (pip install 'core[onnx]') is absent")
pytest.importorskip("onnxscript", reason="the onnx extra (pip install 'core[onnx]') is absent")

import torch  # noqa: E402

from core.building import build  # noqa: E402
from core.cli import main  # noqa: E402
from core.exporters.onnx import ONNXExporter, random_inputs, run_onnx  # noqa: E402

UNET = {"type": "unet", "base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1}
MODELS = {
    "vae": ({"type": "vae", "latent_dim": 4, "image_size": 8, "channels": 1}, "decoder"),
    "beta-vae": ({"type": "beta-vae", "latent_dim": 4, "image_size": 8, "channels": 1}, "decoder"),
    "dcgan": (
        {"type": "dcgan", "latent_dim": 8, "image_size": 16, "channels": 1, "ngf": 8, "ndf": 8},
        "generator",
    ),
    "ddpm-unet-guided": (
        {
            "type": "ddpm",
            "timesteps": 50,
            "image_size": 8,
            "channels": 1,
            "label_dropout": 0.1,
            "network": {**UNET, "attention_resolutions": [4], "norm_groups": 4, "num_classes": 10},
        },
        "denoiser",
    ),
    "ddpm-mlp-denoiser": (
        {"type": "ddpm", "timesteps": 50, "data_dim": 2, "network": {"type": "mlp-denoiser"}},
        "denoiser",
    ),
}


def _export(cli_args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(cli_args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", list(MODELS))
def test_core_export_writes_files_onnxruntime_matches(name, tmp_path, capsys):
    section, network = MODELS[name]
    torch.manual_seed(0)
    build("model", section).save_pretrained(tmp_path / "final")
    out = tmp_path / "onnx"
    code, stdout, stderr = _export(
        ["export", str(tmp_path / "final"), "--format", "onnx", "-o", str(out)], capsys
    )
    assert code == 0, stderr
    assert f"{network}.onnx" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["networks"][network]
    assert manifest["model"] == section["type"] and manifest["check"]["tolerance"] == 1e-4
    assert entry["exporter"] == "torch.onnx.export(dynamo=True)"
    assert entry["max_abs_diff"] <= 1e-4
    assert entry["inputs"][0]["shape"][0] == "batch"
    # independently of the command's own check: the file against the loaded model
    model = build("model", section)
    model.load_weights(tmp_path / "final" / f"{section['type']}.safetensors")
    exported = model.eval().export_networks()[network]
    inputs = random_inputs(exported, seed=7)
    with torch.no_grad():
        expected = exported.module(*inputs)
    (got,) = run_onnx(out / entry["file"], dict(zip(exported.input_names, inputs)))
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= 1e-4


def test_ddpm_inputs_and_ranges_in_the_manifest(tmp_path):
    section, _ = MODELS["ddpm-unet-guided"]
    model = build("model", section).eval()
    ONNXExporter().export(model, tmp_path, source="test")
    inputs = json.loads((tmp_path / "manifest.json").read_text())["networks"]["denoiser"]["inputs"]
    assert [i["name"] for i in inputs] == ["x", "t", "y"]
    assert [i["range"] for i in inputs] == [None, [0, 49], [0, 10]]  # 10: the null class
    assert [i["dtype"] for i in inputs] == ["float32", "int64", "int64"]


def test_difflut_predictions_identical_on_the_digits_test_split(tmp_path):
    pytest.importorskip("core_difflut", reason="core-difflut is not installed")
    model = build(
        "model",
        {
            "type": "feedforward",
            "node_type": "dwn",
            "node_input_dim": 6,
            "layer_type": "learnable",
            "mapping_candidates": 16,
            "layer_widths": [200],
            "input_size": 64,
            "num_classes": 10,
            "encoder_config": {"name": "thermometer", "num_bits": 4},
        },
    )
    train = build("dataset", {"type": "digits", "image_size": 8, "split": "train"})
    test = build("dataset", {"type": "digits", "image_size": 8, "split": "test"})
    model.fit_encoder(train.images.reshape(len(train.images), -1))
    model.eval()
    summary = ONNXExporter().export(model, tmp_path, source="test")
    assert "classifier.onnx" in summary
    x = test.images.reshape(len(test.images), -1).float()
    scores, prediction = run_onnx(tmp_path / "classifier.onnx", {"features": x})
    assert torch.equal(prediction, model.predict(x))
    assert torch.allclose(scores, model(x), atol=1e-5)


def test_a_model_without_export_networks_is_refused_writing_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, stderr = _export(
        ["export", "digit-classifier", "--format", "onnx", "-o", str(out)], capsys
    )
    assert code == 2
    assert stderr.count("\n") == 1
    assert "no ONNX export for model 'digit-classifier'" in stderr
    assert "export_networks()" in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_refused_without_overwrite(tmp_path, capsys):
    section, _ = MODELS["vae"]
    build("model", section).save_pretrained(tmp_path / "final")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["export", str(tmp_path / "final"), "--format", "onnx", "-o", str(out)]
    code, _, stderr = _export(args, capsys)
    assert code == 2 and "exists and is not empty; give --overwrite" in stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    code, _, stderr = _export([*args, "--overwrite"], capsys)
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["decoder.onnx", "manifest.json"]


def test_a_failed_check_writes_nothing(tmp_path, capsys):
    section, _ = MODELS["dcgan"]
    build("model", section).save_pretrained(tmp_path / "final")
    out = tmp_path / "out"
    code, _, stderr = _export(
        [
            "export",
            str(tmp_path / "final"),
            "--format",
            "onnx",
            "-o",
            str(out),
            "--option",
            "tolerance=1e-30",
        ],
        capsys,
    )
    assert code == 2 and stderr.count("\n") == 1
    assert "onnxruntime differs from PyTorch" in stderr and "nothing was written" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"]


def test_a_bad_option_is_one_line(tmp_path, capsys):
    code, _, stderr = _export(
        ["export", "x", "--format", "onnx", "-o", str(tmp_path / "o"), "--option", "nope=1"],
        capsys,
    )
    assert code == 2 and stderr.count("\n") == 1 and "nope" in stderr


def test_an_option_that_is_not_key_value_names_the_option(tmp_path, capsys):
    code, _, stderr = _export(
        ["export", "x", "--format", "onnx", "-o", str(tmp_path / "o"), "--option", "check"],
        capsys,
    )
    assert code == 2 and stderr.count("\n") == 1
    assert "--option 'check' must look like KEY=VALUE" in stderr

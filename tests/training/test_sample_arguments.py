"""``core sample``/``core evaluate`` arguments, checked in one place (``core.sampling``) that the
commands and ``draw_samples`` share: classes, guidance, sampler options and the device."""

from __future__ import annotations

import math
import re

import pytest
import torch
import yaml

from core.cli import main
from core.errors import ConfigError
from core.sampling import check_sampler_options, draw_samples


class Labelled(torch.nn.Module):
    """A model with 10 classes (and a null class 10) whose samples are its labels."""

    num_classes = 10
    model_type = "labelled"

    def sample(self, n, y=None, guidance_scale=None):
        return (y if y is not None else torch.zeros(n)).float().view(n, 1)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (10, "class 10 (its null class, the unconditional prediction) is not a class of labelled"),
        (11, "class 11 is not a class of labelled: it has classes 0 to 9"),
        (-1, "class -1 is not a class of labelled"),
    ],
)
def test_draw_samples_refuses_a_label_outside_the_models_classes(label, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        draw_samples(Labelled(), 4, y=torch.full((4,), label))


def test_draw_samples_takes_the_models_own_classes():
    out = draw_samples(Labelled(), 4, y=torch.tensor([0, 3, 9, 9]))
    assert out.view(-1).tolist() == [0, 3, 9, 9]


def test_labels_for_a_model_that_is_not_conditional_are_refused():
    model = Labelled()
    model.num_classes = 0
    with pytest.raises(ConfigError, match="^class labels given, but labelled is not class-cond"):
        draw_samples(model, 2, y=torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize("scale", [math.nan, math.inf, -math.inf, -1.0, True, "2"])
def test_draw_samples_refuses_a_guidance_scale_that_is_not_finite(scale):
    with pytest.raises(ConfigError, match="^guidance scale must be a finite number >= 0"):
        draw_samples(Labelled(), 2, guidance_scale=scale)


def test_draw_samples_refuses_a_generator_of_its_own():
    with pytest.raises(ConfigError, match="give seed=, not generator="):
        draw_samples(Labelled(), 2, generator=torch.Generator())


@pytest.mark.parametrize(
    "key", ["steps", "seed", "sampler", "n", "y", "generator", "model", "batch_size"]
)
def test_a_sampler_option_the_command_sets_itself_is_refused(key):
    with pytest.raises(ConfigError, match=f"^--sampler-option {key}: '{key}' is set by the com"):
        check_sampler_options({"eta": 0.5, key: 1})
    assert check_sampler_options({"eta": 0.5}) == {"eta": 0.5}


# -- through the commands ----------------------------------------------------------------------


def _refused(capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--class", "10"], "class 10 (its null class"),
        (["--class", "11"], "class 11 is not a class of ddpm: it has classes 0 to 9"),
        (["--guidance", "nan"], "guidance scale must be a finite number >= 0, got nan"),
        (["--guidance", "inf"], "guidance scale must be a finite number >= 0, got inf"),
        (["--sampler-option", "steps=3"], "'steps' is set by the command itself"),
        (["--sampler-option", "y=3"], "use --class"),
        (["--sampler-option", "generator=1"], "--sampler-option generator"),
        (["--device", "nonsense"], "--device: 'nonsense' is not a device"),
        (["--device", "meta"], "--device: 'meta' is not a device"),
    ],
)
def test_core_sample_refuses_bad_arguments_in_one_line(guided_run, tmp_path, capsys, args, message):
    out = tmp_path / "grid.png"
    line = _refused(capsys, "sample", str(guided_run), "-n", "4", "-o", str(out), *args)
    assert message in line
    assert not out.exists()


def test_core_sample_refuses_a_cuda_device_there_is_not(guided_run, tmp_path, capsys):
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    line = _refused(capsys, "sample", str(guided_run), "--device", "cuda:99", "-o", "x.png")
    assert "--device: 'cuda:99' requested but" in line
    assert ("CUDA is not available" in line) == (count == 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--guidance", "nan"], "guidance scale must be a finite number >= 0, got nan"),
        (
            ["--sampler-option", "seed=1"],
            "'seed' is set by the command itself, not a sampler option; use --seed",
        ),
        (["--device", "cuda:x"], "--device: 'cuda:x' is not a device"),
    ],
)
def test_core_evaluate_refuses_bad_arguments_and_writes_no_record(
    guided_run, capsys, args, message
):
    before = sorted(p.name for p in guided_run.iterdir())
    card = (guided_run / "final" / "README.md").read_bytes()
    assert message in _refused(capsys, "evaluate", str(guided_run), "-n", "20", *args)
    assert sorted(p.name for p in guided_run.iterdir()) == before  # no eval_*.json
    assert (guided_run / "final" / "README.md").read_bytes() == card


def test_good_arguments_still_draw(guided_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    args = ["sample", str(guided_run), "-n", "4", "--class", "9", "--guidance", "2"]
    assert (
        main(
            [
                *args,
                "--device",
                "cpu",
                "--sampler",
                "ddim",
                "--sampler-option",
                "eta=0.5",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert out.is_file()
    assert yaml.safe_load((guided_run / "config.yaml").read_text())["model"]["type"] == "ddpm"

"""Pretrained names, versions and files cannot lead out of the store root."""

from __future__ import annotations

import shutil

import pytest

from core.base_model import BaseModel
from core.building import build_model
from core.errors import CoreError, PretrainedError, WeightsError
from core.pretrained import (
    list_pretrained,
    pretrained_files,
    resolve_pretrained,
    save_to_pretrained,
)


def _tiny():
    return build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})


@pytest.fixture
def outside(tmp_path):
    """A complete pretrained directory outside the store, as an attacker would plant it."""
    directory = tmp_path / "outside"
    _tiny().save_pretrained(directory / "v1", name="evil")
    return directory


@pytest.mark.parametrize(
    "reference",
    [
        "../tiny",
        "tiny/../../etc",
        "mlp-denoiser/../../etc/v1",
        "..",
        ".",
        "",
        "/etc/passwd",
        "/tmp",
        "~/x",
        "~",
        "a/b/c/d",
        "tiny\x00",
        "C:\\\\x",
        "mlp-denoiser/..",
        "./tiny",
        "%2e%2e/tiny",
        "tiny/v0",
        "tiny/v-1",
    ],
)
def test_escaping_references_are_refused(store, reference):
    save_to_pretrained(_tiny(), "tiny")
    with pytest.raises(PretrainedError) as info:
        resolve_pretrained(reference)
    assert str(info.value)


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a/b", "..", ".hidden", "x" * 200, "", "a\\b"])
def test_saving_under_an_escaping_name_is_refused(store, tmp_path, name):
    with pytest.raises(PretrainedError, match="invalid pretrained name"):
        save_to_pretrained(_tiny(), name)
    assert not any(tmp_path.glob("x")) and not (store.parent / "x").exists()


def test_symlinked_name_directory_is_refused(store, outside):
    (store / "mlp-denoiser").mkdir()
    (store / "mlp-denoiser" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PretrainedError, match="resolves outside the pretrained store"):
        resolve_pretrained("link")
    with pytest.raises(PretrainedError, match="outside"):
        BaseModel.from_pretrained("link")


def test_symlinked_version_is_refused_not_silently_skipped(store, outside):
    save_to_pretrained(_tiny(), "tiny")
    (store / "mlp-denoiser" / "tiny" / "v2").symlink_to(outside / "v1", target_is_directory=True)
    with pytest.raises(PretrainedError, match="v2 resolves outside"):
        resolve_pretrained("tiny")  # the latest version is the planted one
    assert resolve_pretrained("tiny/v1").version == 1


def test_listing_never_reads_files_outside_the_store(store, outside):
    save_to_pretrained(_tiny(), "tiny")
    (store / "mlp-denoiser" / "tiny" / "v2").symlink_to(outside / "v1", target_is_directory=True)
    (outside / "v1" / "evil.yaml").write_text("model: {type: mlp-denoiser}\nmeta: {secret: 42}\n")
    listed = {info.reference: info for info in list_pretrained()}
    assert listed["mlp-denoiser/tiny/v2"].meta == {}
    assert "outside" in listed["mlp-denoiser/tiny/v2"].description
    assert listed["mlp-denoiser/tiny/v1"].meta.get("parameters")


def test_weights_file_linking_out_of_its_directory_is_refused(store, outside, tmp_path):
    info = save_to_pretrained(_tiny(), "tiny")
    weights = info.path / "tiny.safetensors"
    weights.unlink()
    weights.symlink_to(outside / "v1" / "evil.safetensors")
    with pytest.raises(WeightsError, match="resolves outside"):
        pretrained_files(info.path)
    with pytest.raises(CoreError, match="resolves outside"):
        build_model("tiny")
    # the same rule holds for a run's final/ directory
    run = tmp_path / "run"
    shutil.copytree(info.path, run / "final", symlinks=True)
    with pytest.raises(WeightsError, match="resolves outside"):
        build_model(str(run / "final"))


def test_cli_reports_escapes_on_one_line(store, capsys):
    from core.cli import main

    assert main(["sample", "../../etc/passwd", "-o", "x.png"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")

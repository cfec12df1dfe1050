"""``core sample --out-dir``: shards with a manifest, resumed and split across ranks without a
missing or repeated index; ``core evaluate --samples`` scores such a folder shard by shard."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core import _staging
from core.cli import main
from core.testing.refusals import expect_cli_refused


def _sample(guided_run, out, *args: str) -> int:
    return main(
        ["sample", str(guided_run), "-n", "10", "--shard-size", "4", "--out-dir", str(out), *args]
    )


def _indices(out: Path) -> list[int]:
    return [int(i) for f in sorted(out.glob("*.npz")) for i in np.load(f)["indices"]]


def test_out_dir_writes_shards_with_a_manifest_and_a_rerun_finishes_it(
    guided_run, tmp_path, capsys
):
    out = tmp_path / "samples"
    assert _sample(guided_run, out) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "manifest.json",
        "samples_00000000.npz",
        "samples_00000004.npz",
        "samples_00000008.npz",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n"] == 10 and manifest["labels"] == "cycle"  # conditional: i % 10
    assert manifest["source"] == str(guided_run.resolve())
    last = np.load(out / "samples_00000008.npz")
    assert last["samples"].shape == (2, 1, 8, 8) and last["labels"].tolist() == [8, 9]
    first = (out / "samples_00000004.npz").read_bytes()
    # a killed draw: one shard missing, a stale temporary copy of it left behind
    (out / "samples_00000004.npz").unlink()
    writer = subprocess.Popen(["true"])  # a writer that is gone
    writer.wait()
    stale = f".samples_00000004.npz.tmp-{_staging._host()}-{writer.pid}-{'a' * 32}.tmp"
    (out / stale).write_bytes(b"half")
    capsys.readouterr()
    assert _sample(guided_run, out) == 0
    assert "wrote 1 shards" in capsys.readouterr().out
    assert _indices(out) == list(range(10))
    assert (out / "samples_00000004.npz").read_bytes() == first  # same seed, same samples
    assert not list(out.glob(".*tmp"))


def test_ranks_draw_their_share_and_together_the_same_samples(guided_run, tmp_path, monkeypatch):
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert _sample(guided_run, whole) == 0
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert _sample(guided_run, split) == 0
    assert _indices(split) == [4, 5, 6, 7]  # shard 1 of 3
    monkeypatch.setenv("RANK", "0")
    assert _sample(guided_run, split) == 0
    assert _indices(split) == list(range(10))
    for shard in whole.glob("*.npz"):
        assert (split / shard.name).read_bytes() == shard.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "1"], "drawn with seed 0 (now 1)"),
        (["--class", "3"], "class None (now 3)"),
        (["--shard-size", "5"], "shard_size 4 (now 5)"),
    ],
)
def test_a_rerun_with_other_settings_is_refused(guided_run, tmp_path, capsys, args, message):
    out = tmp_path / "samples"
    assert _sample(guided_run, out) == 0
    line = expect_cli_refused(
        "sample", str(guided_run), "-n", "10", "--shard-size", "4", *args, "--out-dir", str(out)
    )
    assert message in line and "give another --out-dir" in line


def test_out_dir_refusals(guided_run, tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    line = expect_cli_refused("sample", str(guided_run), "--out-dir", str(tmp_path / "busy"))
    assert "holds files but no manifest.json" in line
    line = expect_cli_refused(
        "sample", str(guided_run), "-o", "x.png", "--out-dir", str(tmp_path / "d")
    )
    assert "not both" in line
    # -n above the grid's cap passes with --out-dir (refused here by the folder's manifest)
    assert _sample(guided_run, tmp_path / "ten") == 0
    line = expect_cli_refused(
        "sample", str(guided_run), "-n", "5000", "--out-dir", str(tmp_path / "ten")
    )
    assert "drawn with n 10 (now 5000)" in line


def test_evaluate_scores_a_sample_folder(guided_run, tmp_path, capsys):
    out = tmp_path / "samples"
    assert _sample(guided_run, out) == 0
    capsys.readouterr()
    for metric in ("feature-fid", "accuracy", "kid"):
        args = [
            "evaluate",
            str(guided_run),
            "--samples",
            str(out),
            "-m",
            metric,
            "--json",
            "--no-write",
        ]
        assert main(args) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["n"] == 10 and result["samples"] == str(out) and result["seed"] == 0
        assert np.isfinite(result["value"])


def test_evaluate_refuses_a_folder_it_cannot_score(guided_run, tmp_path, capsys):
    out = tmp_path / "samples"
    assert _sample(guided_run, out) == 0
    base = ["evaluate", str(guided_run), "--samples", str(out), "--no-write"]
    assert "drop --seed" in expect_cli_refused(*base, "--seed", "2")
    assert "sets steps; drop" in expect_cli_refused(*base, "--steps", "2")
    assert "holds 10 samples; -n 5 differs" in expect_cli_refused(*base, "-n", "5")
    assert "with --raw" in expect_cli_refused(*base, "--raw")
    (out / "samples_00000004.npz").unlink()
    line = expect_cli_refused(*base)
    assert "1 of 3 shards missing (first: samples_00000004.npz, indices 4 to 7)" in line

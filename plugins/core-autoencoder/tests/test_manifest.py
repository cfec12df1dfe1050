"""The manifest dataset: columns, filters, missing values, split, weighting, errors."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

import core
from core.errors import ConfigError, DataError


@pytest.fixture
def manifest(tmp_path):
    rows = []
    for i in range(12):
        img = (np.arange(64).reshape(8, 8) * 4 + i).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / f"img{i}.png")
        Image.fromarray((img > 128).astype(np.uint8)).save(tmp_path / f"mask{i}.png")
        torch.save(torch.full((2, 2), float(i)), tmp_path / f"lat{i}.pt")
        rows.append(
            {
                "path": f"img{i}.png",
                "mask": f"mask{i}.png",
                "latent": f"lat{i}.pt",
                "label": i % 3 if i < 9 else 0,
                "age": i * 10,
                "site": "a" if i % 2 else "b",
                "score": "" if i == 5 else str(i / 2),
            }
        )
    path = tmp_path / "data.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _build(path, **config):
    return core.build("dataset", {"type": "manifest", "path": str(path), **config})


def test_columns_map_to_outputs(manifest) -> None:
    ds = _build(
        manifest,
        columns={
            "image": "path",
            "mask": {"column": "mask", "kind": "mask"},
            "latent": "latent",
            "label": "label",
        },
        image_size=4,
    )
    item = ds[2]
    assert (
        item["image"].shape == (1, 4, 4) and -1 <= item["image"].min() <= item["image"].max() <= 1
    )
    assert item["mask"].dtype == torch.int64 and item["mask"].shape == (4, 4)
    assert torch.equal(item["latent"], torch.full((2, 2), 2.0))
    assert item["label"] == 2
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["image"].shape == (3, 1, 4, 4)


def test_pair_output_and_rgb_conversion(manifest) -> None:
    ds = _build(
        manifest,
        columns={"image": "path", "label": "label"},
        output="pair",
        image_channels=3,
        image_range="0,1",
    )
    x, y = ds[1]
    assert x.shape == (3, 8, 8) and x.min() >= 0 and x.max() <= 1 and y == 1


def test_filters(manifest) -> None:
    cols = {"label": "label"}
    assert len(_build(manifest, columns=cols, filters={"site": "a"})) == 6
    assert len(_build(manifest, columns=cols, filters={"age__lt": 30})) == 3
    assert len(_build(manifest, columns=cols, filters={"age__ge": 30, "age__le": 50})) == 3
    assert len(_build(manifest, columns=cols, filters={"label": [1, 2]})) == 6
    assert len(_build(manifest, columns=cols, filters={"label__ne": 0})) == 6
    assert len(_build(manifest, columns=cols, filters={"age__gt": 60, "site": "b"})) == 2
    with pytest.raises(ConfigError, match="unknown operator '__like'"):
        _build(manifest, columns=cols, filters={"site__like": "a"})


def test_missing_values_error_or_are_dropped(manifest) -> None:
    with pytest.raises(DataError, match=r"row 7 column 'score': empty value.*drop_missing"):
        _build(manifest, columns={"score": "score"})
    ds = _build(manifest, columns={"score": "score"}, drop_missing=True)
    assert len(ds) == 11 and float(ds[5]["score"]) == 3.0


def test_fixed_split_is_disjoint_and_reproducible(manifest) -> None:
    cols = {"age": "age"}
    train = _build(manifest, columns=cols, split="train", val_fraction=0.25, seed=3)
    val = _build(manifest, columns=cols, split="val", val_fraction=0.25, seed=3)
    again = _build(manifest, columns=cols, split="val", val_fraction=0.25, seed=3)
    ages = lambda d: {int(d[i]["age"]) for i in range(len(d))}  # noqa: E731
    assert len(val) == 3 and len(train) == 9
    assert not ages(train) & ages(val) and ages(val) == ages(again)
    by_column = _build(manifest, columns=cols, split="val", split_column="site")
    assert len(by_column) == 0  # no row says "val"


def test_weighted_sampling_balances_classes(manifest) -> None:
    ds = _build(manifest, columns={"label": "label"}, weighted_by="label")
    weights = ds.sample_weights()
    labels = ds.column_values("label")
    assert Counter(labels) == {"0": 6, "1": 3, "2": 3}
    per_class = {v: float(sum(w for w, lab in zip(weights, labels) if lab == v)) for v in "012"}
    assert per_class["0"] == pytest.approx(per_class["1"]) == pytest.approx(per_class["2"])
    drawn = Counter(labels[i] for i in ds.sampler(3000, torch.Generator().manual_seed(0)))
    assert all(900 < drawn[v] < 1100 for v in "012")
    with pytest.raises(ConfigError, match="weighted_by 'site' is not an output"):
        _build(manifest, columns={"label": "label"}, weighted_by="site")


def test_missing_files_and_bad_columns_name_row_and_column(manifest, tmp_path) -> None:
    (tmp_path / "img4.png").unlink()
    with pytest.raises(DataError, match=r"row 6 column 'path': file not found: .*img4.png"):
        _build(manifest, columns={"image": "path"})
    with pytest.raises(
        ConfigError, match=r"column\(s\) pth not in the manifest \(columns: path, mask"
    ):
        _build(manifest, columns={"image": "pth"})
    with pytest.raises(DataError, match="manifest not found"):
        _build(tmp_path / "none.csv", columns={"image": "path"})
    (tmp_path / "bad.png").write_text("not an image")
    bad = tmp_path / "bad.csv"
    bad.write_text("path\nbad.png\n")
    with pytest.raises(DataError, match=r"row 2 column 'path': cannot read"):
        _build(bad, columns={"image": "path"})[0]


def test_derived_targets_wrap_a_dataset() -> None:
    from core_autoencoder.derived import DerivedTargets

    img = -torch.ones(1, 8, 8)
    img[:, 2:6, 2:6] = 1.0
    base = torch.utils.data.TensorDataset(img[None], torch.tensor([7]))
    ds = DerivedTargets.wrap(base, targets=["mask", "edges", "lowres"], lowres_factor=2)
    item = ds[0]
    assert item["label"] == 7
    assert item["mask"].sum() == 16 and item["mask"].dtype == torch.int64
    assert (
        item["edges"].shape == (1, 8, 8)
        and item["edges"][0, 4, 4] == 0
        and item["edges"][0, 2, 4] == 1
    )
    assert item["lowres"].shape == (1, 8, 8) and torch.equal(
        item["lowres"][:, ::2, ::2], torch.nn.functional.avg_pool2d(img[None], 2)[0]
    )


def test_datasets_pass_the_conformance_kit(manifest) -> None:
    from core.testing import check_component

    report = check_component(
        "dataset", "manifest", {"path": str(manifest), "columns": {"label": "label"}}
    )
    assert "bad-config" in report.checks
    report = check_component(
        "dataset", "derived-targets", {"base": {"type": "digits", "image_size": 8, "split": "test"}}
    )
    assert report.component[0]["mask"].shape == (8, 8)

"""Hostile data files: decompression bombs, lying IDX headers, non-finite labels, paths out.

Each is one ``DataError`` naming the file (and the row and column of a manifest), raised
before anything large is allocated or decoded.
"""

from __future__ import annotations

import gzip
import math
import os
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import core
from core.data.configs import DEFAULT_MAX_PIXELS
from core.data.files import read_idx
from core.data.images import open_image
from core.errors import DataError

from .conftest import load_helper

hostile = load_helper("_hostile")
png_claiming, real_png = hostile.png_claiming, hostile.real_png
idx_bytes, write_manifest = hostile.idx_bytes, hostile.write_manifest

FIXTURE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- decompression bombs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [(30000, 30000, "900,000,000 pixels"), (12000, 12000, "12000x12000 image")],
)
def test_image_folder_refuses_a_bomb_before_decoding(tmp_path, width, height, size):
    (tmp_path / "ok.png").write_bytes(real_png(8, 8))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(width, height))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        with pytest.raises(DataError) as info:
            core.build("dataset", {"type": "image-folder", "root": str(tmp_path)})
    message = str(info.value)
    assert str(bomb) in message and size in message and "\n" not in message
    assert f"limit of {DEFAULT_MAX_PIXELS:,} pixels (max_pixels)" in message


def test_image_folder_pixel_limit_is_configurable(tmp_path):
    (tmp_path / "a.png").write_bytes(real_png(40, 30))
    config = {"type": "image-folder", "root": str(tmp_path), "image_size": 8}
    with pytest.raises(DataError, match="40x30 image"):
        core.build("dataset", {**config, "max_pixels": 1199})
    assert len(core.build("dataset", {**config, "max_pixels": 1200})) == 1


@FIXTURE_SETTINGS
@given(
    width=st.integers(1, 2**31 - 1),
    height=st.integers(1, 2**31 - 1),
    max_pixels=st.integers(1, 2**27),
)
def test_any_header_size_is_refused_exactly_above_the_limit(tmp_path, width, height, max_pixels):
    path = tmp_path / "image.png"
    path.write_bytes(png_claiming(width, height))
    try:
        with open_image(path, max_pixels) as image:
            assert image.size == (width, height)
        refused = False
    except DataError as exc:
        assert str(path) in str(exc) and "max_pixels" in str(exc)
        refused = True
    assert refused == (width * height > max_pixels)


# -- IDX headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_header_claiming_65536_to_the_4_items(tmp_path, suffix):
    path = tmp_path / f"train-images-idx3-ubyte{suffix}"
    data = idx_bytes(0x08, (65536, 65536, 65536, 65536), b"")
    path.write_bytes(gzip.compress(data) if suffix else data)
    shape = r"\(65536, 65536, 65536, 65536\)"
    with pytest.raises(DataError, match=rf"IDX header (says shape {shape}|shape {shape} is too)"):
        read_idx(path)


_IDX_ITEM_SIZES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


@FIXTURE_SETTINGS
@given(
    dtype_code=st.sampled_from(sorted(_IDX_ITEM_SIZES)),
    shape=st.lists(
        st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1)), min_size=0, max_size=5
    ).map(tuple),
    extra=st.integers(-8, 8),
    gzipped=st.booleans(),
)
def test_any_idx_header_reads_or_is_a_data_error(tmp_path, dtype_code, shape, extra, gzipped):
    wanted = math.prod(shape) * _IDX_ITEM_SIZES[dtype_code]
    length = max(0, min(wanted, 4096) + extra)
    data = idx_bytes(dtype_code, shape, bytes(range(256)) * (length // 256) + bytes(length % 256))
    path = tmp_path / ("x.idx.gz" if gzipped else "x.idx")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    try:
        array = read_idx(path)
    except DataError as exc:
        assert str(path) in str(exc)
        assert length != wanted or "too large for an array" in str(exc)
        return
    assert length == wanted and array.shape == shape


# -- manifests -------------------------------------------------------------------------------


def build_manifest(path: Path, **config):
    return core.build("dataset", {"type": "manifest", "path": str(path), **config})


@pytest.mark.parametrize("kind", ["int", "float", "auto"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "NaN", "-Infinity"])
def test_non_finite_manifest_labels(tmp_path, kind, value):
    path = write_manifest(tmp_path, [{"label": "1"}, {"label": "2"}, {"label": value}])
    column = {"column": "label", "kind": kind}
    with pytest.raises(DataError) as info:
        build_manifest(path, columns={"y": column})[2]
    assert str(info.value) == f"{path} row 4 column 'label': {value!r} is not a finite number"


@pytest.mark.parametrize("value", ["1.5", "1e30", "-9223372036854775809"])
def test_int_manifest_labels_must_be_whole_64_bit_numbers(tmp_path, value):
    path = write_manifest(tmp_path, [{"label": "1"}, {"label": value}])
    with pytest.raises(DataError, match=r"row 3 column 'label'.*not a whole number of 64 bits"):
        build_manifest(path, columns={"y": {"column": "label", "kind": "int"}})


def test_large_int_labels_keep_every_digit(tmp_path):
    path = write_manifest(tmp_path, [{"label": "9007199254740993"}, {"label": "3.0"}])
    dataset = build_manifest(path, columns={"y": {"column": "label", "kind": "int"}})
    assert [dataset[0]["y"], dataset[1]["y"]] == [9007199254740993, 3]


def _image_tree(tmp_path: Path) -> tuple[Path, Path]:
    """``data/`` holding a manifest folder, and ``outside.png`` next to it."""
    root = tmp_path / "data"
    (root / "imgs").mkdir(parents=True)
    (root / "imgs" / "a.png").write_bytes(real_png(4, 4))
    outside = tmp_path / "outside.png"
    outside.write_bytes(real_png(4, 4))
    return root, outside


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "symlinked-folder"])
def test_manifest_paths_leaving_the_folder_are_refused(tmp_path, how):
    root, outside = _image_tree(tmp_path)
    if how == "dotdot":
        cell = "../outside.png"
    elif how == "absolute":
        cell = str(outside)
    elif how == "symlink":
        (root / "link.png").symlink_to(outside)
        cell = "link.png"
    else:
        (root / "elsewhere").symlink_to(tmp_path)
        cell = "elsewhere/outside.png"
    path = write_manifest(root, [{"image": "imgs/a.png"}, {"image": cell}])
    with pytest.raises(DataError) as info:
        build_manifest(path, columns={"x": "image"})
    message = str(info.value)
    assert message.startswith(f"{path} row 3 column 'image': ")
    assert "allow_paths_outside_root: true" in message and "\n" not in message
    dataset = build_manifest(path, columns={"x": "image"}, allow_paths_outside_root=True)
    assert dataset[1]["x"].shape == (1, 4, 4)


def test_manifest_paths_inside_the_folder_still_read(tmp_path):
    root, _ = _image_tree(tmp_path)
    (root / "inner-link.png").symlink_to(root / "imgs" / "a.png")
    rows = [{"image": "imgs/a.png"}, {"image": "imgs/../imgs/a.png"}, {"image": "inner-link.png"}]
    dataset = build_manifest(write_manifest(root, rows), columns={"x": "image"})
    assert [dataset[i]["x"].shape for i in range(3)] == [(1, 4, 4)] * 3


@FIXTURE_SETTINGS
@given(parts=st.lists(st.sampled_from(["..", ".", "imgs", "sub"]), min_size=0, max_size=6))
def test_any_relative_path_is_read_only_inside_the_folder(tmp_path, parts):
    root = tmp_path / "a" / "b" / "data"
    walked = [Path(os.path.normpath(root.joinpath(*parts[:i]))) for i in range(len(parts) + 1)]
    assume(all(step.is_relative_to(tmp_path) for step in walked))  # never write above tmp_path
    for step in walked:  # every folder the path passes through exists
        step.mkdir(parents=True, exist_ok=True)
    target = walked[-1] / "x.png"
    target.write_bytes(real_png(2, 2))
    path = write_manifest(root, [{"image": "/".join([*parts, "x.png"])}])
    inside = target.is_relative_to(root)
    try:
        dataset = build_manifest(path, columns={"x": "image"})
    except DataError as exc:
        assert not inside and "leads outside" in str(exc), str(exc)
        return
    assert inside and dataset[0]["x"].shape == (1, 2, 2)


def test_manifest_refuses_a_bomb_in_an_image_or_mask_column(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_claiming(30000, 30000))
    (tmp_path / "ok.png").write_bytes(real_png(4, 4))
    path = write_manifest(tmp_path, [{"image": "ok.png", "mask": "bomb.png"}])
    columns = {"x": "image", "m": {"column": "mask", "kind": "mask"}}
    dataset = build_manifest(path, columns=columns)
    with pytest.raises(DataError) as info:
        dataset[0]
    message = str(info.value)
    assert message.startswith(f"{path} row 2 column 'mask': {tmp_path / 'bomb.png'}: ")
    assert "900,000,000 pixels" in message
    small = build_manifest(path, columns={"x": "image"}, max_pixels=15)
    with pytest.raises(DataError, match=r"4x4 image \(16 pixels\) is over the limit of 15"):
        small[0]

"""``image-folder`` follows links only inside its root: a class folder or a file linked from
outside is refused with one line, a link back up is read once, ``/proc/self`` ends fast."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.building import build
from core.errors import DataError


def _png(path: Path, value: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, dtype=np.uint8)).save(path)


def _folder(root: Path, **options):
    return build("dataset", {"type": "image-folder", "root": str(root), "image_size": 4, **options})


def test_a_class_folder_linked_from_outside_the_root_is_refused(tmp_path):
    _png(tmp_path / "outside" / "x.png")
    _png(tmp_path / "root" / "cat" / "a.png")
    (tmp_path / "root" / "dog").symlink_to(tmp_path / "outside")
    with pytest.raises(DataError) as info:
        _folder(tmp_path / "root")
    message = str(info.value)
    assert "\n" not in message
    assert (
        f"{tmp_path / 'root' / 'dog'} is a link to {tmp_path / 'outside'}, outside root" in message
    )
    assert "allow_paths_outside_root" in message
    assert len(_folder(tmp_path / "root", allow_paths_outside_root=True)) == 2


def test_an_image_linked_from_outside_the_root_is_refused(tmp_path):
    _png(tmp_path / "secret.png")
    _png(tmp_path / "root" / "cat" / "a.png")
    (tmp_path / "root" / "cat" / "deep").mkdir()
    (tmp_path / "root" / "cat" / "deep" / "b.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(DataError, match=r"deep/b.png is a link to .*secret.png, outside root"):
        _folder(tmp_path / "root")


def test_links_inside_the_root_are_followed_and_a_loop_is_read_once(tmp_path):
    root = tmp_path / "root"
    _png(root / "cat" / "a.png")
    _png(root / "shared" / "s.png")
    (root / "cat" / "up").symlink_to(root)  # a loop back to the root
    (root / "cat" / "self").symlink_to(root / "cat")  # and to its own folder
    (root / "cat" / "more").symlink_to(root / "shared")  # a folder inside the root
    (root / "cat" / "dangling.png").symlink_to(root / "missing.png")
    (root / "cat" / "loop.png").symlink_to(root / "cat" / "loop.png")
    data = _folder(root)
    assert data.classes == ["cat", "shared"]
    labels = sorted(int(y) for _, y in data)
    assert labels == [0, 0, 1]  # cat: a.png and more/s.png; shared: s.png


def test_a_pipe_named_like_an_image_is_refused_not_opened(tmp_path):
    _png(tmp_path / "cat" / "a.png")
    os.mkfifo(tmp_path / "cat" / "b.png")
    with pytest.raises(DataError, match=r"b.png is not a regular file"):
        _folder(tmp_path)


def test_proc_self_as_the_root_ends_fast_with_one_line():
    if not Path("/proc/self/cwd").is_symlink():
        pytest.skip("needs Linux /proc")
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"is a link to .*, outside root /proc/\d+; refused"):
        _folder(Path("/proc/self"))
    assert time.perf_counter() - start < 5

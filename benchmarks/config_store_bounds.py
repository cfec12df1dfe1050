"""How fast hostile configs and store entries are refused (docs/reliability.md, round 2).

    .venv/bin/python benchmarks/config_store_bounds.py

Times, in one process: ``_base_: /dev/zero``; a 50 MB base; a diamond of 31 files each naming
the next 4 times; listing a store of one good and 9 hostile entries, and resolving the good
one. Prints a table and writes benchmarks/results/config_store_bounds.json.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.markdown import Section

from core.config import Config
from core.errors import ConfigError

MODEL = "model: {type: mlp-denoiser, hidden_dim: 8}\n"


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    try:
        outcome = action()
    except ConfigError as exc:
        outcome = f"ConfigError: {str(exc)[-70:]}"
    return time.perf_counter() - start, outcome


def _configs(folder: Path) -> list[dict[str, Any]]:
    (folder / "zero.yaml").write_text("_base_: /dev/zero\n")
    with (folder / "big.yaml").open("w") as handle:
        handle.write("a: 1\n")
        handle.truncate(50 * 2**20)
    (folder / "on-big.yaml").write_text("_base_: big.yaml\n")
    for i in range(31):
        bases = ", ".join([f"d{i + 1}.yaml"] * 4) if i < 30 else ""
        (folder / f"d{i}.yaml").write_text(f"_base_: [{bases}]\nk{i}: {i}\n")
    rows = []
    for case, file in (
        ("_base_: /dev/zero", "zero.yaml"),
        ("_base_: a 50 MB file", "on-big.yaml"),
        ("diamond: 31 files x 4 bases", "d0.yaml"),
    ):
        seconds, outcome = _timed(lambda f=file: f"read, {len(Config(folder / f))} keys")
        rows.append({"case": case, "seconds": seconds, "outcome": outcome})
    return rows


def _store(folder: Path) -> list[dict[str, Any]]:
    from core.building import build_model
    from core.pretrained import list_pretrained, resolve_pretrained, save_to_pretrained

    os.environ["CORE_HOME"] = str(folder)
    model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
    weights = save_to_pretrained(model, "good").path / "good.safetensors"
    hostile = {
        "zero": f"_base_: /dev/zero\n{MODEL}",
        "bomb": f"_base_: [{', '.join(['../../good/v1/good.yaml'] * 4)}]\n{MODEL}",
        "secret": f"{MODEL}meta: {{key: '${{HOME}}'}}\n",
        "bad-yaml": "model: [unclosed\n",
        "list": "- 1\n",
        "tagged": "model: !!python/name:os.system\n",
        "fifo": None,
        "huge": None,
        "to-zero": None,
    }
    for name, text in hostile.items():
        version = folder / "mlp-denoiser" / name / "v1"
        version.mkdir(parents=True)
        shutil.copy(weights, version / f"{name}.safetensors")
        target = version / f"{name}.yaml"
        if name == "fifo":
            os.mkfifo(target)
        elif name == "huge":
            with target.open("w") as handle:
                handle.truncate(50 * 2**20)
        elif name == "to-zero":
            target.symlink_to("/dev/zero")
        else:
            target.write_text(text)
    seconds, infos = _timed(list_pretrained)
    store = [i for i in infos if i.source == "store"]
    broken = sum(i.status == "broken" for i in store)
    resolve_seconds, info = _timed(lambda: resolve_pretrained("good"))
    return [
        {
            "case": "list a store of 1 good + 9 hostile entries",
            "seconds": seconds,
            "outcome": f"{broken} broken, {len(store) - broken} ok",
        },
        {
            "case": "resolve 'good' in that store",
            "seconds": resolve_seconds,
            "outcome": info.status,
        },
    ]


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before the store part imports torch
    record = start_record("config_store_bounds")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "configs").mkdir()
        rows = _configs(Path(tmp) / "configs") + _store(Path(tmp) / "store")
    print(f"{'case':<45} {'seconds':>9}  outcome")
    for row in rows:
        print(f"{row['case']:<45} {row['seconds']:>9.4f}  {row['outcome']}")
    print(f"wrote {save_record('config_store_bounds', record | {'rows': rows})}")


def render(record: dict[str, Any], name: str = "config_store_bounds") -> Section:
    """Seconds and outcome per hostile case."""
    return Section.generic_of(record, name, __doc__)


if __name__ == "__main__":
    main()

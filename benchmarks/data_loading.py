"""Data loading on a generated image folder: images/s the run's loader delivers with 0, 1 and 2 workers against images/s a 64 px U-Net training step consumes.

Generates ``--images`` 64x64 RGB PNGs (smooth random colour fields with noise, 10 class
folders) into a temporary folder, reads them through the real ``image-folder`` dataset (which
decodes every file once, when it is built: timed as the decode rate), then iterates the
training loader (``core.training.data.make_loader``: the run's sampler, persistent workers) for
``--epochs`` epochs at each worker count. The consumer is a bare training step (compute_loss,
backward, AdamW) of a 64 px class-conditional DDPM (ddpm-unet, base 32) at the same batch, on
``--threads`` threads; ``core.training.Trainer`` then trains it on the folder with 0 and 1
workers (the step fed by the loader, end to end). The goal: with 1 worker the loader delivers at least 3x what the step
consumes. Writes benchmarks/results/data_loading.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/data_loading.py [--images 20000] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import save_record, seconds_per_step, start_record, train
from _common.markdown import Col, Section, sig
from _common.steps import step_fn, time_steps

#: the 64 px model whose training step is the consumer (class-conditional, as the demo)
MODEL = {
    "type": "ddpm",
    "image_size": 64,
    "channels": 3,
    "timesteps": 1000,
    "noise_schedule": {"type": "cosine"},
    "network": {"type": "ddpm-unet", "in_channels": 3, "base_channels": 32, "num_classes": 10},
}


def write_folder(root: Path, count: int, size: int = 64, classes: int = 10) -> float:
    """``count`` PNGs of ``size`` px in ``classes`` sub-folders of ``root``; seconds taken."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for c in range(classes):
        (root / f"class_{c}").mkdir(parents=True)
    grid = np.linspace(0.0, 1.0, size, dtype=np.float32)
    for i in range(count):
        a, b = rng.uniform(0.5, 4.0, (2, 3))
        field = np.sin(a[:, None, None] * grid[None, :, None] * 6 + b[:, None, None] * grid * 6)
        field = 0.5 + 0.4 * field + 0.1 * rng.standard_normal((3, size, size))
        pixels = (np.clip(field, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
        Image.fromarray(pixels).save(root / f"class_{i % classes}" / f"{i:06d}.png")
    return time.perf_counter() - start


def loader_rate(dataset: Any, workers: int, batch: int, epochs: int) -> dict[str, Any]:
    """Images/s the run's loader delivers with ``workers`` worker processes, after the first
    batch (worker start-up is timed on its own)."""
    from core.training.data import ResumableSampler, epoch_batches, make_loader
    from core.training.distributed import DistInfo

    sampler = ResumableSampler(dataset, DistInfo(), shuffle=True, seed=0)
    loader = make_loader(
        dataset, sampler, batch_size=batch, drop_last=True, num_workers=workers, seed=0
    )
    start = time.perf_counter()
    batches = epoch_batches(loader, 0)
    next(batches)
    first_batch_s = time.perf_counter() - start
    images, start = 0, time.perf_counter()
    for epoch in range(epochs):
        for x, _ in batches:
            images += len(x)
        batches = epoch_batches(loader, epoch + 1)
    seconds = time.perf_counter() - start
    del batches, loader
    return {
        "workers": workers,
        "images": images,
        "seconds": seconds,
        "images_per_s": images / seconds,
        "first_batch_s": first_batch_s,
    }


def trainer_rate(dataset: Any, root: Path, workers: int, batch: int, steps: int) -> dict[str, Any]:
    """Images/s of ``core.training.Trainer`` on the folder (the step fed by the run's loader),
    the first logged step left out."""
    config = {
        "model": MODEL,
        "data": {"type": "image-folder", "root": str(root)},
        "train": {"steps": steps, "batch_size": batch, "num_workers": workers, "log_every": 1},
        "sample": {"n": 1, "sampler": "ddim", "steps": 2},
    }
    trained = train(config, dataset=dataset, run_dir=root / f"run-{workers}", quiet=True)
    seconds = statistics.median(seconds_per_step(trained.marks))
    return {"workers": workers, "steps": steps, "images_per_s": batch / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="loader epochs per worker count")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the step")
    parser.add_argument("--train-steps", type=int, default=8, help="Trainer steps per case")
    args = parser.parse_args()

    import torch

    import core

    record = start_record("data_loading")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="core-bench-folder-") as tmp:
        root = Path(tmp)
        write_s = write_folder(root, args.images)
        print(f"  wrote {args.images} PNGs in {write_s:.1f} s", flush=True)
        start = time.perf_counter()
        dataset = core.build("dataset", {"type": "image-folder", "root": str(root)})
        decode_s = time.perf_counter() - start
        print(f"  image-folder built (decoded) in {decode_s:.1f} s", flush=True)
        trainer_rows = []
        for workers in (0, 1):
            torch.manual_seed(0)
            trainer_rows.append(trainer_rate(dataset, root, workers, args.batch, args.train_steps))
            print(
                f"  Trainer, {workers} workers: {trainer_rows[-1]['images_per_s']:.1f} images/s",
                flush=True,
            )

    rows = []
    for workers in (0, 1, 2):
        row = loader_rate(dataset, workers, args.batch, args.epochs)
        rows.append(row)
        print(f"  loader, {workers} workers: {row['images_per_s']:.0f} images/s", flush=True)

    torch.manual_seed(0)
    model = core.build_model({"model": MODEL}).train()
    x, y = next(iter(torch.utils.data.DataLoader(dataset, batch_size=args.batch)))
    step = step_fn(model, (x, y))
    step()  # warm-up
    step_s = time_steps(step, args.steps)
    consumed = args.batch / step_s
    print(f"  64 px U-Net step: {step_s:.2f} s/step, {consumed:.1f} images/s", flush=True)
    for row in rows:
        row["times_step"] = row["images_per_s"] / consumed
    record |= {
        "images": args.images,
        "batch": args.batch,
        "threads": args.threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "write_s": write_s,
        "decode_s": decode_s,
        "decode_images_per_s": args.images / decode_s,
        "dataset_bytes": dataset.images.numel() * dataset.images.element_size(),
        "model": MODEL,
        "parameters": model.count_parameters(),
        "step_s": step_s,
        "step_images_per_s": consumed,
        "rows": rows,
        "trainer_rows": trainer_rows,
        "note": "image-folder decodes every file once when it is built and keeps float tensors in "
        "memory, so the loader's rate is indexing, collation and the worker pipe; the step is "
        "measured alone on its threads; other helpers ran tests on the same 2 cores meanwhile",
    }
    print(f"wrote {save_record('data_loading', record)}")


def render(record: dict[str, Any], name: str = "data_loading") -> Section:
    """The loader's rate per worker count against the 64 px training step's."""
    s = Section.of(record, name, __doc__)
    step = record["step_images_per_s"]
    s.table(
        [
            Col("workers", "workers"),
            Col("delivered (images/s)", "images_per_s", sig),
            Col("× the step's rate", "times_step", sig),
            Col("first batch (s)", "first_batch_s", sig),
        ],
        record["rows"],
        f"Loader, {record['images']:,} PNGs at 64x64 RGB, batch {record['batch']}",
    )
    s.pairs(
        [
            ("training step (64 px ddpm-unet base 32)", f"{sig(step)} images/s"),
            ("seconds per step", sig(record["step_s"])),
            ("parameters", f"{record['parameters']:,}"),
            ("writing the PNGs", f"{sig(record['write_s'])} s"),
            ("building image-folder (decoding)", f"{sig(record['decode_images_per_s'])} images/s"),
            ("dataset in memory", f"{record['dataset_bytes'] / 2**20:,.0f} MiB"),
        ]
    )
    if record.get("trainer_rows"):
        s.table(
            [
                Col("workers", "workers"),
                Col("steps", "steps"),
                Col("images/s", "images_per_s", sig),
            ],
            record["trainer_rows"],
            "core.training.Trainer on the folder (the step fed by the loader)",
        )
    if record.get("note"):
        s.add(f"Notes: {record['note'].rstrip('.')}.")
    return s


if __name__ == "__main__":
    main()

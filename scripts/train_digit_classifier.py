"""Train the digit classifier shipped as core's ``digit-classifier`` pretrained entry.

Data: scikit-learn digits (8x8, upsampled) and mnist-5k (28x28) train splits, all at 28x28 in
[-1, 1], with random shifts of up to 2 pixels. Reports test accuracy on both test splits and
writes core/metrics/weights/digit-classifier/ (safetensors + yaml).

    .venv/bin/python scripts/train_digit_classifier.py [--epochs 8] [--width 16] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from core.building import build
from core.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


class Shifted(torch.utils.data.Dataset):
    """Random translations by up to ``shift`` pixels (zero-padded with -1)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, shift: int = 2) -> None:
        self.images, self.labels, self.shift = images, labels, shift

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i]
        dx, dy = torch.randint(-self.shift, self.shift + 1, (2,)).tolist()
        padded = torch.nn.functional.pad(x, [self.shift] * 4, value=-1.0)
        s = self.shift
        h, w = x.shape[-2:]
        return padded[:, s + dy : s + dy + h, s + dx : s + dx + w], self.labels[i]


def splits(name: str, split: str):
    return build("dataset", {"type": name, "image_size": 28, "split": split})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--out", default=str(ROOT / "core/metrics/weights/digit-classifier"))
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"))
    args = parser.parse_args()
    torch.manual_seed(0)
    train_sets = [splits("digits", "train"), splits("mnist-5k", "train")]
    images = torch.cat([d.images for d in train_sets])
    labels = torch.cat([d.labels for d in train_sets])
    config = {
        "model": {"type": "digit-classifier", "width": args.width},
        "data": {"type": "custom"},
        "train": {
            "epochs": args.epochs,
            "batch_size": 64,
            "lr": 2e-3,
            "weight_decay": 1e-4,
            "warmup_steps": 50,
            "lr_schedule": "cosine",
            "log_every": 50,
            "seed": 0,
        },
    }
    start = time.perf_counter()
    trainer = Trainer(
        config,
        dataset=Shifted(images, labels),
        run_dir=Path(args.runs_dir) / "digit-classifier",
        overwrite=True,
    )
    trainer.fit()
    seconds = time.perf_counter() - start
    model = trainer.model.eval()
    results = {}
    for name in ("digits", "mnist-5k"):
        test = splits(name, "test")
        predicted = model.predict(test.images)
        results[name] = round(float((predicted == test.labels).float().mean()), 4)
    meta = {
        "test_accuracy": results,
        "trained_on": "digits train (1,438, 8x8 upsampled to 28) + mnist-5k train (4,000)",
        "epochs": args.epochs,
        "script": "scripts/train_digit_classifier.py",
    }
    model.save_pretrained(args.out, name="digit-classifier", meta=meta)
    print(f"{'test split':<12} {'accuracy':>8}")
    for name, acc in results.items():
        print(f"{name:<12} {acc:>8.2%}")
    print(f"trained in {seconds:.0f}s; parameters {model.count_parameters():,}; wrote {args.out}")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()

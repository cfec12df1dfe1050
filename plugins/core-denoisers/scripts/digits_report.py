"""Per-class samples of a class-conditional digits run, checked by core's digit classifier.

    .venv/bin/python plugins/core-denoisers/scripts/digits_report.py \
        runs/denoisers/cnn_digits_conditional

Draws ``-n`` samples of every class (``y = c``, the same as ``core sample RUN --class c``),
classifies them with the pretrained ``digit-classifier`` and reports how often the
predicted class is the requested one. Writes a grid (one row per class) to ``--png`` and the
numbers to ``--json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("-n", type=int, default=50, help="samples per class")
    parser.add_argument("--sampler", default="ddim")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", default="docs/models/images/denoisers_digits_per_class.png")
    parser.add_argument("--json", default="plugins/core-denoisers/results/digits_per_class.json")
    args = parser.parse_args()

    import torch.nn.functional as F

    from core.metrics.evaluate import load_model
    from core.metrics.fid import load_classifier
    from core.sampling import draw_samples
    from core.training.images import save_samples

    model, info = load_model(args.run, device="cpu")
    classes = int(model.num_classes)
    if not classes:
        raise SystemExit(f"{args.run}: the network is not class-conditional (num_classes: 0)")
    classifier = load_classifier()
    per_class, rows = {}, []
    for c in range(classes):
        y = torch.full((args.n,), c, dtype=torch.long)
        images = draw_samples(
            model,
            args.n,
            sampler=args.sampler,
            steps=args.steps,
            seed=args.seed + c,
            y=y,
            batch_size=args.n,
        )
        predicted = classifier.predict(images, (-1.0, 1.0))
        per_class[c] = float((predicted == c).float().mean())
        rows.append(images[:10])
    grid = torch.cat(rows)
    grid = F.interpolate(grid, scale_factor=4, mode="nearest")
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    save_samples(grid, args.png, (-1.0, 1.0), nrow=10)
    result = {
        "run": str(args.run),
        "weights": info.get("weights"),
        "samples_per_class": args.n,
        "sampler": args.sampler,
        "steps": args.steps,
        "class_accuracy": sum(per_class.values()) / classes,
        "per_class": per_class,
        "parameters": model.network.count_parameters(),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"class accuracy {result['class_accuracy']:.3f} over {classes} x {args.n} samples")
    print(" ".join(f"{c}:{a:.2f}" for c, a in per_class.items()))


if __name__ == "__main__":
    main()

"""dwn-stable's two gradient conventions, ours and upstream DiffLUT's, trained side by side.

    python benchmarks/difflut_dwn_stable_convention.py [--seeds 0 1 2] [--epochs 8]

Network: digits (64 features x 8 distributive-thermometer bits) -> 1,000 learnable-wired
-> 500 random-wired dwn-stable nodes (n = 6) -> GroupSum(10, tau 10); Adam lr 0.01, batch 32,
cosine schedule. Ours: gradient_normalization identity, gradient_scale 1.0; upstream's:
none, 1.25. Prints a table of test accuracy (evaluation mode) per seed and writes
benchmarks/results/difflut_dwn_stable_convention.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from _common import save_record, start_record
from _common.markdown import Section

CONVENTIONS = {
    "ours": {},
    "upstream": {"gradient_normalization": "none", "gradient_scale": 1.25},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    from core_difflut.data import load_dataset
    from core_difflut.training import TrainSettings, train_classifier

    record = start_record("difflut_dwn_stable_convention", epochs=args.epochs)
    data = load_dataset("digits")
    rows = []
    for seed in args.seeds:
        for label, params in CONVENTIONS.items():
            config = {
                "node_type": "dwn-stable",
                "node_params": params,
                "layer_type": ["learnable", "random"],
                "layer_widths": [1000, 500],
                "input_size": 64,
                "encoder_config": {"name": "distributive-thermometer", "num_bits": 8},
                "runtime": {"tau": 10.0},
                "seed": seed,
            }
            settings = TrainSettings(
                epochs=args.epochs, batch_size=32, lr=0.01, seed=seed, log=False, threads=1
            )
            _, stats = train_classifier(config, data, settings)
            rows.append(
                {
                    "convention": label,
                    "seed": seed,
                    "test_accuracy": round(stats["test_accuracy"], 4),
                    "seconds": round(stats["training_time_s"], 1),  # train_classifier's clock
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print("\n| convention | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean |")
    print("|---|" + "---|" * (len(args.seeds) + 1))
    summary = {}
    for label in CONVENTIONS:
        acc = [r["test_accuracy"] for r in rows if r["convention"] == label]
        summary[label] = round(statistics.mean(acc), 4)
        cells = " | ".join(f"{a:.3f}" for a in acc)
        print(f"| {label} | {cells} | {summary[label]:.3f} |")
    save_record("difflut_dwn_stable_convention", record | {"runs": rows, "mean": summary})


def render(record: dict[str, Any], name: str = "difflut_dwn_stable_convention") -> Section:
    """Test accuracy per convention and seed, and the mean per convention."""
    return Section.generic_of(record, name, __doc__)


if __name__ == "__main__":
    main()

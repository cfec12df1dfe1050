"""Scatter plot and sliced-Wasserstein distance of a trained moons run vs held-out data.

    .venv/bin/python plugins/core-denoisers/scripts/moons_report.py runs/denoisers/mlp_moons \
        --out docs/models/images

Writes ``denoisers_moons.png`` into ``--out``, the numbers to ``--json`` and prints them: the
distance of 2,000 generated points to 2,000 held-out points, against the distance between
two disjoint held-out halves of 2,000 points (the floor set by sampling noise), and a
standard Gaussian as a reference for "not learned".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory (or save_pretrained directory)")
    parser.add_argument("--out", default="docs/models/images")
    parser.add_argument("--json", default="plugins/core-denoisers/results/moons.json")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--sampler", default="ddpm")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from core_denoisers.metrics import sliced_wasserstein

    from core.building import build
    from core.metrics.evaluate import load_model
    from core.sampling import draw_samples

    model, info = load_model(args.run, device="cpu")
    generated = draw_samples(
        model, args.n, sampler=args.sampler, steps=args.steps, seed=args.seed, batch_size=args.n
    )
    data = dict(info.get("data") or {"type": "toy2d", "shape": "moons"})
    data.update(split="test", size=2 * args.n)
    held_out = build("dataset", data).points
    # the points are ordered (first half one moon): shuffle before halving
    held_out = held_out[torch.randperm(len(held_out), generator=torch.Generator().manual_seed(0))]
    half_a, half_b = held_out[: args.n], held_out[args.n :]
    gaussian = torch.randn(args.n, 2, generator=torch.Generator().manual_seed(args.seed + 1))
    result = {
        "run": str(args.run),
        "weights": info.get("weights"),
        "n": args.n,
        "sampler": args.sampler,
        "steps": args.steps or model.config.timesteps,
        "sw_generated_vs_heldout": sliced_wasserstein(generated, half_a),
        "sw_heldout_half_vs_half": sliced_wasserstein(half_b, half_a),
        "sw_gaussian_vs_heldout": sliced_wasserstein(gaussian, half_a),
        "parameters": model.network.count_parameters(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
    for ax, points, title in (
        (axes[0], half_a, f"held-out data ({args.n})"),
        (axes[1], generated, f"mlp-denoiser samples ({args.n})"),
    ):
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
        ax.set_title(title)
        ax.set_aspect("equal")
    fig.suptitle(
        f"SW distance to held-out: generated {result['sw_generated_vs_heldout']:.3f}, "
        f"held-out halves {result['sw_heldout_half_vs_half']:.3f}"
    )
    fig.tight_layout()
    fig.savefig(out / "denoisers_moons.png", dpi=100)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:<28} {value}")


if __name__ == "__main__":
    main()

"""cnn-denoiser at 32x32: training and sampling images/s through core vs the bare network.

Framework: the ``ddpm`` model (core-diffusion) wrapping ``cnn-denoiser``, trained by core's
Trainer on digits resized to 32x32 and sampled with ``ddpm.sample``. Bare: the same network
class in a hand-written loop (AdamW, linear schedule, epsilon MSE; DDIM sampling), on a
tensor of the same images. Same process, same threads, same sizes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/denoisers.py   # prints a table, writes JSON
    .venv/bin/python benchmarks/denoisers.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import save_record, start_record, train
from _common.markdown import Col, Section, integer, sig

RESULTS = Path(__file__).parent / "results" / "denoisers.json"


def digits_32(n: int) -> Any:
    """``n`` sklearn digits resized to 32x32, scaled to [-1, 1], shape (n, 1, 32, 32)."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    images = torch.tensor(load_digits().images[:n], dtype=torch.float32)[:, None] / 16.0
    images = F.interpolate(images, size=32, mode="bilinear", align_corners=False)
    return images.clamp(0, 1) * 2 - 1


def linear_schedule(timesteps: int) -> Any:
    """alpha_bar of the linear beta schedule 1e-4 .. 0.02."""
    import torch

    betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


def bare_train(network, data, steps, batch_size, timesteps, warmup):
    """Plain loop; returns images/s over ``steps`` timed steps after ``warmup`` untimed ones."""
    import torch
    import torch.nn.functional as F

    abar = linear_schedule(timesteps)
    opt = torch.optim.AdamW(network.parameters(), lr=2e-4)
    network.train()
    g = torch.Generator().manual_seed(0)
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        idx = torch.randint(0, len(data), (batch_size,), generator=g)
        x0 = data[idx]
        t = torch.randint(0, timesteps, (batch_size,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        a = abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = F.mse_loss(network(xt, t), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch_size / (time.perf_counter() - start)


def bare_sample(network, n, steps, timesteps, side=32):
    """Deterministic DDIM with ``steps`` evaluations; returns (images/s, samples)."""
    import torch

    abar = linear_schedule(timesteps)
    network.eval()
    start = time.perf_counter()
    x = torch.randn(n, 1, side, side, generator=torch.Generator().manual_seed(0))
    ts = torch.linspace(timesteps - 1, 0, steps).round().long().tolist()
    with torch.no_grad():
        for i, t in enumerate(ts):
            a = abar[t]
            a_prev = abar[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
            eps = network(x, torch.full((n,), t, dtype=torch.long))
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return n / (time.perf_counter() - start), x


def framework_train(network_cfg, steps, batch_size, timesteps, warmup, run_dir):
    """core's Trainer on the ddpm model; images/s between the warm-up log and the last one."""
    config = {
        "model": {
            "type": "ddpm",
            "timesteps": timesteps,
            "image_size": 32,
            "channels": 1,
            "noise_schedule": {"type": "linear"},
            "network": network_cfg,
        },
        "data": {"type": "digits", "image_size": 32},
        "train": {
            "steps": warmup + steps,
            "batch_size": batch_size,
            "lr": 2e-4,
            "log_every": warmup,
            "lr_schedule": "constant",
        },
        "sample": {"n": 4, "sampler": "ddim", "steps": 2},
    }
    trained = train(config, run_dir=run_dir, overwrite=True, quiet=True)
    times = trained.marks  # the Trainer's clock at each logged step
    last = max(times)
    rate = (last - warmup) * batch_size / (times[last] - times[warmup])
    return rate, trained.model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--base-channels", type=int, default=32)
    parser.add_argument("--sample-n", type=int, default=16)
    parser.add_argument("--sample-steps", type=int, default=10, help="DDIM evaluations")
    parser.add_argument("--timesteps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating repeats (best kept)")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.steps, args.warmup, args.batch_size, args.rounds = 4, 2, 8, 1
        args.sample_n, args.sample_steps = 4, 2

    import torch
    from core_denoisers.cnn import CNNDenoiser

    record = start_record("denoisers")
    torch.manual_seed(0)
    network_cfg = {"type": "cnn-denoiser", "in_channels": 1, "base_channels": args.base_channels}
    data = digits_32(1437)
    rows: dict[str, list[float]] = {k: [] for k in ("fw_train", "bare_train", "fw_s", "bare_s")}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            bare = CNNDenoiser({k: v for k, v in network_cfg.items() if k != "type"})
            rows["bare_train"].append(
                bare_train(bare, data, args.steps, args.batch_size, args.timesteps, args.warmup)
            )
            rate, model = framework_train(
                network_cfg,
                args.steps,
                args.batch_size,
                args.timesteps,
                args.warmup,
                Path(tmp) / f"r{r}",
            )
            rows["fw_train"].append(rate)
            # sampling: the same trained network, through ddpm.sample and through the bare loop
            model.eval()
            start = time.perf_counter()
            model.sample(args.sample_n, sampler="ddim", steps=args.sample_steps)
            rows["fw_s"].append(args.sample_n / (time.perf_counter() - start))
            rate_s, _ = bare_sample(model.network, args.sample_n, args.sample_steps, args.timesteps)
            rows["bare_s"].append(rate_s)
    best = {k: max(v) for k, v in rows.items()}
    params = CNNDenoiser(in_channels=1, base_channels=args.base_channels).count_parameters()
    table = [
        ("train images/s", best["fw_train"], best["bare_train"]),
        (f"sample images/s (DDIM {args.sample_steps})", best["fw_s"], best["bare_s"]),
    ]
    print(
        f"cnn-denoiser 1x32x32, base {args.base_channels} ({params:,} params), "
        f"batch {args.batch_size}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"{'':<28} {'core':>10} {'bare':>10} {'core/bare':>10}")
    for name, fw, bare_rate in table:
        print(f"{name:<28} {fw:>10.1f} {bare_rate:>10.1f} {fw / bare_rate:>10.2f}")
    record |= {
        "network": network_cfg,
        "parameters": params,
        "image_size": 32,
        "batch_size": args.batch_size,
        "train_steps_timed": args.steps,
        "warmup_steps": args.warmup,
        "sample_n": args.sample_n,
        "sample_steps": args.sample_steps,
        "rounds": args.rounds,
        "train_images_per_s": {"core": best["fw_train"], "bare": best["bare_train"]},
        "sample_images_per_s": {"core": best["fw_s"], "bare": best["bare_s"]},
        "all_rounds": rows,
        "threads": torch.get_num_threads(),
        "rows": [
            {
                "measure": name,
                "core": round(fw, 2),
                "bare": round(b, 2),
                "core/bare": round(fw / b, 3),
            }
            for name, fw, b in table
        ],
        "quick": args.quick,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    print(f"wrote {save_record('denoisers', record, args.out)}")


def render(record: dict[str, Any], name: str = "denoisers") -> Section:
    """Training and sampling images/s through core and through the bare network, every round."""
    s = Section.of(record, name, __doc__)
    r, net = record, record.get("network", {})
    s.add(
        f"Setup: `{net.get('type')}` ({net.get('base_channels')} base channels, "
        f"{integer(r['parameters'])} parameters) at {r['image_size']}×{r['image_size']} px, "
        f"batch {r['batch_size']}; {r['train_steps_timed']} timed training steps after "
        f"{r['warmup_steps']} warm-up steps; {r['sample_n']} samples with {r['sample_steps']} "
        f"DDIM steps; best of {r['rounds']} alternating rounds"
        + (" (a `--quick` smoke run)." if r.get("quick") else ".")
    )
    train_rate, sample_rate = r["train_images_per_s"], r["sample_images_per_s"]
    s.table(
        [
            Col("phase", "phase"),
            Col("core (images/s)", "core", sig),
            Col("bare network (images/s)", "bare", sig),
            Col("core / bare", lambda row: row["core"] / row["bare"], sig),
        ],
        [
            {"phase": "training", **train_rate},
            {"phase": f"sampling (DDIM, {r['sample_steps']} steps)", **sample_rate},
        ],
    )
    rounds = r.get("all_rounds")
    if rounds:
        keys = ("fw_train", "bare_train", "fw_s", "bare_s")
        rows = [
            {"round": i + 1, **{k: rounds[k][i] for k in keys}}
            for i in range(len(rounds["fw_train"]))
        ]
        s.table(
            [
                Col("round", "round"),
                Col("core training (images/s)", "fw_train", sig),
                Col("bare training (images/s)", "bare_train", sig),
                Col("core sampling (images/s)", "fw_s", sig),
                Col("bare sampling (images/s)", "bare_s", sig),
            ],
            rows,
            "Every round",
        )
    return s


if __name__ == "__main__":
    main()

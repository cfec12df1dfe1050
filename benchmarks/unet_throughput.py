"""U-Net training throughput (images/s) and achieved GFLOP/s against this machine's fp32 matmul rate.

FLOPs of one DDPM training step (forward + backward) come from torch.utils.flop_counter;
the matmul reference is a square fp32 matmul measured in the same run with the same threads.
Writes benchmarks/results/unet_throughput.json.

    .venv/bin/python benchmarks/unet_throughput.py [--threads 2] [--steps 10] [--channels-last]

``--channels-last`` times each case in both memory layouts (``train.channels_last``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = [
    # (label, image size, batch, network section)
    (
        "digits config unet (32 px)",
        32,
        64,
        {
            "type": "unet",
            "base_channels": 16,
            "channel_mults": [1, 2, 2],
            "num_res_blocks": 1,
            "attention_resolutions": [8],
            "norm_groups": 8,
        },
    ),
    (
        "unet base 64 (32 px)",
        32,
        32,
        {"type": "unet", "base_channels": 64, "channel_mults": [1, 2, 2], "num_res_blocks": 1},
    ),
    ("ddpm-unet base 64 (32 px)", 32, 32, {"type": "ddpm-unet", "base_channels": 64}),
]


def matmul_gflops(size: int, seconds: float) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per case")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument(
        "--channels-last", action="store_true", help="also time the channels-last layout"
    )
    args = parser.parse_args()

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import core

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    layouts = ["default"] + (["channels-last"] if args.channels_last else [])
    for (label, size, batch, network), layout in itertools.product(CASES, layouts):
        model = core.build_model(
            {"model": {"type": "ddpm", "image_size": size, "channels": 1, "network": network}}
        )
        x = torch.rand(batch, 1, size, size) * 2 - 1
        if layout == "channels-last":
            model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        with FlopCounterMode(display=False) as counter:
            model.compute_loss(x)["loss"].backward()
        flops = counter.get_total_flops()

        def step(model=model, opt=opt, x=x) -> None:
            loss = model.compute_loss(x)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for _ in range(2):
            step()
        # matmul reference right before the case, so both see the same machine load
        reference = matmul_gflops(args.matmul_size, 2.0)
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        seconds = (time.perf_counter() - start) / args.steps
        achieved = flops / seconds / 1e9
        rows.append(
            {
                "case": label,
                "layout": layout,
                "image_size": size,
                "batch": batch,
                "parameters": model.count_parameters(),
                "gflop_per_step": flops / 1e9,
                "seconds_per_step": seconds,
                "images_per_s": batch / seconds,
                "achieved_gflops": achieved,
                "matmul_gflops": reference,
                "fraction_of_matmul": achieved / reference,
            }
        )
        print(
            f"  {label} ({layout}): {batch / seconds:.1f} img/s, {achieved:.1f} GFLOP/s, "
            f"matmul {reference:.1f} GFLOP/s",
            flush=True,
        )

    print()
    print(
        f"{'case':28s} {'layout':13s} {'params':>9s} {'GFLOP/step':>10s} {'img/s':>7s} {'GFLOP/s':>8s} "
        f"{'matmul':>7s} {'ratio':>6s}"
    )
    for r in rows:
        print(
            f"{r['case']:28s} {r['layout']:13s} {r['parameters']:9d} {r['gflop_per_step']:10.2f} "
            f"{r['images_per_s']:7.1f} {r['achieved_gflops']:8.1f} {r['matmul_gflops']:7.1f} "
            f"{r['fraction_of_matmul']:6.0%}"
        )
    result = {
        "benchmark": "unet_throughput",
        "command": f"python benchmarks/unet_throughput.py --threads {args.threads} "
        f"--steps {args.steps}" + (" --channels-last" if args.channels_last else ""),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "date": time.strftime("%Y-%m-%d"),
        "threads": args.threads,
        "note": "fp32 training step = DDPM compute_loss forward + backward + AdamW; "
        "FLOPs from torch.utils.flop_counter (forward + backward)",
        "rows": rows,
    }
    out = ROOT / "benchmarks/results/unet_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

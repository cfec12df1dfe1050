"""U-Net training throughput (images/s) and achieved GFLOP/s against this machine's fp32 matmul rate.

FLOPs of one DDPM training step (forward + backward) come from torch.utils.flop_counter;
the matmul reference is a square fp32 matmul measured in the same run with the same threads,
through MKL (torch.mm) and through oneDNN, whichever is faster; a 3x3 convolution at each
network's base width shows the bound its thinnest layers meet.
Writes benchmarks/results/unet_throughput.json.

    .venv/bin/python benchmarks/unet_throughput.py [--threads 2] [--steps 10] [--channels-last]

``--channels-last`` times each case in both memory layouts (``train.channels_last``).
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.markdown import Col, Section, integer, percent, sig

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


def _rate(fn, flops: float, seconds: float) -> float:
    for _ in range(3):
        fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return flops * count / (time.perf_counter() - start) / 1e9


def matmul_gflops(size: int, seconds: float) -> dict[str, float]:
    """fp32 square matmul GFLOP/s through torch.mm (MKL) and through oneDNN, the conv library.

    On AMD CPUs MKL runs far below the machine's peak (measured here: 93 against oneDNN's 214
    GFLOP/s on one thread), so the reference of a ratio is the faster of the two.
    """
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    rates = {"mkl": _rate(lambda: a @ b, 2 * size**3, seconds)}
    if torch.backends.mkldnn.is_available():
        am, bm = a.to_mkldnn(), b.to_mkldnn()
        linear = torch._C._nn.mkldnn_linear
        rates["onednn"] = _rate(lambda: linear(am, bm, None), 2 * size**3, seconds)
    return rates


def conv_gflops(channels: int, size: int, batch: int, seconds: float, channels_last: bool):
    """GFLOP/s of one 3x3 convolution, forward + backward, at a network's base width."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, channels, size, size)
    w = torch.randn(channels, channels, 3, 3)
    if channels_last:
        x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    x.requires_grad_()
    w.requires_grad_()

    def step() -> None:
        F.conv2d(x, w, padding=1).sum().backward()

    with FlopCounterMode(display=False) as counter:
        step()
    return _rate(step, counter.get_total_flops(), seconds)


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

    record = start_record("unet_throughput")
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
        matmul = matmul_gflops(args.matmul_size, 2.0)
        reference = max(matmul.values())
        conv = conv_gflops(network["base_channels"], size, batch, 2.0, layout == "channels-last")
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
                "matmul_gflops_by_library": matmul,
                "fraction_of_matmul": achieved / reference,
                "base_conv3x3_gflops": conv,
                "base_conv3x3_fraction_of_matmul": conv / reference,
            }
        )
        print(
            f"  {label} ({layout}): {batch / seconds:.1f} img/s, {achieved:.1f} GFLOP/s, "
            f"matmul {reference:.1f} GFLOP/s, base-width conv3x3 {conv:.1f} GFLOP/s",
            flush=True,
        )

    print()
    print(
        f"{'case':28s} {'layout':13s} {'params':>9s} {'GFLOP/step':>10s} {'img/s':>7s} {'GFLOP/s':>8s} "
        f"{'matmul':>7s} {'ratio':>6s} {'conv3x3':>7s} {'ratio':>6s}"
    )
    for r in rows:
        print(
            f"{r['case']:28s} {r['layout']:13s} {r['parameters']:9d} {r['gflop_per_step']:10.2f} "
            f"{r['images_per_s']:7.1f} {r['achieved_gflops']:8.1f} {r['matmul_gflops']:7.1f} "
            f"{r['fraction_of_matmul']:6.0%} {r['base_conv3x3_gflops']:7.1f} "
            f"{r['base_conv3x3_fraction_of_matmul']:6.0%}"
        )
    record |= {
        "command": f"python benchmarks/unet_throughput.py --threads {args.threads} "
        f"--steps {args.steps}" + (" --channels-last" if args.channels_last else ""),
        "threads": args.threads,
        "note": "fp32 training step = DDPM compute_loss forward + backward + AdamW; "
        "FLOPs from torch.utils.flop_counter (forward + backward); matmul_gflops = the faster "
        "of MKL and oneDNN; base_conv3x3 = one 3x3 convolution at the base width, forward + "
        "backward, the bound a network of that width meets",
        "rows": rows,
    }
    print(f"wrote {save_record('unet_throughput', record)}")


def render(record: dict[str, Any], name: str = "unet_throughput") -> Section:
    """Throughput and compute efficiency per case and layout."""
    s, r = Section.of(record, name, __doc__), record
    rows = r["rows"]
    s.table(
        [
            Col("case", "case"),
            Col("layout", "layout"),
            Col("image (px)", "image_size"),
            Col("batch", "batch"),
            Col("parameters", "parameters", integer),
            Col("time (s/step)", "seconds_per_step", sig),
            Col("images/s", "images_per_s", sig),
        ],
        rows,
        "Throughput",
    )
    libraries = sorted({k for row in rows for k in row.get("matmul_gflops_by_library", {})})
    names = {"mkl": "MKL", "onednn": "oneDNN"}
    s.table(
        [
            Col("case", "case"),
            Col("layout", "layout"),
            Col("GFLOP/step", "gflop_per_step", sig),
            Col("achieved (GFLOP/s)", "achieved_gflops", sig),
        ]
        + [
            Col(
                f"{names.get(lib, lib)} matmul (GFLOP/s)",
                lambda row, lib=lib: row.get("matmul_gflops_by_library", {}).get(lib),
                sig,
            )
            for lib in libraries
        ]
        + [
            Col("achieved / best matmul (%)", "fraction_of_matmul", percent),
            Col("base 3×3 conv (GFLOP/s)", "base_conv3x3_gflops", sig),
            Col("3×3 conv / best matmul (%)", "base_conv3x3_fraction_of_matmul", percent),
        ],
        rows,
        "Compute efficiency",
    )
    if r.get("note"):
        s.add(f"Notes: {r['note'].rstrip('.')}.")
    return s


if __name__ == "__main__":
    main()

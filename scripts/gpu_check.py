"""Check a CUDA machine: short trainings of the mnist-5k example, printed as one table.

    .venv/bin/python scripts/gpu_check.py [--steps 300] [--json FILE]

Cases, each a real ``core train examples/mnist5k.yaml`` run in a temporary runs folder:
fp32; bf16; bf16 with channels-last; bf16 with channels-last and ``train.compile``; and, when
more than one GPU is visible, the last one again under ``torchrun`` on every GPU (DDP over
NCCL, the same global batch). The table gives each case's seconds (the Trainer's clock at
its last logged step, compilation included), images/s and final loss. On a machine without CUDA it prints one line
saying so and exits with status 1: nothing was checked. ``--cpu`` runs the same cases on the
CPU (no NCCL), to try the script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "mnist5k.yaml"

#: (case, precision, channels_last, compile)
CASES = [
    ("fp32", "fp32", False, False),
    ("bf16", "bf16", False, False),
    ("bf16 channels-last", "bf16", True, False),
    ("bf16 channels-last compile", "bf16", True, True),
]


def visible_gpus() -> int:
    """CUDA devices torch sees (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def run_case(
    name: str,
    overrides: list[str],
    runs: Path,
    processes: int,
) -> dict[str, Any]:
    """One ``core train`` of the example with ``overrides``; its last logged record."""
    run_name = name.replace(" ", "-")
    command = ["-m", "core", "train", str(EXAMPLE), *overrides]
    command += ["--runs-dir", str(runs), "--run-name", run_name, "--quiet"]
    if processes > 1:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
        argv = [torchrun, "--standalone", f"--nproc_per_node={processes}", *command]
    else:
        argv = [sys.executable, *command]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return {"case": name, "processes": processes, "error": tail[0]}
    records = [
        json.loads(line)
        for line in (runs / run_name / "metrics.jsonl").read_text().splitlines()
        if line.strip()
    ]
    last = [r for r in records if "loss" in r][-1]
    return {
        "case": name,
        "processes": processes,
        "steps": last["step"],
        "seconds": last["time"],
        "images_per_s": last["samples_per_s"],
        "loss": last["loss"],
    }


def table(rows: list[dict[str, Any]], device: str) -> str:
    """The results as one Markdown table."""
    lines = [
        f"device: {device}",
        "",
        "| case | processes | steps | seconds | images/s | final loss |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | {r['processes']} | failed: {r['error']} | | | |")
        else:
            lines.append(
                f"| {r['case']} | {r['processes']} | {r['steps']} | {r['seconds']:.1f} | "
                f"{r['images_per_s']:.0f} | {r['loss']:.4f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per case")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--cpu", action="store_true", help="run the cases on the CPU instead")
    args = parser.parse_args(argv)

    gpus = visible_gpus()
    if not gpus and not args.cpu:
        print(
            "gpu_check: no CUDA device visible (torch.cuda.is_available() is False); nothing checked"
        )
        return 1
    import torch

    device = "cpu" if args.cpu else "cuda"
    name = f"{gpus} x {torch.cuda.get_device_name(0)}" if device == "cuda" else "cpu"
    common = [
        f"train.steps={args.steps}",
        f"train.device={device}",
        f"train.log_every={max(1, args.steps // 10)}",
        "train.checkpoint_every=null",
        "train.sample_every=null",
    ]
    cases = [
        (c, 1, [f"train.precision={p}", f"train.channels_last={cl}", f"train.compile={co}"])
        for c, p, cl, co in CASES
    ]
    if gpus > 1:
        cases.append((f"{cases[-1][0]} DDP nccl", gpus, cases[-1][2]))
    rows = []
    with tempfile.TemporaryDirectory(prefix="core-gpu-check-") as runs:
        for case, processes, overrides in cases:
            rows.append(run_case(case, overrides + common, Path(runs), processes))
            print(f"  {case}: done", file=sys.stderr, flush=True)
    print(table(rows, name))
    if args.json:
        from core.atomic import atomic_write_text

        record = {"device": name, "steps": args.steps, "torch": torch.__version__, "rows": rows}
        atomic_write_text(args.json, json.dumps(record, indent=2) + "\n")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

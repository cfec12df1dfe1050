"""Subprocess helpers of the reliability tests and benchmark.

python _worker.py save N            fork N processes that save a tiny model each to the
                                    store (CORE_HOME) at the same moment; print version and sum
python _worker.py ddp-fail RUN_DIR  under torchrun: train; rank 1 raises at step 3
"""

from __future__ import annotations

import json
import sys

from _toy import toy_run  # this folder is on sys.path: a script's own, or load_helper's


def save(writers: int) -> None:
    """Import torch once, then fork the writers: separate processes racing on the store."""
    import os

    import torch

    from core.building import build_model
    from core.pretrained import save_to_pretrained

    torch.set_num_threads(1)
    build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})  # import everything first
    read_end, write_end = os.pipe()
    children = []
    for seed in range(writers):
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            os.read(read_end, 1)  # wait for the start signal
            torch.manual_seed(seed)
            model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 64}})
            total = float(sum(p.detach().double().sum() for p in model.parameters()))
            info = save_to_pretrained(model, "shared", meta={"seed": seed})
            line = json.dumps({"seed": seed, "version": info.version, "sum": total}) + "\n"
            os.write(1, line.encode())
            os._exit(0)
        children.append(pid)
    os.close(read_end)
    os.write(write_end, b"x" * writers)  # all start at once
    failed = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        failed += status != 0
    raise SystemExit(1 if failed else 0)


def ddp_fail(run_dir: str) -> None:
    import os

    import torch

    from core.training import Trainer

    rank = int(os.environ.get("RANK", "0"))
    config = toy_run(size=256, steps=1000, batch_size=16, log_every=1, device="cpu")
    trainer = Trainer(config, run_dir=run_dir, quiet=True)
    original = trainer._train_step

    def step(batches):
        if rank == 1 and trainer.step == 3:
            raise RuntimeError("injected failure on rank 1 at step 3")
        return original(batches)

    trainer._train_step = step
    torch.set_num_threads(1)
    trainer.fit()


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    if command == "save":
        save(int(argument))
    elif command == "ddp-fail":
        ddp_fail(argument)
    else:
        raise SystemExit(f"unknown command {command}")

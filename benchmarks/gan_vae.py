"""Training throughput of DCGAN and VAE (64 px, batch 64): core Trainer vs a plain PyTorch loop.

Both sides train the same modules on the same data (scikit-learn digits resized to 64 px,
3 channels) in the same process; rounds alternate Trainer / plain loop and the table reports
the median images/s over the timed steps (warm-up steps excluded).

    .venv/bin/python benchmarks/gan_vae.py [--steps 6] [--warmup 2] [--rounds 2]

Prints a table and writes benchmarks/results/gan_vae.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import save_record, seconds_per_step, start_record, train
from _common.markdown import Col, Section, integer, sig, span

BATCH = 64
SIZE = 64
RESULTS = Path(__file__).resolve().parent / "results" / "gan_vae.json"

MODELS = {
    "dcgan": {
        "model": {"type": "dcgan"},
        "value_range": [-1, 1],
        "train": {"lr_schedule": "constant"},
    },
    "vae": {"model": {"type": "vae"}, "value_range": [0, 1], "train": {"lr": 1e-3}},
}


def run_config(name: str, steps: int) -> dict:
    spec = MODELS[name]
    return {
        "model": {**spec["model"], "image_size": SIZE},
        "data": {
            "type": "digits",
            "image_size": SIZE,
            "channels": 3,
            "value_range": spec["value_range"],
        },
        "train": {"steps": steps, "batch_size": BATCH, "log_every": 1, "seed": 0, **spec["train"]},
    }


def trainer_rates(name: str, steps: int, warmup: int) -> list[float]:
    """images/s of each timed step of a Trainer run, on its own clock (it logs every step).

    The clock is logged in milliseconds: steps much shorter than 0.1 s lose precision.
    """
    with tempfile.TemporaryDirectory() as tmp:
        marks = train(run_config(name, steps + warmup), run_dir=Path(tmp) / "run", quiet=True).marks
    return [BATCH / seconds for seconds in seconds_per_step(marks, skip=warmup)]


def plain_rates(name: str, steps: int, warmup: int) -> list[float]:
    """images/s of each timed step of a hand-written loop over the same modules and data."""
    import torch
    import torch.nn.functional as F

    import core

    torch.manual_seed(0)
    config = run_config(name, steps + warmup)
    model = core.build("model", config["model"]).train()
    data = core.build("dataset", config["data"])
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True)
    if name == "dcgan":
        c = model.config
        opt_d = torch.optim.Adam(
            model.discriminator.parameters(), c.lr_discriminator, betas=c.betas
        )
        opt_g = torch.optim.Adam(model.generator.parameters(), c.lr_generator, betas=c.betas)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rates: list[float] = []
    batches = iter(loader)
    for step in range(steps + warmup):
        start = time.perf_counter()
        try:
            x, _ = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, _ = next(batches)
        if name == "dcgan":
            z = torch.randn(x.shape[0], model.config.latent_dim, 1, 1)
            fake = model.generator(z)
            real_logits = model.discriminator(x)
            fake_logits = model.discriminator(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(
                real_logits, torch.ones_like(real_logits)
            ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            logits = model.discriminator(fake)
            loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            float(loss_d.detach()) + float(loss_g.detach())
        else:
            mu, logvar = model.encode(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            logits = model.decode_logits(z)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
            kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
            loss = rec + model.config.beta * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            float(loss.detach())
        if step >= warmup:
            rates.append(BATCH / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per run")
    parser.add_argument("--rounds", type=int, default=2, help="Trainer/plain alternations")
    parser.add_argument("--image-size", type=int, default=64, help="image side (smoke tests)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (smoke tests)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON result file")
    args = parser.parse_args()
    global SIZE, BATCH
    SIZE, BATCH = args.image_size, args.batch_size
    import torch

    import core

    record = start_record("gan_vae")
    rows = []
    for name in MODELS:
        trainer, plain = [], []
        for _ in range(args.rounds):
            trainer += trainer_rates(name, args.steps, args.warmup)
            plain += plain_rates(name, args.steps, args.warmup)
        t, p = statistics.median(trainer), statistics.median(plain)
        params = core.build("model", run_config(name, 1)["model"]).count_parameters()
        rows.append(
            {
                "model": name,
                "parameters": params,
                "image_size": SIZE,
                "batch_size": BATCH,
                "trainer_images_per_s": round(t, 2),
                "plain_images_per_s": round(p, 2),
                "trainer_vs_plain": round(t / p, 3),
                "trainer_range": [round(min(trainer), 2), round(max(trainer), 2)],
                "plain_range": [round(min(plain), 2), round(max(plain), 2)],
                "timed_steps": len(trainer),
            }
        )

    header = f"{'model':<6} {'params':>10} {'Trainer img/s':>14} {'plain img/s':>12} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['model']:<6} {r['parameters']:>10,} {r['trainer_images_per_s']:>14.1f} "
            f"{r['plain_images_per_s']:>12.1f} {r['trainer_vs_plain']:>6.3f}"
        )
    record["command"] = (
        "python benchmarks/gan_vae.py "
        f"--steps {args.steps} --warmup {args.warmup} --rounds {args.rounds} "
        f"--image-size {SIZE} --batch-size {BATCH}"
    )
    record |= {"threads": torch.get_num_threads(), "rows": rows}
    print(f"wrote {save_record('gan_vae', record, args.out)}")


def render(record: dict[str, Any], name: str = "gan_vae") -> Section:
    """Trainer against a plain loop, images/s per model."""
    s = Section.of(record, name, __doc__)
    s.table(
        [
            Col("model", "model"),
            Col("parameters", "parameters", integer),
            Col("image (px)", "image_size"),
            Col("batch", "batch_size"),
            Col("Trainer (images/s)", "trainer_images_per_s", sig),
            Col("plain loop (images/s)", "plain_images_per_s", sig),
            Col("Trainer / plain", "trainer_vs_plain", sig),
            Col("Trainer range (images/s)", "trainer_range", span),
            Col("plain range (images/s)", "plain_range", span),
            Col("timed steps", "timed_steps"),
        ],
        record["rows"],
    )
    s.add("Medians over the timed steps; the ranges are the slowest and fastest step.")
    return s


if __name__ == "__main__":
    main()

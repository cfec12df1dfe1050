"""The families' report card: every generative family's digits config, trained and scored alike.

For each family (one line of ``FAMILIES``: a config and overrides) and training seed it trains
with the core Trainer on one thread (the shipped configs stay within 5 minutes of training; the
table shows the CPU seconds measured), loads ``final/``, draws ``--n`` samples from sampling
seed 0 at the config's ``sample`` settings (class-balanced for a class-conditional model) and
scores them as the other digits benchmarks do (``benchmarks/_common/digits.py``): feature-FID
against the test split with its floor (``--n`` real training images against it), improved
precision and recall (k = 3) with the real data's own, class accuracy of a conditional model's
labels with the classifier's ceiling, and the median distance from each sample to its nearest
training image beside the test images' (copies would sit much closer). A model that
reconstructs (the VAEs) also reports its mean squared reconstruction error per pixel on the
test split, in [0, 1] units. Seed 0's first 64 samples are written as a grid per family to
``docs/images/families/``. Writes one JSON (``--out``) after every run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/families.py --seeds 0,1,2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/families.py --families dcgan,vae --seeds 0 --resume
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import resumed_record, save_record, train
from _common.digits import draw_balanced, reference_set, score_line, score_samples, summarise
from _common.markdown import Col, Section, code, integer, sig

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ROOT / "docs" / "images" / "families"
#: training seconds (one thread, CPU) the issue allows each family's config
BUDGET_SECONDS = 300.0


@dataclass(frozen=True)
class Family:
    """A report-card row: a run config, overrides, and the runs it needs first."""

    config: str
    overrides: list[str] = field(default_factory=list)
    #: trains what the config reads (an autoencoder...): (work folder, seed, overrides for
    #: every run) -> (overrides, the data section to score against)
    prepare: Callable[[Path, int, list[str]], tuple[list[str], dict[str, Any]]] | None = None


def latent_inputs(work: Path, seed: int, extra: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Train the digits autoencoder and embed the training digits (latent diffusion's input)."""
    import core

    autoencoder = work / "autoencoder"
    config = "plugins/core-autoencoder/configs/autoencoder-digits.yaml"
    every = [*extra, f"train.seed={seed}", "train.threads=1"]
    train(str(ROOT / config), overrides=every, run_dir=autoencoder, overwrite=True, quiet=True)
    embed = core.Config(str(ROOT / "plugins/core-autoencoder/configs/embed-digits.yaml"))
    dataset = core.build("dataset", embed["data"], where="data")
    manifest = core.build_model(str(autoencoder / "final")).embed_dataset(dataset, work / "latents")
    overrides = [f"model.decoder.checkpoint={autoencoder / 'final'}", f"data.path={manifest}"]
    score_data = {key: value for key, value in embed["data"].items() if key != "split"}
    return overrides, score_data


DCGAN = "plugins/core-gan/configs/dcgan-digits.yaml"
VAE = "plugins/core-vae/configs/vae-digits.yaml"

#: the report card's rows, one line per family: a new family joins with one line here; a
#: "-round2" row trains a shipped config with its previous recipe (the baseline)
FAMILIES: dict[str, Family] = {
    "dcgan": Family(DCGAN),
    "dcgan-round2": Family(DCGAN, ["model.augment=[]", "train.steps=1500"]),  # the baseline
    "vae": Family(VAE),
    "vae-round2": Family(VAE, ["model.num_classes=0", "train.steps=1500"]),  # the baseline
    "beta-vae": Family(VAE, ["model.type=beta-vae", "model.beta=4"]),
    "ddpm": Family("examples/quickstart.yaml"),
    "cnn-denoiser": Family("plugins/core-denoisers/configs/cnn_digits.yaml"),
    "latent-diffusion": Family(
        "plugins/core-autoencoder/configs/latent-diffusion-digits.yaml", prepare=latent_inputs
    ),
    "flow": Family("examples/flow-digits.yaml"),
}

#: registered models (families or denoising networks) with no row, and why
NOT_SCORED = {
    "autoencoder": "reconstructs images; latent-diffusion's row trains it as its first stage",
    "controlnet-diffusion": "draws images for a condition image each: no unconditional samples",
    "feedforward": "a DiffLUT classifier, not a generative model",
    "conv-feedforward": "a DiffLUT classifier, not a generative model",
    "cnn-denoiser-large": "cnn-denoiser at base 128 for 32 px RGB; its digits form has a row",
    "diffusers-unet": "diffusers' U-Net in ddpm; docs/models/diffusion.md scores it on digits",
    "mlp-denoiser": "a network for 2-D points (two moons), not images",
}

SCORES = ("feature_fid", "precision", "recall", "accuracy", "sample_to_train_median")


def reconstruction_error(model: Any, ref: dict[str, Any]) -> float | None:
    """Mean squared error per pixel, in [0, 1] units, of ``model.reconstruct`` on the test
    split of ``ref`` (``reference_set``); None for a model that does not reconstruct."""
    import torch

    if not hasattr(model, "reconstruct"):
        return None
    images, labels = ref["test"], ref["test_labels"]  # in [-1, 1]
    low, high = getattr(model, "sample_range", None) or (-1.0, 1.0)
    inputs = (images + 1) / 2 * (high - low) + low
    extra = (labels,) if getattr(model, "num_classes", 0) else ()
    with torch.no_grad():
        recon = model.reconstruct(inputs.to(model.device), *extra).float().cpu()
    return (((recon - low) / (high - low) - (images + 1) / 2) ** 2).mean().item()


def save_grid(model: Any, path: Path, sample: dict[str, Any]) -> Path:
    """Seed 0's 64 samples of ``model`` (labels 0..9 in turn when conditional) as a PNG."""
    from core.training.images import save_samples

    settings = (sample.get("sampler"), sample.get("steps"), sample.get("guidance_scale"))
    images, _ = draw_balanced(model, 64, *settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_samples(images, path, (-1.0, 1.0), nrow=8)


def run_family(
    name: str, seed: int, work: Path, n: int, extra: list[str], grids: Path
) -> dict[str, Any]:
    """Train family ``name`` at ``seed`` in ``work`` (``extra`` overrides last) and score it;
    seed 0 writes its grid into ``grids``."""
    import torch

    import core

    family = FAMILIES[name]
    load_before, cpu_start = os.getloadavg(), time.process_time()
    before, score_data = family.prepare(work, seed, extra) if family.prepare else ([], None)
    every = [*family.overrides, *before, *extra, f"train.seed={seed}", "train.threads=1"]
    config = core.Config(str(ROOT / family.config), overrides=every).to_dict()
    run_dir = work / "run"
    trained = train(
        str(ROOT / family.config), overrides=every, run_dir=run_dir, overwrite=True, quiet=True
    )
    cpu_seconds, load_after = time.process_time() - cpu_start, os.getloadavg()
    model = core.build_model(str(run_dir / "final")).eval()
    torch.set_num_threads(1)
    sample = config.get("sample") or {}
    data = score_data or config["data"]
    ref = reference_set(data, n)
    score = score_samples(
        model, ref, sample.get("sampler"), sample.get("steps"), sample.get("guidance_scale")
    )
    if seed == 0:
        save_grid(model, grids / f"{name}.png", sample)
    return {
        "family": name,
        "seed": seed,
        "config": family.config,
        "overrides": every,
        "model_type": config["model"]["type"],
        "train_steps": config["train"]["steps"],
        "parameters": model.count_parameters(),
        "train_seconds": trained.seconds,
        "train_cpu_seconds": cpu_seconds,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "reconstruction_mse": reconstruction_error(model, ref),
        "score": score,
    }


def summarise_rows(record: dict[str, Any]) -> None:
    """``record["rows"]``: per family, each score's mean and spread over seeds."""
    rows = []
    by_family: dict[str, list[dict[str, Any]]] = {}
    for run in record["runs"]:
        by_family.setdefault(run["family"], []).append(run)
    for name, runs in by_family.items():
        first = runs[0]["score"]
        row: dict[str, Any] = {
            "family": name,
            "config": runs[0]["config"],
            "seeds": [run["seed"] for run in runs],
            "fid_floor": first["fid_floor"],
            "precision_floor": first["precision_floor"],
            "recall_floor": first["recall_floor"],
            "accuracy_ceiling": first["accuracy_ceiling"],
            "test_to_train_median": first["test_to_train_median"],
        }
        for key in SCORES:
            got = [run["score"][key] for run in runs if run["score"][key] is not None]
            row[key] = summarise(got) if got else None
        row["fid_ratio"] = summarise([r["score"]["feature_fid"] / first["fid_floor"] for r in runs])
        for key in ("train_cpu_seconds", "train_seconds", "reconstruction_mse"):
            got = [run[key] for run in runs if run[key] is not None]
            row[key] = summarise(got) if got else None
        rows.append(row)
    record["rows"] = rows
    record["summary"] = {row["family"]: row for row in rows}  # quoted figures' paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--n", type=int, default=500, help="samples scored per run")
    parser.add_argument("--set", action="append", default=[], help="override for every family")
    parser.add_argument("--grids", default=str(GRIDS), help="folder of seed 0's sample grids")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/families.json"))
    parser.add_argument("--resume", action="store_true", help="skip runs already in --out")
    args = parser.parse_args()

    out = Path(args.out)
    record = resumed_record("families", out, args.resume)
    record.setdefault("runs", [])
    record["n"], record["budget_seconds"] = args.n, BUDGET_SECONDS
    done = {(r["family"], r["seed"]) for r in record["runs"]}
    for name in args.families.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            if (name, seed) in done:
                continue
            with tempfile.TemporaryDirectory(prefix=f"families-{name}-") as work:
                run = run_family(name, seed, Path(work), args.n, args.set, Path(args.grids))
            record["runs"].append(run)
            print(f"{name} seed {seed}: {score_line(run['score'])}", flush=True)
            summarise_rows(record)
            save_record("families", record, out)
    summarise_rows(record)
    print(f"wrote {save_record('families', record, out)}")


def _spread(score: dict[str, float] | None) -> str:
    if score is None:
        return "–"
    if score["min"] == score["max"]:
        return sig(score["mean"])
    return f"{sig(score['mean'])} ({sig(score['min'])}–{sig(score['max'])})"


def render(record: dict[str, Any], name: str = "families") -> Section:
    """One row per family (mean over seeds, lowest–highest), then seed 0's grids side by side."""
    summarise_rows(record)
    s, rows = Section.of(record, name, __doc__), record["rows"]
    first = rows[0]
    s.add(
        f"{integer(record['n'])} samples per run against the digits test split. Real data "
        f"(train against test): feature-FID {sig(first['fid_floor'])} at 32 px, precision "
        f"{sig(first['precision_floor'])}, recall {sig(first['recall_floor'])}; classifier "
        f"accuracy on real test images {sig(first['accuracy_ceiling'])}. Each family is scored "
        "against its own data section (the floor column: 8 px for the CNN denoiser, 16 px for "
        "latent diffusion). Training CPU seconds are those of the training process (latent "
        "diffusion's include its autoencoder and the embedding); the budget is "
        f"{integer(record['budget_seconds'])} s on one thread."
    )
    s.table(
        [
            Col("family", "family", code),
            Col("seeds", lambda r: len(r["seeds"]), integer),
            Col("training s, CPU", lambda r: _spread(r["train_cpu_seconds"]), str),
            Col("feature-FID", lambda r: _spread(r["feature_fid"]), str),
            Col("floor", "fid_floor", sig),
            Col("FID / floor", lambda r: _spread(r["fid_ratio"]), str),
            Col("precision", lambda r: _spread(r["precision"]), str),
            Col("recall", lambda r: _spread(r["recall"]), str),
            Col("accuracy", lambda r: _spread(r["accuracy"]), str),
            Col("nearest-train median", lambda r: _spread(r["sample_to_train_median"]), str),
            Col("test's", "test_to_train_median", sig),
            Col("reconstruction MSE", lambda r: _spread(r["reconstruction_mse"]), str),
        ],
        rows,
        title="mean over training seeds (lowest–highest seed)",
    )

    def draw(figure: Any) -> None:
        from matplotlib.image import imread

        shown = [row["family"] for row in rows if (GRIDS / f"{row['family']}.png").is_file()]
        columns = min(4, len(shown)) or 1
        panels = figure.subplots(-(-len(shown) // columns), columns, squeeze=False)
        for ax in panels.flat:
            ax.axis("off")
        for ax, family in zip(panels.flat, shown):
            ax.imshow(imread(GRIDS / f"{family}.png"), cmap="gray")
            ax.set_title(family, fontsize=9)

    s.plot(name, "seed 0's samples of each family, side by side", draw, size=(9.0, 5.0))
    if record.get("screening"):
        s.add(
            "**Screening before the recipes were chosen** (one seed, seed 0; overrides on the "
            "previous digits config; `weights` says which weights sampled, `temperature` the "
            "latent's scale): each row reproduces with `benchmarks/families.py --families "
            "dcgan-round2|vae-round2 --seeds 0 --set KEY=VALUE ...`."
        )
        s.table(
            [
                Col("family", "family", code),
                Col("overrides", lambda r: " ".join(r["set"]) or "none", code),
                Col("training s, CPU", "cpu_seconds", sig),
                Col("weights", "weights", str),
                Col("temperature", "temperature", sig),
                Col("feature-FID", "feature_fid", sig),
                Col("precision", "precision", sig),
                Col("recall", "recall", sig),
                Col("accuracy", "accuracy", sig),
            ],
            record["screening"],
        )
    return s


if __name__ == "__main__":
    main()

"""Trains and measures the three digits examples; writes the numbers and images of the docs.

    .venv/bin/python plugins/core-autoencoder/examples/digits_demo.py            # everything
    .venv/bin/python plugins/core-autoencoder/examples/digits_demo.py --reuse    # skip trained runs

Stages: the multi-head autoencoder (configs/autoencoder-digits.yaml), embedding the training
digits, latent diffusion on the latents (configs/latent-diffusion-digits.yaml) and ControlNet
on edge maps (configs/controlnet-digits.yaml). Prints a table and writes
examples/results/digits_demo.json and docs/models/images/autoencoder_*.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import core
from core.training import Trainer

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs"
REPO = HERE.parents[2]
IMAGES = REPO / "docs" / "models" / "images"
RESULTS = HERE / "results" / "digits_demo.json"


def grid(rows: list[torch.Tensor], scale: int = 2, pad: int = 2) -> Image.Image:
    """Rows of (N, 1, H, W) images in [-1, 1] (or masks in [0, 1] marked by ``.is_mask``)."""
    arrays = []
    for row in rows:
        row = row.detach().float().cpu()
        if row.min() >= 0:  # masks / edge maps in [0, 1]
            row = row * 2 - 1
        row = ((row.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0]
        n, h, w = row.shape
        canvas = np.full((h + pad, n * (w + pad)), 255, np.uint8)
        for i in range(n):
            canvas[:h, i * (w + pad) : i * (w + pad) + w] = row[i].numpy()
        arrays.append(canvas)
    image = Image.fromarray(np.concatenate(arrays, 0))
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def train(config: str, run: str, reuse: bool, overrides: list[str] = ()) -> tuple[Path, float]:
    """Train (or reuse) a run; returns its final directory and the training wall time."""
    final = REPO / "runs" / run / "final"
    if not (reuse and final.exists()):
        Trainer(
            CONFIGS / config,
            run_dir=REPO / "runs" / run,
            overwrite=True,
            quiet=True,
            overrides=overrides,
        ).fit()
    lines = (REPO / "runs" / run / "metrics.jsonl").read_text().splitlines()
    return final, float(json.loads(lines[-1])["time"])


def runtime_options(config: str, model) -> dict:
    """The runtime parameters the YAML sets (so reused runs sample as configured)."""
    from core.config import Config
    from core.schema import runtime_fields

    section = Config(CONFIGS / config).to_dict()["model"]
    return {k: v for k, v in section.items() if k in runtime_fields(type(model.config))}


def batches(dataset, size: int = 256):
    return torch.utils.data.DataLoader(dataset, batch_size=size, shuffle=False)


@torch.no_grad()
def evaluate_autoencoder(ae) -> dict:
    test = core.build(
        "dataset",
        {"type": "derived-targets", "base": {"type": "digits", "image_size": 16, "split": "test"}},
    )
    sq, n, hits, mask_hits, inter, union = 0.0, 0, 0, 0, 0, 0
    for batch in batches(test):
        out = ae.predict(batch["image"])
        sq += float(((out["rgb"] - batch["image"]) ** 2).sum())
        n += batch["image"].numel()
        hits += int((out["digit"].argmax(1) == batch["label"]).sum())
        pred = out["mask"].argmax(1)
        mask_hits += int((pred == batch["mask"]).sum())
        inter += int(((pred == 1) & (batch["mask"] == 1)).sum())
        union += int(((pred == 1) | (batch["mask"] == 1)).sum())
    first = test[0]["image"].shape
    pixels = len(test) * first[-1] * first[-2]
    sample = next(iter(batches(test, 12)))
    out = ae.predict(sample["image"])
    grid([sample["image"], out["rgb"], out["mask"][:, 1:2]]).save(
        IMAGES / "autoencoder_reconstructions.png"
    )
    return {
        "test_images": len(test),
        "reconstruction_mse": sq / n,
        "classification_accuracy": hits / len(test),
        "mask_pixel_accuracy": mask_hits / pixels,
        "mask_iou": inter / union,
    }


def edges_of(images: torch.Tensor) -> torch.Tensor:
    from core_autoencoder.derived import edge_map

    return torch.stack([edge_map(x, 0.2) for x in images])


def f1(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.bool(), b.bool()
    tp = (a & b).sum().item()
    return 2 * tp / max(a.sum().item() + b.sum().item(), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs under runs/")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    IMAGES.mkdir(parents=True, exist_ok=True)
    results: dict = {"command": "python plugins/core-autoencoder/examples/digits_demo.py"}

    # 1. multi-head autoencoder
    ae_dir, seconds = train("autoencoder-digits.yaml", "autoencoder-digits", args.reuse)
    ae = core.BaseModel.from_pretrained(ae_dir)
    results["autoencoder"] = {
        "parameters": ae.count_parameters(),
        "train_seconds": round(seconds, 1),
        **evaluate_autoencoder(ae),
    }

    # 2. embed the training digits once
    train_digits = core.build("dataset", {"type": "digits", "image_size": 16, "split": "train"})
    manifest = ae.embed_dataset(train_digits, REPO / "runs" / "digits-latents")
    embedded = core.build(
        "dataset", {"type": "manifest", "path": str(manifest), "columns": {"latent": "latent"}}
    )
    latents = torch.stack([embedded[i]["latent"] for i in range(len(embedded))])
    mean, std = float(latents.mean()), float(latents.std())
    results["latents"] = {
        "count": len(latents),
        "shape": list(latents.shape[1:]),
        "mean": mean,
        "std": std,
    }

    # 3. latent diffusion on the pre-embedded latents
    ldm_dir, seconds = train(
        "latent-diffusion-digits.yaml",
        "latent-diffusion-digits",
        args.reuse,
        [f"model.latent_shift={mean}", f"model.latent_scale={1 / std}"],
    )
    ldm = core.BaseModel.from_pretrained(ldm_dir)
    ldm.apply_runtime_overrides(**runtime_options("latent-diffusion-digits.yaml", ldm))
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    images = ldm.sample(256, generator=g, decode=True)
    sample_seconds = time.perf_counter() - start
    grid([images[i * 16 : (i + 1) * 16] for i in range(4)]).save(
        IMAGES / "autoencoder_ldm_samples.png"
    )
    classes = ae.predict(images)["digit"]
    counts = np.bincount(classes.argmax(1).numpy(), minlength=10)
    results["latent_diffusion"] = {
        "parameters_trainable": ldm.count_parameters(trainable_only=True),
        "train_seconds": round(seconds, 1),
        "samples": 256,
        "sampler": f"{ldm.config.sampler}, {ldm.config.sample_steps} steps, clip {ldm.config.clip_latents}",
        "sample_seconds": round(sample_seconds, 2),
        "classifier_class_counts": counts.tolist(),
        "classifier_mean_confidence": float(classes.max(1).values.mean()),
    }

    # 4. ControlNet on edge maps
    cn_dir, seconds = train(
        "controlnet-digits.yaml",
        "controlnet-digits",
        args.reuse,
        [f"model.base.checkpoint={ldm_dir}"],
    )
    cn = core.BaseModel.from_pretrained(cn_dir)
    cn.apply_runtime_overrides(**runtime_options("controlnet-digits.yaml", cn))
    cn.base.apply_runtime_overrides(**runtime_options("latent-diffusion-digits.yaml", cn.base))
    test = core.build(
        "dataset",
        {
            "type": "derived-targets",
            "base": {"type": "digits", "image_size": 16, "split": "test"},
            "targets": ["edges"],
        },
    )
    batch = next(iter(batches(test, 200)))
    control, labels = batch["edges"], batch["label"]
    x_T = torch.randn(len(control), 4, 4, 4, generator=torch.Generator().manual_seed(1))
    controlled = cn.sample(
        len(control), control=control, x_T=x_T, generator=torch.Generator().manual_seed(2)
    )
    cn.apply_runtime_overrides(control_scale=0.0)  # the same noise through the base alone
    uncontrolled = cn.sample(
        len(control), control=control, x_T=x_T, generator=torch.Generator().manual_seed(2)
    )
    cn.apply_runtime_overrides(control_scale=1.0)
    grid([batch["image"][:12], control[:12], controlled[:12], uncontrolled[:12]]).save(
        IMAGES / "autoencoder_controlnet_pairs.png"
    )
    acc = lambda imgs: float((ae.predict(imgs)["digit"].argmax(1) == labels).float().mean())  # noqa: E731
    results["controlnet"] = {
        "parameters_trainable": cn.count_parameters(trainable_only=True),
        "train_seconds": round(seconds, 1),
        "test_controls": len(control),
        "edge_f1_controlled": f1(edges_of(controlled), control),
        "edge_f1_uncontrolled": f1(edges_of(uncontrolled), control),
        "label_match_controlled": acc(controlled),
        "label_match_uncontrolled": acc(uncontrolled),
    }

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    for section, values in results.items():
        if isinstance(values, dict):
            print(f"[{section}]")
            for key, value in values.items():
                shown = f"{value:.4f}" if isinstance(value, float) else value
                print(f"  {key:32s} {shown}")
    print(f"wrote {RESULTS.relative_to(REPO)} and {IMAGES.relative_to(REPO)}/autoencoder_*.png")


if __name__ == "__main__":
    main()

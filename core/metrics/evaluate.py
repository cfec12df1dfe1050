"""Loading a run or pretrained model for sampling, and scoring its samples (``core evaluate``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core.config import Config, apply_overrides
from core.devices import resolve_device
from core.errors import ConfigError, TrainingError

__all__ = ["load_model", "evaluate_model", "reference_data", "evaluation_file_name"]


def load_model(
    source: str, *, device: str = "auto", raw: bool = False
) -> tuple[Any, dict[str, Any]]:
    """A model ready to sample and what is known about it.

    ``source`` is a run directory (its ``final/``, else its newest checkpoint; EMA weights
    unless ``raw``), a ``save_pretrained`` directory or a pretrained-store reference.
    Returns ``(model, info)`` with ``info`` keys ``source``, ``weights``, ``data``,
    ``sample``, ``run_dir`` (None unless a run).
    """
    from core.components import build, build_model
    from core.pretrained import pretrained_files, read_pretrained_yaml
    from core.training.checkpoint import latest_checkpoint
    from core.weights import load_weights

    path = Path(source)
    dev = resolve_device(device)
    info: dict[str, Any] = {"source": source, "run_dir": None, "data": None, "sample": {}}
    if path.is_dir() and (path / "config.yaml").is_file():  # a run directory
        info["run_dir"] = str(path)
        config = Config(path / "config.yaml").to_dict()
        info["data"], info["sample"] = config.get("data"), config.get("sample") or {}
        info["evaluate"] = config.get("evaluate") or {}
        info["run_config"] = config
        ckpt = latest_checkpoint(path)
        final = path / "final"
        if final.is_dir() and not raw:
            model = build_model(str(final))
            meta = read_pretrained_yaml(pretrained_files(final)[0])["meta"]
            info["weights"] = f"{meta.get('weights', 'final')} (final/)"
        elif ckpt is not None:
            model = build("model", config["model"], where="model", source=str(path / "config.yaml"))
            ema = ckpt / "ema.safetensors"
            use = ema if ema.is_file() and not raw else ckpt / "model.safetensors"
            load_weights(model, use)
            info["weights"] = f"{use.stem} ({ckpt.name})"
        else:
            raise TrainingError(f"{path}: run has no final/ and no complete checkpoint yet")
    else:
        model = build_model(source)
        info["weights"] = "pretrained"
        if path.is_dir() or not path.exists():
            from core.pretrained import resolve_pretrained

            where = path if path.is_dir() else resolve_pretrained(source).path
            meta = read_pretrained_yaml(pretrained_files(where)[0])["meta"]
            info["data"], info["sample"] = meta.get("data"), meta.get("sample") or {}
    return model.to(dev).eval(), info


def reference_data(section: dict[str, Any], split: str) -> Any:
    """The dataset of ``section`` with ``split``."""
    from core.components import build

    section = dict(section)
    if "split" in section or section.get("type") in {
        "digits",
        "mnist-5k",
        "mnist",
        "image-folder",
        "toy2d",
    }:
        section["split"] = split
    return build("dataset", section, where="data")


def _stack(dataset: Any, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    if hasattr(dataset, "images"):
        x, y = dataset.images, dataset.labels
    elif hasattr(dataset, "points"):
        x, y = dataset.points, dataset.labels
    else:
        items = [
            dataset[i] for i in range(len(dataset) if limit is None else min(limit, len(dataset)))
        ]
        x = torch.stack([torch.as_tensor(i[0]) for i in items])
        y = torch.as_tensor([int(i[1]) for i in items])
    return (x, y) if limit is None else (x[:limit], y[:limit])


def _to_symmetric(x: torch.Tensor, value_range: Any) -> torch.Tensor:
    if value_range is None:
        return x
    low, high = float(value_range[0]), float(value_range[1])
    return (x.float() - low) / (high - low) * 2.0 - 1.0


def evaluate_model(
    source: str,
    *,
    metric: str | None = None,
    n: int | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    sampler_options: dict[str, Any] | None = None,
    guidance_scale: float | None = None,
    seed: int = 0,
    split: str = "test",
    device: str = "auto",
    raw: bool = False,
    overrides: list[str] | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Score ``n`` samples of ``source`` with ``metric`` against a data split, with a floor.

    ``metric`` and ``n`` default to the run's ``evaluate`` section (feature-fid, 1000);
    ``sampler_options`` (``{"eta": 0.5}``) go to ``model.sample`` with the sampler, and so
    does ``guidance_scale`` (default: the run's ``sample.guidance_scale``) when set.
    A run directory gets the result as
    ``eval_<metric>_<sampler>-<steps>[_cfg<scale>]_seed<seed>.json`` (parts that are not
    known are left out), so evaluations with other settings do not overwrite it.

    The floor is the same metric between ``n`` images of the other split (train when the
    reference is test) and the reference: what real data of that size scores.
    """
    from core.components import build
    from core.sampling import draw_samples
    from core.training.sections import validate_evaluate_section

    model, info = load_model(source, device=device, raw=raw)
    run_config = str(Path(info["run_dir"]) / "config.yaml") if info.get("run_dir") else None
    chosen = validate_evaluate_section(info.get("evaluate") or {}, source=run_config)
    given = {k: v for k, v in (("metric", metric), ("n", n)) if v is not None}
    if given:  # arguments win over the run's evaluate section, and are checked the same way
        chosen = validate_evaluate_section({**chosen.model_dump(), **given})
    metric, n = chosen.metric, chosen.n
    data_section = dict(info.get("data") or {})
    if overrides:
        wrapped = {"data": data_section}
        apply_overrides(wrapped, overrides)
        data_section = wrapped["data"]
    if not data_section.get("type"):
        raise ConfigError(
            f"{source}: no data section known; give one, e.g. data.type=digits data.image_size=16"
        )
    scorer = build("metric", {"type": metric}, where="metric")
    key = getattr(scorer, "key", metric.replace("-", "_"))
    reference = reference_data(data_section, split)
    other = reference_data(data_section, "train" if split == "test" else "test")
    ref_x, ref_y = _stack(reference)
    data_range = getattr(reference, "value_range", None)
    sample_range = getattr(model, "sample_range", None) or data_range
    sample_cfg = info.get("sample") or {}
    extra: dict[str, Any] = dict(sampler_options or {})
    if guidance_scale is None:
        guidance_scale = sample_cfg.get("guidance_scale")
    if guidance_scale is not None:
        extra["guidance_scale"] = guidance_scale
    labels = None
    if key == "accuracy":
        classes = int(getattr(model, "num_classes", 0) or 0)
        if classes < 2:
            raise ConfigError(
                f"metric 'accuracy' scores class-conditional samples; {source} is not conditional"
            )
        labels = torch.arange(n) % classes
        extra["y"] = labels.to(model.device)
    sampler = sampler or sample_cfg.get("sampler")
    steps = steps or sample_cfg.get("steps")
    samples = draw_samples(
        model,
        n,
        sampler=sampler,
        steps=steps,
        seed=seed,
        batch_size=int(sample_cfg.get("batch_size", 256)),
        **extra,
    )
    samples = _to_symmetric(samples, sample_range)
    ref_sym = _to_symmetric(ref_x, data_range)
    if key == "accuracy":
        value = scorer(samples, labels=labels)
        floor_value = scorer(ref_sym, labels=ref_y)
        floor_text = f"classifier accuracy on the {len(ref_y)} real {split} images"
    else:
        if samples.shape[1:] != ref_sym.shape[1:] and samples.ndim != 4:
            raise ConfigError(
                f"samples of shape {tuple(samples.shape[1:])} do not match the data's "
                f"{tuple(ref_sym.shape[1:])}"
            )
        value = scorer(samples, ref_sym)
        other_x, _ = _stack(other)
        generator = torch.Generator().manual_seed(seed)
        pick = torch.randperm(len(other_x), generator=generator)[:n]
        floor_value = scorer(_to_symmetric(other_x[pick], data_range), ref_sym)
        floor_text = (
            f"{len(pick)} real {'train' if split == 'test' else 'test'} images vs the "
            f"{len(ref_sym)} {split} images"
        )
    result = {
        "metric": metric,
        "key": key,
        "value": value[key],
        "floor": floor_value[key],
        "floor_description": floor_text,
        "bound": "ceiling" if key == "accuracy" else "floor",  # what real data scores
        "details": value,
        "n": n,
        "reference": {"data": data_section, "split": split, "size": len(ref_sym)},
        "sampler": sampler,
        "steps": steps,
        "sampler_options": dict(sampler_options or {}),
        "guidance_scale": guidance_scale,
        "seed": seed,
        "weights": info["weights"],
        "source": source,
    }
    if write and info.get("run_dir"):
        from core.atomic import atomic_write_text

        name = evaluation_file_name(
            metric,
            sampler or _model_option(model, "sampler"),
            steps or _model_option(model, "sample_steps"),
            seed,
            guidance_scale,
        )
        out = Path(info["run_dir"]) / name
        atomic_write_text(out, json.dumps(result, indent=2, default=str))
        result["written"] = str(out)
        _log_evaluation(Path(info["run_dir"]), info["run_config"], result)
    return result


def evaluation_file_name(
    metric: str,
    sampler: str | None,
    steps: int | None,
    seed: int,
    guidance_scale: float | None = None,
) -> str:
    """``eval_<metric>_<sampler>-<steps>[_cfg<scale>]_seed<seed>.json``; unknown parts left out."""
    parts = [f"eval_{metric}"]
    setting = "-".join(str(part) for part in (sampler, steps) if part is not None)
    if setting:
        parts.append(setting)
    if guidance_scale is not None:
        parts.append(f"cfg{float(guidance_scale):g}")
    parts.append(f"seed{seed}")
    return "_".join(parts) + ".json"


def _model_option(model: Any, key: str) -> Any:
    """A sampling default of the model's config (``sampler``, ``sample_steps``), if any."""
    value = getattr(getattr(model, "config", None), key, None)
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _log_evaluation(run_dir: Path, run_config: dict[str, Any], result: dict[str, Any]) -> None:
    """``eval/<metric>`` (and its floor) to the run's loggers, at the run's last step."""
    from core.loggers.run import log_to_run
    from core.training.checkpoint import checkpoint_step, latest_checkpoint

    checkpoint = latest_checkpoint(run_dir)
    step = checkpoint_step(checkpoint) if checkpoint is not None else 0
    name = f"eval/{result['metric']}"
    values = {name: float(result["value"]), f"{name}/floor": float(result["floor"])}
    log_to_run(run_dir, run_config, values, step)

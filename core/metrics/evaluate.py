"""Loading a run or pretrained model for sampling, and scoring its samples (``core evaluate``).

Evaluating reads the run and, unless told not to, writes its result JSON beside it; it adds
the result to the run's loggers only when asked (``log=True``, ``core evaluate --log``), and
then only appends: no logged line is dropped or rewritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.atomic import atomic_write_text
from core.building import build
from core.config import apply_overrides
from core.devices import resolve_device
from core.errors import ConfigError
from core.loading import load_located, locate
from core.loggers.run import log_to_run
from core.model_card import refresh_run_card
from core.sample_folders import iter_shards, read_manifest, source_key
from core.sampling import draw_samples
from core.training.checkpoint import checkpoint_step, latest_checkpoint
from core.training.sections import validate_evaluate_section

__all__ = [
    "load_model",
    "evaluate_model",
    "score_model",
    "Evaluation",
    "reference_data",
    "evaluation_file_name",
]


def load_model(
    source: str, *, device: str = "auto", raw: bool = False
) -> tuple[Any, dict[str, Any]]:
    """A model ready to sample (``core.loading``, eval mode) and what is known about it.

    ``source`` is a run directory (its ``final/``, else its newest checkpoint; EMA weights
    unless ``raw``), a checkpoint folder, a ``save_pretrained`` folder or a pretrained-store
    reference. Returns ``(model, info)`` with ``info`` keys ``source``, ``weights``, ``data``,
    ``sample``, ``evaluate``, ``run_dir`` and ``run_config`` (None unless a run directory).
    """
    found = locate(source, raw=raw)
    model = load_located(found, device=resolve_device(device))
    info = {
        "source": source,
        "weights": found.label,
        "run_dir": str(found.run_dir) if found.form == "run" else None,
        "run_config": found.run_config if found.form == "run" else None,
        **found.sections,
    }
    return model.eval(), info


def reference_data(section: dict[str, Any], split: str) -> Any:
    """The dataset of ``section`` with ``split``."""
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


@dataclass
class Evaluation:
    """A scored evaluation, not yet recorded: its ``result`` and where it belongs.

    ``run_dir`` is None unless the source was a run directory; ``write`` puts the result
    there (``file_name``) and ``log`` appends it to the run's loggers at ``step``.
    """

    result: dict[str, Any]
    file_name: str
    step: int = 0
    run_dir: Path | None = None
    run_config: dict[str, Any] | None = None

    def write(self) -> Path | None:
        """Write the result JSON into the run, atomically, then refresh the metrics of the
        run's ``final/`` model card (nothing for a non-run source)."""
        if self.run_dir is None:
            return None
        out = self.run_dir / self.file_name
        atomic_write_text(out, json.dumps(self.result, indent=2, default=str))
        self.result["written"] = str(out)
        refresh_run_card(self.run_dir)
        return out

    def log(self) -> None:
        """Append ``eval/<metric>`` and its floor (and ``eval/<metric>/<key>`` and its floor
        for each value of a metric reporting several) to the run's loggers; none is truncated."""
        if self.run_dir is None:
            raise ConfigError(f"{self.result['source']}: not a run directory; it has no loggers")
        name = f"eval/{self.result['metric']}"
        values = {name: float(self.result["value"]), f"{name}/floor": float(self.result["floor"])}
        for key, floor in self.result.get("floors", {}).items():
            values[f"{name}/{key}"] = float(self.result["values"][key])
            values[f"{name}/{key}/floor"] = float(floor)
        log_to_run(self.run_dir, self.run_config or {}, values, self.step)


def evaluate_model(
    source: str,
    *,
    write: bool = True,
    log: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Score ``source`` (``score_model``'s options) and return the result.

    A run directory gets the result as
    ``eval_<metric>_<sampler>-<steps>[_cfg<scale>]_seed<seed>.json`` (parts that are not
    known are left out, so evaluations with other settings do not overwrite it) unless
    ``write`` is False; ``log`` also appends it to the run's loggers (it needs ``write``).
    """
    if log and not write:
        raise ConfigError("evaluate: log=True writes to the run's loggers; it needs write=True")
    evaluation = score_model(source, log=log, **options)
    if write:
        evaluation.write()
    if log:
        evaluation.log()
    return evaluation.result


def score_model(
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
    log: bool = False,
    samples: str | None = None,
) -> Evaluation:
    """Score ``n`` samples of ``source`` with ``metric`` against a data split, with a floor;
    nothing is written (``Evaluation.save`` does that).

    ``metric`` and ``n`` default to the run's ``evaluate`` section (feature-fid, 1000);
    ``sampler_options`` (``{"eta": 0.5}``) go to ``model.sample`` with the sampler, and so
    does ``guidance_scale`` (default: the run's ``sample.guidance_scale``) when set. ``log``
    (the result will go to the run's loggers) is refused before sampling for a non-run source.

    The floor is the same metric between ``n`` images of the other split (train when the
    reference is test) and the reference: what real data of that size scores.

    ``samples``, a folder ``core sample --out-dir`` wrote from ``source``, is scored instead:
    its manifest gives ``n`` and the sampling settings, which must not be given."""
    model, info = load_model(source, device=device, raw=raw)
    if log and not info["run_dir"]:
        raise ConfigError(f"--log: {source} is not a run directory; it has no loggers to add to")
    sample_cfg = info.get("sample") or {}
    given = {"sampler": sampler, "steps": steps, "guidance_scale": guidance_scale}
    settings = _drawing_settings(sample_cfg, given, sampler_options, seed)
    folder = None
    if samples is not None:
        folder = _sample_folder(samples, source, raw, n, {**given, "options": sampler_options})
        n, settings = folder["n"], _folder_settings(folder)
    chosen = _chosen_metric(info, metric, n)
    data_section = _data_section(info, overrides, source)
    scorer = build("metric", {"type": chosen.metric}, where="metric")
    batch_size = int(sample_cfg.get("batch_size", 256))
    scoring = (model, scorer, chosen, data_section, split, settings, batch_size, source)
    result = _score(*scoring, folder=folder)
    result.update(weights=info["weights"], source=source)
    name = evaluation_file_name(
        chosen.metric,
        settings["sampler"] or _model_option(model, "sampler"),
        settings["steps"] or _model_option(model, "sample_steps"),
        settings["seed"],
        settings["guidance_scale"],
    )
    run_dir = Path(info["run_dir"]) if info["run_dir"] else None
    return Evaluation(result, name, _last_step(run_dir), run_dir, info.get("run_config"))


def _chosen_metric(info: dict[str, Any], metric: str | None, n: int | None) -> Any:
    """The metric and sample count: the arguments given, else the run's ``evaluate`` section."""
    run_config = str(Path(info["run_dir"]) / "config.yaml") if info["run_dir"] else None
    chosen = validate_evaluate_section(info.get("evaluate") or {}, source=run_config)
    given = {k: v for k, v in (("metric", metric), ("n", n)) if v is not None}
    if given:  # arguments win over the run's evaluate section, and are checked the same way
        chosen = validate_evaluate_section({**chosen.model_dump(), **given})
    return chosen


def _data_section(info: dict[str, Any], overrides: list[str] | None, source: str) -> dict[str, Any]:
    """The reference data section: the model's, changed by ``overrides`` (``data.key=value``)."""
    data_section = dict(info.get("data") or {})
    if overrides:
        wrapped = {"data": data_section}
        apply_overrides(wrapped, overrides)
        data_section = wrapped["data"]
    if not data_section.get("type"):
        raise ConfigError(
            f"{source}: no data section known; give one, e.g. data.type=digits data.image_size=16"
        )
    return data_section


def _score(
    model: Any,
    scorer: Any,
    chosen: Any,
    data_section: dict[str, Any],
    split: str,
    settings: dict[str, Any],
    batch_size: int,
    source: str,
    *,
    folder: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Draw ``chosen.n`` samples with ``settings`` (or read ``folder``'s, a sample folder's
    manifest with its ``path``); score them and the real-data bound."""
    metric, n = chosen.metric, chosen.n
    key = getattr(scorer, "key", metric.replace("-", "_"))
    reference = reference_data(data_section, split)
    ref_x, ref_y = _stack(reference)
    data_range = getattr(reference, "value_range", None)
    ref_sym = _to_symmetric(ref_x, data_range)
    if folder is not None:
        value = _score_folder(scorer, key, folder, ref_sym, data_range)
    else:
        drawn = (model, n, settings, batch_size, source)
        value = _score_drawn(scorer, key, drawn, ref_sym, data_range)
    if key == "accuracy":
        floor_value = scorer(ref_sym, labels=ref_y)
        floor_text = f"classifier accuracy on the {len(ref_y)} real {split} images"
    else:
        floor_value, floor_text = _distance_floor(
            scorer, ref_sym, data_section, split, data_range, n, settings["seed"]
        )
    keys = tuple(getattr(scorer, "keys", (key,)))  # a metric may report several values
    several = {"values": {k: value[k] for k in keys}, "floors": {k: floor_value[k] for k in keys}}
    return {
        "metric": metric,
        "key": key,
        "value": value[key],
        "floor": floor_value[key],
        **(several if len(keys) > 1 else {}),
        "floor_description": floor_text,
        "bound": "ceiling" if key == "accuracy" else "floor",  # what real data scores
        "details": value,
        "n": n,
        "reference": {"data": data_section, "split": split, "size": len(ref_sym)},
        **settings,
        **({"samples": folder["path"]} if folder is not None else {}),
    }


def _score_drawn(
    scorer: Any, key: str, drawn: tuple[Any, ...], ref_sym: torch.Tensor, data_range: Any
) -> dict[str, Any]:
    """Draw ``n`` samples of ``model`` with ``settings`` (``drawn``) and score them (for
    accuracy, class ``i % classes`` for sample ``i``)."""
    model, n, settings, batch_size, source = drawn
    extra: dict[str, Any] = dict(settings["sampler_options"])
    if settings["guidance_scale"] is not None:
        extra["guidance_scale"] = settings["guidance_scale"]
    labels = _class_labels(model, n, source) if key == "accuracy" else None
    if labels is not None:
        extra["y"] = labels.to(model.device)
    samples = draw_samples(
        model,
        n,
        sampler=settings["sampler"],
        steps=settings["steps"],
        seed=settings["seed"],
        batch_size=batch_size,
        **extra,
    )
    samples = _to_symmetric(samples, getattr(model, "sample_range", None) or data_range)
    if labels is not None:
        return scorer(samples, labels=labels)
    return _distance(scorer, samples, ref_sym)


def _refuse_drawing_options(path: str, given: dict[str, Any]) -> None:
    """Refuse sampling settings given with a sample folder (its manifest has them)."""
    named = [key for key, value in given.items() if value is not None]
    if named:
        raise ConfigError(
            f"--samples {path}: its manifest.json sets {', '.join(named)}; drop those options"
        )


def _sample_folder(
    path: str, source: str, raw: bool, n: int | None, given: dict[str, Any]
) -> dict[str, Any]:
    """The manifest of the sample folder ``path``, refused unless drawn from ``source`` (and
    its weights), or with sampling settings ``given``; ``n``, when given, must be the folder's."""
    _refuse_drawing_options(path, {**given, "options": given["options"] or None})
    manifest = read_manifest(path)
    if manifest.get("source") != source_key(source) or manifest.get("raw") != raw:
        weights = "raw" if manifest.get("raw") else "EMA"
        raise ConfigError(
            f"--samples {path}: drawn from {manifest.get('source')!r} ({weights} weights), "
            f"not from {source!r}{' with --raw' if raw else ''}"
        )
    if n is not None and n != manifest["n"]:
        raise ConfigError(f"--samples {path}: holds {manifest['n']} samples; -n {n} differs")
    return {**manifest, "path": str(path)}


def _drawing_settings(
    sample_cfg: dict[str, Any], given: dict[str, Any], options: Any, seed: int
) -> dict[str, Any]:
    """The sampling settings ``given`` (sampler, steps, guidance_scale), else the run's
    ``sample`` section's, with the sampler ``options`` and ``seed``."""
    chosen = {key: sample_cfg.get(key) if value is None else value for key, value in given.items()}
    return {**chosen, "sampler_options": dict(options or {}), "seed": seed}


def _folder_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    """The sampling settings a sample folder's manifest records, as ``_score`` takes them."""
    keys = ("sampler", "steps", "sampler_options", "seed")
    return {**{key: manifest[key] for key in keys}, "guidance_scale": manifest["guidance"]}


def _score_folder(
    scorer: Any, key: str, folder: dict[str, Any], ref_sym: torch.Tensor, data_range: Any
) -> dict[str, Any]:
    """Score the samples of a folder shard by shard: a feature metric (``features`` and
    ``score``) keeps only features, accuracy only its count of hits; any other metric is
    given every sample at once."""
    value_range = folder.get("value_range") or data_range
    shards = ((_to_symmetric(x, value_range), y) for x, y in iter_shards(folder["path"], folder))
    if key == "accuracy":
        if folder.get("labels") is None:
            raise ConfigError(
                f"metric 'accuracy': the samples in {folder['path']} have no class labels "
                "(drawn from a model that is not class-conditional)"
            )
        hits = sum(scorer(x, labels=y)[key] * len(x) for x, y in shards)
        return {key: hits / folder["n"]}
    if hasattr(scorer, "features") and hasattr(scorer, "score"):
        features = torch.cat([scorer.features(x, (-1.0, 1.0)) for x, _ in shards])
        return scorer.score(features.numpy(), scorer.features(ref_sym, (-1.0, 1.0)).numpy())
    return _distance(scorer, torch.cat([x for x, _ in shards]), ref_sym)


def _class_labels(model: Any, n: int, source: str) -> torch.Tensor:
    """The labels ``0, 1, ..`` of ``n`` class-conditional samples; refused for a model
    without classes."""
    classes = int(getattr(model, "num_classes", 0) or 0)
    if classes < 2:
        raise ConfigError(
            f"metric 'accuracy' scores class-conditional samples; {source} is not conditional"
        )
    return torch.arange(n) % classes


def _distance(scorer: Any, samples: torch.Tensor, reference: torch.Tensor) -> dict[str, Any]:
    """``scorer`` between the samples and the reference images, once their shapes agree."""
    if samples.shape[1:] != reference.shape[1:] and samples.ndim != 4:
        raise ConfigError(
            f"samples of shape {tuple(samples.shape[1:])} do not match the data's "
            f"{tuple(reference.shape[1:])}"
        )
    return scorer(samples, reference)


def _distance_floor(
    scorer: Any,
    reference: torch.Tensor,
    data_section: dict[str, Any],
    split: str,
    data_range: Any,
    n: int,
    seed: int,
) -> tuple[dict[str, Any], str]:
    """What ``n`` real images of the other split score against ``reference``, and its text."""
    other_split = "train" if split == "test" else "test"
    other_x, _ = _stack(reference_data(data_section, other_split))
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(other_x), generator=generator)[:n]
    floor_value = scorer(_to_symmetric(other_x[pick], data_range), reference)
    text = f"{len(pick)} real {other_split} images vs the {len(reference)} {split} images"
    return floor_value, text


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


def _last_step(run_dir: Path | None) -> int:
    """The step of a run's newest complete checkpoint (0 without one): where results are logged."""
    checkpoint = latest_checkpoint(run_dir) if run_dir is not None else None
    return checkpoint_step(checkpoint) if checkpoint is not None else 0

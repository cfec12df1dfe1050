"""Model cards: the ``README.md`` written beside a model's weights (torch-free).

``render_model_card(document, name)`` turns a pretrained YAML document (its ``model`` and
``meta`` sections) into Markdown whose YAML front matter is the Hugging Face Hub's model-card
metadata (``library_name``, ``tags``, ``pipeline_tag``, ``datasets``, ``metrics`` and the
``model-index`` of results). The card holds only what the document holds, the same document
always gives the same card, and a fact the document does not hold reads "not recorded".
``refresh_run_card(run_dir)`` rewrites a run's ``final/`` card with its evaluations.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from core._card_facts import command_line, model_provider, run_evaluations
from core._markdown import code_span, fenced_block, inline_text, one_line, table
from core._store_files import CARD_NAME, read_pretrained_yaml
from core.atomic import atomic_write_text

__all__ = [
    "CARD_NAME",
    "NOT_RECORDED",
    "render_model_card",
    "render_stored_card",
    "write_model_card",
    "refresh_run_card",
    "pipeline_tag",
    "IMAGE_GENERATION",
    "IMAGE_CLASSIFICATION",
    "model_provider",
    "run_evaluations",
    "command_line",
]

NOT_RECORDED = "not recorded"
#: the Hub's pipeline tags of generative image models and of classifiers.
IMAGE_GENERATION = "unconditional-image-generation"
IMAGE_CLASSIFICATION = "image-classification"
#: the first word of a metric key naming the data split it was measured on (``test_accuracy``).
_SPLIT_WORDS = ("train", "test", "val", "validation")
#: a ``meta`` key holding one of these words is a metric (``test_accuracy``, ``feature-fid``).
_METRIC_WORD = re.compile(
    r"accuracy|acc|loss|fid|kid|luts?|psnr|ssim|nll|bpd|elbo|error|f1|precision|recall|auc"
    r"|perplexity|mse|mae|score"
)
#: ``meta`` keys the card shows in their own sections (``dataset`` and ``split`` too, unless
#: the ``data`` section gives its own).
_SECTION_KEYS = frozenset(
    [
        "core_version",
        "provider",
        "parameters",
        "metrics",
        "evaluations",
        "data",
        "data_size",
        "trained_on",
        "command",
        "script",
        "pipeline_tag",
    ]
)


def render_model_card(document: Mapping[str, Any], name: str | None = None) -> str:
    """The card of a ``{"model": ..., "meta": ...}`` document; ``name`` is the files' stem."""
    model = _mapping(document.get("model"))
    meta = _mapping(document.get("meta"))
    model_type = one_line(model.get("type", NOT_RECORDED), 128)
    stem = name or model_type
    parts = [
        _front_matter(model_type, stem, model, meta),
        f"# {inline_text(stem)}",
        f"A {code_span(model_type)} model for core: weights in {code_span(stem + '.safetensors')}, "
        f"config and metadata in {code_span(stem + '.yaml')}. This card is generated from that YAML.",
        "## Model\n\n" + _model_table(model_type, meta),
        "## Metrics\n\n" + _metrics(meta),
        "## Training data\n\n" + _training_data(meta),
        "## Command\n\n" + _command(meta),
        "## Config\n\n" + fenced_block(_yaml({"model": model}), "yaml"),
        "## Other metadata\n\n" + _other_metadata(meta),
    ]
    return "\n\n".join(parts) + "\n"


def render_stored_card(document: Mapping[str, Any], name: str | None = None) -> str:
    """The card of weights saved without a recorded provider: it is looked up in the registry,
    without a version (the weights' plugin version is not known)."""
    meta = _mapping(document.get("meta"))
    if "provider" not in meta:
        provider = model_provider(str(_mapping(document.get("model")).get("type", "")))
        if provider:
            provider.pop("version", None)
            document = {**document, "meta": {**meta, "provider": provider}}
    return render_model_card(document, name)


def write_model_card(directory: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` as ``<directory>/README.md``, atomically."""

    path = Path(directory) / CARD_NAME
    atomic_write_text(path, text)
    return path


def refresh_run_card(run_dir: str | os.PathLike[str]) -> Path | None:
    """Give a run's ``final/`` model its ``eval_*.json`` results: the YAML's
    ``meta.evaluations`` and the card, each rewritten atomically. None without a final model."""
    final = Path(run_dir) / "final"
    documents = sorted(final.glob("*.yaml")) if final.is_dir() else []
    if len(documents) != 1 or not (final / CARD_NAME).is_file():
        return None
    document = read_pretrained_yaml(documents[0])
    meta = {**_mapping(document.get("meta")), "evaluations": run_evaluations(run_dir)}
    document = {**document, "meta": meta}
    card = write_model_card(final, render_model_card(document, documents[0].stem))
    atomic_write_text(documents[0], yaml.safe_dump(document, sort_keys=False))
    return card


def pipeline_tag(model: Mapping[str, Any], meta: Mapping[str, Any]) -> str | None:
    """The Hub's task of a model: ``meta.pipeline_tag`` when recorded; image classification
    when the meta records the model's own accuracy; unconditional image generation for a
    model of images (an ``image_size`` in its config or data) that its run sampled (``meta.sample``)."""
    recorded = meta.get("pipeline_tag")
    if isinstance(recorded, str) and one_line(recorded, 64):
        return one_line(recorded, 64)
    if any(result[0] == "accuracy" for result in _own_metrics(meta)):
        return IMAGE_CLASSIFICATION
    images = "image_size" in model or "image_size" in _mapping(meta.get("data"))
    return IMAGE_GENERATION if images and "sample" in meta else None


# -- sections ------------------------------------------------------------------------------


def _front_matter(
    model_type: str, name: str, model: Mapping[str, Any], meta: Mapping[str, Any]
) -> str:
    """The Hub's metadata block: tags (the family, model type, dataset), task, data, results."""
    provider = _provider(meta)
    dataset = _dataset_name(meta)
    tags = ["core"]
    for tag in (provider.get("distribution"), provider.get("plugin"), model_type, dataset):
        if tag and one_line(tag, 128) and one_line(tag, 128) not in tags:
            tags.append(one_line(tag, 128))
    head: dict[str, Any] = {"library_name": "core", "model_type": model_type, "tags": tags}
    task = pipeline_tag(model, meta)
    if task:
        head["pipeline_tag"] = task
    if dataset:
        head["datasets"] = [dataset]
    results = [*_own_metrics(meta), *_evaluated_metrics(meta)]
    if results:
        head["metrics"] = list(dict.fromkeys(result[0] for result in results))
    if results and task and dataset:
        head["model-index"] = [
            {"name": one_line(name, 128), "results": _model_index(results, task, dataset)}
        ]
    return "---\n" + yaml.safe_dump(head, sort_keys=False, width=1000) + "---"


#: ``(metric, name, value, split, dataset)`` of one result; no dataset: the training data's.
_Result = tuple[str, str, float, "str | None", "str | None"]


def _model_index(results: list[_Result], task: str, dataset: str) -> list[dict[str, Any]]:
    """The Hub's ``model-index`` results: one entry per dataset and split, metrics in order."""
    grouped: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for metric, name, value, split, data in results:
        entry = {"type": metric, "value": value, "name": name}
        grouped.setdefault((data or dataset, split), []).append(entry)
    entries = []
    for (data, split), metrics in grouped.items():
        where = {"name": data, "type": data, **({"split": split} if split else {})}
        entries.append({"task": {"type": task}, "dataset": where, "metrics": metrics})
    return entries


def _own_metrics(meta: Mapping[str, Any]) -> list[_Result]:
    """``(metric, name, value, split)`` of each number the meta records as a metric of the
    model (``test_accuracy: 0.98`` is accuracy on the test split)."""
    found = []
    for key, value in _metric_pairs(meta):
        if not _is_number(value):
            continue
        words = [word for word in re.split(r"[^a-z0-9]+", key.lower()) if word]
        named = [word for word in words if _METRIC_WORD.fullmatch(word)]
        metric = {"acc": "accuracy"}.get(named[0], named[0]) if named else one_line(key, 64)
        split = words[0] if words and words[0] in _SPLIT_WORDS else None
        found.append((metric, one_line(key, 128), value, split, None))
    return found


def _evaluated_metrics(meta: Mapping[str, Any]) -> list[_Result]:
    """``(metric, name, value, split)`` of each readable ``core evaluate`` result."""
    found = []
    for entry in _mapping(meta.get("evaluations")).values():
        result = _mapping(entry)
        if not _is_number(result.get("value")) or not result.get("metric"):
            continue
        metric = one_line(result["metric"], 64)
        sampling = result.get("sampling")
        name = f"{metric} ({one_line(sampling, 96)})" if sampling else metric
        split, data = (result.get(key) for key in ("split", "dataset"))
        split, data = (
            one_line(v, 128) if isinstance(v, str) and v else None for v in (split, data)
        )
        found.append((metric, name, result["value"], split, data))
    return found


def _model_table(model_type: str, meta: Mapping[str, Any]) -> str:
    provider = _provider(meta)
    version = provider.get("version")
    if version is None and provider.get("distribution") == "core":
        version = meta.get("core_version")  # core's own models: the core that saved them
    parameters = meta.get("parameters")
    rows = [
        ("model type", code_span(model_type)),
        ("plugin", _name_cell(provider.get("plugin"))),
        ("distribution", _name_cell(provider.get("distribution"))),
        ("plugin version", _cell(version)),
        ("core version", _cell(meta.get("core_version"))),
        ("parameters", f"{parameters:,}" if _is_int(parameters) else _cell(parameters)),
    ]
    return table(("field", "value"), rows)


def _metric_pairs(meta: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(dotted.key, value)`` of the meta's metrics: its metric-named keys, then the
    ``metrics`` mapping's."""
    pairs = [
        (key, value)
        for name, value in meta.items()
        if str(name) not in _SECTION_KEYS and _is_metric(name)
        for key, value in _flatten(str(name), value)
    ]
    metrics = meta.get("metrics")  # an explicit mapping of metrics
    if isinstance(metrics, Mapping):
        pairs += [pair for name, value in metrics.items() for pair in _flatten(str(name), value)]
    return pairs


def _metrics(meta: Mapping[str, Any]) -> str:
    rows = [(code_span(key), _cell(value)) for key, value in _metric_pairs(meta)]
    metrics = meta.get("metrics")
    if metrics is not None and not isinstance(metrics, Mapping):
        rows.append((code_span("metrics"), _cell(metrics)))
    blocks = [table(("metric", "value"), rows)] if rows else []
    evaluations = meta.get("evaluations")
    if evaluations:
        blocks.append("Evaluations of the run (`core evaluate`, its `eval_*.json` files):")
        blocks.append(_evaluations_table(_mapping(evaluations) or {"evaluations": evaluations}))
    return "\n\n".join(blocks) or NOT_RECORDED


def _evaluations_table(evaluations: Mapping[str, Any]) -> str:
    fields = ("metric", "key", "value", "floor", "n", "sampling", "reference", "weights")
    headers = ("file", *fields[:3], "real-data floor", "samples", *fields[5:])
    rows = []
    for file, result in evaluations.items():
        result = _mapping(result) or {"error": result}
        if "error" in result:
            cells = [_cell(f"unreadable: {result['error']}")] + [""] * (len(fields) - 1)
        else:
            cells = [_cell(result.get(field)) for field in fields]
        rows.append((code_span(file), *cells))
    return table(headers, rows)


def _dataset_of(meta: Mapping[str, Any]) -> Any:
    """The dataset the model was trained on: the ``data`` section's type, else ``dataset``."""
    data = meta.get("data")
    section = _mapping(data)
    return section.get("type", meta.get("dataset")) if section else meta.get("dataset", data)


def _dataset_name(meta: Mapping[str, Any]) -> str | None:
    dataset = _dataset_of(meta)
    if dataset is None or isinstance(dataset, (Mapping, list)):
        return None
    return one_line(dataset, 128) or None


def _training_data(meta: Mapping[str, Any]) -> str:
    section = _mapping(meta.get("data"))
    dataset = _dataset_of(meta)
    size = meta.get("data_size")
    rows = [
        ("dataset", _cell(dataset)),
        ("split", _cell(section.get("split", meta.get("split")))),
        ("size", f"{size:,}" if _is_int(size) else _cell(size)),
    ]
    if "trained_on" in meta:
        rows.append(("description", _cell(meta["trained_on"])))
    text = table(("field", "value"), rows)
    if section:
        text += "\n\nThe run's `data` section:\n\n" + fenced_block(_yaml({"data": section}), "yaml")
    return text


def _command(meta: Mapping[str, Any]) -> str:
    command, script = meta.get("command"), meta.get("script")
    if command:
        words = command if isinstance(command, list) else [command]
        block = fenced_block(" ".join(map(str, words)), "shell")
        return block + (f"\n\nScript: {code_span(script)}" if script else "")
    if script:
        return (
            f"{NOT_RECORDED}: produced by the script {code_span(script)}, "
            "whose arguments were not recorded."
        )
    return f"{NOT_RECORDED}."


def _other_metadata(meta: Mapping[str, Any]) -> str:
    shown = set(_SECTION_KEYS)
    section = _mapping(meta.get("data"))
    shown |= {
        key for key, field in (("dataset", "type"), ("split", "split")) if field not in section
    }
    rest = {
        str(key): value
        for key, value in meta.items()
        if str(key) not in shown and not _is_metric(key)
    }
    return fenced_block(_yaml(rest), "yaml") if rest else "none"


# -- values --------------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _provider(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    """The recorded provider; a plain string names the plugin."""
    provider = meta.get("provider")
    return {"plugin": provider} if isinstance(provider, str) else _mapping(provider)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float (a metric value the Hub can show)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_metric(key: Any) -> bool:
    return any(_METRIC_WORD.fullmatch(word) for word in re.split(r"[^a-z0-9]+", str(key).lower()))


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    """``(dotted.key, leaf)`` pairs of nested mappings."""
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


def _cell(value: Any) -> str:
    if value is None:
        return NOT_RECORDED
    if isinstance(value, (list, dict)):
        return inline_text(json.dumps(value, default=str, ensure_ascii=False))
    return inline_text(value)


def _name_cell(value: Any) -> str:
    return code_span(value) if value else NOT_RECORDED


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=88)

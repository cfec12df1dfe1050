"""Model cards: the ``README.md`` written beside a model's weights (torch-free).

``render_model_card(document, name)`` turns a pretrained YAML document (its ``model`` and
``meta`` sections) into Markdown with Hugging Face-style YAML front matter. The card holds
only what the document holds, the same document always gives the same card, and a fact the
document does not hold reads "not recorded".
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from core._card_facts import command_line, model_provider, run_evaluations
from core._markdown import code_span, fenced_block, inline_text, one_line, table
from core._store_files import CARD_NAME
from core.atomic import atomic_write_text

__all__ = [
    "CARD_NAME",
    "NOT_RECORDED",
    "render_model_card",
    "render_stored_card",
    "write_model_card",
    "model_provider",
    "run_evaluations",
    "command_line",
]

NOT_RECORDED = "not recorded"
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
    ]
)


def render_model_card(document: Mapping[str, Any], name: str | None = None) -> str:
    """The card of a ``{"model": ..., "meta": ...}`` document; ``name`` is the files' stem."""
    model = _mapping(document.get("model"))
    meta = _mapping(document.get("meta"))
    model_type = one_line(model.get("type", NOT_RECORDED), 128)
    stem = name or model_type
    parts = [
        _front_matter(model_type, _provider(meta)),
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


# -- sections ------------------------------------------------------------------------------


def _front_matter(model_type: str, provider: Mapping[str, Any]) -> str:
    tags = ["core"]
    for tag in (provider.get("distribution"), model_type):
        if tag and one_line(tag, 128) not in tags:
            tags.append(one_line(tag, 128))
    head = {"library_name": "core", "model_type": model_type, "tags": tags}
    return "---\n" + yaml.safe_dump(head, sort_keys=False, width=1000) + "---"


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


def _metrics(meta: Mapping[str, Any]) -> str:
    rows = [
        (code_span(key), _cell(value))
        for name, value in meta.items()
        if str(name) not in _SECTION_KEYS and _is_metric(name)
        for key, value in _flatten(str(name), value)
    ]
    metrics = meta.get("metrics")  # an explicit mapping of metrics
    if isinstance(metrics, Mapping):
        for name, value in metrics.items():
            rows += [(code_span(key), _cell(leaf)) for key, leaf in _flatten(str(name), value)]
    elif metrics is not None:
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


def _training_data(meta: Mapping[str, Any]) -> str:
    data = meta.get("data")
    section = _mapping(data)
    dataset = section.get("type", meta.get("dataset")) if section else meta.get("dataset", data)
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

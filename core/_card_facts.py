"""What a model card states that the model itself does not hold: the registry's provider of
a model type, the evaluations of a run and the command line that trained it (torch-free)."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core._messages import clip
from core.config import read_text_file
from core.errors import CoreError
from core.plugins import get_manager

__all__ = ["model_provider", "run_evaluations", "command_line"]

_SECRET_KEY = re.compile(r"token|secret|password|passwd|api[_-]?key|credential", re.IGNORECASE)
#: the largest ``eval_<metric>.json`` read.
MAX_EVAL_BYTES = 1 << 20


def model_provider(model_type: str, target: Any = None) -> dict[str, str] | None:
    """``plugin``, ``distribution`` and ``version`` of the registered model ``model_type``.

    With ``target`` (the model's class), only an entry that loads to that class counts.
    None when no single entry matches.
    """
    if not model_type:
        return None

    entries = get_manager().registry.find(model_type, "model")
    if target is not None:
        entries = [e for e in entries if _loads_to(e, target)]
    if len(entries) != 1:
        return None
    entry = entries[0]
    found = {"plugin": entry.plugin, "distribution": entry.distribution, "version": entry.version}
    return {key: value for key, value in found.items() if value}


def _loads_to(entry: Any, target: Any) -> bool:
    try:
        return entry.load() is target
    except Exception:  # a provider that cannot load is not this model's
        return False


def run_evaluations(run_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """A summary of each ``eval_*.json`` that ``core evaluate`` wrote into a run, by file name."""

    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(run_dir).glob("eval_*.json")):
        try:
            result = json.loads(read_text_file(path, MAX_EVAL_BYTES, what="evaluation result"))
        except (CoreError, ValueError) as exc:
            found[path.name] = {"error": clip(str(exc), 200)}
            continue
        if not isinstance(result, dict):
            found[path.name] = {"error": "not a JSON object"}
            continue
        reference = result.get("reference")
        reference = reference if isinstance(reference, dict) else {}
        data = reference.get("data") if isinstance(reference.get("data"), dict) else {}
        found[path.name] = {
            "metric": result.get("metric"),
            "key": result.get("key"),
            "value": result.get("value"),
            "floor": result.get("floor"),
            "n": result.get("n"),
            "sampling": _sampling_text(result),
            "reference": _reference_text(result.get("reference")),
            "weights": result.get("weights"),
            "dataset": data.get("type"),
            "split": reference.get("split"),
        }
    return found


def _sampling_text(result: dict[str, Any]) -> str | None:
    """``sampler ddim, steps 50, guidance 3.0, seed 0``: the settings an evaluation recorded."""
    names = (("sampler", "sampler"), ("steps", "steps"), ("guidance_scale", "guidance"))
    parts = [f"{label} {result[key]}" for key, label in names if result.get(key) is not None]
    parts += [
        f"{key}={value}" for key, value in sorted((result.get("sampler_options") or {}).items())
    ]
    if result.get("seed") is not None:
        parts.append(f"seed {result['seed']}")
    return ", ".join(parts) or None


def command_line(argv: Sequence[str]) -> str:
    """``argv`` as one shell line for a card: the home directory reads ``~``, and the value of
    a ``key=value`` word whose key names a secret (token, password, api_key) ``<redacted>``."""
    home = str(Path.home()).rstrip(os.sep)
    words = []
    for word in map(str, argv):
        key, sep, value = word.partition("=")
        if not sep:
            words.append(_path_word(word, home))
            continue
        value = "<redacted>" if _SECRET_KEY.search(key) else _path_word(value, home)
        words.append(f"{shlex.quote(key)}={value}")
    return " ".join(words)


def _path_word(word: str, home: str) -> str:
    if len(home) > 1 and (word == home or word.startswith(home + os.sep)):
        rest = word[len(home) + 1 :]
        return "~" + (f"/{shlex.quote(rest)}" if rest else "")
    return shlex.quote(word)


def _reference_text(reference: Any) -> str | None:
    """``digits test split, 359 items`` from an evaluation's ``reference``."""
    if not isinstance(reference, dict) or not reference:
        return None
    data = reference.get("data") if isinstance(reference.get("data"), dict) else {}
    size = reference.get("size")
    text = f"{data.get('type', 'data')} {reference.get('split', '')} split".replace("  ", " ")
    return (
        f"{text}, {size:,} items" if isinstance(size, int) and not isinstance(size, bool) else text
    )

"""Which distribution provides a component that is not installed (torch-free).

The answer comes from ``core/_provider_index.json``, generated from the first-party
plugins' own registrations by ``scripts/gen_provider_index.py`` (a test runs it with
``--check``), never from a hand-kept table.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

__all__ = ["INDEX_PATH", "provider_index", "provider_hint"]

INDEX_PATH = Path(__file__).with_name("_provider_index.json")


@functools.lru_cache(maxsize=1)
def provider_index() -> dict[str, dict[str, str]]:
    """kind -> component name or alias -> distribution."""
    try:
        return json.loads(INDEX_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def provider_hint(
    kind: str | None, name: str, unavailable: dict[str, str] | None = None
) -> str | None:
    """``it is provided by the distribution 'X' (pip install X)``, or None when unknown.

    ``unavailable`` maps installed distributions whose plugin did not load to why.
    """
    index = provider_index()
    kinds = [kind] if kind is not None else sorted(index)
    distribution = next((index[k][name] for k in kinds if name in index.get(k, {})), None)
    if distribution is None:
        return None
    why = (unavailable or {}).get(distribution)
    if why:
        return (
            f"it is provided by the distribution '{distribution}', which is installed but not "
            f"loaded ({why})"
        )
    return f"it is provided by the distribution '{distribution}' (pip install {distribution})"

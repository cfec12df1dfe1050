"""Checks of a run config's sections beyond ``train`` and ``sample`` (torch-free)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from core._messages import first_of
from core.building import get_entry
from core.config import Config, origin_of
from core.errors import ConfigError, RegistryError
from core.training.configs import RUN_SECTIONS, EvaluateConfig
from core.validation import validate_section

__all__ = ["check_run_sections", "validate_evaluate_section"]


def check_run_sections(config: Config) -> None:
    """Only known top-level sections; ``model`` and ``data`` present as mappings."""
    prefix = f"{config.source}: " if config.source else ""
    unknown = sorted(map(str, set(config) - set(RUN_SECTIONS)))
    if unknown:  # named only when name-like: a base that is no config is never echoed
        origin = config.origin(unknown[0])
        close = difflib.get_close_matches(unknown[0], RUN_SECTIONS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"{origin + ': ' if origin else ''}unknown top-level section {first_of(unknown)}"
            f"{hint}; a run config has: {', '.join(RUN_SECTIONS)}"
        )
    sections = config.to_dict()
    for name in ("model", "data"):
        if not isinstance(sections.get(name), Mapping):
            raise ConfigError(f"{prefix}a run config needs a '{name}' section with a 'type'")


def validate_evaluate_section(
    section: Any, *, source: str | None = None, origins: Mapping[str, str] | None = None
) -> EvaluateConfig:
    """The ``evaluate`` section: known keys, a registered metric, ``n`` within bounds."""
    evaluate: EvaluateConfig = validate_section(  # type: ignore[assignment]
        EvaluateConfig,
        section,
        component="evaluate section",
        where="evaluate",
        source=source,
        origins=origins,
    )
    if "metric" not in section:
        return evaluate  # the default metric is core's own

    try:
        get_entry("metric", evaluate.metric)
    except RegistryError as exc:
        origin = origin_of(origins or {}, "evaluate.metric", source)
        prefix = f"{origin}: " if origin else ""
        raise ConfigError(f"{prefix}evaluate.metric: {exc}") from None
    return evaluate

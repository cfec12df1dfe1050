"""Validating a config section against a component's schema, with errors people can act on."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel as PydanticModel
from pydantic import ValidationError

from core._messages import clip, key_text, short_repr
from core.config import COMMAND_LINE, origin_of
from core.errors import ConfigError

__all__ = ["validate_section", "describe_component", "MAX_PROBLEMS"]

#: problems named in one error (the rest are counted): an error never lists a whole file.
MAX_PROBLEMS = 3


def describe_component(kind: str, name: str | None, provider: str | None) -> str:
    """``model 'my-gan' from mine (core-mine 0.1.0)``."""
    text = f"{kind} '{name}'" if name else kind
    return f"{text} from {provider}" if provider else text


def validate_section(
    config_class: type[PydanticModel],
    data: Mapping[str, Any],
    *,
    component: str,
    where: str = "",
    source: str | None = None,
    origins: Mapping[str, str] | None = None,
) -> PydanticModel:
    """Validate ``data``; any problem becomes one ConfigError naming file, path and component.

    ``origins`` (dotted path from the root -> file or ``<command line>``, as
    ``Config.origins``) names where each bad key was set; ``source`` is the fallback.
    """
    origins = origins or {}
    if not isinstance(data, Mapping):
        origin = origin_of(origins, where, source) if where else source
        prefix = f"{origin}: " if origin else ""
        label = f"{where}: " if where else ""
        raise ConfigError(
            f"{prefix}{label}got {short_repr(data)}; expected a section (a mapping of keys to "
            f"values) [{component}]"
        )
    try:
        return config_class.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_describe(config_class, err, data) for err in exc.errors()]
        lines = _locate(problems, exc.errors(), where, source, origins)
        more = f" (and {len(lines) - MAX_PROBLEMS} more)" if len(lines) > MAX_PROBLEMS else ""
        raise ConfigError(f"{'; '.join(lines[:MAX_PROBLEMS])}{more} [{component}]") from None


def _locate(
    problems: list[str],
    errors: list[Any],
    where: str,
    source: str | None,
    origins: Mapping[str, str],
) -> list[str]:
    """``file: path: problem`` for each problem; the file is named once when all share it."""
    located = []
    for problem, err in zip(problems, errors, strict=True):
        path = ".".join(str(p) for p in (where, *err["loc"]) if p != "")
        origin = origin_of(origins, path, source) if path else source
        if _names_an_override(problem, path, origins):
            origin = COMMAND_LINE
        located.append((origin, f"{path}: {problem}" if path else problem))
    if len({origin for origin, _ in located}) == 1:
        origin = located[0][0]
        lines = [line for _, line in located]
        return [f"{origin}: {lines[0]}", *lines[1:]] if origin else lines
    return [f"{origin}: {line}" if origin else line for origin, line in located]


def _names_an_override(problem: str, path: str, origins: Mapping[str, str]) -> bool:
    """Whether a check of the section at ``path`` names a key under it set on the command line
    (``image_size 3 is not divisible by 8``: the override is to blame, not the file)."""
    prefix = f"{path}." if path else ""
    for dotted, origin in origins.items():
        if origin == COMMAND_LINE and dotted.startswith(prefix):
            key = dotted.rsplit(".", 1)[-1]
            if re.search(rf"(?<![\w.-]){re.escape(key)}(?![\w-])", problem):
                return True
    return False


def _describe(config_class: type[PydanticModel], err: Mapping[str, Any], data: Any) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "extra_forbidden":
        fields = _fields_at(config_class, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        allowed = f" (allowed: {', '.join(fields)})" if fields and not close else ""
        return f"unknown key {key_text(loc[-1])}{hint}{allowed}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error" and not loc:  # a whole-section check: its message says it all
        return _expected(err)
    given = err.get("input")
    return f"got {short_repr(given)}; expected {clip(_expected(err), 200)}"


def _expected(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "a valid value"))
    for prefix in ("Input should be ", "Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg


def _fields_at(config_class: type[PydanticModel], loc: tuple[Any, ...]) -> list[str]:
    cls: Any = config_class
    for part in loc:
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return []
        cls = _model_in(field.annotation)
        if cls is None:
            return []
    return list(getattr(cls, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, PydanticModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None

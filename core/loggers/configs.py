"""Configs of core's loggers (torch-free)."""

from __future__ import annotations

from core.schema import ComponentConfig, Field

__all__ = ["JSONLLoggerConfig"]


class JSONLLoggerConfig(ComponentConfig):
    """``jsonl``: scalars appended to a JSON-lines file in the run directory."""

    filename: str = Field(
        "metrics.jsonl", pattern=r"^[^/\\]+$", description="file name inside the run directory"
    )

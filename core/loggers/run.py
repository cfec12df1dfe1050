"""A run's loggers: built from ``train.loggers``, opened together, failing only at the start."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.building import build
from core.config import origin_of
from core.errors import ConfigError, TrainingError

__all__ = ["RunLoggers", "build_loggers", "log_to_run"]


def build_loggers(
    sections: Sequence[str | Mapping[str, Any]],
    source: str | None = None,
    origins: Mapping[str, str] | None = None,
) -> list[tuple[str, Any]]:
    """``(label, logger)`` for each entry of ``train.loggers`` (a name or a section).

    ``origins`` (as ``Config.origins``) names the file or ``<command line>`` in errors.
    """

    origins = origins or {}
    built = []
    for index, section in enumerate(sections):
        where = f"train.loggers[{index}]"
        if isinstance(section, str):
            section = {"type": section}
        if not isinstance(section, Mapping):
            origin = origin_of(origins, where, source)
            prefix = f"{origin}: " if origin else ""
            raise ConfigError(
                f"{prefix}{where}: a logger is a name or a mapping with 'type', "
                f"got {type(section).__name__}"
            )
        logger = build("logger", dict(section), where=where, source=source, origins=origins)
        built.append((str(section.get("type")), logger))
    labels = [label for label, _ in built]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        origin = origin_of(origins, "train.loggers", source)
        prefix = f"{origin}: " if origin else ""
        raise ConfigError(f"{prefix}train.loggers: {', '.join(duplicates)} given more than once")
    return built


class RunLoggers:
    """Fans calls out to every logger of a run (rank 0 only).

    ``open`` raises a ``TrainingError`` naming the logger that cannot start; after that, a
    logger that raises is reported once on stderr and left out for the rest of the run.
    """

    def __init__(self, loggers: Sequence[tuple[str, Any]], *, enabled: bool = True) -> None:
        self.loggers = list(loggers) if enabled else []
        self._opened: list[tuple[str, Any]] = []

    def open(
        self,
        run_dir: Path,
        config: Mapping[str, Any],
        *,
        resume_step: int = 0,
        append: bool = False,
    ) -> None:
        """Open every logger; ``append`` (``append_to``) adds to a finished run, dropping nothing."""
        for label, logger in self.loggers:
            try:
                if append:
                    logger.append_to(Path(run_dir), config, resume_step)
                else:
                    logger.open(Path(run_dir), config, resume_step=resume_step)
            except Exception as exc:
                self.close()
                detail = " ".join(str(exc).split()) or type(exc).__name__
                raise TrainingError(f"logger '{label}' cannot start: {detail}") from exc
            self._opened.append((label, logger))

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        self._each("log_scalars", step, values, step)

    def log_image(self, tag: str, path: Path, step: int) -> None:
        self._each("log_image", step, tag, path, step)

    def _each(self, method: str, step: int, *args: Any) -> None:
        for label, logger in list(self._opened):
            try:
                getattr(logger, method)(*args)
            except Exception as exc:
                self._opened.remove((label, logger))
                print(
                    f"warning: logger '{label}' failed at step {step} ({type(exc).__name__}: "
                    f"{exc}); the run goes on without it",
                    file=sys.stderr,
                )

    def close(self) -> None:
        while self._opened:
            label, logger = self._opened.pop()
            try:
                logger.close()
            except Exception as exc:
                print(f"warning: logger '{label}' failed to close: {exc}", file=sys.stderr)


def log_to_run(
    run_dir: Path, run_config: Mapping[str, Any], values: Mapping[str, float], step: int
) -> None:
    """Add scalars (evaluation results) at ``step`` to the loggers a finished run was trained
    with (``core evaluate --log``): each opened with ``append_to``, so no logged line is dropped."""
    train = run_config.get("train") or {}
    sections = train.get("loggers", ["jsonl"]) if isinstance(train, Mapping) else ["jsonl"]
    loggers = RunLoggers(build_loggers(sections, str(Path(run_dir) / "config.yaml")))
    loggers.open(Path(run_dir), run_config, resume_step=step, append=True)
    try:
        loggers.log_scalars(values, step)
    finally:
        loggers.close()

"""The base class of exporters (torch-free)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from core.component import Component
from core.errors import ExportError

__all__ = ["Exporter"]


class Exporter(Component):
    """Writes a model into a folder in another format; ``core export --format NAME`` runs it.

    ``accepts`` names the registered model types it exports (empty: any model; ``export``
    then refuses one it cannot write with an ``ExportError`` naming what has no equivalent).
    Options are the config's fields (``core export --option KEY=VALUE``).
    """

    kind = "exporter"
    config_section = "exporter"
    accepts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)

    def check_ready(self) -> None:
        """Refuse, before anything is loaded, when what the format needs is missing (a
        package); the base class needs nothing."""

    def check_model_type(self, model_type: str, source: str) -> None:
        """Refuse, before the weights are loaded, a model type outside ``accepts``."""
        if self.accepts and model_type not in self.accepts:
            raise ExportError(
                f"{source} holds a '{model_type}' model; the {self.model_type} format exports "
                f"{', '.join(repr(t) for t in self.accepts)} models only"
            )

    def export(self, model: Any, directory: Path, **context: Any) -> str:
        """Write ``model`` into ``directory`` (an empty staging folder); a one-line summary.

        ``context`` holds ``source`` (what the user named) and ``weights`` (which weights).
        """
        raise NotImplementedError(f"{type(self).__name__} does not define export()")

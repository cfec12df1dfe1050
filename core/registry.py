"""Kinds -> names -> lazy entries, with qualified names, aliases and suggestions."""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core._imports import import_object, is_lazy_reference
from core.errors import AmbiguousNameError, PluginError, RegistryError, UnknownComponentError
from core.hookspecs import KINDS

__all__ = ["Entry", "Registry", "normalize_kind", "PRETRAINED_KIND"]

#: the registry also keeps plugin-shipped pretrained weights, under this pseudo-kind.
PRETRAINED_KIND = "pretrained"
_ALL_KINDS = (*KINDS, PRETRAINED_KIND)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")

#: first-party components, so an unknown name can say what to install.
_KNOWN_PROVIDERS = {
    "dcgan": "core-gan",
    "vae": "core-vae",
    "beta-vae": "core-vae",
    "ddpm": "core-diffusion",
    "unet": "core-diffusion",
    "ddpm-unet": "core-diffusion",
    "ddim": "core-diffusion",
    "dpm-solver++": "core-diffusion",
    "dpm-solver++-sde": "core-diffusion",
    "autoencoder": "core-autoencoder",
    "latent-diffusion": "core-autoencoder",
    "controlnet-diffusion": "core-autoencoder",
    "feedforward": "core-difflut",
    "thermometer": "core-difflut",
    "probabilistic": "core-difflut",
    "dwn": "core-difflut",
    "mlp-denoiser": "core-denoisers",
    "cnn-denoiser": "core-denoisers",
}


def normalize_kind(kind: str) -> str:
    """Accept ``model`` or ``models``; raise on anything else."""
    if kind in _ALL_KINDS:
        return kind
    if kind.endswith("s") and kind[:-1] in _ALL_KINDS:
        return kind[:-1]
    if kind == "losses":
        return "loss"
    close = difflib.get_close_matches(kind, _ALL_KINDS, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise RegistryError(f"unknown component kind '{kind}'{hint} (kinds: {', '.join(KINDS)})")


@dataclass
class Entry:
    """One registered component: where it lives and who provides it."""

    kind: str
    name: str
    target: Any
    config: Any = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    plugin: str = "user"
    distribution: str | None = None
    version: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _loaded_target: Any = field(default=None, repr=False, compare=False)
    _loaded_config: Any = field(default=None, repr=False, compare=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def provider(self) -> str:
        """The providing plugin, with its distribution and version when known."""
        if self.distribution:
            return f"{self.plugin} ({self.distribution} {self.version or ''})".replace(" )", ")")
        return self.plugin

    @property
    def target_path(self) -> str:
        """``module:attr`` of the target, without importing it."""
        if isinstance(self.target, str):
            return self.target
        module = getattr(self.target, "__module__", "?")
        return f"{module}:{getattr(self.target, '__qualname__', repr(self.target))}"

    def answers_to(self, name: str) -> bool:
        return name == self.name or name in self.aliases

    def load(self) -> Any:
        """Import (once) and return the target."""
        if self._loaded_target is None:
            self._loaded_target = self._resolve(self.target, "target")
            _attach_registry_info(self._loaded_target, self)
        return self._loaded_target

    def load_config(self) -> Any:
        """Import (once) and return the config class, or None when none was declared."""
        if self.config is None:
            return None
        if self._loaded_config is None:
            self._loaded_config = self._resolve(self.config, "config")
        return self._loaded_config

    def _resolve(self, value: Any, what: str) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return import_object(value)
        except Exception as exc:  # an ImportError or anything the module raised
            raise PluginError(
                f"{self.kind} '{self.name}' from plugin {self.provider}: cannot import its "
                f"{what} '{value}': {type(exc).__name__}: {exc}"
            ) from exc


def _attach_registry_info(target: Any, entry: Entry) -> None:
    """Tell a component class its registered name and config class, when it has none."""
    if not isinstance(target, type):
        return
    if "model_type" not in vars(target) or vars(target)["model_type"] is None:
        with contextlib.suppress(AttributeError, TypeError):
            target.model_type = entry.name
    if "_core_provider" not in vars(target):
        with contextlib.suppress(AttributeError, TypeError):
            target._core_provider = entry.provider
    if getattr(target, "config_class", None) is None and entry.config is not None:
        with contextlib.suppress(AttributeError, TypeError):
            target.config_class = entry.load_config()


class Registry:
    """Components by kind; lookups by short name, alias or ``plugin:name``."""

    def __init__(self) -> None:
        self._entries: dict[str, list[Entry]] = {kind: [] for kind in _ALL_KINDS}
        self._staging: list[Entry] | None = None

    # -- writing -----------------------------------------------------------------------------
    def register(
        self,
        kind: str,
        name: str,
        target: Any,
        config: Any = None,
        aliases: tuple[str, ...] | list[str] = (),
        description: str = "",
        *,
        plugin: str = "user",
        distribution: str | None = None,
        version: str | None = None,
        **meta: Any,
    ) -> Entry:
        """Add one component; the same plugin registering a name again replaces it."""
        kind = normalize_kind(kind)
        aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)
        for label in (name, *aliases):
            if not isinstance(label, str) or not _NAME.match(label):
                raise RegistryError(
                    f"plugin '{plugin}' registers a {kind} with an invalid name {label!r}: "
                    "names start with a letter or digit and hold no spaces or ':'"
                )
        if kind != PRETRAINED_KIND and isinstance(target, str) and not is_lazy_reference(target):
            raise RegistryError(
                f"{kind} '{name}' from plugin '{plugin}': lazy target {target!r} "
                "must look like 'package.module:attr'"
            )
        if isinstance(config, str) and not is_lazy_reference(config):
            raise RegistryError(
                f"{kind} '{name}' from plugin '{plugin}': lazy config {config!r} "
                "must look like 'package.module:attr'"
            )
        entry = Entry(
            kind=kind,
            name=name,
            target=target,
            config=config,
            aliases=aliases,
            description=description,
            plugin=plugin,
            distribution=distribution,
            version=version,
            meta=dict(meta),
        )
        if kind != PRETRAINED_KIND and not isinstance(target, str):
            _attach_registry_info(target, entry)
        if self._staging is not None:
            self._staging.append(entry)
        else:
            self._add(entry)
        return entry

    def _add(self, entry: Entry) -> None:
        entries = self._entries[entry.kind]
        entries[:] = [e for e in entries if not (e.plugin == entry.plugin and e.name == entry.name)]
        entries.append(entry)

    @contextlib.contextmanager
    def staged(self) -> Iterator[list[Entry]]:
        """Collect registrations; commit them all on success, none on error."""
        if self._staging is not None:
            raise RegistryError("registrations are already being staged")
        staged: list[Entry] = []
        self._staging = staged
        try:
            yield staged
        finally:
            self._staging = None
        for entry in staged:
            self._add(entry)

    def remove_plugin(self, plugin: str) -> int:
        """Drop every entry of a plugin; returns how many were removed."""
        removed = 0
        for entries in self._entries.values():
            before = len(entries)
            entries[:] = [e for e in entries if e.plugin != plugin]
            removed += before - len(entries)
        return removed

    # -- reading -----------------------------------------------------------------------------
    def entries(self, kind: str | None = None) -> list[Entry]:
        """Entries of one kind (or of every component kind), sorted by name."""
        kinds = KINDS if kind is None else (normalize_kind(kind),)
        return sorted(
            (e for k in kinds for e in self._entries[k]), key=lambda e: (e.kind, e.name, e.plugin)
        )

    def names(self, kind: str | None = None, pattern: str = "*") -> list[str]:
        """Sorted short names matching an fnmatch pattern (``*gan*``, ``cnn-*``)."""
        return sorted(
            {
                e.name
                for e in self.entries(kind)
                if fnmatch.fnmatchcase(e.name, pattern)
                or fnmatch.fnmatchcase(e.qualified_name, pattern)
            }
        )

    def find(self, name: str, kind: str | None = None) -> list[Entry]:
        """Every entry answering to ``name`` (short, alias or qualified), in any kind."""
        plugin, _, short = name.rpartition(":")
        return [
            e
            for e in self.entries(kind)
            if e.answers_to(short) and (not plugin or e.plugin == plugin)
        ]

    def get(self, kind: str, name: str) -> Entry:
        """The one entry of ``kind`` answering to ``name``."""
        kind = normalize_kind(kind)
        if not isinstance(name, str) or not name:
            raise UnknownComponentError(f"a {kind} name must be a non-empty string, got {name!r}")
        matches = self.find(name, kind)
        providers = {e.plugin for e in matches}
        if len(providers) > 1:
            options = ", ".join(sorted(e.qualified_name for e in matches))
            raise AmbiguousNameError(
                f"{kind} name '{name}' is provided by several plugins; use one of: {options}"
            )
        if matches:
            exact = [e for e in matches if e.name == name.rpartition(":")[2]]
            return (exact or matches)[0]
        raise UnknownComponentError(self.unknown_message(kind, name))

    def unknown_message(self, kind: str | None, name: str) -> str:
        """``unknown model 'dcgn'; did you mean 'dcgan'?`` (``kind=None``: any kind)."""
        kinds = KINDS if kind is None else (kind,)
        known = {label for k in kinds for e in self._entries[k] for label in (e.name, *e.aliases)}
        message = f"unknown {kind or 'component'} '{name}'"
        close = difflib.get_close_matches(name.rpartition(":")[2], sorted(known), n=3)
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elsewhere = sorted({e.kind for e in self.find(name)})
        if elsewhere:
            message += f" ('{name}' is registered as a {' and a '.join(elsewhere)})"
        provider = _KNOWN_PROVIDERS.get(name.rpartition(":")[2])
        if provider and not elsewhere:
            message += f"; it is provided by the distribution '{provider}' (pip install {provider})"
        if not close and not elsewhere and not provider and kind is not None:
            shown = ", ".join(sorted(known)[:12]) or "none registered"
            message += f"; known {kind}s: {shown}"
        return message

    def conflicts(self) -> list[tuple[str, str, list[str]]]:
        """(kind, name, qualified names) for every short name given by several plugins."""
        found = []
        for kind, entries in self._entries.items():
            by_label: dict[str, set[str]] = {}
            for e in entries:
                for label in (e.name, *e.aliases):
                    by_label.setdefault(label, set()).add(e.qualified_name)
            for label, owners in sorted(by_label.items()):
                if len({o.split(":")[0] for o in owners}) > 1:
                    found.append((kind, label, sorted(owners)))
        return found

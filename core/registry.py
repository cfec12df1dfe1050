"""Kinds -> names -> lazy entries, with qualified names, aliases and suggestions."""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core._imports import import_object, is_lazy_reference
from core.errors import AmbiguousNameError, PluginError, RegistryError, UnknownComponentError
from core.kinds import (
    BUILTIN_KINDS,
    KIND_NAME,
    PRETRAINED,
    Kind,
    kind_clash,
    renamed_kind,
    warn_renamed,
)
from core.providers import provider_hint

__all__ = ["Entry", "Registry", "PRETRAINED_KIND"]

#: the registry also keeps plugin-shipped pretrained weights, under this pseudo-kind.
PRETRAINED_KIND = PRETRAINED
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")


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
    #: kinds it used to be registered under; asking for it there warns (DeprecationWarning).
    former_kinds: tuple[str, ...] = ()
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

    def answers_to_folded(self, folded: str) -> bool:
        """Whether a name or alias equals ``folded`` once case is ignored (``DCGAN``, ``dcgan``)."""
        return any(label.casefold() == folded for label in (self.name, *self.aliases))

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
    """Tell a component class its registered name and config class, when it has none.

    The registration's ``config=`` is the one declaration: a class that names no
    ``config_class`` itself (it may inherit its base's) gets the registered one.
    """
    if not isinstance(target, type):
        return
    if "model_type" not in vars(target) or vars(target)["model_type"] is None:
        with contextlib.suppress(AttributeError, TypeError):
            target.model_type = entry.name
    if "_core_provider" not in vars(target):
        with contextlib.suppress(AttributeError, TypeError):
            target._core_provider = entry.provider
    own = vars(target).get("config_class")
    if entry.config is not None and (own is None or vars(target).get("_core_attached_config")):
        with contextlib.suppress(AttributeError, TypeError):
            target.config_class = entry.load_config()
            target._core_attached_config = True


class Registry:
    """Kinds, and components by kind; lookups by short name, alias or ``plugin:name``."""

    def __init__(self) -> None:
        self.kinds: dict[str, Kind] = {kind.name: kind for kind in BUILTIN_KINDS}
        self._entries: dict[str, list[Entry]] = {kind: [] for kind in (*self.kinds, PRETRAINED)}
        #: kind -> the (plugin, name) pairs in ``_entries``, so that adding one stays O(1).
        self._keys: dict[str, set[tuple[str, str]]] = {kind: set() for kind in self._entries}
        self._staging: tuple[list[Kind], list[Entry]] | None = None
        #: hook names no kind may take (the plugin manager adds every hook core defines).
        self.reserved_hooks: set[str] = set()
        #: installed distributions whose plugin is not loaded -> why (set by the manager).
        self.unavailable: dict[str, str] = {}

    # -- kinds -------------------------------------------------------------------------------
    def add_kind(
        self,
        name: str,
        description: str = "",
        base: Any = None,
        *,
        plugin: str = "user",
        plural: str = "",
    ) -> Kind:
        """Declare a kind (``register_kinds``); its name must be new and kebab-case."""
        if not isinstance(name, str) or not KIND_NAME.match(name):
            raise RegistryError(
                f"plugin '{plugin}' declares a kind with an invalid name {name!r}: kind names are "
                "lowercase words joined by '-' (like 'lr-schedule')"
            )
        pending = self._staging[0] if self._staging is not None else []
        existing = self.kinds.get(name) or next((k for k in pending if k.name == name), None)
        if existing is not None or name == PRETRAINED:
            owner = existing.plugin if existing is not None else "core"
            raise RegistryError(
                f"plugin '{plugin}' declares the kind '{name}', which plugin '{owner}' declares"
            )
        if not isinstance(plural, str):
            raise RegistryError(
                f"plugin '{plugin}' declares the kind '{name}' with a plural that is not a "
                f"string: {type(plural).__name__}"
            )
        kind = Kind(name, str(description), base=base, plugin=plugin, plural=plural)
        declared = (*self.kinds.values(), *pending, Kind(PRETRAINED, "", plural=PRETRAINED))
        clash = kind_clash(kind, declared, self.reserved_hooks)
        if clash:
            raise RegistryError(f"plugin '{plugin}' declares the kind '{name}', {clash}")
        if base is not None and not isinstance(base, (str, type)):
            raise RegistryError(
                f"kind '{name}' from plugin '{plugin}': base must be a class, a Protocol or a "
                f"lazy 'module:attr' string, got {type(base).__name__}"
            )
        if isinstance(base, str) and not is_lazy_reference(base):
            raise RegistryError(
                f"kind '{name}' from plugin '{plugin}': lazy base {base!r} must look like "
                "'package.module:attr'"
            )
        if self._staging is not None:
            self._staging[0].append(kind)
        else:
            self._add_kind(kind)
        return kind

    def _add_kind(self, kind: Kind) -> None:
        self.kinds[kind.name] = kind
        self._entries.setdefault(kind.name, [])
        self._keys.setdefault(kind.name, set())

    def kind(self, name: str) -> Kind:
        """The declaration of a kind (``model``, ``models`` and ``lr_schedule`` are accepted)."""
        return self.kinds[self.normalize_kind(name)]

    def normalize_kind(self, kind: str, *, pretrained: bool = True) -> str:
        """Accept ``model``, ``models``, ``lr_schedule``; raise on anything else."""
        known = (*self.kinds, PRETRAINED) if pretrained else tuple(self.kinds)
        pending = [k.name for k in self._staging[0]] if self._staging is not None else []
        if not isinstance(kind, str):
            raise RegistryError(f"a component kind must be a string, got {type(kind).__name__}")
        spelled = kind.replace("_", "-")
        for candidate in (spelled, spelled[:-1] if spelled.endswith("s") else None):
            if candidate in known or candidate in pending:
                return candidate
        plural = {k.plural: k.name for k in self.kinds.values()}
        if spelled in plural:
            return plural[spelled]
        renamed = renamed_kind(spelled, self.kinds.values())
        if renamed is not None:
            warn_renamed(kind, renamed, stacklevel=4)
            return renamed.name
        close = difflib.get_close_matches(spelled, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise RegistryError(
            f"unknown component kind '{kind}'{hint} (kinds: {', '.join(self.kinds)})"
        )

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
        former_kinds: tuple[str, ...] | list[str] = (),
        **meta: Any,
    ) -> Entry:
        """Add one component; the same plugin registering a name again replaces it."""
        kind = self.normalize_kind(kind)
        aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)
        for label in (name, *aliases):
            if not isinstance(label, str) or not _NAME.match(label):
                raise RegistryError(
                    f"plugin '{plugin}' registers a {kind} with an invalid name {label!r}: "
                    "names start with a letter or digit and hold no spaces or ':'"
                )
        if kind != PRETRAINED and isinstance(target, str) and not is_lazy_reference(target):
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
            former_kinds=tuple(self.normalize_kind(k) for k in former_kinds),
        )
        if kind != PRETRAINED and not isinstance(target, str):
            _attach_registry_info(target, entry)
        if self._staging is not None:
            self._staging[1].append(entry)
        else:
            self._add(entry)
        return entry

    def _add(self, entry: Entry) -> None:
        entries, keys = self._entries[entry.kind], self._keys[entry.kind]
        key = (entry.plugin, entry.name)
        if key in keys:  # the plugin registers the name again: the new entry replaces it
            entries[:] = [e for e in entries if (e.plugin, e.name) != key]
        keys.add(key)
        entries.append(entry)

    @contextlib.contextmanager
    def staged(self) -> Iterator[tuple[list[Kind], list[Entry]]]:
        """Collect kinds and registrations; commit them all on success, none on error."""
        if self._staging is not None:
            raise RegistryError("registrations are already being staged")
        staged: tuple[list[Kind], list[Entry]] = ([], [])
        self._staging = staged
        try:
            yield staged
        finally:
            self._staging = None
        for kind in staged[0]:
            self._add_kind(kind)
        for entry in staged[1]:
            self._add(entry)

    def remove_plugin(self, plugin: str) -> int:
        """Drop every entry and kind of a plugin; returns how many entries were removed."""
        removed = 0
        for kind, entries in self._entries.items():
            before = len(entries)
            entries[:] = [e for e in entries if e.plugin != plugin]
            self._keys[kind] = {(e.plugin, e.name) for e in entries}
            removed += before - len(entries)
        for name in [k.name for k in self.kinds.values() if k.plugin == plugin]:
            del self.kinds[name]
            self._keys.pop(name, None)
            removed += len(self._entries.pop(name, []))
        return removed

    # -- reading -----------------------------------------------------------------------------
    def entries(self, kind: str | None = None) -> list[Entry]:
        """Entries of one kind (or of every component kind), sorted by kind and name."""
        kinds = tuple(self.kinds) if kind is None else (self.normalize_kind(kind),)
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
        kind = self.normalize_kind(kind)
        if not isinstance(name, str) or not name:
            raise UnknownComponentError(f"a {kind} name must be a non-empty string, got {name!r}")
        matches = self.find(name, kind)
        if matches and ":" not in name:  # names that differ only in case are one name
            mine = {e.plugin for e in matches}
            folded = name.casefold()
            matches += [
                e
                for e in self._entries[kind]
                if e.plugin not in mine and e.answers_to_folded(folded)
            ]
        if not matches:
            matches = [e for e in self.find(name) if kind in e.former_kinds]
            if matches:
                warnings.warn(
                    f"{kind} '{name}' is now a {matches[0].kind}: ask for it as "
                    f"{matches[0].kind} '{matches[0].name}' (the {kind} reference will stop working)",
                    DeprecationWarning,
                    stacklevel=3,
                )
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
        kinds = tuple(self.kinds) if kind is None else (kind,)
        known = {label for k in kinds for e in self._entries[k] for label in (e.name, *e.aliases)}
        message = f"unknown {kind or 'component'} '{name}'"
        close = difflib.get_close_matches(name.rpartition(":")[2], sorted(known), n=3)
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elsewhere = sorted({e.kind for e in self.find(name)})
        if elsewhere:
            message += f" ('{name}' is registered as a {' and a '.join(elsewhere)})"
        hint = (
            provider_hint(kind, name.rpartition(":")[2], self.unavailable)
            if not elsewhere
            else None
        )
        if hint:
            message += f"; {hint}"
        if not close and not elsewhere and not hint and kind is not None:
            shown = ", ".join(sorted(known)[:12]) or "none registered"
            message += f"; known {kind}s: {shown}"
        return message

    def conflicts(self) -> list[tuple[str, str, list[str]]]:
        """(kind, name, qualified names) for every short name given by several plugins.

        Names that differ only in case are one name (``DCGAN`` beside ``dcgan``).
        """
        found = []
        for kind, entries in self._entries.items():
            by_label: dict[str, tuple[set[str], set[str]]] = {}
            for e in entries:
                for label in (e.name, *e.aliases):
                    labels, owners = by_label.setdefault(label.casefold(), (set(), set()))
                    labels.add(label)
                    owners.add(e.qualified_name)
            for _, (labels, owners) in sorted(by_label.items()):
                if len({o.split(":")[0] for o in owners}) > 1:
                    found.append((kind, min(labels), sorted(owners)))
        return found

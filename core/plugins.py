"""The plugin manager: entry-point discovery, isolation, allow and block lists."""

from __future__ import annotations

import functools
import os
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from core import hookspecs
from core._entry_points import PluginEntryPoint, entry_points
from core._version import __version__
from core.errors import PluginError
from core.hookspecs import KIND_HOOKS
from core.registry import PRETRAINED_KIND, Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "PluginRecord",
    "get_manager",
    "set_manager",
]

ENTRY_POINT_GROUP = "core"
BUILTIN_PLUGIN = "core"


@dataclass
class PluginRecord:
    """What is known about one plugin after loading."""

    name: str
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    status: str = "loaded"  # loaded | failed | disabled
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    unknown_hooks: list[str] = field(default_factory=list)
    components: dict[str, int] = field(default_factory=dict)
    builtin: bool = False
    traceback: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "traceback"}
        return data


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class PluginManager:
    """Loads plugins into a registry, each inside its own guard."""

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        autoload: bool = True,
        builtins: bool = True,
        strict: bool | None = None,
    ) -> None:
        self.registry = registry if registry is not None else Registry()
        self.autoload = autoload
        self.builtins = builtins
        self.strict = _env_flag("CORE_STRICT_PLUGINS") if strict is None else strict
        self.records: dict[str, PluginRecord] = {}
        self._pm = pluggy.PluginManager("core")
        self._pm.add_hookspecs(hookspecs)
        self._loaded = False

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> PluginManager:
        """Load the built-ins and every entry-point plugin (once)."""
        if self._loaded:
            return self
        self._loaded = True
        if self.builtins:
            from core import _builtins

            self.add_plugin(
                _builtins,
                name=BUILTIN_PLUGIN,
                distribution="core",
                version=__version__,
                builtin=True,
            )
        if self.autoload:
            self._load_entry_points()
        return self

    def _load_entry_points(self) -> None:
        allow = _env_list("CORE_LOAD_PLUGINS")
        block = _env_list("CORE_DISABLE_PLUGINS") or set()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist, version = ep.dist, ep.version
            labels = {ep.name, dist}
            if (allow is not None and not labels & allow) or labels & block:
                why = "CORE_DISABLE_PLUGINS" if labels & block else "CORE_LOAD_PLUGINS"
                self.records[ep.name] = PluginRecord(
                    ep.name, dist, version, ep.value, status="disabled", error=f"disabled by {why}"
                )
                continue
            self._load_entry_point(ep, dist, version)

    def _load_entry_point(
        self, ep: PluginEntryPoint, dist: str | None, version: str | None
    ) -> None:
        try:
            obj = ep.load()
        except Exception as exc:
            self._record_failure(
                PluginRecord(ep.name, dist, version, ep.value), exc, "failed to import"
            )
            return
        self.add_plugin(obj, name=ep.name, distribution=dist, version=version)

    def add_plugin(
        self,
        plugin: Any,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
        builtin: bool = False,
    ) -> PluginRecord:
        """Register a plugin object or module and call its registration hooks."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.records and self.records[name].status == "loaded":
            raise PluginError(f"a plugin named '{name}' is already loaded")
        record = PluginRecord(
            name,
            distribution,
            version,
            getattr(plugin, "__name__", type(plugin).__name__),
            builtin=builtin,
        )
        try:
            self._pm.register(plugin, name=name)
        except Exception as exc:
            return self._record_failure(record, exc, "has invalid hooks")
        callers = self._pm.get_hookcallers(plugin) or []
        record.hooks = sorted(c.name for c in callers if c.has_spec())
        record.unknown_hooks = sorted(c.name for c in callers if not c.has_spec())
        register = functools.partial(
            self.registry.register, plugin=name, distribution=distribution, version=version
        )
        try:
            with self.registry.staged() as staged:
                for kind, hook_name in (
                    *KIND_HOOKS.items(),
                    (PRETRAINED_KIND, "register_pretrained"),
                ):
                    self._call_own(plugin, hook_name, register=functools.partial(register, kind))
        except Exception as exc:
            self._pm.unregister(plugin)
            return self._record_failure(record, exc, "raised while registering")
        for entry in staged:
            record.components[entry.kind] = record.components.get(entry.kind, 0) + 1
        self.records[name] = record
        return record

    def _call_own(self, plugin: Any, hook_name: str, **kwargs: Any) -> None:
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(*(kwargs[arg] for arg in impl.argnames))

    def _record_failure(self, record: PluginRecord, exc: BaseException, what: str) -> PluginRecord:
        record.status = "failed"
        record.error = f"{what}: {type(exc).__name__}: {exc}".replace("\n", " ")
        record.traceback = traceback.format_exc()
        self.records[record.name] = record
        if self.strict:
            raise PluginError(
                f"plugin '{record.name}' {record.error} (CORE_STRICT_PLUGINS is set)"
            ) from exc
        return record

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and drop its components."""
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin)
        self.registry.remove_plugin(name)
        self.records.pop(name, None)

    # -- using -------------------------------------------------------------------------------
    def add_commands(self, cli: Any) -> None:
        """Let every loaded plugin add its commands to the root click group."""
        for record in list(self.records.values()):
            plugin = self._pm.get_plugin(record.name)
            if plugin is None or record.status != "loaded":
                continue
            try:
                self._call_own(plugin, "register_commands", cli=cli)
            except Exception as exc:
                self._record_failure(record, exc, "raised while adding commands")

    def plugins(self, include_builtins: bool = True) -> list[PluginRecord]:
        """Records of every plugin seen, loaded or not."""
        return [r for r in self.records.values() if include_builtins or not r.builtin]

    def check(self) -> list[str]:
        """Problems found: failed plugins, unknown hooks, name conflicts, unimportable targets."""
        problems = []
        for record in self.records.values():
            if record.status == "failed":
                problems.append(f"plugin '{record.name}' {record.error}")
            for hook in record.unknown_hooks:
                close = [h for h in hookspecs.HOOKS if _similar(h, hook)]
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(f"plugin '{record.name}' implements unknown hook '{hook}'{hint}")
        for kind, name, owners in self.registry.conflicts():
            problems.append(
                f"{kind} name '{name}' is given by several plugins: {', '.join(owners)}"
            )
        for entry in self.registry.entries():
            try:
                entry.load()
                entry.load_config()
            except Exception as exc:
                problems.append(str(exc))
        return problems


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() > 0.8


_manager: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide manager, loaded on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager()
    return _manager.load()


def set_manager(manager: PluginManager | None) -> PluginManager | None:
    """Replace the process-wide manager (tests); returns the previous one."""
    global _manager
    previous, _manager = _manager, manager
    return previous

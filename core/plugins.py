"""The plugin manager: entry-point discovery, isolation, allow and block lists.

Loading runs in two phases so that kinds exist before anything registers components of them:
every plugin is imported and declares its kinds (``register_kinds``), then every plugin
registers its components. Each step of each plugin runs inside its own guard.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from core import _builtins, hookspecs
from core._entry_points import PluginEntryPoint, entry_points
from core._plugin_guard import (
    ExitCalled,
    HookManager,
    PluginFailure,
    Watch,
    callback,
    guard,
    incompatibility,
)
from core._version import __version__
from core.errors import CoreError, PluginError
from core.kinds import BUILTIN_KINDS, PRETRAINED, Kind
from core.plugin_checks import registry_problems
from core.registry import Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "PluginRecord",
    "get_manager",
    "set_manager",
    "known_kinds",
    "lingering_threads",
]

ENTRY_POINT_GROUP = "core"
BUILTIN_PLUGIN = "core"
#: command names a plugin may add: no spaces, no control characters, no leading dash.
_COMMAND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass
class PluginRecord:
    """What is known about one plugin after loading."""

    name: str
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    status: str = "loaded"  # loaded | failed | disabled | incompatible
    error: str | None = None
    #: the distribution's ``Requires-Dist`` range on core, when it declares one.
    requires_core: str | None = None
    hooks: list[str] = field(default_factory=list)
    unknown_hooks: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    components: dict[str, int] = field(default_factory=dict)
    builtin: bool = False
    #: names of the non-daemon threads its import or hooks left running (core exits past them).
    threads: list[str] = field(default_factory=list)
    traceback: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "traceback"}


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
        self._pm = HookManager("core")
        #: plugin name -> hook name -> that plugin's implementations (collected once).
        self._impls: dict[str, dict[str, list[Any]]] = {}
        self._pm.add_hookspecs(hookspecs)
        self.registry.reserved_hooks.update(hookspecs.HOOKS)
        #: plugin name -> the non-daemon threads its guarded steps left running.
        self._threads: dict[str, list[threading.Thread]] = {}
        self._builtins_loaded = False
        self._entry_points_loaded = False

    # -- loading -------------------------------------------------------------------------------
    def load(self, *, entry_points: bool = True) -> PluginManager:
        """Load the built-ins and (unless ``entry_points=False``) every entry-point plugin, once."""
        if self.builtins and not self._builtins_loaded:
            self._builtins_loaded = True

            self.add_plugin(
                _builtins,
                name=BUILTIN_PLUGIN,
                distribution="core",
                version=__version__,
                builtin=True,
            )
        if entry_points and self.autoload and not self._entry_points_loaded:
            self._entry_points_loaded = True
            self._load_entry_points()
        return self

    def _load_entry_points(self) -> None:
        allow = _env_list("CORE_LOAD_PLUGINS")
        block = _env_list("CORE_DISABLE_PLUGINS") or set()
        declared: list[tuple[Any, PluginRecord]] = []
        first: dict[str, PluginEntryPoint] = {}
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            record = PluginRecord(ep.name, ep.dist, ep.version, ep.value)
            record.requires_core = ep.requires_core
            labels = {ep.name, ep.dist}
            if (allow is not None and not labels & allow) or labels & block:
                why = "CORE_DISABLE_PLUGINS" if labels & block else "CORE_LOAD_PLUGINS"
                self._set_unavailable(record, "disabled", f"disabled by {why}")
                continue
            taken = first.setdefault(ep.name, ep)
            if taken is not ep:
                self._refuse_duplicate(ep, taken, record)
                continue
            why = incompatibility(record.requires_core)
            if why:
                self._set_unavailable(record, "incompatible", f"incompatible: {why}")
                if self.strict:
                    raise PluginError(
                        f"plugin '{ep.name}' ({ep.dist}) {why} (CORE_STRICT_PLUGINS is set)"
                    )
                continue
            plugin = self._import(ep, record)
            if plugin is not None and self._declare(plugin, record):
                declared.append((plugin, record))
        for plugin, record in declared:
            self._register_components(plugin, record)

    def _refuse_duplicate(
        self, ep: PluginEntryPoint, taken: PluginEntryPoint, record: PluginRecord
    ) -> None:
        """A second distribution giving an entry-point name: listed, never imported."""
        why = (
            f"not loaded: the entry point name '{ep.name}' is taken by {taken.dist} "
            f"({taken.value}), found first; rename one or disable one with CORE_DISABLE_PLUGINS"
        )
        self._set_unavailable(record, "failed", why, key=f"{ep.name} ({ep.dist})")
        if self.strict:
            raise PluginError(f"plugin '{ep.name}' ({ep.dist}) {why} (CORE_STRICT_PLUGINS is set)")

    def _import(self, ep: PluginEntryPoint, record: PluginRecord) -> Any:
        watch = Watch()
        try:
            with guard("failed to import", record.name) as watch:
                return ep.load()
        except PluginFailure as failure:
            self._record_failure(record, failure)
            return None
        finally:
            self._note_threads(record, watch)

    def _note_threads(self, record: PluginRecord, watch: Watch) -> None:
        """Remember the non-daemon threads a step of the plugin left running."""
        if watch.threads:
            self._threads.setdefault(record.name, []).extend(watch.threads)
            record.threads += [t.name for t in watch.threads]

    def add_plugin(
        self,
        plugin: Any,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
        builtin: bool = False,
    ) -> PluginRecord:
        """Register a plugin object or module: declare its kinds, then register its components."""
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
        if self._declare(plugin, record):
            self._register_components(plugin, record)
        return record

    def _declare(self, plugin: Any, record: PluginRecord) -> bool:
        """Phase one: hand the plugin to pluggy, refuse wrappers, collect its kinds."""
        try:
            with guard("has invalid hooks"):
                self._pm.register(plugin, name=record.name)
        except PluginFailure as failure:
            self._record_failure(record, failure)
            return False
        self._impls[record.name] = self._pm.own_hookimpls(plugin)
        watch = Watch()
        try:
            self._refuse_wrappers(record.name)
            with (
                guard("raised while declaring kinds", record.name) as watch,
                self.registry.staged() as (kinds, _),
            ):
                self._call_own(
                    plugin,
                    record.name,
                    "register_kinds",
                    register=callback(self.registry.add_kind, plugin=record.name),
                )
        except PluginFailure as failure:
            self._pm.unregister(plugin)
            self._record_failure(record, failure)
            return False
        finally:
            self._note_threads(record, watch)
        for kind in kinds:
            self._add_kind_hookspec(kind)
        record.kinds = [k.name for k in kinds]
        self.records[record.name] = record
        return True

    def _register_components(self, plugin: Any, record: PluginRecord) -> None:
        """Phase two: every registration hook of the plugin, all or nothing."""
        callers = [getattr(self._pm.hook, hook) for hook in self._impls[record.name]]
        record.hooks = sorted(c.name for c in callers if c.has_spec())
        record.unknown_hooks = sorted(c.name for c in callers if not c.has_spec())
        register = functools.partial(
            self.registry.register,
            plugin=record.name,
            distribution=record.distribution,
            version=record.version,
        )
        watch = Watch()
        try:
            with (
                guard("raised while registering", record.name) as watch,
                self.registry.staged() as (_, staged),
            ):
                kind_of_hook = {k.hook: k.name for k in self.registry.kinds.values()}
                kind_of_hook.update(hookspecs.FORMER_KIND_HOOKS)
                kind_of_hook["register_pretrained"] = PRETRAINED
                for hook in [h for h in kind_of_hook if h in self._impls[record.name]]:
                    if hook in hookspecs.FORMER_KIND_HOOKS:
                        _warn_former_hook(record.name, hook, self.registry.kind(kind_of_hook[hook]))
                    self._call_own(
                        plugin, record.name, hook, register=callback(register, kind_of_hook[hook])
                    )
                self._call_own(
                    plugin, record.name, "register_components", register=callback(register)
                )
        except PluginFailure as failure:
            self._pm.unregister(plugin)
            self.registry.remove_plugin(record.name)
            self._record_failure(record, failure)
            return
        finally:
            self._note_threads(record, watch)
        for entry in staged:
            record.components[entry.kind] = record.components.get(entry.kind, 0) + 1

    def _add_kind_hookspec(self, kind: Kind) -> None:
        """Give a plugin-declared kind its own ``register_<kinds>`` hook too."""
        if hasattr(self._pm.hook, kind.hook):
            caller = getattr(self._pm.hook, kind.hook)
            if caller.has_spec():
                return

        def spec(register: Any) -> None:
            pass

        spec.__name__ = kind.hook
        spec.__doc__ = f"Register {kind.plural}: {kind.description}"
        self._pm.add_hookspecs(SimpleNamespace(**{kind.hook: hookspecs.hookspec(spec)}))

    def _refuse_wrappers(self, name: str) -> None:
        for hook, impls in self._impls[name].items():
            for impl in impls:
                if impl.wrapper or impl.hookwrapper:
                    style = "wrapper=True" if impl.wrapper else "hookwrapper=True"
                    raise PluginFailure(
                        "has invalid hooks",
                        PluginError(
                            f"plugin '{name}': hook '{hook}' is marked {style}; core "
                            "calls each hook once per plugin, so wrapper hooks are refused"
                        ),
                    )

    def _call_own(self, plugin: Any, name: str, hook_name: str, **kwargs: Any) -> None:
        for impl in self._impls.get(name, {}).get(hook_name, ()):
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
            if result is not None:
                raise PluginError(
                    f"plugin '{name}': hook '{hook_name}' returned a {type(result).__name__}; "
                    "core hooks return nothing (register through the callback)"
                )

    def _set_unavailable(
        self, record: PluginRecord, status: str, why: str, key: str | None = None
    ) -> None:
        record.status, record.error = status, why
        self.records[key or record.name] = record
        if record.distribution:
            self.registry.unavailable[record.distribution] = why

    def _record_failure(self, record: PluginRecord, failure: PluginFailure) -> PluginRecord:
        exc = failure.exc
        detail = str(exc) if str(exc) else repr(exc)
        if isinstance(exc, SystemExit) and not isinstance(exc, ExitCalled):
            detail = f"exit status {exc.code!r}"
        if isinstance(exc, ExitCalled):
            record_error = f"{failure.what}: {exc}"
        elif isinstance(exc, CoreError) and detail.startswith(f"plugin '{record.name}'"):
            record_error = detail.removeprefix(f"plugin '{record.name}'").lstrip(": ")
        else:
            record_error = f"{failure.what}: {type(exc).__name__}: {detail}"
        record.traceback = "".join(traceback.format_exception(exc))
        self._set_unavailable(record, "failed", record_error.replace("\n", " "))
        if self.strict:
            raise PluginError(
                f"plugin '{record.name}' {record.error} (CORE_STRICT_PLUGINS is set)"
            ) from exc
        return record

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and drop its components and kinds."""
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin)
        self.registry.remove_plugin(name)
        self.records.pop(name, None)
        self._impls.pop(name, None)

    # -- using -------------------------------------------------------------------------------
    def add_commands(self, cli: Any, group: Callable[[], Any]) -> None:
        """Let every loaded plugin add its commands to the root click group (once per group).

        Each plugin adds to a fresh ``group()`` of its own, merged into ``cli`` afterwards: a
        plugin never sees core's commands, and one giving a name ``cli`` already has (core's own
        command or another plugin's) fails with none of its commands added.
        """
        added: set[str] = cli.__dict__.setdefault("_core_plugins_added", set())
        owners: dict[str, str] = cli.__dict__.setdefault("_core_command_owners", {})
        for record in list(self.records.values()):
            plugin = self._pm.get_plugin(record.name)
            if plugin is None or record.status != "loaded" or record.name in added:
                continue
            added.add(record.name)
            own, watch = group(), Watch()
            try:
                with guard("raised while adding commands", record.name) as watch:
                    self._call_own(plugin, record.name, "register_commands", cli=own)
                    for name in own.commands:
                        _check_command_name(record.name, name, cli.commands, owners)
            except PluginFailure as failure:
                self._record_failure(record, failure)
                continue
            finally:
                self._note_threads(record, watch)
            for name, command in own.commands.items():
                owners[name] = record.name
                cli.add_command(command, name)

    def plugins(self, include_builtins: bool = True) -> list[PluginRecord]:
        """Records of every plugin seen, loaded or not."""
        return [r for r in self.records.values() if include_builtins or not r.builtin]

    def check(self) -> list[str]:
        """Problems: failed plugins, unknown hooks, conflicts, unimportable or mismatched configs."""

        problems = []
        for record in self.records.values():
            if record.status == "failed":
                problems.append(f"plugin '{record.name}' {record.error}")
            for hook in record.unknown_hooks:
                close = difflib.get_close_matches(hook, self._known_hooks(), n=1, cutoff=0.8)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(f"plugin '{record.name}' implements unknown hook '{hook}'{hint}")
            if record.threads:
                problems.append(
                    f"plugin '{record.name}' left non-daemon thread(s) running after loading: "
                    f"{', '.join(record.threads)}; core exits without waiting for them "
                    "(start them as daemon threads, or only when a command needs them)"
                )
        return problems + registry_problems(self.registry)

    def lingering_threads(self) -> dict[str, list[str]]:
        """Plugin -> names of the non-daemon threads it left that still run."""
        alive = {
            name: [t.name for t in threads if t.is_alive()]
            for name, threads in self._threads.items()
        }
        return {name: names for name, names in alive.items() if names}

    def _known_hooks(self) -> list[str]:
        return [name for name, caller in vars(self._pm.hook).items() if caller.has_spec()]


def _warn_former_hook(plugin: str, hook: str, kind: Kind) -> None:
    warnings.warn(
        f"plugin '{plugin}' implements {hook}, the former hook of the kind '{kind.name}': "
        f"name it {kind.hook} (the old name will stop working in the next release)",
        DeprecationWarning,
        stacklevel=2,
    )


_manager: PluginManager | None = None


def get_manager(*, entry_points: bool = True) -> PluginManager:
    """The process-wide manager, loaded on first use (``entry_points=False``: built-ins only)."""
    global _manager
    if _manager is None:
        _manager = PluginManager()
    return _manager.load(entry_points=entry_points)


def known_kinds() -> dict[str, Kind]:
    """The kinds the process-wide manager knows now (none loaded: the built-in ones); loads nothing."""
    if _manager is None:
        return {kind.name: kind for kind in BUILTIN_KINDS}
    return dict(_manager.registry.kinds)


def lingering_threads() -> dict[str, list[str]]:
    """The process-wide manager's plugins whose non-daemon threads still run (none if unused)."""
    return _manager.lingering_threads() if _manager is not None else {}


def _check_command_name(
    plugin: str, name: Any, commands: dict[str, Any], owners: dict[str, str]
) -> None:
    """Refuse a plugin command that would replace another or fake lines in ``core --help``."""
    if not isinstance(name, str) or not _COMMAND_NAME.match(name):
        raise PluginError(
            f"plugin '{plugin}' adds a command with an invalid name {name!r}: command names "
            "start with a letter or digit and hold no spaces or control characters"
        )
    if name in commands:
        owner = f"plugin '{owners[name]}' adds" if name in owners else "is one of core's own"
        raise PluginError(
            f"plugin '{plugin}' adds the command '{name}', which {owner}; "
            "a plugin cannot replace another command"
        )


def set_manager(manager: PluginManager | None) -> PluginManager | None:
    """Replace the process-wide manager (tests); returns the previous one."""
    global _manager
    previous, _manager = _manager, manager
    return previous

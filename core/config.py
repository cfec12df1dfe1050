"""Run configs: YAML with ``_base_`` inheritance, ``${ENV}`` expansion and dotted overrides."""

from __future__ import annotations

import copy
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from core._messages import clip, short_repr
from core.atomic import atomic_write_text, file_kind
from core.errors import ConfigError

__all__ = [
    "Config",
    "load_yaml",
    "parse_yaml",
    "read_text_file",
    "parse_override",
    "apply_overrides",
    "deep_merge",
    "origin_of",
    "COMMAND_LINE",
    "MAX_CONFIG_BYTES",
    "MAX_BASE_DEPTH",
]

_BASE_KEY = "_base_"
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
_INDEX = re.compile(r"\[(\d+)\]")
COMMAND_LINE = "<command line>"


class _DuplicateKey(yaml.YAMLError):
    """A key given twice in one mapping (PyYAML would keep the last silently)."""

    def __init__(self, what: str, path: str, first: yaml.Mark, second: yaml.Mark) -> None:
        super().__init__(path)
        self.what, self.path, self.first, self.second = what, path, first, second


class _Loader(yaml.SafeLoader):
    """The safe loader, reading ``1e-3`` as a float (YAML 1.2) instead of a string, and
    refusing a key given twice in one mapping (a ``<<`` merge may still be overridden)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[str] = []  # the keys (and list indexes) down to the node composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if index is None:  # the document or a key
            return super().compose_node(parent, index)
        self._path.append(index.value if isinstance(index, yaml.ScalarNode) else str(index))
        try:
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], yaml.Mark] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            first = seen.setdefault((key.tag, key.value), key.start_mark)
            if first is not key.start_mark:
                what = "section" if isinstance(value, yaml.MappingNode) else "key"
                path = ".".join([*self._path, key.value])
                raise _DuplicateKey(what, path, first, key.start_mark)
        return node


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def deep_merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge; the child wins, mappings merge key by key."""
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _origins(data: Any, source: str, prefix: str = "") -> dict[str, str]:
    found = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            found[path] = source
            found.update(_origins(value, source, path))
    return found


#: the largest config file read (1 MiB); the size is checked before reading.
MAX_CONFIG_BYTES = 1 << 20
#: the longest chain of ``_base_`` files (a file, its base, the base's base...).
MAX_BASE_DEPTH = 32
#: limits on what one YAML document may expand to (anchors and aliases included).
MAX_YAML_VALUES = 200_000
MAX_YAML_DEPTH = 100


def _check_regular(path: Path, info: os.stat_result, limit: int, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: is {file_kind(info.st_mode)}; a {what} must be a regular file")
    if info.st_size > limit:
        raise ConfigError(
            f"{path}: {info.st_size:,} bytes, over the {limit:,}-byte limit of a {what}"
        )


def read_text_file(
    path: str | os.PathLike[str], limit: int = MAX_CONFIG_BYTES, what: str = "config file"
) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes; else one ConfigError."""
    path = Path(path)
    try:
        _check_regular(path, path.stat(), limit, what)  # before opening: no FIFO is opened
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        with os.fdopen(os.open(path, flags), "rb") as handle:
            _check_regular(path, os.fstat(handle.fileno()), limit, what)  # the file opened
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew after the check
        raise ConfigError(f"{path}: over the {limit:,}-byte limit of a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); a {what} is YAML") from None


def _check_size(data: Any, source: str) -> None:
    """Refuse documents that expand past MAX_YAML_VALUES values or MAX_YAML_DEPTH levels.

    Aliases are shared when read, but every later step (merging, validation) walks the
    expanded tree: a few lines of nested aliases would otherwise stand for billions of values.
    """
    count = 0
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise ConfigError(
                f"{source}: the YAML expands to more than {MAX_YAML_VALUES:,} values "
                "(nested anchors and aliases?); refused"
            )
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(f"{source}: the YAML nests deeper than {MAX_YAML_DEPTH} levels")
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def _flow_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting outside quotes (PyYAML slows down sharply on deep flows)."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
        elif char == "\n" and depth <= 0:
            depth = 0
    return deepest


def parse_yaml(text: str, source: str) -> Any:
    """Plain YAML (safe, YAML 1.2 floats) within the size and nesting limits; ``source`` names it."""
    if _flow_depth(text) > MAX_YAML_DEPTH:
        raise ConfigError(
            f"{source}: the YAML nests too deeply to read (more than {MAX_YAML_DEPTH} levels)"
        )
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        first, second = exc.first, exc.second
        places = (
            f"line {first.line + 1}, columns {first.column + 1} and {second.column + 1}"
            if first.line == second.line
            else f"lines {first.line + 1} and {second.line + 1}"
        )
        raise ConfigError(
            f"{source}:{second.line + 1}:{second.column + 1}: {exc.what} '{clip(exc.path)}' "
            f"given twice ({places}); give it once"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{source}: the YAML nests too deeply to read (more than {MAX_YAML_DEPTH} levels)"
        ) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError(
            f"{where}: {clip(str(exc.problem))}; only plain YAML is read (no Python tags)"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {clip(problem)}") from None
    _check_size(data, source)
    return data


def _expand_env(value: Any, source: str, path: str = "") -> Any:
    if isinstance(value, Mapping):
        return {
            k: _expand_env(v, source, f"{path}.{k}" if path else str(k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand_env(v, source, f"{path}.{i}") for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{source}: {path}: environment variable ${{{name}}} is not set")

    whole = _ENV.fullmatch(value)
    expanded = _ENV.sub(lookup, value)
    if whole:  # "${EPOCHS}" alone takes the YAML type of the variable's value
        return parse_yaml(expanded, f"{source}: {path}") if expanded else expanded
    return expanded


def load_yaml(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a YAML config with its bases; returns (data, origin file of each dotted key).

    Every file is a regular file of at most MAX_CONFIG_BYTES; each base is read once per
    load however often it is named; chains are at most MAX_BASE_DEPTH files long.
    """
    data, origins = _load(Path(path), (), {})
    _check_size(data, str(path))  # the merged document, not only each file
    return data, origins


_Loaded = tuple[dict[str, Any], dict[str, str]]


def _load(path: Path, chain: tuple[Path, ...], loaded: dict[Path, _Loaded]) -> _Loaded:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"_base_ cycle: {cycle}")
    if resolved in loaded:
        return loaded[resolved]
    if len(chain) >= MAX_BASE_DEPTH:
        raise ConfigError(
            f"{path}: _base_ chain longer than {MAX_BASE_DEPTH} files (from {chain[0]})"
        )
    data = parse_yaml(read_text_file(path), str(path))
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: a config file must hold a mapping, got {type(data).__name__} "
            "(is it a YAML config?)"
        )
    data = _expand_env(dict(data), str(path))
    bases = data.pop(_BASE_KEY, None)
    names = [] if bases is None else [bases] if isinstance(bases, str) else bases
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for base in names if isinstance(names, list) else [names]:
        if not isinstance(base, str) or not base:
            raise ConfigError(
                f"{path}: _base_ must be a file name or a list of them, got {short_repr(base)}"
            )
        base_path = (path.parent / base) if not os.path.isabs(base) else Path(base)
        if not base_path.exists():
            via = " -> ".join(str(p) for p in (*chain, resolved))
            raise ConfigError(f"{path}: _base_ file not found: {base_path} (chain: {via})")
        base_data, base_origins = _load(base_path, (*chain, resolved), loaded)
        merged = deep_merge(merged, base_data)
        origins.update(base_origins)
    merged = deep_merge(merged, data)
    origins.update(_origins(data, str(path)))
    loaded[resolved] = (merged, origins)
    return merged, origins


def origin_of(origins: Mapping[str, str], dotted: str, default: str | None = None) -> str | None:
    """The file (or ``<command line>``) that set ``dotted`` or the nearest section above it.

    ``train.loggers[0].x`` and ``train.loggers.0.x`` name the same key.
    """
    parts = _INDEX.sub(r".\1", dotted).split(".")
    for end in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:end]))
        if found is not None:
            return found
    return default


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=1e-3"`` -> ``("train.lr", 0.001)``; the value is typed like YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _OVERRIDE_KEY.match(key):
        raise ConfigError(f"{COMMAND_LINE}: override {text!r} must look like 'section.key=value'")
    value = parse_yaml(raw, f"{COMMAND_LINE}: {key}") if raw.strip() else ""
    return key, value


def _set_dotted(data: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = _list_item(node, part, ".".join(parts[: i + 1]), source)
            if not isinstance(node, (dict, list)):
                where = ".".join(parts[: i + 1])
                raise ConfigError(
                    f"{source}: cannot set '{dotted}': '{where}' holds {short_repr(node)}, not a section"
                )
            continue
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, (dict, list)):
            where = ".".join(parts[: i + 1])
            raise ConfigError(
                f"{source}: cannot set '{dotted}': '{where}' holds {short_repr(child)}, not a section"
            )
        node = child
    last = parts[-1]
    if isinstance(node, list):
        index = _list_index(node, last, dotted, source)
        node[index] = value
    else:
        node[last] = value


def _list_index(node: list[Any], part: str, dotted: str, source: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(
            f"{source}: '{dotted}': list index {part!r} out of range ({len(node)} items)"
        )
    return int(part)


def _list_item(node: list[Any], part: str, dotted: str, source: str) -> Any:
    return node[_list_index(node, part, dotted, source)]


def apply_overrides(data: dict[str, Any], overrides: Iterable[str | tuple[str, Any]]) -> list[str]:
    """Apply ``a.b=value`` overrides in place; returns the dotted keys set."""
    keys = []
    for override in overrides:
        key, value = parse_override(override) if isinstance(override, str) else override
        _set_dotted(data, key, value, COMMAND_LINE)
        keys.append(key)
    return keys


class Config(MutableMapping[str, Any]):
    """A run config: a nested mapping with attribute and item access.

    ``Config("run.yaml")`` reads a file (``_base_``, ``${ENV}``); ``Config({...})`` wraps a
    dict; ``Config(path, overrides=["train.lr=1e-3"])`` applies dotted overrides.
    """

    __slots__ = ("_data", "_source", "_origins", "_prefix")

    def __init__(
        self,
        source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        overrides: Iterable[str | tuple[str, Any]] = (),
        **values: Any,
    ) -> None:
        origins: dict[str, str] = {}
        file = None
        if source is None:
            data: dict[str, Any] = {}
        elif isinstance(source, (str, os.PathLike)):
            data, origins = load_yaml(source)
            file = str(source)
        elif isinstance(source, Config):
            data, origins, file = source.to_dict(), dict(source._origins), source._source
        elif isinstance(source, Mapping):
            data = copy.deepcopy(dict(source))
        elif hasattr(source, "model_dump"):
            data = source.model_dump(mode="python")
        else:
            raise ConfigError(
                f"a Config is made from a YAML path, a mapping or a pydantic model, got "
                f"{type(source).__name__}"
            )
        data = deep_merge(data, values)
        for key in apply_overrides(data, overrides):
            origins[key] = COMMAND_LINE
        self._data = data
        self._source = file
        self._origins = origins
        self._prefix = ""

    @classmethod
    def _view(cls, data: dict[str, Any], parent: Config, key: str) -> Config:
        view = cls.__new__(cls)
        view._data = data
        view._source = parent._source
        view._origins = parent._origins
        view._prefix = f"{parent._prefix}{key}."
        return view

    # -- mapping protocol --------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        return Config._view(value, self, key) if isinstance(value, dict) else value

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value.to_dict() if isinstance(value, Config) else value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f"config section '{self._prefix.rstrip('.') or '<root>'}' has no key '{key}'"
                f" (keys: {', '.join(map(str, self._data)) or 'none'})"
            ) from None

    def __setattr__(self, key: str, value: Any) -> None:
        if key in Config.__slots__:
            object.__setattr__(self, key, value)
        else:
            self[key] = value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Config({self._data!r})"

    # -- helpers ------------------------------------------------------------------------------
    @property
    def source(self) -> str | None:
        """The YAML file this config was read from, if any."""
        return self._source

    @property
    def origins(self) -> dict[str, str]:
        """The file (or ``<command line>``) of each dotted key, from the root (a copy)."""
        return dict(self._origins)

    def origin(self, dotted: str) -> str | None:
        """The file (or ``<command line>``) a dotted key came from."""
        return origin_of(self._origins, f"{self._prefix}{dotted}", self._source)

    def where(self, dotted: str = "") -> str:
        """``file: section.key`` for error messages."""
        path = f"{self._prefix}{dotted}".rstrip(".")
        origin = origin_of(self._origins, path, self._source) if path else self._source
        return f"{origin}: {path}" if origin else path

    def get_path(self, dotted: str, default: Any = None) -> Any:
        """``cfg.get_path("train.optimizer.lr")``."""
        node: Any = self
        for part in dotted.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return default
        return node

    def to_dict(self) -> dict[str, Any]:
        """A deep plain-dict copy."""
        return copy.deepcopy(self._data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the config as YAML, atomically."""

        atomic_write_text(path, self.to_yaml())

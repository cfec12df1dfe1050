"""The entry points of one group, read straight from installed distributions' metadata.

``importlib.metadata`` costs about 50 ms to import and scan here (it pulls in ``email`` to parse
every METADATA file), a third of ``core plugins list``. The fast scan reads only
``entry_points.txt`` and the header lines of METADATA/PKG-INFO, following importlib's rules:
``sys.path`` entries in order, ``*.dist-info`` and ``*.egg-info`` children (folders or, for
``*.egg-info``, bare files) grouped by name in directory order, ``EGG-INFO`` inside ``*.egg``
folders, and the first distribution of a normalised name wins.

It falls back to ``importlib.metadata`` where it cannot see what importlib sees: a
``sys.meta_path`` finder other than ``PathFinder`` that provides ``find_distributions``, a
``sys.path`` entry that is a file (zip, zipped egg) or not a string.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["PluginEntryPoint", "entry_points"]

_EXTRAS = re.compile(r"\s*\[.*\]\s*$")
_NAME_SEPARATORS = re.compile(r"[-_.]+")
# A header line as the email parser tells one: printable ASCII but ':' and space, then ':'.
_HEADER_LINE = re.compile(r"[\041-\071\073-\176]*:")
_REQUIREMENT = re.compile(
    r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<rest>.*)", re.DOTALL
)
_EXTRA_ONLY_MARKER = re.compile(
    r"""\s*\(?\s*(?:extra\s*==\s*(['"])[^'"]*\1|(['"])[^'"]*\2\s*==\s*extra)\s*\)?\s*"""
)


@dataclass(frozen=True)
class PluginEntryPoint:
    """One entry point: ``name = module:attr`` of a distribution.

    ``requires_core`` is the distribution's ``Requires-Dist`` range on ``core`` (such as
    ``"<0.2,>=0.1"``; several applying requirements are joined with ``,``), ``""`` when it
    requires ``core`` without a range, ``None`` when it does not require ``core``.
    """

    name: str
    value: str
    dist: str | None = None
    version: str | None = None
    requires_core: str | None = None

    def load(self) -> Any:
        """Import the module and return the attribute (or the module itself)."""
        module, _, attr = _EXTRAS.sub("", self.value).partition(":")
        obj: Any = importlib.import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
        return obj


class _NeedsImportlib(Exception):
    """The scan met a ``sys.path`` entry only importlib.metadata reads."""


def _normalise(name: str) -> str:
    return _NAME_SEPARATORS.sub("-", name).lower()


# -- requirements on core -----------------------------------------------------------------------
def _marker_applies(marker: str) -> bool:
    """Whether an environment marker holds here, with no extra requested.

    A marker that cannot be evaluated (``packaging`` missing, or an invalid marker) counts as
    not holding, so that a plugin is never ruled incompatible on a guess.
    """
    if _EXTRA_ONLY_MARKER.fullmatch(marker):
        return False
    try:  # about 30 ms to import: only for a requirement on core with a non-extra marker
        from packaging.markers import (
            InvalidMarker,
            Marker,
            UndefinedComparison,
            UndefinedEnvironmentName,
        )
    except ImportError:
        return False
    try:
        return Marker(marker).evaluate({"extra": ""})
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def _core_specifier(requirements: Iterable[str]) -> str | None:
    """The version range that ``Requires-Dist`` lines put on ``core`` (see PluginEntryPoint)."""
    ranges: list[str] | None = None
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is None or _normalise(match["name"]) != "core":
            continue
        rest = match["rest"]
        if rest.startswith("@"):  # a URL requirement: a marker follows whitespace and ';'
            specifier, marker = "", (re.split(r"\s;", rest, maxsplit=1) + [""])[1]
        else:
            specifier, _, marker = rest.partition(";")
        if marker.strip() and not _marker_applies(marker):
            continue
        ranges = ranges if ranges is not None else []
        specifier = re.sub(r"[\s()]", "", specifier)
        if specifier:
            ranges.append(specifier)
    return None if ranges is None else ",".join(ranges)


def _sectioned_lines(text: str) -> Iterator[tuple[str | None, str]]:
    """``(section, line)`` for each content line of an INI-like file (``[section]`` headers)."""
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        else:
            yield section, line


def _requires_from_requires_txt(text: str) -> Iterator[str]:
    """``requires.txt`` of an egg as ``Requires-Dist`` lines, as importlib.metadata converts it."""
    for section, line in _sectioned_lines(text):
        extra, _, markers = (section or "").partition(":")
        if extra and markers:
            markers = f"({markers})"
        conditions = [c for c in (markers, extra and f'extra == "{extra}"') if c]
        space = " " if "@" in line else ""
        yield line + space + ("; " + " and ".join(conditions) if conditions else "")


# -- the fast scan ------------------------------------------------------------------------------
@dataclass
class _Metadata:
    name: str | None
    version: str | None
    requires: list[str]


def _read_text(path: str) -> str | None:
    """A file's text, newlines as universal-newline reading gives them; None if unreadable."""
    try:
        with open(path, "rb") as fh:  # a third of the cost of a text-mode open
            text = fh.read().decode("utf-8")
    except OSError:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _header_lines(text: str) -> Iterator[str]:
    """The header lines of metadata text, up to the line (blank or other) that ends them."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if not (line.startswith((" ", "\t")) or _HEADER_LINE.match(line)):
            return
        yield line
        start = end + 1


def _metadata(info: str) -> _Metadata:
    """Name, Version and Requires-Dist of a distribution, read as importlib.metadata does."""
    text = (
        _read_text(os.path.join(info, "METADATA"))
        or _read_text(os.path.join(info, "PKG-INFO"))
        or _read_text(info)  # an .egg-info file is the metadata itself
        or ""
    )
    headers: list[tuple[str, str]] = []
    for line in _header_lines(text):
        if line.startswith((" ", "\t")):  # a folded continuation line
            if headers:
                headers[-1] = (headers[-1][0], f"{headers[-1][1]}\n{line}")
        else:
            key, _, value = line.partition(":")
            headers.append((key.lower(), value.lstrip(" \t")))
    values: dict[str, list[str]] = {}
    for key, value in headers:
        if "\n" in value:  # importlib.metadata re-indents folded values
            import textwrap

            value = textwrap.dedent(" " * 8 + value)
        values.setdefault(key, []).append(value)
    requires = values.get("requires-dist") or list(
        _requires_from_requires_txt(_read_text(os.path.join(info, "requires.txt")) or "")
    )
    return _Metadata(values.get("name", [None])[0], values.get("version", [None])[0], requires)


def _name_from_stem(child: str) -> str | None:
    """The normalised name in ``name-version.dist-info``, where importlib takes it from there."""
    stem, ext = os.path.splitext(child)
    if ext not in (".dist-info", ".egg-info"):
        return None
    return _normalise(stem.partition("-")[0]) or None


def _distributions_in(entry: str) -> Iterator[tuple[str, str | None]]:
    """(metadata path, normalised name or None) of each distribution in one sys.path entry."""
    try:
        children = os.listdir(entry or ".")
    except NotADirectoryError:
        raise _NeedsImportlib(entry) from None
    except (OSError, ValueError):
        return
    by_name: dict[str, list[str]] = {}
    eggs: list[str] = []
    entry_is_egg = os.path.basename(entry).lower().endswith(".egg")
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            by_name.setdefault(_normalise(low.rpartition(".")[0].partition("-")[0]), []).append(
                child
            )
        elif entry_is_egg and low == "egg-info":
            eggs.append(child)
    for group in by_name.values():
        for child in group:
            yield os.path.join(entry, child), _name_from_stem(child)
    for child in eggs:
        yield os.path.join(entry, child), None


def _group_entries(text: str, group: str) -> Iterator[tuple[str, str]]:
    for section, line in _sectioned_lines(text):
        name, sep, value = line.partition("=")
        if section == group and sep:
            yield name.strip(), value.strip()


def _scan(group: str) -> list[PluginEntryPoint]:
    seen: set[str | None] = set()
    found: list[PluginEntryPoint] = []
    for entry in sys.path:
        if not isinstance(entry, str):
            raise _NeedsImportlib(entry)
        for info, name in _distributions_in(entry):
            metadata = None
            if name is None:  # importlib takes the name from the metadata
                metadata = _metadata(info)
                name = _normalise(metadata.name) if metadata.name else None
            if name in seen:
                continue
            seen.add(name)
            text = _read_text(os.path.join(info, "entry_points.txt"))
            entries = list(_group_entries(text, group)) if text else []
            if entries:
                metadata = metadata or _metadata(info)
                requires_core = _core_specifier(metadata.requires)
                found += [
                    PluginEntryPoint(n, v, metadata.name, metadata.version, requires_core)
                    for n, v in entries
                ]
    return found


# -- the fallback -------------------------------------------------------------------------------
def _from_importlib(group: str) -> list[PluginEntryPoint]:
    from importlib.metadata import entry_points as importlib_entry_points

    found = []
    details: dict[int, tuple[str | None, str | None, str | None]] = {}
    for ep in importlib_entry_points(group=group):
        dist = ep.dist
        if dist is None:
            found.append(PluginEntryPoint(ep.name, ep.value))
            continue
        if id(dist) not in details:
            details[id(dist)] = (dist.name, dist.version, _core_specifier(dist.requires or ()))
        found.append(PluginEntryPoint(ep.name, ep.value, *details[id(dist)]))
    return found


def _only_path_finder_provides_distributions() -> bool:
    providers = [f for f in sys.meta_path if getattr(f, "find_distributions", None) is not None]
    return len(providers) == 1 and _searches_sys_path(providers[0])


def _searches_sys_path(finder: object) -> bool:
    """``PathFinder``, or the ``importlib_metadata`` backport's stand-in for it.

    Importing the backport (mlflow does) removes ``PathFinder.find_distributions`` and adds
    its own ``MetadataPathFinder``, which reads the same ``sys.path`` folders.
    """
    if finder is importlib.machinery.PathFinder:
        return True
    kind = type(finder)
    return kind.__name__ == "MetadataPathFinder" and kind.__module__.startswith(
        "importlib_metadata"
    )


def entry_points(group: str) -> list[PluginEntryPoint]:
    """Every entry point of ``group``, as ``importlib.metadata.entry_points(group=...)``."""
    if _only_path_finder_provides_distributions():
        try:
            return _scan(group)
        except _NeedsImportlib:
            pass
    return _from_importlib(group)

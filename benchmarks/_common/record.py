"""A benchmark's record: the one machine record, the command, and writing it through core.atomic.

Every benchmark writes ``benchmarks/results/<name>.json`` with ``save_record``; its ``machine``
is one dict with one set of keys (``MACHINE_KEYS``). Records written before that recorded the
machine under ten different spellings; ``load_record`` maps them to the one shape, so old
results render beside new ones.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "MACHINE_KEYS",
    "RESULTS",
    "load_record",
    "machine",
    "machine_label",
    "machine_line",
    "save_record",
    "resumed_record",
    "start_record",
]

RESULTS = Path(__file__).resolve().parents[1] / "results"
MACHINE_KEYS = (
    "cpu",
    "cores",
    "platform",
    "python",
    "torch",
    "load_average_before",
    "load_average_after",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_version() -> str | None:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """This machine now: CPU model, cores, platform, Python, torch, and the load average before."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": _torch_version(),
        "load_average_before": list(os.getloadavg()),
        "load_average_after": None,
    }


def start_record(name: str, **fields: Any) -> dict[str, Any]:
    """A new record of benchmark ``name``: the command that ran it and the machine, load now."""
    command = shlex.join(["python", f"benchmarks/{name}.py", *sys.argv[1:]])
    return {"benchmark": name, "command": command, "machine": machine(), **fields}


def resumed_record(name: str, out: Path, resume: bool, **fields: Any) -> dict[str, Any]:
    """``start_record(name, **fields)``, over the record already in ``out`` when ``resume``
    (its runs kept, the command and machine of this run)."""
    record = start_record(name, **fields)
    if resume and out.is_file():
        record = {**json.loads(out.read_text()), **record}
    return record


def save_record(name: str, data: Any, path: str | os.PathLike[str] | None = None) -> Path:
    """Write ``data`` to ``results/<name>.json`` (or ``path``) atomically: a kill leaves the old file.

    A dict record gets today's date and the load average now as its machine's ``after``.
    """
    from core.atomic import atomic_write_text

    if isinstance(data, dict):
        data["date"] = time.strftime("%Y-%m-%d")
        if isinstance(data.get("machine"), dict):
            data["machine"]["load_average_after"] = list(os.getloadavg())
    target = Path(path) if path is not None else RESULTS / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, json.dumps(data, indent=2) + "\n")
    return target


# Keys of records written before the one machine record: where each old spelling goes.
_LEGACY = {
    "processor": "cpu",
    "cpus": "cores",
    "cpu_count": "cores",
    "python": "python",
    "torch": "torch",
    "load_average_at_start": "load_average_before",
    "loadavg_before": "load_average_before",
    "load_average_at_end": "load_average_after",
    "loadavg_after": "load_average_after",
    "load_average_1min_at_end": "load_average_after",
    "load_average": "load_average_after",  # difflut_export: read once, when the run ended
}


def _legacy_machine(record: dict[str, Any]) -> dict[str, Any]:
    """The one machine record from an old record's keys (what it did not record stays None)."""
    old = record.pop("machine", None)
    found: dict[str, Any] = dict.fromkeys(MACHINE_KEYS)
    sources = [old if isinstance(old, dict) else {}, record]
    for source in sources:
        for key, new in _LEGACY.items():
            if key in source:
                value = source.pop(key)
                found[new] = found[new] if value in (None, "") else value
    for source in sources:
        source.pop("device", None)  # "cpu": every record so far
        if "torch_threads" in source:
            record.setdefault("threads", source.pop("torch_threads"))
        if "date" in source and source is not record:
            record.setdefault("date", source.pop("date"))
    pair = record.pop("load_average_1min", None)  # plugin_startup: {"before": x, "after": y}
    if isinstance(pair, dict):
        found["load_average_before"] = pair.get("before")
        found["load_average_after"] = pair.get("after")
    for part in (p.strip() for p in old.split(",")) if isinstance(old, str) else ():
        words = part.split()
        if part.lower().endswith("cpus") and words[0].isdigit():
            found["cores"] = found["cores"] or int(words[0])
        elif words and words[0] in ("torch", "Python"):
            key = words[0].lower()
            found[key] = found[key] or words[-1]
        elif "thread" not in part and not found["cpu"]:
            found["cpu"] = part  # the architecture, where no CPU model was recorded
    for key in ("load_average_before", "load_average_after"):
        if isinstance(found[key], (int, float)):
            found[key] = [found[key]]  # a 1-minute value alone
    return found


def load_record(path: str | os.PathLike[str]) -> Any:
    """A results file, its machine in the one shape (json.JSONDecodeError when it is not JSON)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        machine = data.get("machine")
        if not (isinstance(machine, dict) and set(machine) == set(MACHINE_KEYS)):
            data["machine"] = _legacy_machine(data)
    return data


def machine_label(machine: Any) -> str:
    """The machine in a few words, for a table column: CPU and cores."""
    if not isinstance(machine, dict):
        return "not recorded"
    parts = [str(machine["cpu"])] if machine.get("cpu") else []
    if machine.get("cores"):
        parts.append(f"{machine['cores']} cores")
    return ", ".join(parts) or "not recorded"


def machine_line(record: dict[str, Any]) -> str:
    """Where and when a record was measured, in one sentence (what was not recorded is left out)."""
    machine = record.get("machine") if isinstance(record.get("machine"), dict) else {}
    parts = [machine_label(machine)] if machine_label(machine) != "not recorded" else []
    for key, name in (("platform", ""), ("python", "Python "), ("torch", "torch ")):
        if machine.get(key):
            parts.append(f"{name}{machine[key]}")
    threads = record.get("threads")
    if threads:
        parts.append(f"{threads} torch thread{'s' if threads != 1 else ''}")
    line = f"Machine: {', '.join(parts) if parts else 'not recorded'}"
    load = [
        f"{machine[key][0]:.2f} {when}"
        for key, when in (("load_average_before", "before"), ("load_average_after", "after"))
        if machine.get(key)
    ]
    if load:
        line += f"; 1-min load average {', '.join(load)}"
    if record.get("date"):
        line += f"; measured {record['date']}"
    return line

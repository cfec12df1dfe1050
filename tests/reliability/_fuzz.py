"""Config fuzzing shared by the tests and ``benchmarks/reliability.py``.

One case: a component section (small valid base, then mutated) is written as YAML text into
a child file that inherits a base file through ``_base_``, part of the mutation is given as
``section.key=value`` overrides, and the result is read with ``core.Config`` and built with
``core.build``. The case passes when it builds, or fails with one ``core.errors.CoreError``,
within a time limit, without writing a file.

``fuzz_component`` draws each component's cases from its own seed (the run's seed, the kind
and the name), so a run is reproducible, and adding a component changes no other's cases.
"""

from __future__ import annotations

import collections
import hashlib
import math
import os
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import yaml
from _deadline import time_limit  # a sibling: load_helper puts this folder on sys.path
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.config import Config
from core.errors import CoreError
from core.plugins import get_manager

__all__ = [
    "FUZZ_SEED",
    "component_seed",
    "fuzz_component",
    "component_ids",
    "small_base",
    "mutations",
    "run_case",
    "CaseResult",
    "Hang",
]

#: sizes tried (ascending) for int fields whose default is large, to keep builds fast.
_SMALL = (2, 4, 8, 16, 32)
_CASE_SECONDS = 20
#: The seed of the documented runs (``benchmarks/reliability.py --seed``).
FUZZ_SEED = 0


class Hang(Exception):
    """A case ran past its time limit."""


def component_ids() -> list[tuple[str, str]]:
    """(kind, name) of every registered component with a config schema."""
    return [(e.kind, e.name) for e in get_manager().registry.entries() if e.config is not None]


def _schema(kind: str, name: str) -> Any:
    return get_manager().registry.get(kind, name).load_config()


def _validates(schema: Any, data: dict[str, Any]) -> bool:
    try:
        schema.model_validate(data)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


def small_base(kind: str, name: str) -> dict[str, Any]:
    """A section (without ``type``) that validates and builds a small component, if any."""
    schema = _schema(kind, name)
    data: dict[str, Any] = {}
    for field, info in schema.model_fields.items():
        if info.is_required():
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, int) and not isinstance(default, bool) and default > 32:
            for size in _SMALL:
                if _validates(schema, {**data, field: size}):
                    data[field] = size
                    break
    return data


def _bounds(info: Any) -> tuple[float | None, float | None]:
    low = high = None
    for item in info.metadata:
        for attr, kind in (("ge", "low"), ("gt", "low"), ("le", "high"), ("lt", "high")):
            value = getattr(item, attr, None)
            if value is not None:
                if kind == "low":
                    low = value if attr == "ge" else value + (1 if isinstance(value, int) else 0)
                else:
                    high = value if attr == "le" else value
    return low, high


def _field_values(info: Any) -> st.SearchStrategy[Any]:
    """Values for one field: wrong types, out-of-range and small in-range values."""
    low, high = _bounds(info)
    edges: list[Any] = []
    if low is not None:
        edges += [low - 1, -(10**15)]
    if high is not None:
        edges += [high + 1, 10**15]
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 40),
        st.sampled_from(edges or [0]),
        st.floats(allow_nan=True, allow_infinity=True, min_value=None, max_value=None).filter(
            lambda f: not math.isfinite(f) or abs(f) < 64
        ),
        st.text(max_size=6),
        st.sampled_from(["", "auto", "cpu", "../x", "/etc/passwd", "relu", "linear", "1e-3"]),
        st.lists(st.integers(-2, 8), max_size=4),
        st.dictionaries(st.sampled_from(["type", "a", "size"]), st.integers(-1, 4), max_size=2),
    )


@st.composite
def mutations(draw: Any, kind: str, name: str) -> dict[str, Any]:
    """A mutation: fields to set (in the file or as overrides) and fields to drop."""
    schema = _schema(kind, name)
    fields = sorted(schema.model_fields)
    keys = st.sampled_from([*fields, "not_a_field", "type"]) if fields else st.just("not_a_field")
    setting = {}
    for key in draw(st.lists(keys, max_size=3, unique=True)):
        info = schema.model_fields.get(key)
        if key == "type":
            setting[key] = draw(st.sampled_from([name, name.upper(), "", 3, None, f"{name}x"]))
        elif info is None:
            setting[key] = draw(st.integers(0, 3))
        else:
            setting[key] = draw(_field_values(info))
    drop = draw(st.lists(st.sampled_from(fields or ["x"]), max_size=2, unique=True))
    as_override = draw(st.lists(st.sampled_from(sorted(setting) or ["x"]), max_size=2, unique=True))
    return {"set": setting, "drop": drop, "override": [k for k in as_override if k in setting]}


class CaseResult:
    """What one fuzz case did: ``ok``, ``core-error`` (expected) or a failure."""

    def __init__(self, outcome: str, error: BaseException | None, seconds: float) -> None:
        self.outcome = outcome
        self.error = error
        self.seconds = seconds

    @property
    def failed(self) -> bool:
        return self.outcome not in {"ok", "core-error"}

    def __repr__(self) -> str:
        return f"CaseResult({self.outcome}, {type(self.error).__name__}: {self.error})"


def _listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def run_case(kind: str, name: str, mutation: dict[str, Any], section: str = "part") -> CaseResult:
    """YAML text -> ``_base_`` -> overrides -> validation -> build, in a scratch directory."""
    from core.building import build

    base = small_base(kind, name)
    child = {"type": name, **base}
    for key in mutation["drop"]:
        child.pop(key, None)
    file_values = {k: v for k, v in mutation["set"].items() if k not in mutation["override"]}
    child.update(file_values)
    overrides = [
        f"{section}.{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
        for k, v in mutation["set"].items()
        if k in mutation["override"]
    ]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as configs, tempfile.TemporaryDirectory() as work:
        configs_dir, work_dir = Path(configs), Path(work)
        (configs_dir / "base.yaml").write_text(
            yaml.safe_dump({section: {"type": name, **base}}), encoding="utf-8"
        )
        (configs_dir / "child.yaml").write_text(
            "_base_: base.yaml\n" + yaml.safe_dump({section: child}), encoding="utf-8"
        )
        before = _listing(configs_dir)
        cwd = os.getcwd()
        os.chdir(work_dir)
        outcome, error = "ok", None
        try:
            with time_limit(
                _CASE_SECONDS, lambda: Hang(f"case ran for more than {_CASE_SECONDS}s")
            ):
                config = Config(configs_dir / "child.yaml", overrides=overrides)
                value = config.to_dict()[section]
                if mutation["drop"] and set(mutation["drop"]) & set(mutation["set"]):
                    pass
                build(kind, value, where=section, source=config.source)
        except Hang as exc:
            outcome, error = "hang", exc
        except CoreError as exc:
            outcome, error = "core-error", exc
            if not str(exc).strip() or "Traceback" in str(exc):
                outcome = "unclear-error"
        except BaseException as exc:  # noqa: BLE001 - everything else is a finding
            outcome, error = "other-error", exc
        finally:
            os.chdir(cwd)
        written = _listing(work_dir) + [p for p in _listing(configs_dir) if p not in before]
        if written and outcome in {"ok", "core-error"}:
            outcome, error = "wrote-files", RuntimeError(f"files written: {written[:5]}")
    return CaseResult(outcome, error, time.perf_counter() - start)


def component_seed(run_seed: int, kind: str, name: str) -> int:
    """The hypothesis seed of one component's cases: fixed by the run's seed, kind and name."""
    return zlib.crc32(f"{run_seed}:{kind}:{name}".encode())


def fuzz_component(kind: str, name: str, examples: int, run_seed: int = FUZZ_SEED) -> dict:
    """Run ``examples`` cases of one component; counts per outcome, a digest of the cases
    drawn (equal digests: the same cases) and the first failures."""
    outcomes: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    drawn = hashlib.sha256()
    start = time.perf_counter()

    @seed(component_seed(run_seed, kind, name))
    @settings(
        max_examples=examples,
        derandomize=False,  # the explicit seed above decides the cases
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutations(kind, name))
    def case(mutation: dict[str, Any]) -> None:
        drawn.update(repr(mutation).encode())
        result = run_case(kind, name, mutation)
        outcomes[result.outcome] += 1
        if result.failed:
            failures.append(f"{mutation}: {result!r}"[:300])

    case()
    return {
        "cases": sum(outcomes.values()),
        "built": outcomes["ok"],
        "core_error": outcomes["core-error"],
        "other": sum(v for k, v in outcomes.items() if k not in {"ok", "core-error"}),
        "cases_digest": drawn.hexdigest()[:16],
        "seconds": round(time.perf_counter() - start, 2),
        "failures": failures[:5],
    }

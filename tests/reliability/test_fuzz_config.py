"""Fuzzing the config path of every registered component (hypothesis, seeded).

YAML text -> ``_base_`` -> dotted overrides -> validation -> build: each case builds or
fails with one ``core.errors.CoreError``; never another exception, a hang or a file written.
``benchmarks/reliability.py`` runs many more cases per component, and docs/reliability.md
shows its figures: the last tests here check that the page matches the JSON they came from.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import Config
from core.errors import ConfigError

from .conftest import REPO, load_helper

fuzz = load_helper("_fuzz")

EXAMPLES = int(os.environ.get("CORE_FUZZ_EXAMPLES", "8"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
COMPONENTS = fuzz.component_ids()


def test_every_registered_component_is_fuzzed():
    import core

    kinds = {kind for kind, _ in COMPONENTS}
    assert kinds == {entry.kind for entry in core.get_manager().registry.entries()}
    assert len(COMPONENTS) >= 40


@pytest.mark.parametrize(("kind", "name"), COMPONENTS, ids=[f"{k}-{n}" for k, n in COMPONENTS])
def test_component_config_fuzz(kind, name):
    result = fuzz.fuzz_component(kind, name, EXAMPLES, fuzz.FUZZ_SEED)
    assert result["cases"] > 0
    assert not result["failures"], "\n".join(result["failures"])


def test_fuzz_cases_are_reproducible_from_the_seed():
    first = fuzz.fuzz_component("loss", "mse", 12, run_seed=0)
    again = fuzz.fuzz_component("loss", "mse", 12, run_seed=0)
    other = fuzz.fuzz_component("loss", "mse", 12, run_seed=1)
    for result in (first, again, other):
        result.pop("seconds")
    assert first == again
    assert other["cases_digest"] != first["cases_digest"]


def test_a_component_seed_depends_on_nothing_but_the_run_seed_kind_and_name():
    seeds = {fuzz.component_seed(0, kind, name) for kind, name in COMPONENTS}
    assert len(seeds) == len(COMPONENTS)
    assert fuzz.component_seed(0, "loss", "mse") == fuzz.component_seed(0, "loss", "mse")


def test_run_case_flags_a_non_core_error(tmp_plugin):
    """The harness itself fails on a component that raises a plain exception."""
    from core.schema import ComponentConfig, Field

    class BrokenConfig(ComponentConfig):
        size: int = Field(2, ge=1, description="size")

    def broken(config):
        raise KeyError("boom")

    def register_losses(register):  # a hook returns nothing
        register("broken-loss", broken, config=BrokenConfig)

    tmp_plugin(register_losses=register_losses)
    result = fuzz.run_case("loss", "broken-loss", {"set": {}, "drop": [], "override": []})
    assert result.outcome == "other-error"


_RUN = """\
_base_: base.yaml
model:
  type: ddpm
  timesteps: 10
  data_dim: 2
  noise_schedule: {type: cosine}
  network: {type: mlp-denoiser, hidden_dim: 8, num_timesteps: 10}
data: {type: toy2d, size: 64}
train: {steps: 2, batch_size: 8, lr: 0.001, betas: [0.9, 0.99]}
"""


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(_RUN) - 1),
            st.sampled_from(
                [
                    "",
                    ":",
                    " ",
                    "\n",
                    "-",
                    "[",
                    "{",
                    "&a",
                    "*a",
                    "!!",
                    "%",
                    "'",
                    "\t",
                    "\x00",
                    "é",
                    "${X}",
                    "_base_: x.yaml\n",
                ]
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_yaml_text_reads_or_is_a_config_error(tmp_path_factory, edits):
    directory = tmp_path_factory.mktemp("yaml")
    (directory / "base.yaml").write_text("sample: {n: 4}\n", encoding="utf-8")
    text = _RUN
    for position, insert in edits:
        text = text[:position] + insert + text[position + 1 :]
    path = directory / "run.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        Config(path)
    except ConfigError as exc:
        assert str(exc).strip()


def _override_value() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-3, 40).map(str),
        st.sampled_from(
            [
                "1e-3",
                "nan",
                ".inf",
                "-1",
                "true",
                "null",
                "[]",
                "[1, 2]",
                "{}",
                "{a: 1}",
                "abc",
                "''",
                "[0.9]",
                "[0.9, 0.99, 0.5]",
                "!!python/name:os.system",
                "!!binary aGk=",
                "{type: toy2d}",
                "{type: nope}",
                "1" * 30,
                "[[[[1]]]]",
            ]
        ),
        st.text(max_size=5).filter(lambda t: "\n" not in t),
    )


_KEYS = [
    "model",
    "model.type",
    "model.timesteps",
    "model.network.hidden_dim",
    "model.network",
    "model.network.type",
    "model.noise_schedule.type",
    "model.data_dim",
    "model.x.y.z",
    "data",
    "data.type",
    "data.size",
    "data.shape",
    "data.noise",
    "train",
    "train.steps",
    "train.lr",
    "train.batch_size",
    "train.betas",
    "train.betas.0",
    "train.betas.5",
    "train.betas.0.x",
    "train.ema.decay",
    "train.precision",
    "train.device",
    "sample.n",
    "sample.steps",
    "extra.section",
    "a.b.c.d.e.f.g",
]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(_KEYS), _override_value()), min_size=1, max_size=3))
def test_cli_overrides_fuzz(tmp_path_factory, overrides):
    """``core train run.yaml k=v ...``: it trains, or one line on stderr, exit 2, nothing written."""
    from core.cli import main

    directory = tmp_path_factory.mktemp("cli")
    (directory / "base.yaml").write_text("sample: {n: 4}\n", encoding="utf-8")
    config = directory / "run.yaml"
    config.write_text(_RUN, encoding="utf-8")
    runs = directory / "runs"
    args = [f"{k}={v}" for k, v in overrides]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", str(config), *args, "--runs-dir", str(runs), "--quiet"])
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if code == 0:
        assert (runs / "run" / "final").is_dir()
        return
    assert code == 2, (args, err.getvalue())
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, err.getvalue())
    assert "Traceback" not in err.getvalue()
    written = [p for p in runs.rglob("*")] if runs.exists() else []
    assert not written, (args, written)
    assert sorted(p.name for p in directory.iterdir()) == ["base.yaml", "run.yaml", "runs"] or (
        sorted(p.name for p in directory.iterdir()) == ["base.yaml", "run.yaml"]
    )


def test_cli_fuzz_base_config_trains(tmp_path):
    """The unmutated config of the CLI fuzz is valid (so the fuzz explores real paths)."""
    from core.cli import main

    (tmp_path / "base.yaml").write_text("sample: {n: 4}\n", encoding="utf-8")
    (tmp_path / "run.yaml").write_text(_RUN, encoding="utf-8")
    code = main(["train", str(tmp_path / "run.yaml"), "--runs-dir", str(tmp_path / "r"), "-q"])
    assert code == 0
    assert (
        yaml.safe_load((tmp_path / "r" / "run" / "config.yaml").read_text())["data"]["size"] == 64
    )


# -- the figures of docs/reliability.md --------------------------------------------------------


def _page_module():
    name = "_core_reliability_page"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO / "benchmarks" / "reliability_page.py"
        )
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_reliability_page_matches_its_json():
    page = _page_module()
    results = json.loads(page.RESULTS.read_text(encoding="utf-8"))
    shown = page.blocks(page.PAGE.read_text(encoding="utf-8"))
    measured = sorted(part for part in page.RENDERERS if part in results)
    assert sorted(shown) == measured, "a measured part has no figures block on the page"
    for part in measured:
        assert shown[part] == page.render(part, results), (
            f"docs/reliability.md: the {part} figures differ from benchmarks/results/"
            "reliability.json; run .venv/bin/python benchmarks/reliability_page.py"
        )


def test_fuzz_figures_follow_whatever_components_the_json_holds():
    page = _page_module()
    row = {"cases": 60, "built": 10, "core_error": 50, "other": 0, "cases_digest": "ab"}
    figures = {
        "examples_per_component": 60,
        "seed": 3,
        "date": "2030-01-01",
        "total": {"cases": 1},  # a stale total is never shown: totals come from the rows
        "per_component": {
            "lr-schedule:cosine": row,
            "decoder:conv": {**row, "cases": 41, "built": 1, "core_error": 39, "other": 1},
        },
    }
    text = page.render("fuzz", {"fuzz": figures})
    assert "--only fuzz --fuzz-examples 60 --seed 3`, 2030-01-01" in text
    assert "2 components, up to 60 cases each: **101 cases, 11 built, 89 refused" in text
    assert "1 other outcomes" in text
    rows = [line for line in text.splitlines() if line.endswith("| `ab` |")]
    assert [r.split(" | ")[0] for r in rows] == ["| decoder:conv", "| lr-schedule:cosine"]


def test_only_the_figures_blocks_are_rewritten():
    page = _page_module()
    text = (
        "prose before\n<!-- figures:ddp -->\nold figures\n<!-- /figures:ddp -->\n"
        "<!-- figures:unknown -->\nkept\n<!-- /figures:unknown -->\nprose after\n"
    )
    ddp = {"exit_code": 1, "seconds_to_exit": 2.5, "error_reported": True, "date": "2030-01-01"}
    updated = page.update_page(text, {"ddp": ddp})
    assert updated.startswith("prose before\n<!-- figures:ddp -->\nFigures (")
    assert "old figures" not in updated and "exit code 1 2.5 s after launch" in updated.lower()
    assert "<!-- figures:unknown -->\nkept\n" in updated and updated.endswith("prose after\n")

"""docs/performance.md is generated from benchmarks/results/*.json by scripts/gen_performance.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gen_performance.py"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_performance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_performance"] = module
    spec.loader.exec_module(module)  # puts benchmarks/ on sys.path, as a benchmark run does
    yield module
    sys.modules.pop("gen_performance", None)


@pytest.fixture(scope="module")
def common(gen):
    """benchmarks/_common: the machine record, the clock, the table helpers, quoted figures."""
    import _common
    import _common.markdown
    import _common.quoted

    return _common


def test_check_fails_on_a_stale_page_or_missing_plot(gen, tmp_path, monkeypatch) -> None:
    page, images = tmp_path / "performance.md", tmp_path / "images" / "performance"
    monkeypatch.setattr(gen, "OUTPUT", page)
    monkeypatch.setattr(gen, "IMAGES", images)
    text, plots = gen.render()
    page.write_text(text)
    images.mkdir(parents=True)
    for plot in plots:
        (images / f"{plot.name}.png").write_bytes(b"")
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--check"])
    assert gen.main() == 0
    page.write_text(text.replace("| samplers |", "| samplers (old) |", 1) + "\n")
    assert gen.main() == 1
    page.write_text(text)
    (images / f"{plots[0].name}.png").unlink()
    assert gen.main() == 1
    assert gen.stale(text, plots) == [f"missing plot {images}/{plots[0].name}.png"]
    (images / f"{plots[0].name}.png").write_bytes(b"")
    (images / "leftover.png").write_bytes(b"")
    assert gen.main() == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.35688, "0.357"),
        (4.2315, "4.23"),
        (60.9756, "61"),
        (9.996, "10"),
        (0.09, "0.09"),
        (126.23, "126"),
        (3954.4, "3,954"),
        (10131007.37, "10,131,007"),
        (1.0, "1"),
        (-0.004567, "-0.00457"),
    ],
)
def test_numbers_have_three_significant_digits_and_separators(common, value, text) -> None:
    assert common.markdown.sig(value) == text


def test_cells(common) -> None:
    md = common.markdown
    assert md.integer(6272000) == "6,272,000"
    assert md.percent(0.96378) == "96.4"
    assert md.cell(True) == "yes" and md.cell(None) == "–"
    assert md.cell(list(range(60))) == "60 values, 0 to 59"
    assert md.label("median_samples_per_s") == "median samples/s"
    assert md.label("peak_rss_last_mb") == "peak rss last (MB)"


def test_nested_per_case_results_become_rows(common) -> None:
    section = common.markdown.Section("x")
    section.generic(
        {
            "per_component": {
                "dataset:digits": {"built": 21, "cases": 60, "speed": {"1_threads": 3954.4}},
                "loss:mse": {"built": 14, "cases": 60},
            },
            "seconds": 12.345,
        }
    )
    text = "\n".join(section.lines)
    assert "| case | built | cases | speed / 1 threads | machine |" in text
    assert "| dataset:digits | 21 | 60 | 3,954 | not recorded |" in text
    assert "| loss:mse | 14 | 60 | – | not recorded |" in text
    assert "| seconds | 12.3 | not recorded |" in text
    assert "{" not in text and "built:" not in text


def test_every_result_has_a_renderer_that_understands_it(gen) -> None:
    """A results file whose structure its renderer no longer reads fails here, not silently."""
    for path in sorted(gen.RESULTS.glob("*.json")):
        lines, _ = gen.section(path.stem, path)
        assert lines[0] == f"## {path.stem.replace('_', '-')}"


def test_a_renderer_bug_raises_instead_of_becoming_a_generic_table(gen, monkeypatch) -> None:
    module = gen.benchmark("gan_vae")

    def broken(record, name):
        raise KeyError("trainer_images_per_s")

    monkeypatch.setattr(module, "render", broken)
    with pytest.raises(KeyError, match="trainer_images_per_s"):
        gen.section("gan_vae", gen.RESULTS / "gan_vae.json")


def test_invalid_json_gets_its_message_on_the_page(gen, tmp_path, monkeypatch) -> None:
    """``shown`` (the path helper) was shadowed in render(): the message raised instead."""
    (tmp_path / "broken.json").write_text("{not json")
    monkeypatch.setattr(gen, "RESULTS", tmp_path)
    text, _ = gen.render()
    part = text.split("## broken\n", 1)[1]
    assert f"`{tmp_path}/broken.json` is not valid JSON (Expecting property name" in part
    assert "| [broken](#broken) | (results not readable) |" in text


def test_every_table_row_names_its_machine(gen) -> None:
    text, _ = gen.render()
    tables = 0
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("| ")]
        if not rows or rows[0].startswith("| benchmark | what it measures |"):
            continue  # the page's index
        tables += 1
        assert rows[0].endswith("| machine |"), rows[0]
        for row in rows[2:]:
            machine = row.rsplit("|", 2)[1].strip()
            assert machine and machine != "–", row
    assert tables > 40


def test_every_section_keeps_its_command_and_machine_line(gen) -> None:
    text, _ = gen.render()
    for path in sorted(gen.RESULTS.glob("*.json")):
        part = text.split(f"## {path.stem.replace('_', '-')}\n", 1)[1].split("\n## ", 1)[0]
        assert "Reproduce:\n\n```bash\n" in part, path.name
        assert f"Results: `benchmarks/results/{path.name}`." in part, path.name
        assert "Machine: " in part, path.name


def _plot(gen, name: str, result: dict):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    section = gen.benchmark(name).render(result, name)
    figure = Figure()
    section.plots[0].draw(figure)
    return section, figure.axes[0]


def test_listing_plot_uses_the_sweep_when_there_is_one(gen) -> None:
    result = json.loads((gen.RESULTS / "plugin_startup.json").read_text())
    result.pop("listing_by_plugin_count", None)
    _, ax = _plot(gen, "plugin_startup", result)
    installed, extra = result["plugins_installed"], result["extra_plugins"]
    assert [list(line.get_xdata()) for line in ax.lines] == [[installed, installed + extra]] * 2
    result["listing_by_plugin_count"] = [
        {"extra_plugins": n, "plugins": installed + n, "core plugins list s": 0.3 + n / 1000}
        for n in (0, 25, 50, 100)
    ]
    section, ax = _plot(gen, "plugin_startup", result)
    assert [list(line.get_xdata()) for line in ax.lines] == [[6, 31, 56, 106]]
    assert "| 56 | 50 | 0.35 | not recorded |" in "\n".join(section.lines)


def test_sampler_plot_is_fid_against_nfe_with_the_reference_lines(gen) -> None:
    result = json.loads((gen.RESULTS / "samplers.json").read_text())
    _, ax = _plot(gen, "samplers", result)
    assert ax.get_xscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert "dpm-solver++ (SDE)" in labels and "dpm-solver++ (ODE)" in labels
    horizontal = {
        line.get_label(): line.get_ydata()[0]
        for line in ax.lines
        if len(set(line.get_ydata())) == 1 and len(line.get_xdata()) == 2
    }
    ddpm = next(row for row in result["rows"] if row["sampler"] == "ddpm")
    assert horizontal["DDPM, 1000 steps"] == pytest.approx(ddpm["feature_fid"])
    assert horizontal["real data (train vs test)"] == pytest.approx(result["train_vs_test_fid"])


def test_samplers_nfe_plot_and_table(gen) -> None:
    def row(sampler, budget, nfe, fids):
        return {
            "sampler": sampler,
            "nfe_budget": budget,
            "steps": nfe,
            "nfe": nfe,
            "seeds": list(range(len(fids))),
            "feature_fid_per_seed": fids,
            "feature_fid": sum(fids) / len(fids),
            "feature_fid_min": min(fids),
            "feature_fid_max": max(fids),
            "seconds": 1.0,
        }

    result = {
        "run": "runs/x",
        "parameters": 10,
        "image_size": 32,
        "data": {"type": "mnist-5k", "image_size": 32},
        "guidance_scale": 2.0,
        "reference": "test split",
        "n_samples": 300,
        "seeds": [0, 1],
        "nfe_convention": "calls",
        "floor": 3.0,
        "rows": [
            row("ddim", 10, 10, [8.0, 10.0]),
            row("ddim", 20, 20, [6.0, 7.0]),
            row("heun-karras", 10, 9, [5.0, 6.0]),
            row("heun-karras", 20, 19, [4.0]),
        ],
        "best": {"sampler": "heun-karras", "steps": 10, "nfe": 19, "feature_fid": 4.0},
    }
    section, ax = _plot(gen, "samplers_nfe", result)
    assert ax.get_xscale() == "log"
    assert {"ddim", "heun-karras"} <= set(ax.get_legend_handles_labels()[1])
    horizontal = {
        line.get_label(): line.get_ydata()[0]
        for line in ax.lines
        if len(set(line.get_ydata())) == 1 and len(line.get_xdata()) == 2
    }
    assert horizontal["best FID + 10% (the goal)"] == pytest.approx(4.4)
    assert horizontal["real data (train vs test)"] == pytest.approx(3.0)
    text = "\n".join(section.lines)
    assert "| `ddim` | 9 (8-10) | 6.5 (6-7) | not recorded |" in text
    assert "| `heun-karras` | 5.5 (5-6) at 9 | 4 (4-4) at 19, 1 seed | not recorded |" in text


def test_plots_are_deterministic_pngs(gen, tmp_path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    _, plots = gen.render()
    plots = [p for p in plots if p.name in ("samplers", "plugin_startup")]
    for attempt in ("a", "b"):
        monkeypatch.setattr(gen, "IMAGES", tmp_path / attempt)
        (tmp_path / attempt).mkdir()
        (tmp_path / attempt / "stale.png").write_bytes(b"")
        gen.draw_plots(plots)
    first, second = sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir())
    assert [p.name for p in first] == ["plugin_startup.png", "samplers.png"]  # stale.png removed
    for a, b in zip(first, second):
        data = a.read_bytes()
        assert data == b.read_bytes()
        assert data.startswith(b"\x89PNG") and b"tIME" not in data and b"Software" not in data


def test_scripts_without_results_of_their_own_are_not_benchmarks(gen, tmp_path) -> None:
    shutil.copy(REPO / "benchmarks" / "trainer_overhead.py", tmp_path / "trainer_overhead.py")
    helper = tmp_path / "reliability_page.py"
    helper.write_text('"""Reads benchmarks/results/reliability.json."""\n')
    assert gen.is_benchmark(tmp_path / "trainer_overhead.py")
    assert not gen.is_benchmark(helper)


# --- the one machine record, the one clock, the quoted figures (benchmarks/_common) -----------


@pytest.mark.parametrize(
    ("old", "machine"),
    [
        (  # demo_digits, samplers, fid_vs_time: a string and top-level keys
            {"machine": "x86_64, 2 CPUs, torch 2.13.0+cpu", "python": "3.11.7"},
            {"cpu": "x86_64", "cores": 2, "python": "3.11.7", "torch": "2.13.0+cpu"},
        ),
        (  # trainer_overhead
            {
                "machine": "x86_64, 2 CPUs, 1 threads",
                "torch": "2.13.0+cpu",
                "loadavg_before": [2.3, 2.2, 1.9],
                "loadavg_after": [2.0, 2.1, 1.9],
            },
            {
                "cpu": "x86_64",
                "cores": 2,
                "torch": "2.13.0+cpu",
                "load_average_before": [2.3, 2.2, 1.9],
                "load_average_after": [2.0, 2.1, 1.9],
            },
        ),
        (  # gan_vae: an empty processor and a 1-minute value at the end
            {"machine": "x86_64", "processor": "", "load_average_1min_at_end": 8.59},
            {"cpu": "x86_64", "load_average_after": [8.59]},
        ),
        (  # plugin_startup
            {
                "machine": "x86_64, Python 3.11.7",
                "cpus": 2,
                "load_average_1min": {"before": 0.18, "after": 1.56},
            },
            {
                "cpu": "x86_64",
                "cores": 2,
                "python": "3.11.7",
                "load_average_before": [0.18],
                "load_average_after": [1.56],
            },
        ),
        (  # difflut: a dict of its own
            {
                "machine": {
                    "cpu_count": 2,
                    "processor": "x86_64",
                    "torch": "2.13.0+cpu",
                    "load_average_at_start": [0.9, 2.7, 5.5],
                    "load_average_at_end": [1.3, 2.5, 5.3],
                    "date": "2026-11-23 19:54",
                }
            },
            {
                "cpu": "x86_64",
                "cores": 2,
                "torch": "2.13.0+cpu",
                "load_average_before": [0.9, 2.7, 5.5],
                "load_average_after": [1.3, 2.5, 5.3],
            },
        ),
        (  # samplers_nfe: the CPU model beside the architecture
            {
                "machine": "x86_64, 2 CPUs, torch 2.13.0+cpu",
                "processor": "AMD EPYC",
                "load_average_at_start": [2.1, 2.0, 1.8],
            },
            {
                "cpu": "AMD EPYC",
                "cores": 2,
                "torch": "2.13.0+cpu",
                "load_average_before": [2.1, 2.0, 1.8],
            },
        ),
        ({"load_average": [1.15, 2.3, 5.1]}, {"load_average_after": [1.15, 2.3, 5.1]}),
    ],
)
def test_old_machine_keys_load_as_the_one_machine_record(common, tmp_path, old, machine) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"benchmark": "x", "rows": [], **old}))
    record = common.load_record(path)
    assert record["machine"] == {**dict.fromkeys(common.record.MACHINE_KEYS), **machine}
    assert set(record) <= {"benchmark", "rows", "machine", "date"}  # nothing left beside it


def test_every_results_file_loads_with_the_one_machine_record(gen, common) -> None:
    for path in sorted(gen.RESULTS.glob("*.json")):
        record = common.load_record(path)
        if isinstance(record, dict):
            assert list(record["machine"]) == list(common.record.MACHINE_KEYS), path.name


def test_new_records_have_the_one_machine_record_and_are_written_atomically(
    common, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["benchmarks/x.py", "--steps", "3"])
    record = common.start_record("x", rows=[{"a": 1}])
    assert record["command"] == "python benchmarks/x.py --steps 3"
    assert list(record["machine"]) == list(common.record.MACHINE_KEYS)
    assert record["machine"]["cores"] and record["machine"]["load_average_before"]
    path = common.save_record("x", record, tmp_path / "x.json")
    saved = json.loads(path.read_text())
    assert saved["machine"]["load_average_after"] and saved["date"]
    assert common.load_record(path) == saved  # the one shape loads unchanged
    import core.atomic

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.atomic.os, "replace", refuse)
    with pytest.raises(OSError):
        common.save_record("x", {"rows": []}, path)
    assert json.loads(path.read_text()) == saved  # the previous record is intact
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_the_clock_is_the_trainers_fit_summary(common, tmp_path) -> None:
    config = {
        "model": {"type": "digit-classifier", "width": 4, "image_size": 8, "feature_dim": 8},
        "data": {"type": "digits", "image_size": 8},
        "train": {"steps": 4, "batch_size": 16, "log_every": 2},
    }
    trained = common.train(config, run_dir=tmp_path / "run", quiet=True)
    assert trained.seconds == trained.summary["seconds"] and trained.seconds > 0
    assert sorted(trained.marks) == [2, 4]
    assert common.logged_seconds(tmp_path / "run") == trained.marks  # the same clock, on disk
    assert trained.marks[4] <= trained.seconds


def test_seconds_per_step_of_logged_windows(common) -> None:
    marks = {10: 1.0, 20: 1.5, 30: 2.5}
    assert common.seconds_per_step(marks, skip=0) == [0.1, 0.05, 0.1]
    assert common.seconds_per_step(marks) == [0.05, 0.1]  # the first window warms up


def test_quoted_figures_agree_with_their_results(common) -> None:
    """README and docs quote benchmark figures through markers the generator fills."""
    assert common.quoted.updated_pages(REPO) == {}
    for page in ("README.md", "docs/concepts/plugins.md", "docs/concepts/training.md"):
        assert "<!-- figure:" in (REPO / page).read_text(), page


def test_a_quoted_figure_that_disagrees_is_found(common, tmp_path) -> None:
    quoted = common.quoted
    text = "listing takes <!-- figure:listing-s -->0.12 s<!-- /figure --> today"
    listing = json.loads((REPO / "benchmarks/results/plugin_startup.json").read_text())
    right = f"{listing['median_seconds']['core plugins list']:.2f} s"
    assert quoted.update(text) == text.replace("0.12 s", right)
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(text)
    assert list(quoted.updated_pages(tmp_path)) == [tmp_path / "README.md"]
    with pytest.raises(ValueError, match="unknown quoted figure 'listing-seconds'"):
        quoted.update("<!-- figure:listing-seconds -->1 s<!-- /figure -->")


def test_stale_timings_are_gone_from_readme_and_concepts() -> None:
    """The listing and demo timings once copied by hand (issue 29: "Stale prose")."""
    texts = {p: (REPO / p).read_text() for p in ("README.md", "docs/concepts/plugins.md")}
    texts["docs/concepts/training.md"] = (REPO / "docs/concepts/training.md").read_text()
    for page, text in texts.items():
        for stale in ("0.12 s", "267,377", "DDIM-50 samples", "124 s (315 s", "13.04 (11.06"):
            assert stale not in text, (page, stale)

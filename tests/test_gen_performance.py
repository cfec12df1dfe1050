"""docs/performance.md is generated from benchmarks/results/*.json by scripts/gen_performance.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
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
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gen_performance", None)


def test_performance_page_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


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
def test_numbers_have_three_significant_digits_and_separators(gen, value, text) -> None:
    assert gen.sig(value) == text


def test_cells(gen) -> None:
    assert gen.integer(6272000) == "6,272,000"
    assert gen.percent(0.96378) == "96.4"
    assert gen.cell(True) == "yes" and gen.cell(None) == "–"
    assert gen.cell(list(range(60))) == "60 values, 0 to 59"
    assert gen.label("median_samples_per_s") == "median samples/s"
    assert gen.label("peak_rss_last_mb") == "peak rss last (MB)"


def test_nested_per_case_results_become_rows(gen) -> None:
    section = gen.Section("x", {}, [])
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
    assert "| case | built | cases | speed / 1 threads |" in text
    assert "| dataset:digits | 21 | 60 | 3,954 |" in text
    assert "| loss:mse | 14 | 60 | – |" in text
    assert "| seconds | 12.3 |" in text
    assert "{" not in text and "built:" not in text


def test_every_result_has_a_renderer_that_understands_it(gen, capsys) -> None:
    """A results file whose structure its renderer no longer reads shows up here, not silently."""
    for path in sorted(gen.RESULTS.glob("*.json")):
        gen.section(path.stem, path)
    assert capsys.readouterr().err == ""


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

    section = gen.Section(name, result, [])
    gen.RENDERERS[name](section, result)
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
    assert "| 56 | 50 | 0.35 |" in "\n".join(section.lines)


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
    assert "| `ddim` | 9 (8-10) | 6.5 (6-7) |" in text
    assert "| `heun-karras` | 5.5 (5-6) at 9 | 4 (4-4) at 19, 1 seed |" in text


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

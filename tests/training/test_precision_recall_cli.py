"""``core evaluate -m precision-recall`` prints both values and both floors on one line,
records them in the eval JSON and the run's loggers, and scores a ``--samples`` folder."""

from __future__ import annotations

import json

from core.cli import main


def test_evaluate_prints_and_records_precision_and_recall(guided_run, capsys):
    args = ["evaluate", str(guided_run), "-m", "precision-recall", "-n", "12", "--log"]
    assert main(args) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("precision: ") and "  recall: " in line
    assert "(floor precision " in line and ", recall " in line
    assert "12 real train images vs the" in line
    written = sorted(guided_run.glob("eval_precision-recall_*.json"))
    assert len(written) == 1
    result = json.loads(written[0].read_text())
    assert result["key"] == "precision" and result["value"] == result["values"]["precision"]
    assert set(result["values"]) == set(result["floors"]) == {"precision", "recall"}
    for value in (*result["values"].values(), *result["floors"].values()):
        assert 0.0 <= value <= 1.0
    logged = [json.loads(row) for row in (guided_run / "metrics.jsonl").read_text().splitlines()]
    names = {name for row in logged for name in row}
    assert {"eval/precision-recall/recall", "eval/precision-recall/recall/floor"} <= names


def test_evaluate_scores_precision_and_recall_of_a_sample_folder(guided_run, tmp_path, capsys):
    out = tmp_path / "samples"
    draw = ["sample", str(guided_run), "-n", "10", "--shard-size", "4", "--out-dir", str(out)]
    assert main(draw) == 0
    capsys.readouterr()
    args = ["evaluate", str(guided_run), "--samples", str(out), "-m", "precision-recall"]
    assert main([*args, "--json", "--no-write"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 10 and result["samples"] == str(out)
    assert set(result["values"]) == {"precision", "recall"}
    assert result["details"] == result["values"]

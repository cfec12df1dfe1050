"""One hostile store entry never denies the store: stored YAML is data (no ``_base_``, no
``${ENV}``, bounded, regular files only); a broken entry is listed as broken and resolving
another name never reads it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import core._store_files
from core.building import build_model
from core.errors import PretrainedError
from core.pretrained import (
    list_pretrained,
    load_pretrained,
    pretrained_info,
    resolve_pretrained,
    save_to_pretrained,
)

from .conftest import REPEATABLE, load_helper, run_limited

time_limit = load_helper("_deadline").time_limit

SECRET = "hunter2-do-not-print"
MODEL = "model: {type: mlp-denoiser, hidden_dim: 8}\n"


@pytest.fixture
def good(store: Path) -> Path:
    """The store holding one good entry, ``good``; returns its weights file."""
    model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
    return save_to_pretrained(model, "good").path / "good.safetensors"


def _plant(store: Path, weights: Path, name: str, yaml_text: str | None = None) -> Path:
    """``mlp-denoiser/<name>/v1`` with the good weights and the given YAML (written as is)."""
    version = store / "mlp-denoiser" / name / "v1"
    version.mkdir(parents=True)
    shutil.copy(weights, version / f"{name}.safetensors")
    if yaml_text is not None:
        (version / f"{name}.yaml").write_text(yaml_text, encoding="utf-8")
    return version


def _plant_base_bomb(store: Path, weights: Path) -> None:
    bomb = store / "bomb-files"
    bomb.mkdir()
    for i in range(31):
        bases = ", ".join([f"f{i + 1}.yaml"] * 4) if i < 30 else ""
        (bomb / f"f{i}.yaml").write_text(f"_base_: [{bases}]\n", encoding="utf-8")
    _plant(store, weights, "bomb", f"_base_: {bomb / 'f0.yaml'}\n{MODEL}")


def _plant_all(store: Path, weights: Path) -> dict[str, str]:
    """Every hostile entry; returns name -> a part of the reason it is broken."""
    _plant_base_bomb(store, weights)
    os.mkfifo(_plant(store, weights, "fifo") / "fifo.yaml")
    with (_plant(store, weights, "huge") / "huge.yaml").open("w", encoding="utf-8") as handle:
        handle.write(MODEL)
        handle.truncate(50 * 2**20)
    (_plant(store, weights, "to-zero") / "to-zero.yaml").symlink_to("/dev/zero")
    _plant(store, weights, "not-yaml", "model: [unclosed\n")
    _plant(store, weights, "a-list", "- 1\n- 2\n")
    _plant(store, weights, "no-model", "meta: {}\n")
    _plant(store, weights, "no-yaml")
    _plant(store, weights, "tagged", "model: !!python/object/apply:os.system ['true']\n")
    return {
        "bomb": "unknown key '_base_'",
        "fifo": "is a named pipe",
        "huge": "over the 1,048,576-byte limit",
        "to-zero": "resolves outside",
        "not-yaml": "invalid YAML",
        "a-list": "must hold 'model' and 'meta'",
        "no-model": "needs a 'model' section",
        "no-yaml": "expected one <name>.yaml",
        "tagged": "only plain YAML",
    }


def test_hostile_entries_are_listed_as_broken_and_the_rest_still_works(store, good):
    reasons = _plant_all(store, good)
    with time_limit(30):
        listed = {info.name: info for info in list_pretrained() if info.source == "store"}
        assert listed["good"].status == "ok" and listed["good"].meta["parameters"] > 0
        for name, reason in reasons.items():
            assert listed[name].status == "broken", name
            assert reason in listed[name].error, (name, listed[name].error)
        assert resolve_pretrained("good").meta["parameters"] > 0
        assert load_pretrained("good").count_parameters() > 0


def test_resolving_a_name_reads_no_other_entry(store, good, monkeypatch):
    _plant_all(store, good)
    read = []
    real = core._store_files.read_text_file

    def recording(path, *args, **kwargs):
        read.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(core._store_files, "read_text_file", recording)
    with time_limit(30):
        assert resolve_pretrained("good").status == "ok"
    assert read == ["good.yaml"]


def test_a_broken_entry_is_reported_not_loaded(store, good):
    _plant(store, good, "bad", "model: [unclosed\n")
    info = pretrained_info("bad")
    assert info.status == "broken" and info.to_dict()["status"] == "broken"
    with pytest.raises(PretrainedError, match="mlp-denoiser/bad/v1 is broken: .*invalid YAML"):
        load_pretrained("bad")


def test_environment_variables_in_stored_yaml_are_not_expanded(store, good, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setenv("CORE_TEST_SECRET", SECRET)
    _plant(store, good, "leaky", f"{MODEL}meta: {{note: '${{CORE_TEST_SECRET}}'}}\n")
    assert pretrained_info("leaky").meta == {"note": "${CORE_TEST_SECRET}"}
    assert main(["pretrained", "list", "--json"]) == 0
    assert main(["pretrained", "info", "leaky"]) == 0
    assert SECRET not in capsys.readouterr().out


def test_the_cli_lists_a_store_holding_a_dev_zero_base(store, good):
    """In a child process under a 2 GiB address-space limit; its peak RSS (VmHWM, in kB, counts
    from its exec, unlike ru_maxrss) shows nothing was read."""
    _plant(store, good, "zero", f"_base_: /dev/zero\n{MODEL}")
    code = (
        "import sys\n"
        "from core.cli import main\n"
        "code = main(['pretrained', 'list', '--json'])\n"
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(peak.split()[1], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = run_limited(code, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stderr.split()[-1]) < 300_000, "peak RSS over 300 MB: /dev/zero was read"
    listed = {e["name"]: e for e in json.loads(done.stdout) if e["source"] == "store"}
    assert listed["good"]["status"] == "ok"
    assert listed["zero"]["status"] == "broken" and "_base_" in listed["zero"]["error"]


def test_the_table_shows_a_status_column(store, good, capsys):
    from core.cli import main

    _plant(store, good, "bad", "model: [unclosed\n")
    assert main(["pretrained", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["REFERENCE", "SOURCE", "STATUS"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["mlp-denoiser/bad/v1"][2] == "broken" and rows["mlp-denoiser/good/v1"][2] == "ok"


@REPEATABLE
@given(content=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_yaml_bytes_leave_the_other_entries_readable(store, good, content):
    version = store / "mlp-denoiser" / "fuzzed" / "v1"
    shutil.rmtree(version.parent, ignore_errors=True)
    _plant(store, good, "fuzzed")
    (version / "fuzzed.yaml").write_bytes(content)
    with time_limit(20):
        listed = {i.name: i for i in list_pretrained() if i.source == "store"}
    assert listed["good"].status == "ok"
    assert listed["fuzzed"].status in {"ok", "broken"}
    assert "\n" not in (listed["fuzzed"].error or "")
    assert resolve_pretrained("good").status == "ok"

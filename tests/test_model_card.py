"""Model cards: written beside saved weights (save_pretrained, the store, core train), shown by
``core pretrained info`` without torch, unbreakable by hostile metadata, current when shipped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import core
from core import BaseModel, ComponentConfig, hookimpl
from core._store_files import read_pretrained_yaml
from core.building import build_model
from core.cli import main
from core.model_card import command_line, render_model_card, run_evaluations
from core.plugins import get_manager
from core.schema import Field

REPO = Path(__file__).resolve().parents[1]
HEADINGS = ["Model", "Metrics", "Training data", "Command", "Config", "Other metadata"]
CHECK_NO_TORCH = (
    "import sys; from core.cli import main; code = main(sys.argv[1:]); "
    "assert 'torch' not in sys.modules, 'torch was imported'; "
    "assert 'pydantic' not in sys.modules, 'pydantic was imported'; sys.exit(code)"
)


# -- reading a card back ---------------------------------------------------------------------


def parse_card(text: str) -> tuple[dict, list]:
    """(front matter, markdown-it tokens of the rest) of a card."""
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), MarkdownIt("commonmark").enable("table").parse(body)


def text_of(inline) -> str:
    """The text a reader sees in an inline token (escapes resolved, code spans' contents)."""
    return "".join(child.content for child in inline.children)


def headings(tokens: list) -> list[tuple[str, str]]:
    return [
        (tokens[i].tag, text_of(tokens[i + 1]))
        for i, token in enumerate(tokens)
        if token.type == "heading_open"
    ]


def tables(tokens: list) -> dict[str, list[list[str]]]:
    """Each table's rows of cell texts (as a reader sees them), under its section heading."""
    found: dict[str, list[list[str]]] = {}
    section, row = "", None
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            section = tokens[i + 1].content
        elif token.type == "tr_open":
            row = []
            found.setdefault(section, []).append(row)
        elif (
            token.type == "inline"
            and row is not None
            and tokens[i - 1].type in ("th_open", "td_open")
        ):
            row.append(text_of(token))
        elif token.type == "tr_close":
            row = None
    return found


def fences(tokens: list) -> dict[str, list[str]]:
    """The code blocks' contents under each section heading."""
    found: dict[str, list[str]] = {}
    section = ""
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            section = tokens[i + 1].content
        elif token.type == "fence":
            found.setdefault(section, []).append(token.content)
    return found


def html_tokens(tokens: list) -> list:
    nested = [child for token in tokens for child in (token.children or [])]
    return [t for t in tokens + nested if t.type.startswith("html")]


def rows_of(table: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in table[1:]}


# -- a saved model's card --------------------------------------------------------------------


@pytest.fixture
def denoiser():
    """A model of an installed plugin (its provider has a distribution and a version)."""
    return build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})


def test_a_saved_model_card_holds_each_item(denoiser, tmp_path):
    meta = {
        "test_accuracy": 0.97,
        "luts": 1234,
        "feature-fid": {"digits": 12.5},
        "command": "core train examples/x.yaml train.steps=500",
        "data": {"type": "digits", "split": "train"},
        "data_size": 1438,
        "epochs": 3,
    }
    denoiser.save_pretrained(tmp_path, name="demo", meta=meta)
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    front, tokens = parse_card(card)
    entry = get_manager().registry.get("model", "mlp-denoiser")
    assert entry.distribution and entry.version
    assert front == {
        "library_name": "core",
        "model_type": "mlp-denoiser",
        "tags": ["core", entry.distribution, entry.plugin, "mlp-denoiser", "digits"],
        "pipeline_tag": "image-classification",  # it records its own accuracy
        "datasets": ["digits"],
        "metrics": ["accuracy", "luts", "fid"],
        "model-index": [
            {
                "name": "demo",
                "results": [
                    {
                        "task": {"type": "image-classification"},
                        "dataset": {"name": "digits", "type": "digits", "split": "test"},
                        "metrics": [{"type": "accuracy", "value": 0.97, "name": "test_accuracy"}],
                    },
                    {
                        "task": {"type": "image-classification"},
                        "dataset": {"name": "digits", "type": "digits"},
                        "metrics": [
                            {"type": "luts", "value": 1234, "name": "luts"},
                            {"type": "fid", "value": 12.5, "name": "feature-fid.digits"},
                        ],
                    },
                ],
            }
        ],
    }
    assert headings(tokens) == [("h1", "demo")] + [("h2", h) for h in HEADINGS]
    by_section = tables(tokens)
    model = rows_of(by_section["Model"])
    assert model["model type"] == ["mlp-denoiser"]
    assert model["plugin"] == [entry.plugin] and model["distribution"] == [entry.distribution]
    assert model["plugin version"] == [entry.version] and model["core version"] == [
        core.__version__
    ]
    assert model["parameters"] == [f"{denoiser.count_parameters():,}"]
    assert rows_of(by_section["Metrics"]) == {
        "test_accuracy": ["0.97"],
        "luts": ["1234"],
        "feature-fid.digits": ["12.5"],
    }
    data = rows_of(by_section["Training data"])
    assert data == {"dataset": ["digits"], "split": ["train"], "size": ["1,438"]}
    blocks = fences(tokens)
    assert blocks["Command"] == ["core train examples/x.yaml train.steps=500\n"]
    assert yaml.safe_load(blocks["Config"][0]) == {"model": denoiser.get_config()}
    assert yaml.safe_load(blocks["Other metadata"][0]) == {"epochs": 3}
    stored = read_pretrained_yaml(tmp_path / "demo.yaml")
    assert render_model_card(stored, "demo") == card  # the card is a function of the YAML


def test_facts_not_recorded_say_so(tmp_path):
    card = render_model_card({"model": {"type": "x"}, "meta": {"script": "scripts/make.py"}}, "x")
    _, tokens = parse_card(card)
    model = rows_of(tables(tokens)["Model"])
    assert model["plugin"] == ["not recorded"] and model["parameters"] == ["not recorded"]
    assert set(map(tuple, rows_of(tables(tokens)["Training data"]).values())) == {("not recorded",)}
    assert "## Metrics\n\nnot recorded\n" in card
    assert "not recorded: produced by the script `scripts/make.py`, whose arguments" in card


def test_no_recorded_fact_is_dropped():
    meta = {
        "provider": "plugin-as-text",
        "metrics": ["metric-as-list"],
        "evaluations": "evaluations-as-text",
        "data": {"type": "section-dataset", "split": "section-split"},
        "dataset": "meta-dataset",
        "split": "meta-split",
        "command": "the-command",
        "script": "the-script.py",
        "free": "free-text",
    }
    card = render_model_card({"model": {"type": "x"}, "meta": meta})
    for value in ("plugin-as-text", "metric-as-list", "evaluations-as-text", "section-dataset"):
        assert value in card
    for value in ("section-split", "meta-dataset", "meta-split", "the-command", "the-script.py"):
        assert value in card
    _, tokens = parse_card(card)
    assert yaml.safe_load(fences(tokens)["Other metadata"][0]) == {
        "dataset": "meta-dataset",
        "split": "meta-split",
        "free": "free-text",
    }


def test_the_store_writes_a_card_per_version(denoiser, tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tmp_path))
    first = core.save_to_pretrained(denoiser, "carded", meta={"test_accuracy": 0.5})
    second = core.save_to_pretrained(denoiser, "carded", meta={"test_accuracy": 0.75})
    for info, accuracy in ((first, "0.5"), (second, "0.75")):
        _, tokens = parse_card((info.path / "README.md").read_text(encoding="utf-8"))
        assert headings(tokens)[0] == ("h1", "carded")
        assert rows_of(tables(tokens)["Metrics"]) == {"test_accuracy": [accuracy]}


# -- core train: the command, the data and the run's evaluations ----------------------------


class PointConfig(ComponentConfig):
    hidden: int = Field(4, ge=1, description="hidden width")


class PointDenoiser(BaseModel):
    config_class = PointConfig
    model_type = "card-points"

    def __init__(self, config=None, /, **overrides):
        super().__init__(config, **overrides)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2, self.config.hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(self.config.hidden, 2),
        )

    def compute_loss(self, batch):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        noise = torch.randn_like(x)
        return {"loss": torch.nn.functional.mse_loss(self.net(x + 0.5 * noise), noise)}

    @torch.no_grad()
    def sample(self, n, **kwargs):
        z = torch.randn(n, 2, device=self.device)
        return z - 0.5 * self.net(z)


@pytest.fixture
def points_plugin(core_manager):
    @hookimpl
    def register_models(register):
        register("card-points", PointDenoiser, config=PointConfig)

    core_manager.add_plugin(
        types.SimpleNamespace(register_models=register_models),
        name="cards",
        distribution="core-cards",
        version="9.9.9",
    )


def test_core_train_records_command_data_and_evaluations(points_plugin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {
        "model": {"type": "card-points"},
        "data": {"type": "toy2d", "size": 128, "split": "train"},
        "train": {"steps": 2, "batch_size": 32, "log_every": 1},
        "sample": {"n": 16},
    }
    Path("points.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["train", "points.yaml", "train.steps=2", "--run-name", "r", "--quiet"]) == 0
    _, tokens = parse_card(Path("runs/r/final/README.md").read_text(encoding="utf-8"))
    model = rows_of(tables(tokens)["Model"])
    assert (model["plugin"], model["distribution"], model["plugin version"]) == (
        ["cards"],
        ["core-cards"],
        ["9.9.9"],
    )
    data = rows_of(tables(tokens)["Training data"])
    assert data == {"dataset": ["toy2d"], "split": ["train"], "size": ["128"]}
    blocks = fences(tokens)
    assert blocks["Command"] == ["core train points.yaml train.steps=2 --run-name r\n"]
    assert yaml.safe_load(blocks["Training data"][0])["data"] == config["data"]

    evaluate = ["evaluate", "runs/r", "--metric", "sliced-wasserstein", "-n", "64", "--json"]
    assert main(evaluate) == 0
    (written,) = Path("runs/r").glob("eval_*.json")
    result = json.loads(written.read_text(encoding="utf-8"))
    # core evaluate refreshed the final card and its YAML with the new result
    front, tokens = parse_card(Path("runs/r/final/README.md").read_text(encoding="utf-8"))
    assert front["metrics"] == ["sliced-wasserstein"]
    assert rows_of(tables(tokens)["Metrics"])[written.name][2] == str(result["value"])
    stored = read_pretrained_yaml(Path("runs/r/final/card-points.yaml"))
    assert stored["meta"]["evaluations"][written.name]["value"] == result["value"]
    assert render_model_card(stored, "card-points") == Path("runs/r/final/README.md").read_text(
        encoding="utf-8"
    )
    assert main(["train", "--resume", "runs/r", "train.steps=3", "--quiet"]) == 0
    card = Path("runs/r/final/README.md").read_text(encoding="utf-8")
    _, tokens = parse_card(card)
    header, *rows = tables(tokens)["Metrics"]
    assert header[:4] == ["file", "metric", "key", "value"]
    assert header[4:] == ["real-data floor", "samples", "sampling", "reference", "weights"]
    reference = result["reference"]
    assert rows == [
        [
            written.name,
            "sliced-wasserstein",
            result["key"],
            str(result["value"]),
            str(result["floor"]),
            "64",
            "seed 0",  # the tiny model has no sampler or steps
            f"toy2d {reference['split']} split, {reference['size']:,} items",
            result["weights"],
        ]
    ]
    assert fences(tokens)["Command"] == ["core train train.steps=3 --resume runs/r\n"]


RUN_META = {
    "data": {"type": "digits", "image_size": 16},
    "sample": {"n": 16},
    "evaluations": {
        "eval_feature-fid_ddim-50_seed0.json": {
            "metric": "feature-fid",
            "value": 4.5,
            "sampling": "sampler ddim, steps 50, seed 0",
            "dataset": "digits",
            "split": "test",
        },
        "eval_broken.json": {"error": "not a JSON object"},
    },
}


@pytest.mark.parametrize(
    ("model", "meta", "expected"),
    [
        (
            {"type": "ddpm", "image_size": 16},
            {"sample": {"n": 4}},
            "unconditional-image-generation",
        ),
        ({"type": "ddpm"}, RUN_META, "unconditional-image-generation"),
        ({"type": "ddpm", "data_dim": 2}, {"sample": {"n": 4}, "data": {"type": "toy2d"}}, None),
        ({"type": "ddpm", "image_size": 16}, {}, None),  # not known to sample
        ({"type": "feedforward"}, {"test_accuracy": 0.9}, "image-classification"),
        ({"type": "feedforward"}, {"test_accuracy": "high"}, None),  # not a number
        ({"type": "x"}, {"pipeline_tag": "text-to-image"}, "text-to-image"),
    ],
)
def test_the_pipeline_tag_fits_the_model(model, meta, expected):
    front, _ = parse_card(render_model_card({"model": model, "meta": meta}, "m"))
    assert front.get("pipeline_tag") == expected


def test_the_hub_reads_the_metadata_and_results():
    """The front matter as huggingface_hub's ModelCard parses it (the Hub's own reader)."""
    hub = pytest.importorskip("huggingface_hub")
    card = render_model_card({"model": {"type": "ddpm", "image_size": 16}, "meta": RUN_META}, "m")
    parsed = hub.ModelCard(card)
    data = parsed.data.to_dict()
    assert data["library_name"] == "core" and data["datasets"] == ["digits"]
    assert data["pipeline_tag"] == "unconditional-image-generation"
    assert data["tags"] == ["core", "ddpm", "digits"]
    (result,) = parsed.data.eval_results
    assert (result.task_type, result.dataset_type, result.dataset_name) == (
        "unconditional-image-generation",
        "digits",
        "digits",
    )
    assert (result.dataset_split, result.metric_type, result.metric_value) == (
        "test",
        "feature-fid",
        4.5,
    )
    assert result.metric_name == "feature-fid (sampler ddim, steps 50, seed 0)"
    assert parsed.data.model_name == "m"
    assert parsed.text.lstrip().startswith("# m")


def test_run_evaluations_reports_an_unreadable_file(tmp_path):
    (tmp_path / "eval_fid.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "eval_kid.json").write_text("[1, 2]", encoding="utf-8")
    found = run_evaluations(tmp_path)
    assert set(found) == {"eval_fid.json", "eval_kid.json"}
    assert all("error" in r for r in found.values())
    card = render_model_card({"model": {"type": "x"}, "meta": {"evaluations": found}})
    assert card.count("| unreadable: ") == 2


def test_the_command_line_hides_home_and_secrets():
    home = str(Path.home())
    line = command_line(
        ["core", "train", f"{home}/configs/my run.yaml", "train.loggers.0.api_key=abc123", "a=b c"]
    )
    assert line == "core train ~/'configs/my run.yaml' train.loggers.0.api_key=<redacted> a='b c'"
    assert home not in line and "abc123" not in line


# -- core pretrained info ------------------------------------------------------------------------


def core_cli(*args, home):
    env = {**os.environ, "CORE_HOME": str(home)}
    command = [sys.executable, "-c", CHECK_NO_TORCH, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_pretrained_info_shows_the_card_without_torch(denoiser, tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tmp_path))
    info = core.save_to_pretrained(denoiser, "shown", meta={"test_accuracy": 0.5})
    card = (info.path / "README.md").read_text(encoding="utf-8")
    shown = core_cli("pretrained", "info", "shown", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == card and shown.stderr == ""
    as_json = core_cli("pretrained", "info", "shown", "--json", home=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["card"] == str(info.path / "README.md") and data["meta"]["test_accuracy"] == 0.5

    (info.path / "README.md").unlink()  # weights saved before cards existed
    rendered = core_cli("pretrained", "info", "shown", home=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == card and "rendered from its YAML" in rendered.stderr
    assert (
        json.loads(core_cli("pretrained", "info", "shown", "--json", home=tmp_path).stdout)["card"]
        is None
    )


def test_pretrained_info_never_prints_control_characters_or_a_link_out(
    denoiser, tmp_path, monkeypatch
):
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "store"))
    info = core.save_to_pretrained(denoiser, "odd")
    (info.path / "README.md").write_text("# odd\x1b[2J\x07 card\n", encoding="utf-8")
    shown = core_cli("pretrained", "info", "odd", home=tmp_path / "store")
    assert shown.returncode == 0 and shown.stdout == "# odd[2J card\n"
    (info.path / "README.md").unlink()
    (tmp_path / "secret.txt").write_text("do not show\n", encoding="utf-8")
    (info.path / "README.md").symlink_to(tmp_path / "secret.txt")
    linked = core_cli("pretrained", "info", "odd", home=tmp_path / "store")
    assert linked.returncode == 0 and "do not show" not in linked.stdout
    assert "resolves outside" in linked.stderr and linked.stdout.startswith("---\n")


def test_pretrained_info_on_a_broken_entry_exits_2(tmp_path):
    broken = tmp_path / "mlp-denoiser" / "bad" / "v1"
    broken.mkdir(parents=True)
    (broken / "bad.yaml").write_text("model: [unclosed\n", encoding="utf-8")
    shown = core_cli("pretrained", "info", "bad", home=tmp_path)
    assert shown.returncode == 2 and "is broken" in shown.stderr and shown.stdout == ""


# -- hostile metadata ----------------------------------------------------------------------------

HOSTILE = [
    "a\n## Injected\n\n| x | y |",
    "<script>alert(1)</script>",
    "```\n# not a heading\n```",
    "`` ` ``` ````",
    "| pipe | row |",
    "[link](http://example.com) ![img](x.png) *bold* _it_ ~~gone~~ &amp;",
    "---\nlibrary_name: evil\n---",
    "\x1b[31mred\x00\x7f\u2028next",
    "\\",
    "",
]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60))
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def line(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


def seen(value: str) -> str:
    """How a reader sees ``value`` in a table cell or heading."""
    return line(value) or "(empty)"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, model_type=TEXT, key=TEXT, value=TEXT, command=TEXT, config_value=TEXT)
def test_hostile_metadata_cannot_break_the_card(
    name, model_type, key, value, command, config_value
):
    document = {
        "model": {"type": model_type, "note": config_value},
        "meta": {
            "test_accuracy": value,
            f"{key} loss": value,
            "command": command or "x",
            "data": {"type": value, "split": value},
            "trained_on": value,
            "provider": {"plugin": value, "distribution": value, "version": value},
            "notes": value,
        },
    }
    card = render_model_card(document, name or None)
    front, tokens = parse_card(card)
    assert front["library_name"] == "core" and front["model_type"] == line(model_type)
    title = seen(name or line(model_type))
    assert headings(tokens) == [("h1", title)] + [("h2", h) for h in HEADINGS]
    assert html_tokens(tokens) == []
    assert not _CONTROL.search(card.replace("\n", ""))
    by_section = tables(tokens)
    assert rows_of(by_section["Model"])["plugin"] == [seen(value) if value else "not recorded"]
    assert rows_of(by_section["Model"])["plugin version"] == [seen(value)]
    assert rows_of(by_section["Metrics"]) == {
        "test_accuracy": [seen(value)],
        seen(f"{key} loss"): [seen(value)],
    }
    assert rows_of(by_section["Training data"])["description"] == [seen(value)]
    blocks = fences(tokens)
    assert blocks["Command"] == [_CONTROL.sub(" ", (command or "x").strip("\n")) + "\n"]
    assert yaml.safe_load(blocks["Config"][0]) == {"model": document["model"]}
    assert yaml.safe_load(blocks["Other metadata"][0]) == {"notes": value}

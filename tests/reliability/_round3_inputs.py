"""Round 3, area "inputs": configs, command-line arguments, data folders, converted checkpoints
and plugin names, checked at the boundary. Loaded by ``_hostile.py``, which injects itself as
``hostile``."""

from __future__ import annotations

import io
import json
import logging
import pickle
import runpy
import shutil
import struct
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from _toy import digits_run, toy_run  # this folder is on sys.path (load_helper, _helper)

from core.testing.refusals import expect_refused, run_cli

hostile: Any = globals()["hostile"]  # set by _hostile.py before this module runs

#: a class-conditional DDPM with a null class (10 classes, label dropout) on 8x8 digits
GUIDED = digits_run()
#: the same model without classes
PLAIN_MODEL = digits_run(classes=0)["model"]


def _nothing_under(folder: Path) -> None:
    written = [str(p.relative_to(folder)) for p in folder.rglob("*")] if folder.exists() else []
    assert not written, f"wrote {written[:3]}"


def _cli_refused(*args: str) -> str:
    """``core ARGS``: exit 2 with one ``error:`` line, or click's usage error for an option's
    own type or range (its last line ``Error: Invalid value ...``)."""
    code, _, err = run_cli(*args)
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}: {err[-300:]}"
    if lines and lines[-1].startswith("Error: Invalid value") and lines[0].startswith("Usage: "):
        return f"exit 2 (usage): {lines[-1]}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr: {lines[:3]}"
    return f"exit 2: {lines[0]}"


def _refused_each(*variants: tuple[str, ...], named: str = "", before: Callable[[], None] = None):
    """``core ARGS`` for each variant: exit 2 and one ``error:`` line (naming ``named``)."""
    results = []
    for args in variants:
        if before:
            before()
        result = _cli_refused(*args)
        assert named.lower() in result.lower(), (
            f"{' '.join(args)}: does not name {named!r}: {result}"
        )
        results.append(result)
    return results


# -- configs -----------------------------------------------------------------------------------


def _yaml_twice(texts: list[str], where: list[str]) -> Callable[[Path], str]:
    """Each text (a run config with something given twice) is refused naming both lines."""

    def check(work: Path) -> str:
        results = []
        for i, text in enumerate(texts):
            path = work / f"run{i}.yaml"
            path.write_text(text, encoding="utf-8")
            (result,) = _refused_each(("train", str(path), "--runs-dir", str(work / "runs"), "-q"))
            assert where[i] in result, f"{where[i]!r} not named: {result}"
            results.append(result)
        _nothing_under(work / "runs")
        return results[0]

    return check


_TOY_YAML = (
    "model: {type: ddpm, timesteps: 4, data_dim: 2,\n"
    "  network: {type: mlp-denoiser, hidden_dim: 8, num_timesteps: 4}}\n"
)
DUPLICATE_KEYS = [
    _TOY_YAML + "data: {type: toy2d, size: 64}\ntrain:\n  steps: 2\n  lr: 0.01\n  steps: 2000\n",
    _TOY_YAML + "data: {type: toy2d, size: 64, size: 100000}\ntrain: {steps: 2}\n",
    _TOY_YAML + "data: {type: toy2d, size: 64}\ntrain:\n  steps: 2\n  'steps': 3\n",
]
DUPLICATE_SECTIONS = [
    _TOY_YAML + "data: {type: toy2d, size: 64}\ntrain: {steps: 2}\ntrain: {lr: 0.5}\n",
    "data: {type: toy2d, size: 64}\n" + _TOY_YAML + "train: {steps: 2}\n" + _TOY_YAML,
]


def _override_blame(work: Path) -> str:
    config = toy_run(timesteps=4, steps=2, batch_size=16)
    config["data"] = {"type": "digits", "image_size": 8}
    config["model"] = PLAIN_MODEL
    path = work / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    train = ("train", str(path), "--runs-dir", str(work / "runs"), "-q")
    results = _refused_each(
        (*train, "data.image_size=3"),
        (*train, "data.image_size=100000"),
        (*train, "model.image_size=12"),
        (*train, "train.loggers=[{type: jsonl, nonsense: 1}]"),
        (*train, "train.loggers=[jsonl, {type: tensorboard, flush_secs: -1}]"),
        (*train, "train.loggers=[{type: jsonl, filename: config.yaml}]"),
        named="<command line>",
    )
    blamed = [r for r in results if "run.yaml" in r]
    assert not blamed, f"the file is blamed for a command-line value: {blamed[0]}"
    _nothing_under(work / "runs")
    return results[0]


# -- data folders ------------------------------------------------------------------------------


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(hostile.real_png(4, 4))


def _image_folder_run(work: Path, root: str) -> tuple[str, ...]:
    config = dict(GUIDED, data={"type": "image-folder", "root": root, "image_size": 8})
    config["data"]["channels"] = 1
    config["model"] = PLAIN_MODEL
    path = work / "run.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return ("train", str(path), "--runs-dir", str(work / "runs"), "-q")


def _image_folder_proc(work: Path) -> str:
    results = []
    for root in ("/proc/self", "/proc/self/cwd", "/proc/thread-self", "/proc/self/root/proc/self"):
        start = time.perf_counter()
        (result,) = _refused_each(_image_folder_run(work, root), named="data")
        took = time.perf_counter() - start
        assert took < 20, f"data.root={root}: {took:.1f} s"
        results.append(f"{result} ({took:.2f} s)")
    return results[0]


def _image_folder_symlink_out(work: Path) -> str:
    _png(work / "outside" / "secret.png")
    _png(work / "root" / "cat" / "a.png")
    (work / "root" / "dog").symlink_to(work / "outside")  # a class folder from outside
    (result,) = _refused_each(_image_folder_run(work, str(work / "root")), named="outside")
    (work / "root" / "dog").unlink()
    (work / "root" / "cat" / "b.png").symlink_to(work / "outside" / "secret.png")  # one file
    (file_result,) = _refused_each(_image_folder_run(work, str(work / "root")), named="outside")
    (work / "root" / "cat" / "b.png").unlink()
    (work / "root" / "cat" / "up").symlink_to(work / "root")  # a link back up: read once
    (work / "root" / "cat" / "c.png").symlink_to("/etc/hostname")  # absolute, outside
    (abs_result,) = _refused_each(_image_folder_run(work, str(work / "root")), named="outside")
    _nothing_under(work / "runs")
    return f"{result}; a linked file: {file_result[:60]}...; absolute: {abs_result[:40]}..."


# -- core sample / core evaluate arguments ----------------------------------------------------


def _guided_run(work: Path) -> Path:
    from core.training import Trainer

    Trainer(GUIDED, run_dir=work / "run", quiet=True).fit()
    return work / "run"


def _sample(*variants: tuple[str, ...], named: str = "") -> Callable[[Path], str]:
    def check(work: Path) -> str:
        run = _guided_run(work)
        out = work / "grid.png"
        args = [("sample", str(run), "-n", "4", "-o", str(out), *v) for v in variants]
        results = _refused_each(*args, named=named)
        assert not out.exists(), "a grid was written"
        return results[0]

    return check


def _evaluate_guidance(work: Path) -> str:
    run = _guided_run(work)
    before = sorted(p.name for p in run.iterdir())
    card = (run / "final" / "README.md").read_bytes()
    evaluate = ("evaluate", str(run), "--metric", "sliced-wasserstein", "-n", "8")
    results = _refused_each(
        (*evaluate, "--guidance", "nan"),
        (*evaluate, "--guidance", "-inf"),
        (*evaluate, "--guidance", "-1"),
        named="guidance",
    )
    assert sorted(p.name for p in run.iterdir()) == before, "a record was written"
    assert (run / "final" / "README.md").read_bytes() == card, "the model card was changed"
    return results[0]


def _sampler_options(work: Path) -> str:
    run = _guided_run(work)
    results = []
    for key in ("steps", "seed", "y", "generator", "model", "n", "sampler", "guidance_scale"):
        for command in ("sample", "evaluate"):
            args = [command, str(run), "-n", "4", "--sampler-option", f"{key}=1"]
            if command == "sample":
                args += ["-o", str(work / "grid.png")]
            result = _cli_refused(*args)
            assert key in result, f"{command} --sampler-option {key}=1: {result}"
            results.append(result)
    assert not (work / "grid.png").exists()
    return results[0]


def _device(*names: str) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        run = hostile.trained_toy_run(work)
        results = []
        for name in names:
            for command in ("sample", "evaluate"):
                args = [command, str(run), "-n", "4", "--device", name]
                if command == "sample":
                    args += ["-o", str(work / "grid.png")]
                result = _cli_refused(*args)
                assert "--device" in result and repr(name) in result, result
                results.append(result)
        assert not (work / "grid.png").exists() and not list(run.glob("eval_*.json"))
        return results[0]

    return check


# -- core difflut convert ----------------------------------------------------------------------


def _upstream_state() -> dict[str, Any]:
    """A small upstream DiffLUT feedforward checkpoint: dwn nodes, one random layer."""
    import torch

    g = torch.Generator().manual_seed(0)
    state = {
        "encoder.thresholds": torch.rand(4, 3, generator=g).sort(1).values,
        "layers.0._mapping_indices": torch.randint(12, (6, 2), generator=g),
        "output_layer.tau": torch.tensor(2.0),
    }
    for j in range(6):
        state[f"layers.0.nodes.{j}.luts"] = torch.rand(1, 4, generator=g)
    return state


class _Storage:
    def __init__(self, numel: int) -> None:
        self.numel = numel


class _Tensor:
    """Pickles as a tensor of ``size`` over storage record 0 (which may hold less)."""

    def __init__(self, size: tuple[int, ...], numel: int) -> None:
        self.size, self.storage = size, _Storage(numel)

    def __reduce__(self) -> Any:
        import torch

        stride = [1] * len(self.size)
        for i in range(len(self.size) - 2, -1, -1):
            stride[i] = stride[i + 1] * self.size[i + 1]
        args = (self.storage, 0, self.size, tuple(stride), False, OrderedDict())
        return (torch._utils._rebuild_tensor_v2, args)


def _lying_torch_file(path: Path, size: tuple[int, ...]) -> None:
    """A zip-format torch.save file whose one tensor declares ``size`` over a 16-byte record."""
    import torch

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, _Storage):
                return ("storage", torch.FloatStorage, "0", "cpu", obj.numel)
            return None

    numel = 1
    for dim in size:
        numel *= dim
    data = io.BytesIO()
    Pickler(data, protocol=2).dump({"encoder.thresholds": _Tensor(size, numel)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/data/0", b"\0" * 16)
        archive.writestr("archive/version", "3\n")


def _lying_safetensors(path: Path, end: int) -> None:
    header = {"encoder.thresholds": {"dtype": "F32", "shape": [1 << 15, 1 << 15],
                                     "data_offsets": [0, end]}}  # fmt: skip
    data = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data + b"\0" * 16)


def _convert_refused(work: Path, files: dict[str, Callable[[Path], None]], *extra: str) -> str:
    results = []
    for name, make in files.items():
        path = work / name
        make(path)
        out = work / f"out-{path.stem}"
        start = time.perf_counter()
        result = _cli_refused(
            "difflut", "convert", str(path), "-o", str(out), "--num-classes", "3", *extra
        )
        took = time.perf_counter() - start
        assert not out.exists(), f"{name}: wrote {out.name}"
        assert took < 20, f"{name}: {took:.1f} s"
        results.append(f"{name} ({path.stat().st_size:,} B): {result}")
    return results[0]


def _saved(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import torch

        state = _upstream_state()
        edit(state)
        torch.save(state, path)

    return make


def _put(key: str, value: Callable[[], Any]) -> Callable[[dict[str, Any]], None]:
    return lambda state: state.__setitem__(key, value())


def _convert_huge(work: Path) -> str:
    import torch

    inputs = {
        "view-thresholds.pth": _saved(
            _put("encoder.thresholds", lambda: torch.zeros(1).expand(1 << 20, 1 << 12))
        ),
        "view-mapping.pth": _saved(
            _put("layers.0._mapping_indices", lambda: torch.zeros(1).long().expand(6, 1 << 30))
        ),
        "inputs-40.pth": _saved(
            _put("layers.0._mapping_indices", lambda: torch.zeros(6, 40, dtype=torch.long))
        ),
        "record-lies.pth": lambda path: _lying_torch_file(path, (1 << 15, 1 << 15)),
        "offsets-lie.safetensors": lambda path: _lying_safetensors(path, 1 << 32),
        "shape-lies.safetensors": lambda path: _lying_safetensors(path, 16),
    }
    return _convert_refused(work, inputs)


def _convert_tau(work: Path) -> str:
    import torch

    inputs = {
        f"tau-{label}.pth": _saved(_put("output_layer.tau", lambda v=value: torch.tensor(v)))
        for label, value in (
            ("zero", 0.0),
            ("negative", -2.0),
            ("nan", float("nan")),
            ("inf", float("inf")),
            ("int-zero", 0),
        )  # fmt: skip
    }
    inputs["tau-two.pth"] = _saved(_put("output_layer.tau", lambda: torch.ones(2)))
    result = _convert_refused(work, inputs)
    for value in ("0", "-1", "nan", "inf"):
        _convert_refused(work, {f"given-{value}.pth": _saved(lambda s: None)}, "--tau", value)
    config = work / "upstream.yaml"
    config.write_text("num_classes: 3\nruntime: {output_tau: .nan}\n")
    _convert_refused(
        work, {"no-tau.pth": _saved(lambda s: s.pop("output_layer.tau"))}, "--config", str(config)
    )
    return result


def _convert_nan(work: Path) -> str:
    import torch

    nan = float("nan")
    inputs = {
        "thresholds-nan.pth": _saved(_put("encoder.thresholds", lambda: torch.full((4, 3), nan))),
        "one-nan.pth": _saved(lambda s: s["encoder.thresholds"].__setitem__((0, 0), nan)),
        "luts-nan.pth": _saved(_put("layers.0.nodes.2.luts", lambda: torch.full((1, 4), nan))),
        "thresholds-1d.pth": _saved(_put("encoder.thresholds", lambda: torch.rand(12))),
        "luts-shape.pth": _saved(_put("layers.0.nodes.2.luts", lambda: torch.rand(4, 1))),
        "mapping-rows.pth": _saved(
            _put("layers.0._mapping_indices", lambda: torch.zeros(5, 2, dtype=torch.long))
        ),
        "mapping-float.pth": _saved(_put("layers.0._mapping_indices", lambda: torch.zeros(6, 2))),
    }
    return _convert_refused(work, inputs)


# -- core new-plugin ---------------------------------------------------------------------------


def _new_plugin_installed(work: Path) -> str:
    results = _refused_each(
        *[
            ("new-plugin", name, "--no-input", "-o", str(work / "out"))
            for name in ("diffusion", "core-diffusion", "Diffusion", "core_difflut", "denoisers")
        ],
        named="shadow",
    )
    _nothing_under(work / "out")
    return results[0]


def _bare_template(work: Path) -> Path:
    """A template that names the package after NAME alone (as a plugin author's may)."""
    test = runpy.run_path(str(Path(__file__).parents[1] / "test_new_plugin_names.py"))
    return test["bare_package_template"](work)


def _new_plugin_module(work: Path) -> str:
    template = _bare_template(work)
    results = _refused_each(
        *[
            ("new-plugin", name, "--no-input", "-o", str(work / "out"), "--template", str(template))
            for name in ("json", "torch", "core", "os", "yaml", "numpy")
        ],
        named="shadow",
    )
    _nothing_under(work / "out")
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    from core.cli.new_plugin_cmd import template_dir

    for package in ("json", "torch", "core_diffusion"):  # answered at the prompt
        expect_refused(
            "ConfigError",
            lambda p=package: _hook_refuses(cookiecutter, FailedHookException, template_dir(), p),
        )
    _nothing_under(work / "out")
    return results[0]


def _hook_refuses(cookiecutter: Any, failed: type, template: Path, package: str) -> None:
    from core.errors import ConfigError

    logging.getLogger("cookiecutter").addHandler(logging.NullHandler())  # its traceback
    try:
        cookiecutter(
            str(template),
            no_input=True,
            output_dir="out",
            extra_context={"plugin_name": "zz-free", "package_name": package},
        )
    except failed:
        raise ConfigError(f"the template's hook refused package {package}") from None


# -- the tensorboard logger --------------------------------------------------------------------


def _tensorboard_gone(how: str) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        from core.loggers.run import RunLoggers

        log = RunLoggers.log_scalars

        def log_scalars(self: Any, values: Any, step: int) -> None:
            if step == 3:  # another process removes the folder in the middle of the run
                folder = work / "runs" / "tb" / "tensorboard"
                shutil.rmtree(folder)
                if how == "file":
                    folder.write_text("not a folder")
            log(self, values, step)

        RunLoggers.log_scalars = log_scalars  # this forked child only
        config = toy_run(timesteps=4, steps=12, batch_size=16, log_every=1)
        config["train"]["loggers"] = ["jsonl", {"type": "tensorboard", "flush_secs": 1}]
        path = work / "run.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        code, _, err = run_cli(
            "train", str(path), "--runs-dir", str(work / "runs"), "--run-name", "tb", "-q"
        )
        time.sleep(0.2)
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert code == 0, f"exit {code}: {lines[-3:]}"
        assert "Traceback" not in err, f"a traceback: {lines[:3]}"
        warnings = [line for line in lines if "tensorboard" in line]
        assert len(warnings) == 1 and warnings[0].startswith("warning: "), warnings[:3]
        assert (work / "runs" / "tb" / "final").is_dir(), "the run did not finish"
        return f"exit 0, {warnings[0][:110]}"

    return check


CASES = {
    "yaml-duplicate-key": (
        "inputs",
        "`core train RUN.yaml`, a key given twice in one mapping (block, flow, quoted)",
        "exit 2, one line naming both lines, nothing written",
        _yaml_twice(DUPLICATE_KEYS, ["lines 5 and 7", "line 3, columns", "lines 5 and 6"]),
    ),
    "yaml-duplicate-section": (
        "inputs",
        "`core train RUN.yaml`, a top-level section given twice",
        "exit 2, one line naming both lines, nothing written",
        _yaml_twice(DUPLICATE_SECTIONS, ["lines 4 and 5", "lines 2 and 5"]),
    ),
    "override-blame": (
        "inputs",
        "`core train RUN.yaml data.image_size=3` and logger options given on the command line",
        "exit 2, one line blaming <command line>, not the file",
        _override_blame,
    ),
    "image-folder-proc": (
        "inputs",
        "`core train RUN.yaml` with `data.root=/proc/self` (and /proc/self/cwd, thread-self)",
        "exit 2, one line, fast",
        _image_folder_proc,
    ),
    "image-folder-symlink-out": (
        "inputs",
        "`core train`, image-folder root holding a class folder, a file or an absolute link "
        "leading out",
        "exit 2, one line naming the link",
        _image_folder_symlink_out,
    ),
    "sample-class-null": (
        "inputs",
        "`core sample RUN --class 10` on a 10-class model (its null class)",
        "exit 2, one line naming the null class",
        _sample(("--class", "10"), named="null class"),
    ),
    "sample-class-11": (
        "inputs",
        "`core sample RUN --class 11` (and -1, 99999999999) on a 10-class model",
        "exit 2, one line naming the classes",
        _sample(("--class", "11"), ("--class", "-1"), ("--class", "99999999999"), named="class"),
    ),
    "sample-guidance-nan": (
        "inputs",
        "`core sample RUN --guidance nan` (and NaN, inf, -1)",
        "exit 2, one line, no grid",
        _sample(
            ("--guidance", "nan"),
            ("--guidance", "NaN"),
            ("--guidance", "inf"),
            ("--guidance", "-1"),
            named="guidance",
        ),
    ),
    "evaluate-guidance-nan": (
        "inputs",
        "`core evaluate RUN --guidance nan` (and -inf, -1)",
        "exit 2, one line, no record, model card unchanged",
        _evaluate_guidance,
    ),
    "sampler-option-steps": (
        "inputs",
        "`core sample|evaluate RUN --sampler-option KEY=1`, KEY steps, seed, y, generator, "
        "model, n, sampler, guidance_scale",
        "exit 2, one line naming the key",
        _sampler_options,
    ),
    "device-nonsense": (
        "inputs",
        "`core sample|evaluate RUN --device nonsense` (and cuda:x, cpu:0:1, empty)",
        "exit 2, one line",
        _device("nonsense", "cuda:x", "cpu:0:1", ""),
    ),
    "device-meta": (
        "inputs",
        "`core sample|evaluate RUN --device meta`",
        "exit 2, one line",
        _device("meta"),
    ),
    "device-cuda-99": (
        "inputs",
        "`core sample|evaluate RUN --device cuda:99`",
        "exit 2, one line",
        _device("cuda:99"),
    ),
    "convert-huge": (
        "inputs",
        "`core difflut convert` of 1-21 KB files declaring 2**30 values (views, a record or "
        "safetensors offsets that lie, 40-input nodes)",
        "exit 2, one line, nothing allocated or written",
        _convert_huge,
    ),
    "convert-tau-zero": (
        "inputs",
        "`core difflut convert`, tau 0, -2, NaN, inf or two values (checkpoint, --tau, config)",
        "exit 2, one line, nothing written",
        _convert_tau,
    ),
    "convert-nan-thresholds": (
        "inputs",
        "`core difflut convert`, all-NaN thresholds or truth tables, shapes that do not match",
        "exit 2, one line, nothing written",
        _convert_nan,
    ),
    "new-plugin-diffusion": (
        "inputs",
        "`core new-plugin diffusion` (core-diffusion, Diffusion, core_difflut, denoisers)",
        "exit 2, one line naming what it would shadow, nothing written",
        _new_plugin_installed,
    ),
    "new-plugin-json": (
        "inputs",
        "`core new-plugin json --template T` (package = NAME: json, torch, core, os, yaml), or "
        "package json answered at the prompt",
        "exit 2, one line naming what it would shadow, nothing written",
        _new_plugin_module,
    ),
    "tensorboard-folder-gone": (
        "inputs",
        "`core train` with the tensorboard logger; its folder removed at step 3",
        "one warning, no traceback, the run finishes",
        _tensorboard_gone("removed"),
    ),
    "tensorboard-folder-file": (
        "inputs",
        "`core train` with the tensorboard logger; its folder replaced by a file at step 3",
        "one warning, no traceback, the run finishes",
        _tensorboard_gone("file"),
    ),
}

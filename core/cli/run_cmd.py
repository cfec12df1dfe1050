"""``core train``, ``core sample`` and ``core evaluate`` (torch is imported inside the commands)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from core.atomic import check_target
from core.cli._options import RAW, key_values
from core.cli._output import echo_json
from core.config import Config
from core.errors import ConfigError, TrainingError
from core.model_card import command_line
from core.training.run_directory import holding_run

__all__ = ["train", "sample", "evaluate"]


def _split_config_and_overrides(
    config: str | None, overrides: tuple[str, ...]
) -> tuple[str | None, list[str]]:
    items = list(overrides)
    if config is not None and "=" in config and not Path(config).exists():
        items.insert(0, config)
        config = None
    return config, items


def _options(*decorators: Any) -> Any:
    """One decorator applying ``decorators`` (the options ``sample`` and ``evaluate`` share)."""

    def apply(command: Any) -> Any:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


_steps_and_sampler_options = _options(
    click.option("--steps", type=click.IntRange(1), help="Sampling steps passed to model.sample."),
    click.option(
        "--sampler-option",
        "sampler_options",
        multiple=True,
        metavar="KEY=VALUE",
        help="Sampler option passed to model.sample (repeatable), e.g. eta=0.5.",
    ),
)
_guidance_and_seed = _options(
    click.option(
        "--guidance",
        type=click.FloatRange(0),
        help="Classifier-free guidance scale (default: the run's sample.guidance_scale).",
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise."),
)
_DEVICE = click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")


@click.command()
@click.argument("config", required=False)
@click.argument("overrides", nargs=-1)
@click.option(
    "--resume",
    "resume",
    type=click.Path(file_okay=False),
    help="Continue the run in this directory from its newest checkpoint; 'auto': continue "
    "the CONFIG's run (--runs-dir/--run-name) if it has a complete checkpoint, else start it "
    "(for torchrun --max-restarts).",
)
@click.option("--run-name", help="Name of the run directory (default: the config file stem).")
@click.option(
    "--runs-dir", default="runs", show_default=True, help="Parent directory of run directories."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
def train(
    config: str | None,
    overrides: tuple[str, ...],
    resume: str | None,
    run_name: str | None,
    runs_dir: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Train a model from a run config: core train CONFIG [section.key=value ...].

    Outputs go to RUNS_DIR/NAME/: config.yaml, metrics.jsonl, checkpoints/, loss.png,
    samples*.png and final/ (loadable with core sample / from_pretrained).
    """

    config, items = _split_config_and_overrides(config, overrides)
    if resume == "auto":
        if config is None:
            raise ConfigError("core train --resume auto: give the CONFIG file of the run")
        auto_dir = Path(runs_dir) / _run_name(
            run_name if run_name is not None else Path(config).stem
        )
        from core.training.checkpoint import latest_checkpoint  # lazy: keeps torch out

        if latest_checkpoint(auto_dir) is not None:
            resume = str(auto_dir)
        else:  # nothing to continue: start afresh (what a killed first attempt left is set aside)
            resume, overwrite = None, overwrite or auto_dir.exists()
    if resume is not None:
        run_dir = Path(resume)
        saved = run_dir / "config.yaml"
        if not saved.is_file():
            raise TrainingError(f"--resume {run_dir}: no config.yaml there (not a run directory)")
        resolved = Config(config or saved, overrides=items)
        if config is not None:
            old = Config(saved).to_dict()
            for section in ("model", "data"):
                if old.get(section) != resolved.to_dict().get(section):
                    raise TrainingError(
                        f"--resume {run_dir}: the '{section}' section differs from the run's "
                        f"config.yaml; resume with the same model and data"
                    )
    else:
        if config is None:
            raise ConfigError("core train: give a CONFIG file (or --resume RUN_DIR)")
        resolved = Config(config, overrides=items)
        run_dir = Path(runs_dir) / _run_name(
            run_name if run_name is not None else Path(config).stem
        )
    from core.training.trainer import Trainer  # lazy: keeps torch out of core.cli.run_cmd

    Trainer(
        resolved,
        run_dir=run_dir,
        resume=resume is not None,
        overwrite=overwrite,
        quiet=quiet,
        command=_train_command(config, items, resume, run_name, runs_dir, overwrite),
    ).fit()


def _run_name(name: str) -> str:
    """``name`` if it names one folder inside the runs folder (no ``/``, not ``.`` or ``..``)."""
    if name in ("", ".", "..") or "/" in name or "\0" in name or name != name.strip():
        raise ConfigError(
            f"--run-name {name!r}: a run name is one folder name inside --runs-dir "
            "(no '/', not '.' or '..', no leading or trailing spaces)"
        )
    return name


def _train_command(
    config: str | None,
    items: list[str],
    resume: str | None,
    run_name: str | None,
    runs_dir: str,
    overwrite: bool,
) -> str:
    """The ``core train`` line of this run, as the model card shows it (``command_line``)."""

    argv = ["core", "train", *([config] if config else []), *items]
    argv += ["--resume", resume] if resume else []
    argv += ["--run-name", run_name] if run_name else []
    argv += ["--runs-dir", runs_dir] if runs_dir != "runs" else []
    argv += ["--overwrite"] if overwrite else []
    return command_line(argv)


#: The most samples ``core sample`` draws: all are held in memory and drawn into one grid.
MAX_SAMPLES = 4096


@click.command()
@click.argument("source")
@click.option(
    "-n",
    "--n",
    "n",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help=f"Samples: with -o at most {MAX_SAMPLES} (all are held in memory and drawn into one "
    "grid); with --out-dir any number, written shard by shard.",
)
@click.option("--sampler", help="Sampler passed to model.sample (e.g. ddim, dpm-solver++).")
@_steps_and_sampler_options
@click.option("--class", "class_label", type=click.IntRange(0), help="Class label (y) to draw.")
@_guidance_and_seed
@click.option("--nrow", type=click.IntRange(1), help="Images per grid row.")
@_DEVICE
@click.option(
    "-o",
    "--output",
    default="samples.png",
    show_default=True,
    help="PNG to write; its folder must exist.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    help="Write the samples as .npz shards into this folder (with manifest.json) instead of a "
    "grid; a rerun with the same settings finishes it; under torchrun each rank draws a share.",
)
@click.option(
    "--shard-size",
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    help="Samples per shard with --out-dir.",
)
@RAW
def sample(
    source: str,
    n: int,
    sampler: str | None,
    steps: int | None,
    sampler_options: tuple[str, ...],
    class_label: int | None,
    guidance: float | None,
    seed: int,
    nrow: int | None,
    device: str,
    output: str,
    out_dir: str | None,
    shard_size: int,
    raw: bool,
) -> None:
    """Draw samples from a run directory or a pretrained model into a PNG grid, or with
    --out-dir into a folder of .npz shards (for core evaluate --samples).

    A run directory is read under its lock, shared with other readers: a run that is being
    trained or evaluated is refused.
    """
    from core.metrics.evaluate import load_model  # lazy: keeps torch out of core.cli.run_cmd

    device = _check_sample_request(n, output, device, out_dir)
    from core.sampling import draw_samples  # lazy: keeps torch out of core.cli.run_cmd
    from core.training.images import save_samples  # lazy: keeps torch out of core.cli.run_cmd

    extra = _sampler_options(sampler_options)
    _hold_run(source, shared=True, what="core sample")
    model, info = load_model(source, device=device, raw=raw)
    if class_label is not None and out_dir is None:
        import torch

        extra["y"] = torch.full((n,), class_label, dtype=torch.long, device=model.device)
    if guidance is None:
        guidance = (info.get("sample") or {}).get("guidance_scale")
    if out_dir is not None:
        settings = {"n": n, "seed": seed, "sampler": sampler, "steps": steps, "raw": raw}
        settings.update(sampler_options=extra, guidance=guidance, **{"class": class_label})
        _sample_to_folder(model, info, out_dir, settings, shard_size)
        return
    if guidance is not None:
        extra["guidance_scale"] = guidance
    samples = draw_samples(model, n, sampler=sampler, steps=steps, seed=seed, **extra)
    value_range = getattr(model, "sample_range", None) or info.get("value_range")
    save_samples(samples, output, value_range, nrow=nrow)
    click.echo(f"wrote {n} samples ({info['weights']} weights of {info['source']}) to {output}")


@click.command()
@click.argument("source")
@click.argument("overrides", nargs=-1)
@click.option(
    "--metric", "-m", help="Metric name (default: the run's evaluate.metric, else feature-fid)."
)
@click.option(
    "-n",
    "--n",
    "n",
    type=click.IntRange(2),
    help="Samples (default: the run's evaluate.n, else 1000).",
)
@click.option("--sampler", help="Sampler passed to model.sample.")
@_steps_and_sampler_options
@_guidance_and_seed
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@_DEVICE
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@RAW
@click.option(
    "--log",
    is_flag=True,
    help="Also append the result to the loggers the run's config names (never truncates).",
)
@click.option("--no-write", is_flag=True, help="Compute and print; write nothing.")
@click.option(
    "--samples",
    type=click.Path(file_okay=False),
    help="Score the samples in this folder (written by core sample --out-dir from SOURCE) "
    "instead of drawing; its manifest sets -n and the sampling options.",
)
def evaluate(
    source: str,
    overrides: tuple[str, ...],
    metric: str | None,
    n: int | None,
    sampler: str | None,
    steps: int | None,
    sampler_options: tuple[str, ...],
    guidance: float | None,
    seed: int,
    split: str,
    device: str,
    as_json: bool,
    raw: bool,
    log: bool,
    no_write: bool,
    samples: str | None,
) -> None:
    """Score samples of a run or pretrained model against a data split.

    Prints the metric and its floor (the same metric between N training images and the
    reference split; for accuracy, the ceiling), then writes
    eval_<metric>_<sampler>-<steps>_seed<seed>.json (with _cfg<scale> under guidance) into a
    run directory (not with --no-write). The run is read as data: its loggers are opened only
    with --log, and then only appended to. OVERRIDES (data.key=value) change the reference
    data section. With --samples DIR the samples are read from DIR, shard by shard.
    """
    from core.devices import resolve_device  # lazy: keeps torch out of core.cli.run_cmd
    from core.metrics.evaluate import score_model  # lazy: keeps torch out of core.cli.run_cmd

    resolve_device(device, where="--device")
    options = _sampler_options(sampler_options)
    if log and no_write:
        raise ConfigError("core evaluate: --log writes to the run's loggers; drop --no-write")
    seed_given = click.get_current_context().get_parameter_source("seed").name != "DEFAULT"
    if samples is not None and seed_given:
        raise ConfigError(f"--samples {samples}: its manifest.json sets the seed; drop --seed")
    _hold_run(source, shared=no_write, what="core evaluate")
    evaluation = score_model(
        source,
        metric=metric,
        n=n,
        sampler=sampler,
        steps=steps,
        sampler_options=options,
        guidance_scale=guidance,
        seed=seed,
        split=split,
        device=device,
        raw=raw,
        overrides=list(overrides),
        log=log,
        samples=samples,
    )
    _echo_evaluation(evaluation.result, as_json)
    if not no_write:  # the result is printed first: a write or a logger that fails cannot lose it
        _record_evaluation(evaluation, log=log, as_json=as_json)


def _echo_evaluation(result: dict[str, Any], as_json: bool) -> None:
    """Print an evaluation's result: JSON, or its value beside the real-data bound."""
    if as_json:
        echo_json(result)
        return
    key, bound = result["key"], result.get("bound", "floor")
    if "floors" in result:  # a metric reporting several values: each, then each floor
        values = "  ".join(f"{k}: {v:.4g}" for k, v in result["values"].items())
        floors = ", ".join(f"{k} {v:.4g}" for k, v in result["floors"].items())
        click.echo(f"{values}  ({bound} {floors}: {result['floor_description']})")
        return
    click.echo(
        f"{key}: {result['value']:.4g}  ({bound} {result['floor']:.4g}: "
        f"{result['floor_description']})"
    )


def _record_evaluation(evaluation: Any, *, log: bool, as_json: bool) -> None:
    """Write the result into the run (a run directory only) and, with ``log``, log it there."""
    written = evaluation.write()
    if written is not None:
        click.echo(f"wrote {written}", err=as_json)
    if log:
        evaluation.log()
        click.echo(f"logged eval/{evaluation.result['metric']} to the run's loggers", err=as_json)


def _hold_run(source: str, *, shared: bool, what: str) -> None:
    """Hold ``source``'s run lock (when it is a run directory) until the command ends."""

    click.get_current_context().with_resource(holding_run(source, shared=shared, what=what))


def _sample_to_folder(
    model: Any, info: dict[str, Any], out_dir: str, settings: dict[str, Any], shard_size: int
) -> None:
    """``core sample --out-dir``: this rank's missing shards of ``out_dir``, then one line."""
    from core import sample_folders  # lazy: keeps torch out of core.cli.run_cmd

    run_sample = info.get("sample") or {}  # the run's sampler and steps, as core evaluate's
    settings["sampler"] = settings["sampler"] or run_sample.get("sampler")
    settings["steps"] = settings["steps"] or run_sample.get("steps")
    manifest = sample_folders.folder_manifest(model, info, settings, shard_size=shard_size)
    manifest = sample_folders.open_folder(out_dir, manifest)
    rank, world = share = sample_folders.torchrun_share()
    batch_size = int(run_sample.get("batch_size", 256))
    written, present = sample_folders.draw_to_folder(
        model, out_dir, manifest, batch_size=min(batch_size, shard_size), share=share
    )
    who = f"rank {rank} of {world}: " if world > 1 else ""
    click.echo(
        f"{who}wrote {written} shards of {manifest['n']} samples ({info['weights']} weights of "
        f"{info['source']}) to {out_dir}; {present} were there already"
    )


def _check_sample_request(n: int, output: str, device: str, out_dir: str | None) -> str:
    """Refuse, before any model is loaded, a grid too large to hold, a PNG with no folder or one
    core.atomic would refuse to write, or a device there is not; returns the device to load on
    (under torchrun with --out-dir, ``auto`` and ``cuda`` mean this rank's GPU)."""
    from core.devices import resolve_device  # lazy: keeps torch out of core.cli.run_cmd

    if out_dir is not None:
        if click.get_current_context().get_parameter_source("output").name != "DEFAULT":
            raise ConfigError("core sample: give -o (one PNG grid) or --out-dir (shards), not both")
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        return str(resolve_device(device, local_rank, where="--device"))
    resolve_device(device, where="--device")
    if n > MAX_SAMPLES:
        raise ConfigError(
            f"core sample -n {n}: at most {MAX_SAMPLES} samples (all are held in memory and "
            "drawn into one PNG grid); write them in shards with --out-dir DIR"
        )
    folder = Path(output).parent
    if Path(output).is_dir():
        raise ConfigError(f"-o {output} is a directory; give the PNG file to write")
    if not folder.is_dir():
        raise ConfigError(f"-o {output}: folder {folder} does not exist (create it first)")
    check_target(output)  # a device, FIFO or link out of its folder: refused before sampling
    return device


def _sampler_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("eta=0.5", "stochastic=true")`` -> ``{"eta": 0.5, "stochastic": True}`` (YAML-typed);
    a key the command sets itself (``steps``, ``seed``...) is refused."""
    from core.sampling import check_sampler_options  # lazy: keeps torch out of core.cli.run_cmd

    return check_sampler_options(key_values(pairs, "--sampler-option", "eta=0.5"))

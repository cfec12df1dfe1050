"""The tensorboard logger, read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import io

import numpy as np
import pytest
import yaml
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from core.building import build


def _events(log_dir) -> EventAccumulator:
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events


def _hparams(events: EventAccumulator) -> dict:
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in hparams.items()}


def test_scalars_image_hparams_and_config_text_read_back(run_dir, grid, run_config):
    path, pixels = grid
    logger = build("logger", {"type": "tensorboard"})
    logger.open(run_dir, run_config)
    logger.log_scalars({"loss": 0.5, "lr": 0.001}, 1)
    logger.log_scalars({"loss": 0.25, "lr": 0.002}, 2)
    logger.log_image("samples", path, 2)
    logger.close()

    events = _events(run_dir / "tensorboard")
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(1, 0.5), (2, 0.25)]
    assert [e.step for e in events.Scalars("lr")] == [1, 2]
    (image,) = events.Images("samples")
    assert (image.step, image.height, image.width) == (2, 12, 20)
    decoded = np.asarray(Image.open(io.BytesIO(image.encoded_image_string)).convert("RGB"))
    np.testing.assert_array_equal(decoded, pixels)
    hparams = _hparams(events)
    assert hparams["train.lr"] == pytest.approx(0.001)
    assert hparams["train.steps"] == 4
    assert hparams["model.unet.type"] == "unet"
    assert hparams["model.unet.channels"] == "[32, 64]"
    assert hparams["train.amp"] == "false"
    assert hparams["train.ema"] == "null"
    (text,) = events.Tensors("config/text_summary")
    shown = text.tensor_proto.string_val[0].decode()
    assert shown.startswith("```yaml\n")
    assert yaml.safe_load(shown.removeprefix("```yaml\n").removesuffix("```")) == run_config


def test_log_dir_is_relative_to_the_run_directory(run_dir, run_config):
    logger = build("logger", {"type": "tensorboard", "log_dir": "tb/events"})
    logger.open(run_dir, run_config)
    logger.log_scalars({"loss": 1.0}, 1)
    logger.close()
    assert [e.step for e in _events(run_dir / "tb" / "events").Scalars("loss")] == [1]
    assert not (run_dir / "tensorboard").exists()


def test_resume_hides_the_events_after_the_checkpoint(run_dir, run_config):
    logger = build("logger", {"type": "tensorboard"})
    logger.open(run_dir, run_config)
    for step in (1, 2, 3, 4):
        logger.log_scalars({"loss": float(step)}, step)
    logger.close()
    logger.open(run_dir, run_config, resume_step=2)
    logger.log_scalars({"loss": 30.0}, 3)
    logger.close()
    loss = _events(run_dir / "tensorboard").Scalars("loss")
    assert [(e.step, e.value) for e in loss] == [(1, 1.0), (2, 2.0), (3, 30.0)]


def _wait_for_failure(logger, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while logger._guard.error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert logger._guard.error is not None, "the writer thread never met the failure"


def _gone(folder):
    import shutil

    shutil.rmtree(folder)


def _a_file(folder):
    import shutil

    shutil.rmtree(folder)
    folder.write_text("not a folder")


def test_the_installed_tensorboard_writer_is_guarded(run_dir, run_config):
    logger = build("logger", {"type": "tensorboard"})
    logger.open(run_dir, run_config)
    try:
        assert logger._guard is not None, "tensorboard lays out its writer thread otherwise"
    finally:
        logger.close()


@pytest.mark.parametrize("fail", [_gone, _a_file], ids=["removed", "replaced-by-a-file"])
def test_a_folder_failing_mid_run_is_one_warning_and_the_run_goes_on(
    run_dir, run_config, capfd, fail
):
    from core.loggers.run import RunLoggers

    logger = build("logger", {"type": "tensorboard"})
    loggers = RunLoggers([("tensorboard", logger), ("jsonl", build("logger", {"type": "jsonl"}))])
    loggers.open(run_dir, run_config)
    loggers.log_scalars({"loss": 1.0}, 1)
    logger.writer.flush()
    fail(run_dir / "tensorboard")
    loggers.log_scalars({"loss": 0.5}, 2)  # queued; the writer thread fails on it
    _wait_for_failure(logger)
    for step in range(3, 6):
        loggers.log_scalars({"loss": 0.25}, step)
    loggers.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: logger 'tensorboard' failed at step 3 (TrainingError: ")
    assert "the run goes on without it" in lines[0]
    steps = [line for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    assert len(steps) == 5, "the other logger kept every step"


def test_a_failure_met_only_while_closing_is_one_warning(run_dir, run_config, capfd):
    from core.loggers.run import RunLoggers

    logger = build("logger", {"type": "tensorboard"})
    loggers = RunLoggers([("tensorboard", logger)])
    loggers.open(run_dir, run_config)
    logger.writer.flush()
    _gone(run_dir / "tensorboard")
    loggers.log_scalars({"loss": 1.0}, 1)  # the last call: the thread fails after it
    _wait_for_failure(logger)
    loggers.close()
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].startswith("warning: logger 'tensorboard' failed to close: cannot write")

"""Configs of core's loggers (torch-free)."""

from __future__ import annotations

from core.schema import ComponentConfig, Field

__all__ = ["JSONLLoggerConfig", "MLflowLoggerConfig", "TensorBoardLoggerConfig"]


class JSONLLoggerConfig(ComponentConfig):
    """``jsonl``: scalars appended to a JSON-lines file in the run directory."""

    filename: str = Field(
        "metrics.jsonl", pattern=r"^[^/\\]+$", description="file name inside the run directory"
    )


class TensorBoardLoggerConfig(ComponentConfig):
    """``tensorboard``: event files for TensorBoard (scalars, sample grids, hyperparameters)."""

    log_dir: str = Field(
        "tensorboard",
        min_length=1,
        description="event-file folder, relative to the run directory (absolute paths as given)",
    )
    hparam_metrics: list[str] = Field(
        ["loss"], description="scalar tags shown as metric columns in the HParams dashboard"
    )
    flush_secs: int = Field(30, ge=1, description="write pending events to disk this often")


class MLflowLoggerConfig(ComponentConfig):
    """``mlflow``: an MLflow run (params, metrics, sample grids as artifacts)."""

    tracking_uri: str | None = Field(
        None,
        min_length=1,
        description="tracking URI; default a SQLite database sqlite:///<run dir>/mlflow.db; "
        "a plain path (mlruns) is a file store relative to the run directory",
    )
    experiment: str | None = Field(
        None, min_length=1, description="experiment name; default the run directory's name"
    )
    connect_timeout_s: float = Field(
        5.0, gt=0, le=120, description="seconds to wait for an http(s) tracking server at open"
    )

"""``mlflow``: one MLflow run per core run, through ``MlflowClient`` (no global state).

The default tracking URI is a file store in ``<run dir>/mlruns``, so no server is needed;
MLflow 3 keeps file stores behind ``MLFLOW_ALLOW_FILE_STORE``, which this logger sets (unless
already set) when the URI is a ``file:`` one. The run id is kept in ``<run dir>/mlflow_run_id``
so a resumed run continues the same MLflow run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.atomic import atomic_write_text
from core.errors import TrainingError
from core.loggers.base import Logger, inside_run
from core.loggers.configs import MLflowLoggerConfig
from core.loggers.params import flatten_config, param_text

__all__ = ["MLflowLogger", "MetricKeys", "RUN_ID_FILE"]

MISSING_PACKAGE = "the mlflow logger needs the package 'mlflow-skinny': pip install 'core[mlflow]'"
#: file in the run directory holding the MLflow run id.
RUN_ID_FILE = "mlflow_run_id"
_KEY_LIMIT = 250  # MLflow's longest param and metric key
_VALUE_LIMIT = 6000  # MLflow's longest param value
_BATCH = 100  # MLflow's most params per log_batch
_BAD_KEY_CHARACTERS = re.compile(r"[^/\w.\- ]")
_BARE_URIS = ("databricks", "databricks-uc", "uc")  # tracking URIs without a scheme


class MLflowLogger(Logger):
    """Params from the run config, scalars as metrics, images as artifacts under their tag."""

    config_class = MLflowLoggerConfig
    run_id: str | None = None

    def open(self, run_dir: Path, config: Mapping[str, Any], *, resume_step: int = 0) -> None:
        run_dir = Path(run_dir).resolve()
        uri = self.tracking_uri(run_dir)
        scheme = urlparse(uri).scheme
        if scheme == "file":
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        elif scheme in ("http", "https"):
            _check_reachable(uri, self.config.connect_timeout_s)
        try:
            import mlflow  # noqa: F401  (mlflow.tracking may be cached without it)
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise TrainingError(MISSING_PACKAGE) from None
        self.client = MlflowClient(tracking_uri=uri)
        self.metric_keys = MetricKeys(flat=scheme == "file")
        params = {_key(name): _value(param_text(v)) for name, v in flatten_config(config).items()}
        id_file = run_dir / RUN_ID_FILE
        if resume_step and id_file.is_file():
            self.run_id = self._continue(id_file, uri)
            logged = self.client.get_run(self.run_id).data
            self.metric_keys.used.update(logged.metrics)
            params = {k: v for k, v in params.items() if k not in logged.params}
        else:
            self.run_id = self._start(run_dir)
            atomic_write_text(id_file, self.run_id + "\n")
        self._log_params(params)

    def append_to(self, run_dir: Path, config: Mapping[str, Any], step: int) -> None:
        """Continue the run's MLflow run (a new one if it has none); MLflow deletes nothing."""
        self.open(run_dir, config, resume_step=max(step, 1))

    def tracking_uri(self, run_dir: Path) -> str:
        """The configured URI; a plain path (or the default ``mlruns``) under ``run_dir``."""
        uri = self.config.tracking_uri or "mlruns"
        if urlparse(uri).scheme or uri in _BARE_URIS:
            return uri
        return (run_dir / uri).resolve().as_uri()

    def run_paths(self) -> list[str]:
        """The run id file, and the file store when it is a local path (or a ``file:`` one)."""
        uri = self.config.tracking_uri or "mlruns"
        address = urlparse(uri)
        if address.scheme == "file":
            return [RUN_ID_FILE, *inside_run(address.path)]
        plain = not (address.scheme or uri in _BARE_URIS)
        return [RUN_ID_FILE, *(inside_run(uri) if plain else [])]

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(self.metric_keys[tag], float(value), now, step) for tag, value in values.items()
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_image(self, tag: str, path: Path, step: int) -> None:
        """Kept as ``<tag>/step-0000100.png`` among the run's artifacts."""
        path = Path(path)
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / f"step-{step:07d}{path.suffix}"
            shutil.copyfile(path, copy)
            self.client.log_artifact(self.run_id, str(copy), artifact_path=tag)

    def close(self) -> None:
        if self.run_id is not None:
            self.client.set_terminated(self.run_id, "FINISHED")
            self.run_id = None

    def _start(self, run_dir: Path) -> str:
        name = self.config.experiment or run_dir.name
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            experiment_id = self._create_experiment(name)
        run = self.client.create_run(
            experiment_id, run_name=run_dir.name, tags={"core.run_dir": str(run_dir)}
        )
        return run.info.run_id

    def _create_experiment(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.create_experiment(name)
        except MlflowException:  # another process created it first
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def _continue(self, id_file: Path, uri: str) -> str:
        from mlflow.exceptions import MlflowException

        run_id = id_file.read_text(encoding="utf-8").strip()
        try:
            self.client.update_run(run_id, status="RUNNING")
        except MlflowException as exc:
            reason = str(exc.message).splitlines()[0] if str(exc.message) else type(exc).__name__
            raise TrainingError(
                f"{id_file}: MLflow run '{run_id}' cannot be continued at {_shown(uri)} "
                f"({reason}); delete the file to start a new MLflow run"
            ) from None
        return run_id

    def _log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(key, value) for key, value in params.items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + _BATCH])


class MetricKeys:
    """Metric names MLflow accepts, keeping ``/`` (the UI groups by it).

    A file store keeps each metric in a file named by its key, so one key cannot be the
    folder of another (``eval/fid`` and ``eval/fid/floor``); there the later of two such keys
    is spelled with ``.`` instead (``eval.fid.floor``).
    """

    def __init__(self, *, flat: bool) -> None:
        self.flat = flat
        self.used: set[str] = set()
        self._keys: dict[str, str] = {}

    def __getitem__(self, tag: str) -> str:
        if tag not in self._keys:
            key = _key(tag)
            if self.flat and self._nests(key):
                key = key.replace("/", ".")
            self.used.add(key)
            self._keys[tag] = key
        return self._keys[tag]

    def _nests(self, key: str) -> bool:
        return any(
            other.startswith(f"{key}/") or key.startswith(f"{other}/") for other in self.used
        )


def _check_reachable(uri: str, timeout: float) -> None:
    """Fail in seconds rather than after MLflow's minutes of HTTP retries."""
    parsed = urlparse(uri)
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        with socket.create_connection((parsed.hostname or "localhost", port), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise TrainingError(
            f"cannot reach the MLflow tracking server at {_shown(uri)} ({reason})"
        ) from None


def _shown(uri: str) -> str:
    """The URI for messages, without a password."""
    parsed = urlparse(uri)
    if parsed.password is None:
        return uri
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")).geturl()


def _key(name: str) -> str:
    """A param or metric name MLflow accepts: odd characters become ``_``, at most 250."""
    return _BAD_KEY_CHARACTERS.sub("_", name)[:_KEY_LIMIT]


def _value(text: str) -> str:
    """MLflow caps param values: longer ones end in ``...``."""
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 3] + "..."

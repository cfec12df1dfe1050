"""``mlflow``: one MLflow run per core run, through ``MlflowClient`` (no global state).

The default tracking URI is a SQLite database, ``sqlite:///<run dir>/mlflow.db``, with the
artifacts beside it in ``<run dir>/mlartifacts``: no server is needed, and MLflow's own client
and UI read it as it is. A file store (``tracking_uri: mlruns``) stays an option; MLflow 3 keeps
those behind ``MLFLOW_ALLOW_FILE_STORE``, which this logger sets (unless already set) when the
URI is a ``file:`` one. The run id is kept in ``<run dir>/mlflow_run_id`` so a resumed run
continues the same MLflow run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.atomic import atomic_write_text
from core.errors import TrainingError
from core.loggers.base import Logger, inside_run
from core.loggers.configs import MLflowLoggerConfig
from core.loggers.params import flatten_config, param_text

__all__ = ["MLflowLogger", "MetricKeys", "RUN_ID_FILE", "DATABASE_FILE", "ARTIFACTS_DIR"]

MISSING_PACKAGE = "the mlflow logger needs the package 'mlflow-skinny': pip install 'core[mlflow]'"
MISSING_DATABASE_PACKAGES = (
    "the mlflow logger's {scheme} store needs the packages 'sqlalchemy' and 'alembic': "
    "pip install 'core[mlflow]'"
)
#: file in the run directory holding the MLflow run id.
RUN_ID_FILE = "mlflow_run_id"
#: the default store: a SQLite database in the run directory.
DATABASE_FILE = "mlflow.db"
#: the artifacts of runs in a SQLite store, in a folder beside the database.
ARTIFACTS_DIR = "mlartifacts"
_FILE_STORE = "mlruns"  # the default store of runs started before the SQLite one
_DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")  # SQLAlchemy-backed stores
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
        if scheme.partition("+")[0] in _DATABASE_SCHEMES:
            _check_database_packages(scheme)
        with _quiet_store_setup():
            self.client = MlflowClient(tracking_uri=uri)
            self._open_run(run_dir, config, uri, resume_step)

    def _open_run(
        self, run_dir: Path, config: Mapping[str, Any], uri: str, resume_step: int
    ) -> None:
        """Continue the run's MLflow run (``resume_step``) or start one; log the params."""
        scheme = urlparse(uri).scheme
        self.metric_keys = MetricKeys(flat=scheme == "file")
        params = {_key(name): _value(param_text(v)) for name, v in flatten_config(config).items()}
        id_file = run_dir / RUN_ID_FILE
        if resume_step and id_file.is_file():
            self.run_id = self._continue(id_file, uri)
            logged = self.client.get_run(self.run_id).data
            self.metric_keys.used.update(logged.metrics)
            params = {k: v for k, v in params.items() if k not in logged.params}
        else:
            self.run_id = self._start(run_dir, _artifact_location(uri))
            atomic_write_text(id_file, self.run_id + "\n")
        self._log_params(params)

    def append_to(self, run_dir: Path, config: Mapping[str, Any], step: int) -> None:
        """Continue the run's MLflow run (a new one if it has none); MLflow deletes nothing."""
        self.open(run_dir, config, resume_step=max(step, 1))

    def tracking_uri(self, run_dir: Path) -> str:
        """The configured URI, by default ``sqlite:///<run_dir>/mlflow.db`` (a run whose file
        store ``mlruns`` was made before keeps it); a plain path is a file store under
        ``run_dir``."""
        uri = self.config.tracking_uri
        if uri is None:
            if (run_dir / _FILE_STORE).is_dir() and not (run_dir / DATABASE_FILE).exists():
                uri = _FILE_STORE
            else:
                return "sqlite:///" + (Path(run_dir).resolve() / DATABASE_FILE).as_posix()
        if urlparse(uri).scheme or uri in _BARE_URIS:
            return uri
        return (run_dir / uri).resolve().as_uri()

    def run_paths(self) -> list[str]:
        """The run id file and the local store: the SQLite database and its artifacts, or the
        file store (a plain path or a ``file:`` one)."""
        uri = self.config.tracking_uri
        if uri is None:
            return [RUN_ID_FILE, DATABASE_FILE, ARTIFACTS_DIR]
        address = urlparse(uri)
        if address.scheme == "file":
            return [RUN_ID_FILE, *inside_run(address.path)]
        database = _sqlite_path(uri)
        if database is not None:  # a relative one lies in the working directory, not the run
            beside = os.path.join(os.path.dirname(database), ARTIFACTS_DIR)
            return [RUN_ID_FILE, *(inside_run(database, beside) if os.path.isabs(database) else [])]
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

    def _start(self, run_dir: Path, artifact_location: str | None) -> str:
        name = self.config.experiment or run_dir.name
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            experiment_id = self._create_experiment(name, artifact_location)
        run = self.client.create_run(
            experiment_id, run_name=run_dir.name, tags={"core.run_dir": str(run_dir)}
        )
        return run.info.run_id

    def _create_experiment(self, name: str, artifact_location: str | None) -> str:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.create_experiment(name, artifact_location=artifact_location)
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


def _check_database_packages(scheme: str) -> None:
    """MLflow's database stores need SQLAlchemy and Alembic, which mlflow-skinny leaves out."""
    try:
        import alembic  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise TrainingError(MISSING_DATABASE_PACKAGES.format(scheme=scheme)) from None


@contextmanager
def _quiet_store_setup() -> Iterator[None]:
    """Keep MLflow's INFO lines about creating a new database's tables out of the run's output."""
    logger = logging.getLogger("mlflow.store.db.utils")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _sqlite_path(uri: str) -> str | None:
    """The database file of a ``sqlite:///path`` URI (None for another URI or an in-memory one)."""
    scheme, sep, rest = uri.partition(":///")
    if not sep or scheme.partition("+")[0] != "sqlite":
        return None
    path = rest.partition("?")[0]
    return None if path in ("", ":memory:") else path


def _artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite database (MLflow's default
    is ``./mlruns`` in the working directory); the store's own choice for any other."""
    database = _sqlite_path(uri)
    if database is None:
        return None
    return (Path(database).resolve().parent / ARTIFACTS_DIR).as_uri()


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

"""Experiment loggers (the ``logger`` kind): where a run sends its config, scalars and images.

``train.loggers`` names any number of them (``[jsonl, tensorboard, {type: mlflow, ...}]``);
``jsonl`` (``metrics.jsonl`` in the run directory) is the default. Importing this package is
torch-free.
"""

from __future__ import annotations

from core.loggers.base import Logger
from core.loggers.run import RunLoggers, build_loggers

__all__ = ["Logger", "RunLoggers", "build_loggers"]

"""What every benchmark shares: the machine record, the training clock, writing and rendering.

Scripts in ``benchmarks/`` import it as ``_common`` (``benchmarks/`` is on ``sys.path`` when a
script runs); ``scripts/gen_performance.py`` imports each benchmark's ``render`` the same way.

- ``record``: ``start_record`` (``resumed_record`` to continue a results file), the one ``machine()`` record, ``save_record`` through
  ``core.atomic``, ``load_record`` (old records' machine keys mapped to the one shape);
- ``clock``: the Trainer's own clock (``fit()``'s ``summary["seconds"]`` and its logged steps);
- ``markdown``: cells, tables and the ``Section`` a benchmark's ``render(record, name)`` returns;
- ``plots``: plot pieces several renderers draw alike (FID against network evaluations);
- ``digits``: scoring generated digits (feature-FID, accuracy, memorisation);
- ``steps``: a model's bare training step and its timing, outside the Trainer;
- ``nfe``: the sampler steps that fit a budget of network evaluations;
- ``quoted``: figures that README and docs quote from the results, kept equal to them.
"""

from .clock import Trained, logged_seconds, seconds_per_step, train
from .record import (
    load_record,
    machine,
    machine_label,
    resumed_record,
    save_record,
    start_record,
)

__all__ = [
    "Trained",
    "load_record",
    "logged_seconds",
    "machine",
    "machine_label",
    "save_record",
    "seconds_per_step",
    "resumed_record",
    "start_record",
    "train",
]

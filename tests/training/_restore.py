"""Restore a run's newest checkpoint at this world size and write the weights it holds:
python _restore.py RUN_DIR OUT.safetensors [overrides] (under torchrun too; rank 0 writes).

``OUT`` holds ``model.<name>`` and, with an EMA, ``ema.<name>``: the whole tensors, gathered
from the shards under FSDP.
"""

import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("_tiny", Path(__file__).with_name("_tiny.py"))
tiny = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)
tiny.register()

from core.training.sharded import full_state_dict  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402
from core.weights import save_weights  # noqa: E402

run, out, *overrides = sys.argv[1:]
trainer = Trainer(
    str(Path(run) / "config.yaml"), run_dir=run, resume=True, quiet=True, overrides=overrides
)
trainer.loop.restore()
weights = {}
for prefix, module in (("model", trainer.model), ("ema", trainer.ema and trainer.ema.model)):
    if module is not None:
        state = full_state_dict(module) if trainer.parts.fsdp else module.state_dict()
        weights.update({f"{prefix}.{k}": v.detach().clone() for k, v in state.items()})
if trainer.dist.is_main:
    save_weights(weights, out)

import torch.distributed as torch_dist  # noqa: E402

if torch_dist.is_initialized():  # every rank leaves together: a rank gone early aborts the others
    torch_dist.barrier()
    torch_dist.destroy_process_group()

"""Holdout loss during training, the best-checkpoint record and early stopping.

The eval split of the shards (the newest commits, held out by the harvester) is packed like the training data and
its token-weighted mean loss is measured every `eval_every` steps, with dropout off and no gradients. The tracker
remembers the best loss and its step; `patience` evaluations in a row without a strictly better loss stop the run.
Its state goes into checkpoints, so a resumed run keeps counting where the killed one stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from .data import PackedRows
from .step import batch_inputs, row_target_counts


@dataclass
class EvalTracker:
    patience: int = 0  # 0 = never stop early
    best_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    last_loss: float | None = None
    last_step: int | None = None

    def record(self, step: int, loss: float) -> bool:
        """Records an evaluation; True when it is a new best (then the caller saves the best adapter)."""
        self.last_loss, self.last_step = loss, step
        if self.best_loss is None or loss < self.best_loss:
            self.best_loss, self.best_step, self.evals_since_best = loss, step, 0
            return True
        self.evals_since_best += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.evals_since_best >= self.patience

    def state(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "patience"}

    def restore(self, state: dict | None) -> None:
        for key, value in (state or {}).items():
            if key in self.state():
                setattr(self, key, value)


def evaluate_loss(loss_module, rows: PackedRows, micro_batch: int, packing: str, device, dtype, dist,
                  static_length: int = 0) -> float:
    """Token-weighted mean loss over every eval row (each rank takes a share; sums are all-reduced)."""
    targets = row_target_counts(rows)
    mine = dist.shard(np.arange(len(rows)))
    was_training = loss_module.training
    loss_module.eval()
    total = 0.0
    try:
        with torch.no_grad():
            for start in range(0, len(mine), micro_batch):
                idx = mine[start:start + micro_batch]
                inputs = batch_inputs(rows, idx, packing, device, dtype, static_length)
                total += float(loss_module(**inputs).item())
    finally:
        loss_module.train(was_training)
    loss_sum, count = dist.all_sum([total, float(targets[mine].sum())], device)
    return loss_sum / max(count, 1.0)

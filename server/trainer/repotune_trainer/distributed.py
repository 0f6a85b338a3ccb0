"""Data-parallel training under `torchrun` / `accelerate launch` (both set RANK, LOCAL_RANK and WORLD_SIZE).

Every rank builds the same packed rows and the same global batch of row indices (same seed), then trains on its
share `indices[rank::world]`. The loss is normalised by the global batch's target-token count (known on every
rank from the labels, no communication) times world size, because DDP averages gradients over ranks: the result is
the gradient of the whole batch's mean loss, the same as one process computing the full batch.

Only rank 0 writes (checkpoints, adapters, merged weights) and reports progress; the others wait at a barrier.
Cancellation and early stopping are agreed with an all-reduce, so no rank is left waiting in a collective.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import BAD_DATA, WorkerError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices):
        """This rank's share of a global batch of row indices."""
        return indices[self.rank::self.world_size]

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def all_sum(self, values: list[float], device) -> list[float]:
        """Element-wise sum over ranks (float64 on the training device: NCCL needs CUDA tensors)."""
        if not self.enabled:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool, device) -> bool:
        return self.all_sum([1.0 if flag else 0.0], device)[0] > 0


def context_from_env() -> DistContext:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistContext(int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world)


def init_distributed(device_request: str, batch_size: int) -> DistContext:
    """Joins the process group when launched with WORLD_SIZE > 1 (NCCL with CUDA, gloo on CPU)."""
    ctx = context_from_env()
    if not ctx.enabled:
        return ctx
    if batch_size < ctx.world_size:
        raise WorkerError(BAD_DATA, f"batch_size {batch_size} is smaller than the {ctx.world_size} processes: "
                          "every process needs at least one row per step")
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        use_cuda = device_request != "cpu" and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return ctx


def shutdown_distributed(ctx: DistContext) -> None:
    if ctx.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()

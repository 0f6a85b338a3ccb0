"""Causal-LM loss computed from the decoder's hidden states, so the [tokens x vocab] logits never exist in full.

With a 152k vocabulary, 16k tokens of bf16 logits are 5 GB, and the fp32 upcast plus its gradient 20 GB more: the
largest buffer of a LoRA step. Two ways around it, both returning the loss SUM and the number of target tokens (the
recipe divides by the whole batch's count, which keeps micro-batching and DDP exact):

- `chunked_lm_loss`: only positions whose next token is a target are projected (FIM prompts are not targets), in
  chunks of CE_CHUNK_TOKENS; each chunk runs under activation checkpointing, so its logits are freed after the
  forward and recomputed one chunk at a time in backward. Pure PyTorch: runs everywhere.
- Liger's fused linear cross-entropy (a Triton kernel) when `liger_kernel` is installed and the device is CUDA.

`standard_lm_loss` is the plain path (full logits), kept for measurement and as the reference in tests.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100
# 2048 x 152k vocab: 0.6 GB bf16 logits + 1.2 GB fp32 + 1.2 GB fp32 gradient at once, at most; each chunk is
# still a large matmul (2048 x hidden x vocab), so the GPU stays busy.
CE_CHUNK_TOKENS = 2048
LOSS_CHOICES = ("auto", "chunked", "liger", "standard")


def liger_available() -> bool:
    return importlib.util.find_spec("liger_kernel") is not None


def resolve_loss(requested: str, device_type: str) -> str:
    """auto: Liger's fused kernel on CUDA when installed, else the chunked loss."""
    if requested == "auto":
        return "liger" if device_type == "cuda" and liger_available() else "chunked"
    if requested == "liger" and not (device_type == "cuda" and liger_available()):
        from .errors import MISSING_DEPENDENCY, WorkerError

        raise WorkerError(MISSING_DEPENDENCY, "loss: liger needs a CUDA GPU and the Python package liger-kernel; "
                          "use loss: auto or chunked")
    return requested


def shift_targets(hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states [N, H] of the positions that predict a target, and those targets [N] (labels are unshifted)."""
    h = hidden[:, :-1, :].reshape(-1, hidden.shape[-1])
    y = labels[:, 1:].reshape(-1)
    keep = y != IGNORE_INDEX
    return h[keep], y[keep]


def _chunk_loss_sum(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
    # Logits in the model's dtype, then fp32 for the softmax: exactly what transformers' loss does.
    return F.cross_entropy(F.linear(h, weight, bias).float(), y, reduction="sum")


def chunked_lm_loss(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, bias: torch.Tensor | None = None,
                    chunk_tokens: int = CE_CHUNK_TOKENS) -> tuple[torch.Tensor, int]:
    """(loss sum, target count) with at most chunk_tokens rows of logits alive at once (see module doc)."""
    h, y = shift_targets(hidden, labels)
    # Tied to the graph even with no targets, so backward (and DDP's gradient sync) always has something to run.
    total = hidden.sum().float() * 0.0
    for start in range(0, y.numel(), chunk_tokens):
        hc, yc = h[start:start + chunk_tokens], y[start:start + chunk_tokens]
        if torch.is_grad_enabled():
            total = total + checkpoint(_chunk_loss_sum, hc, weight, bias, yc, use_reentrant=False)
        else:
            total = total + _chunk_loss_sum(hc, weight, bias, yc)
    return total, int(y.numel())


def liger_lm_loss(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                  bias: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

    h, y = shift_targets(hidden, labels)
    if y.numel() == 0:
        return hidden.sum().float() * 0.0, 0
    loss = LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX, reduction="sum")(weight, h, y, bias)
    return loss.float(), int(y.numel())


def standard_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The reference: full logits [B, T, V], shifted, fp32 cross-entropy summed over targets."""
    y = labels[:, 1:].reshape(-1)
    flat = logits[:, :-1, :].reshape(-1, logits.shape[-1]).float()
    return F.cross_entropy(flat, y, ignore_index=IGNORE_INDEX, reduction="sum"), int((y != IGNORE_INDEX).sum())


def head_supports_hidden_state_loss(config) -> bool:
    """Models that post-process logits (soft-capping, scaling) need the full logits path to stay exact."""
    return not (getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None)
                or getattr(config, "logits_scaling", None))

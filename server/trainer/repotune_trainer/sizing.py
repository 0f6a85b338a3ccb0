"""Sizes a training step to the device: micro-batch, gradient accumulation, sequence length, checkpointing.

`plan_batch` is a pure function of free memory and the model's shape, so it is tested over simulated GPUs. It runs
after the model and its LoRA layers are on the device, so `free_bytes` already excludes the weights; what is left
has to hold the LoRA optimizer state and one micro-batch's activations and loss buffers.

The user's `batch_size` (packed rows per optimizer step) is never changed: a smaller micro-batch is made up for
with gradient accumulation, and the recipe normalises the loss by the whole batch's target tokens, so every plan
computes the same gradients. That is what lets `step_down` change the plan in the middle of a run after an
out-of-memory error without changing the result. Only the sequence length changes the data (it shapes packing),
so it is chosen once, before packing, and only lowered when even one row with checkpointing does not fit.

The activation model is deliberately coarse (per token per layer ~ (10 h + 4 i) values for a SwiGLU decoder with
flash/SDPA attention, whose score matrix is never stored) with a safety factor: an underestimate is caught by the
out-of-memory step-down, an overestimate only costs some speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

# Values stored per token per decoder layer for backward, in multiples of hidden (h) and intermediate (i) size:
# attention inputs/outputs, norms, residuals and rotary q/k (~10 h); gate, up, activation and product (~4 i).
ACT_VALUES_PER_HIDDEN = 10
ACT_VALUES_PER_INTERMEDIATE = 4
ACTIVATION_SAFETY = 1.3  # allocator fragmentation and what the coarse model misses
# Bytes per trainable (LoRA) parameter: fp32 weight copy is already on the device; fp32 grad + two AdamW moments.
OPTIMIZER_BYTES_PER_TRAINABLE = 12
# Loss buffers per token whose logits exist at once: model-dtype logits, fp32 upcast, fp32 gradient.
LOGIT_BYTES_PER_VOCAB_ENTRY = 2 + 4 + 4
CUDA_HEADROOM_BYTES = 1 << 30  # CUDA context growth, cuBLAS workspaces, NCCL buffers
CUDA_HEADROOM_FRACTION = 0.05
# Below this many tokens per micro-batch a GPU is under-used: prefer recomputation (checkpointing, ~+33% compute)
# with bigger micro-batches over many tiny ones.
MIN_EFFICIENT_MICRO_TOKENS = 8192
MIN_SEQ_LEN = 256  # shorter rows lose most of a code example's context; fail instead
CHECKPOINTING_CHOICES = ("auto", "on", "off")


@dataclass(frozen=True)
class ModelShape:
    num_layers: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    trainable_params: int
    act_bytes: int  # bytes per activation value (2 for bf16, 4 for fp32)


@dataclass(frozen=True)
class BatchPlan:
    micro_batch: int
    grad_accum: int
    seq_len: int
    gradient_checkpointing: bool

    def describe(self) -> str:
        ckpt = "on" if self.gradient_checkpointing else "off"
        return (f"micro-batch {self.micro_batch} x {self.grad_accum} accumulation, seq_len {self.seq_len}, "
                f"gradient checkpointing {ckpt}")


def accumulation_for(batch_size: int, micro_batch: int) -> int:
    return math.ceil(batch_size / micro_batch)


def estimate_step_bytes(shape: ModelShape, micro_batch: int, seq_len: int, checkpointing: bool,
                        loss_chunk_tokens: int | None) -> int:
    """Device bytes one micro-batch needs on top of the loaded model (see the module doc for the model)."""
    tokens = micro_batch * seq_len
    per_layer_token = (ACT_VALUES_PER_HIDDEN * shape.hidden_size
                       + ACT_VALUES_PER_INTERMEDIATE * shape.intermediate_size) * shape.act_bytes
    if checkpointing:  # each layer keeps its input; one layer at a time is recomputed in full
        activations = tokens * (shape.num_layers * shape.hidden_size * shape.act_bytes + per_layer_token)
    else:
        activations = tokens * shape.num_layers * per_layer_token
    logit_tokens = tokens if loss_chunk_tokens is None else min(tokens, loss_chunk_tokens)
    logits = logit_tokens * shape.vocab_size * LOGIT_BYTES_PER_VOCAB_ENTRY
    optimizer = shape.trainable_params * OPTIMIZER_BYTES_PER_TRAINABLE
    return int(activations * ACTIVATION_SAFETY + logits + optimizer)


def usable_bytes(free_bytes: int) -> int:
    return max(0, int(free_bytes * (1 - CUDA_HEADROOM_FRACTION)) - CUDA_HEADROOM_BYTES)


def plan_batch(free_bytes: int, shape: ModelShape, batch_size: int, seq_len: int, *,
               loss_chunk_tokens: int | None, checkpointing: str = "auto", micro_batch: int = 0,
               max_seq_len: int | None = None) -> BatchPlan | None:
    """The fastest plan that fits in free_bytes, or None when not even one row of MIN_SEQ_LEN fits.

    checkpointing: "on"/"off" force it, "auto" turns it on only when the micro-batch without it would be smaller
    than MIN_EFFICIENT_MICRO_TOKENS and checkpointing allows a bigger one. micro_batch > 0 is the user's choice and
    is kept (only the sequence length and checkpointing are still sized).
    """
    if checkpointing not in CHECKPOINTING_CHOICES:
        raise ValueError(f"checkpointing must be one of {CHECKPOINTING_CHOICES}, got {checkpointing!r}")
    budget = usable_bytes(free_bytes)
    seq = min(seq_len, max_seq_len) if max_seq_len else seq_len
    options = {"auto": (False, True), "on": (True,), "off": (False,)}[checkpointing]
    while True:
        fits = {ckpt: _largest_micro_batch(budget, shape, batch_size, seq, ckpt, loss_chunk_tokens, micro_batch)
                for ckpt in options}
        best = _choose(fits, seq)
        if best is not None:
            ckpt, largest = best
            accum = accumulation_for(batch_size, largest)
            # Even micro-batches: 16 rows that fit 14 at a time run as 8 + 8, not 14 + 2 (same steps, less memory).
            micro = largest if micro_batch else math.ceil(batch_size / accum)
            return BatchPlan(micro, accumulation_for(batch_size, micro), seq, ckpt)
        if seq // 2 < MIN_SEQ_LEN:
            return None
        seq //= 2


def _largest_micro_batch(budget: int, shape: ModelShape, batch_size: int, seq_len: int, checkpointing: bool,
                         loss_chunk_tokens: int | None, fixed: int) -> int:
    candidates = [fixed] if fixed else range(batch_size, 0, -1)
    for micro in candidates:
        if estimate_step_bytes(shape, micro, seq_len, checkpointing, loss_chunk_tokens) <= budget:
            return micro
    return 0


def _choose(fits: dict[bool, int], seq_len: int) -> tuple[bool, int] | None:
    plain, recompute = fits.get(False, 0), fits.get(True, 0)
    if plain and (plain * seq_len >= MIN_EFFICIENT_MICRO_TOKENS or recompute <= plain):
        return False, plain
    if recompute:
        return True, recompute
    return (False, plain) if plain else None


def step_down(plan: BatchPlan, batch_size: int) -> BatchPlan | None:
    """The next smaller plan after an out-of-memory error, or None when nothing is left to give up.

    Halve the micro-batch (accumulation grows to keep the batch), then turn on gradient checkpointing. The sequence
    length is not lowered mid-run: it decides the packing, so the data position would lose its meaning.
    """
    if plan.micro_batch > 1:
        micro = plan.micro_batch // 2
        return replace(plan, micro_batch=micro, grad_accum=accumulation_for(batch_size, micro))
    if not plan.gradient_checkpointing:
        return replace(plan, gradient_checkpointing=True)
    return None


def is_oom_error(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, a CPU allocation failure (a RuntimeError) or Python's MemoryError."""
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except ImportError:
        pass
    if isinstance(exc, MemoryError):
        return True
    message = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in message or "can't allocate memory" in message)


def model_shape(config, trainable_params: int, act_bytes: int) -> ModelShape:
    """The sizing inputs from a transformers config (text config of multimodal models)."""
    cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden = int(cfg.hidden_size)
    return ModelShape(num_layers=int(cfg.num_hidden_layers), hidden_size=hidden,
                      intermediate_size=int(getattr(cfg, "intermediate_size", None) or 4 * hidden),
                      vocab_size=int(cfg.vocab_size), trainable_params=trainable_params, act_bytes=act_bytes)

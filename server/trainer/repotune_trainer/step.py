"""One micro-batch of training: turning packed rows into model inputs, and the module that returns the loss sum.

Two input layouts, the same examples and the same loss:
- `rows` (the CPU default): micro_batch x seq_len padded rows with an explicit block-diagonal causal mask
  (`data.block_causal_mask`), because eager/SDPA attention on the CPU need a mask anyway.
- `padding_free` (the default with FlashAttention / flex attention): the real tokens of the micro-batch's rows concatenated into ONE row with no
  padding and no mask; position_ids restart at 0 for each example, and transformers derives the example
  boundaries from them (FlashAttention varlen via cu_seqlens; with SDPA, a block mask). No compute is spent on
  padding. Concatenation never leaks across examples: the first token of every example has label -100, so the
  last token of the previous example predicts nothing. With flex attention or compiled layers the row is padded to
  micro_batch x seq_len (`static_length`; the padding is one more example, with no targets): compiled code is
  compiled again for every distinct length (seen on CPU with flex: a new graph for each of the first three
  lengths), a fixed one compiles once.

`LossModule` is an nn.Module so DistributedDataParallel can wrap it (DDP hooks run through forward).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from .base_model import VARLEN_ATTENTION
from .data import IGNORE_INDEX, PackedRows, block_causal_mask
from .loss import chunked_lm_loss, head_supports_hidden_state_loss, liger_lm_loss, standard_lm_loss

PACKING_CHOICES = ("rows", "padding_free")


def resolve_packing(requested: str, attention: str) -> str:
    """auto: padding-free only with a varlen kernel. With SDPA one long row would cost attention over all of it
    (T^2, masked), where padded rows cost only seq_len^2 each."""
    if requested == "auto":
        return "padding_free" if attention in VARLEN_ATTENTION else "rows"
    return requested


def row_target_counts(rows: PackedRows) -> np.ndarray:
    """Target tokens per row (labels are unshifted: position 0 of a row is never a target of that row)."""
    return (rows.labels[:, 1:] != IGNORE_INDEX).sum(axis=1).astype(np.int64)


def batch_inputs(rows: PackedRows, idx: np.ndarray, packing: str, device, dtype, static_length: int = 0) -> dict:
    """Model inputs for the rows idx in the chosen layout (see module doc); padding_free rows are padded to
    static_length tokens when it is given."""
    if packing == "padding_free":
        lengths = rows.row_tokens[idx]
        pad = max(0, static_length - int(lengths.sum()))
        tail = {"input_ids": np.zeros(pad, np.int64), "position_ids": np.arange(pad, dtype=np.int64),
                "labels": np.full(pad, IGNORE_INDEX, np.int64)}
        flat = {name: np.concatenate([getattr(rows, name)[i, :n] for i, n in zip(idx, lengths)] + [tail[name]])
                for name in tail}
        return {name: torch.from_numpy(a[None]).to(device) for name, a in flat.items()} | {"attention_mask": None}
    segments = torch.from_numpy(rows.segment_ids[idx]).to(device)
    return {"input_ids": torch.from_numpy(rows.input_ids[idx]).to(device),
            "position_ids": torch.from_numpy(rows.position_ids[idx]).to(device),
            "labels": torch.from_numpy(rows.labels[idx]).to(device),
            "attention_mask": block_causal_mask(segments, dtype)}


class LossModule(torch.nn.Module):
    """Returns the summed next-token loss over a micro-batch's targets (the caller divides by the batch's count)."""

    def __init__(self, peft_model, loss_kind: str):
        super().__init__()
        self.peft_model = peft_model
        causal_lm = peft_model.get_base_model()
        # Hidden-state losses skip the model's own head; models that post-process logits keep the exact path.
        self.loss_kind = loss_kind if head_supports_hidden_state_loss(causal_lm.config) else "standard"

    def forward(self, input_ids, position_ids, labels, attention_mask=None):
        if self.loss_kind == "standard":
            logits = self.peft_model(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask,
                                     use_cache=False).logits
            return standard_lm_loss(logits, labels)[0]
        causal_lm = self.peft_model.get_base_model()
        hidden = causal_lm.get_decoder()(input_ids=input_ids, position_ids=position_ids,
                                         attention_mask=attention_mask, use_cache=False).last_hidden_state
        head = causal_lm.get_output_embeddings()
        if self.loss_kind == "liger":
            return liger_lm_loss(hidden, head.weight, labels, head.bias)[0]
        return chunked_lm_loss(hidden, head.weight, labels, head.bias)[0]


def apply_liger_kernels(causal_lm) -> bool:
    """Swaps RMSNorm and SwiGLU for Liger's Triton kernels in this model instance only; False when not possible.

    Liger also replaces the modeling module's RMSNorm and MLP classes and its RoPE function, for every model the
    process runs afterwards: a CPU evaluation or the serving backend then calls Triton on CPU tensors, and a
    compiled decode step breaks on RoPE's compiler-disabled dispatch (both seen on an H200). So the module is
    restored right after: the already-built instance keeps Liger's RMSNorm and SwiGLU, and RoPE (a module-level
    function, looked up per call) stays the model's own.
    """
    try:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance
        from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN
    except ImportError:
        return False
    if getattr(causal_lm.config, "model_type", None) not in MODEL_TYPE_TO_APPLY_LIGER_FN:
        return False  # Liger would log and change nothing: the recipe must not report its kernels as applied
    module = sys.modules[type(causal_lm).__module__]
    saved = dict(vars(module))
    try:
        _apply_liger_kernel_to_instance(model=causal_lm, rope=False, rms_norm=True, swiglu=True, cross_entropy=False,
                                        fused_linear_cross_entropy=False)
    except Exception:  # an architecture Liger does not know: keep the model's own modules
        return False
    finally:
        for name in [n for n, v in vars(module).items() if saved.get(n) is not v]:
            if name in saved:
                setattr(module, name, saved[name])
            else:
                delattr(module, name)
    return True


def set_gradient_checkpointing(causal_lm, enabled: bool) -> None:
    # Non-reentrant checkpointing works with frozen inputs (no enable_input_require_grads) and with DDP.
    if enabled:
        causal_lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    elif getattr(causal_lm, "is_gradient_checkpointing", False):
        causal_lm.gradient_checkpointing_disable()

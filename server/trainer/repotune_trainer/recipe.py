"""LoRA fine-tuning recipe: setup -> train -> checkpoint -> cleanup (in the style of torchtune/litgpt recipes).

    result = run_training(TrainArgs(...), cancel_event=threading.Event(), on_progress=print)

- Base model: AutoModelForCausalLM.from_pretrained(use_safetensors=True), float32 on CPU, bfloat16 on CUDA, frozen.
- Adapter: PEFT LoRA on every linear layer (`target_modules="all-linear"`, which leaves the output head alone).
- Optimizer: AdamW on the LoRA weights; LR: linear warm-up then cosine decay to MIN_LR_RATIO * peak.
- Deterministic on CPU for a seed (LoRA init, data order and dropout are all seeded; resuming restores the RNG).
- torch.set_num_threads is left at torch's default (one thread per core) unless TrainArgs.num_threads is set: the
  worker is normally the only heavy process while it trains. On a busy machine fewer threads are much faster
  (see TrainArgs.num_threads); the setting is process-wide and stays for later jobs of this worker.
- Cancel (the event) is checked before every step: the run stops within one step, saves a checkpoint and the
  adapter of the current state, and returns cancelled=True.
- Sized to the device (sizing.py): micro-batch x accumulation = batch_size; on out-of-memory the same batch is
  retried with a smaller plan. The loss of every micro-batch is its SUM over targets divided by the whole batch's
  target count, so any plan (and any number of DDP ranks, distributed.py) computes the same gradient.
- Speed switches (args.py): packing (step.py), attention kernel (base_model.py), loss (loss.py), Liger kernels.
- Holdout loss every eval_every steps, best adapter in <output_dir>/best, early stopping (evaluation.py).
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from . import checkpoint as ckpt
from .args import TrainArgs
from .base_model import base_model_identity, data_manifest_sha256, load_base_model, resolve_attention
from .compiling import (compile_decoder_layers, compile_error_summary, is_compile_error, quiet_compile_warnings,
                        resolve_compile, uncompile_decoder_layers)
from .data import PACKER, BatchStream, pack_examples, read_examples
from .distributed import DistContext, init_distributed, shutdown_distributed
from .env import device_memory_bytes, free_device_bytes, reset_peak_memory, resolve_device, training_dtype
from .errors import BAD_DATA, OUT_OF_MEMORY, WorkerError, require_training_stack
from .evaluation import EvalTracker, evaluate_loss
from .loss import CE_CHUNK_TOKENS, resolve_loss
from .sizing import BatchPlan, accumulation_for, is_oom_error, model_shape, plan_batch, step_down
from .step import (LossModule, apply_liger_kernels, batch_inputs, resolve_packing, row_target_counts,
                   set_gradient_checkpointing)
from .throughput import Throughput

log = logging.getLogger(__name__)

MAX_GRAD_NORM = 1.0  # gradient clipping keeps the high demo learning rate stable
MIN_LR_RATIO = 0.1  # cosine decays to 10% of the peak rather than 0, so the last steps still learn
WEIGHT_DECAY = 0.0  # LoRA weights are few and start at zero; decay only pulls them back towards the base

ProgressCallback = Callable[[dict], None]


@dataclass
class TrainResult:
    adapter_dir: str
    steps: int
    final_loss: float | None  # None only when no step ever ran (cancelled at once, nothing to resume)
    cancelled: bool
    elapsed_s: float
    eval_loss: float | None = None  # holdout loss of the final adapter (None without eval shards or eval_every 0)
    best_eval_loss: float | None = None
    best_step: int | None = None
    best_adapter_dir: str | None = None  # <output_dir>/best: the adapter with the lowest holdout loss
    stopped_early: bool = False
    tokens_seen: int = 0
    merged_dir: str | None = None
    batch_plan: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the peak LR for 0-based step: linear warm-up, then cosine decay to MIN_LR_RATIO."""
    warmup = min(warmup_steps, total_steps)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return MIN_LR_RATIO + (1.0 - MIN_LR_RATIO) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class LoRARecipe:
    def __init__(self, args: TrainArgs, cancel_event: threading.Event | None = None,
                 on_progress: ProgressCallback | None = None):
        self.args = args
        self.cancel_event = cancel_event or threading.Event()
        self.on_progress = on_progress
        self.model = None  # the PEFT model (unwrapped)
        self.loss_module = None  # LossModule around it
        self.trainer_module = None  # loss_module, or DDP around it
        self.optimizer = None
        self.scheduler = None
        self.device = None
        self.dist = DistContext()
        self.plan: BatchPlan | None = None
        self.eval_rows = None
        self.evals = EvalTracker(args.early_stopping_patience)
        self.base_model = ""
        self.attention = ""  # the attention kernel the model was loaded with
        self.compiled = False  # decoder layers compiled (args.compile, resolved; off again after a failed `auto`)
        self.step = 0
        self.tokens_seen = 0
        self.last_loss: float | None = None
        self.started = time.monotonic()

    # ---- setup -------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        require_training_stack()
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        args = self.args
        if args.num_threads:
            torch.set_num_threads(args.num_threads)
        self.dist = init_distributed(args.device, args.batch_size)
        self.device = resolve_device(args.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.dtype = training_dtype(self.device)
        self.packing = resolve_packing(args.packing, resolve_attention(args.attn_implementation, self.device.type))
        self.loss_kind = resolve_loss(args.loss, self.device.type)
        model_dir = Path(args.model_dir)
        self.base_model = str(model_dir.resolve())
        base = load_base_model(model_dir, self.device, self.dtype, attention=args.attn_implementation,
                               quantize=args.quantize, allow_pickle=args.allow_pickle_weights)
        if args.quantize != "none":
            base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
        if args.kernels == "auto" and self.device.type == "cuda" and apply_liger_kernels(base):
            log.info("Liger kernels (RMSNorm, SwiGLU) enabled")
        vocab_size = base.get_input_embeddings().num_embeddings
        examples = read_examples(args.data_dir, "train", vocab_size=vocab_size)
        eval_examples = read_examples(args.data_dir, "eval", vocab_size=vocab_size) if args.eval_every else []

        # PEFT calls a transformers API that transformers 5 deprecates; the warning means nothing to the user.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                          target_modules="all-linear", task_type="CAUSAL_LM", use_dora=args.use_dora)
        torch.manual_seed(args.seed)  # right before the LoRA init, so it cannot depend on how loading used the RNG
        self.model = get_peft_model(base, lora)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        found = ckpt.read_checkpoint_meta(args.output_dir) if args.resume else None
        self.plan = self._plan(sum(p.numel() for p in params), base.config,
                               found[1].get("packed_seq_len") if found else None)
        set_gradient_checkpointing(base, self.plan.gradient_checkpointing)
        self.compiled = resolve_compile(args.compile, self.device.type, args.quantize, base)
        if self.compiled:
            quiet_compile_warnings()
            log.info("compiling %d decoder layers (the first step takes longer)", compile_decoder_layers(base))
        self.attention = base.config._attn_implementation
        log.info("batch plan: %s; packing %s, loss %s, attention %s", self.plan.describe(), self.packing,
                 self.loss_kind, self.attention)
        pad = _pad_id(base.config)
        self.rows = pack_examples(examples, self.plan.seq_len, pad, seed=args.seed)
        self.row_targets = row_target_counts(self.rows)
        if eval_examples:
            self.eval_rows = pack_examples(eval_examples, self.plan.seq_len, pad, seed=args.seed)
        log.info("packed %d examples into %d rows of %d tokens", len(examples), len(self.rows), self.plan.seq_len)

        self.loss_module = LossModule(self.model, self.loss_kind)
        self.trainer_module = self.loss_module
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.trainer_module = DistributedDataParallel(self.loss_module, device_ids=ids)
        self.optimizer = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=WEIGHT_DECAY)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, args.warmup_steps, args.max_steps))
        data_position = self._resume(found) if found else 0
        if args.resume and not found:
            log.warning("resume requested but %s has no checkpoint; starting from step 0", args.output_dir)
        self.stream = BatchStream(len(self.rows), args.batch_size, args.seed, start_batch=data_position)

    def _plan(self, trainable: int, config, resumed_seq_len: int | None) -> BatchPlan:
        """Sizes the step to free GPU memory; on the CPU the user's settings are kept as given."""
        args = self.args
        local_batch = math.ceil(args.batch_size / self.dist.world_size)
        free = free_device_bytes(self.device)
        if free is None:
            micro = min(args.micro_batch_size or local_batch, local_batch)
            return BatchPlan(micro, accumulation_for(local_batch, micro), resumed_seq_len or args.seq_len,
                             args.gradient_checkpointing == "on")
        shape = model_shape(config, trainable, self.dtype.itemsize)
        chunk = None if self.loss_kind == "standard" else CE_CHUNK_TOKENS
        plan = plan_batch(free, shape, local_batch, resumed_seq_len or args.seq_len, loss_chunk_tokens=chunk,
                          checkpointing=args.gradient_checkpointing,
                          micro_batch=min(args.micro_batch_size, local_batch),
                          max_seq_len=None if resumed_seq_len else getattr(config, "max_position_embeddings", None))
        if plan is None:
            raise WorkerError(OUT_OF_MEMORY, f"{free / 2**30:.1f} GiB of free GPU memory is not enough for one "
                              "training row even with gradient checkpointing: use a smaller model or quantize: 4bit")
        if resumed_seq_len and plan.seq_len != resumed_seq_len:  # the data position only means something at it
            plan = BatchPlan(plan.micro_batch, plan.grad_accum, resumed_seq_len, plan.gradient_checkpointing)
        if plan.seq_len < args.seq_len:
            log.warning("seq_len lowered from %d to %d to fit in GPU memory", args.seq_len, plan.seq_len)
        return plan

    def _resume(self, found) -> int:
        ckpt_dir, meta = found
        ckpt.check_resumable(meta, self._checkpoint_identity(), ckpt_dir)
        ckpt.load_checkpoint_into(ckpt_dir, self.model, self.optimizer, self.scheduler, self.device)
        self.step = int(meta["step"])
        self.last_loss = meta.get("last_loss")
        self.tokens_seen = int(meta.get("tokens_seen", 0))
        self.evals.restore(meta.get("eval"))
        log.info("resumed from %s at step %d", ckpt_dir, self.step)
        return int(meta["data_position"])

    def _checkpoint_identity(self) -> dict:
        a = self.args
        return {"base_model": self.base_model, "lora_r": a.lora_r, "lora_alpha": a.lora_alpha, "seq_len": a.seq_len,
                "batch_size": a.batch_size, "seed": a.seed, "use_dora": a.use_dora, "quantize": a.quantize,
                "packer": PACKER}

    # ---- train -------------------------------------------------------------------------------------------------
    def train(self) -> TrainResult:
        args = self.args
        cancelled = stopped_early = False
        loop_start = time.monotonic()
        throughput = Throughput()
        reset_peak_memory(self.device)
        while self.step < args.max_steps:
            if self.dist.any(self.cancel_event.is_set(), self.device):  # every rank stops at the same step
                cancelled = True
                break
            t0 = time.monotonic()
            lr = self.scheduler.get_last_lr()[0]
            tokens = self._optimizer_step()
            self.step += 1
            self.tokens_seen += tokens
            throughput.add(time.monotonic() - t0, tokens)
            if self.eval_rows is not None and self.step % args.eval_every == 0:
                self._evaluate()
                stopped_early = self.evals.should_stop
            self._report(throughput, lr, loop_start)
            if stopped_early:
                log.info("early stop at step %d: no better eval loss in %d evaluations (best %.4f at step %d)",
                         self.step, args.early_stopping_patience, self.evals.best_loss, self.evals.best_step)
                break
            if args.checkpoint_every and self.step % args.checkpoint_every == 0 and self.step < args.max_steps:
                self.save_checkpoint()
        if cancelled:
            log.info("cancelled at step %d of %d", self.step, args.max_steps)
        elif self.eval_rows is not None and self.step and self.evals.last_step != self.step:
            self._evaluate()  # the final adapter's own holdout loss, comparable with the best one
        return self._finish(cancelled, stopped_early)

    def _optimizer_step(self) -> int:
        """One optimizer step over the next global batch, stepping the plan down on out-of-memory."""
        import torch

        idx = self.stream.next_indices()
        batch_targets = int(self.row_targets[idx].sum())
        mine = self.dist.shard(idx)
        while True:
            try:
                loss_sum = self._accumulate(mine, batch_targets)
                break
            except (RuntimeError, MemoryError) as exc:  # torch.OutOfMemoryError is a RuntimeError
                if self.compiled and is_compile_error(exc):
                    if self.args.compile == "on":
                        raise WorkerError(BAD_DATA, f"compile: on could not compile the model on this machine "
                                          f"({compile_error_summary(exc)}); train with compile: off") from exc
                    failed = compile_error_summary(exc)
                elif not is_oom_error(exc):
                    raise
                else:
                    failed = None
            if failed is not None:  # outside `except`, as below; the step runs again, eagerly
                self._stop_compiling(failed)
                continue
            self._recover_from_oom(len(mine))  # outside `except`: the traceback no longer pins the tensors
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], MAX_GRAD_NORM)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.last_loss = self.dist.all_sum([loss_sum], self.device)[0] / max(batch_targets, 1)
        return int(self.rows.row_tokens[idx].sum())

    def _accumulate(self, mine, batch_targets: int) -> float:
        """Forward/backward over this rank's rows in micro-batches; returns the summed loss (float)."""
        import contextlib

        scale = self.dist.world_size / max(batch_targets, 1)  # DDP averages over ranks: undo it (module doc)
        micro = self.plan.micro_batch
        starts = range(0, len(mine), micro)
        total = None
        for n, start in enumerate(starts):
            last = n == len(starts) - 1
            sync = contextlib.nullcontext() if last or not self.dist.enabled else self.trainer_module.no_sync()
            with sync:
                inputs = batch_inputs(self.rows, mine[start:start + micro], self.packing, self.device, self.dtype,
                                      self._static_length())
                loss = self.trainer_module(**inputs)
                (loss * scale).backward()
            total = loss.detach() if total is None else total + loss.detach()
        return float(total.item())  # one device sync per step, not per micro-batch

    def _recover_from_oom(self, rows: int) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        _free_cached_memory(self.device)
        smaller = step_down(self.plan, rows)
        if smaller is None or self.dist.enabled:  # ranks cannot re-plan in step; DDP runs set micro_batch_size
            raise WorkerError(OUT_OF_MEMORY, f"Out of memory at step {self.step + 1} on {self.device} with "
                              f"{self.plan.describe()}: lower seq_len (now {self.plan.seq_len}) or micro_batch_size, "
                              "or use quantize: 4bit.")
        log.warning("out of memory at step %d with %s; retrying with %s", self.step + 1, self.plan.describe(),
                    smaller.describe())
        if smaller.gradient_checkpointing != self.plan.gradient_checkpointing:
            set_gradient_checkpointing(self.model.get_base_model(), smaller.gradient_checkpointing)
        self.plan = smaller

    def _stop_compiling(self, reason: str) -> None:
        """compile: auto on a machine where compiling fails (no C++ compiler, a Triton that does not match torch):
        the run goes on eagerly, as compile: off would have run it from the start."""
        log.warning("compiling the decoder layers failed (%s); training on without compiling (compile: off skips "
                    "the attempt)", reason)
        self.optimizer.zero_grad(set_to_none=True)  # a micro-batch before the failure may have added gradients
        uncompile_decoder_layers(self.model.get_base_model())
        self.compiled = False

    def _static_length(self) -> int:
        """Compiled code (flex attention's kernels, compiled layers) is compiled again for every new sequence
        length: padding-free rows then get one length (step.py)."""
        if self.packing != "padding_free" or (self.attention != "flex_attention" and not self.compiled):
            return 0
        return self.plan.micro_batch * self.plan.seq_len

    def _evaluate(self) -> None:
        loss = evaluate_loss(self.loss_module, self.eval_rows, self.plan.micro_batch, self.packing, self.device,
                             self.dtype, self.dist, self._static_length())
        if self.evals.record(self.step, loss) and self.dist.is_main:
            ckpt.save_adapter(self.model, self.args.output_dir, self._adapter_meta(), name=ckpt.BEST_DIR)
        log.info("step %d eval loss %.4f (best %.4f at step %d)", self.step, loss, self.evals.best_loss,
                 self.evals.best_step)
        self.dist.barrier()

    def _report(self, throughput: Throughput, lr: float, loop_start: float) -> None:
        args = self.args
        tokens_per_s = throughput.tokens_per_s()
        eta_s = throughput.eta_s(args.max_steps - self.step)
        progress = {
            "step": self.step,
            "total_steps": args.max_steps,
            "loss": self.last_loss,
            "lr": lr,
            "tokens_per_s": round(tokens_per_s, 1),
            "eta_s": round(eta_s, 2),
            "elapsed_s": round(time.monotonic() - loop_start, 3),
            "device": str(self.device),
            "device_mem_bytes": device_memory_bytes(self.device),
            "eval_loss": self.evals.last_loss,
            "tokens_seen": self.tokens_seen,
        }
        if not self.dist.is_main:
            return
        if args.log_every and (self.step % args.log_every == 0 or self.step == args.max_steps):
            log.info("step %d/%d loss %.4f lr %.2e %.0f tok/s epoch %.2f", self.step, args.max_steps,
                     self.last_loss, lr, tokens_per_s, self.stream.epoch())
        if self.on_progress is not None:
            self.on_progress(progress)

    # ---- checkpoint / output / cleanup -------------------------------------------------------------------------
    def _adapter_meta(self) -> dict:
        a = self.args
        metrics = {"final_loss": self.last_loss, "eval_loss": self.evals.last_loss,
                   "best_eval_loss": self.evals.best_loss, "best_step": self.evals.best_step,
                   "tokens_seen": self.tokens_seen}
        return {"base_model": self.base_model, **base_model_identity(Path(a.model_dir)),
                "data_manifest_sha256": data_manifest_sha256(Path(a.data_dir)), "steps": self.step,
                "final_loss": self.last_loss, "metrics": metrics,
                "training": {"lora_r": a.lora_r, "lora_alpha": a.lora_alpha, "use_dora": a.use_dora,
                             "quantize": a.quantize, "seq_len": self.plan.seq_len, "batch_size": a.batch_size,
                             "learning_rate": a.learning_rate, "max_steps": a.max_steps, "seed": a.seed}}

    def _finish(self, cancelled: bool, stopped_early: bool) -> TrainResult:
        args, out = self.args, Path(self.args.output_dir)
        adapter_dir = out / ckpt.ADAPTER_DIR
        merged_dir = None
        if self.dist.is_main:
            self.save_checkpoint()
            adapter_dir = ckpt.save_adapter(self.model, out, self._adapter_meta())
            if args.save_merged and not cancelled:
                merged = self.model.merge_and_unload()  # the last use of the model: merging is in place
                merged_dir = str(ckpt.save_merged(merged, args.model_dir, out, self._adapter_meta()))
        self.dist.barrier()
        best = out / ckpt.BEST_DIR if self.evals.best_step is not None else None
        return TrainResult(str(adapter_dir), self.step, self.last_loss, cancelled,
                           round(time.monotonic() - self.started, 3), eval_loss=self.evals.last_loss,
                           best_eval_loss=self.evals.best_loss, best_step=self.evals.best_step,
                           best_adapter_dir=str(best) if best else None, stopped_early=stopped_early,
                           tokens_seen=self.tokens_seen, merged_dir=merged_dir, batch_plan=asdict(self.plan))

    def save_checkpoint(self) -> Path:
        meta = {**self._checkpoint_identity(), "step": self.step, "data_position": self.stream.position,
                "last_loss": self.last_loss, "max_steps": self.args.max_steps, "packed_seq_len": self.plan.seq_len,
                "tokens_seen": self.tokens_seen, "eval": self.evals.state()}
        return ckpt.save_checkpoint(self.model, self.optimizer, self.scheduler, self.args.output_dir, meta)

    def cleanup(self) -> None:
        """Frees the model and optimizer: the worker is long-lived and may train again or export next."""
        self.model = self.loss_module = self.trainer_module = self.optimizer = self.scheduler = None
        if self.device is not None:
            _free_cached_memory(self.device)
        shutdown_distributed(self.dist)


def _free_cached_memory(device) -> None:
    gc.collect()
    if device.type == "cuda":
        import torch

        torch.cuda.empty_cache()


def _pad_id(config) -> int:
    """Any id works for padding (its labels are -100 and it is never attended to); prefer the model's own."""
    for candidate in (getattr(config, "pad_token_id", None), getattr(config, "eos_token_id", None)):
        if isinstance(candidate, list):
            candidate = candidate[0] if candidate else None
        if isinstance(candidate, int):
            return candidate
    return 0


def run_training(args: TrainArgs, cancel_event: threading.Event | None = None,
                 on_progress: ProgressCallback | None = None) -> TrainResult:
    """Runs one LoRA training job end to end; the model is always freed, even on error or cancel."""
    recipe = LoRARecipe(args, cancel_event, on_progress)
    try:
        recipe.setup()
        return recipe.train()
    finally:
        recipe.cleanup()

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
"""

from __future__ import annotations

import collections
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
from .data import BatchStream, block_causal_mask, pack_examples, read_examples
from .env import device_memory_bytes, reset_peak_memory, resolve_device, training_dtype
from .errors import BAD_MODEL, OUT_OF_MEMORY, WorkerError, require_training_stack

log = logging.getLogger(__name__)

MAX_GRAD_NORM = 1.0  # gradient clipping keeps the high demo learning rate stable
MIN_LR_RATIO = 0.1  # cosine decays to 10% of the peak rather than 0, so the last steps still learn
WEIGHT_DECAY = 0.0  # LoRA weights are few and start at zero; decay only pulls them back towards the base
THROUGHPUT_WINDOW_STEPS = 20  # tokens/s and ETA are measured over this many recent steps

ProgressCallback = Callable[[dict], None]


@dataclass
class TrainResult:
    adapter_dir: str
    steps: int
    final_loss: float | None  # None only when no step ever ran (cancelled at once, nothing to resume)
    cancelled: bool
    elapsed_s: float

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
        self.model = None
        self.optimizer = None
        self.scheduler = None
        self.device = None
        self.base_model = ""
        self.step = 0
        self.last_loss: float | None = None
        self.started = time.monotonic()

    # ---- setup -------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        require_training_stack()
        import torch
        from peft import LoraConfig, get_peft_model

        args = self.args
        if args.num_threads:
            torch.set_num_threads(args.num_threads)
        self.device = resolve_device(args.device)
        self.base_model = str(Path(args.model_dir).resolve())
        base = self._load_base_model()
        vocab_size = base.get_input_embeddings().num_embeddings
        examples = read_examples(args.data_dir, "train", vocab_size=vocab_size)
        self.rows = pack_examples(examples, args.seq_len, _pad_id(base.config), seed=args.seed)
        log.info("packed %d examples into %d rows of %d tokens", len(examples), len(self.rows), args.seq_len)

        # PEFT calls a transformers API that transformers 5 deprecates; the warning means nothing to the user.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                          target_modules="all-linear", task_type="CAUSAL_LM")
        torch.manual_seed(args.seed)  # right before the LoRA init, so it cannot depend on how loading used the RNG
        self.model = get_peft_model(base, lora)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=WEIGHT_DECAY)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, args.warmup_steps, args.max_steps))
        data_position = 0
        if args.resume:
            data_position = self._resume()
        self.stream = BatchStream(len(self.rows), args.batch_size, args.seed, start_batch=data_position)

    def _load_base_model(self):
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        model_dir = Path(self.args.model_dir)
        if not (model_dir / "config.json").is_file():
            raise WorkerError(BAD_MODEL, f"{model_dir} is not a model directory (no config.json): download the "
                              "model again or pick another one")
        try:
            model = AutoModelForCausalLM.from_pretrained(str(model_dir), use_safetensors=True,
                                                         dtype=training_dtype(self.device))
        except torch.OutOfMemoryError as exc:
            raise WorkerError(OUT_OF_MEMORY, f"Not enough memory to load {model_dir}: {exc}") from exc
        except Exception as exc:  # missing/corrupt safetensors, bad config, unsupported architecture
            raise WorkerError(BAD_MODEL, f"Could not load the model in {model_dir}: {exc}. "
                              "Download it again or pick another model.") from exc
        model.requires_grad_(False)
        return model.to(self.device)

    def _resume(self) -> int:
        found = ckpt.read_checkpoint_meta(self.args.output_dir)
        if found is None:
            log.warning("resume requested but %s has no checkpoint; starting from step 0", self.args.output_dir)
            return 0
        ckpt_dir, meta = found
        ckpt.check_resumable(meta, self._checkpoint_identity(), ckpt_dir)
        ckpt.load_checkpoint_into(ckpt_dir, self.model, self.optimizer, self.scheduler, self.device)
        self.step = int(meta["step"])
        self.last_loss = meta.get("last_loss")
        log.info("resumed from %s at step %d", ckpt_dir, self.step)
        return int(meta["data_position"])

    def _checkpoint_identity(self) -> dict:
        a = self.args
        return {"base_model": self.base_model, "lora_r": a.lora_r, "lora_alpha": a.lora_alpha,
                "seq_len": a.seq_len, "batch_size": a.batch_size, "seed": a.seed}

    # ---- train -------------------------------------------------------------------------------------------------
    def train(self) -> TrainResult:
        import torch

        args = self.args
        cancelled = False
        loop_start = time.monotonic()
        window: collections.deque = collections.deque(maxlen=THROUGHPUT_WINDOW_STEPS)
        reset_peak_memory(self.device)
        try:
            while self.step < args.max_steps:
                if self.cancel_event.is_set():
                    cancelled = True
                    break
                t0 = time.monotonic()
                lr = self.scheduler.get_last_lr()[0]
                tokens = self._train_step()
                self.step += 1
                window.append((time.monotonic() - t0, tokens))
                self._report(window, lr, loop_start)
                if args.checkpoint_every and self.step % args.checkpoint_every == 0 and self.step < args.max_steps:
                    self.save_checkpoint()
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
            # CPU allocation failures are plain RuntimeErrors; anything else is re-raised as the bug it is.
            if isinstance(exc, RuntimeError) and not _is_oom_message(str(exc)):
                raise
            raise WorkerError(OUT_OF_MEMORY, f"Out of memory at step {self.step + 1} on {self.device}: reduce "
                              f"batch_size (now {args.batch_size}) or seq_len (now {args.seq_len}).") from exc
        if cancelled:
            log.info("cancelled at step %d of %d", self.step, args.max_steps)
        self.save_checkpoint()
        adapter_dir = ckpt.save_adapter(self.model, args.output_dir, {
            "base_model": self.base_model, "steps": self.step, "final_loss": self.last_loss})
        return TrainResult(str(adapter_dir), self.step, self.last_loss, cancelled,
                           round(time.monotonic() - self.started, 3))

    def _train_step(self) -> int:
        import torch

        idx = self.stream.next_indices()
        input_ids = torch.from_numpy(self.rows.input_ids[idx]).to(self.device)
        labels = torch.from_numpy(self.rows.labels[idx]).to(self.device)
        position_ids = torch.from_numpy(self.rows.position_ids[idx]).to(self.device)
        segments = torch.from_numpy(self.rows.segment_ids[idx]).to(self.device)
        mask = block_causal_mask(segments, training_dtype(self.device))
        loss = self.model(input_ids=input_ids, labels=labels, position_ids=position_ids, attention_mask=mask).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], MAX_GRAD_NORM)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.last_loss = float(loss.detach().float().item())
        return int(self.rows.row_tokens[idx].sum())

    def _report(self, window, lr: float, loop_start: float) -> None:
        args = self.args
        seconds = sum(dt for dt, _ in window)
        tokens_per_s = sum(n for _, n in window) / seconds if seconds > 0 else 0.0
        eta_s = (seconds / len(window)) * (args.max_steps - self.step)
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
        }
        if args.log_every and (self.step % args.log_every == 0 or self.step == args.max_steps):
            log.info("step %d/%d loss %.4f lr %.2e %.0f tok/s epoch %.2f", self.step, args.max_steps,
                     self.last_loss, lr, tokens_per_s, self.stream.epoch())
        if self.on_progress is not None:
            self.on_progress(progress)

    # ---- checkpoint / cleanup ----------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        meta = {**self._checkpoint_identity(), "step": self.step, "data_position": self.stream.position,
                "last_loss": self.last_loss, "max_steps": self.args.max_steps}
        return ckpt.save_checkpoint(self.model, self.optimizer, self.scheduler, self.args.output_dir, meta)

    def cleanup(self) -> None:
        """Frees the model and optimizer: the worker is long-lived and may train again or export next."""
        self.model = self.optimizer = self.scheduler = None
        gc.collect()
        if self.device is not None and self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()


def _is_oom_message(message: str) -> bool:
    return "out of memory" in message.lower() or "can't allocate memory" in message.lower()


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

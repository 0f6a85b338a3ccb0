"""Greedy completion serving with torch: the GPU backend of the sidecar's completion engine (docs/architecture.md).

One TorchServer holds one model (base + PEFT adapter merged, so a step costs what the base costs) and the KV cache of
ONE sequence: the last prompt and the tokens generated after it. A new prompt that shares its start with that
sequence (consecutive keystrokes do: completion/stablePrompt.ts) crops the cache to the common prefix and prefills
only the rest. The sidecar's OrtEngine does the same on the CPU; this is the same contract, so the two engines give
the same greedy ids for the same fp32 weights.

bf16 on CUDA (fp32 where bf16 is unsupported), fp32 on the CPU; SDPA attention; safetensors weights only, loaded by
the trainer's own loader (base_model.py), so a model the trainer accepts is a model this serves.

Two cache modes (`static_cache` at load; "auto", the default, is static on CUDA and dynamic on the CPU):
- dynamic: transformers' DynamicCache, cropped in place; every decode step is eager PyTorch, i.e. a few hundred
  kernel launches per token, which bounds a 1.5B model's decode rate on a GPU by the CPU, not the GPU (an H200:
  43 tokens/s, keystroke p50 362 ms at 16 new tokens; bench/serve_gpu.py, 2026-11-30).
- static: a preallocated StaticCache of STATIC_CACHE_TOKENS positions (cropping = moving the write position; the
  causal mask hides the stale positions after it) and, on CUDA, the one-token decode step compiled with
  torch.compile(mode="reduce-overhead"), i.e. replayed as a CUDA graph; compiled at load by a warm-up run (~35 s for
  the 1.5B shape). Same H200 run: 281 tokens/s, keystroke p50 74 ms, p95 98 ms. On the CPU it runs uncompiled (for
  tests). Under "auto", a compile that fails at load falls back to dynamic, with a warning and the reason in
  `source["static_cache_error"]`.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable

from .errors import BAD_DATA, BAD_MODEL, OUT_OF_MEMORY, WorkerError, require_module
from .compiling import compile_error_summary, is_compile_error

log = logging.getLogger("repotune_trainer")

DEVICE_CHOICES = ("auto", "cuda", "cpu")
# The prompt is prefilled in runs of at most this many tokens: a cancel is seen between runs, and a 2k-token cold
# prompt does not need one attention matrix of its full size. Large enough that the matmuls stay efficient.
PREFILL_CHUNK_TOKENS = 512
# Share of the cores CPU serving takes: the editor, the sidecar and (while training) PyTorch need the rest.
CPU_CORE_SHARE = 0.5
# Positions of the static cache: the 2k-token prompt budget, the generated tokens, and room for the anchored line.
STATIC_CACHE_TOKENS = 4096
# Decode steps of the warm-up run: compiling, then recording the CUDA graph, then one replay.
WARMUP_DECODE_STEPS = 4


class TorchServer:
    def __init__(self, model, device, dtype, source: dict, static_cache: bool = False,
                 dynamic_if_compile_fails: bool = False):
        import torch

        self.model = model
        self.device = device
        self.dtype = dtype
        self.source = source
        self._torch = torch
        self._cache = None  # transformers DynamicCache (or StaticCache) of self._seq
        self._seq: list[int] = []  # tokens whose keys/values are in the cache, in order
        self._static = static_cache
        self._decode = model.forward  # the one-token step; compiled in static mode on CUDA
        if static_cache:
            from transformers import StaticCache

            self._cache = StaticCache(config=model.config, max_cache_len=STATIC_CACHE_TOKENS)
            if device.type == "cuda":
                self.compile_decode_step(dynamic_if_compile_fails)

    def compile_decode_step(self, dynamic_if_compile_fails: bool) -> None:
        """Compiles the one-token step as a CUDA graph, by a warm-up run (on the CPU, for tests, without one).
        A compile that fails either raises or, when allowed, leaves the server on the dynamic cache, eager."""
        self._decode = self._torch.compile(self.model.forward, mode="reduce-overhead", fullgraph=True)
        try:
            self.generate([1] * 8, WARMUP_DECODE_STEPS)
        except Exception as exc:
            if not (dynamic_if_compile_fails and is_compile_error(exc)):
                raise
            reason = compile_error_summary(exc)
            log.warning("compiling the decode step failed (%s); serving with the dynamic cache, eagerly", reason)
            # No dynamo reset here: it would drop the compiled step of a model still serving during a swap.
            self._static, self._cache, self._seq, self._decode = False, None, [], self.model.forward
            self.source.update(static_cache=False, static_cache_error=reason)
        self.reset()

    # ---- loading -----------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, model_dir: str, adapter_dir: str | None = None, device: str = "auto",
             num_threads: int | None = None, static_cache: bool | str = "auto") -> "TorchServer":
        if device not in DEVICE_CHOICES:
            raise WorkerError(BAD_DATA, f"device must be one of {', '.join(DEVICE_CHOICES)}, not {device!r}")
        if not (isinstance(static_cache, bool) or static_cache == "auto"):
            raise WorkerError(BAD_DATA, f"static_cache must be \"auto\", true or false, not {static_cache!r}")
        for name in ("torch", "transformers", "safetensors") + (("peft",) if adapter_dir else ()):
            require_module(name)
        import torch

        from .base_model import load_base_model
        from .env import resolve_device, training_dtype

        dev = resolve_device(device)  # "cuda" without a usable GPU: missing_dependency, with the fix
        if dev.type == "cpu":
            torch.set_num_threads(num_threads or max(1, int((os.cpu_count() or 1) * CPU_CORE_SHARE)))
        dtype = training_dtype(dev)
        started = time.monotonic()
        model = load_base_model(Path(model_dir), dev, dtype, attention="sdpa", quantize="none", allow_pickle=False)
        if adapter_dir:
            model = _merge_adapter(model, Path(adapter_dir))
        model.eval()
        log.info("serving %s%s on %s (%s) after %.1f s", model_dir, f" + {adapter_dir}" if adapter_dir else "",
                 dev, str(dtype).replace("torch.", ""), time.monotonic() - started)
        static = dev.type == "cuda" if static_cache == "auto" else static_cache
        source = {"model_dir": str(model_dir), "adapter_dir": adapter_dir, "device": str(dev),
                  "dtype": str(dtype).replace("torch.", ""), "static_cache": static}
        try:
            return cls(model, dev, dtype, source, static, dynamic_if_compile_fails=static_cache == "auto")
        except torch.OutOfMemoryError as exc:
            raise WorkerError(OUT_OF_MEMORY, f"Not enough memory for the KV cache of {model_dir}: {exc}") from exc

    # ---- generation --------------------------------------------------------------------------------------------
    def generate(self, ids: list[int], max_new_tokens: int, stop_ids=(), *,
                 on_token: Callable[[int], None] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> dict:
        """Greedy decoding of up to max_new_tokens after `ids` (stop tokens end it and are not returned).

        `should_stop` is checked between prefill chunks and between tokens: a cancel costs at most one more step.
        Returns ids, stopped_by (stop|length|cancelled), reused_tokens, prefilled_tokens, prefill_ms, decode_ms.
        """
        if not ids:
            raise WorkerError(BAD_DATA, "generate needs at least one prompt token")
        if self._static:
            if len(ids) >= STATIC_CACHE_TOKENS:
                raise WorkerError(BAD_DATA, f"a {len(ids)}-token prompt does not fit the static cache's "
                                  f"{STATIC_CACHE_TOKENS} positions")
            max_new_tokens = min(max_new_tokens, STATIC_CACHE_TOKENS - len(ids))  # then stops as 'length'
        stops = set(stop_ids)
        out: list[int] = []
        t0 = time.perf_counter()
        # At least one prompt token is fed, even for a prompt fully cached: its logits give the first new token.
        reused = min(_common_prefix(self._seq, ids), len(ids) - 1)
        state = {"prefilled": 0, "prefill_ms": 0.0}

        def result(stopped_by: str) -> dict:
            decode_ms = (time.perf_counter() - t0) * 1000 - state["prefill_ms"]
            return {"ids": out, "stopped_by": stopped_by, "reused_tokens": reused,
                    "prefilled_tokens": state["prefilled"], "prefill_ms": state["prefill_ms"], "decode_ms": decode_ms}

        if max_new_tokens <= 0:
            return result("length")
        if should_stop():
            return result("cancelled")
        try:
            self._crop(reused)
            tail = ids[reused:]
            logits = None
            while state["prefilled"] < len(tail):
                if state["prefilled"] > 0 and should_stop():
                    state["prefill_ms"] = (time.perf_counter() - t0) * 1000
                    return result("cancelled")
                chunk = tail[state["prefilled"]:state["prefilled"] + PREFILL_CHUNK_TOKENS]
                logits = self._step(chunk)
                state["prefilled"] += len(chunk)
            next_id = int(logits.argmax())  # the .item() waits for the GPU: prefill time is real time
            state["prefill_ms"] = (time.perf_counter() - t0) * 1000
            while True:
                if next_id in stops:
                    return result("stop")
                out.append(next_id)
                if on_token is not None:
                    on_token(next_id)
                if len(out) >= max_new_tokens:
                    return result("length")
                if should_stop():
                    return result("cancelled")
                next_id = int(self._step([next_id], self._decode).argmax())
        except self._torch.OutOfMemoryError as exc:
            self.reset()
            raise WorkerError(OUT_OF_MEMORY, f"Out of memory generating after a {len(ids)}-token prompt on "
                              f"{self.device}: {exc}. Shorten the context or serve a smaller model.") from exc
        except BaseException:
            self.reset()  # a failed step leaves the cache in an unknown state
            raise

    def reset(self) -> None:
        """Forgets the KV cache (after an error, or to measure a cold prefill)."""
        self._crop(0)
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()

    @property
    def cached_tokens(self) -> list[int]:
        return list(self._seq)

    def _crop(self, keep: int) -> None:
        if self._static:
            # The next write goes to position `keep`; the causal mask hides what the old sequence left after it.
            # The counters are inference tensors when a step (in inference mode) created them: only written there.
            with self._torch.inference_mode():
                for layer in self._cache.layers:
                    if layer.is_initialized:
                        layer.cumulative_length.fill_(keep)
            del self._seq[keep:]
        elif keep == 0 or self._cache is None:
            self._cache = None  # the first step creates a fresh cache
            self._seq = []
        elif keep < len(self._seq):
            # A negative count (tokens to drop from the end) means the same in transformers 4.x and 5.x.
            self._cache.crop(keep - len(self._seq))
            del self._seq[keep:]

    def _step(self, tokens: list[int], forward=None):
        """Feeds `tokens` after the cached ones; returns the next-token logits of the last one."""
        torch = self._torch
        with torch.inference_mode():
            input_ids = torch.tensor([tokens], dtype=torch.long, device=self.device)
            start = len(self._seq)
            positions = torch.arange(start, start + len(tokens), device=self.device)
            out = (forward or self.model.forward)(input_ids=input_ids, past_key_values=self._cache, use_cache=True,
                                                   cache_position=positions, position_ids=positions[None],
                                                   logits_to_keep=1)
        if not self._static:
            self._cache = out.past_key_values
        self._seq.extend(tokens)
        return out.logits[0, -1]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _merge_adapter(model, adapter_dir: Path):
    """Base + LoRA merged into plain weights: serving then costs what the base model costs."""
    import torch
    from peft import PeftModel

    from .export_onnx import _check_adapter_dir

    _check_adapter_dir(adapter_dir)  # bad_model, naming what is missing, before PEFT's own errors
    try:
        return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    except torch.OutOfMemoryError as exc:
        raise WorkerError(OUT_OF_MEMORY, f"Not enough memory to merge the adapter {adapter_dir}: {exc}") from exc
    except Exception as exc:  # a mismatched or corrupt adapter surfaces as size/key/format errors
        raise WorkerError(BAD_MODEL, f"Could not apply the adapter in {adapter_dir}: {exc}. Train it again or "
                          "activate another run.") from exc

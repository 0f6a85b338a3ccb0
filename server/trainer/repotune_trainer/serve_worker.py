"""The completion-serving worker: `python -u -m repotune_trainer.serve_worker` (docs/architecture.md).

A process of its own, separate from the trainer worker, so a completion never waits behind a training run. It speaks
the trainer's protocol (rpc.py: JSON-RPC 2.0 lines on stdio, protocol-only stdout, `ping`/`cancel` answered by the
reader thread at once) with these methods:

- `load` {model_dir, adapter_dir: str|null, device: auto|cuda|cpu, num_threads?, static_cache?: "auto"|bool} →
  {model_dir, adapter_dir, device, dtype, static_cache, static_cache_error?}: replaces the model being served (and
  its KV cache); static_cache is serve_torch.py's CUDA-graph mode ("auto", the default: on CUDA only).
- `generate` {key, ids, max_new_tokens, stop_ids} → {ids, stopped_by, reused_tokens, prefilled_tokens, prefill_ms,
  decode_ms}; each new token goes out first as a `token` notification {key, token}, so the sidecar's stream filters
  can stop the run early: it then sends `cancel` {key}, honoured before the next token.
- `env`, `shutdown` as in rpc.py.

`key` is the sidecar's name for one generation. A cancel may reach the reader thread before its generate has left
the queue: the key is remembered and that generate returns 'cancelled' at once, so no cancel is ever lost.
"""

from __future__ import annotations

import sys
from typing import Any

from . import rpc
from .errors import BAD_DATA, WorkerError

# Keys of cancels that arrived before their generate started; older keys are dropped as generates start.
MAX_EARLY_CANCELS = 64


class ServeWorker(rpc.Worker):
    cancellable = ("generate",)
    name = "serving worker"

    def __init__(self, writer: rpc.ProtocolWriter):
        super().__init__(writer)
        self.server = None  # serve_torch.TorchServer once loaded
        self._current_key: Any = None
        self._early_cancels: set = set()
        self.methods = {"env": self.env, "load": self.load, "generate": self.generate,
                        "shutdown": lambda params: {}}

    def cancel(self, params: dict | None = None) -> bool:
        key = params.get("key") if params else None
        with self._state_lock:
            if self._running not in self.cancellable:
                if key is not None and len(self._early_cancels) < MAX_EARLY_CANCELS:
                    self._early_cancels.add(key)
                return False
            if key is None or key == self._current_key:
                self.cancel_event.set()
                return True
            if len(self._early_cancels) < MAX_EARLY_CANCELS:
                self._early_cancels.add(key)  # a queued generate's key
            return False

    def load(self, params: dict) -> dict:
        model_dir, adapter_dir = params.get("model_dir"), params.get("adapter_dir")
        device, threads = params.get("device", "auto"), params.get("num_threads")
        static = params.get("static_cache", "auto")
        if not isinstance(model_dir, str) or not model_dir or not (adapter_dir is None or isinstance(adapter_dir, str)) \
                or not (threads is None or (isinstance(threads, int) and threads > 0)) \
                or not (isinstance(static, bool) or static == "auto"):
            raise WorkerError(BAD_DATA, "load needs {\"model_dir\": str, \"adapter_dir\": str|null, \"device\": "
                              "\"auto\"|\"cuda\"|\"cpu\", \"num_threads\"?: int > 0, \"static_cache\"?: \"auto\"|bool}")
        from .serve_torch import TorchServer

        self.server = None  # frees the old model before the new one loads (one model's memory at a time)
        self.server = TorchServer.load(model_dir, adapter_dir or None, device, threads, static)
        return self.server.source

    def generate(self, params: dict) -> dict:
        key, ids, max_new = params.get("key"), params.get("ids"), params.get("max_new_tokens")
        stop_ids = params.get("stop_ids", [])
        if not _int_list(ids) or not ids or not isinstance(max_new, int) or isinstance(max_new, bool) \
                or not _int_list(stop_ids):
            raise WorkerError(BAD_DATA, "generate needs {\"key\": any, \"ids\": [int, ...], \"max_new_tokens\": int, "
                              "\"stop_ids\": [int]}")
        if self.server is None:
            raise WorkerError(BAD_DATA, "generate before load: load a model first")
        with self._state_lock:
            self._current_key = key
            if key is not None and key in self._early_cancels:
                self.cancel_event.set()
            self._early_cancels.clear()  # keys are used once; any other early cancel named an older generate
        try:
            return self.server.generate(
                ids, max_new, stop_ids,
                on_token=lambda token: self.writer.notify("token", {"key": key, "token": token}),
                should_stop=self.cancel_event.is_set)
        finally:
            with self._state_lock:
                self._current_key = None


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


if __name__ == "__main__":
    sys.exit(rpc.main(ServeWorker))

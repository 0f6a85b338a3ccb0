"""The worker's JSON-RPC 2.0 server on stdio: `python -u -m repotune_trainer.rpc` (docs/architecture.md).

One JSON object per line. stdout carries protocol lines only: at start-up the real stdout file descriptor is
duplicated for the protocol writer and fd 1 / sys.stdout are pointed at stderr, so a stray print() or a library's
progress bar (transformers, tqdm, C extensions) can never corrupt the protocol.

Threads: a reader thread reads stdin. `ping` and `cancel` are answered by the reader at once, so they work while a
training run occupies the main thread; every other request is queued and run one at a time on the main thread.
EOF on stdin means the sidecar is gone: the running job is cancelled and the worker exits. `shutdown` also cancels
a running job (the sidecar wants the worker gone), then answers `{}` and exits 0.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import sys
import threading
import time
import traceback
from typing import Any, Callable, TextIO

from . import __version__
from .errors import BAD_DATA, INTERNAL, WorkerError, disk_full_error, require_training_stack

log = logging.getLogger("repotune_trainer")

PROGRESS_MIN_INTERVAL_S = 0.25  # progress notifications at most ~4 per second (the last step always goes out)
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, WORKER_ERROR = -32700, -32600, -32601, -32602, -32000
IMMEDIATE_METHODS = ("ping", "cancel")
CANCELLABLE_METHODS = ("train",)
_SHUTDOWN = object()  # queued after `shutdown` and on EOF to stop the main loop


def _json_safe(value: Any) -> Any:
    """Non-finite floats (a diverged loss) become null: NaN/Infinity are not JSON and would break the sidecar."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class ProtocolWriter:
    """Writes one JSON object per line; a lock keeps lines from the reader and main threads whole."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, obj: dict) -> None:
        line = json.dumps(_json_safe(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the sidecar is gone; EOF on stdin will end the worker

    def result(self, req_id: Any, result: Any) -> None:
        self.send({"jsonrpc": "2.0", "id": req_id, "result": result})

    def error(self, req_id: Any, code: int, message: str, data: dict | None = None) -> None:
        err: dict = {"code": code, "message": message}
        if data is not None:
            err["data"] = data
        self.send({"jsonrpc": "2.0", "id": req_id, "error": err})

    def notify(self, method: str, params: dict) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})


class NotificationLogHandler(logging.Handler):
    """Forwards the worker's own INFO+ log records to the sidecar as `log` notifications."""

    LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error"}

    def __init__(self, writer: ProtocolWriter):
        super().__init__(level=logging.INFO)
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        level = self.LEVELS.get(record.levelno, "error" if record.levelno > logging.ERROR else "info")
        try:
            self.writer.notify("log", {"level": level, "message": record.getMessage()})
        except Exception:  # logging must never take the worker down
            self.handleError(record)


class ProgressThrottle:
    """Calls send for step 1, the last step, and otherwise at most once per PROGRESS_MIN_INTERVAL_S."""

    def __init__(self, send: Callable[[dict], None]):
        self.send = send
        self.last_sent = 0.0

    def __call__(self, progress: dict) -> None:
        now = time.monotonic()
        final = progress["step"] in (1, progress["total_steps"])
        if final or now - self.last_sent >= PROGRESS_MIN_INTERVAL_S:
            self.last_sent = now
            self.send(progress)


class Worker:
    # Methods a `cancel` may stop; a subclass (serve_worker.ServeWorker) names its own.
    cancellable: tuple[str, ...] = CANCELLABLE_METHODS
    name = "trainer"

    def __init__(self, writer: ProtocolWriter):
        self.writer = writer
        self.cancel_event = threading.Event()
        self.stdin_closed = threading.Event()  # the sidecar is gone: queued jobs are dropped, not started
        self.requests: queue.Queue = queue.Queue()
        self._state_lock = threading.Lock()
        self._running: str | None = None  # method the main thread is executing
        self.methods: dict[str, Callable[[dict], Any]] = {
            "env": self.env, "make_demo_model": self.make_demo_model, "check_servable": self.check_servable,
            "train": self.train,
            "export_onnx": self.export_onnx, "export_merged": self.export_merged, "export_gguf": self.export_gguf, "shutdown": lambda params: {},
        }

    # ---- reader thread -----------------------------------------------------------------------------------------
    def read_loop(self, stdin: TextIO) -> None:
        for line in stdin:
            if line.strip():
                self._accept(line)
        log.info("stdin closed: cancelling any running job and exiting")
        self.stdin_closed.set()
        self.cancel()
        self.requests.put(_SHUTDOWN)

    def _accept(self, line: str) -> None:
        try:
            req = json.loads(line)
        except json.JSONDecodeError as exc:
            self.writer.error(None, PARSE_ERROR, f"Parse error: {exc.msg}")
            return
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            self.writer.error(req.get("id") if isinstance(req, dict) else None, INVALID_REQUEST,
                              "Invalid request: expected {\"jsonrpc\": \"2.0\", \"method\": str, ...}")
            return
        method, req_id = req["method"], req.get("id")
        if method == "ping":
            self.writer.result(req_id, {"pong": True, "version": __version__})
        elif method == "cancel":
            params = req.get("params")
            self.writer.result(req_id, {"cancelled": self.cancel(params if isinstance(params, dict) else None)})
        elif method not in self.methods:  # answered at once: no need to wait behind a training run
            if req_id is not None:
                self.writer.error(req_id, METHOD_NOT_FOUND, f"Method not found: {method}")
        else:
            if method == "shutdown":
                self.cancel()
            self.requests.put(req)

    def cancel(self, params: dict | None = None) -> bool:
        """Sets the cancel flag if a cancellable job is running; returns whether one was. `params` is for subclasses."""
        with self._state_lock:
            if self._running in self.cancellable:
                self.cancel_event.set()
                return True
            return False

    # ---- main thread -------------------------------------------------------------------------------------------
    def serve(self) -> int:
        while True:
            req = self.requests.get()
            if req is _SHUTDOWN:
                return 0
            if self.stdin_closed.is_set():
                log.info("not starting %s: stdin is closed", req["method"])
                continue
            self._handle(req)
            if req["method"] == "shutdown":
                return 0

    def _handle(self, req: dict) -> None:
        method, req_id, params = req["method"], req.get("id"), req.get("params", {})
        handler = self.methods[method]  # the reader only queues known methods
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.writer.error(req_id, INVALID_PARAMS, f"Invalid params for {method}: expected an object")
            return
        with self._state_lock:
            self.cancel_event.clear()
            self._running = method
        try:
            response = {"jsonrpc": "2.0", "id": req_id, "result": handler(params)}
        except WorkerError as exc:
            log.warning("%s failed (%s): %s", method, exc.kind, exc.message)
            response = {"jsonrpc": "2.0", "id": req_id, "error": exc.to_rpc_error()}
        except Exception as exc:  # a bug (reported as `internal`, traceback to the log), unless the disk is full
            traceback.print_exc(file=sys.stderr)
            full = disk_full_error(exc, method)
            response = {"jsonrpc": "2.0", "id": req_id, "error": full.to_rpc_error() if full else {
                "code": WORKER_ERROR, "message": f"Internal error in {method}: {type(exc).__name__}: {exc}",
                "data": {"kind": INTERNAL}}}
        finally:
            # Cleared before the response goes out, so a `cancel` sent after it can never report a finished job.
            with self._state_lock:
                self._running = None
        if req_id is not None:
            self.writer.send(response)

    # ---- methods -----------------------------------------------------------------------------------------------
    def env(self, params: dict) -> dict:
        from .env import describe_environment

        return describe_environment()

    def check_servable(self, params: dict) -> dict:
        """Whether the serving export can handle this model, from its config alone (before hours of training)."""
        model_dir = params.get("model_dir")
        if not isinstance(model_dir, str) or not model_dir:
            raise WorkerError(BAD_DATA, "check_servable needs {\"model_dir\": str}")
        from .export_onnx import check_servable

        return check_servable(model_dir)

    def make_demo_model(self, params: dict) -> dict:
        out_dir, seed = params.get("out_dir"), params.get("seed", 0)
        if not isinstance(out_dir, str) or not out_dir or not isinstance(seed, int) or isinstance(seed, bool):
            raise WorkerError(BAD_DATA, "make_demo_model needs {\"out_dir\": non-empty str, \"seed\": int}")
        require_training_stack()
        from .demo_model import write_demo_model

        return {"model_dir": str(write_demo_model(out_dir, seed))}

    def train(self, params: dict) -> dict:
        from .args import TrainArgs

        require_training_stack()  # before importing the recipe, whose modules import torch
        from .recipe import run_training

        args = TrainArgs.from_params(params)
        throttle = ProgressThrottle(lambda p: self.writer.notify("progress", p))
        return run_training(args, self.cancel_event, throttle).to_dict()

    def export_onnx(self, params: dict) -> dict:
        model_dir, adapter_dir, out_dir = params.get("model_dir"), params.get("adapter_dir"), params.get("out_dir")
        if not isinstance(model_dir, str) or not isinstance(out_dir, str) or not (
                adapter_dir is None or isinstance(adapter_dir, str)):
            raise WorkerError(BAD_DATA, "export_onnx needs {\"model_dir\": str, \"adapter_dir\": str|null, "
                              "\"out_dir\": str, \"quantize\"?: \"int4\"|\"int8\"|null}")
        require_training_stack()
        from .export_onnx import export_onnx

        # export_onnx validates the value and names the allowed ones.
        return export_onnx(model_dir, adapter_dir, out_dir, quantize=params.get("quantize"))

    def export_merged(self, params: dict) -> dict:
        model_dir, adapter_dir, out_dir = params.get("model_dir"), params.get("adapter_dir"), params.get("out_dir")
        if not all(isinstance(v, str) and v for v in (model_dir, adapter_dir, out_dir)):
            raise WorkerError(BAD_DATA, "export_merged needs {\"model_dir\": str, \"adapter_dir\": str, \"out_dir\": str}")
        require_training_stack()
        from .export_merged import export_merged

        return export_merged(model_dir, adapter_dir, out_dir)

    def export_gguf(self, params: dict) -> dict:
        from .export_gguf import TYPE_FOR_QUANTIZE, export_gguf

        model_dir, adapter_dir, out_dir = params.get("model_dir"), params.get("adapter_dir"), params.get("out_dir")
        quantize = params.get("quantize")
        if not all(isinstance(v, str) and v for v in (model_dir, adapter_dir, out_dir)) or quantize not in TYPE_FOR_QUANTIZE:
            raise WorkerError(BAD_DATA, "export_gguf needs {\"model_dir\": str, \"adapter_dir\": str, \"out_dir\": str, "
                              "\"quantize\"?: \"int8\"|\"int4\"|null}")
        require_training_stack()
        return export_gguf(model_dir, adapter_dir, out_dir, TYPE_FOR_QUANTIZE[quantize])


def _redirect_stdout_to_stderr() -> TextIO:
    """Returns a private stream on the original stdout and sends everything else written to stdout to stderr."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)  # C-level and subprocess writes to fd 1 now land on stderr
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "w", encoding="utf-8", newline="\n", buffering=1)


def main(worker_class: type[Worker] = Worker) -> int:
    protocol_out = _redirect_stdout_to_stderr()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars only clutter the sidecar's log
    writer = ProtocolWriter(protocol_out)
    worker = worker_class(writer)
    log.addHandler(NotificationLogHandler(writer))
    stdin = open(sys.stdin.fileno(), "r", encoding="utf-8", errors="replace", closefd=False)
    threading.Thread(target=worker.read_loop, args=(stdin,), name="rpc-reader", daemon=True).start()
    log.info("repotune %s %s ready (pid %d)", worker.name, __version__, os.getpid())
    code = worker.serve()
    protocol_out.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())

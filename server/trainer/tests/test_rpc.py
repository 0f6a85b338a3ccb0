"""The JSON-RPC worker as the sidecar runs it: a `python -u -m repotune_trainer.rpc` subprocess on stdio."""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import TEST_BATCH_SIZE, TEST_SEQ_LEN, TEST_TORCH_THREADS

from repotune_trainer.rpc import ProgressThrottle, _json_safe

RESPONSE_TIMEOUT_S = 60.0  # generous: the first train call imports torch/transformers on a busy 2-core box
IMMEDIATE_TIMEOUT_S = 2.0  # ping/cancel are answered by the reader thread even while training
EXIT_TIMEOUT_S = 15.0


class WorkerClient:
    """A minimal sidecar: sends requests, collects responses by id and notifications in order."""

    def __init__(self, env: dict, cwd: Path, module: str = "repotune_trainer.rpc"):
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", module], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8")
        self.lines: queue.Queue = queue.Queue()
        self.notifications: list[dict] = []
        self.stderr: list[str] = []
        self.ids = itertools.count(1)
        self._pending: dict = {}
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    @staticmethod
    def _pump(stream, out: queue.Queue) -> None:
        for line in stream:
            out.put(json.loads(line))  # every stdout line must be a protocol object: this raises otherwise
        out.put(None)

    def send(self, method: str, params: dict | None = None) -> int:
        req_id = next(self.ids)
        self.send_raw(json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params or {}}))
        return req_id

    def send_raw(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, req_id, timeout: float = RESPONSE_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while req_id not in self._pending:
            msg = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert msg is not None, f"worker exited; stderr:\n{''.join(self.stderr)}"
            assert msg.get("jsonrpc") == "2.0"
            if "id" in msg:
                self._pending[msg["id"]] = msg
            else:
                self.notifications.append(msg)
        return self._pending.pop(req_id)

    def call(self, method: str, params: dict | None = None, timeout: float = RESPONSE_TIMEOUT_S) -> dict:
        return self.wait(self.send(method, params), timeout)

    def progress(self) -> list[dict]:
        return [n["params"] for n in self.notifications if n["method"] == "progress"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def worker(subprocess_env, tmp_path_factory):
    client = WorkerClient(subprocess_env, tmp_path_factory.mktemp("cwd"))
    yield client
    client.close()


def train_params(model_dir, data_dir, output_dir, **overrides) -> dict:
    return {"model_dir": str(model_dir), "data_dir": str(data_dir), "output_dir": str(output_dir),
            "seq_len": TEST_SEQ_LEN, "batch_size": TEST_BATCH_SIZE, "device": "cpu",
            "num_threads": TEST_TORCH_THREADS, **overrides}


def test_ping_and_env(worker):
    assert worker.call("ping")["result"] == {"pong": True, "version": "0.1.0"}
    env = worker.call("env")["result"]
    assert env["python"].startswith("3.") and env["torch"] and env["cuda"] is False
    assert env["problems"] == [] and env["device_name"] is None
    assert Path(env["executable"]).exists() and env["packages"]["torch"].startswith(env["torch"].split("+")[0])
    assert all(env["packages"][name] for name in ("transformers", "peft", "safetensors", "tokenizers", "numpy"))


def test_protocol_errors(worker):
    err = worker.call("no_such_method")["error"]
    assert err["code"] == -32601 and "no_such_method" in err["message"]
    worker.send_raw("{this is not json")
    assert worker.wait(None)["error"]["code"] == -32700
    err = worker.call("train", {"model_dir": "m", "data_dir": "d", "output_dir": "o", "lr": 1})["error"]
    assert err["code"] == -32000 and err["data"] == {"kind": "bad_data"} and "lr" in err["message"]
    assert worker.call("cancel")["result"] == {"cancelled": False}  # nothing running


def test_check_servable_refuses_what_the_export_cannot_serve(worker, demo_model_dir, tmp_path):
    assert worker.call("check_servable", {"model_dir": str(demo_model_dir)})["result"] == {"servable": True}
    other = tmp_path / "gpt2"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    err = worker.call("check_servable", {"model_dir": str(other)})["error"]
    assert err["data"] == {"kind": "bad_model"} and "unsupported architecture: model_type 'gpt2'" in err["message"]


def test_make_demo_model(worker, tmp_path):
    result = worker.call("make_demo_model", {"out_dir": str(tmp_path / "m"), "seed": 0})["result"]
    assert Path(result["model_dir"], "model.safetensors").is_file()


def test_export_onnx_passes_quantize(worker, demo_model_dir, tmp_path):
    result = worker.call("export_onnx", {"model_dir": str(demo_model_dir), "adapter_dir": None,
                                         "out_dir": str(tmp_path / "q"), "quantize": "int8"}, timeout=120)["result"]
    meta = json.loads(Path(result["onnx_dir"], "repotune-onnx.json").read_text())
    assert meta.get("weight_quantization"), meta
    err = worker.call("export_onnx", {"model_dir": str(demo_model_dir), "adapter_dir": None,
                                      "out_dir": str(tmp_path / "bad"), "quantize": "int3"}, timeout=120)["error"]
    assert err["code"] == -32000 and "int3" in err["message"]


def test_train_sends_progress(worker, demo_model_dir, demo_shards, tmp_path):
    worker.notifications.clear()
    result = worker.call("train", train_params(demo_model_dir, demo_shards, tmp_path, max_steps=12))["result"]
    assert result["steps"] == 12 and result["cancelled"] is False and result["final_loss"] > 0
    assert Path(result["adapter_dir"], "adapter_model.safetensors").is_file()
    steps = [p["step"] for p in worker.progress()]
    assert steps[0] == 1 and steps[-1] == 12 and steps == sorted(set(steps))
    assert worker.progress()[-1]["total_steps"] == 12 and worker.progress()[-1]["tokens_per_s"] > 0


def test_cancel_mid_run(worker, demo_model_dir, demo_shards, tmp_path):
    worker.notifications.clear()
    train_id = worker.send("train", train_params(demo_model_dir, demo_shards, tmp_path, max_steps=100000))
    deadline = time.monotonic() + RESPONSE_TIMEOUT_S
    while not worker.progress():
        assert time.monotonic() < deadline, "no progress notification"
        worker.notifications.append(worker.lines.get(timeout=RESPONSE_TIMEOUT_S))
    t0 = time.monotonic()
    assert worker.call("ping", timeout=IMMEDIATE_TIMEOUT_S)["result"]["pong"] is True
    assert worker.call("cancel", timeout=IMMEDIATE_TIMEOUT_S)["result"] == {"cancelled": True}
    result = worker.wait(train_id, timeout=10)["result"]
    assert result["cancelled"] is True and 1 <= result["steps"] < 100000
    assert time.monotonic() - t0 < 10
    assert Path(result["adapter_dir"], "repotune-adapter.json").is_file()


def test_eof_during_train_cancels_and_exits(worker, demo_model_dir, demo_shards, tmp_path):
    """The sidecar died: EOF on stdin cancels the run (the adapter is still saved) and the worker exits 0.

    Runs last among the tests of the module-scoped worker, since it ends that process.
    """
    worker.notifications.clear()
    worker.send("train", train_params(demo_model_dir, demo_shards, tmp_path, max_steps=100000))
    while not worker.progress():
        worker.notifications.append(worker.lines.get(timeout=RESPONSE_TIMEOUT_S))
    worker.proc.stdin.close()
    assert worker.proc.wait(timeout=EXIT_TIMEOUT_S) == 0
    assert Path(tmp_path, "adapter", "repotune-adapter.json").is_file()


def test_shutdown_exits_zero(subprocess_env, tmp_path):
    client = WorkerClient(subprocess_env, tmp_path)
    try:
        assert client.call("shutdown")["result"] == {}
        assert client.proc.wait(timeout=EXIT_TIMEOUT_S) == 0
    finally:
        client.close()


def test_without_torch(subprocess_env, tmp_path):
    """A broken/missing torch: the worker still answers ping/env, and train says how to fix it."""
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named torch (simulated)')\n")
    env = {**subprocess_env, "PYTHONPATH": f"{tmp_path / 'fake'}{os.pathsep}{subprocess_env['PYTHONPATH']}"}
    client = WorkerClient(env, tmp_path)
    try:
        assert client.call("ping")["result"]["pong"] is True
        result = client.call("env")["result"]
        assert result["torch"] is None and result["cuda"] is False
        assert any("setup-python" in p for p in result["problems"])
        err = client.call("train", train_params("m", "d", str(tmp_path / "o")))["error"]
        assert err["data"] == {"kind": "missing_dependency"} and "setup-python" in err["message"]
        client.proc.stdin.close()  # EOF: the worker exits on its own
        assert client.proc.wait(timeout=EXIT_TIMEOUT_S) == 0
    finally:
        client.close()


def test_json_safe_and_progress_throttle():
    assert _json_safe({"loss": float("nan"), "xs": [1.0, float("inf")]}) == {"loss": None, "xs": [1.0, None]}
    sent: list[int] = []
    throttle = ProgressThrottle(lambda p: sent.append(p["step"]))
    for step in range(1, 101):  # 100 steps in well under PROGRESS_MIN_INTERVAL_S
        throttle({"step": step, "total_steps": 100})
    assert sent[0] == 1 and sent[-1] == 100 and len(sent) < 10

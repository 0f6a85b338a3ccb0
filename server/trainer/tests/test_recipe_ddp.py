"""The training entry point under torchrun: 2 CPU processes (gloo) train exactly like one process, rank 0 writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import TEST_BATCH_SIZE, TEST_SEQ_LEN, TEST_TORCH_THREADS
from test_recipe import make_args

from repotune_trainer.recipe import run_training

DDP_TIMEOUT_S = 120
DDP_STEPS = 4
SAME_RESULT_TOLERANCE = 1e-4  # the all-reduce only changes the float summation order


def test_torchrun_two_processes_match_one(demo_model_dir, demo_shards, tmp_path, subprocess_env):
    params = {"model_dir": str(demo_model_dir), "data_dir": str(demo_shards), "output_dir": str(tmp_path / "ddp"),
              "max_steps": DDP_STEPS, "seq_len": TEST_SEQ_LEN, "batch_size": TEST_BATCH_SIZE, "device": "cpu",
              "num_threads": TEST_TORCH_THREADS, "eval_every": 2, "warmup_steps": 1}
    (tmp_path / "params.json").write_text(json.dumps(params))
    # --standalone: a local rendezvous on a free port, so parallel test runs cannot collide.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "repotune_trainer.train_cli", "--params", str(tmp_path / "params.json")]
    proc = subprocess.Popen(command, env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=DDP_TIMEOUT_S)
    finally:  # the launcher's worker processes must not outlive a failed test
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    progress = [line["progress"] for line in lines if "progress" in line]
    results = [line["result"] for line in lines if "result" in line]
    assert [p["step"] for p in progress] == list(range(1, DDP_STEPS + 1)), "only rank 0 reports progress"
    assert len(results) == 1 and results[0]["steps"] == DDP_STEPS

    single = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "one", max_steps=DDP_STEPS,
                                    eval_every=2, warmup_steps=1))
    assert results[0]["final_loss"] == pytest.approx(single.final_loss, abs=SAME_RESULT_TOLERANCE)
    assert results[0]["eval_loss"] == pytest.approx(single.eval_loss, abs=SAME_RESULT_TOLERANCE)
    assert (tmp_path / "ddp" / "adapter" / "adapter_model.safetensors").is_file()
    assert not any(p.name.startswith(".") for p in (tmp_path / "ddp").iterdir())

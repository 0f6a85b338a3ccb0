"""The LoRA recipe on the real demo model: learning, cancel, adapter loading, kill-and-resume, bad models."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading

import pytest
import torch
from conftest import TEST_BATCH_SIZE, TEST_SEQ_LEN, TEST_TORCH_THREADS

from repotune_trainer.args import TrainArgs
from repotune_trainer.demo_model import DEMO_MODEL_ID
from repotune_trainer.errors import WorkerError
from repotune_trainer.recipe import MIN_LR_RATIO, lr_factor, run_training

PROGRESS_KEYS = {"step", "total_steps", "loss", "lr", "tokens_per_s", "eta_s", "elapsed_s", "device",
                 "device_mem_bytes", "eval_loss", "tokens_seen"}
RESUME_LOSS_TOLERANCE = 1e-4  # CPU float32 is deterministic; the margin only absorbs summation-order noise


class SimulatedKill(Exception):
    pass


def make_args(model_dir, data_dir, output_dir, **overrides) -> TrainArgs:
    params = {"model_dir": str(model_dir), "data_dir": str(data_dir), "output_dir": str(output_dir),
              "max_steps": 20, "seq_len": TEST_SEQ_LEN, "batch_size": TEST_BATCH_SIZE, "warmup_steps": 3,
              "device": "cpu", "num_threads": TEST_TORCH_THREADS, **overrides}
    return TrainArgs.from_params(params)


@pytest.fixture(scope="module")
def trained(demo_model_dir, demo_shards, tmp_path_factory):
    """One 40-step run shared by the learning and adapter-loading tests."""
    progress: list[dict] = []
    out = tmp_path_factory.mktemp("trained")
    result = run_training(make_args(demo_model_dir, demo_shards, out, max_steps=40), on_progress=progress.append)
    return result, progress, out


def test_loss_falls_and_progress_is_complete(trained, demo_shards):
    result, progress, out = trained
    assert result.steps == 40 and not result.cancelled
    assert [p["step"] for p in progress] == list(range(1, 41))
    assert all(set(p) == PROGRESS_KEYS and p["total_steps"] == 40 and p["device"] == "cpu" for p in progress)
    assert all(p["tokens_per_s"] > 0 and p["device_mem_bytes"] > 0 for p in progress)
    assert progress[-1]["eta_s"] == 0 and progress[0]["eta_s"] > 0
    first, last = [p["loss"] for p in progress[:5]], [p["loss"] for p in progress[-5:]]
    assert sum(last) / 5 < sum(first) / 5 - 0.5, (first, last)
    assert result.final_loss == progress[-1]["loss"]
    meta = json.loads((out / "adapter" / "repotune-adapter.json").read_text())
    assert meta["steps"] == 40 and meta["final_loss"] == result.final_loss and meta["created"]
    assert meta["base_model_id"] == DEMO_MODEL_ID and meta["base_model_revision"] == "seed-0"
    index_sha = hashlib.sha256((demo_shards / "index.json").read_bytes()).hexdigest()
    assert meta["data_manifest_sha256"] == index_sha
    # eval_every=25: holdout loss at step 25 and for the final adapter at step 40, both in the metrics
    assert [p["eval_loss"] is not None for p in progress].index(True) == 24
    assert result.eval_loss == meta["metrics"]["eval_loss"] and result.eval_loss > 0
    assert meta["metrics"]["best_eval_loss"] == result.best_eval_loss <= result.eval_loss
    assert result.best_step in (25, 40) and (out / "best" / "adapter_model.safetensors").is_file()
    assert result.tokens_seen == progress[-1]["tokens_seen"] > 0
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())["r"] == 16
    assert not any(p.name.startswith(".") for p in out.iterdir()), "temp dirs must not be left behind"


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_adapter_loads_with_plain_peft_and_changes_logits(trained, demo_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result, _, _ = trained
    ids = torch.tensor([[3, 50, 70, 100, 200, 300]])
    base = AutoModelForCausalLM.from_pretrained(str(demo_model_dir), use_safetensors=True).eval()
    base_logits = _logits(base, ids)
    tuned = PeftModel.from_pretrained(base, result.adapter_dir).eval()
    assert (_logits(tuned, ids) - base_logits).abs().max().item() > 1e-2


def test_cancel_stops_within_a_step_and_leaves_a_loadable_adapter(demo_model_dir, demo_shards, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cancel = threading.Event()
    steps: list[int] = []

    def on_progress(p):
        steps.append(p["step"])
        if p["step"] == 3:
            cancel.set()

    result = run_training(make_args(demo_model_dir, demo_shards, tmp_path, max_steps=50), cancel, on_progress)
    assert result.cancelled and result.steps == 3 and steps == [1, 2, 3]
    assert json.loads((tmp_path / "adapter" / "repotune-adapter.json").read_text())["steps"] == 3
    base = AutoModelForCausalLM.from_pretrained(str(demo_model_dir), use_safetensors=True)
    PeftModel.from_pretrained(base, result.adapter_dir)
    assert json.loads((tmp_path / "checkpoint" / "checkpoint.json").read_text())["step"] == 3


def test_kill_and_resume_matches_a_straight_run(demo_model_dir, demo_shards, tmp_path):
    straight = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "a", checkpoint_every=10))

    def kill_at_13(p):
        if p["step"] == 13:  # after the step-10 checkpoint: steps 11-13 are lost and must be redone
            raise SimulatedKill()

    with pytest.raises(SimulatedKill):
        run_training(make_args(demo_model_dir, demo_shards, tmp_path / "b", checkpoint_every=10),
                     on_progress=kill_at_13)
    assert json.loads((tmp_path / "b" / "checkpoint" / "checkpoint.json").read_text())["step"] == 10
    resumed_steps: list[int] = []
    resumed = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "b", checkpoint_every=10, resume=True),
                           on_progress=lambda p: resumed_steps.append(p["step"]))
    assert resumed_steps == list(range(11, 21)) and resumed.steps == 20
    assert resumed.final_loss == pytest.approx(straight.final_loss, abs=RESUME_LOSS_TOLERANCE)

    with pytest.raises(WorkerError, match="lora_r=16 but this run has lora_r=8"):
        run_training(make_args(demo_model_dir, demo_shards, tmp_path / "b", resume=True, lora_r=8))
    # A checkpoint of a trainer that packed rows another way (before the packer was recorded): its data position
    # means other examples here, so resuming is refused with what to do.
    meta_file = tmp_path / "b" / "checkpoint" / "checkpoint.json"
    meta = json.loads(meta_file.read_text())
    del meta["packer"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(WorkerError, match="packed examples into rows next-fit; this one packs them "
                                          "best-fit-decreasing.*train with resume=false"):
        run_training(make_args(demo_model_dir, demo_shards, tmp_path / "b", resume=True))


def test_missing_or_corrupt_model_is_bad_model(demo_model_dir, demo_shards, tmp_path):
    with pytest.raises(WorkerError) as info:
        run_training(make_args(tmp_path / "nowhere", demo_shards, tmp_path / "out"))
    assert info.value.kind == "bad_model" and "nowhere" in info.value.message

    broken = tmp_path / "broken"
    shutil.copytree(demo_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"this is not a safetensors file")
    with pytest.raises(WorkerError) as info:
        run_training(make_args(broken, demo_shards, tmp_path / "out"))
    assert info.value.kind == "bad_model" and str(broken) in info.value.message


def test_lr_schedule_warms_up_then_decays():
    factors = [lr_factor(s, warmup_steps=4, total_steps=20) for s in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))
    assert factors[-1] > MIN_LR_RATIO and lr_factor(20, 4, 20) == pytest.approx(MIN_LR_RATIO)

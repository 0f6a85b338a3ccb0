"""Sizing to the device (over simulated GPUs) and out-of-memory step-down (by raising the error from a step)."""

from __future__ import annotations

import pytest
import torch
from test_recipe import make_args

from repotune_trainer.errors import WorkerError
from repotune_trainer.recipe import run_training
from repotune_trainer.sizing import (MIN_EFFICIENT_MICRO_TOKENS, MIN_SEQ_LEN, BatchPlan, ModelShape,
                                     estimate_step_bytes, is_oom_error, plan_batch, step_down,
                                     usable_bytes)
from repotune_trainer.step import LossModule

GIB = 1 << 30
# Qwen2.5-Coder-0.5B / 7B in bf16 with r=16 LoRA on every linear layer (trainable counts from PEFT).
QWEN_05B = ModelShape(num_layers=24, hidden_size=896, intermediate_size=4864, vocab_size=151936,
                      trainable_params=8_798_208, act_bytes=2)
QWEN_7B = ModelShape(num_layers=28, hidden_size=3584, intermediate_size=18944, vocab_size=152064,
                     trainable_params=40_370_176, act_bytes=2)
CHUNK = 2048
SAME_RESULT_TOLERANCE = 1e-4  # micro-batching only changes the float summation order


def test_a_big_gpu_takes_the_whole_batch_without_checkpointing():
    plan = plan_batch(70 * GIB, QWEN_05B, batch_size=8, seq_len=2048, loss_chunk_tokens=CHUNK)
    assert plan == BatchPlan(micro_batch=8, grad_accum=1, seq_len=2048, gradient_checkpointing=False)


def test_less_memory_means_accumulation_then_checkpointing_then_shorter_rows():
    roomy = plan_batch(70 * GIB, QWEN_7B, batch_size=16, seq_len=4096, loss_chunk_tokens=CHUNK)
    assert not roomy.gradient_checkpointing and roomy.micro_batch * 4096 >= MIN_EFFICIENT_MICRO_TOKENS
    sizes = (40, 20, 10, 6, 3)
    plans = [plan_batch(gib * GIB, QWEN_7B, batch_size=16, seq_len=4096, loss_chunk_tokens=CHUNK) for gib in sizes]
    assert all(p.gradient_checkpointing for p in plans)
    micro, seq = [p.micro_batch for p in plans], [p.seq_len for p in plans]
    assert micro == sorted(micro, reverse=True) and micro[0] == 16 and micro[-1] == 1
    assert seq == sorted(seq, reverse=True) and seq[:3] == [4096] * 3 and seq[-1] < 4096
    for gib, plan in zip(sizes, plans):  # every plan fits the memory it was made for and keeps the batch
        assert plan.micro_batch * plan.grad_accum >= 16
        assert estimate_step_bytes(QWEN_7B, plan.micro_batch, plan.seq_len, True, CHUNK) <= usable_bytes(gib * GIB)
    assert plan_batch(int(1.5 * GIB), QWEN_7B, batch_size=16, seq_len=4096, loss_chunk_tokens=CHUNK) is None


def test_micro_batches_are_even():
    assert plan_batch(30 * GIB, QWEN_7B, batch_size=16, seq_len=4096, loss_chunk_tokens=CHUNK) == \
        BatchPlan(8, 2, 4096, True)  # more than 8 rows fit, but 8 + 8 beats a full micro-batch and a remainder


def test_checkpointing_only_when_the_micro_batch_would_be_inefficient():
    plan = plan_batch(8 * GIB, QWEN_05B, batch_size=32, seq_len=2048, loss_chunk_tokens=CHUNK)
    if plan.gradient_checkpointing:  # only chosen when plain micro-batches would be small
        plain = plan_batch(8 * GIB, QWEN_05B, batch_size=32, seq_len=2048, loss_chunk_tokens=CHUNK,
                           checkpointing="off")
        assert plain is None or plain.micro_batch * 2048 < MIN_EFFICIENT_MICRO_TOKENS
        assert plain is None or plain.micro_batch < plan.micro_batch
    off = plan_batch(8 * GIB, QWEN_05B, batch_size=32, seq_len=2048, loss_chunk_tokens=CHUNK, checkpointing="off")
    assert off is not None and not off.gradient_checkpointing


def test_chunked_loss_frees_room_for_bigger_micro_batches():
    chunked = plan_batch(24 * GIB, QWEN_05B, batch_size=16, seq_len=2048, loss_chunk_tokens=CHUNK,
                         checkpointing="off")
    full = plan_batch(24 * GIB, QWEN_05B, batch_size=16, seq_len=2048, loss_chunk_tokens=None, checkpointing="off")
    assert chunked.micro_batch > full.micro_batch
    assert estimate_step_bytes(QWEN_05B, 4, 2048, False, None) > estimate_step_bytes(QWEN_05B, 4, 2048, False, CHUNK)


def test_user_micro_batch_and_model_length_limits_are_kept():
    plan = plan_batch(70 * GIB, QWEN_05B, batch_size=8, seq_len=65536, loss_chunk_tokens=CHUNK, micro_batch=2,
                      max_seq_len=32768)
    assert plan.micro_batch == 2 and plan.grad_accum == 4 and plan.seq_len == 32768


def test_step_down_halves_the_micro_batch_then_checkpoints_then_gives_up():
    plan, seen = BatchPlan(8, 1, 1024, False), []
    while plan is not None:
        seen.append((plan.micro_batch, plan.grad_accum, plan.gradient_checkpointing))
        plan = step_down(plan, batch_size=8)
    assert seen == [(8, 1, False), (4, 2, False), (2, 4, False), (1, 8, False), (1, 8, True)]
    assert MIN_SEQ_LEN <= 1024


def test_oom_errors_are_recognised():
    assert is_oom_error(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_oom_error(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_oom_error(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"))
    assert is_oom_error(MemoryError())
    assert not is_oom_error(RuntimeError("shape mismatch")) and not is_oom_error(ValueError("out of memory"))


def _fail_when(monkeypatch, should_fail, error):
    """Wraps the real training forward so it raises `error` whenever should_fail(rows in the micro-batch)."""
    real_forward = LossModule.forward
    calls: list[int] = []

    def forward(self, input_ids, *a, **kw):
        calls.append(input_ids.shape[0])
        if self.training and should_fail(input_ids.shape[0], len(calls)):
            raise error
        return real_forward(self, input_ids, *a, **kw)

    monkeypatch.setattr(LossModule, "forward", forward)
    return calls


def test_oom_steps_down_and_gives_the_same_result(demo_model_dir, demo_shards, tmp_path, monkeypatch, caplog):
    straight = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "a", max_steps=4, eval_every=0))
    assert straight.batch_plan["micro_batch"] == 4
    calls = _fail_when(monkeypatch, lambda rows, _: rows > 1, torch.cuda.OutOfMemoryError("CUDA out of memory"))
    stepped = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "b", max_steps=4, eval_every=0))
    assert stepped.steps == 4 and stepped.batch_plan == {"micro_batch": 1, "grad_accum": 4, "seq_len": 128,
                                                         "gradient_checkpointing": False}
    assert calls[:3] == [4, 2, 1] and "retrying with micro-batch 2 x 2 accumulation" in caplog.text
    assert stepped.final_loss == pytest.approx(straight.final_loss, abs=SAME_RESULT_TOLERANCE)


def test_cpu_allocation_failure_steps_down_once(demo_model_dir, demo_shards, tmp_path, monkeypatch):
    error = RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB")
    _fail_when(monkeypatch, lambda _, n: n == 1, error)
    result = run_training(make_args(demo_model_dir, demo_shards, tmp_path, max_steps=2, eval_every=0))
    assert result.steps == 2 and result.batch_plan["micro_batch"] == 2 and result.batch_plan["grad_accum"] == 2


def test_oom_with_nothing_left_to_give_up_is_an_actionable_error(demo_model_dir, demo_shards, tmp_path,
                                                                   monkeypatch):
    _fail_when(monkeypatch, lambda *_: True, torch.OutOfMemoryError("CUDA out of memory"))
    with pytest.raises(WorkerError) as info:
        run_training(make_args(demo_model_dir, demo_shards, tmp_path, max_steps=2, eval_every=0))
    assert info.value.kind == "out_of_memory" and "lower seq_len (now 128)" in info.value.message


def test_other_runtime_errors_are_not_mistaken_for_oom(demo_model_dir, demo_shards, tmp_path, monkeypatch):
    _fail_when(monkeypatch, lambda *_: True, RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        run_training(make_args(demo_model_dir, demo_shards, tmp_path, max_steps=2, eval_every=0))

"""CUDA-only checks of the recipe (skipped without a GPU; bench/gpu_checks.py runs them on a GPU machine).

Every test takes only (demo_model_dir, demo_shards, tmp_path), so gpu_checks.py can run them without pytest.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from repotune_trainer.args import TrainArgs
from repotune_trainer.data import pack_examples, read_examples
from repotune_trainer.loss import chunked_lm_loss, standard_lm_loss
from repotune_trainer.recipe import run_training

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
BF16_LOSS_TOLERANCE = 2e-2  # bf16 matmuls: the paths agree to ~2 significant digits


def cuda_args(model_dir, data_dir, out, **overrides) -> TrainArgs:
    return TrainArgs.from_params({"model_dir": str(model_dir), "data_dir": str(data_dir), "output_dir": str(out),
                                  "max_steps": 30, "seq_len": 128, "batch_size": 8, "warmup_steps": 3,
                                  "device": "cuda", "eval_every": 10, **overrides})


def test_cuda_training_learns_and_sizes_itself(demo_model_dir, demo_shards, tmp_path):
    progress: list[dict] = []
    result = run_training(cuda_args(demo_model_dir, demo_shards, tmp_path), on_progress=progress.append)
    first, last = np.mean([p["loss"] for p in progress[:5]]), np.mean([p["loss"] for p in progress[-5:]])
    assert last < first - 0.5, (first, last)
    assert result.batch_plan["micro_batch"] == 8 and not result.batch_plan["gradient_checkpointing"]
    assert progress[-1]["device"].startswith("cuda") and progress[-1]["device_mem_bytes"] > 0
    assert result.eval_loss is not None and result.best_adapter_dir


def test_cuda_chunked_loss_matches_full_logits(demo_model_dir, demo_shards, tmp_path):
    torch.manual_seed(0)
    hidden = torch.randn(4, 512, 896, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    weight = (torch.randn(151936, 896, device="cuda") * 0.02).to(torch.bfloat16).requires_grad_()
    labels = torch.randint(0, 151936, (4, 512), device="cuda")
    labels[:, :100] = -100
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    ref, n = standard_lm_loss(hidden @ weight.T, labels)
    ref_grad = torch.autograd.grad(ref / n, hidden)[0]
    full_peak = torch.cuda.max_memory_allocated() - base
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    # 8 chunks: each holds 1/8 of the logits (bf16, fp32 and the gradient) at a time. Measured on an H200 with
    # 4 chunks: 0.94 GB against 1.24 GB for the fp32 logits alone.
    loss, m = chunked_lm_loss(hidden, weight, labels, chunk_tokens=256)
    grad = torch.autograd.grad(loss / m, hidden)[0]
    chunked_peak = torch.cuda.max_memory_allocated() - base
    assert m == n and abs(loss.item() / m - ref.item() / n) < BF16_LOSS_TOLERANCE
    assert torch.allclose(grad.float(), ref_grad.float(), atol=1e-4, rtol=5e-2)
    assert chunked_peak < full_peak / 4, (chunked_peak, full_peak)


def test_cuda_varlen_packing_matches_masked_rows(demo_model_dir, demo_shards, tmp_path):
    common = {"max_steps": 5, "eval_every": 0, "checkpoint_every": 0}
    rows = run_training(cuda_args(demo_model_dir, demo_shards, tmp_path / "rows", packing="rows",
                                  attn_implementation="sdpa", **common))
    kernels = ["flex_attention"] + (["flash_attention_2"] if importlib.util.find_spec("flash_attn") else [])
    for attention in kernels:
        varlen = run_training(cuda_args(demo_model_dir, demo_shards, tmp_path / attention, packing="padding_free",
                                        attn_implementation=attention, **common))
        assert abs(rows.final_loss - varlen.final_loss) < BF16_LOSS_TOLERANCE * rows.final_loss, attention


def test_cuda_qlora_trains_when_bitsandbytes_is_installed(demo_model_dir, demo_shards, tmp_path):
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed")
    result = run_training(cuda_args(demo_model_dir, demo_shards, tmp_path, max_steps=5, quantize="4bit"))
    assert result.steps == 5 and result.final_loss is not None


def test_cuda_real_oom_steps_down(demo_model_dir, demo_shards, tmp_path):
    # A real CUDA out-of-memory: the sizing reads the driver's free memory, but the allocator is capped at 2 GiB;
    # 64 rows x 2048 tokens of activations, full logits and the block mask need ~5 GB, 16 rows fit.
    rows = pack_examples(read_examples(demo_shards), 2048, pad_id=0)
    assert len(rows) >= 1
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, (2 << 30) / total))
    try:
        result = run_training(cuda_args(demo_model_dir, demo_shards, tmp_path, max_steps=2, seq_len=2048,
                                        batch_size=64, micro_batch_size=64, gradient_checkpointing="off",
                                        loss="standard", eval_every=0))
        assert result.steps == 2 and result.batch_plan["micro_batch"] < 64
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)

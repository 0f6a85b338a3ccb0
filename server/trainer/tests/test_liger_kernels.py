"""Liger's kernels are patched into one model instance and nowhere else (their Triton code itself needs CUDA).

Liger swaps the modeling module's RMSNorm and MLP classes and its RoPE function for the whole process; on an H200 that
broke every later CPU run (Triton on CPU tensors) and the compiled serving step. apply_liger_kernels restores the
module, so only the instance it was given keeps the kernels.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from repotune_trainer.base_model import load_base_model
from repotune_trainer.step import apply_liger_kernels

pytestmark = pytest.mark.skipif(importlib.util.find_spec("liger_kernel") is None, reason="liger-kernel not installed")


def test_liger_patches_the_instance_and_leaves_the_module_as_it_was(demo_model_dir):
    model = load_base_model(demo_model_dir, torch.device("cpu"), torch.float32, attention="sdpa", quantize="none",
                            allow_pickle=False)
    module = sys.modules[type(model).__module__]
    before = dict(vars(module))
    assert apply_liger_kernels(model)
    after = dict(vars(module))
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    layer = model.model.layers[0]
    assert "liger" in type(layer.input_layernorm).__module__ or "Liger" in repr(layer.input_layernorm.forward)
    assert "Liger" in repr(layer.mlp.forward) or "liger" in str(getattr(layer.mlp.forward, "__module__", ""))
    fresh = load_base_model(demo_model_dir, torch.device("cpu"), torch.float32, attention="sdpa", quantize="none",
                            allow_pickle=False)
    # A model built afterwards runs on the CPU with the model's own modules, as if Liger had never been imported.
    fresh_layer = fresh.model.layers[0]
    assert "Liger" not in repr(fresh_layer.mlp.forward) and "liger" not in type(fresh_layer.input_layernorm).__module__
    with torch.no_grad():
        assert torch.isfinite(fresh(input_ids=torch.tensor([[1, 2, 3]])).logits).all()


def test_liger_declines_a_model_type_it_does_not_know(demo_model_dir):
    model = load_base_model(demo_model_dir, torch.device("cpu"), torch.float32, attention="sdpa", quantize="none",
                            allow_pickle=False)
    model.config.model_type = "not-a-liger-model"
    assert not apply_liger_kernels(model)

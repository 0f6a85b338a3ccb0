"""Merged export: the folder loads with plain transformers (no PEFT) and reproduces base + adapter exactly."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from repotune_trainer.export_merged import export_merged
from repotune_trainer.export_onnx import ExportError

LOGITS_ATOL = 1e-5
PROMPT = [11, 42, 7, 300, 5, 19, 64, 2]


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([PROMPT])).logits[0]


def test_merged_folder_loads_without_peft_and_matches_base_plus_adapter(tmp_path, demo_model_dir, random_adapter_dir):
    adapter_dir = random_adapter_dir
    from peft import PeftModel

    result = export_merged(str(demo_model_dir), str(adapter_dir), str(tmp_path / "merged"))
    merged_dir = tmp_path / "merged"
    assert result["merged_dir"] == str(merged_dir)
    assert {"config.json", "model.safetensors", "tokenizer.json", "repotune-adapter.json"} <= set(result["files"])
    assert not list(tmp_path.glob(".merged*")), "the temp folder is gone"
    meta = json.loads((merged_dir / "repotune-adapter.json").read_text())
    assert meta["merged"] is True and meta["adapter"] == str(adapter_dir.resolve())

    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32).eval()
    base = AutoModelForCausalLM.from_pretrained(str(demo_model_dir), dtype=torch.float32).eval()
    base_logits = _logits(base)
    reference = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    assert torch.allclose(_logits(merged), _logits(reference), atol=LOGITS_ATOL)
    assert not torch.allclose(_logits(merged), base_logits, atol=1e-3), "the adapter changes the model"


def test_bad_adapter_folder_is_named_and_leaves_nothing(tmp_path, demo_model_dir):
    (tmp_path / "not-an-adapter").mkdir()
    with pytest.raises(ExportError, match="not a PEFT adapter directory"):
        export_merged(str(demo_model_dir), str(tmp_path / "not-an-adapter"), str(tmp_path / "out"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-an-adapter"]

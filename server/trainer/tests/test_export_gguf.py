"""GGUF export: the file carries what llama.cpp's qwen2 loader reads, and its weights compute base + adapter.

The weights are checked by a forward pass written from the GGUF tensors alone (the llama.cpp qwen2 graph: RMSNorm,
NEOX rotary, grouped-query attention, SwiGLU, tied head) against PEFT's logits: a wrong tensor name, a swapped
projection or a layer off by one fails it. bench/complete.mjs --llama loads the same writer's files in llama.cpp.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from repotune_trainer.export_gguf import GGUF_FILE, export_gguf
from repotune_trainer.export_onnx import ExportError

import gguf

from test_export_merged import PROMPT

# Mean |logit error| / mean |logit|. f32 vs PEFT in fp32: only summation order differs (measured ~1e-6). Q8_0
# rounds each weight by ~0.5% (a block of 32 shares one scale), which adds up to ~3% through the demo model's
# layers (measured 0.032); its greedy choices still all agree.
F32_RELATIVE_ERROR = 1e-5
Q8_RELATIVE_ERROR = 0.05


def _reference_logits(demo_model_dir, adapter_dir) -> np.ndarray:
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(str(demo_model_dir), dtype=torch.float32).eval()
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    with torch.no_grad():
        return model(torch.tensor([PROMPT])).logits[0].numpy()


def _tensors(reader) -> dict[str, np.ndarray]:
    out = {}
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        out[t.name] = np.asarray(data, dtype=np.float32).reshape([int(d) for d in reversed(t.shape)])
    return out


def _field(reader, key):
    field = reader.fields[key]
    return field.contents()


def _forward(reader, ids: list[int]) -> np.ndarray:
    """Qwen2 as llama.cpp computes it, from the GGUF's tensors and metadata only."""
    w = _tensors(reader)
    heads, kv_heads = _field(reader, "qwen2.attention.head_count"), _field(reader, "qwen2.attention.head_count_kv")
    eps, theta = _field(reader, "qwen2.attention.layer_norm_rms_epsilon"), _field(reader, "qwen2.rope.freq_base")
    hidden = w["token_embd.weight"][ids]
    dim = hidden.shape[1] // heads
    inv_freq = theta ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = np.arange(len(ids))[:, None] * inv_freq[None]
    cos, sin = np.cos(np.concatenate([angles, angles], -1)), np.sin(np.concatenate([angles, angles], -1))

    def norm(x, name):
        return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps) * w[name]

    def rope(x):  # [S, H, D], NEOX: rotate halves
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], -1)
        return x * cos[:, None] + rotated * sin[:, None]

    causal = np.triu(np.full((len(ids), len(ids)), -np.inf), 1)
    for i in range(_field(reader, "qwen2.block_count")):
        b = f"blk.{i}."
        x = norm(hidden, b + "attn_norm.weight")
        q = rope((x @ w[b + "attn_q.weight"].T + w[b + "attn_q.bias"]).reshape(len(ids), heads, dim))
        k = rope((x @ w[b + "attn_k.weight"].T + w[b + "attn_k.bias"]).reshape(len(ids), kv_heads, dim))
        v = (x @ w[b + "attn_v.weight"].T + w[b + "attn_v.bias"]).reshape(len(ids), kv_heads, dim)
        group = heads // kv_heads
        out = np.empty_like(q)
        for h in range(heads):
            scores = q[:, h] @ k[:, h // group].T / np.sqrt(dim) + causal
            p = np.exp(scores - scores.max(-1, keepdims=True))
            out[:, h] = (p / p.sum(-1, keepdims=True)) @ v[:, h // group]
        hidden = hidden + out.reshape(len(ids), -1) @ w[b + "attn_output.weight"].T
        x = norm(hidden, b + "ffn_norm.weight")
        gate = x @ w[b + "ffn_gate.weight"].T
        hidden = hidden + (gate / (1 + np.exp(-gate)) * (x @ w[b + "ffn_up.weight"].T)) @ w[b + "ffn_down.weight"].T
    head = w.get("output.weight", w["token_embd.weight"])
    return norm(hidden, "output_norm.weight") @ head.T


@pytest.mark.parametrize("tensor_type, relative_error", [("f32", F32_RELATIVE_ERROR), ("q8_0", Q8_RELATIVE_ERROR)])
def test_gguf_computes_base_plus_adapter(tmp_path, demo_model_dir, random_adapter_dir, tensor_type, relative_error):
    adapter_dir = random_adapter_dir
    result = export_gguf(str(demo_model_dir), str(adapter_dir), str(tmp_path / "gguf"), tensor_type)
    assert result["files"] == [GGUF_FILE, "repotune-adapter.json"] and result["tensor_type"] == tensor_type
    assert not list(tmp_path.glob(".gguf*")), "the temp folder is gone"
    reader = gguf.GGUFReader(result["gguf_path"])
    expected = _reference_logits(demo_model_dir, adapter_dir)
    got = _forward(reader, PROMPT)
    assert np.abs(got - expected).mean() / np.abs(expected).mean() < relative_error
    assert (got.argmax(-1) == expected.argmax(-1)).all(), "greedy choices agree"
    meta = json.loads((tmp_path / "gguf" / "repotune-adapter.json").read_text())
    assert meta["format"] == "gguf" and meta["adapter"] == str(adapter_dir.resolve())


def test_gguf_metadata_is_what_llama_cpp_reads(tmp_path, demo_model_dir, random_adapter_dir):
    adapter_dir = random_adapter_dir
    reader = gguf.GGUFReader(export_gguf(str(demo_model_dir), str(adapter_dir), str(tmp_path / "g"), "q4_0")["gguf_path"])
    cfg = json.loads((demo_model_dir / "config.json").read_text())
    tok = json.loads((demo_model_dir / "tokenizer.json").read_text())
    added = {a["content"]: a["id"] for a in tok["added_tokens"]}
    assert _field(reader, "general.architecture") == "qwen2"
    assert _field(reader, "qwen2.block_count") == cfg["num_hidden_layers"]
    assert _field(reader, "tokenizer.ggml.model") == "gpt2" and _field(reader, "tokenizer.ggml.pre") == "qwen2"
    tokens = _field(reader, "tokenizer.ggml.tokens")
    assert len(tokens) == cfg["vocab_size"], "one name per embedding row, padding rows included"
    assert tokens[added["<|fim_middle|>"]] == "<|fim_middle|>"
    for text, key in (("<|fim_prefix|>", "fim_pre"), ("<|fim_suffix|>", "fim_suf"), ("<|fim_middle|>", "fim_mid")):
        assert _field(reader, f"tokenizer.ggml.{key}_token_id") == added[text]
    assert _field(reader, "tokenizer.ggml.eos_token_id") == cfg["eos_token_id"]
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert "output.weight" not in types, "the tied head is read from token_embd"
    assert types["blk.0.ffn_down.weight"] == gguf.GGMLQuantizationType.Q4_0
    assert types["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32, "norms stay f32"


def test_other_architectures_are_refused_with_the_way_out(tmp_path, demo_model_dir):
    other = tmp_path / "llama-model"
    other.mkdir()
    cfg = json.loads((demo_model_dir / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    with pytest.raises(ExportError, match="convert_hf_to_gguf.py"):
        export_gguf(str(other), None, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()

"""ONNX export: onnxruntime on the exported graph must reproduce the Hugging Face (merged) model exactly.

Uses the real demo model (generated once per module) and a LoRA adapter made here with random lora_B, so merging
visibly changes the outputs. A "varied" copy of the demo model adds q/k/v biases, non-unit norms and an untied
lm_head, so every optional path of the graph builder is compared against transformers too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from conftest import advance_past, empty_past

from repotune_trainer.demo_model import write_demo_model, write_random_adapter
from repotune_trainer.export_onnx import ExportError, export_onnx, main

LOGITS_ATOL = 1e-4
PROMPT_LEN = 20
PREFILL_LEN = 12
DECODE_STEPS = 5
GREEDY_NEW_TOKENS = 16
PROMPT_TOKEN_MAX = 1000  # ordinary BPE tokens, below the special tokens


def _prompt(n: int, seed: int = 0) -> list[int]:
    return np.random.RandomState(seed).randint(0, PROMPT_TOKEN_MAX, size=n).tolist()


class OrtDecoder:
    """Drives an exported model through the contract's I/O, the way the Node engine does."""

    def __init__(self, onnx_dir, from_new_key_values: bool = False):
        self.meta = json.loads((onnx_dir / "repotune-onnx.json").read_text())
        self.session = ort.InferenceSession(str(onnx_dir / "model.onnx"), providers=["CPUExecutionProvider"])
        self.past = empty_past(self.meta)
        self.pos = 0
        # The Node engine's way (kvCache.ts): the cache grows by the fed positions' new_key_values.* outputs
        # ([1, S, kvH * D]), appended by the caller, instead of being replaced by present.* ("buffer" exports have
        # no present.*). Here the past holds exactly the cached positions; test_buffer_attention_ignores_... feeds
        # a longer buffer.
        self.from_new_key_values = from_new_key_values or self.meta["attention"] == "buffer"

    def step(self, ids: list[int]) -> np.ndarray:
        """Feeds ids after everything fed so far; returns the last position's logits [V]."""
        feed = {"input_ids": np.array([ids], np.int64),
                "position_ids": np.arange(self.pos, self.pos + len(ids), dtype=np.int64)[None], **self.past}
        outputs = dict(zip(self.meta["outputs"], self.session.run(self.meta["outputs"], feed)))
        self.past = advance_past(self.meta, self.past, outputs, len(ids), self.from_new_key_values)
        self.pos += len(ids)
        return outputs["logits"][0]


def _hf_model(model_dir, adapter_dir=None):
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    return model.eval()


def _hf_logits(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="module")
def demo_dir(work):
    return write_demo_model(work / "demo")


@pytest.fixture(scope="module")
def adapter_dir(work, demo_dir):
    return write_random_adapter(demo_dir, work / "adapter", rank=8)


@pytest.fixture(scope="module")
def base_export(work, demo_dir):
    return export_onnx(str(demo_dir), None, str(work / "onnx-base"))


@pytest.fixture(scope="module")
def adapter_export(work, demo_dir, adapter_dir):
    return export_onnx(str(demo_dir), str(adapter_dir), str(work / "onnx-adapter"))


@pytest.fixture(scope="module")
def merged_model(demo_dir, adapter_dir):
    return _hf_model(demo_dir, adapter_dir)


def _onnx_dir(result: dict) -> Path:
    return Path(result["onnx_dir"])


def test_base_prefill_logits_match_hf(demo_dir, base_export):
    ids = _prompt(PROMPT_LEN)
    logits = OrtDecoder(_onnx_dir(base_export)).step(ids)
    np.testing.assert_allclose(logits, _hf_logits(_hf_model(demo_dir), ids)[-1], atol=LOGITS_ATOL, rtol=0)


def test_adapter_prefill_logits_match_merged_hf_and_differ_from_base(merged_model, base_export, adapter_export):
    ids = _prompt(PROMPT_LEN, seed=3)
    with_adapter = OrtDecoder(_onnx_dir(adapter_export)).step(ids)
    np.testing.assert_allclose(with_adapter, _hf_logits(merged_model, ids)[-1], atol=LOGITS_ATOL, rtol=0)
    without = OrtDecoder(_onnx_dir(base_export)).step(ids)
    assert np.abs(with_adapter - without).max() > 100 * LOGITS_ATOL


@pytest.fixture(scope="module")
def gqa_export(work, demo_dir, adapter_dir):
    return export_onnx(str(demo_dir), str(adapter_dir), str(work / "onnx-gqa"), attention="gqa")


@pytest.mark.parametrize("export, from_new_key_values", [("adapter_export", True), ("gqa_export", False),
                                                         ("gqa_export", True)],
                         ids=["buffer", "gqa-present", "gqa-new-key-values"])
def test_incremental_decoding_matches_full_sequence(merged_model, request, export, from_new_key_values):
    ids = _prompt(PREFILL_LEN + DECODE_STEPS, seed=5)
    reference = _hf_logits(merged_model, ids)
    decoder = OrtDecoder(_onnx_dir(request.getfixturevalue(export)), from_new_key_values)
    np.testing.assert_allclose(decoder.step(ids[:PREFILL_LEN]), reference[PREFILL_LEN - 1], atol=LOGITS_ATOL, rtol=0)
    for pos in range(PREFILL_LEN, PREFILL_LEN + DECODE_STEPS):
        np.testing.assert_allclose(decoder.step([ids[pos]]), reference[pos], atol=LOGITS_ATOL, rtol=0)
    assert decoder.past["past_key_values.0.value"].shape == (1, 2, PREFILL_LEN + DECODE_STEPS, 32)


def test_buffer_attention_ignores_the_buffer_past_the_cached_length(merged_model, adapter_export):
    """The engine feeds its whole cache buffer (capacity > cached length P, stale values after P): positions >= P
    must not count, for a prefill chunk and for decoding, so the logits stay Hugging Face's."""
    meta = json.loads((_onnx_dir(adapter_export) / "repotune-onnx.json").read_text())
    assert meta["attention"] == "buffer" and not any(n.startswith("present.") for n in meta["outputs"])
    session = ort.InferenceSession(str(_onnx_dir(adapter_export) / "model.onnx"), providers=["CPUExecutionProvider"])
    layers, kv_heads, head_dim, capacity = meta["num_layers"], meta["num_kv_heads"], meta["head_dim"], 64
    # Stale values much larger than real keys: a leak past P would change the logits by far more than the tolerance.
    rng = np.random.default_rng(0)
    shapes = {"key": (1, kv_heads, head_dim, capacity), "value": (1, kv_heads, capacity, head_dim)}  # keys transposed
    buffers = {f"past_key_values.{i}.{kind}": 5 * rng.standard_normal(shapes[kind], np.float32)
               for i in range(layers) for kind in ("key", "value")}
    ids = _prompt(PREFILL_LEN + DECODE_STEPS, seed=13)
    reference = _hf_logits(merged_model, ids)
    cached = 0
    for chunk in [ids[:PREFILL_LEN]] + [[t] for t in ids[PREFILL_LEN:]]:
        feed = {"input_ids": np.array([chunk], np.int64),
                "position_ids": np.arange(cached, cached + len(chunk), dtype=np.int64)[None], **buffers}
        out = dict(zip(meta["outputs"], session.run(meta["outputs"], feed)))
        for name, buffer in buffers.items():
            new = out[name.replace("past_key_values.", "new_key_values.")].reshape(1, len(chunk), kv_heads, head_dim)
            if name.endswith(".key"):
                buffer[..., cached:cached + len(chunk)] = new.transpose(0, 2, 3, 1)
            else:
                buffer[:, :, cached:cached + len(chunk)] = new.transpose(0, 2, 1, 3)
        cached += len(chunk)
        np.testing.assert_allclose(out["logits"][0], reference[cached - 1], atol=LOGITS_ATOL, rtol=0)


def test_concat_attention_export_matches_hf_prefill_and_decoding(work, merged_model, demo_dir, adapter_dir):
    """The standard-ops attention graph (attention="concat", no contrib ops) stays exact too."""
    result = export_onnx(str(demo_dir), str(adapter_dir), str(work / "onnx-concat"), attention="concat")
    meta = json.loads((_onnx_dir(result) / "repotune-onnx.json").read_text())
    assert meta["attention"] == "concat"
    assert b"GroupQueryAttention" not in (_onnx_dir(result) / "model.onnx").read_bytes()
    ids = _prompt(PREFILL_LEN + DECODE_STEPS, seed=11)
    reference = _hf_logits(merged_model, ids)
    decoder = OrtDecoder(_onnx_dir(result))
    np.testing.assert_allclose(decoder.step(ids[:PREFILL_LEN]), reference[PREFILL_LEN - 1], atol=LOGITS_ATOL, rtol=0)
    for pos in range(PREFILL_LEN, PREFILL_LEN + DECODE_STEPS):
        np.testing.assert_allclose(decoder.step([ids[pos]]), reference[pos], atol=LOGITS_ATOL, rtol=0)


def test_unknown_attention_is_refused(work, demo_dir):
    with pytest.raises(ExportError, match="unknown attention 'flash'"):
        export_onnx(str(demo_dir), None, str(work / "onnx-bad-attention"), attention="flash")


def test_greedy_generation_matches_hf_generate(merged_model, adapter_export):
    ids = _prompt(8, seed=7)
    decoder = OrtDecoder(_onnx_dir(adapter_export))
    eos = set(decoder.meta["eos_token_ids"])
    generated, logits = [], decoder.step(ids)
    # Random weights: the demo model could emit eos early; then both sides stop there and must still agree.
    while len(generated) < GREEDY_NEW_TOKENS:
        generated.append(int(np.argmax(logits)))
        if generated[-1] in eos:
            break
        logits = decoder.step([generated[-1]])
    with torch.no_grad():
        out = merged_model.generate(torch.tensor([ids]), max_new_tokens=GREEDY_NEW_TOKENS, do_sample=False,
                                    pad_token_id=next(iter(eos)))
    assert generated == out[0, len(ids):].tolist()


def test_graph_io_and_metadata(demo_dir, adapter_dir, adapter_export):
    onnx_dir = _onnx_dir(adapter_export)
    meta = json.loads((onnx_dir / "repotune-onnx.json").read_text())
    assert (meta["num_layers"], meta["num_kv_heads"], meta["head_dim"], meta["vocab_size"]) == (4, 2, 32, 1088)
    assert meta["eos_token_ids"] == [1024] and meta["dtype"] == "float32" and meta["attention"] == "buffer"
    sha = hashlib.sha256((adapter_dir / "adapter_model.safetensors").read_bytes()).hexdigest()
    assert meta["source"] == {"base_model_dir": str(demo_dir.resolve()), "adapter_dir": str(adapter_dir.resolve()),
                              "adapter_sha256": sha}
    session = ort.InferenceSession(adapter_export["onnx_path"], providers=["CPUExecutionProvider"])
    inputs = {i.name: (i.type, i.shape) for i in session.get_inputs()}
    outputs = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    assert list(inputs) == meta["inputs"] and list(outputs) == meta["outputs"]
    assert inputs["input_ids"] == ("tensor(int64)", [1, "sequence_length"])
    assert inputs["position_ids"] == ("tensor(int64)", [1, "sequence_length"])
    assert inputs["past_key_values.3.value"] == ("tensor(float)", [1, 2, "past_sequence_length", 32])
    assert inputs["past_key_values.3.key"] == ("tensor(float)", [1, 2, 32, "past_sequence_length"])  # transposed
    assert outputs["logits"] == ("tensor(float)", [1, 1088])
    # The fed positions' keys/values, for the Node engine's cache buffer (kv heads x head_dim per position); no
    # present.*: the buffer graph never copies the cache.
    assert outputs["new_key_values.3.value"] == ("tensor(float)", [1, "sequence_length", 2 * 32])
    assert not any(name.startswith("present.") for name in outputs)
    assert not (onnx_dir / "model.onnx.data").exists()


@pytest.fixture(scope="module")
def varied_model_dir(work, demo_dir):
    """The demo model with q/k/v biases, non-unit norm weights and its own lm_head (untied)."""
    out = work / "varied"
    shutil.copytree(demo_dir, out)
    gen = torch.Generator().manual_seed(2)
    state = load_file(str(out / "model.safetensors"))
    for name, t in state.items():
        if name.endswith(".bias") or "norm" in name:
            state[name] = t + 0.1 * torch.randn(t.shape, generator=gen)
    state["lm_head.weight"] = 0.02 * torch.randn(state["model.embed_tokens.weight"].shape, generator=gen)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "tie_word_embeddings": False}))
    return out


def test_biases_norms_and_untied_head_match_hf(work, varied_model_dir):
    # Forced external data here also covers the large-model layout (model.onnx.data) on a small model.
    result = export_onnx(str(varied_model_dir), None, str(work / "onnx-varied"), external_data=True)
    assert (_onnx_dir(result) / "model.onnx.data").is_file()
    ids = _prompt(PROMPT_LEN, seed=9)
    reference = _hf_logits(_hf_model(varied_model_dir), ids)
    decoder = OrtDecoder(_onnx_dir(result))
    np.testing.assert_allclose(decoder.step(ids[:-1]), reference[-2], atol=LOGITS_ATOL, rtol=0)
    np.testing.assert_allclose(decoder.step(ids[-1:]), reference[-1], atol=LOGITS_ATOL, rtol=0)


def _model_with_config(work, demo_dir, name: str, **overrides):
    out = work / name
    shutil.copytree(demo_dir, out)
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, **overrides}))
    return out


def test_llama_with_linear_rope_scaling_matches_hf(work, demo_dir):
    # DeepSeek-Coder 1.3B's kind of config (a "Choose model" preset): Llama architecture (no q/k/v biases: the demo
    # model's are left unused), rope_theta 1e5 and linear rope scaling by 4 (positions / 4).
    llama = _model_with_config(work, demo_dir, "llama-linear", model_type="llama", architectures=["LlamaForCausalLM"],
                               rope_theta=100000.0, rope_scaling={"type": "linear", "factor": 4.0})
    result = export_onnx(str(llama), None, str(work / "onnx-llama-linear"))
    ids = _prompt(PROMPT_LEN, seed=5)
    reference = _hf_logits(_hf_model(llama), ids)
    decoder = OrtDecoder(_onnx_dir(result))
    np.testing.assert_allclose(decoder.step(ids[:-1]), reference[-2], atol=LOGITS_ATOL, rtol=0)
    np.testing.assert_allclose(decoder.step(ids[-1:]), reference[-1], atol=LOGITS_ATOL, rtol=0)
    unscaled = _hf_logits(_hf_model(_model_with_config(work, llama, "llama-unscaled", rope_scaling=None)), ids)
    assert np.abs(unscaled[-1] - reference[-1]).max() > 10 * LOGITS_ATOL, "the scaling changes the logits"


@pytest.mark.parametrize("attention", ["buffer", "gqa", "concat"])
def test_starcoder2_layernorm_and_gelu_mlp_match_hf(work, demo_dir, attention):
    from transformers import Starcoder2Config, Starcoder2ForCausalLM

    out = work / "starcoder2"
    if not (out / "config.json").is_file():
        demo = json.loads((demo_dir / "config.json").read_text())
        torch.manual_seed(3)
        cfg = Starcoder2Config(vocab_size=demo["vocab_size"], hidden_size=128, intermediate_size=512, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, use_bias=True,
                               bos_token_id=demo["bos_token_id"], eos_token_id=demo["eos_token_id"])
        model = Starcoder2ForCausalLM(cfg).eval()
        with torch.no_grad():  # non-trivial norm and bias weights, so a swapped or missing one shows
            for name, p in model.named_parameters():
                if "norm" in name or name.endswith(".bias"):
                    p.add_(0.1 * torch.randn_like(p))
        model.save_pretrained(str(out), safe_serialization=True)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(demo_dir / name, out / name)
    result = export_onnx(str(out), None, str(work / f"onnx-starcoder2-{attention}"), attention=attention)
    ids = _prompt(PROMPT_LEN, seed=11)
    reference = _hf_logits(_hf_model(out), ids)
    decoder = OrtDecoder(_onnx_dir(result))
    np.testing.assert_allclose(decoder.step(ids[:-1]), reference[-2], atol=LOGITS_ATOL, rtol=0)
    np.testing.assert_allclose(decoder.step(ids[-1:]), reference[-1], atol=LOGITS_ATOL, rtol=0)


def test_unsupported_architecture_is_named(work, demo_dir):
    bad = _model_with_config(work, demo_dir, "gpt2-like", model_type="gpt2", architectures=["GPT2LMHeadModel"])
    with pytest.raises(ExportError, match=r"unsupported architecture: model_type 'gpt2' \(GPT2LMHeadModel\)"):
        export_onnx(str(bad), None, str(work / "never"))
    scaled = _model_with_config(work, demo_dir, "yarn", rope_scaling={"rope_type": "yarn", "factor": 4.0})
    with pytest.raises(ExportError, match="rope_scaling of type 'yarn'"):
        export_onnx(str(scaled), None, str(work / "never"))
    assert not (work / "never").exists()


def test_corrupt_weights_and_unwritable_out_dir(work, demo_dir):
    corrupt = work / "corrupt"
    shutil.copytree(demo_dir, corrupt)
    data = (corrupt / "model.safetensors").read_bytes()
    (corrupt / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportError, match="could not load the model"):
        export_onnx(str(corrupt), None, str(work / "never"))
    partial = work / "partial"
    shutil.copytree(demo_dir, partial)
    state = load_file(str(partial / "model.safetensors"))
    del state["model.layers.1.mlp.up_proj.weight"]
    save_file(state, str(partial / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ExportError, match="incomplete; missing: model.layers.1.mlp.up_proj.weight"):
        export_onnx(str(partial), None, str(work / "never"))
    (work / "a-file").write_text("not a directory")
    with pytest.raises(ExportError, match="not writable"):
        export_onnx(str(demo_dir), None, str(work / "a-file" / "onnx"))
    assert sorted(p.name for p in work.iterdir() if ".export-" in p.name) == []


def test_atomic_replace_and_cli(work, demo_dir, capsys):
    out = work / "onnx-cli"
    out.mkdir()
    (out / "stale.txt").write_text("from an older export")
    assert main(["--model", str(demo_dir), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == {"onnx_dir": str(out), "onnx_path": str(out / "model.onnx")}
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "repotune-onnx.json"]
    assert [p.name for p in work.iterdir() if ".export-" in p.name] == []
    assert main(["--model", str(work / "missing"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (out / "model.onnx").is_file()  # a failed export leaves the previous one untouched


def test_a_graph_that_fails_validation_is_an_internal_error_and_leaves_nothing(work, demo_dir, monkeypatch):
    """An exporter bug (a node ONNX does not know) must surface as ExportError(kind internal), not a crash."""
    from onnx import helper

    from repotune_trainer import onnx_graph

    build = onnx_graph.build_decoder_model

    def broken(*args, **kwargs):
        model = build(*args, **kwargs)
        model.graph.node.append(helper.make_node("NoSuchOp", ["logits"], ["unused"]))
        return model

    monkeypatch.setattr(onnx_graph, "build_decoder_model", broken)
    with pytest.raises(ExportError, match="failed ONNX validation") as failure:
        export_onnx(str(demo_dir), None, str(work / "never-valid"))
    assert failure.value.kind == "internal"
    assert not (work / "never-valid").exists()
    assert sorted(p.name for p in work.iterdir() if ".export-" in p.name) == []

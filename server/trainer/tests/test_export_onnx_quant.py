"""Quantized ONNX export (MatMulNBits): the packing follows the op spec, and the exported int4/int8 graphs compute
what the same graph with the dequantized fp32 weights computes, close to the fp32 export on the demo model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from conftest import advance_past, empty_past

from repotune_trainer.export_onnx import ExportError, _decoder_spec_and_weights, _load_merged_model, export_onnx
from repotune_trainer import onnx_builder
from repotune_trainer.onnx_graph import build_decoder_model
from repotune_trainer.onnx_quant import BLOCK_SIZE, dequantize, quantize_blockwise
from repotune_trainer.onnx_tensors import TensorStore

PROMPT_LEN = 24
DECODE_STEPS = 24
# With accuracy_level 0 (fp32 compute) MatMulNBits equals a MatMul with the dequantized weights up to rounding.
DEQUANTIZED_ATOL = 1e-3
# Against the true fp32 weights. The demo model's logits span about ±4 and are nearly flat (random weights), so
# int4 noise flips many argmaxes (measured: max diff 1.80, agreement 0.58; int8: 0.20, 0.96); a packing or
# scale bug gives agreement near 1/vocab. Bounds leave room for other CPUs' int8-activation kernels.
FP32_ATOL = {"int4": 3.0, "int8": 0.5}
MIN_GREEDY_AGREEMENT = {"int4": 0.35, "int8": 0.8}


def _session_run(model, feeds):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.mark.parametrize("kind", ["int4", "int8"])
def test_blockwise_roundtrip_and_matmulnbits_layout(kind):
    rng = np.random.RandomState(0)
    n, k = 10, BLOCK_SIZE * 2 + 8  # a K that is not a multiple of the block: the last block is padded
    w = rng.randn(n, k).astype(np.float32)
    qw = quantize_blockwise(w, kind)
    blocks = 3
    assert qw.packed.shape == (n, blocks, BLOCK_SIZE * qw.bits // 8) and qw.packed.dtype == np.uint8
    assert qw.scales.shape == (n * blocks,)
    err = np.abs(dequantize(qw) - w)
    step = np.abs(np.repeat(qw.scales.reshape(n, blocks), BLOCK_SIZE, axis=1)[:, :k])
    # Half a step, except a value of the opposite sign to the block's extreme at full magnitude (clipped: one step).
    assert np.all(err <= step + 1e-6) and np.mean(err <= step / 2 + 1e-6) > 0.95
    extremes = np.abs(w).argmax(axis=1)
    assert np.allclose(dequantize(qw)[np.arange(n), extremes], w[np.arange(n), extremes]), "extremes are exact"

    # onnxruntime's own kernel (accuracy_level 0: fp32 compute) must read our bytes as dequantize() does.
    x = rng.randn(3, k).astype(np.float32)
    node = helper.make_node("MatMulNBits", ["x", "B", "S"], ["y"], domain="com.microsoft",
                            K=k, N=n, bits=qw.bits, block_size=BLOCK_SIZE, accuracy_level=0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(qw.packed, "B"), numpy_helper.from_array(qw.scales, "S")])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    np.testing.assert_allclose(_session_run(model, {"x": x}), x @ dequantize(qw).T, atol=1e-4)


def _decode(session, meta, prompt, steps, forced=None):
    """Greedy (or teacher-forced by `forced`) decoding; returns ([logits per step], [greedy ids])."""
    past = empty_past(meta)
    ids, pos, all_logits, greedy = list(prompt), 0, [], []
    for step in range(steps):
        feed = {"input_ids": np.array([ids], np.int64),
                "position_ids": np.arange(pos, pos + len(ids), dtype=np.int64)[None], **past}
        out = dict(zip(meta["outputs"], session.run(meta["outputs"], feed)))
        past = advance_past(meta, past, out, len(ids), meta["attention"] == "buffer")
        pos += len(ids)
        all_logits.append(out["logits"][0])
        greedy.append(int(out["logits"][0].argmax()))
        ids = [forced[step] if forced else greedy[-1]]
    return all_logits, greedy


def _export_session(onnx_dir: Path):
    meta = json.loads((onnx_dir / "repotune-onnx.json").read_text())
    return ort.InferenceSession(str(onnx_dir / "model.onnx"), providers=["CPUExecutionProvider"]), meta


@pytest.fixture(scope="module")
def fp32_export(demo_model_dir, tmp_path_factory):
    result = export_onnx(str(demo_model_dir), None, str(tmp_path_factory.mktemp("q") / "fp32"))
    return _export_session(Path(result["onnx_dir"]))


@pytest.mark.parametrize("kind", ["int4", "int8"])
def test_quantized_export_matches_dequantized_graph_and_stays_close_to_fp32(
    kind, demo_model_dir, tmp_path, fp32_export, monkeypatch
):
    result = export_onnx(str(demo_model_dir), None, str(tmp_path / kind), quantize=kind)
    session, meta = _export_session(Path(result["onnx_dir"]))
    with monkeypatch.context() as patch:  # fp32 compute inside MatMulNBits isolates wiring from activation rounding
        patch.setattr(onnx_builder, "ACCURACY_LEVEL", 0)
        exact_dir = export_onnx(str(demo_model_dir), None, str(tmp_path / f"{kind}-exact"), quantize=kind)["onnx_dir"]
    exact_session, _ = _export_session(Path(exact_dir))
    assert meta["weight_quantization"] == kind and meta["dtype"] == "float32"
    graph = onnx.load(str(Path(result["onnx_dir"]) / "model.onnx"), load_external_data=False).graph
    assert "embed_tokens" not in {t.name for t in graph.initializer}, "no fp32 copy of the embedding"
    assert [n.op_type for n in graph.node].count("GatherBlockQuantized") == 1
    assert [i.name for i in session.get_inputs()] == meta["inputs"]

    # The same graph built in fp32 from the dequantized weights: isolates wiring errors from quantization error.
    spec, weights = _decoder_spec_and_weights(_load_merged_model(demo_model_dir, None))
    linear = [name for name in weights if name.endswith("proj.weight")]
    deq = {**weights, **{name: dequantize(quantize_blockwise(weights[name], kind)) for name in linear}}
    # The quantized graph looks the embedding up in an int8 table (GraphBuilder.embed); a tied head is a copy of the
    # embedding quantized as the export. The reference holds both dequantized, the head untied.
    embedding = weights["model.embed_tokens.weight"]
    assert spec.hidden_size % BLOCK_SIZE == 0, "the demo model must exercise the quantized lookup"
    deq["model.embed_tokens.weight"] = dequantize(quantize_blockwise(embedding, onnx_builder.EMBEDDING_QUANTIZATION))
    if spec.tied_lm_head:
        spec = spec.__class__(**{**spec.__dict__, "tied_lm_head": False})
        deq["lm_head.weight"] = dequantize(quantize_blockwise(embedding, kind))
    with TensorStore(None) as store:
        reference = build_decoder_model(spec, deq.get, store.make_tensor)
    ref_session = ort.InferenceSession(reference.SerializeToString(), providers=["CPUExecutionProvider"])

    prompt = np.random.RandomState(3).randint(0, 1000, size=PROMPT_LEN).tolist()
    fp32_logits, fp32_greedy = _decode(*fp32_export, prompt, DECODE_STEPS)
    got, greedy = _decode(session, meta, prompt, DECODE_STEPS, forced=fp32_greedy)
    exact, _ = _decode(exact_session, meta, prompt, DECODE_STEPS, forced=fp32_greedy)
    want, _ = _decode(ref_session, meta, prompt, DECODE_STEPS, forced=fp32_greedy)
    assert np.abs(np.array(exact) - np.array(want)).max() < DEQUANTIZED_ATOL
    max_diff = np.abs(np.array(got) - np.array(fp32_logits)).max()
    agreement = np.mean(np.array(greedy) == np.array(fp32_greedy))
    print(f"{kind}: max |logit - fp32| {max_diff:.4f} (logits span ±{np.abs(fp32_logits).max():.2f}), "
          f"teacher-forced greedy agreement {agreement:.2f}")
    assert max_diff < FP32_ATOL[kind]
    assert agreement >= MIN_GREEDY_AGREEMENT[kind]


def test_unknown_quantization_is_refused(demo_model_dir, tmp_path):
    with pytest.raises(ExportError, match="unknown quantization 'int3'"):
        export_onnx(str(demo_model_dir), None, str(tmp_path / "x"), quantize="int3")

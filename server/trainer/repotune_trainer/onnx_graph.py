"""Builds the ONNX graph of a Llama/Qwen2/Mistral or StarCoder2 decoder by hand, from merged fp32 weights.

Why by hand: torch.onnx.export is fragile with transformers 5 cache classes, while a graph of standard ops
(opset 17; com.microsoft MatMulNBits only in quantized exports) is deterministic, loads in onnxruntime-node 1.30
and Python 1.32 alike, and is easy to check against the Hugging Face model. The graph matches docs/architecture.md ("Adapter and export layout"):

    inputs : input_ids, position_ids int64 [1,S]; past_key_values.{i}.key/value float32 [1,kvH,P,D]
    outputs: logits float32 [1,V] (last position only); present.{i}.key/value float32 [1,kvH,P+S,D]

Every formula mirrors transformers' modeling_llama/modeling_qwen2: RMSNorm in fp32, rotary cos/sin from
position_ids * inv_freq with rotate_half = cat(-x2, x1), GQA by grouping query heads per kv head (the same head
order as repeat_kv), softmax(q k^T * D^-0.5 + causal mask) v, SwiGLU MLP; for StarCoder2 (modeling_starcoder2)
LayerNorm with bias and the gelu_pytorch_tanh MLP (c_fc, c_proj), its sliding window not applied (serving prompts
stay far below it).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from .onnx_buffer_attention import buffer_attention_layers
from .onnx_builder import (MASKED_SCORE, MS_DOMAIN, NEW_KV_PREFIX, DecoderSpec, GraphBuilder, TensorMaker, WeightGetter,
                           bsnd_decoder_layers)
from .onnx_quant import QUANTIZATION_CHOICES

OPSET = 17
# IR 8 is what opset 17 was released with; newer IR versions are refused by older onnxruntime builds (the Node one).
IR_VERSION = 8
# "buffer" (default): plain matmuls over the engine's cache buffer, masked past the cached length; outputs only the
# fed positions' keys/values (onnx_buffer_attention.py). "gqa": one com.microsoft GroupQueryAttention node per
# layer (onnxruntime's fused kernel, as onnxruntime-genai's model builder emits); past_key_values.* may also be a
# fixed-length buffer (the past length is then read from position_ids), and it outputs present.* plus the fed
# positions' keys/values. In place when past and present are bound to the same memory, which onnxruntime-node
# cannot do: from Node its kernel copies the cache at every step. "concat": standard ops only (Concat growth of the
# cache, MatMul/Softmax attention), past_key_values.* hold exactly the cached positions.
ATTENTION_CHOICES = ("buffer", "gqa", "concat")
DEFAULT_ATTENTION = "buffer"


def build_decoder_model(
    spec: DecoderSpec,
    weight: WeightGetter,
    make_tensor: TensorMaker,
    quantize: str | None = None,
    attention: str = DEFAULT_ATTENTION,
) -> onnx.ModelProto:
    """Returns the ModelProto; make_tensor decides where each initializer's bytes go.

    quantize "int4"/"int8" turns every linear layer and the lm_head into MatMulNBits (onnx_quant.py) and looks
    the embedding up in its quantized table (GraphBuilder.embed); the graph's inputs and outputs are the same as
    the fp32 graph's.
    attention: see ATTENTION_CHOICES; both graphs have the same inputs and outputs.
    """
    if quantize not in QUANTIZATION_CHOICES:
        raise ValueError(f"unknown quantization {quantize!r}; expected one of {QUANTIZATION_CHOICES}")
    if attention not in ATTENTION_CHOICES:
        raise ValueError(f"unknown attention {attention!r}; expected one of {ATTENTION_CHOICES}")
    g = GraphBuilder(spec, weight, make_tensor, quantize)
    s = spec
    group = s.num_heads // s.num_kv_heads
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731 - tiny local helper for shape constants
    g.const("zero_1d", i64([0]))
    g.const("one_1d", i64([1]))
    g.const("two_1d", i64([2]))
    g.const("half_dim_1d", i64([s.head_dim // 2]))
    g.const("minus_one_1d", i64([-1]))
    g.const("int64_max_1d", i64([np.iinfo(np.int64).max]))
    g.const("rms_eps", np.array(s.rms_norm_eps, dtype=np.float32))
    if s.mlp == "gelu_tanh":
        for name, value in (("gelu_sqrt_2_over_pi", np.sqrt(2.0 / np.pi)), ("gelu_cubic", 0.044715),
                            ("gelu_half", 0.5), ("gelu_one", 1.0)):
            g.const(name, np.array(value, dtype=np.float32))
    g.const("inv_freq", s.inv_freq.astype(np.float32))
    g.const("last_index", i64(-1))

    # Rotary tables, shared by all layers: [1, 1, S, D] (or [1, S, 1, D] for gqa's [1, S, heads, D] layout) so they
    # broadcast over heads.
    positions = g.op("Unsqueeze", g.op("Cast", "position_ids", to=TensorProto.FLOAT), "minus_one_1d")  # [1, S, 1]
    freqs = g.op("Mul", positions, "inv_freq")  # [1, S, D/2], as transformers: position_ids[..., None] * inv_freq
    emb = g.op("Concat", freqs, freqs, axis=-1)
    bsnd = attention in ("gqa", "buffer")  # the layouts whose rotation runs on [1, S, heads, D]
    cos = g.op("Unsqueeze", g.op("Cos", emb), "two_1d" if bsnd else "one_1d")
    sin = g.op("Unsqueeze", g.op("Sin", emb), "two_1d" if bsnd else "one_1d")
    if attention == "gqa":
        return _finish_gqa(g, s, cos, sin, quantize)
    if attention == "buffer":
        hidden = buffer_attention_layers(g, s, cos, sin)
        return _finish(g, s, hidden, quantize, contrib=True, new_key_values=True, present=False,
                       keys_transposed=True)

    g.const("two_scalar", i64(2))
    g.const("heads_shape", i64([1, s.num_heads, -1, s.head_dim]))
    g.const("attn_scale", np.array(s.head_dim**-0.5, dtype=np.float32))
    g.const("masked_score", np.array(MASKED_SCORE, dtype=np.float32))
    g.const("q_shape", i64([1, -1, s.num_heads, s.head_dim]))
    g.const("kv_shape", i64([1, -1, s.num_kv_heads, s.head_dim]))
    g.const("q_grouped_shape", i64([1, s.num_kv_heads, group, -1, s.head_dim]))
    g.const("attn_out_shape", i64([1, -1, s.num_heads * s.head_dim]))
    g.const("one_scalar", i64(1))
    g.const("zero_scalar", i64(0))

    # Causal mask [S, P+S]: query j sits at absolute position P+j and sees keys 0..P+j. P comes from layer 0's past.
    seq_len = g.op("Gather", g.op("Shape", "input_ids"), "one_scalar", axis=0)
    past_len = g.op("Gather", g.op("Shape", "past_key_values.0.key"), "two_scalar", axis=0)
    total_len = g.op("Add", past_len, seq_len)
    query_pos = g.op("Unsqueeze", g.op("Add", g.op("Range", "zero_scalar", seq_len, "one_scalar"), past_len), "one_1d")
    key_pos = g.op("Unsqueeze", g.op("Range", "zero_scalar", total_len, "one_scalar"), "zero_1d")
    visible = g.op("LessOrEqual", key_pos, query_pos)

    hidden = g.embed("input_ids")
    for i in range(s.num_layers):
        p = f"model.layers.{i}"
        x = g.norm(hidden, f"{p}.input_layernorm")
        q = g.op("Transpose", g.op("Reshape", g.linear(x, f"{p}.self_attn.q_proj"), "q_shape"), perm=[0, 2, 1, 3])
        k = g.op("Transpose", g.op("Reshape", g.linear(x, f"{p}.self_attn.k_proj"), "kv_shape"), perm=[0, 2, 1, 3])
        v = g.op("Transpose", g.op("Reshape", g.linear(x, f"{p}.self_attn.v_proj"), "kv_shape"), perm=[0, 2, 1, 3])
        q = g.rotate(q, cos, sin)
        k = g.rotate(k, cos, sin)
        keys = g.op_to(f"present.{i}.key", "Concat", f"past_key_values.{i}.key", k, axis=2)
        values = g.op_to(f"present.{i}.value", "Concat", f"past_key_values.{i}.value", v, axis=2)
        # GQA without copying kv: query heads h = kv*group + r (repeat_kv's order) become [1, kvH, group, S, D],
        # and the kv tensors get a broadcast axis [1, kvH, 1, T, D].
        q5 = g.op("Reshape", q, "q_grouped_shape")
        k5 = g.op("Unsqueeze", keys, "two_1d")
        v5 = g.op("Unsqueeze", values, "two_1d")
        scores = g.op("Mul", g.op("MatMul", q5, g.op("Transpose", k5, perm=[0, 1, 2, 4, 3])), "attn_scale")
        probs = g.op("Softmax", g.op("Where", visible, scores, "masked_score"), axis=-1)
        attn = g.op("Reshape", g.op("MatMul", probs, v5), "heads_shape")
        attn = g.op("Reshape", g.op("Transpose", attn, perm=[0, 2, 1, 3]), "attn_out_shape")
        hidden = g.op("Add", hidden, g.linear(attn, f"{p}.self_attn.o_proj"))

        x = g.norm(hidden, f"{p}.post_attention_layernorm")
        hidden = g.op("Add", hidden, g.mlp(x, f"{p}.mlp"))

    return _finish(g, s, hidden, quantize)


def _finish_gqa(g: GraphBuilder, s: DecoderSpec, cos: str, sin: str, quantize: str | None) -> onnx.ModelProto:
    """The layers with GroupQueryAttention: q/k rotated here (the same ops as the concat graph), kernel causal."""
    g.const("q_flat_shape", np.array([1, -1, s.num_heads * s.head_dim], dtype=np.int64))
    # The kernel's lengths: total = last position + 1 (positions are contiguous from the cached length), as int32.
    last_pos = g.op("Gather", g.op("Squeeze", "position_ids", "zero_1d"), "minus_one_1d", axis=0)  # [1]
    seqlens_k = g.op("Cast", last_pos, to=TensorProto.INT32)
    total_len = g.op("Cast", g.op("Squeeze", g.op("Add", last_pos, "one_1d"), "zero_1d"), to=TensorProto.INT32)

    def attend(i: int, q: str, k: str, v: str) -> str:
        # The kernel takes the keys flat, as the new_key_values.{i}.key output already holds them.
        inputs = [g.op("Reshape", q, "q_flat_shape"), f"{NEW_KV_PREFIX}.{i}.key", v,
                  f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total_len]
        g._n += 1
        attn = f"gqa_{g._n}"
        g.nodes.append(helper.make_node(
            "GroupQueryAttention", inputs, [attn, f"present.{i}.key", f"present.{i}.value"],
            name=f"n{g._n}", domain=MS_DOMAIN,
            num_heads=s.num_heads, kv_num_heads=s.num_kv_heads, scale=float(s.head_dim**-0.5),
        ))
        return attn

    hidden = bsnd_decoder_layers(g, cos, sin, attend)
    return _finish(g, s, hidden, quantize, contrib=True, new_key_values=True)


def _finish(g: GraphBuilder, s: DecoderSpec, hidden: str, quantize: str | None, contrib: bool = False,
            new_key_values: bool = False, present: bool = True, keys_transposed: bool = False) -> onnx.ModelProto:
    """Final norm, the head (last position only) and the model."""
    last = g.op("Gather", g.norm(hidden, "model.norm"), "last_index", axis=1)  # [1, H]
    if quantize:
        # The head is the largest matmul of a decode step (V x H); tied weights get a quantized copy of the embedding.
        head = g.require("model.embed_tokens.weight" if s.tied_lm_head else "lm_head.weight")
        g.op_to("logits", "Identity", g.matmul_nbits(last, head, "lm_head"))
    elif s.tied_lm_head:
        # Gemm with transB reads the [V, H] embedding directly, so tied weights are stored once.
        g.op_to("logits", "Gemm", last, "embed_tokens", transB=1)
    else:
        g.op_to("logits", "Gemm", last, g.const("lm_head", g.require("lm_head.weight")), transB=1)

    graph = helper.make_graph(g.nodes, "repotune_decoder", _graph_inputs(s, keys_transposed),
                              _graph_outputs(s, new_key_values, present), g.initializers)
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid(MS_DOMAIN, 1)] if quantize or contrib else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="repotune")
    model.ir_version = IR_VERSION
    return model


def _graph_inputs(s: DecoderSpec, keys_transposed: bool) -> list[onnx.ValueInfoProto]:
    """keys_transposed: the buffer graph's keys are [1, kvH, head_dim, positions] (onnx_buffer_attention.py)."""
    kv_dims = [1, s.num_kv_heads, "past_sequence_length", s.head_dim]
    key_dims = [1, s.num_kv_heads, s.head_dim, "past_sequence_length"] if keys_transposed else kv_dims
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "sequence_length"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, [1, "sequence_length"]),
    ]
    for i in range(s.num_layers):
        inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.key", TensorProto.FLOAT, key_dims))
        inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.value", TensorProto.FLOAT, kv_dims))
    return inputs


def _graph_outputs(s: DecoderSpec, new_key_values: bool, present: bool) -> list[onnx.ValueInfoProto]:
    kv_dims = [1, s.num_kv_heads, "total_sequence_length", s.head_dim]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, s.vocab_size])]
    for i in range(s.num_layers if present else 0):
        for kind in ("key", "value"):
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT, kv_dims))
    if new_key_values:
        new_dims = [1, "sequence_length", s.num_kv_heads * s.head_dim]
        for i in range(s.num_layers):
            for kind in ("key", "value"):
                outputs.append(helper.make_tensor_value_info(f"{NEW_KV_PREFIX}.{i}.{kind}", TensorProto.FLOAT,
                                                             new_dims))
    assert [o.name for o in outputs] == s.output_names(new_key_values, present)
    return outputs

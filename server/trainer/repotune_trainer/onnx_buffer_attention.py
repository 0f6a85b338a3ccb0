"""The decoder layers of the `"buffer"` export (onnx_graph.py ATTENTION_CHOICES), the default since 2026-11-30.

The sidecar's engine keeps the KV cache in one buffer per layer, [1, kv_heads, capacity, head_dim], and feeds it as
past_key_values.*; position_ids[0] is the cached length P, and positions P.. of the buffer hold stale values. This
graph attends over the whole buffer with plain matmuls, masking positions >= P, plus the fed positions' own keys
(causally), and outputs only those keys/values (new_key_values.*, [1, S, kv_heads * head_dim]), which the engine
writes into its buffer. No present.* output: nothing copies the cache.

Why not GroupQueryAttention ("gqa"): from Node it cannot write in place (onnxruntime-node copies inputs into ORT's
memory and allocates outputs itself), so the kernel copies the past into a new present buffer at every step. Measured
(onnxruntime 1.32, one thread, 24 layers, 14 query / 2 kv heads, d 64, P 2048 in a 2560 buffer, one decode step):
GQA without a shared buffer 40.1 ms, this graph's attention 17.6 ms.

Grouped without copies: query heads h = kv * group + r (repeat_kv's order) become [1, kvH, group, S, D] and the
buffer gets a broadcast axis, [1, kvH, 1, capacity, D]; com.microsoft FusedMatMul's transB reads the keys as they
are stored (a Transpose would copy the buffer).
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from .onnx_builder import MASKED_SCORE, MS_DOMAIN, NEW_KV_PREFIX, DecoderSpec, GraphBuilder


def buffer_attention_layers(g: GraphBuilder, s: DecoderSpec, cos: str, sin: str) -> str:
    """All decoder layers; returns the last hidden state [1, S, H]. cos/sin are [1, S, 1, D] (bsnd layout)."""
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    group = s.num_heads // s.num_kv_heads
    g.const("buf_q_shape", i64([1, -1, s.num_kv_heads, group, s.head_dim]))
    g.const("buf_kv_shape", i64([1, -1, s.num_kv_heads, s.head_dim]))
    g.const("buf_heads_shape", i64([1, -1, s.num_heads, s.head_dim]))
    g.const("buf_flat_kv_shape", i64([1, -1, s.num_kv_heads * s.head_dim]))
    g.const("buf_out_shape", i64([1, -1, s.num_heads * s.head_dim]))
    g.const("buf_masked", np.array(MASKED_SCORE, dtype=np.float32))
    g.const("buf_zero", i64(0))
    g.const("buf_one", i64(1))
    g.const("buf_two", i64(2))

    # Which buffer positions hold the cache: [capacity] < P. Which fed positions a fed query sees: [S, S] causal.
    cached = g.op("Gather", g.op("Squeeze", "position_ids", "zero_1d"), "zero_1d")  # [1]: P
    capacity = g.op("Gather", g.op("Shape", "past_key_values.0.key"), "buf_two", axis=0)
    seq_len = g.op("Gather", g.op("Shape", "input_ids"), "buf_one", axis=0)
    in_cache = g.op("Less", g.op("Range", "buf_zero", capacity, "buf_one"), cached)
    fed = g.op("Range", "buf_zero", seq_len, "buf_one")
    causal = g.op("LessOrEqual", g.op("Unsqueeze", fed, "zero_1d"), g.op("Unsqueeze", fed, "one_1d"))
    split_sizes = g.op("Concat", g.op("Unsqueeze", capacity, "zero_1d"), g.op("Unsqueeze", seq_len, "zero_1d"), axis=0)

    def fused_matmul(a: str, b: str) -> str:  # a @ b^T * head_dim^-0.5
        g._n += 1
        out = f"fusedmatmul_{g._n}"
        g.nodes.append(helper.make_node("FusedMatMul", [a, b], [out], name=f"n{g._n}", domain=MS_DOMAIN, transB=1,
                                        alpha=float(s.head_dim**-0.5)))
        return out

    hidden = g.op("Gather", g.const("embed_tokens", g.require("model.embed_tokens.weight")), "input_ids", axis=0)
    for i in range(s.num_layers):
        p = f"model.layers.{i}"
        x = g.norm(hidden, f"{p}.input_layernorm")
        q = g.rotate(g.op("Reshape", g.linear(x, f"{p}.self_attn.q_proj"), "buf_heads_shape"), cos, sin)
        k = g.rotate(g.op("Reshape", g.linear(x, f"{p}.self_attn.k_proj"), "buf_kv_shape"), cos, sin)  # [1,S,kvH,D]
        v = g.linear(x, f"{p}.self_attn.v_proj")  # [1, S, kvH*D]
        g.op_to(f"{NEW_KV_PREFIX}.{i}.key", "Reshape", k, "buf_flat_kv_shape")
        g.op_to(f"{NEW_KV_PREFIX}.{i}.value", "Identity", v)

        q5 = g.op("Transpose", g.op("Reshape", q, "buf_q_shape"), perm=[0, 2, 3, 1, 4])  # [1, kvH, group, S, D]
        k5 = g.op("Unsqueeze", g.op("Transpose", k, perm=[0, 2, 1, 3]), "two_1d")  # [1, kvH, 1, S, D]
        v5 = g.op("Unsqueeze", g.op("Transpose", g.op("Reshape", v, "buf_kv_shape"), perm=[0, 2, 1, 3]), "two_1d")
        past_k = g.op("Unsqueeze", f"past_key_values.{i}.key", "two_1d")  # [1, kvH, 1, capacity, D]
        past_v = g.op("Unsqueeze", f"past_key_values.{i}.value", "two_1d")
        scores = g.op("Concat",
                      g.op("Where", in_cache, fused_matmul(q5, past_k), "buf_masked"),  # [.., S, capacity]
                      g.op("Where", causal, fused_matmul(q5, k5), "buf_masked"),  # [.., S, S]
                      axis=-1)
        from_cache, from_fed = _split_last_axis(g, g.op("Softmax", scores, axis=-1), split_sizes)
        attn = g.op("Add", g.op("MatMul", from_cache, past_v), g.op("MatMul", from_fed, v5))  # [1,kvH,group,S,D]
        attn = g.op("Reshape", g.op("Transpose", attn, perm=[0, 3, 1, 2, 4]), "buf_out_shape")
        hidden = g.op("Add", hidden, g.linear(attn, f"{p}.self_attn.o_proj"))

        x = g.norm(hidden, f"{p}.post_attention_layernorm")
        hidden = g.op("Add", hidden, g.mlp(x, f"{p}.mlp"))
    return hidden


def _split_last_axis(g: GraphBuilder, x: str, sizes: str) -> tuple[str, str]:
    g._n += 1
    a, b = f"split_{g._n}_a", f"split_{g._n}_b"
    g.nodes.append(helper.make_node("Split", [x, sizes], [a, b], name=f"n{g._n}", axis=-1))
    return a, b

"""The pieces the decoder graph (onnx_graph.py) is built from: the config numbers it depends on (DecoderSpec) and a
small builder that appends nodes and initializers — linear layers (fp32 MatMul or quantized MatMulNBits), the
normalisations, the MLPs and the rotary embedding — each mirroring the transformers module it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import helper

from .onnx_quant import ACCURACY_LEVEL, BLOCK_SIZE, quantize_blockwise

# Domain of onnxruntime's contrib ops (MatMulNBits, GroupQueryAttention).
MS_DOMAIN = "com.microsoft"
# The embedding table of quantized exports (GraphBuilder.embed).
EMBEDDING_QUANTIZATION = "int8"


@dataclass(frozen=True)
class DecoderSpec:
    """The few config numbers the graph depends on (read from config.json via transformers)."""

    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    rms_norm_eps: float  # the norm's epsilon (LayerNorm's too, for "layer" norms)
    inv_freq: np.ndarray  # float32 [head_dim/2], computed exactly as transformers' default rope does
    tied_lm_head: bool
    # Llama/Qwen2/Mistral: RMSNorm and SwiGLU (gate/up/down). StarCoder2: LayerNorm with bias and a GELU (tanh) MLP
    # (c_fc/c_proj).
    norm: str = "rms"
    mlp: str = "swiglu"

    def input_names(self) -> list[str]:
        names = ["input_ids", "position_ids"]
        for i in range(self.num_layers):
            names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        return names

    def output_names(self, new_key_values: bool = False, present: bool = True) -> list[str]:
        names = ["logits"]
        for i in range(self.num_layers if present else 0):
            names += [f"present.{i}.key", f"present.{i}.value"]
        if new_key_values:
            for i in range(self.num_layers):
                names += [f"{NEW_KV_PREFIX}.{i}.key", f"{NEW_KV_PREFIX}.{i}.value"]
        return names


# Outputs of the buffer and gqa graphs: the keys/values of the fed positions only, [1, S, kv_heads * head_dim]
# (rotated keys). onnxruntime-node copies every fetched output back into JavaScript's buffer (its CPU outputs are
# allocated by ORT, not bound to the caller's memory), so fetching present.* copied the whole cache buffer per
# decoded token; the engine fetches these instead and writes them into its cache itself (engine/kvCache.ts).
NEW_KV_PREFIX = "new_key_values"
# Masked attention scores are replaced (not offset) by this, so no inf/NaN can appear even for large activations.
MASKED_SCORE = float(np.finfo(np.float32).min)

# attend(i, q, k, v) -> layer i's attention output [1, S, heads * head_dim], from its rotated queries [1, S, heads, D],
# rotated keys [1, S, kv_heads, D] and values [1, S, kv_heads * D] (bsnd_decoder_layers).
Attend = Callable[[int, str, str, str], str]

# weight(name) -> fp32 array in the Hugging Face layout, or None when absent (optional biases).
WeightGetter = Callable[[str], "np.ndarray | None"]
# make_tensor(name, array) -> the initializer's TensorProto, inline or pointing at external data (the caller decides).
TensorMaker = Callable[[str, np.ndarray], onnx.TensorProto]


class GraphBuilder:
    """Appends nodes (one output each, named by op and counter) and initializers for one decoder graph."""

    def __init__(self, spec: DecoderSpec, weight: WeightGetter, make_tensor: TensorMaker, quantize: str | None):
        self.spec = spec
        self.quantize = quantize
        self.weight = weight
        self.make_tensor = make_tensor
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._n = 0

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        """Appends one node with a single output and returns the output's name."""
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"n{self._n}", **attrs))
        return out

    def op_to(self, output: str, op_type: str, *inputs: str, **attrs) -> str:
        self._n += 1
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=f"n{self._n}", **attrs))
        return output

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self.make_tensor(name, value))
        return name

    def require(self, name: str) -> np.ndarray:
        w = self.weight(name)
        if w is None:
            raise KeyError(f"weight {name!r} is missing from the model")
        return w

    def linear(self, x: str, prefix: str) -> str:
        """x @ W^T (+ b); fp32 W is stored pre-transposed [in, out] so the graph needs a plain MatMul."""
        if self.quantize:
            y = self.matmul_nbits(x, self.require(f"{prefix}.weight"), prefix)
        else:
            w = self.const(f"{prefix}.weight_t", np.ascontiguousarray(self.require(f"{prefix}.weight").T))
            y = self.op("MatMul", x, w)
        bias = self.weight(f"{prefix}.bias")
        if bias is not None:
            y = self.op("Add", y, self.const(f"{prefix}.bias", bias))
        return y

    def matmul_nbits(self, x: str, weight: np.ndarray, prefix: str) -> str:
        """x @ W^T with W [N, K] blockwise-quantized (onnx_quant.py) into a com.microsoft MatMulNBits node."""
        qw = quantize_blockwise(weight, self.quantize)
        packed = self.const(f"{prefix}.weight_q{qw.bits}", qw.packed)
        scales = self.const(f"{prefix}.weight_scales", qw.scales)
        return self.op(
            "MatMulNBits", x, packed, scales, domain=MS_DOMAIN,
            K=qw.k, N=qw.n, bits=qw.bits, block_size=BLOCK_SIZE, accuracy_level=ACCURACY_LEVEL,
        )

    def embed(self, ids: str) -> str:
        """The embedding rows of `ids` ([1, S] -> [1, S, H]).

        Quantized exports look them up in an int8 table (com.microsoft GatherBlockQuantized, MatMulNBits' block
        layout): the file holds no fp32 copy of the vocabulary (545 MB for Qwen2.5-Coder-0.5B, 933 MB for 1.5B), a
        quarter of that instead; the int4 0.5B-shaped export went from 854 to 462 MB. Not int4: the lookup's error
        enters every layer (on the demo model greedy agreement with fp32 fell from 0.58 to 0.17 with an int4 table;
        0.58 with int8). The table is stored in the op's 2-D layout rather than reshaped in the graph: onnxruntime
        maps external initializers from the file, so only the rows looked up are read, where a reshaped copy is
        resident (peak RSS +150-200 MB, measured). A hidden size that is not a whole number of blocks keeps the
        fp32 lookup (the packed rows would carry padding)."""
        table = self.require("model.embed_tokens.weight")
        if not self.quantize or self.spec.hidden_size % BLOCK_SIZE:
            return self.op("Gather", self.const("embed_tokens", table), ids, axis=0)
        qw = quantize_blockwise(table, EMBEDDING_QUANTIZATION)
        rows = self.const(f"embed_tokens.weight_q{qw.bits}", qw.packed.reshape(qw.n, -1))  # [V, H * bits / 8]
        scales = self.const("embed_tokens.weight_scales", qw.scales.reshape(qw.n, -1))  # [V, H / block]
        return self.op("GatherBlockQuantized", rows, ids, scales, domain=MS_DOMAIN,
                       gather_axis=0, quantize_axis=1, block_size=BLOCK_SIZE, bits=qw.bits)

    def norm(self, x: str, prefix: str) -> str:
        """The block's normalisation of x with the weights under `prefix` (RMSNorm, or LayerNorm with bias)."""
        if self.spec.norm == "layer":
            return self.op("LayerNormalization", x, self.const(f"{prefix}.weight", self.require(f"{prefix}.weight")),
                           self.const(f"{prefix}.bias", self.require(f"{prefix}.bias")), axis=-1,
                           epsilon=self.spec.rms_norm_eps)
        return self.rms_norm(x, f"{prefix}.weight")

    def mlp(self, x: str, prefix: str) -> str:
        if self.spec.mlp == "gelu_tanh":
            # gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in standard ops.
            h = self.linear(x, f"{prefix}.c_fc")
            cubic = self.op("Mul", "gelu_cubic", self.op("Mul", h, self.op("Mul", h, h)))
            inner = self.op("Mul", "gelu_sqrt_2_over_pi", self.op("Add", h, cubic))
            act = self.op("Mul", self.op("Mul", "gelu_half", h), self.op("Add", "gelu_one", self.op("Tanh", inner)))
            return self.linear(act, f"{prefix}.c_proj")
        gate = self.linear(x, f"{prefix}.gate_proj")
        act = self.op("Mul", self.op("Mul", gate, self.op("Sigmoid", gate)), self.linear(x, f"{prefix}.up_proj"))
        return self.linear(act, f"{prefix}.down_proj")

    def rms_norm(self, x: str, weight_name: str) -> str:
        var = self.op("ReduceMean", self.op("Mul", x, x), axes=[-1], keepdims=1)
        inv = self.op("Reciprocal", self.op("Sqrt", self.op("Add", var, "rms_eps")))
        return self.op("Mul", self.const(weight_name, self.require(weight_name)), self.op("Mul", x, inv))

    def rotate(self, x: str, cos: str, sin: str) -> str:
        """x * cos + rotate_half(x) * sin, with rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2])."""
        first, second = self._split_half(x)
        rotated = self.op("Concat", self.op("Neg", second), first, axis=-1)
        return self.op("Add", self.op("Mul", x, cos), self.op("Mul", rotated, sin))

    def _split_half(self, x: str) -> tuple[str, str]:
        first = self.op("Slice", x, "zero_1d", "half_dim_1d", "minus_one_1d")
        second = self.op("Slice", x, "half_dim_1d", "int64_max_1d", "minus_one_1d")
        return first, second


def bsnd_decoder_layers(g: GraphBuilder, cos: str, sin: str, attend: Attend) -> str:
    """The decoder layers of the graphs that rotate q/k as [1, S, heads, D] ("buffer" and "gqa"; cos/sin
    [1, S, 1, D]): per layer the input norm, q/k/v with the rotation, the fed positions' keys/values as
    new_key_values.{i}.* outputs ([1, S, kv_heads * D]; `attend` may read them), `attend`, the output projection
    and the MLP, each added to the residual. Returns the last hidden state [1, S, H]."""
    s = g.spec
    g.const("bsnd_q_shape", np.array([1, -1, s.num_heads, s.head_dim], dtype=np.int64))
    g.const("bsnd_kv_shape", np.array([1, -1, s.num_kv_heads, s.head_dim], dtype=np.int64))
    g.const("bsnd_kv_flat_shape", np.array([1, -1, s.num_kv_heads * s.head_dim], dtype=np.int64))
    hidden = g.embed("input_ids")
    for i in range(s.num_layers):
        p = f"model.layers.{i}"
        x = g.norm(hidden, f"{p}.input_layernorm")
        q = g.rotate(g.op("Reshape", g.linear(x, f"{p}.self_attn.q_proj"), "bsnd_q_shape"), cos, sin)
        k = g.rotate(g.op("Reshape", g.linear(x, f"{p}.self_attn.k_proj"), "bsnd_kv_shape"), cos, sin)
        v = g.linear(x, f"{p}.self_attn.v_proj")
        g.op_to(f"{NEW_KV_PREFIX}.{i}.key", "Reshape", k, "bsnd_kv_flat_shape")
        g.op_to(f"{NEW_KV_PREFIX}.{i}.value", "Identity", v)
        hidden = g.op("Add", hidden, g.linear(attend(i, q, k, v), f"{p}.self_attn.o_proj"))
        x = g.norm(hidden, f"{p}.post_attention_layernorm")
        hidden = g.op("Add", hidden, g.mlp(x, f"{p}.mlp"))
    return hidden

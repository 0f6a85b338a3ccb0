"""Blockwise weight quantization for onnxruntime's MatMulNBits (com.microsoft contrib op, CPU kernel in ORT >= 1.17).

Why numpy and not onnxruntime.quantization.MatMul4BitsQuantizer: our graph is built here anyway, so emitting
MatMulNBits directly avoids a second pass that loads the whole fp32 model into protobuf (impossible above 2 GiB)
and keeps the export's peak memory near one copy of the weights.

Layout (MatMulNBits spec, contrib_defs): for Y = A @ W^T with W [N, K] (the Hugging Face Linear layout),
    B      uint8 [N, ceil(K / block_size), block_size * bits / 8]   quantized values, low nibble first for 4 bits
    scales float [N * ceil(K / block_size)]
and no zero_points input, which means the spec's default zero point 2^(bits-1) (8 for int4, 128 for int8): the
quantization is symmetric, w ≈ (q - 2^(bits-1)) * scale, scale = -(the block's largest-magnitude value) / 2^(bits-1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Block of K elements sharing one scale: 32 is what llama.cpp's Q4_0/Q8_0 use and ORT's kernels are tuned for.
BLOCK_SIZE = 32
BITS = {"int4": 4, "int8": 8}
# MatMulNBits accuracy_level 4 lets ORT quantize the activations to int8 blockwise and use integer dot products.
# Measured (0.5B-shaped int4 export, onnxruntime-node 1.30, 1 thread): decode 22-26 tok/s vs 15.7 at level 0
# (fp32 compute), prefill of 256 tokens about the same. tests/test_export_onnx_quant.py bounds the extra error.
ACCURACY_LEVEL = 4
QUANTIZATION_CHOICES = (None, "int4", "int8")


@dataclass(frozen=True)
class QuantizedWeight:
    packed: np.ndarray  # uint8 [N, blocks, block_size * bits / 8]
    scales: np.ndarray  # float32 [N * blocks]
    n: int
    k: int
    bits: int


def quantize_blockwise(weight: np.ndarray, kind: str) -> QuantizedWeight:
    """Symmetric blockwise quantization of a [N, K] fp32 weight along K."""
    if kind not in BITS:
        raise ValueError(f"unknown quantization {kind!r}; expected one of {', '.join(BITS)}")
    bits = BITS[kind]
    n, k = weight.shape
    blocks = -(-k // BLOCK_SIZE)
    padded = np.zeros((n, blocks * BLOCK_SIZE), dtype=np.float32)
    padded[:, :k] = weight
    grouped = padded.reshape(n, blocks, BLOCK_SIZE)
    zero_point = 2 ** (bits - 1)
    # llama.cpp's Q4_0/Q8_0 rule: the block's largest-magnitude value maps exactly onto -2^(bits-1), so all 2^bits
    # levels are used (absmax / (2^(bits-1) - 1) would waste one and make each step ~14% coarser for int4).
    extreme = np.take_along_axis(grouped, np.abs(grouped).argmax(axis=2)[..., None], axis=2)
    scales = np.where(extreme != 0, extreme / -zero_point, 1.0).astype(np.float32)
    q = np.clip(np.rint(grouped / scales), -zero_point, zero_point - 1).astype(np.int16) + zero_point
    q = q.astype(np.uint8)
    if bits == 4:
        q = q[..., 0::2] | (q[..., 1::2] << 4)  # element 2i in the low nibble, 2i+1 in the high one
    return QuantizedWeight(np.ascontiguousarray(q), scales.reshape(-1), n, k, bits)


def dequantize(qw: QuantizedWeight) -> np.ndarray:
    """The fp32 [N, K] weight that MatMulNBits computes with (for tests and error estimates)."""
    q = qw.packed
    if qw.bits == 4:
        q = np.stack([q & 0x0F, q >> 4], axis=-1).reshape(q.shape[0], q.shape[1], -1)
    values = (q.astype(np.float32) - 2 ** (qw.bits - 1)) * qw.scales.reshape(qw.n, -1, 1)
    return values.reshape(qw.n, -1)[:, : qw.k]

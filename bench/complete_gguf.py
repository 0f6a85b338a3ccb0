"""Writes the bench model (bench/complete_model.py's hf/) as Qwen2 GGUF files for the llama.cpp peer.

    python bench/complete_gguf.py BENCH_DIR        (needs the `gguf` package on sys.path)

Writes BENCH_DIR/gguf/model-f32.gguf and model-q4_0.gguf: the same weights; Q4_0 (blocks of 32, one scale) for
every 2-D weight in the q4_0 file, as our int4 export (which keeps the embedding lookup fp32 but quantizes the
tied lm_head). Tensor names and metadata keys follow llama.cpp's convert_hf_to_gguf.py for Qwen2. The demo
tokenizer's 1,088 tokens are padded with unused placeholder tokens up to the model's 151,936 rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import gguf

LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf_name: str) -> str:
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    _, _, layer, rest = hf_name.split(".", 3)
    return f"blk.{layer}.{LAYER_TENSORS[rest]}"


def add_tokenizer(writer: gguf.GGUFWriter, hf_dir: Path, vocab_size: int) -> None:
    tok = json.loads((hf_dir / "tokenizer.json").read_text())
    tokens = [""] * vocab_size
    types = [gguf.TokenType.UNUSED] * vocab_size
    for text, idx in tok["model"]["vocab"].items():
        tokens[idx], types[idx] = text, gguf.TokenType.NORMAL
    for added in tok["added_tokens"]:
        tokens[added["id"]] = added["content"]
        types[added["id"]] = gguf.TokenType.CONTROL if added["special"] else gguf.TokenType.USER_DEFINED
    for i, text in enumerate(tokens):
        if not text:
            tokens[i] = f"[PAD{i}]"
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    cfg = json.loads((hf_dir / "config.json").read_text())
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(cfg["bos_token_id"])
    writer.add_eos_token_id(cfg["eos_token_id"])
    writer.add_add_bos_token(False)


def write(hf_dir: Path, out: Path, quantize: bool) -> None:
    cfg = json.loads((hf_dir / "config.json").read_text())
    weights = load_file(str(hf_dir / "model.safetensors"))
    writer = gguf.GGUFWriter(str(out), "qwen2")
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(cfg["num_attention_heads"])
    writer.add_head_count_kv(cfg["num_key_value_heads"])
    rope_theta = cfg.get("rope_theta") or cfg["rope_parameters"]["rope_theta"]  # transformers 5 nests it
    writer.add_rope_freq_base(float(rope_theta))
    writer.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0 if quantize else gguf.LlamaFileType.ALL_F32)
    add_tokenizer(writer, hf_dir, cfg["vocab_size"])
    for name, array in weights.items():
        if name == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            continue
        array = array.astype(np.float32)
        if quantize and array.ndim == 2:
            writer.add_tensor(gguf_name(name), gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q4_0),
                              raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        else:
            writer.add_tensor(gguf_name(name), array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> int:
    bench = Path(sys.argv[1]).resolve()
    hf_dir, out_dir = bench / "hf", bench / "gguf"
    out_dir.mkdir(exist_ok=True)
    for quantize, name in ((False, "model-f32.gguf"), (True, "model-q4_0.gguf")):
        target = out_dir / name
        if not target.is_file():
            tmp = target.with_suffix(".tmp")
            print(f"writing {target}", file=sys.stderr)
            write(hf_dir, tmp, quantize)
            tmp.rename(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Exports base + LoRA adapter, merged, as one GGUF file for llama.cpp ("Export adapter" → GGUF).

llama.cpp (llama-server, and what builds on it: Ollama, LM Studio, llama.vscode) serves the adapted model on a
machine or a team server without RepoTune; its `/infill` endpoint reads the FIM token ids written here. The file
is written with the `gguf` package (llama.cpp's own writer, from PyPI), tensor names and metadata keys as
llama.cpp's convert_hf_to_gguf.py writes them for the Qwen2 architecture (Qwen2.5-Coder and the demo model);
bench/complete.mjs --llama loads this writer's output in llama.cpp. Other architectures are refused with the way
out: export "merged" and convert it with llama.cpp's converter (Llama-architecture models need its q/k permutation
and rope-scaling handling, which are not repeated here untested).

    python -m repotune_trainer.export_gguf --model DIR [--adapter DIR] --out DIR [--type f16|q8_0|q4_0|f32]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .checkpoint import ADAPTER_META, now_iso
from .errors import BAD_DATA, require_module
from .export_onnx import ExportError, _check_adapter_dir, _eos_token_ids, _load_merged_model, _read_config
from .export_staging import adapter_metadata, run_export_cli, staged_export

GGUF_FILE = "model.gguf"
# Weight types: the export's `quantize` option (shared with the ONNX export) → GGUF tensor type of 2-D weights.
TENSOR_TYPES = ("f32", "f16", "q8_0", "q4_0")
TYPE_FOR_QUANTIZE = {None: "f16", "int8": "q8_0", "int4": "q4_0"}
SUPPORTED_MODEL_TYPES = ("qwen2",)
# Per-layer Hugging Face names → llama.cpp's (gguf-py tensor_mapping for Qwen2).
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
# Qwen2.5-Coder's FIM and repository tokens → the llama.cpp metadata key suffix naming each (tokenizer.ggml.*).
FIM_TOKENS = {"<|fim_prefix|>": "fim_pre", "<|fim_suffix|>": "fim_suf", "<|fim_middle|>": "fim_mid",
              "<|fim_pad|>": "fim_pad", "<|repo_name|>": "fim_rep", "<|file_sep|>": "fim_sep"}


def gguf_tensor_name(hf_name: str) -> str:
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    parts = hf_name.split(".", 3)
    if len(parts) != 4 or parts[:2] != ["model", "layers"] or parts[3] not in LAYER_TENSORS:
        raise ExportError(f"weight {hf_name!r} has no GGUF name for the qwen2 architecture")
    return f"blk.{parts[2]}.{LAYER_TENSORS[parts[3]]}"


def export_gguf(model_dir: str, adapter_dir: str | None, out_dir: str, tensor_type: str = "f16") -> dict:
    """Writes <out_dir>/model.gguf (+ repotune-adapter.json); returns {"gguf_path", "tensor_type", "files"}."""
    for name in ("torch", "transformers", "safetensors", "gguf") + (("peft",) if adapter_dir else ()):
        require_module(name)
    if tensor_type not in TENSOR_TYPES:
        raise ExportError(f"unknown GGUF tensor type {tensor_type!r}; expected one of {', '.join(TENSOR_TYPES)}", kind=BAD_DATA)
    model_path = Path(model_dir).resolve()
    adapter_path = Path(adapter_dir).resolve() if adapter_dir else None
    out = Path(out_dir).resolve()
    cfg = _read_config(model_path)
    if cfg.get("model_type") not in SUPPORTED_MODEL_TYPES:
        raise ExportError(f"GGUF export supports the {', '.join(SUPPORTED_MODEL_TYPES)} architecture (Qwen2.5-Coder); "
                          f"{model_path} is {cfg.get('model_type')!r}: export 'merged' and convert that folder with "
                          "llama.cpp's convert_hf_to_gguf.py")
    tokenizer = _read_tokenizer(model_path)
    if adapter_path is not None:
        _check_adapter_dir(adapter_path)
    memory = f"write {model_path} as GGUF (needs the fp32 weights in RAM)"
    with staged_export(out, what="the GGUF export", memory=memory) as tmp:
        model = _load_merged_model(model_path, adapter_path)
        weights = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
        del model
        _write(tmp / GGUF_FILE, cfg, weights, tokenizer, _eos_token_ids(model_path, cfg), tensor_type)
        meta = {"base_model": str(model_path), "adapter": str(adapter_path) if adapter_path else None,
                "format": "gguf", "tensor_type": tensor_type, "created": now_iso()}
        if (source := adapter_metadata(adapter_path)) is not None:
            meta["adapter_metadata"] = source
        (tmp / ADAPTER_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {"gguf_path": str(out / GGUF_FILE), "tensor_type": tensor_type, "files": sorted(p.name for p in out.iterdir())}


def _read_tokenizer(model_path: Path) -> dict:
    path = model_path / "tokenizer.json"
    try:
        tok = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ExportError(f"{path} is missing or not valid JSON: {e}") from e
    if (tok.get("model") or {}).get("type") != "BPE":
        raise ExportError(f"{path} is not a byte-level BPE tokenizer: llama.cpp's qwen2 tokenizer cannot read it")
    return tok


def _write(path: Path, cfg: dict, weights: dict, tok: dict, eos_ids: list[int], tensor_type: str) -> None:
    import gguf

    file_types = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                  "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_context_length(int(cfg["max_position_embeddings"]))
    writer.add_embedding_length(int(cfg["hidden_size"]))
    writer.add_block_count(int(cfg["num_hidden_layers"]))
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_head_count(int(cfg["num_attention_heads"]))
    writer.add_head_count_kv(int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]))
    rope_theta = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0)  # transformers 5 nests it
    writer.add_rope_freq_base(float(rope_theta))
    writer.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    writer.add_file_type(file_types[tensor_type])
    _add_tokenizer(writer, tok, int(cfg["vocab_size"]), eos_ids, cfg.get("bos_token_id"))
    for name, array in weights.items():
        if name == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            continue  # llama.cpp reads the tied head from token_embd
        _add_tensor(writer, gguf_tensor_name(name), array, tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _add_tensor(writer, name: str, array: np.ndarray, tensor_type: str) -> None:
    import gguf

    array = np.ascontiguousarray(array, dtype=np.float32)
    # Norms and biases stay f32, as llama.cpp's converter keeps them: they are tiny and precision-sensitive.
    if array.ndim < 2 or tensor_type == "f32":
        writer.add_tensor(name, array)
    elif tensor_type == "f16":
        writer.add_tensor(name, array.astype(np.float16))
    else:
        qtype = gguf.GGMLQuantizationType.Q8_0 if tensor_type == "q8_0" else gguf.GGMLQuantizationType.Q4_0
        if array.shape[-1] % 32:
            raise ExportError(f"{name}: rows of {array.shape[-1]} values do not split into {tensor_type} blocks of 32; use f16")
        writer.add_tensor(name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)


def _add_tokenizer(writer, tok: dict, vocab_size: int, eos_ids: list[int], bos_id) -> None:
    import gguf

    tokens: list[str | None] = [None] * vocab_size
    types = [gguf.TokenType.UNUSED] * vocab_size
    entries = [(idx, text, gguf.TokenType.NORMAL) for text, idx in tok["model"]["vocab"].items()]
    entries += [(a["id"], a["content"], gguf.TokenType.CONTROL if a.get("special") else gguf.TokenType.USER_DEFINED)
                for a in tok.get("added_tokens", [])]
    for idx, text, kind in entries:
        if idx >= vocab_size:
            raise ExportError(f"token {text!r} has id {idx}, beyond the model's vocab_size {vocab_size}")
        tokens[idx], types[idx] = text, kind
    # The embedding has rows no token uses (padding to a multiple of 64): llama.cpp wants a name for each.
    names = [t if t is not None else f"[PAD{i}]" for i, t in enumerate(tokens)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(names)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    if eos_ids:
        writer.add_eos_token_id(eos_ids[0])
    if bos_id is not None:
        writer.add_bos_token_id(int(bos_id))
    writer.add_add_bos_token(False)
    ids = {a["content"]: a["id"] for a in tok.get("added_tokens", [])}
    for text, key in FIM_TOKENS.items():
        if text in ids:
            writer.add_uint32(f"tokenizer.ggml.{key}_token_id", ids[text])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Merge a LoRA adapter into its base model and write one GGUF file.")
    ap.add_argument("--model", required=True, help="base model directory (Hugging Face layout, safetensors)")
    ap.add_argument("--adapter", help="PEFT adapter directory (omitted: the base model alone)")
    ap.add_argument("--out", required=True, help="output directory (replaced if it exists)")
    ap.add_argument("--type", default="f16", choices=TENSOR_TYPES, help="weight type of the matrices")
    return run_export_cli(ap, lambda a: export_gguf(a.model, a.adapter, a.out, a.type), argv)


if __name__ == "__main__":
    sys.exit(main())

"""Exports a base model (+ an optional LoRA adapter, merged) to ONNX for RepoTune's onnxruntime-node engine.

Layout and graph I/O are fixed by docs/architecture.md ("Adapter and export layout"); the graph itself is built
by onnx_graph.py from the merged fp32 weights. The export is written to a temp dir beside out_dir and renamed
into place, so a reader never sees a half-written model.

    python -m repotune_trainer.export_onnx --model DIR [--adapter DIR] --out DIR [--quantize int4|int8]

quantize (default None = fp32) stores the linear layers' weights blockwise-quantized for onnxruntime's
MatMulNBits (onnx_quant.py): CPU serving of larger models. The graph's inputs/outputs stay float32.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import INTERNAL, require_module
from .export_staging import ExportError, run_export_cli, staged_export

ONNX_FILE = "model.onnx"
EXTERNAL_DATA_FILE = "model.onnx.data"
METADATA_FILE = "repotune-onnx.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
# Protobuf cannot serialize 2 GiB; above this size the weights go to model.onnx.data instead.
EXTERNAL_DATA_THRESHOLD_BYTES = 1_500_000_000
SUPPORTED_MODEL_TYPES = ("qwen2", "llama", "mistral", "starcoder2")
# The MLP activation each architecture's graph implements (onnx_graph.py DecoderSpec.mlp).
HIDDEN_ACT = {"qwen2": "silu", "llama": "silu", "mistral": "silu", "starcoder2": "gelu_pytorch_tanh"}
# Rotary variants whose frequencies are fixed at load time (transformers bakes the scaling into rotary_emb.inv_freq,
# which the graph uses as is, and leaves attention_scaling at 1, checked after loading): DeepSeek-Coder's "linear"
# (positions / factor) and Llama 3's "llama3". "dynamic" and "longrope" change with the sequence length, and
# "yarn" scales attention: those are refused.
STATIC_ROPE_TYPES = ("default", "linear", "llama3")
HASH_CHUNK_BYTES = 1 << 20

if TYPE_CHECKING:  # onnx and numpy are imported lazily, after the dependency check
    from .onnx_graph import DecoderSpec



def export_onnx(
    model_dir: str,
    adapter_dir: str | None,
    out_dir: str,
    *,
    external_data: bool | None = None,
    quantize: str | None = None,
    attention: str | None = None,
) -> dict:
    """Writes <out_dir>/model.onnx (+ model.onnx.data when large) and repotune-onnx.json.

    external_data forces (True) or forbids (False) the external weights file; None decides by size.
    quantize: None (fp32), "int4" or "int8" weights for the linear layers and the lm_head.
    attention: "buffer" (default: matmuls over the engine's cache buffer), "gqa" (onnxruntime's fused
    GroupQueryAttention) or "concat" (standard ops only); onnx_graph.py ATTENTION_CHOICES.
    Returns {"onnx_dir", "onnx_path"} with absolute paths.
    """
    # Heavy packages are checked up front so a broken environment reads as missing_dependency, not a crash.
    for name in ("numpy", "onnx", "torch", "transformers", "safetensors") + (("peft",) if adapter_dir else ()):
        require_module(name)
    from .onnx_graph import ATTENTION_CHOICES, DEFAULT_ATTENTION, build_decoder_model
    from .onnx_quant import QUANTIZATION_CHOICES
    from .onnx_tensors import TensorStore

    if quantize not in QUANTIZATION_CHOICES:
        choices = ", ".join(str(c) for c in QUANTIZATION_CHOICES if c)
        raise ExportError(f"unknown quantization {quantize!r}: use one of {choices}, or none for fp32")

    attention = attention or DEFAULT_ATTENTION
    if attention not in ATTENTION_CHOICES:
        raise ExportError(f"unknown attention {attention!r}: use one of {', '.join(ATTENTION_CHOICES)}")

    model_path = Path(model_dir).resolve()
    adapter_path = Path(adapter_dir).resolve() if adapter_dir else None
    out = Path(out_dir).resolve()
    raw_config = _read_config(model_path)
    _check_supported(raw_config, model_path)
    if adapter_path is not None:
        _check_adapter_dir(adapter_path)
    with staged_export(out, what="the ONNX export", memory=f"export {model_path} (the fp32 export needs about twice "
                       "the weights' size in RAM)") as tmp:
        model = _load_merged_model(model_path, adapter_path)
        spec, weights = _decoder_spec_and_weights(model)
        total_bytes = sum(w.nbytes for w in weights.values())
        use_external = total_bytes > EXTERNAL_DATA_THRESHOLD_BYTES if external_data is None else external_data
        with TensorStore(tmp / EXTERNAL_DATA_FILE if use_external else None) as store:
            onnx_model = build_decoder_model(spec, weights.get, store.make_tensor, quantize, attention)
        del model, weights
        (tmp / ONNX_FILE).write_bytes(onnx_model.SerializeToString())
        _check_onnx_file(tmp / ONNX_FILE)
        meta = _metadata(spec, raw_config, model_path, adapter_path, quantize, attention)
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {"onnx_dir": str(out), "onnx_path": str(out / ONNX_FILE)}


def check_servable(model_dir: str) -> dict:
    """Raises the export's own ExportError when it would refuse this model (architecture, rotary variant, weights
    format); reads config.json only, so the pipeline asks before training rather than failing after it."""
    model_path = Path(model_dir).resolve()
    _check_supported(_read_config(model_path), model_path)
    return {"servable": True}


def _read_config(model_path: Path) -> dict:
    cfg_file = model_path / "config.json"
    if not model_path.is_dir():
        raise ExportError(f"model directory {model_path} does not exist")
    if not cfg_file.is_file():
        raise ExportError(f"{model_path} has no config.json: it is not a Hugging Face model directory")
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ExportError(f"{cfg_file} is not valid JSON: {e}") from e
    if not isinstance(cfg, dict):
        raise ExportError(f"{cfg_file} is not a JSON object")
    return cfg


def _check_supported(cfg: dict, model_path: Path) -> None:
    """Refuses, before any heavy loading, what the hand-built graph does not implement."""
    model_type = cfg.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        arch = ", ".join(cfg.get("architectures") or []) or "unknown architecture"
        raise ExportError(
            f"unsupported architecture: model_type {model_type!r} ({arch}) in {model_path}; "
            f"the ONNX exporter supports {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    act = HIDDEN_ACT[model_type]
    if cfg.get("hidden_act", act) != act:
        raise ExportError(
            f"unsupported hidden_act {cfg.get('hidden_act')!r}: the exporter implements {act} for {model_type}"
        )
    for key in ("rope_scaling", "rope_parameters"):
        rope = cfg.get(key)
        rope_type = (rope.get("rope_type") or rope.get("type") or "default") if isinstance(rope, dict) else "default"
        if rope_type not in STATIC_ROPE_TYPES:
            raise ExportError(
                f"unsupported {key} of type {rope_type!r}: the exporter implements rotary embeddings with fixed "
                f"frequencies only ({', '.join(STATIC_ROPE_TYPES)})"
            )
    if cfg.get("partial_rotary_factor", 1.0) != 1.0:
        raise ExportError("unsupported partial_rotary_factor: the exporter rotates the full head dimension only")
    if not any(model_path.glob("*.safetensors")):
        raise ExportError(f"{model_path} has no *.safetensors weights (only safetensors models can be exported)")


def _check_adapter_dir(adapter_path: Path) -> None:
    if not (adapter_path / "adapter_config.json").is_file():
        raise ExportError(f"{adapter_path} is not a PEFT adapter directory (no adapter_config.json)")
    if not (adapter_path / ADAPTER_WEIGHTS_FILE).is_file():
        raise ExportError(f"{adapter_path} has no {ADAPTER_WEIGHTS_FILE} (only safetensors adapters can be exported)")


def _load_merged_model(model_path: Path, adapter_path: Path | None):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per export would only clutter the sidecar's log
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            str(model_path), dtype=torch.float32, use_safetensors=True, local_files_only=True, output_loading_info=True
        )
    except MemoryError:
        raise
    except Exception as e:  # safetensors/transformers raise many types for a corrupt or partial model
        raise ExportError(f"could not load the model in {model_path}: {e}") from e
    missing = [k for k in info.get("missing_keys", []) if k != "lm_head.weight"]
    if missing:
        raise ExportError(f"the weights in {model_path} are incomplete; missing: {', '.join(sorted(missing)[:5])}")
    if adapter_path is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
        except MemoryError:
            raise
        except Exception as e:  # a mismatched or corrupt adapter surfaces as size/key/format errors
            raise ExportError(f"could not apply the adapter in {adapter_path} to {model_path}: {e}") from e
    return model.eval()


def _decoder_spec_and_weights(model) -> tuple[DecoderSpec, dict]:
    import torch

    from .onnx_graph import DecoderSpec

    cfg = model.config
    rotary = model.model.rotary_emb
    if float(getattr(rotary, "attention_scaling", 1.0)) != 1.0:
        raise ExportError("unsupported rotary attention scaling: the exporter implements default rotary only")
    with torch.no_grad():
        weights = {k: v.detach().to(torch.float32).contiguous().numpy() for k, v in model.state_dict().items()}
        tied = "lm_head.weight" not in weights or bool(
            torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
        )
    if tied:
        weights.pop("lm_head.weight", None)
    num_heads = cfg.num_attention_heads
    starcoder2 = cfg.model_type == "starcoder2"
    spec = DecoderSpec(
        num_layers=cfg.num_hidden_layers,
        hidden_size=cfg.hidden_size,
        num_heads=num_heads,
        num_kv_heads=getattr(cfg, "num_key_value_heads", None) or num_heads,
        head_dim=getattr(cfg, "head_dim", None) or cfg.hidden_size // num_heads,
        vocab_size=cfg.vocab_size,
        rms_norm_eps=float(cfg.norm_epsilon if starcoder2 else cfg.rms_norm_eps),
        # The model's own buffer: bit-identical to what transformers multiplies position_ids by.
        inv_freq=rotary.inv_freq.detach().to(torch.float32).numpy().copy(),
        tied_lm_head=tied,
        # StarCoder2's sliding window (4096 for the 3B) is not applied: serving prompts stay far below it.
        norm="layer" if starcoder2 else "rms",
        mlp="gelu_tanh" if starcoder2 else "swiglu",
    )
    return spec, weights


def _check_onnx_file(path: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(path))
    except Exception as e:  # a failure here is an exporter bug, not the user's input
        raise ExportError(f"the exported graph failed ONNX validation: {e}", kind=INTERNAL) from e


def _eos_token_ids(model_path: Path, cfg: dict) -> list[int]:
    eos = None
    gen_file = model_path / "generation_config.json"
    if gen_file.is_file():
        try:
            eos = json.loads(gen_file.read_text(encoding="utf-8")).get("eos_token_id")
        except (OSError, ValueError):
            eos = None
    if eos is None:
        eos = cfg.get("eos_token_id")
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    return [int(i) for i in ids]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def _metadata(
    spec: DecoderSpec, cfg: dict, model_path: Path, adapter_path: Path | None, quantize: str | None, attention: str
) -> dict:
    from .onnx_graph import OPSET

    return {
        "num_layers": spec.num_layers,
        "num_kv_heads": spec.num_kv_heads,
        "head_dim": spec.head_dim,
        "vocab_size": spec.vocab_size,
        "eos_token_ids": _eos_token_ids(model_path, cfg),
        "dtype": "float32",  # of the graph's inputs/outputs (the contract), whatever the weights' storage
        "weight_quantization": quantize,
        # "buffer"/"gqa": past_key_values.* may be a fixed-length buffer (the past length is read from position_ids);
        # "concat": past_key_values.* hold exactly the cached positions (onnx_graph.py ATTENTION_CHOICES).
        "attention": attention,
        "inputs": spec.input_names(),
        "outputs": spec.output_names(new_key_values=attention != "concat", present=attention != "buffer"),
        "opset": OPSET,
        "model_type": cfg.get("model_type"),
        "source": {
            "base_model_dir": str(model_path),
            "adapter_dir": str(adapter_path) if adapter_path else None,
            "adapter_sha256": _sha256(adapter_path / ADAPTER_WEIGHTS_FILE) if adapter_path else None,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export a base model (+ LoRA adapter, merged) to ONNX for RepoTune.")
    ap.add_argument("--model", required=True, help="Hugging Face model directory (safetensors)")
    ap.add_argument("--adapter", default=None, help="PEFT adapter directory to merge (optional)")
    ap.add_argument("--out", required=True, help="output directory (replaced atomically)")
    ap.add_argument("--quantize", choices=["int4", "int8"], default=None, help="weight quantization (default fp32)")
    ap.add_argument("--attention", choices=["buffer", "gqa", "concat"], default=None,
                    help="attention graph (default buffer)")
    return run_export_cli(
        ap, lambda a: export_onnx(a.model, a.adapter, a.out, quantize=a.quantize, attention=a.attention), argv
    )


if __name__ == "__main__":
    raise SystemExit(main())

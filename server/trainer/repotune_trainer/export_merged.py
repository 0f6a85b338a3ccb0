"""Exports base + LoRA adapter merged into one Hugging Face model folder ("Export adapter" → merged model).

The folder is what `AutoModelForCausalLM.from_pretrained` loads without PEFT: config.json, the merged weights as
safetensors, the base model's tokenizer files and repotune-adapter.json naming the base and adapter it came from.
Weights are merged in fp32 (the same loading path as the ONNX export, export_onnx._load_merged_model), written to a
temp dir beside out_dir and renamed into place, so a reader never sees half a model.

    python -m repotune_trainer.export_merged --model DIR --adapter DIR --out DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from .checkpoint import ADAPTER_META, TOKENIZER_FILES, now_iso
from .errors import require_module
from .export_onnx import _check_adapter_dir, _load_merged_model, _read_config
from .export_staging import adapter_metadata, run_export_cli, staged_export

# Written next to the weights: where the merged model came from.
MERGED_META_FILE = ADAPTER_META


def export_merged(model_dir: str, adapter_dir: str, out_dir: str) -> dict:
    """Writes <out_dir> as a complete HF model folder (base + adapter merged); returns {"merged_dir", "files"}."""
    for name in ("torch", "transformers", "safetensors", "peft"):
        require_module(name)
    model_path = Path(model_dir).resolve()
    adapter_path = Path(adapter_dir).resolve()
    out = Path(out_dir).resolve()
    _read_config(model_path)  # a clear error for a missing or broken model folder, before loading anything
    _check_adapter_dir(adapter_path)
    memory = f"merge {adapter_path} into {model_path} (needs the fp32 weights in RAM)"
    with staged_export(out, what="the merged model", memory=memory) as tmp:
        model = _load_merged_model(model_path, adapter_path)
        model.save_pretrained(str(tmp), safe_serialization=True)
        del model
        for name in TOKENIZER_FILES:
            if (model_path / name).is_file():
                shutil.copy2(model_path / name, tmp / name)
        meta = {"base_model": str(model_path), "adapter": str(adapter_path), "merged": True, "created": now_iso()}
        if (source := adapter_metadata(adapter_path)) is not None:
            meta["adapter_metadata"] = source
        (tmp / MERGED_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {"merged_dir": str(out), "files": sorted(p.name for p in out.iterdir())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Merge a LoRA adapter into its base model (one HF model folder).")
    ap.add_argument("--model", required=True, help="base model directory (Hugging Face layout, safetensors)")
    ap.add_argument("--adapter", required=True, help="PEFT adapter directory")
    ap.add_argument("--out", required=True, help="output directory (replaced if it exists)")
    return run_export_cli(ap, lambda a: export_merged(a.model, a.adapter, a.out), argv)


if __name__ == "__main__":
    sys.exit(main())

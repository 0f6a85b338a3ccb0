"""Builds (once) the benchmark model of bench/complete: Qwen2.5-Coder-0.5B's shape with random weights.

    python bench/complete_model.py OUT_DIR DEMO_MODEL_DIR [ATTENTION,...]

Writes OUT_DIR/hf (Hugging Face dir with the demo tokenizer) and, per attention kernel (default buffer; see
repotune_trainer/onnx_graph.py ATTENTION_CHOICES), OUT_DIR/onnx-fp32-<attention> and OUT_DIR/onnx-int4-<attention>.
The vocabulary keeps Qwen2.5's 151,936 rows, so the embedding and the lm_head cost what the real model's do; the
demo tokenizer only knows the first ids, so the rows above it are zeroed: their logits are 0 and greedy decoding
(random positive and negative logits elsewhere) stays on ids the tokenizer can decode. The compute is unchanged.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

# Qwen2.5-Coder-0.5B (config.json of the Hub model).
QWEN_05B = dict(
    hidden_size=896,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    intermediate_size=4864,
    vocab_size=151936,
    max_position_embeddings=32768,
    rope_theta=1000000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "generation_config.json")
SEED = 0


def build_hf(hf_dir: Path, demo_dir: Path) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(SEED)
    demo_cfg = json.loads((demo_dir / "config.json").read_text())
    cfg = Qwen2Config(**QWEN_05B, bos_token_id=demo_cfg["bos_token_id"], eos_token_id=demo_cfg["eos_token_id"])
    model = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():
        model.model.embed_tokens.weight[demo_cfg["vocab_size"]:] = 0.0
    tmp = hf_dir.with_name(hf_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (demo_dir / name).is_file():
            shutil.copy(demo_dir / name, tmp / name)
    tmp.rename(hf_dir)


# The exporter's files that shape the graph: export_onnx.py and every onnx_*.py (a listed subset went stale).
_EXPORTER_DIR = Path(__file__).resolve().parent.parent / "server" / "trainer" / "repotune_trainer"
EXPORTER_SOURCES = [_EXPORTER_DIR / "export_onnx.py", *sorted(_EXPORTER_DIR.glob("onnx_*.py"))]


def main() -> int:
    out, demo = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    attentions = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else ["buffer"]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server" / "trainer"))
    from repotune_trainer.export_onnx import export_onnx

    out.mkdir(parents=True, exist_ok=True)
    hf = out / "hf"
    if not (hf / "model.safetensors").is_file():
        print(f"building random 0.5B-shaped model in {hf}", file=sys.stderr)
        build_hf(hf, demo)
    for attention in attentions:
        for quantize in (None, "int4"):
            target = out / f"onnx-{quantize or 'fp32'}-{attention}"
            meta = target / "repotune-onnx.json"
            # Exported again when the exporter changed since: the benchmark must time the graph RepoTune exports now.
            if not meta.is_file() or meta.stat().st_mtime < max(f.stat().st_mtime for f in EXPORTER_SOURCES):
                print(f"exporting {target}", file=sys.stderr)
                export_onnx(str(hf), None, str(target), quantize=quantize, attention=attention)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

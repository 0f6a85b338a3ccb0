"""Writes the inputs of bench/gguf_check.mjs: the demo model with a random LoRA adapter exported as GGUF (f32 and
Q8_0) by the product's export (repotune_trainer/export_gguf.py), and the greedy tokens PEFT generates from a few
prompts — what llama.cpp must reproduce from the f32 file.

    python bench/gguf_check.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server" / "trainer"))

from repotune_trainer.demo_model import write_demo_model, write_random_adapter  # noqa: E402 - after the path setup
from repotune_trainer.export_gguf import export_gguf  # noqa: E402

NEW_TOKENS = 16
# Ids of the demo tokenizer; the second prompt is a FIM prompt (<|fim_prefix|> … <|fim_suffix|> … <|fim_middle|>).
PROMPTS = [[11, 42, 7, 300, 5, 19, 64, 2], [1027, 100, 200, 300, 1029, 50, 60, 1028]]


def main() -> int:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = Path(sys.argv[1]).resolve()
    model_dir, adapter_dir = out / "demo-model", out / "adapter"
    if not (model_dir / "config.json").is_file():
        write_demo_model(model_dir, seed=0)
    write_random_adapter(model_dir, adapter_dir)
    for tensor_type in ("f32", "q8_0"):
        export_gguf(str(model_dir), str(adapter_dir), str(out / tensor_type), tensor_type)
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32),
                                          str(adapter_dir)).eval()
    tokens = []
    for prompt in PROMPTS:
        with torch.no_grad():
            ids = reference.generate(torch.tensor([prompt]), max_new_tokens=NEW_TOKENS, do_sample=False,
                                     eos_token_id=None, pad_token_id=0)
        tokens.append(ids[0, len(prompt):].tolist())
    (out / "reference.json").write_text(json.dumps({"prompts": PROMPTS, "peft": tokens}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

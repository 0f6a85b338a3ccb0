"""Writes RepoTune's offline DEMO model: a tiny Qwen2-architecture causal LM with random weights.

No model hub is reachable where RepoTune is built and tested, so every test and the offline demo use this model.
It is a real Hugging Face model directory (config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
generation_config.json) with Qwen2.5-Coder's FIM special tokens, so the code that loads it is the same code that
loads any downloaded model. It knows nothing useful until fine-tuned: it is a DEMO model, and says so in its card.

Deterministic: the same seed and package version give byte-identical files.

    python -m repotune_trainer.demo_model --out DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

DEMO_MODEL_ID = "repotune/demo-tiny-qwen2"
# Sizes chosen so that a LoRA run of ~100 steps fits in about a minute on 2 CPU cores, while head_dim stays a
# multiple of 16 (what onnxruntime's fused attention kernels want) and GQA (2 kv heads for 4 heads) is exercised.
HIDDEN_SIZE = 128
INTERMEDIATE_SIZE = 384
NUM_LAYERS = 4
NUM_HEADS = 4
NUM_KV_HEADS = 2
BPE_VOCAB_SIZE = 1024
MAX_POSITIONS = 4096
# Weights are drawn with std 1/sqrt(hidden) rather than transformers' usual 0.02: at width 128, 0.02 leaves the
# signal vanishing through the random layers and the tied-embedding logits almost flat (max spread ~±2.6), so a
# LoRA cannot move the loss below ~6.8 nats. Unit-scale init keeps the random network trainable by a LoRA, which
# is all the demo needs (measured: loss 7.6 → ~3 in 200 steps on RepoTune's own sources, lr 6e-3).
INIT_STD = HIDDEN_SIZE**-0.5

# Qwen2.5-Coder's special tokens, in its order, so the FIM family table recognises the demo model as that family.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
# Qwen2's pre-tokenizer split pattern (from its tokenizer.json): digits one by one, words with a leading non-letter.
QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

MODEL_CARD = f"""# {DEMO_MODEL_ID} (DEMO MODEL)

This is RepoTune's offline **demo model**: Qwen2 architecture, ~1M parameters, **random weights**, and a byte-level
BPE tokenizer with Qwen2.5-Coder's FIM tokens. It exists so that the whole RepoTune pipeline (harvest, LoRA
training, export, serving) can run and be tested without a model hub. Its completions mean nothing until it has
been fine-tuned, and even then it only parrots the repository it saw. Use a real model for real work.
"""


def _tokenizer_corpus() -> list[str]:
    """The text the demo BPE is learnt from: fixed snippets of common code, so merges are stable everywhere."""
    from . import demo_corpus

    return demo_corpus.SNIPPETS


def build_tokenizer():
    """A byte-level BPE with Qwen2's pre-tokenizer and special tokens, learnt deterministically."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(byte_fallback=False, ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(_tokenizer_corpus(), trainer=trainer)
    tok.add_special_tokens(SPECIAL_TOKENS)
    return tok


def _tokenizer_config(tok) -> dict:
    decoder = {
        str(tok.token_to_id(t)): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for t in SPECIAL_TOKENS
    }
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": [t for t in SPECIAL_TOKENS if t != "<|endoftext|>"],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "errors": "replace",
        "model_max_length": MAX_POSITIONS,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def _model_config(vocab_size: int, eos_id: int) -> dict:
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN_SIZE,
        "intermediate_size": INTERMEDIATE_SIZE,
        "num_hidden_layers": NUM_LAYERS,
        "num_attention_heads": NUM_HEADS,
        "num_key_value_heads": NUM_KV_HEADS,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITIONS,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "use_sliding_window": False,
        "attention_dropout": 0.0,
        "initializer_range": INIT_STD,
        "bos_token_id": eos_id,
        "eos_token_id": eos_id,
        "torch_dtype": "float32",
        "repotune_demo": True,
    }


def write_demo_model(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Writes the demo model into out_dir (replaced atomically) and returns its path."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-model-", dir=out.parent))
    try:
        tok = build_tokenizer()
        eos_id = tok.token_to_id("<|endoftext|>")
        # Round the embedding up to a multiple of 64 as real models do; the extra rows are never produced.
        vocab_size = (tok.get_vocab_size() + 63) // 64 * 64
        cfg_dict = _model_config(vocab_size, eos_id)

        torch.manual_seed(seed)
        config = Qwen2Config(**{k: v for k, v in cfg_dict.items() if k not in ("architectures", "model_type")})
        model = Qwen2ForCausalLM(config).to(torch.float32)
        with torch.no_grad():
            for name, p in sorted(model.named_parameters()):
                if name.endswith("norm.weight") or "layernorm" in name:
                    p.fill_(1.0)
                elif name.endswith(".bias"):
                    p.zero_()
                else:
                    p.normal_(0.0, INIT_STD)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}

        from safetensors.torch import save_file

        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        _write_json(tmp / "config.json", cfg_dict)
        _write_json(tmp / "generation_config.json", {"bos_token_id": eos_id, "eos_token_id": [eos_id], "do_sample": False})
        tok.save(str(tmp / "tokenizer.json"))
        _write_json(tmp / "tokenizer_config.json", _tokenizer_config(tok))
        _write_json(tmp / "repotune-demo.json", {"id": DEMO_MODEL_ID, "seed": seed, "demo": True})
        (tmp / "README.md").write_text(MODEL_CARD, encoding="utf-8")

        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_random_adapter(model_dir: str | os.PathLike, out_dir: str | os.PathLike, *, rank: int = 4, seed: int = 1) -> Path:
    """Writes a LoRA adapter (all linear layers) of the model in model_dir with random, nonzero weights: PEFT starts
    lora_B at zero, so a fresh adapter changes nothing, and tests of merging and exporting need one that does."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.02)
    out = Path(out_dir)
    model.save_pretrained(str(out))
    return out


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write RepoTune's offline DEMO model (random weights).")
    ap.add_argument("--out", required=True, help="directory to write (replaced if it exists)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = write_demo_model(args.out, args.seed)
    print(json.dumps({"model_dir": str(path), "id": DEMO_MODEL_ID, "demo": True}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

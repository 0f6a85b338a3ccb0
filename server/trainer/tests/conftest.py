"""Shared fixtures: the real DEMO model (generated once per session) and small shards in the documented format."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

TRAINER_DIR = Path(__file__).resolve().parents[1]
if str(TRAINER_DIR) not in sys.path:
    sys.path.insert(0, str(TRAINER_DIR))

# Fast settings for the demo model on 2 CPU cores (~10+ steps/s).
TEST_SEQ_LEN = 128
TEST_BATCH_SIZE = 4
# One torch thread: the test box has 2 cores shared with other work, and more threads than free cores makes
# OpenMP spin (measured 15x slower). Also passed to the worker subprocess (OMP_NUM_THREADS) and train params.
TEST_TORCH_THREADS = 1

# A tiny, highly repetitive "repository": the loss on it must fall quickly.
SNIPPETS = [
    "def add(a, b):\n    return a + b\n",
    "def sub(a, b):\n    return a - b\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    "for i in range(10):\n    print(i)\n",
    "import os\nimport sys\n\nprint(os.getcwd())\n",
]


def advance_past(meta: dict, past: dict, outputs: dict, fed: int, from_new_key_values: bool) -> dict:
    """The exported graph's cache after a run that fed `fed` positions (exact length, as numpy arrays): present.*,
    or past + the new_key_values.* outputs ([1, S, kvH * D]) appended, the Node engine's way (kvCache.ts)."""
    if not from_new_key_values:
        return {n.replace("present.", "past_key_values."): v for n, v in outputs.items() if n.startswith("present.")}
    kv_heads, head_dim = meta["num_kv_heads"], meta["head_dim"]
    keys_transposed = meta["attention"] == "buffer"  # its keys are [1, kvH, D, positions]
    grown = {}
    for name, value in past.items():
        new = outputs[name.replace("past_key_values.", "new_key_values.")].reshape(1, fed, kv_heads, head_dim)
        if keys_transposed and name.endswith(".key"):
            grown[name] = np.concatenate([value, new.transpose(0, 2, 3, 1)], axis=3)
        else:
            grown[name] = np.concatenate([value, new.transpose(0, 2, 1, 3)], axis=2)
    return grown


def empty_past(meta: dict) -> dict:
    """The exported graph's cache before the first run (keys [1, kvH, D, 0] for the buffer graph)."""
    kv = (1, meta["num_kv_heads"], 0, meta["head_dim"])
    key = (1, meta["num_kv_heads"], meta["head_dim"], 0) if meta["attention"] == "buffer" else kv
    return {f"past_key_values.{i}.{kind}": np.zeros(key if kind == "key" else kv, np.float32)
            for i in range(meta["num_layers"]) for kind in ("key", "value")}


def make_examples(tok, repeats: int = 6) -> list[dict]:
    """Continuation and FIM examples as the Node prompt builder writes them (Qwen2.5-Coder FIM tokens)."""
    ids = tok.token_to_id
    eos = ids("<|endoftext|>")
    examples = []
    for r in range(repeats):
        for n, text in enumerate(SNIPPETS):
            body = tok.encode(text).ids
            cut = max(1, len(body) // 3)
            examples.append({"ids": body + [eos], "mask": [0] * cut + [1] * (len(body) - cut + 1),
                             "kind": "continuation", "path": f"src/file{n}.py"})
            mid_start, mid_end = len(text) // 3, 2 * len(text) // 3
            prefix = tok.encode(text[:mid_start]).ids
            middle = tok.encode(text[mid_start:mid_end]).ids
            suffix = tok.encode(text[mid_end:]).ids
            prompt = [ids("<|fim_prefix|>")] + prefix + [ids("<|fim_suffix|>")] + suffix + [ids("<|fim_middle|>")]
            target = middle + [eos]
            examples.append({"ids": prompt + target, "mask": [0] * len(prompt) + [1] * len(target),
                             "kind": "fim", "path": f"src/file{n}.py"})
    return examples


def write_shards(data_dir: Path, train: list[dict], eval_: list[dict] | None = None,
                 tokenizer_path: str = "", lines_per_shard: int = 25) -> Path:
    """Writes index.json + train-/eval- jsonl shards exactly as docs/architecture.md describes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    index = {"version": 1, "tokenizer": tokenizer_path, "family": "qwen2.5-coder", "train": [], "eval": [],
             "examples": {"train": len(train), "eval": len(eval_ or [])}}
    for split, items in (("train", train), ("eval", eval_ or [])):
        for k in range(0, len(items), lines_per_shard):
            name = f"{split}-{k // lines_per_shard:05d}.jsonl"
            with (data_dir / name).open("w", encoding="utf-8") as f:
                for ex in items[k:k + lines_per_shard]:
                    f.write(json.dumps(ex) + "\n")
            index[split].append(name)
    (data_dir / "index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return data_dir


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory) -> Path:
    import torch

    from repotune_trainer.demo_model import write_demo_model

    torch.set_num_threads(TEST_TORCH_THREADS)

    return write_demo_model(tmp_path_factory.mktemp("demo") / "model", seed=0)


@pytest.fixture(scope="session")
def random_adapter_dir(tmp_path_factory, demo_model_dir) -> Path:
    """A LoRA adapter of the demo model with random (nonzero) weights: exports must carry its change."""
    import torch

    from repotune_trainer.demo_model import write_random_adapter

    torch.set_num_threads(TEST_TORCH_THREADS)
    return write_random_adapter(demo_model_dir, tmp_path_factory.mktemp("adapter") / "adapter")


@pytest.fixture(scope="session")
def demo_tokenizer(demo_model_dir):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(demo_model_dir / "tokenizer.json"))


@pytest.fixture(scope="session")
def demo_shards(tmp_path_factory, demo_model_dir, demo_tokenizer) -> Path:
    examples = make_examples(demo_tokenizer)
    return write_shards(tmp_path_factory.mktemp("shards"), examples, examples[:5],
                        tokenizer_path=str(demo_model_dir / "tokenizer.json"))


@pytest.fixture(scope="session")
def subprocess_env() -> dict:
    """Environment for starting the worker as the sidecar does (PYTHONPATH=server/trainer, unbuffered)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(TRAINER_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_NUM_THREADS"] = str(TEST_TORCH_THREADS)
    return env

"""Loading the frozen base model: weight-format safety, attention kernel, QLoRA, and what identifies the base.

- Weights: safetensors only by default. Pickle checkpoints (`pytorch_model.bin`, `*.pt`, ...) run arbitrary code
  when loaded, so a directory with only those is refused, naming the file, unless `allow_pickle_weights` is set.
- Attention: `auto` picks FlashAttention (varlen: the padding-free packed batch is one row whose position_ids
  restart per example, and transformers turns them into cu_seqlens) on CUDA when `flash_attn` is installed, else
  SDPA with the explicit block mask over padded rows. `flex_attention` (torch's compiled block-sparse kernel,
  built by transformers from the same position_ids) is a varlen choice that needs no extra package; `auto` does
  not pick it: on an H200 (torch 2.11) it matched the padded rows' loss at seq_len 128, but a 0.5B model at
  seq_len 2048 had not finished 47 steps after 200 s, when each new row length still compiled flex's kernels again
  (its rows now have one length, step.py); bench/gpu_checks.py's train-0.5b-flex part measures it.
- QLoRA: `quantize: 4bit` loads NF4 weights through bitsandbytes (CUDA only), refused with missing_dependency when
  bitsandbytes is not importable.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

from .errors import BAD_DATA, BAD_MODEL, MISSING_DEPENDENCY, OUT_OF_MEMORY, WorkerError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
ATTENTION_CHOICES = ("auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention")
# Kernels that skip the masked-out blocks of a packed row: with them one padding-free row beats padded rows.
VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3", "flex_attention")
QUANTIZE_CHOICES = ("none", "4bit")
DEMO_META = "repotune-demo.json"
HF_SNAPSHOT_REVISION = re.compile(r"/snapshots/([0-9a-f]{40})(/|$)")
BITSANDBYTES_PIN = "bitsandbytes==0.50.2"


def weight_files(model_dir: Path, allow_pickle: bool) -> bool:
    """True to load safetensors; False to load pickle weights (only when allowed); raises otherwise."""
    if any(model_dir.glob("*.safetensors")):
        return True
    pickles = sorted(p.name for p in model_dir.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if not pickles:
        raise WorkerError(BAD_MODEL, f"{model_dir} has no weights (*.safetensors): download the model again")
    if not allow_pickle:
        raise WorkerError(BAD_MODEL, f"{model_dir / pickles[0]} is a pickle checkpoint, which can run arbitrary code "
                          "when loaded, and the model has no safetensors weights. Convert it to safetensors, or set "
                          "the train parameter allow_pickle_weights: true if you trust its source.")
    return False


def resolve_attention(requested: str, device_type: str) -> str:
    if requested != "auto":
        if requested in VARLEN_ATTENTION and device_type != "cuda":
            raise WorkerError(BAD_DATA, f"attn_implementation {requested} needs a CUDA device; use auto or sdpa")
        return requested
    if device_type == "cuda":
        if importlib.util.find_spec("flash_attn_interface") is not None:  # FlashAttention 3 (Hopper)
            return "flash_attention_3"
        if importlib.util.find_spec("flash_attn") is not None:
            return "flash_attention_2"
    return "sdpa"


def quantization_config(quantize: str, device_type: str, compute_dtype):
    if quantize == "none":
        return None
    if device_type != "cuda":
        raise WorkerError(BAD_DATA, "quantize: 4bit (QLoRA) needs a CUDA GPU; train with quantize: none on the CPU")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise WorkerError(MISSING_DEPENDENCY, "quantize: 4bit (QLoRA) needs the Python package bitsandbytes, which "
                          f"is not installed: install {BITSANDBYTES_PIN} into the trainer's environment, "
                          "or train with quantize: none")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def load_base_model(model_dir: Path, device, dtype, *, attention: str, quantize: str, allow_pickle: bool):
    """The frozen base model on device, with the chosen attention kernel (see module doc)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if not (model_dir / "config.json").is_file():
        raise WorkerError(BAD_MODEL, f"{model_dir} is not a model directory (no config.json): download the "
                          "model again or pick another one")
    use_safetensors = weight_files(model_dir, allow_pickle)
    quant = quantization_config(quantize, device.type, dtype)
    kwargs = {"use_safetensors": use_safetensors, "dtype": dtype,
              "attn_implementation": resolve_attention(attention, device.type)}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": device})
    try:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs)
    except torch.OutOfMemoryError as exc:
        raise WorkerError(OUT_OF_MEMORY, f"Not enough memory to load {model_dir}: {exc}") from exc
    except WorkerError:
        raise
    except Exception as exc:  # missing/corrupt weights, bad config, unsupported architecture, missing kernel
        raise WorkerError(BAD_MODEL, f"Could not load the model in {model_dir}: {exc}. "
                          "Download it again or pick another model.") from exc
    model.requires_grad_(False)
    return model if quant is not None else model.to(device)


def base_model_identity(model_dir: Path) -> dict:
    """{"base_model_id", "base_model_revision"}: the demo model's id, else config's _name_or_path, else the folder.

    The revision is the Hugging Face cache snapshot hash when the model lives in the cache, the config's
    _commit_hash when present, the demo model's seed for the demo, else None.
    """
    model_id, revision = None, None
    demo = _read_json(model_dir / DEMO_META)
    if demo.get("id"):
        model_id, revision = str(demo["id"]), f"seed-{demo.get('seed', 0)}"
    config = _read_json(model_dir / "config.json")
    if model_id is None:
        name = config.get("_name_or_path")
        model_id = str(name) if isinstance(name, str) and name and not Path(name).is_absolute() else model_dir.name
    match = HF_SNAPSHOT_REVISION.search(str(model_dir.resolve()))
    if match:
        revision = match.group(1)
    elif isinstance(config.get("_commit_hash"), str):
        revision = config["_commit_hash"]
    return {"base_model_id": model_id, "base_model_revision": revision}


def data_manifest_sha256(data_dir: Path) -> str:
    """sha256 of the shard index.json: the identity of the training data (it names every shard file)."""
    return hashlib.sha256((data_dir / "index.json").read_bytes()).hexdigest()


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}

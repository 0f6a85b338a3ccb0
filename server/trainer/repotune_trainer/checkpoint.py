"""Atomic on-disk state of a training run: resumable checkpoints and the final adapter.

Both are written into a temporary sibling directory and renamed into place, so a run killed mid-write leaves
either the previous complete directory or the new one, never a half-written one. Directory renames cannot
overwrite a non-empty directory portably, so the old one is first moved aside to `<name>.old`; if the process
dies between the two renames, readers fall back to `<name>.old`.

Layout of `<output_dir>/checkpoint/`: the PEFT adapter files, `training_state.pt` (optimizer, scheduler and RNG
states) and `checkpoint.json` (step, data position, last loss and the settings that must match to resume).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import BAD_DATA, WorkerError

CHECKPOINT_DIR = "checkpoint"
ADAPTER_DIR = "adapter"
ADAPTER_META = "repotune-adapter.json"
STATE_FILE = "training_state.pt"
META_FILE = "checkpoint.json"
OLD_SUFFIX = ".old"
# Settings a checkpoint can only be resumed with unchanged: they shape the adapter or the data order.
RESUME_MUST_MATCH = ("base_model", "lora_r", "lora_alpha", "seq_len", "batch_size", "seed", "use_dora", "quantize",
                     "packer")
# What checkpoints written before a setting existed implicitly used.
RESUME_DEFAULTS = {"use_dora": False, "quantize": "none", "packer": "next-fit"}
BEST_DIR = "best"
MERGED_DIR = "merged"
# Files copied next to merged weights so the folder is a complete model directory.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "generation_config.json")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def replace_dir_atomically(tmp: Path, final: Path) -> None:
    """Moves the finished directory tmp to final, replacing final if it exists."""
    old = final.with_name(final.name + OLD_SUFFIX)
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _temp_sibling(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}-tmp-", dir=final.parent))


def _existing(final: Path) -> Path | None:
    if final.is_dir():
        return final
    old = final.with_name(final.name + OLD_SUFFIX)
    return old if old.is_dir() else None


def save_adapter(model, output_dir: str | Path, meta: dict[str, Any], name: str = ADAPTER_DIR) -> Path:
    """Writes an adapter (PEFT safetensors + repotune-adapter.json) to `<output_dir>/<name>` (adapter or best)."""
    final = Path(output_dir) / name
    tmp = _temp_sibling(final)
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        _write_json(tmp / ADAPTER_META, {**meta, "created": now_iso()})
        replace_dir_atomically(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def save_merged(merged_model, model_dir: str | Path, output_dir: str | Path, meta: dict[str, Any]) -> Path:
    """Writes base+adapter merged weights (safetensors) and the base's tokenizer files to `<output_dir>/merged`."""
    final = Path(output_dir) / MERGED_DIR
    tmp = _temp_sibling(final)
    try:
        merged_model.save_pretrained(str(tmp), safe_serialization=True)
        for name in TOKENIZER_FILES:
            if (Path(model_dir) / name).is_file():
                shutil.copy2(Path(model_dir) / name, tmp / name)
        _write_json(tmp / ADAPTER_META, {**meta, "merged": True, "created": now_iso()})
        replace_dir_atomically(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def save_checkpoint(model, optimizer, scheduler, output_dir: str | Path, meta: dict[str, Any]) -> Path:
    """Writes a resumable checkpoint to `<output_dir>/checkpoint` (see module doc)."""
    import torch

    final = Path(output_dir) / CHECKPOINT_DIR
    tmp = _temp_sibling(final)
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_initialized():  # only a run that used the GPU has CUDA RNG state worth keeping
            rng["cuda"] = torch.cuda.get_rng_state_all()
        state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng}
        torch.save(state, tmp / STATE_FILE)
        _write_json(tmp / META_FILE, {**meta, "created": now_iso()})
        replace_dir_atomically(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def read_checkpoint_meta(output_dir: str | Path) -> tuple[Path, dict] | None:
    """The checkpoint directory and its metadata, or None when there is no complete checkpoint."""
    found = _existing(Path(output_dir) / CHECKPOINT_DIR)
    if found is None or not (found / META_FILE).is_file() or not (found / STATE_FILE).is_file():
        return None
    try:
        meta = json.loads((found / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkerError(BAD_DATA, f"{found / META_FILE}: unreadable checkpoint ({exc}); "
                          "delete it or train with resume=false") from exc
    return found, meta


def check_resumable(meta: dict, expected: dict, where: Path) -> None:
    for key in RESUME_MUST_MATCH:
        made_with = meta.get(key, RESUME_DEFAULTS.get(key))
        if made_with == expected.get(key):
            continue
        if key == "packer":  # not a setting: an earlier version of the trainer packed the rows differently
            raise WorkerError(BAD_DATA, f"{where} was made by an earlier RepoTune that packed examples into rows "
                              f"{made_with}; this one packs them {expected.get(key)}, so the saved data position "
                              "would point at other examples: train with resume=false")
        raise WorkerError(BAD_DATA, f"{where} was made with {key}={made_with!r} but this run has "
                          f"{key}={expected.get(key)!r}: resume with the same settings, or train with resume=false")


def load_checkpoint_into(ckpt_dir: Path, model, optimizer, scheduler, device) -> None:
    """Restores adapter weights, optimizer, scheduler and RNG states saved by save_checkpoint."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(ckpt_dir / "adapter_model.safetensors"), device=str(device))
    set_peft_model_state_dict(model, weights)
    state = torch.load(ckpt_dir / STATE_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")

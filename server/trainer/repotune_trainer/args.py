"""The parameters of one LoRA training run, parsed and validated from the `train` request's params.

Unknown keys are rejected (a typo such as `learning_rte` must not silently train with the default), and every
value is type- and range-checked so a bad request fails before any model is loaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import BAD_DATA, WorkerError

DEVICES = ("auto", "cpu", "cuda")
# Choices of the string-valued switches; "auto" picks the fastest that the device and installed packages allow.
CHOICES = {
    "device": DEVICES,
    "gradient_checkpointing": ("auto", "on", "off"),
    "packing": ("auto", "rows", "padding_free"),
    "attn_implementation": ("auto", "sdpa", "eager", "flash_attention_2", "flash_attention_3", "flex_attention"),
    "loss": ("auto", "chunked", "liger", "standard"),
    "kernels": ("auto", "off"),
    "compile": ("auto", "on", "off"),
    "quantize": ("none", "4bit"),
}


@dataclass(frozen=True)
class TrainArgs:
    """One training run. Paths are required; everything else has a default tuned for the offline demo model."""

    model_dir: str = field(metadata={"doc": "Hugging Face model directory (config.json + *.safetensors)."})
    data_dir: str = field(metadata={"doc": "Shard directory with index.json (docs/architecture.md, Shards)."})
    output_dir: str = field(metadata={"doc": "Receives adapter/ (final) and checkpoint/ (resumable state)."})
    max_steps: int = field(default=100, metadata={"doc": "Optimizer steps (one batch each)."})
    # 2e-3 suits the demo model (random weights, ~1M params) and LoRA's small updates: it visibly learns a
    # repository in ~100 steps. Real 0.5B-7B code models usually want 1e-4..3e-4.
    learning_rate: float = field(default=2e-3, metadata={"doc": "Peak AdamW learning rate (demo default)."})
    lora_r: int = field(default=16, metadata={"doc": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"doc": "LoRA scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"doc": "Dropout on the LoRA input; 0 keeps runs exact."})
    batch_size: int = field(default=8, metadata={"doc": "Packed rows per step."})
    seq_len: int = field(default=256, metadata={"doc": "Tokens per packed row."})
    warmup_steps: int = field(default=10, metadata={"doc": "Linear warm-up steps (capped at max_steps)."})
    seed: int = field(default=0, metadata={"doc": "Seeds LoRA init, data order and dropout."})
    device: str = field(default="auto", metadata={"doc": "auto (cuda if available, else cpu) | cpu | cuda."})
    resume: bool = field(default=False, metadata={"doc": "Continue from output_dir/checkpoint if present."})
    checkpoint_every: int = field(default=25, metadata={"doc": "Steps between checkpoints; 0 = only at the end."})
    log_every: int = field(default=10, metadata={"doc": "Steps between `info` log lines."})
    # 0 leaves torch's default (one thread per core). Set it lower on a busy machine: with more threads than free
    # cores, OpenMP threads spin against each other (measured: a 2-core box running a compiler trained the demo
    # model 15x slower with 2 threads than with 1).
    num_threads: int = field(default=0, metadata={"doc": "CPU threads for torch; 0 = torch's default."})
    # ---- sizing and speed (each switchable, for measurement; see recipe.py and sizing.py) ----
    micro_batch_size: int = field(default=0, metadata={"doc": "Rows per forward pass; 0 = sized to free memory."})
    gradient_checkpointing: str = field(default="auto", metadata={"doc": "auto (when memory needs it) | on | off."})
    packing: str = field(default="auto", metadata={
        "doc": "auto (padding_free with a varlen attention kernel, else rows) | rows (padded rows + block mask) | "
               "padding_free."})
    attn_implementation: str = field(default="auto", metadata={"doc": "auto (flash-attn when installed, else sdpa)."})
    loss: str = field(default="auto", metadata={
        "doc": "auto (liger on CUDA when installed, else chunked) | chunked | liger | standard (full logits)."})
    kernels: str = field(default="auto", metadata={"doc": "auto (Liger RMSNorm/SwiGLU on CUDA if installed) | off."})
    # auto: on for CUDA, where an H200 run (bench/gpu_checks.py, 2026-11-30) measured compiled layers 1.24x the
    # uncompiled recipe on the 0.5B shape (62.9k vs 50.9k tokens/s, 12% less peak memory); off on the CPU, where
    # compiling costs ~30 s for the demo model and gains nothing measured.
    compile: str = field(default="auto", metadata={
        "doc": "auto (on for CUDA, falling back to eager with a warning if compiling fails) | on: torch.compile each "
               "decoder layer (one graph that every layer shares) | off."})
    # ---- schedule ----
    eval_every: int = field(default=25, metadata={"doc": "Steps between holdout evaluations; 0 = never."})
    early_stopping_patience: int = field(default=0, metadata={
        "doc": "Stop after this many evaluations without a better eval loss; 0 = never stop early."})
    # ---- adapter options and output ----
    use_dora: bool = field(default=False, metadata={"doc": "DoRA (weight-decomposed LoRA) instead of plain LoRA."})
    quantize: str = field(default="none", metadata={"doc": "none | 4bit (QLoRA through bitsandbytes, CUDA only)."})
    allow_pickle_weights: bool = field(default=False, metadata={
        "doc": "Load pickle (*.bin) weights when the model has no safetensors; they can run code: trust needed."})
    save_merged: bool = field(default=False, metadata={"doc": "Also write base+adapter merged weights to merged/."})

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "TrainArgs":
        """Builds TrainArgs from a request's params; raises WorkerError(bad_data) naming the offending key."""
        if not isinstance(params, dict):
            raise _invalid(f"train params must be an object, got {type(params).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise _invalid(f"unknown train parameter(s) {', '.join(unknown)}; accepted: {', '.join(fields)}")
        missing = [n for n, f in fields.items() if _is_required(f) and params.get(n) is None]
        if missing:
            raise _invalid(f"missing required train parameter(s): {', '.join(missing)}")
        values = {name: _coerce(name, fields[name].type, value) for name, value in params.items() if value is not None}
        args = cls(**values)
        args.validate()
        return args

    def validate(self) -> None:
        for name in ("model_dir", "data_dir", "output_dir"):
            if not getattr(self, name).strip():
                raise _invalid(f"train parameter '{name}' must be a non-empty path")
        positive = ("max_steps", "lora_r", "lora_alpha", "batch_size", "seq_len")
        for name in positive:
            if getattr(self, name) < 1:
                raise _invalid(f"train parameter '{name}' must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "checkpoint_every", "log_every", "seed", "num_threads", "micro_batch_size",
                     "eval_every", "early_stopping_patience"):
            if getattr(self, name) < 0:
                raise _invalid(f"train parameter '{name}' must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.learning_rate < 1.0:
            raise _invalid(f"train parameter 'learning_rate' must be in (0, 1), got {self.learning_rate}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise _invalid(f"train parameter 'lora_dropout' must be in [0, 1), got {self.lora_dropout}")
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise _invalid(f"train parameter '{name}' must be one of {', '.join(choices)}, "
                               f"got {getattr(self, name)!r}")
        if self.micro_batch_size > self.batch_size:
            raise _invalid(f"train parameter 'micro_batch_size' ({self.micro_batch_size}) must not exceed "
                           f"batch_size ({self.batch_size})")
        if self.save_merged and self.quantize != "none":
            raise _invalid("save_merged cannot merge into 4-bit weights: train with quantize: none, or merge the "
                           "adapter into the full-precision base model afterwards with PEFT's merge_and_unload")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _coerce(name: str, annotation: Any, value: Any) -> Any:
    """Checks a JSON value against the field's type; ints are accepted for floats, bools never for numbers."""
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind == "str":
        if isinstance(value, str):
            return value
    raise _invalid(f"train parameter '{name}' must be {kind}, got {type(value).__name__} {value!r}")


def _invalid(message: str) -> WorkerError:
    # Bad parameters are bad input from the sidecar: report them like bad data, with the exact key at fault.
    return WorkerError(BAD_DATA, message)

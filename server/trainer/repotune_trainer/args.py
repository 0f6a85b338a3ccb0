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
        for name in ("warmup_steps", "checkpoint_every", "log_every", "seed", "num_threads"):
            if getattr(self, name) < 0:
                raise _invalid(f"train parameter '{name}' must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.learning_rate < 1.0:
            raise _invalid(f"train parameter 'learning_rate' must be in (0, 1), got {self.learning_rate}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise _invalid(f"train parameter 'lora_dropout' must be in [0, 1), got {self.lora_dropout}")
        if self.device not in DEVICES:
            raise _invalid(f"train parameter 'device' must be one of {', '.join(DEVICES)}, got {self.device!r}")

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

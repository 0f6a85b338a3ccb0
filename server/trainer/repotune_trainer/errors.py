"""Worker errors with a machine-readable kind, as the sidecar protocol wants them (docs/architecture.md).

Every failure the user can act on (a missing package, a broken model directory, bad shards, out of memory) is raised
as a WorkerError with one of the documented kinds and a message that says what to do; rpc.py turns it into a
JSON-RPC error `{"code": -32000, "message": ..., "data": {"kind": ...}}`. Anything else is a bug and becomes
kind `internal`.
"""

from __future__ import annotations

import errno
import importlib
from types import ModuleType

# The kinds the protocol documents; the sidecar switches on them, so they are a closed set.
MISSING_DEPENDENCY = "missing_dependency"
BAD_MODEL = "bad_model"
BAD_DATA = "bad_data"
OUT_OF_MEMORY = "out_of_memory"
DISK_FULL = "disk_full"
CANCELLED = "cancelled"
INTERNAL = "internal"
KINDS = frozenset({MISSING_DEPENDENCY, BAD_MODEL, BAD_DATA, OUT_OF_MEMORY, DISK_FULL, CANCELLED, INTERNAL})

# What the user runs to (re)create the Python environment; quoted in every missing-dependency message.
SETUP_HINT = ("run \"RepoTune: Create trainer environment\" in VS Code, or `node scripts/setup-python.mjs` in a source "
              "checkout (both install server/trainer/requirements.txt)")


class WorkerError(Exception):
    """An error the worker reports to the sidecar with a documented kind and an actionable message."""

    def __init__(self, kind: str, message: str):
        if kind not in KINDS:
            raise ValueError(f"unknown worker error kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message

    def to_rpc_error(self) -> dict:
        return {"code": -32000, "message": self.message, "data": {"kind": self.kind}}


def require_module(name: str) -> ModuleType:
    """Imports a heavy optional dependency (torch, transformers, peft) or raises missing_dependency.

    The worker must start and answer `ping`/`env` without them, so they are only imported where needed.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise WorkerError(
            MISSING_DEPENDENCY,
            f"The Python package '{name}' is not available ({exc}). To fix it, {SETUP_HINT}.",
        ) from exc


def require_training_stack() -> None:
    """Checks every package a training run needs, so the error names the first missing one before any work."""
    for name in ("torch", "transformers", "peft", "safetensors", "numpy"):
        require_module(name)


# How libraries word a full disk when they do not raise OSError(ENOSPC) themselves (safetensors' Rust I/O error).
_DISK_FULL_TEXT = "No space left on device"


def disk_full_error(exc: BaseException, method: str) -> WorkerError | None:
    """A full disk met anywhere in `method` (torch.save, safetensors, onnx, shutil) as an actionable disk_full error.

    Files are written to a temporary name and renamed when complete (checkpoint.py, export_onnx.py), so a full
    disk leaves the last good adapter and checkpoint as they were: the message can say so.
    """
    chain: list[BaseException] = []
    while exc is not None and len(chain) < 8:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    if not any((isinstance(e, OSError) and e.errno == errno.ENOSPC) or _DISK_FULL_TEXT in str(e) for e in chain):
        return None
    return WorkerError(
        DISK_FULL,
        f"The disk is full ({method} could not write its files). Free some space on the disk that holds RepoTune's "
        "storage (or choose another storage folder) and run it again; files saved before, such as the last good "
        "adapter, are kept.",
    )

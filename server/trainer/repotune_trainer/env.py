"""What the worker can run on: the `env` result, device selection and memory measurement.

`describe_environment` must work without torch installed (the sidecar calls `env` to tell the user what to fix),
so torch is only imported inside functions and its absence is reported as a problem, not raised.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys

from .errors import MISSING_DEPENDENCY, SETUP_HINT, WorkerError

# Packages a training run imports; each missing one is listed in `problems`.
TRAINING_PACKAGES = ("torch", "transformers", "peft", "safetensors", "tokenizers", "numpy")
MIN_PYTHON = (3, 10)


def describe_environment() -> dict:
    """The `env` result: Python and torch versions, CUDA availability and memory, and a list of problems."""
    problems: list[str] = []
    if sys.version_info < MIN_PYTHON:
        problems.append(f"Python {platform.python_version()} is too old: RepoTune's trainer needs "
                        f"{'.'.join(map(str, MIN_PYTHON))} or newer.")
    missing = [name for name in TRAINING_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        problems.append(f"Missing Python package(s): {', '.join(missing)}. To fix it, {SETUP_HINT}.")
    result = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "packages": {name: _installed_version(name) for name in TRAINING_PACKAGES},
        "torch": None,
        "cuda": False,
        "device_name": None,
        "device_mem_total": None,
        "device_mem_free": None,
        "problems": problems,
    }
    if "torch" in missing:
        return result
    try:
        import torch
    except Exception as exc:  # a broken install (e.g. a missing shared library) must not kill `env`
        problems.append(f"torch is installed but fails to import ({exc}). To fix it, {SETUP_HINT}.")
        return result
    result["torch"] = torch.__version__
    try:
        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info(0)
            result.update(cuda=True, device_name=torch.cuda.get_device_name(0),
                          device_mem_total=int(total), device_mem_free=int(free))
    except Exception as exc:  # a driver/runtime mismatch shows up here; training then falls back to CPU
        problems.append(f"CUDA is present but unusable ({exc}); training will run on the CPU.")
    return result


def _installed_version(name: str) -> str | None:
    """The installed distribution's version without importing it (importing torch alone takes seconds)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def resolve_device(requested: str):
    """Maps `auto|cpu|cuda` to a torch.device; `cuda` without a usable GPU is an actionable error."""
    import torch

    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda", 0)
    if requested == "cuda":
        raise WorkerError(MISSING_DEPENDENCY, "device 'cuda' was requested but torch sees no usable GPU "
                          f"(torch {torch.__version__}); use device 'auto' or 'cpu', or install a CUDA build of torch.")
    return torch.device("cpu")


def training_dtype(device):
    """float32 on CPU (bf16 matmuls are slow there); bfloat16 on GPUs that support it, else float32."""
    import torch

    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def reset_peak_memory(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def device_memory_bytes(device) -> int:
    """Peak CUDA memory allocated by torch on a GPU; the process's resident set size on CPU (0 if unknown)."""
    if device.type == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated(device))
    return process_rss_bytes()


def process_rss_bytes() -> int:
    """Current RSS from /proc on Linux; peak RSS from getrusage elsewhere (bytes on macOS); 0 if neither exists."""
    try:
        with open("/proc/self/statm", "r", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)
    except (ImportError, OSError):
        return 0


def free_device_bytes(device) -> int | None:
    """Memory torch can still use on a GPU: the driver's free memory plus what torch's cache holds unused."""
    if device.type != "cuda":
        return None
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))

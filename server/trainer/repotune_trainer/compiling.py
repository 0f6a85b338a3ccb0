"""torch.compile for training and serving: which runs compile, how a failed compile reads, and the one log line of
torch's that compiling floods the user's log with.

Training compiles each decoder layer in place (`compile` in args.py: auto = on for CUDA); serving compiles its
one-token decode step as a CUDA graph (serve_torch.py, `static_cache`). Under "auto" a compile that fails falls back
to eager code with a warning; under "on" (training) it is an error that names the fix.

torch is imported where it is used, not here: serve_torch.py imports this module before it checks that torch is
installed (errors.require_module), and a missing torch must read as missing_dependency, not as an ImportError.
"""

from __future__ import annotations

import importlib.util
import logging

from .errors import BAD_DATA, WorkerError

COMPILE_ERROR_CHARS = 300  # of a compile error's first line in messages


def decoder_layers(causal_lm) -> list:
    """The repeated blocks compile_decoder_layers compiles; empty for a model without a list of them."""
    import torch

    get_decoder = getattr(causal_lm, "get_decoder", None)
    layers = getattr(get_decoder(), "layers", None) if callable(get_decoder) else None
    return list(layers) if isinstance(layers, torch.nn.ModuleList) else []


def compile_decoder_layers(causal_lm) -> int:
    """torch.compile each decoder layer in place, LoRA modules included; returns how many.

    Regional compilation: the layers run the same code on the same shapes, so dynamo compiles one graph and every
    layer reuses it, and compile time does not grow with depth (the demo model: ~30 s on 2 CPU cores). In place
    (Module.compile), so parameter names, and with them checkpoints and the saved adapter, stay as they were.
    """
    layers = decoder_layers(causal_lm)
    if not layers:
        raise WorkerError(BAD_DATA, f"compile: on needs a decoder with a list of layers, which "
                          f"{type(causal_lm).__name__} does not have; train with compile: off")
    for layer in layers:
        layer.compile(dynamic=False)  # one shape: micro-batch x seq_len rows, or padding-free padded to it
    return len(layers)


def resolve_compile(choice: str, device_type: str, quantize: str, causal_lm) -> bool:
    """Whether to compile the decoder layers: `auto` compiles on CUDA with Triton (inductor's GPU code generator),
    for full-precision weights only (bitsandbytes' 4-bit layers are not measured compiled), and only a model with
    a list of decoder layers (others train eagerly; `on` makes that an error)."""
    if choice != "auto":
        return choice == "on"
    return (device_type == "cuda" and quantize == "none" and importlib.util.find_spec("triton") is not None
            and bool(decoder_layers(causal_lm)))


def uncompile_decoder_layers(causal_lm) -> None:
    """Undoes compile_decoder_layers: Module.compile only sets _compiled_call_impl, so the layers run eagerly again
    with the same parameters (and the same optimizer state)."""
    import torch

    for layer in decoder_layers(causal_lm):
        layer._compiled_call_impl = None
    torch._dynamo.reset()  # drops the graphs and guards compiled so far


# torch's message when it cannot analyse a user Triton kernel (torch 2.11: identify_mutated_tensors; 2.15:
# identify_accessed_tensors), logged on the "torch._dynamo" logger with a whole traceback.
UNANALYSABLE_KERNEL_WARNING = "Encountered an exception in identify_"


def _not_unanalysable_kernel(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(UNANALYSABLE_KERNEL_WARNING)


def quiet_compile_warnings() -> None:
    """torch cannot analyse Liger's Triton kernels for the tensors they write (seen on an H200: 3,109 log lines, a
    traceback per kernel) and then assumes they write every input, which is correct, only slower to plan. The
    trainer's stderr is the user's log channel: drop that one warning, keep every other of dynamo's."""
    dynamo_log = logging.getLogger("torch._dynamo")
    if _not_unanalysable_kernel not in dynamo_log.filters:
        dynamo_log.addFilter(_not_unanalysable_kernel)


def is_compile_error(exc: BaseException) -> bool:
    """An error of torch.compile itself (dynamo tracing, inductor code generation, no C++ compiler on the CPU)."""
    return type(exc).__module__.startswith(("torch._dynamo", "torch._inductor"))


def compile_error_summary(exc: BaseException) -> str:
    """The first line of a compile error (it names the cause; the rest is generated code and stacks), shortened."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:COMPILE_ERROR_CHARS]

"""Command-line entry point of a training run, for several GPUs (DDP) or scripted use without the sidecar.

    python -m repotune_trainer.train_cli --params train.json                       # one process
    torchrun --nproc_per_node 4 -m repotune_trainer.train_cli --params train.json  # 4 GPUs, one node
    accelerate launch --multi_gpu --num_processes 4 -m repotune_trainer.train_cli --params train.json

train.json holds the same params as the worker's `train` request (docs/architecture.md). Rank 0 prints one JSON
line per progress event (`{"progress": {...}}`) and the result (`{"result": {...}}`) on stdout; errors are
`{"error": {"kind", "message"}}` with exit code 1. SIGINT/SIGTERM cancel the run like the worker's `cancel`:
it stops at the next step on every rank and saves the adapter; a second signal ends the process at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .args import TrainArgs
from .errors import WorkerError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="repotune_trainer.train_cli", description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True, help="JSON file with the train params")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cancel = threading.Event()

    def on_signal(*_):
        cancel.set()  # stop at the next step and save; a second signal (stuck before training) ends the process
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    def emit(obj: dict) -> None:
        print(json.dumps(obj, separators=(",", ":")), flush=True)

    try:
        params = json.loads(Path(opts.params).read_text(encoding="utf-8"))
        args = TrainArgs.from_params(params)
        from .distributed import context_from_env
        from .errors import require_training_stack

        require_training_stack()  # a clear missing_dependency before the recipe's modules import torch
        from .recipe import run_training

        result = run_training(args, cancel, on_progress=lambda p: emit({"progress": p}))
    except WorkerError as exc:
        emit({"error": {"kind": exc.kind, "message": exc.message}})
        return 1
    except (OSError, ValueError) as exc:  # unreadable or invalid params file
        emit({"error": {"kind": "bad_data", "message": f"{opts.params}: {exc}"}})
        return 1
    if context_from_env().is_main:
        emit({"result": result.to_dict()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

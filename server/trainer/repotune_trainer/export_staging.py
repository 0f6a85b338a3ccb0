"""Writing an export so that a reader never sees half of it: the files go into a temp folder beside the target,
which replaces the target only once everything is written. Shared by the ONNX, merged and GGUF exports.

Failures read as worker errors a user can act on: MemoryError → out_of_memory with the export's own hint, OSError →
internal naming the target (a full disk among them is turned into disk_full by the RPC layer, errors.disk_full_error,
which follows the exception chain kept here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .checkpoint import ADAPTER_META
from .errors import BAD_MODEL, INTERNAL, OUT_OF_MEMORY, WorkerError


class ExportError(WorkerError):
    """An export that cannot proceed; a WorkerError, so rpc.py reports it with its protocol kind."""

    def __init__(self, message: str, kind: str = BAD_MODEL):
        super().__init__(kind, message)


@contextmanager
def staged_export(out: Path, *, what: str, memory: str) -> Iterator[Path]:
    """Yields the temp folder to write into; on a clean exit it replaces `out` (rename, same file system).

    what: the export's name in "could not write <what> to <out>"; memory: the sentence after "not enough memory to".
    """
    tmp = _make_temp_dir_beside(out)
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except MemoryError as e:
        raise ExportError(f"not enough memory to {memory}", kind=OUT_OF_MEMORY) from e
    except OSError as e:
        raise ExportError(f"could not write {what} to {out}: {e}", kind=INTERNAL) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def run_export_cli(parser: argparse.ArgumentParser, export: Callable[[argparse.Namespace], dict], argv: list[str] | None) -> int:
    """An export's command line: the result as one JSON line on stdout, or an ExportError as one line on stderr and
    exit status 2 (argparse's own errors exit 2 as well)."""
    args = parser.parse_args(argv)
    try:
        result = export(args)
    except ExportError as e:
        print(f"export failed ({e.kind}): {e.message}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


def adapter_metadata(adapter_path: Path | None) -> dict | None:
    """The adapter's own metadata (base model, data manifest, metrics), to carry into an export made from it."""
    meta_file = adapter_path / ADAPTER_META if adapter_path is not None else None
    if meta_file is None or not meta_file.is_file():
        return None
    return json.loads(meta_file.read_text(encoding="utf-8"))


def _make_temp_dir_beside(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; the renamed export should look like any other dir
        return tmp
    except OSError as e:
        raise ExportError(f"output directory {out} is not writable: {e}", kind=INTERNAL) from e

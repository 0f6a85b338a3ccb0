"""A full disk anywhere in a worker method becomes the actionable `disk_full` error, not an internal error."""

from __future__ import annotations

import errno
import io
import json

import pytest

from repotune_trainer.errors import DISK_FULL, disk_full_error
from repotune_trainer.rpc import ProtocolWriter, Worker


def _write_to_full_device(params: dict) -> dict:
    # /dev/full answers every write with ENOSPC: the kernel's own full disk.
    with open("/dev/full", "w", encoding="utf-8") as f:
        f.write("x" * 65536)
        f.flush()
    return {}


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_worker_reports_a_real_enospc_as_disk_full():
    out = io.StringIO()
    worker = Worker(ProtocolWriter(out))
    worker.methods["fill_disk"] = _write_to_full_device
    worker._handle({"jsonrpc": "2.0", "id": 7, "method": "fill_disk", "params": {}})
    response = json.loads(out.getvalue().strip().splitlines()[-1])
    assert response["id"] == 7
    assert response["error"]["data"]["kind"] == DISK_FULL
    assert "disk is full" in response["error"]["message"] and "fill_disk" in response["error"]["message"]


@pytest.mark.parametrize(
    ("exc", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (ValueError("bad shape"), False),
    ],
)
def test_disk_full_error_recognises_full_disks_only(exc, full):
    assert (disk_full_error(exc, "train") is not None) is full


def test_disk_full_error_follows_the_cause_chain():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("checkpoint failed") from inner
    except RuntimeError as outer:
        err = disk_full_error(outer, "train")
    assert err is not None and err.kind == DISK_FULL

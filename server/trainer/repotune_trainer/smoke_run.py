"""Runs a generated smoke test with network, subprocesses and writes outside its folder refused.

Usage (the sidecar runs it; see server/src/generate/sandbox.ts):
    python -I -B smoke_run.py SANDBOX_DIR

SANDBOX_DIR holds model_code.py (the generated code) and smoke_test.py (construct, forward, loss). This script
installs an audit hook (PEP 578) and then runs smoke_test.py as __main__ with SANDBOX_DIR first on sys.path. An
audit hook cannot be removed once added, so the generated code cannot switch it off from Python. It refuses:
  - network: socket connect/bind/sendto/sendmsg and name resolution (getaddrinfo, gethostbyname, ...);
  - new processes: subprocess, os.system, os.exec*, os.posix_spawn*, os.fork (a child would escape the hook);
  - opening a file for writing outside SANDBOX_DIR (and /dev).
It is a guard against accidents of generated code (a download, a stray file), NOT a security boundary: native code
(ctypes, a C extension) calls the OS directly. The sidecar adds the rest: a timeout that kills the process group,
an unroutable proxy in the environment, HOME and TMPDIR inside the folder, and the folder removed afterwards.
Standalone on purpose (standard library only): with -I the trainer package is not on sys.path.
"""

from __future__ import annotations

import os
import runpy
import sys

BLOCKED_NETWORK = {
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo",
}
BLOCKED_PROCESS = {
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn",
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def install_guard(sandbox: str) -> None:
    root = os.path.realpath(sandbox)
    allowed_roots = (root + os.sep, "/dev/")

    def writes(mode, flags) -> bool:
        if isinstance(mode, str) and any(c in mode for c in "wax+"):
            return True
        return isinstance(flags, int) and bool(flags & WRITE_FLAGS)

    def hook(event: str, args: tuple) -> None:
        if event in BLOCKED_NETWORK:
            raise PermissionError(f"network access is disabled in the RepoTune smoke test ({event})")
        if event in BLOCKED_PROCESS:
            raise PermissionError(f"starting processes is disabled in the RepoTune smoke test ({event})")
        if event == "open" and len(args) >= 3 and isinstance(args[0], (str, bytes)) and writes(args[1], args[2]):
            target = os.path.realpath(os.fsdecode(args[0]))
            if target != root and not target.startswith(allowed_roots):
                raise PermissionError(f"writing outside the smoke-test folder is disabled ({target})")

    sys.addaudithook(hook)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        print("usage: python -I -B smoke_run.py SANDBOX_DIR", file=sys.stderr)
        return 2
    sandbox = os.path.realpath(argv[0])
    install_guard(sandbox)
    sys.path.insert(0, sandbox)
    runpy.run_path(os.path.join(sandbox, "smoke_test.py"), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

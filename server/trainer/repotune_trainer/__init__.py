"""RepoTune's Python worker.

It knows nothing of VS Code or LSP: the Node sidecar drives it over JSON-RPC on stdio (see rpc.py and
docs/architecture.md), and every entry point is also callable from Python for tests and benchmarks.
"""

__version__ = "0.1.0"

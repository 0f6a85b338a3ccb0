"""Everything that needs a GPU, in one go: the CUDA tests, then the training benchmark on the real model shapes.

    python bench/gpu_checks.py            # on a CUDA machine (torch, transformers, peft; pytest optional)
    python bench/gpu_checks.py --quick    # CUDA tests + the 0.5B shape only

The CUDA tests (server/trainer/tests/test_recipe_cuda.py, plus the CPU-safe recipe tests) run under pytest when it
is installed; otherwise a minimal runner calls each test function with the demo model, demo shards and a temporary
directory (skips are reported, failures print their traceback). Then bench/train.py runs with the default attention
choice and again with flex attention (padding-free without the flash_attn package), and bench/serve_gpu.py times
completion serving (the torch backend, 1.5B shape, keystroke latency). Exit code 1 if anything failed or a benchmark
target was missed.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINER = ROOT / "server" / "trainer"
CUDA_TESTS = ["tests/test_recipe_cuda.py", "tests/test_oom.py", "tests/test_recipe_options.py", "tests/test_serve_torch.py"]


def run_pytest() -> bool:
    print("== CUDA tests (pytest)", flush=True)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", *CUDA_TESTS], cwd=TRAINER).returncode == 0


class Skipped(Exception):
    pass


def install_pytest_stub() -> None:
    """The few pytest names the CUDA tests and conftest use at import and run time."""
    import types

    def skip(reason=""):
        raise Skipped(reason)

    def passthrough(*_a, **_k):
        return lambda fn: fn

    def fixture(*args, **_k):
        return args[0] if args and callable(args[0]) else (lambda fn: fn)

    stub = types.ModuleType("pytest")
    stub.skip, stub.fixture = skip, fixture
    stub.mark = types.SimpleNamespace(skipif=passthrough, parametrize=passthrough)
    sys.modules["pytest"] = stub


def run_minimal() -> bool:
    """Runs tests/test_recipe_cuda.py without pytest (the device image may not have it)."""
    print("== CUDA tests (minimal runner: pytest is not installed)", flush=True)
    sys.path[:0] = [str(TRAINER), str(TRAINER / "tests")]
    install_pytest_stub()
    from conftest import make_examples, write_shards
    from tokenizers import Tokenizer

    from repotune_trainer.demo_model import write_demo_model

    import test_recipe_cuda as tests

    ok = True
    with tempfile.TemporaryDirectory(prefix="repotune-gpu-") as tmp:
        model_dir = write_demo_model(Path(tmp) / "model", seed=0)
        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        examples = make_examples(tok)
        shards = write_shards(Path(tmp) / "shards", examples, examples[:5], str(model_dir / "tokenizer.json"))
        for name, fn in inspect.getmembers(tests, inspect.isfunction):
            if not name.startswith("test_"):
                continue
            out = Path(tmp) / name
            out.mkdir()
            try:
                fn(demo_model_dir=model_dir, demo_shards=shards, tmp_path=out)
                print(f"PASS {name}", flush=True)
            except Skipped as skip:
                print(f"SKIP {name}: {skip}", flush=True)
            except Exception:
                ok = False
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    return ok


def run_bench(shapes: list[str], extra: list[str]) -> bool:
    command = [sys.executable, str(ROOT / "bench" / "train.py"), *[a for s in shapes for a in ("--shape", s)], *extra]
    print(f"== {' '.join(command[1:])}", flush=True)
    return subprocess.run(command).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 0.5B shape only")
    opts = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here (the CPU tests run with the normal test suite)")
        return 1
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    tests_ok = run_pytest() if importlib.util.find_spec("pytest") else run_minimal()
    shapes = ["0.5b"] if opts.quick else ["0.5b", "1.5b"]
    bench_ok = run_bench(shapes, [])
    flex_ok = run_bench(["0.5b"], ["--ours-params", '{"attn_implementation": "flex_attention"}'])
    print("== bench/serve_gpu.py", flush=True)
    serve_ok = subprocess.run([sys.executable, str(ROOT / "bench" / "serve_gpu.py")]).returncode == 0
    print(f"\nCUDA tests {'passed' if tests_ok else 'FAILED'}; benchmark targets {'met' if bench_ok else 'MISSED'}; "
          f"flex-attention variant {'met' if flex_ok else 'missed'} (informational); "
          f"serving latency targets {'met' if serve_ok else 'MISSED'}")
    return 0 if tests_ok and bench_ok and serve_ok else 1


if __name__ == "__main__":
    sys.exit(main())

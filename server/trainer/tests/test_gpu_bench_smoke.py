"""The GPU benchmarks' CPU smoke runs (bench/train.py --tiny, bench/serve_gpu.py --tiny) in CI.

Device time is lent in minutes per session (bench/gpu_checks.py's docstring): a benchmark script that a refactor
broke would cost a whole session's GPU time to find. These runs take the same code paths on a tiny model on the CPU
and check the figures they print, not their values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Both scripts print one JSON object per measured run (RESULT lines for train.py, bare lines for serve_gpu.py).
SMOKE_TIMEOUT_S = 300


def run_bench(subprocess_env, *args: str) -> list[dict]:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=subprocess_env, capture_output=True, text=True,
                          timeout=SMOKE_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(line.removeprefix("RESULT ")) for line in proc.stdout.splitlines()
            if line.startswith(("RESULT {", "{"))]


def test_training_benchmark_runs_baseline_variant_and_recipe(subprocess_env):
    results = run_bench(subprocess_env, "bench/train.py", "--tiny", "--examples", "40", "--seq-len", "128",
                        "--variant", 'eager={"compile": "off"}')
    assert [r["run"] for r in results] == ["baseline (HF+PEFT, SDPA, padded)", "recipe eager", "repotune recipe"]
    for r in results:
        assert r["tokens_per_s"] > 0 and r["steps"] > 0 and r["loss"] > 0 and r["peak_bytes"] > 0
    # The same examples, so the same real tokens, whatever the packing (padding is not counted).
    assert results[1]["tokens"] == results[2]["tokens"]


def test_serving_benchmark_times_both_cache_modes(subprocess_env):
    results = run_bench(subprocess_env, "bench/serve_gpu.py", "--tiny", "--keystrokes", "4", "--new-tokens", "3",
                        "--context", "128", "--modes", "static,dynamic")
    assert [(r["mode"], r["new_tokens"], r["keystrokes"]) for r in results] == [("static", 3, 4), ("dynamic", 3, 4)]
    for r in results:
        assert 0 < r["p50_ms"] <= r["p95_ms"] and r["decode_tok_s"] > 0 and r["prefill_tok_s_cold"] > 0
        # Typing reuses the KV cache: a keystroke prefills its new token(s), not the 128-token prompt.
        assert r["by_kind"]["typing"]["count"] >= 1 and r["mean_prefilled_tokens"] < 64

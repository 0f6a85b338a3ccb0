"""The torch serving backend on the real demo model (CPU): greedy parity with transformers' generate, KV-cache crop
and reuse, cancellation, clear load errors, and the serve_worker protocol as the sidecar drives it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import TEST_TORCH_THREADS
from test_rpc import WorkerClient

from repotune_trainer.errors import BAD_MODEL, MISSING_DEPENDENCY, WorkerError
from repotune_trainer.serve_torch import PREFILL_CHUNK_TOKENS, TorchServer

NEW_TOKENS = 16
PROMPT_TOKENS = 40


@pytest.fixture(scope="module", params=[False, True], ids=["dynamic-cache", "static-cache"])
def server(request, demo_model_dir):
    return TorchServer.load(str(demo_model_dir), None, "cpu", TEST_TORCH_THREADS, static_cache=request.param)


@pytest.fixture(scope="module")
def hf_model(demo_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(demo_model_dir), dtype=torch.float32).eval()


def hf_greedy(model, ids: list[int], n: int = NEW_TOKENS) -> list[int]:
    x = torch.tensor([ids])
    with torch.no_grad():
        g = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=n, min_new_tokens=n,
                           pad_token_id=model.config.eos_token_id)
    return g[0, len(ids):].tolist()


def prompt(start: int, n: int = PROMPT_TOKENS) -> list[int]:
    return [(start + 7 * i) % 1000 + 9 for i in range(n)]  # ordinary tokens, clear of the special ids 0..8


def test_greedy_equals_hf_generate(server, hf_model):
    for p in (prompt(0), prompt(3, 5)):
        server.reset()
        got = server.generate(p, NEW_TOKENS, [])
        assert got["ids"] == hf_greedy(hf_model, p)
        assert (got["stopped_by"], got["reused_tokens"], got["prefilled_tokens"]) == ("length", 0, len(p))


def test_cache_crop_reuses_the_common_prefix_and_stays_exact(server, hf_model):
    base = prompt(1)
    server.reset()
    first = server.generate(base, NEW_TOKENS, [])
    # The cache holds the prompt and every generated token but the last (never fed back).
    assert server.cached_tokens == base + first["ids"][:-1]
    typed = base + [11, 12, 13]  # typing at the end: only the new tail is prefilled
    edited = base[:25] + [14, 15]  # an edit inside the prompt: the cache is cropped to the common start
    continued = base + first["ids"][:4]  # accepting part of the suggestion: those tokens are already cached
    for p, reused in ((typed, len(base)), (edited, 25), (continued, 25)):
        got = server.generate(p, NEW_TOKENS, [])
        assert (got["reused_tokens"], got["prefilled_tokens"]) == (reused, len(p) - reused)
        assert got["ids"] == hf_greedy(hf_model, p), p
    # A prompt fully cached still feeds its last token (its logits are the first new token's).
    again = server.generate(continued, NEW_TOKENS, [])
    assert (again["reused_tokens"], again["prefilled_tokens"]) == (len(continued) - 1, 1)


def test_long_prompt_is_prefilled_in_chunks_with_the_same_result(server, hf_model):
    p = prompt(2, PREFILL_CHUNK_TOKENS + 30)
    server.reset()
    got = server.generate(p, 4, [])
    assert got["prefilled_tokens"] == len(p) and got["ids"] == hf_greedy(hf_model, p, 4)


def test_stop_ids_end_generation_and_are_not_returned(server):
    p = prompt(4)
    server.reset()
    free = server.generate(p, NEW_TOKENS, [])["ids"]
    stop = free[5]
    got = server.generate(p, NEW_TOKENS, [stop])
    assert got["stopped_by"] == "stop" and got["ids"] == free[:free.index(stop)]


def test_cancel_between_tokens(server, hf_model):
    p = prompt(5)
    seen: list[int] = []
    got = server.generate(p, 10_000, [], on_token=seen.append, should_stop=lambda: len(seen) >= 3)
    assert got["stopped_by"] == "cancelled" and got["ids"] == seen and len(seen) == 3
    # The cache is consistent after a cancel: the next request is served exactly.
    assert server.generate(p + [20], NEW_TOKENS, [])["ids"] == hf_greedy(hf_model, p + [20])


def test_static_decode_step_compiles_as_one_graph_with_the_same_ids(demo_model_dir):
    """On CUDA the static mode compiles the decode step (mode reduce-overhead); here dynamo must trace the same step
    in ONE graph (fullgraph) and give the same ids, so the GPU run does not meet a graph break first."""
    server = TorchServer.load(str(demo_model_dir), None, "cpu", TEST_TORCH_THREADS, static_cache=True)
    reference = TorchServer.load(str(demo_model_dir), None, "cpu", TEST_TORCH_THREADS)
    server._decode = torch.compile(server.model.forward, fullgraph=True, backend="aot_eager")
    base = prompt(8)
    for p in (base, base + [5, 6, 7], base[:20] + [1, 2]):
        assert server.generate(p, 8, [])["ids"] == reference.generate(p, 8, [])["ids"]


def test_a_decode_step_that_does_not_compile_serves_eagerly_under_auto(demo_model_dir):
    """On CUDA static_cache "auto" compiles the decode step at load; where that fails (here: inductor without a C++
    compiler, on the CPU) the server falls back to the dynamic cache and serves the same ids; static_cache true
    keeps the error."""
    import torch._inductor.config as inductor_config

    reference = TorchServer.load(str(demo_model_dir), None, "cpu", TEST_TORCH_THREADS, static_cache=False)
    p = prompt(9)
    torch._dynamo.reset()
    try:
        with inductor_config.patch({"cpp.cxx": ("/nonexistent/g++",)}):
            strict = TorchServer.load(str(demo_model_dir), None, "cpu", TEST_TORCH_THREADS, static_cache=True)
            with pytest.raises(Exception, match="C\\+\\+ compiler"):
                strict.compile_decode_step(dynamic_if_compile_fails=False)
            torch._dynamo.reset()
            server = TorchServer.load(str(demo_model_dir), None, "cpu", TEST_TORCH_THREADS, static_cache=True)
            server.compile_decode_step(dynamic_if_compile_fails=True)
    finally:
        torch._dynamo.reset()
    assert server.source["static_cache"] is False and "C++ compiler" in server.source["static_cache_error"]
    assert server.generate(p, NEW_TOKENS, [])["ids"] == reference.generate(p, NEW_TOKENS, [])["ids"]
    assert server.generate(p + [3], NEW_TOKENS, [])["reused_tokens"] == len(p)


def test_serving_without_torch_is_a_missing_dependency(subprocess_env, demo_model_dir):
    """A Python without torch: loading a model must say which package is missing (the sidecar shows the fix), so
    nothing serve_torch.py imports at module level may import torch itself."""
    script = (
        "import sys; sys.modules['torch'] = None\n"  # import torch now raises ImportError
        "from repotune_trainer.errors import WorkerError\n"
        "from repotune_trainer.serve_torch import TorchServer\n"
        "try:\n"
        f"    TorchServer.load({str(demo_model_dir)!r}, None, 'cpu')\n"
        "except WorkerError as e:\n"
        "    print(e.kind, e.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=subprocess_env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(f"{MISSING_DEPENDENCY} The Python package 'torch' is not available")


def test_load_errors_are_clear(demo_model_dir, tmp_path):
    with pytest.raises(WorkerError) as err:
        TorchServer.load(str(demo_model_dir), None, "cuda")
    assert err.value.kind == MISSING_DEPENDENCY and "cuda" in err.value.message.lower()
    broken = tmp_path / "broken"
    shutil.copytree(demo_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WorkerError) as err:
        TorchServer.load(str(broken), None, "cpu", TEST_TORCH_THREADS)
    assert err.value.kind == BAD_MODEL and str(broken) in err.value.message
    with pytest.raises(WorkerError) as err:
        TorchServer.load(str(demo_model_dir), str(tmp_path / "no-adapter"), "cpu", TEST_TORCH_THREADS)
    assert err.value.kind == BAD_MODEL and "adapter_config.json" in err.value.message


def test_serve_worker_streams_tokens_and_honours_cancel(subprocess_env, demo_model_dir, tmp_path, hf_model):
    client = WorkerClient(subprocess_env, tmp_path, module="repotune_trainer.serve_worker")
    try:
        loaded = client.call("load", {"model_dir": str(demo_model_dir), "adapter_dir": None, "device": "cpu",
                                      "num_threads": TEST_TORCH_THREADS})["result"]
        # static_cache "auto" (the default) is the dynamic cache on the CPU (the CUDA graph needs CUDA).
        assert (loaded["device"], loaded["dtype"], loaded["static_cache"]) == ("cpu", "float32", False)
        p = prompt(6)
        got = client.call("generate", {"key": 1, "ids": p, "max_new_tokens": NEW_TOKENS, "stop_ids": []})["result"]
        streamed = [n["params"]["token"] for n in client.notifications if n["method"] == "token"]
        assert got["ids"] == streamed == hf_greedy(hf_model, p)
        # A cancel that arrives before its generate runs is kept for it: the generate returns at once.
        client.call("cancel", {"key": 2})
        early = client.call("generate", {"key": 2, "ids": p, "max_new_tokens": 10_000, "stop_ids": []})["result"]
        assert early["stopped_by"] == "cancelled" and early["ids"] == []
        # A long run, cancelled once it streams: it stops well before its budget and the worker keeps serving.
        long_id = client.send("generate", {"key": 3, "ids": p, "max_new_tokens": 3000, "stop_ids": []})
        while not any(n.get("method") == "token" and n["params"]["key"] == 3 for n in client.notifications):
            client.notifications.append(client.lines.get(timeout=60))
        assert client.call("cancel", {"key": 3})["result"] == {"cancelled": True}
        stopped = client.wait(long_id)["result"]
        assert stopped["stopped_by"] == "cancelled" and len(stopped["ids"]) < 3000
        again = client.call("generate", {"key": 4, "ids": p + [30], "max_new_tokens": 4, "stop_ids": []})["result"]
        assert again["ids"] == hf_greedy(hf_model, p + [30], 4)
        err = client.call("generate", {"key": 5, "ids": [], "max_new_tokens": 4})["error"]
        assert err["data"] == {"kind": "bad_data"}
        assert json.loads(json.dumps(client.call("shutdown")["result"])) == {}
    finally:
        client.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bench/gpu_checks.py runs it)")
def test_cuda_serving_auto_is_the_cuda_graph(demo_model_dir):
    server = TorchServer.load(str(demo_model_dir), None, "cuda")
    assert server.source["static_cache"] is True and "static_cache_error" not in server.source
    assert len(server.generate(prompt(7), NEW_TOKENS, [])["ids"]) == NEW_TOKENS


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bench/gpu_checks.py runs it)")
@pytest.mark.parametrize("static_cache", [False, True], ids=["dynamic-cache", "cuda-graph"])
def test_cuda_serving_is_bf16_and_reuses_the_prefix(demo_model_dir, static_cache):
    server = TorchServer.load(str(demo_model_dir), None, "cuda", static_cache=static_cache)
    assert (server.source["device"], server.source["dtype"]) == ("cuda:0", "bfloat16")
    assert server.source["static_cache"] is static_cache and "static_cache_error" not in server.source
    p = prompt(7)
    first = server.generate(p, NEW_TOKENS, [])
    assert len(first["ids"]) == NEW_TOKENS and first["prefilled_tokens"] == len(p)
    typed = p + [21, 22]
    got = server.generate(typed, NEW_TOKENS, [])
    assert (got["reused_tokens"], got["prefilled_tokens"], len(got["ids"])) == (len(p), 2, NEW_TOKENS)

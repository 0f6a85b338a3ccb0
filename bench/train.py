"""LoRA training throughput: plain transformers + PEFT (SDPA, padded batches) vs RepoTune's recipe, same data.

    python bench/train.py --tiny                     # CPU smoke run (< 1 min): prints the figures, no targets
    python bench/train.py --shape 0.5b --shape 1.5b  # CUDA: Qwen2.5-Coder-0.5B/-1.5B shapes, random weights

Both runs train the same randomly initialised model shape (no hub) with LoRA r=16 on every linear layer over the
same synthetic examples (lengths uniform in [seq_len/16, seq_len], the first 30% of each a prompt without loss),
at the same sequence length, each example once. Throughput counts real (non-padding) tokens only; the first
WARMUP_STEPS steps of each run are not timed. MFU = tokens/s x 4N / peak, N = the base model's parameters (tied
embeddings once): a LoRA step is a forward (2N) and a backward without weight gradients (2N). Attention FLOPs are
not counted, so MFU is conservative. Peak memory is torch's max allocated on CUDA (the process RSS on CPU).
Targets on CUDA (H100): ours >= 2x the baseline's tokens/s, >= 45% MFU, <= 0.5x its peak memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server" / "trainer"))

from repotune_trainer.args import TrainArgs  # noqa: E402
from repotune_trainer.env import process_rss_bytes  # noqa: E402
from repotune_trainer.recipe import run_training  # noqa: E402
from repotune_trainer.sizing import is_oom_error  # noqa: E402

# Qwen2.5-Coder shapes (config.json of the released models); "tiny" is for a CPU smoke run.
SHAPES = {
    "0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                 intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True),
    "1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                 intermediate_size=8960, vocab_size=151936, tie_word_embeddings=True),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=128, vocab_size=2048, tie_word_embeddings=True),
}
# Dense bf16 peak FLOP/s per device (vendor datasheets, without sparsity).
PEAK_FLOPS = {"H100 PCIe": 756e12, "H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12}
TARGETS = {"speedup": 2.0, "mfu": 0.45, "memory_ratio": 0.5}
WARMUP_STEPS = 3
PROMPT_FRACTION = 0.3
LORA_R, LORA_ALPHA, LEARNING_RATE = 16, 32, 1e-4


def make_model_dir(shape: str, out: Path, device: torch.device, seed: int = 0) -> tuple[Path, int]:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=32768, rope_theta=1e6, bos_token_id=0,
                         eos_token_id=1, pad_token_id=1)
    torch.manual_seed(seed)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(dtype)
    params = sum(p.numel() for p in model.parameters())  # parameters() yields tied weights once
    model.save_pretrained(str(out), safe_serialization=True)
    del model
    return out, params


def make_examples(num: int, seq_len: int, vocab: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    examples = []
    for length in rng.integers(max(8, seq_len // 16), seq_len + 1, num):
        prompt = int(length * PROMPT_FRACTION)
        examples.append({"ids": rng.integers(2, vocab, length).tolist(), "mask": [0] * prompt + [1] * (length - prompt),
                         "kind": "continuation", "path": "bench.py"})
    return examples


def write_shards(examples: list[dict], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "train-00000.jsonl").open("w") as f:
        for ex in examples:
            f.write(json.dumps(ex) + "\n")
    (out / "index.json").write_text(json.dumps({"version": 1, "tokenizer": "", "family": "qwen2.5-coder",
                                                "train": ["train-00000.jsonl"], "eval": [],
                                                "examples": {"train": len(examples), "eval": 0}}))
    return out


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_memory(device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory(device) -> int:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else process_rss_bytes()


def run_baseline(model_dir: Path, examples: list[dict], seq_len: int, batch: int, device) -> dict:
    """Plain transformers + PEFT: one example per row, right-padded to seq_len, SDPA, the model's own loss."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype, attn_implementation="sdpa").to(device)
    model = get_peft_model(model, LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    _reset_memory(device)
    micro = batch
    while True:  # a plain loop that does not fit is given accumulation, like a user would
        try:
            return _baseline_loop(model, optimizer, examples, seq_len, batch, micro, device) | {"micro_batch": micro}
        except (RuntimeError, MemoryError) as exc:
            if not is_oom_error(exc) or micro == 1:
                raise
        optimizer.zero_grad(set_to_none=True)
        micro //= 2
        _reset_memory(device)
        print(f"  baseline: out of memory, retrying with micro-batch {micro}", flush=True)


def _baseline_loop(model, optimizer, examples, seq_len, batch, micro, device) -> dict:
    peak_rss, tokens, t_start = 0, 0, None
    steps = math.ceil(len(examples) / batch)
    for step in range(steps):
        if step == WARMUP_STEPS:
            _sync(device)
            t_start, tokens = time.perf_counter(), 0
        chunk = examples[step * batch:(step + 1) * batch]
        for m in range(0, len(chunk), micro):
            part = chunk[m:m + micro]
            ids = torch.full((len(part), seq_len), 1, dtype=torch.long)
            labels = torch.full_like(ids, -100)
            attn = torch.zeros_like(ids)
            for i, ex in enumerate(part):
                n = len(ex["ids"])
                ids[i, :n] = torch.tensor(ex["ids"])
                labels[i, :n] = torch.where(torch.tensor(ex["mask"]) == 1, ids[i, :n], -100)
                attn[i, :n] = 1
            out = model(input_ids=ids.to(device), attention_mask=attn.to(device), labels=labels.to(device))
            (out.loss * len(part) / len(chunk)).backward()
            tokens += int(attn.sum())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        peak_rss = max(peak_rss, process_rss_bytes())
        last_loss = float(out.loss.item())
    _sync(device)
    seconds = time.perf_counter() - t_start
    peak = _peak_memory(device) if device.type == "cuda" else peak_rss
    return {"tokens_per_s": tokens / seconds, "tokens": tokens, "seconds": seconds, "peak_bytes": peak,
            "steps": steps, "loss": last_loss}


def run_ours(model_dir: Path, data_dir: Path, out: Path, num_rows_hint: int, seq_len: int, batch: int, device,
             extra: dict) -> dict:
    from repotune_trainer.data import pack_examples, read_examples

    rows = len(pack_examples(read_examples(data_dir), seq_len, pad_id=1))
    steps = max(WARMUP_STEPS + 2, math.ceil(rows / batch))
    progress: list[dict] = []
    _reset_memory(device)
    args = TrainArgs.from_params({"model_dir": str(model_dir), "data_dir": str(data_dir), "output_dir": str(out),
                                  "max_steps": steps, "batch_size": batch, "seq_len": seq_len,
                                  "device": device.type, "checkpoint_every": 0, "eval_every": 0, "log_every": 0,
                                  "learning_rate": LEARNING_RATE, "warmup_steps": 1, **extra})
    result = run_training(args, on_progress=progress.append)
    start, end = progress[WARMUP_STEPS - 1], progress[-1]
    seconds = end["elapsed_s"] - start["elapsed_s"]
    tokens = end["tokens_seen"] - start["tokens_seen"]
    peak = _peak_memory(device) if device.type == "cuda" else max(p["device_mem_bytes"] for p in progress)
    return {"tokens_per_s": tokens / seconds, "tokens": tokens, "seconds": seconds, "peak_bytes": peak,
            "steps": steps, "loss": result.final_loss, "plan": result.batch_plan}


def peak_flops(device, override: float | None) -> tuple[float | None, str]:
    if override:
        return override * 1e12, f"{override:g} TFLOP/s (--peak-tflops)"
    if device.type != "cuda":
        return None, "n/a on CPU (pass --peak-tflops)"
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_FLOPS.items():  # "H100 PCIe" is listed before "H100"
        if key in name:
            return value, f"{value / 1e12:g} TFLOP/s dense bf16 ({name})"
    return None, f"unknown for {name} (pass --peak-tflops)"


def report(shape: str, name: str, r: dict, n_params: int, peak: float | None) -> None:
    mfu = r["tokens_per_s"] * 4 * n_params / peak if peak else None
    r["mfu"] = mfu
    print(f"  {name:34s} {r['tokens_per_s']:>12,.0f} tok/s  MFU {'n/a' if mfu is None else f'{mfu:6.1%}'}  "
          f"peak {r['peak_bytes'] / 2**30:7.2f} GiB  ({r['tokens']:,} tokens in {r['seconds']:.2f} s, "
          f"last loss {r['loss']:.3f})", flush=True)
    print("RESULT " + json.dumps({"shape": shape, "run": name, **{k: v for k, v in r.items() if k != "plan"},
                                  "plan": r.get("plan")}), flush=True)


def bench_shape(shape: str, opts, device, work: Path) -> bool:
    model_dir, n_params = make_model_dir(shape, work / f"model-{shape}", device)
    vocab = SHAPES[shape]["vocab_size"]
    examples = make_examples(opts.examples, opts.seq_len, vocab)
    data_dir = write_shards(examples, work / f"shards-{shape}")
    peak, peak_text = peak_flops(device, opts.peak_tflops)
    print(f"\n== {shape}: N={n_params / 1e6:.1f}M params, seq_len {opts.seq_len}, {len(examples)} examples, "
          f"batch {opts.batch} rows, device {device}, peak {peak_text}", flush=True)
    base = run_baseline(model_dir, examples, opts.seq_len, opts.batch, device)
    report(shape, "baseline (HF+PEFT, SDPA, padded)", base, n_params, peak)
    # The default recipe runs last, so the variants' figures never depend on what its run left behind (before
    # step.py restored the module, Liger's module-wide patches reached every later run).
    variants = [(f"recipe {name}", json.loads(params)) for name, params in
                (v.split("=", 1) for v in opts.variant or [])]
    variants += [("repotune recipe", json.loads(opts.ours_params) if opts.ours_params else {})]
    results = {}
    for i, (name, extra) in enumerate(variants):
        try:
            r = run_ours(model_dir, data_dir, work / f"out-{shape}-{i}", len(examples), opts.seq_len, opts.batch,
                         device, extra)
        except Exception as exc:  # a variant that fails (a kernel this torch lacks) must not hide the others
            if name == "repotune recipe":
                raise
            print(f"  {name:34s} FAILED: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            continue
        results[name] = r
        report(shape, name, r, n_params, peak)
        print(f"  {'':34s} vs baseline: tokens/s {r['tokens_per_s'] / base['tokens_per_s']:.2f}x, peak memory "
              f"{r['peak_bytes'] / max(base['peak_bytes'], 1):.2f}x; plan {r['plan']}",
              flush=True)
    ours = results["repotune recipe"]
    speedup = ours["tokens_per_s"] / base["tokens_per_s"]
    memory = ours["peak_bytes"] / max(base["peak_bytes"], 1)
    print(f"  ratios (default recipe): tokens/s {speedup:.2f}x, peak memory {memory:.2f}x; "
          f"baseline micro-batch {base['micro_batch']}")
    ok = True
    if device.type == "cuda" and not opts.tiny:
        checks = {"speedup": speedup >= TARGETS["speedup"], "memory_ratio": memory <= TARGETS["memory_ratio"],
                  "mfu": ours["mfu"] is not None and ours["mfu"] >= TARGETS["mfu"]}
        print("  targets: " + ", ".join(f"{k} {'MET' if v else 'MISSED'}" for k, v in checks.items()))
        ok = all(checks.values())
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shape on the CPU, for a smoke run")
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES), help="repeatable; default 0.5b and 1.5b")
    parser.add_argument("--seq-len", type=int, default=None, help="default 2048 (256 with --tiny)")
    parser.add_argument("--batch", type=int, default=8, help="rows per optimizer step, both runs")
    parser.add_argument("--examples", type=int, default=None, help="default 512 (48 with --tiny)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU, TFLOP/s")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--ours-params", default="", help='extra train params for our run, JSON, e.g. '
                        '\'{"attn_implementation": "flex_attention"}\'')
    parser.add_argument("--variant", action="append", metavar="NAME=JSON", help="repeatable: another run of our "
                        'recipe with these train params (before the default one), e.g. flex=\'{"attn_implementation": '
                        '"flex_attention"}\' (informational; targets judge the default run)')
    opts = parser.parse_args()
    # The recipe's "batch plan: ...; packing, loss, attention" line says which kernels each run really used.
    logging.basicConfig(level=logging.WARNING, format="  [%(name)s] %(message)s")
    logging.getLogger("repotune_trainer.recipe").setLevel(logging.INFO)
    opts.seq_len = opts.seq_len or (256 if opts.tiny else 2048)
    opts.examples = opts.examples or (48 if opts.tiny else 512)
    if opts.examples <= WARMUP_STEPS * opts.batch:
        parser.error(f"--examples {opts.examples} leaves no timed step: the first {WARMUP_STEPS} steps of "
                     f"--batch {opts.batch} rows are warm-up; give more than {WARMUP_STEPS * opts.batch}")
    cuda = opts.device != "cpu" and torch.cuda.is_available() and not opts.tiny
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)  # steady figures on a shared machine
    shapes = ["tiny"] if opts.tiny else (opts.shape or ["0.5b", "1.5b"])
    ok = True
    with tempfile.TemporaryDirectory(prefix="repotune-bench-") as tmp:
        for shape in shapes:
            ok = bench_shape(shape, opts, device, Path(tmp)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

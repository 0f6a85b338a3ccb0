"""'Pretrains' the demo-sized model (full fine-tuning of its random weights) on a corpus of source files, as a small
stand-in for a code model's pretraining, for bench/eval_demo.mjs.

Half the samples are plain causal windows of a file, half are fill-in-the-middle samples in the Qwen2.5-Coder PSM
format the serving prompt builder uses (<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>middle<|endoftext|>), with a
middle of one to three lines: without FIM pretraining the base model could not answer a FIM prompt at all and a
LoRA's gain would mostly be learning the format. A share of the files is held out and written as holdout.json (the
format of server/src/eval/forgetting.ts) for the forgetting check.

    python bench/eval_demo_pretrain.py --model DIR --out DIR --files LIST.txt [--minutes 4 | --steps N] [--threads 2]
"""
import argparse
import json
import math
import random
import shutil
import time
from pathlib import Path

SEQ_LEN = 512
BATCH_SIZE = 8
LEARNING_RATE = 3e-3
WARMUP_STEPS = 30
FIM_RATE = 0.5
HOLDOUT_FILES = 24
PREFIX_CHARS = 1200  # about 400 tokens of this tokenizer: most of the window, as in serving
SUFFIX_CHARS = 400
SEED = 0
DEMO_MARKER = "repotune-demo.json"  # server/src/models/modelStore.ts isDemoModel


def fim_sample(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    i = rng.randrange(1, max(2, len(lines) - 1))
    j = min(len(lines), i + rng.randint(1, 3))
    prefix = "\n".join(lines[:i]) + "\n"
    middle = "\n".join(lines[i:j])
    suffix = "\n" + "\n".join(lines[j:])
    return f"<|fim_prefix|>{prefix[-PREFIX_CHARS:]}<|fim_suffix|>{suffix[:SUFFIX_CHARS]}<|fim_middle|>{middle}<|endoftext|>"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--files", required=True, help="text file: one source path per line (root<TAB>path)")
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=0, help="fixed step count (reproducible on a busy machine); 0 = --minutes")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    entries = [line.split("\t") for line in Path(args.files).read_text().splitlines() if line.strip()]
    docs = [(rel, Path(root, rel).read_text(encoding="utf-8", errors="replace")) for root, rel in entries]
    rng.shuffle(docs)
    holdout, train = docs[:HOLDOUT_FILES], docs[HOLDOUT_FILES:]
    out = Path(args.out)
    (out / "corpus-holdout").mkdir(parents=True, exist_ok=True)
    (out / "corpus-holdout" / "holdout.json").write_text(json.dumps(
        {"version": 1, "seed": SEED, "files": [{"path": p, "text": t, "language": "python"} for p, t in holdout]}))

    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    model.train()
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    train_ids = [tok(t)["input_ids"] + [eos] for _, t in train]
    weights = [len(x) for x in train_ids]

    def sample() -> list[int]:
        k = rng.choices(range(len(train)), weights=weights)[0]
        if rng.random() < FIM_RATE:
            ids = tok(fim_sample(train[k][1], rng))["input_ids"]
            return ids[-SEQ_LEN:]
        ids = train_ids[k]
        start = rng.randrange(0, max(1, len(ids) - SEQ_LEN))
        return ids[start:start + SEQ_LEN]

    opt = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    budget = args.minutes * 60
    started = time.monotonic()
    step, loss_avg = 0, None
    def progress() -> float:  # 0..1 of the budget: steps when fixed, else wall clock
        return step / args.steps if args.steps else (time.monotonic() - started) / budget

    while progress() < 1.0:
        rows = [sample() for _ in range(BATCH_SIZE)]
        width = max(len(r) for r in rows)
        input_ids = torch.full((BATCH_SIZE, width), eos)
        labels = torch.full((BATCH_SIZE, width), -100)
        for r, row in enumerate(rows):
            input_ids[r, :len(row)] = torch.tensor(row)
            labels[r, :len(row)] = torch.tensor(row)
        frac = progress()  # cosine over the budget
        lr = LEARNING_RATE * min(1.0, (step + 1) / WARMUP_STEPS) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        loss_avg = loss.item() if loss_avg is None else 0.95 * loss_avg + 0.05 * loss.item()
        if step % 50 == 0:
            print(f"step {step} loss {loss_avg:.3f} lr {lr:.2e} {time.monotonic() - started:.0f}s", flush=True)
    model.save_pretrained(out / "model")
    # Tokenizer and model card as they were (not re-serialised). Not the demo marker: a pretrained base is no longer
    # the random demo model, and the marker would give its LoRA the random model's learning rate (6e-3, far too high).
    for f in Path(args.model).iterdir():
        if f.is_file() and not f.name.endswith(".safetensors") and f.name not in ("config.json", DEMO_MARKER):
            shutil.copy(f, out / "model" / f.name)
    print(json.dumps({"steps": step, "loss": loss_avg, "train_files": len(train), "holdout_files": len(holdout),
                      "seconds": round(time.monotonic() - started, 1), "model_dir": str(out / "model")}))


if __name__ == "__main__":
    main()

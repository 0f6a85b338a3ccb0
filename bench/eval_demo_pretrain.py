"""'Pretrains' the demo-sized model (full fine-tuning of its random weights) on a corpus of source files, as a small
stand-in for a code model's pretraining, for bench/eval_demo.mjs.

Half the samples are plain causal windows of a file, half are fill-in-the-middle samples in the Qwen2.5-Coder PSM
format the serving prompt builder uses (<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>middle<|endoftext|>): without
FIM pretraining the base model could not answer a FIM prompt at all and a LoRA's gain would mostly be learning the
format. The middle has the shape serving asks for (server/src/completion/stablePrompt.ts, the `line` and `block`
spans of server/src/examples/plan.ts): one to three lines starting at a line's content, its indentation at the
prefix's end. Half the FIM samples carry repository-level context as the prompt builder writes it for this family
(<|file_sep|>path\nchunk\n … <|file_sep|>current/path\n before <|fim_prefix|>), with the chunks of other files of
the same package that share the most identifiers with the code before the cursor (a cheap stand-in for the BM25
retrieval of server/src/retrieval/repoIndex.ts, same chunking and query lines): a real code model was pretrained
with such context, and without it the base+retrieval arm would be out of distribution.
Every token is a target, as in a code model's pretraining. (Measured, issue 7: giving a FIM sample's middle and end
token a loss of their own did teach the base to stop, but cost holdout bits per byte, 2.09 -> 2.27 after 2000
steps, and its completions stayed at chance; so it is not done.) A share of the files is held out and written as
holdout.json (the format of server/src/eval/forgetting.ts) for the forgetting check.

    python bench/eval_demo_pretrain.py --model DIR --out DIR --files LIST.txt [--minutes 4 | --steps N] [--threads 2]
"""
import argparse
import json
import math
import random
import re
import shutil
import time
from pathlib import Path

SEQ_LEN = 512
BATCH_SIZE = 8
LEARNING_RATE = 3e-3
WARMUP_STEPS = 30
FIM_RATE = 0.5
HOLDOUT_FILES = 24
PREFIX_CHARS = 4000  # text cut before tokenizing; the token budget below decides what stays
SUFFIX_CHARS = 2000
# server/src/examples/promptBuilder.ts DEFAULT_BUDGET and MIN_SNIPPET_TOKENS
PROMPT_BUDGET = 1024
PREFIX_SHARE = 0.6
SUFFIX_SHARE = 0.25
MIN_SNIPPET_TOKENS = 16
SEED = 0
MAX_MIDDLE_LINES = 3
CONTEXT_RATE = 0.5  # share of FIM samples with repository-level context (server/src/examples/shards.ts: 0.5)
CONTEXT_SNIPPETS = 3  # server/src/retrieval/repoIndex.ts DEFAULT_CONTEXT_SNIPPETS
CHUNK_LINES = 12  # repoIndex.ts CHUNK_LINES / MAX_CHUNK_CHARS / QUERY_LINES
MAX_CHUNK_CHARS = 600
QUERY_LINES = 12
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
DEMO_MARKER = "repotune-demo.json"  # server/src/models/modelStore.ts isDemoModel


def chunks_by_package(docs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str, frozenset[str]]]]:
    """Retrieval chunks (path, text, identifiers) of each top-level package: the pool context is drawn from."""
    pools: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
    for rel, text in docs:
        lines = text.split("\n")
        for i in range(0, len(lines), CHUNK_LINES):
            chunk = "\n".join(lines[i:i + CHUNK_LINES])[:MAX_CHUNK_CHARS].rstrip()
            if chunk.strip():
                pools.setdefault(rel.split("/")[0], []).append((rel, chunk, frozenset(IDENTIFIER.findall(chunk))))
    return pools


def context_snippets(rel: str, prefix: str, pool: list[tuple[str, str, frozenset[str]]]) -> list[tuple[str, str]]:
    """The chunks of other files sharing the most identifiers with the code before the cursor, most relevant last."""
    query = frozenset(IDENTIFIER.findall("\n".join(prefix.split("\n")[-QUERY_LINES:])))
    scored = sorted(((len(query & ids), k) for k, (path, _, ids) in enumerate(pool) if path != rel), reverse=True)
    return [(pool[k][0], pool[k][1]) for score, k in reversed(scored[:CONTEXT_SNIPPETS]) if score > 0]


class FimBuilder:
    """Token ids of a FIM sample as server/src/examples/promptBuilder.ts + trainingExample.ts build them for this
    family: budget = min(1024, SEQ_LEN - middle - 1); suffix head <= 25%, context <= 15% (least relevant snippets
    dropped, the first that does not fit cut to its head), prefix tail gets the rest."""

    def __init__(self, tok):
        self.tok = tok
        self.ids = {t: tok.convert_tokens_to_ids(t) for t in
                    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>", "<|file_sep|>")}

    def encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"] if text else []

    def context(self, rel: str, snippets: list[tuple[str, str]], limit: int) -> list[int]:
        sep = self.ids["<|file_sep|>"]
        current = [sep] + self.encode(f"{rel}\n")
        out: list[int] = []
        for path, chunk in reversed(snippets):
            piece = [sep] + self.encode(f"{path}\n{chunk}\n")
            room = limit - len(current) - len(out)
            if len(piece) <= room:
                out = piece + out
                continue
            if room >= MIN_SNIPPET_TOKENS:
                out = piece[:room] + out
            break
        return out + current if out else []

    def sample(self, rel: str, prefix: str, middle: str, suffix: str, snippets: list[tuple[str, str]]) -> list[int]:
        middle_ids = self.encode(middle)[: SEQ_LEN // 2]
        body = min(PROMPT_BUDGET, SEQ_LEN - len(middle_ids) - 1) - 3
        suffix_ids = self.encode(suffix)[: int(body * SUFFIX_SHARE)]
        context_ids = self.context(rel, snippets, int(body * (1 - PREFIX_SHARE - SUFFIX_SHARE))) if snippets else []
        keep = body - len(suffix_ids) - len(context_ids)
        prefix_ids = self.encode(prefix)[-keep:] if keep > 0 else []
        i = self.ids
        return (context_ids + [i["<|fim_prefix|>"]] + prefix_ids + [i["<|fim_suffix|>"]] + suffix_ids
                + [i["<|fim_middle|>"]] + middle_ids + [i["<|endoftext|>"]])


def fim_parts(lines: list[str], i: int, j: int) -> tuple[str, str, str]:
    """Prefix, middle, suffix for a middle of lines[i:j] from line i's content start (its indentation stays in the
    prefix), as serving asks for it: stablePrompt.ts anchors the typed text after the line's indentation."""
    indent = len(lines[i]) - len(lines[i].lstrip(" \t"))
    prefix = "\n".join(lines[:i]) + "\n" + lines[i][:indent]
    middle = "\n".join(lines[i:j])[indent:]
    suffix = "\n" + "\n".join(lines[j:])
    return prefix, middle, suffix


def fim_sample(builder: FimBuilder, rel: str, text: str, rng: random.Random,
               pool: list[tuple[str, str, frozenset[str]]]) -> list[int]:
    lines = text.split("\n")
    code = [k for k in range(1, len(lines)) if lines[k].strip()]
    if not code:
        return builder.encode(text)[:SEQ_LEN]
    i = rng.choice(code)
    prefix, middle, suffix = fim_parts(lines, i, min(len(lines), i + rng.randint(1, MAX_MIDDLE_LINES)))
    snippets = context_snippets(rel, prefix, pool) if rng.random() < CONTEXT_RATE else []
    return builder.sample(rel, prefix[-PREFIX_CHARS:], middle, suffix[:SUFFIX_CHARS], snippets)


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
    pools = chunks_by_package(train)
    builder = FimBuilder(tok)
    weights = [len(x) for x in train_ids]

    def sample() -> list[int]:
        k = rng.choices(range(len(train)), weights=weights)[0]
        if rng.random() < FIM_RATE:
            rel, text = train[k]
            return fim_sample(builder, rel, text, rng, pools[rel.split("/")[0]])
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

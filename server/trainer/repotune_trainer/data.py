"""Reads the training shards written by the Node side and turns them into packed, labelled batches.

Shard format (docs/architecture.md): `index.json` lists jsonl files; each line is one example
`{"ids": [...], "mask": [0|1...], "kind": "fim"|"continuation", "path": str}` where mask 1 marks target tokens.

Packing: examples go into rows of exactly `seq_len` tokens, best-fit decreasing (the longest first, each into the
fullest row it still fits, ties in a seeded order), then the rows are shuffled by the seed; the tail of each row is
padding. On bench/train.py's 512 examples (lengths uniform in [seq_len/16, seq_len], 577,641 tokens, seq_len 2048),
placing each example in the current row or a new one filled 376 rows (75% real tokens; an H200 then trained 1.47x
the padded baseline's tokens/s); best fit fills 298 (95%; no packing can use fewer than 283).
- labels = ids where mask == 1, else -100 (ignored by the loss); padding gets labels -100. Labels are aligned with
  input_ids: the Hugging Face model shifts them by one itself. The first token of every example is never a label,
  because in a packed row its "context" would be the previous, unrelated example.
- Every example is isolated: `segment_ids` numbers the examples of a row (-1 for padding) and `position_ids`
  restart at 0 for each, and the recipe turns them into a block-diagonal causal mask (`block_causal_mask`). Serving
  prompts one example alone, so training must not let an example lean on the unrelated ones packed before it:
  measured on a 4-file fixture, plain packing taught the demo model to answer a FIM prompt with README text.
- An example longer than seq_len keeps its LAST seq_len tokens: targets sit at the end of both FIM and
  continuation examples, so dropping the start of the prompt keeps what the loss needs. The prompt builder is
  expected to budget to seq_len already; this is only a safety net, and it is logged.
"""

from __future__ import annotations

import bisect
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BAD_DATA, WorkerError

log = logging.getLogger(__name__)

SHARD_FORMAT_VERSION = 1
# How examples become rows. A checkpoint's data position counts rows of one packing: resuming under another would
# continue at different examples, so it is part of the checkpoint's identity (checkpoint.RESUME_MUST_MATCH).
PACKER = "best-fit-decreasing"
IGNORE_INDEX = -100  # the label value PyTorch's cross-entropy (and Hugging Face's loss) skips
EXAMPLE_KINDS = ("fim", "continuation")


@dataclass(frozen=True)
class Example:
    ids: list[int]
    mask: list[int]


@dataclass(frozen=True)
class PackedRows:
    """Packed training rows: input_ids and labels are int64 arrays of shape [rows, seq_len]."""

    input_ids: np.ndarray
    labels: np.ndarray
    position_ids: np.ndarray  # restart at 0 for every example of a row
    segment_ids: np.ndarray  # example number within the row; -1 on padding
    row_tokens: np.ndarray  # real (non-padding) tokens per row, for throughput figures
    num_examples: int
    num_truncated: int

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def load_index(data_dir: str | Path) -> dict:
    """Reads and validates `<data_dir>/index.json`."""
    path = Path(data_dir) / "index.json"
    if not path.is_file():
        raise WorkerError(BAD_DATA, f"No shard index at {path}: build the training examples first.")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkerError(BAD_DATA, f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(index, dict):
        raise WorkerError(BAD_DATA, f"{path}: expected a JSON object")
    if index.get("version") != SHARD_FORMAT_VERSION:
        raise WorkerError(BAD_DATA, f"{path}: unsupported shard version {index.get('version')!r} "
                          f"(this trainer reads version {SHARD_FORMAT_VERSION})")
    for split in ("train", "eval"):
        files = index.get(split, [])
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise WorkerError(BAD_DATA, f"{path}: '{split}' must be a list of file names")
    if not index.get("train"):
        raise WorkerError(BAD_DATA, f"{path}: no training shards listed: the repository produced no examples")
    return index


def read_examples(data_dir: str | Path, split: str = "train", vocab_size: int | None = None) -> list[Example]:
    """Reads every example of a split, validating each line; errors name the file and line number."""
    data_dir = Path(data_dir)
    index = load_index(data_dir)
    examples: list[Example] = []
    for name in index.get(split, []):
        shard = data_dir / name
        if not shard.is_file():
            raise WorkerError(BAD_DATA, f"{shard}: listed in index.json but missing")
        with shard.open("r", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if line.strip():
                    examples.append(_parse_example(line, f"{shard}:{line_no}", vocab_size))
    if split == "train" and not examples:
        raise WorkerError(BAD_DATA, f"{data_dir}: the training shards contain no examples")
    return examples


def _parse_example(line: str, where: str, vocab_size: int | None) -> Example:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise WorkerError(BAD_DATA, f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict):
        raise WorkerError(BAD_DATA, f"{where}: expected an object with 'ids' and 'mask'")
    ids, mask = obj.get("ids"), obj.get("mask")
    if not isinstance(ids, list) or not ids or not all(type(t) is int and t >= 0 for t in ids):
        raise WorkerError(BAD_DATA, f"{where}: 'ids' must be a non-empty list of non-negative integers")
    if vocab_size is not None and max(ids) >= vocab_size:
        raise WorkerError(BAD_DATA, f"{where}: token id {max(ids)} is outside the model's vocabulary "
                          f"({vocab_size}); were the shards built with this model's tokenizer?")
    if not isinstance(mask, list) or len(mask) != len(ids) or not all(type(m) is int and m in (0, 1) for m in mask):
        raise WorkerError(BAD_DATA, f"{where}: 'mask' must be a list of 0/1 with the same length as 'ids' "
                          f"({len(ids)})")
    kind = obj.get("kind")
    if kind is not None and kind not in EXAMPLE_KINDS:
        raise WorkerError(BAD_DATA, f"{where}: unknown kind {kind!r} (expected one of {', '.join(EXAMPLE_KINDS)})")
    return Example(ids=ids, mask=mask)


def pack_examples(examples: list[Example], seq_len: int, pad_id: int, seed: int = 0) -> PackedRows:
    """Packs examples into as few rows of seq_len tokens as it can, rows in a seeded order (see module doc)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(examples))
    # An example longer than seq_len keeps its last seq_len tokens (module doc).
    clipped = [(np.asarray(examples[i].ids, dtype=np.int64)[-seq_len:],
                np.asarray(examples[i].mask, dtype=bool)[-seq_len:]) for i in order]
    truncated = sum(len(examples[i].ids) > seq_len for i in order)
    members = best_fit_decreasing([len(ids) for ids, _ in clipped], seq_len)
    members = [members[r] for r in rng.permutation(len(members))]
    input_ids = np.full((len(members), seq_len), pad_id, dtype=np.int64)
    labels = np.full((len(members), seq_len), IGNORE_INDEX, dtype=np.int64)
    position_ids = np.zeros((len(members), seq_len), dtype=np.int64)
    segment_ids = np.full((len(members), seq_len), -1, dtype=np.int64)
    row_tokens = np.zeros(len(members), dtype=np.int64)
    for row, items in enumerate(members):
        used = 0
        for segment, item in enumerate(items):
            ids, mask = clipped[item]
            end = used + len(ids)
            input_ids[row, used:end] = ids
            labels[row, used:end] = np.where(mask, ids, IGNORE_INDEX)
            labels[row, used] = IGNORE_INDEX
            position_ids[row, used:end] = np.arange(len(ids))
            segment_ids[row, used:end] = segment
            used = end
        row_tokens[row] = used
    if truncated:
        log.warning("%d of %d examples were longer than seq_len=%d and lost the start of their prompt",
                    truncated, len(examples), seq_len)
    if not len(members) or (labels == IGNORE_INDEX).all():
        raise WorkerError(BAD_DATA, "the training examples have no target tokens (every mask is 0)")
    return PackedRows(input_ids, labels, position_ids, segment_ids, row_tokens, len(examples), truncated)


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Bins of at most `capacity` holding the indices of `lengths`: the longest first, each into the bin it fills most.

    Within ~1-3% of the fewest bins on code-sized examples, in O(n log n) searches; ties keep the input's order.
    """
    bins: list[list[int]] = []
    room: list[tuple[int, int]] = []  # (free tokens, bin), sorted: the first entry >= a length fits it best
    for i in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        at = bisect.bisect_left(room, (lengths[i], -1))
        if at == len(room):
            bins.append([i])
            free, target = capacity - lengths[i], len(bins) - 1
        else:
            free, target = room.pop(at)
            bins[target].append(i)
            free -= lengths[i]
        if free > 0:
            bisect.insort(room, (free, target))
    return bins


def block_causal_mask(segment_ids, dtype):
    """Additive attention mask [batch, 1, seq, seq]: a token sees earlier tokens of its own example only.

    Padding (segment -1) sees itself, so no softmax row is empty (NaN). An additive float mask, because transformers'
    eager attention reads a boolean 4D mask the wrong way round while SDPA accepts both (checked on the demo model).
    """
    import torch

    seq = segment_ids.shape[1]
    causal = torch.tril(torch.ones(seq, seq, dtype=torch.bool, device=segment_ids.device))
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    allowed = (same & causal) | torch.eye(seq, dtype=torch.bool, device=segment_ids.device)
    return torch.zeros(allowed.shape, dtype=dtype, device=segment_ids.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)[:, None]


class BatchStream:
    """An endless, deterministic stream of batches of row indices that can start at any position.

    The stream is the concatenation of epochs; epoch e visits every row once in the order
    `default_rng([seed, e]).permutation(rows)`. Batch k takes stream items [k*batch_size, (k+1)*batch_size), so a
    batch may straddle two epochs and is always full (even when there are fewer rows than batch_size). Resuming
    after k batches is `BatchStream(..., start_batch=k)`: the position is just the number of batches consumed.
    """

    def __init__(self, num_rows: int, batch_size: int, seed: int, start_batch: int = 0):
        if num_rows < 1 or batch_size < 1:
            raise ValueError("BatchStream needs at least one row and a positive batch size")
        self.num_rows = num_rows
        self.batch_size = batch_size
        self.seed = seed
        self.position = start_batch  # batches consumed so far
        self._epoch = -1
        self._order = np.empty(0, dtype=np.int64)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.num_rows)
            self._epoch = epoch
        return self._order

    def next_indices(self) -> np.ndarray:
        start = self.position * self.batch_size
        out = np.empty(self.batch_size, dtype=np.int64)
        for j in range(self.batch_size):
            epoch, offset = divmod(start + j, self.num_rows)
            out[j] = self._epoch_order(epoch)[offset]
        self.position += 1
        return out

    def epoch(self) -> float:
        """Fractional epochs consumed, for logs."""
        return self.position * self.batch_size / self.num_rows

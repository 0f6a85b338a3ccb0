"""Shard reading, validation errors, packing/labels exactness and the resumable batch stream."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_shards

from repotune_trainer.args import TrainArgs
from repotune_trainer.data import IGNORE_INDEX, BatchStream, Example, pack_examples, read_examples
from repotune_trainer.errors import WorkerError

PAD = 99


def test_reads_demo_shards(demo_shards):
    examples = read_examples(demo_shards, "train", vocab_size=2048)
    index = json.loads((demo_shards / "index.json").read_text())
    assert len(examples) == index["examples"]["train"]
    assert len(read_examples(demo_shards, "eval")) == index["examples"]["eval"]
    assert all(len(e.ids) == len(e.mask) for e in examples)


def test_packing_fills_rows_best_fit_with_exact_labels():
    a = Example(ids=[1, 2, 3, 4], mask=[0, 0, 1, 1])
    b = Example(ids=[5, 6, 7], mask=[1, 1, 1])
    c = Example(ids=[8, 9, 10, 11, 12], mask=[0, 1, 0, 1, 1])
    # In the given order a and b would share a row and c need another, both part empty; best fit puts c (the
    # longest) first and b into the 3 tokens c leaves, filling that row exactly.
    rows = pack_examples([a, b, c], seq_len=8, pad_id=PAD, seed=0)
    X = IGNORE_INDEX
    order = np.argsort(rows.input_ids[:, 0])  # the rows' order is the seed's; compare them by content
    assert rows.input_ids[order].tolist() == [[1, 2, 3, 4, PAD, PAD, PAD, PAD], [8, 9, 10, 11, 12, 5, 6, 7]]
    # mask -> labels; the first token of each packed example is never a label (its context is another example).
    assert rows.labels[order].tolist() == [[X, X, 3, 4, X, X, X, X], [X, 9, X, 11, 12, X, 6, 7]]
    assert rows.segment_ids[order].tolist() == [[0, 0, 0, 0, -1, -1, -1, -1], [0, 0, 0, 0, 0, 1, 1, 1]]
    assert rows.position_ids[order].tolist()[1] == [0, 1, 2, 3, 4, 0, 1, 2]
    assert rows.row_tokens[order].tolist() == [4, 8]
    assert rows.input_ids.dtype == np.int64 and rows.labels.dtype == np.int64


def test_packing_comes_close_to_the_fewest_rows_and_keeps_every_example_once():
    rng = np.random.default_rng(1)
    seq_len = 2048
    lengths = rng.integers(seq_len // 16, seq_len + 1, 512)  # bench/train.py's examples
    examples = [Example(ids=list(range(2, 2 + n)), mask=[1] * n) for n in lengths]
    rows = pack_examples(examples, seq_len, pad_id=PAD, seed=3)
    fewest = -(-int(lengths.sum()) // seq_len)
    assert len(rows.input_ids) <= fewest * 1.03, (len(rows.input_ids), fewest)
    assert int(rows.row_tokens.sum()) == int(lengths.sum())
    # Every example appears once, whole: its segments' lengths are the input lengths.
    segment_lengths = [int((rows.segment_ids[r] == s).sum()) for r in range(len(rows.input_ids))
                       for s in range(int(rows.segment_ids[r].max()) + 1)]
    assert sorted(segment_lengths) == sorted(lengths.tolist())
    again = pack_examples(examples, seq_len, pad_id=PAD, seed=3)
    assert np.array_equal(again.input_ids, rows.input_ids), "the same seed packs the same rows"


def test_long_examples_keep_their_last_tokens():
    long = Example(ids=list(range(1, 13)), mask=[0] * 8 + [1] * 4)
    rows = pack_examples([long], seq_len=6, pad_id=PAD)
    assert rows.num_truncated == 1
    assert rows.input_ids.tolist() == [[7, 8, 9, 10, 11, 12]]
    assert rows.labels.tolist() == [[IGNORE_INDEX, IGNORE_INDEX, 9, 10, 11, 12]]


def test_examples_without_targets_are_rejected():
    with pytest.raises(WorkerError, match="no target tokens") as info:
        pack_examples([Example(ids=[1, 2], mask=[0, 0])], seq_len=4, pad_id=PAD)
    assert info.value.kind == "bad_data"


def test_batch_stream_is_deterministic_and_resumable():
    full = BatchStream(num_rows=7, batch_size=3, seed=5)
    batches = [full.next_indices().tolist() for _ in range(10)]
    # Each epoch is a permutation of all rows.
    flat = [i for b in batches for i in b]
    assert sorted(flat[:7]) == list(range(7)) and sorted(flat[7:14]) == list(range(7))
    resumed = BatchStream(num_rows=7, batch_size=3, seed=5, start_batch=4)
    assert [resumed.next_indices().tolist() for _ in range(6)] == batches[4:]
    assert BatchStream(7, 3, seed=6).next_indices().tolist() != batches[0]
    # Fewer rows than the batch size still gives full batches.
    assert len(BatchStream(num_rows=2, batch_size=5, seed=0).next_indices()) == 5


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ('{"ids": [], "mask": []}', "'ids' must be a non-empty list"),
        ('{"ids": [1, -2], "mask": [1, 1]}', "'ids' must be a non-empty list"),
        ('{"ids": [1, 2], "mask": [1]}', "'mask' must be a list of 0/1"),
        ('{"ids": [1, 2], "mask": [1, 2]}', "'mask' must be a list of 0/1"),
        ('{"ids": [1, 5000], "mask": [1, 1]}', "outside the model's vocabulary"),
        ('{"ids": [1, 2], "mask": [1, 1], "kind": "poem"}', "unknown kind"),
        ("[1, 2]", "expected an object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    good = {"ids": [1, 2, 3], "mask": [0, 1, 1], "kind": "fim", "path": "a.py"}
    write_shards(tmp_path, [good, good])
    with (tmp_path / "train-00000.jsonl").open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    with pytest.raises(WorkerError) as info:
        read_examples(tmp_path, "train", vocab_size=1024)
    assert info.value.kind == "bad_data"
    assert f"train-00000.jsonl:3: " in info.value.message and message in info.value.message


def test_bad_index_errors(tmp_path):
    with pytest.raises(WorkerError, match="No shard index"):
        read_examples(tmp_path)
    (tmp_path / "index.json").write_text('{"version": 2, "train": ["x.jsonl"]}')
    with pytest.raises(WorkerError, match="unsupported shard version 2"):
        read_examples(tmp_path)
    (tmp_path / "index.json").write_text('{"version": 1, "train": ["missing.jsonl"], "eval": []}')
    with pytest.raises(WorkerError, match="missing.jsonl: listed in index.json but missing"):
        read_examples(tmp_path)
    (tmp_path / "index.json").write_text('{"version": 1, "train": [], "eval": []}')
    with pytest.raises(WorkerError, match="no training shards"):
        read_examples(tmp_path)


def test_train_args_validation():
    base = {"model_dir": "m", "data_dir": "d", "output_dir": "o"}
    args = TrainArgs.from_params({**base, "lora_dropout": 0, "max_steps": 5.0})
    assert isinstance(args.lora_dropout, float) and args.max_steps == 5 and args.learning_rate == 2e-3
    assert args.lora_r == 16 and args.lora_r == 16 and args.seq_len == 256
    with pytest.raises(WorkerError, match="unknown train parameter\\(s\\) learning_rte"):
        TrainArgs.from_params({**base, "learning_rte": 0.1})
    with pytest.raises(WorkerError, match="missing required train parameter\\(s\\): data_dir"):
        TrainArgs.from_params({"model_dir": "m", "output_dir": "o"})
    with pytest.raises(WorkerError, match="'batch_size' must be int"):
        TrainArgs.from_params({**base, "batch_size": "8"})
    with pytest.raises(WorkerError, match="'resume' must be bool"):
        TrainArgs.from_params({**base, "resume": 1})
    with pytest.raises(WorkerError, match="'device' must be one of auto, cpu, cuda"):
        TrainArgs.from_params({**base, "device": "tpu"})
    with pytest.raises(WorkerError, match="'learning_rate' must be in \\(0, 1\\)"):
        TrainArgs.from_params({**base, "learning_rate": 1})
    with pytest.raises(WorkerError, match="'seq_len' must be >= 1"):
        TrainArgs.from_params({**base, "seq_len": 0})


def test_packed_examples_are_isolated_from_each_other(demo_model_dir):
    """A packed example sees only itself: its logits equal those of the example run alone."""
    import torch
    from transformers import AutoModelForCausalLM

    from repotune_trainer.data import block_causal_mask

    a = Example(ids=[5, 9, 33, 71, 8], mask=[0, 0, 1, 1, 1])
    b = Example(ids=[17, 4, 99, 12], mask=[0, 1, 1, 1])
    rows = pack_examples([a, b], seq_len=12, pad_id=0, seed=0)
    assert rows.segment_ids.tolist()[0][9:] == [-1, -1, -1]
    first, second = sorted(set(rows.segment_ids[0].tolist()) - {-1})
    start = int(np.argmax(rows.segment_ids[0] == second))
    assert rows.position_ids[0][start] == 0, "positions restart for every example"
    alone_ids = rows.input_ids[0][start:start + int((rows.segment_ids[0] == second).sum())]

    model = AutoModelForCausalLM.from_pretrained(demo_model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        mask = block_causal_mask(torch.from_numpy(rows.segment_ids), torch.float32)
        packed = model(input_ids=torch.from_numpy(rows.input_ids), position_ids=torch.from_numpy(rows.position_ids),
                       attention_mask=mask).logits[0, start:start + len(alone_ids)]
        alone = model(input_ids=torch.from_numpy(alone_ids)[None]).logits[0]
        leaky = model(input_ids=torch.from_numpy(rows.input_ids)).logits[0, start:start + len(alone_ids)]
    assert torch.allclose(packed, alone, atol=1e-4)
    assert not torch.allclose(leaky, alone, atol=1e-2), "without the mask the second example would see the first"
    assert first == 0 and second == 1

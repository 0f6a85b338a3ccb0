"""bench/eval_demo_pretrain.py (issue 7): the pretrained base must see FIM samples in the shape serving sends,
token for token, or the evaluation compares a LoRA that learnt the serving shape against a base that never saw it.
Checked against hand-written sequences, with the real demo tokenizer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH_SCRIPT = Path(__file__).resolve().parents[3] / "bench" / "eval_demo_pretrain.py"


@pytest.fixture(scope="module")
def pretrain():
    spec = importlib.util.spec_from_file_location("eval_demo_pretrain", BENCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder(pretrain, demo_model_dir):
    from transformers import AutoTokenizer

    return pretrain.FimBuilder(AutoTokenizer.from_pretrained(str(demo_model_dir)))


SOURCE = "def area(w, h):\n    # rectangle\n    return w * h\n\n\nprint(area(2, 3))\n"


def test_middle_starts_at_the_line_content_with_the_indentation_in_the_prefix(pretrain):
    prefix, middle, suffix = pretrain.fim_parts(SOURCE.split("\n"), 2, 3)
    assert (prefix, middle, suffix) == ("def area(w, h):\n    # rectangle\n    ", "return w * h", "\n\n\nprint(area(2, 3))\n")
    prefix, middle, suffix = pretrain.fim_parts(SOURCE.split("\n"), 1, 3)
    assert (prefix, middle, suffix) == ("def area(w, h):\n    ", "# rectangle\n    return w * h", "\n\n\nprint(area(2, 3))\n")


def test_sample_is_the_serving_prompt_then_the_middle(pretrain, builder):
    prefix, middle, suffix = pretrain.fim_parts(SOURCE.split("\n"), 2, 3)
    ids = builder.sample("geo/area.py", prefix, middle, suffix, [])
    enc = builder.encode
    special = builder.ids
    # Each part encoded on its own, as the prompt builder encodes prefix, suffix and middle separately.
    assert ids == ([special["<|fim_prefix|>"]] + enc(prefix) + [special["<|fim_suffix|>"]] + enc(suffix)
                   + [special["<|fim_middle|>"]] + enc(middle) + [special["<|endoftext|>"]])
    assert builder.tok.decode(ids) == (
        "<|fim_prefix|>def area(w, h):\n    # rectangle\n    <|fim_suffix|>\n\n\nprint(area(2, 3))\n"
        "<|fim_middle|>return w * h<|endoftext|>")


def test_repository_context_comes_before_the_prefix_in_the_family_format(pretrain, builder):
    prefix, middle, suffix = pretrain.fim_parts(SOURCE.split("\n"), 2, 3)
    snippets = [("geo/shapes.py", "def square(s):\n    return area(s, s)"), ("geo/util.py", "W = 2")]
    ids = builder.sample("geo/area.py", prefix, middle, suffix, snippets)
    # Most relevant last, nearest the cursor; then the current file's path, then the FIM prompt.
    assert builder.tok.decode(ids) == (
        "<|file_sep|>geo/shapes.py\ndef square(s):\n    return area(s, s)\n<|file_sep|>geo/util.py\nW = 2\n"
        "<|file_sep|>geo/area.py\n<|fim_prefix|>def area(w, h):\n    # rectangle\n    <|fim_suffix|>\n\n\n"
        "print(area(2, 3))\n<|fim_middle|>return w * h<|endoftext|>")


def test_context_is_the_chunks_sharing_most_identifiers_from_other_files(pretrain):
    docs = [("pkg/a.py", "def compute_total(items):\n    return sum(items)\n"),
            ("pkg/b.py", "import os\n"),
            ("pkg/c.py", "total = compute_total(values)\n"),
            ("other/d.py", "compute_total = None\n")]
    pools = pretrain.chunks_by_package(docs)
    assert sorted(pools) == ["other", "pkg"]
    prefix = "values = load()\nresult = compute_total("
    assert pretrain.context_snippets("pkg/c.py", prefix, pools["pkg"]) == [("pkg/a.py", "def compute_total(items):\n    return sum(items)")]

"""The speed switches give the same numbers as the plain paths, and the adapter options and output work on CPU."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import make_examples, write_shards
from test_recipe import make_args

from repotune_trainer.base_model import quantization_config, weight_files
from repotune_trainer.data import pack_examples, read_examples
from repotune_trainer.errors import WorkerError
from repotune_trainer.evaluation import EvalTracker
from repotune_trainer.loss import chunked_lm_loss, standard_lm_loss
from repotune_trainer.recipe import run_training
from repotune_trainer.step import LossModule, batch_inputs

SAME_LOSS_TOLERANCE = 1e-5


def test_chunked_loss_and_gradients_equal_the_full_logits_loss():
    torch.manual_seed(0)
    hidden = torch.randn(3, 17, 8, dtype=torch.float32, requires_grad=True)
    weight = torch.randn(50, 8, requires_grad=True)
    labels = torch.randint(0, 50, (3, 17))
    labels[:, :5] = -100  # prompt tokens
    labels[1, 9:12] = -100
    reference, ref_count = standard_lm_loss(hidden @ weight.T, labels)
    ref_grads = torch.autograd.grad(reference / ref_count, (hidden, weight))
    chunked, count = chunked_lm_loss(hidden, weight, labels, chunk_tokens=7)  # several chunks, a ragged last one
    grads = torch.autograd.grad(chunked / count, (hidden, weight))
    assert count == ref_count == int((labels[:, 1:] != -100).sum())
    assert chunked.item() == pytest.approx(reference.item(), abs=SAME_LOSS_TOLERANCE)
    # and both equal PyTorch's own mean cross-entropy of the shifted logits
    mean = F.cross_entropy((hidden @ weight.T)[:, :-1].reshape(-1, 50), labels[:, 1:].reshape(-1))
    assert (chunked / count).item() == pytest.approx(mean.item(), abs=SAME_LOSS_TOLERANCE)
    for g, ref in zip(grads, ref_grads):
        assert torch.allclose(g, ref, atol=SAME_LOSS_TOLERANCE)


def test_chunked_loss_without_targets_is_zero_and_still_differentiable():
    hidden = torch.randn(1, 4, 8, requires_grad=True)
    loss, count = chunked_lm_loss(hidden, torch.randn(10, 8), torch.full((1, 4), -100))
    loss.backward()
    assert count == 0 and loss.item() == 0 and hidden.grad is not None


@pytest.fixture(scope="module")
def demo_peft(demo_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(demo_model_dir), use_safetensors=True)
    torch.manual_seed(0)
    model = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    return model.eval()


def test_padding_free_packing_and_hidden_state_losses_equal_the_masked_rows(demo_peft, demo_shards):
    rows = pack_examples(read_examples(demo_shards), 128, pad_id=0, seed=0)
    idx = np.arange(4)
    losses = {}
    with torch.no_grad():
        for packing in ("rows", "padding_free"):
            for kind in ("standard", "chunked"):
                inputs = batch_inputs(rows, idx, packing, torch.device("cpu"), torch.float32)
                losses[packing, kind] = LossModule(demo_peft, kind)(**inputs).item()
        # padded to a fixed length (flex attention's one compiled shape): the padding is an example without targets
        static = batch_inputs(rows, idx, "padding_free", torch.device("cpu"), torch.float32, static_length=4 * 128)
        losses["padding_free static", "chunked"] = LossModule(demo_peft, "chunked")(**static).item()
    padded = batch_inputs(rows, idx, "rows", torch.device("cpu"), torch.float32)["input_ids"]
    flat = batch_inputs(rows, idx, "padding_free", torch.device("cpu"), torch.float32)["input_ids"]
    real = int(rows.row_tokens[idx].sum())
    assert flat.shape == (1, real) and flat.numel() < padded.numel()
    assert static["input_ids"].shape == (1, 4 * 128) and (static["labels"][0, real:] == -100).all()
    assert static["position_ids"][0, real:].tolist() == list(range(4 * 128 - real))
    reference = losses["rows", "standard"]
    assert all(v == pytest.approx(reference, rel=SAME_LOSS_TOLERANCE) for v in losses.values()), losses


def test_dora_trains_and_loads_in_plain_peft(demo_model_dir, demo_shards, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = run_training(make_args(demo_model_dir, demo_shards, tmp_path, max_steps=2, use_dora=True, eval_every=0))
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["use_dora"] is True
    base = AutoModelForCausalLM.from_pretrained(str(demo_model_dir), use_safetensors=True)
    PeftModel.from_pretrained(base, result.adapter_dir)


def test_qlora_is_refused_clearly_where_it_cannot_run(monkeypatch):
    with pytest.raises(WorkerError, match="needs a CUDA GPU"):
        quantization_config("4bit", "cpu", torch.bfloat16)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(WorkerError) as info:
        quantization_config("4bit", "cuda", torch.bfloat16)
    assert info.value.kind == "missing_dependency" and "bitsandbytes" in info.value.message
    assert quantization_config("none", "cuda", torch.bfloat16) is None


def test_pickle_weights_need_an_explicit_opt_in(demo_model_dir, demo_shards, tmp_path):
    from safetensors.torch import load_file

    pickled = tmp_path / "pickled"
    shutil.copytree(demo_model_dir, pickled)
    torch.save(load_file(str(pickled / "model.safetensors")), pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    with pytest.raises(WorkerError) as info:
        run_training(make_args(pickled, demo_shards, tmp_path / "out", max_steps=1))
    assert info.value.kind == "bad_model" and str(pickled / "pytorch_model.bin") in info.value.message
    assert "allow_pickle_weights" in info.value.message
    assert weight_files(pickled, allow_pickle=True) is False and weight_files(demo_model_dir, False) is True
    result = run_training(make_args(pickled, demo_shards, tmp_path / "out", max_steps=1, eval_every=0,
                                    allow_pickle_weights=True))
    assert result.steps == 1


def test_merged_weights_give_the_adapted_logits(demo_model_dir, demo_shards, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = run_training(make_args(demo_model_dir, demo_shards, tmp_path, max_steps=3, eval_every=0,
                                    save_merged=True))
    ids = torch.tensor([[3, 50, 70, 100, 200, 300]])
    merged = AutoModelForCausalLM.from_pretrained(result.merged_dir, use_safetensors=True).eval()
    base = AutoModelForCausalLM.from_pretrained(str(demo_model_dir), use_safetensors=True)
    tuned = PeftModel.from_pretrained(base, result.adapter_dir).eval()
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, tuned(input_ids=ids).logits, atol=1e-4)
    assert (tmp_path / "merged" / "tokenizer.json").is_file()
    assert json.loads((tmp_path / "merged" / "repotune-adapter.json").read_text())["merged"] is True


def test_eval_tracker_keeps_the_best_and_counts_patience():
    tracker = EvalTracker(patience=2)
    assert [tracker.record(s, loss) for s, loss in ((10, 3.0), (20, 2.5), (30, 2.6), (40, 2.5))] == \
        [True, True, False, False]
    assert tracker.best_loss == 2.5 and tracker.best_step == 20 and tracker.should_stop
    resumed = EvalTracker(patience=2)
    resumed.restore(tracker.state())
    assert resumed.state() == tracker.state() and resumed.should_stop


def test_early_stopping_on_a_holdout_that_training_makes_worse(demo_model_dir, demo_tokenizer, tmp_path):
    # Train on one set of snippets, evaluate on unrelated random-token text: memorising the first makes the
    # second worse, so the holdout loss stops improving and patience runs out long before max_steps.
    rng = np.random.default_rng(0)
    holdout = [{"ids": rng.integers(10, 400, 40).tolist(), "mask": [0] * 5 + [1] * 35} for _ in range(6)]
    shards = write_shards(tmp_path / "shards", make_examples(demo_tokenizer), holdout)
    result = run_training(make_args(demo_model_dir, shards, tmp_path / "out", max_steps=60, eval_every=2,
                                    early_stopping_patience=2, learning_rate=0.01))
    assert result.stopped_early and result.steps < 60
    assert result.steps == result.best_step + 2 * 2  # two evaluations (every 2 steps) without a better loss
    assert result.best_eval_loss < result.eval_loss
    best_meta = json.loads((tmp_path / "out" / "best" / "repotune-adapter.json").read_text())
    assert best_meta["steps"] == result.best_step and best_meta["metrics"]["eval_loss"] == result.best_eval_loss


def test_compiled_layers_train_to_the_same_loss_and_adapter(demo_model_dir, demo_shards, tmp_path):
    from safetensors.torch import load_file

    common = {"max_steps": 3, "eval_every": 0, "checkpoint_every": 0, "packing": "rows"}
    plain = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "plain", **common))
    # With gradient checkpointing too (what the sizing picks for large models): recomputing a compiled layer in the
    # backward pass changes no number, so the comparison with the plain run still holds.
    compiled = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "compiled", compile="on",
                                      gradient_checkpointing="on", **common))
    assert compiled.batch_plan["gradient_checkpointing"]
    assert compiled.final_loss == pytest.approx(plain.final_loss, abs=1e-4)
    # Compiled in place: the adapter has the same tensor names (no _orig_mod prefix) and the same trained values.
    a = load_file(f"{plain.adapter_dir}/adapter_model.safetensors")
    b = load_file(f"{compiled.adapter_dir}/adapter_model.safetensors")
    assert a.keys() == b.keys()
    # Adam's first steps move each weight by about the learning rate whatever the gradient's size, so a gradient
    # that reorders float sums can move a near-zero entry differently (seen: 2e-4 in one entry of 4e-3 weights).
    # Compared as whole tensors: a compile that trained something else would differ by ~100%.
    assert all(torch.linalg.norm(a[k] - b[k]) <= 1e-2 * torch.linalg.norm(a[k]) for k in a)
    assert any(not torch.equal(a[k], torch.zeros_like(a[k])) for k in a if "lora_B" in k), "LoRA B trained"


def test_padding_free_rows_get_one_length_only_for_compiled_code(demo_model_dir, demo_shards, tmp_path):
    from repotune_trainer.recipe import LoRARecipe
    from repotune_trainer.sizing import BatchPlan

    def static_length(packing, attention, compiled=False):
        recipe = LoRARecipe(make_args(demo_model_dir, demo_shards, tmp_path))
        recipe.packing, recipe.attention, recipe.plan = packing, attention, BatchPlan(4, 1, 128, False)
        recipe.compiled = compiled  # what setup resolved compile to
        return recipe._static_length()

    # Flex attention and compiled layers compile per length: one length, micro-batch x seq_len.
    assert static_length("padding_free", "flex_attention") == 4 * 128
    assert static_length("padding_free", "flash_attention_2", compiled=True) == 4 * 128
    # FlashAttention's varlen kernel takes any length, and padded rows have one already: no padding added.
    assert static_length("padding_free", "flash_attention_2") == 0
    assert static_length("rows", "sdpa", compiled=True) == 0


# A machine without a C++ compiler. Through inductor's own patch: pytest's monkeypatch, undone, deletes the setting
# from the config proxy, and every later compile in the process then fails on the missing setting.
NO_CXX = {"cpp.cxx": ("/nonexistent/g++",)}


def test_compile_that_cannot_run_here_is_an_actionable_error(demo_model_dir, demo_shards, tmp_path):
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()  # no graph compiled by an earlier test may be reused
    try:
        with inductor_config.patch(NO_CXX), \
                pytest.raises(WorkerError, match="compile: on could not compile the model on this machine .*C\\+\\+ "
                                                 "compiler.*train with compile: off") as info:
            run_training(make_args(demo_model_dir, demo_shards, tmp_path, compile="on", max_steps=1, eval_every=0))
    finally:
        torch._dynamo.reset()
    assert info.value.kind == "bad_data"


def test_compile_auto_that_cannot_compile_trains_on_eagerly(demo_model_dir, demo_shards, tmp_path, monkeypatch,
                                                            caplog):
    import torch._inductor.config as inductor_config

    from repotune_trainer import recipe

    common = {"max_steps": 2, "eval_every": 0, "checkpoint_every": 0, "packing": "rows"}
    plain = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "plain", compile="off", **common))
    # auto compiles on CUDA only; here it is made to try on the CPU, on a machine without a C++ compiler.
    monkeypatch.setattr(recipe, "resolve_compile", lambda *_: True)
    torch._dynamo.reset()
    try:
        with inductor_config.patch(NO_CXX), caplog.at_level(logging.WARNING, logger="repotune_trainer"):
            fallen = run_training(make_args(demo_model_dir, demo_shards, tmp_path / "auto", compile="auto", **common))
    finally:
        torch._dynamo.reset()
    assert any("compiling the decoder layers failed" in r.getMessage() and "C++ compiler" in r.getMessage()
               for r in caplog.records)
    # The failed first step ran again eagerly: the same training as compile: off, to the bit on the CPU.
    assert fallen.steps == plain.steps and fallen.final_loss == plain.final_loss


def test_compile_auto_is_on_for_cuda_with_triton_and_decoder_layers_only(demo_model_dir):
    from transformers import AutoModelForCausalLM

    from repotune_trainer.compiling import decoder_layers, resolve_compile

    model = AutoModelForCausalLM.from_pretrained(str(demo_model_dir))
    assert len(decoder_layers(model)) == model.config.num_hidden_layers
    has_triton = importlib.util.find_spec("triton") is not None
    assert resolve_compile("auto", "cuda", "none", model) is has_triton
    assert resolve_compile("auto", "cpu", "none", model) is False
    assert resolve_compile("auto", "cuda", "4bit", model) is False
    # A model without a list of decoder layers trains eagerly under auto; `on` then raises (compile_decoder_layers).
    assert decoder_layers(torch.nn.Linear(2, 2)) == []
    assert resolve_compile("auto", "cuda", "none", torch.nn.Linear(2, 2)) is False
    assert resolve_compile("on", "cpu", "none", model) is True and resolve_compile("off", "cuda", "none", model) is False


def test_compiling_drops_only_the_unanalysable_kernel_warning(caplog):
    from repotune_trainer.compiling import quiet_compile_warnings

    quiet_compile_warnings()
    quiet_compile_warnings()  # once per training run: the filter is added once
    dynamo_log = logging.getLogger("torch._dynamo")
    with caplog.at_level(logging.WARNING, logger="torch._dynamo"):
        try:
            raise AttributeError("'float' object has no attribute 'to'")  # what Liger's RMSNorm kernel gave
        except AttributeError:
            dynamo_log.warning("Encountered an exception in identify_mutated_tensors, assuming every input is "
                               "mutated", exc_info=True)
        dynamo_log.warning("torch._dynamo hit config.recompile_limit (8)")
    assert [r.getMessage() for r in caplog.records] == ["torch._dynamo hit config.recompile_limit (8)"]
    assert sum(f.__name__ == "_not_unanalysable_kernel" for f in dynamo_log.filters) == 1


def test_new_switches_are_validated(demo_model_dir, demo_shards, tmp_path):
    with pytest.raises(WorkerError, match="'packing' must be one of auto, rows, padding_free"):
        make_args(demo_model_dir, demo_shards, tmp_path, packing="padded")
    with pytest.raises(WorkerError, match="save_merged cannot merge into 4-bit weights"):
        make_args(demo_model_dir, demo_shards, tmp_path, save_merged=True, quantize="4bit")
    with pytest.raises(WorkerError, match="'compile' must be one of auto, on, off"):
        make_args(demo_model_dir, demo_shards, tmp_path, compile="max")
    with pytest.raises(WorkerError, match="'micro_batch_size' .* must not exceed batch_size"):
        make_args(demo_model_dir, demo_shards, tmp_path, micro_batch_size=99)

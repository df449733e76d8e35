"""SFT on human traces: solution formatting, prompt masking, MLE lowering NLL, and the whole
before/after pipeline (and its chapter) on a tiny random-weight model with a chat template."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import pytest

from conftest import execute_chapter
from siakit.data.answers import numbers_in
from siakit.data.problems import Problem
from siakit.training.sft.data import format_solution, sft_examples

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_sft_real_lm.md"


def chat_tiny(seed: int = 0):
    """A tiny random llama whose tokenizer has a ChatML template (like SmolLM2's)."""
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama", seed=seed, bos=False)
    lm.tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    lm.model.resize_token_embeddings(len(lm.tokenizer))
    lm.tokenizer.chat_template = CHATML
    lm.tokenizer.eos_token = "<|im_end|>"
    lm.model.generation_config.eos_token_id = lm.tokenizer.eos_token_id
    return lm


def test_format_solution_strips_annotations_and_ends_with_cue():
    raw = "Natalia sold 48/2 = <<48/2=24>>24 clips.\nShe sold 48+24 = <<48+24=72>>72.\n#### 72"
    assert format_solution(raw) == "Natalia sold 48/2 = 24 clips.\nShe sold 48+24 = 72.\nThe answer is 72."
    assert format_solution("x\n#### 1,000").endswith("The answer is 1000.")
    with pytest.raises(ValueError, match="####"):
        format_solution("no final answer")


def test_numbers_in():
    assert numbers_in("a -2 b 3.50") == ["-2", "3.5"]


def test_gsm8k_solutions_match_loaded_problems(data_root, monkeypatch):
    from siakit.data.problems import load_problems
    from siakit.training.sft.data import gsm8k_solutions

    monkeypatch.setenv("SIAKIT_DATA", str(data_root))
    pairs = gsm8k_solutions("train", n=5, seed=1)
    problems = {p.id: p for p in load_problems("gsm8k", "train")}
    for problem, solution in pairs:
        assert problems[problem.id].question == problem.question and problems[problem.id].gold == problem.gold
        assert solution.endswith(f"The answer is {problem.gold}.") and "<<" not in solution


def test_examples_learn_only_the_solution():
    lm = chat_tiny()
    p = Problem("p", "gsm8k", "What is 2 + 3?", "5")
    (ex,) = sft_examples(lm.tokenizer, [(p, "2 + 3 = 5\nThe answer is 5.")], max_len=10_000)
    learned = lm.tokenizer.decode([t for t in ex.labels if t != -100])
    assert learned == "2 + 3 = 5\nThe answer is 5.<|im_end|>\n"
    assert ex.labels[0] == -100 and len(ex.labels) == len(ex.input_ids)
    assert sft_examples(lm.tokenizer, [(p, "x")], max_len=5) == []  # too long: skipped, not truncated


def test_finetune_lowers_nll_of_the_solutions():
    from siakit.training.sft.finetune import SFTConfig, finetune, heldout_nll

    lm = chat_tiny()
    pairs = [(Problem(f"p{i}", "gsm8k", f"What is {i} + 3?", str(i + 3)),
              f"{i} + 3 = {i + 3}\nThe answer is {i + 3}.") for i in range(6)]
    examples = sft_examples(lm.tokenizer, pairs, max_len=10_000)
    pad = lm.tokenizer.pad_token_id
    before = heldout_nll(lm.model, examples, pad)
    finetune(lm.model, examples, SFTConfig(steps=15, batch_size=3, lr=3e-3, train_layers=1), pad, progress=False)
    assert heldout_nll(lm.model, examples, pad) < before - 0.5
    assert all(p.requires_grad for p in lm.model.parameters())  # unfrozen again afterwards


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_chat_model")
    lm = chat_tiny()
    lm.model.save_pretrained(path)
    lm.tokenizer.save_pretrained(path)
    return path


def tiny_config(model_dir, **kw):
    from siakit.training.sft.finetune import SFTConfig

    return SFTConfig(model=str(model_dir), n_train=4, n_heldout=2, max_len=4096, steps=2, batch_size=2,
                     train_layers=1, n_eval=2, max_new_tokens=12, **kw)


def test_run_sft_end_to_end_and_resume(tiny_dir, tmp_path, data_root, monkeypatch):
    from siakit.models.loading import load_model
    from siakit.training.sft.finetune import run_sft

    monkeypatch.setenv("SIAKIT_DATA", str(data_root))
    summary = run_sft(tiny_config(tiny_dir), tmp_path / "sft", progress=False)
    assert set(summary["results"]) == {"before/gsm8k", "before/svamp", "after/gsm8k", "after/svamp"}
    assert summary["results"]["after/gsm8k"]["n_traces"] == 2 and len(summary["train_loss"]) == 2
    assert load_model(str(tmp_path / "sft" / "model")).model.config.model_type == "llama"
    before = (tmp_path / "sft" / "traces_before.jsonl").read_text()
    again = run_sft(tiny_config(tiny_dir), tmp_path / "sft", progress=False)  # every stage reused
    assert again["results"] == summary["results"] and again["train_loss"] == summary["train_loss"]
    assert (tmp_path / "sft" / "traces_before.jsonl").read_text() == before


def test_sft_chapter_executes(tiny_dir, tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("SIAKIT_DATA", str(data_root))  # the kernel inherits it
    execute_chapter(NOTEBOOK, tmp_path, {
        "model": str(tiny_dir), "n_train": 4, "n_heldout": 2, "steps": 2, "train_layers": 1, "n": 2,
        "max_new_tokens": 12, "max_len": 4096, "out": str(tmp_path / "sft")})  # raises on a failing cell
    from siakit.data.traces import read_traces

    summary = json.loads((tmp_path / "sft" / "summary.json").read_text())
    nll = summary["heldout_nll"]  # nats per token of the held-out human solutions, before/after SFT
    assert np.isfinite(nll["before"]) and np.isfinite(nll["after"]) and nll["before"] > 0
    # each stage's accuracy is that of the traces the chapter wrote (an outside recount, not the parameters)
    for stage in ("before", "after"):
        traces = read_traces(tmp_path / "sft" / f"traces_{stage}.jsonl")
        for ds in ("gsm8k", "svamp"):
            part = [t.correct for t in traces if t.dataset == ds]
            got = summary["results"][f"{stage}/{ds}"]
            assert got["n_traces"] == len(part) > 0 and got["accuracy"] == sum(part) / len(part)


def test_epoch_batches_cover_every_example_once_with_little_padding():
    import random

    from siakit.training.sft.data import epoch_batches

    lengths = [random.Random(i).randint(43, 101) for i in range(512)]
    batches = epoch_batches(lengths, 16, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(512)) and all(len(b) == 16 for b in batches)

    def waste(bs):
        return 1 - sum(lengths) / sum(len(b) * max(lengths[i] for i in b) for b in bs)

    shuffled = random.Random(0).sample(range(512), 512)
    plain = [shuffled[i:i + 16] for i in range(0, 512, 16)]
    assert waste(batches) < 0.10 < 0.20 < waste(plain)
    assert batches == epoch_batches(lengths, 16, random.Random(0))  # seeded
    assert epoch_batches([5, 1, 4, 2], 2, random.Random(0), group=2) == [[1, 3], [2, 0]]
    odd = epoch_batches([3] * 5, 2, random.Random(1))
    assert sorted(i for b in odd for i in b) == list(range(5)) and sorted(map(len, odd)) == [1, 2, 2]

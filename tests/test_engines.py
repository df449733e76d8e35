"""Traces from another engine (scripts/vllm_generate.py): the same prompts, token ids, stop-cutting, step
splitting and records as `siakit generate`, checked with the tiny model standing in for the engine."""
from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from siakit.data.problems import load_problems
from siakit.data.traces import read_traces
from siakit.experiment.engines import requests, to_traces
from siakit.experiment.generate import GenerateConfig, encode, generate_traces
from siakit.models.tiny import tiny_model

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lm():
    return tiny_model("llama")


@pytest.fixture()
def problems(tmp_path):
    path = tmp_path / "problems.jsonl"
    rows = [{"id": f"p{i}", "question": f"What is {i} + {i}?", "gold": str(2 * i)} for i in range(1, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"jsonl:{path}"


CHAT = "<|bos|>{% for m in messages %}user: {{ m['content'] }}\n{% endfor %}assistant:"


def engine(lm, token_ids: list[list[int]], max_new_tokens: int) -> tuple[list[str], list[int]]:
    """A stand-in engine: greedy continuation of each prompt's token ids, special tokens dropped."""
    import torch

    texts, counts = [], []
    for ids in token_ids:
        with torch.no_grad():
            out = lm.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                    max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=lm.tokenizer.pad_token_id)
        new = out[0, len(ids):]
        texts.append(lm.tokenizer.decode(new, skip_special_tokens=True))
        counts.append(len(new))
    return texts, counts


def without_run_details(trace) -> dict:
    record = trace.to_dict()
    for key in ("batch_seconds", "seed", "n_new_tokens", "temperature", "engine"):
        record.pop(key, None)
    return record


@pytest.mark.parametrize("chat", [True, False])
def test_engine_text_makes_the_traces_siakit_generate_makes(lm, problems, chat):
    items = load_problems(problems)
    # both prompt styles: a chat template that writes its own BOS (so none is added twice), and few-shot
    lm.chat = chat
    lm.tokenizer.chat_template = CHAT if chat else None
    try:
        ours = generate_traces(lm, items, GenerateConfig(max_new_tokens=12, batch_size=1), progress=False)
        reqs = requests(items, lm.tokenizer, chat=chat)
    finally:
        lm.chat, lm.tokenizer.chat_template = False, None
    assert [r.token_ids[:2].count(0) for r in reqs] == [1] * len(reqs)  # one BOS either way
    assert [r.prompt for r in reqs] == [t.prompt for t in ours]
    assert [r.token_ids for r in reqs] == encode(lm.tokenizer, [t.prompt for t in ours])["input_ids"]
    texts, counts = engine(lm, [r.token_ids for r in reqs], 12)
    theirs = to_traces(reqs, texts, model="tiny-llama", chat=chat, max_new_tokens=12,
                       meta=[{"engine": "test", "n_new_tokens": c} for c in counts])
    assert [without_run_details(t) for t in theirs] == [without_run_details(t) for t in ours]
    assert theirs[0].meta == {"engine": "test", "n_new_tokens": counts[0], "max_new_tokens": 12,
                              "truncated": ours[0].meta["truncated"], "question": items[0].question}


def test_base_model_text_is_cut_at_the_next_question_and_bad_counts_are_refused(lm, problems):
    items = load_problems(problems)[:2]
    reqs = requests(items, lm.tokenizer, chat=False)
    traces = to_traces(reqs, ["1 + 1 = 2.\nThe answer is 2.\nQuestion: What is 9 + 9?", "No idea."],
                       model="org/base", chat=False)
    assert traces[0].steps == ["1 + 1 = 2.\n", "The answer is 2."] and traces[0].correct
    assert traces[0].model == "org__base" and traces[1].answer is None and not traces[1].correct
    with pytest.raises(ValueError, match="1 completions for 2 requests"):
        to_traces(reqs, ["only one"], model="m", chat=False)


def _script():
    spec = importlib.util.spec_from_file_location("vllm_generate", REPO / "scripts" / "vllm_generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vllm_script_writes_our_traces_with_the_engine_call_replaced(lm, problems, tmp_path, monkeypatch, capsys):
    script = _script()
    assert "vllm" not in (REPO / "pyproject.toml").read_text().lower()  # not a siakit dependency
    model_dir = tmp_path / "tiny-llama"
    lm.model.save_pretrained(model_dir)
    lm.tokenizer.save_pretrained(model_dir)
    out = tmp_path / "traces.jsonl"
    argv = ["--model", str(model_dir), "--dataset", problems, "--out", str(out), "--max-new-tokens", "12",
            "--chat", "no"]
    if importlib.util.find_spec("vllm") is None:  # here: a plain message, exit 2, nothing written
        assert script.main(argv) == 2 and "vLLM is not installed" in capsys.readouterr().err
        assert not out.exists()
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    monkeypatch.setattr(script, "complete", lambda args, ids, chat: engine(lm, ids, args.max_new_tokens))
    assert script.main(argv) == 0
    written = read_traces(out)
    ours = generate_traces(lm, load_problems(problems), GenerateConfig(max_new_tokens=12, batch_size=1),
                           progress=False)
    for t in ours:
        t.model = model_dir.name
    assert [without_run_details(t) for t in written] == [without_run_details(t) for t in ours]
    assert written[0].meta["engine"] == "vllm" and written[0].meta["n_new_tokens"] == 12

"""`siakit score` end to end on a saved tiny model (offline), resumption after a kill, the real model."""
import json

import numpy as np
import pandas as pd
import pytest

import siakit.scorer.score as scorer
from siakit.cli import main
from siakit.models.tiny import tiny_model
from siakit.data.traces import Trace, write_traces

ARC_OPTIONS = [" A", " B", " C", " D"]


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    lm = tiny_model("llama")
    path = tmp_path_factory.mktemp("tiny-llama")
    lm.model.save_pretrained(path)
    lm.tokenizer.save_pretrained(path)
    return path


@pytest.fixture()
def traces_file(tmp_path):
    traces = [Trace(id=f"q{i}", prompt=f"Question {i}: which is a mammal?", dataset="arc-easy",
                    steps=[f"\nStep {j}: think." for j in range(i)], options=ARC_OPTIONS, gold="B",
                    answer="B", correct=True) for i in range(3)]
    path = tmp_path / "traces.jsonl"
    write_traces(path, traces)
    return path


def test_score_command_writes_the_parquet(model_dir, traces_file, tmp_path):
    out = tmp_path / "scores.parquet"
    args = ["score", "--model", str(model_dir), "--traces", str(traces_file), "--out", str(out),
            "--estimator", "readout,vocab", "--shard-traces", "1"]
    assert main(args) == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 2 * (1 + 2 + 3)  # (K + 1) rows per trace and estimator
    assert frame.id.tolist()[:2] == ["q0", "q0"] and set(frame.estimator) == {"readout", "vocab"}
    readout = frame[frame.estimator == "readout"]
    assert (readout.n_options == 4).all() and np.allclose([sum(p) for p in readout.option_probs], 1)
    assert not (tmp_path / "scores.parquet.parts").exists()
    assert main(args) == 0  # a finished output is not recomputed


def test_a_killed_run_resumes_where_it_stopped(model_dir, traces_file, tmp_path, monkeypatch):
    out = tmp_path / "scores.parquet"
    args = ["score", "--model", str(model_dir), "--traces", str(traces_file), "--out", str(out),
            "--shard-traces", "1"]
    real, seen = scorer.score_traces, []

    def dies_on_second_shard(lm, traces, **kw):
        seen.append([t.id for t in traces])
        if len(seen) == 2:
            raise KeyboardInterrupt  # the kill
        return real(lm, traces, **kw)

    monkeypatch.setattr(scorer, "score_traces", dies_on_second_shard)
    assert main(args) == 130  # one line "interrupted; run the same command to resume", no traceback
    assert not out.exists() and len(list((tmp_path / "scores.parquet.parts" / "scores").glob("*.parquet"))) == 1
    assert main(args[:-2] + ["--shard-traces", "1", "--estimator", "vocab"]) == 2  # other parameters: refused
    seen.clear()
    monkeypatch.setattr(scorer, "score_traces", lambda lm, traces, **kw: seen.append(1) or real(lm, traces, **kw))
    assert main(args) == 0
    assert len(seen) == 2  # only the two traces not yet scored
    frame = pd.read_parquet(out)
    assert frame.id.tolist() == ["q0", "q1", "q1", "q2", "q2", "q2"]


def test_bad_traces_file_is_reported_with_its_line(model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "prompt": "x", "steps": []}) + "\n{not json\n")
    assert main(["score", "--model", str(model_dir), "--traces", str(bad), "--out", str(tmp_path / "o.parquet")]) == 2
    assert f"{bad}:2" in capsys.readouterr().err


@pytest.mark.real_model
def test_real_smollm2_scores_an_arc_trace(tmp_path):
    """The embedded SmolLM2-135M-Instruct, one ARC-style trace, tree method vs the naive loop."""
    from siakit.models.loading import load_model

    lm = load_model("smollm2-135m-instruct")
    prompt = lm.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Which animal is a mammal?\nA. shark\nB. whale\nC. trout\nD. eel"}],
        tokenize=False, add_generation_prompt=True)
    trace = Trace(id="arc-1", prompt=prompt, dataset="arc-easy", options=ARC_OPTIONS, gold="B",
                  steps=["Sharks, trout and eels are fish.\n", "Whales breathe air and feed milk.\n",
                         "The answer is B."])
    fast = scorer.score_traces(lm, [trace], progress=False)
    naive = scorer.score_traces(lm, [trace], method="naive", progress=False)
    assert fast.k.tolist() == [0, 1, 2, 3] and (fast.method == "packed").all()
    assert np.abs(fast.entropy - naive.entropy).max() < 1e-4
    assert (fast.entropy >= 0).all() and (fast.entropy <= np.log(4) + 1e-9).all()
    assert fast.gold_logprob.iloc[-1] > fast.gold_logprob.iloc[0]  # the last step states the answer

"""Estimators (candidate sets, sampling against an enumerated truth) and the scorer's bad-input errors."""
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from siakit.scorer import methods
from siakit.scorer.estimators import candidate_options, empirical_summary, extract, gold_index, prefix_readout
from siakit.models.loading import LoadedModel
from siakit.scorer.score import score_traces
from siakit.models.tiny import tiny_model, tiny_tokenizer
from siakit.data.traces import Trace


pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def lm():
    return tiny_model("llama")


def _trace(**kw):
    base = dict(id="t1", prompt="Question: 3 + 5?", steps=["\nStep 1: 3 + 5 = 8.", "\nSo 8."],
                options=[" 8", " 120"], gold="8", answer="8", correct=True, dataset="gsm8k")
    return Trace(**{**base, **kw})


def test_gold_matching_and_candidate_sets():
    assert gold_index([" 12", " 8.0"], "8") == 1 and gold_index([" A", " B"], "B") == 1
    assert gold_index([" A", " B"], "C") is None and gold_index([" A"], None) is None
    assert candidate_options("8", "8.0", ["12", None, "$1,000"]) == [" 8", " 12", " 1000"]
    s = empirical_summary(["8", "8", "12", None], "8")
    assert s["options"] == ["8", "12", "<none>"] and s["probs"] == [0.5, 0.25, 0.25]
    assert s["entropy"] == pytest.approx(-(0.5 * np.log(0.5) + 0.5 * np.log(0.25)))
    # s_k add-one smoothed: never sampled -> log(1 / (M + m + 1)), finite
    assert empirical_summary(["3"], "8")["gold_logprob"] == pytest.approx(np.log(1 / 3))
    assert s["gold_logprob"] == pytest.approx(np.log(3 / 7))
    mm = empirical_summary(["8", "12"], "8", miller_madow=True)["entropy"]
    assert mm == pytest.approx(np.log(2) + 1 / 4)


def test_candidate_set_from_the_question_and_samples(lm):
    t = _trace(options=None, answer="5", meta={"question": "3 + 5?"})
    frame = score_traces(lm, [t], candidate_samples=3, candidate_max_new_tokens=4, progress=False)
    assert (frame.candidates == "prefix").all()
    first = list(frame.options[0])
    assert " 3" in first and " 5" in first and " 8" not in first  # k = 0: the gold is not known yet
    again = score_traces(lm, [t], candidate_samples=3, candidate_max_new_tokens=4, progress=False)
    assert [list(o) for o in again.options] == [list(o) for o in frame.options]  # seeded
    assert all(abs(sum(p) - 1) < 1e-9 for p in frame.option_probs)
    assert ((frame.coverage > 0) & (frame.coverage <= 1 + 1e-9)).all()


def test_h_k_depends_only_on_the_question_and_the_first_k_steps(lm):
    """Two traces share Q and their first two steps; what follows and the gold differ."""
    q = "Tom has 3 apples and buys 5 more. How many apples?"
    shared = ["\nStep 1: Tom has 3 apples.", "\nStep 2: 3 + 5 = 8."]
    a = Trace(id="a", prompt="Question: " + q, steps=shared + ["\nSo 8.", "\nThe answer is 8."], gold="8",
              answer="8", correct=True, meta={"question": q})
    b = Trace(id="b", prompt="Question: " + q, steps=shared + ["\nThen 8 * 15 = 120 and 1000 more."],
              gold="42", answer="1000", correct=False, meta={"question": q})
    for method in ("packed", "naive"):
        fa, fb = (score_traces(lm, [t], method=method, candidate_samples=2, candidate_max_new_tokens=4,
                               progress=False) for t in (a, b))
        for k in range(3):
            ra, rb = fa[fa.k == k].iloc[0], fb[fb.k == k].iloc[0]
            assert list(ra.options) == list(rb.options)
            assert ra.entropy == pytest.approx(rb.entropy, abs=1e-5)  # float32 forward passes of different packs
            assert ra.coverage == pytest.approx(rb.coverage, rel=1e-5)
            assert ra.leading_option == rb.leading_option
            assert ra.option_probs == pytest.approx(rb.option_probs, abs=1e-5)
        assert fa.gold_logprob.notna().all() and fb.gold_logprob.notna().all()
    assert " 120" in fb.options.iloc[-1] and " 120" not in fb.options.iloc[2]  # later steps stay out


def test_small_sets_give_nan_not_false_certainty(lm):
    """|S_k| < 2: nothing to choose between, h_k is NaN; s_k needs |S_k + {gold}| >= 2."""
    t = Trace(id="s", prompt="Question: how many?", steps=["\nWe have 7.", "\nAnd 9."], gold="7",
              meta={"question": "how many?"})
    f = score_traces(lm, [t], progress=False)
    assert f.n_options.tolist() == [0, 1, 2]
    assert np.isnan(f.entropy[0]) and np.isnan(f.entropy[1]) and f.entropy[2] > 0
    assert np.isnan(f.gold_logprob[0]) and np.isnan(f.gold_logprob[1]) and f.gold_logprob[2] < 0
    assert f.coverage[0] == 0 and pd.isna(f.leading_option[0]) and f.leading_option[1] == "7"
    assert not f.gold_in_set[0] and f.gold_in_set[1]


# The sampled (rollout) answer law against an enumerated 2-token world: tests/test_rollout.py.


def test_empty_steps_score_only_k0(lm):
    frame = score_traces(lm, [_trace(steps=[])], estimator=("readout", "vocab"), progress=False)
    assert frame.k.tolist() == [0, 0] and frame.n_steps.tolist() == [0, 0]


def test_overlong_trace_is_an_error_naming_it_unless_truncated():
    lm = tiny_model("gpt2", max_positions=40)
    long = _trace(id="long-one", steps=[f"\nStep {i}: 3 + 5 = 8." for i in range(8)])
    with pytest.raises(ValueError, match=r"trace long-one: \d+ tokens .* context of 40"):
        score_traces(lm, [long], progress=False)
    frame = score_traces(lm, [long], truncate=True, progress=False)
    assert 0 < frame.k.max() < 8 and frame.n_prefix_tokens.max() < 40 and (frame.n_steps == 8).all()


def test_option_errors_are_clear(lm):
    with pytest.raises(ValueError, match=r"trace t1: gold '7' is not among its options"):
        score_traces(lm, [_trace(gold="7")], progress=False)
    with pytest.raises(ValueError, match="trace t1: readout needs options"):
        score_traces(lm, [_trace(options=None, gold=None, answer=None, prompt="Why?", steps=["\nBecause.", " So."])],
                     progress=False)
    frame = score_traces(lm, [_trace(options=None, gold=None, answer=None)], estimator="vocab", progress=False)
    assert len(frame) == 3 and frame.entropy.notna().all() and frame.gold_logprob.isna().all()
    with pytest.raises(ValueError, match="unknown estimator 'entropy'"):
        score_traces(lm, [_trace()], estimator="entropy")
    with pytest.raises(ValueError, match="unknown method 'fast'"):
        score_traces(lm, [_trace()], method="fast")


class NaNModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=None):
        logits = torch.zeros(*input_ids.shape, 384)
        logits[..., 5] = float("nan")
        return SimpleNamespace(logits=logits if logits_to_keep is None else logits[:, logits_to_keep])


def test_nan_logits_name_the_trace():
    lm = LoadedModel(model=NaNModel(), tokenizer=tiny_tokenizer(), name="nan")
    with pytest.raises(FloatingPointError, match="trace t1"):
        score_traces(lm, [_trace()], progress=False)


def test_out_of_memory_splits_the_pack_and_loses_nothing(lm, monkeypatch):
    traces = [_trace(id=f"t{i}", steps=["\nStep."] * (i + 1)) for i in range(4)]
    expected = score_traces(lm, traces, pack_tokens=100_000, progress=False)
    real, sizes = methods.run_tree, []

    def flaky(model, layouts, *args, **kwargs):
        sizes.append(len(layouts))
        if len(layouts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(model, layouts, *args, **kwargs)

    monkeypatch.setitem(methods.METHODS, "packed", replace(methods.METHODS["packed"], run=flaky))
    got = score_traces(lm, traces, pack_tokens=100_000, progress=False)
    assert sizes[0] == 4 and sizes.count(1) == 4
    assert got.id.tolist() == expected.id.tolist()
    assert np.abs(got.entropy - expected.entropy).max() < 1e-5


def test_models_without_custom_masks_fall_back_and_say_so(lm, monkeypatch):
    # a flash-attention model: its adapter reports no custom-mask support
    monkeypatch.setitem(lm.__dict__, "_adapter", replace(lm.adapter, mask_form="none"))
    frame = score_traces(lm, [_trace()], progress=False)
    assert (frame.method == "kv-fallback").all()
    exact = score_traces(lm, [_trace()], method="naive", progress=False)
    assert np.abs(frame.entropy - exact.entropy).max() < 1e-4


def test_numeric_candidates_are_recent_mentions_without_step_labels(lm):
    """S_k holds the most recently mentioned distinct numbers of Q + C_{1:k}; "Step 1" is a label."""
    assert candidate_options("8", "8", [], ["3", "5", "8", "9"], limit=3) == [" 8", " 3", " 5"]  # SFT's helper
    trace = _trace(options=None, meta={"question": "3 + 5?"})
    frame = score_traces(lm, [trace], progress=False)
    assert [list(o) for o in frame.options] == [[" 3", " 5"], [" 3", " 5", " 8"], [" 3", " 5", " 8"]]
    assert (frame.entropy > 0).all() and (frame.gold_in_set == [False, True, True]).all()
    two = score_traces(lm, [trace], candidate_mentions=2, progress=False)
    assert [list(o) for o in two.options] == [[" 3", " 5"], [" 5", " 8"], [" 5", " 8"]]
    assert (score_traces(lm, [trace], candidate_mentions=0, progress=False).n_options == 0).all()


def test_prefix_readout_by_hand():
    r = prefix_readout(np.log([0.2, 0.6, 0.1]), [0, 1], gold=2)
    assert r["probs"] == pytest.approx([0.25, 0.75]) and r["leading"] == 1
    assert r["entropy"] == pytest.approx(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    assert r["coverage"] == pytest.approx(0.8) and r["gold_logprob"] == pytest.approx(np.log(0.1 / 0.9))
    tie = prefix_readout(np.log([0.3, 0.3]), [1, 0], gold=0)
    assert tie["leading"] == 1  # a tie goes to the first of S_k's order, not to the gold
    assert np.isnan(prefix_readout(np.log([0.3]), [0], gold=0)["gold_logprob"])

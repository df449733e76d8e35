"""The rollout estimator: per-prefix numbers, prefix choice, and the sampled law against the exact one."""
import numpy as np
import pytest
import torch

from siakit.data.traces import Trace
from siakit.models.tiny import tiny_model
from siakit.scorer.continuations import read_rollout
from siakit.scorer.rollout import rollout_prefixes, rollout_summary
from siakit.scorer.score import score_traces

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def lm():
    return tiny_model("llama")


def test_summary_numbers():
    s = rollout_summary(["8", "8", "12", None], gold="8", own="12", seed=0)
    assert s["options"] == ["8", "12", "<none>"] and s["option_probs"] == [0.5, 0.25, 0.25]
    assert s["entropy"] == s["entropy_plugin"] == pytest.approx(-(0.5 * np.log(0.5) + 0.5 * np.log(0.25)))
    assert s["entropy_mm"] == pytest.approx(s["entropy_plugin"] + 2 / 8)  # (m - 1) / 2M, m = 3, M = 4
    assert s["gold_share"] == pytest.approx(3 / 7) and s["n_gold"] == 2  # add-one: (2 + 1) / (4 + 3)
    assert s["own_answer_share"] == 0.25 and s["n_unparsed"] == 1 and s["leading_option"] == "8"
    assert 0 <= s["entropy_low"] <= s["entropy_plugin"] <= s["entropy_high"] <= np.log(3) + 1e-12
    never = rollout_summary(["3", "3"], gold="8", own=None, seed=0)
    assert never["gold_share"] == pytest.approx(1 / 4) and never["n_gold"] == 0  # (0 + 1) / (2 + 2)
    assert np.isnan(never["own_answer_share"]) and never["entropy_low"] == never["entropy_high"] == 0
    assert rollout_summary(["$1,000", "1000.0"], gold="1000", own="1000", seed=0)["n_gold"] == 2


def test_prefix_choice_and_truncated_grading():
    assert rollout_prefixes(4, None) == [0, 1, 2, 3, 4] and rollout_prefixes(4, (0.5,)) == [2]
    assert rollout_prefixes(3, (0.5, 1.0)) == [2, 3] and rollout_prefixes(0, (0.5,)) == [0]
    with pytest.raises(ValueError, match="rollout_at"):
        rollout_prefixes(3, (1.5,))
    assert read_rollout("2 + 3 = 5\n", "The answer is 5.", False, True) == ("5", False)
    assert read_rollout("", "The answer is 12", True, True) == (None, True)   # may be 120 cut short
    assert read_rollout("", "The answer is 12 apples", True, True) == ("12", True)
    # a base model's text stops at its next few-shot question: that is an end, not a cut
    assert read_rollout("", "The answer is 7.\n\nQuestion: what", True, False) == ("7", False)


def _exact_law(lm, context, prefix_text):
    """Every 2-token continuation of `context`: the exact law of the graded answer (a dict)."""
    from siakit.scorer.continuations import read_rollout

    tok, model = lm.tokenizer, lm.model
    eos = tok.eos_token_id
    with torch.no_grad():
        p1 = model(torch.tensor([context])).logits[0, -1].double().softmax(-1)
        vocab = p1.shape[0]
        p2 = model(torch.tensor([context + [t] for t in range(vocab)])).logits[:, -1].double().softmax(-1)
    law: dict = {}

    def add(answer, p):
        key = answer or "<none>"
        law[key] = law.get(key, 0.0) + p

    for t1 in range(vocab):
        if t1 == eos:  # ended after one token: an empty continuation
            add(read_rollout(prefix_text, "", False, False)[0], float(p1[t1]))
            continue
        texts = tok.batch_decode([[t1, t2] for t2 in range(vocab)], skip_special_tokens=True)
        for t2, text in enumerate(texts):
            add(read_rollout(prefix_text, text, t2 != eos, False)[0], float(p1[t1] * p2[t1, t2]))
    return law


def test_rollouts_match_the_enumerated_answer_law(lm):
    """A 2-token answer world: from the prefix "... The answer is", every continuation of two
    tokens is enumerated (V^2 of them) and graded like a rollout; M = 6000 rollouts must match."""
    step = "Step 1: Tom has 3 apples and buys 5 more, so 3 + 5 = 8.\nThe answer is"
    trace = Trace(id="w", prompt="Question: Tom has 3 apples and buys 5 more?\n", steps=[step], gold="8",
                  answer="8", correct=True)
    context = lm.tokenizer(trace.prompt + step)["input_ids"]
    law = _exact_law(lm, context, step)
    assert abs(sum(law.values()) - 1) < 1e-9 and len(law) >= 3  # a real distribution over several answers
    m = 6000
    frame = score_traces(lm, [trace], estimator="rollout", rollout_m=m, rollout_at=(1.0,), max_new_tokens=2,
                         rollout_batch=500, progress=False)
    assert frame.k.tolist() == [1] and frame.n_samples[0] == m and frame.method[0] == "rollout"
    got = dict(zip(frame.options[0], frame.option_probs[0]))
    for answer, p in law.items():  # every outcome within 4.5 binomial standard errors (+ a floor)
        assert abs(got.get(answer, 0.0) - p) <= 4.5 * np.sqrt(p * (1 - p) / m) + 2e-3, (answer, got.get(answer), p)
    probs = np.array([p for p in law.values() if p > 0])
    exact = float(-(probs * np.log(probs)).sum())
    assert abs(frame.entropy[0] - exact) < 0.05, (frame.entropy[0], exact)
    assert frame.entropy_low[0] <= frame.entropy[0] <= frame.entropy_high[0]
    assert frame.gold_share[0] == pytest.approx((frame.n_gold[0] + 1) / (m + len(got) + ("8" not in got)))
    assert abs(frame.n_gold[0] / m - law.get("8", 0.0)) < 4.5 * np.sqrt(0.25 / m)
    assert frame.n_truncated[0] > 0.9 * m and frame.n_rollout_tokens[0] <= 2 * m  # almost no EOS
    assert len(frame.rollout_answers[0]) == m


def test_rollouts_are_seeded_and_sampling_is_their_old_name(lm):
    t = Trace(id="s", prompt="Question: 3 + 5?\n", steps=["3 + 5 = 8.\n", "The answer is 8."], gold="8",
              answer="8", correct=True)
    kw = dict(rollout_m=6, max_new_tokens=6, progress=False)
    a = score_traces(lm, [t], estimator="rollout", **kw)
    b = score_traces(lm, [t], estimator="sampling", rollout_batch=4, samples=6, max_new_tokens=6, progress=False)
    assert a.k.tolist() == [0, 1, 2] and (b.estimator == "sampling").all()
    assert [list(x) for x in a.rollout_answers] == [list(x) for x in b.rollout_answers]  # batching-free
    # at k = K the answer line is written; a random rollout may still write a later "answer is" line
    assert a.own_answer_share[2] >= 0.5 and a.n_gold[2] == round(6 * a.own_answer_share[2])
    c = score_traces(lm, [t], estimator="rollout", seed=1, **kw)
    assert [list(x) for x in c.rollout_answers] != [list(x) for x in a.rollout_answers] or \
        c.n_rollout_tokens.tolist() != a.n_rollout_tokens.tolist()
    mid = score_traces(lm, [t], estimator=("readout", "rollout"), rollout_at=(0.5,), **kw)
    assert mid[mid.estimator == "rollout"].k.tolist() == [1] and mid[mid.estimator == "readout"].k.tolist() == [0, 1, 2]


def test_rollout_at_on_the_command_line():
    import argparse

    from siakit.experiment.commands import _fractions

    assert _fractions("0.25,0.5") == (0.25, 0.5) and _fractions("1") == (1.0,)
    for bad in ("1.5", "half", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="--rollout-at"):
            _fractions(bad)


def test_lineage_rollout_metrics_read_the_mid_prefix():
    import pandas as pd

    from siakit.testbed.rollouts import rollout_metrics, subset_ids

    rows = []
    for i, (correct, h_mid) in enumerate([(True, 0.1), (True, 0.2), (False, 0.9), (False, 0.5)]):
        for k in range(5):  # K = 4: the mid prefix is k = 2; other prefixes carry misleading values
            rows.append({"id": f"t{i}", "k": k, "n_steps": 4, "correct": correct,
                         "entropy": h_mid if k == 2 else (5.0 if correct else 0.0), "gold_share": 0.5,
                         "own_answer_share": 1.0, "n_samples": 4, "n_truncated": int(k == 0),
                         "n_unparsed": 0, "n_rollout_tokens": 10})
    m = rollout_metrics(pd.DataFrame(rows), n_boot=50)
    assert m["n"] == 4 and m["auroc_mid"] == 1.0  # lower h at mid-trace on both correct traces
    assert m["entropy_correct"] == pytest.approx(0.15) and m["entropy_incorrect"] == pytest.approx(0.7)
    assert m["truncated_share"] == pytest.approx(4 / 80) and m["tokens"] == 200
    assert rollout_metrics(pd.DataFrame()) == {}

    class T:
        def __init__(self, i):
            self.id = i
    assert subset_ids([T(c) for c in "abcde"], 3) == ["a", "c", "e"] and subset_ids([T("a")], 0) == []


def test_rollouts_continue_the_traces_own_budget(lm):
    """rollout_total_tokens: prefix k's rollouts get the budget less the reasoning tokens written."""
    t = Trace(id="b", prompt="Question: 3 + 5?\n", steps=["3 + 5 = 8.\n", "The answer is 8."], gold="8",
              answer="8", correct=True)
    f = score_traces(lm, [t], estimator="rollout", rollout_m=5, max_new_tokens=50, rollout_total_tokens=12,
                     progress=False)
    written = (f.n_prefix_tokens - f.n_prefix_tokens[0]).tolist()  # reasoning tokens of C_{1:k}
    for k, used in enumerate(written):
        assert f.n_rollout_tokens[k] <= 5 * max(1, 12 - used)
    assert f.n_rollout_tokens[0] > 5 * 6 and f.n_truncated[0] >= 4  # random weights: rarely an EOS

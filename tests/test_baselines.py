"""siakit.analysis.baselines on small synthetic lineages and human pairs with known answers."""
import math

import numpy as np
import pandas as pd
import pytest

from siakit.analysis import baselines as B
from siakit.data.traces import Trace


def _lineage(rng, per_rung=40):
    """Rungs t2..t4: correctness depends on the rung only, h at every prefix = the rung's level +
    noise, so pooled -h separates but within a rung it is chance."""
    traces, rows = [], []
    for n in (2, 3, 4):
        for i in range(per_rung):
            tid = f"t{n}-{i}"
            correct = bool(rng.random() < {2: 0.85, 3: 0.5, 4: 0.15}[n])
            K = n
            traces.append(Trace(id=tid, prompt="", steps=[f"{j} + 1 = {j + 1}\n" for j in range(K - 1)]
                                + ["The answer is 5."], gold="5", answer="5", correct=correct,
                                meta={"rung": f"t{n}"}))
            for k in range(K + 1):
                rows.append({"id": tid, "k": k, "entropy": 0.3 * n + 0.05 * rng.standard_normal(),
                             "gold_logprob": -1.0 + 0.1 * k, "n_options": 2 + k, "n_steps": K, "correct": correct})
    return pd.DataFrame(rows), traces


def test_separability_baselines_expose_a_difficulty_confound():
    scores, traces = _lineage(np.random.default_rng(0))
    t = B.separability_baselines(scores, traces, min_per_class=5, n_boot=100)
    pooled = t[(t.score == "-h at u = 0.5") & (t.scope == "pooled")].iloc[0]
    strat = t[t.scope == "rung-stratified"].iloc[0]
    terms = t[t.score == "-number of terms"].iloc[0]
    assert pooled["auroc"] > 0.75 and terms["auroc"] > 0.75            # difficulty alone separates
    assert abs(strat["auroc"] - 0.5) < 0.1 and strat["low"] < 0.5 < strat["high"]
    within = t[t.scope.str.startswith("rung t")]
    assert set(within.scope) <= {"rung t2", "rung t3", "rung t4"} and (within.n_pos >= 5).all()
    assert t[t.score == "-K"].iloc[0]["auroc"] == pytest.approx(terms["auroc"])  # K = n_terms here
    assert "-log|S_k| at u = 0.5" in set(t.score)


def test_at_u_and_n_terms():
    frame = pd.DataFrame({"id": "a", "k": [0, 1, 2], "entropy": [1.0, 0.5, 0.0]})
    assert B.at_u(frame, 0.25)["a"] == pytest.approx(0.75)
    assert B.n_terms(Trace(id="x", prompt="", steps=[], meta={"rung": "t4d2"})) == 4
    assert B.n_terms(Trace(id="x", prompt="", steps=[], meta={"question": "What is 3 + 4 - 1?"})) == 3
    assert B.last_number("3 + 4 = 7.\nThe answer is 7.") == "7" and B.last_number("none") is None


def _human(pid, variant, steps, gold):
    return Trace(id=f"{pid}:{variant}", prompt="", steps=steps, gold=gold,
                 meta={"variant": variant, "problem_id": pid})


def test_copy_reader_auroc_by_hand():
    traces = []
    for i in range(6):
        traces.append(_human(f"p{i}", "intact", ["2 + 2 = 4\n", "4 * 3 = 12\n"], "12"))
        # corrupted twins end on a wrong number, except p0 whose last number happens to be the gold
        traces.append(_human(f"p{i}", "corrupted", ["2 + 3 = 5\n", f"5 * 3 = {12 if i == 0 else 15}\n"], "12"))
    r = B.copy_reader_auroc(traces, n_boot=100)
    # 6 intact score 1; corrupted: one 1, five 0 -> pairs (6*5 wins + 6*1 ties / 2) / 36
    assert r["n"] == 6 and r["auroc"] == pytest.approx((30 + 3) / 36)
    # at the first line the last number written is 4 or 5, never the gold: the reader is at chance
    assert B.copy_reader_auroc(traces, lines={f"p{i}": 1 for i in range(6)}, n_boot=50)["auroc"] == 0.5


def test_last_number_share_counts_copies_of_the_running_sum():
    t = Trace(id="a", prompt="", steps=["1 + 2 = 3\n", "3 + 4 = 7\n", "The answer is 7."], gold="7",
              meta={"question": "What is 1 + 2 + 4?"})
    rows = pd.DataFrame({"id": "a", "k": [0, 1, 2, 3], "n_steps": 3, "leading_option": ["4", "3", "9", "7"]})
    r = B.last_number_share(rows, [t])                   # mid prefixes k = 1 (3: copy), k = 2 (9: not 7)
    assert (r["n"], r["share"]) == (2, 0.5)
    assert B.last_number_share(rows, [t], mid_only=False)["n"] == 4


def test_raw_gold_logprob_inverts_the_renormalisation():
    # S_k = {a: .3, b: .1}, gold g = .2 outside: q = .2 / .6; coverage .4 -> raw log .2
    rows = pd.DataFrame({"gold_logprob": [math.log(0.2 / 0.6), math.log(0.3 / 0.4)], "coverage": [0.4, 0.4],
                         "gold_in_set": [False, True]})
    assert np.allclose(np.exp(B.raw_gold_logprob(rows)), [0.2, 0.3])


def test_information_by_rung_and_reasoning_gains():
    scores = pd.DataFrame({"id": ["a"] * 4 + ["b"] * 3, "k": [0, 1, 2, 3, 0, 1, 2],
                           "entropy": [1.0, 0.8, 0.6, 0.0, 1.0, 0.5, 0.1],
                           "gold_logprob": [-3.0, -2.0, -2.5, -0.1, -2.0, -1.0, 0.0],
                           "correct": True, "n_steps": [3] * 4 + [2] * 3})
    g = B.reasoning_gains(scores).set_index("id")
    assert g.loc["a", "reasoning"] == pytest.approx((1.0 - 0.5) / 2) and g.loc["a", "answer_line"] == pytest.approx(2.4)
    assert g.loc["b", "reasoning"] == pytest.approx(1.0)
    traces = [Trace(id="a", prompt="", steps=["x"] * 3, meta={"rung": "t3"}),
              Trace(id="b", prompt="", steps=["x"] * 2, meta={"rung": "t2"})]
    t = B.information_by_rung(scores, traces, n_boot=20)
    assert t["rung"].tolist() == ["t2", "t3"]
    assert t.set_index("rung").loc["t3", "(h_0 - h_K)/K"] == pytest.approx(1 / 3)

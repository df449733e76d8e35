"""Paired trends between lineage checkpoints (same problems) and the lineage verdict rule."""
import numpy as np
import pandas as pd
import pytest

from siakit.data.traces import Trace
from siakit.testbed.trends import TREND_KEYS, paired_trend, paired_trends, separability_verdict, trend_word


def _evaluation(correct, h_mid):
    traces, rows = [], []
    for i, (c, h) in enumerate(zip(correct, h_mid)):
        traces.append(Trace(id=f"p{i}", prompt="", steps=["1 + 1 = 2\n", "2 + 1 = 3\n", "The answer is 3."],
                            correct=bool(c), meta={"hit_cap": False}))
        for k, e in enumerate([1.0, 1.0 - 0.5 * (1 - h), h, 0.0]):
            rows.append({"id": f"p{i}", "k": k, "entropy": e, "correct": bool(c)})
    return {"traces": traces, "scores": pd.DataFrame(rows)}


def test_paired_trend_by_hand():
    rng = np.random.default_rng(0)
    n = 200
    before = rng.random(n) < 0.4
    after = before | (rng.random(n) < 0.3)                 # training only adds correct answers
    first = _evaluation(before, rng.random(n))             # h uninformative at the start
    last = _evaluation(after, np.where(after, 0.2, 0.8) + 0.3 * rng.random(n))
    acc = paired_trend(first, last, "accuracy", n_boot=300)
    assert acc["diff"] == pytest.approx(after.mean() - before.mean()) and acc["low"] > 0 and acc["n"] == n
    sep = paired_trend(first, last, "auroc_u05", n_boot=300)
    assert sep["first"] == pytest.approx(0.5, abs=0.1) and sep["last"] > 0.9 and sep["low"] > 0.2
    table = paired_trends(first, last, n_boot=300)
    assert table["key"].tolist() == list(TREND_KEYS) and (table["family"] == 4).all()
    assert (table["p_holm"] >= table["p"]).all()
    assert trend_word(table, "accuracy").startswith("rises") and trend_word(table, "auroc_u05").startswith("rises")
    same = paired_trends(first, first, n_boot=100)
    assert set(same["trend"]) == {"shows no clear change"} and np.allclose(same["diff"], 0)
    with pytest.raises(ValueError, match="key"):
        paired_trend(first, last, "loss")


def test_separability_verdict_is_symmetric():
    assert separability_verdict({"auroc_u05_low": 0.6, "auroc_u05_high": 0.8})[0] == "supports"
    assert separability_verdict({"auroc_u05_low": 0.2, "auroc_u05_high": 0.4})[0] == "contradicts"
    assert separability_verdict({"auroc_u05_low": 0.45, "auroc_u05_high": 0.6})[0] == "inconclusive"
    assert separability_verdict({})[0] == "inconclusive"

"""Calibration (reliability bins, ECE with an interval) and estimator agreement, against hand-computed cases."""
import math

import numpy as np
import pandas as pd
import pytest

from siakit.analysis.agreement import estimator_agreement, js_divergence
from siakit.analysis.calibration import calibration, ece, ece_ci, leader_rows, reliability


def test_ece_by_hand():
    # bin 0.9: one right (|1 - .9|), bin 0.6: one wrong (|0 - .6|) -> (0.1 + 0.6) / 2
    assert ece([0.9, 0.6], [True, False]) == pytest.approx(0.35)
    assert ece([0.75] * 4, [True, True, True, False]) == pytest.approx(0.0)
    assert math.isnan(ece([], []))


def test_calibrated_readout_has_small_ece_and_overconfident_a_large_one():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, 4000)
    good = pd.DataFrame({"id": np.arange(4000), "confidence": conf, "correct": rng.random(4000) < conf})
    bad = good.assign(correct=rng.random(4000) < conf - 0.25)
    g, b = ece_ci(good, n_boot=100), ece_ci(bad, n_boot=100)
    assert g["ece"] < 0.03 and g["high"] < 0.04  # (binned ECE is biased up: the interval may sit above 0)
    assert b["ece"] == pytest.approx(0.25, abs=0.03) and b["low"] > g["high"]
    table = reliability(good)
    assert table["n"].sum() == 4000 and (abs(table["accuracy"] - table["confidence"]) < 0.06).all()


def test_leader_rows_and_calibration_from_scores():
    scores = pd.DataFrame({"id": ["a", "a", "b", "b"], "k": [0, 1, 0, 1], "gold": ["3", "3", "3", "3"],
                           "option_probs": [[0.5, 0.5], [0.8, 0.2], [0.6, 0.4], [0.7, 0.3]],
                           "leading_option": ["3", "3", "4", "4.0"]})
    rows = leader_rows(scores)
    assert rows["confidence"].tolist() == [0.8, 0.7] and rows["correct"].tolist() == [True, False]
    assert len(leader_rows(scores, "all")) == 4 and len(leader_rows(scores, "mid")) == 0
    table, summary = calibration(scores, n_boot=20)
    assert summary["ece"] == pytest.approx((0.2 + 0.7) / 2) and summary["n_traces"] == 2
    with pytest.raises(ValueError, match="which"):
        leader_rows(scores, "some")


def test_js_divergence_and_agreement():
    assert js_divergence({"1": 1.0}, {"2": 1.0}) == pytest.approx(math.log(2))
    assert js_divergence({"1": 0.5, "2": 0.5}, {"2": 0.5, "1": 0.5}) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    rows_a, rows_b = [], []
    for t in range(30):
        for k in range(4):
            p = rng.dirichlet([1, 1, 1])
            h = float(-(p * np.log(p)).sum())
            rows_a.append({"id": f"t{t}", "k": k, "options": ["1", "2", "3"], "option_probs": p.tolist(),
                           "leading_option": str(1 + int(np.argmax(p))), "entropy": h})
            q = p[::-1]  # same entropies, mirrored distribution: leaders agree only when "2" leads
            rows_b.append({"id": f"t{t}", "k": k, "options": ["1.0", "2", "3"], "option_probs": q.tolist(),
                           "leading_option": str(1 + int(np.argmax(q))), "entropy": h})
    a, b = pd.DataFrame(rows_a), pd.DataFrame(rows_b)
    same = estimator_agreement(a, a, n_boot=50)
    assert same["leader_agreement"] == 1.0 and same["js_divergence"] == pytest.approx(0.0, abs=1e-12)
    assert same["spearman_h"] == pytest.approx(1.0) and same["n_prefixes"] == 120
    mirrored = estimator_agreement(a, b, n_boot=50)
    share_two = np.mean([r["leading_option"] == "2" for r in rows_a])
    assert mirrored["leader_agreement"] == pytest.approx(share_two)
    assert mirrored["spearman_h"] == pytest.approx(1.0) and mirrored["js_divergence"] > 0.05
    assert mirrored["leader_agreement_low"] <= mirrored["leader_agreement"] <= mirrored["leader_agreement_high"]

"""The one run summary: its numbers against an outside oracle (scipy.stats, in the `test` extra)."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from siakit.analysis.summary import summarize_run, wilson_interval


def scipy_auroc(score, positive) -> float:
    """AUROC as the Mann-Whitney U of the positives over n_pos * n_neg (scipy counts ties one half)."""
    score, positive = np.asarray(score, float), np.asarray(positive, bool)
    u = stats.mannwhitneyu(score[positive], score[~positive], alternative="two-sided").statistic
    return float(u) / (positive.sum() * (~positive).sum())


def scipy_wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def scores(n=12, K=3, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        correct = i % 3 == 0
        for k in range(K + 1):
            rows.append({"id": f"t{i}", "k": k, "entropy": float(rng.random() * (0.3 if correct else 1.0)),
                         "gold_logprob": -float(rng.random()), "n_options": 4, "n_steps": K, "correct": correct,
                         "option_probs": None, "leading_option": None, "options": None, "gold": "1"})
    return pd.DataFrame(rows)


def test_wilson_interval_matches_the_closed_form():
    low, high = wilson_interval(3, 10)
    # (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.96
    assert low == pytest.approx(0.10779, abs=1e-4) and high == pytest.approx(0.60323, abs=1e-4)
    assert wilson_interval(0, 16)[0] == 0.0 and wilson_interval(0, 16)[1] > 0.15  # never a point at 0
    assert np.isnan(wilson_interval(0, 0)[0])
    for k, n in [(3, 10), (0, 16), (16, 16), (17, 32), (1, 3)]:  # scipy's z is 1.95996..., ours 1.96
        assert wilson_interval(k, n) == pytest.approx(scipy_wilson(k, n), abs=2e-4)


def test_summary_numbers_equal_direct_computation():
    frame = scores()
    s = summarize_run(frame, n_boot=50)
    final = frame[frame.k == frame.n_steps].set_index("id")
    ok = final["correct"].to_numpy()
    assert s["n_traces"] == 12 and s["n_correct"] == 4 and s["accuracy"] == pytest.approx(4 / 12)
    assert (s["accuracy_low"], s["accuracy_high"]) == pytest.approx(scipy_wilson(4, 12), abs=2e-4)
    assert s["auroc_h_u1"] == pytest.approx(scipy_auroc(-final["entropy"].to_numpy(), ok))
    assert 0.5 < s["auroc_h_u1"] < 1.0  # correct traces end with lower entropy in `scores`, not always
    assert s["auroc_h_u1_low"] <= s["auroc_h_u1"] <= s["auroc_h_u1_high"]
    assert s["h_final_correct"] == pytest.approx(final.loc[ok, "entropy"].mean())
    assert s["s_final_incorrect"] == pytest.approx(-final.loc[~ok, "gold_logprob"].mean())


def test_a_single_class_gives_no_auroc_and_a_json_ready_summary():
    frame = scores().assign(correct=True)
    s = summarize_run(frame, n_boot=10)
    assert s["auroc_h_u1"] is None and s["n_incorrect"] == 0 and s["h_final_incorrect"] is None
    assert all(v is None or isinstance(v, (int, float)) for v in s.values())


def test_tables_on_pages_show_no_nan():
    from siakit.report.figures import readable

    shown = readable(pd.DataFrame({"lock_u": [0.12345, np.nan], "id": ["a", None], "n": [1, 2]}))
    assert shown["lock_u"].tolist() == [0.123, "–"] and shown["id"].tolist() == ["a", "–"]
    assert shown["n"].tolist() == [1, 2]

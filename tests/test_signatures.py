"""Signatures and the early-exit simulation against hand-computed cases (falling, flat, rising curves)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from siakit.analysis.early_exit import exit_step, simulate_early_exit
from siakit.analysis.signatures import (auroc, bootstrap_ci, curve_signatures, curves_on_grid, distribution_profile,
                               lock_in, mean_curves, separability, signature_summary, trace_signatures)

LOG3 = np.log(3)


def entropy(p):
    p = np.asarray(p, float)
    return float(-(p[p > 0] * np.log(p[p > 0])).sum())


def make_scores(traces: dict) -> pd.DataFrame:
    """Scorer-shaped rows from {id: (list of option-probability rows, gold index, correct)}; 3 options."""
    rows = []
    for tid, (probs, gold, correct) in traces.items():
        K = len(probs) - 1
        for k, p in enumerate(probs):
            p = np.asarray(p, float) / np.sum(p)
            rows.append({"id": tid, "k": k, "n_prefix_tokens": 20 + 10 * k, "entropy": entropy(p),
                         "gold_logprob": float(np.log(p[gold])), "option_probs": list(p), "n_options": 3,
                         "estimator": "readout", "cue": "\nThe answer is", "model": "m", "method": "packed",
                         "dataset": "arc-easy", "n_steps": K, "correct": correct,
                         "options": [" A", " B", " C"], "leading_option": " ABC"[1 + int(np.argmax(p))],
                         "gold": "ABC"[gold], "candidates": "given"})
    return pd.DataFrame(rows)


UNIFORM = [1 / 3, 1 / 3, 1 / 3]
FALLING = {"fall": ([UNIFORM, [0.6, 0.2, 0.2], [0.98, 0.01, 0.01], [0.998, 0.001, 0.001]], 0, True)}
FLAT = {"flat": ([UNIFORM] * 4, 0, False)}
RISING = {"rise": ([[0.9, 0.05, 0.05], UNIFORM, [0.05, 0.9, 0.05]], 0, False)}


def test_strictly_falling_curve():
    h = np.array([LOG3, 0.8, 0.3, 0.05])
    s = curve_signatures(h, n_options=3)
    assert s["K"] == 3 and s["lock_step"] == 3 and s["lock_u"] == 1.0  # threshold 0.1*log 3 = 0.11
    assert s["total_drop"] == pytest.approx(LOG3 - 0.05)
    assert s["n_rises"] == 0 and s["monotone"] and s["largest_rise"] == 0.0
    # trapezoid over u = 0, 1/3, 2/3, 1
    assert s["auc"] == pytest.approx((LOG3 / 2 + 0.8 + 0.3 + 0.05 / 2) / 3)
    # h(u=1/2) = (0.8 + 0.3) / 2 by linear interpolation
    assert s["drop_share_first_half"] == pytest.approx((LOG3 - 0.55) / (LOG3 - 0.05))
    # drops 0.30, 0.5, 0.25 against previous entropies 1.10, 0.8, 0.3: least-squares slope
    x, y = np.array([LOG3, 0.8, 0.3]), np.array([LOG3 - 0.8, 0.5, 0.25])
    assert s["saturation_slope"] == pytest.approx(np.polyfit(x, y, 1)[0])


def test_flat_curve_never_locks():
    s = curve_signatures(np.full(5, LOG3), n_options=3)
    assert np.isnan(s["lock_step"]) and not s["locked"]
    assert s["total_drop"] == 0 and s["n_rises"] == 0 and np.isnan(s["drop_share_first_half"])
    assert s["auc"] == pytest.approx(LOG3) and np.isnan(s["saturation_slope"])  # no spread in h_{k-1}


def test_rise_is_a_violation_and_lock_in_restarts():
    h = np.array([1.0, 0.05, 0.6, 0.04, 0.0])
    s = curve_signatures(h, n_options=3)
    assert s["n_rises"] == 1 and not s["monotone"] and s["largest_rise"] == pytest.approx(0.55)
    assert s["lock_step"] == 3  # it dipped below at k=1 but rose again
    assert lock_in(np.array([0.01, 0.02]), 0.1) == 0
    assert curve_signatures(np.array([0.5, 0.52]), 3, eps=0.05)["n_rises"] == 0  # below eps


def test_distribution_profile_by_hand():
    p = np.array([UNIFORM, [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    d = distribution_profile(p)
    assert d["eff_support_0"] == pytest.approx(3.0)
    assert d["leader_switches"] == 2  # A (argmax ties -> first) -> B -> C
    assert d["tv_path_length"] == pytest.approx(0.5 * (abs(0.1 - 1 / 3) * 2 + abs(0.8 - 1 / 3)) + 0.7)
    assert d["leader_lock_u"] == 1.0


def test_trace_signatures_table():
    sigs = trace_signatures(make_scores({**FALLING, **FLAT, **RISING})).set_index("id")
    assert bool(sigs.at["fall", "locked_to_gold"]) and sigs.at["fall", "gold_leads_final"]
    assert not sigs.at["flat", "locked"] and sigs.at["rise", "n_rises"] == 1
    assert not sigs.at["rise", "gold_leads_final"] and sigs.at["rise", "leader_switches"] == 1
    assert sigs.at["fall", "s_final"] == pytest.approx(-np.log(0.998 / 1.0), abs=1e-6)
    assert sigs.at["fall", "reasoning_tokens"] == 30
    wrong_lock = trace_signatures(make_scores({"w": ([UNIFORM, [0.005, 0.99, 0.005]], 0, False)}))
    assert wrong_lock["locked"].iloc[0] and not wrong_lock["locked_to_gold"].iloc[0]  # locked, but to B


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="entropy"):
        trace_signatures(pd.DataFrame({"id": ["a"], "k": [0]}))


def test_auroc_and_separability():
    assert auroc(np.array([3, 2, 1.0]), np.array([1, 0, 0], bool)) == 1.0
    assert auroc(np.array([1, 2, 3.0]), np.array([1, 0, 0], bool)) == 0.0
    assert np.isnan(auroc(np.array([1.0, 2.0]), np.array([True, True])))
    sep = separability(make_scores({**FALLING, **FLAT, **RISING}), n_points=3, n_boot=20)
    assert sep["auroc_entropy"].iloc[-1] == 1.0  # at u = 1 the correct trace has the lowest entropy
    assert sep["auroc_entropy"].iloc[0] == pytest.approx(0.25)  # u=0: ties flat, "rise" starts surer
    only_wrong = separability(make_scores(FLAT), n_points=3, n_boot=5)
    assert only_wrong["auroc_entropy"].isna().all() and (only_wrong["n_correct"] == 0).all()


def test_curves_bands_and_summary_handle_empty_groups():
    scores = make_scores({**FLAT, **RISING})  # no correct trace at all
    u, values, labels = curves_on_grid(scores, n_points=5)
    assert values.shape == (2, 5) and values[0] == pytest.approx(np.full(5, LOG3))
    bands = mean_curves(scores, n_points=5, n_boot=50)
    assert set(bands["group"]) == {"all", "incorrect"}
    table = signature_summary(trace_signatures(scores), n_boot=50).set_index("signature")
    assert table.at["h_final", "correct_n"] == 0 and np.isnan(table.at["h_final", "correct"])


def test_bootstrap_is_seeded_and_covers_the_mean():
    x = np.random.default_rng(1).normal(size=200)
    a, b = bootstrap_ci(x, seed=3), bootstrap_ci(x, seed=3)
    assert a == b and a[1] < x.mean() < a[2] and a[0] == pytest.approx(x.mean())
    assert np.isnan(bootstrap_ci([])[0]) and np.isnan(bootstrap_ci([1.0])[1])


def test_early_exit_on_a_constructed_case():
    assert exit_step(np.array([1.0, 0.3, 0.05]), 0.5) == 1 and exit_step(np.array([1.0]), 0.5) is None
    scores = make_scores({**FALLING, **FLAT, **RISING})
    table = simulate_early_exit(scores, thresholds=[0.0, 0.5, 1.01], relative=True).set_index("threshold")
    # tau = 0: nobody exits; accuracy is the traces' own (1 of 3)
    assert table.at[0.0, "accuracy"] == pytest.approx(1 / 3) and table.at[0.0, "tokens_saved"] == 0
    # tau = 0.5 log 3 = 0.55 nats: "fall" exits at k=2 (h = 0.11) with gold A leading; "rise" exits at
    # k=0 (h = 0.39) with A leading = gold, so it becomes right; "flat" never exits.
    assert table.at[0.5, "accuracy"] == pytest.approx(2 / 3) and table.at[0.5, "exit_rate"] == pytest.approx(2 / 3)
    assert table.at[0.5, "tokens_saved"] == pytest.approx((10 + 20) / (30 + 30 + 20))
    # tau above log 3: every trace exits at k = 0 and answers with its initial leader (A for all three)
    assert table.at[1.01, "accuracy"] == 1.0 and table.at[1.01, "tokens_saved"] == 1.0
    nats = simulate_early_exit(scores, thresholds=[0.5], relative=False)
    assert nats["accuracy"].iloc[0] == pytest.approx(2 / 3)  # 0.5 nats: same exits as above here


def test_fixed_exit_baseline_cuts_at_a_token_budget():
    from siakit.analysis.early_exit import simulate_fixed_exit

    # "fall": K = 3, prefix tokens 0/10/20/30 (after the prompt); "rise": K = 2, 0/10/20
    table = simulate_fixed_exit(make_scores({**FALLING, **RISING}), budgets=[0, 15, 20, 100]).set_index("threshold")
    # budget 0: both stop at k = 0 where A leads (uniform ties go to A, the first option) -> both right
    assert table.at[0.0, "accuracy"] == 1.0 and table.at[0.0, "tokens_saved"] == 1.0
    # budget 15: both cut at k = 1 (10 tokens); "fall" leads with A (right), "rise" is uniform -> A (right)
    assert table.at[15.0, "accuracy"] == 1.0 and table.at[15.0, "tokens_saved"] == pytest.approx((15 + 5) / 50)
    # budget 20: "rise" (20 tokens) finishes and keeps its own (wrong) answer; "fall" cut at k = 2
    assert table.at[20.0, "accuracy"] == 0.5 and table.at[20.0, "exit_rate"] == 0.5
    assert table.at[100.0, "accuracy"] == 0.5 and table.at[100.0, "exit_rate"] == 0.0  # own answers


def test_early_exit_refuses_sets_that_knew_the_answer():
    scores = make_scores(FALLING)
    with pytest.raises(ValueError, match="prefix only"):
        simulate_early_exit(scores.drop(columns="candidates"))
    with pytest.raises(ValueError, match="posthoc"):
        simulate_early_exit(scores.assign(candidates="posthoc"))
    # given up front: fine for multiple-choice labels (above), refused for a set of numbers (may hold the gold)
    numeric = scores.assign(options=[[" 72", " 48", " 24"]] * len(scores))
    with pytest.raises(ValueError, match="'given' candidate sets of numbers"):
        simulate_early_exit(numeric)


def test_early_exit_uses_each_prefix_set_and_skips_undefined_h():
    """|S_k| grows with k: the relative threshold is tau * log|S_k| at each k; NaN h_k never exits."""
    rows = []
    for k, (h, n, lead) in enumerate([(np.nan, 1, "7"), (0.5, 2, "7"), (0.5, 4, "9"), (0.01, 4, "9")]):
        rows.append({"id": "t", "k": k, "n_prefix_tokens": 10 * k, "entropy": h, "n_options": n,
                     "n_steps": 3, "correct": True, "gold": "9", "leading_option": lead, "candidates": "prefix"})
    scores = pd.DataFrame(rows)
    # tau = 0.5: thresholds nan-skip, 0.35 (log 2 * .5), 0.69 (log 4 * .5): exits at k = 2, leader 9 = gold
    table = simulate_early_exit(scores, thresholds=[0.5, 0.8]).set_index("threshold")
    assert table.at[0.5, "accuracy"] == 1.0 and table.at[0.5, "mean_exit_u"] == pytest.approx(2 / 3)
    # tau = 0.8: 0.55 at k = 1 > 0.5 -> exits at k = 1 with 7 leading: wrong
    assert table.at[0.8, "accuracy"] == 0.0 and table.at[0.8, "mean_exit_u"] == pytest.approx(1 / 3)


def test_saturation_against_the_increment_shuffle_null():
    from siakit.analysis.bridge import shuffled_null

    rng = np.random.default_rng(0)
    noise = [curve_signatures(0.7 + 0.1 * rng.standard_normal(8), 3) for _ in range(400)]
    raw = np.array([s["saturation_slope"] for s in noise])
    excess = np.array([s["saturation_excess"] for s in noise])
    assert raw.mean() > 0.9 and (raw > 0).mean() > 0.95  # the raw slope: positive by construction
    assert abs(excess.mean()) < 0.5 * raw.mean()          # the null removes most of it
    line = curve_signatures(np.linspace(1, 0, 8), 3)
    assert line["saturation_excess"] == pytest.approx(0.0, abs=1e-9)  # every order of equal drops is the same line
    halving = curve_signatures(1.1 * 0.5 ** np.arange(8), 3)
    assert halving["saturation_excess"] > 0.3               # drops that shrink near 0: positive excess
    # one null everywhere: the run pages' signature is the theory chapter's statistic minus its null
    stat, null = shuffled_null(1.1 * 0.5 ** np.arange(8))
    assert halving["saturation_excess"] == pytest.approx(stat - null)


def test_drop_share_stays_a_share_when_the_curve_rises():
    # falls 0.9 (u <= 1/2, via h(1/2) = 0.1) then a rise to 0.9 and a fall 0.9 -> 0.5: share 0.9 / 1.3
    s = curve_signatures(np.array([1.0, 0.1, 0.9, 0.5]), 3)["drop_share_first_half"]
    assert s == pytest.approx(0.9 / 1.3)
    # the old ratio (h_0 - h(1/2)) / (h_0 - h_K) was 0.9 / 0.5 = 1.8 here
    assert 0 <= curve_signatures(np.array([1.0, 0.0, 0.0, 0.9, 0.8]), 3)["drop_share_first_half"] <= 1


def test_drop_share_needs_a_positive_total_drop():
    assert np.isnan(curve_signatures(np.array([0.2, 0.9, 0.5]), 3)["drop_share_first_half"])  # total < 0
    assert np.isnan(curve_signatures(np.array([0.5, 0.1, 0.5]), 3)["drop_share_first_half"])  # total = 0


def test_ties_never_favour_the_gold():
    from siakit.analysis.signatures import gold_leads

    probs = pd.DataFrame({"option_probs": [[0.5, 0.5], [0.6, 0.4]], "gold_logprob": np.log([0.5, 0.6])})
    assert gold_leads(probs).tolist() == [False, True]  # without leading_option a tie is no lead
    named = pd.DataFrame({"leading_option": ["A", None], "gold": ["B", "B"]})
    assert gold_leads(named).tolist() == [False, False]


def test_signatures_over_sets_that_change_with_k():
    rows = []
    sets = [([" 3", " 5"], [0.5, 0.5]), ([" 3", " 5", " 8"], [0.1, 0.1, 0.8]), ([" 5", " 8"], [0.005, 0.995])]
    for k, (opts, p) in enumerate(sets):
        p = np.asarray(p)
        rows.append({"id": "v", "k": k, "n_prefix_tokens": 10 * k, "entropy": entropy(p), "n_options": len(opts),
                     "options": opts, "option_probs": list(p), "gold_logprob": float(np.log(p[-1])), "n_steps": 2,
                     "correct": True, "gold": "8", "leading_option": opts[int(np.argmax(p))].strip(),
                     "coverage": 0.5 + 0.2 * k, "candidates": "prefix"})
    sig = trace_signatures(pd.DataFrame(rows)).iloc[0]
    assert sig["leader_switches"] == 1 and sig["gold_leads_final"] and sig["locked_to_gold"]
    assert sig["lock_threshold"] == pytest.approx(0.1 * np.log(2)) and sig["coverage_final"] == pytest.approx(0.9)
    # the union (3, 5, 8): TV path 0.5 * (0.4 + 0.4 + 0.8) + 0.5 * (0.1 + 0.095 + 0.195)
    assert sig["tv_path_length"] == pytest.approx(0.8 + 0.195)


def test_matched_comparison_interpolates_the_baseline():
    from siakit.analysis.early_exit import matched_comparison

    entropy_rule = pd.DataFrame({"threshold": [0.1, 0.5], "tokens_saved": [0.25, 0.75], "accuracy": [0.5, 0.4]})
    fixed = pd.DataFrame({"tokens_saved": [1.0, 0.0], "accuracy": [0.2, 0.6]})  # unsorted on purpose
    out = matched_comparison(entropy_rule, fixed)
    assert out["fixed_accuracy"].tolist() == pytest.approx([0.5, 0.3])
    assert out["advantage"].tolist() == pytest.approx([0.0, 0.1])

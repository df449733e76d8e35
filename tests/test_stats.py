"""siakit.analysis.stats against closed forms and hand-computed cases."""
import itertools
import math

import numpy as np
import pytest

from siakit.analysis import stats as S


def test_auroc_equals_pair_count_by_hand():
    score = np.array([0.9, 0.4, 0.4, 0.1, 0.7])
    pos = np.array([True, True, False, False, False])
    pairs = [(a, b) for a, b in itertools.product(score[pos], score[~pos])]
    by_hand = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs])
    assert S.auroc(score, pos) == pytest.approx(by_hand) == pytest.approx(4.5 / 6)
    assert math.isnan(S.auroc([1.0, 2.0], [True, True]))


def test_stratified_auroc_ignores_what_only_the_stratum_knows():
    # within each stratum the score is uninformative; pooled, it separates (difficulty confound)
    score = np.r_[np.full(10, 1.0), np.full(10, 0.0)]
    pos = np.r_[np.ones(8, bool), np.zeros(2, bool), np.ones(2, bool), np.zeros(8, bool)]
    strata = np.r_[np.zeros(10), np.ones(10)]
    assert S.auroc(score, pos) == pytest.approx(0.8)   # (64 wins + 16 ties / 2) / 100 pairs
    assert S.stratified_auroc(score, pos, strata) == pytest.approx(0.5)
    r = S.auroc_ci(score, pos, strata=strata, n_boot=200)
    assert r["auroc"] == pytest.approx(0.5) and r["low"] <= 0.5 <= r["high"] and r["p"] > 0.5


def test_auroc_ci_covers_and_clusters_resample_whole_groups():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.5
    x = rng.normal(size=400) + 1.0 * y                     # true AUROC = Phi(1 / sqrt 2) = 0.760
    r = S.auroc_ci(x, y, n_boot=300)
    assert r["low"] < 0.760 < r["high"] and r["half_width"] < 0.07 and r["p"] < 0.01
    # duplicated units in one cluster: the cluster bootstrap is wider than the naive one
    xx, yy, cl = np.r_[x, x], np.r_[y, y], np.r_[np.arange(400), np.arange(400)]
    naive, clustered = S.auroc_ci(xx, yy, n_boot=300), S.auroc_ci(xx, yy, clusters=cl, n_boot=300)
    assert clustered["half_width"] > 1.2 * naive["half_width"]


def test_wilson_and_proportion():
    low, high = S.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert S.proportion_ci(17, 32)[0] == 17 / 32 and math.isnan(S.proportion_ci(0, 0)[0])


def test_paired_bootstrap_diff_and_p():
    a = np.r_[np.zeros(50), np.ones(50)]
    assert S.paired_bootstrap_diff(a, a, n_boot=100)["diff"] == 0.0
    r = S.paired_bootstrap_diff(np.zeros(100), a, n_boot=500)
    assert r["diff"] == 0.5 and 0.39 < r["low"] < 0.5 < r["high"] < 0.61 and r["p"] == pytest.approx(1 / 501)
    with pytest.raises(ValueError, match="pair up"):
        S.paired_bootstrap_diff([1, 2], [1])
    # pairing matters: a shared per-problem effect cancels in the paired difference
    rng = np.random.default_rng(1)
    base = rng.normal(0, 5, 200)
    paired = S.paired_bootstrap_diff(base, base + 0.3 + rng.normal(0, 0.1, 200), n_boot=300)
    assert paired["low"] > 0.2 and paired["high"] < 0.4


def test_paired_auroc_diff_by_hand():
    r = S.paired_auroc_diff([1, 0, 1, 0], [True, False, True, False], [0, 1, 0, 1], [True, False, True, False],
                            n_boot=100)
    assert (r["auroc_a"], r["auroc_b"], r["diff"]) == (1.0, 0.0, -1.0)


def test_bootstrap_p_and_half_width_planning():
    assert S.bootstrap_p([0.6, 0.7, 0.8], 0.5) == pytest.approx(0.25)   # floor 1/(B+1)
    assert S.bootstrap_p([0.4, 0.6], 0.5) == 1.0
    assert 0.05 < S.auroc_half_width(100, 100) < 0.08

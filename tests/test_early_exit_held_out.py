"""early_exit.held_out_threshold: the threshold is chosen on one half of the traces and judged on the other."""
import numpy as np
import pandas as pd
import pytest

from siakit.analysis.early_exit import held_out_threshold, matched_comparison, simulate_early_exit, simulate_fixed_exit
from test_signatures import FALLING, FLAT, UNIFORM, make_scores


def _traces(n: int) -> dict:
    """n copies of a falling correct trace and n of a flat incorrect one (gold A, leader A everywhere)."""
    fall, flat = FALLING["fall"], FLAT["flat"]
    return {**{f"fall{i}": fall for i in range(n)}, **{f"flat{i}": flat for i in range(n)}}


def test_threshold_is_chosen_on_one_half_and_measured_on_the_other():
    scores = make_scores(_traces(4))
    out = held_out_threshold(scores, thresholds=[0.0, 0.5], seed=0)
    assert out["n_choose"] == 4 and out["n_test"] == 4
    choose_ids = set(sorted(scores["id"].unique())[i] for i in np.random.default_rng(0).permutation(8)[:4])
    test = scores[~scores["id"].isin(choose_ids)]
    # the test half's own numbers at the chosen threshold, recomputed here
    expect = matched_comparison(simulate_early_exit(test, [out["threshold"]]), simulate_fixed_exit(test)).iloc[0]
    assert out["accuracy"] == pytest.approx(expect["accuracy"])
    assert out["advantage"] == pytest.approx(expect["advantage"])
    assert out["threshold"] in (0.0, 0.5)


def test_too_few_traces_is_a_clear_error():
    with pytest.raises(ValueError, match="held_out_threshold: scores has 2 traces"):
        held_out_threshold(make_scores(_traces(1)))

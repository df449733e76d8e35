"""toy.evaluate.bayes_gap averages |h_k - Bayes| per prefix, so opposite errors do not cancel."""
import pandas as pd

from siakit.training.toy.evaluate import bayes_gap


def test_bayes_gap_is_a_mean_of_absolute_differences():
    df = pd.DataFrame({"k": [0, 0, 1, 1], "entropy": [1.0, 0.0, 0.2, 0.4],
                       "bayes_entropy": [0.5, 0.5, 0.3, 0.3]})
    gap = bayes_gap(df)
    assert gap[0] == 0.5          # |mean - mean| would give 0 here
    assert abs(gap[1] - 0.1) < 1e-12
    assert abs(gap["all"] - 0.3) < 1e-12

"""The symmetric verdict rules and Holm's correction."""
import numpy as np
import pytest

from siakit.analysis.verdicts import combine_verdicts, family_verdicts, holm, interval_verdict


def test_interval_verdict_is_symmetric():
    assert interval_verdict(0.55, 0.7) == "supports"
    assert interval_verdict(0.3, 0.45) == "contradicts"
    assert interval_verdict(0.498, 0.528) == "inconclusive"      # "not above 0.5" contradicts nothing
    assert interval_verdict(-2.0, -1.0, null=0.0, direction=-1) == "supports"
    assert interval_verdict(float("nan"), 1.0) == "inconclusive"
    with pytest.raises(ValueError, match="direction"):
        interval_verdict(0, 1, direction=0)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert np.allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert np.allclose(holm([0.5, np.nan, 0.01]), [0.5, np.nan, 0.02], equal_nan=True)


def test_family_verdicts_correct_for_the_family():
    rows = [{"claim": "a", "estimate": 0.8, "null": 0.5, "p": 0.02},
            {"claim": "b", "estimate": 0.3, "null": 0.5, "p": 0.001},
            {"claim": "c", "estimate": 0.6, "null": 0.5, "p": 0.03}]
    t = family_verdicts(rows)
    # alone, a (p = 0.02) would support; in a family of 3 its Holm p is 0.04 < 0.05, c's is 0.04 -> both pass
    assert t["verdict"].tolist() == ["supports", "contradicts", "supports"]
    t = family_verdicts(rows + [{"claim": "d", "estimate": 0.55, "null": 0.5, "p": 0.2}])
    assert t["verdict"].tolist() == ["inconclusive", "contradicts", "inconclusive", "inconclusive"]
    assert (t["family"] == 4).all()


def test_combine_needs_equal_strength_both_ways():
    assert combine_verdicts(["supports", "supports"]) == "supports"
    assert combine_verdicts(["contradicts", "contradicts"]) == "contradicts"
    assert combine_verdicts(["inconclusive", "contradicts"]) == "inconclusive"
    with pytest.raises(ValueError):
        combine_verdicts(["maybe"])

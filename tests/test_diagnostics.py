"""Run diagnostics: cut-at-cap traces, short traces, answer histogram, leader agreement."""
import pandas as pd

from siakit.analysis.diagnostics import is_cut, run_diagnostics, usable_ids
from siakit.data.traces import Trace


def _t(id, steps, answer, n_new):
    return Trace(id=id, prompt="p", steps=["s"] * steps, answer=answer, meta={"n_new_tokens": n_new})


def test_diagnostics_count_what_they_say():
    traces = [_t("a", 4, "24", 160), _t("b", 1, "3", 20), _t("c", 5, None, 80), _t("d", 3, "D", 40)]
    scores = pd.DataFrame([{"id": "a", "k": 0, "leading_option": "3"}, {"id": "a", "k": 4, "leading_option": "24.0"},
                           {"id": "b", "k": 1, "leading_option": "2"}, {"id": "c", "k": 5, "leading_option": "7"},
                           {"id": "d", "k": 3, "leading_option": "d"}])
    d = run_diagnostics(traces, scores, max_new_tokens=160)
    assert d["cut_ids"] == ["a"] and d["share_cut"] == 0.25
    assert d["n_short"] == 1 and d["answer_counts"] == {"24": 1, "3": 1, "none": 1, "D": 1}
    # a: 24.0 == 24 (numbers normalised); b: 2 != 3; d: letters case-insensitive; c has no answer
    assert d["n_leader_compared"] == 3 and d["leader_agrees"] == 2 / 3


def test_cut_traces_are_left_out_unless_asked():
    traces = [_t("a", 4, "1", 160), _t("b", 4, "1", 159)]
    assert is_cut(traces[0], 160) and not is_cut(traces[1], 160) and not is_cut(traces[0], None)
    assert usable_ids(traces, 160) == {"b"} and usable_ids(traces, 160, include_cut=True) == {"a", "b"}


def test_answer_mass_splits_enumerates_mass_by_where_the_prefix_is():
    from siakit.analysis.diagnostics import answer_mass

    rows = [(0, 0.9, 0.1, 0.0, 1.0, 1.0), (1, 0.6, 0.3, 0.1, 0.5, 2.5), (2, 0.8, 0.195, 0.005, 0.2, 0.3)]
    scores = pd.DataFrame([{"id": "a", "k": k, "n_steps": 2, "enumerated_mass": e, "non_numeric_mass": n,
                            "unexplored_mass": u, "entropy_low": lo, "entropy_high": hi}
                           for k, e, n, u, lo, hi in rows])
    table = answer_mass(scores).set_index("prefixes")
    assert table.loc["prompt (k = 0)", "enumerated"] == 0.9 and table.loc["prompt (k = 0)", "non-numeric"] == 0.1
    assert table.loc["prompt (k = 0)", "n"] == 1
    mid = table.loc["mid-trace (0 < k < K)"]
    assert mid["unexplored"] == 0.1 and mid["budget stopped (share)"] == 1.0 and mid["h interval width (nats)"] == 2.0
    last = table.loc["after the last step (k = K)"]
    assert last["budget stopped (share)"] == 0.0 and abs(last["h interval width (nats)"] - 0.1) < 1e-12
    assert answer_mass(scores.drop(columns="unexplored_mass")) is None  # readout rows: no masses

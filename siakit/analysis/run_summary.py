"""One run summary for every page: the run page, "Across runs" and the runs index read the same numbers.

The rule for traces cut at the token cap is applied here once: they are left out of the signatures
(unless `include_cut`) and counted (`n_cut_left_out`), while accuracy is over every trace. The run page
computes its summary with `summarize_kept`; "Across runs" calls
`siakit.experiment.summaries.stored_run_summary` on each stored run, which reads the traces, scores
and `max_new_tokens` from the results store and calls the same function, so the two agree by
construction (tests/test_run_summary.py checks it on stored runs).

    >>> s = summarize_kept(scores, traces, max_new_tokens=160)   # t3 was cut at 160 tokens
    >>> s["accuracy"], s["n_cut_left_out"], s["n_scored"], s["lock_in_rate"]   # accuracy over all four
    (0.5, 1, 3, 0.0)
"""
from __future__ import annotations


import pandas as pd

from siakit.analysis.diagnostics import usable_ids
from siakit.analysis.summary import summarize_run


def summarize_kept(scores: pd.DataFrame, traces, max_new_tokens: int | None, include_cut: bool = False) -> dict:
    """`summarize_run` of the scores of the traces the signatures read (cut ones left out unless
    `include_cut`), accuracy over all `traces`; adds `n_cut_left_out`. `scores`: one estimator."""
    traces = list(traces)
    keep = usable_ids(traces, max_new_tokens, include_cut)
    kept = scores[scores["id"].astype(str).isin(keep)].reset_index(drop=True) if len(scores) else scores
    return {**summarize_run(kept, traces), "n_cut_left_out": len(traces) - len(keep)}

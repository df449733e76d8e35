"""Signatures of conditional-answer-entropy curves (our operational definitions; see the theory chapter).

Input is the scorer's long table: one row per (trace id, k), `k = 0..K` (`k = 0` is the empty prefix),
with `entropy` = h_k in nats, `gold_logprob` = log p(a* | Q, C_{1:k}) (so s_k = -gold_logprob),
`option_probs` (the answer distribution, a list per row), `n_options` = |A|, `n_steps` = K and
`correct` (the trace's own graded answer). Everything here is pure numpy/pandas: no model code.

    >>> import pandas as pd
    >>> scores = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 3, "k": [0, 1, 2] * 2, "n_options": 3, "n_steps": 2,
    ...                        "entropy": [1.1, 0.6, 0.01, 1.1, 1.0, 1.0], "correct": [True] * 3 + [False] * 3})
    >>> sigs = trace_signatures(scores)   # one row per trace
    >>> print(sigs[["id", "lock_step", "total_drop", "n_rises"]].round(2).to_string(index=False))
    id  lock_step  total_drop  n_rises
     a        2.0        1.09        0
     b        NaN        0.10        0

One module per family: `curve` (the shape of one curve: lock-in, drop, rises, saturation),
`distribution` (the answer distribution's profile and whether the gold leads), `table` (one row per
trace), `grid` (curves over normalised time: means and separability) and `summary` (group means).
"""
from siakit.analysis.signatures.curve import (LOCK_FRACTION, REQUIRED, RISE_EPS, check_scores,
                                              curve_signatures, lock_in)
from siakit.analysis.signatures.distribution import distribution_profile, gold_leads, union_probs
from siakit.analysis.signatures.grid import GridCurves, curves_on_grid, mean_curves, separability
from siakit.analysis.signatures.summary import SUMMARY_COLUMNS, signature_summary
from siakit.analysis.signatures.table import trace_signatures
from siakit.analysis.stats import auroc, bootstrap_ci  # noqa: F401  (re-exported: older imports)

__all__ = ["GridCurves", "LOCK_FRACTION", "REQUIRED", "RISE_EPS", "SUMMARY_COLUMNS", "auroc", "bootstrap_ci", "check_scores",
           "curve_signatures", "curves_on_grid", "distribution_profile", "gold_leads", "lock_in", "mean_curves",
           "separability", "signature_summary", "trace_signatures", "union_probs"]

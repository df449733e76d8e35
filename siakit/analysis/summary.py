"""The one run summary: every page that reports a run (the experiment page, the runs index, the
cross-run figures, the SFT and toy chapters) computes its numbers here, under one vocabulary.

    >>> s = summarize_run(scores)                 # scores: one row per (trace id, k) of one estimator
    >>> s["accuracy"], s["auroc_h_u1"], s["auroc_h_u05"], s["lock_in_rate"]   # 2 of 4 traces correct
    (0.5, 1.0, 0.75, 0.0)
    >>> round(s["accuracy_low"], 3), round(s["accuracy_high"], 3)            # Wilson 95% interval
    (0.15, 0.85)

Keys (all plain floats/ints/None, JSON-ready; NaN becomes None):
- `n_traces`, `n_correct`, `n_incorrect`; `accuracy` with its 95% Wilson interval
  (`accuracy_low`, `accuracy_high`): over `traces` when given, else over the scored traces;
  `n_scored`: traces in `scores` (what every signature below is computed on);
- `h_final_correct` / `h_final_incorrect` (mean h_K, nats), `s_final_correct` / `s_final_incorrect`;
- `auroc_h_u05`, `auroc_h_u1`: AUROC of -h at u = 1/2 and u = 1 (u = 1 is -h_K itself), each with
  a 95% bootstrap interval over traces (`_low`, `_high`; `n_boot` seeded resamples), and
  `auroc_s_u05`, `auroc_s_u1` for -s (gold surprisal) with theirs; 0.5 is chance, None with a single class;
- `lock_in_rate`, `locked_to_gold_rate`, `monotone_rate`, and lock-in by group (`locked_correct`,
  `locked_incorrect`, `lock_u_correct`, `lock_u_incorrect`);
- `n_steps` (mean K), `n_options` (mean |A|); with `traces`: `parsed` (share with an answer) and
  `new_tokens` (mean generated tokens).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from siakit.analysis.signatures import separability, trace_signatures
from siakit.analysis.stats import wilson_interval  # noqa: F401  (re-exported: older imports)


def _num(x):
    """A plain JSON number, or None for NaN/missing."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _surprisal_aurocs(sep: pd.DataFrame, n_points: int) -> dict:
    """`auroc_s_u05` and the intervals of both surprisal AUROCs (None without a gold column)."""
    if "auroc_surprisal" not in sep:
        return {}
    out = {}
    for name, j in (("u05", n_points // 2), ("u1", -1)):
        for tag in ("", "_low", "_high"):
            out[f"auroc_s_{name}{tag}"] = _num(sep[f"auroc_surprisal{tag}"].iloc[j])
    return out


def _group_mean(sigs: pd.DataFrame, mask, column: str):
    part = sigs.loc[mask, column]
    return _num(part.mean()) if len(part) else None


def summarize_run(scores: pd.DataFrame, traces=None, n_points: int = 11, n_boot: int = 200, seed: int = 0) -> dict:
    """Summary numbers of one run's scores (one estimator); see the module docstring for the keys."""
    if not len(scores):
        return {"n_traces": 0}
    sigs = trace_signatures(scores)
    ok = sigs["correct"].fillna(False).astype(bool).to_numpy()
    # accuracy over every trace when they are given (the scores may leave some out, e.g. cut ones)
    graded = np.array([bool(t.correct) for t in traces]) if traces is not None else ok
    acc, (low, high) = float(graded.mean()), wilson_interval(int(graded.sum()), len(graded))
    sep = separability(scores, n_points=n_points, n_boot=n_boot, seed=seed)
    out = {"n_traces": int(len(graded)), "n_correct": int(graded.sum()), "n_incorrect": int((~graded).sum()),
           "n_scored": int(len(sigs)),
           "accuracy": _num(acc), "accuracy_low": _num(low), "accuracy_high": _num(high),
           "n_steps": _num(sigs["K"].mean()), "n_options": _num(sigs["n_options"].mean()),
           "auroc_h_u05": _num(sep["auroc_entropy"].iloc[n_points // 2]),
           "auroc_h_u05_low": _num(sep["auroc_entropy_low"].iloc[n_points // 2]),
           "auroc_h_u05_high": _num(sep["auroc_entropy_high"].iloc[n_points // 2]),
           "auroc_h_u1": _num(sep["auroc_entropy"].iloc[-1]),
           "auroc_h_u1_low": _num(sep["auroc_entropy_low"].iloc[-1]),
           "auroc_h_u1_high": _num(sep["auroc_entropy_high"].iloc[-1]),
           "auroc_s_u1": _num(sep["auroc_surprisal"].iloc[-1]) if "auroc_surprisal" in sep else None,
           **_surprisal_aurocs(sep, n_points),
           "lock_in_rate": _num(sigs["locked"].mean()),
           "locked_to_gold_rate": _num(sigs["locked_to_gold"].mean()),
           "monotone_rate": _num(sigs["monotone"].mean())}
    for name, mask in (("correct", ok), ("incorrect", ~ok)):
        out[f"h_final_{name}"] = _group_mean(sigs, mask, "h_final")
        out[f"s_final_{name}"] = _group_mean(sigs, mask, "s_final")
        out[f"locked_{name}"] = _group_mean(sigs, mask, "locked")
        locked = mask & sigs["locked"].fillna(False).astype(bool).to_numpy()
        out[f"lock_u_{name}"] = _group_mean(sigs, locked, "lock_u") if locked.any() else None
    if traces is not None:
        traces = list(traces)
        out["parsed"] = _num(np.mean([t.answer is not None for t in traces])) if traces else None
        tokens = [t.meta.get("n_new_tokens") for t in traces if t.meta.get("n_new_tokens") is not None]
        out["new_tokens"] = _num(np.mean(tokens)) if tokens else None
    return out

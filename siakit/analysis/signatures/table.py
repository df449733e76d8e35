"""One row of signatures per trace: the curve's shape, the answer distribution's profile, the gold
surprisal at both ends and the labels (see the package docstring for the input table).
"""
from __future__ import annotations

import pandas as pd

from siakit.analysis.signatures.curve import LOCK_FRACTION, RISE_EPS, check_scores, curve_signatures
from siakit.analysis.signatures.distribution import distribution_profile, gold_leads, union_probs

def trace_signatures(scores: pd.DataFrame, lock_fraction: float = LOCK_FRACTION,
                     eps: float = RISE_EPS, seed: int = 0) -> pd.DataFrame:
    """One row per trace: `curve_signatures` + `distribution_profile` + gold surprisal ends + labels.

    Extra columns: `locked_to_gold` (the gold answer leads at the lock-in step), `gold_leads_final`,
    `s_0`, `s_final` (gold surprisal, nats), `reasoning_tokens` (prefix tokens added by the K steps),
    `coverage_final` (total terminated probability of S_K) when the scorer wrote coverage.
    The lock threshold is a share of log|S_k| per prefix (`n_options` per row).
    """
    scores = check_scores(scores)
    leads = gold_leads(scores).to_numpy()
    rows = []
    for tid, g in scores.groupby("id", sort=False):
        idx = g.index.to_numpy()
        h = g["entropy"].to_numpy(float)
        n_opt = g["n_options"].to_numpy(float)
        row = {"id": tid, "correct": g["correct"].iloc[0], "n_options": int(n_opt[-1])}
        for col in ("model", "dataset", "estimator"):
            if col in g:
                row[col] = g[col].iloc[0]
        row.update(curve_signatures(h, n_opt, lock_fraction, eps, seed=seed))
        probs = union_probs(g)
        if probs is not None:
            row.update(distribution_profile(probs))
        if "coverage" in g:
            row["coverage_final"] = float(g["coverage"].iloc[-1])
        if "gold_logprob" in g:
            s = -g["gold_logprob"].to_numpy(float)
            row["s_0"], row["s_final"] = float(s[0]), float(s[-1])
        row["gold_leads_final"] = bool(leads[idx[-1]])
        row["locked_to_gold"] = bool(row["locked"] and leads[idx[int(row["lock_step"])]])
        if "n_prefix_tokens" in g:
            row["reasoning_tokens"] = int(g["n_prefix_tokens"].iloc[-1] - g["n_prefix_tokens"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)

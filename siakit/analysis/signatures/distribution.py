"""The answer distribution along a trace: its profile (effective support, leader switches, total-variation
path, leader lock), whether the gold answer leads, and a trace's distributions over one answer set.

    distribution_profile(np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.1, 0.9]]))
    -> {"leader_switches": 1, "tv_path_length": 1.2, "leader_lock_u": 0.667, ...}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

def distribution_profile(probs: np.ndarray) -> dict:
    """Answer-distribution trajectory of one trace: `probs` has shape [K+1, |A|] (rows sum to 1).

    Effective support e^{h_k} at the start and the end, number of switches of the leading answer,
    total-variation path length sum_k TV(p_k, p_{k-1}), and the leader-lock step (first k after which
    the leading answer never changes) in normalised time.
    >>> p = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.1, 0.9]])
    >>> d = distribution_profile(p)
    >>> d["leader_switches"], round(d["tv_path_length"], 2), d["leader_lock_u"]
    (1, 1.2, 0.6666666666666666)
    """
    p = np.asarray(probs, float)
    K = len(p) - 1
    logs = np.log(np.where(p > 0, p, 1.0))
    h = -(p * logs).sum(axis=1)
    leader = p.argmax(axis=1)
    changes = np.flatnonzero(leader[1:] != leader[:-1]) + 1  # steps where the leader differs from before
    lock = int(changes[-1]) if len(changes) else 0
    return {
        "eff_support_0": float(np.exp(h[0])), "eff_support_final": float(np.exp(h[-1])),
        "leader_switches": int(len(changes)),
        "tv_path_length": float(0.5 * np.abs(np.diff(p, axis=0)).sum()) if K > 0 else 0.0,
        "leader_lock_u": lock / max(K, 1),
    }


def gold_leads(scores: pd.DataFrame) -> pd.Series:
    """Per row: is the gold answer the leading option? Uses `leading_option` against `gold` when both
    are present (the scorer breaks ties by the set's own order, never by the gold); else the gold's
    probability exp(gold_logprob) must beat every other option STRICTLY (a tie is not a lead, so
    ties never favour the gold)."""
    if "gold" in scores.columns and "leading_option" in scores.columns:
        lead = scores["leading_option"]
        return lead.notna() & (lead.astype(str).str.strip() == scores["gold"].astype(str).str.strip())
    if "gold_logprob" not in scores.columns or "option_probs" not in scores.columns:
        return pd.Series(False, index=scores.index)

    def strict(row):
        p = row["option_probs"]
        if p is None or not len(p) or not np.isfinite(row["gold_logprob"]):
            return False
        p = np.sort(np.asarray(p, float))[::-1]
        g = np.exp(float(row["gold_logprob"]))
        return bool(g >= p[0] - 1e-9 and (len(p) < 2 or p[1] < p[0] - 1e-9))

    return scores.apply(strict, axis=1).astype(bool)


def union_probs(g: pd.DataFrame) -> np.ndarray | None:
    """A trace's answer distributions [K+1, |U|] over the union of its per-prefix sets (an option
    missing from S_k has probability 0 there), or None without usable option columns."""
    if "option_probs" not in g or not all(p is not None and len(p) for p in g["option_probs"]):
        return None
    if "options" not in g or g["options"].isna().any():
        return np.stack([np.asarray(p, float) for p in g["option_probs"]]) \
            if len({len(p) for p in g["option_probs"]}) == 1 else None
    union = list(dict.fromkeys(str(o) for opts in g["options"] for o in opts))
    where = {o: i for i, o in enumerate(union)}
    out = np.zeros((len(g), len(union)))
    for r, (opts, p) in enumerate(zip(g["options"], g["option_probs"])):
        out[r, [where[str(o)] for o in opts]] = np.asarray(p, float)
    return out

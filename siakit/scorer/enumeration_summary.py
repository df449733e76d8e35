"""Arithmetic of the `enumerate` estimator's rows: h_k over the enumerated answers and the interval
of h_k that the unexplored mass allows (nats).

    >>> entropy_interval(np.array([0.45, 0.45]), 0.1, log_c=30.0)   # (h low, h high)
    (0.688..., 3.948...)
"""
from __future__ import annotations

import math

import numpy as np


# The most distinct numeric answers with at most D digits: sign x point position x digit strings.
def log_answer_bound(max_digits: int) -> float:
    """log of 2 (D + 1) 10^D, an upper bound on the answers the unexplored mass could spread over."""
    return math.log(2 * (max_digits + 1)) + max_digits * math.log(10)


def entropy_interval(p: np.ndarray, unexplored: float, log_c: float) -> tuple[float, float]:
    """The range of h (nats, renormalised over numeric mass) when up to `unexplored` mass may still
    join the numeric answers. `p` [n] the enumerated terminated probabilities (unnormalised).

    Low: entropy is concave along each segment from the enumerated law to a point mass, so the
    minimum is at none, or all of it on one answer (old or new). High: all of it spread over new
    answers, at most e^log_c of them (H2(l) + (1 - l) h + l log_c, maximised over l <= U / (E + U)).

    entropy_interval(np.array([0.5, 0.5]), 0.0, 30.0) -> (0.693.., 0.693..)
    """
    e = float(p.sum())
    if e <= 0:
        return math.nan, math.nan
    h = _entropy(p / e)
    if unexplored <= 0:
        return h, h
    lows = [h]
    q = np.append(p, 0.0)  # the last: a new answer
    for j in range(len(q)):
        r = q.copy()
        r[j] += unexplored
        lows.append(_entropy(r / r.sum()))
    lam_max = unexplored / (e + unexplored)
    lam = min(lam_max, 1.0 / (1.0 + math.exp(min(h - log_c, 700.0))))
    h2 = -(lam * math.log(lam) + (1 - lam) * math.log(1 - lam)) if 0 < lam < 1 else 0.0
    return min(lows), max(h, h2 + (1 - lam) * h + lam * log_c)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return abs(max(float(-(p * np.log(p)).sum()), 0.0))  # never -0.0


def summarize(px, gold_key: str | None, opts) -> dict:
    """One prefix's row from its search state `px` (answers: key -> terminated probability, masses,
    frontier, the gold's ledger) and its `EnumerateOptions`: answers sorted by probability, h_k and
    its interval, the masses, and the gold's raw and renormalised log-probability.

    Everything but the gold's fields comes from the gold-blind search. The gold's raw probability is
    its shadow ledger plus what the search found on its other spellings; renormalised, it is over the
    enumerated answers and the gold (the mass of the gold the search did not find added):
    p_raw = 0.2, enumerated 0.5 of which gold 0.1 -> gold_logprob = log(0.2 / 0.6)."""
    keys = sorted(px.answers, key=lambda a: -px.answers[a])
    p = np.array([px.answers[a] for a in keys], dtype=float)
    enumerated = float(p.sum())
    unexplored = sum(math.exp(-neg) for neg, _, _ in px.frontier) + px.capped
    low, high = entropy_interval(p, unexplored, log_answer_bound(opts.max_digits))
    probs = p / enumerated if enumerated > 0 else p
    entropy = _entropy(probs) if enumerated > 0 else math.nan
    raw_p = px.gold_mass + px.gold_other if gold_key is not None else 0.0
    raw = math.log(raw_p) if raw_p > 0 else math.nan
    found = px.answers.get(gold_key, 0.0) if gold_key is not None else 0.0
    total = enumerated + max(raw_p - found, 0.0)
    return {"entropy": entropy, "entropy_low": low, "entropy_high": high,
            "gold_logprob": raw - math.log(total) if total > 0 else math.nan,
            "gold_logprob_raw": raw, "option_probs": probs.tolist(),
            "option_logprobs": [math.log(x) if x > 0 else -math.inf for x in p], "options": keys,
            "n_options": len(keys), "leading_option": keys[0] if keys else None, "coverage": enumerated,
            "enumerated_mass": enumerated, "non_numeric_mass": px.non_numeric, "unexplored_mass": unexplored,
            "n_nodes": px.expanded, "n_gold_nodes": px.gold_nodes,
            "gold_in_set": (gold_key in px.answers) if gold_key is not None else None,
            "candidates": "enumerated", "terminated": True}

"""Saturation against its null, the one used everywhere (theory chapter, run pages): the
slope of the per-step drop h_{k-1} - h_k against h_{k-1}, and the same slope on curves that apply
the trace's own increments h_k - h_{k-1} in shuffled order (same start, same end, same set of
drops, no order in time). A straight line has excess 0 (every order is the same line); geometric
decay, whose drops shrink with the level, a positive one.

    >>> drop_slope(np.array([1.0, 0.5, 0.25, 0.125]))      # each step halves the entropy
    0.5
    >>> stat, null = shuffled_null(np.linspace(1, 0, 5)); round(stat - null, 12)
    0.0
"""
from __future__ import annotations

import itertools
import math

import numpy as np


def drop_slope(h) -> float:
    """Saturation statistic of one curve `h` [K+1] (nats): least-squares slope of the drop
    h_{k-1} - h_k against h_{k-1}. NaN when K < 2 or h_{0..K-1} is constant.

    drop_slope([1.0, 0.5, 0.25, 0.125]) -> 0.5
    """
    h = np.asarray(h, dtype=float)
    if len(h) < 3 or np.ptp(h[:-1]) <= 1e-12:
        return float("nan")
    return float(np.polyfit(h[:-1], -np.diff(h), 1)[0])


def shuffled_curves(h, n_perm: int = 200, seed: int = 0) -> np.ndarray:
    """Curves [n_orders, K+1] that start at h_0 and apply `h`'s increments in shuffled order: every
    order when K! <= n_perm, else `n_perm` seeded random orders."""
    h = np.asarray(h, dtype=float)
    steps = np.diff(h)
    if math.factorial(len(steps)) <= n_perm:
        orders = [list(o) for o in itertools.permutations(range(len(steps)))]
    else:
        rng = np.random.default_rng(seed)
        orders = [rng.permutation(len(steps)) for _ in range(n_perm)]
    return np.array([np.concatenate([[h[0]], h[0] + np.cumsum(steps[o])]) for o in orders]).reshape(-1, len(h))


def shuffled_null(h, statistic=drop_slope, n_perm: int = 200, seed: int = 0) -> tuple[float, float]:
    """(statistic on `h`, its mean over the increment-shuffled curves of `shuffled_curves`).

    The signature is the difference: 0 means no more saturation than the order-free null
    (regression to the mean alone makes `drop_slope` positive). NaN null when no shuffled curve
    gives a finite statistic.

    shuffled_null([1.0, 0.5, 0.25, 0.125])[0] -> 0.5
    """
    h = np.asarray(h, dtype=float)
    null = [v for v in (statistic(c) for c in shuffled_curves(h, n_perm, seed)) if np.isfinite(v)] if len(h) > 1 else []
    return statistic(h), (float(np.mean(null)) if null else float("nan"))

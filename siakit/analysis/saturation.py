"""Saturation against a null: the drop-vs-level slope of an entropy curve, and the same slope on the
curve's own values in shuffled order (regression to the mean alone makes the raw slope positive).

    >>> drop_slope(np.array([1.0, 0.5, 0.1, 0.0]))        # drops 0.5, 0.4, 0.1 against 1.0, 0.5, 0.1
    0.434...
"""
from __future__ import annotations

import numpy as np


def shuffled_slopes(h: np.ndarray, n_perm: int = 200, seed: int = 0) -> np.ndarray:
    """The saturation slope of `h`'s own values h_0..h_K put in shuffled order: the null of "no
    order in time", under which regression to the mean alone gives a positive slope. All (K+1)!
    orders when that is <= n_perm, else `n_perm` seeded random orders. `h` [K+1] finite ->
    [n_orders]. For exchangeable (e.g. i.i.d.) values the observed slope has exactly this law.

    >>> shuffled_slopes(np.array([1.0, 0.5, 0.0])).round(2).tolist()    # 3! = 6 orders
    [0.0, 1.5, 3.0, 3.0, 1.5, 0.0]
    """
    import itertools
    import math

    h = np.asarray(h, float)
    n = len(h)
    if n < 3:
        return np.array([])
    if math.factorial(n) <= n_perm:
        orders = [list(o) for o in itertools.permutations(range(n))]
    else:
        rng = np.random.default_rng(seed)
        orders = [rng.permutation(n) for _ in range(n_perm)]
    return np.array([drop_slope(h[list(order)]) for order in orders], float)


def drop_slope(h: np.ndarray) -> float:
    """Least-squares slope of the drop h_{k-1} - h_k against h_{k-1} (NaN: under 3 points or no spread)."""
    if len(h) < 3 or np.ptp(h[:-1]) <= 1e-12:
        return float("nan")
    return float(np.polyfit(h[:-1], -np.diff(h), 1)[0])

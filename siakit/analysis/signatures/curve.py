"""The shape of one conditional-answer-entropy curve h_0..h_K: lock-in, drop, area, rises
(monotonicity) and saturation against its shuffled null; and the check of the scorer's table every
signature reads (see the package docstring for its columns).

    curve_signatures(np.array([1.0, 0.5, 0.1, 0.0]), n_options=4)
    -> {"lock_step": 2, "total_drop": 1.0, "n_rises": 0, "drop_share_first_half": 0.7, ...}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from siakit.analysis.saturation import drop_slope, shuffled_null

LOCK_FRACTION = 0.1  # lock-in threshold as a share of log|A| (the "10% of log|A|" of "How to read this book")
RISE_EPS = 0.02      # a rise h_k - h_{k-1} > RISE_EPS nats counts as a monotonicity violation
REQUIRED = ("id", "k", "entropy", "n_options", "n_steps", "correct")


def check_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Validate the scorer's table and return it sorted by (id, k); a clear error names what is missing."""
    missing = [c for c in REQUIRED if c not in scores.columns]
    if missing:
        raise ValueError(f"scores table lacks column(s) {missing}; has {list(scores.columns)}")
    if "estimator" in scores.columns and scores["estimator"].nunique() > 1:
        raise ValueError(f"scores table mixes estimators {sorted(scores['estimator'].unique())}; "
                         "select one first, e.g. scores[scores.estimator == 'readout']")
    return scores.sort_values(["id", "k"], kind="stable").reset_index(drop=True)


def lock_in(h: np.ndarray, threshold) -> int | None:
    """First step k after which h stays strictly below `threshold` (h_j < threshold for all j >= k).

    `h` has shape [K+1] (nats); `threshold` a number or one per k [K+1]. None if the final entropy is
    not below the threshold. An undefined h_k (NaN: fewer than two candidates) is not below.
    >>> lock_in(np.array([1.0, 0.05, 0.5, 0.05, 0.01]), 0.1)
    3
    >>> lock_in(np.array([1.0, 0.9]), 0.1) is None
    True
    """
    h = np.asarray(h, float)
    above = np.flatnonzero(~(h < threshold))
    if len(above) == 0:
        return 0
    last = int(above[-1])
    return None if last == len(h) - 1 else last + 1


def _falls_share_first_half(h: np.ndarray, u: np.ndarray) -> float:
    """The share of the curve's falls (its step-to-step decreases, summed) made by u = 1/2; the curve
    is split at u = 1/2 with h interpolated there. `h`, `u`: [n] defined prefixes, u ascending.

        _falls_share_first_half(np.array([1.0, 0.5, 0.1, 0.0]), np.array([0, 1, 2, 3]) / 3) -> 0.7 (to rounding)
    """
    mid = np.interp(0.5, u, h) if len(h) > 1 else h[0]
    first = u < 0.5
    h_first, h_second = np.append(h[first], mid), np.insert(h[~first], 0, mid)  # split at u = 1/2
    falls_first, falls_second = np.clip(-np.diff(h_first), 0, None).sum(), np.clip(-np.diff(h_second), 0, None).sum()
    return float(falls_first / (falls_first + falls_second))


def curve_signatures(h: np.ndarray, n_options, lock_fraction: float = LOCK_FRACTION,
                     eps: float = RISE_EPS, n_perm: int = 200, seed: int = 0) -> dict:
    """Shape signatures of one entropy curve `h` of shape [K+1] (nats), |A| = `n_options` (one number,
    or |S_k| per prefix [K+1]: the lock threshold is then a share of each log|S_k|).

    Returns lock-in (step, normalised time u = k/K), final entropy, total drop h_0 - h_K, area under
    the curve over u in [0, 1] (nats), largest rise, number of rises > eps, the share of the curve's
    falls (the sum of its step-to-step decreases) that happens by u = 1/2 (in [0, 1]; the share of the
    total drop for a curve that never rises; NaN unless the total drop is positive), and saturation: the slope
    of the per-step drop h_{k-1} - h_k against h_{k-1} (`saturation_slope`), its mean over curves
    that apply the trace's own increments in shuffled order (`saturation_null`, the one null of
    `siakit.analysis.saturation`), and their difference `saturation_excess`. The raw slope is
    positive by construction (regression to the mean); the excess is 0 for a straight line (every
    order gives the same line) and positive when the drops shrink as h -> 0 (geometric decay).
    Undefined prefixes (h_k NaN: fewer than two candidates) are left out; u keeps each k's k/K.
    >>> s = curve_signatures(np.array([1.0, 0.5, 0.1, 0.0]), n_options=4)
    >>> s["lock_step"], s["total_drop"], s["n_rises"], round(s["drop_share_first_half"], 3)
    (2, 1.0, 0, 0.7)
    """
    h_all = np.asarray(h, float)
    K = len(h_all) - 1
    n_opt = np.broadcast_to(np.asarray(n_options, float), h_all.shape)
    thresholds = np.maximum(lock_fraction * np.log(np.maximum(n_opt, 1)), 1e-12)  # |A| = 1: locks at once
    step = lock_in(h_all, thresholds)
    ok = np.isfinite(h_all)
    u_all = np.arange(K + 1) / max(K, 1)
    h, u = h_all[ok], u_all[ok]
    if len(h) == 0:
        h, u = np.array([np.nan]), np.array([0.0])
    diffs = np.diff(h)  # changes between consecutive defined prefixes
    total = h[0] - h[-1]
    slope, null_mean = shuffled_null(h, drop_slope, n_perm, seed)
    return {
        "K": K, "h_0": float(h[0]), "h_final": float(h_all[-1]),
        "lock_threshold": float(thresholds[-1]),
        "lock_step": np.nan if step is None else step,
        "lock_u": np.nan if step is None else step / max(K, 1),
        "locked": step is not None,
        "total_drop": float(total),
        "auc": float(np.trapezoid(h, u)) if len(h) > 1 else float(h[0]),
        "largest_rise": float(max(diffs.max(initial=0.0), 0.0)),
        "n_rises": int((diffs > eps).sum()),
        "monotone": bool((diffs <= eps).all()),
        "drop_share_first_half": _falls_share_first_half(h, u) if total > 1e-9 else np.nan,
        "saturation_slope": slope,
        "saturation_null": null_mean,
        "saturation_excess": slope - null_mean,
    }

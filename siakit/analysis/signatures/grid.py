"""Curves over normalised time u = k/K: each trace on a common grid, the mean curve per group with
bootstrap bands, and separability (AUROC of -h and -s for correctness at each u).

    curves_on_grid(scores with one trace h = [1.0, 0.5, 0.0], n_points=3) -> (u [0, .5, 1], [[1, .5, 0]], labels)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from siakit.analysis.signatures.curve import check_scores
from siakit.analysis.stats import auroc, bootstrap_ci

class GridCurves(NamedTuple):
    """Every trace's curve on one grid of normalised time."""
    u: np.ndarray          # [n_points] grid u = k/K in [0, 1]
    values: np.ndarray     # [n_traces, n_points] the column on the grid (nats for entropy, surprisal)
    labels: pd.DataFrame   # [n_traces] id, correct


def curves_on_grid(scores: pd.DataFrame, column: str = "entropy", n_points: int = 11) -> GridCurves:
    """Each trace's curve on a common normalised-time grid u = k/K in [0, 1] (linear interpolation).

    `column` is `entropy` (h_k), `surprisal` (s_k = -gold_logprob) or any numeric column (e.g.
    `coverage`); NaN prefixes are skipped. Returns GridCurves `(u, values, labels)`:
    u has shape [n_points], values [n_traces, n_points] (nats), labels a DataFrame (id, correct).
    A trace with K = 0 is constant in u.
    >>> u, v, _ = curves_on_grid(pd.DataFrame({"id": "a", "k": [0, 1, 2], "entropy": [1.0, 0.5, 0.0],
    ...     "n_options": 2, "n_steps": 2, "correct": True}), n_points=3)
    >>> u.tolist(), v.tolist()
    ([0.0, 0.5, 1.0], [[1.0, 0.5, 0.0]])
    """
    scores = check_scores(scores)
    if column == "surprisal":
        scores = scores.assign(surprisal=-scores["gold_logprob"].astype(float))
    u = np.linspace(0.0, 1.0, n_points)
    values, labels = [], []
    for tid, g in scores.groupby("id", sort=False):
        y = g[column].to_numpy(float)
        x = np.arange(len(y)) / max(len(y) - 1, 1)
        ok = np.isfinite(y)  # undefined prefixes (fewer than two candidates) are interpolated over
        values.append(np.interp(u, x[ok], y[ok]) if ok.any() else np.full(n_points, np.nan))
        labels.append({"id": tid, "correct": g["correct"].iloc[0]})
    return GridCurves(u, np.array(values).reshape(len(values), n_points),
                      pd.DataFrame(labels, columns=["id", "correct"]))


def mean_curves(scores: pd.DataFrame, column: str = "entropy", n_points: int = 11, n_boot: int = 1000,
                seed: int = 0) -> pd.DataFrame:
    """Mean curve with bootstrap bands per group (all, correct, incorrect) over normalised time.

    Columns: group, u, mean, low, high, n (traces in the group). Empty groups are left out.
    """
    u, values, labels = curves_on_grid(scores, column, n_points)
    correct = labels["correct"].fillna(False).astype(bool).to_numpy()
    rows = []
    for group, mask in (("all", np.ones(len(correct), bool)), ("correct", correct), ("incorrect", ~correct)):
        if mask.sum() == 0:
            continue
        mean, low, high = bootstrap_ci(values[mask], n_boot=n_boot, seed=seed)
        rows.append(pd.DataFrame({"group": group, "u": u, "mean": mean, "low": low, "high": high,
                                  "n": int(mask.sum())}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["group", "u", "mean", "low", "high", "n"])


def separability(scores: pd.DataFrame, n_points: int = 11, n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """AUROC of -h_k and of -s_k for correctness at each normalised step u (with bootstrap bands).

    Columns: u, auroc_entropy, auroc_entropy_low/high, auroc_surprisal(_low/_high), n_correct,
    n_incorrect. 0.5 is chance; NaN when all traces are correct or all incorrect.
    """
    u, h, labels = curves_on_grid(scores, "entropy", n_points)
    y = labels["correct"].fillna(False).astype(bool).to_numpy()
    out = pd.DataFrame({"u": u, "n_correct": int(y.sum()), "n_incorrect": int((~y).sum())})
    curves = {"entropy": h}
    if "gold_logprob" in scores.columns:
        curves["surprisal"] = curves_on_grid(scores, "surprisal", n_points).values
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y), size=(n_boot, len(y))) if len(y) else np.zeros((0, 0), int)
    for name, v in curves.items():
        out[f"auroc_{name}"] = [auroc(-v[:, j], y) for j in range(n_points)]
        boots = np.array([[auroc(-v[d, j], y[d]) for j in range(n_points)] for d in draws]).reshape(-1, n_points)
        ok = ~np.isnan(boots).all(axis=0) if len(boots) else np.zeros(n_points, bool)
        low, high = np.full(n_points, np.nan), np.full(n_points, np.nan)
        if ok.any():
            low[ok], high[ok] = np.nanquantile(boots[:, ok], [0.025, 0.975], axis=0)
        out[f"auroc_{name}_low"], out[f"auroc_{name}_high"] = low, high
    return out

"""The one statistics module: AUROC with its interval, bootstrap and paired bootstrap, Wilson.

Every page, the analysis, the testbed and the human-trace code take their intervals from here, so
one resampling rule holds everywhere: percentile bootstrap (seeded), resampling the *unit that was
drawn* (a trace, or a problem when several traces share one: `clusters`), within `strata` when the
design fixes their sizes (e.g. ladder rungs). Proportions get Wilson intervals.

    >>> auroc([0.9, 0.8, 0.1], [True, True, False])
    1.0
    >>> [round(x, 3) for x in wilson_interval(0, 16)]
    [0.0, 0.194]
    >>> paired_bootstrap_diff([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_boot=50)["diff"]
    0.0
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k / n (never collapses to a point at 0 or n).

        >>> [round(x, 3) for x in wilson_interval(0, 16)]
        [0.0, 0.194]
    """
    if n <= 0:
        return float("nan"), float("nan")
    p, d = k / n, 1 + z ** 2 / n
    centre = (p + z ** 2 / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_ci(k: int, n: int) -> tuple[float, float, float]:
    """(p, low, high): the proportion k/n with its 95% Wilson interval; NaNs when n == 0.

    proportion_ci(17, 32) -> (0.53125, 0.364..., 0.691...)
    """
    low, high = wilson_interval(k, n)
    return (k / n if n else math.nan), low, high


def auroc(score, positive) -> float:
    """Area under the ROC curve of `score` [n] for the binary `positive` labels [n] (ties count one half).

    Mann-Whitney form: P(score of a random positive > score of a random negative). NaN scores are
    dropped; NaN when either class is empty, so a group with no correct traces gives NaN, not a number.
    >>> auroc(np.array([0.9, 0.8, 0.1]), np.array([True, True, False]))
    1.0
    >>> auroc(np.array([0.5, 0.5]), np.array([True, False]))
    0.5
    """
    score, positive = np.asarray(score, float), np.asarray(positive, bool)
    keep = ~np.isnan(score)
    score, positive = score[keep], positive[keep]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # average ranks handle ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def stratified_auroc(score, positive, strata) -> float:
    """AUROC over the (positive, negative) pairs that share a stratum only: sum over strata of the
    within-stratum wins / all within-stratum pairs. A score that only knows the stratum gets 0.5.

    >>> stratified_auroc([1, 0, 5, 4], [True, False, True, False], ["a", "a", "b", "b"])
    1.0
    >>> stratified_auroc([1, 1, 0, 0], [True, False, True, False], ["a", "a", "b", "b"])
    0.5
    """
    score, positive, strata = np.asarray(score, float), np.asarray(positive, bool), np.asarray(strata)
    wins = pairs = 0.0
    for s in pd.unique(strata):
        m = (strata == s) & ~np.isnan(score)
        n_pos, n_neg = int(positive[m].sum()), int((~positive[m]).sum())
        if n_pos and n_neg:
            wins += auroc(score[m], positive[m]) * n_pos * n_neg
            pairs += n_pos * n_neg
    return wins / pairs if pairs else float("nan")


def _sampler(n: int, strata=None, clusters=None):
    """A function rng -> indices of one bootstrap resample of n units: whole clusters (drawn within
    their stratum when strata are given), or units within strata, or plain units."""
    if clusters is not None:
        groups = list(pd.Series(np.arange(n)).groupby(np.asarray(clusters), sort=False).indices.values())
        if strata is not None:
            strata = np.asarray(strata)
            by = list(pd.Series(np.arange(len(groups))).groupby([strata[g[0]] for g in groups]).indices.values())
            return lambda rng: np.concatenate([groups[i] for idx in by for i in rng.choice(idx, len(idx))])
        return lambda rng: np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
    if strata is not None:
        idx = list(pd.Series(np.arange(n)).groupby(np.asarray(strata), sort=False).indices.values())
        return lambda rng: np.concatenate([rng.choice(i, len(i)) for i in idx])
    return lambda rng: rng.integers(0, n, n)


def bootstrap_p(boots, null: float) -> float:
    """Two-sided bootstrap p-value of `null`: 2 min(P*(stat <= null), P*(stat >= null)), floored at
    1 / (B + 1) so that it is never 0. NaN with no finite resample."""
    boots = np.asarray(boots, float)
    boots = boots[np.isfinite(boots)]
    if not len(boots):
        return float("nan")
    tail = min((boots <= null).mean(), (boots >= null).mean())
    return float(min(1.0, max(2 * tail, 1 / (len(boots) + 1))))


def auroc_ci(score, positive, strata=None, clusters=None, n_boot: int = 2000, level: float = 0.95,
             seed: int = 0) -> dict:
    """AUROC of `score` [n] for `positive` [n] with a percentile bootstrap interval.

    With `strata` [n] the AUROC is `stratified_auroc` (pairs within a stratum only) and the resample
    keeps each stratum's size; with `clusters` [n] whole clusters are resampled (e.g. both twins of a
    problem). Returns auroc, low, high, half_width, p (two-sided bootstrap p of 0.5), n_pos, n_neg.

    >>> auroc_ci([3, 2, 1, 0], [True, True, False, False], n_boot=100)["auroc"]
    1.0
    """
    score, positive = np.asarray(score, float), np.asarray(positive, bool)
    stat = (lambda s, y, st: stratified_auroc(s, y, st)) if strata is not None else (lambda s, y, st: auroc(s, y))
    st = np.asarray(strata) if strata is not None else None
    point = stat(score, positive, st)
    ok = ~np.isnan(score)
    out = {"auroc": point, "low": math.nan, "high": math.nan, "half_width": math.nan, "p": math.nan,
           "n_pos": int(positive[ok].sum()), "n_neg": int((~positive[ok]).sum())}
    if math.isnan(point) or len(score) < 2:
        return out
    rng = np.random.default_rng(seed)
    draw = _sampler(len(score), st, clusters)
    boots = []
    for _ in range(n_boot):
        d = draw(rng)
        boots.append(stat(score[d], positive[d], st[d] if st is not None else None))
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(np.asarray(boots, float), [alpha, 1 - alpha])
    out.update(low=float(low), high=float(high), half_width=float(high - low) / 2, p=bootstrap_p(boots, 0.5))
    return out


def bootstrap_ci(values, stat=np.nanmean, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(point, low, high): `stat` of `values` [n, ...] (axis 0 = questions) with a percentile bootstrap.

    Resamples questions with replacement, `n_boot` times, from a seeded generator. Empty input or a
    single value gives NaN bounds.
    >>> bootstrap_ci([1.0, 1.0, 1.0])
    (1.0, 1.0, 1.0)
    """
    values = np.asarray(values, float)
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, on purpose
        point = stat(values, axis=0)
        if len(values) < 2:
            nan = np.full(np.shape(point), np.nan)
            return _plain(point), _plain(nan), _plain(nan)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(values), size=(n_boot, len(values)))
        boots = np.stack([stat(values[d], axis=0) for d in draws])
        alpha = (1 - level) / 2
        low, high = np.nanquantile(boots, [alpha, 1 - alpha], axis=0)
    return _plain(point), _plain(low), _plain(high)


def _plain(x):
    """numpy 0-d results as Python floats (arrays stay arrays)."""
    return float(x) if np.ndim(x) == 0 else np.asarray(x, float)


def paired_bootstrap_diff(a, b, stat=np.nanmean, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """stat(b) - stat(a) over the same units (a[i], b[i] measured on one problem), resampling units
    jointly. Returns diff, low, high, p (two-sided bootstrap p of no difference), n (pairs with both
    values finite).

    >>> r = paired_bootstrap_diff([0, 0, 1, 1], [1, 1, 1, 1], n_boot=200)
    >>> r["diff"], r["n"]
    (0.5, 4)
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap_diff: a and b must pair up, got shapes {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    out = {"diff": math.nan, "low": math.nan, "high": math.nan, "p": math.nan, "n": int(len(a))}
    if not len(a):
        return out
    out["diff"] = float(stat(b) - stat(a))
    if len(a) < 2:
        return out
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(n_boot, len(a)))
    boots = np.array([stat(b[d]) - stat(a[d]) for d in draws])
    alpha = (1 - level) / 2
    low, high = np.nanquantile(boots, [alpha, 1 - alpha])
    out.update(low=float(low), high=float(high), p=bootstrap_p(boots, 0.0))
    return out


def paired_auroc_diff(score_a, positive_a, score_b, positive_b, n_boot: int = 2000, level: float = 0.95,
                      seed: int = 0) -> dict:
    """AUROC(b) - AUROC(a) where row i of a and of b is the same problem (e.g. two checkpoints
    answering one held-out set; each has its own correctness labels). Problems are resampled jointly.
    Returns auroc_a, auroc_b, diff, low, high, p, n.

    >>> paired_auroc_diff([1, 0], [True, False], [0, 1], [True, False], n_boot=50)["diff"]
    -1.0
    """
    sa, sb = np.asarray(score_a, float), np.asarray(score_b, float)
    ya, yb = np.asarray(positive_a, bool), np.asarray(positive_b, bool)
    if not (sa.shape == sb.shape == ya.shape == yb.shape):
        raise ValueError("paired_auroc_diff: score_a, positive_a, score_b, positive_b must have one length")
    a, b = auroc(sa, ya), auroc(sb, yb)
    out = {"auroc_a": a, "auroc_b": b, "diff": b - a, "low": math.nan, "high": math.nan, "p": math.nan,
           "n": int(len(sa))}
    if math.isnan(a) or math.isnan(b):
        return out
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        d = rng.integers(0, len(sa), len(sa))
        boots.append(auroc(sb[d], yb[d]) - auroc(sa[d], ya[d]))
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(np.asarray(boots, float), [alpha, 1 - alpha])
    out.update(low=float(low), high=float(high), p=bootstrap_p(boots, 0.0))
    return out


def auroc_half_width(n_pos: int, n_neg: int, auc: float = 0.75) -> float:
    """95% half-width of an AUROC estimate by the Hanley-McNeil standard error (planning aid).

    auroc_half_width(100, 100) -> about 0.067 at AUROC 0.75
    """
    if n_pos == 0 or n_neg == 0:
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return Z95 * math.sqrt(max(var, 0.0))

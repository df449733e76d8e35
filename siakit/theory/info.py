"""Information theory on finite distributions (numpy only, no model code).

Every quantity is in **nats** unless a function says otherwise. Distributions live along an
axis (the last one by default), so a batch `[batch, n]` is scored in one call. Zero entries
are handled exactly (0 log 0 = 0). Invalid input (negative or NaN entries, rows that do not
sum to 1 within `atol`, mismatched shapes) raises `ValueError` naming the argument.
"""
from __future__ import annotations

import numpy as np

ATOL = 1e-6  # tolerance on sum-to-one: float32 softmax outputs from the scorer must pass


__all__ = ['entropy', 'binary_entropy', 'cross_entropy', 'kl', 'total_variation', 'mutual_information', 'conditional_entropy', 'conditional_mutual_information', 'fano_max_entropy', 'fano_lower_bound', 'error_upper_bound', 'plugin_entropy', 'miller_madow_entropy', 'entropy_continuity_bound', 'conditional_entropy_continuity_bound']

def as_dist(p, name: str, axis=-1, atol: float = ATOL) -> np.ndarray:
    """Validate that `p` holds probability vectors along `axis` (may be a tuple of axes); a float array.

    as_dist([0.25, 0.75], "p") -> array([0.25, 0.75]); as_dist([0.5, 0.6], "p") raises ValueError.
    """
    p = np.asarray(p, dtype=float)
    if p.ndim == 0:
        raise ValueError(f"{name}: expected an array of probabilities, got a scalar")
    if np.isnan(p).any():
        raise ValueError(f"{name}: contains NaN")
    if (p < 0).any():
        raise ValueError(f"{name}: negative entry {p.min():.3g}")
    sums = p.sum(axis=axis)
    bad = np.abs(sums - 1.0) > atol
    if np.any(bad):
        worst = np.asarray(sums)[bad].ravel()[0]
        raise ValueError(f"{name}: probabilities along axis {axis} sum to {worst:.6g}, not 1")
    return p


def _as_joint(joint, n_axes: int, atol: float) -> np.ndarray:
    """Validate a joint table whose last `n_axes` axes hold one distribution."""
    if np.ndim(joint) < n_axes:
        raise ValueError(f"joint: needs at least {n_axes} axes, got shape {np.shape(joint)}")
    return as_dist(joint, "joint", tuple(range(-n_axes, 0)), atol)


def _plogp(p: np.ndarray) -> np.ndarray:
    """Elementwise p*log(p) with 0 log 0 = 0 exactly."""
    safe = np.where(p > 0, p, 1.0)
    return np.where(p > 0, p * np.log(safe), 0.0)


def _same_shape(p, q, names=("p", "q")) -> None:
    if np.shape(p) != np.shape(q):
        raise ValueError(f"{names[0]} has shape {np.shape(p)} but {names[1]} has shape {np.shape(q)}")


def entropy(p, axis=-1, base: float | None = None, atol: float = ATOL):
    """Shannon entropy H(p) = -sum p log p along `axis`, in nats (bits with `base=2`).

    entropy([0.5, 0.5]) -> 0.6931 (log 2 nats); entropy([0.5, 0.5], base=2) -> 1.0 bit.
    Shapes: `[..., n]` -> `[...]`.
    """
    p = as_dist(p, "p", axis, atol)
    h = -_plogp(p).sum(axis=axis)
    return h / np.log(base) if base is not None else h


def binary_entropy(x):
    """Binary entropy h(x) = -x log x - (1-x) log(1-x), in nats, elementwise on x in [0, 1].

    binary_entropy(0.5) -> 0.6931; binary_entropy(0.0) -> 0.0.
    """
    x = np.asarray(x, dtype=float)
    if np.isnan(x).any() or (x < 0).any() or (x > 1).any():
        raise ValueError("x: binary_entropy needs values in [0, 1]")
    return -(_plogp(x) + _plogp(1.0 - x))


def cross_entropy(p, q, axis=-1, atol: float = ATOL):
    """Cross-entropy H(p, q) = -sum p log q in nats; inf where q = 0 < p.

    cross_entropy([1, 0], [0.5, 0.5]) -> 0.6931.  Shapes: `[..., n]` x `[..., n]` -> `[...]`.
    """
    _same_shape(p, q)
    p, q = as_dist(p, "p", axis, atol), as_dist(q, "q", axis, atol)
    with np.errstate(divide="ignore"):
        logq = np.log(q)
    terms = np.where(p > 0, -p * np.where(p > 0, logq, 0.0), 0.0)
    return terms.sum(axis=axis)


def kl(p, q, axis=-1, atol: float = ATOL):
    """Kullback-Leibler divergence KL(p || q) = sum p log(p / q) in nats; inf if q = 0 < p.

    kl([0.5, 0.5], [0.25, 0.75]) -> 0.1438.  Shapes: `[..., n]` x `[..., n]` -> `[...]`.
    """
    _same_shape(p, q)
    p, q = as_dist(p, "p", axis, atol), as_dist(q, "q", axis, atol)
    # Summed as p * (x - log1p(x)) with x = q/p - 1 where p > 0, plus q where p = 0: the same
    # value for normalised p, q (the added terms sum to 1 - 1 = 0), but every term is >= 0 and
    # second order in x, so a KL of 1e-20 between nearby tables is not lost to round-off.
    safe_p = np.where(p > 0, p, 1.0)
    x = (np.where(p > 0, q, 1.0) - safe_p) / safe_p
    with np.errstate(divide="ignore"):
        # log(q/p): log1p for q near p, the plain ratio elsewhere (log1p loses digits near -1)
        log_ratio = np.where(np.abs(x) < 0.5, np.log1p(x), np.log(np.where(p > 0, q, 1.0) / safe_p))
        terms = np.where(p > 0, p * (x - log_ratio), q)  # q = 0 < p gives log 0 = -inf -> inf
    return np.maximum(terms.sum(axis=axis), 0.0)


def total_variation(p, q, axis=-1, atol: float = ATOL):
    """Total-variation distance TV(p, q) = (1/2) sum |p - q|, unitless, in [0, 1].

    total_variation([1, 0], [0.5, 0.5]) -> 0.5.  Shapes: `[..., n]` x `[..., n]` -> `[...]`.
    """
    _same_shape(p, q)
    p, q = as_dist(p, "p", axis, atol), as_dist(q, "q", axis, atol)
    return 0.5 * np.abs(p - q).sum(axis=axis)


def mutual_information(joint, atol: float = ATOL):
    """Mutual information I(X; Y) in nats of a joint table `joint[..., x, y]` (last two axes).

    mutual_information([[0.5, 0], [0, 0.5]]) -> 0.6931; independent tables -> 0.0.
    Shapes: `[..., nx, ny]` -> `[...]`.
    """
    j = _as_joint(joint, 2, atol)
    hx = -_plogp(j.sum(-1)).sum(-1)
    hy = -_plogp(j.sum(-2)).sum(-1)
    hxy = -_plogp(j).sum((-2, -1))
    return np.maximum(hx + hy - hxy, 0.0)


def conditional_entropy(joint, atol: float = ATOL):
    """Conditional entropy H(Y | X) in nats of a joint table `joint[..., x, y]`.

    The conditioned-on variable is the SECOND-TO-LAST axis, the uncertain one the LAST axis.
    conditional_entropy([[0.25, 0.25], [0.5, 0]]) -> 0.3466 (= 0.5 * log 2).
    Shapes: `[..., nx, ny]` -> `[...]`.
    """
    j = _as_joint(joint, 2, atol)
    hxy = -_plogp(j).sum((-2, -1))
    hx = -_plogp(j.sum(-1)).sum(-1)
    return np.maximum(hxy - hx, 0.0)


def conditional_mutual_information(joint, atol: float = ATOL):
    """Conditional mutual information I(X; Y | Z) in nats of `joint[..., x, y, z]`.

    I(X;Y|Z) = H(X,Z) + H(Y,Z) - H(X,Y,Z) - H(Z). Example: X = Y a fair bit, Z constant
    (`joint[:, :, 0] = [[.5, 0], [0, .5]]`) -> 0.6931.  Shapes: `[..., nx, ny, nz]` -> `[...]`.
    """
    j = _as_joint(joint, 3, atol)
    h = lambda t, ax: -_plogp(t).sum(ax)  # noqa: E731  (entropy of an unnormalised slice sum)
    hxz = h(j.sum(-2), (-2, -1))
    hyz = h(j.sum(-3), (-2, -1))
    hxyz = h(j, (-3, -2, -1))
    hz = h(j.sum((-3, -2)), -1)
    return np.maximum(hxz + hyz - hxyz - hz, 0.0)


def fano_max_entropy(p_e, n_answers: int):
    """Fano's function phi(e) = h(e) + e log(n - 1), in nats: the largest H(A | Y) compatible
    with error probability e <= 1 - 1/n on n answers. This is the inverse of `fano_lower_bound`.

    fano_max_entropy(0.75, 4) -> 1.3863 (= log 4).  Elementwise on `p_e`.
    """
    n = _check_n(n_answers)
    e = np.asarray(p_e, dtype=float)
    if np.isnan(e).any() or (e < 0).any() or (e > 1).any():
        raise ValueError("p_e: error probabilities must lie in [0, 1]")
    e = np.minimum(e, 1.0 - 1.0 / n)  # phi peaks at log n there; beyond it Fano says nothing
    return binary_entropy(e) + e * np.log(max(n - 1, 1))


def fano_lower_bound(h, n_answers: int, form: str = "exact"):
    """Lower bound on the error probability P_e of any guess of A (n answers) given
    conditional entropy h = H(A | Y) in nats (Fano's inequality).

    form="exact": the smallest e with phi(e) >= h (inverts `fano_max_entropy`; any n >= 1).
    form="weak":  max(0, (h - log 2) / log(n - 1)), the textbook form (needs n >= 3).
    fano_lower_bound(np.log(4), 4) -> 0.75; fano_lower_bound(np.log(4), 4, "weak") -> 0.6309.
    """
    n = _check_n(n_answers)
    h = np.asarray(h, dtype=float)
    if np.isnan(h).any() or (h < -1e-12).any() or (h > np.log(n) + 1e-9).any():
        raise ValueError(f"h: conditional entropy must lie in [0, log {n}] nats")
    h = np.clip(h, 0.0, np.log(n))
    if form == "weak":
        if n < 3:
            raise ValueError(f"n_answers: the weak Fano form needs n_answers >= 3, got {n}")
        return np.maximum(0.0, (h - np.log(2.0)) / np.log(n - 1))
    if form != "exact":
        raise ValueError(f"form: expected 'exact' or 'weak', got {form!r}")
    if n == 1:
        return np.zeros_like(h)
    lo, hi = np.zeros_like(h), np.full_like(h, 1.0 - 1.0 / n)
    for _ in range(60):  # bisection on the increasing function phi; 2**-60 precision
        mid = 0.5 * (lo + hi)
        below = fano_max_entropy(mid, n) < h
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return hi


def error_upper_bound(h):
    """Upper bound P_e <= 1 - exp(-h) on the error of the best guess, h = H(A | Y) in nats.

    (max_a p(a) >= exp(-H(p)) since min-entropy <= entropy; Jensen handles the average over Y.)
    error_upper_bound(0.0) -> 0.0; error_upper_bound(np.log(4)) -> 0.75.
    """
    h = np.asarray(h, dtype=float)
    if np.isnan(h).any() or (h < -1e-12).any():
        raise ValueError("h: entropy must be >= 0 nats")
    return 1.0 - np.exp(-np.maximum(h, 0.0))


def _check_n(n_answers) -> int:
    if int(n_answers) != n_answers or n_answers < 1:
        raise ValueError(f"n_answers: expected a positive integer, got {n_answers!r}")
    return int(n_answers)


def _as_counts(counts, axis) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(counts, dtype=float)
    if c.ndim == 0 or np.isnan(c).any() or (c < 0).any():
        raise ValueError("counts: expected an array of non-negative counts")
    total = c.sum(axis=axis, keepdims=True)
    if (total <= 0).any():
        raise ValueError(f"counts: a row along axis {axis} has zero total count")
    return c, total


def plugin_entropy(counts, axis=-1):
    """Plug-in (maximum-likelihood) entropy estimate in nats from `counts` along `axis`.

    plugin_entropy([2, 2]) -> 0.6931. Biased low by about (m - 1) / (2N).
    Shapes: `[..., n]` -> `[...]`.
    """
    c, total = _as_counts(counts, axis)
    return -_plogp(c / total).sum(axis=axis)


def miller_madow_entropy(counts, axis=-1):
    """Miller-Madow corrected entropy estimate in nats: plug-in + (m - 1) / (2N), with m the
    number of non-empty bins and N the total count along `axis`.

    miller_madow_entropy([2, 2]) -> 0.8181 (= log 2 + 1/8).  Shapes: `[..., n]` -> `[...]`.
    """
    c, total = _as_counts(counts, axis)
    m = (c > 0).sum(axis=axis)
    return plugin_entropy(c, axis) + (m - 1) / (2.0 * np.squeeze(total, axis=axis))


def entropy_continuity_bound(tv, n_outcomes: int):
    """Fannes-Audenaert bound: |H(p) - H(q)| <= T log(n - 1) + h(T) for T = TV(p, q) <= 1 - 1/n
    (and <= log n beyond), in nats, for distributions on n outcomes. Tight (Audenaert 2007).

    entropy_continuity_bound(0.0, 4) -> 0.0; entropy_continuity_bound(0.75, 4) -> 1.3863.
    """
    return fano_max_entropy(_check_tv(tv), n_outcomes)


def conditional_entropy_continuity_bound(tv, n_outcomes: int):
    """Alicki-Fannes-Winter bound: |H(A|B)_p - H(A|B)_q| <= 2 e log n + (1 + e) h(e / (1 + e))
    for e = TV(p, q) of the joint laws of (A, B), A on n outcomes; capped at log n. Nats.
    (Winter 2016, Lemma 2; any conditioning alphabet B.)

    conditional_entropy_continuity_bound(0.0, 4) -> 0.0.
    """
    e = _check_tv(tv)
    n = _check_n(n_outcomes)
    bound = 2 * e * np.log(n) + (1 + e) * binary_entropy(e / (1 + e))
    return np.minimum(bound, np.log(n))


def _check_tv(tv) -> np.ndarray:
    t = np.asarray(tv, dtype=float)
    if np.isnan(t).any() or (t < 0).any() or (t > 1 + 1e-12).any():
        raise ValueError("tv: total variation must lie in [0, 1]")
    return np.minimum(t, 1.0)

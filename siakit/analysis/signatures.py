"""Signatures of conditional-answer-entropy curves (our operational definitions; see the theory chapter).

Input is the scorer's long table: one row per (trace id, k), `k = 0..K` (`k = 0` is the empty prefix),
with `entropy` = h_k in nats, `gold_logprob` = log p(a* | Q, C_{1:k}) (so s_k = -gold_logprob),
`option_probs` (the answer distribution, a list per row), `n_options` = |A|, `n_steps` = K and
`correct` (the trace's own graded answer). Everything here is pure numpy/pandas: no model code.

    scores (2 traces)              ->  trace_signatures(scores)
    id k entropy n_options ...         id  lock_step  h_final  total_drop  n_rises ...
    a  0 1.10   3                      a   2          0.01     1.09        0
    a  1 0.60   3                      b   NaN        1.00     0.10        1
    a  2 0.01   3
    b  0 1.10 ...
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from siakit.analysis.saturation import drop_slope, shuffled_null
from siakit.analysis.stats import auroc, bootstrap_ci  # noqa: F401  (re-exported: older imports)

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
    mid = np.interp(0.5, u, h) if len(h) > 1 else h[0]
    first = u < 0.5
    h_first, h_second = np.append(h[first], mid), np.insert(h[~first], 0, mid)  # split at u = 1/2
    falls_first, falls_second = np.clip(-np.diff(h_first), 0, None).sum(), np.clip(-np.diff(h_second), 0, None).sum()
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
        "drop_share_first_half": (float(falls_first / (falls_first + falls_second)) if total > 1e-9
                                  else np.nan),
        "saturation_slope": slope,
        "saturation_null": null_mean,
        "saturation_excess": slope - null_mean,
    }


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


def _union_probs(g: pd.DataFrame) -> np.ndarray | None:
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
        probs = _union_probs(g)
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


def curves_on_grid(scores: pd.DataFrame, column: str = "entropy", n_points: int = 11):
    """Each trace's curve on a common normalised-time grid u = k/K in [0, 1] (linear interpolation).

    `column` is `entropy` (h_k), `surprisal` (s_k = -gold_logprob) or any numeric column (e.g.
    `coverage`); NaN prefixes are skipped. Returns `(u, values, labels)`:
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
    return u, np.array(values).reshape(len(values), n_points), pd.DataFrame(labels, columns=["id", "correct"])


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
        curves["surprisal"] = curves_on_grid(scores, "surprisal", n_points)[1]
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


SUMMARY_COLUMNS = ("h_final", "lock_u", "locked", "locked_to_gold", "total_drop", "auc", "largest_rise",
                   "n_rises", "monotone", "drop_share_first_half", "saturation_excess", "leader_switches",
                   "tv_path_length", "eff_support_final", "s_final", "coverage_final")


def signature_summary(sigs: pd.DataFrame, columns=SUMMARY_COLUMNS, n_boot: int = 1000,
                      seed: int = 0) -> pd.DataFrame:
    """Mean [95% bootstrap CI] of each signature for all, correct and incorrect traces.

    One row per signature; for each group the columns `<group>` (mean), `<group>_low`, `<group>_high`
    and `<group>_n`. Empty groups give NaN (never an error).
    """
    correct = sigs["correct"].fillna(False).astype(bool) if len(sigs) else pd.Series(dtype=bool)
    groups = {"all": sigs, "correct": sigs[correct], "incorrect": sigs[~correct]}
    rows = []
    for col in (c for c in columns if c in sigs.columns):
        row = {"signature": col}
        for name, g in groups.items():
            vals = g[col].astype(float).to_numpy()
            vals = vals[~np.isnan(vals)]
            point, low, high = bootstrap_ci(vals, n_boot=n_boot, seed=seed)
            row.update({name: point, f"{name}_low": low, f"{name}_high": high, f"{name}_n": len(vals)})
        rows.append(row)
    return pd.DataFrame(rows)

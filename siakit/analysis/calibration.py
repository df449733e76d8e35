"""Calibration of the readout: is p(leader) the chance that the leader is the gold answer?

The Fano reading of h_k (low entropy -> a likely correct answer) needs the readout to be calibrated;
this module measures it. One point per (trace, k) row: confidence = the leader's probability
max_o p(o | Q, C_{1:k}) over S_k, correct = the leader is the gold. Reliability bins of equal width
over [0, 1]; the expected calibration error ECE = sum_b (n_b / n) |accuracy_b - confidence_b|, with
a bootstrap interval over *traces* (rows of one trace move together).

    >>> rows = pd.DataFrame({"id": ["a", "b"], "confidence": [0.9, 0.6], "correct": [True, False]})
    >>> round(ece(rows["confidence"], rows["correct"], n_bins=10), 3)      # |1 - .9| / 2 + |0 - .6| / 2
    0.35
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from siakit.analysis.stats import wilson_interval


def leader_rows(scores: pd.DataFrame, which: str = "final") -> pd.DataFrame:
    """One row per used prefix: id, k, confidence (p of the leader, renormalised over S_k), correct
    (leader == gold). `which`: "final" (k = K), "all" prefixes, or "mid" (0 < k < K). Rows without a
    readout distribution are dropped."""
    if which not in ("final", "all", "mid"):
        raise ValueError(f"leader_rows: which must be 'final', 'all' or 'mid', got {which!r}")
    need = {"id", "k", "option_probs", "leading_option", "gold"}
    if need - set(scores.columns):
        raise ValueError(f"leader_rows: scores lack column(s) {sorted(need - set(scores.columns))}")
    s = scores.sort_values(["id", "k"], kind="stable")
    if which == "final":
        s = s.groupby("id", sort=False).tail(1)
    elif which == "mid":
        s = s[(s["k"] > 0) & (s["k"] < s.groupby("id")["k"].transform("max"))]
    s = s[s["option_probs"].map(lambda p: p is not None and len(p) > 0) & s["leading_option"].notna()]
    from siakit.data.answers import normalize_number

    conf = s["option_probs"].map(lambda p: float(np.max(np.asarray(p, float))))
    same = [normalize_number(str(a)) == normalize_number(str(g)) for a, g in zip(s["leading_option"], s["gold"])]
    return pd.DataFrame({"id": s["id"].to_numpy(), "k": s["k"].to_numpy(), "confidence": conf.to_numpy(float),
                         "correct": np.asarray(same, bool)})


def _bin_index(confidence, n_bins: int) -> np.ndarray:
    return np.clip((np.asarray(confidence, float) * n_bins).astype(int), 0, n_bins - 1)


def ece(confidence, correct, n_bins: int = 10) -> float:
    """Expected calibration error over `n_bins` equal-width bins (NaN when empty)."""
    conf, ok = np.asarray(confidence, float), np.asarray(correct, float)
    if not len(conf):
        return math.nan
    b = _bin_index(conf, n_bins)
    total = 0.0
    for i in np.unique(b):
        m = b == i
        total += m.sum() / len(conf) * abs(ok[m].mean() - conf[m].mean())
    return float(total)


def reliability(rows: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table: one row per non-empty bin with bin (lower edge), n, confidence (mean p of
    the leader), accuracy (share correct) and its Wilson interval (low, high)."""
    b = _bin_index(rows["confidence"], n_bins)
    out = []
    for i in np.unique(b):
        m = b == i
        k, n = int(rows["correct"].to_numpy()[m].sum()), int(m.sum())
        low, high = wilson_interval(k, n)
        out.append({"bin": i / n_bins, "n": n, "confidence": float(rows["confidence"].to_numpy()[m].mean()),
                    "accuracy": k / n, "low": low, "high": high})
    return pd.DataFrame(out, columns=["bin", "n", "confidence", "accuracy", "low", "high"])


def ece_ci(rows: pd.DataFrame, n_bins: int = 10, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """ECE of `leader_rows` output with a percentile bootstrap over traces. Returns ece, low, high,
    n (rows), n_traces, mean_confidence, accuracy. Binned ECE is biased upward (noise within a bin
    never cancels), so for a well-calibrated readout the interval can lie just above the point."""
    point = ece(rows["confidence"], rows["correct"], n_bins)
    out = {"ece": point, "low": math.nan, "high": math.nan, "n": int(len(rows)), "n_traces": int(rows["id"].nunique()),
           "mean_confidence": float(rows["confidence"].mean()) if len(rows) else math.nan,
           "accuracy": float(rows["correct"].mean()) if len(rows) else math.nan}
    if out["n_traces"] < 2:
        return out
    groups = list(rows.groupby("id", sort=False).indices.values())
    conf, ok = rows["confidence"].to_numpy(float), rows["correct"].to_numpy(bool)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        d = np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])
        boots.append(ece(conf[d], ok[d], n_bins))
    alpha = (1 - level) / 2
    out["low"], out["high"] = (float(x) for x in np.quantile(boots, [alpha, 1 - alpha]))
    return out


def calibration(scores: pd.DataFrame, which: str = "final", n_bins: int = 10, n_boot: int = 1000,
                seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """(reliability table, ECE with interval) of one run's readout: see `leader_rows`, `reliability`, `ece_ci`."""
    rows = leader_rows(scores, which)
    return reliability(rows, n_bins), ece_ci(rows, n_bins, n_boot, seed=seed)

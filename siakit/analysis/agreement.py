"""Agreement between two estimators of the answer distribution on the same prefixes (e.g. the cue
readout against `enumerate` or the model's own rollouts): how often they name the same leader, how far
apart their distributions are (Jensen-Shannon divergence, nats), and whether they rank prefixes alike
(Spearman correlation of h_k). Each comes with a percentile bootstrap interval over *traces*.

    >>> a = pd.DataFrame({"id": ["t", "t"], "k": [0, 1], "options": [["1", "2"]] * 2,
    ...                   "option_probs": [[0.5, 0.5], [0.9, 0.1]], "leading_option": ["1", "1"], "entropy": [0.69, 0.33]})
    >>> estimator_agreement(a, a, n_boot=20)["leader_agreement"]
    1.0
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from siakit.data.answers import normalize_number


def js_divergence(p: dict, q: dict) -> float:
    """Jensen-Shannon divergence (nats, in [0, log 2]) of two distributions given as {answer: prob};
    a missing answer has probability 0. js_divergence({"1": 1}, {"2": 1}) -> log 2."""
    keys = sorted(set(p) | set(q))
    a, b = np.array([p.get(k, 0.0) for k in keys], float), np.array([q.get(k, 0.0) for k in keys], float)
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2

    def kl(x):
        nz = x > 0
        return float((x[nz] * np.log(x[nz] / m[nz])).sum())

    return max(0.0, 0.5 * kl(a) + 0.5 * kl(b))


def _dist(options, probs) -> dict | None:
    if options is None or probs is None or not len(options):
        return None
    out = {}
    for o, p in zip(options, probs):
        key = normalize_number(str(o)) or str(o).strip()
        out[key] = out.get(key, 0.0) + float(p)
    return out


def _spearman(x, y) -> float:
    x, y = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def agreement_rows(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per prefix present in both tables (joined on id, k): same_leader, js (nats), h_a, h_b."""
    cols = ["id", "k", "options", "option_probs", "leading_option", "entropy"]
    m = a[cols].merge(b[cols], on=["id", "k"], suffixes=("_a", "_b"))
    rows = []
    for r in m.itertuples(index=False):
        pa, pb = _dist(r.options_a, r.option_probs_a), _dist(r.options_b, r.option_probs_b)
        la = normalize_number(str(r.leading_option_a)) if r.leading_option_a is not None else None
        lb = normalize_number(str(r.leading_option_b)) if r.leading_option_b is not None else None
        rows.append({"id": r.id, "k": r.k, "same_leader": la is not None and la == lb,
                     "js": js_divergence(pa, pb) if pa and pb else math.nan,
                     "h_a": float(r.entropy_a), "h_b": float(r.entropy_b)})
    return pd.DataFrame(rows, columns=["id", "k", "same_leader", "js", "h_a", "h_b"])


def _stats(rows: pd.DataFrame) -> tuple[float, float, float]:
    ok = rows[["h_a", "h_b"]].notna().all(axis=1)
    return (float(rows["same_leader"].mean()), float(rows["js"].mean()),
            _spearman(rows.loc[ok, "h_a"], rows.loc[ok, "h_b"]))


def estimator_agreement(a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 1000, level: float = 0.95,
                        seed: int = 0) -> dict:
    """Leader agreement (share of prefixes), mean Jensen-Shannon divergence (nats) and Spearman
    correlation of h_k between estimators `a` and `b` (scorer tables; joined on id, k), each with a
    bootstrap interval over traces (`_low`, `_high`). Also n_prefixes, n_traces."""
    rows = agreement_rows(a, b)
    names = ("leader_agreement", "js_divergence", "spearman_h")
    out = {"n_prefixes": int(len(rows)), "n_traces": int(rows["id"].nunique())}
    if not len(rows):
        return out | {k: math.nan for n in names for k in (n, f"{n}_low", f"{n}_high")}
    out.update(dict(zip(names, _stats(rows))))
    groups = list(rows.groupby("id", sort=False).indices.values())
    rng = np.random.default_rng(seed)
    boots = np.array([_stats(rows.iloc[np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))])])
                      for _ in range(n_boot)], float)
    alpha = (1 - level) / 2
    for j, n in enumerate(names):
        col = boots[:, j][np.isfinite(boots[:, j])]
        out[f"{n}_low"], out[f"{n}_high"] = (float(x) for x in np.quantile(col, [alpha, 1 - alpha])) \
            if len(col) else (math.nan, math.nan)
    return out

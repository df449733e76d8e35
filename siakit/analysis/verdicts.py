"""Verdict rules, one set for every page: symmetric, corrected for the family of comparisons a page
makes (Holm), and combined without letting a weak result count for a strong one.

A claim predicts a direction for an estimate against a null value (an AUROC above 0.5, a gain above
0). The rule is symmetric: it takes the *same* strength of evidence to support as to contradict.
An interval entirely on the predicted side supports; entirely on the other side contradicts;
anything else (an AUROC "merely not above 0.5") is inconclusive.

    >>> interval_verdict(0.6, 0.7, null=0.5)
    'supports'
    >>> interval_verdict(0.45, 0.55, null=0.5)       # contains the null: neither way
    'inconclusive'
    >>> [round(float(p), 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

LABELS = ("supports", "contradicts", "inconclusive")
CSS = {"supports": "tip", "contradicts": "danger", "inconclusive": "warning"}  # admonition class per label


def interval_verdict(low: float, high: float, null: float = 0.5, direction: int = 1) -> str:
    """supports / contradicts / inconclusive for an interval [low, high] against `null`, when the
    claim predicts estimates above the null (`direction` = 1) or below it (-1). NaN: inconclusive.

    interval_verdict(0.2, 0.4, null=0.5) -> "contradicts"
    """
    if direction not in (1, -1):
        raise ValueError(f"interval_verdict: direction must be 1 or -1, got {direction}")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "inconclusive"
    lo, hi = (low - null, high - null) if direction == 1 else (null - high, null - low)
    return "supports" if lo > 0 else "contradicts" if hi < 0 else "inconclusive"


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values [m] (family-wise error control; NaNs stay NaN and do not
    count in m). Reject claim i at level alpha when adjusted p_i < alpha.

    >>> holm([0.01, 0.02]).tolist()
    [0.02, 0.02]
    """
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def family_verdicts(rows, alpha: float = 0.05) -> pd.DataFrame:
    """One verdict per claim of a page's family, Holm-corrected across the family.

    `rows`: dicts (or a DataFrame) with claim, estimate, null, p (two-sided, e.g. `stats.auroc_ci`'s
    bootstrap p), and optionally low, high (the unadjusted 95% interval) and direction (1: the claim
    predicts estimate > null; -1: below). A claim supports when its Holm-adjusted p < alpha and the
    estimate lies on the predicted side; contradicts when p_holm < alpha on the other side;
    inconclusive otherwise. Adds columns p_holm, verdict, family (the number of claims).

    >>> family_verdicts([{"claim": "a", "estimate": 0.8, "null": 0.5, "p": 0.001},
    ...                  {"claim": "b", "estimate": 0.4, "null": 0.5, "p": 0.2}])["verdict"].tolist()
    ['supports', 'inconclusive']
    """
    frame = pd.DataFrame(rows).copy()
    for col in ("claim", "estimate", "null", "p"):
        if col not in frame:
            raise ValueError(f"family_verdicts: rows lack '{col}' (have {list(frame.columns)})")
    if "direction" not in frame:
        frame["direction"] = 1
    frame["p_holm"] = holm(frame["p"].to_numpy(float))
    side = np.sign((frame["estimate"].astype(float) - frame["null"].astype(float)) * frame["direction"])
    significant = frame["p_holm"] < alpha
    frame["verdict"] = np.where(significant & (side > 0), "supports",
                                np.where(significant & (side < 0), "contradicts", "inconclusive"))
    frame["family"] = int(np.isfinite(frame["p"].astype(float)).sum())
    return frame


def combine_verdicts(labels) -> str:
    """One label for a claim made of several parts that must all hold: supports only when every
    part supports, contradicts only when every part contradicts (the same strength both ways),
    inconclusive otherwise.

    >>> combine_verdicts(["supports", "inconclusive"]), combine_verdicts(["contradicts", "contradicts"])
    ('inconclusive', 'contradicts')
    """
    labels = list(labels)
    bad = set(labels) - set(LABELS)
    if bad or not labels:
        raise ValueError(f"combine_verdicts: labels must be non-empty and among {LABELS}, got {labels}")
    if all(x == "supports" for x in labels):
        return "supports"
    if all(x == "contradicts" for x in labels):
        return "contradicts"
    return "inconclusive"


def auroc_verdict(result: dict, claim: str, target: float = 0.07) -> tuple[str, str]:
    """(label, sentence) for an AUROC result of `stats.auroc_ci` (keys auroc, low, high, half_width and
    n or n_pos/n_neg): the symmetric interval rule against 0.5, and whether the half-width meets `target`.

    auroc_verdict({"auroc": 0.9, "low": 0.85, "high": 0.95, "half_width": 0.05, "n": 300}, "x")[0] -> "supports"
    """
    a, lo, hi, hw = (result.get(k, math.nan) for k in ("auroc", "low", "high", "half_width"))
    n = result.get("n", result.get("n_pos", 0) + result.get("n_neg", 0))
    if not n or a is None or math.isnan(a):
        return "inconclusive", f"nothing to compare, so nothing can be said about whether {claim}"
    power = f"half-width {hw:.3f} {'meets' if hw <= target else 'misses'} the {target} target"
    return interval_verdict(lo, hi, 0.5), f"AUROC {a:.3f} [{lo:.3f}, {hi:.3f}], n = {n} ({power})"

"""Trends across lineage checkpoints and the lineage's verdict rules (moved out of the chapter's cells).

Every checkpoint answers the *same* held-out problems (trace id = problem id), so a change between two
checkpoints is a paired difference over problems, resampled jointly (`stats.paired_bootstrap_diff`,
`stats.paired_auroc_diff`), not two marginal intervals side by side. The page names its family of
trend comparisons and Holm-corrects across it (`verdicts.holm`).

    >>> from siakit.data.traces import Trace
    >>> def evaluation(correct, h_mid):   # one checkpoint's greedy evaluation: h at k = 0, 1, 2 per problem
    ...     traces = [Trace(id=f"p{i}", prompt="Q", steps=[" a", " b"], correct=bool(c)) for i, c in enumerate(correct)]
    ...     scores = pd.DataFrame([{"id": f"p{i}", "k": k, "entropy": (1.0, h, 0.1)[k]}
    ...                            for i, h in enumerate(h_mid) for k in range(3)])
    ...     return {"traces": traces, "scores": scores}
    >>> first = evaluation([1, 0] * 6, [0.6] * 12)                       # 12 problems, half correct
    >>> end = evaluation([1] * 10 + [0] * 2, [0.2] * 10 + [0.8] * 2)     # the same problems, later
    >>> table = paired_trends(first, end, n_boot=500)   # one row per key, Holm across the four
    >>> table[["key", "first", "last", "trend"]].round(3)
                                   key  first   last                  trend
    0                         accuracy    0.5  0.833  shows no clear change
    1                        auroc_u05    0.5  1.000                  rises
    2          info_per_reasoning_step    0.4  0.700                  rises
    3  info_per_reasoning_step_correct    0.4  0.800                  rises
    >>> trend_word(table, "auroc_u05")
    'rises (paired change +0.50 [+0.50, +0.50], Holm p 0.008)'
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from siakit.analysis.baselines import at_u, reasoning_gains
from siakit.analysis.stats import paired_auroc_diff, paired_bootstrap_diff
from siakit.analysis.verdicts import holm, interval_verdict

TREND_KEYS = ("accuracy", "auroc_u05", "info_per_reasoning_step", "info_per_reasoning_step_correct")
# accuracy: share correct; auroc_u05: AUROC of -h at u = 0.5 for correctness; info_per_reasoning_step:
# mean h_{k-1} - h_k over a trace's reasoning lines (answer line apart); _correct: problems correct at both


def uncapped(evaluation: dict) -> tuple[pd.DataFrame, list]:
    """(scores, traces) of one checkpoint evaluation ({"traces", "scores"}) without the traces that hit
    the token cap (their answer may be cut off), as the checkpoint metrics leave them out."""
    cut = {t.id for t in evaluation["traces"] if t.meta.get("hit_cap")}
    return (evaluation["scores"][~evaluation["scores"]["id"].isin(cut)],
            [t for t in evaluation["traces"] if t.id not in cut])


def _per_problem(evaluation: dict, key: str) -> pd.DataFrame:
    """Per problem (trace id) of one checkpoint evaluation ({"traces", "scores"}): correct, and the
    value `key` needs (h at u = 0.5, or the mean reasoning-line entropy drop). Cut traces give NaN."""
    scores = uncapped(evaluation)[0]
    out = pd.DataFrame({"correct": {t.id: bool(t.correct) for t in evaluation["traces"]}})
    if key.startswith("auroc_u05"):
        out["value"] = -at_u(scores, 0.5)
    elif key.startswith("info_per_reasoning_step"):
        out["value"] = reasoning_gains(scores, "entropy").set_index("id")["reasoning"]
    return out


def paired_trend(first: dict, last: dict, key: str, n_boot: int = 2000, seed: int = 0) -> dict:
    """The change of `key` (one of TREND_KEYS) from checkpoint evaluation `first` to `last` over the
    problems both answered: first, last, diff, low, high, p (two-sided bootstrap), n (problems)."""
    if key not in TREND_KEYS:
        raise ValueError(f"paired_trend: key must be one of {TREND_KEYS}, got {key!r}")
    a, b = _per_problem(first, key), _per_problem(last, key)
    both = a.add_suffix("_a").join(b.add_suffix("_b"), how="inner")
    if key == "accuracy":
        r = paired_bootstrap_diff(both["correct_a"].astype(float), both["correct_b"].astype(float), n_boot=n_boot,
                                  seed=seed)
        return {"key": key, "first": both["correct_a"].mean(), "last": both["correct_b"].mean(), **r}
    if key == "auroc_u05":
        ok = both["value_a"].notna() & both["value_b"].notna()
        both = both[ok]
        r = paired_auroc_diff(both["value_a"], both["correct_a"], both["value_b"], both["correct_b"], n_boot=n_boot,
                              seed=seed)
        return {"key": key, "first": r["auroc_a"], "last": r["auroc_b"], "diff": r["diff"], "low": r["low"],
                "high": r["high"], "p": r["p"], "n": r["n"]}
    if key.endswith("_correct"):
        both = both[both["correct_a"] & both["correct_b"]]
    r = paired_bootstrap_diff(both["value_a"], both["value_b"], n_boot=n_boot, seed=seed)
    return {"key": key, "first": both["value_a"].mean(), "last": both["value_b"].mean(), **r}


def paired_trends(first: dict, last: dict, keys=TREND_KEYS, n_boot: int = 2000, seed: int = 0,
                  alpha: float = 0.05) -> pd.DataFrame:
    """`paired_trend` for each key (the page's family of trend comparisons), with Holm-adjusted p and
    a word: rises / falls (adjusted p < alpha) or shows no clear change."""
    rows = pd.DataFrame([paired_trend(first, last, k, n_boot, seed) for k in keys])
    rows["p_holm"] = holm(rows["p"].to_numpy(float))
    rows["family"] = len(keys)
    rows["trend"] = [("rises" if d > 0 else "falls") if p < alpha else
                     "cannot be compared (too few problems)" if math.isnan(p) else "shows no clear change"
                     for d, p in zip(rows["diff"], rows["p_holm"])]
    return rows


def trend_word(table: pd.DataFrame, key: str) -> str:
    """The trend word of `key` in a `paired_trends` table, with the paired difference and its interval."""
    r = table.set_index("key").loc[key]
    if math.isnan(r["diff"]) or math.isnan(r["low"]):
        return str(r["trend"])
    return f"{r['trend']} (paired change {r['diff']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}], Holm p {r['p_holm']:.3f})"


def separability_verdict(m: dict, key: str = "auroc_u05") -> tuple[str, str]:
    """Does entropy separate correct from incorrect traces? From a checkpoint's AUROC of -h (`key`,
    with `_low`/`_high`), by the symmetric interval rule (`verdicts.interval_verdict`).

    separability_verdict({"auroc_u05": 0.7, "auroc_u05_low": 0.6, "auroc_u05_high": 0.8})[0] -> "supports"
    """
    lo, hi = m.get(f"{key}_low", np.nan), m.get(f"{key}_high", np.nan)
    if lo is None or hi is None or np.isnan(lo) or np.isnan(hi):
        return "inconclusive", "the checkpoint has no correct or no incorrect traces to compare"
    label = interval_verdict(lo, hi, 0.5)
    why = {"supports": "mid-trace entropy ranks correct traces as more certain, above chance",
           "contradicts": "mid-trace entropy ranks incorrect traces as more certain than correct ones",
           "inconclusive": "the AUROC interval at u = 0.5 contains 0.5"}[label]
    return label, why

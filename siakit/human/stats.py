"""Statistics of human traces read by a model: curves per variant, where information arrives, and
how well the final readout tells an intact human solution from its corrupted twin (ours).

Input: the scorer's rows with `variant` and `problem_id` columns (`siakit.human.cache.HumanRun.scores`),
one row per (trace, k), entropy = h_k and gold_logprob = -s_k in nats. Bootstraps resample
*problems* (the four variants of a problem stay together), seeded.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"problem_id": ["a", "a", "b", "b"], "variant": ["intact", "corrupted"] * 2,
    ...                      "s_final": [0.1, 5.0, 0.2, 4.0]})
    >>> paired_auroc(rows, "s_final", n_boot=50)["auroc"]   # -s_K ranks both intact traces first
    1.0
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from siakit.analysis.signatures import curves_on_grid
from siakit.analysis.baselines import raw_gold_logprob
from siakit.analysis.stats import auroc_ci, bootstrap_ci, wilson_interval
from siakit.analysis.verdicts import combine_verdicts, interval_verdict

HALF_WIDTH_TARGET = 0.07  # the human chapter's target: every claim rests on an AUROC 95% half-width <= 0.07


def final_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per trace at k = 0 and k = K: id, problem_id, variant, n_steps, h_0, h_final, s_0,
    s_final (nats), s_raw_0, s_raw_final (-log p(gold) unnormalised, `baselines.raw_gold_logprob`,
    when the scorer wrote coverage), own_leads_final (the trace's own final answer is the readout's leader at K)."""
    need = {"id", "k", "entropy", "gold_logprob", "variant", "problem_id", "n_steps"}
    missing = need - set(scores.columns)
    if missing:
        raise ValueError(f"final_rows: scores lack column(s) {sorted(missing)}")
    s = scores.sort_values(["id", "k"], kind="stable")
    first, last = s.groupby("id", sort=False).head(1), s.groupby("id", sort=False).tail(1)
    out = last[["id", "problem_id", "variant", "n_steps"]].reset_index(drop=True)
    out["h_0"], out["h_final"] = first["entropy"].to_numpy(float), last["entropy"].to_numpy(float)
    out["s_0"], out["s_final"] = -first["gold_logprob"].to_numpy(float), -last["gold_logprob"].to_numpy(float)
    if {"coverage", "gold_in_set"} <= set(scores.columns):  # raw s: -log p(gold), terminated, not renormalised
        out["s_raw_0"] = -raw_gold_logprob(first).to_numpy(float)
        out["s_raw_final"] = -raw_gold_logprob(last).to_numpy(float)
    if {"leading_option", "answer"} <= set(scores.columns):
        out["own_leads_final"] = (last["leading_option"].astype(str).str.strip().to_numpy()
                                  == last["answer"].astype(str).str.strip().to_numpy())
    return out


def variant_table(finals: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per variant: mean [95% bootstrap CI] of h_0, h_K, s_0, s_K and of the drop s_0 - s_K (nats),
    and the share of traces whose own final answer leads the readout at K (95% Wilson interval)."""
    rows = []
    for variant, g in finals.groupby("variant", sort=False):
        row = {"variant": variant, "n": len(g)}
        for col, values in (("h_0", g["h_0"]), ("h_K", g["h_final"]), ("s_0", g["s_0"]), ("s_K", g["s_final"]),
                            ("s_0 - s_K", g["s_0"] - g["s_final"])):
            mean, low, high = bootstrap_ci(values.to_numpy(float), n_boot=n_boot, seed=seed)
            row[col] = f"{mean:.2f} [{low:.2f}, {high:.2f}]"
        if "own_leads_final" in g:
            k = int(g["own_leads_final"].sum())
            low, high = wilson_interval(k, len(g))
            row["own answer leads at K"] = f"{k}/{len(g)} [{low:.2f}, {high:.2f}]"
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def paired_auroc(finals: pd.DataFrame, column: str, positive: str = "intact", negative: str = "corrupted",
                 n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """AUROC of -`column` for `positive` against `negative` traces, with a problem bootstrap.

    Only problems with both variants count. Returns auroc, low, high, half_width (of the interval),
    p (two-sided bootstrap p of 0.5), n (problems). 0.5 = the readout cannot tell them apart; 1 = every positive trace has a lower value.
    """
    wide = finals[finals["variant"].isin([positive, negative])].pivot_table(
        index="problem_id", columns="variant", values=column, aggfunc="first").dropna()
    if positive not in wide or negative not in wide or len(wide) == 0:
        return {"auroc": float("nan"), "low": float("nan"), "high": float("nan"), "half_width": float("nan"),
                "p": float("nan"), "n": 0}
    pos, neg = wide[positive].to_numpy(float), wide[negative].to_numpy(float)
    problems = list(range(len(pos)))  # resample problems: both variants of each drawn one
    r = auroc_ci(-np.r_[pos, neg], np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)],
                 clusters=problems + problems, n_boot=n_boot, level=level, seed=seed)
    return {"auroc": r["auroc"], "low": r["low"], "high": r["high"], "half_width": r["half_width"], "p": r["p"],
            "n": len(pos)}


def variant_curves(scores: pd.DataFrame, column: str = "entropy", n_points: int = 6, n_boot: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """Mean h_k (`entropy`) or s_k (`surprisal`) over normalised time u = k/K per variant, with
    bootstrap 95% bands. Columns: variant, u, mean, low, high, n."""
    rows = []
    for variant, g in scores.groupby("variant", sort=False):
        u, values, _ = curves_on_grid(g.assign(correct=True), column, n_points)
        mean, low, high = bootstrap_ci(values, n_boot=n_boot, seed=seed)
        rows.append(pd.DataFrame({"variant": variant, "u": u, "mean": mean, "low": low, "high": high,
                                  "n": len(values)}))
    return pd.concat(rows, ignore_index=True)


def step_gains(scores: pd.DataFrame, traces) -> pd.DataFrame:
    """Per-step information gains: one row per (trace, k >= 1) with gain_h = h_{k-1} - h_k and
    gain_s = s_{k-1} - s_k (nats; positive = the step made the answer more certain / the gold more
    likely), gain_raw = the same on the raw log p(gold) (unnormalised, so a larger S_k does not
    count as a loss; when the scorer wrote coverage) and `at_corruption` (the step is the corrupted one: k = corrupted_step + 1)."""
    wrong = {t.id: t.meta.get("corrupted_step") for t in traces}
    s = scores.sort_values(["id", "k"], kind="stable").copy()
    s["s"] = -s["gold_logprob"].astype(float)
    g = s.groupby("id", sort=False)
    s["gain_h"] = -g["entropy"].diff()
    s["gain_s"] = -g["s"].diff()
    cols = ["gain_h", "gain_s"]
    if {"coverage", "gold_in_set"} <= set(s.columns):
        s["raw"] = raw_gold_logprob(s)
        s["gain_raw"] = s.groupby("id", sort=False)["raw"].diff()
        cols.append("gain_raw")
    s = s[s["k"] >= 1].copy()
    step = s["id"].map(wrong)
    s["at_corruption"] = step.notna() & (s["k"] == step.fillna(-9).astype(int) + 1)
    return s[["id", "problem_id", "variant", "k", "n_steps", *cols, "at_corruption"]].reset_index(drop=True)


def at_corruption(scores: pd.DataFrame, traces) -> pd.DataFrame:
    """h and s (nats) of the intact and the corrupted trace of each problem at k* = corrupted_step + 1,
    the first prefix holding the wrong line, for problems where k* < K (the prefix does not yet hold the
    last line, which states the final answer). Columns: problem_id, variant, k, h, s (and s_raw,
    -log p(gold) unnormalised, when the scorer wrote coverage)."""
    star = {t.meta["problem_id"]: t.meta["corrupted_step"] + 1 for t in traces
            if t.meta.get("variant") == "corrupted" and t.meta["corrupted_step"] + 1 < len(t.steps)}
    s = scores[scores["variant"].isin(["intact", "corrupted"]) & scores["problem_id"].isin(star)]
    s = s[s["k"] == s["problem_id"].map(star)]
    out = pd.DataFrame({"problem_id": s["problem_id"], "variant": s["variant"], "k": s["k"],
                        "h": s["entropy"].astype(float), "s": -s["gold_logprob"].astype(float)})
    if {"coverage", "gold_in_set"} <= set(s.columns):
        out["s_raw"] = -raw_gold_logprob(s)
    return out.reset_index(drop=True)


def gain_by_position(gains: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per variant: mean gold-surprisal and entropy gain [95% CI] of the *last* line (which states the
    final answer in a human solution) and of the earlier lines (averaged within each trace first)."""
    rows = []
    for variant, g in gains.groupby("variant", sort=False):
        last = g["k"] == g["n_steps"]
        for col in [c for c in ("gain_s", "gain_raw", "gain_h") if c in g]:
            for where, values in (("last line", g.loc[last, col]),
                                  ("earlier lines", g[~last].groupby("id")[col].mean())):
                values = values.to_numpy(float)
                mean, low, high = bootstrap_ci(values[~np.isnan(values)], n_boot=n_boot, seed=seed)
                rows.append({"variant": variant, "gain": col, "where": where, "mean": mean, "low": low,
                             "high": high, "n": int((~np.isnan(values)).sum())})
    return pd.DataFrame(rows)


def gain_at_corruption(gains: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean gain [95% bootstrap CI] at the corrupted step and at every other step of the corrupted
    traces, and at the *same* step k of the intact twin; plus the paired difference corrupted - intact
    at that step. Rows: one per (quantity, gain_h / gain_s)."""
    corr = gains[gains["variant"] == "corrupted"]
    at = corr[corr["at_corruption"]].set_index("problem_id")
    intact = gains[gains["variant"] == "intact"].set_index(["problem_id", "k"])
    twin = intact.reindex(list(zip(at.index, at["k"])))
    rows = []
    for col in [c for c in ("gain_h", "gain_s", "gain_raw") if c in gains]:
        other = corr[~corr["at_corruption"]].groupby("problem_id")[col].mean()
        parts = {"corrupted step": at[col].to_numpy(float),
                 "other steps (corrupted traces)": other.to_numpy(float),
                 "same step, intact twin": twin[col].to_numpy(float),
                 "corrupted - intact, same step": at[col].to_numpy(float) - twin[col].to_numpy(float)}
        for name, values in parts.items():
            values = values[~np.isnan(values)]
            mean, low, high = bootstrap_ci(values, n_boot=n_boot, seed=seed)
            rows.append({"gain": col, "where": name, "mean": mean, "low": low, "high": high, "n": len(values)})
    return pd.DataFrame(rows)


def verdict(result: dict, claim: str = "the readout separates intact from corrupted human traces") -> tuple[str, str]:
    """(label, sentence) for an AUROC result: the symmetric rule of `siakit.analysis.verdicts`
    (supports if the 95% interval lies above 0.5, contradicts if below, inconclusive otherwise); the
    sentence states n and whether the half-width target is met.

    verdict({"auroc": 0.9, "low": 0.85, "high": 0.95, "half_width": 0.05, "n": 300})[0] -> "supports"
    """
    a, lo, hi, hw, n = (result[k] for k in ("auroc", "low", "high", "half_width", "n"))
    if n == 0 or np.isnan(a):
        return "inconclusive", f"no problems with both variants, so nothing can be said about whether {claim}"
    power = (f"half-width {hw:.3f} meets the {HALF_WIDTH_TARGET} target" if hw <= HALF_WIDTH_TARGET
             else f"half-width {hw:.3f} misses the {HALF_WIDTH_TARGET} target")
    return interval_verdict(lo, hi, 0.5), f"AUROC {a:.3f} [{lo:.3f}, {hi:.3f}] on n = {n} problems ({power})"


def stepwise_verdict(at_star: dict, earlier: dict, units: str = "raw log p(gold)") -> tuple[str, str]:
    """(label, sentence) for "information about the gold arrives line by line, before the answer is
    written": `at_star` is the paired AUROC of -s at the corrupted line (k* < K), `earlier` the mean
    [low, high] gold gain of the intact traces' earlier lines. Symmetric (`verdicts.combine_verdicts`
    of the two interval verdicts): supports when the AUROC interval is above 0.5 *and* the gain's is
    above 0; contradicts only when the AUROC interval is below 0.5 *and* the gain's below 0 (an
    AUROC merely "not above 0.5" contradicts nothing); inconclusive otherwise.

    stepwise_verdict({"low": 0.6, ...}, {"low": 0.1, ...})[0] -> "supports"
    """
    label = combine_verdicts([interval_verdict(at_star["low"], at_star["high"], 0.5),
                              interval_verdict(earlier["low"], earlier["high"], 0.0)])
    return label, (f"at the corrupted line, before the last line, AUROC of -s {at_star['auroc']:.3f} "
                   f"[{at_star['low']:.3f}, {at_star['high']:.3f}] (n = {at_star['n']}, half-width "
                   f"{at_star['half_width']:.3f}); mean gain of {units} over the intact solutions' earlier "
                   f"lines {earlier['mean']:.2f} [{earlier['low']:.2f}, {earlier['high']:.2f}] nats "
                   f"(n = {earlier['n']})")

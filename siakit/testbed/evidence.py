"""The lineage's evidence on the model's own rollouts, each number beside its baseline and null.

The cue readout answers "what would the model say if forced to answer now"; the quantity the theory
is about is the model's own law of the final answer from a prefix, which only its continuations show
(`siakit.testbed.rollouts`). This module turns one lineage result (`run_lineage`) into:

- `rollout_separability`: the AUROC of -h^roll at the mid-trace prefix for correctness, pooled, within
  each rung (>= 10 traces per class), rung-stratified, and the trivial scores -number of terms and -K
  on the same traces (a trivial score as good as the pooled AUROC says the pooled number is difficulty);
- `rollout_steps`: on the every-prefix subset, information per reasoning step h_{k-1} - h_k by class,
  and the change of the rollout gold share at the first wrong line against the other lines;
- `cue_vs_rollouts`: at the same mid-trace prefixes, leader agreement, Jensen-Shannon divergence and
  Spearman of h between the cue readout and the rollouts, and how often each leader is the last
  number written;
- `verdict_table`: one line per prediction, with headline, baseline, null and Holm-adjusted verdict.

The checkpoint's extra scorings (other cues, `enumerate`, shuffled steps) are in
`siakit.testbed.checkpoint_scores`, re-exported here. All entropies in nats. Input frames are the
scorer's long tables (one row per (trace id, k)).

    >>> from siakit.testbed.lineage import LineageConfig
    >>> from siakit.testbed.rollouts import lineage_rollouts
    >>> sets = lineage_rollouts(lm, traces, LineageConfig(rollout_m=4, rollout_subset=4, rollout_subset_m=2,
    ...                                                   max_new_tokens=8), progress=False)
    >>> greedy = {"traces": traces, "rollouts_mid": sets["mid"], "rollouts_all": sets["all"]}
    >>> result = {"checkpoints": [{"name": "base", "stage": "base", "greedy": greedy},   # as run_lineage returns
    ...                           {"name": "end", "stage": "sft", "greedy": greedy}]}   # (here the same model)
    >>> table = verdict_table(result, n_boot=100)   # columns claim, headline, baseline, null, ..., verdict
    >>> [claim[:2] for claim in table["claim"]], table["verdict"].tolist()
    (['1.', '2.', '2b', '3.', '4.'], ['inconclusive', 'inconclusive', 'inconclusive', 'inconclusive', 'inconclusive (too few traces)'])
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from siakit.analysis.agreement import estimator_agreement
from siakit.analysis.baselines import last_number_share, n_terms, separability_rows
from siakit.analysis.stats import auroc_ci, bootstrap_p, paired_auroc_diff, paired_bootstrap_diff
from siakit.analysis.verdicts import family_verdicts
from siakit.testbed.checkpoint_scores import (cue_scores, cue_table, lineage_cue_scores,  # noqa: F401
                                              lineage_enumerate, lineage_step_shuffle, readout_vs_enumerate)
from siakit.testbed.rollouts import mid_rows


def rollout_table(mid: pd.DataFrame, traces) -> pd.DataFrame:
    """One row per trace of a rollout frame at its mid prefix: id, k, K, correct, h (nats), gold_share,
    own_answer_share, rung, n_terms. Traces that hit the token cap are left out (their answer may be cut)."""
    columns = ["id", "k", "K", "correct", "h", "gold_share", "own_answer_share", "rung", "n_terms"]
    if mid is None or mid.empty:
        return pd.DataFrame(columns=columns)
    by_id = {t.id: t for t in traces}
    m = mid_rows(mid)
    m = m[np.array([not by_id[i].meta.get("hit_cap", False) for i in m["id"]], bool)]
    if m.empty:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({"id": m["id"], "k": m["k"].astype(int), "K": m["n_steps"].astype(int),
                         "correct": m["correct"].fillna(False).astype(bool), "h": m["entropy"].astype(float),
                         "gold_share": m["gold_share"].astype(float),
                         "own_answer_share": m["own_answer_share"].astype(float),
                         "rung": [str(by_id[i].meta.get("rung", "")) for i in m["id"]],
                         "n_terms": [n_terms(by_id[i]) for i in m["id"]]}).reset_index(drop=True)


def mid_summary(mid: pd.DataFrame, traces, n_boot: int = 1000, seed: int = 0) -> dict:
    """The mid-trace rollout numbers of one checkpoint on its uncut traces (`rollout_table`): n_correct,
    n_incorrect, the AUROC of -h^roll (auroc, low, high), and by class the mean h^roll (nats), gold
    share and own-answer share (`h_correct`, `gold_share_incorrect`, ...); {} without rollouts."""
    t = rollout_table(mid, traces)
    if t.empty:
        return {}
    y = t["correct"].to_numpy(bool)
    r = auroc_ci(-t["h"].to_numpy(float), y, n_boot=n_boot, seed=seed)
    out = {"n_correct": int(y.sum()), "n_incorrect": int((~y).sum()), "auroc": r["auroc"], "low": r["low"],
           "high": r["high"]}
    for col in ("h", "gold_share", "own_answer_share"):
        for group, mask in (("correct", y), ("incorrect", ~y)):
            v = t.loc[mask, col].to_numpy(float)
            out[f"{col}_{group}"] = float(np.nanmean(v)) if mask.any() else math.nan
    return out


def rollout_separability(mid: pd.DataFrame, traces, min_per_class: int = 10, n_boot: int = 1000,
                         seed: int = 0) -> pd.DataFrame:
    """AUROCs for correctness on the same traces (columns score, scope, auroc, low, high, p, n_pos,
    n_neg): -h^roll pooled, within each rung with >= `min_per_class` per class, rung-stratified; and
    the trivial scores -number of terms, -K."""
    return separability_rows(rollout_table(mid, traces), "-h^roll at u = 0.5", "h",
                             {"-number of terms": "n_terms", "-K": "K"}, min_per_class, n_boot, seed)


def _first_wrong(traces) -> dict:
    return {t.id: t.meta.get("first_wrong_line") for t in traces if not t.correct and t.meta.get("first_wrong_line")}


def rollout_steps(frame: pd.DataFrame, traces, n_boot: int = 1000, seed: int = 0) -> dict:
    """On a rollout frame with every prefix (the subset): per trace the mean of h_{k-1} - h_k over its
    reasoning lines (the answer line apart), its mean by class and the difference correct - incorrect
    (`info_*`); and the rollout gold-share change g_k - g_{k-1} at the first wrong line of incorrect
    traces against their other reasoning lines (`wrong_line_*`, negative: the truth is lost there)."""
    out = {}
    if frame is None or frame.empty:
        return out
    by_id = {t.id: t for t in traces}
    s = frame.sort_values(["id", "k"])
    s = s[np.array([not by_id[i].meta.get("hit_cap", False) for i in s["id"]], bool)]
    if s.empty:
        return out
    per, changes = [], []
    wrong = _first_wrong(traces)
    for tid, g in s.groupby("id", sort=False):
        h, share, k = g["entropy"].to_numpy(float), g["gold_share"].to_numpy(float), g["k"].to_numpy(int)
        K = int(g["n_steps"].iloc[0])
        drop = h[:-1] - h[1:]
        step = k[1:]
        reasoning = step < K  # the step k = K is the answer line
        per.append({"id": tid, "correct": bool(g["correct"].iloc[0]),
                    "info": float(np.nanmean(drop[reasoning])) if reasoning.any() else math.nan})
        if tid in wrong:
            for kk, c in zip(step[reasoning], (share[1:] - share[:-1])[reasoning]):
                changes.append({"id": tid, "at_wrong": kk == wrong[tid], "change": float(c)})
    per = pd.DataFrame(per)
    for group, mask in (("correct", per["correct"]), ("incorrect", ~per["correct"])):
        v = per.loc[mask, "info"].dropna().to_numpy()
        out[f"info_{group}"], out[f"info_{group}_n"] = (float(v.mean()) if len(v) else math.nan), int(len(v))
    a, b = per.loc[per["correct"], "info"].dropna().to_numpy(), per.loc[~per["correct"], "info"].dropna().to_numpy()
    out.update(_diff("info_diff", a, b, n_boot, seed))
    ch = pd.DataFrame(changes, columns=["id", "at_wrong", "change"])
    at, other = ch.loc[ch["at_wrong"], "change"].to_numpy(), ch.loc[~ch["at_wrong"], "change"].to_numpy()
    out.update(_diff("wrong_line", at, other, n_boot, seed))
    out["wrong_line_traces"] = int(ch.loc[ch["at_wrong"], "id"].nunique())
    return out


def _diff(name: str, a, b, n_boot: int, seed: int) -> dict:
    """mean(a) - mean(b) of two independent samples with a percentile bootstrap (each resampled)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = {name: float(a.mean() - b.mean()) if len(a) and len(b) else math.nan, f"{name}_low": math.nan,
           f"{name}_high": math.nan, f"{name}_p": math.nan, f"{name}_n": (int(len(a)), int(len(b)))}
    if len(a) < 2 or len(b) < 2:
        return out
    rng = np.random.default_rng(seed)
    boots = np.array([rng.choice(a, len(a)).mean() - rng.choice(b, len(b)).mean() for _ in range(n_boot)])
    out[f"{name}_low"], out[f"{name}_high"] = (float(x) for x in np.quantile(boots, [0.025, 0.975]))
    out[f"{name}_p"] = bootstrap_p(boots, 0.0)
    return out


def cue_vs_rollouts(scores: pd.DataFrame, mid: pd.DataFrame, traces, n_boot: int = 1000, seed: int = 0) -> dict:
    """The cue readout against the rollouts at the same (trace, k) prefixes: `estimator_agreement`
    (leader agreement, JS divergence, Spearman of h, with intervals), and for each the share of prefixes
    whose leader is the last number written in Q + C_{1:k} (Wilson interval), mid-trace (0 < k < K) only."""
    if mid is None or mid.empty:
        return {}
    m = mid_rows(mid)
    m = m[(m["k"] > 0) & (m["k"] < m["n_steps"])]
    cue = scores.merge(m[["id", "k"]].reset_index(drop=True), on=["id", "k"])
    out = estimator_agreement(cue, m.reset_index(drop=True), n_boot=n_boot, seed=seed)
    for name, frame in (("cue", cue), ("rollouts", m.reset_index(drop=True))):
        share = last_number_share(frame, traces)
        out.update({f"last_number_{name}": share["share"], f"last_number_{name}_low": share["low"],
                    f"last_number_{name}_high": share["high"], f"last_number_{name}_n": share["n"]})
    return out


def verdict_table(result: dict, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One line per prediction of the lineage, stated on the rollouts, Holm-corrected as one family:
    claim, headline, baseline (a trivial score or the cue), null, estimate/low/high/p, verdict.
    Claim 2b compares the first fine-tuned checkpoint with >= 10 traces per class with the end."""
    ckpts = [c for c in result["checkpoints"] if c["stage"] != "rl"]
    first, end = ckpts[0]["greedy"], ckpts[-1]["greedy"]
    tables = {c["name"]: rollout_table(c["greedy"].get("rollouts_mid"), c["greedy"]["traces"]).set_index("id")
              for c in ckpts}  # uncut traces at their mid prefix, one row each
    mid_name = next((c["name"] for c in ckpts[1:] if _enough(tables[c["name"]])), ckpts[-1]["name"])
    rows = []
    acc_a = pd.Series({t.id: float(t.correct) for t in first["traces"]})
    acc_b = pd.Series({t.id: float(t.correct) for t in end["traces"]}).reindex(acc_a.index)
    r = paired_bootstrap_diff(acc_a, acc_b, n_boot=n_boot, seed=seed)
    rows.append({"claim": "1. training raises accuracy (before → end, same problems)",
                 "headline": f"{acc_a.mean():.2f} → {acc_b.mean():.2f}", "baseline": "–",
                 "null_text": "no change (paired bootstrap)", "estimate": r["diff"], "low": r["low"], "high": r["high"],
                 "p": r["p"], "null": 0.0})
    sep = rollout_separability(end["rollouts_mid"], end["traces"], n_boot=n_boot, seed=seed).set_index("scope", drop=False)
    pooled = sep[(sep["score"].str.startswith("-h")) & (sep["scope"] == "pooled")].iloc[0]
    strat = sep[sep["scope"] == "rung-stratified"].iloc[0]
    trivial = sep[~sep["score"].str.startswith("-h")].sort_values("auroc", ascending=False).iloc[0]
    rows.append({"claim": "2. rollout entropy at u = 0.5 separates correct from incorrect (end; within rungs)",
                 "headline": f"pooled {pooled['auroc']:.2f} [{pooled['low']:.2f}, {pooled['high']:.2f}]",
                 "baseline": f"{trivial['score']}: {trivial['auroc']:.2f} [{trivial['low']:.2f}, {trivial['high']:.2f}]",
                 "null_text": "0.5; verdict on the rung-stratified AUROC", "estimate": strat["auroc"], "low": strat["low"],
                 "high": strat["high"], "p": strat["p"], "null": 0.5})
    a, b = tables[mid_name], tables[ckpts[-1]["name"]]
    both = a.add_suffix("_a").join(b.add_suffix("_b"), how="inner")
    r = paired_auroc_diff(-both["h_a"], both["correct_a"], -both["h_b"], both["correct_b"], n_boot=n_boot, seed=seed)
    rows.append({"claim": f"2b. separability rises ({mid_name} → end, same problems)",
                 "headline": f"{r['auroc_a']:.2f} → {r['auroc_b']:.2f}", "baseline": "–",
                 "null_text": "no change (paired bootstrap)", "estimate": r["diff"], "low": r["low"], "high": r["high"],
                 "p": r["p"], "null": 0.0})
    steps = rollout_steps(end["rollouts_all"], end["traces"], n_boot=n_boot, seed=seed)
    n_c, n_i = steps.get("info_diff_n", (0, 0))
    rows.append({"claim": "3. rollout information per reasoning step: correct > incorrect (end, subset)",
                 "headline": f"{steps.get('info_correct', math.nan):.3f} vs {steps.get('info_incorrect', math.nan):.3f} nats "
                             f"(n = {n_c} / {n_i})", "baseline": "–", "null_text": "no difference",
                 "estimate": steps.get("info_diff", math.nan), "low": steps.get("info_diff_low", math.nan),
                 "high": steps.get("info_diff_high", math.nan), "p": steps.get("info_diff_p", math.nan), "null": 0.0})
    rows.append({"claim": "4. the rollout gold share falls at the first wrong line (end, subset)",
                 "headline": f"change at the wrong line − other lines {steps.get('wrong_line', math.nan):+.2f} "
                             f"({steps.get('wrong_line_traces', 0)} traces)", "baseline": "other reasoning lines",
                 "null_text": "no difference", "estimate": steps.get("wrong_line", math.nan),
                 "low": steps.get("wrong_line_low", math.nan), "high": steps.get("wrong_line_high", math.nan),
                 "p": steps.get("wrong_line_p", math.nan), "null": 0.0, "direction": -1})
    frame = pd.DataFrame(rows)
    frame["direction"] = frame["direction"].fillna(1) if "direction" in frame else 1
    judged = family_verdicts(frame)
    frame["p_holm"], frame["verdict"] = judged["p_holm"], judged["verdict"]
    frame.loc[frame["p"].isna(), "verdict"] = "inconclusive (too few traces)"
    return frame.rename(columns={"null": "null_value", "null_text": "null"})


def _enough(table: pd.DataFrame, min_per_class: int = 10) -> bool:
    """Whether a `rollout_table` has >= `min_per_class` correct and incorrect traces."""
    y = table["correct"].astype(bool)
    return min(int(y.sum()), int((~y).sum())) >= min_per_class

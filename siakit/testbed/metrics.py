"""Per-checkpoint statistics of the lineage: accuracy, separability, lock-in, information per step.

The numbers a run page also shows (accuracy, AUROCs of -h and -s at u = 0.5 and 1, h_K and lock-in
by class) are `siakit.analysis.summary.summarize_run` on the uncut traces, kept whole under
`summary`; what only the lineage reads (information per step, the wrong-line jump, the baselines,
calibration) is added here.

Input: the scorer's table for one checkpoint (`siakit.scorer.score_traces`, readout, nats) and that
checkpoint's traces. Proportions get Wilson intervals, everything else a percentile bootstrap over
traces (seeded). Signatures follow `siakit.analysis.signatures` (our operational definitions).

    wilson(17, 32)  -> (0.531, 0.364, 0.691)
    checkpoint_metrics(scores, traces)["auroc_u1"] -> AUROC of -h_K for correctness (0.5 = chance)
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from siakit.analysis.signatures import trace_signatures
from siakit.analysis.summary import summarize_run
from siakit.analysis.stats import auroc_half_width  # noqa: F401  (re-exported: older imports)
from siakit.analysis.stats import bootstrap_ci
from siakit.analysis.stats import proportion_ci as wilson  # (p, low, high), Wilson; the old name
from siakit.data.answers import normalize_number


def _rate(prefix: str, flags) -> dict:
    flags = [bool(f) for f in flags]
    p, lo, hi = wilson(sum(flags), len(flags))
    return {prefix: p, f"{prefix}_low": lo, f"{prefix}_high": hi, f"{prefix}_n": len(flags)}


def step_drops(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (trace, k >= 1): the information gained at step k, h_{k-1} - h_k, and the gold-surprisal
    change s_k - s_{k-1} (nats); `last` marks the final step (the "The answer is N." line)."""
    rows = []
    for tid, g in scores.sort_values(["id", "k"]).groupby("id", sort=False):
        h, s = g["entropy"].to_numpy(float), -g["gold_logprob"].to_numpy(float)
        K = len(h) - 1
        for k in range(1, K + 1):
            rows.append({"id": tid, "k": k, "K": K, "last": k == K, "drop": h[k - 1] - h[k],
                         "surprisal_change": s[k] - s[k - 1], "correct": bool(g["correct"].iloc[0])})
    return pd.DataFrame(rows, columns=["id", "k", "K", "last", "drop", "surprisal_change", "correct"])


def _mean_ci(prefix: str, values, n_boot: int, seed: int) -> dict:
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    point, lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed) if len(values) else (math.nan,) * 3
    return {prefix: point, f"{prefix}_low": lo, f"{prefix}_high": hi, f"{prefix}_n": int(len(values))}


def checkpoint_metrics(scores: pd.DataFrame, traces, n_boot: int = 1000, seed: int = 0) -> dict:
    """Every statistic of one checkpoint (see the module docstring); traces that hit the token cap
    are counted in accuracy but left out of the entropy signatures (their answer may be cut off)."""
    out = {"n": len(traces)}
    out.update(_rate("accuracy", [t.correct for t in traces]))
    out.update(_rate("hit_cap", [t.meta.get("hit_cap", False) for t in traces]))
    out.update(_rate("short_K", [len(t.steps) <= 2 for t in traces]))
    cut = {t.id for t in traces if t.meta.get("hit_cap")}
    scores = scores[~scores["id"].isin(cut)]
    out["n_scored"] = int(scores["id"].nunique())
    if out["n_scored"] == 0:
        return out
    out.update(_rate("accuracy_scored", [t.correct for t in traces if t.id not in cut]))  # the traces signatures read
    # the numbers every run page shows come from the one run summary, on the uncut traces (u = 0, 0.5, 1)
    summary = summarize_run(scores, [t for t in traces if t.id not in cut], n_points=3, n_boot=n_boot, seed=seed)
    out["summary"] = summary
    for name in ("u05", "u1"):
        for tag, key in (("", "h"), ("_surprisal", "s")):
            for end in ("", "_low", "_high"):
                value = summary.get(f"auroc_{key}_{name}{end}")
                out[f"auroc{tag}_{name}{end}"] = math.nan if value is None else value
    sigs = trace_signatures(scores)
    ok = sigs["correct"].fillna(False).astype(bool)
    out["n_correct_scored"], out["n_incorrect_scored"] = int(ok.sum()), int((~ok).sum())
    out.update(_rate("locked_correct", sigs.loc[ok, "locked"]))
    out.update(_rate("locked_incorrect", sigs.loc[~ok, "locked"]))
    out.update(_rate("locked_to_gold_correct", sigs.loc[ok, "locked_to_gold"]))
    out.update(_rate("locked_to_gold_incorrect", sigs.loc[~ok, "locked_to_gold"]))
    drops = step_drops(scores)
    per_trace = drops.groupby("id").agg(drop=("drop", "mean"), correct=("correct", "first"))
    reasoning = drops[~drops["last"]].groupby("id").agg(drop=("drop", "mean"), correct=("correct", "first"))
    for name, frame in (("info_per_step", per_trace), ("info_per_reasoning_step", reasoning)):
        out.update(_mean_ci(name, frame["drop"], n_boot, seed))
        for group, mask in (("correct", frame["correct"]), ("incorrect", ~frame["correct"])):
            out.update(_mean_ci(f"{name}_{group}", frame.loc[mask, "drop"], n_boot, seed))
    for group, mask in (("correct", ok), ("incorrect", ~ok)):
        out.update(_mean_ci(f"h_0_{group}", sigs.loc[mask, "h_0"], n_boot, seed))
        out.update(_mean_ci(f"h_final_{group}", sigs.loc[mask, "h_final"], n_boot, seed))
    final = scores.sort_values("k").groupby("id").tail(1)
    agree = [normalize_number(str(r.leading_option)) == normalize_number(str(r.answer))
             for r in final.itertuples() if r.answer is not None]
    out.update(_rate("leader_agrees", agree))
    if "coverage" in scores.columns:
        first = scores.sort_values("k").groupby("id").head(1)
        out.update(_mean_ci("coverage_k0", first["coverage"], n_boot, seed))
        out.update(_mean_ci("coverage_final", final["coverage"], n_boot, seed))
    out.update(wrong_step_jump(scores, traces, n_boot, seed))
    out.update(baseline_metrics(scores, traces, n_boot, seed))
    return out


def baseline_metrics(scores: pd.DataFrame, traces, n_boot: int = 1000, seed: int = 0) -> dict:
    """The baselines beside the headline numbers (`siakit.analysis.baselines`): the rung-stratified
    AUROC of -h at u = 0.5 and within each rung with >= 10 traces per class (`auroc_u05_strat`,
    `auroc_u05_<rung>`), the AUROCs of trivial scores (`auroc_terms`: -number of terms, `auroc_K`: -K,
    `auroc_log_options`: -log|S_k| at u = 0.5), the share of mid-trace prefixes whose readout leader is
    the last number written (`last_number_share`), and the ECE of the final readout (`ece`); each with
    `_low`/`_high`."""
    from siakit.analysis.baselines import last_number_share, separability_baselines
    from siakit.analysis.calibration import calibration

    out = {}
    trivial = {"-number of terms": "auroc_terms", "-K": "auroc_K", "-log|S_k| at u = 0.5": "auroc_log_options"}
    for r in separability_baselines(scores, traces, 0.5, n_boot=n_boot, seed=seed).itertuples():
        if r.score.startswith("-h at"):  # the pooled one is auroc_u05 already
            name = {"pooled": None, "rung-stratified": "auroc_u05_strat"}.get(r.scope, f"auroc_u05_{r.scope[5:]}")
        else:
            name = trivial[r.score]
        if name:
            out.update({name: r.auroc, f"{name}_low": r.low, f"{name}_high": r.high})
    share = last_number_share(scores, traces)
    out.update({"last_number_share": share["share"], "last_number_share_low": share["low"],
                "last_number_share_high": share["high"], "last_number_share_n": share["n"]})
    if {"option_probs", "leading_option", "gold"} <= set(scores.columns):
        _, ece = calibration(scores, "final", n_boot=n_boot, seed=seed)
        out.update({"ece": ece["ece"], "ece_low": ece["low"], "ece_high": ece["high"]})
    return out


def wrong_step_jump(scores: pd.DataFrame, traces, n_boot: int = 1000, seed: int = 0) -> dict:
    """Gold surprisal change s_k - s_{k-1} (nats) at the first arithmetically wrong line of incorrect
    traces, against their other reasoning lines: SIA read at the step where the truth is lost."""
    wrong = {t.id: t.meta.get("first_wrong_line") for t in traces if not t.correct and t.meta.get("first_wrong_line")}
    drops = step_drops(scores[scores["id"].isin(wrong)])
    if drops.empty:
        return {"wrong_step_n": 0}
    at = drops[drops["k"] == drops["id"].map(wrong)]
    other = drops[(drops["k"] != drops["id"].map(wrong)) & ~drops["last"]]
    out = _mean_ci("surprisal_jump_wrong_step", at["surprisal_change"], n_boot, seed)
    out.update(_mean_ci("surprisal_jump_other_steps", other["surprisal_change"], n_boot, seed))
    out["wrong_step_n"] = int(len(at))
    return out


def rung_accuracy(traces) -> pd.DataFrame:
    """Accuracy per ladder rung with Wilson intervals: columns rung, level, n, accuracy, low, high."""
    rows = {}
    for t in traces:
        rows.setdefault((t.meta.get("level", 0), t.meta.get("rung", "")), []).append(bool(t.correct))
    out = []
    for (level, rung), flags in sorted(rows.items()):
        p, lo, hi = wilson(sum(flags), len(flags))
        out.append({"rung": rung, "level": level, "n": len(flags), "accuracy": p, "low": lo, "high": hi})
    return pd.DataFrame(out, columns=["rung", "level", "n", "accuracy", "low", "high"])

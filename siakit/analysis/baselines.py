"""Baselines beside every headline number: what a score with no stepwise information already gives.

- `separability_baselines`: the AUROC of -h at normalised time u pooled, within each rung (rungs with
  enough traces of both classes), stratified by rung (pairs within a rung only), and the AUROCs of
  trivial scores on the same traces: -number of terms, -K, -log|S_k|.
- `copy_reader_auroc`: the AUROC of a reader that copies the last number written,
  1[last number written == gold], on the same pairs of human traces.
- `last_number_share`: how often the cue readout's leader is simply the last number written.
- `information_by_rung`: h_0, h_K and K per rung (so "information per step" = (h_0 - h_K)/K can be
  read off), and the gold-surprisal gain on reasoning lines only (the answer line apart).
- `raw_gold_logprob`: the terminated, *unnormalised* log p(gold) per row, recovered exactly from the
  stored renormalised gold_logprob and the coverage of S_k (it does not grow with |S_k|).

Input: the scorer's long table (one row per (trace id, k), nats) and the traces (`siakit.data.traces`).

    >>> trace_table(scores, traces)[["id", "correct", "K", "n_terms", "rung", "h_u"]].round(3)   # one row per trace
       id  correct  K  n_terms rung    h_u
    0  t0     True  2      2.0   t2  0.031
    1  t1     True  2      3.0   t3  0.560
    2  t2    False  2      2.0   t2  0.385
    3  t3    False  2      3.0   t3  0.663

(`scores`, `traces`: the four tiny traces of the doctest namespace, scored by a random-weight model.)
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from siakit.analysis.stats import auroc_ci, bootstrap_ci, proportion_ci
from siakit.data.answers import mentioned_numbers, normalize_number


def at_u(scores: pd.DataFrame, u: float = 0.5, column: str = "entropy") -> pd.Series:
    """Each trace's `column` at normalised time u = k/K (linear interpolation over defined prefixes,
    as `signatures.curves_on_grid`), indexed by trace id. `column` may be "surprisal" (-gold_logprob).

    at_u(frame with a trace h = [1.0, 0.5, 0.0], 0.25) -> a: 0.75
    """
    s = scores.sort_values(["id", "k"], kind="stable")
    if column == "surprisal":
        s = s.assign(surprisal=-s["gold_logprob"].astype(float))
    out = {}
    for tid, g in s.groupby("id", sort=False):
        y = g[column].to_numpy(float)
        x = np.arange(len(y)) / max(len(y) - 1, 1)
        ok = np.isfinite(y)
        out[tid] = float(np.interp(u, x[ok], y[ok])) if ok.any() else math.nan
    return pd.Series(out, name=column, dtype=float)


def n_terms(trace) -> float:
    """Number of terms of a testbed chain from its rung label ("t4" or "t4d2" -> 4); else the count of
    numbers in the question; NaN without either."""
    m = re.fullmatch(r"t(\d+)(?:d\d+)?", str(trace.meta.get("rung", "")))
    if m:
        return float(m.group(1))
    q = trace.meta.get("question")
    return float(len(mentioned_numbers(q))) if q else math.nan


def last_number(text: str) -> str | None:
    """The last number written in `text` (normalised), or None: last_number("3 + 4 = 7.") -> "7"."""
    nums = mentioned_numbers(text or "")
    return nums[-1] if nums else None


def trace_table(scores: pd.DataFrame, traces=None, u: float = 0.5) -> pd.DataFrame:
    """One row per scored trace: id, correct, K, h_0, h_K, s_0, s_K, h_u (h at u), log_n_options_u
    (log|S_k| at u, when `n_options` is there) and, with traces, rung and n_terms."""
    s = scores.sort_values(["id", "k"], kind="stable")
    g = s.groupby("id", sort=False)
    out = pd.DataFrame({"correct": g["correct"].first().astype(bool), "K": g["k"].max().astype(int),
                        "h_0": g["entropy"].first(), "h_K": g["entropy"].last()})
    if "gold_logprob" in s:
        out["s_0"], out["s_K"] = -g["gold_logprob"].first(), -g["gold_logprob"].last()
    out["h_u"] = at_u(s, u)
    if "n_options" in s:
        out["log_n_options_u"] = at_u(s.assign(log_n=np.log(np.maximum(s["n_options"].astype(float), 1))), u, "log_n")
    if traces is not None:
        by_id = {t.id: t for t in traces}
        out["rung"] = [str(by_id[i].meta.get("rung", "")) if i in by_id else "" for i in out.index]
        out["n_terms"] = [n_terms(by_id[i]) if i in by_id else math.nan for i in out.index]
    return out.rename_axis("id").reset_index()


def separability_baselines(scores: pd.DataFrame, traces, u: float = 0.5, min_per_class: int = 10,
                           n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """AUROCs for correctness at u on the same traces, one row each: -h_u pooled, -h_u within each rung
    with >= `min_per_class` correct and incorrect traces, -h_u stratified by rung, and the trivial
    scores -n_terms, -K, -log|S_k| at u (pooled). Columns: score, scope, auroc, low, high, half_width,
    p, n_pos, n_neg. A trivial score that matches the pooled AUROC says the pooled number is difficulty.
    """
    t = trace_table(scores, traces, u)
    trivial = {"-number of terms": "n_terms", "-K": "K"}
    if "log_n_options_u" in t:
        trivial[f"-log|S_k| at u = {u:g}"] = "log_n_options_u"
    return separability_rows(t, f"-h at u = {u:g}", "h_u", trivial, min_per_class, n_boot, seed)


def separability_rows(t: pd.DataFrame, score: str, column: str, trivial: dict, min_per_class: int = 10,
                      n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The rows of `separability_baselines` from a per-trace table `t` (columns correct, rung and the
    named ones): -t[column] pooled, within each rung with >= `min_per_class` per class, rung-stratified,
    then -t[c] pooled for each {name: c} of `trivial`."""
    y = t["correct"].to_numpy(bool)
    rows = []

    def add(name, scope, values, mask=None, strata=None):
        m = np.ones(len(t), bool) if mask is None else mask
        r = auroc_ci(-np.asarray(values, float)[m], y[m], strata=None if strata is None else strata[m],
                     n_boot=n_boot, seed=seed)
        rows.append({"score": name, "scope": scope, **r})

    add(score, "pooled", t[column])
    rung = t["rung"].to_numpy()
    for r in sorted(set(rung), key=lambda x: (len(x), x)):
        m = rung == r
        if min(int(y[m].sum()), int((~y[m]).sum())) >= min_per_class:
            add(score, f"rung {r}", t[column], m)
    add(score, "rung-stratified", t[column], strata=rung)
    for name, col in trivial.items():
        add(name, "pooled", t[col])
    return pd.DataFrame(rows)


def _is_gold(number, gold) -> bool:
    return number is not None and normalize_number(str(gold)) == number


def copy_reader_auroc(traces, positive: str = "intact", negative: str = "corrupted", n_boot: int = 2000,
                      seed: int = 0, lines: dict | None = None) -> dict:
    """AUROC of the "copy the last number" reader, 1[last number written == gold], for `positive`
    against `negative` human traces (meta variant, problem_id), over problems with both; problems are
    resampled with both twins (`stats.auroc_ci` with clusters). `lines`: {problem_id: k} reads only
    the first k lines of both twins (problems not in it are left out). Keys as `auroc_ci` + n (problems).

    copy_reader_auroc(traces)["auroc"] -> ~0.99 on GSM8K intact vs corrupted (the written answer changes)
    """
    score = {}
    for t in traces:
        v = t.meta.get("variant")
        pid = t.meta.get("problem_id")
        if v in (positive, negative) and (lines is None or pid in lines):
            steps = t.steps if lines is None else t.steps[: lines[pid]]
            score[(pid, v)] = float(_is_gold(last_number("".join(steps)), t.gold))
    problems = [p for p in dict.fromkeys(p for p, _ in score) if (p, positive) in score and (p, negative) in score]
    values = [score[(p, positive)] for p in problems] + [score[(p, negative)] for p in problems]
    labels = [True] * len(problems) + [False] * len(problems)
    r = auroc_ci(values, labels, clusters=problems + problems, n_boot=n_boot, seed=seed) if problems else \
        {"auroc": math.nan, "low": math.nan, "high": math.nan, "half_width": math.nan, "p": math.nan}
    return {**r, "n": len(problems)}


def last_number_share(scores: pd.DataFrame, traces, mid_only: bool = True) -> dict:
    """Share of prefixes whose readout leader is the last number written in Q + C_{1:k} (the question
    counts when no step has a number yet), with its Wilson interval. `mid_only`: 0 < k < K only (at
    k = K the last number is the written answer). Returns share, low, high, n.

    last_number_share(scores, traces)["share"] -> 1.0 when the readout copies the running sum
    """
    by_id = {t.id: t for t in traces}
    hits = n = 0
    for r in scores[["id", "k", "n_steps", "leading_option"]].itertuples(index=False):
        t = by_id.get(r.id)
        if t is None or r.leading_option is None or (mid_only and not 0 < r.k < r.n_steps):
            continue
        last = last_number("".join(t.steps[: r.k])) or last_number(t.meta.get("question", ""))
        n += 1
        hits += int(last is not None and normalize_number(str(r.leading_option)) == last)
    p, low, high = proportion_ci(hits, n)
    return {"share": p, "low": low, "high": high, "n": n}


def raw_gold_logprob(scores: pd.DataFrame) -> pd.Series:
    """Terminated, unnormalised log p(gold) per row (nats), recovered from the stored columns: with
    q = p(gold) renormalised over S_k + {gold} and C = coverage of S_k, p_raw = q C when the gold is
    in S_k, else q C / (1 - q). Unlike s_k it does not rise when S_k gains competitors.

    raw_gold_logprob(rows with gold_logprob log 0.5, coverage 0.4, gold_in_set False) -> log 0.4
    """
    q = np.exp(scores["gold_logprob"].astype(float).to_numpy())
    c = scores["coverage"].astype(float).to_numpy()
    inside = scores["gold_in_set"].fillna(False).astype(bool).to_numpy() if "gold_in_set" in scores else np.ones(len(q), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(inside, q * c, q * c / (1 - q))
        return pd.Series(np.log(p), index=scores.index, name="raw_gold_logprob")


def reasoning_gains(scores: pd.DataFrame, column: str = "gold_logprob") -> pd.DataFrame:
    """Per trace: mean gain of `column` (log p(gold): gain = l_k - l_{k-1}; `entropy`: h_{k-1} - h_k)
    over its reasoning lines 1 <= k < K and at the answer line k = K. Columns: id, reasoning, answer_line."""
    sign = -1.0 if column == "entropy" else 1.0
    rows = []
    for tid, g in scores.sort_values(["id", "k"], kind="stable").groupby("id", sort=False):
        d = sign * np.diff(g[column].to_numpy(float))
        rows.append({"id": tid, "reasoning": float(np.nanmean(d[:-1])) if len(d) > 1 and np.isfinite(d[:-1]).any()
                     else math.nan, "answer_line": float(d[-1]) if len(d) else math.nan})
    return pd.DataFrame(rows, columns=["id", "reasoning", "answer_line"])


def information_by_rung(scores: pd.DataFrame, traces, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per rung: n, mean K, h_0, h_K (nats), (h_0 - h_K)/K (what "information per step" telescopes
    to), and the mean gold-surprisal gain s_{k-1} - s_k on reasoning lines only (answer line apart),
    with its 95% bootstrap interval over traces."""
    t = trace_table(scores, traces).set_index("id")
    gains = reasoning_gains(scores).set_index("id")
    t["gain"] = gains["reasoning"]
    rows = []
    for rung, g in sorted(t.groupby("rung", sort=False), key=lambda kv: (len(kv[0]), kv[0])):
        mean, low, high = bootstrap_ci(g["gain"].dropna().to_numpy(float), n_boot=n_boot, seed=seed)
        rows.append({"rung": rung, "n": len(g), "K": g["K"].mean(), "h_0": g["h_0"].mean(), "h_K": g["h_K"].mean(),
                     "(h_0 - h_K)/K": ((g["h_0"] - g["h_K"]) / g["K"].clip(lower=1)).mean(),
                     "gold gain, reasoning lines": mean, "gain_low": low, "gain_high": high})
    return pd.DataFrame(rows)

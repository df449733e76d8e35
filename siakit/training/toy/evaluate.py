"""Evaluating a toy checkpoint: held-out fit, its own traces, their readout entropies and signatures.

`evaluate` samples one trace per evaluation problem, scores every prefix through `readout.score`
(the project's scorer when present), adds the exact Bayes entropy of each of the model's OWN prefixes
(`bayes_entropy`: how much its prefix actually tells about the true answer, the coupling of the theory chapter
section 3.1) and reduces the table to curves over k by correctness, AUROC of -h_k and lock-in.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from siakit.models.loading import LoadedModel
from siakit.analysis.stats import auroc
from siakit.analysis.summary import summarize_run
from siakit.training.toy.humans import unknown_counts
from siakit.training.toy.readout import score
from siakit.training.toy.rollout import rollout
from siakit.training.toy.text import Codec, make_trace
from siakit.training.toy.train import heldout_fit
from siakit.training.toy.world import HumanTrace, Problem, unknown_entropy


def _mean_by_k(df: pd.DataFrame, column: str, K: int) -> list[float | None]:
    """Mean of `column` at k = 0..K (None where no trace has that k)."""
    means = df.groupby("k")[column].mean()
    return [None if k not in means.index else float(means[k]) for k in range(K + 1)]


def bayes_gap(df: pd.DataFrame) -> pd.Series:
    """Mean over prefixes of |h_k - H_Bayes(A | Q, C_{1:k})| (nats): per prefix, THEN averaged, so
    errors of opposite sign do not cancel (|mean h - mean Bayes| would let them). Needs the columns
    `entropy` and `bayes_entropy` (`add_bayes`); returns the mean per k plus `all` (every prefix).

    bayes_gap(pd.DataFrame({"k": [0, 0], "entropy": [1.0, 0.0], "bayes_entropy": [0.5, 0.5]}))
    -> k=0: 0.5, all: 0.5   (while |mean - mean| would be 0)
    """
    gap = (df["entropy"].astype(float) - df["bayes_entropy"].astype(float)).abs()
    by_k = gap.groupby(df["k"]).mean()
    return pd.concat([by_k, pd.Series({"all": float(gap.mean())})])


def curve_metrics(df: pd.DataFrame, K: int) -> dict:
    """Accuracy, mean h_k by correctness, AUROC of -h_k per k, final entropy and lock-in by correctness."""
    correct = df["correct"].fillna(False).astype(bool)
    out = {"accuracy": float(df.groupby("id")["correct"].first().fillna(False).astype(bool).mean()),
           "n_traces": int(df["id"].nunique())}
    for name, part in (("all", df), ("correct", df[correct]), ("incorrect", df[~correct])):
        out[f"h_{name}"] = _mean_by_k(part, "entropy", K)
        out[f"bayes_own_{name}"] = _mean_by_k(part, "bayes_entropy", K) if "bayes_entropy" in df else None
    if "bayes_entropy" in df:
        out["bayes_abs_gap"] = float(bayes_gap(df)["all"])  # mean |h_k - Bayes| over prefixes, nats
    out["auroc"] = [auroc(-g["entropy"].to_numpy(), g["correct"].fillna(False).astype(bool).to_numpy())
                    for _, g in df.groupby("k")][:K + 1]
    run = summarize_run(df, n_boot=0)  # the run summary every page shares, under its keys
    for key in ("n_correct", "n_incorrect", "h_final_correct", "h_final_incorrect", "locked_correct",
                "locked_incorrect", "lock_u_correct", "lock_u_incorrect"):
        out[key] = run[key]
    return out


def own_traces(model, codec: Codec, problems: list[Problem], seed: int, name: str):
    """One sampled trace per problem as `Trace` records (id = problem index), plus the rollouts."""
    gen = torch.Generator(device=model.device).manual_seed(seed)
    r = rollout(model, codec, problems, generator=gen)
    traces = [make_trace(str(i), codec.world, p, s, a, model=name, unknown=unknown_counts(p, s))
              for i, (p, s, a) in enumerate(zip(r.problems, r.steps, r.answers))]
    return traces, r


def add_bayes(df: pd.DataFrame, traces, world) -> pd.DataFrame:
    """Column `bayes_entropy`: exact H(A | Q, C_{1:k}) of each scored prefix (nats)."""
    u = {t.id: t.meta["unknown"] for t in traces}
    df = df.copy()
    df["bayes_entropy"] = [unknown_entropy(world, u[str(i)][int(k)]) for i, k in zip(df["id"], df["k"])]
    return df


def evaluate(lm: LoadedModel, codec: Codec, problems: list[Problem], heldout: list[HumanTrace],
             seed: int, backend: str = "auto") -> tuple[dict, pd.DataFrame]:
    """(metrics, per-prefix scores) of one checkpoint; metrics hold held-out nll/kl and `curve_metrics`."""
    fit = heldout_fit(lm.model, codec, heldout) if heldout else {}
    traces, _ = own_traces(lm.model, codec, problems, seed, lm.name)
    df = add_bayes(score(lm, codec, traces, backend), traces, codec.world)
    metrics = {**fit, **curve_metrics(df, codec.world.n_terms)}
    return metrics, df


def human_bayes_curves(humans: list[HumanTrace], world) -> dict:
    """Exact Bayes entropies along complete human traces, averaged by the human's correctness."""
    rows = [(h.correct, k, unknown_entropy(world, u)) for h in humans for k, u in enumerate(h.unknown)]
    df = pd.DataFrame(rows, columns=["correct", "k", "bayes_entropy"])
    out = {"accuracy": float(np.mean([h.correct for h in humans])), "n": len(humans)}
    for name, part in (("correct", df[df.correct]), ("incorrect", df[~df.correct])):
        out[name] = _mean_by_k(part, "bayes_entropy", world.n_terms)
    finals = df[df.k == world.n_terms]
    out["auroc_final"] = auroc(-finals["bayes_entropy"].to_numpy(), finals["correct"].to_numpy())
    return out


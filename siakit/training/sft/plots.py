"""Figures of the SFT experiment (`siakit.training.sft.finetune`): training, entropy curves and metrics before/after.

Inputs are the run's `summary.json` (a dict) and `scores.parquet` (a DataFrame with a `stage`
column, "before" or "after"); entropies are in nats over normalised time u = k/K.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from siakit.analysis.signatures import mean_curves
from siakit.analysis.stats import wilson_interval
from siakit.display import style


def training(summary: dict):
    """SFT loss per step (nats per solution token) and the held-out NLL before and after."""
    fig, ax = plt.subplots(figsize=style.size(1))
    ax.plot(np.arange(1, len(summary["train_loss"]) + 1), summary["train_loss"], ".-", label="training batch")
    nll = summary["heldout_nll"]
    ax.axhline(nll["before"], color="grey", ls="--", label=f"held-out, before ({nll['before']:.3f})")
    ax.axhline(nll["after"], color="k", ls="-", label=f"held-out, after ({nll['after']:.3f})")
    ax.set(xlabel="optimizer step", ylabel="NLL (nats / solution token)")
    style.legend_outside(ax)
    return fig


def entropy_curves(scores: pd.DataFrame, n_points: int = 6, n_boot: int = 200):
    """Rows: datasets; columns: before / after. Mean h over u by correctness with bootstrap bands."""
    datasets = sorted(scores["dataset"].unique())
    fig, axes = plt.subplots(len(datasets), 2, figsize=style.size(len(datasets)), sharey=True, squeeze=False)
    colors = {"correct": "tab:green", "incorrect": "tab:red", "all": "grey"}
    for i, ds in enumerate(datasets):
        for j, stage in enumerate(("before", "after")):
            ax = axes[i][j]
            part = scores[(scores["dataset"] == ds) & (scores["stage"] == stage)]
            if len(part):
                curves = mean_curves(part, n_points=n_points, n_boot=n_boot)
                for group, g in curves.groupby("group"):
                    if group == "all":
                        continue
                    ax.plot(g["u"], g["mean"], "o-", ms=3, color=colors[group], label=f"{group} (n={g['n'].iloc[0]})")
                    ax.fill_between(g["u"], g["low"], g["high"], color=colors[group], alpha=0.15)
            ax.set_title(f"{ds}, {stage} SFT")
            ax.set_xlabel("normalised step $u = k/K$")
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
        axes[i][0].set_ylabel("mean $h$ (nats)")
    return fig


def before_after(summary: dict):
    """Per dataset (rows): accuracy and AUROC of -h_K with 95% intervals (left, unitless), and final
    entropy of correct / incorrect traces (right, nats), before and after SFT. Values are printed on
    the bars, so a zero bar reads as 0 and a missing one as "n/a"."""
    res = summary["results"]
    datasets = sorted({k.split("/", 1)[1] for k in res})
    fig, axes = plt.subplots(len(datasets), 2, figsize=style.size(len(datasets)), squeeze=False)
    for row, ds in zip(axes, datasets):
        left, right = row
        for shift, stage, color in ((-0.2, "before", "0.6"), (0.2, "after", "tab:blue")):
            r = res[f"{stage}/{ds}"]
            acc_low, acc_high = wilson_interval(r["n_correct"], r["n_traces"])
            values = [r["accuracy"], r.get("auroc_h_u1")]
            lows = [acc_low, r.get("auroc_h_u1_low")]
            highs = [acc_high, r.get("auroc_h_u1_high")]
            _bars(left, np.arange(2) + shift, values, lows, highs, color, f"{stage} SFT")
            _bars(right, np.arange(2) + shift, [r.get("h_final_correct"), r.get("h_final_incorrect")],
                  None, None, color, f"{stage} SFT")
        left.set_xticks(range(2), ["accuracy", "AUROC of $-h_K$"])
        left.set(ylim=(0, 1.1), ylabel="proportion / AUROC", title=f"{ds}: 95% intervals")
        left.axhline(0.5, color="0.5", ls=":", lw=1)
        right.set_xticks(range(2), ["final $h_K$, correct", "final $h_K$, incorrect"])
        right.set(ylabel="entropy (nats)", title=f"{ds}: final entropy")
        style.legend_outside(right)
    return fig


def _bars(ax, x, values, lows, highs, color, label):
    vals = np.array([np.nan if v is None else v for v in values], dtype=float)
    err = None
    if lows is not None:
        lo = np.array([np.nan if v is None else v for v in lows], dtype=float)
        hi = np.array([np.nan if v is None else v for v in highs], dtype=float)
        err = np.vstack([np.clip(vals - lo, 0, None), np.clip(hi - vals, 0, None)])
        err = np.nan_to_num(err)
    ax.bar(x, np.nan_to_num(vals), 0.4, yerr=err, color=color, label=label)
    for xi, v in zip(x, vals):
        ax.text(xi, (0 if np.isnan(v) else v) + 0.02, "n/a" if np.isnan(v) else f"{v:.2f}",
                ha="center", va="bottom", fontsize=style.FONT - 2)

"""Figures of the SFT experiment (`siakit.training.sft.finetune`): training, entropy curves and metrics before/after.

Inputs are the run's `summary.json` (a dict) and `scores.parquet` (a DataFrame with a `stage`
column, "before" or "after"); entropies are in nats over normalised time u = k/K.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from siakit.analysis.signatures import mean_curves


def training(summary: dict):
    """SFT loss per step (nats per solution token) and the held-out NLL before and after."""
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.plot(np.arange(1, len(summary["train_loss"]) + 1), summary["train_loss"], ".-", label="training batch")
    nll = summary["heldout_nll"]
    ax.axhline(nll["before"], color="grey", ls="--", label=f"held-out, before ({nll['before']:.3f})")
    ax.axhline(nll["after"], color="k", ls="-", label=f"held-out, after ({nll['after']:.3f})")
    ax.set(xlabel="optimizer step", ylabel="NLL (nats / solution token)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def entropy_curves(scores: pd.DataFrame, n_points: int = 6, n_boot: int = 200):
    """Rows: datasets; columns: before / after. Mean h over u by correctness with bootstrap bands."""
    datasets = sorted(scores["dataset"].unique())
    fig, axes = plt.subplots(len(datasets), 2, figsize=(9, 2.8 * len(datasets)), sharey=True, squeeze=False)
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
            ax.set_title(f"{ds}, {stage} SFT", fontsize=9)
            ax.set_xlabel("normalised step u = k/K")
            ax.legend(fontsize=7)
        axes[i][0].set_ylabel("mean $h$ (nats)")
    fig.tight_layout()
    return fig


def before_after(summary: dict):
    """Accuracy, AUROC of -h_K, and final entropy of correct / incorrect traces, per dataset."""
    res = summary["results"]
    datasets = sorted({k.split("/", 1)[1] for k in res})
    names = ["accuracy", "auroc_h_u1", "h_final_correct", "h_final_incorrect"]
    labels = ["accuracy", "AUROC of $-h_K$", "final $h$, correct", "final $h$, incorrect"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 2.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        x = np.arange(len(names))
        for shift, stage in ((-0.2, "before"), (0.2, "after")):
            vals = [res[f"{stage}/{ds}"].get(n) for n in names]
            ax.bar(x + shift, [np.nan if v is None else v for v in vals], 0.4, label=f"{stage} SFT")
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_title(ds, fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

"""Figures of the toy experiment, drawn from its `summary.json` (a dict) alone.

Every function takes the summary and returns a matplotlib Figure; entropies are in nats and k is
the number of reasoning steps in the prefix (k = 0: the question alone).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from siakit.display import style


def _nan(xs):
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def entropy_curves(summary: dict):
    """One panel per checkpoint: the model's mean h_k on its own correct / incorrect traces, the exact
    Bayes curve of human traces, and the exact Bayes entropy of the model's own prefixes."""
    curves = summary["model_curves"]
    bayes = np.array(summary["bayes_curve"])
    k = np.arange(len(bayes))
    ncols = min(2, len(curves))
    nrows = -(-len(curves) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=style.size(nrows), sharey=True, squeeze=False,
                             layout="constrained")  # the legend goes outside, below the panels
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    for ax, c in zip(axes.flat, curves):
        ax.plot(k, bayes, "k--", lw=1.5, label="Bayes, human traces")
        ax.plot(k, _nan(c["bayes_own"]), ":", color="grey", label="Bayes, own prefixes")
        ax.plot(k, _nan(c["correct"]), "o-", color="tab:green", ms=3, label="model, correct traces")
        ax.plot(k, _nan(c["incorrect"]), "o-", color="tab:red", ms=3, label="model, incorrect traces")
        ax.set_title(f"step {c['step']}")
        # this checkpoint's own counts (the shared legend below holds only the line styles)
        ax.text(0.03, 0.04, f"n = {c['n_correct']} correct, {c['n_incorrect']} incorrect", transform=ax.transAxes,
                ha="left", va="bottom", fontsize=style.FONT - 2, color="0.25")  # low left: curves start high
        ax.set_xlabel("k (steps in prefix)")
        ax.set_xticks(k)
    for row in axes:
        row[0].set_ylabel("mean $h_k$ (nats)")
    axes[0][0].set_ylim(bottom=0)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2)
    return fig


def training(summary: dict):
    """Held-out NLL per token (with the data law's floor), KL per trace and accuracy over MLE steps."""
    steps = np.array(summary["checkpoints"])
    x = np.maximum(steps, 1)  # log axis: step 0 (initialisation) drawn at 1
    fig, axes = plt.subplots(2, 2, figsize=style.size(2))
    (a, b), (c, off) = axes
    off.axis("off")
    a.plot(x, summary["heldout_nll"], "o-", label="tiny GPT")
    a.axhline(summary["heldout_nll_data"], color="k", ls="--", label="data law (floor)")
    a.set(xscale="log", xlabel="training step (0 drawn at 1)", ylabel="held-out NLL (nats/token)")
    a.legend()
    b.plot(x, np.maximum(summary["heldout_kl"], 1e-3), "o-")
    b.set(xscale="log", yscale="log", xlabel="training step", ylabel="KL(data || model) per trace (nats)")
    c.plot(x, summary["accuracy"], "o-", label="own traces")
    c.axhline(summary["bayes_human"]["accuracy"], color="k", ls="--", label="human traces")
    c.set(xscale="log", xlabel="training step", ylabel="accuracy", ylim=(0, 1))
    c.legend()
    return fig


def separability(summary: dict):
    """AUROC of -h_k for correctness at each k, one line per checkpoint (0.5 = chance)."""
    fig, ax = plt.subplots(figsize=style.size(1, 0.85))
    cmap = plt.get_cmap("viridis")
    n = len(summary["checkpoints"])
    for i, (step, auc) in enumerate(zip(summary["checkpoints"], summary["separability"])):
        ax.plot(np.arange(len(auc)), _nan(auc), "o-", ms=3, color=cmap(i / max(n - 1, 1)), label=f"step {step}")
    ax.axhline(0.5, color="k", lw=0.8)
    ax.set(xlabel="k (steps in prefix)", ylabel="AUROC of $-h_k$ for correctness", ylim=(0.3, 1.0))
    style.legend_outside(ax)
    return fig


def rl_before_after(summary: dict):
    """Mean h_k by correctness before and after RL, and the headline numbers side by side."""
    rl = summary["rl"]
    k = np.arange(len(summary["bayes_curve"]))
    fig = plt.figure(figsize=style.size(2))
    grid = fig.add_gridspec(2, 3)
    a, b, h = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, :2]), fig.add_subplot(grid[1, 2])
    for tag, r, ls in (("MLE", rl["before"], "--"), ("RL", rl["after"], "-")):
        a.plot(k, _nan(r["h_correct"]), ls, color="tab:green", marker="o", ms=3, label=f"{tag}, correct")
        a.plot(k, _nan(r["h_incorrect"]), ls, color="tab:red", marker="o", ms=3, label=f"{tag}, incorrect")
    a.set(xlabel="k (steps in prefix)", ylabel="mean $h_k$ (nats)", xticks=k)
    a.set_ylim(bottom=0)
    style.legend_outside(a)
    names = ["accuracy", "AUROC at $K$", "locked in"]  # shares in [0, 1]; the final entropy (nats) has its own axes

    def nums(r):
        n = r["n_correct"] + r["n_incorrect"]
        locked = ((r["locked_correct"] or 0) * r["n_correct"] + (r["locked_incorrect"] or 0) * r["n_incorrect"]) / n
        return [r["accuracy"], _nan(r["auroc"])[-1], locked]

    x = np.arange(len(names))
    for shift, tag, r, color in ((-0.2, "MLE checkpoint", rl["before"], "tab:blue"), (0.2, "after RL", rl["after"], "tab:orange")):
        b.bar(x + shift, nums(r), 0.4, color=color, label=tag)
        h.bar([shift], [_nan(r["h_all"])[-1]], 0.4, color=color)
    b.set_xticks(x, names)
    b.set(ylabel="share / AUROC", ylim=(0, 1))
    h.set_xticks([-0.2, 0.2], ["MLE", "RL"])
    h.set(ylabel="final $h_K$ (nats)")
    h.set_ylim(bottom=0)
    b.legend(loc="upper left", fontsize=style.FONT - 2)
    return fig

"""Figures of the testbed lineage (`siakit.testbed.lineage.run_lineage`'s result): every point carries
its interval (Wilson for proportions, percentile bootstrap otherwise); entropies in nats over
normalised time u = k/K."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from siakit.analysis.signatures import mean_curves
from siakit.display import style
from siakit.display.tables import interval

COLORS = {"correct": "tab:green", "incorrect": "tab:red", "all": "grey"}


def _labels(result: dict, decode: str) -> list[str]:
    return [c["name"] for c in result["checkpoints"] if decode in c]


def _series(result: dict, key: str, decode: str = "greedy"):
    """(x labels, value, low, high) of one metric across checkpoints."""
    ms = [c[decode]["metrics"] for c in result["checkpoints"] if decode in c]
    get = lambda m, k: float(m.get(k, np.nan)) if m.get(k) is not None else np.nan  # noqa: E731
    return (_labels(result, decode), np.array([get(m, key) for m in ms]),
            np.array([get(m, f"{key}_low") for m in ms]), np.array([get(m, f"{key}_high") for m in ms]))


def _errorbar(ax, x, y, lo, hi, **kw):
    err = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
    err = np.where(np.isnan(err), 0, err)
    ax.errorbar(x, y, yerr=err, capsize=3, marker="o", **kw)


def training_loss(result: dict):
    """Fine-tuning loss per step (nats per solution token) with the kept checkpoints marked."""
    losses = result["train_log"]["losses"]
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.plot(np.arange(1, len(losses) + 1), losses, ".-", color="k")
    for c in result["checkpoints"]:
        if c["stage"] == "sft":
            ax.axvline(c["step"], color="grey", ls=":", lw=1)
    ax.set(xlabel="optimizer step", ylabel="loss (nats / token)", yscale="log", title="fine-tuning")
    return fig


def accuracy_ladder(result: dict, decode: str = "greedy"):
    """Accuracy per rung of the ladder, one line per checkpoint, Wilson 95% intervals."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    entries = [c for c in result["checkpoints"] if decode in c]
    for j, c in enumerate(entries):
        r = c[decode]["rungs"]
        x = r["level"].to_numpy() + (j - (len(entries) - 1) / 2) * 0.06
        _errorbar(ax, x, r["accuracy"].to_numpy(), r["low"].to_numpy(), r["high"].to_numpy(), label=c["name"])
    if entries:
        r = entries[0][decode]["rungs"]
        ax.set_xticks(r["level"], [f"{lab}\n(n={n})" for lab, n in zip(r["rung"], r["n"])])
    ax.set(xlabel="rung (number of terms)", ylabel="accuracy", ylim=(-0.03, 1.03), title=f"accuracy ({decode})")
    ax.legend(fontsize=9)
    return fig


def curves(result: dict, column: str = "entropy", decode: str = "greedy", n_points: int = 6, n_boot: int = 300):
    """One panel per checkpoint: mean h_k (or s_k) over u by correctness with 95% bootstrap bands.
    Traces cut at the token cap are left out."""
    entries = [c for c in result["checkpoints"] if decode in c]
    fig, axes = plt.subplots(1, len(entries), figsize=style.size(1), sharey=True, squeeze=False)  # column wide
    for ax, c in zip(axes[0], entries):
        cut = {t.id for t in c[decode]["traces"] if t.meta.get("hit_cap")}
        scores = c[decode]["scores"]
        scores = scores[~scores["id"].isin(cut)]
        if len(scores):
            for group, g in mean_curves(scores, column, n_points, n_boot).groupby("group"):
                if group == "all":
                    continue
                ax.plot(g["u"], g["mean"], color=COLORS[group], label=f"{group} (n={int(g['n'].iloc[0])})")
                ax.fill_between(g["u"], g["low"], g["high"], color=COLORS[group], alpha=0.2)
        ax.set_title(f"{c['name']}\n({len(cut)} cut at the cap)", fontsize=style.FONT - 1)
        ax.set_xlabel("$u = k/K$")
        ax.legend(fontsize=style.FONT - 3)
    axes[0][0].set_ylabel({"entropy": "$h_k$ (nats)", "surprisal": "$s_k$ (nats)"}[column])
    return fig


def lineage_panels(result: dict, decode: str = "greedy"):
    """Across checkpoints: accuracy (Wilson), AUROC of -h at u = 0.5 and 1 (bootstrap), and information
    per step h_{k-1} - h_k by correctness (bootstrap), side by side."""
    fig, axes = plt.subplots(3, 1, figsize=style.size(3), sharex=True)  # stacked: titles never collide
    x_labels, *acc = _series(result, "accuracy", decode)
    x = np.arange(len(x_labels))
    _errorbar(axes[0], x, *acc, color="k")
    axes[0].set(ylabel="accuracy", ylim=(-0.03, 1.03), title="accuracy (Wilson 95%)")
    for off, key, label in ((-0.05, "auroc_u05", "u = 0.5"), (0.05, "auroc_u1", "u = 1")):
        _, *s = _series(result, key, decode)
        _errorbar(axes[1], x + off, *s, label=label)
    axes[1].axhline(0.5, color="grey", ls="--", lw=1)
    axes[1].set(ylabel="AUROC of $-h_k$", ylim=(0, 1.02), title="separability (bootstrap 95%)")
    axes[1].legend(fontsize=9)
    for off, group in ((-0.05, "correct"), (0.05, "incorrect")):
        _, *s = _series(result, f"info_per_reasoning_step_{group}", decode)
        _errorbar(axes[2], x + off, *s, color=COLORS[group], label=group)
    axes[2].axhline(0.0, color="grey", ls="--", lw=1)
    axes[2].set(ylabel="mean $h_{k-1} - h_k$ (nats)", title="information per reasoning step (bootstrap 95%)")
    axes[2].legend(fontsize=9)
    for ax in axes:
        ax.set_xticks(x, x_labels)
    return fig


def table(result: dict, decode: str = "greedy") -> pd.DataFrame:
    """The headline numbers per checkpoint as formatted strings "value [low, high]" (3 significant
    digits; "–" where a number is undefined)."""
    keys = [("accuracy", "accuracy"), ("AUROC -h, u=0.5", "auroc_u05"), ("AUROC -h, u=1", "auroc_u1"),
            ("AUROC -s, u=0.5", "auroc_surprisal_u05"), ("info/step (nats)", "info_per_step"),
            ("info/reasoning step, correct", "info_per_reasoning_step_correct"),
            ("info/reasoning step, incorrect", "info_per_reasoning_step_incorrect"),
            ("h_0, correct", "h_0_correct"), ("h_0, incorrect", "h_0_incorrect"),
            ("h_K, correct", "h_final_correct"), ("h_K, incorrect", "h_final_incorrect"),
            ("locked in, correct", "locked_correct"), ("locked in, incorrect", "locked_incorrect"),
            ("leader = written answer", "leader_agrees"), ("cut at token cap", "hit_cap"),
            ("s jump at wrong line", "surprisal_jump_wrong_step"),
            ("s jump at other lines", "surprisal_jump_other_steps")]
    rows = {}
    for c in result["checkpoints"]:
        if decode not in c:
            continue
        m = c[decode]["metrics"]
        col = {"n (correct / incorrect)": f"{m['n']} ({m.get('n_correct_scored', 0)} / {m.get('n_incorrect_scored', 0)})"}
        for label, key in keys:
            v = m.get(key)
            col[label] = interval(v, m.get(key + "_low"), m.get(key + "_high"))  # 3 significant digits, – if missing
        rows[c["name"]] = col
    return pd.DataFrame(rows)

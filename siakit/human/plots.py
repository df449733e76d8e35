"""Figures of the human-traces chapter: curves per variant, information gains, final-value spreads.

Each function draws on matplotlib axes it is given and returns nothing; inputs are the tables of
`siakit.human.stats` (nats throughout).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

def _title(ax, title: str) -> None:
    """A panel title that fits half the column: the formula, if any, on its own line.

        "entropy gain $h_{k-1} - h_k$" -> "entropy gain\n$h_{k-1} - h_k$"
    """
    at = title.find("$")
    ax.set_title(title[:at].rstrip() + "\n" + title[at:] if at > 0 else title, fontsize=10)


COLORS = {"intact": "tab:green", "corrupted": "tab:red", "shuffled": "tab:orange", "foreign": "tab:gray"}


def plot_variant_curves(ax, curves: pd.DataFrame, ylabel: str) -> None:
    """Mean curve per variant over u = k/K with its bootstrap 95% band (`variant_curves` output)."""
    for variant, g in curves.groupby("variant", sort=False):
        color = COLORS.get(variant)
        ax.plot(g["u"], g["mean"], marker="o", ms=3, color=color, label=f"{variant} (n={int(g['n'].iloc[0])})")
        ax.fill_between(g["u"], g["low"], g["high"], color=color, alpha=0.2)
    ax.set_xlabel("normalised step u = k/K")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)


def plot_gains(ax, table: pd.DataFrame, gain: str, title: str) -> None:
    """Mean gain with 95% interval at each place (`gain_at_corruption` output, one gain column)."""
    rows = table[table["gain"] == gain].reset_index(drop=True)
    y = np.arange(len(rows))[::-1]
    err = np.vstack([rows["mean"] - rows["low"], rows["high"] - rows["mean"]])
    colors = ["tab:red", "tab:red", "tab:green", "tab:purple"][: len(rows)]
    ax.barh(y, rows["mean"], xerr=err, color=colors, alpha=0.6, capsize=3)
    ax.set_yticks(y, [f"{w} (n={n})" for w, n in zip(rows["where"], rows["n"])], fontsize=9)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("mean gain (nats): positive = the step helped")
    _title(ax, title)
    ax.grid(alpha=0.3, axis="x")


def plot_final_pairs(ax, finals: pd.DataFrame, column: str, xlabel: str) -> None:
    """Distribution of a final value per variant (one box per variant, points jittered on top)."""
    variants = [v for v in COLORS if v in set(finals["variant"])]
    data = [finals.loc[finals["variant"] == v, column].to_numpy(float) for v in variants]
    ax.boxplot(data, vert=False, showfliers=False)
    rng = np.random.default_rng(0)
    for i, (v, values) in enumerate(zip(variants, data), start=1):
        ax.scatter(values, i + rng.uniform(-0.15, 0.15, len(values)), s=6, alpha=0.4, color=COLORS[v])
    ax.set_yticks(range(1, len(variants) + 1), variants)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="x")


def plot_gain_by_position(ax, table: pd.DataFrame, gain: str, title: str) -> None:
    """Mean gain [95% CI] of the last line and of the earlier lines, per variant (`gain_by_position`)."""
    rows = table[table["gain"] == gain]
    variants = [v for v in COLORS if v in set(rows["variant"])]
    for j, where in enumerate(("earlier lines", "last line")):
        sub = rows[rows["where"] == where].set_index("variant").reindex(variants)
        x = np.arange(len(variants)) + (j - 0.5) * 0.35
        err = np.vstack([sub["mean"] - sub["low"], sub["high"] - sub["mean"]])
        ax.bar(x, sub["mean"], width=0.35, yerr=err, capsize=3, label=where,
               color=[COLORS[v] for v in variants], alpha=0.35 if j == 0 else 0.8)
    ax.set_xticks(np.arange(len(variants)), variants)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("mean gain (nats)")
    _title(ax, title)
    from matplotlib.patches import Patch  # the bars take their variant's colour: the legend shows the shade

    ax.legend(handles=[Patch(color="0.3", alpha=0.35, label="earlier lines"), Patch(color="0.3", alpha=0.8, label="last line")],
              fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    ax.grid(alpha=0.3, axis="y")

"""The book's figures: mean entropy curves, separability, distributions, early exit, and across runs.

Each `plot_*` draws on a matplotlib `Axes` from the tables of `siakit.analysis.signatures` /
`siakit.analysis.early_exit` and returns the axes; an empty group is skipped and said so in the axes title,
never an error. (`siakit.experiment.store.collect_runs` gathers the stored runs they draw.)

    fig, ax = plt.subplots(); plot_mean_curves(ax, mean_curves(scores))   # h_k vs u, bands by correctness
"""
from __future__ import annotations

import numpy as np
import pandas as pd

COLORS = {"all": "0.4", "correct": "tab:green", "incorrect": "tab:red"}
FAMILIES = ("smollm2", "gemma", "llama", "deepseek", "qwen", "olmo")  # checked in this order (R1-distill-Qwen is deepseek)
# Training lineages: (label, [(stage, model id), ...]) in training order; stages absent from results are skipped.
LINEAGES = [
    ("OLMo-2 1B", [("base", "allenai/OLMo-2-0425-1B"), ("SFT", "allenai/OLMo-2-0425-1B-SFT"),
                   ("DPO", "allenai/OLMo-2-0425-1B-DPO"), ("RL", "allenai/OLMo-2-0425-1B-Instruct")]),
    ("Qwen2.5 1.5B", [("base", "Qwen/Qwen2.5-1.5B"), ("instruct", "Qwen/Qwen2.5-1.5B-Instruct")]),
    ("Llama-3.2 1B", [("base", "meta-llama/Llama-3.2-1B"), ("instruct", "meta-llama/Llama-3.2-1B-Instruct")]),
    ("Gemma-2 2B", [("base", "google/gemma-2-2b"), ("instruct", "google/gemma-2-2b-it")]),
]


def model_family(model: str) -> str:
    """'Qwen/Qwen2.5-7B-Instruct' -> 'qwen'; 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B' -> 'deepseek'."""
    low = model.lower()
    return next((f for f in FAMILIES if f in low), "other")


def _empty(ax, message: str):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=9, wrap=True)
    return ax


def plot_mean_curves(ax, bands: pd.DataFrame, ylabel: str = "$h_k$ (nats)", groups=("correct", "incorrect"),
                     log_A: float | None = None):
    """Mean curve and 95% bootstrap band per group over normalised time u = k/K (`mean_curves` table);
    `log_A`: draw the maximum entropy log|A| (nats) as a reference line."""
    shown = []
    if log_A is not None:
        ax.axhline(log_A, color="0.5", linestyle=":", linewidth=1, label=f"$\\log|A|$ = {log_A:.2f}")
    for group in groups:
        g = bands[bands["group"] == group]
        if len(g):
            ax.plot(g["u"], g["mean"], color=COLORS[group], label=f"{group} (n={int(g['n'].iloc[0])})")
            ax.fill_between(g["u"], g["low"], g["high"], color=COLORS[group], alpha=0.2, linewidth=0)
            shown.append(group)
    missing = [g for g in groups if g not in shown]
    ax.set(xlabel="normalised step $u = k/K$", ylabel=ylabel,
           title="no traces in: " + ", ".join(missing) if missing else "")
    if shown:
        ax.legend()
    else:
        _empty(ax, "no traces")
    return ax


def plot_answer_mass(ax, scores: pd.DataFrame, n_boot: int = 300, seed: int = 0):
    """`enumerate`'s answer mass over normalised time u = k/K, all traces: the enumerated numeric,
    the non-numeric and the unexplored mass (mean and 95% bootstrap band; they sum to 1)."""
    from siakit.analysis.signatures import mean_curves

    for column, color in (("enumerated_mass", "tab:blue"), ("non_numeric_mass", "tab:orange"),
                          ("unexplored_mass", "0.4")):
        g = mean_curves(scores, column, n_boot=n_boot, seed=seed)
        g = g[g["group"] == "all"]
        if len(g):
            ax.plot(g["u"], g["mean"], color=color, label=column.replace("_mass", "").replace("_", "-"))
            ax.fill_between(g["u"], g["low"], g["high"], color=color, alpha=0.2, linewidth=0)
    ax.set(xlabel="normalised step $u = k/K$", ylabel="mass after the cue", ylim=(-0.02, 1.02))
    ax.legend(frameon=False)
    return ax


def plot_separability(ax, sep: pd.DataFrame, label: str = ""):
    """AUROC of -h_k (and -s_k) for correctness vs u, with bootstrap bands; 0.5 = chance."""
    ax.axhline(0.5, color="0.6", linestyle=":", linewidth=1)
    ax.set(xlabel="normalised step $u = k/K$", ylabel="AUROC for correctness", ylim=(-0.02, 1.02))
    if sep["auroc_entropy"].isna().all():
        return _empty(ax, "AUROC undefined: all traces correct or all incorrect")
    for name, symbol, color in (("entropy", "h_k", "tab:blue"), ("surprisal", "s_k", "tab:orange")):
        if f"auroc_{name}" in sep:
            ax.plot(sep["u"], sep[f"auroc_{name}"], color=color, label=f"{label}$-{symbol}$")
            ax.fill_between(sep["u"], sep[f"auroc_{name}_low"], sep[f"auroc_{name}_high"], color=color,
                            alpha=0.15, linewidth=0)
    ax.legend()
    return ax


def plot_reliability(ax, table: pd.DataFrame, label: str = "", color: str = "tab:blue"):
    """Reliability diagram from `siakit.analysis.calibration.reliability`: accuracy (Wilson 95% bars)
    against the mean p(leader) per bin; the diagonal is perfect calibration."""
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1)
    ax.set(xlabel="p(leader)", ylabel="share: leader = gold", xlim=(0, 1.02), ylim=(-0.02, 1.02))
    if not len(table):
        return _empty(ax, "no readout rows")
    err = np.vstack([table["accuracy"] - table["low"], table["high"] - table["accuracy"]])
    ax.errorbar(table["confidence"], table["accuracy"], yerr=err, marker="o", color=color, capsize=2,
                label=f"{label} (n={int(table['n'].sum())})".strip())
    ax.legend()
    return ax


def plot_by_group(ax, sigs: pd.DataFrame, column: str, xlabel: str, bins: int = 10, empty: str | None = None,
                  limits: tuple[float, float] | None = None):
    """Histogram of one per-trace signature for correct and incorrect traces (NaN values are counted
    in the legend as 'none', e.g. traces that never lock in). `limits`: the bins span this range (a
    lock-in time lives in [0, 1], even when every trace has the same value); counts get integer ticks."""
    from matplotlib.ticker import MaxNLocator

    values = sigs[column].astype(float) if len(sigs) else pd.Series(dtype=float)
    finite = values.dropna()
    edges = (np.histogram_bin_edges(finite, bins=bins, range=limits) if len(finite) else bins)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if limits is not None:
        ax.set_xlim(*limits)
    drawn = False
    for group, mask in (("correct", sigs.get("correct") == True), ("incorrect", sigs.get("correct") != True)):  # noqa: E712
        if len(sigs) == 0 or not mask.any():
            continue
        v = values[mask]
        if v.notna().any():
            ax.hist(v.dropna(), bins=edges, color=COLORS[group], alpha=0.5,
                    label=f"{group} ({int(v.notna().sum())}; none: {int(v.isna().sum())})")
            drawn = True
    ax.set(xlabel=xlabel, ylabel="traces")
    if drawn:
        ax.legend()
    else:
        _empty(ax, empty or f"no trace has a value of {column}")
    return ax


def plot_early_exit(ax, table: pd.DataFrame, label: str = "", **kw):
    """Accuracy vs share of reasoning tokens saved, one point per threshold (`simulate_early_exit`)."""
    t = table.sort_values("tokens_saved")
    ax.plot(t["tokens_saved"], t["accuracy"], marker="o", markersize=3, label=label or None, **kw)
    ax.set(xlabel="reasoning tokens saved (share)", ylabel="accuracy", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    return ax


def plot_narrowing(axes, probs: np.ndarray, gold: int, labels: list[str]):
    """The introduction's picture: the answer distribution after k = 0..K steps, one bar chart per
    axes (`probs` [K+1, |A|], rows sum to 1), the gold bar highlighted and h_k (nats) in each title."""
    for k, (ax, p) in enumerate(zip(axes, probs)):
        h = float(-(p[p > 0] * np.log(p[p > 0])).sum())
        ax.bar(range(len(p)), p, color=["tab:green" if i == gold else "0.7" for i in range(len(p))])
        ax.set(xticks=range(len(p)), xticklabels=labels, ylim=(0, 1), title=f"k = {k}\n$h_k$ = {h:.2f} nats")

    return axes


def readable(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for a page: floats rounded, missing values (NaN, None) shown as "–" rather than NaN.

        readable(pd.DataFrame({"lock_u": [0.5, np.nan]}))  ->  lock_u: 0.5, –
    """
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].round(digits)
    return shown.astype(object).where(shown.notna(), "–")

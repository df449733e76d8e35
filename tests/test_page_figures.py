"""Figure defects the page review found stay fixed: per-panel counts, one quantity per axis, rendered
math in labels, integer count ticks, lock-in time inside [0, 1], titles that fit their panel."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from siakit.human import plots as human_plots  # noqa: E402
from siakit.report.figures import plot_by_group  # noqa: E402
from siakit.testbed import plots as testbed_plots  # noqa: E402
from siakit.training.toy import plots as toy_plots  # noqa: E402


def test_lock_in_histogram_stays_in_unit_interval_with_integer_counts():
    sigs = pd.DataFrame({"lock_u": [1.0, 1.0, np.nan, 1.0], "correct": [True, False, False, True]})
    fig, ax = plt.subplots()
    plot_by_group(ax, sigs, "lock_u", "lock-in time $u$", limits=(0, 1))
    fig.canvas.draw()
    assert ax.get_xlim() == (0.0, 1.0)  # one value (u = 1) no longer stretches the axis to 1.5
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close(fig)


def _toy_summary():
    bayes = list(np.linspace(2.3, 0.4, 4))
    curves = [{"step": s, "bayes_own": bayes, "correct": bayes, "incorrect": bayes, "n_correct": c, "n_incorrect": 256 - c}
              for s, c in ((0, 33), (600, 200))]
    run = {"h_correct": bayes, "h_incorrect": bayes, "accuracy": 0.5, "h_all": bayes, "auroc": [0.5] * 4,
           "n_correct": 10, "n_incorrect": 10, "locked_correct": 0.5, "locked_incorrect": 0.1}
    return {"model_curves": curves, "bayes_curve": bayes, "rl": {"before": run, "after": {**run, "accuracy": 0.7}}}


def test_toy_panels_carry_their_own_counts_and_units_stay_apart():
    fig = toy_plots.entropy_curves(_toy_summary())
    texts = [" ".join(t.get_text() for t in ax.texts) for ax in fig.axes[:2]]
    assert "n = 33 correct, 223 incorrect" in texts[0] and "n = 200 correct, 56 incorrect" in texts[1]
    assert not any("n=" in t.get_text() for t in fig.legends[0].get_texts())  # the shared legend: styles only
    fig = toy_plots.rl_before_after(_toy_summary())
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "share / AUROC" in labels and "final $h_K$ (nats)" in labels  # accuracy and nats on separate axes
    plt.close("all")


def test_testbed_and_human_labels_are_math_and_titles_fit():
    keys = ["accuracy", "auroc_u05", "auroc_u1", "info_per_reasoning_step_correct", "info_per_reasoning_step_incorrect"]
    metrics = {**{k: 0.5 for k in keys}, **{f"{k}_low": 0.4 for k in keys}, **{f"{k}_high": 0.6 for k in keys}}
    result = {"checkpoints": [{"name": n, "greedy": {"metrics": metrics}} for n in ("before", "halfway", "end")]}
    fig = testbed_plots.lineage_panels(result)
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy", "AUROC of $-h_k$", "mean $h_{k-1} - h_k$ (nats)"]
    assert len({round(ax.get_position().y0, 3) for ax in fig.axes}) == 3  # stacked, not side by side
    fig, ax = plt.subplots()
    human_plots._title(ax, "entropy gain $h_{k-1} - h_k$")
    assert ax.get_title() == "entropy gain\n$h_{k-1} - h_k$"
    plt.close("all")


def test_testbed_table_three_significant_digits_and_dash():
    metrics = {"n": 8, "accuracy": 0.125, "accuracy_low": 0.0224, "accuracy_high": 0.471, "auroc_u05": float("nan")}
    table = testbed_plots.table({"checkpoints": [{"name": "end", "greedy": {"metrics": metrics}}]})
    assert table.at["accuracy", "end"] == "0.125 [0.0224, 0.471]"
    assert table.at["AUROC -h, u=0.5", "end"] == "–" and table.at["AUROC -s, u=0.5", "end"] == "–"

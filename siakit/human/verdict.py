"""The human-trace chapter's verdict table: every claim the page states, its headline number, the
trivial baseline that could produce it without stepwise information, its null, and the verdict after
Holm's correction across the page's family of claims (`siakit.analysis.verdicts`).

Baselines: for AUROCs, the "copy the last number" reader 1[last number written == gold] on the same
pairs (`siakit.analysis.baselines.copy_reader_auroc`); for gains of the gold's raw log-probability,
the same lines' gain in the *foreign* control (another problem's solution), so that the verdict is on
intact minus foreign, paired over problems.

    >>> from siakit.human.cache import HumanRunConfig, load_or_score
    >>> from siakit.human.stats import at_corruption, final_rows, step_gains
    >>> run = load_or_score(HumanRunConfig(model=lm.name, n=4, shard=4), root=getfixture("tmp_path"), lm=lm,
    ...                     progress=False, records=gsm8k_records)   # 4 problems x 4 variants, a tiny model
    >>> s, traces = run.scores, run.traces
    >>> table = verdict_table(final_rows(s), at_corruption(s, traces), step_gains(s, traces), traces, n_boot=200)
    >>> len(table), table.loc[0, "claim"]                  # one row per claim; Holm across the seven
    (7, 'the final readout follows the written solution (-s_K, intact vs corrupted)')
    >>> table.loc[0, ["estimate", "p", "p_holm"]].astype(float).round(3).tolist(), table.loc[0, "verdict"]
    ([0.625, 0.005, 0.035], 'supports')
    >>> table["verdict"].value_counts().to_dict()
    {'inconclusive': 6, 'supports': 1}
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from siakit.analysis.baselines import copy_reader_auroc
from siakit.analysis.stats import paired_bootstrap_diff
from siakit.analysis.verdicts import combine_verdicts, family_verdicts
from siakit.human.stats import paired_auroc

ONLY_ANSWER_LINE = "this reader gains gold information only at the answer line"


def _ci(x: float, lo: float, hi: float, digits: int = 3) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def per_problem_gain(gains: pd.DataFrame, col: str, where: str) -> pd.DataFrame:
    """Mean `col` gain per (problem, variant) over the answer line (`where` = "last line": k = K) or
    the earlier lines (k < K), as a wide frame [problems x variants]."""
    last = gains["k"] == gains["n_steps"]
    part = gains[last] if where == "last line" else gains[~last]
    return part.groupby(["problem_id", "variant"])[col].mean().unstack("variant")


def _gain_row(claim: str, gains: pd.DataFrame, col: str, where: str, n_boot: int, seed: int) -> dict:
    wide = per_problem_gain(gains, col, where)
    if "intact" not in wide:
        return {"claim": claim, "estimate": math.nan, "null": 0.0, "p": math.nan}
    intact = wide["intact"].dropna()
    mean = paired_bootstrap_diff(np.zeros(len(intact)), intact.to_numpy(float), n_boot=n_boot, seed=seed)
    row = {"claim": claim, "headline": f"{_ci(mean['diff'], mean['low'], mean['high'], 2)} nats (intact, n = {mean['n']})",
           "null": 0.0}
    if "foreign" in wide:
        both = wide[["intact", "foreign"]].dropna()
        d = paired_bootstrap_diff(both["foreign"].to_numpy(float), both["intact"].to_numpy(float), n_boot=n_boot,
                                  seed=seed)
        f = both["foreign"].mean()
        row.update(baseline=f"{f:.2f} nats (foreign control, same problems)",
                   adjusted=f"{_ci(d['diff'], d['low'], d['high'], 2)} (intact - foreign, n = {d['n']})",
                   estimate=d["diff"], low=d["low"], high=d["high"], p=d["p"], n=d["n"])
    else:
        row.update(baseline="– (no foreign control)", adjusted=row["headline"], estimate=mean["diff"],
                   low=mean["low"], high=mean["high"], p=mean["p"], n=mean["n"])
    return row


def verdict_table(finals: pd.DataFrame, star: pd.DataFrame, gains: pd.DataFrame, traces, n_boot: int = 2000,
                  seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """One row per claim: claim, headline, baseline, null, adjusted (the number the verdict is read
    on), estimate, low, high, p, p_holm, verdict. AUROC claims are read on the headline AUROC against
    0.5 (the copy reader beside it says how much of it a reader with no stepwise information gets);
    gain claims on intact minus foreign. Inputs: `human.stats.final_rows`, `at_corruption`, `step_gains`."""
    rows = []
    star_lines = {p: int(k) for p, k in zip(star["problem_id"], star["k"])}
    auroc_claims = [
        ("the final readout follows the written solution (-s_K, intact vs corrupted)", finals, "s_final",
         "corrupted", None),
        ("the model's own entropy flags the corrupted solution (-h_K, intact vs corrupted)", finals, "h_final",
         "corrupted", None),
        ("the wrong line already lowers p(gold), before the answer line (raw -s at the corrupted line)", star,
         "s_raw" if "s_raw" in star else "s", "corrupted", star_lines),
        ("the final readout follows the order of the lines (-s_K, intact vs shuffled)", finals, "s_final",
         "shuffled", None),
        ("the final readout follows this problem's lines (-s_K, intact vs foreign)", finals, "s_final",
         "foreign", None),
    ]
    for claim, table, col, negative, lines in auroc_claims:
        if negative not in set(table["variant"]):
            continue
        r = paired_auroc(table, col, "intact", negative, n_boot=n_boot, seed=seed)
        c = copy_reader_auroc(traces, "intact", negative, n_boot=n_boot, seed=seed, lines=lines)
        rows.append({"claim": claim, "headline": f"AUROC {_ci(r['auroc'], r['low'], r['high'])} (n = {r['n']})",
                     "baseline": f"copy-last-number AUROC {_ci(c['auroc'], c['low'], c['high'])}",
                     "null": 0.5, "adjusted": f"AUROC {_ci(r['auroc'], r['low'], r['high'])}",
                     "estimate": r["auroc"], "low": r["low"], "high": r["high"], "p": r["p"], "n": r["n"]})
    col = "gain_raw" if "gain_raw" in gains else "gain_s"
    rows.append(_gain_row("earlier lines raise p(gold) (raw log p(gold) gain per line)", gains, col,
                          "earlier lines", n_boot, seed))
    rows.append(_gain_row("the answer line raises p(gold) (raw log p(gold) gain)", gains, col, "last line",
                          n_boot, seed))
    table = family_verdicts(rows, alpha)
    return table[["claim", "headline", "baseline", "null", "adjusted", "estimate", "low", "high", "p", "p_holm",
                  "verdict", "n", "family"]]


def stepwise_label(table: pd.DataFrame) -> tuple[str, str]:
    """(label, what is measured) for "information about the gold arrives line by line": the combined
    verdict of the corrupted-line AUROC and the earlier-line gain (`verdicts.combine_verdicts`), and a
    sentence naming what this reader does; `ONLY_ANSWER_LINE` when the answer line supports and the
    stepwise label does not."""
    get = lambda start: table.loc[table["claim"].str.startswith(start), "verdict"]  # noqa: E731
    star, earlier, answer = get("the wrong line"), get("earlier lines"), get("the answer line")
    parts = [v.iloc[0] for v in (star, earlier) if len(v)]
    label = combine_verdicts(parts) if parts else "inconclusive"
    if label != "supports" and len(answer) and answer.iloc[0] == "supports":
        return label, ONLY_ANSWER_LINE
    if label == "supports":
        return label, "this reader gains gold information line by line, before the answer line"
    return label, "this reader shows no clear gain of gold information at any line"

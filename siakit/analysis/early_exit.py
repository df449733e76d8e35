"""Early exit by conditional answer entropy: stop reasoning once h_k is low and answer with the leader.

A simulation over already-scored traces (no generation): for a threshold tau, trace i stops at the
first prefix k with h_k < tau and answers with its leading option at k; if h never falls below tau,
it runs to the end and keeps its own graded answer (so tau = 0 reproduces the measured accuracy).
Tokens saved are the reasoning tokens after the exit point, n_prefix_tokens(K) - n_prefix_tokens(k).

Everything the rule decides with is known at the exit step: h_k, the leader and the threshold
tau * log|S_k| all come from S_k, the candidate set of the prefix (`siakit.scorer.candidates`; fixed
options such as ARC's A-D are known from the start), or from the answers `enumerate`'s gold-blind
search found after it (`candidates` "enumerated"). Only then is the leader graded against the gold.
A table scored with a set that knew more (other `candidates`, a "given" set of numbers, which may
hold the gold, or enumerate rows of the older search that expanded the gold) is refused.

    h = [1.0, 0.3, 0.05], leader at k=1 is gold, tau = 0.5  ->  exit at k = 1, correct, saves the
    tokens of step 2.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from siakit.analysis.signatures import check_scores, gold_leads
from siakit.data.answers import normalize_number

# Thresholds as shares of log|A| (relative=True): 0 never exits, 1 exits as soon as h_k < log|A|.
DEFAULT_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def exit_step(h: np.ndarray, threshold) -> int | None:
    """First k with h_k < threshold (h has shape [K+1], nats; threshold a number or [K+1]), or None if
    it never happens. NaN never counts as below.

    >>> exit_step(np.array([1.0, 0.3, 0.05]), 0.5)
    1
    >>> exit_step(np.array([1.0, 0.9]), 0.5) is None
    True
    """
    below = np.flatnonzero(np.asarray(h, float) < threshold)
    return int(below[0]) if len(below) else None


def check_prefix_only(scores: pd.DataFrame) -> None:
    """Refuse tables whose candidate sets used more than the prefix (an early exit would then decide
    with the gold or the final answer). `enumerate`'s rows pass: its search is gold-blind. Tables
    without a `candidates` column (older runs) are refused too: their numeric sets were built from the
    gold. "given" sets pass only when they are not numbers (multiple-choice labels known from the
    start): a given set of numbers may hold the gold."""
    if "candidates" not in scores.columns:
        raise ValueError("early exit needs candidate sets built from the prefix only: this scores table "
                         "has no `candidates` column (an older run, whose numeric sets held the gold); "
                         "score it again")
    kinds = set(scores["candidates"].dropna().astype(str))
    bad = sorted(kinds - {"prefix", "given", "enumerated"})
    if bad or scores["candidates"].isna().any():
        raise ValueError(f"early exit needs candidates 'prefix', 'given' or 'enumerated', got {bad or ['<missing>']}")
    if "enumerated" in kinds and "n_gold_nodes" not in scores.columns:
        raise ValueError("early exit refuses these `enumerate` rows: they come from the older search, which "
                         "expanded the gold inside it (its answers could hold the gold because it was the gold); "
                         "score them again (siakit >= scorer version 3 reads the gold beside a gold-blind search)")
    given = scores[scores["candidates"].astype(str) == "given"]
    if "options" in given.columns and len(given):
        numeric = given["options"].map(lambda opts: opts is not None and len(opts) > 0
                                       and all(normalize_number(str(o)) is not None for o in opts))
        if numeric.any():
            ids = sorted(given.loc[numeric, "id"].astype(str).unique()) if "id" in given else []
            raise ValueError(f"early exit refuses 'given' candidate sets of numbers (trace(s) {ids[:3]}"
                             f"{' ...' if len(ids) > 3 else ''}): a numeric set fixed up front may hold the gold, "
                             "the trace's own answer or later numbers; score again with Trace.options = None "
                             "(prefix-only sets). Only fixed multiple-choice labels may be given.")


def prefix_only_sets(scores: pd.DataFrame) -> bool:
    """True when every row's candidate set was built from its prefix or given up front (so decisions
    at step k use only what is known at step k).

    >>> prefix_only_sets(pd.DataFrame({"candidates": ["prefix", "given"]}))
    True
    """
    try:
        check_prefix_only(scores)
    except ValueError:
        return False
    return True


def _traces(scores: pd.DataFrame):
    """Per trace: h [K+1], log|S_k| [K+1], gold leads [K+1], own correctness, reasoning tokens [K+1]."""
    leads = gold_leads(scores).to_numpy()
    out = []
    for _, g in scores.groupby("id", sort=False):
        idx = g.index.to_numpy()
        tokens = g["n_prefix_tokens"].to_numpy(float) if "n_prefix_tokens" in g else np.arange(len(g), dtype=float)
        log_a = np.log(np.maximum(g["n_options"].to_numpy(float), 1))
        out.append((g["entropy"].to_numpy(float), log_a, leads[idx], bool(g["correct"].fillna(False).iloc[0]),
                    tokens - tokens[0]))
    return out


def simulate_early_exit(scores: pd.DataFrame, thresholds=DEFAULT_FRACTIONS, relative: bool = True) -> pd.DataFrame:
    """Accuracy against reasoning tokens saved, one row per threshold.

    `relative=True`: each threshold is a share of log|S_k| at the prefix being tested; otherwise
    thresholds are in nats. An undefined h_k (NaN, |S_k| < 2) never triggers an exit. Columns:
    threshold, relative, accuracy (early-exit answers), baseline_accuracy (full traces), exit_rate
    (share of traces that stopped early, k < K), tokens_saved (share of all reasoning tokens not
    generated), mean_exit_u (mean k/K at the stop), n_traces. Without `n_prefix_tokens`, steps stand
    in for tokens.
    """
    scores = check_scores(scores)
    check_prefix_only(scores)
    traces = _traces(scores)
    rows = []
    for t in thresholds:
        right = saved = total = exits = 0.0
        exit_u = []
        for h, log_a, lead, correct, tokens in traces:
            K = len(h) - 1
            k = exit_step(h, t * log_a if relative else np.full(K + 1, t))
            if k is None or k == K:  # ran to the end: the trace's own answer
                right += correct
                exit_u.append(1.0)
            else:
                right += bool(lead[k])
                exits += 1
                saved += tokens[K] - tokens[k]
                exit_u.append(k / max(K, 1))
            total += tokens[K]
        n = len(traces)
        rows.append({"threshold": float(t), "relative": relative,
                     "accuracy": right / n if n else np.nan,
                     "baseline_accuracy": np.mean([c for *_, c, _ in traces]) if n else np.nan,
                     "exit_rate": exits / n if n else np.nan,
                     "tokens_saved": saved / total if total > 0 else 0.0,
                     "mean_exit_u": float(np.mean(exit_u)) if n else np.nan, "n_traces": n})
    return pd.DataFrame(rows)


def default_budgets(scores: pd.DataFrame, n: int = 6) -> list[float]:
    """Token budgets for the fixed baseline: 0 and the pooled quantiles of full reasoning lengths
    (one budget list for all traces; no trace's own length enters its own cut)."""
    tokens = scores.groupby("id", sort=False)["n_prefix_tokens"].agg(lambda t: t.max() - t.min())
    qs = np.quantile(tokens.to_numpy(float), np.linspace(0, 1, n)[1:]) if len(tokens) else []
    return sorted({0.0, *(float(np.ceil(q)) for q in qs)})


def simulate_fixed_exit(scores: pd.DataFrame, budgets=None) -> pd.DataFrame:
    """The entropy-blind baseline: every trace may spend at most `budgets` reasoning tokens (one fixed
    budget for all traces, not a share of each trace's own length). A trace longer than the budget
    answers with its leader at the last step boundary within the budget, having generated the budget;
    a shorter one finishes and keeps its own answer. Columns: threshold (= budget, tokens), accuracy,
    exit_rate, tokens_saved (share of all reasoning tokens not generated), n_traces. Default budgets:
    `default_budgets`.
    """
    scores = check_scores(scores)
    check_prefix_only(scores)
    if "n_prefix_tokens" not in scores.columns:
        raise ValueError("the fixed-budget baseline needs the `n_prefix_tokens` column")
    traces = _traces(scores)
    budgets = default_budgets(scores) if budgets is None else budgets
    rows = []
    for budget in budgets:
        right = saved = total = exits = 0.0
        for h, log_a, lead, correct, tokens in traces:
            K = len(h) - 1
            if tokens[K] <= budget:
                right += correct
            else:
                k = int(np.flatnonzero(tokens <= budget)[-1])  # k = 0 always qualifies (tokens[0] = 0)
                right += bool(lead[k])
                exits += 1
                saved += tokens[K] - budget
            total += tokens[K]
        n = len(traces)
        rows.append({"threshold": float(budget), "accuracy": right / n if n else np.nan,
                     "exit_rate": exits / n if n else np.nan,
                     "tokens_saved": saved / total if total > 0 else 0.0, "n_traces": n})
    return pd.DataFrame(rows)


def matched_comparison(entropy_rule: pd.DataFrame, fixed_rule: pd.DataFrame) -> pd.DataFrame:
    """The entropy rule's points with the fixed rule's accuracy at the same token saving (linear
    interpolation between the fixed rule's points) and the difference `advantage` (accuracy points).

    >>> e = pd.DataFrame({"threshold": [0.5], "tokens_saved": [0.5], "accuracy": [0.8]})
    >>> f = pd.DataFrame({"tokens_saved": [0.0, 1.0], "accuracy": [0.9, 0.3]})
    >>> round(float(matched_comparison(e, f)["advantage"].iloc[0]), 3)
    0.2
    """
    fixed = fixed_rule.sort_values("tokens_saved")
    at_same = np.interp(entropy_rule["tokens_saved"], fixed["tokens_saved"], fixed["accuracy"])
    return entropy_rule.assign(fixed_accuracy=at_same, advantage=entropy_rule["accuracy"] - at_same)


def held_out_threshold(scores: pd.DataFrame, thresholds=DEFAULT_FRACTIONS, seed: int = 0) -> dict:
    """Choose the entropy threshold on one half of the traces, measure it on the other half.

    The traces (ids) are split at random (`seed`) into a *choose* half and a *test* half (the test
    half gets the odd one). On the choose half the threshold with the largest `advantage` over the
    fixed token budget (`matched_comparison`; ties: the smaller threshold) is picked; the returned
    numbers are that threshold's on the test half, so the choice never saw the traces it is judged
    on. Returns {threshold, n_choose, n_test, choose_advantage, accuracy, baseline_accuracy,
    exit_rate, tokens_saved, fixed_accuracy, advantage}. Needs at least 2 traces in each half.

        held_out_threshold(scores of 8 traces) -> {"threshold": 0.3, "n_choose": 4, "n_test": 4, "advantage": 0.25, ...}
    """
    ids = np.array(sorted(scores["id"].astype(str).unique()))
    if len(ids) < 4:
        raise ValueError(f"held_out_threshold: scores has {len(ids)} traces; choosing on one half and "
                         "testing on the other needs at least 4")
    order = np.random.default_rng(seed).permutation(len(ids))
    choose_ids = set(ids[order[: len(ids) // 2]])
    in_choose = scores["id"].astype(str).isin(choose_ids)
    choose, test = scores[in_choose], scores[~in_choose]
    picked = matched_comparison(simulate_early_exit(choose, thresholds), simulate_fixed_exit(choose))
    best = picked.sort_values("threshold").loc[lambda t: t["advantage"] == t["advantage"].max()].iloc[0]
    row = matched_comparison(simulate_early_exit(test, [float(best["threshold"])]), simulate_fixed_exit(test)).iloc[0]
    return {"threshold": float(best["threshold"]), "n_choose": int(len(choose_ids)),
            "n_test": int(len(ids) - len(choose_ids)), "choose_advantage": float(best["advantage"]),
            **{k: float(row[k]) for k in ("accuracy", "baseline_accuracy", "exit_rate", "tokens_saved",
                                          "fixed_accuracy", "advantage")}}

"""Early exit by conditional answer entropy: stop reasoning once h_k is low and answer with the leader.

A simulation over already-scored traces (no generation): for a threshold tau, trace i stops at the
first prefix k with h_k < tau and answers with its leading option at k; if h never falls below tau,
it runs to the end and keeps its own graded answer (so tau = 0 reproduces the measured accuracy).
Tokens saved are the reasoning tokens after the exit point, n_prefix_tokens(K) - n_prefix_tokens(k).

    h = [1.0, 0.3, 0.05], leader at k=1 is gold, tau = 0.5  ->  exit at k = 1, correct, saves the
    tokens of step 2.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from siakit.analysis.signatures import check_scores, gold_leads

# Thresholds as shares of log|A| (relative=True): 0 never exits, 1 exits as soon as h_k < log|A|.
DEFAULT_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def exit_step(h: np.ndarray, threshold: float) -> int | None:
    """First k with h_k < threshold (h has shape [K+1], nats), or None if it never happens.

    >>> exit_step(np.array([1.0, 0.3, 0.05]), 0.5)
    1
    >>> exit_step(np.array([1.0, 0.9]), 0.5) is None
    True
    """
    below = np.flatnonzero(np.asarray(h, float) < threshold)
    return int(below[0]) if len(below) else None


def simulate_early_exit(scores: pd.DataFrame, thresholds=DEFAULT_FRACTIONS, relative: bool = True) -> pd.DataFrame:
    """Accuracy against reasoning tokens saved, one row per threshold.

    `relative=True`: each threshold is a share of the trace's log|A| (traces may have different |A|);
    otherwise thresholds are in nats. Columns: threshold, relative, accuracy (early-exit answers),
    baseline_accuracy (full traces), exit_rate (share of traces that stopped early, k < K),
    tokens_saved (share of all reasoning tokens not generated), mean_exit_u (mean k/K at the stop),
    n_traces. Without `n_prefix_tokens`, steps stand in for tokens.
    """
    scores = check_scores(scores)
    leads = gold_leads(scores).to_numpy()
    traces = []
    for _, g in scores.groupby("id", sort=False):
        idx = g.index.to_numpy()
        tokens = g["n_prefix_tokens"].to_numpy(float) if "n_prefix_tokens" in g else np.arange(len(g), dtype=float)
        traces.append((g["entropy"].to_numpy(float), np.log(max(int(g["n_options"].iloc[0]), 1)),
                       leads[idx], bool(g["correct"].fillna(False).iloc[0]), tokens - tokens[0]))
    rows = []
    for t in thresholds:
        right = saved = total = exits = 0.0
        exit_u = []
        for h, log_a, lead, correct, tokens in traces:
            K = len(h) - 1
            k = exit_step(h, t * log_a if relative else t)
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


def simulate_fixed_exit(scores: pd.DataFrame, fractions=(0.0, 0.25, 0.5, 0.75, 1.0)) -> pd.DataFrame:
    """The entropy-blind baseline: stop every trace at k = floor(f * K) and answer with the leader there
    (f = 1 keeps the trace's own answer). Columns: threshold (= f), accuracy, exit_rate, tokens_saved,
    n_traces. It places the entropy-based exit against truncation at the same token budget.
    """
    scores = check_scores(scores)
    leads = gold_leads(scores).to_numpy()
    rows = []
    for f in fractions:
        right = saved = total = exits = 0.0
        n = 0
        for _, g in scores.groupby("id", sort=False):
            idx = g.index.to_numpy()
            tokens = (g["n_prefix_tokens"].to_numpy(float) if "n_prefix_tokens" in g
                      else np.arange(len(g), dtype=float))
            tokens = tokens - tokens[0]
            K, n = len(g) - 1, n + 1
            k = int(np.floor(f * K))
            if k >= K:
                right += bool(g["correct"].fillna(False).iloc[0])
            else:
                right += bool(leads[idx[k]])
                exits += 1
                saved += tokens[K] - tokens[k]
            total += tokens[K]
        rows.append({"threshold": float(f), "accuracy": right / n if n else np.nan,
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


def shared_answer_set(scores: pd.DataFrame) -> bool:
    """True when every trace was scored over the same options (e.g. ARC's A-D). Numeric readouts build
    each trace's candidate set from its gold and own answers, so there the leading option at an early
    exit is chosen among candidates that include the gold answer: an optimistic, oracle-aided accuracy.

    >>> shared_answer_set(pd.DataFrame({"id": ["a", "b"], "options": [[" A", " B"], [" A", " B"]]}))
    True
    """
    if "options" not in scores.columns or not len(scores):
        return False
    firsts = scores.groupby("id", sort=False)["options"].first()
    return firsts.map(lambda o: None if o is None else tuple(o)).nunique(dropna=False) == 1

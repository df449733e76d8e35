"""The shuffled-steps null, re-scored by the model: the same reasoning lines in another order.

"Information per step" on its own is bookkeeping (the mean of h_{k-1} - h_k telescopes to
(h_0 - h_K)/K). The question it stands for is whether the *order* of the argument carries
information about the answer. So each trace's reasoning lines (all but the final answer line) are
put in a seeded random order, the shuffled trace is scored by the same model, and the gold's
log-probability gain over the reasoning lines is compared with the original's, paired by trace.

    >>> t = Trace(id="a", prompt="Q", steps=["1 + 2 = 3\\n", "3 + 4 = 7\\n", "The answer is 7."])
    >>> shuffle_reasoning(t, seed=0).steps                    # reasoning lines permuted, answer line last
    ['3 + 4 = 7\\n', '1 + 2 = 3\\n', 'The answer is 7.']
"""
from __future__ import annotations

import math
import random
import re

import pandas as pd

from siakit.analysis.baselines import raw_gold_logprob, reasoning_gains
from siakit.analysis.stats import paired_bootstrap_diff
from siakit.data.traces import Trace

_FRAME = re.compile(r"^(\s*)(.*?)(\s*)$", re.S)


def shuffle_reasoning(trace: Trace, seed: int = 0) -> Trace:
    """A copy of `trace` whose reasoning lines (every step but the last) come in a seeded random order
    that is never the identity; each position keeps its own leading/trailing whitespace, so step
    boundaries stay where the scorer expects them. id `<id>:steps-shuffled`, meta `order` (original
    index of each reasoning line) and `shuffled_from`. Fewer than two reasoning lines: ValueError."""
    reasoning = trace.steps[:-1]
    if len(reasoning) < 2:
        raise ValueError(f"shuffle_reasoning: trace {trace.id} has {len(reasoning)} reasoning line(s); needs >= 2")
    rng = random.Random(f"{seed}:{trace.id}")
    order = list(range(len(reasoning)))
    while order == sorted(order):
        rng.shuffle(order)
    frames = [_FRAME.match(s).groups() for s in reasoning]
    steps = [f"{frames[i][0]}{frames[j][1]}{frames[i][2]}" for i, j in enumerate(order)] + [trace.steps[-1]]
    return Trace(id=f"{trace.id}:steps-shuffled", prompt=trace.prompt, steps=steps, dataset=trace.dataset,
                 model=trace.model, cue=trace.cue, options=trace.options, gold=trace.gold, answer=trace.answer,
                 correct=trace.correct, meta={**trace.meta, "order": order, "shuffled_from": trace.id})


def shuffled_traces(traces, seed: int = 0) -> list[Trace]:
    """`shuffle_reasoning` of every trace with at least two reasoning lines (the others have no order)."""
    return [shuffle_reasoning(t, seed) for t in traces if len(t.steps) >= 3]


def _gold_column(scores: pd.DataFrame) -> pd.DataFrame:
    if {"coverage", "gold_in_set"} <= set(scores.columns):
        return scores.assign(gold_lp=raw_gold_logprob(scores))
    return scores.assign(gold_lp=scores["gold_logprob"].astype(float))


def compare_shuffled(scores: pd.DataFrame, shuffled_scores: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean gold log-probability gain per reasoning line (raw log p(gold) when the scorer wrote
    coverage, else the renormalised one; nats) of the original traces and of their shuffled copies
    (ids `<id>:steps-shuffled`), paired by trace: observed, shuffled, diff (observed - shuffled), low,
    high, p, n. A positive diff: the order of the lines carries information about the gold."""
    obs = reasoning_gains(_gold_column(scores), "gold_lp").set_index("id")["reasoning"]
    shuf = reasoning_gains(_gold_column(shuffled_scores), "gold_lp")
    shuf = shuf.assign(id=shuf["id"].str.replace(r":steps-shuffled$", "", regex=True)).set_index("id")["reasoning"]
    both = pd.concat([obs.rename("observed"), shuf.rename("shuffled")], axis=1, join="inner").dropna()
    r = paired_bootstrap_diff(both["shuffled"].to_numpy(float), both["observed"].to_numpy(float), n_boot=n_boot,
                              seed=seed)
    return {"observed": float(both["observed"].mean()) if len(both) else math.nan,
            "shuffled": float(both["shuffled"].mean()) if len(both) else math.nan, **r}


def step_shuffle_null(lm, scores: pd.DataFrame, traces, seed: int = 0, n_boot: int = 2000, progress: bool = True,
                      **score_kwargs) -> tuple[dict, pd.DataFrame]:
    """Score the shuffled copies of `traces` with `lm` (`siakit.scorer.score_traces`, same keyword
    settings as the original scores) and compare: (`compare_shuffled` result, shuffled scores)."""
    from siakit.scorer.score import score_traces

    shuffled = shuffled_traces(traces, seed)
    if not shuffled:
        return {"observed": math.nan, "shuffled": math.nan, "diff": math.nan, "low": math.nan, "high": math.nan,
                "p": math.nan, "n": 0}, pd.DataFrame()
    shuffled_scores = score_traces(lm, shuffled, progress=progress, **score_kwargs)
    return compare_shuffled(scores, shuffled_scores, n_boot, seed), shuffled_scores


"""Candidate answer sets that know only the prefix (our numeric readout's answer set; see "How to read this book").

For prefix k the set S_k is built from what is known at step k and nothing else:

1. answers of M continuations sampled from the question alone (seeded by the prompt text, so two
   traces of one question get the same samples), in order of first appearance;
2. the `mentions` most recently mentioned distinct numbers of the question and the steps C_{1:k}
   (step labels such as "Step 2" and list markers "2." / "2)" at the start of a line are not
   mentions, see `siakit.data.answers.mentioned_numbers`), in order of first appearance.

Never the gold answer, the trace's final answer, or a later step. So h_k(Q, C_{1:k}) is the same for
two traces that share their first k steps, whatever follows and whatever the gold is.

The scorer scores one union U = (all S_k) + [gold] at every prefix (an option's terminated log-prob
at prefix k does not depend on the other options), then renormalises per k over S_k (h_k, leader,
coverage) and over S_k + {gold} (s_k).

    >>> sets = prefix_sets("Tom has 3 pens and 5 cups.", ["\\nStep 1: 3 + 5 = 8.", " So 8."], [])
    >>> sets                                  # S_0, S_1, S_2 as option strings
    [[' 3', ' 5'], [' 3', ' 5', ' 8'], [' 3', ' 5', ' 8']]
    >>> union_with_gold(sets, "12")           # (U, per-k member indices, gold index)
    ([' 3', ' 5', ' 8', ' 12'], [[0, 1], [0, 1, 2], [0, 1, 2]], 3)
"""
from __future__ import annotations

from siakit.data.answers import normalize_answer, mentioned_numbers


def recent_distinct(values: list[str], limit: int | None) -> list[str]:
    """The `limit` most recently mentioned distinct values, kept in order of first appearance.

    recent_distinct(["3", "5", "3", "8", "9"], 2) -> ["8", "9"];  (.., None) -> ["3", "5", "8", "9"]
    """
    last = {}
    for i, v in enumerate(values):
        last[v] = i
    keep = sorted(last, key=lambda v: last[v])
    keep = set(keep[-limit:]) if limit is not None and limit > 0 else (set() if limit == 0 else set(keep))
    return [v for v in dict.fromkeys(values) if v in keep]


def prefix_sets(question: str, steps: list[str], sampled: list[str | None], mentions: int | None = 16) -> list[list[str]]:
    """S_0..S_K as option strings (" " + normalised number), from the question, the steps C_{1:k}
    and `sampled` answers (None entries: unparsable samples, skipped). `mentions`: how many of the
    most recently mentioned distinct numbers enter (None: all; 0: none)."""
    base = [normalize_answer(a) for a in sampled if a is not None and str(a).strip()]
    said = mentioned_numbers(question)
    sets = []
    for k in range(len(steps) + 1):
        if k:
            said = said + mentioned_numbers(steps[k - 1])
        values = list(dict.fromkeys(base + recent_distinct([normalize_answer(v) for v in said], mentions)))
        sets.append([" " + v for v in values])
    return sets


def union_with_gold(sets: list[list[str]], gold: str | None) -> tuple[list[str], list[list[int]], int | None]:
    """U = every option of any S_k in order of first appearance, then the gold when absent; the
    indices of S_k in U; the gold's index in U (None without a gold)."""
    union = list(dict.fromkeys(o for s in sets for o in s))
    gold_at = None
    if gold is not None and str(gold).strip():
        keys = [normalize_answer(o) for o in union]
        g = normalize_answer(gold)
        if g in keys:
            gold_at = keys.index(g)
        else:
            union.append(" " + g)
            gold_at = len(union) - 1
    where = {o: i for i, o in enumerate(union)}
    return union, [[where[o] for o in s] for s in sets], gold_at

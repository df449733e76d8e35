"""Diagnostics of a run before any signature is read: is there anything to measure at all?

    >>> d = run_diagnostics(traces, scores, max_new_tokens=160)   # four traces, t3 cut at 160 tokens
    >>> d["share_cut"], d["cut_ids"], d["leader_agrees"], d["share_short"], d["answer_counts"]
    (0.25, ['t3'], 0.5, 1.0, {'8': 3, '6': 1})

- `cut`: traces that used every one of `max_new_tokens` (cut off by the cap: their answer is graded
  from unfinished text); signatures exclude them by default (`usable_ids`), with the count shown;
- `answer_counts`: how often each written answer occurs (ARC letters: a model repeating the option
  list and answering "D" every time shows up here);
- `leader_agrees`: the share of traces whose readout leader at k = K is the answer the trace wrote
  (low agreement means the readout is not reading what the model wrote);
- `short`: traces with K <= 2 steps (too few for a curve).
"""
from __future__ import annotations

from collections import Counter

import pandas as pd

from siakit.data.answers import normalize_number


def is_cut(trace, max_new_tokens: int | None) -> bool:
    """Whether generation stopped at the token cap (the trace's `meta.n_new_tokens` reached it).

        >>> from siakit.data.traces import Trace
        >>> is_cut(Trace(id="t", prompt="Q", steps=[" 1"], meta={"n_new_tokens": 160}), 160)
        True
    """
    n = (trace.meta or {}).get("n_new_tokens")
    return bool(max_new_tokens) and n is not None and int(n) >= int(max_new_tokens)


def usable_ids(traces, max_new_tokens: int | None, include_cut: bool = False) -> set[str]:
    """Ids of the traces the signatures read: all, or all but those cut at the cap."""
    return {str(t.id) for t in traces if include_cut or not is_cut(t, max_new_tokens)}


def _same(a, b) -> bool:
    if a is None or b is None:
        return False
    a, b = str(a).strip(), str(b).strip()
    na, nb = normalize_number(a), normalize_number(b)
    return (na is not None and na == nb) or a.upper() == b.upper()


def run_diagnostics(traces, scores: pd.DataFrame, max_new_tokens: int | None = None) -> dict:
    """The run's diagnostics (see the module docstring); plain values, JSON-ready."""
    traces = list(traces)
    n = len(traces)
    cut = [str(t.id) for t in traces if is_cut(t, max_new_tokens)]
    short = [str(t.id) for t in traces if len(t.steps) <= 2]
    answers = Counter("none" if t.answer is None else str(t.answer) for t in traces)
    agree, compared = 0, 0
    if len(scores) and "leading_option" in scores:
        final = scores.sort_values("k").groupby("id").tail(1).set_index("id")["leading_option"]
        for t in traces:
            if str(t.id) in final.index and t.answer is not None:
                compared += 1
                agree += _same(final[str(t.id)], t.answer)
    return {"n_traces": n, "n_cut": len(cut), "share_cut": len(cut) / n if n else None, "cut_ids": cut,
            "n_short": len(short), "share_short": len(short) / n if n else None,
            "answer_counts": dict(answers.most_common()),
            "leader_agrees": agree / compared if compared else None, "n_leader_compared": compared}


MASSES = ("enumerated_mass", "non_numeric_mass", "unexplored_mass")  # `enumerate`'s three, summing to 1


def answer_mass(scores: pd.DataFrame, epsilon: float = 0.01) -> pd.DataFrame | None:
    """Where `enumerate`'s answer mass goes (after the cue), at the prompt (k = 0), mid-trace
    (0 < k < K) and after the last step (k = K): the mean enumerated, non-numeric and unexplored mass,
    the share of prefixes the node budget stopped with at least `epsilon` unexplored, and the mean
    width of the h_k interval that mass allows (nats). None when the rows have no masses.

    One prefix with masses (0.9, 0.1, 0.0) at k = 0 -> row "prompt (k = 0)": 0.9, 0.1, 0.0, 0.0, 0.0
    """
    if not set(MASSES) <= set(scores.columns) or not scores["enumerated_mass"].notna().any():
        return None
    s = scores[scores["enumerated_mass"].notna()]
    where = {"prompt (k = 0)": s["k"] == 0, "mid-trace (0 < k < K)": (s["k"] > 0) & (s["k"] < s["n_steps"]),
             "after the last step (k = K)": s["k"] == s["n_steps"]}
    has_interval = {"entropy_high", "entropy_low"} <= set(s.columns)
    rows = []
    for name, mask in where.items():
        g = s[mask]
        masses = {m.replace("_mass", "").replace("_", "-"): g[m].mean() for m in MASSES}
        rows.append({"prefixes": name, "n": len(g), **masses,
                     "budget stopped (share)": (g["unexplored_mass"] >= epsilon).mean() if len(g) else float("nan"),
                     "h interval width (nats)": (g["entropy_high"] - g["entropy_low"]).mean() if has_interval
                     else float("nan")})
    return pd.DataFrame(rows)

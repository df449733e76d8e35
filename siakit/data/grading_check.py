"""Cross-check of our grading against Hugging Face's `math-verify` (optional: the `grading` extra).

For every stored numeric trace: the label it was stored with, the label our current rules give
(`siakit.data.answers.extract_answer` + `grade`, re-extracted from the generated text), and the label
math-verify gives (`verify(parse(gold), parse(text))`). Where math-verify was right and we were not
(a percentage answer "60%" for a gold of 0.6), our rules adopted it; where they still differ, it is by
design: math-verify grades the last number of any text, also one written in passing or cut by the
length cap, which our rules call "no answer".

    >>> from siakit.data.traces import Trace      # or read_traces("results/m/gsm8k/traces.jsonl")
    >>> traces = [Trace(id="a", prompt="Q", steps=[" 3 + 5 = 8.", " The answer is 8."], gold="8", correct=True),
    ...           Trace(id="b", prompt="Q", steps=[" 1.2 / 2 = 0.6, so 60%.", " The answer is 60%."], gold="0.6",
    ...                 correct=False),   # stored before the percentage rule
    ...           Trace(id="c", prompt="Q", steps=[" 7 + 5 = 12, then 12 - "], gold="12", meta={"n_new_tokens": 8})]
    >>> compare_grading(traces, max_new_tokens=8)[["id", "stored_correct", "correct", "truncated", "mv_correct"]]
      id stored_correct  correct  truncated  mv_correct
    0  a           True     True      False        True
    1  b          False     True      False        True
    2  c           None    False       True        True
"""
from __future__ import annotations

from siakit.data.answers import extract_answer, grade


def compare_grading(traces, max_new_tokens: int | None = None):
    """One row per numeric trace (multiple-choice traces are skipped): id, gold, stored_answer,
    stored_correct, answer, correct (ours now), truncated, mv_correct (math-verify), changed
    (stored != ours now), agree (ours now == math-verify). A trace counts as truncated when its meta
    says so, or (older traces) when it generated `max_new_tokens` tokens."""
    import pandas as pd
    from math_verify import parse, verify

    rows = []
    for t in traces:
        if t.options:
            continue
        text = "".join(t.steps)
        n_new = t.meta.get("n_new_tokens")
        truncated = bool(t.meta.get("truncated", max_new_tokens is not None and n_new is not None
                                    and n_new >= max_new_tokens))
        answer = extract_answer(text, None, truncated=truncated)
        correct = grade(answer, t.gold)
        mv = bool(verify(parse(str(t.gold)), parse(text)))
        rows.append({"id": t.id, "gold": t.gold, "stored_answer": t.answer, "stored_correct": t.correct,
                     "answer": answer, "correct": correct, "truncated": truncated, "mv_correct": mv,
                     "changed": bool(t.correct) != correct, "agree": correct == mv})
    return pd.DataFrame(rows)

"""The names the docstring examples of `siakit` use (`pytest --doctest-modules siakit`, part of `make test`).

A docstring example that needs a model or traces reads them from here instead of loading SmolLM2:
`lm` is the tiny random-weight Llama of `siakit.models.tiny` (seeded, so its numbers are the same on
every machine; `adapter` and `tokenizer` are its own), `traces` four short numeric traces with two
options each (t0, t1 correct, t2, t3 not; rungs t2, t3; t3 cut at 160 tokens), `scores` the scorer's
long table of them, `layouts` their `TraceLayout`s (cue and options as the scorer lays them out) and
`gsm8k_records` four GSM8K-like problems with their solutions. Built once, on the first example that
runs; tests in tests/ never pay for it. Every example runs from the repository root (examples read
runs/default.yml); one that writes files moves to `getfixture("tmp_path")` first.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _namespace() -> dict:
    import torch

    from siakit.data.traces import Trace
    from siakit.models.tiny import tiny_model
    from siakit.scorer import score_traces
    from siakit.scorer.layout import layout_trace

    torch.manual_seed(0)
    lm = tiny_model("llama")
    traces = [Trace(id=f"t{i}", prompt=f"Question: Tom has {a} apples and buys {b} more.", gold=str(a + b),
                    steps=[f" {a} + {b} = {a + b + w}.", f"\nThe answer is {a + b + w}."],
                    options=[f" {a + b}", f" {a + b + 1}"], answer=str(a + b + w), correct=w == 0,
                    meta={"rung": f"t{2 + i % 2}", "n_new_tokens": 160 if i == 3 else 12})
              for i, (a, b, w) in enumerate([(3, 5, 0), (2, 4, 0), (3, 4, 1), (5, 2, 1)])]
    scores = score_traces(lm, traces, progress=False)
    layouts = [layout_trace(lm.tokenizer, t, t.cue, t.options) for t in traces]
    return {"lm": lm, "adapter": lm.adapter, "tokenizer": lm.tokenizer, "traces": traces, "scores": scores,
            "layouts": layouts,
            "gsm8k_records": _gsm8k_records()}


def _gsm8k_records() -> list:
    """Four GSM8K-like (Problem, record) pairs, each with a three-line solution and a clean corruption."""
    from siakit.data.problems import Problem

    records = []
    for i, (a, b, c) in enumerate([(3, 7, 11), (4, 9, 13), (5, 6, 17), (6, 8, 19)]):
        x, y = a * b, a * b + c
        answer = (f"Each bag has {a}*{b}=<<{a}*{b}={x}>>{x} apples.\n"
                  f"With the extra ones there are {x}+{c}=<<{x}+{c}={y}>>{y} apples.\n"
                  f"Two bags hold {y}*2=<<{y}*2={2 * y}>>{2 * y} apples in all.\n#### {2 * y}")
        question = f"A bag has {a} rows of {b} apples and {c} more apples. How many apples are in 2 bags?"
        records.append((Problem(f"g{i}", "gsm8k", question, str(2 * y)), {"question": question, "answer": answer}))
    return records


@pytest.fixture(autouse=True)
def _doctest_names(request):
    """For a docstring example only: the names above, and the repository root as working directory."""
    if type(request.node).__name__ != "DoctestItem":
        yield
        return
    namespace = request.getfixturevalue("doctest_namespace")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(_REPO)
    import copy

    namespace.update({**_namespace(), "traces": copy.deepcopy(_namespace()["traces"]),
                      "scores": _namespace()["scores"].copy()})   # an example may change its own copy
    yield

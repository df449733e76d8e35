"""The names the docstring examples of `siakit` use (`pytest --doctest-modules siakit`, part of `make test`).

A docstring example that needs a model or traces reads them from here instead of loading SmolLM2:
`lm` is the tiny random-weight Llama of `siakit.models.tiny` (seeded, so its numbers are the same on
every machine), `traces` four short numeric traces with two options each (t0, t1 correct; t2, t3 not; rungs t2, t3; t3 cut at 160 tokens), and
`scores` the scorer's long table of them. Built once, on the first example that runs; tests in tests/
never pay for it. Every example runs from the repository root (examples read runs/default.yml).
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

    torch.manual_seed(0)
    lm = tiny_model("llama")
    traces = [Trace(id=f"t{i}", prompt=f"Question: Tom has {a} apples and buys {b} more.", gold=str(a + b),
                    steps=[f" {a} + {b} = {a + b + w}.", f"\nThe answer is {a + b + w}."],
                    options=[f" {a + b}", f" {a + b + 1}"], answer=str(a + b + w), correct=w == 0,
                    meta={"rung": f"t{2 + i % 2}", "n_new_tokens": 160 if i == 3 else 12})
              for i, (a, b, w) in enumerate([(3, 5, 0), (2, 4, 0), (3, 4, 1), (5, 2, 1)])]
    scores = score_traces(lm, traces, progress=False)
    return {"lm": lm, "adapter": lm.adapter, "tokenizer": lm.tokenizer, "traces": traces, "scores": scores}


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

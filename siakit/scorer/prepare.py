"""What the scorer scores: each trace's cue, answer candidates S_k and token layout, fitted to the model.

`prepare` turns traces into `Prepared` records (trace, cue, Candidates, TraceLayout) that every
estimator reads: the forward methods score the layouts, `enumerate` and `rollout` start from them.
Given options are S_k at every k; otherwise S_k is built from the question, C_{1:k} and answers
sampled from the question alone (`siakit.scorer.candidates`), and each prefix probes only S_k + {gold}.

    >>> from siakit.data.traces import Trace
    >>> from siakit.models.tiny import tiny_model
    >>> from siakit.scorer.score import ScoreConfig
    >>> trace = Trace(id="t", prompt="Q: 2 + 3?", steps=[" 2 + 3 = 5."], gold="5", options=[" 4", " 5"])
    >>> [p] = prepare(tiny_model("llama"), [trace], ("readout",), ScoreConfig())
    >>> p.candidates.options, p.candidates.gold, p.candidates.kind, len(p.layout.bounds)   # K + 1 prefixes
    ([' 4', ' 5'], 1, 'given', 2)
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from siakit.data.traces import Trace
from siakit.scorer.candidates import prefix_sets, union_with_gold
from siakit.scorer.estimators import extract, gold_index, sample_texts, trace_seed
from siakit.scorer.layout import TraceLayout, layout_trace


@dataclass
class Candidates:
    options: list[str]          # U: every option scored at every prefix (strings as they follow the cue)
    members: list[list[int]]    # per k, the indices of S_k in U
    gold: int | None            # the gold's index in U (None: no gold)
    kind: str                   # "given" (the trace's own options, every k) | "prefix" (S_k from the prefix)


def _candidates(lm, trace: Trace, cue: str, estimators, cfg) -> Candidates | None:
    """The answer options of `trace` (None: none needed). Given options are S_k at every k; else
    S_k is built from the question, C_{1:k} and answers sampled from the question alone
    (`siakit.scorer.candidates`)."""
    n_prefixes = len(trace.steps) + 1
    if trace.options is not None:
        options = list(trace.options)
        return Candidates(options, [list(range(len(options)))] * n_prefixes,
                          gold_index(options, trace.gold) if options else None, "given")
    if "readout" not in estimators:
        return None
    sampled = []
    if cfg.candidate_samples > 0:
        base = layout_trace(lm.tokenizer, replace(trace, steps=[]), cue, None)
        seed = trace_seed(cfg.seed, trace.prompt, -1)  # by the question, not the trace: same Q, same samples
        texts = sample_texts(lm, base.ids, cfg.candidate_samples, cfg.candidate_max_new_tokens,
                             cfg.temperature, seed)
        sampled = [extract(t, None) for t in texts]
    question = str(trace.meta.get("question") or trace.prompt)
    sets = prefix_sets(question, trace.steps, sampled, cfg.candidate_mentions)
    options, members, gold = union_with_gold(sets, trace.gold)
    return Candidates(options, members, gold, "prefix")


class Prepared(NamedTuple):
    trace: Trace                     # the trace as given
    cue: str                         # the cue read after every prefix (the trace's own, or ScoreConfig.cue)
    candidates: Candidates | None    # its answer options (None: no estimator needs any)
    layout: TraceLayout              # its tokens, prefix bounds and probes, fitted to the model's context


def prepare(lm, traces, estimators, cfg) -> list[Prepared]:
    """One `Prepared` per trace, in input order: what the forward methods score (`cfg` a ScoreConfig;
    `siakit.bench.sharing` times the same layouts shared and separate)."""
    limit = lm.adapter.context
    prepared = []
    for trace in traces:
        cue = trace.cue if cfg.cue is None else cfg.cue
        cands = _candidates(lm, trace, cue, estimators, cfg)
        if "readout" in estimators:
            if cands is None or not cands.options:
                raise ValueError(f"trace {trace.id}: readout needs options (none given, and no number in "
                                 "the question or steps, no sampled answer and no gold to score)")
            if cands.kind == "given" and trace.gold is not None and cands.gold is None:
                raise ValueError(f"trace {trace.id}: gold {trace.gold!r} is not among its options {cands.options}")
        options = cands.options if cands else None
        active = None  # prefix-only sets: probe S_k + {gold} after context_k, not the whole union
        if cands is not None and cands.kind == "prefix":
            active = [m + ([cands.gold] if cands.gold is not None else []) for m in cands.members]
        lay = _fit(layout_trace(lm.tokenizer, trace, cue, options, cfg.terminated, active), limit, cfg.truncate)
        prepared.append(Prepared(trace, cue, cands, lay))
    return prepared


def _fit(lay: TraceLayout, limit: int | None, truncate: bool) -> TraceLayout:
    """Check the trace fits the model's context; with `truncate`, drop trailing prefixes until it does."""
    if limit is None or lay.max_position < limit:
        return lay
    if not truncate:
        raise ValueError(f"trace {lay.id}: {len(lay.ids)} tokens (+ cue and options: position "
                         f"{lay.max_position}) exceed the model's context of {limit} tokens; "
                         "pass truncate=True (--truncate) to score only the prefixes that fit")
    bounds = list(lay.bounds)

    def cut(bounds):  # the layout with only these prefixes (and their active options)
        active = None if lay.active is None else lay.active[: len(bounds)]
        return replace(lay, ids=lay.ids[: bounds[-1]], bounds=bounds, active=active)

    while bounds and cut(bounds).max_position >= limit:
        bounds.pop()
    if not bounds:
        raise ValueError(f"trace {lay.id}: even the prompt alone exceeds the model's context of {limit}")
    return cut(bounds)

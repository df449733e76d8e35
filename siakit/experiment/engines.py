"""Traces from another generation engine (vLLM, or anything that maps prompt tokens to text).

siakit's scorer needs a custom tree attention mask, which fast engines do not support, so the route is:
generate with the engine, write our traces JSONL, score it with `siakit score`. This module holds the
engine-independent parts, the same code `siakit generate` uses, so a trace is the same whichever engine
wrote its text: the prompt (`siakit.data.prompts.build_prompt`, few-shot for base models, the chat
template for instruct models), its token ids (`generate.encode`: no second BOS after a chat
template's), and the text -> trace step (`generate.trace_from_text`: stop-cutting, step splitting,
answer extraction and grading). `scripts/vllm_generate.py` is the vLLM caller.

    >>> from siakit.data.problems import Problem
    >>> reqs = requests([Problem("p1", "gsm8k", "2 + 2?", "4")], tokenizer, chat=False)   # [Request(problem, prompt, token_ids)]
    >>> reqs[0].prompt[-30:], len(reqs[0].token_ids)           # the few-shot prompt, ending in the question
    ('68.\\n\\nQuestion: 2 + 2?\\nAnswer:\\n', 357)
    >>> texts = [" 2 + 2 = 4.\\nThe answer is 4."]             # any engine: token ids -> completion text
    >>> trace = to_traces(reqs, texts, model="org/name", chat=False, meta={"engine": "vllm"})[0]
    >>> trace.steps, trace.answer, trace.correct, trace.model
    ([' 2 + 2 = 4.\\n', 'The answer is 4.'], '4', True, 'org__name')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from siakit.data.problems import Problem
from siakit.data.prompts import CUE, build_prompt, cut_at_stop
from siakit.data.traces import Trace


@dataclass
class Request:
    problem: Problem       # what is asked (id, question, gold, options)
    prompt: str            # the prompt text, exactly as `siakit generate` builds it
    token_ids: list[int]   # its tokens, exactly as `siakit generate` encodes them (give these to the engine)


def requests(problems: Sequence[Problem], tokenizer, chat: bool) -> list[Request]:
    """Prompt text and token ids of every problem.

    requests([Problem("p1", "gsm8k", "2+2?", "4")], tok, chat=False)[0].prompt -> the few-shot prompt
    ending in "Question: 2+2?\\nAnswer:"
    """
    from siakit.experiment.generate import encode

    prompts = [build_prompt(p, tokenizer, chat=chat) for p in problems]
    ids = encode(tokenizer, prompts)["input_ids"] if prompts else []
    return [Request(p, text, list(i)) for p, text, i in zip(problems, prompts, ids)]


def to_traces(reqs: Sequence[Request], texts: Sequence[str], model: str, chat: bool, cue: str = CUE,
              meta: Sequence[dict] | dict | None = None, max_new_tokens: int | None = None) -> list[Trace]:
    """Completions (one text per request, special tokens already dropped) -> our traces; `meta` is
    recorded with every trace (one dict for all, or one per trace). A completion stopped by the length
    cap (`meta["truncated"]`, or `n_new_tokens >= max_new_tokens`) is graded as `siakit generate`
    grades one: a trailing number of cut-off text is no answer."""
    from siakit.experiment.generate import trace_from_text

    if len(texts) != len(reqs):
        raise ValueError(f"{len(texts)} completions for {len(reqs)} requests: the engine dropped or added some")
    metas = meta if isinstance(meta, (list, tuple)) else [meta or {}] * len(reqs)
    traces = []
    for r, text, m in zip(reqs, texts, metas):
        m = dict(m)
        if max_new_tokens is not None:  # the cap, recorded as `siakit generate` records it (resumes check it)
            m.setdefault("max_new_tokens", max_new_tokens)
        if "truncated" not in m:
            n_new = m.get("n_new_tokens")
            m["truncated"] = bool(max_new_tokens and n_new is not None and n_new >= max_new_tokens
                                  and (chat or cut_at_stop(text) == text))
        traces.append(trace_from_text(r.problem, r.prompt, text, model=model.replace("/", "__"), chat=chat,
                                      cue=cue, meta=m, truncated=m["truncated"]))
    return traces

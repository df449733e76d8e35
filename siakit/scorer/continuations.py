"""Continuations of a reasoning prefix, sampled to the end and graded like `siakit generate` grades.

A rollout from prefix k of a trace is the model's own continuation of prompt + C_{1:k}: sampled at
the configured temperature until EOS or `max_new_tokens`, then read as a whole reasoning text
(C_{1:k} + continuation, so the answer line of C_{1:k} itself counts at k = K). The answer is
extracted and graded as in `siakit.experiment.generate.trace_from_text`: a base model's text is cut
at its next few-shot question, and a continuation stopped by the length cap is `truncated` (a number
touching the end of the text counts for nothing).

    >>> prefix = "3 + 5 = 8.\\nThe answer is 8.\\n"         # C_{1:k}, k = 2
    >>> context = tokenizer("Question: Tom has 3 apples and buys 5 more.\\n" + prefix)["input_ids"]
    >>> jobs = [RolloutJob(trace_id="t0", k=2, context=context, prefix_text=prefix, m=4, seed=7)]
    >>> graded = sample_rollouts(lm, jobs, max_new_tokens=6)   # lm: random weights, so never an EOS
    >>> graded[0].answers, graded[0].truncated, graded[0].n_tokens   # one answer per rollout (None: unparsed)
    (['8', '8', '8', '8'], [True, True, True, True], 24)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from siakit.models.shared_prefill import sample_continuations


@dataclass
class RolloutJob:
    trace_id: str           # the trace the prefix belongs to
    k: int                  # prefix index (0 = the prompt alone)
    context: list[int]      # token ids of prompt + C_{1:k}
    prefix_text: str        # C_{1:k} as text (the reasoning written so far)
    m: int                  # rollouts to sample
    seed: int               # seeds the job's rows (`siakit.models.shared_prefill.row_seed`)
    cap: int | None = None  # this job's length cap (None: sample_rollouts' max_new_tokens)


@dataclass
class GradedRollouts:
    answers: list[str | None]          # the extracted answer of each rollout (None: unparsed)
    truncated: list[bool]              # the rollout hit max_new_tokens without an EOS or stop string
    texts: list[str] = field(default_factory=list)  # the continuations (decoded, special tokens dropped)
    n_tokens: int = 0                  # tokens sampled over the M rollouts (EOS included)


def read_rollout(prefix_text: str, continuation: str, hit_cap: bool, chat: bool,
                 choices: list[str] | None = None) -> tuple[str | None, bool]:
    """(answer, truncated) of one rollout, graded as `siakit generate` grades its traces.

    read_rollout("2 + 3 = 5\\n", "The answer is 5.", False, True) -> ("5", False)
    read_rollout("", "The answer is 12", True, True) -> (None, True)    # "12" may be cut from "120"
    """
    from siakit.data.answers import extract_answer
    from siakit.data.prompts import cut_at_stop

    text = continuation if chat else cut_at_stop(continuation)
    truncated = hit_cap and (chat or text == continuation)  # a stop string ends the text: not cut
    return extract_answer(prefix_text + text, choices, truncated=truncated), truncated


def sample_rollouts(lm, jobs: list[RolloutJob], max_new_tokens: int, temperature: float = 1.0,
                    batch_rows: int = 32, choices: list[list[str] | None] | None = None,
                    stats: dict | None = None, bar=None) -> list[GradedRollouts]:
    """Sample and grade the rollouts of every job (batched across jobs, each context prefilled once).
    `choices[j]`: the option labels of job j's trace (multiple choice), or None (numeric)."""
    tok = lm.tokenizer
    caps = [max_new_tokens if j.cap is None else j.cap for j in jobs]
    sampled = sample_continuations(lm, [j.context for j in jobs], [j.m for j in jobs], [j.seed for j in jobs],
                                   caps, temperature, batch_rows, shared=True, stats=stats, bar=bar)
    chat = bool(getattr(lm, "chat", False))
    out = []
    for j, (job, rows) in enumerate(zip(jobs, sampled)):
        texts = tok.batch_decode([r.tokens for r in rows], skip_special_tokens=True)
        graded = [read_rollout(job.prefix_text, text, not r.ended and len(r.tokens) >= caps[j], chat,
                               choices[j] if choices else None) for text, r in zip(texts, rows)]
        out.append(GradedRollouts([a for a, _ in graded], [t for _, t in graded], texts,
                                  sum(len(r.tokens) for r in rows)))
    return out

"""Random finite "reasoning worlds" for the SIA derivation (our formalisation; numpy only).

A world is small enough to enumerate. Its pieces, all numpy arrays:

- truth `p_qa[q, a]`: the joint law of the question Q and the TRUE answer A.
  A is random given Q: in a finite world the full problem that fixes the answer is only
  partly visible in Q, and the reasoning steps are what reveals the rest.
- trace law `trace[q, a, c1, ..., cK]` = P(C_{1:K} = c | Q = q, A = a), built step by step
  from P(C_k | Q, A, C_{<k}). A trace law that uses `a` stands for a solver that works the
  problem out; one that ignores `a` (`uses_answer=False`) carries no information about it.
- answer head `head[q, c1, ..., cK, a']` = p(A' = a' | Q, C_{1:K}): the answer a model
  writes at the end of its trace, A' its OWN answer.

`siakit.theory.sia.couple(p_qa, trace)` multiplies truth and trace law into the joint
`joint[q, a, c1, ..., cK]` that every curve in `siakit.theory.sia` reads.
"""
from __future__ import annotations

import numpy as np


def _dirichlet(rng: np.random.Generator, shape: tuple[int, ...], concentration: float) -> np.ndarray:
    """Independent Dirichlet(concentration) vectors along the last axis of `shape`."""
    if concentration <= 0:
        raise ValueError(f"concentration: must be > 0, got {concentration}")
    g = rng.gamma(concentration, size=shape)
    g = np.maximum(g, 1e-300)  # tiny concentrations can underflow a whole row to 0
    return g / g.sum(-1, keepdims=True)


def random_truth(rng: np.random.Generator, n_questions: int = 3, n_answers: int = 4,
                 concentration: float = 1.0) -> np.ndarray:
    """Random joint law of (Q, A): P(Q) ~ Dir(1), P(A | Q) ~ Dir(concentration).

    random_truth(np.random.default_rng(0), 2, 3).shape -> (2, 3), entries sum to 1.
    """
    p_q = _dirichlet(rng, (n_questions,), 1.0)
    return p_q[:, None] * _dirichlet(rng, (n_questions, n_answers), concentration)


def random_trace_law(rng: np.random.Generator, n_questions: int = 3, n_answers: int = 4,
                     n_symbols: int = 3, n_steps: int = 4, concentration: float = 0.5,
                     uses_answer: bool = True) -> np.ndarray:
    """Random autoregressive trace law P(C_{1:K} | Q, A) -> array `[Q, A, C, ..., C]` (K axes C).

    Each step table P(C_k | Q, A, C_{<k}) is an independent Dirichlet(concentration) draw;
    small concentrations give peaked, answer-revealing steps. With uses_answer=False the
    tables are shared across answers, so the trace is independent of A given Q.
    random_trace_law(rng, 2, 3, 2, 1).shape -> (2, 3, 2).
    """
    n_a_tables = n_answers if uses_answer else 1
    law = np.ones((n_questions, n_a_tables))
    for k in range(n_steps):
        step = _dirichlet(rng, law.shape + (n_symbols,), concentration)
        law = law[..., None] * step
    return np.broadcast_to(law, (n_questions, n_answers) + law.shape[2:]).copy()


def random_answer_head(rng: np.random.Generator, n_questions: int = 3, n_symbols: int = 3,
                       n_steps: int = 4, n_answers: int = 4, concentration: float = 0.5) -> np.ndarray:
    """Random answer head p(A' | Q, C_{1:K}) -> array `[Q, C, ..., C, A']` (K axes C).

    random_answer_head(rng, 2, 2, 1, 3).shape -> (2, 2, 3).
    """
    return _dirichlet(rng, (n_questions,) + (n_symbols,) * n_steps + (n_answers,), concentration)


def sample_counts(rng: np.random.Generator, joint: np.ndarray, n_samples: int) -> np.ndarray:
    """Draw `n_samples` iid outcomes of a joint table; return counts of the same shape.

    sample_counts(rng, np.array([[0.5, 0.5]]), 10).sum() -> 10.
    """
    p = np.asarray(joint, dtype=float).ravel()
    return rng.multinomial(n_samples, p / p.sum()).reshape(np.shape(joint))


def fit_trace_law(counts: np.ndarray, pseudocount: float = 0.5) -> np.ndarray:
    """Maximum-likelihood trace law from counts `[Q, A, C, ..., C]` of sampled (Q, A, C_{1:K}),
    with add-`pseudocount` smoothing so the fit has full support (finite KL).

    The MLE of the whole-trace law equals the product of the per-step MLEs P(C_k | Q, A, C_{<k}).
    fit_trace_law(np.array([[[3, 1]]]), 0.0) -> [[[0.75, 0.25]]].
    """
    c = np.asarray(counts, dtype=float) + pseudocount
    total = c.sum(axis=_trace_axes(c), keepdims=True)
    if (total <= 0).any():
        raise ValueError("counts: some (q, a) has no samples; use pseudocount > 0")
    return c / total


def _trace_axes(trace: np.ndarray) -> tuple[int, ...]:
    """The step axes C_1..C_K of a `[Q, A, C, ..., C]` array."""
    if trace.ndim < 3:
        raise ValueError(f"trace: expected shape [Q, A, C, ...], got {trace.shape}")
    return tuple(range(2, trace.ndim))

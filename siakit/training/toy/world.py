"""The toy world: hidden-term sums mod |A| with human traces whose exact Bayes entropy is known.

Our own construction. A problem is a start value `x0` and `K` terms, each uniform on
`0..hidden_values-1`; a term is printed in the question (visible) or shown as `?` (hidden). The
true answer is `a* = (x0 + sum of terms) mod |A|`. A human solves it in K steps, one per term:

    Q 3 + 2 + ? + 1 + ? :  + 2 = 5 ;  + look 3 = 8 ;  + 1 = 9 ;  + skip = 9 ;  answer 0

A visible term is copied and added; a hidden term is looked up (`look v`, the value comes from the
world) or skipped (`skip`: the human never learns it); every step writes the running sum of what is
known, with an occasional arithmetic slip. Some humans stop early (after 0..K-1 steps). Whoever
answers guesses from their own posterior ("probability matching"): the known sum plus the law of
the still-unknown hidden terms. So the question alone leaves `A` uncertain, each look-up reveals
one latent term (the information the trace carries), skips and slips make incorrect human traces,
and early stoppers teach a model to answer after any prefix, which the readout estimator needs.

Exact Bayes entropy: given `Q, C_{1:k}` the truth is a known shift plus the sum of the `u_k`
hidden terms not yet looked up, so `H(A | Q, C_{1:k}) = H(S_{u_k})` with `S_u` a sum of u uniform
terms mod |A| (`unknown_sum_law`). Its expectation over complete human traces is `bayes_curve`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from siakit.theory.info import entropy

STRUCTURE = ["[PAD]", "[UNK]", "Q", "+", "?", ":", "=", ";", "look", "skip", "answer"]
CUE = " answer"  # the answer cue appended after a prefix by the readout


@dataclass(frozen=True)
class WorldConfig:
    n_terms: int = 4          # K: terms per problem = steps per complete trace
    n_answers: int = 10       # |A|: answers are sums mod this, written as the digits 0..|A|-1
    hidden_values: int = 4    # every term is uniform on 0..hidden_values-1 (small: sums stay learnable)
    p_visible: float = 0.4    # chance that a term is printed in the question (the rest are `?`)
    p_skip: float = 0.15      # chance that a human skips looking up a hidden term (then guesses)
    p_slip: float = 0.03      # chance that a human writes a wrong running sum at a step
    p_stop: float = 0.3       # chance that a training trace stops early, after 0..K-1 steps (uniform)

    def __post_init__(self):
        if not 2 <= self.n_answers <= 10 or not 1 <= self.hidden_values <= self.n_answers:
            raise ValueError("WorldConfig: need 2 <= n_answers <= 10 and 1 <= hidden_values <= n_answers")
        for name in ("p_visible", "p_skip", "p_slip", "p_stop"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"WorldConfig.{name}: must be in [0, 1), got {getattr(self, name)}")

    @property
    def vocab(self) -> list[str]:
        return STRUCTURE + [str(d) for d in range(self.n_answers)]

    @property
    def options(self) -> list[str]:
        """Answer strings scored after the cue: [" 0", " 1", ...]."""
        return [f" {d}" for d in range(self.n_answers)]


@dataclass(frozen=True)
class Problem:
    x0: int                      # start value, printed in the question
    values: tuple[int, ...]      # the true value of every term
    visible: tuple[bool, ...]    # is the term printed in the question?

    def truth(self, n_answers: int) -> int:
        return (self.x0 + sum(self.values)) % n_answers

    def prompt_tokens(self) -> list[str]:
        terms = [t for v, vis in zip(self.values, self.visible) for t in ("+", str(v) if vis else "?")]
        return ["Q", str(self.x0)] + terms + [":"]


@dataclass
class HumanTrace:
    problem: Problem
    steps: list[list[str]]       # tokens of each step, e.g. ["+", "look", "3", "=", "8", ";"]
    answer: int                  # the written final answer
    truth: int                   # a*
    logprob: float               # exact log P_data(question, steps, answer), nats
    unknown: list[int]           # u_k for k = 0..len(steps): hidden terms not looked up in C_{1:k}

    @property
    def correct(self) -> bool:
        return self.answer == self.truth

    def tokens(self) -> list[str]:
        return self.problem.prompt_tokens() + [t for s in self.steps for t in s] + ["answer", str(self.answer)]


@lru_cache(maxsize=None)
def _unknown_sum_law(u: int, n_answers: int, hidden_values: int) -> tuple[float, ...]:
    law = np.zeros(n_answers)
    law[0] = 1.0
    one = np.zeros(n_answers)
    one[:hidden_values] = 1.0 / hidden_values
    for _ in range(u):  # circular convolution with one more uniform term
        law = np.array([sum(law[j] * one[(a - j) % n_answers] for j in range(n_answers))
                        for a in range(n_answers)])
    return tuple(law)


def unknown_sum_law(world: WorldConfig, u: int) -> np.ndarray:
    """Law of the sum of u unknown terms mod |A|. u=1, |A|=10, 4 values -> [.25,.25,.25,.25,0,...]."""
    return np.array(_unknown_sum_law(u, world.n_answers, world.hidden_values))


def unknown_entropy(world: WorldConfig, u: int) -> float:
    """H(S_u) in nats: the exact Bayes entropy H(A | Q, C_{1:k}) of any prefix with u_k = u."""
    return float(entropy(unknown_sum_law(world, u)))


def bayes_curve(world: WorldConfig) -> np.ndarray:
    """E[H(A | Q, C_{1:k})] over complete human traces, k = 0..K, nats (exact, no sampling).

    u_k = Binomial(K-k, q) hidden terms not reached + Binomial(k, q * p_skip) skipped, q = 1 - p_visible.
    """
    K, q = world.n_terms, 1.0 - world.p_visible
    out = []
    for k in range(K + 1):
        ahead = [math.comb(K - k, i) * q**i * (1 - q) ** (K - k - i) for i in range(K - k + 1)]
        qs = q * world.p_skip
        behind = [math.comb(k, j) * qs**j * (1 - qs) ** (k - j) for j in range(k + 1)]
        out.append(sum(pa * pb * unknown_entropy(world, i + j)
                       for i, pa in enumerate(ahead) for j, pb in enumerate(behind)))
    return np.array(out)


def sample_problem(world: WorldConfig, rng: np.random.Generator) -> Problem:
    values = tuple(int(v) for v in rng.integers(0, world.hidden_values, world.n_terms))
    visible = tuple(bool(v) for v in rng.random(world.n_terms) < world.p_visible)
    return Problem(int(rng.integers(0, world.n_answers)), values, visible)


def problem_logprob(world: WorldConfig, problem: Problem) -> float:
    """log P(question): x0 uniform, each term visible (value printed) or hidden."""
    lp = -math.log(world.n_answers)
    for vis in problem.visible:
        lp += math.log(world.p_visible) - math.log(world.hidden_values) if vis else math.log(1 - world.p_visible)
    return lp

"""Human traces of the toy world: the data a tiny GPT is trained on, with their exact log-probability.

Every random choice of the human (stop point, look-up or skip, slip, final guess) is recorded in
`HumanTrace.logprob`, so `-logprob` is the exact negative log-likelihood of the token sequence under
the data law and `mean(logprob_data - logprob_model)` estimates KL(P_data || p_model) per trace.
The token sequence determines every choice, so no path has to be summed out.
"""
from __future__ import annotations

import math

import numpy as np

from siakit.training.toy.world import HumanTrace, Problem, WorldConfig, problem_logprob, sample_problem, unknown_sum_law


def believed_posterior(world: WorldConfig, problem: Problem, written_sum: int, n_done: int, u: int) -> np.ndarray:
    """The law a human guesses from after n_done steps: written sum + visible terms still ahead +
    the u unknown hidden terms. [|A|]; a slip shifts it, so its entropy is the Bayes entropy H(S_u)."""
    ahead = sum(v for v, vis in zip(problem.values[n_done:], problem.visible[n_done:]) if vis)
    return np.roll(unknown_sum_law(world, u), (written_sum + ahead) % world.n_answers)


def human_trace(world: WorldConfig, problem: Problem, rng: np.random.Generator,
                allow_stop: bool = True) -> HumanTrace:
    """One human trace of `problem`; with allow_stop=False the human always finishes all K steps.

    The log-probability is that of the sequence under the full data law (stops included) either way.
    """
    K, m = world.n_terms, world.n_answers
    lp = problem_logprob(world, problem)
    if allow_stop and rng.random() < world.p_stop:
        stop = int(rng.integers(0, K))
    else:
        stop = K
    lp += math.log(world.p_stop / K) if stop < K else math.log(1 - world.p_stop)
    s, u = problem.x0, sum(not v for v in problem.visible)
    steps, unknown = [], [u]
    for j in range(stop):
        v, vis = problem.values[j], problem.visible[j]
        if vis:
            tokens, add = ["+", str(v)], v
        elif rng.random() < world.p_skip:
            tokens, add = ["+", "skip"], 0
            lp += math.log(world.p_skip)
        else:
            tokens, add = ["+", "look", str(v)], v
            lp += math.log(1 - world.p_skip) - math.log(world.hidden_values)
            u -= 1
        s = (s + add) % m
        if world.p_slip > 0 and rng.random() < world.p_slip:
            s = (s + int(rng.integers(1, m))) % m  # a slip: any other running sum, uniformly
            lp += math.log(world.p_slip / (m - 1))
        else:
            lp += math.log(1 - world.p_slip)
        steps.append(tokens + ["=", str(s), ";"])
        unknown.append(u)
    law = believed_posterior(world, problem, s, stop, u)
    answer = int(rng.choice(m, p=law))
    lp += math.log(law[answer])
    return HumanTrace(problem, steps, answer, problem.truth(m), lp, unknown)


def human_traces(world: WorldConfig, n: int, seed: int, allow_stop: bool = True) -> list[HumanTrace]:
    """n traces of fresh problems, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    return [human_trace(world, sample_problem(world, rng), rng, allow_stop) for _ in range(n)]


def unknown_counts(problem: Problem, steps: list[list[str]]) -> list[int]:
    """u_k for k = 0..len(steps) of ANY trace of `problem` (a model's own included): hidden terms not
    looked up in C_{1:k}. Step j looks up term j when it holds a `look` token (the world supplies the
    true value, so a look-up always reveals the truth).

    >>> unknown_counts(Problem(0, (1, 2), (False, False)), [["+", "look", "1", "=", "1", ";"]])
    [2, 1]
    """
    u = sum(not v for v in problem.visible)
    out = [u]
    for j, step in enumerate(steps):
        if j < len(problem.visible) and not problem.visible[j] and "look" in step:
            u -= 1
        out.append(u)
    return out

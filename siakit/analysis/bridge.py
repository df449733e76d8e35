"""From SIA to what we measure: helpers for the theory chapter's bridge section (our formalisation).

`siakit.theory.sia` holds the laws of a finite reasoning world; this module holds what links them to the
run pages' measurements:

- `two_step_example`           the 2-answer, 2-step world worked by hand on the theory page
- `readout_martingale_check`   is a sequence of per-prefix readouts a martingale along the traces?
- `random_cue_readouts`        a forced-answer ("cue") readout that is NOT the own-law marginal
- `reinforce_tilt`             the optimum of REINFORCE on 1[correct] with a fixed answer head
- `sample_scores`              sampled traces of a world, in the scorer's long table, so that
                               `siakit.analysis.signatures` reads them exactly as it reads real runs
- `drop_slope`, `shuffled_null` the saturation statistic and its null (the trace's increments in
                               random order), re-exported from `siakit.analysis.saturation`

Layouts follow `siakit.theory.sia`: joint `[Q, A, C1..CK]`, head `[Q, C1..CK, A']`, a readout after k
steps `[Q, A, C1..Ck]`. Entropies are in nats.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from siakit.analysis.saturation import drop_slope, shuffled_null  # noqa: F401  (re-exported)
from siakit.theory import sia
from siakit.theory.info import as_dist


def two_step_example(reliability: float = 0.75) -> np.ndarray:
    """One question, A uniform on {0, 1}, two steps that each show A with prob `reliability`,
    independently given A. -> joint `[1, 2, 2, 2]`.

    two_step_example(0.75)[0, 0] -> [[0.28125, 0.09375], [0.09375, 0.03125]] (= (1/2) * 3/4 * 3/4 ...).
    """
    if not 0.0 <= reliability <= 1.0:
        raise ValueError(f"reliability: must lie in [0, 1], got {reliability}")
    step = np.array([[reliability, 1 - reliability], [1 - reliability, reliability]])  # [A, C]
    joint = 0.5 * step[:, :, None] * step[:, None, :]  # [A, C1, C2]
    return joint[None]


def _step_law(joint: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(P(Q, C_{1:k}), P(C_{k+1} | Q, C_{1:k})) of a joint's trace marginal; 0 where unreachable."""
    ctx = sia.prefix_marginal(joint, k).sum(axis=1)  # [Q, C1..Ck]
    nxt = sia.prefix_marginal(joint, k + 1).sum(axis=1)  # [Q, C1..Ck, C(k+1)]
    safe = np.where(ctx > 0, ctx, 1.0)[..., None]
    return ctx, np.where(ctx[..., None] > 0, nxt / safe, 0.0)


def readout_martingale_check(joint, readouts) -> tuple[float, float]:
    """(max_gap, max_rise) of per-prefix readouts r_k `[Q, A, C1..Ck]`, k = 0..K, along the traces
    of `joint` `[Q, A, C1..CK]` (its law of (Q, C) is the trace law the readouts are averaged under).

    max_gap = max |E[r_{k+1} | Q, C_{1:k}] - r_k|, max_rise = max E[H(r_{k+1}) | Q, C_{1:k}] - H(r_k)
    over reachable prefixes. A martingale has gap 0 and then rise <= 0 (Jensen).
    For the own-law readouts `[sia.readout(mu, k) for k in 0..K]` this is `sia.martingale_check(mu)`.
    """
    j = np.asarray(joint, dtype=float)
    K = sia.n_steps(j)
    if len(readouts) != K + 1:
        raise ValueError(f"readouts: expected K + 1 = {K + 1} arrays (k = 0..K), got {len(readouts)}")
    ent = lambda r: -np.where(r > 0, r * np.log(np.where(r > 0, r, 1.0)), 0.0).sum(1)  # noqa: E731
    gap, rise = 0.0, -np.inf
    for k in range(K):
        ctx, step = _step_law(j, k)
        r_now, r_next = np.asarray(readouts[k], float), np.asarray(readouts[k + 1], float)
        mean_next = (step[:, None] * r_next).sum(-1)  # [Q, A, C1..Ck]
        gap = max(gap, float(np.abs(np.where(ctx[:, None] > 0, mean_next - r_now, 0.0)).max()))
        e_next = (step * ent(r_next)).sum(-1)
        rise = max(rise, float(np.where(ctx > 0, e_next - ent(r_now), -np.inf).max()))
    return gap, rise


def random_cue_readouts(rng: np.random.Generator, joint, concentration: float = 0.5) -> list[np.ndarray]:
    """A "forced answer now" readout: an independent Dirichlet(concentration) answer distribution
    for every prefix and every k, `[Q, A, C1..Ck]` for k = 0..K. Such a head answers from the prefix
    alone; nothing ties its k-step answer to what it will answer later, unlike the own-law marginal.
    """
    j = np.asarray(joint, dtype=float)
    Q, A, C = j.shape[0], j.shape[1], (j.shape[2] if j.ndim > 2 else 1)
    out = []
    for k in range(sia.n_steps(j) + 1):
        g = rng.gamma(concentration, size=(Q,) + (C,) * k + (A,))
        g = np.maximum(g, 1e-300)
        out.append(np.moveaxis(g / g.sum(-1, keepdims=True), -1, 1))
    return out


def reinforce_tilt(joint, head, beta: float) -> np.ndarray:
    """Traces after KL-regularised RL on the reward 1[A' = A] with the answer head kept fixed.

    The optimum over (c, a') is p_ref(c, a' | q, a) exp(1[a' = a] / beta) / Z; summing out a' gives
    T*(c | q, a) ∝ T(c | q, a) (1 + (e^{1/beta} - 1) head(a | q, c)). Compare `sia.rl_tilt`, whose
    reward is head(a | q, c) itself: T ∝ T exp(head(a | q, c) / beta). Both weights grow with
    head(a | q, c), but they are different laws. joint `[Q, A, C1..CK]`, head `[Q, C1..CK, A']`.

    Only traces move; P(Q, A) is kept. One step that ignores A, a head that answers c:
    reinforce_tilt(np.full((1, 2, 2), 0.25), [[[1, 0], [0, 1]]], 1.0)[0, 0] -> [0.3655, 0.1345]
    (= 0.5 * (e, 1) / (e + 1)).
    """
    if not beta > 0:
        raise ValueError(f"beta: must be > 0, got {beta}")
    j = np.asarray(joint, dtype=float)
    sia.own_answer_joint(j, head)  # validates shapes
    weight = 1.0 + np.expm1(1.0 / beta) * np.moveaxis(np.asarray(head, float), -1, 1)  # [Q, A, C..]
    Q, A = j.shape[:2]
    w = (j * weight).reshape(Q, A, -1)
    p_qa = j.reshape(Q, A, -1).sum(-1)
    tot = w.sum(-1, keepdims=True)
    trace = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 1.0 / w.shape[-1])
    return sia.couple(p_qa, trace.reshape(j.shape))


def sample_scores(rng: np.random.Generator, joint, head, n_traces: int) -> pd.DataFrame:
    """Sample (Q, A, C_{1:K}) from the coupling `joint` and A' from `head`; score each prefix with
    the model's own-law readout p_k = mu(A' | Q, C_{1:k}) (mu = `sia.own_answer_joint(joint, head)`).

    Returns the scorer's long table, one row per (id, k): id, k, entropy (h_k, nats), gold_logprob
    (log p_k(a*)), option_probs (p_k as a list), n_options, n_steps, correct (A' == A), gold, own.
    """
    j = np.asarray(joint, dtype=float)
    head = as_dist(head, "head")
    mu = sia.own_answer_joint(j, head)
    K, n_a = sia.n_steps(j), j.shape[1]
    flat = j.ravel() / j.sum()
    reads = [sia.readout(mu, k) for k in range(K + 1)]
    rows = []
    for i, cell in enumerate(rng.choice(flat.size, size=n_traces, p=flat)):
        q, a, *c = np.unravel_index(cell, j.shape)
        own = int(rng.choice(n_a, p=head[(q, *c)]))
        for k in range(K + 1):
            p = reads[k][(q, slice(None), *c[:k])]
            h = float(-(p[p > 0] * np.log(p[p > 0])).sum())
            rows.append({"id": f"t{i}", "k": k, "entropy": h,
                         "gold_logprob": float(np.log(p[a])) if p[a] > 0 else -np.inf,
                         "option_probs": p.tolist(), "n_options": n_a, "n_steps": K,
                         "correct": own == a, "gold": int(a), "own": own})
    return pd.DataFrame(rows)

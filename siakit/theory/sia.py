"""The Stepwise Informativeness Assumption (SIA) on finite reasoning worlds (our formalisation).

Layout used throughout: a joint table `joint[q, a, c1, ..., cK]` over the question Q, an
answer A and K reasoning steps (see `siakit.theory.worlds`). Under the COUPLING `couple(p_qa, trace)`
A is the true answer; under `own_answer_joint(joint, head)` it is the model's own answer A'.
The same curve functions read both, which is the point of the martingale trap:

- `answer_entropy_curve`  E[H(A | Q, C_{1:k})], k = 0..K          [K+1], nats
- `stepwise_information`  I(A; C_k | Q, C_{<k}), k = 1..K         [K], nats
- `error_curve`           P_e(k) of the best guess of A            [K+1]
- `gold_surprisal_curve`  E_pi[s_k], s_k = -log p(a* | Q, C_{1:k})  [K+1], nats
"""
from __future__ import annotations

import numpy as np

from siakit.theory.info import (as_dist, conditional_entropy, conditional_entropy_continuity_bound,
                         conditional_mutual_information)


def _check_joint(joint, name: str = "joint") -> np.ndarray:
    j = np.asarray(joint, dtype=float)
    if j.ndim < 3:
        raise ValueError(f"{name}: expected shape [Q, A, C1, ..., CK] with K >= 1, got {j.shape}")
    return as_dist(j.reshape(1, -1), name).reshape(j.shape)


def n_steps(joint) -> int:
    """Number of reasoning steps K of a `[Q, A, C1..CK]` joint: n_steps(zeros((2, 3, 4, 4))) -> 2."""
    return np.ndim(joint) - 2


def prefix_marginal(joint: np.ndarray, k: int) -> np.ndarray:
    """Law of (Q, A, C_{1:k}): sum out steps k+1..K. `[Q, A, C1..CK]` -> `[Q, A, C1..Ck]`."""
    K = n_steps(joint)
    if not 0 <= k <= K:
        raise ValueError(f"k: expected 0 <= k <= {K}, got {k}")
    return joint.sum(axis=tuple(range(2 + k, 2 + K))) if k < K else joint


def couple(p_qa, trace) -> np.ndarray:
    """Coupling of a trace law with the true (Q, A) law: pi(q, a, c) = P(q, a) T(c | q, a).

    p_qa `[Q, A]`, trace `[Q, A, C1..CK]` (sums to 1 over C for each (q, a)) -> `[Q, A, C1..CK]`.
    couple([[1.0]], [[[0.5, 0.5]]]) -> [[[0.5, 0.5]]].
    """
    p_qa = as_dist(np.reshape(p_qa, (1, -1)), "p_qa").reshape(np.shape(p_qa))
    trace = np.asarray(trace, dtype=float)
    if trace.ndim < 3 or trace.shape[:2] != p_qa.shape:
        raise ValueError(f"trace: shape {trace.shape} does not start with p_qa's {p_qa.shape}")
    flat = trace.reshape(trace.shape[:2] + (-1,))
    as_dist(flat, "trace")
    return p_qa.reshape(p_qa.shape + (1,) * (trace.ndim - 2)) * trace


def answer_entropy_curve(joint) -> np.ndarray:
    """E[H(A | Q, C_{1:k})] for k = 0..K, in nats. `[Q, A, C1..CK]` -> `[K+1]`.

    Non-increasing in k for ANY joint law (conditioning reduces entropy).
    """
    j = _check_joint(joint)
    out = []
    for k in range(n_steps(j) + 1):
        m = np.moveaxis(prefix_marginal(j, k), 1, -1)  # [Q, C1..Ck, A]
        out.append(conditional_entropy(m.reshape(-1, j.shape[1])))
    return np.array(out)


def stepwise_information(joint) -> np.ndarray:
    """I(A; C_k | Q, C_{<k}) for k = 1..K, in nats, computed directly (not as differences).

    `[Q, A, C1..CK]` -> `[K]`. By the chain rule it equals -diff(answer_entropy_curve(joint)).
    """
    j = _check_joint(joint)
    out = []
    for k in range(1, n_steps(j) + 1):
        m = prefix_marginal(j, k)  # [Q, A, C1..Ck]
        x = np.moveaxis(m, (1, -1), (0, 1))  # [A, Ck, Q, C1..C(k-1)]
        out.append(conditional_mutual_information(x.reshape(x.shape[0], x.shape[1], -1)))
    return np.array(out)


def sia_stepwise_holds(joint, delta) -> bool:
    """Stepwise SIA: I(A; C_k | Q, C_{<k}) >= delta_k for every k (delta scalar or `[K]`, nats)."""
    return bool(np.all(stepwise_information(joint) >= np.asarray(delta) - 1e-12))


def sia_cumulative_holds(joint, final_entropy_max: float, tol: float = 1e-9) -> bool:
    """Cumulative SIA: E[H(A | Q, C_{1:k})] is non-increasing and ends <= final_entropy_max nats."""
    curve = answer_entropy_curve(joint)
    return bool(np.all(np.diff(curve) <= tol) and curve[-1] <= final_entropy_max)


def readout(joint, k: int) -> np.ndarray:
    """p(A | Q, C_{1:k}) of a joint, same layout `[Q, A, C1..Ck]`; uniform where (q, c) has mass 0."""
    m = prefix_marginal(np.asarray(joint, dtype=float), k)
    ctx = m.sum(axis=1, keepdims=True)
    return np.where(ctx > 0, m / np.where(ctx > 0, ctx, 1.0), 1.0 / m.shape[1])


def error_curve(joint) -> np.ndarray:
    """P_e(k) = 1 - E[max_a P(a | Q, C_{1:k})], the error of the best guess, k = 0..K. -> `[K+1]`."""
    j = _check_joint(joint)
    return np.array([1.0 - prefix_marginal(j, k).max(axis=1).sum() for k in range(n_steps(j) + 1)])


def own_answer_joint(joint, head) -> np.ndarray:
    """Law of (Q, A', C_{1:K}) where A' ~ head(. | Q, C) is the model's OWN answer; the true
    answer is summed out. joint `[Q, A, C1..CK]`, head `[Q, C1..CK, A']` -> `[Q, A', C1..CK]`.
    """
    j = _check_joint(joint)
    head = as_dist(head, "head")
    if head.shape[:-1] != (j.shape[0],) + j.shape[2:]:
        raise ValueError(f"head: shape {head.shape} does not match joint {j.shape} as [Q, C.., A']")
    return np.moveaxis(j.sum(axis=1)[..., None] * head, -1, 1)


def martingale_check(own_joint) -> tuple[float, float]:
    """Check the martingale property of the model's own answer law along its own traces.

    Returns (max_gap, max_rise): max |E[p(A'|Q,C_{1:k+1}) | Q, C_{1:k}] - p(A'|Q,C_{1:k})| and
    max of E[h_{k+1} | Q, C_{1:k}] - h_k over reachable prefixes and k. Theory: gap = 0 and
    rise <= 0 for EVERY model (Jensen on the concave entropy).
    """
    j = _check_joint(own_joint, "own_joint")
    gap, rise = 0.0, -np.inf
    for k in range(n_steps(j)):
        ctx = prefix_marginal(j, k).sum(axis=1)  # [Q, C1..Ck]
        nxt = prefix_marginal(j, k + 1).sum(axis=1)  # [Q, C1..Ck, C(k+1)]
        step = np.where(ctx[..., None] > 0, nxt / np.where(ctx > 0, ctx, 1.0)[..., None], 0.0)
        r_now, r_next = readout(j, k), readout(j, k + 1)
        mean_next = (step[:, None] * r_next).sum(-1)  # [Q, A, C1..Ck]
        live = ctx[:, None] > 0
        gap = max(gap, float(np.abs(np.where(live, mean_next - r_now, 0.0)).max()))
        h = lambda r: -np.where(r > 0, r * np.log(np.where(r > 0, r, 1.0)), 0.0).sum(1)  # noqa: E731
        e_next = (step * h(r_next)).sum(-1)
        rise = max(rise, float(np.where(ctx > 0, e_next - h(r_now), -np.inf).max()))
    return gap, rise


def gold_surprisal_curve(joint, own_joint) -> np.ndarray:
    """E_pi[s_k] with s_k = -log p(A | Q, C_{1:k}): the model's own readout (from `own_joint`)
    scored on the TRUE answer A of the coupling `joint`, k = 0..K, nats. -> `[K+1]`."""
    j, o = _check_joint(joint), _check_joint(own_joint, "own_joint")
    if j.shape != o.shape:
        raise ValueError(f"own_joint: shape {o.shape} differs from joint {j.shape}")
    out = []
    for k in range(n_steps(j) + 1):
        pk, rk = prefix_marginal(j, k), readout(o, k)
        with np.errstate(divide="ignore"):
            out.append(float(-np.where(pk > 0, pk * np.log(rk), 0.0).sum()))
    return np.array(out)


def transfer_epsilon(kl_value, n_answers: int):
    """Largest change of any I(A; C_k | Q, C_{<k}) between two joints with KL <= kl_value nats:
    2 * AFW(min(1, sqrt(KL / 2))) (Pinsker, then Alicki-Fannes-Winter on both conditional
    entropies; marginals never increase TV), capped at log n_answers. Nats.

    transfer_epsilon(0.0, 4) -> 0.0.
    """
    kl_value = np.asarray(kl_value, dtype=float)
    if np.isnan(kl_value).any() or (kl_value < 0).any():
        raise ValueError("kl_value: KL divergence must be >= 0")
    tv = np.minimum(1.0, np.sqrt(kl_value / 2.0))
    return np.minimum(2.0 * conditional_entropy_continuity_bound(tv, n_answers), np.log(n_answers))


def transferred_information_bound(info_human, kl_value, n_answers: int):
    """MLE transfer: lower bound max(0, I_human - transfer_epsilon(KL)) on the model's stepwise
    information, given the human (reference) value `info_human` `[K]` and KL(human || model)."""
    return np.maximum(0.0, np.asarray(info_human) - transfer_epsilon(kl_value, n_answers))


def kl_regularised_optimum(p_ref, reward, beta: float, axis=-1) -> np.ndarray:
    """argmax_p E_p[r] - beta KL(p || p_ref) = p_ref exp(r / beta) / Z, normalised along `axis`.

    kl_regularised_optimum([0.5, 0.5], [1.0, 0.0], 1.0) -> [0.7311, 0.2689].
    """
    if not beta > 0:
        raise ValueError(f"beta: must be > 0, got {beta}")
    p_ref = as_dist(p_ref, "p_ref", axis)
    reward = np.asarray(reward, dtype=float)
    if reward.shape != p_ref.shape:
        raise ValueError(f"reward: shape {reward.shape} differs from p_ref {p_ref.shape}")
    logits = np.where(p_ref > 0, reward / beta, -np.inf)
    logits = logits - logits.max(axis=axis, keepdims=True)
    w = p_ref * np.exp(logits)
    return w / w.sum(axis=axis, keepdims=True)


def rl_tilt(joint, head, beta: float) -> np.ndarray:
    """Coupling after KL-regularised RL with reward r = P(A' = A | Q, C) (expected correctness of
    the trace's final answer): T*(c | q, a) ∝ T(c | q, a) exp(r / beta). Truth P(Q, A) unchanged.
    joint `[Q, A, C1..CK]`, head `[Q, C1..CK, A']` -> `[Q, A, C1..CK]`."""
    j = _check_joint(joint)
    _ = own_answer_joint(j, head)  # validates head's shape
    Q, A = j.shape[:2]
    reward = np.moveaxis(np.asarray(head, dtype=float), -1, 1)  # [Q, A, C1..CK], r = head(a | q, c)
    p_qa = j.reshape(Q, A, -1).sum(-1)
    trace = j.reshape(Q, A, -1) / np.where(p_qa > 0, p_qa, 1.0)[..., None]
    trace[p_qa == 0] = 1.0 / trace.shape[-1]  # unreachable (q, a): any law will do
    tilted = kl_regularised_optimum(trace, reward.reshape(Q, A, -1), beta)
    return couple(p_qa, tilted.reshape(j.shape))


def answer_law(joint, head) -> np.ndarray:
    """P(A' | Q, A): the model's final-answer law for each problem (q, a*), marginal over traces.
    joint `[Q, A, C1..CK]`, head `[Q, C1..CK, A']` -> `[Q, A, A']` (uniform rows where P(q, a) = 0)."""
    j, head = _check_joint(joint), np.asarray(head, dtype=float)
    own_answer_joint(j, head)  # validates head's shape
    Q, A = j.shape[:2]
    w = (j[..., None] * head[:, None]).reshape(Q, A, -1, head.shape[-1]).sum(2)
    tot = w.sum(-1, keepdims=True)
    return np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 1.0 / w.shape[-1])


def accuracy(joint, head) -> float:
    """P(A' = A): the chance the model's final answer equals the true answer under the coupling."""
    j = _check_joint(joint)
    return float((j * np.moveaxis(np.asarray(head, dtype=float), -1, 1)).sum())

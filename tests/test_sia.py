"""Tests of siakit.theory.sia and siakit.theory.worlds against brute-force oracles and the chapter's theorems."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siakit.theory import info

from siakit.theory import sia
from siakit.theory import worlds as W
sizes = st.fixed_dictionaries({"n_questions": st.integers(1, 3), "n_answers": st.integers(2, 4),
                               "n_symbols": st.integers(2, 3), "n_steps": st.integers(1, 3)})


def make_world(seed, n_questions=2, n_answers=3, n_symbols=2, n_steps=3, concentration=0.5,
               uses_answer=True):
    rng = np.random.default_rng(seed)
    s = dict(n_questions=n_questions, n_answers=n_answers, n_symbols=n_symbols, n_steps=n_steps)
    joint = sia.couple(W.random_truth(rng, n_questions, n_answers),
                       W.random_trace_law(rng, **s, concentration=concentration, uses_answer=uses_answer))
    head = W.random_answer_head(rng, n_questions, n_symbols, n_steps, n_answers)
    return joint, head


def oracle_entropy_curve(joint):
    """Naive loop over every (q, c_1:k) prefix: sum_prefix P(prefix) H(A | prefix)."""
    n_q, n_a, *cs = joint.shape
    out = []
    for k in range(len(cs) + 1):
        total = 0.0
        for q in range(n_q):
            for prefix in itertools.product(*[range(c) for c in cs[:k]]):
                p_a = np.array([joint[(q, a) + prefix].sum() for a in range(n_a)])
                if p_a.sum() > 0:
                    total += p_a.sum() * info.entropy(p_a / p_a.sum())
        out.append(total)
    return np.array(out)


def test_entropy_curve_matches_naive_oracle():
    for seed in range(5):
        joint, _ = make_world(seed)
        np.testing.assert_allclose(sia.answer_entropy_curve(joint), oracle_entropy_curve(joint), atol=1e-12)


def oracle_step_information(joint):
    """I(A; C_k | Q, C_<k) by a loop over contexts, sum p(a, c) log(p(a, c) / (p(a) p(c))), unclipped."""
    n_q, n_a, *cs = joint.shape
    out = []
    for k in range(1, len(cs) + 1):
        total = 0.0
        for q in range(n_q):
            for prefix in itertools.product(*[range(c) for c in cs[:k - 1]]):
                t = np.array([[joint[(q, a) + prefix + (c,)].sum() for c in range(cs[k - 1])] for a in range(n_a)])
                z = t.sum()
                if z <= 0:
                    continue
                p = t / z
                pa, pc = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
                nz = p > 0
                total += z * float((p[nz] * np.log(p[nz] / (pa @ pc)[nz])).sum())
        out.append(total)
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), sizes)
def test_chain_rule_and_step_information_against_an_oracle(seed, s):
    """The step information (computed as a CMI, clipped at 0) equals an unclipped brute-force loop and
    the entropy curve's decrements; the curve starts at H(A | Q) computed by hand."""
    joint, _ = make_world(seed, **s)
    curve, steps = sia.answer_entropy_curve(joint), sia.stepwise_information(joint)
    np.testing.assert_allclose(steps, oracle_step_information(joint), atol=1e-12)
    np.testing.assert_allclose(-np.diff(curve), steps, atol=1e-12)
    p_qa = joint.reshape(joint.shape[0], joint.shape[1], -1).sum(-1)
    h_a_given_q = sum(p_qa[q].sum() * info.entropy(p_qa[q] / p_qa[q].sum()) for q in range(len(p_qa)))
    assert curve[0] == pytest.approx(h_a_given_q, abs=1e-12)


def test_sia_checks_discriminate():
    """The 'holds' checks are tight: true at the measured margin, false just above it."""
    joint, _ = make_world(11)
    steps, curve = sia.stepwise_information(joint), sia.answer_entropy_curve(joint)
    assert steps.min() > 1e-4  # an answer-using world: every step informs
    assert sia.sia_stepwise_holds(joint, steps) and not sia.sia_stepwise_holds(joint, steps + 1e-6)
    assert sia.sia_stepwise_holds(joint, steps.min()) and not sia.sia_stepwise_holds(joint, steps.max() + 1e-6)
    assert sia.sia_cumulative_holds(joint, curve[-1]) and not sia.sia_cumulative_holds(joint, curve[-1] - 1e-6)
    blind, _ = make_world(11, uses_answer=False)
    assert not sia.sia_stepwise_holds(blind, 1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), sizes)
def test_martingale_property_of_own_answer_law(seed, s):
    joint, head = make_world(seed, **s, uses_answer=bool(seed % 2))
    own = sia.own_answer_joint(joint, head)
    gap, rise = sia.martingale_check(own)
    assert gap < 1e-12 and rise <= 1e-12
    assert np.all(np.diff(sia.answer_entropy_curve(own)) <= 1e-12)


def test_answer_blind_model_carries_no_information_about_truth():
    joint, head = make_world(3, uses_answer=False)
    np.testing.assert_allclose(sia.stepwise_information(joint), 0.0, atol=1e-12)
    assert not sia.sia_stepwise_holds(joint, 0.01)
    own = sia.own_answer_joint(joint, head)
    assert sia.answer_entropy_curve(own)[-1] < sia.answer_entropy_curve(own)[0]  # own entropy still falls


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), sizes)
def test_fano_sandwich_and_accuracy_ceiling(seed, s):
    joint, head = make_world(seed, **s)
    curve, pe = sia.answer_entropy_curve(joint), sia.error_curve(joint)
    assert np.all(info.fano_lower_bound(curve, s["n_answers"]) <= pe + 1e-9)
    assert np.all(pe <= info.error_upper_bound(curve) + 1e-12)
    assert sia.accuracy(joint, head) <= 1 - pe[-1] + 1e-12


def test_gold_surprisal_split():
    joint, head = make_world(4)
    own = sia.own_answer_joint(joint, head)
    gold, curve = sia.gold_surprisal_curve(joint, own), sia.answer_entropy_curve(joint)
    for k in range(sia.n_steps(joint) + 1):
        ctx = sia.prefix_marginal(joint, k).sum(1)
        kl_term = (ctx * info.kl(sia.readout(joint, k), sia.readout(own, k), axis=1)).sum()
        assert gold[k] == pytest.approx(curve[k] + kl_term, abs=1e-12)
    calibrated = np.moveaxis(sia.readout(joint, sia.n_steps(joint)), 1, -1)
    np.testing.assert_allclose(sia.gold_surprisal_curve(joint, sia.own_answer_joint(joint, calibrated)),
                               curve, atol=1e-12)  # a calibrated model's gold surprisal is the entropy


def perturb_trace_law(rng: np.random.Generator, trace: np.ndarray, noise: float) -> np.ndarray:
    """Multiply every probability of a `[Q, A, C, ..., C]` trace law by exp(noise * N(0, 1)) and renormalise
    per (q, a): model trace laws at any KL from a human one; noise=0 returns `trace`."""
    steps = tuple(range(2, trace.ndim))
    logits = np.log(np.maximum(trace, 1e-300)) + noise * rng.standard_normal(trace.shape)
    logits -= logits.max(axis=steps, keepdims=True)
    w = np.exp(logits) * (trace > 0)
    return w / w.sum(axis=steps, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 3.0))
def test_transfer_bound_holds(seed, noise):
    rng = np.random.default_rng(seed)
    human, _ = make_world(seed)
    p_qa = human.reshape(2, 3, -1).sum(-1)
    trace = human / p_qa.reshape(2, 3, 1, 1, 1)
    model = sia.couple(p_qa, perturb_trace_law(rng, trace, noise))
    kl_value = float(info.kl(human.ravel(), model.ravel()))
    bound = sia.transferred_information_bound(sia.stepwise_information(human), kl_value, 3)
    assert np.all(sia.stepwise_information(model) >= bound - 1e-12)


def test_transfer_epsilon_vanishes_and_caps():
    assert sia.transfer_epsilon(0.0, 4) == 0.0
    eps = sia.transfer_epsilon(np.array([1e-8, 1e-4, 1e-2, 10.0]), 4)
    assert np.all(np.diff(eps) >= 0) and eps[0] < 1e-2 and eps[-1] == pytest.approx(np.log(4))
    with pytest.raises(ValueError, match="kl_value"):
        sia.transfer_epsilon(-1.0, 4)


def test_mle_fit_converges():
    rng = np.random.default_rng(5)
    human, _ = make_world(5)
    p_qa = human.reshape(2, 3, -1).sum(-1)
    kls = [float(info.kl(human.ravel(), sia.couple(p_qa, W.fit_trace_law(W.sample_counts(rng, human, n))).ravel()))
           for n in (100, 10_000, 1_000_000)]
    assert kls[0] > kls[1] > kls[2] and kls[2] < 1e-3
    np.testing.assert_allclose(W.fit_trace_law(np.array([[[3, 1]]]), 0.0), [[[0.75, 0.25]]])


def test_kl_regularised_optimum_is_the_argmax():
    rng = np.random.default_rng(6)
    np.testing.assert_allclose(sia.kl_regularised_optimum([0.5, 0.5], [1.0, 0.0], 1.0),
                               [np.e / (1 + np.e), 1 / (1 + np.e)])
    p_ref, r, beta = rng.dirichlet(np.ones(6)), rng.random(6), 0.3
    star = sia.kl_regularised_optimum(p_ref, r, beta)
    objective = lambda p: p @ r - beta * info.kl(p, p_ref)  # noqa: E731
    for p in rng.dirichlet(np.ones(6), size=200):
        assert objective(p) <= objective(star) + 1e-12
    with pytest.raises(ValueError, match="beta"):
        sia.kl_regularised_optimum(p_ref, r, 0.0)
    with pytest.raises(ValueError, match="reward"):
        sia.kl_regularised_optimum(p_ref, r[:3], 1.0)


def test_rl_tilt_raises_accuracy_monotonically():
    for seed in range(10):
        joint, head = make_world(seed)
        accs = [sia.accuracy(sia.rl_tilt(joint, head, b), head) for b in (100.0, 1.0, 0.3, 0.1, 0.01)]
        assert np.all(np.diff(accs) >= -1e-12)
        assert accs[0] == pytest.approx(sia.accuracy(joint, head), abs=1e-2)
        np.testing.assert_allclose(sia.rl_tilt(joint, head, 1.0).reshape(2, 3, -1).sum(-1),
                                   joint.reshape(2, 3, -1).sum(-1))  # the truth P(Q, A) is untouched
        assert np.allclose(sia.answer_law(joint, head).sum(-1), 1.0)


def test_invalid_inputs_raise():
    joint, head = make_world(7)
    with pytest.raises(ValueError, match="joint"):
        sia.answer_entropy_curve(np.full((2, 3), 1 / 6))  # no steps
    with pytest.raises(ValueError, match="joint"):
        sia.answer_entropy_curve(joint * 2)
    with pytest.raises(ValueError, match="trace"):
        sia.couple(np.full((2, 3), 1 / 6), np.full((2, 2, 2), 0.5))
    with pytest.raises(ValueError, match="trace"):
        sia.couple(np.full((2, 3), 1 / 6), np.full((2, 3, 2), 0.4))
    with pytest.raises(ValueError, match="head"):
        sia.own_answer_joint(joint, head[0])
    with pytest.raises(ValueError, match="k"):
        sia.prefix_marginal(joint, 9)
    with pytest.raises(ValueError, match="concentration"):
        W.random_truth(np.random.default_rng(0), concentration=0.0)

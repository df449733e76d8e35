"""siakit.analysis.bridge: the theory chapter's bridge helpers, each against an independent computation."""
import numpy as np
import pytest

from siakit.theory import info

from siakit.theory import sia
from siakit.analysis import bridge as B
from siakit.theory import worlds as W
def test_two_step_example_matches_hand_values():
    joint = B.two_step_example(0.75)
    assert joint.shape == (1, 2, 2, 2) and np.isclose(joint.sum(), 1.0)
    h = sia.answer_entropy_curve(joint)
    assert np.allclose(h, [np.log(2), np.log(4) - 0.75 * np.log(3),
                           5 / 8 * info.binary_entropy(0.1) + 3 / 8 * np.log(2)])
    assert np.allclose(sia.error_curve(joint), [0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="reliability"):
        B.two_step_example(1.5)


def test_readout_martingale_check_agrees_with_sia_and_flags_cue_readouts():
    rng = np.random.default_rng(1)
    joint = sia.couple(W.random_truth(rng, 2, 3), W.random_trace_law(rng, 2, 3, 2, 3))
    mu = sia.own_answer_joint(joint, W.random_answer_head(rng, 2, 2, 3, 3))
    own = B.readout_martingale_check(mu, [sia.readout(mu, k) for k in range(4)])
    assert np.allclose(own, sia.martingale_check(mu))
    assert own[0] < 1e-12
    cue_gap, _ = B.readout_martingale_check(joint, B.random_cue_readouts(rng, joint))
    assert cue_gap > 1e-3
    with pytest.raises(ValueError, match="K \\+ 1"):
        B.readout_martingale_check(joint, [sia.readout(joint, 0)])


def test_reinforce_tilt_is_the_marginal_of_the_joint_optimum():
    rng = np.random.default_rng(2)
    Q, A, C, K, beta = 2, 3, 2, 2, 0.4
    joint = sia.couple(W.random_truth(rng, Q, A), W.random_trace_law(rng, Q, A, C, K))
    head = W.random_answer_head(rng, Q, C, K, A)                   # [Q, C1, C2, A']
    got = B.reinforce_tilt(joint, head, beta)
    p_qa = joint.reshape(Q, A, -1).sum(-1)
    for q in range(Q):
        for a in range(A):
            # optimum over (c, a') of T(c) head(a' | c) exp(1[a' = a] / beta), then sum out a'
            ref = (joint[q, a] / p_qa[q, a])[..., None] * head[q]  # [C1, C2, A']
            reward = np.zeros_like(ref); reward[..., a] = 1.0
            best = sia.kl_regularised_optimum(ref.ravel(), reward.ravel(), beta).reshape(ref.shape)
            assert np.allclose(got[q, a] / p_qa[q, a], best.sum(-1))
    assert np.allclose(got.reshape(Q, A, -1).sum(-1), p_qa)        # the truth is unchanged
    assert sia.accuracy(got, head) >= sia.accuracy(joint, head) - 1e-12


def test_drop_slope_and_shuffled_null():
    assert np.isclose(B.drop_slope([1.0, 0.5, 0.25, 0.125]), 0.5)
    assert np.isnan(B.drop_slope([1.0, 0.5]))
    stat, null = B.shuffled_null([1.0, 0.75, 0.5, 0.25, 0.0])      # equal drops: order cannot matter
    assert stat == pytest.approx(0.0, abs=1e-9) and null == pytest.approx(0.0, abs=1e-9)
    stat, null = B.shuffled_null([1.0, 0.5, 0.25, 0.125, 0.0625])  # shrinking drops: above the null
    assert stat - null > 0.3
    rng = np.random.default_rng(3)                                 # pure noise: raw slope ~ 1, net ~ 0
    noise = rng.uniform(size=(300, 6))
    raw = np.nanmean([B.drop_slope(c) for c in noise])
    net = np.nanmean([np.subtract(*B.shuffled_null(c, n_perm=30)) for c in noise])
    assert raw > 0.8 and abs(net) < 0.5 * raw


def test_sample_scores_reads_the_own_law_readout():
    rng = np.random.default_rng(4)
    joint = B.two_step_example(0.75)
    head = np.moveaxis(sia.readout(joint, 2), 1, -1)               # calibrated head [Q, C1, C2, A']
    df = B.sample_scores(rng, joint, head, 50)
    assert len(df) == 50 * 3 and set(df["k"]) == {0, 1, 2}
    first = df[df["k"] == 1]
    assert np.allclose(first["entropy"], info.binary_entropy(0.25))
    assert np.allclose(np.exp(df["gold_logprob"]), [p[g] for p, g in zip(df["option_probs"], df["gold"])])
    assert (df.groupby("id")["correct"].nunique() == 1).all()

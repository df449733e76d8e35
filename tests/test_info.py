"""Tests of siakit.theory.info: closed forms, properties over random distributions, invalid input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siakit.theory.info import (binary_entropy, conditional_entropy, conditional_entropy_continuity_bound,
                         conditional_mutual_information, cross_entropy, entropy,
                         entropy_continuity_bound, error_upper_bound, fano_lower_bound,
                         fano_max_entropy, kl, miller_madow_entropy, mutual_information,
                         plugin_entropy, total_variation)

LOG2 = np.log(2.0)
weights = st.one_of(st.just(0.0), st.floats(1e-6, 1.0))  # exact zeros on purpose (0 log 0)


@st.composite
def dists(draw, n=None, min_n=1, max_n=8):
    """A probability vector, possibly with zero entries."""
    n = n or draw(st.integers(min_n, max_n))
    w = np.array(draw(st.lists(weights, min_size=n, max_size=n)))
    if w.sum() == 0:
        w[draw(st.integers(0, n - 1))] = 1.0
    return w / w.sum()


@st.composite
def dist_pairs(draw, min_n=2, max_n=8):
    n = draw(st.integers(min_n, max_n))
    return draw(dists(n=n)), draw(dists(n=n))


# ---------------------------------------------------------------- closed forms
@pytest.mark.parametrize("n", [1, 2, 3, 7, 100])
def test_uniform_entropy_is_log_n(n):
    assert entropy(np.full(n, 1.0 / n)) == pytest.approx(np.log(n))
    assert entropy(np.full(n, 1.0 / n), base=2) == pytest.approx(np.log2(n))


def test_one_hot_entropy_is_zero_and_batched():
    batch = np.eye(5)  # [batch, n]
    np.testing.assert_array_equal(entropy(batch), np.zeros(5))
    np.testing.assert_allclose(entropy(batch.T, axis=0), np.zeros(5))
    assert entropy([[0.5, 0.5], [1.0, 0.0]]).shape == (2,)


def test_docstring_examples():
    assert entropy([0.5, 0.5]) == pytest.approx(LOG2)
    assert binary_entropy(0.5) == pytest.approx(LOG2) and binary_entropy(0.0) == 0.0
    assert cross_entropy([1, 0], [0.5, 0.5]) == pytest.approx(LOG2)
    assert kl([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.1438410362)
    assert total_variation([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert conditional_entropy([[0.25, 0.25], [0.5, 0]]) == pytest.approx(0.5 * LOG2)
    assert fano_lower_bound(np.log(4), 4) == pytest.approx(0.75, abs=1e-6)
    assert fano_lower_bound(np.log(4), 4, "weak") == pytest.approx(LOG2 / np.log(3))
    assert fano_max_entropy(0.75, 4) == pytest.approx(np.log(4))
    assert plugin_entropy([2, 2]) == pytest.approx(LOG2)
    assert miller_madow_entropy([2, 2]) == pytest.approx(LOG2 + 1 / 8)
    assert error_upper_bound(np.log(4)) == pytest.approx(0.75)
    assert entropy_continuity_bound(0.0, 4) == 0.0 and entropy_continuity_bound(0.75, 4) == pytest.approx(np.log(4))


def test_mutual_information_closed_forms():
    assert mutual_information([[0.5, 0], [0, 0.5]]) == pytest.approx(LOG2)
    rng = np.random.default_rng(0)
    px, py = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(4))
    assert mutual_information(np.outer(px, py)) == pytest.approx(0.0, abs=1e-12)
    joint = np.zeros((2, 2, 1))
    joint[:, :, 0] = [[0.5, 0], [0, 0.5]]
    assert conditional_mutual_information(joint) == pytest.approx(LOG2)


def test_chain_rule_on_random_joints():
    rng = np.random.default_rng(1)
    for _ in range(50):
        j = rng.dirichlet(np.full(12, 0.3)).reshape(3, 4)
        h_xy = entropy(j.ravel())
        assert h_xy == pytest.approx(entropy(j.sum(1)) + conditional_entropy(j))
        assert mutual_information(j) == pytest.approx(entropy(j.sum(0)) - conditional_entropy(j))
        j3 = rng.dirichlet(np.full(24, 0.3)).reshape(2, 3, 4)  # [x, y, z]
        # I(X; Y | Z) = H(X | Z) - H(X | Y, Z)
        h_x_given_z = conditional_entropy(np.moveaxis(j3.sum(1), 0, -1))
        h_x_given_yz = conditional_entropy(np.moveaxis(j3, 0, -1).reshape(12, 2))
        assert conditional_mutual_information(j3) == pytest.approx(h_x_given_z - h_x_given_yz, abs=1e-12)


def test_miller_madow_reduces_bias():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(6))
    counts = rng.multinomial(20, p, size=4000)  # [batch, n]: vectorised along the last axis
    h = entropy(p)
    assert abs(miller_madow_entropy(counts).mean() - h) < abs(plugin_entropy(counts).mean() - h)
    assert plugin_entropy(counts).shape == (4000,)


# ---------------------------------------------------------------- properties
@settings(max_examples=150, deadline=None)
@given(dist_pairs())
def test_kl_nonnegative_and_pinsker(pq):
    p, q = pq
    d = kl(p, q)
    assert d >= 0
    assert total_variation(p, q) <= np.sqrt(d / 2) + 1e-12
    assert kl(p, p) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(dist_pairs())
def test_kl_equals_cross_entropy_minus_entropy(pq):
    p, q = pq
    assert kl(p, q) == pytest.approx(cross_entropy(p, q) - entropy(p), rel=1e-9, abs=1e-12)


def test_kl_support_and_tiny_values():
    assert kl([0, 1], [0.5, 0.5]) == pytest.approx(LOG2)
    assert kl([1, 0], [0, 1]) == np.inf
    # KL of a 1e-9 perturbation is 2e-18 (second order); naive sums lose it to round-off
    assert kl([0.5, 0.5], [0.5 + 1e-9, 0.5 - 1e-9]) == pytest.approx(2e-18, rel=1e-6)


@settings(max_examples=150, deadline=None)
@given(dist_pairs())
def test_fannes_audenaert_continuity(pq):
    p, q = pq
    assert abs(entropy(p) - entropy(q)) <= entropy_continuity_bound(total_variation(p, q), len(p)) + 1e-12


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(2, 5), st.data())
def test_alicki_fannes_winter_continuity(n_x, n_y, data):
    p, q = data.draw(dists(n=n_x * n_y)), data.draw(dists(n=n_x * n_y))
    tv = total_variation(p, q)
    diff = abs(conditional_entropy(p.reshape(n_x, n_y)) - conditional_entropy(q.reshape(n_x, n_y)))
    assert diff <= conditional_entropy_continuity_bound(tv, n_y) + 1e-12


@settings(max_examples=200, deadline=None)
@given(dists(min_n=2))
def test_fano_and_upper_bound_sandwich_best_guess_error(p):
    n, h, err = len(p), entropy(p), 1.0 - p.max()
    assert fano_lower_bound(h, n) <= err + 1e-9
    assert err <= error_upper_bound(h) + 1e-12
    if n >= 3:
        assert fano_lower_bound(h, n, form="weak") <= fano_lower_bound(h, n) + 1e-9


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 20), st.floats(0.0, 1.0))
def test_fano_inverse_roundtrip(n, e):
    e = min(e, 1 - 1 / n)
    h = fano_max_entropy(e, n)
    assert fano_lower_bound(h, n) == pytest.approx(e, abs=1e-6)  # phi is flat at its top


# ---------------------------------------------------------------- invalid input
@pytest.mark.parametrize("bad, msg", [([0.5, -0.1, 0.6], "negative"), ([0.5, 0.4], "sum"),
                                      ([0.5, np.nan], "NaN"), (0.5, "scalar")])
def test_entropy_rejects_invalid(bad, msg):
    with pytest.raises(ValueError, match=msg):
        entropy(bad)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="shape"):
        kl([0.5, 0.5], [1 / 3, 1 / 3, 1 / 3])
    with pytest.raises(ValueError, match="shape"):
        total_variation([1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="joint"):
        mutual_information([0.5, 0.5])
    with pytest.raises(ValueError, match="joint"):
        conditional_mutual_information(np.full((2, 2), 0.25))
    with pytest.raises(ValueError, match="n_answers"):
        fano_lower_bound(0.5, 2, form="weak")
    with pytest.raises(ValueError, match="h"):
        fano_lower_bound(2.0, 4)  # above log 4
    with pytest.raises(ValueError, match="counts"):
        plugin_entropy([0, 0])
    with pytest.raises(ValueError, match="counts"):
        miller_madow_entropy([1, -1])
    with pytest.raises(ValueError, match="tv"):
        entropy_continuity_bound(1.5, 3)
    with pytest.raises(ValueError, match="x"):
        binary_entropy(1.2)


# ---------------------------------------------------------------- against scipy (an outside oracle)
def test_against_scipy_on_random_distributions():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 17):
        for _ in range(20):
            p, q = rng.dirichlet(np.full(n, 0.5)), rng.dirichlet(np.ones(n))
            p[rng.integers(n)] = 0.0  # an exact zero: 0 log 0 = 0
            p /= p.sum()
            assert entropy(p) == pytest.approx(scipy_stats.entropy(p), abs=1e-12)
            assert entropy(p, base=2) == pytest.approx(scipy_stats.entropy(p, base=2), abs=1e-12)
            assert kl(p, q) == pytest.approx(scipy_stats.entropy(p, q), abs=1e-12)
            assert cross_entropy(p, q) == pytest.approx(scipy_stats.entropy(p) + scipy_stats.entropy(p, q), abs=1e-12)
            counts = rng.integers(0, 9, size=n)
            counts[0] += 1
            assert plugin_entropy(counts) == pytest.approx(scipy_stats.entropy(counts), abs=1e-12)
    for _ in range(20):
        joint = rng.dirichlet(np.ones(12)).reshape(3, 4)
        hx, hy = scipy_stats.entropy(joint.sum(1)), scipy_stats.entropy(joint.sum(0))
        hxy = scipy_stats.entropy(joint.ravel())
        assert mutual_information(joint) == pytest.approx(hx + hy - hxy, abs=1e-12)
        assert conditional_entropy(joint) == pytest.approx(hxy - hx, abs=1e-12)
        xyz = rng.dirichlet(np.ones(24)).reshape(2, 3, 4)  # [X, Y, Z]
        h = lambda a: scipy_stats.entropy(np.asarray(a).ravel())  # noqa: E731
        cmi = h(xyz.sum(1)) + h(xyz.sum(0)) - h(xyz) - h(xyz.sum((0, 1)))
        assert conditional_mutual_information(xyz) == pytest.approx(cmi, abs=1e-12)
        batch = rng.dirichlet(np.ones(5), size=4)
        np.testing.assert_allclose(entropy(batch), scipy_stats.entropy(batch, axis=1), atol=1e-12)

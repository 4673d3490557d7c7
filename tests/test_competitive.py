"""Competitive learning (winner-take-all, online k-means) against its definition, a Gaussian
mixture's labels and scipy.cluster.vq.kmeans2; the adjusted Rand index against pair counting."""

import itertools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.cluster.vq import kmeans2
from scipy.optimize import linear_sum_assignment

import jaxneuro as jn

CENTRES = np.array([[0.0, 0.0], [4.0, 0.5], [1.0, 4.5], [5.0, 5.0]])


def gaussian_mixture(n_per=150, sd=0.6, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CENTRES)), n_per)
    x = CENTRES[labels] + sd * rng.standard_normal((labels.size, 2))
    order = rng.permutation(labels.size)
    return x[order], labels[order]


def ari_by_pairs(a, b):
    """Hubert-Arabie ARI from its definition over all pairs: agreements and their expectation."""
    pairs = list(itertools.combinations(range(len(a)), 2))
    same_a = np.array([a[i] == a[j] for i, j in pairs])
    same_b = np.array([b[i] == b[j] for i, j in pairs])
    index = np.sum(same_a & same_b)
    expected = same_a.sum() * same_b.sum() / len(pairs)
    return (index - expected) / ((same_a.sum() + same_b.sum()) / 2 - expected)


def test_update_moves_only_the_winner():
    w = jnp.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 5.0]])
    x = jnp.array([2.0, 2.0])
    w1, n1 = jn.competitive_update(w, jnp.array([0.0, 4.0, 1.0]), x, learning_rate=0.25)
    np.testing.assert_allclose(w1, [[0, 0], [3 + 0.25 * (2 - 3), 1 + 0.25 * (2 - 1)], [-2, 5]])
    np.testing.assert_array_equal(n1, [0, 5, 1])
    # eta = 1 / n: the winner's fifth input moves it a fifth of the way
    w2, _ = jn.competitive_update(w, jnp.array([0.0, 4.0, 1.0]), x)
    np.testing.assert_allclose(w2[1], [3 - 0.2, 1 + 0.2], rtol=1e-6)
    np.testing.assert_array_equal(jn.winners(w, jnp.array([[0.1, 0.0], [2.0, 2.0], [-1.0, 4.0]])), [0, 1, 2])


def test_one_unit_with_eta_one_over_n_is_the_sample_mean():
    x = np.random.default_rng(2).normal(size=(300, 3)) * [1.0, 2.0, 0.5] + [1.0, -2.0, 3.0]
    r = jn.fit_competitive(jnp.asarray(x, jnp.float32), 1, key=jr.key(0), epochs=3)
    np.testing.assert_allclose(r.prototypes[0], x.mean(axis=0), atol=1e-5)
    assert float(r.inertia) == pytest.approx(np.sum((x - x.mean(0)) ** 2), rel=1e-5)


def test_clusters_a_gaussian_mixture_like_kmeans2():
    x, labels = gaussian_mixture()
    r = jn.fit_competitive(jnp.asarray(x, jnp.float32), 4, key=jr.key(1), epochs=10)
    ari = jn.adjusted_rand_index(labels, np.asarray(r.labels))
    assert ari >= 0.95
    centroids, km_labels = kmeans2(x, 4, minit="++", seed=np.random.default_rng(3))
    ari_km = jn.adjusted_rand_index(labels, km_labels)
    assert ari >= ari_km - 0.02
    # the same centres as scipy's k-means, and near the mixture's, after matching units to centres
    w = np.asarray(r.prototypes, np.float64)
    cost = np.linalg.norm(w[:, None] - centroids[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    assert np.max(cost[rows, cols]) < 0.05
    true_cost = np.linalg.norm(w[:, None] - CENTRES[None], axis=-1)
    assert np.max(true_cost[linear_sum_assignment(true_cost)]) < 0.15
    km_inertia = np.sum((x - centroids[km_labels]) ** 2)
    assert float(r.inertia) == pytest.approx(km_inertia, rel=0.01)


@pytest.mark.slow  # ~8 s
def test_a_constant_rate_also_clusters_and_restarts_vmap():
    x, labels = gaussian_mixture(n_per=40, seed=4)
    fit = jax.jit(lambda k: jn.fit_competitive(jnp.asarray(x, jnp.float32), 4, key=k, epochs=5, learning_rate=0.05))
    runs = jax.vmap(fit)(jr.split(jr.key(5), 3))
    assert runs.prototypes.shape == (3, 4, 2) and runs.labels.shape == (3, x.shape[0])
    best = int(jnp.argmin(runs.inertia))
    assert jn.adjusted_rand_index(labels, np.asarray(runs.labels[best])) >= 0.9
    np.testing.assert_array_equal(runs.labels[0], fit(jr.split(jr.key(5), 3)[0]).labels)


def test_adjusted_rand_index():
    # hand example: contingency [[2, 0, 0], [0, 1, 1]]: index 1, expected 2 * 1 / 6, max 3/2: ARI = 4/7
    assert jn.adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7, rel=1e-12)
    assert jn.adjusted_rand_index([1, 1, 0, 0, 2], [7, 7, 3, 3, 9]) == 1.0  # renaming does not matter
    rng = np.random.default_rng(6)
    for _ in range(5):
        a, b = rng.integers(0, 3, 40), rng.integers(0, 4, 40)
        b[:20] = a[:20]  # partly agreeing
        assert jn.adjusted_rand_index(a, b) == pytest.approx(ari_by_pairs(a, b), rel=1e-10)
    # independent partitions: about 0 on average
    aris = [jn.adjusted_rand_index(rng.integers(0, 4, 200), rng.integers(0, 4, 200)) for _ in range(50)]
    assert abs(np.mean(aris)) < 0.01
    with pytest.raises(ValueError, match="same length"):
        jn.adjusted_rand_index([0, 1], [0, 1, 2])


def test_validation_errors():
    x = jnp.zeros((5, 2))
    with pytest.raises(ValueError, match=r"n_clusters must be an int in \[1, inf\), got n_clusters = 0"):
        jn.fit_competitive(x, 0, key=jr.key(0))
    with pytest.raises(ValueError, match="n_clusters must be <= the number of inputs 5, got 6"):
        jn.fit_competitive(x, 6, key=jr.key(0))
    with pytest.raises(ValueError, match="learning_rate must be finite and in"):
        jn.fit_competitive(x, 2, key=jr.key(0), learning_rate=1.5)
    with pytest.raises(ValueError, match=r"epochs must be an int in \[1, inf\)"):
        jn.fit_competitive(x, 2, key=jr.key(0), epochs=0)


@pytest.mark.jaxtyping_off  # x = jnp.zeros(5), a vector where an (n, d) matrix is expected, on purpose
def test_inputs_that_are_not_a_matrix_are_named():
    with pytest.raises(ValueError, match=r"x must have shape \(n, d\)"):
        jn.fit_competitive(jnp.zeros(5), 2, key=jr.key(0))

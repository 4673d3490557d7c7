"""The depth question (notes ch. 2.2, after Theorem 2.1): why more than one hidden layer?

The tent map ``T(x) = 2 x`` (x <= 1/2), ``2 - 2 x`` (x > 1/2) composed k times, ``T^k``, has 2^k
linear pieces and oscillates between 0 and 1.  A deep ReLU network computes it exactly with k
hidden layers of 2 units (``T(x) = 2 relu(x) - 4 relu(x - 1/2)`` on [0, 1]): 2k units.  A shallow
ReLU network (one hidden layer of m units) is piecewise linear with at most m breakpoints (one
per unit), m + 1 pieces.  At the points ``x_i = i / 2^k`` T^k alternates 0, 1, 0, ...; a function
linear on ``[x_i, x_(i+2)]`` has ``g(x_(i+1)) = (g(x_i) + g(x_(i+2))) / 2``, so it is within
``eps < 1/2`` of 0, 1, 0 only if ``1 - eps <= eps``: impossible.  Every one of the 2^k - 1 open
intervals ``(x_i, x_(i+2))`` therefore needs a breakpoint, and one breakpoint lies in at most two
of them, so an error below 1/2 needs ``m >= 2^(k-1)`` units: exponentially many in k.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import jaxneuro as jn

K = 6  # depth: the deep net has 2K = 12 units, a shallow one needs >= 2^(K-1) = 32 for an error < 1/2


def np_tent_k(x, k):
    for _ in range(k):
        x = np.where(x <= 0.5, 2 * x, 2 - 2 * x)
    return x


def deep_tent_net(k):
    """k hidden layers of 2 ReLU units: h -> (relu(T), relu(T - 1/2)) with T = 2 h_1 - 4 h_2."""
    first = jn.Dense.from_weights(jnp.array([[1.0], [1.0]]), jnp.array([0.0, -0.5]))
    middle = [jn.Dense.from_weights(jnp.array([[2.0, -4.0], [2.0, -4.0]]), jnp.array([0.0, -0.5]))] * (k - 1)
    out = jn.Dense.from_weights(jnp.array([[2.0, -4.0]]), jnp.zeros(1))
    return jn.MLP.from_layers([first, *middle, out], "relu", "identity")


def count_pieces(y, x):
    """Linear pieces of a sampled piecewise-linear function: runs of slope changes between grid cells
    (a kink inside a cell changes the slope twice, on either side of that cell: one breakpoint)."""
    slopes = np.diff(y) / np.diff(x)
    kink = np.abs(np.diff(slopes)) > 1e-3 * np.max(np.abs(slopes))
    return 1 + int(np.sum(kink[1:] & ~kink[:-1]) + kink[0])


def test_deep_net_is_exact_with_2k_units():
    net = deep_tent_net(K)
    hidden_units = sum(layer.out_size for layer in net.layers[:-1])
    assert hidden_units == 2 * K and len(net.layers) == K + 1
    x = np.linspace(0.0, 1.0, 2**K * 16 + 1)  # dyadic: exact in float32
    y = np.asarray(jax.vmap(net)(jnp.asarray(x[:, None], jnp.float32)))[:, 0]
    np.testing.assert_allclose(y, np_tent_k(x, K), atol=1e-5)
    assert count_pieces(y, x) == 2**K


def fit_shallow(m, x, t, *, key, steps=800):
    """One hidden layer of m ReLU units trained with Adam on the mean squared error (full batch, lax.scan)."""
    net = jn.MLP(1, 1, [m], activation="relu", final_activation="identity", key=key)
    # breakpoints spread over [0, 1] at the start, so that training can use every unit
    centres = (jnp.arange(m) + 0.5) / m
    w = jnp.where(jnp.arange(m) % 2 == 0, 1.0, -1.0)[:, None] * 4.0
    net = eqx.tree_at(lambda n: (n.layers[0].weight, n.layers[0].bias), net, (w, -w[:, 0] * centres))
    params, static = eqx.partition(net, eqx.is_array)
    opt = optax.adam(optax.cosine_decay_schedule(0.02, steps, alpha=0.01))

    def loss(p):
        y = jax.vmap(eqx.combine(p, static))(x[:, None])[:, 0]
        return jnp.mean((y - t) ** 2)

    def step(carry, _):
        p, s = carry
        value, g = jax.value_and_grad(loss)(p)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), value

    (params, _), losses = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), None, length=steps))(params)
    return eqx.combine(params, static), losses


def test_shallow_net_with_the_deep_nets_units_cannot_get_below_one_half():
    m = 2 * K
    x = np.linspace(0.0, 1.0, 2**K * 8 + 1)
    t = np_tent_k(x, K)
    net, losses = fit_shallow(m, jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.float32), key=jr.key(0))
    assert float(losses[-1]) < float(losses[0])  # it did train
    y = np.asarray(jax.vmap(net)(jnp.asarray(x[:, None], jnp.float32)))[:, 0]
    assert count_pieces(y, x) <= m + 1  # at most one breakpoint per unit
    nodes = np.arange(2**K + 1) * 8  # the points x_i = i / 2^K, where T^K alternates 0, 1
    assert np.max(np.abs(y[nodes] - t[nodes])) >= 0.5
    # the deep net with the same 12 units: exact
    deep = np.asarray(jax.vmap(deep_tent_net(K))(jnp.asarray(x[:, None], jnp.float32)))[:, 0]
    assert np.max(np.abs(deep - t)) < 1e-5


def shallow_lstsq_error(breakpoints, x, t):
    """Best (least-squares) output weights for ReLU units with the given breakpoints; sup error at x."""
    features = np.concatenate([np.maximum(x[:, None] - breakpoints[None, :], 0.0), np.ones((x.size, 1)), x[:, None]], 1)
    c, *_ = np.linalg.lstsq(features, t, rcond=None)
    return np.max(np.abs(features @ c - t))


def test_shallow_lower_bound_for_any_breakpoints_and_exactness_at_2_to_the_k():
    x = np.arange(2**K + 1) / 2**K  # the alternating points
    t = np_tent_k(x, K)
    rng = np.random.default_rng(0)
    # below 2^(K-1) units every placement of the breakpoints errs by at least 1/2 at these points
    for m in (2 * K, 2 ** (K - 1) - 1):
        errors = [shallow_lstsq_error(rng.uniform(0, 1, m), x, t) for _ in range(200)]
        errors.append(shallow_lstsq_error((np.arange(m) + 0.5) / m, x, t))
        assert min(errors) >= 0.5 - 1e-9
    # 2^K - 1 units with breakpoints at the interior dyadic points represent T^K exactly (its interpolant)
    assert shallow_lstsq_error(x[1:-1], x, t) < 1e-9
    assert shallow_lstsq_error(x[1:-1], np.linspace(0, 1, 4097), np_tent_k(np.linspace(0, 1, 4097), K)) < 1e-9


@pytest.mark.parametrize("k", [3, 5, 8])
def test_pieces_double_with_each_layer(k):
    x = np.linspace(0.0, 1.0, 2**k * 8 + 1)
    y = np.asarray(jax.vmap(deep_tent_net(k))(jnp.asarray(x[:, None], jnp.float32)))[:, 0]
    assert count_pieces(y, x) == 2**k  # 2k units, 2^k pieces; a shallow net with 2k units has <= 2k + 1
    np.testing.assert_allclose(y, np_tent_k(x, k), atol=1e-5)

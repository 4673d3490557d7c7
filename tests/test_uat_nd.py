"""Universal approximation on [0, 1]^n with any sigmoidal function (notes ch. 2.2, Theorem 2.1).

References: the towers written directly in numpy (float64), the sigmoids from their formulas,
the certified bound, and the (L / epsilon)^n growth of the units against its formula.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn

TWO_PI = 2 * np.pi


def np_logistic(y):
    return 0.5 * (1.0 + np.tanh(0.5 * y))


def np_tanh01(y):
    return 0.5 * (1.0 + np.tanh(y))


def np_soft_lif01(y, tau_m=0.02, tau_ref=0.002, gamma=0.03):
    # r(1 + y) tau_ref with r = 1 / (tau_ref + tau_m log(1 + 1/rho(y))), rho = gamma softplus(y / gamma);
    # log(1 + 1/rho) = log1p(rho) - log(rho), log softplus(u) = u for u < -30 (no underflow)
    u = np.asarray(y, np.float64) / gamma
    log_sp = np.where(u < -30, u, np.log(np.logaddexp(0.0, np.maximum(u, -30.0))))
    rho = gamma * np.exp(log_sp)
    return tau_ref / (tau_ref + tau_m * (np.log1p(rho) - np.log(gamma) - log_sp))


# name: (jax sigmoid, numpy formula, kappa used in the tests)
SIGMOIDS = {
    "logistic": (jax.nn.sigmoid, np_logistic, 30.0),
    "tanh": (jn.rescaled_tanh, np_tanh01, 30.0),
    "soft_lif": (jn.normalized_soft_lif, np_soft_lif01, 1e4),
}

# name: (f on points (..., 2), numpy f, l1-Lipschitz constant, sup |f|)
TARGETS_2D = {
    "sin_cos": (
        lambda x: jnp.sin(TWO_PI * x[..., 0]) * jnp.cos(TWO_PI * x[..., 1]),
        lambda x: np.sin(TWO_PI * x[..., 0]) * np.cos(TWO_PI * x[..., 1]),
        TWO_PI,
        1.0,
    ),
    "kinks": (
        lambda x: jnp.abs(x[..., 0] - 1 / 3) + 0.5 * jnp.abs(x[..., 1] - 0.6),
        lambda x: np.abs(x[..., 0] - 1 / 3) + 0.5 * np.abs(x[..., 1] - 0.6),
        1.0,
        2 / 3 + 0.3,
    ),
}


def np_towers(x, f_np, n, dim, sigma, w, m):
    """sum_c f(a_c) prod_i [sigma(w (x_i - e_(c_i))) - sigma(w (x_i - e_(c_i + 1)))], in float64."""
    a = np.arange(n) / n
    edges = np.concatenate([[-m], a[1:], [1 + m]])
    s = sigma(w * (np.asarray(x, np.float64)[..., None] - edges))  # (P, dim, N + 1)
    P = s[..., :-1] - s[..., 1:]
    alpha = f_np(np.stack(np.meshgrid(*([a] * dim), indexing="ij"), axis=-1))
    letters = "abcdefgh"[:dim]
    return np.einsum(f"{letters}," + ",".join(f"p{c}" for c in letters) + "->p", alpha, *[P[:, i] for i in range(dim)])


def grid(dim, k):
    t = np.linspace(0.0, 1.0, k)
    return np.stack(np.meshgrid(*([t] * dim), indexing="ij"), axis=-1).reshape(-1, dim)


def test_sigmoids_match_their_formulas():
    y = np.concatenate([-np.logspace(6, -3, 40), [0.0], np.logspace(-3, 6, 40)])
    np.testing.assert_allclose(jn.rescaled_tanh(jnp.asarray(y, jnp.float32)), np_tanh01(y), atol=2e-7)
    np.testing.assert_allclose(jn.normalized_soft_lif(jnp.asarray(y, jnp.float32)), np_soft_lif01(y), rtol=2e-5)
    # the soft LIF divided by its supremum 1/tau_ref; tails like 1/y on both sides
    assert float(jn.normalized_soft_lif(1e6)) == pytest.approx(1 - 0.02 / 0.002 / 1e6, rel=1e-6)
    assert float(jn.normalized_soft_lif(-1e4)) == pytest.approx(0.03 * 0.002 / 0.02 / 1e4, rel=1e-2)


@pytest.mark.parametrize(
    "sname",
    ["logistic", pytest.param("tanh", marks=pytest.mark.slow), pytest.param("soft_lif", marks=pytest.mark.slow)],
)
def test_towers_match_numpy(sname, x64):
    sigma, sigma_np, _ = SIGMOIDS[sname]
    f, f_np, _, _ = TARGETS_2D["sin_cos"]
    n, kappa = 9, 4.0
    G = jn.constructive_approximant_nd(f, n, dim=2, sigmoid=sigma, kappa=kappa)
    x = np.random.default_rng(0).uniform(0, 1, (300, 2))
    ref = np_towers(x, f_np, n, 2, sigma_np, kappa * n, 1 / n)
    np.testing.assert_allclose(G(jnp.asarray(x)), ref, rtol=1e-10, atol=1e-12)
    assert G.alpha.shape == (n, n) and G.n_towers == n**2 and G.n_sigmoid_units == 2 * (n + 1)
    # one point, and points with extra batch axes
    np.testing.assert_allclose(G(jnp.asarray(x[0])), ref[0], rtol=1e-10)
    assert G(jnp.asarray(x.reshape(30, 10, 2))).shape == (30, 10)


def test_one_dimension_is_the_notes_single_layer_sum(x64):
    f = lambda x: jnp.sin(TWO_PI * x)  # noqa: E731
    G1 = jn.constructive_approximant(f, 12, kappa=5.0)
    Gn = jn.constructive_approximant_nd(lambda x: f(x[..., 0]), 12, dim=1, kappa=5.0)
    x = np.linspace(0, 1, 401)
    np.testing.assert_allclose(Gn(jnp.asarray(x[:, None])), G1(jnp.asarray(x)), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("sname", sorted(SIGMOIDS))
@pytest.mark.parametrize("tname", ["sin_cos", pytest.param("kinks", marks=pytest.mark.slow)])
def test_sup_error_2d_within_certified_bound(sname, tname):
    sigma, sigma_np, kappa = SIGMOIDS[sname]
    f, f_np, L, M = TARGETS_2D[tname]
    n = 16
    G = jn.constructive_approximant_nd(f, n, dim=2, sigmoid=sigma, kappa=kappa)
    bound = jn.certified_error_bound(n, lipschitz=L, sup_norm=M, kappa=kappa, sigmoid=sigma, dim=2)
    x = np.concatenate([grid(2, 161), grid(2, n + 1)])  # a fine grid, and the cell corners
    err_np = np.max(np.abs(np_towers(x, f_np, n, 2, sigma_np, kappa * n, 1 / n) - f_np(x)))
    err = float(jn.max_error_nd(G, f, dim=2, n_per_axis=161))
    assert err_np <= bound
    assert err <= bound + 1e-5  # float32 evaluation
    assert err_np >= bound / 8  # the certificate is not vacuous
    assert err == pytest.approx(err_np, abs=1e-4)


@pytest.mark.parametrize(
    "sname",
    ["logistic", pytest.param("tanh", marks=pytest.mark.slow), pytest.param("soft_lif", marks=pytest.mark.slow)],
)
def test_sup_error_3d_within_certified_bound(sname):
    sigma, sigma_np, kappa = SIGMOIDS[sname]
    L, M = math.pi, 1.0  # cos(pi (x + y + z)): each partial at most pi

    def f_np(x):
        return np.cos(np.pi * x.sum(-1))

    n = 6
    G = jn.constructive_approximant_nd(lambda x: jnp.cos(jnp.pi * x.sum(-1)), n, dim=3, sigmoid=sigma, kappa=kappa)
    bound = jn.certified_error_bound(n, lipschitz=L, sup_norm=M, kappa=kappa, sigmoid=sigma, dim=3)
    x = grid(3, 31)
    err_np = np.max(np.abs(np_towers(x, f_np, n, 3, sigma_np, kappa * n, 1 / n) - f_np(x)))
    err = float(jnp.max(jnp.abs(G(jnp.asarray(x, jnp.float32)) - f_np(x))))
    assert err_np <= bound and err <= bound + 1e-5
    assert err_np >= bound / 8


@pytest.mark.parametrize(
    ("sname", "kappa"),
    [
        ("logistic", 0.7),
        ("logistic", 3.0),
        ("tanh", 1.5),
        pytest.param("soft_lif", 40.0, marks=pytest.mark.slow),
        pytest.param("soft_lif", 400.0, marks=pytest.mark.slow),
    ],
)
def test_generic_bound_holds_with_heavy_tails(sname, kappa, x64):
    # Shallow steps: the tails are large, so every term of sigmoid_edge_factor is exercised.
    sigma, sigma_np, _ = SIGMOIDS[sname]
    f_np = lambda x: np.abs(((5.3 * x) % 2.0) - 1.0) - 0.5  # noqa: E731  L = 5.3, M = 0.5
    for n, dim in [(10, 1), (30, 1), (8, 2)]:
        x = grid(dim, 20001 if dim == 1 else 201)
        G = np_towers(x, lambda a: f_np(a).sum(-1), n, dim, sigma_np, kappa * n, 1 / n)
        err = np.max(np.abs(G - f_np(x).sum(-1)))
        bound = jn.certified_error_bound(n, lipschitz=5.3, sup_norm=0.5 * dim, kappa=kappa, sigmoid=sigma, dim=dim)
        assert err <= bound, (n, dim)


def test_generic_edge_factor_against_logistic_closed_form():
    for kappa in [2.0, 10.0, 30.0, 100.0]:
        rho = jn.sigmoid_edge_factor(jax.nn.sigmoid, kappa, 50)
        # the generic sup is taken jointly (the closed form adds two separate maxima): never larger,
        # plus the grid's resolution 1/4096
        assert 0 < rho <= jn.edge_factor(kappa) + 3e-4
    # bounds agree in the limit of steep steps
    b_closed = jn.certified_error_bound(20, lipschitz=3.0, sup_norm=1.0)
    b_generic = jn.certified_error_bound(20, lipschitz=3.0, sup_norm=1.0, sigmoid=jax.nn.sigmoid)
    assert b_generic <= b_closed + 1e-4 and b_generic == pytest.approx(3.0 / 20, rel=1e-3)
    # the soft LIF's 1/y tails: rho falls like 1/kappa
    r4, r5 = (jn.sigmoid_edge_factor(jn.normalized_soft_lif, k, 20) for k in (1e4, 1e5))
    assert r4 / r5 == pytest.approx(10.0, rel=0.15)
    # rescaled tanh = logistic(2 y): its rho at kappa equals the logistic's at 2 kappa
    assert jn.sigmoid_edge_factor(jn.rescaled_tanh, 5.0, 20) == pytest.approx(
        jn.sigmoid_edge_factor(jax.nn.sigmoid, 10.0, 20), abs=1e-6
    )
    # dim scales the bound linearly
    b1 = jn.certified_error_bound(12, lipschitz=2.0, sup_norm=1.0, sigmoid=jn.rescaled_tanh)
    assert jn.certified_error_bound(12, lipschitz=2.0, sup_norm=1.0, sigmoid=jn.rescaled_tanh, dim=3) == pytest.approx(
        3 * b1
    )


def test_units_grow_like_L_over_epsilon_to_the_n():
    L, M = 2.0, 1.0
    eps = np.array([0.1, 0.05, 0.025, 0.0125])
    for dim in (1, 2, 3):
        counts = []
        for e in eps:
            n, kappa = jn.pieces_for_tolerance(float(e), lipschitz=L, sup_norm=M, dim=dim)
            # the formula: N = floor(n L (1 + rho) / (eps - 2 n M e^-kappa)) + 1 (bisection may shave off 1)
            tails = 2 * dim * M * math.exp(-kappa)
            formula = math.floor(dim * L * (1 + jn.edge_factor(kappa)) / (e - tails)) + 1
            assert formula - 1 <= n <= formula
            assert jn.certified_error_bound(n, lipschitz=L, sup_norm=M, kappa=kappa, dim=dim) < e
            if n > 1:  # the fewest
                assert jn.certified_error_bound(n - 1, lipschitz=L, sup_norm=M, kappa=kappa, dim=dim) >= e
            if n**dim <= 20000:
                G = jn.constructive_approximant_nd(lambda x: jnp.cos(x.sum(-1)), n, dim=dim, kappa=kappa)
                assert G.n_towers == n**dim and G.n_sigmoid_units == dim * (n + 1)
            counts.append(n**dim)
        slope = np.polyfit(np.log(1 / eps), np.log(counts), 1)[0]
        assert slope == pytest.approx(dim, rel=0.05)
        # and the count is (n L / eps)^n up to the edge factor and rounding
        np.testing.assert_allclose(np.array(counts) ** (1 / dim), dim * L / eps, rtol=0.15)


@pytest.mark.slow
def test_pieces_for_tolerance_certifies_every_sigmoid():
    f = lambda x: jnp.sin(3.0 * x[..., 0]) * jnp.cos(2.0 * x[..., 1])  # noqa: E731  l1-Lipschitz 3, |f| <= 1
    for sname, (sigma, _, _) in SIGMOIDS.items():
        n, kappa = jn.pieces_for_tolerance(0.25, lipschitz=3.0, sup_norm=1.0, sigmoid=sigma, dim=2)
        G = jn.constructive_approximant_nd(f, n, dim=2, sigmoid=sigma, kappa=kappa)
        assert float(jn.max_error_nd(G, f, dim=2, n_per_axis=101)) < 0.25, sname
        if sname == "soft_lif":
            assert kappa > 30.0  # slow tails need steeper steps


def test_jit_vmap_and_no_retrace():
    f = lambda x: x[..., 0] * x[..., 1]  # noqa: E731
    G = jn.constructive_approximant_nd(f, 6, dim=2, sigmoid=jn.rescaled_tanh)
    x = jnp.asarray(np.random.default_rng(1).uniform(0, 1, (50, 2)), jnp.float32)
    traces = []

    @eqx.filter_jit
    def ev(G, x):
        traces.append(1)
        return G(x)

    np.testing.assert_allclose(ev(G, x), G(x), rtol=1e-6)
    G2 = jn.constructive_approximant_nd(lambda x: f(x) + 1.0, 6, dim=2, sigmoid=jn.rescaled_tanh)
    ev(G2, x)
    assert len(traces) == 1
    np.testing.assert_allclose(jax.vmap(G)(x), G(x), rtol=1e-6)


def test_validation_errors():
    f = lambda x: x.sum(-1)  # noqa: E731
    with pytest.raises(ValueError, match="sigmoid must be nondecreasing"):
        jn.constructive_approximant_nd(f, 4, dim=2, sigmoid=lambda y: 1.0 - jax.nn.sigmoid(y))
    with pytest.raises(ValueError, match=r"sigmoid must go from 0 .* to 1"):
        jn.constructive_approximant_nd(f, 4, dim=2, sigmoid=lambda y: 0.5 * jax.nn.sigmoid(y))
    with pytest.raises(ValueError, match="sigmoid must be a callable"):
        jn.sigmoid_edge_factor(3.0, 30.0, 4)
    with pytest.raises(ValueError, match=r"dim must be an int in \[1, inf\), got dim = 0"):
        jn.constructive_approximant_nd(f, 4, dim=0)
    with pytest.raises(ValueError, match=r"n_pieces must be an int in \[1, inf\)"):
        jn.constructive_approximant_nd(f, 0, dim=2)
    with pytest.raises(ValueError, match=r"f must map points of shape \(4, 4, 2\)"):
        jn.constructive_approximant_nd(lambda x: x, 4, dim=2)
    with pytest.raises(ValueError, match="kappa must be finite and in"):
        jn.certified_error_bound(4, lipschitz=1.0, sup_norm=1.0, kappa=-1.0, sigmoid=jn.rescaled_tanh)
    G = jn.constructive_approximant_nd(f, 4, dim=2)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 2\)"):
        G(jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match="alpha must have shape"):
        jn.TowerApproximant(jnp.zeros((3, 4)), jnp.zeros(4), 1.0, jax.nn.sigmoid)
    with pytest.raises(ValueError, match=r"n_per_axis must be an int in \[2, inf\)"):
        jn.max_error_nd(G, f, dim=2, n_per_axis=1)

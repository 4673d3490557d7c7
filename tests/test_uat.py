"""Universal approximation (notes ch. 2.2): the constructive approximant, its certified bound, training."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneuro as jn

TWO_PI = 2 * np.pi
TARGETS = {
    # name: (f, Lipschitz constant on [0, 1], sup |f| on [0, 1])
    "sin": (lambda x: jnp.sin(TWO_PI * x), TWO_PI, 1.0),
    "cos": (lambda x: jnp.cos(TWO_PI * x), TWO_PI, 1.0),
    "kink": (lambda x: jnp.abs(x - 1 / 3), 1.0, 2 / 3),
    "zigzag": (lambda x: 0.5 + jnp.abs(((7.3 * x) % 2.0) - 1.0), 7.3, 1.5),
    "line": (lambda x: 3.0 - 2.0 * x, 2.0, 3.0),
    "const": (lambda x: jnp.full_like(x, -0.7), 0.0, 0.7),
}


def np_sigmoid(y):
    return np.where(y >= 0, 1 / (1 + np.exp(-np.abs(y))), np.exp(-np.abs(y)) / (1 + np.exp(-np.abs(y))))


def np_G(x, f_np, n, w, m):
    """The notes' sum of pieces, written directly: sum_j f(a_j) [sigma(w(x - b_j)) - sigma(w(x - b_j - delta))]."""
    a = np.arange(n) / n
    edges = np.concatenate([[-m], a[1:], [1 + m]])
    x = np.asarray(x, np.float64)[:, None]
    P = np_sigmoid(w * (x - edges[:-1])) - np_sigmoid(w * (x - edges[1:]))
    return P @ f_np(a)


def test_matches_the_notes_sum_of_pieces(x64):
    n = 12
    G = jn.constructive_approximant(lambda x: jnp.sin(TWO_PI * x), n, kappa=5.0)
    x = np.linspace(0, 1, 501)
    ref = np_G(x, lambda a: np.sin(TWO_PI * a), n, 5.0 * n, 1.0 / n)
    np.testing.assert_allclose(G(jnp.asarray(x)), ref, rtol=1e-12, atol=1e-14)
    assert G.alpha.shape == (n,) and G.edges.shape == (n + 1,) and float(G.steepness) == 60.0
    np.testing.assert_allclose(G.edges[1:-1], np.arange(1, n) / n, rtol=1e-15)
    np.testing.assert_allclose(G.alpha, np.sin(TWO_PI * np.arange(n) / n), rtol=1e-14, atol=1e-15)


def test_pieces_are_bumps_summing_to_one_minus_end_tails(x64):
    G = jn.constructive_approximant(lambda x: x, 8, kappa=4.0, margin=0.05)
    x = np.linspace(0, 1, 301)
    P = np.asarray(G.pieces(jnp.asarray(x)))
    assert P.shape == (301, 8) and np.all(P > 0) and np.all(P < 1)
    w = 32.0
    T = np_sigmoid(-w * (x + 0.05)) + np_sigmoid(-w * (1.05 - x))  # mass missing at the ends
    np.testing.assert_allclose(P.sum(axis=1), 1 - T, rtol=1e-13)


def test_steep_limit_is_the_step_function(x64):
    # Notes: H(x; b) = lim sigma(w (x - b)); inside piece j, G -> alpha_j = f(a_j).
    n = 10
    f = lambda x: x**2  # noqa: E731
    G = jn.constructive_approximant(f, n, kappa=400.0)
    mid = (np.arange(n) + 0.5) / n
    # each logistic is e^(-w delta / 2) = e^(-200) from its limit at a piece's midpoint
    np.testing.assert_allclose(G(jnp.asarray(mid)), (np.arange(n) / n) ** 2, atol=1e-15)


@pytest.mark.parametrize("name", sorted(TARGETS))
@pytest.mark.parametrize(
    ("n", "kappa", "margin"),
    [(5, 30.0, None), (16, 30.0, None), (16, 2.0, None), (40, 0.5, None), (16, 8.0, 0.0), (7, 3.0, 0.3)],
)
def test_certified_bound_holds(name, n, kappa, margin, x64):
    f, L, M = TARGETS[name]
    G = jn.constructive_approximant(f, n, kappa=kappa, margin=margin)
    x = jnp.concatenate([jnp.linspace(0.0, 1.0, 20001), jnp.arange(n + 1) / n])  # grid, edges and ends
    err = float(jnp.max(jnp.abs(G(x) - f(x))))
    bound = jn.certified_error_bound(n, lipschitz=L, sup_norm=M, kappa=kappa, margin=margin)
    # For a constant f the end term is attained exactly at x = 0; allow float64 rounding only.
    assert err <= bound * (1 + 1e-12)


def test_bound_is_tight_for_the_sine(x64):
    # max |f'| = 2 pi at x = 0: just left of a_1, G ~ f(0) while f ~ f(delta), so the error is
    # about sin(2 pi delta) = L delta (1 - O(delta^2)); the bound exceeds L delta only by the
    # edge factor (< 1% at kappa 30).
    f, L, M = TARGETS["sin"]
    for n, ratio in ((16, 0.96), (64, 0.985)):
        err = float(jn.max_error(jn.constructive_approximant(f, n), f))
        bound = jn.certified_error_bound(n, lipschitz=L, sup_norm=M)
        assert ratio * bound < err <= bound
        assert err == pytest.approx(np.sin(TWO_PI / n), rel=0.01)


def test_notes_literal_edges_lose_half_of_f_at_zero(x64):
    # margin = 0 puts the first step at b_0 = 0 as in the notes: sigma(w (0 - 0)) = 1/2.
    f = lambda x: jnp.cos(TWO_PI * x)  # noqa: E731
    G = jn.constructive_approximant(f, 32, margin=0.0)
    np.testing.assert_allclose(G(jnp.array([0.0, 1.0])), [0.5, 0.5 * np.cos(TWO_PI * 31 / 32)], rtol=1e-9)
    assert jn.certified_error_bound(32, lipschitz=TWO_PI, sup_norm=1.0, margin=0.0) > 0.5
    # moved out by one piece width, the ends cost sigma(-30) ~ 1e-13
    assert abs(float(jn.constructive_approximant(f, 32)(jnp.array(0.0))) - 1.0) < 1e-12


# the sine by default, the kink and the zigzag with -m slow
@pytest.mark.parametrize("name", ["sin"] + [pytest.param(n, marks=pytest.mark.slow) for n in ("kink", "zigzag")])
def test_error_falls_like_one_over_n(name, x64):
    f, L, M = TARGETS[name]
    ns = np.array([8, 16, 32, 64, 128])
    errs = np.array([float(jn.max_error(jn.constructive_approximant(f, int(n)), f, n_grid=10001)) for n in ns])
    slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert -1.1 < slope < -0.9
    assert np.all(errs <= L * (1 + jn.edge_factor(30.0)) / ns + 1e-12)


def test_pieces_for_tolerance_is_the_theorem(x64):
    f, L, M = TARGETS["sin"]
    for eps in (0.3, 0.1, 0.05):
        n, kappa = jn.pieces_for_tolerance(eps, lipschitz=L, sup_norm=M)
        assert jn.certified_error_bound(n, lipschitz=L, sup_norm=M, kappa=kappa) < eps
        assert jn.certified_error_bound(n - 1, lipschitz=L, sup_norm=M, kappa=kappa) >= eps or n == 1
        assert float(jn.max_error(jn.constructive_approximant(f, n, kappa=kappa), f)) < eps
    n, kappa = jn.pieces_for_tolerance(1e-14, lipschitz=1.0, sup_norm=1e3)
    assert kappa == pytest.approx(math.log(4e3 / 1e-14))  # end terms pushed below eps / 2
    bound = lambda n: jn.certified_error_bound(n, lipschitz=1.0, sup_norm=1e3, kappa=kappa)  # noqa: E731
    assert bound(n) < 1e-14 <= bound(n - 1)  # the minimum, found by bisection (N ~ 1.3e14)
    assert jn.pieces_for_tolerance(0.1, lipschitz=0.0, sup_norm=1.0) == (1, 30.0)


def test_edge_factor_values():
    q = math.exp(-30.0)
    expected = 1 / (1 + math.exp(30.0)) + 0.2784645427610738 / 30 + 2 * q / (1 - q) ** 2 + 3 * q / (1 - q)
    assert jn.edge_factor(30.0) == pytest.approx(expected, rel=1e-12)
    values = [jn.edge_factor(k) for k in (0.5, 1.0, 3.0, 10.0, 30.0, 300.0, 1e4)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False)) and values[-2] < 1e-3
    assert values[-1] == pytest.approx(0.2784645427610738 / 1e4, rel=1e-12)  # no overflow of e^kappa


def test_as_mlp_is_the_same_function(x64):
    f, _, _ = TARGETS["zigzag"]
    G = jn.constructive_approximant(f, 20, kappa=6.0)
    model = G.as_mlp()
    assert [layer.weight.shape for layer in model.layers] == [(21, 1), (1, 21)]
    assert model.activation == "logistic"
    x = jnp.linspace(0.0, 1.0, 777)
    np.testing.assert_allclose(jax.jit(jn.mlp_function(model))(x), G(x), rtol=0, atol=1e-12)


def test_float32_evaluation_keeps_the_bound():
    f, L, M = TARGETS["sin"]
    G = jn.constructive_approximant(f, 256)
    assert G.alpha.dtype == jnp.float32
    err = float(jn.max_error(G, f, n_grid=40001))
    # Evaluation adds a few float32 ulps of M (and of x - e_j scaled by w = 7680) to the exact-arithmetic bound.
    assert err <= jn.certified_error_bound(256, lipschitz=L, sup_norm=M) + 1e-5


def test_jit_vmap_grad_and_no_retrace(x64):
    f, _, _ = TARGETS["sin"]
    G1 = jn.constructive_approximant(f, 16)
    G2 = jn.constructive_approximant(lambda x: x**3, 16)
    traces = []

    @eqx.filter_jit
    def evaluate(G, x):
        traces.append(None)
        return G(x)

    x = jnp.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(evaluate(G1, x), G1(x), rtol=1e-13)
    np.testing.assert_allclose(evaluate(G2, x + 0.001), G2(x + 0.001), rtol=1e-13)
    assert len(traces) == 1
    # a family of approximants (alphas stacked) under vmap
    alphas = jnp.stack([G1.alpha, G2.alpha])
    out = jax.vmap(lambda a: jn.StepApproximant(a, G1.edges, G1.steepness)(x))(alphas)
    np.testing.assert_allclose(out, jnp.stack([G1(x), G2(x)]), rtol=1e-13)
    # dG/dalpha_j = P_j(x) (G is linear in alpha)
    g = jax.grad(lambda a: jn.StepApproximant(a, G1.edges, G1.steepness)(0.37))(G1.alpha)
    np.testing.assert_allclose(g, G1.pieces(0.37), rtol=1e-13)
    # dG/dx against central differences
    G3 = jn.constructive_approximant(f, 16, kappa=3.0)
    for x0 in (0.1, 0.5, 0.93):
        h = 1e-6
        fd = (G3(x0 + h) - G3(x0 - h)) / (2 * h)
        np.testing.assert_allclose(jax.grad(G3)(x0), fd, rtol=1e-7)
    # constructing under jit (f traced inside, n_pieces static)
    built = eqx.filter_jit(lambda: jn.constructive_approximant(f, 16))()
    np.testing.assert_allclose(built(x), G1(x), rtol=1e-13)


def test_trained_network_beats_the_construction_at_equal_size():
    f, L, M = TARGETS["sin"]
    traces = []

    def f_counted(x):
        traces.append(None)
        return f(x)

    fit = eqx.filter_jit(jn.fit_single_hidden_layer, donate="none")
    model, losses = fit(f_counted, 8, key=jr.key(0), steps=1500)
    n_traces = len(traces)
    fit(f_counted, 8, key=jr.key(1), steps=1500)
    assert len(traces) == n_traces  # a second key does not retrace
    assert [layer.weight.shape for layer in model.layers] == [(8, 1), (1, 8)] and model.activation == "logistic"
    assert losses.shape == (1500,) and float(losses[-1]) < 1e-3 * float(losses[0])
    trained = float(jn.max_error(jn.mlp_function(model), f))
    constructive = float(jn.max_error(jn.constructive_approximant(f, 8), f))
    assert constructive > 0.7 and trained < 0.05 and trained < constructive / 10


@pytest.mark.slow  # a table: constructions and trained networks for several sizes on a 2001-point grid
def test_error_versus_pieces_table():
    f, L, M = TARGETS["kink"]
    r = jn.error_versus_pieces(f, [3, 6], lipschitz=L, sup_norm=M, key=jr.key(0), steps=20, n_grid=2001)
    assert set(r) == {"n", "constructive", "bound", "trained"}
    np.testing.assert_array_equal(r["n"], [3, 6])
    for n, err, bound in zip(r["n"], r["constructive"], r["bound"], strict=True):
        assert err == pytest.approx(float(jn.max_error(jn.constructive_approximant(f, int(n)), f, n_grid=2001)))
        assert bound == jn.certified_error_bound(int(n), lipschitz=L, sup_norm=M)
        assert err <= bound + 1e-6  # float32 evaluation
    assert r["trained"].shape == (2,) and np.all(np.isfinite(r["trained"]))


# ---------------------------------------------------------------- bad input
# n_pieces=2.5 is not an int on purpose (run-time jaxtyping checks off for it, so that the
# library's ValueError is tested)
@pytest.mark.parametrize("bad", [0, -3, pytest.param(2.5, marks=pytest.mark.jaxtyping_off), True])
def test_bad_piece_counts(bad):
    f = TARGETS["sin"][0]
    with pytest.raises(ValueError, match=rf"n_pieces must be an int in \[1, inf\), got n_pieces = {bad!r}"):
        jn.constructive_approximant(f, bad)
    with pytest.raises(ValueError, match=r"n_pieces must be an int in \[1, inf\)"):
        jn.certified_error_bound(bad, lipschitz=1.0, sup_norm=1.0)
    with pytest.raises(ValueError, match=r"n_hidden must be an int in \[1, inf\)"):
        jn.fit_single_hidden_layer(f, bad, key=jr.key(0))
    with pytest.raises(ValueError, match=r"ns\[i\] must be an int in \[1, inf\)"):
        jn.error_versus_pieces(f, [4, bad], lipschitz=1.0, sup_norm=1.0)


def test_bad_real_parameters():
    f = TARGETS["sin"][0]
    for kappa in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match=r"kappa must be finite and in \(0, inf\)"):
            jn.constructive_approximant(f, 4, kappa=kappa)
        with pytest.raises(ValueError, match=r"kappa must be finite and in \(0, inf\)"):
            jn.edge_factor(kappa)
    with pytest.raises(ValueError, match=r"margin must be finite and in \[0, inf\); got margin = -0.1"):
        jn.constructive_approximant(f, 4, margin=-0.1)
    with pytest.raises(ValueError, match=r"margin must be finite and in \[0, inf\)"):
        jn.certified_error_bound(4, lipschitz=1.0, sup_norm=1.0, margin=-1.0)
    with pytest.raises(ValueError, match=r"lipschitz must be finite and in \[0, inf\); got lipschitz = -1"):
        jn.certified_error_bound(4, lipschitz=-1.0, sup_norm=1.0)
    with pytest.raises(ValueError, match=r"sup_norm must be finite and in \[0, inf\)"):
        jn.certified_error_bound(4, lipschitz=1.0, sup_norm=float("nan"))
    with pytest.raises(ValueError, match=r"epsilon must be finite and in \(0, inf\); got epsilon = 0"):
        jn.pieces_for_tolerance(0.0, lipschitz=1.0, sup_norm=1.0)
    with pytest.raises(ValueError, match=r"sup_norm must be finite and in \[0, inf\)"):
        jn.pieces_for_tolerance(0.1, lipschitz=1.0, sup_norm=-2.0)
    with pytest.raises(ValueError, match=r"learning_rate must be finite and in \(0, inf\)"):
        jn.fit_single_hidden_layer(f, 4, key=jr.key(0), learning_rate=0.0)
    with pytest.raises(ValueError, match=r"steps must be an int in \[1, inf\), got steps = 0"):
        jn.fit_single_hidden_layer(f, 4, key=jr.key(0), steps=0)
    with pytest.raises(ValueError, match=r"n_train must be an int in \[2, inf\), got n_train = 1"):
        jn.fit_single_hidden_layer(f, 4, key=jr.key(0), n_train=1)


def test_bad_target_functions():
    with pytest.raises(ValueError, match=r"f must map an array of shape \(4,\) to one value per point, got shape \(\)"):
        jn.constructive_approximant(lambda x: jnp.sum(x), 4)
    with pytest.raises(ValueError, match=r"f\(a_j\) must be finite"):
        jn.constructive_approximant(lambda x: 1.0 / x, 4)  # f(0) = inf
    with pytest.raises(ValueError, match=r"f must map an array of shape \(64,\) to one value per point"):
        jn.fit_single_hidden_layer(lambda x: x[:3], 4, key=jr.key(0))


def test_bad_approximant_and_helpers():
    with pytest.raises(
        ValueError,
        match=r"alpha must have shape \(N,\) and edges shape \(N \+ 1,\); "
        r"got alpha.shape = \(3,\), edges.shape = \(3,\)",
    ):
        jn.StepApproximant(jnp.zeros(3), jnp.linspace(0, 1, 3), 10.0)
    with pytest.raises(ValueError, match=r"steepness must be a scalar, got shape \(2,\)"):
        jn.StepApproximant(jnp.zeros(2), jnp.linspace(0, 1, 3), jnp.ones(2))
    with pytest.raises(ValueError, match=r"steepness must be finite and in \(0, inf\)"):
        jn.StepApproximant(jnp.zeros(2), jnp.linspace(0, 1, 3), -1.0)
    with pytest.raises(ValueError, match=r"n_grid must be an int in \[2, inf\), got n_grid = 1"):
        jn.max_error(lambda x: x, lambda x: x, n_grid=1)
    with pytest.raises(ValueError, match=r"mlp_function needs a model with in_size = out_size = 1, got 2 -> 1"):
        jn.mlp_function(jn.MLP(2, 1, (3,), key=jr.key(0)))


def test_plots_draw():
    import jaxneuro.plot as jp

    f, L, M = TARGETS["sin"]
    G = jn.constructive_approximant(f, 6, kappa=8.0)
    ax = jp.plot_uat_approximant(G, f, trained=lambda x: f(x) * 0.9)
    assert len(ax.lines) == 6 + 3
    np.testing.assert_allclose(ax.lines[-2].get_ydata(), np.asarray(G(jnp.asarray(np.linspace(0, 1, 2001)))), rtol=1e-6)
    r = {
        "n": np.array([4, 8]),
        "constructive": np.array([1.0, 0.5]),
        "bound": np.array([1.5, 0.8]),
        "trained": np.array([0.1, 0.05]),
    }
    ax = jp.plot_uat_error(r)
    assert len(ax.lines) == 4 and ax.get_xscale() == "log"
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), [1.0, 0.5])  # 1/N through the last point
    ax = jp.plot_uat_error({**r, "n_trained": np.array([2, 4]), "trained": np.array([0.3, 0.2])})
    np.testing.assert_array_equal(ax.lines[2].get_xdata(), [2, 4])
    ax = jp.plot_activations(["relu", "soft_lif"])
    assert len(ax.lines) == 3  # and the zero line
    with pytest.raises(ValueError, match=r"result must hold arrays 'n' and 'constructive'"):
        jp.plot_uat_error({"n": [1]})
    with pytest.raises(ValueError, match=r"must be non-empty and of equal length, got 2 and 1"):
        jp.plot_uat_error({"n": [1, 2], "constructive": [1.0]})
    with pytest.raises(ValueError, match=r"'softmax' acts on a whole vector"):
        jp.plot_activations(["relu", "softmax"])

"""Hodgkin-Huxley model: rate functions, vector field and rest against independent formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import _rates, hh_rest, hh_rhs

import jaxneuro as jn

RATES = [jn.alpha_n, jn.beta_n, jn.alpha_m, jn.beta_m, jn.alpha_h, jn.beta_h]


def test_rate_functions_match_definitions(x64):
    V = np.concatenate([np.linspace(-120, 60, 721), [-40 + 1e-3, -40 - 1e-3, -55 + 1e-3, -55 - 1e-3]])
    ref = _rates(V)
    for f, r in zip(RATES, ref, strict=True):
        np.testing.assert_allclose(np.asarray(f(V)), r, rtol=1e-9, atol=1e-14)


def test_shared_exponential_rates_match_definitions(x64):
    # HodgkinHuxley.rates (six rates from three exponentials, for the solvers' inner loops)
    # against the numpy definitions at the same voltages, on a grid that includes both removable
    # singularities and the switch to exprel's series on either side of them.
    V = np.concatenate(
        [np.linspace(-150, 100, 25001), -40 + np.linspace(-9, 9, 1801), -55 + np.linspace(-9, 9, 1801), [-40.0, -55.0]]
    )
    hh = jn.HodgkinHuxley()
    for dtype, rtol in ((jnp.float64, 1e-12), (jnp.float32, 3e-6)):
        Vd = jnp.asarray(V, dtype)
        an, bn, am, bm, ah, bh = _rates(np.asarray(Vd, np.float64))
        got = hh.rates(Vd)
        for g, r in zip(got, (am, bm, ah, bh, an, bn), strict=True):
            assert g.dtype == dtype
            np.testing.assert_allclose(np.asarray(g, np.float64), r, rtol=rtol, atol=0)


@pytest.mark.parametrize("V", [-40.0, -55.0, -40.0 + 0.5, -55.0 - 8.0])
def test_shared_exponential_rates_derivatives(x64, V):
    # First derivatives against float64 central differences of the definitions, second ones
    # finite, at the singularities and on either side of the series switch (|x| = 0.086 in
    # float64, 0.81 in float32: 0.86 and 8.1 mV).
    hh = jn.HodgkinHuxley()
    order = (2, 3, 4, 5, 0, 1)  # _rates gives (an, bn, am, bm, ah, bh)
    for dtype, rtol in ((jnp.float64, 1e-6), (jnp.float32, 2e-3)):
        for i in range(6):
            f = lambda v, i=i: hh.rates(v)[i]  # noqa: E731
            g, gg = jax.grad(f)(jnp.asarray(V, dtype)), jax.grad(jax.grad(f))(jnp.asarray(V, dtype))
            h = 1e-3  # the definitions' own cancellation near the singularities limits a smaller h
            fd = (_rates(np.array(V + h))[order[i]] - _rates(np.array(V - h))[order[i]]) / (2 * h)
            assert float(g) == pytest.approx(float(fd), rel=rtol, abs=1e-9)
            assert np.isfinite(float(gg))


def test_linearised_is_the_jacobian_diagonal(x64):
    # HodgkinHuxley.linearised (closed form, what ExponentialEuler steps with) against the
    # vector field and forward-mode products of it (AbstractNeuron's default).
    from jaxneuro._neurons._base import diagonal_jacobian

    rng = np.random.default_rng(4)
    hh = jn.HodgkinHuxley(C=rng.uniform(0.5, 2.0, 40), g_Na=rng.uniform(60.0, 180.0, 40))
    y = jn.HHState(*map(jnp.asarray, (rng.uniform(-90.0, 40.0, 40), *rng.uniform(0.0, 1.0, (3, 40)))))
    J = jnp.asarray(rng.uniform(-10.0, 50.0, 40))
    got = hh.linearised(0.0, y, J)
    want = diagonal_jacobian(lambda z: hh.vector_field(0.0, z, J), y)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-13)


def test_exprel_of_exp_matches_expm1(x64):
    # x / (exp(x) - 1) from a given exp(x) against float64 x / expm1(x), across the series switch.
    from jaxneuro._misc import exprel_of_exp

    x = np.concatenate([np.linspace(-30, 30, 60001), np.linspace(-1.2, 1.2, 24001), [0.0, 1e-30, -1e-30]])
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.where(x == 0, 1.0, x / np.expm1(x))
    for dtype, rtol in ((jnp.float64, 3e-15), (jnp.float32, 6e-7)):
        xd = jnp.asarray(x, dtype)
        xr = np.asarray(xd, np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            ref = np.where(xr == 0, 1.0, xr / np.expm1(xr))
        got = np.asarray(exprel_of_exp(xd, jnp.exp(xd)), np.float64)
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=0)


def test_steady_states_and_time_constants(x64):
    V = np.linspace(-100, 40, 57)
    an, bn, am, bm, ah, bh = _rates(V)
    for inf, tau, a, b in [
        (jn.n_inf, jn.tau_n, an, bn),
        (jn.m_inf, jn.tau_m, am, bm),
        (jn.h_inf, jn.tau_h, ah, bh),
    ]:
        np.testing.assert_allclose(np.asarray(inf(V)), a / (a + b), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(tau(V)), 1 / (a + b), rtol=1e-10)


@pytest.mark.parametrize("V, f, limit", [(-40.0, jn.alpha_m, 1.0), (-55.0, jn.alpha_n, 0.1)])
def test_removable_singularities(V, f, limit):
    # Limits of x / (1 - exp(-x/10)) scaled: alpha_m(-40) = 0.1 * 10, alpha_n(-55) = 0.01 * 10.
    value, grad = jax.value_and_grad(f)(jnp.float32(V))
    assert float(value) == pytest.approx(limit, rel=1e-6)
    assert np.isfinite(float(grad))
    # Gradient equals the derivative of the smooth function: central differences in float64.
    h = 1e-3
    fd = (_rates(np.array(V + h))[RATES.index(f)] - _rates(np.array(V - h))[RATES.index(f)]) / (2 * h)
    assert float(grad) == pytest.approx(float(fd), rel=1e-3)
    for g in (jn.m_inf, jn.n_inf, jn.tau_m, jn.tau_n):
        assert np.isfinite(float(jax.grad(g)(jnp.float32(V))))


def test_vector_field_matches_equations(x64):
    hh = jn.HodgkinHuxley()
    rng = np.random.default_rng(1)
    for _ in range(5):
        y = np.array([rng.uniform(-90, 40), *rng.uniform(0, 1, 3)])
        J = rng.uniform(-10, 50)
        got = hh.vector_field(0.0, jn.HHState(*map(jnp.asarray, y)), J)
        np.testing.assert_allclose(
            [float(x) for x in (got.v, got.n, got.m, got.h)], hh_rhs(0.0, y, lambda t, J=J: J), rtol=1e-10
        )


def test_resting_state(x64):
    hh = jn.HodgkinHuxley()
    rest = hh.initial_state()
    ref = hh_rest()
    np.testing.assert_allclose([float(rest.v), float(rest.n), float(rest.m), float(rest.h)], ref, rtol=1e-8)
    assert -65.5 < float(rest.v) < -64.5
    d = hh.vector_field(0.0, rest, 0.0)
    assert max(abs(float(x)) for x in (d.v, d.n, d.m, d.h)) < 1e-9


PARAMETER_SETS = [{}, dict(g_Na=100.0), dict(g_K=[30.0, 36.0, 40.0]), dict(E_L=-60.0, g_L=0.5), dict(E_K=-72.0)]


@pytest.mark.parametrize("kwargs", PARAMETER_SETS)
def test_resting_state_concrete_equals_traced(kwargs, x64):
    # Concrete parameters: the rest is computed in numpy at trace time (no loop in the graph);
    # traced ones: resting_potential's Newton loop. Both the zero of the same current.
    hh = jn.HodgkinHuxley(**{k: jnp.asarray(v) for k, v in kwargs.items()})
    concrete = hh.initial_state()
    traced = jax.jit(lambda n: n.initial_state())(hh)
    for a, b in zip(jax.tree.leaves(concrete), jax.tree.leaves(traced), strict=True):
        assert a.dtype == b.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
    d = jax.jit(lambda n, y: n.vector_field(0.0, y, 0.0))(hh, concrete)
    assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(d)) < 1e-9


@pytest.mark.parametrize("kwargs", PARAMETER_SETS)
def test_resting_state_concrete_float32_within_rounding(kwargs):
    hh = jn.HodgkinHuxley(**{k: jnp.asarray(v) for k, v in kwargs.items()})
    concrete = hh.initial_state()
    traced = jax.jit(lambda n: n.initial_state())(hh)
    for a, b in zip(jax.tree.leaves(concrete), jax.tree.leaves(traced), strict=True):
        assert a.dtype == b.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=4e-7, atol=1e-7)


def test_resting_state_derivative_matches_concrete_difference(x64):
    # d(V_rest)/d(g_Na) through the traced Newton loop against a central difference of the
    # concrete (numpy) rest.
    def v_rest(g):
        return jn.HodgkinHuxley(g_Na=g).initial_state().v

    grad = float(jax.grad(v_rest)(jnp.asarray(120.0)))
    h = 1e-4
    fd = (float(v_rest(jnp.asarray(120.0 + h))) - float(v_rest(jnp.asarray(120.0 - h)))) / (2 * h)
    assert grad != 0.0
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_parameters_are_arrays_and_vmappable():
    hh = jn.HodgkinHuxley(g_Na=jnp.array([100.0, 120.0, 140.0]))
    rest = hh.resting_potential()
    assert rest.shape == (3,)
    out = jax.vmap(lambda g: jn.HodgkinHuxley(g_K=g).resting_potential())(jnp.array([30.0, 36.0]))
    assert out.shape == (2,) and np.all(np.isfinite(np.asarray(out)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(C=0.0), r"C must be finite and in \(0, inf\) uF/cm\^2; got C = 0"),
        (dict(C=-1.0), r"C must be"),
        (dict(g_Na=-1.0), r"g_Na must be finite and in \[0, inf\) mS/cm\^2; got g_Na = -1"),
        (dict(g_K=float("nan")), r"g_K must be finite"),
        (dict(g_L=-0.3), r"g_L"),
    ],
)
def test_hh_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.HodgkinHuxley(**kwargs)

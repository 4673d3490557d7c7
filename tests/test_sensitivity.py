"""Forward sensitivities (``jn.forward_sensitivities``): derivatives of a time loop computed by
forward mode and transposed as a small linear map.  Held equal to JAX differentiating the loop
itself, to closed forms and to float64 central differences; reverse mode stores nothing per
step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import hh_scipy, rate_from_spike_times

import jaxneuro as jn


def _euler(a, b, x0, n=200, h=0.01):
    """x' = -a x + b by explicit Euler: x_n = b/a + (x0 - b/a) (1 - a h)^n."""

    def step(x, _):
        return x + h * (b - a * x), None

    x0 = jnp.broadcast_to(x0, jnp.broadcast_shapes(jnp.shape(a), jnp.shape(b), jnp.shape(x0)))
    x, _ = jax.lax.scan(step, x0, None, length=n)
    return x


def _euler_closed(a, b, x0, n=200, h=0.01):
    return b / a + (x0 - b / a) * (1 - a * h) ** n


def test_general_mode_equals_direct_differentiation_and_closed_form(x64):
    wrapped = lambda a, b, x0: jn.forward_sensitivities(_euler, (a, b, x0))  # noqa: E731
    args = (1.3, 0.7, 2.0)
    direct = jax.grad(_euler, argnums=(0, 1, 2))(*args)
    got = jax.grad(wrapped, argnums=(0, 1, 2))(*args)
    closed = jax.grad(_euler_closed, argnums=(0, 1, 2))(*args)
    np.testing.assert_allclose(got, direct, rtol=1e-12)
    np.testing.assert_allclose(got, closed, rtol=1e-10)
    _, t = jax.jvp(wrapped, args, (0.3, -0.2, 0.5))
    _, t_direct = jax.jvp(_euler, args, (0.3, -0.2, 0.5))
    assert float(t) == pytest.approx(float(t_direct), rel=1e-12)
    # Second derivatives: the rule is itself differentiable.
    h = jax.hessian(wrapped, argnums=(0, 1))(*args)
    h_closed = jax.hessian(_euler_closed, argnums=(0, 1))(*args)
    np.testing.assert_allclose(np.asarray(h, float), np.asarray(h_closed, float), rtol=1e-9)


def test_elementwise_mode_broadcast_parameters(x64):
    """A batch (3, 4): ``a`` per row (shape (3, 1)), ``b`` per element, ``x0`` shared."""
    a = jnp.array([[0.5], [1.0], [2.0]])
    b = jnp.linspace(0.1, 1.2, 12).reshape(3, 4)
    x0 = jnp.asarray(1.5)

    def loss(a, b, x0):
        out = jn.forward_sensitivities(_euler, (a, b, x0), batch_ndim=2)
        return jnp.sum(jnp.sin(out))

    got = jax.grad(loss, argnums=(0, 1, 2))(a, b, x0)
    ref = jax.grad(lambda a, b, x0: jnp.sum(jnp.sin(_euler_closed(a, b, x0))), argnums=(0, 1, 2))(a, b, x0)
    for g, r in zip(got, ref, strict=True):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-10)


def test_closed_over_tracers_are_differentiated(x64):
    """A drive written as a Python closure over a traced amplitude (not a PyTree leaf)."""

    def third_spike(amplitude):
        drive = lambda t: 1.6 + amplitude * jnp.sin(2 * jnp.pi * t / 0.04)  # noqa: E731
        sim = jn.simulate(jn.LIF(), drive, 0.0, 0.1, method="stepped", ts=np.zeros(0), max_spikes=16)
        return sim.spikes.times[2]

    g = float(jax.grad(third_spike)(0.5))
    fd = (float(third_spike(0.5 + 1e-6)) - float(third_spike(0.5 - 1e-6))) / 2e-6
    assert g != 0.0 and g == pytest.approx(fd, rel=1e-5)


@pytest.mark.slow  # reverse mode through a whole loop and diffrax's checkpointed adjoint: about 25 s on one core
def test_many_parameters_differentiate_the_loop_directly(x64):
    """A drive of 40 values (more than MAX_DIRECTIONS traced scalars): JAX's own reverse mode
    through the loop (stepped LIF) and diffrax's checkpointed adjoint, both against central
    differences."""
    assert 40 > jn.MAX_DIRECTIONS
    times = jnp.linspace(0.0, 0.2, 41)[1:-1]

    def spikes(values, method):
        drive = jn.PiecewiseConstant(times, values)
        sim = jn.simulate(jn.LIF(), drive, 0.0, 0.2, method=method, ts=np.zeros(0), max_spikes=32)
        return sim.spikes.times[3]

    values = jnp.linspace(1.5, 2.5, 40)
    for method in ("stepped", "diffrax"):
        g = jax.grad(spikes)(values, method)
        k = int(np.argmax(np.abs(np.asarray(g))))
        e = jnp.zeros(40).at[k].set(1e-6)
        fd = (float(spikes(values + e, method)) - float(spikes(values - e, method))) / 2e-6
        assert float(g[k]) == pytest.approx(fd, rel=1e-4)


def test_diffrax_state_derivative_after_a_spike_and_a_drive_jump(x64):
    # The step sizes the controller proposes carry no derivative: after a refractory restart
    # (whose time does) and a jump of the drive, d v(t) / d (an earlier piece's value) equals a
    # float64 central difference. (With derivatives through the proposed steps it was up to 100x off
    # just after the jump at 75 ms.)
    times = jnp.linspace(0.0, 0.2, 41)[1:-1]
    ts = jnp.array([0.065, 0.0749, 0.0751, 0.077])
    solver = jn.Diffrax(mode="forward", rtol=1e-10, atol=1e-12)

    def v(value):
        values = jnp.linspace(1.5, 2.5, 40).at[3].set(value)
        sim = jn.simulate(jn.LIF(), jn.PiecewiseConstant(times, values), 0.0, 0.2, ts=ts, solver=solver)
        return sim.ys  # LIF: the state is v

    x = jnp.asarray(1.5 + 3 / 39)
    _, dv = jax.jvp(v, (x,), (jnp.ones_like(x),))
    h = 1e-6
    fd = (np.asarray(v(x + h)) - np.asarray(v(x - h))) / (2 * h)
    assert np.all(np.abs(fd) > 0.1)
    np.testing.assert_allclose(np.asarray(dv), fd, rtol=1e-4)


def test_reverse_mode_stores_nothing_per_step():
    """The gradient of a stepped tuning curve needs the same scratch memory for 1,000 steps as
    for 10,000 (reverse mode through the loop would store every step)."""

    def temp_bytes(duration):
        f = jax.jit(jax.grad(lambda x: jn.tuning_curve(jn.LIF(), x, duration=duration, method="stepped").sum()))
        analysis = f.lower(jnp.linspace(1.5, 3.0, 100)).compile().memory_analysis()
        return analysis.temp_size_in_bytes

    short, long = temp_bytes(0.1), temp_bytes(1.0)
    assert long <= short + 4096, (short, long)


def test_tuning_curve_second_derivative(x64):
    """d^2 rate / d tau_m^2 on the stepped path against a central difference of the gradient."""

    def rate(tau_m):
        return jn.tuning_curve(jn.LIF(tau_m=tau_m), jnp.array([2.5]), duration=0.5, method="stepped")[0]

    d2 = float(jax.grad(jax.grad(rate))(0.02))
    h = 1e-6
    fd = (float(jax.grad(rate)(0.02 + h)) - float(jax.grad(rate)(0.02 - h))) / (2 * h)
    assert np.isfinite(d2) and d2 == pytest.approx(fd, rel=1e-4)


# 300 ms of HH in float64 at four step sizes down to 0.0025 ms (120,000 steps under jvp), three scipy runs
@pytest.mark.slow
def test_hh_rate_derivative_converges_at_second_order_like_the_rate(x64):
    """Issue 12 item 4: spikes placed to the solver's order, so the derivative of the HH rate
    converges at second order in ``dt`` like the rate itself (linear placement gave first order).

    The error of an order-p result is bounded by C dt^p; for the derivative the constant wobbles
    in sign with where the spikes fall inside their steps, so the check is a bound: the largest
    error / dt^2 at the two fine steps is at most twice the largest at the two coarse ones (8-16x
    finer). A first-order derivative would grow that ratio 8-16 times; the rate's own error / dt^2
    is checked the same way. Reference: scipy DOP853 (rtol 1e-12) and its central difference.
    """
    current, t_end, transient, g_na = 10.0, 300.0, 50.0, 120.0

    def reference(g):
        spikes = hh_scipy(current, t_end, rtol=1e-12, atol=1e-12, g_na=g)[1]
        return rate_from_spike_times(spikes, t_end, transient, 1e-3)

    h = 1e-3  # truncation h^2 r''' ~ 1e-8 and rounding 1e-12 r / h ~ 1e-7 Hz per (mS/cm^2): far below the errors
    rate_ref, d_ref = reference(g_na), (reference(g_na + h) - reference(g_na - h)) / (2 * h)
    coarse, fine = (0.04, 0.02), (0.005, 0.0025)
    value_err, deriv_err = {}, {}
    for dt in coarse + fine:

        def rate(g, dt=dt):
            sweep = jn.tuning_curve(
                jn.HodgkinHuxley(g_Na=g),
                jnp.array([current]),
                duration=t_end,
                transient=transient,
                solver=jn.ExpMidpointHH(dt=dt),
            )
            return sweep[0]

        r, d = jax.jvp(jax.jit(rate), (g_na,), (1.0,))
        value_err[dt], deriv_err[dt] = abs(float(r) - rate_ref) / dt**2, abs(float(d) - d_ref) / dt**2
    for errors in (value_err, deriv_err):
        assert max(errors[dt] for dt in fine) <= 2.0 * max(errors[dt] for dt in coarse), errors
    assert abs(deriv_err[0.0025] * 0.0025**2 / d_ref) < 1e-3  # 0.01% measured at 0.0025 ms

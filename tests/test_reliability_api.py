"""Issue 16, item 1 (the audit of the rest of the public API): losses, kernels, layers, the
conversion and spiking-classifier modules, surrogate layers, competitive learning, the
approximation-theory helpers, fitting targets, sweeps and the generated data sets.  Every bad
or edge input found silently wrong (or failing with another library's message) by the audit
is here: a ``ValueError`` naming the parameter, its value and the allowed range when concrete,
an ``eqx.error_if`` run-time error when traced, or the right answer."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
KEY = jax.random.key(0)


def _raises_at_run_time(fn, *args, match):
    with pytest.raises(RUNTIME_ERRORS, match=match):
        jax.block_until_ready(fn(*args))


# ------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("eps", [-0.1, 0.5, 0.7, float("nan")])
def test_binary_cross_entropy_checks_eps(eps):
    # before: eps = 0.7 clipped y into [0.7, 0.3] (a constant loss), -0.1 and NaN passed
    with pytest.raises(ValueError, match=r"eps must be finite and in \[0, 0.5\); got eps ="):
        jn.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]), eps=eps)


@pytest.mark.parametrize("eps", [-1.0, 1.0, 2.0, float("inf")])
def test_categorical_cross_entropy_checks_eps(eps):
    # before: eps = 2 gave a loss of -0 for any y; eps = -1 gave inf at y = 0
    with pytest.raises(ValueError, match=r"eps must be finite and in \[0, 1\); got eps ="):
        jn.categorical_cross_entropy(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0]), eps=eps)


def test_cross_entropy_eps_traced_is_checked_at_run_time():
    f = jax.jit(lambda e: jn.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]), eps=e))
    _raises_at_run_time(f, 0.7, match=r"eps must be finite and in \[0, 0.5\)")
    # a valid eps gives the formula's value: -log(0.5), the clip inactive
    assert float(f(1e-3)) == pytest.approx(math.log(2.0), rel=1e-6)
    # eps = 0 is allowed: the unclipped formula, infinite at y = 0 for t = 1
    assert np.isinf(jn.binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0]), eps=0.0))


def test_integer_labels_need_a_class():
    with pytest.raises(ValueError, match=r"z needs at least one class on its last axis; got z.shape = \(2, 0\)"):
        jn.categorical_cross_entropy_with_integer_labels(jnp.ones((2, 0)), jnp.array([0, 0]))


def test_mean_loss_needs_a_callable():
    with pytest.raises(ValueError, match=r"mean_loss: loss_fn must be a callable per-sample loss.*'mse'"):
        jn.mean_loss("mse", jnp.ones((1, 2)), jnp.ones((1, 2)))


def test_firing_rate_penalty_traced_bounds_are_ordered():
    f = jax.jit(lambda lo, hi: jn.firing_rate_penalty(jnp.ones(3), lower=lo, upper=hi))
    # before: a traced lower > upper gave a penalty of 81 without a word
    _raises_at_run_time(f, 10.0, 1.0, match="firing_rate_penalty: lower must not exceed upper")
    # a valid pair: rates of 1 Hz against [2, 20] Hz: (2 - 1)^2 per neuron
    assert float(f(2.0, 20.0)) == pytest.approx(1.0)


def test_leaky_readout_checks_v0_shape():
    # before: jax's "Incompatible types for broadcasting"
    with pytest.raises(ValueError, match=r"leaky_readout: v0 must broadcast to .* shape \(2,\).*got v0.shape = \(3,\)"):
        jn.losses.leaky_readout(jnp.ones((3, 2)), dt=0.001, tau=0.01, v0=jnp.ones(3))
    v = jn.losses.leaky_readout(jnp.zeros((1, 2)), dt=0.001, tau=0.01, v0=jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(v[0], np.exp(-0.1) * np.array([1.0, 2.0]), rtol=1e-6)


# ------------------------------------------------------------------------------ kernels
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_psc_kernel_at_infinite_time_is_zero(n):
    # before: n >= 1 gave NaN at t = inf (n log x - x = inf - inf); the limit is 0
    h = jn.psc_kernel(jnp.array([jnp.inf, -jnp.inf, 0.02]), 0.01, n)
    assert h[0] == 0.0 and h[1] == 0.0
    expected = 2.0**n * math.exp(-2.0) / (math.factorial(n) * 0.01)
    assert float(h[2]) == pytest.approx(expected, rel=1e-5)
    assert np.isfinite(jax.grad(lambda t: jn.psc_kernel(t, 0.01, n))(jnp.inf))


def test_psc_kernel_names_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"t and tau_s must broadcast.*t.shape = \(3,\), tau_s.shape = \(2,\)"):
        jn.psc_kernel(jnp.ones(3), jnp.full(2, 0.01))


# ------------------------------------------------------------------------------ uat
def test_max_error_of_a_nan_function_is_nan_not_minus_inf():
    # before: -inf (XLA's CPU max over the 20001-point grid drops NaN): "no error" for a NaN model
    assert np.isnan(jn.max_error(lambda x: x * jnp.nan, jnp.cos))
    assert np.isnan(jn.max_error_nd(lambda x: x[..., 0] * jnp.nan, lambda x: x[..., 0], dim=2))
    assert float(jn.max_error(lambda x: x, lambda x: 0.0 * x, n_grid=11)) == pytest.approx(1.0)

"""Issue 16, items 1 (simulators): every bad or edge input to the single-neuron simulators and
the closed forms is a clear error (``ValueError`` when concrete, an ``eqx.error_if`` run-time
error when traced, naming the parameter) or the right answer; never a hang, a silent 0 or a
silent NaN."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)


def _raises_at_run_time(fn, *args, match):
    with pytest.raises(RUNTIME_ERRORS, match=match):
        jax.block_until_ready(fn(*args))


# --------------------------------------------------------------------- closed forms
def test_lif_rate_nan_input_is_nan_not_zero():
    r = jn.lif_rate(jnp.array([jnp.nan, 0.5, 2.0]))
    assert np.isnan(r[0]) and r[1] == 0.0 and np.isfinite(r[2]) and r[2] > 0
    assert np.isnan(jax.jit(jn.lif_rate)(jnp.nan))
    assert np.isfinite(jax.grad(jn.lif_rate)(2.0))


@pytest.mark.parametrize("n", [0, 1, 3])
def test_psc_kernel_nan_time_is_nan_not_zero(n):
    h = jax.jit(lambda t: jn.psc_kernel(t, 0.01, n=n))(jnp.array([jnp.nan, -1.0, 0.01]))
    assert np.isnan(h[0]) and h[1] == 0.0 and h[2] > 0
    assert np.isfinite(jax.grad(lambda t: jn.psc_kernel(t, 0.01, n=n))(0.02))


@pytest.mark.parametrize("fn", [jn.lif_subthreshold, lambda t, v0, v_in, tau: jn.lif_time_to_threshold(v0, v_in, tau)])
@pytest.mark.parametrize("tau_m", [-0.02, 0.0, float("nan"), float("inf")])
def test_lif_closed_forms_check_tau_m(fn, tau_m):
    with pytest.raises(ValueError, match=r"tau_m must be finite and in \(0, inf\) s; got tau_m ="):
        fn(0.01, 0.0, 2.0, tau_m)
    _raises_at_run_time(jax.jit(fn), 0.01, 0.0, 2.0, tau_m, match="tau_m must be finite and in")


def test_lif_time_to_threshold_nan_voltage_is_nan():
    assert np.isnan(jn.lif_time_to_threshold(jnp.nan, 2.0))
    assert np.isnan(jn.lif_time_to_threshold(0.0, jnp.nan))
    assert jn.lif_time_to_threshold(0.0, 0.5) == np.inf


# --------------------------------------------------------------------- HH parameters
@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("g_K", -36.0, r"\[0, inf\) mS/cm\^2"),
        ("g_Na", float("nan"), r"\[0, inf\) mS/cm\^2"),
        ("C", 0.0, r"\(0, inf\) uF/cm\^2"),
        ("E_Na", float("nan"), r"\(-inf, inf\) mV"),
        ("E_K", float("inf"), r"\(-inf, inf\) mV"),
        ("E_L", float("-inf"), r"\(-inf, inf\) mV"),
        ("v_threshold", float("nan"), r"\(-inf, inf\) mV"),
    ],
)
def test_hh_parameters_checked_concrete_and_traced(name, value, allowed):
    with pytest.raises(ValueError, match=rf"{name} must be finite and in {allowed}; got {name} ="):
        jn.HodgkinHuxley(**{name: value})

    def rate(p):
        return jn.simulate(jn.HodgkinHuxley(**{name: p}), 10.0, 0.0, 50.0).spikes.count

    _raises_at_run_time(jax.jit(rate), value, match=rf"{name} must be finite and in {allowed}")


def test_hh_valid_parameters_under_jit_still_run():
    count = jax.jit(lambda g: jn.simulate(jn.HodgkinHuxley(g_K=g), 10.0, 0.0, 100.0).spikes.count)(36.0)
    assert 5 <= int(count) <= 8

"""PSC kernels against their definition (notes ch. 1.6) and scipy's gamma density.

``h(t) = t^n e^(-t/tau_s) / (n! tau_s^(n+1))`` is the gamma density with shape ``n + 1`` and
scale ``tau_s``, so ``scipy.stats.gamma`` is an independent reference for values, area and tail.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import jaxneuro as jn
from jaxneuro._kernels import kernel_support

# run-time checks (eqx.error_if) raise JaxRuntimeError under jit, EquinoxRuntimeError eagerly
RUNTIME_ERRORS = (jax.errors.JaxRuntimeError, eqx.EquinoxRuntimeError)

TAUS = [0.002, 0.010, 0.300]


@pytest.mark.parametrize("n", range(6))
@pytest.mark.parametrize("tau_s", TAUS)
def test_unit_area(x64, n, tau_s):
    f = jax.jit(lambda t: jn.psc_kernel(t, tau_s, n))
    area, err = integrate.quad(lambda t: float(f(t)), 0.0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)
    assert err < 1e-9
    assert abs(area - 1.0) < 1e-6


@pytest.mark.parametrize("n", range(6))
def test_matches_gamma_density(x64, n):
    tau_s = 0.01
    t = np.linspace(0.0, 30 * tau_s, 2001)
    ref = stats.gamma.pdf(t, a=n + 1, scale=tau_s)
    if n == 0:
        ref[0] = 1 / tau_s  # right limit at the spike (scipy gives the same)
    np.testing.assert_allclose(np.asarray(jn.psc_kernel(t, tau_s, n)), ref, rtol=1e-12, atol=1e-12 * ref.max())


def test_definition_from_the_notes(x64):
    # the literal formula k t^n e^(-t/tau_s), k = 1/(n! tau_s^(n+1))
    t = np.linspace(0.0, 0.05, 101)
    for n in range(4):
        k = 1.0 / (math.factorial(n) * 0.01 ** (n + 1))
        np.testing.assert_allclose(np.asarray(jn.psc_kernel(t, 0.01, n)), k * t**n * np.exp(-t / 0.01), rtol=1e-12)


@pytest.mark.parametrize("n", range(1, 6))
def test_peak_at_n_tau(x64, n):
    tau_s = 0.01
    t = np.linspace(0.0, 12 * tau_s, 120001)
    h = np.asarray(jn.psc_kernel(t, tau_s, n))
    assert abs(t[np.argmax(h)] - n * tau_s) <= t[1] - t[0]
    dh = jax.grad(lambda x: jn.psc_kernel(x, tau_s, n))
    assert abs(float(dh(n * tau_s))) < 1e-8 * float(jn.psc_kernel(n * tau_s, tau_s, n)) / tau_s
    assert float(dh(0.9 * n * tau_s)) > 0 > float(dh(1.1 * n * tau_s))
    assert jn.PSCKernel(tau_s, n).peak_time == pytest.approx(n * tau_s)


def test_n0_peaks_at_the_spike():
    t = jnp.array([-1e-3, 0.0, 1e-3])
    h = jn.psc_kernel(t, 0.01, 0)
    assert float(h[0]) == 0.0 and float(h[1]) == pytest.approx(100.0) and float(h[2]) < float(h[1])
    assert float(jn.psc_kernel(0.0, 0.01, 2)) == 0.0
    assert float(jn.psc_kernel(-0.5, 0.01, 3)) == 0.0


def test_large_order_and_long_times_do_not_overflow(x64):
    t = np.array([1e-4, 0.5, 1.0, 5.0])
    h = np.asarray(jn.psc_kernel(t, 0.01, 50))
    np.testing.assert_allclose(h, stats.gamma.pdf(t, a=51, scale=0.01), rtol=1e-9, atol=1e-300)
    h32 = jn.psc_kernel(jnp.float32(0.5), jnp.float32(0.01), 50)
    assert np.isfinite(float(h32)) and float(h32) == pytest.approx(stats.gamma.pdf(0.5, a=51, scale=0.01), rel=1e-4)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_gradients_finite_and_correct(x64, n):
    tau = 0.01
    t = jnp.array([-0.01, 0.0, 0.004, 0.02, 0.3])
    g_t = jax.vmap(jax.grad(lambda x: jn.psc_kernel(x, tau, n)))(t)
    g_tau = jax.vmap(jax.grad(lambda s, x: jn.psc_kernel(x, s, n)), in_axes=(None, 0))(tau, t)
    assert np.all(np.isfinite(g_t)) and np.all(np.isfinite(g_tau))
    # analytic: dh/dt = h (n/t - 1/tau) for t > 0; dh/dtau = h (t/tau^2 - (n+1)/tau)
    tp = np.asarray(t[2:])
    h = stats.gamma.pdf(tp, a=n + 1, scale=tau)
    np.testing.assert_allclose(np.asarray(g_t[2:]), h * (n / tp - 1 / tau), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(g_tau[2:]), h * (tp / tau**2 - (n + 1) / tau), rtol=1e-9)
    assert float(g_t[0]) == 0.0


def test_jit_vmap_and_no_retrace():
    traces = []

    @jax.jit
    def f(t, tau):
        traces.append(1)
        return jn.psc_kernel(t, tau, 2)

    t = jnp.linspace(0, 0.1, 50)
    a = f(t, 0.01)
    b = f(t + 0.001, 0.02)
    assert len(traces) == 1
    np.testing.assert_allclose(np.asarray(b), stats.gamma.pdf(np.asarray(t) + 0.001, a=3, scale=0.02), rtol=2e-5)
    taus = jnp.array([0.005, 0.01, 0.02])
    batch = jax.vmap(lambda s: jn.psc_kernel(t, s, 2))(taus)
    assert batch.shape == (3, 50)
    np.testing.assert_allclose(np.asarray(batch[1]), np.asarray(a), rtol=1e-6)


def test_presets_follow_the_notes():
    fast, slow = jn.PSCKernel.fast(), jn.PSCKernel.slow(n=1)
    assert float(fast.tau_s) == pytest.approx(0.010) == jn.FAST_SYNAPSE_TAU_S
    assert float(slow.tau_s) == pytest.approx(0.300) == jn.SLOW_SYNAPSE_TAU_S
    t = jnp.linspace(0, 1, 11)
    np.testing.assert_allclose(np.asarray(slow(t)), np.asarray(jn.psc_kernel(t, 0.3, 1)))


@pytest.mark.parametrize("n", [0, 2, 5])
def test_support_tail(n):
    for rtol in (1e-3, 1e-6):
        T = kernel_support(0.01, n, rtol)
        assert stats.gamma.sf(T, a=n + 1, scale=0.01) <= rtol
        assert stats.gamma.sf(0.97 * T, a=n + 1, scale=0.01) > rtol
    assert jn.PSCKernel(0.01, n).support(1e-6) == pytest.approx(kernel_support(0.01, n, 1e-6))


# ------------------------------------------------------------------ validation
# 1.5, "2" and None are not ints on purpose: the checks off for them, so that the library's
# own ValueError is tested rather than the hook's TypeCheckError
_not_int = pytest.mark.jaxtyping_off


@pytest.mark.parametrize(
    "n",
    [
        -1,
        pytest.param(1.5, marks=_not_int),
        True,
        pytest.param("2", marks=_not_int),
        pytest.param(None, marks=_not_int),
    ],
)
def test_order_must_be_a_nonnegative_int(n):
    with pytest.raises(ValueError, match=r"n must be an int in \[0, inf\) \(the PSC kernel order\), got n = "):
        jn.psc_kernel(0.1, 0.01, n)
    with pytest.raises(ValueError, match=r"n must be an int in \[0, inf\) \(the PSC kernel order\)"):
        jn.PSCKernel(0.01, n)


@pytest.mark.parametrize("tau", [0.0, -0.01, np.nan, np.inf])
def test_tau_must_be_positive(tau):
    with pytest.raises(ValueError, match=r"tau_s must be finite and in \(0, inf\) s"):
        jn.psc_kernel(0.1, tau)
    with pytest.raises(ValueError, match="tau_s"):
        jn.PSCKernel(tau)


def test_traced_tau_checked_at_run_time():
    f = jax.jit(lambda tau: jn.psc_kernel(0.1, tau))
    with pytest.raises(RUNTIME_ERRORS, match="tau_s must be finite and in"):
        jax.block_until_ready(f(-1.0))


def test_support_needs_concrete_tau_and_valid_rtol():
    with pytest.raises(ValueError, match="rtol must be in"):
        kernel_support(0.01, 0, 0.0)
    with pytest.raises(ValueError, match="needs a concrete tau_s"):
        jax.jit(lambda tau: jnp.asarray(jn.PSCKernel(tau).support()))(0.01)

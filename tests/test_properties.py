"""Property-based tests (issue 16, item 2) of the public API's contracts.

For arbitrary valid parameters the results are finite and agree with the closed forms; for
arbitrary invalid ones the error is a ``ValueError`` (concrete values) or an ``eqx.error_if``
run-time error (traced values) whose message names the parameter and the allowed range.

Reproducible: every property runs under a fixed, database-free profile (``derandomize=True``,
``database=None``), so CI draws the same examples each run.  Bounded: every example runs under
a wall-clock alarm (``bounded``), so an input that makes a loop run forever fails the test
instead of hanging it (hypothesis's own ``deadline`` only judges an example once it returns;
it is off because the first example of each property includes JIT compilation).  The default
run draws 25-40 examples per property; the ``slow`` variants draw 200.
"""

import contextlib
import functools
import math
import signal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxneuro as jn
import jaxneuro.losses as L

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
EXAMPLE_TIMEOUT_S = 60


def _profile(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FAST = _profile(25)
SLOW = _profile(200)


class ExampleTimeout(Exception):
    """An example ran longer than ``EXAMPLE_TIMEOUT_S``: an unbounded loop."""


@contextlib.contextmanager
def bounded(seconds: float = EXAMPLE_TIMEOUT_S):
    """Fail (``ExampleTimeout``) an example that runs longer than ``seconds`` (SIGALRM: the
    XLA loops return to Python between examples, and the alarm interrupts the wait on them)."""

    def on_alarm(signum, frame):
        raise ExampleTimeout(f"example ran over {seconds} s: an unbounded loop?")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def property_test(*strategies, **kw_strategies):
    """``fn`` as two tests: the default run (``FAST``) and a ``slow`` one (``SLOW``), each
    example under ``bounded``."""

    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with bounded():
                fn(*args, **kwargs)

        fast = FAST(given(*strategies, **kw_strategies)(run))
        slow = pytest.mark.slow(SLOW(given(*strategies, **kw_strategies)(run)))
        return fast, slow

    return wrap


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# ============================================================== valid parameters: closed forms
# Static choices (t0, duration) from small sets, so that jit compiles a handful of programs;
# the neuron's parameters and the drive are traced.
MAX_SPIKES = 1100  # tau_ref >= 1 ms over at most 1 s


@functools.partial(jax.jit, static_argnums=(3, 4))
def _exact_count(tau_m, tau_ref, v_in, t0, duration):
    # A two-piece drive with equal levels takes the event loop (not the periodic closed form).
    drive = jn.PiecewiseConstant(jnp.array([t0 + duration / 2]), jnp.stack([v_in, v_in]))
    sim = jn.simulate(jn.LIF(tau_m, tau_ref), drive, t0, t0 + duration, max_spikes=MAX_SPIKES, check_units=False)
    return sim.spikes.count, sim.ys


def _expected_count(tau_m, tau_ref, v_in, duration):
    """Spikes of LIF from v = 0 under constant v_in over ``duration``, in float64: the first
    after ``t* = tau_m log1p(1/(v_in - 1))``, then one every ``tau_ref + t*``, so
    ``floor((duration + tau_ref) rate)``; returns (count, distance of that product from an
    integer)."""
    if v_in <= 1:
        return 0, math.inf
    rate = 1.0 / (tau_ref + tau_m * math.log1p(1.0 / (v_in - 1.0)))
    x = (duration + tau_ref) * rate
    return math.floor(x), min(x - math.floor(x), math.ceil(x) - x)


@property_test(
    tau_m=floats(2e-3, 0.1),
    tau_ref=floats(1e-3, 0.01),
    v_in=floats(0.0, 30.0),
    t0=st.sampled_from([0.0, 1e5]),
    duration=st.just(0.5),
)
def _simulate_lif_counts_match_lif_rate(tau_m, tau_ref, v_in, t0, duration):
    count, ys = _exact_count(tau_m, tau_ref, v_in, t0, duration)
    assert np.all(np.isfinite(ys)) and np.all(ys <= 1.0 + 1e-5)
    expected, margin = _expected_count(tau_m, tau_ref, v_in, duration)
    if margin > 1e-3:  # off an integer boundary the count is exact (float32 rounding aside)
        assert int(count) == expected, (int(count), expected)
    else:
        assert abs(int(count) - expected) <= 1


test_simulate_lif_counts_match_lif_rate, test_simulate_lif_counts_match_lif_rate_slow = (
    _simulate_lif_counts_match_lif_rate
)


_rate_and_grad = jax.jit(jax.value_and_grad(jn.lif_rate, argnums=(0, 1, 2)))


@property_test(
    tau_m=floats(1e-3, 1.0),
    tau_ref=floats(1e-4, 0.05),
    v_in=floats(-50.0, 1e4),
)
def _lif_rate_is_finite_and_bounded(tau_m, tau_ref, v_in):
    r, g = _rate_and_grad(v_in, tau_m, tau_ref)
    r = float(r)
    assert np.isfinite(r) and 0.0 <= r <= 1.0 / tau_ref * (1 + 1e-5)
    assert all(np.isfinite(x) for x in g)
    assert (r > 0) == (v_in > 1)


test_lif_rate_is_finite_and_bounded, test_lif_rate_is_finite_and_bounded_slow = _lif_rate_is_finite_and_bounded


_sub_and_grad = jax.jit(jax.value_and_grad(jn.lif_subthreshold))


@property_test(
    t=floats(0.0, 0.5),
    v0=floats(-2.0, 1.0),
    v_in=floats(-5.0, 20.0),
    tau_m=floats(1e-3, 0.2),
)
def _lif_subthreshold_solves_its_ode(t, v0, v_in, tau_m):
    # v(0) = v0 and dv/dt = (v_in - v)/tau_m, the derivative by autodiff.
    v, dv = _sub_and_grad(t, v0, v_in, tau_m)
    scale = abs(v_in - v0) + 1e-6
    assert np.isfinite(v) and np.isfinite(dv)
    np.testing.assert_allclose(jn.lif_subthreshold(0.0, v0, v_in, tau_m), v0, atol=1e-6)
    np.testing.assert_allclose(dv * tau_m, v_in - v, atol=2e-5 * scale + 1e-6)
    assert min(v0, v_in) - 1e-5 * scale <= v <= max(v0, v_in) + 1e-5 * scale


test_lif_subthreshold_solves_its_ode, test_lif_subthreshold_solves_its_ode_slow = _lif_subthreshold_solves_its_ode


@property_test(v0=floats(-2.0, 0.99), v_in=floats(1.01, 100.0), tau_m=floats(1e-3, 0.2))
def _time_to_threshold_reaches_threshold(v0, v_in, tau_m):
    t = jn.lif_time_to_threshold(v0, v_in, tau_m)
    assert np.isfinite(t) and t > 0
    np.testing.assert_allclose(jn.lif_subthreshold(t, v0, v_in, tau_m), 1.0, rtol=1e-4)


test_time_to_threshold_reaches_threshold, test_time_to_threshold_reaches_threshold_slow = (
    _time_to_threshold_reaches_threshold
)


@property_test(tau_s=floats(1e-3, 1.0), n=st.integers(0, 6))
def _psc_kernel_has_unit_area_and_its_peak_at_n_tau(tau_s, n):
    # int_0^inf h dt = 1 (the trapezoid rule on 40,001 points over (n + 40) tau_s, where the
    # tail is below 1e-12), h >= 0 and finite, the peak at t = n tau_s.
    t = np.linspace(0.0, (n + 40) * tau_s, 40_001)
    h = np.asarray(jn.psc_kernel(t, tau_s, n=n), np.float64)
    assert np.all(np.isfinite(h)) and np.all(h >= 0)
    area = np.sum((h[1:] + h[:-1]) / 2) * (t[1] - t[0])
    np.testing.assert_allclose(area, 1.0, rtol=2e-3 if n == 0 else 1e-4)
    assert abs(t[np.argmax(h)] - n * tau_s) <= 2 * (t[1] - t[0]) + 1e-3 * n * tau_s


test_psc_kernel_has_unit_area_and_its_peak_at_n_tau, test_psc_kernel_has_unit_area_and_its_peak_at_n_tau_slow = (
    _psc_kernel_has_unit_area_and_its_peak_at_n_tau
)


_soft_and_grad = jax.jit(jax.value_and_grad(lambda v, m, r, g: jn.soft_lif_rate(v, m, r, gamma=g)))


@property_test(
    v_in=floats(-5.0, 50.0),
    tau_m=floats(5e-3, 0.1),
    tau_ref=floats(1e-3, 0.01),
    gamma=floats(1e-4, 0.1),
)
def _soft_lif_is_sandwiched_by_lif(v_in, tau_m, tau_ref, gamma):
    # lif_rate(v) <= soft_lif_rate(v) <= lif_rate(max(v, 1) + gamma ln 2): the soft rate tends
    # to the LIF rate as gamma -> 0 (the bound of its docstring).
    soft, dsoft = _soft_and_grad(v_in, tau_m, tau_ref, gamma)
    soft = float(soft)
    lo = float(jn.lif_rate(v_in, tau_m, tau_ref))
    hi = float(jn.lif_rate(max(v_in, 1.0) + gamma * math.log(2.0), tau_m, tau_ref))
    assert np.isfinite(soft)
    assert lo * (1 - 1e-4) - 1e-3 <= soft <= hi * (1 + 1e-4) + 1e-3
    assert np.isfinite(dsoft)


test_soft_lif_is_sandwiched_by_lif, test_soft_lif_is_sandwiched_by_lif_slow = _soft_lif_is_sandwiched_by_lif

K = 5  # one size: one compilation per loss
_logits = st.lists(floats(-30.0, 30.0), min_size=K, max_size=K)


@property_test(data=st.data(), z=_logits)
def _losses_agree_with_optax(data, z):
    z = jnp.asarray(z, jnp.float32)
    k = z.shape[0]
    t01 = jnp.asarray(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=k, max_size=k)), jnp.float32)
    y = jnp.asarray(data.draw(st.lists(floats(-10.0, 10.0), min_size=k, max_size=k)), jnp.float32)
    label = data.draw(st.integers(0, k - 1))

    def close(a, b):
        assert np.isfinite(a)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)

    close(L.mse(y, z), jnp.sum(optax.l2_loss(y, z)))
    close(L.binary_cross_entropy_with_logits(z, t01), jnp.sum(optax.sigmoid_binary_cross_entropy(z, t01)))
    onehot = jax.nn.one_hot(label, k)
    close(L.categorical_cross_entropy_with_logits(z, onehot), optax.softmax_cross_entropy(z, onehot))
    close(
        L.categorical_cross_entropy_with_integer_labels(z, jnp.asarray(label)),
        optax.softmax_cross_entropy_with_integer_labels(z, jnp.asarray(label)),
    )


test_losses_agree_with_optax, test_losses_agree_with_optax_slow = _losses_agree_with_optax


# ============================================================== invalid parameters: named errors
_not_positive = st.one_of(
    st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf]),
    st.floats(-1e6, -1e-9, allow_nan=False),
)


@jax.jit
def _lif_traced(tau_m, tau_ref):  # one compilation: every parameter traced
    return jn.simulate(jn.LIF(tau_m, tau_ref), 2.0, 0.0, 0.1, max_spikes=200).spikes.count


@property_test(name=st.sampled_from(["tau_m", "tau_ref"]), value=_not_positive)
def _lif_rejects_bad_time_constants_by_name(name, value):
    allowed = rf"{name} must be finite and in \(0, inf\) s"
    with pytest.raises(ValueError, match=rf"{allowed}; got {name} ="):
        jn.LIF(**{name: value})
    with pytest.raises(ValueError, match=rf"{allowed}; got {name} ="):
        jn.lif_rate(2.0, **{name: value})
    with pytest.raises(RUNTIME_ERRORS, match=allowed):
        jax.block_until_ready(_lif_traced(**{"tau_m": 0.02, "tau_ref": 0.002, name: value}))


test_lif_rejects_bad_time_constants_by_name, test_lif_rejects_bad_time_constants_by_name_slow = (
    _lif_rejects_bad_time_constants_by_name
)


@jax.jit
def _hh_traced(params):  # one compilation: every parameter traced
    return jn.simulate(jn.HodgkinHuxley(**params), 10.0, 0.0, 5.0, max_spikes=10).spikes.count


_HH_DEFAULTS = {
    k: float(getattr(jn.HodgkinHuxley(), k)) for k in ("C", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L", "v_threshold")
}


_HH_BAD = st.one_of(
    st.tuples(st.sampled_from(["g_Na", "g_K", "g_L"]), st.floats(-1e4, -1e-6)),
    st.tuples(st.sampled_from(["C"]), st.floats(-1e4, 0.0)),
    st.tuples(
        st.sampled_from(["C", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L", "v_threshold"]),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
)


@property_test(bad=_HH_BAD)
def _hh_rejects_bad_parameters_by_name(bad):
    name, value = bad
    with pytest.raises(ValueError, match=rf"{name} must be finite and in .*; got {name} ="):
        jn.HodgkinHuxley(**{name: value})
    with pytest.raises(RUNTIME_ERRORS, match=rf"{name} must be finite and in"):
        jax.block_until_ready(_hh_traced({**_HH_DEFAULTS, name: value}))


test_hh_rejects_bad_parameters_by_name, test_hh_rejects_bad_parameters_by_name_slow = _hh_rejects_bad_parameters_by_name


_psc_traced = jax.jit(lambda s, n: jn.psc_kernel(0.01, s, n=n), static_argnums=1)


@property_test(tau_s=_not_positive, n=st.integers(-3, 3))
def _psc_kernel_rejects_bad_arguments_by_name(tau_s, n):
    with pytest.raises(
        ValueError,
        match=r"tau_s must be finite and in \(0, inf\) s; got tau_s ="
        r"|n must be an int in \[0, inf\) \(the PSC kernel order\)",
    ):
        jn.psc_kernel(0.01, tau_s, n=n)
    if n >= 0:
        with pytest.raises(RUNTIME_ERRORS, match="tau_s must be finite and in"):
            jax.block_until_ready(_psc_traced(tau_s, n))


test_psc_kernel_rejects_bad_arguments_by_name, test_psc_kernel_rejects_bad_arguments_by_name_slow = (
    _psc_kernel_rejects_bad_arguments_by_name
)


@property_test(
    t0=floats(-1e3, 1e3),
    gap=st.one_of(st.floats(-1e3, 0.0), st.sampled_from([math.nan, math.inf, -math.inf])),
)
def _simulate_rejects_an_empty_or_non_finite_interval(t0, gap):
    with pytest.raises(ValueError, match="t1 must be finite and greater than t0"):
        jn.simulate(jn.LIF(), 2.0, t0, t0 + gap, check_units=False)


test_simulate_rejects_an_empty_or_non_finite_interval, test_simulate_rejects_an_empty_or_non_finite_interval_slow = (
    _simulate_rejects_an_empty_or_non_finite_interval
)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _lif_inputs_traced(value, where, method):
    drive, y0 = (value, None) if where == "drive" else (2.0, value)
    return jn.simulate(jn.LIF(), drive, 0.0, 0.1, y0=y0, method=method, max_spikes=200).spikes.count


@property_test(
    value=st.sampled_from([math.nan, math.inf, -math.inf]),
    where=st.sampled_from(["drive", "y0"]),
    method=st.sampled_from(["exact", "stepped"]),
)
def _simulate_rejects_non_finite_traced_inputs_by_name(value, where, method):
    match = "input value must be finite" if where == "drive" else "y0 must be finite"
    with pytest.raises(RUNTIME_ERRORS, match=match):
        jax.block_until_ready(_lif_inputs_traced(value, where, method))


test_simulate_rejects_non_finite_traced_inputs_by_name, test_simulate_rejects_non_finite_traced_inputs_by_name_slow = (
    _simulate_rejects_non_finite_traced_inputs_by_name
)


def test_bounded_fails_a_hang():
    # the guard itself: a loop that never ends is reported, not waited for
    with pytest.raises(ExampleTimeout), bounded(0.2):
        while True:
            pass

"""Spike-time losses, readouts and regularisers against numpy float64 definitions, optax, and
float64 central differences; jit, vmap, grad, jvp; silent outputs and bad input."""

from __future__ import annotations

import doctest
import inspect
import types
import typing

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jaxtyping import jaxtyped
from scipy.integrate import solve_ivp

import jaxneuro
import jaxneuro._spike_losses as spike_losses_module
from jaxneuro import SpikeTrain
from jaxneuro import losses as L

# a run-time check (eqx.error_if) surfaces as one of these (seen here: JaxRuntimeError for the first failing
# callback in a process, ValueError("INTERNAL: CpuCallback error ...") for later ones);
# every test matches the message too
RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError, ValueError)
RNG = np.random.default_rng(15)
WINDOW, TAU = 0.05, 0.005
NAMES = [
    "check_spikes",
    "firing_rate_penalty",
    "first_spike_cross_entropy",
    "first_spike_times",
    "late_spike_penalty",
    "leaky_readout",
    "max_over_time_cross_entropy",
    "silent_neuron_penalty",
    "spike_count_cross_entropy",
    "spike_count_mse",
]


# jitted once per input shape and dtype and shared by the tests (eager dispatch compiles every primitive once
# per shape, which costs more); scalar options static, so that only the arrays are traced
def _jit(fn, *static, grad=False):
    return jax.jit(jax.grad(fn) if grad else fn, static_argnames=static)


_TIMES = ("tau", "window", "on_silent")
ttfs, d_ttfs = _jit(L.first_spike_cross_entropy, *_TIMES), _jit(L.first_spike_cross_entropy, *_TIMES, grad=True)
count_ce = _jit(L.spike_count_cross_entropy, "scale", "on_silent")
d_count_ce = _jit(L.spike_count_cross_entropy, "scale", "on_silent", grad=True)
max_ce, d_max_ce = _jit(L.max_over_time_cross_entropy), _jit(L.max_over_time_cross_entropy, grad=True)
_RATES = ("lower", "upper", "population")
rate_penalty, d_rate_penalty = _jit(L.firing_rate_penalty, *_RATES), _jit(L.firing_rate_penalty, *_RATES, grad=True)
late, d_late = _jit(L.late_spike_penalty, "tau", "window"), _jit(L.late_spike_penalty, "tau", "window", grad=True)
_SILENT = ("threshold", "window")
silent_pen, d_silent_pen = _jit(L.silent_neuron_penalty, *_SILENT), _jit(L.silent_neuron_penalty, *_SILENT, grad=True)
readout = _jit(L.leaky_readout, "dt", "tau")


def central_grad(f, x, h=1e-6):
    """float64 central differences of a scalar function of a numpy array."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return g


def np_ttfs(t, k, tau, window):
    """t_k / tau + log sum_j exp(-t_j / tau), missing spikes (inf or >= window) at the window."""
    t = np.where(np.asarray(t, np.float64) >= window, window, t)
    return t[k] / tau + np.logaddexp.reduce(-t / tau)


# ---------------------------------------------------------------- public names
def test_namespace_and_flat_api():
    for name in NAMES:
        assert getattr(L, name) is getattr(jaxneuro, name) is getattr(spike_losses_module, name), name
        assert name in L.__all__
    assert set(NAMES) == set(spike_losses_module.__all__)


@pytest.mark.slow  # ~4 s of eager dispatch
def test_docstring_examples_run():
    result = doctest.testmod(
        spike_losses_module, extraglobs={"jaxneuro": jaxneuro, "jnp": jnp}, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted >= 10 and result.failed == 0


# ---------------------------------------------------------------- first_spike_times
def test_first_spike_times_from_trains_and_buffers():
    times = np.array(
        [
            [0.004, 0.02, np.inf],  # fired
            [np.inf, np.inf, np.inf],  # silent
            [0.07, 0.09, np.inf],  # first spike after the window: missing
            [0.05, np.inf, np.inf],  # exactly at the end of the window: missing
        ]
    )
    train = SpikeTrain.from_times(times)
    expected = np.array([0.004, WINDOW, WINDOW, WINDOW], np.float32)
    np.testing.assert_array_equal(L.first_spike_times(train, WINDOW), expected)
    np.testing.assert_array_equal(L.first_spike_times(jnp.asarray(times), WINDOW), expected)
    # batch axes are kept; an overflowed train still has its first spike
    batched = SpikeTrain.from_times(np.stack([times, times[::-1]]))
    np.testing.assert_array_equal(L.first_spike_times(batched, WINDOW), np.stack([expected, expected[::-1]]))
    over = SpikeTrain.from_times([[0.01, 0.02, 0.03]], capacity=2, on_overflow="flag")
    np.testing.assert_array_equal(L.first_spike_times(over, WINDOW), np.float32([0.01]))
    # NaN is not hidden as "silent": it reaches the loss
    assert np.isnan(L.first_spike_times(jnp.array([[np.nan, np.inf]]), WINDOW)[0])


def test_first_spike_times_gradient_reaches_only_real_spikes():
    times = jnp.array([[0.004, 0.02], [np.inf, np.inf], [0.07, np.inf]])

    def f(tm):
        return jnp.sum(jnp.arange(1.0, 4.0) * L.first_spike_times(SpikeTrain(tm, jnp.array([2, 0, 1])), WINDOW))

    g = jax.jit(jax.grad(f))(times)
    np.testing.assert_array_equal(g, [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    # a window that is traced (a parameter) gets the gradient of the missing spikes
    gw = jax.jit(jax.grad(lambda w: jnp.sum(L.first_spike_times(times, w))))(WINDOW)
    np.testing.assert_allclose(gw, 2.0)


def test_first_spike_times_bad_input():
    with pytest.raises(ValueError, match=r"capacity >= 1 .* got shape \(3, 0\)"):
        L.first_spike_times(jnp.zeros((3, 0)), WINDOW)
    with pytest.raises(ValueError, match=r"window must be finite and in \(0, inf\) s; got window = 0"):
        L.first_spike_times(jnp.ones((2, 1)), 0.0)
    with pytest.raises(ValueError, match=r"window must be finite and in \(0, inf\) s; got window = nan"):
        L.first_spike_times(jnp.ones((2, 1)), float("nan"))
    with pytest.raises(RUNTIME_ERRORS, match="window must be finite"):
        jax.jit(L.first_spike_times)(jnp.ones((2, 1)), -1.0).block_until_ready()


# ---------------------------------------------------------------- first-spike cross-entropy
def test_first_spike_cross_entropy_closed_form_and_gradient(x64):
    for _ in range(4):
        t = RNG.uniform(0.0, 0.06, size=4)  # some after the window
        t[RNG.integers(4)] = np.inf
        k = int(RNG.integers(4))
        np.testing.assert_allclose(
            ttfs(jnp.asarray(t), k, tau=TAU, window=WINDOW), np_ttfs(t, k, TAU, WINDOW), rtol=1e-13
        )
    t = np.array([0.012, 0.003, 0.03, 0.021])
    for k in range(4):
        g = d_ttfs(jnp.asarray(t), k, tau=TAU, window=WINDOW)
        # closed form (onehot - softmax(-t/tau)) / tau, and float64 central differences
        p = np.exp(-t / TAU - np.logaddexp.reduce(-t / TAU))
        np.testing.assert_allclose(g, (np.eye(4)[k] - p) / TAU, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(g, central_grad(lambda x, k=k: np_ttfs(x, k, TAU, WINDOW), t, h=1e-7), rtol=1e-6)
    # with respect to tau, and zero for a missing spike
    gt = jax.jit(jax.grad(lambda tau: L.first_spike_cross_entropy(jnp.asarray(t), 2, tau=tau, window=WINDOW)))(TAU)
    np.testing.assert_allclose(gt, central_grad(lambda x: np_ttfs(t, 2, x, WINDOW), np.array(TAU), h=1e-9), rtol=1e-6)
    g = d_ttfs(jnp.asarray(t).at[3].set(np.inf), 0, tau=TAU, window=WINDOW)
    assert g[3] == 0.0 and np.all(np.isfinite(g))


def test_first_spike_cross_entropy_equals_optax_and_train_input():
    t = np.array([0.012, 0.003, np.inf, 0.03], np.float32)
    logits = jnp.asarray(-np.where(t >= WINDOW, WINDOW, t) / TAU)
    ref = jax.jit(jax.vmap(optax.softmax_cross_entropy_with_integer_labels, (None, 0)))(logits, jnp.arange(4))
    got = [ttfs(jnp.asarray(t), k, tau=TAU, window=WINDOW) for k in range(4)]
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    train = SpikeTrain.from_times(np.array([[0.012, 0.02], [0.003, np.inf], [np.inf, np.inf], [0.03, 0.04]]))
    np.testing.assert_allclose(ttfs(train, 1, tau=TAU, window=WINDOW), got[1], rtol=1e-7)


def test_first_spike_cross_entropy_is_stable_for_a_tiny_tau():
    # logits -t/tau of order -1e4 in float32: a naive softmax would give 0/0
    t = jnp.array([0.020, 0.0201, 0.04, 0.03], jnp.float32)
    got = ttfs(t, 1, tau=1e-6, window=WINDOW)
    ref = np_ttfs(np.asarray(t, np.float64), 1, 1e-6, WINDOW)  # ~100 nats
    assert np.isfinite(got) and np.isfinite(ref)
    np.testing.assert_allclose(got, ref, rtol=1e-4)  # float32 spike times: ~1e-9 s / 1e-6 s of rounding
    g = d_ttfs(t, 1, tau=1e-6, window=WINDOW)
    np.testing.assert_allclose(g, [-1e6, 1e6, 0.0, 0.0], rtol=1e-4, atol=1e-3)  # the label pulled earlier


def test_silent_output_is_finite_and_can_be_refused():
    silent = jnp.full((4,), jnp.inf)
    np.testing.assert_allclose(ttfs(silent, 0, tau=TAU, window=WINDOW), np.log(4.0), rtol=1e-6)  # all "at the window"
    np.testing.assert_array_equal(d_ttfs(silent, 0, tau=TAU, window=WINDOW), np.zeros(4))  # finite, no information
    train = SpikeTrain.from_times(np.full((4, 2), np.inf))
    np.testing.assert_allclose(ttfs(train, 2, tau=TAU, window=WINDOW), np.log(4.0), rtol=1e-6)
    hint = r"no output neuron fired before the end of the window.*firing_rate_penalty"
    with pytest.raises(ValueError, match="first_spike_cross_entropy: " + hint):
        L.first_spike_cross_entropy(silent, 0, tau=TAU, window=WINDOW, on_silent="error")
    with pytest.raises(ValueError, match=hint):
        L.first_spike_cross_entropy(train, 0, tau=TAU, window=WINDOW, on_silent="error")

    @jax.jit
    def batch_loss_and_grad(ts):
        def batch_loss(ts):
            per = jax.vmap(lambda t: L.first_spike_cross_entropy(t, 0, tau=TAU, window=WINDOW, on_silent="error"))
            return jnp.mean(per(ts))

        return jax.value_and_grad(batch_loss)(ts)

    good = jnp.array([[0.01, jnp.inf, jnp.inf, 0.04], [jnp.inf, 0.02, 0.03, jnp.inf]])
    value, _ = batch_loss_and_grad(good)
    np.testing.assert_allclose(value, np.mean([np_ttfs(np.asarray(x), 0, TAU, WINDOW) for x in good]), rtol=1e-6)
    bad = good.at[1].set(jnp.inf)  # one silent sample in the batch
    with pytest.raises(RUNTIME_ERRORS, match=hint):
        jax.block_until_ready(batch_loss_and_grad(bad))


# a float label and a label of shape (2,) (annotated Int[..., ""]), and scalar times
# (annotated "*batch n"), on purpose
@pytest.mark.jaxtyping_off
def test_first_spike_cross_entropy_bad_input():
    t = jnp.array([0.01, 0.02])
    with pytest.raises(ValueError, match=r"first_spike_cross_entropy: label must be a class index in \[0, 1\]"):
        L.first_spike_cross_entropy(t, 2, tau=TAU, window=WINDOW)
    with pytest.raises(ValueError, match="label must be an integer array"):
        L.first_spike_cross_entropy(t, 1.0, tau=TAU, window=WINDOW)
    with pytest.raises(ValueError, match=r"label.shape must equal"):
        L.first_spike_cross_entropy(t, jnp.array([0, 1]), tau=TAU, window=WINDOW)
    with pytest.raises(ValueError, match=r"tau must be finite and in \(0, inf\) s; got tau = -0.005"):
        L.first_spike_cross_entropy(t, 0, tau=-TAU, window=WINDOW)
    with pytest.raises(ValueError, match=r"window must be finite and in \(0, inf\) s; got window = 0"):
        L.first_spike_cross_entropy(t, 0, tau=TAU, window=0.0)
    with pytest.raises(ValueError, match=r"on_silent must be 'ignore' or 'error', got on_silent = 'raise'"):
        L.first_spike_cross_entropy(t, 0, tau=TAU, window=WINDOW, on_silent="raise")
    with pytest.raises(ValueError, match=r"output neurons on its last axis .* got the first-spike times.shape = \(\)"):
        L.first_spike_cross_entropy(jnp.asarray(0.01), 0, tau=TAU, window=WINDOW)
    with pytest.raises(RUNTIME_ERRORS, match=r"label must be a class index in \[0, 3\]"):
        ttfs(jnp.array([0.01, 0.02, 0.03, 0.04]), 5, tau=TAU, window=WINDOW).block_until_ready()


# ---------------------------------------------------------------- check_spikes
def test_check_spikes_any_and_all():
    t = jnp.array([[0.01, jnp.inf], [jnp.inf, jnp.inf]])
    with pytest.raises(ValueError, match=r"check_spikes: no output neuron fired .*require = 'any'"):
        L.check_spikes(t, WINDOW)
    assert L.check_spikes(t[0], WINDOW) is not None
    with pytest.raises(ValueError, match=r"my_loss: an output neuron did not fire .*require = 'all'"):
        L.check_spikes(t[0], WINDOW, require="all", what="my_loss")
    ok = jnp.array([0.01, 0.02])
    assert L.check_spikes(ok, WINDOW, require="all") is ok
    train = SpikeTrain.from_times(np.array([[0.01, 0.02], [0.06, np.inf]]))  # the late spike does not count
    assert L.check_spikes(train, WINDOW) is train
    with pytest.raises(ValueError, match="did not fire"):
        L.check_spikes(train, WINDOW, require="all")
    with pytest.raises(RUNTIME_ERRORS, match="did not fire"):
        jax.jit(lambda tr: L.check_spikes(tr, WINDOW, require="all").times)(train).block_until_ready()
    check = jax.jit(lambda x: L.check_spikes(x, WINDOW))
    with pytest.raises(RUNTIME_ERRORS, match="no output neuron fired"):
        check(t).block_until_ready()
    each_fired = t.at[1, 1].set(0.02)
    np.testing.assert_array_equal(check(each_fired), each_fired)
    assert L.check_spikes(jnp.array([np.nan, np.inf]), WINDOW) is not None  # NaN is the loss's to report


@pytest.mark.jaxtyping_off  # require="some", outside its Literal, on purpose
def test_check_spikes_bad_require():
    t = jnp.array([[0.01, jnp.inf], [jnp.inf, jnp.inf]])
    with pytest.raises(ValueError, match=r"require must be 'any' or 'all', got require = 'some'"):
        L.check_spikes(t, WINDOW, require="some")


# ---------------------------------------------------------------- spike counts
def test_spike_count_cross_entropy_equals_optax_and_numpy(x64):
    c = np.array([3.0, 1.0, 0.0, 7.0])
    optax_ce = jax.jit(jax.vmap(optax.softmax_cross_entropy_with_integer_labels, (None, 0)))
    got = [count_ce(jnp.asarray(c), k, scale=0.3) for k in range(4)]
    np.testing.assert_allclose(got, np.logaddexp.reduce(0.3 * c) - 0.3 * c, rtol=1e-13)
    np.testing.assert_allclose(got, optax_ce(jnp.asarray(0.3 * c), jnp.arange(4)), rtol=1e-12)
    g = d_count_ce(jnp.asarray(c), 1, scale=0.3)
    np.testing.assert_allclose(
        g, central_grad(lambda x: np.logaddexp.reduce(0.3 * x) - 0.3 * x[1], c), rtol=1e-7, atol=1e-10
    )
    train = SpikeTrain.from_times(np.array([[0.01, 0.02, 0.03], [0.01, np.inf, np.inf], [np.inf] * 3, [0.1] * 3]))
    np.testing.assert_allclose(count_ce(train, 0), np.logaddexp.reduce([3.0, 1.0, 0.0, 3.0]) - 3.0, rtol=1e-13)
    # large counts: stable
    np.testing.assert_allclose(count_ce(jnp.array([1e5, 0.0, 0.0, 0.0]), 1), 1e5, rtol=1e-13)


def test_spike_count_cross_entropy_silent_output():
    zero = jnp.zeros(4)
    np.testing.assert_allclose(count_ce(zero, 2), np.log(4.0), rtol=1e-6)
    g = d_count_ce(zero, 2)
    np.testing.assert_allclose(g, np.full(4, 0.25) - np.eye(4)[2], rtol=1e-6)
    with pytest.raises(ValueError, match=r"spike_count_cross_entropy: no output neuron fired.*firing_rate_penalty"):
        L.spike_count_cross_entropy(zero, 2, on_silent="error")
    with pytest.raises(RUNTIME_ERRORS, match="all spike counts are 0"):
        count_ce(zero, 2, on_silent="error").block_until_ready()
    with pytest.raises(ValueError, match=r"scale must be finite and in \(0, inf\); got scale = 0"):
        L.spike_count_cross_entropy(zero, 2, scale=0.0)


@pytest.mark.parametrize(
    "loss", [lambda c: L.spike_count_cross_entropy(c, 0), lambda c: L.spike_count_mse(c, jnp.ones(2))]
)
def test_spike_counts_must_be_counts(loss):
    for bad in (jnp.array([-1.0, 2.0]), jnp.array([np.nan, 2.0])):
        with pytest.raises(ValueError, match=r"counts must be finite and in \[0, inf\)"):
            loss(np.asarray(bad))
        with pytest.raises(RUNTIME_ERRORS, match=r"counts must be finite and in \[0, inf\)"):
            jax.block_until_ready(jax.jit(loss)(bad))


def test_spike_count_mse(x64):
    c, target = RNG.uniform(0, 10, size=5), RNG.uniform(0, 10, size=5)
    got = L.spike_count_mse(jnp.asarray(c), jnp.asarray(target))
    np.testing.assert_allclose(got, 0.5 * np.sum((c - target) ** 2), rtol=1e-14)
    np.testing.assert_allclose(jax.jit(jax.grad(L.spike_count_mse))(jnp.asarray(c), jnp.asarray(target)), c - target)
    np.testing.assert_allclose(L.spike_count_mse(jnp.zeros(5), jnp.asarray(target)), 0.5 * np.sum(target**2))
    with pytest.raises(ValueError, match=r"target must be finite and in \[0, inf\); got target = \[-1.\]"):
        L.spike_count_mse(jnp.zeros(2), jnp.array([1.0, -1.0]))


@pytest.mark.jaxtyping_off  # counts and target of different n, on purpose
def test_spike_count_mse_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape"):
        L.spike_count_mse(jnp.zeros(2), jnp.zeros(3))


# ---------------------------------------------------------------- leaky readout, max over time
def test_leaky_readout_constant_input_closed_form(x64):
    dt, tau, n = 1e-4, 0.02, 300
    v = readout(jnp.full((n, 2), 2.0), dt=dt, tau=tau, v0=jnp.array([0.0, 5.0]))
    tk = dt * np.arange(1, n + 1)
    np.testing.assert_allclose(v[:, 0], 2.0 * (1 - np.exp(-tk / tau)), rtol=1e-12)
    np.testing.assert_allclose(v[:, 1], 2.0 + 3.0 * np.exp(-tk / tau), rtol=1e-12)


def test_leaky_readout_equals_the_ode_for_a_held_input(x64):
    dt, tau = 1e-3, 0.005
    inputs = RNG.normal(size=(30, 3))
    v = np.asarray(readout(jnp.asarray(inputs), dt=dt, tau=tau, v0=jnp.full(3, 0.5)))
    # scipy integrates tau dv/dt = -v + I(t) step by step with I held over each step
    state = np.full(3, 0.5)
    for k in range(30):
        sol = solve_ivp(lambda _t, y, k=k: (-y + inputs[k]) / tau, (0, dt), state, rtol=1e-12, atol=1e-14)
        state = sol.y[:, -1]
        np.testing.assert_allclose(v[k], state, rtol=1e-8, atol=1e-10)


def test_max_over_time_cross_entropy(x64):
    v = RNG.normal(size=(20, 3))
    m = v.max(axis=0)
    got = [max_ce(jnp.asarray(v), k) for k in range(3)]
    np.testing.assert_allclose(got, np.logaddexp.reduce(m) - m, rtol=1e-13)  # softmax cross-entropy of the peaks
    g = np.asarray(d_max_ce(jnp.asarray(v), 1))
    ref = central_grad(lambda x: np.logaddexp.reduce(x.max(axis=0)) - x.max(axis=0)[1], v)
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-9)
    assert np.count_nonzero(g) == 3 and np.all(g[v.argmax(axis=0), range(3)] != 0)  # only at each maximum
    np.testing.assert_allclose(g[v.argmax(axis=0), range(3)], np.exp(m - np.logaddexp.reduce(m)) - np.eye(3)[1])


def test_leaky_readout_into_max_over_time_trains_a_weight(x64):
    # the Cramer et al. readout end to end: spikes -> leaky trace -> max -> cross-entropy, grad vs differences
    raster = (RNG.uniform(size=(50, 4)) < 0.2).astype(np.float64)

    def loss(w):
        v = L.leaky_readout(jnp.asarray(raster) @ w, dt=1e-3, tau=0.01)
        return L.max_over_time_cross_entropy(v, 2)

    w = RNG.normal(size=(4, 3))
    g = jax.jit(jax.grad(loss))(jnp.asarray(w))
    jloss = jax.jit(loss)
    np.testing.assert_allclose(g, central_grad(lambda x: jloss(jnp.asarray(x)), w), rtol=1e-6, atol=1e-9)


def test_readout_bad_input():
    with pytest.raises(ValueError, match=r"leaky_readout: inputs need a non-empty time axis first; got inputs.shape"):
        L.leaky_readout(jnp.zeros((0, 3)), dt=1e-3, tau=0.01)
    with pytest.raises(ValueError, match=r"tau must be finite and in \(0, inf\) s; got tau = 0"):
        L.leaky_readout(jnp.zeros((5, 3)), dt=1e-3, tau=0.0)
    with pytest.raises(ValueError, match=r"max_over_time_cross_entropy: label must be a class index in \[0, 2\]"):
        L.max_over_time_cross_entropy(jnp.zeros((5, 3)), 3)


@pytest.mark.jaxtyping_off  # v of shape (5,), annotated "time n", on purpose
def test_max_over_time_v_not_2d():
    with pytest.raises(ValueError, match=r"v must have shape \(time, n\) .* got v.shape = \(5,\)"):
        L.max_over_time_cross_entropy(jnp.zeros(5), 0)


# ---------------------------------------------------------------- regularisers
def np_rate_penalty(r, lower, upper, population):
    r = np.mean(r) if population else np.asarray(r)
    lo = 0.0 if lower is None else np.maximum(lower - r, 0) ** 2
    hi = 0.0 if upper is None else np.maximum(r - upper, 0) ** 2
    return np.mean(lo + hi)


@pytest.mark.parametrize(
    ("lower", "upper", "population"), [(2.0, None, False), (None, 20.0, True), (2.0, 20.0, False), (10.0, 10.0, True)]
)
def test_firing_rate_penalty(lower, upper, population, x64):
    r = np.array([0.0, 1.0, 5.0, 30.0, 55.0])
    got = rate_penalty(jnp.asarray(r), lower=lower, upper=upper, population=population)
    np.testing.assert_allclose(got, np_rate_penalty(r, lower, upper, population), rtol=1e-14)
    g = d_rate_penalty(jnp.asarray(r), lower=lower, upper=upper, population=population)
    ref = central_grad(lambda x: np_rate_penalty(x, lower, upper, population), r)
    np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-6)


def test_firing_rate_penalty_zero_inside_and_bad_bounds():
    r = jnp.array([3.0, 7.0])
    assert float(L.firing_rate_penalty(r, lower=2.0, upper=10.0)) == 0.0
    np.testing.assert_array_equal(d_rate_penalty(r, lower=2.0, upper=10.0), [0, 0])
    # a silent neuron under a lower bound still gets a gradient (the point of the regulariser)
    np.testing.assert_array_equal(d_rate_penalty(jnp.array([0.0, 3.0]), lower=2.0, upper=10.0), [-2.0, 0.0])
    # per-neuron bounds broadcast
    np.testing.assert_allclose(L.firing_rate_penalty(r, lower=jnp.array([4.0, 9.0])), (1.0 + 4.0) / 2)
    train = SpikeTrain.from_times(np.array([[0.01, 0.02], [np.inf, np.inf]]))
    np.testing.assert_allclose(L.firing_rate_penalty(train, lower=1.0), 0.5)  # counts [2, 0]
    with pytest.raises(ValueError, match="give a lower bound, an upper bound or both"):
        L.firing_rate_penalty(r)
    with pytest.raises(ValueError, match=r"lower must be finite and in \[0, inf\); got lower = -1"):
        L.firing_rate_penalty(r, lower=-1.0)
    with pytest.raises(ValueError, match=r"lower must not exceed upper; got lower = 5.0 and upper = 2.0"):
        L.firing_rate_penalty(r, lower=5.0, upper=2.0)
    with pytest.raises(ValueError, match=r"rates is empty"):
        L.firing_rate_penalty(jnp.zeros(0), lower=1.0)


def test_late_spike_penalty(x64):
    t = np.array([0.01, 0.02, np.inf])
    tm = np.where(t >= WINDOW, WINDOW, t)
    tau = 0.01
    np.testing.assert_allclose(late(jnp.asarray(t), tau=tau, window=WINDOW), np.sum(np.expm1(tm / tau)), rtol=1e-13)
    np.testing.assert_allclose(late(jnp.asarray(t), 1, tau=tau, window=WINDOW), np.expm1(2.0), rtol=1e-13)
    g = d_late(jnp.asarray(t), tau=tau, window=WINDOW)
    np.testing.assert_allclose(g, [np.exp(1.0) / tau, np.exp(2.0) / tau, 0.0], rtol=1e-12)  # later: pulled harder
    g = d_late(jnp.asarray(t), 1, tau=tau, window=WINDOW)
    np.testing.assert_allclose(g, central_grad(lambda x: np.expm1(min(x[1], WINDOW) / tau), tm), rtol=1e-7)
    with pytest.raises(ValueError, match=r"window / tau must be finite and in \(-inf, 80\]; got window / tau = 500"):
        L.late_spike_penalty(jnp.asarray(t), tau=1e-4, window=WINDOW)
    with pytest.raises(RUNTIME_ERRORS, match=r"window / tau must be finite and in \(-inf, 80\]"):
        jax.jit(lambda s: L.late_spike_penalty(jnp.asarray(t), tau=s, window=WINDOW))(1e-4).block_until_ready()


def test_silent_neuron_penalty(x64):
    v_peak = np.array([0.7, 1.0, 0.95, 0.2])
    t = np.array([np.inf, 0.02, 0.06, 0.01])  # neurons 0 and 2 silent in the window
    got = silent_pen(jnp.asarray(v_peak), jnp.asarray(t), threshold=1.0, window=WINDOW)
    np.testing.assert_allclose(got, 0.5 * (0.3**2 + 0.05**2), rtol=1e-13)
    g = d_silent_pen(jnp.asarray(v_peak), jnp.asarray(t), threshold=1.0, window=WINDOW)
    np.testing.assert_allclose(g, [-0.3, 0.0, -0.05, 0.0], rtol=1e-12)  # pushes the silent neurons' peaks up
    only = silent_pen(jnp.asarray(v_peak), jnp.asarray(t), 2, threshold=1.0, window=WINDOW)
    np.testing.assert_allclose(only, 0.5 * 0.05**2, rtol=1e-12)
    train = SpikeTrain.from_times(np.array([[np.inf], [0.02], [0.06], [0.01]]))
    np.testing.assert_allclose(silent_pen(jnp.asarray(v_peak), train, threshold=1.0, window=WINDOW), got, rtol=1e-14)


@pytest.mark.jaxtyping_off  # v_peak of 3 neurons and spikes of 4 (both annotated " n"), on purpose
def test_silent_neuron_penalty_shape_mismatch():
    t = np.array([np.inf, 0.02, 0.06, 0.01])
    with pytest.raises(ValueError, match=r"v_peak must have one value per output neuron.*v_peak.shape = \(3,\)"):
        L.silent_neuron_penalty(jnp.zeros(3), jnp.asarray(t), threshold=1.0, window=WINDOW)


# ---------------------------------------------------------------- transformations
def _cases():
    t = jnp.array([0.012, 0.003, jnp.inf, 0.03])
    c = jnp.array([3.0, 1.0, 0.0, 7.0])
    v = jnp.asarray(RNG.normal(size=(6, 4)))
    return [
        ("first_spike_cross_entropy", lambda x: L.first_spike_cross_entropy(x, 1, tau=TAU, window=WINDOW), t),
        (
            "first_spike_cross_entropy_on_silent_error",  # through the run-time check (eqx.error_if)
            lambda x: L.first_spike_cross_entropy(x, 1, tau=TAU, window=WINDOW, on_silent="error"),
            t,
        ),
        ("check_spikes", lambda x: jnp.sum(L.check_spikes(x, WINDOW, require="all") ** 2), t.at[2].set(0.04)),
        ("spike_count_cross_entropy", lambda x: L.spike_count_cross_entropy(x, 3, scale=0.5), c),
        ("spike_count_mse", lambda x: L.spike_count_mse(x, jnp.array([4.0, 1.0, 0.0, 2.0])), c),
        ("max_over_time_cross_entropy", lambda x: L.max_over_time_cross_entropy(x, 0), v),
        (
            "leaky_readout",
            lambda x: jnp.sum(L.leaky_readout(x, dt=1e-3, tau=0.01) ** 2),
            v,
        ),
        ("firing_rate_penalty", lambda x: L.firing_rate_penalty(x, lower=2.0, upper=5.0), c),
        ("late_spike_penalty", lambda x: L.late_spike_penalty(x, tau=0.01, window=WINDOW), t),
        (
            "silent_neuron_penalty",
            lambda x: L.silent_neuron_penalty(x, t, threshold=1.0, window=WINDOW),
            jnp.array([0.2, 0.5, 0.9, 1.0]),
        ),
        ("first_spike_times", lambda x: jnp.sum(L.first_spike_times(x[:, None], WINDOW) ** 2), t),
    ]


# three representatives in the default run (a time loss, a count loss, a trace readout); the rest with -m slow
_FAST_CASES = ("first_spike_cross_entropy_on_silent_error", "spike_count_cross_entropy", "max_over_time_cross_entropy")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(i, id=name, marks=() if name in _FAST_CASES else pytest.mark.slow)
        for i, (name, *_) in enumerate(_cases())
    ],
)
def test_jit_vmap_grad_jvp(case):
    _, f, x = _cases()[case]
    value = f(x)  # eager
    assert value.shape == () and np.isfinite(value)
    xs = jnp.stack([x, x * 0.9, x * 1.1])
    d = jnp.asarray(RNG.normal(size=x.shape), x.dtype)
    d = jnp.where(jnp.isfinite(x), d, 0.0)  # no tangent on a missing spike's inf

    traces = []

    @jax.jit
    def all_four(x, xs, d):
        traces.append(None)
        return f(x), jax.vmap(f)(xs), jax.grad(f)(x), jax.jvp(f, (x,), (d,))

    jitted, batched, g, (primal, tangent) = all_four(x, xs, d)
    np.testing.assert_allclose(jitted, value, rtol=1e-6)
    # vmap over a batch equals a loop; jvp along d equals grad . d; grad is finite
    np.testing.assert_allclose(batched, [all_four(xi, xs, d)[0] for xi in xs], rtol=1e-6)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(primal, value, rtol=1e-6)
    np.testing.assert_allclose(tangent, jnp.sum(jnp.where(jnp.isfinite(x), g * d, 0.0)), rtol=1e-5, atol=1e-6)
    # new values of the same shapes do not retrace (so do not recompile).  Counted by tracing, not
    # by ``_cache_size()``: that reads JAX's C++ fast-path cache, a process-wide LRU of 8,192
    # functions, which reads 0 for a new function once a long single-process run has filled it.
    all_four(x * 1.01, xs * 1.01, -d)
    assert len(traces) == 1


# ---------------------------------------------------------------- annotations
def _matches(value, hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    try:
        return isinstance(value, hint)
    except TypeError:  # Literal[...]
        return value in typing.get_args(hint)


def test_public_signatures_match_annotations():
    t, c = jnp.array([0.01, 0.02, jnp.inf]), jnp.array([2.0, 0.0, 1.0])
    train = SpikeTrain.from_times(np.array([[0.01, 0.03], [np.inf, np.inf], [0.02, np.inf]]))
    label = jnp.asarray(1)
    calls = [
        (L.first_spike_times, (train, WINDOW), {}),
        (L.first_spike_times, (jnp.ones((2, 3, 4)), WINDOW), {}),
        (L.check_spikes, (t, WINDOW), {}),
        (L.first_spike_cross_entropy, (train, label), {"tau": TAU, "window": WINDOW}),
        (L.late_spike_penalty, (t, label), {"tau": 0.01, "window": WINDOW}),
        (L.silent_neuron_penalty, (c, t, label), {"threshold": 1.0, "window": WINDOW}),
        (L.spike_count_cross_entropy, (c, label), {}),
        (L.spike_count_mse, (c, c), {}),
        (L.leaky_readout, (jnp.ones((5, 3)),), {"dt": 1e-3, "tau": 0.01}),
        (L.max_over_time_cross_entropy, (jnp.ones((5, 3)), label), {}),
        (L.firing_rate_penalty, (c,), {"lower": 1.0}),
    ]
    for fn, args, kwargs in calls:
        hints = typing.get_type_hints(fn, include_extras=True)
        bound = inspect.signature(fn).bind(*args, **kwargs)
        # the result's shape and dtype by tracing alone (no compile); the inputs stay concrete
        shape = jax.eval_shape(lambda fn=fn, args=args, kwargs=kwargs: fn(*args, **kwargs))
        out = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shape)

        @jaxtyped(typechecker=None)
        def run(fn=fn, hints=hints, bound=bound, out=out):
            for name, value in bound.arguments.items():
                assert _matches(value, hints[name]), f"{fn.__name__}({name}): {hints[name]}"
            assert _matches(out, hints["return"]), f"{fn.__name__} -> {hints['return']}"

        run()


# ---------------------------------------------------------------- on a simulated network
@pytest.mark.slow  # reverse mode through a 600-step exact LIF network and eight more runs (~15 s)
def test_first_spike_loss_on_an_exact_lif_network(x64):
    """Two input neurons drive two output neurons; the first-spike loss of the outputs has the
    weight gradient of float64 central differences (no spike appears or vanishes at this step)."""
    bias = jnp.array([1.5, 1.3, 0.95, 0.95])

    def loss(w):
        net = jaxneuro.LIFNetwork.from_weights(w, jaxneuro.LIF(tau_m=0.02, tau_ref=0.002), tau_s=0.005, bias=bias)
        res = jaxneuro.simulate_network(net, 0.06, dt=1e-4, max_spikes=10, differentiable=True, max_spikes_per_step=3)
        out = SpikeTrain(res.spikes.times[2:], res.spikes.count[2:])
        return L.first_spike_cross_entropy(out, 1, tau=0.005, window=0.06, on_silent="error")

    w = jnp.zeros((4, 4)).at[2, 0].set(0.004).at[3, 1].set(0.003).at[2, 1].set(0.001).at[3, 0].set(0.002)
    f, g = jax.jit(loss), jax.jit(jax.grad(loss))(w)
    assert np.all(np.isfinite(g))
    eps = 1e-7
    for i, j in [(2, 0), (3, 1), (2, 1), (3, 0)]:
        fd = (f(w.at[i, j].add(eps)) - f(w.at[i, j].add(-eps))) / (2 * eps)
        np.testing.assert_allclose(g[i, j], fd, rtol=1e-6)
        assert abs(float(g[i, j])) > 1.0

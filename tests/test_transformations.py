"""Every public simulator on its default path (and diffrax) under jit, vmap, grad and jvp: the
table of the README.  Derivatives of differentiable outputs (spike times, ISI rates) against
float64 central differences of the same function; a second call does not retrace."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_solvers import AdaptiveLIF

import jaxneuro as jn

NO_TS = np.zeros(0)


def _third_spike(neuron, drive, t1, **kw):
    return jn.simulate(neuron, drive, 0.0, t1, ts=NO_TS, max_spikes=16, **kw).spikes.times[2]


# Each case: a scalar function of one parameter x, the point, and a forward-mode variant
# (None: the same function) for paths where JAX differentiates a loop in one mode only.
CASES = {
    "simulate LIF exact": (lambda x: _third_spike(jn.LIF(), x, 0.1), 1.7, None),
    "simulate LIF stepped": (lambda x: _third_spike(jn.LIF(), x, 0.1, method="stepped"), 1.7, None),
    "simulate HH stepped": (lambda x: _third_spike(jn.HodgkinHuxley(), x, 60.0), 10.0, None),
    "simulate user RK4": (lambda x: _third_spike(AdaptiveLIF(), x, 60.0), 2.0, None),
    "simulate LIF diffrax": (lambda x: _third_spike(jn.LIF(), x, 0.1, method="diffrax"), 1.7, None),
    "tuning_curve LIF exact": (lambda x: jn.tuning_curve(jn.LIF(tau_m=x), jnp.array([2.0]))[0], 0.02, None),
    "tuning_curve HH stepped": (
        lambda x: jn.tuning_curve(jn.HodgkinHuxley(), jnp.array([x]), duration=100.0, transient=20.0)[0],
        10.0,
        None,
    ),
    "tuning_curve user RK4": (
        lambda x: jn.tuning_curve(AdaptiveLIF(d=x), jnp.array([2.0]), duration=200.0, transient=50.0)[0],
        0.2,
        None,
    ),
    "tuning_curve LIF diffrax": (
        lambda x: jn.tuning_curve(jn.LIF(tau_m=x), jnp.array([2.0]), duration=0.2, method="diffrax")[0],
        0.02,
        None,
    ),
    "spike_statistics LIF stepped": (
        lambda x: jn.spike_statistics(jn.LIF(), x, 0.0, 0.3, transient=0.05).rate,
        2.0,
        None,
    ),
    "spike_statistics HH stepped": (
        lambda x: jn.spike_statistics(jn.HodgkinHuxley(), x, 0.0, 100.0, transient=20.0).rate,
        10.0,
        None,
    ),
    "spike_statistics user RK4": (
        lambda x: jn.spike_statistics(AdaptiveLIF(), x, 0.0, 200.0, transient=50.0).rate,
        2.0,
        None,
    ),
}


# The diffrax cells compile diffrax's adaptive loop and event root finder under jit, vmap, grad and
# jvp (7-14 s each on one core): they run with -m slow; diffrax derivatives stay in the default
# run through tests/test_simulate.py::test_gradient_of_spike_time_through_diffrax.
NAMES = [pytest.param(n, marks=pytest.mark.slow) if "diffrax" in n else n for n in CASES]
# The derivatives of the HH and user-neuron rates (tuning_curve, spike_statistics: 100-200 ms runs
# under grad, jvp and two more calls, 5-7 s each on one core) also run with -m slow; the simulate
# cells of both neurons stay in the default run, and so do all their jit and vmap cells.
SLOW_GRADS = {f"{fn} {neuron}" for fn in ("tuning_curve", "spike_statistics") for neuron in ("HH stepped", "user RK4")}
GRAD_NAMES = [pytest.param(n, marks=pytest.mark.slow) if "diffrax" in n or n in SLOW_GRADS else n for n in CASES]


@pytest.mark.parametrize("name", GRAD_NAMES)
def test_grad_and_jvp_match_central_differences(name, x64):
    f, x, forward = CASES[name]
    forward = forward or f
    h = 1e-6 * abs(x)
    fd = (float(f(x + h)) - float(f(x - h))) / (2 * h)
    g = float(jax.grad(f)(x))
    _, t = jax.jvp(forward, (x,), (1.0,))
    # float64 central differences: truncation O(h^2), rounding ~1e-16 |f| / h.
    assert np.isfinite(g) and g == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert float(t) == pytest.approx(fd, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_jit_and_vmap_without_retrace(name):
    f, x, _ = CASES[name]
    traces = []

    def counted(xs):
        traces.append(1)
        return jax.vmap(f)(xs)

    batched = jax.jit(counted)
    xs = x * jnp.array([1.0, 1.05])
    a = batched(xs)
    b = batched(x * jnp.array([1.02, 1.08]))
    assert len(traces) == 1
    np.testing.assert_allclose(np.asarray(a), [float(f(v)) for v in xs], rtol=1e-5)
    assert np.all(np.isfinite(np.asarray(b)))

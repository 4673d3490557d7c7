"""Every public simulator on its default path (and diffrax) under jit, vmap, grad and jvp: the
table of the README.  Derivatives of differentiable outputs (spike times, ISI rates) against
float64 central differences of the same function; vmap against a loop over the batch; a second
call does not retrace.  Where a simulator cannot take a transformation (EventProp's jvp, the
host loop of chunked_tuning_curve), the test checks what the README's cell offers instead."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_solvers import AdaptiveLIF

import jaxneuro as jn

NO_TS = np.zeros(0)


def _third_spike(neuron, drive, t1, **kw):
    return jn.simulate(neuron, drive, 0.0, t1, ts=NO_TS, max_spikes=16, **kw).spikes.times[2]


# ---- the network simulators, simulate_layers and tuning_grid, each as a scalar function of x

_CELL = jn.IntegrateAndFire(tau_m=20.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)  # mV, ms


def _network_train(drive):
    """Spike times (ms) of an integrate-and-fire neuron driven by ``drive`` (mV) and by a
    regularly firing source through an exponential current synapse, 100 ms: a clock-driven
    ``Network`` (each spike placed inside its step)."""
    src = jn.Population(1, _CELL, "src", drive=5.0, v0=-60.0)
    dst = jn.Population(1, _CELL, "dst", drive=drive, v0=-60.0)
    syn = jn.Projection("src", "dst", jn.ExponentialCurrent(5.0), jn.AllToAll(), weight=2.0)
    run = jn.simulate_network(jn.Network([src, dst], [syn]), 100.0, dt=0.1, max_spikes=8)
    return run.train("dst").times[0]


def _network_spike(drive):
    return _network_train(drive)[2]


def _lif_network(w):
    """Two LIF neurons, 0 -> 1 with weight ``w``, both firing (bias 1.4 and 1.2), 0.1 s."""
    W = jnp.zeros((2, 2)).at[1, 0].set(w)
    return jn.LIFNetwork.from_weights(W, jn.LIF(tau_m=0.02, tau_ref=0.002), tau_s=0.005, bias=jnp.array([1.4, 1.2]))


def _lif_network_train(w, differentiable=False):
    """Spike times (s) of the receiving neuron of ``_lif_network(w)``: ``simulate_network``
    (exact spike times); reverse mode needs its loops of static length (``differentiable``)."""
    res = jn.simulate_network(
        _lif_network(w), 0.1, dt=1e-4, max_spikes=16, max_spikes_per_step=2, differentiable=differentiable
    )
    return res.spikes.times[1]


def _lif_network_spike(w, differentiable=False):
    return _lif_network_train(w, differentiable)[2]


def _lif_events_spike(w):
    """The same spike time through the event-driven EventProp simulator."""
    return jn.simulate_lif_events(_lif_network(w), 0.1, max_spikes=64).spikes.times[1, 2]


# numpy float64: float32 arrays of a module's import would keep an x64 test in float32
_RASTER = np.zeros((300, 2))  # 30 ms in steps of 0.1 ms
_RASTER[[20, 90], 0] = _RASTER[50, 1] = 1.0
_W1 = np.array([[0.02, 0.015], [0.01, 0.03]])


def _layer_first_spike(x):
    """First-spike time (s) of a LIF in a layer fed by input spikes (weights ``x W1``, bias
    1.05): its crossing placed inside its step, differentiated exactly (no surrogate acts
    before a neuron's first spike in the first layer)."""
    run = jn.simulate_layers([x * _W1], _RASTER, dt=1e-4, tau_s=0.005, bias=[jnp.full(2, 1.05)])
    return run.first_spike[0][0]


def _grid_rates(x):
    """Sum of the LIF rates (Hz) over a 2 x 2 grid of inputs and tau_m, every tau_m scaled by x."""
    grid = jn.parameter_grid(jn.LIF(), [1.5, 3.0], tau_m=[0.01, 0.02])  # in the dtype of the test
    grid = eqx.tree_at(lambda g: g.neuron.tau_m, grid, grid.neuron.tau_m * x)
    return jnp.sum(jn.tuning_grid(grid))


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
    # The default loops: grad by forward sensitivities (simulate_network wraps its run; reverse
    # mode cannot run the loop over each step's spikes), jvp through the loops themselves.
    "simulate_network Network": (_network_spike, 3.0, None),
    "simulate_network LIFNetwork": (_lif_network_spike, 0.004, None),
    # reverse mode through the LIFNetwork's loops of static length (differentiable=True)
    "simulate_network LIFNetwork static loops": (lambda x: _lif_network_spike(x, True), 0.004, _lif_network_spike),
    # EventProp: reverse mode only (a custom_vjp); its jvp cell is simulate_network's
    "simulate_lif_events": (_lif_events_spike, 0.004, "no jvp"),
    "simulate_layers": (_layer_first_spike, 1.0, None),
    "tuning_grid": (_grid_rates, 1.0, None),
}


# The diffrax cells compile diffrax's adaptive loop and event root finder under jit, vmap, grad and
# jvp (7-14 s each on one core): they run with -m slow; diffrax derivatives stay in the default
# run through tests/test_simulate.py::test_gradient_of_spike_time_through_diffrax.
NAMES = [pytest.param(n, marks=pytest.mark.slow) if "diffrax" in n else n for n in CASES]
# The derivatives of the HH and user-neuron rates (tuning_curve, spike_statistics: 100-200 ms runs
# under grad, jvp and two more calls, 5-7 s each on one core) also run with -m slow; the simulate
# cells of both neurons stay in the default run, and so do all their jit and vmap cells.
SLOW_GRADS = {f"{fn} {neuron}" for fn in ("tuning_curve", "spike_statistics") for neuron in ("HH stepped", "user RK4")}
# The LIFNetwork's and EventProp's grad cells compile a network loop three times (11-30 s on one
# loaded core): with -m slow.  In the default run: the Network's grad on its default loops, jvp
# of both network simulators (test_network_spike_times_under_jvp),
# EventProp's gradient against central differences (tests/test_eventprop.py), and the jit and
# vmap cells of all of them.
SLOW_GRADS |= {"simulate_network LIFNetwork", "simulate_network LIFNetwork static loops", "simulate_lif_events"}
GRAD_NAMES = [pytest.param(n, marks=pytest.mark.slow) if "diffrax" in n or n in SLOW_GRADS else n for n in CASES]


@pytest.mark.parametrize("name", GRAD_NAMES)
def test_grad_and_jvp_match_central_differences(name, x64):
    f, x, forward = CASES[name]
    forward = forward or f
    h = 1e-6 * abs(x)
    fd = (float(f(x + h)) - float(f(x - h))) / (2 * h)
    g = float(jax.grad(f)(x))
    # float64 central differences: truncation O(h^2), rounding ~1e-16 |f| / h.
    assert np.isfinite(g) and g == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert fd != 0.0  # a derivative, not a constant
    if forward != "no jvp":
        _, t = jax.jvp(forward, (x,), (1.0,))
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
    single = jax.jit(f)  # one compile for the loop over the batch
    np.testing.assert_allclose(np.asarray(a), [float(single(v)) for v in xs], rtol=1e-5)
    assert np.all(np.isfinite(np.asarray(b)))


@pytest.mark.parametrize(
    "train, x", [(_network_train, 3.0), (_lif_network_train, 0.004)], ids=["Network", "LIFNetwork"]
)
def test_network_spike_times_under_jvp(x64, train, x):
    """Forward mode through the default loops of both network simulators keeps every spike
    (the clock-driven network's spike buffer once lost all but the last under jax.jvp: its
    counts, stored as a float's bits, read back as 0), and the tangent of each spike time is
    its central difference."""
    step = jax.jit(lambda x: jax.jvp(train, (x,), (jnp.ones_like(x),)))
    times, tangents = step(x)
    plain = np.asarray(jax.jit(train)(x))
    np.testing.assert_array_equal(np.asarray(times), plain)
    fired = np.isfinite(plain)
    assert fired.sum() >= 3
    h = 1e-6 * x
    fd = (np.asarray(step(x + h)[0])[fired] - np.asarray(step(x - h)[0])[fired]) / (2 * h)
    np.testing.assert_allclose(np.asarray(tangents)[fired], fd, rtol=1e-5, atol=1e-9)
    assert np.all(fd != 0.0)


def test_chunked_tuning_curve_compiles_once_and_refuses_tracers(tmp_path):
    """``chunked_tuning_curve`` runs on the host (it writes a file): each chunk is one call of
    the compiled ``tuning_curve``, traced once for every chunk and not again for a new sweep
    of the same size; under jit, vmap, grad or jvp it is an error naming the traced argument."""
    compiled = []

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(kwargs.get("fun_name"))

    def sweep(v_in, name):
        return jn.chunked_tuning_curve(jn.LIF(), v_in, tmp_path / name, chunk_size=10, progress=False)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        sweep(np.linspace(1.5, 3.0, 25), "a.npy")  # three chunks, the last one padded
        first = [n for n in compiled if "convert_element_type" not in n]  # the inputs' conversions aside
        compiled.clear()
        v_in = np.linspace(2.0, 4.0, 25)
        rates = sweep(v_in, "b.npy")
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert len(first) <= 1 and compiled == []  # (none when an earlier test compiled the same call)
    np.testing.assert_allclose(rates, jn.lif_rate(v_in), rtol=1e-3)
    for transform, arg in ((jax.jit, jnp.array([2.0, 3.0])), (jax.vmap, jnp.array([[2.0], [3.0]]))):
        with pytest.raises(ValueError, match="inputs must be concrete: a chunked sweep runs on the host"):
            transform(lambda x: sweep(x, "c.npy"))(arg)
    total = lambda tau: jnp.sum(jn.chunked_tuning_curve(jn.LIF(tau_m=tau), v_in, tmp_path / "d.npy"))  # noqa: E731
    with pytest.raises(ValueError, match="neuron must be concrete"):
        jax.grad(total)(0.02)
    with pytest.raises(ValueError, match="neuron must be concrete"):
        jax.jvp(total, (0.02,), (1.0,))


def test_network_grad_with_the_network_traced_by_jit(x64):
    """Under ``eqx.filter_jit`` every array of the network is traced, but only the perturbed
    scalars count as forward-sensitivity directions: ``jax.grad`` of a spike time with respect
    to one neuron parameter runs one forward-mode pass, not reverse mode through the loop over
    each step's spikes (JAX's "Reverse-mode differentiation does not work for lax.while_loop"
    before), and equals the central difference."""
    src = jn.Population(30, _CELL, "src", drive=5.0, v0=-60.0)
    dst = jn.Population(20, _CELL, "dst", drive=3.0, v0=-60.0)
    syn = jn.Projection("src", "dst", jn.ExponentialCurrent(5.0), jn.FixedProbability(0.3), weight=2.0)
    net = jn.Network([src, dst], [syn], seed=0)

    @eqx.filter_jit
    def value_and_grad(net, tau):
        def spike(tau):
            tuned = eqx.tree_at(lambda n: n.populations[1].neuron.tau_m, net, tau)
            return jn.simulate_network(tuned, 100.0, dt=0.1, max_spikes=8).train("dst").times[0][2]

        return jax.value_and_grad(spike)(tau)

    t, g = value_and_grad(net, 20.0)
    h = 1e-5  # float64 central difference: truncation h^2, rounding 1e-16 t / h ~ 1e-9
    fd = (float(value_and_grad(net, 20.0 + h)[0]) - float(value_and_grad(net, 20.0 - h)[0])) / (2 * h)
    assert np.isfinite(float(t)) and fd != 0.0
    assert float(g) == pytest.approx(fd, rel=1e-5)

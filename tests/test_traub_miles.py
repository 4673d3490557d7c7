"""The Traub-Miles neuron (COBAHH's cell) against its equations, Brian2's exponential Euler
step written out in numpy, an independent scipy integration, and the network step's rules.

References (all float64, written here from the equations of Brette et al. 2007 benchmark 3 as
Brian2's ``examples/COBAHH.py`` states them, none calling the library):

* the rate functions and the vector field, with ``exprel(x) = (e^x - 1) / x`` as in Brian2;
* Brian2's ``exponential_euler``: each variable obeys ``dx/dt = A x + B`` with ``A``, ``B`` from
  the state at the start of the step, and becomes ``-B/A + (x + B/A) e^(A dt)``;
* scipy's DOP853 with the spikes located as upward crossings of -20 mV;
* the network step of ``jaxneuro._network._simulate`` (its module docstring): a conductance
  synapse adds its weight at the end of the step a spike arrives in, and the membrane sees the
  conductance's mean over the step.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import jaxneuro as jn

# Brian2's COBAHH parameters per unit area (its 20,000 um^2 patch), mV, ms, mS/cm^2, uF/cm^2.
P = dict(C=1.0, g_L=0.05, g_Na=100.0, g_K=30.0, E_L=-60.0, E_Na=50.0, E_K=-90.0, V_T=-63.0)


def _exprel_b2(x: float) -> float:
    """Brian2's ``exprel``: (e^x - 1) / x, 1 at 0."""
    return 1.0 if x == 0.0 else math.expm1(x) / x


def rates_ref(V: float, p=P) -> tuple[float, ...]:
    """The six rates (1/ms) exactly as Brian2's example writes them."""
    VT = p["V_T"]
    return (
        0.32 * 4.0 / _exprel_b2((13.0 - V + VT) / 4.0),
        0.28 * 5.0 / _exprel_b2((V - VT - 40.0) / 5.0),
        0.128 * math.exp((17.0 - V + VT) / 18.0),
        4.0 / (1.0 + math.exp((40.0 - V + VT) / 5.0)),
        0.032 * 5.0 / _exprel_b2((15.0 - V + VT) / 5.0),
        0.5 * math.exp((10.0 - V + VT) / 40.0),
    )


def rhs_ref(y, I: float, p=P, g_e: float = 0.0, E_e: float = 0.0):
    """dy/dt for y = (V, n, m, h) under the current I + g_e (E_e - V)."""
    V, n, m, h = y
    am, bm, ah, bh, an, bn = rates_ref(V, p)
    I_ion = p["g_L"] * (V - p["E_L"]) + p["g_Na"] * m**3 * h * (V - p["E_Na"]) + p["g_K"] * n**4 * (V - p["E_K"])
    return [
        (I + g_e * (E_e - V) - I_ion) / p["C"],
        an * (1.0 - n) - bn * n,
        am * (1.0 - m) - bm * m,
        ah * (1.0 - h) - bh * h,
    ]


def exp_euler_ref(y, I: float, dt: float, p=P, g_e: float = 0.0, E_e: float = 0.0):
    """Brian2's ``exponential_euler`` step: x' = A x + B per variable, A and B from ``y``."""
    V, n, m, h = y
    am, bm, ah, bh, an, bn = rates_ref(V, p)
    G = p["g_L"] + p["g_Na"] * m**3 * h + p["g_K"] * n**4 + g_e  # -A C for V
    B_v = I + p["g_L"] * p["E_L"] + p["g_Na"] * m**3 * h * p["E_Na"] + p["g_K"] * n**4 * p["E_K"] + g_e * E_e

    def relax(x, A, B):
        return -B / A + (x + B / A) * math.exp(A * dt)

    return [
        relax(V, -G / p["C"], B_v / p["C"]),
        relax(n, -(an + bn), an),
        relax(m, -(am + bm), am),
        relax(h, -(ah + bh), ah),
    ]


def upward_crossings(ts: np.ndarray, v: np.ndarray, level: float = -20.0) -> np.ndarray:
    """Times of upward crossings of ``level`` in a sampled trace (linear interpolation)."""
    k = np.nonzero((v[:-1] < level) & (v[1:] >= level))[0]
    return ts[k] + (level - v[k]) / (v[k + 1] - v[k]) * (ts[k + 1] - ts[k])


def state(y) -> jn.HHState:
    return jn.HHState(*(jnp.asarray(x) for x in (y[0], y[1], y[2], y[3])))


def test_rates_and_vector_field_match_the_equations(x64):
    rng = np.random.default_rng(0)
    neuron = jn.TraubMiles()
    # include the removable singularities of alpha_m (u = 13), beta_m (u = 40), alpha_n (u = 15)
    volts = np.concatenate([rng.uniform(-100.0, 50.0, 40), P["V_T"] + np.array([13.0, 40.0, 15.0])])
    for V in volts:
        got = [float(r) for r in neuron.rates(jnp.asarray(V))]
        want = rates_ref(float(V))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    for _ in range(20):
        y = [rng.uniform(-90.0, 40.0), *rng.uniform(0.0, 1.0, 3)]
        I = rng.uniform(-5.0, 20.0)
        got = neuron.vector_field(0.0, state(y), I)
        np.testing.assert_allclose([float(got.v), float(got.n), float(got.m), float(got.h)], rhs_ref(y, I), rtol=1e-12)


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("dtype, rtol", [(jnp.float64, 1e-12), (jnp.float32, 3e-6)])
def test_rates_on_a_dense_grid_through_the_singularities(x64, dtype, rtol, stacked):
    # TraubMiles.rates shares four exponentials among the six rates and takes exprel from a
    # given exponential (a series near 0): against Brian2's formulas at the same (rounded)
    # voltages, densely through u = 13, 40 and 15 mV, where exprel switches to its series.
    VT = P["V_T"]
    volts = np.concatenate(
        [np.linspace(-150.0, 100.0, 5001), *(VT + c + np.linspace(-10.0, 10.0, 2001) for c in (13.0, 40.0, 15.0))]
    )
    V = jnp.asarray(volts, dtype)
    got = np.stack([np.asarray(r, np.float64) for r in jn.TraubMiles().rates(V, stacked=stacked)])
    want = np.array([rates_ref(float(v)) for v in np.asarray(V, np.float64)]).T
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    # first derivatives against float64 central differences of the formulas, at the singularities
    for c in (13.0, 40.0, 15.0):
        v0, h = VT + c, 1e-4
        jac = jax.jacfwd(lambda v: jnp.stack(jn.TraubMiles().rates(v, stacked=stacked)))(jnp.asarray(v0, dtype))
        fd = (np.array(rates_ref(v0 + h)) - np.array(rates_ref(v0 - h))) / (2 * h)
        np.testing.assert_allclose(np.asarray(jac, np.float64), fd, rtol=1e-6 if dtype == jnp.float64 else 2e-3)


def test_linearised_is_the_jacobian_diagonal(x64):
    # The closed-form (f, a) of TraubMiles.linearised against forward-mode products of its
    # vector field (the default of AbstractNeuron.linearised), alone and under a conductance
    # input a - g v (the network's SynapticInput, whose v-diagonal gains -g / C).
    from jaxneuro._neurons._base import diagonal_jacobian
    from jaxneuro._solvers._fixed_step import SynapticInput

    rng = np.random.default_rng(3)
    neuron = jn.TraubMiles(C=rng.uniform(0.5, 2.0, 50), g_K=rng.uniform(10.0, 50.0, 50))
    y = state([rng.uniform(-90.0, 40.0, 50), *rng.uniform(0.0, 1.0, (3, 50))])
    drive, g = jnp.asarray(rng.uniform(-5.0, 20.0, 50)), jnp.asarray(rng.uniform(0.0, 2.0, 50))
    for model, args in ((neuron, drive), (SynapticInput(neuron, drive, g), None)):
        got = model.linearised(0.0, y, args)
        want = diagonal_jacobian(lambda z, m=model, a=args: m.vector_field(0.0, z, a), y)
        for gl, wl in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(np.asarray(gl), np.asarray(wl), rtol=1e-12, atol=1e-12)
    a_v = SynapticInput(neuron, drive, g).linearised(0.0, y, None)[1].v
    np.testing.assert_allclose(np.asarray(a_v - neuron.linearised(0.0, y, drive)[1].v), -np.asarray(g / neuron.C))


def test_initial_state_is_the_resting_steady_state(x64):
    neuron = jn.TraubMiles()
    y = neuron.initial_state()
    assert float(y.v) == P["E_L"]
    f = neuron.vector_field(0.0, y, 0.0)
    # the gates are at their steady state; V is at E_L, where only the Na and K currents
    # (small at rest) move it
    np.testing.assert_allclose([float(f.n), float(f.m), float(f.h)], 0.0, atol=1e-15)
    am, bm, ah, bh, an, bn = rates_ref(P["E_L"])
    np.testing.assert_allclose([float(y.n), float(y.m), float(y.h)], [an / (an + bn), am / (am + bm), ah / (ah + bh)])


def test_exponential_euler_is_brian2s_step(x64):
    """``ExponentialEuler`` on TraubMiles takes Brian2's ``exponential_euler`` step: over 100 ms of
    regular firing (several spikes) the traces agree to rounding."""
    dt, T, I = 0.1, 100.0, 1.0
    sim = jn.simulate(jn.TraubMiles(), I, 0.0, T, solver=jn.ExponentialEuler(dt=dt))
    y0 = jn.TraubMiles().initial_state()
    y = [float(y0.v), float(y0.n), float(y0.m), float(y0.h)]
    ref = [y[0]]
    for _ in range(int(round(T / dt))):
        y = exp_euler_ref(y, I, dt)
        ref.append(y[0])
    ref = np.asarray(ref)
    got = np.asarray(sim.ys.v)
    assert got.shape == ref.shape
    assert np.sum((ref[:-1] < -20.0) & (ref[1:] >= -20.0)) >= 3  # it fires
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


@pytest.mark.slow  # a tight-tolerance diffrax solve: compile and 60 ms of HH at rtol 1e-10
def test_spike_times_match_scipy(x64):
    """Diffrax at tight tolerances against scipy's DOP853 (rtol 1e-11): the upward crossings of
    -20 mV under a constant current agree to 1e-5 ms (both integrators' tolerances on a time
    scale of about 0.1 ms, where V rises at up to ~300 mV/ms)."""
    I, T = 2.0, 60.0
    neuron = jn.TraubMiles()
    y0 = neuron.initial_state()
    y0_list = [float(y0.v), float(y0.n), float(y0.m), float(y0.h)]

    def hit(t, y):
        return y[0] + 20.0

    hit.direction = 1.0
    sol = solve_ivp(lambda t, y: rhs_ref(y, I), (0.0, T), y0_list, method="DOP853", rtol=1e-11, atol=1e-11, events=hit)
    want = sol.t_events[0]
    sim = jn.simulate(neuron, I, 0.0, T, method="diffrax", rtol=1e-10, atol=1e-10)
    got = np.asarray(sim.spikes.times[: int(sim.spikes.count)])
    assert len(want) >= 3 and len(got) == len(want), (got, want)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_network_conductance_step_matches_its_documented_rules(x64):
    """One TraubMiles neuron driven by given spikes through an excitatory and an inhibitory
    conductance synapse, against the network step written out here: arrivals at the end of the
    step a spike falls in (``g += w``), the membrane under the conductance's mean over the step
    (``g tau/dt (1 - e^(-dt/tau))`` for a conductance ``g`` at the step's start), exponential Euler
    with that conductance in the leak, exact decay of ``g``.  Over 300 ms with several output
    spikes the traces agree to rounding."""
    dt, T = 0.1, 300.0
    n_steps = int(round(T / dt))
    rng = np.random.default_rng(1)
    # 100 excitatory and 5 inhibitory sources at ~40 Hz, spike times on the step grid
    exc = [np.unique(rng.choice(n_steps - 5, rng.poisson(12), replace=False)) + 1 for _ in range(100)]
    inh = [np.unique(rng.choice(n_steps - 5, rng.poisson(12), replace=False)) + 1 for _ in range(5)]

    def train(steps):
        cap = max(len(s) for s in steps)
        times = np.full((len(steps), cap), np.inf)
        for i, s in enumerate(steps):
            times[i, : len(s)] = s * dt
        return jn.SpikeTrain(times=jnp.asarray(times), count=jnp.asarray([len(s) for s in steps]))

    w_e, w_i, tau_e, tau_i, E_e, E_i = 0.03, 0.335, 5.0, 10.0, 0.0, -80.0
    g_e0, g_i0, v0 = 0.2, 1.0, -65.0
    cell = jn.TraubMiles()

    def y0(key, size):
        z = jnp.zeros((size,))
        return jn.HHState(v=jnp.full((size,), v0), n=z, m=z, h=z)

    one = jn.FixedProbability(1.0)
    net = jn.Network(
        [jn.SpikeSource(train(exc), "e"), jn.SpikeSource(train(inh), "i"), jn.Population(1, cell, "p", y0=y0)],
        [
            jn.Projection("e", "p", jn.ExponentialConductance(tau_e, E_e), one, weight=w_e, s0=g_e0),
            jn.Projection("i", "p", jn.ExponentialConductance(tau_i, E_i), one, weight=w_i, s0=g_i0),
        ],
    )
    run = jn.simulate_network(net, T, dt=dt, key=jax.random.key(0), trace_every=1)
    got = np.asarray(run.v[run.names.index("p")])[:, 0]

    arrivals_e = np.bincount(np.concatenate(exc), minlength=n_steps + 1) * w_e
    arrivals_i = np.bincount(np.concatenate(inh), minlength=n_steps + 1) * w_i
    mean_e = tau_e / dt * -math.expm1(-dt / tau_e)
    mean_i = tau_i / dt * -math.expm1(-dt / tau_i)
    y, g_e, g_i = [v0, 0.0, 0.0, 0.0], g_e0, g_i0
    ref = [v0]
    for k in range(n_steps):
        # the current g_e (E_e - v) + g_i (E_i - v) = (g_e E_e + g_i E_i) - (g_e + g_i) v
        ge_m, gi_m = g_e * mean_e, g_i * mean_i
        I = ge_m * E_e + gi_m * E_i
        y = exp_euler_ref(y, I, dt, g_e=ge_m + gi_m, E_e=0.0)
        g_e = g_e * math.exp(-dt / tau_e) + arrivals_e[k]
        g_i = g_i * math.exp(-dt / tau_i) + arrivals_i[k]
        ref.append(y[0])
    ref = np.asarray(ref)
    n = min(len(got), len(ref))
    assert n >= n_steps
    assert np.sum((ref[:-1] < -20.0) & (ref[1:] >= -20.0)) >= 3  # it fires
    np.testing.assert_allclose(got[:n], ref[:n], rtol=0, atol=1e-9)
    # and the network's spikes are the trace's upward crossings of -20 mV
    spikes = np.asarray(run.train("p").times)[0]
    spikes = spikes[np.isfinite(spikes)]
    ts = np.arange(len(ref)) * dt
    np.testing.assert_allclose(spikes, upward_crossings(ts, ref), atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(C=0.0), "C"),
        (dict(C=-1.0), "C"),
        (dict(g_Na=-1.0), "g_Na"),
        (dict(g_K=-0.5), "g_K"),
        (dict(g_L=float("nan")), "g_L"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.TraubMiles(**kwargs)


@pytest.mark.slow  # reverse mode through a diffrax event solve compiles for tens of seconds
def test_first_spike_time_gradient_matches_finite_differences(x64):
    """d(first spike time)/d(g_Na) through the diffrax path against a float64 central
    difference of the same function (the event time is a smooth function of g_Na)."""

    def first_spike(g_na):
        sim = jn.simulate(jn.TraubMiles(g_Na=g_na), 2.0, 0.0, 30.0, method="diffrax", rtol=1e-10, atol=1e-10)
        return sim.spikes.times[0]

    g = 100.0
    grad = float(jax.jit(jax.grad(first_spike))(g))
    h = 1e-3
    fd = (float(first_spike(g + h)) - float(first_spike(g - h))) / (2 * h)
    assert math.isfinite(grad) and grad != 0.0
    np.testing.assert_allclose(grad, fd, rtol=1e-4)

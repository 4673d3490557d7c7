"""Coverage the audit of issue 12 found missing: derivatives with respect to every neuron
parameter on each default path, derivatives at the threshold boundary, ``Euler`` and
``ExponentialEuler`` against ``Diffrax``, the automatic solver choice, and ``tuning_curve`` /
``spike_statistics`` on the built-in ``AdEx`` and ``Izhikevich`` against scipy.

Each check is against an independent reference (closed forms, scipy references in
``tests/reference_models.py``, float64 central differences), with a tolerance derived from the
method's error in a comment next to it."""

import dataclasses
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import test_solvers
from helpers import rate_from_spike_times
from jaxtyping import Array, Float
from reference_models import adex_reference, izhikevich_reference

import jaxneuro as jn

EPS64 = float(np.finfo(np.float64).eps)
NO_TS = np.zeros(0)


class AdaptiveLIF(test_solvers.AdaptiveLIF):
    """The user neuron of tests/test_solvers.py (two state variables, a reset and a refractory
    period: tau_m dv/dt = I - v - a, tau_a da/dt = -a; at v = 1: v <- 0, a <- a + d, then the
    state is held for tau_ref ms) with a faster, stronger adaptation."""

    tau_a: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=50.0)
    d: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=0.3)


def spikes_of(sim) -> np.ndarray:
    return np.asarray(sim.spikes.times)[: int(sim.spikes.count)]


def inexact_fields(neuron) -> list[str]:
    return [f.name for f in dataclasses.fields(neuron) if eqx.is_inexact_array(getattr(neuron, f.name))]


# ------------------------------------------------------------ 1. every parameter, every default path
# (neuron, constant drive, t1, fixed step of its default path or None): the default path of
# simulate is ExactLIF for LIF under a constant drive, ExpMidpointHH (dt 0.025 ms) for HH and
# RK4 (dt 0.01 ms) for a user neuron (test_automatic_solver_choice holds that mapping).
SPIKE_CASES = {
    "LIF": (jn.LIF, 1.5, 0.1, None),  # 4 spikes in 0.1 s
    "HodgkinHuxley": (jn.HodgkinHuxley, 10.0, 35.0, jn.HodgkinHuxley.default_dt),  # 3 spikes, the 3rd at 31.5 ms
    "AdaptiveLIF": (AdaptiveLIF, 2.0, 40.0, AdaptiveLIF.default_dt),  # 3 spikes, the 3rd at 30.4 ms
}
# LIF works in normalised units: V_L, V_th and R only convert to and from volts and amperes
# (LIF.normalise_voltage, normalise_input), so no spike time depends on them; the test below
# holds their derivatives and central differences both at exactly 0.
SCALE_ONLY = {"LIF": ("V_L", "V_th", "R")}
PARAMETER_CASES = [(model, name) for model, (make, *_) in SPIKE_CASES.items() for name in inexact_fields(make())]
K = 2  # the 3rd spike: after two resets (LIF, AdaptiveLIF) and two re-armings (HH)


@functools.cache
def spike_time_functions(model: str):
    """Jitted functions of the vector of every inexact parameter of ``model`` (one compile per
    model for all its fields): the first K + 1 spike times, their gradient and a JVP."""
    make, drive, t1, _ = SPIKE_CASES[model]
    base = make()
    names = inexact_fields(base)

    def times(theta):
        neuron = eqx.tree_at(lambda n: [getattr(n, k) for k in names], base, [theta[i] for i in range(len(names))])
        sim = jn.simulate(neuron, drive, 0.0, t1, ts=NO_TS, max_spikes=16)
        return sim.spikes.times[: K + 1], sim.spikes.count

    value = jax.jit(times)
    grad = jax.jit(jax.grad(lambda theta: times(theta)[0][K]))
    jvp = jax.jit(lambda theta, e: jax.jvp(lambda th: times(th)[0][K], (theta,), (e,))[1])
    theta0 = np.array([float(getattr(base, k)) for k in names])
    return names, theta0, value, grad, jvp


def central_difference(model: str, name: str):
    """The 5-point central difference of t_K in parameter ``name`` (float64), checked to be a
    difference of one smooth piece, with its rounding error bound."""
    names, theta0, value, _, _ = spike_time_functions(model)
    _, _, t1, dt = SPIKE_CASES[model]
    i = names.index(name)
    p = theta0[i]
    h = 1e-5 * abs(p) if p != 0 else 1e-4  # v_threshold = 0 mV: a step of 1e-4 mV
    runs = {}
    for s in (-2, -1, 0, 1, 2):
        theta = theta0.copy()
        theta[i] = p + s * h
        t, count = value(jnp.asarray(theta))
        assert int(count) >= K + 1 and float(t[K]) < t1, (model, name, s)
        runs[s] = np.asarray(t)
    if dt is not None:
        # On a fixed step, a spike time is a smooth function of a parameter while its crossing
        # stays in the same step; where it moves to the next step its derivative jumps
        # (ExpMidpointHH places the crossing on a quadratic that is not C1 across steps:
        # d t_3/d g_Na jumps by 1% at g_Na = 119.993). A difference across that point is not the
        # derivative: the stencil must not straddle one.
        steps = {s: tuple(np.floor(t / dt).astype(int)) for s, t in runs.items()}
        assert len(set(steps.values())) == 1, f"the stencil of {name} straddles a step boundary: {steps}"
    fd = (8 * (runs[1][K] - runs[-1][K]) - (runs[2][K] - runs[-2][K])) / (12 * h)
    # Rounding: each value is off by ~N_steps^(1/2) eps |t| at most (1,400-3,000 steps: below
    # 100 eps |t|); the stencil's weights sum to 1.5 / h.
    rounding = 1.5 * 100 * EPS64 * abs(runs[0][K]) / h
    return fd, rounding, runs


# Central differences of order 4 with h = 1e-5 |p|: truncation ~ h^4 |t^(5)| (relative 1e-20 times
# the derivatives' scale: below 1e-9 measured), plus the rounding bound above (below 2e-8 of every
# derivative here). rel 3e-7 is the audit's hand check, far above both: a derivative that misses a
# path through the loop (a reset, a refractory end, the initial state, the crossing) is off by
# percent, not 1e-7.
RTOL_FD = 3e-7


# (the JVP tests first: the first of each model compiles the value and the JVP, the first gradient
# test the gradient, each under ~10 s on one core)
@pytest.mark.parametrize("model,name", PARAMETER_CASES)
def test_spike_time_jvp_matches_central_difference_for_every_parameter(x64, model, name):
    names, theta0, _, _, jvp = spike_time_functions(model)
    e = np.zeros_like(theta0)
    e[names.index(name)] = 1.0
    tangent = float(jvp(jnp.asarray(theta0), jnp.asarray(e)))
    fd, rounding, _ = central_difference(model, name)
    assert np.isfinite(tangent)
    if name in SCALE_ONLY.get(model, ()):
        assert tangent == 0.0 and fd == 0.0
        return
    np.testing.assert_allclose(tangent, fd, rtol=RTOL_FD, atol=rounding)


@pytest.mark.parametrize("model,name", PARAMETER_CASES)
def test_spike_time_grad_matches_central_difference_for_every_parameter(x64, model, name):
    names, theta0, _, grad, _ = spike_time_functions(model)
    g = float(np.asarray(grad(jnp.asarray(theta0)))[names.index(name)])
    fd, rounding, runs = central_difference(model, name)
    assert np.isfinite(g)
    if name in SCALE_ONLY.get(model, ()):
        assert g == 0.0
        assert all(np.array_equal(r, runs[0]) for r in runs.values())  # the spike times do not move at all
        return
    assert abs(fd) > 1e3 * rounding  # a parameter the spike time depends on
    np.testing.assert_allclose(g, fd, rtol=RTOL_FD, atol=rounding)


# ------------------------------------------------------------ 2. derivatives at the threshold boundary
# The LIF rate G(v) = 1 / (tau_ref + tau_m log(1 + 1/(v - 1))) is 0 up to v = 1 and rises with
# dG/dv = G^2 tau_m / (v (v - 1)) ~ 1 / (tau_m x log^2(1/x)), x = v - 1, which diverges as
# x -> 0+ (5,767 Hz per unit of v_in at x = 1e-4, 222.7 at x = 1e-2). So the points are x = 1e-4 and
# 1e-2, where the closed form's derivative is finite, and v = 1 exactly, where the rate is 0 and
# the derivative returned is the left one, 0. The spike time t = tau_m log(v/(v - 1)) is
# ill-conditioned there: dt/dv = -tau_m / (v x). An error dv in v at the crossing moves the spike
# by dv tau_m / x, so each method's error grows like 1/x:
#  * exact and stepped: v is exact up to rounding (eps, accumulated over at most 10^4 steps):
#    relative error C eps / x, C = 100 (measured: 9e-12 at x = 1e-4 for the stepped rate's derivative);
#  * diffrax: v within its tolerance (1e-9 in float64), global error up to ~100 times the local one:
#    relative error 100 tol / x (measured: 1.2e-5 at x = 1e-4, 2e-6 at x = 1e-2).
TAU_M = 0.02
BOUNDARY = np.array([1.0, 1.0 + 1e-4, 1.0 + 1e-2])
LIF_METHODS = ["exact", "stepped", "diffrax"]


def boundary_rtol(method: str, x):
    return 100 * (1e-9 if method == "diffrax" else EPS64) / np.asarray(x)


@pytest.mark.parametrize("method", LIF_METHODS)
def test_tuning_curve_derivative_at_the_threshold_boundary(x64, method):
    def rates(v):
        return jn.tuning_curve(jn.LIF(), v, duration=1.0, method=method)

    r, pullback = jax.vjp(rates, jnp.asarray(BOUNDARY))
    (d,) = pullback(jnp.ones(3))  # each rate depends on its own input only: the derivatives
    r, d = np.asarray(r), np.asarray(d)
    assert np.all(np.isfinite(r)) and np.all(np.isfinite(d))
    assert r[0] == 0.0 and d[0] == 0.0  # v = 1: never fires; the left derivative
    ref_r = np.asarray(jn.lif_rate(jnp.asarray(BOUNDARY)))
    ref_d = np.asarray(jax.vmap(jax.grad(jn.lif_rate))(jnp.asarray(BOUNDARY)))
    rtol = boundary_rtol(method, BOUNDARY[1:] - 1.0)
    np.testing.assert_array_less(np.abs(r[1:] - ref_r[1:]), rtol * ref_r[1:])
    np.testing.assert_array_less(np.abs(d[1:] - ref_d[1:]), rtol * ref_d[1:])


@pytest.mark.parametrize("method", LIF_METHODS)
def test_first_spike_time_derivative_at_the_threshold_boundary(x64, method):
    def first(v):
        sim = jn.simulate(jn.LIF(), v, 0.0, 0.3, method=method, ts=NO_TS, max_spikes=8)
        return sim.spikes.times[0]

    value_and_grad = jax.jit(jax.value_and_grad(first))
    for v in BOUNDARY[1:]:
        t, d = (float(a) for a in value_and_grad(v))
        t_ref = TAU_M * np.log(v / (v - 1.0))  # 0.184 s at x = 1e-4: inside [0, 0.3]
        d_ref = -TAU_M / (v * (v - 1.0))
        rtol = boundary_rtol(method, v - 1.0)
        assert np.isfinite(d) and abs(t - t_ref) < rtol * t_ref and abs(d - d_ref) < rtol * abs(d_ref), (v, t, d)


@pytest.mark.parametrize("method", LIF_METHODS)
def test_rate_derivative_finite_at_the_threshold_boundary_in_float32(method):
    # The default dtype: no NaN and no infinity at v = 1 and just above it (float32's 1 + 1e-4 is
    # 1.0001000166), and 0 Hz with derivative 0 at v = 1.
    r, pullback = jax.vjp(lambda v: jn.tuning_curve(jn.LIF(), v, duration=1.0, method=method), jnp.asarray(BOUNDARY))
    (d,) = pullback(jnp.ones(3))
    assert r.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(r))) and np.all(np.isfinite(np.asarray(d)))
    assert float(r[0]) == 0.0 and float(d[0]) == 0.0
    assert np.all(np.asarray(d[1:]) > 0)


# ------------------------------------------------------------ 3. Euler and ExponentialEuler against Diffrax
def sine(t):
    return 1.6 + 0.5 * jnp.sin(2 * jnp.pi * t / 40.0)


def RS():
    return jn.Izhikevich.preset("RS")


# The neurons are built inside the tests, under the x64 fixture (float64 parameters): a user
# neuron whose parameters are float32 under jax_enable_x64 fails in every solver with an internal
# dtype TypeError (reported to the lead), which is not what these tests are about.
EULER_CASES = [
    # (solver class, neuron factory, drive, t1 in ms, steps h and h/2): AdaptiveLIF under a sine
    # (6 spikes in 100 ms) and the Izhikevich RS cell at I = 15 (6 spikes in 150 ms).
    # ExponentialEuler is exact in v for the adaptive LIF only with a frozen: it is first order
    # through the coupling to a.
    (jn.Euler, AdaptiveLIF, sine, 100.0, (0.02, 0.01)),
    (jn.ExponentialEuler, AdaptiveLIF, sine, 100.0, (0.02, 0.01)),
    (jn.Euler, RS, 15.0, 150.0, (0.01, 0.005)),
    (jn.ExponentialEuler, RS, 15.0, 150.0, (0.01, 0.005)),
]


@pytest.mark.parametrize(
    "cls,make,drive,t1,steps", EULER_CASES, ids=[f"{c[0].__name__}-{c[1].__name__}" for c in EULER_CASES]
)
def test_first_order_solvers_converge_to_diffrax_at_first_order(x64, cls, make, drive, t1, steps):
    neuron = make()
    ref = spikes_of(jn.simulate(neuron, drive, 0.0, t1, solver=jn.Diffrax(rtol=1e-11, atol=1e-12), ts=NO_TS))
    assert len(ref) >= 5
    errors = []
    for dt in steps:
        got = spikes_of(jn.simulate(neuron, drive, 0.0, t1, solver=cls(dt=dt), ts=NO_TS))
        assert got.shape == ref.shape, (dt, got, ref)
        errors.append(np.max(np.abs(got - ref)))
    # Both errors far above the reference's (~1e-9 ms), so the ratio measures the method:
    assert errors[1] > 1e-5, errors
    # First order: e(h) = C h + O(h^2), so e(h)/e(h/2) = 2 + O(h); the O(h) part is below 0.1 at
    # these steps (measured 1.94-2.001), 10% of 2 allowed. A second-order error would give 4, a
    # zeroth-order (a constant offset) 1.
    assert 1.8 < errors[0] / errors[1] < 2.2, errors


# ------------------------------------------------------------ 4. the automatic solver choice
def assert_same_run(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def differs(a, b) -> bool:
    return not np.array_equal(spikes_of(a), spikes_of(b))


OFF_GRID = jn.PiecewiseConstant(times=[0.05003], values=[1.5, 2.5])  # a switch between steps of 1e-4 s
# Diffrax on the LIF (a linear ODE) lands within an ulp or two of the exact events: under OFF_GRID
# its compiled run gives ExactLIF's spike times bit for bit, so its row starts nearer threshold,
# where every spike differs from ExactLIF's in the last bits (7e-9 s).
NEAR_THRESHOLD = jn.PiecewiseConstant(times=[0.05003], values=[1.05, 2.5])
CHOICES = [
    # (neuron, drive, t1, method, the solver it must pick, solvers it must not be)
    (jn.LIF(), OFF_GRID, 0.1, "auto", jn.ExactLIF(), [jn.SteppedLIF()]),
    (jn.LIF(), jn.FunctionInput(lambda t: 1.5 + jnp.sin(40.0 * t)), 0.1, "auto", jn.SteppedLIF(), [jn.RK4()]),
    (jn.HodgkinHuxley(), 10.0, 40.0, "auto", jn.ExpMidpointHH(), [jn.RK4(), jn.ExponentialEuler()]),
    (jn.AdEx(), 1000.0, 100.0, "auto", jn.RK4(), [jn.Euler(), jn.ExponentialEuler()]),
    (jn.Izhikevich(), 10.0, 100.0, "auto", jn.RK4(), [jn.Euler()]),
    (AdaptiveLIF(), 2.0, 40.0, "auto", jn.RK4(), [jn.Euler()]),
    (jn.LIF(), NEAR_THRESHOLD, 0.1, "diffrax", jn.Diffrax(), [jn.ExactLIF()]),
    (jn.LIF(), OFF_GRID, 0.1, "stepped", jn.SteppedLIF(), [jn.ExactLIF()]),
]


@pytest.mark.parametrize(
    "neuron,drive,t1,method,expected,others",
    CHOICES,
    ids=[f"{type(c[0]).__name__}-{c[3]}-{type(c[4]).__name__}" for c in CHOICES],
)
def test_automatic_solver_choice(neuron, drive, t1, method, expected, others):
    # Observed through the public API: the run equals, bit for bit, the run with that solver
    # passed explicitly, and differs from the runs of the other candidates (so the equality
    # tells them apart).
    chosen = jn.simulate(neuron, drive, 0.0, t1, method=method, ts=NO_TS, max_spikes=64)
    assert int(chosen.spikes.count) >= 2
    assert_same_run(chosen, jn.simulate(neuron, drive, 0.0, t1, solver=expected, ts=NO_TS, max_spikes=64))
    for other in others:
        alternative = jn.simulate(neuron, drive, 0.0, t1, solver=other, ts=NO_TS, max_spikes=64)
        assert differs(chosen, alternative), type(other).__name__


TUNING_CHOICES = [
    (jn.LIF(), jnp.array([1.2, 2.0, 4.0]), 0.2, jn.ExactLIF(), jn.SteppedLIF()),
    (jn.HodgkinHuxley(), jnp.array([8.0, 20.0]), 100.0, jn.ExpMidpointHH(), jn.RK4()),
    (jn.AdEx(), jnp.array([800.0, 1500.0]), 200.0, jn.RK4(), jn.Euler()),
]


@pytest.mark.parametrize(
    "neuron,inputs,duration,expected,other", TUNING_CHOICES, ids=[type(c[0]).__name__ for c in TUNING_CHOICES]
)
def test_automatic_solver_choice_of_tuning_curve(neuron, inputs, duration, expected, other):
    rates = np.asarray(jn.tuning_curve(neuron, inputs, duration=duration))
    assert np.all(rates > 0)
    with_expected = jn.tuning_curve(neuron, inputs, duration=duration, solver=expected)
    np.testing.assert_array_equal(rates, np.asarray(with_expected))
    with_other = jn.tuning_curve(neuron, inputs, duration=duration, solver=other)
    assert not np.array_equal(rates, np.asarray(with_other))


# ------------------------------------------------------------ 5. AdEx and Izhikevich rates against scipy
T_END, TRANSIENT = 500.0, 100.0  # ms
RATE_CASES = {
    # inputs: one below rheobase (0 Hz), three firing (AdEx 5-33 spikes, Izhikevich RS 6-24)
    "AdEx": (jn.AdEx, [500.0, 700.0, 1000.0, 1500.0], lambda c: adex_reference(c, T_END)),
    "Izhikevich": (RS, [2.0, 5.0, 10.0, 20.0], lambda c: izhikevich_reference("RS", c, T_END)),
}
# RK4 at the default dt = 0.01 ms places spikes within 1e-5 ms of the scipy reference on these
# models in float64 (measured: 7e-6 ms for AdEx at 1.5 nA, 5e-7 for Izhikevich; fourth order, held
# by tests/test_neuron_models.py), and the reference's rtol is 1e-10. A rate (k - 1)/(t_k - t_1) is
# then off by at most 2 * 1e-5 / (t_k - t_1) relative. In float32 (the default dtype) the time grid
# alone is rounded to eps32 * 500 ms = 3e-5 ms and the state's rounding accumulates over 5e4 steps:
# measured rate errors up to 1.7e-6 relative, i.e. ~3e-4 ms of spike time; 1e-3 ms is allowed.
SPIKE_TIME_ERROR_MS = {"float64": 1e-5, "float32": 1e-3}


def reference_rates(model: str, dtype: str = "float64"):
    _, inputs, reference = RATE_CASES[model]
    spikes = [reference(c) for c in inputs]
    rates = np.array([rate_from_spike_times(s, T_END, TRANSIENT, 1e-3) for s in spikes])
    spans = np.array([np.ptp(s[s >= TRANSIENT]) if np.sum(s >= TRANSIENT) >= 2 else np.inf for s in spikes])
    return spikes, rates, 2 * SPIKE_TIME_ERROR_MS[dtype] / spans


@pytest.mark.parametrize("model", list(RATE_CASES))
def test_builtin_neuron_tuning_curve_matches_scipy(x64, model):
    make, inputs, _ = RATE_CASES[model]
    neuron = make()
    _, ref, rtol = reference_rates(model)
    assert ref[0] == 0.0 and np.all(ref[1:] > 0)
    rates = np.asarray(jn.tuning_curve(neuron, jnp.asarray(inputs), duration=T_END, transient=TRANSIENT))
    np.testing.assert_array_less(np.abs(rates - ref), rtol * ref + 1e-12)


@pytest.mark.parametrize("model", list(RATE_CASES))
def test_builtin_neuron_spike_statistics_match_scipy(x64, model):
    make, inputs, _ = RATE_CASES[model]
    neuron = make()
    spikes, ref, rtol = reference_rates(model)
    stats = jax.vmap(lambda c: jn.spike_statistics(neuron, c, 0.0, T_END, transient=TRANSIENT))(jnp.asarray(inputs))
    np.testing.assert_array_equal(np.asarray(stats.count), [len(s) for s in spikes])
    np.testing.assert_array_equal(np.asarray(stats.count_after), [np.sum(s >= TRANSIENT) for s in spikes])
    np.testing.assert_array_less(np.abs(np.asarray(stats.rate) - ref), rtol * ref + 1e-12)


@pytest.mark.parametrize("model", list(RATE_CASES))
def test_builtin_neuron_tuning_curve_matches_scipy_in_float32(model):
    # The failing example ("An AdEx tuning_curve raises TypeError"), in the default dtype.
    make, inputs, _ = RATE_CASES[model]
    _, ref, rtol = reference_rates(model, "float32")
    rates = jn.tuning_curve(make(), jnp.asarray(inputs), duration=T_END, transient=TRANSIENT)
    assert rates.dtype == jnp.float32
    np.testing.assert_array_less(np.abs(np.asarray(rates) - ref), rtol * ref + 1e-6)

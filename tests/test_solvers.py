"""Any neuron through every simulator: user-defined neurons written here, the solvers held equal
to one another and to scipy references with event-located resets, and derivatives of spike
times against closed forms and float64 central differences."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array, Float
from scipy.integrate import solve_ivp

import jaxneuro as jn
from jaxneuro._inputs import Constant
from jaxneuro._solvers import Interval, SpikeTimes


# ----------------------------------------------------------------------------- user neurons
class FitzHughNagumo(jn.AbstractNeuron):
    """dv/dt = v - v^3/3 - w + I, tau dw/dt = v + a - b w; a spike is v rising through 1; no reset."""

    a: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=0.7)
    b: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=0.8)
    tau: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=12.5)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "1"
    default_dt: ClassVar[float] = 0.01
    rearm: ClassVar[float] = 1.0

    def vector_field(self, t, y, args):
        v, w = y
        return (v - v**3 / 3 - w + jn.input_value(args, t), (v + self.a - self.b * w) / self.tau)

    def initial_state(self, drive=0.0):
        return (jnp.asarray(-1.2, self.a.dtype), jnp.asarray(-0.6, self.a.dtype))

    def spike_condition(self, y):
        return y[0] - 1.0


class AdaptiveLIF(jn.AbstractNeuron):
    """tau_m dv/dt = I - v - a, tau_a da/dt = -a; at v = 1: v <- 0, a <- a + d, then tau_ref held."""

    tau_m: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=10.0)
    tau_a: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=100.0)
    d: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=0.2)
    tau_ref: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=2.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "1"
    default_dt: ClassVar[float] = 0.01

    def vector_field(self, t, y, args):
        v, a = y
        return ((jn.input_value(args, t) - v - a) / self.tau_m, -a / self.tau_a)

    def initial_state(self, drive=0.0):
        return (jnp.zeros_like(self.tau_m), jnp.zeros_like(self.tau_m))

    def spike_condition(self, y):
        return y[0] - 1.0

    def reset(self, y):
        return (jnp.zeros_like(y[0]), y[1] + self.d)

    def refractory_period(self):
        return self.tau_ref


def fhn_reference(I, t_end, y0=(-1.2, -0.6)):
    def rhs(t, y):
        v, w = y
        return [v - v**3 / 3 - w + I(t), (v + 0.7 - 0.8 * w) / 12.5]

    def up(t, y):
        return y[0] - 1.0

    up.direction = 1.0
    sol = solve_ivp(rhs, (0.0, t_end), list(y0), method="DOP853", rtol=1e-11, atol=1e-12, events=up)
    return np.asarray(sol.t_events[0])


def adaptive_lif_reference(I, t_end):
    """scipy with a terminal threshold event, the reset applied, and tau_ref skipped held."""
    t, y, spikes = 0.0, [0.0, 0.0], []

    def hit(t, y):
        return y[0] - 1.0

    hit.terminal, hit.direction = True, 1.0
    while t < t_end:
        sol = solve_ivp(
            lambda s, y: [(I(s) - y[0] - y[1]) / 10.0, -y[1] / 100.0],
            (t, t_end),
            y,
            method="DOP853",
            rtol=1e-11,
            atol=1e-12,
            events=hit,
        )
        if sol.status != 1:
            break
        ts = sol.t_events[0][0]
        spikes.append(ts)
        t, y = ts + 2.0, [0.0, sol.y_events[0][0][1] + 0.2]
    return np.array(spikes)


def spikes_of(sim):
    return np.asarray(sim.spikes.times)[: int(sim.spikes.count)]


SINE = lambda t: 1.6 + 0.5 * jnp.sin(2 * jnp.pi * t / 40.0)  # noqa: E731
SINE_NP = lambda t: 1.6 + 0.5 * np.sin(2 * np.pi * t / 40.0)  # noqa: E731


# ----------------------------------------------------------------------------- references
def test_fitzhugh_nagumo_without_reset_matches_scipy(x64):
    ref = fhn_reference(lambda t: 0.5, 300.0)
    assert len(ref) >= 7  # it oscillates: every cycle is a spike
    dif = spikes_of(jn.simulate(FitzHughNagumo(), 0.5, 0.0, 300.0, method="diffrax", ts=jnp.zeros(0)))
    np.testing.assert_allclose(dif, ref, atol=1e-5)
    rk4 = spikes_of(jn.simulate(FitzHughNagumo(), 0.5, 0.0, 300.0, method="stepped", ts=np.zeros(0)))
    np.testing.assert_allclose(rk4, ref, atol=1e-6)


def test_adaptive_lif_with_reset_and_refractory_matches_scipy(x64):
    ref = adaptive_lif_reference(SINE_NP, 200.0)
    assert len(ref) >= 6 and np.all(np.diff(ref) > 2.0)  # adaptation slows it down
    dif = spikes_of(jn.simulate(AdaptiveLIF(), SINE, 0.0, 200.0, method="diffrax", ts=jnp.zeros(0)))
    np.testing.assert_allclose(dif, ref, atol=1e-6)
    rk4 = spikes_of(jn.simulate(AdaptiveLIF(), SINE, 0.0, 200.0, solver=jn.RK4(dt=0.01), ts=np.zeros(0)))
    np.testing.assert_allclose(rk4, ref, atol=1e-7)


def test_rk4_spike_times_converge_at_fourth_order(x64):
    ref = adaptive_lif_reference(SINE_NP, 100.0)
    errs = []
    for dt in (0.8, 0.4, 0.2):  # errors well above the reference's 1e-9
        got = spikes_of(jn.simulate(AdaptiveLIF(), SINE, 0.0, 100.0, solver=jn.RK4(dt=dt), ts=np.zeros(0)))
        assert got.shape == ref.shape
        errs.append(np.max(np.abs(got - ref)))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 3.5), (errs, orders)


@pytest.mark.slow  # 500 ms references and float64 runs, stepped and diffrax (the user neuron's tuning_curve and
# spike_statistics cells of tests/test_transformations.py::test_jit_and_vmap_without_retrace stay in the default run)
def test_user_neuron_through_tuning_curve_and_spike_statistics(x64):
    currents = jnp.array([0.5, 1.2, 2.0, 4.0])
    ref = []
    for c in np.asarray(currents):
        times = adaptive_lif_reference(lambda t, c=c: c, 500.0)
        after = times[times >= 100.0]
        ref.append(0.0 if after.size < 2 else (after.size - 1) / (after[-1] - after[0]) * 1e3)
    for method in ("stepped", "diffrax"):
        rates = np.asarray(jn.tuning_curve(AdaptiveLIF(), currents, duration=500.0, transient=100.0, method=method))
        np.testing.assert_allclose(rates, ref, rtol=1e-6, atol=1e-9)
    stats = jax.vmap(lambda c: jn.spike_statistics(AdaptiveLIF(), c, 0.0, 500.0, transient=100.0, bin_width=50.0))(
        currents
    )
    counts = [len(adaptive_lif_reference(lambda t, c=c: c, 500.0)) for c in np.asarray(currents)]
    np.testing.assert_array_equal(np.asarray(stats.count), counts)
    np.testing.assert_array_equal(np.asarray(stats.bins).sum(-1), counts)
    np.testing.assert_allclose(np.asarray(stats.rate), ref, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------------------- solvers agree
def test_lif_solvers_agree_with_diffrax(x64):
    drive = jn.PiecewiseConstant(times=[0.05, 0.12], values=[1.5, 3.0, 1.2])
    dif = spikes_of(jn.simulate(jn.LIF(), drive, 0.0, 0.2, solver=jn.Diffrax(rtol=1e-10, atol=1e-12)))
    exact = spikes_of(jn.simulate(jn.LIF(), drive, 0.0, 0.2, solver=jn.ExactLIF()))
    stepped = spikes_of(jn.simulate(jn.LIF(), drive, 0.0, 0.2, solver=jn.SteppedLIF(1e-4)))
    rk4 = spikes_of(jn.simulate(jn.LIF(), drive, 0.0, 0.2, solver=jn.RK4(1e-4)))
    np.testing.assert_allclose(exact, dif, atol=1e-9)  # both to the tolerance of diffrax
    np.testing.assert_allclose(stepped, dif, atol=1e-9)  # exact within a step under a step-aligned drive
    # RK4: local error (dt/tau)^5 tau per step; the switches fall on the grid.
    np.testing.assert_allclose(rk4, dif, atol=1e-9)


@pytest.mark.slow  # HH in float64: diffrax at tight tolerances against the fixed-step solvers (the LIF case stays)
def test_hh_solvers_agree_with_diffrax(x64):
    dif = spikes_of(jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, solver=jn.Diffrax(rtol=1e-10, atol=1e-10)))
    mid = spikes_of(jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, solver=jn.ExpMidpointHH(0.01)))
    rk4 = spikes_of(jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, solver=jn.RK4(0.01)))
    assert len(dif) == 7
    # Second order: about 3e-3 ms of phase per spike interval at dt = 0.01 ms (test_simulate).
    np.testing.assert_allclose(mid, dif, atol=7 * 3e-3)
    # Fourth order: (dt / 0.1 ms)^4 of a 1-ms upstroke is far below 1e-5 ms.
    np.testing.assert_allclose(rk4, dif, atol=1e-5)


# ----------------------------------------------------------------------------- derivatives
FORWARD = jn.Diffrax(rtol=1e-10, atol=1e-12, mode="forward")


@pytest.mark.parametrize(
    "solver",
    [
        pytest.param(jn.Diffrax(rtol=1e-10, atol=1e-12), marks=pytest.mark.slow),  # diffrax at tight tolerances
        pytest.param(jn.RK4(1e-4), marks=pytest.mark.slow),  # RK4 derivatives: tests/test_transformations.py
        jn.SteppedLIF(1e-4),
        jn.ExactLIF(),
    ],
    ids=lambda s: type(s).__name__,
)
def test_lif_spike_time_derivatives_match_closed_form(x64, solver):
    # t_k = tau ln(v/(v-1)) + (k - 1)(tau_ref + tau ln(v/(v-1))): dt_k/dv = -k tau / (v (v - 1)).
    def t3(v_in, tau_m):
        sim = jn.simulate(jn.LIF(tau_m=tau_m), v_in, 0.0, 0.1, solver=solver, max_spikes=8, ts=np.zeros(0))
        return sim.spikes.times[2]

    v, tau = 1.7, 0.02
    dv_ref = -3 * tau / (v * (v - 1))
    dtau_ref = 3 * np.log(v / (v - 1))
    g = jax.grad(t3, argnums=(0, 1))(v, tau)
    np.testing.assert_allclose(np.asarray(g), [dv_ref, dtau_ref], rtol=1e-6)
    solver = FORWARD if isinstance(solver, jn.Diffrax) else solver
    _, tangent = jax.jvp(t3, (v, tau), (1.0, 0.0))
    np.testing.assert_allclose(float(tangent), dv_ref, rtol=1e-6)


# grad, jvp and four more float64 runs of the user neuron per method (diffrax at rtol 1e-10: about 20 s
# on one core, stepped about 8 s): slow; the user neuron's gradients stay in the default run through
# the "simulate user RK4" cell of tests/test_transformations.py::test_grad_and_jvp_match_central_differences
@pytest.mark.slow
@pytest.mark.parametrize("method", ["stepped", "diffrax"])
def test_user_neuron_gradients_match_central_differences(x64, method):
    def last_spike(d, amplitude, forward=False):
        drive = lambda t: 1.6 + amplitude * jnp.sin(2 * jnp.pi * t / 40.0)  # noqa: E731
        solver = (FORWARD if forward else jn.Diffrax(rtol=1e-10, atol=1e-12)) if method == "diffrax" else jn.RK4()
        sim = jn.simulate(AdaptiveLIF(d=d), drive, 0.0, 60.0, solver=solver, max_spikes=16, ts=np.zeros(0))
        return sim.spikes.times[3]

    args = (0.2, 0.5)
    g = jax.grad(last_spike, argnums=(0, 1))(*args)
    h = 1e-6
    fd = [
        (last_spike(0.2 + h, 0.5) - last_spike(0.2 - h, 0.5)) / (2 * h),
        (last_spike(0.2, 0.5 + h) - last_spike(0.2, 0.5 - h)) / (2 * h),
    ]
    # Central differences in float64: truncation h^2 and rounding 1e-16 t / h ~ 1e-8.
    np.testing.assert_allclose(np.asarray(g), np.asarray(fd), rtol=1e-5, atol=1e-6)
    _, tangent = jax.jvp(lambda d: last_spike(d, 0.5, forward=True), (0.2,), (1.0,))
    np.testing.assert_allclose(float(tangent), float(fd[0]), rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # 300 ms HH in float64 under grad, jvp and two more runs (the "simulate HH stepped" gradient
# cell of tests/test_transformations.py stays in the default run)
def test_hh_rate_gradient_matches_central_difference(x64):
    def rate(g_na):
        return jn.tuning_curve(jn.HodgkinHuxley(g_Na=g_na), jnp.array([10.0]), duration=300.0, transient=50.0)[0]

    g = float(jax.grad(rate)(120.0))
    fd = (float(rate(120.0 + 1e-4)) - float(rate(120.0 - 1e-4))) / 2e-4
    assert np.isfinite(g) and g == pytest.approx(fd, rel=1e-4)
    _, t = jax.jvp(rate, (120.0,), (1.0,))
    assert float(t) == pytest.approx(g, rel=1e-9)


# ----------------------------------------------------------------------------- bad neurons
def test_missing_protocol_method_is_named():
    class NoCondition(jn.AbstractNeuron):
        time_unit: ClassVar[str] = "ms"
        seconds_per_time_unit: ClassVar[float] = 1e-3
        input_unit: ClassVar[str] = "1"
        default_dt: ClassVar[float] = 0.01

        def vector_field(self, t, y, args):
            return -y

        def initial_state(self, drive=0.0):
            return jnp.zeros(())

    with pytest.raises(TypeError, match="spike_condition"):
        NoCondition()

    class NoUnits(jn.AbstractNeuron):
        time_unit: ClassVar[str] = "ms"

        def vector_field(self, t, y, args):
            return -y

        def initial_state(self, drive=0.0):
            return jnp.zeros(())

        def spike_condition(self, y):
            return y - 1.0

    with pytest.raises(TypeError, match="abstract class attributes .*default_dt"):
        NoUnits()


def test_units_read_as_fields_are_refused():
    # A string annotation the dataclass machinery cannot resolve to ClassVar makes a field.
    class FieldUnits(AdaptiveLIF):
        time_unit: "ClassVarNotImported[str]" = "ms"  # noqa: F821

    with pytest.raises(TypeError, match=r"FieldUnits: time_unit must be class variables"):
        jn.simulate(FieldUnits(), 1.5, 0.0, 10.0)


class StuckReset(AdaptiveLIF):
    def reset(self, y):
        return (jnp.full_like(y[0], 1.5), y[1])


@pytest.mark.parametrize("method", ["stepped", "diffrax"])
def test_reset_that_leaves_the_neuron_above_threshold_is_an_error(method):
    with pytest.raises(Exception, match=r"StuckReset.reset leaves the spike condition >= 0"):
        jax.block_until_ready(jn.simulate(StuckReset(), 2.0, 0.0, 50.0, method=method, ts=np.zeros(0)).spikes.count)


def test_solver_and_method_together_are_refused():
    with pytest.raises(ValueError, match="give either solver= or method="):
        jn.simulate(jn.LIF(), 1.5, 0.0, 0.1, method="stepped", solver=jn.RK4(1e-4))
    with pytest.raises(ValueError, match="ExpMidpointHH is for HodgkinHuxley neurons, got LIF"):
        jn.simulate(jn.LIF(), 1.5, 0.0, 0.1, solver=jn.ExpMidpointHH(1e-4))
    with pytest.raises(ValueError, match="SteppedLIF is for LIF neurons, got AdaptiveLIF"):
        jn.simulate(AdaptiveLIF(), 1.5, 0.0, 10.0, solver=jn.SteppedLIF(0.01))
    with pytest.raises(ValueError, match="method='exact' is for LIF neurons only"):
        jn.tuning_curve(AdaptiveLIF(), jnp.array([1.5]), method="exact")


def test_user_neuron_under_jit_and_vmap_without_retrace():
    traces = []

    @jax.jit
    def counts(currents, d):
        traces.append(1)
        run = lambda c: jn.simulate(AdaptiveLIF(d=d), c, 0.0, 100.0, ts=np.zeros(0)).spikes.count  # noqa: E731
        return jax.vmap(run)(currents)

    a = counts(jnp.array([0.5, 1.5, 3.0]), 0.2)
    b = counts(jnp.array([0.8, 2.0, 5.0]), 0.3)
    assert len(traces) == 1
    assert int(a[0]) == 0 and 0 < int(a[1]) < int(a[2]) and int(b[0]) == 0


# ----------------------------------------------------------------------------- diffrax batch loop
def _diffrax_run(solver, neuron, current, t1):
    """``Diffrax.run`` of ``neuron`` under ``Constant(current)`` over ``[0, t1]``, every spike
    time kept and no state saved (a stacked neuron and an array of currents take the batch loop)."""
    span = Interval(jnp.asarray(0.0), jnp.asarray(t1), 0.0, t1)
    y0 = jax.tree.map(lambda a: jnp.broadcast_to(a, jnp.shape(current)), neuron.initial_state())
    _, _, (times, count) = solver.run(neuron, Constant(current), span, y0, SpikeTimes(40), np.zeros(0))
    return times, count


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_diffrax_batch_loop_equals_each_neuron_alone(x64, mode):
    # The batch loop (tuning_curve's path: one loop from spike to spike over the batch, each
    # neuron's solve mapped) against each neuron solved alone: a reset and per-neuron refractory
    # periods (AdaptiveLIF, tau_ref 0 included), re-arming without a reset (FitzHughNagumo).
    solver = jn.Diffrax(rtol=1e-10, atol=1e-12, mode=mode)
    currents = np.array([0.5, 1.3, 2.0, 4.0])
    tau_refs = np.array([1.0, 2.0, 3.0, 0.0])
    for stacked, alone in [
        (AdaptiveLIF(tau_ref=tau_refs), lambda i: AdaptiveLIF(tau_ref=tau_refs[i])),
        (FitzHughNagumo(), lambda i: FitzHughNagumo()),
    ]:
        times, count = _diffrax_run(solver, stacked, jnp.asarray(currents), 150.0)
        assert count.shape == (4,) and int(count.max()) > 3
        for i, c in enumerate(currents):
            times_i, count_i = _diffrax_run(solver, alone(i), jnp.asarray(c), 150.0)
            assert int(count[i]) == int(count_i)
            np.testing.assert_allclose(times[i], times_i, rtol=1e-12)


def test_diffrax_batch_loop_gradient_equals_each_neuron_alone(x64):
    # Reverse mode through the batch loop (checkpointed) against the sum of single-neuron
    # gradients: d(sum of spike times)/d tau_m.
    solver = jn.Diffrax(rtol=1e-10, atol=1e-12)
    currents = jnp.array([1.5, 2.5, 4.0])

    def total(tau_m, current):
        times, _ = _diffrax_run(solver, jn.LIF(tau_m=tau_m, tau_ref=0.002), current, 0.1)
        return jnp.sum(jnp.where(jnp.isfinite(times), times, 0.0))

    grad = jax.jit(jax.grad(total))  # compiled twice (batch, one neuron), not once per call
    batch = grad(0.02, currents)
    alone = jnp.sum(jax.lax.map(lambda c: grad(0.02, c), currents))  # each neuron's own solve
    assert abs(float(batch)) > 0
    np.testing.assert_allclose(batch, alone, rtol=1e-10)

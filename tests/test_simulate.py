"""simulate: the exact, stepped and diffrax paths against each other and independent references."""

import contextlib
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import hh_scipy, lif_event_reference
from jaxtyping import Array, Float

import jaxneuro as jn


def spikes_of(sim):
    return np.asarray(sim.spikes.times)[: int(sim.spikes.count)]


def analytic_train(v_in, t_end, tau_m=0.02, tau_ref=0.002):
    first = tau_m * np.log(v_in / (v_in - 1))
    isi = tau_ref + first
    return first + isi * np.arange(int((t_end - first) // isi) + 1)


# diffrax on the LIF stays in the default run through test_gradient_of_spike_time_through_diffrax
@pytest.mark.parametrize("method", ["exact", "stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
def test_lif_constant_drive_spike_times_are_exact(method):
    sim = jn.simulate(jn.LIF(), 1.5, 0.0, 0.3, method=method)
    ref = analytic_train(1.5, 0.3)
    got = spikes_of(sim)
    assert got.shape == ref.shape
    # float32: t ~ 0.3 s has ulp 3e-8; event times accumulate one rounding per spike.
    tol = {"exact": 2e-6, "stepped": 5e-6, "diffrax": 5e-6}[method]
    np.testing.assert_allclose(got, ref, atol=tol)


def test_lif_exact_under_piecewise_constant_drive_matches_scipy(x64):
    drive = jn.PiecewiseConstant(times=[0.05, 0.12, 0.2], values=[0.5, 1.8, 1.02, 4.0])
    sim = jn.simulate(jn.LIF(), drive, 0.0, 0.3, method="exact")
    ref = lif_event_reference(lambda t: float(drive(t)), 0.3)
    np.testing.assert_allclose(spikes_of(sim), ref, atol=1e-9)


def test_lif_exact_trajectory_and_refractory_period(x64):
    ts = jnp.linspace(0.0, 0.1, 10001)
    sim = jn.simulate(jn.LIF(), 3.0, 0.0, 0.1, ts=ts, method="exact")
    spikes = spikes_of(sim)
    v = np.asarray(sim.ys)
    t = np.asarray(ts)
    for s in spikes:
        inside = (t >= s) & (t < s + 0.002)
        assert np.all(v[inside] == 0.0)  # held at reset for exactly tau_ref
    # Between spikes the closed form holds: v = v_in (1 - exp(-(t - t_restart)/tau_m)).
    restart = spikes[0] + 0.002
    seg = (t >= restart) & (t < spikes[1])
    np.testing.assert_allclose(v[seg], 3.0 * -np.expm1(-(t[seg] - restart) / 0.02), atol=1e-12)
    assert np.all(v < 1.0)
    assert np.all(np.diff(spikes) >= 0.002)


@pytest.mark.slow  # a convergence study: diffrax and four stepped runs of 0.5 s down to dt = 50 us, in float64
def test_lif_three_paths_agree_on_time_varying_drive(x64):
    drive = lambda t: 1.6 + 0.8 * jnp.sin(2 * jnp.pi * 7.0 * t)
    ref = lif_event_reference(lambda t: 1.6 + 0.8 * np.sin(2 * np.pi * 7.0 * t), 0.5)
    dif = spikes_of(jn.simulate(jn.LIF(), drive, 0.0, 0.5, method="diffrax"))
    np.testing.assert_allclose(dif, ref, atol=1e-7)
    # Stepped: mid-step sampling of the drive is second order in dt.
    errs, dts = [], [4e-4, 2e-4, 1e-4, 5e-5]
    for dt in dts:
        st = spikes_of(jn.simulate(jn.LIF(), drive, 0.0, 0.5, method="stepped", dt=dt))
        assert st.shape == ref.shape
        errs.append(np.mean(np.abs(st - ref)))
    assert max(errs) < 1e-5
    order = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert 1.6 < order < 2.6, (order, errs)


def test_stepped_lif_with_huge_input_fires_every_refractory_period(x64):
    # At v_in = 1e6 the neuron fires tau_m/v_in after each refractory period ends.
    sim = jn.simulate(jn.LIF(), 1e6, 0.0, 0.05, method="stepped", dt=1e-4)
    isi = np.diff(spikes_of(sim))
    np.testing.assert_allclose(isi, 0.002 + 0.02 * np.log1p(1 / (1e6 - 1)), rtol=1e-9)


@pytest.mark.slow  # a 200 ms scipy reference at tight tolerances and two float64 HH runs
def test_hh_stepped_and_diffrax_match_scipy_under_stepped_input(x64):
    # The notes' demonstration: negative, zero, slightly positive, very positive current.
    drive = jn.PiecewiseConstant(times=[50.0, 100.0, 150.0], values=[-5.0, 0.0, 7.0, 30.0])
    J = lambda t: float(drive(t))
    t_eval = np.linspace(0, 200, 401)
    sol, ref_spikes = hh_scipy(J, 200.0, t_eval=t_eval)
    # Release from hyperpolarisation gives one rebound (anode-break) spike; 7 uA/cm^2 fires
    # regularly and 30 uA/cm^2 faster.
    assert np.sum((ref_spikes > 50) & (ref_spikes < 100)) == 1
    isi_slight = np.diff(ref_spikes[(ref_spikes > 100) & (ref_spikes < 150)])
    isi_very = np.diff(ref_spikes[ref_spikes > 155])
    assert len(isi_slight) >= 1 and len(isi_very) >= 3 and isi_very.max() < isi_slight.min()
    dif = jn.simulate(jn.HodgkinHuxley(), drive, 0.0, 200.0, ts=t_eval, method="diffrax")
    np.testing.assert_allclose(spikes_of(dif), ref_spikes, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dif.ys.v), sol.y[0], atol=1e-4)
    step = jn.simulate(jn.HodgkinHuxley(), drive, 0.0, 200.0, ts=t_eval, method="stepped", dt=0.01)
    # Second-order phase error: about 3e-3 ms per inter-spike interval at dt = 0.01 ms (the
    # rate error of tests/test_tuning.py), accumulated over the 9 spikes.
    np.testing.assert_allclose(spikes_of(step), ref_spikes, atol=9 * 3e-3)
    during_negative = (t_eval > 20) & (t_eval < 50)
    assert np.all(np.asarray(step.ys.v)[during_negative] < -65.0)  # hyperpolarised


@pytest.mark.slow  # a convergence study: four HH runs, the finest at dt = 0.0025 ms
def test_hh_stepped_is_second_order():
    ref = spikes_of(jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, method="stepped", dt=0.0025))
    errs = []
    for dt in [0.04, 0.02, 0.01]:
        s = spikes_of(jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, method="stepped", dt=dt))
        assert s.shape == ref.shape
        errs.append(np.max(np.abs(s - ref)))
    assert 3.0 < errs[0] / errs[1] < 5.5 and 3.0 < errs[1] / errs[2] < 5.5


def test_vmap_over_inputs_and_parameters_without_retrace():
    traces = []

    @jax.jit
    def rates(v_in, tau_m):
        traces.append(1)
        sim = jax.vmap(lambda x, t: jn.simulate(jn.LIF(tau_m=t), x, 0.0, 0.5, method="exact"))(v_in, tau_m)
        return sim.spikes.count

    c1 = rates(jnp.array([1.5, 2.0, 3.0]), jnp.array([0.02, 0.02, 0.01]))
    c2 = rates(jnp.array([1.2, 4.0, 0.5]), jnp.array([0.03, 0.01, 0.02]))
    assert len(traces) == 1
    for v, t, c in zip([1.5, 2.0, 3.0, 1.2, 4.0, 0.5], [0.02, 0.02, 0.01, 0.03, 0.01, 0.02], [*c1, *c2], strict=True):
        expected = 0 if v <= 1 else len(analytic_train(v, 0.5, tau_m=t))
        assert int(c) == expected


# HH under vmap stays in the default run: tests/test_transformations.py::test_jit_and_vmap_without_retrace
@pytest.mark.slow
@pytest.mark.parametrize("method", ["stepped", "diffrax"])
def test_vmap_hh(method):
    f = jax.vmap(
        lambda J: jn.simulate(jn.HodgkinHuxley(), J, 0.0, 50.0, method=method, ts=jnp.array([0.0, 50.0])).spikes.count
    )
    counts = f(jnp.array([0.0, 10.0, 30.0]))
    assert int(counts[0]) == 0 and 0 < int(counts[1]) < int(counts[2])


def test_gradient_of_spike_time_through_diffrax(x64):
    def first_spike(v_in):
        sim = jn.simulate(jn.LIF(), v_in, 0.0, 0.1, method="diffrax", max_spikes=10, ts=jnp.array([0.0]))
        return sim.spikes.times[0]

    v = 1.7
    g = jax.grad(first_spike)(v)
    assert float(g) == pytest.approx(-0.02 / (v * (v - 1)), rel=1e-5)  # d/dv tau ln(v/(v-1))


def test_overflow_is_an_error_or_a_flag():
    with pytest.raises(Exception, match="more spikes than max_spikes=3"):
        jn.simulate(jn.LIF(), 5.0, 0.0, 0.1, method="exact", max_spikes=3).spikes.times.block_until_ready()
    sim = jn.simulate(jn.LIF(), 5.0, 0.0, 0.1, method="stepped", max_spikes=3, on_overflow="flag")
    assert bool(sim.spikes.overflow) and int(sim.spikes.count) == len(analytic_train(5.0, 0.1, 0.02, 0.002))
    np.testing.assert_allclose(np.asarray(sim.spikes.times), analytic_train(5.0, 0.1)[:3], atol=5e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(t0=0.1, t1=0.1), r"t1 must be finite and greater than t0; got t0 = 0.1, t1 = 0.1"),
        (dict(t0=0.2, t1=0.1), r"t1 must be .* greater than t0"),
        # method="euler" and on_overflow="ignore" lie outside their Literal on purpose: the
        # run-time jaxtyping checks off for them, so that the library's ValueError is tested
        pytest.param(
            dict(method="euler"),
            r"method must be one of \('auto', 'diffrax', 'exact', 'stepped'\), got 'euler'",
            marks=pytest.mark.jaxtyping_off,
        ),
        (dict(method="stepped", dt=0.0), r"dt must be finite and in \(0, inf\) s; got dt = 0"),
        (dict(method="stepped", dt=-1e-4), r"dt must be finite and in \(0, inf\) s; got dt = -0.0001"),
        (dict(method="stepped", dt=0.003), r"dt must be <= tau_ref .* got dt = 0.003 s, tau_ref = 0.002 s"),
        (dict(method="stepped", dt=3e-4), r"\(t1 - t0\) / dt must be an integer number of steps"),
        (dict(method="stepped", ts=jnp.array([0.00005])), r"ts must lie on the step grid"),
        (dict(ts=jnp.zeros((2, 2))), r"ts must be a 1-D array of times, got shape \(2, 2\)"),
        (dict(ts=jnp.array([0.0, 0.2])), r"ts must lie within \[t0, t1\]"),
        (dict(drive=jnp.ones(3)), r"the input drive must be a scalar per neuron, got shape \(3,\)"),
        (dict(drive=float("nan")), r"input value must be finite"),
        (dict(max_spikes=0), r"max_spikes must be an int in \[1, \d+\], got max_spikes = 0"),
        pytest.param(
            dict(on_overflow="ignore"), r"on_overflow must be 'error' or 'flag'", marks=pytest.mark.jaxtyping_off
        ),
    ],
)
def test_simulate_validation(kwargs, match):
    args = dict(drive=1.5, t0=0.0, t1=0.1)
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(ValueError, match=match):
        jn.simulate(jn.LIF(), args["drive"], args["t0"], args["t1"], **kwargs)


def test_simulate_validation_model_specific():
    with pytest.raises(ValueError, match=r"method='exact' is for LIF neurons only"):
        jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 10.0, method="exact")
    with pytest.raises(ValueError, match=r"method='exact' needs a piecewise-constant drive"):
        jn.simulate(jn.LIF(), lambda t: 2.0 + t, 0.0, 0.1, method="exact")
    with pytest.raises(
        ValueError, match=r"PiecewiseConstant needs 1-D times \(k switch times\) and values \(k \+ 1 levels\)"
    ):
        jn.PiecewiseConstant(times=[1.0, 2.0], values=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"times must be strictly increasing"):
        jn.PiecewiseConstant(times=[2.0, 1.0], values=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"values must be finite"):
        jn.PiecewiseConstant(times=[1.0], values=[1.0, float("nan")])
    # A traced non-positive time constant is caught at run time, naming the parameter.
    with pytest.raises(Exception, match=r"tau_m must be finite and in \(0, inf\) s"):
        jax.jit(lambda t: jn.simulate(jn.LIF(tau_m=t), 1.5, 0.0, 0.1).spikes.count)(-0.02).block_until_ready()
    with pytest.raises(Exception, match=r"C must be finite and in \(0, inf\) uF/cm\^2"):
        jax.jit(lambda c: jn.simulate(jn.HodgkinHuxley(C=c), 5.0, 0.0, 5.0).spikes.count)(0.0).block_until_ready()


# ----------------------------------------------------------------------------- no recompiles
# Issue 12 item 4: a second un-jitted call with new values (a drive, a parameter) compiles
# nothing.  Counted with JAX's compile events (``/jax/core/compile/backend_compile_duration``,
# one per XLA compilation), not with ``_cache_size()``: that reads JAX's C++ fast-path cache,
# unreliable with many live functions.  Before the run was one cached ``eqx.filter_jit``
# function (``jaxneuro._solvers._sensitivity.run_solver``), every case below compiled its loop
# (``jit(scan)`` or ``jit(while)``) again on each call: 0.2-1.6 s, 3.4 s for the diffrax gradient.
@contextlib.contextmanager
def compiles():
    """The names of the XLA compilations inside the block."""
    names = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            names.append(kwargs.get("fun_name"))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


class UserLIF(jn.AbstractNeuron):
    """A neuron written as a user would: tau_m dv/dt = I - v, a spike at v = 1, reset to 0,
    held for tau_ref (ms); the LIF's closed form is the reference."""

    tau_m: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=10.0)
    tau_ref: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=2.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "1"
    default_dt: ClassVar[float] = 0.01

    def vector_field(self, t, y, args):
        return (jn.input_value(args, t) - y) / self.tau_m

    def initial_state(self, drive=0.0):
        return jnp.zeros_like(self.tau_m)

    def spike_condition(self, y):
        return y - 1.0

    def reset(self, y):
        return jnp.zeros_like(y)

    def refractory_period(self):
        return self.tau_ref


def lif_first_spikes(v, tau_m, tau_ref, n):
    """The first ``n`` spike times of the LIF from v = 0 under constant ``v``: one every
    ``tau_ref + tau_m log(v / (v - 1))``, the first without the refractory period."""
    k = np.arange(n)
    return tau_m * np.log(v / (v - 1)) * (k + 1) + tau_ref * k


# (call with (drive, parameter), the first spikes' closed form or reference, tolerance)
def _hh_reference(current, g_na):
    return hh_scipy(current, 30.0, g_na=g_na)[1][:2]


NO_RECOMPILE = {
    # the default (exact) LIF path; float32 event times: 2e-6 s (test above)
    "lif_exact": (
        lambda v, tau: jn.simulate(jn.LIF(tau_m=tau), v, 0.0, 0.1),
        lambda v, tau: lif_first_spikes(v, tau, 0.002, 3),
        2e-6,
    ),
    # diffrax on the LIF; 5e-6 s as the test above
    "lif_diffrax": (
        lambda v, tau: jn.simulate(jn.LIF(tau_m=tau), v, 0.0, 0.1, method="diffrax"),
        lambda v, tau: lif_first_spikes(v, tau, 0.002, 3),
        5e-6,
    ),
    # the stepped LIF (SteppedLIF): exact steps, 5e-6 s as the test above
    "lif_stepped": (
        lambda v, tau: jn.simulate(jn.LIF(tau_m=tau), v, 0.0, 0.1, method="stepped"),
        lambda v, tau: lif_first_spikes(v, tau, 0.002, 3),
        5e-6,
    ),
    # HH's default (ExpMidpointHH at 0.025 ms, second order) against scipy: about 3e-3 ms of
    # phase per inter-spike interval at dt = 0.01 ms (the stepped HH test above), times
    # (0.025 / 0.01)^2 at the default step: 0.019 ms by the second spike (measured 0.016)
    "hh_default": (
        lambda current, g_na: jn.simulate(jn.HodgkinHuxley(g_Na=g_na), current, 0.0, 30.0),
        _hh_reference,
        0.02,
    ),
    # a user neuron on its default path (RK4 at 0.01 ms, crossing on the cubic Hermite
    # interpolant): float32 rounding of v near threshold over ~1,000 steps, 1e-4 ms (measured 2e-5)
    "user_rk4": (
        lambda v, tau: jn.simulate(UserLIF(tau_m=tau), v, 0.0, 40.0),
        lambda v, tau: lif_first_spikes(v, tau, 2.0, 3),
        1e-4,
    ),
}
NO_RECOMPILE_VALUES = {
    "lif_exact": ((1.5, 0.02), (2.5, 0.03)),
    "lif_diffrax": ((1.5, 0.02), (2.5, 0.03)),
    "lif_stepped": ((1.5, 0.02), (2.5, 0.03)),
    "hh_default": ((10.0, 120.0), (15.0, 100.0)),
    "user_rk4": ((1.5, 10.0), (2.5, 7.0)),
}


@pytest.mark.parametrize("name", list(NO_RECOMPILE))
def test_second_unjitted_call_with_new_values_compiles_nothing(name):
    run, reference, tol = NO_RECOMPILE[name]
    first, second = NO_RECOMPILE_VALUES[name]
    jax.block_until_ready(run(*first))
    with compiles() as names:
        sim = jax.block_until_ready(run(*second))  # a new drive and a new parameter value
    assert names == []
    ref = reference(*second)
    np.testing.assert_allclose(spikes_of(sim)[: len(ref)], ref, atol=tol)
    # a Python float given for a parameter or the drive is a traced value, not a constant
    with compiles() as names:
        jax.block_until_ready(run(*(x * 1.01 for x in second)))
    assert names == []


def test_spike_statistics_second_call_compiles_nothing():
    def run(v, tau):
        return jn.spike_statistics(jn.LIF(tau_m=tau), v, 0.0, 0.5, transient=0.1, bin_width=0.05)

    jax.block_until_ready(run(1.5, 0.02))
    with compiles() as names:
        stats = jax.block_until_ready(run(2.5, 0.03))
    assert names == []
    # the stepped LIF's ISI rate against the closed form: the spike times are exact to
    # float32 rounding, the rate to 1e-4 relative (tests/test_lif_stepped.py)
    assert float(stats.rate) == pytest.approx(float(jn.lif_rate(2.5, 0.03, 0.002)), rel=1e-4)
    assert int(jnp.sum(stats.bins)) == int(stats.count) == len(analytic_train(2.5, 0.5, tau_m=0.03))


@pytest.mark.parametrize("method", ["diffrax", "stepped"])
def test_gradient_second_unjitted_call_compiles_nothing(method):
    # d t_2 / d v_in of the LIF: t_2 = 2 tau_m log(v / (v - 1)) + tau_ref, so
    # d t_2 / d v = -2 tau_m / (v (v - 1)); float32 derivatives of the crossing, 1e-4 relative
    def grad(v):
        return jax.grad(lambda x: jn.simulate(jn.LIF(), x, 0.0, 0.1, method=method).spikes.times[1])(v)

    jax.block_until_ready(grad(1.5))
    with compiles() as names:
        g = jax.block_until_ready(grad(2.5))
    assert names == []
    assert float(g) == pytest.approx(-2 * 0.02 / (2.5 * 1.5), rel=1e-4)


def test_checks_and_warnings_still_come_before_the_compiled_run():
    # the trace-time checks with the values in the message, and the coarse-step warning, on
    # every call (not only when the run is first traced and compiled)
    for _ in range(2):
        with pytest.raises(ValueError, match=r"dt must be <= tau_ref .* got dt = 0.003 s, tau_ref = 0.002 s"):
            jn.simulate(jn.LIF(), 2.0, 0.0, 0.1, dt=0.003)
        with pytest.raises(ValueError, match=r"got tau_ref / tau_m = 100"):
            jn.simulate(jn.LIF(tau_m=1e-3, tau_ref=0.1), 2.0, 0.0, 0.2, method="stepped")
        with pytest.warns(jn.CoarseStepWarning, match=r"dt = 1 ms is coarser than HodgkinHuxley"):
            jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 20.0, solver=jn.ExpMidpointHH(1.0), ts=np.zeros(0))
    # run-time checks of traced values still raise from the compiled run
    with pytest.raises((eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError), match="more spikes than max_spikes"):
        jax.block_until_ready(jn.simulate(jn.LIF(), 5.0, 0.0, 0.1, max_spikes=2))


def test_stepped_lif_readout_every():
    # the readout block set from a concrete tau_ref before compiling; a block longer than the
    # refractory period would lose spikes: refused with the values, at run time when traced
    sim = jn.simulate(jn.LIF(), 2.0, 0.0, 0.1, solver=jn.SteppedLIF(readout_every=5))
    np.testing.assert_allclose(spikes_of(sim), analytic_train(2.0, 0.1), atol=5e-6)
    with pytest.raises(ValueError, match=r"readout_every must be at most floor\(tau_ref / dt\).* = 20"):
        jn.simulate(jn.LIF(), 2.0, 0.0, 0.1, solver=jn.SteppedLIF(readout_every=21))
    with pytest.raises((eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError), match="readout_every must be at most"):
        jax.block_until_ready(
            jax.jit(lambda t: jn.simulate(jn.LIF(tau_ref=t), 2.0, 0.0, 0.1, solver=jn.SteppedLIF(readout_every=21)))(
                0.002
            )
        )


# Built at import, with float64 off (the suite's default): float32 parameters.
FLOAT32_NEURONS = {
    "LIF": (jn.LIF(), 1.5, 0.1),
    "HH": (jn.HodgkinHuxley(), 10.0, 50.0),
    "AdEx": (jn.AdEx(), 1000.0, 100.0),
    "Izhikevich": (jn.Izhikevich(), 10.0, 100.0),
}


@pytest.mark.parametrize("method", ["auto", "diffrax"])
@pytest.mark.parametrize("name", list(FLOAT32_NEURONS))
def test_a_float32_neuron_runs_under_x64(x64, name, method):
    """A neuron built before ``jax_enable_x64`` was switched on (float32 parameters) under a
    float64 drive and span: the run promotes every array to one dtype (it failed with JAX's
    type errors inside the loops: cond branches, scan carries, jvp dtypes), the same run as the
    neuron promoted by hand."""
    neuron, drive, t1 = FLOAT32_NEURONS[name]
    assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(neuron) if eqx.is_inexact_array(a))
    promoted = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, neuron)
    sim = jn.simulate(neuron, drive, 0.0, t1, method=method, ts=np.zeros(0))
    ref = jn.simulate(promoted, drive, 0.0, t1, method=method, ts=np.zeros(0))
    assert sim.spikes.times.dtype == jnp.float64 and int(sim.spikes.count) >= 2
    np.testing.assert_array_equal(np.asarray(sim.spikes.times), np.asarray(ref.spikes.times))
    if method == "auto":
        stats = jn.spike_statistics(neuron, drive, 0.0, t1)
        assert int(stats.count) == int(sim.spikes.count)

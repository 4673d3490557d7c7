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


# --------------------------------------------------------------------- NaN inputs to simulate
def _count(neuron, drive, t0=0.0, t1=1.0, **kw):
    return jn.simulate(neuron, drive, t0, t1, **kw).spikes.count


@pytest.mark.parametrize("method", ["exact", "stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
def test_nan_constant_drive_under_jit_and_vmap_is_a_runtime_error(method):
    run = jax.jit(lambda d: _count(jn.LIF(), d, method=method))
    _raises_at_run_time(run, jnp.nan, match="input value must be finite")
    batched = jax.vmap(lambda d: _count(jn.LIF(), d, method=method))
    _raises_at_run_time(batched, jnp.array([2.0, jnp.nan]), match="input value must be finite")
    assert int(run(2.0)) == 63


def test_nan_piecewise_drive_under_jit_is_a_runtime_error():
    def run(level):
        return _count(jn.LIF(), jn.PiecewiseConstant(jnp.array([0.5]), jnp.stack([2.0, level])))

    _raises_at_run_time(jax.jit(run), jnp.nan, match="values must be finite")
    _raises_at_run_time(
        jax.jit(lambda t: _count(jn.LIF(), jn.PiecewiseConstant(jnp.stack([t, 0.2]), jnp.ones(3) * 2))),
        0.5,
        match="times must be strictly increasing",
    )


def test_nan_hh_drive_under_jit_is_a_runtime_error():
    run = jax.jit(lambda d: _count(jn.HodgkinHuxley(), d, 0.0, 100.0))
    _raises_at_run_time(run, jnp.nan, match="input value must be finite")


@pytest.mark.parametrize(
    ("neuron", "t1"),
    [(jn.LIF(), 1.0), (jn.HodgkinHuxley(), 100.0), (jn.Izhikevich(), 100.0)],
)
def test_nan_from_a_drive_function_is_a_runtime_error(neuron, t1):
    # NaN only after half the run: the state turns NaN and stays so; never a clean 0 spikes.
    def drive(t):
        return jnp.where(t > t1 / 2, jnp.nan, 10.0)

    with pytest.raises(RUNTIME_ERRORS, match="non-finite|diffrax solve failed"):
        jax.block_until_ready(jn.simulate(neuron, drive, 0.0, t1))


def test_nan_drive_function_on_the_diffrax_path_is_an_error():
    with pytest.raises(RUNTIME_ERRORS, match="non-finite"):
        jax.block_until_ready(jn.simulate(jn.LIF(), lambda t: jnp.nan * t, 0.0, 1.0, method="diffrax"))


def test_nan_y0_concrete_and_traced():
    with pytest.raises(ValueError, match=r"y0 must be finite and in \(-inf, inf\); got y0 = nan"):
        jn.simulate(jn.LIF(), 2.0, 0.0, 1.0, y0=jnp.nan)
    _raises_at_run_time(jax.jit(lambda y: _count(jn.LIF(), 2.0, y0=y)), jnp.nan, match="y0 must be finite")
    hh = jn.HodgkinHuxley()
    y0 = eqx.tree_at(lambda s: s.v, hh.initial_state(), jnp.asarray(jnp.nan))
    with pytest.raises(ValueError, match="y0 must be finite"):
        jn.simulate(hh, 10.0, 0.0, 100.0, y0=y0)


@pytest.mark.parametrize("method", ["exact", "stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
def test_nan_ts_concrete_and_traced(method):
    ts = np.array([0.0, np.nan, 0.5])
    with pytest.raises(ValueError, match=r"ts must be finite and in \(-inf, inf\); got ts = \[nan\]"):
        jn.simulate(jn.LIF(), 2.0, 0.0, 1.0, ts=ts, method=method)
    if method != "stepped":  # the stepped path needs concrete ts (a ValueError that says so)
        run = jax.jit(lambda ts: jn.simulate(jn.LIF(), 2.0, 0.0, 1.0, ts=ts, method=method).ys)
        _raises_at_run_time(run, jnp.asarray(ts), match="ts must be finite")


# --------------------------------------------------------------------- large times
@pytest.mark.parametrize("t0", [0.0, 1e4, 1e5, 1e6])
def test_exact_lif_counts_at_large_t0(t0):
    # float32 near 1e5 s has representable times 8 ms apart (ISI 4 ms): the event loop used
    # to hang (t + t_spike rounded back to t) and from 1e4 s it counted 256 spikes, not 243.
    expected = int(np.floor(float(jn.lif_rate(10.0)) * 1.0))
    for kw in ({}, {"ts": np.zeros(0)}):
        sim = jn.simulate(jn.LIF(), 10.0, t0, t0 + 1.0, check_units=False, **kw)
        assert int(sim.spikes.count) == expected
    step = jn.simulate(jn.LIF(), jn.Step(t0 + 0.5, 10.0, 0.5), t0, t0 + 1.0, check_units=False)
    ref = jn.simulate(jn.LIF(), jn.Step(0.5, 10.0, 0.5), 0.0, 1.0)
    assert int(step.spikes.count) == int(ref.spikes.count) > 100
    times = np.asarray(step.spikes.times[: int(step.spikes.count)], np.float64) - t0
    ref_times = np.asarray(ref.spikes.times[: int(ref.spikes.count)], np.float64)
    np.testing.assert_allclose(times, ref_times, atol=2 * np.spacing(np.float32(t0 + 1)) + 1e-5)


@pytest.mark.parametrize(
    ("neuron", "t0", "t1", "drive"),
    [(jn.LIF(), 1e6, 1e6 + 0.3, 10.0), pytest.param(jn.HodgkinHuxley(), 1e6, 1e6 + 50, 10.0, marks=pytest.mark.slow)],
)
def test_diffrax_at_large_t0(neuron, t0, t1, drive):
    # The diffrax path used to crash (duplicate saveat times) or hit max_steps at t0 = 1e4-1e6.
    late = jn.simulate(neuron, drive, t0, t1, method="diffrax", check_units=False)
    early = jn.simulate(neuron, drive, 0.0, t1 - t0, method="diffrax", check_units=False)
    assert int(late.spikes.count) == int(early.spikes.count) > 0
    assert np.all(np.diff(np.asarray(late.ts)) >= 0)


# --------------------------------------------------------------------- steps and durations
@pytest.mark.parametrize(
    ("neuron", "t1", "dt"),
    [(jn.LIF(tau_ref=1.0), 0.5, 1.0), (jn.LIF(tau_ref=0.5), 0.1, 0.2), (jn.Izhikevich(), 10.0, 20.0)],
)
def test_dt_longer_than_the_run_is_a_value_error(neuron, t1, dt):
    with pytest.raises(ValueError, match=r"dt must be in \(0, t1 - t0\] = \(0, .*\] \(at least one step\); got dt ="):
        jn.simulate(neuron, 10.0, 0.0, t1, dt=dt, check_units=False)


def test_dt_longer_than_the_run_hh_tuning_is_a_value_error():
    # HH at dt = 20 ms used to return 0 Hz; it warns that the step is coarse, then refuses it.
    with pytest.warns(jn.CoarseStepWarning), pytest.raises(ValueError, match=r"dt must be in \(0, t1 - t0\]"):
        jn.tuning_curve(jn.HodgkinHuxley(), jnp.array([10.0]), duration=10.0, dt=20.0)


def test_hh_step_too_coarse_to_resolve_a_spike_warns():
    # dt = 1 ms read 36 Hz for 68 Hz: a warning (the run is defined, only inaccurate), naming
    # dt and the limit.
    with pytest.warns(jn.CoarseStepWarning, match=r"dt = 1 ms is coarser than HodgkinHuxley .* \(dt <= 0.05 ms\)"):
        jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, solver=jn.ExpMidpointHH(1.0), ts=[])


@pytest.mark.slow  # RK4 over a diverging HH run
def test_hh_rk4_unstable_step_warns_then_fails():
    # RK4 at 0.1 ms diverges (it read 2 spikes for 68 Hz): the warning, then the non-finite
    # state as a run-time error
    with pytest.warns(jn.CoarseStepWarning), pytest.raises(RUNTIME_ERRORS, match="step is unstable"):
        jax.block_until_ready(jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 1000.0, solver=jn.RK4(0.1), ts=[]))


def test_hh_default_step_does_not_warn():
    # warnings are errors in this suite: the default (0.025 ms) and 0.05 ms run silently
    for dt in (None, 0.05):
        jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 20.0, dt=dt, ts=[])


def test_run_too_long_for_the_spike_buffer_is_a_value_error():
    # t1 - t0 = 1e12 was an OverflowError from JAX's argument parsing (and a MemoryError for
    # spike_statistics)
    with pytest.raises(ValueError, match=r"t1 - t0 = 1e\+12 s needs a spike buffer .* give max_spikes in \[1, "):
        jn.simulate(jn.LIF(), 10.0, 0.0, 1e12, check_units=False)
    with pytest.raises(ValueError, match=r"t1 - t0 = 1e\+12 s needs a spike buffer"):
        jn.tuning_curve(jn.LIF(), jnp.array([10.0]), duration=1e12)
    with pytest.raises(ValueError, match=r"steps is over the limit of 2147483647"):
        jn.spike_statistics(jn.LIF(), 10.0, 0.0, 1e12)
    with pytest.raises(ValueError, match=r"max_spikes must be an int in \[1, \d+\], got max_spikes = 10000000000000"):
        jn.simulate(jn.LIF(), 10.0, 0.0, 1.0, max_spikes=10**13)


def test_tiny_refractory_period_is_bounded_and_right():
    # tau_ref = 1e-12 was an OverflowError (a spike bound of 1e12)
    rate = float(jn.lif_rate(10.0, 0.02, 1e-12))
    assert int(jn.simulate(jn.LIF(tau_ref=1e-12), 10.0, 0.0, 1.0).spikes.count) == int(rate)
    np.testing.assert_allclose(jn.tuning_curve(jn.LIF(tau_ref=1e-12), jnp.array([10.0]), duration=1.0), rate, rtol=1e-3)


@pytest.mark.parametrize("max_steps", [0, -1, 1.5, True])
def test_max_steps_must_be_a_positive_int(max_steps):
    with pytest.raises(ValueError, match=r"max_steps must be an int in \[1, inf\), got max_steps ="):
        jn.simulate(jn.LIF(), 10.0, 0.0, 1.0, method="diffrax", max_steps=max_steps)


# --------------------------------------------------------------------- stacked neurons
@pytest.mark.parametrize("method", ["exact", "stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
def test_stacked_lif_on_every_path_matches_one_at_a_time(method):
    # A stacked neuron on the exact and diffrax paths was a broadcast error / diffrax's "Event
    # functions must return a scalar".
    taus = jnp.array([0.02, 0.03])
    drive = jn.Step(0.15, 10.0, 2.0)
    sim = jn.simulate(jn.LIF(tau_m=taus), drive, 0.0, 0.3, method=method, ts=np.linspace(0.0, 0.3, 31))
    assert sim.spikes.count.shape == (2,) and sim.ys.shape == (sim.ts.shape[0], 2)
    for i, tau in enumerate(taus):
        one = jn.simulate(jn.LIF(tau_m=tau), drive, 0.0, 0.3, method=method, ts=np.linspace(0.0, 0.3, 31))
        assert int(sim.spikes.count[i]) == int(one.spikes.count)
        np.testing.assert_allclose(sim.ys[:, i], one.ys, atol=1e-4)
        np.testing.assert_allclose(sim.spikes.times[i], one.spikes.times, atol=1e-6)


def test_stacked_lif_exact_with_a_stacked_y0():
    ts = np.linspace(0.0, 0.2, 5)
    sim = jn.simulate(jn.LIF(tau_m=jnp.array([[0.02, 0.03]])), 10.0, 0.0, 0.2, y0=jnp.array([[0.5], [0.0]]), ts=ts)
    expected = [
        [int(jn.simulate(jn.LIF(tau_m=t), 10.0, 0.0, 0.2, y0=y, ts=ts).spikes.count) for t in (0.02, 0.03)]
        for y in (0.5, 0.0)
    ]
    np.testing.assert_array_equal(sim.spikes.count, expected)
    assert sim.ys.shape == (5, 2, 2)


# --------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_parameters_are_refused_by_name(dtype):
    with pytest.raises(ValueError, match=rf"LIF.tau_m must be float32 or float64 .*; got dtype {jnp.dtype(dtype)}"):
        jn.simulate(jn.LIF(tau_m=jnp.asarray(0.02, dtype)), 2.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"HodgkinHuxley.g_K must be float32 or float64 .*; got dtype"):
        jn.simulate(jn.HodgkinHuxley(g_K=jnp.asarray(36.0, dtype)), 10.0, 0.0, 50.0)
    with pytest.raises(
        ValueError, match=rf"dtype must be a floating dtype \(float32 or float64; .*\), got {jnp.dtype(dtype)}"
    ):
        jn.tuning_curve(jn.LIF(), jnp.array([2.0]), duration=1.0, dtype=dtype)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("method", ["exact", "stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
def test_float32_parameter_under_x64(method):
    # a float32 tau_m among float64 parameters was a loop-carry dtype error on every path
    sim = jn.simulate(jn.LIF(tau_m=np.float32(0.02)), 2.0, 0.0, 1.0, method=method)
    assert int(sim.spikes.count) == 63
    assert sim.ys.dtype == jnp.float64


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("method", ["auto", "stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
def test_float32_dtype_under_x64(method):
    # tuning_curve(dtype=float32) with x64 on: the diffrax path was a lax.cond dtype error
    rates = jn.tuning_curve(jn.LIF(), jnp.array([2.0, 5.0]), duration=1.0, dtype=jnp.float32, method=method)
    assert rates.dtype == jnp.float32
    np.testing.assert_allclose(rates, jn.lif_rate(jnp.array([2.0, 5.0])), rtol=1e-3)


@pytest.mark.usefixtures("x64")
def test_float32_hh_under_x64_stays_float32():
    # HH's resting state was solved from a Python 0.0 (float64 under x64): dtype=float32 ran
    # and returned float64
    rates = jn.tuning_curve(jn.HodgkinHuxley(), jnp.array([10.0]), duration=100.0, dtype=jnp.float32)
    assert rates.dtype == jnp.float32 and 60 < float(rates[0]) < 75
    neuron = jax.tree.map(lambda a: np.float32(a), jn.HodgkinHuxley())
    assert neuron.initial_state().v.dtype == jnp.float32


@pytest.mark.parametrize(("neuron", "t1"), [(jn.LIF(), 1.0), (jn.HodgkinHuxley(), 100.0)])
def test_nan_drive_function_in_spike_statistics_is_a_runtime_error(neuron, t1):
    # no state is recorded there: the fixed-step loops check their final state
    with pytest.raises(RUNTIME_ERRORS, match="the state became non-finite"):
        jax.block_until_ready(jn.spike_statistics(neuron, lambda t: jnp.where(t > t1 / 2, jnp.nan, 10.0), 0.0, t1))
    with pytest.raises(RUNTIME_ERRORS, match="the state became non-finite"):
        jax.block_until_ready(jn.simulate(neuron, lambda t: jnp.where(t > t1 / 2, jnp.inf, 10.0), 0.0, t1, ts=[]))


@pytest.mark.parametrize("method", ["exact", "stepped", pytest.param("diffrax", marks=pytest.mark.slow)])
def test_y0_at_or_above_threshold_is_refused(method):
    # was a spike before t0 (exact: at t = -0.014), 0 spikes (diffrax) or a stepped-only error
    for y0 in (1.0, 1.5):
        with pytest.raises(ValueError, match=rf"y0 \(v\) must be below the threshold 1 of LIF .*; got v = {y0:g}"):
            jn.simulate(jn.LIF(), 2.0, 0.0, 1.0, y0=y0, method=method)
    run = jax.jit(lambda y: jn.simulate(jn.LIF(), 2.0, 0.0, 1.0, y0=y, method=method, max_spikes=100).spikes.count)
    _raises_at_run_time(run, 1.5, match=r"y0 \(v\) must be below the threshold of LIF")
    assert int(run(0.99)) == 64


def test_izhikevich_y0_above_its_peak_is_refused():
    neuron = jn.Izhikevich()
    y0 = eqx.tree_at(lambda s: s.v, neuron.initial_state(), jnp.asarray(35.0))
    with pytest.raises(ValueError, match=r"y0 \(v\) must be below the threshold 30 of Izhikevich .*; got v = 35"):
        jn.simulate(neuron, 10.0, 0.0, 100.0, y0=y0)

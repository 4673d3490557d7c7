"""simulate: the exact, stepped and diffrax paths against each other and independent references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import hh_scipy, lif_event_reference

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

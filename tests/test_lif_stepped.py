"""The encoded stepped LIF path (simulate's stepped LIF, spike_statistics, stepped tuning)
against a per-step numpy reference written from the definition, closed forms and the
other paths."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn
import jaxneuro._lif_stepped as ls


def reference_stepped(v_in_fn, t_end, dt, tau_m=0.02, tau_ref=0.002, v0=0.0):
    """Per-step float64 reference of the stepped LIF with the drive held at mid-step: the
    exponential solution over the part of each step after the refractory period, the
    threshold crossing inside the step from the closed form, the refractory period to the
    exact crossing time (the definition, with exp and log in every step)."""
    n_steps = int(round(t_end / dt))
    v, ref_end, spikes = v0, -np.inf, []
    for n in range(n_steps):
        t_n = n * dt
        v_in = v_in_fn(t_n + 0.5 * dt)
        start = min(max(t_n, ref_end), t_n + dt)
        if start >= t_n + dt:
            continue
        v = 0.0 if ref_end > t_n else v
        v_end = v_in + (v - v_in) * math.exp(-(t_n + dt - start) / tau_m)
        if v_end >= 1.0:
            t_spike = start + tau_m * math.log((v_in - v) / (v_in - 1.0))
            spikes.append(t_spike)
            ref_end = t_spike + tau_ref
            v = 0.0
        else:
            v = v_end
    return np.array(spikes)


def spikes_of(train):
    return np.asarray(train.times)[: int(train.count)]


@pytest.mark.parametrize(
    "tau_m, tau_ref",
    [(0.02, 0.002), (0.005, 0.0105), (0.02, 1e-4), (0.001, 0.03)],  # block 20, 105 (off-grid), 1 (= dt), ratio 30
)
def test_encoded_stepped_path_matches_per_step_definition(x64, tau_m, tau_ref):
    dt, t_end = 1e-4, 0.4
    wave = lambda t: 2.5 + 3.0 * np.sin(2 * np.pi * 6.0 * t)  # silent troughs, saturated peaks
    ref = reference_stepped(wave, t_end, dt, tau_m, tau_ref)
    neuron = jn.LIF(tau_m=tau_m, tau_ref=tau_ref)
    sim = jn.simulate(neuron, lambda t: 2.5 + 3.0 * jnp.sin(2 * jnp.pi * 6.0 * t), 0.0, t_end, method="stepped", dt=dt)
    got = spikes_of(sim.spikes)
    assert got.shape == ref.shape and len(ref) > 10
    # Both are the same closed form; float64 rounding of a few operations per step.
    np.testing.assert_allclose(got, ref, atol=1e-10)
    assert np.all(np.diff(got) >= tau_ref)


def test_refractory_period_ends_inside_a_step_exactly(x64):
    # Huge input: the neuron fires tau_m log(v_in/(v_in-1)) after each refractory end, which
    # falls at an arbitrary point inside a step (tau_ref = 2.05 dt multiples).
    tau_ref, v_in = 0.00205, 50.0
    sim = jn.simulate(jn.LIF(tau_ref=tau_ref), v_in, 0.0, 0.1, method="stepped", dt=1e-4)
    isi = np.diff(spikes_of(sim.spikes))
    np.testing.assert_allclose(isi, tau_ref + 0.02 * np.log(v_in / (v_in - 1.0)), rtol=1e-10)


def test_voltage_is_held_at_reset_while_refractory(x64):
    dt = 1e-4
    ts = np.arange(0, 1001) * dt
    sim = jn.simulate(jn.LIF(), 3.0, 0.0, 0.1, ts=ts, method="stepped", dt=dt)
    exact = jn.simulate(jn.LIF(), 3.0, 0.0, 0.1, ts=jnp.asarray(ts), method="exact")
    # Constant drive: the stepped path is exact at the grid points.
    np.testing.assert_allclose(np.asarray(sim.ys), np.asarray(exact.ys), atol=1e-11)
    spikes = spikes_of(sim.spikes)
    for s in spikes:
        inside = (ts > s + 1e-12) & (ts < s + 0.002 - 1e-12)
        assert np.all(np.asarray(sim.ys)[inside] == 0.0)


def test_encoded_state_is_one_float_and_decodes(x64):
    c = ls.encode_constants(jn.LIF(), jnp.asarray(1e-4))
    s = jnp.asarray(0.5)
    for _ in range(400):  # constant drive 3: fires; the mark holds the exact spike time
        s = ls.encoded_step(c, s, jnp.asarray(3.0))
        if s > c.scale + 1:
            break
    spiked, t_spike, unmarked = ls.read_spikes(c, s, jnp.asarray(0.0))
    # from v = 0.5 under v_in = 3: crossing after tau_m log((3 - 0.5)/(3 - 1)), relative to the stop
    steps = int(np.ceil(0.02 * np.log(2.5 / 2.0) / 1e-4))
    assert bool(spiked)
    np.testing.assert_allclose(float(t_spike) + steps * 1e-4, 0.02 * np.log(2.5 / 2.0), atol=1e-12)
    assert 2.0 <= float(unmarked) <= 1.0 + float(c.ratio)
    assert float(ls.voltage(unmarked)) == 0.0


def test_block_size_stays_static_for_a_neuron_built_inside_jit():
    seen = []

    @jax.jit
    def f(x):
        neuron = jn.LIF()
        seen.append(ls.block_steps(neuron, 1e-4))
        return jn.spike_statistics(neuron, x, 0.0, 0.1).count

    assert int(f(2.0)) == int(jn.spike_statistics(jn.LIF(), 2.0, 0.0, 0.1).count)
    assert seen == [20]  # floor(tau_ref / dt): spikes read once per refractory period


# ----------------------------------------------------------------------------- spike_statistics
def test_spike_statistics_equal_the_simulated_spike_train():
    offsets = jnp.linspace(0.6, 3.0, 64)

    def one(off):
        drive = jn.FunctionInput(lambda t: off + 0.5 * jnp.sin(2 * jnp.pi * 5.0 * t))
        stats = jn.spike_statistics(jn.LIF(), drive, 0.0, 1.0, transient=0.2, bin_width=0.05)
        train = jn.simulate(jn.LIF(), drive, 0.0, 1.0, ts=np.array([1.0]), method="stepped", max_spikes=256).spikes
        return stats, train

    stats, train = jax.jit(jax.vmap(one))(offsets)
    times, count = np.asarray(train.times), np.asarray(train.count)
    assert count.max() > 50
    np.testing.assert_array_equal(np.asarray(stats.count), count)
    for i in range(len(offsets)):
        t = times[i, : count[i]]
        after = t[t >= 0.2]
        assert int(stats.count_after[i]) == len(after)
        if len(after):
            np.testing.assert_allclose(float(stats.first_spike[i]), after[0], atol=2e-6)
            np.testing.assert_allclose(float(stats.last_spike[i]), after[-1], atol=2e-6)
        hist, _ = np.histogram(t, bins=np.linspace(0.0, 1.0, 21))
        np.testing.assert_array_equal(np.asarray(stats.bins[i]), hist)
    assert stats.bins.shape == (64, 20)
    np.testing.assert_allclose(np.asarray(stats.mean_rate), count / 1.0)


def test_spike_statistics_rate_matches_lif_rate():
    v_in = jnp.linspace(1.05, 10.0, 200)
    stats = jax.vmap(lambda x: jn.spike_statistics(jn.LIF(), x, 0.0, 1.0, transient=0.2))(v_in)
    ref = np.asarray(jn.lif_rate(v_in, 0.02, 0.002))
    np.testing.assert_allclose(np.asarray(stats.rate), ref, rtol=1e-3)


def test_stepped_tuning_curve_matches_lif_rate_and_exact_path():
    v_in = jnp.linspace(0.0, 5.0, 501)
    stepped = np.asarray(jn.tuning_curve(jn.LIF(), v_in, method="stepped"))
    exact = np.asarray(jn.tuning_curve(jn.LIF(), v_in, method="exact"))
    ref = np.asarray(jn.lif_rate(v_in, 0.02, 0.002))
    fires = np.asarray(v_in) >= 1.05
    np.testing.assert_allclose(stepped[fires], ref[fires], rtol=1e-3)
    # Away from v_in = 1, where float32 rounding decides whether v ever reaches threshold.
    away = np.abs(np.asarray(v_in) - 1.0) > 1e-3
    np.testing.assert_allclose(stepped[away], exact[away], rtol=1e-3, atol=1e-3)


@pytest.mark.slow  # 200 ms of HH at dt = 0.01 ms, twice (the LIF case above stays in the default run)
def test_spike_statistics_hh_equal_the_simulated_spike_train():
    drive = jn.Step(20.0, 12.0)
    stats = jn.spike_statistics(jn.HodgkinHuxley(), drive, 0.0, 200.0, dt=0.01, transient=50.0, bin_width=10.0)
    sim = jn.simulate(jn.HodgkinHuxley(), drive, 0.0, 200.0, ts=np.array([200.0]), method="stepped", dt=0.01)
    t = spikes_of(sim.spikes)
    after = t[t >= 50.0]
    assert int(stats.count) == len(t) and int(stats.count_after) == len(after) > 5
    np.testing.assert_allclose([float(stats.first_spike), float(stats.last_spike)], [after[0], after[-1]], atol=1e-4)
    np.testing.assert_array_equal(np.asarray(stats.bins), np.histogram(t, bins=np.linspace(0, 200, 21))[0])
    # HH time is in ms: the rate comes out in Hz.
    np.testing.assert_allclose(float(stats.rate), (len(after) - 1) / (after[-1] - after[0]) * 1e3, rtol=1e-5)


def test_spike_statistics_no_retrace_and_grid_of_parameters():
    traces = []

    @jax.jit
    def rates(tau_m, v_in):
        traces.append(1)
        return jax.vmap(lambda a, b: jn.spike_statistics(jn.LIF(tau_m=a), b, 0.0, 0.5, transient=0.1).rate)(tau_m, v_in)

    tau_m = jnp.array([0.01, 0.02, 0.03])
    v_in = jnp.array([2.0, 2.0, 2.0])
    r1 = rates(tau_m, v_in)
    r2 = rates(tau_m * 1.1, v_in)
    assert len(traces) == 1
    np.testing.assert_allclose(np.asarray(r1), np.asarray(jn.lif_rate(v_in, tau_m, 0.002)), rtol=2e-3)
    np.testing.assert_allclose(np.asarray(r2), np.asarray(jn.lif_rate(v_in, tau_m * 1.1, 0.002)), rtol=2e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bin_width=0.00015), r"bin_width must be a whole number of steps \(dt = 0.0001 s\) dividing"),
        (dict(bin_width=0.03), r"bin_width must be a whole number of steps .* got bin_width = 0.03"),
        (dict(transient=0.1), r"transient must be in \[t0, t1\) = \[0, 0.1\) s; got transient = 0.1"),
        (dict(transient=-0.01), r"transient must be in \[t0, t1\)"),
        (dict(dt=0.0), r"dt must be finite and in \(0, inf\) s; got dt = 0"),
        (dict(dt=0.003), r"dt must be <= tau_ref"),
    ],
)
def test_spike_statistics_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.spike_statistics(jn.LIF(), 2.0, 0.0, 0.1, **kwargs)


@pytest.mark.jaxtyping_off  # neuron=object() on purpose: the library's own TypeError
def test_stepped_lif_rejects_refractory_ratio_beyond_the_encoding():
    with pytest.raises(ValueError, match=r"tau_ref / tau_m <= 40 in float32 .* got tau_ref / tau_m = 100"):
        jn.simulate(jn.LIF(tau_m=1e-3, tau_ref=0.1), 2.0, 0.0, 0.2, method="stepped")
    with pytest.raises(TypeError, match=r"neuron must be a jaxneuro.AbstractNeuron .*got object"):
        jn.spike_statistics(object(), 2.0, 0.0, 0.1)


def test_stepped_lif_rejects_initial_voltage_at_threshold():
    with pytest.raises(Exception, match=r"y0 \(v\) must be below the threshold 1"):
        jax.block_until_ready(jn.simulate(jn.LIF(), 2.0, 0.0, 0.1, y0=1.2, method="stepped").spikes.count)

"""tuning_curve: LIF against the closed form, HH against an independent scipy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import hh_scipy, hh_scipy_rate, rate_from_spike_times

import jaxneuro as jn
import jaxneuro._tuning as tuning_module


def test_lif_exact_matches_closed_form_on_10000_inputs():
    v = jnp.linspace(1.05, 10.0, 10_000)
    rates = jn.tuning_curve(jn.LIF(), v)
    ref = jn.lif_rate(v)
    rel = np.abs(np.asarray(rates) - np.asarray(ref)) / np.asarray(ref)
    assert rel.max() <= 1e-3
    # Below and at threshold nothing fires.
    assert np.all(np.asarray(jn.tuning_curve(jn.LIF(), jnp.linspace(-1, 1, 101))) == 0)


@pytest.mark.parametrize("method", ["stepped", "diffrax"])
def test_lif_other_paths_match_closed_form(method):
    v = jnp.array([0.5, 1.05, 1.5, 3.0, 10.0])
    rates = np.asarray(jn.tuning_curve(jn.LIF(), v, method=method, duration=0.5))
    ref = np.asarray(jn.lif_rate(v))
    assert rates[0] == 0
    np.testing.assert_allclose(rates[1:], ref[1:], rtol=1e-3)


def test_lif_rate_rule_against_independent_numpy():
    # A slow neuron: only a few spikes after the transient; the rule must still be exact.
    v = 1.0005
    isi = 0.002 + 0.02 * np.log(v / (v - 1))
    times = 0.02 * np.log(v / (v - 1)) + isi * np.arange(10)
    ref = rate_from_spike_times(times[times <= 1.0], 1.0, 0.2, 1.0)
    got = float(jn.tuning_curve(jn.LIF(), v))
    assert got == pytest.approx(ref, rel=1e-4) and got == pytest.approx(1 / isi, rel=1e-4)


def test_parameter_sweep_broadcasts_and_vmaps():
    v = jnp.linspace(1.1, 5.0, 50)
    taus = jnp.array([0.01, 0.02, 0.05])[:, None]
    grid = jn.tuning_curve(jn.LIF(tau_m=taus), v)
    assert grid.shape == (3, 50)
    np.testing.assert_allclose(np.asarray(grid), np.asarray(jn.lif_rate(v, taus)), rtol=1e-4)
    vm = jax.vmap(lambda t: jn.tuning_curve(jn.LIF(tau_ref=t), v))(jnp.array([0.001, 0.004]))
    np.testing.assert_allclose(
        np.asarray(vm), np.asarray(jn.lif_rate(v, 0.02, jnp.array([[0.001], [0.004]]))), rtol=1e-4
    )


def test_jit_and_no_retrace_on_new_values(monkeypatch):
    calls = []
    original = tuning_module._solver_rates

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(tuning_module, "_solver_rates", counting)
    a = jn.tuning_curve(jn.LIF(), jnp.linspace(1.1, 3, 64))
    b = jn.tuning_curve(jn.LIF(tau_m=0.03), jnp.linspace(2, 5, 64))
    assert len(calls) == 1
    np.testing.assert_allclose(np.asarray(b), np.asarray(jn.lif_rate(jnp.linspace(2, 5, 64), 0.03)), rtol=1e-4)
    # Inside a user's jit too.
    f = jax.jit(lambda x: jn.tuning_curve(jn.LIF(), x))
    np.testing.assert_allclose(np.asarray(f(jnp.linspace(1.1, 3, 64))), np.asarray(a), rtol=1e-6)


def test_reverse_mode_gradient_matches_closed_form(x64):
    v = jnp.array([0.5, 1.5, 2.0, 4.0])
    g = jax.grad(lambda x: jn.tuning_curve(jn.LIF(), x).sum())(v)
    ref = jax.vmap(jax.grad(jn.lif_rate))(v)
    np.testing.assert_allclose(np.asarray(g), np.asarray(ref), rtol=1e-6)
    # and with respect to a neuron parameter
    gt = jax.grad(lambda t: jn.tuning_curve(jn.LIF(tau_m=t), jnp.array([2.0])).sum())(0.02)
    assert float(gt) == pytest.approx(float(jax.grad(lambda t: jn.lif_rate(2.0, t))(0.02)), rel=1e-6)


def test_float64_dtype(x64):
    r = jn.tuning_curve(jn.LIF(), jnp.array([2.0]), dtype=jnp.float64)
    assert r.dtype == jnp.float64
    assert float(r[0]) == pytest.approx(float(jn.lif_rate(2.0)), rel=1e-9)


HH_CURRENTS = [0.0, 4.0, 6.6, 10.0, 25.0, 50.0]


@pytest.fixture(scope="module")
def hh_reference():
    return np.array([hh_scipy_rate(I) for I in HH_CURRENTS])


# The scipy reference of the HH rate (six currents, 1 s each at tight tolerances) takes about
# 14 s on one core: the three tests that use it are slow; HH sweeps stay in the default run
# (test_hh_sweep_over_a_parameter, tests/test_chunked.py, tests/test_cli.py).
@pytest.mark.slow
def test_hh_matches_scipy_within_half_a_hertz(hh_reference):
    rates = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), jnp.array(HH_CURRENTS)))
    assert rates[0] == 0 and rates[1] == 0 and np.all(rates[2:] > 50)
    np.testing.assert_allclose(rates, hh_reference, atol=0.5)


@pytest.mark.slow  # the scipy reference (above)
def test_hh_rate_converges_at_second_order(hh_reference, x64):
    # The step is second order: half the step is four times closer.  In float64, since at
    # dt = 0.0125 ms float32 rounding of the state (about 0.01 Hz) is as large as the error.
    currents = jnp.array(HH_CURRENTS[2:], jnp.float64)
    coarse = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), currents, dtype=jnp.float64))
    fine = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), currents, dt=0.0125, dtype=jnp.float64))
    assert np.max(np.abs(fine - hh_reference[2:])) < 0.3 * np.max(np.abs(coarse - hh_reference[2:]))


@pytest.mark.slow  # the scipy reference (above)
def test_hh_diffrax_path_matches_scipy(hh_reference):
    rates = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), jnp.array(HH_CURRENTS[2:4]), method="diffrax"))
    np.testing.assert_allclose(rates, hh_reference[2:4], atol=0.05)


@pytest.mark.slow
def test_hh_onset_of_repetitive_firing_matches_scipy():
    grid = jnp.linspace(6.0, 6.5, 501)
    fires = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), grid)) > 0
    assert not fires[0] and fires[-1] and np.all(np.diff(fires.astype(int)) >= 0)
    onset = float(grid[np.argmax(fires)])
    lo, hi = 6.0, 6.5  # scipy bisection on "fires in steady state"
    while hi - lo > 0.005:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if hh_scipy_rate(mid) > 0 else (mid, hi)
    assert lo - 0.02 <= onset <= hi + 0.02


def test_hh_sweep_over_a_parameter():
    # Sodium conductance sweep broadcast against currents: a 2-D tuning surface.
    g = jnp.array([100.0, 120.0])[:, None]
    currents = [10.0, 30.0]
    surf = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(g_Na=g), jnp.array(currents), duration=300.0, transient=100.0))
    assert surf.shape == (2, 2)
    ref = [
        [rate_from_spike_times(hh_scipy(I, 300.0, g_na=gna)[1], 300.0, 100.0, 1e-3) for I in currents]
        for gna in (100.0, 120.0)
    ]
    np.testing.assert_allclose(surf, ref, atol=0.5)
    assert surf[1, 0] > 0 and surf[1, 1] > surf[1, 0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(inputs=jnp.array([1.0, jnp.nan])), r"inputs must be finite"),
        (dict(duration=0.0), r"duration must be in \[0.01, inf\) s .*; got duration = 0 s"),
        (dict(duration=-1.0), r"duration must be in \[0.01, inf\) s"),
        (dict(duration=0.005), r"duration must be in \[0.01, inf\) s .*; got duration = 0.005 s"),
        (dict(transient=1.0), r"transient must be in \[0, duration\) = \[0, 1\) s; got transient = 1 s"),
        (dict(transient=-0.1), r"transient must be in \[0, duration\)"),
        (dict(method="stepped", dt=0.0), r"dt must be in \(0, inf\) s; got dt = 0"),
        (dict(method="stepped", dt=0.01), r"dt must be <= tau_ref"),
        # method="rk4" lies outside its Literal on purpose (run-time jaxtyping checks off for it,
        # so that the library's ValueError is tested)
        pytest.param(dict(method="rk4"), r"method must be one of", marks=pytest.mark.jaxtyping_off),
        (dict(dtype=jnp.int32), r"dtype must be a floating dtype"),
        (dict(dtype=jnp.float64), r"dtype=float64 needs jax_enable_x64"),
    ],
)
def test_tuning_validation(kwargs, match):
    inputs = kwargs.pop("inputs", jnp.array([1.5, 2.0]))
    with pytest.raises(ValueError, match=match):
        jn.tuning_curve(jn.LIF(), inputs, **kwargs)


def test_tuning_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"inputs of shape \(5,\) do not broadcast against .*tau_m \(3,\)"):
        jn.tuning_curve(jn.LIF(tau_m=jnp.array([0.01, 0.02, 0.03])), jnp.linspace(1, 2, 5))


def test_tuning_validation_model_specific():
    with pytest.raises(ValueError, match=r"method='exact' is for LIF neurons only"):
        jn.tuning_curve(jn.HodgkinHuxley(), jnp.array([10.0]), method="exact")
    with pytest.raises(ValueError, match=r"dt must be in \(0, inf\) ms; got dt = -0.01"):
        jn.tuning_curve(jn.HodgkinHuxley(), jnp.array([10.0]), dt=-0.01, method="stepped")
    with pytest.raises(Exception, match=r"inputs must be finite"):
        jax.jit(lambda x: jn.tuning_curve(jn.LIF(), x))(jnp.array([jnp.nan])).block_until_ready()
    # Times are in the neuron's unit: 0.3 meant as seconds is 0.3 ms for HH, too short to say.
    with pytest.raises(
        ValueError, match=r"duration must be in \[10, inf\) ms .*HodgkinHuxley.*; for 0.3 s pass duration=300"
    ):
        jn.tuning_curve(jn.HodgkinHuxley(), jnp.array([10.0]), duration=0.3)


@pytest.mark.slow  # 1000 adaptive diffrax runs; the diffrax sweep stays in test_lif_other_paths_match_closed_form
def test_lif_diffrax_sweep_over_1000_inputs_matches_closed_form():
    v = jnp.linspace(0.0, 5.0, 1000)
    rates = np.asarray(jn.tuning_curve(jn.LIF(), v, method="diffrax"))
    ref = np.asarray(jn.lif_rate(v))
    fires = ref > 0
    assert np.all(rates[~fires] == 0)
    # diffrax rtol 1e-6 on the ISI; float32 event times over 1 s carry a few ulps each.
    np.testing.assert_allclose(rates[fires], ref[fires], rtol=1e-3)


@pytest.mark.slow
def test_hh_diffrax_sweep_over_1000_currents_matches_scipy(hh_reference):
    currents = jnp.linspace(0.0, 50.0, 1000)
    rates = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), currents, method="diffrax"))
    # At the currents of the scipy reference (away from the onset near 6.26 uA/cm^2) ...
    picks = [int(np.argmin(np.abs(np.asarray(currents) - c))) for c in HH_CURRENTS]
    ref = np.array([hh_scipy_rate(float(currents[i])) for i in picks])
    np.testing.assert_allclose(rates[picks], ref, atol=0.05)
    # ... and everywhere against the second-order stepped solver at a quarter of its step
    # (rate error below 0.01 Hz there), off the onset where a transient can last the run.
    fine = np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), currents, dt=0.00625))
    off_onset = np.abs(np.asarray(currents) - 6.3) > 0.3
    np.testing.assert_allclose(rates[off_onset], fine[off_onset], atol=0.1)

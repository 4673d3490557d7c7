"""Fitting neuron parameters (jaxneuro._fitting): recovery of known parameters from synthetic
targets made by the library with other values, the non-smooth parts, and bad input."""

from __future__ import annotations

import io

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxneuro as jn
from jaxneuro._fitting import (
    FICurveTarget,
    FitResult,
    SpikeTimesTarget,
    fit_neuron,
    free_parameter_names,
)

LIF_FREE = {"tau_m": (0.002, 0.1), "tau_ref": (1e-4, 0.01)}
HH_FREE = {"g_Na": (50.0, 200.0), "g_K": (10.0, 80.0)}
HH_KW = dict(duration=150.0, transient=30.0, dt=0.05)


def rel_err(fit, true, names):
    return {k: abs(float(getattr(fit, k)) / float(getattr(true, k)) - 1) for k in names}


# ----------------------------------------------------------------------------- LIF
def _lif_target(true):
    x = jnp.linspace(0.5, 6.0, 12)  # two silent points, then the firing branch
    return FICurveTarget(x, jn.tuning_curve(true, x))


def test_lif_fi_curve_recovers_tau_m_tau_ref():
    true = jn.LIF(tau_m=0.03, tau_ref=0.004)
    fit = fit_neuron(jn.LIF(tau_m=0.02, tau_ref=0.002), _lif_target(true), LIF_FREE, optimizer=optax.lbfgs(), steps=30)
    assert isinstance(fit, FitResult) and isinstance(fit.neuron, jn.LIF)
    err = rel_err(fit.neuron, true, LIF_FREE)
    assert max(err.values()) < 0.01, err
    assert fit.losses.shape == (30,) and fit.history["tau_m"].shape == (30,)
    assert float(fit.final_loss) < 1e-3 * float(fit.losses[0])
    # the other parameters are untouched
    assert float(fit.neuron.V_th) == 1.0 and float(fit.neuron.R) == 1.0


def test_lif_default_adam_decreases_loss():
    true = jn.LIF(tau_m=0.03, tau_ref=0.004)
    fit = fit_neuron(jn.LIF(tau_m=0.02, tau_ref=0.002), _lif_target(true), LIF_FREE, steps=300)
    assert float(fit.final_loss) < 1e-2 * float(fit.losses[0])
    err = rel_err(fit.neuron, true, LIF_FREE)
    assert max(err.values()) < 0.1, err  # measured 3.5% and 6.5%: Adam is slow along the tau_m-tau_ref valley


@pytest.mark.slow
def test_lif_spike_times_recover_tau_m_tau_ref():
    true = jn.LIF(tau_m=0.03, tau_ref=0.004)
    drive = jn.Step(0.05, 1.0, 3.0)  # silent, then a step: latency and ISIs
    spikes = jn.simulate(true, drive, 0.0, 0.3).spikes
    times = np.asarray(spikes.times[: int(spikes.count)])
    target = SpikeTimesTarget(drive, times, 0.0, 0.3)
    fit = fit_neuron(jn.LIF(tau_m=0.02, tau_ref=0.002), target, LIF_FREE, optimizer=optax.lbfgs(), steps=30)
    err = rel_err(fit.neuron, true, LIF_FREE)
    assert max(err.values()) < 0.01, err


@pytest.mark.slow  # 20-50 s on one core (L-BFGS's line search compiles)
def test_lif_float64(x64):
    true = jn.LIF(tau_m=0.03, tau_ref=0.004)
    fit = fit_neuron(jn.LIF(tau_m=0.02, tau_ref=0.002), _lif_target(true), LIF_FREE, optimizer=optax.lbfgs(), steps=30)
    assert fit.losses.dtype == jnp.float64 and fit.neuron.tau_m.dtype == np.float64
    err = rel_err(fit.neuron, true, LIF_FREE)
    assert max(err.values()) < 1e-6, err


def test_progress_bar_writes_one_line():
    stream = io.StringIO()
    true = jn.LIF(tau_m=0.03, tau_ref=0.004)
    fit_neuron(jn.LIF(), _lif_target(true), {"tau_m": (0.002, 0.1)}, steps=3, progress=stream)
    out = stream.getvalue()
    assert out.count("\n") == 1 and "3/3" in out and "loss=" in out


# ----------------------------------------------------------------------------- HH
def _hh_target(true):
    x = jnp.asarray([4.0, 10.0, 25.0, 40.0])  # 4: silent, at the onset bracket; then the firing branch
    return FICurveTarget(x, jn.tuning_curve(true, x, **HH_KW), **HH_KW)


@pytest.mark.slow
def test_hh_fi_curve_recovers_g_na_g_k():
    true = jn.HodgkinHuxley(g_Na=110.0, g_K=33.0)
    fit = fit_neuron(jn.HodgkinHuxley(), _hh_target(true), HH_FREE, optimizer=optax.lbfgs(), steps=15)
    err = rel_err(fit.neuron, true, HH_FREE)
    assert max(err.values()) < 0.02, err


@pytest.mark.slow  # 20-50 s on one core (L-BFGS's line search compiles)
def test_hh_fi_curve_recovers_g_k_short():
    true = jn.HodgkinHuxley(g_K=33.0)
    x = jnp.asarray([20.0])
    kw = dict(duration=60.0, transient=15.0, dt=0.05)
    target = FICurveTarget(x, jn.tuning_curve(true, x, **kw), **kw)
    fit = fit_neuron(jn.HodgkinHuxley(), target, {"g_K": (10.0, 80.0)}, optimizer=optax.lbfgs(), steps=5)
    err = rel_err(fit.neuron, true, ["g_K"])
    assert err["g_K"] < 0.02, err


def test_onset_points_get_zero_weight():
    # HH jumps from 0 to ~70 Hz between 4 and 10 uA/cm^2 and is blocked above ~60: both
    # switches' bracketing points are left out, the others kept.
    x = np.array([0.0, 4.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0])
    r = np.array([0.0, 0.0, 70.0, 90.0, 110.0, 120.0, 0.0, 0.0])
    t = FICurveTarget(x, r)
    np.testing.assert_array_equal(np.asarray(t.weights), [1, 0, 0, 1, 1, 0, 0, 1])
    t = FICurveTarget(x, r, onset_margin=10.0)  # [4, 10] and [60, 80] widened by 10
    np.testing.assert_array_equal(np.asarray(t.weights), [0, 0, 0, 0, 1, 0, 0, 1])
    t = FICurveTarget(x, r, exclude_onset=False)
    np.testing.assert_array_equal(np.asarray(t.weights), np.ones(8))


def test_model_silent_at_every_firing_point_is_an_error():
    # The target fires at inputs 0.45-0.9 (a neuron with a lower threshold); LIF is silent below 1.
    x = jnp.linspace(0.45, 0.9, 4)
    rates = jn.tuning_curve(jn.LIF(), 4 * x)
    with pytest.raises(ValueError, match="silent at every input where the target fires"):
        fit_neuron(jn.LIF(), FICurveTarget(x, rates), LIF_FREE, steps=1)


# ----------------------------------------------------------------------------- AdEx
def _adex_targets(true, t1, currents):
    targets = []
    for current in currents:
        sim = jn.simulate(true, current, 0.0, t1, dt=0.05, method="stepped", max_spikes=100)
        times = np.asarray(sim.spikes.times[: int(sim.spikes.count)])
        targets.append(SpikeTimesTarget(current, times, 0.0, t1, dt=0.05, method="stepped"))
    return targets


@pytest.mark.slow
def test_adex_spike_times_recover_a_b_tau_w():
    # Two steps (700 and 1000 pA, 300 ms): the first ISIs set b, the adaptation's time course
    # tau_w, and the adapted ISIs at two currents a against b.
    true = jn.AdEx()
    free = {"a": (0.0, 20.0), "b": (0.0, 300.0), "tau_w": (10.0, 500.0)}
    start = jn.AdEx(a=2.0, b=60.0, tau_w=100.0)
    fit = fit_neuron(start, _adex_targets(true, 300.0, [700.0, 1000.0]), free, optimizer=optax.lbfgs(), steps=15)
    err = rel_err(fit.neuron, true, free)
    assert max(err.values()) < 0.05, err


@pytest.mark.slow  # 20-50 s on one core (L-BFGS's line search compiles)
def test_adex_spike_times_recover_b_short():
    true = jn.AdEx()
    fit = fit_neuron(
        jn.AdEx(b=60.0), _adex_targets(true, 80.0, [1000.0]), {"b": (0.0, 300.0)}, optimizer=optax.lbfgs(), steps=5
    )
    err = rel_err(fit.neuron, true, ["b"])
    assert err["b"] < 0.05, err


# ----------------------------------------------------------------------------- losses
def test_spike_time_loss_is_continuous_when_a_spike_leaves_the_window():
    # As tau_m grows the last spike moves to t1 and out: the loss has no jump there.
    drive = 1.5
    target = SpikeTimesTarget(drive, [0.02, 0.045], 0.0, 0.1)
    taus = np.linspace(0.015, 0.03, 301)
    losses = np.asarray(jax.jit(jax.vmap(lambda t: target.loss(jn.LIF(tau_m=t))))(taus))
    assert np.all(np.isfinite(losses))
    assert np.max(np.abs(np.diff(losses))) < 0.05 * (losses.max() - losses.min())


def test_gradient_finite_where_model_spikes_fewer_than_target():
    target = SpikeTimesTarget(1.5, [0.01, 0.02, 0.03, 0.04, 0.05], 0.0, 0.06)
    g = jax.jit(jax.grad(lambda tau: target.loss(jn.LIF(tau_m=tau))))(0.02)
    assert np.isfinite(g) and g != 0


# ----------------------------------------------------------------------------- bad input
def _lif_fit(free, neuron=None):
    x = jnp.linspace(1.5, 3.0, 4)
    return fit_neuron(neuron or jn.LIF(), FICurveTarget(x, jn.tuning_curve(jn.LIF(), x)), free, steps=1)


@pytest.mark.parametrize(
    "free, match",
    [
        ({"tau_m": (0.0, 0.1)}, r"lower bound 0 of tau_m is outside LIF's valid range.*\(0, inf\) s"),
        ({"tau_m": (-1.0, 0.1)}, r"lower bound -1 of tau_m .*\(0, inf\)"),
        ({"tau_ref": (0.0, 0.01)}, r"lower bound 0 of tau_ref .*\(0, inf\) s"),
        ({"tau_m": (0.1, 0.01)}, "lower < upper"),
        ({"tau_m": (None, None)}, "at least one finite end"),
        pytest.param({"tau_m": "fast"}, "a pair", marks=pytest.mark.jaxtyping_off),  # not a pair on purpose
        ({"tau_m": (0.03, 0.1)}, r"initial value of tau_m = 0.02 is not strictly inside its bounds \(0.03, 0.1\)"),
        ({"tau_m": (0.001, 0.015)}, "not strictly inside"),
        ({"tau": (0.001, 0.1)}, "unknown parameter 'tau' of LIF; the parameters are tau_m, tau_ref, V_L, V_th, R"),
        ({}, "non-empty dict"),
    ],
)
def test_bad_free(free, match):
    with pytest.raises(ValueError, match=match):
        _lif_fit(free)


def test_conductance_bound_below_zero_is_an_error():
    x = jnp.asarray([10.0, 20.0])
    target = FICurveTarget(x, [70.0, 90.0], duration=50.0, dt=0.05)
    with pytest.raises(ValueError, match=r"lower bound -5 of g_K is outside HodgkinHuxley's valid range.*\[0, inf\)"):
        fit_neuron(jn.HodgkinHuxley(), target, {"g_K": (-5.0, 80.0)}, steps=1)
    with pytest.raises(ValueError, match="the parameters are C, g_Na, g_K, g_L"):
        fit_neuron(jn.HodgkinHuxley(), target, {"gK": (0.0, 80.0)}, steps=1)


def test_adex_bounds():
    free = {"tau_w": (0.0, 500.0)}
    target = SpikeTimesTarget(1000.0, [20.0], 0.0, 50.0)
    with pytest.raises(ValueError, match=r"lower bound 0 of tau_w is outside AdEx's valid range.*\(0, inf\) ms"):
        fit_neuron(jn.AdEx(), target, free, steps=1)
    assert free_parameter_names(jn.AdEx())[:3] == ("C", "g_L", "E_L")


def test_bad_targets_and_steps():
    with pytest.raises(ValueError, match="rates must be in"):
        FICurveTarget([1.0, 2.0], [-1.0, 3.0])
    with pytest.raises(ValueError, match="one non-zero length"):
        FICurveTarget([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="no point where the target fires"):
        FICurveTarget([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="sorted and in"):
        SpikeTimesTarget(1.5, [0.05, 0.02], 0.0, 0.1)
    with pytest.raises(ValueError, match="sorted and in"):
        SpikeTimesTarget(1.5, [0.2], 0.0, 0.1)
    with pytest.raises(ValueError, match="capacity"):
        SpikeTimesTarget(1.5, [0.02, 0.05], 0.0, 0.1, capacity=1)
    with pytest.raises(ValueError, match=r"steps must be an int in \[1, inf\), got steps = "):
        fit_neuron(jn.LIF(), SpikeTimesTarget(1.5, [0.02], 0.0, 0.1), LIF_FREE, steps=0)


@pytest.mark.jaxtyping_off  # target = [(1.0, 2.0)] and neuron = object(): wrong types on purpose
def test_bad_target_and_neuron_types():
    with pytest.raises(TypeError, match="FICurveTarget or a SpikeTimesTarget"):
        fit_neuron(jn.LIF(), [(1.0, 2.0)], LIF_FREE)
    with pytest.raises(TypeError, match="AbstractNeuron"):
        fit_neuron(object(), SpikeTimesTarget(1.5, [0.02], 0.0, 0.1), LIF_FREE)

"""The fast LIF network kernel (``simulate_lif_network``) against the readable reference step.

``jaxneuro._network._lif_reference`` is written from the notes' equations in plain numpy
float64 (closed forms between events, crossings by bisection to rounding, one step and one
spike at a time) with the same time convention as the kernel (drive held over each step, a
step's incoming spikes applied after its crossings).  The two share no simulation code (the
reference uses only the counter-based noise draws, so that noisy runs can be compared).
Equal spike for spike: the same number of spikes per neuron, the same times to within a
tolerance set by the floating-point precision of the kernel.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxneuro import LIF, LIFNetwork, LIFPopulation, NetworkState, SpikeTrain, simulate_lif_network
from jaxneuro._network._lif_reference import simulate_reference


def tolerance(dtype, T, tau_m):
    """Spike times are rounded to ``eps T``; a crossing time inherits the rounding of ``v``
    divided by its slope (``eps tau_m`` for a slope of order ``1/tau_m``), and the networks
    are chaotic: errors grow as spikes propagate (measured: by up to 1,000 in 0.3 s at 30 Hz).
    Allow a factor 10,000 over both: still far below what a wrongly handled event gives
    (an error of order ``dt``)."""
    eps = float(jnp.finfo(dtype).eps)
    return 1e4 * eps * (T + tau_m)


def assert_spike_for_spike(result, ref, atol):
    count = np.asarray(result.spike_count)
    times = np.asarray(result.spikes.times)
    assert count.tolist() == [len(r) for r in ref]
    for i, r in enumerate(ref):
        np.testing.assert_allclose(times[i, : count[i]], r, rtol=0, atol=atol, err_msg=f"neuron {i}")


def assert_same_final_state(result, final, atol):
    for name, got, want in zip(NetworkState._fields, result.final_state, final, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=atol, err_msg=name)


def random_ei(rng, n_e, n_i, p=0.2, w_e=0.02, w_i=-0.06):
    """A random excitatory/inhibitory weight matrix (columns of E positive, of I negative)."""
    N = n_e + n_i
    W = rng.random((N, N)) < p
    W = W * np.concatenate([rng.uniform(0, 2 * w_e, (N, n_e)), rng.uniform(2 * w_i, 0, (N, n_i))], axis=1)
    np.fill_diagonal(W, 0.0)
    return W


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_excitatory_inhibitory_network_with_drive_array(x64, seed):
    """One population, E and I columns, refractory periods per neuron, a drive array per step
    and neuron; several spikes per step (more than one pass of ``max_spikes_per_step``)."""
    rng = np.random.default_rng(seed)
    N, dt, T = 40, 1e-4, 0.3
    steps = round(T / dt)
    W = random_ei(rng, 32, 8)
    tau_ref = rng.uniform(0.002, 0.004, N)
    net = LIFNetwork.from_weights(W, LIF(tau_m=0.02, tau_ref=tau_ref), tau_s=0.005, bias=rng.uniform(0.9, 1.4, N))
    drive = 0.3 * np.sin(np.arange(steps)[:, None] * dt * 2 * np.pi * 5 + rng.uniform(0, 6, N))
    ref, final = simulate_reference(net, T, dt=dt, drive=drive)
    res = simulate_lif_network(net, T, dt=dt, drive=drive, max_spikes_per_step=2)
    assert sum(map(len, ref)) > 500
    assert_spike_for_spike(res, ref, tolerance(jnp.float64, T, 0.02))
    assert_same_final_state(res, final, 1e-9)


@pytest.mark.slow  # two compilations in float64 and a 2,500-step reference run
def test_populations_inputs_and_callable_drive(x64):
    """Two populations with their own tau_m, tau_s and tau_ref (with tau_s = tau_m in one,
    the series branch of K), feed-forward and recurrent weights, input spike trains, a
    callable drive and a start time t0."""
    rng = np.random.default_rng(2)
    nE, nI, dt, T, t0 = 20, 6, 1e-4, 0.25, 0.1
    exc = LIFPopulation(nE, LIF(tau_m=0.02, tau_ref=0.002), tau_s=0.005, bias=rng.uniform(0.8, 1.3, nE), name="E")
    inh = LIFPopulation(nI, LIF(tau_m=0.01, tau_ref=0.003), tau_s=0.01, bias=rng.uniform(0.7, 1.1, nI), name="I")
    W_EE = random_ei(rng, nE, 0, p=0.3)
    W_IE = np.where(rng.random((nI, nE)) < 0.5, 0.03, 0.0)
    W_EI = np.where(rng.random((nE, nI)) < 0.5, -0.05, 0.0)
    net = LIFNetwork([exc, inh], {("E", "E"): W_EE, ("I", "E"): W_IE, ("E", "I"): W_EI})
    n_in = 5
    train = SpikeTrain.from_times([np.sort(rng.uniform(t0 - 0.01, t0 + T, 30)) for _ in range(n_in)])
    W_in = np.where(rng.random((nE + nI, n_in)) < 0.4, rng.uniform(-0.05, 0.1, (nE + nI, n_in)), 0.0)
    phase = jnp.arange(nE + nI) / 7.0

    def drive(t):
        return 0.2 * jnp.cos(2 * jnp.pi * 8.0 * t + phase)

    ref, final = simulate_reference(net, T, dt=dt, t0=t0, drive=drive, inputs=(train, W_in))
    res = simulate_lif_network(net, T, dt=dt, t0=t0, drive=drive, inputs=(train, W_in))
    assert sum(map(len, ref[nE:])) > 20 and sum(map(len, ref)) > 200
    assert_spike_for_spike(res, ref, tolerance(jnp.float64, t0 + T, 0.02))
    assert_same_final_state(res, final, 1e-9)


@pytest.mark.slow  # two compilations in float64 and a 2,000-step reference run
def test_initial_state_noise_and_differentiable_path(x64):
    """A given initial state (refractory clocks, v, s, last drive), white noise from a key,
    and the static-length loops of ``differentiable=True``."""
    rng = np.random.default_rng(4)
    N, dt, T = 30, 1e-4, 0.2
    pop = LIFPopulation(N, LIF(tau_m=0.015, tau_ref=0.002), tau_s=0.004, bias=1.1, noise=0.3)
    net = LIFNetwork([pop], {(0, 0): random_ei(rng, 24, 6, w_e=0.03)})
    state0 = NetworkState(
        jnp.asarray(rng.uniform(0, 0.99, N)),
        jnp.asarray(rng.uniform(-1, 3, N)),
        jnp.asarray(rng.uniform(-2 * dt, 0.002, N)),
        jnp.full(N, 1.1),
    )
    key = jax.random.key(3)
    ref, final = simulate_reference(net, T, dt=dt, key=key, state0=state0)
    assert sum(map(len, ref)) > 200
    for differentiable in (False, True):
        res = simulate_lif_network(net, T, dt=dt, key=key, state0=state0, differentiable=differentiable)
        assert_spike_for_spike(res, ref, tolerance(jnp.float64, T, 0.015))
        assert_same_final_state(res, final, 1e-9)


def test_float32_kernel_against_float64_reference():
    """In float32 (the default), the kernel's spike times agree with the float64 reference to
    the float32 tolerance on a short run (before rounding differences can change a spike)."""
    rng = np.random.default_rng(5)
    N, dt, T = 30, 1e-4, 0.1
    net = LIFNetwork.from_weights(
        random_ei(rng, 24, 6), LIF(tau_m=0.02, tau_ref=0.002), tau_s=0.005, bias=rng.uniform(1.0, 1.5, N)
    )
    res = simulate_lif_network(net, T, dt=dt)
    assert res.spikes.times.dtype == jnp.float32
    ref, _ = simulate_reference(net, T, dt=dt)
    assert sum(map(len, ref)) > 50
    assert_spike_for_spike(res, ref, tolerance(jnp.float32, T, 0.02))


def test_reference_single_neuron_is_the_lif_closed_form(x64):
    """The reference itself: a lone neuron with constant drive J fires first at tau_m ln(J/(J-1))
    and then every tau_ref + tau_m ln(J/(J-1)) (notes ch. 1.3)."""
    J, tm, tr = 1.5, 0.02, 0.002
    net = LIFNetwork.from_weights(np.zeros((1, 1)), LIF(tau_m=tm, tau_ref=tr), bias=J)
    ref, _ = simulate_reference(net, 0.2, dt=1e-4)
    isi = tm * math.log(J / (J - 1))
    np.testing.assert_allclose(ref[0], isi + np.arange(len(ref[0])) * (isi + tr), rtol=0, atol=1e-14)

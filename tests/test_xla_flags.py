"""``enable_cpu_loop_kernels``: XLA's CPU compiler builds each loop as one kernel.

The option changes how XLA emits code, not what it computes: the network simulator's tests
against the independent event-driven reference (``tests/test_network.py``) are run again in
a fresh process with the option on, and spike times of a noisy network are compared between
the two ways of compiling.
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro.experimental as jx
from jaxneuro._xla_flags import LOOP_KERNEL_OPTION, LOOP_KERNEL_THRESHOLD

ROOT = Path(__file__).resolve().parent.parent
OPTION = f"{LOOP_KERNEL_OPTION}={LOOP_KERNEL_THRESHOLD}"
EXTRA = "--xla_backend_extra_options="


@pytest.mark.parametrize(
    "before, after",
    [
        ("", f"--xla_backend_extra_options={OPTION}"),
        ("--xla_cpu_multi_thread_eigen=true", f"--xla_cpu_multi_thread_eigen=true {EXTRA}{OPTION}"),
        ("--xla_backend_extra_options=a=1 --x=2", f"--xla_backend_extra_options=a=1,{OPTION} --x=2"),
        ("--xla_backend_extra_options= --x=2", f"--xla_backend_extra_options={OPTION} --x=2"),
        (f"--xla_backend_extra_options={LOOP_KERNEL_OPTION}=0", f"--xla_backend_extra_options={LOOP_KERNEL_OPTION}=0"),
    ],
)
def test_flags_are_merged_into_existing_ones(before, after):
    assert jx.cpu_loop_kernel_flags(before) == after


def test_enabling_after_jax_compiled_raises_and_restores_the_environment(monkeypatch):
    jax.block_until_ready(jnp.arange(3.0) + 1.0)  # XLA has read its options in this process
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
    if jx.cpu_loop_kernels_enabled():  # the test run was started with the option: a no-op
        assert jx.enable_cpu_loop_kernels() is True
        return
    with pytest.raises(RuntimeError, match="before any JAX computation"):
        jx.enable_cpu_loop_kernels()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"
    assert jx.enable_cpu_loop_kernels(strict=False) is False
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"


def test_enabling_in_a_fresh_process_takes_effect():
    """The default run's check that the option reaches XLA (the slow tests below compare
    whole simulations compiled both ways)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    script = (
        "import jaxneuro.experimental as jx; assert jx.enable_cpu_loop_kernels() is True; "
        "print(jx.cpu_loop_kernels_enabled())"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "True"


_SCRIPT = """
import sys
import jaxneuro as jn
import jaxneuro.experimental as jx
if sys.argv[1] == "on":
    assert jx.enable_cpu_loop_kernels() is True
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
print("ENABLED", jx.cpu_loop_kernels_enabled())
rng = np.random.default_rng(3)
N = 60
W = np.where(rng.random((N, N)) < 0.1, rng.normal(0, 1, (N, N)) * 0.002, 0.0)
np.fill_diagonal(W, 0.0)
exc = jn.LIFPopulation(40, jn.LIF(tau_m=0.02, tau_ref=0.002), tau_s=0.005, bias=rng.uniform(1.0, 1.4, 40), noise=0.1)
inh = jn.LIFPopulation(20, jn.LIF(tau_m=0.01, tau_ref=0.003), tau_s=0.01, bias=1.2, noise=0.1)
net = jn.LIFNetwork([exc, inh], {(0, 0): W[:40, :40], (1, 0): W[40:, :40], (0, 1): -np.abs(W[:40, 40:])})
res = jax.jit(lambda k: jn.simulate_network(net, 0.1, dt=1e-4, key=k, max_spikes=64, trace_every=100))(
    jax.random.key(0)
)
trials = jax.jit(jax.vmap(lambda k: jn.simulate_network(net, 0.05, dt=1e-4, key=k, max_spikes=32).spike_count))(
    jax.random.split(jax.random.key(1), 3)
)
W3 = jnp.array([[0.0, 0.0, 0.0], [0.003, 0.0, 0.0], [0.002, 0.004, 0.0]])
ts = jnp.linspace(0.0, 0.3, 301)

def readout(W):
    J = jnp.array([1.4, 0.95, 0.9])
    small = jn.LIFNetwork.from_weights(W, jn.LIF(tau_m=0.02, tau_ref=0.002), tau_s=0.005, bias=J)
    r = jn.simulate_network(small, 0.3, dt=1e-4, max_spikes=40, differentiable=True, max_spikes_per_step=3)
    return jnp.mean(jn.filter_spikes(jn.SpikeTrain(r.spikes.times[2], r.spikes.count[2]), 0.02, 1, ts=ts))

grad = jax.jit(jax.grad(readout))(W3)
np.savez(
    sys.argv[2],
    times=np.asarray(res.spikes.times),
    counts=np.asarray(res.spike_count),
    v=np.asarray(res.v),
    trials=np.asarray(trials),
    grad=np.asarray(grad),
)
"""


def _run(tmp_path, mode):
    out = tmp_path / f"{mode}.npz"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode, str(out)], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, np.load(out)


@pytest.mark.slow  # two fresh processes compile and run a noisy network (about 30 s on one core)
def test_loop_kernels_give_the_same_spikes(tmp_path):
    """Two populations, noise, recurrent and feed-forward weights, traces, trials under vmap
    and a reverse-mode gradient (``differentiable=True``): the same spike counts, and times,
    voltages and gradients equal to float64 rounding (the code differs only in how XLA emits
    it)."""
    out_on, on = _run(tmp_path, "on")
    out_off, off = _run(tmp_path, "off")
    assert "ENABLED True" in out_on and "ENABLED False" in out_off
    np.testing.assert_array_equal(on["counts"], off["counts"])
    assert on["counts"].sum() > 100
    finite = np.isfinite(off["times"])
    np.testing.assert_array_equal(np.isfinite(on["times"]), finite)
    np.testing.assert_allclose(on["times"][finite], off["times"][finite], rtol=0, atol=1e-12)
    np.testing.assert_allclose(on["v"], off["v"], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(on["trials"], off["trials"])
    assert on["trials"].sum() > 0
    assert np.count_nonzero(on["grad"]) >= 3
    np.testing.assert_allclose(on["grad"], off["grad"], rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_network_reference_tests_pass_with_loop_kernels():
    """The network tests against the independent event-driven reference (two and 100 neurons,
    populations, a peak inside a step, an input pushing over threshold, a refractory end
    inside a step, many spikes in one step), in a process compiled with the option."""
    env = {**os.environ, "XLA_FLAGS": jx.cpu_loop_kernel_flags("--xla_cpu_multi_thread_eigen=true")}
    selection = "reference or populations or peaking or pushing or refractory_period or many_spikes"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "tests/test_network.py",
            "-k",
            selection,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "deselected" in proc.stdout

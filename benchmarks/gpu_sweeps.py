"""LIF and HH tuning sweeps on an accelerator (issue 5): compile and run time, accuracy.

Run by hand on a machine with a GPU (falls back to whatever jax.devices() gives):

    PYTHONPATH=. python benchmarks/gpu_sweeps.py

Prints one table: workload, size, device, compile s, run s (median of 5, block_until_ready), and the
error against the closed form (LIF) or the rate at 10 uA/cm^2 (HH, reference 68.32 Hz from scipy).
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxneuro as jn


def timed(fn, x, reps=5):
    t = time.perf_counter()
    jax.block_until_ready(fn(x))
    first = time.perf_counter() - t
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        out = jax.block_until_ready(fn(x + 0))
        runs.append(time.perf_counter() - t)
    run = float(np.median(runs))
    return out, max(first - run, 0.0), run


def main():
    dev = jax.devices()[0]
    print(f"jax {jax.__version__}, device {dev.device_kind} ({dev.platform}), {len(jax.devices())} device(s)")
    rows = []
    for n in (10_000, 1_000_000, 10_000_000):
        v = jnp.asarray(np.random.default_rng(0).uniform(0, 5, n), jnp.float32)
        out, c, r = timed(lambda x: jn.tuning_curve(jn.LIF(), x), v)
        ref = np.asarray(jn.lif_rate(v))
        m = np.asarray(v) >= 1.05
        err = float(np.max(np.abs(np.asarray(out)[m] - ref[m]) / ref[m]))
        rows.append(("LIF exact, 1 s", n, c, r, f"max rel err {err:.1e}"))
    for n in (1_000, 100_000):
        J = jnp.asarray(np.concatenate([[10.0], np.random.default_rng(1).uniform(0, 50, n - 1)]), jnp.float32)
        out, c, r = timed(lambda x: jn.tuning_curve(jn.HodgkinHuxley(), x), J)
        rows.append(("HH stepped dt 0.025 ms, 1 s", n, c, r, f"rate(10) = {float(out[0]):.3f} Hz (scipy 68.324)"))
    for n in (10_000, 1_000_000):
        off = jnp.linspace(0.5, 3.0, n, dtype=jnp.float32)

        def pop(o):
            def one(x):
                drive = lambda t: x + 0.5 * jnp.sin(2 * jnp.pi * 5 * t)  # noqa: E731
                return jn.simulate(jn.LIF(), drive, 0.0, 1.0, method="stepped", ts=np.array([1.0]), max_spikes=256)

            return jax.vmap(one)(o).spikes.count

        out, c, r = timed(jax.jit(pop), off, reps=3)
        rows.append(("stepped LIF pop, sine, dt 0.1 ms, 1 s", n, c, r, f"{n * 10_000 / r:.2e} neuron-steps/s"))
    print(f"{'workload':40s} {'size':>10s} {'compile s':>10s} {'run s':>10s}  note")
    for w, n, c, r, note in rows:
        print(f"{w:40s} {n:>10,d} {c:>10.3f} {r:>10.4f}  {note}")


if __name__ == "__main__":
    main()

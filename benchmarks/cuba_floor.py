"""Benchmark: the least time an XLA-compiled clock-driven CUBA step can take on this CPU, against
the time per step that "10x Brian2" allows (issue 13 item 3).

Run by hand (not a test); it prints one table.  In the benchmark environment
(``benchmarks/README.md``)::

    taskset -c 0 ~/bench-venv/bin/python benchmarks/cuba_floor.py                      # N = 1,000 ... 64,000
    taskset -c 0 ~/bench-venv/bin/python benchmarks/cuba_floor.py --sizes 16000 --repeats 5

For each N, in one process:

* Brian2 (cython target) runs its own CUBA (``_brian2_networks.cuba``: Brian2's
  ``examples/CUBA.py``, p = 0.02, 1 s at dt = 0.1 ms); its run CPU time over the 10,000 steps
  (the least of ``--brian2-repeats`` runs) gives the budget of a step that is 10x faster, and
  its spike count the synaptic events per step (spikes x the mean fan-out 0.02 N).
* The floor of the neuron update: the CUBA step with no synaptic input at all, written as
  tightly as JAX allows (exact integration of ``tau_m dv/dt = (E_L - v) + g_e + g_i`` and the
  two exponential currents over one step, the refractory hold, the threshold and the reset,
  on four float32 arrays), in a jitted ``lax.scan`` of 10,000 steps (unrolled 2 and 4; the
  faster counts).  jaxneuro's network step does this and more.
* The floor of the delivery: a ``lax.scan`` whose step is one scatter-add of that many events
  (random targets, precomputed) into an N-vector: the least XLA's CPU backend spends on the
  events of one step, without finding the spiking neurons or reading their rows.

Floor = update + delivery (a lower bound on any XLA step: the two are separate kernels). Where
it exceeds the budget, 10x Brian2 is out of reach of a clock-driven step compiled by XLA on
this machine, however the step is organised.  Times are process CPU time, minimum of
``--repeats`` runs (the least the machine needed; the median is printed beside it).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

STEPS = 10_000  # 1 s at dt = 0.1 ms
DT, TAU_M, TAU_E, TAU_I = 0.1, 20.0, 5.0, 10.0  # ms
E_L, V_TH, V_R, T_REF = -49.0, -50.0, -60.0, 5.0  # mV, ms


def _cpu_times(fn, x, repeats: int) -> tuple[float, float]:
    """(min, median) process CPU seconds of ``fn(x)`` after one warm-up call."""
    jax.block_until_ready(fn(x))
    times = []
    for _ in range(repeats):
        c = time.process_time()
        jax.block_until_ready(fn(x))
        times.append(time.process_time() - c)
    return min(times), float(np.median(times))


def update_floor(n: int, repeats: int) -> tuple[float, float]:
    """CPU s per step (min, median) of the bare CUBA update of ``n`` neurons."""
    a, b_e, b_i = np.exp(-DT / TAU_M), np.exp(-DT / TAU_E), np.exp(-DT / TAU_I)
    # exact integration: a current g e^(-t/tau_s) moves v by g tau_s / (tau_s - tau_m) (e^(-t/tau_s) - e^(-t/tau_m))
    c_e, c_i = TAU_E / (TAU_E - TAU_M) * (b_e - a), TAU_I / (TAU_I - TAU_M) * (b_i - a)

    def step(x, _):
        v, g_e, g_i, r = x
        held = r > 0.0
        v1 = jnp.where(held, v, E_L + (v - E_L) * a + g_e * c_e + g_i * c_i)
        spike = v1 > V_TH
        r1 = jnp.where(spike, T_REF, jnp.maximum(r - DT, 0.0))
        return (jnp.where(spike, V_R, v1), g_e * b_e, g_i * b_i, r1), None

    v0 = jnp.asarray(np.random.default_rng(0).uniform(V_R, V_TH, n), jnp.float32)
    x0 = (v0, jnp.zeros(n, jnp.float32), jnp.zeros(n, jnp.float32), jnp.zeros(n, jnp.float32))
    best = None
    for unroll in (2, 4):
        run = jax.jit(lambda x, u=unroll: jax.lax.scan(step, x, None, length=STEPS, unroll=u)[0])
        t = _cpu_times(run, x0, repeats)
        best = t if best is None or t[0] < best[0] else best
    assert best is not None
    return best[0] / STEPS, best[1] / STEPS


def delivery_floor(n: int, events: int, repeats: int) -> tuple[float, float]:
    """CPU s per step (min, median) of one scatter-add of ``events`` weights into ``n`` states."""
    if events == 0:
        return 0.0, 0.0
    pool = 64  # distinct target sets, cycled
    rng = np.random.default_rng(1)
    targets = jnp.asarray(rng.integers(0, n, (pool, events)), jnp.int32)
    weights = jnp.asarray(rng.choice([1.62, -9.0], (pool, events)), jnp.float32)

    def step(g, k):
        i = k % pool
        return g.at[targets[i]].add(weights[i]), None

    run = jax.jit(lambda g: jax.lax.scan(step, g, jnp.arange(STEPS), unroll=2)[0])
    t_min, t_med = _cpu_times(run, jnp.zeros(n, jnp.float32), repeats)
    return t_min / STEPS, t_med / STEPS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,4000,16000,64000")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--brian2-repeats", type=int, default=3, help="Brian2 runs per N (the least CPU time counts)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    import _brian2_networks as b2n  # the benchmarks' Brian2 models (this folder)

    print("# CUBA: the XLA floor of a clock-driven step against 10x Brian2")
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, affinity {sorted(os.sched_getaffinity(0))}, "
        f"load average {os.getloadavg()[0]:.2f}; CPU us per step, min [median] of {args.repeats}\n"
    )
    print(
        "| N | Brian2 run CPU s | budget of a 10x step | events / step | update floor | delivery floor | floor "
        "| floor / budget |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        runs = [b2n.cuba(n, seed=args.seed) for _ in range(args.brian2_repeats)]
        b2_cpu = min(r["run_cpu_s"] for r in runs)
        budget = b2_cpu / STEPS / 10
        events = round(len(runs[0]["i"]) / STEPS * 0.02 * n)
        u = update_floor(n, args.repeats)
        d = delivery_floor(n, events, args.repeats)
        floor = u[0] + d[0]
        print(
            f"| {n:,} | {b2_cpu:.3f} | {budget * 1e6:.2f} | {events:,} | "
            f"{u[0] * 1e6:.2f} [{u[1] * 1e6:.2f}] | {d[0] * 1e6:.2f} [{d[1] * 1e6:.2f}] | "
            f"{floor * 1e6:.2f} | {floor / budget:.2f} |"
        )
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

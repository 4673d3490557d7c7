"""Benchmark: a recurrent LIF network with exponential synapses, jaxneuro against Brian2.

The network (the same in both): N LIF neurons (tau_m 20 ms, tau_ref 2 ms, threshold 1, reset 0),
exponential synapses (tau_s 10 ms, a spike of j adds w_ij / tau_s to s_i), dense random
recurrent weights with about 10 % nonzero (w ~ N(0, (0.5 tau_m / sqrt(0.1 N))^2) on the nonzero
entries, no self-connections), a constant drive 1.2 plus white noise of strength 0.2
(``tau_m dv/dt = s + 1.2 - v + 0.2 sqrt(tau_m) xi(t)``), initial ``v`` uniform in [0, 1);
1 s of simulated time at dt = 0.1 ms.

jaxneuro: ``simulate_network`` under ``jax.jit`` (exact within-step spike times, event-driven
propagation, noise held for each step).  Brian2: ``NeuronGroup`` + ``Synapses`` with
``on_pre``, the cython target, Euler-Maruyama (``method="euler"``, what Brian2 uses for this
stochastic equation).  The two draw different random numbers, so they agree in distribution,
not spike for spike: the table compares mean rates, spike counts and the per-neuron rates
(correlated through the shared weights).

Each measurement runs in a fresh subprocess (so that peak memory is its own); compile and run
time are separate (run: the median of ``--repeats`` runs after the first); CPU time is
reported beside wall time because JAX may use both cores for some kernels while Brian2 runs on
one.  ``--cpu K`` pins both simulators to core K: a like-for-like single-core comparison, and
on a busy 2-core machine the faster way to run jaxneuro (XLA's CPU thread pool hands the many
microsecond-sized kernels of a time step between threads, which costs more than it gains;
measured: about 1.3x slower unpinned).  Both workers start with
``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (transparent huge pages for large allocations; fewer
page-table walks when jaxneuro reads rows of a weight matrix larger than the caches; Brian2's time
does not change) unless ``--no-hugepages``.  Brian2 is not a
dependency of jaxneuro: run this with an interpreter that has both::

    /work/bench-venv/bin/python benchmarks/network.py --cpu 1     # N = 1000 and 4000, pinned
    /work/bench-venv/bin/python benchmarks/network.py             # not pinned
    /work/bench-venv/bin/python benchmarks/network.py --sizes 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

TAU_M, TAU_REF, TAU_S = 0.020, 0.002, 0.010
MU, SIGMA, P_CONNECT, GAIN = 1.2, 0.2, 0.1, 0.5
DT, DURATION = 1e-4, 1.0


def make_network(n: int, seed: int = 0):
    """Weights (charges, in s) and initial voltages, identical for both simulators."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mask = rng.random((n, n)) < P_CONNECT
    np.fill_diagonal(mask, False)
    w = np.where(mask, rng.normal(0.0, 1.0, (n, n)) * GAIN * TAU_M / np.sqrt(P_CONNECT * n), 0.0)
    v0 = rng.random(n)
    return w.astype(np.float32), v0.astype(np.float32)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _result(compile_s: float, walls: list, cpus: list, counts, base_rss_mib: float) -> dict:
    """A worker's report: compile time, median run wall and CPU time, spike counts, memory."""
    return {
        "compile_s": compile_s,
        "run_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "counts": counts.tolist(),
        "peak_rss_mib": _rss_mib(),
        "base_rss_mib": base_rss_mib,
    }


def worker_jax(n: int, repeats: int, loop_kernels: bool = True) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxneuro as jn
    import jaxneuro.experimental as jx

    if loop_kernels:  # first, before JAX compiles anything (XLA reads its options once)
        jx.enable_cpu_loop_kernels()

    w, v0 = make_network(n)
    base = _rss_mib()
    net = jn.LIFNetwork.from_weights(w, jn.LIF(tau_m=TAU_M, tau_ref=TAU_REF), tau_s=TAU_S, bias=MU, noise=SIGMA)
    state0 = jn.NetworkState(jnp.asarray(v0), jnp.zeros(n), jnp.full(n, -2 * DT), jnp.full(n, MU))

    @jax.jit
    def run(net, key, state0):
        # max_spikes: the most a neuron can fire, duration / tau_ref + 1 (tau_ref is traced here)
        return jn.simulate_network(net, DURATION, dt=DT, key=key, state0=state0, max_spikes=501)

    t = time.perf_counter()
    compiled = run.lower(net, jax.random.key(0), state0).compile()
    compile_s = time.perf_counter() - t
    walls, cpus, counts = [], [], None
    for r in range(repeats + 1):
        key = jax.random.key(r)
        t, c = time.perf_counter(), time.process_time()
        res = compiled(net, key, state0)
        jax.block_until_ready(res)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if r > 0:
            walls.append(wall)
            cpus.append(cpu)
        counts = np.asarray(res.spike_count)
    return _result(compile_s, walls, cpus, counts, base)


def worker_brian2(n: int, repeats: int) -> dict:
    import numpy as np
    from brian2 import (
        Network,
        NeuronGroup,
        SpikeMonitor,
        Synapses,
        defaultclock,
        ms,
        prefs,
        second,
        seed,
    )

    prefs.codegen.target = "cython"
    w, v0 = make_network(n)
    base = _rss_mib()
    defaultclock.dt = DT * second
    tau_m, tau_s, mu, sigma = TAU_M * second, TAU_S * second, MU, SIGMA  # noqa: F841 (used by Brian2)
    eqs = """
    dv/dt = (s + mu - v) / tau_m + sigma * xi * tau_m**-0.5 : 1 (unless refractory)
    ds/dt = -s / tau_s : 1
    """
    group = NeuronGroup(n, eqs, threshold="v >= 1", reset="v = 0", refractory=TAU_REF * second, method="euler")
    post, pre = np.nonzero(w)
    syn = Synapses(group, group, "w : second", on_pre="s_post += w / tau_s")
    syn.connect(i=pre, j=post)
    syn.w = w[post, pre].astype(np.float64) * second
    mon = SpikeMonitor(group, record=False)
    net = Network(group, syn, mon)
    group.v = v0
    net.store()
    t = time.perf_counter()
    net.run(0 * ms)  # code generation and cython compilation (cached after the first ever run)
    compile_s = time.perf_counter() - t
    walls, cpus, counts = [], [], None
    for r in range(repeats + 1):
        net.restore()
        seed(r)
        t, c = time.perf_counter(), time.process_time()
        net.run(DURATION * second)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if r > 0:
            walls.append(wall)
            cpus.append(cpu)
        counts = np.asarray(mon.count[:])
    return _result(compile_s, walls, cpus, counts, base)


def _run_worker(kind: str, n: int, repeats: int, cpu: int | None, hugepages: bool) -> dict:
    env = dict(os.environ)
    if hugepages:  # glibc's malloc asks for transparent huge pages (read at process start)
        env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES", ""), "glibc.malloc.hugetlb=1"]))
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--sizes", str(n), "--repeats", str(repeats)]
        + ([] if cpu is None else ["--cpu", str(cpu)]),
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="pin both simulators to this one core (os.sched_setaffinity); default: no pinning",
    )
    ap.add_argument(
        "--no-hugepages",
        action="store_true",
        help="do not set GLIBC_TUNABLES=glibc.malloc.hugetlb=1 for the workers (default: set for both)",
    )
    ap.add_argument(
        "--no-default-row",
        action="store_true",
        help="skip the row of jaxneuro with XLA's default options (without enable_cpu_loop_kernels)",
    )
    ap.add_argument("--worker", choices=["jax", "jax-default", "brian2"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # before jax starts its thread pool
    if args.worker:
        if args.worker == "brian2":
            print(json.dumps(worker_brian2(args.sizes[0], args.repeats)))
        else:
            print(json.dumps(worker_jax(args.sizes[0], args.repeats, loop_kernels=args.worker == "jax")))
        return

    import numpy as np

    rows = []
    for n in args.sizes:
        kinds = ("brian2", "jax") if args.no_default_row else ("brian2", "jax", "jax-default")
        res = {kind: _run_worker(kind, n, args.repeats, args.cpu, not args.no_hugepages) for kind in kinds}
        cj, cb = np.asarray(res["jax"]["counts"]), np.asarray(res["brian2"]["counts"])
        rows.append(
            (
                n,
                res,
                cj.mean() / DURATION,
                cb.mean() / DURATION,
                int(cj.sum()),
                int(cb.sum()),
                float(np.corrcoef(cj, cb)[0, 1]),
            )
        )
    load = os.getloadavg()[0]
    print(f"LIF network, 1 s at dt = {DT * 1e3:g} ms, ~10% dense random weights, drive {MU} + noise {SIGMA}")
    pinned = f"both pinned to core {args.cpu}" if args.cpu is not None else "not pinned"
    pages = "4 KiB pages" if args.no_hugepages else "transparent huge pages requested for both (glibc.malloc.hugetlb=1)"
    print(
        f"(load average at the end: {load:.1f} on {os.cpu_count()} cores; {pinned}; {pages}; "
        f"medians of {args.repeats} runs)\n"
    )
    head = (
        "| N | simulator | compile (s) | run wall (s) | run CPU (s) | speed-up (wall) | mean rate (Hz) | "
        "spikes | per-neuron rate corr. | peak RSS (MiB) |"
    )
    print(head)
    print("|" + "---|" * 10)
    for n, res, rj, rb, sj, sb, corr in rows:
        b, j = res["brian2"], res["jax"]
        print(
            f"| {n} | Brian2 2.9 (cython) | {b['compile_s']:.2f} | {b['run_s']:.3f} | {b['cpu_s']:.3f} | 1 | "
            f"{rb:.2f} | {sb} | | {b['peak_rss_mib']:.0f} |"
        )
        print(
            f"| {n} | jaxneuro | {j['compile_s']:.2f} | {j['run_s']:.3f} | {j['cpu_s']:.3f} | "
            f"{b['run_s'] / j['run_s']:.1f}x | {rj:.2f} | {sj} | {corr:.3f} | {j['peak_rss_mib']:.0f} |"
        )
        if "jax-default" in res:
            d = res["jax-default"]
            cd = np.asarray(d["counts"])
            print(
                f"| {n} | jaxneuro, XLA defaults | {d['compile_s']:.2f} | {d['run_s']:.3f} | {d['cpu_s']:.3f} | "
                f"{b['run_s'] / d['run_s']:.1f}x | {cd.mean() / DURATION:.2f} | {int(cd.sum())} | "
                f"{float(np.corrcoef(cd, np.asarray(b['counts']))[0, 1]):.3f} | {d['peak_rss_mib']:.0f} |"
            )
    print(
        "\njaxneuro: jaxneuro.experimental.enable_cpu_loop_kernels() first (XLA compiles each loop as one kernel, "
        "no launches "
        "inside it; the README's recommendation for the CPU); 'XLA defaults': without it."
    )


if __name__ == "__main__":
    main()

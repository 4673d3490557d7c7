"""CUBA (Brette et al. 2007) with fixed in-degree 80 at up to a million neurons, one core.

Each neuron receives 80 synapses (64 excitatory, 16 inhibitory: in-degree 80 split 80/20 as the
populations), the same synaptic input as Brian2's CUBA example at 4,000 neurons (p = 0.02), so
the dynamics stay those of CUBA at every size.  Reports the connectivity build time, the compile
time, the run time, spikes, synaptic events (spikes x out-degree, counted exactly from the stored
rows) and the time per synaptic event, and the process's peak memory.

    python benchmarks/million.py --sizes 100000 1000000 --duration 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import equinox as eqx
import jax
import numpy as np

import jaxneuro as jn


def cuba_in_degree(n: int, k: int = 80, seed: int = 0) -> jn.Network:
    n_exc = int(0.8 * n)
    k_exc = int(0.8 * k)
    cell = jn.IntegrateAndFire(tau_m=20.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)

    def v0(key, shape):
        return jax.random.uniform(key, shape, minval=-60.0, maxval=-50.0)

    pops = [jn.Population(n_exc, cell, "exc", v0=v0), jn.Population(n - n_exc, cell, "inh", v0=v0)]
    projs = [
        jn.Projection(pre, post, jn.ExponentialCurrent(tau), jn.FixedInDegree(kk), weight=w)
        for pre, tau, w, kk in (("exc", 5.0, 1.62, k_exc), ("inh", 10.0, -9.0, k - k_exc))
        for post in ("exc", "inh")
    ]
    return jn.Network(pops, projs, seed=seed)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--duration", type=float, default=1000.0, help="simulated ms")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    print(f"pid {os.getpid()}, JAX {jax.__version__}, {jax.devices()[0].device_kind}, float32, dt = 0.1 ms")
    print(
        f"{'N':>9} {'build s':>8} {'compile s':>9} {'run s (min-max)':>17} {'rate Hz':>8} {'events':>12} "
        f"{'ns/event':>9} {'us/step':>8} {'peak GiB':>8}"
    )
    for n in args.sizes:
        t = time.perf_counter()
        net = cuba_in_degree(n)
        build = time.perf_counter() - t
        fan = [np.asarray((link.storage.targets < link.storage.n_post).sum(axis=1)) for link in net.links]
        sim = eqx.filter_jit(
            lambda net, key: jn.simulate_network(net, args.duration, dt=0.1, key=key, record_spikes=False)
        )
        t = time.perf_counter()
        run = sim(net, jax.random.key(0))
        jax.block_until_ready(run)
        first = time.perf_counter() - t
        times = []
        for r in range(args.repeats):
            t = time.perf_counter()
            run = sim(net, jax.random.key(r))
            jax.block_until_ready(run)
            times.append(time.perf_counter() - t)
        counts = [np.asarray(c) for c in run.spike_count]
        # synaptic events: each spike of a source times its stored out-degree in every projection
        events = sum(int((counts[link.pre] * f).sum()) for link, f in zip(net.links, fan, strict=True))
        steps = int(round(args.duration / 0.1))
        rate = sum(int(c.sum()) for c in counts) / n / (args.duration / 1000)
        best = min(times)
        print(
            f"{n:>9} {build:>8.1f} {first - best:>9.1f} {best:>8.2f}-{max(times):<8.2f} {rate:>8.2f} {events:>12,d} "
            f"{best / events * 1e9:>9.2f} {best / steps * 1e6:>8.1f} {peak_rss_gib():>8.2f}"
        )


if __name__ == "__main__":
    main()

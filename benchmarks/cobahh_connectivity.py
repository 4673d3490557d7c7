"""COBAHH's silent fraction: how much of it is the connectivity draw (a diagnostic, not a timing).

Two seeds per side once put jaxneuro's COBAHH silent fraction at 0.21 against Brian2's 0.14.  This
script separates the simulator from the random construction: for each seed it builds Brian2's own
``connect(p=0.02)`` synapses (Brian2 is only asked for the indices, in the same script) and runs
jaxneuro on them (``jn.FromIndices``), then runs jaxneuro on its own ``jn.FixedProbability(0.02)``
draw for that seed, with the same initial state in both runs.  If the simulators agree, the two
columns differ only by the connectivity realisation, and the seed-to-seed spread of each column is
the spread that a comparison of means must allow for.

Usage (float64 by default; ``--float32`` for the library's default)::

    taskset -c 0 ~/bench-venv/bin/python benchmarks/cobahh_connectivity.py --seeds 5
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

N, N_EXC, T_MS, DT_MS, TRANSIENT_MS = 4000, 3200, 1000.0, 0.1, 200.0


def brian2_pairs(seed: int) -> tuple[np.ndarray, ...]:
    """Brian2's ``examples/COBAHH.py`` synapses (exc -> all, inh -> all, p = 0.02) for ``seed``."""
    import brian2 as b2

    b2.BrianLogger.suppress_name("unused_brian_object")  # the synapses are only read, never run
    b2.start_scope()
    b2.seed(seed)
    group = b2.NeuronGroup(N, "v : 1", name="cobahh_pairs")
    ce = b2.Synapses(group[:N_EXC], group, name="cobahh_pairs_exc")
    ci = b2.Synapses(group[N_EXC:], group, name="cobahh_pairs_inh")
    ce.connect(p=0.02)
    ci.connect(p=0.02)
    return np.asarray(ce.i), np.asarray(ce.j), np.asarray(ci.i), np.asarray(ci.j)


def run_jaxneuro(connectivity: list, seed: int, init: tuple[np.ndarray, ...]) -> tuple[float, float]:
    """Silent fraction and mean rate (Hz) over [200, 1000) ms of jaxneuro's COBAHH."""
    import jax
    import jax.numpy as jnp

    import jaxneuro as jn

    v0, ge0, gi0 = init
    exc, inh = slice(0, N_EXC), slice(N_EXC, N)

    def y0_of(sl):
        def y0(key, size):
            z = jnp.zeros((size,))
            return jn.HHState(v=jnp.asarray(v0[sl]), n=z, m=z, h=z)

        return y0

    cell = jn.TraubMiles()
    pops = [jn.Population(N_EXC, cell, "exc", y0=y0_of(exc)), jn.Population(N - N_EXC, cell, "inh", y0=y0_of(inh))]
    es, isyn = jn.ExponentialConductance(5.0, 0.0), jn.ExponentialConductance(10.0, -80.0)
    projs = [
        jn.Projection("exc", "exc", es, connectivity[0], weight=0.03, s0=jnp.asarray(ge0[exc])),
        jn.Projection("exc", "inh", es, connectivity[1], weight=0.03, s0=jnp.asarray(ge0[inh])),
        jn.Projection("inh", "exc", isyn, connectivity[2], weight=0.335, s0=jnp.asarray(gi0[exc])),
        jn.Projection("inh", "inh", isyn, connectivity[3], weight=0.335, s0=jnp.asarray(gi0[inh])),
    ]
    run = jn.simulate_network(jn.Network(pops, projs, seed=seed), T_MS, dt=DT_MS, key=jax.random.key(0))
    counts = []
    for name in run.names:
        t = np.asarray(run.train(name).times)
        counts.append(np.sum(np.isfinite(t) & (t >= TRANSIENT_MS), axis=1))
    c = np.concatenate(counts)
    return float(np.mean(c == 0)), float(c.sum() / N / ((T_MS - TRANSIENT_MS) * 1e-3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--float32", action="store_true", help="jaxneuro in float32 (default float64)")
    args = ap.parse_args()
    import jax

    jax.config.update("jax_enable_x64", not args.float32)
    import jaxneuro as jn

    rng = np.random.default_rng(5)  # one initial state for every run (Brian2's distributions)
    init = (
        -60.0 + 5.0 * rng.standard_normal(N) - 5.0,
        (1.5 * rng.standard_normal(N) + 4.0) * 0.05,
        (12.0 * rng.standard_normal(N) + 20.0) * 0.05,
    )
    exc, inh = slice(0, N_EXC), slice(N_EXC, N)

    def from_indices(pre, post, target):
        keep = (post >= target.start) & (post < target.stop)
        return jn.FromIndices(pre[keep], post[keep] - target.start)

    print(f"# COBAHH (N = {N}) silent fraction: Brian2's connectivity against jaxneuro's, same simulator")
    print(f"float{'32' if args.float32 else '64'}, {T_MS:g} ms, statistics over [{TRANSIENT_MS:g}, {T_MS:g}) ms")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| seed | silent, Brian2's synapses | silent, jaxneuro's synapses | rate Hz (Brian2's / jaxneuro's) |")
    print("|---|---|---|---|")
    cols: dict[str, list[float]] = {"b2": [], "jn": []}
    for seed in range(args.seeds):
        t = time.perf_counter()
        ci, cj, di, dj = brian2_pairs(seed)
        theirs = [from_indices(ci, cj, exc), from_indices(ci, cj, inh), from_indices(di, dj, exc)]
        s_b, r_b = run_jaxneuro([*theirs, from_indices(di, dj, inh)], seed, init)
        s_j, r_j = run_jaxneuro([jn.FixedProbability(0.02)] * 4, seed, init)
        cols["b2"].append(s_b)
        cols["jn"].append(s_j)
        print(f"| {seed} | {s_b:.3f} | {s_j:.3f} | {r_b:.1f} / {r_j:.1f} |  ({time.perf_counter() - t:.0f} s)")
    for key, label in (("b2", "Brian2's synapses"), ("jn", "jaxneuro's synapses")):
        v = np.asarray(cols[key])
        spread = f"{v.std(ddof=1):.3f} (sd over seeds), range {v.min():.3f}-{v.max():.3f}"
        print(f"\n{label}: silent {v.mean():.3f} +- {spread}")


if __name__ == "__main__":
    main()

"""Benchmark: where the compile time of the tuning sweeps goes (trace, lowering, XLA).

Run by hand (not a test); it prints one table.  With jaxneuro importable::

    taskset -c 1 python benchmarks/compile_breakdown.py                  # LIF and HH, diffrax and stepped
    taskset -c 1 python benchmarks/compile_breakdown.py --only hh-diffrax --repeats 5

For each sweep of ``benchmarks/tuning.py`` (LIF 10,000 inputs over 1 s, HH 1,000 currents over
1,000 ms, on one device) the script times, separately and ``--repeats`` times (each from cold
caches, ``jax.clear_caches()``): ``jax.jit(f).trace(x)`` (Python tracing to a jaxpr, ``vmap``
included), ``.lower()`` (jaxpr to StableHLO) and ``.compile()`` (XLA's HLO passes and code
generation), in wall and process CPU time (medians).  Each diffrax row is followed by the same
solve for one neuron without ``vmap`` (``Diffrax.run`` on a scalar input), which shows what
batching costs: ``vmap`` of a while loop batches its body several times (a fixpoint over which
carries are batched, then once more with every carry batched), turns the conditionals of the
step into selects, and XLA compiles each kernel of the loop body as a vector loop.  Columns
also give the size of what is compiled: jaxpr equations (sub-jaxprs of loops and conditionals
included), the libraries that emit most of them, and the while loops and fusions of the
compiled HLO.

The sweep target of issue 12 is a compile under 2 s (``benchmarks/tuning.py``'s compile column:
trace + lower + compile).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import time

SWEEPS = ("lif-diffrax", "hh-diffrax", "hh-stepped", "lif-stepped")
LIBRARIES = ("optimistix", "lineax", "diffrax", "equinox", "jaxneuro")


def count_equations(jaxpr, counts: collections.Counter) -> collections.Counter:
    """Equations of ``jaxpr`` and of every sub-jaxpr, by the library whose frame emitted them."""
    import jax

    for eqn in jaxpr.eqns:
        counts[_library(eqn)] += 1
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else [param]:
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    count_equations(sub.jaxpr, counts)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    count_equations(sub, counts)
    return counts


def _library(eqn) -> str:
    tb = eqn.source_info.traceback
    for frame in tb.frames if tb is not None else ():
        for lib in LIBRARIES:
            if f"/{lib}/" in frame.file_name:
                return lib
    return "jax"


def sweep(name: str):
    """``(f, x, f_one, x_one)``: the sweep as a function of its inputs, and (diffrax) one neuron's solve."""
    import jax.numpy as jnp
    import numpy as np

    import jaxneuro as jn
    from jaxneuro._inputs import Constant
    from jaxneuro._solvers import Interval, SpikeStats

    model, method = name.split("-")
    if model == "lif":
        neuron, n, duration, high = jn.LIF(tau_m=0.02, tau_ref=0.002), 10_000, 1.0, 5.0
    else:
        neuron, n, duration, high = jn.HodgkinHuxley(), 1_000, 1000.0, 50.0
    x = jnp.asarray(np.random.default_rng(0).uniform(0.0, high, n), jnp.float32)
    mesh = jn.batch_mesh(jax_devices()[:1])

    def f(x):
        return jn.tuning_curve(neuron, x, duration=duration, transient=0.2 * duration, method=method, mesh=mesh)

    if method != "diffrax":
        return f, x, None, None
    solver = jn.Diffrax().forward_mode()  # the form tuning_curve runs
    span = Interval(jnp.asarray(0.0), jnp.asarray(duration), 0.0, duration)
    recorder = SpikeStats(jnp.asarray(0.2 * duration), span.t0)

    def f_one(x):
        return solver.run(neuron, Constant(x), span, neuron.initial_state(), recorder, np.zeros(0))[2].count

    return f, x, f_one, x[0]


def jax_devices():
    import jax

    return jax.devices()


def breakdown(f, x, repeats: int) -> dict:
    """Median wall and CPU seconds of trace, lower and compile from cold caches, and sizes."""
    import jax

    times = collections.defaultdict(list)

    def timed(stage, fn, *a):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*a)
        times[stage].append((time.perf_counter() - w, time.process_time() - c))
        return out

    for _ in range(repeats):
        jax.clear_caches()  # tuning_curve's inner jit would otherwise reuse its trace
        traced = timed("trace", jax.jit(f).trace, x)
        compiled = timed("compile", timed("lower", traced.lower).compile)
    hlo = compiled.as_text()
    counts = count_equations(traced.jaxpr.jaxpr, collections.Counter())
    out = {k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v)) for k, v in times.items()}
    out["equations"] = sum(counts.values())
    out["by_library"] = ", ".join(f"{k} {v}" for k, v in counts.most_common(4))
    out["whiles"] = len(re.findall(r" while\(", hlo))
    out["fusions"] = len(re.findall(r" fusion\(", hlo))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SWEEPS), help=f"comma-separated subset of {','.join(SWEEPS)}")
    parser.add_argument("--repeats", type=int, default=3, help="cold-cache compilations per row (median)")
    args = parser.parse_args(argv)
    names = [s for s in args.only.split(",") if s]
    for s in names:
        if s not in SWEEPS:
            parser.error(f"--only entries must be in {SWEEPS}; got {s!r}")

    import jax

    print("# compile breakdown of the tuning sweeps")
    print(
        f"jax {jax.__version__} on {jax.default_backend()}, load average {os.getloadavg()[0]:.2f}, "
        f"repeats {args.repeats}"
    )
    header = [
        "sweep",
        "trace s (CPU)",
        "lower s (CPU)",
        "XLA compile s (CPU)",
        "total CPU s",
        "jaxpr eqns",
        "most eqns",
        "HLO whiles / fusions",
    ]
    rows = []
    for name in names:
        f, x, f_one, x_one = sweep(name)
        variants = [(name, f, x)] + ([(f"  {name}, one neuron, no vmap", f_one, x_one)] if f_one else [])
        for label, fn, arg in variants:
            r = breakdown(fn, arg, args.repeats)
            total = r["trace"][1] + r["lower"][1] + r["compile"][1]
            rows.append(
                [label]
                + [f"{r[k][0]:.2f} ({r[k][1]:.2f})" for k in ("trace", "lower", "compile")]
                + [f"{total:.2f}", str(r["equations"]), r["by_library"], f"{r['whiles']} / {r['fusions']}"]
            )
            print(f"[{time.strftime('%H:%M:%S')}] {' | '.join(rows[-1])}", flush=True)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    print()
    for i, row in enumerate([header] + rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()

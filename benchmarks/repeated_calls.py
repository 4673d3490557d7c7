"""Benchmark: the cost of calling ``simulate`` / ``spike_statistics`` / ``jax.grad`` again, un-jitted.

Run by hand (not a test); it prints one table.  With jaxneuro installed (the project's venv, or
the benchmark environment of ``benchmarks/README.md``)::

    python benchmarks/repeated_calls.py                    # every case, about a minute
    python benchmarks/repeated_calls.py --only lif_diffrax,grad_lif_diffrax --repeats 3

Each case runs in a fresh subprocess (``--repeats`` of them, one after the other): it imports
jaxneuro and loads the simulators (outside the timings), then times a first call (trace,
compile, run), a second call with a new drive value (issue 12 item 4: "repeated calls do not
recompile") and a third with another value, and counts the XLA compilations of each call
through JAX's compile events (``/jax/core/compile/backend_compile_duration``).  Times are the
median [min-max] over the subprocesses; the load average is printed at the start and the end.

No peer: Brian2, the peer of the other benchmarks, caches its generated code on disk and reuses
it when only values change, which is a different mechanism (``tuning.py`` times its build).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CASES = {
    "lif_exact": "jn.simulate(jn.LIF(), a, 0.0, 0.2).spikes.times",
    "lif_stepped": "jn.simulate(jn.LIF(), a, 0.0, 0.2, method='stepped').spikes.times",
    "lif_diffrax": "jn.simulate(jn.LIF(), a, 0.0, 0.2, method='diffrax').spikes.times",
    "hh": "jn.simulate(jn.HodgkinHuxley(), 6.6 * a, 0.0, 50.0).spikes.times",
    "izhikevich_rk4": "jn.simulate(jn.Izhikevich(), 6.6 * a, 0.0, 50.0).spikes.times",
    "stats_lif": "jn.spike_statistics(jn.LIF(), a, 0.0, 0.2).rate",
    "grad_lif_diffrax": "jax.grad(lambda x: jn.simulate(jn.LIF(), x, 0.0, 0.2, method='diffrax').spikes.times[0])(a)",
    "grad_lif_stepped": "jax.grad(lambda x: jn.simulate(jn.LIF(), x, 0.0, 0.2, method='stepped').spikes.times[0])(a)",
}
VALUES = (1.5, 1.7, 1.9)

WORKER = """
import json, sys, time
import jax
compiles = []
def listener(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        compiles.append(duration)
jax.monitoring.register_event_duration_secs_listener(listener)
import diffrax
import jaxneuro as jn
import jaxneuro._simulate, jaxneuro._tuning  # loaded outside the timings (jaxneuro imports them on first use)
f = eval("lambda a: " + sys.argv[1], {"jax": jax, "jn": jn})
out = []
for a in json.loads(sys.argv[2]):
    compiles.clear()
    t = time.perf_counter()
    jax.block_until_ready(f(a))
    out.append((time.perf_counter() - t, len(compiles)))
print(json.dumps(out))
"""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated cases: " + ", ".join(CASES))
    parser.add_argument("--repeats", type=int, default=3, help="fresh subprocesses per case")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    print(f"load average at start: {load()}  (CPUs: {os.cpu_count()})")
    print(f"{'case':18s} {'1st call s':>22s} {'2nd call s':>24s} {'3rd call s':>24s}  compiles 1st/2nd/3rd")
    for name in names:
        runs = []
        for _ in range(args.repeats):
            res = subprocess.run(
                [sys.executable, "-c", WORKER, CASES[name], json.dumps(VALUES)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
        cells = []
        for k in range(len(VALUES)):
            ts = sorted(r[k][0] for r in runs)
            cells.append(f"{ts[len(ts) // 2]:.3f} [{ts[0]:.3f}-{ts[-1]:.3f}]")
        counts = "/".join(str(max(r[k][1] for r in runs)) for k in range(len(VALUES)))
        print(f"{name:18s} {cells[0]:>22s} {cells[1]:>24s} {cells[2]:>24s}  {counts}", flush=True)
    print(f"load average at end: {load()}   ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")


if __name__ == "__main__":
    main()

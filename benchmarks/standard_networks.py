"""Benchmark: the field's standard spiking networks in jaxneuro against Brian2, in one script.

Run by hand (not a test); it prints tables.  In the benchmark environment
(``benchmarks/README.md``), pinned to one core::

    taskset -c 0 /work/bench-venv/bin/python benchmarks/standard_networks.py --quick
    taskset -c 0 /work/bench-venv/bin/python benchmarks/standard_networks.py --networks cuba,coba --sizes ''
    taskset -c 0 /work/bench-venv/bin/python benchmarks/standard_networks.py --networks brunel-A,brunel-B --seeds 1
    taskset -c 0 /work/bench-venv/bin/python benchmarks/standard_networks.py --networks '' --sizes 1000,4000

The networks (Brette et al. 2007 benchmarks 1-3 and Brunel 2000), each built in jaxneuro to be
the same model as the Brian2 reference in ``_brian2_networks.py`` (whose docstrings give
Brian2's exact equations, update order and initial conditions); times in ms, dt = 0.1 ms in
both simulators, jaxneuro in float32 unless ``--x64``:

* ``cuba``: ``jn.IntegrateAndFire(tau_m=20, E_L=-49, V_th=-50, V_reset=-60, tau_ref=5)``,
  populations ``exc`` (``int(0.8 N)``) and ``inh``, v0 uniform in [-60, -50) mV;
  ``jn.ExponentialCurrent(5)`` weight 1.62 mV from exc, ``jn.ExponentialCurrent(10)`` weight
  -9 mV from inh, ``jn.FixedProbability(0.02)`` (autapses allowed, as Brian2's ``connect(p=)``).
  Brian2 integrates it with ``method='exact'``; jaxneuro with its default
  ``jn.ExponentialEuler()`` (exact for the membrane under the step-averaged synaptic current).
* ``coba``: ``IntegrateAndFire(tau_m=20, E_L=-60, V_th=-50, V_reset=-60, tau_ref=5)``,
  ``jn.ExponentialConductance(5, E=0)`` weight 0.6 and ``(10, E=-80)`` weight 6.7 (conductances
  in units of the leak, as in Brian 1's reference implementation); v0 = -60 + (5 randn - 5) mV,
  initial conductances ``Projection(..., s0=...)`` 1.5 randn + 4 (exc) and 12 randn + 20 (inh).
  Brian2 integrates it with forward Euler, so the populations get ``solver=jn.Euler()`` (the
  default ``jn.ExponentialEuler()`` would be exact for the membrane under a held conductance).
* ``cobahh``: ``jn.TraubMiles()`` (per unit area: Brian2's 20,000 um^2 patch, so 6 nS ->
  0.03 mS/cm^2 and 67 nS -> 0.335 mS/cm^2, initial ge = (1.5 randn + 4) x 0.05 and
  gi = (12 randn + 20) x 0.05 mS/cm^2); v = -60 + (5 randn - 5) mV, m = n = h = 0 as Brian2's
  example (``Population(..., y0=...)``); default solver ``jn.ExponentialEuler()``, Brian2's
  ``exponential_euler``.  Spike detection differs in form: Brian2 ``v > -20 mV`` with a 3 ms
  refractory period that only disables the threshold, jaxneuro a detector that fires at the
  upward crossing of -20 mV and re-arms 10 mV below it (the same spikes unless v stays above
  -20 mV for more than 3 ms).
* ``brunel`` (= ``brunel-C``), ``brunel-A`` .. ``brunel-D``: Brunel (2000) model A, Fig. 8 panels
  (``BRUNEL_REGIMES``): ``IntegrateAndFire(tau_m=20, E_L=0, V_th=20, V_reset=10, tau_ref=2)``,
  v0 = 0, ``refractory_input=False`` (the default; ``--refractory-input`` sets True).  Brian2
  drops every jump that arrives while a neuron is refractory: ``v`` is flagged
  ``(unless refractory)``, which makes it a conditional write on ``not_refractory`` for *all*
  code, ``on_pre='v += J'`` and ``PoissonInput`` included (checked with Brian2 2.9: a neuron
  that spiked at step k stays at V_r through step k+19 whatever arrives).  jaxneuro's
  ``refractory_input=True`` keeps those jumps instead (its docstring calls that Brian2's
  semantics; it is not), which raised the Poisson-driven rate by 35% in a test.
  ``refractory_input=False`` drops them too, except the jumps arriving in the last refractory
  step (k+R-1), which it keeps and Brian2 drops: about 1.3% more firing for a neuron driven
  by the Poisson input alone at 100 Hz (98.6 against 97.3 Hz, 4 seeds).
  ``jn.DeltaSynapse()`` projections from exc (J = 0.1 mV) and inh (-g J) to both
  populations with ``FixedProbability(C_E / N_E)`` and delay 1.5 ms; external input
  ``jn.PoissonInput(target, n=C_E, rate=nu_ext, weight=J, synapse=jn.DeltaSynapse())``.
  Sizes: ``--brunel-ne`` (default 10,000 as the Brian2 function), N_I = N_E / 4, C_E = 0.1 N_E.

Each (simulator, network, size) runs in its own subprocess (this script with ``--worker``),
one after another, so the peak RSS it reports (``ru_maxrss`` of that process: interpreter,
imports, network, compilation and runs) is its own; the table also gives the increase over
the process's RSS after its imports.  Per seed ``s`` (0 .. ``--seeds``-1; connectivity seed,
run key and Brian2 seed) both simulators build and run the network once, and the statistics of
``_network_stats.population_stats`` (window [0.2 s, end), 1 ms bins) are computed from the
spikes.  jaxneuro: the network is built (numpy connectivity: "build"), the run is
``eqx.filter_jit(simulate_network)`` with the network as an argument; the first call (trace,
compile, run) minus the median steady call is the compile time; the first seed's steady run is
repeated ``--repeats`` times (median [min-max]).  Brian2 (cython): ``build`` is scope, network
construction and ``run(0 s)`` (code generation, compilation or cache load: the first seed's
value, then the median of the others), ``run`` the following ``run(duration)``, median [min-max]
over the seeds (each seed is one run; Brian2 runs are not repeated).  The speed-up is Brian2's
median run over jaxneuro's median steady run, both from this invocation.

Agreement rule (the statistics table): with at least 2 seeds on both sides a metric agrees when
``|mean_jax - mean_brian2| <= 3 sqrt(sd_jax^2 / n_jax + sd_brian2^2 / n_brian2)`` (sd over seeds);
with 1 seed it is only indicative: ``~`` when within 10% (relative to the larger) or 0.02
absolute, ``differs?`` otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _network_stats import default_populations, population_stats  # noqa: E402

DT_MS = 0.1
METRICS = ("rate_hz", "cv", "silent", "fano", "chi")
POPS = ("exc", "inh", "all")
NETWORKS = ("cuba", "coba", "cobahh", "brunel", "brunel-A", "brunel-B", "brunel-C", "brunel-D")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _regime(network: str) -> str | None:
    if network == "brunel":
        return "C"
    if network.startswith("brunel-"):
        return network.split("-", 1)[1]
    return None


def brunel_sizes(n_e: int) -> dict[str, Any]:
    """Brian2's example at ``n_e`` excitatory neurons: N_I = N_E / 4, C_E = 0.1 N_E."""
    return {"n_e": n_e, "n_i": int(round(0.25 * n_e)), "c_e": 0.1 * n_e}


# ---------------------------------------------------------------------------------- jaxneuro models
def jax_network(network: str, n: int, seed: int, brunel_ne: int, refractory_input: bool = False):
    """The jaxneuro ``Network`` of ``network`` (module docstring), its exc size and max spikes per neuron
    per second."""
    import jax
    import jax.numpy as jnp

    import jaxneuro as jn

    def randn(key, shape):
        return jax.random.normal(key, shape)

    if network == "cuba":
        n_exc = int(0.8 * n)
        cell = jn.IntegrateAndFire(tau_m=20.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)

        def v0(key, shape):
            return jax.random.uniform(key, shape, minval=-60.0, maxval=-50.0)

        pops = [jn.Population(n_exc, cell, "exc", v0=v0), jn.Population(n - n_exc, cell, "inh", v0=v0)]
        p = jn.FixedProbability(0.02)
        projs = [
            jn.Projection("exc", "exc", jn.ExponentialCurrent(5.0), p, weight=1.62),
            jn.Projection("exc", "inh", jn.ExponentialCurrent(5.0), p, weight=1.62),
            jn.Projection("inh", "exc", jn.ExponentialCurrent(10.0), p, weight=-9.0),
            jn.Projection("inh", "inh", jn.ExponentialCurrent(10.0), p, weight=-9.0),
        ]
        return jn.Network(pops, projs, seed=seed), n_exc, 1000.0 / 5.0

    if network == "coba":
        n_exc = int(0.8 * n)
        cell = jn.IntegrateAndFire(tau_m=20.0, E_L=-60.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)

        def v0(key, shape):
            return -60.0 + (5.0 * randn(key, shape) - 5.0)

        def ge0(key, shape):
            return 1.5 * randn(key, shape) + 4.0

        def gi0(key, shape):
            return 12.0 * randn(key, shape) + 20.0

        solver = jn.Euler()  # Brian2's method='euler'
        pops = [
            jn.Population(n_exc, cell, "exc", v0=v0, solver=solver),
            jn.Population(n - n_exc, cell, "inh", v0=v0, solver=solver),
        ]
        p = jn.FixedProbability(0.02)
        exc_syn, inh_syn = jn.ExponentialConductance(5.0, E=0.0), jn.ExponentialConductance(10.0, E=-80.0)
        projs = [
            jn.Projection("exc", "exc", exc_syn, p, weight=0.6, s0=ge0),
            jn.Projection("exc", "inh", exc_syn, p, weight=0.6, s0=ge0),
            jn.Projection("inh", "exc", inh_syn, p, weight=6.7, s0=gi0),
            jn.Projection("inh", "inh", inh_syn, p, weight=6.7, s0=gi0),
        ]
        return jn.Network(pops, projs, seed=seed), n_exc, 1000.0 / 5.0

    if network == "cobahh":
        n_exc = int(0.8 * n)
        cell = jn.TraubMiles()
        to_area = 0.05  # 10 nS on 20,000 um^2 = 0.05 mS/cm^2

        def y0(key, size):
            v = -60.0 + (5.0 * randn(key, (size,)) - 5.0)
            z = jnp.zeros((size,))
            return jn.HHState(v=v, n=z, m=z, h=z)

        def ge0(key, shape):
            return (1.5 * randn(key, shape) + 4.0) * to_area

        def gi0(key, shape):
            return (12.0 * randn(key, shape) + 20.0) * to_area

        pops = [jn.Population(n_exc, cell, "exc", y0=y0), jn.Population(n - n_exc, cell, "inh", y0=y0)]
        p = jn.FixedProbability(0.02)
        exc_syn, inh_syn = jn.ExponentialConductance(5.0, 0.0), jn.ExponentialConductance(10.0, -80.0)
        projs = [
            jn.Projection("exc", "exc", exc_syn, p, weight=0.03, s0=ge0),
            jn.Projection("exc", "inh", exc_syn, p, weight=0.03, s0=ge0),
            jn.Projection("inh", "exc", inh_syn, p, weight=0.335, s0=gi0),
            jn.Projection("inh", "inh", inh_syn, p, weight=0.335, s0=gi0),
        ]
        return jn.Network(pops, projs, seed=seed), n_exc, 1000.0 / 1.0

    regime = _regime(network)
    if regime is not None:
        from _brian2_networks import BRUNEL_REGIMES

        r = BRUNEL_REGIMES[regime]
        sz = brunel_sizes(brunel_ne)
        n_e, n_i, c_e = sz["n_e"], sz["n_i"], sz["c_e"]
        J, g, tau, theta = 0.1, r["g"], 20.0, 20.0
        nu_thr_hz = theta / (J * c_e * tau * 1e-3)
        nu_ext_hz = r["nu_ratio"] * nu_thr_hz
        c_ext = int(round(c_e))
        cell = jn.IntegrateAndFire(tau_m=tau, E_L=0.0, V_th=theta, V_reset=10.0, tau_ref=2.0)
        pops = [
            jn.Population(n_e, cell, "exc", v0=0.0, refractory_input=refractory_input),
            jn.Population(n_i, cell, "inh", v0=0.0, refractory_input=refractory_input),
        ]
        p = jn.FixedProbability(c_e / n_e)
        syn = jn.DeltaSynapse()
        projs = [
            jn.Projection("exc", "exc", syn, p, weight=J, delay=1.5),
            jn.Projection("exc", "inh", syn, p, weight=J, delay=1.5),
            jn.Projection("inh", "exc", syn, p, weight=-g * J, delay=1.5),
            jn.Projection("inh", "inh", syn, p, weight=-g * J, delay=1.5),
        ]
        inputs = [jn.PoissonInput(t, n=c_ext, rate=nu_ext_hz, weight=J, synapse=syn) for t in ("exc", "inh")]
        return jn.Network(pops, projs, inputs=inputs, seed=seed), n_e, 1000.0 / 2.0

    raise ValueError(f"unknown network {network!r}")


def _stats(i: np.ndarray, t_s: np.ndarray, n: int, n_exc: int, duration_s: float) -> dict:
    transient = min(0.2, 0.25 * duration_s)
    s = population_stats(i, t_s, n, duration_s, default_populations(n, n_exc), transient_s=transient)
    return {p: {m: s[p][m] for m in (*METRICS, "n_spikes")} for p in POPS}


def worker_jax(args) -> dict:
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    import equinox as eqx

    import jaxneuro as jn

    if args.loop_kernels:  # jaxneuro.experimental in newer trees, jaxneuro in older ones
        enable = getattr(jn, "enable_cpu_loop_kernels", None)
        if enable is None:
            from jaxneuro.experimental import enable_cpu_loop_kernels as enable
        enable()
    base = _rss_mib()
    duration = float(args.duration)
    seeds = [int(s) for s in args.seed_list.split(",")]
    out: dict[str, Any] = {"seeds": [], "base_rss_mib": base}
    for k, seed in enumerate(seeds):
        t = time.perf_counter()
        net, n_exc, max_rate = jax_network(args.network, args.n, seed, args.brunel_ne, args.refractory_input)
        build_s = time.perf_counter() - t
        n = sum(p.size for p in net.populations)
        max_spikes = math.ceil(duration * 1e-3 * max_rate) + 1

        @eqx.filter_jit
        def run(net, key, max_spikes=max_spikes):
            return jn.simulate_network(net, duration, dt=DT_MS, key=key, max_spikes=max_spikes)

        key = jax.random.key(seed)
        t, c = time.perf_counter(), time.process_time()
        res = jax.block_until_ready(run(net, key))
        first_s, first_cpu = time.perf_counter() - t, time.process_time() - c
        walls, cpus = [], []
        for _ in range(args.repeats if k == 0 else 1):
            t, c = time.perf_counter(), time.process_time()
            jax.block_until_ready(run(net, key))
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        ii, tt = [], []
        offset = 0
        for name, pop in zip(res.names, net.populations, strict=True):
            times = np.asarray(res.train(name).times, dtype=np.float64)
            counts = np.asarray(res.spike_count[res.names.index(name)])
            if np.any(counts > times.shape[1]):
                raise RuntimeError(f"{name}: spike-time capacity {times.shape[1]} exceeded")
            rows, cols = np.nonzero(np.isfinite(times))
            ii.append(rows + offset)
            tt.append(times[rows, cols] * 1e-3)
            offset += pop.size
        i_all, t_all = np.concatenate(ii), np.concatenate(tt)
        out["seeds"].append(
            {
                "seed": seed,
                "n": n,
                "n_exc": n_exc,
                "n_synapses": int(net.n_synapses()),
                "build_s": build_s,
                "first_s": first_s,
                "first_cpu_s": first_cpu,
                "run_s": walls,
                "run_cpu_s": cpus,
                "compile_s": first_s - statistics.median(walls),
                "stats": _stats(i_all, t_all, n, n_exc, duration * 1e-3),
            }
        )
        del res, net
    out["peak_rss_mib"] = _rss_mib()
    out["load"] = os.getloadavg()[0]
    out["dtype"] = "float64" if args.x64 else "float32"
    return out


def worker_brian2(args) -> dict:
    import _brian2_networks as bn
    import brian2  # noqa: F401 (imported for the memory baseline; the functions import it again)

    base = _rss_mib()
    duration_s = float(args.duration) * 1e-3
    seeds = [int(s) for s in args.seed_list.split(",")]
    out: dict[str, Any] = {"seeds": [], "base_rss_mib": base}
    for seed in seeds:
        kw = {"seed": seed, "duration_s": duration_s, "dt_ms": DT_MS}
        regime = _regime(args.network)
        if regime is not None:
            res = bn.brunel_regime(regime, **brunel_sizes(args.brunel_ne), **kw)
        else:
            res = getattr(bn, args.network)(n=args.n, **kw)
        out["seeds"].append(
            {
                "seed": seed,
                "n": res["n"],
                "n_exc": res["n_exc"],
                "n_synapses": int(sum(res["params"]["n_synapses"])),
                "build_s": res["build_s"],
                "run_s": [res["run_s"]],
                "run_cpu_s": [res["run_cpu_s"]],
                "stats": _stats(res["i"], res["t"], res["n"], res["n_exc"], duration_s),
            }
        )
        del res
    out["peak_rss_mib"] = _rss_mib()
    out["load"] = os.getloadavg()[0]
    return out


def run_worker(kind: str, network: str, n: int, seeds: list[int], args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--network",
        network,
        "--n",
        str(n),
        "--seed-list",
        ",".join(map(str, seeds)),
        "--duration",
        str(args.duration_run),
        "--repeats",
        str(args.repeats),
        "--brunel-ne",
        str(args.brunel_ne),
    ]
    cmd += ["--x64"] if args.x64 else []
    cmd += ["--loop-kernels"] if args.loop_kernels else []
    cmd += ["--refractory-input"] if args.refractory_input else []
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} worker for {network} N={n} failed:\n{out.stderr[-4000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t
    return res


# ---------------------------------------------------------------------------------- formatting
def _g(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.{digits}g}" if abs(x) < 1e5 else f"{x:.0f}"


def _values(res: dict, pop: str, metric: str) -> list[float]:
    return [float(s["stats"][pop][metric]) for s in res["seeds"]]


def _mean_sd(v: list[float]) -> tuple[float, float, int]:
    f = [x for x in v if not math.isnan(x)]
    if not f:
        return math.nan, math.nan, 0
    return float(np.mean(f)), (float(np.std(f, ddof=1)) if len(f) > 1 else math.nan), len(f)


def _ms(v: list[float]) -> str:
    m, sd, k = _mean_sd(v)
    if k == 0:
        return "nan"
    return _g(m) if k == 1 else f"{_g(m)} +- {_g(sd, 2)}"


def verdict(a: list[float], b: list[float]) -> tuple[str, str]:
    """(``3 SE`` or the 1-seed tolerance as text, verdict) for one metric (module docstring)."""
    ma, sa, na = _mean_sd(a)
    mb, sb, nb = _mean_sd(b)
    if na == 0 or nb == 0:
        return "-", "-" if na == nb else "differs (nan)"
    diff = abs(ma - mb)
    if na >= 2 and nb >= 2:
        se = math.sqrt(sa**2 / na + sb**2 / nb)
        ok = diff <= 3 * se
        z = diff / se if se > 0 else (0.0 if diff == 0 else math.inf)
        return _g(3 * se, 2), ("agree" if ok else "DIFFER") + f" (z={z:.1f})"
    tol = max(0.1 * max(abs(ma), abs(mb)), 0.02)
    return f"{_g(tol, 2)} (1 seed)", "~" if diff <= tol else "differs?"


def stats_table(jr: dict, br: dict | None) -> list[str]:
    lines = [
        "| pop | metric | jaxneuro mean +- sd | Brian2 mean +- sd | diff | 3 SE (tolerance) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for pop in POPS:
        for m in METRICS:
            a = _values(jr, pop, m)
            if br is None:
                lines.append(f"| {pop} | {m} | {_ms(a)} | - | - | - | - |")
                continue
            b = _values(br, pop, m)
            tol, v = verdict(a, b)
            d = _mean_sd(a)[0] - _mean_sd(b)[0]
            lines.append(f"| {pop} | {m} | {_ms(a)} | {_ms(b)} | {_g(d, 2)} | {tol} | {v} |")
    return lines


def _spread(v: list[float]) -> str:
    if not v:
        return "-"
    med = statistics.median(v)
    if len(v) == 1:
        return f"{_g(med)} (1)"
    return f"{_g(med)} [{_g(min(v))}-{_g(max(v))}] ({len(v)})"


TIMING_HEADER = [
    "| network | N | synapses | jaxneuro build s | jaxneuro compile s | jaxneuro run s, median [min-max] (runs) "
    "| jaxneuro run CPU s | Brian2 build s (first; later) | Brian2 run s, median [min-max] (seeds) | Brian2 run CPU s "
    "| speed-up (Brian2 run / jaxneuro run) | peak RSS MiB jaxneuro / Brian2 (increase over imports) "
    "| rate exc Hz jaxneuro / Brian2 |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]


def timing_row(label: str, jr: dict, br: dict | None) -> str:
    s0 = jr["seeds"][0]
    j_run = s0["run_s"]
    j_cpu = statistics.median(s0["run_cpu_s"])
    compiles = [s["compile_s"] for s in jr["seeds"]]
    builds = [s["build_s"] for s in jr["seeds"]]
    j_mem = f"{jr['peak_rss_mib']:.0f} (+{jr['peak_rss_mib'] - jr['base_rss_mib']:.0f})"
    j_rate = _mean_sd(_values(jr, "exc", "rate_hz"))[0]
    if br is None:
        b_build = b_run = b_cpu = speed = "-"
        b_mem, b_rate = "-", math.nan
    else:
        bb = [s["build_s"] for s in br["seeds"]]
        b_build = _g(bb[0]) + (f"; {_g(statistics.median(bb[1:]))}" if len(bb) > 1 else "")
        b_runs = [s["run_s"][0] for s in br["seeds"]]
        b_run = _spread(b_runs)
        b_cpu = _g(statistics.median([s["run_cpu_s"][0] for s in br["seeds"]]))
        speed = f"{statistics.median(b_runs) / statistics.median(j_run):.1f}x"
        speed += f" (CPU {statistics.median([s['run_cpu_s'][0] for s in br['seeds']]) / j_cpu:.1f}x)"
        b_mem = f"{br['peak_rss_mib']:.0f} (+{br['peak_rss_mib'] - br['base_rss_mib']:.0f})"
        b_rate = _mean_sd(_values(br, "exc", "rate_hz"))[0]
    syn = f"{s0['n_synapses'] / 1e6:.2f}M"
    return (
        f"| {label} | {s0['n']:,} | {syn} | {_g(statistics.median(builds))} | {_g(statistics.median(compiles))} "
        f"| {_spread(j_run)} | {_g(j_cpu)} | {b_build} | {b_run} | {b_cpu} | {speed} "
        f"| {j_mem} / {b_mem} | {_g(j_rate)} / {_g(b_rate)} |"
    )


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def jaxneuro_source() -> str:
    import importlib.util

    spec = importlib.util.find_spec("jaxneuro")
    if spec is None or spec.origin is None:
        return "jaxneuro not found"
    pkg = Path(spec.origin).parent
    rev = subprocess.run(["git", "-C", str(pkg), "log", "-1", "--format=%h"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(pkg), "status", "--porcelain", "."], capture_output=True, text=True)
    edits = ", with uncommitted edits under jaxneuro/" if dirty.stdout.strip() else ""
    return f"jaxneuro from {pkg} (git {rev.stdout.strip() or '?'}{edits})"


def _have_brian2() -> bool:
    import importlib.util

    return importlib.util.find_spec("brian2") is not None


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--networks",
        default="cuba,coba,cobahh,brunel",
        help=f"comma-separated, of {', '.join(NETWORKS)} (brunel = brunel-C); '' for none",
    )
    ap.add_argument("--n", type=int, default=None, help="size of cuba, coba, cobahh (default 4000; --quick 1000)")
    ap.add_argument("--brunel-ne", type=int, default=None, help="Brunel N_E (default 10000; --quick 2000)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds 0 .. SEEDS-1 per network (default 6; --quick 2)")
    ap.add_argument("--repeats", type=int, default=None, help="steady jaxneuro runs timed (default 5; --quick 2)")
    ap.add_argument(
        "--sizes", default=None, help="CUBA scaling table sizes (default 1000,4000,16000,64000; --quick 1000,2000)"
    )
    ap.add_argument("--scaling-seeds", type=int, default=1, help="seeds per size in the scaling table (default 1)")
    ap.add_argument("--duration", type=float, default=None, help="simulated ms (default 1000; --quick 400)")
    ap.add_argument(
        "--scaling-duration", type=float, default=None, help="ms for the scaling table (default --duration)"
    )
    ap.add_argument("--quick", action="store_true", help="small sizes, short runs: a smoke test")
    ap.add_argument("--no-brian2", action="store_true", help="jaxneuro only")
    ap.add_argument("--x64", action="store_true", help="jaxneuro in float64 (default float32)")
    ap.add_argument("--loop-kernels", action="store_true", help="enable_cpu_loop_kernels() in the jaxneuro worker")
    ap.add_argument(
        "--refractory-input",
        action="store_true",
        help="Brunel in jaxneuro with refractory_input=True (jumps reach refractory neurons; not Brian2's rule)",
    )
    ap.add_argument("--worker", choices=["jax", "brian2"], help=argparse.SUPPRESS)
    ap.add_argument("--network", help=argparse.SUPPRESS)
    ap.add_argument("--seed-list", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.n = args.n or 4000
        args.brunel_ne = args.brunel_ne or 10000
        res = worker_jax(args) if args.worker == "jax" else worker_brian2(args)
        print(json.dumps(res))
        return

    q = args.quick
    args.n = args.n or (1000 if q else 4000)
    args.brunel_ne = args.brunel_ne or (2000 if q else 10000)
    args.seeds = args.seeds or (2 if q else 6)
    args.repeats = args.repeats or (2 if q else 5)
    args.duration = args.duration or (400.0 if q else 1000.0)
    args.scaling_duration = args.scaling_duration or args.duration
    sizes_txt = args.sizes if args.sizes is not None else ("1000,2000" if q else "1000,4000,16000,64000")
    sizes = [int(s) for s in sizes_txt.split(",") if s.strip()]
    networks = [s.strip() for s in args.networks.split(",") if s.strip()]
    for nw in networks:
        if nw not in NETWORKS:
            ap.error(f"unknown network {nw!r}; choose from {', '.join(NETWORKS)}")
    use_brian2 = not args.no_brian2 and _have_brian2()

    print(f"# Standard networks: jaxneuro against Brian2 ({'quick' if q else 'full'})")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"affinity {sorted(os.sched_getaffinity(0))}, {platform.processor() or platform.machine()}"
    )
    print(jaxneuro_source())
    print(
        f"dt = {DT_MS} ms everywhere; jaxneuro {'float64' if args.x64 else 'float32'}"
        f"{', loop kernels' if args.loop_kernels else ''}"
        f"{', Brunel refractory_input=True' if args.refractory_input else ''}; Brian2 cython "
        + ("" if use_brian2 else "(SKIPPED: not installed or --no-brian2)")
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"command: {' '.join(sys.argv)}")

    cache: dict[tuple, tuple[dict, dict | None]] = {}

    def measure(network: str, n: int, n_seeds: int, duration: float) -> tuple[dict, dict | None]:
        key = (network, n, n_seeds, duration)
        if key not in cache:
            args.duration_run = duration
            seeds = list(range(n_seeds))
            log(f"{network} N={n if _regime(network) is None else args.brunel_ne}: jaxneuro, seeds {seeds}")
            jr = run_worker("jax", network, n, seeds, args)
            br = None
            if use_brian2:
                log(f"{network}: Brian2, seeds {seeds}")
                br = run_worker("brian2", network, n, seeds, args)
            cache[key] = (jr, br)
        return cache[key]

    timing_rows = []
    for nw in networks:
        jr, br = measure(nw, args.n, args.seeds, args.duration)
        s0 = jr["seeds"][0]
        regime = _regime(nw)
        title = nw.upper() if regime is None else f"Brunel (2000) {regime}: {_brunel_name(regime)}"
        print(
            f"\n## {title}: N = {s0['n']:,} ({s0['n_exc']:,} exc / {s0['n'] - s0['n_exc']:,} inh), "
            f"{s0['n_synapses']:,} synapses (seed 0; Brian2 {br['seeds'][0]['n_synapses']:,} )"
            if br
            else f"\n## {title}: N = {s0['n']:,}, {s0['n_synapses']:,} synapses"
        )
        tr = min(0.2, 0.25 * args.duration * 1e-3) * 1e3
        print(
            f"{args.duration:g} ms, seeds 0-{args.seeds - 1}; statistics over [{tr:g}, {args.duration:g}) ms, "
            "1 ms bins (Fano of the population count, chi of Golomb 2007)\n"
        )
        print("\n".join(stats_table(jr, br)))
        timing_rows.append(timing_row(f"{nw}", jr, br))

    if timing_rows:
        print(f"\n## Timing ({args.duration:g} ms simulated, dt = {DT_MS} ms)\n")
        print("\n".join(TIMING_HEADER + timing_rows))

    if sizes:
        rows = []
        for n in sizes:
            jr, br = measure("cuba", n, args.scaling_seeds, args.scaling_duration)
            rows.append(timing_row("cuba", jr, br))
        print(
            f"\n## CUBA scaling ({args.scaling_duration:g} ms simulated, dt = {DT_MS} ms, "
            f"{args.scaling_seeds} seed(s) per size; p = 0.02 at every size, so the in-degree grows with N)\n"
        )
        print("\n".join(TIMING_HEADER + rows))

    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _brunel_name(regime: str) -> str:
    from _brian2_networks import BRUNEL_REGIMES

    r = BRUNEL_REGIMES[regime]
    return f"{r['name']}, g = {r['g']:g}, nu_ext/nu_thr = {r['nu_ratio']:g}"


if __name__ == "__main__":
    main()

"""Benchmark: tuning-curve sweeps and a stepped LIF population, jaxneuro against Brian2.

Run by hand (not a test); it prints one table.  In the benchmark environment
(``benchmarks/README.md``)::

    /work/bench-venv/bin/python benchmarks/tuning.py            # full sizes (a few minutes)
    /work/bench-venv/bin/python benchmarks/tuning.py --quick    # small sizes, smoke run

Workloads (issue 2):
  (a) LIF, 10,000 constant inputs v_in uniform in [0, 5], 1 s: ``jaxneuro.tuning_curve``
      against the closed form G(v_in) (``lif_rate``, recomputed here in float64 numpy), and
      Brian2 (cython, exact sub-threshold update, dt = 0.1 ms) on the same inputs.
  (b) Hodgkin-Huxley, 1,000 constant currents uniform in [0, 50] uA/cm^2, 1 s: jaxneuro
      against an independent scipy ``solve_ivp`` reference (DOP853, rtol = atol = 1e-10,
      spike times by event root finding) at a handful of the swept currents, and Brian2
      (cython, exponential Euler, dt = 0.01 ms) on the same currents.
  (c) Stepped LIF population: 10,000 neurons under v_in(t) = offset_i + 0.5 sin(2 pi 5 t),
      dt = 0.1 ms, 1 s, in neuron-steps per second; spike counts and times (median/max error
      over neurons with the right count) against the closed-form solution on 100 of the
      neurons; Brian2 on the same workload.

Every rate, in jaxneuro and in the peers, is the steady-state rate from inter-spike
intervals after the transient, (k - 1) / (t_k - t_1) over the k >= 2 spikes at t >= transient
(0 with fewer than two, or when firing stopped more than two mean ISIs before the end), as
``tuning_curve`` documents.  jaxneuro times are separated into
trace + compile (``jax.jit(f).lower(x).compile()``) and the median of ``--repeats``
steady-state runs of the compiled function (``block_until_ready``; fewer runs for paths that
take more than a minute), wall and CPU time.  The library's modules are imported before any
timed compile (as ``from jaxneuro import tuning_curve`` does), and that import is printed on its
own.  Brian2's build time is
its first ``run`` (code generation, compilation or compiled-cache load); its run time is
the median of ``restore`` + ``run``.  Float32 (JAX's default) unless ``--x64``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _brian2_common as b2c  # noqa: E402

# ----------------------------------------------------------------------------------------
# Shared helpers


def isi_rate(times: np.ndarray, t_start: float, t_end: float, time_unit_s: float = 1.0) -> float:
    """Steady-state rate (Hz) from the inter-spike intervals of the spikes in [t_start, t_end].

    ``(k - 1) / (t_k - t_1)``; 0 with fewer than two spikes or when the last spike is more
    than two mean ISIs before ``t_end`` (firing stopped: a transient), as ``tuning_curve``.
    """
    times = np.asarray(times, dtype=np.float64)
    times = times[np.isfinite(times) & (times >= t_start)]
    if times.size < 2:
        return 0.0
    isi = (times[-1] - times[0]) / (times.size - 1)
    if t_end - times[-1] > 2.0 * isi:
        return 0.0
    return 1.0 / (isi * time_unit_s)


def lif_rate_f64(v_in: np.ndarray, tau_m: float, tau_ref: float) -> np.ndarray:
    """The closed-form LIF rate G(v_in) in float64 numpy (independent of jaxneuro)."""
    v_in = np.asarray(v_in, dtype=np.float64)
    out = np.zeros_like(v_in)
    fires = v_in > 1.0
    out[fires] = 1.0 / (tau_ref + tau_m * np.log1p(1.0 / (v_in[fires] - 1.0)))
    return out


def spike_time_error(trains: list[np.ndarray], references: list[np.ndarray]) -> tuple[float, float]:
    """Median and largest |t - t_ref| (s) over all spikes of the neurons whose spike count
    matches the reference."""
    errors = [np.abs(a - b) for a, b in zip(trains, references, strict=True) if len(a) == len(b) and len(a)]
    if not errors:
        return float("nan"), float("nan")
    pooled = np.concatenate(errors)
    return float(np.median(pooled)), float(pooled.max())


@dataclass
class Timed:
    compile_s: float
    compile_cpu_s: float
    run_s: float  # median wall time
    cpu_s: float  # median CPU time of the process (all threads), robust to other load
    runs: list[float]
    out: object


def time_jax(fn, *args, repeats: int, budget_s: float = 60.0) -> Timed:
    """Trace + compile ``fn`` once, run it once to warm up, then time up to ``repeats`` runs of
    the compiled function (fewer when they add up to more than ``budget_s``: slow paths)."""
    import jax

    c, t = time.process_time(), time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s, compile_cpu_s = time.perf_counter() - t, time.process_time() - c
    out = jax.block_until_ready(compiled(*args))  # warm-up (allocations, thread pools)
    runs, cpus = [], []
    while len(runs) < repeats and (not runs or sum(runs) < budget_s):
        c, t = time.process_time(), time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return Timed(compile_s, compile_cpu_s, statistics.median(runs), statistics.median(cpus), runs, out)


class Table:
    """Rows of the final table, printed as Markdown."""

    header = (
        "workload",
        "implementation",
        "compile / build s",
        "run s (median)",
        "run CPU s",
        "max error",
        "vs Brian2",
        "note",
    )

    def __init__(self):
        self.rows: list[tuple[str, ...]] = []

    def add(self, *cells):
        self.rows.append(tuple(str(c) for c in cells))

    def print(self):
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(len(self.header))]
        line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        print(line(self.header))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in self.rows:
            print(line(r))


def fmt_s(x: float) -> str:
    return f"{x:.3g}"


def timing(first_label: str, first_s: float, run_s: float, cpu_s: float) -> str:
    return f"{first_label} {first_s:.3f} s, run {run_s:.4f} s (CPU {cpu_s:.4f} s)"


def log(msg: str):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------
# Independent Hodgkin-Huxley reference (scipy), same equations as jaxneuro's docstring:
# 1952 squid axon shifted to rest near -65 mV (Dayan & Abbott form), mV / ms / uA/cm^2.

HH_C, HH_GNA, HH_GK, HH_GL, HH_ENA, HH_EK, HH_EL = 1.0, 120.0, 36.0, 0.3, 50.0, -77.0, -54.387


def _vtrap(x: float) -> float:
    """x / (1 - exp(-x)), with its removable singularity at x = 0."""
    return 1.0 + x / 2.0 if abs(x) < 1e-7 else x / -math.expm1(-x)


def _hh_rates(V: float):
    an = 0.1 * _vtrap((V + 55.0) / 10.0)
    bn = 0.125 * math.exp(-(V + 65.0) / 80.0)
    am = _vtrap((V + 40.0) / 10.0)
    bm = 4.0 * math.exp(-(V + 65.0) / 18.0)
    ah = 0.07 * math.exp(-(V + 65.0) / 20.0)
    bh = 1.0 / (1.0 + math.exp(-(V + 35.0) / 10.0))
    return an, bn, am, bm, ah, bh


def hh_rest_scipy() -> tuple[float, float, float, float]:
    """Resting state at J = 0: V with zero total current, gates at steady state."""
    from scipy.optimize import brentq

    def gates(V):
        an, bn, am, bm, ah, bh = _hh_rates(V)
        return an / (an + bn), am / (am + bm), ah / (ah + bh)

    def current(V):
        n, m, h = gates(V)
        return HH_GNA * m**3 * h * (V - HH_ENA) + HH_GK * n**4 * (V - HH_EK) + HH_GL * (V - HH_EL)

    V = brentq(current, -70.0, -60.0, xtol=1e-13)
    return (V, *gates(V))


def _hh_rhs(t, y, current):
    V, n, m, h = y
    an, bn, am, bm, ah, bh = _hh_rates(V)
    ionic = HH_GNA * m**3 * h * (V - HH_ENA) + HH_GK * n**4 * (V - HH_EK) + HH_GL * (V - HH_EL)
    return [(current - ionic) / HH_C, an * (1 - n) - bn * n, am * (1 - m) - bm * m, ah * (1 - h) - bh * h]


def hh_spikes_scipy(current: float, duration_ms: float, rest, tol: float = 1e-10) -> np.ndarray:
    """Upward 0 mV crossings (ms) from rest under a step current at t = 0 (DOP853 + events)."""
    from scipy.integrate import solve_ivp

    def crossing(t, y, current):
        return y[0]

    crossing.direction = 1.0
    sol = solve_ivp(
        _hh_rhs,
        (0.0, duration_ms),
        list(rest),
        method="DOP853",
        args=(current,),
        events=crossing,
        rtol=tol,
        atol=tol,
    )
    if sol.status != 0:
        raise RuntimeError(f"scipy reference failed at I = {current}: {sol.message}")
    return sol.t_events[0]


def lif_sine_spikes_exact(
    offset: float,
    amplitude: float,
    frequency: float,
    duration: float,
    tau_m: float = 0.02,
    tau_ref: float = 0.002,
    grid: float = 1e-5,
) -> np.ndarray:
    """Spike times (s) of the normalised LIF under ``offset + amplitude sin(w t)`` from ``v = 0``,
    from the closed-form solution (float64).

    Between events ``v(t) = p(t) + (v0 - p(t0)) e^(-(t - t0)/tau_m)`` with the particular
    solution ``p(t) = offset + amplitude (sin wt - w tau_m cos wt) / (1 + (w tau_m)^2)``.  The
    first threshold crossing is bracketed on a ``grid`` (10 us: a crossing between grid points
    that the grid misses would rise less than 1e-7 above threshold) and refined by ``brentq``;
    then ``v`` is held at 0 for ``tau_ref``.  (An adaptive solver with event detection can step
    over such grazing crossings, which is why this reference is closed-form.)
    """
    from scipy.optimize import brentq

    w = 2.0 * math.pi * frequency
    gain = amplitude / (1.0 + (w * tau_m) ** 2)

    def particular(t):
        return offset + gain * (np.sin(w * t) - w * tau_m * np.cos(w * t))

    def v_minus_1(t, t0, v0):
        return particular(t) + (v0 - particular(t0)) * np.exp(-(t - t0) / tau_m) - 1.0

    t0, v0, spikes, window = 0.0, 0.0, [], 0.05
    while t0 < duration:
        t_hi = min(t0 + window, duration)
        ts = np.append(np.arange(t0, t_hi, grid), t_hi)
        above = np.flatnonzero(v_minus_1(ts, t0, v0) >= 0.0)
        if above.size == 0:  # no spike in this window: continue from the state at its end
            t0, v0 = t_hi, v_minus_1(t_hi, t0, v0) + 1.0
            continue
        k = above[0]
        t_spike = brentq(v_minus_1, ts[k - 1], ts[k], args=(t0, v0), xtol=1e-14) if k > 0 else ts[0]
        spikes.append(t_spike)
        t0, v0 = t_spike + tau_ref, 0.0
    return np.asarray(spikes)


# ----------------------------------------------------------------------------------------
# The three workloads


def jax_row(table: Table, workload: str, name: str, timed: Timed, error: str, note: str = ""):
    compile_note = f"compile < 2 s: {'met' if timed.compile_s < 2.0 else 'MISSED'}"
    table.add(
        workload,
        name,
        f"{fmt_s(timed.compile_s)} (CPU {fmt_s(timed.compile_cpu_s)})",
        fmt_s(timed.run_s),
        fmt_s(timed.cpu_s),
        error,
        "",
        "; ".join(x for x in (note, compile_note) if x),
    )


def device_variants(methods: list[str]) -> list[tuple[str, int]]:
    """Each method on one device; the fixed-step and event-driven ones also sharded over every
    device when there are several (``--host-devices``)."""
    import jax

    n_dev = len(jax.devices())
    out = []
    for m in methods:
        out.append((m, 1))
        if n_dev > 1 and m != "diffrax":
            out.append((m, n_dev))
    return out


def mesh_of(devices: int):
    """``tuning_curve``'s mesh: one device (no sharding) or every device."""
    import jax

    import jaxneuro

    return jaxneuro.batch_mesh(jax.devices()[:1]) if devices == 1 else None


def device_text(devices: int) -> str:
    return "" if devices == 1 else f", sharded over {devices} devices"


def ratio_text(peer: b2c.BrianRun, timed: Timed) -> str:
    return f"{peer.run_s / timed.run_s:.1f}x (CPU {peer.cpu_s / timed.cpu_s:.1f}x)"


def bench_lif(args, table: Table, brian2):
    import jax.numpy as jnp

    import jaxneuro

    n, duration, transient = args.n_lif, 1.0, args.lif_transient
    tau_m, tau_ref = 0.02, 0.002
    rng = np.random.default_rng(args.seed)
    v_in = jnp.asarray(rng.uniform(0.0, 5.0, n))
    v_in_np = np.asarray(v_in, np.float64)  # the values actually simulated (float32-rounded)
    reference = lif_rate_f64(v_in_np, tau_m, tau_ref)
    band = (v_in_np >= 1.05) & (v_in_np <= 5.0)
    neuron = jaxneuro.LIF(tau_m=tau_m, tau_ref=tau_ref)
    workload = f"(a) LIF {n:,} const inputs, {duration:g} s"
    log(f"{workload}: jaxneuro")

    results = {}
    for method, devices in device_variants(args.lif_methods):
        kwargs = dict(duration=duration, transient=transient, method=method, mesh=mesh_of(devices))
        if method == "stepped":
            kwargs["dt"] = args.lif_dt
        timed = time_jax(lambda x, kw=kwargs: jaxneuro.tuning_curve(neuron, x, **kw), v_in, repeats=args.repeats)
        err = np.abs(np.asarray(timed.out, np.float64) - reference)
        rel = np.max(err[band] / reference[band]) if band.any() else float("nan")
        key = method + device_text(devices)
        results[key] = (timed, err.max())
        log(
            f"  {key}: {timing('compile', timed.compile_s, timed.run_s, timed.cpu_s)} over {len(timed.runs)} runs, "
            f"max err {err.max():.3g} Hz, max rel err on [1.05, 5] {rel:.2g}"
        )
        label = (
            f"jaxneuro tuning_curve method={method}"
            + (f", dt={args.lif_dt * 1e3:g} ms" if method == "stepped" else "")
            + device_text(devices)
        )
        jax_row(table, workload, label, timed, f"{err.max():.2g} Hz (rel {rel:.1g} on [1.05, 5])")

    if brian2 is None:
        return
    log(f"{workload}: Brian2")
    run = b2c.lif_constant_sweep(
        brian2, v_in_np, tau_m=tau_m, tau_ref=tau_ref, duration_s=duration, dt_s=1e-4, repeats=args.repeats
    )
    per = b2c.split_spikes(run.spike_index, run.spike_times, n)
    b_rates = np.array([isi_rate(s, transient, duration) for s in per])
    b_err = np.abs(b_rates - reference).max()
    log(f"  Brian2: {timing('build', run.first_run_s, run.run_s, run.cpu_s)}, max err {b_err:.3g} Hz")
    table.add(
        workload,
        "Brian2 cython, exact, dt=0.1 ms",
        fmt_s(run.first_run_s),
        fmt_s(run.run_s),
        fmt_s(run.cpu_s),
        f"{b_err:.2g} Hz",
        "1",
        "",
    )
    for method, (timed, err) in results.items():
        speedup = run.run_s / timed.run_s
        verdict = f"target >= 30x at better accuracy: {'met' if speedup >= 30 and err < b_err else 'MISSED'}"
        table.add(
            workload,
            f"  -> jaxneuro {method} / Brian2",
            "",
            "",
            "",
            "more accurate" if err < b_err else "LESS accurate",
            ratio_text(run, timed),
            verdict if method.startswith("auto") else "(not the default path)",
        )


def bench_hh(args, table: Table, brian2):
    import jax.numpy as jnp

    import jaxneuro

    n, duration_ms, transient_ms = args.n_hh, 1000.0, args.hh_transient_ms
    rng = np.random.default_rng(args.seed + 1)
    currents = jnp.asarray(rng.uniform(0.0, 50.0, n))
    currents_np = np.asarray(currents, np.float64)  # the values actually simulated
    workload = f"(b) HH {n:,} const currents, {duration_ms / 1000:g} s"

    # Reference currents: the swept currents nearest to a spread of targets, kept at least
    # 0.1 uA/cm^2 away from the onset of repetitive firing (~6.26), where rates jump.
    targets = [1.0, 4.0, 7.0, 9.0, 12.0, 18.0, 25.0, 33.0, 42.0, 49.0][: args.n_ref]
    usable = np.flatnonzero(np.abs(currents_np - 6.26) >= 0.1)
    ref_idx = sorted({int(usable[np.argmin(np.abs(currents_np[usable] - c))]) for c in targets})
    rest = hh_rest_scipy()
    log(f"{workload}: scipy reference at {len(ref_idx)} currents")
    t = time.perf_counter()
    ref_rates = np.array(
        [isi_rate(hh_spikes_scipy(currents_np[i], duration_ms, rest), transient_ms, duration_ms, 1e-3) for i in ref_idx]
    )
    log(f"  scipy: {time.perf_counter() - t:.1f} s")
    for i, r in zip(ref_idx, ref_rates, strict=True):
        log(f"    I = {currents_np[i]:8.4f} uA/cm^2: {r:9.4f} Hz")

    neuron = jaxneuro.HodgkinHuxley()
    jn_rest = neuron.initial_state()
    rest_gap = max(abs(float(getattr(jn_rest, k)) - r) for k, r in zip("vnmh", rest, strict=True))
    log(f"  rest state: jaxneuro vs scipy max difference {rest_gap:.2g}")

    log(f"{workload}: jaxneuro")
    results = {}
    for method, devices in device_variants(args.hh_methods):
        kwargs = dict(duration=duration_ms, transient=transient_ms, method=method, mesh=mesh_of(devices))
        timed = time_jax(lambda x, kw=kwargs: jaxneuro.tuning_curve(neuron, x, **kw), currents, repeats=args.repeats)
        rates = np.asarray(timed.out, np.float64)
        err = np.abs(rates[ref_idx] - ref_rates).max()
        key = method + device_text(devices)
        results[key] = (timed, err, rates)
        log(
            f"  {key}: {timing('compile', timed.compile_s, timed.run_s, timed.cpu_s)} over {len(timed.runs)} runs, "
            f"max err {err:.3g} Hz"
        )
        log(f"    rates at the reference currents: {np.round(rates[ref_idx], 4).tolist()}")
        jax_row(
            table,
            workload,
            f"jaxneuro tuning_curve method={key}",
            timed,
            f"{err:.2g} Hz at {len(ref_idx)} currents",
        )

    if brian2 is None:
        return
    log(f"{workload}: Brian2")
    run = b2c.hh_constant_sweep(
        brian2, currents_np, rest, duration_s=duration_ms / 1000, dt_ms=0.01, repeats=args.hh_brian2_repeats
    )
    per = b2c.split_spikes(run.spike_index, run.spike_times, n)
    b_rates = np.array([isi_rate(s, transient_ms / 1000, duration_ms / 1000) for s in per])
    b_err = np.abs(b_rates[ref_idx] - ref_rates).max()
    log(f"    rates at the reference currents: {np.round(b_rates[ref_idx], 4).tolist()}")
    log(f"  Brian2: {timing('build', run.first_run_s, run.run_s, run.cpu_s)}, max err {b_err:.3g} Hz")
    table.add(
        workload,
        "Brian2 cython, exp. Euler, dt=0.01 ms",
        fmt_s(run.first_run_s),
        fmt_s(run.run_s),
        fmt_s(run.cpu_s),
        f"{b_err:.2g} Hz at {len(ref_idx)} currents",
        "1",
        "",
    )
    for method, (timed, err, rates) in results.items():
        speedup = run.run_s / timed.run_s
        verdict = f"target >= 10x at <= 0.5 Hz: {'met' if speedup >= 10 and err <= 0.5 else 'MISSED'}"
        gap = np.abs(rates - b_rates).max()
        table.add(
            workload,
            f"  -> jaxneuro {method} / Brian2",
            "",
            "",
            "",
            f"largest jaxneuro-Brian2 gap over all {n:,}: {gap:.2g} Hz",
            ratio_text(run, timed),
            verdict if method.startswith("auto") else "(not the default path)",
        )


def bench_stepped(args, table: Table, brian2):
    import jax
    import jax.numpy as jnp

    import jaxneuro

    n, duration, dt = args.n_stepped, 1.0, 1e-4
    amplitude, frequency, transient = 0.5, 5.0, 0.2
    n_steps = round(duration / dt)
    rng = np.random.default_rng(args.seed + 2)
    offsets = jnp.asarray(rng.uniform(0.5, 3.0, n))
    offsets_np = np.asarray(offsets, np.float64)
    neuron = jaxneuro.LIF()
    capacity = 256  # > the highest rate here (about 130 Hz) times 1 s
    t_record = np.array([duration])  # record the state only at the end
    workload = f"(c) stepped LIF {n:,} neurons, sine input, dt=0.1 ms, {duration:g} s"
    n_dev = len(jax.devices())

    def wave(off):
        return jaxneuro.FunctionInput(lambda t: off + amplitude * jnp.sin(2 * jnp.pi * frequency * t))

    def statistics(off):  # counts, ISI rate after the transient, 10 ms bins: no spike times stored
        stats = jaxneuro.spike_statistics(neuron, wave(off), 0.0, duration, dt=dt, transient=transient, bin_width=0.01)
        return stats.count, stats.rate, stats.bins

    def spike_times(off):
        sim = jaxneuro.simulate(
            neuron, wave(off), 0.0, duration, ts=t_record, method="stepped", dt=dt, max_spikes=capacity
        )
        return sim.spikes.count, sim.spikes.times

    # Accuracy: the closed-form solution between spikes, on a subset.
    sub = np.linspace(0, n - 1, min(args.n_stepped_check, n)).astype(int)
    t = time.perf_counter()
    ref_spikes = [lif_sine_spikes_exact(offsets_np[i], amplitude, frequency, duration) for i in sub]
    ref_counts = np.array([len(s) for s in ref_spikes])
    ref_rates = np.array([isi_rate(s, transient, duration) for s in ref_spikes])
    log(f"  closed-form reference on {len(sub)} neurons: {time.perf_counter() - t:.1f} s")

    variants = [("spike_statistics", statistics, "jax.vmap(spike_statistics) (counts, ISI rate, 10 ms bins)")]
    variants.append(("spike times", spike_times, "jax.vmap(simulate(method=stepped)) (every spike time)"))
    timed_main = None
    for key, fn, label in variants:
        for devices in sorted({1, n_dev}):
            mapped = jax.vmap(fn) if devices == 1 else jaxneuro.sharded_vmap(fn)
            name = label + ("" if devices == 1 else f", sharded over {devices} CPU devices")
            log(f"{workload}: {name}")
            timed = time_jax(mapped, offsets, repeats=args.repeats)
            counts = np.asarray(timed.out[0])
            steps_per_s = n * n_steps / timed.run_s
            count_gap = np.abs(counts[sub] - ref_counts)
            if key == "spike_statistics":
                rates = np.asarray(timed.out[1], np.float64)
                bins_ok = bool(np.all(np.asarray(timed.out[2]).sum(axis=-1) == counts))
                error = f"count gap {count_gap.max()}, rate {np.max(np.abs(rates[sub] - ref_rates)):.2g} Hz"
                error += f" ({len(sub)} neurons); bins sum to counts: {bins_ok}"
            else:
                times = np.asarray(timed.out[1], np.float64)
                t_err = spike_time_error([times[i][: counts[i]] for i in sub], ref_spikes)
                error = f"count gap {count_gap.max()}, spike times {t_err[0] * 1e6:.2g}/{t_err[1] * 1e6:.2g} us"
                error += f" ({len(sub)} neurons)"
            log(
                f"  compile {timed.compile_s:.3f} s, run {timed.run_s:.4f} s (CPU {timed.cpu_s:.4f} s), "
                f"{steps_per_s:.3g} neuron-steps/s; {error}"
            )
            jax_row(
                table,
                workload,
                "jaxneuro " + name,
                timed,
                error,
                f"{steps_per_s:.2g} neuron-steps/s ({1e9 * timed.cpu_s / (n * n_steps):.2f} ns CPU each), "
                f"target >= 3e9: {'met' if steps_per_s >= 3e9 else 'MISSED'}",
            )
            if key == "spike_statistics" and (timed_main is None or timed.run_s < timed_main.run_s):
                timed_main, counts_main = timed, counts  # the Brian2 ratio: the fastest statistics run
    timed, counts = timed_main, counts_main
    if brian2 is None:
        return
    log(f"{workload}: Brian2")
    run = b2c.lif_sine_drive(
        brian2,
        offsets_np,
        amplitude=amplitude,
        frequency_hz=frequency,
        duration_s=duration,
        dt_s=dt,
        repeats=args.repeats,
    )
    b_counts = np.bincount(run.spike_index, minlength=n)
    b_gap = np.abs(b_counts[sub] - ref_counts)
    b_per = b2c.split_spikes(run.spike_index, run.spike_times, n)
    b_err = spike_time_error([b_per[i] for i in sub], ref_spikes)
    b_steps = n * n_steps / run.run_s
    log(f"  Brian2: {timing('build', run.first_run_s, run.run_s, run.cpu_s)}, {b_steps:.3g} neuron-steps/s")
    table.add(
        workload,
        "Brian2 cython, exp. Euler",
        fmt_s(run.first_run_s),
        fmt_s(run.run_s),
        fmt_s(run.cpu_s),
        f"count gap {b_gap.max()}, spike times {b_err[0] * 1e6:.2g}/{b_err[1] * 1e6:.2g} us ({len(sub)} neurons)",
        "1",
        f"{b_steps:.2g} neuron-steps/s ({1e9 * run.cpu_s / (n * n_steps):.2f} ns CPU each)",
    )
    table.add(
        workload,
        "  -> jaxneuro / Brian2",
        "",
        "",
        "",
        f"mean abs count gap jaxneuro-Brian2 {np.abs(counts - b_counts).mean():.2g}",
        ratio_text(run, timed),
        "",
    )


# ----------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default="lif,hh,stepped", help="comma-separated subset of lif,hh,stepped")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--hh-brian2-repeats", type=int, default=2, help="timed Brian2 HH runs (about 15 s each)")
    parser.add_argument("--no-brian2", action="store_true", help="skip the Brian2 peers")
    parser.add_argument("--x64", action="store_true", help="float64 instead of JAX's default float32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--host-devices",
        type=int,
        default=8,
        help="split the CPU into this many XLA devices (before JAX starts); (c) then also runs sharded over "
        "them (default 8: about 1,250 neurons each, below the size at which XLA splits one kernel over threads)",
    )
    parser.add_argument("--lif-methods", default="auto,stepped,diffrax")
    parser.add_argument("--hh-methods", default="auto,diffrax")
    parser.add_argument("--lif-dt", type=float, default=1e-4, help="dt (s) for the stepped LIF sweep")
    parser.add_argument("--lif-transient", type=float, default=0.2, help="s discarded before the ISIs")
    parser.add_argument("--hh-transient-ms", type=float, default=200.0, help="ms discarded before the ISIs")
    parser.add_argument("--n-ref", type=int, default=8, help="scipy reference currents for HH")
    args = parser.parse_args(argv)
    args.n_lif, args.n_hh, args.n_stepped, args.n_stepped_check = (
        (1_000, 100, 1_000, 20) if args.quick else (10_000, 1_000, 10_000, 100)
    )
    if args.quick:
        args.repeats, args.hh_brian2_repeats, args.n_ref = min(args.repeats, 2), 1, min(args.n_ref, 4)
    args.lif_methods = [m for m in args.lif_methods.split(",") if m]
    args.hh_methods = [m for m in args.hh_methods.split(",") if m]

    if args.host_devices > 1:  # before JAX starts
        flag = f"--xla_force_host_platform_device_count={args.host_devices}"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)
    # Import the library's modules before any timed compile, as a script's ``from jaxneuro import
    # tuning_curve`` does: ``jaxneuro`` loads its modules (and diffrax) on first use, and a compile
    # column must not carry that one-time import (printed on its own below).
    t_import = time.perf_counter()
    import jaxneuro

    for name in ("tuning_curve", "simulate", "spike_statistics", "sharded_vmap", "batch_mesh"):
        getattr(jaxneuro, name)
    import_s = time.perf_counter() - t_import

    brian2, brian2_desc = (None, "skipped (--no-brian2)") if args.no_brian2 else b2c.import_brian2()
    print(f"# jaxneuro tuning benchmark ({'quick' if args.quick else 'full'} sizes)")
    print(
        f"python {platform.python_version()}, jax {jax.__version__} on {jax.devices()[0].platform}, "
        f"{'float64' if args.x64 else 'float32'}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"Brian2: {brian2_desc if brian2 is not None else 'SKIPPED: ' + brian2_desc}")
    print(f"import jaxneuro's simulators (with diffrax and equinox, once per process): {import_s:.2f} s")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")

    table = Table()
    only = set(args.only.split(","))
    if "lif" in only:
        bench_lif(args, table, brian2)
    if "hh" in only:
        bench_hh(args, table, brian2)
    if "stepped" in only:
        bench_stepped(args, table, brian2)
    print()
    table.print()
    print(
        f"\nload average at end: {os.getloadavg()[0]:.2f} "
        f"(on {os.cpu_count()} CPUs: above that, other work shared them)"
    )
    if brian2 is None:
        print("Brian2 was skipped: install it in a separate environment (benchmarks/README.md) for the peer rows.")


if __name__ == "__main__":
    main()

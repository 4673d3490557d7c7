"""Brian2 peers for the benchmarks: the same workloads as jaxneuro, timed the same way.

Brian2 is a benchmark-only dependency (see ``benchmarks/README.md``); every function here
imports it lazily so that the jaxneuro half of a benchmark still runs without it.

Timing convention (shared by the benchmark scripts): a network is built once and stored;
the first ``run`` generates and compiles the code (the cython target caches the compiled
extensions in ``~/.cython/brian_extensions``, so only the very first run on a machine is a
cold build); the steady-state time is the median over ``repeats`` of ``restore`` + ``run``
wall time, which is what a user waits for once the code is built.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def import_brian2(target: str = "cython") -> tuple[Any | None, str]:
    """Import Brian2 and select its code-generation target.

    Returns:
        ``(brian2, description)``, or ``(None, reason)`` when Brian2 cannot be imported
        (not installed, or numpy too new for it: Brian2 2.9 needs numpy < 2.4).
    """
    try:
        import brian2
    except Exception as err:  # ImportError, or numpy ABI/attribute errors inside brian2
        return None, f"{type(err).__name__}: {err}"
    brian2.prefs.codegen.target = target
    brian2.prefs.logging.console_log_level = "WARNING"
    return brian2, f"Brian2 {brian2.__version__} ({target} target, numpy {np.__version__})"


@dataclass
class BrianRun:
    """Result of a Brian2 run: spikes and timings (seconds)."""

    spike_index: np.ndarray
    spike_times: np.ndarray  # seconds
    first_run_s: float  # code generation + compilation (or cache load) + one run
    run_s: float  # median steady-state run (wall)
    cpu_s: float  # median CPU time of those runs (process-wide; robust to other load)
    run_all_s: list[float] = field(default_factory=list)


def time_network(brian2: Any, net: Any, monitor: Any, duration_s: float, repeats: int) -> BrianRun:
    """Run ``net`` once to build it, then ``repeats`` times from the stored initial state."""
    net.store("initial")
    t = time.perf_counter()
    net.run(duration_s * brian2.second, namespace={})
    first = time.perf_counter() - t
    runs, cpus = [], []
    for _ in range(repeats):
        net.restore("initial")
        c, t = time.process_time(), time.perf_counter()
        net.run(duration_s * brian2.second, namespace={})
        runs.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return BrianRun(
        spike_index=np.asarray(monitor.i[:]),
        spike_times=np.asarray(monitor.t_[:]),
        first_run_s=first,
        run_s=statistics.median(runs) if runs else first,
        cpu_s=statistics.median(cpus) if cpus else float("nan"),
        run_all_s=runs,
    )


def lif_constant_sweep(
    brian2: Any,
    v_in: np.ndarray,
    *,
    tau_m: float = 0.02,
    tau_ref: float = 0.002,
    duration_s: float = 1.0,
    dt_s: float = 1e-4,
    repeats: int = 3,
) -> BrianRun:
    """Normalised LIF (threshold 1, reset 0) under constant inputs, exact sub-threshold update."""
    b2 = brian2
    eqs = """
    dv/dt = (v_in - v) / tau_m : 1 (unless refractory)
    v_in : 1 (constant)
    """
    group = b2.NeuronGroup(
        len(v_in),
        eqs,
        threshold="v > 1",
        reset="v = 0",
        refractory=tau_ref * b2.second,
        method="exact",
        dt=dt_s * b2.second,
        namespace={"tau_m": tau_m * b2.second},
    )
    group.v_in = np.asarray(v_in, dtype=np.float64)
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, monitor)
    return time_network(b2, net, monitor, duration_s, repeats)


def lif_sine_drive(
    brian2: Any,
    offset: np.ndarray,
    *,
    amplitude: float,
    frequency_hz: float,
    tau_m: float = 0.02,
    tau_ref: float = 0.002,
    duration_s: float = 1.0,
    dt_s: float = 1e-4,
    repeats: int = 3,
) -> BrianRun:
    """Normalised LIF under ``v_in(t) = offset_i + amplitude sin(2 pi f t)``.

    ``exponential_euler`` freezes the input over a step and integrates the leak exactly,
    the same update as jaxneuro's stepped LIF (whose spike placement is finer: Brian2 puts
    a spike at the start of the step in which the threshold is found crossed).
    """
    b2 = brian2
    eqs = """
    dv/dt = (offset + amplitude * sin(2 * pi * frequency * t) - v) / tau_m : 1 (unless refractory)
    offset : 1 (constant)
    """
    group = b2.NeuronGroup(
        len(offset),
        eqs,
        threshold="v > 1",
        reset="v = 0",
        refractory=tau_ref * b2.second,
        method="exponential_euler",
        dt=dt_s * b2.second,
        namespace={"tau_m": tau_m * b2.second, "amplitude": amplitude, "frequency": frequency_hz * b2.hertz},
    )
    group.offset = np.asarray(offset, dtype=np.float64)
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, monitor)
    return time_network(b2, net, monitor, duration_s, repeats)


HH_EQUATIONS = """
dv/dt = (I - gL * (v - EL) - gNa * m**3 * h * (v - ENa) - gK * n**4 * (v - EK)) / Cm : volt
dn/dt = alpha_n * (1 - n) - beta_n * n : 1
dm/dt = alpha_m * (1 - m) - beta_m * m : 1
dh/dt = alpha_h * (1 - h) - beta_h * h : 1
alpha_n = 0.1 / ms / exprel(-(v + 55 * mV) / (10 * mV)) : Hz
beta_n = 0.125 / ms * exp(-(v + 65 * mV) / (80 * mV)) : Hz
alpha_m = 1 / ms / exprel(-(v + 40 * mV) / (10 * mV)) : Hz
beta_m = 4 / ms * exp(-(v + 65 * mV) / (18 * mV)) : Hz
alpha_h = 0.07 / ms * exp(-(v + 65 * mV) / (20 * mV)) : Hz
beta_h = 1 / ms / (1 + exp(-(v + 35 * mV) / (10 * mV))) : Hz
I : amp / meter**2 (constant)
"""


def hh_constant_sweep(
    brian2: Any,
    currents_uA_cm2: np.ndarray,
    rest: tuple[float, float, float, float],
    *,
    duration_s: float = 1.0,
    dt_ms: float = 0.01,
    threshold_mV: float = 0.0,
    repeats: int = 2,
) -> BrianRun:
    """Hodgkin-Huxley (1952 squid axon, rest near -65 mV) under constant currents.

    Exponential Euler at ``dt_ms`` (Brian2's usual choice for HH); spikes are the steps at
    which ``v`` first exceeds ``threshold_mV`` (refractory while above it), i.e. upward
    crossings snapped to the grid.  ``rest`` is ``(V mV, n, m, h)`` at t = 0.
    """
    b2 = brian2
    unit_area = b2.cm**2
    namespace = {
        "Cm": 1.0 * b2.ufarad / unit_area,
        "gNa": 120.0 * b2.msiemens / unit_area,
        "gK": 36.0 * b2.msiemens / unit_area,
        "gL": 0.3 * b2.msiemens / unit_area,
        "ENa": 50.0 * b2.mV,
        "EK": -77.0 * b2.mV,
        "EL": -54.387 * b2.mV,
    }
    thr = f"v > {threshold_mV!r} * mV"
    group = b2.NeuronGroup(
        len(currents_uA_cm2),
        HH_EQUATIONS,
        threshold=thr,
        refractory=thr,
        method="exponential_euler",
        dt=dt_ms * b2.ms,
        namespace=namespace,
    )
    group.I = np.asarray(currents_uA_cm2, dtype=np.float64) * b2.uamp / unit_area
    v0, n0, m0, h0 = rest
    group.v = v0 * b2.mV
    group.n = n0
    group.m = m0
    group.h = h0
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, monitor)
    return time_network(b2, net, monitor, duration_s, repeats)


def split_spikes(spike_index: np.ndarray, spike_times: np.ndarray, n: int) -> list[np.ndarray]:
    """Per-neuron sorted spike-time arrays from a Brian2 ``SpikeMonitor``'s ``(i, t)``."""
    order = np.lexsort((spike_times, spike_index))
    idx, ts = spike_index[order], spike_times[order]
    bounds = np.searchsorted(idx, np.arange(n + 1))
    return [ts[bounds[k] : bounds[k + 1]] for k in range(n)]


__all__ = [
    "BrianRun",
    "HH_EQUATIONS",
    "hh_constant_sweep",
    "import_brian2",
    "lif_constant_sweep",
    "lif_sine_drive",
    "split_spikes",
    "time_network",
]

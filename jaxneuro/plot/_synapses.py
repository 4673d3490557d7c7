"""Figures for synapses and networks: spike rasters, PSC kernels, filtered spike trains and
membrane traces of a network (notes ch. 1.6-1.7).  Times are plotted in ms."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .._kernels import psc_kernel
from .._misc import static_positive
from .._spikes import SpikeTrain, filter_spikes

MAX_PLOT_BINS = 10**6
"""The most bins the grid version of ``plot_filtered_spikes`` draws."""


def _axes(ax, size=(6, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _spike_lists(spikes) -> list[np.ndarray]:
    """One array of spike times (s) per neuron, from a SpikeTrain or a list of arrays."""
    if isinstance(spikes, SpikeTrain):
        times = np.asarray(spikes.times).reshape(-1, spikes.capacity)
        counts = np.minimum(np.asarray(spikes.count).reshape(-1), spikes.capacity)
        return [times[i, : counts[i]] for i in range(times.shape[0])]
    return [np.asarray(t, float).ravel() for t in spikes]


def plot_raster(
    spikes,
    *,
    ax=None,
    neurons: Sequence[int] | None = None,
    color="k",
    markersize=2.0,
    groups=None,
    time_unit: str = "s",
):
    """Spike raster: one row per neuron, a tick at each spike, time in ms.

    Args:
        spikes: a ``SpikeTrain`` of shape ``(N, capacity)`` (e.g. ``result.spikes`` of
            ``simulate_network``, or ``NetworkRun.train(name)``) or a list of arrays of spike times.
        neurons: which rows to draw (default all).
        groups: optional ``{name: slice}`` (e.g. populations) shaded and labelled.
        ax: axes to draw on (default: a new figure).
        time_unit: the unit of the spike times, ``"s"`` (the LIF models) or ``"ms"`` (the
            networks of ``jaxneuro.Network``, HH and the other built-in neurons).

    Returns:
        The axes.

    Raises:
        ValueError: ``time_unit`` is not ``"s"`` or ``"ms"``.
    """
    if time_unit not in ("s", "ms"):
        raise ValueError(f"time_unit must be 's' or 'ms', got time_unit = {time_unit!r}.")
    to_ms = 1e3 if time_unit == "s" else 1.0
    ax = _axes(ax, (7, 4))
    lists = _spike_lists(spikes)
    rows = range(len(lists)) if neurons is None else list(neurons)
    xs, ys = [], []
    for r, i in enumerate(rows):
        xs.append(lists[i] * to_ms)
        ys.append(np.full(len(lists[i]), r))
    if xs:
        ax.plot(np.concatenate(xs), np.concatenate(ys), "|", color=color, ms=markersize * 2, mew=0.8)
    if groups:
        for k, (name, sl) in enumerate(groups.items()):
            ax.axhspan(sl.start - 0.5, sl.stop - 0.5, color=f"C{k}", alpha=0.08)
            ax.text(1.01, (sl.start + sl.stop) / 2 / max(len(rows), 1), name, transform=ax.transAxes, va="center")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_ylim(-0.5, len(rows) - 0.5)
    return ax


def plot_psc_kernels(tau_s: Sequence[float] = (0.01, 0.03), n: Sequence[int] = (0, 1, 2), *, t_max=None, ax=None):
    """PSC kernels ``h(t) = t^n e^(-t/tau_s) / (n! tau_s^(n+1))`` for several ``n`` and
    ``tau_s`` (s): unit area each, peak at ``n tau_s`` (marked).  ``t_max``: end of the plot
    (s, > 0; default ``6 max(tau_s) (1 + max(n) / 2)``)."""
    tau_s, n = [float(t) for t in tau_s], [int(k) for k in n]
    t_max = 6 * max(tau_s) * (1 + max(n) / 2) if t_max is None else static_positive("t_max", t_max, "s")
    ax = _axes(ax)
    t = np.linspace(0.0, t_max, 1000)
    for i, ts in enumerate(tau_s):
        for j, k in enumerate(n):
            h = np.asarray(psc_kernel(t, ts, k))
            line = ax.plot(
                t * 1e3, h, color=f"C{j}", ls=["-", "--", ":", "-."][i % 4], label=f"n={k}, tau_s={ts * 1e3:g} ms"
            )
            if k > 0:
                ax.plot(k * ts * 1e3, float(psc_kernel(k * ts, ts, k)), "o", color=line[0].get_color(), ms=3)
    ax.set_xlabel("time since the spike (ms)")
    ax.set_ylabel("h(t) (1/s)")
    ax.legend(fontsize=8)
    return ax


def plot_filtered_spikes(spike_times, tau_s: float, n: int = 0, *, t_max=None, dt=None, ax=None):
    """A spike train as ticks and its filtered form ``s(t) = sum_p h(t - t_p)``: exact from the
    spike times, and (if ``dt`` is given) the grid convolution of its raster as steps.

    Args:
        spike_times: spike times of one neuron (s), or a 1-D ``SpikeTrain``.
        tau_s: synaptic time constant (s).   n: kernel order.
        t_max: end of the plot (s; default last spike + 6 tau_s (n + 1)).
        dt: bin width (s, > 0) for the grid version (optional; at most ``MAX_PLOT_BINS``
            bins up to ``t_max``).

    Raises:
        ValueError: for a ``tau_s``, ``t_max`` or ``dt`` that is not finite and > 0, a ``dt``
            that makes more than ``MAX_PLOT_BINS`` bins, or NaN spike times.
    """
    tau_s = static_positive("tau_s", tau_s, "s")
    dt = None if dt is None else static_positive("dt", dt, "s")
    times = _spike_lists([spike_times] if not isinstance(spike_times, SpikeTrain) else spike_times)[0]
    train = SpikeTrain.from_times(times if len(times) else np.array([np.inf]))
    t_max = (times.max() if len(times) else 0.0) + 6 * tau_s * (n + 1) if t_max is None else t_max
    t_max = static_positive("t_max", t_max, "s")
    if dt is not None and t_max / dt > MAX_PLOT_BINS:  # (1e12 bins was JAX's OverflowError)
        raise ValueError(
            f"dt must be at least t_max / {MAX_PLOT_BINS} = {t_max / MAX_PLOT_BINS:g} s (the grid version plots at "
            f"most {MAX_PLOT_BINS} bins); got dt = {dt:g} s, t_max = {t_max:g} s: {t_max / dt:g} bins."
        )
    ax = _axes(ax, (7, 3.5))
    ts = np.linspace(0.0, t_max, 2000)
    s = np.asarray(filter_spikes(train, tau_s, n, ts=ts))
    # the exact curve on top (thin, dark) and the grid version under it (wide, light), so both show
    ax.plot(ts * 1e3, s, "k", lw=1.0, label="exact: sum of kernels", zorder=3)
    if dt is not None:
        bins = int(np.ceil(t_max / dt))
        raster = train.to_raster(0.0, dt, bins)
        sg = np.asarray(filter_spikes(raster, tau_s, n, dt=dt))
        ax.step(
            np.arange(bins) * dt * 1e3,
            sg,
            "C1",
            where="post",
            lw=3,
            alpha=0.6,
            label=f"grid, dt = {dt * 1e3:g} ms",
            zorder=2,
        )
    top = max(s.max(), 1e-12)
    ax.vlines(times * 1e3, -0.12 * top, -0.02 * top, color="k", lw=1, label="spikes")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("s(t) (1/s)")
    ax.legend(fontsize=8, loc="upper right")
    return ax


def plot_membrane_traces(result, neurons: Sequence[int] | None = None, *, ax=None, offset=1.5):
    """Membrane potentials of a few neurons of a ``simulate_network`` run (recorded with
    ``trace_every``), stacked with ``offset``, threshold dashed and spikes marked.

    Args:
        result: a ``NetworkResult`` with traces (``result.v``); if it recorded a subset
            (``trace_neurons``), ``neurons`` index that subset.
        neurons: which traced columns to draw (default the first 5).
    """
    if result.v is None:
        raise ValueError("the result has no traces: run simulate_network with trace_every=...")
    ax = _axes(ax, (7, 4))
    ts = np.asarray(result.ts) * 1e3
    v = np.asarray(result.v)
    cols = list(range(min(5, v.shape[1]))) if neurons is None else list(neurons)
    lists = _spike_lists(result.spikes) if result.spikes is not None else None
    for k, c in enumerate(cols):
        base = k * offset
        ax.plot(ts, v[:, c] + base, lw=1, color=f"C{k}")
        ax.axhline(base + 1.0, color="grey", ls="--", lw=0.5)
        if lists is not None and v.shape[1] == len(lists):
            st = lists[c] * 1e3
            st = st[(st >= ts[0]) & (st <= ts[-1])]
            ax.plot(st, np.full(len(st), base + 1.1), "v", color=f"C{k}", ms=3)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("v (offset per neuron; threshold dashed)")
    ax.set_yticks([])
    return ax


__all__ = ["plot_filtered_spikes", "plot_membrane_traces", "plot_psc_kernels", "plot_raster"]

"""Figures for single neurons: tuning curves, membrane traces with spikes, HH gates."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .._misc import check_int


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_tuning_curve(
    inputs, rates, *, analytic=None, ax=None, xlabel="input", label="simulated", max_points: int = 60
):
    """Firing rate (Hz) against input: simulated points, optionally with an analytic curve drawn over them.

    A sweep of thousands of inputs is thinned to ``max_points`` evenly spaced hollow markers, so
    that the analytic line (drawn on top) stays visible.

    Args:
        inputs, rates: arrays of the same length (rates in Hz).
        analytic: optional ``(x, G(x))`` drawn as a line over the points.
        ax: axes to draw on (default: a new figure).
        xlabel: the input axis label (with its unit).
        label: the legend entry of the simulated points.
        max_points: at most this many simulated points are drawn (>= 2).

    Returns:
        The axes.

    Raises:
        ValueError: ``max_points < 2``, or ``inputs`` and ``rates`` not 1-D of one length.
    """
    check_int("max_points", max_points, 2, numpy=False)
    inputs, rates = np.asarray(inputs), np.asarray(rates)
    if inputs.ndim != 1 or inputs.shape != rates.shape:
        raise ValueError(
            f"inputs and rates must be 1-D of the same length; got shapes {inputs.shape} and {rates.shape}."
        )
    ax = _axes(ax)
    order = np.argsort(inputs)
    if len(order) > max_points:  # evenly spaced along the sorted inputs, both ends kept
        order = order[np.unique(np.linspace(0, len(order) - 1, max_points).round().astype(int))]
    shown = f"{label} ({len(order)} of {len(inputs)})" if len(order) < len(inputs) else label
    ax.plot(inputs[order], rates[order], "o", ms=5, mfc="none", mew=1.0, color="C0", label=shown, zorder=2)
    if analytic is not None:
        ax.plot(np.asarray(analytic[0]), np.asarray(analytic[1]), "k-", lw=1.2, label="analytic G(v_in)", zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("firing rate (Hz)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return ax


def plot_trace(ts, v, spike_times=None, *, ax=None, ylabel="v", threshold=None, time_unit="s"):
    """Membrane trace with spike times marked (and the threshold, if given)."""
    ax = _axes(ax)
    ax.plot(np.asarray(ts), np.asarray(v), lw=1)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=0.8, label="threshold")
    if spike_times is not None:
        st = np.asarray(spike_times)
        st = st[np.isfinite(st)]
        top = np.nanmax(np.asarray(v)) if threshold is None else max(threshold, np.nanmax(np.asarray(v)))
        ax.plot(st, np.full_like(st, top * 1.05 if top > 0 else top + 5), "v", color="C3", ms=5, label="spikes")
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right") if (threshold is not None or spike_times is not None) else None
    return ax


def plot_gates(ts, state, *, ax=None):
    """The HH gating variables n, m, h against time (ms)."""
    ax = _axes(ax)
    for name in ("n", "m", "h"):
        ax.plot(np.asarray(ts), np.asarray(getattr(state, name)), label=name, lw=1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("gate value")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(loc="upper right")
    return ax

"""Figures for single neurons: tuning curves, membrane traces with spikes, HH gates."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_tuning_curve(inputs, rates, *, analytic=None, ax=None, xlabel="input", label="simulated"):
    """Firing rate (Hz) against input: simulated points, optionally over an analytic curve.

    Args:
        inputs, rates: arrays of the same length (rates in Hz).
        analytic: optional ``(x, G(x))`` drawn as a line under the points.
        ax: axes to draw on (default: a new figure).
    """
    ax = _axes(ax)
    inputs, rates = np.asarray(inputs), np.asarray(rates)
    if analytic is not None:
        ax.plot(np.asarray(analytic[0]), np.asarray(analytic[1]), "k-", lw=1.5, label="analytic G(v_in)", zorder=1)
    step = max(1, len(inputs) // 400)  # keep the scatter readable for huge sweeps
    order = np.argsort(inputs)[::step]
    ax.plot(inputs[order], rates[order], "o", ms=3, alpha=0.7, label=label, zorder=2)
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

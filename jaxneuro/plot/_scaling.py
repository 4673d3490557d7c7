"""Figures for parameter sweeps: a 2-D tuning surface (rate over input and one parameter)."""

from __future__ import annotations

import numpy as np


def plot_tuning_surface(
    x, y, rates, *, ax=None, xlabel="input", ylabel="parameter", levels=6, cmap="viridis", colorbar=True
):
    """Firing rate (Hz) over a 2-D grid, as a colour map with labelled iso-rate contours.

    ``rates[i, j]`` is the rate at ``(x[i], y[j])``: the layout of
    ``jaxneuro.tuning_grid`` for a grid over inputs and one parameter, e.g.
    ``plot_tuning_surface(grid.axes[0], grid.axes[1], rate)``.  Non-firing points (rate 0)
    lie below the lowest contour, so the firing threshold shows as the edge of the dark
    region.

    Args:
        x: values along axis 0 (drawn horizontally), increasing.
        y: values along axis 1 (drawn vertically), increasing.
        rates: rates in Hz, shape ``(len(x), len(y))``.
        ax: axes to draw on (default: a new figure).
        xlabel, ylabel: axis labels (with units).
        levels: number of contour lines (0 for none).
        cmap: matplotlib colour map.
        colorbar: add a colour bar labelled in Hz.

    Returns:
        The axes.

    Raises:
        ValueError: when ``x``, ``y`` are not 1-D or ``rates`` is not ``(len(x), len(y))``.
    """
    import matplotlib.pyplot as plt

    x, y, rates = np.asarray(x), np.asarray(y), np.asarray(rates)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"x and y must be 1-D; got shapes {x.shape} and {y.shape}.")
    if rates.shape != (x.size, y.size):
        raise ValueError(f"rates must have shape (len(x), len(y)) = {(x.size, y.size)}; got {rates.shape}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    mesh = ax.pcolormesh(x, y, rates.T, shading="nearest", cmap=cmap)
    if levels and x.size > 1 and y.size > 1 and np.ptp(rates) > 0:
        lines = ax.contour(x, y, rates.T, levels=levels, colors="white", linewidths=0.8)
        ax.clabel(lines, fmt="%.0f Hz", fontsize=7)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="firing rate (Hz)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax

"""Figures for activations and universal approximation (notes ch. 1.5 and 2.2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


def _new_axes(figsize: tuple[float, float] = (5.0, 3.5)) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").subplots()


def plot_activations(
    names: Sequence[str] = ("logistic", "tanh", "relu", "leaky_relu", "soft_lif", "lif"),
    *,
    z_range: tuple[float, float] = (-3.0, 3.0),
    ax: Any = None,
) -> Any:
    """The single-neuron activation functions ``y = act(z)`` of ``jaxneuro.get_activation``.

    Args:
        names: activation names (elementwise ones; softmax and one_hot act on vectors).
        z_range: the drive interval shown.
        ax: matplotlib axes (default: a new figure).

    Returns:
        The axes.

    Raises:
        ValueError: for an unknown name, or "softmax"/"one_hot" (not elementwise).
    """
    import jax.numpy as jnp

    from .._activations import get_activation

    for name in names:
        if name in ("softmax", "one_hot"):
            raise ValueError(f"plot_activations shows elementwise activations; {name!r} acts on a whole vector.")
        get_activation(name)
    ax = _new_axes() if ax is None else ax
    z = np.linspace(*z_range, 601)
    for name in names:
        ax.plot(z, np.asarray(get_activation(name)(jnp.asarray(z))), label=name)
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.set_xlabel("drive z")
    ax.set_ylabel("activation y")
    ax.legend(fontsize="small")
    return ax


def plot_uat_approximant(
    approximant: Any,
    f: Callable[[Any], Any],
    *,
    trained: Callable[[Any], Any] | None = None,
    show_pieces: bool = True,
    n_points: int = 2001,
    ax: Any = None,
) -> Any:
    """The target ``f``, the constructive approximant ``G`` and its pieces ``alpha_j P_j`` on [0, 1].

    Args:
        approximant: a ``jaxneuro.StepApproximant``.
        f: the target (elementwise on arrays).
        trained: optionally a trained approximant (elementwise function, e.g. from
            ``jaxneuro.mlp_function``) drawn for comparison.
        show_pieces: draw each weighted piece ``alpha_j P_j(x)`` faintly.
        n_points: plotting resolution.
        ax: matplotlib axes (default: a new figure).

    Returns:
        The axes.
    """
    import jax.numpy as jnp

    ax = _new_axes((6.0, 3.5)) if ax is None else ax
    x = np.linspace(0.0, 1.0, n_points)
    xj = jnp.asarray(x)
    if show_pieces:
        weighted = np.asarray(approximant.pieces(xj) * approximant.alpha)
        for j in range(weighted.shape[1]):
            ax.plot(x, weighted[:, j], color="0.75", lw=0.7, label="pieces $\\alpha_j P_j$" if j == 0 else None)
    ax.plot(x, np.asarray(f(xj)), color="k", lw=2.0, label="f")
    ax.plot(x, np.asarray(approximant(xj)), color="C0", label=f"constructive G, N = {approximant.n_pieces}")
    if trained is not None:
        ax.plot(x, np.asarray(trained(xj)), color="C1", ls="--", label="trained")
    ax.set_xlabel("x")
    ax.legend(fontsize="small")
    return ax


def plot_uat_error(result: Mapping[str, Any], *, ax: Any = None) -> Any:
    """Max error against N on log-log axes: constructive (measured and certified bound), trained,
    and a ``1/N`` reference line through the constructive error at the largest N.

    Args:
        result: a dict with arrays "n", "constructive", and optionally "bound" and "trained",
            as returned by ``jaxneuro.error_versus_pieces``; "trained" is drawn against
            "n_trained" if given (trained networks are often run for fewer sizes), else "n".
        ax: matplotlib axes (default: a new figure).

    Returns:
        The axes.

    Raises:
        ValueError: if "n" or "constructive" is missing or their lengths differ.
    """
    if "n" not in result or "constructive" not in result:
        raise ValueError("result must hold arrays 'n' and 'constructive' (see jaxneuro.error_versus_pieces).")
    n = np.asarray(result["n"], float)
    err = np.asarray(result["constructive"], float)
    if n.shape != err.shape or n.size == 0:
        raise ValueError(f"'n' and 'constructive' must be non-empty and of equal length, got {n.size} and {err.size}.")
    ax = _new_axes() if ax is None else ax
    ax.loglog(n, err, "o-", color="C0", label="constructive G (measured)")
    if "bound" in result:
        ax.loglog(n, np.asarray(result["bound"], float), ":", color="C0", label="certified bound")
    n_trained = np.asarray(result.get("n_trained", n), float)
    if "trained" in result:
        ax.loglog(
            n_trained,
            np.asarray(result["trained"], float),
            "s--",
            color="C1",
            label="trained, N hidden units",
        )
    # The reference goes through the largest N, where the error is in its asymptotic regime.
    ax.loglog(n, err[-1] * n[-1] / n, color="0.6", lw=0.8, label="$\\propto 1/N$")
    ticks = np.unique(np.concatenate([n, n_trained]))
    ax.set_xticks(ticks, [f"{int(v)}" for v in ticks])
    ax.minorticks_off()
    ax.set_xlabel("N (pieces / hidden units)")
    ax.set_ylabel("max |G(x) - f(x)| on [0, 1]")
    ax.legend(fontsize="small")
    return ax


__all__ = ["plot_activations", "plot_uat_approximant", "plot_uat_error"]

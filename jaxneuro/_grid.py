"""Parameter grids: the Cartesian product of inputs and neuron parameters, run in one call.

A grid over inputs ``x_i`` and parameters ``p_j, q_k, ...`` is stored flat, as a *stacked*
neuron (every parameter field an array of length ``N = n_x n_p n_q ...``, row-major over
the grid, input fastest-varying last) and a matching array of inputs, so that it can be
vmapped, split across devices or cut into chunks.  Results are reshaped to the grid:
``rate[i_input, i_p, i_q]``.

    grid = jn.parameter_grid(jn.LIF(), v_in, tau_m=taus, tau_ref=refs)
    rate = jn.tuning_grid(grid, duration=1.0)          # s (LIF's unit); shape (len(v_in), len(taus), len(refs))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jaxtyping import Array, ArrayLike, Float, PyTree

from ._custom_types import RealSequence
from ._misc import default_float, is_concrete
from ._neurons._base import AbstractNeuron
from ._sharding import sharded_vmap
from ._tuning import tuning_curve

INPUT_AXIS = "input"
"""Name of the input axis of every grid (always axis 0)."""


class ParameterGrid(eqx.Module):
    """The Cartesian product of inputs and neuron parameters, flattened (build it with
    :func:`parameter_grid`).

    Attributes:
        neuron: a stacked neuron; every array field has shape ``(size,)``.
        inputs: the input of each grid point, shape ``(size,)``.
        names: the axis names, ``("input", <parameter>, ...)``.
        axes: the values along each axis, one 1-D array per name.
    """

    neuron: AbstractNeuron
    inputs: Float[Array, " size"]
    names: tuple[str, ...] = eqx.field(static=True)
    axes: tuple[Float[Array, " _"], ...]  # one axis per name, each its own length

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid shape, ``(len(axes[0]), len(axes[1]), ...)``."""
        return tuple(int(a.shape[0]) for a in self.axes)

    @property
    def size(self) -> int:
        """Number of grid points (product of ``shape``)."""
        return int(np.prod(self.shape))

    def reshape(self, flat: PyTree[Array]) -> PyTree[Array]:
        """Reshape every array leaf from a leading axis of ``size`` to the grid shape."""
        return jax.tree.map(lambda a: jnp.reshape(a, self.shape + jnp.shape(a)[1:]), flat)

    def map(self, fn: Callable[[AbstractNeuron, Array], PyTree], *, mesh: Mesh | None = None) -> PyTree:
        """``fn(neuron, input)`` at every grid point, batched with :func:`jaxneuro.sharded_vmap`
        (split across the devices of ``mesh``) and reshaped to the grid.

        Args:
            fn: function of one neuron and one input (e.g. a ``simulate`` call).
            mesh: as in :func:`jaxneuro.sharded_vmap` (default: all local devices if several).

        Returns:
            ``fn``'s outputs with leading axes ``shape``.
        """
        return self.reshape(sharded_vmap(fn, mesh=mesh)(self.neuron, self.inputs))


def _axis_values(name: str, values: Any, dtype) -> Array:
    if not is_concrete(values):
        raise ValueError(f"{name} values must be concrete (they set the grid shape), not traced.")
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of values; got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr.astype(np.float64))):
        raise ValueError(f"{name} values must be finite numbers; got {name} = {np.array2string(arr, threshold=6)}.")
    return jnp.asarray(arr, dtype)


def parameter_grid(
    neuron: AbstractNeuron,
    inputs: Float[ArrayLike, " n_input"] | RealSequence,
    *,
    dtype: Any = None,
    **parameters: ArrayLike | RealSequence,
) -> ParameterGrid:
    """The Cartesian product of ``inputs`` and the given neuron ``parameters``.

    Grid point ``(i, j, k, ...)`` has input ``inputs[i]``, the ``j``-th value of the first
    parameter, the ``k``-th of the second, and ``neuron``'s own value for every other field.
    Parameter values are checked by the neuron's constructor (e.g. ``tau_m > 0``).

    Args:
        neuron: a single neuron (scalar parameters), e.g. ``LIF()`` or ``HodgkinHuxley()``.
        inputs: 1-D inputs (LIF: normalised ``v_in``; HH: uA/cm^2).
        dtype: floating dtype of the grid (default float32, float64 under ``jax_enable_x64``).
        **parameters: ``name=values`` for parameter fields of the neuron, each 1-D; the grid
            axes follow the keyword order.

    Returns:
        A :class:`ParameterGrid` with ``shape == (len(inputs), len(values_1), ...)``.

    Raises:
        TypeError: when ``neuron`` is not a jaxneuro neuron.
        ValueError: for a stacked neuron, an unknown parameter name, a parameter given twice,
            empty, non-1-D or non-finite values, or values the neuron rejects.
    """
    if not isinstance(neuron, AbstractNeuron):
        raise TypeError(f"neuron must be a jaxneuro neuron (LIF, HodgkinHuxley), got {type(neuron).__name__}.")
    fields = [f.name for f in dataclasses.fields(neuron) if not f.metadata.get("static", False)]
    for name in fields:
        if jnp.ndim(getattr(neuron, name)) != 0:
            raise ValueError(
                f"neuron must be a single neuron with scalar parameters; {name} has shape "
                f"{jnp.shape(getattr(neuron, name))}. Give varied parameters as keywords instead."
            )
    for name in parameters:
        if name == INPUT_AXIS or name not in fields:
            raise ValueError(f"unknown parameter {name!r} for {type(neuron).__name__}; allowed: {fields}.")
    dtype = default_float() if dtype is None else jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(f"dtype must be float32 or float64 (the neuron's parameters and inputs), got dtype = {dtype}.")
    axes = (_axis_values("inputs", inputs, dtype),) + tuple(_axis_values(k, v, dtype) for k, v in parameters.items())
    for name, values in zip(parameters, axes[1:], strict=True):
        dataclasses.replace(neuron, **{name: values})  # the constructor checks each axis's values
    points = [m.reshape(-1) for m in jnp.meshgrid(*axes, indexing="ij")]
    size = points[0].shape[0]
    varied = dict(zip(parameters, points[1:], strict=True))
    stacked = {
        name: varied[name] if name in varied else jnp.full((size,), getattr(neuron, name), dtype) for name in fields
    }
    return ParameterGrid(
        neuron=dataclasses.replace(neuron, **stacked),
        inputs=points[0],
        names=(INPUT_AXIS, *parameters),
        axes=axes,
    )


def tuning_grid(
    grid: ParameterGrid,
    *,
    duration: float | None = None,
    transient: float | None = None,
    method: Literal["auto", "exact", "stepped", "diffrax"] = "auto",
    dt: float | None = None,
    mesh: Mesh | None = None,
) -> Float[Array, "*grid"]:
    """Steady-state firing rate (Hz) at every point of ``grid``, shaped like the grid.

    One :func:`jaxneuro.tuning_curve` call over the flattened grid (split across the
    devices of ``mesh``), reshaped so that ``rate[i_input, i_p, ...]`` is the rate for
    ``grid.axes[0][i_input]``, ``grid.axes[1][i_p]``, ...

    Args:
        grid: from :func:`parameter_grid`.
        duration, transient, method, dt, mesh: as in :func:`jaxneuro.tuning_curve` (the
            computation uses the grid's dtype).

    Returns:
        Rates in Hz, shape ``grid.shape``.

    Raises:
        TypeError: when ``grid`` is not a ``ParameterGrid``.
        ValueError: as :func:`jaxneuro.tuning_curve`.
    """
    if not isinstance(grid, ParameterGrid):
        raise TypeError(f"grid must be a ParameterGrid (from parameter_grid), got {type(grid).__name__}.")
    rates = tuning_curve(
        grid.neuron,
        grid.inputs,
        duration=duration,
        transient=transient,
        method=method,
        dt=dt,
        dtype=grid.inputs.dtype,
        mesh=mesh,
    )
    return grid.reshape(rates)


__all__ = ["INPUT_AXIS", "ParameterGrid", "parameter_grid", "tuning_grid"]

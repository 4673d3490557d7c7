"""Input drives: constants, steps, piecewise-constant schedules and functions of time.

Every input is an ``eqx.Module`` callable as ``drive(t)`` and usable as the ``args`` of a
neuron's ``vector_field``.  ``jump_ts`` lists the discontinuities so that adaptive solvers
step onto them exactly (``diffrax.PIDController(jump_ts=...)``), and ``is_piecewise_constant``
tells ``simulate`` when the exact event-driven LIF path applies.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, cast

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import ParamArray
from ._misc import as_float_array, check_finite, error_if_any, is_concrete


class AbstractInput(eqx.Module):
    """A drive ``J(t)``: the input current (or normalised v_in) as a function of time."""

    @abc.abstractmethod
    def __call__(self, t: Any) -> Array:
        """The drive at time ``t``."""

    def jump_ts(self) -> Float[Array, " jumps"] | None:
        """Times of discontinuities, or ``None`` when the drive is continuous."""
        return None

    is_piecewise_constant: bool = eqx.field(default=False, static=True, init=False)

    def checked(self) -> AbstractInput:
        """This drive with run-time checks (``eqx.error_if``) that its traced values are
        finite (concrete ones are checked at construction).  Default: none (a function of
        ``t`` is checked through the state it drives: ``simulate`` refuses a non-finite state)."""
        return self

    def pieces(self) -> tuple[Float[Array, " k"], Float[Array, " k+1"]]:
        """For piecewise-constant inputs: ``(times, values)`` with ``values[0]`` before
        ``times[0]`` and ``values[i + 1]`` on ``[times[i], times[i + 1])``."""
        raise TypeError(f"{type(self).__name__} is not piecewise constant.")


class Constant(AbstractInput):
    """A constant drive ``J(t) = value``."""

    value: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    is_piecewise_constant: bool = eqx.field(default=True, static=True, init=False)

    def __check_init__(self):
        if is_concrete(self.value):
            check_finite("input value", self.value)

    def checked(self):
        if is_concrete(self.value):
            return self
        return Constant(check_finite("input value", self.value))

    def __call__(self, t):
        return self.value + jnp.zeros_like(jnp.asarray(t, dtype=self.value.dtype))

    def pieces(self):
        return jnp.zeros((0,), self.value.dtype), jnp.reshape(self.value, (1,))


class PiecewiseConstant(AbstractInput):
    """A schedule of constant pieces switching at ``times``.

    ``values[0]`` holds before ``times[0]``, ``values[i + 1]`` on ``[times[i], times[i + 1])``
    and ``values[-1]`` after the last switch, so ``len(values) == len(times) + 1``.

    Example (the notes' HH demonstration: negative, zero, slightly positive, very positive
    current in uA/cm^2, switching every 50 ms)::

        PiecewiseConstant(times=[50.0, 100.0, 150.0], values=[-5.0, 0.0, 7.0, 30.0])
    """

    times: Float[ParamArray, " k"] = eqx.field(converter=as_float_array)
    values: Float[ParamArray, " k+1"] = eqx.field(converter=as_float_array)
    is_piecewise_constant: bool = eqx.field(default=True, static=True, init=False)

    def __check_init__(self):
        if self.times.ndim != 1 or self.values.ndim != 1 or self.values.shape[0] != self.times.shape[0] + 1:
            raise ValueError(
                "PiecewiseConstant needs 1-D times (k switch times) and values (k + 1 levels); "
                f"got shapes times {self.times.shape} and values {self.values.shape}."
            )
        if is_concrete(self.times):
            check_finite("times", self.times)
            if np.any(np.diff(np.asarray(self.times)) <= 0):
                raise ValueError(f"times must be strictly increasing; got {np.asarray(self.times)}.")
        if is_concrete(self.values):
            check_finite("values", self.values)

    def checked(self):
        times = self.times
        if not is_concrete(times):
            times = check_finite("times", times)
            times = error_if_any(
                times, jnp.diff(times) <= 0, "times must be strictly increasing (a traced value was not)."
            )
        values = self.values if is_concrete(self.values) else check_finite("values", self.values)
        return PiecewiseConstant(times, values)

    def __call__(self, t):
        t = jnp.asarray(t, self.times.dtype)
        return self.values[jnp.searchsorted(self.times, t, side="right")]

    def jump_ts(self):
        return self.times

    def pieces(self):
        return self.times, self.values


def Step(t_on: ArrayLike, amplitude: ArrayLike, baseline: ArrayLike = 0.0) -> PiecewiseConstant:
    """A step from ``baseline`` to ``amplitude`` at time ``t_on``."""
    return PiecewiseConstant(
        times=jnp.reshape(as_float_array(t_on), (1,)),
        values=jnp.stack([as_float_array(baseline), as_float_array(amplitude)]),
    )


class FunctionInput(AbstractInput):
    """Any JAX-traceable function of time, ``J(t) = fn(t)``.

    ``jumps`` optionally lists discontinuities of ``fn`` for adaptive solvers.
    """

    fn: Callable[[Any], ArrayLike] = eqx.field(static=True)
    jumps: Float[Array, " k"] | None = None

    def __call__(self, t):
        return jnp.asarray(self.fn(t))

    def jump_ts(self):
        return self.jumps


def as_input(drive: Any) -> AbstractInput:
    """Coerce a number, 0-d array, callable or ``AbstractInput`` into an ``AbstractInput``.

    Raises:
        ValueError: for an array that is not 0-d (give one drive per neuron; use ``vmap``
            or ``tuning_curve`` for batches).
    """
    if isinstance(drive, AbstractInput):
        return drive
    if callable(drive):
        return FunctionInput(cast(Callable[[Any], ArrayLike], drive))  # the contract: a function of t
    arr = jnp.asarray(drive)
    if arr.ndim != 0:
        raise ValueError(
            f"the input drive must be a scalar per neuron, got shape {arr.shape}; use jax.vmap "
            "over simulate, or tuning_curve, for a batch of inputs."
        )
    return Constant(arr)


__all__ = ["AbstractInput", "Constant", "FunctionInput", "PiecewiseConstant", "Step", "as_input"]

"""The interface every neuron model implements."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
from jaxtyping import PyTree


class AbstractNeuron(eqx.Module):
    """A point neuron: parameters as array fields, dynamics as a pure vector field.

    Subclasses are final ``eqx.Module``s.  Parameters are array fields, so a neuron can be
    stacked (``eqx.filter_vmap`` over a batch of parameters) or differentiated.

    Class attributes:
        time_unit: the unit of ``t`` in ``vector_field`` and ``simulate`` ("s" or "ms").
        seconds_per_time_unit: how many seconds one unit of ``t`` is (1 or 1e-3).
        input_unit: the unit of the input drive.
    """

    time_unit: ClassVar[str]
    seconds_per_time_unit: ClassVar[float]
    input_unit: ClassVar[str]

    @abc.abstractmethod
    def vector_field(self, t: Any, y: PyTree, args: Any) -> PyTree:
        """dy/dt at time ``t`` for state ``y``; ``args`` is the input (a number, array or
        callable of ``t``).  Usable as ``diffrax.ODETerm(neuron.vector_field)``."""

    @abc.abstractmethod
    def initial_state(self, drive: Any = 0.0) -> PyTree:
        """The default initial state (rest, or reset) as a PyTree of arrays."""

    @abc.abstractmethod
    def checked(self) -> "AbstractNeuron":
        """This neuron with run-time checks (``eqx.error_if``) on traced parameter values."""


def input_value(args: Any, t: Any) -> jax.Array:
    """Evaluate the drive ``args`` at time ``t``: callables are called, numbers returned."""
    import jax.numpy as jnp

    return args(t) if callable(args) else jnp.asarray(args)

"""Explicit first-order steps for any neuron: forward Euler and exponential Euler."""

from __future__ import annotations

from typing import ClassVar

import jax

from .._misc import exprel
from .._neurons._base import diagonal_jacobian
from ._fixed_step import AbstractFixedStepSolver


class ExponentialEuler(AbstractFixedStepSolver):
    """The exponential Euler step for any neuron, the default of Brian2 for
    Hodgkin-Huxley-type models: each state variable ``y_i`` is advanced by the exact solution
    of its equation linearised in ``y_i`` with the others frozen,

        y_i <- y_i + f_i (e^(a_i h) - 1) / a_i,     a_i = d f_i / d y_i,

    which is exact for a variable that is linear in itself (the membrane potential of an
    integrate-and-fire neuron under a held input, a gate ``dx/dt = (x_inf - x)/tau_x``) and
    stable for stiff gates at any ``h``.  First order.  ``a_i`` comes from the neuron's ``linearised``:
    by default forward-mode differentiation of the vector field (one product per state
    variable), so any neuron works without hand-written coefficients.  ``(e^x - 1)/x`` is evaluated stably (``exprel``).

    Example::

        jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, solver=jn.ExponentialEuler(dt=0.01))
    """

    crossing_order: ClassVar[int] = 2

    def update(self, neuron, drive, t, y, h):
        f, a = neuron.linearised(t, y, drive)
        return jax.tree.map(lambda y_, f_, a_: y_ + h * f_ / exprel(a_ * h), y, f, a)


class Euler(AbstractFixedStepSolver):
    """The forward Euler step ``y <- y + h f(t, y)`` for any neuron (first order; Brian2's
    ``euler``)."""

    crossing_order: ClassVar[int] = 2

    def update(self, neuron, drive, t, y, h):
        return jax.tree.map(lambda y_, f_: y_ + h * f_, y, neuron.vector_field(t, y, drive))


__all__ = ["Euler", "ExponentialEuler", "diagonal_jacobian"]

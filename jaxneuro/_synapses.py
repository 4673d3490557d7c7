"""Synapse models of a network projection: how arriving spikes become input to a neuron.

A synapse type is a small final ``eqx.Module`` holding its parameters.  In a network every
projection keeps one synaptic state per target neuron (the sum over its synapses: the models
are linear in their input, so one state per target is exact) and the network's step asks it
for four things:

* ``init(n, dtype)``: the state of ``n`` targets at rest;
* ``coefficients(h)``: whatever ``propagate`` and ``drive`` need for a step of length ``h``
  (decay factors: scalars, computed once before the time loop, not once per neuron and step);
* ``propagate(state, c)``: the free evolution over the step (exact);
* ``receive(state, x)``: the state after the summed weights ``x`` of the spikes arriving at
  each target, and a jump of the membrane potential (zero except for delta synapses);
* ``drive(state, c)``: the input over the next step, as ``(a, g)`` meaning the input
  current ``a - g v`` (``v`` the membrane potential): ``g = 0`` for current synapses.
  Values are averaged over the step (exactly, for the exponential decays),
  so that a neuron stepped with its input held over a step receives the right charge.

The four types, with ``w`` a synaptic weight and spikes arriving at times ``t_k``:

* ``ExponentialCurrent(tau)``: ``tau ds/dt = -s``, ``s += w`` at a spike, input ``s``.  ``w``
  is the jump of the current (Brian2's ``ge += we``, NEST's ``iaf_psc_exp``); with
  ``normalise=True`` the jump is ``w / tau`` and ``w`` the charge (notes ch. 1.6).
* ``DeltaSynapse()``: ``v += w`` at a spike (Brunel 2000, NEST's ``iaf_psc_delta``).
* ``ExponentialConductance(tau, E)``: ``tau dg/dt = -g``, ``g += w`` at a spike, input
  ``g (E - v)`` (Brette et al. 2007, COBA).  Units: ``g`` in input units per volt unit.
* ``PSCSynapse(tau, order)``: the notes' unit-area PSC kernel of order ``n``,
  ``h(t) = t^n e^(-t/tau) / (n! tau^(n+1))`` (``jaxneuro.psc_kernel``), as a chain of ``n + 1``
  exponential filters; input ``sum_k w_k h(t - t_k)`` (``w`` a charge).

Example::

    syn = jn.ExponentialConductance(tau=5.0, E=0.0)   # ms, mV
    proj = jn.Projection("exc", "inh", syn, jn.FixedProbability(0.02), weight=0.6)
"""

from __future__ import annotations

import abc
import math
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from ._custom_types import ParamArray
from ._kernels import check_order
from ._misc import as_float_array, check_finite, check_positive, is_concrete, static_number


def step_mean(x: Array) -> Array:
    """``(1 - e^(-x)) / x``: the mean of ``e^(-u/tau)`` over a step ``h = x tau``, 1 at
    ``x = 0`` (written with ``expm1``; series below ``1e-4``)."""
    small = jnp.abs(x) < 1e-4
    x_safe = jnp.where(small, jnp.ones_like(x), x)
    return jnp.where(small, 1.0 - x / 2.0 + x * x / 6.0, -jnp.expm1(-x_safe) / x_safe)


class AbstractSynapse(eqx.Module):
    """A synapse type (module docstring): state, free evolution, arrivals, drive."""

    @abc.abstractmethod
    def init(self, n: int, dtype: Any) -> PyTree:
        """The synaptic state of ``n`` targets with no input."""

    def coefficients(self, h: Array) -> PyTree:
        """What ``propagate`` and ``drive`` need for steps of length ``h`` (default: ``h``)."""
        return h

    @abc.abstractmethod
    def propagate(self, state: PyTree, c: PyTree) -> PyTree:
        """The state after a step without arrivals (exact); ``c = coefficients(h)``."""

    @abc.abstractmethod
    def receive(self, state: PyTree, x: Float[Array, " n"]) -> tuple[PyTree, Float[Array, " n"] | None]:
        """The state after arrivals of summed weight ``x`` per target, and the jump of the
        membrane potential (``None`` for none)."""

    @abc.abstractmethod
    def drive(self, state: PyTree, c: PyTree) -> tuple[Array, Array | None]:
        """``(a, g)``: the input over the next step is ``a - g v`` (``g`` ``None`` when the
        input does not depend on ``v``); ``c = coefficients(h)``."""

    def check(self, name: str) -> None:
        """Raise ``ValueError`` naming ``name`` for invalid concrete parameters."""

    def direct_jump(self) -> Array | float | None:
        """``c`` when ``receive(state, x)`` only adds ``c x`` to the state (to its first row,
        for a state of several rows) and moves no potential; ``None`` otherwise.  A network then
        adds arriving spikes straight into the state, with no buffer in between."""
        return None


class AbstractExponentialSynapse(AbstractSynapse):
    """A state ``x`` per target decaying as ``tau dx/dt = -x`` (exactly over each step; its
    mean over the step held as the input), with the time constant ``tau``."""

    tau: eqx.AbstractVar[Float[Array, ""]]

    def check(self, name):
        if is_concrete(self.tau):
            check_positive(f"{name}.tau", self.tau)

    def init(self, n, dtype):
        return jnp.zeros((n,), dtype)

    def coefficients(self, h):
        return jnp.exp(-h / self.tau), step_mean(h / self.tau)

    def propagate(self, state, c):
        return state * c[0]


class ExponentialCurrent(AbstractExponentialSynapse):
    """Exponentially decaying current: ``tau ds/dt = -s``, ``s += w`` per spike (``w / tau``
    with ``normalise=True``), input ``s``.

    Attributes:
        tau: decay time constant (the network's time unit, > 0).
        normalise: if True, a weight is the charge ``int s dt`` of one spike's current (the
            notes' convention, ch. 1.6), so the jump is ``w / tau``.
    """

    tau: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    normalise: bool = eqx.field(static=True, default=False)

    def receive(self, state, x):
        return state + (x / self.tau if self.normalise else x), None

    def direct_jump(self):
        return 1.0 / self.tau if self.normalise else 1.0

    def drive(self, state, c):
        return state * c[1], None


class DeltaSynapse(AbstractSynapse):
    """A jump of the membrane potential, ``v += w``, at each arriving spike (no state).

    ``w`` is in the units of the target's membrane potential.  A target that is refractory
    is held at its reset value, so a jump arriving then is lost (as in NEST's
    ``iaf_psc_delta``)."""

    def init(self, n, dtype):
        return jnp.zeros((0,), dtype)

    def propagate(self, state, c):
        return state

    def receive(self, state, x):
        return state, x

    def drive(self, state, c):
        return jnp.zeros((), state.dtype), None


class ExponentialConductance(AbstractExponentialSynapse):
    """Exponentially decaying conductance: ``tau dg/dt = -g``, ``g += w`` per spike, input
    current ``g (E - v)``.

    Attributes:
        tau: decay time constant (the network's time unit, > 0).
        E: reversal potential (units of the target's membrane potential, finite).
    """

    tau: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    E: Float[ParamArray, ""] = eqx.field(converter=as_float_array)

    def check(self, name):
        super().check(name)
        if is_concrete(self.E):
            check_finite(f"{name}.E", self.E)

    def receive(self, state, x):
        return state + x, None

    def direct_jump(self):
        return 1.0

    def drive(self, state, c):
        g = state * c[1]
        return g * self.E, g


class PSCSynapse(AbstractSynapse):
    """The notes' unit-area PSC kernel of order ``n`` (``jaxneuro.psc_kernel``): a spike of
    weight ``w`` (a charge) adds ``w h(t - t_k)`` to the input current,

        h(t) = t^n e^(-t/tau) / (n! tau^(n+1)),

    realised exactly by a chain of ``n + 1`` filters ``tau dx_0/dt = -x_0``,
    ``tau dx_k/dt = x_(k-1) - x_k`` (a spike adds ``w / tau`` to ``x_0``; the input is
    ``x_n``).  ``order = 0`` is ``ExponentialCurrent(tau, normalise=True)``.  The input held
    over a step is ``x_n`` at the middle of the step (second order in ``h``).

    Attributes:
        tau: time constant (the network's time unit, > 0).
        order: the order ``n`` (a Python int >= 0).
    """

    tau: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    order: int = eqx.field(static=True, converter=static_number, default=1)

    def __check_init__(self):
        check_order(self.order)

    def check(self, name):
        if is_concrete(self.tau):
            check_positive(f"{name}.tau", self.tau)

    def init(self, n, dtype):
        return jnp.zeros((self.order + 1, n), dtype)

    def _propagator(self, h):
        # x_k(h) = e^(-h/tau) sum_{j<=k} x_j (h/tau)^(k-j) / (k-j)!
        x = h / self.tau
        return jnp.exp(-x) * jnp.stack([x**m / math.factorial(m) for m in range(self.order + 1)])

    def coefficients(self, h):
        return self._propagator(h), self._propagator(0.5 * h), step_mean(h / self.tau)

    def _apply(self, coef, state):
        return jnp.stack([sum(coef[k - j] * state[j] for j in range(k + 1)) for k in range(self.order + 1)])

    def propagate(self, state, c):
        return self._apply(c[0], state)

    def receive(self, state, x):
        return state.at[0].add(x / self.tau), None

    def direct_jump(self):
        return 1.0 / self.tau

    def drive(self, state, c):
        if self.order == 0:
            return state[0] * c[2], None
        return self._apply(c[1], state)[-1], None


def as_synapse(synapse: Any, name: str) -> AbstractSynapse:
    """``synapse`` checked (a ``ValueError`` naming ``name`` otherwise)."""
    if not isinstance(synapse, AbstractSynapse):
        raise ValueError(
            f"{name} must be a synapse type (ExponentialCurrent, DeltaSynapse, ExponentialConductance, "
            f"PSCSynapse or a subclass of AbstractSynapse), got {type(synapse).__name__}."
        )
    synapse.check(name)
    return synapse


__all__ = [
    "AbstractSynapse",
    "DeltaSynapse",
    "ExponentialConductance",
    "ExponentialCurrent",
    "PSCSynapse",
    "as_synapse",
    "step_mean",
]

"""The interface every neuron model implements: the extension point of jaxneuro.

A neuron is a final ``eqx.Module`` whose parameters are array fields.  It declares everything
a solver needs and knows no solver:

* the state, a PyTree of arrays (``initial_state``);
* the sub-threshold dynamics, a pure ``vector_field(t, y, args)`` (``args`` is the drive: a
  number, array or callable of ``t``), usable as ``diffrax.ODETerm(neuron.vector_field)``;
* the spike condition, a smooth function of the state that crosses zero upwards at a spike
  (``spike_condition``; for a threshold ``v_th``: ``y.v - v_th``);
* the reset map applied at a spike (``reset``; default: none, as in Hodgkin-Huxley, whose
  spike detector then re-arms once the condition has fallen ``rearm`` below zero);
* an optional refractory period during which the state is held at its reset value
  (``refractory_period``);
* the units of time and input and a default fixed step (class variables).

Every simulator (``simulate``, ``tuning_curve``, ``spike_statistics``) runs any such neuron,
under ``jit``, ``vmap``, ``grad`` and ``jvp``.  Example: the quadratic integrate-and-fire
neuron in 20 lines::

    class MyQIF(jn.AbstractNeuron):
        tau: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=10.0)  # ms
        v_peak: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=30.0)  # mV
        v_reset: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=-70.0)

        time_unit: ClassVar[str] = "ms"
        seconds_per_time_unit: ClassVar[float] = 1e-3
        input_unit: ClassVar[str] = "mV"
        default_dt: ClassVar[float] = 0.01

        def vector_field(self, t, y, args):
            v_rest, v_c = -65.0, -50.0
            return ((y - v_rest) * (y - v_c) / 15.0 + jn.input_value(args, t)) / self.tau

        def initial_state(self, drive=0.0):
            return jnp.full_like(self.tau, -65.0)

        def spike_condition(self, y):
            return y - self.v_peak

        def reset(self, y):
            return jnp.broadcast_to(self.v_reset, jnp.shape(y)).astype(y.dtype)

    jn.simulate(MyQIF(), 20.0, 0.0, 200.0, method="fixed_step")
"""

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PyTree

from .._custom_types import ParamArray


class AbstractNeuron(eqx.Module):
    """A point neuron: parameters as array fields, dynamics as a pure vector field, spikes as
    upward zero crossings of ``spike_condition`` followed by ``reset``.

    Subclasses are final ``eqx.Module``s.  Parameters are array fields, so a neuron can be
    stacked (``eqx.filter_vmap`` over a batch of parameters) or differentiated.  A subclass
    must define ``vector_field``, ``initial_state`` and ``spike_condition`` and the class
    variables ``time_unit``, ``seconds_per_time_unit``, ``input_unit`` and ``default_dt``;
    missing ones are a ``TypeError`` at construction that names them.

    Class attributes:
        time_unit: the unit of ``t`` in ``vector_field`` and ``simulate`` ("s" or "ms").
        seconds_per_time_unit: how many seconds one unit of ``t`` is (1 or 1e-3).
        input_unit: the unit of the input drive.
        default_dt: the default step of fixed-step solvers, in ``time_unit``.
        rearm: for a neuron without a reset, how far (in the units of ``spike_condition``)
            the condition must fall below zero before the next spike can be detected.
        max_accurate_dt: the coarsest fixed step (``time_unit``) that still resolves a
            spike (rates within about 1%); a coarser ``dt`` gives a ``CoarseStepWarning``.
            Default ``None``: no limit known.
    """

    time_unit: eqx.AbstractClassVar[str]
    seconds_per_time_unit: eqx.AbstractClassVar[float]
    input_unit: eqx.AbstractClassVar[str]
    default_dt: eqx.AbstractClassVar[float]
    rearm: ClassVar[float] = 0.0
    max_accurate_dt: ClassVar[float | None] = None

    @abc.abstractmethod
    def vector_field(self, t: Any, y: PyTree, args: Any) -> PyTree:
        """dy/dt at time ``t`` for state ``y``; ``args`` is the input (a number, array or
        callable of ``t``; read it with ``input_value(args, t)``).  Usable as
        ``diffrax.ODETerm(neuron.vector_field)``."""

    @abc.abstractmethod
    def initial_state(self, drive: Any = 0.0) -> PyTree:
        """The default initial state (rest, or reset) as a PyTree of arrays."""

    @abc.abstractmethod
    def spike_condition(self, y: PyTree) -> Array:
        """A smooth function of the state that crosses zero upwards at a spike (for a voltage
        threshold, ``v - v_threshold``); negative below threshold."""

    def linearised(self, t: Any, y: PyTree, args: Any) -> tuple[PyTree, PyTree]:
        """``(f, a)``: the vector field ``f = vector_field(t, y, args)`` and the diagonal of
        its Jacobian, ``a_i = d f_i / d y_i`` for each leaf of the state (what
        ``ExponentialEuler`` steps with).  Default: one forward-mode product per state variable
        (``diagonal_jacobian``); a neuron whose ``a`` has a closed form may override this with
        it (the same values, fewer operations per step).

        Args:
            t: time (``time_unit``).
            y: the state.
            args: the input, as for ``vector_field``.

        Returns:
            ``(f, a)``, each a PyTree like ``y``.
        """
        return diagonal_jacobian(lambda z: self.vector_field(t, z, args), y)

    def reset(self, y: PyTree) -> PyTree:
        """The state right after a spike, from the state at the crossing.  Default: no reset
        (the state is unchanged; the spike is only detected, as for Hodgkin-Huxley)."""
        return y

    def refractory_period(self) -> ParamArray | None:
        """The time after a spike during which the state is held at its reset value (in
        ``time_unit``), or ``None`` for none."""
        return None

    def checked(self) -> "AbstractNeuron":
        """This neuron with run-time checks (``eqx.error_if``) on traced parameter values.
        Default: no checks."""
        return self

    def voltage(self, y: PyTree) -> Array:
        """The membrane potential in state ``y`` (read by conductance synapses, ``g (E - v)``,
        and moved by delta synapses).  Default: the state itself when it is one array, else its
        field ``v``; override for other layouts."""
        if isinstance(y, (jax.Array, np.ndarray)):
            return jnp.asarray(y)
        v = getattr(y, "v", None)
        if v is not None:
            return v
        raise TypeError(
            f"{type(self).__name__}: the state {type(y).__name__} has no field 'v'; define "
            "voltage(y) and with_voltage(y, v) to use this neuron with conductance or delta synapses."
        )

    def with_voltage(self, y: PyTree, v: Array) -> PyTree:
        """The state ``y`` with its membrane potential replaced by ``v`` (see ``voltage``)."""
        if isinstance(y, (jax.Array, np.ndarray)):
            return v
        self.voltage(y)  # the same error for a state without ``v``
        return eqx.tree_at(lambda s: s.v, y, v)

    @property
    def resets(self) -> bool:
        """Whether this neuron defines a reset map (else its spikes only are detected)."""
        return type(self).reset is not AbstractNeuron.reset


def diagonal_jacobian(f, y):
    """``(f(y), a)`` with ``a`` the diagonal of the Jacobian of an elementwise ``f``: for each
    leaf ``y_i`` of the state, ``a_i = d f_i / d y_i`` (one forward-mode product per leaf;
    neurons are independent elementwise, so one product serves every neuron)."""
    leaves, treedef = jax.tree.flatten(y)

    def flat(*ls):
        return jax.tree.leaves(f(jax.tree.unflatten(treedef, ls)))

    out, diag = [], []
    for i in range(len(leaves)):
        tangent = [jnp.ones_like(x) if j == i else jnp.zeros_like(x) for j, x in enumerate(leaves)]
        out, d = jax.jvp(flat, leaves, tangent)
        diag.append(d[i])
    return jax.tree.unflatten(treedef, out), jax.tree.unflatten(treedef, diag)


def input_value(args: Any, t: Any) -> jax.Array:
    """Evaluate the drive ``args`` at time ``t``: callables are called, numbers returned."""
    return jnp.asarray(args(t) if callable(args) else args)

"""Leaky integrate-and-fire neuron in physical units (mV, ms), with a reset of its own.

    tau_m dV/dt = (E_L - V) + R I(t)      below threshold,
    at V = V_th: a spike, V <- V_reset, then V held at V_reset for tau_ref.

The notes' ``LIF`` (ch. 1.4) is this model in normalised units with ``V_reset = E_L``;
here the reset may differ from the leak potential, as in the networks of Brette et al. (2007,
CUBA: ``E_L`` above threshold, ``V_reset`` below) and Brunel (2000, ``V_reset = 10 mV`` above
rest), and as NEST's ``iaf_psc_*`` and Brian2's usual ``dv/dt = (E_L - v + R I)/tau_m``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_positive, check_range, is_concrete
from ._base import AbstractNeuron, input_value


class IntegrateAndFire(AbstractNeuron):
    """Leaky integrate-and-fire neuron in mV and ms with its own reset potential.

        tau_m dV/dt = (E_L - V) + R I(t);   at V = V_th: V <- V_reset, held for tau_ref.

    With a constant input ``R I`` (mV) above ``V_th - E_L`` the neuron fires with period

        T = tau_ref + tau_m ln((E_L + R I - V_reset) / (E_L + R I - V_th)).

    Attributes:
        tau_m: membrane time constant, ms (> 0; default 20).
        E_L: leak (resting) potential, mV (default -60).
        V_th: threshold, mV (default -50).
        V_reset: reset potential, mV (< V_th; default -60).
        tau_ref: refractory period, ms (>= 0; default 0, none).

    Example::

        cuba = jn.IntegrateAndFire(tau_m=20.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)
        sim = jn.simulate(cuba, 0.0, 0.0, 100.0)   # E_L above threshold: fires alone
    """

    tau_m: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=20.0)
    E_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-60.0)
    V_th: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-50.0)
    V_reset: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-60.0)
    tau_ref: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "mV (R I)"
    default_dt: ClassVar[float] = 0.1

    def __check_init__(self):
        if is_concrete(self.tau_m):
            check_positive("tau_m", self.tau_m, unit="ms")
        if is_concrete(self.tau_ref):
            check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms")
        for name in ("E_L", "V_th", "V_reset"):
            value = getattr(self, name)
            if is_concrete(value):
                check_range(name, value, unit="mV")
        if is_concrete(self.V_th) and is_concrete(self.V_reset):
            check_positive("V_th - V_reset", self.V_th - self.V_reset, unit="mV")

    def checked(self) -> "IntegrateAndFire":
        return eqx.tree_at(
            lambda n: (n.tau_m, n.tau_ref, n.V_reset),
            self,
            (
                check_positive("tau_m", self.tau_m, unit="ms"),
                check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms"),
                self.V_th - check_positive("V_th - V_reset", self.V_th - self.V_reset, unit="mV"),
            ),
        )

    def vector_field(self, t: Any, y: Float[Array, "*#s"], args: Any) -> Float[Array, "*#s"]:
        """``dV/dt = (E_L - V + R I) / tau_m`` (mV/ms); ``args`` is ``R I`` (mV)."""
        return (-y + self.E_L + input_value(args, t)) / self.tau_m

    def initial_state(self, drive: Any = 0.0) -> Float[Array, "*shape"]:
        """``V = E_L``."""
        del drive
        return jnp.asarray(self.E_L)

    def spike_condition(self, y: Float[Array, "*#s"]) -> Float[Array, "*#s"]:
        """``V - V_th`` (mV)."""
        return y - self.V_th

    def reset(self, y: Float[Array, "*#s"]) -> Float[Array, "*#s"]:
        """``V <- V_reset``."""
        return jnp.broadcast_to(jnp.asarray(self.V_reset, y.dtype), jnp.shape(y))

    def refractory_period(self) -> Float[ParamArray, "*shape"]:
        """``tau_ref`` (ms); 0 means none."""
        return self.tau_ref


__all__ = ["IntegrateAndFire"]

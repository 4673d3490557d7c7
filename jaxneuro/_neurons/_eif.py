"""Exponential integrate-and-fire neuron (Fourcaud-Trocme, Hansel, van Vreeswijk & Brunel,
J. Neurosci. 23:11628-11640, 2003), in ms and mV:

    tau_m dV/dt = -(V - E_L) + Delta_T exp((V - V_T) / Delta_T) + R I
    at V = V_peak:  V <- V_reset  (then optionally held for tau_ref).
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_positive, check_range, is_concrete
from ._base import AbstractNeuron, input_value

EXP_CAP_ABOVE_PEAK = 2.0
"""How far (in units of ``Delta_T``) above ``V_peak`` the exponent of the spike-generating
term is capped: ``exp`` is evaluated at ``min((V - V_T)/Delta_T, (V_peak - V_T)/Delta_T + 2)``.

Below ``V_peak`` the cap never acts (the dynamics are exact up to the spike).  A fixed-step
solver's intermediate stages can land above ``V_peak`` before the crossing is found; there
the exponential would overflow (to ``inf``, then ``inf - inf = NaN`` in the sum, and NaN
gradients), and even a finite but huge value spoils the step that the crossing is placed
in.  Measured with RK4 against scipy (benchmarks/user_neuron.py, AdEx f-I curve): with the
cap 10 ``Delta_T`` above the peak the rate was off by up to 13 Hz at dt = 0.2 ms and 79 Hz at
0.5 ms; with 2 ``Delta_T``, 0.1 Hz.  ``e^2`` times the value at the peak is still a steeply
rising voltage, so a crossing inside the step is always seen; value and gradient stay
finite (``jnp.minimum`` passes a zero gradient to the capped branch)."""


def capped_exp_term(
    V: Float[ArrayLike, "*s"],
    V_T: Float[ArrayLike, "*#s"],
    Delta_T: Float[ArrayLike, "*#s"],
    V_peak: Float[ArrayLike, "*#s"],
) -> Float[Array, "*s"]:
    """The spike-generating term ``Delta_T exp((V - V_T)/Delta_T)`` (mV) of the EIF and AdEx
    models, with the exponent capped at ``(V_peak - V_T)/Delta_T + EXP_CAP_ABOVE_PEAK`` so that
    value and gradient are finite for every finite ``V`` (exact for ``V`` up to 10 ``Delta_T``
    above ``V_peak``)."""
    V, V_T, Delta_T, V_peak = (jnp.asarray(a) for a in (V, V_T, Delta_T, V_peak))
    x = jnp.minimum((V - V_T) / Delta_T, (V_peak - V_T) / Delta_T + EXP_CAP_ABOVE_PEAK)
    return Delta_T * jnp.exp(x)


class EIF(AbstractNeuron):
    """Exponential integrate-and-fire neuron (Fourcaud-Trocme et al., 2003).

        tau_m dV/dt = -(V - E_L) + Delta_T exp((V - V_T)/Delta_T) + R I(t)
        at V = V_peak:  V <- V_reset;  then V is held at V_reset for tau_ref.

    Time in ms, voltages in mV; the input is the voltage ``R I`` (mV), the current times the
    membrane resistance.  For a constant input the neuron fires repetitively iff
    ``R I > V_T - E_L - Delta_T`` (the rheobase: where the minimum of the right-hand side,
    at ``V = V_T``, becomes positive), and the period is
    ``tau_ref + tau_m * integral from V_reset to V_peak of dV / (-(V - E_L) + Delta_T e^((V - V_T)/Delta_T) + R I)``.

    The spike itself is the divergence of V; ``V_peak`` is a cut-off where the exponential
    already dominates.  The default ``V_peak = V_T + 5 Delta_T`` leaves about
    ``tau_m e^-5 ~ 0.07 ms`` until divergence, so spike times barely depend on it (see
    ``AdEx``).  The exponent is capped 10 ``Delta_T`` above the peak (``capped_exp_term``) so
    that fixed-step solver stages past the peak cannot overflow.

    Attributes:
        tau_m: membrane time constant, ms (> 0; default 10).
        E_L: resting potential, mV (default -65).
        V_T: threshold potential, mV (the voltage of the minimum of dV/dt; default -50).
        Delta_T: slope factor (spike sharpness), mV (> 0; default 2).
        V_peak: spike cut-off, mV (default -40 = V_T + 5 Delta_T).
        V_reset: reset potential, mV (< V_peak; default -70).
        tau_ref: refractory period, ms (>= 0; default 0, none).

    Example::

        eif = jn.EIF()
        sim = jn.simulate(eif, 20.0, 0.0, 200.0)   # R I = 20 mV, above the 13 mV rheobase
        sim.spikes.times[: sim.spikes.count]        # regular spikes, ms

    References:
        N. Fourcaud-Trocme, D. Hansel, C. van Vreeswijk and N. Brunel, "How spike generation
        mechanisms determine the neuronal response to fluctuating inputs", J. Neurosci.
        23(37):11628-11640, 2003.
    """

    tau_m: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=10.0)
    E_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-65.0)
    V_T: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-50.0)
    Delta_T: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=2.0)
    V_peak: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-40.0)
    V_reset: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-70.0)
    tau_ref: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "mV (R I)"
    default_dt: ClassVar[float] = 0.01

    def __check_init__(self):
        # Concrete values are checked here; traced ones by ``checked()`` at run time.
        for name in ("tau_m", "Delta_T"):
            value = getattr(self, name)
            if is_concrete(value):
                check_positive(name, value, unit="ms" if name == "tau_m" else "mV")
        if is_concrete(self.tau_ref):
            check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms")
        if is_concrete(self.V_peak) and is_concrete(self.V_reset):
            check_positive("V_peak - V_reset", self.V_peak - self.V_reset, unit="mV")

    def checked(self) -> "EIF":
        V_reset = eqx.error_if(
            self.V_reset,
            ~(self.V_reset < self.V_peak),
            "V_peak - V_reset must be in (0, inf) mV (a traced value was outside it).",
        )
        return eqx.tree_at(
            lambda n: (n.tau_m, n.Delta_T, n.tau_ref, n.V_reset),
            self,
            (
                check_positive("tau_m", self.tau_m, unit="ms"),
                check_positive("Delta_T", self.Delta_T, unit="mV"),
                check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms"),
                V_reset,
            ),
        )

    def vector_field(self, t: Any, y: Float[Array, "*#s"], args: Any) -> Float[Array, "*#s"]:
        """``dV/dt`` (mV/ms); ``args`` is the input ``R I`` (mV) or ``R I(t)``."""
        spike_term = capped_exp_term(y, self.V_T, self.Delta_T, self.V_peak)
        return (-(y - self.E_L) + spike_term + input_value(args, t)) / self.tau_m

    def initial_state(self, drive: Any = 0.0) -> Float[Array, "*shape"]:
        """``V = E_L`` (rest, up to the small exponential term)."""
        del drive
        return jnp.asarray(self.E_L)

    def spike_condition(self, y: Float[Array, "*#s"]) -> Float[Array, "*#s"]:
        """``V - V_peak`` (mV)."""
        return y - self.V_peak

    def reset(self, y: Float[Array, "*#s"]) -> Float[Array, "*#s"]:
        """``V <- V_reset`` (dtype and shape of ``y`` kept)."""
        return jnp.broadcast_to(jnp.asarray(self.V_reset, y.dtype), jnp.shape(y))

    def refractory_period(self) -> Float[ParamArray, "*shape"]:
        """``tau_ref`` (ms); 0 means none."""
        return self.tau_ref


__all__ = ["EIF", "EXP_CAP_ABOVE_PEAK", "capped_exp_term"]

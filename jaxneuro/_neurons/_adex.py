"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner, J. Neurophysiol.
94:3637-3642, 2005), in ms, mV, pF, nS and pA:

    C dV/dt  = -g_L (V - E_L) + g_L Delta_T exp((V - V_T) / Delta_T) - w + I
    tau_w dw/dt = a (V - E_L) - w
    at V = V_peak:  V <- V_r,  w <- w + b.
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_positive, check_range, is_concrete
from ._base import AbstractNeuron, input_value
from ._eif import capped_exp_term


class AdExState(eqx.Module):
    """State of an AdEx neuron: membrane potential ``v`` (mV) and adaptation current ``w`` (pA)."""

    v: Float[Array, "*s"]
    w: Float[Array, "*s"]


class AdEx(AbstractNeuron):
    """Adaptive exponential integrate-and-fire neuron (Brette & Gerstner, 2005).

        C dV/dt     = -g_L (V - E_L) + g_L Delta_T exp((V - V_T)/Delta_T) - w + I
        tau_w dw/dt = a (V - E_L) - w
        at V = V_peak:  V <- V_r,  w <- w + b;  then (optionally) V and w held for tau_ref.

    Units: t in ms, V in mV, C in pF, conductances in nS, currents (w, b, I) in pA, so that
    ``C dV/dt`` (pF mV/ms) and ``g (V - E)`` (nS mV) are both pA.  The defaults are the
    regular-spiking parameters of the paper (C = 281 pF, g_L = 30 nS, E_L = -70.6 mV,
    V_T = -50.4 mV, Delta_T = 2 mV, tau_w = 144 ms, a = 4 nS, b = 0.0805 nA = 80.5 pA,
    V_r = E_L).  From rest, a constant current above about 0.58 nA gives one spike, and one
    above about 0.63 nA tonic firing (at a low rate near that onset).

    Why ``V_peak = V_T + 5 Delta_T = -40.4 mV``: in the model a spike is the divergence of V
    (the exponential term runs away in finite time), so a simulation needs a finite cut-off.
    At ``V_T + 5 Delta_T`` the exponential current is ``e^5 ~ 148`` times ``g_L Delta_T``, ten
    times the leak current, and the time left until V would diverge is about ``tau_m e^-5 ~ 0.06 ms``
    (``tau_m = C/g_L = 9.4 ms``): the cut-off hardly moves spike times, while the vector field
    stays moderate for fixed-step solvers.  Brian's example of this paper uses the same
    cut-off.

    The exponent is capped a little above the peak (``capped_exp_term``, shared with ``EIF``)
    so that solver stages past the peak cannot overflow; below the peak the vector field is
    exact.

    Refractoriness: ``tau_ref`` (default 0, none) holds the whole state (V at V_r and w at
    its reset value) after a spike, the jaxneuro convention; NEST instead lets w evolve.

    Attributes:
        C: membrane capacitance, pF (> 0).
        g_L: leak conductance, nS (> 0).
        E_L: leak reversal potential, mV.
        V_T: threshold potential, mV (where the exponential term's slope equals the leak's:
            without adaptation dV/dt is smallest there).
        Delta_T: slope factor, mV (> 0).
        tau_w: adaptation time constant, ms (> 0).
        a: sub-threshold adaptation, nS (finite).
        b: spike-triggered adaptation increment, pA (finite).
        V_r: reset potential, mV (< V_peak).
        V_peak: spike cut-off, mV.
        tau_ref: refractory period, ms (>= 0).

    Example::

        adex = jn.AdEx()
        sim = jn.simulate(adex, 1000.0, 0.0, 500.0)   # 1 nA: tonic firing with adaptation
        sim.spikes.times[: sim.spikes.count]            # ms

    References:
        R. Brette and W. Gerstner, "Adaptive exponential integrate-and-fire model as an
        effective description of neuronal activity", J. Neurophysiol. 94:3637-3642, 2005.
    """

    C: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=281.0)
    g_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=30.0)
    E_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-70.6)
    V_T: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-50.4)
    Delta_T: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=2.0)
    tau_w: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=144.0)
    a: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=4.0)
    b: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=80.5)
    V_r: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-70.6)
    V_peak: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-40.4)
    tau_ref: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "pA"
    default_dt: ClassVar[float] = 0.01

    _POSITIVE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("C", "pF"),
        ("g_L", "nS"),
        ("Delta_T", "mV"),
        ("tau_w", "ms"),
    )

    def __check_init__(self):
        # Concrete values are checked here; traced ones by ``checked()`` at run time.
        for name, unit in self._POSITIVE:
            value = getattr(self, name)
            if is_concrete(value):
                check_positive(name, value, unit=unit)
        for name, unit in (("a", "nS"), ("b", "pA")):
            value = getattr(self, name)
            if is_concrete(value):
                check_range(name, value, unit=unit)
        if is_concrete(self.tau_ref):
            check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms")
        if is_concrete(self.V_peak) and is_concrete(self.V_r):
            check_positive("V_peak - V_r", self.V_peak - self.V_r, unit="mV")

    def checked(self) -> "AdEx":
        names = tuple(name for name, _ in self._POSITIVE)
        values = tuple(check_positive(name, getattr(self, name), unit=unit) for name, unit in self._POSITIVE)
        V_r = eqx.error_if(
            self.V_r, ~(self.V_r < self.V_peak), "V_peak - V_r must be in (0, inf) mV (a traced value was outside it)."
        )
        return eqx.tree_at(
            lambda n: (*(getattr(n, k) for k in names), n.a, n.b, n.tau_ref, n.V_r),
            self,
            (
                *values,
                check_range("a", self.a, unit="nS"),
                check_range("b", self.b, unit="pA"),
                check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms"),
                V_r,
            ),
        )

    def vector_field(self, t: Any, y: AdExState, args: Any) -> AdExState:
        """``(dV/dt, dw/dt)`` in mV/ms and pA/ms; ``args`` is the input current I (pA) or I(t)."""
        V, w = y.v, y.w
        spike_current = self.g_L * capped_exp_term(V, self.V_T, self.Delta_T, self.V_peak)
        dV = (-(V - self.E_L) * self.g_L + spike_current - w + input_value(args, t)) / self.C
        dw = ((V - self.E_L) * self.a - w) / self.tau_w
        return AdExState(dV, dw)

    def initial_state(self, drive: Any = 0.0) -> AdExState:
        """Rest without adaptation: ``V = E_L``, ``w = 0`` (the fixed point for I = 0 up to the
        small exponential term)."""
        del drive
        return AdExState(jnp.asarray(self.E_L), jnp.zeros_like(self.E_L))

    def spike_condition(self, y: AdExState) -> Float[Array, "*#s"]:
        """``V - V_peak`` (mV)."""
        return y.v - self.V_peak

    def reset(self, y: AdExState) -> AdExState:
        """``V <- V_r``, ``w <- w + b`` (dtype and shape of ``y`` kept)."""
        v = jnp.broadcast_to(jnp.asarray(self.V_r, y.v.dtype), jnp.shape(y.v))
        w = (y.w + self.b).astype(y.w.dtype)
        return AdExState(v, w)

    def refractory_period(self) -> Float[ParamArray, "*shape"]:
        """``tau_ref`` (ms); 0 means none."""
        return self.tau_ref


__all__ = ["AdEx", "AdExState"]

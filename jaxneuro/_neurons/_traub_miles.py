"""The Hodgkin-Huxley-type cortical neuron of Traub & Miles (1991) as simplified by Destexhe
et al. (1998): the neuron of Brette et al. (2007) benchmark 3 (COBAHH), in mV, ms,
uA/cm^2, mS/cm^2 and uF/cm^2.

    C dV/dt = g_L (E_L - V) - g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K) + I
    dx/dt   = alpha_x(V) (1 - x) - beta_x(V) x,   x in {m, h, n},

with ``u = V - V_T`` (mV) and rates in 1/ms:

    alpha_m = 0.32 (13 - u) / (exp((13 - u)/4) - 1)     beta_m = 0.28 (u - 40) / (exp((u - 40)/5) - 1)
    alpha_h = 0.128 exp((17 - u)/18)                     beta_h = 4 / (1 + exp((40 - u)/5))
    alpha_n = 0.032 (15 - u) / (exp((15 - u)/5) - 1)     beta_n = 0.5 exp((10 - u)/40)

(removable singularities handled by ``exprel``).  The defaults are Brian2's
``examples/COBAHH.py`` per unit area (its 20,000 um^2 patch: C 200 pF, g_L 10 nS, g_Na 20 uS,
g_K 6 uS become 1 uF/cm^2, 0.05, 100 and 30 mS/cm^2).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_positive, check_range, exprel_of_exp, is_concrete
from ._base import AbstractNeuron, input_value
from ._hh import HHState, gated_diagonal, gated_field


class TraubMiles(AbstractNeuron):
    """Traub-Miles cortical neuron (module docstring): the COBAHH benchmark's neuron.

    Attributes:
        C: capacitance, uF/cm^2 (> 0).   g_L, g_Na, g_K: conductances, mS/cm^2 (>= 0).
        E_L, E_Na, E_K: reversal potentials, mV.   V_T: the rates' voltage offset, mV.
        v_threshold: spike detection, mV (no reset; the detector re-arms 10 mV below it).

    Example::

        sim = jn.simulate(jn.TraubMiles(), 2.0, 0.0, 200.0, solver=jn.ExponentialEuler(dt=0.01))
    """

    C: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=1.0)
    g_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.05)
    g_Na: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=100.0)
    g_K: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=30.0)
    E_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-60.0)
    E_Na: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=50.0)
    E_K: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-90.0)
    V_T: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-63.0)
    v_threshold: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-20.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "uA/cm^2"
    default_dt: ClassVar[float] = 0.01
    rearm: ClassVar[float] = 10.0

    def __check_init__(self):
        if is_concrete(self.C):
            check_positive("C", self.C, unit="uF/cm^2")
        for name in ("g_L", "g_Na", "g_K"):
            value = getattr(self, name)
            if is_concrete(value):
                check_range(name, value, lower=0.0, unit="mS/cm^2")

    def rates(self, V: Array, *, stacked: bool = False) -> tuple[Array, ...]:
        """``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)`` at ``V`` (1/ms), the rate
        functions of the module docstring (``exprel(x) = x / (e^x - 1)``) from four exponentials,
        evaluated as one stacked kernel, instead of six: with ``x = (40 - u)/5`` and
        ``e = e^x``, ``beta_m = 1.4 exprel(-x)`` (``e^(-x) = 1/e``), ``beta_h = 4 / (1 + e)``
        and ``alpha_n = 0.16 exprel(x - 5)`` (``e^(x - 5) = e e^(-5)``); ``exprel`` of a given
        exponential by ``exprel_of_exp`` (a series near 0, so value and gradient stay finite at
        the removable singularities).

        ``stacked=True`` evaluates the four exponentials as one stacked XLA kernel: measured,
        COBAHH (4,000 neurons, ``ExponentialEuler`` through ``linearised``) 0.47 s against 0.57 s
        with separate ones (and 0.69 s with the six rate functions), but an ``RK4`` sweep of
        1,000 neurons 4x slower (5.97 s against 1.33 s), so ``vector_field`` keeps them separate."""
        u = V - self.V_T
        x4, x = (13.0 - u) / 4.0, (40.0 - u) / 5.0
        args = (x4, x, (17.0 - u) / 18.0, (10.0 - u) / 40.0)
        if stacked:
            e4, e, e18, e40 = jnp.exp(jnp.stack(jnp.broadcast_arrays(*args)))
        else:
            e4, e, e18, e40 = (jnp.exp(a) for a in args)
        return (
            1.28 * exprel_of_exp(x4, e4),
            1.4 * exprel_of_exp(-x, 1.0 / e),
            0.128 * e18,
            4.0 / (1.0 + e),
            0.16 * exprel_of_exp(x - 5.0, e * math.exp(-5.0)),
            0.5 * e40,
        )

    def _field(self, t: Any, y: HHState, args: Any, rates: tuple[Array, ...]) -> tuple[HHState, Any]:
        """``dy/dt`` from the given rates, and the total membrane conductance (mS/cm^2)."""
        V = y.v
        g_Na, g_K = self.g_Na * y.m**3 * y.h, self.g_K * y.n**4
        I_ion = self.g_L * (V - self.E_L) + g_Na * (V - self.E_Na) + g_K * (V - self.E_K)
        return gated_field((input_value(args, t) - I_ion) / self.C, y, rates), self.g_L + g_Na + g_K

    def vector_field(self, t: Any, y: HHState, args: Any) -> HHState:
        """``dy/dt``; ``args`` is the input current (uA/cm^2) or a drive of ``t``."""
        return self._field(t, y, args, self.rates(y.v))[0]

    def linearised(self, t: Any, y: HHState, args: Any) -> tuple[HHState, HHState]:
        """``(vector_field(t, y, args), a)`` with the Jacobian's diagonal in closed form (the
        rates computed once): ``a_v = -(g_L + g_Na m^3 h + g_K n^4) / C`` and
        ``a_x = -(alpha_x + beta_x)`` for each gate (``AbstractNeuron.linearised``).  Measured:
        COBAHH's run 12% less than with the default forward-mode products."""
        rates = self.rates(y.v, stacked=True)
        f, g = self._field(t, y, args, rates)
        return f, gated_diagonal(-g / self.C, rates)

    def initial_state(self, drive: Any = 0.0) -> HHState:
        """``V = E_L`` with the gates at their steady state there."""
        del drive
        V = jnp.asarray(self.E_L)
        am, bm, ah, bh, an, bn = self.rates(V)
        return HHState(V, an / (an + bn), am / (am + bm), ah / (ah + bh))

    def spike_condition(self, y: HHState) -> Array:
        """``V - v_threshold`` (mV)."""
        return y.v - self.v_threshold


__all__ = ["TraubMiles"]

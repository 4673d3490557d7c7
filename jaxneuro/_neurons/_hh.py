"""Hodgkin-Huxley squid-axon neuron (notes ch. 1.3), in mV, ms, uA/cm^2, mS/cm^2, uF/cm^2.

    C dV/dt = J_in - g_L (V - E_L) - g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K)
    dx/dt   = alpha_x(V) (1 - x) - beta_x(V) x = (x_inf(V) - x) / tau_x(V),   x in {n, m, h}

with the 1952 rate functions shifted to a resting potential near -65 mV
(Hodgkin & Huxley, J. Physiol. 117:500-544, 1952; the form of Dayan & Abbott,
*Theoretical Neuroscience*, 2001, ch. 5).  Rates are in 1/ms.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_range, exprel, exprel_of_exp, is_concrete
from ._base import AbstractNeuron, input_value


# -- rate functions (V in mV, rates in 1/ms) ----------------------------------------------
def alpha_n(V: Float[ArrayLike, "*s"]) -> Float[Array, "*s"]:
    """``alpha_n = 0.01 (V + 55) / (1 - exp(-(V + 55)/10))`` 1/ms; removable singularity
    at V = -55 mV handled by ``exprel`` (value 0.1 there, finite gradient)."""
    return 0.1 * exprel(-(as_float_array(V) + 55.0) / 10.0)


def beta_n(V: Float[ArrayLike, "*s"]) -> Float[Array, "*s"]:
    """``beta_n = 0.125 exp(-(V + 65)/80)`` 1/ms."""
    return 0.125 * jnp.exp(-(as_float_array(V) + 65.0) / 80.0)


def alpha_m(V: Float[ArrayLike, "*s"]) -> Float[Array, "*s"]:
    """``alpha_m = 0.1 (V + 40) / (1 - exp(-(V + 40)/10))`` 1/ms; removable singularity
    at V = -40 mV handled by ``exprel`` (value 1 there, finite gradient)."""
    return exprel(-(as_float_array(V) + 40.0) / 10.0)


def beta_m(V: Float[ArrayLike, "*s"]) -> Float[Array, "*s"]:
    """``beta_m = 4 exp(-(V + 65)/18)`` 1/ms."""
    return 4.0 * jnp.exp(-(as_float_array(V) + 65.0) / 18.0)


def alpha_h(V: Float[ArrayLike, "*s"]) -> Float[Array, "*s"]:
    """``alpha_h = 0.07 exp(-(V + 65)/20)`` 1/ms."""
    return 0.07 * jnp.exp(-(as_float_array(V) + 65.0) / 20.0)


def beta_h(V: Float[ArrayLike, "*s"]) -> Float[Array, "*s"]:
    """``beta_h = 1 / (1 + exp(-(V + 35)/10))`` 1/ms."""
    return jax.nn.sigmoid((as_float_array(V) + 35.0) / 10.0)


def _inf_tau(a: Array, b: Array) -> tuple[Array, Array]:
    s = a + b
    return a / s, 1.0 / s


def n_inf(V):
    """Steady-state K+ activation ``alpha_n / (alpha_n + beta_n)`` (dimensionless)."""
    return _inf_tau(alpha_n(V), beta_n(V))[0]


def m_inf(V):
    """Steady-state Na+ activation ``alpha_m / (alpha_m + beta_m)`` (dimensionless)."""
    return _inf_tau(alpha_m(V), beta_m(V))[0]


def h_inf(V):
    """Steady-state Na+ inactivation ``alpha_h / (alpha_h + beta_h)`` (dimensionless)."""
    return _inf_tau(alpha_h(V), beta_h(V))[0]


def tau_n(V):
    """K+ activation time constant ``1 / (alpha_n + beta_n)`` in ms."""
    return _inf_tau(alpha_n(V), beta_n(V))[1]


def tau_m(V):
    """Na+ activation time constant ``1 / (alpha_m + beta_m)`` in ms."""
    return _inf_tau(alpha_m(V), beta_m(V))[1]


def tau_h(V):
    """Na+ inactivation time constant ``1 / (alpha_h + beta_h)`` in ms."""
    return _inf_tau(alpha_h(V), beta_h(V))[1]


class HHState(eqx.Module):
    """State of a Hodgkin-Huxley neuron: membrane potential ``v`` (mV) and gates n, m, h."""

    v: Float[Array, "*s"]
    n: Float[Array, "*s"]
    m: Float[Array, "*s"]
    h: Float[Array, "*s"]


def gated_field(dv: Array, y: HHState, rates: tuple[Array, ...]) -> HHState:
    """``dy/dt`` of a conductance-based neuron with HH gates: ``dv`` given, and for each gate
    ``dx/dt = alpha_x (1 - x) - beta_x x``, with ``rates = (alpha_m, beta_m, alpha_h, beta_h,
    alpha_n, beta_n)`` at the state's voltage (1/ms)."""
    am, bm, ah, bh, an, bn = rates
    return HHState(dv, an * (1.0 - y.n) - bn * y.n, am * (1.0 - y.m) - bm * y.m, ah * (1.0 - y.h) - bh * y.h)


def gated_diagonal(a_v: ArrayLike, rates: tuple[Array, ...]) -> HHState:
    """The diagonal of ``gated_field``'s Jacobian: ``a_v`` for the voltage (given) and
    ``-(alpha_x + beta_x)`` for each gate (``AbstractNeuron.linearised``)."""
    am, bm, ah, bh, an, bn = rates
    return HHState(jnp.asarray(a_v), -(an + bn), -(am + bm), -(ah + bh))


class HodgkinHuxley(AbstractNeuron):
    """Hodgkin-Huxley point neuron with the 1952 squid-axon parameters (notes ch. 1.3).

    Attributes:
        C: membrane capacitance, uF/cm^2 (> 0).
        g_Na, g_K, g_L: maximal conductances, mS/cm^2 (>= 0).
        E_Na, E_K, E_L: reversal potentials, mV.
        v_threshold: spike-detection threshold, mV (upward crossings are spikes).

    Time is in ms and input current in uA/cm^2; ``simulate`` and ``tuning_curve`` report
    rates in Hz.
    """

    C: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=1.0)
    g_Na: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=120.0)
    g_K: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=36.0)
    g_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.3)
    E_Na: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=50.0)
    E_K: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-77.0)
    E_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-54.387)
    v_threshold: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "uA/cm^2"
    default_dt: ClassVar[float] = 0.025  # the exponential midpoint's rate error < 0.1 Hz (tests)
    rearm: ClassVar[float] = 10.0  # mV below v_threshold before the next spike is detected
    # A spike lasts about 1 ms: above 0.05 ms RK4 goes unstable (dt = 0.1 ms: 2 spikes in 1 s
    # for 68) and the exponential midpoint's rate error passes 1% (dt = 1 ms: 36 Hz for 68).
    max_accurate_dt: ClassVar[float] = 0.05

    # (name, lower bound or None, unit): conductances may be 0 (a channel switched off); every
    # parameter must be finite (a NaN reversal potential would silently give 0 Hz).
    _RULES: ClassVar[tuple] = (
        ("C", 0.0, "uF/cm^2"),
        ("g_Na", 0.0, "mS/cm^2"),
        ("g_K", 0.0, "mS/cm^2"),
        ("g_L", 0.0, "mS/cm^2"),
        ("E_Na", None, "mV"),
        ("E_K", None, "mV"),
        ("E_L", None, "mV"),
        ("v_threshold", None, "mV"),
    )

    def _check(self, name: str, lower: float | None, unit: str, value: Any) -> Any:
        return check_range(name, value, lower=lower, lower_open=name == "C", unit=unit)

    def __check_init__(self):
        for name, lower, unit in self._RULES:
            value = getattr(self, name)
            if is_concrete(value):
                self._check(name, lower, unit, value)

    def checked(self) -> "HodgkinHuxley":
        names = [r[0] for r in self._RULES]
        return eqx.tree_at(
            lambda n: [getattr(n, k) for k in names],
            self,
            [self._check(name, lower, unit, getattr(self, name)) for name, lower, unit in self._RULES],
        )

    def currents(self, y: HHState) -> tuple[Array, Array, Array]:
        """Ionic currents (uA/cm^2), outward positive: ``(I_Na, I_K, I_L)``."""
        I_Na = self.g_Na * y.m**3 * y.h * (y.v - self.E_Na)
        I_K = self.g_K * y.n**4 * (y.v - self.E_K)
        I_L = self.g_L * (y.v - self.E_L)
        return I_Na, I_K, I_L  # pyright: ignore[reportReturnType]  # numpy stubs: ndarray * jax.Array is a jax.Array

    def rates(self, V: Float[ArrayLike, "*s"]) -> tuple[Array, ...]:
        """``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)`` at ``V`` (1/ms), the six
        rate functions above from three exponentials instead of six, for the solvers' inner
        loops.

        With ``x = -(V + 40)/10``, ``u = e^x`` and ``w = e^(-(V + 65)/80)``:
        ``alpha_m = exprel(x)``, ``alpha_n = 0.1 exprel(x - 3/2)`` (``e^(x - 3/2) = u e^(-3/2)``),
        ``beta_h = 1 / (1 + u e^(1/2))``, ``beta_n = 0.125 w``, ``alpha_h = 0.07 w^4`` and
        ``beta_m = 4 e^(-(V + 65)/18)``; ``exprel(x) = x / (e^x - 1)`` from ``e^x`` by
        ``exprel_of_exp`` (a series near 0: finite value and gradient at V = -40 and -55 mV).
        Equal to the separate functions to a few ulp.

        Args:
            V: membrane potential, mV.

        Returns:
            The six rates, each shaped like ``V``, in 1/ms.

        Example::

            am, bm, ah, bh, an, bn = jn.HodgkinHuxley().rates(jnp.linspace(-80.0, 40.0, 5))
        """
        V = as_float_array(V)
        x = -(V + 40.0) / 10.0
        # one exponential kernel for the three (measured: 24% less time per step than six
        # separate rate functions with two expm1)
        u, w, e18 = jnp.exp(jnp.stack([x, -(V + 65.0) / 80.0, -(V + 65.0) / 18.0]))
        w2 = w * w
        return (
            exprel_of_exp(x, u),
            4.0 * e18,
            0.07 * (w2 * w2),
            1.0 / (1.0 + u * math.exp(0.5)),
            0.1 * exprel_of_exp(x - 1.5, u * math.exp(-1.5)),
            0.125 * w,
        )

    def vector_field(self, t: Any, y: HHState, args: Any) -> HHState:
        """The 4-D HH vector field; ``args`` is the input current J (uA/cm^2) or J(t)."""
        J = input_value(args, t)
        I_Na, I_K, I_L = self.currents(y)
        V = y.v
        rates = (alpha_m(V), beta_m(V), alpha_h(V), beta_h(V), alpha_n(V), beta_n(V))
        return gated_field((J - I_Na - I_K - I_L) / self.C, y, rates)

    def linearised(self, t: Any, y: HHState, args: Any) -> tuple[HHState, HHState]:
        """``(vector_field(t, y, args), a)`` with the Jacobian's diagonal in closed form:
        ``a_v = -(g_L + g_Na m^3 h + g_K n^4) / C``, ``a_x = -(alpha_x + beta_x)``
        (``AbstractNeuron.linearised``; the rates from ``rates``, computed once)."""
        J = input_value(args, t)
        I_Na, I_K, I_L = self.currents(y)
        rates = self.rates(y.v)
        f = gated_field((J - I_Na - I_K - I_L) / self.C, y, rates)
        a_v = -(self.g_L + self.g_Na * y.m**3 * y.h + self.g_K * y.n**4) / self.C
        return f, gated_diagonal(a_v, rates)

    def steady_gates(self, V: ArrayLike) -> HHState:
        """The state with gates at their steady-state values for voltage ``V``."""
        V = jnp.asarray(as_float_array(V))
        return HHState(V, n_inf(V), m_inf(V), h_inf(V))

    def resting_potential(self, J: ArrayLike = 0.0) -> Array:
        """The fixed point V* of the HH system under constant current J (mV).

        Solves ``J = I_Na + I_K + I_L`` with the gates at steady state by 30 Newton steps
        from -65 mV (quadratic convergence; differentiable through the iterations).
        """
        J = as_float_array(J)

        def f(V):
            return sum(self.currents(self.steady_gates(V))) - J

        def newton(_, V):
            value, slope = jax.jvp(f, (V,), (jnp.ones_like(V),))
            return V - value / slope

        shape = jnp.broadcast_shapes(J.shape, *(jnp.shape(x) for x in jax.tree.leaves(self)))
        V0 = jnp.full(shape, -65.0, dtype=J.dtype)
        return jax.lax.fori_loop(0, 30, newton, V0)

    def spike_condition(self, y: HHState) -> Array:
        """``V - v_threshold`` (mV): a spike is an upward crossing of ``v_threshold``; there
        is no reset, and the detector re-arms once V has fallen ``rearm`` = 10 mV below it."""
        return y.v - self.v_threshold

    def initial_state(self, drive: Any = 0.0) -> HHState:
        """The resting state (J = 0): V at the fixed point, gates at steady state.

        With concrete parameters (not traced) it is computed in float64 numpy and rounded to
        the parameters' dtype, so that a compiled sweep holds no Newton loop (about 0.3 s of
        the HH diffrax sweep's compile); traced parameters take ``resting_potential``'s
        differentiable loop.  The two agree to rounding (tests/test_hh.py)."""
        del drive
        dtype = jnp.result_type(self.C)
        params = [getattr(self, k) for k in ("C", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L")]
        if type(self) is HodgkinHuxley and all(is_concrete(p) for p in params):
            return HHState(*(jnp.asarray(a, dtype) for a in _resting_state_numpy(*params[1:])))
        # J = 0 in the parameters' dtype (a Python 0.0 is float64 under x64: a float32 neuron
        # would start, and run, in float64)
        return self.steady_gates(self.resting_potential(jnp.zeros((), dtype)))


def _resting_state_numpy(g_Na, g_K, g_L, E_Na, E_K, E_L, iterations: int = 30):
    """``(V, n, m, h)`` of the resting state (J = 0) in float64 numpy: the rate functions
    above written with numpy (``exprel(x) = x / expm1(x)``, 1 at 0), then Newton on the
    steady-state current from -65 mV with the slope by a central difference (converges to
    float64 rounding in a few steps; the iterations are bounded, as ``resting_potential``'s)."""
    import numpy as np

    g_Na, g_K, g_L, E_Na, E_K, E_L = (np.asarray(p, np.float64) for p in (g_Na, g_K, g_L, E_Na, E_K, E_L))

    def exprel_np(x):
        safe = np.where(x == 0.0, 1.0, x)
        return np.where(x == 0.0, 1.0, safe / np.expm1(safe))

    def gates(V):
        an, bn = 0.1 * exprel_np(-(V + 55.0) / 10.0), 0.125 * np.exp(-(V + 65.0) / 80.0)
        am, bm = exprel_np(-(V + 40.0) / 10.0), 4.0 * np.exp(-(V + 65.0) / 18.0)
        ah, bh = 0.07 * np.exp(-(V + 65.0) / 20.0), 1.0 / (1.0 + np.exp(-(V + 35.0) / 10.0))
        return an / (an + bn), am / (am + bm), ah / (ah + bh)

    def current(V):
        n, m, h = gates(V)
        return g_Na * m**3 * h * (V - E_Na) + g_K * n**4 * (V - E_K) + g_L * (V - E_L)

    shape = np.broadcast_shapes(*(np.shape(p) for p in (g_Na, g_K, g_L, E_Na, E_K, E_L)))
    V = np.full(shape, -65.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(iterations):
            delta = 1e-6 * np.maximum(1.0, np.abs(V))
            slope = (current(V + delta) - current(V - delta)) / (2 * delta)
            step = current(V) / slope
            V = np.where(np.isfinite(step), V - step, V)
    return (V, *gates(V))


__all__ = [
    "HHState",
    "HodgkinHuxley",
    "alpha_h",
    "alpha_m",
    "alpha_n",
    "beta_h",
    "beta_m",
    "beta_n",
    "gated_diagonal",
    "gated_field",
    "h_inf",
    "m_inf",
    "n_inf",
    "tau_h",
    "tau_m",
    "tau_n",
]

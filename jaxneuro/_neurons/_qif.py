"""Quadratic integrate-and-fire neuron (Latham, Richmond, Nelson & Nirenberg, J. Neurophysiol.
83:808-827, 2000; Gerstner, Kistler, Naud & Paninski, *Neuronal Dynamics*, 2014, eq. 5.8),
in ms and mV:

    tau_m dV/dt = (V - E_L)(V - V_c) / (V_c - E_L) + R I
    at V = V_peak:  V <- V_reset  (then optionally held for tau_ref).
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_positive, check_range, is_concrete
from ._base import AbstractNeuron, input_value


class QIF(AbstractNeuron):
    """Quadratic integrate-and-fire neuron, the normal form of a saddle-node on invariant
    circle bifurcation (Ermentrout & Kopell, 1986; Latham et al., 2000).

        tau_m dV/dt = (V - E_L)(V - V_c) / (V_c - E_L) + R I(t)
        at V = V_peak:  V <- V_reset;  then V is held at V_reset for tau_ref.

    This is eq. 5.8 of *Neuronal Dynamics* (``tau du/dt = a_0 (u - u_rest)(u - u_c) + R I``)
    with the curvature ``a_0 = 1/(V_c - E_L)``, so that near rest the leak is ``-(V - E_L)``
    and ``tau_m`` is the membrane time constant.  ``E_L`` is the stable rest and ``V_c`` the
    unstable critical voltage for ``I = 0``.  Time in ms, voltages in mV; the input is the
    voltage ``R I`` (mV).

    Constant input: with ``V_m = (E_L + V_c)/2`` and
    ``q = (V_c - E_L) (R I - I_rh)``, ``I_rh = (V_c - E_L)/4`` (the rheobase, in mV),
    the neuron fires for ``R I > I_rh`` with period

        T = tau_ref + tau_m (V_c - E_L) / sqrt(q)
            * [atan((V_peak - V_m)/sqrt(q)) - atan((V_reset - V_m)/sqrt(q))],

    which tends to the theta-neuron period ``pi tau_m sqrt((V_c - E_L)/(R I - I_rh))`` as
    ``V_peak -> inf`` and ``V_reset -> -inf``.

    Attributes:
        tau_m: membrane time constant, ms (> 0; default 10).
        E_L: resting potential, mV (default -65).
        V_c: critical (unstable) voltage, mV (> E_L; default -50).
        V_peak: spike cut-off, mV (default 30).
        V_reset: reset potential, mV (< V_peak; default -70).
        tau_ref: refractory period, ms (>= 0; default 0, none).

    Example::

        qif = jn.QIF()
        sim = jn.simulate(qif, 10.0, 0.0, 200.0)   # R I = 10 mV, above the 3.75 mV rheobase
        sim.spikes.times[: sim.spikes.count]        # ms

    References:
        P. E. Latham, B. J. Richmond, P. G. Nelson and S. Nirenberg, "Intrinsic dynamics in
        neuronal networks. I. Theory", J. Neurophysiol. 83:808-827, 2000.
        G. B. Ermentrout and N. Kopell, "Parabolic bursting in an excitable system coupled
        with a slow oscillation", SIAM J. Appl. Math. 46:233-253, 1986.
        W. Gerstner, W. M. Kistler, R. Naud and L. Paninski, *Neuronal Dynamics*, Cambridge
        University Press, 2014, sec. 5.3.
    """

    tau_m: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=10.0)
    E_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-65.0)
    V_c: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-50.0)
    V_peak: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=30.0)
    V_reset: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-70.0)
    tau_ref: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "mV (R I)"
    default_dt: ClassVar[float] = 0.01

    def __check_init__(self):
        # Concrete values are checked here; traced ones by ``checked()`` at run time.
        if is_concrete(self.tau_m):
            check_positive("tau_m", self.tau_m, unit="ms")
        if is_concrete(self.tau_ref):
            check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms")
        if is_concrete(self.V_c) and is_concrete(self.E_L):
            check_positive("V_c - E_L", self.V_c - self.E_L, unit="mV")
        if is_concrete(self.V_peak) and is_concrete(self.V_reset):
            check_positive("V_peak - V_reset", self.V_peak - self.V_reset, unit="mV")

    def checked(self) -> "QIF":
        V_c = eqx.error_if(
            self.V_c, ~(self.V_c > self.E_L), "V_c - E_L must be in (0, inf) mV (a traced value was outside it)."
        )
        V_reset = eqx.error_if(
            self.V_reset,
            ~(self.V_reset < self.V_peak),
            "V_peak - V_reset must be in (0, inf) mV (a traced value was outside it).",
        )
        return eqx.tree_at(
            lambda n: (n.tau_m, n.tau_ref, n.V_c, n.V_reset),
            self,
            (
                check_positive("tau_m", self.tau_m, unit="ms"),
                check_range("tau_ref", self.tau_ref, lower=0.0, unit="ms"),
                V_c,
                V_reset,
            ),
        )

    def vector_field(self, t: Any, y: Float[Array, "*#s"], args: Any) -> Float[Array, "*#s"]:
        """``dV/dt`` (mV/ms); ``args`` is the input ``R I`` (mV) or ``R I(t)``."""
        quadratic = (y - self.E_L) * (y - self.V_c) / (self.V_c - self.E_L)
        return (quadratic + input_value(args, t)) / self.tau_m

    def initial_state(self, drive: Any = 0.0) -> Float[Array, "*shape"]:
        """``V = E_L`` (the stable rest for ``I = 0``)."""
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


__all__ = ["QIF"]

"""Izhikevich's simple model of spiking neurons (Izhikevich, IEEE TNN 14:1569-1572, 2003).

A quadratic membrane potential ``v`` (mV) and a linear recovery variable ``u``; time in ms:

    dv/dt = 0.04 v^2 + 5 v + 140 - u + I
    du/dt = a (b v - u)
    at v = v_peak (30 mV):  v <- c,  u <- u + d.

Four numbers ``(a, b, c, d)`` select the firing pattern of many cortical cell classes.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_positive, check_range, is_concrete
from ._base import AbstractNeuron, input_value

IZHIKEVICH_PRESETS: MappingProxyType[str, tuple[float, float, float, float]] = MappingProxyType(
    {
        "RS": (0.02, 0.2, -65.0, 8.0),  # regular spiking: spike-frequency adaptation
        "IB": (0.02, 0.2, -55.0, 4.0),  # intrinsically bursting: a burst at onset, then tonic
        "CH": (0.02, 0.2, -50.0, 2.0),  # chattering: repeated high-frequency bursts
        "FS": (0.1, 0.2, -65.0, 2.0),  # fast spiking: high rate, little adaptation
        "LTS": (0.02, 0.25, -65.0, 2.0),  # low-threshold spiking
    }
)
"""The cortical cell classes of Izhikevich (2003), Fig. 2: name -> ``(a, b, c, d)``."""

V_INIT_MV = -65.0
"""The initial membrane potential of ``Izhikevich.initial_state`` (mV), as in the paper's
demonstration code; ``u`` starts at ``b * V_INIT_MV``."""


class IzhikevichState(eqx.Module):
    """State of an Izhikevich neuron: membrane potential ``v`` (mV) and recovery ``u``
    (same units as the input ``I``, mV/ms)."""

    v: Float[Array, "*s"]
    u: Float[Array, "*s"]


class Izhikevich(AbstractNeuron):
    """Izhikevich's simple spiking neuron (2003).

        dv/dt = 0.04 v^2 + 5 v + 140 - u + I        (v in mV, t in ms)
        du/dt = a (b v - u)
        if v >= v_peak:  v <- c,  u <- u + d.

    The coefficients 0.04, 5 and 140 are fixed by the paper (fitted to cortical neurons, v in
    mV and t in ms), so ``I`` and ``u`` are in mV/ms; the paper calls ``I`` a dimensionless
    input.  The paper integrates with forward Euler and 0.5 ms steps; jaxneuro integrates the
    ODE accurately and resets at the exact crossing of ``v_peak``, so spike times differ
    slightly from the paper's figures while the firing patterns are the same.

    Presets (``Izhikevich.preset(name)``, values in ``IZHIKEVICH_PRESETS``):
    ``"RS"`` regular spiking (0.02, 0.2, -65, 8), ``"IB"`` intrinsically bursting
    (0.02, 0.2, -55, 4), ``"CH"`` chattering (0.02, 0.2, -50, 2), ``"FS"`` fast spiking
    (0.1, 0.2, -65, 2), ``"LTS"`` low-threshold spiking (0.02, 0.25, -65, 2).

    Attributes:
        a: rate of the recovery variable, 1/ms (> 0; default 0.02).
        b: sensitivity of ``u`` to ``v`` (dimensionless, finite; default 0.2).
        c: reset potential, mV (< v_peak; default -65).
        d: increment of ``u`` at a spike, mV/ms (finite; default 8).
        v_peak: spike cut-off, mV (default 30).

    Example::

        rs = jn.Izhikevich.preset("RS")
        sim = jn.simulate(rs, jn.Step(10.0, 10.0), 0.0, 300.0)
        sim.spikes.times[: sim.spikes.count]   # spike times in ms; ISIs grow (adaptation)

    References:
        E. M. Izhikevich, "Simple model of spiking neurons", IEEE Transactions on Neural
        Networks 14(6):1569-1572, 2003.
    """

    a: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.02)
    b: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.2)
    c: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=-65.0)
    d: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=8.0)
    v_peak: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=30.0)

    time_unit: ClassVar[str] = "ms"
    seconds_per_time_unit: ClassVar[float] = 1e-3
    input_unit: ClassVar[str] = "mV/ms (the paper's dimensionless I)"
    default_dt: ClassVar[float] = 0.01

    def __check_init__(self):
        # Concrete values are checked here; traced ones by ``checked()`` at run time.
        if is_concrete(self.a):
            check_positive("a", self.a, unit="1/ms")
        for name, unit in (("b", ""), ("d", "mV/ms")):
            value = getattr(self, name)
            if is_concrete(value):
                check_range(name, value, unit=unit)
        if is_concrete(self.c) and is_concrete(self.v_peak):
            check_positive("v_peak - c", self.v_peak - self.c, unit="mV")

    @classmethod
    def preset(cls, name: str, **overrides: ArrayLike) -> "Izhikevich":
        """The neuron of one of the paper's cell classes (``IZHIKEVICH_PRESETS``).

        Args:
            name: ``"RS"``, ``"IB"``, ``"CH"``, ``"FS"`` or ``"LTS"``.
            **overrides: any field to set as well (e.g. ``v_peak=35.0``).

        Raises:
            ValueError: for an unknown name (the message lists the allowed ones).
        """
        if name not in IZHIKEVICH_PRESETS:
            allowed = ", ".join(repr(k) for k in IZHIKEVICH_PRESETS)
            raise ValueError(f"unknown Izhikevich preset {name!r}; allowed names: {allowed}.")
        a, b, c, d = IZHIKEVICH_PRESETS[name]
        return cls(**{"a": a, "b": b, "c": c, "d": d, **overrides})

    def checked(self) -> "Izhikevich":
        c = eqx.error_if(
            self.c, ~(self.c < self.v_peak), "v_peak - c must be in (0, inf) mV (a traced value was outside it)."
        )
        return eqx.tree_at(
            lambda n: (n.a, n.b, n.c, n.d),
            self,
            (
                check_positive("a", self.a, unit="1/ms"),
                check_range("b", self.b),
                c,
                check_range("d", self.d, unit="mV/ms"),
            ),
        )

    def vector_field(self, t: Any, y: IzhikevichState, args: Any) -> IzhikevichState:
        """``(dv/dt, du/dt)`` in mV/ms and mV/ms^2; ``args`` is the input ``I`` or ``I(t)``."""
        v, u = y.v, y.u
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + input_value(args, t)
        du = (v * self.b - u) * self.a
        return IzhikevichState(dv, du)

    def initial_state(self, drive: Any = 0.0) -> IzhikevichState:
        """``v = -65`` mV and ``u = b v`` (the paper's demonstration code)."""
        del drive
        v = jnp.full_like(self.b, V_INIT_MV)
        return IzhikevichState(v, v * self.b)

    def spike_condition(self, y: IzhikevichState) -> Float[Array, "*#s"]:
        """``v - v_peak`` (mV)."""
        return y.v - self.v_peak

    def reset(self, y: IzhikevichState) -> IzhikevichState:
        """``v <- c``, ``u <- u + d`` (dtype and shape of ``y`` kept)."""
        v = jnp.broadcast_to(jnp.asarray(self.c, y.v.dtype), jnp.shape(y.v))
        u = (y.u + self.d).astype(y.u.dtype)
        return IzhikevichState(v, u)


__all__ = ["IZHIKEVICH_PRESETS", "Izhikevich", "IzhikevichState"]

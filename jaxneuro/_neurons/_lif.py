"""Leaky integrate-and-fire neuron in the normalised units of the course notes (ch. 1.4).

Physical model: ``C dV/dt = J - (V - V_L)/R`` below threshold ``V_th``.  With
``tau_m = R C`` and the change of variables ``v = (V - V_L)/(V_th - V_L)`` it becomes

    tau_m dv/dt = v_in - v,        v_in = R J / (V_th - V_L),

with threshold ``v = 1`` and reset ``v = 0`` after a refractory period ``tau_ref``.
Time is in seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._custom_types import ParamArray
from .._misc import as_float_array, check_positive, is_concrete
from ._base import AbstractNeuron, input_value


def lif_rate(
    v_in: Float[ArrayLike, "*#batch"],
    tau_m: Float[ArrayLike, "*#batch"] = 0.02,
    tau_ref: Float[ArrayLike, "*#batch"] = 0.002,
) -> Float[Array, "*#batch"]:
    """Steady-state LIF firing rate ``G(v_in)`` in Hz (the tuning curve of the notes, ch. 1.4).

        G(v_in) = 1 / (tau_ref - tau_m ln(1 - 1/v_in))   for v_in > 1,
        G(v_in) = 0                                       for v_in <= 1.

    ``-ln(1 - 1/v_in)`` is computed as ``log1p(1/(v_in - 1))``, and the unsafe branch is
    masked with a double ``where``, so value and gradient (with respect to ``v_in``,
    ``tau_m`` and ``tau_ref``) are finite everywhere, including at ``v_in = 1`` and just
    above it.

    Args:
        v_in: normalised input (dimensionless; threshold 1).
        tau_m: membrane time constant in s (> 0).
        tau_ref: refractory period in s (> 0).

    Returns:
        The rate in Hz (spikes per second), broadcast over the arguments; NaN where ``v_in``
        is NaN.

    Raises:
        ValueError: if a concrete ``tau_m`` or ``tau_ref`` is not positive and finite (traced
            values are checked at run time, through ``eqx.error_if``).
    """
    tau_m = check_positive("tau_m", as_float_array(tau_m), unit="s")
    tau_ref = check_positive("tau_ref", as_float_array(tau_ref), unit="s")
    v_in = as_float_array(v_in)
    x = v_in - 1.0
    fires = x > 0
    x_safe = jnp.where(fires, x, jnp.ones_like(x))
    isi = tau_ref + tau_m * jnp.log1p(1.0 / x_safe)
    rate = jnp.where(fires, 1.0 / isi, jnp.zeros_like(isi))
    return jnp.where(jnp.isnan(v_in), v_in, rate)  # NaN in, NaN out (not a silent 0 Hz)


def lif_subthreshold(
    t: Float[ArrayLike, "*#batch"],
    v0: Float[ArrayLike, "*#batch"],
    v_in: Float[ArrayLike, "*#batch"],
    tau_m: Float[ArrayLike, "*#batch"] = 0.02,
) -> Float[Array, "*#batch"]:
    """Analytic sub-threshold solution for constant input (notes ch. 1.4):

        v(t) = v_in + (v0 - v_in) e^(-t / tau_m),

    which is ``v_in (1 - e^(-t/tau_m))`` for ``v0 = 0``.  Written with ``expm1`` so that
    small ``t`` keeps full relative precision: ``v(t) = v0 + (v0 - v_in) expm1(-t/tau_m)``.

    Args:
        t: time since the initial condition, in s.
        v0: initial normalised voltage.
        v_in: constant normalised input.
        tau_m: membrane time constant in s (> 0).

    Returns:
        The normalised voltage at ``t`` (threshold and reset are not applied).

    Raises:
        ValueError: if a concrete ``tau_m`` is not positive and finite (traced values are
            checked at run time, through ``eqx.error_if``).
    """
    tau_m = check_positive("tau_m", as_float_array(tau_m), unit="s")
    return subthreshold_unchecked(t, v0, v_in, tau_m)


def subthreshold_unchecked(t: ArrayLike, v0: ArrayLike, v_in: ArrayLike, tau_m: ArrayLike) -> Array:
    """``lif_subthreshold`` without the check of ``tau_m``: for solvers, which check the
    neuron once (``LIF.checked``) rather than at every step."""
    t, v0, v_in = as_float_array(t), jnp.asarray(v0), jnp.asarray(v_in)
    return v0 + (v0 - v_in) * jnp.expm1(-t / tau_m)


def lif_time_to_threshold(
    v0: Float[ArrayLike, "*#batch"],
    v_in: Float[ArrayLike, "*#batch"],
    tau_m: Float[ArrayLike, "*#batch"] = 0.02,
) -> Float[Array, "*#batch"]:
    """Time (s) for the sub-threshold solution to reach ``v = 1`` from ``v0 < 1``:

        t* = tau_m ln((v_in - v0) / (v_in - 1)) = tau_m log1p((1 - v0) / (v_in - 1)),

    and ``inf`` when ``v_in <= 1`` (the threshold is never reached); NaN where ``v0`` or
    ``v_in`` is NaN.  Finite gradient in every branch.

    Raises:
        ValueError: if a concrete ``tau_m`` is not positive and finite (traced values are
            checked at run time, through ``eqx.error_if``).
    """
    tau_m = check_positive("tau_m", as_float_array(tau_m), unit="s")
    v0 = as_float_array(v0)
    v_in = as_float_array(v_in)
    t = time_to_threshold_unchecked(v0, v_in, tau_m)
    return jnp.where(jnp.isnan(v0) | jnp.isnan(v_in), jnp.nan, t)


def time_to_threshold_unchecked(v0: ArrayLike, v_in: ArrayLike, tau_m: ArrayLike) -> Array:
    """``lif_time_to_threshold`` without the check of ``tau_m`` (for solvers, as
    ``subthreshold_unchecked``)."""
    v0 = as_float_array(v0)
    v_in = as_float_array(v_in)
    x = v_in - 1.0
    fires = x > 0
    x_safe = jnp.where(fires, x, jnp.ones_like(x))
    t = tau_m * jnp.log1p((1.0 - v0) / x_safe)
    return jnp.where(fires, t, jnp.inf)


class LIF(AbstractNeuron):
    """Leaky integrate-and-fire neuron, normalised: threshold 1, reset 0 (notes ch. 1.4).

        tau_m dv/dt = v_in(t) - v     while not refractory and v < 1;
        at v = 1: a spike, v <- 0, and v is held at 0 for tau_ref.

    The physical scale (``V_L``, ``V_th``, ``R``) is kept only for converting to and from
    physical units; the default (0, 1, 1) makes those conversions the identity.  Build a
    neuron from physical parameters with ``LIF.from_physical``.

    Attributes:
        tau_m: membrane time constant ``R C`` in s (default 0.02 s).
        tau_ref: refractory period in s (default 0.002 s).
        V_L: leak (resting) potential in V (physical scale only).
        V_th: threshold potential in V (physical scale only), ``> V_L``.
        R: membrane resistance in ohm (physical scale only).
    """

    tau_m: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.02)
    tau_ref: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.002)
    V_L: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=0.0)
    V_th: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=1.0)
    R: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array, default=1.0)

    time_unit: ClassVar[str] = "s"
    seconds_per_time_unit: ClassVar[float] = 1.0
    input_unit: ClassVar[str] = "normalised v_in"
    default_dt: ClassVar[float] = 1e-4

    def __check_init__(self):
        # Concrete values are checked here; traced ones by ``checked()`` at run time.
        for name, value, unit in (
            ("tau_m", self.tau_m, "s"),
            ("tau_ref", self.tau_ref, "s"),
            ("R", self.R, "ohm"),
        ):
            if is_concrete(value):
                check_positive(name, value, unit=unit)
        if is_concrete(self.V_th) and is_concrete(self.V_L):
            check_positive("V_th - V_L", self.V_th - self.V_L, unit="V")

    @classmethod
    def from_physical(
        cls,
        *,
        V_L: ArrayLike = -0.070,
        V_th: ArrayLike = -0.050,
        R: ArrayLike = 1e7,
        C: ArrayLike = 2e-9,
        tau_ref: ArrayLike = 0.002,
    ) -> "LIF":
        """A LIF neuron from physical parameters: ``tau_m = R C``.

        Args:
            V_L: leak potential in V.   V_th: threshold in V (> V_L).
            R: membrane resistance in ohm (> 0).   C: capacitance in F (> 0).
            tau_ref: refractory period in s (> 0).

        Raises:
            ValueError: if ``C``, ``R`` or ``tau_ref`` is not positive, or ``V_th <= V_L``.
        """
        R = check_positive("R", as_float_array(R), unit="ohm")
        C = check_positive("C", as_float_array(C), unit="F")
        return cls(tau_m=R * C, tau_ref=tau_ref, V_L=V_L, V_th=V_th, R=R)

    def checked(self) -> "LIF":
        return eqx.tree_at(
            lambda n: (n.tau_m, n.tau_ref),
            self,
            (
                check_positive("tau_m", self.tau_m, unit="s"),
                check_positive("tau_ref", self.tau_ref, unit="s"),
            ),
        )

    # -- physical <-> normalised ------------------------------------------------------
    def normalise_voltage(self, V: ArrayLike) -> ArrayLike:
        """``v = (V - V_L) / (V_th - V_L)`` (V in volts)."""
        return (as_float_array(V) - self.V_L) / (self.V_th - self.V_L)

    def physical_voltage(self, v: ArrayLike) -> ArrayLike:
        """Inverse of ``normalise_voltage``: ``V = V_L + v (V_th - V_L)`` in volts."""
        return self.V_L + as_float_array(v) * (self.V_th - self.V_L)

    def normalise_input(self, J: ArrayLike) -> ArrayLike:
        """``v_in = R J / (V_th - V_L)`` for an input current ``J`` in amperes."""
        return self.R * as_float_array(J) / (self.V_th - self.V_L)

    # -- dynamics ---------------------------------------------------------------------
    def vector_field(self, t: Any, y: Float[ArrayLike, "*#s"], args: Any) -> Float[Array, "*#s"]:
        """Sub-threshold dynamics ``dv/dt = (v_in(t) - v) / tau_m`` (1/s)."""
        return (input_value(args, t) - y) / self.tau_m

    def initial_state(self, drive: Any = 0.0) -> Float[Array, "*shape"]:
        """The reset state ``v = 0``."""
        return jnp.zeros_like(self.tau_m)

    def spike_condition(self, y: Float[Array, "*#s"]) -> Float[Array, "*#s"]:
        """``v - 1``: a spike when ``v`` reaches the threshold 1."""
        return y - 1.0

    def reset(self, y: Float[Array, "*#s"]) -> Float[Array, "*#s"]:
        """``v <- 0``."""
        return jnp.zeros_like(y)

    def refractory_period(self) -> Float[ParamArray, "*shape"]:
        """``tau_ref`` (s): ``v`` is held at 0 after a spike."""
        return self.tau_ref

    def subthreshold(self, t: ArrayLike, v0: ArrayLike, v_in: ArrayLike) -> Array:
        """``lif_subthreshold`` with this neuron's ``tau_m``."""
        return lif_subthreshold(t, v0, v_in, self.tau_m)

    def rate(self, v_in: ArrayLike) -> Array:
        """``lif_rate`` with this neuron's time constants (Hz)."""
        return lif_rate(v_in, self.tau_m, self.tau_ref)


__all__ = ["LIF", "lif_rate", "lif_subthreshold", "lif_time_to_threshold"]

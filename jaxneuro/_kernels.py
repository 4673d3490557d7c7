"""Post-synaptic current (PSC) kernels (notes ch. 1.6).

A spike arriving at a synapse at ``t = 0`` injects the current

    h(t) = t^n e^(-t/tau_s) / (n! tau_s^(n+1))    for t >= 0,      h(t) = 0 for t < 0,

with ``n`` a non-negative integer and ``tau_s`` the synaptic time constant.  The constant
``1 / (n! tau_s^(n+1))`` gives every kernel unit area, ``int_0^inf h(t) dt = 1``, so a
spike of weight ``w`` injects a total charge ``w``.  For ``n = 0`` the kernel is the
exponential ``e^(-t/tau_s) / tau_s``, the solution of ``tau_s ds/dt = -s`` with
``s(0) = 1/tau_s``; for ``n >= 1`` it rises from 0, peaks at ``t = n tau_s`` and is the
impulse response of ``n + 1`` identical first-order filters in cascade.  Time is in s.
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import ParamArray
from ._misc import as_float_array, check_int, check_positive, check_positive_normal, is_concrete, static_number

FAST_SYNAPSE_TAU_S = 0.010
"""A fast, AMPA-like synapse: ``tau_s = 10 ms``.

Source: the course notes, ch. 1.6 ("some synapses are fast (taking just about 10 ms) ...
fast, like AMPA").  Measured AMPA currents decay faster still, in a few ms (Dayan and
Abbott, *Theoretical Neuroscience*, MIT Press 2001, sec. 5.8); 10 ms is the notes' round
figure for "fast"."""

SLOW_SYNAPSE_TAU_S = 0.300
"""A slow, NMDA-like synapse: ``tau_s = 300 ms``.

Source: the course notes, ch. 1.6 ("some are quite slow (taking over 300 ms) ... slow,
like NMDA"); NMDA currents last on the order of 100 ms or more (Dayan and Abbott 2001,
sec. 5.8)."""


def check_order(n: object) -> int:
    """Validate the kernel order ``n``: a Python (or numpy) integer ``>= 0``; return it as int.

    Raises:
        ValueError: if ``n`` is not an integer or is negative.
    """
    return check_int("n", n, 0, hint="(the PSC kernel order)")


def psc_kernel(
    t: Float[ArrayLike, "*batch"],
    tau_s: Float[ArrayLike, "*#batch"],
    n: int = 0,
) -> Float[Array, "*batch"]:
    """The unit-area PSC kernel of the notes (ch. 1.6):

        h(t) = t^n e^(-t/tau_s) / (n! tau_s^(n+1))   for t >= 0,   0 for t < 0.

    Evaluated as ``exp(n log(t/tau_s) - t/tau_s - log n!) / tau_s`` so that large ``n`` and
    long times neither overflow nor underflow early; the ``t <= 0`` branch is masked with a
    double ``where``, so the value and the gradients with respect to ``t`` and ``tau_s``
    are finite everywhere.  At ``t = 0`` the kernel takes its right limit: ``1/tau_s`` for
    ``n = 0`` (a spike at ``t_p`` is counted at ``t_p``), ``0`` for ``n >= 1``.

    Args:
        t: time since the spike, in s (any shape; negative times give 0).
        tau_s: synaptic time constant in s (> 0), broadcast against ``t``.
        n: the order, a Python integer >= 0 (static).

    Returns:
        ``h(t)`` in 1/s, the broadcast shape of ``t`` and ``tau_s``.  ``int h dt = 1``; the
        peak is at ``t = n tau_s``.  NaN where ``t`` is NaN.

    Raises:
        ValueError: if ``n`` is not an integer >= 0, ``t`` and ``tau_s`` do not broadcast,
            or a concrete ``tau_s`` is not positive and finite (traced values are checked at
            run time).

    References:
        The course notes, ch. 1.6 (PSC filters).  Dayan and Abbott, *Theoretical
        Neuroscience* (2001), sec. 5.8 (synaptic conductances; the alpha function is
        ``n = 1``).
    """
    n = check_order(n)
    tau_s = check_positive_normal("tau_s", as_float_array(tau_s), unit="s")
    t = as_float_array(t)
    try:
        jnp.broadcast_shapes(t.shape, tau_s.shape)
    except ValueError:
        raise ValueError(
            f"t and tau_s must broadcast against each other; got t.shape = {t.shape}, tau_s.shape = {tau_s.shape}."
        ) from None
    x = jnp.asarray(t) / tau_s  # (in JAX: an overflow is inf, not numpy's RuntimeWarning)
    if n == 0:
        pos = x >= 0
        x_safe = jnp.where(pos, x, jnp.zeros_like(x))
        h = jnp.where(pos, jnp.exp(-x_safe) / tau_s, jnp.zeros_like(x_safe))
    else:
        pos = (x > 0) & (x < jnp.inf)  # h(inf) = 0, the limit (n log x - x would be inf - inf)
        x_safe = jnp.where(pos, x, jnp.ones_like(x))
        log_h = n * jnp.log(x_safe) - x_safe - gammaln(jnp.asarray(n + 1.0, x_safe.dtype))
        h = jnp.where(pos, jnp.exp(log_h) / tau_s, jnp.zeros_like(x_safe))
    return jnp.where(jnp.isnan(x), x, h)  # NaN in, NaN out (not a silent 0)


class PSCKernel(eqx.Module):
    """A PSC kernel as a callable module: ``PSCKernel(tau_s, n)(t) == psc_kernel(t, tau_s, n)``.

    Named presets follow the notes (ch. 1.6): ``PSCKernel.fast()`` (AMPA-like,
    ``tau_s = FAST_SYNAPSE_TAU_S = 10 ms``) and ``PSCKernel.slow()`` (NMDA-like,
    ``tau_s = SLOW_SYNAPSE_TAU_S = 300 ms``); see those constants for the sources.

    Attributes:
        tau_s: synaptic time constant in s (> 0).
        n: kernel order, an integer >= 0 (static).
    """

    tau_s: Float[ParamArray, "*shape"] = eqx.field(converter=as_float_array)
    n: int = eqx.field(static=True, converter=static_number, default=0)

    fast_tau_s: ClassVar[float] = FAST_SYNAPSE_TAU_S
    slow_tau_s: ClassVar[float] = SLOW_SYNAPSE_TAU_S

    def __check_init__(self):
        check_order(self.n)
        if is_concrete(self.tau_s):
            check_positive("tau_s", self.tau_s, unit="s")

    @classmethod
    def fast(cls, n: int = 0) -> "PSCKernel":
        """The notes' fast, AMPA-like synapse: ``tau_s = 10 ms``."""
        return cls(FAST_SYNAPSE_TAU_S, n)

    @classmethod
    def slow(cls, n: int = 0) -> "PSCKernel":
        """The notes' slow, NMDA-like synapse: ``tau_s = 300 ms``."""
        return cls(SLOW_SYNAPSE_TAU_S, n)

    def __call__(self, t: Float[ArrayLike, "*batch"]) -> Float[Array, "*batch"]:
        """``h(t)`` in 1/s (``t`` in s since the spike)."""
        return psc_kernel(t, self.tau_s, self.n)

    @property
    def peak_time(self) -> Float[ParamArray, "*shape"] | np.floating:
        """Where ``h`` peaks: ``n tau_s`` (s); a numpy scalar for a concrete scalar ``tau_s``."""
        return self.n * self.tau_s

    def support(self, rtol: float = 1e-6) -> float:
        """A time (s) after which the kernel's remaining area is below ``rtol``: used to
        truncate the kernel on a grid.  Needs a concrete ``tau_s``.

        The tail area beyond ``T = c tau_s`` is the Poisson probability ``P(N <= n)`` with
        mean ``c``; ``c`` is found by doubling from ``n + 1``.
        """
        if not is_concrete(self.tau_s):
            raise ValueError("PSCKernel.support needs a concrete tau_s (it sets an array length).")
        return kernel_support(float(np.max(np.asarray(self.tau_s))), self.n, rtol)


def kernel_support(tau_s: float, n: int, rtol: float = 1e-6) -> float:
    """Smallest ``T = c tau_s`` (c found by halving-bisection to 1 %) with tail area
    ``int_T^inf h dt = e^-c sum_{k<=n} c^k/k! <= rtol``; see ``PSCKernel.support``."""
    n = check_order(n)
    if not (0.0 < rtol < 1.0):
        raise ValueError(f"rtol must be in (0, 1), got {rtol!r}.")

    def tail(c: float) -> float:
        return math.exp(-c) * sum(c**k / math.factorial(k) for k in range(n + 1))

    hi = float(n + 1)
    while tail(hi) > rtol:
        hi *= 2.0
    lo = 0.0
    while hi - lo > 0.01 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if tail(mid) > rtol else (lo, mid)
    return hi * tau_s


__all__ = ["FAST_SYNAPSE_TAU_S", "SLOW_SYNAPSE_TAU_S", "PSCKernel", "kernel_support", "psc_kernel"]

"""The soft LIF rate: the LIF tuning curve smoothed at threshold, for training with gradients.

Hunsberger & Eliasmith (2015) replace the hard rectification ``max(x, 0)`` inside the LIF
rate (notes ch. 1.4) by a softplus of width ``gamma``.  The result has a continuous,
strictly positive derivative everywhere, so a network of these units can be trained with
gradient descent and then run with the exact ``lif_rate`` (or spiking LIF neurons).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._misc import as_float_array, check_positive

# Below this value of x / gamma, log(softplus(u)) = u + log1p(-e^u / 2 + ...) equals u to
# within e^-20 / 2 ~ 1e-9 relative; computing it as log(log1p(e^u)) instead would reach
# log(0) = -inf (and a NaN gradient) once e^u underflows.
_LOG_SOFTPLUS_SWITCH = -20.0


def _log_softplus(u: ArrayLike) -> Array:
    """``log(log(1 + e^u))``, finite with a finite gradient for every finite ``u``."""
    u = jnp.asarray(u)
    small = u < _LOG_SOFTPLUS_SWITCH
    u_safe = jnp.where(small, jnp.zeros_like(u), u)
    return jnp.where(small, u, jnp.log(jax.nn.softplus(u_safe)))


def soft_lif_rate(
    v_in: Float[ArrayLike, "*#batch"],
    tau_m: Float[ArrayLike, "*#batch"] = 0.02,
    tau_ref: Float[ArrayLike, "*#batch"] = 0.002,
    *,
    gamma: Float[ArrayLike, "*#batch"] = 0.03,
) -> Float[Array, "*#batch"]:
    """Smoothed LIF firing rate in Hz (Hunsberger & Eliasmith, 2015).

        r(v_in) = 1 / (tau_ref + tau_m log(1 + 1 / rho(v_in - 1))),
        rho(x)  = gamma log(1 + e^(x / gamma))            (a softplus of width gamma).

    Since ``max(x, 0) <= rho(x) <= max(x, 0) + gamma ln 2`` and the rate increases with
    ``rho``, the soft rate is sandwiched by the exact one (``lif_rate``):

        lif_rate(v_in) <= soft_lif_rate(v_in) <= lif_rate(max(v_in, 1) + gamma ln 2),

    so it converges uniformly to ``lif_rate`` as ``gamma -> 0``, though slowly at threshold:
    the largest gap is at ``v_in = 1``, where it equals
    ``lif_rate(1 + gamma ln 2) ~ 1 / (tau_m ln(1 / (gamma ln 2)))`` (12.5 Hz for
    gamma = 0.03 and the default constants).  Unlike ``lif_rate`` it is
    positive below threshold and its derivative is continuous and positive everywhere.

    Numerics: ``log(1 + 1/rho)`` is ``log1p(1/rho)`` for ``rho >= 1`` and
    ``log1p(rho) - log(rho)`` below, with ``log(rho) = log(gamma) + log(softplus(x/gamma))``
    and ``log(softplus(u)) = u`` for ``u < -20``; the unselected branches are evaluated at
    safe points (double ``where``).  Value and gradient (in ``v_in``, ``tau_m``,
    ``tau_ref``, ``gamma``) are finite for every finite input, including far below
    threshold where ``e^(x/gamma)`` underflows.

    Args:
        v_in: normalised input (dimensionless; threshold 1).
        tau_m: membrane time constant in s (> 0).
        tau_ref: refractory period in s (> 0).
        gamma: smoothing width, in units of the normalised input (> 0).

    Returns:
        The rate in Hz, broadcast over the arguments; at most ``1 / tau_ref``.

    Raises:
        ValueError: if a concrete ``tau_m``, ``tau_ref`` or ``gamma`` is not positive and
            finite (traced values are checked at run time with ``eqx.error_if``).

    References:
        E. Hunsberger and C. Eliasmith (2015), "Spiking deep networks with LIF neurons",
        arXiv:1510.08829, eq. (3).
    """
    tau_m = check_positive("tau_m", as_float_array(tau_m), unit="s")
    tau_ref = check_positive("tau_ref", as_float_array(tau_ref), unit="s")
    gamma = check_positive("gamma", as_float_array(gamma))
    v_in = as_float_array(v_in)
    u = (v_in - 1.0) / gamma
    log_rho = jnp.log(gamma) + _log_softplus(u)
    rho = gamma * jax.nn.softplus(u)
    big = rho >= 1.0
    rho_big = jnp.where(big, rho, jnp.ones_like(rho))
    rho_small = jnp.where(big, jnp.full_like(rho, 0.5), rho)
    log_small = jnp.where(big, jnp.full_like(log_rho, jnp.log(0.5)), log_rho)
    log_ratio = jnp.where(big, jnp.log1p(1.0 / rho_big), jnp.log1p(rho_small) - log_small)
    return 1.0 / (log_ratio * tau_m + tau_ref)


__all__ = ["soft_lif_rate"]

"""The closed-form sub-threshold solution of a LIF neuron with an exponential synapse.

Between events (spikes, resets, releases from refractoriness) a neuron of the network in
``_lif_exact`` follows, with a constant drive ``J`` (normalised units, threshold 1; time in
seconds; ``u`` the time since a base point ``(v_0, s_0)``):

    tau_m dv/du = s + J - v,        tau_s ds/du = -s,

whose solution is

    s(u) = s_0 e^(-u/tau_s),
    v(u) = J + (v_0 - J) e^(-u/tau_m) + s_0 K(u),
    K(u) = tau_s/(tau_s - tau_m) (e^(-u/tau_s) - e^(-u/tau_m))
         = (u/tau_m) e^(-u/tau_m) phi1(a u),     a = 1/tau_m - 1/tau_s,  phi1(x) = (e^x - 1)/x.

``K`` is the voltage at ``u`` after ``s(0) = 1`` from ``v(0) = 0`` with no drive.  Its
difference form cancels catastrophically near ``tau_s = tau_m`` (where ``K`` tends to
``(u/tau_m) e^(-u/tau_m)``); for ``|a u| <= PHI1_SERIES`` it is evaluated through the Taylor
series of ``phi1`` instead, so that it is accurate at and near ``tau_s = tau_m``.  The
derivatives come from the ODE at no extra exponential: ``tau_m v' = s + J - v`` and
``tau_m v'' = -s/tau_s - v'``.

On top of it: the time at which ``v`` rises through the threshold 1 (``threshold_time``:
safeguarded Halley steps on the closed form, then a Newton step that carries the implicit
gradient), and the location and value of an interior maximum of ``v`` (``interior_max``:
Newton on ``v' = 0``).

Every function is elementwise: its array arguments broadcast together, and each result has
the broadcast shape of the arguments it depends on (arrays, numpy arrays or Python numbers:
``ArrayLike``).  Times (``u``, ``lo``, ``hi``, ``h``) are in s, rates (``inv_tm =
1/tau_m``, ``inv_ts = 1/tau_s``, ``a``) in 1/s, ``v``, ``s`` and ``J`` normalised.  The
functions are written for the time step of ``simulate_lif_network``: few XLA kernels (the
exponentials of a stage are stacked into one) and no division or branch that XLA cannot
fuse.

References:
    Rotter and Diesmann (1999), "Exact digital simulation of time-invariant linear systems
    with applications to neuronal modeling", Biol. Cybern. 81:381-402.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike

PHI1_SERIES = 0.1  # below this |a u|, (e^(a u) - 1)/(a u) from its Taylor series
NEWTON_ITERS = 1  # Halley steps from a 2nd-order start on an interval <= dt, then a Newton step: to rounding (tests)


def phi1(x: Array) -> Array:
    """``phi1(x) = (e^x - 1)/x`` (the reciprocal of ``jaxneuro._misc.exprel``) for ``|x| <=
    0.1``: the Taylor series ``sum_k x^k / (k+1)!`` to ``k = 10`` (truncation below 1e-17),
    exact at ``x = 0``, polynomial (no division, no branch) and so cheap and smooth.

    Args:
        x: dimensionless, any shape, ``|x| <= PHI1_SERIES``.

    Returns:
        ``phi1(x)``, the shape and dtype of ``x``.
    """
    out = jnp.ones_like(x) / 39916800.0  # 1/11!
    for k in range(10, 0, -1):
        out = out * x + 1.0 / math.factorial(k)
    return out


def decays(u: ArrayLike, inv_tm: ArrayLike, a: ArrayLike) -> tuple[Array, Array, Array]:
    """The decays over a time ``u``: ``e^(-u/tau_m)``, ``e^(-u/tau_s)`` and

        K(u) = (u/tau_m) e^(-u/tau_m) (e^(a u) - 1)/(a u) = tau_s/(tau_s - tau_m) (e^(-u/tau_s) - e^(-u/tau_m)),

    the voltage at ``u`` after ``s(0) = 1`` from ``v(0) = 0`` with no drive (``a = 1/tau_m -
    1/tau_s``).  The difference form cancels catastrophically near ``tau_s = tau_m``; for
    ``|a u| <= 0.1`` the series of ``(e^x - 1)/x`` is used instead (relative error below
    1e-15 on either side, and exact at ``tau_s = tau_m``).  Two exponentials (one XLA
    kernel) and a polynomial: cheaper than ``expm1`` and a division, which matters in the
    step.

    Args:
        u: time (s), >= 0 for decays (negative ``u`` gives the growth backwards).
        inv_tm: ``1/tau_m`` (1/s).
        a: ``1/tau_m - 1/tau_s`` (1/s).

    Returns:
        ``(e^(-u/tau_m), e^(-u/tau_s), K(u))``, each of the broadcast shape.
    """
    u, inv_tm, a = jnp.asarray(u), jnp.asarray(inv_tm), jnp.asarray(a)
    em, es = exps(-u * inv_tm, -u * (inv_tm - a))
    return em, es, k_from(u, em, es, inv_tm, a)


def exps(*xs: Array) -> list[Array]:
    """``e^x`` of each argument (broadcast together), computed by one XLA kernel: on the CPU a
    kernel costs some 0.1-0.3 us to launch, more than the exponentials of a few spikes.

    Returns:
        A list of ``len(xs)`` arrays of the broadcast shape.
    """
    return list(jnp.exp(jnp.stack(jnp.broadcast_arrays(*xs))))


def k_from(u: ArrayLike, em: Array, es: Array, inv_tm: ArrayLike, a: ArrayLike) -> Array:
    """``K(u)`` of ``decays`` from ``em = e^(-u/tau_m)`` and ``es = e^(-u/tau_s)``: ``(es -
    em)/(a tau_m)`` for ``|a u| > PHI1_SERIES``, else ``(u/tau_m) em phi1(a u)``.

    Args:
        u: time (s); ``em``, ``es``: the decays over ``u``; ``inv_tm = 1/tau_m``, ``a =
            1/tau_m - 1/tau_s`` (1/s).

    Returns:
        ``K(u)`` (dimensionless), of the broadcast shape.
    """
    x = a * u
    small = jnp.abs(x) <= PHI1_SERIES
    a_safe = jnp.where(a == 0, 1.0, a)
    k_diff = (es - em) / a_safe * inv_tm
    k_series = u * inv_tm * em * phi1(jnp.clip(x, -PHI1_SERIES, PHI1_SERIES))
    return jnp.where(small, k_series, k_diff)


def kresp(u: ArrayLike, inv_tm: ArrayLike, a: ArrayLike) -> Array:
    """``K(u)`` of ``decays`` (the third of its results)."""
    return decays(u, inv_tm, a)[2]


def free_response(u, vb, sb, J, inv_tm, inv_ts, a):
    """The state a time ``u`` after a base point ``(vb, sb)`` of free evolution under a
    constant drive ``J``:

        v = J + (vb - J) e^(-u/tau_m) + sb K(u),   s = sb e^(-u/tau_s),   dv/du = (s + J - v)/tau_m.

    Args:
        u: time since the base point (s); ``vb``, ``sb``, ``J``: the voltage and synaptic
            current at the base point and the drive (normalised); ``inv_tm = 1/tau_m``,
            ``inv_ts = 1/tau_s`` (unused: ``e^(-u/tau_s)`` is computed from ``inv_tm - a``,
            kept for a uniform signature), ``a = 1/tau_m - 1/tau_s`` (1/s).

    Returns:
        ``(v, s, dv/du)`` (``dv/du`` in 1/s): ``v`` and ``dv/du`` of the shape of all the
        arguments broadcast, ``s`` of ``u``, ``sb``, ``inv_tm`` and ``a`` broadcast.
    """
    em, es, k = decays(u, inv_tm, a)
    v = J + (vb - J) * em + sb * k
    s = sb * es
    return v, s, (s + J - v) * inv_tm


def threshold_time(lo, hi, vb, sb, J, inv_tm, inv_ts, a):
    """The ``u`` in ``[lo, hi]`` where ``v(u) = 1`` (``v`` of ``free_response`` from ``(vb,
    sb)`` at ``u = 0`` under drive ``J``; ``0`` is ``lo`` or ``hi``), for ``v`` rising through
    1 once in the interval; ``lo`` itself when already ``v(lo) >= 1`` and ``lo != 0`` (no
    bracket).

    Start: the root of the second-order Taylor polynomial of ``v`` at ``u = 0`` (error
    O(h^3) on an interval of length ``h <= dt``); then ``NEWTON_ITERS`` safeguarded Halley
    steps (third order, ``v''`` from the ODE, ``tau_m v'' = -s/tau_s - v'``, at no extra
    exponential; bisection whenever a step leaves the bracket).  The iterations are not
    traced for gradients; a last Newton step is, so that the gradient is the implicit one,
    ``du = -dv / v'``.  Each step evaluates the closed form (two exponentials): on the CPU
    each is a few kernel launches, so their number is kept to what the tests show converges
    to rounding.

    Args:
        lo, hi: the bracket (s), ``lo <= 0 <= hi`` with ``lo = 0`` or ``hi = 0``.
        vb, sb, J: voltage and synaptic current at ``u = 0`` and the drive (normalised).
        inv_tm, inv_ts, a: ``1/tau_m``, ``1/tau_s``, ``1/tau_m - 1/tau_s`` (1/s).

    Returns:
        The crossing time ``u`` (s), of the broadcast shape.
    """
    sg = lax.stop_gradient
    args = tuple(sg(x) for x in (vb, sb, J, inv_tm, inv_ts, a))
    vb_, sb_, J_, itm, its, _ = args
    lo, hi = sg(lo), sg(hi)
    lo0 = lo
    f0 = vb_ - 1.0
    d1 = (sb_ + J_ - vb_) * itm  # v'(0)
    d2 = (-sb_ * its - d1) * itm  # v''(0)
    den = d1 + jnp.sqrt(jnp.maximum(d1 * d1 - 2.0 * d2 * f0, 0.0))
    ok = den > 0
    u = jnp.where(ok, -2.0 * f0 / jnp.where(ok, den, 1.0), 0.5 * (lo + hi))
    u = jnp.clip(u, lo, hi)
    for it in range(NEWTON_ITERS):
        if it == 0:  # v at lo (is there a bracket?) with the first iterate: one set of exponentials
            v2, s2, dv2 = free_response(jnp.stack([lo0, u]), *args)
            bracket = (v2[0] < 1.0) | (lo0 == 0.0)
            v, s_u, dv = v2[1], s2[1], dv2[1]
        else:
            v, s_u, dv = free_response(u, *args)
        f = v - 1.0
        lo = jnp.where(f < 0, u, lo)
        hi = jnp.where(f >= 0, u, hi)
        # Halley's step (third order; v'' from the ODE, tau_m v'' = -s/tau_s - v', at no cost)
        d2v = (-s_u * its - dv) * itm
        den = 2.0 * dv * dv - f * d2v
        ok = (dv > 0) & (den > 0)
        un = u - 2.0 * f * dv / jnp.where(ok, den, 1.0)
        u = jnp.where(ok & (un >= lo) & (un <= hi), un, 0.5 * (lo + hi))
    u = sg(jnp.where(bracket, u, lo))
    v, _, dv = free_response(u, vb, sb, J, inv_tm, inv_ts, a)
    ok = bracket & (dv > 0)
    return u - jnp.where(ok, (v - 1.0) / jnp.where(ok, dv, 1.0), 0.0)


def interior_max(h, vb, sb, J, inv_tm, inv_ts, a):
    """Where ``v`` (of ``free_response`` from ``(vb, sb)`` under drive ``J``) peaks inside
    ``(0, h)``, given ``v'(0) > 0 > v'(h)``, and the peak value.

    ``g = tau_m v' = s + J - v`` has one zero there: two Newton steps on ``g`` (``g' =
    -s/tau_s - g/tau_m``) from the zero of its linear interpolation between the ends, each
    clipped to ``[0, h]``.  The peak value is insensitive to the error of its location (``v'
    = 0`` there).

    Args:
        h: the length of the interval (s).
        vb, sb, J: voltage and synaptic current at ``u = 0`` and the drive (normalised).
        inv_tm, inv_ts, a: ``1/tau_m``, ``1/tau_s``, ``1/tau_m - 1/tau_s`` (1/s).

    Returns:
        ``(u, v(u))``: the location (s) and value of the maximum, each of the broadcast shape.
    """
    g0 = sb + J - vb
    _, _, d1 = free_response(h, vb, sb, J, inv_tm, inv_ts, a)
    g1 = d1 / inv_tm
    den = g0 - g1
    u = h * jnp.clip(g0 / jnp.where(den > 0, den, 1.0), 0.0, 1.0)
    for _ in range(2):
        v, s, dv = free_response(u, vb, sb, J, inv_tm, inv_ts, a)
        g = dv / inv_tm
        gp = -s * inv_ts - g * inv_tm
        u = jnp.clip(u - g / jnp.where(gp < 0, gp, -1.0), 0.0, h)
    return u, free_response(u, vb, sb, J, inv_tm, inv_ts, a)[0]

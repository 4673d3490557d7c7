"""Binomial counts for Poisson inputs, fast on the CPU for the small means a step holds.

A ``PoissonInput`` of ``n`` sources at rate ``r`` delivers Binomial(``n``, ``r dt``) spikes to each
target in each step: thousands of draws per step with a mean of a few.  ``jax.random.binomial``
(a rejection sampler) costs some 50 ns per draw on the CPU; inversion of the distribution
function costs a uniform and a short loop:

    k = min{k : u <= F(k)},   F(k) = sum_{j <= k} C(n, j) p^j (1 - p)^(n - j),

with the terms by the recurrence ``P(j + 1) = P(j) (n - j)/(j + 1) p/(1 - p)`` from
``P(0) = (1 - p)^n`` (``exp(n log1p(-p))``).  When the mean is known at trace time, the first
``mean + 8 sd + 8`` terms are unrolled into one elementwise computation (``k`` = the number of
``F(j)`` below ``u``), and a loop continues only in the rare step where some draw lies beyond
them (probability about 1e-12 per draw); otherwise the loop runs from ``k = 0``.  The loop
takes one iteration per value of ``k`` reached by any target and never more than ``n``: it is
bounded.  Exact up to the rounding of ``F`` (a relative 1e-7 in float32,
so only probabilities below that are misplaced).  For a mean above ``INVERSION_MAX_MEAN`` the
loop would be long and ``jax.random.binomial`` is used.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import RealScalarLike

INVERSION_MAX_MEAN = 30.0


def binomial_counts(
    key: PRNGKeyArray, n: int, p: RealScalarLike, shape: tuple[int, ...], dtype
) -> Float[Array, "*shape"]:
    """Draws from Binomial(``n``, ``p``) of ``shape`` (``n`` a static int, ``0 <= p <= 1``).

    Inversion (module docstring) when the mean ``n p`` is at most ``INVERSION_MAX_MEAN``;
    when ``p`` is traced (its mean unknown at trace time), inversion for ``n <= 1000`` and
    ``jax.random.binomial`` above.
    """
    p = jnp.asarray(p, dtype)
    mean = None
    try:
        mean = float(n * p)
    except (TypeError, jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        pass
    if (mean is not None and mean > INVERSION_MAX_MEAN) or (mean is None and n > 1000):
        return jax.random.binomial(key, n, p, shape, dtype)
    u = jax.random.uniform(key, shape, dtype)
    q = jnp.where(p < 1, p / (1 - p), 0.0)
    first = jnp.exp(n * jnp.log1p(-jnp.minimum(p, 1.0)))  # P(0) = (1 - p)^n
    nf = jnp.asarray(n, dtype)
    k0 = jnp.zeros((), dtype)
    prob, cdf, out = jnp.broadcast_to(first, shape), jnp.broadcast_to(first, shape), jnp.zeros(shape, dtype)
    if mean is not None:  # the likely values unrolled: out = #{j < terms : F(j) < u}
        terms = min(n, int(mean + 8.0 * mean**0.5 + 8.0))
        prob_j, cdf_j = first, first
        for j in range(terms):
            out = out + (u > cdf_j).astype(dtype)
            prob_j = prob_j * (n - j) / (j + 1) * q
            cdf_j = cdf_j + prob_j
        k0 = jnp.asarray(terms, dtype)
        prob, cdf = jnp.broadcast_to(prob_j, shape), jnp.broadcast_to(cdf_j, shape)

    def more(c):
        k, _, cdf, _ = c
        return jnp.any((u > cdf) & (k < nf))

    def step(c):
        k, prob, cdf, out = c
        go = (u > cdf) & (k < nf)
        prob = prob * (nf - k) / (k + 1) * q
        k = k + 1
        return k, prob, cdf + prob, jnp.where(go, k, out)

    out = lax.while_loop(more, step, (k0, prob, cdf, out))[3]
    return jnp.where(p >= 1, nf, out)


__all__ = ["INVERSION_MAX_MEAN", "binomial_counts"]

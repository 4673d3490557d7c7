"""Counter-based standard normal numbers for the white-noise current of LIF networks.

A population with ``noise = sigma`` receives the current ``sigma sqrt(tau_m) xi(t)`` (white
noise, ``<xi(t) xi(t')> = delta(t - t')``), realised in ``_lif_exact`` as ``sigma
sqrt(tau_m/dt) z_(k,i)`` held over step ``k`` for neuron ``i``, with ``z_(k,i)`` independent
standard normal numbers.  They are drawn here as a pure function of ``(key, k, i)``, not from
a sequential stream, so that a step's numbers are the same whatever block of steps they are
drawn in (a run split in two draws the same noise as one run), and cheaply: about 1 ns per
number on one CPU core, against some 15 ns for ``jax.random.normal``.

For each pair of neurons ``(p, p + ceil(n/2))`` and step ``k``, two 32-bit words ``A`` and
``B`` are hashed (``hash32``) from a per-pair hashed counter plus a per-step hashed offset,
and Box-Muller turns them into two independent standard normals:

    u_1 = (bits 8-31 of A + 1/2) 2^-24 in (0, 1),      r = sqrt(-2 log u_1),
    theta = (bits 0-23 of B 2^-24 - 1/2) pi/2 in [-pi/4, pi/4),
    (x, y) = (r cos theta, r sin theta), then swapped (bit 31 of B) and negated (bits 30, 29),

the 8 symmetries of the square mapping that quarter of the circle onto the whole of it, so
that the angle is uniform on the circle.  The 24-bit uniforms cut the tails at
``sqrt(50 log 2) = 5.89`` standard deviations (probability 4e-9).

References:
    C. Wellons (2018), "Hash function prospector" (the ``lowbias32`` hash).  G. E. P. Box and
    M. E. Muller (1958), "A note on the generation of random normal deviates", Ann. Math.
    Stat. 29:610-611.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int

from .._custom_types import ParamArray


def hash32(x: Array) -> Array:
    """A 32-bit integer hash with full avalanche (``lowbias32``, C. Wellons, "Hash function
    prospector", 2018): the core of a counter-based generator, cheap and vectorised.

        x ^= x >> 16;  x *= 0x7FEB352D;  x ^= x >> 15;  x *= 0x846CA68B;  x ^= x >> 16  (mod 2^32)

    Args:
        x: ``uint32``, any shape.

    Returns:
        The hashes, ``uint32`` of the shape of ``x``.
    """
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def sincos_quarter(theta: Array, dtype) -> tuple[Array, Array]:
    """``(cos theta, sin theta)`` for ``|theta| <= pi/4`` from their Taylor polynomials,
    truncated where the next term is below the rounding of ``dtype`` (float32: to
    ``theta^9`` and ``theta^8``, error below 3e-8; float64: to ``theta^17`` and ``theta^18``,
    below 1e-17).  XLA's general ``sin``/``cos`` are several times slower on the CPU.

    Args:
        theta: angle (rad), any shape, of dtype ``dtype``.
        dtype: the floating dtype, which sets the degree of the polynomials.

    Returns:
        ``(cos theta, sin theta)``, each of the shape of ``theta``.
    """
    n_sin, n_cos = (5, 5) if jnp.dtype(dtype).itemsize <= 4 else (9, 10)
    t2 = theta * theta
    s = jnp.zeros_like(theta)
    for k in range(n_sin - 1, -1, -1):  # sum_k (-1)^k th^(2k+1) / (2k+1)!
        s = s * t2 + (-1.0) ** k / math.factorial(2 * k + 1)
    c = jnp.zeros_like(theta)
    for k in range(n_cos - 1, -1, -1):  # sum_k (-1)^k th^(2k) / (2k)!
        c = c * t2 + (-1.0) ** k / math.factorial(2 * k)
    return c, s * theta


def normal_seeds(key_bits: Array, n: int) -> Array:
    """Per pair of neurons, two hashed counters from the 2 words of ``key_bits``: hashing the
    neuron index first keeps the streams of different time steps from overlapping as shifted
    copies (as plain counters ``index + step offset`` would).

    Args:
        key_bits: ``uint32``, shape ``(2,)`` (e.g. ``jax.random.bits(key, (2,), jnp.uint32)``).
        n: number of neurons (static).

    Returns:
        ``uint32``, shape ``(2, ceil(n/2))``: the ``pairs`` argument of ``normals``.
    """
    i = jnp.arange((n + 1) // 2, dtype=jnp.uint32)
    ha = hash32(i ^ key_bits[1])
    return jnp.stack([ha, hash32(ha ^ jnp.uint32(0x5BD1E995))])


def normals(
    seeds: Array, steps: Int[ParamArray, " L"], n: int, dtype, pairs: Array | None = None
) -> Float[Array, "L n"]:
    """Standard normal numbers for ``n`` neurons at each of the time steps ``steps``.

    Box-Muller on a pair of 32-bit hashes per pair of neurons and step (module docstring):
    ``u1`` from 24 bits gives the radius ``sqrt(-2 log u1)``; the other word gives an angle
    ``theta`` uniform in ``[-pi/4, pi/4)`` (24 bits) and three bits that swap and negate
    ``(cos theta, sin theta)``.  Neuron ``p`` of the first half gets ``r cos``, neuron ``p``
    of the second half ``r sin``.  Independent across steps and neurons, reproducible from
    the key, the same whatever block of steps they are drawn in.

    Args:
        seeds: ``uint32``, shape ``(2,)``: the key's bits (word 0 offsets the steps, word 1
            the neurons).
        steps: the step indices, integer, shape ``(L,)``.
        n: number of neurons (static).
        dtype: floating dtype of the result.
        pairs: ``normal_seeds(seeds, n)``, when already computed.

    Returns:
        Shape ``(L, n)``: row ``l`` holds the numbers of step ``steps[l]``.
    """
    if pairs is None:
        pairs = normal_seeds(seeds, n)
    base = hash32(steps.astype(jnp.uint32) * jnp.uint32(0x9E3779B9) + seeds[0])[:, None]
    a = hash32(pairs[0][None, :] + base)
    b = hash32(pairs[1][None, :] + (base ^ jnp.uint32(0x27D4EB2F)))
    u1 = ((a >> 8).astype(jnp.int32).astype(dtype) + 0.5) * 2.0**-24  # in (0, 1)
    theta = ((b & jnp.uint32(0xFFFFFF)).astype(jnp.int32).astype(dtype) * 2.0**-24 - 0.5) * (0.5 * np.pi)
    r = jnp.sqrt(-2.0 * jnp.log(u1))
    c, s = sincos_quarter(theta, dtype)
    swap = (b >> 31) == 1
    x = jnp.where(swap, s, c) * r
    y = jnp.where(swap, c, s) * r
    x = jnp.where(((b >> 30) & 1) == 1, -x, x)
    y = jnp.where(((b >> 29) & 1) == 1, -y, y)
    x, y = lax.optimization_barrier((x, y))  # once per pair, not once per output element
    return jnp.concatenate([x, y], axis=1)[:, :n]

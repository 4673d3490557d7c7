"""Finding the few ones of a long 0/1 vector in time proportional to their number.

A network step must list the neurons that spiked, a handful out of thousands or millions.
``jnp.nonzero`` (a cumulative sum and a scatter over all ``n``) costs some 9 ns per neuron
on the CPU, ``lax.top_k`` more; packing the vector into 32-bit words (a vectorised
reduction, about 1 ns per neuron) and reading the set bits with bit tricks costs O(n/32)
plus a few operations per one (measured in ``tests/test_network_general.py``'s companion
benchmark, ``benchmarks/networks.py``).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int


def bitmap(m: Float[Array, " n"] | Bool[Array, " n"]) -> tuple[Array, Array, Array, Array]:
    """The 1s of a 0/1 vector ``m`` as a two-level bitmap (``uint32``): with ``nb =
    ceil(n/32)`` words, bit ``i`` of ``words[b]`` is set where ``m[b + i nb] = 1`` (packed down
    the columns of ``m`` seen as ``(32, nb)``: a vertical, vectorised reduction), and bit
    ``j`` of ``top[c]`` where ``words[32 c + j] != 0``.  With it the ones are found in time
    proportional to their number, not to ``n``.  Returns the start state of ``next_ones``,
    ``(words, top, 0, 0)``."""
    n = m.shape[0]
    nb = -(-n // 32)
    # 32 contiguous slices or'ed together: one vectorised pass.  Written as a reduction over
    # axis 0 of ``(32, nb)``, XLA fuses the producer of ``m`` (a network's neuron update) into
    # a column reduction it vectorises with strided per-lane loads: 1.2 ns per neuron, a third
    # of a CUBA step at 16,000 neurons (benchmarks/README.md, "delivery of arrivals").
    bits = jnp.pad(m != 0, (0, 32 * nb - n))
    words = bits[:nb].astype(jnp.uint32)
    for i in range(1, 32):
        words = words | (bits[i * nb : (i + 1) * nb].astype(jnp.uint32) << i)
    nw = -(-nb // 32)
    nonzero = jnp.pad((words != 0).astype(jnp.uint32), (0, 32 * nw - nb)).reshape(nw, 32)
    top = jnp.sum(nonzero << jnp.arange(32, dtype=jnp.uint32), axis=1, dtype=jnp.uint32)
    return words, top, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.uint32)


def low_bit(x: Array) -> tuple[Array, Array]:
    """The lowest set bit of a nonzero ``uint32`` and its position (``int32``)."""
    lb = x & (~x + jnp.uint32(1))
    return lb, 31 - lax.clz(lb).astype(jnp.int32)


def next_ones(state: tuple[Array, Array, Array, Array], k: int) -> tuple[Int[Array, " k"], Array, tuple]:
    """The positions of the next (up to) ``k`` ones of a ``bitmap``, word by word and bit
    by bit within a word (position ``b + i nb`` for bit ``i`` of word ``b``): a fixed order,
    not an increasing one.

    ``state = (words, top, w, x)``: the bitmap with the words already visited cleared from
    ``top``, the word ``w`` being read and its bits ``x`` not yet taken (start: ``bitmap``).
    Returns the positions (padded with 0; all below ``n``: padding bits are never set), how
    many were found and the state to continue from.  A loop over the ones found (a few per
    time step), with no scatter or sort (``lax.top_k`` and scatters are calls XLA cannot
    compile into a loop's kernel)."""
    words, top, w, x = state

    def body(c):
        j, idx, top, w, x = c

        def refill(top, w, x):
            c2 = jnp.argmax(top != 0).astype(jnp.int32)
            lb, pos = low_bit(top[c2])
            w = 32 * c2 + pos
            return lax.dynamic_update_index_in_dim(top, top[c2] ^ lb, c2, 0), w, words[w]

        top, w, x = lax.cond(x == 0, refill, lambda *a: a, top, w, x)
        lb, pos = low_bit(x)
        return j + 1, lax.dynamic_update_index_in_dim(idx, w + pos * words.shape[0], j, 0), top, w, x ^ lb

    def more(c):
        j, _, top, _, x = c
        return (j < k) & ((x != 0) | jnp.any(top != 0))

    j, idx, top, w, x = lax.while_loop(more, body, (jnp.zeros((), jnp.int32), jnp.zeros(k, jnp.int32), top, w, x))
    return idx, j, (words, top, w, x)


def for_each_one(m: Array, body, carry):
    """``carry = body(i, carry)`` for every ``i`` with ``m[i] != 0`` (in ``next_ones``'s
    order): one iteration of one loop per one, the next word found without a branch."""
    words, top, w, x = bitmap(m)
    nb = words.shape[0]

    def step(c):
        top, w, x, carry = c
        empty = x == 0
        c2 = jnp.argmax(top != 0).astype(jnp.int32)
        lbt, post = low_bit(top[c2])
        w_new = 32 * c2 + post
        top = jnp.where(empty, lax.dynamic_update_index_in_dim(top, top[c2] ^ lbt, c2, 0), top)
        w = jnp.where(empty, w_new, w)
        x = jnp.where(empty, words[w_new], x)
        lb, pos = low_bit(x)
        return top, w, x ^ lb, body(w + pos * nb, carry)

    def more(c):
        top, _, x, _ = c
        return (x != 0) | jnp.any(top != 0)

    return lax.while_loop(more, step, (top, w, x, carry))[3]


def has_more(state: tuple[Array, Array, Array, Array]) -> Array:
    """Whether ones remain to be read from a ``next_ones`` state."""
    _, top, _, x = state
    return (x != 0) | jnp.any(top != 0)


__all__ = ["bitmap", "for_each_one", "has_more", "low_bit", "next_ones"]

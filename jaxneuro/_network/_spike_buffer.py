"""The spike-time buffer of a network run: per neuron a row of ``capacity`` spike times and,
in a last column, the neuron's spike count (an integer whose bits are stored as a float), so
that counts beyond the capacity are kept and no per-step counter is carried."""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array


def _count_type(times: Array):
    """The integer type whose bits a spike counter shares with a ``times`` element."""
    return jnp.int32 if times.dtype.itemsize == 4 else jnp.int64


def record_spike(times: Array, j: Array, t: Array) -> Array:
    """Spike time ``t`` of neuron ``j`` into its row of ``times``, ``(n, capacity + 1)``: the
    row's last element holds the neuron's spike count (an integer, its bits stored as a float),
    the time goes to the column of that count (none once the row is full), the count goes up
    by one.  So no per-step spike counter is carried: counts are read from the buffer at the end."""
    cap = times.shape[1] - 1
    count = lax.bitcast_convert_type(times[j, cap], _count_type(times))
    col = jnp.where(count < cap, count, cap + 1)  # a full row: no time (dropped)
    new = jnp.stack([t, lax.bitcast_convert_type(count + 1, times.dtype)])
    # The two columns differ (col is never cap), and saying so keeps jax.jvp exact: for a
    # scatter whose indices may repeat, JAX's forward-mode rule rebuilds the result by masking
    # and adding, and XLA's CPU flushes denormals, which is what a small count's bits are as a
    # float: every count read back as 0 and each spike overwrote the first column.
    return times.at[j, jnp.stack([col, cap])].set(new, mode="drop", unique_indices=True)


def counted(times: Array) -> tuple[Array, Array]:
    """``(spike times (n, capacity), spike counts)`` from a buffer written by ``record_spike``."""
    counts = lax.bitcast_convert_type(times[:, -1], _count_type(times)).astype(jnp.int32)
    return times[:, :-1], counts


__all__ = ["counted", "record_spike"]

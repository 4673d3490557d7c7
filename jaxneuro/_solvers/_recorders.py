"""Recorders: what a solver keeps of the spikes it finds, passed to the one solver loop.

A solver calls ``recorder.record(state, spiked, t_spike, bin)`` for every step or event, with
``spiked`` a boolean mask and ``t_spike`` the spike times (elementwise: one neuron or a batch
of neurons with the same shape), and ``bin`` the index of the time bin when the solver knows it
for every lane at once (fixed-step solvers), else ``None`` (the bin is then read off
``t_spike``).  State traces are recorded by the solver itself at the requested ``ts``, since
only it knows its dense output.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PyTree

from .._misc import static_number
from .._spikes import SpikeTrain


class AbstractRecorder(eqx.Module):
    """Keeps a running summary of the spikes of one neuron (or an elementwise batch)."""

    @abc.abstractmethod
    def init(self, shape: tuple[int, ...], dtype: Any) -> PyTree:
        """The empty state for neurons of ``shape``."""

    @abc.abstractmethod
    def record(self, state: PyTree, spiked: Array, t_spike: Array, bin: Array | None = None) -> PyTree:
        """The state after the spikes at ``t_spike`` where ``spiked``."""

    def record_train(self, state: PyTree, first: Array, isi: Array, n: Array, max_spikes: int) -> PyTree:
        """The state after a regular train: ``n`` spikes at ``first + k isi``, ``k < n`` (the
        exact LIF under constant drive).  Default: one ``record`` per spike, in a loop bounded
        by ``max_spikes``; the built-in recorders write it in closed form."""

        def body(k, st):
            return self.record(st, k < n, first + k.astype(first.dtype) * isi, None)

        return jax.lax.fori_loop(0, max_spikes, body, state)


def record_spike(times: Array, count: Array, spiked: Array, t_spike: Array) -> tuple[Array, Array]:
    """Write ``t_spike`` at slot ``count`` where ``spiked``; never writes past the buffer."""
    cap = times.shape[-1]
    slot = jnp.minimum(count, cap - 1)
    current = jnp.take_along_axis(times, slot[..., None], axis=-1)[..., 0]
    keep = spiked & (count < cap)
    new = jnp.where(keep, t_spike, current)
    times = jnp.put_along_axis(times, slot[..., None], new[..., None], axis=-1, inplace=False)
    return times, count + spiked.astype(count.dtype)


class SpikeTimes(AbstractRecorder):
    """Every spike time, in a ``SpikeTrain`` buffer of ``capacity`` slots (the true count is
    kept beyond it, so an overflow is flagged, never hidden)."""

    capacity: int = eqx.field(static=True, converter=static_number)

    def init(self, shape, dtype):
        return jnp.full(tuple(shape) + (self.capacity,), jnp.inf, dtype), jnp.zeros(shape, jnp.int32)

    def record(self, state, spiked, t_spike, bin=None):
        times, count = state
        return record_spike(times, count, spiked, t_spike)

    def record_train(self, state, first, isi, n, max_spikes):
        times, count = state
        k = jnp.arange(self.capacity)
        slot = k - count[..., None]  # a train appended after the spikes already recorded
        new = (slot >= 0) & (slot < n[..., None])
        t = first[..., None] + jnp.maximum(slot, 0).astype(first.dtype) * isi[..., None]
        return jnp.where(new, t, times), count + n.astype(count.dtype)

    @staticmethod
    def result(state) -> SpikeTrain:
        return SpikeTrain(*state)


class StatsState(eqx.Module):
    """Running spike statistics: all spikes, those at or after the transient (count, first,
    last) and counts per bin (bins on axis 0)."""

    count: Int[Array, "*batch"]
    count_after: Int[Array, "*batch"]
    first_spike: Float[Array, "*batch"]
    last_spike: Float[Array, "*batch"]
    bins: Int[Array, " bins *batch"]


class SpikeStats(AbstractRecorder):
    """Counts, the first and last spike after ``transient`` (for the inter-spike-interval rate)
    and counts in ``n_bins`` bins of ``bin_width`` from ``t0``; memory O(bins), whatever the
    duration."""

    transient: Float[Array, ""]
    t0: Float[Array, ""]
    bin_width: float = eqx.field(static=True, converter=static_number, default=1.0)
    n_bins: int = eqx.field(static=True, converter=static_number, default=0)

    def init(self, shape, dtype):
        shape = tuple(shape)
        zeros = jnp.zeros(shape, jnp.int32)
        return StatsState(
            zeros,
            zeros,
            jnp.full(shape, jnp.nan, dtype),
            jnp.full(shape, -jnp.inf, dtype),
            jnp.zeros((self.n_bins,) + shape, jnp.int32),
        )

    def record(self, state, spiked, t_spike, bin=None):
        after = spiked & (t_spike >= self.transient)
        first = jnp.where(after & (state.count_after == 0), t_spike, state.first_spike)
        last = jnp.where(after, t_spike, state.last_spike)
        bins = state.bins
        if self.n_bins:
            if bin is None:
                k = jnp.floor((t_spike - self.t0) / self.bin_width).astype(jnp.int32)
                k = jnp.clip(k, 0, self.n_bins - 1)
                onehot = (jnp.arange(self.n_bins).reshape((-1,) + (1,) * k.ndim) == k) & spiked
                bins = bins + onehot.astype(bins.dtype)
            else:
                row = jax.lax.dynamic_index_in_dim(bins, bin, 0, keepdims=False)
                bins = jax.lax.dynamic_update_index_in_dim(bins, row + spiked.astype(bins.dtype), bin, 0)
        one = spiked.astype(jnp.int32)
        return StatsState(state.count + one, state.count_after + after.astype(jnp.int32), first, last, bins)

    def record_train(self, state, first, isi, n, max_spikes):
        def spikes_before(t):  # how many of the train fall before t
            k = jnp.ceil((t - first) / jnp.where(jnp.isfinite(isi), isi, 1.0))
            return jnp.clip(jnp.where(t > first, k, 0.0), 0, n).astype(jnp.int32)

        skipped = spikes_before(self.transient)
        after = n - skipped
        t_first = first + skipped.astype(first.dtype) * isi
        t_last = first + (n - 1).astype(first.dtype) * isi
        none_before = state.count_after == 0
        bins = state.bins
        if self.n_bins:
            edges = self.t0 + self.bin_width * jnp.arange(self.n_bins + 1, dtype=first.dtype)
            below = jax.vmap(spikes_before)(edges.reshape((-1,) + (1,) * first.ndim))
            bins = bins + (below[1:] - below[:-1])
        return StatsState(
            state.count + n.astype(jnp.int32),
            state.count_after + after,
            jnp.where(none_before & (after > 0), t_first, state.first_spike),
            jnp.where(after > 0, t_last, state.last_spike),
            bins,
        )


__all__ = ["AbstractRecorder", "SpikeTimes", "SpikeStats", "StatsState", "record_spike"]

"""Spike trains with a fixed capacity, so that they live happily inside ``jit`` and ``vmap``."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int


class SpikeTrain(eqx.Module):
    """Spike times of one neuron (or a batch, with leading axes), in a fixed-capacity buffer.

    Attributes:
        times: spike times, sorted, in the simulation's time unit; slots past ``count``
            hold ``inf``.  Shape ``(*batch, capacity)``.
        count: number of spikes that occurred, shape ``(*batch,)``.  It may exceed the
            capacity: then ``overflow`` is True and only the first ``capacity`` are stored.
    """

    times: Float[Array, "*batch capacity"]
    count: Int[Array, "*batch"]

    @property
    def capacity(self) -> int:
        return self.times.shape[-1]

    @property
    def overflow(self) -> Bool[Array, "*batch"]:
        """True where more spikes occurred than the buffer holds."""
        return self.count > self.capacity

    @property
    def mask(self) -> Bool[Array, "*batch capacity"]:
        """True for the slots that hold a spike."""
        return jnp.arange(self.capacity) < self.count[..., None]


__all__ = ["SpikeTrain"]

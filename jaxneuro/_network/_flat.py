"""One spike loop for every source population of a network step (``FlatLoop``): where every
projection delivered by the loop adds straight into a synaptic state of one row per target
(current and conductance synapses without delay) and the network is small, the states of those
projections lie side by side in one vector and each spike is one gather and one scatter into
all of its projections, instead of one loop per population and one scatter per projection.  At
1,000-4,000 neurons the step's cost is the number of XLA kernels it launches
(benchmarks/README.md, "CUBA at 1,000 neurons"); the per-population loop of ``_simulate`` is
the general case."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int

from ._bitmap import for_each_one
from ._connectivity import DenseStorage, SparseStorage
from ._model import Network
from ._spike_buffer import record_spike

FLAT_MAX_ENTRIES = 1 << 22
"""The largest table (sources x longest row) built for ``FlatLoop``: it is made in every run (a
copy of the projections' target tables); bigger networks spend their step on neurons and
scatters, not on launching kernels, and keep one loop per population."""


class FlatLoop(NamedTuple):
    """The spike loop of every source population as one loop, one scatter per spike.

    The synaptic states of the projections it delivers lie side by side in one vector of
    ``size`` (projection ``links[k]`` at ``offsets[k]``; carried through the run as the last
    element of ``RunState.synapses``, ``packed``), the sources one after another in one index
    (source ``sources[k]`` from ``starts[k]``), and ``table[g]`` holds the targets of source
    ``g`` in every projection from its population, shifted by their offsets (padding:
    ``size``, out of range, dropped).  So a step runs one loop, not one per population, and a
    spike one gather and one scatter, not one each per projection: at 1,000-4,000 neurons the
    step is the number of XLA kernels it launches (benchmarks/README.md, "CUBA at 1,000
    neurons")."""

    links: tuple[int, ...]
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]  # each projection's targets
    size: int
    sources: tuple[int, ...]
    starts: tuple[int, ...]
    table: Int[Array, "sources width"]
    weights: Float[Array, "_rows width"]  # per source population (every projection one weight), else per source
    per_synapse: bool  # whether ``weights`` has a row per source


def flat_plan(network: Network, storages, direct, sources, now, dtype) -> FlatLoop | None:
    """The ``FlatLoop`` layout, or ``None`` where a projection of the loop has a delay ring, a
    state of more than one row, procedural or dense storage, or the table would be large
    (those keep one loop per population)."""
    pops = network.populations
    mine = [
        [i for i in now if network.links[i].pre == p and not isinstance(storages[i], DenseStorage)] for p in sources
    ]
    links = [i for m in mine for i in m]
    for i in links:
        n_post = pops[network.links[i].post].size
        if (
            not isinstance(storages[i], SparseStorage)
            or direct[i] is None
            or network.links[i].synapse.init(n_post, dtype).shape != (n_post,)
        ):
            return None
    if not sources:
        return None
    sizes = [pops[network.links[i].post].size for i in links]
    offsets = np.cumsum([0, *sizes]).tolist()
    size = offsets[-1]
    width = max([sum(storages[i].targets.shape[1] for i in m) for m in mine] + [1])
    n_src = sum(pops[p].size for p in sources)
    if n_src * width > FLAT_MAX_ENTRIES:
        return None
    one_weight = all(jnp.ndim(storages[i].weight) == 0 for i in links)
    tables, weights = [], []
    for p, m in zip(sources, mine, strict=True):
        n = pops[p].size
        segs, ws = [], []
        for i in m:
            st, q = storages[i], links.index(i)
            segs.append(jnp.where(st.targets < sizes[q], st.targets + offsets[q], size).astype(jnp.int32))
            w = jnp.asarray(st.weight, dtype) * direct[i]
            ws.append(jnp.broadcast_to(w, st.targets.shape[1:] if one_weight else st.targets.shape).astype(dtype))
        fill = width - sum(x.shape[1] for x in segs)
        tables.append(jnp.concatenate([*segs, jnp.full((n, fill), size, jnp.int32)], axis=1))
        weights.append(jnp.concatenate([*ws, jnp.zeros(((fill,) if one_weight else (n, fill)), dtype)], axis=-1))
    return FlatLoop(
        links=tuple(links),
        offsets=tuple(offsets[:-1]),
        sizes=tuple(sizes),
        size=size,
        sources=tuple(sources),
        starts=tuple(np.cumsum([0] + [pops[p].size for p in sources])[:-1].tolist()),
        table=jnp.concatenate(tables),
        weights=jnp.stack(weights) if one_weight else jnp.concatenate(weights),
        per_synapse=not one_weight,
    )


def packed(flat: FlatLoop | None, synapses: tuple) -> tuple:
    """``RunState.synapses`` as the step loop carries it: with ``flat``, the states of its
    projections in one vector (the last element; ``None`` in their places)."""
    if flat is None:
        return synapses
    state = jnp.concatenate([synapses[i] for i in flat.links]) if flat.links else jnp.zeros((0,))
    return tuple(None if i in flat.links else x for i, x in enumerate(synapses)) + (state,)


def unpacked(flat: FlatLoop | None, synapses: tuple) -> tuple:
    """Each projection's synaptic state (views of the vector of ``packed``)."""
    if flat is None:
        return synapses
    out = list(synapses[:-1])
    for i, off, n in zip(flat.links, flat.offsets, flat.sizes, strict=True):
        out[i] = synapses[-1][off : off + n]
    return tuple(out)


def deliver_flat(
    flat: FlatLoop, sizes: list[int], dtype, spiked: list, t_spk: list, time_of: list, syns: list, times: list
) -> Array:
    """The spike loop of ``flat`` (``sizes``: each population's): returns the projections'
    states (one vector) after the spikes of this step; ``times`` (one buffer for all
    populations, or ``None``) updated in place.  ``spiked``, ``t_spk``: each population's spikes
    and spike times; ``time_of``: per population ``None`` or a function giving the spike time of
    one of its neurons (used instead of ``t_spk``)."""
    state = jnp.concatenate([syns[i] for i in flat.links]) if flat.links else jnp.zeros((0,), dtype)
    one = len(flat.sources) == 1
    m = spiked[flat.sources[0]] if one else jnp.concatenate([spiked[p] for p in flat.sources])

    def spike_time(g) -> Array:  # of source g, from its population's ``time_of`` or its spike times
        out = jnp.zeros((), dtype)
        for k, p in enumerate(flat.sources):
            j = g if one else jnp.clip(g - flat.starts[k], 0, sizes[p] - 1)
            tk = time_of[p](j) if time_of[p] is not None else t_spk[p][j]
            out = tk if k == 0 else jnp.where(g >= flat.starts[k], tk, out)
        return out

    def body(g, c):
        state, tm = c
        if flat.links:
            if flat.per_synapse:
                w = flat.weights[g]
            else:  # the source's population: how many starts it is past
                k = sum((g >= s).astype(jnp.int32) for s in flat.starts[1:]) if not one else 0
                w = lax.dynamic_index_in_dim(flat.weights, k, 0, keepdims=False)
            state = state.at[flat.table[g]].add(w, mode="drop")
        if tm is not None:
            tm = record_spike(tm, g, spike_time(g))
        return state, tm

    state, times[0] = for_each_one(m, body, (state, times[0]))
    return state


__all__ = ["FLAT_MAX_ENTRIES", "FlatLoop", "deliver_flat", "flat_plan", "packed", "unpacked"]

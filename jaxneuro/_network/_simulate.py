"""Simulating a ``Network``: a clock-driven loop over steps of ``dt``, any neuron model.

One step from ``t`` to ``t + dt``, written from the equations (the order is Brian2's:
integrate, detect threshold crossings, propagate, reset):

1. Input.  Each neuron of a population receives the current

       I = drive(t) + sum_links a_l - (sum_links g_l) v,

   where every incoming projection (and Poisson input) contributes through its synapse's
   ``drive``: a current ``a`` (current synapses) or a conductance ``g`` and ``g E``
   (conductance synapses), averaged over the step.
2. Neurons.  The population's solver advances each neuron over the step with that input held
   (``update_with_input``); a neuron in its refractory period is held instead.
3. Spikes.  A neuron spikes when its ``spike_condition`` is >= 0 at the end of the step (and
   it is not refractory, and, for a neuron without reset, its detector is armed).  The spike
   time is placed inside the step by linear interpolation of the condition.  The neuron is
   reset, and held for the steps that start less than ``tau_ref`` after its step's start
   (Brian2's rule: the refractory period is counted in whole steps).  A reset that leaves
   the spike condition >= 0 is an error naming it after the run (``reset_check``).
4. Synapses.  Each synaptic state evolves freely over the step (``propagate``, exact).
5. Propagation.  One loop per source population runs over its spikes, one iteration per
   spike (found through a bitmap, ``_bitmap.for_each_one``, in time proportional to their
   number; no spike is ever dropped): each source adds its weights at its targets into the delay
   buffer of each projection from it, in the slot of step ``n + delay`` (a ring of
   ``max_delay/dt + 1`` rows).  Where every such projection adds straight into a synaptic
   state of one row per target and the network is small (``FlatLoop``), one loop runs over the
   spikes of all populations and each spike is one scatter into all of its projections'
   states, laid side by side; its spike time is then computed for it alone.
6. Arrivals.  The slot of step ``n`` is taken out of each buffer and handed to the synapse
   (``receive``): ``s += w`` for current and conductance synapses, ``v += w`` for delta
   synapses (not for refractory neurons).  Poisson inputs add ``w`` times a binomial count.

So an event at step ``n`` with delay ``d`` steps changes the state at the end of step
``n + d`` and acts on the neurons from step ``n + d + 1`` on (zero delay: the next step, as in
Brian2).  Work per step: O(neurons) for the update, O(spikes x fan-out) for propagation.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, PyTree

from .._misc import check_int, default_float, error_if_any, is_concrete, static_float
from .._solvers._base import reset_check, stuck_reset_message
from .._solvers._sensitivity import forward_sensitivities
from .._spikes import SpikeTrain, check_overflow
from ._binomial import binomial_counts
from ._bitmap import for_each_one
from ._connectivity import DenseStorage, SparseStorage
from ._flat import FlatLoop, deliver_flat, flat_plan, packed, unpacked
from ._lif_exact import NON_FINITE_NETWORK
from ._model import Network, PoissonPopulation, Population, SpikeSource
from ._spike_buffer import counted, record_spike

_DELAY_RTOL = 0.01  # a delay more than 1% of dt off a multiple of dt is an error
_GRID_TOL = 1e-4  # a given spike time within 1e-4 dt below a grid time belongs to the step starting there
# Steps per iteration of the step loop.  With one, XLA copies most of the state arrays once per
# step (each is read by several kernels after its new value is written, and a loop's output must
# go back into its input's buffer); with two, the middle state is a plain temporary and those
# copies go: CUBA 1.12-1.14x faster at 4,000-64,000 neurons (benchmarks/README.md, "delivery
# of arrivals"); four was no faster than one.
_UNROLL = 2
MAX_NETWORK_RATE_HZ = 500.0
"""Default spike-time capacity per neuron: ``ceil(duration * MAX_NETWORK_RATE_HZ) + 1``, and at
least 64 (or one per step, if fewer) for short runs; more is an error naming ``max_spikes``, never a
silent loss."""


class RunState(eqx.Module):
    """The state of a network simulation at a step boundary (continue a run from it).

    Attributes:
        y: each neuron population's state (``None`` for Poisson populations).
        refractory: steps each neuron is still held (int), per population.
        armed: for neurons without a reset, whether the spike detector is armed.
        synapses: each projection's synaptic state (one per target neuron).
        inputs: each Poisson input's synaptic state.
        buffers: each projection's arrivals: a delay ring ``(slots, n_post + 1)`` for
            per-synapse delays, one slot otherwise (empty when delivered into the state).
        history: each population's recent spikes, ``(slots, size)`` booleans, read by its
            projections with one delay (``None`` when it has none).
        step: steps taken since the start of the first run.
    """

    y: tuple[PyTree, ...]
    refractory: tuple[Int[Array, " _n"] | None, ...]  # _n: each population its own size
    armed: tuple[Bool[Array, " _n"] | None, ...]
    synapses: tuple[PyTree, ...]
    inputs: tuple[PyTree, ...]
    buffers: tuple[Float[Array, "_slots _n1"], ...]
    history: tuple[Bool[Array, "_slots _n"] | None, ...]
    step: Int[Array, ""]


class NetworkRun(eqx.Module):
    """What ``simulate_network`` returns for a ``Network``.

    Attributes:
        spikes: one ``SpikeTrain`` per population (shape ``(size, capacity)``, times in the
            network's time unit), or ``None`` per population with ``record_spikes=False``.
        spike_count: spikes per neuron, per population (always kept).
        ts: times of the voltage traces, shape ``(records,)``, or ``None``.
        v: membrane potential traces per population, ``(records, size)``, or ``None``.
        final_state: the ``RunState`` at the end (pass as ``state0`` to continue).
        names: the population names.   duration: simulated time (time unit).
        seconds_per_time_unit: for rates in Hz.
    """

    spikes: tuple[SpikeTrain | None, ...]
    spike_count: tuple[Int[Array, " _n"], ...]  # _n: each population its own size
    ts: Float[Array, " records"] | None
    v: tuple[Float[Array, "records _n"] | None, ...] | None
    final_state: RunState
    names: tuple[str, ...] = eqx.field(static=True)
    duration: float = eqx.field(static=True)
    seconds_per_time_unit: float = eqx.field(static=True)

    def _index(self, name: str | int) -> int:
        if isinstance(name, int):
            return name
        if name not in self.names:
            raise ValueError(f"unknown population {name!r}; the populations are {list(self.names)}.")
        return self.names.index(name)

    def train(self, name: str | int) -> SpikeTrain:
        """The ``SpikeTrain`` of a population (by name or index)."""
        train = self.spikes[self._index(name)]
        if train is None:
            raise ValueError("spike times were not recorded (record_spikes=False); use spike_count.")
        return train

    def rates(self, name: str | int) -> Float[Array, " n"]:
        """Mean firing rate of each neuron of a population over the run, in Hz."""
        return self.spike_count[self._index(name)] / (self.duration * self.seconds_per_time_unit)


# ================================================================================ helpers
def _where(mask: Array, a: PyTree, b: PyTree) -> PyTree:
    return jax.tree.map(lambda x, y: jnp.where(mask, x, y), a, b)


def _add(a: Array | None, b: Array | None) -> Array | None:
    return b if a is None else (a if b is None else a + b)


def _broadcast_state(y: PyTree, n: int, dtype) -> PyTree:
    return jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a, dtype), (n,)), y)


def _delay_steps(link, dt: float) -> Any:
    """The link's storage with delays in whole steps (int32), checked."""
    st = link.storage
    d = st.delay_steps
    where = f"Projection {link.pre}->{link.post}: delay"
    if is_concrete(d):
        dn = np.asarray(d, np.float64)
        steps_n = np.round(dn / dt)
        short = (dn > 0) & (dn < dt * (1 - _DELAY_RTOL))
        off = np.abs(dn - steps_n * dt) > _DELAY_RTOL * dt
        if np.any(short):
            raise ValueError(f"{where} must be 0 or at least one step dt = {dt:g}; got {dn[short].min():g}.")
        if np.any(off):
            raise ValueError(f"{where} must be a multiple of dt = {dt:g} (within 1%); got {dn[off].flat[0]:g}.")
        steps = jnp.asarray(steps_n)
    else:
        steps = jnp.round(d / dt)
        bad = ((d > 0) & (d < dt * (1 - _DELAY_RTOL))) | (jnp.abs(d - steps * dt) > _DELAY_RTOL * dt)
        steps = error_if_any(steps, bad, f"{where} must be 0 or a multiple of dt of at least one step.")
    return eqx.tree_at(lambda s: s.delay_steps, st, steps.astype(jnp.int32))


def _one_delay(link) -> bool:
    """Whether all synapses of a projection share one delay (then it is read from the source's
    spike history at arrival, and its buffer has one slot)."""
    return jnp.ndim(link.storage.delay_steps) == 0


def _ring_slots(link, dt: float) -> int:
    return 1 if _one_delay(link) else int(round(link.max_delay / dt)) + 1


def _direct_jump(link, dt: float) -> Any:
    """The synapse's ``direct_jump`` when the projection's arrivals go straight into its state
    (one buffer slot, an additive synapse), else ``None``."""
    return link.synapse.direct_jump() if _ring_slots(link, dt) == 1 else None


def _history_slots(network: Network, p: int, dt: float) -> int:
    """Rows of population ``p``'s spike history: its longest single delay in steps, plus one
    (0: no projection from it has a delay of its own)."""
    steps = [int(round(link.max_delay / dt)) for link in network.links if link.pre == p and _one_delay(link)]
    longest = max(steps, default=0)
    return longest + 1 if longest > 0 else 0


def initial_run_state(network: Network, key: PRNGKeyArray | None, dt: float, dtype=None, t0: Any = 0.0) -> RunState:
    """The default initial state: neurons at ``initial_state`` (or ``y0``, ``v0``), synapses
    empty (or ``s0``), spike-train sources at their first spike at or after ``t0``."""
    dtype = dtype or default_float()
    ys, refr, armed = [], [], []
    n_keys = len(network.populations) + len(network.links)
    keys = list(jax.random.split(key, n_keys)) if key is not None else [None] * n_keys

    def draw(value, k, shape, what):
        if not callable(value):
            return value
        if k is None:
            raise ValueError(f"{what} is drawn at random; pass key= to simulate_network.")
        return value(k, shape)

    for pop, k in zip(network.populations, keys, strict=False):
        if not isinstance(pop, Population):
            first = None
            if isinstance(pop, SpikeSource):  # index of each source's next spike
                first = jnp.sum(pop.train.mask & (pop.train.times < t0), axis=1).astype(jnp.int32)
            ys.append(first)
            refr.append(None)
            armed.append(None)
            continue
        neuron = pop.neuron
        k_y, k_v = jax.random.split(k) if k is not None else (None, None)
        y = neuron.initial_state() if pop.y0 is None else draw(pop.y0, k_y, pop.size, f"Population {pop.name!r}: y0")
        y = _broadcast_state(y, pop.size, dtype)
        if pop.v0 is not None:
            v = draw(pop.v0, k_v, (pop.size,), f"Population {pop.name!r}: v0")
            y = neuron.with_voltage(y, jnp.broadcast_to(jnp.asarray(v, dtype), (pop.size,)))
        ys.append(y)
        refr.append(jnp.zeros((pop.size,), jnp.int32) if neuron.refractory_period() is not None else None)
        armed.append(None if neuron.resets else neuron.spike_condition(y) < 0)
    syn = []
    for link, k in zip(network.links, keys[len(network.populations) :], strict=True):
        n_post = network.populations[link.post].size
        s = link.synapse.init(n_post, dtype)
        if link.s0 is not None:
            value = draw(link.s0, k, s.shape, f"Projection {link.pre}->{link.post}: s0")
            s = jnp.broadcast_to(jnp.asarray(value, dtype), s.shape)
        syn.append(s)
    syn = tuple(syn)
    ins = tuple(inp.synapse.init(network.populations[t].size, dtype) for t, inp in network.inputs)
    bufs = tuple(
        jnp.zeros((0, 0), dtype)
        if _direct_jump(link, dt) is not None
        else jnp.zeros((_ring_slots(link, dt), network.populations[link.post].size + 1), dtype)
        for link in network.links
    )
    history = tuple(
        jnp.zeros((k, pop.size), bool) if (k := _history_slots(network, p, dt)) else None
        for p, pop in enumerate(network.populations)
    )
    return RunState(tuple(ys), tuple(refr), tuple(armed), syn, ins, bufs, history, jnp.zeros((), jnp.int32))


# ================================================================================ the step
def _deliver(storage, buffer: Array, rows: Int[Array, " k"], n: Array, scale: Any = None, row_w: Any = None) -> Array:
    """Add the weights of sources ``rows`` into the delay ring at slot ``n + delay``, or, with a
    ``scale`` (a synapse's ``direct_jump``), ``scale x`` the weights straight into the synaptic
    state (its first row).  ``row_w``: a row of weights, already scaled and cast (``_row_weights``),
    for a storage with one weight."""
    tgt, w, d = storage.rows(rows)
    if row_w is not None:
        w = jnp.broadcast_to(row_w, tgt.shape)
    else:
        w = jnp.broadcast_to(w, tgt.shape).astype(buffer.dtype)
        if scale is not None:
            w = w * scale
    if scale is not None:
        return buffer.at[tgt].add(w, mode="drop") if buffer.ndim == 1 else buffer.at[0, tgt].add(w, mode="drop")
    slots = buffer.shape[0]
    if slots == 1:
        return buffer.at[0, tgt].add(w, mode="drop")
    slot = jnp.broadcast_to((n + d) % slots, tgt.shape)
    return buffer.at[slot, tgt].add(w, mode="drop")


def _population_update(pop: Population, y, refr, armed, stuck, a, g, t, dt, n_ref):
    """Steps 2-3 for one population: the new state, spikes, spike times, counters, and
    ``stuck`` (``None`` unless a neuron's reset leaves a condition that depends on its state,
    ``reset_check``): whether a reset has left the spike condition >= 0."""
    neuron, solver = pop.neuron, pop.solver
    assert solver is not None  # Population.__init__ sets the default solver
    y1 = solver.update_with_input(neuron, t, y, dt, a, g)
    held = refr > 0 if refr is not None else None
    if held is not None:
        y1 = _where(held, y, y1)
    c0 = neuron.spike_condition(y)
    c1 = neuron.spike_condition(y1)
    spiked = c1 >= 0
    if held is not None:
        spiked = spiked & ~held
    if armed is not None:
        spiked = spiked & armed
        armed = jnp.where(spiked, False, armed | (c1 < -type(neuron).rearm))
    t_spike = _spike_time(c0, c1, t, dt)
    if neuron.resets:
        y_reset = neuron.reset(y1)
        if stuck is not None:
            stuck = stuck | (spiked & (neuron.spike_condition(y_reset) >= 0))
        y1 = _where(spiked, y_reset, y1)
    if refr is not None:
        refr = jnp.where(spiked, jnp.maximum(n_ref - 1, 0), jnp.maximum(refr - 1, 0))
    return y1, refr, armed, stuck, spiked, t_spike


def _spike_time(c0: Array, c1: Array, t: Array, dt: Array) -> Array:
    """The time in ``[t, t + dt]`` where the spike condition, ``c0`` at ``t`` and ``c1`` at
    ``t + dt``, crosses 0 (linear interpolation)."""
    frac = jnp.where(c0 < 0, c0 / jnp.where(c0 < 0, c0 - c1, -1.0), 0.0)
    return t + dt * jnp.clip(frac, 0.0, 1.0)


def _spike_time_of(pop: Population, y, a, g, t, dt):
    """``f(j)``: the spike time of neuron ``j`` of ``pop`` in the step from ``t`` (the state
    ``y`` at ``t``, inputs ``a``, ``g``), its update done again for that neuron alone: the spike
    loop asks for the few that spiked instead of a division per neuron and step.  ``None``
    where the neuron or its solver has parameters per neuron."""
    neuron, solver = pop.neuron, pop.solver
    assert solver is not None  # Population.__init__ sets the default solver
    if any(jnp.ndim(x) for x in jax.tree.leaves(eqx.filter((neuron, solver), eqx.is_array))):
        return None

    def time_of(j):
        yj = jax.tree.map(lambda x: x[j], y)
        y1 = solver.update_with_input(neuron, t, yj, dt, a[j], None if g is None else g[j])
        return _spike_time(neuron.spike_condition(yj), neuron.spike_condition(y1), t, dt)

    return time_of


class _Plan(NamedTuple):
    """What every step of a run reads, fixed before the loop (the step's static structure and
    the per-run constants)."""

    network: Network
    storages: list  # each projection's storage, delays in whole steps
    coefficients: list  # each projection's synapse coefficients for dt
    input_coefficients: list  # each Poisson input's
    n_refs: list  # refractory steps per population (None: none)
    incoming: list  # projections into each population
    inputs_to: list  # Poisson inputs into each population
    sources: list  # populations whose spikes the propagation loop reads
    sparse: list  # the projections delivered by that loop (not dense)
    direct: list  # per projection: its synapse's direct_jump when it has no ring, else None
    row_weights: list  # per projection: a row of its one weight, scaled and cast (else None)
    flat: FlatLoop | None  # one spike loop for all sources, when every projection it delivers fits
    delayed: list  # (population, delay in ms, projections): read from the spike history at arrival
    t0: Array
    dt: Array
    dt_seconds: float
    dtype: Any
    key: PRNGKeyArray | None


def _sources_update(pop, y, t, dt, dt_s, key, dtype, n=None, t0=None):
    """Spikes of a Poisson population (independent draws) or a spike-train source (its next
    spike if it falls in step ``n``, ``[t, t + dt)``; a time within ``_GRID_TOL dt`` below a grid
    time counts as on it, whatever the rounding of ``t``); returns ``(y, spiked, spike times)``."""
    if isinstance(pop, PoissonPopulation):
        return y, jax.random.uniform(key, (pop.size,), dtype) < pop.rate * dt_s, jnp.broadcast_to(t, (pop.size,))
    assert n is not None and t0 is not None  # given for a spike-train source
    times, count = pop.train.times, jnp.minimum(pop.train.count, pop.train.capacity)
    nxt = jnp.take_along_axis(times, jnp.minimum(y, pop.train.capacity - 1)[:, None], axis=1)[:, 0]
    spiked = (y < count) & (jnp.floor((nxt - t0) / dt + _GRID_TOL) <= n)
    return y + spiked.astype(y.dtype), spiked, nxt.astype(dtype)


def _neurons(plan: _Plan, st: RunState, t: Array, keys, synapses, stuck: tuple) -> tuple[list, ...]:
    """Steps 1-3: each population's input, update, spikes, spike times and a function for the
    spike time of one neuron (``_spike_time_of``) (``synapses``: each projection's state;
    ``stuck``: each population's reset check, ``_population_update``)."""
    net = plan.network
    ys, refr, armed, stuck_ = list(st.y), list(st.refractory), list(st.armed), list(stuck)
    spiked: list[Any] = [None] * len(ys)
    t_spk: list[Any] = [None] * len(ys)
    time_of: list[Any] = [None] * len(ys)
    for p, pop in enumerate(net.populations):
        if not isinstance(pop, Population):
            key = keys[p] if keys is not None else None
            ys[p], spiked[p], t_spk[p] = _sources_update(
                pop, ys[p], t, plan.dt, plan.dt_seconds, key, plan.dtype, st.step, plan.t0
            )
            continue
        a = jnp.broadcast_to(pop.drive(t).astype(plan.dtype), (pop.size,))
        g = None
        for i in plan.incoming[p]:
            a_l, g_l = net.links[i].synapse.drive(synapses[i], plan.coefficients[i])
            a, g = a + a_l, _add(g, g_l)
        for j in plan.inputs_to[p]:
            a_l, g_l = net.inputs[j][1].synapse.drive(st.inputs[j], plan.input_coefficients[j])
            a, g = a + a_l, _add(g, g_l)
        g_n = None if g is None else jnp.broadcast_to(g, (pop.size,))
        time_of[p] = _spike_time_of(pop, ys[p], a, g_n, t, plan.dt)
        ys[p], refr[p], armed[p], stuck_[p], spiked[p], t_spk[p] = _population_update(
            pop, ys[p], refr[p], armed[p], stuck_[p], a, g, t, plan.dt, plan.n_refs[p]
        )
    return ys, refr, armed, stuck_, spiked, t_spk, time_of


def _propagate(
    plan: _Plan,
    n: Array,
    spiked: list,
    t_spk: list,
    syns: list,
    bufs: list,
    times: list,
    history: list,
    time_of: list,
):
    """Step 5: every spike's weights into the delay buffers (or, for a projection without
    delay whose synapse only adds its input, straight into its state), its time into the spike
    buffer."""
    net, pops, storages = plan.network, plan.network.populations, plan.storages
    # where each projection's arrivals go: its synaptic state or its delay ring
    dest = [syns[i] if plan.direct[i] is not None else bufs[i] for i in range(len(net.links))]
    now = [i for i, link in enumerate(net.links) if not any(i in g[2] for g in plan.delayed)]
    for i, link in enumerate(net.links):
        if isinstance(storages[i], DenseStorage) and i in now:
            x = spiked[link.pre].astype(plan.dtype) @ storages[i].matrix
            if plan.direct[i] is not None:
                x = x * plan.direct[i]
                dest[i] = dest[i] + x if dest[i].ndim == 1 else dest[i].at[0].add(x)
            else:
                dest[i] = dest[i].at[(n + storages[i].delay_steps) % dest[i].shape[0], :-1].add(x)
    flat_state = None
    if plan.flat is not None:
        sizes = [pop.size for pop in pops]
        flat_state = deliver_flat(plan.flat, sizes, plan.dtype, spiked, t_spk, time_of, dest, times)
    for p in plan.sources if plan.flat is None else []:  # one loop per source population
        mine = [i for i in plan.sparse if net.links[i].pre == p and i in now]

        def body(j, c, p=p, mine=mine):
            ds, tm = c
            ds = tuple(
                _deliver(storages[i], d, j[None], n, plan.direct[i], plan.row_weights[i])
                for i, d in zip(mine, ds, strict=True)
            )
            if tm is not None:
                tm = record_spike(tm, j, t_spk[p][j])
            return ds, tm

        new_dest, times[p] = for_each_one(spiked[p], body, (tuple(dest[i] for i in mine), times[p]))
        for i, d in zip(mine, new_dest, strict=True):
            dest[i] = d
    # projections with one delay: the spikes of step n - delay, read back from the history
    for p, _, group in plan.delayed:
        slots = history[p].shape[0]
        steps = storages[group[0]].delay_steps
        then = lax.dynamic_index_in_dim(history[p], (n - steps) % slots, 0, keepdims=False)
        for i in group:
            if isinstance(storages[i], DenseStorage):
                x = then.astype(plan.dtype) @ storages[i].matrix
                if plan.direct[i] is not None:
                    x = x * plan.direct[i]
                    dest[i] = dest[i] + x if dest[i].ndim == 1 else dest[i].at[0].add(x)
                else:
                    dest[i] = dest[i].at[0, :-1].add(x)
        sparse_group = [i for i in group if not isinstance(storages[i], DenseStorage)]
        if sparse_group:

            def body_then(j, ds, group=sparse_group):
                return tuple(
                    _deliver(storages[i], d, j[None], n, plan.direct[i], plan.row_weights[i])
                    for i, d in zip(group, ds, strict=True)
                )

            out = for_each_one(then, body_then, tuple(dest[i] for i in sparse_group))
            for i, d in zip(sparse_group, out, strict=True):
                dest[i] = d
    for p in range(len(pops)):
        if history[p] is not None:
            history[p] = lax.dynamic_update_index_in_dim(history[p], spiked[p], n % history[p].shape[0], 0)
    for i in range(len(net.links)):
        if plan.direct[i] is not None:
            syns[i] = dest[i]
        else:
            bufs[i] = dest[i]
    return syns, bufs, times, history, flat_state


def _arrive(plan: _Plan, n, keys, syns, ins, bufs, ys, held, spiked):
    """Step 6: the buffers' slots of this step into the synapses; voltage jumps."""
    net, pops = plan.network, plan.network.populations
    kicks: list[Array | None] = [None] * len(pops)
    for i, link in enumerate(net.links):
        if plan.direct[i] is not None:  # delivered into the state already
            continue
        if bufs[i].shape[0] == 1:  # no delays: the whole buffer arrives
            x, bufs[i] = bufs[i][0, :-1], jnp.zeros_like(bufs[i])
        else:
            slot = n % bufs[i].shape[0]
            x = bufs[i][slot, :-1]
            bufs[i] = bufs[i].at[slot].set(0.0)
        syns[i], kick = link.synapse.receive(syns[i], x)
        kicks[link.post] = _add(kicks[link.post], kick)
    for j, (tgt, inp) in enumerate(net.inputs):
        p_step = inp.rate * plan.dt_seconds
        events = binomial_counts(keys[len(pops) + j], inp.n, p_step, (pops[tgt].size,), plan.dtype)
        ins[j], kick = inp.synapse.receive(ins[j], events * inp.weight)
        kicks[tgt] = _add(kicks[tgt], kick)
    for p, kick in enumerate(kicks):
        if kick is None:
            continue
        pop = pops[p]
        assert isinstance(pop, Population)  # spike sources receive no projections or inputs
        neuron = pop.neuron
        # a jump is lost in the step of a spike (the reset overwrites it) and, unless the
        # population keeps them for later, in every step the neuron is held
        lost = spiked[p] if neuron.resets else jnp.zeros_like(spiked[p])
        if held[p] is not None and not pop.refractory_input:
            lost = lost | held[p]
        kick = jnp.where(lost, 0.0, kick)
        ys[p] = neuron.with_voltage(ys[p], neuron.voltage(ys[p]) + kick)
    return syns, ins, bufs, ys


def _step(plan: _Plan, carry):
    """One step of ``dt`` (module docstring)."""
    st, times, counts, stuck = carry
    n = st.step
    t = plan.t0 + n.astype(plan.dtype) * plan.dt
    keys = None
    if plan.key is not None:
        keys = jax.random.split(jax.random.fold_in(plan.key, n), len(st.y) + len(plan.network.inputs))
    synapses = unpacked(plan.flat, st.synapses)
    ys, refr, armed, stuck, spiked, t_spk, time_of = _neurons(plan, st, t, keys, synapses, stuck)
    syns = [
        link.synapse.propagate(s, c) for link, s, c in zip(plan.network.links, synapses, plan.coefficients, strict=True)
    ]
    ins = [
        inp.synapse.propagate(s, c)
        for (_, inp), s, c in zip(plan.network.inputs, st.inputs, plan.input_coefficients, strict=True)
    ]
    syns, bufs, times, history, flat_state = _propagate(
        plan, n, spiked, t_spk, syns, list(st.buffers), list(times), list(st.history), time_of
    )
    # counted here only without spike times (else read from the times buffer at the end)
    counts = tuple(None if c is None else c + s.astype(jnp.int32) for c, s in zip(counts, spiked, strict=True))
    held = [None if r is None else r > 0 for r in st.refractory]  # held during this step
    syns, ins, bufs, ys = _arrive(plan, n, keys, syns, ins, bufs, ys, held, spiked)
    if plan.flat is not None:  # carried as one vector (``packed``)
        syns = [None if i in plan.flat.links else x for i, x in enumerate(syns)] + [flat_state]
    new = RunState(tuple(ys), tuple(refr), tuple(armed), tuple(syns), tuple(ins), tuple(bufs), tuple(history), n + 1)
    return new, tuple(times), counts, tuple(stuck)


def _checked_sources(network: Network, dt: float, dt_s: float, t0: Any) -> None:
    """Poisson rates and spike-train sources that a step of ``dt`` can represent."""
    for p in network.populations:
        if isinstance(p, PoissonPopulation) and is_concrete(p.rate) and np.any(np.asarray(p.rate) * dt_s > 1):
            raise ValueError(
                f"PoissonPopulation {p.name!r}: rate x dt must be <= 1; got rate up to {np.max(p.rate):g} Hz."
            )
        if isinstance(p, SpikeSource) and is_concrete(p.train.times) and is_concrete(t0):
            check_overflow(p.train, f"SpikeSource {p.name!r}")
            steps = np.floor((np.asarray(p.train.times, np.float64) - float(t0)) / dt + _GRID_TOL)
            same = np.isfinite(steps[:, 1:]) & (steps[:, 1:] == steps[:, :-1])
            if np.any(same):
                row, col = np.argwhere(same)[0]
                times = np.asarray(p.train.times)[row, col : col + 2]
                raise ValueError(
                    f"SpikeSource {p.name!r}: source {row} has two spikes ({times[0]:g} and {times[1]:g}) in one "
                    f"step of dt = {dt:g}; a source emits at most one spike per step (use a smaller dt)."
                )


def _checked_run(network: Network, duration, dt, trace_every, mesh, on_overflow, key, max_spikes):
    """The run's arguments checked at trace time: ``(dt, duration, n_steps, max_spikes)``."""
    pops = network.populations
    unit, sec = network.time_unit
    neuron_pops = [p for p in pops if isinstance(p, Population)]
    if dt is None:
        dt = min(type(p.neuron).default_dt for p in neuron_pops) if neuron_pops else 0.1
    dt_f, dur = static_float(dt), static_float(duration)
    if dt_f is None or dur is None or not dt_f > 0 or not dur > 0:
        raise ValueError(
            f"dt and duration must be positive numbers known at trace time ({unit}); got {dt!r}, {duration!r}."
        )
    n_steps = int(round(dur / dt_f))
    if abs(n_steps * dt_f - dur) > 1e-6 * dt_f or n_steps < 1:
        raise ValueError(f"duration must be a positive multiple of dt = {dt_f:g} {unit}; got duration = {dur:g}.")
    if trace_every is not None:
        hint = f"that divides the {n_steps} steps"
        if check_int("trace_every", trace_every, 1, n_steps, numpy=False, hint=hint) and n_steps % trace_every:
            raise ValueError(f"trace_every must be an int in [1, {n_steps}] {hint}, got trace_every = {trace_every!r}.")
    if mesh is not None and (not isinstance(mesh, Mesh) or len(mesh.axis_names) != 1):
        raise ValueError(f"mesh must be a 1-D jax.sharding.Mesh (e.g. jaxneuro.batch_mesh()), got {mesh!r}.")
    if on_overflow not in ("error", "flag"):
        raise ValueError(f"on_overflow must be 'error' or 'flag', got {on_overflow!r}.")
    if key is None and (any(isinstance(p, PoissonPopulation) for p in pops) or network.inputs):
        raise ValueError("this network draws random numbers (Poisson sources or inputs): pass key=.")
    if max_spikes is None:
        max_spikes = max(math.ceil(dur * sec * MAX_NETWORK_RATE_HZ) + 1, min(n_steps, 64))
    else:
        check_int("max_spikes", max_spikes, numpy=False)
    return dt_f, dur, n_steps, max_spikes


def _plan(network: Network, dt_f: float, t0: Any, key, record_spikes: bool, dtype) -> _Plan:
    """What every step needs, computed once: storages, delay groups, decay factors, sources."""
    pops = network.populations
    storages = [_delay_steps(link, dt_f) for link in network.links]
    groups: dict = {}
    for i, link in enumerate(network.links):
        if _one_delay(link) and link.max_delay > 0:
            groups.setdefault((link.pre, link.max_delay), []).append(i)
    delayed = [(p, d, g) for (p, d), g in groups.items()]
    dt_a = jnp.asarray(dt_f, dtype)
    n_refs = []
    for p in pops:
        tr = p.neuron.refractory_period() if isinstance(p, Population) else None
        n_refs.append(None if tr is None else jnp.round(jnp.asarray(tr) / dt_f).astype(jnp.int32))
    sparse = [i for i, s_ in enumerate(storages) if not isinstance(s_, DenseStorage)]
    direct = [_direct_jump(link, dt_f) for link in network.links]
    later = {i for _, _, g in delayed for i in g}
    sources = [
        p
        for p in range(len(pops))
        if record_spikes or any(network.links[i].pre == p and i not in later for i in sparse)
    ]
    return _Plan(
        network=network,
        storages=storages,
        # the synapses' decay factors, once (inside the loop XLA would evaluate them per element)
        coefficients=[link.synapse.coefficients(dt_a) for link in network.links],
        input_coefficients=[inp.synapse.coefficients(dt_a) for _, inp in network.inputs],
        n_refs=n_refs,
        incoming=[[i for i, link in enumerate(network.links) if link.post == p] for p in range(len(pops))],
        inputs_to=[[i for i, (t, _) in enumerate(network.inputs) if t == p] for p in range(len(pops))],
        sources=sources,
        sparse=sparse,
        direct=direct,
        row_weights=[_row_weights(st, d, dtype) for st, d in zip(storages, direct, strict=True)],
        flat=flat_plan(
            network, storages, direct, sources, [i for i in range(len(network.links)) if i not in later], dtype
        ),
        delayed=delayed,
        t0=jnp.asarray(t0, dtype),
        dt=dt_a,
        dt_seconds=dt_f * network.time_unit[1],
        dtype=dtype,
        key=key,
    )


def _row_weights(storage, scale, dtype) -> Array | None:
    """The one weight of a sparse storage as a row of its fan-out, times ``scale`` and cast,
    made once before the loop (built per spike, the broadcast is a kernel of its own)."""
    if not isinstance(storage, SparseStorage) or jnp.ndim(storage.weight) != 0:
        return None
    w = jnp.asarray(storage.weight, dtype) * (1.0 if scale is None else scale)
    return jnp.broadcast_to(w.astype(dtype), storage.targets.shape[1:])


def _mesh_split(mesh: Mesh | None):
    """A function that splits the carry's neurons across the mesh's devices: every array along
    its neuron axis (the last, but the first for the spike-time buffers ``(n, capacity)``)."""
    if mesh is None:
        return lambda tree: tree
    axis = mesh.axis_names[0]

    def constrain(x, first=False):
        if x is None or jnp.ndim(x) == 0:
            return x
        spec = (axis,) + (None,) * (x.ndim - 1) if first else (None,) * (x.ndim - 1) + (axis,)
        return lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec(*spec)))

    def split(tree):
        st, tm, cn, stuck = tree
        tm = tuple(constrain(x, first=True) for x in tm)
        return jax.tree.map(constrain, st), tm, jax.tree.map(constrain, cn), jax.tree.map(constrain, stuck)

    return split


def _loop(plan: _Plan, carry, n_steps: int, trace_every: int | None, split):
    """The step loop: ``(carry, trace times, voltage traces)``, traces every ``trace_every`` steps."""

    def step(c, _):
        return split(_step(plan, c)), None

    if trace_every is None:
        carry, _ = lax.scan(step, carry, None, length=n_steps, unroll=_UNROLL)
        return carry, None, None
    pops = plan.network.populations

    def block(c, _):
        vs = tuple(
            p.neuron.voltage(y) if isinstance(p, Population) else None for p, y in zip(pops, c[0].y, strict=True)
        )
        c, _ = lax.scan(step, c, None, length=trace_every, unroll=_UNROLL)
        return c, vs

    carry, v = lax.scan(block, carry, None, length=n_steps // trace_every)
    ts = plan.t0 + plan.dt * trace_every * jnp.arange(n_steps // trace_every, dtype=plan.dtype)
    return carry, ts, v


def _trains(pops, state: RunState, times, counts, stuck, stuck_if_spiking, record_spikes: bool, on_overflow: str):
    """The recorded spike trains and counts, checked for a reset that left a neuron above
    threshold (``stuck`` from the loop, or ``stuck_if_spiking`` and a spike, per population,
    ``reset_check``), a non-finite final state and overflow (in that order: a stuck reset also
    overflows the spike buffer, and its message says why)."""
    if record_spikes:  # every population has a spike-time buffer
        recorded = [counted(tm) for tm in times if tm is not None]
        assert len(recorded) == len(pops)
        times, counts = tuple(r[0] for r in recorded), tuple(r[1] for r in recorded)
    times_l: list[Array | None] = list(times)
    counts_l: list[Array] = list(counts)
    for p, (carried, if_spiking) in enumerate(zip(stuck, stuck_if_spiking, strict=True)):
        reset_bad = carried if if_spiking is None else if_spiking & (counts_l[p] > 0)
        if reset_bad is not None:  # one reduction after the loop
            message = stuck_reset_message(pops[p].neuron) + f" (population {pops[p].name!r})"
            counts_l[p] = error_if_any(counts_l[p], reset_bad, message)
            tm = times_l[p]
            times_l[p] = None if tm is None else error_if_any(tm, reset_bad, message)
    times, counts = tuple(times_l), tuple(counts_l)
    # one check of the final state: a NaN or infinite traced drive, weight or parameter reaches it
    leaves = [x for x in jax.tree.leaves((state.y, state.synapses)) if jnp.issubdtype(x.dtype, jnp.inexact)]
    bad = ~jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])) if leaves else jnp.asarray(False)
    counts = tuple(error_if_any(c, bad, NON_FINITE_NETWORK) for c in counts)
    times = tuple(None if tm is None else error_if_any(tm, bad, NON_FINITE_NETWORK) for tm in times)
    trains = []
    for p, (tm, c) in enumerate(zip(times, counts, strict=True)):
        if tm is None:
            trains.append(None)
            continue
        train = SpikeTrain(tm, c)
        if on_overflow == "error":
            train = check_overflow(train, f"population {pops[p].name!r} (raise max_spikes)")
        trains.append(train)
    return tuple(trains), counts


def simulate_general_network(
    network: Network,
    duration: float,
    *,
    dt: float | None = None,
    t0: float = 0.0,
    key: PRNGKeyArray | None = None,
    state0: RunState | None = None,
    record_spikes: bool = True,
    max_spikes: int | None = None,
    trace_every: int | None = None,
    on_overflow: Literal["error", "flag"] = "error",
    mesh: Mesh | None = None,
) -> NetworkRun:
    """``simulate_network`` for a ``Network`` (module docstring for the step)."""
    pops = network.populations
    dt_f, dur, n_steps, max_spikes = _checked_run(
        network, duration, dt, trace_every, mesh, on_overflow, key, max_spikes
    )
    dtype = default_float()
    _checked_sources(network, dt_f, dt_f * network.time_unit[1], t0)
    k_init, k_run = jax.random.split(key) if key is not None else (None, None)
    state = initial_run_state(network, k_init, dt_f, dtype, t0=t0) if state0 is None else state0
    plan = _plan(network, dt_f, t0, k_run, record_spikes, dtype)
    split = _mesh_split(mesh)
    # spike times and, in a last column, the spikes beyond max_spikes (``record_spike``)
    # with one spike loop (plan.flat) one buffer for all populations, split after the run
    sizes = [p.size for p in pops] if plan.flat is None or not record_spikes else [sum(p.size for p in pops)]
    times0 = tuple(
        jnp.full((n, max_spikes + 1), jnp.inf, dtype).at[:, -1].set(0.0) if record_spikes else None for n in sizes
    )
    counts0 = tuple(None if record_spikes else jnp.zeros((p.size,), jnp.int32) for p in pops)
    # the reset check (reset_check): a flag carried per neuron only where the condition after the
    # reset depends on the state; nothing for a neuron without a reset
    checks = [
        reset_check(p.neuron, y) if isinstance(p, Population) else (None, None)
        for p, y in zip(pops, state.y, strict=True)
    ]
    stuck0, stuck_if_spiking = (tuple(c) for c in zip(*checks, strict=True))
    state = eqx.tree_at(lambda s: s.synapses, state, packed(plan.flat, state.synapses), is_leaf=lambda x: x is None)
    (state, times, counts, stuck), ts, v = _loop(
        plan, split((state, times0, counts0, stuck0)), n_steps, trace_every, split
    )
    state = eqx.tree_at(lambda s: s.synapses, state, unpacked(plan.flat, state.synapses), is_leaf=lambda x: x is None)
    if plan.flat is not None and record_spikes:
        starts = np.cumsum([0] + [p.size for p in pops])
        whole = times[0]
        assert whole is not None
        times = tuple(whole[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True))
    trains, counts = _trains(pops, state, times, counts, stuck, stuck_if_spiking, record_spikes, on_overflow)
    return NetworkRun(
        trains, counts, ts, v, state, tuple(p.name for p in pops), float(dur), float(network.time_unit[1])
    )


def _with_forward_sensitivities(run, network: Any, duration: float, kwargs: dict) -> Any:
    """``run(network, duration, **kwargs)`` differentiated by forward sensitivities
    (``forward_sensitivities``): the loop over each step's spikes has a dynamic length, which
    JAX's reverse mode cannot run, so ``jax.grad`` with respect to up to ``MAX_DIRECTIONS``
    scalars (neuron parameters, drives, a weight's scale) runs one forward-mode pass per
    scalar instead, storing nothing per step.  With more differentiated scalars (a weight
    matrix) the loops are differentiated directly: ``jax.jvp`` works, reverse mode only through
    loops of static length (``LIFNetwork`` with ``differentiable=True``, or EventProp)."""
    return forward_sensitivities(lambda net, kw: run(net, duration, **kw), (network, kwargs), count_perturbed=True)


def simulate_network(network: Any, duration: float, **kwargs: Any) -> Any:
    """Simulate a network for ``duration`` (in its time unit).

    * A ``Network`` (populations of any neuron, projections with current, conductance, delta
      or PSC synapses, delays, Poisson sources) runs clock-driven with steps of ``dt``
      (module docstring of ``jaxneuro._network._simulate``) and returns a ``NetworkRun``.
      Keywords: ``dt`` (default: the smallest ``default_dt`` of its neurons), ``t0``,
      ``key`` (for Poisson sources and random initial voltages), ``state0`` (a ``RunState``
      to continue from), ``record_spikes``, ``max_spikes`` (spike-time capacity per neuron;
      default ``ceil(duration x 500 Hz) + 1``, at least 64 or one per step; more spikes are an
      error, never a silent loss), ``trace_every``
      (record every population's membrane potential every this many steps),
      ``on_overflow``, ``mesh`` (a 1-D ``jax.sharding.Mesh``: the neurons
      are split across its devices, every state array along its neuron axis; the same spikes
      as on one device).
    * A ``LIFNetwork`` (the notes' LIF networks with exponential synapses) runs with exact
      spike times and is differentiable with respect to its weights:
      ``simulate_lif_network``, whose docstring lists its keywords; returns a
      ``NetworkResult``.

    Example (Brette et al. 2007, CUBA; ``benchmarks/networks.py`` has all four models)::

        cell = jn.IntegrateAndFire(tau_m=20.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)
        v0 = lambda key, shape: jax.random.uniform(key, shape, minval=-60.0, maxval=-50.0)
        exc = jn.Population(3200, cell, "exc", v0=v0)
        inh = jn.Population(800, cell, "inh", v0=v0)
        p = jn.FixedProbability(0.02)
        net = jn.Network([exc, inh], [
            jn.Projection("exc", "exc", jn.ExponentialCurrent(5.0), p, weight=1.62),
            jn.Projection("exc", "inh", jn.ExponentialCurrent(5.0), p, weight=1.62),
            jn.Projection("inh", "exc", jn.ExponentialCurrent(10.0), p, weight=-9.0),
            jn.Projection("inh", "inh", jn.ExponentialCurrent(10.0), p, weight=-9.0),
        ])
        run = jn.simulate_network(net, 1000.0, dt=0.1, key=jax.random.key(0))
        run.rates("exc").mean()   # Hz
    """
    from ._lif_exact import LIFNetwork, simulate_lif_network

    if isinstance(network, Network):
        return _with_forward_sensitivities(simulate_general_network, network, duration, kwargs)
    if isinstance(network, LIFNetwork):
        return _with_forward_sensitivities(simulate_lif_network, network, duration, kwargs)
    raise ValueError(f"network must be a LIFNetwork or a jaxneuro.Network, got {type(network).__name__}.")


__all__ = ["NetworkRun", "RunState", "initial_run_state", "simulate_general_network", "simulate_network"]

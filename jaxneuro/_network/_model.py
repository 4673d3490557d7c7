"""The network model: populations of any neuron, projections with a synapse type, a rule
for their connectivity and a delay, and Poisson sources.

    exc = jn.Population(3200, cell, name="exc")
    inh = jn.Population(800, cell, name="inh")
    net = jn.Network(
        [exc, inh],
        [jn.Projection("exc", "exc", jn.ExponentialCurrent(5.0), jn.FixedProbability(0.02), weight=1.62),
         ...],
        seed=0,
    )
    run = jn.simulate_network(net, 1000.0, dt=0.1, key=jax.random.key(1))

Building a ``Network`` draws the connectivity (numpy, from ``seed``) and stores it as the
simulation reads it (``_connectivity``); everything after that is arrays, so a network can be
passed through ``jax.jit`` and its weights differentiated or ``vmap``-ed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .._custom_types import ParamArray
from .._inputs import AbstractInput, Constant, as_input
from .._misc import as_float_array, check_int, check_range, default_float, is_concrete, static_number
from .._neurons._base import AbstractNeuron
from .._neurons._hh import HodgkinHuxley
from .._solvers._exp_euler import ExponentialEuler
from .._solvers._exp_midpoint import ExpMidpointHH
from .._solvers._fixed_step import AbstractFixedStepSolver
from .._spikes import SpikeTrain
from .._synapses import AbstractSynapse, ExponentialConductance, as_synapse
from ._connectivity import (
    DENSE_MAX_PAIRS,
    AbstractConnectivity,
    DenseStorage,
    FixedOutDegree,
    FromMatrix,
    ProceduralStorage,
    SparseStorage,
    Storage,
    per_synapse,
    to_ell,
)

InitialVoltage = None | float | Array | Callable[[PRNGKeyArray, tuple[int, ...]], Array]


def default_solver(neuron: AbstractNeuron) -> AbstractFixedStepSolver:
    """The step a population uses unless given one: the exponential midpoint for
    ``HodgkinHuxley``, exponential Euler (exact for integrate-and-fire membranes under a held
    input, Brian2's default for conductance models) for any other neuron."""
    return ExpMidpointHH() if isinstance(neuron, HodgkinHuxley) else ExponentialEuler()


class Population(eqx.Module):
    """``size`` neurons of one model (parameters scalars or one value per neuron).

    Attributes:
        size: number of neurons (static, >= 1).
        neuron: any ``AbstractNeuron``; its time unit is the network's.
        name: the label projections use (unique in a network).
        drive: external input to every neuron, in the neuron's input unit: a number, an
            array of shape ``(size,)``, a callable ``drive(t)`` or an ``AbstractInput``;
            evaluated at the start of each step.
        v0: initial membrane potential: ``None`` (the neuron's ``initial_state``), a number
            or ``(size,)`` array, or a callable ``v0(key, shape)`` drawing it (for example
            uniform between reset and threshold, as in Brette et al. 2007).
        solver: the fixed step the neurons take (default ``default_solver(neuron)``); its
            ``dt`` is ignored (the network's step is used).
        y0: the whole initial state instead of the neuron's ``initial_state``: a PyTree of
            arrays (scalars or ``(size,)``) or a callable ``y0(key, size)`` returning one
            (``v0``, when given too, then replaces its membrane potential).
        refractory_input: what a delta synapse's jump does to a neuron that is refractory in
            the step it arrives (the step of its spike included, whose reset overwrites it):
            lost (False, the default: Brian2's rule for ``v += w`` on a variable flagged
            ``(unless refractory)``, and NEST's ``iaf_psc_delta`` default) or added to the held
            potential, to act when the neuron is released (True: NEST's
            ``refractory_input=True``; the jump of the spike step is still lost).
    """

    size: int = eqx.field(static=True)
    neuron: AbstractNeuron
    name: str = eqx.field(static=True, default="")
    drive: AbstractInput = eqx.field(default=0.0)
    v0: Any = eqx.field(default=None)
    solver: AbstractFixedStepSolver | None = eqx.field(default=None)
    y0: Any = eqx.field(default=None)
    refractory_input: bool = eqx.field(static=True, default=False)

    def __init__(self, size, neuron, name="", *, drive=0.0, v0=None, solver=None, y0=None, refractory_input=False):
        self.size = check_int("size", size, where="Population")
        if not isinstance(neuron, AbstractNeuron):
            raise ValueError(
                f"Population: neuron must be a jaxneuro neuron (AbstractNeuron), got {type(neuron).__name__}."
            )
        for field in jax.tree.leaves(neuron):
            if jnp.shape(field) not in ((), (self.size,)):
                raise ValueError(
                    f"Population {name!r}: every neuron parameter must be a scalar or have shape ({self.size},), "
                    f"got shape {jnp.shape(field)}."
                )
        self.neuron = neuron
        self.name = name
        if isinstance(drive, AbstractInput) or callable(drive):
            self.drive = as_input(drive)
        else:
            value = as_float_array(drive)
            if jnp.shape(value) not in ((), (self.size,)):
                raise ValueError(
                    f"Population {name!r}: drive must be a scalar or shape ({self.size},), got {jnp.shape(value)}."
                )
            self.drive = Constant(value)
        if v0 is not None and not callable(v0):
            v0 = as_float_array(v0)
            if jnp.shape(v0) not in ((), (self.size,)):
                raise ValueError(
                    f"Population {name!r}: v0 must be a scalar or shape ({self.size},), got {jnp.shape(v0)}."
                )
            if is_concrete(v0):
                check_range(f"Population {name!r}: v0", v0)
        self.v0 = v0
        self.y0 = y0
        self.refractory_input = bool(refractory_input)
        if solver is not None and not isinstance(solver, AbstractFixedStepSolver):
            raise ValueError(
                f"Population {name!r}: solver must be a fixed-step solver (ExponentialEuler, RK4, Euler, "
                f"ExpMidpointHH), got {type(solver).__name__}."
            )
        self.solver = default_solver(neuron) if solver is None else solver


class PoissonPopulation(eqx.Module):
    """``size`` independent Poisson spike sources of rate ``rate`` (Hz), usable as the
    source of projections (Brian2's ``PoissonGroup``).  In each step a source spikes with
    probability ``rate dt`` (``dt`` in seconds; an error if that exceeds 1).

    Attributes:
        size: number of sources.  rate: Hz, a scalar or ``(size,)``, >= 0.  name: label.
    """

    size: int = eqx.field(static=True, converter=static_number)
    rate: Float[ParamArray, "*size"] = eqx.field(converter=as_float_array)
    name: str = eqx.field(static=True, default="")

    def __check_init__(self):
        check_int("size", self.size, where="PoissonPopulation")
        if jnp.shape(self.rate) not in ((), (self.size,)):
            raise ValueError(
                f"PoissonPopulation: rate must be a scalar or shape ({self.size},), got {jnp.shape(self.rate)}."
            )
        if is_concrete(self.rate):
            check_range("PoissonPopulation: rate", self.rate, lower=0.0, unit="Hz")


class SpikeSource(eqx.Module):
    """Neurons whose spikes are given: source ``i`` spikes at ``train.times[i, :count[i]]``
    (the network's time unit), usable as the source of projections (Brian2's
    ``SpikeGeneratorGroup``, NEST's ``spike_generator``).  A spike at time ``s`` is emitted in
    the step ``[t, t + dt)`` that holds it, at its own time; a source emits at most one spike
    per step (two spikes closer than ``dt`` are an error).

    Attributes:
        train: a ``SpikeTrain`` of shape ``(size, capacity)``.   name: label.
    """

    train: SpikeTrain
    name: str = eqx.field(static=True, default="")

    def __check_init__(self):
        if not isinstance(self.train, SpikeTrain) or self.train.times.ndim != 2:
            raise ValueError("SpikeSource: train must be a SpikeTrain of shape (size, capacity).")

    @property
    def size(self) -> int:
        return self.train.times.shape[0]


class PoissonInput(eqx.Module):
    """``n`` independent Poisson inputs of rate ``rate`` (Hz) onto every neuron of a
    population, each with weight ``weight`` through ``synapse`` (Brian2's ``PoissonInput``:
    the number of input spikes in a step is drawn from Binomial(``n``, ``rate dt``) per
    target, not by simulating ``n`` sources).

    Attributes:
        target: population name.  n: inputs per neuron (int >= 1).  rate: Hz (>= 0).
        weight: the weight of each input spike.  synapse: an ``AbstractSynapse``.
    """

    target: str = eqx.field(static=True)
    n: int = eqx.field(static=True, converter=static_number)
    rate: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    weight: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    synapse: AbstractSynapse

    def __check_init__(self):
        check_int("n", self.n, where="PoissonInput")
        as_synapse(self.synapse, "PoissonInput: synapse")
        if is_concrete(self.rate):
            check_range("PoissonInput: rate", self.rate, lower=0.0, unit="Hz")
        if is_concrete(self.weight):
            check_range("PoissonInput: weight", self.weight)


class Projection(eqx.Module):
    """Synapses from population ``pre`` to population ``post`` (names), of one synapse type.

    Attributes:
        pre, post: population names.
        synapse: ``ExponentialCurrent``, ``DeltaSynapse``, ``ExponentialConductance``,
            ``PSCSynapse`` or any ``AbstractSynapse``.
        connectivity: a rule (``FixedProbability``, ``FixedInDegree``, ``FixedOutDegree``,
            ``FromIndices``, ``AllToAll``, ``OneToOne``).
        weight: one number for every synapse, an array with one value per synapse (in the
            order of the rule's pairs, e.g. those of ``FromIndices``), or a callable
            ``f(rng, n)`` drawing ``n`` values from a numpy generator.  Units: those of the
            synapse's jump (input unit; membrane potential for delta synapses; conductance in
            input units per volt unit for conductance synapses).  Conductance weights must
            be >= 0.
        delay: transmission delay in the network's time unit: 0, or at least one step
            ``dt``; one number, one per synapse, or a callable like ``weight``.  Rounded to
            the step (an error if it is more than 1% off a multiple of ``dt``).
        storage: ``"auto"``, ``"sparse"`` or ``"dense"`` (``_connectivity``).
        s0: the initial synaptic state of each target (``None``: at rest), a number, a
            ``(n_post,)`` array or a callable ``s0(key, shape)`` (Brette et al. 2007 start
            COBA with random conductances).
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    synapse: AbstractSynapse
    connectivity: AbstractConnectivity
    weight: Any = 1.0
    delay: Any = 0.0
    storage: Literal["auto", "sparse", "dense"] = eqx.field(static=True, default="auto")
    s0: Any = None

    def __check_init__(self):
        if not isinstance(self.connectivity, AbstractConnectivity):
            raise ValueError(
                f"Projection {self.pre}->{self.post}: connectivity must be a rule such as FixedProbability, "
                f"got {type(self.connectivity).__name__}."
            )
        if self.storage not in ("auto", "sparse", "dense"):
            raise ValueError(f"Projection: storage must be 'auto', 'sparse' or 'dense', got {self.storage!r}.")
        as_synapse(self.synapse, f"Projection {self.pre}->{self.post}: synapse")


class Link(eqx.Module):
    """A projection as the simulation reads it: population indices, synapse, storage, and
    the largest delay (static, sets the length of the delay buffer)."""

    pre: int = eqx.field(static=True)
    post: int = eqx.field(static=True)
    synapse: AbstractSynapse
    storage: Storage
    max_delay: float = eqx.field(static=True)
    s0: Any = None


def _realise(proj: Projection, pre: int, post: int, n_pre: int, n_post: int, rng: np.random.Generator) -> Link:
    name = f"Projection {proj.pre}->{proj.post}"
    conn = proj.connectivity
    dtype = default_float()
    if isinstance(conn, FixedOutDegree) and conn.procedural:
        if callable(proj.weight) or np.ndim(proj.weight) or callable(proj.delay) or np.ndim(proj.delay):
            raise ValueError(f"{name}: procedural connectivity takes one weight and one delay for every synapse.")
        weight = _check_weight(name, proj.synapse, np.asarray(proj.weight, np.float64))
        delay = _check_delay(name, np.asarray(proj.delay, np.float64))
        storage: Storage = ProceduralStorage(
            seed=int(rng.integers(0, 2**31)),
            k=conn.k,
            weight=jnp.asarray(weight, dtype),
            delay_steps=jnp.asarray(delay, dtype),  # converted to steps by the simulation
            n_post=n_post,
            n_pre=n_pre,
        )
        return Link(pre, post, proj.synapse, storage, float(delay), proj.s0)
    src, dst = conn.pairs(n_pre, n_post, pre == post, rng)
    weight = per_synapse(proj.weight, f"{name}: weight", src.size, rng)
    if isinstance(conn, FromMatrix):
        weight = weight * conn.entries()[2]
        if not np.all(np.isfinite(weight)):
            raise ValueError(f"{name}: the matrix's entries must be finite.")
    weight = _check_weight(name, proj.synapse, weight)
    delay = _check_delay(name, per_synapse(proj.delay, f"{name}: delay", src.size, rng))
    max_delay = float(np.max(delay, initial=0.0))
    dense = proj.storage == "dense" or (
        proj.storage == "auto" and n_pre * n_post <= DENSE_MAX_PAIRS and src.size > 0.1 * n_pre * n_post
    )
    if dense and np.ndim(delay):
        if proj.storage == "dense":
            raise ValueError(f"{name}: dense storage takes one delay for every synapse.")
        dense = False
    if dense:
        matrix = np.zeros((n_pre, n_post), np.float64)
        np.add.at(matrix, (src, dst), weight)
        storage = DenseStorage(jnp.asarray(matrix, dtype), jnp.asarray(delay, dtype))
    else:
        targets, (w, d) = to_ell(src, dst, n_pre, n_post, weight, delay)
        storage = SparseStorage(jnp.asarray(targets), jnp.asarray(w, dtype), jnp.asarray(d, dtype), n_post)
    return Link(pre, post, proj.synapse, storage, max_delay, proj.s0)


def _check_weight(name: str, synapse: AbstractSynapse, w: Any) -> Any:
    if isinstance(synapse, ExponentialConductance) and np.any(np.asarray(w) < 0):
        raise ValueError(f"{name}: conductance weights must be in [0, inf), got a minimum of {np.min(w):g}.")
    return w


def _check_delay(name: str, d: Any) -> Any:
    if np.any(np.asarray(d) < 0):
        raise ValueError(f"{name}: delay must be 0 or at least one step dt, got a minimum of {np.min(d):g}.")
    return d


class Network(eqx.Module):
    """Populations, the projections between them and Poisson inputs, with the connectivity
    drawn (module docstring).

    Attributes:
        populations: ``Population``s and ``PoissonPopulation``s (names unique).
        links: the realised projections (``Link``), in the order given.
        inputs: ``PoissonInput``s with their target's index.
        seed: the seed the connectivity was drawn from.
    """

    populations: tuple[Population | PoissonPopulation | SpikeSource, ...]
    links: tuple[Link, ...]
    inputs: tuple[tuple[int, PoissonInput], ...]
    seed: int = eqx.field(static=True)

    def __init__(
        self,
        populations: Sequence[Population | PoissonPopulation | SpikeSource],
        projections: Sequence[Projection] = (),
        inputs: Sequence[PoissonInput] = (),
        *,
        seed: int = 0,
    ):
        """Args:
            populations: the populations (at least one neuron population).
            projections: ``Projection``s between them (by name).
            inputs: ``PoissonInput``s onto populations (by name).
            seed: the seed of the connectivity (an int >= 0).

        Raises:
            ValueError: for duplicate or unknown names, a projection onto a Poisson
                population, neurons with different time units, or invalid weights/delays.
        """
        pops = tuple(populations)
        if not pops or not all(isinstance(p, (Population, PoissonPopulation, SpikeSource)) for p in pops):
            raise ValueError(
                "Network: populations must be a non-empty sequence of Population, PoissonPopulation or SpikeSource."
            )
        names = [p.name for p in pops]
        if any(not n for n in names) and len(pops) > 1:
            raise ValueError("Network: give every population a name when there are several.")
        if len(set(names)) != len(names):
            raise ValueError(f"Network: population names must be unique, got {names}.")
        units = {type(p.neuron).seconds_per_time_unit for p in pops if isinstance(p, Population)}
        if len(units) > 1:
            raise ValueError(f"Network: all neurons must share one time unit, got seconds per unit {sorted(units)}.")
        check_int("seed", seed, 0, where="Network")

        def index(name: str, what: str) -> int:
            if name not in names:
                raise ValueError(f"Network: unknown population {name!r} in {what}; the populations are {names}.")
            return names.index(name)

        links = []
        for k, proj in enumerate(projections):
            if not isinstance(proj, Projection):
                raise ValueError(f"Network: projections must be Projection objects, got {type(proj).__name__}.")
            pre, post = index(proj.pre, "a projection's pre"), index(proj.post, "a projection's post")
            if not isinstance(pops[post], Population):
                raise ValueError(
                    f"Network: {proj.post!r} is a source ({type(pops[post]).__name__}) and cannot receive a projection."
                )
            rng = np.random.default_rng([int(seed), k])
            links.append(_realise(proj, pre, post, pops[pre].size, pops[post].size, rng))
        ins = []
        for inp in inputs:
            if not isinstance(inp, PoissonInput):
                raise ValueError(f"Network: inputs must be PoissonInput objects, got {type(inp).__name__}.")
            target = index(inp.target, "a PoissonInput")
            if not isinstance(pops[target], Population):
                raise ValueError(f"Network: {inp.target!r} is a source and cannot receive a PoissonInput.")
            ins.append((target, inp))
        self.populations = pops
        self.links = tuple(links)
        self.inputs = tuple(ins)
        self.seed = int(seed)

    @property
    def time_unit(self) -> tuple[str, float]:
        """``(name, seconds per unit)`` of the network's time (its neurons'; seconds with only
        Poisson populations)."""
        for p in self.populations:
            if isinstance(p, Population):
                return type(p.neuron).time_unit, type(p.neuron).seconds_per_time_unit
        return "s", 1.0

    def index(self, name: str) -> int:
        """The position of population ``name``."""
        for k, p in enumerate(self.populations):
            if p.name == name:
                return k
        raise ValueError(f"unknown population {name!r}; the populations are {[p.name for p in self.populations]}.")

    def n_synapses(self) -> int:
        """The number of stored synapses (procedural ones counted as ``k`` per source)."""
        total = 0
        for link in self.links:
            st = link.storage
            if isinstance(st, SparseStorage):
                total += int(jnp.sum(st.targets < st.n_post))
            elif isinstance(st, ProceduralStorage):
                total += st.k * st.n_pre
            else:
                total += int(jnp.sum(st.matrix != 0))
        return total


PopulationStateTree = PyTree

__all__ = [
    "Link",
    "Network",
    "PoissonInput",
    "PoissonPopulation",
    "Population",
    "Projection",
    "SpikeSource",
    "default_solver",
]

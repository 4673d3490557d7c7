"""Networks of LIF neurons connected by exponential synapses (notes ch. 1.6-1.7).

The notes' full model, for every neuron ``i`` (normalised units: threshold 1, reset 0):

    tau_m dv_i/dt = s_i + J_i(t) - v_i      when not refracting (v_i = 0 while refracting),
    tau_s ds_i/dt = -s_i,

at ``v_i = 1`` a refractory period ``tau_ref`` starts, a spike is sent and ``v_i`` resets to
0; a spike from neuron ``j`` raises ``s_i`` by ``w_ij / tau_s``, so that its total charge
``int s dt`` is ``w_ij`` (weights are charges: normalised input x seconds).  ``J_i`` is the
external drive: a bias current, a constant or time-varying current, white noise (counter-based
normals, ``_noise``), and input spike trains through their own weights.  Time is in seconds.

How it is simulated (``simulate_network``): time advances in steps of ``dt``; the drive is
held constant within a step.  Between events the sub-threshold state has a closed form
(``_lif_closed_form``, accurate at and near ``tau_s = tau_m``),

    v(u) = J + (v_0 - J) e^(-u/tau_m) + s_0 K(u),   K(u) = tau_s/(tau_s - tau_m) (e^(-u/tau_s) - e^(-u/tau_m)).

In each step:

1. every neuron is advanced exactly over the step (its refractory period ending at its exact
   time inside the step).  ``v(u)`` has at most one extremum in a step, so a neuron crosses
   threshold iff ``v`` is above 1 at the end of the step or at an interior maximum (the
   voltage can rise above threshold and fall back within one step; a cheap bound selects
   the few neurons for which the maximum is located by Newton's method, ``interior_max``).
   This pass over all neurons has no exponentials: the refractory clock is kept in steps (it
   drops by exactly 1 per step), so the offset of a neuron's release inside its step is
   known when it spikes, and the decays over the rest of that step are computed then, once
   per spike;
2. the crossing time of each spiking neuron is found by safeguarded Halley steps on the
   closed form (to rounding, ``threshold_time``), the neuron resets and its refractory
   period starts there;
3. each spike is delivered at its exact time: ``s_i`` of every target gains
   ``w_ij/tau_s e^(-(t_end - t_spike)/tau_s)`` and ``v_i`` the exact response to that jump up
   to the end of the step (zero for targets that are refractory or fire in the step, and
   started at the end of the refractory period for targets released within it).

Propagation is event-driven: the neurons that may fire in a step are packed into a
two-level bitmap (``_bitmap``: one bit per neuron, one per nonzero word) and read out a few
at a time (in chunks of ``max_spikes_per_step``, repeated while more remain, so nothing is
ever dropped); only their rows of the weight matrix are read (a few rows per kernel), so a
step costs O(N + spikes x N) rather than the O(N^2) of a dense ``W @ spikes`` (MEASURED.md:
the dense product is what makes a JAX network slower than Brian2 on the CPU).  The weights
are stored transposed (``Connection.weight_t``), so a spike reads one contiguous row.

Speed on the CPU (benchmarks/network.py) is set by two things.  With XLA's default
options a step is some 60 small kernels, and each launch costs about 0.1 us, more than the
work of most of them.  The step is therefore written with nothing that XLA cannot compile
into the kernel of a loop (no ``lax.top_k``, no scatter: the bitmap above, and
dynamic-update-slices for the writes), so that after ``jaxneuro.experimental.enable_cpu_loop_kernels()``
XLA compiles the whole time loop as one kernel, with no launches inside it: twice as fast
at N = 1000.  Without it the code still keeps the kernels few (the work on the picked
neurons runs as one short conditional program; exponentials of a stage are one kernel).
And each spike reads a row of the weight matrix, 16 KB at N = 4000, from main memory once
the matrix outgrows the caches: at 30 Hz that traffic is most of a step at N = 4000.

Exactness: the result equals the continuous-time solution of the model with the drive held
constant in each step, except when a neuron receives a spike in the same step in which it
crosses threshold (inputs within a step are applied after the step's crossings are found).
Then its crossing time is off by less than ``dt``: an input that pushes a neuron over
threshold makes it fire at the crossing found by integrating backwards from the end of the
step (exact when that input is the step's last one before the crossing); an input arriving
before a crossing found in step 1 does not move that crossing.  These coincidences have
probability of order (input rate x dt) per spike.

References:
    The course notes, ch. 1.6-1.7 (PSC filters, connection weights, the full LIF network
    model).  Rotter and Diesmann (1999), "Exact digital simulation of time-invariant linear
    systems with applications to neuronal modeling", Biol. Cybern. 81:381-402 (exact
    integration of linear sub-threshold dynamics).  Morrison, Straube, Plesser and Diesmann
    (2007), "Exact subthreshold integration with continuous spike times in discrete-time
    neural network simulations", Neural Comput. 19:47-79 (spike times off the grid in a
    time-driven simulation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._kernels import FAST_SYNAPSE_TAU_S
from .._misc import as_float_array, check_int, check_positive, default_float, error_if_any, is_concrete
from .._neurons._lif import LIF
from .._spikes import SpikeTrain, check_overflow
from ._bitmap import bitmap, next_ones
from ._lif_closed_form import exps, interior_max, k_from, kresp, threshold_time
from ._noise import normal_seeds, normals

_LARGE_N = 2048
NON_FINITE_NETWORK = (
    "the network's state became non-finite (NaN or inf): a weight, bias, drive or input is NaN or infinite "
    "(traced values are checked through the state they reach; concrete ones when the network is built)."
)  # from this many neurons on, the default max_spikes_per_step is 16 (else 8)


# =============================================================================== model
class LIFPopulation(eqx.Module):
    """A population of ``size`` identical LIF neurons with exponential synapses.

    Every neuron follows ``tau_m dv/dt = s + J - v``, ``tau_s ds/dt = -s`` (module
    docstring) with the membrane parameters of ``neuron`` and the synaptic time constant
    ``tau_s`` of the synapses onto it.

    Attributes:
        size: number of neurons (static, >= 1).
        neuron: a ``jaxneuro.LIF`` giving ``tau_m`` and ``tau_ref`` (s); ``tau_m`` must be a
            scalar (one population per membrane time constant), ``tau_ref`` a scalar or one
            value per neuron.  Threshold 1 and reset 0 (normalised units).
        tau_s: synaptic time constant (s, > 0) of the synapses onto this population, a
            scalar.  Default ``FAST_SYNAPSE_TAU_S`` (10 ms, the notes' fast synapse).
        bias: constant bias current per neuron (normalised input), shape ``(size,)``
            (a scalar is broadcast).
        noise: standard deviation ``sigma`` of a white-noise current, a scalar >= 0:
            ``tau_m dv/dt = ... + sigma sqrt(tau_m) xi(t)``, so that the free membrane
            fluctuates with standard deviation ``sigma / sqrt(2)``.  Realised as a current
            ``sigma sqrt(tau_m/dt) z_k`` held for each step (``z_k`` standard normal).
        name: a label used to address the population in ``LIFNetwork(weights=...)``.
    """

    size: int = eqx.field(static=True)
    neuron: LIF = eqx.field(default_factory=LIF)
    tau_s: Float[Array, ""] = eqx.field(converter=as_float_array, default=FAST_SYNAPSE_TAU_S)
    bias: Float[Array, " size"] = eqx.field(converter=as_float_array, default=0.0)
    noise: Float[Array, ""] = eqx.field(converter=as_float_array, default=0.0)
    name: str = eqx.field(static=True, default="")

    def __check_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ValueError(f"LIFPopulation: size must be a positive int, got {self.size!r}.")
        if not isinstance(self.neuron, LIF):
            raise ValueError(f"LIFPopulation: neuron must be a jaxneuro.LIF, got {type(self.neuron).__name__}.")
        if jnp.ndim(self.neuron.tau_m) != 0:
            raise ValueError(
                f"LIFPopulation: neuron.tau_m must be a scalar (got shape {jnp.shape(self.neuron.tau_m)}); "
                "use one population per membrane time constant."
            )
        if jnp.shape(self.neuron.tau_ref) not in ((), (self.size,)):
            raise ValueError(
                f"LIFPopulation: neuron.tau_ref must be a scalar or have shape ({self.size},), "
                f"got shape {jnp.shape(self.neuron.tau_ref)}."
            )
        if jnp.ndim(self.tau_s) != 0:
            raise ValueError(f"LIFPopulation: tau_s must be a scalar, got shape {jnp.shape(self.tau_s)}.")
        if jnp.shape(self.bias) not in ((), (self.size,)):
            raise ValueError(
                f"LIFPopulation: bias must be a scalar or have shape ({self.size},), got shape {jnp.shape(self.bias)}."
            )
        if jnp.ndim(self.noise) != 0:
            raise ValueError(f"LIFPopulation: noise must be a scalar, got shape {jnp.shape(self.noise)}.")
        if is_concrete(self.tau_s):
            check_positive("tau_s", self.tau_s, unit="s")
        if is_concrete(self.bias):
            _finite("bias", self.bias)
        if is_concrete(self.noise):
            _nonneg("noise", self.noise)


def _finite(name: str, value: Any) -> None:
    if not np.all(np.isfinite(np.asarray(value))):
        raise ValueError(f"{name} must be finite, got {name} = {np.asarray(value)}.")


def _nonneg(name: str, value: Any) -> None:
    v = np.asarray(value)
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ValueError(f"{name} must be finite and in [0, inf), got {name} = {v}.")


class Connection(eqx.Module):
    """Weights from population ``pre`` to population ``post``: ``weight[i, j] = w_ij``, the
    charge (normalised input x s) that a spike of neuron ``j`` of ``pre`` delivers to neuron
    ``i`` of ``post``; shape ``(post.size, pre.size)`` as in the notes' ``W in R^(M x N)``.

    Stored transposed, as ``weight_t`` of shape ``(pre.size, post.size)``: row ``j`` holds
    the weights out of neuron ``j``, the contiguous row a spike of ``j`` reads in
    ``simulate_network``.  The transposition happens once, here, not in every simulation
    (for 4,000 neurons, transposing ``W`` costs some 50 ms, a sixth of a 1 s run).
    Gradients with respect to the network arrive in ``weight_t``; ``weight`` is its
    transpose.
    """

    post: int = eqx.field(static=True)
    pre: int = eqx.field(static=True)
    weight_t: Float[Array, "pre post"]

    def __init__(self, post: int, pre: int, weight: Float[ArrayLike, "post pre"]):
        """Args: ``post``, ``pre``: population indices; ``weight``: shape ``(post.size, pre.size)``."""
        self.post = post
        self.pre = pre
        weight = as_float_array(weight)
        if weight.ndim != 2:
            raise ValueError(f"Connection: weight must be a matrix (post.size, pre.size), got shape {weight.shape}.")
        self.weight_t = weight.T

    @property
    def weight(self) -> Float[Array, "post pre"]:
        """The ``(post.size, pre.size)`` matrix ``W`` of the notes."""
        return self.weight_t.T


class LIFNetwork(eqx.Module):
    """Populations of LIF neurons and the weight matrices between them (notes ch. 1.7).

    Neurons are numbered population by population in the order given (population ``p``
    holds neurons ``offsets[p] .. offsets[p] + size_p - 1``).  Build it with

        LIFNetwork([exc, inh], {("exc", "exc"): W_ee, ("inh", "exc"): W_ie, ...})

    where a key is ``(post, pre)`` (names or indices) and its matrix has shape
    ``(post.size, pre.size)``.  Pairs without a matrix are not connected; a matrix may be
    feed-forward (``post != pre``) or recurrent (``post == pre``).  ``LIFNetwork.from_weights``
    builds a single recurrent population.

    Attributes:
        populations: the ``LIFPopulation``s.
        connections: the ``Connection``s, at most one per ``(post, pre)`` pair.
    """

    populations: tuple[LIFPopulation, ...]
    connections: tuple[Connection, ...]

    def __init__(
        self,
        populations: Sequence[LIFPopulation],
        weights: Mapping[tuple[int | str, int | str], ArrayLike] | Sequence[Connection] = (),
    ):
        """Args:
            populations: one or more ``LIFPopulation``s (names, when given, must be unique).
            weights: ``{(post, pre): W}`` with ``W`` of shape ``(post.size, pre.size)``, or a
                sequence of ``Connection``s.

        Raises:
            ValueError: for no populations, duplicate names, an unknown population, a
                duplicated pair, or a weight matrix whose shape does not match.
        """
        pops = tuple(populations)
        if not pops or not all(isinstance(p, LIFPopulation) for p in pops):
            raise ValueError("populations must be a non-empty sequence of LIFPopulation.")
        names = [p.name for p in pops if p.name]
        if len(set(names)) != len(names):
            raise ValueError(f"population names must be unique, got {names}.")

        def index(key: int | str) -> int:
            if isinstance(key, str):
                for k, p in enumerate(pops):
                    if p.name == key:
                        return k
                raise ValueError(f"unknown population {key!r}; the populations are {[p.name for p in pops]}.")
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < len(pops):
                raise ValueError(f"population index must be an int in [0, {len(pops) - 1}], got {key!r}.")
            return int(key)

        if isinstance(weights, Mapping):
            conns = []
            for key, w in weights.items():
                if not (isinstance(key, tuple) and len(key) == 2):
                    raise ValueError(f"a weights key must be a (post, pre) pair, got {key!r}.")
                conns.append(Connection(index(key[0]), index(key[1]), w))
        else:
            conns = list(weights)
            if not all(isinstance(c, Connection) for c in conns):
                raise ValueError("weights must be a mapping {(post, pre): W} or a sequence of Connection.")
            # (kept as given where the indices are already ints: rebuilding would transpose twice)
            ids = [(index(c.post), index(c.pre)) for c in conns]
            conns = [c if (c.post, c.pre) == i else Connection(*i, c.weight) for c, i in zip(conns, ids, strict=True)]
        seen = set()
        for c in conns:
            if (c.post, c.pre) in seen:
                raise ValueError(f"the pair (post={c.post}, pre={c.pre}) is connected twice.")
            seen.add((c.post, c.pre))
            want = (pops[c.post].size, pops[c.pre].size)
            if c.weight.shape != want:
                raise ValueError(
                    f"weight from population {c.pre} ({pops[c.pre].name or 'unnamed'}, size {want[1]}) to "
                    f"population {c.post} ({pops[c.post].name or 'unnamed'}, size {want[0]}) must have shape "
                    f"(post.size, pre.size) = {want}, got shape {c.weight.shape}."
                )
            if is_concrete(c.weight):
                _finite("weight", c.weight)
        self.populations = pops
        self.connections = tuple(conns)

    @classmethod
    def from_weights(
        cls,
        weight: Float[ArrayLike, "n n"],
        neuron: LIF | None = None,
        *,
        tau_s: float | ArrayLike = FAST_SYNAPSE_TAU_S,
        bias: float | ArrayLike = 0.0,
        noise: float | ArrayLike = 0.0,
    ) -> "LIFNetwork":
        """One recurrent population of ``n`` neurons with weights ``weight`` (shape ``(n, n)``,
        ``weight[i, j]`` from ``j`` to ``i``); the other arguments as in ``LIFPopulation``.

        Raises:
            ValueError: if ``weight`` is not a square matrix, or for invalid parameters.
        """
        weight = as_float_array(weight)
        if weight.ndim != 2 or weight.shape[0] != weight.shape[1] or weight.shape[0] < 1:
            raise ValueError(f"weight must be a square (n, n) matrix, got shape {weight.shape}.")
        pop = LIFPopulation(weight.shape[0], LIF() if neuron is None else neuron, tau_s, bias, noise)
        return cls([pop], {(0, 0): weight})

    @property
    def size(self) -> int:
        """Total number of neurons."""
        return sum(p.size for p in self.populations)

    @property
    def offsets(self) -> tuple[int, ...]:
        """Index of the first neuron of each population."""
        return tuple(int(x) for x in np.cumsum([0] + [p.size for p in self.populations])[:-1])

    def population_slice(self, key: int | str) -> slice:
        """The neuron indices of a population (by name or index), as a slice."""
        for k, p in enumerate(self.populations):
            if key == k or (isinstance(key, str) and key == p.name):
                return slice(self.offsets[k], self.offsets[k] + p.size)
        raise ValueError(f"unknown population {key!r}.")

    def weight_matrix(self) -> Float[Array, "n n"]:
        """The full ``(N, N)`` matrix ``W`` (``W[i, j]`` from ``j`` to ``i``), zero between
        unconnected populations."""
        return self.outgoing_weights().T

    def outgoing_weights(self) -> Float[Array, "n n"]:
        """``W^T``: the ``(N, N)`` matrix whose row ``j`` holds the weights out of neuron
        ``j`` (the layout ``simulate_network`` reads).  For one population with a recurrent
        connection this is the stored array itself, not a copy."""
        dtype = jnp.result_type(*[p.neuron.tau_m for p in self.populations], default_float())
        if len(self.populations) == 1 and len(self.connections) == 1:
            return self.connections[0].weight_t.astype(dtype)
        off = self.offsets
        w = jnp.zeros((self.size, self.size), dtype)
        for c in self.connections:
            po, pr = off[c.post], off[c.pre]
            w = w.at[pr : pr + c.weight_t.shape[0], po : po + c.weight_t.shape[1]].set(c.weight_t.astype(dtype))
        return w


class NetworkState(NamedTuple):
    """The state of every neuron at a step boundary (arrays of shape ``(N,)``).

    Attributes:
        v: membrane potential (normalised).
        s: synaptic current (normalised input).
        refractory: time (s) until the refractory period ends; zero or negative when the
            neuron is free (minus the time since it ended, kept down to ``-2 dt``).
        last_drive: the external drive of the step that ended here (used to time, by
            integrating backwards, a crossing caused by an input in that step).
    """

    v: Float[Array, " n"]
    s: Float[Array, " n"]
    refractory: Float[Array, " n"]
    last_drive: Float[Array, " n"]


class NetworkResult(eqx.Module):
    """What ``simulate_network`` returns.

    Attributes:
        spikes: the spike times of every neuron, a ``SpikeTrain`` of shape ``(N, capacity)``
            (``None`` with ``record_spikes=False``).
        spike_count: spikes per neuron, shape ``(N,)`` (always recorded).
        ts: times (s) of the recorded traces, shape ``(records,)`` (``None`` without traces).
        v: membrane potentials at ``ts``, shape ``(records, traced neurons)``, or ``None``.
        s: synaptic currents at ``ts``, same shape, or ``None``.
        final_state: the ``NetworkState`` at the end (to continue a simulation).
        duration: simulated time (s).
    """

    spikes: SpikeTrain | None
    spike_count: Int[Array, " n"]
    ts: Float[Array, " records"] | None
    v: Float[Array, "records traced"] | None
    s: Float[Array, "records traced"] | None
    final_state: NetworkState
    duration: float = eqx.field(static=True)

    def rates(self) -> Float[Array, " n"]:
        """Mean firing rate of each neuron over the run, in Hz."""
        return self.spike_count / self.duration


# =============================================================================== simulation
def _sequential(pred: Array, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, run as a conditional of its own (``pred`` must be True, and traced).

    XLA's CPU runtime executes a program whose independent kernels could overlap on its
    thread pool, handing kernels between threads; for the few microsecond-sized kernels of a
    time step those hand-offs cost more than the kernels (much more on a busy machine).  A
    conditional's branch is a program of its own, and a short one is run in order on the
    calling thread.  Under ``vmap`` the conditional becomes a select of both branches: the
    other one returns zeros.
    """
    shapes = jax.eval_shape(fn, *args)
    return lax.cond(pred, fn, lambda *_: jax.tree.map(lambda sd: jnp.zeros(sd.shape, sd.dtype), shapes), *args)


class _Pop(NamedTuple):  # per-population scalars and its slice
    start: int
    size: int
    inv_tm: Array
    inv_ts: Array
    a: Array


def simulate_lif_network(
    network: LIFNetwork,
    duration: float,
    *,
    dt: float = 1e-4,
    t0: float | ArrayLike = 0.0,
    drive: Callable[[Array], ArrayLike] | Float[ArrayLike, " steps"] | Float[ArrayLike, "steps n"] | None = None,
    inputs: tuple[SpikeTrain, Float[ArrayLike, "n n_in"]] | None = None,
    key: PRNGKeyArray | None = None,
    state0: NetworkState | None = None,
    record_spikes: bool = True,
    max_spikes: int | None = None,
    trace_every: int | None = None,
    trace_neurons: Sequence[int] | Int[ArrayLike, " k"] | None = None,
    max_spikes_per_step: int | None = None,
    max_input_spikes_per_step: int | None = None,
    differentiable: bool = False,
    on_overflow: Literal["error", "flag"] = "error",
) -> NetworkResult:
    """Simulate a ``LIFNetwork`` for ``duration`` seconds (module docstring for the method).

    Everything is one ``lax.scan`` over steps; wrap the call in ``jax.jit`` (``duration``,
    ``dt`` and the recording options are static) and ``jax.vmap`` it over keys (trials),
    drives or stacked networks (parameter sets).  On the CPU, call
    ``jaxneuro.experimental.enable_cpu_loop_kernels()`` before any JAX computation: XLA then compiles the
    time loop as one kernel (measured: 2x faster at N = 1000, 1.2x at N = 4000; the same
    spikes).  With XLA's default options a step is some 60 small kernels, and on a busy or
    2-core machine XLA's thread pool costs more than it gains for them: pinning the process
    to one core (``taskset -c 0 python ...``) runs faster (about 1.3x).  For a weight matrix
    larger than the caches, starting Python with ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``
    (transparent huge pages for large allocations) cuts the page-table walks of reading its
    rows: 5-10% at N = 4000.  Build the network outside the jitted function when you can:
    its weights are then transposed once, not in every call.

    Args:
        network: the ``LIFNetwork``.
        duration: simulated time in s (> 0, a multiple of ``dt``; static).
        dt: time step in s (static), at most half of every ``tau_ref`` (a neuron fires at
            most once per step and stays refractory to the end of it).  Spike times are
            not rounded to the grid; ``dt`` sets how finely the drive is sampled.
        t0: start time (s).
        drive: external current added to the biases: ``None``; a callable ``drive(t)``
            returning shape ``(N,)`` or a scalar, evaluated at the middle of each step; or
            an array with one row per step, shape ``(steps, N)`` or ``(steps,)``.
        inputs: ``(train, W_in)``: input spike trains (a ``SpikeTrain`` of shape
            ``(n_in, capacity)``) and their weights ``W_in`` of shape ``(N, n_in)``
            (charges, like ``W``).  Input spikes are delivered at their exact times.
        key: PRNG key for the noise (required when any population has ``noise > 0``).
        state0: initial ``NetworkState`` (default ``v = s = 0``, not refractory).
        record_spikes: keep spike times (``result.spikes``); counts are always kept.
        max_spikes: spike-time capacity per neuron (static).  Default: the most a neuron
            can fire, ``ceil(duration / tau_ref) + 1``, so it never overflows.
        trace_every: record ``v`` and ``s`` every this many steps (at the start of each
            block, so ``ts[0] = t0``); ``None`` records no traces, and then memory does not
            grow with steps x neurons.
        trace_neurons: indices of the neurons to trace (default all).
        max_spikes_per_step: how many spikes one pass picks up (static; default 8 below 2,048
            neurons and 16 from there or with ``differentiable=True``: the fastest measured for
            1,000 and 4,000 neurons at 30 Hz and dt = 0.1 ms).  More spikes in a step are
            handled by further passes, except with ``differentiable=True``, where it is a hard
            bound (an error if exceeded).
        max_input_spikes_per_step: with ``differentiable=True``, the bound on input spikes
            within one step (default: computed from concrete ``inputs``).
        differentiable: use loops of static length so that reverse-mode ``jax.grad``
            works (the default, dynamic loops support forward mode, ``jax.jvp``/``jacfwd``).
        on_overflow: ``"error"`` raises when a neuron fires more than ``max_spikes`` times;
            ``"flag"`` returns the first ones with ``result.spikes.overflow`` set.

    Returns:
        A ``NetworkResult``.

    Raises:
        ValueError: for a duration that is not a positive multiple of ``dt``, ``dt`` above
            ``tau_ref / 2``, drive/inputs/state shapes that do not match the network, an
            initial ``v`` at or above threshold, a missing key, bad recording options, or
            (``differentiable=True``) more spikes in a step than the static bounds.
            Traced values are checked at run time with ``eqx.error_if``.
    """
    if not isinstance(network, LIFNetwork):
        raise ValueError(f"network must be a LIFNetwork, got {type(network).__name__}.")
    if on_overflow not in ("error", "flag"):
        raise ValueError(f"on_overflow must be 'error' or 'flag', got {on_overflow!r}.")
    if not isinstance(duration, (int, float, np.integer, np.floating)) or isinstance(duration, bool):
        raise ValueError(f"duration must be a Python number of seconds (static), got {duration!r}.")
    if not isinstance(dt, (int, float, np.integer, np.floating)) or isinstance(dt, bool):
        raise ValueError(f"dt must be a Python number of seconds (static), got {dt!r}.")
    duration, dt = float(duration), float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and in (0, inf) s; got dt = {dt:g}.")
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be finite and in (0, inf) s; got duration = {duration:g}.")
    steps = int(round(duration / dt))
    if steps < 1 or abs(steps * dt - duration) > 1e-9 * max(1.0, duration):
        raise ValueError(f"duration must be a positive multiple of dt; got duration = {duration:g}, dt = {dt:g}.")
    pops = network.populations
    N = network.size
    if max_spikes_per_step is None:
        max_spikes_per_step = 8 if N < _LARGE_N and not differentiable else 16
    K = check_int("max_spikes_per_step", max_spikes_per_step)
    K = min(K, N)
    # spikes delivered per kernel: a divisor of K, below K (a single group per chunk lets XLA
    # hoist and fuse the delivery badly)
    G = math.gcd(K, 8) if K > 8 else max(1, K // 2)
    dtype = jnp.result_type(*[p.neuron.tau_m for p in pops], *[p.tau_s for p in pops], default_float())

    # ------------------------------------------------------------------ per-neuron constants
    tau_m_p, tau_s_p, tau_ref_n, bias_n, noise_n, tr_concrete, tr_p = [], [], [], [], [], [], []
    for p in pops:
        tm = check_positive("tau_m", p.neuron.tau_m, unit="s").astype(dtype)
        ts_ = check_positive("tau_s", p.tau_s, unit="s").astype(dtype)
        # (concreteness is judged on the fields themselves: inside jit any array op is traced)
        tr = check_positive("tau_ref", p.neuron.tau_ref, unit="s")
        if is_concrete(tr):
            if np.any(np.asarray(tr) < 2 * dt * (1 - 1e-9)):
                raise ValueError(
                    f"dt must be at most tau_ref / 2 (a neuron fires at most once per step); got dt = {dt:g} s "
                    f"and tau_ref = {float(np.min(np.asarray(tr))):g} s (population {p.name or pops.index(p)})."
                )
            tr_concrete.append(float(np.min(np.asarray(tr))))
        else:
            tr = eqx.error_if(tr, jnp.any(tr < 2 * dt * (1 - 1e-9)), "dt must be at most tau_ref / 2 (traced tau_ref).")
        tr = tr.astype(dtype)
        nz = p.noise
        if not is_concrete(nz):
            nz = eqx.error_if(nz, nz < 0, "noise must be >= 0 (traced value).")
        nz = nz.astype(dtype)
        tau_m_p.append(tm)
        tau_s_p.append(ts_)
        tau_ref_n.append(jnp.broadcast_to(tr, (p.size,)))
        tr_p.append(tr)
        bias_n.append(jnp.broadcast_to(p.bias.astype(dtype), (p.size,)))
        noise_n.append(jnp.broadcast_to(nz * jnp.sqrt(tm / dt), (p.size,)))
    sizes = [p.size for p in pops]
    rep = lambda xs: jnp.concatenate([jnp.broadcast_to(x, (n,)) for x, n in zip(xs, sizes, strict=True)])  # noqa: E731
    inv_tm = 1.0 / rep(tau_m_p)
    inv_ts = 1.0 / rep(tau_s_p)
    a_n = inv_tm - inv_ts
    tau_ref = jnp.concatenate(tau_ref_n)
    bias = jnp.concatenate(bias_n)
    noise_scale = jnp.concatenate(noise_n)
    dt_a = jnp.asarray(dt, dtype)
    em_dt = jnp.exp(-dt_a * inv_tm)
    es_dt = jnp.exp(-dt_a * inv_ts)
    k_dt = kresp(dt_a, inv_tm, a_n)
    offs = network.offsets
    pinfo = [
        _Pop(offs[k], sizes[k], 1.0 / tau_m_p[k], 1.0 / tau_s_p[k], 1.0 / tau_m_p[k] - 1.0 / tau_s_p[k])
        for k in range(len(pops))
    ]

    # Noise is drawn when a key is given and the noise level may be nonzero.  Without a key,
    # a concrete nonzero level is an error at once and a traced one at run time.
    concrete_noise = [float(p.noise) if is_concrete(p.noise) else None for p in pops]
    if key is None:
        if any(x is not None and x > 0 for x in concrete_noise):
            raise ValueError("key is required: a population has noise > 0.")
        if any(x is None for x in concrete_noise):
            bias = eqx.error_if(  # attached to a value that is used
                bias, jnp.any(noise_scale != 0), "key is required: a population has noise > 0 (traced)."
            )
        has_noise = False
    else:
        has_noise = any(x is None or x > 0 for x in concrete_noise)
    seeds = jax.random.bits(key, (2,), dtype=jnp.uint32) if has_noise else jnp.zeros((2,), jnp.uint32)
    pairs = normal_seeds(seeds, N) if has_noise else None

    # ------------------------------------------------------------------ weights and inputs
    WT = network.outgoing_weights().astype(dtype)  # row j: weights out of neuron j
    n_in = 0
    if inputs is not None:
        if not (isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(inputs[0], SpikeTrain)):
            raise ValueError("inputs must be a pair (SpikeTrain of shape (n_in, capacity), W_in of shape (N, n_in)).")
        train, w_in = inputs
        if train.times.ndim != 2:
            raise ValueError(f"inputs: the SpikeTrain must have shape (n_in, capacity), got {train.times.shape}.")
        n_in = train.times.shape[0]
        w_in = as_float_array(w_in)
        if w_in.shape != (N, n_in):
            raise ValueError(f"inputs: W_in must have shape (N, n_in) = ({N}, {n_in}), got shape {w_in.shape}.")
        train = check_overflow(train, "simulate_network inputs").validate()
        WT = jnp.concatenate([WT, w_in.astype(dtype).T], axis=0)
        flat_t = train.times.reshape(-1).astype(dtype)
        flat_src = jnp.repeat(jnp.arange(n_in, dtype=jnp.int32), train.capacity) + N
        flat_t = jnp.where(train.mask.reshape(-1), flat_t, jnp.inf)
        order = jnp.argsort(flat_t, stable=True)
        ev_t = flat_t[order] - t0  # relative to t0
        ev_src = flat_src[order]
        edges = jnp.searchsorted(ev_t, jnp.arange(steps + 1, dtype=dtype) * dt_a, side="left").astype(jnp.int32)
        if differentiable:
            if max_input_spikes_per_step is None:
                if not (is_concrete(train.times) and is_concrete(train.count) and is_concrete(t0)):
                    raise ValueError(
                        "max_input_spikes_per_step is required with differentiable=True and traced inputs."
                    )
                t_np = np.sort(np.asarray(train.times)[np.asarray(train.mask)].ravel()) - float(np.asarray(t0))
                e_np = np.searchsorted(t_np, np.arange(steps + 1) * dt, side="left")
                max_input_spikes_per_step = max(1, int(np.max(np.diff(e_np))))
            K_in = check_int("max_input_spikes_per_step", max_input_spikes_per_step)
            ev_t = jnp.concatenate([ev_t, jnp.full((K_in,), jnp.inf, dtype)])
            ev_src = jnp.concatenate([ev_src, jnp.full((K_in,), N, jnp.int32)])

    # ------------------------------------------------------------------ drive
    drive_fn = None
    drive_arr = None
    if drive is not None:
        if callable(drive):
            drive_fn = drive
        else:
            drive_arr = as_float_array(drive).astype(dtype)
            if drive_arr.shape not in ((steps,), (steps, N)):
                raise ValueError(
                    f"drive as an array must have shape (steps,) = ({steps},) or (steps, N) = ({steps}, {N}), "
                    f"got shape {drive_arr.shape}."
                )
            if drive_arr.ndim == 1:
                drive_arr = drive_arr[:, None]

    t0 = as_float_array(t0).astype(dtype)
    if t0.ndim != 0:
        raise ValueError(f"t0 must be a scalar, got shape {t0.shape}.")

    if drive_fn is not None:
        d_shape = jax.eval_shape(drive_fn, jax.ShapeDtypeStruct((), dtype)).shape
        if d_shape not in ((), (N,)):
            raise ValueError(f"drive(t) must return a scalar or shape (N,) = ({N},), got shape {d_shape}.")

    def drive_at(n, noise_row=None):
        """The drive of step ``n`` (held over the step); ``noise_row``: its standard normals."""
        J = bias
        if drive_fn is not None:
            J = J + jnp.asarray(drive_fn(t0 + (n.astype(dtype) + 0.5) * dt_a), dtype)
        if drive_arr is not None:
            J = J + drive_arr[n]
        if noise_row is not None:
            J = J + noise_scale * noise_row
        return J

    # ------------------------------------------------------------------ initial state
    if state0 is None:
        state0 = NetworkState(
            jnp.zeros(N, dtype),
            jnp.zeros(N, dtype),
            jnp.full(N, -2.0 * dt, dtype),
            drive_at(
                jnp.asarray(0), normals(seeds, jnp.zeros((1,), jnp.int32), N, dtype, pairs)[0] if has_noise else None
            ),
        )
    else:
        if not isinstance(state0, NetworkState):
            raise ValueError("state0 must be a NetworkState.")
        for name, x in zip(NetworkState._fields, state0, strict=True):
            if jnp.shape(x) != (N,):
                raise ValueError(f"state0.{name} must have shape (N,) = ({N},), got shape {jnp.shape(x)}.")
        if is_concrete(state0.v):
            v0 = np.asarray(state0.v)
            if np.any(~np.isfinite(v0)) or np.any(v0 >= 1.0):
                raise ValueError(
                    f"state0.v must be finite and below the threshold 1, in (-inf, 1); got max {np.max(v0):g}."
                )
            v0 = jnp.asarray(v0, dtype)
        else:
            v0 = jnp.asarray(state0.v, dtype)
            v0 = eqx.error_if(v0, jnp.any(~(v0 < 1.0)), "state0.v must be below the threshold 1 (traced value).")
        state0 = NetworkState(v0, *(jnp.asarray(x, dtype) for x in state0[1:]))

    # ------------------------------------------------------------------ recording
    if record_spikes:
        if max_spikes is None:
            if len(tr_concrete) < len(pops):
                raise ValueError("max_spikes is required when tau_ref is traced (the spike buffer has a static size).")
            max_spikes = int(math.ceil(duration / min(tr_concrete) * (1 + 1e-9))) + 1
        cap = check_int("max_spikes", max_spikes)
    else:
        cap = 0
    if trace_every is not None:
        trace_every = check_int("trace_every", trace_every)
        if trace_every > steps:
            raise ValueError(f"trace_every must be an int in [1, steps = {steps}], got {trace_every}.")
        if trace_neurons is None:
            trace_idx = None
        else:
            trace_idx = np.asarray(trace_neurons)
            if trace_idx.ndim != 1 or not np.issubdtype(trace_idx.dtype, np.integer):
                raise ValueError(f"trace_neurons must be a 1-D sequence of ints, got {trace_neurons!r}.")
            if trace_idx.size and (trace_idx.min() < 0 or trace_idx.max() >= N):
                raise ValueError(f"trace_neurons must lie in [0, N - 1] = [0, {N - 1}], got {trace_neurons!r}.")

    # ------------------------------------------------------------------ one step
    # The refractory clock is kept in steps, ``yq = y/dt``: it drops by exactly 1 per step (an
    # exact float subtraction for ``yq >= 1``), so the offset ``frac(yq) dt`` of the release
    # inside its step is known at the spike, and the decays over the rest of that step are
    # computed once per spike (with the spike's other K-sized work), not in every step for
    # every neuron.  Per neuron, ``em_r = e^(-(dt - y_r)/tau_m)`` and ``hr = e^(-y_r/tau_s)
    # K(dt - y_r)`` (``y_r``: the release offset) give the state at the end of the release
    # step, ``v = J (1 - em_r) + s hr`` (``v = 0`` and ``s`` from the step start).
    n_pop = len(pinfo)
    inv_dt = 1.0 / dt_a
    if n_pop == 1:  # scalars: the elementwise step reads only the state
        p0 = pinfo[0]
        c_itm, c_its, c_a = p0.inv_tm, p0.inv_ts, p0.a
        c_em, c_es = jnp.exp(-dt_a * p0.inv_tm), jnp.exp(-dt_a * p0.inv_ts)
        c_k = kresp(dt_a, p0.inv_tm, p0.a)
        consts = None if jnp.ndim(tr_p[0]) == 0 else tau_ref[None]  # (1, N), gathered per spiker
    else:
        c_itm, c_its, c_a, c_em, c_es, c_k = inv_tm, inv_ts, a_n, em_dt, es_dt, k_dt
        consts = jnp.stack([inv_tm, inv_ts, a_n, em_dt, es_dt, k_dt, tau_ref])  # (7, N), gathered per spiker
    c_ratio = c_em / c_es

    def release_factors(yq, i_tm, i_ts, a):
        """``(em_r, hr, er)`` for the release step of a neuron whose clock reads ``yq >= -1``
        (the release at offset ``y_r = frac(yq) dt`` in the step where ``0 <= yq < 1``):
        ``e^(-(dt - y_r)/tau_m)``, ``e^(-y_r/tau_s) K(dt - y_r)`` and ``e^(-y_r/tau_s)``."""
        y_r = (yq - jnp.floor(yq)) * dt_a
        u = dt_a - y_r
        em_r, es_r, er = exps(-u * i_tm, -u * i_ts, -y_r * i_ts)
        return em_r, er * k_from(u, em_r, es_r, i_tm, a), er

    def coefficients(z, extra=()):
        """Per receiving population, for spikes at offsets ``z`` (from the step start): the jump
        of ``s`` left at the end of the step, ``q = e^(-(dt - z)/tau_s)/tau_s``; the response of
        ``v`` at the end, ``g = K(dt - z)/tau_s``; and ``e = e^(z/tau_s)/tau_s``, which times
        ``hy`` gives the response of a target released at ``y > z``.  ``extra``: further
        exponents, whose exponentials are computed by the same kernel and returned after."""
        u = dt_a - z
        args = [x for p in pinfo for x in (-u * p.inv_tm, -u * p.inv_ts, z * p.inv_ts)]
        ex = exps(*args, *extra)
        out = []
        for k, p in enumerate(pinfo):
            em, es, ez = ex[3 * k : 3 * k + 3]
            out.append((es * p.inv_ts, k_from(u, em, es, p.inv_tm, p.a) * p.inv_ts, ez * p.inv_ts))
        return out, ex[3 * n_pop :]

    def deliver(acc, js, zs, coef, yq, hy):
        """Add the exact effect of spikes from rows ``js`` of ``WT`` at offsets ``zs`` to the
        end-of-step state ``acc = (v, s)`` (a few at once: one kernel reads all their rows,
        which the memory system overlaps).  ``coef``: shape ``(3 P, len(js))``, the ``(q, g,
        e)`` of each receiving population.  A target released at ``y = yq dt`` after the
        spike responds from its release (``hy e``); refractory targets have ``hy = 0``."""
        acc_v, acc_s = acc
        rows = [lax.dynamic_index_in_dim(WT, j, axis=0, keepdims=False) for j in js]
        dvs, dss = [], []
        for pi, p in enumerate(pinfo):
            seg = slice(p.start, p.start + p.size)
            yqs, hs = yq[seg], hy[seg]
            ds = dv = 0.0
            for r, (row, z) in enumerate(zip(rows, zs, strict=True)):
                q, g, e = coef[3 * pi, r], coef[3 * pi + 1, r], coef[3 * pi + 2, r]
                ds = ds + row[seg] * q
                dv = dv + row[seg] * jnp.where(z * inv_dt >= yqs, g, hs * e)  # spike after the release
            dvs.append(jnp.broadcast_to(dv, (p.size,)))
            dss.append(jnp.broadcast_to(ds, (p.size,)))
        # (the segments joined, not added with .at[seg]: that is a scatter, which XLA
        # cannot compile into a loop's kernel)
        return acc_v + jnp.concatenate(dvs), acc_s + jnp.concatenate(dss)

    def free_part(v, s, yq, J, rel, em_c, k_c):
        """The free evolution over the step of candidates with state ``(v, s, yq)``: where it
        starts (``fs``), its length ``h``, the state there and at the end of the step, from
        the release factors ``rel`` and the decays ``em_c, k_c`` over a whole step.
        Elementwise, without exponentials."""
        em_r, hr, er = rel
        whole = yq >= 1.0  # refractory for the whole step
        inside = (yq > 0) & ~whole  # released inside the step, at offset y = yq dt
        fs = jnp.where(inside, yq * dt_a, 0.0)
        h = dt_a - fs
        v_fs = jnp.where(yq >= 0, 0.0, v)
        s_fs = jnp.where(inside, s * er, s)
        v_T = jnp.where(inside, J - J * em_r + s * hr, J + (v_fs - J) * em_c + s * k_c)
        return whole, fs, h, v_fs, s_fs, v_T

    def crossing_kind(v, y, fs_state):
        """``late``: pushed over threshold by an input late in the previous step; ``end``:
        above threshold at the end of the step; ``maybe``: ``v`` peaks inside the step and a
        cheap bound does not exclude a crossing there."""
        whole, fs, h, v_fs, s_fs, v_T, J, s_T, i_tm = fs_state
        late = (v >= 1.0) & (y <= 0)
        end = (v_T >= 1.0) & ~whole
        d0 = s_fs + J - v_fs  # tau_m v' at the start and end of the free part
        d1 = s_T + J - v_T
        bound = v_fs + h * (jnp.maximum(s_fs, s_T) + J - jnp.minimum(v_fs, v_T)) * i_tm
        maybe = (~whole) & (~end) & (~late) & (d0 > 0) & (d1 < 0) & (bound >= 1.0)
        return late, end, maybe

    def pass1(v, s, yq, rel, n, noise_row):
        """Every neuron over the step, elementwise and without exponentials: the state at the
        end of the step (before this step's spikes), ``hy`` (the response at the end of the
        step of a target released in this step or the last one, per unit jump of ``s`` at its
        release; 0 while refractory) and whether the neuron may cross threshold: a superset
        of the exact test of ``decide`` (for a neuron released inside the step, its ``s`` at
        the release is bounded by ``s`` and ``s_T``).  The drive is computed here, fused with
        its use (it is not kept: ``decide`` recomputes it for the candidates)."""
        J = drive_at(n, noise_row)
        em_r, hr = rel[0], rel[1]
        whole = yq >= 1.0
        released = (yq >= 0.0) & ~whole  # inside this step (or at its start)
        v = jnp.where(yq >= 0.0, 0.0, v)  # held at the reset while refractory
        s_T = s * c_es
        v_T = jnp.where(whole, 0.0, jnp.where(released, J - J * em_r + s * hr, J + (v - J) * c_em + s * c_k))
        hy = jnp.where(released, hr, jnp.where(yq >= -1.0, hr * c_ratio + c_k, 0.0))
        hy = jnp.where(whole, 0.0, hy)
        late = (v >= 1.0) & (yq <= 0.0)
        end = (v_T >= 1.0) & ~whole
        s_max = jnp.maximum(s, s_T)
        d0 = s_max + J - v
        d1 = s_T + J - v_T
        bound = v + dt_a * (s_max + J - jnp.minimum(v, v_T)) * c_itm
        maybe = (~whole) & (~end) & (~late) & (d0 > 0) & (d1 < 0) & (bound >= 1.0)
        # (float, not bool, reductions: XLA's CPU reduction of bool arrays is slow)
        cand_f = (late | end | maybe).astype(dtype)
        total = jnp.sum(cand_f).astype(jnp.int32) if differentiable else jnp.zeros((), jnp.int32)
        return v_T, s_T, hy, jnp.maximum(yq - 1.0, -2.0), cand_f, total

    kk = jnp.arange(K)

    def step(carry, n, noise, n_first):
        """Step ``n``; ``noise``: ``None`` or ``(block, k)``, the standard normals of steps
        ``n - 1`` and ``n`` being rows ``k`` and ``k + 1`` of ``block`` (passed whole and
        indexed where used: a row sliced out would be a kernel and a buffer of its own);
        ``n_first``: the first step of this run, before which the drive was ``j0``."""
        (v, s, yq, j0, rel), (times, counts) = carry

        def rows(block, k):
            if block is None:
                return None, None
            return (
                lax.dynamic_index_in_dim(block, k, keepdims=False),
                lax.dynamic_index_in_dim(block, k + 1, keepdims=False),
            )

        block, k = noise if noise is not None else (None, None)

        # ---- 1. every neuron over the step, and who may cross
        v_T, s_T, hy, yq_next, cand_f, total = _sequential(
            n >= 0, lambda v, s, yq, rel, block, k: pass1(v, s, yq, rel, n, rows(block, k)[1]), v, s, yq, rel, block, k
        )
        t_n = t0 + n.astype(dtype) * dt_a

        # ---- 2-3. spike times, resets and delivery for up to K candidates
        def decide(idx, n_valid, v, s, yq, j0, rel, counts, block, k):
            """For candidates ``idx`` (arrays of K entries): does each fire, when (offset ``z``
            from the step start), its delivery coefficients per receiving population, its
            release clock and factors.  Works on K-sized arrays only, so that XLA runs it
            as one short sequential program (written with few stages of exponentials: each
            XLA kernel costs more to launch than its work here, unless the whole loop is
            compiled as one kernel, ``enable_cpu_loop_kernels``).  Returns, in the shapes
            their consumers take, ``z``, the ``(3 P, K)`` coefficients, the spike times, the
            new clocks, the ``(3, K)`` release factors, which fired and their spike counts
            before this step."""
            v_k, s_k, yq_k = (jnp.take(x, idx) for x in (v, s, yq))
            row_prev, row = rows(block, k)
            # the drive of this step and of the last one (for crossings timed backwards)
            J_k = jnp.take(jnp.broadcast_to(drive_at(n, row), (N,)), idx)
            jp_k = jnp.where(
                n == n_first, jnp.take(j0, idx), jnp.take(jnp.broadcast_to(drive_at(n - 1, row_prev), (N,)), idx)
            )
            rel_k = jnp.take(rel, idx, axis=1)
            cnt_k = jnp.take(counts, idx)
            if consts is None:
                i_tm, i_ts, a_k, em_c, es_c, k_c, tr_k = c_itm, c_its, c_a, c_em, c_es, c_k, tr_p[0]
            elif n_pop == 1:
                i_tm, i_ts, a_k, em_c, es_c, k_c = c_itm, c_its, c_a, c_em, c_es, c_k
                tr_k = jnp.take(consts[0], idx)
            else:
                i_tm, i_ts, a_k, em_c, es_c, k_c, tr_k = jnp.take(consts, idx, axis=1)
            v_k = jnp.where(yq_k >= 0, 0.0, v_k)
            y_k = yq_k * dt_a
            valid = kk < n_valid
            whole_k, fs_k, h_k, vfs_k, sfs_k, vT_k = free_part(v_k, s_k, yq_k, J_k, rel_k, em_c, k_c)
            late_k, end_k, maybe_k = crossing_kind(
                v_k, y_k, (whole_k, fs_k, h_k, vfs_k, sfs_k, vT_k, J_k, s_k * es_c, i_tm)
            )

            def peak(v_k, s_k, yq_k, J_k, rel_k, i_tm, i_ts, a_k, em_c, k_c):
                # (from the gathered values, so that the free part is not materialised as
                # operands of the conditional: that costs a kernel per array)
                _, _, h, vfs, sfs, _ = free_part(v_k, s_k, yq_k, J_k, rel_k, em_c, k_c)
                return interior_max(h, vfs, sfs, J_k, i_tm, i_ts, a_k)

            u_pk, v_pk = lax.cond(
                jnp.max(maybe_k.astype(dtype)) > 0,
                peak,
                lambda *_: (jnp.zeros_like(v_k), jnp.zeros_like(v_k)),
                v_k,
                s_k,
                yq_k,
                J_k,
                rel_k,
                i_tm,
                i_ts,
                a_k,
                em_c,
                k_c,
            )
            fires = valid & (late_k | end_k | (maybe_k & (v_pk >= 1.0)))
            # bracket: forward from the start of the free part, or backwards from the start of
            # the step with last step's drive (late crossings)
            lo = jnp.where(late_k, jnp.maximum(-dt_a, y_k), 0.0)
            hi = jnp.where(late_k, 0.0, jnp.where(end_k, h_k, u_pk))
            z = jnp.where(late_k, 0.0, fs_k) + threshold_time(
                lo,
                hi,
                jnp.where(late_k, v_k, vfs_k),
                jnp.where(late_k, s_k, sfs_k),
                jnp.where(late_k, jp_k, J_k),
                i_tm,
                i_ts,
                a_k,
            )
            z = jnp.where(fires, z, 0.0)
            # the release clock and factors, with the delivery coefficients in one kernel
            yq_new = (z + tr_k) * inv_dt - 1.0  # >= 0: tau_ref >= 2 dt and z >= -dt
            y_r = (yq_new - jnp.floor(yq_new)) * dt_a
            u_r = dt_a - y_r
            coef, (em_r, es_r, er) = coefficients(z, (-u_r * i_tm, -u_r * i_ts, -y_r * i_ts))
            hr = er * k_from(u_r, em_r, es_r, i_tm, a_k)
            coef = jnp.stack([jnp.where(fires, c, 0.0) for cp in coef for c in cp])
            return z, coef, t_n + z, yq_new, jnp.stack([em_r, hr, er]), fires, cnt_k.astype(jnp.int32)

        def process(idx, n_valid, st):
            """Candidates ``idx[:n_valid]`` (the rest of ``idx`` is padding): decide, time the
            crossing, reset, deliver, record."""
            acc, yq_s, rel_s, counts, times = st
            # (the release factors as carried: only those of neurons that fired in an earlier
            # chunk of this step have changed, and they are not candidates again)
            args = (idx, n_valid, v, s, yq, j0, rel_s, counts, block, k)
            if differentiable:
                out = decide(*args)
            else:  # a conditional of its own: XLA runs this short program sequentially
                # (without candidates it returns zeros: no coefficients, nothing fired)
                out = _sequential(n_valid > 0, decide, *args)
            z, coef, t_vals, yq_new, rel_new, fires, slot = out
            # groups of G spikes (padding entries have zero coefficients)
            n_groups = K // G if differentiable else (jnp.clip(n_valid, 0, K) + G - 1) // G

            def group(gi, a):
                sl = lambda x: lax.dynamic_slice_in_dim(x, gi * G, G, axis=-1)  # noqa: E731
                js, zs, cs = sl(idx), sl(z), sl(coef)
                return deliver(a, [js[r] for r in range(G)], [zs[r] for r in range(G)], cs, yq, hy)

            acc = lax.fori_loop(0, n_groups, group, acc)

            def put(r, c):
                """Write the new clock, release factors, count and spike time of candidate
                ``r`` if it fired (dynamic-update-slices: XLA compiles them into the loop's
                kernel, where a scatter would be a call of its own)."""
                yq_s, rel_s, counts, times = c
                i, ok = idx[r], fires[r]
                yq_s = lax.dynamic_update_index_in_dim(yq_s, jnp.where(ok, yq_new[r], yq_s[i]), i, 0)
                counts = lax.dynamic_update_index_in_dim(counts, jnp.where(ok, slot[r] + 1, counts[i]), i, 0)
                old = lax.dynamic_slice_in_dim(rel_s, i, 1, axis=1)
                new = lax.dynamic_slice_in_dim(rel_new, r, 1, axis=1)
                rel_s = lax.dynamic_update_slice_in_dim(rel_s, jnp.where(ok, new, old), i, axis=1)
                if cap:
                    at = (i, jnp.minimum(slot[r], cap - 1))
                    old = lax.dynamic_slice(times, at, (1, 1))
                    keep = ok & (slot[r] < cap)
                    times = lax.dynamic_update_slice(times, jnp.where(keep, t_vals[r], old), at)
                return yq_s, rel_s, counts, times

            # (padding entries past n_valid did not fire; a static count when differentiable)
            n_put = K if differentiable else jnp.clip(n_valid, 0, K)
            yq_s, rel_s, counts, times = lax.fori_loop(0, n_put, put, (yq_s, rel_s, counts, times))
            return acc, yq_s, rel_s, counts, times

        st = ((v_T, s_T), yq_next, rel, counts, times)
        if differentiable:
            st = eqx.error_if(
                st,
                total > K,
                f"more than max_spikes_per_step = {K} spikes in one step; raise max_spikes_per_step "
                "(a hard bound with differentiable=True).",
            )
            idx = next_ones(bitmap(cand_f), K)[0]
            st = process(idx, total, st)
        else:
            # the first K candidates; then further chunks of up to K while any remain (rare).  A
            # while loop, not a cond, so that the spike buffers are updated in place, never
            # copied; the first chunk is outside it, so that under vmap the loop's carry (the
            # spike buffer included) is not selected element by element in ordinary steps.
            # (a chunk that picks K candidates may have left some: the loop runs again)
            def chunk(c):
                state, _, st = c
                idx, picked, state = next_ones(state, K)
                return state, picked >= K, process(idx, picked, st)

            idx, picked, state = next_ones(bitmap(cand_f), K)
            st = process(idx, picked, st)
            st = lax.while_loop(lambda c: c[1], chunk, (state, picked >= K, st))[2]
        acc, yq_s, rel_s, counts, times = st
        # ---- input spike trains of this step, at their exact times
        if n_in:
            b0, b1 = edges[n], edges[n + 1]

            def deliver_input(e, a, valid=True):
                z = jnp.where(valid, ev_t[e] - n.astype(dtype) * dt_a, 0.0)
                coef = jnp.stack([jnp.where(valid, c, 0.0) for cp in coefficients(z)[0] for c in cp])[:, None]
                return deliver(a, [ev_src[e]], [z], coef, yq, hy)

            if differentiable:
                acc = eqx.error_if(
                    acc,
                    b1 - b0 > K_in,
                    f"more than max_input_spikes_per_step = {K_in} input spikes in one step "
                    "(a hard bound with differentiable=True).",
                )
                acc = lax.fori_loop(0, K_in, lambda k, a: deliver_input(b0 + k, a, b0 + k < b1), acc)
            else:
                acc = lax.fori_loop(b0, b1, deliver_input, acc)
        # (v of the neurons that fired is zeroed when read: yq >= 0 means refractory)
        v_new, s_new = acc
        return (v_new, s_new, yq_s, j0, rel_s), (times, counts)

    # ------------------------------------------------------------------ the loops
    def run(carry, n_start, count: int):
        """``count`` steps (static) from step ``n_start``, the step index carried (no arrays
        of length ``count``).  With noise, the normals are drawn for a block of ``L`` steps at
        a time (one vectorised draw, memory L x N)."""
        n_start = jnp.asarray(n_start, jnp.int32)
        n_end = n_start + count
        if not has_noise:

            def body(c, _):
                c, n = c
                return (step(c, n, None, n_start), n + 1), None

            carry = lax.scan(body, (carry, n_start), None, length=count)[0][0]
            last = drive_at(n_end - 1)
        else:
            L = max(d for d in range(1, min(count, 128) + 1) if count % d == 0)

            def block(c, _):
                c, n0 = c
                noise = normals(seeds, n0 - 1 + jnp.arange(L + 1), N, dtype, pairs)  # steps n0 - 1 ...

                def body(c2, k):
                    c2, n = c2
                    return (step(c2, n, (noise, k), n_start), n + 1), None

                return (lax.scan(body, (c, n0), jnp.arange(L))[0][0], n0 + L), None

            carry = lax.scan(block, (carry, n_start), None, length=count // L)[0][0]
            last = drive_at(n_end - 1, normals(seeds, (n_end - 1)[None], N, dtype, pairs)[0])
        # the drive of the last step, for a crossing timed backwards in the next run
        (v, s, yq, _, rel), rest = carry
        return (v, s, yq, jnp.broadcast_to(last, (N,)).astype(dtype), rel), rest

    def internal(st: NetworkState):
        """The carried state: the clock in steps and the release factors of each neuron."""
        yq = jnp.maximum(st.refractory * inv_dt, -2.0)
        rel = jnp.stack(release_factors(jnp.maximum(yq, -1.0), inv_tm, inv_ts, a_n))
        return (st.v, st.s, yq, st.last_drive, rel)

    def public(c) -> NetworkState:
        v, s, yq, jp = c[:4]
        return NetworkState(jnp.where(yq >= 0, 0.0, v), s, yq * dt_a, jp)

    times0 = jnp.full((N, cap), jnp.inf, dtype) if cap else jnp.zeros((N, 0), dtype)
    carry = (internal(state0), (times0, jnp.zeros(N, jnp.int32)))
    if trace_every is None:
        carry = run(carry, 0, steps)
        ts_rec = v_rec = s_rec = None
    else:
        n_blocks = steps // trace_every

        def record(c, b):
            st = public(c[0])
            vv, ss = (st.v, st.s) if trace_idx is None else (st.v[trace_idx], st.s[trace_idx])
            return run(c, b * trace_every, trace_every), (vv, ss)

        carry, (v_rec, s_rec) = lax.scan(record, carry, jnp.arange(n_blocks))
        if steps > n_blocks * trace_every:
            carry = run(carry, n_blocks * trace_every, steps - n_blocks * trace_every)
        ts_rec = t0 + jnp.arange(n_blocks, dtype=dtype) * (trace_every * dt_a)
    final, (times, counts) = carry
    final = public(final)
    # NaN is sticky in v and s: one check of the final state catches a NaN weight, bias or drive
    # that was traced (concrete ones are refused when the network is built)
    bad = ~(jnp.all(jnp.isfinite(final.v)) & jnp.all(jnp.isfinite(final.s)))
    counts = error_if_any(counts, bad, NON_FINITE_NETWORK)
    times = error_if_any(times, bad, NON_FINITE_NETWORK)
    spikes = None
    if cap:
        spikes = SpikeTrain(times, counts)
        if on_overflow == "error":
            spikes = eqx.error_if(
                spikes,
                jnp.any(counts > cap),
                f"a neuron fired more than max_spikes = {cap} times; raise max_spikes (or on_overflow='flag').",
            )
    return NetworkResult(spikes, counts, ts_rec, v_rec, s_rec, final, duration)


__all__ = [
    "Connection",
    "LIFNetwork",
    "LIFPopulation",
    "NetworkResult",
    "NetworkState",
    "simulate_lif_network",
]

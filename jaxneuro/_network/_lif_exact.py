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

Where the code is: this file holds the model (``LIFPopulation``, ``Connection``,
``LIFNetwork``, ``NetworkState``, ``NetworkResult``) and ``simulate_lif_network``, which checks
its arguments and builds the run's constants; the time loop is ``_lif_kernel`` (one small
function per part of a step); ``_lif_reference`` is a readable reference step written from
the notes' equations, which the kernel is tested equal to, spike for spike.

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
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._custom_types import ParamArray, RealSequence
from .._kernels import FAST_SYNAPSE_TAU_S
from .._misc import as_float_array, check_int, check_positive, default_float, error_if_any, is_concrete, static_number
from .._neurons._lif import LIF
from .._solvers._base import MAX_CAPACITY
from .._spikes import SpikeTrain, check_overflow
from . import _lif_kernel as _kernel
from ._lif_closed_form import kresp
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
            scalar.  Default ``FAST_SYNAPSE_TAU_S`` (10 ms, the notes' fast synapse).  A
            simulation needs ``tau_s >= dt / 64`` in float32 (``dt / 512`` in float64), so
            that ``e^(dt / tau_s)`` stays finite (``max_dt_over_tau_s``).
        bias: constant bias current per neuron (normalised input), shape ``(size,)``
            (a scalar is broadcast).
        noise: standard deviation ``sigma`` of a white-noise current, a scalar >= 0:
            ``tau_m dv/dt = ... + sigma sqrt(tau_m) xi(t)``, so that the free membrane
            fluctuates with standard deviation ``sigma / sqrt(2)``.  Realised as a current
            ``sigma sqrt(tau_m/dt) z_k`` held for each step (``z_k`` standard normal).
        name: a label used to address the population in ``LIFNetwork(weights=...)``.
    """

    size: int = eqx.field(static=True, converter=static_number)
    neuron: LIF = eqx.field(default_factory=LIF)
    tau_s: Float[ParamArray, ""] = eqx.field(converter=as_float_array, default=FAST_SYNAPSE_TAU_S)
    bias: Float[ParamArray, " size"] = eqx.field(converter=as_float_array, default=0.0)
    noise: Float[ParamArray, ""] = eqx.field(converter=as_float_array, default=0.0)
    name: str = eqx.field(static=True, default="")

    def __check_init__(self):
        check_int("size", self.size, where="LIFPopulation")
        if not isinstance(self.neuron, LIF):
            raise ValueError(
                f"LIFPopulation: neuron must be a jaxneuro.LIF, got {type(self.neuron).__name__}: the exact LIF "
                "network and its exact (event) gradients need the LIF's closed-form spike times. For other neurons "
                "use a jaxneuro.Network (simulate_network), and for their gradients surrogate ones "
                "(jaxneuro.simulate_layers(..., neuron=..., surrogate=...))."
            )
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
        weight = jnp.asarray(as_float_array(weight))  # no-op for the matrix the check below asks for
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
        weight: Float[ArrayLike, "n n"] | RealSequence,
        neuron: LIF | None = None,
        *,
        tau_s: float | ArrayLike = FAST_SYNAPSE_TAU_S,
        bias: float | ArrayLike | RealSequence = 0.0,
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
def max_dt_over_tau_s(dtype: Any) -> float:
    """The largest ``dt / tau_s`` the step computes in ``dtype``: a power of two at most 3/4 of
    ``log(finfo.max)`` (64 in float32, 512 in float64).

    A spike at offset ``z`` in a step weighs the targets released after it by ``e^(z/tau_s) /
    tau_s`` (``_lif_kernel.coefficients``), which overflows for ``z / tau_s`` near
    ``log(finfo.max)`` (88.7 in float32) and turns into NaN against a target's vanished
    ``e^(-y/tau_s)``; the margin keeps ``1/tau_s`` and the weights inside the range too.
    """
    return float(2 ** math.floor(math.log2(0.75 * math.log(float(jnp.finfo(dtype).max)))))


def check_tau_s_for_dt(tau_s: Any, dt: float, dtype: Any) -> Any:
    """``tau_s`` (s) checked to be at least ``dt / max_dt_over_tau_s(dtype)``: a ``ValueError`` when
    concrete, a run-time check (``eqx.error_if``) when traced; returns the (checked) value.

    Raises:
        ValueError: for a concrete ``tau_s`` below the bound, naming ``tau_s``, ``dt`` and the bound.
    """
    limit = max_dt_over_tau_s(dtype)
    low = dt / limit
    why = f"a step's e^(dt / tau_s) must stay finite in {jnp.dtype(dtype).name}"
    if is_concrete(tau_s):
        value = float(np.min(np.asarray(tau_s)))
        if value < low:
            raise ValueError(
                f"tau_s must be at least dt / {limit:g} = {low:g} s ({why}); got tau_s = {value:g} s with "
                f"dt = {dt:g} s: use a larger tau_s or a smaller dt."
            )
        return tau_s
    return error_if_any(
        tau_s, tau_s < low, f"tau_s must be at least dt / {limit:g} = {low:g} s ({why}; a traced value was below it)."
    )


def _check_timing(duration: Any, dt: Any) -> tuple[float, float, int]:
    """``(duration, dt, steps)`` for static ``duration`` and ``dt`` (Python numbers, s)."""
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
    if steps > MAX_CAPACITY:  # (a step count JAX could not even take as an int32 argument)
        raise ValueError(
            f"duration must be at most {MAX_CAPACITY} steps of dt (int32 step counts); got duration = {duration:g} s, "
            f"dt = {dt:g} s: {steps} steps."
        )
    return duration, dt, steps


class _PopArrays(NamedTuple):  # the populations' parameters, checked, in the simulation's dtype
    tau_m: list[Array]  # per population
    tau_s: list[Array]
    tau_ref: list[Array]  # per population: a scalar or one per neuron
    tau_ref_concrete: list[float]  # the smallest tau_ref of each population whose tau_ref is concrete
    tau_ref_n: Array  # per neuron
    bias: Array
    noise_scale: Array  # sigma sqrt(tau_m/dt), per neuron


def _population_arrays(pops: Sequence[LIFPopulation], dt: float, dtype: Any) -> _PopArrays:
    """The checked parameters of every population (``dt <= tau_ref / 2``; traced values at run time)."""
    tau_m_p, tau_s_p, tau_ref_n, bias_n, noise_n, tr_concrete, tr_p = [], [], [], [], [], [], []
    for p in pops:
        tm = check_positive("tau_m", p.neuron.tau_m, unit="s").astype(dtype)
        ts_ = check_tau_s_for_dt(check_positive("tau_s", p.tau_s, unit="s"), dt, dtype).astype(dtype)
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
    return _PopArrays(
        tau_m_p,
        tau_s_p,
        tr_p,
        tr_concrete,
        jnp.concatenate(tau_ref_n),
        jnp.concatenate(bias_n),
        jnp.concatenate(noise_n),
    )


def _noise_seeds(pops: Sequence[LIFPopulation], key: PRNGKeyArray | None, bias: Array, noise_scale: Array, N: int):
    """``(bias, has_noise, seeds, pairs)``.  Noise is drawn when a key is given and the noise
    level may be nonzero.  Without a key, a concrete nonzero level is an error at once and a
    traced one at run time (checked through ``bias``)."""
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
    # (has_noise implies a key: checked above)
    seeds = (
        jnp.zeros((2,), jnp.uint32) if key is None or not has_noise else jax.random.bits(key, (2,), dtype=jnp.uint32)
    )
    pairs = normal_seeds(seeds, N) if has_noise else None
    return bias, has_noise, seeds, pairs


class _Inputs(NamedTuple):  # input spike trains as events sorted in time
    w_in_t: Array  # (n_in, N): the input weights, transposed (appended to the rows of W^T)
    n_in: int
    ev_t: Array  # time (s) from t0
    ev_src: Array  # the row of the extended W^T: N + channel
    edges: Array  # (steps + 1,): the events of step n are ev[edges[n]:edges[n + 1]]
    K_in: int  # with differentiable=True: the bound on input spikes per step (else 0)


def _input_events(
    inputs: Any, N: int, steps: int, dt: float, t0: Any, dtype: Any, differentiable: bool, max_in: int | None
) -> _Inputs:
    """Check ``inputs = (train, W_in)`` and sort its spikes into one list of events."""
    if not (isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(inputs[0], SpikeTrain)):
        raise ValueError("inputs must be a pair (SpikeTrain of shape (n_in, capacity), W_in of shape (N, n_in)).")
    train, w_in = inputs
    if train.times.ndim != 2:
        raise ValueError(f"inputs: the SpikeTrain must have shape (n_in, capacity), got {train.times.shape}.")
    n_in = train.times.shape[0]
    w_in = jnp.asarray(as_float_array(w_in))  # no-op for the matrix the check below asks for
    if w_in.shape != (N, n_in):
        raise ValueError(f"inputs: W_in must have shape (N, n_in) = ({N}, {n_in}), got shape {w_in.shape}.")
    train = check_overflow(train, "simulate_network inputs").validate()
    w_in_t = w_in.astype(dtype).T
    flat_t = train.times.reshape(-1).astype(dtype)
    flat_src = jnp.repeat(jnp.arange(n_in, dtype=jnp.int32), train.capacity) + N
    flat_t = jnp.where(train.mask.reshape(-1), flat_t, jnp.inf)
    order = jnp.argsort(flat_t, stable=True)
    ev_t = flat_t[order] - t0  # relative to t0
    ev_src = flat_src[order]
    edges = jnp.searchsorted(ev_t, jnp.arange(steps + 1, dtype=dtype) * jnp.asarray(dt, dtype), side="left")
    K_in = 0
    if differentiable:
        if max_in is None:
            if not (is_concrete(train.times) and is_concrete(train.count) and is_concrete(t0)):
                raise ValueError("max_input_spikes_per_step is required with differentiable=True and traced inputs.")
            t_np = np.sort(np.asarray(train.times)[np.asarray(train.mask)].ravel()) - float(np.asarray(t0))
            e_np = np.searchsorted(t_np, np.arange(steps + 1) * dt, side="left")
            max_in = max(1, int(np.max(np.diff(e_np))))
        K_in = check_int("max_input_spikes_per_step", max_in)
        ev_t = jnp.concatenate([ev_t, jnp.full((K_in,), jnp.inf, dtype)])
        ev_src = jnp.concatenate([ev_src, jnp.full((K_in,), N, jnp.int32)])
    return _Inputs(w_in_t, n_in, ev_t, ev_src, edges.astype(jnp.int32), K_in)


def _drive_parts(drive: Any, steps: int, N: int, dtype: Any) -> tuple[Callable | None, Array | None]:
    """``(drive_fn, drive_arr)``: a callable drive (its output shape checked), or the array
    drive as ``(steps, N)`` or ``(steps, 1)``."""
    if drive is None:
        return None, None
    if callable(drive):
        d_shape = jax.eval_shape(drive, jax.ShapeDtypeStruct((), dtype)).shape
        if d_shape not in ((), (N,)):
            raise ValueError(f"drive(t) must return a scalar or shape (N,) = ({N},), got shape {d_shape}.")
        return drive, None
    drive_arr = jnp.asarray(as_float_array(drive)).astype(dtype)  # no-op for the (steps, ...) array asked for
    if drive_arr.shape not in ((steps,), (steps, N)):
        raise ValueError(
            f"drive as an array must have shape (steps,) = ({steps},) or (steps, N) = ({steps}, {N}), "
            f"got shape {drive_arr.shape}."
        )
    return None, drive_arr[:, None] if drive_arr.ndim == 1 else drive_arr


def _step_constants(pinfo: list[_kernel.Pop], pa: _PopArrays, inv_tm, inv_ts, a_n, dt_a):
    """``(c_itm, c_its, c_a, c_em, c_es, c_k, c_ratio, consts)`` of ``Kernel``: scalars for
    one population (the elementwise step then reads only the state), else per neuron with
    the ``(7, N)`` constants gathered per spiker."""
    if len(pinfo) == 1:
        p0 = pinfo[0]
        c_itm, c_its, c_a = p0.inv_tm, p0.inv_ts, p0.a
        c_em, c_es = jnp.exp(-dt_a * p0.inv_tm), jnp.exp(-dt_a * p0.inv_ts)
        c_k = kresp(dt_a, p0.inv_tm, p0.a)
        consts = None if jnp.ndim(pa.tau_ref[0]) == 0 else pa.tau_ref_n[None]  # (1, N), gathered per spiker
    else:
        em_dt = jnp.exp(-dt_a * inv_tm)
        es_dt = jnp.exp(-dt_a * inv_ts)
        k_dt = kresp(dt_a, inv_tm, a_n)
        c_itm, c_its, c_a, c_em, c_es, c_k = inv_tm, inv_ts, a_n, em_dt, es_dt, k_dt
        consts = jnp.stack([inv_tm, inv_ts, a_n, em_dt, es_dt, k_dt, pa.tau_ref_n])  # (7, N), gathered per spiker
    return c_itm, c_its, c_a, c_em, c_es, c_k, c_em / c_es, consts


def _initial_state(state0: NetworkState | None, c: _kernel.Kernel, dt: float) -> NetworkState:
    """The checked initial state (default: ``v = s = 0``, free, last drive that of step 0)."""
    N, dtype = c.N, c.dtype
    if state0 is None:
        noise0 = normals(c.seeds, jnp.zeros((1,), jnp.int32), N, dtype, c.pairs)[0] if c.has_noise else None
        return NetworkState(
            jnp.zeros(N, dtype),
            jnp.zeros(N, dtype),
            jnp.full(N, -2.0 * dt, dtype),
            _kernel.drive_at(c, jnp.asarray(0), noise0),
        )
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
    return NetworkState(v0, *(jnp.asarray(x, dtype) for x in state0[1:]))


def _recording(record_spikes, max_spikes, pa: _PopArrays, n_pops, duration, steps, trace_every, trace_neurons, N):
    """``(cap, trace_every, trace_idx)``: the spike slots per neuron (0 without spike times)
    and the checked trace options."""
    if record_spikes:
        if max_spikes is None:
            if len(pa.tau_ref_concrete) < n_pops:
                raise ValueError("max_spikes is required when tau_ref is traced (the spike buffer has a static size).")
            max_spikes = int(math.ceil(duration / min(pa.tau_ref_concrete) * (1 + 1e-9))) + 1
        cap = check_int("max_spikes", max_spikes)
    else:
        cap = 0
    trace_idx = None
    if trace_every is not None:
        trace_every = check_int("trace_every", trace_every)
        if trace_every > steps:
            raise ValueError(f"trace_every must be an int in [1, steps = {steps}], got {trace_every}.")
        if trace_neurons is not None:
            trace_idx = np.asarray(trace_neurons)
            if trace_idx.ndim != 1 or not np.issubdtype(trace_idx.dtype, np.integer):
                raise ValueError(f"trace_neurons must be a 1-D sequence of ints, got {trace_neurons!r}.")
            if trace_idx.size and (trace_idx.min() < 0 or trace_idx.max() >= N):
                raise ValueError(f"trace_neurons must lie in [0, N - 1] = [0, {N - 1}], got {trace_neurons!r}.")
    return cap, trace_every, trace_idx


def _kernel_constants(network, pa: _PopArrays, dt: float, dtype, WT, t0, noise, drive, inputs, opts):
    """The ``Kernel`` of a run (``noise = (bias, has_noise, seeds, pairs)``, ``drive =
    (drive_fn, drive_arr)``, ``inputs``: an ``_Inputs`` or ``None``, ``opts = (N, K, G,
    differentiable)``)."""
    N, K, G, differentiable = opts
    sizes = [p.size for p in network.populations]
    rep = lambda xs: jnp.concatenate([jnp.broadcast_to(x, (n,)) for x, n in zip(xs, sizes, strict=True)])  # noqa: E731
    inv_tm = 1.0 / rep(pa.tau_m)
    inv_ts = 1.0 / rep(pa.tau_s)
    a_n = inv_tm - inv_ts
    dt_a = jnp.asarray(dt, dtype)
    offs = network.offsets
    pinfo = [
        _kernel.Pop(offs[k], sizes[k], 1.0 / pa.tau_m[k], 1.0 / pa.tau_s[k], 1.0 / pa.tau_m[k] - 1.0 / pa.tau_s[k])
        for k in range(len(sizes))
    ]
    c_itm, c_its, c_a, c_em, c_es, c_k, c_ratio, consts = _step_constants(pinfo, pa, inv_tm, inv_ts, a_n, dt_a)
    bias, has_noise, seeds, pairs = noise
    if inputs is not None:
        WT = jnp.concatenate([WT, inputs.w_in_t], axis=0)
    return _kernel.Kernel(
        N=N,
        K=K,
        G=G,
        cap=0,
        differentiable=differentiable,
        n_in=0 if inputs is None else inputs.n_in,
        K_in=0 if inputs is None else inputs.K_in,
        has_noise=has_noise,
        dtype=dtype,
        pinfo=tuple(pinfo),
        drive_fn=drive[0],
        dt_a=dt_a,
        inv_dt=1.0 / dt_a,
        t0=t0,
        bias=bias,
        noise_scale=pa.noise_scale,
        drive_arr=drive[1],
        seeds=seeds,
        pairs=pairs,
        WT=WT,
        ev_t=None if inputs is None else inputs.ev_t,
        ev_src=None if inputs is None else inputs.ev_src,
        edges=None if inputs is None else inputs.edges,
        inv_tm=inv_tm,
        inv_ts=inv_ts,
        a_n=a_n,
        c_itm=c_itm,
        c_its=c_its,
        c_a=c_a,
        c_em=c_em,
        c_es=c_es,
        c_k=c_k,
        c_ratio=c_ratio,
        consts=consts,
        tr0=pa.tau_ref[0],
        kk=jnp.arange(K),
    )


def _result(final, times, counts, traces, cap: int, on_overflow: str, duration: float) -> NetworkResult:
    """The ``NetworkResult``, with the checks on the final state and the spike buffer."""
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
    ts_rec, v_rec, s_rec = traces
    return NetworkResult(spikes, counts, ts_rec, v_rec, s_rec, final, duration)


def simulate_lif_network(
    network: LIFNetwork,
    duration: float,
    *,
    dt: float = 1e-4,
    t0: float | ArrayLike = 0.0,
    drive: Callable[[Array], ArrayLike] | Float[ArrayLike, " steps"] | Float[ArrayLike, "steps n"] | None = None,
    inputs: tuple[SpikeTrain, Float[ArrayLike, "n n_in"] | RealSequence] | None = None,
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
            ``tau_ref / 2`` or above ``64 tau_s`` (float32; ``512 tau_s`` in float64),
            drive/inputs/state shapes that do not match the network, an
            initial ``v`` at or above threshold, a missing key, bad recording options, or
            (``differentiable=True``) more spikes in a step than the static bounds.
            Traced values are checked at run time with ``eqx.error_if``.
    """
    if not isinstance(network, LIFNetwork):
        raise ValueError(f"network must be a LIFNetwork, got {type(network).__name__}.")
    if on_overflow not in ("error", "flag"):
        raise ValueError(f"on_overflow must be 'error' or 'flag', got {on_overflow!r}.")
    duration, dt, steps = _check_timing(duration, dt)
    pops = network.populations
    N = network.size
    if max_spikes_per_step is None:
        max_spikes_per_step = 8 if N < _LARGE_N and not differentiable else 16
    K = min(check_int("max_spikes_per_step", max_spikes_per_step), N)
    # spikes delivered per kernel: a divisor of K, below K (a single group per chunk lets XLA
    # hoist and fuse the delivery badly)
    G = math.gcd(K, 8) if K > 8 else max(1, K // 2)
    dtype = jnp.result_type(*[p.neuron.tau_m for p in pops], *[p.tau_s for p in pops], default_float())
    pa = _population_arrays(pops, dt, dtype)
    noise = _noise_seeds(pops, key, pa.bias, pa.noise_scale, N)
    WT = network.outgoing_weights().astype(dtype)  # row j: weights out of neuron j
    ins = None
    if inputs is not None:
        ins = _input_events(inputs, N, steps, dt, t0, dtype, differentiable, max_input_spikes_per_step)
    t0 = as_float_array(t0).astype(dtype)
    if t0.ndim != 0:
        raise ValueError(f"t0 must be a scalar, got shape {t0.shape}.")
    drive_parts = _drive_parts(drive, steps, N, dtype)
    c = _kernel_constants(network, pa, dt, dtype, WT, t0, noise, drive_parts, ins, (N, K, G, differentiable))
    state0 = _initial_state(state0, c, dt)
    cap, trace_every, trace_idx = _recording(
        record_spikes, max_spikes, pa, len(pops), duration, steps, trace_every, trace_neurons, N
    )
    c = c._replace(cap=cap)
    final, times, counts, *traces = _kernel.run_kernel(c, tuple(state0), steps, trace_every, trace_idx)
    return _result(NetworkState(*final), times, counts, traces, cap, on_overflow, duration)


__all__ = [
    "Connection",
    "LIFNetwork",
    "LIFPopulation",
    "NetworkResult",
    "NetworkState",
    "simulate_lif_network",
]

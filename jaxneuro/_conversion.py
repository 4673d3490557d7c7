"""From rates to spikes: a trained rate network run as a spiking LIF network (notes ch. 1.4, 1.7, 2).

The notes' bridge: the LIF tuning curve ``G`` is an activation function, so a network trained
with LIF-rate (or soft-LIF) hidden units computes what a network of spiking LIF neurons computes
on average, with the weights as connection weights.

The rate network (``MLP`` with hidden activation ``lif`` or ``soft_lif``; amplitude ``A`` in s,
input offset ``c``, LIF ``tau_m``, ``tau_ref``):

    a_0 = x,   z_l = W_l a_(l-1) + b_l,   a_l = A G(z_l + c)   (l = 1 .. L-1),
    y = f(W_L a_(L-1) + b_L).

The spiking network (``convert_mlp``): hidden layer ``l`` is a population of LIF neurons (notes
ch. 1.7, normalised units) with ``tau_m dv/dt = s + J - v``; a spike of neuron ``j`` of layer
``l - 1`` raises ``s_i`` by ``w_ij / tau_s``, so the synaptic current of layer ``l`` is
``s_l(t) = sum_j w_ij h_j(t)`` with ``h_j`` neuron ``j``'s spike train filtered by the unit-area
kernel ``e^(-t/tau_s) / tau_s`` (its time average is ``j``'s rate ``r_j``).  With

    w_ij = A W_l[i, j]   (charge weights),   J_l = b_l + c   (bias current),

the mean input to layer ``l`` is ``A W_l r_(l-1) + b_l + c = z_l + c`` (since ``a = A r``), so
each neuron fires at ``G(z_l + c)``: the rate network's unit.  Layer 1 receives the input
``x`` either as constant currents (``J_1 = W_1 x + b_1 + c``, the default) or as spike trains
of rate ``x_j r_max`` (Poisson or regular) through charge weights ``W_1 / r_max``.  The output
is read from the last hidden layer's spikes, without spiking output neurons:

    filtered:  y = f(W_L A rbar + b_L),   rbar = 1/(T - t_a) int_(t_a)^T h(t) dt,
    counts:    y = f(W_L A n / T + b_L),  n the spike counts over the presentation time T,

the first being the synaptically filtered output of Nengo's converted networks (``h`` with the
same ``tau_s``; its time average is computed exactly from the spike times).  The error of
the rate estimate falls like ``1/T`` for constant inputs (a count is off by less than one spike).

References:
    E. Hunsberger and C. Eliasmith (2015), "Spiking deep networks with LIF neurons",
    arXiv:1510.08829.  P. U. Diehl et al. (2015), "Fast-classifying, high-accuracy spiking deep
    networks through weight and threshold balancing", IJCNN.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._activations import LIF_AMPLITUDE, LIF_INPUT_OFFSET, get_activation, lif_activation, soft_lif_activation
from ._custom_types import ParamArray
from ._kernels import FAST_SYNAPSE_TAU_S
from ._layers import MLP, Dense
from ._misc import as_float_array, check_int, check_range, default_float, error_if_any, is_concrete, static_positive
from ._network._lif_exact import (
    LIFNetwork,
    LIFPopulation,
    NetworkResult,
    check_tau_s_for_dt,
    simulate_lif_network,
)
from ._neurons._lif import LIF
from ._solvers._base import MAX_CAPACITY
from ._spikes import SpikeTrain, check_overflow

_LIF_DEFAULTS = {"tau_m": 0.02, "tau_ref": 0.002, "input_offset": LIF_INPUT_OFFSET, "amplitude": LIF_AMPLITUDE}
_SPIKING_ACTIVATIONS = {"lif": lif_activation, "soft_lif": soft_lif_activation}
_INPUTS = ("current", "poisson", "regular")
_READOUTS = ("filtered", "counts")


def _lif_parameters(activation: str | Callable[..., Array], where: str) -> dict[str, float]:
    """``tau_m, tau_ref, input_offset, amplitude`` of a LIF-rate activation, or an error
    saying why ``activation`` has no spiking counterpart."""
    fn, keywords = activation, {}
    if isinstance(activation, functools.partial):
        fn, keywords = activation.func, dict(activation.keywords)
        if activation.args:
            raise ValueError(f"{where}: a partial activation must give its parameters by keyword, got {activation!r}.")
    elif isinstance(activation, str):
        fn = _SPIKING_ACTIVATIONS.get(activation, activation)
    if fn not in (lif_activation, soft_lif_activation):
        name = activation if isinstance(activation, str) else getattr(fn, "__name__", repr(fn))
        why = (
            "softmax couples the units of a layer, which independent spiking neurons cannot"
            if name == "softmax"
            else "its output can be negative or unbounded, or it is not the rate of a LIF neuron"
        )
        raise ValueError(
            f"{where}: activation {name!r} has no spiking counterpart ({why}); convertible hidden "
            "activations are 'lif' and 'soft_lif' (or functools.partial of lif_activation / "
            "soft_lif_activation): train with 'soft_lif' and convert."
        )
    params = dict(_LIF_DEFAULTS)
    for k, v in keywords.items():
        if k in params:
            params[k] = float(v)
        elif k != "gamma":  # soft LIF's smoothing: the spiking neuron realises the exact rate
            raise ValueError(f"{where}: unknown keyword {k!r} of the LIF activation.")
    return params


def _checked_rates(rates: ArrayLike) -> Array:
    """Rates (Hz) of shape ``(n,)``, finite and >= 0 (checked now if concrete, else at run time)."""
    rates = jnp.asarray(as_float_array(rates))
    if rates.ndim != 1:
        raise ValueError(f"rates must have shape (n,), got shape {rates.shape}.")
    if is_concrete(rates):
        return check_range("rates", rates, lower=0.0, unit="Hz")
    return error_if_any(rates, ~(rates >= 0) | ~jnp.isfinite(rates), "rates must be finite and in [0, inf) Hz.")


def _train(times: Array, duration: float, capacity: int, name: str) -> SpikeTrain:
    """The spikes among ``times`` (``(n, capacity + 1)``, sorted) before ``duration``, in a buffer of
    ``capacity`` (an overflow is an error naming ``name``)."""
    count = jnp.sum(times < duration, axis=1).astype(jnp.int32)
    slots = jnp.arange(capacity) < count[:, None]
    return check_overflow(SpikeTrain(jnp.where(slots, times[:, :capacity], jnp.inf), count), name)


MAX_TRAIN_SLOTS = 2**28
"""The most spike slots (``n x (capacity + 1)``, 1 GiB of float32) a generated input train allocates."""


def _max_capacity(n: int) -> int:
    """The largest capacity per train of ``n`` trains within ``MAX_TRAIN_SLOTS`` (and int32 counts)."""
    return max(1, min(MAX_TRAIN_SLOTS // max(n, 1) - 1, MAX_CAPACITY))


def _max_mean(capacity: int) -> float:
    """The largest mean count ``m`` whose default capacity ``m + 8 sqrt(m) + 8`` fits ``capacity``."""
    root = max(0.0, -4.0 + math.sqrt(max(16.0 + capacity - 8.0, 0.0)))  # m + 8 sqrt(m) + 8 - capacity = 0
    return max(0.0, math.floor(root * root) - 1.0)  # (1 below: the ceiling stays within capacity)


def poisson_spike_train(
    rates: Float[ArrayLike, " n"], duration: float, key: PRNGKeyArray, *, capacity: int | None = None
) -> SpikeTrain:
    """Independent Poisson spike trains with the given rates (Hz) on ``[0, duration)`` (s).

    Exact times: the inter-spike intervals are exponential with mean ``1/rate``.  The buffer
    holds ``capacity`` spikes per train (default: the mean count of the highest rate plus
    eight standard deviations and 8, so that an overflow has probability below 1e-15 per
    train); a train that would need more is an error (``SpikeTrain`` overflow), never cut.
    All trains together hold at most ``MAX_TRAIN_SLOTS`` slots (``n (capacity + 1)``).

    Raises:
        ValueError: rates not finite and >= 0, ``duration`` not finite and > 0, a ``capacity``
            that is not an int in ``[1, MAX_TRAIN_SLOTS / n - 1]``, or (default capacity) a
            ``max(rates) x duration`` too large for that buffer; the message names the limit.

    Example::

        train = poisson_spike_train(jnp.array([10.0, 50.0]), 1.0, jax.random.key(0))
        train.count          # about [10, 50]
    """
    rates = _checked_rates(rates)
    duration = static_positive("duration", duration, "s")
    top = _max_capacity(rates.shape[0])
    if capacity is None:
        if not is_concrete(rates):
            raise ValueError("capacity must be given when rates are traced (it sets a static buffer size).")
        rate = float(np.max(np.asarray(rates), initial=0.0))
        mean = rate * duration
        capacity = math.ceil(mean + 8.0 * math.sqrt(mean) + 8)
        if capacity > top:  # (1e9 Hz for 1 s was a 4 GB buffer per train)
            raise ValueError(
                f"rates x duration must be at most {_max_mean(top):g} spikes per train (a buffer of at most "
                f"{MAX_TRAIN_SLOTS} spike slots over the {rates.shape[0]} train(s)); got max(rates) = {rate:g} Hz, "
                f"duration = {duration:g} s: {mean:g} spikes. Use lower rates or a shorter duration."
            )
    capacity = check_int("capacity", capacity, high=top)
    isi = jax.random.exponential(key, (rates.shape[0], capacity + 1), rates.dtype)
    times = jnp.cumsum(isi, axis=1) / rates[:, None]  # rate 0: all inf
    return _train(times, duration, capacity, "poisson_spike_train")


def regular_spike_train(rates: Float[ArrayLike, " n"], duration: float, *, capacity: int) -> SpikeTrain:
    """Regular spike trains: neuron ``j`` fires at ``(k + 1/2) / rate_j`` for every ``k`` with
    that time below ``duration`` (s), so its count over any prefix of the run is within 1/2 of
    ``rate_j t``.  ``capacity``: spikes per train (static; ``ceil(max rate x duration)``
    suffices)."""
    rates = _checked_rates(rates)
    duration = static_positive("duration", duration, "s")
    capacity = check_int("capacity", capacity, high=_max_capacity(rates.shape[0]))
    times = (jnp.arange(capacity + 1, dtype=rates.dtype)[None, :] + 0.5) / rates[:, None]
    return _train(times, duration, capacity, "regular_spike_train")


class SpikingRun(eqx.Module):
    """One input presented to a ``SpikingMLP``.

    Attributes:
        output: the spiking network's output ``y`` (module docstring), shape ``(out_size,)``.
        rates: the estimated rate (Hz) of every last-hidden-layer neuron that the output reads
            (the filtered or counted estimate), shape ``(hidden,)``.
        network: the ``NetworkResult`` of the hidden layers (spike times of every neuron).
    """

    output: Float[Array, " out"]
    rates: Float[Array, " hidden"]
    network: NetworkResult


class SpikingMLP(eqx.Module):
    """A feed-forward network of spiking LIF neurons converted from a rate ``MLP`` (``convert_mlp``).

    The hidden layers are the populations of ``network`` (a ``LIFNetwork``: layer ``l`` gets
    ``A W_l`` from layer ``l - 1`` and the bias ``b_l + c``); ``input_layer`` maps the input to
    layer 1 and ``readout`` reads the last hidden layer (module docstring for the equations).
    Call it on one input (``model(x)``: the output) or run it (``model.run(x)``: output, rate
    estimates and spike times); ``model.predict(xs)`` runs a batch in one jitted call.

    Attributes:
        network: the hidden layers as a ``LIFNetwork`` (layer 1's bias without the input).
        input_layer: ``W_1, b_1`` (``Dense``).
        readout: ``W_L, b_L`` (``Dense``).
        amplitude: ``A`` in s (a rate of ``1/A`` Hz is an activation of 1).
        presentation: ``T``, how long each input is presented (s, static).
        dt: the simulation step (s, static): exact spike times, ``dt`` only samples the inputs.
        readout_start: ``t_a``, where the filtered readout's time average starts (s, static).
        readout_kind: ``"filtered"`` or ``"counts"`` (static).
        input_kind: ``"current"``, ``"poisson"`` or ``"regular"`` (static).
        max_input_rate: ``r_max`` in Hz, the rate of an input of 1 for spiking inputs (static).
        final_activation: ``f``, the rate network's output activation, applied to the readout.
        max_spikes: spike-time capacity per neuron, ``ceil(T / tau_ref) + 1`` (static: the
            most a neuron can fire, so nothing overflows).
    """

    network: LIFNetwork
    input_layer: Dense
    readout: Dense
    amplitude: Float[ParamArray, ""] = eqx.field(converter=as_float_array)
    presentation: float = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    readout_start: float = eqx.field(static=True)
    readout_kind: str = eqx.field(static=True)
    input_kind: str = eqx.field(static=True)
    max_input_rate: float = eqx.field(static=True)
    final_activation: str | Callable[..., Array] = eqx.field(static=True)
    max_spikes: int = eqx.field(static=True)

    @property
    def in_size(self) -> int:
        return self.input_layer.in_size

    @property
    def out_size(self) -> int:
        return self.readout.out_size

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """The hidden layers' sizes."""
        return tuple(p.size for p in self.network.populations)

    def _input_capacity(self) -> int:
        mean = self.max_input_rate * self.presentation
        if self.input_kind == "regular":
            return max(1, math.ceil(mean))
        return math.ceil(mean + 8.0 * math.sqrt(mean) + 8)

    def network_for(self, x: Float[ArrayLike, " in_size"]) -> LIFNetwork:
        """The hidden layers with input ``x`` applied: for constant-current input, layer 1's
        bias becomes ``W_1 x + b_1 + c``; for spiking inputs the network is unchanged."""
        if self.input_kind != "current":
            return self.network
        first = self.network.populations[0]
        drive = self.input_layer.weight @ jnp.asarray(x, self.input_layer.weight.dtype)
        return eqx.tree_at(lambda n: n.populations[0].bias, self.network, first.bias + drive)

    def run(self, x: Float[ArrayLike, " in_size"], key: PRNGKeyArray | None = None) -> SpikingRun:
        """Present ``x`` (shape ``(in_size,)``) for ``presentation`` seconds.

        Args:
            x: the input; for spiking inputs each entry must be in ``[0, 1]`` (its rate is
                ``x r_max``).
            key: PRNG key, required for Poisson inputs.

        Raises:
            ValueError: for a wrong shape, a missing key, or spiking inputs outside [0, 1]
                (at run time under ``jit``).
        """
        x = jnp.asarray(x)
        if x.shape != (self.in_size,):
            raise ValueError(f"x must have shape (in_size,) = ({self.in_size},), got shape {x.shape}.")
        inputs = None
        if self.input_kind != "current":
            bad = ~((x >= 0) & (x <= 1))
            if is_concrete(bad) and bool(jnp.any(bad)):
                raise ValueError(
                    f"x must be in [0, 1] for {self.input_kind} spike inputs; got x in "
                    f"[{float(jnp.min(x)):g}, {float(jnp.max(x)):g}]."
                )
            x = error_if_any(x, bad, f"x must be in [0, 1] for {self.input_kind} spike inputs.")
            rates = x * self.max_input_rate
            if self.input_kind == "poisson":
                if key is None:
                    raise ValueError("key is required for Poisson inputs (input_kind='poisson').")
                train = poisson_spike_train(rates, self.presentation, key, capacity=self._input_capacity())
            else:
                train = regular_spike_train(rates, self.presentation, capacity=self._input_capacity())
            w1 = self.input_layer.weight / self.max_input_rate  # onto layer 1 only
            w_in = jnp.zeros((self.network.size, self.in_size), w1.dtype).at[: w1.shape[0]].set(w1)
            inputs = (train, w_in)
        result = simulate_lif_network(
            self.network_for(x), self.presentation, dt=self.dt, inputs=inputs, max_spikes=self.max_spikes
        )
        last = self.network.population_slice(len(self.network.populations) - 1)
        rates = self._rates(result, last)
        y = self.readout(self.amplitude * rates)
        return SpikingRun(get_activation(self.final_activation)(y), rates, result)

    def _rates(self, result: NetworkResult, last: slice) -> Array:
        T = self.presentation
        if self.readout_kind == "counts":
            return result.spike_count[last] / T
        assert result.spikes is not None  # the network is run with its spikes recorded
        times = result.spikes.times[last]
        mask = result.spikes.mask[last]
        tau_s = self.network.populations[-1].tau_s
        a = self.readout_start
        # int_a^T e^(-(t - t_k)/tau_s) / tau_s dt for a spike at t_k (0 after T)
        t = jnp.where(mask, times, 0.0)
        after = -jnp.expm1(-(T - t) / tau_s)
        before = jnp.exp(-(a - t) / tau_s) * -jnp.expm1(-(T - a) / tau_s)
        area = jnp.where(t >= a, after, before)
        return jnp.sum(jnp.where(mask, area, 0.0), axis=-1) / (T - a)

    def __call__(self, x: Float[ArrayLike, " in_size"], key: PRNGKeyArray | None = None) -> Float[Array, " out"]:
        """The output for one input (``run(x, key).output``)."""
        return self.run(x, key).output

    def predict(
        self, xs: Float[ArrayLike, "batch in_size"], key: PRNGKeyArray | None = None, *, batch_size: int = 1
    ) -> Float[Array, "batch out"]:
        """Outputs for a batch of inputs, shape ``(batch, out_size)``: ``lax.map`` over the
        inputs, ``batch_size`` at a time under ``vmap`` (1, the default, is fastest on a CPU,
        where a vmapped event-driven network computes every branch for the whole batch;
        larger batches suit accelerators).  Compile it with ``eqx.filter_jit`` (the model is a
        PyTree of arrays; ``jax.jit`` of the bound method cannot hash it), or use
        ``jaxneuro.train.evaluate_spiking``.
        """
        xs = jnp.asarray(xs)
        if xs.ndim != 2 or xs.shape[1] != self.in_size:
            raise ValueError(f"xs must have shape (batch, in_size={self.in_size}), got shape {xs.shape}.")
        check_int("batch_size", batch_size, numpy=False)
        size = None if batch_size == 1 else batch_size  # (a vmap of one would batch every loop)
        if self.input_kind == "poisson":
            if key is None:
                raise ValueError("key is required for Poisson inputs (input_kind='poisson').")
            keys = jax.random.split(key, xs.shape[0])
            return jax.lax.map(lambda a: self(a[0], a[1]), (xs, keys), batch_size=size)
        return jax.lax.map(self, xs, batch_size=size)


def convert_mlp(
    mlp: MLP,
    *,
    presentation: float = 0.05,
    dt: float = 1e-3,
    tau_s: float = FAST_SYNAPSE_TAU_S,
    readout: Literal["filtered", "counts"] = "filtered",
    readout_start: float = 0.0,
    inputs: Literal["current", "poisson", "regular"] = "current",
    max_input_rate: float = 200.0,
) -> SpikingMLP:
    """Convert a trained rate ``MLP`` into a feed-forward network of spiking LIF neurons.

    The hidden layers (activation ``lif`` or ``soft_lif``, or a ``functools.partial`` of
    ``lif_activation`` / ``soft_lif_activation`` with other ``tau_m``, ``tau_ref``,
    ``input_offset``, ``amplitude``) become populations of LIF neurons with those time
    constants; the weights and biases map as (module docstring)

        w_ij = A W_l[i, j]  (charges, through exponential synapses of time constant tau_s),
        J_l = b_l + c,   J_1 = W_1 x + b_1 + c  (constant-current input),

    and the output is ``f(W_L A rbar + b_L)`` with ``rbar`` the last hidden layer's filtered
    (or counted) rate over the presentation.  A soft-LIF network's spiking neurons realise the
    exact LIF rate (``soft_lif`` -> ``lif``, the difference is ``gamma``'s smoothing).

    Example (MNIST, a 784-256-256-10 network trained by ``configs/mnist_lif.toml``)::

        snn = jn.convert_mlp(mlp, presentation=0.05)
        logits = eqx.filter_jit(lambda m, x: m.predict(x))(snn, x_test)      # (10000, 10)
        accuracy = jnp.mean(jnp.argmax(logits, -1) == y_test)

    Args:
        mlp: the trained ``MLP`` (at least one hidden layer).
        presentation: ``T``, time each input is presented (s, static; > the refractory period
            and a multiple of ``dt``).
        dt: simulation step (s, static; at most ``tau_ref / 2``).  Spike times are exact;
            ``dt`` samples the input (constant currents need no finer step).
        tau_s: synaptic time constant (s, > 0) of every connection and of the filtered readout.
        readout: ``"filtered"`` (time average of the synaptically filtered output from
            ``readout_start`` to ``T``) or ``"counts"`` (spike counts over ``T``).
        readout_start: ``t_a`` in s, in ``[0, T)``: the filtered readout ignores the start-up
            transient before it.
        inputs: ``"current"`` (constant currents ``W_1 x``), ``"poisson"`` or ``"regular"``
            (spike trains of rate ``x max_input_rate``, inputs in [0, 1]).
        max_input_rate: ``r_max`` in Hz (> 0) for spiking inputs.

    Returns:
        A ``SpikingMLP``.

    Raises:
        ValueError: naming the layer, for a hidden activation with no spiking counterpart
            (e.g. ReLU, tanh, softmax in a hidden layer), an MLP without hidden layers, a
            presentation time shorter than the refractory period or not a multiple of ``dt``,
            ``dt`` above ``tau_ref / 2``, or another parameter outside its range.
    """
    if not isinstance(mlp, MLP):
        raise ValueError(f"mlp must be a jaxneuro.MLP, got {type(mlp).__name__}.")
    if len(mlp.layers) < 2:
        raise ValueError("mlp must have at least one hidden layer (an MLP with one Dense layer has no neurons).")
    hidden = len(mlp.layers) - 1
    params = _lif_parameters(mlp.activation, f"hidden layers 0..{hidden - 1} (mlp.activation)")
    get_activation(mlp.final_activation)
    presentation = static_positive("presentation", presentation, "s")
    dt = static_positive("dt", dt, "s")
    tau_s = static_positive("tau_s", tau_s, "s")
    max_input_rate = static_positive("max_input_rate", max_input_rate, "Hz")
    if readout not in _READOUTS:
        raise ValueError(f"readout must be one of {_READOUTS}, got {readout!r}.")
    if inputs not in _INPUTS:
        raise ValueError(f"inputs must be one of {_INPUTS}, got {inputs!r}.")
    tau_ref = params["tau_ref"]
    if presentation <= tau_ref:
        raise ValueError(
            f"presentation must be longer than the refractory period tau_ref = {tau_ref:g} s (a neuron "
            f"could not fire twice); got presentation = {presentation:g} s."
        )
    steps = round(presentation / dt)
    if steps < 1 or abs(steps * dt - presentation) > 1e-9 * presentation:
        raise ValueError(
            f"presentation must be a multiple of dt; got presentation = {presentation:g} s, dt = {dt:g} s."
        )
    if steps > MAX_CAPACITY:
        raise ValueError(
            f"presentation must be at most {MAX_CAPACITY} steps of dt (int32 step counts); got presentation = "
            f"{presentation:g} s, dt = {dt:g} s: {steps} steps."
        )
    if dt > tau_ref / 2:
        raise ValueError(f"dt must be in (0, tau_ref / 2 = {tau_ref / 2:g}] s; got dt = {dt:g} s.")
    check_tau_s_for_dt(tau_s, dt, default_float())  # the dtype simulate_lif_network will run in
    if isinstance(readout_start, bool) or not isinstance(readout_start, (int, float, np.integer, np.floating)):
        raise ValueError(f"readout_start must be a Python number of s (static), got {readout_start!r}.")
    if not 0.0 <= float(readout_start) < presentation:
        raise ValueError(f"readout_start must be in [0, presentation = {presentation:g}) s; got {readout_start!r}.")

    lif = LIF(tau_m=params["tau_m"], tau_ref=params["tau_ref"])
    c = params["input_offset"]
    amp = params["amplitude"]
    pops = [
        LIFPopulation(layer.out_size, lif, tau_s, bias=layer.bias + c, name=f"hidden{i}")
        for i, layer in enumerate(mlp.layers[:-1])
    ]
    weights: dict[tuple[int | str, int | str], ArrayLike] = {
        (i, i - 1): mlp.layers[i].weight * amp for i in range(1, hidden)
    }
    return SpikingMLP(
        LIFNetwork(pops, weights),
        mlp.layers[0],
        mlp.layers[-1],
        amp,
        presentation,
        dt,
        float(readout_start),
        readout,
        inputs,
        max_input_rate,
        mlp.final_activation,
        math.ceil(presentation / tau_ref) + 1,
    )


__all__ = ["SpikingMLP", "SpikingRun", "convert_mlp", "poisson_spike_train", "regular_spike_train"]

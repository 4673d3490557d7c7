"""A trainable feed-forward spiking classifier with first-spike outputs: exact or surrogate gradients.

``SpikingClassifier`` holds the weights of a feed-forward network of LIF neurons (notes ch. 1.7:
``tau_m dv/dt = s - v``, ``tau_s ds/dt = -s``, threshold 1, reset 0, a spike adds ``w / tau_s``
to ``s``) and classifies by time to first spike: an input ``x`` in ``[0, 1]^d`` is sent as at most one
spike per feature, by one of two latency codes (``encoding``):

    "linear":     t_j = x_j t_in                 (every feature spikes; Yin-Yang),
    "intensity":  t_j = (1 - x_j) t_in  if x_j > input_threshold, else no spike
                  (images: bright pixels first, dark pixels never; snnTorch's ``spikegen.latency``
                  with ``linear=True, clip=True``),

(``t_in`` the input window), plus a bias spike at ``t = 0`` through its own weights, and the
output neuron that fires first names the class.  The model returns the output layer's
first-spike times (the ``duration`` ``T`` for a neuron that does not fire), to be scored with
``first_spike_cross_entropy(t, label, tau=..., window=...)`` (a window beyond ``T``, so a
silent output's time is not clipped).  Two gradients of the same model, chosen by ``gradient``:

* ``"exact"``: ``simulate_lif_events``, event-driven with exact spike times, and its adjoint
  (EventProp, Wunderlich and Pehle 2021): memory at spikes only; a silent output neuron has no
  gradient (exactly: its time does not depend on the weights).
* ``"surrogate"``: ``simulate_layers`` on a grid of ``dt``, back-propagated through time with a
  surrogate derivative of the spikes (``FastSigmoid`` by default); first-spike times placed
  inside their step.

Example (Yin-Yang: 4 features -> 120 -> 3)::

    model = jn.SpikingClassifier(4, 3, [120], key=jax.random.key(0), gradient="exact")
    t = model(jnp.array([0.3, 0.6, 0.7, 0.4]))                  # (3,) first-spike times (s)
    loss = lambda m, x, k: jn.first_spike_cross_entropy(m(x), k, tau=5e-3, window=2 * m.duration)
    grads = eqx.filter_grad(loss)(model, x, label)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._misc import as_float_array, check_finite, check_int, check_range, error_if_any, is_concrete, static_positive
from ._network._eventprop import EventResult, simulate_lif_events
from ._network._lif_exact import LIFNetwork, LIFPopulation
from ._neurons._lif import LIF
from ._solvers._base import MAX_CAPACITY
from ._spikes import SpikeTrain
from ._surrogate import AbstractSurrogate, FastSigmoid, LayerRun, simulate_layers

_GRADIENTS = ("exact", "surrogate")
_ENCODINGS = ("linear", "intensity")


class SpikingClassifier(eqx.Module):
    """Feed-forward LIF layers classifying by first-spike time (module docstring).

    Attributes:
        weights: ``W_l`` of shape ``(n_l, n_(l-1))`` in charges (normalised input x s); ``n_0``
            is the number of features plus one (the bias spike, the last column).
        tau_m, tau_s, tau_ref: membrane, synaptic and refractory time constants (s, static).
        duration: ``T``, the simulated time per input (s, static).
        t_in: the input window (s, static): feature ``x_j`` spikes at ``x_j t_in`` (``"linear"``)
            or ``(1 - x_j) t_in`` (``"intensity"``).
        encoding: ``"linear"`` or ``"intensity"`` (static; module docstring).
        input_threshold: the ``"intensity"`` code's threshold: features ``<= input_threshold``
            do not spike (static).
        gradient: ``"exact"`` or ``"surrogate"`` (static).
        dt: the step of the surrogate simulation (s, static).
        surrogate: the surrogate derivative (surrogate gradient only).
        max_spikes: event capacity of the exact simulation (static): network spikes per input.
    """

    weights: tuple[Float[Array, "_n_l _n_prev"], ...]  # each layer its own sizes (unchecked names)
    tau_m: float = eqx.field(static=True)
    tau_s: float = eqx.field(static=True)
    tau_ref: float = eqx.field(static=True)
    duration: float = eqx.field(static=True)
    t_in: float = eqx.field(static=True)
    encoding: str = eqx.field(static=True)
    input_threshold: float = eqx.field(static=True)
    gradient: str = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    surrogate: AbstractSurrogate
    max_spikes: int = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        hidden_sizes: Sequence[int],
        *,
        key: PRNGKeyArray,
        gradient: Literal["exact", "surrogate"] = "exact",
        tau_m: float = 0.02,
        tau_s: float = 0.005,
        tau_ref: float = 0.0,
        duration: float = 0.04,
        t_in: float = 0.01,
        dt: float = 1e-4,
        surrogate: AbstractSurrogate | None = None,
        weight_mean: float = 3.0,
        weight_std: float = 1.0,
        max_spikes: int | None = None,
        weights: Sequence[ArrayLike] | None = None,
        encoding: Literal["linear", "intensity"] = "linear",
        input_threshold: float = 0.0,
    ):
        """Args:
            in_size, out_size: features and classes (>= 1).
            hidden_sizes: widths of the hidden layers.
            key: PRNG key of the initial weights.
            gradient: ``"exact"`` (EventProp) or ``"surrogate"``.
            tau_m, tau_s: membrane and synaptic time constants (s, > 0; ``tau_s != tau_m``).
            tau_ref: refractory period (s, >= 0).
            duration: simulated time per input (s, > ``t_in``).
            t_in: input window (s, > 0).
            dt: surrogate simulation step (s, > 0, dividing ``duration``).
            surrogate: default ``FastSigmoid(25.0)``.
            weight_mean, weight_std: initial weights ``W_l[i, j] = tau_m (mean + std xi) /
                n_(l-1)`` with ``xi`` standard normal: a mean input of ``weight_mean``
                thresholds' worth of charge per layer (the threshold is reached with a charge of
                order ``tau_m``).
            max_spikes: exact simulation's capacity of network spikes per input (default
                ``4 x`` the number of neurons); more is an error naming it.
            weights: given weights instead of the random ones.
            encoding: the latency code, ``"linear"`` (``t = x t_in``) or ``"intensity"``
                (``t = (1 - x) t_in`` for ``x > input_threshold``, no spike otherwise).
            input_threshold: the ``"intensity"`` code's threshold, in [0, 1).

        Raises:
            ValueError: for a size, time constant or option outside its range (named).
        """
        if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, Sequence):
            raise ValueError(f"hidden_sizes must be a sequence of ints >= 1, got hidden_sizes = {hidden_sizes!r}.")
        hidden = [check_int(f"hidden_sizes[{i}]", h) for i, h in enumerate(hidden_sizes)]
        sizes = [check_int("in_size", in_size) + 1, *hidden, check_int("out_size", out_size)]
        if gradient not in _GRADIENTS:
            raise ValueError(f"gradient must be one of {_GRADIENTS}, got {gradient!r}.")
        self.tau_m = static_positive("tau_m", tau_m, "s")
        self.tau_s = static_positive("tau_s", tau_s, "s")
        if self.tau_s == self.tau_m:
            raise ValueError(f"tau_s must differ from tau_m = {self.tau_m:g} s; got tau_s = {self.tau_s:g} s.")
        if isinstance(tau_ref, bool) or not (isinstance(tau_ref, (int, float)) and 0 <= tau_ref < math.inf):
            raise ValueError(f"tau_ref must be a Python number in [0, inf) s, got {tau_ref!r}.")
        self.tau_ref = float(tau_ref)
        self.duration = static_positive("duration", duration, "s")
        self.t_in = static_positive("t_in", t_in, "s")
        if self.t_in >= self.duration:
            raise ValueError(f"t_in must be in (0, duration = {self.duration:g}) s; got t_in = {self.t_in:g} s.")
        self.dt = static_positive("dt", dt, "s")
        steps = round(self.duration / self.dt)
        if abs(steps * self.dt - self.duration) > 1e-9 * self.duration:
            raise ValueError(f"dt must divide duration = {self.duration:g} s; got dt = {self.dt:g} s.")
        if steps > MAX_CAPACITY:  # (1e-30 was an OverflowError from JAX's argument parsing)
            raise ValueError(
                f"dt must be at least duration / {MAX_CAPACITY} = {self.duration / MAX_CAPACITY:g} s (int32 step "
                f"counts); got dt = {self.dt:g} s: {steps:g} steps."
            )
        self.gradient = gradient
        if encoding not in _ENCODINGS:
            raise ValueError(f"encoding must be one of {_ENCODINGS}, got {encoding!r}.")
        self.encoding = encoding
        if isinstance(input_threshold, bool) or not (
            isinstance(input_threshold, (int, float)) and 0 <= input_threshold < 1
        ):
            raise ValueError(f"input_threshold must be a Python number in [0, 1), got {input_threshold!r}.")
        self.input_threshold = float(input_threshold)
        self.surrogate = FastSigmoid() if surrogate is None else surrogate
        if not isinstance(self.surrogate, AbstractSurrogate):
            raise ValueError(f"surrogate must be a jaxneuro.AbstractSurrogate, got {type(surrogate).__name__}.")
        n_neurons = sum(sizes[1:])
        self.max_spikes = 4 * n_neurons if max_spikes is None else check_int("max_spikes", max_spikes)
        check_finite("weight_mean", weight_mean)
        check_range("weight_std", weight_std, lower=0.0)
        if weights is None:
            keys = jax.random.split(key, len(sizes) - 1)
            weights = [
                self.tau_m * (weight_mean + weight_std * jax.random.normal(k, (m, n))) / n
                for k, n, m in zip(keys, sizes[:-1], sizes[1:], strict=True)
            ]
        ws = tuple(check_finite(f"weights[{i}]", jnp.asarray(as_float_array(w))) for i, w in enumerate(weights))
        for i, (w, n, m) in enumerate(zip(ws, sizes[:-1], sizes[1:], strict=False)):
            if w.shape != (m, n):
                raise ValueError(f"weights[{i}] must have shape ({m}, {n}), got shape {w.shape}.")
        if len(ws) != len(sizes) - 1:
            raise ValueError(f"weights must hold {len(sizes) - 1} matrices, got {len(ws)}.")
        self.weights = ws

    @property
    def in_size(self) -> int:
        return self.weights[0].shape[1] - 1

    @property
    def out_size(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return tuple(w.shape[0] for w in self.weights)

    def encode(self, x: Float[ArrayLike, " in_size"]) -> Float[Array, " in_size+1"]:
        """Input spike times (s) by the model's ``encoding``, then the bias spike at 0.

        ``"linear"``: ``t_j = x_j t_in``; ``"intensity"``: ``t_j = (1 - x_j) t_in`` where
        ``x_j > input_threshold``, ``inf`` (no spike) elsewhere.

        Example::

            m = jn.SpikingClassifier(3, 2, [4], key=jax.random.key(0), encoding="intensity", t_in=0.01)
            m.encode(jnp.array([0.0, 0.5, 1.0]))       # [inf, 0.005, 0.0, 0.0] (the last: bias)

        Raises:
            ValueError: for a wrong shape or features outside [0, 1] (at run time under jit).
        """
        x = jnp.asarray(x)
        if x.shape != (self.in_size,):
            raise ValueError(f"x must have shape (in_size,) = ({self.in_size},), got shape {x.shape}.")
        bad = ~((x >= 0) & (x <= 1))
        if is_concrete(bad) and bool(jnp.any(bad)):
            raise ValueError(f"x must be in [0, 1] (latency code); got x in [{float(x.min()):g}, {float(x.max()):g}].")
        x = error_if_any(x, bad, "x must be in [0, 1] (latency code).")
        if self.encoding == "intensity":
            t = jnp.where(x > self.input_threshold, (1 - x) * self.t_in, jnp.inf)
        else:
            t = x * self.t_in
        return jnp.concatenate([t, jnp.zeros((1,), t.dtype)])

    def _input_train(self, times: Array) -> SpikeTrain:
        """The input spikes as a one-spike-per-channel train (no spike where the time is inf)."""
        fired = jnp.isfinite(times)
        return SpikeTrain(jnp.where(fired, times, jnp.inf)[:, None], fired.astype(jnp.int32))

    def __call__(self, x: Float[ArrayLike, " in_size"]) -> Float[Array, " out_size"]:
        """The output layer's first-spike times (s), ``duration`` for a neuron that does not fire."""
        times = self.encode(x)
        if self.gradient == "surrogate":
            return self._stepped(times).first_spike[-1]
        return self._exact(times)

    def layer_spikes(self, x: Float[ArrayLike, " in_size"]) -> tuple[SpikeTrain, ...]:
        """The spikes of every layer for one input, over the whole ``duration``.

        Element 0 is the input layer (``in_size`` features, then the bias spike; from
        ``encode``), element ``l`` the ``l``-th layer of LIF neurons (the last: the outputs),
        each a ``SpikeTrain`` of shape ``(n_l, capacity)``.  With ``gradient="exact"`` the
        times are those of the event-driven simulation (``simulate_lif_events``; a neuron holds
        up to ``max_spikes`` spikes); with ``"surrogate"`` those of the stepped one
        (``simulate_layers``), each spike at the end of the step of ``dt`` in which it was
        fired, capacity ``duration / dt``.  (``__call__`` stops the exact simulation once
        every output has fired, and places the stepped first spikes inside their step: the
        outputs' first spikes here are those of ``__call__`` for the exact gradient, and
        within one ``dt`` of them for the surrogate.)

        Example::

            inputs, hidden, output = model.layer_spikes(x)     # a 1-hidden-layer model
            hidden.count                                       # spikes per hidden neuron

        Raises:
            ValueError: as ``encode``; for the exact simulation, more than ``max_spikes``
                network spikes (at run time under jit).
        """
        times = self.encode(x)
        inputs = self._input_train(times)
        if self.gradient == "surrogate":
            run = self._stepped(times)
            steps = round(self.duration / self.dt)
            layers = tuple(
                SpikeTrain.from_raster(z.T.astype(jnp.int32), self.dt, self.dt, steps, on_overflow="flag")
                for z in run.spikes
            )
            return (inputs, *layers)
        res = self._events(times, stop=False)
        train = res.spikes
        bounds = np.cumsum([0, *self.layer_sizes])
        return (
            inputs,
            *(SpikeTrain(train.times[a:b], train.count[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)),
        )

    def _stepped(self, times: Array) -> LayerRun:
        steps = round(self.duration / self.dt)
        raster = self._input_train(times).to_raster(0.0, self.dt, steps)
        neuron = LIF(tau_m=self.tau_m, tau_ref=max(self.tau_ref, 1e-9))  # (a period below dt: none)
        return simulate_layers(
            self.weights, raster.T, dt=self.dt, tau_s=self.tau_s, neuron=neuron, surrogate=self.surrogate
        )

    def _events(self, times: Array, *, stop: bool) -> EventResult:
        lif = LIF(tau_m=self.tau_m, tau_ref=max(self.tau_ref, 1e-9))
        pops = [LIFPopulation(n, lif, self.tau_s) for n in self.layer_sizes]
        net = LIFNetwork(pops, {(i, i - 1): self.weights[i] for i in range(1, len(pops))})
        n0 = self.layer_sizes[0]
        w_in = jnp.zeros((net.size, times.shape[0]), self.weights[0].dtype).at[:n0].set(self.weights[0])
        return simulate_lif_events(
            net,
            self.duration,
            inputs=(self._input_train(times), w_in),
            tau_ref=self.tau_ref,
            max_spikes=self.max_spikes,
            # the first spike of every output is all the readout needs
            stop_when_fired=len(pops) - 1 if stop else None,
        )

    def _exact(self, times: Array) -> Array:
        res = self._events(times, stop=True)
        first = res.spikes.times[sum(self.layer_sizes) - self.out_size :, 0]
        return jnp.minimum(first, self.duration)

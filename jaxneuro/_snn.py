"""A trainable feed-forward spiking classifier with first-spike outputs: exact or surrogate gradients.

``SpikingClassifier`` holds the weights of a feed-forward network of LIF neurons (notes ch. 1.7:
``tau_m dv/dt = s - v``, ``tau_s ds/dt = -s``, threshold 1, reset 0, a spike adds ``w / tau_s``
to ``s``) and classifies by time to first spike: an input ``x`` in ``[0, 1]^d`` is sent as one
spike per feature at

    t_j = x_j t_in     (latency code; ``t_in`` the input window),

plus a bias spike at ``t = 0`` through its own weights, and the output neuron that fires first
names the class.  The model returns the output layer's first-spike times (the ``duration``
``T`` for a neuron that does not fire), to be scored with
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

from ._misc import as_float_array, error_if_any, is_concrete, static_positive
from ._network._eventprop import simulate_lif_events
from ._network._lif_exact import LIFNetwork, LIFPopulation
from ._neurons._lif import LIF
from ._spikes import SpikeTrain
from ._surrogate import AbstractSurrogate, FastSigmoid, simulate_layers

_GRADIENTS = ("exact", "surrogate")


class SpikingClassifier(eqx.Module):
    """Feed-forward LIF layers classifying by first-spike time (module docstring).

    Attributes:
        weights: ``W_l`` of shape ``(n_l, n_(l-1))`` in charges (normalised input x s); ``n_0``
            is the number of features plus one (the bias spike, the last column).
        tau_m, tau_s, tau_ref: membrane, synaptic and refractory time constants (s, static).
        duration: ``T``, the simulated time per input (s, static).
        t_in: the input window (s, static): feature ``x_j`` spikes at ``x_j t_in``.
        gradient: ``"exact"`` or ``"surrogate"`` (static).
        dt: the step of the surrogate simulation (s, static).
        surrogate: the surrogate derivative (surrogate gradient only).
        max_spikes: event capacity of the exact simulation (static): network spikes per input.
    """

    weights: tuple[Float[Array, "n_l n_prev"], ...]
    tau_m: float = eqx.field(static=True)
    tau_s: float = eqx.field(static=True)
    tau_ref: float = eqx.field(static=True)
    duration: float = eqx.field(static=True)
    t_in: float = eqx.field(static=True)
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

        Raises:
            ValueError: for a size, time constant or option outside its range (named).
        """
        for name, n in (("in_size", in_size), ("out_size", out_size)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name} must be an int >= 1, got {n!r}.")
        sizes = [int(in_size) + 1, *[int(h) for h in hidden_sizes], int(out_size)]
        if any(n < 1 for n in sizes):
            raise ValueError(f"hidden_sizes must be ints >= 1, got {list(hidden_sizes)!r}.")
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
        self.gradient = gradient
        self.surrogate = FastSigmoid() if surrogate is None else surrogate
        n_neurons = sum(sizes[1:])
        self.max_spikes = 4 * n_neurons if max_spikes is None else int(max_spikes)
        if self.max_spikes < 1:
            raise ValueError(f"max_spikes must be an int >= 1, got {max_spikes!r}.")
        if weights is None:
            keys = jax.random.split(key, len(sizes) - 1)
            weights = [
                self.tau_m * (weight_mean + weight_std * jax.random.normal(k, (m, n))) / n
                for k, n, m in zip(keys, sizes[:-1], sizes[1:], strict=True)
            ]
        ws = tuple(jnp.asarray(as_float_array(w)) for w in weights)
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
        """Input spike times: ``x_j t_in`` for each feature, then the bias spike at 0.

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
        return jnp.concatenate([x * self.t_in, jnp.zeros((1,), x.dtype)])

    def __call__(self, x: Float[ArrayLike, " in_size"]) -> Float[Array, " out_size"]:
        """The output layer's first-spike times (s), ``duration`` for a neuron that does not fire."""
        times = self.encode(x)
        if self.gradient == "surrogate":
            steps = round(self.duration / self.dt)
            raster = SpikeTrain(times[:, None], jnp.ones(times.shape, jnp.int32)).to_raster(0.0, self.dt, steps)
            neuron = LIF(tau_m=self.tau_m, tau_ref=max(self.tau_ref, 1e-9))  # (a period below dt: none)
            run = simulate_layers(
                self.weights, raster.T, dt=self.dt, tau_s=self.tau_s, neuron=neuron, surrogate=self.surrogate
            )
            return run.first_spike[-1]
        return self._exact(times)

    def _exact(self, times: Array) -> Array:
        lif = LIF(tau_m=self.tau_m, tau_ref=max(self.tau_ref, 1e-9))
        pops = [LIFPopulation(n, lif, self.tau_s) for n in self.layer_sizes]
        net = LIFNetwork(pops, {(i, i - 1): self.weights[i] for i in range(1, len(pops))})
        n0 = self.layer_sizes[0]
        w_in = jnp.zeros((net.size, times.shape[0]), self.weights[0].dtype).at[:n0].set(self.weights[0])
        train = SpikeTrain(times[:, None], jnp.ones(times.shape, jnp.int32))
        res = simulate_lif_events(
            net,
            self.duration,
            inputs=(train, w_in),
            tau_ref=self.tau_ref,
            max_spikes=self.max_spikes,
            stop_when_fired=len(pops) - 1,  # the first spike of every output is all the readout needs
        )
        first = res.spikes.times[net.size - self.out_size :, 0]
        return jnp.minimum(first, self.duration)

"""Surrogate gradients: stepped feed-forward spiking layers of any neuron, trained by back-propagation.

A spike is a Heaviside step of the neuron's spike condition ``c(y)`` (``v - 1`` for the LIF):
its derivative is zero almost everywhere, so back-propagation through a stepped network gets
no gradient.  A surrogate keeps the forward pass exact and replaces only the derivative
(Neftci, Mostafa and Zenke 2019):

    z = H(c),        dz/dc := sigma'(c),

with ``sigma'`` a bump of width set by its parameter:

    FastSigmoid(slope):  sigma'(c) = 1 / (1 + slope |c|)^2          (SuperSpike; Zenke & Ganguli 2018)
    ArcTan(alpha):       sigma'(c) = (alpha / 2) / (1 + (pi alpha c / 2)^2)   (snnTorch's atan)

``simulate_layers`` runs feed-forward layers of any ``AbstractNeuron`` (the LIF by default)
with current-based exponential synapses, on a grid of steps ``dt`` (one ``lax.scan``; reverse
mode stores one state per step, back-propagation through time).  In step ``n`` (from ``t_n``
to ``t_n + dt``), for layer ``l = 1 .. L`` in order:

    s_l <- s_l e^(-dt / tau_s) + W_l z_(l-1) / tau_s      (z_0: the input spikes of the step),
    y_l <- solver step of the neuron under the input current s_l + b_l,
    z_l  = H(c(y_l)) (not refractory),   y_l <- [z_l] reset(y_l) + (1 - [z_l]) y_l,

so a spike reaches the next layer in the step it is fired (no delay), a charge ``w`` per
spike as in the notes (ch. 1.7).  ``[z]`` passes no gradient: the surrogate of the reset would
multiply the voltage's sensitivity by ``1 - sigma'(c) v`` in every step and erase it (detaching
the reset is the usual choice, Zenke and Vogels 2021).  A neuron with a refractory period is held at its reset state
for that long.  The first-spike time of a neuron is placed inside its step on the straight
line through the spike condition at both ends, ``t_n + dt c_n / (c_n - c_(n+1))``, and
selected by the spikes themselves,

    t_first = sum_n [a_n z_n] t_cross,n + a_N T,     a_n = prod_(m < n) (1 - z_m),

(``T`` for a neuron that does not fire; ``[.]`` passes no gradient).  The gradient of a
firing neuron's first-spike time is then that of its located crossing, the implicit-function
derivative ``-(dc/dtheta) / (dc/dt)`` of the linearised condition, with the surrogate acting
through the spikes of the layers before it; for a silent neuron it is ``-T sum_m sigma'(c_m)
dc_m/dtheta``, the surrogate's pull towards firing.

References:
    E. O. Neftci, H. Mostafa and F. Zenke (2019), "Surrogate gradient learning in spiking
    neural networks", IEEE Signal Processing Magazine 36:51-63.  F. Zenke and S. Ganguli
    (2018), "SuperSpike", Neural Computation 30:1514-1541.  F. Zenke and T. P. Vogels (2021),
    "The remarkable robustness of surrogate gradient learning", Neural Computation 33:899-925.
"""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from ._custom_types import StaticReal
from ._misc import as_float_array, check_finite, static_positive
from ._neurons._base import AbstractNeuron
from ._neurons._lif import LIF
from ._solvers._base import error_if_any, reset_check, stuck_reset_message
from ._solvers._exp_euler import ExponentialEuler
from ._solvers._fixed_step import AbstractFixedStepSolver


class AbstractSurrogate(eqx.Module):
    """A Heaviside step with a surrogate derivative: ``surrogate(c)`` is ``H(c)`` (1 for
    ``c > 0``, else 0) in the forward pass, and its derivative is ``derivative(c)``."""

    @abc.abstractmethod
    def derivative(self, c: Array) -> Array:
        """The surrogate ``sigma'(c)`` of ``dH/dc``."""

    def __call__(self, c: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
        return _heaviside(self, jnp.asarray(c))


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _heaviside(surrogate: AbstractSurrogate, c: Array) -> Array:
    return (c > 0).astype(c.dtype)


@_heaviside.defjvp
def _heaviside_jvp(surrogate, primals, tangents):
    (c,), (dc,) = primals, tangents
    return _heaviside(surrogate, c), surrogate.derivative(c) * dc


class FastSigmoid(AbstractSurrogate):
    """``sigma'(c) = 1 / (1 + slope |c|)^2`` (the derivative of the fast sigmoid
    ``c / (1 + slope |c|)``; SuperSpike).  ``slope`` (> 0, static) sets the width: 1/slope
    in units of the spike condition.

    Example::

        spike = jn.FastSigmoid(25.0)
        jax.grad(lambda v: spike(v - 1.0))(0.9)     # 1 / (1 + 2.5)^2 = 0.0816
    """

    slope: float = eqx.field(static=True, default=25.0)

    def __check_init__(self):
        static_positive("FastSigmoid: slope", self.slope)

    def derivative(self, c):
        return 1.0 / (1.0 + self.slope * jnp.abs(c)) ** 2


class ArcTan(AbstractSurrogate):
    """``sigma'(c) = (alpha / 2) / (1 + (pi alpha c / 2)^2)``, the derivative of
    ``arctan(pi alpha c / 2) / pi`` (snnTorch's ``atan``).  ``alpha`` (> 0, static)."""

    alpha: float = eqx.field(static=True, default=2.0)

    def __check_init__(self):
        static_positive("ArcTan: alpha", self.alpha)

    def derivative(self, c):
        return (self.alpha / 2.0) / (1.0 + (jnp.pi * self.alpha * c / 2.0) ** 2)


class LayerRun(eqx.Module):
    """What ``simulate_layers`` returns (``L`` layers, ``steps`` steps).

    Attributes:
        spikes: per layer, the spikes of every step, shape ``(steps, n_l)`` (0 or 1; the
            surrogate gradient flows through them).
        first_spike: per layer, the first-spike time of each neuron, placed inside its step,
            shape ``(n_l,)`` (``steps x dt`` when it does not fire), in the neuron's time unit.
        v: the last layer's membrane potential at the end of every step, shape ``(steps, n_L)``.
        dt: the step.
    """

    spikes: tuple[Float[Array, "steps _"], ...]
    first_spike: tuple[Float[Array, " _"], ...]
    v: Float[Array, "steps out"]
    dt: float = eqx.field(static=True)

    @property
    def counts(self) -> tuple[Float[Array, " _"], ...]:
        """Spikes per neuron of each layer over the run."""
        return tuple(jnp.sum(z, axis=0) for z in self.spikes)


def simulate_layers(
    weights: Sequence[Float[ArrayLike, "_n_l _n_prev"]],  # each layer its own sizes (unchecked names)
    inputs: Real[ArrayLike, "steps n_in"],
    *,
    dt: StaticReal,
    tau_s: StaticReal,
    neuron: AbstractNeuron | None = None,
    bias: Sequence[Float[ArrayLike, " _n_l"] | Float[ArrayLike, ""]] | None = None,
    surrogate: AbstractSurrogate | None = None,
    solver: Any = None,
) -> LayerRun:
    """Feed-forward spiking layers on a grid of steps, differentiable with surrogate gradients
    (module docstring for the step).

    Example (Yin-Yang-sized, 5 inputs -> 120 -> 3 LIF neurons, 40 ms in steps of 0.1 ms)::

        raster = jn.SpikeTrain.from_times(times[:, None]).to_raster(0.0, 1e-4, 400).T   # (400, 5)
        run = jn.simulate_layers([W1, W2], raster, dt=1e-4, tau_s=5e-3)
        run.first_spike[-1]     # (3,) first-spike times of the outputs, differentiable

    Args:
        weights: ``W_l`` of shape ``(n_l, n_(l-1))`` (charges: a spike adds ``W_l / tau_s`` to
            the synaptic current), ``n_0`` the number of inputs.
        inputs: spikes per step of each input, shape ``(steps, n_in)`` (a raster of int or float
            counts, e.g. ``SpikeTrain.to_raster``).
        dt: step (static), in the neuron's time unit.
        tau_s: synaptic time constant (> 0), same unit.
        neuron: any ``AbstractNeuron`` (default ``LIF()``: normalised, seconds); its parameters
            broadcast over the neurons of every layer.
        bias: constant input current per layer (default none).
        surrogate: the surrogate derivative (default ``FastSigmoid(25.0)``).
        solver: a fixed-step solver with ``update_with_input`` (default ``ExponentialEuler``,
            exact for the LIF's linear membrane under a held current).

    Returns:
        A ``LayerRun``.

    Raises:
        ValueError: for weights whose shapes do not chain, an input raster of the wrong width,
            a bias of the wrong shape, a non-positive ``dt`` / ``tau_s``, a NaN or infinite
            weight, bias or input (at run time when traced), a neuron with more than one
            state variable, or a solver that is not a fixed-step one.
        EquinoxRuntimeError: a neuron's reset left its spike condition >= 0 (at run time).
    """
    neuron = LIF() if neuron is None else neuron
    if not isinstance(neuron, AbstractNeuron):
        raise ValueError(f"neuron must be a jaxneuro.AbstractNeuron, got {type(neuron).__name__}.")
    surrogate = FastSigmoid() if surrogate is None else surrogate
    if not isinstance(surrogate, AbstractSurrogate):
        raise ValueError(f"surrogate must be a jaxneuro.AbstractSurrogate, got {type(surrogate).__name__}.")
    solver = ExponentialEuler() if solver is None else solver
    if not isinstance(solver, AbstractFixedStepSolver):
        raise ValueError(
            f"solver must be a fixed-step jaxneuro solver (ExponentialEuler, RK4, ...), got {type(solver).__name__}."
        )
    update: Any = solver.update_with_input  # (dt stays a Python float, as before the check)
    dt = static_positive("dt", dt)
    tau_s = static_positive("tau_s", tau_s)
    # a NaN or infinite weight, bias or input would leave its neurons silently silent (a NaN
    # condition is never above threshold): an error, at run time when traced
    ws = [check_finite(f"weights[{i}]", as_float_array(w)) for i, w in enumerate(weights)]
    x = check_finite("inputs", as_float_array(inputs))
    if not ws:
        raise ValueError("weights must hold at least one matrix.")
    if x.ndim != 2:
        raise ValueError(f"inputs must be a raster of shape (steps, n_in), got shape {x.shape}.")
    prev = x.shape[1]
    for i, w in enumerate(ws):
        if w.ndim != 2 or w.shape[1] != prev:
            raise ValueError(f"weights[{i}] must have shape (n_{i + 1}, {prev}), got shape {w.shape}.")
        prev = w.shape[0]
    sizes = [w.shape[0] for w in ws]
    bs = [jnp.zeros((n,), ws[0].dtype) for n in sizes] if bias is None else [as_float_array(b) for b in bias]
    bs = [check_finite(f"bias[{i}]", b) for i, b in enumerate(bs)]
    if len(bs) != len(ws) or any(jnp.shape(b) not in ((), (n,)) for b, n in zip(bs, sizes, strict=False)):
        raise ValueError(f"bias must hold one array per layer, of shapes {[(n,) for n in sizes]}.")
    dtype = jnp.result_type(ws[0].dtype, x.dtype)
    decay = math.exp(-dt / tau_s)
    t_ref = neuron.refractory_period()
    if not isinstance(neuron.initial_state(), jax.Array | float):
        raise ValueError(
            f"neuron must have a single state variable (LIF, QIF, EIF, IntegrateAndFire), got "
            f"{type(neuron).__name__} with state {type(neuron.initial_state()).__name__}."
        )
    y0 = [jnp.broadcast_to(neuron.initial_state(), (n,)).astype(dtype) for n in sizes]

    checks = [reset_check(neuron, y) for y in y0]  # a reset that leaves a neuron above threshold

    def layer(y, s, ref, stuck, w, b, z_in, t):
        c_old = neuron.spike_condition(y)
        s = s * decay + (w @ z_in) / tau_s
        y_new = update(neuron, t, y, dt, s + b, None)
        free = ref <= 0 if t_ref is not None else True
        c_new = neuron.spike_condition(y_new)
        z = surrogate(c_new) * free
        # the crossing inside the step, on the straight line through the condition at both ends
        rise = jnp.where(c_new > c_old, c_new - c_old, 1.0)
        t_cross = t + dt * jnp.clip(-c_old / rise, 0.0, 1.0)
        reset = neuron.reset(y_new)
        zr = jax.lax.stop_gradient(z)  # the reset passes no surrogate gradient (Zenke & Vogels 2021)
        y_new = jax.tree.map(lambda r, u: zr * r + (1 - zr) * u, reset, y_new)
        if stuck is not None:
            stuck = stuck | ((zr > 0) & (neuron.spike_condition(reset) >= 0))
        if t_ref is not None:  # held at the reset state while refractory
            y_new = jax.tree.map(lambda r, u: jnp.where(free, u, r), reset, y_new)
            ref = jnp.where(z > 0, t_ref, ref - dt)
        return y_new, s, ref, stuck, z, t_cross

    def step(carry, xs):
        ys, ss, refs, alive, stuck = carry
        z_in, n = xs
        t = n * dt
        new, zs, firsts = [], [], []
        for y, s, ref, st, w, b, a in zip(ys, ss, refs, stuck, ws, bs, alive, strict=True):
            y, s, ref, st, z_in, t_cross = layer(y, s, ref, st, w, b, z_in, t)
            new.append((y, s, ref, a * (1 - z_in), st))
            zs.append(z_in)
            firsts.append(jax.lax.stop_gradient(a * z_in) * t_cross)  # nonzero in the first spike's step only
        ys, ss, refs, alive, stuck = (list(v) for v in zip(*new, strict=True))
        return (ys, ss, refs, alive, stuck), (zs, firsts, neuron.voltage(ys[-1]))

    ss0 = [jnp.zeros((n,), dtype) for n in sizes]
    refs0 = [jnp.zeros((n,), dtype) for n in sizes]
    alive0 = [jnp.ones((n,), dtype) for n in sizes]
    steps = x.shape[0]
    stuck0 = [carried for carried, _ in checks]
    carry, (zs, firsts, v) = jax.lax.scan(step, (y0, ss0, refs0, alive0, stuck0), (x.astype(dtype), jnp.arange(steps)))
    # a silent neuron's T carries the surrogate's pull towards firing; a firing one's only its crossing
    first = tuple(
        jnp.sum(f, axis=0) + (steps * dt) * jnp.where(jax.lax.stop_gradient(a) > 0, a, jax.lax.stop_gradient(a))
        for f, a in zip(firsts, carry[3], strict=True)
    )
    stuck = [
        carried if if_spiking is None else if_spiking & (a < 1)  # a: 0 once a neuron has spiked
        for (_, if_spiking), carried, a in zip(checks, carry[4], carry[3], strict=True)
    ]
    stuck = [jnp.any(x) for x in stuck if x is not None]
    if stuck:  # one reduction after the loop
        zs, first, v = error_if_any((zs, first, v), jnp.any(jnp.stack(stuck)), stuck_reset_message(neuron))
    return LayerRun(tuple(zs), first, v, dt)


__all__ = ["AbstractSurrogate", "ArcTan", "FastSigmoid", "LayerRun", "simulate_layers"]

"""Fitting neuron parameters by gradient descent to an f-I curve or to spike times.

``fit_neuron(neuron, target, free)`` turns the free parameters (field names, each with
bounds) into unconstrained numbers, runs an optax optimiser on a loss that simulates the
neuron with the library's own differentiable simulators, and returns the fitted neuron and
the loss history.

The transform of a parameter ``x`` with bounds ``(lo, hi)`` to the unconstrained ``u`` the
optimiser moves:

    x = lo + (hi - lo) sigmoid(u)     both bounds finite (a scaled logit),
    x = lo + exp(u)                   ``hi = inf`` (log of the distance to the lower bound),
    x = hi - exp(u)                   ``lo = -inf``,

so every iterate lies strictly inside its bounds and a step of the optimiser moves a
parameter by a relative amount (Adam's steps are about its learning rate in ``u``).

Two targets, whose losses are stated on the classes: ``FICurveTarget`` (rates in Hz at
constant inputs, through ``tuning_curve``) and ``SpikeTimesTarget`` (spike times under a
drive, through ``simulate``).  A sequence of targets adds their losses (an f-I curve and a
spike train under a step, say).  The derivatives are those of the simulators themselves:
forward sensitivities, one forward-mode run per free scalar, exact spike times.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import RealSequence
from ._inputs import as_input
from ._misc import check_int, check_range, default_float, is_concrete, static_positive
from ._neurons._base import AbstractNeuron
from ._progress import ProgressBar, TextStream, progress_stream
from ._simulate import METHODS, Method, check_neuron, simulate
from ._tuning import tuning_curve

DEFAULT_STEPS = 300
DEFAULT_LEARNING_RATE = 0.1
"""Adam's initial learning rate in the transformed space (``default_optimizer``)."""


def default_optimizer(steps: int = DEFAULT_STEPS, learning_rate: float = DEFAULT_LEARNING_RATE):
    """Adam with a cosine decay of its learning rate from ``learning_rate`` to 1% of it over
    ``steps``: large steps in the transformed space while far away, then small ones so the
    last iterates settle to a fraction of a percent instead of hovering at Adam's step size.

    Raises:
        ValueError: if ``steps`` is not an int >= 1 or ``learning_rate`` is not finite and > 0.
    """
    steps = check_int("steps", steps)
    learning_rate = static_positive("learning_rate", learning_rate)
    return optax.adam(optax.cosine_decay_schedule(learning_rate, steps, alpha=0.01))


def _target_settings(method: Any, dt: Any, weight: Any, **times: Any) -> float:
    """Check a target's simulation settings when it is built (not at the first step of a fit);
    return ``weight`` as a float."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got method = {method!r}.")
    if dt is not None:
        static_positive("dt", dt)
    for name, value in times.items():
        if value is not None:
            check_range(name, value, lower=0.0, lower_open=name == "duration")
    return float(check_range("weight", weight, lower=0.0))


# ----------------------------------------------------------------------------- targets
class FICurveTarget(eqx.Module):
    """An f-I curve to fit: steady-state rates (Hz) at constant inputs, simulated with ``tuning_curve``.

    The loss is the weighted mean squared rate error relative to the largest target rate:

        L = sum_i w_i ((f_i(theta) - r_i) / r_max)^2 / sum_i w_i,

    with ``f_i`` the model's rate at ``inputs[i]``.  Two non-smooth parts are handled on purpose:

    * **Zero rate below threshold.**  Where the model is silent its rate is exactly 0 and has
      no gradient.  Points where target and model are both silent cost nothing (nothing to
      fit); where the target is silent and the model fires, the error has the gradient of the
      model's rate and pushes it down.  Where the target fires but the model is silent the term
      is the constant ``(r_i / r_max)^2``: it has no gradient, so the fit is driven by the
      points where both fire, and ``fit_neuron`` refuses to start (``ValueError``) when the
      model at its initial parameters fires at none of the target's firing inputs.
    * **The onset of firing.**  Near the rheobase a type-I neuron's rate rises with an infinite
      slope, and a type-II neuron's (Hodgkin-Huxley) jumps from 0 to about 50 Hz: as the fitted
      onset moves across an input the loss there jumps, and its gradient says nothing about the
      jump.  With ``exclude_onset`` (the default) the points within ``onset_margin`` of the
      target's onset bracket (the last silent and the first firing input) get weight 0, so the
      loss is smooth as long as the model's onset moves less than that far; the rheobase then
      follows from the firing branch above it.  Give inputs above the onset to fit the firing
      branch, and a few below to keep a model from firing there.

    Attributes:
        inputs: constant inputs, 1-D, in the neuron's input unit.
        rates: target rates in Hz, ``>= 0``, same shape.
        weights: per-point weights ``>= 0`` (default 1; the onset points are then set to 0).
        duration, transient, method, dt: passed to ``tuning_curve`` (neuron's time unit).
        weight: the weight of this target's loss in a sum of targets.
    """

    inputs: Float[Array, " points"]
    rates: Float[Array, " points"]
    weights: Float[Array, " points"]
    duration: float | None = eqx.field(static=True)
    transient: float | None = eqx.field(static=True)
    method: Method = eqx.field(static=True)
    dt: float | None = eqx.field(static=True)
    weight: float = eqx.field(static=True)

    def __init__(
        self,
        inputs: Float[ArrayLike, " points"] | RealSequence,
        rates: Float[ArrayLike, " points"] | RealSequence,
        *,
        weights: Float[ArrayLike, " points"] | RealSequence | None = None,
        exclude_onset: bool = True,
        onset_margin: float = 0.0,
        duration: float | None = None,
        transient: float | None = None,
        method: Method = "auto",
        dt: float | None = None,
        weight: float = 1.0,
    ):
        x = _host_vector("inputs", inputs)
        r = _host_vector("rates", rates)
        if x.shape != r.shape or x.size == 0:
            raise ValueError(f"inputs and rates must be 1-D of one non-zero length; got {x.shape} and {r.shape}.")
        if np.any(r < 0):
            raise ValueError(f"rates must be in [0, inf) Hz; got rates = {r[r < 0]}.")
        w = np.ones_like(x) if weights is None else _host_vector("weights", weights)
        if w.shape != x.shape or np.any(w < 0):
            raise ValueError(f"weights must be >= 0 with the shape of inputs {x.shape}; got {w}.")
        if not onset_margin >= 0:
            raise ValueError(f"onset_margin must be in [0, inf) (input unit); got onset_margin = {onset_margin}.")
        if exclude_onset:
            w = np.where(_onset_band(x, r, onset_margin), 0.0, w)
        if not np.any((w > 0) & (r > 0)):
            raise ValueError(
                "FICurveTarget: no point where the target fires keeps a positive weight (after leaving out the "
                "onset); a rate loss needs firing points above the onset."
            )
        self.weight = _target_settings(method, dt, weight, duration=duration, transient=transient)
        self.inputs, self.rates, self.weights = jnp.asarray(x), jnp.asarray(r), jnp.asarray(w)
        self.duration, self.transient, self.method, self.dt = duration, transient, method, dt

    def model_rates(self, neuron: AbstractNeuron) -> Float[Array, " points"]:
        """The model's rates (Hz) at ``inputs``."""
        dtype = default_float()
        return tuning_curve(
            neuron,
            self.inputs.astype(dtype),
            duration=self.duration,
            transient=self.transient,
            method=self.method,
            dt=self.dt,
        )

    def loss(self, neuron: AbstractNeuron) -> Float[Array, ""]:
        """The weighted relative mean squared rate error (class docstring)."""
        dtype = default_float()
        r = self.rates.astype(dtype)
        w = self.weights.astype(dtype)
        scale = jnp.maximum(jnp.max(r), 1.0)
        err = (self.model_rates(neuron) - r) / scale
        return jnp.sum(w * err**2) / jnp.sum(w)

    def check_start(self, neuron: AbstractNeuron) -> None:
        """``ValueError`` when the model fires at none of the weighted firing points (no gradient)."""
        used = np.asarray((self.weights > 0) & (self.rates > 0))
        model = np.asarray(self.model_rates(neuron))
        if not np.any(model[used] > 0):
            raise ValueError(
                "fit_neuron: at its initial parameters the model is silent at every input where the target "
                f"fires (inputs {np.asarray(self.inputs)[used]}): a silent neuron's rate has no gradient. Start "
                "from parameters that fire there (or add inputs where the model fires)."
            )


class SpikeTimesTarget(eqx.Module):
    """Spike times to fit under a drive over ``[t0, t1]``, simulated with ``simulate``.

    The loss compares spikes by their index, with missing spikes placed at the window's end:

        L = sum_k ((t~_k(theta) - s~_k) / tau)^2 / max(n, 1),    k = 1 .. capacity,

    where ``s~`` are the ``n`` target times and ``t~`` the model's, each padded with ``t1`` up
    to the buffer's capacity, and ``tau = (t1 - t0) / max(n, 1)`` (the target's mean ISI) makes
    it dimensionless.  Why this loss: spike times are differentiable (exactly, in every
    solver), while a spike count is not; padding with ``t1`` makes ``L`` continuous in the
    parameters when a spike enters or leaves the window (it does so at ``t1``, where its term
    equals the padding's), so extra or missing spikes are pulled in or pushed out by the
    gradient of the spikes that exist; and unlike a van Rossum distance it does not flatten
    when a model spike is many filter widths from its target (no local minima from
    mismatched spikes).  Later spikes carry the errors of earlier intervals, which weights the
    slow dynamics (adaptation) the early spikes alone would not identify.

    Attributes:
        drive: the input (a number, a callable of ``t`` or an ``AbstractInput``; input unit).
        times: target spike times, sorted, within ``(t0, t1]`` (neuron's time unit).
        t0, t1: the window.
        capacity: the spike buffer (default ``2 n + 8``); model spikes past it are not seen.
        method, dt: passed to ``simulate``.
        weight: the weight of this target's loss in a sum of targets.
    """

    drive: Any
    times: Float[Array, " spikes"]
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    capacity: int = eqx.field(static=True)
    method: Method = eqx.field(static=True)
    dt: float | None = eqx.field(static=True)
    weight: float = eqx.field(static=True)

    def __init__(
        self,
        drive: Any,
        times: Float[ArrayLike, " spikes"] | RealSequence,
        t0: float,
        t1: float,
        *,
        capacity: int | None = None,
        method: Method = "auto",
        dt: float | None = None,
        weight: float = 1.0,
    ):
        s = _host_vector("times", times)
        t0, t1 = float(t0), float(t1)
        if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
            raise ValueError(f"t1 must be finite and greater than t0; got t0 = {t0:g}, t1 = {t1:g}.")
        if np.any(~np.isfinite(s)) or np.any(np.diff(s) < 0) or np.any((s <= t0) | (s > t1)):
            raise ValueError(f"times must be finite, sorted and in (t0, t1] = ({t0:g}, {t1:g}]; got {s}.")
        capacity = 2 * s.size + 8 if capacity is None else capacity
        check_int("capacity", capacity, s.size, hint=f"(at least len(times) = {s.size})")
        self.weight = _target_settings(method, dt, weight)
        self.drive, self.times = as_input(drive), jnp.asarray(s)
        self.t0, self.t1, self.capacity = t0, t1, int(capacity)
        self.method, self.dt = method, dt

    def model_times(self, neuron: AbstractNeuron) -> Float[Array, " capacity"]:
        """The model's spike times padded with ``t1`` to ``capacity``."""
        sim = simulate(
            neuron,
            self.drive,
            self.t0,
            self.t1,
            method=self.method,
            dt=self.dt,
            max_spikes=self.capacity,
            on_overflow="flag",
            ts=np.asarray([self.t0, self.t1]),  # no state trace: only the spikes are used
        )
        times = sim.spikes.times
        inside = jnp.arange(self.capacity) < jnp.minimum(sim.spikes.count, self.capacity)
        safe = jnp.where(inside, times, self.t1)  # the padding is inf: keep it out of the arithmetic
        return jnp.where(inside, safe, self.t1)

    def loss(self, neuron: AbstractNeuron) -> Float[Array, ""]:
        """The padded, index-matched squared spike-time error (class docstring)."""
        dtype = default_float()
        n = self.times.shape[0]
        target = jnp.full(self.capacity, self.t1, dtype).at[:n].set(self.times.astype(dtype))
        tau = (self.t1 - self.t0) / max(n, 1)
        err = (self.model_times(neuron).astype(dtype) - target) / tau
        return jnp.sum(err**2) / max(n, 1)

    def check_start(self, neuron: AbstractNeuron) -> None:
        """Nothing to check: the loss is continuous and has a gradient wherever the model spikes."""


AbstractTarget = FICurveTarget | SpikeTimesTarget


# ----------------------------------------------------------------------------- result
class FitResult(NamedTuple):
    """The result of ``fit_neuron``.

    Attributes:
        neuron: the fitted neuron (the input neuron with its free parameters replaced).
        losses: the loss at every step, before that step's update, shape ``(steps,)``.
        history: each free parameter's value at every step (before its update), a dict of
            arrays of shape ``(steps, *shape)``.
        final_loss: the loss of the fitted neuron.
    """

    neuron: AbstractNeuron
    losses: Float[Array, " steps"]
    history: dict[str, Float[Array, "steps ..."]]
    final_loss: Float[Array, ""]


# ----------------------------------------------------------------------------- transforms
def _to_unconstrained(x, lo: float, hi: float):
    if math.isfinite(lo) and math.isfinite(hi):
        z = (x - lo) / (hi - lo)
        return jnp.log(z) - jnp.log1p(-z)
    if math.isfinite(lo):
        return jnp.log(x - lo)
    return jnp.log(hi - x)


def _to_constrained(u, lo: float, hi: float):
    if math.isfinite(lo) and math.isfinite(hi):
        return lo + (hi - lo) * jax.nn.sigmoid(u)
    if math.isfinite(lo):
        return lo + jnp.exp(u)
    return hi - jnp.exp(u)


def free_parameter_names(neuron: AbstractNeuron) -> tuple[str, ...]:
    """The fields of ``neuron`` that can be fitted: its floating-point array parameters."""
    return tuple(
        f.name
        for f in dataclasses.fields(neuron)
        if not f.metadata.get("static", False) and eqx.is_inexact_array(getattr(neuron, f.name))
    )


def _check_free(neuron: AbstractNeuron, free: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Validated bounds of each free parameter (module docstring; ``fit_neuron`` Raises)."""
    if not isinstance(free, Mapping) or not free:
        raise ValueError(
            "free must be a non-empty dict {parameter name: (lower, upper)}, e.g. "
            f"{{'tau_m': (0.005, 0.1)}}; got {free!r}."
        )
    valid = free_parameter_names(neuron)
    model = type(neuron).__name__
    bounds = {}
    for name, bound in free.items():
        if name not in valid:
            raise ValueError(f"unknown parameter {name!r} of {model}; the parameters are {', '.join(valid)}.")
        try:
            lo, hi = (float(b) if b is not None else None for b in bound)
        except (TypeError, ValueError):
            raise ValueError(f"the bounds of {name} must be a pair (lower, upper) of numbers; got {bound!r}.") from None
        lo = -math.inf if lo is None else lo
        hi = math.inf if hi is None else hi
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise ValueError(f"the bounds of {name} must satisfy lower < upper; got ({lo:g}, {hi:g}).")
        if math.isinf(lo) and math.isinf(hi):
            raise ValueError(
                f"the bounds of {name} must have at least one finite end (the transform is a scaled logit between "
                f"two bounds or a log from one); got ({lo:g}, {hi:g})."
            )
        # The model's own constructor knows its valid ranges: build it with each finite bound.
        for side, b in (("lower", lo), ("upper", hi)):
            if math.isfinite(b):
                try:
                    dataclasses.replace(neuron, **{name: b})
                except ValueError as e:
                    raise ValueError(
                        f"the {side} bound {b:g} of {name} is outside {model}'s valid range for {name}: {e}"
                    ) from None
        x0 = np.asarray(getattr(neuron, name), np.float64)
        if not is_concrete(getattr(neuron, name)):
            raise ValueError(f"the initial value of {name} must be concrete (not traced) to start a fit.")
        if np.any(~(x0 > lo)) or np.any(~(x0 < hi)):
            raise ValueError(
                f"the initial value of {name} = {np.array2string(x0, precision=6)} is not strictly inside its "
                f"bounds ({lo:g}, {hi:g}); start inside them."
            )
        bounds[name] = (lo, hi)
    return bounds


def _host_vector(name: str, value: Any) -> np.ndarray:
    if not is_concrete(value):
        raise ValueError(f"{name} must be concrete (data), not a traced value.")
    arr = np.asarray(value, np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}.")
    if np.any(~np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {arr}.")
    return arr


def _onset_band(x: np.ndarray, r: np.ndarray, margin: float) -> np.ndarray:
    """Points within ``margin`` of a switch between silent and firing in the target (sorted
    by input): the onset, and depolarisation block at large inputs."""
    order = np.argsort(x, kind="stable")
    xs, firing = x[order], r[order] > 0
    band = np.zeros(x.shape, bool)
    for i in np.flatnonzero(firing[1:] != firing[:-1]):
        band |= (x >= xs[i] - margin) & (x <= xs[i + 1] + margin)
    return band


# ----------------------------------------------------------------------------- public
def fit_neuron(
    neuron: AbstractNeuron,
    target: AbstractTarget | Sequence[AbstractTarget],
    free: Mapping[str, tuple[float | None, float | None]],
    *,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = DEFAULT_STEPS,
    progress: bool | TextStream | None = False,
) -> FitResult:
    """Fit the ``free`` parameters of ``neuron`` to ``target`` by gradient descent.

    Each free parameter is moved in a transformed, unconstrained space (module docstring:
    a scaled logit between two finite bounds, a log from one), the loss is the target's
    (``FICurveTarget``: relative squared rate error through ``tuning_curve``;
    ``SpikeTimesTarget``: index-matched squared spike-time error through ``simulate``; a
    sequence adds their weighted losses), and each step is one jitted ``value_and_grad``
    and optimiser update.  The gradient is the simulators' own: one forward-mode run per free
    scalar, no storage per time step.  How the zero rate below threshold and the onset jump
    are handled is on ``FICurveTarget``.

    Example::

        target = jn.FICurveTarget(jnp.linspace(1.2, 5, 12), measured_rates)
        fit = jn.fit_neuron(jn.LIF(tau_m=0.02, tau_ref=0.002), target,
                            {"tau_m": (0.002, 0.1), "tau_ref": (1e-4, 0.01)})
        fit.neuron.tau_m, fit.losses[-1]

    Args:
        neuron: any ``AbstractNeuron``; its parameters are the starting point.
        target: an ``FICurveTarget``, a ``SpikeTimesTarget`` or a sequence of them.
        free: ``{name: (lower, upper)}`` for each fitted parameter (a field of the neuron), in
            the parameter's unit; one of the bounds may be ``None`` (unbounded on that side).
            Each finite bound must be a valid value of the parameter, and the initial value
            strictly inside.
        optimizer: an ``optax.GradientTransformation`` acting on the transformed parameters
            (default ``default_optimizer(steps)``: Adam, learning rate 0.1 with a cosine decay
            to 1e-3; for precise fits of a few parameters ``optax.lbfgs()`` converges in tens of
            steps where Adam needs hundreds).
        steps: the number of optimiser steps.
        progress: ``True`` (or a stream) for a tqdm progress bar showing the loss.

    Returns:
        A ``FitResult``: the fitted ``neuron``, ``losses`` (per step), the parameter
        ``history`` and ``final_loss``.

    Raises:
        ValueError: for an unknown parameter name (the message lists the valid ones), bounds
            that are not ``lower < upper``, a bound outside the model's valid range (e.g. a
            time constant's lower bound <= 0, a conductance's < 0; the message names the
            parameter, the bound and the allowed range), an initial value not strictly inside
            its bounds, a non-positive number of steps, or a model that fires at none of an
            f-I target's firing inputs at the start.
        TypeError: for a target that is not one of the target classes, or a neuron that is not
            an ``AbstractNeuron``.
    """
    check_neuron(neuron)
    targets = (target,) if isinstance(target, (FICurveTarget, SpikeTimesTarget)) else tuple(target)
    for t in targets:
        if not isinstance(t, (FICurveTarget, SpikeTimesTarget)):
            raise TypeError(f"target must be an FICurveTarget or a SpikeTimesTarget (or a sequence); got {t!r}.")
    if not targets:
        raise ValueError("target must hold at least one target.")
    check_int("steps", steps)
    bounds = _check_free(neuron, free)
    names = tuple(bounds)
    dtype = default_float()
    for t in targets:
        t.check_start(neuron)

    def build(u: dict[str, Array]) -> AbstractNeuron:
        values = tuple(_to_constrained(u[k], *bounds[k]) for k in names)
        return eqx.tree_at(lambda n: tuple(getattr(n, k) for k in names), neuron, values)

    def loss_fn(u):
        nrn = build(u)
        return sum(t.weight * t.loss(nrn) for t in targets)

    if optimizer is None:
        optimizer = default_optimizer(steps)

    # The fixed parameters are closed over as constants (only the free ones are traced, so
    # only they cost a forward-mode direction); the step compiles once per fit.
    @eqx.filter_jit
    def step(u, opt_state):
        loss, grad = jax.value_and_grad(loss_fn)(u)
        if isinstance(optimizer, optax.GradientTransformationExtraArgs):
            # what line-search optimisers (optax.lbfgs) need; the others ignore it
            extra = dict(value=loss, grad=grad, value_fn=loss_fn)
            updates, opt_state = optimizer.update(grad, opt_state, u, **extra)
        else:
            updates, opt_state = optimizer.update(grad, opt_state, u)
        return cast(dict[str, Array], optax.apply_updates(u, updates)), opt_state, loss

    u = {
        k: jnp.asarray(_to_unconstrained(np.asarray(getattr(neuron, k), np.float64), *bounds[k]), dtype) for k in names
    }
    opt_state = optimizer.init(u)
    losses, history = [], {k: [] for k in names}
    stream = progress_stream(progress)
    with ProgressBar(total=int(steps), desc="fit", unit="step", stream=stream) as bar:
        for _ in range(int(steps)):
            for k in names:
                history[k].append(_to_constrained(u[k], *bounds[k]))
            u, opt_state, loss = step(u, opt_state)
            losses.append(loss)
            if stream is not None:
                bar.set_postfix(loss=f"{float(loss):.3g}", refresh=False)
                bar.update()
    final = jnp.asarray(eqx.filter_jit(loss_fn)(u))
    # Rebuilt through the constructor: its converters and checks apply to the fitted values.
    fitted = dataclasses.replace(neuron, **{k: np.asarray(_to_constrained(u[k], *bounds[k])) for k in names})
    return FitResult(
        neuron=fitted,
        losses=jnp.stack(losses),
        history={k: jnp.stack(v) for k, v in history.items()},
        final_loss=final,
    )


__all__ = [
    "FICurveTarget",
    "SpikeTimesTarget",
    "FitResult",
    "fit_neuron",
    "default_optimizer",
    "free_parameter_names",
]

"""Fixed-step solvers for any neuron, with the threshold crossing placed inside the step.

One loop serves every fixed-step scheme.  Each step advances the state over the active part
of ``[t_n, t_n + dt]`` (the part after any refractory period) with the scheme's update.  When
the spike condition ``c(y)`` (armed) is non-negative at the end, the crossing is placed inside
the step on the cubic Hermite interpolant of ``c`` built from its values and time derivatives
``dc/dt = grad c . f`` at both ends (a safeguarded Newton iteration), so the spike time is
accurate to O(dt^4) locally and never limits a scheme of order up to 3 (RK4: the crossing
error is of the same order as the step's).  The state at the crossing (Hermite interpolant of
every variable) goes through the neuron's reset map; the next step integrates from the spike
time (or the end of the refractory period), so no time is lost and no extra update is needed.
A neuron without a reset is only disarmed until ``c`` falls ``rearm`` below zero.

Everything is a ``lax.scan`` with a static number of steps, so the loop is differentiable in
forward and reverse mode (the crossing time through the Newton iterations on the interpolant,
exactly the implicit-function derivative of the discrete crossing), and ``vmap`` runs a
population as one loop.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from equinox.internal import unvmap_any
from jaxtyping import Array, Float, PyTree

from .._custom_types import ParamArray
from .._neurons._base import AbstractNeuron
from ._base import (
    NON_FINITE_STATE,
    AbstractSpikingSolver,
    Interval,
    check_step,
    error_if_any,
    step_grid,
    stuck_reset_message,
)
from ._recorders import AbstractRecorder, SpikeStats

_NEWTON_ITERS = 2


def _hermite(theta, h, y0, y1, f0, f1):
    """Cubic Hermite interpolant at ``theta`` in [0, 1] of a step of length ``h``."""
    t2, t3 = theta * theta, theta * theta * theta
    a, b, c, d = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + theta, -2 * t3 + 3 * t2, t3 - t2
    return jax.tree.map(lambda p, q, fp, fq: a * p + b * h * fp + c * q + d * h * fq, y0, y1, f0, f1)


def _crossing(c0, c1, d0, d1):
    """The root in [0, 1] of the cubic with values ``c0 < 0 <= c1`` and slopes ``d0, d1``
    (per unit of ``theta``): Newton from the secant guess inside a shrinking bracket, a
    bisection wherever a Newton step would leave it.  A near-linear cubic (a smooth step)
    converges to rounding in two or three iterations; any other stays bracketed, within
    ``2^-_NEWTON_ITERS`` of a root at worst."""

    def iterate(_, state):
        theta, lo, hi = state
        t2, t3 = theta * theta, theta * theta * theta
        p = (2 * t3 - 3 * t2 + 1) * c0 + (t3 - 2 * t2 + theta) * d0 + (-2 * t3 + 3 * t2) * c1 + (t3 - t2) * d1
        dp = (6 * t2 - 6 * theta) * (c0 - c1) + (3 * t2 - 4 * theta + 1) * d0 + (3 * t2 - 2 * theta) * d1
        lo, hi = jnp.where(p < 0, theta, lo), jnp.where(p < 0, hi, theta)
        newton = theta - p / jnp.where(dp > 0, dp, 1.0)
        inside = (dp > 0) & (newton >= lo) & (newton <= hi)
        return jnp.where(inside, newton, 0.5 * (lo + hi)), lo, hi

    theta = jnp.clip(c0 / jnp.where(c0 < c1, c0 - c1, -1.0), 0.0, 1.0)
    state = (theta, jnp.zeros_like(c0), jnp.ones_like(c0))
    return jax.lax.fori_loop(0, _NEWTON_ITERS, iterate, state, unroll=True)[0]


def _secant(c0, c1):
    """The root in [0, 1] of the line through ``c0 < 0 <= c1``."""
    return jnp.clip(c0 / jnp.where(c0 < c1, c0 - c1, -1.0), 0.0, 1.0)


def _crossing_quadratic(c0, c1, d1):
    """The root in [0, 1] of the quadratic with values ``c0 < 0 <= c1`` and slope ``d1`` at
    ``theta = 1``, in closed form (the secant where the quadratic has no root there)."""
    a = c0 - c1 + d1  # p(theta) = c1 + d1 u + a u^2, u = theta - 1
    disc = d1 * d1 - 4.0 * a * c1
    ok = (disc >= 0) & (d1 > 0)
    u = -2.0 * c1 / jnp.where(ok, d1 + jnp.sqrt(jnp.where(ok, disc, 0.0)), 1.0)
    return jnp.where(ok, jnp.clip(1.0 + u, 0.0, 1.0), _secant(c0, c1))


class SynapticInput(eqx.Module):
    """``neuron`` under the input current ``a - g v`` (``v = neuron.voltage(y)``), as the
    ``neuron`` argument of a solver's ``update`` (only ``vector_field`` is read)."""

    neuron: AbstractNeuron
    a: Array
    g: Array | None

    def vector_field(self, t, y, args):
        del args
        current = self.a if self.g is None else self.a - self.g * self.neuron.voltage(y)
        return self.neuron.vector_field(t, y, current)

    def linearised(self, t, y, args):
        """The neuron's ``linearised`` under the input current, with ``-g dv'/dJ`` added to
        the voltage's diagonal (the current ``a - g v`` depends on ``v``)."""
        del args
        if self.g is None:
            return self.neuron.linearised(t, y, self.a)
        v = self.neuron.voltage(y)
        current = self.a - self.g * v
        f, a = self.neuron.linearised(t, y, current)
        # dv'/dJ through the same expression as f where the neuron writes its own (so that XLA
        # shares the rates between the two; through vector_field it evaluated them twice)
        nrn = self.neuron
        own = type(nrn).linearised is not AbstractNeuron.linearised
        field = (lambda J: nrn.linearised(t, y, J)[0]) if own else (lambda J: nrn.vector_field(t, y, J))
        dv_dJ = jax.jvp(lambda J: nrn.voltage(field(J)), (current,), (jnp.ones_like(current),))[1]
        return f, self.neuron.with_voltage(a, self.neuron.voltage(a) - self.g * dv_dJ)


class AbstractFixedStepSolver(AbstractSpikingSolver):
    """A fixed step ``dt`` (default: the neuron's ``default_dt``) and an update rule.

    ``crossing_order`` is the order of the interpolant the threshold crossing is placed on:
    3 (cubic Hermite, from the condition and its slope at both ends of the step) or 2 (the
    quadratic through both ends with the slope at the end, in closed form; enough for a
    second-order scheme, and cheaper).
    """

    dt: float | None = eqx.field(static=True, default=None)
    crossing_order: ClassVar[int] = 3

    @abc.abstractmethod
    def update(
        self, neuron: AbstractNeuron | SynapticInput, drive: Any, t: Array, y: PyTree, h: Array | float
    ) -> PyTree:
        """The state at ``t + h`` from ``y`` at ``t`` (``h`` may be 0: then ``y``)."""

    def update_with_input(
        self, neuron: AbstractNeuron, t: Array, y: PyTree, h: Array | float, a: Array, g: Array | None
    ):
        """One step under the input current ``a - g v`` held over the step (``v`` the
        membrane potential ``neuron.voltage(y)``; ``g`` is ``None`` for a current input):
        how a network steps a population under its synapses.  Default: ``update`` on the
        neuron with that input inside its vector field, so that an implicit-in-``v`` method
        (``ExponentialEuler``) treats the conductance as part of the membrane's leak."""
        return self.update(SynapticInput(neuron, a, g), None, t, y, h)

    def prepare(self, neuron: AbstractNeuron, span: Interval, ts) -> AbstractFixedStepSolver:
        """The step checked against the neuron (``check_step``: ``dt <= tau_ref`` for a
        concrete ``tau_ref``, the coarse-step warning) and the interval (``step_grid``);
        ``run`` checks them again, then without the values when they are traced."""
        step_grid(span, check_step(neuron, self.dt, type(self).__name__), ts, type(self).__name__)
        return self

    def run(self, neuron, drive, span: Interval, y0, recorder: AbstractRecorder, ts):
        method = type(self).__name__
        dt = check_step(neuron, self.dt, method)
        n_steps, ts_arr, save_idx = step_grid(span, dt, ts, method)
        return (
            ts_arr,
            *fixed_step_loop(
                self.update, neuron, drive, span.t0, dt, n_steps, save_idx, y0, recorder, type(self).crossing_order
            ),
        )


def _steps_per_bin(recorder: AbstractRecorder, dt: float) -> int:
    """Steps per bin of a statistics recorder whose bins are whole steps (else 0: binned by time)."""
    if not isinstance(recorder, SpikeStats) or not recorder.n_bins:
        return 0
    k = int(round(recorder.bin_width / dt))
    return k if k >= 1 and abs(k * dt - recorder.bin_width) <= 1e-6 * dt else 0


def fixed_step_loop(
    update,
    neuron: AbstractNeuron,
    drive,
    t0: Float[ParamArray, ""],
    dt: float,
    n_steps: int,
    save_idx,
    y0,
    recorder: AbstractRecorder,
    order: int = 3,
):
    """The fixed-step loop (module docstring); returns ``(ys at save_idx, recorder state)``."""
    leaves = jax.tree.leaves(y0)
    dtype = jnp.result_type(*leaves)
    shape = jnp.shape(neuron.spike_condition(y0))
    dt_a = jnp.asarray(dt, dtype)
    t0 = jnp.asarray(t0, dtype)
    tr = neuron.refractory_period()
    lagged = neuron.resets or tr is not None  # the state can lag behind t_n after a spike
    rearm = jnp.asarray(type(neuron).rearm, dtype)
    spb = _steps_per_bin(recorder, dt)
    save_idx = np.asarray(save_idx, np.int64)
    n_save = len(save_idx)

    def cond(y):
        return neuron.spike_condition(y)

    def slope(y, f):
        return jax.jvp(cond, (y,), (f,))[1]

    rows = np.unique(save_idx)  # the buffer holds each saved step once, plus a dump row
    slot_of_step = np.full(n_steps + 1, len(rows), np.int64)
    slot_of_step[rows] = np.arange(len(rows))

    def crossing(n, t_a, t_e, h, y, y1, c1, spike, t_state, ref_end, bad, rec):
        c0 = cond(y)
        f0 = neuron.vector_field(t_a, y, drive)
        f1 = neuron.vector_field(_before(t_e, t_a), y1, drive)
        if order == 3:
            theta = _crossing(c0, c1, h * slope(y, f0), h * slope(y1, f1))
        else:
            theta = _crossing_quadratic(c0, c1, h * slope(y1, f1))
        theta = jnp.where(c0 >= 0, 0.0, theta)
        t_spike = t_a + theta * h
        rec = recorder.record(rec, spike, t_spike, n // spb if spb else None)
        if not lagged:
            return y1, t_state, ref_end, bad, rec
        y_reset = neuron.reset(_hermite(theta, h, y, y1, f0, f1))
        if neuron.resets:
            bad = bad | (spike & (cond(y_reset) >= 0))
        y_new = jax.tree.map(lambda r, e: jnp.where(spike, r, e), y_reset, y1)
        if tr is not None:
            ref_end = jnp.where(spike, t_spike + tr, ref_end)
        return y_new, jnp.where(spike, t_spike, t_e), ref_end, bad, rec

    def step(carry, xs):
        n, slot = xs
        y, t_state, ref_end, armed, bad, rec, buffer = carry
        t_n = t0 + n.astype(dtype) * dt_a
        t_e = t0 + (n + 1).astype(dtype) * dt_a
        t_a = jnp.minimum(jnp.maximum(t_state, ref_end), t_e) if lagged else t_n
        h = t_e - t_a if lagged else dt_a  # a constant step when the state never lags
        y1 = update(neuron, drive, t_a, y, h)
        c1 = cond(y1)
        spike = armed & (c1 >= 0)
        args = (n, t_a, t_e, h, y, y1, c1, spike, t_state, ref_end, bad, rec)
        if order == 2:  # measured: the closed-form quadratic costs less than a conditional
            y_new, t_state, ref_end, bad, rec = crossing(*args)
        else:
            # The cubic only in steps where some neuron of the batch spikes (one conditional
            # for the whole batch, under vmap too, through unvmap_any).
            def quiet(*_):
                return y1, (jnp.broadcast_to(t_e, jnp.shape(t_state)) if lagged else None), ref_end, bad, rec

            y_new, t_state, ref_end, bad, rec = jax.lax.cond(unvmap_any(spike), crossing, quiet, *args)
        if not neuron.resets:
            armed = jnp.where(spike, False, armed | (c1 < -rearm))
        if n_save:
            buffer = jax.tree.map(lambda b, v: jax.lax.dynamic_update_index_in_dim(b, v, slot, 0), buffer, y_new)
        return (y_new, t_state, ref_end, armed, bad, rec, buffer), None

    buffer = None
    if n_save:
        buffer = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a, dtype), (len(rows) + 1,) + jnp.shape(a)), y0)
    # Only what the neuron needs is carried (each carried array costs XLA a kernel per step):
    # the time the state is at and the end of the refractory period when it can lag behind
    # the grid, the reset check when it resets.
    carry = (
        y0,
        jnp.broadcast_to(t0, shape) if lagged else None,
        jnp.full(shape, -jnp.inf, dtype) if lagged else None,
        jnp.ones(shape, bool) if neuron.resets else cond(y0) < 0,
        jnp.zeros(shape, bool) if neuron.resets else None,
        recorder.init(shape, dtype),
        buffer,
    )
    xs = (jnp.arange(n_steps, dtype=jnp.int32), jnp.asarray(slot_of_step[1:], jnp.int32))
    (y, _, _, _, bad, rec, buffer), _ = jax.lax.scan(step, carry, xs)
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(y)]))
    rec = error_if_any(rec, ~finite, NON_FINITE_STATE)  # one reduction after the loop
    if bad is not None:
        rec = error_if_any(
            rec,
            jnp.any(bad),
            stuck_reset_message(neuron),
        )
    if not n_save:
        return jax.tree.map(lambda a: jnp.zeros((0,) + jnp.shape(a), dtype), y0), rec
    pick = jnp.asarray(np.searchsorted(rows, save_idx), jnp.int32)
    return jax.tree.map(lambda b: b[pick], buffer), rec


class RK4(AbstractFixedStepSolver):
    """The classic fourth-order Runge-Kutta step, for any neuron, with the threshold crossing
    placed inside the step (spike times converge at fourth order in ``dt``).

    Example::

        jn.simulate(jn.Izhikevich(), 10.0, 0.0, 500.0, solver=jn.RK4(dt=0.01))
    """

    def update(self, neuron, drive, t, y, h):
        f = neuron.vector_field
        k1 = f(t, y, drive)
        k2 = f(t + 0.5 * h, _axpy(0.5 * h, k1, y), drive)
        k3 = f(t + 0.5 * h, _axpy(0.5 * h, k2, y), drive)
        k4 = f(_before(t + h, t), _axpy(h, k3, y), drive)
        return jax.tree.map(lambda y_, a, b, c, d: y_ + h / 6.0 * (a + 2.0 * b + 2.0 * c + d), y, k1, k2, k3, k4)


def _before(t_end: Array, t_start: Array) -> Array:
    """A time a few ulps before ``t_end`` (at most half way back to ``t_start``): a drive that
    switches at the end of a step (a grid time, up to its rounding) is read at its value inside
    the step.  A constant offset, so the derivative is that of ``t_end``."""
    a, b = jax.lax.stop_gradient(t_end), jax.lax.stop_gradient(t_start)
    eps = jnp.finfo(jnp.result_type(a)).eps
    return t_end - jnp.minimum(8 * eps * jnp.abs(a), 0.5 * (a - b))


def _axpy(a: Any, x: PyTree, y: PyTree) -> PyTree:
    return jax.tree.map(lambda xi, yi: yi + a * xi, x, y)


__all__ = ["AbstractFixedStepSolver", "RK4", "fixed_step_loop"]

"""The general spiking solver, for any neuron: diffrax's adaptive Tsit5 step and PID control in
one loop, each spike placed on the step's dense interpolant, then the reset map."""

from __future__ import annotations

from typing import Any, Literal

import diffrax
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from .._inputs import Constant
from .._misc import check_int, check_positive, static_number
from ._base import (
    AbstractSpikingSolver,
    Interval,
    check_ts,
    error_if_any,
    neuron_batch_shape,
    run_each,
    stuck_reset_message,
)

CROSSING_ITERATIONS = 4  # Newton iterations placing a spike inside its step (``_crossing``)


class Diffrax(AbstractSpikingSolver):
    """Adaptive Tsit5 with PID step-size control (diffrax's ``Tsit5`` step and
    ``PIDController``, stepping onto the drive's discontinuities) in one loop of steps: in
    each accepted step in which the neuron's spike condition rises through zero, the spike is
    placed on the step's dense interpolant (Newton, no extra vector-field evaluation); then
    the reset map, and the refractory period skipped with the state held.  A neuron without
    a reset is re-armed once its condition has fallen ``rearm`` below zero.  Runs any
    ``AbstractNeuron``; reverse-mode differentiable (a checkpointed loop) and, through
    ``jax.jvp``, forward mode; spike times are differentiated by the implicit function
    theorem at the crossing.

    Attributes:
        rtol, atol: step-size control tolerances (default 1e-6 in float32, 1e-9 in float64).
        max_steps: step limit of the whole run (accepted and rejected steps; each neuron of a
            batch counts its own).  Reaching it is a run-time error.
        checkpoints: states stored by the loop for reverse mode (default ``None``: about
            ``sqrt(2 max_steps)``, memory growing as the square root of the step budget).
        mode: how ``run`` called directly differentiates its loop: ``"reverse"`` (default:
            a checkpointed loop, for ``jax.grad``) or ``"forward"`` (plain loops, for
            ``jax.jvp``).  JAX cannot differentiate one loop both
            ways.  Through ``simulate``, ``tuning_curve`` and ``spike_statistics`` both modes
            work with either: derivatives with respect to up to ``MAX_DIRECTIONS`` traced
            scalars come from forward sensitivities (``forward_mode()``), transposed for
            ``jax.grad``; beyond that the loop is differentiated in this ``mode``.

    Example::

        jn.simulate(jn.AdEx(), 500.0, 0.0, 300.0, solver=jn.Diffrax(rtol=1e-8))
    """

    rtol: float | None = eqx.field(static=True, default=None)
    atol: float | None = eqx.field(static=True, default=None)
    max_steps: int = eqx.field(static=True, converter=static_number, default=1_000_000)
    checkpoints: int | None = eqx.field(static=True, converter=static_number, default=None)
    mode: str = eqx.field(static=True, default="reverse")

    def __check_init__(self):
        if self.mode not in ("reverse", "forward"):
            raise ValueError(f"mode must be 'reverse' or 'forward', got mode = {self.mode!r}.")
        if self.mode == "forward" and self.checkpoints is not None:
            raise ValueError("checkpoints apply to mode='reverse' only (reverse-mode memory).")
        for name in ("rtol", "atol"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))
        check_int("max_steps", self.max_steps, numpy=False)
        if self.checkpoints is not None:
            check_int("checkpoints", self.checkpoints, numpy=False, hint="(or None)")

    def forward_mode(self) -> Diffrax:
        return Diffrax(self.rtol, self.atol, self.max_steps, None, "forward")

    def tolerances(self, dtype):
        f64 = jnp.dtype(dtype) == jnp.float64
        rtol = (1e-9 if f64 else 1e-6) if self.rtol is None else self.rtol
        atol = (1e-9 if f64 else 1e-6) if self.atol is None else self.atol
        return rtol, atol

    def run(self, neuron, drive, span: Interval, y0, recorder, ts):
        ts = check_ts(span, ts)
        shape = neuron_batch_shape(neuron, y0)
        if shape and ts.shape[0] == 0 and isinstance(drive, Constant):
            # A sweep (no saved states, an input per neuron): the loop of steps runs on the whole
            # batch and only its body (each neuron's step) is mapped.
            n = int(np.prod(shape))

            def flat(a, scalars: bool = True):  # a scalar parameter stays one value for the batch (unmapped)
                batched = eqx.is_array(a) and (jnp.ndim(a) or not scalars)
                return jnp.broadcast_to(a, shape).reshape((n,)) if batched else a

            nrn, drv = (jax.tree.map(flat, x) for x in (neuron, drive))
            ys = jax.tree.map(lambda a: flat(a, scalars=False), y0)
            _, rec = _solve(self, nrn, drv, span.t0, span.length(), ts, ys, recorder, batch=True)
            rec = jax.tree.map(lambda a: a.reshape(shape + a.shape[1:]), rec)
            return ts, jax.tree.map(lambda a: jnp.zeros((0,) + shape + a.shape[1:], a.dtype), ys), rec
        if shape:  # a stacked neuron with saved states or a drive of time: vmap of the whole run

            def one(nrn, y):
                return ts, *_solve(self, nrn, drive, span.t0, span.length(), ts, y, recorder)

            return run_each(one, neuron, y0, shape)
        return (ts, *_solve(self, neuron, drive, span.t0, span.length(), ts, y0, recorder))


def _solve(solver: Diffrax, neuron, drive, offset, t1, ts, y0, recorder, batch: bool = False):
    """One loop of adaptive Tsit5 steps over ``[0, t1]``, in time relative to ``offset`` (the
    run's ``t0``), so that the steps keep their precision however large ``t0`` is (in float32
    near ``t0 = 1e6`` the representable times are 0.06 apart).  The neuron and the drive see
    ``offset + t``; the spikes are recorded there.

    Each pass of the loop is one step of every lane (``_Lane.advance``): diffrax's Tsit5 step and PID
    control, the spike placed on the step's dense interpolant, the reset and the refractory
    period, the states at ``ts`` inside the step.  With ``batch`` every leaf of ``neuron``,
    ``drive`` and ``y0`` leads with one batch axis: the loop runs once over the batch (until its
    last lane is done, as ``vmap`` of the loop would) with only its body mapped, and the
    recorder's state leads with the batch axis."""
    dtype = jnp.result_type(*jax.tree.leaves(y0))
    rtol, atol = solver.tolerances(dtype)
    t1 = jnp.asarray(t1, dtype)
    offset = jnp.asarray(offset, dtype)
    ts = ts - offset
    jumps = drive.jump_ts()
    jumps = None if jumps is None else jnp.sort(jnp.asarray(jumps, dtype) - offset)
    kind: Literal["lax", "checkpointed"] = "lax" if solver.mode == "forward" else "checkpointed"

    def vf(t, y, args):
        return args[1].vector_field(offset + t, y, args[0])

    lane = _Lane(
        diffrax.ODETerm(vf),
        diffrax.PIDController(rtol=rtol, atol=atol),
        neuron.resets,
        neuron.refractory_period() is not None,
        type(neuron).rearm,
        t1,
        jumps,
        ts,
        kind,
    )

    # With ``batch``, the neuron's and the drive's scalar leaves are the same for every lane: mapped
    # as unbatched values (read once per step, not per lane).
    axes = jax.tree.map(lambda a: 0 if eqx.is_array(a) and jnp.ndim(a) else None, (neuron, drive))

    def step(c):
        carry, rec = c
        if batch:  # one loop over the batch, each lane's step mapped (the carry's leaves lead with the batch)
            carry, spike, t_spike = eqx.filter_vmap(lambda c, n, d: lane.guarded(c, n, d), in_axes=(0, *axes))(
                carry, neuron, drive
            )
            rec = jax.vmap(lambda r, s, t: recorder.record(r, s, t, None))(rec, spike, offset + t_spike)
        else:
            carry, spike, t_spike = lane.advance(carry, neuron, drive)
            rec = recorder.record(rec, spike, offset + t_spike, None)
        return carry, rec

    def cond(c):
        return jnp.any(lane.active(c[0]))

    def start(y, nrn, drv):
        shape = jnp.shape(nrn.spike_condition(y))
        return lane.start(y, nrn, drv), recorder.init(shape, dtype)

    init = eqx.filter_vmap(start, in_axes=(0, *axes))(y0, neuron, drive) if batch else start(y0, neuron, drive)
    if kind == "lax":
        carry, rec = eqxi.while_loop(cond, step, init, max_steps=solver.max_steps, kind="lax")
    else:
        carry, rec = eqxi.while_loop(
            cond, step, init, max_steps=solver.max_steps, kind="checkpointed", checkpoints=solver.checkpoints
        )
    rec = error_if_any(
        rec,
        jnp.any(carry.t < t1),
        "the diffrax solve failed (max_steps reached or a non-finite state); raise max_steps or tighten rtol/atol.",
    )
    rec = error_if_any(
        rec,
        jnp.any(carry.bad),
        stuck_reset_message(neuron),
    )
    return carry.traj, rec


class _Carry(eqx.Module):
    """One lane's state between steps: the step ``[t, t_next]`` to try next, the state ``y`` at
    ``t``, the vector field there (``f0``, first same as last), the PID controller's state,
    whether the next step starts after a jump (a reset, a drive's discontinuity), whether the
    spike detector is armed, the states at ``ts`` written so far (``traj``, ``i_save`` of them),
    a reset that left the condition >= 0 (``bad``) and a step that could not advance
    (``failed``: a non-finite state)."""

    t: Any
    t_next: Any
    y: PyTree
    f0: PyTree
    controller_state: PyTree
    made_jump: Any
    armed: jax.Array
    traj: PyTree
    i_save: jax.Array
    bad: jax.Array
    failed: jax.Array


class _Lane(eqx.Module):
    """The step of one neuron's run (``advance``), closed over the run's settings."""

    term: diffrax.ODETerm
    controller: diffrax.PIDController
    resets: bool = eqx.field(static=True)
    refractory: bool = eqx.field(static=True)
    rearm: float = eqx.field(static=True)
    t1: jax.Array
    jumps: jax.Array | None
    ts: jax.Array
    kind: Literal["lax", "checkpointed"] = eqx.field(static=True)

    @property
    def solver(self) -> diffrax.Tsit5:
        # Its stage loop: a plain loop for forward mode (jax.jvp), checkpointed for reverse mode.
        return diffrax.Tsit5(scan_kind="lax" if self.kind == "lax" else None)

    def start(self, y, nrn, drv) -> _Carry:
        args = (drv, nrn)
        t0 = jnp.zeros_like(self.t1)
        # The first step is the neuron's default step (no initial step selection: two more
        # compiled copies of the vector field); the controller adapts it from there.
        dt0 = jnp.asarray(type(nrn).default_dt, t0.dtype)
        t_next, cstate = self.controller.init(self.term, t0, self.t1, y, dt0, args, self.solver.func, _TSIT5_ORDER)
        t_next = jnp.minimum(jnp.asarray(t_next, t0.dtype), self.t1)
        cstate = jax.tree.map(jnp.asarray, cstate)  # carried: arrays, batched with the lane
        t, t_next, jumped = self.clip_to_jumps(t0, t_next)
        armed = jnp.ones((), bool) if self.resets else nrn.spike_condition(y) < 0
        traj = jax.tree.map(lambda a: jnp.zeros((self.ts.shape[0],) + jnp.shape(a), a.dtype), y)
        false = jnp.zeros((), bool)
        if self.jumps_possible:  # the first step evaluates the field at its start (``advance``)
            f0, jumped = jax.tree.map(jnp.zeros_like, y), jnp.ones((), bool)
        else:
            f0 = self.term.vf(t, y, args)
        return _Carry(t, t_next, y, f0, cstate, jumped, armed, traj, jnp.zeros((), jnp.int32), false, false)

    @property
    def jumps_possible(self) -> bool:
        """Whether a step may start after a jump of the state (a reset, the end of a refractory
        period) or of the drive: the vector field at its start is then evaluated anew."""
        return self.resets or self.refractory or self.jumps is not None

    def active(self, c: _Carry):
        return (c.t < self.t1) & ~c.failed

    def clip_to_jumps(self, t, t_next):
        """Steps onto a drive's jumps as diffrax's ``ClipStepSizeController`` does: a step
        ends just before a jump, the next starts just after it (``made_jump``)."""
        if self.jumps is None:
            return t, t_next, jnp.zeros((), bool)
        after = eqxi.nextafter(t)
        jumped = jnp.any(after == self.jumps) | jnp.any(t == self.jumps)
        t = jnp.where(jnp.any(after == self.jumps), eqxi.nextafter(after), t)
        t = jnp.where(jnp.any(t == self.jumps), eqxi.nextafter(t), t)
        i = jnp.searchsorted(self.jumps, t, side="right")
        nxt = jnp.where(i < self.jumps.shape[0], self.jumps[jnp.minimum(i, self.jumps.shape[0] - 1)], jnp.inf)
        t_next = jnp.minimum(jnp.maximum(t_next, eqxi.nextafter(t)), eqxi.prevbefore(nxt))
        return t, jnp.minimum(t_next, self.t1), jumped

    def guarded(self, c: _Carry, nrn, drv):
        """``advance`` for a lane of the batch loop: a finished lane takes a short dummy step at
        the end of the interval (never a degenerate zero-length one) and keeps its carry."""
        active = self.active(c)
        t_dummy = self.t1 * (1 - 1e-3)
        c_try = eqx.tree_at(
            lambda s: (s.t, s.t_next), c, (jnp.where(active, c.t, t_dummy), jnp.where(active, c.t_next, self.t1))
        )
        new, spike, t_spike = self.advance(c_try, nrn, drv)
        new = jax.tree.map(lambda n, o: jnp.where(active, n, o), new, c)
        return new, spike & active, t_spike

    def advance(self, c: _Carry, nrn, drv):
        """One Tsit5 step of ``[c.t, c.t_next]``; if accepted, the spike condition's crossing in
        it (``_crossing`` on the dense interpolant), the reset and refractory period, the states
        at ``ts`` in it.  Returns the next carry, whether a spike fired and its time."""
        args = (drv, nrn)
        t, h_end = c.t, c.t_next
        # First same as last: the field at the step's start is the last step's at its end,
        # except after a jump, where this lane evaluates it anew (not diffrax's made_jump: that
        # re-evaluates every lane of a batch when one jumped, whose rounding then differs).
        f0 = c.f0
        if self.jumps_possible:
            jumped = c.made_jump

            def fresh():
                return jax.tree.map(lambda a, b: jnp.where(jumped, a, b), self.term.vf(t, c.y, args), f0)

            f0 = jax.lax.cond(eqxi.unvmap_any(jumped), fresh, lambda: f0)
        y1, y_err, dense, sstate, _ = self.solver.step(self.term, t, h_end, c.y, args, (False, f0), False)
        f1 = sstate[1]  # pyright: ignore[reportOptionalSubscript]  # Tsit5 is first same as last: (first_step, f1)
        y_err = jax.tree.map(lambda e: jnp.where(jnp.isnan(e), jnp.inf, e), y_err)
        keep, t_new, t_next, jump, cstate, _ = self.controller.adapt_step_size(
            t, h_end, c.y, y1, args, y_err, _TSIT5_ORDER, c.controller_state
        )
        # the proposed step is the controller's choice, not a function of the parameters (with
        # its derivative, the states' derivatives went wrong across a drive's jump)
        t_next = jax.lax.stop_gradient(t_next)
        interp = diffrax.Tsit5.interpolation_cls(t0=t, t1=h_end, **dense)
        c0, c1 = nrn.spike_condition(c.y), nrn.spike_condition(y1)
        hit = keep & jnp.where(c.armed, (c0 < 0) & (c1 >= 0), c1 < -self.rearm)
        spike = hit & c.armed
        t_spike, y_spike = _crossing(interp, nrn.spike_condition, t, h_end, c.y, y1, f0, f1)
        keep_y = jax.tree.map(lambda a, b: jnp.where(keep, a, b), y1, c.y)
        traj, i_save = c.traj, c.i_save
        if self.ts.shape[0]:
            t_stop = jnp.where(spike, t_spike, h_end) if (self.resets or self.refractory) else h_end
            traj, i_save = self.save(traj, i_save, keep, t_stop, interp.evaluate)
        bad = c.bad
        if self.resets or self.refractory:
            y_reset = nrn.reset(y_spike) if self.resets else y_spike
            if self.resets:
                bad = bad | (spike & (nrn.spike_condition(y_reset) >= 0))
            tr = nrn.refractory_period()
            t_resume = t_spike if tr is None else jnp.minimum(t_spike + tr, self.t1)
            if self.ts.shape[0] and tr is not None:  # held at the reset state while refractory
                traj, i_save = self.save(traj, i_save, spike, t_resume, lambda s: y_reset, strict=True)
            y_new = jax.tree.map(lambda r, k: jnp.where(spike, r, k), y_reset, keep_y)
            t_next = jnp.where(spike, t_resume + (t_next - t_new), t_next)
            t_new = jnp.where(spike, t_resume, t_new)
            jump = jump | spike
        else:
            y_new = keep_y
        t_next = jnp.minimum(t_next, self.t1)
        t_new, t_next, jumped = self.clip_to_jumps(t_new, t_next)
        failed = c.failed | ((t_new < self.t1) & ~(t_next > t_new))
        armed = c.armed if self.resets else jnp.where(hit, ~c.armed, c.armed)
        f_next = jax.tree.map(lambda a, b: jnp.where(keep, a, b), f1, f0)
        new = _Carry(t_new, t_next, y_new, f_next, cstate, jump | jumped, armed, traj, i_save, bad, failed)
        return new, spike, t_spike

    def save(self, traj, i_save, on, until, state_at, strict: bool = False):
        """Write ``state_at(s)`` for the save times ``s`` from ``ts[i_save]`` up to ``until``
        (``< until`` if ``strict``), when ``on``: a loop over the save index as diffrax's."""
        n = self.ts.shape[0]

        def cond(c):
            i = c[1]
            s = self.ts[jnp.minimum(i, n - 1)]
            return on & (i < n) & ((s < until) if strict else (s <= until))

        def body(c):
            tr, i = c
            y = state_at(self.ts[i])
            return jax.tree.map(lambda v, a: a.at[i].set(v), y, tr), i + 1

        return eqxi.while_loop(
            cond, body, (traj, i_save), max_steps=n, kind=self.kind, buffers=lambda c: c[0], checkpoints=n
        )


_TSIT5_ORDER = 5  # the error order of Tsit5's embedded pair (``Tsit5().error_order``)


def _crossing(interp, condition, t0, t1, y0, y1, f0, f1, iterations: int = CROSSING_ITERATIONS):
    """The upward zero crossing of ``condition`` on the step ``[t0, t1]`` from ``y0`` to
    ``y1`` (the condition below zero at ``t0``, not below at ``t1``; ``f0``, ``f1`` the vector
    field there): the time and the state there, on the step's dense interpolant (Tsit5's
    fourth-order ``interp``; no extra vector-field evaluation).

    First Newton on the cubic Hermite interpolant of the condition itself (its values and
    its slopes ``grad(c) . f`` at the step's ends; elementwise arithmetic, no loop), from the
    secant's root, each iterate clipped into the bracket of the iterates so far; then one
    Newton step on ``condition(interp(s))``, which carries the derivatives: the implicit
    function theorem's ``dt* = -(dc/dtheta) / (dc/dt)`` at the crossing, ``dy* = dy + y' dt*``
    (the iterates carry none)."""
    c0, d0 = jax.lax.stop_gradient(jax.jvp(condition, (y0,), (f0,)))
    c1, d1 = jax.lax.stop_gradient(jax.jvp(condition, (y1,), (f1,)))
    h = jax.lax.stop_gradient(t1 - t0)
    m0, m1 = h * d0, h * d1
    u = jnp.clip(c0 / jnp.where(c0 < c1, c0 - c1, -1.0), 0.0, 1.0)
    lo, hi = jnp.zeros_like(u), jnp.ones_like(u)
    for _ in range(iterations):
        u2, u3 = u * u, u * u * u
        p = (2 * u3 - 3 * u2 + 1) * c0 + (u3 - 2 * u2 + u) * m0 + (3 * u2 - 2 * u3) * c1 + (u3 - u2) * m1
        dp = (6 * u2 - 6 * u) * (c0 - c1) + (3 * u2 - 4 * u + 1) * m0 + (3 * u2 - 2 * u) * m1
        lo, hi = jnp.where(p < 0, u, lo), jnp.where(p < 0, hi, u)
        u = jnp.clip(u - p / jnp.where(dp > 0, dp, jnp.inf), lo, hi)
    s = jax.lax.stop_gradient(t0) + u * h
    y, dy = jax.jvp(interp.evaluate, (s,), (jnp.ones_like(s),))
    c, dc = jax.jvp(condition, (y,), (dy,))
    dt = -c / jax.lax.stop_gradient(jnp.where(dc > 0, dc, 1.0))
    return s + dt, jax.tree.map(lambda a, b: a + b * dt, y, dy)


__all__ = ["Diffrax"]

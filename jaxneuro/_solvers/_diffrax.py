"""The general spiking solver: diffrax with the spike condition as an event, for any neuron."""

from __future__ import annotations

import diffrax
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np

from .._inputs import Constant
from .._misc import check_int, check_positive, default_float, static_number
from ._base import (
    AbstractSpikingSolver,
    Interval,
    check_ts,
    default_capacity,
    error_if_any,
    neuron_batch_shape,
    run_each,
    spike_budget,
)
from ._recorders import SpikeTimes

CROSSING_ITERATIONS = 4  # Newton iterations placing a spike inside its step (``_crossing``)


class Diffrax(AbstractSpikingSolver):
    """Adaptive Tsit5 (``diffrax.diffeqsolve``, PID control stepping onto the drive's
    discontinuities) with each spike a ``diffrax.Event`` on the neuron's spike condition,
    located by a root finder on the dense interpolant; then the reset map, and the refractory
    period skipped with the state held.  A neuron without a reset is re-armed by a second
    event, the condition falling ``rearm`` below zero.  Runs any ``AbstractNeuron``;
    reverse-mode differentiable (checkpointed loops) and, through ``jax.jvp``, forward mode.

    Attributes:
        rtol, atol: step-size control tolerances (default 1e-6 in float32, 1e-9 in float64).
        max_steps: step limit of each segment between spikes.
        checkpoints: states stored by each loop for reverse mode (default ``None``: about
            ``sqrt(2 max_steps)``, memory growing as the square root of the step budget).
        mode: how ``run`` called directly differentiates its loop: ``"reverse"`` (default:
            checkpointed loops, for ``jax.grad``) or ``"forward"`` (plain loops and
            ``diffrax.ForwardMode``, for ``jax.jvp``).  JAX cannot differentiate one loop both
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
        max_spikes = spike_budget(recorder, span, lambda s0, s1: default_capacity(neuron, s0, s1))
        shape = neuron_batch_shape(neuron, y0)
        if shape and ts.shape[0] == 0 and isinstance(drive, Constant):
            # A sweep (no saved states, an input per neuron): the loop from spike to spike runs
            # on the whole batch and only its body (diffrax's solve to the next event) is mapped.
            n = int(np.prod(shape))

            def flat(a):
                return jnp.broadcast_to(a, shape).reshape((n,)) if eqx.is_array(a) else a

            nrn, drv, ys = (jax.tree.map(flat, x) for x in (neuron, drive, y0))
            _, rec = _solve(self, nrn, drv, span.t0, span.length(), ts, ys, recorder, max_spikes, batch=True)
            rec = jax.tree.map(lambda a: a.reshape(shape + a.shape[1:]), rec)
            return ts, jax.tree.map(lambda a: jnp.zeros((0,) + shape + a.shape[1:], a.dtype), ys), rec
        if shape:  # a stacked neuron: diffrax's events are per solve

            def one(nrn, y):
                return ts, *_solve(self, nrn, drive, span.t0, span.length(), ts, y, recorder, max_spikes)

            return run_each(one, neuron, y0, shape)
        return (ts, *_solve(self, neuron, drive, span.t0, span.length(), ts, y0, recorder, max_spikes))


def _solve(solver: Diffrax, neuron, drive, offset, t1, ts, y0, recorder, max_spikes: int, batch: bool = False):
    """Solve over ``[0, t1]`` in time relative to ``offset`` (the run's ``t0``), so that the
    steps keep their precision however large ``t0`` is (in float32 near ``t0 = 1e6`` the
    representable times are 0.06 apart: the steps and save times collapsed).  The neuron
    and the drive see ``offset + t``; the spikes are recorded there.

    With ``batch``, every leaf of ``neuron``, ``drive`` and ``y0`` leads with one batch axis:
    the loop from spike to spike runs once over the batch (until its last neuron is done, as
    ``vmap`` of the loop would) and only its body, each neuron's solve to its next event, is
    mapped; the recorder's state leads with the batch axis.  Same results as ``vmap`` of the
    loop, traced and compiled in about three quarters of the time (benchmarks/README.md)."""
    dtype = jnp.result_type(*jax.tree.leaves(y0))
    rtol, atol = solver.tolerances(dtype)
    t0 = jnp.zeros((), dtype)
    t1 = jnp.asarray(t1, dtype)
    offset = jnp.asarray(offset, dtype)
    ts = ts - offset
    jumps = drive.jump_ts()
    jumps = None if jumps is None else jnp.asarray(jumps, dtype) - offset
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    if jumps is not None:
        controller = diffrax.ClipStepSizeController(controller, jump_ts=jumps)
    event = _spike_event(type(neuron).rearm)

    # args = (drive, armed, neuron): everything a lane's solve reads from its neuron.
    def vf(t, y, args):
        return args[2].vector_field(offset + t, y, args[0])

    term = diffrax.ODETerm(vf)
    refractory = neuron.refractory_period() is not None
    n_ts = ts.shape[0]

    def body(c, nrn, drv):
        t, y, armed, rec, traj, bad = c
        tr = nrn.refractory_period()
        args = (drv, armed, nrn)
        sol = _segment(solver, term, controller, event, t, t1, y, args, ts)
        hit, ys = sol.event_mask, sol.ys
        assert hit is not None and ys is not None  # an event and SaveAt(subs) were given
        # diffrax stops at the end of the step in which the condition changed sign; the
        # crossing inside that step is placed by ``_crossing``.
        t_end = jnp.clip(_checked_end(sol), t, t1)
        y_end = jax.tree.map(lambda a: a[-1], ys[0])
        spike = hit & armed
        t_spike, y_spike = _crossing(vf, nrn.spike_condition, t_end, y_end, args, t_end - t)
        rec = recorder.record(rec, spike, offset + t_spike, None)
        if neuron.resets or refractory:
            t_stop = jnp.where(spike, t_spike, t_end)  # the next segment restarts at the spike
        else:  # nothing changes at a spike: the solve goes on from the step's end
            t_stop = t_end
        if n_ts:
            valid = (ts >= t) & (ts <= t_stop)
            traj = jax.tree.map(lambda o, n: jnp.where(_bcast(valid, o), n, o), traj, ys[1])
        if neuron.resets or refractory:
            y_reset = nrn.reset(y_spike)
            if neuron.resets:
                bad = bad | (spike & (nrn.spike_condition(y_reset) >= 0))
            t_resume = t_spike if tr is None else jnp.minimum(t_spike + tr, t1)
            if n_ts and tr is not None:  # held at the reset state while refractory
                held = spike & (ts >= t_spike) & (ts < t_spike + tr)
                traj = jax.tree.map(lambda o, r: jnp.where(_bcast(held, o), r, o), traj, y_reset)
            y_next = jax.tree.map(lambda r, e: jnp.where(spike, r, e), y_reset, y_end)
            t_next = jnp.where(spike, t_resume, jnp.where(hit, t_end, t1))
        else:
            y_next, t_next = y_end, jnp.where(hit, t_end, t1)
        armed = armed if neuron.resets else jnp.where(hit, ~armed, armed)
        return t_next, y_next, armed, rec, traj, bad

    def guarded(c, nrn, drv):
        # Every lane (of vmap or the batch loop) runs the body until the last one finishes; a finished lane
        # (t == t1) solves a short dummy segment at the end of the interval, from its own final
        # state, and keeps its old carry: cheap, and never a degenerate zero-length solve.
        active = c[0] < t1
        t_dummy = t1 - 1e-3 * (t1 - t0)
        new = body((jnp.where(active, c[0], t_dummy), *c[1:]), nrn, drv)
        return jax.tree.map(lambda n, o: jnp.where(active, n, o), new, c)

    def start(y, nrn):
        shape = jnp.shape(nrn.spike_condition(y))
        traj0 = jax.tree.map(lambda a: jnp.zeros((n_ts,) + jnp.shape(a), dtype), y)
        armed0 = jnp.ones(shape, bool) if neuron.resets else nrn.spike_condition(y) < 0
        return (t0, y, armed0, recorder.init(shape, dtype), traj0, jnp.zeros(shape, bool))

    def step(c):
        if batch:  # one loop over the batch, each lane's body mapped (the carry's leaves lead with the batch)
            return eqx.filter_vmap(guarded)(c, neuron, drive)
        return guarded(c, neuron, drive)

    def cond(c):
        return jnp.any(c[0] < t1)

    init = eqx.filter_vmap(start)(y0, neuron) if batch else start(y0, neuron)
    # A spike buffer flags an overflow itself; any other recorder needs the loop to finish.
    flags_overflow = isinstance(recorder, SpikeTimes)
    max_loops = (1 if neuron.resets else 2) * (max_spikes + 1)
    outer = None if solver.checkpoints is None else min(solver.checkpoints, max_loops)
    if solver.mode == "forward":
        t_last, _, _, rec, traj, bad = eqxi.while_loop(cond, step, init, max_steps=max_loops, kind="lax")
    else:
        t_last, _, _, rec, traj, bad = eqxi.while_loop(
            cond, step, init, max_steps=max_loops, kind="checkpointed", checkpoints=outer
        )
    if not flags_overflow:
        rec = error_if_any(
            rec, jnp.any(t_last < t1), f"more spikes than max_spikes={max_spikes} (at most 1 kHz by default)."
        )
    rec = error_if_any(
        rec,
        jnp.any(bad),
        f"{type(neuron).__name__}.reset leaves the spike condition >= 0 (the neuron would fire again at once); "
        "the reset must bring the state below threshold.",
    )
    return traj, rec


def _spike_event(rearm: float) -> diffrax.Event:
    """The spike ``diffrax.Event``: with ``args = (drive, armed, neuron)``, an armed lane's
    event is the upward zero crossing of the spike condition, a disarmed one's its fall to
    ``-rearm``.  No root finder: the solve stops at the end of the step in which the sign
    changed (``_crossing`` then places a spike inside it)."""

    def event_fn(t, y, args, **kwargs):
        del t, kwargs
        c = args[2].spike_condition(y)
        # In the default float dtype: diffrax compares it with a Python 0.0 in a cond, which
        # is float64 under jax_enable_x64 (a float32 run there was a TypeError from lax.cond).
        return jnp.where(args[1], c, -(c + jnp.asarray(rearm, c.dtype))).astype(default_float())

    return diffrax.Event(event_fn, direction=True)


def _back_step(vf, t_end, y_end, delta, args):
    """``y(t_end - delta)`` and the vector field there: one Tsit5 step of length ``-delta``
    from ``(t_end, y_end)``, fifth order like the solve's own steps.  Its seven stages (the
    field at the start, five inner stages, the field at the end: first same as last) run in
    a ``lax.scan``, so the vector field is traced and compiled once."""
    tableau = diffrax.Tsit5.tableau
    n = len(tableau.c) + 1
    a = np.zeros((n, n))  # row i: the weights of k_0 .. k_{i-1} in stage i's state
    c = np.zeros(n)
    c[1:] = tableau.c
    for i, row in enumerate(tableau.a_lower):
        a[i + 1, : len(row)] = row
    dtype = jnp.result_type(delta)
    h = -delta

    def stage(ks, row):
        a_i, c_i, i = row
        y = jax.tree.map(lambda y0, k: y0 + h * jnp.tensordot(a_i, k, axes=1), y_end, ks)
        f = vf(t_end + c_i * h, y, args)
        return jax.tree.map(lambda k, fi: k.at[i].set(fi), ks, f), (y, f)

    ks0 = jax.tree.map(lambda y: jnp.zeros((n,) + jnp.shape(y), jnp.result_type(y)), y_end)
    _, (ys, fs) = jax.lax.scan(stage, ks0, (jnp.asarray(a, dtype), jnp.asarray(c, dtype), jnp.arange(n)))
    return jax.tree.map(lambda x: x[-1], (ys, fs))


def _crossing(vf, condition, t_end, y_end, args, h_max, iterations: int = CROSSING_ITERATIONS):
    """The upward zero crossing of ``condition`` in the last step of a segment (which ends
    at ``(t_end, y_end)``, ``condition(y_end) > 0``, and started at most ``h_max`` earlier,
    below zero): the time ``t_end - delta`` and the state there.

    Newton on ``delta -> condition(y(t_end - delta))`` from ``delta = 0``, each ``y`` one
    Tsit5 step back from the step's end (``_back_step``) and the derivative ``dc/dt =
    grad(condition) . f`` along the flow; each iterate clipped into the bracket of the
    iterates so far (``[0, h_max]`` at first).  A fixed number of iterations in a
    ``fori_loop`` (no while loop).  The iterates carry no derivatives, the states and values
    at them do, so that the last Newton step gives the implicit function theorem's
    derivatives: ``dt* = -(dc/dtheta) / (dc/dt)`` at the crossing, ``dy* = dy + f dt*``."""

    def newton(_, carry):
        _, delta, lo, hi, _ = carry  # evaluate at delta, then step from it
        y, f = _back_step(vf, t_end, y_end, delta, args)
        c, dc = jax.jvp(condition, (y,), (f,))
        c_, dc_ = jax.lax.stop_gradient((c, dc))
        lo, hi = jnp.where(c_ > 0, delta, lo), jnp.where(c_ > 0, hi, delta)
        new = jnp.clip(delta + c_ / jnp.where(dc_ > 0, dc_, jnp.inf), lo, hi)
        return delta, new, lo, hi, (y, f, c, dc)

    h_max = jax.lax.stop_gradient(h_max)
    zero = jnp.zeros_like(h_max)
    like = jax.eval_shape(lambda: (y_end, y_end, condition(y_end), condition(y_end)))
    start = (zero, zero, zero, h_max, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), like))
    # The first iteration evaluates at delta = 0 (the step's end), then ``iterations`` steps.
    delta, _, _, _, (y, f, c, dc) = jax.lax.fori_loop(0, iterations + 1, newton, start)
    dt = -c / jax.lax.stop_gradient(jnp.where(dc > 0, dc, 1.0))
    return t_end - delta + dt, jax.tree.map(lambda a, b: a + b * dt, y, f)


def _segment(solver: Diffrax, term, controller, event, t_start, t1, y_start, args, ts):
    """diffrax's solve from ``t_start`` to the next event (or ``t1``), saving the end state
    and, when ``ts`` is not empty, the states at ``ts`` (clipped into the segment)."""
    subs = [diffrax.SubSaveAt(t1=True)]
    if ts.shape[0]:
        subs.append(diffrax.SubSaveAt(ts=jnp.clip(ts, t_start, t1)))
    return diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        t_start,
        t1,
        None,
        y_start,
        args=args,
        saveat=diffrax.SaveAt(subs=subs),
        stepsize_controller=controller,
        event=event,
        max_steps=solver.max_steps,
        adjoint=(
            diffrax.ForwardMode()
            if solver.mode == "forward"
            else diffrax.RecursiveCheckpointAdjoint(checkpoints=solver.checkpoints)
        ),
        throw=False,
    )


def _checked_end(sol):
    """The end time of a segment's solve, with a run-time error if the solve failed (step
    limit, non-finite state)."""
    R = diffrax.RESULTS
    ok = (sol.result == R.successful) | (sol.result == R.event_occurred)
    return eqx.error_if(
        sol.ts[0][-1],
        ~ok,
        "the diffrax solve failed (max_steps reached or a non-finite state); raise max_steps or tighten rtol/atol.",
    )


def _bcast(mask, like):
    return jnp.reshape(mask, mask.shape + (1,) * (jnp.ndim(like) - 1))


__all__ = ["Diffrax"]

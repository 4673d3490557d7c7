"""The general spiking solver: diffrax with the spike condition as an event, for any neuron."""

from __future__ import annotations

import diffrax
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from .._inputs import Constant
from .._misc import check_int, check_positive, default_float, static_float, static_number
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
    placed inside the step in which the condition changed sign by Newton on Tsit5 steps back
    from the step's end (for a drive with jumps, by diffrax's root finder on the step's dense
    interpolant); then the reset map, and the refractory period skipped with the state held.
    A neuron without a reset is re-armed by a second event, the condition falling ``rearm``
    below zero.  Runs any ``AbstractNeuron``; reverse-mode differentiable (checkpointed loops)
    and, through ``jax.jvp``, forward mode.

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
        # float32 root finding needs a looser tolerance than the step control (MEASURED.md).
        return rtol, atol, max(rtol, 1e-10 if f64 else 1e-5)

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
    rtol, atol, root_tol = solver.tolerances(dtype)
    t0 = jnp.zeros((), dtype)
    t1 = jnp.asarray(t1, dtype)
    offset = jnp.asarray(offset, dtype)
    ts = ts - offset
    jumps = drive.jump_ts()
    jumps = None if jumps is None else jnp.asarray(jumps, dtype) - offset
    # Without jumps in the drive each segment is solved in its own time, from 0 at the
    # segment's start t_start: diffrax's t0 and t1 are then the same for every neuron of a
    # batch, and its time direction and end clipping are resolved once, not per neuron and
    # step; the spike is placed by ``_crossing`` (benchmarks/README.md).  A drive with jumps
    # keeps the run's time, in which diffrax steps exactly onto the jumps, and diffrax's
    # root finder on the dense interpolant of the step (``_crossing``'s step back from a
    # step's end could cross a jump: diffrax may see the sign change only in the short step
    # just after a jump).
    local = jumps is None
    horizon = _trace_time(t1, dtype) if local else t1
    event = _events(type(neuron).rearm, t1, None if local else _root_finder(root_tol, t0, t1, dtype))
    # The root finder stops when its step in time is below the tolerance and the event
    # function's value below the same number: a condition in mV (HH, AdEx) would be driven to
    # 1e-5 mV, needing extra Newton iterations, and one in V to 1e-5 V.  So the condition is
    # measured in units of its distance from threshold at the start (positive scaling moves
    # no root, and at a root its derivatives scale with it, so spike times and their
    # derivatives are unchanged).
    c0 = jax.lax.stop_gradient(jnp.abs(neuron.spike_condition(y0)))
    scale = 1.0 / jnp.where(c0 > 0, c0, 1.0)

    # args = (drive, armed, neuron, t_start or 0, scale): everything a lane's solve reads.
    def vf(tau, y, args):
        return args[2].vector_field(offset + args[3] + tau, y, args[0])

    term = diffrax.ODETerm(vf)
    refractory = neuron.refractory_period() is not None
    n_ts = ts.shape[0]

    def body(c, nrn, drv, scl):
        t, y, armed, rec, traj, bad = c
        tr = nrn.refractory_period()
        start = t if local else jnp.zeros_like(t)
        args = (drv, armed, nrn, start, scl)
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        if jumps is not None:
            controller = diffrax.ClipStepSizeController(controller, jump_ts=jumps)
        sol = _segment(solver, term, controller, event, t - start, horizon, y, args, ts - start)
        mask, ys = sol.event_mask, sol.ys
        assert mask is not None and ys is not None  # events and SaveAt(subs) were given
        hit = mask[0]
        tau_end = _checked_end(sol)
        y_end = jax.tree.map(lambda a: a[-1], ys[0])
        if local:
            # diffrax stopped at the end of the step in which a condition changed sign (which
            # may pass t1 in the last segment); the spike inside that step is placed here.
            tau_spike, y_spike = _crossing(vf, nrn.spike_condition, tau_end, y_end, args, tau_end)
        else:  # diffrax's root finder placed it
            tau_spike, y_spike = tau_end, y_end
        t_end, t_spike = start + tau_end, start + tau_spike
        go_on = hit & (t_end < t1)  # a crossing before the end (a spike, or a re-arming)
        spike = hit & armed & (t_spike <= t1)
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
            t_next = jnp.where(spike, t_resume, jnp.where(go_on, t_end, t1))
        else:
            y_next, t_next = y_end, jnp.where(go_on, t_end, t1)
        armed = armed if neuron.resets else jnp.where(go_on, ~armed, armed)
        return t_next, y_next, armed, rec, traj, bad

    def guarded(c, nrn, drv, scl):
        # Every lane (of vmap or the batch loop) runs the body until the last one finishes; a finished lane
        # (t == t1) solves a short dummy segment at the end of the interval, from its own final
        # state, and keeps its old carry: cheap, and never a degenerate zero-length solve.
        active = c[0] < t1
        t_dummy = t1 - 1e-3 * (t1 - t0)
        new = body((jnp.where(active, c[0], t_dummy), *c[1:]), nrn, drv, scl)
        return jax.tree.map(lambda n, o: jnp.where(active, n, o), new, c)

    def start(y, nrn):
        shape = jnp.shape(nrn.spike_condition(y))
        traj0 = jax.tree.map(lambda a: jnp.zeros((n_ts,) + jnp.shape(a), dtype), y)
        armed0 = jnp.ones(shape, bool) if neuron.resets else nrn.spike_condition(y) < 0
        return (t0, y, armed0, recorder.init(shape, dtype), traj0, jnp.zeros(shape, bool))

    def step(c):
        if batch:  # one loop over the batch, each lane's body mapped (the carry's leaves lead with the batch)
            return eqx.filter_vmap(guarded)(c, neuron, drive, scale)
        return guarded(c, neuron, drive, scale)

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


def _events(rearm: float, t1, root_finder) -> diffrax.Event:
    """The events of a segment's solve (in time ``tau`` from ``args[3]``): with ``args =
    (drive, armed, neuron, t_start or 0, scale)``, first the spike event, an armed lane's
    upward zero crossing of the spike condition or a disarmed one's fall to ``-rearm``
    (times ``scale``); then the end of the run, ``args[3] + tau`` reaching ``t1``.  Without
    a root finder the solve stops at the end of the step in which a sign changed."""

    def spike_fn(t, y, args, **kwargs):
        del t, kwargs
        c = args[2].spike_condition(y)
        # In the default float dtype: diffrax compares it with a Python 0.0 in a cond, which
        # is float64 under jax_enable_x64 (a float32 run there was a TypeError from lax.cond).
        return (jnp.where(args[1], c, -(c + jnp.asarray(rearm, c.dtype))) * args[4]).astype(default_float())

    def end_fn(t, y, args, **kwargs):
        del y, kwargs
        return (args[3] - t1 + t).astype(default_float())

    return diffrax.Event((spike_fn, end_fn), root_finder=root_finder, direction=(True, True))


def _root_finder(root_tol: float, t0, t1, dtype) -> optx.Newton:
    """Newton on the dense interpolant, for event times never finer than a few ulps of the
    largest time.  (Bisection is not usable under vmap: a lane without an event root-finds a
    stand-in whose root sits exactly on the bracket end, which optimistix's bracket check
    rejects.)"""
    time_ulps = 8 * float(jnp.finfo(dtype).eps) * jnp.maximum(jnp.abs(t0), jnp.abs(t1))
    atol_root = jnp.maximum(root_tol, time_ulps)
    return optx.Newton(rtol=root_tol, atol=atol_root)  # pyright: ignore[reportArgumentType]  # optimistix annotates float; a traced array works


def _trace_time(t, dtype):
    """``t`` as a Python float when it is known at trace time and ``dtype`` is JAX's default
    float (diffrax then works out its time direction and the end clipping, a hundred
    ``prevbefore`` steps, while tracing); else the array."""
    if jnp.dtype(dtype) != jnp.dtype(default_float()):
        return t
    value = static_float(t)
    return t if value is None else value


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


def _segment(solver: Diffrax, term, controller, event, t_start, horizon, y_start, args, ts):
    """diffrax's solve from ``t_start`` (0 in a segment's own time) to the next event or
    ``horizon``, saving the end state and, when ``ts`` is not empty, the states at ``ts``
    (clipped into the segment)."""
    subs = [diffrax.SubSaveAt(t1=True)]
    if ts.shape[0]:
        subs.append(diffrax.SubSaveAt(ts=jnp.clip(ts, t_start, horizon)))
    return diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        0.0 if isinstance(horizon, float) else t_start,
        horizon,
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
    """The end time of a segment's solve, with a run-time error if the solve failed.

    A threshold grazed tangentially makes the event root ill-conditioned and diffrax's root
    finder (drives with jumps) may stop at its step limit: the crossing exists (a sign change
    was seen) and its time is kept.  Any other failure (step limit of the solve, non-finite
    state) is an error."""
    R = diffrax.RESULTS
    ok = (
        (sol.result == R.successful)
        | (sol.result == R.event_occurred)
        | (sol.result == R.nonlinear_max_steps_reached)
        | (sol.result == R.nonlinear_divergence)
    )
    return eqx.error_if(
        sol.ts[0][-1],
        ~ok,
        "the diffrax solve failed (max_steps reached or a non-finite state); raise max_steps or tighten rtol/atol.",
    )


def _bcast(mask, like):
    return jnp.reshape(mask, mask.shape + (1,) * (jnp.ndim(like) - 1))


__all__ = ["Diffrax"]

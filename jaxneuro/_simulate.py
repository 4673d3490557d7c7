"""Simulating one neuron under an input drive, with any solver.

``simulate`` validates its arguments, picks a solver (``jaxneuro._solvers``: the one passed as
``solver=``, or the one ``method`` names for this neuron) and runs it with a spike-time
recorder.  The methods:

* ``"diffrax"``: ``Diffrax``, adaptive Tsit5 with spikes as ``diffrax.Event``s on the neuron's
  spike condition, then its reset map: any neuron, the general differentiable path.
* ``"exact"`` (LIF under a piecewise-constant drive): ``ExactLIF``, event-driven with the
  closed-form time to threshold, O(events), exact to rounding.
* ``"stepped"``: a fixed step ``dt`` with the crossing placed inside the step: ``SteppedLIF``
  (exact exponential step), ``ExpMidpointHH`` (second-order exponential midpoint) or, for any
  other neuron, ``RK4`` (fourth order, Hermite crossing placement).

``"auto"`` picks ``"exact"`` for LIF under a piecewise-constant drive, otherwise
``"stepped"``.  The tests hold the solvers equal to one another and to references.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PyTree

from ._inputs import AbstractInput, Constant, as_input
from ._misc import as_float_array, check_finite, check_int, is_concrete, static_float
from ._neurons._base import AbstractNeuron
from ._neurons._hh import HodgkinHuxley
from ._neurons._lif import LIF
from ._solvers import (
    RK4,
    AbstractSpikingSolver,
    Diffrax,
    ExactLIF,
    ExpMidpointHH,
    Interval,
    SpikeTimes,
    SteppedLIF,
)
from ._solvers._base import MAX_CAPACITY, MAX_RATE_HZ, default_capacity, error_if_any
from ._solvers._sensitivity import run_solver
from ._spikes import SpikeTrain

Method = Literal["auto", "diffrax", "exact", "stepped"]
METHODS = ("auto", "diffrax", "exact", "stepped")


class Simulation(eqx.Module):
    """The result of ``simulate``.

    Attributes:
        ts: the times at which the state was recorded (neuron's time unit).
        ys: the state at ``ts`` (a leading time axis on every leaf: LIF ``v`` of shape
            ``(len(ts),)``, HH an ``HHState`` of arrays).
        spikes: the spike times in a fixed-capacity ``SpikeTrain``.
    """

    ts: Float[Array, " times"]
    ys: PyTree[Float[Array, " times"]]
    spikes: SpikeTrain


def stepped_solver(neuron: AbstractNeuron, dt: float | None = None) -> AbstractSpikingSolver:
    """The fixed-step solver of ``method="stepped"`` for this neuron: ``SteppedLIF``,
    ``ExpMidpointHH``, or ``RK4`` for any other neuron."""
    if isinstance(neuron, LIF):
        return SteppedLIF(dt)
    if isinstance(neuron, HodgkinHuxley):
        return ExpMidpointHH(dt)
    return RK4(dt)


def choose_solver(
    neuron: AbstractNeuron,
    drive: AbstractInput,
    method: str,
    solver: AbstractSpikingSolver | None,
    *,
    dt: float | None = None,
    diffrax_options: dict | None = None,
) -> AbstractSpikingSolver:
    """The solver ``method`` names for ``neuron`` (or ``solver`` itself), checked against the
    neuron and drive."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if solver is not None:
        if not isinstance(solver, AbstractSpikingSolver):
            raise TypeError(f"solver must be a jaxneuro solver (RK4, Diffrax, ...), got {type(solver).__name__}.")
        if method != "auto" or dt is not None:
            raise ValueError("give either solver= or method= / dt=, not both (the solver carries its own step).")
    elif method == "exact":
        if not isinstance(neuron, LIF):
            raise ValueError(
                f"method='exact' is for LIF neurons only (a closed-form solution); got {type(neuron).__name__}. "
                "Use 'stepped' or 'diffrax'."
            )
        solver = ExactLIF()
    elif method == "diffrax":
        solver = Diffrax(**(diffrax_options or {}))
    elif method == "auto" and isinstance(neuron, LIF) and drive.is_piecewise_constant and dt is None:
        solver = ExactLIF()
    else:
        solver = stepped_solver(neuron, dt)
    solver.check(neuron, drive)
    return solver


def check_interval(t0: Any, t1: Any) -> Interval:
    """Validate ``[t0, t1]`` (scalars, ``t1 > t0``; traced values checked at run time)."""
    s0, s1 = static_float(t0), static_float(t1)
    t0 = as_float_array(t0)
    t1 = as_float_array(t1)
    for name, t in (("t0", t0), ("t1", t1)):
        if t.ndim != 0:
            raise ValueError(f"{name} must be a scalar time, got shape {t.shape}.")
    if s0 is not None and s1 is not None:
        if not (np.isfinite(s0) and np.isfinite(s1) and s1 > s0):
            raise ValueError(f"t1 must be finite and greater than t0; got t0 = {s0:g}, t1 = {s1:g}.")
    else:
        t1 = eqx.error_if(t1, ~(t1 > t0), "t1 must be greater than t0 (traced values).")
    return Interval(t0, t1, s0, s1)


UNIT_GUARD_MIN_S = 0.002
"""``simulate`` refuses a span shorter than this many seconds (unless ``check_units=False``):
in a model that counts time in ms, ``t1 = 1.0`` meant as one second is one millisecond."""
UNIT_GUARD_MAX_S = 3600.0
"""... and a span longer than an hour: in a model that counts time in s, ``t1 = 200`` meant as
milliseconds is over three minutes."""
UNIT_GUARD_MIN_DRIVE = 1e-6
"""... and a nonzero constant drive smaller than this in magnitude: every built-in model's input
unit puts a useful drive near 0.1-1000 (normalised v_in, uA/cm^2, mV, pA), so 1e-9 is a current
given in amperes."""


def _check_units(neuron: AbstractNeuron, span: Interval, drive: AbstractInput) -> None:
    """The unit guard of ``simulate`` (module constants ``UNIT_GUARD_*``): a ``ValueError`` that
    names the unit the model expects when the span or a constant drive looks like another
    unit.  Only concrete values are checked."""
    name, unit, per = type(neuron).__name__, type(neuron).time_unit, type(neuron).seconds_per_time_unit
    off = "; pass check_units=False if this is meant"
    if span.s0 is not None and span.s1 is not None:
        seconds = (span.s1 - span.s0) * per
        if seconds < UNIT_GUARD_MIN_S:
            hint = f" (in {unit}, 1 s is t1 - t0 = {1.0 / per:g})" if per != 1.0 else ""
            raise ValueError(
                f"{name} works in {unit}: t1 - t0 = {span.s1 - span.s0:g} {unit} is shorter than "
                f"{UNIT_GUARD_MIN_S * 1e3:g} ms and looks like another unit{hint}{off}."
            )
        if seconds > UNIT_GUARD_MAX_S:
            raise ValueError(
                f"{name} works in {unit}: t1 - t0 = {span.s1 - span.s0:g} {unit} is over an hour and looks "
                f"like milliseconds given to a model in seconds{off}."
            )
    if isinstance(drive, Constant) and is_concrete(drive.value):
        value = np.abs(np.asarray(drive.value, np.float64))
        if np.any((value > 0) & (value < UNIT_GUARD_MIN_DRIVE)):
            raise ValueError(
                f"{name} takes its input in {type(neuron).input_unit}: a constant drive of "
                f"{float(np.max(value[value > 0])):g} looks like SI units (amperes or volts){off}."
            )


def _capacity(neuron: AbstractNeuron, span: Interval, max_spikes: int | None) -> int:
    if max_spikes is not None:
        return check_int("max_spikes", max_spikes, 1, MAX_CAPACITY)
    if span.s0 is None or span.s1 is None:
        raise ValueError("max_spikes must be given when t0 or t1 is traced (the spike buffer has a static size).")
    return default_capacity(neuron, span.s0, span.s1)


_CLASS_VARIABLES = ("time_unit", "seconds_per_time_unit", "input_unit", "default_dt", "rearm", "max_accurate_dt")


def check_neuron(neuron: Any) -> AbstractNeuron:
    """``neuron.checked()``, after checking that it is a neuron whose units and default step
    are class variables (an annotation the dataclass machinery cannot read as ``ClassVar``,
    for instance a string under ``from __future__ import annotations`` with ``ClassVar``
    imported inside a function, would make them per-instance fields)."""
    if not isinstance(neuron, AbstractNeuron):
        raise TypeError(
            f"neuron must be a jaxneuro.AbstractNeuron (LIF, HodgkinHuxley, ...), got {type(neuron).__name__}."
        )
    fields = {f.name for f in dataclasses.fields(neuron)} & set(_CLASS_VARIABLES)
    if fields:
        raise TypeError(
            f"{type(neuron).__name__}: {', '.join(sorted(fields))} must be class variables, declared as "
            "`name: ClassVar[type] = value` with ClassVar imported from typing at module level; "
            "they were read as dataclass fields."
        )
    return _one_float_dtype(neuron).checked()


_HALF = (jnp.float16, jnp.bfloat16)


def _one_float_dtype(neuron: AbstractNeuron) -> AbstractNeuron:
    """``neuron`` with every floating parameter in one dtype, their promoted type (a float32
    parameter among float64 ones under ``jax_enable_x64`` is promoted: the solvers' loops
    need one dtype); a half-precision parameter is a ``ValueError`` (float16 resolves time
    to 1e-3 of its value: spike times and the state would be wrong, not rounded)."""
    fields = [(f.name, getattr(neuron, f.name)) for f in dataclasses.fields(neuron)]
    floats = [(name, a) for name, a in fields if eqx.is_inexact_array(a)]
    for name, a in floats:
        if a.dtype in _HALF:
            raise ValueError(
                f"{type(neuron).__name__}.{name} must be float32 or float64 (half precision cannot resolve spike "
                f"times); got dtype {a.dtype}."
            )
    if not floats:
        return neuron
    dtype = jnp.result_type(*[a.dtype for _, a in floats])
    if all(a.dtype == dtype for _, a in floats):
        return neuron
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, neuron)


def one_dtype(neuron: AbstractNeuron, drive: AbstractInput, span: Interval) -> tuple:
    """``neuron``, ``drive`` and ``span`` with every floating array in the promoted dtype of
    them all, before the initial state is computed from the neuron: a loop carries one dtype,
    and a neuron built in float32 before ``jax_enable_x64`` was switched on, under a float64
    drive, would otherwise mix the two (JAX's type errors deep in the loop).  Concrete arrays
    stay concrete (numpy)."""
    tree = (neuron, drive, span)
    floats = [a for a in jax.tree.leaves(tree) if eqx.is_inexact_array(a)]
    if not floats:
        return tree
    dtype = jnp.result_type(*floats)
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) and a.dtype != dtype else a, tree)


def initial_state(neuron: AbstractNeuron, y0: PyTree | None) -> PyTree:
    """``y0`` (default ``neuron.initial_state()``) cast to the structure and dtypes of the
    neuron's own initial state."""
    ref = neuron.initial_state()
    if y0 is None:
        return ref
    try:
        y0 = jax.tree.map(lambda a, b: jnp.asarray(a, jnp.result_type(b)), y0, ref)
    except ValueError as e:
        raise ValueError(
            f"y0 must have the structure of {type(neuron).__name__}.initial_state() ({jax.tree.structure(ref)}); {e}"
        ) from None
    y0 = jax.tree.map(lambda a: check_finite("y0", a), y0)
    if neuron.resets:  # a neuron with a reset starts below threshold (at or above: spikes before t0, or none)
        c = neuron.spike_condition(y0)
        name = type(neuron).__name__
        message = f"y0 (v) must be below the threshold of {name} (spike_condition(y0) < 0)"
        if is_concrete(c):
            c = np.asarray(c)
            if np.any(c >= 0):
                try:  # for a condition v - v_th, name the threshold and v
                    v = np.asarray(neuron.voltage(y0))
                    thr = np.broadcast_to(v - c, c.shape)[c >= 0].flat[0]
                    got = np.broadcast_to(v, c.shape)[c >= 0].flat[0]
                    message = f"y0 (v) must be below the threshold {thr:g} of {name} (spike_condition(y0) < 0)"
                except (TypeError, AttributeError, ValueError):
                    got = np.max(c)
                raise ValueError(f"{message}; got v = {got:g}.")
        else:
            y0 = error_if_any(y0, c >= 0, f"{message} (a traced value was not).")
    return y0


# ----------------------------------------------------------------------------- public entry
def simulate(
    neuron: AbstractNeuron,
    drive: Any,
    t0: ArrayLike,
    t1: ArrayLike,
    *,
    ts: ArrayLike | None = None,
    y0: PyTree | None = None,
    method: Method = "auto",
    solver: AbstractSpikingSolver | None = None,
    dt: float | None = None,
    max_spikes: int | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    on_overflow: Literal["error", "flag"] = "error",
    max_steps: int = 1_000_000,
    checkpoints: int | None = None,
    check_units: bool = True,
) -> Simulation:
    """Simulate one neuron under ``drive`` over ``[t0, t1]`` (batch with ``jax.vmap``).

    Works for any ``AbstractNeuron`` (built-in or user-defined) on every solver that accepts
    it, under ``jax.jit``, ``jax.vmap``, ``jax.grad`` and ``jax.jvp``.  Times are in the
    neuron's time unit (``neuron.time_unit``), the drive in its input unit.

    Example::

        sim = jn.simulate(jn.LIF(), 1.5, 0.0, 0.3)            # exact events, times in s
        sim.spikes.times[: sim.spikes.count]                  # 0.02197, 0.04594, ...
        jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, solver=jn.RK4(dt=0.01))

    Args:
        neuron: any ``AbstractNeuron``: ``LIF`` (time in s, drive is normalised ``v_in``),
            ``HodgkinHuxley`` (time in ms, drive in uA/cm^2), or one of your own.
        drive: the input: a number, a callable of ``t``, or an ``AbstractInput``
            (``Constant``, ``Step``, ``PiecewiseConstant``, ``FunctionInput``).
        t0, t1: the interval, in the neuron's time unit; ``t1 > t0``.
        ts: times at which to record the state, increasing, within ``[t0, t1]``.  Default:
            every step of the stepped path, otherwise 1001 equally spaced times.  For
            ``method="stepped"`` they must lie on the grid ``t0 + k dt``.
        y0: initial state (default ``neuron.initial_state()``: LIF ``v = 0``, HH at rest).
        method: ``"auto"``, ``"diffrax"``, ``"exact"`` or ``"stepped"`` (module docstring).
        solver: a solver object instead of ``method`` (``jn.RK4(dt=...)``, ``jn.Diffrax(...)``,
            ``jn.ExactLIF()``, ``jn.SteppedLIF(dt)``, ``jn.ExpMidpointHH(dt)``, or your own
            ``AbstractSpikingSolver``).
        dt: step of the stepped path in the neuron's time unit (default the neuron's
            ``default_dt``: LIF 1e-4 s, HH 0.025 ms); at most the refractory period, so that at
            most one spike falls in a step.
        max_spikes: capacity of the spike buffer (default: enough for 1 kHz).
        rtol, atol: tolerances of the diffrax path (default 1e-6 in float32, 1e-9 in float64).
        on_overflow: ``"error"`` raises (via ``eqx.error_if``) when more spikes occur than
            ``max_spikes``; ``"flag"`` returns them with ``spikes.overflow`` set.
        max_steps: step limit of the whole diffrax run (accepted and rejected steps).
        checkpoints: memory budget of reverse-mode gradients through ``method="diffrax"``:
            the number of states stored by the loop of steps (a checkpointed loop), the rest
            being recomputed.  Default ``None``: about ``sqrt(2 max_steps)``, so memory
            grows as the square root of the step budget; ``checkpoints = max_steps`` stores
            every step (no recomputation, memory linear in the number of steps).
        check_units: refuse a span or a constant drive that looks like the wrong unit (a
            span under 2 ms or over an hour, a nonzero drive under 1e-6 in magnitude), with a
            message naming the model's unit; ``False`` runs it anyway.

    Returns:
        A ``Simulation`` with ``ts``, ``ys`` and ``spikes``.

    Raises:
        ValueError: for an unknown method, ``t1 <= t0``, ``dt <= 0``, a drive of the wrong
            shape, ``ts`` outside ``[t0, t1]`` or off the step grid, ``checkpoints`` that is
            not a positive int or is given for a method other than ``"diffrax"``, and
            non-positive time constants (concrete values; traced ones through ``eqx.error_if``).
    """
    if on_overflow not in ("error", "flag"):
        raise ValueError(f"on_overflow must be 'error' or 'flag', got {on_overflow!r}.")
    neuron = check_neuron(neuron)
    drive = as_input(drive).checked()
    if checkpoints is not None and (method != "diffrax" or solver is not None):
        raise ValueError(f"checkpoints applies to method='diffrax' only (reverse-mode memory); got method={method!r}.")
    options = dict(rtol=rtol, atol=atol, max_steps=max_steps, checkpoints=checkpoints)
    solver = choose_solver(neuron, drive, method, solver, dt=dt, diffrax_options=options)
    span = check_interval(t0, t1)
    neuron, drive, span = one_dtype(neuron, drive, span)
    if check_units:
        _check_units(neuron, span, drive)
    capacity = _capacity(neuron, span, max_spikes)
    y0 = initial_state(neuron, y0)
    recorder = SpikeTimes(capacity)
    ts_saved, ys, state = run_solver(solver, neuron, drive, span, y0, recorder, ts)
    sim = Simulation(ts_saved, ys, recorder.result(state))
    if on_overflow == "error":
        sim = eqx.error_if(
            sim,
            jnp.any(sim.spikes.overflow),
            f"more spikes than max_spikes={capacity}; raise max_spikes (or use on_overflow='flag').",
        )
    return sim


__all__ = ["Simulation", "simulate", "choose_solver", "stepped_solver", "MAX_RATE_HZ"]

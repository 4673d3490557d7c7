"""The interface of every spiking solver, and the time interval they share.

A spiking solver runs one neuron (or, for solvers that are batch-native, an elementwise batch)
under a drive from ``t0`` to ``t1``, applying the neuron's spike condition, reset map and
refractory period, and hands each spike to a recorder.  ``simulate``, ``spike_statistics`` and
``tuning_curve`` choose a solver (the one passed, or the neuron's default) and a recorder; the
solvers themselves know nothing of those functions.
"""

from __future__ import annotations

import abc
import warnings
from typing import Any

import equinox as eqx
import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PyTree

from .._custom_types import ParamArray
from .._inputs import AbstractInput
from .._misc import check_finite, is_concrete
from .._neurons._base import AbstractNeuron
from ._recorders import AbstractRecorder


class CoarseStepWarning(UserWarning):
    """A fixed step coarser than the neuron's ``max_accurate_dt``: the run goes ahead (a
    quick look is a fair use) but the spikes and rates are not accurate; a warning rather than
    an error because the result is defined, only imprecise."""


class Interval(eqx.Module):
    """``[t0, t1]`` as arrays (numpy when known on the host, as ``as_float_array`` gives them),
    with the Python floats when they are known at trace time."""

    t0: Float[ParamArray, ""]
    t1: Float[ParamArray, ""]
    s0: float | None = eqx.field(static=True)
    s1: float | None = eqx.field(static=True)

    def length(self) -> Array:
        """``t1 - t0`` in ``t0``'s dtype, from the Python floats when known (exact, however
        large ``t0``).  Solvers integrate in time relative to ``t0``: in float32 the spacing of
        representable times near ``t0 = 1e4`` s is 1 ms, coarser than the events of a run."""
        if self.s0 is not None and self.s1 is not None:
            return jnp.asarray(self.s1 - self.s0, self.t0.dtype)
        return jnp.asarray(self.t1 - self.t0)


class AbstractSpikingSolver(eqx.Module):
    """Runs a neuron from ``t0`` to ``t1`` under a drive, recording spikes and the state.

    A subclass implements ``run`` and, when it is specialised to some neurons or drives,
    ``check`` (a ``ValueError`` that says why and what to use instead).
    """

    def check(self, neuron: AbstractNeuron, drive: AbstractInput) -> None:
        """Raise ``ValueError`` when this solver cannot run ``neuron`` under ``drive``."""

    def prepare(self, neuron: AbstractNeuron, span: Interval, ts: Any) -> AbstractSpikingSolver:
        """This solver with its checks and settings that need the neuron's parameter values
        done (raising or warning here, with the values in the message, in the order ``run``
        makes them), for a ``run`` traced with the parameters abstract: ``simulate`` and
        ``spike_statistics`` compile ``run`` once for all parameter values (``run_solver``),
        so a check of a concrete value inside ``run`` would see a tracer there.  Default:
        itself (nothing to do)."""
        del neuron, span, ts
        return self

    def forward_mode(self) -> AbstractSpikingSolver:
        """This solver set up for forward-mode differentiation (``jax.jvp``): itself, unless
        its loop needs another form for it (``Diffrax``)."""
        return self

    @abc.abstractmethod
    def run(
        self,
        neuron: AbstractNeuron,
        drive: AbstractInput,
        span: Interval,
        y0: PyTree,
        recorder: AbstractRecorder,
        ts: Any,
    ) -> tuple[Array, PyTree, PyTree]:
        """Simulate; returns ``(ts, ys, recorder state)``: the times the state was saved at
        (``ts`` as given, or the solver's default when ``None``; an empty array saves
        nothing), the states there (leaves with a leading time axis) and the recorder's
        final state."""


def error_if_any(tree: PyTree, pred: Array, message: str) -> PyTree:
    """``tree`` that raises ``message`` at run time when ``pred`` (any element) is true.

    ``eqx.error_if`` on a scalar, tied to every array leaf by adding a zero of its dtype: the
    check's conditional then touches no batched array, so a batch sharded over devices stays
    sharded (``eqx.error_if`` on the batch itself makes XLA gather it onto one device).
    """
    flag = eqx.error_if(jnp.zeros((), jnp.int32), jnp.any(pred), message)
    return jax.tree.map(lambda a: a + flag.astype(a.dtype) if eqx.is_array(a) and a.dtype != bool else a, tree)


NON_FINITE_STATE = (
    "the state became non-finite (NaN or inf) during the run: the drive function returned NaN or inf, or the step "
    "is unstable for this neuron."
)
"""The run-time error of the fixed-step loops when the final state is not finite (NaN is
sticky in every built-in model, so this catches a drive function that returned NaN at any
step; checked drives, parameters and ``y0`` are refused earlier, by name)."""


def stuck_reset_message(neuron: AbstractNeuron) -> str:
    """The run-time error of every loop that applies ``neuron.reset`` when a reset leaves the
    spike condition ``>= 0`` (the neuron would fire again at once: a spike storm, or a
    refractory-paced train that says nothing of the input)."""
    return (
        f"{type(neuron).__name__}.reset leaves the spike condition >= 0 (the neuron would fire again at once); "
        "the reset must bring the state below threshold."
    )


def reset_check(neuron: AbstractNeuron, y: PyTree) -> tuple[Array | None, Array | None]:
    """How a loop over many neurons (a network's population, a layer) checks that a reset
    brings them below threshold (``y``: their state; ``stuck_reset_message`` when not).

    ``(carried, None)``: a per-neuron flag (``False``) the loop ORs with ``spike &
    (spike_condition(reset(y)) >= 0)`` at each reset; a carried array costs a kernel per step.
    ``(None, stuck)``: where ``spike_condition(reset(y))`` does not depend on the state (a reset
    to constants in the variables the condition reads, as in every built-in model; found by
    following the state through the traced function), a neuron's reset is stuck if and only if
    it spikes at all, so ``stuck`` (per neuron) is checked against the spikes after the run, at
    no cost in the loop.  ``(None, None)`` for a neuron without a reset.
    """
    if not neuron.resets:
        return None, None

    def after_reset(y):
        return neuron.spike_condition(neuron.reset(y))

    shape = jnp.shape(neuron.spike_condition(y))
    spec = jax.tree.map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)), y)
    jaxpr = jax.make_jaxpr(after_reset)(spec).jaxpr
    reached = set(jaxpr.invars)
    for eqn in jaxpr.eqns:  # a sub-computation's outputs all depend on any input that does
        if any(not isinstance(v, jex.core.Literal) and v in reached for v in eqn.invars):
            reached.update(eqn.outvars)
    if any(not isinstance(v, jex.core.Literal) and v in reached for v in jaxpr.outvars):
        return jnp.zeros(shape, bool), None
    return None, jnp.broadcast_to(after_reset(y) >= 0, shape)


MAX_RATE_HZ = 1000.0
"""Default spike capacity is ``ceil(duration * MAX_RATE_HZ) + 1`` (override: ``max_spikes``)."""


def neuron_batch_shape(neuron: AbstractNeuron, y0: PyTree) -> tuple[int, ...]:
    """The broadcast shape of a stacked neuron's array parameters and its state (``()`` for
    one neuron)."""
    shapes = [jnp.shape(a) for a in jax.tree.leaves(neuron) if eqx.is_array(a)]
    shapes.append(jnp.shape(neuron.spike_condition(y0)))
    return jnp.broadcast_shapes(*shapes)


def run_each(run_one, neuron: AbstractNeuron, y0: PyTree, shape: tuple[int, ...]):
    """``run_one(neuron, y0) -> (ts, ys, recorder state)`` for one neuron, mapped over a
    stacked neuron of batch ``shape`` (``jax.vmap`` over the flattened batch): ``ys`` leaves
    ``(len(ts),) + shape + state``, the recorder state ``shape + ...``, as the batch-native
    solvers give."""
    n = int(np.prod(shape))

    def flat(a):  # every parameter and state leaf broadcasts to the batch shape
        return jnp.broadcast_to(a, shape).reshape((n,)) if eqx.is_array(a) else a

    neurons = jax.tree.map(flat, neuron)
    y0s = jax.tree.map(flat, y0)
    ts, ys, rec = jax.vmap(run_one)(neurons, y0s)
    ys = jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1).reshape((a.shape[1],) + shape + a.shape[2:]), ys)
    rec = jax.tree.map(lambda a: a.reshape(shape + a.shape[1:]), rec)
    return ts[0], ys, rec


MAX_CAPACITY = 2**31 - 1
"""The largest spike buffer (counts are int32)."""


def default_capacity(neuron: AbstractNeuron, s0: float, s1: float) -> int:
    """Spikes of a run of ``[s0, s1]`` (neuron's time unit) at ``MAX_RATE_HZ``, plus one.

    Raises:
        ValueError: when that is over ``MAX_CAPACITY`` (a run of years: ``t1 - t0 = 1e12``
            was an ``OverflowError`` from JAX's argument parsing).
    """
    import math

    n = math.ceil((s1 - s0) * type(neuron).seconds_per_time_unit * MAX_RATE_HZ) + 1
    if n > MAX_CAPACITY:
        raise ValueError(
            f"t1 - t0 = {s1 - s0:g} {type(neuron).time_unit} needs a spike buffer of {n:g} at {MAX_RATE_HZ:g} Hz, "
            f"over the limit of {MAX_CAPACITY} (int32 counts); give max_spikes in [1, {MAX_CAPACITY}] or a "
            "shorter run."
        )
    return int(n)


def spike_budget(recorder: AbstractRecorder, span: Interval, bound) -> int:
    """The most spikes a run must make room for: a spike buffer's capacity (it flags an
    overflow itself), else ``bound(s0, s1)`` of the concrete interval."""
    from ._recorders import SpikeTimes

    if isinstance(recorder, SpikeTimes):
        return recorder.capacity
    if span.s0 is None or span.s1 is None:
        raise ValueError("t0 and t1 must be concrete to bound the number of spikes (the loops have a static size).")
    return bound(span.s0, span.s1)


def check_ts(span: Interval, ts: Any, default: int = 1001) -> Array:
    """Validate requested save times (increasing, within ``[t0, t1]``); default ``default``
    equally spaced times."""
    t0, t1, s0, s1 = span.t0, span.t1, span.s0, span.s1
    if ts is None:  # t0 + increasing offsets: nondecreasing after rounding, however large t0
        return jnp.asarray(t0) + jnp.linspace(0.0, span.length(), default, dtype=t0.dtype)
    concrete = is_concrete(ts)
    host = np.asarray(ts) if concrete else None  # read before jnp.asarray: under jit that is a tracer
    ts = jnp.asarray(host if concrete else ts, t0.dtype)
    if ts.ndim != 1:
        raise ValueError(f"ts must be a 1-D array of times, got shape {ts.shape}.")
    if concrete:
        check_finite("ts", host)
    else:
        ts = check_finite("ts", ts)
    if host is not None and s0 is not None and s1 is not None and ts.shape[0] > 0:
        a = host.astype(np.float64)
        if np.any(np.diff(a) < 0):
            raise ValueError("ts must be increasing.")
        tol = 1e-6 * max(1.0, abs(s1))
        if a[0] < s0 - tol or a[-1] > s1 + tol:
            raise ValueError(f"ts must lie within [t0, t1] = [{s0:g}, {s1:g}]; got [{a[0]:g}, {a[-1]:g}].")
    return jnp.clip(ts, t0, t1)


def step_grid(span: Interval, dt: float, ts: Any, method: str) -> tuple[int, Array, np.ndarray]:
    """For a fixed step ``dt``: the number of steps, the save times and their step indices.

    ``t1 - t0`` must be a whole number of steps and ``ts`` (default: every step) must lie on
    the grid ``t0 + k dt``.
    """
    s0, s1 = span.s0, span.s1
    if s0 is None or s1 is None:
        raise ValueError(f"t0 and t1 must be concrete for method={method!r} (they set the number of steps).")
    length = s1 - s0
    if dt > length:
        raise ValueError(f"dt must be in (0, t1 - t0] = (0, {length:g}] (at least one step); got dt = {dt:g}.")
    n_steps = int(round(length / dt))
    if n_steps > MAX_CAPACITY:
        raise ValueError(
            f"dt must be at least (t1 - t0) / {MAX_CAPACITY} = {length / MAX_CAPACITY:g}: (t1 - t0) / dt = "
            f"{length / dt:g} steps is over the limit of {MAX_CAPACITY} (int32 step counts); got dt = {dt:g}, "
            f"t1 - t0 = {length:g}: give a longer step or a shorter run."
        )
    if abs(n_steps * dt - length) > max(1e-4 * dt, 1e-6 * abs(length)):
        raise ValueError(f"(t1 - t0) / dt must be an integer number of steps; got (t1 - t0) = {length:g}, dt = {dt:g}.")
    if ts is None:
        idx = np.arange(n_steps + 1)
    else:
        if not is_concrete(ts):
            raise ValueError(
                f"ts must be concrete for method={method!r} (it sets where the state is saved); inside jit, pass "
                "a numpy array or a list rather than a jax array."
            )
        a = np.asarray(ts, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"ts must be a 1-D array of times, got shape {a.shape}.")
        check_finite("ts", a)
        idx = np.rint((a - s0) / dt).astype(np.int64)
        eps = np.finfo(np.asarray(ts).dtype).eps if np.issubdtype(np.asarray(ts).dtype, np.floating) else 0.0
        tol = 1e-4 * dt + 4 * eps * np.abs(a)  # grid times given in float32 carry its rounding
        if np.any(np.abs(s0 + idx * dt - a) > tol) or np.any(idx < 0) or np.any(idx > n_steps):
            raise ValueError(
                f"with method={method!r}, ts must lie on the step grid t0 + k dt (dt = {dt:g}) in [t0, t1]."
            )
        if np.any(np.diff(idx) < 0):
            raise ValueError("ts must be increasing.")
    ts_arr = jnp.asarray(span.t0) + jnp.asarray(idx, dtype=span.t0.dtype) * jnp.asarray(dt, span.t0.dtype)
    return n_steps, ts_arr, idx


def check_step(neuron: AbstractNeuron, dt: Any, method: str) -> float:
    """``dt`` (default ``neuron.default_dt``) as a positive float, checked against the
    refractory period (at most one spike per step)."""
    from .._misc import is_concrete, static_float

    if dt is None:
        dt = type(neuron).default_dt
    value = static_float(dt)
    if value is None:
        raise ValueError(f"dt must be a concrete number for method={method!r} (it sets the number of steps).")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"dt must be finite and in (0, inf) {neuron.time_unit}; got dt = {value:g}.")
    coarse = type(neuron).max_accurate_dt
    if coarse is not None and value > coarse:
        warnings.warn(
            f"dt = {value:g} {neuron.time_unit} is coarser than {type(neuron).__name__} resolves a spike with "
            f"(dt <= {coarse:g} {neuron.time_unit}): rates may be off by far more than 1% (or the step unstable).",
            CoarseStepWarning,
            stacklevel=3,
        )
    tr = neuron.refractory_period()
    if tr is not None and is_concrete(tr) and np.any((np.asarray(tr) < value) & (np.asarray(tr) > 0)):
        raise ValueError(
            f"dt must be <= tau_ref for a fixed-step solver (at most one spike per step); got dt = {value:g} "
            f"{neuron.time_unit}, tau_ref = {np.min(np.asarray(tr)):g} {neuron.time_unit}."
        )
    return value


__all__ = [
    "NON_FINITE_STATE",
    "CoarseStepWarning",
    "MAX_CAPACITY",
    "MAX_RATE_HZ",
    "error_if_any",
    "spike_budget",
    "AbstractSpikingSolver",
    "Interval",
    "check_step",
    "check_ts",
    "default_capacity",
    "step_grid",
    "stuck_reset_message",
    "reset_check",
]

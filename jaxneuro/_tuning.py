"""Tuning curves: steady-state firing rate against constant input, thousands at once.

The rate is measured from inter-spike intervals after a transient: with ``k`` spikes at
``t_1 < ... < t_k`` in ``[transient, duration]``,

    rate = (k - 1) / (t_k - t_1)        (Hz, the inverse mean ISI),

and 0 when ``k < 2`` or when firing has stopped before the end (the last spike is more
than two mean ISIs before ``duration``: a damped transient, not steady firing).

Both are a solver run with a ``SpikeStats`` recorder (``jaxneuro._solvers``), so any neuron
and any solver works; for LIF under constant input the default is an event-driven loop from
spike to spike with the closed-form inter-spike interval (O(spikes) work, no time grid), and
otherwise the neuron's fixed-step solver, keeping only running statistics (memory O(batch)
whatever the duration).  A spike count has zero derivative almost everywhere; the rate from
the first and last spike times is differentiable (their times are, exactly).
"""

from __future__ import annotations

from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jaxtyping import Array, ArrayLike, Float, Int

from ._inputs import Constant, as_input
from ._misc import check_finite, is_concrete
from ._neurons._base import AbstractNeuron
from ._neurons._lif import LIF
from ._sharding import call_sharded, resolve_mesh
from ._simulate import METHODS, check_interval, check_neuron, choose_solver, initial_state, one_dtype
from ._solvers import (
    AbstractFixedStepSolver,
    AbstractSpikingSolver,
    Diffrax,
    ExactLIF,
    Interval,
    SpikeStats,
    SteppedLIF,
)
from ._solvers._base import check_step, step_grid
from ._solvers._sensitivity import forward_sensitivities, run_solver

MIN_DURATION_S = 0.01
"""The shortest ``duration`` of ``tuning_curve``, in seconds: a steady-state rate needs a
transient and at least two spikes after it."""
"""Default step (ms) of the stepped HH path in ``tuning_curve``.  The exponential midpoint
scheme is second order: against a tight scipy reference the rate error is below 0.1 Hz at
this step over 0-50 uA/cm^2 (tests/test_tuning.py)."""


def rate_from_stats(
    count: ArrayLike, t_first: ArrayLike, t_last: ArrayLike, t_end: ArrayLike, seconds_per_unit: float = 1.0
) -> Array:
    """Steady-state rate (Hz) from spike statistics after the transient.

    Args:
        count: number of spikes at or after the transient.
        t_first, t_last: first and last of those spike times (time unit of the model).
        t_end: end of the simulation (same unit).
        seconds_per_unit: seconds per time unit (1 for s, 1e-3 for ms).

    Returns:
        ``(count - 1) / (t_last - t_first)`` converted to Hz; 0 with fewer than two spikes or
        when the last spike is more than two mean ISIs before ``t_end``.
    """
    count, t_first, t_last = jnp.asarray(count), jnp.asarray(t_first), jnp.asarray(t_last)
    enough = count >= 2
    span = jnp.where(enough, t_last - t_first, 1.0)
    isi = span / jnp.where(enough, count - 1, 1).astype(span.dtype)
    sustained = (t_end - t_last) <= 2.0 * isi
    return jnp.where(enough & sustained, 1.0 / (isi * seconds_per_unit), 0.0)


def check_duration(neuron: AbstractNeuron, duration: Any, transient: Any) -> tuple[float, float]:
    """``duration`` (default 1 s) and ``transient`` (default ``0.2 duration``), in the
    neuron's time unit, checked: ``duration >= MIN_DURATION_S`` and ``0 <= transient < duration``."""
    unit, per = type(neuron).time_unit, type(neuron).seconds_per_time_unit
    duration = 1.0 / per if duration is None else _concrete_float("duration", duration)
    if not duration * per >= MIN_DURATION_S:
        hint = f"; for {duration:g} s pass duration={duration / per:g}" if per != 1.0 and duration > 0 else ""
        raise ValueError(
            f"duration must be in [{MIN_DURATION_S / per:g}, inf) {unit} (at least 10 ms, in the neuron's time unit, "
            f"{unit} for {type(neuron).__name__}); got duration = {duration:g} {unit}{hint}."
        )
    transient = 0.2 * duration if transient is None else _concrete_float("transient", transient)
    if not 0 <= transient < duration:
        raise ValueError(
            f"transient must be in [0, duration) = [0, {duration:g}) {unit}; got transient = {transient:g} {unit}."
        )
    return duration, transient


# ----------------------------------------------------------------------------- kernels
def _solver_rates(
    solver: AbstractSpikingSolver, neuron, inputs: Array, y0: Any, t_end: float, transient: float
) -> Array:
    """Rates from a solver run with a statistics recorder: batch-native for the LIF solvers
    (elementwise loops; the stepped readout schedule needs concrete parameters) and for
    ``Diffrax`` (its loop of steps runs on the batch, each neuron's step mapped, parameters
    shared by the batch left unmapped), ``vmap`` over the batch otherwise.  ``y0``: the
    initial state, or ``None`` for ``neuron.initial_state()`` in the graph."""
    unit = type(neuron).seconds_per_time_unit
    dtype = inputs.dtype
    solver = solver.forward_mode()  # differentiated by forward sensitivities (below)
    t0 = jnp.asarray(0.0, dtype)
    span = Interval(t0, jnp.asarray(t_end, dtype), 0.0, t_end)
    recorder = SpikeStats(jnp.asarray(transient, dtype), t0)

    def one(nrn, x, y0):
        y0 = jax.tree.map(
            lambda a: jnp.broadcast_to(a, jnp.shape(x) + jnp.shape(a)[jnp.ndim(x) :]),
            nrn.initial_state() if y0 is None else y0,
        )
        _, _, st = solver.run(nrn, Constant(x), span, y0, recorder, np.zeros(0))
        return rate_from_stats(st.count_after, st.first_spike, st.last_spike, t_end, seconds_per_unit=unit)

    def batch(neuron, inputs, y0):
        if isinstance(solver, (SteppedLIF, ExactLIF, Diffrax)):
            return one(neuron, inputs, y0)
        # Scalar parameters unmapped (read once per step, not per lane): with the stacked HH
        # update (``_exp_midpoint``) 4-8% less CPU than mapping them, with 1 or 8 host devices
        # (before that update, XLA split the crossing fusion into 3 partitions with 8 devices).
        axes = jax.tree.map(lambda a: None if jnp.ndim(a) == 0 else 0, neuron)
        flat = jax.tree.map(lambda a: a if jnp.ndim(a) == 0 else jnp.broadcast_to(a, inputs.shape).reshape(-1), neuron)
        y0_axes = jax.tree.map(lambda a: None if jnp.ndim(a) == 0 else 0, y0)
        y0 = jax.tree.map(lambda a: a if jnp.ndim(a) == 0 else jnp.broadcast_to(a, inputs.shape).reshape(-1), y0)
        return jax.vmap(one, in_axes=(axes, 0, y0_axes))(flat, inputs.reshape(-1), y0).reshape(inputs.shape)

    # Each rate depends on its own input and parameters only: derivatives by forward
    # sensitivities, one direction per differentiated argument (``_sensitivity``).
    return forward_sensitivities(batch, (neuron, inputs, y0), batch_ndim=inputs.ndim)


# ----------------------------------------------------------------------------- public
@eqx.filter_jit
def _tuning_jit(neuron, inputs, y0, t_end, transient, solver):
    return _solver_rates(solver, neuron, inputs, y0, t_end, transient)


def tuning_curve(
    neuron: AbstractNeuron,
    inputs: Float[ArrayLike, "*batch"],
    *,
    duration: float | None = None,
    transient: float | None = None,
    method: Literal["auto", "exact", "stepped", "diffrax"] = "auto",
    solver: AbstractSpikingSolver | None = None,
    dt: float | None = None,
    dtype: Any = None,
    mesh: Mesh | None = None,
) -> Float[Array, "*shape"]:
    """Steady-state firing rate (Hz) of ``neuron`` for each constant input, in one call.

    Each input is held constant from ``t = 0`` (LIF from ``v = 0``, HH from rest) for
    ``duration`` and the rate is the inverse mean inter-spike interval after ``transient``
    (module docstring).  Times are in the neuron's time unit, as everywhere in jaxneuro
    (``neuron.time_unit``: s for LIF, ms for HH and the other built-ins); rates in Hz.
    Neuron parameters may be arrays that broadcast against ``inputs`` (a sweep over
    parameters).

    Example::

        jn.tuning_curve(jn.LIF(), jnp.linspace(0, 5, 1000))                    # 1 s each
        jn.tuning_curve(jn.HodgkinHuxley(), jnp.linspace(0, 50, 1000), duration=500.0)  # ms

    Args:
        neuron: any ``AbstractNeuron``: ``LIF`` (inputs are normalised ``v_in``),
            ``HodgkinHuxley`` (inputs in uA/cm^2), or one of your own (inputs in its
            ``input_unit``).
        inputs: constant inputs, any shape.
        duration: simulated time per input, in the neuron's time unit, at least
            ``MIN_DURATION_S`` (10 ms; default 1 s: 1.0 for LIF, 1000.0 for HH).
        transient: time discarded before measuring, in the neuron's time unit,
            ``0 <= transient < duration`` (default ``0.2 * duration``).
        method: ``"auto"`` (LIF ``"exact"``, otherwise ``"stepped"``), ``"exact"`` (LIF
            only), ``"stepped"`` (the neuron's fixed-step solver: ``SteppedLIF``,
            ``ExpMidpointHH``, ``RK4``) or ``"diffrax"``.
        solver: a solver object instead of ``method`` (``jn.RK4(dt)``, ``jn.Diffrax(...)``).
        dt: step of the stepped path in the neuron's time unit (default the neuron's
            ``default_dt``: LIF 1e-4 s, HH 0.025 ms, the other built-ins 0.01 ms).
        dtype: floating dtype of the computation (default float32, or float64 when
            ``jax_enable_x64`` is on); ``jnp.float64`` requires ``jax_enable_x64``.
        mesh: a 1-D ``jax.sharding.Mesh`` to split the (flattened) batch over, padded to a
            multiple of its size (``jaxneuro.batch_mesh``).  Default: every local device when
            there are several, otherwise none; the rates equal the unsharded ones exactly.

    Returns:
        Rates in Hz with the broadcast shape of ``inputs`` and the neuron's parameters.

    Raises:
        ValueError: for NaN or infinite inputs, ``duration <= 0``, a transient outside
            ``[0, duration)``, ``dt <= 0``, an unknown method, float64 without x64, or a
            mesh that is not 1-D.
        TypeError: for an object that is not an ``AbstractNeuron``, or a mesh that is not
            a ``jax.sharding.Mesh``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    check_neuron(neuron)
    duration, transient = check_duration(neuron, duration, transient)

    dtype = _resolve_dtype(dtype)
    inputs = jnp.asarray(inputs, dtype)
    # Concrete parameters stay concrete (numpy; inside a caller's jit a jnp conversion would be
    # staged into its graph) so that the initial state can be computed here (below).
    concrete = all(is_concrete(a) for a in jax.tree.leaves(neuron) if eqx.is_array(a))
    convert = np.asarray if concrete else jnp.asarray
    neuron = jax.tree.map(lambda a: convert(a, dtype) if eqx.is_inexact_array(a) else a, neuron)
    if is_concrete(inputs):
        check_finite("inputs", inputs)
    else:
        inputs = check_finite("inputs", inputs)
    param_shapes = {
        name: jnp.shape(getattr(neuron, name))
        for name in type(neuron).__dataclass_fields__
        if eqx.is_array(getattr(neuron, name))
    }
    try:
        batch = jnp.broadcast_shapes(inputs.shape, *param_shapes.values())
    except ValueError:
        shown = ", ".join(f"{k} {v}" for k, v in param_shapes.items() if v)
        raise ValueError(
            f"inputs of shape {inputs.shape} do not broadcast against the neuron's parameter shapes ({shown})."
        ) from None
    inputs = jnp.broadcast_to(inputs, batch)
    neuron = neuron.checked()

    is_lif = isinstance(neuron, LIF)
    t_end, t_tr = duration, transient
    if dt is not None:
        dt = _concrete_float("dt", dt)
        if not dt > 0:
            raise ValueError(f"dt must be in (0, inf) {neuron.time_unit}; got dt = {dt:g}.")
    if solver is None and method == "exact" and not is_lif:
        raise ValueError(
            f"method='exact' is for LIF neurons only; use 'stepped' or 'diffrax' for {type(neuron).__name__}."
        )
    solver = choose_solver(neuron, Constant(0.0), method, solver, dt=dt)
    if isinstance(solver, AbstractFixedStepSolver | SteppedLIF):
        check_step(neuron, solver.dt, "stepped")
    # With concrete parameters the initial state is computed here, outside the compiled sweep
    # (HodgkinHuxley's resting potential in numpy, not a Newton loop in the graph); traced
    # ones (a derivative with respect to a parameter) compute it in the graph.
    y0 = neuron.initial_state() if concrete else None
    mesh = resolve_mesh(mesh)
    if mesh is None or inputs.size == 0:
        return _tuning_jit(neuron, inputs, y0, t_end, t_tr, solver)
    # Sharded: flatten the batch, give every parameter the batch shape, split it over devices.
    flat = jax.tree.map(lambda a: jnp.broadcast_to(a, batch).reshape(-1), (neuron, inputs, y0))
    rates = call_sharded(_tuning_jit, flat, mesh, (t_end, t_tr, solver))
    return rates.reshape(batch)


class SpikeStatistics(eqx.Module):
    """Spike statistics of a simulation that stores no spike times (``spike_statistics``).

    Attributes:
        count: all spikes in ``(t0, t1]``.
        count_after: spikes at or after ``transient``.
        first_spike, last_spike: the first and last of those (NaN and -inf when there are none).
        bins: spike counts per bin of ``bin_width``, shape ``(*batch, bins)``; empty (0 bins)
            when no ``bin_width`` was given.
        t0, t1, transient: the interval and the transient (neuron's time unit).
        seconds_per_unit: seconds per time unit of the neuron (1 for LIF, 1e-3 for HH).
    """

    count: Int[Array, "*batch"]
    count_after: Int[Array, "*batch"]
    first_spike: Float[Array, "*batch"]
    last_spike: Float[Array, "*batch"]
    bins: Int[Array, "*batch bins"]
    t0: Float[Array, ""]
    t1: Float[Array, ""]
    transient: Float[Array, ""]
    seconds_per_unit: float = eqx.field(static=True)

    @property
    def rate(self) -> Float[Array, "*batch"]:
        """Steady-state rate in Hz from the inter-spike intervals after the transient,
        ``(k - 1) / (t_k - t_1)`` (``rate_from_stats``)."""
        return rate_from_stats(self.count_after, self.first_spike, self.last_spike, self.t1, self.seconds_per_unit)

    @property
    def mean_rate(self) -> Float[Array, "*batch"]:
        """Spike count over the whole interval divided by its length, in Hz."""
        return self.count / ((self.t1 - self.t0) * self.seconds_per_unit)


def spike_statistics(
    neuron: AbstractNeuron,
    drive: Any,
    t0: ArrayLike,
    t1: ArrayLike,
    *,
    dt: float | None = None,
    transient: ArrayLike | None = None,
    bin_width: float | None = None,
    y0: Any = None,
    solver: AbstractSpikingSolver | None = None,
) -> SpikeStatistics:
    """Spike counts, the steady-state rate and binned counts of one neuron under ``drive``
    over ``[t0, t1]``, on the stepped path of ``simulate``, without storing spike times
    (batch with ``jax.vmap``: a population of independent neurons).

    The dynamics and spike times are those of ``simulate(..., method="stepped")``: for LIF the
    exact exponential step with the drive held at its mid-step value, the crossing placed
    inside the step and the refractory period to the exact sub-step time; for HH the
    exponential midpoint scheme.  The LIF path keeps one encoded number per neuron and reads
    spikes out once per refractory period (``jaxneuro._lif_stepped``), so a vmapped population
    costs one fused kernel per step; memory is O(batch x bins), whatever the duration.  On a
    multi-core CPU, large populations run fastest split over host devices
    (``XLA_FLAGS=--xla_force_host_platform_device_count=8`` before JAX starts, then
    ``sharded_vmap``): each device then steps its own ~1,000 neurons on one thread
    (benchmarks/README.md).

    Example::

        wave = lambda off: jn.FunctionInput(lambda t: off + 0.5 * jnp.sin(2 * jnp.pi * 5.0 * t))
        run = lambda off: jn.spike_statistics(jn.LIF(), wave(off), 0.0, 1.0, transient=0.2, bin_width=0.01)
        stats = jax.jit(jax.vmap(run))(jnp.linspace(0.5, 3.0, 10_000))
        stats.rate, stats.bins      # (10000,) Hz, (10000, 100) spike counts

    Args:
        neuron: ``LIF`` (time in s, drive normalised) or ``HodgkinHuxley`` (ms, uA/cm^2).
        drive: a number, a callable of ``t`` or an ``AbstractInput``.
        t0, t1: the interval (concrete, ``t1 > t0``), a whole number of steps.
        dt: the step (default the neuron's ``default_dt``: LIF 1e-4 s, HH 0.025 ms); LIF needs ``dt <= tau_ref``.
        transient: spikes before it are left out of ``count_after``, ``first_spike``,
            ``last_spike`` and ``rate``; in ``[t0, t1)``, default ``t0``.
        bin_width: width of the bins of ``bins``, a whole number of steps dividing ``t1 - t0``.
        y0: initial state (default ``neuron.initial_state()``); for LIF ``v < 1``.

    Returns:
        A ``SpikeStatistics``.

    Raises:
        ValueError: for ``t1 <= t0``, ``dt <= 0`` or off the interval, ``dt > tau_ref``, a
            transient outside ``[t0, t1)``, a bin width that is not a whole number of steps
            dividing the interval, or a neuron without a stepped path.
    """
    neuron = check_neuron(neuron)
    drive = as_input(drive).checked()
    span = check_interval(t0, t1)
    neuron, drive, span = one_dtype(neuron, drive, span)
    s0, s1 = span.s0, span.s1
    if s0 is None or s1 is None:
        raise ValueError("t0 and t1 must be concrete for spike_statistics (they set the number of steps).")
    if solver is None:
        solver = choose_solver(neuron, drive, "stepped", None, dt=dt)
    else:
        solver = choose_solver(neuron, drive, "auto", solver, dt=dt)
    fixed = hasattr(solver, "dt")
    step = 0.0
    if fixed:
        step = check_step(neuron, getattr(solver, "dt", None), "stepped")
        step_grid(span, step, np.zeros(0), "stepped")  # (t1 - t0) / dt must be a whole number of steps
    unit = neuron.time_unit
    if transient is None:
        transient = span.t0
    elif is_concrete(transient):
        tr = float(np.asarray(transient))
        if not s0 <= tr < s1:
            raise ValueError(f"transient must be in [t0, t1) = [{s0:g}, {s1:g}) {unit}; got transient = {tr:g}.")
    transient = jnp.asarray(transient, span.t0.dtype)
    n_bins, width = 0, 1.0
    if bin_width is not None:
        width = _concrete_float("bin_width", bin_width)
        n_bins = int(round((s1 - s0) / width)) if width > 0 else 0
        per_step = round(width / step) if fixed else 1
        whole = (not fixed) or (per_step >= 1 and abs(per_step * step - width) <= 1e-6 * step)
        if n_bins < 1 or abs(n_bins * width - (s1 - s0)) > 1e-6 * width or not whole:
            grid = f"a whole number of steps (dt = {step:g} {unit}) " if fixed else ""
            raise ValueError(
                f"bin_width must be {grid}dividing t1 - t0 = {s1 - s0:g} {unit}; got bin_width = {width:g}."
            )
    y0 = initial_state(neuron, y0)
    t0_arr, t1_arr = jnp.asarray(span.t0), jnp.asarray(span.t1)  # numpy when concrete (check_interval)
    recorder = SpikeStats(transient, t0_arr, width, n_bins)
    _, _, st = run_solver(solver, neuron, drive, span, y0, recorder, np.zeros(0))
    return SpikeStatistics(
        st.count,
        st.count_after,
        st.first_spike,
        st.last_spike,
        jnp.moveaxis(st.bins, 0, -1),
        t0_arr,
        t1_arr,
        transient,
        type(neuron).seconds_per_time_unit,
    )


def _concrete_float(name: str, value: Any) -> float:
    if not is_concrete(value):
        raise ValueError(f"{name} must be a concrete number (it sets the simulation length), not a traced value.")
    value = float(np.asarray(value))
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {name} = {value}.")
    return value


def _resolve_dtype(dtype):
    if dtype is None:
        return jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(
            f"dtype must be a floating dtype (float32 or float64; half precision cannot resolve spike times), "
            f"got {dtype}."
        )
    if dtype == jnp.float64 and not jax.config.read("jax_enable_x64"):
        raise ValueError("dtype=float64 needs jax_enable_x64: call jax.config.update('jax_enable_x64', True) first.")
    return dtype


__all__ = ["tuning_curve", "rate_from_stats", "spike_statistics", "SpikeStatistics", "MIN_DURATION_S"]

"""Tuning curves: steady-state firing rate against constant input, thousands at once.

The rate is measured from inter-spike intervals after a transient: with ``k`` spikes at
``t_1 < ... < t_k`` in ``[transient, duration]``,

    rate = (k - 1) / (t_k - t_1)        (Hz, the inverse mean ISI),

and 0 when ``k < 2`` or when firing has stopped before the end (the last spike is more
than two mean ISIs before ``duration``: a damped transient, not steady firing).

Paths (all batch-native: one jitted call for the whole batch):

* LIF, ``"exact"`` (default): event-driven from spike to spike with the closed-form time to
  threshold, O(spikes) work per input and no time grid at all.
* ``"stepped"``: the fixed-step integrators of ``simulate`` (LIF exact exponential step;
  HH exponential midpoint, the HH default), keeping only running spike statistics, so
  memory is O(batch) whatever the duration.
* ``"diffrax"``: ``jax.vmap`` of ``simulate(method="diffrax")`` (adaptive Tsit5 with
  events): the general and differentiable reference.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jaxtyping import Array, ArrayLike, Float, Int

from . import _lif_stepped as _ls
from ._inputs import Constant, as_input
from ._misc import check_finite, is_concrete
from ._neurons._base import AbstractNeuron
from ._neurons._hh import HodgkinHuxley
from ._neurons._lif import LIF, lif_time_to_threshold
from ._sharding import call_sharded, resolve_mesh
from ._simulate import (
    DEFAULT_DT,
    METHODS,
    _check_dt,
    _check_interval,
    _grid_ts,
    _hh_crossing,
    hh_exp_midpoint_update,
    simulate,
)

HH_TUNING_DT = 0.025
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
    count = jnp.asarray(count)
    enough = count >= 2
    span = jnp.where(enough, t_last - t_first, 1.0)
    isi = span / jnp.where(enough, count - 1, 1).astype(span.dtype)
    sustained = (t_end - t_last) <= 2.0 * isi
    return jnp.where(enough & sustained, 1.0 / (isi * seconds_per_unit), 0.0)


def _stats_update(stats, spiked, t_spike, transient):
    count, t_first, t_last = stats
    after = spiked & (t_spike >= transient)
    t_first = jnp.where(after & (count == 0), t_spike, t_first)
    t_last = jnp.where(after, t_spike, t_last)
    return count + after.astype(count.dtype), t_first, t_last


def _empty_stats(shape, dtype):
    return jnp.zeros(shape, jnp.int32), jnp.full(shape, jnp.nan, dtype), jnp.full(shape, -jnp.inf, dtype)


# ----------------------------------------------------------------------------- kernels
def _lif_exact_rates(neuron: LIF, v_in: Array, t_end: float, transient: float, max_spikes: int) -> Array:
    """Event-driven LIF under constant input from ``v = 0`` at ``t = 0``: each iteration
    jumps to the next spike, ``t_next = t_prev + tau_ref + tau_m log1p(1/(v_in - 1))``.

    The loop is a checkpointed ``while_loop`` bounded by ``max_spikes`` iterations, so it is
    reverse-mode differentiable; a run that would need more iterations is an error, never a
    silently truncated count.
    """
    tau_m, tau_ref = neuron.tau_m, neuron.tau_ref
    shape = v_in.shape
    first = jnp.broadcast_to(lif_time_to_threshold(0.0, v_in, tau_m), shape)
    isi = jnp.broadcast_to(tau_ref, shape) + first  # from reset, after the refractory period

    def cond(c):
        t_next, _ = c
        return jnp.any(t_next <= t_end)

    def body(c):
        t_next, stats = c
        spiked = t_next <= t_end
        stats = _stats_update(stats, spiked, t_next, transient)
        return jnp.where(spiked, t_next + isi, t_next), stats

    init = (first, _empty_stats(shape, v_in.dtype))
    t_next, (count, t_first, t_last) = eqxi.while_loop(cond, body, init, max_steps=max_spikes, kind="checkpointed")
    count = eqx.error_if(
        count,
        jnp.any(t_next <= t_end),
        f"more than {max_spikes} spikes in the sweep; tau_ref is too small for the bound.",
    )
    return rate_from_stats(count, t_first, t_last, t_end)


def _lif_stepped_rates(neuron: LIF, v_in: Array, t_end: float, transient: float, dt: float) -> Array:
    n_steps = int(round(t_end / dt))
    _, count, t_first, t_last, _ = _lif_stats(
        neuron, lambda t: v_in, jnp.asarray(0.0, v_in.dtype), n_steps, dt, transient, jnp.zeros_like(v_in), 0
    )
    return rate_from_stats(count, t_first, t_last, t_end)


def _bin_stops(n_steps: int, steps_per_bin: int) -> np.ndarray:
    return np.arange(0, n_steps + 1, steps_per_bin) if steps_per_bin else np.zeros(0, np.int64)


def _add_to_bin(bins: Array, k: Array, spiked: Array) -> Array:
    row = jax.lax.dynamic_index_in_dim(bins, k, 0, keepdims=False)
    return jax.lax.dynamic_update_index_in_dim(bins, row + spiked.astype(bins.dtype), k, 0)


def _lif_stats(neuron: LIF, drive_at, t0: Array, n_steps: int, dt: float, transient, v0: Array, steps_per_bin: int):
    """Spike statistics of the encoded stepped LIF (``jaxneuro._lif_stepped``): total count,
    (count, first, last) at or after ``transient``, and counts per bin of ``steps_per_bin``
    steps (time-major; none when 0).  Memory O(batch x bins), never O(steps)."""
    dtype = v0.dtype
    dt_a = jnp.asarray(dt, dtype)
    consts = _ls.encode_constants(neuron, dt_a)
    s0 = _ls.encode_voltage(v0)
    stops = _ls.stop_schedule(n_steps, _ls.block_steps(neuron, dt), _bin_stops(n_steps, steps_per_bin))
    n_bins = n_steps // steps_per_bin if steps_per_bin else 0
    starts = np.concatenate([[0], stops[:-1]])
    bin_of_stop = jnp.asarray(starts // steps_per_bin if steps_per_bin else np.zeros_like(starts), jnp.int32)
    bins = jnp.zeros((n_bins,) + s0.shape, jnp.int32)
    total = jnp.zeros(s0.shape, jnp.int32)

    def readout(carry, s, stop, t_stop):
        total, stats, bins, i = carry
        spiked, t_spike, s = _ls.read_spikes(consts, s, t_stop)
        stats = _stats_update(stats, spiked, t_spike, transient)
        if n_bins:
            bins = _add_to_bin(bins, bin_of_stop[i], spiked)
        return (total + spiked.astype(total.dtype), stats, bins, i + 1), s

    carry = (total, _empty_stats(s0.shape, dtype), bins, jnp.asarray(0, jnp.int32))
    _, (total, (count, t_first, t_last), bins, _) = _ls.run_blocked(
        consts, drive_at, t0, dt_a, s0, stops, readout, carry
    )
    return total, count, t_first, t_last, bins


def _hh_stats(
    neuron: HodgkinHuxley, drive_at, t0: Array, n_steps: int, dt: float, transient, y0: Array, steps_per_bin: int
):
    """The same statistics for the stepped HH path (exponential midpoint), ``y0`` packing
    ``(V, n, m, h)`` on axis 0; spikes are upward crossings of ``v_threshold``."""
    dtype = y0.dtype
    dt_a = jnp.asarray(dt, dtype)
    n_bins = n_steps // steps_per_bin if steps_per_bin else 0
    shape = y0.shape[1:]

    def step(n, c):
        y, total, stats, bins = c
        t_n = t0 + n.astype(dtype) * dt_a
        y_new = hh_exp_midpoint_update(neuron, y, drive_at(t_n + 0.5 * dt_a), dt_a)
        spiked, t_spike = _hh_crossing(y[0], y_new[0], neuron.v_threshold, t_n, dt_a)
        if n_bins:
            bins = _add_to_bin(bins, n // steps_per_bin, spiked)
        total = total + spiked.astype(total.dtype)
        return y_new, total, _stats_update(stats, spiked, t_spike, transient), bins

    init = (y0, jnp.zeros(shape, jnp.int32), _empty_stats(shape, dtype), jnp.zeros((n_bins,) + shape, jnp.int32))
    _, total, (count, t_first, t_last), bins = jax.lax.fori_loop(0, n_steps, step, init)
    return total, count, t_first, t_last, bins


def _hh_stepped_rates(neuron: HodgkinHuxley, J: Array, t_end: float, transient: float, dt: float) -> Array:
    n_steps = int(round(t_end / dt))
    rest = neuron.initial_state()
    y0 = jnp.stack([jnp.broadcast_to(jnp.asarray(x, J.dtype), J.shape) for x in (rest.v, rest.n, rest.m, rest.h)])
    _, count, t_first, t_last, _ = _hh_stats(
        neuron, lambda t: J, jnp.asarray(0.0, J.dtype), n_steps, dt, transient, y0, 0
    )
    return rate_from_stats(count, t_first, t_last, t_end, seconds_per_unit=1e-3)


def _diffrax_rates(neuron, inputs: Array, t_end: float, transient: float, max_spikes: int) -> Array:
    unit = type(neuron).seconds_per_time_unit
    flat_in = inputs.reshape(-1)
    flat_neuron = jax.tree.map(lambda a: jnp.broadcast_to(a, inputs.shape).reshape(-1), neuron)

    def one(nrn, x):
        sim = simulate(
            nrn, Constant(x), 0.0, t_end, ts=jnp.zeros((0,), x.dtype), method="diffrax", max_spikes=max_spikes
        )
        times = sim.spikes.times
        after = jnp.isfinite(times) & (times >= transient)
        count = jnp.sum(after)
        t_first = jnp.min(jnp.where(after, times, jnp.inf))
        t_last = jnp.max(jnp.where(after, times, -jnp.inf))
        return rate_from_stats(count, t_first, t_last, t_end, seconds_per_unit=unit)

    return jax.vmap(one)(flat_neuron, flat_in).reshape(inputs.shape)


# ----------------------------------------------------------------------------- public
@eqx.filter_jit
def _tuning_jit(neuron, inputs, t_end, transient, method, dt, max_spikes):
    if isinstance(neuron, LIF):
        if method == "exact":
            return _lif_exact_rates(neuron, inputs, t_end, transient, max_spikes)
        if method == "stepped":
            return _lif_stepped_rates(neuron, inputs, t_end, transient, dt)
    elif method == "stepped":
        return _hh_stepped_rates(neuron, inputs, t_end, transient, dt)
    return _diffrax_rates(neuron, inputs, t_end, transient, max_spikes)


def tuning_curve(
    neuron: AbstractNeuron,
    inputs: Float[ArrayLike, "*batch"],
    *,
    duration: float = 1.0,
    transient: float | None = None,
    method: Literal["auto", "exact", "stepped", "diffrax"] = "auto",
    dt: float | None = None,
    dtype: Any = None,
    mesh: Mesh | None = None,
) -> Float[Array, "*batch"]:
    """Steady-state firing rate (Hz) of ``neuron`` for each constant input, in one call.

    Each input is held constant from ``t = 0`` (LIF from ``v = 0``, HH from rest) for
    ``duration`` seconds and the rate is the inverse mean inter-spike interval after
    ``transient`` seconds (module docstring).  Neuron parameters may be arrays that
    broadcast against ``inputs`` (a sweep over parameters).

    Args:
        neuron: ``LIF`` (inputs are normalised ``v_in``) or ``HodgkinHuxley`` (inputs in
            uA/cm^2).
        inputs: constant inputs, any shape.
        duration: simulated time per input, in s (> 0).
        transient: time discarded before measuring, in s, ``0 <= transient < duration``
            (default ``0.2 * duration``).
        method: ``"auto"`` (LIF ``"exact"``, HH ``"stepped"``), ``"exact"`` (LIF only),
            ``"stepped"`` or ``"diffrax"``.
        dt: step of the stepped path in the neuron's time unit (default: LIF 1e-4 s,
            HH ``HH_TUNING_DT`` = 0.025 ms).
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
        TypeError: for a neuron other than LIF or HodgkinHuxley, or a mesh that is not a
            ``jax.sharding.Mesh``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if not isinstance(neuron, (LIF, HodgkinHuxley)):
        raise TypeError(f"neuron must be a LIF or HodgkinHuxley, got {type(neuron).__name__}.")
    duration = _concrete_float("duration", duration)
    if not duration > 0:
        raise ValueError(f"duration must be in (0, inf) s; got duration = {duration:g}.")
    transient = 0.2 * duration if transient is None else _concrete_float("transient", transient)
    if not 0 <= transient < duration:
        raise ValueError(f"transient must be in [0, duration) = [0, {duration:g}) s; got transient = {transient:g}.")

    dtype = _resolve_dtype(dtype)
    inputs = jnp.asarray(inputs, dtype)
    neuron = jax.tree.map(lambda a: jnp.asarray(a, dtype) if eqx.is_inexact_array(a) else a, neuron)
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
    if method == "auto":
        method = "exact" if is_lif else "stepped"
    if method == "exact" and not is_lif:
        raise ValueError("method='exact' is for LIF neurons only; use 'stepped' or 'diffrax' for HodgkinHuxley.")
    unit = type(neuron).seconds_per_time_unit
    t_end, t_tr = duration / unit, transient / unit
    if method == "stepped":
        dt = (DEFAULT_DT[LIF] if is_lif else HH_TUNING_DT) if dt is None else _concrete_float("dt", dt)
        if not dt > 0:
            raise ValueError(f"dt must be in (0, inf) {neuron.time_unit}; got dt = {dt:g}.")
        if is_lif and is_concrete(neuron.tau_ref) and np.any(np.asarray(neuron.tau_ref) < dt):
            raise ValueError(f"dt must be <= tau_ref for the stepped LIF path; got dt = {dt:g} s.")
    # Static bound on spikes per input: one per refractory period when tau_ref is known at
    # trace time, else 1 kHz (exceeding it is an error, not a truncation).
    min_isi = float(np.min(np.asarray(neuron.tau_ref))) if is_lif and is_concrete(neuron.tau_ref) else 1e-3
    max_spikes = int(math.ceil(duration / min_isi)) + 2
    mesh = resolve_mesh(mesh)
    if mesh is None or inputs.size == 0:
        return _tuning_jit(neuron, inputs, t_end, t_tr, method, dt, max_spikes)
    # Sharded: flatten the batch, give every parameter the batch shape, split it over devices.
    flat = jax.tree.map(lambda a: jnp.broadcast_to(a, batch).reshape(-1), (neuron, inputs))
    rates = call_sharded(_tuning_jit, flat, mesh, (t_end, t_tr, method, dt, max_spikes))
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
        dt: the step (default ``DEFAULT_DT``: LIF 1e-4 s, HH 0.01 ms); LIF needs ``dt <= tau_ref``.
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
    if not isinstance(neuron, (LIF, HodgkinHuxley)):
        raise TypeError(f"neuron must be a LIF or HodgkinHuxley, got {type(neuron).__name__}.")
    drive = as_input(drive)
    t0, t1, s0, s1 = _check_interval(t0, t1)
    neuron = neuron.checked()
    dt = _check_dt(neuron, s0, s1, dt)
    n_steps = int(round((s1 - s0) / dt))
    _grid_ts(t0, s0, s1, dt, np.zeros(0))  # (t1 - t0) / dt must be a whole number of steps
    unit = neuron.time_unit
    if transient is None:
        transient = t0
    elif is_concrete(transient):
        tr = float(np.asarray(transient))
        if not s0 <= tr < s1:
            raise ValueError(f"transient must be in [t0, t1) = [{s0:g}, {s1:g}) {unit}; got transient = {tr:g}.")
    transient = jnp.asarray(transient, t0.dtype)
    steps_per_bin = 0
    if bin_width is not None:
        width = _concrete_float("bin_width", bin_width)
        steps_per_bin = int(round(width / dt))
        if steps_per_bin < 1 or abs(steps_per_bin * dt - width) > 1e-6 * dt or n_steps % steps_per_bin:
            raise ValueError(
                f"bin_width must be a whole number of steps (dt = {dt:g} {unit}) dividing t1 - t0 = {s1 - s0:g} "
                f"{unit}; got bin_width = {width:g}."
            )
    if y0 is None:
        y0 = neuron.initial_state()
    dtype = jnp.result_type(neuron.tau_m if isinstance(neuron, LIF) else neuron.C)
    if isinstance(neuron, LIF):
        v0 = jnp.asarray(y0, dtype)
        out = _lif_stats(neuron, drive, t0.astype(dtype), n_steps, dt, transient, v0, steps_per_bin)
    else:
        y = jnp.stack([jnp.asarray(x, dtype) for x in (y0.v, y0.n, y0.m, y0.h)])
        out = _hh_stats(neuron, drive, t0.astype(dtype), n_steps, dt, transient, y, steps_per_bin)
    total, count, first, last, bins = out
    return SpikeStatistics(
        total, count, first, last, jnp.moveaxis(bins, 0, -1), t0, t1, transient, type(neuron).seconds_per_time_unit
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
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"dtype must be a floating dtype (float32 or float64), got {dtype}.")
    if dtype == jnp.float64 and not jax.config.read("jax_enable_x64"):
        raise ValueError("dtype=float64 needs jax_enable_x64: call jax.config.update('jax_enable_x64', True) first.")
    return dtype


__all__ = ["tuning_curve", "rate_from_stats", "spike_statistics", "SpikeStatistics", "HH_TUNING_DT"]

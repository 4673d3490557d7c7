"""The two specialised LIF solvers: exact event-driven, and the exact stepped update."""

from __future__ import annotations

import math

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np

from .. import _lif_stepped as _ls
from .._inputs import AbstractInput, Constant
from .._misc import check_int, is_concrete, static_number
from .._neurons._base import AbstractNeuron
from .._neurons._lif import LIF
from .._neurons._lif import subthreshold_unchecked as lif_subthreshold
from .._neurons._lif import time_to_threshold_unchecked as lif_time_to_threshold
from ._base import (
    MAX_CAPACITY,
    NON_FINITE_STATE,
    AbstractSpikingSolver,
    Interval,
    check_step,
    check_ts,
    default_capacity,
    error_if_any,
    neuron_batch_shape,
    run_each,
    spike_budget,
    step_grid,
)
from ._recorders import AbstractRecorder, SpikeStats, SpikeTimes


def _require_lif(solver, neuron: AbstractNeuron) -> None:
    if not isinstance(neuron, LIF):
        raise ValueError(
            f"{type(solver).__name__} is for LIF neurons, got {type(neuron).__name__}; use RK4 or Diffrax "
            "(method='stepped' or 'diffrax')."
        )


class ExactLIF(AbstractSpikingSolver):
    """Event-driven exact LIF under a piecewise-constant drive: between events the
    sub-threshold solution is closed-form, so each iteration jumps to the next event (a spike,
    the end of a refractory period, a drive switch).  Cost O(events), exact to rounding."""

    def check(self, neuron, drive: AbstractInput) -> None:
        _require_lif(self, neuron)
        if not drive.is_piecewise_constant:
            raise ValueError(
                "method='exact' needs a piecewise-constant drive (Constant, Step, PiecewiseConstant); "
                f"got {type(drive).__name__}. Use method='stepped' or 'diffrax'."
            )

    def run(self, neuron: LIF, drive, span: Interval, y0, recorder: AbstractRecorder, ts):
        ts = check_ts(span, ts)
        max_spikes = spike_budget(recorder, span, lambda s0, s1: _spike_bound(neuron, s0, s1))
        # Both paths work in time relative to t0 (exact whatever t0: in float32, t + dt rounds
        # back to t near t0 = 1e5 s) and record t0 + that time.
        if isinstance(drive, Constant) and not ts.shape[0]:
            return (
                ts,
                jnp.zeros((0,) + jnp.shape(y0), span.t0.dtype),
                _periodic(neuron, drive.value, span.t0, span.length(), y0, recorder, max_spikes),
            )
        shape = neuron_batch_shape(neuron, y0)
        if shape:  # a stacked neuron: the event loop is per neuron

            def one(nrn, v0):
                return ts, *_exact(nrn, drive, span.t0, span.length(), ts, v0, recorder, max_spikes)

            return run_each(one, neuron, y0, shape)
        return (ts, *_exact(neuron, drive, span.t0, span.length(), ts, y0, recorder, max_spikes))


def _spike_bound(neuron: LIF, s0: float, s1: float) -> int:
    """At most one spike per refractory period (when ``tau_ref`` is concrete), else 1 kHz."""
    if is_concrete(neuron.tau_ref):
        bound = math.ceil((s1 - s0) / float(np.min(np.asarray(neuron.tau_ref)))) + 2
        return int(min(bound, default_capacity(neuron, s0, s1) if bound > MAX_CAPACITY else bound))
    return default_capacity(neuron, s0, s1)


def _periodic(neuron: LIF, v_in, t0, length, v0, recorder: AbstractRecorder, max_spikes: int):
    """Constant drive, in closed form: the first spike ``tau_m log1p((1 - v0)/(v_in - 1))``
    after ``t0``, then one every ``tau_ref + tau_m log1p(1/(v_in - 1))``, up to
    ``t0 + length``; no loop, so it is differentiable in both modes and costs O(1) per neuron.
    Elementwise over the broadcast shape of the drive, the parameters and ``v0``."""
    tau_m, tau_ref = neuron.tau_m, neuron.tau_ref
    shape = jnp.broadcast_shapes(jnp.shape(v_in), jnp.shape(tau_m), jnp.shape(tau_ref), jnp.shape(v0))
    dtype = jnp.result_type(tau_m, v_in, v0)
    first = jnp.broadcast_to(lif_time_to_threshold(v0, v_in, tau_m), shape).astype(dtype)  # after t0
    isi = jnp.broadcast_to(tau_ref + lif_time_to_threshold(0.0, v_in, tau_m), shape).astype(dtype)
    fires = first <= length
    n = jnp.where(fires, jnp.floor((length - jnp.where(fires, first, length)) / isi) + 1, 0.0)
    n = jnp.minimum(n, max_spikes + 1).astype(jnp.int32)  # past the bound: flagged below
    first = t0 + jnp.where(fires, first, length)
    rec = recorder.record_train(recorder.init(shape, dtype), first, isi, n, max_spikes + 1)
    if not isinstance(recorder, SpikeTimes):  # a spike buffer flags its own overflow
        rec = error_if_any(rec, jnp.any(n > max_spikes), f"more spikes than the bound of {max_spikes} in the run.")
    return rec


def _exact(neuron: LIF, drive: AbstractInput, offset, t1, ts, v0, recorder, max_spikes: int):
    """The event loop over ``[0, t1]`` in time relative to ``offset`` (the run's ``t0``):
    the switch times and ``ts`` are shifted, the spikes recorded at ``offset + t``."""
    switch_ts, levels = drive.pieces()
    dtype = jnp.result_type(neuron.tau_m)
    switch_ts = switch_ts.astype(dtype) - offset
    ts = ts - offset
    t0 = jnp.zeros((), dtype)
    tau_m, tau_ref = neuron.tau_m, neuron.tau_ref
    capacity = recorder.capacity if isinstance(recorder, SpikeTimes) else None
    max_spikes = capacity or max_spikes
    n_ts = ts.shape[0]
    # Anchors (time, v, refractory-until) after every event rebuild the trajectory; only
    # when states are saved, and then the spike buffer bounds their number.
    n_anchor = 2 * capacity + switch_ts.shape[0] + 3 if (n_ts and capacity) else 1
    anchors = (
        jnp.full((n_anchor,), jnp.inf, dtype).at[0].set(t0),
        jnp.zeros((n_anchor,), dtype).at[0].set(v0),
        jnp.full((n_anchor,), -jnp.inf, dtype),
    )
    switch_padded = jnp.concatenate([switch_ts.astype(dtype), jnp.full((1,), jnp.inf, dtype)])

    def level_at(t):
        k = jnp.searchsorted(switch_ts, t, side="right")
        return levels[k], switch_padded[k]

    def body(c):
        t, v, ref_end, k, rec, (a_t, a_v, a_r) = c
        refractory = t < ref_end
        v_in, t_switch = level_at(t)
        t_spike = t + lif_time_to_threshold(v, v_in, tau_m)
        spikes_first = (~refractory) & (t_spike <= jnp.minimum(t_switch, t1))
        t_free = jnp.minimum(t_switch, t1)
        t_next = jnp.where(refractory, jnp.minimum(ref_end, t1), jnp.where(spikes_first, t_spike, t_free))
        v_free = lif_subthreshold(t_next - t, v, v_in, tau_m)
        v_next = jnp.where(refractory | spikes_first, 0.0, v_free)
        ref_next = jnp.where(spikes_first, t_spike + tau_ref, ref_end)
        rec = recorder.record(rec, spikes_first, offset + t_spike, None)
        if n_anchor > 1:  # anchors run out only after the spike buffer has overflowed
            k = jnp.minimum(k + 1, n_anchor - 1)
            a_t, a_v, a_r = a_t.at[k].set(t_next), a_v.at[k].set(v_next), a_r.at[k].set(ref_next)
        return t_next, v_next, ref_next, k, rec, (a_t, a_v, a_r)

    init = (t0, jnp.asarray(v0, dtype), jnp.asarray(-jnp.inf, dtype), jnp.asarray(0), recorder.init((), dtype), anchors)
    # A bounded loop (nested scans), so that forward and reverse mode both work: a spike and
    # the end of its refractory period per spike, each switch, and the end.
    bound = 2 * (max_spikes + 1) + switch_ts.shape[0] + 2
    t_end, _, _, _, rec, (a_t, a_v, a_r) = eqxi.while_loop(
        lambda c: c[0] < t1, body, init, max_steps=bound, kind="bounded"
    )
    if not isinstance(recorder, SpikeTimes):  # a spike buffer flags its own overflow
        rec = error_if_any(rec, t_end < t1, f"more spikes than max_spikes={max_spikes} (at most 1 kHz by default).")
    j = jnp.clip(jnp.searchsorted(a_t, ts, side="right") - 1, 0, n_anchor - 1)
    ta, va, ra = a_t[j], a_v[j], a_r[j]
    v_in_a = jax.vmap(lambda t: level_at(t)[0])(ta)
    v_ts = jnp.where(ts < ra, 0.0, lif_subthreshold(ts - ta, va, v_in_a, tau_m))
    return v_ts, rec


class SteppedLIF(AbstractSpikingSolver):
    """The exact stepped LIF: each step integrates the sub-threshold solution exactly with the
    drive held at its mid-step value, places the threshold crossing inside the step in closed
    form and carries the refractory period to the exact sub-step time.  Runs on the one-float
    encoded state of ``jaxneuro._lif_stepped`` (one fused kernel per step; spikes read out
    once per refractory period).  Requires ``dt <= tau_ref``.

    Attributes:
        dt: the step (default the neuron's ``default_dt``).
        readout_every: steps between spike readouts, at most ``floor(tau_ref / dt)`` (one
            spike per block at most).  Default ``None``: that bound when ``tau_ref`` is known
            at trace time, else 1.  ``simulate`` and ``spike_statistics`` set it from the
            neuron's ``tau_ref`` before compiling (``prepare``), so that a compiled run serves
            every value of ``tau_ref`` with the same bound.
    """

    dt: float | None = None
    readout_every: int | None = eqx.field(static=True, converter=static_number, default=None)

    def __check_init__(self):
        if self.readout_every is not None:
            check_int("readout_every", self.readout_every, numpy=False, hint="(or None)")

    def check(self, neuron, drive) -> None:
        _require_lif(self, neuron)

    def prepare(self, neuron: LIF, span: Interval, ts) -> SteppedLIF:
        """The step and the interval checked (``check_step``, ``step_grid``), ``tau_ref /
        tau_m`` against the encoding, and ``readout_every`` fixed from a concrete ``tau_ref``."""
        dt = check_step(neuron, self.dt, "stepped")
        step_grid(span, dt, ts, "stepped")
        _ls.check_refractory_ratio(neuron, jnp.result_type(neuron.tau_m, neuron.tau_ref))
        if not is_concrete(neuron.tau_ref):
            return self
        block = _ls.block_steps(neuron, dt)
        if self.readout_every is None:
            return SteppedLIF(self.dt, block)
        _check_readout(self.readout_every, block, dt)
        return self

    def run(self, neuron: LIF, drive, span: Interval, y0, recorder: AbstractRecorder, ts):
        dt = check_step(neuron, self.dt, "stepped")
        n_steps, ts_arr, save_idx = step_grid(span, dt, ts, "stepped")
        loop = stepped_lif_loop(neuron, drive, span.t0, dt, n_steps, save_idx, y0, recorder, self.readout_every)
        return (ts_arr, *loop)


def _readout_message(readout_every: int, dt: float) -> str:
    return (
        f"readout_every must be at most floor(tau_ref / dt) (one spike per readout); got readout_every = "
        f"{readout_every}, dt = {dt:g} s"
    )


def _check_readout(readout_every: int, block: int, dt: float) -> None:
    if readout_every > block:
        raise ValueError(f"{_readout_message(readout_every, dt)}, floor(tau_ref / dt) = {block}.")


def stepped_lif_loop(
    neuron: LIF,
    drive,
    t0,
    dt: float,
    n_steps: int,
    save_idx,
    v0,
    recorder: AbstractRecorder,
    readout_every: int | None = None,
):
    """The encoded stepped LIF loop (elementwise over the shape of ``v0``): states at the
    steps ``save_idx`` and the recorder state; spikes read out every ``readout_every`` steps
    (default ``_lif_stepped.block_steps``)."""
    dtype = jnp.result_type(neuron.tau_m, v0)
    dt_a = jnp.asarray(dt, dtype)
    consts = _ls.encode_constants(neuron, dt_a)
    s0 = _ls.encode_voltage(jnp.asarray(v0, dtype))
    block = _ls.block_steps(neuron, dt)
    if readout_every is not None:  # at most one spike per block: the block at most the refractory period
        if is_concrete(neuron.tau_ref):
            _check_readout(readout_every, block, dt)
        else:
            too_long = jnp.asarray(neuron.tau_ref) < readout_every * dt * (1.0 - 1e-9)
            message = _readout_message(readout_every, dt) + "."
            consts = eqx.tree_at(lambda c: c.tau_m, consts, error_if_any(consts.tau_m, too_long, message))
        block = readout_every
    rows = np.unique(np.asarray(save_idx, np.int64))
    spb = 0
    if isinstance(recorder, SpikeStats) and recorder.n_bins:
        spb = int(round(recorder.bin_width / dt))
    bin_edges = np.arange(0, n_steps + 1, spb) if spb else np.zeros(0, np.int64)
    stops = _ls.stop_schedule(n_steps, block, np.concatenate([rows, bin_edges]))
    slot = np.full(stops.shape, len(rows), np.int64)  # the last row of the buffer is a dump
    hit = np.isin(stops, rows)
    slot[hit] = np.searchsorted(rows, stops[hit])
    starts = np.concatenate([[0], stops[:-1]])
    bin_of_stop = jnp.asarray(starts // spb if spb else np.zeros_like(starts), jnp.int32)
    slots = jnp.asarray(slot, jnp.int32)
    n_rows = len(rows)
    buffer = jnp.broadcast_to(_ls.voltage(s0), (n_rows + 1,) + s0.shape).astype(dtype) if n_rows else None

    def readout(carry, s, stop, t_stop):
        rec, buffer, i = carry
        spiked, t_spike, s = _ls.read_spikes(consts, s, t_stop)
        rec = recorder.record(rec, spiked, t_spike, bin_of_stop[i] if spb else None)
        if n_rows:
            buffer = jax.lax.dynamic_update_index_in_dim(buffer, _ls.voltage(s), slots[i], 0)
        return (rec, buffer, i + 1), s

    carry = (recorder.init(s0.shape, dtype), buffer, jnp.asarray(0, jnp.int32))
    s_end, (rec, buffer, _) = _ls.run_blocked(consts, drive, t0, dt_a, s0, stops, readout, carry)
    rec = error_if_any(rec, ~jnp.all(jnp.isfinite(s_end)), NON_FINITE_STATE)  # one reduction after the loop
    if not n_rows:
        return jnp.zeros((0,) + s0.shape, dtype), rec
    return buffer[jnp.asarray(np.searchsorted(rows, save_idx), jnp.int32)], rec


__all__ = ["ExactLIF", "SteppedLIF", "stepped_lif_loop"]

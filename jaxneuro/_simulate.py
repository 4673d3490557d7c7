"""Simulating one neuron under an input drive: three equivalent integrators.

* ``"diffrax"``: the general, differentiable path.  ``diffrax.diffeqsolve`` (Tsit5, PID step
  control that steps onto the drive's discontinuities) integrates the neuron's
  ``vector_field``; spikes are ``diffrax.Event``s whose times are found by a root finder
  inside the step.  A LIF spike ends a segment, the refractory period is skipped exactly and
  the next segment starts from ``v = 0``; an HH spike is an upward crossing of
  ``v_threshold`` (re-armed once V falls ``HH_REARM_MV`` below it).
* ``"exact"`` (LIF with a piecewise-constant drive): event-driven.  Between events the
  sub-threshold solution is closed-form, so the next spike time is
  ``t + tau_m log1p((1 - v) / (v_in - 1))`` and each iteration jumps to the next event
  (spike, end of refractory period, drive switch).  Cost O(events), exact to rounding.
* ``"stepped"``: a fixed step ``dt``.  LIF: the exact exponential solution over each step
  with the drive held at its mid-step value, the threshold crossing placed inside the step
  in closed form and the refractory period carried to the exact sub-step time.  HH: the
  second-order exponential midpoint scheme (gates and V advanced with exact exponentials of
  coefficients frozen at the half step), spikes placed by linear interpolation in the step.

``"auto"`` picks ``"exact"`` for LIF under a piecewise-constant drive, otherwise
``"stepped"``.  The tests hold the three paths equal to one another and to references.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import diffrax
import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float, PyTree

from . import _lif_stepped as _ls
from ._inputs import AbstractInput, as_input
from ._misc import as_float_array, check_positive, is_concrete, static_float
from ._neurons._base import AbstractNeuron
from ._neurons._hh import HHState, HodgkinHuxley, alpha_h, alpha_m, alpha_n, beta_h, beta_m, beta_n
from ._neurons._lif import LIF, lif_subthreshold, lif_time_to_threshold
from ._spikes import SpikeTrain

Method = Literal["auto", "diffrax", "exact", "stepped"]
METHODS = ("auto", "diffrax", "exact", "stepped")

HH_REARM_MV = 10.0
"""An HH spike detector re-arms once V has fallen this far (mV) below the threshold."""

DEFAULT_DT = {LIF: 1e-4, HodgkinHuxley: 0.01}
"""Default steps of the stepped path, in the neuron's time unit (0.1 ms for LIF in s,
0.01 ms for HH in ms); chosen from the convergence tests in tests/test_simulate.py."""

MAX_RATE_HZ = 1000.0
"""Default spike capacity is ``ceil(duration * MAX_RATE_HZ) + 1`` (override: ``max_spikes``)."""


class Simulation(eqx.Module):
    """The result of ``simulate``.

    Attributes:
        ts: the times at which the state was recorded (neuron's time unit).
        ys: the state at ``ts`` (LIF: ``v``, shape ``(len(ts),)``; HH: ``HHState`` of arrays).
        spikes: the spike times in a fixed-capacity ``SpikeTrain``.
    """

    ts: Float[Array, " times"]
    ys: PyTree[Float[Array, " times"]]
    spikes: SpikeTrain


# ----------------------------------------------------------------------------- validation
def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")


def _resolve_method(neuron: AbstractNeuron, drive: AbstractInput, method: str) -> str:
    _check_method(method)
    is_lif = isinstance(neuron, LIF)
    if not isinstance(neuron, (LIF, HodgkinHuxley)):
        if method in ("auto", "diffrax"):
            return "diffrax"
        raise ValueError(f"method={method!r} is only available for LIF and HodgkinHuxley neurons.")
    if method == "exact":
        if not is_lif:
            raise ValueError("method='exact' is for LIF neurons only (HH has no closed-form solution).")
        if not drive.is_piecewise_constant:
            raise ValueError(
                "method='exact' needs a piecewise-constant drive (Constant, Step, PiecewiseConstant); "
                f"got {type(drive).__name__}. Use method='stepped' or 'diffrax'."
            )
        return "exact"
    if method == "auto":
        return "exact" if (is_lif and drive.is_piecewise_constant) else "stepped"
    return method


def _check_interval(t0: Any, t1: Any) -> tuple[Array, Array, float | None, float | None]:
    """Validate ``[t0, t1]``; returns the arrays and, when known at trace time, the floats."""
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
    return t0, t1, s0, s1


def _default_capacity(neuron: AbstractNeuron, s0: float | None, s1: float | None, max_spikes: int | None) -> int:
    if max_spikes is not None:
        if not isinstance(max_spikes, (int, np.integer)) or max_spikes < 1:
            raise ValueError(f"max_spikes must be a positive int, got {max_spikes!r}.")
        return int(max_spikes)
    if s0 is None or s1 is None:
        raise ValueError("max_spikes must be given when t0 or t1 is traced (the spike buffer has a static size).")
    seconds = (s1 - s0) * type(neuron).seconds_per_time_unit
    return int(math.ceil(seconds * MAX_RATE_HZ)) + 1


def _tolerances(rtol, atol):
    f64 = jax.config.read("jax_enable_x64")
    rtol = (1e-9 if f64 else 1e-6) if rtol is None else rtol
    atol = (1e-9 if f64 else 1e-6) if atol is None else atol
    check_positive("rtol", rtol)
    check_positive("atol", atol)
    # float32 root finding needs a looser tolerance than the step control (MEASURED.md).
    root_tol = max(rtol, 1e-10 if f64 else 1e-5)
    return rtol, atol, root_tol


# ----------------------------------------------------------------------------- spike buffer
def _record_spike(times: Array, count: Array, spiked: Array, t_spike: Array) -> tuple[Array, Array]:
    """Write ``t_spike`` at slot ``count`` where ``spiked``; never writes past the buffer."""
    cap = times.shape[-1]
    slot = jnp.minimum(count, cap - 1)
    current = jnp.take_along_axis(times, slot[..., None], axis=-1)[..., 0]
    keep = spiked & (count < cap)
    new = jnp.where(keep, t_spike, current)
    times = jnp.put_along_axis(times, slot[..., None], new[..., None], axis=-1, inplace=False)
    return times, count + spiked.astype(count.dtype)


def _empty_buffer(shape: tuple[int, ...], capacity: int, dtype) -> tuple[Array, Array]:
    return jnp.full(shape + (capacity,), jnp.inf, dtype), jnp.zeros(shape, jnp.int32)


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
    dt: float | None = None,
    max_spikes: int | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    on_overflow: Literal["error", "flag"] = "error",
    max_steps: int = 1_000_000,
    checkpoints: int | None = None,
) -> Simulation:
    """Simulate one neuron under ``drive`` over ``[t0, t1]`` (batch with ``jax.vmap``).

    Args:
        neuron: a ``LIF`` (time in s, drive is normalised ``v_in``) or ``HodgkinHuxley``
            (time in ms, drive in uA/cm^2).
        drive: the input: a number, a callable of ``t``, or an ``AbstractInput``
            (``Constant``, ``Step``, ``PiecewiseConstant``, ``FunctionInput``).
        t0, t1: the interval, in the neuron's time unit; ``t1 > t0``.
        ts: times at which to record the state, increasing, within ``[t0, t1]``.  Default:
            every step of the stepped path, otherwise 1001 equally spaced times.  For
            ``method="stepped"`` they must lie on the grid ``t0 + k dt``.
        y0: initial state (default ``neuron.initial_state()``: LIF ``v = 0``, HH at rest).
        method: ``"auto"``, ``"diffrax"``, ``"exact"`` or ``"stepped"`` (module docstring).
        dt: step of the stepped path in the neuron's time unit (default ``DEFAULT_DT``);
            for LIF ``dt <= tau_ref`` so that at most one spike falls in a step.
        max_spikes: capacity of the spike buffer (default: enough for 1 kHz).
        rtol, atol: tolerances of the diffrax path (default 1e-6 in float32, 1e-9 in float64).
        on_overflow: ``"error"`` raises (via ``eqx.error_if``) when more spikes occur than
            ``max_spikes``; ``"flag"`` returns them with ``spikes.overflow`` set.
        max_steps: step limit of each diffrax solve.
        checkpoints: memory budget of reverse-mode gradients through ``method="diffrax"``:
            the number of states stored by each loop (the steps of a solve, through
            ``diffrax.RecursiveCheckpointAdjoint(checkpoints)``, and the spike segments), the
            rest being recomputed.  Default ``None``: about ``sqrt(2 max_steps)``, so memory
            grows as the square root of the step budget; ``checkpoints = max_steps`` stores
            every step (no recomputation, memory linear in the number of steps).

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
    if not isinstance(neuron, AbstractNeuron):
        raise TypeError(f"neuron must be a jaxneuro neuron (LIF, HodgkinHuxley), got {type(neuron).__name__}.")
    drive = as_input(drive)
    method = _resolve_method(neuron, drive, method)
    if checkpoints is not None:
        if not isinstance(checkpoints, (int, np.integer)) or isinstance(checkpoints, bool) or checkpoints < 1:
            raise ValueError(f"checkpoints must be a positive int or None, got checkpoints = {checkpoints!r}.")
        if method != "diffrax":
            raise ValueError(
                f"checkpoints applies to method='diffrax' only (reverse-mode memory); got method={method!r}."
            )
    t0, t1, s0, s1 = _check_interval(t0, t1)
    capacity = _default_capacity(neuron, s0, s1, max_spikes)
    neuron = neuron.checked()
    if y0 is None:
        y0 = neuron.initial_state()
    y0 = jax.tree.map(lambda a, b: jnp.asarray(a, jnp.result_type(b)), y0, neuron.initial_state())

    if method == "stepped":
        dt = _check_dt(neuron, s0, s1, dt)
        ts_arr, save_idx = _grid_ts(t0, s0, s1, dt, ts)
        if isinstance(neuron, LIF):
            sim = _lif_stepped(neuron, drive, t0, dt, save_idx, ts_arr, y0, capacity)
        else:
            sim = _hh_stepped(neuron, drive, t0, dt, save_idx, ts_arr, y0, capacity)
    else:
        ts_arr = _check_ts(t0, t1, s0, s1, ts)
        if method == "exact":
            sim = _lif_exact(neuron, drive, t0, t1, ts_arr, y0, capacity)
        else:
            sim = _diffrax_simulate(neuron, drive, t0, t1, ts_arr, y0, capacity, rtol, atol, max_steps, checkpoints)
    if on_overflow == "error":
        sim = eqx.error_if(
            sim,
            jnp.any(sim.spikes.overflow),
            f"more spikes than max_spikes={capacity}; raise max_spikes (or use on_overflow='flag').",
        )
    return sim


def _check_ts(t0: Array, t1: Array, s0, s1, ts: Any) -> Array:
    if ts is None:
        return jnp.linspace(t0, t1, 1001)
    concrete = not isinstance(ts, jax.core.Tracer)
    host = np.asarray(ts) if concrete else None  # read before jnp.asarray: under jit that is a tracer
    ts = as_float_array(host if concrete else ts)
    if ts.ndim != 1:
        raise ValueError(f"ts must be a 1-D array of times, got shape {ts.shape}.")
    if concrete and s0 is not None and s1 is not None and ts.shape[0] > 0:
        a = host.astype(np.float64)
        if np.any(np.diff(a) < 0):
            raise ValueError("ts must be increasing.")
        tol = 1e-6 * max(1.0, abs(s1))
        if a[0] < s0 - tol or a[-1] > s1 + tol:
            raise ValueError(f"ts must lie within [t0, t1] = [{s0:g}, {s1:g}]; got [{a[0]:g}, {a[-1]:g}].")
    return jnp.clip(ts, t0, t1)


def _check_dt(neuron: AbstractNeuron, s0, s1, dt: Any) -> float:
    if dt is None:
        dt = DEFAULT_DT[type(neuron)]
    dt_value = static_float(dt)
    if dt_value is None:
        raise ValueError("dt must be a concrete number for method='stepped' (it sets the number of steps).")
    dt = dt_value
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and in (0, inf) {neuron.time_unit}; got dt = {dt:g}.")
    if s0 is None or s1 is None:
        raise ValueError("t0 and t1 must be concrete for method='stepped' (they set the number of steps).")
    if isinstance(neuron, LIF) and is_concrete(neuron.tau_ref) and np.any(np.asarray(neuron.tau_ref) < dt):
        raise ValueError(
            f"dt must be <= tau_ref for the stepped LIF path (at most one spike per step); got dt = {dt:g} s, "
            f"tau_ref = {np.min(np.asarray(neuron.tau_ref)):g} s."
        )
    return dt


def _grid_ts(t0: Array, s0: float, s1: float, dt: float, ts: Any) -> tuple[Array, np.ndarray]:
    """Step indices at which to save, and the (grid) times they correspond to."""
    span = s1 - s0
    n_steps = int(round(span / dt))
    if abs(n_steps * dt - span) > max(1e-4 * dt, 1e-6 * abs(span)):
        raise ValueError(f"(t1 - t0) / dt must be an integer number of steps; got (t1 - t0) = {span:g}, dt = {dt:g}.")
    if ts is None:
        idx = np.arange(n_steps + 1)
    else:
        if isinstance(ts, jax.core.Tracer):
            raise ValueError(
                "ts must be concrete for method='stepped' (it sets where the state is saved); inside jit, pass a "
                "numpy array or a list rather than a jax array."
            )
        a = np.asarray(ts, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"ts must be a 1-D array of times, got shape {a.shape}.")
        idx = np.rint((a - s0) / dt).astype(np.int64)
        eps = np.finfo(np.asarray(ts).dtype).eps if np.issubdtype(np.asarray(ts).dtype, np.floating) else 0.0
        tol = 1e-4 * dt + 4 * eps * np.abs(a)  # grid times given in float32 carry its rounding
        if np.any(np.abs(s0 + idx * dt - a) > tol) or np.any(idx < 0) or np.any(idx > n_steps):
            raise ValueError(
                f"with method='stepped', ts must lie on the step grid t0 + k dt (dt = {dt:g}) in [t0, t1]."
            )
        if np.any(np.diff(idx) < 0):
            raise ValueError("ts must be increasing.")
    ts_arr = t0 + jnp.asarray(idx, dtype=t0.dtype) * jnp.asarray(dt, t0.dtype)
    return ts_arr, np.concatenate([idx, [n_steps]])


# ----------------------------------------------------------------------------- stepped core
def _run_segments(step, carry, save_idx: np.ndarray, record):
    """Advance ``carry`` with ``step(n, carry)`` for every step, recording ``record(carry)``
    at the step indices ``save_idx[:-1]``; ``save_idx[-1]`` is the total number of steps."""
    bounds = jnp.asarray(np.concatenate([[0], save_idx]), jnp.int32)

    def segment(c, j):
        c = jax.lax.fori_loop(bounds[j], bounds[j + 1], step, c)
        return c, record(c)

    n_save = len(save_idx) - 1
    carry, saved = jax.lax.scan(segment, carry, jnp.arange(n_save))
    carry = jax.lax.fori_loop(bounds[n_save], bounds[n_save + 1], step, carry)
    return carry, saved


def lif_stepped_update(tau_m, tau_ref, v, r, v_in, t_n, dt):
    """One exact step of a LIF neuron over ``[t_n, t_n + dt]`` with constant drive ``v_in``.

    ``r`` is the refractory time still to serve at ``t_n``.  Only ``dt - r`` of the step
    is integrated, ``v(t) = v_in + (v - v_in) e^(-t/tau_m)`` exactly; a threshold crossing
    is placed at ``tau_m log1p((1 - v)/(v_in - 1))`` after the active part starts.  Requires
    ``dt <= tau_ref`` (one spike per step at most).  Shape-polymorphic (elementwise).

    Returns:
        ``(v_new, r_new, spiked, t_spike)``.
    """
    active = jnp.clip(dt - r, 0.0, dt)
    t_start = t_n + (dt - active)
    v_end = v_in + (v - v_in) * jnp.exp(-active / tau_m)
    spiked = v_end >= 1.0
    t_spike = t_start + lif_time_to_threshold(jnp.where(spiked, v, 0.0), jnp.where(spiked, v_in, 2.0), tau_m)
    v_new = jnp.where(spiked, 0.0, v_end)
    r_new = jnp.where(spiked, tau_ref - (t_n + dt - t_spike), jnp.maximum(r - dt, 0.0))
    return v_new, r_new, spiked, t_spike


def _lif_stepped(neuron: LIF, drive, t0, dt, save_idx, ts_arr, y0, capacity) -> Simulation:
    """The stepped LIF path on the encoded state of ``jaxneuro._lif_stepped``: one fused
    update per step; spikes read out every ``block`` steps and at every saved time."""
    dtype = jnp.result_type(neuron.tau_m)
    dt_a = jnp.asarray(dt, dtype)
    consts = _ls.encode_constants(neuron, dt_a)
    s0 = _ls.encode_voltage(jnp.asarray(y0, dtype))
    n_steps = int(save_idx[-1])
    saves = save_idx[:-1]
    rows = np.unique(saves)
    stops = _ls.stop_schedule(n_steps, _ls.block_steps(neuron, dt), rows)
    slot = np.full(stops.shape, len(rows), np.int64)  # the last row of the buffer is a dump
    hit = np.isin(stops, rows)
    slot[hit] = np.searchsorted(rows, stops[hit])
    slots = jnp.asarray(slot, jnp.int32)
    buffer = jnp.broadcast_to(_ls.voltage(s0), (len(rows) + 1,) + s0.shape).astype(dtype)
    times, count = _empty_buffer(jnp.shape(y0), capacity, dtype)

    def readout(carry, s, stop, t_stop):
        times, count, buffer, i = carry
        spiked, t_spike, s = _ls.read_spikes(consts, s, t_stop)
        times, count = _record_spike(times, count, spiked, t_spike)
        buffer = jax.lax.dynamic_update_index_in_dim(buffer, _ls.voltage(s), slots[i], 0)
        return (times, count, buffer, i + 1), s

    _, (times, count, buffer, _) = _ls.run_blocked(
        consts, drive, t0, dt_a, s0, stops, readout, (times, count, buffer, jnp.asarray(0, jnp.int32))
    )
    vs = buffer[jnp.asarray(np.searchsorted(rows, saves), jnp.int32)]
    return Simulation(ts_arr, vs, SpikeTrain(times, count))


def hh_exp_midpoint_update(neuron: HodgkinHuxley, y: Array, J: Array, dt: Array) -> Array:
    """One exponential-midpoint step of the HH equations; ``y`` packs ``(V, n, m, h)`` on
    axis 0.  Each variable obeys ``dx/dt = (x_inf - x)/tau_x`` with ``x_inf``, ``tau_x``
    depending on the others; the step freezes those coefficients at the half step (reached by
    an exponential-Euler half step) and advances every variable by its exact exponential:
    second order in ``dt``, unconditionally stable for the stiff gates.
    """

    def coefficients(V, n, m, h):
        an, bn, am, bm, ah, bh = alpha_n(V), beta_n(V), alpha_m(V), beta_m(V), alpha_h(V), beta_h(V)
        gNa = neuron.g_Na * m**3 * h
        gK = neuron.g_K * n**4
        G = gNa + gK + neuron.g_L
        V_inf = (J + gNa * neuron.E_Na + gK * neuron.E_K + neuron.g_L * neuron.E_L) / G
        rates = jnp.stack([G / neuron.C, an + bn, am + bm, ah + bh])
        infs = jnp.stack([V_inf, an / (an + bn), am / (am + bm), ah / (ah + bh)])
        return infs, rates

    infs, rates = coefficients(*y)
    y_half = infs + (y - infs) * jnp.exp(-0.5 * dt * rates)
    infs, rates = coefficients(*y_half)
    return infs + (y - infs) * jnp.exp(-dt * rates)


def _hh_crossing(v_old, v_new, thr, t_n, dt):
    spiked = (v_old < thr) & (v_new >= thr)
    frac = (thr - v_old) / jnp.where(spiked, v_new - v_old, 1.0)
    return spiked, t_n + dt * frac


def _hh_stepped(neuron: HodgkinHuxley, drive, t0, dt, save_idx, ts_arr, y0: HHState, capacity) -> Simulation:
    dtype = jnp.result_type(neuron.C)
    dt_a = jnp.asarray(dt, dtype)
    y = jnp.stack([y0.v, y0.n, y0.m, y0.h]).astype(dtype)
    times, count = _empty_buffer(jnp.shape(y0.v), capacity, dtype)

    def step(n, c):
        y, times, count = c
        t_n = t0 + n.astype(dtype) * dt_a
        y_new = hh_exp_midpoint_update(neuron, y, drive(t_n + 0.5 * dt_a), dt_a)
        spiked, t_spike = _hh_crossing(y[0], y_new[0], neuron.v_threshold, t_n, dt_a)
        times, count = _record_spike(times, count, spiked, t_spike)
        return y_new, times, count

    (_, times, count), ys = _run_segments(step, (y, times, count), save_idx, lambda c: c[0])
    return Simulation(ts_arr, HHState(ys[:, 0], ys[:, 1], ys[:, 2], ys[:, 3]), SpikeTrain(times, count))


# ----------------------------------------------------------------------------- exact LIF
def _lif_exact(neuron: LIF, drive: AbstractInput, t0, t1, ts, v0, capacity) -> Simulation:
    """Event-driven exact LIF simulation under a piecewise-constant drive."""
    switch_ts, levels = drive.pieces()
    dtype = jnp.result_type(neuron.tau_m)
    tau_m, tau_ref = neuron.tau_m, neuron.tau_ref
    n_anchor = 2 * capacity + switch_ts.shape[0] + 3
    # Anchors: (time, v, refractory-until) after every event; the trajectory is rebuilt
    # from the last anchor before each requested time.
    a_t = jnp.full((n_anchor,), jnp.inf, dtype).at[0].set(t0)
    a_v = jnp.zeros((n_anchor,), dtype).at[0].set(v0)
    a_r = jnp.full((n_anchor,), -jnp.inf, dtype)
    times, count = _empty_buffer((), capacity, dtype)

    switch_padded = jnp.concatenate([switch_ts.astype(dtype), jnp.full((1,), jnp.inf, dtype)])

    def level_at(t):
        k = jnp.searchsorted(switch_ts, t, side="right")
        return levels[k], switch_padded[k]

    def cond(c):
        return c[0] < t1

    def body(c):
        t, v, ref_end, k, times, count, (a_t, a_v, a_r) = c
        refractory = t < ref_end
        v_in, t_switch = level_at(t)
        t_spike = t + lif_time_to_threshold(v, v_in, tau_m)
        spikes_first = (~refractory) & (t_spike <= jnp.minimum(t_switch, t1))
        t_free = jnp.minimum(t_switch, t1)
        t_next = jnp.where(refractory, jnp.minimum(ref_end, t1), jnp.where(spikes_first, t_spike, t_free))
        v_free = lif_subthreshold(t_next - t, v, v_in, tau_m)
        v_next = jnp.where(refractory | spikes_first, 0.0, v_free)
        ref_next = jnp.where(spikes_first, t_spike + tau_ref, ref_end)
        times, count = _record_spike(times, count, spikes_first, t_spike)
        # Anchors run out only after the spike buffer has overflowed (flagged by ``count``).
        k = jnp.minimum(k + 1, n_anchor - 1)
        a_t, a_v, a_r = a_t.at[k].set(t_next), a_v.at[k].set(v_next), a_r.at[k].set(ref_next)
        return t_next, v_next, ref_next, k, times, count, (a_t, a_v, a_r)

    init = (
        t0,
        jnp.asarray(v0, dtype),
        jnp.asarray(-jnp.inf, dtype),
        jnp.asarray(0),
        times,
        count,
        (a_t, a_v, a_r),
    )
    _, _, _, _, times, count, (a_t, a_v, a_r) = jax.lax.while_loop(cond, body, init)

    # Trajectory: v(ts) from the last anchor at or before each ts.
    j = jnp.clip(jnp.searchsorted(a_t, ts, side="right") - 1, 0, n_anchor - 1)
    ta, va, ra = a_t[j], a_v[j], a_r[j]
    v_in_a = jax.vmap(lambda t: level_at(t)[0])(ta)
    v_ts = jnp.where(ts < ra, 0.0, lif_subthreshold(ts - ta, va, v_in_a, tau_m))
    return Simulation(ts, v_ts, SpikeTrain(times, count))


# ----------------------------------------------------------------------------- diffrax path
def _diffrax_simulate(neuron, drive, t0, t1, ts, y0, capacity, rtol, atol, max_steps, checkpoints=None) -> Simulation:
    rtol, atol, root_tol = _tolerances(rtol, atol)
    is_lif = isinstance(neuron, LIF)
    dtype = jnp.result_type(*jax.tree.leaves(y0))
    jumps = drive.jump_ts()
    controller = diffrax.PIDController(rtol=rtol, atol=atol, jump_ts=jumps)
    # Event times: Newton on the dense interpolant, in the time unit, never finer than a few
    # ulps of the largest time.  (Bisection is not usable under vmap: a lane without an
    # event root-finds a stand-in whose root sits exactly on the bracket end, which
    # optimistix's bracket check rejects.)
    time_ulps = 8 * float(jnp.finfo(dtype).eps) * _abs_max(t0, t1)
    root_atol = jnp.maximum(root_tol, time_ulps)
    root_finder = optx.Newton(rtol=root_tol, atol=root_atol)
    term = diffrax.ODETerm(lambda t, y, args: neuron.vector_field(t, y, args[0]))

    def voltage(y):
        return y if is_lif else y.v

    if is_lif:
        threshold, scale = jnp.asarray(1.0, dtype), 1.0
    else:
        threshold, scale = neuron.v_threshold, 1e-3  # event function in volts, not mV

    def event_fn(t, y, args, **kwargs):
        # args = (drive, level, sign): an upward crossing of ``level`` for sign = +1, a
        # downward one for sign = -1; the function always rises through its root, so one
        # bracketed root find serves both.
        del t, kwargs
        return args[2] * (voltage(y) - args[1]) * scale

    event = diffrax.Event(event_fn, root_finder=root_finder, direction=True)

    n_ts = ts.shape[0]

    def solve(t_start, y_start, level, sign=1.0):
        subs = [diffrax.SubSaveAt(t1=True)]
        if n_ts:
            subs.append(diffrax.SubSaveAt(ts=jnp.clip(ts, t_start, t1)))
        saveat = diffrax.SaveAt(subs=subs)
        return diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            t_start,
            t1,
            None,
            y_start,
            args=(drive, level, jnp.asarray(sign, dtype)),
            saveat=saveat,
            stepsize_controller=controller,
            event=event,
            max_steps=max_steps,
            adjoint=diffrax.RecursiveCheckpointAdjoint(checkpoints=checkpoints),
            throw=False,
        )

    def checked_end(sol):
        # A threshold grazed tangentially makes the event root ill-conditioned and Newton may
        # stop at its step limit: the crossing exists (a sign change was seen) and its time is
        # kept.  Any other failure (step limit of the solve, non-finite state) is an error.
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

    traj0 = jax.tree.map(lambda a: jnp.zeros((n_ts,) + jnp.shape(a), dtype), y0)
    times, count = _empty_buffer((), capacity, dtype)

    def merge(traj, sol, t_start, t_end):
        if not n_ts:
            return traj
        valid = (ts >= t_start) & (ts <= t_end)
        return jax.tree.map(lambda old, new: jnp.where(_bcast(valid, old), new, old), traj, sol.ys[1])

    def guarded(body):
        # Under vmap every lane runs the body until the last lane finishes.  A finished lane
        # (t == t1) solves a short dummy segment at the end of the interval, from its own final
        # state, and keeps its old carry: cheap, and never a degenerate zero-length solve.
        def run(c):
            active = c[0] < t1
            t_dummy = t1 - 1e-3 * (t1 - t0)
            safe = (jnp.where(active, c[0], t_dummy), c[1])
            new = body((*safe, *c[2:]))
            return jax.tree.map(lambda n, o: jnp.where(active, n, o), new, c)

        return run

    if is_lif:

        @guarded
        def body(c):
            t, y, times, count, traj, _ = c
            sol = solve(t, y, threshold)
            hit = sol.event_mask
            t_end = jnp.clip(checked_end(sol), t, t1)
            traj = merge(traj, sol, t, t_end)
            times, count = _record_spike(times, count, hit, t_end)
            t_next = jnp.where(hit, jnp.minimum(t_end + neuron.tau_ref, t1), t1)
            refr = hit & (ts >= t_end) & (ts < t_end + neuron.tau_ref)
            traj = jnp.where(refr, 0.0, traj)
            y_next = jnp.where(hit, jnp.zeros_like(y), sol.ys[0][-1])
            return t_next, y_next, times, count, traj, hit

        max_loops = capacity + 1
    else:

        @guarded
        def body(c):
            t, y, times, count, traj, armed = c
            level = jnp.where(armed, threshold, threshold - HH_REARM_MV)
            sol = solve(t, y, level, jnp.where(armed, 1.0, -1.0))
            hit = sol.event_mask
            t_end = jnp.clip(checked_end(sol), t, t1)
            traj = merge(traj, sol, t, t_end)
            times, count = _record_spike(times, count, hit & armed, t_end)
            t_next = jnp.where(hit, t_end, t1)
            y_end = jax.tree.map(lambda a: a[-1], sol.ys[0])
            return t_next, y_end, times, count, traj, jnp.where(hit, ~armed, armed)

        max_loops = 2 * capacity + 2

    def cond(c):
        return c[0] < t1

    init = (t0, y0, times, count, traj0, jnp.asarray(True))
    outer = None if checkpoints is None else min(checkpoints, max_loops)
    _, _, times, count, traj, _ = eqxi.while_loop(
        cond, body, init, max_steps=max_loops, kind="checkpointed", checkpoints=outer
    )
    return Simulation(ts, traj, SpikeTrain(times, count))


def _abs_max(t0, t1):
    return jnp.maximum(jnp.abs(t0), jnp.abs(t1))


def _bcast(mask: Array, like: Array) -> Array:
    return jnp.reshape(mask, mask.shape + (1,) * (jnp.ndim(like) - 1))


__all__ = ["Simulation", "simulate", "lif_stepped_update", "hh_exp_midpoint_update"]

"""Exact event-driven LIF networks with an adjoint (EventProp) gradient: memory at spikes only.

The model is that of ``_lif_exact`` (normalised units, threshold 1, reset 0, time in s): for
every neuron ``i``

    tau_m dv_i/dt = s_i + J_i - v_i      (v_i = 0 while refractory),
    tau_s ds_i/dt = -s_i,

at ``v_i = 1`` neuron ``i`` spikes, ``v_i`` resets to 0 and is held there for ``tau_ref``
(``>= 0``); a spike of neuron (or input) ``j`` at ``t_k`` raises ``s_i`` by ``w_ij / tau_s``.
``J_i`` is the bias (constant).  There is no time step: ``simulate_lif_events`` jumps from
event to event (network spikes and input spikes), with the closed form of ``_lif_closed_form``
between them, and finds each neuron's next threshold crossing from that closed form (the
voltage has at most one extremum between events, found in closed form; the crossing is then
bracketed on a monotone branch and located by safeguarded Newton steps to rounding).  It
records, per event ``k``: its time ``t_k``, its source (neuron or input), and for a network
spike of neuron ``n`` two numbers: ``s_n(t_k)`` (the synaptic current at the crossing, for
``dv/dt`` there) and ``s_n(t_k + tau_ref)`` (at the end of the refractory period).  Nothing
is stored per time step, so memory is O(events), not O(duration / dt); the adjoint also keeps
the weight gradient (small networks) or one row of ``N`` numbers per event (its weight-row
gradient, added up by source after its loop; large ones): O(min(weights, events x N)).

The gradient (``jax.custom_vjp``) is the adjoint of Wunderlich and Pehle (2021) for this
model, run backwards from the last event to 0 with the closed form of the adjoint between
events.  With ``lambda_v``, ``lambda_s`` the sensitivities ``dL/dv_i(t)``, ``dL/ds_i(t)``:

* between events, for a free neuron (``a = 1/tau_m - 1/tau_s``, ``K`` as in
  ``_lif_closed_form``), over a gap ``u`` back from ``t'``::

      lambda_v(t) = e^(-u/tau_m) lambda_v(t'),
      lambda_s(t) = e^(-u/tau_s) lambda_s(t') + K(u) lambda_v(t'),
      dL/dJ_i    += (1 - e^(-u/tau_m)) lambda_v(t');

  while refractory ``lambda_v = 0`` and ``lambda_s`` decays by ``e^(-u/tau_s)``;
* at the end of a refractory period ``r = t_k + tau_ref`` (release from ``v = 0`` with
  ``dv/dt = (s(r) + J)/tau_m``)::

      dL/dr = -lambda_v(r+) (s(r) + J) / tau_m,   added to dL/dt_k and to dL/dtau_ref;

* at an event ``k`` of source ``j`` (network or input spike), whose jumps ``Delta s_i = w_ij
  / tau_s`` reach every target ``i``::

      dL/dw_ij += lambda_s,i(t_k+) / tau_s,i,
      dL/dt_k  += sum_i (w_ij / tau_s,i) (lambda_s,i(t_k+)/tau_s,i - lambda_v,i(t_k+)/tau_m,i)

  (the second line: moving a jump later by ``dt`` changes the target's state by
  ``(x'- - x'+) dt``); for an input spike this is the gradient of its time;
* at a network spike of neuron ``n`` (the implicit function theorem on ``v_n(t_k) = 1``,
  ``dv_n/dt(t_k-) = (s_n(t_k) + J_n - 1)/tau_m``)::

      lambda_v,n(t_k-) = -(dL/dt_k) / (dv_n/dt(t_k-)),     lambda_s,n continuous,

  with ``dL/dt_k`` the loss's own sensitivity plus the two terms above.

Simultaneous events are processed one at a time in a fixed order: a crossing before an input
spike at the same time, and crossings at the same time by neuron index.  Each event then sees
the earlier ones as infinitesimally earlier, so the gradient is the one-sided derivative of
that order (where the order matters the spike times are not differentiable: their one-sided
derivatives differ).  So of two neurons that cross at the same instant, the second one sees the
first one's spike as arrived just before its crossing: if that spike is excitatory or weak, the
second still fires at that instant (the spike times of ``simulate_lif_network``); if it is
inhibitory enough to turn the second's voltage down at threshold, the second does not fire (the
limit of the inhibitory spike arriving just before), whereas ``simulate_lif_network``, which
finds a step's crossings before it applies the step's spikes, fires it.  A neuron whose voltage
is at or above 1 (after rounding) when an event leaves it fires at once; should its ``dv/dt`` be
``<= 0`` there, its spike time is treated as insensitive (``lambda_v = 0``) rather than divided
by zero.

References:
    Wunderlich and Pehle (2021), "Event-based backpropagation can compute exact gradients for
    spiking neural networks", Sci. Rep. 11:12829.  Bohte, Kok and La Poutre (2002),
    "Error-backpropagation in temporally encoded networks of spiking neurons",
    Neurocomputing 48:17-37 (the implicit derivative of a spike time).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._misc import as_float_array, check_finite, check_int, check_range, default_float, error_if_any, is_concrete
from .._spikes import SpikeTrain, check_overflow
from ._lif_closed_form import decays, free_response
from ._lif_exact import LIFNetwork

_ROOT_ITERS = 100  # cap on the Newton/bisection iterations of one crossing search (bisection needs < 64)


class EventResult(eqx.Module):
    """What ``simulate_lif_events`` returns.

    Attributes:
        spikes: spike times of every neuron, a ``SpikeTrain`` of shape ``(N, capacity)``
            (``inf`` past each neuron's count); differentiable.
        spike_count: spikes per neuron, shape ``(N,)``.
        times: the network's spike times in the order they occurred, shape
            ``(max_spikes,)``, ``inf`` past ``n_spikes``; differentiable.
        neurons: the neuron of each entry of ``times`` (``-1`` past ``n_spikes``).
        n_spikes: number of network spikes recorded (input spikes not counted).
        overflow: True when the network fired more than ``max_spikes`` spikes (the run
            stopped at the first spike that did not fit) or a neuron more than ``capacity``.
        duration: simulated time (s).
    """

    spikes: SpikeTrain
    spike_count: Int[Array, " n"]
    times: Float[Array, " max_spikes"]
    neurons: Int[Array, " max_spikes"]
    n_spikes: Int[Array, ""]
    overflow: Bool[Array, ""]
    duration: float = eqx.field(static=True)

    def rates(self) -> Float[Array, " n"]:
        """Mean firing rate of each neuron over the run, in Hz."""
        return self.spike_count / self.duration


# =============================================================================== crossings
def _log1p_ratio(x: Array) -> Array:
    """``log1p(x) / x`` (1 at 0), for ``x > -1``."""
    small = jnp.abs(x) < 1e-4
    xs = jnp.where(small, 1.0, x)
    series = 1.0 - x / 2.0 + x * x / 3.0 - x * x * x / 4.0
    return jnp.where(small, series, jnp.log1p(xs) / xs)


def _crossing(vb, sb, J, inv_tm, inv_ts, a, horizon, mask: bool | jax.Array = True):
    """The first ``u`` in ``[0, horizon]`` at which ``v`` (free evolution from ``(vb, sb)``
    under drive ``J``) reaches 1; ``0`` when ``vb >= 1`` already, ``inf`` when it does not
    reach 1 by ``horizon``.

    ``tau_m dv/du = s + J - v`` has at most one zero on ``u > 0``: with ``g0 = sb + J - vb``
    and ``c = g0 / (sb tau_m)`` it is at ``u_c = tau_m tau_s c log1p(c (tau_s - tau_m)) /
    (c (tau_s - tau_m))`` when ``sb != 0``, ``c > 0`` and ``1 + c (tau_s - tau_m) > 0`` (a
    maximum if ``g0 > 0``, else a minimum).  So ``v`` rises monotonically on ``[0,
    min(u_c, horizon)]`` (rising start) or on ``[min(u_c, horizon), horizon]`` (falling
    start), and crosses iff it is >= 1 at the right end of that branch; the root is then
    located by Newton steps from the secant point, with bisection whenever a step leaves the
    bracket, to rounding.  Elementwise over neurons; where ``mask`` is False the result is
    not wanted (no iterations are spent on it; it is returned as ``inf``).
    """
    dtype = vb.dtype
    eps = jnp.finfo(dtype).eps
    tm = 1.0 / inv_tm
    ts = 1.0 / inv_ts
    g0 = sb + J - vb
    c = g0 / (jnp.where(sb == 0, 1.0, sb) * tm)
    x = c * (ts - tm)
    has_c = (sb != 0) & (c > 0) & (x > -1.0)
    u_c = jnp.where(has_c, tm * ts * c * _log1p_ratio(jnp.where(has_c, x, 0.0)), jnp.inf)
    horizon = jnp.maximum(horizon, 0.0)
    rising = g0 > 0
    lo = jnp.where(rising, 0.0, jnp.minimum(u_c, horizon))
    hi = jnp.where(rising, jnp.minimum(u_c, horizon), horizon)
    ends = jnp.stack([lo, hi])
    v_ends, _, _ = free_response(ends, vb, sb, J, inv_tm, inv_ts, a)
    v_lo, v_hi = v_ends[0], v_ends[1]
    fire_now = vb >= 1.0
    search = (v_hi >= 1.0) & ~fire_now & (hi > lo) & mask
    den = v_hi - v_lo
    u0 = lo + (hi - lo) * jnp.clip((1.0 - v_lo) / jnp.where(den > 0, den, 1.0), 0.0, 1.0)
    u0 = jnp.where(search, u0, 0.0)
    lo = jnp.where(search, lo, 0.0)
    hi = jnp.where(search, hi, 0.0)
    tol = 4.0 * eps * jnp.maximum(hi, tm)

    def cond(st):
        it, _, _, _, active = st
        return (it < _ROOT_ITERS) & jnp.any(active)

    def body(st):
        it, u, lo, hi, active = st
        v, s, dv = free_response(u, vb, sb, J, inv_tm, inv_ts, a)
        f = v - 1.0
        lo = jnp.where(f < 0, u, lo)
        hi = jnp.where(f >= 0, u, hi)
        un = u - f / jnp.where(dv > 0, dv, 1.0)
        un = jnp.where((dv > 0) & (un > lo) & (un < hi), un, 0.5 * (lo + hi))
        done = (jnp.abs(un - u) <= tol) | (hi - lo <= tol) | (f == 0)
        u = jnp.where(active, jnp.where(f == 0, u, un), u)
        return it + 1, u, lo, hi, active & ~done

    _, u, _, _, _ = lax.while_loop(cond, body, (jnp.asarray(0), u0, lo, hi, search))
    return jnp.where(fire_now, 0.0, jnp.where(search, u, jnp.inf))


def _advance(t, t_new, v, s, R, J, inv_tm, inv_ts, a):
    """Every neuron's ``(v, s)`` at ``t_new`` from its state at ``t`` (no events between),
    with the refractory clamp ``v = 0`` until the release time ``R``; also ``s`` at ``max(t,
    R)`` (the start of the free part), which is ``s(R)`` for neurons released in ``[t,
    t_new)``."""
    span = t_new - t
    ref = jnp.clip(R - t, 0.0, span)  # time still refractory in the gap
    v0 = jnp.where(R > t, 0.0, v)
    s0 = s * jnp.exp(-ref * inv_ts)
    em, es, k = decays(span - ref, inv_tm, a)
    return J + (v0 - J) * em + s0 * k, s0 * es, s0


def _predict(t, v, s, R, J, inv_tm, inv_ts, a, until, mask: bool | jax.Array = True):
    """Absolute time of each neuron's next crossing with no further input (``inf`` if none
    by ``until``); refractory neurons start from ``v = 0`` at their release ``R``."""
    base = jnp.maximum(t, R)
    vb = jnp.where(R > t, 0.0, v)
    sb = s * jnp.exp(-(base - t) * inv_ts)
    return base + _crossing(vb, sb, J, inv_tm, inv_ts, a, until - base, mask)


# =============================================================================== core
# The simulation and its adjoint in small functions over two explicit tuples: ``Sizes`` (static:
# the shapes and settings a compiled program is specialised to) and ``Consts`` (the per-run
# arrays).  ``_make_core`` assembles them into the ``custom_vjp`` function; every function is
# traced inline.
class Sizes(NamedTuple):
    """Static settings: ``n`` neurons, ``n_q`` input slots, ``n_ev = max_spikes + n_q`` event
    records, ``max_spikes``, the ``duration`` (s), ``stop = (start, size)``: end once each of
    these neurons has fired (or ``None``), and ``n_rows``, the rows of the weights ``wt``
    (neurons and input channels)."""

    n: int
    n_q: int
    n_ev: int
    max_spikes: int
    duration: float
    stop: tuple[int, int] | None
    n_rows: int

    @property
    def rows_in_carry(self) -> bool:
        """Whether the adjoint adds each event's weight-row gradient into a ``(n_rows, n)``
        gradient it carries (small networks), rather than storing the row at its step and
        adding the rows up after the loop (large ones).  Under ``vmap`` both cost one row
        per sample and event; the carried gradient is the less memory (``n_rows`` rows
        against ``n_ev``) and time while it stays small, the stored rows scale where it
        does not: Yin-Yang 5-120-3 (128 x 123) runs its gradient 10-20% faster carried,
        MNIST 784-350-10 (1,144 x 360) faster stored (benchmarks/README.md, EventProp)."""
        return self.n_rows * self.n <= _ROWS_IN_CARRY_MAX


_ROWS_IN_CARRY_MAX = 1 << 16  # weights (floats) up to which the adjoint carries their gradient


class Consts(NamedTuple):
    """Per-run arrays: weights ``wt`` (row ``j``: out of neuron ``j``; the input channels after
    the neurons), biases ``J``, refractory periods ``tref``, ``1/tau_m``, ``1/tau_s`` per neuron,
    and the input queue: times ``in_t`` (sorted) and channels ``in_ch``."""

    wt: Array
    J: Array
    tref: Array
    inv_tm: Array
    inv_ts: Array
    in_t: Array
    in_ch: Array

    @property
    def a(self) -> Array:
        return self.inv_tm - self.inv_ts


class Records(NamedTuple):
    """What the forward run stores per event ``k`` (for the adjoint): time, source (neuron ``j <
    n`` or input slot ``n + q``), rank among its neuron's spikes, the neuron's previous spike's
    record (``-1``: none), ``s_n`` at the crossing and at the end of the refractory period."""

    t: Array
    src: Array
    rank: Array
    prev: Array
    s: Array
    srel: Array


def _row(z: Sizes, c: Consts, is_spk: Array, src: Array, q: Array) -> Array:
    """The weight row of an event: the spiking neuron's, or its input slot's channel's."""
    return jnp.where(is_spk, src, z.n + (c.in_ch[q] if z.n_q else 0))


def _input_time(z: Sizes, c: Consts, p: Array) -> Array:
    """The time of input slot ``p`` (``inf`` past the last)."""
    inf = jnp.asarray(jnp.inf, c.J.dtype)
    return jnp.where(p < z.n_q, c.in_t[jnp.minimum(p, z.n_q - 1)], inf) if z.n_q else inf


def _next_event(z: Sizes, c: Consts, pred: Array, p: Array) -> tuple[Array, Array, Array]:
    """``(time, is a crossing, neuron)`` of the next event: the earliest predicted crossing or
    the input slot ``p``, a crossing first at equal times."""
    t_in = _input_time(z, c, p)
    nn = jnp.argmin(pred).astype(jnp.int32)
    t_sp = pred[nn]
    is_spk = t_sp <= t_in
    return jnp.where(is_spk, t_sp, t_in), is_spk, nn


def _forward_init(z: Sizes, c: Consts) -> dict[str, Array]:
    """The state at ``t = 0`` (``v = s = 0``, nothing recorded) and its first event."""
    dtype = c.J.dtype
    zeros = jnp.zeros(z.n, dtype)
    R0 = jnp.full(z.n, -jnp.inf, dtype)
    T = jnp.asarray(z.duration, dtype)
    until0 = jnp.minimum(T, _input_time(z, c, jnp.asarray(0, jnp.int32)))
    pred0 = _predict(jnp.zeros((), dtype), zeros, zeros, R0, c.J, c.inv_tm, c.inv_ts, c.a, until0)
    t_nx, is_spk, nn = _next_event(z, c, pred0, jnp.asarray(0, jnp.int32))
    i32 = lambda x: jnp.asarray(x, jnp.int32)  # noqa: E731
    return dict(
        t=jnp.zeros((), dtype),
        v=zeros,
        s=zeros,
        R=R0,
        pred=pred0,
        until=jnp.full(z.n, until0, dtype),
        p=i32(0),
        e=i32(0),
        nspk=i32(0),
        last=jnp.full(z.n, -1, jnp.int32),
        cnt=jnp.zeros(z.n, jnp.int32),
        ev_t=jnp.full(z.n_ev, jnp.inf, dtype),
        ev_src=jnp.full(z.n_ev, -1, jnp.int32),
        ev_rank=jnp.full(z.n_ev, -1, jnp.int32),
        ev_prev=jnp.full(z.n_ev, -1, jnp.int32),
        ev_s=jnp.zeros(z.n_ev, dtype),
        ev_srel=jnp.zeros(z.n_ev, dtype),
        t_nx=t_nx,
        is_spk=is_spk,
        nn=nn,
        over=jnp.asarray(False),
    )


def _forward_cond(z: Sizes, st: dict[str, Array]) -> Array:
    go = (st["t_nx"] < z.duration) & ~st["over"] & (st["e"] < z.n_ev)
    if z.stop is not None:
        go = go & ~jnp.all(st["cnt"][z.stop[0] : z.stop[0] + z.stop[1]] > 0)
    return go


def _forward_step(z: Sizes, c: Consts, st: dict[str, Array]) -> dict[str, Array]:
    """One event: advance every neuron to it, record it, apply it, predict the next."""
    n, n_q, n_ev = z.n, z.n_q, z.n_ev
    t_ev, is_spk, nn, e, p = st["t_nx"], st["is_spk"], st["nn"], st["e"], st["p"]
    t_ev = jnp.maximum(t_ev, st["t"])  # (a crossing found a rounding error before now)
    over = is_spk & (st["nspk"] >= z.max_spikes)
    v, s, s_free = _advance(st["t"], t_ev, st["v"], st["s"], st["R"], c.J, c.inv_tm, c.inv_ts, c.a)
    R = st["R"]
    released = (R >= st["t"]) & (R < t_ev) & (st["last"] >= 0) & ~over
    ev_srel = st["ev_srel"].at[jnp.where(released, st["last"], n_ev)].set(s_free, mode="drop")
    w_idx = jnp.where(over, n_ev, e)  # the spike that does not fit is not written
    q = jnp.minimum(p, max(n_q - 1, 0))
    row = _row(z, c, is_spk, nn, q)
    src = jnp.where(is_spk, nn, n + p)
    spiker = is_spk & (jnp.arange(n) == nn)
    rec = dict(
        ev_t=st["ev_t"].at[w_idx].set(t_ev, mode="drop"),
        ev_src=st["ev_src"].at[w_idx].set(src, mode="drop"),
        ev_rank=st["ev_rank"].at[w_idx].set(jnp.where(is_spk, st["cnt"][nn], -1), mode="drop"),
        ev_prev=st["ev_prev"].at[w_idx].set(jnp.where(is_spk, st["last"][nn], -1), mode="drop"),
        ev_s=st["ev_s"].at[w_idx].set(jnp.where(is_spk, s[nn], 0.0), mode="drop"),
        ev_srel=ev_srel,
    )
    v = jnp.where(spiker, 0.0, v)
    R = jnp.where(spiker, t_ev + c.tref, R)
    w = c.wt[row]
    s = s + w * c.inv_ts
    p = p + jnp.where(is_spk, 0, 1)
    # Crossings are searched only up to the next input spike (``until``): at that input each
    # neuron's prediction is made anew (it changes the neuron's input, or its search stopped
    # there), so nothing later is needed, and most searches end before any root iteration.
    until = jnp.minimum(jnp.asarray(z.duration, c.J.dtype), _input_time(z, c, p))
    affected = (w != 0) | spiker | (st["until"] <= t_ev)
    new_pred = _predict(t_ev, v, s, R, c.J, c.inv_tm, c.inv_ts, c.a, until, affected)
    pred = jnp.where(affected, new_pred, st["pred"])
    t_nx, is_spk2, nn2 = _next_event(z, c, pred, p)
    new = dict(
        t=t_ev,
        v=v,
        s=s,
        R=R,
        pred=pred,
        until=jnp.where(affected, until, st["until"]),
        p=p,
        e=e + 1,
        nspk=st["nspk"] + is_spk.astype(jnp.int32),
        last=jnp.where(spiker, e, st["last"]),
        cnt=st["cnt"] + spiker.astype(jnp.int32),
        t_nx=t_nx,
        is_spk=is_spk2,
        nn=nn2,
    )
    # the spike that does not fit stops the run, leaving the state as it was (selects on the
    # small state only: the records were not written)
    new = jax.tree.map(lambda a_, b_: jnp.where(over, b_, a_), new, {k: st[k] for k in new})
    return {**new, **rec, "over": over}


def _forward(z: Sizes, c: Consts) -> dict[str, Array]:
    """The event loop from ``t = 0`` to the end (``duration``, ``stop``, or overflow)."""
    cond = functools.partial(_forward_cond, z)
    return lax.while_loop(cond, functools.partial(_forward_step, z, c), _forward_init(z, c))


def _interval(c: Consts, t_hi, t_lo, lv, ls, R, srel):
    """The adjoint carried back over an event-free gap ``[t_lo, t_hi]`` (module docstring):
    ``(lambda_v, lambda_s)`` at ``t_lo``, ``dL/dR`` of the neurons released in the gap and the
    gap's ``dL/dJ``."""
    u = t_hi - t_lo
    u_free = jnp.clip(t_hi - jnp.maximum(R, t_lo), 0.0, u)
    em, es, k = decays(u_free, c.inv_tm, c.a)
    gJ = lv * (1.0 - em)
    lv2 = em * lv
    ls2 = k * lv + es * ls
    released = (R >= t_lo) & (R < t_hi)
    gR = jnp.where(released, -lv2 * (srel + c.J) * c.inv_tm, 0.0)
    lv2 = jnp.where(R >= t_lo, 0.0, lv2)
    ls2 = ls2 * jnp.exp(-(u - u_free) * c.inv_ts)
    return lv2, ls2, gR, gJ


def _adjoint_step(z: Sizes, i, a: dict[str, Array], x: tuple[Consts, Records, Array, Array]) -> dict[str, Array]:
    """Step ``i`` of the adjoint: event ``k = n_done - 1 - i``, back over the gap above it and
    through it.  Its weight-row gradient ``lambda_s(t_k+)/tau_s`` and its input-time gradient
    are not added up here but stored at index ``i`` (an index the whole batch shares, so the
    store is one slice under ``vmap``); ``_backward`` sums them by row afterwards.  Steps past
    this run's own events (``i >= n_done``, which the batched loop takes for the samples with
    fewer events) change nothing and store zeros."""
    c, r, g_ev, n_done = x
    n = z.n
    k = n_done - 1 - i
    valid = k >= 0
    k = jnp.maximum(k, 0)
    t_lo = jnp.where(valid, r.t[k], a["t_hi"])
    lv, ls, gR_add, gJ_add = _interval(c, a["t_hi"], t_lo, a["lv"], a["ls"], a["R"], a["srel"])
    lv, ls = jnp.where(valid, lv, a["lv"]), jnp.where(valid, ls, a["ls"])
    gR = a["gR"] + jnp.where(valid, gR_add, 0.0)
    src = r.src[k]
    is_spk = src < n
    q = jnp.clip(src - n, 0, max(z.n_q - 1, 0))
    row = _row(z, c, is_spk, src, q)
    w = c.wt[row]
    dt_del = jnp.sum(w * c.inv_ts * (ls * c.inv_ts - lv * c.inv_tm))
    nn = jnp.where(is_spk, src, 0)
    total = g_ev[k] + dt_del + gR[nn]
    dv = (r.s[k] + c.J[nn] - 1.0) * c.inv_tm[nn]
    lv_n = jnp.where(dv > 0, -total / jnp.where(dv > 0, dv, 1.0), 0.0)
    me = valid & is_spk & (jnp.arange(n) == nn)
    prev = r.prev[k]
    R_n = jnp.where(prev >= 0, r.t[jnp.maximum(prev, 0)] + c.tref[nn], -jnp.inf)
    srel_n = jnp.where(prev >= 0, r.srel[jnp.maximum(prev, 0)], 0.0)
    return dict(
        t_hi=t_lo,
        lv=jnp.where(me, lv_n, lv),
        ls=ls,
        R=jnp.where(me, R_n, a["R"]),
        srel=jnp.where(me, srel_n, a["srel"]),
        gR=jnp.where(me, 0.0, gR),
        g_tref=a["g_tref"] + jnp.where(me, gR, 0.0),
        gJ=a["gJ"] + jnp.where(valid, gJ_add, 0.0),
        g_rows=_add_row(z, a["g_rows"], jnp.where(valid, ls * c.inv_ts, 0.0), row, i),
        g_time=lax.dynamic_update_index_in_dim(a["g_time"], jnp.where(valid & ~is_spk, g_ev[k] + dt_del, 0.0), i, 0),
    )


def _add_row(z: Sizes, g_rows: Array, g: Array, row: Array, i) -> Array:
    """The weight-row gradient ``g`` of the event at adjoint step ``i`` (weight row ``row``):
    added into the carried gradient, or stored at index ``i`` (``Sizes.rows_in_carry``)."""
    if z.rows_in_carry:
        return g_rows.at[row].add(g)
    return lax.dynamic_update_index_in_dim(g_rows, g, i, 0)


def _adjoint_loop(z: Sizes):
    """The adjoint loop ``(a0, x) -> a`` over the ``n_done`` events of ``x``.

    Under ``vmap`` a loop bound that differs per sample makes JAX select the whole carry at
    every step; the batched rule runs the batch's longest count instead, each sample's extra
    steps masked in ``_adjoint_step``, with the step index shared by the batch."""
    step = functools.partial(_adjoint_step, z)

    @jax.custom_batching.custom_vmap
    def loop(a0, x):
        return lax.fori_loop(0, x[3], lambda i, a: step(i, a, x), a0)

    @loop.def_vmap
    def _(axis_size, in_batched, a0, x):
        full = lambda v, b: v if b else jnp.broadcast_to(v, (axis_size, *jnp.shape(v)))  # noqa: E731
        a0, x = jax.tree.map(full, (a0, x), tuple(in_batched))
        batched = jax.vmap(step, in_axes=(None, 0, 0))
        out = lax.fori_loop(0, jnp.max(x[3]), lambda i, a: batched(i, a, x), a0)
        return out, jax.tree.map(lambda _: True, out)

    return loop


def _backward(z: Sizes, c: Consts, r: Records, g_ev: Array, n_done: Array, last: Array):
    """The adjoint from the last event back to ``t = 0``: the gradients w.r.t. ``(wt, J,
    tref)`` and the input times (sorted queue order)."""
    n, dtype = z.n, c.J.dtype
    has = last >= 0
    zeros = jnp.zeros(n, dtype)
    a0 = dict(
        t_hi=jnp.where(n_done > 0, r.t[jnp.maximum(n_done - 1, 0)], 0.0),
        lv=zeros,
        ls=zeros,
        R=jnp.where(has, r.t[jnp.maximum(last, 0)] + c.tref, -jnp.inf),
        srel=jnp.where(has, r.srel[jnp.maximum(last, 0)], 0.0),
        gR=zeros,
        g_tref=zeros,
        gJ=zeros,
        g_rows=jnp.zeros((z.n_rows if z.rows_in_carry else z.n_ev, n), dtype),
        g_time=jnp.zeros(z.n_ev, dtype),
    )
    a = _adjoint_loop(z)(a0, (c, r, g_ev, n_done))
    # the free stretch from the first event back to t = 0 (every neuron free, v = s = 0 at 0)
    gJ = a["gJ"] + a["lv"] * (1.0 - jnp.exp(-a["t_hi"] * c.inv_tm))
    # event of step i: k = n_done - 1 - i; its weight row and (input events) its queue slot
    i = jnp.arange(z.n_ev)
    k = n_done - 1 - i
    src = r.src[jnp.maximum(k, 0)]
    is_spk = src < n
    q = jnp.clip(src - n, 0, max(z.n_q - 1, 0))
    if z.rows_in_carry:
        g_wt = a["g_rows"]
    else:
        rows = jnp.where(k >= 0, _row(z, c, is_spk, src, q), c.wt.shape[0])
        g_wt = jnp.zeros_like(c.wt).at[rows].add(a["g_rows"], mode="drop")
    slots = jnp.where((k >= 0) & ~is_spk, q, z.n_q)
    g_in = jnp.zeros(z.n_q, dtype).at[slots].add(a["g_time"], mode="drop")
    return g_wt, gJ, a["g_tref"], g_in


@functools.lru_cache(maxsize=64)
def _make_core(z: Sizes):
    """The ``custom_vjp`` simulation for the static sizes ``z``: ``core(wt, J, tref, inv_tm,
    inv_ts, in_t, in_ch) -> (ev_t, ev_src, ev_rank, n_events, spike counts, overflow)``,
    differentiable w.r.t. ``ev_t`` (the event times)."""

    def run(*args):
        st = _forward(z, Consts(*args))
        return st, (st["ev_t"], st["ev_src"], st["ev_rank"], st["e"], st["cnt"], st["over"])

    @jax.custom_vjp
    def core(*args):
        return run(*args)[1]

    def core_fwd(*args):
        st, out = run(*args)
        r = Records(st["ev_t"], st["ev_src"], st["ev_rank"], st["ev_prev"], st["ev_s"], st["ev_srel"])
        return out, (Consts(*args), r, st["e"], st["last"])

    def core_bwd(res, cts):
        c, r, n_done, last = res
        g_wt, gJ, g_tref, g_in = _backward(z, c, r, cts[0], n_done, last)
        zero = jnp.zeros_like(c.inv_tm)
        return g_wt, gJ, g_tref, zero, zero, g_in, None

    core.defvjp(core_fwd, core_bwd)
    return jax.jit(core)  # one compiled program also when called outside jit (op by op it is slow)


# =============================================================================== public entry
def _static_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a Python number (static), got {value!r}.")
    return float(value)


def simulate_lif_events(
    network: LIFNetwork,
    duration: float,
    *,
    inputs: tuple[SpikeTrain, Float[ArrayLike, "n n_in"]] | None = None,
    tau_ref: Float[ArrayLike, ""] | Float[ArrayLike, " n"] | None = None,
    max_spikes: int | None = None,
    max_spikes_per_neuron: int | None = None,
    stop_when_fired: int | str | None = None,
    on_overflow: Literal["error", "flag"] = "error",
) -> EventResult:
    """Simulate a ``LIFNetwork`` event by event, with exact spike times and an adjoint gradient.

    The model and the gradient are in the module docstring: ``tau_m dv/dt = s + J - v``,
    ``tau_s ds/dt = -s``, threshold 1, reset 0 held for ``tau_ref``, jumps ``w_ij / tau_s``.
    The run starts at ``t = 0`` from ``v = s = 0`` and covers ``[0, duration)``; the spike
    times equal those of ``simulate_lif_network`` for the same network and inputs to rounding
    (tested to 1e-12 s at its ``dt = 1e-6``; at a coarser ``dt`` that simulator moves a
    crossing by up to a step when an input lands in the crossing's step before it, the
    approximation its docstring states; here there is no step).  ``jax.grad`` of any
    function of the spike times is exact (the adjoint of Wunderlich and Pehle 2021, with
    refractory periods and simultaneous spikes), and its memory grows with the number of
    events (``max_spikes`` plus the input slots), not with ``duration``: each event stores
    its time, source, and for a network spike the synaptic current at the crossing and at
    the release (and the adjoint, in a large network, one row of ``N`` weight gradients).
    Differentiable with respect to the weights (``network`` connections and ``W_in``), the
    input spike times, the biases and ``tau_ref``; ``tau_m`` and ``tau_s`` are held constant
    (their gradient is zero).
    Use it under ``jax.jit`` (``duration`` and the capacities are static) and ``jax.vmap`` over
    input samples.

    Example (a 2-layer network with a first-spike readout)::

        hid = jn.LIFPopulation(20, jn.LIF(tau_m=0.01), tau_s=0.005, name="hid")
        out = jn.LIFPopulation(3, jn.LIF(tau_m=0.01), tau_s=0.005, name="out")
        net = jn.LIFNetwork([hid, out], {("out", "hid"): w_out})          # (3, 20)
        train = jn.SpikeTrain.from_times(t_in[:, None])                    # 5 inputs, one spike each
        w_in_full = jnp.zeros((23, 5)).at[:20].set(w_in)                   # inputs reach the hidden layer

        def loss(net, w_in_full):
            res = jn.simulate_lif_events(net, 0.05, inputs=(train, w_in_full), max_spikes=200)
            first = res.spikes.times[20:, 0]                                # first spike of each output
            return jnp.sum(first)

        grads = jax.grad(loss, argnums=(0, 1))(net, w_in_full)

    Args:
        network: the ``LIFNetwork`` (any populations and connections, feed-forward or
            recurrent).  ``noise`` must be 0.
        duration: simulated time in s (static, > 0).
        inputs: ``(train, W_in)``: input spike trains (a ``SpikeTrain`` of shape ``(n_in,
            capacity)``, times in s, >= 0) and their weights ``W_in`` of shape ``(N, n_in)``
            (charges, like ``W``).  The times need not be sorted; input spikes at or after
            ``duration`` are ignored.
        tau_ref: refractory period in s (>= 0; a scalar or one per neuron) replacing the
            populations' ``neuron.tau_ref`` (``jaxneuro.LIF`` requires ``tau_ref > 0``; pass
            ``tau_ref=0.0`` here for none).
        max_spikes: the most network spikes recorded (static).  Default, when every
            ``tau_ref`` is concrete and positive: ``N (ceil(duration / min tau_ref) + 1)``,
            which never overflows; required otherwise.
        max_spikes_per_neuron: the capacity of each neuron's ``SpikeTrain`` (static; default
            ``min(max_spikes, ceil(duration / min tau_ref) + 1)``).
        stop_when_fired: a population (name or index): end the run as soon as every neuron of
            it has fired once (a time-to-first-spike readout needs nothing later; the run
            then covers ``[0, that time]``, and ``spike_count`` counts only that far).
            Default ``None``: run to ``duration``.
        on_overflow: ``"error"`` raises (at run time, ``eqx.error_if``) when ``max_spikes`` or
            a neuron's capacity is exceeded; ``"flag"`` returns the spikes that fit with
            ``result.overflow`` set.  Nothing is dropped silently.

    Returns:
        An ``EventResult``.

    Raises:
        ValueError: for a network that is not a ``LIFNetwork``, a ``duration`` that is not a
            positive finite number, nonzero noise, a negative ``tau_ref``, negative or NaN
            input times, NaN or infinite weights or biases (at run time when traced), shapes
            that do not match, or bad capacities.

    References:
        Wunderlich and Pehle (2021), "Event-based backpropagation can compute exact
        gradients for spiking neural networks", Sci. Rep. 11:12829.
    """
    if not isinstance(network, LIFNetwork):
        raise ValueError(
            f"network must be a LIFNetwork, got {type(network).__name__}: exact (event) gradients need the LIF's "
            "closed-form spike times. For other neurons use surrogate gradients: jaxneuro.simulate_layers(..., "
            "neuron=..., surrogate=...), or jaxneuro.SpikingClassifier(..., gradient='surrogate')."
        )
    if on_overflow not in ("error", "flag"):
        raise ValueError(f"on_overflow must be 'error' or 'flag', got on_overflow = {on_overflow!r}.")
    duration = _static_number("duration", duration)
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be finite and in (0, inf) s; got duration = {duration:g}.")
    pops = network.populations
    N = network.size
    dtype = jnp.result_type(*[p.neuron.tau_m for p in pops], *[p.tau_s for p in pops], default_float())

    for k, p in enumerate(pops):
        if is_concrete(p.noise):
            if float(np.asarray(p.noise)) != 0.0:
                raise ValueError(
                    f"noise must be 0 for simulate_lif_events (deterministic, event-driven); got noise = "
                    f"{float(np.asarray(p.noise)):g} in population {p.name or k}."
                )
    rep = lambda xs: jnp.concatenate(  # noqa: E731
        [jnp.broadcast_to(jnp.asarray(x, dtype), (p.size,)) for x, p in zip(xs, pops, strict=True)]
    )
    tau_m = rep([check_range("tau_m", p.neuron.tau_m, lower=0.0, lower_open=True, unit="s") for p in pops])
    tau_s = rep([check_range("tau_s", p.tau_s, lower=0.0, lower_open=True, unit="s") for p in pops])
    inv_tm = lax.stop_gradient(1.0 / tau_m)
    inv_ts = lax.stop_gradient(1.0 / tau_s)
    bias = check_finite("bias", rep([p.bias for p in pops]))
    tref, per_neuron = _refractory_periods(pops, tau_ref, rep, N, duration, dtype)
    if max_spikes is None:
        if per_neuron is None:
            raise ValueError("max_spikes is required when tau_ref is 0 or traced (the event buffer has a static size).")
        max_spikes = N * per_neuron
    max_spikes = check_int("max_spikes", max_spikes)
    if max_spikes_per_neuron is None:
        max_spikes_per_neuron = max_spikes if per_neuron is None else min(per_neuron, max_spikes)
    cap = check_int("max_spikes_per_neuron", max_spikes_per_neuron)

    # a NaN weight or bias would silence its neuron without a word (NaN never crosses threshold)
    wt = check_finite("the network's weights", network.outgoing_weights().astype(dtype))
    in_t, in_ch = jnp.zeros((0,), dtype), jnp.zeros((0,), jnp.int32)
    if inputs is not None:
        w_in_t, in_t, in_ch = _input_queue(inputs, N, dtype)
        wt = jnp.concatenate([wt, w_in_t], axis=0)
    n_q = in_t.shape[0]
    stop = None
    if stop_when_fired is not None:
        sl = network.population_slice(stop_when_fired)
        stop = (sl.start, sl.stop - sl.start)
    core = _make_core(Sizes(N, n_q, max_spikes + n_q, max_spikes, duration, stop, int(wt.shape[0])))
    ev_t, ev_src, ev_rank, _, cnt, over = core(wt, bias.astype(dtype), tref, inv_tm, inv_ts, in_t, in_ch)
    return _result(ev_t, ev_src, ev_rank, cnt, over, N, cap, max_spikes, duration, on_overflow)


def _refractory_periods(pops, tau_ref, rep, N: int, duration: float, dtype):
    """``(tref, per_neuron)``: each neuron's refractory period (``tau_ref`` or the
    populations' own, checked >= 0) and, when all are concrete and positive, the most spikes a
    neuron can fire in ``duration`` (else ``None``)."""
    # (concreteness is judged on the values given: inside jit any array op on them is traced)
    sources = [p.neuron.tau_ref for p in pops] if tau_ref is None else [as_float_array(tau_ref)]
    concrete = [np.asarray(x) for x in sources if is_concrete(x)]
    for x in concrete:
        check_range("tau_ref", x, lower=0.0, unit="s")
    if tau_ref is None:
        tref = rep([p.neuron.tau_ref for p in pops])
    else:
        tref = sources[0]
        if jnp.shape(tref) not in ((), (N,)):
            raise ValueError(f"tau_ref must be a scalar or have shape (N,) = ({N},), got shape {jnp.shape(tref)}.")
        tref = jnp.broadcast_to(jnp.asarray(tref, dtype), (N,))
    if len(concrete) < len(sources):
        tref = check_range("tau_ref", tref, lower=0.0, unit="s")
    per_neuron = None
    if len(concrete) == len(sources) and min(float(np.min(x)) for x in concrete) > 0:
        per_neuron = int(math.ceil(duration / min(float(np.min(x)) for x in concrete) * (1 + 1e-9))) + 1
    return tref, per_neuron


def _input_queue(inputs, N: int, dtype):
    """``(W_in.T, times, channels)``: the input spikes checked and sorted into one queue
    (times in s, ``inf`` for empty slots) with the channel of each, and the transposed input
    weights (one row per channel, appended to the network's outgoing weights)."""
    if not (isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(inputs[0], SpikeTrain)):
        raise ValueError("inputs must be a pair (SpikeTrain of shape (n_in, capacity), W_in of shape (N, n_in)).")
    train, w_in = inputs
    if train.times.ndim != 2:
        raise ValueError(f"inputs: the SpikeTrain must have shape (n_in, capacity), got {train.times.shape}.")
    n_in, cap_in = train.times.shape
    w_in = as_float_array(w_in)
    if w_in.shape != (N, n_in):
        raise ValueError(f"inputs: W_in must have shape (N, n_in) = ({N}, {n_in}), got shape {w_in.shape}.")
    # (the times need not be sorted: they are sorted here into one queue)
    train = check_overflow(train, "simulate_lif_events inputs")
    times = jnp.where(train.mask, train.times, jnp.inf).astype(dtype)
    if is_concrete(times):
        t_np = np.asarray(times)
        bad = np.isnan(t_np) | (t_np < 0)
        if np.any(bad):
            raise ValueError(f"input spike times must be in [0, inf) s; got input time = {float(t_np[bad][0]):g}.")
    else:
        times = error_if_any(
            times,
            jnp.isnan(times) | (times < 0),
            "input spike times must be in [0, inf) s (a traced one was not).",
        )
    w_in = check_finite("W_in", w_in)
    flat = times.reshape(-1)
    order = jnp.argsort(flat, stable=True)
    return w_in.astype(dtype).T, flat[order], (order // cap_in).astype(jnp.int32)


def _result(ev_t, ev_src, ev_rank, cnt, over, N: int, cap: int, max_spikes: int, duration: float, on_overflow):
    """The ``EventResult`` of the event log (time, source, rank of each event; inputs have
    sources ``>= N``): each neuron's spike train and the network's spikes in time order."""
    dtype = ev_t.dtype
    is_n = (ev_src >= 0) & (ev_src < N)
    rows = jnp.where(is_n, ev_src, N)
    cols = jnp.where(is_n & (ev_rank < cap), ev_rank, cap)
    spk_times = jnp.full((N, cap), jnp.inf, dtype).at[rows, cols].set(ev_t, mode="drop")
    pos = jnp.where(is_n, jnp.cumsum(is_n) - 1, max_spikes)
    times_out = jnp.full((max_spikes,), jnp.inf, dtype).at[pos].set(ev_t, mode="drop")
    neurons_out = jnp.full((max_spikes,), -1, jnp.int32).at[pos].set(ev_src, mode="drop")
    n_spikes = jnp.sum(is_n).astype(jnp.int32)
    overflow = over | jnp.any(cnt > cap)
    if on_overflow == "error":
        msg = (
            f"simulate_lif_events: more than max_spikes = {max_spikes} network spikes, or more than "
            f"max_spikes_per_neuron = {cap} in one neuron; raise them (or pass on_overflow='flag')."
        )
        spk_times = error_if_any(spk_times, overflow, msg)
    return EventResult(SpikeTrain(spk_times, cnt), cnt, times_out, neurons_out, n_spikes, overflow, duration)


__all__ = ["EventResult", "simulate_lif_events"]

"""The fast kernel of ``simulate_lif_network``: the time loop of an exact LIF network.

The method (``_lif_exact``'s module docstring) in small functions: the per-run constants are
one ``Kernel`` tuple, built by ``simulate_lif_network`` after it has checked its arguments;
each part of a step takes it and the arrays it works on explicitly.  A step (``step``):

1. ``pass1``: every neuron over the step, elementwise and without exponentials, and who may
   cross threshold (packed into a bitmap, ``_bitmap``);
2. ``decide``: for up to ``K`` candidates at a time, whether and when each fires, its new
   refractory clock and the coefficients of its delivery (``coefficients``);
3. ``deliver`` (through ``process``): the exact effect of each spike on its targets at the
   end of the step, a few rows of the weight matrix at a time; then ``put`` records it;
4. ``deliver_inputs``: the input spike trains of the step, at their exact times.

``run`` scans ``step`` over a block of steps (drawing the noise a block at a time) and
``run_kernel`` over the recorded blocks.  Every function is traced inline: the program XLA
compiles is the one of the single function this file was split from.  The readable
reference that this kernel is tested against, spike for spike, is ``_lif_reference``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array

from ._bitmap import bitmap, next_ones
from ._lif_closed_form import exps, interior_max, k_from, threshold_time
from ._noise import normals


class Pop(NamedTuple):
    """Per-population scalars and its slice of the neurons."""

    start: int
    size: int
    inv_tm: Array
    inv_ts: Array
    a: Array


class Kernel(NamedTuple):
    """Everything a step reads besides the state: static settings and per-run constants.

    Static: ``N`` neurons, ``K`` spikes per pass, ``G`` spikes per delivery kernel, ``cap``
    spike slots per neuron (0: no times kept), ``differentiable`` (static-length loops),
    ``n_in`` input channels and ``K_in`` input spikes per step (differentiable), the
    ``dtype``, the populations ``pinfo``, the callable drive ``drive_fn`` (or ``None``).
    Arrays: the step ``dt_a`` and ``inv_dt``, the start ``t0``; the drive parts ``bias``,
    ``noise_scale`` (``sigma sqrt(tau_m/dt)``), ``drive_arr`` (``(steps, N)`` or
    ``(steps, 1)``, or ``None``), the noise ``seeds`` and ``pairs``; the weights ``WT`` (row
    ``j``: out of neuron ``j``; input channels after the neurons); the input events
    ``ev_t`` (s from ``t0``), ``ev_src`` and the step ``edges`` into them; per neuron
    ``inv_tm``, ``inv_ts``, ``a_n``; ``c_*``: the same as scalars for one population (else
    per neuron) with the decays over one step ``c_em``, ``c_es``, ``c_k`` and ``c_ratio =
    c_em/c_es``; ``consts``: the constants gathered per candidate (``None``, ``(1, N)``
    refractory periods, or ``(7, N)``), ``tr0`` the first population's ``tau_ref`` and
    ``kk = arange(K)``.
    """

    N: int
    K: int
    G: int
    cap: int
    differentiable: bool
    n_in: int
    K_in: int
    has_noise: bool
    dtype: Any
    pinfo: tuple[Pop, ...]
    drive_fn: Callable[[Array], Any] | None
    dt_a: Array
    inv_dt: Array
    t0: Array
    bias: Array
    noise_scale: Array
    drive_arr: Array | None
    seeds: Array
    pairs: Array | None
    WT: Array
    ev_t: Array | None
    ev_src: Array | None
    edges: Array | None
    inv_tm: Array
    inv_ts: Array
    a_n: Array
    c_itm: Array
    c_its: Array
    c_a: Array
    c_em: Array
    c_es: Array
    c_k: Array
    c_ratio: Array
    consts: Array | None
    tr0: Array
    kk: Array


def sequential(pred: Array, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, run as a conditional of its own (``pred`` must be True, and traced).

    XLA's CPU runtime executes a program whose independent kernels could overlap on its
    thread pool, handing kernels between threads; for the few microsecond-sized kernels of a
    time step those hand-offs cost more than the kernels (much more on a busy machine).  A
    conditional's branch is a program of its own, and a short one is run in order on the
    calling thread.  Under ``vmap`` the conditional becomes a select of both branches: the
    other one returns zeros.
    """
    shapes = jax.eval_shape(fn, *args)
    return lax.cond(pred, fn, lambda *_: jax.tree.map(lambda sd: jnp.zeros(sd.shape, sd.dtype), shapes), *args)


# =============================================================================== drive and closed forms
def drive_at(c: Kernel, n: Array, noise_row: Array | None = None) -> Array:
    """The drive of step ``n`` (held over the step); ``noise_row``: its standard normals."""
    J = c.bias
    if c.drive_fn is not None:
        J = J + jnp.asarray(c.drive_fn(c.t0 + (n.astype(c.dtype) + 0.5) * c.dt_a), c.dtype)
    if c.drive_arr is not None:
        J = J + c.drive_arr[n]
    if noise_row is not None:
        J = J + c.noise_scale * noise_row
    return J


def release_factors(c: Kernel, yq, i_tm, i_ts, a):
    """``(em_r, hr, er)`` for the release step of a neuron whose clock reads ``yq >= -1``
    (the release at offset ``y_r = frac(yq) dt`` in the step where ``0 <= yq < 1``):
    ``e^(-(dt - y_r)/tau_m)``, ``e^(-y_r/tau_s) K(dt - y_r)`` and ``e^(-y_r/tau_s)``."""
    y_r = (yq - jnp.floor(yq)) * c.dt_a
    u = c.dt_a - y_r
    em_r, es_r, er = exps(-u * i_tm, -u * i_ts, -y_r * i_ts)
    return em_r, er * k_from(u, em_r, es_r, i_tm, a), er


def coefficients(c: Kernel, z, extra=()):
    """Per receiving population, for spikes at offsets ``z`` (from the step start): the jump
    of ``s`` left at the end of the step, ``q = e^(-(dt - z)/tau_s)/tau_s``; the response of
    ``v`` at the end, ``g = K(dt - z)/tau_s``; and ``e = e^(z/tau_s)/tau_s``, which times
    ``hy`` gives the response of a target released at ``y > z``.  ``extra``: further
    exponents, whose exponentials are computed by the same kernel and returned after."""
    u = c.dt_a - z
    args = [x for p in c.pinfo for x in (-u * p.inv_tm, -u * p.inv_ts, z * p.inv_ts)]
    ex = exps(*args, *extra)
    out = []
    for k, p in enumerate(c.pinfo):
        em, es, ez = ex[3 * k : 3 * k + 3]
        out.append((es * p.inv_ts, k_from(u, em, es, p.inv_tm, p.a) * p.inv_ts, ez * p.inv_ts))
    return out, ex[3 * len(c.pinfo) :]


def deliver(c: Kernel, acc, js, zs, coef, yq, hy):
    """Add the exact effect of spikes from rows ``js`` of ``WT`` at offsets ``zs`` to the
    end-of-step state ``acc = (v, s)`` (a few at once: one kernel reads all their rows,
    which the memory system overlaps).  ``coef``: shape ``(3 P, len(js))``, the ``(q, g,
    e)`` of each receiving population.  A target released at ``y = yq dt`` after the
    spike responds from its release (``hy e``); refractory targets have ``hy = 0``."""
    acc_v, acc_s = acc
    rows = [lax.dynamic_index_in_dim(c.WT, j, axis=0, keepdims=False) for j in js]
    dvs, dss = [], []
    for pi, p in enumerate(c.pinfo):
        seg = slice(p.start, p.start + p.size)
        yqs, hs = yq[seg], hy[seg]
        ds = dv = 0.0
        for r, (row, z) in enumerate(zip(rows, zs, strict=True)):
            q, g, e = coef[3 * pi, r], coef[3 * pi + 1, r], coef[3 * pi + 2, r]
            ds = ds + row[seg] * q
            dv = dv + row[seg] * jnp.where(z * c.inv_dt >= yqs, g, hs * e)  # spike after the release
        dvs.append(jnp.broadcast_to(dv, (p.size,)))
        dss.append(jnp.broadcast_to(ds, (p.size,)))
    # (the segments joined, not added with .at[seg]: that is a scatter, which XLA
    # cannot compile into a loop's kernel)
    return acc_v + jnp.concatenate(dvs), acc_s + jnp.concatenate(dss)


# =============================================================================== 1. every neuron
def pass1(c: Kernel, v, s, yq, rel, n, noise_row):
    """Every neuron over the step, elementwise and without exponentials: the state at the
    end of the step (before this step's spikes), ``hy`` (the response at the end of the
    step of a target released in this step or the last one, per unit jump of ``s`` at its
    release; 0 while refractory) and whether the neuron may cross threshold: a superset
    of the exact test of ``decide`` (for a neuron released inside the step, its ``s`` at
    the release is bounded by ``s`` and ``s_T``).  The drive is computed here, fused with
    its use (it is not kept: ``decide`` recomputes it for the candidates)."""
    J = drive_at(c, n, noise_row)
    em_r, hr = rel[0], rel[1]
    whole = yq >= 1.0
    released = (yq >= 0.0) & ~whole  # inside this step (or at its start)
    v = jnp.where(yq >= 0.0, 0.0, v)  # held at the reset while refractory
    s_T = s * c.c_es
    v_T = jnp.where(whole, 0.0, jnp.where(released, J - J * em_r + s * hr, J + (v - J) * c.c_em + s * c.c_k))
    hy = jnp.where(released, hr, jnp.where(yq >= -1.0, hr * c.c_ratio + c.c_k, 0.0))
    hy = jnp.where(whole, 0.0, hy)
    late = (v >= 1.0) & (yq <= 0.0)
    end = (v_T >= 1.0) & ~whole
    s_max = jnp.maximum(s, s_T)
    d0 = s_max + J - v
    d1 = s_T + J - v_T
    bound = v + c.dt_a * (s_max + J - jnp.minimum(v, v_T)) * c.c_itm
    maybe = (~whole) & (~end) & (~late) & (d0 > 0) & (d1 < 0) & (bound >= 1.0)
    # (float, not bool, reductions: XLA's CPU reduction of bool arrays is slow)
    cand_f = (late | end | maybe).astype(c.dtype)
    total = jnp.sum(cand_f).astype(jnp.int32) if c.differentiable else jnp.zeros((), jnp.int32)
    return v_T, s_T, hy, jnp.maximum(yq - 1.0, -2.0), cand_f, total


# =============================================================================== 2. the candidates
def free_part(c: Kernel, v, s, yq, J, rel, em_c, k_c):
    """The free evolution over the step of candidates with state ``(v, s, yq)``: where it
    starts (``fs``), its length ``h``, the state there and at the end of the step, from
    the release factors ``rel`` and the decays ``em_c, k_c`` over a whole step.
    Elementwise, without exponentials."""
    em_r, hr, er = rel
    whole = yq >= 1.0  # refractory for the whole step
    inside = (yq > 0) & ~whole  # released inside the step, at offset y = yq dt
    fs = jnp.where(inside, yq * c.dt_a, 0.0)
    h = c.dt_a - fs
    v_fs = jnp.where(yq >= 0, 0.0, v)
    s_fs = jnp.where(inside, s * er, s)
    v_T = jnp.where(inside, J - J * em_r + s * hr, J + (v_fs - J) * em_c + s * k_c)
    return whole, fs, h, v_fs, s_fs, v_T


def crossing_kind(v, y, fs_state):
    """``late``: pushed over threshold by an input late in the previous step; ``end``:
    above threshold at the end of the step; ``maybe``: ``v`` peaks inside the step and a
    cheap bound does not exclude a crossing there."""
    whole, fs, h, v_fs, s_fs, v_T, J, s_T, i_tm = fs_state
    late = (v >= 1.0) & (y <= 0)
    end = (v_T >= 1.0) & ~whole
    d0 = s_fs + J - v_fs  # tau_m v' at the start and end of the free part
    d1 = s_T + J - v_T
    bound = v_fs + h * (jnp.maximum(s_fs, s_T) + J - jnp.minimum(v_fs, v_T)) * i_tm
    maybe = (~whole) & (~end) & (~late) & (d0 > 0) & (d1 < 0) & (bound >= 1.0)
    return late, end, maybe


def noise_rows(block, k):
    """The standard normals of the previous step and of this one: rows ``k`` and ``k + 1``."""
    if block is None:
        return None, None
    return (
        lax.dynamic_index_in_dim(block, k, keepdims=False),
        lax.dynamic_index_in_dim(block, k + 1, keepdims=False),
    )


def candidate_constants(c: Kernel, idx):
    """``(1/tau_m, 1/tau_s, a, e^(-dt/tau_m), e^(-dt/tau_s), K(dt), tau_ref)`` of the
    candidates ``idx`` (scalars where they are the same for every neuron)."""
    if c.consts is None:
        return c.c_itm, c.c_its, c.c_a, c.c_em, c.c_es, c.c_k, c.tr0
    if len(c.pinfo) == 1:
        return c.c_itm, c.c_its, c.c_a, c.c_em, c.c_es, c.c_k, jnp.take(c.consts[0], idx)
    return tuple(jnp.take(c.consts, idx, axis=1))


def _peak(c: Kernel, v_k, s_k, yq_k, J_k, rel_k, i_tm, i_ts, a_k, em_c, k_c):
    # (from the gathered values, so that the free part is not materialised as operands of
    # the conditional: that costs a kernel per array)
    _, _, h, vfs, sfs, _ = free_part(c, v_k, s_k, yq_k, J_k, rel_k, em_c, k_c)
    return interior_max(h, vfs, sfs, J_k, i_tm, i_ts, a_k)


def decide(c: Kernel, n, n_first, t_n, idx, n_valid, v, s, yq, j0, rel, counts, block, k):
    """For candidates ``idx`` (arrays of K entries) of step ``n`` (starting at ``t_n``;
    ``n_first``: the first step of the run, before which the drive was ``j0``): does each
    fire, when (offset ``z`` from the step start), its delivery coefficients per receiving
    population, its release clock and factors.  Works on K-sized arrays only, so that XLA
    runs it as one short sequential program (written with few stages of exponentials: each
    XLA kernel costs more to launch than its work here, unless the whole loop is compiled
    as one kernel, ``enable_cpu_loop_kernels``).  Returns, in the shapes their consumers
    take, ``z``, the ``(3 P, K)`` coefficients, the spike times, the new clocks, the ``(3,
    K)`` release factors, which fired and their spike counts before this step."""
    dtype, dt_a, N = c.dtype, c.dt_a, c.N
    v_k, s_k, yq_k = (jnp.take(x, idx) for x in (v, s, yq))
    row_prev, row = noise_rows(block, k)
    # the drive of this step and of the last one (for crossings timed backwards)
    J_k = jnp.take(jnp.broadcast_to(drive_at(c, n, row), (N,)), idx)
    jp_k = jnp.where(
        n == n_first, jnp.take(j0, idx), jnp.take(jnp.broadcast_to(drive_at(c, n - 1, row_prev), (N,)), idx)
    )
    rel_k = jnp.take(rel, idx, axis=1)
    cnt_k = jnp.take(counts, idx)
    i_tm, i_ts, a_k, em_c, es_c, k_c, tr_k = candidate_constants(c, idx)
    v_k = jnp.where(yq_k >= 0, 0.0, v_k)
    y_k = yq_k * dt_a
    valid = c.kk < n_valid
    whole_k, fs_k, h_k, vfs_k, sfs_k, vT_k = free_part(c, v_k, s_k, yq_k, J_k, rel_k, em_c, k_c)
    late_k, end_k, maybe_k = crossing_kind(v_k, y_k, (whole_k, fs_k, h_k, vfs_k, sfs_k, vT_k, J_k, s_k * es_c, i_tm))
    u_pk, v_pk = lax.cond(
        jnp.max(maybe_k.astype(dtype)) > 0,
        functools.partial(_peak, c),
        lambda *_: (jnp.zeros_like(v_k), jnp.zeros_like(v_k)),
        *(v_k, s_k, yq_k, J_k, rel_k, i_tm, i_ts, a_k, em_c, k_c),
    )
    fires = valid & (late_k | end_k | (maybe_k & (v_pk >= 1.0)))
    # bracket: forward from the start of the free part, or backwards from the start of
    # the step with last step's drive (late crossings)
    lo = jnp.where(late_k, jnp.maximum(-dt_a, y_k), 0.0)
    hi = jnp.where(late_k, 0.0, jnp.where(end_k, h_k, u_pk))
    z = jnp.where(late_k, 0.0, fs_k) + threshold_time(
        lo,
        hi,
        jnp.where(late_k, v_k, vfs_k),
        jnp.where(late_k, s_k, sfs_k),
        jnp.where(late_k, jp_k, J_k),
        i_tm,
        i_ts,
        a_k,
    )
    z = jnp.where(fires, z, 0.0)
    # the release clock and factors, with the delivery coefficients in one kernel
    yq_new = (z + tr_k) * c.inv_dt - 1.0  # >= 0: tau_ref >= 2 dt and z >= -dt
    y_r = (yq_new - jnp.floor(yq_new)) * dt_a
    u_r = dt_a - y_r
    coef, (em_r, es_r, er) = coefficients(c, z, (-u_r * i_tm, -u_r * i_ts, -y_r * i_ts))
    hr = er * k_from(u_r, em_r, es_r, i_tm, a_k)
    coef = jnp.stack([jnp.where(fires, cf, 0.0) for cp in coef for cf in cp])
    return z, coef, t_n + z, yq_new, jnp.stack([em_r, hr, er]), fires, cnt_k.astype(jnp.int32)


# =============================================================================== 3. spikes
class StepContext(NamedTuple):
    """What the spike handling of step ``n`` reads: the step, the first step of the run
    (``n_first``), its start time ``t_n``, the state at its start ``(v, s, yq, j0)``, the
    release responses ``hy`` from ``pass1`` and the noise ``(block, k)`` (or ``None``)."""

    n: Array
    n_first: Array
    t_n: Array
    v: Array
    s: Array
    yq: Array
    j0: Array
    hy: Array
    block: Array | None
    k: Array | None


def put(c: Kernel, out, idx, r, carry):
    """Write the new clock, release factors, count and spike time of candidate ``r`` if it
    fired (dynamic-update-slices: XLA compiles them into the loop's kernel, where a scatter
    would be a call of its own)."""
    _, _, t_vals, yq_new, rel_new, fires, slot = out
    yq_s, rel_s, counts, times = carry
    i, ok = idx[r], fires[r]
    yq_s = lax.dynamic_update_index_in_dim(yq_s, jnp.where(ok, yq_new[r], yq_s[i]), i, 0)
    counts = lax.dynamic_update_index_in_dim(counts, jnp.where(ok, slot[r] + 1, counts[i]), i, 0)
    old = lax.dynamic_slice_in_dim(rel_s, i, 1, axis=1)
    new = lax.dynamic_slice_in_dim(rel_new, r, 1, axis=1)
    rel_s = lax.dynamic_update_slice_in_dim(rel_s, jnp.where(ok, new, old), i, axis=1)
    if c.cap:
        at = (i, jnp.minimum(slot[r], c.cap - 1))
        old = lax.dynamic_slice(times, at, (1, 1))
        keep = ok & (slot[r] < c.cap)
        times = lax.dynamic_update_slice(times, jnp.where(keep, t_vals[r], old), at)
    return yq_s, rel_s, counts, times


def process(c: Kernel, x: StepContext, idx, n_valid, st):
    """Candidates ``idx[:n_valid]`` (the rest of ``idx`` is padding): decide, time the
    crossing, reset, deliver, record.  ``st = (acc, yq, rel, counts, times)``: the end-of-step
    state ``acc = (v, s)`` and the carried clocks, release factors and spike buffers."""
    K, G = c.K, c.G
    acc, yq_s, rel_s, counts, times = st
    # (the release factors as carried: only those of neurons that fired in an earlier
    # chunk of this step have changed, and they are not candidates again)
    args = (idx, n_valid, x.v, x.s, x.yq, x.j0, rel_s, counts, x.block, x.k)
    fn = functools.partial(decide, c, x.n, x.n_first, x.t_n)
    if c.differentiable:
        out = fn(*args)
    else:  # a conditional of its own: XLA runs this short program sequentially
        # (without candidates it returns zeros: no coefficients, nothing fired)
        out = sequential(n_valid > 0, fn, *args)
    z, coef = out[0], out[1]
    # groups of G spikes (padding entries have zero coefficients)
    n_groups = K // G if c.differentiable else (jnp.clip(n_valid, 0, K) + G - 1) // G

    def group(gi, a):
        sl = lambda y: lax.dynamic_slice_in_dim(y, gi * G, G, axis=-1)  # noqa: E731
        js, zs, cs = sl(idx), sl(z), sl(coef)
        return deliver(c, a, [js[r] for r in range(G)], [zs[r] for r in range(G)], cs, x.yq, x.hy)

    acc = lax.fori_loop(0, n_groups, group, acc)
    # (padding entries past n_valid did not fire; a static count when differentiable)
    n_put = K if c.differentiable else jnp.clip(n_valid, 0, K)
    yq_s, rel_s, counts, times = lax.fori_loop(
        0, n_put, lambda r, carry: put(c, out, idx, r, carry), (yq_s, rel_s, counts, times)
    )
    return acc, yq_s, rel_s, counts, times


def spikes_of_step(c: Kernel, x: StepContext, cand_f, total, st):
    """Process every candidate of the step (``cand_f``: 1 where a neuron may cross; ``total``
    their number when differentiable), ``K`` at a time."""
    K = c.K
    if c.differentiable:
        st = eqx.error_if(
            st,
            total > K,
            f"more than max_spikes_per_step = {K} spikes in one step; raise max_spikes_per_step "
            "(a hard bound with differentiable=True).",
        )
        idx = next_ones(bitmap(cand_f), K)[0]
        return process(c, x, idx, total, st)

    # the first K candidates; then further chunks of up to K while any remain (rare).  A
    # while loop, not a cond, so that the spike buffers are updated in place, never
    # copied; the first chunk is outside it, so that under vmap the loop's carry (the
    # spike buffer included) is not selected element by element in ordinary steps.
    # (a chunk that picks K candidates may have left some: the loop runs again)
    def chunk(carry):
        state, _, st = carry
        idx, picked, state = next_ones(state, K)
        return state, picked >= K, process(c, x, idx, picked, st)

    idx, picked, state = next_ones(bitmap(cand_f), K)
    st = process(c, x, idx, picked, st)
    return lax.while_loop(lambda carry: carry[1], chunk, (state, picked >= K, st))[2]


def deliver_inputs(c: Kernel, n, acc, yq, hy):
    """The input spikes of step ``n`` delivered at their exact times to ``acc = (v, s)``."""
    edges, ev_t, ev_src = c.edges, c.ev_t, c.ev_src
    assert edges is not None and ev_t is not None and ev_src is not None  # set when the network has inputs
    b0, b1 = edges[n], edges[n + 1]

    def deliver_input(e, a, valid=True):
        z = jnp.where(valid, ev_t[e] - n.astype(c.dtype) * c.dt_a, 0.0)
        coef = jnp.stack([jnp.where(valid, cf, 0.0) for cp in coefficients(c, z)[0] for cf in cp])[:, None]
        return deliver(c, a, [ev_src[e]], [z], coef, yq, hy)

    if c.differentiable:
        acc = eqx.error_if(
            acc,
            b1 - b0 > c.K_in,
            f"more than max_input_spikes_per_step = {c.K_in} input spikes in one step "
            "(a hard bound with differentiable=True).",
        )
        return lax.fori_loop(0, c.K_in, lambda k, a: deliver_input(b0 + k, a, b0 + k < b1), acc)
    return lax.fori_loop(b0, b1, deliver_input, acc)


# =============================================================================== the loops
def step(c: Kernel, carry, n, noise, n_first):
    """Step ``n``; ``noise``: ``None`` or ``(block, k)``, the standard normals of steps
    ``n - 1`` and ``n`` being rows ``k`` and ``k + 1`` of ``block`` (passed whole and
    indexed where used: a row sliced out would be a kernel and a buffer of its own);
    ``n_first``: the first step of this run, before which the drive was ``j0``."""
    (v, s, yq, j0, rel), (times, counts) = carry
    block, k = noise if noise is not None else (None, None)

    def first(v, s, yq, rel, block, k):
        return pass1(c, v, s, yq, rel, n, noise_rows(block, k)[1])

    # ---- 1. every neuron over the step, and who may cross
    v_T, s_T, hy, yq_next, cand_f, total = sequential(n >= 0, first, v, s, yq, rel, block, k)
    t_n = c.t0 + n.astype(c.dtype) * c.dt_a
    # ---- 2-3. spike times, resets and delivery for every candidate, K at a time
    x = StepContext(n, n_first, t_n, v, s, yq, j0, hy, block, k)
    acc, yq_s, rel_s, counts, times = spikes_of_step(c, x, cand_f, total, ((v_T, s_T), yq_next, rel, counts, times))
    # ---- 4. input spike trains of this step, at their exact times
    if c.n_in:
        acc = deliver_inputs(c, n, acc, yq, hy)
    # (v of the neurons that fired is zeroed when read: yq >= 0 means refractory)
    v_new, s_new = acc
    return (v_new, s_new, yq_s, j0, rel_s), (times, counts)


def run(c: Kernel, carry, n_start, count: int):
    """``count`` steps (static) from step ``n_start``, the step index carried (no arrays
    of length ``count``).  With noise, the normals are drawn for a block of ``L`` steps at
    a time (one vectorised draw, memory L x N)."""
    N, dtype = c.N, c.dtype
    n_start = jnp.asarray(n_start, jnp.int32)
    n_end = n_start + count
    if not c.has_noise:

        def body(cr, _):
            cr, n = cr
            return (step(c, cr, n, None, n_start), n + 1), None

        carry = lax.scan(body, (carry, n_start), None, length=count)[0][0]
        last = drive_at(c, n_end - 1)
    else:
        L = max(d for d in range(1, min(count, 128) + 1) if count % d == 0)

        def block(cr, _):
            cr, n0 = cr
            noise = normals(c.seeds, n0 - 1 + jnp.arange(L + 1), N, dtype, c.pairs)  # steps n0 - 1 ...

            def body(c2, k):
                c2, n = c2
                return (step(c, c2, n, (noise, k), n_start), n + 1), None

            return (lax.scan(body, (cr, n0), jnp.arange(L))[0][0], n0 + L), None

        carry = lax.scan(block, (carry, n_start), None, length=count // L)[0][0]
        last = drive_at(c, n_end - 1, normals(c.seeds, (n_end - 1)[None], N, dtype, c.pairs)[0])
    # the drive of the last step, for a crossing timed backwards in the next run
    (v, s, yq, _, rel), rest = carry
    return (v, s, yq, jnp.broadcast_to(last, (N,)).astype(dtype), rel), rest


def internal(c: Kernel, st):
    """The carried state from ``st = (v, s, refractory, last_drive)``: the clock in steps and
    the release factors of each neuron."""
    v, s, refractory, last_drive = st
    yq = jnp.maximum(refractory * c.inv_dt, -2.0)
    rel = jnp.stack(release_factors(c, jnp.maximum(yq, -1.0), c.inv_tm, c.inv_ts, c.a_n))
    return (v, s, yq, last_drive, rel)


def public(c: Kernel, carried):
    """``(v, s, refractory, last_drive)`` from the carried state (``v = 0`` while refractory)."""
    v, s, yq, jp = carried[:4]
    return jnp.where(yq >= 0, 0.0, v), s, yq * c.dt_a, jp


def run_kernel(c: Kernel, state0, steps: int, trace_every: int | None, trace_idx):
    """All ``steps`` steps from ``state0 = (v, s, refractory, last_drive)``, recording ``v``
    and ``s`` of the neurons ``trace_idx`` (all for ``None``) every ``trace_every`` steps.

    Returns:
        ``(final, times, counts, ts, v, s)``: the final ``(v, s, refractory, last_drive)``,
        the spike buffer ``(N, cap)`` and counts ``(N,)``, and the traces (``None`` without).
    """
    N, dtype, cap = c.N, c.dtype, c.cap
    times0 = jnp.full((N, cap), jnp.inf, dtype) if cap else jnp.zeros((N, 0), dtype)
    carry = (internal(c, state0), (times0, jnp.zeros(N, jnp.int32)))
    if trace_every is None:
        carry = run(c, carry, 0, steps)
        ts_rec = v_rec = s_rec = None
    else:
        n_blocks = steps // trace_every

        def record(cr, b):
            v, s = public(c, cr[0])[:2]
            vv, ss = (v, s) if trace_idx is None else (v[trace_idx], s[trace_idx])
            return run(c, cr, b * trace_every, trace_every), (vv, ss)

        carry, (v_rec, s_rec) = lax.scan(record, carry, jnp.arange(n_blocks))
        if steps > n_blocks * trace_every:
            carry = run(c, carry, n_blocks * trace_every, steps - n_blocks * trace_every)
        ts_rec = c.t0 + jnp.arange(n_blocks, dtype=dtype) * (trace_every * c.dt_a)
    final, (times, counts) = carry
    return public(c, final), times, counts, ts_rec, v_rec, s_rec

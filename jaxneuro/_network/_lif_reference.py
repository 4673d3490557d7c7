"""A readable reference step for ``LIFNetwork``, written from the notes' equations (ch. 1.6-1.7).

Every neuron ``i`` (threshold 1, reset 0, time in s) follows

    tau_m dv_i/dt = s_i + J_i - v_i   (v_i = 0 while refractory),    tau_s ds_i/dt = -s_i,

fires at ``v_i = 1`` (then ``v_i = 0`` for ``tau_ref``), and a spike of ``j`` adds ``w_ij / tau_s`` to
``s_i``.  The time convention is ``simulate_lif_network``'s: steps of ``dt``, the drive ``J`` held
constant in each step (a callable evaluated at the middle of the step), and the spikes that
arrive in a step applied after that step's crossings are found, at their exact times.  A
neuron pushed over threshold by such a spike fires at the start of the next step, at the
crossing found by integrating backwards with the previous step's drive.  The fast kernel
(``_lif_kernel``, run by ``simulate_lif_network``) is tested spike for spike equal to this
(``tests/test_lif_reference.py``).

Plain numpy in float64: exact closed forms between events, crossings and maxima located
by bisection to rounding, one step at a time.  Slow (a Python loop over steps), meant
for tests.  Not covered: ``jit``/``vmap``/``grad``, traced parameters, argument checks,
traces and recording options (it returns every spike time), and the kernel's speed-ups
(bitmaps, refractory clocks in steps, grouped delivery), which are what it checks.
"""

from __future__ import annotations

import jax
import numpy as np

from ._noise import normal_seeds, normals


def _k(u, tm, ts):
    # K(u) = tau_s/(tau_s - tau_m) (e^(-u/tau_s) - e^(-u/tau_m)): v at u after s(0) = 1 from v(0) = 0
    a = 1.0 / tm - 1.0 / ts
    return np.exp(-u / tm) * np.where(a == 0, u / tm, np.expm1(a * u) / np.where(a == 0, 1.0, a * tm))


def _v(u, v0, s0, J, tm, ts):
    # v(u) = J + (v0 - J) e^(-u/tau_m) + s0 K(u), the free solution from (v0, s0) with drive J
    return J + (v0 - J) * np.exp(-u / tm) + s0 * _k(u, tm, ts)


def _bisect(f, lo, hi):
    """The point where ``f`` changes sign from negative (at ``lo``) to >= 0 (at ``hi``), to rounding."""
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            return hi
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)


def _crossing(i, y, v, s, vf, sf, J, Jp, tm, ts, dt):
    """The offset in the step of neuron ``i``'s threshold crossing, or None."""
    p = (tm[i], ts[i])
    if v[i] >= 1.0 and y[i] <= 0:  # pushed over by a spike of the last step: back with its drive
        back, lo = lambda u: _v(u, v[i], s[i], Jp[i], *p) - 1.0, max(-dt, y[i])  # noqa: E731
        return lo if back(lo) >= 0 else _bisect(back, lo, 0.0)
    f0, h = max(y[i], 0.0), dt - max(y[i], 0.0)  # the free part of the step: [f0, dt]
    if h <= 0:
        return None
    rise = lambda u: _v(u, vf[i], sf[i], J[i], *p) - 1.0  # noqa: E731
    if rise(h) >= 0:  # above threshold at the end of the step
        return f0 + _bisect(rise, 0.0, h)
    # tau_m dv/du = s(u) + J - v(u): a peak inside the free part where it falls from > 0 to < 0
    slope = lambda u: sf[i] * np.exp(-u / p[1]) + J[i] - _v(u, vf[i], sf[i], J[i], *p)  # noqa: E731
    if slope(0.0) > 0 and slope(h) < 0:
        peak = _bisect(lambda u: -slope(u), 0.0, h)
        if rise(peak) >= 0:
            return f0 + _bisect(rise, 0.0, peak)
    return None


def _deliver(v_end, s_end, w, z, y, tm, ts, dt):
    """Add a spike at offset ``z`` through weights ``w`` (one per target) to the end-of-step state."""
    # its jump w/tau_s of s, decayed to the end of the step: w/tau_s e^(-(dt - z)/tau_s)
    s_end += w / ts * np.exp(-(dt - z) / ts)
    # v's response: K(dt - z) if the target is free at z, else from its release y < dt, with s(y)
    free = _k(dt - z, tm, ts)
    later = np.where(y < dt, np.exp(-(y - z) / ts) * _k(np.maximum(dt - y, 0.0), tm, ts), 0.0)
    v_end += w / ts * np.where(y <= z, free, later)


def simulate_reference(network, duration, *, dt=1e-4, t0=0.0, drive=None, inputs=None, key=None, state0=None):
    """Simulate ``network`` (a ``LIFNetwork``) step by step; the arguments as in ``simulate_lif_network``.

    Returns:
        ``(spikes, final)``: one array of spike times (s) per neuron, and the final
        ``(v, s, refractory, last_drive)`` arrays (as in ``NetworkState``).
    """
    pops, N, steps = network.populations, network.size, int(round(duration / dt))
    per = lambda f: np.concatenate([np.broadcast_to(np.asarray(f(p), float), (p.size,)) for p in pops])  # noqa: E731
    tm, ts, tr = per(lambda p: p.neuron.tau_m), per(lambda p: p.tau_s), per(lambda p: p.neuron.tau_ref)
    W = np.asarray(network.weight_matrix(), float)  # W[i, j]: from j to i
    # J_n = bias + drive(t_n + dt/2) (or row n) + sigma sqrt(tau_m/dt) z_n, held over step n
    J = np.tile(per(lambda p: p.bias), (steps, 1))
    if callable(drive):
        J += np.array([np.broadcast_to(np.asarray(drive(t0 + (n + 0.5) * dt), float), (N,)) for n in range(steps)])
    elif drive is not None:
        J += np.asarray(drive, float).reshape(steps, -1)
    if key is not None:
        seeds = jax.random.bits(key, (2,), dtype=np.uint32)
        z = np.asarray(normals(seeds, np.arange(steps), N, np.float64, normal_seeds(seeds, N)), float)
        J += per(lambda p: p.noise) * np.sqrt(tm / dt) * z
    ev = []  # input spikes: (time from t0, source index)
    if inputs is not None:
        train, W_in = inputs
        times, mask = np.asarray(train.times, float), np.asarray(train.mask)
        ev = sorted((float(times[k, c]) - t0, k) for k, c in zip(*np.nonzero(mask), strict=True))
        W_in = np.asarray(W_in, float)
    if state0 is None:
        v, s, release, Jp = np.zeros(N), np.zeros(N), np.full(N, t0 - 2 * dt), J[0]
    else:
        v, s, r, Jp = (np.asarray(x, float) for x in state0)
        release = t0 + r
    spikes, e = [[] for _ in range(N)], sum(t < 0 for t, _ in ev)  # (inputs before t0 are ignored)
    for n in range(steps):
        t_n = t0 + n * dt
        y = release - t_n  # time from the step start to the end of the refractory period
        v = np.where(y >= 0, 0.0, v)  # held at the reset while refractory
        vf, sf = np.where(y > 0, 0.0, v), s * np.exp(-np.clip(y, 0, dt) / ts)  # at the free part's start
        h = dt - np.clip(y, 0, dt)
        v_end, s_end = _v(h, vf, sf, J[n], tm, ts), s * np.exp(-dt / ts)  # the step without its spikes
        # who may cross: over threshold at the start or the end, or tau_m dv/dt falls through 0 inside
        slope_end = sf * np.exp(-h / ts) + J[n] - v_end
        may = ((v >= 1) & (y <= 0)) | ((h > 0) & ((v_end >= 1) | ((sf + J[n] - vf > 0) & (slope_end < 0))))
        fired = []
        for i in np.nonzero(may)[0]:
            z = _crossing(i, y, v, s, vf, sf, J[n], Jp, tm, ts, dt)
            if z is not None:
                fired.append((i, z))
                spikes[i].append(t_n + z)
                release[i] = t_n + z + tr[i]  # refractory for tau_ref from the spike
        for j, z in fired:  # s_i += w_ij / tau_s at the spike time
            _deliver(v_end, s_end, W[:, j], z, y, tm, ts, dt)
        while e < len(ev) and ev[e][0] < (n + 1) * dt:  # the input spikes of this step
            _deliver(v_end, s_end, W_in[:, ev[e][1]], ev[e][0] - n * dt, y, tm, ts, dt)
            e += 1
        v, s, Jp = v_end, s_end, J[n]
    T = t0 + steps * dt
    v = np.where(release >= T, 0.0, v)
    return [np.array(x) for x in spikes], (v, s, np.maximum(release - T, -2 * dt), Jp)

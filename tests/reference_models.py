"""Independent references for the built-in spiking models (Izhikevich, AdEx, QIF, EIF).

Each right-hand side is written here from the published equations in plain numpy, without
jaxneuro, and integrated by ``spiking_reference``: scipy's ``solve_ivp`` (DOP853 at
rtol 1e-10) with a terminal threshold event, the reset applied at the event, the refractory
period skipped with the state held, and a restart.  Closed forms of the one-dimensional
models' periods are here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.integrate import quad, solve_ivp

# -- parameters as published (units: ms, mV; AdEx pF, nS, pA) -----------------------------
IZHIKEVICH = {  # Izhikevich (2003), Fig. 2: (a, b, c, d)
    "RS": (0.02, 0.2, -65.0, 8.0),
    "IB": (0.02, 0.2, -55.0, 4.0),
    "CH": (0.02, 0.2, -50.0, 2.0),
    "FS": (0.1, 0.2, -65.0, 2.0),
    "LTS": (0.02, 0.25, -65.0, 2.0),
}
IZH_V_PEAK = 30.0

ADEX = dict(  # Brette & Gerstner (2005), regular spiking; V_peak = V_T + 5 Delta_T
    C=281.0, g_L=30.0, E_L=-70.6, V_T=-50.4, Delta_T=2.0, tau_w=144.0, a=4.0, b=80.5, V_r=-70.6, V_peak=-40.4
)
QIF = dict(tau_m=10.0, E_L=-65.0, V_c=-50.0, V_peak=30.0, V_reset=-70.0)
EIF = dict(tau_m=10.0, E_L=-65.0, V_T=-50.0, Delta_T=2.0, V_peak=-40.0, V_reset=-70.0)


def as_drive(drive) -> Callable[[float], float]:
    return drive if callable(drive) else (lambda t, c=float(drive): c)


def step_drive(t_on: float, amplitude: float, baseline: float = 0.0) -> Callable[[float], float]:
    """``baseline`` before ``t_on``, ``amplitude`` from ``t_on`` on (as ``jaxneuro.Step``)."""
    return lambda t: amplitude if t >= t_on else baseline


# -- right-hand sides, from the papers' equations -------------------------------------------
def izhikevich_rhs(t, y, I, a, b):
    v, u = y
    return [0.04 * v * v + 5.0 * v + 140.0 - u + I(t), a * (b * v - u)]


def adex_rhs(t, y, I, p=ADEX):
    V, w = y
    dV = -p["g_L"] * (V - p["E_L"]) + p["g_L"] * p["Delta_T"] * math.exp((V - p["V_T"]) / p["Delta_T"]) - w + I(t)
    return [dV / p["C"], (p["a"] * (V - p["E_L"]) - w) / p["tau_w"]]


def qif_rhs(t, y, RI, p=QIF):
    V = y[0]
    return [((V - p["E_L"]) * (V - p["V_c"]) / (p["V_c"] - p["E_L"]) + RI(t)) / p["tau_m"]]


def eif_rhs(t, y, RI, p=EIF):
    V = y[0]
    return [(-(V - p["E_L"]) + p["Delta_T"] * math.exp((V - p["V_T"]) / p["Delta_T"]) + RI(t)) / p["tau_m"]]


# -- the integrator ------------------------------------------------------------------------
def spiking_reference(
    rhs: Callable,
    y0: Sequence[float],
    reset: Callable[[np.ndarray], Sequence[float]],
    t_end: float,
    *,
    v_peak: float,
    tau_ref: float = 0.0,
    breaks: Sequence[float] = (),
    rtol: float = 1e-10,
    atol: float = 1e-10,
    method: str = "DOP853",
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate ``y' = rhs(t, y)`` from ``y0`` at t = 0 to ``t_end`` with spikes and resets.

    A spike is an upward crossing of ``y[0] = v_peak`` (a terminal event, located by scipy to
    rtol); the state becomes ``reset(y)`` and is held for ``tau_ref``, then integration
    restarts.  ``breaks`` are the drive's discontinuities: no step straddles one.

    Returns:
        (spike times, final state).
    """

    def hit(t, y):
        return y[0] - v_peak

    hit.terminal, hit.direction = True, 1.0
    stops = sorted(float(b) for b in breaks if 0.0 < b < t_end) + [float(t_end)]
    t, y, spikes = 0.0, np.asarray(y0, float), []
    while t < t_end:
        seg_end = next(s for s in stops if s > t)
        sol = solve_ivp(rhs, (t, seg_end), y, method=method, rtol=rtol, atol=atol, events=hit)
        if sol.status == 1:
            t_spike = float(sol.t_events[0][0])
            spikes.append(t_spike)
            y = np.asarray(reset(sol.y_events[0][0]), float)
            t = t_spike + tau_ref
        elif sol.status == 0:
            t, y = seg_end, sol.y[:, -1]
        else:
            raise RuntimeError(sol.message)
    return np.asarray(spikes), y


# -- one call per model ---------------------------------------------------------------------
def izhikevich_reference(name: str, drive, t_end: float, breaks=()) -> np.ndarray:
    a, b, c, d = IZHIKEVICH[name]
    I = as_drive(drive)
    spikes, _ = spiking_reference(
        lambda t, y: izhikevich_rhs(t, y, I, a, b),
        [-65.0, b * -65.0],
        lambda y: [c, y[1] + d],
        t_end,
        v_peak=IZH_V_PEAK,
        breaks=breaks,
    )
    return spikes


def adex_reference(drive, t_end: float, breaks=(), tau_ref: float = 0.0, p=ADEX) -> np.ndarray:
    I = as_drive(drive)
    spikes, _ = spiking_reference(
        lambda t, y: adex_rhs(t, y, I, p),
        [p["E_L"], 0.0],
        lambda y: [p["V_r"], y[1] + p["b"]],
        t_end,
        v_peak=p["V_peak"],
        tau_ref=tau_ref,
        breaks=breaks,
    )
    return spikes


def qif_reference(drive, t_end: float, breaks=(), tau_ref: float = 0.0, p=QIF) -> np.ndarray:
    RI = as_drive(drive)
    spikes, _ = spiking_reference(
        lambda t, y: qif_rhs(t, y, RI, p),
        [p["E_L"]],
        lambda y: [p["V_reset"]],
        t_end,
        v_peak=p["V_peak"],
        tau_ref=tau_ref,
        breaks=breaks,
    )
    return spikes


def eif_reference(drive, t_end: float, breaks=(), tau_ref: float = 0.0, p=EIF) -> np.ndarray:
    RI = as_drive(drive)
    spikes, _ = spiking_reference(
        lambda t, y: eif_rhs(t, y, RI, p),
        [p["E_L"]],
        lambda y: [p["V_reset"]],
        t_end,
        v_peak=p["V_peak"],
        tau_ref=tau_ref,
        breaks=breaks,
    )
    return spikes


# -- closed forms of the 1-D models' periods under a constant drive -------------------------
def qif_period(RI: float, tau_ref: float = 0.0, p=QIF) -> float:
    """Exact reset-to-peak time of the QIF plus ``tau_ref`` (ms), for ``RI`` above rheobase.

    With ``D = V_c - E_L``, ``V_m = (E_L + V_c)/2``, ``q = D (RI - D/4)``:
    ``tau dV/dt = ((V - V_m)^2 + q) / D``, so
    ``T = tau D / sqrt(q) [atan((V_peak - V_m)/sqrt(q)) - atan((V_reset - V_m)/sqrt(q))]``.
    """
    D = p["V_c"] - p["E_L"]
    q = D * (RI - D / 4.0)
    if q <= 0:
        return math.inf
    s = math.sqrt(q)
    Vm = 0.5 * (p["E_L"] + p["V_c"])
    return tau_ref + p["tau_m"] * D / s * (math.atan((p["V_peak"] - Vm) / s) - math.atan((p["V_reset"] - Vm) / s))


def qif_theta_period(RI: float, p=QIF) -> float:
    """The canonical (theta-neuron) period ``pi tau sqrt(D / (RI - D/4))``: the limit of
    ``qif_period`` for ``V_peak -> inf``, ``V_reset -> -inf`` (Ermentrout & Kopell 1986)."""
    D = p["V_c"] - p["E_L"]
    return math.pi * p["tau_m"] * math.sqrt(D / (RI - D / 4.0))


def eif_period(RI: float, tau_ref: float = 0.0, p=EIF) -> float:
    """Reset-to-peak time of the EIF plus ``tau_ref`` (ms) by quadrature of ``tau dV / f(V)``
    (``f > 0`` on the whole interval above rheobase ``V_T - E_L - Delta_T``)."""
    if RI <= p["V_T"] - p["E_L"] - p["Delta_T"]:
        return math.inf

    def dt_dV(V):
        return 1.0 / eif_rhs(0.0, [V], lambda t: RI, p)[0]

    value, _ = quad(dt_dV, p["V_reset"], p["V_peak"], epsabs=1e-13, epsrel=1e-13, limit=200)
    return tau_ref + value

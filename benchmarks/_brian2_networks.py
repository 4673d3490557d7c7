"""Brian2 reference networks for the network benchmarks: CUBA, COBA, COBAHH and Brunel (2000).

Each function builds one network exactly as the Brian2 example named in its docstring does (same
equations, integration method, initial conditions, connectivity and weights; only the network size,
seed, duration and time step are arguments), runs it with the cython target and returns its spikes.
Brian2 is a benchmark-only dependency and is imported lazily, inside the functions.

Sources (Brian2 2.9 repository, ``github.com/brian-team/brian2``):

- CUBA: ``examples/CUBA.py`` (Brette et al. 2007, benchmark 2).
- COBAHH: ``examples/COBAHH.py`` (Brette et al. 2007, benchmark 3).
- Brunel: ``examples/frompapers/Brunel_2000.py`` (Brunel 2000, model A, Fig. 8).
- COBA: Brian2 has no example of benchmark 1 (the LIF network with conductance synapses; its
  ``example_1_COBA.py`` of Stimberg et al. 2018 is a different network with short-term plasticity).
  It is translated from Brian 1's ``examples/COBA.py`` (R. Brette, Dec 2007, ``github.com/brian-team/brian``),
  the benchmark's reference implementation by the benchmark's author; see :func:`coba`.

Brian2's update order within one time step of ``dt`` (identical in all four networks), starting at
time ``t``: (1) ``not_refractory = timestep(t - lastspike, dt) >= timestep(refractory, dt)``;
(2) the state update of every differential equation from ``t`` to ``t + dt`` (an equation flagged
``(unless refractory)`` has its right-hand side multiplied by ``int(not_refractory)``, so it is
frozen while refractory); (3) threshold: a neuron spikes if its condition holds *and*
``not_refractory``; it is then marked ``not_refractory = False``, ``lastspike = t`` and its spike is
recorded at time ``t`` (the start of the step, although the crossing happened during it);
(4) synaptic propagation (``on_pre`` of spikes emitted ``delay`` earlier; with no delay, spikes of
this step) and ``PoissonInput``; (5) reset. So a neuron that spiked at step ``k`` (time ``t_k``) is
refractory in steps ``k+1 .. k+R-1`` with ``R = round(refractory/dt)`` and may spike again at step
``k+R`` at the earliest (ISI >= refractory). Writes to a variable flagged ``(unless refractory)`` (``on_pre='v += J'``,
``PoissonInput``) are ignored while the neuron is refractory, the step of its spike included
(measured: a neuron that spikes at step 0 with a 2 ms refractory period keeps v at the reset
value through step 19).

Connectivity is Brian2's ``connect(p=...)``: every (pre, post) pair independently with probability
``p``, autapses (i == j) included.

Every Brian object but the ``PoissonInput`` (which takes no name) gets a fixed name, so that the
generated code, and with it the cython cache entry, is the same on every call (automatic names
such as ``neurongroup_1`` would change the code when an earlier network is still alive and force a
recompilation); earlier networks are garbage-collected before a new one is built.

Timing: ``build_s`` is the wall time of ``start_scope`` + network construction (including the
synapse creation code) + ``run(0 s)``, which generates and compiles (or loads from the cache in
``~/.cython/brian_extensions``) every code object; ``run_s`` is the wall time of the following
``run(duration)`` alone, and ``run_cpu_s`` its process CPU time (less sensitive to other load on
the core).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

#: Brunel (2000) Fig. 8 panels, as in Brian2's ``examples/frompapers/Brunel_2000.py``:
#: ``g`` (relative inhibitory strength) and ``nu_ratio`` (= nu_ext / nu_thr).
BRUNEL_REGIMES: dict[str, dict[str, Any]] = {
    "A": {"g": 3.0, "nu_ratio": 2.0, "name": "SR (synchronous regular)"},
    "B": {"g": 6.0, "nu_ratio": 4.0, "name": "SI fast (synchronous irregular, fast oscillation)"},
    "C": {"g": 5.0, "nu_ratio": 2.0, "name": "AI (asynchronous irregular)"},
    "D": {"g": 4.5, "nu_ratio": 0.9, "name": "SI slow (synchronous irregular, slow oscillation)"},
}

CUBA_EQUATIONS = """
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""

COBA_EQUATIONS = """
dv/dt = (-(v-El)+ge*(Ee-v)+gi*(Ei-v))*(1./taum) : volt (unless refractory)
dge/dt = -ge*(1./taue) : 1
dgi/dt = -gi*(1./taui) : 1
"""

COBAHH_EQUATIONS = """
dv/dt = (gl*(El-v)+ge*(Ee-v)+gi*(Ei-v)-
         g_na*(m*m*m)*h*(v-ENa)-
         g_kd*(n*n*n*n)*(v-EK))/Cm : volt
dm/dt = alpha_m*(1-m)-beta_m*m : 1
dn/dt = alpha_n*(1-n)-beta_n*n : 1
dh/dt = alpha_h*(1-h)-beta_h*h : 1
dge/dt = -ge*(1./taue) : siemens
dgi/dt = -gi*(1./taui) : siemens
alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
"""

BRUNEL_EQUATIONS = """
dv/dt = -v/tau : volt (unless refractory)
"""


def _brian2() -> Any:
    import brian2

    brian2.prefs.codegen.target = "cython"
    brian2.prefs.logging.console_log_level = "WARNING"
    return brian2


def _start(b2: Any, seed: int, dt_ms: float) -> float:
    """Fresh scope, clock and seed; returns the start time of the build."""
    gc.collect()  # free earlier networks, so that automatic names (PoissonInput's) are reused
    t0 = time.perf_counter()
    b2.start_scope()
    b2.defaultclock.dt = dt_ms * b2.ms
    b2.seed(seed)
    return t0


def _finish(
    b2: Any,
    t0: float,
    net: Any,
    group: Any,
    monitor: Any,
    namespace: dict[str, Any],
    duration_s: float,
    n: int,
    n_exc: int,
    params: dict[str, Any],
) -> dict[str, Any]:
    net.run(0 * b2.second, namespace=namespace)  # code generation + compilation (or cache load)
    build_s = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    net.run(duration_s * b2.second, namespace=namespace)
    run_s, run_cpu_s = time.perf_counter() - t1, time.process_time() - c1
    params = dict(params, state_update_code=str(group.state_updater.abstract_code).strip())
    return {
        "i": np.asarray(monitor.i[:], dtype=np.int64),
        "t": np.asarray(monitor.t_[:], dtype=np.float64),
        "n": int(n),
        "n_exc": int(n_exc),
        "duration_s": float(duration_s),
        "build_s": build_s,
        "run_s": run_s,
        "run_cpu_s": run_cpu_s,
        "params": params,
    }


def cuba(n: int = 4000, seed: int = 0, duration_s: float = 1.0, dt_ms: float = 0.1) -> dict[str, Any]:
    """CUBA: Brette et al. (2007) benchmark 2, as in Brian2's ``examples/CUBA.py``.

    LIF neurons with exponentially decaying synaptic *currents* expressed as voltages::

        dv/dt  = (ge + gi - (v - El)) / taum   : volt  (unless refractory)
        dge/dt = -ge / taue                     : volt
        dgi/dt = -gi / taui                     : volt

    integrated with ``method='exact'`` (the analytic solution of this linear system over one step,
    ge and gi are not frozen during refractoriness). Threshold ``v > Vt``, reset ``v = Vr``,
    refractory 5 ms (v frozen at Vr; the threshold is disabled).

    Parameters (as in the example): taum = 20 ms, taue = 5 ms, taui = 10 ms, Vt = -50 mV,
    Vr = -60 mV, El = -49 mV (above threshold: the network drives itself).
    ``n_exc = int(0.8 n)`` excitatory neurons (indices ``0 .. n_exc-1``; 3200 of 4000 in the example),
    the rest inhibitory. Synapses ``on_pre='ge += we'`` from ``i < n_exc`` and ``on_pre='gi += wi'``
    from ``i >= n_exc``, to every neuron with probability p = 0.02 (autapses allowed), no delay:
    we = 60 * 0.27 / 10 mV = 1.62 mV, wi = -20 * 4.5 / 10 mV = -9 mV (added to ge / gi, in volts).
    Initial conditions: v uniform in [Vr, Vt) (``'Vr + rand() * (Vt - Vr)'``), ge = gi = 0 mV.
    Brian2's example fixes n = 4000; p stays 0.02 at other sizes (so the in-degree scales with n).
    """
    b2 = _brian2()
    t0 = _start(b2, seed, dt_ms)
    ms, mV = b2.ms, b2.mV
    n_exc = int(0.8 * n)
    ns = {
        "taum": 20 * ms,
        "taue": 5 * ms,
        "taui": 10 * ms,
        "Vt": -50 * mV,
        "Vr": -60 * mV,
        "El": -49 * mV,
        "we": (60 * 0.27 / 10) * mV,
        "wi": (-20 * 4.5 / 10) * mV,
        "n_exc": n_exc,
    }
    P = b2.NeuronGroup(
        n,
        CUBA_EQUATIONS,
        threshold="v>Vt",
        reset="v = Vr",
        refractory=5 * ms,
        method="exact",
        namespace=ns,
        name="cuba_neurons",
    )
    P.v = "Vr + rand() * (Vt - Vr)"
    P.ge = 0 * mV
    P.gi = 0 * mV
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=ns, name="cuba_exc_synapses")
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=ns, name="cuba_inh_synapses")
    Ce.connect("i<n_exc", p=0.02)
    Ci.connect("i>=n_exc", p=0.02)
    mon = b2.SpikeMonitor(P, name="cuba_spikes")
    net = b2.Network(P, Ce, Ci, mon)
    params = {
        "source": "brian2 examples/CUBA.py",
        "equations": CUBA_EQUATIONS.strip(),
        "method": "exact",
        "dt_ms": dt_ms,
        "taum_ms": 20.0,
        "taue_ms": 5.0,
        "taui_ms": 10.0,
        "Vt_mV": -50.0,
        "Vr_mV": -60.0,
        "El_mV": -49.0,
        "refractory_ms": 5.0,
        "we_mV": 60 * 0.27 / 10,
        "wi_mV": -20 * 4.5 / 10,
        "p": 0.02,
        "n_exc": n_exc,
        "n_synapses": (len(Ce), len(Ci)),
        "init": "v ~ U[Vr, Vt), ge = gi = 0",
    }
    return _finish(b2, t0, net, P, mon, ns, duration_s, n, n_exc, params)


def coba(n: int = 4000, seed: int = 0, duration_s: float = 1.0, dt_ms: float = 0.1) -> dict[str, Any]:
    """COBA: Brette et al. (2007) benchmark 1 (Vogels & Abbott 2005 network), Brian 1's ``examples/COBA.py``.

    Brian2 has no example of this network; this is Brian 1's ``examples/COBA.py`` (R. Brette, Dec 2007,
    the reference implementation of the benchmark) written for Brian2, with the voltage measured from
    0 mV instead of from rest (Brian 1 used v_rel = v + 60 mV: threshold 10 mV, reset 0 mV,
    Ee = 60 mV, Ei = -20 mV; all shifted by El = -60 mV here, which leaves the dynamics unchanged).
    Conductances are dimensionless, in units of the leak conductance gl (Brian 1's "NB 1")::

        dv/dt  = (-(v - El) + ge (Ee - v) + gi (Ei - v)) / taum   : volt  (unless refractory)
        dge/dt = -ge / taue                                        : 1
        dgi/dt = -gi / taui                                        : 1

    integrated with ``method='euler'`` (forward Euler; Brian 1 used ``order=1``, i.e. Euler, and
    Euler is also what Brian2 picks for these non-linear equations). Threshold ``v > Vt``, reset
    ``v = Vr``, refractory 5 ms (v frozen at Vr, as Brian 1 clamped it; ge, gi keep decaying).

    Parameters: taum = 20 ms (= Cm / gl with Cm = 200 pF, gl = 10 nS), taue = 5 ms, taui = 10 ms,
    El = -60 mV, Vt = -50 mV, Vr = -60 mV, Ee = 0 mV, Ei = -80 mV. ``n_exc = int(0.8 n)``
    excitatory neurons (first indices). Synapses ``ge += we`` from the excitatory and ``gi += wi``
    from the inhibitory subgroup to every neuron with probability p = 0.02 (autapses allowed), no
    delay: we = 6 / 10 = 0.6 (6 nS / gl), wi = 67 / 10 = 6.7 (67 nS / gl), dimensionless.
    Initial conditions (Brian 1's, also those of Brian2's COBAHH example):
    v = El + (5 randn - 5) mV, ge = 1.5 randn + 4, gi = 12 randn + 20 (gl units; randn standard
    normal, so some initial gi are negative, as in the source). No external input: the activity is
    self-sustained from this initial state.
    """
    b2 = _brian2()
    t0 = _start(b2, seed, dt_ms)
    ms, mV = b2.ms, b2.mV
    n_exc = int(0.8 * n)
    ns = {
        "taum": 20 * ms,
        "taue": 5 * ms,
        "taui": 10 * ms,
        "El": -60 * mV,
        "Vt": -50 * mV,
        "Vr": -60 * mV,
        "Ee": 0 * mV,
        "Ei": -80 * mV,
        "we": 6.0 / 10.0,
        "wi": 67.0 / 10.0,
    }
    P = b2.NeuronGroup(
        n,
        COBA_EQUATIONS,
        threshold="v>Vt",
        reset="v = Vr",
        refractory=5 * ms,
        method="euler",
        namespace=ns,
        name="coba_neurons",
    )
    Pe = P[:n_exc]
    Pi = P[n_exc:]
    Ce = b2.Synapses(Pe, P, on_pre="ge += we", namespace=ns, name="coba_exc_synapses")
    Ci = b2.Synapses(Pi, P, on_pre="gi += wi", namespace=ns, name="coba_inh_synapses")
    Ce.connect(p=0.02)
    Ci.connect(p=0.02)
    P.v = "El + (randn() * 5 - 5)*mV"
    P.ge = "randn() * 1.5 + 4"
    P.gi = "randn() * 12 + 20"
    mon = b2.SpikeMonitor(P, name="coba_spikes")
    net = b2.Network(P, Ce, Ci, mon)
    params = {
        "source": "brian (1) examples/COBA.py, R. Brette 2007; Brian2 has no COBA LIF example",
        "equations": COBA_EQUATIONS.strip(),
        "method": "euler",
        "dt_ms": dt_ms,
        "taum_ms": 20.0,
        "taue_ms": 5.0,
        "taui_ms": 10.0,
        "El_mV": -60.0,
        "Vt_mV": -50.0,
        "Vr_mV": -60.0,
        "Ee_mV": 0.0,
        "Ei_mV": -80.0,
        "refractory_ms": 5.0,
        "we_gl": 0.6,
        "wi_gl": 6.7,
        "gl_nS": 10.0,
        "p": 0.02,
        "n_exc": n_exc,
        "n_synapses": (len(Ce), len(Ci)),
        "init": "v = El + (5 randn - 5) mV, ge = 1.5 randn + 4, gi = 12 randn + 20 (units of gl)",
    }
    return _finish(b2, t0, net, P, mon, ns, duration_s, n, n_exc, params)


def cobahh(n: int = 4000, seed: int = 0, duration_s: float = 1.0, dt_ms: float = 0.1) -> dict[str, Any]:
    """COBAHH: Brette et al. (2007) benchmark 3, as in Brian2's ``examples/COBAHH.py``.

    Hodgkin-Huxley neurons of Traub & Miles type with exponential synaptic conductances::

        dv/dt  = (gl (El - v) + ge (Ee - v) + gi (Ei - v)
                  - g_na m^3 h (v - ENa) - g_kd n^4 (v - EK)) / Cm   : volt
        dm/dt  = alpha_m (1 - m) - beta_m m                            : 1
        dn/dt  = alpha_n (1 - n) - beta_n n                            : 1
        dh/dt  = alpha_h (1 - h) - beta_h h                            : 1
        dge/dt = -ge / taue                                            : siemens
        dgi/dt = -gi / taui                                            : siemens
        alpha_m = 0.32/mV * 4 mV / exprel((13 mV - v + VT) / 4 mV) / ms
        beta_m  = 0.28/mV * 5 mV / exprel((v - VT - 40 mV) / 5 mV) / ms
        alpha_h = 0.128 exp((17 mV - v + VT) / 18 mV) / ms
        beta_h  = 4 / (1 + exp((40 mV - v + VT) / 5 mV)) / ms
        alpha_n = 0.032/mV * 5 mV / exprel((15 mV - v + VT) / 5 mV) / ms
        beta_n  = 0.5 exp((10 mV - v + VT) / 40 mV) / ms

    with ``exprel(x) = (exp(x) - 1) / x`` (so alpha_m = 0.32 (13 mV - v + VT) / (exp(...) - 1) per mV per
    ms, etc.), integrated with ``method='exponential_euler'`` (each variable's equation is linear in
    itself given the others: x_new = -B/A + (x + B/A) exp(A dt) for dx/dt = A x + B, with A, B
    evaluated at the start of the step, variables updated from the same old state).
    Threshold ``v > -20 mV``, no reset, refractory 3 ms (only disables the threshold: no variable is
    frozen; a spike is the first step above -20 mV, and the next can come >= 3 ms later).

    Parameters: area = 20000 um^2, Cm = 1 uF/cm^2 * area = 200 pF, gl = 5e-5 S/cm^2 * area = 10 nS,
    El = -60 mV, EK = -90 mV, ENa = 50 mV, g_na = 100 mS/cm^2 * area = 20 uS,
    g_kd = 30 mS/cm^2 * area = 6 uS, VT = -63 mV, taue = 5 ms, taui = 10 ms, Ee = 0 mV, Ei = -80 mV.
    ``n_exc = int(0.8 n)`` excitatory neurons (first indices). Synapses ``ge += we`` (we = 6 nS) from
    the excitatory and ``gi += wi`` (wi = 67 nS) from the inhibitory subgroup to every neuron with
    probability p = 0.02 (autapses allowed), no delay.
    Initial conditions: v = El + (5 randn - 5) mV, ge = (1.5 randn + 4) * 10 nS,
    gi = (12 randn + 20) * 10 nS; m, n, h start at 0 (Brian2's default; the example sets none).
    No external input.
    """
    b2 = _brian2()
    t0 = _start(b2, seed, dt_ms)
    ms, mV, nS = b2.ms, b2.mV, b2.nS
    area = 20000 * b2.umetre**2
    n_exc = int(0.8 * n)
    ns = {
        "Cm": (1 * b2.ufarad * b2.cm**-2) * area,
        "gl": (5e-5 * b2.siemens * b2.cm**-2) * area,
        "El": -60 * mV,
        "EK": -90 * mV,
        "ENa": 50 * mV,
        "g_na": (100 * b2.msiemens * b2.cm**-2) * area,
        "g_kd": (30 * b2.msiemens * b2.cm**-2) * area,
        "VT": -63 * mV,
        "taue": 5 * ms,
        "taui": 10 * ms,
        "Ee": 0 * mV,
        "Ei": -80 * mV,
        "we": 6 * nS,
        "wi": 67 * nS,
        "mV": mV,
        "ms": ms,
        "nS": nS,
    }
    P = b2.NeuronGroup(
        n,
        model=b2.Equations(COBAHH_EQUATIONS),
        threshold="v>-20*mV",
        refractory=3 * ms,
        method="exponential_euler",
        namespace=ns,
        name="cobahh_neurons",
    )
    Pe = P[:n_exc]
    Pi = P[n_exc:]
    Ce = b2.Synapses(Pe, P, on_pre="ge+=we", namespace=ns, name="cobahh_exc_synapses")
    Ci = b2.Synapses(Pi, P, on_pre="gi+=wi", namespace=ns, name="cobahh_inh_synapses")
    Ce.connect(p=0.02)
    Ci.connect(p=0.02)
    P.v = "El + (randn() * 5 - 5)*mV"
    P.ge = "(randn() * 1.5 + 4) * 10.*nS"
    P.gi = "(randn() * 12 + 20) * 10.*nS"
    mon = b2.SpikeMonitor(P, name="cobahh_spikes")
    net = b2.Network(P, Ce, Ci, mon)
    params = {
        "source": "brian2 examples/COBAHH.py",
        "equations": COBAHH_EQUATIONS.strip(),
        "method": "exponential_euler",
        "dt_ms": dt_ms,
        "Cm_pF": 200.0,
        "gl_nS": 10.0,
        "El_mV": -60.0,
        "EK_mV": -90.0,
        "ENa_mV": 50.0,
        "g_na_uS": 20.0,
        "g_kd_uS": 6.0,
        "VT_mV": -63.0,
        "taue_ms": 5.0,
        "taui_ms": 10.0,
        "Ee_mV": 0.0,
        "Ei_mV": -80.0,
        "threshold_mV": -20.0,
        "refractory_ms": 3.0,
        "we_nS": 6.0,
        "wi_nS": 67.0,
        "p": 0.02,
        "n_exc": n_exc,
        "n_synapses": (len(Ce), len(Ci)),
        "init": "v = El + (5 randn - 5) mV, ge = (1.5 randn + 4) 10 nS, gi = (12 randn + 20) 10 nS, m = n = h = 0",
    }
    return _finish(b2, t0, net, P, mon, ns, duration_s, n, n_exc, params)


def brunel(
    n_e: int = 10000,
    n_i: int = 2500,
    c_e: float = 1000.0,
    g: float = 5.0,
    nu_ratio: float = 2.0,
    seed: int = 0,
    duration_s: float = 1.0,
    dt_ms: float = 0.1,
    delay_ms: float = 1.5,
    J_mV: float = 0.1,
    tau_ms: float = 20.0,
    theta_mV: float = 20.0,
    V_r_mV: float = 10.0,
    tau_rp_ms: float = 2.0,
) -> dict[str, Any]:
    """Brunel (2000) model A, as in Brian2's ``examples/frompapers/Brunel_2000.py`` (its Fig. 8).

    LIF neurons with delta synapses (instantaneous voltage jumps), v measured from rest::

        dv/dt = -v / tau : volt  (unless refractory)

    integrated with ``method='exact'`` (v <- v exp(-dt / tau)); threshold ``v > theta``, reset
    ``v = V_r``, refractory tau_rp (the leak is frozen and synaptic and Poisson jumps arriving then
    are ignored, as Brian2 does for a variable flagged ``(unless refractory)``; the threshold is
    disabled then).

    Defaults are the example's: N_E = 10000, N_I = round(0.25 N_E) = 2500, epsilon = 0.1,
    C_E = epsilon N_E = 1000, tau = 20 ms, theta = 20 mV, V_r = 10 mV, tau_rp = 2 ms, J = 0.1 mV,
    D = 1.5 ms, dt = 0.1 ms. Here ``epsilon = c_e / n_e``:

    - recurrent synapses from the ``n_e`` excitatory neurons (indices ``0 .. n_e-1``) with
      ``on_pre='v += J'``, and from the ``n_i`` inhibitory neurons with ``on_pre='v += -g*J'``, each to
      every neuron with probability epsilon (autapses allowed; in-degrees binomial with means
      C_E = epsilon n_e and C_I = epsilon n_i), all with delay D (``delay_ms``);
    - external input ``PoissonInput(target_var='v', N=C_ext, rate=nu_ext, weight=J)`` with
      C_ext = C_E (rounded to an int): at every step each neuron gets ``J * k`` added to v, k drawn
      from Binomial(C_ext, nu_ext dt) independently per neuron and step (applied in the synapses
      slot, after the threshold, before the reset; Brian2 replaces the binomial by a normal
      distribution of the same mean and variance when C_ext p > 5 and C_ext (1 - p) > 5, with
      p = nu_ext dt, which does not happen at the defaults or at the four panels' rates:
      C_ext p <= 4 for C_E = 400 and <= 2 for C_E = 1000 at dt = 0.1 ms);
    - nu_thr = theta / (J C_E tau) (10 Hz at the defaults) and nu_ext = ``nu_ratio`` * nu_thr.

    Initial condition: v = 0 (the example sets none). See :data:`BRUNEL_REGIMES` for the four
    panels' ``g`` and ``nu_ratio``.
    """
    b2 = _brian2()
    t0 = _start(b2, seed, dt_ms)
    ms, mV, Hz = b2.ms, b2.mV, b2.Hz
    n = n_e + n_i
    epsilon = c_e / n_e
    c_ext = int(round(c_e))
    nu_thr_hz = theta_mV / (J_mV * c_e * tau_ms * 1e-3)
    nu_ext_hz = nu_ratio * nu_thr_hz
    ns = {
        "tau": tau_ms * ms,
        "theta": theta_mV * mV,
        "V_r": V_r_mV * mV,
        "J": J_mV * mV,
        "g": g,
    }
    neurons = b2.NeuronGroup(
        n,
        BRUNEL_EQUATIONS,
        threshold="v > theta",
        reset="v = V_r",
        refractory=tau_rp_ms * ms,
        method="exact",
        namespace=ns,
        name="brunel_neurons",
    )
    exc = neurons[:n_e]
    inh = neurons[n_e:]
    exc_syn = b2.Synapses(
        exc, target=neurons, on_pre="v += J", delay=delay_ms * ms, namespace=ns, name="brunel_exc_synapses"
    )
    exc_syn.connect(p=epsilon)
    inh_syn = b2.Synapses(
        inh, target=neurons, on_pre="v += -g*J", delay=delay_ms * ms, namespace=ns, name="brunel_inh_synapses"
    )
    inh_syn.connect(p=epsilon)
    poisson = b2.PoissonInput(target=neurons, target_var="v", N=c_ext, rate=nu_ext_hz * Hz, weight=J_mV * mV)
    mon = b2.SpikeMonitor(neurons, name="brunel_spikes")
    net = b2.Network(neurons, exc_syn, inh_syn, poisson, mon)
    params = {
        "source": "brian2 examples/frompapers/Brunel_2000.py",
        "equations": BRUNEL_EQUATIONS.strip(),
        "method": "exact",
        "dt_ms": dt_ms,
        "n_e": n_e,
        "n_i": n_i,
        "c_e": c_e,
        "epsilon": epsilon,
        "c_ext": c_ext,
        "g": g,
        "nu_ratio": nu_ratio,
        "nu_thr_hz": nu_thr_hz,
        "nu_ext_hz": nu_ext_hz,
        "J_mV": J_mV,
        "delay_ms": delay_ms,
        "tau_ms": tau_ms,
        "theta_mV": theta_mV,
        "V_r_mV": V_r_mV,
        "tau_rp_ms": tau_rp_ms,
        "n_synapses": (len(exc_syn), len(inh_syn)),
        "init": "v = 0",
    }
    return _finish(b2, t0, net, neurons, mon, ns, duration_s, n, n_e, params)


def brunel_regime(regime: str, **kwargs: Any) -> dict[str, Any]:
    """:func:`brunel` with ``g`` and ``nu_ratio`` of panel ``regime`` ("A", "B", "C" or "D")."""
    r = BRUNEL_REGIMES[regime]
    return brunel(g=r["g"], nu_ratio=r["nu_ratio"], **kwargs)


__all__ = ["BRUNEL_REGIMES", "brunel", "brunel_regime", "coba", "cobahh", "cuba"]

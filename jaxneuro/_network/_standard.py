"""The field's benchmark networks, built as their reference implementations build them.

* ``cuba_network``: Brette et al. (2007) benchmark 2, as Brian2's ``examples/CUBA.py``.
* ``coba_network``: benchmark 1 (the Vogels & Abbott 2005 network), as Brian 1's
  ``examples/COBA.py`` (the benchmark author's implementation; Brian2 has no example of it).
* ``cobahh_network``: benchmark 3, as Brian2's ``examples/COBAHH.py`` (Traub-Miles neurons).
* ``brunel_network``: Brunel (2000) model A with delta synapses, a delay and Poisson input, as
  Brian2's ``examples/frompapers/Brunel_2000.py``; ``BRUNEL_REGIMES`` holds Fig. 8's panels.

Each returns a ``Network`` with populations ``"exc"`` and ``"inh"`` (80% / 20% of ``n``, or
``n_e`` / ``n_i``); time in ms.  Simulate with ``simulate_network(net, T, dt=0.1, key=key)``:
the key draws the initial state.  ``benchmarks/standard_networks.py`` runs them against Brian2
in one script; the tests check their statistics against figures Brian2 gives.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .._misc import check_int
from .._neurons._hh import HHState
from .._neurons._iaf import IntegrateAndFire
from .._neurons._traub_miles import TraubMiles
from .._solvers._exp_euler import Euler
from .._synapses import DeltaSynapse, ExponentialConductance, ExponentialCurrent
from ._connectivity import FixedProbability
from ._model import Network, PoissonInput, Population, Projection

#: Brunel (2000) Fig. 8 panels: relative inhibition ``g`` and ``nu_ratio = nu_ext / nu_thr``.
BRUNEL_REGIMES: dict[str, dict[str, Any]] = {
    "A": {"g": 3.0, "nu_ratio": 2.0, "name": "SR (synchronous regular)"},
    "B": {"g": 6.0, "nu_ratio": 4.0, "name": "SI fast (synchronous irregular, fast oscillation)"},
    "C": {"g": 5.0, "nu_ratio": 2.0, "name": "AI (asynchronous irregular)"},
    "D": {"g": 4.5, "nu_ratio": 0.9, "name": "SI slow (synchronous irregular, slow oscillation)"},
}


def _sizes(n: int) -> tuple[int, int]:
    check_int("n", n, 2, numpy=False, hint="(80% excitatory, 20% inhibitory)")
    return int(0.8 * n), n - int(0.8 * n)


def _exc_inh(pops, synapses, weights, p: float, seed: int, s0=(None, None)) -> Network:
    rule = FixedProbability(p)
    projs = [
        Projection(pre, post, syn, rule, weight=w, s0=s)
        for pre, syn, w, s in zip(("exc", "inh"), synapses, weights, s0, strict=True)
        for post in ("exc", "inh")
    ]
    return Network(pops, projs, seed=seed)


def cuba_network(n: int = 4000, seed: int = 0, p: float = 0.02) -> Network:
    """CUBA (Brette et al. 2007, benchmark 2; Brian2's ``examples/CUBA.py``): integrate-and-fire
    neurons with exponential synaptic currents, self-sustained (the leak potential is above
    threshold).

        tau_m dv/dt = (E_L - v) + g_e + g_i,   tau_e dg_e/dt = -g_e,   tau_i dg_i/dt = -g_i
        tau_m 20 ms, E_L -49 mV, V_th -50 mV, V_reset -60 mV, refractory 5 ms;
        tau_e 5 ms, tau_i 10 ms; g_e += 1.62 mV (60 x 0.27/10), g_i += -9 mV (-20 x 4.5/10);
        every pair connected with probability p = 0.02; v0 uniform in [V_reset, V_th).

    Example::

        run = jn.simulate_network(jn.cuba_network(4000), 1000.0, dt=0.1, key=jax.random.key(0))
    """
    n_e, n_i = _sizes(n)
    cell = IntegrateAndFire(tau_m=20.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)

    def v0(key, shape):
        return jax.random.uniform(key, shape, minval=-60.0, maxval=-50.0)

    pops = [Population(n_e, cell, "exc", v0=v0), Population(n_i, cell, "inh", v0=v0)]
    return _exc_inh(pops, (ExponentialCurrent(5.0), ExponentialCurrent(10.0)), (1.62, -9.0), p, seed)


def coba_network(n: int = 4000, seed: int = 0, p: float = 0.02, euler: bool = True) -> Network:
    """COBA (Brette et al. 2007, benchmark 1; Vogels & Abbott 2005), as Brian 1's
    ``examples/COBA.py``: integrate-and-fire neurons with exponential synaptic conductances
    (dimensionless, in units of the leak conductance).

        tau_m dv/dt = (E_L - v) + g_e (E_e - v) + g_i (E_i - v)
        tau_m 20 ms, E_L -60 mV, V_th -50 mV, V_reset -60 mV, refractory 5 ms;
        E_e 0 mV, E_i -80 mV, tau_e 5 ms, tau_i 10 ms; g_e += 0.6 (6 nS / 10 nS), g_i += 6.7;
        p = 0.02; v0 = E_L + 5 z - 5 mV, g_e0 = 1.5 z + 4, g_i0 = 12 z + 20 (z standard normal).

    ``euler=True`` integrates the membrane with forward Euler as Brian does for these equations
    (``False``: ``ExponentialEuler``, exact for the membrane under the held conductances).
    """
    n_e, n_i = _sizes(n)
    cell = IntegrateAndFire(tau_m=20.0, E_L=-60.0, V_th=-50.0, V_reset=-60.0, tau_ref=5.0)
    solver = Euler() if euler else None

    def v0(key, shape):
        return -60.0 + 5.0 * jax.random.normal(key, shape) - 5.0

    def g0(mean, sd):
        return lambda key, shape: sd * jax.random.normal(key, shape) + mean

    pops = [Population(n_e, cell, "exc", v0=v0, solver=solver), Population(n_i, cell, "inh", v0=v0, solver=solver)]
    syns = (ExponentialConductance(5.0, 0.0), ExponentialConductance(10.0, -80.0))
    return _exc_inh(pops, syns, (0.6, 6.7), p, seed, s0=(g0(4.0, 1.5), g0(20.0, 12.0)))


def cobahh_network(n: int = 4000, seed: int = 0, p: float = 0.02) -> Network:
    """COBAHH (Brette et al. 2007, benchmark 3; Brian2's ``examples/COBAHH.py``): Traub-Miles
    neurons (``TraubMiles``) with exponential synaptic conductances, per unit area of Brian2's
    20,000 um^2 patch (so nS become 5e-3 mS/cm^2 each).

        C dv/dt = g_L (E_L - v) + g_e (E_e - v) + g_i (E_i - v) - I_Na - I_K
        g_e += 6 nS = 0.03 mS/cm^2 (tau_e 5 ms, E_e 0 mV), g_i += 67 nS = 0.335 mS/cm^2
        (tau_i 10 ms, E_i -80 mV); p = 0.02; spikes at v > -20 mV;
        v0 = E_L + 5 z - 5 mV, m = n = h = 0, g_e0 = (1.5 z + 4) 10 nS, g_i0 = (12 z + 20) 10 nS.

    Integrated by ``ExponentialEuler`` (Brian2's ``exponential_euler``).
    """
    n_e, n_i = _sizes(n)
    cell = TraubMiles()
    nS = 5e-3  # mS/cm^2 per nS on 20,000 um^2

    def y0(key, size):
        zero = jnp.zeros((size,))
        return HHState(v=-60.0 + 5.0 * jax.random.normal(key, (size,)) - 5.0, n=zero, m=zero, h=zero)

    def g0(mean, sd):
        return lambda key, shape: (sd * jax.random.normal(key, shape) + mean) * 10.0 * nS

    pops = [Population(n_e, cell, "exc", y0=y0), Population(n_i, cell, "inh", y0=y0)]
    syns = (ExponentialConductance(5.0, 0.0), ExponentialConductance(10.0, -80.0))
    return _exc_inh(pops, syns, (6.0 * nS, 67.0 * nS), p, seed, s0=(g0(4.0, 1.5), g0(20.0, 12.0)))


def brunel_network(
    g: float = 5.0,
    nu_ratio: float = 2.0,
    *,
    n_e: int = 10000,
    n_i: int = 2500,
    c_e: int = 1000,
    J: float = 0.1,
    delay: float = 1.5,
    seed: int = 0,
) -> Network:
    """Brunel (2000) model A, as Brian2's ``examples/frompapers/Brunel_2000.py``.

        tau dv/dt = -v, at v = theta: v <- V_r, refractory tau_rp (v held; jumps arriving
        meanwhile are lost, as in Brian2 and NEST);
        tau 20 ms, theta 20 mV, V_r 10 mV, tau_rp 2 ms; recurrent delta synapses with delay D:
        +J from each excitatory source, -g J from each inhibitory one, each pair connected with
        probability c_e / n_e; external input: c_e Poisson sources per neuron at
        nu_ext = nu_ratio nu_thr, nu_thr = theta / (J c_e tau), each a jump of J.

    ``BRUNEL_REGIMES`` gives ``g`` and ``nu_ratio`` of Fig. 8 A-D
    (``brunel_network(**{k: v for k, v in BRUNEL_REGIMES["C"].items() if k != "name"})``).
    """
    for name, value in (("n_e", n_e), ("n_i", n_i)):
        check_int(name, value, where="brunel_network", numpy=False)
    check_int("c_e", c_e, 1, n_e, where="brunel_network", numpy=False, hint=f"(at most n_e = {n_e})")
    tau, theta = 20.0, 20.0
    nu_thr_hz = theta / (J * c_e * tau) * 1000.0
    cell = IntegrateAndFire(tau_m=tau, E_L=0.0, V_th=theta, V_reset=10.0, tau_ref=2.0)
    pops = [
        Population(n_e, cell, "exc", v0=0.0),
        Population(n_i, cell, "inh", v0=0.0),
    ]
    rule = FixedProbability(c_e / n_e)
    projs = [
        Projection(pre, post, DeltaSynapse(), rule, weight=w, delay=delay)
        for pre, w in (("exc", J), ("inh", -g * J))
        for post in ("exc", "inh")
    ]
    inputs = [PoissonInput(t, c_e, nu_ratio * nu_thr_hz, J, DeltaSynapse()) for t in ("exc", "inh")]
    return Network(pops, projs, inputs, seed=seed)


__all__ = ["BRUNEL_REGIMES", "brunel_network", "coba_network", "cobahh_network", "cuba_network"]

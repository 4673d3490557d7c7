"""``jaxneuro.Network``: populations of any neuron, synapse types, delays, connectivity.

``reference_run`` below is an independent numpy (float64) implementation of the clock-driven
step documented in ``jaxneuro._network._simulate`` (integrate-and-fire membranes advanced by
their closed form under the held synaptic input; exponential currents and conductances
decaying exactly and averaged over the step; delta synapses jumping ``v``; delays in whole
steps).  The library must reproduce it spike for spike.
"""

from __future__ import annotations

import math

import equinox as eqx
import numpy as np
import pytest

import jaxneuro as jn


# ---------------------------------------------------------------------------------- reference
def reference_run(pops, projs, T, dt):
    """pops: list of dicts (n, tau_m, E_L, V_th, V_reset, tau_ref, drive, v0).
    projs: list of dicts (pre, post, kind in {"current", "conductance", "delta"}, tau, E,
    pairs: list of (j, i, w, delay)).  Returns per population a list of spike-time lists."""
    steps = int(round(T / dt))
    v = [np.array(p["v0"], float) for p in pops]
    refr = [np.zeros(p["n"], int) for p in pops]
    n_ref = [int(round(p["tau_ref"] / dt)) for p in pops]
    syn = [np.zeros(pops[q["post"]]["n"]) for q in projs]
    L = [max([int(round(d / dt)) for (_, _, _, d) in q["pairs"]] + [0]) + 1 for q in projs]
    ring = [np.zeros((L[k], pops[q["post"]]["n"])) for k, q in enumerate(projs)]
    spikes = [[[] for _ in range(p["n"])] for p in pops]
    for n in range(steps):
        t = n * dt
        fired = []
        for a, p in enumerate(pops):
            cur = np.full(p["n"], p["drive"], float)
            g = np.zeros(p["n"])
            for k, q in enumerate(projs):
                if q["post"] != a or q["kind"] == "delta":
                    continue
                x = dt / q["tau"]
                mean = syn[k] * (1 - math.exp(-x)) / x
                if q["kind"] == "current":
                    cur += mean
                else:
                    cur += mean * q["E"]
                    g += mean
            # tau dv/dt = E_L - v + cur - g v: relaxes to v_inf with rate (1 + g)/tau
            v_inf = (p["E_L"] + cur) / (1 + g)
            v1 = v_inf + (v[a] - v_inf) * np.exp(-(1 + g) * dt / p["tau_m"])
            held = refr[a] > 0
            v1 = np.where(held, v[a], v1)
            c0, c1 = v[a] - p["V_th"], v1 - p["V_th"]
            spk = (c1 >= 0) & ~held
            for i in np.flatnonzero(spk):
                frac = c0[i] / (c0[i] - c1[i]) if c0[i] < 0 else 0.0
                spikes[a][i].append(t + dt * frac)
            v1 = np.where(spk, p["V_reset"], v1)
            refr[a] = np.where(spk, max(n_ref[a] - 1, 0), np.maximum(refr[a] - 1, 0))
            v[a] = v1
            fired.append(spk)
        for k, q in enumerate(projs):
            if q["kind"] != "delta":
                syn[k] = syn[k] * math.exp(-dt / q["tau"])
            for j, i, w, d in q["pairs"]:
                if fired[q["pre"]][j]:
                    ring[k][(n + int(round(d / dt))) % L[k], i] += w
        for k, q in enumerate(projs):
            x = ring[k][n % L[k]].copy()
            ring[k][n % L[k]] = 0.0
            if q["kind"] == "delta":
                post = q["post"]
                v[post] = v[post] + np.where(refr[post] > 0, 0.0, x)
            else:
                syn[k] = syn[k] + x
    return spikes


def _pairs(rng, n_pre, n_post, p, w, delays):
    out = []
    for j in range(n_pre):
        for i in range(n_post):
            if rng.random() < p:
                out.append((j, i, w * (0.5 + rng.random()), float(rng.choice(delays))))
    return out


def _build(kinds, seed=0, dt=0.1):
    """A two-population network of integrate-and-fire neurons with the given synapse kinds
    (exc -> *, inh -> *), random pairs, weights and delays; returns (Network, ref args)."""
    rng = np.random.default_rng(seed)
    sizes = (40, 10)
    pops_ref = []
    pops = []
    for a, (name, n) in enumerate(zip(("exc", "inh"), sizes, strict=True)):
        v0 = rng.uniform(-60.0, -50.0, n)
        cell = jn.IntegrateAndFire(tau_m=20.0, E_L=-60.0, V_th=-50.0, V_reset=-60.0, tau_ref=2.0)
        drive = 11.0 + a
        pops.append(jn.Population(n, cell, name, drive=drive, v0=v0))
        pops_ref.append(dict(n=n, tau_m=20.0, E_L=-60.0, V_th=-50.0, V_reset=-60.0, tau_ref=2.0, drive=drive, v0=v0))
    projs, projs_ref = [], []
    for a, pre in enumerate(("exc", "inh")):
        for b, post in enumerate(("exc", "inh")):
            kind = kinds[a]
            if kind == "current":
                syn, w = jn.ExponentialCurrent(5.0 if a == 0 else 10.0), (2.0 if a == 0 else -6.0)
            elif kind == "conductance":
                syn, w = jn.ExponentialConductance(5.0 if a == 0 else 10.0, 0.0 if a == 0 else -80.0), 0.1
            else:
                syn, w = jn.DeltaSynapse(), (1.0 if a == 0 else -3.0)
            pairs = _pairs(rng, sizes[a], sizes[b], 0.2, w, [0.0, dt, 1.5, 2.0 if kind != "delta" else 1.5])
            pre_i = np.array([p[0] for p in pairs])
            post_i = np.array([p[1] for p in pairs])
            ws = np.array([p[2] for p in pairs])
            ds = np.array([p[3] for p in pairs])
            projs.append(jn.Projection(pre, post, syn, jn.FromIndices(pre_i, post_i), weight=ws, delay=ds))
            projs_ref.append(
                dict(
                    pre=a,
                    post=b,
                    kind=kind,
                    tau=float(getattr(syn, "tau", 1.0)),
                    E=float(getattr(syn, "E", 0.0)),
                    pairs=pairs,
                )
            )
    return jn.Network(pops, projs, seed=seed), (pops_ref, projs_ref)


def _assert_same_spikes(run, ref, tol):
    for a, name in enumerate(("exc", "inh")):
        train = run.train(name)
        counts = np.asarray(train.count)
        want = np.array([len(s) for s in ref[a]])
        np.testing.assert_array_equal(counts, want, err_msg=f"spike counts of {name}")
        times = np.asarray(train.times)
        for i, s in enumerate(ref[a]):
            np.testing.assert_allclose(times[i, : len(s)], s, atol=tol, rtol=0)


@pytest.mark.parametrize(
    "kinds", [("current", "current"), ("conductance", "conductance"), ("delta", "delta"), ("current", "delta")]
)
def test_network_matches_reference_spike_for_spike(x64, kinds):
    net, (pops_ref, projs_ref) = _build(kinds)
    T, dt = 150.0, 0.1
    run = eqx.filter_jit(lambda net: jn.simulate_network(net, T, dt=dt))(net)
    ref = reference_run(pops_ref, projs_ref, T, dt)
    assert sum(len(s) for r in ref for s in r) > 50  # the network is active
    _assert_same_spikes(run, ref, 1e-9)


def test_network_float32_close_to_reference():
    net, (pops_ref, projs_ref) = _build(("current", "current"), seed=3)
    T, dt = 60.0, 0.1  # short: before float32 rounding can move a threshold crossing by a step
    run = jn.simulate_network(net, T, dt=dt)
    ref = reference_run(pops_ref, projs_ref, T, dt)
    _assert_same_spikes(run, ref, 1e-3)


def test_spike_chunks_never_drop_spikes(x64):
    # 40 neurons fire in the same step; reading them 3 at a time must deliver all of them.
    n = 40
    cell = jn.IntegrateAndFire(tau_m=10.0, E_L=-60.0, V_th=-50.0, V_reset=-60.0, tau_ref=50.0)
    src = jn.Population(n, cell, "src", drive=20.0, v0=-50.5)
    dst = jn.Population(1, jn.IntegrateAndFire(tau_m=10.0, tau_ref=0.0), "dst")
    proj = jn.Projection("src", "dst", jn.DeltaSynapse(), jn.AllToAll(), weight=0.01)
    run = jn.simulate_network(jn.Network([src, dst], [proj]), 1.0, dt=0.1, spikes_per_chunk=3)
    assert int(run.spike_count[0].sum()) == n
    first = int(np.argmax(np.isfinite(np.asarray(run.train("src").times[:, 0]))))
    assert first == 0
    # every spike arrived: 40 x 0.01 mV on top of the free membrane
    free = jn.simulate_network(
        jn.Network([src, dst], [proj.__class__("src", "dst", jn.DeltaSynapse(), jn.AllToAll(), weight=0.0)]),
        1.0,
        dt=0.1,
    )
    dv = float(
        jn.simulate_network(jn.Network([src, dst], [proj]), 1.0, dt=0.1, trace_every=10).final_state.y[1][0]
    ) - float(free.final_state.y[1][0])
    np.testing.assert_allclose(dv, n * 0.01 * math.exp(-0.0), rtol=0.05)

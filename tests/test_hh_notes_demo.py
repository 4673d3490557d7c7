"""The notes' Hodgkin-Huxley demonstration (ch. 1.3) in the notes' numbers, through an explicit mapping.

The notes drive the model with an input current that starts negative and rises to 0.6 (their
unit is not named) over about a second, and state: the membrane rests around -70 mV; under the
negative current it goes to around -120 mV; at 0.1 the input is high enough for regular action
potentials; more current makes them come faster; a zoom between 0.72 and 0.73 (s) shows a spike.

jaxneuro's ``HodgkinHuxley`` works in mV, ms and uA/cm^2.  The mapping (docs/notes/hodgkin-huxley.md,
"The notes' demonstration"): time s -> ms (x 1000); one unit of the notes' current -> 65 uA/cm^2,
so that their 0.1 is just above the onset of repetitive firing (6.26 uA/cm^2); the negative current
is -0.303 units (-19.7 uA/cm^2), the current that holds the membrane at -120 mV.  The staircase
here, negative / zero / 0.1 / 0.6 at 0 / 200 / 400 / 700 ms, is the one the docs page and notebook 01 show.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import E_K, E_L, E_NA, G_K, G_L, G_NA, _rates

import jaxneuro as jn

UNIT = 65.0  # uA/cm^2 per unit of the notes' input current
NEGATIVE, SLIGHT, VERY = -0.303, 0.1, 0.6  # the notes' staircase, in their units
SWITCHES = [200.0, 400.0, 700.0]  # ms


def steady_current(V: float) -> float:
    """J that holds V with every gate at its equilibrium: the notes' current balance, in numpy."""
    an, bn, am, bm, ah, bh = _rates(np.asarray(V, float))
    n, m, h = an / (an + bn), am / (am + bm), ah / (ah + bh)
    return float(G_NA * m**3 * h * (V - E_NA) + G_K * n**4 * (V - E_K) + G_L * (V - E_L))


@pytest.fixture(scope="module")
def demo():
    drive = jn.PiecewiseConstant(times=SWITCHES, values=[NEGATIVE * UNIT, 0.0, SLIGHT * UNIT, VERY * UNIT])
    sim = jn.simulate(jn.HodgkinHuxley(), drive, 0.0, 1000.0, ts=jnp.linspace(0.0, 1000.0, 20001), max_spikes=256)
    spikes = np.asarray(sim.spikes.times[: int(sim.spikes.count)])
    return np.asarray(sim.ts), np.asarray(sim.ys.v), spikes


def test_the_mapping_of_the_negative_current():
    # -0.303 units is the current that holds -120 mV (the gates at equilibrium), to 0.1%
    assert NEGATIVE * UNIT == pytest.approx(steady_current(-120.0), rel=1e-3)


@pytest.mark.slow  # 1 s of HH at dt = 0.025 ms, compiled (shared by the next test)
def test_rest_and_hyperpolarisation(demo):
    ts, v, _ = demo
    assert float(jn.HodgkinHuxley().initial_state().v) == pytest.approx(-70.0, abs=6.0)  # "around -70 mV"
    assert v[np.searchsorted(ts, 199.0)] == pytest.approx(-120.0, abs=0.5)  # "goes to around -120"
    assert v[np.searchsorted(ts, 399.0)] == pytest.approx(-65.0, abs=0.5)  # zero input: back at rest


@pytest.mark.slow
def test_regular_firing_from_0_1_and_faster_above(demo):
    _, _, spikes = demo
    slight = spikes[(spikes >= 400.0) & (spikes < 700.0)]
    very = spikes[(spikes >= 700.0) & (spikes < 1000.0)]
    isi_slight, isi_very = np.diff(slight), np.diff(very[1:])  # the first interval after the switch is shorter
    assert len(slight) >= 10 and np.std(isi_slight) / np.mean(isi_slight) < 0.01  # regular action potentials
    assert np.std(isi_very) / np.mean(isi_very) < 0.01
    assert 1000.0 / np.mean(isi_very) > 1.5 * 1000.0 / np.mean(isi_slight)  # "even faster"
    assert np.any((spikes >= 720.0) & (spikes < 730.0))  # the notes' zoom, 0.72-0.73 s


@pytest.mark.slow  # two 1 s HH simulations, compiled
def test_0_1_is_where_regular_firing_starts():
    # just below the notes' 0.1 no repetitive firing from rest, at 0.1 regular firing
    rates = jn.tuning_curve(jn.HodgkinHuxley(), jnp.array([0.095, SLIGHT]) * UNIT, duration=1000.0)
    assert float(rates[0]) == 0.0 and float(rates[1]) > 40.0

"""The unit guard of ``simulate``: spans and drives that look like another unit are refused with
a message naming the model's unit; ``check_units=False`` runs them."""

from __future__ import annotations

import jax
import pytest

import jaxneuro as jn


@pytest.mark.parametrize(
    "neuron, drive, t1, match",
    [
        (jn.HodgkinHuxley(), 10.0, 1.0, r"HodgkinHuxley works in ms: t1 - t0 = 1 ms .* 1 s is t1 - t0 = 1000"),
        (jn.LIF(), 1.5, 7200.0, r"LIF works in s: t1 - t0 = 7200 s is over an hour"),
        (jn.HodgkinHuxley(), 1e-9, 100.0, r"takes its input in uA/cm\^2: a constant drive of 1e-09 looks like SI"),
        (jn.LIF(), -2e-7, 0.5, r"LIF takes its input in normalised v_in"),
    ],
)
def test_unit_mixups_are_named(neuron, drive, t1, match):
    with pytest.raises(ValueError, match=match + ".*check_units=False"):
        jn.simulate(neuron, drive, 0.0, t1)


def test_the_guard_can_be_switched_off_and_leaves_valid_runs_alone():
    sim = jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 1.0, check_units=False)
    assert int(sim.spikes.count) == 0  # 1 ms: too short for a spike, as asked
    assert int(jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0).spikes.count) > 3
    assert int(jn.simulate(jn.LIF(), 0.0, 0.0, 0.1).spikes.count) == 0  # a zero drive is fine
    # traced spans and drives are not checked (their values are unknown at trace time)
    count = jax.jit(lambda j: jn.simulate(jn.LIF(), j, 0.0, 0.1, max_spikes=16).spikes.count)(1e-9)
    assert int(count) == 0

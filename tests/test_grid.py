"""Parameter grids: shapes, layout and values against direct calls and closed forms."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import jaxneuro as jn
from jaxneuro.plot import plot_tuning_surface

V = np.linspace(0.5, 4.0, 8)
TAU_M = [0.01, 0.02, 0.05]
TAU_REF = [0.001, 0.004]


def test_grid_layout_is_the_cartesian_product():
    grid = jn.parameter_grid(jn.LIF(V_th=2.0), V, tau_m=TAU_M, tau_ref=TAU_REF)
    assert grid.shape == (8, 3, 2) and grid.size == 48
    assert grid.names == ("input", "tau_m", "tau_ref")
    # every point, in row-major order, against itertools.product
    expected = np.array(list(itertools.product(V, TAU_M, TAU_REF)), np.float32)
    np.testing.assert_array_equal(grid.inputs, expected[:, 0])
    np.testing.assert_array_equal(grid.neuron.tau_m, expected[:, 1])
    np.testing.assert_array_equal(grid.neuron.tau_ref, expected[:, 2])
    # unvaried fields keep the neuron's value at every point (a stacked module)
    for leaf, value in ((grid.neuron.V_th, 2.0), (grid.neuron.V_L, 0.0), (grid.neuron.R, 1.0)):
        assert leaf.shape == (48,) and np.all(np.asarray(leaf) == value)
    for axis, values in zip(grid.axes, (V, TAU_M, TAU_REF), strict=True):
        np.testing.assert_array_equal(axis, np.asarray(values, np.float32))
    assert grid.reshape(jnp.arange(48.0)[:, None] * jnp.ones(3)).shape == (8, 3, 2, 3)


def test_lif_tuning_grid_equals_direct_calls_and_the_closed_form():
    grid = jn.parameter_grid(jn.LIF(), V, tau_m=TAU_M, tau_ref=TAU_REF)
    rate = jn.tuning_grid(grid)
    assert rate.shape == (8, 3, 2) and rate.dtype == jnp.float32
    for j, k in itertools.product(range(3), range(2)):
        direct = jn.tuning_curve(jn.LIF(tau_m=TAU_M[j], tau_ref=TAU_REF[k]), V.astype(np.float32))
        np.testing.assert_array_equal(rate[:, j, k], direct)
    ref = jn.lif_rate(V[:, None, None], np.array(TAU_M)[:, None], np.array(TAU_REF))
    np.testing.assert_allclose(rate, ref, rtol=1e-3, atol=1e-3)
    assert np.all(np.asarray(rate)[V <= 1.0] == 0)


@pytest.mark.slow  # twelve 100 ms HH runs, twice (the LIF grids above and below stay in the default run)
def test_hh_f_i_surface_over_sodium_conductance():
    J = np.linspace(0.0, 30.0, 6)
    g_na = [100.0, 120.0]
    grid = jn.parameter_grid(jn.HodgkinHuxley(), J, g_Na=g_na)
    rate = jn.tuning_grid(grid, duration=100.0)
    assert rate.shape == (6, 2)
    for j, g in enumerate(g_na):
        direct = jn.tuning_curve(jn.HodgkinHuxley(g_Na=g), J.astype(np.float32), duration=100.0)
        np.testing.assert_array_equal(rate[:, j], direct)
    assert np.all(np.asarray(rate[0]) == 0) and np.all(np.asarray(rate[-1]) > 50)  # rest, then firing


def test_grid_map_runs_simulate_at_every_point():
    grid = jn.parameter_grid(jn.LIF(), [0.8, 1.5, 3.0], tau_m=[0.01, 0.03])
    ts = np.linspace(0.0, 0.1, 11)
    sims = grid.map(lambda nrn, v: jn.simulate(nrn, v, 0.0, 0.1, ts=ts, method="stepped"))
    assert sims.ys.shape == (3, 2, 11)
    assert sims.spikes.count.shape == (3, 2)
    direct = jn.simulate(jn.LIF(tau_m=0.03), np.float32(1.5), 0.0, 0.1, ts=ts, method="stepped")
    np.testing.assert_array_equal(sims.ys[1, 1], direct.ys)
    assert int(sims.spikes.count[0, 0]) == 0 and int(sims.spikes.count[2, 0]) > int(sims.spikes.count[1, 1])


def test_grid_is_a_pytree_for_jit_and_grad(x64):
    grid = jn.parameter_grid(jn.LIF(), [1.5, 2.5], tau_m=[0.01, 0.02])
    eager = jn.tuning_grid(grid)
    np.testing.assert_allclose(eqx.filter_jit(jn.tuning_grid)(grid), eager, rtol=1e-12)

    # d rate / d tau_m at every point, against the closed form's derivative
    def total(tau_m):
        g = eqx.tree_at(lambda g: g.neuron.tau_m, grid, tau_m)
        return jnp.sum(jn.tuning_grid(g))

    got = jax.grad(total)(grid.neuron.tau_m)
    ref = jax.grad(lambda t: jnp.sum(jn.lif_rate(grid.inputs, t, 0.002)))(grid.neuron.tau_m)
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_float64_grid(x64):
    grid = jn.parameter_grid(jn.LIF(), V, tau_m=TAU_M, dtype=jnp.float64)
    rate = jn.tuning_grid(grid)
    assert rate.dtype == jnp.float64
    np.testing.assert_allclose(rate, jn.lif_rate(V[:, None], np.array(TAU_M)), rtol=1e-9, atol=1e-9)


def test_plot_tuning_surface():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = jn.parameter_grid(jn.LIF(), np.linspace(0.5, 4.0, 30), tau_m=np.linspace(0.01, 0.05, 20))
    rate = np.asarray(jn.tuning_grid(grid))
    ax = plot_tuning_surface(grid.axes[0], grid.axes[1], rate, xlabel="v_in", ylabel="tau_m (s)")
    (mesh,) = ax.collections[:1]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(20, 30), rate.T)
    assert ax.get_xlabel() == "v_in" and ax.get_ylabel() == "tau_m (s)"
    assert len(ax.figure.axes) == 2  # the colour bar
    assert any("Hz" in t.get_text() for t in ax.texts)  # labelled contours
    plt.close(ax.figure)
    with pytest.raises(ValueError, match=r"rates must have shape \(len\(x\), len\(y\)\) = \(30, 20\); got \(20, 30\)"):
        plot_tuning_surface(grid.axes[0], grid.axes[1], rate.T)
    with pytest.raises(ValueError, match="x and y must be 1-D"):
        plot_tuning_surface(rate, grid.axes[1], rate)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((jn.LIF(), V), dict(tau=[0.01]), r"unknown parameter 'tau' for LIF; allowed: \['tau_m', 'tau_ref'"),
        ((jn.LIF(), V), dict(input=[0.01]), "unknown parameter 'input'"),
        ((jn.LIF(tau_m=[0.01, 0.02]), V), {}, r"single neuron with scalar parameters; tau_m has shape \(2,\)"),
        ((jn.LIF(), []), {}, r"inputs must be a non-empty 1-D array of values; got shape \(0,\)"),
        ((jn.LIF(), V), dict(tau_m=[[0.01]]), r"tau_m must be a non-empty 1-D array of values; got shape \(1, 1\)"),
        ((jn.LIF(), [1.0, np.nan]), {}, "inputs values must be finite numbers"),
        ((jn.LIF(), V), dict(tau_m=[0.01, -0.02]), r"tau_m must be finite and in \(0, inf\) s; got tau_m = \[-0.02\]"),
        ((jn.HodgkinHuxley(), V), dict(g_K=[-1.0]), r"g_K must be finite and in \[0, inf\) mS/cm\^2"),
    ],
)
def test_grid_validation(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.parameter_grid(*args, **kwargs)


@pytest.mark.jaxtyping_off  # neuron="LIF" and a non-grid on purpose: the library's own TypeError
def test_grid_type_errors():
    with pytest.raises(TypeError, match="neuron must be a jaxneuro neuron .*got str"):
        jn.parameter_grid("LIF", V)
    with pytest.raises(TypeError, match="grid must be a ParameterGrid .*got LIF"):
        jn.tuning_grid(jn.LIF())

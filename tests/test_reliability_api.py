"""Issue 16, item 1 (the audit of the rest of the public API): losses, kernels, layers, the
conversion and spiking-classifier modules, surrogate layers, competitive learning, the
approximation-theory helpers, fitting targets, sweeps and the generated data sets.  Every bad
or edge input found silently wrong (or failing with another library's message) by the audit
is here: a ``ValueError`` naming the parameter, its value and the allowed range when concrete,
an ``eqx.error_if`` run-time error when traced, or the right answer."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn

RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)
KEY = jax.random.key(0)


def _raises_at_run_time(fn, *args, match):
    with pytest.raises(RUNTIME_ERRORS, match=match):
        jax.block_until_ready(fn(*args))


# ------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("eps", [-0.1, 0.5, 0.7, float("nan")])
def test_binary_cross_entropy_checks_eps(eps):
    # before: eps = 0.7 clipped y into [0.7, 0.3] (a constant loss), -0.1 and NaN passed
    with pytest.raises(ValueError, match=r"eps must be finite and in \[0, 0.5\); got eps ="):
        jn.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]), eps=eps)


@pytest.mark.parametrize("eps", [-1.0, 1.0, 2.0, float("inf")])
def test_categorical_cross_entropy_checks_eps(eps):
    # before: eps = 2 gave a loss of -0 for any y; eps = -1 gave inf at y = 0
    with pytest.raises(ValueError, match=r"eps must be finite and in \[0, 1\); got eps ="):
        jn.categorical_cross_entropy(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0]), eps=eps)


def test_cross_entropy_eps_traced_is_checked_at_run_time():
    f = jax.jit(lambda e: jn.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]), eps=e))
    _raises_at_run_time(f, 0.7, match=r"eps must be finite and in \[0, 0.5\)")
    # a valid eps gives the formula's value: -log(0.5), the clip inactive
    assert float(f(1e-3)) == pytest.approx(math.log(2.0), rel=1e-6)
    # eps = 0 is allowed: the unclipped formula, infinite at y = 0 for t = 1
    assert np.isinf(jn.binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0]), eps=0.0))


def test_integer_labels_need_a_class():
    with pytest.raises(ValueError, match=r"z needs at least one class on its last axis; got z.shape = \(2, 0\)"):
        jn.categorical_cross_entropy_with_integer_labels(jnp.ones((2, 0)), jnp.array([0, 0]))


def test_mean_loss_needs_a_callable():
    with pytest.raises(ValueError, match=r"mean_loss: loss_fn must be a callable per-sample loss.*'mse'"):
        jn.mean_loss("mse", jnp.ones((1, 2)), jnp.ones((1, 2)))


def test_firing_rate_penalty_traced_bounds_are_ordered():
    f = jax.jit(lambda lo, hi: jn.firing_rate_penalty(jnp.ones(3), lower=lo, upper=hi))
    # before: a traced lower > upper gave a penalty of 81 without a word
    _raises_at_run_time(f, 10.0, 1.0, match="firing_rate_penalty: lower must not exceed upper")
    # a valid pair: rates of 1 Hz against [2, 20] Hz: (2 - 1)^2 per neuron
    assert float(f(2.0, 20.0)) == pytest.approx(1.0)


def test_leaky_readout_checks_v0_shape():
    # before: jax's "Incompatible types for broadcasting"
    with pytest.raises(ValueError, match=r"leaky_readout: v0 must broadcast to .* shape \(2,\).*got v0.shape = \(3,\)"):
        jn.losses.leaky_readout(jnp.ones((3, 2)), dt=0.001, tau=0.01, v0=jnp.ones(3))
    v = jn.losses.leaky_readout(jnp.zeros((1, 2)), dt=0.001, tau=0.01, v0=jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(v[0], np.exp(-0.1) * np.array([1.0, 2.0]), rtol=1e-6)


# ------------------------------------------------------------------------------ kernels
@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_psc_kernel_at_infinite_time_is_zero(n):
    # before: n >= 1 gave NaN at t = inf (n log x - x = inf - inf); the limit is 0
    h = jn.psc_kernel(jnp.array([jnp.inf, -jnp.inf, 0.02]), 0.01, n)
    assert h[0] == 0.0 and h[1] == 0.0
    expected = 2.0**n * math.exp(-2.0) / (math.factorial(n) * 0.01)
    assert float(h[2]) == pytest.approx(expected, rel=1e-5)
    assert np.isfinite(jax.grad(lambda t: jn.psc_kernel(t, 0.01, n))(jnp.inf))


def test_psc_kernel_names_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"t and tau_s must broadcast.*t.shape = \(3,\), tau_s.shape = \(2,\)"):
        jn.psc_kernel(jnp.ones(3), jnp.full(2, 0.01))


# ------------------------------------------------------------------------------ uat
def test_max_error_of_a_nan_function_is_nan_not_minus_inf():
    # before: -inf (XLA's CPU max over the 20001-point grid drops NaN): "no error" for a NaN model
    assert np.isnan(jn.max_error(lambda x: x * jnp.nan, jnp.cos))
    assert np.isnan(jn.max_error_nd(lambda x: x[..., 0] * jnp.nan, lambda x: x[..., 0], dim=2))
    assert float(jn.max_error(lambda x: x, lambda x: 0.0 * x, n_grid=11)) == pytest.approx(1.0)


# ------------------------------------------------------------------------------ layers
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_dense_dtype_must_be_floating(dtype):
    # before: jax.random.uniform's "dtype argument to `uniform` must be a float dtype"
    with pytest.raises(ValueError, match=r"dtype must be a floating dtype .*got dtype ="):
        jn.Dense(2, 3, key=KEY, dtype=dtype)


# ------------------------------------------------------------------------------ spike trains
@pytest.mark.parametrize("capacity", [0, -1, 2.5, True])
def test_regular_spike_train_checks_capacity(capacity):
    # before: -1 returned an empty buffer for a 1 Hz train over 1 s (a lost spike), 2.5 a TypeError
    with pytest.raises(ValueError, match=r"capacity must be an int in \[1, 134217727\], got capacity ="):
        jn.regular_spike_train(jnp.ones(2), 1.0, capacity=capacity)
    with pytest.raises(ValueError, match=r"capacity must be an int in \[1, 134217727\], got capacity ="):
        jn.poisson_spike_train(jnp.ones(2), 1.0, KEY, capacity=capacity)
    # 2 Hz over 1 s: spikes at 0.25 and 0.75 s
    train = jn.regular_spike_train(jnp.array([2.0]), 1.0, capacity=2)
    np.testing.assert_allclose(train.times[0], [0.25, 0.75])


# ------------------------------------------------------------------------------ spiking classifier
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(hidden_sizes=[4.5]), r"hidden_sizes\[0\] must be an int in \[1, inf\), got hidden_sizes\[0\] = 4.5"),
        (dict(hidden_sizes=4), r"hidden_sizes must be a sequence of ints >= 1, got hidden_sizes = 4"),
        (dict(hidden_sizes=[0]), r"hidden_sizes\[0\] must be an int in \[1, inf\), got hidden_sizes\[0\] = 0"),
        (dict(max_spikes=1.5), r"max_spikes must be an int in \[1, inf\), got max_spikes = 1.5"),
        (dict(weight_std=float("nan")), r"weight_std must be finite and in \[0, inf\); got weight_std = nan"),
        (dict(weight_std=-1.0), r"weight_std must be finite and in \[0, inf\); got weight_std = -1"),
        (dict(weight_mean=float("inf")), r"weight_mean must be finite and in \(-inf, inf\); got weight_mean = inf"),
        (dict(surrogate="fast"), r"surrogate must be a jaxneuro.AbstractSurrogate, got str"),
        # before: an OverflowError from JAX's argument parsing (4e26 steps)
        (dict(dt=1e-28), r"dt must be at least duration / 2147483647 = 1.86265e-11 s .*got dt = 1e-28 s: 4e\+26 steps"),
        (
            dict(weights=[jnp.full((4, 3), jnp.nan), jnp.ones((3, 4))]),
            r"weights\[0\] must be finite and in \(-inf, inf\); got weights\[0\] = \[nan",
        ),
    ],
)
def test_spiking_classifier_settings_are_checked(kwargs, match):
    # before: 4.5 hidden neurons became 4, 1.5 spikes 1, NaN weights gave "no spike" outputs
    kwargs = {"hidden_sizes": [4], **kwargs}
    hidden = kwargs.pop("hidden_sizes")
    with pytest.raises(ValueError, match=match):
        jn.SpikingClassifier(2, 3, hidden, key=KEY, **kwargs)


@pytest.mark.parametrize("gradient", ["exact", "surrogate"])
def test_spiking_classifier_nan_weight_is_a_run_time_error(gradient):
    # a weight that turned NaN in training (tree_at: no constructor) silenced its neuron and the
    # outputs still fired: finite first-spike times from a broken network
    model = jn.SpikingClassifier(2, 3, [4], key=KEY, gradient=gradient)
    broken = eqx.tree_at(lambda m: m.weights, model, (model.weights[0].at[0, 0].set(jnp.nan), model.weights[1]))
    f = eqx.filter_jit(lambda m, x: m(x))
    _raises_at_run_time(f, broken, jnp.array([0.5, 0.5]), match=r"(W_in|weights\[0\]) must be finite")
    assert np.all(np.isfinite(f(model, jnp.array([0.5, 0.5]))))


def test_simulate_lif_events_nan_weights_are_errors():
    hid = jn.LIFPopulation(4, jn.LIF(tau_m=0.01), tau_s=0.005, name="hid")
    net = jn.LIFNetwork([hid], {})
    train = jn.SpikeTrain.from_times(jnp.array([[0.001], [0.002]]))
    w_in = jnp.ones((4, 2))
    run = eqx.filter_jit(lambda w: jn.simulate_lif_events(net, 0.05, inputs=(train, w), max_spikes=50).spike_count)
    ok = run(w_in)
    # before: neuron 0 with a NaN input weight fired 0 spikes, the others as usual
    _raises_at_run_time(run, w_in.at[0, 0].set(jnp.nan), match="W_in must be finite")
    with pytest.raises(ValueError, match=r"W_in must be finite and in \(-inf, inf\); got W_in = \[nan\]"):
        jn.simulate_lif_events(net, 0.05, inputs=(train, w_in.at[0, 0].set(jnp.nan)), max_spikes=50)
    assert np.all(np.asarray(ok) == np.asarray(ok)[0]) and ok[0] > 0  # identical neurons, identical counts


# ------------------------------------------------------------------------------ surrogate layers
def test_simulate_layers_checks_solver_neuron_and_values():
    w = [jnp.ones((3, 2)), jnp.ones((1, 3))]
    raster = jnp.zeros((10, 2))
    with pytest.raises(ValueError, match=r"solver must be a fixed-step jaxneuro solver .*got str"):
        jn.simulate_layers(w, raster, dt=1e-4, tau_s=0.005, solver="rk4")
    with pytest.raises(ValueError, match=r"neuron must have a single state variable .*got HodgkinHuxley"):
        jn.simulate_layers(w, raster, dt=0.01, tau_s=5.0, neuron=jn.HodgkinHuxley())
    # before: a NaN weight, bias or input silenced the layer below and the output read "no spike"
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite"):
        jn.simulate_layers([w[0].at[0, 0].set(jnp.nan), w[1]], raster, dt=1e-4, tau_s=0.005)
    with pytest.raises(ValueError, match=r"bias\[1\] must be finite"):
        jn.simulate_layers(w, raster, dt=1e-4, tau_s=0.005, bias=[jnp.zeros(3), jnp.array([jnp.inf])])
    run = jax.jit(lambda x: jn.simulate_layers(w, x, dt=1e-4, tau_s=0.005).first_spike[-1])
    _raises_at_run_time(run, raster.at[0, 0].set(jnp.nan), match="inputs must be finite")
    assert float(run(raster)[0]) == pytest.approx(10 * 1e-4)  # no input: silent, T = steps dt


# ------------------------------------------------------------------------------ competitive learning
def test_competitive_shapes_are_named():
    with pytest.raises(ValueError, match=r"x must have its last axis of size d = 2 .*got shape \(4, 3\)"):
        jn.winners(jnp.ones((3, 2)), jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"prototypes must be a non-empty \(K, d\) matrix, got shape \(0, 2\)"):
        jn.winners(jnp.ones((0, 2)), jnp.ones((4, 2)))
    # before: counts of the wrong length were accepted (and indexed by the winner)
    with pytest.raises(ValueError, match=r"counts of shape \(K,\) = \(3,\).*counts.shape = \(5,\)"):
        jn.competitive_update(jnp.ones((3, 2)), jnp.zeros(5), jnp.ones(2))
    with pytest.raises(ValueError, match=r"x must be a non-empty \(n, d\) matrix, got shape \(5,\)"):
        jn.kmeans_plus_plus(jnp.ones(5), 2, key=KEY)
    with pytest.raises(ValueError, match=r"n_clusters must be an int in \[1, inf\), got n_clusters = 0"):
        jn.kmeans_plus_plus(jnp.ones((5, 2)), 0, key=KEY)
    # before: 10 prototypes from 5 inputs (duplicates) without a word
    with pytest.raises(ValueError, match=r"n_clusters must be <= the number of inputs 5, got 10"):
        jn.kmeans_plus_plus(jnp.ones((5, 2)), 10, key=KEY)


@pytest.mark.parametrize("eta", [0.0, 5.0, float("nan")])
def test_competitive_update_checks_learning_rate(eta):
    # before: eta = 5 overshot the input, NaN made the prototypes NaN, 0 did nothing
    with pytest.raises(ValueError, match=r"learning_rate must be finite and in \(0, 1\]; got learning_rate ="):
        jn.competitive_update(jnp.ones((3, 2)), jnp.zeros(3), jnp.ones(2), learning_rate=eta)
    f = jax.jit(lambda e: jn.competitive_update(jnp.zeros((1, 2)), jnp.zeros(1), jnp.ones(2), learning_rate=e)[0])
    _raises_at_run_time(f, eta, match=r"learning_rate must be finite and in \(0, 1\]")
    np.testing.assert_allclose(f(0.25), [[0.25, 0.25]])


def test_competitive_update_negative_counts_are_errors():
    # before: counts of -1 made eta = 1 / 0 and the prototype NaN
    with pytest.raises(ValueError, match=r"counts must be finite and in \[0, inf\); got counts = \[-1"):
        jn.competitive_update(jnp.ones((3, 2)), -jnp.ones(3), jnp.ones(2))
    w, n = jn.competitive_update(jnp.array([[0.0, 0.0], [2.0, 2.0]]), jnp.array([0.0, 1.0]), jnp.array([1.5, 1.0]))
    np.testing.assert_allclose(w, [[0.0, 0.0], [1.75, 1.5]])  # eta = 1/2: halfway to x
    np.testing.assert_allclose(n, [0.0, 2.0])


# ------------------------------------------------------------------------------ fitting
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(weight=float("nan")), r"weight must be finite and in \[0, inf\); got weight = nan"),
        (dict(weight=-1.0), r"weight must be finite and in \[0, inf\); got weight = -1"),
        (dict(method="euler"), r"method must be one of \('auto', 'diffrax', .*\), got method = 'euler'"),
        (dict(dt=0.0), r"dt must be finite and in \(0, inf\); got dt = 0"),
    ],
)
def test_fitting_targets_check_their_settings_when_built(kwargs, match):
    # before: accepted, a NaN or negative weight turning the fit's loss NaN or into a maximisation
    with pytest.raises(ValueError, match=match):
        jn.FICurveTarget(jnp.array([2.0, 3.0]), jnp.array([60.0, 100.0]), **kwargs)
    with pytest.raises(ValueError, match=match):
        jn.SpikeTimesTarget(2.0, jnp.array([0.1, 0.2]), 0.0, 0.5, **kwargs)


def test_fi_target_checks_duration_and_transient():
    with pytest.raises(ValueError, match=r"duration must be finite and in \(0, inf\); got duration = -1"):
        jn.FICurveTarget(jnp.array([2.0, 3.0]), jnp.array([60.0, 100.0]), duration=-1.0)
    with pytest.raises(ValueError, match=r"transient must be finite and in \[0, inf\); got transient = nan"):
        jn.FICurveTarget(jnp.array([2.0, 3.0]), jnp.array([60.0, 100.0]), transient=float("nan"))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0,), r"steps must be an int in \[1, inf\), got steps = 0"),
        ((1.5,), r"steps must be an int in \[1, inf\), got steps = 1.5"),
        ((10, float("nan")), r"learning_rate must be finite and in \(0, inf\); got learning_rate = nan"),
        ((10, -0.1), r"learning_rate must be finite and in \(0, inf\); got learning_rate = -0.1"),
    ],
)
def test_default_optimizer_checks_its_arguments(args, match):
    # before: steps = 0 ran as 1, a negative learning rate climbed the loss, NaN made it NaN
    with pytest.raises(ValueError, match=match):
        jn.default_optimizer(*args)


# ------------------------------------------------------------------------------ data
def test_yin_yang_rejection_sampling_is_bounded():
    # before: radii whose squares underflow put every point in a dot, and the reference's
    # rejection loop looked for the other classes forever
    with pytest.raises(ValueError, match=r"yin_yang: no point of class \d in 100000 draws with r_small = 1e-301"):
        jn.data.yin_yang(size=3, r_big=1e-300, r_small=1e-301)
    with pytest.raises(ValueError, match=r"r_big must be a number, got an array of shape \(2,\)"):
        jn.data.yin_yang(size=3, r_big=np.array([0.5, 0.6]))


# ------------------------------------------------------------------------------ sweeps
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.float16])
def test_parameter_grid_dtype_must_be_float32_or_64(dtype):
    # before: int32 cast tau_m = 0.02 to 0 and blamed tau_m; float16 was accepted
    with pytest.raises(ValueError, match=r"dtype must be float32 or float64 .*got dtype ="):
        jn.parameter_grid(jn.LIF(), jnp.array([2.0]), dtype=dtype)


def test_chunked_map_refuses_a_tuple_result(tmp_path):
    # before: np.asarray((x, x)) stacked the tuple on a new leading axis, which with
    # chunk_size = 2 passed the row check: row i of the file held (x_0, x_1), not input i's result
    with pytest.raises(ValueError, match=r"fn must return one array of 2 rows, got a tuple"):
        jn.chunked_map(lambda x: (x, 2 * x), np.arange(4.0), tmp_path / "out.npy", chunk_size=2, progress=False)
    out = jn.chunked_map(lambda x: 2 * x, np.arange(4.0), tmp_path / "ok.npy", chunk_size=2, progress=False)
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0, 6.0])


# ------------------------------------------------------------------------------ README "Errors"
def test_readme_error_tiers_trace_and_run_time():
    # the README's first two examples, as written there
    with pytest.raises(ValueError, match=r"^tau_m must be finite and in \(0, inf\) s; got tau_m = -0.02\.$"):
        jn.LIF(tau_m=-0.02)
    rate = eqx.filter_jit(lambda tau_m: jn.tuning_curve(jn.LIF(tau_m=tau_m), jnp.array([2.0])))
    with pytest.raises(eqx.EquinoxRuntimeError, match=r"tau_m must be finite and in \(0, inf\) s \(a traced value"):
        rate(jnp.array(-0.02))
    # 1 / (tau_ref + tau_m log(2 / (2 - 1))) = 63.04 Hz
    assert float(rate(jnp.array(0.02))[0]) == pytest.approx(1.0 / (0.002 + 0.02 * math.log(2.0)), rel=1e-4)


@pytest.mark.slow
def test_readme_error_tier_solver_failure():
    # the README's third example, as written there
    with pytest.raises(RUNTIME_ERRORS, match=r"the diffrax solve failed \(max_steps reached or a non-finite state\)"):
        jn.simulate(jn.HodgkinHuxley(), 10.0, 0.0, 100.0, solver=jn.Diffrax(max_steps=4))


# ------------------------------------------------------------------------------ plots
def test_plot_tuning_curve_needs_matching_inputs_and_rates():
    pytest.importorskip("matplotlib")
    # before: 3 inputs against 4 rates plotted 3 points without a word
    with pytest.raises(
        ValueError, match=r"inputs and rates must be 1-D of the same length; got shapes \(3,\) and \(4,\)"
    ):
        jn.plot.plot_tuning_curve(np.ones(3), np.ones(4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(dt=0.0), r"dt must be finite and in \(0, inf\) s; got dt = 0"),
        (dict(dt=-1e-3), r"dt must be finite and in \(0, inf\) s; got dt = -0.001"),
        (dict(t_max=0.0), r"t_max must be finite and in \(0, inf\) s; got t_max = 0"),
    ],
)
def test_plot_filtered_spikes_checks_its_grid(kwargs, match):
    pytest.importorskip("matplotlib")
    # before: dt = 0 a numpy divide-by-zero warning, dt < 0 "n_bins must be a positive int, got -160"
    with pytest.raises(ValueError, match=match):
        jn.plot.plot_filtered_spikes(np.array([0.01]), 0.01, **kwargs)
    with pytest.raises(ValueError, match=r"t_max must be finite and in \(0, inf\) s; got t_max = -1"):
        jn.plot.plot_psc_kernels(t_max=-1.0)  # before: an empty plot of negative times


# ------------------------------------------------------------------------------ step counts, CLI
def test_step_counts_over_int32_are_named():
    # before: jaxneuro spiking --times 1e12 (and simulate_lif_network over 1e9 s) died in JAX's
    # argument parsing with an OverflowError traceback
    net = jn.LIFNetwork([jn.LIFPopulation(2, jn.LIF(), 0.005)], {})
    with pytest.raises(ValueError, match=r"duration must be at most 2147483647 steps of dt .*1000000000000 steps"):
        jn.simulate_lif_network(net, 1e8, dt=1e-4)
    mlp = jn.MLP(2, 1, [3], activation="lif", key=KEY)
    with pytest.raises(ValueError, match=r"presentation must be at most 2147483647 steps of dt .*1000000000000 steps"):
        jn.convert_mlp(mlp, presentation=1e9)


def test_cli_reports_a_run_time_check_in_one_line():
    import logging

    from jaxneuro.cli import no_callback_log, run_time_message

    f = eqx.filter_jit(lambda x: jn.psc_kernel(jnp.ones(2), x))
    logger = logging.getLogger("jax._src.callback")
    with no_callback_log():
        assert logger.disabled
        with pytest.raises(eqx.EquinoxRuntimeError) as info:
            f(jnp.array(-1.0))
    assert not logger.disabled  # restored
    expected = "tau_s must be finite and in [1.17549e-38, inf) s (a traced value was outside it)."
    assert run_time_message(info.value) == expected


# ------------------------------------------------------------------------------ tau_s against dt
def _two_free_neurons(tau_s):
    # two unconnected LIF neurons: bias J fires first at tau_m log(J / (J - 1))
    return jn.LIFNetwork([jn.LIFPopulation(2, jn.LIF(), tau_s, bias=jnp.array([1.6536982, 1.7704844]))], {})


def test_network_tau_s_too_small_for_dt_is_named():
    # before: tau_s = 1e-6 s at dt = 1 ms died with "the network's state became non-finite" (a
    # spike 0.64 ms into a step weighed the other neuron by e^(640) = inf, times its e^(-y/tau_s) = 0)
    with pytest.raises(ValueError, match=r"^tau_s must be at least dt / 64 = 1.5625e-05 s .*got tau_s = 1e-06 s"):
        jn.simulate_lif_network(_two_free_neurons(1e-6), 0.02, dt=1e-3)
    mlp = jn.MLP(2, 1, [3], activation="lif", key=KEY)
    with pytest.raises(ValueError, match=r"^tau_s must be at least dt / 64 .*got tau_s = 1e-30 s with dt = 0.001 s"):
        jn.convert_mlp(mlp, presentation=0.02, tau_s=1e-30)


@pytest.mark.slow  # compiles a network (some 10 s on two busy cores)
def test_network_tau_s_traced_too_small_is_a_run_time_error():
    f = eqx.filter_jit(lambda ts: jn.simulate_lif_network(_two_free_neurons(ts), 0.02, dt=1e-3).spike_count)
    _raises_at_run_time(f, jnp.array(1e-6), match=r"tau_s must be at least dt / 64 = 1.5625e-05 s")


@pytest.mark.slow  # compiles a network
def test_network_tau_s_at_the_bound_is_exact():
    # at tau_s = dt / 64 the run is finite and the spike times are the closed form's
    tau_m = 0.02
    result = jn.simulate_lif_network(_two_free_neurons(1e-3 / 64), 0.02, dt=1e-3)
    J = np.array([1.6536982, 1.7704844])
    np.testing.assert_allclose(result.spikes.times[:, 0], tau_m * np.log(J / (J - 1)), rtol=1e-5)
    from jaxneuro._network._lif_exact import max_dt_over_tau_s

    for dtype in (jnp.float32, jnp.float64):
        limit = max_dt_over_tau_s(dtype)  # a power of two within 3/4 of log(finfo.max)
        assert limit <= 0.75 * math.log(float(jnp.finfo(dtype).max)) < 2 * limit
    assert (max_dt_over_tau_s(jnp.float32), max_dt_over_tau_s(jnp.float64)) == (64.0, 512.0)


# ------------------------------------------------------------------------------ first-spike loss tau
def test_first_spike_cross_entropy_subnormal_tau_is_named():
    t = jnp.array([0.010, 0.012, jnp.inf])
    # before: tau = 1e-38 (subnormal in float32, flushed to zero by XLA) gave NaN
    with pytest.raises(ValueError, match=r"^tau must be finite and in \[1.17549e-38, inf\) s; got tau = 1e-38\.$"):
        jn.first_spike_cross_entropy(t, 0, tau=1e-38, window=0.05)
    f = jax.jit(lambda tau: jn.first_spike_cross_entropy(t, 0, tau=tau, window=0.05))
    _raises_at_run_time(f, 1e-38, match=r"tau must be finite and in \[1.17549e-38, inf\) s \(a traced value")
    # a valid tau: the formula, t_0 / tau + log sum_j exp(-t_j / tau) with t_2 = window
    tj = np.array([0.010, 0.012, 0.05])
    expected = tj[0] / 0.005 + np.log(np.sum(np.exp(-tj / 0.005)))
    assert float(f(0.005)) == pytest.approx(expected, rel=1e-6)


def test_first_spike_cross_entropy_tiny_tau_is_finite_or_inf_never_nan():
    tau = 2e-38  # a normal float32: window / tau = 5e38 overflows float32
    f = jn.first_spike_cross_entropy
    # all silent: every neuron at the window, L = log 2 exactly (before: -inf - -inf = NaN)
    assert float(f(jnp.array([jnp.inf, jnp.inf]), 0, tau=tau, window=10.0)) == pytest.approx(math.log(2.0))
    # the label first: L = log(1 + e^(-8 / tau)) = 0, gradient 0; the label last: L = 8 / tau = inf (overflow)
    loss, grad = jax.value_and_grad(lambda t: f(t, 0, tau=tau, window=10.0))(jnp.array([1.0, 9.0]))
    assert float(loss) == 0.0 and np.all(np.asarray(grad) == 0.0)
    loss, grad = jax.value_and_grad(lambda t: f(t, 1, tau=tau, window=10.0))(jnp.array([1.0, 9.0]))
    # dL/dt = ([j = k] - softmax(-t / tau)_j) / tau = (-1, 1) / tau, finite
    assert np.isposinf(float(loss))
    np.testing.assert_allclose(np.asarray(grad), np.array([-1.0, 1.0]) / np.float32(tau), rtol=1e-6)


# ------------------------------------------------------------------------------ buffer sizes
def test_poisson_spike_train_capacity_is_bounded():
    from jaxneuro._conversion import MAX_TRAIN_SLOTS

    # before: 1e9 Hz for 1 s asked for a buffer of 1e9 slots per train (4 GB each)
    with pytest.raises(
        ValueError,
        match=r"^rates x duration must be at most 1.34125e\+08 spikes per train .*"
        r"got max\(rates\) = 1e\+09 Hz, duration = 1 s: 1e\+09 spikes",
    ):
        jn.poisson_spike_train(jnp.array([1e9, 1.0]), 1.0, KEY)
    top = MAX_TRAIN_SLOTS // 2 - 1
    with pytest.raises(ValueError, match=rf"^capacity must be an int in \[1, {top}\], got capacity = {top + 1}\.$"):
        jn.poisson_spike_train(jnp.array([1.0, 1.0]), 1.0, KEY, capacity=top + 1)
    with pytest.raises(ValueError, match=rf"^capacity must be an int in \[1, {MAX_TRAIN_SLOTS // 4 - 1}\]"):
        jn.regular_spike_train(jnp.ones(4), 1.0, capacity=10**9)
    # a large rate within the bound still works: 1e5 Hz over 0.1 s, about 1e4 spikes (Poisson sd 100)
    count = int(jn.poisson_spike_train(jnp.array([1e5]), 0.1, KEY).count[0])
    assert abs(count - 10_000) < 800


def test_poisson_default_capacity_fits_at_the_stated_limit():
    from jaxneuro._conversion import _max_capacity, _max_mean

    for n in (1, 2, 1000):  # the largest allowed mean's default capacity is within the bound
        top = _max_capacity(n)
        m = _max_mean(top)
        assert math.ceil(m + 8 * math.sqrt(m) + 8) <= top < math.ceil((m + 2) + 8 * math.sqrt(m + 2) + 8)


def test_plot_filtered_spikes_bins_are_bounded():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    # before: 1e12 bins died in JAX with an OverflowError
    with pytest.raises(ValueError, match=r"^dt must be at least t_max / 1000000 = 1e-06 s .*1e\+12 bins\.$"):
        jn.plot.plot_filtered_spikes(np.array([0.01]), 0.01, t_max=1.0, dt=1e-12)
    ax = jn.plot.plot_filtered_spikes(np.array([0.01]), 0.01, t_max=1.0, dt=1e-3)  # 1000 bins: drawn
    assert len(ax.lines) >= 2
    plt.close(ax.figure)


# ------------------------------------------------------------------------------ subnormal time constants
@pytest.mark.parametrize("tau", [1e-45, 1e-38])  # subnormal in float32
def test_subnormal_time_constants_are_named(tau):
    # before: psc_kernel gave NaN (t / 0 once XLA flushed tau_s to zero), leaky_readout a numpy
    # RuntimeWarning (overflow in dt / tau)
    with pytest.raises(ValueError, match=r"^tau_s must be finite and in \[1.17549e-38, inf\) s; got tau_s = "):
        jn.psc_kernel(jnp.array([0.1, 0.0]), tau, 2)
    with pytest.raises(ValueError, match=r"^tau must be finite and in \[1.17549e-38, inf\) s; got tau = "):
        jn.losses.leaky_readout(jnp.ones((3, 2)), dt=0.001, tau=tau)
    # traced, checked on the bits (a fused comparison of a subnormal with 0 is not reliable)
    f = jax.jit(lambda ts: jn.psc_kernel(jnp.array([0.1]), ts))
    _raises_at_run_time(f, tau, match=r"tau_s must be finite and in \[1.17549e-38, inf\) s \(a traced value")


def test_smallest_normal_time_constants_are_finite():
    # tau_s = 2e-38: h(0.1) = e^(-5e36) / tau_s = 0 and h(0) = 0 for n = 2 (the limit), no NaN
    np.testing.assert_array_equal(jn.psc_kernel(jnp.array([0.1, 0.0]), 2e-38, 2), [0.0, 0.0])
    f = jax.jit(lambda ts: jn.psc_kernel(jnp.array([0.01]), ts))
    assert float(f(0.01)[0]) == pytest.approx(math.exp(-1.0) / 0.01, rel=1e-6)  # e^(-t/tau) / tau
    # leaky_readout with dt / tau = 5e38 (overflows float32): a = 0, v = I at once
    np.testing.assert_array_equal(jn.losses.leaky_readout(jnp.full((2, 1), 3.0), dt=10.0, tau=2e-38), [[3.0], [3.0]])


def test_batch_mesh_devices_must_be_devices():
    # before: batch_mesh(0) was "TypeError: 'int' object is not iterable"
    with pytest.raises(ValueError, match=r"^devices must be a sequence of jax devices .*got devices = 0\.$"):
        jn.batch_mesh(0)
    with pytest.raises(ValueError, match=r"^devices must be a sequence of jax devices .*got devices = \['cpu'\]\.$"):
        jn.batch_mesh(["cpu"])
    mesh = jn.batch_mesh(jax.devices()[:1])
    assert mesh.devices.size == 1 and mesh.devices.flat[0] == jax.devices()[0]

"""Rate network -> spiking LIF network (``convert_mlp``), against the notes' definitions.

References: the weight and bias mapping written in ``convert_mlp``'s docstring (checked entry by
entry), the closed-form spike train of a LIF neuron under a constant input (first spike at
``tau_m ln(J / (J - 1))``, then one every ``tau_ref + tau_m ln(J / (J - 1))``), the rate
network itself for the ``1/T`` bound of the readout error, float64 central differences for the
forward-mode derivative, and Poisson statistics for the spike-train inputs.  MNIST end to end is
in ``test_train_mnist.py`` (slow); the regression net's 1/T curve below.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn
from jaxneuro import train
from jaxneuro.cli import main


def _mlp(sizes, activation="lif", *, key=0, scale=1.0, final="identity"):
    keys = jax.random.split(jax.random.key(key), len(sizes) - 1)
    layers = []
    for n, m, k in zip(sizes[:-1], sizes[1:], keys, strict=True):
        kw, kb = jax.random.split(k)
        w = scale * jax.random.normal(kw, (m, n)) / math.sqrt(n)
        b = 0.5 + 0.5 * jax.random.uniform(kb, (m,))
        layers.append(jn.Dense.from_weights(w, b))
    return jn.MLP.from_layers(layers, activation, final)


@eqx.filter_jit
def _call(model, x, key=None):
    return model(x, key)


@eqx.filter_jit
def _run(model, x):
    return model.run(x)


def _spike_count(J, T, tau_m, tau_ref):
    """Spikes of a LIF neuron from v = 0 under constant input J in [0, T] (closed form)."""
    J = np.asarray(J, float)
    out = np.zeros(J.shape, int)
    above = J > 1
    t1 = tau_m * np.log(J[above] / (J[above] - 1))
    period = tau_ref + t1
    out[above] = np.where(t1 < T, np.floor((T - t1) / period) + 1, 0)
    return out


def test_weights_and_biases_map_as_the_docstring_says():
    act = functools.partial(jn.soft_lif_activation, tau_m=0.03, tau_ref=0.003, input_offset=0.5, amplitude=0.02)
    mlp = _mlp([4, 6, 5, 3], act, final="softmax")
    snn = jn.convert_mlp(mlp, presentation=0.06, dt=0.0015, tau_s=0.004)
    W1, W2, W3 = (layer.weight for layer in mlp.layers)
    b1, b2, _ = (layer.bias for layer in mlp.layers)
    p1, p2 = snn.network.populations
    assert (p1.size, p2.size) == (6, 5) and snn.layer_sizes == (6, 5)
    for p in (p1, p2):
        assert float(p.neuron.tau_m) == pytest.approx(0.03) and float(p.neuron.tau_ref) == pytest.approx(0.003)
        assert float(p.tau_s) == pytest.approx(0.004)
    np.testing.assert_allclose(p1.bias, b1 + 0.5, rtol=1e-6)
    np.testing.assert_allclose(p2.bias, b2 + 0.5, rtol=1e-6)
    (conn,) = snn.network.connections
    assert (conn.post, conn.pre) == (1, 0)
    np.testing.assert_allclose(conn.weight, 0.02 * W2, rtol=1e-6)  # w_ij = A W_l[i, j]
    x = jnp.array([0.1, 0.9, 0.4, 0.0])
    np.testing.assert_allclose(snn.network_for(x).populations[0].bias, W1 @ x + b1 + 0.5, rtol=1e-5)
    np.testing.assert_allclose(snn.readout.weight, W3)
    assert snn.max_spikes == math.ceil(0.06 / 0.003) + 1
    assert snn.final_activation == "softmax"  # applied to the readout


def test_first_layer_spikes_equal_the_closed_form_and_counts_read_them():
    mlp = _mlp([3, 40, 2], scale=3.0, key=1)
    T = 0.2
    snn = jn.convert_mlp(mlp, presentation=T, readout="counts")
    x = jnp.array([0.8, 0.2, 0.5])
    run = _run(snn, x)
    J = np.asarray(mlp.layers[0](x)) + 1.0
    want = _spike_count(J, T, 0.02, 0.002)
    assert want.min() == 0 and want.max() >= 10  # silent and busy neurons both present
    np.testing.assert_array_equal(run.network.spike_count, want)
    np.testing.assert_allclose(run.rates, want / T, rtol=1e-6)
    np.testing.assert_allclose(run.output, mlp.layers[1](0.01 * want / T), rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # ~15 s: three presentation times to compile
def test_readout_error_is_bounded_by_c_over_T():
    # One hidden layer with constant inputs: |n - r T| <= 1 for the count n, and the filtered
    # trace's integral is n minus a sum of decaying tails, at most 1 / (1 - e^(-P / tau_s)) with
    # P >= tau_ref the shortest interval; so |y_spiking - y_rate| <= A sum_j |W_L,ij| c / T.
    mlp = _mlp([3, 30, 2], scale=3.0, key=2)
    x = jnp.array([0.3, 0.7, 0.1])
    tau_s = 0.01
    c_count, c_filtered = 1.0, 1.0 + 1.0 / (1.0 - math.exp(-0.002 / tau_s))
    weight_sum = 0.01 * np.sum(np.abs(np.asarray(mlp.layers[1].weight)), axis=1)
    rate = np.asarray(mlp(x))
    errors = []
    for T in (0.05, 0.2, 0.8):
        run = _run(jn.convert_mlp(mlp, presentation=T, tau_s=tau_s), x)
        counted = np.asarray(mlp.layers[1](0.01 * run.network.spike_count[:30] / T))  # the counts readout
        err_f, err_c = np.abs(np.asarray(run.output) - rate), np.abs(counted - rate)
        assert np.all(err_f <= weight_sum * c_filtered / T + 1e-5), (T, err_f)
        assert np.all(err_c <= weight_sum * c_count / T + 1e-5), (T, err_c)
        errors.append(max(err_f.max(), err_c.max()))
    assert errors[-1] < errors[0] / 4  # and it does fall: 16x longer, at least 4x smaller


@pytest.mark.slow  # ~12 s: two compilations
def test_predict_is_jittable_and_does_not_recompile():
    mlp = _mlp([3, 10, 8, 2], key=3)
    snn = jn.convert_mlp(mlp, presentation=0.03)
    traces = []

    @eqx.filter_jit
    def predict(model, xs):
        traces.append(1)
        return model.predict(xs)

    xs = jax.random.uniform(jax.random.key(0), (5, 3))
    y1 = predict(snn, xs)
    y2 = predict(eqx.tree_at(lambda m: m.readout.bias, snn, snn.readout.bias + 1.0), xs + 0.01)
    assert len(traces) == 1
    assert not np.allclose(y1, y2)
    vmapped = eqx.filter_jit(lambda m, xs: jax.vmap(m)(xs))(snn, xs)  # the same outputs under vmap
    np.testing.assert_allclose(vmapped, y1, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # ~10 s: three compilations of a float64 network
def test_forward_derivative_matches_central_differences(x64):
    mlp = _mlp([2, 12, 10, 2], scale=2.0, key=4)
    mlp = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, mlp)
    snn = jn.convert_mlp(mlp, presentation=0.1)
    x = jnp.array([0.4, 0.6], jnp.float64)
    v = jnp.array([1.0, -0.5], jnp.float64)
    _, tangent = eqx.filter_jit(lambda m, x, v: jax.jvp(m, (x,), (v,)))(snn, x, v)
    eps = 1e-6
    fd = (_call(snn, x + eps * v) - _call(snn, x - eps * v)) / (2 * eps)
    assert np.all(np.isfinite(np.asarray(tangent))) and np.max(np.abs(np.asarray(fd))) > 1e-3
    np.testing.assert_allclose(tangent, fd, rtol=1e-4, atol=1e-7)


@pytest.mark.slow  # ~8 s: two compilations
def test_spike_inputs_carry_the_input_rates():
    mlp = _mlp([3, 6, 2], key=5)
    x = jnp.array([0.0, 0.25, 1.0])
    reg = jn.convert_mlp(mlp, presentation=0.2, inputs="regular", max_input_rate=100.0)
    train = jn.regular_spike_train(x * 100.0, 0.2, capacity=reg._input_capacity())
    np.testing.assert_array_equal(train.count, [0, 5, 20])  # (k + 1/2) / r < T
    np.testing.assert_allclose(train.times[1, :5], (np.arange(5) + 0.5) / 25.0, rtol=1e-6)
    assert _call(reg, x).shape == (2,)
    poi = jn.convert_mlp(mlp, presentation=0.2, inputs="poisson")
    y1, y2 = _call(poi, x, jax.random.key(1)), _call(poi, x, jax.random.key(2))
    assert np.all(np.isfinite(np.asarray(y1))) and not np.allclose(y1, y2)


def test_poisson_spike_trains_have_poisson_statistics():
    rates = jnp.array([0.0, 20.0, 100.0])
    n = 4000
    keys = jax.random.split(jax.random.key(3), n)
    trains = jax.vmap(lambda k: jn.poisson_spike_train(rates, 0.5, k, capacity=120))(keys)
    counts = np.asarray(trains.count, float)
    mean, var = counts.mean(0), counts.var(0)
    expect = np.asarray(rates) * 0.5
    assert mean[0] == 0 and var[0] == 0
    # the sample mean within 5 standard errors; the Fano factor within 5 of its standard errors
    np.testing.assert_array_less(np.abs(mean[1:] - expect[1:]), 5 * np.sqrt(expect[1:] / n))
    np.testing.assert_array_less(np.abs(var[1:] / mean[1:] - 1.0), 5 * np.sqrt(2.0 / n))
    t = np.asarray(trains.times[:, 2])
    first = t[:, 0]
    # first spike exponential with mean 1/rate (within 5 standard errors)
    assert abs(first.mean() - 0.01) < 5 * 0.01 / math.sqrt(n)
    assert np.all(np.diff(np.where(np.isfinite(t), t, 1.0), axis=1) >= 0)
    with pytest.raises(ValueError, match="rates"):
        jn.poisson_spike_train(jnp.array([-1.0]), 0.5, keys[0])


@pytest.mark.parametrize(
    ("activation", "match"),
    [
        ("relu", r"hidden layers 0..1 \(mlp.activation\): activation 'relu' has no spiking counterpart"),
        ("tanh", r"activation 'tanh' has no spiking counterpart.*train with 'soft_lif'"),
        ("softmax", r"'softmax' has no spiking counterpart \(softmax couples the units of a layer"),
    ],
)
def test_activations_without_a_spiking_counterpart_are_refused(activation, match):
    with pytest.raises(ValueError, match=match):
        jn.convert_mlp(_mlp([3, 4, 4, 2], activation))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(presentation=0.002), r"presentation must be longer than the refractory period tau_ref = 0.002 s"),
        (dict(presentation=0.0505), r"presentation must be a multiple of dt"),
        (dict(dt=0.0015, presentation=0.03), r"dt must be in \(0, tau_ref / 2 = 0.001\] s; got dt = 0.0015"),
        (dict(tau_s=-1.0), r"tau_s must be finite and in \(0, inf\) s; got tau_s = -1"),
        # readout = "max" and inputs = "rate": not one of the Literals' values on purpose
        pytest.param(
            dict(readout="max"),
            r"readout must be one of \('filtered', 'counts'\), got 'max'",
            marks=pytest.mark.jaxtyping_off,
        ),
        pytest.param(dict(inputs="rate"), r"inputs must be one of", marks=pytest.mark.jaxtyping_off),
        (dict(readout_start=0.05), r"readout_start must be in \[0, presentation = 0.05\) s"),
        (dict(max_input_rate=0.0), r"max_input_rate must be finite and in \(0, inf\) Hz"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.convert_mlp(_mlp([3, 4, 2]), **kwargs)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        jn.convert_mlp(_mlp([3, 2]))
    snn = jn.convert_mlp(_mlp([3, 4, 2]), inputs="poisson")
    with pytest.raises(ValueError, match="key is required for Poisson inputs"):
        snn(jnp.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\] for poisson spike inputs; got x in \[-0.1, 0.3\]"):
        snn(jnp.array([-0.1, 0.2, 0.3]), jax.random.key(0))
    with pytest.raises(Exception, match=r"x must be in \[0, 1\] for poisson spike inputs"):
        jax.jit(lambda x: snn(x, jax.random.key(0)))(jnp.array([1.5, 0.2, 0.3])).block_until_ready()
    with pytest.raises(ValueError, match=r"x must have shape \(in_size,\) = \(3,\)"):
        snn(jnp.zeros(4), jax.random.key(0))


# ----------------------------------------------------------------- a trained run, the command line
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    """configs/regression_lif.toml trained (about 5 s): one hidden layer of 128 LIF-rate units."""
    out = tmp_path_factory.mktemp("regression_lif")
    result = train.fit(train.load_config(CONFIGS / "regression_lif.toml"), out, stream=None, plot=False)
    assert result.final["test_mse"] < 0.01  # the rate network fits sin(2 pi x)
    return out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One epoch of configs/regression_lif.toml: a run folder for the command line's error paths."""
    out = tmp_path_factory.mktemp("tiny_run")
    train.fit(train.load_config(CONFIGS / "regression_lif.toml", ["epochs=1"]), out, stream=None, plot=False)
    return out


@pytest.mark.slow  # ~25 s: training, and three presentation times to compile
def test_regression_net_error_falls_like_one_over_T(regression_run):
    rows = train.evaluate_spiking(regression_run, [0.05, 0.2, 0.8], stream=None, plot=False)
    T = np.array([r["presentation_ms"] for r in rows]) / 1e3
    err = np.array([r["rmse_vs_rate"] for r in rows])
    slope = np.polyfit(np.log(T), np.log(err), 1)[0]
    print(f"regression: RMS error against the rate net {err} at T = {T} s; log-log slope {slope:.2f}")
    assert -1.25 < slope < -0.75  # 1/T: a count is off by less than one spike (one hidden layer)
    _, data, model = train.load_run(regression_run)
    bound = 0.01 * float(np.sum(np.abs(np.asarray(model.layers[1].weight)))) * (1 + 1 / (1 - math.exp(-0.2)))
    assert np.all(err <= bound / T)  # the c / T bound of test_readout_error_is_bounded_by_c_over_T
    assert rows[-1]["rmse_vs_target"] < 2 * rows[-1]["rate_rmse_vs_target"] + err[-1]


@pytest.mark.slow  # ~20 s: training and two presentation times
def test_spiking_command_writes_table_and_plots(regression_run, capsys):
    status = main(["spiking", str(regression_run), "--times", "20", "50", "--limit", "200", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0 and "spiking rmse_vs_rate: 20 ms:" in out
    with open(regression_run / "spiking_accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["presentation_ms"]) for r in rows] == [20.0, 50.0]
    assert float(rows[1]["rmse_vs_rate"]) < float(rows[0]["rmse_vs_rate"])
    for name in ("spiking_accuracy.png", "spiking_raster.png", "spiking.json"):
        assert (regression_run / name).stat().st_size > 1000 or name == "spiking.json"
    assert json.loads((regression_run / "spiking.json").read_text())["inputs"] == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{run}", "--times", "1"], "jaxneuro spiking: error: argument --times: presentation must be longer than"),
        (["{run}", "--times", "50", "--dt", "0.01"], "jaxneuro spiking: error: argument --dt: dt must be in (0, "),
        (["{run}", "--limit", "0"], "jaxneuro spiking: error: argument --limit: must be an integer >= 1"),
        # before: "the spiking network failed a run-time check: the network's state became non-finite"
        (["{run}", "--tau-s", "1e-30"], "error: argument --tau-s: tau_s must be at least dt / 64 = 1.5625e-05 s"),
        (["{run}", "--limit", "5000"], "jaxneuro spiking: error: argument --limit: limit must be an int in [1, "),
        (["{run}/nothing"], "jaxneuro spiking: error: argument run: "),
        (["{tmp}"], "is not a training run folder (it has no config.json)"),
    ],
)
def test_spiking_command_bad_input_is_one_line(args, message, tiny_run, tmp_path, capsys):
    # (the first cases load and convert the run: about 2 s each)
    run = tiny_run
    args = [a.format(run=run, tmp=tmp_path) for a in args]
    with contextlib.suppress(SystemExit):
        status = main(["spiking", *args])
        assert status == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err

"""Spiking classifiers trained from configs (``[spiking]``, ``loss = "first_spike_cross_entropy"``).

References: the loss is checked against its definition (the first-spike cross-entropy of
``jaxneuro.losses`` plus the late-spike term, computed here from the model's output times), the
score against argmin of the first-spike times, and a short training run against its own
checkpoint (resumed model = saved model, the same test accuracy re-evaluated independently).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuro as jn
from jaxneuro import train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SMALL = ["epochs=1", "data.train_size=64", "data.test_size=64", "model.hidden_sizes=[12]", "batch_size=16"]


@pytest.mark.slow  # 25-60 s: the exact network's adjoint and the stepped one compile inside an epoch scan
@pytest.mark.parametrize("gradient", ["exact", "surrogate"])
def test_spiking_config_trains_and_its_checkpoint_reloads(gradient, tmp_path):
    cfg = train.load_config(CONFIGS / "yin_yang.toml", [*SMALL, f"spiking.gradient={gradient}"])
    result = train.fit(cfg, tmp_path, stream=None, plot=False)
    model = result.model
    assert isinstance(model, jn.SpikingClassifier) and model.gradient == gradient
    assert model.layer_sizes == (12, 3)
    config, data, loaded = train.load_run(tmp_path)
    assert config == cfg
    for a, b in zip(
        jax.tree.leaves(eqx.filter(loaded, eqx.is_array)), jax.tree.leaves(eqx.filter(model, eqx.is_array)), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    t = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(loaded, data.x_test)
    accuracy = float(np.mean(np.argmin(np.asarray(t), -1) == np.asarray(data.t_test)))
    assert result.final["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert np.isfinite(result.final["train_loss"])


def test_first_spike_loss_is_the_cross_entropy_plus_the_late_spike_term():
    cfg = train.load_config(CONFIGS / "yin_yang.toml")
    loss, score = train.task_functions(cfg, 3)
    sp = cfg.spiking
    t = jnp.array([0.012, 0.009, 0.04])
    for label in range(3):
        logits = -np.asarray(t, float) / sp.loss_tau
        ce = -(logits[label] - np.log(np.sum(np.exp(logits - logits.max()))) - logits.max())
        late = sp.late_spike_weight * np.expm1(float(t[label]) / sp.late_spike_tau)
        np.testing.assert_allclose(loss(t, label), ce + late, rtol=1e-5)
        assert float(score(t, label)) == float(label == 1)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["loss=categorical_cross_entropy_with_logits"], "'loss' must be 'first_spike_cross_entropy' exactly when"),
        (["data.name=regression", "loss=first_spike_cross_entropy"], "'loss' must be 'mse' for data.name"),
        (["spiking.gradient=bptt"], "config key 'spiking.gradient' must be one of 'exact', 'surrogate'"),
        (["spiking.tau_s=-1"], r"spiking.tau_s.*a finite float > 0"),
        (["spiking.max_spikes=0"], r"spiking.max_spikes.*None or an integer >= 1"),
        # before: NaN weights after the first step ("the network's weights must be finite")
        (
            ["spiking.loss_tau=1e-38"],
            r"'spiking.loss_tau' must be a float >= 1.17549e-38, got spiking.loss_tau = 1e-38",
        ),
        (
            ["spiking.late_spike_tau=1e-30"],
            r"'spiking.late_spike_tau' must be a float >= spiking.duration / 80 = 0.0005",
        ),
    ],
)
def test_bad_spiking_configs_are_named(overrides, match):
    with pytest.raises(train.ConfigError, match=match):
        train.load_config(CONFIGS / "yin_yang.toml", overrides)


def test_first_spike_loss_needs_a_spiking_table():
    with pytest.raises(train.ConfigError, match="without one"):
        train.load_config(CONFIGS / "mnist_mlp.toml", ["loss=first_spike_cross_entropy"])


def test_mnist_exact_config_is_the_surrogate_one_with_exact_gradients():
    exact, surrogate = train.load_config("mnist_latency_exact"), train.load_config("mnist_latency")
    assert exact.spiking.gradient == "exact" and surrogate.spiking.gradient == "surrogate"
    # the same task, network, code, loss and optimiser: only the gradient, the epochs and the
    # initial weights (an exact gradient cannot train a silent network out of silence) differ
    assert dataclasses.replace(exact, spiking=surrogate.spiking, epochs=surrogate.epochs) == surrogate
    assert exact.spiking.weight_mean > surrogate.spiking.weight_mean
    assert exact.spiking.max_spikes is not None and surrogate.spiking.max_spikes is None
    assert (
        dataclasses.replace(
            exact.spiking, gradient="surrogate", weight_mean=surrogate.spiking.weight_mean, max_spikes=None
        )
        == surrogate.spiking
    )


def test_mnist_latency_config_builds_and_trains_a_few_images():
    # The shipped MNIST config: a 784-350-10 first-spike classifier with the intensity code; a few
    # optimiser steps on 16 MNIST-like images (a fifth of the pixels bright, the rest 0, as in
    # MNIST; the real data set trains in the benchmark) lower their loss.
    from jaxneuro.train._fit import make_model, make_optimizer
    from jaxneuro.train._step import make_train_step

    cfg = train.load_config("mnist_latency")
    sp = cfg.spiking
    assert cfg.data.name == "mnist" and cfg.model.hidden_sizes == (350,) and cfg.loss == "first_spike_cross_entropy"
    assert sp.encoding == "intensity" and sp.input_threshold == 0.0
    rng = np.random.default_rng(0)
    bright = rng.random((16, 784)) < 0.2
    x = jnp.asarray(np.where(bright, rng.uniform(0.3, 1.0, (16, 784)), 0.0), jnp.float32)
    y = jnp.asarray(np.arange(16) % 10, jnp.int32)
    model = make_model(cfg, 784, 10, key=jax.random.key(0))
    assert isinstance(model, jn.SpikingClassifier) and model.layer_sizes == (350, 10)
    assert model.encoding == "intensity" and model.gradient == cfg.spiking.gradient
    loss_fn, score_fn = train.task_functions(cfg, 10)
    t = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(model, x)
    assert np.all(np.asarray(t) < sp.duration)  # every output fires at initialisation
    # the config's loss is the cross-entropy over first spikes plus the late-spike term
    ce = jax.vmap(lambda t, k: jn.first_spike_cross_entropy(t, k, tau=sp.loss_tau, window=2 * sp.duration))(t, y)
    late = sp.late_spike_weight * jnp.expm1(t[jnp.arange(16), y] / sp.late_spike_tau)
    np.testing.assert_allclose(jax.vmap(loss_fn)(t, y), ce + late, rtol=1e-5)
    optimizer = make_optimizer(cfg, 60000)
    step = make_train_step(loss_fn, optimizer, score_fn)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))
    losses = []
    for _ in range(4):
        model, opt_state, loss, _ = step(model, opt_state, x, y)
        losses.append(float(loss))
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def _silent_lines(text):
    return [line for line in text.splitlines() if "no output neuron fired" in line]


@pytest.mark.slow  # a training run (compilation of the stepped network inside an epoch scan)
def test_a_silent_network_is_reported_every_epoch():
    # zero weights: no neuron can reach threshold, so every sample is silent (fraction 1 exactly)
    over = [*SMALL, "epochs=2", "spiking.gradient=surrogate", "spiking.weight_mean=0.0", "spiking.weight_std=0.0"]
    cfg = train.load_config(CONFIGS / "yin_yang.toml", over)
    log = io.StringIO()
    result = train.fit(cfg, None, stream=log, plot=False)
    assert [row["silent_fraction"] for row in result.metrics] == [1.0, 1.0]
    lines = _silent_lines(log.getvalue())
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2"]
    assert "100.0% of 64 training samples" in lines[0] and "jaxneuro.losses.silent_neuron_penalty" in lines[0]


@pytest.mark.slow  # a training run
def test_silent_fraction_is_that_of_the_model_outputs():
    from jaxneuro.train._fit import SILENT_PROBE

    cfg = train.load_config(CONFIGS / "yin_yang.toml", [*SMALL, "spiking.gradient=surrogate"])
    log = io.StringIO()
    result = train.fit(cfg, None, stream=log, plot=False)
    data = train.load_data(cfg)
    x = np.asarray(data.x_train[:SILENT_PROBE])
    model = result.model
    # independently: each sample's outputs one at a time, silent where none is below the duration
    silent = [bool(np.all(np.asarray(model(jnp.asarray(xi))) >= model.duration)) for xi in x[:64]]
    assert len(x) == 64
    assert result.metrics[0]["silent_fraction"] == pytest.approx(np.mean(silent), abs=1e-12)
    assert len(_silent_lines(log.getvalue())) == (1 if any(silent) else 0)

"""jaxneuro.train: the jitted step and epoch, fit from configs, checkpoints, resume, NaN stop, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxneuro
from jaxneuro import train
from jaxneuro.train import ConfigError, NonFiniteLossError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def assert_trees_identical(a, b):
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb) and la
    for x, y in zip(la, lb, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y), "trees differ"


def small_regression(**overrides) -> train.Config:
    raw = {
        "epochs": 6,
        "batch_size": 16,
        "loss": "mse",
        "data": {"name": "regression", "train_size": 72, "test_size": 101},
        "model": {"hidden_sizes": [16], "activation": "tanh"},
        "optimizer": {"learning_rate": 0.01, "schedule": "cosine"},
    }
    return config_from_dict(raw, overrides)


# --- the step against a hand-derived gradient ---------------------------------------------


def test_train_step_matches_hand_gradient_sgd():
    # A linear model y = W x + b with L = 1/2 ||y - t||^2 has dL/dW = (y - t) x^T: plain numpy SGD.
    key = jax.random.PRNGKey(0)
    model = jaxneuro.MLP(3, 2, [], "identity", key=key)
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (8, 3)), np.float64)
    t = np.asarray(jax.random.normal(jax.random.PRNGKey(2), (8, 2)), np.float64)
    lr = 0.1
    step = train.make_train_step(jaxneuro.losses.mse, optax.sgd(lr))
    opt_state = optax.sgd(lr).init(eqx.filter(model, eqx.is_inexact_array))
    W = np.asarray(model.layers[0].weight, np.float64)
    b = np.asarray(model.layers[0].bias, np.float64)
    for _ in range(3):
        y = x @ W.T + b
        ref_loss = 0.5 * np.mean(np.sum((y - t) ** 2, axis=1))
        model, opt_state, loss, _ = step(model, opt_state, jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.float32))
        np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-5)
        W, b = W - lr * (y - t).T @ x / len(x), b - lr * np.mean(y - t, axis=0)
        np.testing.assert_allclose(np.asarray(model.layers[0].weight), W, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(model.layers[0].bias), b, rtol=1e-5, atol=1e-6)


def test_train_step_compiles_once():
    traces = []

    def loss(y, t):
        traces.append(1)  # runs only while tracing
        return jaxneuro.losses.mse(y, t)

    model = jaxneuro.MLP(2, 1, [4], "tanh", key=jax.random.PRNGKey(0))
    opt = optax.adam(1e-2)
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    step = train.make_train_step(loss, opt)
    from jaxneuro.data import xor

    x, t = xor()
    model, opt_state, l1, _ = step(model, opt_state, x, t)
    n = len(traces)
    assert n >= 1
    for _ in range(3):
        model, opt_state, l2, _ = step(model, opt_state, x + 0.0, t)
    assert len(traces) == n, "the second call retraced"
    assert float(l2) < float(l1)


def test_train_epoch_compiles_once_and_equals_per_batch_steps():
    traces = []

    def loss(y, t):
        traces.append(1)
        return jaxneuro.losses.mse(y, t)

    cfg = small_regression()
    data = train.load_data(cfg)
    opt = train.make_optimizer(cfg, 72)
    state = train.init_state(cfg, data)
    epoch = train.make_train_epoch(loss, opt, 16)
    k1, k2 = jax.random.split(jax.random.PRNGKey(5))
    m1, o1, losses1, _ = epoch(state.model, state.opt_state, k1, data.x_train, data.t_train)
    n = len(traces)
    m1, o1, losses2, _ = epoch(m1, o1, k2, data.x_train, data.t_train)
    assert len(traces) == n, "the second epoch retraced"
    assert losses1.shape == losses2.shape == (72 // 16,)

    # the same epochs as a Python loop of jitted steps on the same minibatches
    step = train.make_train_step(jaxneuro.losses.mse, opt)
    m2, o2 = state.model, state.opt_state
    ref = []
    for k in (k1, k2):
        for idx in np.asarray(train.epoch_batches(k, 72, 16)):
            m2, o2, l, _ = step(m2, o2, data.x_train[idx], data.t_train[idx])
            ref.append(float(l))
    np.testing.assert_allclose(np.concatenate([losses1, losses2]), ref, rtol=1e-5)
    for a, b in zip(leaves(m1), leaves(m2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_epoch_batches_partition():
    idx = np.asarray(train.epoch_batches(jax.random.PRNGKey(0), 50, 16))
    assert idx.shape == (3, 16)
    assert len(set(idx.ravel())) == 48 and idx.min() >= 0 and idx.max() < 50
    other = np.asarray(train.epoch_batches(jax.random.PRNGKey(1), 50, 16))
    assert not np.array_equal(idx, other)
    assert np.asarray(train.epoch_batches(jax.random.PRNGKey(0), 4, 128)).shape == (1, 4)


def test_step_vmaps_over_an_ensemble():
    # five models trained side by side with filter_vmap equal five separate runs
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    models = eqx.filter_vmap(lambda k: jaxneuro.MLP(2, 1, [4], "tanh", key=k))(keys)
    opt = optax.sgd(0.5)
    states = eqx.filter_vmap(lambda m: opt.init(eqx.filter(m, eqx.is_inexact_array)))(models)
    step = train.make_train_step(jaxneuro.losses.binary_cross_entropy_with_logits, opt)
    from jaxneuro.data import xor

    x, t = xor()
    vstep = eqx.filter_vmap(step, in_axes=(eqx.if_array(0), eqx.if_array(0), None, None))
    new_models, _, losses, _ = vstep(models, states, x, t)
    for i, k in enumerate(keys):
        m = jaxneuro.MLP(2, 1, [4], "tanh", key=k)
        m, _, loss, _ = step(m, opt.init(eqx.filter(m, eqx.is_inexact_array)), x, t)
        np.testing.assert_allclose(float(losses[i]), float(loss), rtol=1e-6)
        np.testing.assert_allclose(
            np.asarray(new_models.layers[0].weight[i]), np.asarray(m.layers[0].weight), rtol=1e-6
        )


def test_evaluate_matches_numpy_and_compiles_once():
    traces = []

    def loss(y, t):
        traces.append(1)
        return jaxneuro.losses.mse(y, t)

    model = jaxneuro.MLP(1, 1, [8], "tanh", key=jax.random.PRNGKey(0))
    evaluate = train.make_evaluate(loss, lambda y, t: jnp.sum((y - t) ** 2), chunk_size=7)
    x = jnp.linspace(0, 1, 30)[:, None]
    t = jnp.sin(x)
    mean_loss, mean_sq = evaluate(model, x, t)
    n = len(traces)
    evaluate(model, x * 0.5, t)
    assert len(traces) == n
    W1, b1 = (np.asarray(a, np.float64) for a in (model.layers[0].weight, model.layers[0].bias))
    W2, b2 = (np.asarray(a, np.float64) for a in (model.layers[1].weight, model.layers[1].bias))
    y = np.tanh(np.asarray(x, np.float64) @ W1.T + b1) @ W2.T + b2
    sq = np.sum((y - np.asarray(t, np.float64)) ** 2, axis=1)
    np.testing.assert_allclose(float(mean_sq), sq.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(mean_loss), 0.5 * sq.mean(), rtol=1e-5)


# --- fit from the shipped configs ---------------------------------------------------------


def test_xor_reaches_four_of_four(tmp_path):
    import time

    cfg = load_config(CONFIGS / "xor.toml")
    start = time.perf_counter()
    result = train.fit(cfg, tmp_path / "xor", stream=None)
    elapsed = time.perf_counter() - start
    assert result.completed
    from jaxneuro.data import xor

    x, t = xor()
    p = jax.nn.sigmoid(jax.vmap(result.model)(x))  # logits -> probabilities
    np.testing.assert_array_equal(np.asarray(p > 0.5), np.asarray(t > 0.5))
    assert result.final["test_accuracy"] == 1.0
    assert elapsed < 60, f"XOR took {elapsed:.1f} s"


@pytest.mark.slow  # the whole configs/regression.toml run, to its target
def test_regression_reaches_mse_1e_3(tmp_path):
    cfg = load_config(CONFIGS / "regression.toml")
    result = train.fit(cfg, tmp_path / "reg", stream=None)
    x = np.linspace(0, 1, 2001)
    y = np.asarray(jax.vmap(result.model)(jnp.asarray(x, jnp.float32)[:, None]))[:, 0]
    mse = np.mean((y - np.sin(2 * np.pi * x)) ** 2)
    assert mse <= 1e-3, mse
    np.testing.assert_allclose(result.final["test_mse"], mse, rtol=0.05)


# --- output files, resume, NaN stop ----------------------------------------------------------


def test_run_writes_metrics_plot_checkpoint(tmp_path):
    import io

    cfg = small_regression(eval_every=2)
    stream = io.StringIO()
    result = train.fit(cfg, tmp_path, stream=stream)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 7)) == [r["epoch"] for r in result.metrics]
    assert [r["step"] for r in rows] == [4 * e for e in range(1, 7)]
    assert all("train_loss" in r and "train_mse" in r and "lr" in r for r in rows)
    assert ["test_mse" in r for r in rows] == [False, True, False, True, False, True]
    # cosine schedule: lr at the last step of epoch e is the optax schedule at step 4e - 1
    sched = optax.cosine_decay_schedule(0.01, 24)
    np.testing.assert_allclose([r["lr"] for r in rows], [float(sched(4 * e - 1)) for e in range(1, 7)], rtol=1e-6)
    assert (tmp_path / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "config.json").read_text()) == cfg.to_dict()
    info = json.loads((tmp_path / "checkpoint.json").read_text())
    assert info["epoch"] == 6 and info["step"] == 24
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["epoch"] == 6 and summary["test_mse"] == rows[-1]["test_mse"]
    # progress on a stream that is not a terminal: one line at the end, with the last metrics
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.startswith("epochs: 100%|##########| 6/6 [")
    # tqdm writes the rate as epoch/s, or as s/epoch when an epoch takes over a second (loaded machine)
    assert ("epoch/s, loss " in text or "s/epoch, loss " in text) and "  mse " in text and "  test mse " in text
    state, _ = train.load_checkpoint(tmp_path, train.init_state(cfg, train.load_data(cfg)))
    assert_trees_identical(state.model, result.model)
    assert not list(tmp_path.glob("*.tmp"))


# three training runs per mode: the per-batch mode by default, the scanned epoch with -m slow (resuming
# stays in the default run in tests/test_persistence.py too)
@pytest.mark.parametrize("scan_epoch", [pytest.param(True, marks=pytest.mark.slow), False])
def test_resume_is_bit_exact(tmp_path, scan_epoch):
    cfg = small_regression(scan_epoch=scan_epoch, optimizer={"learning_rate": 0.01, "schedule": "cosine"})
    full = train.fit(cfg, tmp_path / "full", stream=None, plot=False)

    part = train.fit(cfg.replace(["stop_after_epochs=2"]), tmp_path / "part", stream=None, plot=False)
    assert not part.completed and int(part.state.epoch) == 2
    assert not (tmp_path / "part" / "summary.json").exists()
    part = train.fit(cfg.replace(["stop_after_epochs=4"]), tmp_path / "part", resume=True, stream=None, plot=False)
    assert int(part.state.epoch) == 4
    done = train.fit(cfg, tmp_path / "part", resume=True, stream=None, plot=False)
    assert done.completed and int(done.state.step) == int(full.state.step) == 24

    assert_trees_identical(done.model, full.model)
    assert_trees_identical(done.state.opt_state, full.state.opt_state)
    np.testing.assert_array_equal(np.asarray(done.state.key), np.asarray(full.state.key))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_time"} for r in rows]
    assert strip(done.metrics) == strip(full.metrics)
    on_disk = [json.loads(line) for line in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert strip(on_disk) == strip(full.metrics)


class _Crash(Exception):
    pass


def test_resume_after_a_crash_between_checkpoints(tmp_path, monkeypatch):
    # checkpoints every 2 epochs; the run dies after epoch 3 is trained and logged, while its
    # metrics go to the progress bar (an injected interruption)
    from jaxneuro.train import _fit

    cfg = small_regression(checkpoint_every=2)
    full = train.fit(cfg, tmp_path / "full", stream=None, plot=False)
    shown = _fit.metrics_text

    def crash_at_epoch_3(row):
        if row["epoch"] == 3:
            raise _Crash
        return shown(row)

    with monkeypatch.context() as m:
        m.setattr(_fit, "metrics_text", crash_at_epoch_3)
        with pytest.raises(_Crash):
            train.fit(cfg, tmp_path / "crash", stream=None, plot=False)
    assert json.loads((tmp_path / "crash" / "checkpoint.json").read_text())["epoch"] == 2
    assert len((tmp_path / "crash" / "metrics.jsonl").read_text().splitlines()) == 3
    done = train.fit(cfg, tmp_path / "crash", resume=True, stream=None, plot=False)
    assert_trees_identical(done.model, full.model)
    assert [r["epoch"] for r in done.metrics] == list(range(1, 7))  # epoch 3 logged once


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = small_regression()
    train.fit(cfg.replace(["stop_after_epochs=2"]), tmp_path, stream=None, plot=False)
    before = (tmp_path / "checkpoint.eqx").read_bytes()
    good = train.load_data(cfg)
    bad = train.Dataset(good.x_train, good.t_train.at[:].set(jnp.nan), good.x_test, good.t_test)
    with pytest.raises(
        NonFiniteLossError,
        match=r"the loss is nan at step 8 \(epoch 3, minibatch 1 of 4\)"
        r".*last good checkpoint, '.*checkpoint.eqx' \(after epoch 2\), is kept",
    ) as info:
        train.fit(cfg, tmp_path, resume=True, data=bad, stream=None, plot=False)
    assert info.value.step == 8 and info.value.epoch == 3
    assert info.value.checkpoint == tmp_path / "checkpoint.eqx"
    assert (tmp_path / "checkpoint.eqx").read_bytes() == before
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epoch"] == 2
    # the kept checkpoint still resumes to the same end as an uninterrupted run
    full = train.fit(cfg, tmp_path / "full", stream=None, plot=False)
    done = train.fit(cfg, tmp_path, resume=True, stream=None, plot=False)
    assert_trees_identical(done.model, full.model)


def test_divergence_in_the_first_epoch(tmp_path):
    cfg = small_regression(optimizer={"name": "sgd", "learning_rate": 1e30})
    with pytest.raises(
        NonFiniteLossError,
        match=r"the loss is (nan|inf) at step [0-3] \(epoch 1, .*no checkpoint had been written yet",
    ):
        train.fit(cfg, tmp_path, stream=None, plot=False)
    assert not (tmp_path / "checkpoint.eqx").exists()


def test_run_folder_errors(tmp_path):
    cfg = small_regression(epochs=1)
    with pytest.raises(FileNotFoundError, match=r"--resume: '.*' holds no checkpoint to resume from"):
        train.fit(cfg, tmp_path / "a", resume=True, stream=None)
    train.fit(cfg, tmp_path / "b", stream=None, plot=False)
    with pytest.raises(FileExistsError, match=r"already holds a run's checkpoint; pass --resume"):
        train.fit(cfg, tmp_path / "b", stream=None)
    with pytest.raises(ConfigError, match=r"these keys differ: optimizer.learning_rate: 0.01 -> 0.02"):
        train.fit(cfg.replace(["optimizer.learning_rate=0.02"]), tmp_path / "b", resume=True, stream=None)
    with pytest.raises(ValueError, match=r"resume=True needs the out_dir"):
        train.fit(cfg, None, resume=True)
    other = train.init_state(small_regression(model={"hidden_sizes": [3]}), train.load_data(cfg))
    with pytest.raises(ValueError, match=r"does not match the model and optimiser of this config"):
        train.load_checkpoint(tmp_path / "b", other)


@pytest.mark.jaxtyping_off  # config = a dict, not a Config, on purpose
def test_fit_names_a_config_of_the_wrong_type():
    with pytest.raises(TypeError, match=r"config must be a jaxneuro.train.Config, got dict"):
        train.fit(small_regression(epochs=1).to_dict())


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    cfg = small_regression()
    state = train.init_state(cfg, train.load_data(cfg))
    train.save_checkpoint(tmp_path, state)
    before = (tmp_path / "checkpoint.eqx").read_bytes()

    def broken(f, tree):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(eqx, "tree_serialise_leaves", broken)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(tmp_path, state)
    assert (tmp_path / "checkpoint.eqx").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.eqx", "checkpoint.json"]


def test_in_memory_run_and_per_batch_mode_agree():
    cfg = small_regression(epochs=2)
    a = train.fit(cfg, None, stream=None)
    b = train.fit(cfg.replace(["scan_epoch=false"]), None, stream=None)
    assert a.out_dir is None and len(a.metrics) == 2
    for x, y in zip(leaves(a.model), leaves(b.model), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_lif_evaluation_swaps_the_hidden_activation():
    model = jaxneuro.MLP(3, 2, [5], "soft_lif", key=jax.random.PRNGKey(0))
    swapped = train.with_hidden_activation(model, "lif")
    x = jax.random.normal(jax.random.PRNGKey(1), (3,))
    layer0, layer1 = model.layers
    expected = layer1(jaxneuro.lif_activation(layer0(x)))
    np.testing.assert_allclose(np.asarray(swapped(x)), np.asarray(expected), rtol=1e-6)
    assert_trees_identical(swapped, model)


def test_confusion_matrix_against_numpy():
    rng = np.random.default_rng(0)
    labels, preds = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    ref = np.zeros((4, 4), int)
    np.add.at(ref, (labels, preds), 1)
    cm = jax.jit(train.confusion_matrix, static_argnums=2)(labels, preds, 4)
    np.testing.assert_array_equal(np.asarray(cm), ref)
    with pytest.raises(ValueError, match=r"num_classes must be an int in \[1, inf\), got num_classes = 0"):
        train.confusion_matrix(labels, preds, 0)


# predictions of 199 for 200 labels and float labels: wrong shape and dtype on purpose
@pytest.mark.jaxtyping_off
def test_confusion_matrix_bad_inputs_are_named():
    rng = np.random.default_rng(0)
    labels, preds = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    with pytest.raises(ValueError, match=r"must be 1-D with the same shape, got shapes \(200,\) and \(199,\)"):
        train.confusion_matrix(labels, preds[:-1], 4)
    with pytest.raises(ValueError, match=r"must be integer arrays"):
        train.confusion_matrix(labels.astype(float), preds, 4)


def test_plots(tmp_path):
    from matplotlib.figure import Figure

    import jaxneuro.plot as jplot

    rows = [
        {
            "epoch": 1,
            "train_loss": 1.0,
            "train_accuracy": 0.5,
            "test_accuracy": 0.4,
            "test_accuracy_lif": 0.4,
        },
        {"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.8},
    ]
    axes = Figure().subplots(1, 2)
    jplot.plot_learning_curves(rows, axes=axes)
    labels = [line.get_label() for line in axes[1].get_lines()]
    assert labels == ["train", "test", "test, lif"]
    np.testing.assert_array_equal(axes[1].get_lines()[0].get_ydata(), [50.0, 80.0])
    with pytest.raises(ValueError, match=r"metrics must be a non-empty list of dicts with 'epoch' and 'train_loss'"):
        jplot.plot_learning_curves([])
    ax = jplot.plot_confusion_matrix(np.eye(3) * 5)
    assert ax.get_xlabel() == "predicted class"
    with pytest.raises(ValueError, match=r"matrix must be square \(K, K\), got shape \(2, 3\)"):
        jplot.plot_confusion_matrix(np.zeros((2, 3)))


# --- command line --------------------------------------------------------------------------


def test_cli_train_end_to_end(tmp_path, capsys):
    from jaxneuro.train._cli import main

    out = tmp_path / "run"
    argv = [
        "train",
        str(CONFIGS / "regression.toml"),
        "--out",
        str(out),
        "--quiet",
        "epochs=4",
        "--set",
        "data.train_size=64",
    ]
    assert main([*argv, "stop_after_epochs=2"]) == 0
    assert "stopped after epoch 2 (resume with --resume)" in capsys.readouterr().out
    assert main([*argv, "--resume"]) == 0
    assert "done: test_loss" in capsys.readouterr().out
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 4
    assert (out / "learning_curves.png").is_file() and (out / "summary.json").is_file()
    # bad input: exit status 2 and the reason on stderr
    assert main(["train", str(CONFIGS / "xor.toml"), "--out", str(tmp_path / "x"), "optimizer.learnig_rate=1"]) == 2
    assert "did you mean 'optimizer.learning_rate'" in capsys.readouterr().err
    mnist = [
        "train",
        str(CONFIGS / "mnist_mlp.toml"),
        "--out",
        str(tmp_path / "m"),
        f"data.data_dir={tmp_path / 'none'}",
    ]
    assert main(mnist) == 2
    assert "jaxneuro data prepare mnist --source" in capsys.readouterr().err
    nan = [
        "train",
        str(CONFIGS / "regression.toml"),
        "--out",
        str(tmp_path / "n"),
        "--quiet",
        "optimizer.name=sgd",
        "optimizer.learning_rate=1e30",
        "epochs=2",
    ]
    assert main(nan) == 1
    assert "training stopped: the loss is" in capsys.readouterr().err


def test_package_cli_train(tmp_path):
    from jaxneuro.cli import main

    out = tmp_path / "xor"
    assert main(["train", str(CONFIGS / "xor.toml"), "--out", str(out), "--quiet", "seed=0"]) == 0
    assert json.loads((out / "summary.json").read_text())["test_accuracy"] == 1.0
    assert main(["train", str(CONFIGS / "xor.toml"), "--out", str(out), "--quiet"]) == 2  # exists: needs --resume

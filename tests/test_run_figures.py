"""Figures a training run writes into its folder, and the plot functions behind them.

Classification runs write the test set's confusion matrix (CSV and PNG) and, for image data,
the first misclassified images; 1-D regression runs write the fitted function over its target.
Each is checked against the model and data recomputed here with numpy.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

import jaxneuro.plot as jplot
from jaxneuro import train
from jaxneuro.train import config_from_dict

PNG = b"\x89PNG\r\n\x1a\n"


def fake_mnist(n_train=256, n_test=200, seed=0) -> train.Dataset:
    """Images of 28 x 28 in [0, 1] whose class is the brightest of ten horizontal bands, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 10, n)
        img = rng.uniform(0, 0.6, (n, 28, 28)).astype(np.float32)
        for i, k in enumerate(labels):
            img[i, 2 * k + 4 : 2 * k + 6, :] += 0.4
        return jnp.asarray(img.reshape(n, 784)), jnp.asarray(labels, jnp.int32)

    x, y = make(n_train)
    xt, yt = make(n_test)
    return train.Dataset(x, y, xt, yt, num_classes=10)


@pytest.mark.slow  # two trainings' compile
def test_classification_run_writes_confusion_matrix_and_misclassified(tmp_path):
    data = fake_mnist()
    cfg = config_from_dict(
        {
            "epochs": 2,
            "batch_size": 64,
            "loss": "categorical_cross_entropy_with_logits",
            "data": {"name": "mnist"},
            "model": {"hidden_sizes": [16], "activation": "relu"},
            "optimizer": {"learning_rate": 3e-3},
        }
    )
    result = train.fit(cfg, tmp_path, data=data, stream=None)
    # the reference: the trained model's argmax on every test image, counted with numpy
    pred = np.asarray(jnp.argmax(jax.vmap(result.model)(data.x_test), axis=-1))
    labels = np.asarray(data.t_test)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (labels, pred), 1)
    lines = (tmp_path / "confusion_matrix.csv").read_text().splitlines()
    assert lines[0] == "true\\predicted," + ",".join(map(str, range(10)))
    matrix = np.array([[int(c) for c in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_array_equal(matrix, expected)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert np.trace(matrix) / matrix.sum() == pytest.approx(summary["test_accuracy"], abs=1e-6)
    assert 0 < np.trace(matrix) < matrix.sum()  # some right, some wrong: both figures have content
    for name in ("confusion_matrix.png", "misclassified.png", "learning_curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert not (tmp_path / "fit.png").exists()
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
def test_regression_run_writes_the_fitted_function(tmp_path):
    cfg = config_from_dict(
        {
            "epochs": 3,
            "batch_size": 16,
            "loss": "mse",
            "data": {"name": "regression", "train_size": 48, "test_size": 101},
            "model": {"hidden_sizes": [8], "activation": "tanh"},
            "optimizer": {"learning_rate": 0.01},
        }
    )
    train.fit(cfg, tmp_path, stream=None)
    assert (tmp_path / "fit.png").read_bytes()[:8] == PNG
    assert not (tmp_path / "confusion_matrix.csv").exists()
    train.fit(cfg, tmp_path / "no_plot", stream=None, plot=False)
    assert not list((tmp_path / "no_plot").glob("*.png"))


def test_write_run_figures_without_training(tmp_path):
    """The default-run check: an untrained model's figures and matrix, against numpy."""
    from jaxneuro.train._figures import write_run_figures

    data = fake_mnist(n_train=8, n_test=300)
    cfg = config_from_dict(
        {
            "epochs": 1,
            "batch_size": 8,
            "loss": "categorical_cross_entropy_with_logits",
            "data": {"name": "mnist"},
            "model": {"hidden_sizes": [4]},
            "optimizer": {"learning_rate": 0.01},
        }
    )
    model = train.make_model(cfg, 784, 10, key=jax.random.key(3))
    written = write_run_figures(tmp_path, cfg, data, model)
    assert [p.name for p in written] == ["confusion_matrix.csv", "confusion_matrix.png", "misclassified.png"]
    pred = np.argmax(np.asarray(jax.vmap(model)(data.x_test)), axis=-1)
    matrix = np.loadtxt(tmp_path / "confusion_matrix.csv", delimiter=",", skiprows=1, dtype=int)[:, 1:]
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(np.asarray(data.t_test), minlength=10))
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(pred, minlength=10))
    assert np.trace(matrix) == np.sum(pred == np.asarray(data.t_test))
    assert write_run_figures(tmp_path, cfg.replace({"data.name": "yin_yang"}), data, model)[-1].name == (
        "confusion_matrix.png"
    )  # not an image data set: no misclassified.png


def test_plot_misclassified_shows_the_wrong_ones_in_order():
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(30, 16))
    labels = rng.integers(0, 3, 30)
    predictions = labels.copy()
    wrong = [2, 5, 11, 17, 29]
    predictions[wrong] = (labels[wrong] + 1) % 3
    fig = jplot.plot_misclassified(images, labels, predictions, max_examples=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == [f"{labels[i]} -> {predictions[i]}" for i in wrong[:4]]
    np.testing.assert_array_equal(shown[0].images[0].get_array(), images[2].reshape(4, 4))
    assert "5 of 30" in fig._suptitle.get_text()
    # every example right: a note, no images
    fig = jplot.plot_misclassified(images, labels, labels)
    assert not any(ax.images for ax in fig.axes)
    with pytest.raises(ValueError, match=r"max_examples must be an int in \[1, inf\), got max_examples = 0"):
        jplot.plot_misclassified(images, labels, labels, max_examples=0)
    with pytest.raises(ValueError, match=r"image_shape is needed: images of 15 values are not square"):
        jplot.plot_misclassified(images[:, :15], labels, labels)
    with pytest.raises(ValueError, match=r"same length, got 30, 29, 30"):
        jplot.plot_misclassified(images, labels[:-1], labels)


def test_plot_regression_fit_draws_target_network_and_samples():
    x = np.linspace(0, 1, 11)
    ax = jplot.plot_regression_fit(x, np.sin(x), np.sin(x) + 0.1, x_train=x[::2], t_train=np.sin(x[::2]))
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"training samples (6)", "target", "network"}
    np.testing.assert_allclose(lines["network"].get_ydata(), np.sin(x) + 0.1)
    assert "RMS error 0.1 " in ax.get_title()
    with pytest.raises(ValueError, match=r"must be 1-D of one length"):
        jplot.plot_regression_fit(x, np.sin(x), np.zeros((11, 2)))


def test_tuning_curve_plot_thins_points_and_draws_the_curve_over_them():
    x = np.linspace(0, 5, 10_000)
    ax = Figure().subplots()
    jplot.plot_tuning_curve(x, 2 * x, analytic=(x, 2 * x), ax=ax, max_points=60)
    points, curve = ax.get_lines()
    assert len(points.get_xdata()) == 60 and points.get_xdata()[0] == 0 and points.get_xdata()[-1] == 5
    np.testing.assert_allclose(points.get_ydata(), 2 * points.get_xdata())
    assert curve.get_zorder() > points.get_zorder() and points.get_markerfacecolor() == "none"
    ax = jplot.plot_tuning_curve(x[:10], x[:10], ax=Figure().subplots())
    assert len(ax.get_lines()[0].get_xdata()) == 10
    with pytest.raises(ValueError, match=r"max_points must be an int in \[2, inf\), got max_points = 1"):
        jplot.plot_tuning_curve(x, x, max_points=1)


def test_raster_takes_the_time_unit_of_the_spikes():
    times = [np.array([1.0, 5.5]), np.array([2.0])]  # ms, as a jaxneuro.Network run gives them
    x, y = jplot.plot_raster(times, ax=Figure().subplots(), time_unit="ms").lines[0].get_data()
    np.testing.assert_array_equal(x, [1.0, 5.5, 2.0])
    np.testing.assert_array_equal(y, [0, 0, 1])
    x, _ = jplot.plot_raster([t * 1e-3 for t in times], ax=Figure().subplots()).lines[0].get_data()
    np.testing.assert_allclose(x, [1.0, 5.5, 2.0])  # seconds (the default) drawn in ms
    with pytest.raises(ValueError, match=r"time_unit must be 's' or 'ms', got time_unit = 'us'"):
        jplot.plot_raster(times, time_unit="us")


def test_filtered_spikes_draw_the_exact_curve_over_the_grid():
    ax = jplot.plot_filtered_spikes([0.01, 0.03], 0.01, 1, dt=1e-3, ax=Figure().subplots())
    exact, grid = ax.lines[0], ax.lines[1]
    assert exact.get_label() == "exact: sum of kernels" and grid.get_label() == "grid, dt = 1 ms"
    assert exact.get_zorder() > grid.get_zorder() and exact.get_linewidth() < grid.get_linewidth()

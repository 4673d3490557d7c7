"""Figures for training runs: learning curves, confusion matrices, misclassified examples, fitted functions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._misc import check_int


def _series(metrics: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(r["epoch"], r[key]) for r in metrics if r.get(key) is not None]
    if not rows:
        return np.zeros(0), np.zeros(0)
    e, v = zip(*rows, strict=True)
    return np.asarray(e, float), np.asarray(v, float)


def plot_learning_curves(metrics: Sequence[dict[str, Any]], *, axes: Sequence[Any] | None = None) -> Sequence[Any]:
    """Loss (left) and accuracy or MSE (right) against epoch, for training and test data.

    Args:
        metrics: one dict per epoch, as written to ``metrics.jsonl`` by ``jaxneuro.train.fit``
            (keys ``epoch``, ``train_loss``, ``test_loss``, ``train_accuracy``/``train_mse``,
            ``test_accuracy``/``test_mse`` and ``test_accuracy_<activation>``).
        axes: two matplotlib axes to draw on (default: a new figure with two panels).

    Returns:
        The two axes.

    Raises:
        ValueError: ``metrics`` is empty or has no ``epoch``/``train_loss`` entries.
    """
    if not metrics or any("epoch" not in r or "train_loss" not in r for r in metrics):
        raise ValueError("metrics must be a non-empty list of dicts with 'epoch' and 'train_loss' keys.")
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 3.5), layout="constrained")
        axes = fig.subplots(1, 2)
    assert axes is not None
    ax_loss, ax_score = axes
    for i, (key, label) in enumerate((("train_loss", "train"), ("test_loss", "test"))):
        e, v = _series(metrics, key)
        if e.size:
            ax_loss.plot(e, v, color=f"C{i}", marker="o" if e.size < 30 else None, label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    if all(r["train_loss"] > 0 for r in metrics):
        ax_loss.set_yscale("log")
    ax_loss.legend()
    regression = any("train_mse" in r for r in metrics)
    base = "mse" if regression else "accuracy"
    extras = sorted({k for r in metrics for k in r if k.startswith(f"test_{base}_")})
    for i, key in enumerate([f"train_{base}", f"test_{base}", *extras]):
        e, v = _series(metrics, key)
        if e.size:
            label = "train" if i == 0 else "test" if i == 1 else f"test, {key[len(f'test_{base}_') :]}"
            ax_score.plot(
                e,
                v if regression else 100 * v,
                color=f"C{i}",
                marker="o" if e.size < 30 else None,
                label=label,
            )
    ax_score.set_xlabel("epoch")
    ax_score.set_ylabel("MSE" if regression else "accuracy (%)")
    if regression:
        ax_score.set_yscale("log")
    ax_score.legend()
    return axes


def save_learning_curves(metrics: Sequence[dict[str, Any]], path: str | os.PathLike, *, title: str = "") -> None:
    """Write :func:`plot_learning_curves` to a PNG file (no pyplot, so no GUI backend)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5), layout="constrained")
    plot_learning_curves(metrics, axes=fig.subplots(1, 2))
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)


def plot_confusion_matrix(
    matrix: Any, *, ax: Any = None, class_names: Sequence[str] | None = None, normalise: bool = False
) -> Any:
    """Draw a confusion matrix (rows: true class, columns: predicted class) with counts.

    Args:
        matrix: ``(K, K)`` counts, e.g. from ``jaxneuro.train.confusion_matrix``.
        ax: matplotlib axes (default: a new figure).
        class_names: tick labels (default ``0 .. K-1``).
        normalise: show each row as fractions of its true class.

    Returns:
        The axes.

    Raises:
        ValueError: ``matrix`` is not square.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square (K, K), got shape {m.shape}.")
    if normalise:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(5, 4.5), layout="constrained").subplots()
    k = m.shape[0]
    im = ax.imshow(m, cmap="Blues")
    ax.figure.colorbar(im, ax=ax)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:
        hi = m.max() if m.size else 0
        for i in range(k):
            for j in range(k):
                text = f"{m[i, j]:.2f}" if normalise else f"{int(m[i, j])}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if m[i, j] > hi / 2 else "black",
                )
    return ax


def plot_misclassified(
    images: Any,
    labels: Any,
    predictions: Any,
    *,
    fig: Any = None,
    max_examples: int = 16,
    image_shape: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
) -> Any:
    """Draw the first misclassified examples of a test set, each titled ``true -> predicted``.

    Args:
        images: ``(n, d)`` flattened images with values in [0, 1] (or ``(n, h, w)`` / ``(n, h, w, c)``).
        labels: ``(n,)`` true classes.
        predictions: ``(n,)`` predicted classes.
        fig: matplotlib figure to draw on (default: a new one).
        max_examples: at most this many examples (>= 1), in test-set order.
        image_shape: the shape of one image, e.g. ``(28, 28)`` (default: square grey images
            when ``d`` is a square number).
        class_names: names of the classes (default ``0 .. K-1``).

    Returns:
        The figure (with a note instead of images when every example is classified correctly).

    Raises:
        ValueError: ``max_examples < 1``, lengths differ, or the image shape cannot be inferred.
    """
    check_int("max_examples", max_examples, numpy=False)
    x, y, p = np.asarray(images), np.asarray(labels), np.asarray(predictions)
    if not len(x) == len(y) == len(p):
        raise ValueError(f"images, labels and predictions must have the same length, got {len(x)}, {len(y)}, {len(p)}.")
    if image_shape is None:
        side = int(round(np.sqrt(x[0].size))) if len(x) else 0
        if x.ndim > 2:
            image_shape = x.shape[1:]
        elif side * side == x.shape[-1]:
            image_shape = (side, side)
        else:
            raise ValueError(f"image_shape is needed: images of {x.shape[-1]} values are not square.")
    if fig is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 2.4), layout="constrained")
    wrong = np.flatnonzero(y != p)[:max_examples]
    names = list(class_names) if class_names is not None else None
    name = (lambda k: names[int(k)]) if names is not None else (lambda k: str(int(k)))
    if wrong.size == 0:
        ax = fig.subplots()
        ax.text(0.5, 0.5, f"all {len(y)} test examples classified correctly", ha="center", va="center")
        ax.set_axis_off()
        return fig
    cols = min(8, wrong.size)
    rows = -(-wrong.size // cols)
    fig.set_size_inches(1.1 * cols, 1.3 * rows + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, i in zip(axes, wrong, strict=False):
        ax.imshow(x[i].reshape(image_shape), cmap="gray_r", vmin=0.0, vmax=1.0)
        ax.set_title(f"{name(y[i])} -> {name(p[i])}", fontsize=9)
    fig.suptitle(f"misclassified test examples (true -> predicted): {int(np.sum(y != p))} of {len(y)}", fontsize=10)
    return fig


def plot_regression_fit(
    x_test: Any, target: Any, prediction: Any, *, x_train: Any = None, t_train: Any = None, ax: Any = None
) -> Any:
    """Draw a fitted 1-D function over its target, with the training samples.

    Args:
        x_test: ``(n,)`` or ``(n, 1)`` inputs of the test grid.
        target: the target function at ``x_test`` (same length).
        prediction: the network's output at ``x_test`` (same length).
        x_train, t_train: optional training samples, drawn as points.
        ax: matplotlib axes (default: a new figure).

    Returns:
        The axes.

    Raises:
        ValueError: the inputs are not one-dimensional or their lengths differ.
    """
    x, t, y = (np.asarray(a, float).reshape(len(np.asarray(a)), -1) for a in (x_test, target, prediction))
    if x.shape[1] != 1 or t.shape[1] != 1 or y.shape[1] != 1 or not len(x) == len(t) == len(y):
        raise ValueError(
            "x_test, target and prediction must be 1-D of one length, "
            f"got shapes {np.shape(x_test)}, {np.shape(target)}, {np.shape(prediction)}."
        )
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(6, 4), layout="constrained").subplots()
    order = np.argsort(x[:, 0])
    if x_train is not None and t_train is not None:
        xs, ts = np.asarray(x_train, float).ravel(), np.asarray(t_train, float).ravel()
        ax.plot(xs, ts, "o", ms=2.5, color="k", alpha=0.6, label=f"training samples ({len(xs)})", zorder=3)
    ax.plot(x[order, 0], t[order, 0], "-", color="0.6", lw=3, label="target", zorder=1)
    ax.plot(x[order, 0], y[order, 0], "-", color="C3", lw=1.5, label="network", zorder=2)
    rms = float(np.sqrt(np.mean((y - t) ** 2)))
    ax.set_title(f"fitted function: RMS error {rms:.3g} on {len(x)} test points", fontsize=10)
    ax.set_xlabel("x")
    ax.set_ylabel("t")
    ax.legend()
    return ax

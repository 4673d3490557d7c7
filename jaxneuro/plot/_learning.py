"""Figures for training runs: learning curves and confusion matrices."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np


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

"""What a finished training run shows about its model: figures and the confusion matrix.

Written into the run folder by ``fit`` (with ``plot=True``) next to ``learning_curves.png``:

* classification: ``confusion_matrix.csv`` (``C[i, j]``: test examples of class ``i``
  predicted as ``j``) and ``confusion_matrix.png``; for image data sets (MNIST, Fashion-MNIST,
  CIFAR-10) also ``misclassified.png``, the first misclassified test images;
* regression of a 1-D function: ``fit.png``, the network's output over the test grid drawn over
  the target function and the training samples.

Each file is written whole to a temporary file, ``fsync``-ed and renamed (``atomic_write``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._checkpoint import atomic_write
from ._config import Config
from ._metrics import confusion_matrix

CONFUSION_CSV, CONFUSION_PNG, MISCLASSIFIED_PNG, FIT_PNG = (
    "confusion_matrix.csv",
    "confusion_matrix.png",
    "misclassified.png",
    "fit.png",
)
IMAGE_SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (32, 32, 3)}


@eqx.filter_jit
def _outputs(model: Any, x: jax.Array) -> jax.Array:
    """``model`` on every row of ``x`` in chunks of 10,000 (memory bounded as in evaluation)."""
    return jax.lax.map(model, x, batch_size=min(10_000, x.shape[0]))


def predicted_classes(config: Config, model: Any, x: jax.Array) -> np.ndarray:
    """The class each test input is assigned: the first output spike for spike-time losses, else the largest output."""
    y = _outputs(model, x)
    pick = jnp.argmin if config.loss == "first_spike_cross_entropy" else jnp.argmax
    return np.asarray(pick(y, axis=-1))


def _save(fig: Any, path: Path) -> None:
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))


def write_run_figures(out: Path, config: Config, data: Any, model: Any) -> list[Path]:
    """Write the files listed in the module docstring for the task of ``config``; returns their paths."""
    from matplotlib.figure import Figure

    from ..plot._learning import plot_confusion_matrix, plot_misclassified, plot_regression_fit

    written: list[Path] = []
    if config.task == "classification":
        labels = np.asarray(data.t_test)
        predictions = predicted_classes(config, model, data.x_test)
        k = int(data.num_classes)
        matrix = np.asarray(confusion_matrix(labels, predictions, k))
        header = "true\\predicted," + ",".join(str(j) for j in range(k))
        rows = "\n".join(f"{i}," + ",".join(str(int(c)) for c in row) for i, row in enumerate(matrix))
        text = f"{header}\n{rows}\n".encode()
        atomic_write(out / CONFUSION_CSV, lambda f: f.write(text))
        fig = Figure(figsize=(5.5, 4.8), layout="constrained")
        ax = plot_confusion_matrix(matrix, ax=fig.subplots())
        ax.set_title(f"{config.data.name} test set: accuracy {np.trace(matrix) / matrix.sum():.2%}", fontsize=10)
        _save(fig, out / CONFUSION_PNG)
        written += [out / CONFUSION_CSV, out / CONFUSION_PNG]
        if config.data.name in IMAGE_SHAPES:
            fig = plot_misclassified(
                np.asarray(data.x_test), labels, predictions, image_shape=IMAGE_SHAPES[config.data.name]
            )
            _save(fig, out / MISCLASSIFIED_PNG)
            written.append(out / MISCLASSIFIED_PNG)
    elif config.task == "regression" and data.in_size == 1 and data.out_size == 1:
        fig = Figure(figsize=(6, 4), layout="constrained")
        plot_regression_fit(
            data.x_test,
            data.t_test,
            _outputs(model, data.x_test),
            x_train=data.x_train,
            t_train=data.t_train,
            ax=fig.subplots(),
        )
        _save(fig, out / FIT_PNG)
        written.append(out / FIT_PNG)
    return written

"""A trained run evaluated as a spiking network (``jaxneuro spiking RUN``; issue "rates to spikes").

``load_run`` reads a run folder written by ``fit`` (config, data, trained model);
``evaluate_spiking`` converts the model with ``jaxneuro.convert_mlp`` at several presentation
times, runs the whole test set through each, and writes into the run folder:

* ``spiking_accuracy.csv``: one row per presentation time: the spiking network's score
  (classification: accuracy; regression: RMS error against the rate network and against the
  targets), the rate network's, images per second and spikes per image;
* ``spiking_accuracy.png``: the score against presentation time (regression: the error on
  log axes with a ``1/T`` line);
* ``spiking_raster.png``: the hidden layers' spikes for one test input;
* ``spiking.json``: the settings and the table.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._misc import check_int
from .._progress import ProgressBar, TextStream
from ._checkpoint import atomic_write, load_checkpoint
from ._config import Config, config_from_dict
from ._fit import CONFIG_NAME, Dataset, init_state, load_data, with_hidden_activation

DEFAULT_PRESENTATIONS = (0.01, 0.02, 0.05, 0.1, 0.2)
"""Presentation times (s) of ``evaluate_spiking``'s table: 10 to 200 ms."""
CSV_NAME, PLOT_NAME, RASTER_NAME, JSON_NAME = (
    "spiking_accuracy.csv",
    "spiking_accuracy.png",
    "spiking_raster.png",
    "spiking.json",
)


def load_run(folder: str | os.PathLike, *, data: Dataset | None = None) -> tuple[Config, Dataset, Any]:
    """The config, data set and trained model of a run folder written by ``fit``.

    Raises:
        FileNotFoundError: ``folder`` has no ``config.json`` or no checkpoint.
        ValueError: a damaged config or checkpoint (named in the message).
    """
    folder = Path(folder)
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"run: {str(folder)!r} is not a training run folder (it has no {CONFIG_NAME}).")
    try:
        raw = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"run: {str(path)!r} is corrupt (not valid JSON: {err}).") from err
    config = config_from_dict(raw)
    data = load_data(config) if data is None else data
    state, _ = load_checkpoint(folder, init_state(config, data))
    return config, data, state.model


def _spiking_outputs(snn: Any, x: jax.Array, chunk: int, bar: ProgressBar) -> tuple[np.ndarray, float, float]:
    """Outputs for every row of ``x`` (in chunks of ``chunk``, the last one padded so that one
    compiled program serves all), the compile time and the run time (s)."""

    def outputs(model, xs):
        return model.predict(xs)

    pad = (-x.shape[0]) % chunk
    xp = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)]) if pad else x
    start = time.perf_counter()
    compiled = eqx.filter_jit(outputs).lower(snn, xp[:chunk]).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    ys = []
    for i in range(0, xp.shape[0], chunk):  # chunks of inputs (for the progress bar), not time steps
        ys.append(np.asarray(compiled(snn, xp[i : i + chunk])))
        bar.update(min(chunk, x.shape[0] - i))
    return np.concatenate(ys)[: x.shape[0]], compile_s, time.perf_counter() - start


def evaluate_spiking(
    folder: str | os.PathLike,
    presentations: Sequence[float] = DEFAULT_PRESENTATIONS,
    *,
    tau_s: float | None = None,
    dt: float = 1e-3,
    readout: str = "filtered",
    limit: int | None = None,
    image: int = 0,
    chunk: int = 500,
    data: Dataset | None = None,
    stream: TextStream | None = sys.stderr,
    plot: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate the trained model of a run folder as a spiking network (``convert_mlp``).

    Args:
        folder: a run folder written by ``fit`` (``jaxneuro train``); the results go there.
        presentations: presentation times in s (each > the refractory period, a multiple of ``dt``).
        tau_s: synaptic time constant in s (default ``convert_mlp``'s, 10 ms).
        dt: simulation step in s.
        readout: ``"filtered"`` or ``"counts"``.
        limit: evaluate only the first ``limit`` test inputs (default all).
        image: index of the test input whose raster is plotted.
        chunk: inputs per compiled call (the progress bar advances per chunk).
        data: the data set (default: read as the run's config says).
        stream: where the progress bar goes (None: none).
        plot: write the two figures.

    Returns:
        The table's rows (dicts), also written to ``spiking_accuracy.csv`` and ``spiking.json``.

    Raises:
        FileNotFoundError, ValueError: a missing or damaged run folder; a model that cannot be
            converted (its hidden activation has no spiking counterpart: the message names it);
            bad presentation times, ``limit``, ``image`` or ``chunk``.
    """
    from .. import convert_mlp

    folder = Path(folder)
    config, data, model = load_run(folder, data=data)
    presentations = [float(t) for t in presentations]
    if not presentations:
        raise ValueError("presentations must name at least one presentation time (s).")
    kwargs: dict[str, Any] = {"dt": dt, "readout": readout} | ({} if tau_s is None else {"tau_s": tau_s})
    snns = [convert_mlp(model, presentation=t, **kwargs) for t in presentations]  # validates every setting
    n_test = int(data.x_test.shape[0])
    n = n_test if limit is None else limit
    n = check_int("limit", n, 1, n_test, hint="(the test inputs)")
    check_int("image", image, 0, n - 1, hint="(an index into the evaluated test inputs)")
    chunk = check_int("chunk", chunk)
    x, t = data.x_test[:n], np.asarray(data.t_test[:n])
    chunk = min(chunk, n)
    rate_y = np.asarray(jax.jit(jax.vmap(model))(x))
    classify = config.task == "classification"
    lif_y = np.asarray(jax.jit(jax.vmap(with_hidden_activation(model, "lif")))(x))  # what the neurons realise
    rows = []
    with ProgressBar(total=n * len(presentations), unit="input", desc="spiking", stream=stream) as bar:
        for T, snn in zip(presentations, snns, strict=True):
            y, compile_s, run_s = _spiking_outputs(snn, x, chunk, bar)
            row: dict[str, Any] = {"presentation_ms": round(T * 1e3, 6)}
            if classify:
                row["accuracy"] = float(np.mean(np.argmax(y, -1) == t))
                row["rate_accuracy"] = float(np.mean(np.argmax(rate_y, -1) == t))
                row["lif_rate_accuracy"] = float(np.mean(np.argmax(lif_y, -1) == t))
            else:
                row["rmse_vs_rate"] = float(np.sqrt(np.mean((y - rate_y) ** 2)))
                row["rmse_vs_lif_rate"] = float(np.sqrt(np.mean((y - lif_y) ** 2)))
                row["rmse_vs_target"] = float(np.sqrt(np.mean((y - t) ** 2)))
                row["rate_rmse_vs_target"] = float(np.sqrt(np.mean((rate_y - t) ** 2)))
            row.update(inputs_per_s=n / run_s, compile_s=compile_s)
            rows.append(row)
    _write_table(folder, rows, config, n, kwargs)
    if plot:
        _plots(folder, rows, snns[presentations.index(max(presentations))], x[image], t[image], classify)
    return rows


def _write_table(folder: Path, rows: list[dict[str, Any]], config: Config, n: int, kwargs: dict[str, Any]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = text.getvalue().encode()
    atomic_write(folder / CSV_NAME, lambda f: f.write(data))
    summary = {"task": config.task, "inputs": n, **kwargs, "rows": rows}
    blob = (json.dumps(summary, indent=2) + "\n").encode()
    atomic_write(folder / JSON_NAME, lambda f: f.write(blob))


def _plots(folder: Path, rows: list[dict[str, Any]], snn: Any, x: jax.Array, target: Any, classify: bool) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plot import plot_raster

    T = np.array([r["presentation_ms"] for r in rows])
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if classify:
        ax.plot(T, [100 * r["accuracy"] for r in rows], "o-", label="spiking network")
        ax.axhline(100 * rows[0]["rate_accuracy"], color="k", ls="--", label="rate network")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xscale("log")
    else:
        err = np.array([r["rmse_vs_rate"] for r in rows])
        ax.loglog(T, err, "o-", label="spiking - rate (RMS)")
        ax.loglog(T, err[0] * T[0] / T, "k--", label="1/T")
        ax.set_ylabel("output error")
    ax.set_xlabel("presentation time (ms)")
    ax.legend()
    fig.tight_layout()
    _save(fig, folder / PLOT_NAME)
    run = snn.run(x)
    groups = {f"hidden {k + 1}": snn.network.population_slice(k) for k in range(len(snn.layer_sizes))}
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_raster(run.network.spikes, ax=ax, groups=groups, markersize=1.0)
    if classify:
        what = f"label {int(target)}, output {int(np.argmax(run.output))}"
    else:
        what = f"output {float(run.output[0]):.3g}"
    ax.set_title(f"one test input, {snn.presentation * 1e3:g} ms ({what})")
    fig.tight_layout()
    _save(fig, folder / RASTER_NAME)
    plt.close("all")


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    data = buf.getvalue()
    atomic_write(path, lambda f: f.write(data))

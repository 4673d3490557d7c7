"""The training loop: config -> data -> model -> jit-compiled epochs -> metrics, checkpoints, plot.

Files written into ``out_dir`` (when given):

* ``config.json``: the validated config of the run;
* ``metrics.jsonl``: one JSON object per epoch (``epoch``, ``step``, ``train_loss``,
  ``train_accuracy`` or ``train_mse``, ``lr``, ``epoch_time`` in s, and on evaluation epochs
  ``test_loss``, ``test_accuracy`` or ``test_mse``, and ``test_accuracy_<activation>`` for
  each of ``model.eval_activations``; for a spiking classifier ``silent_fraction``, see
  ``silent_fraction``);
* ``checkpoint.eqx`` and ``checkpoint.json``: the latest checkpoint (atomic, with a SHA-256);
* ``learning_curves.png``: loss and accuracy (or MSE) against epoch;
* ``confusion_matrix.csv``, ``confusion_matrix.png`` and (image data) ``misclassified.png`` for
  classification, ``fit.png`` for the regression of a 1-D function: the final model on the test
  set (``_figures.py``);
* ``summary.json``: the final metrics, written when the run completes.

Every file but ``metrics.jsonl`` is written whole to a temporary file, ``fsync``-ed and
renamed; ``metrics.jsonl`` gets one line per epoch, ``fsync``-ed before each checkpoint.
On ``--resume`` the log is rewritten to hold exactly the epochs up to the checkpoint's (the
rows of later epochs, which are trained again, are dropped; a row torn by a kill is
dropped; a missing or unreadable row is an error naming the file and the line).

Determinism: the initial weights, the data (for generated sets) and the minibatch order
all come from ``PRNGKey(config.seed)``; the key for the next epoch is part of the
checkpoint, so a run stopped after k epochs and resumed performs exactly the same
computation as one that was not stopped (same compiled functions on the same inputs),
and ends with bit-identical parameters.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._progress import TextStream
from .._sharding import data_parallel_mesh, replicate
from ._checkpoint import TrainState, atomic_write, has_checkpoint, load_checkpoint, save_checkpoint
from ._config import CLASSIFICATION_DATASETS, Config, ConfigError, config_from_dict
from ._figures import write_run_figures
from ._progress import epoch_bar, metrics_text
from ._step import epoch_batches, make_evaluate, make_train_epoch, make_train_step

METRICS_NAME = "metrics.jsonl"
CONFIG_NAME = "config.json"
PLOT_NAME = "learning_curves.png"
SUMMARY_NAME = "summary.json"

# Config keys that may change between an interrupted run and its resumption: they do not
# affect the parameters.
RESUME_MAY_CHANGE = (
    "stop_after_epochs",
    "checkpoint_every",
    "eval_every",
    "data.data_dir",
    "model.eval_activations",
)


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the run stopped.

    Attributes:
        step: the global optimiser step (0-based) whose minibatch loss was not finite.
        epoch: the epoch (1-based) in which that happened.
        checkpoint: the last good checkpoint (None if none was written).
    """

    def __init__(self, message: str, *, step: int, epoch: int, checkpoint: Path | None):
        super().__init__(message)
        self.step = step
        self.epoch = epoch
        self.checkpoint = checkpoint


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Training and test arrays on the device.

    ``t`` holds int32 class labels for classification, float targets of shape ``(n, 1)`` otherwise.
    """

    x_train: jax.Array
    t_train: jax.Array
    x_test: jax.Array
    t_test: jax.Array
    num_classes: int | None = None

    @property
    def in_size(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def out_size(self) -> int:
        return self.num_classes if self.num_classes is not None else int(self.t_train.shape[1])


def _keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(init, shuffle, data) keys, all from ``PRNGKey(seed)``."""
    init_key, shuffle_key, data_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    return init_key, shuffle_key, data_key


def load_data(config: Config) -> Dataset:
    """The training and test sets named by ``config.data``.

    Raises:
        jaxneuro.data.DataNotFoundError: a tfds data set is not prepared (with how to prepare it).
    """
    from .. import data as jdata

    d = config.data
    if d.name == "xor":
        x, t = jdata.xor()
        return Dataset(x, t, x, t)
    if d.name == "regression":
        _, _, data_key = _keys(config.seed)
        x, t = jdata.regression(d.train_size or 256, function=d.function, noise=d.noise, key=data_key)
        xt, tt = jdata.regression(d.test_size or 1001, function=d.function, grid=True)
        return Dataset(x, t, xt, tt)
    if d.name == "yin_yang":
        x, y = jdata.yin_yang("train", size=min(d.train_size or 5000, 5000))
        xt, yt = jdata.yin_yang("test", size=min(d.test_size or 1000, 1000))
        return Dataset(x, y, xt, yt, num_classes=3)
    x, y = jdata.image_classification(d.name, "train", data_dir=d.data_dir, limit=d.train_size)
    xt, yt = jdata.image_classification(d.name, "test", data_dir=d.data_dir, limit=d.test_size)
    k = CLASSIFICATION_DATASETS[d.name]
    return Dataset(jnp.asarray(x), jnp.asarray(y), jnp.asarray(xt), jnp.asarray(yt), num_classes=k)


def make_model(config: Config, in_size: int, out_size: int, *, key: jax.Array) -> Any:
    """The ``jaxneuro.MLP`` described by ``config.model`` (a ``jaxneuro.SpikingClassifier`` with
    those hidden sizes when the config has a ``[spiking]`` table)."""
    from .. import MLP

    m = config.model
    if config.spiking is not None:
        from .. import FastSigmoid, SpikingClassifier

        sp = config.spiking
        return SpikingClassifier(
            in_size,
            out_size,
            list(m.hidden_sizes),
            key=key,
            gradient=sp.gradient,
            tau_m=sp.tau_m,
            tau_s=sp.tau_s,
            tau_ref=sp.tau_ref,
            duration=sp.duration,
            t_in=sp.t_in,
            encoding=sp.encoding,
            input_threshold=sp.input_threshold,
            dt=sp.dt,
            surrogate=FastSigmoid(sp.surrogate_slope),
            weight_mean=sp.weight_mean,
            weight_std=sp.weight_std,
            max_spikes=sp.max_spikes,
        )
    return MLP(in_size, out_size, list(m.hidden_sizes), m.activation, m.final_activation, key=key)


SILENT_PROBE = 512
"""Training samples (the first ones) on which ``fit`` measures a spiking classifier's silence."""
SPIKING_CHUNK = 256
"""Samples a spiking classifier evaluates at once (``vmap``) in ``fit``: the exact simulation
holds a spike buffer of ``N x max_spikes`` per sample (2 MB for 784-350-10), so the 10,000 MNIST
test images at once need some 20 GB."""


@eqx.filter_jit
def _outputs(model: Any, x: jax.Array) -> jax.Array:
    return jax.lax.map(model, x, batch_size=min(SPIKING_CHUNK, x.shape[0]))


def silent_fraction(model: Any, x: jax.Array) -> float:
    """The fraction of the inputs ``x`` on which no output neuron of a spiking classifier fires.

    ``silent = mean over samples of [t_k >= duration for every output k]`` (the model returns
    ``duration`` for an output that does not fire).  The first-spike loss of such a sample is
    finite but constant in the weights that would make it fire (``on_silent="ignore"``), so a
    network that falls silent trains on without a word; ``fit`` logs this fraction per epoch.

    Args:
        model: a ``jaxneuro.SpikingClassifier``.
        x: inputs, shape ``(n, in_size)``.

    Returns:
        The fraction in ``[0, 1]``.

    Example::

        frac = silent_fraction(model, data.x_train[:512])
    """
    t = _outputs(model, x)
    return float(jnp.mean(jnp.all(t >= model.duration, axis=-1)))


def silent_message(epoch: int, fraction: float, n: int) -> str:
    """The line ``fit`` logs when a spiking classifier is silent on some of ``n`` samples."""
    return (
        f"epoch {epoch}: no output neuron fired on {fraction:.1%} of {n} training samples (a silent network: their "
        "loss is finite but gives no gradient towards firing); add jaxneuro.losses.silent_neuron_penalty (or "
        "firing_rate_penalty) to the loss, or raise spiking.weight_mean."
    )


def with_hidden_activation(model: Any, activation: str) -> Any:
    """The same MLP weights with another hidden activation (e.g. the exact ``"lif"`` rate)."""
    return type(model).from_layers(model.layers, activation, model.final_activation)


def steps_per_epoch(config: Config, n_train: int) -> int:
    """Optimiser steps per epoch: ``n // min(batch_size, n)``."""
    return n_train // min(config.batch_size, n_train)


def make_schedule(config: Config, n_train: int) -> optax.Schedule:
    """The learning-rate schedule of ``config.optimizer`` over all training steps."""
    o = config.optimizer
    if o.schedule == "constant":
        return optax.constant_schedule(o.learning_rate)
    total = config.epochs * steps_per_epoch(config, n_train)
    return optax.cosine_decay_schedule(o.learning_rate, decay_steps=total, alpha=o.final_fraction)


def make_optimizer(config: Config, n_train: int) -> optax.GradientTransformation:
    """The optax optimiser of ``config.optimizer`` with its schedule."""
    o = config.optimizer
    lr = make_schedule(config, n_train)
    if o.name == "sgd":
        return optax.sgd(lr)
    if o.name == "momentum":
        return optax.sgd(lr, momentum=o.momentum)
    if o.name == "adam":
        return optax.adam(lr)
    return optax.adamw(lr, weight_decay=o.weight_decay)


def task_functions(config: Config, num_classes: int | None = None) -> tuple[Any, Any]:
    """Per-sample ``loss(y, t)`` and ``score(y, t)`` for the config's task and loss.

    The score is 1.0 for a correct prediction (classification: argmax equals the label;
    binary: the output thresholded at probability 1/2 equals the target) and the squared
    error ``||y - t||^2`` for regression.
    """
    from .. import losses

    name, task = config.loss, config.task
    if task == "classification":
        k = num_classes or CLASSIFICATION_DATASETS[config.data.name]

        def onehot(label):
            return jax.nn.one_hot(label, k, dtype=jnp.result_type(float))

        if name == "first_spike_cross_entropy":  # y: the outputs' first-spike times (s)
            sp = config.spiking

            def spike_loss(t, label):
                assert sp is not None  # the config's validation requires [spiking] for this loss
                main = losses.first_spike_cross_entropy(t, label, tau=sp.loss_tau, window=2.0 * sp.duration)
                late = jnp.expm1(jnp.take(t, label) / sp.late_spike_tau)
                return main + sp.late_spike_weight * late

            return spike_loss, lambda t, label: (jnp.argmin(t) == label).astype(t.dtype)
        if name == "categorical_cross_entropy_with_logits":
            loss = losses.categorical_cross_entropy_with_integer_labels
        elif name == "categorical_cross_entropy":
            loss = lambda y, label: losses.categorical_cross_entropy(y, onehot(label))
        else:
            loss = lambda y, label: losses.mse(y, onehot(label))
        score = lambda y, label: (jnp.argmax(y) == label).astype(y.dtype)
        return loss, score
    loss = getattr(losses, name)
    if task == "binary":
        to_prob = jax.nn.sigmoid if name.endswith("with_logits") else (lambda y: y)
        score = lambda y, t: jnp.all((to_prob(y) > 0.5) == (t > 0.5)).astype(y.dtype)
        return loss, score
    return loss, lambda y, t: jnp.sum((y - t) ** 2)


def init_state(config: Config, data: Dataset) -> TrainState:
    """The state before the first epoch: initial model, optimiser state, shuffle key, zero counters."""
    init_key, shuffle_key, _ = _keys(config.seed)
    model = make_model(config, data.in_size, data.out_size, key=init_key)
    opt_state = make_optimizer(config, int(data.x_train.shape[0])).init(eqx.filter(model, eqx.is_inexact_array))
    return TrainState(model, opt_state, shuffle_key, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` returns.

    Attributes:
        state: the final training state (``state.model`` is the trained model).
        metrics: one dict per epoch (as in ``metrics.jsonl``), including epochs before a resume.
        out_dir: the output folder (None for an in-memory run).
        completed: False if the run stopped early at ``stop_after_epochs``.
    """

    state: TrainState
    metrics: list[dict[str, Any]]
    out_dir: Path | None
    completed: bool

    @property
    def model(self) -> Any:
        return self.state.model

    @property
    def final(self) -> dict[str, Any]:
        """The last epoch's metrics, merged with the last evaluation's."""
        out: dict[str, Any] = {}
        for row in self.metrics:
            out.update(row)
        return out


def _score_name(task: str) -> str:
    return "mse" if task == "regression" else "accuracy"


def _read_metrics(path: Path, up_to_epoch: int) -> list[dict[str, Any]]:
    """The rows of epochs 1 .. ``up_to_epoch`` of a run's log, one per epoch.

    Rows of later epochs (logged after the checkpoint, trained again on resume) are dropped,
    and so is a last line torn by a kill; of several rows for one epoch (a log written by an
    older jaxneuro, which appended on resume) the last is kept.

    Raises:
        ValueError: a line before the last is not a JSON object with an integer ``epoch``,
            or the rows of some epochs up to ``up_to_epoch`` are missing (named).
    """
    text = path.read_text(errors="replace") if path.is_file() else ""
    lines = text.split("\n")
    rows: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not (isinstance(row, dict) and type(row.get("epoch")) is int):
                raise ValueError("not a JSON object with an integer 'epoch'")
        except ValueError as err:
            if number == len(lines):  # no newline after it: a row torn by a kill, never trained past
                continue
            raise ValueError(
                f"{str(path)!r} line {number} is not a metrics row ({err}): the log is corrupt; fix or remove that "
                "line to resume."
            ) from None
        if row["epoch"] <= up_to_epoch:
            rows[row["epoch"]] = row
    missing = [e for e in range(1, up_to_epoch + 1) if e not in rows]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise ValueError(
            f"{str(path)!r} lacks the rows of epoch(s) {shown} of the {up_to_epoch} the checkpoint has trained: the "
            "log was cut short or edited; restore it to resume, or start a new run."
        )
    return [rows[e] for e in range(1, up_to_epoch + 1)]


def _write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    atomic_write(path, lambda f: f.write(data))


def _append_metrics(path: Path, row: dict[str, Any], *, sync: bool) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        if sync:  # before a checkpoint: the log holds every epoch the checkpoint has trained
            f.flush()
            os.fsync(f.fileno())


def _write_json(path: Path, data: Any) -> None:
    text = (json.dumps(data, indent=2) + "\n").encode()
    atomic_write(path, lambda f: f.write(text))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"--resume: {str(path)!r} is missing; it is written when a run starts.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} is corrupt (not valid JSON: {err}).") from err


def _check_resume_config(saved: dict[str, Any], config: Config) -> None:
    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[prefix + k] = v
        return out

    old = flat(config_from_dict(saved).to_dict())
    new = flat(config.to_dict())
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k) and k not in RESUME_MAY_CHANGE]
    if changed:
        diffs = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
        raise ConfigError(
            f"--resume needs the config of the interrupted run; these keys differ: {diffs} "
            f"(only {', '.join(RESUME_MAY_CHANGE)} may change)."
        )


def fit(
    config: Config,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    data: Dataset | None = None,
    stream: TextStream | None = sys.stderr,
    plot: bool = True,
) -> TrainResult:
    """Train the model of ``config``; write metrics, checkpoints and a plot into ``out_dir``.

    Args:
        config: a validated :class:`Config`.
        out_dir: output folder (created); None trains in memory without writing files.
        resume: continue the run whose checkpoint is in ``out_dir`` (it must exist).
        data: the data set (default: :func:`load_data` of the config).
        stream: where the progress bar (tqdm) goes (None: none): updated in place on a terminal,
            one line at the end of the run on any other stream; shown by process 0 only.
        plot: write ``learning_curves.png`` and the final model's figures at the end
            (confusion matrix and misclassified examples, or the fitted function).

    Returns:
        A :class:`TrainResult`.

    Raises:
        NonFiniteLossError: a minibatch loss was NaN or infinite; the message names the
            step, and the last good checkpoint in ``out_dir`` is kept.
        FileExistsError: ``out_dir`` already holds a checkpoint and ``resume`` is False.
        FileNotFoundError: ``resume`` is True but there is no checkpoint.
        ConfigError: resuming with a config that changes the computation.
        jaxneuro.data.DataNotFoundError: a tfds data set is not prepared.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a jaxneuro.train.Config, got {type(config).__name__}.")
    out = _check_out_dir(out_dir, resume, config)

    data = load_data(config) if data is None else data
    # Data parallelism over every device of every process (jax.distributed): data and
    # parameters replicated, each minibatch split across the devices.
    mesh = data_parallel_mesh()
    if mesh is not None:
        data = dataclasses.replace(
            data, **{f: replicate(getattr(data, f), mesh) for f in ("x_train", "t_train", "x_test", "t_test")}
        )
    n_train = int(data.x_train.shape[0])
    loss_fn, score_fn = task_functions(config, data.num_classes)
    optimizer = make_optimizer(config, n_train)
    schedule = make_schedule(config, n_train)
    batch = min(config.batch_size, n_train)
    nb = steps_per_epoch(config, n_train)
    evaluate = make_evaluate(loss_fn, score_fn, **({} if config.spiking is None else {"chunk_size": SPIKING_CHUNK}))
    if config.scan_epoch:
        train_epoch = make_train_epoch(loss_fn, optimizer, batch, score_fn, mesh=mesh)
    else:
        train_step = make_train_step(loss_fn, optimizer, score_fn, mesh=mesh)
        gather = jax.jit(lambda a, i: a[i])

    state = init_state(config, data)
    metrics: list[dict[str, Any]] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume:
            state, _ = load_checkpoint(out, state)
            metrics = _read_metrics(out / METRICS_NAME, int(state.epoch))
            _write_metrics(out / METRICS_NAME, metrics)  # the epochs after the checkpoint are trained again
        else:
            _write_json(out / CONFIG_NAME, config.to_dict())
            _write_metrics(out / METRICS_NAME, [])
    if mesh is not None:
        state = replicate(state, mesh)
    last_checkpoint = (out / "checkpoint.eqx") if (out is not None and resume) else None

    score_name = _score_name(config.task)
    stop = config.epochs if config.stop_after_epochs is None else min(config.epochs, config.stop_after_epochs)
    with epoch_bar(config.epochs, int(state.epoch), stream) as bar:
        for epoch in range(int(state.epoch) + 1, stop + 1):
            t0 = time.perf_counter()
            key, sub = jax.random.split(state.key)
            model, opt_state = state.model, state.opt_state
            if config.scan_epoch:
                model, opt_state, losses, scores = train_epoch(model, opt_state, sub, data.x_train, data.t_train)
            else:
                idx = epoch_batches(sub, n_train, batch)
                losses, scores = [], []
                for b in range(nb):
                    xb, tb = gather(data.x_train, idx[b]), gather(data.t_train, idx[b])
                    model, opt_state, loss, score = train_step(model, opt_state, xb, tb)
                    losses.append(loss)
                    scores.append(score)
                losses, scores = jnp.stack(losses), jnp.stack(scores)
            losses = np.asarray(losses)
            epoch_time = time.perf_counter() - t0
            _check_losses(losses, int(state.step), int(state.epoch), epoch, nb, last_checkpoint)
            state = TrainState(model, opt_state, key, state.epoch + 1, state.step + nb)
            row: dict[str, Any] = {
                "epoch": epoch,
                "step": int(state.step),
                "train_loss": float(np.mean(losses)),
                f"train_{score_name}": float(np.sum(np.asarray(scores)) / (nb * batch)),
                "lr": float(jnp.asarray(schedule(int(state.step) - 1))),
                "epoch_time": epoch_time,
            }
            if epoch % config.eval_every == 0 or epoch == stop:
                row.update(_test_metrics(evaluate, model, data, config.model.eval_activations, score_name))
            if config.spiking is not None:
                probe = data.x_train[:SILENT_PROBE]
                row["silent_fraction"] = silent_fraction(model, probe)
                if row["silent_fraction"] > 0 and stream is not None and jax.process_index() == 0:
                    bar.write(silent_message(epoch, row["silent_fraction"], int(probe.shape[0])), file=stream)
            metrics.append(row)
            if out is not None:
                checkpoint = epoch % config.checkpoint_every == 0 or epoch == stop
                _append_metrics(out / METRICS_NAME, row, sync=checkpoint)
                if checkpoint:
                    last_checkpoint = save_checkpoint(out, state, {"config": config.to_dict()})
            bar.set_postfix_str(metrics_text(row), refresh=False)
            bar.update(1)

    result = TrainResult(state, metrics, out, int(state.epoch) >= config.epochs)
    if out is not None:
        _write_run_files(out, config, data, result, plot)
    return result


def _check_out_dir(out_dir: str | os.PathLike | None, resume: bool, config: Config) -> Path | None:
    """``out_dir`` as a path, checked against ``resume``: a new run needs a folder without a
    checkpoint, a resumed one a checkpoint written with a compatible config."""
    out = Path(out_dir) if out_dir is not None else None
    if resume and out is None:
        raise ValueError("resume=True needs the out_dir of the run to resume, got out_dir = None.")
    if out is not None:
        if resume and not has_checkpoint(out):
            raise FileNotFoundError(f"--resume: {str(out)!r} holds no checkpoint to resume from.")
        if not resume and has_checkpoint(out):
            raise FileExistsError(
                f"{str(out)!r} already holds a run's checkpoint; pass --resume to continue it, or choose "
                "another --out folder."
            )
        if resume:
            _check_resume_config(_read_json(out / CONFIG_NAME), config)
    return out


def _check_losses(losses: np.ndarray, step0: int, done: int, epoch: int, nb: int, last_checkpoint: Path | None):
    """Raise ``NonFiniteLossError`` naming the first minibatch of ``epoch`` whose loss is not
    finite (``step0``: steps before the epoch; ``done``: epochs in the last checkpoint)."""
    bad = np.flatnonzero(~np.isfinite(losses))
    if not bad.size:
        return
    i = int(bad[0])
    step = step0 + i
    where = (
        f"the last good checkpoint, {str(last_checkpoint)!r} (after epoch {done}), is kept"
        if last_checkpoint is not None
        else "no checkpoint had been written yet"
    )
    raise NonFiniteLossError(
        f"training stopped: the loss is {losses[i]} at step {step} (epoch {epoch}, minibatch "
        f"{i + 1} of {nb}); the parameters of epoch {epoch} were discarded and {where}. "
        "Lower optimizer.learning_rate or check the data.",
        step=step,
        epoch=epoch,
        checkpoint=last_checkpoint,
    )


def _test_metrics(evaluate, model, data: Dataset, eval_activations, score_name: str) -> dict[str, float]:
    """Test loss and score, and the score with each hidden activation of ``eval_activations``."""
    test_loss, test_score = evaluate(model, data.x_test, data.t_test)
    row = {"test_loss": float(test_loss), f"test_{score_name}": float(test_score)}
    for act in eval_activations:
        _, s = evaluate(with_hidden_activation(model, act), data.x_test, data.t_test)
        row[f"test_{score_name}_{act}"] = float(s)
    return row


def _write_run_files(out: Path, config: Config, data: Dataset, result: TrainResult, plot: bool) -> None:
    """The learning curves and the final model's figures (``plot``), and the summary of a
    completed run."""
    if plot and result.metrics:
        from ..plot._learning import save_learning_curves

        tmp = out / f".{PLOT_NAME}.tmp.png"  # matplotlib takes the format from the suffix
        save_learning_curves(result.metrics, tmp, title=f"{config.data.name}: {config.loss}")
        os.replace(tmp, out / PLOT_NAME)
        write_run_figures(out, config, data, result.state.model)
    if result.completed:
        summary = {k: v for k, v in result.final.items() if not (isinstance(v, float) and math.isnan(v))}
        _write_json(out / SUMMARY_NAME, summary)

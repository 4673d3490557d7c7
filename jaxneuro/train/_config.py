"""Training configuration: typed, frozen, validated dataclasses read from TOML.

A config file is TOML (read with the standard library's ``tomllib``) with top-level run
settings and three tables, ``[data]``, ``[model]`` and ``[optimizer]``.  Every key is
checked: an unknown or mistyped key fails naming the key and the closest valid one
(``difflib``); a value of the wrong type or outside its range fails naming the key, the
value and what is allowed; a missing required key fails naming it.  Any field can be
overridden with ``section.field=value`` (the value is parsed as a TOML value, falling back
to a bare string, so ``optimizer.learning_rate=1e-3``, ``model.hidden_sizes=[64, 64]`` and
``data.name=mnist`` all work; ``none`` sets an optional field to None).

Why dataclasses and ``tomllib`` rather than a validation library (pydantic, cattrs, OmegaConf,
Hydra): the schema is five small frozen dataclasses, and the reader (``_build``/``_coerce``,
about 80 lines) gives what the command line promises: one line naming the dotted key, the value
and the allowed values, with a did-you-mean for a mistyped key or choice (tested in
tests/test_config.py and tests/test_cli_errors.py).  pydantic's messages are multi-line reports
with its own wording, OmegaConf/Hydra bring their own override grammar and working-directory
changes, and every one of them is a dependency for ``pip install jaxneuro`` that the standard
library's ``tomllib`` (Python 3.11) avoids.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "softmax", "lif", "soft_lif")
LOSSES = (
    "mse",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "categorical_cross_entropy_with_logits",
    "first_spike_cross_entropy",
)
DATASETS = ("xor", "regression", "yin_yang", "mnist", "fashion_mnist", "cifar10")
CLASSIFICATION_DATASETS = {"yin_yang": 3, "mnist": 10, "fashion_mnist": 10, "cifar10": 10}


class ConfigError(ValueError):
    """A configuration file or override is invalid (unknown key, wrong type, missing field...)."""


_FLOAT32_TINY = 1.1754943508222875e-38  # the smallest normal float32


def _require(cond: bool, key: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ConfigError(f"config key {key!r} must be {allowed}, got {key} = {value!r}.")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """``[data]``: which data set and how much of it.

    Attributes:
        name: ``xor``, ``regression``, ``yin_yang`` (generated in code; Yin-Yang trains on its
            train split and tests on its test split), or a tfds image-classification set
            (``mnist``, ``fashion_mnist``, ``cifar10``) read from ``data_dir``.
        data_dir: the tfds data directory (None: ``$JAXNEURO_DATA_DIR``, ``$TFDS_DATA_DIR``
            or ``~/tensorflow_datasets``).
        train_size: regression: number of generated training samples; tfds: use only the
            first ``train_size`` training examples (None: all; Yin-Yang likewise).  Ignored for XOR.
        test_size: as ``train_size`` for the test set (regression: points of an even grid).
        function: regression target on [0, 1] (``sine``, ``bump``, ``wave``, ``linear``).
        noise: regression target noise standard deviation (>= 0).
    """

    name: Literal["xor", "regression", "yin_yang", "mnist", "fashion_mnist", "cifar10"]
    data_dir: str | None = None
    train_size: int | None = None
    test_size: int | None = None
    function: Literal["sine", "bump", "wave", "linear"] = "sine"
    noise: float = 0.0

    def __post_init__(self):
        for key in ("train_size", "test_size"):
            value = getattr(self, key)
            _require(value is None or value >= 1, f"data.{key}", value, "None or an integer >= 1")
        _require(math.isfinite(self.noise) and self.noise >= 0, "data.noise", self.noise, "a finite float >= 0")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """``[model]``: a multilayer perceptron ``jaxneuro.MLP``.

    Attributes:
        hidden_sizes: widths of the hidden layers, e.g. ``[256, 256]``.
        activation: hidden activation (a name of ``jaxneuro.get_activation``).
        final_activation: output activation; ``identity`` for losses "with_logits".
        eval_activations: further hidden activations to evaluate the trained weights with
            (e.g. ``["lif"]`` to test a soft-LIF-trained net with the exact LIF rate).
    """

    hidden_sizes: tuple[int, ...]
    activation: Literal["identity", "logistic", "tanh", "relu", "leaky_relu", "softmax", "lif", "soft_lif"] = "relu"
    final_activation: Literal["identity", "logistic", "tanh", "relu", "leaky_relu", "softmax", "lif", "soft_lif"] = (
        "identity"
    )
    eval_activations: tuple[str, ...] = ()

    def __post_init__(self):
        for i, width in enumerate(self.hidden_sizes):
            _require(width >= 1, f"model.hidden_sizes[{i}]", width, "an integer >= 1")
        for name in self.eval_activations:
            if name not in ACTIVATIONS:
                raise ConfigError(
                    f"config key 'model.eval_activations' must list names from {list(ACTIVATIONS)}, "
                    f"got {name!r}{_suggest(name, ACTIVATIONS)}."
                )


@dataclasses.dataclass(frozen=True)
class SpikingConfig:
    """``[spiking]``: train a spiking classifier (``jaxneuro.SpikingClassifier``) instead of an MLP.

    The network has the layers of ``model.hidden_sizes`` (LIF neurons; ``model.activation`` is
    not used), latency-coded inputs and first-spike outputs, and is trained with
    ``loss = "first_spike_cross_entropy"``: per sample

        L = -log softmax(-t / loss_tau)_label + late_spike_weight (e^(t_label / late_spike_tau) - 1),

    the cross-entropy over first-spike times (Mostafa 2017) and the term that pulls the label
    neuron's spike earlier (Göltz et al. 2021).  Times in s.

    Attributes:
        gradient: ``exact`` (EventProp: ``simulate_lif_events``) or ``surrogate`` (stepped, BPTT).
        tau_m, tau_s, tau_ref: LIF membrane, synaptic and refractory time constants (s).
        duration: simulated time per sample (s).
        t_in: input window (s): a feature ``x`` in [0, 1] spikes at ``x t_in`` (``linear``) or
            at ``(1 - x) t_in`` (``intensity``).
        encoding: the latency code: ``linear`` (``t = x t_in``; every feature spikes) or
            ``intensity`` (images: ``t = (1 - x) t_in`` for ``x > input_threshold``, a darker
            pixel no spike).
        input_threshold: the ``intensity`` code's threshold, in [0, 1).
        dt: step of the surrogate simulation (s).
        surrogate_slope: the fast sigmoid's slope (surrogate gradient).
        weight_mean, weight_std: initial weights, ``tau_m (mean + std xi) / fan_in``.
        max_spikes: network spikes per sample that the exact simulation holds (None: 4 per neuron).
        loss_tau: the softmax's time scale (s).
        late_spike_weight, late_spike_tau: weight and time scale (s) of the late-spike term.
    """

    gradient: Literal["exact", "surrogate"] = "exact"
    tau_m: float = 0.02
    tau_s: float = 0.005
    tau_ref: float = 0.0
    duration: float = 0.04
    t_in: float = 0.01
    encoding: Literal["linear", "intensity"] = "linear"
    input_threshold: float = 0.0
    dt: float = 1e-4
    surrogate_slope: float = 25.0
    weight_mean: float = 3.0
    weight_std: float = 1.0
    max_spikes: int | None = None
    loss_tau: float = 5e-4
    late_spike_weight: float = 3e-3
    late_spike_tau: float = 6.4e-3

    def __post_init__(self):
        for key in ("tau_m", "tau_s", "duration", "t_in", "dt", "surrogate_slope", "loss_tau", "late_spike_tau"):
            value = getattr(self, key)
            _require(math.isfinite(value) and value > 0, f"spiking.{key}", value, "a finite float > 0")
        for key in ("tau_ref", "late_spike_weight", "weight_std"):
            value = getattr(self, key)
            _require(math.isfinite(value) and value >= 0, f"spiking.{key}", value, "a finite float >= 0")
        _require(
            0.0 <= self.input_threshold < 1.0, "spiking.input_threshold", self.input_threshold, "a float in [0, 1)"
        )
        # the loss's -t / loss_tau: a subnormal loss_tau is flushed to zero (NaN); the late-spike
        # term's e^(t / late_spike_tau) for t up to duration must stay finite (as late_spike_penalty)
        _require(self.loss_tau >= _FLOAT32_TINY, "spiking.loss_tau", self.loss_tau, f"a float >= {_FLOAT32_TINY:g}")
        _require(
            self.duration <= 80.0 * self.late_spike_tau,
            "spiking.late_spike_tau",
            self.late_spike_tau,
            f"a float >= spiking.duration / 80 = {self.duration / 80.0:g} (e^(duration / late_spike_tau) must stay "
            "finite)",
        )
        _require(math.isfinite(self.weight_mean), "spiking.weight_mean", self.weight_mean, "a finite float")
        _require(
            self.max_spikes is None or self.max_spikes >= 1,
            "spiking.max_spikes",
            self.max_spikes,
            "None or an integer >= 1",
        )


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """``[optimizer]``: an optax optimiser and learning-rate schedule.

    Attributes:
        name: ``sgd``, ``momentum`` (SGD with momentum), ``adam`` or ``adamw``.
        learning_rate: the (peak) learning rate (> 0).
        schedule: ``constant``, or ``cosine`` (cosine decay over all training steps to
            ``final_fraction * learning_rate``).
        final_fraction: end value of the cosine schedule as a fraction of the peak, in [0, 1].
        momentum: momentum coefficient for ``momentum``, in [0, 1).
        weight_decay: decoupled weight decay for ``adamw`` (>= 0).
    """

    learning_rate: float
    name: Literal["sgd", "momentum", "adam", "adamw"] = "adam"
    schedule: Literal["constant", "cosine"] = "constant"
    final_fraction: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 1e-4

    def __post_init__(self):
        lr = self.learning_rate
        _require(math.isfinite(lr) and lr > 0, "optimizer.learning_rate", lr, "a finite float > 0")
        f = self.final_fraction
        _require(0.0 <= f <= 1.0, "optimizer.final_fraction", f, "a float in [0, 1]")
        _require(0.0 <= self.momentum < 1.0, "optimizer.momentum", self.momentum, "a float in [0, 1)")
        wd = self.weight_decay
        _require(math.isfinite(wd) and wd >= 0, "optimizer.weight_decay", wd, "a finite float >= 0")


@dataclasses.dataclass(frozen=True)
class Config:
    """A training run.

    Attributes:
        epochs: passes over the training set (>= 1).
        batch_size: examples per step (>= 1; the last partial batch of an epoch is dropped,
            and a training set smaller than one batch is used whole).
        loss: per-sample loss from ``jaxneuro.losses`` (``mse``, ``binary_cross_entropy``,
            ``binary_cross_entropy_with_logits``, ``categorical_cross_entropy``,
            ``categorical_cross_entropy_with_logits``, and ``first_spike_cross_entropy`` for a
            spiking classifier, with a ``[spiking]`` table); classification with ``mse`` or
            ``categorical_cross_entropy`` uses one-hot targets.
        data, model, optimizer: the tables above.
        spiking: ``[spiking]`` (optional): train a ``SpikingClassifier`` (see ``SpikingConfig``).
        seed: seed of the PRNG key that draws the initial weights and the minibatch order.
        scan_epoch: run each epoch as one jit-compiled ``lax.scan`` over its minibatches
            (faster); False: one jit-compiled call per minibatch.
        checkpoint_every: save a checkpoint every this many epochs (and at the end).
        eval_every: evaluate on the test set every this many epochs (and at the end).
        stop_after_epochs: stop (as if interrupted) once this many epochs are done; the run
            can be continued with ``--resume``.  None: run all ``epochs``.
    """

    epochs: int
    batch_size: int
    loss: Literal[
        "mse",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "categorical_cross_entropy",
        "categorical_cross_entropy_with_logits",
        "first_spike_cross_entropy",
    ]
    data: DataConfig
    model: ModelConfig
    optimizer: OptimizerConfig
    seed: int = 0
    scan_epoch: bool = True
    checkpoint_every: int = 1
    eval_every: int = 1
    stop_after_epochs: int | None = None
    spiking: SpikingConfig | None = None

    def __post_init__(self):
        for key in ("epochs", "batch_size", "checkpoint_every", "eval_every"):
            _require(getattr(self, key) >= 1, key, getattr(self, key), "an integer >= 1")
        s = self.stop_after_epochs
        _require(s is None or s >= 1, "stop_after_epochs", s, "None or an integer >= 1")
        _require(0 <= self.seed < 2**32, "seed", self.seed, "an integer in [0, 2**32)")
        name, loss = self.data.name, self.loss
        if name == "regression" and loss != "mse":
            raise ConfigError(f"config key 'loss' must be 'mse' for data.name = 'regression', got loss = {loss!r}.")
        if name == "xor" and loss.startswith("categorical"):
            raise ConfigError(
                "config key 'loss' must be 'mse', 'binary_cross_entropy' or "
                "'binary_cross_entropy_with_logits' "
                f"for data.name = 'xor' (one output), got loss = {loss!r}."
            )
        if name in CLASSIFICATION_DATASETS and loss.startswith("binary"):
            raise ConfigError(
                f"config key 'loss' must be 'mse' or a categorical loss for data.name = {name!r} "
                f"({CLASSIFICATION_DATASETS[name]} classes), got loss = {loss!r}."
            )
        if (self.spiking is None) != (loss != "first_spike_cross_entropy"):
            raise ConfigError(
                "config key 'loss' must be 'first_spike_cross_entropy' exactly when the config has a [spiking] "
                f"table (a spiking classifier), got loss = {loss!r} "
                + ("with a [spiking] table." if self.spiking is not None else "without one.")
            )
        if self.spiking is not None and name not in CLASSIFICATION_DATASETS:
            raise ConfigError(
                f"config key 'data.name' must be a classification set ({', '.join(CLASSIFICATION_DATASETS)}) for "
                f"a spiking classifier ([spiking]), got data.name = {name!r}."
            )
        final = self.model.final_activation
        if loss.endswith("with_logits") and final != "identity":
            raise ConfigError(
                f"config key 'model.final_activation' must be 'identity' with loss = {loss!r} (the loss "
                f"applies the output nonlinearity), got model.final_activation = {final!r}."
            )
        if loss == "binary_cross_entropy" and final != "logistic":
            raise ConfigError(
                "config key 'model.final_activation' must be 'logistic' with loss = 'binary_cross_entropy' "
                f"(it takes probabilities), got model.final_activation = {final!r}."
            )
        if loss == "categorical_cross_entropy" and final != "softmax":
            raise ConfigError(
                "config key 'model.final_activation' must be 'softmax' with "
                "loss = 'categorical_cross_entropy' "
                f"(it takes probabilities), got model.final_activation = {final!r}."
            )

    @property
    def task(self) -> Literal["binary", "regression", "classification"]:
        """``binary`` (XOR), ``regression`` or ``classification`` (integer labels)."""
        if self.data.name == "xor":
            return "binary"
        if self.data.name == "regression":
            return "regression"
        return "classification"

    def to_dict(self) -> dict[str, Any]:
        """The config as nested plain data (tuples as lists), e.g. to save as JSON."""
        return _plain(dataclasses.asdict(self))

    def replace(self, overrides: Sequence[str] | Mapping[str, Any]) -> Config:
        """A new validated config with ``overrides`` (``"a.b=value"`` strings or a dotted-key mapping)."""
        return config_from_dict(self.to_dict(), overrides)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if tp is type(None):
        return "None"
    if tp is float:
        return "a float"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    return getattr(tp, "__name__", str(tp))


_NO_MATCH = object()


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert a TOML value to the field type ``tp``, or return ``_NO_MATCH``."""
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            return _NO_MATCH
        return _build(tp, value, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            out = _coerce(key, value, arg)
            if out is not _NO_MATCH:
                return out
        return _NO_MATCH
    if tp is type(None):
        return None if value is None else _NO_MATCH
    if origin is Literal:
        return value if isinstance(value, str) and value in typing.get_args(tp) else _NO_MATCH
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return _NO_MATCH
        (item,) = typing.get_args(tp)[:1]
        out = [_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
        return _NO_MATCH if any(o is _NO_MATCH for o in out) else tuple(out)
    if tp is bool:
        return value if isinstance(value, bool) else _NO_MATCH
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO_MATCH
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return _NO_MATCH
    if tp is str:
        return value if isinstance(value, str) else _NO_MATCH
    raise TypeError(f"unsupported config field type {tp!r}")  # pragma: no cover - schema bug


def _build(cls: type, raw: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            valid = [prefix + name for name in fields]
            raise ConfigError(
                f"unknown config key {prefix + key!r}{_suggest(prefix + key, valid)}; valid keys: {', '.join(valid)}."
            )
    kwargs = {}
    for name, field in fields.items():
        key = prefix + name
        if name not in raw:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing required config key {key!r} ({_type_name(hints[name])}).")
            continue
        value = raw[name]
        out = _coerce(key, value, hints[name])
        if out is _NO_MATCH:
            hint = ""
            if isinstance(value, str) and typing.get_origin(hints[name]) is Literal:
                hint = _suggest(value, typing.get_args(hints[name]))
            if dataclasses.is_dataclass(hints[name]):
                raise ConfigError(f"config key {key!r} must be a table [{key}], got {key} = {value!r}.")
            raise ConfigError(f"config key {key!r} must be {_type_name(hints[name])}, got {key} = {value!r}{hint}.")
        kwargs[name] = out
    return cls(**kwargs)


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"section.field=value"`` into the dotted key and the value.

    The value is parsed as a TOML value (``1e-3``, ``true``, ``[64, 64]``, ``"s"``); if it
    is not valid TOML it is taken as a bare string; ``none``/``null`` (any case) is None.

    Raises:
        ConfigError: no ``=`` or an empty key.
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r} must look like section.field=value, e.g. optimizer.learning_rate=1e-3.")
    value = value.strip()
    if value.lower() in ("none", "null"):
        return key, None
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


def _apply(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key!r}: {'.'.join(parts[: i + 1])!r} is not a table.")
        node = child
    if value is None:
        node[parts[-1]] = None
    else:
        node[parts[-1]] = value


def _drop_none(raw: Any) -> Any:
    # TOML has no null: an override "none" means "use the default", which is None for optional fields
    if isinstance(raw, dict):
        return {k: _drop_none(v) for k, v in raw.items() if v is not None}
    return raw


def config_from_dict(raw: Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any] = ()) -> Config:
    """Validate nested plain data (as read from TOML) into a :class:`Config`.

    Args:
        raw: ``{"epochs": ..., "data": {...}, "model": {...}, "optimizer": {...}}``.
        overrides: ``"section.field=value"`` strings, or a mapping from dotted keys to values.

    Raises:
        ConfigError: an unknown key (with the closest valid key), a wrong type, a value out
            of range, a missing required key or a malformed override.
    """
    data = _copy(raw)
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    for key, value in items:
        _apply(data, key, value)
    return _build(Config, _drop_none(data))


def _copy(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return {k: _copy(v) for k, v in raw.items()}
    return raw


def bundled_config_dir() -> Path | None:
    """The folder of the configs shipped with jaxneuro, or None if there is none.

    An installed wheel carries them as ``jaxneuro/configs/*.toml`` (pyproject.toml's
    force-include of ``configs/``); a source checkout (editable install) reads ``configs/`` at
    the root of the repository, the one copy kept in git.
    """
    package = Path(__file__).resolve().parent.parent
    if (package / "configs").is_dir():
        return package / "configs"
    root = package.parent
    if (root / "configs").is_dir() and (root / "pyproject.toml").is_file():
        return root / "configs"
    return None


def bundled_config_names() -> list[str]:
    """The names of the bundled configs (``xor``, ``mnist_lif``, ...), sorted."""
    folder = bundled_config_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder else []


def resolve_config_path(path: str | os.PathLike) -> Path:
    """``path`` itself if it exists, else the bundled config of that name (``xor`` or ``xor.toml``).

    A bare name is looked up only when no file or folder of that name exists, so a local file
    always wins; anything else is returned unchanged (opening it raises ``FileNotFoundError``).
    """
    path = Path(path)
    folder = bundled_config_dir()
    if path.exists() or folder is None or path.name != str(path) or path.suffix not in ("", ".toml"):
        return path
    bundled = folder / f"{path.stem}.toml"
    return bundled if bundled.is_file() else path


def load_config(path: str | os.PathLike, overrides: Sequence[str] | Mapping[str, Any] = ()) -> Config:
    """Read and validate a TOML config file, applying command-line style overrides.

    ``path`` is a TOML file, or the name of a config shipped with jaxneuro (``xor``,
    ``mnist_lif``, ...; see :func:`resolve_config_path`) when no file of that name exists.

    Raises:
        FileNotFoundError: no such file and no bundled config of that name.
        ConfigError: invalid TOML (with the file name) or an invalid config (see :func:`config_from_dict`).
    """
    path = resolve_config_path(path)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{str(path)!r} is not valid TOML: {err}") from err
    try:
        return config_from_dict(raw, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path.name}: {err}") from None

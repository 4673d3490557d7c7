"""Config schema: TOML loading, validation messages, overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jaxneuro.train import Config, ConfigError, config_from_dict, load_config, parse_override

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def base() -> dict:
    return {
        "epochs": 3,
        "batch_size": 4,
        "loss": "mse",
        "data": {"name": "xor"},
        "model": {"hidden_sizes": [4], "activation": "tanh", "final_activation": "logistic"},
        "optimizer": {"learning_rate": 0.1},
    }


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_configs_load(path):
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.epochs >= 1 and config.batch_size >= 1


def test_shipped_config_set():
    assert {p.stem for p in CONFIGS.glob("*.toml")} >= {"xor", "regression", "mnist_mlp", "mnist_lif"}
    mlp = load_config(CONFIGS / "mnist_mlp.toml")
    assert mlp.model.hidden_sizes == (256, 256) and mlp.model.activation == "relu"
    assert mlp.optimizer.name == "adam" and mlp.optimizer.schedule == "cosine" and mlp.batch_size == 128
    lif = load_config(CONFIGS / "mnist_lif.toml")
    assert lif.model.activation == "soft_lif" and lif.model.eval_activations == ("lif",)


def test_defaults_and_types():
    c = config_from_dict(base())
    assert c.seed == 0 and c.scan_epoch is True and c.stop_after_epochs is None
    assert c.model.hidden_sizes == (4,) and isinstance(c.model.hidden_sizes, tuple)
    assert isinstance(c.optimizer.learning_rate, float)
    assert c.task == "binary"


def test_frozen():
    c = config_from_dict(base())
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.epochs = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.optimizer.learning_rate = 1.0  # type: ignore[misc]


def test_round_trip_through_dict():
    c = config_from_dict(base(), ["model.eval_activations=['lif']", "stop_after_epochs=2"])
    assert config_from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "section, key, suggestion",
    [
        (None, "epochz", "epochs"),
        (None, "batchsize", "batch_size"),
        ("optimizer", "learnig_rate", "optimizer.learning_rate"),
        ("model", "hidden_size", "model.hidden_sizes"),
        ("data", "nmae", "data.name"),
    ],
)
def test_unknown_key_names_closest(section, key, suggestion):
    raw = base()
    (raw if section is None else raw[section])[key] = 1
    full = key if section is None else f"{section}.{key}"
    with pytest.raises(ConfigError, match=rf"unknown config key '{full}' \(did you mean '{suggestion}'\?\)"):
        config_from_dict(raw)


def test_unknown_key_without_close_match_lists_valid_keys():
    raw = base()
    raw["zzzzzz"] = 1
    with pytest.raises(ConfigError, match=r"unknown config key 'zzzzzz'; valid keys: epochs, batch_size"):
        config_from_dict(raw)


@pytest.mark.parametrize(
    "path, value, pattern",
    [
        ("epochs", 1.5, r"'epochs' must be an integer, got epochs = 1\.5"),
        ("epochs", True, r"'epochs' must be an integer, got epochs = True"),
        ("optimizer.learning_rate", "fast", r"'optimizer.learning_rate' must be a float, got .* = 'fast'"),
        ("scan_epoch", 1, r"'scan_epoch' must be true or false, got scan_epoch = 1"),
        ("model.hidden_sizes", 4, r"'model.hidden_sizes' must be a list of an integer"),
        ("model.hidden_sizes", [4, "8"], r"'model.hidden_sizes' must be a list of an integer"),
        (
            "data.name",
            "mnsit",
            r"'data.name' must be one of 'xor', .* got data.name = 'mnsit' \(did you mean 'mnist'\?\)",
        ),
        ("optimizer.name", "adma", r"did you mean 'adam'"),
        ("model.activation", "rleu", r"did you mean 'relu'"),
        ("optimizer", 3, r"'optimizer' must be a table \[optimizer\], got optimizer = 3"),
        ("data.data_dir", 5, r"'data.data_dir' must be a string or None"),
    ],
)
def test_wrong_type(path, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config_from_dict(base(), {path: value})


@pytest.mark.parametrize(
    "path, value, pattern",
    [
        ("epochs", 0, r"'epochs' must be an integer >= 1, got epochs = 0"),
        ("batch_size", -1, r"'batch_size' must be an integer >= 1"),
        ("checkpoint_every", 0, r"'checkpoint_every' must be an integer >= 1"),
        ("eval_every", 0, r"'eval_every' must be an integer >= 1"),
        ("stop_after_epochs", 0, r"'stop_after_epochs' must be None or an integer >= 1"),
        ("seed", -1, r"'seed' must be an integer in \[0, 2\*\*32\)"),
        (
            "optimizer.learning_rate",
            0.0,
            r"'optimizer.learning_rate' must be a finite float > 0, got .* = 0\.0",
        ),
        ("optimizer.learning_rate", float("inf"), r"'optimizer.learning_rate' must be a finite float > 0"),
        ("optimizer.momentum", 1.0, r"'optimizer.momentum' must be a float in \[0, 1\)"),
        ("optimizer.final_fraction", 1.5, r"'optimizer.final_fraction' must be a float in \[0, 1\]"),
        ("optimizer.weight_decay", -1e-3, r"'optimizer.weight_decay' must be a finite float >= 0"),
        ("model.hidden_sizes", [4, 0], r"'model.hidden_sizes\[1\]' must be an integer >= 1, got .* = 0"),
        (
            "model.eval_activations",
            ["lfi"],
            r"'model.eval_activations' must list names .* got 'lfi' \(did you mean 'lif'\?\)",
        ),
        ("data.train_size", 0, r"'data.train_size' must be None or an integer >= 1"),
        ("data.test_size", 0, r"'data.test_size' must be None or an integer >= 1"),
        ("data.noise", -0.1, r"'data.noise' must be a finite float >= 0"),
    ],
)
def test_out_of_range(path, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config_from_dict(base(), {path: value})


@pytest.mark.parametrize(
    "changes, pattern",
    [
        (
            {"data.name": "regression", "loss": "binary_cross_entropy"},
            r"'loss' must be 'mse' for data.name = 'regression'",
        ),
        ({"loss": "categorical_cross_entropy_with_logits"}, r"for data.name = 'xor' \(one output\)"),
        (
            {"data.name": "mnist", "loss": "binary_cross_entropy"},
            r"'loss' must be 'mse' or a categorical loss",
        ),
        (
            {"loss": "binary_cross_entropy_with_logits", "model.final_activation": "logistic"},
            r"'model.final_activation' must be 'identity' with loss = 'binary_cross_entropy_with_logits'",
        ),
        (
            {"loss": "binary_cross_entropy", "model.final_activation": "identity"},
            r"must be 'logistic' with loss",
        ),
        (
            {"data.name": "mnist", "loss": "categorical_cross_entropy", "model.final_activation": "identity"},
            r"must be 'softmax' with loss = 'categorical_cross_entropy'",
        ),
    ],
)
def test_inconsistent_combinations(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        config_from_dict(base(), changes)


@pytest.mark.parametrize("missing", ["epochs", "batch_size", "loss", "data", "model", "optimizer"])
def test_missing_required_top_level(missing):
    raw = base()
    del raw[missing]
    with pytest.raises(ConfigError, match=rf"missing required config key '{missing}'"):
        config_from_dict(raw)


@pytest.mark.parametrize("section, key", [("optimizer", "learning_rate"), ("model", "hidden_sizes"), ("data", "name")])
def test_missing_required_nested(section, key):
    raw = base()
    del raw[section][key]
    with pytest.raises(ConfigError, match=rf"missing required config key '{section}.{key}'"):
        config_from_dict(raw)


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("optimizer.learning_rate=1e-3", "optimizer.learning_rate", 1e-3),
        ("epochs=5", "epochs", 5),
        ("scan_epoch=false", "scan_epoch", False),
        ("model.hidden_sizes=[64, 32]", "model.hidden_sizes", [64, 32]),
        ("data.name=mnist", "data.name", "mnist"),
        ('data.data_dir="/tmp/x y"', "data.data_dir", "/tmp/x y"),
        ("data.data_dir=/tmp/data", "data.data_dir", "/tmp/data"),
        (" stop_after_epochs = none ", "stop_after_epochs", None),
        ("data.train_size=NULL", "data.train_size", None),
    ],
)
def test_parse_override(text, key, value):
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("text", ["epochs", "=3", ""])
def test_parse_override_malformed(text):
    with pytest.raises(ConfigError, match=r"must look like section.field=value"):
        parse_override(text)


def test_overrides_applied_and_validated():
    c = config_from_dict(base())
    d = c.replace(["optimizer.learning_rate=1e-3", "model.hidden_sizes=[8, 8]", "epochs=7", "optimizer.name=sgd"])
    assert d.optimizer.learning_rate == 1e-3 and d.model.hidden_sizes == (8, 8) and d.epochs == 7
    assert d.optimizer.name == "sgd"
    assert c.epochs == 3  # the original is untouched
    # the last override of a key wins; none resets an optional field to its default
    e = c.replace(["stop_after_epochs=2", "stop_after_epochs=none", "data.train_size=10"])
    assert e.stop_after_epochs is None and e.data.train_size == 10
    with pytest.raises(ConfigError, match=r"unknown config key 'optimizer.lr' .*did you mean"):
        c.replace(["optimizer.lr=0.1"])
    with pytest.raises(ConfigError, match=r"override 'epochs.x': 'epochs' is not a table"):
        c.replace(["epochs.x=1"])


def test_load_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = [\n")
    with pytest.raises(ConfigError, match=r"bad.toml' is not valid TOML"):
        load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text(
        'epochs = 2\nbatch_size = 4\nloss = "mse"\n[data]\nname = "xor"\n[model]\nhidden_sizes = [2]\n'
        "[optimizer]\nlearning_rat = 0.1\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"typo.toml: unknown config key 'optimizer.learning_rat' "
        r"\(did you mean 'optimizer.learning_rate'\?\)",
    ):
        load_config(typo)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "nope.toml")
    ok = load_config(typo, ["optimizer.learning_rat=none", "optimizer.learning_rate=0.5"])
    assert ok.optimizer.learning_rate == 0.5

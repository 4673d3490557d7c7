"""Linear regression (notes ch. 2.3): configs/linear_regression.toml trains a linear model whose
minimum of the squared error is the least-squares solution (numpy.linalg.lstsq)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxneuro import data as jdata
from jaxneuro import train
from jaxneuro.train import ConfigError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_linear_target_is_the_known_map():
    x, t = jdata.regression(11, function="linear", grid=True)
    np.testing.assert_allclose(np.asarray(t)[:, 0], 1.5 * np.linspace(0, 1, 11) - 0.5, atol=1e-6)


def test_config_is_a_linear_model():
    cfg = load_config(CONFIGS / "linear_regression.toml")
    assert cfg.model.hidden_sizes == () and cfg.model.final_activation == "identity" and cfg.loss == "mse"
    assert cfg.data.function == "linear" and cfg.data.noise > 0
    with pytest.raises(ConfigError, match="data.function"):
        config_from_dict(
            {
                "epochs": 1,
                "batch_size": 8,
                "loss": "mse",
                "data": {"name": "regression", "function": "quadratic"},
                "model": {"hidden_sizes": []},
            }
        )


def test_training_recovers_the_least_squares_solution():
    cfg = load_config(CONFIGS / "linear_regression.toml")
    d = train.load_data(cfg)
    x = np.asarray(d.x_train, np.float64)[:, 0]
    t = np.asarray(d.t_train, np.float64)[:, 0]
    (w_ls, b_ls), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), t, rcond=None)
    result = train.fit(cfg, None, stream=None)
    (layer,) = result.model.layers  # one Dense layer: y = w x + b
    w, b = float(layer.weight[0, 0]), float(layer.bias[0])
    assert w == pytest.approx(w_ls, abs=2e-3) and b == pytest.approx(b_ls, abs=2e-3)
    # the noise moves the least-squares line away from the generating map by more than that tolerance,
    # so the test tells "minimises the loss on these data" from "knows the true map"
    assert max(abs(w_ls - 1.5), abs(b_ls + 0.5)) > 1e-2
    # the training loss at the solution is the least-squares residual, 1/2 mean (y - t)^2
    y = np.asarray(jax.vmap(result.model)(jnp.asarray(x[:, None], jnp.float32)))[:, 0]
    resid = 0.5 * np.mean((w_ls * x + b_ls - t) ** 2)
    assert 0.5 * np.mean((y - t) ** 2) == pytest.approx(resid, rel=1e-4)

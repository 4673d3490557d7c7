"""Sweeps larger than memory: fixed-size chunks written to disk as they finish, resumable.

``chunked_map(fn, inputs, path, chunk_size=c)`` cuts the leading axis of ``inputs`` (any
PyTree of arrays with a common leading size ``n``, e.g. a memory-mapped ``.npy``) into
``ceil(n / c)`` chunks of exactly ``c`` rows, the last one padded with copies of its last
row, so a jitted ``fn`` compiles once.  Each result goes straight into a memory-mapped
``.npy`` file at ``path`` and its chunk number into a small JSON manifest next to it
(``path + ".manifest.json"``) with the SHA-256 of its rows, written atomically (temporary
file, ``fsync``, ``os.replace``) only after the rows have been flushed.  After an
interruption the same call resumes: chunks listed in the manifest are not recomputed, and
the final file is byte for byte the one an uninterrupted run writes.  On resume the output
file is checked against the manifest: a file cut short or changed after a chunk was
written (its size or a chunk's checksum differs) has those chunks recomputed, with a
:class:`SweepIntegrityWarning` naming the file and the chunks; a manifest that is not valid
JSON, or an output file whose ``.npy`` header cannot be read, is a ValueError naming the
file.  Every ``.npy`` (inputs, output) is opened with
``np.load(..., allow_pickle=False)`` and the manifest is JSON, so no file a sweep reads can
run code: an object array or a pickle in their place is refused with a ValueError.

Memory: the device holds one chunk; the host holds one chunk of inputs and results plus
the operating system's page cache of the output file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jaxtyping import ArrayLike, Float, PyTree

from ._misc import check_int, is_concrete
from ._neurons._base import AbstractNeuron
from ._progress import ProgressBar, TextStream, progress_stream
from ._tuning import check_duration, tuning_curve

MANIFEST_FORMAT = "jaxneuro-chunked-sweep/2"
"""``format`` entry of the manifest; a manifest of another format is never resumed (except
``/1``, the same without checksums, resumed when the output file has its full size)."""

_FORMAT_1 = "jaxneuro-chunked-sweep/1"


class SweepIntegrityWarning(UserWarning):
    """A resumed sweep found chunks whose rows on disk do not match the manifest; they are recomputed."""


def manifest_path(path: str | os.PathLike) -> Path:
    """The manifest that records the finished chunks of the sweep written to ``path``."""
    return Path(str(path) + ".manifest.json")


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the manifest is as readable as the .npy
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _open_npy(path: str | os.PathLike, mode: Literal["r", "r+"]) -> np.memmap:
    """Memory-map a ``.npy``; never unpickles (an object array or a pickle is a ValueError)."""
    try:
        return np.load(path, mmap_mode=mode, allow_pickle=False)
    except ValueError as err:
        raise ValueError(
            f"{os.fspath(path)!r} is not a plain .npy array that can be memory-mapped (jaxneuro never unpickles): {err}"
        ) from err


def _host_only(name: str, tree: Any) -> None:
    """A sweep on disk runs on the host, chunk by chunk: a traced value is an error naming it."""
    if not all(is_concrete(x) for x in jax.tree.leaves(tree)):
        raise ValueError(
            f"{name} must be concrete: a chunked sweep runs on the host and writes a file, so it cannot run under "
            "jax.jit, jax.vmap, jax.grad or jax.jvp (jaxneuro.tuning_curve and tuning_grid can)."
        )


def _open_inputs(inputs: Any) -> PyTree[np.ndarray]:
    if isinstance(inputs, (str, os.PathLike)):
        return _open_npy(inputs, "r")
    _host_only("inputs", inputs)
    # numpy arrays and memmaps are sliced lazily; anything else becomes a host array
    return jax.tree.map(lambda x: x if isinstance(x, np.ndarray) else np.asarray(x), inputs)


def _leading_size(tree: PyTree[np.ndarray]) -> int:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError("inputs hold no array to sweep over.")
    if any(np.ndim(x) == 0 for x in leaves):
        raise ValueError("inputs must have a leading axis to cut into chunks; got a scalar.")
    sizes = {np.shape(x)[0] for x in leaves}
    if len(sizes) != 1:
        raise ValueError(f"inputs must share their leading size; got sizes {sorted(sizes)}.")
    return sizes.pop()


def _describe(tree: PyTree[np.ndarray], chunk_rows: int) -> dict:
    """Shapes, dtypes and a SHA-256 of the inputs, read chunk by chunk (bounded memory)."""
    h = hashlib.sha256()
    leaves, treedef = jax.tree.flatten(tree)
    h.update(str(treedef).encode())
    for x in leaves:
        h.update(f"{x.shape}{x.dtype}".encode())
        for lo in range(0, x.shape[0], chunk_rows):
            h.update(np.ascontiguousarray(x[lo : lo + chunk_rows]).tobytes())
    return {
        "input_shapes": [list(x.shape) for x in leaves],
        "input_dtypes": [str(x.dtype) for x in leaves],
        "inputs_sha256": h.hexdigest(),
    }


def _chunk(tree: PyTree[np.ndarray], lo: int, hi: int, size: int) -> PyTree[np.ndarray]:
    def cut(x):
        rows = np.asarray(x[lo:hi])
        if hi - lo < size:
            rows = np.concatenate([rows, np.repeat(rows[-1:], size - (hi - lo), axis=0)])
        return rows

    return jax.tree.map(cut, tree)


def _digest(rows: np.ndarray) -> str:
    """SHA-256 of rows as stored in the file (C order, the file's dtype)."""
    return hashlib.sha256(np.ascontiguousarray(rows).tobytes()).hexdigest()


def _read_manifest(mpath: Path, path: Path, n_chunks: int) -> dict:
    """The manifest, checked to be what :func:`chunked_map` writes; anything else names the file."""
    restart = f"delete {str(mpath)!r} and {str(path)!r} to start the sweep afresh"
    try:
        manifest = json.loads(mpath.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"the sweep manifest {str(mpath)!r} is corrupt (not valid JSON: {err}); {restart}.") from err
    ok = isinstance(manifest, dict) and isinstance(manifest.get("done"), list)
    if ok:
        done = manifest["done"]
        ok = all(type(i) is int and 0 <= i < n_chunks for i in done) and len(set(done)) == len(done)
        shape, dtype = manifest.get("output_shape"), manifest.get("output_dtype")
        ok = ok and isinstance(shape, list) and all(type(k) is int and k >= 0 for k in shape)
        ok = ok and isinstance(dtype, str)
        if ok and manifest.get("format") == MANIFEST_FORMAT:
            sums = manifest.get("sha256")
            ok = (
                isinstance(sums, dict)
                and set(sums) == {str(i) for i in done}
                and all(isinstance(v, str) and len(v) == 64 for v in sums.values())
            )
    if not ok:
        raise ValueError(
            f"the sweep manifest {str(mpath)!r} is corrupt (it lacks or garbles 'done', 'sha256', 'output_shape' or "
            f"'output_dtype'); {restart}."
        )
    return manifest


def _open_output(path: Path, mpath: Path, shape: tuple[int, ...], dtype: str, legacy: bool) -> np.memmap:
    """Open the output of a sweep being resumed, read-write, after checking its header and size.

    A file of the wrong size is cut or zero-extended to the size its header declares (its
    chunks are then checked against their checksums); never silently by ``np.load``.
    """
    restart = f"delete {str(path)!r} and {str(mpath)!r} to start the sweep afresh"
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            file_shape, fortran, file_dtype = read(f)
            offset = f.tell()
    except (ValueError, OSError, SyntaxError) as err:
        raise ValueError(
            f"the sweep output {str(path)!r} is not a plain .npy array that can be memory-mapped (jaxneuro never "
            f"unpickles): its header is corrupt or not a .npy header ({err}); {restart}."
        ) from err
    if file_dtype.hasobject:
        raise ValueError(
            f"the sweep output {str(path)!r} is not a plain .npy array that can be memory-mapped (jaxneuro never "
            f"unpickles): it holds {file_dtype} objects; {restart}."
        )
    if file_shape != shape or str(file_dtype) != dtype or fortran:
        raise ValueError(
            f"the sweep output {str(path)!r} holds {file_shape} {file_dtype} but its manifest {str(mpath)!r} "
            f"records {shape} {dtype}; {restart}."
        )
    expected = offset + int(np.prod(shape)) * np.dtype(dtype).itemsize
    actual = os.path.getsize(path)
    if actual != expected:
        if legacy:
            raise ValueError(
                f"the sweep output {str(path)!r} has {actual} bytes where its header declares {expected}, and its "
                f"manifest (format {_FORMAT_1!r}) has no checksums to tell which chunks survived; {restart}."
            )
        warnings.warn(
            f"{str(path)!r} has {actual} bytes where its header declares {expected} (cut short or extended after "
            "its chunks were written); chunks that no longer match their checksum are recomputed.",
            SweepIntegrityWarning,
            stacklevel=3,
        )
        os.truncate(path, expected)
    return _open_npy(path, "r+")


def chunked_map(
    fn: Callable[[PyTree[np.ndarray]], ArrayLike],
    inputs: PyTree[ArrayLike] | str | os.PathLike,
    path: str | os.PathLike,
    *,
    chunk_size: int,
    fingerprint: str = "",
    progress: bool | TextStream | None = True,
    on_chunk: Callable[[int, int], None] | None = None,
) -> np.memmap:
    """Apply a batch function to ``inputs`` chunk by chunk, writing the results to ``path``.

    ``fn`` receives chunks of exactly ``chunk_size`` rows (host arrays with the structure of
    ``inputs``; the last chunk padded with its last row) and returns one array with that
    leading size; rows ``i`` of the result file equal ``fn``'s rows for input row ``i``.
    Calling again with the same inputs, ``chunk_size`` and ``fingerprint`` resumes a sweep
    that was interrupted, without recomputing the chunks already in the manifest.

    Args:
        fn: batch function, e.g. ``lambda x: jn.tuning_curve(neuron, x)``; jit it (or call a
            jitted function) so that it compiles once for the fixed chunk shape.
        inputs: a PyTree of arrays (numpy, memory-mapped, or JAX) with common leading size
            ``n``, or the path of a ``.npy`` file (opened memory-mapped).
        path: the output ``.npy`` file, shape ``(n, *row_shape)``; its manifest is
            ``path + ".manifest.json"``.
        chunk_size: rows per call (> 0); it bounds memory on the device.
        fingerprint: text identifying ``fn`` and its settings; a manifest with another
            fingerprint (or other inputs) is refused rather than resumed.
        progress: ``True`` for a progress bar (tqdm) on stderr, a text stream, or
            ``False``/``None`` for none.  A terminal shows the bar updated in place; any other
            stream gets one line when the sweep ends; only process 0 of a multi-process job
            shows it.
        on_chunk: called as ``on_chunk(i, n_chunks)`` after chunk ``i`` is safely on disk.

    Returns:
        The result, memory-mapped read-only from ``path``.

    Raises:
        ValueError: for ``chunk_size < 1``, traced inputs (under ``jax.jit``, ``vmap``, ``grad``
            or ``jvp``: a sweep on disk runs on the host), inputs without a common leading axis, an existing
            manifest from a different sweep, or ``fn`` returning the wrong number of rows, or
            rows of another shape or dtype than the file already holds; a corrupt manifest or
            output header (naming the file); ``path`` existing without a manifest.

    Warns:
        SweepIntegrityWarning: on resume, chunks whose rows on disk do not match their
            checksum (a file cut short or changed); they are recomputed.
    """
    chunk_size = check_int("chunk_size", chunk_size)
    inputs = _open_inputs(inputs)
    n = _leading_size(inputs)
    if n == 0:
        raise ValueError("inputs must have at least one row to sweep over; got a leading size of 0.")
    n_chunks = -(-n // chunk_size)
    path = Path(path)
    mpath = manifest_path(path)
    header = {
        "format": MANIFEST_FORMAT,
        "n": n,
        "chunk_size": chunk_size,
        "n_chunks": n_chunks,
        "fingerprint": fingerprint,
        **_describe(inputs, chunk_size),
    }

    done: set[int] = set()
    sums: dict[str, str] = {}
    out = None
    if path.exists() and not mpath.exists():
        raise ValueError(
            f"{str(path)!r} exists but has no manifest {str(mpath)!r}, so it is not a sweep to resume (a sweep keeps "
            "its manifest, also when finished); delete it or choose another path."
        )
    if mpath.exists() and path.exists():
        manifest = _read_manifest(mpath, path, n_chunks)
        legacy = manifest.get("format") == _FORMAT_1
        mismatch = sorted(k for k in header if k != "format" and manifest.get(k) != header[k])
        if mismatch or manifest.get("format") not in (MANIFEST_FORMAT, _FORMAT_1):
            mismatch = mismatch or ["format"]
            raise ValueError(
                f"{mpath} belongs to a different sweep (it differs in {mismatch}); use another path or delete "
                f"{path} and its manifest to start afresh."
            )
        done = set(manifest["done"])
        header["output_shape"], header["output_dtype"] = manifest["output_shape"], manifest["output_dtype"]
        out = _open_output(path, mpath, tuple(manifest["output_shape"]), manifest["output_dtype"], legacy)
        if legacy:  # no checksums were written: take the rows as they are (the file has its full size)
            sums = {str(i): _digest(out[i * chunk_size : min(n, (i + 1) * chunk_size)]) for i in done}
        else:
            sums = manifest["sha256"]
            bad = [
                i for i in sorted(done) if _digest(out[i * chunk_size : min(n, (i + 1) * chunk_size)]) != sums[str(i)]
            ]
            if bad:
                warnings.warn(
                    f"{str(path)!r}: the rows of chunk(s) {bad} do not match their SHA-256 in {str(mpath)!r} (the file "
                    "was cut short or changed after they were written); recomputing them.",
                    SweepIntegrityWarning,
                    stacklevel=2,
                )
                done -= set(bad)
                sums = {k: v for k, v in sums.items() if int(k) in done}

    stream = progress_stream(progress)
    with ProgressBar(total=n_chunks, initial=len(done), unit="chunk", desc="chunks", stream=stream) as bar:
        for i in range(n_chunks):
            if i in done:
                continue
            lo, hi = i * chunk_size, min(n, (i + 1) * chunk_size)
            result = fn(_chunk(inputs, lo, hi, chunk_size))
            if not hasattr(result, "shape"):  # np.asarray of a tuple would stack it on a new leading axis
                raise ValueError(
                    f"fn must return one array of {chunk_size} rows, got a {type(result).__name__} (stack a PyTree "
                    "of results into one array, or sweep each separately)."
                )
            rows = np.asarray(result)
            if rows.ndim == 0 or rows.shape[0] != chunk_size:
                raise ValueError(f"fn must return {chunk_size} rows (one per input row); got shape {rows.shape}.")
            if out is None:  # the first chunk computed fixes the file's shape and dtype
                path.parent.mkdir(parents=True, exist_ok=True)
                out = np.lib.format.open_memmap(path, mode="w+", dtype=rows.dtype, shape=(n, *rows.shape[1:]))
                header["output_shape"], header["output_dtype"] = list(out.shape), str(out.dtype)
            if rows.shape[1:] != out.shape[1:] or rows.dtype != out.dtype:
                raise ValueError(
                    f"fn returned rows of shape {rows.shape[1:]} and dtype {rows.dtype}; the file holds "
                    f"{out.shape[1:]} {out.dtype}."
                )
            out[lo:hi] = rows[: hi - lo]
            out.flush()  # the rows are on disk before the manifest says so
            done.add(i)
            sums[str(i)] = _digest(rows[: hi - lo])
            _write_json_atomic(mpath, {**header, "done": sorted(done), "sha256": sums})
            bar.update(1)
            if on_chunk is not None:
                on_chunk(i, n_chunks)
    del out
    return _open_npy(path, "r")


def _neuron_fingerprint(neuron: AbstractNeuron, settings: dict) -> str:
    h = hashlib.sha256(type(neuron).__name__.encode())
    for leaf in jax.tree.leaves(neuron):
        a = np.asarray(leaf)
        h.update(f"{a.shape}{a.dtype}".encode() + a.tobytes())
    return f"tuning_curve {type(neuron).__name__} {h.hexdigest()[:16]} {json.dumps(settings, sort_keys=True)}"


def chunked_tuning_curve(
    neuron: AbstractNeuron,
    inputs: Float[ArrayLike, " n"] | str | os.PathLike,
    path: str | os.PathLike,
    *,
    chunk_size: int = 100_000,
    duration: float | None = None,
    transient: float | None = None,
    method: Literal["auto", "exact", "stepped", "diffrax"] = "auto",
    dt: float | None = None,
    dtype: Any = None,
    mesh: Mesh | None = None,
    progress: bool | TextStream | None = True,
    on_chunk: Callable[[int, int], None] | None = None,
) -> np.memmap:
    """:func:`jaxneuro.tuning_curve` over millions of inputs, in chunks, resumable on disk.

    The rates of ``inputs[i]`` land in row ``i`` of the ``.npy`` file at ``path`` (see
    :func:`chunked_map`); each chunk is one sharded ``tuning_curve`` call of fixed shape.

    Args:
        neuron: a single neuron (scalar parameters).
        inputs: 1-D inputs, or the path of a 1-D ``.npy`` file (read memory-mapped).
        path: output ``.npy`` file (rates in Hz).
        chunk_size: inputs per call (default 100,000; > 0).
        duration, transient, method, dt, dtype, mesh: as in :func:`jaxneuro.tuning_curve`.
        progress, on_chunk: as in :func:`chunked_map`.

    Returns:
        The rates, memory-mapped read-only from ``path``.

    Raises:
        TypeError: when ``neuron`` is not a jaxneuro neuron.
        ValueError: for a stacked or traced neuron or inputs that are not 1-D, and as
            :func:`chunked_map` and :func:`jaxneuro.tuning_curve`.
    """
    if not isinstance(neuron, AbstractNeuron):
        raise TypeError(f"neuron must be a jaxneuro neuron (LIF, HodgkinHuxley), got {type(neuron).__name__}.")
    _host_only("neuron", neuron)
    shapes = {jnp.shape(x) for x in jax.tree.leaves(neuron) if eqx.is_array(x)}
    if shapes - {()}:
        raise ValueError(
            f"neuron must have scalar parameters for a chunked sweep; got shapes {sorted(shapes - {()})}. "
            "For parameter sweeps use chunked_map over a parameter_grid."
        )
    opened = _open_inputs(inputs)
    if not isinstance(opened, np.ndarray) or opened.ndim != 1:
        raise ValueError(f"inputs must be 1-D; got shape {np.shape(opened)}.")
    duration, transient = check_duration(neuron, duration, transient)
    settings = dict(
        duration=duration,
        transient=transient,
        method=method,
        dt=dt,
        dtype=None if dtype is None else str(jnp.dtype(dtype)),
    )
    if dtype is None:  # record the resolved dtype so an x64 run never resumes a float32 file
        settings["dtype"] = "float64" if jax.config.read("jax_enable_x64") else "float32"

    def fn(x):
        return tuning_curve(
            neuron, x, duration=duration, transient=transient, method=method, dt=dt, dtype=settings["dtype"], mesh=mesh
        )

    return chunked_map(
        fn,
        opened,
        path,
        chunk_size=chunk_size,
        fingerprint=_neuron_fingerprint(neuron, settings),
        progress=progress,
        on_chunk=on_chunk,
    )


__all__ = ["MANIFEST_FORMAT", "SweepIntegrityWarning", "chunked_map", "chunked_tuning_curve", "manifest_path"]

"""Checkpoints: the whole training state in one file, written atomically.

The array leaves of a :class:`TrainState` (model parameters, optimiser state, PRNG key,
epoch and step counters) are written with ``eqx.tree_serialise_leaves``; reading needs a
state of the same structure (built from the same config), whose leaves are replaced, each
with ``np.load(..., allow_pickle=False)`` (an object array or a pickle in a checkpoint is
refused, never unpickled: loading a checkpoint cannot run code).  The leaves are followed
by a 56-byte trailer: a magic string, the length of the leaves in bytes and their SHA-256,
checked on every load, so a checkpoint cut short or changed in place (even at the same
length) is named as truncated or corrupt rather than loaded or taken for another model.  A
JSON sidecar records the epoch, step, size, SHA-256 and config for people and for
``--resume`` checks.  Both files are written to a temporary name in the same folder,
``fsync``-ed and renamed with ``os.replace``, so a crash leaves either the old checkpoint
or the new one, never half.  A checkpoint from before the trailer (no checksum) still loads.

Why not Orbax (``orbax-checkpoint``, the JAX ecosystem's checkpoint library): the state is one
small PyTree on one host, which equinox (a library: ``tree_serialise_leaves``) already writes;
Orbax would add tensorstore and an asynchronous directory-per-step layout for a file of a few
MiB, and its restore still needs the same template state.  What it would add that a lab needs
(integrity and atomicity) is the 56-byte trailer and the rename above, tested by killing runs
at random points (tests/test_persistence.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int, UInt32

CHECKPOINT_NAME = "checkpoint.eqx"
CHECKPOINT_INFO = "checkpoint.json"

_MAGIC = b"\njaxneuro-ckpt/2"
_TRAILER = struct.Struct("<16sQ32s")  # magic, length of the leaves in bytes, their SHA-256


class TrainState(eqx.Module):
    """Everything a run needs to continue exactly: model, optimiser state, PRNG key, counters.

    Attributes:
        model: the model being trained (an ``eqx.Module``).
        opt_state: the optax optimiser state.
        key: the raw uint32 PRNG key from which the next epoch's minibatch order is drawn.
        epoch: number of completed epochs (int32 scalar).
        step: number of completed optimiser steps (int32 scalar).
    """

    model: Any
    opt_state: Any
    key: UInt32[Array, "2"]
    epoch: Int[Array, ""]
    step: Int[Array, ""]


def atomic_write(path: Path, write) -> None:
    """Write a file by ``write(f)`` into a temporary file in its folder, ``fsync``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(folder: str | os.PathLike, state: TrainState, info: dict[str, Any] | None = None) -> Path:
    """Write ``state`` to ``folder/checkpoint.eqx`` (and ``info`` plus the counters to
    ``folder/checkpoint.json``), each atomically.  Returns the checkpoint path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_NAME
    state = jax.device_get(state)
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, state)
    leaves = buf.getvalue()
    digest = hashlib.sha256(leaves)
    data = leaves + _TRAILER.pack(_MAGIC, len(leaves), digest.digest())
    atomic_write(path, lambda f: f.write(data))
    meta = dict(info or {})
    meta.update(
        epoch=int(state.epoch), step=int(state.step), file=CHECKPOINT_NAME, bytes=len(data), sha256=digest.hexdigest()
    )
    atomic_write(folder / CHECKPOINT_INFO, lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return path


def _read_leaf(f, x: Any) -> Any:
    """``eqx.default_deserialise_filter_spec`` with ``allow_pickle=False`` said explicitly."""
    if isinstance(x, (jax.Array, jax.ShapeDtypeStruct)):
        return jnp.load(f, allow_pickle=False)
    if isinstance(x, np.ndarray):
        return np.load(f, allow_pickle=False)
    if eqx.is_array_like(x):
        out = np.load(f, allow_pickle=False)
        if isinstance(x, jax.dtypes.bfloat16):
            out = out.view(jax.dtypes.bfloat16)
        return type(x)(out.item())
    return x


def has_checkpoint(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a checkpoint."""
    return (Path(folder) / CHECKPOINT_NAME).is_file()


def load_checkpoint(folder: str | os.PathLike, like: TrainState) -> tuple[TrainState, dict[str, Any]]:
    """Read the checkpoint in ``folder`` into a state shaped like ``like``.

    Returns:
        ``(state, info)``: the restored state and the JSON sidecar.

    Raises:
        FileNotFoundError: no checkpoint in ``folder``.
        ValueError: the checkpoint is truncated or corrupt (its size or SHA-256 differs from
            the ones written with it; the message says which), its sidecar is not valid JSON,
            or it does not match ``like``'s structure (another model or optimiser).
    """
    folder = Path(folder)
    path = folder / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from: {str(path)!r} does not exist.")
    info_path = folder / CHECKPOINT_INFO
    info: dict[str, Any] = {}
    if info_path.is_file():
        try:
            info = json.loads(info_path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"checkpoint sidecar {str(info_path)!r} is corrupt (not valid JSON: {err}).") from err
        if not isinstance(info, dict):
            raise ValueError(f"checkpoint sidecar {str(info_path)!r} is corrupt (not a JSON object).")
    data = path.read_bytes()
    leaves, problem = _check_integrity(data, info)
    state, detail, rest = None, None, 0
    try:
        f = io.BytesIO(leaves)
        state = eqx.tree_deserialise_leaves(f, like, filter_spec=_read_leaf)
        rest = len(leaves) - f.tell()
    except (ValueError, RuntimeError, EOFError, OSError) as err:
        cause = err
        while cause.__cause__ is not None:  # equinox wraps the reader's error in one naming the leaf
            cause = cause.__cause__
        detail = str(err) if cause is err else f"{err}: {type(cause).__name__}: {cause}"
    if problem is not None:
        raise ValueError(f"checkpoint {str(path)!r} is {problem}" + (f"; reading it: {detail}" if detail else "."))
    if detail is None and rest:
        detail = f"{rest} bytes of it are left over after the last leaf of this model and optimiser"
    if detail is not None:
        if info.get("sha256") is None and not _has_trailer(data):
            raise ValueError(
                f"checkpoint {str(path)!r} cannot be read: it carries no checksum (written by an older jaxneuro), so "
                f"it may be truncated or corrupt, or belong to another model or optimiser: {detail}"
            )
        raise ValueError(f"checkpoint {str(path)!r} does not match the model and optimiser of this config: {detail}")
    assert state is not None  # a failed read set detail, and raised above
    return state, info


def _has_trailer(data: bytes) -> bool:
    return len(data) >= _TRAILER.size and data[-_TRAILER.size :].startswith(_MAGIC)


def _check_integrity(data: bytes, info: dict[str, Any]) -> tuple[bytes, str | None]:
    """The serialised leaves of a checkpoint file, and what is wrong with it (None: intact or unchecked)."""
    recorded = info.get("bytes")
    if not _has_trailer(data):
        if recorded is None and info.get("sha256") is None:
            return data, None  # an older checkpoint: no checksum to check
        if isinstance(recorded, int) and len(data) < recorded:
            return data, (
                f"truncated: it holds {len(data)} bytes where {CHECKPOINT_INFO} records {recorded} (cut short after "
                "it was written); resume from a copy or start a new run"
            )
        return (
            data,
            "corrupt: its integrity trailer (size and SHA-256) is missing; resume from a copy or start a new run",
        )
    _, length, digest = _TRAILER.unpack(data[-_TRAILER.size :])
    leaves = data[: -_TRAILER.size]
    if length != len(leaves):
        return leaves, (
            f"corrupt: its trailer records {length} bytes of leaves, it holds {len(leaves)}; resume from a copy or "
            "start a new run"
        )
    if hashlib.sha256(leaves).digest() != digest:
        return leaves, (
            "corrupt: the SHA-256 of its contents does not match the one written with it (it was changed after it was "
            "written); resume from a copy or start a new run"
        )
    return leaves, None

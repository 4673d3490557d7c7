"""Checkpoints: the whole training state in one file, written atomically.

The array leaves of a :class:`TrainState` (model parameters, optimiser state, PRNG key,
epoch and step counters) are written with ``eqx.tree_serialise_leaves``; reading needs a
state of the same structure (built from the same config), whose leaves are replaced, each
with ``np.load(..., allow_pickle=False)`` (an object array or a pickle in a checkpoint is
refused, never unpickled: loading a checkpoint cannot run code).  A JSON sidecar records
the epoch, step and config for people and for ``--resume`` checks.  Both files are written
to a temporary name in the same folder and then renamed with ``os.replace``, so a crash
leaves either the old checkpoint or the new one, never half.
"""

from __future__ import annotations

import json
import os
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


def _atomic_write(path: Path, write) -> None:
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
    _atomic_write(path, lambda f: eqx.tree_serialise_leaves(f, state))
    meta = dict(info or {})
    meta.update(epoch=int(state.epoch), step=int(state.step), file=CHECKPOINT_NAME)
    _atomic_write(folder / CHECKPOINT_INFO, lambda f: f.write(json.dumps(meta, indent=2).encode()))
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
        ValueError: the checkpoint does not match ``like``'s structure (another model or optimiser).
    """
    folder = Path(folder)
    path = folder / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from: {str(path)!r} does not exist.")
    try:
        with open(path, "rb") as f:
            state = eqx.tree_deserialise_leaves(f, like, filter_spec=_read_leaf)
    except (ValueError, RuntimeError, EOFError) as err:
        cause = err
        while cause.__cause__ is not None:  # equinox wraps the reader's error in one naming the leaf
            cause = cause.__cause__
        detail = str(err) if cause is err else f"{err}: {type(cause).__name__}: {cause}"
        raise ValueError(
            f"checkpoint {str(path)!r} does not match the model and optimiser of this config: {detail}"
        ) from err
    info_path = folder / CHECKPOINT_INFO
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    return state, info

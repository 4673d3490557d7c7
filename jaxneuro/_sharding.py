"""Splitting a batch across devices with ``jax.sharding``: sweeps and data-parallel training.

Everything here works on a 1-D ``jax.sharding.Mesh`` (one named axis, ``"batch"`` when
built by :func:`batch_mesh`).  A batch of ``n`` examples is split along its leading axis
into ``d`` equal blocks, one per device, with ``NamedSharding(mesh, P(axis))``:

* a batch that does not divide evenly is padded at the end with copies of its last
  example (a valid input, so no run-time check trips on the padding), and the padding is
  removed from the result;
* per-example computations (``vmap``) give, on each device, what one device gives for the
  whole batch: the same dtype and the same values, to the last bit where XLA emits the same
  code for a shard (the tests hold tuning curves and event-driven simulations bit for bit);
  where a shard's size puts examples in a different vector lane or tail loop, a float32
  ``exp``/``log`` can differ in its last bit (the stepped simulations agree to rounding);
* reductions over the batch (a minibatch mean in training) are summed across devices by
  XLA, so they agree with one device to floating-point rounding.

The default mesh is every local device when there are several, and no sharding at all on
a single device.  Multi-host training uses the same functions on a mesh over
``jax.devices()`` after ``jax.distributed.initialize`` (see :func:`batch_mesh`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import PyTree

from ._misc import check_int, is_concrete

BATCH_AXIS = "batch"
"""Name of the axis of the meshes built by :func:`batch_mesh`."""


def batch_mesh(
    devices: Sequence[jax.Device] | None = None,  # pyright: ignore[reportInvalidTypeForm]  # jax.Device: an untyped alias
    *,
    axis_name: str = BATCH_AXIS,
) -> Mesh:
    """A 1-D mesh over ``devices`` for splitting a batch (default: all local devices).

    For data-parallel training across hosts, start every process with
    ``jax.distributed.initialize()`` and pass ``devices=jax.devices()`` (every device of every
    process); the local default is right for sweeps, whose results each process keeps.

    Args:
        devices: the devices, in mesh order (default ``jax.local_devices()``).
        axis_name: name of the mesh axis (default ``"batch"``).

    Returns:
        ``Mesh(np.array(devices), (axis_name,))``.

    Raises:
        ValueError: for an empty device list.
    """
    given = jax.local_devices() if devices is None else devices
    if not isinstance(given, (list, tuple, np.ndarray)) or not all(isinstance(d, jax.Device) for d in given):
        # (batch_mesh(0) was "TypeError: 'int' object is not iterable")
        raise ValueError(
            f"devices must be a sequence of jax devices (e.g. jax.devices()[:2]), got devices = {given!r}."
        )
    devices = list(given)
    if not devices:
        raise ValueError("devices must hold at least one device; got an empty sequence.")
    return Mesh(np.asarray(devices, dtype=object), (axis_name,))


def check_mesh(mesh: Any, *, local: bool = True) -> Mesh:
    """Check that ``mesh`` is a 1-D ``jax.sharding.Mesh`` (and, for ``local``, that this
    process can read all its devices); returns it.

    Raises:
        TypeError: when ``mesh`` is not a ``jax.sharding.Mesh``.
        ValueError: for a mesh with other than one axis, or with another process's devices
            when ``local``.
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh (or None), got {type(mesh).__name__}.")
    if len(mesh.axis_names) != 1:
        raise ValueError(
            f"mesh must be 1-D (one axis to split the batch over); got axis_names = {mesh.axis_names} "
            f"with shape {dict(mesh.shape)}."
        )
    if local:
        here = jax.process_index()
        others = sorted({d.process_index for d in mesh.devices.flat} - {here})
        if others:
            raise ValueError(
                f"mesh must hold only this process's devices for a sweep; it holds devices of processes {others} "
                f"(this is process {here}). Use batch_mesh() for the local devices."
            )
    return mesh


def resolve_mesh(mesh: Mesh | None, *, local: bool = True) -> Mesh | None:
    """The mesh to shard over, or ``None`` for plain single-device execution.

    ``None`` selects :func:`batch_mesh` when there are several local devices; a mesh of one
    device also means no sharding (it would only add a copy).
    """
    if mesh is None:
        return batch_mesh() if jax.local_device_count() > 1 else None
    mesh = check_mesh(mesh, local=local)
    return None if mesh.size == 1 else mesh


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """``NamedSharding`` that splits axis 0 over the mesh's (only) axis."""
    return NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    """``NamedSharding`` that keeps a full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def data_parallel_mesh() -> Mesh | None:
    """The mesh for data-parallel training: every device of every process (after
    ``jax.distributed.initialize``, the devices of all hosts), or ``None`` on one device."""
    return batch_mesh(jax.devices()) if jax.device_count() > 1 else None


def _place(x: Any, sharding: NamedSharding) -> Any:
    # Traced arrays (inside jit) are constrained; concrete ones are moved.  A mesh spanning
    # several processes cannot be reached by device_put from one process: each process
    # supplies its own devices' blocks of the (identical) host array.
    if not is_concrete(x):
        return jax.lax.with_sharding_constraint(x, sharding)
    local_source = not (isinstance(x, jax.Array) and not x.is_fully_addressable)
    if not sharding.is_fully_addressable and local_source:
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
    return jax.device_put(x, sharding)


def shard_batch(tree: PyTree, mesh: Mesh) -> PyTree:
    """Split every array leaf of ``tree`` along axis 0 over ``mesh`` (no padding: the leading
    sizes must be multiples of ``mesh.size``; see :func:`pad_batch`).

    Raises:
        ValueError: for a leaf whose leading size is not a multiple of the number of devices.
    """
    sharding = batch_sharding(mesh)
    d = mesh.size

    def place(x):
        if not eqx.is_array(x):
            return x
        if jnp.ndim(x) == 0 or x.shape[0] % d:
            raise ValueError(
                f"batch size must be a multiple of the {d} devices of the mesh to shard it; got a leaf of shape "
                f"{jnp.shape(x)}. Pad it first with pad_batch."
            )
        return _place(x, sharding)

    return jax.tree.map(place, tree)


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Put a full copy of every array leaf of ``tree`` on every device of ``mesh``."""
    sharding = replicated_sharding(mesh)
    return jax.tree.map(lambda x: _place(x, sharding) if eqx.is_array(x) else x, tree)


def batch_size(tree: PyTree) -> int:
    """The common leading size of the array leaves of ``tree``.

    Raises:
        ValueError: when there is no array leaf, a leaf is a scalar, or the sizes differ.
    """
    sizes = {}
    for path, x in jax.tree_util.tree_leaves_with_path(tree):
        if eqx.is_array(x):
            if jnp.ndim(x) == 0:
                raise ValueError(
                    f"batched arguments need a leading batch axis; leaf {jax.tree_util.keystr(path)} is a scalar."
                )
            sizes[jax.tree_util.keystr(path)] = x.shape[0]
    if not sizes:
        raise ValueError("batched arguments hold no array to split over devices.")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batched arguments must share their leading (batch) size; got sizes {sizes}.")
    return next(iter(sizes.values()))


def pad_batch(tree: PyTree, multiple: int) -> tuple[PyTree, int]:
    """Pad every array leaf of ``tree`` along axis 0 up to a multiple of ``multiple`` with
    copies of its last row; returns the padded tree and the original batch size ``n``.

    Raises:
        ValueError: for ``multiple < 1`` or batched leaves of different leading sizes.
    """
    check_int("multiple", multiple)
    n = batch_size(tree)
    extra = -n % multiple
    if extra == 0 or n == 0:
        return tree, n

    def pad(x):
        if not eqx.is_array(x):
            return x
        return jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)], axis=0)

    return jax.tree.map(pad, tree), n


def call_sharded(fn: Callable[..., PyTree], batched: tuple, mesh: Mesh, static: tuple = ()) -> PyTree:
    """``fn(*batched, *static)`` with ``batched`` split along axis 0 over ``mesh``.

    ``fn`` must act on each example independently (a vmapped function) and return arrays with
    the same leading batch axis; the batch is padded to a multiple of ``mesh.size``, sharded,
    and the padding is cut from every array leaf of the result.
    """
    padded, n = pad_batch(batched, mesh.size)
    if n == 0:
        return fn(*batched, *static)
    out = fn(*shard_batch(padded, mesh), *static)
    if batch_size(padded) == n:
        return out
    return jax.tree.map(lambda y: y[:n] if eqx.is_array(y) else y, out)


def sharded_vmap(
    fn: Callable[..., PyTree],
    *,
    in_axes: int | None | Sequence[int | None] = 0,
    mesh: Mesh | None = None,
) -> Callable[..., PyTree]:
    """``eqx.filter_vmap(fn)`` compiled once, with the batch split across devices.

    ``sharded_vmap(fn)(*args)`` maps ``fn`` (written for one example) over axis 0 of every
    array in the arguments marked ``0`` in ``in_axes`` (others are passed whole to every
    example).  Across several devices the batch is padded to a multiple of the device count,
    split with ``NamedSharding`` over the 1-D ``mesh`` and the padding removed; the result
    equals ``eqx.filter_vmap(fn)(*args)`` (dtype, and values to rounding: module docstring).  Batched modules are
    stacked: every array field has the leading batch axis.  For example, LIF simulations over
    every pair of inputs and membrane time constants::

        grid = jn.parameter_grid(jn.LIF(), v_ins, tau_m=tau_ms)     # stacked, grid.size points
        run = jn.sharded_vmap(lambda nrn, x: jn.simulate(nrn, x, 0.0, 1.0, method="stepped", ts=ts))
        sims = run(grid.neuron, grid.inputs)                         # sims.ys: (grid.size, len(ts))

    Args:
        fn: function of one example; its array outputs gain a leading batch axis.
        in_axes: ``0`` (every argument batched, the default) or one ``0``/``None`` per
            positional argument (``None``: passed whole to every example).
        mesh: a 1-D ``jax.sharding.Mesh`` (default: all local devices when there are several;
            a single device runs unsharded).

    Returns:
        The batched function (jit-compiled once per shape).

    Raises:
        ValueError: for ``in_axes`` entries other than 0 or None, or a mesh that is not 1-D or
            holds another process's devices; when called, for a wrong number of ``in_axes``
            entries, no batched argument, or batched arguments without a common leading size.
        TypeError: for a mesh that is not a ``jax.sharding.Mesh``.
    """
    mesh = resolve_mesh(mesh)
    per_arg = None if in_axes is None or isinstance(in_axes, int) else tuple(in_axes)
    for a in (in_axes,) if per_arg is None else per_arg:
        if a not in (0, None):
            raise ValueError(f"in_axes entries must be 0 (batched) or None (shared); got in_axes = {in_axes!r}.")

    @eqx.filter_jit
    def batched_fn(batched, shared, order):
        args = [None] * len(order)
        it_b, it_s = iter(batched), iter(shared)
        for i, is_batched in enumerate(order):
            args[i] = next(it_b) if is_batched else next(it_s)
        axes = tuple(eqx.if_array(0) if b else None for b in order)
        return eqx.filter_vmap(fn, in_axes=axes)(*args)

    def wrapped(*args):
        if per_arg is None:
            order = (in_axes == 0,) * len(args)
        else:
            if len(per_arg) != len(args):
                raise ValueError(
                    f"in_axes has {len(per_arg)} entries for {len(args)} arguments; give one per argument."
                )
            order = tuple(a == 0 for a in per_arg)
        batched = tuple(a for a, b in zip(args, order, strict=True) if b)
        shared = tuple(a for a, b in zip(args, order, strict=True) if not b)
        if not batched:
            raise ValueError("sharded_vmap needs at least one batched argument (in_axes entry 0).")
        n = batch_size(batched)  # validates a common leading size
        if mesh is None or n == 0:
            return batched_fn(batched, shared, order)
        return call_sharded(lambda *b: batched_fn(b, shared, order), batched, mesh)

    return wrapped


__all__ = [
    "BATCH_AXIS",
    "batch_mesh",
    "batch_sharding",
    "batch_size",
    "call_sharded",
    "check_mesh",
    "data_parallel_mesh",
    "pad_batch",
    "replicate",
    "replicated_sharding",
    "resolve_mesh",
    "shard_batch",
    "sharded_vmap",
]

"""Connectivity: which neurons of a population project to which, and how it is stored.

Rules (``AbstractConnectivity``) draw the synapses once, when a ``Network`` is built, with a
numpy generator seeded from the network's seed and the projection's index (so the same seed
gives the same network, and two projections are independent):

* ``FixedProbability(p)``: every pair independently with probability ``p`` (Brian2's
  ``connect(p=...)``; drawn by geometric skips, so the cost is that of the synapses made,
  not of the ``n_pre x n_post`` pairs);
* ``FixedInDegree(k)``: each target draws ``k`` distinct sources (Brunel 2000; NEST's
  ``fixed_indegree``);
* ``FixedOutDegree(k)``: each source draws ``k`` distinct targets; with
  ``procedural=True`` they are not stored but generated on the fly from a hash of
  (seed, source, slot) whenever the source spikes, so memory does not grow with the synapses
  (targets drawn with replacement then; GeNN's and BrainPy's "just-in-time" connectivity);
* ``FromIndices(pre, post)``: given pairs; ``AllToAll()``; ``OneToOne()``.

Storage (what the simulation reads): ``SparseStorage``, the targets of each source as a row
padded to the largest out-degree (ELL format: a spike reads one contiguous row, work
proportional to spikes x fan-out); ``ProceduralStorage``; ``DenseStorage``, a matrix read by a
product with the spike vector (faster for small dense projections).  ``storage="auto"`` picks
dense for at most ``DENSE_MAX_PAIRS`` pairs with more than 10% connected, else sparse.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._misc import check_int, static_number
from ._noise import hash32

DENSE_MAX_PAIRS = 1 << 16  # "auto" storage: dense only for projections this small (and >10% connected)
_MAX_REDRAWS = 64  # rounds of redrawing duplicate partners (each removes most of them)


# ================================================================================ rules
class AbstractConnectivity(eqx.Module):
    """A rule that draws the synapses of a projection (module docstring)."""

    @abc.abstractmethod
    def pairs(self, n_pre: int, n_post: int, same: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` index arrays of the synapses; ``same`` when source and target are
        one population (for ``autapses``)."""


def _check_prob(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"FixedProbability: p must be a number in [0, 1], got p = {p!r}.")
    return float(p)


class FixedProbability(AbstractConnectivity):
    """Each (source, target) pair connected independently with probability ``p``.

    Attributes:
        p: connection probability in [0, 1].
        autapses: allow a neuron to connect to itself (when source and target are one
            population; Brian2's default allows it).
    """

    p: float = eqx.field(static=True, converter=_check_prob)
    autapses: bool = eqx.field(static=True, default=True)

    def pairs(self, n_pre, n_post, same, rng):
        total = n_pre * n_post
        if self.p == 0.0 or total == 0:
            flat = np.zeros((0,), np.int64)
        elif self.p == 1.0:
            flat = np.arange(total, dtype=np.int64)
        else:  # positions of successes in a Bernoulli sequence: cumulative geometric gaps
            mean = self.p * total
            chunks, end = [], -1
            for _ in range(_MAX_REDRAWS):
                gaps = rng.geometric(self.p, size=int(mean + 6.0 * np.sqrt(mean) + 64))
                pos = end + np.cumsum(gaps, dtype=np.int64)
                chunks.append(pos)
                end = int(pos[-1])
                if end >= total:
                    break
            else:  # pragma: no cover - each round covers > 6 sigma more than the mean
                raise RuntimeError("FixedProbability: the geometric draws did not cover the pairs.")
            flat = np.concatenate(chunks)
            flat = flat[flat < total]
        pre, post = np.divmod(flat, n_post)
        if same and not self.autapses:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


def _distinct(rng: np.random.Generator, rows: int, k: int, n: int, exclude: np.ndarray | None) -> np.ndarray:
    """``rows x k`` draws from ``range(n)``, distinct within each row and different from
    ``exclude[row]`` (if given): uniform draws, then duplicates redrawn until none is left."""
    out = rng.integers(0, n, size=(rows, k), dtype=np.int64)
    for _ in range(_MAX_REDRAWS):
        order = np.argsort(out, axis=1, kind="stable")
        srt = np.take_along_axis(out, order, axis=1)
        bad_sorted = np.zeros_like(srt, dtype=bool)
        bad_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
        bad = np.zeros_like(bad_sorted)
        np.put_along_axis(bad, order, bad_sorted, axis=1)
        if exclude is not None:
            bad |= out == exclude[:, None]
        n_bad = int(bad.sum())
        if n_bad == 0:
            return out
        out[bad] = rng.integers(0, n, size=n_bad)
    raise RuntimeError(f"could not draw {k} distinct partners out of {n} in {_MAX_REDRAWS} rounds.")


class FixedInDegree(AbstractConnectivity):
    """Each target receives synapses from exactly ``k`` distinct sources, drawn uniformly.

    Attributes:
        k: in-degree (an int, at most the number of sources, minus one without autapses).
        autapses: allow a neuron to connect to itself (same population only).
    """

    k: int = eqx.field(static=True, converter=static_number)
    autapses: bool = eqx.field(static=True, default=True)

    def pairs(self, n_pre, n_post, same, rng):
        exclude = same and not self.autapses
        k = check_int("k", self.k, 0, n_pre - int(exclude), where="FixedInDegree")
        src = _distinct(rng, n_post, k, n_pre, np.arange(n_post) if exclude else None)
        return src.reshape(-1), np.repeat(np.arange(n_post, dtype=np.int64), k)


class FixedOutDegree(AbstractConnectivity):
    """Each source projects to exactly ``k`` distinct targets, drawn uniformly.

    With ``procedural=True`` the targets are never stored: the ``k`` targets of a source are
    hashed from (seed, source, slot) each time it spikes (drawn with replacement, so a source
    may hit a target twice with probability about ``k^2 / (2 n_post)``, and ``autapses`` is
    not applied).  Memory is then independent of the number of synapses: for a million
    neurons with 100 synapses each, 400 MB of indices are not needed.

    Attributes:
        k: out-degree (an int, at most the number of targets, minus one without autapses).
        autapses: allow a neuron to connect to itself (same population only, stored form).
        procedural: generate the targets on the fly instead of storing them.
    """

    k: int = eqx.field(static=True, converter=static_number)
    autapses: bool = eqx.field(static=True, default=True)
    procedural: bool = eqx.field(static=True, default=False)

    def pairs(self, n_pre, n_post, same, rng):
        exclude = same and not self.autapses
        k = check_int("k", self.k, 0, n_post - int(exclude), where="FixedOutDegree")
        tgt = _distinct(rng, n_pre, k, n_post, np.arange(n_pre) if exclude else None)
        return np.repeat(np.arange(n_pre, dtype=np.int64), k), tgt.reshape(-1)


class FromIndices(AbstractConnectivity):
    """Synapses given as index arrays: ``pre[m] -> post[m]`` (duplicates allowed: multapses).

    Attributes:
        pre: source indices, ints in ``[0, n_pre)``.
        post: target indices, ints in ``[0, n_post)``, the same length.
    """

    pre: np.ndarray = eqx.field(converter=np.asarray)
    post: np.ndarray = eqx.field(converter=np.asarray)

    def __check_init__(self):
        for name, a in (("pre", self.pre), ("post", self.post)):
            if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
                raise ValueError(
                    f"FromIndices: {name} must be a 1-d array of ints, got dtype {a.dtype}, shape {a.shape}."
                )
        if self.pre.shape != self.post.shape:
            raise ValueError(
                f"FromIndices: pre and post must have one length, got {self.pre.shape} and {self.post.shape}."
            )

    def pairs(self, n_pre, n_post, same, rng):
        for name, a, n in (("pre", self.pre, n_pre), ("post", self.post, n_post)):
            if a.size and (a.min() < 0 or a.max() >= n):
                bad = a[(a < 0) | (a >= n)]
                raise ValueError(f"FromIndices: {name} indices must be in [0, {n - 1}], got {bad[:6].tolist()}.")
        return self.pre.astype(np.int64), self.post.astype(np.int64)


class FromMatrix(AbstractConnectivity):
    """Synapses where a ``(n_pre, n_post)`` matrix is nonzero, weighted by its entries (a
    numpy array or a ``scipy.sparse`` matrix; the projection's ``weight`` multiplies them).

    Attributes:
        matrix: shape ``(n_pre, n_post)``: ``matrix[j, i]`` is the weight from source ``j`` to
            target ``i`` (the transpose of the notes' ``W``).
    """

    matrix: Any

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.matrix
        if hasattr(m, "tocoo"):
            coo = m.tocoo()
            return np.asarray(coo.row, np.int64), np.asarray(coo.col, np.int64), np.asarray(coo.data, np.float64)
        m = np.asarray(m, np.float64)
        pre, post = np.nonzero(m)
        return pre.astype(np.int64), post.astype(np.int64), m[pre, post]

    def pairs(self, n_pre, n_post, same, rng):
        shape = tuple(np.shape(self.matrix)) if not hasattr(self.matrix, "tocoo") else tuple(self.matrix.shape)
        if shape != (n_pre, n_post):
            raise ValueError(
                f"FromMatrix: the matrix must have shape (n_pre, n_post) = ({n_pre}, {n_post}), got shape {shape}."
            )
        pre, post, _ = self.entries()
        return pre, post


class AllToAll(AbstractConnectivity):
    """Every source to every target (``autapses=False`` drops i -> i within a population)."""

    autapses: bool = eqx.field(static=True, default=True)

    def pairs(self, n_pre, n_post, same, rng):
        pre, post = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_post)
        if same and not self.autapses:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


class OneToOne(AbstractConnectivity):
    """Source ``i`` to target ``i`` (populations of one size)."""

    def pairs(self, n_pre, n_post, same, rng):
        if n_pre != n_post:
            raise ValueError(f"OneToOne needs populations of one size, got {n_pre} sources and {n_post} targets.")
        idx = np.arange(n_pre, dtype=np.int64)
        return idx, idx


# ================================================================================ storage
PerSynapse = Float[Array, ""] | Float[Array, "n_pre fan"]
OneDelay = Float[Array, ""] | Int[Array, ""]
"""A storage's delay field ``delay_steps``: the delay in s (floating) as the network builds
it, in whole steps (int32) once the simulation has converted it for its step ``dt``."""


class SparseStorage(eqx.Module):
    """The targets of each source, one row per source padded with ``n_post`` (a sink) to the
    largest out-degree; weights and delays either one value or one per synapse (same
    layout, padding 0)."""

    targets: Int[Array, "n_pre fan"]
    weight: PerSynapse
    delay_steps: OneDelay | Float[Array, "n_pre fan"] | Int[Array, "n_pre fan"]  # s, then steps (OneDelay)
    n_post: int = eqx.field(static=True)

    def rows(self, src: Int[Array, " k"]) -> tuple[Array, Array, Array]:
        """Targets, weights and delays (in steps) of the sources ``src`` (``n_pre`` rows are
        padding: they read a row of sinks)."""
        n_pre = self.targets.shape[0]
        valid = src < n_pre
        safe = jnp.where(valid, src, 0)
        tgt = jnp.where(valid[:, None], self.targets[safe], self.n_post)
        w = self.weight if jnp.ndim(self.weight) == 0 else self.weight[safe]
        d = self.delay_steps if jnp.ndim(self.delay_steps) == 0 else self.delay_steps[safe]
        return tgt, w, d


class ProceduralStorage(eqx.Module):
    """``k`` targets per source hashed from (seed, source, slot) when the source spikes."""

    seed: int = eqx.field(static=True)
    k: int = eqx.field(static=True)
    weight: Float[Array, ""]
    delay_steps: OneDelay  # s, then steps
    n_post: int = eqx.field(static=True)
    n_pre: int = eqx.field(static=True)

    def rows(self, src):
        valid = src < self.n_pre
        key = hash32(jnp.uint32(self.seed) + hash32(src.astype(jnp.uint32)))
        bits = hash32(key[:, None] ^ hash32(jnp.arange(self.k, dtype=jnp.uint32) + jnp.uint32(0x9E3779B9))[None])
        tgt = (bits % jnp.uint32(self.n_post)).astype(jnp.int32)  # modulo bias < n_post / 2^32
        return jnp.where(valid[:, None], tgt, self.n_post), self.weight, self.delay_steps


class DenseStorage(eqx.Module):
    """A ``(n_pre, n_post)`` weight matrix (zero where not connected), one delay."""

    matrix: Float[Array, "n_pre n_post"]
    delay_steps: OneDelay  # s, then steps

    @property
    def n_post(self) -> int:
        return self.matrix.shape[1]


Storage = SparseStorage | ProceduralStorage | DenseStorage


def per_synapse(value: Any, name: str, n: int, rng: np.random.Generator) -> np.ndarray | float:
    """A weight or delay: a number, an array of one value per synapse (in the order of the
    rule's pairs), or a callable ``f(rng, n)`` drawing them.  Values must be finite."""
    if callable(value):
        value = value(rng, n)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        out: np.ndarray | float = float(arr)
    elif arr.shape == (n,):
        out = arr
    else:
        raise ValueError(f"{name} must be a number or have one value per synapse, shape ({n},); got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got non-finite values.")
    return out


def to_ell(pre: np.ndarray, post: np.ndarray, n_pre: int, n_post: int, *values: Any) -> tuple[np.ndarray, list]:
    """Pairs (any order) to rows per source padded with the sink ``n_post``; per-synapse
    arrays in ``values`` laid out alike (padding 0), scalars passed through."""
    order = np.argsort(pre, kind="stable")
    pre, post = pre[order], post[order]
    counts = np.bincount(pre, minlength=n_pre)
    fan = max(int(counts.max(initial=0)), 1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(pre.size) - start[pre]
    targets = np.full((n_pre, fan), n_post, dtype=np.int32)
    targets[pre, col] = post
    out = []
    for v in values:
        if isinstance(v, np.ndarray):
            a = np.zeros((n_pre, fan), v.dtype)
            a[pre, col] = v[order]
            out.append(a)
        else:
            out.append(v)
    return targets, out


__all__ = [
    "DENSE_MAX_PAIRS",
    "AbstractConnectivity",
    "AllToAll",
    "DenseStorage",
    "FixedInDegree",
    "FixedOutDegree",
    "FixedProbability",
    "FromIndices",
    "FromMatrix",
    "OneToOne",
    "ProceduralStorage",
    "SparseStorage",
    "per_synapse",
    "to_ell",
]

"""Competitive learning (notes ch. 1, "cluster points into categories"): unsupervised winner-take-all.

A layer of K units with weight vectors (prototypes) ``w_k`` sees an input ``x``; the unit whose
weights are closest wins (winner-take-all, ``k* = argmin_k ||x - w_k||^2``, which for weights of
equal norm is the unit with the largest drive ``w_k . x``), and only the winner learns, by the
Hebbian rule with decay that moves it towards the input:

    w_k* <- w_k* + eta (x - w_k*).

With ``eta = 1 / n_k*`` (``n_k*``: the inputs unit k* has won so far) each prototype is the
running mean of the inputs it won: online k-means (MacQueen, 1967).  Each unit becomes the
centre of one category, and the winner is the category of an input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from ._misc import as_float_array, check_int, check_range


def _check_prototypes(w: Array, x: Array) -> None:
    if w.ndim != 2 or 0 in w.shape:
        raise ValueError(f"prototypes must be a non-empty (K, d) matrix, got shape {w.shape}.")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"x must have its last axis of size d = {w.shape[1]} (prototypes' d), got shape {x.shape}.")


def winners(prototypes: Float[ArrayLike, "k d"], x: Float[ArrayLike, "*batch d"]) -> Int[Array, "*batch"]:
    """The winning unit for each input: ``argmin_k ||x - w_k||^2`` (ties: the lowest k).

    Args:
        prototypes: the K units' weight vectors, shape ``(K, d)``.
        x: inputs, shape ``(..., d)``.

    Returns:
        int32 indices in ``[0, K)``, shape ``x.shape[:-1]``.

    Raises:
        ValueError: if ``prototypes`` is not a non-empty ``(K, d)`` matrix or ``x``'s last axis
            is not ``d``.
    """
    w, x = jnp.asarray(as_float_array(prototypes)), jnp.asarray(as_float_array(x))
    _check_prototypes(w, x)
    return _nearest(w, x)


def _nearest(w: Array, x: Array) -> Array:
    d2 = jnp.sum((x[..., None, :] - w) ** 2, axis=-1)
    return jnp.argmin(d2, axis=-1).astype(jnp.int32)


def competitive_update(
    prototypes: Float[ArrayLike, "k d"],
    counts: Float[ArrayLike, " k"],
    x: Float[ArrayLike, " d"],
    *,
    learning_rate: float | None = None,
) -> tuple[Float[Array, "k d"], Float[Array, " k"]]:
    """One winner-take-all step for one input ``x``: only the winner k* moves towards ``x``.

        k* = argmin_k ||x - w_k||^2,   n_k* <- n_k* + 1,   w_k* <- w_k* + eta (x - w_k*),

    with ``eta = learning_rate`` or, if ``None``, ``eta = 1 / n_k*`` (the winner's running mean).
    Pure and jit/vmap-able.

    Args:
        prototypes: weights ``w``, shape ``(K, d)`` (units of x).
        counts: wins so far ``n``, shape ``(K,)``.
        x: one input, shape ``(d,)``.
        learning_rate: a constant ``eta`` in (0, 1], or ``None`` for ``1 / n_k*``.

    Returns:
        The new ``(prototypes, counts)``.

    Raises:
        ValueError: for shapes that do not match, a ``learning_rate`` outside (0, 1] or
            negative counts (at run time when traced).

    Example:
        >>> w, n = competitive_update(jnp.array([[0.0, 0.0], [2.0, 2.0]]), jnp.zeros(2), jnp.array([1.5, 1.0]))
        >>> w.tolist(), n.tolist()  # unit 1 won its first input: eta = 1
        ([[0.0, 0.0], [1.5, 1.0]], [0.0, 1.0])
    """
    w, n = jnp.asarray(as_float_array(prototypes)), jnp.asarray(as_float_array(counts))
    x = jnp.asarray(as_float_array(x))
    _check_prototypes(w, x)
    if x.shape != (w.shape[1],) or n.shape != (w.shape[0],):
        raise ValueError(
            f"competitive_update takes one input x of shape (d,) = ({w.shape[1]},) and counts of shape (K,) = "
            f"({w.shape[0]},); got x.shape = {x.shape}, counts.shape = {n.shape}."
        )
    n = check_range("counts", n, lower=0.0)
    if learning_rate is not None:
        learning_rate = check_range("learning_rate", learning_rate, lower=0.0, upper=1.0, lower_open=True)
    return _update(w, n, x, learning_rate)


def _update(w: Array, n: Array, x: Array, learning_rate: Any) -> tuple[Array, Array]:
    """``competitive_update`` without its checks (``fit_competitive`` checks once, not per sample)."""
    k = _nearest(w, x)
    n = n.at[k].add(1.0)
    eta = 1.0 / n[k] if learning_rate is None else learning_rate
    return w.at[k].add(eta * (x - w[k])), n


def kmeans_plus_plus(x: Float[ArrayLike, "n d"], n_clusters: int, *, key: PRNGKeyArray) -> Float[Array, "k d"]:
    """Initial prototypes by k-means++ seeding (Arthur & Vassilvitskii, 2007): the first a random
    input, each next one an input drawn with probability proportional to its squared distance
    from the nearest prototype chosen so far.

    Raises:
        ValueError: if ``x`` is not a non-empty ``(n, d)`` matrix or ``n_clusters`` is not an
            int in ``[1, n]``.
    """
    x = as_float_array(x)
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(f"x must be a non-empty (n, d) matrix, got shape {x.shape}.")
    n_clusters = check_int("n_clusters", n_clusters, 1)
    if n_clusters > x.shape[0]:
        raise ValueError(f"n_clusters must be <= the number of inputs {x.shape[0]}, got {n_clusters}.")
    keys = jr.split(key, n_clusters)
    first = x[jr.randint(keys[0], (), 0, x.shape[0])]
    w = jnp.zeros((n_clusters, x.shape[1]), x.dtype).at[0].set(first)
    d2 = jnp.sum((x - first) ** 2, axis=-1)

    def add(i, carry):
        w, d2 = carry
        p = d2 / jnp.maximum(jnp.sum(d2), jnp.finfo(x.dtype).tiny)
        c = x[jr.choice(keys[i], x.shape[0], p=p)]
        return w.at[i].set(c), jnp.minimum(d2, jnp.sum((x - c) ** 2, axis=-1))

    w, _ = jax.lax.fori_loop(1, n_clusters, add, (w, d2))
    return w


class CompetitiveResult(NamedTuple):
    """What ``fit_competitive`` returns."""

    prototypes: Float[Array, "k d"]
    """The learned weight vectors, one per unit (category centre), shape ``(K, d)``."""
    labels: Int[Array, " n"]
    """The winning unit of each training input, shape ``(n,)``."""
    inertia: Float[Array, ""]
    """``sum_i ||x_i - w_(label_i)||^2``, the k-means objective."""


def fit_competitive(
    x: Float[ArrayLike, "n d"],
    n_clusters: int,
    *,
    key: PRNGKeyArray,
    epochs: int = 10,
    learning_rate: float | None = None,
) -> CompetitiveResult:
    """Cluster inputs by competitive learning: ``epochs`` passes of ``competitive_update``.

    The prototypes start from k-means++ seeding (``kmeans_plus_plus``); each epoch presents the
    inputs once in a random order, one ``competitive_update`` per input, all in one
    ``lax.scan``.  With ``learning_rate=None`` the win counts accumulate over the epochs, so that
    each prototype is the running mean of every input it has won (online k-means); later epochs,
    with the partition settled, dilute the early wins.  Jit- and vmap-able (vmap over ``key``
    for restarts).

    Args:
        x: inputs, shape ``(n, d)``.
        n_clusters: K (>= 1, <= n).
        key: PRNG key (seeding and the presentation order).
        epochs: passes over the data (>= 1).
        learning_rate: constant ``eta`` in (0, 1], or ``None`` for ``1 / n_k``.

    Returns:
        A ``CompetitiveResult`` (prototypes, labels, inertia).

    Raises:
        ValueError: for ``x`` not of shape ``(n, d)``, or an argument outside its range.

    Example:
        >>> x = jnp.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
        >>> r = fit_competitive(x, 2, key=jax.random.key(0))
        >>> sorted(np.round(np.asarray(r.prototypes, np.float64), 2).tolist())
        [[0.05, 0.0], [5.05, 5.0]]

    References:
        D. E. Rumelhart and D. Zipser (1985), "Feature discovery by competitive learning",
        Cognitive Science 9.  J. MacQueen (1967), "Some methods for classification and analysis
        of multivariate observations", Proc. 5th Berkeley Symposium.
    """
    x = as_float_array(x)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, d), got shape {x.shape}.")
    n_clusters = check_int("n_clusters", n_clusters, 1)
    if n_clusters > x.shape[0]:
        raise ValueError(f"n_clusters must be <= the number of inputs {x.shape[0]}, got {n_clusters}.")
    epochs = check_int("epochs", epochs, 1)
    if learning_rate is not None:
        learning_rate = check_range("learning_rate", learning_rate, lower=0.0, upper=1.0, lower_open=True)
    k_init, k_order = jr.split(key)
    w = kmeans_plus_plus(x, n_clusters, key=k_init)

    def sample(carry, xi):
        w, n = carry
        return _update(w, n, xi, learning_rate), None

    def epoch(carry, k):
        order = jr.permutation(k, x.shape[0])
        carry, _ = jax.lax.scan(sample, carry, x[order])
        return carry, None

    (w, _), _ = jax.lax.scan(epoch, (w, jnp.zeros(n_clusters, x.dtype)), jr.split(k_order, epochs))
    labels = winners(w, x)
    inertia = jnp.sum((x - w[labels]) ** 2)
    return CompetitiveResult(w, labels, inertia)


def adjusted_rand_index(
    labels_true: Int[ArrayLike, " n"] | Sequence[int], labels_pred: Int[ArrayLike, " n"] | Sequence[int]
) -> float:
    """The adjusted Rand index of two partitions (Hubert & Arabie, 1985), from their contingency table.

        ARI = (sum_ij C(n_ij, 2) - E) / ((sum_i C(a_i, 2) + sum_j C(b_j, 2)) / 2 - E),
        E = sum_i C(a_i, 2) sum_j C(b_j, 2) / C(n, 2),

    with ``n_ij`` the inputs in class i of one partition and j of the other, ``a_i``, ``b_j``
    the row and column sums and ``C(m, 2) = m (m - 1) / 2``.  1 for identical partitions (up to
    renaming), about 0 for independent ones.  Computed on the host (numpy, float64).

    Args:
        labels_true: one label per input (any integers), shape ``(n,)``: an integer array or a
            list of ints.
        labels_pred: the other labels, shape ``(n,)``.

    Returns:
        The index (a Python float; 1.0 when both partitions are a single class or all singletons).

    Raises:
        ValueError: if the shapes differ or are not 1-D.

    Example:
        >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]), 6)  # 4/7
        0.571429

    References:
        L. Hubert and P. Arabie (1985), "Comparing partitions", Journal of Classification 2.
    """
    a, b = np.asarray(labels_true), np.asarray(labels_pred)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"labels_true and labels_pred must be 1-D of the same length, got {a.shape} and {b.shape}.")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max(initial=-1) + 1, ib.max(initial=-1) + 1))
    np.add.at(table, (ia, ib), 1.0)

    def pairs(m: np.ndarray) -> float:
        return float(np.sum(m * (m - 1.0) / 2.0))

    index = pairs(table)
    sum_a, sum_b = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    total = a.size * (a.size - 1.0) / 2.0
    expected = sum_a * sum_b / total if total > 0 else 0.0
    maximum = (sum_a + sum_b) / 2.0
    if maximum == expected:  # both trivial partitions (one class, or all singletons)
        return 1.0
    return (index - expected) / (maximum - expected)


__all__ = [
    "CompetitiveResult",
    "adjusted_rand_index",
    "competitive_update",
    "fit_competitive",
    "kmeans_plus_plus",
    "winners",
]

"""Classification metrics on arrays (jit-compatible)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Int

from .._misc import check_int


def confusion_matrix(
    labels: Int[ArrayLike, " n"], predictions: Int[ArrayLike, " n"], num_classes: int
) -> Int[Array, "k k"]:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as class ``j``.

    Args:
        labels: true classes in ``[0, num_classes)``.
        predictions: predicted classes in ``[0, num_classes)``, same shape as ``labels``.
        num_classes: K (>= 1).

    Returns:
        An int32 ``(K, K)`` matrix; its trace over its sum is the accuracy.

    Raises:
        ValueError: shapes differ, inputs are not 1-D integer arrays, or ``num_classes < 1``.
    """
    labels, predictions = jnp.asarray(labels), jnp.asarray(predictions)
    check_int("num_classes", num_classes, numpy=False)
    if labels.ndim != 1 or labels.shape != predictions.shape:
        raise ValueError(
            "labels and predictions must be 1-D with the same shape, "
            f"got shapes {labels.shape} and {predictions.shape}."
        )
    if not (jnp.issubdtype(labels.dtype, jnp.integer) and jnp.issubdtype(predictions.dtype, jnp.integer)):
        raise ValueError(f"labels and predictions must be integer arrays, got {labels.dtype} and {predictions.dtype}.")
    flat = labels * num_classes + predictions
    # out-of-range indices are dropped by the scatter's mode="drop"
    counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[flat].add(1, mode="drop")
    return counts.reshape(num_classes, num_classes)

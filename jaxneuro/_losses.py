"""Loss functions (notes ch. 2.3): squared error, binary and categorical cross-entropy.

Each loss is written for one sample: arrays positional, options keyword-only, and it
returns a scalar (the sum over the sample's output elements).  The dataset cost of the
notes, ``E = 1/N sum_i L(y_i, t_i)``, is ``mean_loss(loss, ys, ts)``, which vmaps the
per-sample loss over a leading batch axis.

Validation: shape mismatches and non-integer labels raise ``ValueError`` at trace time;
probabilities or targets outside [0, 1] and labels outside [0, K) raise ``ValueError`` for
concrete arrays and fail at run time (``eqx.error_if``) for traced ones.  NaN is passed
through unchecked, so a diverging network shows up as a NaN loss that a training loop can
report (rather than as an error inside the loss).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._activations import check_axis
from ._custom_types import ParamArray
from ._misc import as_float_array, check_range, is_concrete


def _same_shape(fn: str, y_name: str, y: ParamArray, t_name: str, t: ParamArray) -> None:
    if y.shape != t.shape:
        raise ValueError(
            f"{fn}: {y_name} and {t_name} must have the same shape; "
            f"got {y_name}.shape = {y.shape} and {t_name}.shape = {t.shape}."
        )


def _check_unit_interval(fn: str, name: str, x: ParamArray) -> ParamArray:
    """Every element of ``x`` in [0, 1] (NaN passes; see the module docstring)."""
    msg = f"{fn}: {name} must lie in [0, 1] (probabilities)"
    if is_concrete(x):
        arr = np.asarray(x, dtype=np.float64)
        bad = (arr < 0) | (arr > 1)
        if np.any(bad):
            shown = arr[bad] if arr.ndim else arr
            raise ValueError(f"{msg}; got values {np.array2string(shown, threshold=6)}.")
        return x
    return eqx.error_if(x, jnp.any((x < 0) | (x > 1)), f"{msg}; a traced value was outside it.")


def _clip_keep_grad(y: ArrayLike, lo: Any, hi: Any) -> Array:
    """``clip(y, lo, hi)`` in value, with derivative 1 (so the loss's gradient is the formula's
    gradient at the clipped point rather than 0)."""
    y = jnp.asarray(y)
    return y + jax.lax.stop_gradient(jnp.clip(y, lo, hi) - y)


def _eps(dtype: Any, eps: float | None, upper: float) -> Any:
    """The clipping margin: ``eps`` checked to lie in ``[0, upper)`` (a margin of ``upper`` or
    more would clip every probability to one constant), default the dtype's epsilon."""
    if eps is None:
        return jnp.finfo(dtype).eps
    return check_range("eps", eps, lower=0.0, upper=upper, upper_open=True)


def mse(y: Float[ArrayLike, "*shape"], t: Float[ArrayLike, "*shape"]) -> Float[Array, ""]:
    """Squared error of one sample (notes ch. 2.3.1): ``L(y, t) = 1/2 ||y - t||_2^2``.

    Summed over all elements of the sample; ``mean_loss(mse, ys, ts)`` is the notes'
    ``E = 1/N sum_i L(y_i, t_i)``.  Equals ``sum(optax.l2_loss(y, t))``.

    Args:
        y: network output.
        t: target, same shape as ``y``.

    Returns:
        A scalar, in the squared units of ``y``.

    Raises:
        ValueError: if ``y`` and ``t`` differ in shape.
    """
    y, t = as_float_array(y), as_float_array(t)
    _same_shape("mse", "y", y, "t", t)
    return 0.5 * jnp.sum((y - t) ** 2)


def binary_cross_entropy(
    y: Float[ArrayLike, "*shape"], t: Float[ArrayLike, "*shape"], *, eps: float | None = None
) -> Float[Array, ""]:
    """Bernoulli cross-entropy on probabilities (notes ch. 2.3.2):

        L(y, t) = -sum_k [t_k log y_k + (1 - t_k) log(1 - y_k)],

    the negative log-likelihood of targets ``t`` under independent Bernoulli outputs ``y``
    (summed over the sample's elements).  ``y`` is clipped to ``[eps, 1 - eps]`` so the value
    is finite at ``y in {0, 1}`` (at most ``-log(eps)`` per element); the gradient is the
    formula's, ``-t/y + (1 - t)/(1 - y)``, at the clipped point, so it is finite and still
    points the right way when ``y`` saturates.  Prefer ``binary_cross_entropy_with_logits``
    when the output comes from a logistic: it needs no clipping.

    Args:
        y: predicted probabilities, in [0, 1].
        t: targets in [0, 1] (0/1 labels or soft targets), same shape as ``y``.
        eps: clipping margin in [0, 0.5); default the machine epsilon of ``y``'s dtype
            (1.19e-7 for float32, 2.2e-16 for float64).

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: if the shapes differ, concrete ``y`` or ``t`` lie outside [0, 1], or
            ``eps`` is outside [0, 0.5) (traced values fail at run time).
    """
    y, t = as_float_array(y), as_float_array(t)
    _same_shape("binary_cross_entropy", "y", y, "t", t)
    y = _check_unit_interval("binary_cross_entropy", "y", y)
    t = _check_unit_interval("binary_cross_entropy", "t", t)
    e = _eps(y.dtype, eps, 0.5)
    yc = _clip_keep_grad(y, e, 1.0 - e)
    return -jnp.sum(t * jnp.log(yc) + (1.0 - t) * jnp.log1p(-yc))


def binary_cross_entropy_with_logits(z: Float[ArrayLike, "*shape"], t: Float[ArrayLike, "*shape"]) -> Float[Array, ""]:
    """Bernoulli cross-entropy on logits ``z`` (with ``y = sigma(z)``, the logistic):

        L(z, t) = -sum_k [t_k log sigma(z_k) + (1 - t_k) log(1 - sigma(z_k))]
                = sum_k [softplus(z_k) - t_k z_k],   softplus(z) = log(1 + e^z).

    The softplus is evaluated as ``max(z, 0) + log1p(e^(-|z|))`` (``jax.nn.softplus``), so it
    never overflows and needs no clipping: value and gradient
    (``sigma(z) - t``) are finite for any finite logit, e.g. +-1e4.  Equals
    ``sum(optax.sigmoid_binary_cross_entropy(z, t))``.

    Args:
        z: logits (any real numbers).
        t: targets in [0, 1], same shape as ``z``.

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: if the shapes differ, or a concrete ``t`` lies outside [0, 1].
    """
    z, t = as_float_array(z), as_float_array(t)
    _same_shape("binary_cross_entropy_with_logits", "z", z, "t", t)
    t = _check_unit_interval("binary_cross_entropy_with_logits", "t", t)
    return jnp.sum(jax.nn.softplus(z) - t * z)


def categorical_cross_entropy(
    y: Float[ArrayLike, "*shape"], t: Float[ArrayLike, "*shape"], *, eps: float | None = None
) -> Float[Array, ""]:
    """Categorical (multinoulli) cross-entropy on probabilities (notes ch. 2.3.3):

        L(y, t) = -sum_k t_k log y_k,

    for a predicted distribution ``y`` over the classes (e.g. a softmax output) and a target
    ``t`` that is one-hot or a distribution (summed over all elements, so extra axes are
    summed too).  ``y`` is clipped below at ``eps`` so the value is finite at ``y_k = 0``;
    the gradient ``-t_k / y_k`` is taken at the clipped point.  Equals
    ``optax.softmax_cross_entropy(log(y), t)`` when ``y`` sums to 1.  Prefer
    ``categorical_cross_entropy_with_logits`` on the softmax's input.

    Args:
        y: predicted probabilities in [0, 1] (summing to 1 over the classes; not checked).
        t: target probabilities in [0, 1], same shape as ``y``.
        eps: clipping margin in [0, 1); default the machine epsilon of ``y``'s dtype.

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: if the shapes differ, concrete ``y`` or ``t`` lie outside [0, 1], or
            ``eps`` is outside [0, 1).
    """
    y, t = as_float_array(y), as_float_array(t)
    _same_shape("categorical_cross_entropy", "y", y, "t", t)
    y = _check_unit_interval("categorical_cross_entropy", "y", y)
    t = _check_unit_interval("categorical_cross_entropy", "t", t)
    yc = _clip_keep_grad(y, _eps(y.dtype, eps, 1.0), 1.0)
    return -jnp.sum(t * jnp.log(yc))


def log_softmax(z: Float[ArrayLike, "*shape"], *, axis: int = -1) -> Float[Array, "*shape"]:
    """``log softmax(z)_i = z_i - log sum_j e^(z_j)``, by the stable log-sum-exp.

    ``m = max_j z_j`` is subtracted before exponentiating, so logits of 1e4 are safe.

    Raises:
        ValueError: if ``z`` is a scalar, or ``axis`` is out of range or empty.
    """
    z = jnp.asarray(as_float_array(z))  # not a host scalar: check_axis rejects 0-d
    axis = check_axis("log_softmax", z, axis)
    m = jax.lax.stop_gradient(jnp.max(z, axis=axis, keepdims=True))
    shifted = z - m
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def categorical_cross_entropy_with_logits(
    z: Float[ArrayLike, "*shape"], t: Float[ArrayLike, "*shape"], *, axis: int = -1
) -> Float[Array, ""]:
    """Categorical cross-entropy on logits: ``L(z, t) = -sum_k t_k log softmax(z)_k``.

    Computed with the stable ``log_softmax``, so value and gradient
    (``softmax(z) - t`` for a target that sums to 1) are finite for any finite logits.
    Equals ``optax.softmax_cross_entropy(z, t)`` (summed over any extra axes).

    Args:
        z: logits, classes along ``axis``.
        t: target probabilities in [0, 1] (one-hot or a distribution), same shape as ``z``.
        axis: the class axis.

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: if the shapes differ, ``axis`` is invalid, or a concrete ``t`` lies
            outside [0, 1].
    """
    z, t = as_float_array(z), as_float_array(t)
    _same_shape("categorical_cross_entropy_with_logits", "z", z, "t", t)
    t = _check_unit_interval("categorical_cross_entropy_with_logits", "t", t)
    return -jnp.sum(t * log_softmax(z, axis=axis))


def categorical_cross_entropy_with_integer_labels(
    z: Float[ArrayLike, "*batch classes"], label: Int[ArrayLike, "*batch"]
) -> Float[Array, ""]:
    """Categorical cross-entropy on logits with an integer class label:

        L(z, k) = -log softmax(z)_k = log sum_j e^(z_j) - z_k,

    the same as ``categorical_cross_entropy_with_logits(z, one_hot_of(k))`` without building
    the one-hot target.  Classes are on the last axis of ``z``; any leading axes must match
    ``label``'s shape and are summed.  Equals
    ``optax.softmax_cross_entropy_with_integer_labels(z, label)``.

    Args:
        z: logits, shape ``(*batch, K)``.
        label: class indices in ``[0, K)``, integer dtype, shape ``batch``.

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: if ``label`` is not an integer array, its shape is not ``z.shape[:-1]``,
            or a concrete label is outside ``[0, K)`` (traced labels fail at run time).
    """
    fn = "categorical_cross_entropy_with_integer_labels"
    z = as_float_array(z)
    label = jnp.asarray(label)
    if not jnp.issubdtype(label.dtype, jnp.integer):
        raise ValueError(f"{fn}: label must be an integer array (class indices), got dtype {label.dtype}.")
    if z.ndim == 0 or label.shape != z.shape[:-1]:
        raise ValueError(
            f"{fn}: label.shape must equal z.shape[:-1] (z holds K classes on its last axis); "
            f"got z.shape = {z.shape} and label.shape = {label.shape}."
        )
    k = z.shape[-1]
    if k == 0:
        raise ValueError(f"{fn}: z needs at least one class on its last axis; got z.shape = {z.shape}.")
    msg = f"{fn}: label must be a class index in [0, {k - 1}] (K = {k} classes)"
    if is_concrete(label):
        arr = np.asarray(label)
        bad = (arr < 0) | (arr >= k)
        if np.any(bad):
            raise ValueError(f"{msg}; got label = {np.array2string(arr[bad] if arr.ndim else arr, threshold=6)}.")
    else:
        label = eqx.error_if(label, jnp.any((label < 0) | (label >= k)), f"{msg}; a traced label was outside it.")
    logp = log_softmax(z, axis=-1)
    return -jnp.sum(jnp.take_along_axis(logp, jnp.asarray(label)[..., None], axis=-1))


def mean_loss(
    loss_fn: Callable[..., Array],
    ys: Float[ArrayLike, " n *shape"],
    ts: ArrayLike,
    **options: Any,
) -> Float[Array, ""]:
    """The dataset cost ``E = 1/N sum_i L(y_i, t_i)`` (notes ch. 2.3) of a per-sample loss.

    ``loss_fn`` is vmapped over the leading axis of ``ys`` and ``ts`` (one sample per row)
    and the results are averaged; keyword ``options`` are passed to ``loss_fn``.

    Args:
        loss_fn: a per-sample loss such as ``mse`` or ``categorical_cross_entropy_with_logits``.
        ys: outputs (or logits), shape ``(N, ...)``.
        ts: targets (or labels), shape ``(N, ...)``.
        **options: keyword options of ``loss_fn`` (e.g. ``eps``, ``axis``).

    Returns:
        A scalar: the mean of the ``N`` per-sample losses.

    Raises:
        ValueError: if ``loss_fn`` is not callable, ``ys`` or ``ts`` has no leading axis, the batch sizes differ or the
            batch is empty (and whatever ``loss_fn`` raises for one sample).
    """
    if not callable(loss_fn):
        raise ValueError(f"mean_loss: loss_fn must be a callable per-sample loss (e.g. jaxneuro.mse), got {loss_fn!r}.")
    ys, ts = jnp.asarray(ys), jnp.asarray(ts)
    if ys.ndim == 0 or ts.ndim == 0:
        raise ValueError(
            f"mean_loss: ys and ts need a leading batch axis; got ys.shape = {ys.shape}, ts.shape = {ts.shape}."
        )
    if ys.shape[0] != ts.shape[0]:
        raise ValueError(
            f"mean_loss: ys and ts must hold the same number of samples N (leading axis); "
            f"got ys.shape = {ys.shape} and ts.shape = {ts.shape}."
        )
    if ys.shape[0] == 0:
        raise ValueError("mean_loss: the batch is empty (N = 0); the mean needs at least one sample.")
    per_sample = jax.vmap(lambda y, t: loss_fn(y, t, **options))(ys, ts)
    return jnp.mean(per_sample)


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "categorical_cross_entropy_with_integer_labels",
    "categorical_cross_entropy_with_logits",
    "log_softmax",
    "mean_loss",
    "mse",
]

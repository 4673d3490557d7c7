"""Activation functions (notes ch. 1.5): single-neuron and multi-neuron (softmax, one-hot).

Every function is elementwise (or, for softmax and one-hot, works along one axis) and
accepts any shape, so it applies to one sample or to a batch alike.  ``get_activation``
maps the names used by ``MLP`` and the training configs to these functions.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import ParamArray
from ._misc import as_float_array, check_range
from ._neurons._lif import lif_rate
from ._neurons._soft_lif import soft_lif_rate


def identity(z: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
    """The identity (linear) activation ``y = z``, used for regression outputs."""
    return jnp.asarray(as_float_array(z))


def logistic(z: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
    """Logistic sigmoid ``sigma(z) = 1 / (1 + e^-z)``, in (0, 1).

    Evaluated without overflow for any finite ``z`` (``jax.nn.sigmoid``); its derivative is
    ``sigma(z) (1 - sigma(z))``.
    """
    return jax.nn.sigmoid(as_float_array(z))


def tanh(z: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
    """Hyperbolic tangent ``tanh(z) = (e^z - e^-z) / (e^z + e^-z) = 2 sigma(2z) - 1``, in (-1, 1)."""
    return jnp.tanh(as_float_array(z))


def relu(z: Float[ArrayLike, "*shape"]) -> Float[Array, "*shape"]:
    """Rectified linear unit ``ReLU(z) = max(0, z)`` (notes ch. 1.5).

    The derivative is taken as 0 at ``z = 0`` (as in ``jax.nn.relu``).
    """
    return jax.nn.relu(as_float_array(z))


def leaky_relu(
    z: Float[ArrayLike, "*shape"], *, negative_slope: float | Float[ArrayLike, ""] = 0.01
) -> Float[Array, "*shape"]:
    """Leaky ReLU (notes ch. 1.5): ``z`` for ``z >= 0`` and ``negative_slope * z`` below.

    Args:
        z: input drive.
        negative_slope: slope for ``z < 0``, in [0, 1] (0 gives ReLU, 1 the identity).

    Returns:
        The activation, same shape as ``z``.

    Raises:
        ValueError: if a concrete ``negative_slope`` is outside [0, 1] or not finite.
    """
    z = as_float_array(z)
    slope = check_range("negative_slope", as_float_array(negative_slope), lower=0.0, upper=1.0)
    return jnp.where(z >= 0, z, slope * z)


def check_axis(name: str, z: ParamArray, axis: int) -> int:
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise ValueError(f"{name}: axis must be an int, got {axis!r}.")
    if z.ndim == 0:
        raise ValueError(f"{name} needs an input with at least one axis, got a scalar (shape ()).")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(
            f"{name}: axis must be in [{-z.ndim}, {z.ndim - 1}] for an input of shape {z.shape}, got axis = {axis}."
        )
    if z.shape[axis] == 0:
        raise ValueError(f"{name}: axis {axis} of the input (shape {z.shape}) is empty; it needs at least 1 element.")
    return int(axis)


def softmax(z: Float[ArrayLike, "*shape"], *, axis: int = -1) -> Float[Array, "*shape"]:
    """SoftMax along ``axis`` (notes ch. 1.5): ``softmax(z)_i = e^(z_i) / sum_j e^(z_j)``.

    The output is a probability vector (non-negative, summing to 1 along ``axis``).  The
    maximum is subtracted first (``e^(z_i - m) / sum_j e^(z_j - m)``, the value is
    unchanged), so no exponential overflows, even for logits of 1e4.  Example from the notes:
    ``softmax([0.6, 3.4, -1.2, 0.05]) = [0.0550, 0.9042, 0.0091, 0.0317]``.

    Args:
        z: the drives (logits).
        axis: the axis that holds the neurons of one population.

    Returns:
        Same shape as ``z``.

    Raises:
        ValueError: if ``z`` is a scalar, or ``axis`` is out of range or empty.
    """
    z = as_float_array(z)
    axis = check_axis("softmax", z, axis)
    # The shift does not change the value; stopping its gradient keeps the derivative exact
    # and avoids differentiating through the max.
    m = jax.lax.stop_gradient(jnp.max(z, axis=axis, keepdims=True))
    e = jnp.exp(z - m)
    return e / jnp.sum(e, axis=axis, keepdims=True)


def one_hot(z: Float[ArrayLike, "*shape"], *, axis: int = -1) -> Float[Array, "*shape"]:
    """One-hot of the argmax along ``axis`` (notes ch. 1.5), the limit of softmax(z / T) as T -> 0.

    The largest element becomes 1 and every other 0; on ties the first maximum wins (as in
    ``jnp.argmax``).  Example: ``one_hot([0.6, 3.4, -1.2, 0.05]) = [0, 1, 0, 0]``.  The
    function is piecewise constant, so its gradient is zero.

    Args:
        z: the drives.
        axis: the axis that holds the neurons of one population.

    Returns:
        A float array of the same shape as ``z``.

    Raises:
        ValueError: if ``z`` is a scalar, or ``axis`` is out of range or empty.
    """
    z = as_float_array(z)
    axis = check_axis("one_hot", z, axis)
    k = jnp.argmax(z, axis=axis, keepdims=True)
    idx = jax.lax.broadcasted_iota(jnp.int32, z.shape, axis % z.ndim)
    return (idx == k).astype(z.dtype)


# The LIF rate as an activation.  The drive z of a dense layer is mapped to the normalised
# LIF input v_in = z + input_offset and the rate (Hz) is scaled by ``amplitude`` (s).
LIF_INPUT_OFFSET = 1.0
"""Default ``input_offset``: ``v_in = z + 1`` puts the firing threshold at ``z = 0`` (as ReLU's
kink), so a layer initialised for ReLU starts with about half of its units firing."""
LIF_AMPLITUDE = 0.01
"""Default ``amplitude`` in s: a rate of 100 Hz becomes an activation of 1 (as nengo-dl's
spiking-MNIST example, ``nengo.LIF(amplitude=0.01)``); the maximum is ``amplitude / tau_ref``."""


def lif_activation(
    z: Float[ArrayLike, "*shape"],
    *,
    tau_m: float = 0.02,
    tau_ref: float = 0.002,
    input_offset: float = LIF_INPUT_OFFSET,
    amplitude: float = LIF_AMPLITUDE,
) -> Float[Array, "*shape"]:
    """The exact LIF tuning curve as an activation: ``y = amplitude * lif_rate(z + input_offset)``.

        y = amplitude / (tau_ref + tau_m log(1 + 1/(z + input_offset - 1)))  if z + input_offset > 1,
        y = 0                                                              otherwise.

    With the defaults (``input_offset = 1``, ``amplitude = 0.01`` s, ``tau_m = 0.02`` s,
    ``tau_ref = 0.002`` s) the output is 0 for ``z <= 0``, grows like ``z / 2`` for moderate
    ``z`` (since ``lif_rate(1 + z) ~ z / tau_m`` for ``tau_m / z >> tau_ref``) and saturates at
    ``amplitude / tau_ref = 5``.  The gradient is 0 below threshold (like ReLU) and unbounded
    just above it; to train through it, use ``soft_lif_activation`` and swap this in afterwards.

    Args:
        z: the drive (dimensionless).
        tau_m: membrane time constant in s (> 0).
        tau_ref: refractory period in s (> 0).
        input_offset: added to ``z`` to give the normalised LIF input ``v_in`` (finite).
        amplitude: output scale in s (> 0): the activation is ``amplitude`` times the rate in Hz.

    Returns:
        Same shape as ``z``; dimensionless.

    Raises:
        ValueError: for a concrete parameter outside its range.
    """
    offset = check_range("input_offset", as_float_array(input_offset))
    amp = check_range("amplitude", as_float_array(amplitude), lower=0.0, lower_open=True, unit="s")
    return lif_rate(as_float_array(z) + offset, tau_m, tau_ref) * amp


def soft_lif_activation(
    z: Float[ArrayLike, "*shape"],
    *,
    tau_m: float = 0.02,
    tau_ref: float = 0.002,
    gamma: float = 0.03,
    input_offset: float = LIF_INPUT_OFFSET,
    amplitude: float = LIF_AMPLITUDE,
) -> Float[Array, "*shape"]:
    """The soft LIF rate as an activation: ``y = amplitude * soft_lif_rate(z + input_offset, gamma=gamma)``.

    Same scaling as ``lif_activation``, which it approaches from above as ``gamma -> 0``
    (``lif_activation(z) <= soft_lif_activation(z) <= lif_activation(max(z, -input_offset + 1)
    + gamma ln 2)``; see ``soft_lif_rate``), but with a continuous, positive derivative
    everywhere, so networks of these units train with gradient descent (Hunsberger &
    Eliasmith, 2015).

    Args:
        z: the drive (dimensionless).
        tau_m, tau_ref: LIF time constants in s (> 0).
        gamma: smoothing width (> 0), in units of the normalised input.
        input_offset: added to ``z`` to give the normalised LIF input (finite).
        amplitude: output scale in s (> 0).

    Returns:
        Same shape as ``z``; dimensionless.

    Raises:
        ValueError: for a concrete parameter outside its range.

    References:
        E. Hunsberger and C. Eliasmith (2015), "Spiking deep networks with LIF neurons",
        arXiv:1510.08829.
    """
    offset = check_range("input_offset", as_float_array(input_offset))
    amp = check_range("amplitude", as_float_array(amplitude), lower=0.0, lower_open=True, unit="s")
    return soft_lif_rate(as_float_array(z) + offset, tau_m, tau_ref, gamma=gamma) * amp


_ACTIVATIONS: dict[str, Callable[..., Array]] = {
    "identity": identity,
    "logistic": logistic,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "softmax": softmax,
    "one_hot": one_hot,
    "lif": lif_activation,
    "soft_lif": soft_lif_activation,
}

ACTIVATION_NAMES: tuple[str, ...] = tuple(_ACTIVATIONS)
"""The names ``get_activation`` (and ``MLP``) accept."""


def get_activation(name: str | Callable[..., Array]) -> Callable[..., Array]:
    """The activation function called ``name``; a callable is returned unchanged.

    Names: "identity", "logistic", "tanh", "relu", "leaky_relu" (slope 0.01), "softmax" (last
    axis), "one_hot", "lif" (``lif_activation``: ``0.01 * lif_rate(z + 1)``) and "soft_lif"
    (``soft_lif_activation``, gamma 0.03).  For other settings pass a callable, e.g.
    ``functools.partial(leaky_relu, negative_slope=0.1)``.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    if callable(name):
        return name
    if isinstance(name, str) and name in _ACTIVATIONS:
        return _ACTIVATIONS[name]
    valid = ", ".join(repr(n) for n in ACTIVATION_NAMES)
    raise ValueError(f"activation must be a callable or one of {valid}; got {name!r}.")


__all__ = [
    "ACTIVATION_NAMES",
    "get_activation",
    "identity",
    "leaky_relu",
    "lif_activation",
    "logistic",
    "one_hot",
    "relu",
    "soft_lif_activation",
    "softmax",
    "tanh",
]

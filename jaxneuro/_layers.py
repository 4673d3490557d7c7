"""Dense layers and multilayer perceptrons (notes ch. 1.7 and 2.1).

A population Y of M neurons fully connected from a population X of N neurons receives the
drive ``z = W x + b`` with ``W in R^(M x N)`` and biases ``b in R^M``; its activity is
``y = sigma(z)``.  With the augmented weight matrix ``W_hat = [W | b]`` the same drive is
``W_hat [x; 1]``.  Layers are written for one sample; batch with ``jax.vmap``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._activations import get_activation
from ._custom_types import ParamArray
from ._misc import as_float_array, check_int, default_float


def augment(x: Float[ArrayLike, " n"]) -> Float[Array, " n+1"]:
    """Append a constant 1 to an input vector: ``[x; 1]`` (notes ch. 1.7).

    With it, ``W x + b = [W | b] [x; 1]``: the bias is the weight from an always-on input.

    Raises:
        ValueError: if ``x`` is not a vector.
    """
    x = as_float_array(x)
    if x.ndim != 1:
        raise ValueError(f"augment expects a vector x of shape (n,), got shape {x.shape}.")
    return jnp.concatenate([x, jnp.ones((1,), x.dtype)])


class Dense(eqx.Module):
    """A fully connected layer ``z = W x + b`` from ``in_size`` to ``out_size`` neurons.

    Attributes:
        weight: ``W``, shape ``(out_size, in_size)``; ``W[i, j]`` is the weight from input
            neuron ``j`` to output neuron ``i``.
        bias: ``b``, shape ``(out_size,)``.

    Initialisation (``Dense(in_size, out_size, key=...)``): every entry of ``W`` and ``b``
    is drawn independently from ``U(-1/sqrt(in_size), 1/sqrt(in_size))``, the default of
    ``equinox.nn.Linear`` and ``torch.nn.Linear``; then ``Var(z_i) = |x|^2 / (3 in_size) +
    1/(3 in_size)`` stays of order 1 for inputs of order 1.  Build a layer from given
    weights with ``Dense.from_weights(W, b)``.
    """

    weight: Float[ParamArray, "out_size in_size"] = eqx.field(converter=as_float_array)
    bias: Float[ParamArray, " out_size"] = eqx.field(converter=as_float_array)

    def __init__(self, in_size: int, out_size: int, *, key: PRNGKeyArray, dtype: Any = None):
        """Args:
            in_size: number of input neurons N (>= 1).
            out_size: number of output neurons M (>= 1).
            key: a JAX PRNG key.
            dtype: floating dtype of the parameters (default float32, or float64 under x64).

        Raises:
            ValueError: if a size is not a positive int, or ``dtype`` is not a floating dtype.
        """
        check_int("in_size", in_size, numpy=False)
        check_int("out_size", out_size, numpy=False)
        dtype = default_float() if dtype is None else dtype
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"dtype must be a floating dtype (e.g. float32, float64), got dtype = {dtype!r}.")
        lim = 1.0 / math.sqrt(in_size)
        wkey, bkey = jr.split(key)
        self.weight = jr.uniform(wkey, (out_size, in_size), dtype, -lim, lim)
        self.bias = jr.uniform(bkey, (out_size,), dtype, -lim, lim)

    def __check_init__(self):
        if self.weight.ndim != 2:
            raise ValueError(
                f"Dense: weight must be a matrix of shape (out_size, in_size), got shape {self.weight.shape}."
            )
        if self.bias.shape != (self.weight.shape[0],):
            raise ValueError(
                f"Dense: bias must have shape (out_size,) = ({self.weight.shape[0]},) to match weight "
                f"of shape {self.weight.shape}, got shape {self.bias.shape}."
            )

    @classmethod
    def from_weights(
        cls, weight: Float[ArrayLike, "out_size in_size"], bias: Float[ArrayLike, " out_size"] | None = None
    ) -> "Dense":
        """A layer with the given ``W`` (shape ``(M, N)``) and ``b`` (shape ``(M,)``; default zeros).

        Raises:
            ValueError: if ``weight`` is not a non-empty matrix or ``bias`` has the wrong shape.
        """
        weight = as_float_array(weight)
        if weight.ndim != 2 or 0 in weight.shape:
            raise ValueError(
                f"Dense.from_weights: weight must be a non-empty (out_size, in_size) matrix, got shape {weight.shape}."
            )
        bias = jnp.zeros(weight.shape[:1], weight.dtype) if bias is None else as_float_array(bias)
        if bias.shape != weight.shape[:1]:
            raise ValueError(
                f"Dense.from_weights: bias must have shape (out_size,) = ({weight.shape[0]},) to match "
                f"weight of shape {weight.shape}, got shape {bias.shape}."
            )
        # The structure comes from the initialiser, traced abstractly (no random draw is
        # computed); its placeholder leaves are then replaced by the given arrays.
        template = eqx.filter_eval_shape(cls, weight.shape[1], weight.shape[0], key=jr.key(0), dtype=weight.dtype)
        return eqx.tree_at(lambda d: (d.weight, d.bias), template, (weight, bias.astype(weight.dtype)))

    @property
    def in_size(self) -> int:
        return self.weight.shape[1]

    @property
    def out_size(self) -> int:
        return self.weight.shape[0]

    def augmented_weight(self) -> Float[Array, "{self.out_size} {self.in_size}+1"]:
        """``W_hat = [W | b]``, shape ``(out_size, in_size + 1)``: ``W_hat @ augment(x) == W x + b``."""
        return jnp.concatenate([self.weight, self.bias[:, None]], axis=1)

    def __call__(self, x: Float[ArrayLike, " in_size"]) -> Float[Array, " out_size"]:
        """The drive ``z = W x + b`` for one input vector ``x`` of shape ``(in_size,)``.

        Raises:
            ValueError: if ``x`` does not have shape ``(in_size,)``.
        """
        x = jnp.asarray(x)
        if x.shape != (self.in_size,):
            raise ValueError(
                f"Dense: x must have shape (in_size,) = ({self.in_size},), got shape {x.shape} (batch with jax.vmap)."
            )
        return jnp.matmul(self.weight, x) + self.bias


class MLP(eqx.Module):
    """A multilayer perceptron: ``Dense`` layers with an activation after each (notes ch. 2.1).

        h_0 = x,   h_l = act(W_l h_(l-1) + b_l)  (l < L),   y = final_act(W_L h_(L-1) + b_L).

    Attributes:
        layers: the ``Dense`` layers, ``len(hidden_sizes) + 1`` of them.
        activation: hidden activation, a name accepted by ``get_activation`` or a callable.
        final_activation: output activation, likewise (default "identity": the output is
            the drive, e.g. logits for ``categorical_cross_entropy_with_logits``).
    """

    layers: tuple[Dense, ...]
    activation: str | Callable[..., Array] = eqx.field(static=True)
    final_activation: str | Callable[..., Array] = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        hidden_sizes: Sequence[int],
        activation: str | Callable[..., Array] = "relu",
        final_activation: str | Callable[..., Array] = "identity",
        *,
        key: PRNGKeyArray,
        dtype: Any = None,
    ):
        """Args:
            in_size: input dimension (>= 1).
            out_size: output dimension (>= 1).
            hidden_sizes: width of each hidden layer (each >= 1); ``()`` gives one layer.
            activation: hidden activation (name or callable).
            final_activation: output activation (name or callable).
            key: a JAX PRNG key, split once per layer.
            dtype: floating dtype of the parameters.

        Raises:
            ValueError: for a size that is not a positive int or an unknown activation name.
        """
        check_int("in_size", in_size, numpy=False)
        check_int("out_size", out_size, numpy=False)
        if isinstance(hidden_sizes, int) or not isinstance(hidden_sizes, Sequence):
            raise ValueError(f"hidden_sizes must be a sequence of positive ints, got {hidden_sizes!r}.")
        for i, h in enumerate(hidden_sizes):
            check_int(f"hidden_sizes[{i}]", h, numpy=False)
        get_activation(activation)
        get_activation(final_activation)
        sizes = [in_size, *hidden_sizes, out_size]
        keys = jr.split(key, len(sizes) - 1)
        self.layers = tuple(
            Dense(n, m, key=k, dtype=dtype) for n, m, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        )
        self.activation = activation
        self.final_activation = final_activation

    @classmethod
    def from_layers(
        cls,
        layers: Sequence[Dense],
        activation: str | Callable[..., Array] = "relu",
        final_activation: str | Callable[..., Array] = "identity",
    ) -> "MLP":
        """An MLP made of the given ``Dense`` layers (each layer's in_size must equal the
        previous layer's out_size).

        Raises:
            ValueError: if there are no layers, one is not a ``Dense`` or the sizes do not chain.
        """
        layers = tuple(layers)
        if not layers or not all(isinstance(layer, Dense) for layer in layers):
            raise ValueError("MLP.from_layers: layers must be a non-empty sequence of Dense layers.")
        for i in range(1, len(layers)):
            if layers[i].in_size != layers[i - 1].out_size:
                raise ValueError(
                    f"MLP.from_layers: layers[{i}].in_size = {layers[i].in_size} must equal "
                    f"layers[{i - 1}].out_size = {layers[i - 1].out_size}."
                )
        sizes = [layer.out_size for layer in layers[:-1]]
        # Structure from the initialiser, traced abstractly (nothing is computed).
        template = eqx.filter_eval_shape(
            cls, layers[0].in_size, layers[-1].out_size, sizes, activation, final_activation, key=jr.key(0)
        )
        return eqx.tree_at(lambda m: m.layers, template, layers)

    @property
    def in_size(self) -> int:
        return self.layers[0].in_size

    @property
    def out_size(self) -> int:
        return self.layers[-1].out_size

    def __call__(self, x: Float[ArrayLike, " in_size"]) -> Float[Array, " out_size"]:
        """The output for one input vector ``x`` of shape ``(in_size,)``.

        Raises:
            ValueError: if ``x`` does not have shape ``(in_size,)``.
        """
        act = get_activation(self.activation)
        h = jnp.asarray(x)
        for layer in self.layers[:-1]:
            h = act(layer(h))
        return get_activation(self.final_activation)(self.layers[-1](h))


__all__ = ["Dense", "MLP", "augment"]

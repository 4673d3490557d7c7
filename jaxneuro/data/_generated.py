"""Small data sets generated in code: XOR and a 1-D regression problem (notes ch. 2)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._misc import check_range


def xor() -> tuple[Float[Array, "4 2"], Float[Array, "4 1"]]:
    """The four XOR patterns of the notes (ch. 2): inputs in {0, 1}^2, target ``x1 XOR x2``.

    Returns:
        ``(x, t)``: inputs of shape ``(4, 2)`` and targets of shape ``(4, 1)`` in {0, 1}
        (float32 by default).
    """
    x = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = jnp.asarray([[0.0], [1.0], [1.0], [0.0]])
    return x, t


def _sine(x):
    return jnp.sin(2.0 * jnp.pi * x)


def _bump(x):
    return jnp.exp(-((x - 0.5) ** 2) / (2 * 0.1**2))


def _wave(x):
    # a smooth function with two scales, for a slightly harder fit
    return jnp.sin(2.0 * jnp.pi * x) + 0.5 * jnp.sin(6.0 * jnp.pi * x)


REGRESSION_FUNCTIONS: dict[str, Callable[[Array], Array]] = {
    "sine": _sine,
    "bump": _bump,
    "wave": _wave,
}
"""The 1-D target functions on [0, 1]: ``sine`` sin(2 pi x), ``bump`` exp(-(x - 1/2)^2 / 0.02),
``wave`` sin(2 pi x) + sin(6 pi x) / 2."""


def regression(
    n: int,
    *,
    function: str = "sine",
    noise: float = 0.0,
    grid: bool = False,
    key: PRNGKeyArray | None = None,
) -> tuple[Float[Array, "n 1"], Float[Array, "n 1"]]:
    """Samples of a 1-D function on [0, 1], ``t = f(x) + noise * N(0, 1)``.

    Args:
        n: number of samples (>= 1).
        function: one of ``REGRESSION_FUNCTIONS`` (``"sine"``, ``"bump"``, ``"wave"``).
        noise: standard deviation of the additive Gaussian noise on the targets (>= 0).
        grid: if True, ``x`` is the evenly spaced grid ``linspace(0, 1, n)`` (a test set);
            otherwise ``x ~ U[0, 1]`` drawn with ``key``.
        key: PRNG key; required unless ``grid`` is True and ``noise == 0``.

    Returns:
        ``(x, t)``, each of shape ``(n, 1)``.

    Raises:
        ValueError: for ``n < 1``, an unknown ``function``, ``noise < 0`` or a missing ``key``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got n = {n!r}.")
    if function not in REGRESSION_FUNCTIONS:
        raise ValueError(f"function must be one of {sorted(REGRESSION_FUNCTIONS)}, got function = {function!r}.")
    check_range("noise", noise, lower=0.0)
    if key is None and (not grid or noise > 0):
        raise ValueError("key is required for random inputs (grid=False) or noise > 0, got key = None.")
    if grid:
        x = jnp.linspace(0.0, 1.0, n)[:, None]
    else:
        key, sub = jax.random.split(key)
        x = jax.random.uniform(sub, (n, 1))
    t = REGRESSION_FUNCTIONS[function](x)
    if noise > 0:
        t = t + noise * jax.random.normal(key, t.shape)
    return x, t

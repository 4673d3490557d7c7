"""Small data sets generated in code: XOR, a 1-D regression problem (notes ch. 2) and Yin-Yang."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._misc import check_int, check_range


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


def _linear(x):
    # a known linear (affine) map, for linear regression: the least-squares fit recovers it
    return 1.5 * x - 0.5


REGRESSION_FUNCTIONS: dict[str, Callable[[Array], Array]] = {
    "sine": _sine,
    "bump": _bump,
    "wave": _wave,
    "linear": _linear,
}
"""The 1-D target functions on [0, 1]: ``sine`` sin(2 pi x), ``bump`` exp(-(x - 1/2)^2 / 0.02),
``wave`` sin(2 pi x) + sin(6 pi x) / 2, ``linear`` 1.5 x - 0.5."""


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
        function: one of ``REGRESSION_FUNCTIONS`` (``"sine"``, ``"bump"``, ``"wave"``, ``"linear"``).
        noise: standard deviation of the additive Gaussian noise on the targets (>= 0).
        grid: if True, ``x`` is the evenly spaced grid ``linspace(0, 1, n)`` (a test set);
            otherwise ``x ~ U[0, 1]`` drawn with ``key``.
        key: PRNG key; required unless ``grid`` is True and ``noise == 0``.

    Returns:
        ``(x, t)``, each of shape ``(n, 1)``.

    Raises:
        ValueError: for ``n < 1``, an unknown ``function``, ``noise < 0`` or a missing ``key``.
    """
    n = check_int("n", n)
    if function not in REGRESSION_FUNCTIONS:
        raise ValueError(f"function must be one of {sorted(REGRESSION_FUNCTIONS)}, got function = {function!r}.")
    check_range("noise", noise, lower=0.0)
    if key is None and (not grid or noise > 0):
        raise ValueError("key is required for random inputs (grid=False) or noise > 0, got key = None.")
    if grid:
        x = jnp.linspace(0.0, 1.0, n)[:, None]
    else:
        assert key is not None  # checked above
        key, sub = jax.random.split(key)
        x = jax.random.uniform(sub, (n, 1))
    t = REGRESSION_FUNCTIONS[function](x)
    if noise > 0:
        assert key is not None  # checked above
        t = t + noise * jax.random.normal(key, t.shape)
    return x, t


YIN_YANG_SPLITS: dict[str, tuple[int, int]] = {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}
"""The published Yin-Yang splits: ``split -> (size, seed)`` (Kriener et al. 2022)."""


def _yin_yang_class(x: float, y: float, r_small: float, r_big: float) -> int:
    # the reference's ``which_class``, operation for operation (the same float64 roundings)
    d_right = math.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    d_left = math.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    if d_right < r_small or d_left < r_small:
        return 2
    in_class_1 = d_right <= r_small or (r_small < d_left <= 0.5 * r_big) or (y > r_big and d_right > 0.5 * r_big)
    return int(in_class_1)


YIN_YANG_MAX_TRIES = 100_000
"""Draws per sample before ``yin_yang`` gives up: the reference's rejection loop is unbounded,
and a class of (numerically) zero area, e.g. the dots for ``r_small / r_big`` near 0 or radii
whose squares underflow, would make it run forever.  The published radii need 16 draws per
dot sample on average."""


def _yin_yang_numpy(size: int, seed: int, r_small: float, r_big: float) -> tuple[np.ndarray, np.ndarray]:
    """The reference generator's samples (float64) and labels (int64), in its RNG order."""
    rng = np.random.RandomState(seed)
    samples = np.empty((size, 4), dtype=np.float64)
    labels = np.empty(size, dtype=np.int64)
    for i in range(size):
        goal = rng.randint(3)  # the class is drawn first, which keeps the classes balanced
        for _ in range(YIN_YANG_MAX_TRIES):  # then (x, y) uniform on [0, 2 r_big]^2 until in the disc and the class
            x, y = (float(v) for v in rng.rand(2) * 2.0 * r_big)
            if math.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
                continue
            if _yin_yang_class(x, y, r_small, r_big) == goal:
                break
        else:
            raise ValueError(
                f"yin_yang: no point of class {goal} in {YIN_YANG_MAX_TRIES} draws with r_small = {r_small:g}, "
                f"r_big = {r_big:g}; the class has (numerically) no area: take r_small / r_big nearer the default "
                "0.2 and radii whose squares do not underflow."
            )
        samples[i] = (x, y, 1.0 - x, 1.0 - y)
        labels[i] = goal
    return samples, labels


def yin_yang(
    split: Literal["train", "validation", "test"] = "train",
    *,
    size: int | None = None,
    seed: int | None = None,
    r_small: float = 0.1,
    r_big: float = 0.5,
) -> tuple[Float[Array, "n 4"], Int[Array, " n"]]:
    """The Yin-Yang classification data set (Kriener et al. 2022), generated exactly as its reference.

    Points ``(x, y)`` in the disc of radius ``r_big`` centred at ``(r_big, r_big)`` belong to
    one of three classes: the two interlocking halves of the yin-yang symbol and its two dots
    (the discs of radius ``r_small`` at ``(r_big / 2, r_big)`` and ``(3 r_big / 2, r_big)``).
    With ``d_l``, ``d_r`` the distances to the left and right dot's centres, the label is

        2  if d_r < r_small or d_l < r_small                          (the dots),
        1  if r_small < d_l <= r_big / 2 or (y > r_big and d_r > r_big / 2),
        0  otherwise,

    as the reference's ``which_class`` (its ``class_names`` call 0, 1, 2 yin, yang, dot).
    Each sample draws its class first, uniformly from {0, 1, 2} (``RandomState.randint(3)``),
    then rejection-samples ``(x, y) = 2 r_big * rand(2)`` until the point lies in the big disc
    and in that class, so the classes are balanced in expectation.  The features are
    ``[x, y, 1 - x, 1 - y]`` (the mirrored copies give every input a mean of about 1/2).
    The published splits are train / validation / test = 5,000 / 1,000 / 1,000 samples from
    numpy ``RandomState`` seeds 42 / 41 / 40; this function reproduces them sample for sample
    (float64; with float32 JAX arrays, to float32 rounding).  Chance level is 1/3; the
    reference's 4-120-3 ANN reaches 98.7% test accuracy, spiking first-spike networks 95-96%.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``: picks the default size and seed.
        size: number of samples (>= 1); default the split's (5000, 1000, 1000).  A smaller
            size with the split's seed gives the first ``size`` samples of that split.
        seed: numpy ``RandomState`` seed in [0, 2**32 - 1]; default the split's (42, 41, 40).
        r_small: radius of the two dots, in (0, r_big / 2) (so a dot fits inside its half).
        r_big: radius of the whole symbol (> 0): ``x`` and ``y`` lie in [0, 2 r_big] (the
            mirrored features are ``1 - x``, ``1 - y`` whatever ``r_big``, as in the reference).

    Returns:
        ``(x, labels)``: features of shape ``(size, 4)`` in the default float dtype (float32
        unless ``jax_enable_x64``) and integer labels in {0, 1, 2} of shape ``(size,)``.

    Raises:
        ValueError: for an unknown ``split``, a ``size`` or ``seed`` that is not an integer in
            range, radii outside their ranges, or radii for which a class has (numerically) no
            area (the sampler gives up after ``YIN_YANG_MAX_TRIES`` draws for one sample).

    Example:
        >>> x, labels = jaxneuro.data.yin_yang("test")
        >>> x.shape, labels.shape
        ((1000, 4), (1000,))

    References:
        L. Kriener, J. Göltz, M. A. Petrovici, "The Yin-Yang dataset", NICE 2022
        (arXiv:2102.08211); reference code github.com/lkriener/yin_yang_data_set.
    """
    if split not in YIN_YANG_SPLITS:
        raise ValueError(f"split must be one of {list(YIN_YANG_SPLITS)}, got split = {split!r}.")
    default_size, default_seed = YIN_YANG_SPLITS[split]
    size = default_size if size is None else check_int("size", size, 1)
    seed = default_seed if seed is None else check_int("seed", seed, 0, 2**32 - 1)
    for name, value in (("r_big", r_big), ("r_small", r_small)):
        if np.ndim(value) != 0:
            raise ValueError(f"{name} must be a number, got an array of shape {np.shape(value)}.")
    check_range("r_big", r_big, lower=0.0, lower_open=True)
    check_range("r_small", r_small, lower=0.0, upper=0.5 * float(r_big), lower_open=True, upper_open=True)
    samples, labels = _yin_yang_numpy(size, seed, float(r_small), float(r_big))
    x = jnp.asarray(samples, dtype=jax.dtypes.canonicalize_dtype(jnp.float64))
    return x, jnp.asarray(labels, dtype=jax.dtypes.canonicalize_dtype(jnp.int64))

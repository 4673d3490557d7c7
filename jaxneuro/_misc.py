"""Foundations: numerically safe helpers and validation messages.

Validation follows three tiers (see STYLE.md): structure and shapes raise ``ValueError``
at construction or trace time; value constraints on numbers that are concrete at trace
time also raise ``ValueError`` immediately; values that are traced (inside ``jit`` or
``vmap``) are checked at run time with ``eqx.error_if`` (through :func:`error_if_any`).
Every message names the parameter, its value and the allowed range.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import equinox as eqx
import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._custom_types import ParamArray

_T = TypeVar("_T")


def error_if_any(value: Any, pred: Any, message: str) -> jax.Array:
    """``value``, raising ``message`` at run time when any element of ``pred`` is true.

    ``eqx.error_if`` on a scalar one (of ``value``'s dtype and weak type) and ``value`` times
    that one: the same value bit for bit (-0.0, NaN and infinities included), dtype and
    derivatives.  The check's conditional then holds no batch-sized array, so a batch
    sharded over devices stays sharded: ``eqx.error_if`` on the batch itself returns it from a
    conditional that XLA places on one device, and XLA's SPMD partitioner warns "Involuntary
    full rematerialization" and gathers the batch there.
    """
    value = jnp.asarray(value)
    one = eqx.error_if(jnp.ones_like(value, shape=()), jnp.any(pred), message)
    return value * one


def default_float() -> Any:
    """The default floating dtype: float64 when ``jax_enable_x64`` is on, else float32."""
    return jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32


def as_float_array(x: Any) -> ParamArray:
    """Converter for parameter fields: a floating array (ints become the default float).

    Scalars known on the host (Python and numpy numbers) become 0-d numpy arrays of JAX's
    dtype (float32 unless ``jax_enable_x64``), so that a neuron built inside ``jit`` still has
    concrete parameters (static checks, static loop sizes: ``jnp.asarray`` would make them
    tracers there); everything else becomes a JAX array.
    """
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        host = np.asarray(x)
        dtype = host.dtype if np.issubdtype(host.dtype, np.floating) else default_float()
        return host.astype(jax.dtypes.canonicalize_dtype(dtype))
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(default_float())
    return x


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds actual values (not a tracer inside ``jit``/``vmap``/``grad``)."""
    return not isinstance(x, jax.core.Tracer)


class StaticArray:
    """A concrete array as a hashable, static value (a save grid, a schedule): passed through
    ``eqx.filter_jit`` as part of the compiled function's structure rather than as a traced
    argument, so the function sees it as a concrete numpy array (``array``).  Equal, and equal
    in hash, when dtype, shape and values are."""

    __slots__ = ("array", "_key")

    def __init__(self, array: Any):
        self.array = np.array(array)  # a copy: a later change to the caller's array changes nothing here
        self.array.flags.writeable = False
        self._key = (self.array.dtype.str, self.array.shape, self.array.tobytes())

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticArray) and self._key == other._key


def static_float(x: Any) -> float | None:
    """``x`` as a Python float when it is known at trace time (a Python or numpy number, or a
    concrete 0-d array), else ``None``."""
    if isinstance(x, (int, float, np.integer, np.floating)):
        return float(x)
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return float(x)
    if isinstance(x, jax.Array) and is_concrete(x) and x.ndim == 0:
        return float(x)
    return None


def _fmt(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return f"{arr.item():g}" if np.issubdtype(arr.dtype, np.number) else repr(arr.item())
    return np.array2string(arr, threshold=6, precision=6)


def _range_text(lower: float | None, upper: float | None, lower_open: bool, upper_open: bool) -> str:
    lo = "(" if lower_open else "["
    hi = ")" if upper_open else "]"
    lo_v = "-inf" if lower is None else f"{lower:g}"
    hi_v = "inf" if upper is None else f"{upper:g}"
    if lower is None:
        lo = "("
    if upper is None:
        hi = ")"
    return f"{lo}{lo_v}, {hi_v}{hi}"


def check_range(
    name: str,
    value: _T,
    *,
    lower: float | None = None,
    upper: float | None = None,
    lower_open: bool = False,
    upper_open: bool = False,
    unit: str = "",
) -> _T:
    """Check that every element of ``value`` is finite and lies in the given range.

    Concrete values raise ``ValueError`` at once; traced values are wrapped in
    ``eqx.error_if`` and the (possibly new) value is returned, which the caller must use.

    Args:
        name: parameter name used in the message.
        value: the number or array to check.
        lower, upper: bounds (``None`` for unbounded).
        lower_open, upper_open: whether the bound itself is excluded.
        unit: unit appended to the message.

    Returns:
        ``value`` (for traced input, the value carrying the run-time check).

    Raises:
        ValueError: for a concrete value outside the range or not finite.
    """
    allowed = _range_text(lower, upper, lower_open, upper_open)
    suffix = f" {unit}" if unit else ""

    def bad(xp, v):
        out = ~xp.isfinite(v)
        if lower is not None:
            out = out | ((v <= lower) if lower_open else (v < lower))
        if upper is not None:
            out = out | ((v >= upper) if upper_open else (v > upper))
        return out

    if is_concrete(value):
        arr = np.asarray(value)
        if arr.dtype == object or not jnp.issubdtype(arr.dtype, jnp.number):
            raise ValueError(f"{name} must be a real number in {allowed}{suffix}, got {value!r}.")
        mask = bad(np, arr.astype(np.float64))
        if np.any(mask):
            shown = arr[mask] if arr.ndim else arr
            raise ValueError(f"{name} must be finite and in {allowed}{suffix}; got {name} = {_fmt(shown)}.")
        return value
    checked = error_if_any(
        value, bad(jnp, value), f"{name} must be finite and in {allowed}{suffix} (a traced value was outside it)."
    )
    return cast(_T, checked)  # a traced value is a jax.Array, and so is the checked one


def check_positive(name: str, value: _T, unit: str = "") -> _T:
    """``check_range`` for a strictly positive, finite parameter."""
    return check_range(name, value, lower=0.0, lower_open=True, unit=unit)


def check_int(
    name: str,
    value: Any,
    low: int = 1,
    high: int | None = None,
    *,
    where: str = "",
    numpy: bool = True,
    hint: str = "",
) -> int:
    """``value`` as a Python int, checked to be a static int in ``[low, high]``: for sizes, counts and capacities.

    The one integer validator of the package.  ``bool`` is refused (``True`` is not a size), and
    so are floats, integral ones (``4.0``) included; numpy integers are accepted unless
    ``numpy=False``.

    Args:
        name: the parameter's name, as the message shows it.
        value: the value to check.
        low: the smallest allowed value.
        high: the largest allowed value (``None``: no upper bound).
        where: the function or class the parameter belongs to, prefixed to the message
            (``"Population: size must be ..."``); empty for no prefix.
        numpy: whether numpy integers (``np.int64(3)``) are accepted.
        hint: what the range means, shown after it (``"(80% excitatory, 20% inhibitory)"``).

    Returns:
        ``int(value)``.

    Raises:
        ValueError: naming the parameter, its value and the allowed range, when ``value`` is not
            an int in ``[low, high]``.

    Example:
        >>> check_int("n", 3, low=2)
        3
    """
    kinds = (int, np.integer) if numpy else (int,)
    in_range = isinstance(value, kinds) and value >= low and (high is None or value <= high)
    if isinstance(value, bool) or not in_range:
        allowed = f"[{low}, inf)" if high is None else f"[{low}, {high}]"
        prefix = f"{where}: " if where else ""
        hint = f" {hint}" if hint else ""
        raise ValueError(f"{prefix}{name} must be an int in {allowed}{hint}, got {name} = {value!r}.")
    return int(value)


def static_number(value: Any) -> Any:
    """Converter for static fields that hold an int or a float: a numpy scalar (``np.int64(3)``,
    ``np.float64(0.5)``) becomes the Python number, which equinox keeps as static without its
    "A JAX array is being set as static" warning; anything else is returned unchanged, for the
    field's own check (``check_int``) to judge."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def static_positive(name: str, value: Any, unit: str = "") -> float:
    """``value`` as a Python float, checked to be a static (Python or numpy) number, finite and
    > 0: for parameters that set shapes or loop lengths (durations, steps, time constants of a
    compiled loop), which cannot be traced."""
    of = f" of {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a Python number{of} (static), got {value!r}.")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and in (0, inf){' ' + unit if unit else ''}; got {name} = {value:g}.")
    return value


def check_positive_normal(name: str, value: _T, unit: str = "") -> _T:
    """``check_positive``, and no element subnormal in its dtype: XLA flushes subnormal numbers
    to zero (a time constant of 1e-45 s divides by zero: NaN), and inconsistently so (one
    comparison of a subnormal with 0 can differ from the same comparison fused into another
    kernel), so a traced value is checked on its bits.

    Raises:
        ValueError: for a concrete value not finite and > 0 (``check_positive``'s message), or in
            ``(0, finfo(dtype).tiny)`` (1.17549e-38 in float32), naming the parameter, its value
            and the range; a traced one is checked at run time.
    """
    dtype = np.dtype(jnp.asarray(value).dtype if not is_concrete(value) else np.asarray(value).dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        return check_positive(name, value, unit)
    tiny = float(jnp.finfo(dtype).tiny)
    allowed = f"finite and in [{tiny:g}, inf){' ' + unit if unit else ''}"
    if is_concrete(value):
        check_positive(name, value, unit)
        arr = np.asarray(value)
        if np.any(arr < tiny):
            raise ValueError(f"{name} must be {allowed}; got {name} = {_fmt(arr[arr < tiny] if arr.ndim else arr)}.")
        return value
    # positive normal finite floats are exactly the bit patterns from tiny's up to (not with) inf's
    itype = {2: np.int16, 4: np.int32, 8: np.int64}[dtype.itemsize]
    lo, hi = (int(np.array(v, dtype).view(itype)) for v in (tiny, np.inf))
    bits = jax.lax.bitcast_convert_type(jnp.asarray(value), itype)
    bad = (bits < lo) | (bits >= hi)
    return cast(_T, error_if_any(value, bad, f"{name} must be {allowed} (a traced value was outside it)."))


def check_finite(name: str, value: _T) -> _T:
    """Check that a (possibly traced) array holds no NaN or infinity."""
    return check_range(name, value)


def check_shape(name: str, value: Any, shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``jnp.shape(value) == shape``."""
    if tuple(jnp.shape(value)) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got shape {tuple(jnp.shape(value))}.")


def safe_log1p_ratio(num: jax.Array, den: jax.Array) -> jax.Array:
    """``log(1 + num / den)`` for ``num >= 0``, ``den > 0``, written with ``log1p``.

    The caller is responsible for masking ``den <= 0`` with a double ``where``.
    """
    return jnp.log1p(num / den)


def exprel(x: ArrayLike) -> jax.Array:
    """``x / (exp(x) - 1)``, finite with a finite gradient everywhere (1 at ``x = 0``).

    The double ``where`` keeps the gradient finite at the removable singularity: the
    unsafe branch is evaluated at a harmless point where it is not selected.
    """
    x = jnp.asarray(x)
    small = jnp.abs(x) < 1e-4
    x_safe = jnp.where(small, jnp.ones_like(x), x)
    series = 1.0 - x / 2.0 + x * x / 12.0
    return jnp.where(small, series, x_safe / jnp.expm1(x_safe))


def exprel_of_exp(x: ArrayLike, ex: ArrayLike) -> jax.Array:
    """``x / (exp(x) - 1)`` given ``ex = exp(x)`` (computed by the caller, often shared with
    other rate terms), so that no ``expm1`` is needed.

    ``ex - 1`` loses about ``eps / |x|`` relative precision near 0, so for ``|x| < t`` the
    Bernoulli series ``1 - x/2 + x^2/12 - x^4/720 + x^6/30240`` (truncation ``x^8 / 1209600``)
    is taken instead, with ``t = (1209600 eps)^(1/9)`` balancing the two errors (0.81 in
    float32, 0.086 in float64: a few ulp either way).  A double ``where`` keeps the gradient
    finite at 0, as in ``exprel``.

    Args:
        x: the argument (any shape).
        ex: ``exp(x)``, broadcastable with ``x``.

    Returns:
        ``x / (exp(x) - 1)`` (1 at ``x = 0``).
    """
    x, ex = jnp.asarray(x), jnp.asarray(ex)
    t = float((1209600.0 * jnp.finfo(jnp.result_type(x, ex)).eps) ** (1.0 / 9.0))
    small = jnp.abs(x) < t
    x_safe = jnp.where(small, jnp.ones_like(x), x)
    ex_safe = jnp.where(small, jnp.full_like(ex, np.e), ex)
    x2 = x * x
    series = 1.0 - 0.5 * x + x2 * (1.0 / 12.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 30240.0)))
    return jnp.where(small, series, x_safe / (ex_safe - 1.0))

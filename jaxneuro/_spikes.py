"""Spike trains: spike times in fixed-capacity buffers, binned rasters, and filtering (notes ch. 1.6).

A spike train is the sum of Dirac deltas ``a(t) = sum_p delta(t - t_p)``.  Two forms live
side by side:

* ``SpikeTrain``: the times ``t_p`` themselves, in a buffer of static capacity padded with
  ``inf`` (so it lives inside ``jit``/``vmap``), plus the true ``count``.  A count above
  the capacity is never hidden: ``overflow`` is True and consumers raise.
* a raster on a time grid ``t_k = t0 + k dt``: the number of spikes in each bin
  ``[t_k, t_k + dt)``; divided by ``dt`` it is the binned Dirac sum (heights ``1/dt``, so
  that its integral still counts the spikes).

Filtering a train with the PSC kernel ``h`` of ``jaxneuro.psc_kernel`` gives the
post-synaptic current ``s(t) = (a * h)(t) = sum_p h(t - t_p)``.  ``filter_spikes`` computes
it exactly from spike times, or on a grid by causal convolution, or by integrating the
``n + 1`` first-order filters whose cascade has impulse response ``h``.
"""

from __future__ import annotations

import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, Real

from ._custom_types import ParamArray, RealSequence
from ._kernels import check_order, psc_kernel
from ._misc import as_float_array, check_int, check_positive, default_float, is_concrete

FilterMethod = Literal["auto", "exact", "convolve", "cascade"]


def check_overflow(train: "SpikeTrain", what: str) -> "SpikeTrain":
    """Refuse an overflowed train (its buffer lost spikes): ValueError or ``eqx.error_if``."""
    msg = (
        f"{what}: the spike train overflowed (count > capacity = {train.capacity}), so spikes are "
        "missing from its buffer; rebuild it with a larger capacity."
    )
    if is_concrete(train.count):
        if np.any(np.asarray(train.count) > train.capacity):
            raise ValueError(msg)
        return train
    return eqx.error_if(train, jnp.any(train.overflow), msg)


def _check_times_valid(times: ParamArray, count: Array, name: str) -> Array:
    """Spike times must be non-NaN, and sorted (non-decreasing) within each train."""
    times = jnp.asarray(times)  # at least 1-d, so already a jax array
    cap = times.shape[-1]
    if is_concrete(times) and is_concrete(count):  # (numpy throughout: inside jit, jnp ops give tracers)
        t = np.asarray(times)
        v = np.arange(cap) < np.minimum(np.asarray(count), cap)[..., None]
        if np.any(np.isnan(t)):
            raise ValueError(f"{name}: spike times must not be NaN; got NaN at index {np.argwhere(np.isnan(t))[0]}.")
        if np.any(np.isinf(t) & v):
            raise ValueError(f"{name}: the first `count` spike times must be finite; got an infinite time.")
        both = v[..., 1:] & v[..., :-1]
        with np.errstate(invalid="ignore"):  # inf - inf in the padding (masked out by ``both``)
            bad = both & (np.diff(t, axis=-1) < 0)
        if np.any(bad):
            i = np.argwhere(bad)[0]
            raise ValueError(
                f"{name}: spike times must be sorted (non-decreasing) in each train; got "
                f"{t[tuple(i)]:g} before {t[tuple(i[:-1]) + (i[-1] + 1,)]:g} at index {tuple(i)}."
            )
        return times
    valid = jnp.arange(cap) < jnp.minimum(count, cap)[..., None]
    both = valid[..., 1:] & valid[..., :-1]
    bad = jnp.any(jnp.isnan(times)) | jnp.any(both & (jnp.diff(times, axis=-1) < 0))
    return eqx.error_if(times, bad, f"{name}: spike times must be non-NaN and sorted in each train.")


def _check_grid(t0, dt, n_bins) -> tuple[ParamArray, ParamArray, int]:
    n_bins = check_int("n_bins", n_bins)
    dt = check_positive("dt", as_float_array(dt), unit="s")
    t0 = as_float_array(t0)
    if t0.ndim != 0 or dt.ndim != 0:
        raise ValueError(f"t0 and dt must be scalars, got shapes {t0.shape} and {dt.shape}.")
    if is_concrete(t0) and not np.isfinite(float(t0)):
        raise ValueError(f"t0 must be finite, got t0 = {float(t0)}.")
    return t0, dt, n_bins


class SpikeTrain(eqx.Module):
    """Spike times of one neuron (or a batch, with leading axes), in a fixed-capacity buffer.

    Attributes:
        times: spike times, sorted, in the simulation's time unit; slots past ``count``
            hold ``inf``.  Shape ``(*batch, capacity)``.
        count: number of spikes that occurred, shape ``(*batch,)``.  It may exceed the
            capacity: then ``overflow`` is True and only the first ``capacity`` are stored;
            ``to_raster`` and ``filter_spikes`` then raise rather than use a partial train.

    Build one from a list of times with ``SpikeTrain.from_times`` (which validates them) or
    from a binned raster with ``SpikeTrain.from_raster``; simulators build it directly.
    Direct construction checks only the structure (shapes); ``validate()`` checks values.
    """

    times: Float[Array, "*batch capacity"]
    count: Int[Array, "*batch"]

    def __check_init__(self):
        t, c = jnp.shape(self.times), jnp.shape(self.count)
        if len(t) < 1 or t[:-1] != c:
            raise ValueError(
                "SpikeTrain: times must have shape (*batch, capacity) and count shape (*batch,); "
                f"got times {t} and count {c}."
            )

    @property
    def capacity(self) -> int:
        return self.times.shape[-1]

    @property
    def overflow(self) -> Bool[Array, "*batch"]:
        """True where more spikes occurred than the buffer holds."""
        return self.count > self.capacity

    @property
    def mask(self) -> Bool[Array, "*batch capacity"]:
        """True for the slots that hold a spike."""
        return jnp.arange(self.capacity) < self.count[..., None]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_times(
        cls,
        times: Float[ArrayLike, "*batch k"] | RealSequence,
        capacity: int | None = None,
        *,
        on_overflow: Literal["error", "flag"] = "error",
    ) -> "SpikeTrain":
        """A train from spike times: sorted along the last axis, ``inf`` marking unused slots.

        Args:
            times: spike times (s), shape ``(*batch, k)``, non-decreasing in each train;
                ``inf`` entries (only at the end) are padding.
            capacity: buffer size (default ``k``).  A smaller capacity than the number of
                spikes overflows.
            on_overflow: ``"error"`` raises when a train has more spikes than ``capacity``;
                ``"flag"`` keeps the first ``capacity`` and records the true ``count``.

        Raises:
            ValueError: for NaN times, unsorted times, a time of ``-inf``, a bad capacity,
                or (``on_overflow="error"``) more spikes than ``capacity``.
        """
        if on_overflow not in ("error", "flag"):
            raise ValueError(f"on_overflow must be 'error' or 'flag', got {on_overflow!r}.")
        times = as_float_array(times)
        if times.ndim < 1:
            raise ValueError(f"times must have shape (*batch, k), got a scalar of shape {times.shape}.")
        k = times.shape[-1]
        capacity = check_int("capacity", k if capacity is None else capacity)
        count = jnp.sum(jnp.isfinite(times), axis=-1).astype(jnp.int32)
        if is_concrete(times) and np.any(np.asarray(times) == -np.inf):
            raise ValueError("times must not contain -inf (use inf for unused slots).")
        if is_concrete(times):
            t = np.asarray(times)
            pad_before_spike = np.isinf(t[..., :-1]) & np.isfinite(t[..., 1:])
            if np.any(pad_before_spike):
                raise ValueError("times: inf padding must come after all finite spike times (times must be sorted).")
        times = _check_times_valid(times, count, "SpikeTrain.from_times")
        if capacity >= k:
            pad = jnp.full(times.shape[:-1] + (capacity - k,), jnp.inf, times.dtype)
            return cls(jnp.concatenate([times, pad], axis=-1), count)
        train = cls(times[..., :capacity], count)
        if on_overflow == "error":
            train = check_overflow(train, "SpikeTrain.from_times")
        return train

    @classmethod
    def from_raster(
        cls,
        raster: Real[ArrayLike, "*batch bins"] | RealSequence,
        t0: float | Float[ArrayLike, ""],
        dt: float | Float[ArrayLike, ""],
        capacity: int,
        *,
        position: float = 0.0,
        on_overflow: Literal["error", "flag"] = "error",
    ) -> "SpikeTrain":
        """Spike times from a raster of spike counts per bin (the inverse of ``to_raster``).

        Bin ``k`` covers ``[t0 + k dt, t0 + (k + 1) dt)``; its spikes are placed at
        ``t0 + (k + position) dt``, so ``position=0`` (bin start) makes
        ``from_raster(to_raster(x))`` and ``to_raster(from_raster(r))`` round trips on the
        grid.  A count of ``c`` in one bin gives ``c`` spikes at the same time.

        Args:
            raster: non-negative integer counts, shape ``(*batch, bins)``.
            t0: start of the first bin (s).   dt: bin width (s, > 0).
            capacity: buffer size (static).
            position: where in its bin a spike is placed, in ``[0, 1)``.
            on_overflow: ``"error"`` or ``"flag"``, as in ``from_times``.

        Raises:
            ValueError: for negative or non-integer counts, a bad ``dt``, ``capacity`` or
                ``position``, or (``on_overflow="error"``) more spikes than ``capacity``.
        """
        if on_overflow not in ("error", "flag"):
            raise ValueError(f"on_overflow must be 'error' or 'flag', got {on_overflow!r}.")
        if not (0.0 <= position < 1.0):
            raise ValueError(f"position must be in [0, 1), got {position!r}.")
        capacity = check_int("capacity", capacity)
        raster = jnp.asarray(raster)
        if raster.ndim < 1:
            raise ValueError(f"raster must have shape (*batch, bins), got shape {raster.shape}.")
        t0, dt, n_bins = _check_grid(t0, dt, raster.shape[-1])
        if is_concrete(raster):
            r = np.asarray(raster)
            if np.any(r < 0) or np.any(r != np.round(r)) or not np.all(np.isfinite(r)):
                raise ValueError("raster must hold non-negative integer spike counts per bin.")
        counts = raster.astype(jnp.int32)
        csum = jnp.cumsum(counts, axis=-1)
        total = csum[..., -1]
        slots = jnp.arange(capacity, dtype=jnp.int32)
        # spike j lies in the first bin whose cumulative count exceeds j
        bins = jax.vmap(lambda c: jnp.searchsorted(c, slots, side="right"))(csum.reshape(-1, n_bins))
        bins = bins.reshape(csum.shape[:-1] + (capacity,))
        dtype = jnp.result_type(dt, t0)
        t = t0 + (bins.astype(dtype) + position) * dt
        times = jnp.where(slots < total[..., None], t, jnp.inf)
        train = cls(times, total)
        if on_overflow == "error":
            train = check_overflow(train, "SpikeTrain.from_raster")
        return train

    # ------------------------------------------------------------------ checks and views
    def validate(self) -> "SpikeTrain":
        """This train, after checking its times: no NaN, sorted, finite within ``count``.

        Raises:
            ValueError: (concrete values) for NaN, unsorted or infinite stored times;
                traced values are checked at run time with ``eqx.error_if``.
        """
        return SpikeTrain(_check_times_valid(self.times, self.count, "SpikeTrain"), self.count)

    def to_raster(
        self,
        t0: float | Float[ArrayLike, ""],
        dt: float | Float[ArrayLike, ""],
        n_bins: int,
        *,
        dirac: bool = False,
    ) -> Float[Array, "*batch bins"] | Int[Array, "*batch bins"]:
        """The binned train on the grid ``t_k = t0 + k dt``, ``k = 0 .. n_bins - 1``.

        Bin ``k`` counts the spikes with ``t0 + k dt <= t_p < t0 + (k + 1) dt`` (a time within
        a few roundings of an edge counts as on it, so that grid times ``t0 + k dt`` land in bin
        ``k``); spikes outside ``[t0, t0 + n_bins dt)`` are outside the window, not counted.  With
        ``dirac=True`` the counts are divided by ``dt``: the binned Dirac sum
        ``a(t) = sum_p delta(t - t_p)``, whose sum times ``dt`` is the spike count.

        Args:
            t0: start of the window (s).   dt: bin width (s, > 0).
            n_bins: number of bins (static).
            dirac: return heights ``count / dt`` (1/s) instead of integer counts.

        Returns:
            Counts (int32) or heights (float), shape ``(*batch, n_bins)``.

        Raises:
            ValueError: for a bad grid, or if the train overflowed (error at run time when
                traced).
        """
        train = check_overflow(self, "SpikeTrain.to_raster")
        t0, dt, n_bins = _check_grid(t0, dt, n_bins)
        x = (train.times - t0) / dt
        k = jnp.floor(x)
        # a time within a few roundings of a bin edge is on the edge (so t0 + k dt bins to k)
        r = jnp.round(x)
        eps = jnp.finfo(x.dtype).eps
        tol = 4 * eps * (jnp.abs(jnp.where(train.mask, train.times, 0.0)) + jnp.abs(t0)) / dt + 4 * eps * jnp.abs(r)
        k = jnp.where(jnp.abs(x - r) <= tol, r, k)
        inside = train.mask & (k >= 0) & (k < n_bins)
        k = jnp.where(inside, k, n_bins).astype(jnp.int32)  # n_bins is a discard bin
        flat_k = k.reshape(-1, self.capacity)
        counts = jax.vmap(lambda kk: jnp.zeros(n_bins + 1, jnp.int32).at[kk].add(1))(flat_k)[:, :n_bins]
        counts = counts.reshape(self.times.shape[:-1] + (n_bins,))
        if dirac:
            return counts.astype(jnp.result_type(dt, default_float())) / dt
        return counts


# ---------------------------------------------------------------------- filtering
def _transition(tau_s: ParamArray, dt: ParamArray, n: int) -> Array:
    """``exp(A dt)`` of the cascade ``tau_s x' = -x + S x`` (S: lower shift), exactly:
    ``e^(-dt/tau_s) sum_k (dt/tau_s)^k / k! S^k``, a lower-triangular Toeplitz matrix."""
    r = dt / tau_s
    i = np.arange(n + 1)
    lag = i[:, None] - i[None, :]
    coeff = jnp.stack([r**k / math.factorial(k) for k in range(n + 1)])
    m = jnp.where(jnp.asarray(lag >= 0), coeff[np.clip(lag, 0, n)], 0.0)
    return jnp.exp(-r) * m


def _filter_cascade(counts: Array, tau_s: ParamArray, dt: ParamArray, n: int) -> Array:
    """Integrate ``tau_s dx_0/dt = -x_0 + a(t)``, ``tau_s dx_j/dt = x_(j-1) - x_j`` exactly
    across each bin; a spike adds ``1/tau_s`` to ``x_0``.  Returns ``x_n`` on the grid."""
    dtype = jnp.result_type(tau_s, dt, default_float())
    m = _transition(tau_s, dt, n).astype(dtype)
    batch = counts.shape[:-1]
    a = jnp.moveaxis(counts.astype(dtype), -1, 0)  # (T, *batch)
    x0 = jnp.zeros(batch + (n + 1,), dtype)
    kick = jnp.zeros(n + 1, dtype).at[0].set(1.0) / tau_s

    def step(x, c):
        x = x @ m.T + c[..., None] * kick
        return x, x[..., n]

    _, s = jax.lax.scan(step, x0, a)
    return jnp.moveaxis(s, 0, -1)


def _filter_convolve(counts: Array, tau_s: ParamArray, dt: ParamArray, n: int) -> Array:
    """``s_k = sum_(m <= k) counts_m h((k - m) dt)``: a causal convolution, by FFT."""
    dtype = jnp.result_type(tau_s, dt, default_float())
    T = counts.shape[-1]
    h = psc_kernel(jnp.arange(T, dtype=dtype) * dt, tau_s, n)
    L = 1 << int(math.ceil(math.log2(2 * T)))
    spec = jnp.fft.rfft(counts.astype(dtype), L, axis=-1) * jnp.fft.rfft(h, L)
    return jnp.fft.irfft(spec, L, axis=-1)[..., :T].astype(dtype)


def _filter_exact(train: SpikeTrain, ts: ParamArray, tau_s: ParamArray, n: int) -> Array:
    """``s(t) = sum_p h(t - t_p)`` over the stored spikes (the closed form)."""
    d = ts[..., :, None] - train.times[..., None, :]  # (*batch, T, cap)
    h = psc_kernel(jnp.where(train.mask[..., None, :], d, -1.0), tau_s, n)
    return jnp.sum(jnp.where(train.mask[..., None, :], h, 0.0), axis=-1)


def filter_spikes(
    spikes: SpikeTrain | Real[ArrayLike, "*batch bins"],
    tau_s: float | Float[ArrayLike, ""],
    n: int = 0,
    *,
    ts: Float[ArrayLike, " times"] | None = None,
    dt: float | Float[ArrayLike, ""] | None = None,
    method: FilterMethod = "auto",
) -> Float[Array, "*batch times"]:
    """The filtered spike train ``s(t) = (a * h)(t) = sum_p h(t - t_p)`` (notes ch. 1.6).

    ``h`` is the unit-area PSC kernel ``t^n e^(-t/tau_s) / (n! tau_s^(n+1))``.  Three ways:

    * ``"exact"`` (``spikes`` a ``SpikeTrain``, evaluated at times ``ts``): the sum of
      kernels over the spike times.  Differentiable with respect to the spike times and
      ``tau_s``.  Cost O(len(ts) x capacity) per train.
    * ``"convolve"`` (``spikes`` a raster of counts per bin of width ``dt``, as returned
      by ``SpikeTrain.to_raster``): the causal discrete convolution
      ``s_k = sum_(m <= k) c_m h((k - m) dt)``, i.e. ``(a * h)`` with ``a`` the binned
      Dirac sum ``c/dt``; computed by FFT.  The spikes of bin ``m`` sit at its start, so it
      equals the exact form at the grid times when spikes lie on the grid, and otherwise
      differs by the shift of each spike to its bin start (at most ``dt``).
    * ``"cascade"`` (a raster): the ODEs ``tau_s dx_0/dt = -x_0 + a(t)`` and
      ``tau_s dx_j/dt = x_(j-1) - x_j`` for ``j = 1..n``, integrated exactly across each
      bin (matrix exponential), with ``x_0`` jumping by ``1/tau_s`` at each spike;
      ``s = x_n``.  For ``n = 0`` this is the notes' ``tau_s ds/dt = -s`` with jumps of
      ``1/tau_s``; for ``n > 0`` the cascade of ``n + 1`` first-order filters, whose impulse
      response is ``h``.  O(bins) memory-light recursion.

    ``"auto"`` picks ``"exact"`` for a ``SpikeTrain`` and ``"convolve"`` for a raster.  At
    ``t = t_p`` the ``n = 0`` kernel counts the spike (right limit ``1/tau_s``).

    Args:
        spikes: a ``SpikeTrain`` (shape ``(*batch, capacity)``) or a raster of spike counts
            (shape ``(*batch, bins)``, time on the last axis).
        tau_s: synaptic time constant in s (> 0), a scalar.
        n: kernel order, an integer >= 0.
        ts: (``SpikeTrain`` only) the times (s) at which to evaluate ``s``, 1-D.
        dt: (raster only) the bin width in s (> 0).
        method: ``"auto"``, ``"exact"``, ``"convolve"`` or ``"cascade"``.

    Returns:
        ``s`` in 1/s, shape ``(*batch, len(ts))`` or ``(*batch, bins)``.

    Raises:
        ValueError: for an unknown method or one that does not fit the input type, a
            missing ``ts``/``dt``, non-positive ``tau_s`` or ``dt``, negative ``n``, spike
            times that are NaN or out of order, or an overflowed ``SpikeTrain``.

    References:
        The course notes, ch. 1.6 (spike trains as Dirac sums; ``s = a * h``) and ch. 1.7
        (``tau_s ds/dt = -s``).
    """
    if method not in ("auto", "exact", "convolve", "cascade"):
        raise ValueError(f"method must be 'auto', 'exact', 'convolve' or 'cascade', got {method!r}.")
    n = check_order(n)
    tau_s = check_positive("tau_s", as_float_array(tau_s), unit="s")
    if tau_s.ndim != 0:
        raise ValueError(f"tau_s must be a scalar (vmap over several), got shape {tau_s.shape}.")
    if isinstance(spikes, SpikeTrain):
        if method not in ("auto", "exact"):
            raise ValueError(f"method={method!r} needs a raster of counts; a SpikeTrain is filtered with 'exact'.")
        if ts is None:
            raise ValueError("ts (the times at which to evaluate s) is required to filter a SpikeTrain.")
        if dt is not None:
            raise ValueError("dt is for rasters; a SpikeTrain is evaluated at ts.")
        ts = as_float_array(ts)
        if ts.ndim != 1:
            raise ValueError(f"ts must be 1-D, got shape {ts.shape}.")
        train = check_overflow(spikes, "filter_spikes")
        train = train.validate()
        return _filter_exact(train, ts, tau_s, n)
    if method == "exact":
        raise ValueError("method='exact' needs a SpikeTrain (spike times); got a raster.")
    if dt is None:
        raise ValueError("dt (the bin width of the raster, s) is required to filter a raster.")
    if ts is not None:
        raise ValueError("ts is for SpikeTrains; a raster is filtered on its own grid.")
    dt = check_positive("dt", as_float_array(dt), unit="s")
    counts = jnp.asarray(spikes)
    if counts.ndim < 1:
        raise ValueError(f"the raster must have shape (*batch, bins), got shape {counts.shape}.")
    if method == "cascade":
        return _filter_cascade(counts, tau_s, dt, n)
    return _filter_convolve(counts, tau_s, dt, n)


__all__ = ["SpikeTrain", "filter_spikes"]

"""The fast stepped LIF path: one fused, transcendental-free update per step.

The exact LIF step (``v(t) = v_in + (v - v_in) e^(-t/tau_m)`` over the part of the step after
the refractory period, the crossing at ``tau_m log1p((1 - v)/(v_in - 1))``) needs an ``exp`` for
that part and a ``log`` for the crossing time, in every lane of every step.  Both
go away when the refractory clock is kept as an exponential instead of a time: with
``E = exp(-(time since the last spike) / tau_m)``,

* the factor of the active part of a step is ``f = clip(E a / E_ref, a, 1)`` with
  ``a = exp(-dt/tau_m)`` and ``E_ref = exp(-tau_ref/tau_m)`` (``f = a`` when not refractory,
  ``f = 1`` while the whole step is refractory, in between when the period ends inside it);
* a crossing inside the step, ``v_in + (v - v_in) e^(-s/tau_m) = 1``, leaves
  ``E = f (v_in - v) / (v_in - 1)`` at the end of the step (the closed form of
  ``exp(-(t_end - t_spike)/tau_m)``): a division, no logarithm.

So one float per neuron carries the whole state ("encoded state" ``s``):

* ``s < 1``: active, ``v = s``;
* ``2 <= s <= 1 + R``: refractory, ``s = 1 + P`` with ``P = E / E_ref`` in ``[1, R]``,
  ``R = exp(tau_ref/tau_m)``; ``P`` shrinks by ``a`` each step and the period ends when it
  reaches 1, so the end is placed exactly, with the relative precision of ``P``;
* ``s >= 1 + M`` (``M`` a power of two above ``R``): refractory after a spike that has not been
  read out yet, ``s = 1 + M P`` (scaling by ``M`` is exact).

XLA on the CPU emits one loop kernel per array carried through a loop, each recomputing the
shared terms, so a single carried array is one kernel per step.  Spikes are read out every
``block`` steps, with ``block dt <= tau_ref``: a neuron fires at most once in a block and is
still refractory at its end, so the marked state holds its exact spike time,
``t_spike = t_stop + tau_m log(P) - tau_ref``.  The readout (spike buffer, statistics,
binned counts, saved voltages) runs once per block instead of once per step.

Valid for ``tau_ref / tau_m`` up to ``MAX_REFRACTORY_RATIO`` (``R M`` must stay finite).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._misc import error_if_any, is_concrete
from ._neurons._lif import LIF

MAX_REFRACTORY_RATIO = {np.dtype(np.float32): 40.0, np.dtype(np.float64): 340.0}
"""Largest ``tau_ref / tau_m`` of the encoded state (``exp(2 tau_ref/tau_m)`` stays finite)."""


class EncodedLIF(eqx.Module):
    """Per-neuron constants of the encoded stepped LIF update (scalars or arrays)."""

    a: Array  # exp(-dt/tau_m)
    ratio: Array  # R = exp(tau_ref/tau_m) = 1 / E_ref
    scale: Array  # M, a power of two > R
    inv_scale: Array  # 1 / M (exact)
    ratio_scale: Array  # R M
    tau_m: Array
    tau_ref: Array


def _ratio_limit(dtype) -> tuple[float, str]:
    limit = MAX_REFRACTORY_RATIO[np.dtype(dtype)]
    message = (
        f"the stepped LIF path needs tau_ref / tau_m <= {limit:g} in {np.dtype(dtype).name} "
        "(its refractory clock is exp(tau_ref/tau_m)); use float64, method='exact' or method='diffrax'"
    )
    return limit, message


def check_refractory_ratio(neuron: LIF, dtype) -> None:
    """``ValueError`` when a concrete ``tau_ref / tau_m`` is over ``MAX_REFRACTORY_RATIO`` of
    ``dtype`` (the encoded refractory clock would overflow); traced values are left to
    ``encode_constants``."""
    tau_m, tau_ref = neuron.tau_m, neuron.tau_ref
    if not (is_concrete(tau_m) and is_concrete(tau_ref)):
        return
    limit, message = _ratio_limit(dtype)
    worst = float(np.max(np.asarray(tau_ref, np.float64) / np.asarray(tau_m, np.float64)))
    if worst > limit:
        raise ValueError(f"{message}; got tau_ref / tau_m = {worst:g}.")


def encode_constants(neuron: LIF, dt: Array) -> EncodedLIF:
    """Constants of the encoded update for step ``dt``; checks ``tau_ref / tau_m``
    (``check_refractory_ratio``; traced values at run time)."""
    tau_m, tau_ref = jnp.asarray(neuron.tau_m), jnp.asarray(neuron.tau_ref)
    dtype = jnp.result_type(tau_m, tau_ref, dt)
    if is_concrete(tau_m) and is_concrete(tau_ref):
        check_refractory_ratio(neuron, dtype)
    else:
        limit, message = _ratio_limit(dtype)
        tau_m = error_if_any(tau_m, tau_ref / tau_m > limit, message + ".")  # a sharded batch stays sharded
    tau_m, tau_ref = tau_m.astype(dtype), tau_ref.astype(dtype)
    ratio = jnp.exp(tau_ref / tau_m)
    scale = jnp.exp2(jnp.ceil(jnp.log2(ratio)) + 1.0)
    return EncodedLIF(jnp.exp(-dt / tau_m), ratio, scale, 1.0 / scale, ratio * scale, tau_m, tau_ref)


def encoded_step(c: EncodedLIF, s: Array, v_in: Array) -> Array:
    """One exact LIF step of the encoded state ``s`` under the drive ``v_in`` held over the step.

    The exact LIF step: the exponential solution over the active part of the step, a threshold
    crossing inside it resets ``v`` to 0 and starts the refractory period at the crossing time.
    Only multiplications, one division and selects.  A marked state (``s = 1 + M P``) needs no
    case of its own: it is refractory for the whole of every step until the next readout
    (``block dt <= tau_ref``), and ``(s - 1) a`` keeps its scale.
    """
    refractory = s > 1.5
    p_end = jnp.where(refractory, (s - 1.0) * c.a, 0.0)
    f = jnp.clip(p_end, c.a, 1.0)  # factor of the active part: a, 1 (all refractory), or between
    v = jnp.where(refractory, 0.0, s)
    v_end = v_in + (v - v_in) * f
    spiked = v_end >= 1.0
    # exp(-(t_end - t_spike)/tau_m); at least f (the crossing is inside the active part)
    e_spike = jnp.maximum(f * (v_in - v) / (v_in - 1.0), f)
    return jnp.where(spiked, 1.0 + e_spike * c.ratio_scale, jnp.where(p_end > 1.0, 1.0 + p_end, v_end))


def voltage(s: Array) -> Array:
    """The membrane potential ``v`` of an encoded state (0 while refractory)."""
    return jnp.where(s > 1.5, 0.0, s)


def read_spikes(c: EncodedLIF, s: Array, t_stop: Array) -> tuple[Array, Array, Array]:
    """The spikes marked in ``s`` at ``t_stop``: ``(spiked, t_spike, s unmarked)``."""
    marked = s > c.scale + 1.0
    p = jnp.where(marked, (s - 1.0) * c.inv_scale, c.ratio)
    t_spike = t_stop + c.tau_m * jnp.log(p) - c.tau_ref
    return marked, t_spike, jnp.where(marked, 1.0 + p, s)


def encode_voltage(v0: Array) -> Array:
    """The encoded state of a neuron at ``v0`` (below threshold, not refractory)."""
    return error_if_any(v0, v0 >= 1.0, "y0 (v) must be below the threshold 1 (the LIF would fire at t0).")


def block_steps(neuron: LIF, dt: float) -> int:
    """Steps between spike readouts: ``floor(tau_ref/dt)`` when ``tau_ref`` is concrete (at most
    one spike per block, still refractory at its end), else 1."""
    if not is_concrete(neuron.tau_ref):
        return 1
    tau_ref = float(np.min(np.asarray(neuron.tau_ref, np.float64)))
    return max(1, int(math.floor(tau_ref / dt * (1.0 + 1e-9))))


def stop_schedule(n_steps: int, block: int, extra: np.ndarray) -> np.ndarray:
    """Sorted step indices at which the loop stops for a readout: every ``block`` steps, at
    each index in ``extra`` after the start, and at the end (``n_steps``)."""
    stops = np.concatenate([np.arange(block, n_steps, block), np.asarray(extra, np.int64), [n_steps]])
    stops = np.unique(stops[(stops > 0) & (stops <= n_steps)])
    return stops


def run_blocked(
    c: EncodedLIF,
    drive_at: Callable[[Array], Array],
    t0: Array,
    dt: Array,
    s: Array,
    stops: np.ndarray,
    readout: Callable[[Any, Array, Array, Array], tuple[Any, Array]],
    carry: Any,
) -> tuple[Array, Any]:
    """Advance the encoded state step by step, stopping at ``stops`` for ``readout``.

    Args:
        drive_at: ``v_in`` at a (mid-step) time.
        s: the encoded state at ``t0``.
        stops: increasing step indices (the last is the number of steps).
        readout: ``(carry, s, stop index, t_stop) -> (carry, s)``, called at every stop.

    Returns:
        The encoded state at the end and the final ``carry``.
    """
    dtype = s.dtype
    n_steps = int(stops[-1]) if len(stops) else 0
    is_stop = np.zeros(n_steps + 1, bool)
    is_stop[np.asarray(stops, np.int64)] = True
    is_stop = jnp.asarray(is_stop)

    # One flat loop over the steps with the readout behind a condition on the (unbatched)
    # step index: a static trip count (so reverse mode works) that XLA does not unroll.
    # (Segments of ``block`` steps as an inner loop of static length were 1.5x slower: XLA
    # unrolls such short loops into one body whose steps it can no longer fuse.)
    def body(n, state):
        s, carry = state
        s = encoded_step(c, s, drive_at(t0 + (n.astype(dtype) + 0.5) * dt))
        stop = n + 1

        def read(state):
            s, carry = state
            carry, s = readout(carry, s, stop, t0 + stop.astype(dtype) * dt)
            return s, carry

        return jax.lax.cond(is_stop[stop], read, lambda state: state, (s, carry))

    s, carry = jax.lax.fori_loop(0, n_steps, body, (s, carry))
    return s, carry

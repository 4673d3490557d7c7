"""Spike-time losses, readouts and the regularisers that keep their gradients alive (issue 15).

Each loss is written for one sample, as in ``jaxneuro._losses``: the output neurons on the
last axis, arrays positional, options keyword-only, a scalar out; batch with ``jax.vmap``.
Three readouts of a spiking output layer:

* **first spikes**: ``first_spike_cross_entropy``, a softmax over ``-t_k / tau`` (the earliest
  neuron wins), with the shaping terms ``late_spike_penalty`` and ``silent_neuron_penalty``;
* **spike counts**: ``spike_count_cross_entropy`` (counts as logits) and ``spike_count_mse``;
* **a leaky readout**: ``leaky_readout`` integrates the output layer's spikes (or currents)
  in non-spiking leaky neurons, and ``max_over_time_cross_entropy`` uses each trace's
  maximum as a logit;

plus ``firing_rate_penalty`` (lower and upper rate bounds, per neuron or for the population).

Missing spikes.  ``first_spike_times`` gives a neuron that did not fire inside the window
(no spike, or its first spike at or after ``window``) the first-spike time ``window``: the
end of the observation window.  A loss on first spikes is then finite whatever the network
did, but constant in a silent neuron's parameters (its "spike time" is a constant), so a
silent output gets no gradient from it.  That is what the regularisers are for: the rate
penalty on surrogate-gradient (differentiable) counts, and ``silent_neuron_penalty`` on the
peak membrane potential for exact spike-time gradients.  A loss that needs spikes can be told
to refuse a silent output instead, ``on_silent="error"`` (or ``check_spikes``): a
``ValueError`` for concrete input, ``eqx.error_if`` at run time for traced input.

Times are in the simulation's unit (s in jaxneuro), measured from the stimulus onset (so
subtract the start time first if a simulation did not start at 0).
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._custom_types import ParamArray
from ._losses import log_softmax, mse
from ._misc import as_float_array, check_positive, check_positive_normal, check_range, error_if_any, is_concrete
from ._spikes import SpikeTrain

OnSilent = Literal["ignore", "error"]

_SILENT_HINT = (
    "the loss is then constant in the silent neurons' parameters and gives them no gradient. Add "
    "jaxneuro.losses.firing_rate_penalty (lower bound) or jaxneuro.losses.silent_neuron_penalty to the loss "
    "to make the output neurons fire, or raise the input weights"
)


# ---------------------------------------------------------------- helpers
def _silent_mode(fn: str, on_silent: str) -> None:
    if on_silent not in ("ignore", "error"):
        raise ValueError(f"{fn}: on_silent must be 'ignore' or 'error', got on_silent = {on_silent!r}.")


def _neuron_axis(fn: str, name: str, x: ParamArray) -> Array:
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{fn}: {name} needs the output neurons on its last axis (at least one neuron); "
            f"got {name}.shape = {x.shape}."
        )
    return jnp.asarray(x)  # not 0-d, so already a jax array (as_float_array keeps only numbers on the host)


def _first_spikes(fn: str, spikes: SpikeTrain | ArrayLike, window: ArrayLike) -> Array:
    """First-spike times of a loss's input: a ``SpikeTrain`` or first-spike times (>= window: missing)."""
    if isinstance(spikes, SpikeTrain):
        t = first_spike_times(spikes, window)
    else:
        window = check_positive("window", as_float_array(window), unit="s")
        t = as_float_array(spikes)
        t = jnp.where(t >= window, window, t)  # inf (no spike) and late spikes -> the window; NaN passes
    return _neuron_axis(fn, "the first-spike times", jnp.asarray(t))


def _counts(fn: str, counts: SpikeTrain | ArrayLike) -> Array:
    if isinstance(counts, SpikeTrain):
        counts = counts.count
    # a count is a number of spikes: a negative or NaN one is a bug upstream, not a loss value
    return _neuron_axis(fn, "counts", check_range("counts", as_float_array(counts), lower=0.0))


def _label_mask(fn: str, x: Array, label: Int[ArrayLike, "*batch"] | None) -> Array:
    """A one-hot mask of ``label`` on ``x``'s last axis (all True for ``label=None``), with label checks."""
    if label is None:
        return jnp.ones(x.shape, bool)
    label = jnp.asarray(label)
    if not jnp.issubdtype(label.dtype, jnp.integer):
        raise ValueError(f"{fn}: label must be an integer array (class indices), got dtype {label.dtype}.")
    if label.shape != x.shape[:-1]:
        raise ValueError(
            f"{fn}: label.shape must equal the output's shape without its last (neuron) axis; "
            f"got label.shape = {label.shape} and output shape {x.shape}."
        )
    k = x.shape[-1]
    msg = f"{fn}: label must be a class index in [0, {k - 1}] (K = {k} output neurons)"
    if is_concrete(label):
        bad = (np.asarray(label) < 0) | (np.asarray(label) >= k)
        if np.any(bad):
            raise ValueError(f"{msg}; got label = {np.asarray(label)[bad] if label.ndim else np.asarray(label)}.")
    else:
        label = eqx.error_if(label, jnp.any((label < 0) | (label >= k)), f"{msg}; a traced label was outside it.")
    return jnp.arange(k) == jnp.asarray(label)[..., None]


def _cross_entropy(fn: str, logits: Array, label: Int[ArrayLike, ""]) -> Array:
    """``-log softmax(logits)_label`` by the stable log-sum-exp, with the label checked under ``fn``'s name."""
    mask = _label_mask(fn, logits, label)
    return -jnp.sum(jnp.where(mask, log_softmax(logits, axis=-1), 0.0))


def _check_bound(name: str, value: ArrayLike | None) -> ParamArray | None:
    if value is None:
        return None
    return check_range(name, as_float_array(value), lower=0.0)


# ---------------------------------------------------------------- first spikes
def first_spike_times(
    spikes: SpikeTrain | Float[ArrayLike, "*batch capacity"], window: float | Float[ArrayLike, ""]
) -> Float[Array, "*batch"]:
    """The first spike time of each train, ``window`` for a train without a spike in ``[.., window)``.

        t_first = min_p t_p   if that is < window,   else  window.

    A neuron that did not fire (``count == 0``), or whose first spike is at or after the end
    of the window, gets exactly ``window``: a finite stand-in for "later than anything
    observed", so the softmax of ``first_spike_cross_entropy`` stays finite.  Its gradient with
    respect to the spike times is zero (the stand-in is a constant); the gradient of a spike
    that did occur is passed through unchanged.  NaN times pass through as NaN (a diverging
    simulation shows up in the loss).  An overflowed train is fine here: its first slot still
    holds its first spike.

    Args:
        spikes: a ``jaxneuro.SpikeTrain`` (e.g. ``simulate_network(...).spikes``, batch shape
            ``(n,)``), or its ``times`` buffer: spike times (s) along the last axis, padded
            with ``inf``.
        window: the end of the observation window, in the unit of the times (s; > 0).

    Returns:
        First-spike times of shape ``spikes.count.shape`` (the buffer without its last axis).

    Raises:
        ValueError: if the buffer has no slot (capacity 0) or ``window`` is not a finite
            positive number (traced: at run time).

    Example:
        >>> train = jaxneuro.SpikeTrain.from_times([[0.012, 0.03], [jnp.inf, jnp.inf]])
        >>> [round(t, 4) for t in first_spike_times(train, 0.05).tolist()]  # neuron 1 did not fire
        [0.012, 0.05]
    """
    window = check_positive("window", as_float_array(window), unit="s")
    if isinstance(spikes, SpikeTrain):
        times, fired = spikes.times, spikes.count > 0
    else:
        times = as_float_array(spikes)
        fired = None
    if times.ndim == 0 or times.shape[-1] == 0:
        raise ValueError(
            "first_spike_times: the spike times need a last axis of capacity >= 1 (the spikes of one "
            f"train); got shape {times.shape}."
        )
    first = times[..., 0] if fired is not None else jnp.min(times, axis=-1)
    missing = first >= window  # inf (no spike) and late spikes; NaN compares False and passes through
    if fired is not None:
        missing = missing | ~fired
    return jnp.where(missing, jnp.asarray(window, first.dtype), first)


def check_spikes(
    spikes: SpikeTrain | Float[ArrayLike, "*batch n"],
    window: float | Float[ArrayLike, ""],
    *,
    require: Literal["any", "all"] = "any",
    what: str = "check_spikes",
) -> SpikeTrain | Float[Array, "*batch n"]:
    """``spikes``, after checking that each sample's output fired inside the window.

    ``require="any"``: at least one output neuron fired (the last axis holds the neurons:
    first-spike times of shape ``(*batch, n)``, or a ``SpikeTrain`` whose ``count`` has shape
    ``(*batch, n)``); ``"all"``: every output neuron fired.  A neuron fired when its first
    spike is before ``window`` (see ``first_spike_times``).  Concrete input raises a
    ``ValueError`` at once; traced input (inside ``jit``, ``vmap``, ``grad``) raises at run
    time through ``eqx.error_if``.  The message suggests the regularisers.

    Args:
        spikes: a ``SpikeTrain`` or first-spike times (s; ``inf`` or ``>= window`` for none).
        window: the end of the observation window (s; > 0).
        require: ``"any"`` or ``"all"``.
        what: the name used in the message (the loss that needs the spikes).

    Returns:
        ``spikes``, unchanged in value (carrying the run-time check when traced).

    Raises:
        ValueError: for a silent sample (``"any"``) or a silent neuron (``"all"``), or bad
            arguments.

    Example:
        >>> check_spikes(jnp.array([jnp.inf, jnp.inf]), 0.05)
        Traceback (most recent call last):
        ...
        ValueError: check_spikes: no output neuron fired before the end of the window ...
    """
    if require not in ("any", "all"):
        raise ValueError(f"check_spikes: require must be 'any' or 'all', got require = {require!r}.")
    if isinstance(spikes, SpikeTrain):
        fired = first_spike_times(spikes, window) < jnp.asarray(window)
    else:
        spikes = jnp.asarray(as_float_array(spikes))  # a number fails the neuron-axis check below
        fired = ~(spikes >= jnp.asarray(window))  # NaN is not reported as silent: it passes to the loss
    fired = _neuron_axis(what, "spikes", fired)
    ok = jnp.any(fired, axis=-1) if require == "any" else jnp.all(fired, axis=-1)
    who = "no output neuron fired" if require == "any" else "an output neuron did not fire"
    msg = f"{what}: {who} before the end of the window (require = {require!r}); {_SILENT_HINT}."
    if is_concrete(ok):
        if not np.all(np.asarray(ok)):
            raise ValueError(msg)
        return spikes
    if isinstance(spikes, SpikeTrain):
        return eqx.error_if(spikes, ~jnp.all(ok), msg)
    return error_if_any(spikes, ~ok, msg)


def first_spike_cross_entropy(
    spikes: SpikeTrain | Float[ArrayLike, " n"],
    label: Int[ArrayLike, ""],
    *,
    tau: float | Float[ArrayLike, ""],
    window: float | Float[ArrayLike, ""],
    on_silent: OnSilent = "ignore",
) -> Float[Array, ""]:
    """Time-to-first-spike cross-entropy: the label neuron should fire first.

        L(t, k) = -log softmax(-t / tau)_k = t_k / tau + log sum_j exp(-t_j / tau),

    a softmax cross-entropy with logits ``-t_j / tau`` (Mostafa 2017; Göltz et al. 2021), where
    ``t_j`` is output neuron ``j``'s first spike time and a neuron that did not fire in the
    window counts as firing at ``t_j = window`` (see ``first_spike_times``).  Computed by the
    stable log-sum-exp, so it is finite for any spike times, also for a fully silent output
    (then ``L = log n`` and the gradient is zero).  ``dL/dt_j = ([j = k] - softmax(-t/tau)_j) / tau``:
    the label neuron is pulled earlier and the others pushed later.

    Args:
        spikes: the output layer's ``SpikeTrain`` (batch shape ``(n,)``) or its first-spike
            times (s), shape ``(n,)``, with ``inf`` (or any time ``>= window``) for no spike.
        label: the class index in ``[0, n)`` (integer).
        tau: the softmax's time scale (s; at least ``finfo(dtype).tiny``): a spike earlier by
            ``tau`` weighs ``e`` times more.
        window: the end of the observation window (s; > 0).
        on_silent: ``"ignore"`` (a finite loss for a silent output) or ``"error"``: raise, as
            ``check_spikes``, when no output neuron fired.

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: bad label (type, shape, range), ``tau`` below the smallest normal number of
            its dtype (1.17549e-38 in float32) or ``window`` not positive, an unknown
            ``on_silent``, or (``on_silent="error"``) a silent output.

    Example:
        >>> t = jnp.array([0.010, 0.012, jnp.inf])  # neuron 2 did not fire
        >>> round(float(first_spike_cross_entropy(t, 0, tau=0.005, window=0.05)), 4)
        0.5132

    References:
        H. Mostafa, "Supervised learning based on temporal coding in spiking neural networks",
        IEEE TNNLS 2017.  J. Göltz et al., "Fast and energy-efficient neuromorphic deep learning
        with first-spike times", Nature Machine Intelligence 2021.
    """
    fn = "first_spike_cross_entropy"
    _silent_mode(fn, on_silent)
    # a subnormal tau is flushed to zero by XLA (-t / 0: NaN): at least the dtype's smallest normal,
    # which keeps 1/tau, and so the gradient, finite
    tau = check_positive_normal("tau", as_float_array(tau), unit="s")
    t = _first_spikes(fn, spikes, window)
    if on_silent == "error":
        t = check_spikes(t, window, what=fn)
        assert not isinstance(t, SpikeTrain)  # given first-spike times, it returns them
    # softmax(-t / tau) shifted by the earliest time (no change in value or gradient): the largest
    # logit is 0, so a (t_j - t_min) / tau that overflows is a zero weight, never inf - inf
    shift = jax.lax.stop_gradient(jnp.min(t, axis=-1, keepdims=True))
    return _cross_entropy(fn, -(t - shift) / tau, label)


def late_spike_penalty(
    spikes: SpikeTrain | Float[ArrayLike, " n"],
    label: Int[ArrayLike, ""] | None = None,
    *,
    tau: float | Float[ArrayLike, ""],
    window: float | Float[ArrayLike, ""],
) -> Float[Array, ""]:
    """Loss shaping: pull first spikes earlier, the later the harder.

        P(t) = sum_j [exp(t_j / tau) - 1],   dP/dt_j = exp(t_j / tau) / tau,

    summed over the label neuron only (``label`` given) or over every output neuron.  The
    regularising term of Göltz et al. (2021), used with exact (EventProp) gradients by
    Nowotny et al. (2022) so that the label neuron fires early and reliably rather than merely
    before the others.  Missing spikes count at ``window`` (``first_spike_times``): the term is
    then at its largest but constant, so pair it with ``silent_neuron_penalty`` to reach
    neurons that do not fire.  ``exp(window / tau)`` must stay finite: ``window / tau <= 80``.

    Args:
        spikes: the output layer's ``SpikeTrain`` or first-spike times (s), shape ``(n,)``.
        label: the neuron to pull (integer in ``[0, n)``), or None for all.
        tau: time scale (s; > 0); ``window / tau`` at most 80.
        window: the end of the observation window (s; > 0).

    Returns:
        A scalar (dimensionless, >= 0 for non-negative times); weigh it against the main loss.

    Raises:
        ValueError: bad label, ``tau`` or ``window``, or ``window / tau > 80``.

    Example:
        >>> t = jnp.array([0.010, 0.020])
        >>> round(float(late_spike_penalty(t, 0, tau=0.01, window=0.05)), 4)  # e - 1
        1.7183

    References:
        J. Göltz et al., Nature Machine Intelligence 2021 (eq. 4).  T. Nowotny, J. P. Turner,
        J. C. Knight, "Loss shaping enhances exact gradient learning with EventProp in spiking
        neural networks", arXiv:2212.01232 (2022).
    """
    fn = "late_spike_penalty"
    tau = check_positive("tau", as_float_array(tau), unit="s")
    window = check_positive("window", as_float_array(window), unit="s")
    bound = check_range("window / tau", window / tau, upper=80.0)  # traced: carries the run-time check
    t = _first_spikes(fn, spikes, window)
    mask = _label_mask(fn, t, label)
    x = jnp.minimum(t / tau, bound)  # t <= window: a no-op in value, it threads the check through
    return jnp.sum(jnp.where(mask, jnp.expm1(x), 0.0))


def silent_neuron_penalty(
    v_peak: Float[ArrayLike, " n"],
    spikes: SpikeTrain | Float[ArrayLike, " n"],
    label: Int[ArrayLike, ""] | None = None,
    *,
    threshold: float | Float[ArrayLike, ""],
    window: float | Float[ArrayLike, ""],
) -> Float[Array, ""]:
    """Loss shaping: a gradient for neurons that did not fire, through their peak potential.

        P = 1/2 sum_j [j silent] * max(0, threshold - v_peak_j)^2,

    over the label neuron (``label`` given) or every output neuron, where a neuron is silent
    when it has no spike before ``window``.  A missing spike has no spike time to differentiate
    (exact spike-time gradients carry no information about spikes that could appear, Nowotny
    et al. 2022); the peak membrane potential ``v_peak_j = max_t v_j(t)`` is differentiable in
    the weights, and raising it to the threshold makes the neuron fire.  The term is zero for
    neurons that fired.

    Args:
        v_peak: each output neuron's largest membrane potential in the window, e.g.
            ``result.v.max(axis=0)`` of a network simulated with recorded traces (mV or V,
            as ``threshold``), shape ``(n,)``.
        spikes: the output layer's ``SpikeTrain`` or first-spike times (s), shape ``(n,)``,
            deciding which neurons are silent.
        label: a neuron (integer in ``[0, n)``) to restrict the penalty to, or None for all.
        threshold: the firing threshold, in the unit of ``v_peak``.
        window: the end of the observation window (s; > 0).

    Returns:
        A scalar, in squared units of ``v_peak``.

    Raises:
        ValueError: if ``v_peak`` and the spikes differ in shape, or bad label or ``window``.

    Example:
        >>> v_peak, t = jnp.array([0.8, 1.0]), jnp.array([jnp.inf, 0.02])  # neuron 0 is silent
        >>> round(float(silent_neuron_penalty(v_peak, t, threshold=1.0, window=0.05)), 4)
        0.02
    """
    fn = "silent_neuron_penalty"
    v_peak = _neuron_axis(fn, "v_peak", as_float_array(v_peak))
    t = _first_spikes(fn, spikes, window)
    if v_peak.shape != t.shape:
        raise ValueError(
            f"{fn}: v_peak must have one value per output neuron, the shape of the first-spike times; "
            f"got v_peak.shape = {v_peak.shape} and {t.shape}."
        )
    silent = (t >= jnp.asarray(window)) & _label_mask(fn, t, label)
    gap = jax.nn.relu(as_float_array(threshold) - v_peak)
    return 0.5 * jnp.sum(jnp.where(silent, gap**2, 0.0))


# ---------------------------------------------------------------- spike counts
def spike_count_cross_entropy(
    counts: SpikeTrain | Float[ArrayLike, " n"],
    label: Int[ArrayLike, ""],
    *,
    scale: float | Float[ArrayLike, ""] = 1.0,
    on_silent: OnSilent = "ignore",
) -> Float[Array, ""]:
    """Cross-entropy with spike counts as logits: the label neuron should fire most.

        L(c, k) = -log softmax(s c)_k = log sum_j exp(s c_j) - s c_k,

    with ``s = scale`` (snnTorch's ``ce_count_loss`` for ``s = 1``).  Stable log-sum-exp, so
    finite for any counts; a silent output (all ``c_j = 0``) gives ``log n`` and, with
    respect to the counts, the gradient ``(1/n - [j = k]) s``.  Counts are piecewise constant in
    the weights of an exactly simulated network (zero gradient almost everywhere): use it with
    surrogate-gradient (differentiable) counts, such as the sum of a stepped network's spike
    raster.  A ``SpikeTrain``'s integer ``count`` carries no gradient.

    Args:
        counts: spike counts of the output neurons, shape ``(n,)`` (float: differentiable), or a
            ``SpikeTrain`` with batch shape ``(n,)``.
        label: the class index in ``[0, n)`` (integer).
        scale: logits per spike (> 0); smaller values soften the softmax.
        on_silent: ``"ignore"`` or ``"error"`` (raise when no output neuron fired).

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: bad label or ``scale``, unknown ``on_silent``, or (``"error"``) a silent output.

    Example:
        >>> round(float(spike_count_cross_entropy(jnp.array([3.0, 1.0, 0.0]), 0)), 4)
        0.1698
    """
    fn = "spike_count_cross_entropy"
    _silent_mode(fn, on_silent)
    scale = check_positive("scale", as_float_array(scale))
    c = _counts(fn, counts)
    if on_silent == "error":
        c = _check_counts(fn, c)
    return _cross_entropy(fn, c * scale, label)


def _check_counts(fn: str, c: Array) -> Array:
    ok = jnp.any(c > 0, axis=-1)
    msg = f"{fn}: no output neuron fired (all spike counts are 0); {_SILENT_HINT}."
    if is_concrete(ok):
        if not np.all(np.asarray(ok)):
            raise ValueError(msg)
        return c
    return error_if_any(c, ~ok, msg)


def spike_count_mse(counts: SpikeTrain | Float[ArrayLike, " n"], target: Float[ArrayLike, " n"]) -> Float[Array, ""]:
    """Squared error of spike counts to target counts: ``L(c, c*) = 1/2 sum_j (c_j - c*_j)^2``.

    For classification a target is typically many spikes for the label neuron and few for the
    others (snnTorch's ``mse_count_loss``), e.g.
    ``jnp.where(jnp.arange(n) == label, 20.0, 2.0)``.  Zero counts are a valid output here (the
    loss is finite and its gradient with respect to the counts is ``c - c*``); as for
    ``spike_count_cross_entropy``, a gradient reaches the weights only through differentiable
    (surrogate) counts.

    Args:
        counts: spike counts (float, differentiable) of shape ``(n,)``, or a ``SpikeTrain``.
        target: target counts (>= 0), same shape.

    Returns:
        A scalar, in spikes squared.

    Raises:
        ValueError: if the shapes differ or a concrete target is negative or not finite.

    Example:
        >>> float(spike_count_mse(jnp.array([3.0, 1.0]), jnp.array([5.0, 1.0])))
        2.0
    """
    c = _counts("spike_count_mse", counts)
    target = check_range("target", as_float_array(target), lower=0.0)
    return mse(c, target)


# ---------------------------------------------------------------- leaky readout
def leaky_readout(
    inputs: Float[ArrayLike, " time *n"],
    *,
    dt: float | Float[ArrayLike, ""],
    tau: float | Float[ArrayLike, ""],
    v0: float | Float[ArrayLike, "*n"] = 0.0,
) -> Float[Array, " time *n"]:
    """The membrane trace of non-spiking leaky readout neurons, ``tau dv/dt = -v + I(t)``.

    Integrated exactly for an input held constant over each step (zero-order hold):

        v_k = a v_{k-1} + (1 - a) I_k,   a = exp(-dt / tau),   v_{-1} = v0,

    so ``v_k`` is the potential at the end of step ``k`` and a constant input ``I`` drives
    ``v`` to ``I`` (unit gain).  For spikes, pass the output layer's binned spikes times a
    weight (e.g. ``raster @ w_out``), or the synaptic current; ``max_over_time_cross_entropy``
    then reads it out (Cramer et al. 2020).

    Args:
        inputs: the input on each step, time on the first axis, shape ``(time, *n)``.
        dt: step (s; > 0).
        tau: membrane time constant (s; > 0).
        v0: the potential before the first step, broadcastable to ``n``.

    Returns:
        The potentials ``v_k``, the shape of ``inputs``.

    Raises:
        ValueError: if ``inputs`` has no time axis or is empty, ``dt`` or ``tau`` is not
            positive, or ``v0`` does not broadcast to ``inputs.shape[1:]``.

    Example:
        >>> v = leaky_readout(jnp.ones((3, 1)), dt=0.001, tau=0.001)
        >>> [round(float(x), 4) for x in v[:, 0]]  # 1 - e^-k
        [0.6321, 0.8647, 0.9502]
    """
    x = as_float_array(inputs)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"leaky_readout: inputs need a non-empty time axis first; got inputs.shape = {x.shape}.")
    dt = check_positive("dt", as_float_array(dt), unit="s")
    tau = check_positive_normal("tau", as_float_array(tau), unit="s")
    ratio = jnp.asarray(dt) / tau  # (in JAX: an overflow is inf, a = 0, not numpy's RuntimeWarning)
    a = jnp.exp(-ratio)
    gain = -jnp.expm1(-ratio)  # 1 - a without cancellation for dt << tau
    v_init = as_float_array(v0)
    try:
        v_init = jnp.broadcast_to(v_init, x.shape[1:]).astype(x.dtype)
    except ValueError:
        raise ValueError(
            f"leaky_readout: v0 must broadcast to one value per readout neuron, shape {x.shape[1:]} "
            f"(inputs.shape[1:]); got v0.shape = {v_init.shape}."
        ) from None

    def step(v, i):
        v = a * v + gain * i
        return v, v

    _, vs = jax.lax.scan(step, v_init, x)
    return vs


def max_over_time_cross_entropy(v: Float[ArrayLike, " time n"], label: Int[ArrayLike, ""]) -> Float[Array, ""]:
    """Cross-entropy on the maximum over time of readout membrane traces.

        L(v, k) = -log softmax(m)_k,   m_j = max_t v_j(t),

    the max-over-time readout of Cramer et al. (2020) and snnTorch/Spyx: output neuron ``j`` is
    a non-spiking leaky integrator (``leaky_readout``) and its peak potential is the logit of
    class ``j``.  The gradient reaches each trace at its maximum.  Finite for any finite
    traces (stable log-sum-exp); no spikes needed, so it cannot go silent.

    Args:
        v: readout traces, time on the first axis and the output neurons on the last, shape
            ``(time, n)`` (the unit of the potential is the logits' unit).
        label: the class index in ``[0, n)`` (integer).

    Returns:
        A scalar, in nats.

    Raises:
        ValueError: if ``v`` is not 2-D or is empty, or a bad label.

    Example:
        >>> v = jnp.array([[0.0, 0.0], [2.0, 0.5], [1.0, 1.0]])
        >>> round(float(max_over_time_cross_entropy(v, 0)), 4)  # softmax of [2, 1]
        0.3133

    References:
        B. Cramer et al., "The Heidelberg spiking data sets for the systematic evaluation of
        spiking neural networks", IEEE TNNLS 2020.
    """
    v = as_float_array(v)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise ValueError(
            f"max_over_time_cross_entropy: v must have shape (time, n) with time, n >= 1; got v.shape = {v.shape}."
        )
    return _cross_entropy("max_over_time_cross_entropy", jnp.max(v, axis=0), label)


# ---------------------------------------------------------------- firing rates
def firing_rate_penalty(
    rates: SpikeTrain | Float[ArrayLike, "*n"],
    *,
    lower: float | Float[ArrayLike, "*n"] | None = None,
    upper: float | Float[ArrayLike, "*n"] | None = None,
    population: bool = False,
) -> Float[Array, ""]:
    """A squared-hinge penalty that keeps firing rates inside ``[lower, upper]``.

    Per neuron (``population=False``), the mean over the neurons of

        max(0, lower - r_i)^2 + max(0, r_i - upper)^2;

    for the population (``population=True``), the same of the mean rate ``r = mean_i r_i``.
    A per-neuron lower bound keeps every neuron active (a neuron that does not fire gives its
    gradient nothing), a population upper bound keeps activity sparse without forcing each
    neuron (Zenke & Vogels 2021); call it twice for both.  Zero inside the bounds.  The rates
    must be differentiable for a gradient (surrogate-gradient counts, or ``spike_count / T``
    of a stepped network): exact spike counts are piecewise constant.

    Args:
        rates: rates or spike counts of the neurons (any shape; the bounds in the same unit),
            or a ``SpikeTrain`` (its counts, no gradient).
        lower: lower bound (>= 0), broadcastable to ``rates``, or None.
        upper: upper bound (>= 0), broadcastable, or None.  At least one bound is needed.
        population: penalise the mean rate instead of each neuron's.

    Returns:
        A scalar, in squared units of the rates.

    Raises:
        ValueError: with neither bound, a negative or non-finite bound, ``lower > upper``, or
            empty ``rates``.

    Example:
        >>> r = jnp.array([0.0, 5.0, 30.0])  # Hz
        >>> float(firing_rate_penalty(r, lower=2.0, upper=20.0))  # (2^2 + 10^2) / 3
        34.666...
    """
    fn = "firing_rate_penalty"
    if lower is None and upper is None:
        raise ValueError(f"{fn}: give a lower bound, an upper bound or both; got lower = None and upper = None.")
    r = rates.count if isinstance(rates, SpikeTrain) else rates
    r = as_float_array(r)
    if r.size == 0:
        raise ValueError(f"{fn}: rates is empty (shape {r.shape}); it needs at least one neuron.")
    lo, hi = _check_bound("lower", lower), _check_bound("upper", upper)
    if lo is not None and hi is not None:
        if is_concrete(lo) and is_concrete(hi):
            if np.any(np.asarray(lo) > np.asarray(hi)):
                raise ValueError(
                    f"{fn}: lower must not exceed upper; got lower = {np.asarray(lo)} and upper = {np.asarray(hi)}."
                )
        else:
            lo = error_if_any(lo, lo > hi, f"{fn}: lower must not exceed upper (a traced bound was outside it).")
    if population:
        r = jnp.mean(r)
    penalty = jnp.zeros_like(r)
    if lo is not None:
        penalty = penalty + jax.nn.relu(lo - r) ** 2
    if hi is not None:
        penalty = penalty + jax.nn.relu(r - hi) ** 2
    return jnp.mean(penalty)


__all__ = [
    "check_spikes",
    "firing_rate_penalty",
    "first_spike_cross_entropy",
    "first_spike_times",
    "late_spike_penalty",
    "leaky_readout",
    "max_over_time_cross_entropy",
    "silent_neuron_penalty",
    "spike_count_cross_entropy",
    "spike_count_mse",
]

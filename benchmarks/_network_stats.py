"""Population statistics of spiking-network output, for comparing simulators (numpy only).

The input is a spike list as a ``SpikeMonitor`` gives it: ``i`` (neuron index per spike) and
``t`` (spike time in seconds), plus the network size ``n`` and the simulated ``duration_s``.
Every statistic is computed over the analysis window ``W = [transient_s, duration_s)`` (length
``T = duration_s - transient_s``) unless its name says otherwise, for the whole network
(``"all"``) and for each population given as a ``slice`` of neuron indices.

Definitions, for a population of ``N`` neurons with ``n_j`` spikes of neuron ``j`` inside ``W``:

- ``rate_hz``: mean firing rate, ``sum_j n_j / (N T)``. ``rate_full_hz``: the same over the whole
  run ``[0, duration_s)``.
- ``silent``: fraction of neurons with ``n_j = 0`` in ``W``. ``silent_full``: fraction of neurons
  without any spike in the whole run ``[0, duration_s)``.
- ``cv``: mean over the ``n_cv`` neurons with ``n_j >= 3`` (at least two intervals) of
  ``CV_j = std(ISI_j) / mean(ISI_j)``, the ISIs being the differences of consecutive spike times
  of neuron ``j`` inside ``W`` (population standard deviation, ``ddof = 0``); NaN if ``n_cv = 0``.
- ``fano``: Fano factor of the population spike count in bins of ``bin_s``: with ``c_k`` the number
  of spikes of the population in bin ``k`` of ``W`` (``K = floor(T / bin_s)`` whole bins),
  ``F = var_k(c_k) / mean_k(c_k)`` (``ddof = 0``); 1 for independent Poisson neurons, larger when
  the neurons fire together.
- ``chi``: synchrony measure of Golomb (2007, Scholarpedia "Neuronal synchrony measures") on
  binned spike counts: with ``x_j(k)`` the spike count of neuron ``j`` in bin ``k`` and
  ``X(k) = (1/N) sum_j x_j(k)`` the population average,
  ``chi^2 = var_k(X) / ((1/N) sum_j var_k(x_j))``; ``chi`` is in ``[0, 1]``: 1 for fully
  synchronous firing, of order ``1 / sqrt(N)`` for asynchronous firing. Silent neurons count in
  ``N`` (in ``X`` and in the denominator's average, with ``var = 0``). NaN if no spikes.
  Golomb's definition uses the membrane potentials or smoothed activities; with bins of ``bin_s``
  this is its spike-count version, and it depends on the bin width.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

METRICS = ("rate_hz", "rate_full_hz", "silent", "silent_full", "cv", "n_cv", "fano", "chi", "n_spikes")


def default_populations(n: int, n_exc: int) -> dict[str, slice]:
    """``{"exc": slice(0, n_exc), "inh": slice(n_exc, n)}``: excitatory neurons first, as in Brian2's examples."""
    return {"exc": slice(0, n_exc), "inh": slice(n_exc, n)}


def _group_stats(
    i: np.ndarray,
    t: np.ndarray,
    n_pop: int,
    first: int,
    duration_s: float,
    transient_s: float,
    bin_s: float,
    full_counts: np.ndarray,
) -> dict[str, float]:
    """Statistics of one population; ``i`` already restricted to it and to the window, shifted to ``0 .. n_pop-1``."""
    window = duration_s - transient_s
    out: dict[str, float] = {"n": float(n_pop), "first": float(first), "n_spikes": float(i.size)}
    out["rate_hz"] = i.size / (n_pop * window) if n_pop else math.nan
    out["rate_full_hz"] = float(full_counts.sum()) / (n_pop * duration_s) if n_pop else math.nan
    out["silent_full"] = float(np.mean(full_counts == 0)) if n_pop else math.nan
    counts = np.bincount(i, minlength=n_pop)
    out["silent"] = float(np.mean(counts == 0)) if n_pop else math.nan

    # CV of the ISIs: sort by (neuron, time), differences inside each neuron's run of spikes.
    order = np.lexsort((t, i))
    si, st = i[order], t[order]
    isi = np.diff(st)
    same = si[1:] == si[:-1]
    isi, owner = isi[same], si[1:][same]
    eligible = counts >= 3
    if np.any(eligible):
        k = np.maximum(np.bincount(owner, minlength=n_pop), 1).astype(np.float64)
        mean = np.bincount(owner, weights=isi, minlength=n_pop) / k
        var = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n_pop) / k
        out["cv"] = float(np.mean(np.sqrt(var[eligible]) / mean[eligible]))
    else:
        out["cv"] = math.nan
    out["n_cv"] = float(np.count_nonzero(eligible))

    # Binned counts: population (Fano) and per neuron (chi).
    n_bins = int(math.floor(window / bin_s + 1e-9))
    b = np.floor((t - transient_s) / bin_s + 1e-9).astype(np.int64)
    keep = (b >= 0) & (b < n_bins)
    b, ib = b[keep], i[keep]
    if n_bins < 2 or b.size == 0:
        out["fano"] = math.nan
        out["chi"] = math.nan
        return out
    c = np.bincount(b, minlength=n_bins).astype(np.float64)
    out["fano"] = float(np.var(c) / np.mean(c))
    # var_k(x_j) = mean_k(x_j^2) - mean_k(x_j)^2, from the counts per occupied (neuron, bin) pair.
    pairs, pair_counts = np.unique(ib * n_bins + b, return_counts=True)
    pair_neuron = pairs // n_bins
    sum_x2 = np.bincount(pair_neuron, weights=pair_counts.astype(np.float64) ** 2, minlength=n_pop)
    sum_x = np.bincount(ib, minlength=n_pop).astype(np.float64)
    var_j = sum_x2 / n_bins - (sum_x / n_bins) ** 2
    denom = float(np.mean(var_j))
    var_pop = float(np.var(c / n_pop))
    out["chi"] = math.sqrt(var_pop / denom) if denom > 0 else math.nan
    return out


def population_stats(
    i: np.ndarray,
    t: np.ndarray,
    n: int,
    duration_s: float,
    populations: Mapping[str, slice] | None = None,
    transient_s: float = 0.2,
    bin_s: float = 1e-3,
) -> dict[str, dict[str, float]]:
    """Rates, silent fraction, CV of ISIs, Fano factor and synchrony chi of a spiking network.

    Args:
        i: neuron index of each spike (ints in ``0 .. n-1``).
        t: time of each spike in seconds (same length as ``i``).
        n: number of neurons in the network.
        duration_s: simulated duration in seconds (the run covers ``[0, duration_s)``).
        populations: name -> ``slice`` of neuron indices (contiguous), e.g.
            ``{"exc": slice(0, 3200), "inh": slice(3200, 4000)}``; ``None`` for the whole network only.
        transient_s: start of the analysis window in seconds (spikes before it are discarded,
            except for ``rate_full_hz``).
        bin_s: bin width in seconds for the Fano factor and chi.

    Returns:
        ``{"all": stats, name: stats, ...}``, each ``stats`` a dict with ``rate_hz``,
        ``rate_full_hz``, ``silent``, ``silent_full``, ``cv``, ``n_cv``, ``fano``, ``chi``, ``n_spikes``, ``n`` and
        ``first`` (first neuron index); definitions in the module docstring.
    """
    i = np.asarray(i, dtype=np.int64).ravel()
    t = np.asarray(t, dtype=np.float64).ravel()
    if i.shape != t.shape:
        raise ValueError(f"i and t differ in length: {i.size} != {t.size}")
    if not 0 <= transient_s < duration_s:
        raise ValueError(f"need 0 <= transient_s < duration_s, got {transient_s} and {duration_s}")
    groups: dict[str, slice] = {"all": slice(0, n)}
    groups.update(populations or {})
    in_window = t >= transient_s
    out: dict[str, dict[str, float]] = {}
    for name, sl in groups.items():
        start, stop, step = sl.indices(n)
        if step != 1:
            raise ValueError(f"population {name!r}: only contiguous slices are supported")
        member = (i >= start) & (i < stop)
        sel = member & in_window
        out[name] = _group_stats(
            i[sel] - start,
            t[sel],
            stop - start,
            start,
            duration_s,
            transient_s,
            bin_s,
            np.bincount(i[member] - start, minlength=stop - start),
        )
    return out


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.0f}"


def format_row(label: str, stats: Mapping[str, Mapping[str, float]], pops: Sequence[str] | None = None) -> str:
    """One plain-text table row: rate (all and per population), silent, CV, Fano, chi of ``"all"``."""
    pops = [p for p in (pops or stats.keys()) if p != "all"]
    a = stats["all"]
    rates = " / ".join(_fmt(stats[p]["rate_hz"]) for p in pops)
    return (
        f"{label:<24} rate {_fmt(a['rate_hz']):>6} Hz ({rates})  silent {_fmt(a['silent'], 2):>5}"
        f"  CV {_fmt(a['cv']):>5}  Fano {_fmt(a['fano']):>5}  chi {_fmt(a['chi']):>6}"
    )


def _mean_sd(values: Sequence[float]) -> str:
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return "nan"
    if v.size == 1:
        return _fmt(float(v[0]))
    return f"{_fmt(float(v.mean()))}+-{_fmt(float(v.std(ddof=1)), 2)}"


def compare(
    stats_a: Mapping[str, Mapping[str, float]],
    stats_b_list: Sequence[Mapping[str, Mapping[str, float]]],
    labels: tuple[str, str] = ("a", "b"),
    metrics: Sequence[str] = ("rate_hz", "silent", "cv", "fano", "chi"),
) -> str:
    """Plain-text table: for each population and metric, ``stats_a``'s value against the mean +- sd
    (sample sd over the list, e.g. over seeds) of the same metric in ``stats_b_list``, and how many
    of those sds apart they are (``z``; +-inf when the sd is 0 and the values differ)."""
    lines = [f"{'pop':<5} {'metric':<8} {labels[0]:>10} {labels[1] + ' (mean+-sd)':>22} {'z':>6}"]
    for pop in stats_a:
        for m in metrics:
            a = float(stats_a[pop][m])
            bs = [float(s[pop][m]) for s in stats_b_list if pop in s]
            finite = [x for x in bs if not math.isnan(x)]
            if len(finite) >= 2 and not math.isnan(a):
                sd = float(np.std(finite, ddof=1))
                diff = a - float(np.mean(finite))
                z = diff / sd if sd > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
                zs = f"{z:+.1f}"
            else:
                zs = "-"
            lines.append(f"{pop:<5} {m:<8} {_fmt(a):>10} {_mean_sd(bs):>22} {zs:>6}")
    return "\n".join(lines)


__all__ = ["METRICS", "compare", "default_populations", "format_row", "population_stats"]

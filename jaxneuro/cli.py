"""Command line: ``jaxneuro tuning | train | data``.

``jaxneuro tuning --neuron lif|hh --n N --out DIR`` is the main job: a tuning-curve sweep
written as CSV and PNG with a short summary.  ``train`` and ``data`` come from
``jaxneuro.train`` and ``jaxneuro.data`` (each module registers its own subcommand).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from . import __version__
from ._quiet import quiet_third_party

_DEFAULT_RANGE = {"lif": (0.0, 5.0), "hh": (0.0, 50.0)}
_DEFAULT_CHUNK = {"lif": 10_000, "hh": 250}


def run_tuning(args: argparse.Namespace) -> int:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxneuro as jn

    if args.float64:
        jax.config.update("jax_enable_x64", True)
    lo, hi = _DEFAULT_RANGE[args.neuron]
    lo = lo if args.min is None else args.min
    hi = hi if args.max is None else args.max
    if not hi > lo:
        raise SystemExit(f"error: --max must be greater than --min; got min = {lo}, max = {hi}.")
    if args.n < 1:
        raise SystemExit(f"error: --n must be a positive integer; got {args.n}.")
    neuron = jn.LIF(tau_m=args.tau_m, tau_ref=args.tau_ref) if args.neuron == "lif" else jn.HodgkinHuxley()
    unit = "v_in (normalised)" if args.neuron == "lif" else "J (uA/cm^2)"
    inputs = np.linspace(lo, hi, args.n)
    chunk = min(args.chunk or _DEFAULT_CHUNK[args.neuron], args.n)
    n_chunks = -(-args.n // chunk)
    padded = np.concatenate([inputs, np.full(n_chunks * chunk - args.n, inputs[-1])]).reshape(n_chunks, chunk)
    per = type(neuron).seconds_per_time_unit  # the command line is in seconds; the library in the neuron's unit
    transient = None if args.transient is None else args.transient / per
    kwargs = dict(duration=args.duration / per, transient=transient, method=args.method, dt=args.dt)

    def sweep(x):
        return jn.tuning_curve(neuron, jnp.asarray(x), **kwargs).block_until_ready()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"jaxneuro {__version__}: {args.neuron.upper()} tuning curve, {args.n} inputs {unit} in [{lo:g}, {hi:g}], "
        f"{args.duration:g} s each, {n_chunks} chunk(s) of {chunk}",
        flush=True,
    )
    t = time.perf_counter()
    sweep(padded[0])
    first = time.perf_counter() - t
    start = time.perf_counter()
    rates = []
    from ._progress import ProgressBar

    with ProgressBar(total=n_chunks, unit="chunk", desc="chunks", stream=sys.stderr) as bar:
        for x in padded:
            rates.append(np.asarray(sweep(x)))
            bar.update(1)
    run = time.perf_counter() - start
    rates = np.concatenate(rates)[: args.n]
    compile_time = max(first - run / n_chunks, 0.0)

    csv = out / f"tuning_{args.neuron}.csv"
    np.savetxt(csv, np.column_stack([inputs, rates]), delimiter=",", header="input,rate_hz", comments="", fmt="%.9g")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plot import plot_tuning_curve

    fig, ax = plt.subplots(figsize=(6, 4))
    analytic = None
    if args.neuron == "lif":
        xs = np.linspace(lo, hi, 2000)
        analytic = (xs, np.asarray(jn.lif_rate(xs, args.tau_m, args.tau_ref)))
    plot_tuning_curve(
        inputs,
        rates,
        analytic=analytic,
        ax=ax,
        xlabel=unit,
        label="simulated (exact events)" if args.neuron == "lif" else "simulated",
    )
    ax.set_title(f"{args.neuron.upper()} tuning curve ({args.n} inputs)")
    fig.tight_layout()
    png = out / f"tuning_{args.neuron}.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)

    firing = rates > 0
    print(f"  inputs      : {args.n} in [{lo:g}, {hi:g}] {unit}")
    print(f"  compile     : {compile_time:.3f} s (first call minus one steady call)")
    print(f"  run         : {run:.3f} s ({args.n / run:,.0f} inputs/s)")
    if firing.any():
        print(f"  rates       : {rates.min():.2f} to {rates.max():.2f} Hz; firing from input {inputs[firing][0]:.4g}")
    else:
        print("  rates       : no input fired")
    if args.neuron == "lif":
        ref = np.asarray(jn.lif_rate(inputs, args.tau_m, args.tau_ref))
        mask = inputs >= 1.05
        if mask.any():
            worst = np.max(np.abs(rates[mask] - ref[mask]) / ref[mask])
            print(f"  vs analytic : max relative error {worst:.2e} (v_in >= 1.05)")
    print(f"  wrote       : {csv} and {png}")
    return 0


def _register_tuning(subparsers) -> None:
    p = subparsers.add_parser(
        "tuning",
        help="tuning-curve sweep (CSV + PNG)",
        description="Steady-state firing rate against constant input for N inputs in one jitted call.",
    )
    p.add_argument("--neuron", choices=["lif", "hh"], default="lif")
    p.add_argument("--n", type=int, default=10_000, help="number of inputs (default 10000)")
    p.add_argument("--out", default="out", help="output folder (default ./out)")
    p.add_argument("--min", type=float, default=None, help="smallest input (LIF default 0, HH default 0)")
    p.add_argument("--max", type=float, default=None, help="largest input (LIF default 5, HH default 50)")
    p.add_argument("--duration", type=float, default=1.0, help="simulated seconds per input (default 1)")
    p.add_argument(
        "--transient",
        type=float,
        default=None,
        help="seconds discarded before measuring (default 0.2 x duration)",
    )
    p.add_argument("--method", choices=["auto", "exact", "stepped", "diffrax"], default="auto")
    p.add_argument("--dt", type=float, default=None, help="step of the stepped path (neuron's time unit)")
    p.add_argument("--tau-m", type=float, default=0.02, help="LIF membrane time constant in s")
    p.add_argument("--tau-ref", type=float, default=0.002, help="LIF refractory period in s")
    p.add_argument("--chunk", type=int, default=None, help="inputs per jitted call (progress granularity)")
    p.add_argument("--float64", action="store_true", help="compute in float64")
    p.set_defaults(func=run_tuning)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxneuro", description="Neuron models and neural learning in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxneuro {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _register_tuning(subparsers)
    for module in ("jaxneuro.train._cli", "jaxneuro.data._cli"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:  # the subpackage is not part of this install
            if e.name != module:
                raise
            continue
        mod.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_third_party()  # the command line owns its process (``import jaxneuro`` changes no logging)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

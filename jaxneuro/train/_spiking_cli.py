"""``jaxneuro spiking RUN [--times MS ...] [--tau-s S] [--dt S] [--readout filtered|counts] [--limit N]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import finite_float, int_at_least

PROG = "jaxneuro spiking"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``spiking`` subcommand to a top-level parser's subparsers."""
    parser = subparsers.add_parser(
        "spiking",
        help="evaluate a trained run (LIF or soft-LIF hidden units) as a spiking LIF network",
        description="Convert the trained model of a run folder (jaxneuro train) into a spiking LIF network "
        "(jaxneuro.convert_mlp) and evaluate the test set at several presentation times. Writes "
        "spiking_accuracy.csv, spiking_accuracy.png, spiking_raster.png and spiking.json into the run folder.",
    )
    parser.add_argument("run", help="the run folder (e.g. runs/mnist_lif)")
    parser.add_argument(
        "--times",
        type=finite_float,
        nargs="+",
        default=[10.0, 20.0, 50.0, 100.0, 200.0],
        metavar="MS",
        help="presentation times in ms (default: 10 20 50 100 200)",
    )
    parser.add_argument("--tau-s", type=finite_float, default=None, help="synaptic time constant in s (default 0.01)")
    parser.add_argument("--dt", type=finite_float, default=1e-3, help="simulation step in s (default 0.001)")
    parser.add_argument("--readout", choices=("filtered", "counts"), default="filtered", help="output readout")
    parser.add_argument("--limit", type=int_at_least(1), default=None, help="evaluate the first N test inputs only")
    parser.add_argument("--image", type=int_at_least(0), default=0, help="test input whose raster is plotted")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, options=_OPTIONS)  # (run by cli.run_subcommand, which names them)
    return parser


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


_OPTIONS = {"presentation": "--times", "tau_s": "--tau-s", "dt": "--dt", "limit": "--limit", "image": "--image"}


def run(args: argparse.Namespace) -> int:
    """Run ``spiking``; returns the exit status (0 done, 2 bad input or run folder).

    Raises:
        ValueError, EquinoxRuntimeError: a value the library refuses (``cli.run_subcommand``
            reports it in one line naming the option).
    """
    from ..data import DataNotFoundError
    from ._spiking import CSV_NAME, evaluate_spiking

    folder = Path(args.run)
    if not folder.is_dir():
        return _error(f"argument run: {str(folder)!r} is not a folder; give the --out folder of a jaxneuro train run")
    try:
        rows = evaluate_spiking(
            folder,
            [t / 1e3 for t in args.times],
            tau_s=args.tau_s,
            dt=args.dt,
            readout=args.readout,
            limit=args.limit,
            image=args.image,
            stream=None if args.quiet else sys.stderr,
        )
    except (FileNotFoundError, DataNotFoundError) as err:
        return _error(str(err))
    key = "accuracy" if "accuracy" in rows[0] else "rmse_vs_rate"
    shown = ", ".join(f"{r['presentation_ms']:g} ms: {r[key]:.4g}" for r in rows)
    print(f"spiking {key}: {shown}; table in {folder / CSV_NAME}")
    return 0

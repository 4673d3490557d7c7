"""Command line: ``jaxneuro tuning | train | data``.

``jaxneuro tuning --neuron lif|hh --n N --out DIR`` is the main job: a tuning-curve sweep
written as CSV and PNG with a short summary.  ``train`` and ``data`` come from
``jaxneuro.train`` and ``jaxneuro.data`` (each module registers its own subcommand).

Bad input never ends in a Python traceback: every option is checked when it is parsed
(its type and range), and what only the run can find out (a value the library refuses, a
sweep too large for memory or for int32 step counts) is reported as one line naming the
option and what is allowed, with exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

from . import __version__
from ._quiet import quiet_third_party

_DEFAULT_RANGE = {"lif": (0.0, 5.0), "hh": (0.0, 50.0)}
_DEFAULT_CHUNK = {"lif": 10_000, "hh": 250}
_DEFAULT_TAU = {"tau_m": 0.02, "tau_ref": 0.002}


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, ``PROG: error: MESSAGE``, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_at_least(low: int):
    """An argparse ``type``: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    return parse


def finite_float(text: str) -> float:
    """An argparse ``type``: a finite float (the library checks the range, naming it)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def run_time_message(err: BaseException) -> str:
    """The one line of a run-time check (``eqx.error_if``) that failed inside a compiled call: the
    library's message without equinox's and JAX's advice and stack around it."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        for prefix in ("equinox.EquinoxRuntimeError: ", "_EquinoxRuntimeError: ", "EquinoxRuntimeError: "):
            if line.startswith(prefix):
                return line[len(prefix) :]
    return lines[0] if lines else type(err).__name__


@contextlib.contextmanager
def no_callback_log():
    """Within the block, JAX does not log the traceback of a failed host callback (how a run-time
    check reports): the command line prints the check's message as one line instead.  The
    logger's state is restored afterwards."""
    logger = logging.getLogger("jax._src.callback")
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled


def check_out_folder(prog: str, out: Path) -> str | None:
    """Why ``out`` cannot be used as an output folder (created if missing), or None."""
    if out.exists() and not out.is_dir():
        return f"{prog}: error: argument --out: {str(out)!r} is a file; --out must name a folder (created if missing)"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"{prog}: error: argument --out: cannot create the folder {str(out)!r}: {err.strerror or err}"
    if not os.access(out, os.W_OK):
        return f"{prog}: error: argument --out: the folder {str(out)!r} is not writable"
    return None


# the library checks the ranges (and names its parameters); the command line names its options
_OPTION_OF = {
    "duration": "--duration",
    "t1": "--duration",  # the library's "t1 - t0 = ... s needs a spike buffer of ..." (a too long run)
    "transient": "--transient",
    "dt": "--dt",
    "tau_m": "--tau-m",
    "tau_ref": "--tau-ref",
    "inputs": "--min/--max",
    "method": "--method",
}


def name_option(message: str, options: dict[str, str]) -> str:
    """``message`` (the library's, which starts with the parameter's name) prefixed with
    ``argument OPTION:`` when ``options`` maps that parameter to a command-line option."""
    match = re.match(r"(\w+)\b", message)
    option = options.get(match.group(1)) if match else None
    return f"argument {option}: {message}" if option else message


def _is_run_time_check(err: BaseException) -> bool:
    """Whether ``err`` is a run-time check (``eqx.error_if``) that failed inside a compiled call."""
    if "jax" not in sys.modules:  # nothing compiled has run
        return False
    import equinox as eqx
    import jax

    return isinstance(err, (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError))


def run_subcommand(args: argparse.Namespace) -> int:
    """Run a parsed subcommand (``args.func(args)``) and return its exit status.

    The one place where what the library refuses becomes one line on stderr with exit status
    2: a ``ValueError`` (its message names the parameter and the allowed range) and a run-time
    check that failed inside a compiled call (``eqx.error_if``: an ``EquinoxRuntimeError`` or
    ``XlaRuntimeError``, whose traceback JAX would log is suppressed).  The line names the
    command-line option when the subcommand's ``args.options`` maps the parameter to one.  A
    warning (e.g. a step too coarse for the neuron) is one line ``PROG: warning: MESSAGE``, once.

    Args:
        args: the parsed arguments; ``args.func`` runs the subcommand, ``args.prog`` (default
            ``jaxneuro COMMAND``) starts the error line, ``args.options`` (default none) maps the
            library's parameter names to options (``{"tau_s": "--tau-s"}``).

    Returns:
        The subcommand's exit status, or 2 for a refused value.
    """
    prog = getattr(args, "prog", None) or f"jaxneuro {args.command}"
    options = getattr(args, "options", None) or {}

    shown: set[str] = set()

    def one_line(message, category, filename, lineno, file=None, line=None):
        if str(message) not in shown:  # (raised where a program is traced and again where it runs)
            shown.add(str(message))
            print(f"{prog}: warning: {message}", file=sys.stderr)

    try:
        with no_callback_log(), warnings.catch_warnings():
            warnings.simplefilter("always")  # every one reaches one_line, which shows each message once
            warnings.showwarning = one_line  # restored by catch_warnings
            return int(args.func(args) or 0)
    except ValueError as err:  # the library's message names the parameter and the range
        message = name_option(str(err), options)
    except Exception as err:
        if not _is_run_time_check(err):
            raise
        what = run_time_message(err)
        message = name_option(what, options)
        if message == what:  # no option to name: say where it came from
            message = f"a run-time check failed in the compiled run: {what}"
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def run_tuning(args: argparse.Namespace) -> int:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxneuro as jn

    prog = "jaxneuro tuning"
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    lo, hi = _DEFAULT_RANGE[args.neuron]
    lo = lo if args.min is None else args.min
    hi = hi if args.max is None else args.max
    dtype = "float64" if args.float64 else "float32"
    top = float(np.finfo(dtype).max)
    for option, value in (("--min", lo), ("--max", hi)):
        if abs(value) > top:  # (it would become inf in the sweep)
            hint = "" if args.float64 else "; --float64 allows up to 1.79769e+308"
            print(
                f"{prog}: error: argument {option}: must be in [-{top:g}, {top:g}] ({dtype}{hint}), got {value:g}",
                file=sys.stderr,
            )
            return 2
    if not hi > lo:
        print(
            f"{prog}: error: argument --max: must be greater than --min; got --min {lo:g}, --max {hi:g}",
            file=sys.stderr,
        )
        return 2
    given = [f"--{k.replace('_', '-')}" for k in _DEFAULT_TAU if getattr(args, k) is not None]
    if args.neuron != "lif" and given:
        print(
            f"{prog}: error: argument {given[0]}: applies to --neuron lif only, got --neuron {args.neuron}",
            file=sys.stderr,
        )
        return 2
    tau = {k: _DEFAULT_TAU[k] if getattr(args, k) is None else getattr(args, k) for k in _DEFAULT_TAU}
    neuron = jn.LIF(**tau) if args.neuron == "lif" else jn.HodgkinHuxley()
    unit = "v_in (normalised)" if args.neuron == "lif" else "J (uA/cm^2)"
    try:
        inputs = np.linspace(lo, hi, args.n)
    except MemoryError:
        print(f"{prog}: error: argument --n: {args.n} inputs do not fit in memory; use a smaller --n", file=sys.stderr)
        return 2
    chunk = min(args.chunk or _DEFAULT_CHUNK[args.neuron], args.n)
    n_chunks = -(-args.n // chunk)
    padded = np.concatenate([inputs, np.full(n_chunks * chunk - args.n, inputs[-1])]).reshape(n_chunks, chunk)
    per = type(neuron).seconds_per_time_unit  # the command line is in seconds; the library in the neuron's unit
    transient = None if args.transient is None else args.transient / per
    kwargs = dict(duration=args.duration / per, transient=transient, method=args.method, dt=args.dt)

    def sweep(x):
        return jn.tuning_curve(neuron, jnp.asarray(x), **kwargs).block_until_ready()

    out = Path(args.out)
    problem = check_out_folder(prog, out)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    print(
        f"jaxneuro {__version__}: {args.neuron.upper()} tuning curve, {args.n} inputs {unit} in [{lo:g}, {hi:g}], "
        f"{args.duration:g} s each, {n_chunks} chunk(s) of {chunk}",
        flush=True,
    )
    t = time.perf_counter()
    try:
        sweep(padded[0])
    except (OverflowError, MemoryError) as err:
        dt = "(default)" if args.dt is None else f"{args.dt:g}"
        why = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
        # more steps (duration / dt) or spikes (duration / tau_ref) than int32 counts or memory holds
        print(
            f"{prog}: error: argument --duration: {args.duration:g} s is too long a run for this neuron with --dt {dt} "
            f"and --chunk {chunk} ({why}); use a shorter "
            "--duration, a larger --dt or a smaller --chunk",
            file=sys.stderr,
        )
        return 2
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
        analytic = (xs, np.asarray(jn.lif_rate(xs, tau["tau_m"], tau["tau_ref"])))
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
        ref = np.asarray(jn.lif_rate(inputs, tau["tau_m"], tau["tau_ref"]))
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
    p.add_argument("--n", type=int_at_least(1), default=10_000, help="number of inputs (default 10000)")
    p.add_argument("--out", default="out", help="output folder, created if missing (default ./out)")
    p.add_argument("--min", type=finite_float, default=None, help="smallest input (LIF default 0, HH default 0)")
    p.add_argument("--max", type=finite_float, default=None, help="largest input (LIF default 5, HH default 50)")
    p.add_argument("--duration", type=finite_float, default=1.0, help="simulated seconds per input (default 1)")
    p.add_argument(
        "--transient",
        type=finite_float,
        default=None,
        help="seconds discarded before measuring (default 0.2 x duration)",
    )
    p.add_argument("--method", choices=["auto", "exact", "stepped", "diffrax"], default="auto")
    p.add_argument("--dt", type=finite_float, default=None, help="step of the stepped path (neuron's time unit)")
    p.add_argument("--tau-m", type=finite_float, default=None, help="LIF membrane time constant in s (default 0.02)")
    p.add_argument("--tau-ref", type=finite_float, default=None, help="LIF refractory period in s (default 0.002)")
    p.add_argument("--chunk", type=int_at_least(1), default=None, help="inputs per jitted call (progress granularity)")
    p.add_argument("--float64", action="store_true", help="compute in float64")
    p.set_defaults(func=run_tuning, options=_OPTION_OF)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="jaxneuro", description="Neuron models and neural learning in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxneuro {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _register_tuning(subparsers)
    for module in ("jaxneuro.train._cli", "jaxneuro.train._spiking_cli", "jaxneuro.data._cli"):
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
    return run_subcommand(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

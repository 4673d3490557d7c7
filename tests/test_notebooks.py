"""Execute every notebook in ``notebooks/`` with small sizes and fail on the first cell error.

Each notebook reads ``JAXNEURO_NOTEBOOK_SMALL=1`` in its first code cell and shrinks its
sweeps, so the whole notebook runs in well under a minute.  The kernel runs in the notebook's
own folder (as Jupyter does) with the Agg matplotlib backend; jupyter_client starts the
``python3`` kernel on the interpreter running the tests.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours the traceback
CELL_TIMEOUT_S = 300  # per cell; generous so a loaded CI machine does not flake


_DRAW_ALL_FIGURES = """
import sys
if "matplotlib.pyplot" in sys.modules:
    import matplotlib.pyplot as plt
    for number in plt.get_fignums():
        plt.figure(number).canvas.draw()
    plt.close("all")
"""


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env["JAXNEURO_NOTEBOOK_SMALL"] = "1"
    env["MPLBACKEND"] = "Agg"
    # The kernel is a separate process: pytest's warnings-as-errors does not reach it, and
    # jupyter's own path-migration notice would only be noise in a failure report.
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


# The default run executes the first notebook (the runner, the kernel and the small sizes work);
# the others (10-30 s each on one core) run with -m slow.
FAST_NOTEBOOKS = {"01_hodgkin_huxley"}


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem, marks=() if p.stem in FAST_NOTEBOOKS else pytest.mark.slow) for p in NOTEBOOKS],
)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch):
    nb = nbformat.read(path, as_version=4)
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    assert first_code is not None and "JAXNEURO_NOTEBOOK_SMALL" in first_code.source, (
        f"{path.name}: the first code cell must set its sizes from JAXNEURO_NOTEBOOK_SMALL"
    )
    # Agg shows nothing, so draw every open figure at the end: errors that only appear at
    # draw time (mathtext in labels, bad artists) fail the test too.
    nb.cells.append(nbformat.v4.new_code_cell(_DRAW_ALL_FIGURES))
    for name, value in _kernel_env().items():
        monkeypatch.setenv(name, value)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    failure = None
    try:
        client.execute()
    except nbclient.exceptions.CellTimeoutError as err:
        failure = f"{path.name}: a cell ran longer than {CELL_TIMEOUT_S} s:\n{err}"
    except nbclient.exceptions.CellExecutionError as err:
        failure = f"{path.name} failed:\n{_ANSI.sub('', str(err))}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_with_its_outputs(path: Path):
    """The site renders the stored outputs (nothing runs at build time): every code cell has been run,
    top to bottom in one kernel, and the notebook shows at least one figure."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{path.name}: cells never run: {[i for i, n in enumerate(counts) if n is None]}"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), f"{path.name}: run out of order: {counts}"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: stored with an error output"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), f"{path.name}: no figure"


def test_readme_says_how_to_run_the_notebooks():
    import tomllib

    root = NOTEBOOK_DIR.parent
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("jupyterlab") for r in extras["notebooks"]) and "jaxneuro[data]" in extras["notebooks"]
    assert 'pip install -e ".[notebooks]" && jupyter lab notebooks/' in (root / "README.md").read_text()

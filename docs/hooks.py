"""mkdocs hooks (mkdocs.yml ``hooks:``).

- The notebooks stay in ``notebooks/`` at the repository root (where the tests run them); they are
  added to the site's files here so that mkdocs-jupyter renders them from their stored outputs,
  and to the nav's "Notebooks" section (a new notebook appears without editing mkdocs.yml).
- The docstring check of ``docs/check_docstrings.py`` runs before each build; each problem is a
  warning, so ``mkdocs build --strict`` fails on a public name without a docstring. Public names
  that no page of docs/api/ renders yet go on a generated page, "Not yet sorted" (api/unsorted.md).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
UNSORTED = "api/unsorted.md"
log = logging.getLogger("mkdocs.hooks.jaxneuro")


def _check_module():
    spec = importlib.util.spec_from_file_location("check_docstrings", ROOT / "docs" / "check_docstrings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_unplaced: list[str] = []


def _notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def _title(path: Path) -> str:
    """The notebook's first heading without its parenthesis ("1. The Hodgkin-Huxley neuron"), else its file name."""
    number, _, words = path.stem.partition("_")
    prefix = f"{int(number)}. " if number.isdigit() else ""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        text = "".join(cell["source"]).strip()
        if cell["cell_type"] == "markdown" and text.startswith("# "):
            heading = re.sub(r"\s*\(.*?\)\s*$", "", text.splitlines()[0][2:]).strip()
            return heading if heading[:1].isdigit() else prefix + heading
    return prefix + words.replace("_", " ").capitalize()


def on_config(config):
    """Each notebook in the nav's Notebooks section, titled by its first heading; the unsorted API page."""
    _unplaced[:] = _check_module().unplaced_names()
    for item in config["nav"]:
        if isinstance(item, dict) and "Notebooks" in item:
            listed = {entry if isinstance(entry, str) else next(iter(entry.values())) for entry in item["Notebooks"]}
            for path in _notebooks():
                if f"notebooks/{path.name}" not in listed:
                    item["Notebooks"].append({_title(path): f"notebooks/{path.name}"})
        if isinstance(item, dict) and "API reference" in item and _unplaced:
            item["API reference"].append({"Not yet sorted": UNSORTED})
            log.info("public names not on a topic page of docs/api/ yet: %s", ", ".join(_unplaced))
    return config


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files, config):
    for path in _notebooks():
        files.append(File(f"notebooks/{path.name}", str(ROOT), config["site_dir"], config["use_directory_urls"]))
    if _unplaced:
        lines = [
            "# Not yet sorted",
            "",
            "Public names added since the reference was arranged; each belongs on a topic page of `docs/api/`.",
            "",
        ]
        files.append(File.generated(config, UNSORTED, content="\n".join(lines + [f"::: {n}\n" for n in _unplaced])))
    return files


def on_pre_build(config):
    for problem in _check_module().problems():
        log.warning("public name: %s", problem)

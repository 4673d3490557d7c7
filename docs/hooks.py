"""mkdocs hooks (mkdocs.yml ``hooks:``).

- The notebooks stay in ``notebooks/`` at the repository root (where the tests run them); they are
  added to the site's files here so that mkdocs-jupyter renders them from their stored outputs.
- The docstring check of ``docs/check_docstrings.py`` runs before each build; each problem is a
  warning, so ``mkdocs build --strict`` fails on a public name without a docstring or without a
  place in the API reference.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("mkdocs.hooks.jaxneuro")


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files, config):
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{path.name}", str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_pre_build(config):
    spec = importlib.util.spec_from_file_location("check_docstrings", ROOT / "docs" / "check_docstrings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for problem in module.problems():
        log.warning("public name: %s", problem)

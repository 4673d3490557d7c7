"""Every public name of jaxneuro has a docstring and a place in the API reference.

The public names are the ``X as X`` re-exports of ``jaxneuro/__init__.pyi``,
``jaxneuro/train/__init__.pyi``, ``jaxneuro/data/__init__.pyi``, ``jaxneuro/losses.py`` and
``jaxneuro/plot/__init__.py``. Docstrings are read statically with griffe (what mkdocstrings
renders; nothing is imported). Run ``python docs/check_docstrings.py`` (exit status 1 and one line
per name without a docstring); ``mkdocs build --strict`` runs the same check through
``docs/hooks.py``. A public name that no page of docs/api/ renders yet is not an error: the hook
renders it on a generated "Not yet sorted" page, so the reference always has every name.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_DOCS = ROOT / "docs" / "api"

# Public names known to lack a docstring in a module this check does not own: reported, not failed
# on, until the docstring is written (then the entry must go: a listed name that has one fails).
KNOWN_MISSING = {"jaxneuro.BRUNEL_REGIMES"}

# module whose public names are listed -> the file that lists them
SOURCES = {
    "jaxneuro": "jaxneuro/__init__.pyi",
    "jaxneuro.train": "jaxneuro/train/__init__.pyi",
    "jaxneuro.data": "jaxneuro/data/__init__.pyi",
    "jaxneuro.losses": "jaxneuro/losses.py",
    "jaxneuro.plot": "jaxneuro/plot/__init__.py",
}


def public_names() -> dict[str, list[str]]:
    """For each public module, the names it re-exports as ``X as X``, in file order."""
    names = {}
    for module, rel in SOURCES.items():
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        names[module] = [
            alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.asname == alias.name
        ]
    return names


def referenced_names() -> set[str]:
    """The dotted names rendered by ``::: name`` lines in docs/api/*.md."""
    pattern = re.compile(r"^:::\s+([\w.]+)", re.MULTILINE)
    return {m for page in API_DOCS.glob("*.md") for m in pattern.findall(page.read_text(encoding="utf-8"))}


def unplaced_names() -> list[str]:
    """Public names that no page of docs/api/ renders (docs/hooks.py shows them on a page of their own)."""
    referenced = referenced_names()
    return [
        f"{module}.{name}"
        for module, names in public_names().items()
        for name in names
        # a loss re-exported flat from jaxneuro is documented once, as jaxneuro.losses.<name>
        if f"{module}.{name}" not in referenced and f"jaxneuro.losses.{name}" not in referenced
    ]


def problems() -> list[str]:
    """One line per public name without a docstring (or that griffe cannot find)."""
    import griffe

    package = griffe.load("jaxneuro", search_paths=[str(ROOT)], allow_inspection=False)
    found = []
    for module, names in public_names().items():
        for name in names:
            dotted = f"{module}.{name}"
            try:
                obj = package[dotted.removeprefix("jaxneuro.")]
                doc = obj.docstring.value.strip() if obj.docstring else ""
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError) as err:
                found.append(f"{dotted}: not found by griffe ({type(err).__name__})")
                continue
            if not doc and dotted not in KNOWN_MISSING:
                found.append(f"{dotted}: no docstring")
            elif doc and dotted in KNOWN_MISSING:
                found.append(f"{dotted}: has a docstring now; remove it from KNOWN_MISSING in docs/check_docstrings.py")
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    for dotted in unplaced_names():
        print(f"{dotted}: not on a topic page of docs/api/ yet (the site shows it under 'Not yet sorted')")
    total = sum(len(v) for v in public_names().values())
    print(f"{total} public names, {len(found)} problems; known without a docstring: {sorted(KNOWN_MISSING)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

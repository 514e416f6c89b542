"""Write the teaching notebooks ``notebooks/*.ipynb`` from their sources ``notebooks/*.py``.

The sources are jupytext "percent" scripts (``# %%`` starts a code cell, ``# %% [markdown]``
a markdown cell whose lines are comments); they are what you edit, lint (``ruff check
notebooks``) and review. This script writes each ``.ipynb`` from its ``.py`` **without
outputs** and with stable cell ids, so the committed notebooks never hold stale results
and a rebuild of unchanged sources changes nothing::

    python scripts/make_notebooks.py            # rewrite notebooks/*.ipynb from notebooks/*.py
    python scripts/make_notebooks.py --check    # exit 1 if any .ipynb is out of date

It needs ``jupytext`` (in the ``dev`` extra). In JupyterLab with the jupytext extension the
pair is kept in sync as you edit either file (the sources declare ``formats:
ipynb,py:percent``); run this script before committing in any case, so that the notebooks
carry no outputs. ``tests/test_notebooks.py`` checks every pair matches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def sources(folder: Path = NB_DIR) -> list[Path]:
    """The notebook sources: ``NN_name.py`` files in ``notebooks/``."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def notebook_from_source(path: Path) -> nbformat.NotebookNode:
    """The clean notebook of one percent-format source: no outputs, ids ``NN-cc``."""
    nb = jupytext.read(path, fmt="py:percent")
    prefix = path.stem[:2]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:02d}"
        cell["metadata"] = {}
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    # only what a reader's Jupyter needs, and the pairing (so jupytext keeps the .py in sync)
    nb.metadata = nbformat.from_dict({
        "jupytext": {"formats": "ipynb,py:percent"},
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    })
    nb.nbformat, nb.nbformat_minor = 4, 5
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The file text, as ``nbformat.write`` would write it."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def build(check: bool = False) -> list[Path]:
    """Write (or with ``check``, compare) every notebook; return the paths that were (or are) stale."""
    stale = []
    for src in sources():
        target = src.with_suffix(".ipynb")
        text = render(notebook_from_source(src))
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            target.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    if not sources():
        print(f"no notebook sources in {NB_DIR}", file=sys.stderr)
        return 2
    stale = build(check=args.check)
    for p in stale:
        print(("out of date: " if args.check else "wrote ") + str(p.relative_to(ROOT)))
    if args.check and stale:
        print("run: python scripts/make_notebooks.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The teaching notebooks in notebooks/ run top to bottom (small size) and are committed clean."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ["01_quickstart", "02_one_in_one_out", "03_parameter_sweeps", "04_sensitivity", "05_calibration"]
CELL_TIMEOUT = 300  # seconds per cell (small mode takes a few seconds per cell)


def _read(name: str):
    return nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_committed_clean(name):
    nb = _read(name)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{name}: cell {i} has outputs; clear them before committing"
            assert cell.execution_count is None, f"{name}: cell {i} has an execution count"
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.lstrip().startswith("## Exercises"), \
        f"{name}: the last cell must be an 'Exercises' markdown cell"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert 'SIZE = os.environ.get("CHANNEL_SIM_NOTEBOOK_SIZE", "full")' in first_code.source
    # relative links into the repository (e.g. ../sim/agents/migrant.py) point at real files
    links = [m for c in nb.cells if c.cell_type == "markdown"
             for m in re.findall(r"\]\((\.\./[^)#\s]+)", c.source)]
    missing = [link for link in links if not (NB_DIR / link).exists()]
    assert not missing, f"{name}: broken links {missing}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_small(name, tmp_path, monkeypatch):
    monkeypatch.setenv("CHANNEL_SIM_NOTEBOOK_SIZE", "small")
    monkeypatch.setenv("CHANNEL_SIM_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = _read(name)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}}, allow_errors=False)
    t0 = time.perf_counter()
    client.execute(env=dict(os.environ))  # raises CellExecutionError if any cell raises
    elapsed = time.perf_counter() - t0
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
    print(f"{name}: {elapsed:.1f} s")
    # nothing written next to the committed notebooks
    assert not (NB_DIR / "outputs").exists()

"""The teaching notebooks in notebooks/: sources and notebooks paired, committed clean, linted, run.

Each notebook has a jupytext percent-format source ``notebooks/NN_name.py`` (what is
edited and linted) and the notebook ``notebooks/NN_name.ipynb`` written from it by
``scripts/make_notebooks.py``. The pairing check below parses the percent format itself
(no jupytext needed at test time), so it also cross-checks what jupytext wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.notebook import SMALL_HORIZON, setup

nbformat = pytest.importorskip("nbformat")

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ["01_quickstart", "02_one_in_one_out", "03_parameter_sweeps", "04_sensitivity", "05_calibration",
             "06_uncertainty"]
CELL_TIMEOUT = 300  # seconds per cell (small mode takes a few seconds per cell)

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")


def parse_percent(text: str) -> list[tuple[str, str]]:
    """(cell type, source) of every cell of a jupytext percent-format script.

    The subset the notebook sources use: an optional ``# ---`` YAML header; ``# %%`` starts
    a code cell, ``# %% [markdown]`` a markdown cell whose lines are ``# text`` or ``#``;
    blank lines between cells are not part of either cell.
    """
    lines = text.splitlines()
    if lines and lines[0] == "# ---":
        end = lines.index("# ---", 1)  # ValueError on an unterminated header
        lines = lines[end + 1:]
    cells: list[tuple[str, list[str]]] = []
    for n, line in enumerate(lines):
        m = _MARKER.match(line)
        if m:
            rest = m["rest"].strip()
            tags = re.findall(r"\[(\w+)\]", rest)
            kind = "markdown" if tags[:1] in (["markdown"], ["md"]) else "code"
            if tags and kind == "code":
                raise ValueError(f"line {n + 1}: cell type {tags[0]!r} is not supported: {line!r}")
            cells.append((kind, []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"line {n + 1}: text before the first '# %%' marker: {line!r}")
    out = []
    for kind, body in cells:
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if kind == "markdown":
            bad = [x for x in body if not (x == "#" or x.startswith("# "))]
            if bad:
                raise ValueError(f"markdown line not commented with '# ': {bad[0]!r}")
            body = [x[2:] for x in body]
        out.append((kind, "\n".join(body)))
    return out


def _read(name: str):
    return nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)


def test_every_notebook_has_a_source_and_is_tested():
    ipynb = sorted(p.stem for p in NB_DIR.glob("*.ipynb"))
    sources = sorted(p.stem for p in NB_DIR.glob("[0-9][0-9]_*.py"))
    assert ipynb == sources == NOTEBOOKS


def test_parse_percent_reads_the_format():
    text = "# ---\n# jupyter:\n#   x: 1\n# ---\n\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n\ny = 2\n\n# %%\nx\n"
    assert parse_percent(text) == [("markdown", "# Title\n\ntext"), ("code", "x = 1\n\n\ny = 2"), ("code", "x")]
    with pytest.raises(ValueError, match="not commented"):
        parse_percent("# %% [markdown]\ntext\n")
    with pytest.raises(ValueError, match="not supported"):
        parse_percent("# %% [raw]\nx\n")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_matches_its_source(name):
    """Same cells, same types, same sources: edit the .py and run scripts/make_notebooks.py."""
    src = parse_percent((NB_DIR / f"{name}.py").read_text(encoding="utf-8"))
    nb = [(c.cell_type, c.source) for c in _read(name).cells]
    hint = f"notebooks/{name}.ipynb differs from notebooks/{name}.py: run python scripts/make_notebooks.py"
    assert len(nb) == len(src), f"{hint} ({len(nb)} cells against {len(src)})"
    for i, (a, b) in enumerate(zip(nb, src, strict=True)):
        assert a == b, f"{hint} (first difference in cell {i})"


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
    assert "from sim.notebook import setup" in first_code.source
    assert f'SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("{name}")' in first_code.source
    # relative links into the repository (e.g. ../sim/agents/migrant.py) point at real files
    links = [m for c in nb.cells if c.cell_type == "markdown"
             for m in re.findall(r"\]\((\.\./[^)#\s]+)", c.source)]
    missing = [link for link in links if not (NB_DIR / link).exists()]
    assert not missing, f"{name}: broken links {missing}"


def test_notebook_sources_pass_ruff():
    ruff = pytest.importorskip("ruff.__main__", reason="ruff (dev extra) is not installed")
    files = [str(NB_DIR / f"{n}.py") for n in NOTEBOOKS]
    r = subprocess.run([ruff.find_ruff_bin(), "check", "--no-cache", *files], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_make_notebooks_check_agrees():
    """The build script (jupytext) finds nothing to rewrite in the committed notebooks."""
    pytest.importorskip("jupytext")
    script = NB_DIR.parent / "scripts" / "make_notebooks.py"
    r = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_setup_reads_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CHANNEL_SIM_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("CHANNEL_SIM_NOTEBOOK_SIZE", "small")
    size, small, out, short, executor, workers = setup("99_test")
    assert (size, small, short, executor, workers) == ("small", True, SMALL_HORIZON, "process", 2)
    assert out == tmp_path / "99_test" / "small" and out.is_dir()
    assert "size: small" in capsys.readouterr().out
    monkeypatch.delenv("CHANNEL_SIM_NOTEBOOK_SIZE")
    nb = setup("99_test", executor="serial", workers=1, quiet=True)
    assert (nb.size, nb.small, nb.short, nb.executor, nb.workers) == ("full", False, {}, "serial", 1)
    monkeypatch.setenv("CHANNEL_SIM_NOTEBOOK_SIZE", "huge")
    with pytest.raises(ValueError, match="small' or 'full"):
        setup("99_test")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_small(name, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
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
    # the set-up ran and wrote its stores to the temporary folder, nothing next to the notebooks
    assert (tmp_path / name / "small").is_dir()
    assert not (NB_DIR / "outputs").exists()

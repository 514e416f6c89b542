"""The shared set-up of the teaching notebooks in ``notebooks/``: one call at the top of each.

::

    from sim.notebook import setup

    SIZE, SMALL, OUT, SHORT, EXECUTOR, WORKERS = setup("01_quickstart")

It reads two environment variables:

* ``CHANNEL_SIM_NOTEBOOK_SIZE``: ``full`` (default) or ``small`` (short horizons, few
  replications and tiny grids: the same functions and code path, each notebook in well
  under a minute; ``tests/test_notebooks.py`` uses it);
* ``CHANNEL_SIM_NOTEBOOK_OUT``: the folder for experiment stores (default
  ``../outputs/notebooks``, relative to ``notebooks/`` where the notebooks run); each
  notebook writes under ``<OUT>/<notebook>/<size>/``.

and sets the pandas display width. Nothing here is needed to use the model outside the
notebooks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

__all__ = ["NotebookSetup", "SIZES", "SIZE_ENV", "OUT_ENV", "DEFAULT_OUT", "SMALL_HORIZON", "setup"]

SIZES = ("small", "full")
SIZE_ENV = "CHANNEL_SIM_NOTEBOOK_SIZE"
OUT_ENV = "CHANNEL_SIM_NOTEBOOK_OUT"
DEFAULT_OUT = "../outputs/notebooks"
#: small mode runs from 2025-01-01 (the pilot starts 2025-08-04) to mid-2026
SMALL_HORIZON = {"start_date": "2025-01-01", "end_date": "2026-06-30"}


class NotebookSetup(NamedTuple):
    """What a notebook needs to know about how large and where to run (unpacks as a tuple)."""

    size: str                 #: "small" or "full"
    small: bool               #: size == "small"
    out: Path                 #: this notebook's folder for experiment stores (created)
    short: dict[str, Any]     #: config overrides for the horizon: SMALL_HORIZON in small mode, else {}
    executor: str             #: executor for sim.experiments ("process" or "serial")
    workers: int              #: worker processes for the "process" executor


def setup(name: str, *, executor: str = "process", workers: int = 2, quiet: bool = False) -> NotebookSetup:
    """Read the size and output folder from the environment, create the folder, set display options.

    ``name`` is the notebook's name (its stores go to ``<OUT>/<name>/<size>/``); pass
    ``executor="serial"`` to run the experiments in the notebook's own process.
    """
    size = os.environ.get(SIZE_ENV, "full").strip().lower() or "full"
    if size not in SIZES:
        raise ValueError(f"{SIZE_ENV} must be 'small' or 'full', got {size!r}")
    if executor not in ("process", "serial"):
        raise ValueError(f"executor must be 'process' or 'serial', got {executor!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    small = size == "small"
    out = Path(os.environ.get(OUT_ENV) or DEFAULT_OUT) / name / size
    out.mkdir(parents=True, exist_ok=True)
    pd.set_option("display.width", 160)
    result = NotebookSetup(size=size, small=small, out=out, short=dict(SMALL_HORIZON) if small else {},
                           executor=executor, workers=workers)
    if not quiet:
        print(f"size: {size}; stores in {out}; executor {executor!r} with {workers} workers")
    return result

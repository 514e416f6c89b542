"""Running an experiment into its store: skip what is done, execute the rest, write as runs finish.

:func:`run_experiment` is the engine's one entry point. The pieces it puts together
have their own modules:

* :mod:`sim.experiments.tasks`: seeds, :class:`Experiment`, :class:`OutputSpec`, one
  plain-dict task per run and :func:`execute_task`, which runs one;
* :mod:`sim.experiments.targets`: the model, a ``"module:function"`` target (the Channel
  model is :mod:`sim.experiments.channel`);
* :mod:`sim.experiments.executors`: serial, process-pool and Dask executors, reusable
  across experiments (:func:`open_executor`);
* :mod:`sim.experiments.store`: the resumable Parquet store;
* :mod:`sim.experiments.provenance`: package versions, git revision, the manifest;
* :mod:`sim.experiments.spec`: sweep files (:func:`load_sweep`).

Finished runs are written in chunks (every ``chunk_size`` runs, or sooner when the
buffered time series grow past ``max_buffered_rows``), and at most ``2 x workers`` runs
are in flight, so the parent's memory stays flat however many runs a sweep has.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.executors import EXECUTORS, Executor, open_executor, use_executor
from sim.experiments.progress import progress_bar
from sim.experiments.provenance import new_manifest, run_note
from sim.experiments.spec import load_sweep
from sim.experiments.store import ExperimentStore
from sim.experiments.tasks import (
    DEFAULT_VARIABLES,
    Experiment,
    OutputSpec,
    execute_task,
    replication_seed,
)

__all__ = ["Experiment", "OutputSpec", "run_experiment", "execute_task", "replication_seed",
           "load_sweep", "open_executor", "DEFAULT_VARIABLES", "EXECUTORS"]


def run_experiment(experiment: Experiment, out: str | Path, *, executor: str | Executor = "process",
                   workers: int | None = None, scheduler: str | None = None, retry_failed: bool = False,
                   progress: bool = True, chunk_size: int = 25, max_buffered_rows: int = 400_000,
                   command_line: list[str] | None = None) -> ExperimentStore:
    """Run (or resume) an experiment into the store at ``out``.

    Finished runs already in the store are skipped; failed ones are rerun only with
    ``retry_failed``. A store made by a different experiment is refused
    (:class:`~sim.experiments.store.StoreMismatchError`).

    Parameters
    ----------
    executor
        ``"serial"``, ``"process"`` (default) or ``"dask"``: a new executor of that kind
        (``workers`` processes; ``scheduler``, for Dask, the address of an existing
        cluster), closed before returning. Or an open
        :class:`~sim.experiments.executors.Executor` (from :func:`open_executor`), used
        and left open, so that several experiments share one pool of workers.

    Returns
    -------
    ExperimentStore
        The store, for reading back (``.runs()``, ``.summaries()``, ``.timeseries()``).
    """
    experiment.validate()
    store = ExperimentStore(out)
    note = run_note(experiment, command_line)
    if store.exists():
        store.open_for_resume(experiment.fingerprint(), note)
    else:
        store.create(new_manifest(experiment, note))
    finished = store.finished()
    if retry_failed:
        failed = {r for r, s in finished.items() if s == "failed"}
        if failed:
            store.drop_runs(failed)
            finished = {r: s for r, s in finished.items() if r not in failed}
    todo = (t for t in experiment.tasks() if t["run_id"] not in finished)
    n_todo = experiment.design.n_runs - len(finished)
    skipped = len(finished)

    t0 = time.perf_counter()
    writer = _ChunkWriter(store, chunk_size, max_buffered_rows)
    bar = progress_bar(n_todo, progress)
    with use_executor(executor, workers, scheduler) as ex:
        results = ex.map_unordered(execute_task, todo) if n_todo > 0 else iter(())
        try:
            for result in results:
                writer.add(result)
                bar.update(1)
                if writer.failed:
                    bar.set_postfix(failed=writer.failed)
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()  # an abandoned map cancels its pending runs
            writer.flush()
            bar.close()
    elapsed = time.perf_counter() - t0
    if progress:
        print(f"{experiment.name}: {writer.done - writer.failed} runs done, {writer.failed} failed, {skipped} "
              f"skipped (already in the store) in {elapsed:.1f} s -> {store.path}", file=sys.stderr)
    return store


class _ChunkWriter:
    """Buffers finished runs and writes them to the store in chunks."""

    def __init__(self, store: ExperimentStore, chunk_size: int, max_buffered_rows: int) -> None:
        self.store = store
        self.chunk_size = chunk_size
        self.max_buffered_rows = max_buffered_rows
        self.done = self.failed = 0
        self._runs: list[dict[str, Any]] = []
        self._summaries: list[dict[str, Any]] = []
        self._timeseries: list[pd.DataFrame] = []
        self._rows = 0

    def add(self, result: dict[str, Any]) -> None:
        self._runs.append(result["record"])
        if result["summary"] is not None:
            self._summaries.append(result["summary"])
        if result["timeseries"] is not None:
            self._timeseries.append(result["timeseries"])
            self._rows += len(result["timeseries"])
        self.done += 1
        self.failed += result["record"]["status"] == "failed"
        if len(self._runs) >= self.chunk_size or self._rows >= self.max_buffered_rows:
            self.flush()

    def flush(self) -> None:
        if not self._runs:
            return
        self.store.write_chunk(_frame(self._runs), _frame(self._summaries) if self._summaries else None,
                               pd.concat(self._timeseries, ignore_index=True) if self._timeseries else None)
        self._runs, self._summaries, self._timeseries, self._rows = [], [], [], 0


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in df.columns:
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c] if v is not None}
            if len(kinds) > 1:
                df[c] = df[c].map(lambda v: None if v is None else str(v))
    return df

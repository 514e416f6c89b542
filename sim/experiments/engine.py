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

Every finished run is appended to the store's journal before it is reported done, and
finished runs are written in chunks (every ``chunk_size`` runs, or sooner when the
buffered time series grow past ``max_buffered_rows``); at most ``2 x workers`` runs are
in flight, so the parent's memory stays flat however many runs a sweep has.

**Reliability.** One writer per store (:meth:`ExperimentStore.lock`). SIGTERM or SIGINT
(Ctrl-C) stops a sweep cleanly: what finished is written, the workers are stopped and
:class:`SweepInterrupted` is raised (a ``KeyboardInterrupt``); a kill -9 loses only the
runs in flight. A worker process that dies (out of memory, a crash in native code) fails
the run it was running, recorded with its cause, and the sweep goes on. A store that
already holds every run is returned as it is even on a read-only disk; a store with a
chunk it cannot read is refused until repaired (``channel-sim store check DIR --repair``).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sim.experiments.executors import EXECUTORS, Executor, open_executor, use_executor
from sim.experiments.progress import progress_bar
from sim.experiments.provenance import new_manifest, run_note
from sim.experiments.spec import load_sweep
from sim.experiments.store import ExperimentStore, StoreReadOnlyError
from sim.experiments.tasks import (
    DEFAULT_VARIABLES,
    Experiment,
    OutputSpec,
    crashed_task_result,
    execute_task,
    replication_seed,
)

__all__ = ["Experiment", "OutputSpec", "RunsFailedError", "SweepInterrupted", "describe_failures", "failed_runs",
           "run_experiment", "execute_task", "replication_seed",
           "load_sweep", "open_executor", "DEFAULT_VARIABLES", "EXECUTORS"]


class RunsFailedError(RuntimeError):
    """Runs of an experiment failed where a result needs all of them (e.g. a comparison,
    whose means would silently rest on fewer replications). ``failed`` is the failed runs'
    records (``run_id``, ``scenario``, ``replication``, ``error``)."""

    def __init__(self, message: str, failed: Any) -> None:
        super().__init__(message)
        self.failed = failed


def failed_runs(store: ExperimentStore) -> Any:
    """The records of the store's failed runs (a DataFrame, empty if none failed)."""
    runs = store.runs()
    if not len(runs) or "status" not in runs:
        return runs.iloc[0:0]
    return runs[runs["status"] == "failed"].reset_index(drop=True)


def describe_failures(failed: Any, n_runs: int, limit: int = 5) -> str:
    """``N of M runs failed: run_id (error), ...`` for a message."""
    items = [f"{r.run_id}" + (f" [{r.scenario}]" if isinstance(getattr(r, "scenario", None), str) else "")
             + f" ({r.error})" for r in failed.head(limit).itertuples(index=False)]
    more = f", and {len(failed) - limit} more" if len(failed) > limit else ""
    return f"{len(failed)} of {n_runs} runs failed: {'; '.join(items)}{more}"


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by SIGINT (Ctrl-C) or SIGTERM after writing every finished run.

    Attributes: ``signal_name`` (``"SIGINT"``/``"SIGTERM"``), ``stored`` (runs in the
    store, of ``n_runs``) and ``path`` (the store).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.stored = 0
        self.n_runs = 0
        self.path: Path | None = None

    def __str__(self) -> str:
        where = f": {self.stored} of {self.n_runs} runs are in {self.path}" if self.path is not None else ""
        return f"interrupted by {self.signal_name}{where}; rerun the same command to resume"


class _Interrupts:
    """SIGINT and SIGTERM raise :class:`SweepInterrupted`, but not inside :meth:`critical`
    (writing the store): there the signal waits until the block ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None

    def handler(self, signum: int, frame: Any) -> None:
        if self.depth:
            self.pending = signum
        else:
            raise SweepInterrupted(signum)

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending is not None:
            signum, self.pending = self.pending, None
            raise SweepInterrupted(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach only the main thread; a sweep elsewhere keeps the defaults
            return
        previous = {sig: signal.signal(sig, self.handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, h in previous.items():
                signal.signal(sig, h)


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
    interrupts = _Interrupts()
    with interrupts.installed(), contextlib.ExitStack() as held:
        try:
            held.enter_context(store.lock(command_line))
        except StoreReadOnlyError:
            if _complete(experiment, store, retry_failed):  # nothing to write: a read-only store will do
                print(f"{store.path}: all {experiment.design.n_runs} runs are in the store, nothing to run "
                      "(the directory is read-only, so it was left as it is)", file=sys.stderr)
                return store
            raise
        try:
            return _run_locked(experiment, store, interrupts, executor=executor, workers=workers,
                               scheduler=scheduler, retry_failed=retry_failed, progress=progress,
                               chunk_size=chunk_size, max_buffered_rows=max_buffered_rows,
                               command_line=command_line)
        except SweepInterrupted as exc:
            exc.path, exc.n_runs = store.path, experiment.design.n_runs
            exc.stored = len(store.finished())
            raise


def _complete(experiment: Experiment, store: ExperimentStore, retry_failed: bool) -> bool:
    """Whether the store holds every run of ``experiment`` (and, with ``retry_failed``, none
    failed): read without the lock, for a store that cannot be written."""
    if not store.exists() or store.read_manifest().get("fingerprint") != experiment.fingerprint():
        return False
    finished = store.finished()
    if retry_failed and "failed" in finished.values():
        return False
    return all(t["run_id"] in finished for t in experiment.tasks())


def _run_locked(experiment: Experiment, store: ExperimentStore, interrupts: _Interrupts, *,
                executor: str | Executor, workers: int | None, scheduler: str | None, retry_failed: bool,
                progress: bool, chunk_size: int, max_buffered_rows: int,
                command_line: list[str] | None) -> ExperimentStore:
    note = run_note(experiment, command_line)
    with interrupts.critical():
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
    ids = experiment.run_ids()
    skipped = sum(1 for r in ids if r in finished)
    n_todo = len(ids) - skipped

    t0 = time.perf_counter()
    writer = _ChunkWriter(store, chunk_size, max_buffered_rows, interrupts)
    bar = progress_bar(n_todo, progress)
    with use_executor(executor, workers, scheduler) as ex:
        results = ex.map_unordered(execute_task, todo, on_crash=crashed_task_result) if n_todo > 0 else iter(())
        try:
            for result in results:
                writer.add(result)
                bar.update(1)
                if writer.failed:
                    bar.set_postfix(failed=writer.failed)
        finally:
            with interrupts.critical():
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
    """Journals each finished run as it comes, and writes them to the store in chunks."""

    def __init__(self, store: ExperimentStore, chunk_size: int, max_buffered_rows: int,
                 interrupts: _Interrupts) -> None:
        self.store = store
        self.chunk_size = chunk_size
        self.max_buffered_rows = max_buffered_rows
        self.interrupts = interrupts
        self.done = self.failed = 0
        self._results: list[dict[str, Any]] = []
        self._name = store.new_chunk_name()
        self._rows = 0

    def add(self, result: dict[str, Any]) -> None:
        with self.interrupts.critical():
            self.store.append_journal(self._name, result)  # on disk before the run counts as done
            self._results.append(result)
            if result["timeseries"] is not None:
                self._rows += len(result["timeseries"])
            self.done += 1
            self.failed += result["record"]["status"] == "failed"
            if len(self._results) >= self.chunk_size or self._rows >= self.max_buffered_rows:
                self.flush()

    def flush(self) -> None:
        """Write the buffered runs as the chunk their journal names (idempotent if repeated)."""
        if not self._results:
            return
        with self.interrupts.critical():
            self.store.write_results(self._results, name=self._name)
            self._results, self._rows = [], 0
            self._name = self.store.new_chunk_name()


"""Executors: where the runs of an experiment execute.

* ``serial``: in this process, one after another;
* ``process`` (the default): a spawn-context process pool (also works from a notebook);
* ``dask``: a ``distributed.LocalCluster`` of ``workers`` processes, or an existing
  cluster at ``scheduler`` (e.g. one started by dask-jobqueue on an HPC system).

All three have one interface, :class:`Executor`: ``map_unordered(fn, items)`` yields
``fn(item)`` as each finishes, with at most ``2 x workers`` items in flight (so the
parent's memory stays flat however many runs a sweep has); ``close()`` stops the workers.
An executor starts its workers on first use and can be used for many experiments in a
row, so a search that runs one experiment per round (ABC-SMC generations, bisection
rounds) pays the start-up once::

    with open_executor("process", workers=2) as ex:
        for batch in batches:
            run_experiment(batch, out, executor=ex)   # the same pool every time

The items and ``fn`` must be picklable for ``process`` and ``dask`` (the engine sends
plain-dict tasks and :func:`sim.experiments.tasks.execute_task`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "ProcessExecutor", "SerialExecutor", "open_executor",
           "use_executor"]

EXECUTORS = ("serial", "process", "dask")


class Executor:
    """The common interface; a context manager that closes the executor on exit."""

    kind = "executor"

    def __init__(self) -> None:
        self.closed = False

    @property
    def workers(self) -> int:
        """Runs executed at once (starts the workers if needed)."""
        raise NotImplementedError

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn(item)`` for every item, yielded as each finishes (in any order)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers (pending items are cancelled); idempotent."""
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"this {self.kind} executor is closed")

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}{' closed' if self.closed else ''}>"


class SerialExecutor(Executor):
    """Runs every item in this process, in order."""

    kind = "serial"

    @property
    def workers(self) -> int:
        return 1

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        self._check_open()
        for item in items:
            yield fn(item)


class ProcessExecutor(Executor):
    """A pool of ``workers`` spawned processes (default: all cores), started on first use."""

    kind = "process"

    def __init__(self, workers: int | None = None) -> None:
        super().__init__()
        self._workers = workers or os.cpu_count() or 1
        self._pool: Any = None

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def started(self) -> bool:
        return self._pool is not None

    def _get_pool(self) -> Any:
        self._check_open()
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        from concurrent.futures import FIRST_COMPLETED, wait

        pool = self._get_pool()
        pending: set[Any] = set()
        try:
            for item in items:
                pending.add(pool.submit(fn, item))
                if len(pending) >= 2 * self._workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        yield f.result()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        finally:  # abandoned (an error in the caller): what has not started yet is cancelled
            for f in pending:
                f.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        super().close()


class DaskExecutor(Executor):
    """A Dask client: of a new ``LocalCluster`` of ``workers`` processes, or of the cluster
    at ``scheduler``; connected on first use."""

    kind = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("the dask executor needs the 'cluster' extra: pip install 'channel-sim[cluster]'") from exc
        super().__init__()
        self._requested = workers
        self.scheduler = scheduler
        self.cluster: Any = None
        self.client: Any = None
        self._workers = 0

    @property
    def started(self) -> bool:
        return self.client is not None

    def _connect(self) -> Any:
        self._check_open()
        if self.client is None:
            from distributed import Client, LocalCluster

            if self.scheduler:
                self.client = Client(self.scheduler)
            else:
                self.cluster = LocalCluster(n_workers=self._requested or os.cpu_count() or 1, threads_per_worker=1,
                                            processes=True, dashboard_address=None)
                self.client = Client(self.cluster)
            self._workers = max(1, len(self.client.scheduler_info().get("workers", {})) or (self._requested or 1))
        return self.client

    @property
    def workers(self) -> int:
        self._connect()
        return self._workers

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        client = self._connect()
        it = iter(items)
        live = {client.submit(fn, t, pure=False) for _, t in zip(range(2 * self._workers), it, strict=False)}
        ac = as_completed(list(live))
        try:
            for fut in ac:
                live.discard(fut)
                result = fut.result()
                fut.release()
                nxt = next(it, None)
                if nxt is not None:
                    new = client.submit(fn, nxt, pure=False)
                    live.add(new)
                    ac.add(new)
                yield result
        finally:
            if live:
                client.cancel(list(live))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        super().close()


def open_executor(kind: str = "process", workers: int | None = None, scheduler: str | None = None) -> Executor:
    """A new executor of ``kind`` (one of :data:`EXECUTORS`); its workers start on first use.

    Use it as a context manager, or call ``close()`` when done.

    Raises
    ------
    ValueError
        If ``kind`` is unknown or ``workers < 1``.
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {kind!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if kind == "serial":
        return SerialExecutor()
    if kind == "process":
        return ProcessExecutor(workers)
    return DaskExecutor(workers, scheduler)


@contextlib.contextmanager
def use_executor(executor: str | Executor, workers: int | None = None,
                 scheduler: str | None = None) -> Iterator[Executor]:
    """The executor to use for a block: ``executor`` itself if it is an :class:`Executor`
    (left open: its owner closes it), else a new one of that kind, closed at the end of the
    block (also on error).

    Raises
    ------
    ValueError
        If ``workers`` or ``scheduler`` come with an already-open executor (they are its own).
    """
    if isinstance(executor, Executor):
        if workers is not None or scheduler is not None:
            raise ValueError("workers and scheduler are set when an executor is opened, not with an open one")
        yield executor
        return
    ex = open_executor(executor, workers, scheduler)
    try:
        yield ex
    finally:
        ex.close()

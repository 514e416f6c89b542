"""Executors: where the runs of an experiment execute.

* ``serial``: in this process, one after another;
* ``process`` (the default): a spawn-context process pool (also works from a notebook);
* ``dask``: a ``distributed.LocalCluster`` of ``workers`` processes, or an existing
  cluster at ``scheduler`` (e.g. one started by dask-jobqueue on an HPC system).

All three have one interface, :class:`Executor`: ``map_unordered(fn, items)`` yields
``fn(item)`` as each finishes, with at most ``2 x workers`` items in flight (so the
parent's memory stays flat however many runs a sweep has); ``close()`` stops the workers
(after the items running), ``abort()`` at once. A worker process that dies (killed by the
out-of-memory killer, a crash in native code) breaks a process pool: with ``on_crash``,
``map_unordered`` finds the item that killed it (each item that was in flight is rerun
alone), yields ``on_crash(item, cause)`` for it and goes on with a new pool.
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
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["EXECUTORS", "DaskExecutor", "Executor", "ProcessExecutor", "SerialExecutor", "open_executor",
           "use_executor", "worker_death_cause", "worker_exit_codes"]

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

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any],
                      on_crash: Callable[[Any, str], Any] | None = None) -> Iterator[Any]:
        """``fn(item)`` for every item, yielded as each finishes (in any order).

        ``on_crash(item, cause)``, if given, is yielded instead for an item whose worker
        process died running it; without it, such a crash raises.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers (pending items are cancelled); idempotent."""
        self.closed = True

    def abort(self) -> None:
        """Stop the workers now, without waiting for the items they run (after an error or
        an interruption); idempotent."""
        self.close()

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

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any],
                      on_crash: Callable[[Any, str], Any] | None = None) -> Iterator[Any]:
        self._check_open()
        for item in items:  # a crash here is this process's own: nothing to record it
            yield fn(item)


_NOTHING = object()


class ProcessExecutor(Executor):
    """A pool of ``workers`` spawned processes (default: all cores), started on first use."""

    kind = "process"

    def __init__(self, workers: int | None = None) -> None:
        super().__init__()
        self._workers = workers or os.cpu_count() or 1
        self._pool: Any = None
        self._isolation_pool: Any = None

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def started(self) -> bool:
        return self._pool is not None

    def _new_pool(self, workers: int) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker)

    def _get_pool(self) -> Any:
        self._check_open()
        if self._pool is None:
            self._pool = self._new_pool(self._workers)
        return self._pool

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any],
                      on_crash: Callable[[Any, str], Any] | None = None) -> Iterator[Any]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        it = iter(items)
        pending: dict[Any, Any] = {}
        exhausted = False
        unsent: Any = _NOTHING   # an item the pool refused because it broke meanwhile: it never ran
        try:
            while True:
                broken = False
                while not exhausted and len(pending) < 2 * self._workers:
                    if unsent is not _NOTHING:
                        item, unsent = unsent, _NOTHING
                    else:
                        try:
                            item = next(it)
                        except StopIteration:
                            exhausted = True
                            break
                    try:
                        pending[self._get_pool().submit(fn, item)] = item
                    except BrokenProcessPool:
                        if on_crash is None:
                            raise
                        unsent, broken = item, True
                        break
                if not pending and unsent is _NOTHING:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED) if pending else (set(), set())
                suspects = []
                for f in done:
                    item = pending.pop(f)
                    try:
                        result = f.result()
                    except BrokenProcessPool:
                        if on_crash is None:
                            raise
                        suspects.append(item)
                        continue
                    yield result
                if suspects or broken:  # a worker died: the pool is broken and fails every item in it
                    wait(pending)
                    for f, item in list(pending.items()):
                        try:
                            result = f.result()
                        except BrokenProcessPool:
                            suspects.append(item)
                            continue
                        yield result
                    pending.clear()
                    self._discard_pool()
                    assert on_crash is not None
                    yield from self._isolate(fn, suspects, on_crash)
        finally:  # abandoned (an error in the caller): what has not started yet is cancelled
            for f in pending:
                f.cancel()

    def _isolate(self, fn: Callable[[Any], Any], items: list[Any],
                 on_crash: Callable[[Any, str], Any]) -> Iterator[Any]:
        """Rerun each item that was in a broken pool alone, in a pool of one worker: an item
        that kills its worker again is the cause and gets ``on_crash``; the others run."""
        from concurrent.futures.process import BrokenProcessPool

        pool = None
        try:
            for item in items:
                if pool is None:
                    pool = self._isolation_pool = self._new_pool(1)
                future = pool.submit(fn, item)
                procs = dict(getattr(pool, "_processes", None) or {})
                try:
                    result = future.result()
                except BrokenProcessPool:
                    procs.update(getattr(pool, "_processes", None) or {})
                    cause = worker_death_cause(worker_exit_codes(pool, list(procs.values())))
                    _terminate_pool(pool)
                    pool = self._isolation_pool = None
                    yield on_crash(item, cause)
                    continue
                yield result
        finally:
            if pool is not None:
                _terminate_pool(pool)
            self._isolation_pool = None

    def _discard_pool(self) -> None:
        if self._pool is not None:
            _terminate_pool(self._pool)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        super().close()

    def abort(self) -> None:
        self._discard_pool()
        if getattr(self, "_isolation_pool", None) is not None:
            _terminate_pool(self._isolation_pool)
            self._isolation_pool = None
        super().close()


def _init_worker() -> None:
    """Set up a pool's worker process: it leaves Ctrl-C to the parent (which stops it), instead
    of printing a traceback, it exits when the parent dies (:func:`_exit_with_parent`), and it
    keeps what its first task imported out of later garbage collections
    (:data:`sim.experiments.tasks.FREEZE_AFTER_FIRST_TASK`)."""
    import multiprocessing
    import threading

    from sim.experiments import tasks

    tasks.FREEZE_AFTER_FIRST_TASK = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()


def _exit_with_parent(parent: Any) -> None:
    """Wait for the parent process to end, then end this worker at once.

    A parent killed by SIGKILL (or the out-of-memory killer) cannot stop its workers, and a
    worker waiting for its next run would wait forever (its task queue is never closed):
    without this, every kill -9 of a sweep leaves its workers (and their memory) behind.
    ``parent.join()`` waits on the pipe that only the parent holds open, so it returns when
    the parent has exited, however it ended.
    """
    parent.join()
    os._exit(1)


def _terminate_pool(pool: Any) -> None:
    """Shut a process pool down without waiting for what its workers run."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(10)


def worker_exit_codes(pool: Any, procs: list[Any], timeout: float = 10.0) -> list[int | None]:
    """The exit codes of the processes of a broken pool, once they are known.

    The pool's manager thread reaps its dead workers itself (``join`` in
    ``terminate_broken``), at the moment the pool's futures fail. Joining them here as
    well races it for the same ``waitpid``: the loser reads no exit code, and a worker
    killed by SIGKILL would be reported as having merely "died". So wait for the manager
    thread, then read each code (set by whichever thread reaped the process) until all are
    known or ``timeout`` passes.
    """
    import time

    deadline = time.monotonic() + timeout
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(timeout)
    while True:
        codes = [proc.exitcode for proc in procs]
        if all(c is not None for c in codes) or time.monotonic() >= deadline:
            return codes
        time.sleep(0.02)


def worker_death_cause(exitcodes: list[int | None]) -> str:
    """Why the worker died, from its exit code (negative: the signal that killed it)."""
    codes = [c for c in exitcodes if c]
    if not codes:
        how = "died"
    elif codes[0] < 0:
        try:
            name = signal.Signals(-codes[0]).name
        except ValueError:
            name = f"signal {-codes[0]}"
        how = f"was killed by {name}" + (" (the out-of-memory killer sends it)" if name == "SIGKILL" else "")
    else:
        how = f"exited with code {codes[0]}"
    return f"the worker process running this run {how}; the other runs went on"


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
                from sim.experiments.dask_worker import RunsOnly

                self.cluster = LocalCluster(n_workers=self._requested or os.cpu_count() or 1, threads_per_worker=1,
                                            processes=True, dashboard_address=None)
                self.client = Client(self.cluster)
                # set up for runs, as a process pool's workers are (not on a cluster of someone
                # else's, at ``scheduler``, whose workers may run other work)
                self.client.register_plugin(RunsOnly(), name="channel-sim-runs-only")
            self._workers = max(1, len(self.client.scheduler_info().get("workers", {})) or (self._requested or 1))
        return self.client

    @property
    def workers(self) -> int:
        self._connect()
        return self._workers

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any],
                      on_crash: Callable[[Any, str], Any] | None = None) -> Iterator[Any]:
        from distributed import as_completed

        try:
            from distributed import KilledWorker
        except ImportError:  # pragma: no cover - older distributed
            from distributed.scheduler import KilledWorker

        client = self._connect()
        it = iter(items)
        item_of: dict[Any, Any] = {}
        for _, t in zip(range(2 * self._workers), it, strict=False):
            item_of[client.submit(fn, t, pure=False)] = t
        live = set(item_of)
        ac = as_completed(list(live))
        try:
            for fut in ac:
                live.discard(fut)
                item = item_of.pop(fut)
                try:
                    result = fut.result()
                except KilledWorker as exc:  # the workers running it died (Dask retried it first)
                    if on_crash is None:
                        raise
                    result = on_crash(item, f"the Dask workers running this run died ({exc}); the other runs went on")
                fut.release()
                nxt = next(it, None)
                if nxt is not None:
                    new = client.submit(fn, nxt, pure=False)
                    item_of[new] = nxt
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
    block (aborted, its workers stopped at once, on an error or an interruption).

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
    except BaseException:  # an error or an interruption: the runs in flight are not wanted
        ex.abort()
        raise
    ex.close()

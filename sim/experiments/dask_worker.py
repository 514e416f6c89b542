"""Set-up of the Dask workers of :class:`sim.experiments.executors.DaskExecutor`'s own
``LocalCluster`` (a module of its own so that importing the executors does not import
``distributed``, which is in the optional ``cluster`` extra)."""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

__all__ = ["PROFILER_CALLBACKS", "RunsOnly"]

#: The worker's periodic callbacks of Dask's statistical profiler: every 10 ms it samples the
#: stack of the running task, for a dashboard this executor does not start.
PROFILER_CALLBACKS = ("profile", "profile-cycle")


class RunsOnly(WorkerPlugin):
    """A worker of the executor's own cluster runs the engine's runs and nothing else. Its
    ``setup`` runs in every worker process as it starts (including a worker its nanny restarts):

    * the profiler stops (it slowed each run by about a tenth: the sampling thread takes the
      interpreter's lock from the run every 10 ms);
    * as in a process pool's workers (:func:`sim.experiments.executors._init_worker`), what the
      first task imported is kept out of later garbage collections
      (:data:`sim.experiments.tasks.FREEZE_AFTER_FIRST_TASK`)."""

    def setup(self, worker: Any) -> None:
        from sim.experiments import tasks

        callbacks = getattr(worker, "periodic_callbacks", {})
        for name in PROFILER_CALLBACKS:
            pc = callbacks.pop(name, None)
            if pc is not None:
                pc.stop()
        tasks.FREEZE_AFTER_FIRST_TASK = True

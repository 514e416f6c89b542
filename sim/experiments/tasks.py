"""Experiments as tasks: seeds, what each run keeps, one plain-dict task per run, and running one.

**Seeds.** An experiment has one root seed. Replication ``j`` uses
``numpy.random.SeedSequence(root, spawn_key=(j,))`` (the ``j``-th child of the root), the
same for every design point: common random numbers. Inside the model each source of
randomness has its own stream spawned from that seed (:data:`sim.model.RNG_STREAMS`), so a
policy change does not shift the draws of unrelated processes. Each run records its seed
entropy and spawn key, so it can be reproduced alone::

    sim.run(config, seed=numpy.random.SeedSequence(entropy, spawn_key=(j,)))

**Runs are pure functions** of (configuration, seed): :func:`execute_task` takes a plain
dict and returns plain data, whatever executor calls it, so serial, process-pool and
Dask execution give identical results.

**The model** is a target named ``"module:function"`` (:mod:`sim.experiments.targets`);
what only some models can do (a configuration, design points checked as configurations,
a daily time series) are capabilities of their target, not branches here.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import math
import os
import socket
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.experiments.designs import Design, plain
from sim.experiments.store import run_id
from sim.experiments.targets import ModelTarget, RunOutput, import_object, resolve_target
from sim.metrics import resample

__all__ = ["DEFAULT_VARIABLES", "FREQUENCIES", "Experiment", "OutputSpec", "crashed_task_result", "execute_task",
           "replication_seed", "run_outputs"]

FREQUENCIES = {"daily": "D", "weekly": "W-SUN", "monthly": "MS", "end": None}

#: Time-series variables kept by default.
DEFAULT_VARIABLES = (
    "arrivals_uk", "returns", "launches", "launches_prevented", "people_launched", "people_prevented",
    "deaths", "legal_admissions", "left_route", "waiting_at_coast", "mean_price_gbp", "gang_revenue_gbp",
    "gang_profit_gbp", "active_gangs", "mean_believed_return_prob", "policy_cost_gbp",
)


def replication_seed(root: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication ``replication`` (shared by every design point)."""
    return np.random.SeedSequence(int(root), spawn_key=(int(replication),))


@dataclass(frozen=True)
class OutputSpec:
    """What each run keeps: time-series variables at a frequency, and the summary.

    The time series is kept for a model whose target gives one (the Channel model), each
    variable aggregated from days by :func:`sim.metrics.aggregation_of`. ``statistics``
    optionally names a function ``"module:function"``, ``f(daily_timeseries, config) ->
    dict[str, float]``, computed in the worker on the full daily series; its values join
    the run's summary as ``stat:<name>`` columns (the calibration's target statistics use
    this: ``"sim.calibration.targets:run_statistics"``).
    """

    frequency: str = "monthly"
    variables: tuple[str, ...] = DEFAULT_VARIABLES
    statistics: str | None = None

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"outputs.frequency must be one of {list(FREQUENCIES)}, got {self.frequency!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> OutputSpec:
        """From the ``outputs:`` block of a sweep file (``frequency``, ``variables``, ``statistics``)."""
        d = dict(d or {})
        if isinstance(d.get("variables"), str):
            d["variables"] = (d["variables"],)
        elif "variables" in d:
            d["variables"] = tuple(d["variables"])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frequency": self.frequency, "variables": list(self.variables)}
        if self.statistics:
            out["statistics"] = self.statistics
        return out


@dataclass(frozen=True)
class Experiment:
    """A base scenario, fixed overrides, a design, a root seed and what to keep.

    ``model`` names the model target (:mod:`sim.experiments.targets`): ``"channel"`` (the
    Channel model, ``"sim.experiments.channel:channel_model"``) or any ``"module:function"``, e.g. a
    function ``f(params: dict, seed: SeedSequence) -> dict`` of plain outputs (as the
    Ishigami test function, :func:`sim.experiments.testfunctions.ishigami`). ``base`` and
    ``overrides`` only matter to a target with a configuration.
    """

    design: Design
    base: str | Mapping[str, Any] | None = "baseline"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 1
    outputs: OutputSpec = field(default_factory=OutputSpec)
    model: str = "channel"
    name: str = "experiment"

    @property
    def target(self) -> ModelTarget:
        """The model target :attr:`model` names."""
        return resolve_target(self.model)

    def base_config_dict(self, scenario: str | None = None) -> dict[str, Any] | None:
        """The configuration of ``scenario`` (default: :attr:`base`) with the overrides, or
        None for a model without a configuration."""
        return self.target.base_config(scenario if scenario is not None else self.base, self.overrides)

    @staticmethod
    def run_id(point: int, replication: int) -> str:
        """The run id of a point's replication (run ids sort in :meth:`tasks` order; the format
        is :func:`sim.experiments.store.run_id`'s)."""
        return run_id(point, replication)

    def run_ids(self) -> list[str]:
        """The ids of the runs :meth:`tasks` yields, without building the tasks (every cell of
        the design; a selection for an experiment that runs some cells, such as a threshold
        search's round)."""
        return [self.run_id(i, j) for i in range(self.design.n_points) for j in range(self.design.replications)]

    def tasks(self) -> Iterator[dict[str, Any]]:
        """One plain-dict task per run, in run-id order (point-major)."""
        target = self.target
        pts = self.design.points
        bases: dict[str | None, dict[str, Any] | None] = {}
        for i, row in enumerate(pts.itertuples(index=False)):
            values = {k: plain(v) for k, v in zip(pts.columns, row, strict=True)
                      if v is not None and not (isinstance(v, float) and math.isnan(v))}
            scenario = values.pop("scenario", None)
            if scenario not in bases:
                bases[scenario] = self.base_config_dict(scenario)
            params = target.point_params(values)
            for j in range(self.design.replications):
                yield {
                    "run_id": self.run_id(i, j), "point": i, "replication": j, "scenario": scenario,
                    "params": params, "base_config": bases[scenario], "seed_entropy": int(self.seed),
                    "spawn_key": [j], "model": self.model, "outputs": self.outputs.to_dict(),
                }

    def validate(self) -> None:
        """Check every design point is valid for the model (for the Channel model: makes a
        valid configuration) before anything runs."""
        check = self.target.check
        if check is None:
            return
        seen: set[str] = set()
        for task in self.tasks():
            if task["replication"]:
                continue
            key = json.dumps([task["scenario"], task["params"]], sort_keys=True, default=str)
            if key in seen:
                continue
            seen.add(key)
            try:
                check(task["base_config"], task["params"])
            except ConfigError as exc:
                raise ConfigError(f"design point {task['point']} ({task['params']}): {exc}") from None

    def fingerprint_data(self) -> dict[str, Any]:
        return {"design": self.design.to_dict(), "base_config": self.base_config_dict(),
                "overrides": plain(dict(self.overrides)), "seed": int(self.seed),
                "outputs": self.outputs.to_dict(), "model": self.model}

    def fingerprint(self) -> str:
        blob = json.dumps(self.fingerprint_data(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


# ----------------------------------------------------------------------------- one run
def _task_record(task: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": task["run_id"], "point": task["point"], "replication": task["replication"],
        "scenario": task["scenario"], "params": json.dumps(task["params"], sort_keys=True, default=str),
        "seed_entropy": str(task["seed_entropy"]), "spawn_key": json.dumps(task["spawn_key"]),
        "host": socket.gethostname(), "pid": os.getpid(),
    }


def crashed_task_result(task: Mapping[str, Any], cause: str) -> dict[str, Any]:
    """The result of a task whose worker process died while running it (``cause`` says how):
    a failed run, recorded like any other so that the sweep goes on and a resume skips it
    (``--retry-failed`` reruns it)."""
    record = _task_record(task)
    record.update(status="failed", error=f"WorkerCrashed: {cause}", traceback=None, wall_seconds=float("nan"),
                  finished_at=dt.datetime.now(dt.UTC).isoformat())
    return {"record": record, "summary": None, "timeseries": None}


#: Set in a process pool's worker (by its initializer, :mod:`sim.experiments.executors`): at the
#: start of its second task, the worker freezes what it then holds (the modules the first task
#: imported, compiled code; the first task's result is gone by then) out of the garbage
#: collector's reach, so that later collections scan only what runs allocate. Not in the
#: parent process, where freezing would keep the caller's own garbage forever.
FREEZE_AFTER_FIRST_TASK = False
_tasks_run = 0


def _freeze_imports_once() -> None:
    global _tasks_run
    _tasks_run += 1
    if FREEZE_AFTER_FIRST_TASK and _tasks_run == 2:
        gc.collect()
        gc.freeze()


def execute_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one task; never raises: a failure is returned with its traceback."""
    _freeze_imports_once()
    t0 = time.perf_counter()
    record = _task_record(task)
    seed = np.random.SeedSequence(int(task["seed_entropy"]), spawn_key=tuple(task["spawn_key"]))
    summary: dict[str, Any] | None = None
    ts_long: pd.DataFrame | None = None
    try:
        result = resolve_target(task["model"]).execute(task["params"], seed, task["base_config"])
        summary, ts_long = run_outputs(result, task["outputs"], task["run_id"])
        record.update(status="ok", error=None, traceback=None)
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded and the sweep goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        summary, ts_long = None, None
    record["wall_seconds"] = time.perf_counter() - t0
    record["finished_at"] = dt.datetime.now(dt.UTC).isoformat()
    if summary is not None:
        summary = {"run_id": task["run_id"], **{k: plain(v) for k, v in summary.items()}}
    return {"record": record, "summary": summary, "timeseries": ts_long}


def run_outputs(result: RunOutput, outputs: Mapping[str, Any],
                run_id: str) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """What a run keeps (``outputs`` as :meth:`OutputSpec.to_dict`): the summary with the
    ``stat:`` statistics, and the time series in long format (``run_id, date, variable,
    value``) at the output frequency, or None (frequency ``end``, or a model without one).

    Raises
    ------
    KeyError
        If a requested variable is not in the model's time series.
    ValueError
        If statistics are asked of a model without a time series.
    """
    summary = dict(result.summary)
    ts = result.timeseries
    if outputs.get("statistics"):
        if ts is None:
            raise ValueError(f"outputs.statistics ({outputs['statistics']}) needs a model with a daily time series")
        fn = import_object(outputs["statistics"])
        summary.update({f"stat:{k}": float(v) for k, v in fn(ts, result.config).items()})
    freq = FREQUENCIES[outputs["frequency"]]
    if freq is None or ts is None:
        return summary, None
    variables = [v for v in outputs["variables"] if v in ts.columns]
    missing = sorted(set(outputs["variables"]) - set(ts.columns))
    if missing:
        raise KeyError(f"outputs.variables not produced by the model: {missing}")
    table = ts[variables] if freq == "D" else resample(ts, freq, variables)
    long = table.reset_index().melt(id_vars="date", var_name="variable", value_name="value")
    long.insert(0, "run_id", run_id)
    long["value"] = long["value"].astype("float64")
    return summary, long

"""Running experiments: seeds, tasks, executors, and writing the store as runs finish.

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

**Executors.** ``serial``; ``process`` (the default; a spawn-context process pool, which
also works from a notebook); ``dask`` (a ``distributed.LocalCluster`` of ``workers``
processes, or an existing cluster at ``scheduler``, e.g. one started by dask-jobqueue on
an HPC system). At most ``2 x workers`` runs are in flight and finished runs are written
in chunks, so the parent's memory stays flat however many runs a sweep has.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.designs import Design, _plain, design_from_spec
from sim.experiments.store import ExperimentStore
from sim.params import ConfigError, _default_at, load_config

__all__ = ["Experiment", "OutputSpec", "run_experiment", "execute_task", "replication_seed",
           "load_sweep", "DEFAULT_VARIABLES", "EXECUTORS"]

EXECUTORS = ("serial", "process", "dask")
FREQUENCIES = {"daily": "D", "weekly": "W-SUN", "monthly": "MS", "end": None}

#: Time-series variables kept by default.
DEFAULT_VARIABLES = (
    "arrivals_uk", "returns", "launches", "launches_prevented", "people_launched", "people_prevented",
    "deaths", "legal_admissions", "left_route", "waiting_at_coast", "mean_price_gbp", "gang_revenue_gbp",
    "gang_profit_gbp", "active_gangs", "mean_believed_return_prob", "policy_cost_gbp",
)
#: How a variable is aggregated from days to the output frequency (default: sum, a flow).
LEVELS_MEAN = {"waiting_at_coast", "mean_price_gbp", "price_sd_gbp", "mean_believed_return_prob", "people_per_boat",
               "boat_price_gbp", "concentration_hhi", "patrol_capacity_units", "legal_applicants",
               "returns_quota_per_week", "crossable"}
STOCKS_LAST = {"active_gangs", "gang_cash_gbp", "cum_inflow"}


def replication_seed(root: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication ``replication`` (shared by every design point)."""
    return np.random.SeedSequence(int(root), spawn_key=(int(replication),))


@dataclass(frozen=True)
class OutputSpec:
    """What each run keeps: time-series variables at a frequency, and the summary.

    ``statistics`` optionally names a function ``"module:function"``,
    ``f(daily_timeseries, config) -> dict[str, float]``, computed in the worker on the
    full daily series; its values join the run's summary as ``stat:<name>`` columns
    (the calibration's target statistics use this:
    ``"sim.calibration.targets:run_statistics"``).
    """

    frequency: str = "monthly"
    variables: tuple[str, ...] = DEFAULT_VARIABLES
    statistics: str | None = None

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"outputs.frequency must be one of {list(FREQUENCIES)}, got {self.frequency!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frequency": self.frequency, "variables": list(self.variables)}
        if self.statistics:
            out["statistics"] = self.statistics
        return out


@dataclass(frozen=True)
class Experiment:
    """A base scenario, fixed overrides, a design, a root seed and what to keep.

    ``model`` is ``"channel"`` (the Channel model) or ``"module:function"``, a function
    ``f(params: dict, seed: SeedSequence) -> dict`` of plain outputs (as for the Ishigami
    test function, :func:`sim.experiments.testfunctions.ishigami`).
    """

    design: Design
    base: str | Mapping[str, Any] | None = "baseline"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 1
    outputs: OutputSpec = field(default_factory=OutputSpec)
    model: str = "channel"
    name: str = "experiment"

    # -- tasks ------------------------------------------------------------------------
    def base_config_dict(self, scenario: str | None = None) -> dict[str, Any] | None:
        if self.model != "channel":
            return None
        cfg = load_config(scenario if scenario is not None else self.base, overrides=dict(self.overrides))
        return cfg.model_dump(mode="json")

    def tasks(self) -> Iterator[dict[str, Any]]:
        """One plain-dict task per run, in run-id order (point-major)."""
        pts = self.design.points
        bases: dict[str | None, dict[str, Any] | None] = {}
        for i, row in enumerate(pts.itertuples(index=False)):
            values = {k: _plain(v) for k, v in zip(pts.columns, row, strict=True)
                      if v is not None and not (isinstance(v, float) and math.isnan(v))}
            scenario = values.pop("scenario", None)
            if scenario not in bases:
                bases[scenario] = self.base_config_dict(scenario)
            params = {k: _coerce(k, v) for k, v in values.items()} if self.model == "channel" else values
            for j in range(self.design.replications):
                yield {
                    "run_id": f"p{i:05d}-r{j:03d}", "point": i, "replication": j, "scenario": scenario,
                    "params": params, "base_config": bases[scenario], "seed_entropy": int(self.seed),
                    "spawn_key": [j], "model": self.model, "outputs": self.outputs.to_dict(),
                }

    def validate(self) -> None:
        """Check every design point makes a valid configuration before anything runs."""
        if self.model != "channel":
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
                load_config(task["base_config"], overrides=task["params"])
            except ConfigError as exc:
                raise ConfigError(f"design point {task['point']} ({task['params']}): {exc}") from None

    def fingerprint_data(self) -> dict[str, Any]:
        return {"design": self.design.to_dict(), "base_config": self.base_config_dict(),
                "overrides": _plain(dict(self.overrides)), "seed": int(self.seed),
                "outputs": self.outputs.to_dict(), "model": self.model}

    def fingerprint(self) -> str:
        blob = json.dumps(self.fingerprint_data(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def _coerce(path: str, value: Any) -> Any:
    """Round sampled values of whole-number fields (e.g. a Latin hypercube over a quota)."""
    try:
        default = _default_at(path.split("."))
    except (AttributeError, IndexError, KeyError, ValueError, TypeError):
        return value  # unknown field: validation names it
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
        return int(round(value))
    return value


# ----------------------------------------------------------------------------- one run
def execute_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one task; never raises: a failure is returned with its traceback."""
    t0 = time.perf_counter()
    record = {
        "run_id": task["run_id"], "point": task["point"], "replication": task["replication"],
        "scenario": task["scenario"], "params": json.dumps(task["params"], sort_keys=True, default=str),
        "seed_entropy": str(task["seed_entropy"]), "spawn_key": json.dumps(task["spawn_key"]),
        "host": socket.gethostname(), "pid": os.getpid(),
    }
    seed = np.random.SeedSequence(int(task["seed_entropy"]), spawn_key=tuple(task["spawn_key"]))
    summary: dict[str, Any] | None = None
    ts_long: pd.DataFrame | None = None
    try:
        if task["model"] == "channel":
            summary, ts_long = _run_channel(task, seed)
        else:
            summary = _run_function(task["model"], task["params"], seed)
        record.update(status="ok", error=None, traceback=None)
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded and the sweep goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        summary, ts_long = None, None
    record["wall_seconds"] = time.perf_counter() - t0
    record["finished_at"] = dt.datetime.now(dt.UTC).isoformat()
    if summary is not None:
        summary = {"run_id": task["run_id"], **{k: _plain(v) for k, v in summary.items()}}
    return {"record": record, "summary": summary, "timeseries": ts_long}


def _run_channel(task: Mapping[str, Any], seed: np.random.SeedSequence) -> tuple[dict[str, Any], pd.DataFrame | None]:
    import sim

    cfg = load_config(task["base_config"], overrides=task["params"])
    res = sim.run(cfg, seed=seed)
    summary = dict(res.summary)
    summary.pop("seed", None)
    out = task["outputs"]
    if out.get("statistics"):
        fn = _import_function(out["statistics"])
        summary.update({f"stat:{k}": float(v) for k, v in fn(res.timeseries, cfg).items()})
    freq = FREQUENCIES[out["frequency"]]
    if freq is None:
        return summary, None
    ts = res.timeseries
    variables = [v for v in out["variables"] if v in ts.columns]
    missing = sorted(set(out["variables"]) - set(ts.columns))
    if missing:
        raise KeyError(f"outputs.variables not produced by the model: {missing}")
    agg = {v: ("mean" if v in LEVELS_MEAN else "last" if v in STOCKS_LAST else "sum") for v in variables}
    table = ts[variables] if freq == "D" else ts[variables].resample(freq).agg(agg)
    long = table.reset_index().melt(id_vars="date", var_name="variable", value_name="value")
    long.insert(0, "run_id", task["run_id"])
    long["value"] = long["value"].astype("float64")
    return summary, long


def _import_function(target: str) -> Any:
    import importlib

    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"expected 'module:function', got {target!r}")
    return getattr(importlib.import_module(module), name)


def _run_function(target: str, params: Mapping[str, Any], seed: np.random.SeedSequence) -> dict[str, Any]:
    return dict(_import_function(target)(dict(params), seed))


# ----------------------------------------------------------------------------- executors
class _Serial:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = 1

    def map_unordered(self, tasks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for t in tasks:
            yield execute_task(t)

    def close(self) -> None:
        pass


class _Processes:
    def __init__(self, workers: int | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or os.cpu_count() or 1
        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def map_unordered(self, tasks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        pending = set()
        it = iter(tasks)
        for t in it:
            pending.add(self.pool.submit(execute_task, t))
            if len(pending) >= 2 * self.workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield f.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("the dask executor needs the 'cluster' extra: pip install 'channel-sim[cluster]'") from exc
        self.cluster = None
        if scheduler:
            self.client = Client(scheduler)
        else:
            self.cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                        processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})) or (workers or 1))

    def map_unordered(self, tasks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        from distributed import as_completed

        it = iter(tasks)
        first = [self.client.submit(execute_task, t, pure=False) for _, t in zip(range(2 * self.workers), it,
                                                                                   strict=False)]
        ac = as_completed(first)
        for fut in ac:
            result = fut.result()
            fut.release()
            nxt = next(it, None)
            if nxt is not None:
                ac.add(self.client.submit(execute_task, nxt, pure=False))
            yield result

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _executor(kind: str, workers: int | None, scheduler: str | None) -> Any:
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {kind!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if kind == "serial":
        return _Serial()
    if kind == "process":
        return _Processes(workers)
    return _Dask(workers, scheduler)


# ----------------------------------------------------------------------------- the engine
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("channel-sim", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "SALib", "dask",
                "distributed"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _git_revision() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_experiment(experiment: Experiment, out: str | Path, *, executor: str = "process",
                   workers: int | None = None, scheduler: str | None = None, retry_failed: bool = False,
                   progress: bool = True, chunk_size: int = 25, max_buffered_rows: int = 400_000,
                   command_line: list[str] | None = None) -> ExperimentStore:
    """Run (or resume) an experiment into the store at ``out``.

    Finished runs already in the store are skipped; failed ones are rerun only with
    ``retry_failed``. A store made by a different experiment is refused
    (:class:`~sim.experiments.store.StoreMismatchError`).

    Returns
    -------
    ExperimentStore
        The store, for reading back (``.runs()``, ``.summaries()``, ``.timeseries()``).
    """
    experiment.validate()
    store = ExperimentStore(out)
    note = {**experiment.fingerprint_data(), "started": dt.datetime.now(dt.UTC).isoformat(),
            "command_line": command_line if command_line is not None else list(sys.argv)}
    fp = experiment.fingerprint()
    if store.exists():
        store.open_for_resume(fp, note)
    else:
        store.create({**note, "name": experiment.name, "fingerprint": fp, "n_runs": experiment.design.n_runs,
                      "package_versions": _versions(), "git_revision": _git_revision(),
                      "created": note["started"]})
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
    done = failed_count = 0
    bar = _progress(n_todo, progress)
    buf_runs: list[dict[str, Any]] = []
    buf_sum: list[dict[str, Any]] = []
    buf_ts: list[pd.DataFrame] = []
    buffered_rows = 0

    def flush() -> None:
        nonlocal buf_runs, buf_sum, buf_ts, buffered_rows
        if not buf_runs:
            return
        store.write_chunk(_frame(buf_runs), _frame(buf_sum) if buf_sum else None,
                          pd.concat(buf_ts, ignore_index=True) if buf_ts else None)
        buf_runs, buf_sum, buf_ts, buffered_rows = [], [], [], 0

    ex = _executor(executor, workers, scheduler) if n_todo > 0 else None
    try:
        if ex is not None:
            for result in ex.map_unordered(todo):
                buf_runs.append(result["record"])
                if result["summary"] is not None:
                    buf_sum.append(result["summary"])
                if result["timeseries"] is not None:
                    buf_ts.append(result["timeseries"])
                    buffered_rows += len(result["timeseries"])
                done += 1
                failed_count += result["record"]["status"] == "failed"
                bar.update(1)
                if failed_count:
                    bar.set_postfix(failed=failed_count)
                if len(buf_runs) >= chunk_size or buffered_rows >= max_buffered_rows:
                    flush()
        flush()
    finally:
        flush()
        bar.close()
        if ex is not None:
            ex.close()
    elapsed = time.perf_counter() - t0
    if progress:
        print(f"{experiment.name}: {done - failed_count} runs done, {failed_count} failed, {skipped} skipped "
              f"(already in the store) in {elapsed:.1f} s -> {store.path}", file=sys.stderr)
    return store


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in df.columns:
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c] if v is not None}
            if len(kinds) > 1:
                df[c] = df[c].map(lambda v: None if v is None else str(v))
    return df


def _progress(total: int, enabled: bool) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        enabled = False
    if not enabled:
        class _Nil:
            def update(self, n: int) -> None: ...
            def set_postfix(self, **kw: Any) -> None: ...
            def close(self) -> None: ...
        return _Nil()
    return tqdm(total=total, unit="run", dynamic_ncols=True, smoothing=0.1)


# ----------------------------------------------------------------------------- sweep files
def load_sweep(path: str | Path, *, replications: int | None = None) -> Experiment:
    """Read a sweep file (YAML) into an :class:`Experiment`.

    Format::

        name: quota_vs_interception
        base: pilot_50                   # scenario to start from (name or path)
        overrides: {start_date: 2025-01-01}
        seed: 20250804                   # root seed
        replications: 5
        design:
          kind: grid                     # grid | list | lhs | sobol | morris | scenarios
          factors:
            returns.quota_per_week: [0, 50, 100, 200, 400]
            patrols.uk_payment_gbp_per_year: {start: 0, stop: 480000000, step: 160000000}
        outputs: {frequency: monthly, variables: [arrivals_uk, returns]}
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep file '{path}' not found")
    try:
        spec = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    allowed = {"name", "description", "base", "overrides", "seed", "replications", "design", "outputs", "model"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; a sweep file has {sorted(allowed)}")
    reps = int(replications if replications is not None else spec.get("replications", 1))
    seed = int(spec.get("seed", 1))
    try:
        design = design_from_spec(spec.get("design") or {}, reps, seed)
        outputs = OutputSpec(**(spec.get("outputs") or {}))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if isinstance(outputs.variables, list):
        outputs = OutputSpec(outputs.frequency, tuple(outputs.variables), outputs.statistics)
    return Experiment(design=design, base=spec.get("base", "baseline"), overrides=spec.get("overrides") or {},
                      seed=seed, outputs=outputs, model=spec.get("model", "channel"),
                      name=str(spec.get("name", p.stem)))

"""Experiments: designs, seeds, executors, a resumable Parquet store, and analysis.

The usual entry points::

    from sim.experiments import grid, Experiment, run_experiment
    exp = Experiment(grid({"returns.quota_per_week": [0, 50, 200]}, replications=5), base="pilot_50", seed=1)
    store = run_experiment(exp, "outputs/quota_sweep")      # resumable; executor="process" by default
    store.summaries()

    sim.compare(["baseline", "pilot_50"], replications=10)   # paired comparison with intervals

Several experiments in a row can share one pool of workers::

    with open_executor("process", workers=2) as ex:
        for exp in experiments:
            run_experiment(exp, f"outputs/{exp.name}", executor=ex)

The modules: :mod:`~sim.experiments.designs`, :mod:`~sim.experiments.tasks` (seeds,
experiments, one run), :mod:`~sim.experiments.targets` (the model as ``"module:function"``;
:mod:`~sim.experiments.channel`, the Channel model), :mod:`~sim.experiments.executors`,
:mod:`~sim.experiments.engine` (:func:`run_experiment`), :mod:`~sim.experiments.store`,
:mod:`~sim.experiments.provenance`, :mod:`~sim.experiments.spec` (sweep and calibration
files), :mod:`~sim.experiments.stats`, :mod:`~sim.experiments.analysis`,
:mod:`~sim.experiments.sensitivity`, :mod:`~sim.experiments.threshold`,
:mod:`~sim.experiments.phase`.
"""

from sim.experiments.analysis import Comparison, compare, format_comparison, point_table
from sim.experiments.designs import Design, grid, latin_hypercube, listed, morris, scenarios, sobol
from sim.experiments.engine import RunsFailedError, SweepInterrupted, run_experiment
from sim.experiments.executors import Executor, open_executor
from sim.experiments.phase import phase_diagram, plot_phase
from sim.experiments.sensitivity import morris_indices, plot_indices, sobol_indices
from sim.experiments.spec import load_spec, load_sweep
from sim.experiments.stats import mean_ci, median_order_ci, paired_differences, wilson_interval
from sim.experiments.store import ExperimentStore, StoreError, StoreLockedError, StoreMismatchError
from sim.experiments.targets import ModelTarget, RunOutput, resolve_target
from sim.experiments.tasks import Experiment, OutputSpec, execute_task, replication_seed
from sim.experiments.threshold import (
    ThresholdResult,
    bisect_threshold,
    bisect_thresholds,
    format_threshold,
    threshold_quota,
)

__all__ = [
    "Comparison", "Design", "Executor", "Experiment", "ExperimentStore", "ModelTarget", "OutputSpec", "RunOutput",
    "StoreMismatchError", "ThresholdResult", "bisect_threshold", "bisect_thresholds", "compare", "execute_task",
    "format_comparison", "format_threshold", "grid", "latin_hypercube", "listed", "load_spec", "load_sweep",
    "mean_ci", "median_order_ci", "morris", "morris_indices", "open_executor", "paired_differences",
    "phase_diagram", "plot_indices", "plot_phase", "point_table", "replication_seed", "resolve_target",
    "run_experiment", "scenarios", "sobol", "sobol_indices", "threshold_quota", "wilson_interval",
    "RunsFailedError", "StoreError", "StoreLockedError", "SweepInterrupted",
]

"""Experiments: designs, seeds, executors, a resumable Parquet store, and analysis.

The usual entry points::

    from sim.experiments import grid, Experiment, run_experiment
    exp = Experiment(grid({"returns.quota_per_week": [0, 50, 200]}, replications=5), base="pilot_50", seed=1)
    store = run_experiment(exp, "outputs/quota_sweep")      # resumable; executor="process" by default
    store.summaries()

    sim.compare(["baseline", "pilot_50"], replications=10)   # paired comparison with intervals
"""

from sim.experiments.analysis import Comparison, compare, format_comparison, mean_ci, point_table
from sim.experiments.designs import Design, grid, latin_hypercube, listed, morris, scenarios, sobol
from sim.experiments.engine import (
    Experiment,
    OutputSpec,
    execute_task,
    load_sweep,
    replication_seed,
    run_experiment,
)
from sim.experiments.phase import phase_diagram, plot_phase
from sim.experiments.sensitivity import morris_indices, plot_indices, sobol_indices
from sim.experiments.store import ExperimentStore, StoreMismatchError
from sim.experiments.threshold import ThresholdResult, format_threshold, threshold_quota

__all__ = [
    "Comparison", "Design", "Experiment", "ExperimentStore", "OutputSpec", "StoreMismatchError", "compare",
    "execute_task", "format_comparison", "grid", "latin_hypercube", "listed", "load_sweep", "mean_ci", "morris",
    "point_table", "replication_seed", "run_experiment", "scenarios", "sobol", "sobol_indices", "morris_indices",
    "plot_indices", "phase_diagram", "plot_phase", "threshold_quota", "format_threshold", "ThresholdResult",
]

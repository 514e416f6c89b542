"""The smallest weekly returns quota that breaks the smugglers' business model.

:func:`threshold_quota` searches, seed by seed, for the smallest value of a whole-number
factor (by default ``returns.quota_per_week``) at which the run's verdict
(``business_model_broken``) is true.

**The search.** The candidate values are the grid ``lo, lo + tolerance, ..., hi`` (``hi``
always included). For every replication ``j`` (seed ``replication_seed(seed, j)``, the
same seeds the experiment engine gives replication ``j`` of every design point) the
verdict is first evaluated at both ends of the bracket: broken at ``lo`` means the
threshold is ``lo``; not broken at ``hi`` means it is *censored*, known only to exceed
``hi``. Otherwise the bracket ``(lower, upper]`` (not broken at ``lower``, broken at
``upper``) is halved on the candidate grid until ``upper - lower <= tolerance``; the
replication's threshold is ``upper``, the smallest value at which a run was seen broken,
and the true threshold lies in ``(lower, upper]``. The verdict is *assumed* monotone in
the factor (a non-monotone verdict makes bisection find one of its switch points).

The bisection itself is :func:`bisect_thresholds`, a pure function of a batch
predicate (tested with a plain lambda, no model); :func:`threshold_quota` runs it on the
model.

**Running.** The search is one experiment in the engine: a grid design over all
candidate values crossed with the replications, of which each bisection round runs only
the cells it needs (one run per replication still searching), as one parallel batch.
All rounds share one store (``out``, or a temporary directory), so a search that is
run again with the same arguments resumes from the runs already done, and one executor
(one process pool or Dask client, opened for the search or passed in), so the workers
start once.

**Statistics** over replications: the mean of the thresholds with a Student-t interval
(over the uncensored replications only; biased low when some are censored), and the
median with a distribution-free **order-statistic** interval (ranks from the Binomial(n,
1/2) distribution; censored values count as larger than every finite one, so the
median and its interval stay valid under censoring as long as they fall on finite
values). Thresholds are on a grid of step ``tolerance`` and rounded *up* to it (an upward
bias below ``tolerance``, about ``tolerance / 2`` on average); the intervals describe
variation over seeds, not the grid's resolution.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.experiments.designs import grid
from sim.experiments.engine import run_experiment
from sim.experiments.executors import Executor, use_executor
from sim.experiments.stats import mean_ci, median_order_ci
from sim.experiments.store import ExperimentStore
from sim.experiments.tasks import Experiment, OutputSpec

__all__ = [
    "Bracket",
    "SearchExperiment",
    "ThresholdResult",
    "bisect_threshold",
    "bisect_thresholds",
    "threshold_quota",
    "format_threshold",
    "candidate_grid",
    "read_verdicts",
    "median_order_ci",  # from sim.experiments.stats
]

#: A cell of the search: (index on the candidate grid, replication).
Cell = tuple[int, int]

QUOTA = "returns.quota_per_week"
VERDICT = "business_model_broken"


@dataclass
class ThresholdResult:
    """The outcome of :func:`threshold_quota`.

    Attributes
    ----------
    factor
        The searched field (dotted path).
    lo, hi, tolerance
        The search bracket and the step of the candidate grid.
    per_replication
        One row per replication: ``replication``, ``threshold`` (smallest value seen
        broken; NaN if censored), ``lower`` (largest value seen not broken; NaN if broken
        at ``lo``), ``censored`` (not broken at ``hi``), ``runs`` (evaluations).
    evaluations
        Every run of the search: ``round``, ``replication``, ``value``, ``broken``, ``run_id``.
    mean, mean_lower, mean_upper, n_mean
        Mean of the uncensored thresholds and its t interval (``n_mean`` values).
    median, median_lower, median_upper, median_coverage
        Median over all replications (censored ones as larger than ``hi``; ``inf`` if the
        median itself is censored), its order-statistic interval and that interval's
        exact coverage (at least ``level`` when ``n`` allows, else the widest available).
    n_censored, n_runs, rounds, level, seed, store
        Censored replications, runs evaluated, bisection rounds, interval level, root
        seed and the store holding the runs.
    """

    factor: str
    lo: int
    hi: int
    tolerance: int
    per_replication: pd.DataFrame
    evaluations: pd.DataFrame
    mean: float
    mean_lower: float
    mean_upper: float
    n_mean: int
    median: float
    median_lower: float
    median_upper: float
    median_coverage: float
    n_censored: int
    n_runs: int
    rounds: int
    level: float
    seed: int
    store: ExperimentStore
    notes: list[str] = field(default_factory=list)

    @property
    def thresholds(self) -> np.ndarray:
        """Per-replication thresholds, ``inf`` where censored."""
        t = self.per_replication["threshold"].to_numpy(dtype=float).copy()
        t[self.per_replication["censored"].to_numpy(dtype=bool)] = np.inf
        return t

    @property
    def replications(self) -> int:
        return len(self.per_replication)


def candidate_grid(lo: int, hi: int, tolerance: int) -> list[int]:
    """Whole-number candidates ``lo, lo + tolerance, ...`` up to and including ``hi``.

    Raises
    ------
    ValueError
        If the bounds or the tolerance are not whole numbers with ``0 <= lo < hi`` and
        ``tolerance >= 1``.
    """
    for name, v in (("lo", lo), ("hi", hi), ("tolerance", tolerance)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be a whole number, got {v!r}")
    if not 0 <= lo < hi:
        raise ValueError(f"need 0 <= lo < hi, got lo={lo}, hi={hi}")
    if tolerance < 1:
        raise ValueError(f"tolerance must be >= 1, got {tolerance}")
    values = list(range(int(lo), int(hi), int(tolerance)))
    return [*values, int(hi)]


@dataclass(frozen=True)
class Bracket:
    """Where one replication's threshold lies on the candidate grid, by index.

    ``lower`` is the largest index seen not broken (None: broken already at index 0),
    ``upper`` the smallest index seen broken (None: *censored*, not broken at the last
    index). The threshold is the value at ``upper``; the switch lies in ``(lower, upper]``.
    """

    lower: int | None
    upper: int | None

    @property
    def censored(self) -> bool:
        return self.upper is None


def bisect_thresholds(
    n_values: int,
    replications: int,
    evaluate: Callable[[list[Cell], int], Mapping[Cell, bool]],
) -> dict[int, Bracket]:
    """Bisect, for every replication at once, for the first grid index where a verdict turns true.

    The verdict of each replication is assumed non-decreasing in the index (a
    non-monotone verdict makes bisection find one of its switch points). The search runs
    in rounds, each one batch of cells ``(index, replication)`` given to
    ``evaluate(cells, round)``, which returns the verdict of every cell: round 0 holds both
    ends of the grid (index 0, then index ``n_values - 1``) for every replication; each
    later round the midpoint of every bracket still wider than one step. A replication
    broken at index 0 or not broken at the last index needs no more rounds.

    A pure function of ``evaluate``: :func:`threshold_quota` evaluates a batch by running
    the model on it; a plain function of the index does for a test.

    Parameters
    ----------
    n_values
        Size of the candidate grid (>= 2).
    replications
        Number of replications (>= 1), searched independently: ``0 .. replications - 1``.
    evaluate
        ``evaluate(cells, round) -> {cell: verdict}``.

    Returns
    -------
    dict
        Replication -> :class:`Bracket`.

    Raises
    ------
    ValueError
        If ``n_values < 2`` or ``replications < 1``.
    """
    if n_values < 2:
        raise ValueError(f"a bisection needs at least 2 candidate values, got {n_values}")
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    last = n_values - 1
    reps = range(replications)
    first = evaluate([(0, j) for j in reps] + [(last, j) for j in reps], 0)
    found: dict[int, Bracket] = {}
    bracket: dict[int, tuple[int, int]] = {}  # replication -> (not broken at a, broken at b)
    for j in reps:
        if first[(0, j)]:
            found[j] = Bracket(None, 0)
        elif not first[(last, j)]:
            found[j] = Bracket(last, None)
        else:
            bracket[j] = (0, last)
    rnd = 0
    while bracket:
        mids = {j: (a + b) // 2 for j, (a, b) in bracket.items() if b - a > 1}
        for j in set(bracket) - set(mids):
            found[j] = Bracket(*bracket.pop(j))
        if not mids:
            break
        rnd += 1
        got = evaluate([(m, j) for j, m in mids.items()], rnd)
        for j, m in mids.items():
            a, b = bracket[j]
            bracket[j] = (a, m) if got[(m, j)] else (m, b)
    return {j: found[j] for j in reps}


def bisect_threshold(broken: Callable[[int], bool], n_values: int) -> Bracket:
    """:func:`bisect_thresholds` for one replication and a predicate of the grid index."""
    return bisect_thresholds(n_values, 1, lambda cells, _round: {c: bool(broken(c[0])) for c in cells})[0]


@dataclass(frozen=True)
class SearchExperiment(Experiment):
    """A search's experiment, running only the ``selected`` (point, replication) cells of its
    design (the first column is the searched factor); also used by
    :mod:`sim.experiments.posterior_threshold`.

    The fingerprint is that of the whole grid plus the search settings, so every round
    writes to the same store and a rerun resumes.
    """

    selected: frozenset[tuple[int, int]] | None = None
    search: Mapping[str, Any] = field(default_factory=dict)

    def run_ids(self) -> list[str]:
        if self.selected is None:
            return super().run_ids()
        return [self.run_id(p, j) for p, j in sorted(self.selected)]

    def tasks(self) -> Iterator[dict[str, Any]]:
        for task in super().tasks():
            if self.selected is None or (task["point"], task["replication"]) in self.selected:
                yield task

    def validate(self) -> None:
        check = self.target.check
        if check is None:
            return
        base = self.base_config_dict()
        factor = self.design.factors[0]
        points = (
            range(self.design.n_points) if self.selected is None else {p for p, _ in self.selected}
        )
        for value in sorted({int(self.design.points.iloc[p, 0]) for p in points}):
            try:
                check(base, {factor: value})
            except ConfigError as exc:
                raise ConfigError(f"threshold search at {factor} = {value}: {exc}") from None

    def fingerprint_data(self) -> dict[str, Any]:
        return {**super().fingerprint_data(), "search": dict(self.search)}


def read_verdicts(store: ExperimentStore, run_ids: list[str], verdict: str,
                  summaries: pd.DataFrame | None = None) -> dict[str, bool]:
    """The yes/no field ``verdict`` of each run in ``run_ids`` from ``store``.

    ``summaries`` is ``store.summaries()`` when the caller has already read it (it is read
    here otherwise).

    Raises
    ------
    RuntimeError
        If one of the runs failed or is missing from the store.
    KeyError
        If the model's summary has no field ``verdict``.
    """
    runs = store.runs(columns=["run_id", "status", "error"])
    runs = runs[runs["run_id"].isin(run_ids)]
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        first = failed.iloc[0]
        raise RuntimeError(
            f"{len(failed)} run(s) of the threshold search failed (first: {first['run_id']}: "
            f"{first['error']}); see the runs table of {store.path}"
        )
    summ = store.summaries() if summaries is None else summaries
    if verdict not in summ.columns:
        raise KeyError(f"the model's summary has no '{verdict}'; it has {sorted(summ.columns)}")
    got = summ[summ["run_id"].isin(run_ids)].set_index("run_id")[verdict]
    missing = sorted(set(run_ids) - set(got.index))
    if missing:
        raise RuntimeError(
            f"runs {missing[:5]} of the threshold search are missing from {store.path}"
        )
    return {rid: bool(v) for rid, v in got.items()}


def threshold_quota(
    base: str | Mapping[str, Any] | None = "pilot_50",
    *,
    replications: int = 10,
    seed: int = 1,
    overrides: Mapping[str, Any] | None = None,
    lo: int = 0,
    hi: int = 2000,
    tolerance: int = 25,
    executor: str | Executor = "process",
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    factor: str = QUOTA,
    verdict: str = VERDICT,
    model: str = "channel",
    level: float = 0.95,
    progress: bool = False,
) -> ThresholdResult:
    """Find, per seed, the smallest weekly quota at which the business model breaks.

    Parameters
    ----------
    base
        Base scenario (name, path or mapping) the quota is varied in.
    replications
        Number of seeds; replication ``j`` uses ``replication_seed(seed, j)``.
    seed
        Root seed.
    overrides
        Fields fixed in every run (e.g. ``{"start_date": "2025-01-01"}``).
    lo, hi
        The search bracket (whole numbers, ``0 <= lo < hi``).
    tolerance
        Resolution: the candidate grid's step; each threshold is bracketed to within it.
    executor, workers, scheduler
        Where the runs execute: a kind (``"serial"``, ``"process"``, ``"dask"``) of which
        one executor is opened for the whole search and closed at its end (also on
        error), or an open :class:`~sim.experiments.executors.Executor` (left open).
    out
        Store directory (a temporary one if None); rerunning with the same arguments
        resumes from the runs already in it.
    factor
        The whole-number field searched (default ``returns.quota_per_week``); the verdict
        must be non-decreasing in it.
    verdict
        The boolean summary measure (default ``business_model_broken``).
    model
        The model target: ``"channel"`` or a ``"module:function"`` (see
        :mod:`sim.experiments.targets`).
    level
        Level of the confidence intervals.
    progress
        Show the engine's progress bar for each round.

    Returns
    -------
    ThresholdResult

    Raises
    ------
    ValueError
        If the bracket, tolerance or replications are invalid.
    ConfigError
        If a candidate value does not make a valid configuration.
    RuntimeError
        If a run of the search fails.
    """
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ValueError(f"replications must be a whole number >= 1, got {replications!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = candidate_grid(lo, hi, tolerance)
    exp = SearchExperiment(
        design=grid({factor: values}, replications),
        base=base,
        overrides=dict(overrides or {}),
        seed=int(seed),
        outputs=OutputSpec(frequency="end"),
        model=model,
        name=f"threshold_{factor.rsplit('.', 1)[-1]}",
        search={
            "kind": "bisection",
            "factor": factor,
            "verdict": verdict,
            "lo": int(lo),
            "hi": int(hi),
            "tolerance": int(tolerance),
        },
    )
    exp.validate()
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="channel-threshold-"))
    evaluations: list[dict[str, Any]] = []
    store = ExperimentStore(path)

    with use_executor(executor, workers, scheduler) as ex:

        def evaluate(cells: list[Cell], rnd: int) -> dict[Cell, bool]:
            """Run one round's cells in the search's store; log and return their verdicts."""
            nonlocal store
            batch = dataclasses.replace(exp, selected=frozenset(cells))
            store = run_experiment(batch, path, executor=ex, progress=progress)
            ids = {(t["point"], t["replication"]): t["run_id"] for t in batch.tasks()}
            got = read_verdicts(store, list(ids.values()), verdict)
            for (p, j), rid in ids.items():
                evaluations.append(
                    {"round": rnd, "replication": j, "value": values[p], "broken": got[rid], "run_id": rid}
                )
            return {cell: got[rid] for cell, rid in ids.items()}

        brackets = bisect_thresholds(len(values), replications, evaluate)

    ev = pd.DataFrame(evaluations, columns=["round", "replication", "value", "broken", "run_id"])
    per = _per_replication(brackets, values, ev)
    finite = per.loc[~per["censored"], "threshold"].to_numpy(dtype=float)
    m, mlo, mhi, n_mean = mean_ci(finite, level)
    t = per["threshold"].to_numpy(dtype=float).copy()
    t[per["censored"].to_numpy(dtype=bool)] = np.inf
    med, qlo, qhi, cov = median_order_ci(t, level)
    return ThresholdResult(
        factor=factor,
        lo=int(lo),
        hi=int(hi),
        tolerance=int(tolerance),
        per_replication=per,
        evaluations=ev,
        mean=m,
        mean_lower=mlo,
        mean_upper=mhi,
        n_mean=n_mean,
        median=med,
        median_lower=qlo,
        median_upper=qhi,
        median_coverage=cov,
        n_censored=int(per["censored"].sum()),
        n_runs=len(ev),
        rounds=int(ev["round"].max()) + 1,
        level=level,
        seed=int(seed),
        store=store,
        notes=_notes(per, lo, hi, level, cov),
    )


def _per_replication(brackets: Mapping[int, Bracket], values: list[int], ev: pd.DataFrame) -> pd.DataFrame:
    """One row per replication: threshold and lower value (NaN where none), censored, runs."""
    rows = []
    for j, br in brackets.items():
        rows.append(
            {
                "replication": j,
                "threshold": float("nan") if br.upper is None else float(values[br.upper]),
                "lower": float("nan") if br.lower is None else float(values[br.lower]),
                "censored": br.censored,
                "runs": int((ev["replication"] == j).sum()),
            }
        )
    return pd.DataFrame(rows)


def _notes(per: pd.DataFrame, lo: int, hi: int, level: float, coverage: float) -> list[str]:
    """Caveats of a search: censoring, thresholds at ``lo``, too few replications."""
    notes = []
    n = len(per)
    n_cens = int(per["censored"].sum())
    if n_cens:
        notes.append(
            f"{n_cens} of {n} replications censored (not broken at {hi}); the mean "
            "is over the uncensored ones only and biased low"
        )
    n_at_lo = int((per["threshold"] == lo).sum())
    if n_at_lo:
        notes.append(f"{n_at_lo} replications already broken at lo = {lo}")
    if coverage < level:
        notes.append(
            f"{n} replications are too few for a {level:.0%} order-statistic interval "
            f"of the median; [min, max] covers {coverage:.1%}"
        )
    return notes


def _num(v: float, hi: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return f"> {hi}"
    return f"{v:,.0f}"


def format_threshold(result: ThresholdResult) -> str:
    """Plain-text report of a threshold search.

    Returns
    -------
    str
        The bracket, per-replication thresholds, mean and median with intervals, and notes.
    """
    r = result
    lines = [
        f"smallest {r.factor} at which the business model breaks",
        f"search: bisection on {r.lo}..{r.hi} in steps of {r.tolerance}; "
        f"{r.replications} replications (root seed {r.seed}), {r.n_runs} runs in {r.rounds} "
        f"rounds; store {r.store.path}",
        "",
        f"{'replication':>11}  {'threshold':>10}  {'bracket':>16}  {'runs':>4}",
    ]
    for row in r.per_replication.itertuples(index=False):
        if row.censored:
            thr, br = f"> {r.hi}", f"({r.hi}, -)"
        elif math.isnan(row.lower):
            thr, br = f"{row.threshold:,.0f}", f"<= {r.lo}"
        else:
            thr, br = f"{row.threshold:,.0f}", f"({row.lower:,.0f}, {row.threshold:,.0f}]"
        lines.append(f"{row.replication:>11}  {thr:>10}  {br:>16}  {row.runs:>4}")
    pct = f"{r.level:.0%}"
    mean_ci_txt = (
        ""
        if math.isnan(r.mean_lower)
        else f" [{_num(r.mean_lower, r.hi)}, {_num(r.mean_upper, r.hi)}]"
    )
    cov_txt = f"{r.median_coverage:.1%} coverage" if not math.isnan(r.median_coverage) else ""
    lines += [
        "",
        f"mean   {_num(r.mean, r.hi)}{mean_ci_txt}  "
        f"({pct} t interval over {r.n_mean} uncensored replications)",
        f"median {_num(r.median, r.hi)} "
        f"[{_num(r.median_lower, r.hi)}, {_num(r.median_upper, r.hi)}]  "
        f"(order-statistic interval, {cov_txt})",
        f"censored (not broken at {r.hi}): {r.n_censored} of {r.replications}",
    ]
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)

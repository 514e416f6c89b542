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

**Running.** The search is one experiment in the engine: a grid design over all
candidate values crossed with the replications, of which each bisection round runs only
the cells it needs (one run per replication still searching), as one parallel batch.
All rounds share one store (``out``, or a temporary directory), so a search that is
run again with the same arguments resumes from the runs already done.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.analysis import mean_ci
from sim.experiments.designs import grid
from sim.experiments.engine import Experiment, OutputSpec, run_experiment
from sim.experiments.store import ExperimentStore
from sim.params import ConfigError, load_config

__all__ = [
    "ThresholdResult",
    "threshold_quota",
    "format_threshold",
    "median_order_ci",
    "candidate_grid",
]

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


def median_order_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """Median and distribution-free order-statistic interval for the median.

    The interval is ``[x_(k), x_(n+1-k)]`` with the largest ``k`` whose coverage
    ``1 - 2 P(Binomial(n, 1/2) <= k - 1)`` is at least ``level``; when even ``k = 1``
    falls short (``n < 6`` at 95%), the interval is ``[min, max]`` with its lower coverage.
    ``inf`` values (right-censored) sort last.

    Returns
    -------
    (median, lower, upper, coverage)
        NaNs when ``values`` is empty.
    """
    from scipy import stats

    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    median = float(x[n // 2]) if n % 2 else float((x[n // 2 - 1] + x[n // 2]) / 2)
    best_k, coverage = 1, 1 - 2 * stats.binom.cdf(0, n, 0.5)
    for k in range(1, (n + 1) // 2 + 1):
        cov = 1 - 2 * stats.binom.cdf(k - 1, n, 0.5)
        if cov >= level:
            best_k, coverage = k, cov
    return median, float(x[best_k - 1]), float(x[n - best_k]), float(coverage)


@dataclass(frozen=True)
class _SearchExperiment(Experiment):
    """The search's grid experiment, running only the ``selected`` (point, replication) cells.

    The fingerprint is that of the whole grid plus the search settings, so every round
    writes to the same store and a rerun resumes.
    """

    selected: frozenset[tuple[int, int]] | None = None
    search: Mapping[str, Any] = field(default_factory=dict)

    def tasks(self) -> Iterator[dict[str, Any]]:
        for task in super().tasks():
            if self.selected is None or (task["point"], task["replication"]) in self.selected:
                yield task

    def validate(self) -> None:
        if self.model != "channel":
            return
        base = self.base_config_dict()
        points = (
            range(self.design.n_points) if self.selected is None else {p for p, _ in self.selected}
        )
        for value in sorted({int(self.design.points.iloc[p, 0]) for p in points}):
            try:
                load_config(base, overrides={self.design.factors[0]: value})
            except ConfigError as exc:
                raise ConfigError(
                    f"threshold search at {self.design.factors[0]} = {value}: {exc}"
                ) from None

    def fingerprint_data(self) -> dict[str, Any]:
        return {**super().fingerprint_data(), "search": dict(self.search)}


def _verdicts(store: ExperimentStore, run_ids: list[str], verdict: str) -> dict[str, bool]:
    runs = store.runs(columns=["run_id", "status", "error"])
    runs = runs[runs["run_id"].isin(run_ids)]
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        first = failed.iloc[0]
        raise RuntimeError(
            f"{len(failed)} run(s) of the threshold search failed (first: {first['run_id']}: "
            f"{first['error']}); see the runs table of {store.path}"
        )
    summ = store.summaries()
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
    executor: str = "process",
    workers: int | None = None,
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
    executor, workers
        How the runs of a round are executed (see :func:`run_experiment`).
    out
        Store directory (a temporary one if None); rerunning with the same arguments
        resumes from the runs already in it.
    factor
        The whole-number field searched (default ``returns.quota_per_week``); the verdict
        must be non-decreasing in it.
    verdict
        The boolean summary measure (default ``business_model_broken``).
    model
        ``"channel"`` or a ``"module:function"`` test model (see :class:`Experiment`).
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
    search = {
        "kind": "bisection",
        "factor": factor,
        "verdict": verdict,
        "lo": int(lo),
        "hi": int(hi),
        "tolerance": int(tolerance),
    }
    exp = _SearchExperiment(
        design=grid({factor: values}, replications),
        base=base,
        overrides=dict(overrides or {}),
        seed=int(seed),
        outputs=OutputSpec(frequency="end"),
        model=model,
        name=f"threshold_{factor.rsplit('.', 1)[-1]}",
        search=search,
    )
    exp.validate()
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="channel-threshold-"))
    last = len(values) - 1
    low: dict[int, int | None] = {}  # replication -> index of the largest value seen not broken
    high: dict[int, int | None] = {}  # ... and of the smallest value seen broken
    evaluations: list[dict[str, Any]] = []
    store = ExperimentStore(path)

    def evaluate(cells: list[tuple[int, int]], rnd: int) -> dict[tuple[int, int], bool]:
        nonlocal store
        batch = dataclasses.replace(exp, selected=frozenset(cells))
        store = run_experiment(batch, path, executor=executor, workers=workers, progress=progress)
        ids = {(t["point"], t["replication"]): t["run_id"] for t in batch.tasks()}
        got = _verdicts(store, list(ids.values()), verdict)
        out_: dict[tuple[int, int], bool] = {}
        for (p, j), rid in ids.items():
            out_[(p, j)] = got[rid]
            evaluations.append(
                {
                    "round": rnd,
                    "replication": j,
                    "value": values[p],
                    "broken": got[rid],
                    "run_id": rid,
                }
            )
        return out_

    reps = list(range(replications))
    first = evaluate([(0, j) for j in reps] + [(last, j) for j in reps], 0)
    bracket: dict[int, tuple[int, int]] = {}  # replication -> (not broken at a, broken at b)
    for j in reps:
        if first[(0, j)]:
            low[j], high[j] = None, 0
        elif not first[(last, j)]:
            low[j], high[j] = last, None
        else:
            bracket[j] = (0, last)
    rnd = 0
    while bracket:
        mids = {j: (a + b) // 2 for j, (a, b) in bracket.items() if b - a > 1}
        for j in set(bracket) - set(mids):
            low[j], high[j] = bracket.pop(j)
        if not mids:
            break
        rnd += 1
        got = evaluate([(m, j) for j, m in mids.items()], rnd)
        for j, m in mids.items():
            a, b = bracket[j]
            bracket[j] = (a, m) if got[(m, j)] else (m, b)

    ev = pd.DataFrame(evaluations, columns=["round", "replication", "value", "broken", "run_id"])
    rows = []
    for j in reps:
        censored = high[j] is None
        rows.append(
            {
                "replication": j,
                "threshold": float("nan") if censored else float(values[high[j]]),
                "lower": float("nan") if low[j] is None else float(values[low[j]]),
                "censored": censored,
                "runs": int((ev["replication"] == j).sum()),
            }
        )
    per = pd.DataFrame(rows)
    finite = per.loc[~per["censored"], "threshold"].to_numpy(dtype=float)
    m, mlo, mhi, n_mean = mean_ci(finite, level)
    t = per["threshold"].to_numpy(dtype=float).copy()
    t[per["censored"].to_numpy(dtype=bool)] = np.inf
    med, qlo, qhi, cov = median_order_ci(t, level)
    notes = []
    n_cens = int(per["censored"].sum())
    if n_cens:
        notes.append(
            f"{n_cens} of {replications} replications censored (not broken at {hi}); the mean "
            "is over the uncensored ones only and biased low"
        )
    n_at_lo = int((per["threshold"] == lo).sum())
    if n_at_lo:
        notes.append(f"{n_at_lo} replications already broken at lo = {lo}")
    if cov < level:
        notes.append(
            f"{replications} replications are too few for a {level:.0%} order-statistic interval "
            f"of the median; [min, max] covers {cov:.1%}"
        )
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
        n_censored=n_cens,
        n_runs=len(ev),
        rounds=int(ev["round"].max()) + 1,
        level=level,
        seed=int(seed),
        store=store,
        notes=notes,
    )


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


def _synthetic_verdict(params: Mapping[str, Any], seed: Any) -> dict[str, Any]:
    """A cheap test model: broken when the quota exceeds ``300 + 60 z`` with ``z ~ N(0, 1)``.

    The seed's draw does not depend on the quota, so each seed has a fixed threshold
    (``true_threshold``): the smallest whole quota that breaks it is
    ``floor(true_threshold) + 1``.
    """
    rng = np.random.default_rng(seed)
    true = 300.0 + 60.0 * float(rng.standard_normal())
    quota = float(params.get(QUOTA, 0))
    return {
        VERDICT: bool(quota > true),
        "true_threshold": true,
        "market_profit_margin": float(np.tanh((true - quota) / 200.0)),
    }

"""How large must a quota be, over the posterior: the threshold search per posterior draw.

:func:`threshold_quota` finds, seed by seed, the smallest weekly quota at which the business
model breaks for *one* parameter set. :func:`threshold_over_posterior` runs the same
bisection for every cell of a predictive design (issue 11): ``N`` weighted posterior draws
(:func:`~sim.experiments.predictive.posterior_draws`, prefix-stable, so the first draws are
those of ``make study``) x ``K`` future inflow paths x ``R`` replications. Each cell
(draw, path, replication) is one bisection on the candidate grid ``lo, lo + tolerance, ...,
hi``; all cells still searching share each round, which runs as one parallel batch in one
store (a rerun resumes). Replication ``r`` uses the engine's seed for replication ``r`` and
path ``k`` of draw ``d`` the future inflow seed ``future_seed(d, k)``, exactly as in a predictive study, so
the run of a cell at quota ``q`` is the study's run of the scenario with that quota.

The answer is a **predictive distribution of the critical quota**, right-censored at ``hi``
(a cell not broken at ``hi`` is only known to need more). It is reported as

* the share of cells broken at each candidate quota, ``P(critical quota <= q)``, with a
  Wilson interval (exact on the grid when the verdict is monotone in the quota: a cell's
  bracket is one grid step wide, so whether its threshold lies at or below a grid value is
  known);
* the median and the 5% and 95% quantiles of the critical quota (``inf``: beyond ``hi``),
  with the order-statistic interval of the median;
* the return rate the runs at ``hi`` achieved (returns per eligible arrival), which says how
  close ``hi`` comes to returning everyone eligible.

The quota that breaks the business model with a given probability is then read off the
curve; where the curve stays below that probability up to ``hi``, no quota in the bracket
does, and the report says so instead of extrapolating.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.designs import listed
from sim.experiments.engine import run_experiment
from sim.experiments.executors import Executor, use_executor
from sim.experiments.predictive import cross_with_posterior, posterior_draws
from sim.experiments.stats import median_order_ci, wilson_interval
from sim.experiments.store import ExperimentStore
from sim.experiments.tasks import OutputSpec
from sim.experiments.threshold import (
    QUOTA,
    VERDICT,
    SearchExperiment,
    bisect_thresholds,
    candidate_grid,
    read_verdicts,
)

__all__ = ["PosteriorThreshold", "threshold_over_posterior", "format_posterior_threshold",
           "plot_posterior_threshold"]

#: Per-run fields kept with every evaluation of the search.
KEPT = ("achieved_return_rate", "critical_return_rate", "arrivals_uk_policy_period")


@dataclass
class PosteriorThreshold:
    """The outcome of :func:`threshold_over_posterior`.

    Attributes
    ----------
    per_cell
        One row per cell: ``draw``, ``particle``, ``path``, ``replication``, ``threshold``
        (smallest quota seen broken; ``inf`` if censored), ``lower`` (largest quota seen not
        broken; NaN if broken at ``lo``), ``censored``, ``runs``.
    evaluations
        Every run: ``round``, ``draw``, ``path``, ``replication``, ``value``, ``broken``, the
        fields of :data:`KEPT` and ``run_id``.
    curve
        One row per candidate quota: ``quota``, ``n``, ``n_broken`` (cells whose critical
        quota is at or below it), ``share`` and its Wilson ``lower``/``upper``.
    median, median_lower, median_upper, median_coverage, p05, p95
        The critical quota's median (order-statistic interval), 5% and 95% quantiles (lower
        empirical quantiles; ``inf`` where beyond ``hi``).
    rate_at_hi
        Median, 5% and 95% quantile of the return rate achieved by the runs at ``hi``.
    """

    base: str
    lo: int
    hi: int
    tolerance: int
    per_cell: pd.DataFrame
    evaluations: pd.DataFrame
    curve: pd.DataFrame
    median: float
    median_lower: float
    median_upper: float
    median_coverage: float
    p05: float
    p95: float
    rate_at_hi: tuple[float, float, float]
    n_runs: int
    rounds: int
    level: float
    seed: int
    store: ExperimentStore

    @property
    def n_censored(self) -> int:
        return int(self.per_cell["censored"].sum())

    def quota_for(self, probability: float) -> float:
        """The smallest candidate quota broken in at least ``probability`` of the cells
        (``inf`` when none up to ``hi`` is)."""
        hit = self.curve[self.curve["share"] >= probability]
        return float(hit["quota"].iloc[0]) if len(hit) else math.inf


def _quantile(t: np.ndarray, q: float) -> float:
    """Lower empirical quantile (an observed value, ``inf`` allowed)."""
    s = np.sort(t)
    return float(s[max(0, math.ceil(q * len(s)) - 1)])


def threshold_over_posterior(
    draws: pd.DataFrame | str | Path,
    *,
    n_draws: int | None = None,
    base: str = "pilot_50",
    paths: int = 2,
    replications: int = 1,
    seed: int = 1,
    draw_seed: int = 0,
    lo: int = 0,
    hi: int = 800,
    tolerance: int = 50,
    overrides: Mapping[str, Any] | None = None,
    executor: str | Executor = "process",
    workers: int | None = None,
    out: str | Path | None = None,
    level: float = 0.90,
    progress: bool = False,
) -> PosteriorThreshold:
    """Bisect for the critical weekly quota in every (draw, path, replication) cell.

    Parameters
    ----------
    draws
        The parameter sets (a :func:`posterior_draws` table), or a calibration folder
        (``docs/calibration``) to draw ``n_draws`` from with ``draw_seed``.
    base
        The scenario the quota is varied in (its other settings, e.g. the legal route, stay).
    paths, replications
        Future inflow paths and replications per draw.
    seed
        Root seed of the replications (as in ``compare --posterior``).
    lo, hi, tolerance
        The candidate grid of quotas (returns per week).
    overrides
        Fields fixed in every run (e.g. a shorter horizon in a test).
    executor, workers, out, progress
        As in :func:`~sim.experiments.threshold.threshold_quota`.
    level
        Level of the intervals (default 90%, the predictive intervals' level).

    Raises
    ------
    ValueError
        If the grid, the counts or the draws are invalid.
    ConfigError
        If a candidate quota does not make a valid configuration.
    RuntimeError
        If a run fails.
    """
    if not isinstance(draws, pd.DataFrame):
        if n_draws is None:
            raise ValueError("n_draws is needed to draw from a calibration folder")
        draws = posterior_draws(draws, n_draws, seed=draw_seed)
    for name, v in (("paths", paths), ("replications", replications)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {v!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if len(draws) < 1:
        raise ValueError("at least one posterior draw is needed")
    values = candidate_grid(lo, hi, tolerance)
    params = draws.drop(columns=["particle"], errors="ignore").to_dict("records")
    particles = (draws["particle"].tolist() if "particle" in draws.columns else [math.nan] * len(params))
    n_d = len(params)
    # cell j -> (draw, path, replication); point index of (value i, draw, path)
    cells = [(d, k, r) for d in range(n_d) for k in range(paths) for r in range(replications)]

    def point(i: int, d: int, k: int) -> int:
        return (i * n_d + d) * paths + k

    exp = SearchExperiment(
        design=cross_with_posterior(listed([{QUOTA: v} for v in values], replications=replications), draws, paths),
        base=base,
        overrides=dict(overrides or {}),
        seed=int(seed),
        outputs=OutputSpec(frequency="end"),
        name="threshold_posterior",
        search={"kind": "bisection over posterior draws", "factor": QUOTA, "verdict": VERDICT,
                "lo": int(lo), "hi": int(hi), "tolerance": int(tolerance), "paths": paths},
    )
    exp.validate()
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="channel-threshold-posterior-"))
    evaluations: list[dict[str, Any]] = []
    store = ExperimentStore(path)

    with use_executor(executor, workers) as ex:

        def evaluate(batch_cells: list[tuple[int, int]], rnd: int) -> dict[tuple[int, int], bool]:
            nonlocal store
            wanted = {}
            for i, j in batch_cells:
                d, k, r = cells[j]
                wanted[(point(i, d, k), r)] = (i, j)
            batch = dataclasses.replace(exp, selected=frozenset(wanted))
            store = run_experiment(batch, path, executor=ex, progress=progress)
            ids = {wanted[key]: batch.run_id(*key) for key in wanted}
            summ = store.summaries()
            verdicts = read_verdicts(store, list(ids.values()), VERDICT, summaries=summ)
            summ = summ.set_index("run_id")
            got = {}
            for (i, j), rid in ids.items():
                d, k, r = cells[j]
                row = summ.loc[rid]
                got[(i, j)] = verdicts[rid]
                evaluations.append({"round": rnd, "draw": d, "path": k, "replication": r, "value": values[i],
                                    "broken": got[(i, j)], **{f: float(row.get(f, math.nan)) for f in KEPT},
                                    "run_id": rid})
            return got

        brackets = bisect_thresholds(len(values), len(cells), evaluate)

    ev = pd.DataFrame(evaluations)
    rows = []
    for j, br in brackets.items():
        d, k, r = cells[j]
        rows.append({"draw": d, "particle": particles[d], "path": k, "replication": r,
                     "threshold": math.inf if br.upper is None else float(values[br.upper]),
                     "lower": math.nan if br.lower is None else float(values[br.lower]),
                     "censored": br.censored,
                     "runs": int(((ev["draw"] == d) & (ev["path"] == k) & (ev["replication"] == r)).sum())})
    per = pd.DataFrame(rows)
    t = per["threshold"].to_numpy(dtype=float)
    curve_rows = []
    for v in values:
        k_b = int((t <= v).sum())
        plo, phi = wilson_interval(k_b, len(t), level)
        curve_rows.append({"quota": v, "n": len(t), "n_broken": k_b, "share": k_b / len(t),
                           "lower": plo, "upper": phi})
    med, mlo, mhi, cov = median_order_ci(t, level)
    at_hi = ev.loc[ev["value"] == values[-1], "achieved_return_rate"].to_numpy(dtype=float)
    at_hi = at_hi[np.isfinite(at_hi)]
    rate = ((float(np.median(at_hi)), float(np.quantile(at_hi, 0.05)), float(np.quantile(at_hi, 0.95)))
            if len(at_hi) else (math.nan,) * 3)
    return PosteriorThreshold(
        base=str(base), lo=int(lo), hi=int(hi), tolerance=int(tolerance), per_cell=per, evaluations=ev,
        curve=pd.DataFrame(curve_rows), median=med, median_lower=mlo, median_upper=mhi, median_coverage=cov,
        p05=_quantile(t, 0.05), p95=_quantile(t, 0.95), rate_at_hi=rate, n_runs=len(ev),
        rounds=int(ev["round"].max()) + 1, level=level, seed=int(seed), store=store)


def _q(v: float, hi: int) -> str:
    if math.isnan(v):
        return "-"
    return f"> {hi:,}" if math.isinf(v) else f"{v:,.0f}"


def format_posterior_threshold(r: PosteriorThreshold) -> str:
    """Plain-text report: the share broken by quota, the critical quota's quantiles, notes."""
    n = len(r.per_cell)
    draws = r.per_cell["draw"].nunique()
    paths = r.per_cell["path"].nunique()
    reps = r.per_cell["replication"].nunique()
    pct = f"{r.level:.0%}"
    lines = [
        f"critical weekly returns quota over the posterior ({r.base}; the smallest quota at which "
        "the business model breaks)",
        f"{draws} posterior draws x {paths} future inflow paths x {reps} replications = {n} cells; bisection on "
        f"{r.lo}..{r.hi} in steps of {r.tolerance}: {r.n_runs} runs in {r.rounds} rounds; store {r.store.path}",
        "",
        f"{'quota/week':>10}  {'broken':>9}  {'share':>6}  {pct + ' Wilson':>16}",
    ]
    for row in r.curve.itertuples(index=False):
        lines.append(f"{row.quota:>10,}  {row.n_broken:>4} / {row.n:<3}  {row.share:>6.1%}  "
                     f"[{row.lower:>5.1%}, {row.upper:>5.1%}]")
    lines += [
        "",
        f"critical quota: median {_q(r.median, r.hi)} [{_q(r.median_lower, r.hi)}, {_q(r.median_upper, r.hi)}] "
        f"(order-statistic interval, {r.median_coverage:.0%} coverage); 5%-95%: "
        f"{_q(r.p05, r.hi)} to {_q(r.p95, r.hi)}",
        f"censored (not broken at {r.hi:,}/week): {r.n_censored} of {n} cells",
        f"return rate achieved at {r.hi:,}/week (returns per eligible arrival): {r.rate_at_hi[0]:.1%} "
        f"[{r.rate_at_hi[1]:.1%}, {r.rate_at_hi[2]:.1%}]",
    ]
    for p in (0.5, 0.9):
        q = r.quota_for(p)
        lines.append(f"smallest quota breaking it in at least {p:.0%} of cells: "
                     + (f"{q:,.0f}/week" if math.isfinite(q) else f"none up to {r.hi:,}/week"))
    return "\n".join(lines)


def plot_posterior_threshold(r: PosteriorThreshold) -> Any:
    """The share of cells broken against the weekly quota, with its Wilson band."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    c = r.curve
    end = r.hi + r.tolerance     # the last candidate's step drawn as wide as the others
    x = [*c["quota"], end]

    def ext(col: str) -> list[float]:
        return [*c[col], c[col].iloc[-1]]

    ax.fill_between(x, ext("lower"), ext("upper"), step="post", alpha=0.25, color="C3",
                    label=f"{r.level:.0%} Wilson interval")
    ax.step(x, ext("share"), where="post", color="C3", label="share of runs broken")
    ax.set_xlim(r.lo, end)
    ax.set_ylim(0, 1)
    ax.set_xlabel("weekly returns quota (returns/week)")
    ax.set_ylabel("P(business model broken)")
    n = len(r.per_cell)
    ax.set_title(f"Critical quota over the posterior ({n} draw x path x replication cells)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m sim.experiments.posterior_threshold",
                                 description="the critical weekly quota over the posterior (bisection per draw)")
    ap.add_argument("--posterior", default="docs/calibration", help="calibration folder with posterior.csv")
    ap.add_argument("--draws", type=int, default=20, help="posterior draws (the study's first ones; default 20)")
    ap.add_argument("--paths", type=int, default=2, help="future inflow paths per draw (default 2)")
    ap.add_argument("--replications", type=int, default=1, help="replications per draw and path (default 1)")
    ap.add_argument("--base", default="pilot_50", help="scenario the quota is varied in (default pilot_50)")
    ap.add_argument("--lo", type=int, default=0)
    ap.add_argument("--hi", type=int, default=800)
    ap.add_argument("--tolerance", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="outputs/study-threshold", help="the search's store (resumable)")
    ap.add_argument("--figures", default=None, help="also write the tables, text and figure here (docs/study)")
    args = ap.parse_args(argv)
    r = threshold_over_posterior(args.posterior, n_draws=args.draws, base=args.base, paths=args.paths,
                                 replications=args.replications, lo=args.lo, hi=args.hi,
                                 tolerance=args.tolerance, workers=args.workers, out=args.out, progress=True)
    text = format_posterior_threshold(r)
    print(text)
    if args.figures:
        d = Path(args.figures)
        d.mkdir(parents=True, exist_ok=True)
        r.curve.to_csv(d / "threshold_curve.csv", index=False)
        r.per_cell.to_csv(d / "threshold_cells.csv", index=False)
        (d / "threshold-printed.txt").write_text(text + "\n")
        plot_posterior_threshold(r).savefig(d / "threshold_posterior.png", dpi=150)
        print(f"tables: {d / 'threshold_curve.csv'}, {d / 'threshold_cells.csv'}\n"
              f"figure: {d / 'threshold_posterior.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

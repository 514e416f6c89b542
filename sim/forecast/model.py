"""Forecasts of monthly arrivals by the agent-based model, conditioned on the data up to an origin.

The procedure (issue 12: "a documented cheaper update of the post-data inflow given the
posterior"), for an origin ``T`` (a month end) in year ``Y0`` (the year of the day after ``T``):

1. **Parameters.** ``draws`` parameter sets from the calibration's posterior (weighted, with
   replacement: :func:`sim.experiments.predictive.posterior_draws`), or the scenario's own
   parameters. The inflow multipliers of the years before ``Y0`` come from the draw (or the
   scenario); every multiplier from ``Y0`` on is re-estimated below, so no inflow level that the
   calibration fitted after ``T`` enters the forecast.
2. **The inflow of the origin's year.** A prior: last year's multiplier, times a log-normal
   step whose standard deviation is fitted on the series up to ``T``
   (:func:`sim.calibration.future.fit_future_inflow`). If ``T`` is not a year end, one run per draw
   to ``T`` at the prior's centre gives the model's arrivals of ``Y0`` so far; arrivals are taken
   as proportional to the multiplier, so ``log(observed / simulated)`` estimates the log
   multiplier's correction, with a standard deviation of the monthly log misfit over the
   twelve months before ``T`` (same runs) divided by the square root of the months observed.
   The update is the precision-weighted combination of prior and estimate (normal in logs).
3. **The forecast.** For each draw and replication: the origin year's multiplier drawn from
   that update, later years a random walk in logs from it (the same fitted step, no drift),
   and one run to the horizon's end. The predictive samples are the runs' monthly arrivals
   after ``T``: ``draws x replications`` of them.
4. **The model's discrepancy.** The runs reproduce the level but not every month's swing: each
   sample month is multiplied by a log-normal error whose standard deviation is the draw's
   monthly log misfit over the twelve months before ``T`` (observed against the run of step 2),
   so the intervals carry what the model does not explain (Kennedy and O'Hagan's model
   discrepancy, in its simplest form), estimated from the data before ``T`` only.

What is *not* re-estimated: the other calibrated parameters (loads, prevention, prices, the
upstream choice, sea risk) come from a posterior fitted to data through July 2025, after the
rolling origins. Their effect on the level of arrivals is small beside the inflow's, but the
forecasts are not fully out of sample in them; the report says so.

:class:`ModelForecaster` has the signature of the rolling-origin harness
(:mod:`sim.forecast.rolling`); it reads nothing but the data it is given.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.future import fit_future_inflow
from sim.config import load_config
from sim.experiments.designs import listed
from sim.experiments.engine import run_experiment
from sim.experiments.tasks import Experiment, OutputSpec
from sim.forecast.benchmarks import forecast_months

__all__ = ["InflowUpdate", "ModelForecaster", "update_inflow"]

MULT = "environment.inflow_year_multiplier"


@dataclass(frozen=True)
class InflowUpdate:
    """The origin year's log multiplier: prior, data estimate and their combination (normal in logs)."""

    prior_mean: float
    prior_sd: float
    data_mean: float | None     # None without observed months in the origin's year
    data_sd: float | None
    mean: float
    sd: float

    @property
    def multiplier(self) -> float:
        return math.exp(self.mean)


def update_inflow(prior_mean: float, prior_sd: float, observed: float | None, simulated: float | None,
                  misfit_sd: float, months: int) -> InflowUpdate:
    """Combine the prior of a log multiplier with the ratio of observed to simulated arrivals
    (module text, step 2). ``months`` observed months; ``misfit_sd`` the monthly log misfit."""
    if not months or observed is None or simulated is None or observed <= 0 or simulated <= 0:
        return InflowUpdate(prior_mean, prior_sd, None, None, prior_mean, prior_sd)
    data_mean = prior_mean + math.log(observed / simulated)
    data_sd = max(misfit_sd, 1e-3) / math.sqrt(months)
    wp, wd = 1.0 / prior_sd ** 2, 1.0 / data_sd ** 2
    mean = (wp * prior_mean + wd * data_mean) / (wp + wd)
    return InflowUpdate(prior_mean, prior_sd, data_mean, data_sd, mean, math.sqrt(1.0 / (wp + wd)))


@dataclass
class ModelForecaster:
    """The agent-based model as a forecaster (module text).

    Parameters
    ----------
    scenario
        The scenario run (the policies in force; default: the pilot as it was run).
    posterior
        A calibration folder with ``posterior.csv`` (parameter draws), or None for the
        scenario's own parameters.
    draws, replications
        Parameter draws, and runs per draw (each with its own inflow path and seed).
    seed
        Root seed of the runs and of the posterior draws.
    executor, workers
        How the runs are executed (:func:`sim.experiments.engine.run_experiment`).
    out
        Folder for the runs' stores (one per origin); a temporary one if None.
    overrides
        Extra fields for every run (e.g. ``people_per_agent`` for a quick look).
    discrepancy
        Whether the samples carry the model's discrepancy (module text, step 4).
    """

    scenario: str = "pilot_as_realised"
    posterior: str | Path | None = "docs/calibration"
    draws: int = 10
    replications: int = 2
    seed: int = 1
    executor: str = "process"
    workers: int | None = None
    out: str | Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    progress: bool = False
    discrepancy: bool = True
    updates: dict[pd.Timestamp, list[InflowUpdate]] = field(default_factory=dict, init=False)

    def _draws(self) -> pd.DataFrame:
        from sim.experiments.predictive import posterior_draws

        if self.posterior is None:
            return pd.DataFrame(index=range(self.draws))
        return posterior_draws(self.posterior, self.draws, self.seed).drop(columns="particle")

    def _run(self, points: list[dict[str, Any]], end: pd.Timestamp, folder: Path, name: str) -> pd.DataFrame:
        """Monthly arrivals (rows: months, columns: points) of one run per point to ``end`` (the store is
        scratch: one left by an earlier forecast is replaced)."""
        if (folder / "manifest.json").is_file():
            shutil.rmtree(folder)
        exp = Experiment(design=listed(points), base=self.scenario,
                         overrides={**self.overrides, "end_date": end.date().isoformat(),
                                    "environment.future_inflow": "fixed"},
                         seed=self.seed, outputs=OutputSpec(frequency="monthly", variables=("arrivals_uk",)),
                         name=name)
        store = run_experiment(exp, folder, executor=self.executor, workers=self.workers, progress=self.progress)
        runs = store.runs(columns=["run_id", "point", "status"])
        bad = runs[runs["status"] != "ok"]
        if len(bad):
            raise RuntimeError(f"{len(bad)} forecast runs failed in {folder}")
        ts = store.timeseries(["arrivals_uk"]).merge(runs[["run_id", "point"]], on="run_id")
        ts["date"] = pd.to_datetime(ts["date"]).dt.to_period("M").dt.to_timestamp()
        return ts.pivot_table(index="date", columns="point", values="value", aggfunc="sum").sort_index()

    def __call__(self, daily: pd.DataFrame, origin: Any, horizon_months: int, n_samples: int,
                 rng: np.random.Generator) -> pd.DataFrame:
        origin = pd.Timestamp(origin)
        people = daily["people"].loc[:origin].astype(float)           # only the data up to the origin
        months = forecast_months(origin, horizon_months)
        end = months[-1] + pd.offsets.MonthEnd(0)
        y0 = (origin + pd.Timedelta(days=1)).year
        cfg = load_config(self.scenario, overrides=dict(self.overrides))
        draws = self._draws()
        try:
            step_sd = fit_future_inflow(people=people).log_sd
        except ValueError:   # an early origin: fewer than three years from 2021; the route's first years too
            step_sd = fit_future_inflow(first_year=2019, people=people).log_sd
        known = {int(c.rsplit(".", 1)[1]) for c in draws.columns if c.startswith(MULT + ".")}

        def multipliers(row: pd.Series) -> dict[int, float]:
            m = {y: float(v) for y, v in cfg.environment.inflow_year_multiplier.items() if y < y0}
            m.update({y: float(row[f"{MULT}.{y}"]) for y in known if y < y0})
            return m

        base_points = []
        for _, row in draws.iterrows():
            p = {k: v for k, v in row.items() if not k.startswith(MULT + ".") and pd.notna(v)}
            p.update({f"{MULT}.{y}": v for y, v in multipliers(row).items()})
            base_points.append(p)
        prior_means = [math.log(multipliers(row).get(y0 - 1, 1.0)) for _, row in draws.iterrows()]

        root = Path(self.out) if self.out is not None else Path(tempfile.mkdtemp(prefix="channel-forecast-"))
        tag = origin.strftime("%Y-%m-%d")
        observed_months = (origin.year == y0) * origin.month
        # one run per draw to the origin at the prior's centre: the origin year's arrivals so far and the
        # model's monthly misfit over the twelve months before the origin
        pilot = [{**p, f"{MULT}.{y0}": math.exp(m)} for p, m in zip(base_points, prior_means, strict=True)]
        sim_m = self._run(pilot, origin, root / f"update-{tag}", f"forecast-update-{tag}")
        obs_m = people.resample("MS").sum()
        ytd = [pd.Timestamp(y0, k, 1) for k in range(1, observed_months + 1)]
        last12 = [d for d in obs_m.index if origin - pd.DateOffset(months=12) < d <= origin]
        updates: list[InflowUpdate] = []
        misfits: list[float] = []
        for i, m in enumerate(prior_means):
            s = sim_m[i]
            misfit = np.log((obs_m.reindex(last12).to_numpy() + 1) / (s.reindex(last12).to_numpy() + 1))
            ok = np.isfinite(misfit)
            misfit_sd = float(np.std(misfit[ok], ddof=1)) if ok.sum() > 2 else step_sd
            misfits.append(misfit_sd)
            updates.append(update_inflow(m, step_sd, float(obs_m.reindex(ytd).sum()) if observed_months else None,
                                         float(s.reindex(ytd).sum()) if observed_months else None,
                                         misfit_sd, observed_months))
        self.updates[origin] = updates

        points, discrepancy = [], []
        years = range(y0, end.year + 1)
        for p, u, sd in zip(base_points, updates, misfits, strict=True):
            for _ in range(self.replications):
                log_m = u.mean + u.sd * rng.standard_normal()
                path = {y0: log_m}
                for y in years[1:]:
                    path[y] = path[y - 1] + step_sd * rng.standard_normal()
                points.append({**p, **{f"{MULT}.{y}": math.exp(v) for y, v in path.items()}})
                discrepancy.append(sd * rng.standard_normal(len(months)) if self.discrepancy else np.zeros(len(months)))
        runs = self._run(points, end, root / f"forecast-{tag}", f"forecast-{tag}")
        samples = runs.reindex(months).T.to_numpy(dtype=float)
        # the model's discrepancy: each month's arrivals times a log-normal error with the draw's monthly misfit
        samples = (samples + 1.0) * np.exp(np.asarray(discrepancy)) - 1.0
        return pd.DataFrame(np.maximum(samples, 0.0), columns=months)

"""The future inflow as an ensemble: the year-to-year variation of the Home Office series.

After the last year the calibration sees, the inflow multiplier of a run with
``environment.future_inflow: ensemble`` follows a random walk in logs
(:meth:`sim.environment.Inflow.future_path`). Its step's standard deviation is fitted here:
the standard deviation of the year-to-year change of the log of January-July arrivals
(the shipped series ends on 31 July 2025, so only the first seven months compare across
every year), from 2021, the first year of tens of thousands of crossings (earlier changes
are the route's emergence, not its variation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calibration.data import load_daily

__all__ = ["FutureInflowFit", "fit_future_inflow"]


@dataclass(frozen=True)
class FutureInflowFit:
    log_sd: float       # standard deviation of a year's log change
    log_mean: float     # mean of a year's log change (not used as the drift: see the parameter's source)
    se_mean: float      # its standard error
    changes: dict[int, float]   # year -> log change from the year before


def fit_future_inflow(first_year: int = 2021, last_month: int = 7, people: pd.Series | None = None
                      ) -> FutureInflowFit:
    """Fit the step of the future inflow's random walk to the daily series ``people`` (default: the
    shipped one), over the years whose first ``last_month`` months it covers in full (a forecast
    from an origin passes the data up to the origin only)."""
    people = load_daily()["people"] if people is None else people
    part = people[people.index.month <= last_month]
    by_year = part.groupby(part.index.year).sum()
    days = part.groupby(part.index.year).size()
    full = pd.Timestamp(f"{people.index.max().year}-{last_month:02d}-01") + pd.offsets.MonthEnd(0) <= people.index.max()
    complete = [y for y in by_year.index if y < people.index.max().year or full]
    by_year = by_year.loc[complete]
    by_year = by_year[(by_year.index >= first_year) & (days.loc[by_year.index] > 0)]
    logs = np.log(by_year.to_numpy(dtype=float))
    steps = np.diff(logs)
    if steps.size < 2:
        raise ValueError(f"need at least three years from {first_year} to fit the future inflow, got {by_year.size}")
    sd = float(steps.std(ddof=1))
    return FutureInflowFit(log_sd=sd, log_mean=float(steps.mean()), se_mean=float(sd / np.sqrt(steps.size)),
                           changes={int(y): float(c) for y, c in zip(by_year.index[1:], steps, strict=True)})

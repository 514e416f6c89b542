"""Two simple statistical benchmarks for monthly small-boat arrivals.

Every forecaster here has the signature

    forecast(daily, origin, horizon_months, n_samples, rng) -> pandas.DataFrame

``daily`` is a daily DataFrame indexed by date with a ``people`` column (arrivals per
day, as :func:`sim.calibration.data.load_daily` gives it); ``origin`` is the last day
whose data the forecast may use, a month end; the result holds ``n_samples`` predictive
samples (rows) of the people arriving in each of the ``horizon_months`` calendar months
after the origin (columns: the months' start dates). Each forecaster slices
``daily.loc[:origin]`` itself, so data after the origin cannot change its forecast.

* :func:`seasonal_naive` - next year's month is this year's, with the spread of past
  seasonal-naive errors.
* :func:`poisson_random_walk` - weekly counts whose log-rate follows a Gaussian random
  walk (a local-level model), fitted by maximum likelihood with a Kalman filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

__all__ = [
    "LocalLevelFit",
    "fit_local_level",
    "forecast_months",
    "poisson_random_walk",
    "seasonal_naive",
    "weekly_history",
]


def forecast_months(origin, horizon_months: int) -> pd.DatetimeIndex:
    """The start dates of the ``horizon_months`` calendar months after a month-end ``origin``.

    Raises
    ------
    ValueError
        If ``origin`` is not the last day of a month or ``horizon_months < 1``.
    """
    origin = pd.Timestamp(origin)
    if origin != origin.normalize() or not origin.is_month_end:
        raise ValueError(f"the origin must be a month end (a date, no time), got {origin}")
    if int(horizon_months) < 1:
        raise ValueError(f"horizon_months must be at least 1, got {horizon_months}")
    return pd.date_range(origin + pd.Timedelta(days=1), periods=int(horizon_months), freq="MS", name="month")


def _upto(daily: pd.DataFrame, origin) -> pd.Series:
    """The ``people`` column up to and including ``origin``; checks the data reach it."""
    origin = pd.Timestamp(origin)
    people = daily["people"].sort_index().loc[:origin].astype(float)
    if people.empty or people.index[-1] < origin:
        last = None if people.empty else people.index[-1].date()
        raise ValueError(f"the data end on {last}, before the origin {origin.date()}")
    if people.isna().any() or (people < 0).any():
        raise ValueError("people must be non-negative counts without gaps (NaN)")
    return people


# --------------------------------------------------------------------------------------
# Seasonal naive
# --------------------------------------------------------------------------------------


def seasonal_naive(daily: pd.DataFrame, origin, horizon_months: int, n_samples: int,
                   rng: np.random.Generator, *, history_years: int = 3) -> pd.DataFrame:
    """Seasonal-naive forecast: a month's arrivals are those of the same month a year earlier.

    The point forecast of month ``m`` is ``y[m - 12]`` (for months more than a year
    after the origin, ``y[m - 12k]``, the latest observed same calendar month). The
    spread comes from the past errors of that rule on the log scale,
    ``e[t] = log(y[t] + 1) - log(y[t - 12k] + 1)``, over the ``12 * history_years``
    complete months up to the origin (default three years, 36 errors; fewer if the
    data are shorter). Each sample of month ``m`` is ``(y[m - 12k] + 1) exp(e) - 1``
    (floored at 0) with ``e`` drawn with replacement from those errors, independently
    for each month and sample - so the months' marginal distributions are the
    empirical error distribution, their joint dependence is ignored.

    Parameters
    ----------
    daily
        Daily arrivals (column ``people``, people per day) indexed by date; only data up
        to ``origin`` are used.
    origin
        The forecast origin, a month end (e.g. ``"2023-07-31"``).
    horizon_months
        Number of calendar months after the origin to forecast.
    n_samples
        Number of predictive samples.
    rng
        NumPy random generator.
    history_years
        Years of seasonal-naive errors that make the predictive spread.

    Returns
    -------
    pandas.DataFrame
        ``n_samples x horizon_months`` predictive samples of people per month; columns:
        the months' start dates.

    Raises
    ------
    ValueError
        If the data do not reach the origin or hold fewer than ``12k + 1`` complete
        months (no error to sample).
    """
    months = forecast_months(origin, horizon_months)
    people = _upto(daily, origin)
    monthly = people.resample("MS").sum()
    if people.index[0].day != 1:          # a first month that is not complete
        monthly = monthly.iloc[1:]
    logs = np.log1p(monthly)
    out = np.empty((int(n_samples), len(months)))
    for j, month in enumerate(months):
        k = j // 12 + 1                   # years back to the latest observed same month
        base_month = month - pd.DateOffset(years=k)
        if base_month not in monthly.index:
            raise ValueError(f"no observed {base_month:%Y-%m} for the seasonal-naive forecast of {month:%Y-%m}")
        errors = (logs - logs.shift(12 * k)).dropna().iloc[-12 * int(history_years):]
        if errors.empty:
            raise ValueError(f"need more than {12 * k} complete months before {origin} for seasonal-naive errors")
        e = rng.choice(errors.to_numpy(), size=int(n_samples), replace=True)
        out[:, j] = np.clip((monthly[base_month] + 1.0) * np.exp(e) - 1.0, 0.0, None)
    return pd.DataFrame(out, columns=months)


# --------------------------------------------------------------------------------------
# Poisson random walk (local level on the log scale)
# --------------------------------------------------------------------------------------


def weekly_history(daily: pd.DataFrame, origin, history_years: float | None = 3) -> pd.Series:
    """Complete weeks (Monday-Sunday, labelled by their Sunday) up to ``origin``.

    Parameters
    ----------
    daily
        Daily arrivals (column ``people``) indexed by date.
    origin
        The last day that may be used; the last week is the one ending on the last
        Sunday on or before it.
    history_years
        Keep the weeks ending in the ``history_years`` years up to the origin (all
        complete weeks if ``None``).

    Returns
    -------
    pandas.Series
        People per week, indexed by the week's last day (a Sunday).
    """
    people = _upto(daily, origin)
    grouped = people.resample("W-SUN")
    weeks = grouped.sum()[grouped.count() == 7]
    weeks = weeks[weeks.index <= pd.Timestamp(origin)]
    if history_years is not None:
        start = pd.Timestamp(origin) - pd.DateOffset(days=round(365.25 * float(history_years)))
        weeks = weeks[weeks.index > start]
    return weeks


@dataclass(frozen=True)
class LocalLevelFit:
    """A local-level model fitted to weekly counts, filtered to the last week.

    ``z[t] = log(y[t] + 1) = mu[t] + eps[t] + poisson error``, ``mu[t] = mu[t-1] + eta[t]``.
    """

    sd_level: float       #: sd of the level's weekly step ``eta`` (log scale, per week)
    sd_extra: float       #: sd of the extra-Poisson weekly noise ``eps`` (log scale)
    level: float          #: filtered mean of ``mu`` in the last week (log of people+1 per week)
    level_var: float      #: its filtered variance (log scale squared)
    loglik: float         #: the maximised Gaussian log-likelihood
    n_weeks: int          #: number of weeks fitted
    last_week: pd.Timestamp  #: the Sunday ending the last week fitted


_TWO_PI = 2.0 * math.pi


def _kalman(z: np.ndarray, poisson_var: np.ndarray, var_level: float, var_extra: float
            ) -> tuple[float, float, float]:
    """Kalman filter of the local level; returns (loglik, last mean, last variance).

    The first observation initialises the state (mean ``z[0]``, variance its observation
    variance), the usual way to start a random walk without a prior; the likelihood is
    that of ``z[1:]`` given ``z[0]``.
    """
    zs = z.tolist()                      # plain floats: the loop is scalar arithmetic
    hs = (var_extra + poisson_var).tolist()
    a, p = zs[0], hs[0]
    ll = 0.0
    for t in range(1, len(zs)):
        p += var_level
        f = p + hs[t]
        v = zs[t] - a
        ll -= 0.5 * (math.log(_TWO_PI * f) + v * v / f)
        k = p / f
        a += k * v
        p *= 1.0 - k
    return ll, a, p


def fit_local_level(weekly: pd.Series) -> LocalLevelFit:
    """Fit the local-level model to weekly counts by maximum likelihood.

    On ``z = log(y + 1)`` the observation variance of week ``t`` is
    ``sd_extra^2 + 1 / (y[t] + 1)``: the second term is the delta-method variance of the
    log of a Poisson count (``1 / lambda``, with the observed count as a plug-in), so
    ``sd_extra`` measures only the variation beyond Poisson (weather, above all). The two
    standard deviations maximise the Gaussian likelihood of the Kalman filter's
    prediction errors (Powell's method on their logs, bounded to ``[e^-9, e^2]``, from
    three starting points).

    Parameters
    ----------
    weekly
        People per week (e.g. :func:`weekly_history`), at least 10 weeks.

    Returns
    -------
    LocalLevelFit
    """
    y = weekly.to_numpy(dtype=float)
    if y.size < 10:
        raise ValueError(f"need at least 10 complete weeks to fit the random walk, got {y.size}")
    z = np.log1p(y)
    pv = 1.0 / (y + 1.0)

    def nll(theta: np.ndarray) -> float:
        return -_kalman(z, pv, math.exp(2 * theta[0]), math.exp(2 * theta[1]))[0]

    sd0 = max(float(np.std(np.diff(z))) / 2.0, 1e-3)
    best = None
    for start in ([np.log(sd0), np.log(sd0)], [np.log(sd0 / 10), np.log(sd0)], [np.log(sd0), np.log(sd0 / 10)]):
        res = minimize(nll, np.asarray(start), method="Powell", bounds=[(-9.0, 2.0)] * 2)
        if best is None or res.fun < best.fun:
            best = res
    sd_level, sd_extra = np.exp(best.x)
    ll, a, p = _kalman(z, pv, sd_level**2, sd_extra**2)
    return LocalLevelFit(sd_level=float(sd_level), sd_extra=float(sd_extra), level=float(a),
                         level_var=float(p), loglik=float(ll), n_weeks=int(y.size),
                         last_week=pd.Timestamp(weekly.index[-1]))


def _week_to_month_weights(week_starts: pd.DatetimeIndex, months: pd.DatetimeIndex) -> np.ndarray:
    """Share of each week's seven days in each month: ``n_weeks x n_months``."""
    days = (np.asarray(week_starts, dtype="datetime64[D]")[:, None] + np.arange(7)).astype("datetime64[M]")
    first = np.asarray(months, dtype="datetime64[M]")
    return (days[:, :, None] == first[None, None, :]).sum(axis=1) / 7.0


def poisson_random_walk(daily: pd.DataFrame, origin, horizon_months: int, n_samples: int,
                        rng: np.random.Generator, *, history_years: float | None = 3) -> pd.DataFrame:
    """Weekly counts with a random-walk log-rate, aggregated into calendar months.

    Model (weeks Monday-Sunday): ``y[t] ~ Poisson(lambda[t])``,
    ``log(lambda[t] + 1) = mu[t] + eps[t]``, ``eps[t] ~ N(0, sd_extra^2)`` independent,
    ``mu[t] = mu[t-1] + eta[t]``, ``eta[t] ~ N(0, sd_level^2)``: a Gaussian random walk
    for the log-rate (no drift, no seasonality). The counts are **over-dispersed
    Poisson** - Poisson given a lognormal weekly rate - because weekly crossings vary
    far beyond Poisson (in the shipped series the weekly variance is hundreds of times
    the mean: the weather closes and opens the Channel); with ``sd_extra = 0`` it is
    plain Poisson.

    Steps: (1) the complete weeks ending in the ``history_years`` years up to the
    origin (default three; the last ends on the last Sunday on or before the origin);
    (2) ``sd_level`` and ``sd_extra`` by maximum likelihood and the level filtered to the
    last week (:func:`fit_local_level`); (3) for each sample, draw the last level from
    its filtered distribution, walk it forward week by week, add ``eps``, draw Poisson
    counts; (4) split each simulated week's count among calendar months by its days
    (a week crossing a month boundary contributes ``days / 7`` of its count to each) and
    sum the forecast months. Days between the last complete week and the origin are
    simulated too (they fall in the origin's month, which is not forecast).

    Parameters
    ----------
    daily
        Daily arrivals (column ``people``, people per day) indexed by date; only data up
        to ``origin`` are used.
    origin
        The forecast origin, a month end (e.g. ``"2023-07-31"``).
    horizon_months
        Number of calendar months after the origin to forecast.
    n_samples
        Number of predictive samples.
    rng
        NumPy random generator.
    history_years
        Years of weekly history fitted (``None``: all complete weeks).

    Returns
    -------
    pandas.DataFrame
        ``n_samples x horizon_months`` predictive samples of people per month (not
        necessarily integers: boundary weeks are split by days); columns: the months'
        start dates.
    """
    months = forecast_months(origin, horizon_months)
    fit = fit_local_level(weekly_history(daily, origin, history_years))
    end = months[-1] + pd.offsets.MonthEnd(0)
    week_starts = pd.date_range(fit.last_week + pd.Timedelta(days=1), end, freq="W-MON")
    n, h = int(n_samples), len(week_starts)
    level0 = fit.level + np.sqrt(fit.level_var) * rng.standard_normal(n)
    steps = fit.sd_level * rng.standard_normal((n, h))
    log_rate = level0[:, None] + np.cumsum(steps, axis=1) + fit.sd_extra * rng.standard_normal((n, h))
    rate = np.clip(np.expm1(np.minimum(log_rate, 25.0)), 0.0, None)
    counts = rng.poisson(rate).astype(float)
    monthly = counts @ _week_to_month_weights(week_starts, months)
    return pd.DataFrame(monthly, columns=months)

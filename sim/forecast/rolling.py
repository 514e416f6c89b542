"""Rolling-origin evaluation: forecast from several origins, score against what followed.

A *forecaster* is any callable
``forecaster(daily, origin, horizon_months, n_samples, rng)`` returning predictive
samples of people per month, ``n_samples x horizon_months`` (a DataFrame whose columns
are the months' start dates, or an array), for the calendar months after the month-end
``origin`` (see :mod:`sim.forecast.benchmarks`). The harness passes it only
``daily.loc[:origin]``, so no forecaster - the benchmarks or the agent-based model - can
see what it is scored against. Each window runs to ``horizon_months`` after the origin
or to the last complete month of the data, whichever is first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from sim.forecast.benchmarks import forecast_months
from sim.forecast.scores import score_table

__all__ = ["RollingResult", "monthly_forecast_table", "plot_rolling", "rolling_forecasts", "rolling_origin"]

Forecaster = Callable[..., "pd.DataFrame | np.ndarray"]

#: Columns of :func:`rolling_origin`'s table.
SCORE_COLUMNS = ["forecaster", "origin", "start", "end", "n_months", "coverage50", "coverage90",
                 "interval_score50", "interval_score90", "crps", "observed_mean", "crps_rel"]
#: Columns of :func:`monthly_forecast_table`'s table.
MONTHLY_COLUMNS = ["forecaster", "origin", "month", "observed", "median", "lo50", "hi50", "lo90", "hi90"]


class RollingResult(NamedTuple):
    """Both tables of one rolling-origin run (see :func:`rolling_forecasts`)."""

    scores: pd.DataFrame   #: as :func:`rolling_origin` returns it
    monthly: pd.DataFrame  #: as :func:`monthly_forecast_table` returns it


def _named(forecasters: Forecaster | Mapping[str, Forecaster]) -> dict[str, Forecaster]:
    if callable(forecasters):
        name = getattr(forecasters, "__name__", None) or getattr(getattr(forecasters, "func", None), "__name__", "forecaster")
        return {name: forecasters}
    named = dict(forecasters)
    if not named or not all(callable(f) for f in named.values()):
        raise TypeError("forecasters must be a callable or a non-empty mapping name -> callable")
    return named


def _last_complete_month(daily: pd.DataFrame) -> pd.Timestamp:
    """Start date of the last calendar month the data cover to its last day."""
    last = pd.Timestamp(daily.index.max())
    month = last.to_period("M").to_timestamp()
    return month if last.is_month_end else month - pd.DateOffset(months=1)


def _window(origin, horizon_months: int, last_month: pd.Timestamp) -> pd.DatetimeIndex:
    months = forecast_months(origin, horizon_months)
    months = months[months <= last_month]
    if months.empty:
        raise ValueError(f"no complete observed month after the origin {pd.Timestamp(origin).date()}")
    return months


def _as_forecast(out, months: pd.DatetimeIndex, name: str, origin) -> np.ndarray:
    """Check a forecaster's output and return it as an ``n_samples x n_months`` array."""
    if isinstance(out, pd.DataFrame) and isinstance(out.columns, pd.DatetimeIndex):
        if not out.columns.equals(pd.DatetimeIndex(months)):
            raise ValueError(f"{name} from {origin}: forecast months {list(out.columns.strftime('%Y-%m'))} "
                             f"are not the window's {list(months.strftime('%Y-%m'))}")
    x = np.asarray(out, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(months) or x.shape[0] < 1:
        raise ValueError(f"{name} from {origin}: expected n_samples x {len(months)} samples, got shape {x.shape}")
    return x


def rolling_forecasts(forecasters: Forecaster | Mapping[str, Forecaster], daily: pd.DataFrame,
                      origins: Sequence, horizon_months: int = 12, n_samples: int = 2000,
                      seed: int = 12) -> RollingResult:
    """Forecast from each origin with each forecaster and score the window; both tables.

    Parameters
    ----------
    forecasters
        A forecaster, or a mapping name -> forecaster (see the module's docstring).
    daily
        Daily arrivals (column ``people``, people per day) indexed by date, running past
        the origins: the observations scored.
    origins
        Forecast origins, month ends (e.g. ``["2023-07-31", "2024-01-31"]``).
    horizon_months
        Months forecast after each origin, cut at the data's last complete month.
    n_samples
        Predictive samples per forecast.
    seed
        Seed of the random streams: origin ``i`` uses ``numpy.random.default_rng([seed, i])``
        for every forecaster, so a forecaster's result does not depend on which others
        run or in what order.

    Returns
    -------
    RollingResult
        ``scores`` (one row per origin and forecaster) and ``monthly`` (one row per
        origin, forecaster and month).
    """
    named = _named(forecasters)
    daily = daily.sort_index()
    monthly_obs = daily["people"].resample("MS").sum().astype(float)
    last_month = _last_complete_month(daily)
    score_rows, month_rows = [], []
    for i, origin in enumerate(origins):
        origin = pd.Timestamp(origin)
        months = _window(origin, horizon_months, last_month)
        obs = monthly_obs.reindex(months).to_numpy()
        past = daily.loc[:origin]
        for name, forecaster in named.items():
            rng = np.random.default_rng([int(seed), i])
            samples = _as_forecast(forecaster(past, origin, len(months), int(n_samples), rng), months, name, origin)
            table = score_table(samples, obs, months)
            score_rows.append({"forecaster": name, "origin": origin, "start": months[0],
                               "end": months[-1] + pd.offsets.MonthEnd(0), **table.summary})
            per = table.per_month.reset_index()
            per.insert(0, "origin", origin)
            per.insert(0, "forecaster", name)
            month_rows.append(per[MONTHLY_COLUMNS])
    scores = pd.DataFrame(score_rows)[SCORE_COLUMNS]
    return RollingResult(scores, pd.concat(month_rows, ignore_index=True))


def rolling_origin(forecaster: Forecaster | Mapping[str, Forecaster], daily: pd.DataFrame, origins: Sequence,
                   horizon_months: int = 12, n_samples: int = 2000, seed: int = 12) -> pd.DataFrame:
    """Rolling-origin scores: one row per origin and forecaster.

    Parameters are those of :func:`rolling_forecasts`.

    Returns
    -------
    pandas.DataFrame
        Columns ``forecaster, origin``; the window scored, ``start`` (first month's
        first day) to ``end`` (last month's last day), and ``n_months``; ``coverage50,
        coverage90`` (shares of months inside the central 50% and 90% intervals);
        ``interval_score50, interval_score90`` and ``crps`` (means over the window,
        people per month); ``observed_mean`` (people per month) and ``crps_rel``
        (mean CRPS / observed mean).
    """
    return rolling_forecasts(forecaster, daily, origins, horizon_months, n_samples, seed).scores


def monthly_forecast_table(forecaster: Forecaster | Mapping[str, Forecaster], daily: pd.DataFrame,
                           origins: Sequence, horizon_months: int = 12, n_samples: int = 2000,
                           seed: int = 12) -> pd.DataFrame:
    """Forecast bands month by month, for plotting: one row per origin, forecaster and month.

    Parameters are those of :func:`rolling_forecasts` (the same seed gives the same
    forecasts as :func:`rolling_origin`).

    Returns
    -------
    pandas.DataFrame
        Columns ``forecaster, origin, month`` (the month's start date), ``observed``,
        ``median``, ``lo50, hi50`` and ``lo90, hi90`` (central intervals), all people
        per month.
    """
    return rolling_forecasts(forecaster, daily, origins, horizon_months, n_samples, seed).monthly


def plot_rolling(monthly: pd.DataFrame, daily: pd.DataFrame | None = None, *, context_months: int = 12,
                 colors: Mapping[str, str] | None = None, title: str | None = None, log_y: bool = False):
    """One panel per origin: observed monthly arrivals and each forecaster's bands.

    Parameters
    ----------
    monthly
        The table of :func:`monthly_forecast_table`.
    daily
        Optional daily series (column ``people``); if given, the ``context_months``
        observed months up to each origin are drawn too (open points) for context.
    context_months
        Months of context before each origin (with ``daily``).
    colors
        Optional forecaster name -> matplotlib colour.
    title
        Optional figure title.
    log_y
        Draw the y-axis on a log scale (wide bands otherwise flatten the observations).

    Returns
    -------
    matplotlib.figure.Figure
        Drawn on an Agg canvas (not registered with pyplot; save it with ``savefig``).
        Observed arrivals as black points, each forecaster's 90% band (light) and 50%
        band (darker) with its median as a line; the origin as a dotted line; the legend
        below the panels. People per month on the y-axis.
    """
    import matplotlib.ticker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    origins = list(pd.unique(monthly["origin"]))
    names = list(pd.unique(monthly["forecaster"]))
    palette = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {n: (colors or {}).get(n, palette[k % len(palette)]) for k, n in enumerate(names)}
    fig = Figure(figsize=(4.6 * len(origins), 3.8))
    FigureCanvasAgg(fig)                  # Agg, whatever pyplot's backend: no window, no global state
    axes = fig.subplots(1, len(origins), sharey=True, squeeze=False)
    obs_monthly = None if daily is None else daily["people"].resample("MS").sum()
    for ax, origin in zip(axes.flat, origins, strict=True):
        part = monthly[monthly["origin"] == origin]
        for name in names:
            f = part[part["forecaster"] == name].sort_values("month")
            c = colors[name]
            ax.fill_between(f["month"], f["lo90"], f["hi90"], color=c, alpha=0.18, linewidth=0, step=None)
            ax.fill_between(f["month"], f["lo50"], f["hi50"], color=c, alpha=0.38, linewidth=0)
            ax.plot(f["month"], f["median"], color=c, linewidth=1.2)
        obs = part.drop_duplicates("month").sort_values("month")
        ax.plot(obs["month"], obs["observed"], "o", color="black", markersize=3.5, zorder=5)
        if obs_monthly is not None:
            start = pd.Timestamp(origin).to_period("M").to_timestamp() - pd.DateOffset(months=context_months - 1)
            ctx = obs_monthly.loc[start:pd.Timestamp(origin)]
            ax.plot(ctx.index, ctx.to_numpy(), "o", markerfacecolor="white", markeredgecolor="black",
                    markersize=3.5, zorder=5)
        ax.axvline(pd.Timestamp(origin), color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"origin {pd.Timestamp(origin):%d %b %Y}", fontsize=10)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        if log_y:
            ax.set_yscale("log")
        else:
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.grid(alpha=0.3)
    axes.flat[0].set_ylabel("people per month")
    handles = [Line2D([], [], marker="o", linestyle="", color="black", markersize=4)]
    labels = ["observed (scored)"]
    if obs_monthly is not None:
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                                  markeredgecolor="black", markersize=4))
        labels.append("observed (before origin)")
    for name in names:
        handles += [Patch(color=colors[name], alpha=0.18), Patch(color=colors[name], alpha=0.38)]
        labels += [f"{name} 90%", f"{name} 50%"]
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=9, frameon=False)
    return fig

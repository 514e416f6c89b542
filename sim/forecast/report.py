"""Forecast tables, figures and the rolling-origin section of the validation report.

``channel-sim forecast --until DATE --horizon MONTHS`` (:func:`forecast_table`) and
``channel-sim forecast --rolling`` (:func:`rolling_validation`; ``make forecast-validation``),
which writes ``rolling_scores.csv``, ``rolling_monthly.csv`` and ``rolling.png`` and puts its
section between the markers in the validation folder's ``report.md``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.forecast.model import ModelForecaster
from sim.forecast.rolling import plot_rolling, rolling_forecasts
from sim.forecast.scores import quantile_bands

__all__ = ["BEGIN", "END", "MODEL", "forecast_table", "format_forecast", "replace_block", "rolling_section",
           "rolling_validation"]

BEGIN, END = "<!-- BEGIN ROLLING-ORIGIN FORECASTS -->", "<!-- END ROLLING-ORIGIN FORECASTS -->"
#: The model's name in the tables.
MODEL = "agent-based model"


def forecast_table(forecaster: ModelForecaster, daily: pd.DataFrame, until: Any, horizon_months: int,
                   seed: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast monthly arrivals after ``until`` (a month end): the table (month, median, 50% and
    90% intervals, and the observed value where the data have it) and the samples."""
    until = pd.Timestamp(until)
    samples = forecaster(daily.loc[:until], until, horizon_months, 0, np.random.default_rng([seed, 0]))
    table = quantile_bands(samples, (0.5, 0.9), index=samples.columns)
    observed = daily["people"].resample("MS").sum()
    last = pd.Timestamp(daily.index.max())
    complete = [m for m in samples.columns if m + pd.offsets.MonthEnd(0) <= last]
    table["observed"] = observed.reindex(samples.columns).where(samples.columns.isin(complete))
    table.index.name = "month"
    return table.reset_index(), samples


def format_forecast(table: pd.DataFrame, until: Any, n: int) -> str:
    """The forecast table as printed by ``channel-sim forecast``."""
    lines = [f"Monthly arrivals after {pd.Timestamp(until).date()} (people; {n} runs: posterior draws x "
             "replications, each with its own inflow path)",
             f"{'month':<8} {'median':>8} {'50% interval':>17} {'90% interval':>17} {'observed':>9}"]
    for r in table.itertuples(index=False):
        obs = "" if pd.isna(r.observed) else f"{r.observed:,.0f}"
        lines.append(f"{pd.Timestamp(r.month):%Y-%m}  {r.median:8,.0f} {r.lo50:8,.0f}-{r.hi50:<8,.0f} "
                     f"{r.lo90:8,.0f}-{r.hi90:<8,.0f} {obs:>9}")
    return "\n".join(lines)


def rolling_validation(forecaster: ModelForecaster, daily: pd.DataFrame, out: str | Path,
                       origins: tuple[str, ...] | None = None, horizon_months: int = 12,
                       seed: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin forecasts of the model and the two benchmarks, scored on the same windows;
    writes the tables, the figure and the report section into ``out``."""
    from sim.forecast import BENCHMARKS, ORIGINS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = rolling_forecasts({MODEL: forecaster, **BENCHMARKS}, daily, origins or ORIGINS, horizon_months,
                            n_samples=2000, seed=seed)
    seconds = time.perf_counter() - t0
    res.scores.to_csv(out / "rolling_scores.csv", index=False)
    res.monthly.to_csv(out / "rolling_monthly.csv", index=False)
    fig = plot_rolling(res.monthly, daily, log_y=True,
                       title="Rolling-origin forecasts of monthly arrivals (50% and 90% bands; log scale)")
    fig.savefig(out / "rolling.png", dpi=120, bbox_inches="tight")
    report = out / "report.md"
    section = rolling_section(res.scores, forecaster, seconds, res.monthly, daily)
    if report.is_file():
        report.write_text(replace_block(report.read_text(), section))
    (out / "rolling.md").write_text(section + "\n")
    return res.scores, res.monthly


def rolling_section(scores: pd.DataFrame, forecaster: ModelForecaster, seconds: float,
                    monthly: pd.DataFrame | None = None, daily: pd.DataFrame | None = None) -> str:
    """The report's rolling-origin section (markdown, between the markers); with ``monthly`` (the
    per-month table), where the model missed: its window totals and the months outside its 90% band."""
    s = scores.copy()
    lines = [BEGIN, "", "## Rolling-origin forecasts (out of sample)", "",
             "_Written by `channel-sim forecast --rolling` (`make forecast-validation`, "
             f"{seconds / 60:.0f} min); do not edit by hand._", "",
             f"From each origin the model is conditioned on the data up to that day only "
             f"(`sim/forecast/model.py`): {forecaster.draws} posterior draws x {forecaster.replications} "
             f"runs of the scenario `{forecaster.scenario}`; the inflow of the origin's year is re-estimated "
             "from that year's arrivals so far, later years follow a random walk fitted on the data up "
             "to the origin, and each month carries the model's discrepancy (a log-normal error with the "
             "model's monthly misfit over the twelve months before the origin). The two benchmarks see the same data: a seasonal naive forecast (the same month "
             "a year earlier, with its past errors) and a Poisson random walk on weekly counts. Scores over "
             "the twelve months after each origin: coverage of the 50% and 90% intervals (nominal 0.5 and "
             "0.9), the mean interval score at 90% and the mean CRPS (people per month; lower is better; "
             "relative CRPS divides by the observed monthly mean).", "",
             "| origin | forecaster | coverage 50% | coverage 90% | interval score 90% | CRPS | relative CRPS |",
             "|---|---|---|---|---|---|---|"]
    for r in s.itertuples(index=False):
        lines.append(f"| {pd.Timestamp(r.origin).date()} | {r.forecaster} | {r.coverage50:.2f} | {r.coverage90:.2f} "
                     f"| {r.interval_score90:,.0f} | {r.crps:,.0f} | {r.crps_rel:.2f} |")
    mean = s.groupby("forecaster")[["crps_rel", "coverage50", "coverage90"]].mean()
    best = mean["crps_rel"].idxmin()
    m = mean.loc[MODEL]
    others = mean.drop(index=MODEL)
    lines += ["", f"Averaged over the origins, the relative CRPS is {m['crps_rel']:.2f} for the model against "
              + ", ".join(f"{v:.2f} for the {k}" for k, v in others["crps_rel"].items())
              + f" (best: {best}); the model's 50% and 90% intervals covered {m['coverage50']:.0%} and "
              f"{m['coverage90']:.0%} of the months."]
    worse = [f"{pd.Timestamp(o).date()}" for o, g in s.groupby("origin")
             if g.set_index("forecaster").loc[MODEL, "crps"] > g.set_index("forecaster")["crps"].drop(MODEL).min()]
    if worse:
        lines.append(f"The model forecast worse than the better benchmark from {', '.join(worse)}.")
    if monthly is not None:
        lines += ["", "Where the model misses (its median over each window against what was observed, and the "
                      "months outside its 90% interval):", ""]
        for origin, g in monthly[monthly["forecaster"] == MODEL].groupby("origin", sort=True):
            obs, med = float(g["observed"].sum()), float(g["median"].sum())
            out = g[(g["observed"] < g["lo90"]) | (g["observed"] > g["hi90"])]
            months = ", ".join(f"{pd.Timestamp(m):%b %Y} ({o:,.0f} observed, 90% interval {lo:,.0f}-{hi:,.0f})"
                               for m, o, lo, hi in zip(out["month"], out["observed"], out["lo90"], out["hi90"],
                                                       strict=True))
            lines.append(f"- from {pd.Timestamp(origin).date()}: {med:,.0f} arrivals (sum of monthly medians) "
                         f"against {obs:,.0f} observed ({med / obs - 1:+.0%}); "
                         + (f"outside the 90% interval: {months}." if months else "every month inside the 90% "
                                                                                 "interval."))
    lines += ["", "Limits: the parameters other than the inflow come from the posterior fitted to data through "
              "July 2025, after these origins, and the monthly shapes of the inflow and of crossable days were "
              "fitted on 2022-2024 (ODD section 6), which overlaps the first two windows: the forecasts are out of "
              "sample in the inflow level only, and the model's advantage in the seasonal pattern is partly "
              "in-sample." + _rise_2025(daily), "",
              "![Rolling-origin forecasts](rolling.png)", "", END]
    return "\n".join(lines)


def _rise_2025(daily: pd.DataFrame | None) -> str:
    """The sentence on the rise of the first half of 2025, from the data (empty without them)."""
    if daily is None or pd.Timestamp(daily.index.max()) < pd.Timestamp("2025-06-30"):
        return ""
    p = daily["people"]
    h25, h24 = float(p.loc["2025-01-01":"2025-06-30"].sum()), float(p.loc["2024-01-01":"2024-06-30"].sum())
    return (f" Arrivals in January-June 2025 were {h25 / h24 - 1:.0%} above those of January-June 2024 "
            f"({h25:,.0f} against {h24:,.0f}); the model has no mechanism for that rise (its inflow is "
            "exogenous), so a forecast from before it cannot anticipate it.")


def replace_block(text: str, section: str) -> str:
    """``text`` with the block between the markers replaced by ``section`` (appended if absent)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + section + tail
    return text.rstrip("\n") + "\n\n" + section + "\n"

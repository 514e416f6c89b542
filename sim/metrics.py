"""Reporters for the daily time series, the run summary, and the business-model verdict.

**Business model broken** (DESIGN section 1, ODD 7.x). Over the last ``W`` weeks of a
run (``verdict.window_weeks``, 26 by default) the market is judged broken when

* the market profit margin ``M = sum(gang profit) / sum(gang revenue)`` is at or below
  ``verdict.profit_margin_threshold`` (0: the market does not pay for itself), or
* the active gangs at the end are at or below ``verdict.gang_share_threshold`` of the
  gangs at the start.

``M`` is the continuous viability measure; when there is no revenue at all in the
window, ``M`` is -1 if there were costs (all costs, no income) and 0 otherwise. Where a no-policy counterfactual run on the
same seeds is supplied (``sim.run(..., counterfactual=...)``), the summary also gives
``arrivals_vs_counterfactual``, the ratio of arrivals in the policy period.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from sim.agents.migrant import MigrantState

__all__ = ["AGGREGATION", "DAILY_FLOWS", "DAILY_LEVELS", "STOCK_COLUMNS", "aggregation_of", "daily_columns",
           "daily_row", "model_reporters", "resample", "summarize", "verdict_series"]

#: Per-day flows the model accumulates in ``model.today`` (people, GBP or counts).
DAILY_FLOWS = (
    "inflow", "reached_coast", "decisions", "launches", "launches_prevented", "boats_arrived",
    "people_launched", "people_prevented", "deaths", "arrivals_uk", "repeat_arrivals",
    "returns", "returns_bilateral", "released_from_detention", "legal_admissions", "left_route",
    "gang_revenue_gbp", "gang_costs_gbp", "gang_spending_gbp", "policy_cost_gbp", "arrests", "boats_bought",
    "gang_entries", "gang_exits", "tactic_changes", "announcements", "quota_changes",
)
STOCK_COLUMNS = tuple(s.column for s in MigrantState)


#: How a daily column is aggregated to a coarser frequency: a flow is summed, a level is
#: averaged, a stock is taken at the end of the period. Columns not listed are flows (sum);
#: ``arrivals_<group>`` columns are flows. The engine, the plots, the dashboard and the
#: notebooks all aggregate through :func:`resample`.
AGGREGATION: dict[str, str] = {
    **dict.fromkeys(("waiting_at_coast", "mean_price_gbp", "price_sd_gbp", "mean_believed_return_prob",
                     "people_per_boat", "boat_price_gbp", "concentration_hhi", "patrol_capacity_units",
                     "legal_applicants", "returns_quota_per_week", "crossable"), "mean"),
    **dict.fromkeys(("active_gangs", "gang_cash_gbp", "cum_inflow", *STOCK_COLUMNS), "last"),
}


def aggregation_of(column: str) -> str:
    """``"sum"``, ``"mean"`` or ``"last"``: how ``column`` is aggregated over days."""
    return AGGREGATION.get(column, "sum")


def resample(ts: pd.DataFrame, freq: str, columns: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Aggregate a daily time series to ``freq`` (a pandas offset such as ``"MS"`` or ``"W-SUN"``),
    each column by :func:`aggregation_of`."""
    cols = list(ts.columns if columns is None else columns)
    return ts[cols].resample(freq).agg({c: aggregation_of(c) for c in cols})


#: Levels and ratios of the day, after the flows in the daily series.
DAILY_LEVELS = (
    "crossable", "people_per_boat", "gang_profit_gbp", "waiting_at_coast", "mean_price_gbp", "price_sd_gbp",
    "active_gangs", "gang_cash_gbp", "boat_price_gbp", "concentration_hhi", "mean_believed_return_prob",
    "patrol_capacity_units", "returns_quota_per_week", "legal_applicants", "cum_inflow",
)


def daily_columns(groups: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """The columns of the daily time series, in order (``arrivals_<group>`` for each group)."""
    return [*DAILY_FLOWS, *DAILY_LEVELS, *STOCK_COLUMNS, *(f"arrivals_{g}" for g in groups or ())]


def daily_row(m: Any) -> dict[str, float]:
    """Every column of the daily time series for the day just simulated (people, GBP, counts).

    The model computes it once at the end of each day (``model.daily_values``); the
    DataCollector's reporters read it.
    """
    ppa = m.people_per_agent
    t = m.today
    row: dict[str, float] = dict(t)
    active = [g for g in m.gangs if g.active]
    prices = np.array([g.price_gbp for g in active])
    seats = np.array([sum(w["seats"] for w in g.recent) for g in active], dtype=float)
    total_seats = seats.sum()
    hhi = float(((seats / total_seats) ** 2).sum()) if total_seats > 0 else float("nan")
    counts = m.counts
    row.update({
        "crossable": int(m.weather.crossable),
        "people_per_boat": t["people_launched"] / t["launches"] if t["launches"] else float("nan"),
        "gang_profit_gbp": t["gang_revenue_gbp"] - t["gang_costs_gbp"],
        "waiting_at_coast": m.waiting_at_coast,
        "mean_price_gbp": float(prices.mean()) if prices.size else float("nan"),
        "price_sd_gbp": float(prices.std()) if prices.size else float("nan"),
        "active_gangs": len(active),
        "gang_cash_gbp": float(sum(g.cash_gbp for g in m.gangs)),
        "boat_price_gbp": m.boat_price_gbp,
        "concentration_hhi": hhi,
        "mean_believed_return_prob": m.mean_believed_return_prob(),
        "patrol_capacity_units": m.patrol_capacity_units,
        "returns_quota_per_week": m.authority.quota_per_week if m.authority.policy_active else 0,
        "legal_applicants": m.n_applicants * ppa,
        "cum_inflow": m.cum_inflow * ppa,
    })
    for s in MigrantState:
        row[s.column] = int(counts[s]) * ppa
    for i, g in enumerate(m.config.groups):
        row[f"arrivals_{g.name}"] = float(m.arrivals_by_group_today[i]) * ppa
    return row


def _column(name: str, m: Any) -> float:
    return m.daily_values[name]


def model_reporters(groups: list[str] | None = None) -> dict[str, Callable[[Any], Any]]:
    """Mesa DataCollector model reporters, one column each, reading the day's
    :func:`daily_row`. With ``groups`` (nationality group names), adds ``arrivals_<group>``."""
    return {c: partial(_column, c) for c in daily_columns(groups)}


def _margin(revenue: float, profit: float) -> float:
    if revenue > 0:
        return profit / revenue
    return -1.0 if profit < 0 else 0.0


def verdict_series(ts: pd.DataFrame, window_weeks: int, profit_margin_threshold: float,
                   gang_share_threshold: float, initial_gangs: int) -> pd.Series:
    """Whether the business model is broken, judged each day over the trailing window."""
    days = 7 * window_weeks
    rev = ts["gang_revenue_gbp"].rolling(days, min_periods=days).sum()
    prof = ts["gang_profit_gbp"].rolling(days, min_periods=days).sum()
    margin = np.where(rev > 0, prof / rev.where(rev > 0, 1.0), np.where(prof < 0, -1.0, 0.0))
    margin = pd.Series(margin, index=ts.index).where(rev.notna())
    broken = (margin <= profit_margin_threshold) | (ts["active_gangs"] <= gang_share_threshold * initial_gangs)
    return broken.where(rev.notna(), False).astype(bool)


def summarize(ts: pd.DataFrame, config: Any, initial_gangs: int,
              counterfactual: pd.DataFrame | None = None) -> dict[str, Any]:
    """The per-run summary (totals, ratios, the verdict)."""
    v = config.verdict
    policy_start = pd.Timestamp(config.returns.start_date)
    in_policy = ts.index >= policy_start
    window = ts.iloc[-7 * v.window_weeks:]
    revenue = float(window["gang_revenue_gbp"].sum())
    profit = float(window["gang_profit_gbp"].sum())
    margin = _margin(revenue, profit)
    active_end = int(ts["active_gangs"].iloc[-1])
    broken = bool(margin <= v.profit_margin_threshold or active_end <= v.gang_share_threshold * initial_gangs)
    launched = float(ts["people_launched"].sum())
    returns_policy = float(ts.loc[in_policy, "returns"].sum())
    arrivals_policy = float(ts.loc[in_policy, "arrivals_uk"].sum())
    series = verdict_series(ts, v.window_weeks, v.profit_margin_threshold, v.gang_share_threshold, initial_gangs)
    after = series[in_policy] if in_policy.any() else series.iloc[0:0]
    first = after.idxmax() if after.any() else None
    boats = float(ts["launches"].sum())
    out: dict[str, Any] = {
        "scenario": config.name,
        "days": len(ts),
        "arrivals_uk": float(ts["arrivals_uk"].sum()),
        "arrivals_uk_policy_period": arrivals_policy,
        "returns": float(ts["returns"].sum()),
        "returns_bilateral": float(ts["returns_bilateral"].sum()),
        "arrivals_per_return": (arrivals_policy / returns_policy) if returns_policy > 0 else float("nan"),
        "prevented_share": float(ts["people_prevented"].sum()) / launched if launched else float("nan"),
        "launches_prevented_share": float(ts["launches_prevented"].sum()) / boats if boats else float("nan"),
        "deaths": float(ts["deaths"].sum()),
        "deaths_per_1000_crossing": 1000 * float(ts["deaths"].sum()) / max(
            launched - float(ts["people_prevented"].sum()), 1.0),
        "left_route": float(ts["left_route"].sum()),
        "legal_admissions": float(ts["legal_admissions"].sum()),
        "repeat_arrivals": float(ts["repeat_arrivals"].sum()),
        "people_per_boat": float(ts["people_launched"].sum()) / boats if boats else float("nan"),
        "mean_price_gbp": float(window["mean_price_gbp"].mean()),
        "gang_revenue_gbp_window": revenue,
        "gang_profit_gbp_window": profit,
        "market_profit_margin": margin,
        "active_gangs_end": active_end,
        "initial_gangs": initial_gangs,
        "gang_entries": float(ts["gang_entries"].sum()),
        "gang_exits": float(ts["gang_exits"].sum()),
        "policy_cost_gbp": float(ts["policy_cost_gbp"].sum()),
        "cost_per_return_gbp": (float(ts["policy_cost_gbp"].sum()) / returns_policy) if returns_policy else float("nan"),
        "business_model_broken": broken,
        "broken_since": (first.date().isoformat() if first is not None else None),
        "weeks_to_collapse": (None if first is None else
                              max(0, math.ceil((first - policy_start).days / 7))),
    }
    if counterfactual is not None:
        cf_policy = float(counterfactual.loc[counterfactual.index >= policy_start, "arrivals_uk"].sum())
        out["arrivals_vs_counterfactual"] = arrivals_policy / cf_policy if cf_policy else float("nan")
        out["crossings_prevented_by_policy"] = cf_policy - arrivals_policy
        out["cost_per_crossing_prevented_gbp"] = (out["policy_cost_gbp"] / (cf_policy - arrivals_policy)
                                                  if cf_policy > arrivals_policy else float("nan"))
    return out

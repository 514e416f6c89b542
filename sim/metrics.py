"""Reporters for the daily time series, the run summary, and the business-model verdict.

**Business model broken** (DESIGN section 1, ODD 7.13). Over the last ``W`` weeks of a
run (``verdict.window_weeks``, 26 by default; all the days while fewer were simulated) the
market is judged broken when

* the market profit margin ``M = sum(gang profit) / sum(gang revenue)`` is at or below
  ``verdict.profit_margin_threshold`` (0: the market does not pay for itself), or
* the active gangs at the end are at or below ``verdict.gang_share_threshold`` of the
  gangs at the start.

``M`` is the continuous viability measure; when there is no revenue at all in the
window, ``M`` is -1 if there were costs (all costs, no income) and 0 otherwise. This rule
is written once, in :func:`judge_window` (with :func:`market_margin`); :func:`judge_run`
(the summary's and the dashboard's verdict) and :func:`verdict_series` (the same rule on
each day's trailing window) apply it. Where a no-policy counterfactual run on the
same seeds is supplied (``sim.run(..., counterfactual=...)``), the summary also gives
``arrivals_vs_counterfactual``, the ratio of arrivals in the policy period.
"""

from __future__ import annotations

import array
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim.agents.migrant import MigrantState

__all__ = ["AGGREGATION", "DAILY_FLOWS", "DailyCollector", "VERDICT_CRITERIA", "business_verdict", "rents_collapsed", "gangs_at_policy_start", "DAILY_LEVELS", "STOCK_COLUMNS", "RunVerdict", "Verdict", "aggregation_of", "arrival_columns",
           "daily_columns", "daily_row", "gang_floor", "judge_run", "judge_window", "market_margin", "model_reporters",
           "resample", "summarize", "verdict_series", "verdict_window", "window_days"]

#: Per-day flows the model accumulates in ``model.today`` (people, GBP or counts).
DAILY_FLOWS = (
    "potential_inflow", "inflow", "deterred_upstream", "reached_coast", "decisions", "launches", "launches_prevented", "boats_arrived",
    "people_launched", "people_prevented", "deaths", "arrivals_uk", "repeat_arrivals", "recrossings_6m",
    "paid_crossings", "free_crossings", "eligible_arrivals", "returns", "returns_bilateral", "released_from_detention", "legal_admissions", "left_route",
    "gang_revenue_gbp", "gang_costs_gbp", "gang_spending_gbp", "policy_cost_gbp", "legal_route_cost_gbp",
    "payments_to_france_gbp", "arrests", "boats_bought",
    "gang_entries", "gang_exits", "tactic_changes", "announcements", "quota_changes", "timeline_changes",
)
STOCK_COLUMNS = tuple(s.column for s in MigrantState)


#: How a daily column is aggregated to a coarser frequency: a flow is summed, a level is
#: averaged, a stock is taken at the end of the period. Columns not listed are flows (sum);
#: ``arrivals_<group>`` columns are flows. The engine, the plots, the dashboard and the
#: notebooks all aggregate through :func:`resample`.
AGGREGATION: dict[str, str] = {
    **dict.fromkeys(("waiting_at_coast", "mean_price_gbp", "price_sd_gbp", "mean_believed_return_prob",
                     "people_per_boat", "boat_price_gbp", "concentration_hhi", "patrol_capacity_units",
                     "legal_applicants", "returns_quota_per_week", "legal_capacity_per_week", "crossable"),
                    "mean"),
    **dict.fromkeys(("active_gangs", "gangs_insuring", "gang_cash_gbp", "cum_inflow", *STOCK_COLUMNS), "last"),
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
    "active_gangs", "gangs_insuring", "gang_cash_gbp", "boat_price_gbp", "concentration_hhi", "mean_believed_return_prob",
    "patrol_capacity_units", "returns_quota_per_week", "legal_capacity_per_week", "legal_applicants", "cum_inflow",
)


def daily_columns(groups: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """The columns of the daily time series, in order (``arrivals_<group>`` for each group)."""
    return [*DAILY_FLOWS, *DAILY_LEVELS, *STOCK_COLUMNS, *arrival_columns(groups or ())]


def arrival_columns(groups: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The daily arrivals column of each nationality group, in the groups' order."""
    return tuple(f"arrivals_{g}" for g in groups)


def daily_row(m: Any) -> dict[str, float]:
    """Every column of the daily time series for the day just simulated (people, GBP, counts).

    The model computes it once at the end of each day (``model.daily_values``); the
    DataCollector's reporters read it.
    """
    ppa = m.people_per_agent
    t = m.today
    row: dict[str, float] = dict(t)
    book, rows = m.market.book, m.market.active_rows   # the gangs' state, and the rows of the active ones
    n_active = rows.size
    seats = book.recent_seats[rows]
    total_seats = np.add.reduce(seats)   # seats.sum(), without its overhead
    hhi = float(np.add.reduce((seats / total_seats) ** 2)) if total_seats > 0 else math.nan
    if n_active:
        # prices.mean() and prices.std() as NumPy computes them (the same sums), without their overhead
        prices = book.price_gbp[rows]
        mean_price = np.add.reduce(prices) / n_active
        dev = prices - mean_price
        mean_price, price_sd = float(mean_price), math.sqrt(np.add.reduce(dev * dev) / n_active)
    else:
        mean_price = price_sd = math.nan
    counts = m.counts
    row.update({
        "crossable": int(m.weather.crossable),
        "people_per_boat": t["people_launched"] / t["launches"] if t["launches"] else math.nan,
        "gang_profit_gbp": t["gang_revenue_gbp"] - t["gang_costs_gbp"],
        "waiting_at_coast": m.waiting_at_coast,
        "mean_price_gbp": mean_price,
        "price_sd_gbp": price_sd,
        "active_gangs": n_active,
        "gangs_insuring": int(np.count_nonzero(book.insures[rows])),
        "gang_cash_gbp": float(sum(book.cash_gbp[:book.size].tolist())),   # every gang's, active or not
        "boat_price_gbp": m.boat_price_gbp,
        "concentration_hhi": hhi,
        "mean_believed_return_prob": m.mean_believed_return_prob(),
        "patrol_capacity_units": m.patrol_capacity_units,
        "returns_quota_per_week": m.authority.quota_per_week if m.authority.policy_active else 0,
        "legal_capacity_per_week": m.authority.weekly_legal_capacity(),
        "legal_applicants": m.n_applicants * ppa,
        "cum_inflow": m.cum_inflow * ppa,
    })
    row.update(zip(STOCK_COLUMNS, (int(c) * ppa for c in counts.tolist()), strict=True))
    row.update(zip(m.arrival_columns, (float(a) * ppa for a in m.arrivals_by_group_today.tolist()), strict=True))
    return row


def _column(name: str, m: Any) -> float:
    return m.daily_values[name]


class DailyCollector(mesa.DataCollector):
    """Mesa's DataCollector for the daily series: one model reporter per column of
    :func:`daily_row`, and the same tables (``model_vars``, ``get_model_vars_dataframe``,
    Mesa 3.5's collection times).

    The model computes the day's row once (``model.daily_values``); :meth:`collect` appends
    its values instead of calling each reporter and deep-copying each number (about a tenth
    of a run's time). A column holds its numbers in a compact array (``array.array``: 8 bytes a
    number instead of a Python object and its pointer, 32; a 10-year run's series take 2 MB
    instead of 9), of whole numbers while they all are, then of floats, as pandas would type
    the list of the same numbers; a column with anything else is a list. With agent or
    agent-type reporters, or a reporter that is not a column of the row, the columns become
    lists and Mesa's own ``collect`` runs.
    """

    def collect(self, model: Any) -> None:
        row = getattr(model, "daily_values", None)
        if (self.agent_reporters or self.agenttype_reporters or row is None
                or not self.model_vars.keys() <= row.keys()):
            self.model_vars = {var: list(values) for var, values in self.model_vars.items()}
            super().collect(model)
            return
        if hasattr(self, "_collection_steps"):    # Mesa 3.5 records when each row was collected
            self._collection_steps.append(model.time)
        columns = self.model_vars
        for var, values in columns.items():
            value = row[var]
            if not values:      # the first value sets the column's kind
                columns[var] = _column_holding(values, value)
                continue
            try:
                values.append(value)
            except (TypeError, OverflowError):
                columns[var] = _column_holding(values, value)

    def get_model_vars_dataframe(self) -> Any:
        """The daily series, one column per reporter (Mesa's table, built from the compact columns)."""
        if not self.model_reporters:
            return super().get_model_vars_dataframe()
        import pandas as pd

        return pd.DataFrame({var: np.frombuffer(values, dtype=_TYPECODE_DTYPE[values.typecode]).copy()
                             if isinstance(values, array.array) else values
                             for var, values in self.model_vars.items()})


#: The NumPy dtype of each ``array.array`` type code a column may have.
_TYPECODE_DTYPE = {"q": np.int64, "d": np.float64}


def _column_holding(values: list[Any] | array.array, value: Any) -> list[Any] | array.array:
    """A column with ``values`` and then ``value`` (:class:`DailyCollector`), for a column's first
    value and when ``value`` does not fit: whole numbers in an array of integers (``q``), floats
    after whole numbers in an array of floats (``d``), as pandas types a list of such numbers;
    anything else in a list."""
    kind = type(value)
    if not values and kind in (int, float):
        return array.array("q" if kind is int else "d", [value])
    if isinstance(values, array.array) and values.typecode == "q" and kind is float:
        return array.array("d", [*values, value])
    return [*values, value]


def model_reporters(groups: list[str] | None = None) -> dict[str, Callable[[Any], Any]]:
    """Mesa DataCollector model reporters, one column each, reading the day's
    :func:`daily_row`. With ``groups`` (nationality group names), adds ``arrivals_<group>``."""
    return {c: partial(_column, c) for c in daily_columns(groups)}


# --------------------------------------------------------------------------- the verdict
@dataclass(frozen=True)
class Verdict:
    """The business-model verdict on one window (scalars), or elementwise on many windows
    (arrays of equal length, one per day: :func:`verdict_series` uses them).

    ``margin`` is the market profit margin ``M``; ``margin_broken`` is ``M <= threshold``;
    ``gangs_broken`` is "active gangs <= ``gang_floor``"; ``broken`` is either.
    """

    margin: Any
    margin_broken: Any
    gangs_broken: Any
    broken: Any
    gang_floor: float


@dataclass(frozen=True)
class RunVerdict(Verdict):
    """The verdict at the end of a time series (:func:`judge_run`): the window judged, its
    sums, and the first day on or after the policy start on which a full window was broken."""

    revenue_gbp: float
    profit_gbp: float
    active_gangs: int
    days: int
    full_window: bool
    broken_since: pd.Timestamp | None


def market_margin(revenue: Any, profit: Any) -> Any:
    """The market profit margin ``M`` of a window's summed revenue and profit (GBP).

    ``M = profit / revenue`` when there is revenue; with none it is -1 if there were costs
    (``profit < 0``) and 0 otherwise. Floats give a float; arrays give an array (elementwise).
    """
    rev = np.asarray(revenue, dtype=float)
    prof = np.asarray(profit, dtype=float)
    paid = rev > 0
    margin = np.where(paid, prof / np.where(paid, rev, 1.0), np.where(prof < 0, -1.0, 0.0))
    return float(margin) if margin.ndim == 0 else margin


def gang_floor(params: Any, initial_gangs: int) -> float:
    """The number of active gangs at or below which the market has lost most of its gangs."""
    return params.gang_share_threshold * initial_gangs


def judge_window(revenue: Any, profit: Any, active_gangs: Any, initial_gangs: int, params: Any) -> Verdict:
    """THE verdict rule: is the business model broken over a window?

    Parameters
    ----------
    revenue, profit
        The gangs' summed revenue and economic profit over the window (GBP); floats, or
        arrays for many windows at once.
    active_gangs
        Active gangs on the window's last day (an int, or an array matching ``revenue``).
    initial_gangs
        Gangs at the start of the run (``gangs.initial_gangs``).
    params
        ``config.verdict`` (``profit_margin_threshold``, ``gang_share_threshold``).

    Returns
    -------
    Verdict
        Broken when ``market_margin(revenue, profit) <= params.profit_margin_threshold`` or
        ``active_gangs <= params.gang_share_threshold * initial_gangs``; Python scalars for
        scalar inputs, boolean arrays otherwise.
    """
    margin = market_margin(revenue, profit)
    floor = gang_floor(params, initial_gangs)
    margin_broken = np.asarray(margin) <= params.profit_margin_threshold
    gangs_broken = np.asarray(active_gangs) <= floor
    broken = margin_broken | gangs_broken
    if broken.ndim == 0:
        return Verdict(margin, bool(margin_broken), bool(gangs_broken), bool(broken), floor)
    return Verdict(margin, margin_broken, gangs_broken, broken, floor)


def window_days(params: Any) -> int:
    """Days in the verdict window (``7 * params.window_weeks``)."""
    return 7 * params.window_weeks


def verdict_window(ts: pd.DataFrame, params: Any) -> pd.DataFrame:
    """The days the verdict at the end of ``ts`` judges: the last :func:`window_days`, or all
    of them while fewer have been simulated."""
    return ts.iloc[-window_days(params):]


def verdict_series(ts: pd.DataFrame, params: Any, initial_gangs: int) -> pd.DataFrame:
    """:func:`judge_window` applied on each day to the trailing window ending that day.

    The window is the last :func:`window_days` days, or every day so far while fewer have
    been simulated (``full_window`` false: a provisional verdict), so the last row is the
    verdict :func:`judge_run` gives for the whole series. Columns: ``revenue_gbp``,
    ``profit_gbp``, ``days`` (days in the window), ``full_window``, ``margin``,
    ``margin_broken``, ``gangs_broken``, ``broken``; indexed as ``ts``.

    The window sums are rolling sums: equal to :func:`judge_run`'s direct sums up to
    floating-point rounding (a few units in the last place; a window with no revenue sums
    to exactly 0 either way).
    """
    days = window_days(params)
    sums = ts[["gang_revenue_gbp", "gang_profit_gbp"]].rolling(days, min_periods=1).sum()
    revenue = sums["gang_revenue_gbp"].to_numpy()
    profit = sums["gang_profit_gbp"].to_numpy()
    judged = np.minimum(np.arange(1, len(ts) + 1), days)
    v = judge_window(revenue, profit, ts["active_gangs"].to_numpy(), initial_gangs, params)
    return pd.DataFrame({"revenue_gbp": revenue, "profit_gbp": profit, "days": judged, "full_window": judged == days,
                         "margin": v.margin, "margin_broken": v.margin_broken, "gangs_broken": v.gangs_broken,
                         "broken": v.broken}, index=ts.index)


def judge_run(ts: pd.DataFrame, params: Any, initial_gangs: int, policy_start: Any) -> RunVerdict:
    """The verdict at the end of a daily time series (at least one day, indexed by date).

    The margin is judged over :func:`verdict_window` (revenue and profit summed there), the
    gangs on the last day, by :func:`judge_window`. ``broken_since`` is the first day on or
    after ``policy_start`` on which :func:`verdict_series` is broken over a full window.
    """
    if ts.empty:
        raise ValueError("judge_run: the time series has no day to judge")
    window = verdict_window(ts, params)
    revenue = float(window["gang_revenue_gbp"].sum())
    profit = float(window["gang_profit_gbp"].sum())
    active = int(ts["active_gangs"].iloc[-1])
    verdict = judge_window(revenue, profit, active, initial_gangs, params)
    series = verdict_series(ts, params, initial_gangs)
    after = series.loc[ts.index >= pd.Timestamp(policy_start)]
    full_and_broken = after["broken"] & after["full_window"]
    since = full_and_broken.idxmax() if full_and_broken.any() else None
    return RunVerdict(**vars(verdict), revenue_gbp=revenue, profit_gbp=profit, active_gangs=active,
                      days=len(window), full_window=len(window) == window_days(params), broken_since=since)


def gangs_at_policy_start(ts: pd.DataFrame, policy_start: Any, initial_gangs: int) -> int:
    """Active gangs on the day before the policy starts (the verdict's reference for exit):
    ``initial_gangs`` when the policy starts on or before the first day, the last day's count when
    it starts after the series ends."""
    before = ts.loc[ts.index < pd.Timestamp(policy_start), "active_gangs"]
    return int(before.iloc[-1]) if len(before) else int(initial_gangs)


#: The verdict's criteria (ODD 7.13), each reported on its own; the business model is broken when any holds.
VERDICT_CRITERIA = {
    "not_viable": "customers willing to pay the lowest average cost of a seat do not fill boats at minimum scale",
    "no_rents": "industry rents (all gangs, with the losses of those that exited) at or below the margin threshold",
    "gangs_collapsed": "active gangs at or below the threshold share of the gangs at the policy start",
    "rents_collapsed_vs_counterfactual": "industry rents at or below the threshold share of the same-seed "
                                         "no-policy rents",
}


def rents_collapsed(rents: Any, counterfactual_rents: Any, share: Any) -> Any:
    """The counterfactual criterion: positive same-seed no-policy rents, and rents at or below
    ``share`` of them (floats or aligned arrays/Series)."""
    return (counterfactual_rents > 0) & (rents <= share * counterfactual_rents)


def business_verdict(criteria: dict[str, bool | None]) -> tuple[bool, str]:
    """Broken when any criterion holds (None: not assessed); returns (broken, the names that hold,
    joined by ``+``, or ``""``)."""
    holding = [name for name in VERDICT_CRITERIA if criteria.get(name)]
    return bool(holding), "+".join(holding)


def summarize(ts: pd.DataFrame, config: Any, initial_gangs: int,
              counterfactual: pd.DataFrame | None = None, economics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The per-run summary: totals, ratios, the economics of the business and the verdict.

    ``economics`` is the model's end-of-run state (:meth:`sim.model.ChannelModel.end_state`:
    demand and cost curves, re-crossings); ``counterfactual`` the daily series of the same-seed
    no-policy run. Criteria that need what is not given are reported as None (not assessed).
    """
    v = config.verdict
    policy_start = pd.Timestamp(config.returns.start_date)
    in_policy = ts.index >= policy_start
    reference_gangs = gangs_at_policy_start(ts, policy_start, initial_gangs)
    verdict = judge_run(ts, v, reference_gangs, policy_start)
    window = verdict_window(ts, v)
    first = verdict.broken_since
    launched = float(ts["people_launched"].sum())
    returns_policy = float(ts.loc[in_policy, "returns"].sum())
    arrivals_policy = float(ts.loc[in_policy, "arrivals_uk"].sum())
    eligible_policy = float(ts.loc[in_policy, "eligible_arrivals"].sum())
    boats = float(ts["launches"].sum())
    active_end = verdict.active_gangs
    weekly_profit_per_gang = verdict.profit_gbp / max(len(window) / 7.0, 1.0) / max(active_end, 1)
    entry_value = weekly_profit_per_gang * v.entry_horizon_weeks
    eco = economics or {}
    out: dict[str, Any] = {
        "scenario": config.name,
        "days": len(ts),
        "potential_inflow": float(ts["potential_inflow"].sum()),
        "inflow": float(ts["inflow"].sum()),
        "deterred_upstream": float(ts["deterred_upstream"].sum()),
        "arrivals_uk": float(ts["arrivals_uk"].sum()),
        "arrivals_uk_policy_period": arrivals_policy,
        "paid_crossings": float(ts["paid_crossings"].sum()),
        "paid_crossings_policy_period": float(ts.loc[in_policy, "paid_crossings"].sum()),
        "returns": float(ts["returns"].sum()),
        "returns_bilateral": float(ts["returns_bilateral"].sum()),
        "arrivals_per_return": (arrivals_policy / returns_policy) if returns_policy > 0 else math.nan,
        "achieved_return_rate": returns_policy / eligible_policy if eligible_policy > 0 else math.nan,
        "recross_share_6m": float(eco.get("recross_share_6m", math.nan)),
        "future_inflow_factor": float(eco.get("future_inflow_factor", math.nan)),
        "prevented_share": float(ts["people_prevented"].sum()) / launched if launched else math.nan,
        "launches_prevented_share": float(ts["launches_prevented"].sum()) / boats if boats else math.nan,
        "deaths": float(ts["deaths"].sum()),
        "deaths_per_1000_crossing": 1000 * float(ts["deaths"].sum()) / max(
            launched - float(ts["people_prevented"].sum()), 1.0),
        "left_route": float(ts["left_route"].sum()),
        "displaced_policy_period": float(ts.loc[in_policy, ["deterred_upstream", "left_route"]].to_numpy().sum()),
        "legal_admissions": float(ts["legal_admissions"].sum()),
        "repeat_arrivals": float(ts["repeat_arrivals"].sum()),
        "people_per_boat": float(ts["people_launched"].sum()) / boats if boats else math.nan,
        "mean_price_gbp": float(window["mean_price_gbp"].mean()),
        "gang_revenue_gbp_window": verdict.revenue_gbp,
        "gang_profit_gbp_window": verdict.profit_gbp,
        "market_profit_margin": verdict.margin,
        "active_gangs_end": active_end,
        "initial_gangs": initial_gangs,
        "gangs_at_policy_start": reference_gangs,
        "gang_entries": float(ts["gang_entries"].sum()),
        "gang_exits": float(ts["gang_exits"].sum()),
        "entry_value_gbp": entry_value,
        "entry_pays": bool(entry_value > config.gangs.entry_cost_gbp),
        "ac_min_gbp": float(eco.get("ac_min_gbp", math.nan)),
        "viable_demand_share": float(eco.get("viable_demand_share", math.nan)),
        "customers_at_cost_per_week": float(eco.get("customers_at_cost_per_week", math.nan)),
        "min_scale_seats_per_week": float(eco.get("min_scale_seats_per_week", math.nan)),
        "critical_return_rate": float(eco.get("critical_return_rate", math.nan)),
        "policy_cost_gbp": float(ts["policy_cost_gbp"].sum()),
        "legal_route_cost_gbp": float(ts["legal_route_cost_gbp"].sum()),
        "payments_to_france_gbp_policy_period": float(ts.loc[in_policy, "payments_to_france_gbp"].sum()),
        "uk_cost_gbp_policy_period": float(ts.loc[in_policy, ["policy_cost_gbp", "legal_route_cost_gbp",
                                                              "payments_to_france_gbp"]].to_numpy().sum()),
        "cost_per_return_gbp": (float(ts["policy_cost_gbp"].sum()) / returns_policy) if returns_policy else math.nan,
    }
    criteria: dict[str, bool | None] = {
        "not_viable": (not eco["viable"]) if "viable" in eco else None,
        "no_rents": bool(verdict.margin_broken),
        "gangs_collapsed": bool(verdict.gangs_broken),
        "rents_collapsed_vs_counterfactual": None,
    }
    if counterfactual is not None:
        cf_in = counterfactual.index >= policy_start
        cf_policy = float(counterfactual.loc[cf_in, "arrivals_uk"].sum())
        cf_window = verdict_window(counterfactual, v)
        cf_rents = float(cf_window["gang_profit_gbp"].sum())
        cf_paid = float(counterfactual.loc[cf_in, "paid_crossings"].sum())
        out["arrivals_vs_counterfactual"] = arrivals_policy / cf_policy if cf_policy else math.nan
        out["crossings_prevented_by_policy"] = cf_policy - arrivals_policy
        # the UK's extra spending (returns, the legal route, payments to France) per arrival prevented
        cf_cost = float(counterfactual.loc[cf_in, ["policy_cost_gbp", "legal_route_cost_gbp",
                                                   "payments_to_france_gbp"]].to_numpy().sum())
        extra = out["uk_cost_gbp_policy_period"] - cf_cost
        out["cost_per_crossing_prevented_gbp"] = (extra / (cf_policy - arrivals_policy)
                                                  if cf_policy > arrivals_policy else math.nan)
        out["paid_crossings_vs_counterfactual"] = out["paid_crossings_policy_period"] / cf_paid if cf_paid else math.nan
        out["rents_vs_counterfactual"] = verdict.profit_gbp / cf_rents if cf_rents > 0 else math.nan
        out["net_exit_vs_counterfactual"] = float(counterfactual["active_gangs"].iloc[-1] - active_end)
        cf_price = float(cf_window["mean_price_gbp"].mean())
        out["price_vs_counterfactual"] = out["mean_price_gbp"] / cf_price if cf_price > 0 else math.nan
        out["displaced_vs_counterfactual"] = out["displaced_policy_period"] - float(
            counterfactual.loc[cf_in, ["deterred_upstream", "left_route"]].to_numpy().sum())
        criteria["rents_collapsed_vs_counterfactual"] = bool(
            rents_collapsed(verdict.profit_gbp, cf_rents, v.counterfactual_rent_share))
    broken, reasons = business_verdict(criteria)
    for name, held in criteria.items():
        out[f"criterion_{name}"] = held
    out["business_model_broken"] = broken
    out["verdict_reasons"] = reasons
    out["broken_since"] = first.date().isoformat() if first is not None else None
    out["weeks_to_collapse"] = None if first is None else max(0, math.ceil((first - policy_start).days / 7))
    return out

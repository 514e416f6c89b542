"""The dashboard's model side: its inputs, the configuration they make, the model, the verdict.

``model_params`` lists the SolaraViz inputs; ``dashboard_overrides`` maps their values
onto the shipped ``pilot_50`` scenario started on 2025-01-01; ``DashboardModel`` is the
Channel model built from them (recording each sector's launches for the picture of the
coast); ``verdict_now`` is the business-model verdict on the days simulated so far, by
``sim.metrics.judge_run``.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
import zlib
from typing import Any

import numpy as np
import pandas as pd

from sim.config import load_config
from sim.metrics import business_verdict, gang_floor, gangs_at_policy_start, judge_run
from sim.model import ChannelModel

__all__ = [
    "ANNOUNCE_LEAD_DAYS",
    "BASE_SCENARIO",
    "DEFAULTS",
    "DashboardModel",
    "END_DATE",
    "LEGAL_ROUTE_MODES",
    "START_DATE",
    "dashboard_overrides",
    "dated_timeseries",
    "model_params",
    "parse_seed",
    "verdict_now",
]

#: The shipped scenario the inputs modify (one in, one out: returns, legal route one-for-one).
BASE_SCENARIO = "pilot_50"
#: The dashboard's runs start here (policy effects show within months, not years).
START_DATE = dt.date(2025, 1, 1)
END_DATE = dt.date(2027, 12, 31)
#: Days between the announcement and the first return (10 July -> 4 August 2025 in the pilot).
ANNOUNCE_LEAD_DAYS = 25
LEGAL_ROUTE_MODES = ("matched", "fixed", "off")

#: Input values the page (and ``DashboardModel()``) starts with.
DEFAULTS: dict[str, Any] = {
    "quota_per_week": 50,
    "returns_start_day": 31,            # 2025-02-01
    "legal_route": "matched",
    "legal_capacity_per_week": 50,
    "uk_payment_gbp_m": 160,
    "at_sea_interception": False,
    "illegal_working_enforcement": 0.0,
    "seed": "1",
}

_WHOLE_NUMBER = r"\d{1,18}"


def model_params() -> dict[str, dict[str, Any]]:
    """SolaraViz inputs (Mesa's dict form, understood by Mesa 3.3 and 3.5).

    Every label names the unit (or the choices); sliders show their value on the thumb
    (``sim.dashboard.page.SLIDER_VALUE_CSS``), the other inputs show theirs anyway.
    """
    d = DEFAULTS
    return {
        "quota_per_week": {"type": "SliderInt", "label": "Returns quota (people/week)", "value": d["quota_per_week"],
                           "min": 0, "max": 1000, "step": 10},
        "returns_start_day": {"type": "SliderInt", "label": "Returns start (days after 1 Jan 2025)",
                              "value": d["returns_start_day"], "min": 0, "max": 364, "step": 1},
        "legal_route": {"type": "Select", "label": "Legal route (matched: one per return)", "value": d["legal_route"],
                        "values": list(LEGAL_ROUTE_MODES)},
        "legal_capacity_per_week": {"type": "SliderInt", "label": "Legal route places (people/week, if fixed)",
                                    "value": d["legal_capacity_per_week"], "min": 0, "max": 1000, "step": 10},
        "uk_payment_gbp_m": {"type": "SliderInt", "label": "UK payment to France (GBP m/year)",
                             "value": d["uk_payment_gbp_m"], "min": 0, "max": 1000, "step": 10},
        "at_sea_interception": {"type": "Checkbox", "label": "At-sea interception (on/off)", "value": d["at_sea_interception"]},
        "illegal_working_enforcement": {"type": "SliderFloat", "label": "Illegal-work enforcement (index 0-1)",
                                        "value": d["illegal_working_enforcement"], "min": 0.0, "max": 1.0,
                                        "step": 0.05},
        "seed": {"type": "InputText", "label": "Random seed", "value": d["seed"]},
    }


def parse_seed(seed: Any) -> int:
    """A seed from the text input: a whole number >= 0, else a stable number made from the text."""
    text = str(seed).strip()
    if re.fullmatch(_WHOLE_NUMBER, text):
        return int(text)
    return zlib.crc32(text.encode())


def dashboard_overrides(quota_per_week: int, returns_start_day: int, legal_route: str,
                        legal_capacity_per_week: int, uk_payment_gbp_m: float, at_sea_interception: bool,
                        illegal_working_enforcement: float) -> tuple[dict[str, Any], list[str]]:
    """Config overrides (dotted names) for the input values, and notes on adjustments made."""
    if legal_route not in LEGAL_ROUTE_MODES:
        raise ValueError(f"legal_route must be one of {LEGAL_ROUTE_MODES}, got {legal_route!r}")
    notes: list[str] = []
    quota = int(quota_per_week)
    start = START_DATE + dt.timedelta(days=int(returns_start_day))
    announce = max(START_DATE, start - dt.timedelta(days=ANNOUNCE_LEAD_DAYS))
    mode = legal_route
    if mode == "matched" and quota == 0:
        mode = "off"
        notes.append("a matched legal route admits one person per return; with no quota it is off")
    if mode == "fixed" and int(legal_capacity_per_week) == 0:
        mode = "off"
        notes.append("a fixed legal route with 0 places a week is off")
    overrides = {
        "name": "dashboard",
        "start_date": START_DATE,
        "end_date": END_DATE,
        "returns.quota_per_week": quota,
        "returns.start_date": start,
        "returns.announce_date": announce,
        "legal_route.mode": mode,
        "legal_route.capacity_per_week": int(legal_capacity_per_week),
        "legal_route.start_date": start,
        "patrols.uk_payment_gbp_per_year": float(uk_payment_gbp_m) * 1e6,
        "patrols.at_sea_interception": bool(at_sea_interception),
        "uk.illegal_working_enforcement": float(illegal_working_enforcement),
    }
    return overrides, notes


def dated_timeseries(model: ChannelModel) -> pd.DataFrame:
    """A model's daily time series so far (its DataCollector's table), indexed by date."""
    df = model.datacollector.get_model_vars_dataframe()
    df.index = pd.date_range(model.start_date, periods=len(df), freq="D")
    return df


class DashboardModel(ChannelModel):
    """The Channel model built from the dashboard's inputs (SolaraViz passes them as keywords).

    Also records, for the picture of the coast, each sector's launches and prevented
    launches of the current day (``sector_launches_today``, ``sector_prevented_today``).
    """

    def __init__(self, quota_per_week: int = DEFAULTS["quota_per_week"],
                 returns_start_day: int = DEFAULTS["returns_start_day"],
                 legal_route: str = DEFAULTS["legal_route"],
                 legal_capacity_per_week: int = DEFAULTS["legal_capacity_per_week"],
                 uk_payment_gbp_m: float = DEFAULTS["uk_payment_gbp_m"],
                 at_sea_interception: bool = DEFAULTS["at_sea_interception"],
                 illegal_working_enforcement: float = DEFAULTS["illegal_working_enforcement"],
                 seed: Any = DEFAULTS["seed"]) -> None:
        overrides, notes = dashboard_overrides(quota_per_week, returns_start_day, legal_route,
                                               legal_capacity_per_week, uk_payment_gbp_m, at_sea_interception,
                                               illegal_working_enforcement)
        self.seed_used = parse_seed(seed)
        if not re.fullmatch(_WHOLE_NUMBER, str(seed).strip()):
            notes.append(f"seed {str(seed).strip()!r} is not a whole number: using {self.seed_used}")
        self.dashboard_notes = notes
        self.dashboard_inputs = {
            "quota_per_week": quota_per_week, "returns_start_day": returns_start_day, "legal_route": legal_route,
            "legal_capacity_per_week": legal_capacity_per_week, "uk_payment_gbp_m": uk_payment_gbp_m,
            "at_sea_interception": at_sea_interception, "illegal_working_enforcement": illegal_working_enforcement,
            "seed": seed,
        }
        super().__init__(load_config(BASE_SCENARIO, overrides=overrides), rng=self.seed_used)
        n = len(self.patrols)
        self.sector_launches_today = np.zeros(n, dtype=np.int64)
        self.sector_prevented_today = np.zeros(n, dtype=np.int64)
        self._ts_cache: tuple[int, pd.DataFrame] | None = None

    def launch_and_cross(self) -> None:
        """The day's launches (:meth:`ChannelModel.launch_and_cross`, unchanged), and each sector's
        launches and prevented launches among them, from its patrol's weekly counts (which restart
        only later in the day, in the weekly stage)."""
        before = [(p.launches_seen_week, p.prevented_week) for p in self.patrols]
        super().launch_and_cross()
        for patrol, (seen, prevented) in zip(self.patrols, before, strict=True):
            self.sector_launches_today[patrol.sector] += patrol.launches_seen_week - seen
            self.sector_prevented_today[patrol.sector] += patrol.prevented_week - prevented

    def step(self) -> None:
        self.sector_launches_today[:] = 0
        self.sector_prevented_today[:] = 0
        super().step()

    def timeseries(self) -> pd.DataFrame:
        """The daily time series so far, indexed by date (cached until the next step)."""
        if self._ts_cache is None or self._ts_cache[0] != self.day:
            self._ts_cache = (self.day, dated_timeseries(self))
        return self._ts_cache[1]


#: Each model's latest ``end_state()`` and the day it was computed on, kept by the dashboard
#: (not on the model); an entry goes when its model is garbage-collected.
_END_STATES: weakref.WeakKeyDictionary[ChannelModel, tuple[int, dict[str, Any]]] = weakref.WeakKeyDictionary()


def _end_state_today(model: ChannelModel) -> dict[str, Any]:
    """``model.end_state()`` (the viability sample: a few thousand would-be customers and a
    bisection), computed once per simulated day however often the page redraws."""
    cached = _END_STATES.get(model)
    if cached is None or cached[0] != model.day:
        cached = _END_STATES[model] = (model.day, model.end_state())
    return cached[1]


def verdict_now(model: ChannelModel, ts: pd.DataFrame | None = None) -> dict[str, Any]:
    """The business-model verdict on the days simulated so far: the summary's rule
    (``sim.metrics.judge_run`` for rents and gangs, ``sim.viability`` for viability,
    ``sim.metrics.business_verdict`` to combine them).

    The margin is judged over the last ``verdict.window_weeks`` (26) weeks, or over all the
    days so far while fewer have been simulated (then ``full_window`` is false: the verdict
    is provisional); gangs against those active at the policy start (the initial gangs
    before it). Before the first day there is nothing to judge: the margin is NaN and the
    verdict is not broken. ``ts`` is the model's dated time series (built if not given).
    """
    if ts is None:
        ts = model.timeseries() if isinstance(model, DashboardModel) else dated_timeseries(model)
    v = model.config.verdict
    start = model.config.returns.start_date
    reference = gangs_at_policy_start(ts, start, model.initial_gangs) if not ts.empty else model.initial_gangs
    out: dict[str, Any] = {"window_weeks": v.window_weeks, "initial_gangs": model.initial_gangs,
                           "reference_gangs": reference, "margin_threshold": v.profit_margin_threshold}
    if ts.empty:
        return {**out, "days": 0, "weeks": 0.0, "full_window": False, "revenue_gbp": 0.0, "profit_gbp": 0.0,
                "margin": float("nan"), "active_gangs": sum(1 for g in model.gangs if g.active),
                "gang_floor": gang_floor(v, reference), "margin_broken": False, "gangs_broken": False,
                "not_viable": False, "viable_demand_share": float("nan"), "reasons": "",
                "broken": False, "broken_since": None}
    r = judge_run(ts, v, reference, start)
    eco = _end_state_today(model)
    broken, reasons = business_verdict({"not_viable": not eco["viable"], "no_rents": r.margin_broken,
                                        "gangs_collapsed": r.gangs_broken})
    return {**out, "days": r.days, "weeks": r.days / 7.0, "full_window": r.full_window,
            "revenue_gbp": r.revenue_gbp, "profit_gbp": r.profit_gbp, "margin": r.margin,
            "active_gangs": r.active_gangs, "gang_floor": r.gang_floor, "margin_broken": r.margin_broken,
            "gangs_broken": r.gangs_broken, "not_viable": not eco["viable"],
            "viable_demand_share": eco["viable_demand_share"], "reasons": reasons, "broken": broken,
            "broken_since": None if r.broken_since is None else r.broken_since.date()}

"""Interactive dashboard of the Channel model: Mesa's SolaraViz in the browser.

Run it with::

    solara run sim/app.py            # or: channel-sim app

The policy levers are inputs in the sidebar (the weekly returns quota and its start
date, the legal route, the UK payment to France that funds French patrols, at-sea
interception, enforcement against illegal working, the seed). They apply to the
shipped ``pilot_50`` scenario started on 2025-01-01, so that the effect of a policy
shows within a few simulated months. As everywhere in Mesa's SolaraViz, a changed
input takes effect when **Reset** rebuilds the model; **Step** advances it by the
"Render Interval" (7 days by default) and the play button runs it.

The page shows a picture of the coast (people at the coast by state, bookings, today's
launches and the patrol capacity of each sector), the business-model verdict as it
evolves (``sim/metrics.py``'s definition over the last 26 weeks, or over the weeks
simulated so far) and weekly charts of arrivals and returns, prices, the gangs' profit
and number, people at the coast and people who left the route.

Works with Mesa 3.3 (with ``ipyvuetify<3``) and Mesa 3.5: only the SolaraViz arguments
and input types both share are used.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import zlib
from collections.abc import Callable
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import solara  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# Mesa 3.3's ComponentsView trips solara's rules-of-hooks check (a false alarm, fixed in Mesa 3.5)
warnings.filterwarnings("ignore", message=r"(?s).*ComponentsView: `use_state` found despite early return",
                        category=UserWarning)
from mesa.visualization import SolaraViz  # noqa: E402

from sim.agents.migrant import MigrantState  # noqa: E402
from sim.metrics import verdict_series  # noqa: E402
from sim.model import ChannelModel  # noqa: E402
from sim.params import load_config  # noqa: E402

__all__ = [
    "BASE_SCENARIO",
    "DEFAULTS",
    "DashboardModel",
    "START_DATE",
    "components",
    "dashboard_overrides",
    "make_page",
    "model_params",
    "page",
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

STATE_COLOURS = {"waiting": "#f2a541", "applicants": "#f6d186", "booked": "#c8553d", "returned": "#7b2d26",
                 "en_route": "#bbbbbb"}


def model_params() -> dict[str, dict[str, Any]]:
    """SolaraViz inputs (Mesa's dict form, understood by Mesa 3.3 and 3.5)."""
    d = DEFAULTS
    return {
        "quota_per_week": {"type": "SliderInt", "label": "Returns quota /week", "value": d["quota_per_week"],
                           "min": 0, "max": 1000, "step": 10},
        "returns_start_day": {"type": "SliderInt", "label": "Returns start (days after 1 Jan)",
                              "value": d["returns_start_day"], "min": 0, "max": 364, "step": 1},
        "legal_route": {"type": "Select", "label": "Legal route (matched: one per return)", "value": d["legal_route"],
                        "values": list(LEGAL_ROUTE_MODES)},
        "legal_capacity_per_week": {"type": "SliderInt", "label": "Legal places/week (fixed)",
                                    "value": d["legal_capacity_per_week"], "min": 0, "max": 1000, "step": 10},
        "uk_payment_gbp_m": {"type": "SliderInt", "label": "UK payment (GBP m/yr)",
                             "value": d["uk_payment_gbp_m"], "min": 0, "max": 1000, "step": 10},
        "at_sea_interception": {"type": "Checkbox", "label": "At-sea interception", "value": d["at_sea_interception"]},
        "illegal_working_enforcement": {"type": "SliderFloat", "label": "Illegal-work enforcement",
                                        "value": d["illegal_working_enforcement"], "min": 0.0, "max": 1.0,
                                        "step": 0.05},
        "seed": {"type": "InputText", "label": "Random seed", "value": d["seed"]},
    }


def parse_seed(seed: Any) -> int:
    """A seed from the text input: a whole number >= 0, else a stable number made from the text."""
    text = str(seed).strip()
    if re.fullmatch(r"\d{1,18}", text):
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
        if not re.fullmatch(r"\d{1,18}", str(seed).strip()):
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
        for patrol in self.patrols:
            patrol.prevent = self._recording(patrol, patrol.prevent)
        self._ts_cache: tuple[int, pd.DataFrame] | None = None

    def _recording(self, patrol: Any, prevent: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        """Wrap a patrol's ``prevent`` to count its sector's launches (no change to what it does)."""

        def prevent_and_count(taxi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            prevented = prevent(taxi, rng)
            self.sector_launches_today[patrol.sector] += prevented.size
            self.sector_prevented_today[patrol.sector] += int(prevented.sum())
            return prevented

        return prevent_and_count

    def step(self) -> None:
        self.sector_launches_today[:] = 0
        self.sector_prevented_today[:] = 0
        super().step()

    def timeseries(self) -> pd.DataFrame:
        """The daily time series so far, indexed by date (cached until the next step)."""
        if self._ts_cache is None or self._ts_cache[0] != self.day:
            df = self.datacollector.get_model_vars_dataframe()
            df.index = pd.date_range(self.start_date, periods=len(df), freq="D")
            self._ts_cache = (self.day, df)
        return self._ts_cache[1]


# --------------------------------------------------------------------------- verdict
def _margin(revenue: float, profit: float) -> float:
    if revenue > 0:
        return profit / revenue
    return -1.0 if profit < 0 else 0.0


def verdict_now(model: ChannelModel, ts: pd.DataFrame | None = None) -> dict[str, Any]:
    """The business-model verdict on the days simulated so far (``sim/metrics.py``'s thresholds).

    The margin is judged over the last ``verdict.window_weeks`` (26) weeks, or over all the
    days so far while fewer have been simulated (then the verdict is provisional).
    """
    if ts is None:
        ts = model.timeseries() if isinstance(model, DashboardModel) else model.datacollector.get_model_vars_dataframe()
    v = model.config.verdict
    window_days = 7 * v.window_weeks
    days = min(len(ts), window_days)
    window = ts.iloc[len(ts) - days:]
    revenue = float(window["gang_revenue_gbp"].sum()) if days else 0.0
    profit = float(window["gang_profit_gbp"].sum()) if days else 0.0
    margin = _margin(revenue, profit)
    active = sum(1 for g in model.gangs if g.active)
    gang_floor = v.gang_share_threshold * model.initial_gangs
    broken = bool(days > 0 and (margin <= v.profit_margin_threshold or active <= gang_floor))
    full = len(ts) >= window_days
    broken_since = None
    if full:
        series = verdict_series(ts, v.window_weeks, v.profit_margin_threshold, v.gang_share_threshold,
                                model.initial_gangs)
        broken = bool(series.iloc[-1])
        after = series[series.index >= pd.Timestamp(model.config.returns.start_date)]  # as summarize() does
        if after.any():
            broken_since = pd.Timestamp(after.idxmax()).date()
    return {"days": days, "weeks": days / 7.0, "window_weeks": v.window_weeks, "full_window": full,
            "revenue_gbp": revenue, "profit_gbp": profit, "margin": margin, "active_gangs": active,
            "initial_gangs": model.initial_gangs, "gang_floor": gang_floor,
            "margin_threshold": v.profit_margin_threshold, "broken": broken, "broken_since": broken_since}


# --------------------------------------------------------------------------- components
def _image(model: ChannelModel, draw: Callable[[ChannelModel], Figure]) -> Any:
    """A matplotlib figure as a PNG image, redrawn only when the model or its day changes."""
    deps = [id(model), model.day]
    fig = solara.use_memo(lambda: draw(model), deps)
    return solara.FigureMatplotlib(fig, dependencies=deps, format="png", dpi=90)


def _policy_line(ax: Any, model: ChannelModel) -> None:
    start = pd.Timestamp(model.config.returns.start_date)
    if model.config.returns.quota_per_week != 0 and start <= pd.Timestamp(model.date):
        ax.axvline(start, color="0.4", ls="--", lw=0.8)


def _time_axes(fig: Figure, ax: Any, model: ChannelModel) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax.grid(alpha=0.3)
    _policy_line(ax, model)
    fig.tight_layout()


def _empty(ax: Any) -> None:
    ax.text(0.5, 0.5, "press Step or play", ha="center", va="center", transform=ax.transAxes, color="0.5")
    ax.set_xticks([])
    ax.set_yticks([])


def _series_chart(model: DashboardModel, title: str) -> tuple[Figure, Any, pd.DataFrame | None]:
    """A chart's figure, axes and time series; the series is None (and the axes say so)
    before the first step."""
    fig = Figure(figsize=(6.4, 3.4))
    ax = fig.subplots()
    ax.set_title(title, fontsize=10)
    ts = model.timeseries()
    if ts.empty:
        _empty(ax)
        return fig, ax, None
    return fig, ax, ts


def _week(ts: pd.DataFrame, col: str) -> pd.Series:
    return ts[col].rolling(7, min_periods=1).sum()


def draw_arrivals(model: DashboardModel) -> Figure:
    fig, ax, ts = _series_chart(model, "Arrivals and returns (people in the past 7 days)")
    if ts is None:
        return fig
    ax.plot(ts.index, _week(ts, "arrivals_uk"), color="#1f77b4", label="arrivals in the UK")
    ax.plot(ts.index, _week(ts, "returns"), color="#d62728", label="returns to France")
    ax.plot(ts.index, _week(ts, "legal_admissions"), color="#2ca02c", label="legal route admissions")
    ax.step(ts.index, ts["returns_quota_per_week"], where="post", color="#d62728", ls=":", lw=1,
            label="returns quota")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="best", framealpha=0.7)
    _time_axes(fig, ax, model)
    return fig


def draw_price(model: DashboardModel) -> Figure:
    fig, ax, ts = _series_chart(model, "Mean price per seat (GBP)")
    if ts is None:
        return fig
    ax.plot(ts.index, ts["mean_price_gbp"], color="#9467bd")
    lo, hi = model.config.gangs.price_min_gbp, model.config.gangs.price_max_gbp
    ax.set_ylim(lo * 0.9, hi * 1.05)
    _time_axes(fig, ax, model)
    return fig


def draw_gangs(model: DashboardModel) -> Figure:
    fig, ax, ts = _series_chart(model, "Gangs: profit (GBP m, past 7 days) and active gangs")
    if ts is None:
        return fig
    profit = _week(ts, "gang_profit_gbp") / 1e6
    ax.plot(ts.index, profit, color="#8c564b", label="profit, all gangs")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_ylabel("GBP million", fontsize=8)
    ax2 = ax.twinx()
    ax2.step(ts.index, ts["active_gangs"], where="post", color="#17becf", label="active gangs")
    ax2.set_ylim(0, max(float(ts["active_gangs"].max()), model.initial_gangs) * 1.2)
    ax2.set_ylabel("active gangs", fontsize=8)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    lines = ax.get_lines()[:1] + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=7, loc="upper left")
    _time_axes(fig, ax, model)
    return fig


def draw_coast_series(model: DashboardModel) -> Figure:
    fig, ax, ts = _series_chart(model, "At the French coast, and who left the route")
    if ts is None:
        return fig
    ax.plot(ts.index, ts["waiting_at_coast"], color="#ff7f0e", label="at the coast (waiting, booked, returned)")
    ax.plot(ts.index, _week(ts, "left_route"), color="#7f7f7f", label="left the route (past 7 days)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left")
    _time_axes(fig, ax, model)
    return fig


def draw_coast(model: DashboardModel) -> Figure:
    """The coast, sector by sector from the Somme (south-west) to Dunkirk (north-east)."""
    cfg = model.config
    names = list(cfg.patrols.sectors)
    n = len(names)
    order = list(range(n))[::-1]           # configured north-east first: draw west -> east
    ppa = model.people_per_agent
    pop = model.pop
    booked = pop.where(MigrantState.BOOKED)
    gang_sector = np.array([g.sector for g in model.gangs], dtype=np.int64)
    booked_by_sector = np.bincount(gang_sector[pop.gang[booked]], minlength=n) * ppa if booked.size else np.zeros(n)
    gangs_by_sector = np.bincount([g.sector for g in model.gangs if g.active], minlength=n)
    patrol_units = np.array([p.capacity_units for p in model.patrols])
    launches = getattr(model, "sector_launches_today", np.zeros(n, dtype=np.int64))
    prevented = getattr(model, "sector_prevented_today", np.zeros(n, dtype=np.int64))
    x = np.arange(n)

    fig = Figure(figsize=(6.6, 4.7))
    outer = fig.add_gridspec(2, 1, height_ratios=[3.3, 0.7], hspace=0.32)
    inner = outer[0].subgridspec(2, 1, height_ratios=[1.2, 2.0], hspace=0.0)
    sea, land, bar = fig.add_subplot(inner[0]), fig.add_subplot(inner[1]), fig.add_subplot(outer[1])
    day = model.day - 1
    date = model.start_date + dt.timedelta(days=max(day, 0))

    # sea: today's launches per sector
    sea.set_facecolor("#dcebf7")
    crossed = (launches - prevented)[order]
    stopped = prevented[order]
    sea.bar(x, crossed, color="#1f4e79", width=0.55, label="afloat")
    sea.bar(x, stopped, bottom=crossed, color="#d62728", width=0.55, label="prevented")
    for xi, c, s in zip(x, crossed, stopped, strict=True):
        if c + s:
            sea.text(xi, c + s, f"{c + s}", ha="center", va="bottom", fontsize=8)
    top = max(4, int((launches).max()) + 2)
    sea.set_ylim(0, top)
    sea.set_xlim(-0.6, n - 0.4)
    sea.set_xticks([])
    sea.set_ylabel("boats", fontsize=8)
    sea.yaxis.set_major_locator(MaxNLocator(integer=True, prune="lower", nbins=4))
    if model.day == 0:
        head = "not started: press Step"
    elif not model.weather.crossable:
        head = f"{date:%d %b %Y}: sea not crossable, no launches"
    else:
        nb = int(launches.sum())
        head = (f"{date:%d %b %Y}: {nb} boat{'' if nb == 1 else 's'} launched, {int(prevented.sum())} prevented, "
                f"{int(model.today['arrivals_uk']):,} people arrived")
    sea.set_title(f"The coast — {head}", fontsize=9)
    sea.text(0.01, 0.93, "Channel / England →", transform=sea.transAxes, fontsize=7, color="#1f4e79",
             va="top")
    sea.legend(fontsize=7, loc="upper right", ncol=2, frameon=False)

    # land: booked people per sector (gangs' launch beaches) and patrol capacity
    land.set_facecolor("#f5ecd7")
    w = 0.38
    land.bar(x - w / 2, booked_by_sector[order], width=w, color=STATE_COLOURS["booked"], label="people booked here")
    for xi, b in zip(x, booked_by_sector[order], strict=True):
        land.text(xi - w / 2, b, f"{int(b):,}", ha="center", va="bottom", fontsize=7)
    land.set_ylim(0, max(50, float(booked_by_sector.max()) * 1.3))
    land.set_ylabel("people booked", fontsize=8)
    land.yaxis.set_major_locator(MaxNLocator(integer=True, prune="upper", nbins=5))
    pat = land.twinx()
    pat.bar(x + w / 2, patrol_units[order], width=w, color="#2ca02c", alpha=0.8, label="patrol units")
    for xi, u in zip(x, patrol_units[order], strict=True):
        pat.text(xi + w / 2, u, f"{u:.0f}", ha="center", va="bottom", fontsize=7)
    pat.set_ylim(0, max(10.0, float(patrol_units.max()) * 1.3))
    pat.set_ylabel("patrol units", fontsize=8)
    land.set_xlim(-0.6, n - 0.4)
    land.set_xticks(x)
    land.set_xticklabels([f"{names[i].replace('_', ' ').title()}\n{gangs_by_sector[i]} gang"
                          f"{'' if gangs_by_sector[i] == 1 else 's'}" for i in order],
                         fontsize=8)
    handles = [*land.containers[:1], *pat.containers[:1]]
    land.legend(handles, ["people booked (by gangs' sector)", "patrol capacity (units)"], fontsize=7,
                loc="upper left", frameon=False)
    land.tick_params(axis="x", length=0, pad=2)

    # everyone at the coast, by state
    counts = model.counts
    applicants = model.n_applicants * ppa
    waiting = int(counts[MigrantState.WAITING]) * ppa
    parts = [("waiting, no seat", waiting - applicants, STATE_COLOURS["waiting"]),
             ("applying to legal route", applicants, STATE_COLOURS["applicants"]),
             ("booked", int(counts[MigrantState.BOOKED]) * ppa, STATE_COLOURS["booked"]),
             ("returned from UK", int(counts[MigrantState.RETURNED]) * ppa, STATE_COLOURS["returned"])]
    total = sum(p[1] for p in parts)
    left = 0.0
    for label, value, colour in parts:
        bar.barh(0, value, left=left, color=colour, height=0.8, label=f"{label} ({value:,})")
        if total and value / total > 0.07:
            bar.text(left + value / 2, 0, f"{value:,}", ha="center", va="center", fontsize=7,
                     color="white" if colour in (STATE_COLOURS["booked"], STATE_COLOURS["returned"]) else "black")
        left += value
    bar.set_xlim(0, max(total, 1))
    bar.set_yticks([])
    bar.set_xticks([])
    en_route = int(counts[MigrantState.EN_ROUTE]) * ppa
    bar.set_title(f"Everyone at the coast: {total:,} people ({en_route:,} more on the way)", fontsize=8,
                  loc="left", pad=2)
    bar.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=4, frameon=False,
               handlelength=1.0, columnspacing=1.0)
    fig.subplots_adjust(left=0.08, right=0.92, top=0.94, bottom=0.08)
    return fig


def CoastPicture(model: DashboardModel) -> Any:  # noqa: N802 - a Solara component
    return _image(model, draw_coast)


def ArrivalsChart(model: DashboardModel) -> Any:  # noqa: N802
    return _image(model, draw_arrivals)


def PriceChart(model: DashboardModel) -> Any:  # noqa: N802
    return _image(model, draw_price)


def GangsChart(model: DashboardModel) -> Any:  # noqa: N802
    return _image(model, draw_gangs)


def CoastSeriesChart(model: DashboardModel) -> Any:  # noqa: N802
    return _image(model, draw_coast_series)


def status_html(model: DashboardModel) -> str:
    """The day, the policy in force and the business-model verdict, as HTML.

    (Plain HTML rather than ``solara.Markdown``, which fetches a maths renderer from a
    CDN when shown: the dashboard must work offline.)
    """
    cfg = model.config
    r, lr, pp = cfg.returns, cfg.legal_route, cfg.patrols
    ts = model.timeseries()
    last = model.start_date + dt.timedelta(days=max(model.day - 1, 0))
    quota = "every eligible arrival" if r.quota_per_week == "all" else f"{r.quota_per_week:,}/week"
    legal = {"off": "off", "matched": f"one admission per return (x{lr.ratio:g})",
             "fixed": f"{lr.capacity_per_week:,} places/week"}[lr.mode]
    day = f"Day {model.day} — {last:%d %b %Y}" if model.day else "Day 0 — not started"
    parts = [
        f'<h3 id="cs-day" style="margin:0 0 6px 0">{escape(day)}</h3>',
        f'<p id="cs-policy" style="margin:0 0 6px 0"><b>In force</b> (seed {model.seed_used}): returns quota '
        f"<b>{escape(quota)}</b> from {r.start_date:%d %b %Y} (announced {r.announce_date:%d %b %Y}); "
        f"legal route {escape(legal)}; UK payment GBP {pp.uk_payment_gbp_per_year / 1e6:,.0f}m/year = "
        f"<b>{model.patrol_capacity_units:.0f} patrol units</b>; at-sea interception "
        f"{'on' if pp.at_sea_interception else 'off'}; illegal-working enforcement "
        f"{cfg.uk.illegal_working_enforcement:.2f}.</p>",
    ]
    parts += [f'<p style="margin:0 0 6px 0"><i>Note: {escape(n)}.</i></p>' for n in getattr(model, "dashboard_notes", [])]
    if model.day == 0:
        parts.append('<p id="cs-verdict" style="margin:0">Changed inputs take effect on <b>Reset</b>; '
                     "<b>Step</b> advances by the render interval (days).</p>")
        return "\n".join(parts)
    since = ts.index >= pd.Timestamp(r.start_date)
    arrivals, returns = float(ts["arrivals_uk"].sum()), float(ts["returns"].sum())
    arr_policy = float(ts.loc[since, "arrivals_uk"].sum())
    per_return = (f"{arr_policy / returns:,.1f} arrivals per return since returns began" if returns
                  else "no return yet")
    parts.append(
        f'<p id="cs-totals" style="margin:0 0 6px 0">So far: <b>{arrivals:,.0f}</b> arrivals in the UK, '
        f"<b>{returns:,.0f}</b> returns ({per_return}), "
        f"{float(ts['legal_admissions'].sum()):,.0f} legal admissions, "
        f"{float(ts['deaths'].sum()):,.0f} deaths at sea, {float(ts['left_route'].sum()):,.0f} left the route.</p>")
    v = verdict_now(model, ts)
    span = (f"last {v['window_weeks']} weeks" if v["full_window"]
            else f"{v['weeks']:.1f} weeks so far, of the {v['window_weeks']} the verdict needs")
    verdict = "BROKEN" if v["broken"] else "NOT BROKEN"
    colour = "#2e7d32" if v["broken"] else "#c62828"
    provisional = "" if v["full_window"] else " (provisional)"
    since_txt = f", broken since {v['broken_since']:%d %b %Y}" if v["broken_since"] else ""
    parts.append(
        '<div id="cs-verdict"><b>Smugglers\' business model</b><ul style="margin:2px 0 0 0">'
        f"<li>market profit margin ({escape(span)}): <b>{v['margin']:.1%}</b> "
        f"(broken at or below {v['margin_threshold']:.0%})</li>"
        f"<li>active gangs: <b>{v['active_gangs']}</b> of {v['initial_gangs']} at the start "
        f"(broken at {v['gang_floor']:.0f} or fewer)</li></ul>"
        f'<p style="margin:4px 0 0 0">Verdict{provisional}: <span style="color:white;background:{colour};'
        f'padding:2px 8px;border-radius:4px;font-weight:bold">business model {verdict}</span>{since_txt}</p></div>')
    return "\n".join(parts)


def StatusPanel(model: DashboardModel) -> Any:  # noqa: N802
    deps = [id(model), model.day]
    html = solara.use_memo(lambda: status_html(model), deps)
    with solara.Card("Policy and verdict", margin=0) as card:
        solara.HTML(tag="div", unsafe_innerHTML=html, style="font-size: 14px; line-height: 1.4")
    return card


#: (component, page): the page's panels in order (SolaraViz lays them out two per row).
components: list[tuple[Callable[[Any], Any], int]] = [
    (CoastPicture, 0),
    (StatusPanel, 0),
    (ArrivalsChart, 0),
    (PriceChart, 0),
    (GangsChart, 0),
    (CoastSeriesChart, 0),
]


def make_page(model: ChannelModel | solara.Reactive | None = None) -> Any:
    """The SolaraViz element; ``model`` may be a (reactive) model, else one with the default inputs."""
    if model is None:
        model = DashboardModel(**DEFAULTS)
    return SolaraViz(
        model,
        components=list(components),
        model_params=model_params(),
        name="channel-sim: the Channel small-boat market",
        play_interval=150,
        render_interval=7,
    )


#: What ``solara run sim/app.py`` serves.
page = make_page()

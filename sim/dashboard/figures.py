"""The dashboard's pictures: matplotlib figures of a running ``DashboardModel``.

``draw_coast`` is the picture of the coast (today's launches at sea, people booked and
patrol capacity on land, sector by sector, and everyone at the coast by state); the other
``draw_*`` functions are weekly charts of the time series so far. Every function takes the
model and returns a new ``Figure`` (no pyplot state), so the page can redraw it on any day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.agents.migrant import MigrantState
from sim.dashboard.model import DashboardModel
from sim.metrics import aggregation_of

__all__ = [
    "STATE_COLOURS",
    "CoastView",
    "coast_view",
    "draw_arrivals",
    "draw_coast",
    "draw_coast_series",
    "draw_gangs",
    "draw_price",
    "past_week",
]

STATE_COLOURS = {"waiting": "#f2a541", "applicants": "#f6d186", "booked": "#c8553d", "returned": "#7b2d26",
                 "en_route": "#bbbbbb"}
_DARK_STATES = (STATE_COLOURS["booked"], STATE_COLOURS["returned"])  # white labels on these


# --------------------------------------------------------------------------- time-series charts
def past_week(ts: pd.DataFrame, column: str) -> pd.Series:
    """Each day, ``column`` over the past 7 days (fewer at the start), aggregated as
    ``sim.metrics.aggregation_of`` says: flows summed, levels averaged, stocks as of the day."""
    how = aggregation_of(column)
    if how == "last":
        return ts[column]
    return getattr(ts[column].rolling(7, min_periods=1), how)()


def _policy_line(ax: Any, model: DashboardModel) -> None:
    """The policy start (dashed) and the scenario's timeline changes so far (thin lines)."""
    start = pd.Timestamp(model.given.returns.start_date)
    if model.authority.has_policy and start <= pd.Timestamp(model.date):
        ax.axvline(start, color="0.4", ls="--", lw=0.8)
    for e in model.given.timeline:
        if pd.Timestamp(e.date) <= pd.Timestamp(model.date):
            ax.axvline(pd.Timestamp(e.date), color="0.6", lw=0.6, alpha=0.7)


def _time_axes(fig: Figure, ax: Any, model: DashboardModel) -> None:
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


def draw_arrivals(model: DashboardModel) -> Figure:
    """Arrivals, returns and legal admissions over the past 7 days, and the quota in force."""
    fig, ax, ts = _series_chart(model, "Arrivals and returns (people in the past 7 days)")
    if ts is None:
        return fig
    ax.plot(ts.index, past_week(ts, "arrivals_uk"), color="#1f77b4", label="arrivals in the UK")
    ax.plot(ts.index, past_week(ts, "returns"), color="#d62728", label="returns to France")
    ax.plot(ts.index, past_week(ts, "legal_admissions"), color="#2ca02c", label="legal route admissions")
    ax.step(ts.index, ts["returns_quota_per_week"], where="post", color="#d62728", ls=":", lw=1,
            label="returns quota")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="best", framealpha=0.7)
    _time_axes(fig, ax, model)
    return fig


def draw_price(model: DashboardModel) -> Figure:
    """The mean price per seat each day (from 0: a fall in price shows as it is)."""
    fig, ax, ts = _series_chart(model, "Mean price per seat (GBP)")
    if ts is None:
        return fig
    ax.plot(ts.index, ts["mean_price_gbp"], color="#9467bd")
    top = float(np.nanmax(ts["mean_price_gbp"].to_numpy())) if ts["mean_price_gbp"].notna().any() else 1.0
    ax.set_ylim(0, top * 1.15)
    _time_axes(fig, ax, model)
    return fig


def draw_gangs(model: DashboardModel) -> Figure:
    """The gangs' profit over the past 7 days (GBP million) and the number of active gangs."""
    fig, ax, ts = _series_chart(model, "Gangs: profit (GBP m, past 7 days) and active gangs")
    if ts is None:
        return fig
    profit = past_week(ts, "gang_profit_gbp") / 1e6
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
    """People at the French coast each day, and people who left the route in the past 7 days."""
    fig, ax, ts = _series_chart(model, "At the French coast, and who left the route")
    if ts is None:
        return fig
    ax.plot(ts.index, ts["waiting_at_coast"], color="#ff7f0e", label="at the coast (waiting, booked, returned)")
    ax.plot(ts.index, past_week(ts, "left_route"), color="#7f7f7f", label="left the route (past 7 days)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left")
    _time_axes(fig, ax, model)
    return fig


# --------------------------------------------------------------------------- the picture of the coast
@dataclass(frozen=True)
class CoastView:
    """What the picture of the coast shows, one entry per sector in drawing order: west to
    east, the reverse of ``patrols.sectors`` (configured north-east first)."""

    names: list[str]
    booked: np.ndarray        # people booked with the gangs of each sector
    gangs: np.ndarray         # active gangs based in each sector
    patrol_units: np.ndarray  # patrol capacity of each sector (units)
    launches: np.ndarray      # boats launched today from each sector
    prevented: np.ndarray     # of which prevented


def coast_view(model: DashboardModel) -> CoastView:
    """Each sector's people booked, active gangs, patrol capacity and today's launches."""
    n = len(model.config.patrols.sectors)
    order = list(range(n))[::-1]
    booked = model.pop.where(MigrantState.BOOKED)
    gang_sector = np.array([g.sector for g in model.gangs], dtype=np.int64)
    booked_by_sector = (np.bincount(gang_sector[model.pop.gang[booked]], minlength=n) * model.people_per_agent
                        if booked.size else np.zeros(n))
    gangs_by_sector = np.bincount([g.sector for g in model.gangs if g.active], minlength=n)
    patrol_units = np.array([p.capacity_units for p in model.patrols])
    launches = getattr(model, "sector_launches_today", np.zeros(n, dtype=np.int64))
    prevented = getattr(model, "sector_prevented_today", np.zeros(n, dtype=np.int64))
    return CoastView(names=[model.config.patrols.sectors[i] for i in order], booked=booked_by_sector[order],
                     gangs=gangs_by_sector[order], patrol_units=patrol_units[order], launches=launches[order],
                     prevented=prevented[order])


def _sea_headline(model: DashboardModel, view: CoastView) -> str:
    """The picture's title: the day and what happened at sea."""
    if model.day == 0:
        return "not started: press Step"
    date = model.start_date + dt.timedelta(days=model.day - 1)
    if not model.weather.crossable:
        return f"{date:%d %b %Y}: sea not crossable, no launches"
    nb = int(view.launches.sum())
    return (f"{date:%d %b %Y}: {nb} boat{'' if nb == 1 else 's'} launched, {int(view.prevented.sum())} prevented, "
            f"{int(model.today['arrivals_uk']):,} people arrived")


def _draw_sea(sea: Any, model: DashboardModel, view: CoastView) -> None:
    """Today's launches per sector: afloat and prevented, stacked."""
    x = np.arange(len(view.names))
    crossed, stopped = view.launches - view.prevented, view.prevented
    sea.set_facecolor("#dcebf7")
    sea.bar(x, crossed, color="#1f4e79", width=0.55, label="afloat")
    sea.bar(x, stopped, bottom=crossed, color="#d62728", width=0.55, label="prevented")
    for xi, c, s in zip(x, crossed, stopped, strict=True):
        if c + s:
            sea.text(xi, c + s, f"{c + s}", ha="center", va="bottom", fontsize=8)
    sea.set_ylim(0, max(4, int(view.launches.max()) + 2))
    sea.set_xlim(-0.6, len(x) - 0.4)
    sea.set_xticks([])
    sea.set_ylabel("boats", fontsize=8)
    sea.yaxis.set_major_locator(MaxNLocator(integer=True, prune="lower", nbins=4))
    sea.set_title(f"The coast — {_sea_headline(model, view)}", fontsize=9)
    sea.text(0.01, 0.93, "Channel / England →", transform=sea.transAxes, fontsize=7, color="#1f4e79", va="top")
    sea.legend(fontsize=7, loc="upper right", ncol=2, frameon=False)


def _sector_label(name: str, gangs: int) -> str:
    return f"{name.replace('_', ' ').title()}\n{gangs} gang{'' if gangs == 1 else 's'}"


def _draw_land(land: Any, view: CoastView) -> None:
    """People booked (by their gang's sector) and patrol capacity, side by side per sector."""
    x, w = np.arange(len(view.names)), 0.38
    land.set_facecolor("#f5ecd7")
    land.bar(x - w / 2, view.booked, width=w, color=STATE_COLOURS["booked"], label="people booked here")
    for xi, b in zip(x, view.booked, strict=True):
        land.text(xi - w / 2, b, f"{int(b):,}", ha="center", va="bottom", fontsize=7)
    land.set_ylim(0, max(50, float(view.booked.max()) * 1.3))
    land.set_ylabel("people booked", fontsize=8)
    land.yaxis.set_major_locator(MaxNLocator(integer=True, prune="upper", nbins=5))
    pat = land.twinx()
    pat.bar(x + w / 2, view.patrol_units, width=w, color="#2ca02c", alpha=0.8, label="patrol units")
    for xi, u in zip(x, view.patrol_units, strict=True):
        pat.text(xi + w / 2, u, f"{u:.0f}", ha="center", va="bottom", fontsize=7)
    pat.set_ylim(0, max(10.0, float(view.patrol_units.max()) * 1.3))
    pat.set_ylabel("patrol units", fontsize=8)
    land.set_xlim(-0.6, len(x) - 0.4)
    land.set_xticks(x)
    land.set_xticklabels([_sector_label(n, g) for n, g in zip(view.names, view.gangs, strict=True)], fontsize=8)
    handles = [*land.containers[:1], *pat.containers[:1]]
    land.legend(handles, ["people booked (by gangs' sector)", "patrol capacity (units)"], fontsize=7,
                loc="upper left", frameon=False)
    land.tick_params(axis="x", length=0, pad=2)


def _people_at_coast(model: DashboardModel) -> list[tuple[str, int, str]]:
    """(label, people, colour) of everyone at the coast, by state."""
    counts, ppa = model.counts, model.people_per_agent
    applicants = model.n_applicants * ppa
    waiting = int(counts[MigrantState.WAITING]) * ppa
    return [("waiting, no seat", waiting - applicants, STATE_COLOURS["waiting"]),
            ("applying to legal route", applicants, STATE_COLOURS["applicants"]),
            ("booked", int(counts[MigrantState.BOOKED]) * ppa, STATE_COLOURS["booked"]),
            ("returned from UK", int(counts[MigrantState.RETURNED]) * ppa, STATE_COLOURS["returned"])]


def _draw_people_bar(bar: Any, model: DashboardModel) -> None:
    """One stacked bar of everyone at the coast, by state, with the number on the way."""
    parts = _people_at_coast(model)
    total = sum(p[1] for p in parts)
    left = 0.0
    for label, value, colour in parts:
        bar.barh(0, value, left=left, color=colour, height=0.8, label=f"{label} ({value:,})")
        if total and value / total > 0.07:
            bar.text(left + value / 2, 0, f"{value:,}", ha="center", va="center", fontsize=7,
                     color="white" if colour in _DARK_STATES else "black")
        left += value
    bar.set_xlim(0, max(total, 1))
    bar.set_yticks([])
    bar.set_xticks([])
    en_route = int(model.counts[MigrantState.EN_ROUTE]) * model.people_per_agent
    bar.set_title(f"Everyone at the coast: {total:,} people ({en_route:,} more on the way)", fontsize=8,
                  loc="left", pad=2)
    bar.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=4, frameon=False,
               handlelength=1.0, columnspacing=1.0)


def draw_coast(model: DashboardModel) -> Figure:
    """The coast, sector by sector from the Somme (south-west) to Dunkirk (north-east).

    Axes, in ``fig.axes`` order: the sea (today's launches), the land (people booked), the
    bar of everyone at the coast, and the land's twin axis (patrol capacity).
    """
    view = coast_view(model)
    fig = Figure(figsize=(6.6, 4.7))
    outer = fig.add_gridspec(2, 1, height_ratios=[3.3, 0.7], hspace=0.32)
    inner = outer[0].subgridspec(2, 1, height_ratios=[1.2, 2.0], hspace=0.0)
    sea, land, bar = fig.add_subplot(inner[0]), fig.add_subplot(inner[1]), fig.add_subplot(outer[1])
    _draw_sea(sea, model, view)
    _draw_land(land, view)
    _draw_people_bar(bar, model)
    fig.subplots_adjust(left=0.08, right=0.92, top=0.94, bottom=0.08)
    return fig

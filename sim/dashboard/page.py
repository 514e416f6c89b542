"""The dashboard's page: Solara components around Mesa's SolaraViz.

Each picture of ``sim.dashboard.figures`` is a component redrawn when the model or its
day changes; ``StatusPanel`` shows the day, the policy in force and the verdict
(``status_html``); ``make_page`` puts them in a SolaraViz with the inputs of
``sim.dashboard.model.model_params``.

Works with Mesa 3.3 (with ``ipyvuetify<3``) and Mesa 3.5: only the SolaraViz arguments
and input types both share are used.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import pandas as pd  # noqa: E402
import solara  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Mesa 3.3's ComponentsView trips solara's rules-of-hooks check (a false alarm, fixed in Mesa 3.5)
warnings.filterwarnings("ignore", message=r"(?s).*ComponentsView: `use_state` found despite early return",
                        category=UserWarning)
from mesa.visualization import SolaraViz  # noqa: E402

from sim.dashboard.figures import (  # noqa: E402
    draw_arrivals,
    draw_coast,
    draw_coast_series,
    draw_gangs,
    draw_price,
)
from sim.dashboard.model import DEFAULTS, DashboardModel, model_params, verdict_now  # noqa: E402
from sim.model import ChannelModel  # noqa: E402

__all__ = [
    "ArrivalsChart",
    "CoastPicture",
    "CoastSeriesChart",
    "GangsChart",
    "PriceChart",
    "StatusPanel",
    "components",
    "make_page",
    "status_html",
]


def _image(model: DashboardModel, draw: Callable[[DashboardModel], Figure]) -> Any:
    """A matplotlib figure as a PNG image, redrawn only when the model or its day changes."""
    deps = [id(model), model.day]
    fig = solara.use_memo(lambda: draw(model), deps)
    return solara.FigureMatplotlib(fig, dependencies=deps, format="png", dpi=90)


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


def _policy_html(model: DashboardModel) -> list[str]:
    """The day, the policy in force and any notes on adjusted inputs."""
    cfg = model.config
    r, lr, pp = cfg.returns, cfg.legal_route, cfg.patrols
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
    return parts


def _totals_html(model: DashboardModel, ts: pd.DataFrame) -> str:
    """Arrivals, returns, legal admissions, deaths and departures so far."""
    since = ts.index >= pd.Timestamp(model.config.returns.start_date)
    arrivals, returns = float(ts["arrivals_uk"].sum()), float(ts["returns"].sum())
    arr_policy = float(ts.loc[since, "arrivals_uk"].sum())
    per_return = (f"{arr_policy / returns:,.1f} arrivals per return since returns began" if returns
                  else "no return yet")
    return (f'<p id="cs-totals" style="margin:0 0 6px 0">So far: <b>{arrivals:,.0f}</b> arrivals in the UK, '
            f"<b>{returns:,.0f}</b> returns ({per_return}), "
            f"{float(ts['legal_admissions'].sum()):,.0f} legal admissions, "
            f"{float(ts['deaths'].sum()):,.0f} deaths at sea, {float(ts['left_route'].sum()):,.0f} left the route.</p>")


def _verdict_html(v: dict[str, Any]) -> str:
    """The verdict of ``verdict_now``: both criteria (marking the ones that hold) and the badge."""
    span = (f"last {v['window_weeks']} weeks" if v["full_window"]
            else f"{v['weeks']:.1f} weeks so far, of the {v['window_weeks']} the verdict needs")
    verdict = "BROKEN" if v["broken"] else "NOT BROKEN"
    colour = "#2e7d32" if v["broken"] else "#c62828"
    provisional = "" if v["full_window"] else " (provisional)"
    since_txt = f", broken since {v['broken_since']:%d %b %Y}" if v["broken_since"] else ""
    holds = {True: " — <b>holds</b>", False: ""}
    return ('<div id="cs-verdict"><b>Smugglers\' business model</b><ul style="margin:2px 0 0 0">'
            f"<li>market profit margin ({escape(span)}): <b>{v['margin']:.1%}</b> "
            f"(broken at or below {v['margin_threshold']:.0%}){holds[v['margin_broken']]}</li>"
            f"<li>active gangs: <b>{v['active_gangs']}</b> of {v['reference_gangs']} at the policy start "
            f"(broken at {v['gang_floor']:.0f} or fewer){holds[v['gangs_broken']]}</li>"
            f"<li>would-be customers willing to pay the lowest cost of a seat: "
            f"<b>{v['viable_demand_share']:.0%}</b> (broken when they no longer fill boats at minimum scale)"
            f"{holds[v['not_viable']]}</li></ul>"
            f'<p style="margin:4px 0 0 0">Verdict{provisional}: <span style="color:white;background:{colour};'
            f'padding:2px 8px;border-radius:4px;font-weight:bold">business model {verdict}</span>{since_txt}</p></div>')


def status_html(model: DashboardModel) -> str:
    """The day, the policy in force and the business-model verdict, as HTML.

    (Plain HTML rather than ``solara.Markdown``, which fetches a maths renderer from a
    CDN when shown: the dashboard must work offline.)
    """
    parts = _policy_html(model)
    if model.day == 0:
        parts.append('<p id="cs-verdict" style="margin:0">Changed inputs take effect on <b>Reset</b>; '
                     "<b>Step</b> advances by the render interval (days).</p>")
        return "\n".join(parts)
    ts = model.timeseries()
    parts.append(_totals_html(model, ts))
    parts.append(_verdict_html(verdict_now(model, ts)))
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

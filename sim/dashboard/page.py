"""The dashboard's page: Solara components around Mesa's SolaraViz.

Each picture of ``sim.dashboard.figures`` is a component redrawn when the model or its
day changes; ``StatusPanel`` shows the day, the policy in force and the verdict
(``status_html``); ``make_page`` puts them on the page (``DashboardPage``): Mesa's
SolaraViz for the sidebar (play, step, reset and the inputs of
``sim.dashboard.model.model_params``, each labelled with its unit) and the panels in one
tab named ``TAB_NAME`` (SolaraViz would call it "Page 0"). Every slider shows its value on
its thumb at all times (``SLIDER_VALUE_CSS``), not only while it is dragged.

Works with Mesa 3.3 (with ``ipyvuetify<3``) and Mesa 3.5: only the SolaraViz arguments
and input types both share are used; if ``mesa.visualization.utils.update_counter`` (what
redraws the panels after a step) is missing, the panels go back into SolaraViz's own view.
"""

from __future__ import annotations

import datetime as dt
import functools
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

try:  # Mesa's step counter: SolaraViz increments it after every step, and its panels read it to redraw
    from mesa.visualization.utils import update_counter
except ImportError:  # pragma: no cover - not in this Mesa: SolaraViz's own view (tab "Page 0")
    update_counter = None

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
    "SLIDER_VALUE_CSS",
    "TAB_NAME",
    "ArrivalsChart",
    "CoastPicture",
    "CoastSeriesChart",
    "DashboardPage",
    "GangsChart",
    "Panels",
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


#: The name of the tab that holds the panels.
TAB_NAME = "Policy and market"
#: Page title (the app bar).
PAGE_NAME = "channel-sim: the Channel small-boat market"
#: Milliseconds between steps when playing: on the grid of SolaraViz's slider (1 to 500 by 10),
#: so that the slider shows what is used.
PLAY_INTERVAL_MS = 151
#: Days per Step press (and per redraw when playing); on the grid of SolaraViz's slider (1 by 2).
RENDER_INTERVAL_DAYS = 7
#: Vuetify 2 shows a slider's value (its thumb label) only while it is dragged or focused;
#: this shows it always, and puts each slider's label (with its unit) on a line of its own
#: above a full-width track, with room for the value between them.
SLIDER_VALUE_CSS = """
.v-slider__thumb-label-container { display: block !important; }
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label { flex: 1 0 100%; margin: 0 0 34px 0; }
"""


def _grid_layout(n: int) -> list[dict[str, Any]]:
    """Two panels per row, as SolaraViz lays them out."""
    return [{"i": i, "w": 6, "h": 10, "moved": False, "x": 6 * (i % 2), "y": 10 * (i // 2)} for i in range(n)]


@functools.cache
def _redrawn(component: Callable[[Any], Any]) -> Any:
    """``component`` as a Solara component that renders again after every step of the model."""

    @solara.component
    def Redrawn(model: DashboardModel) -> Any:  # noqa: N802
        update_counter.get()
        return component(model)

    return Redrawn


@solara.component
def Panels(model: DashboardModel) -> Any:  # noqa: N802
    """The panels of ``components`` in one named tab, in a grid the reader may rearrange."""
    panels = [c for c, _ in components]
    layout, set_layout = solara.use_state(_grid_layout(len(panels)))
    with solara.Column(style={"width": "100%"}) as main:
        with solara.v.Tabs(v_model=0):
            solara.v.Tab(children=[TAB_NAME])
        with solara.v.TabsItems(v_model=0):
            with solara.v.TabItem():
                solara.GridDraggable(items=[_redrawn(c)(model) for c in panels], grid_layout=layout,
                                     resizable=True, draggable=True, on_grid_layout=set_layout)
    return main


@solara.component
def DashboardPage(model: ChannelModel | solara.Reactive | None = None) -> Any:  # noqa: N802
    """The whole page: SolaraViz's sidebar (controls and inputs) and the named tab of panels.

    Without a ``model``, each browser session builds its own with the default inputs.
    """
    initial = solara.use_memo(lambda: model if model is not None else DashboardModel(**DEFAULTS), [])
    reactive_model = solara.use_reactive(initial)
    solara.Style(SLIDER_VALUE_CSS)
    viz = {"model_params": model_params(), "name": PAGE_NAME, "play_interval": PLAY_INTERVAL_MS,
           "render_interval": RENDER_INTERVAL_DAYS}
    if update_counter is None:  # pragma: no cover - see the module docstring
        SolaraViz(reactive_model, components=list(components), **viz)
        return
    SolaraViz(reactive_model, components=[], **viz)
    Panels(reactive_model.value)


def make_page(model: ChannelModel | solara.Reactive | None = None) -> Any:
    """The page element; ``model`` may be a (reactive) model, else each session gets one with the default inputs."""
    return DashboardPage(model)

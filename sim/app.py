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

Every input's label names its unit, and every slider shows its value on its thumb at all
times. The page shows, in a tab named "Policy and market", a picture of the coast (people
at the coast by state, bookings, today's launches and the patrol capacity of each
sector), the business-model verdict as it
evolves (``sim/metrics.py``'s definition over the last 26 weeks, or over the weeks
simulated so far) and weekly charts of arrivals and returns, prices, the gangs' profit
and number, people at the coast and people who left the route.

The code is in the package ``sim/dashboard/``: ``model.py`` (the inputs, the
configuration they make, ``DashboardModel``, ``verdict_now``), ``figures.py`` (the
pictures) and ``page.py`` (the Solara components and ``make_page``). This module
re-exports their public names and builds ``page``, what ``solara run`` serves.
"""

from __future__ import annotations

from sim.dashboard.figures import (
    STATE_COLOURS,
    draw_arrivals,
    draw_coast,
    draw_coast_series,
    draw_gangs,
    draw_price,
)
from sim.dashboard.model import (
    BASE_SCENARIO,
    DEFAULTS,
    START_DATE,
    DashboardModel,
    dashboard_overrides,
    model_params,
    parse_seed,
    verdict_now,
)
from sim.dashboard.page import components, make_page, status_html

__all__ = [
    "BASE_SCENARIO",
    "DEFAULTS",
    "STATE_COLOURS",
    "DashboardModel",
    "START_DATE",
    "components",
    "dashboard_overrides",
    "draw_arrivals",
    "draw_coast",
    "draw_coast_series",
    "draw_gangs",
    "draw_price",
    "make_page",
    "model_params",
    "page",
    "parse_seed",
    "status_html",
    "verdict_now",
]

#: What ``solara run sim/app.py`` serves.
page = make_page()

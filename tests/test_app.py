"""The SolaraViz dashboard (sim/app.py), headless: inputs, their effect on the model, step, reset.

Rendered with ``solara.render`` (no server, no browser); tests/test_browser.py drives the
same page in Chromium.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

if os.environ.get("CI"):  # the dashboard's packages (the viz extra) must be installed in CI
    import ipyvuetify as v
    import ipywidgets
    import solara
else:
    solara = pytest.importorskip("solara", reason="the dashboard needs the viz extra: pip install -e '.[viz]'")
    v = pytest.importorskip("ipyvuetify")
    ipywidgets = pytest.importorskip("ipywidgets")

import sim  # noqa: E402
from sim import app  # noqa: E402
from sim.agents.migrant import MigrantState  # noqa: E402
from sim.metrics import summarize  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # solara's rules-of-hooks note on Mesa's own code

#: label -> (min, max, default) of every slider the dashboard adds
SLIDERS = {
    "Returns quota (people/week)": (0, 1000, 50),
    "Returns start (days after 1 Jan 2025)": (0, 364, 31),
    "Legal route places (people/week, if fixed)": (0, 1000, 50),
    "UK payment to France (GBP m/year)": (0, 1000, 160),
    "Illegal-work enforcement (index 0-1)": (0.0, 1.0, 0.0),
}


@pytest.fixture
def dashboard():
    """The page rendered headless, with a reactive model the test can read."""
    model = solara.reactive(app.DashboardModel())
    _, rc = solara.render(solara.AppLayout(children=[app.make_page(model)]), handle_error=False)
    try:
        yield SimpleNamespace(model=model, rc=rc)
    finally:
        rc.close()


def _widget(rc, cls, **kw):
    return rc.find(cls, **kw).widget


def _click(rc, label: str) -> None:
    _widget(rc, v.Btn, children=[label]).click()


def _status(rc) -> str:
    """The text of the policy-and-verdict panel."""
    texts = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets if "cs-day" in (w.unsafe_innerHTML or "")]
    assert len(texts) == 1
    return texts[0]


def _pictures(rc) -> list[bytes]:
    return [w.value for w in rc.find(ipywidgets.Image).widgets]


def test_inputs_exist_with_their_ranges(dashboard):
    rc = dashboard.rc
    for label, (lo, hi, value) in SLIDERS.items():
        w = _widget(rc, v.Slider, label=label)
        assert (w.min, w.max, w.v_model) == (lo, hi, value), label
    legal = _widget(rc, v.Select, label="Legal route (matched: one per return)")
    assert list(legal.items) == ["matched", "fixed", "off"] and legal.v_model == "matched"
    assert _widget(rc, v.Checkbox, label="At-sea interception (on/off)").v_model is False
    assert _widget(rc, v.TextField, label="Random seed").v_model == "1"
    for button in ("Reset", "Step"):  # play, step and reset are SolaraViz's own
        _widget(rc, v.Btn, children=[button])


def test_inputs_are_the_model_keywords():
    params = app.model_params()
    sig = inspect.signature(app.DashboardModel.__init__).parameters
    assert set(params) == set(sig) - {"self"} == set(app.DEFAULTS)
    for name, spec in params.items():
        assert spec["value"] == app.DEFAULTS[name] == sig[name].default, name
    from mesa.visualization.solara_viz import _check_model_params

    _check_model_params(app.DashboardModel.__init__, params)  # what SolaraViz checks (Mesa 3.3 and 3.5)


def test_module_page_builds_a_model_per_session():
    from sim.dashboard.page import DashboardPage

    assert app.page.component.f is DashboardPage.f and app.page.args == (None,)
    for _ in range(2):  # two browser sessions: each renders the page and gets its own model
        _, rc = solara.render(solara.AppLayout(children=[app.make_page()]), handle_error=False)
        try:
            status = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets
                      if "cs-day" in (w.unsafe_innerHTML or "")]
            assert len(status) == 1 and "Day 0" in status[0]
            _click(rc, "Step")
            status = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets
                      if "cs-day" in (w.unsafe_innerHTML or "")]
            assert "Day 7 —" in status[0]   # the other session's steps are not this one's
        finally:
            rc.close()


def test_every_input_names_its_unit_and_every_slider_shows_its_value(dashboard):
    from sim.dashboard.page import SLIDER_VALUE_CSS

    units = {"quota_per_week": "(people/week)", "returns_start_day": "(days after 1 Jan 2025)",
             "legal_route": "(matched: one per return)", "legal_capacity_per_week": "(people/week, if fixed)",
             "uk_payment_gbp_m": "(GBP m/year)", "at_sea_interception": "(on/off)",
             "illegal_working_enforcement": "(index 0-1)"}
    params = app.model_params()
    for name, unit in units.items():
        assert params[name]["label"].endswith(unit), name
    # the value of a slider stays on its thumb (Vuetify shows it only while dragging otherwise)
    css = [w for w in dashboard.rc.find(v.VuetifyTemplate).widgets   # solara.Style: a Vue template
           if ".v-slider__thumb-label-container" in str(getattr(w, "template", ""))]
    assert css, "the page carries no slider-value style"
    assert "display: block !important" in SLIDER_VALUE_CSS
    for label in SLIDERS:
        assert _widget(dashboard.rc, v.Slider, label=label).thumb_label  # what the style shows


def test_the_tab_has_a_name(dashboard):
    from sim.dashboard.page import TAB_NAME

    tabs = dashboard.rc.find(v.Tab).widgets
    assert [t.children for t in tabs] == [[TAB_NAME]]
    assert not any("Page 0" in str(t.children) for t in tabs)


def test_changed_inputs_reach_the_model_on_reset(dashboard):
    rc, model = dashboard.rc, dashboard.model
    before = model.value
    assert before.config.returns.quota_per_week == 50 and before.patrol_capacity_units == pytest.approx(100.0)
    _widget(rc, v.Slider, label="Returns quota (people/week)").v_model = 200
    _widget(rc, v.Slider, label="Returns start (days after 1 Jan 2025)").v_model = 100
    _widget(rc, v.Select, label="Legal route (matched: one per return)").v_model = "fixed"
    _widget(rc, v.Slider, label="Legal route places (people/week, if fixed)").v_model = 300
    _widget(rc, v.Slider, label="UK payment to France (GBP m/year)").v_model = 320
    _widget(rc, v.Checkbox, label="At-sea interception (on/off)").v_model = True
    _widget(rc, v.Slider, label="Illegal-work enforcement (index 0-1)").v_model = 0.5
    seed = _widget(rc, v.TextField, label="Random seed")
    seed.v_model = "7"
    seed.fire_event("focusout", None)
    assert model.value is before  # as in every SolaraViz, inputs apply when the model is rebuilt
    _click(rc, "Reset")
    m = model.value
    assert m is not before and isinstance(m, app.DashboardModel)
    cfg = m.config
    assert cfg.returns.quota_per_week == 200
    assert cfg.returns.start_date == dt.date(2025, 4, 11) == cfg.legal_route.start_date
    assert cfg.returns.announce_date == dt.date(2025, 3, 17)
    assert (cfg.legal_route.mode, cfg.legal_route.capacity_per_week) == ("fixed", 300)
    assert cfg.patrols.uk_payment_gbp_per_year == pytest.approx(320e6)
    assert m.patrol_capacity_units == pytest.approx(60 + 320e6 / 4e6)
    assert cfg.patrols.at_sea_interception is True
    assert cfg.uk.illegal_working_enforcement == pytest.approx(0.5)
    assert m.seed_used == 7 and m.seed_sequence.entropy == 7
    assert "200/week" in app.status_html(m) and "140 patrol units" in app.status_html(m)


#: input -> (another value, what it sets in the built model)
EFFECTS = {
    "quota_per_week": (200, lambda m: m.config.returns.quota_per_week),
    "returns_start_day": (150, lambda m: (m.config.returns.start_date, m.authority.start_day)),
    "legal_route": ("fixed", lambda m: m.config.legal_route.mode),
    "legal_capacity_per_week": (400, lambda m: m.config.legal_route.capacity_per_week),
    "uk_payment_gbp_m": (500, lambda m: (m.config.patrols.uk_payment_gbp_per_year, m.patrol_capacity_units)),
    "at_sea_interception": (True, lambda m: m.config.patrols.at_sea_interception),
    "illegal_working_enforcement": (0.8, lambda m: m.config.uk.illegal_working_enforcement),
    "seed": ("42", lambda m: (m.seed_used, m.seed_sequence.entropy)),
}


@pytest.mark.parametrize("name", list(EFFECTS))
def test_every_input_changes_the_model(name):
    assert set(EFFECTS) == set(app.DEFAULTS)
    other, read = EFFECTS[name]
    assert other != app.DEFAULTS[name]
    default, changed = app.DashboardModel(), app.DashboardModel(**{name: other})
    assert read(changed) != read(default)
    # and nothing else: every other field of the configuration is the same
    a, b = default.config.model_dump(), changed.config.model_dump()
    differing = {f"{k}.{kk}" for k in a if isinstance(a[k], dict) for kk in a[k] if a[k][kk] != b[k][kk]}
    differing |= {k for k in a if not isinstance(a[k], dict) and a[k] != b[k]}
    allowed = {
        "quota_per_week": {"returns.quota_per_week"},
        "returns_start_day": {"returns.start_date", "returns.announce_date", "legal_route.start_date"},
        "legal_route": {"legal_route.mode"},
        "legal_capacity_per_week": {"legal_route.capacity_per_week"},
        "uk_payment_gbp_m": {"patrols.uk_payment_gbp_per_year"},
        "at_sea_interception": {"patrols.at_sea_interception"},
        "illegal_working_enforcement": {"uk.illegal_working_enforcement"},
        "seed": set(),
    }[name]
    assert differing == allowed


@functools.cache
def _outcomes(**inputs) -> pd.DataFrame:
    m = app.DashboardModel(**inputs)
    for _ in range(150):
        m.step()
    return m.timeseries()[["arrivals_uk", "returns", "people_prevented", "left_route", "mean_price_gbp",
                           "legal_admissions", "waiting_at_coast"]]


@pytest.mark.parametrize("name", list(EFFECTS))
def test_every_input_changes_what_happens(name):
    """Not only the configuration: 150 simulated days differ (the legal route's places in fixed mode)."""
    base = {"legal_route": "fixed"} if name == "legal_capacity_per_week" else {}
    other = EFFECTS[name][0]
    a, b = _outcomes(**base), _outcomes(**{**base, name: other})
    assert not a.equals(b)


def test_the_dashboard_scenario_is_the_pilot_from_2025():
    m = app.DashboardModel()
    cfg, pilot = m.config, sim.load_config("pilot_50")
    assert (cfg.start_date, cfg.end_date) == (dt.date(2025, 1, 1), dt.date(2027, 12, 31))
    assert cfg.returns.start_date == dt.date(2025, 2, 1) and cfg.returns.announce_date == dt.date(2025, 1, 7)
    assert cfg.migrants == pilot.migrants and cfg.gangs == pilot.gangs and cfg.groups == pilot.groups


def test_inconsistent_inputs_are_adjusted_and_said():
    m = app.DashboardModel(quota_per_week=0)
    assert m.config.legal_route.mode == "off" and "no quota" in " ".join(m.dashboard_notes)
    m = app.DashboardModel(legal_route="fixed", legal_capacity_per_week=0)
    assert m.config.legal_route.mode == "off" and "0 places" in " ".join(m.dashboard_notes)
    assert app.DashboardModel(seed=" 01 ").seed_used == 1 and not app.DashboardModel(seed="01").dashboard_notes
    m = app.DashboardModel(seed="abc")
    assert m.seed_used == app.parse_seed("abc") and "not a whole number" in " ".join(m.dashboard_notes)
    assert "Note:" in app.status_html(m)
    m = app.DashboardModel(returns_start_day=0)
    assert m.config.returns.announce_date == m.config.returns.start_date == dt.date(2025, 1, 1)


def test_step_and_reset(dashboard):
    rc, model = dashboard.rc, dashboard.model
    first = model.value
    assert "Day 0" in _status(rc)
    pictures = _pictures(rc)
    assert len(pictures) == 5  # the coast and four charts
    _click(rc, "Step")       # SolaraViz steps by its render interval, 7 days here
    assert model.value is first and first.day == 7 and first.steps == 7
    assert len(first.datacollector.get_model_vars_dataframe()) == 7
    _click(rc, "Step")
    assert first.day == 14 and len(first.datacollector.get_model_vars_dataframe()) == 14
    after = _pictures(rc)
    assert all(a != b for a, b in zip(pictures, after, strict=True))  # every picture was redrawn
    assert "Day 14 — 14 Jan 2025" in _status(rc)
    _click(rc, "Reset")
    fresh = model.value
    assert fresh is not first and fresh.day == 0 and fresh.steps == 0
    assert len(fresh.datacollector.get_model_vars_dataframe()) == 0
    assert fresh.config == first.config  # unchanged inputs: the same scenario again


def test_recording_launches_by_sector_changes_nothing():
    dash = app.DashboardModel(quota_per_week=200)
    plain = sim.ChannelModel(dash.config, rng=dash.seed_used)
    for _ in range(90):
        dash.step()
        plain.step()
        assert dash.sector_launches_today.sum() == dash.today["launches"]
        assert dash.sector_prevented_today.sum() == dash.today["launches_prevented"]
    pd.testing.assert_frame_equal(dash.datacollector.get_model_vars_dataframe(),
                                  plain.datacollector.get_model_vars_dataframe())
    assert dash.today == plain.today


def test_verdict_matches_the_metrics_definition():
    m = app.DashboardModel(quota_per_week=100)
    for _ in range(20):
        m.step()
    early = app.verdict_now(m)
    ts = m.timeseries()
    assert not early["full_window"] and early["days"] == 20
    assert early["margin"] == pytest.approx(ts["gang_profit_gbp"].sum() / ts["gang_revenue_gbp"].sum())
    early_summary = summarize(ts, m.config, m.initial_gangs)  # a short run: the same provisional verdict
    assert early["margin"] == early_summary["market_profit_margin"]
    assert early["broken"] == early_summary["business_model_broken"]
    assert "provisional" in app.status_html(m)
    for _ in range(7 * 26 + 10):
        m.step()
    ts = m.timeseries()
    verdict = app.verdict_now(m)
    summary = summarize(ts, m.config, m.initial_gangs)
    assert verdict["full_window"] and verdict["days"] == 7 * 26
    assert verdict["margin"] == pytest.approx(summary["market_profit_margin"])
    assert verdict["broken"] == summary["business_model_broken"]
    assert verdict["active_gangs"] == summary["active_gangs_end"]
    assert (verdict["broken_since"].isoformat() if verdict["broken_since"] else None) == summary["broken_since"]
    assert "provisional" not in app.status_html(m)


def test_coast_picture_shows_every_sector():
    m = app.DashboardModel()
    for _ in range(400):
        m.step()
        if m.today["launches"] > 0 and m.counts[MigrantState.BOOKED] > 0:
            break
    assert m.today["launches"] > 0
    fig = app.draw_coast(m)
    sea, land = fig.axes[0], fig.axes[1]
    sectors = m.config.patrols.sectors
    labels = [t.get_text().split("\n")[0] for t in land.get_xticklabels()]
    assert labels == [s.replace("_", " ").title() for s in reversed(sectors)]
    launched = sum(r.get_height() for c in sea.containers for r in c)
    assert launched == m.today["launches"]
    booked = sum(r.get_height() for r in land.containers[0])
    assert booked == m.counts[MigrantState.BOOKED] * m.people_per_agent
    patrol = fig.axes[-1].containers[0]
    assert sum(r.get_height() for r in patrol) == pytest.approx(m.patrol_capacity_units)
    for draw in (app.draw_arrivals, app.draw_price, app.draw_gangs, app.draw_coast_series):
        assert draw(m).axes  # every chart draws on a running model
    assert np.isfinite(app.verdict_now(m)["margin"])


def test_verdict_before_the_first_day_and_its_criteria():
    m = app.DashboardModel()
    v = app.verdict_now(m)
    assert (v["days"], v["broken"], v["broken_since"]) == (0, False, None) and np.isnan(v["margin"])
    assert v["active_gangs"] == m.initial_gangs and v["gang_floor"] == 0.25 * m.initial_gangs
    for _ in range(30):
        m.step()
    assert "holds" not in app.status_html(m) and not app.verdict_now(m)["broken"]
    # the same run judged with a margin threshold above any margin: that criterion holds, and only it
    m.config = sim.load_config(m.config, overrides={"verdict.profit_margin_threshold": 0.99})
    v = app.verdict_now(m)
    assert (v["margin_broken"], v["gangs_broken"], v["broken"]) == (True, False, True)
    html = app.status_html(m)
    assert html.count("holds") == 1 and "business model BROKEN" in html


def test_past_week_aggregates_as_the_metrics_table_says():
    from sim.dashboard.figures import past_week
    from sim.metrics import aggregation_of

    m = app.DashboardModel()
    for _ in range(40):
        m.step()
    ts = m.timeseries()
    assert [aggregation_of(c) for c in ("arrivals_uk", "mean_price_gbp", "active_gangs")] == ["sum", "mean", "last"]
    pd.testing.assert_series_equal(past_week(ts, "arrivals_uk"), ts["arrivals_uk"].rolling(7, min_periods=1).sum())
    assert past_week(ts, "arrivals_uk").iloc[20] == ts["arrivals_uk"].iloc[14:21].sum()
    assert past_week(ts, "mean_price_gbp").iloc[20] == pytest.approx(ts["mean_price_gbp"].iloc[14:21].mean())
    pd.testing.assert_series_equal(past_week(ts, "active_gangs"), ts["active_gangs"])


def test_app_module_re_exports_the_dashboard_package():
    from sim.dashboard import figures, model, page

    for name in app.__all__:
        if name == "page":
            continue
        owners = [mod for mod in (model, figures, page) if name in mod.__all__]
        assert len(owners) == 1, name
        assert getattr(app, name) is getattr(owners[0], name), name


def test_no_private_name_is_imported_across_dashboard_modules():
    import ast
    from pathlib import Path

    root = Path(app.__file__).resolve().parent
    for path in [root / "app.py", *sorted((root / "dashboard").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, (path.name, node.module, private)


def test_the_viability_sample_is_computed_once_a_day_however_often_the_page_redraws(monkeypatch):
    m = app.DashboardModel(quota_per_week=100)
    for _ in range(5):
        m.step()
    calls = []
    real = type(m).end_state
    monkeypatch.setattr(type(m), "end_state", lambda self: calls.append(self.day) or real(self))
    first = app.verdict_now(m)
    for _ in range(3):
        assert app.verdict_now(m) == first
    assert calls == [m.day]
    m.step()
    app.verdict_now(m)
    assert calls == [m.day - 1, m.day]

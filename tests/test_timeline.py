"""Timelines: dated changes of a scenario (sim/timeline.py, ODD 7.15) and the pilot as realised."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import sim
from sim.calibration.realised import load_realised, realised_timeline, scenario_yaml
from sim.cli import main
from sim.config import CONFIG_DIR, ConfigError, load_config
from sim.model import free_model
from sim.timeline import timeline_changes

SHORT = {"start_date": "2025-06-01", "end_date": "2025-12-31"}


def _run(cfg, seed=5):
    return sim.run(cfg, seed=seed).timeseries


def test_quota_off_and_on_gives_returns_only_in_the_on_periods():
    tl = [{"date": "2025-09-15", "set": {"returns.quota_per_week": 0}},
          {"date": "2025-11-03", "set": {"returns.quota_per_week": 50}}]
    ts = _run(load_config("pilot_50", overrides={**SHORT, "timeline": tl}))
    returns = ts["returns"]
    assert returns.loc["2025-08-04":"2025-09-14"].sum() > 0
    assert returns.loc["2025-09-15":"2025-11-02"].sum() == 0
    assert returns.loc["2025-11-03":].sum() > 0
    assert (ts.loc["2025-09-15":"2025-11-02", "returns_quota_per_week"] == 0).all()
    assert (ts.loc["2025-11-03":, "returns_quota_per_week"] == 50).all()
    assert ts["timeline_changes"].sum() == 2
    assert ts.loc["2025-09-15", "timeline_changes"] == 1
    # a change of the quota while the policy is announced is announced that day
    assert ts.loc["2025-09-15", "announcements"] == 1 and ts.loc["2025-11-03", "announcements"] == 1


def test_a_timeline_equal_to_a_plain_scenario_gives_identical_results():
    plain = load_config("baseline", overrides={**SHORT, "returns.quota_per_week": 50,
                                               "returns.start_date": "2025-08-04"})
    # the quota set before the policy's announcement (baseline: 2025-07-10), which states the quota
    # in force on its day
    timed = load_config("baseline", overrides={**SHORT, "returns.start_date": "2025-08-04",
                                               "timeline": [{"date": "2025-07-01",
                                                             "set": {"returns.quota_per_week": 50}}]})
    a, b = _run(plain), _run(timed)
    assert a["returns"].sum() > 0
    pd.testing.assert_frame_equal(a.drop(columns="timeline_changes"), b.drop(columns="timeline_changes"))
    # a change that sets what is already in force changes nothing either (and announces nothing)
    noop = load_config("pilot_50", overrides={**SHORT, "timeline": [{"date": "2025-10-01",
                                                                      "set": {"returns.quota_per_week": 50}}]})
    c, d = _run(load_config("pilot_50", overrides=SHORT)), _run(noop)
    pd.testing.assert_frame_equal(c.drop(columns="timeline_changes"), d.drop(columns="timeline_changes"))


def test_changes_reach_every_part_that_keeps_derived_state():
    tl = [{"date": "2025-09-01", "set": {"environment.base_inflow_per_day": 0.0, "patrols.base_capacity_units": 5,
                                          "gangs.fixed_cost_per_week_gbp": 1.0,
                                          "environment.crossable_share_by_month": [0.0] * 12}}]
    cfg = load_config("baseline", overrides={**SHORT, "timeline": tl})
    model = sim.ChannelModel(cfg, rng=3)
    while model.date < dt.date(2025, 9, 1) or model.day <= (dt.date(2025, 9, 1) - model.start_date).days:
        model.step()
    assert model.config.environment.base_inflow_per_day == 0.0
    assert model.inflow.base == 0.0 and model.weather.pi.max() == 0.0
    assert all(g.params.fixed_cost_per_week_gbp == 1.0 for g in model.gangs)
    assert model.market.supply.params is model.config.gangs
    assert model.given.environment.base_inflow_per_day > 0      # the scenario as given is kept
    for _ in range(10):
        model.step()
    ts = model.datacollector.get_model_vars_dataframe()
    assert (ts["potential_inflow"].iloc[-10:] == 0).all()
    assert (ts["crossable"].iloc[-10:] == 0).all()
    free_model(model)


@pytest.mark.parametrize(("entry", "message"), [
    ({"date": "2025-10-01", "set": {"returns.quota_per_wek": 5}}, "unknown field 'quota_per_wek'"),
    ({"date": "2030-01-01", "set": {"returns.quota_per_week": 5}}, "timeline.0.date"),
    ({"date": "2021-01-01", "set": {"returns.quota_per_week": 5}}, "must lie after start_date"),
    ({"date": "2025-10-01", "set": {"returns.quota_per_week": -5}}, "returns.quota_per_week"),
    ({"date": "2025-10-01", "set": {"patrols.prevention_max": 1.5}}, "patrols.prevention_max"),
    ({"date": "2025-10-01", "set": {"people_per_agent": 10}}, "cannot change during a run"),
    ({"date": "2025-10-01", "set": {}}, "timeline.0.set"),
])
def test_a_bad_timeline_entry_is_one_clear_error(entry, message):
    with pytest.raises(ConfigError) as exc:
        load_config("pilot_50", overrides={"timeline": [entry]})
    assert message in str(exc.value)
    assert "timeline" in str(exc.value)


def test_unsorted_dates_are_an_error_naming_the_entry():
    tl = [{"date": "2025-11-01", "set": {"returns.quota_per_week": 5}},
          {"date": "2025-10-01", "set": {"returns.quota_per_week": 9}}]
    with pytest.raises(ConfigError, match=r"timeline\.1\.date.*dates must increase"):
        load_config("pilot_50", overrides={"timeline": tl})


def test_the_error_names_the_entry_and_its_date():
    tl = [{"date": "2025-10-01", "set": {"returns.quota_per_week": 5}},
          {"date": "2025-11-01", "set": {"returns.max_detention_days": 3}}]
    with pytest.raises(ConfigError, match=r"timeline entry 1 \(2025-11-01\).*max_detention_days"):
        load_config("pilot_50", overrides={"timeline": tl})


@pytest.mark.parametrize("body", [
    "  - date: 2025-10-01\n    set: {returns.quota_per_wek: 5}\n",
    "  - date: 2031-10-01\n    set: {returns.quota_per_week: 5}\n",
    "  - date: 2025-11-01\n    set: {returns.quota_per_week: 5}\n  - date: 2025-10-01\n    set: {returns.quota_per_week: 6}\n",
    "  - date: 2025-10-01\n    set: {returns.quota_per_week: -1}\n",
])
def test_check_exits_2_on_a_bad_timeline(tmp_path, capsys, body):
    path = tmp_path / "bad.yaml"
    path.write_text("extends: pilot_50\nname: bad\ntimeline:\n" + body)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "timeline" in err and err.count("\n") <= 4


def test_a_shortened_run_drops_the_entries_it_never_reaches():
    cfg = load_config("pilot_as_realised", overrides={"end_date": "2025-12-31"})
    assert cfg.timeline and max(e.date for e in cfg.timeline) <= dt.date(2025, 12, 31)
    full = load_config("pilot_as_realised")
    assert len(full.timeline) > len(cfg.timeline)


def test_timeline_changes_are_cumulative():
    cfg = load_config("pilot_as_realised")
    changes = timeline_changes(cfg)
    assert [c.date for c in changes] == [e.date for e in cfg.timeline]
    last = changes[-1].config
    assert last.returns.quota_per_week == cfg.timeline[-1].set.get("returns.quota_per_week",
                                                                   last.returns.quota_per_week)
    assert all(not c.config.timeline for c in changes)


# ----------------------------------------------------------------------------- the pilot as realised
def test_the_shipped_pilot_as_realised_is_what_its_generator_writes():
    assert (CONFIG_DIR / "pilot_as_realised.yaml").read_text() == scenario_yaml()


def test_the_realised_timeline_passes_through_every_published_figure():
    pts = load_realised()
    entries = realised_timeline(pts)
    quota = {e["date"]: e["set"]["returns.quota_per_week"] for e in entries if "returns.quota_per_week" in e["set"]}
    assert min(quota) == dt.date(2025, 8, 4) and quota[dt.date(2025, 8, 4)] == 0
    assert all(q >= 0 for q in quota.values())
    assert all(e["announce"] is False for e in entries)


def test_pilot_as_realised_returns_pass_within_15_percent_of_the_published_points():
    pts = load_realised()
    check = pts[pts["confidence"] != "low"]
    end = max(check["date"])
    ts = sim.run(load_config("pilot_as_realised", overrides={"end_date": end.isoformat()}), seed=11).timeseries
    cum = ts["returns"].cumsum()
    admitted = ts["legal_admissions"].cumsum()
    for _, p in check.iterrows():
        got, want = float(cum.loc[pd.Timestamp(p["date"])]), float(p["cumulative_returned"])
        assert abs(got - want) <= 0.15 * want + 1e-9, (p["date"], got, want)
    # legal admissions follow their published figures too (looser: they need applicants waiting)
    last = check.iloc[-1]
    assert abs(float(admitted.loc[pd.Timestamp(last["date"])]) - last["cumulative_admitted_legal"]) \
        <= 0.15 * last["cumulative_admitted_legal"]
    assert np.all(np.diff(cum.to_numpy()) >= 0)


def test_figures_mark_the_change_dates():
    from sim.plots import plot_overview

    tl = [{"date": "2025-09-15", "set": {"returns.quota_per_week": 0}},
          {"date": "2025-11-03", "set": {"returns.quota_per_week": 50}}]
    ts = _run(load_config("pilot_50", overrides={**SHORT, "timeline": tl}))
    fig = plot_overview({"pilot": ts})
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_xdata()[0] == ln.get_xdata()[-1]]
    xs = {pd.Timestamp(mdates_num).date() for ln in lines for mdates_num in [ln.get_xdata()[0]]}
    assert {dt.date(2025, 9, 15), dt.date(2025, 11, 3)} <= xs
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "timeline change" in labels

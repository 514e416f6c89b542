"""sim/metrics.py: the one business-model verdict, and the one aggregation table.

The verdict rule is ``judge_window``; ``judge_run`` (the summary and the dashboard) and
``verdict_series`` (each day's trailing window) apply it. These tests check the rule on
hand-made windows, then that the daily series and the run's summary always agree.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.metrics import (
    AGGREGATION,
    Verdict,
    aggregation_of,
    gangs_at_policy_start,
    judge_run,
    judge_window,
    market_margin,
    resample,
    summarize,
    verdict_series,
    verdict_window,
)
from sim.params import VerdictParams
from tests.conftest import short_config

DEFAULT = VerdictParams()


# --------------------------------------------------------------------------- the rule
def test_market_margin_is_profit_over_revenue_else_minus_one_or_zero():
    assert market_margin(200.0, 50.0) == 0.25
    assert market_margin(200.0, -300.0) == -1.5
    assert market_margin(0.0, -10.0) == -1.0   # all costs, no income
    assert market_margin(0.0, 0.0) == 0.0      # nothing happened
    assert isinstance(market_margin(3.0, 1.0), float)
    rev = np.array([200.0, 200.0, 0.0, 0.0, 7.0])
    prof = np.array([50.0, -300.0, -10.0, 0.0, 7.0])
    got = market_margin(rev, prof)
    assert isinstance(got, np.ndarray)
    assert got.tolist() == [0.25, -1.5, -1.0, 0.0, 1.0]


def test_judge_window_criteria_are_at_or_below_the_thresholds():
    p = VerdictParams(window_weeks=26, profit_margin_threshold=0.1, gang_share_threshold=0.25)
    fine = judge_window(1000.0, 200.0, 5, 12, p)
    assert fine == Verdict(margin=0.2, margin_broken=False, gangs_broken=False, broken=False, gang_floor=3.0)
    at_margin = judge_window(1000.0, 100.0, 5, 12, p)       # M = 0.1: at the threshold is broken
    assert (at_margin.margin_broken, at_margin.gangs_broken, at_margin.broken) == (True, False, True)
    at_floor = judge_window(1000.0, 200.0, 3, 12, p)        # 3 <= 0.25 * 12
    assert (at_floor.margin_broken, at_floor.gangs_broken, at_floor.broken) == (False, True, True)
    above_floor = judge_window(1000.0, 200.0, 4, 12, p)
    assert not above_floor.broken
    both = judge_window(0.0, -5.0, 0, 12, p)
    assert (both.margin, both.margin_broken, both.gangs_broken, both.broken) == (-1.0, True, True, True)
    assert all(type(x) is bool for x in (fine.margin_broken, fine.gangs_broken, fine.broken))


def test_judge_window_on_arrays_is_the_scalar_rule_elementwise():
    rng = np.random.default_rng(7)
    n = 400
    rev = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 1e6, n))
    prof = rng.normal(0, 2e5, n) * (rng.random(n) < 0.9)
    active = rng.integers(0, 15, n)
    p = VerdictParams(profit_margin_threshold=0.05, gang_share_threshold=0.3)
    many = judge_window(rev, prof, active, 12, p)
    for i in range(n):
        one = judge_window(float(rev[i]), float(prof[i]), int(active[i]), 12, p)
        assert (one.margin, one.margin_broken, one.gangs_broken, one.broken) == (
            many.margin[i], many.margin_broken[i], many.gangs_broken[i], many.broken[i])
    assert many.broken.any() and not many.broken.all()


def _synthetic(days: int = 60) -> pd.DataFrame:
    """Revenue 100 a day; profit -1 a day for 5 days, then +50, then -60 from day 25;
    10 active gangs until day 50, then 2."""
    profit = np.where(np.arange(days) < 5, -1.0, np.where(np.arange(days) < 25, 50.0, -60.0))
    return pd.DataFrame({"gang_revenue_gbp": 100.0, "gang_profit_gbp": profit,
                         "active_gangs": np.where(np.arange(days) < 50, 10, 2)},
                        index=pd.date_range("2025-01-01", periods=days, freq="D"))


def test_series_and_run_verdict_on_a_hand_made_series():
    ts = _synthetic()
    p = VerdictParams(window_weeks=2, profit_margin_threshold=0.0, gang_share_threshold=0.25)
    s = verdict_series(ts, p, initial_gangs=10)
    assert s["days"].tolist()[:15] == [*range(1, 15), 14]
    assert not s["full_window"].iloc[:13].any() and s["full_window"].iloc[13:].all()
    # provisional: the first five days lose money, then the margin is positive
    assert s["broken"].iloc[:5].all() and not s["broken"].iloc[5:31].any()
    assert s["margin"].iloc[0] == -0.01 and s["margin"].iloc[4] == -5 / 500
    # from day 25 the window loses 60 a day: 50 (14 - k) - 60 k <= 0 from k = 7, day 31
    assert s["margin"].iloc[31] == pytest.approx((50 * 7 - 60 * 7) / 1400)
    assert s["margin_broken"].iloc[31:].all() and not s["gangs_broken"].iloc[:50].any()
    assert s["gangs_broken"].iloc[50:].all()          # 2 <= 0.25 * 10
    # the provisional days before the window is full never count as "broken since"
    r = judge_run(ts, p, 10, "2025-01-01")
    assert r.broken_since == pd.Timestamp("2025-02-01")  # day 31
    assert (r.days, r.full_window, r.active_gangs, r.broken, r.margin_broken, r.gangs_broken) == (
        14, True, 2, True, True, True)
    assert (r.revenue_gbp, r.profit_gbp) == (1400.0, -840.0)
    assert judge_run(ts, p, 10, "2025-02-10").broken_since == pd.Timestamp("2025-02-10")
    assert judge_run(ts.iloc[:10], p, 10, "2025-01-01").broken_since is None
    with pytest.raises(ValueError, match="no day"):
        judge_run(ts.iloc[:0], p, 10, "2025-01-01")


def test_verdict_window_is_the_last_weeks_or_everything():
    ts = _synthetic(60)
    assert len(verdict_window(ts, VerdictParams(window_weeks=2))) == 14
    assert verdict_window(ts, VerdictParams(window_weeks=2)).index[0] == ts.index[46]
    assert len(verdict_window(ts, VerdictParams(window_weeks=26))) == 60


# --------------------------------------------------------------------------- series == summary
@pytest.fixture(scope="module")
def runs():
    """Real runs: the pilot over 18 months, quota 'all' over 18 months, a 9-week run."""
    out = []
    for name, seed, overrides in (("pilot_50", 1, {}), ("quota_all", 3, {}),
                                  ("quota_200", 5, {"start_date": "2025-07-01", "end_date": "2025-09-01"})):
        cfg = short_config(name, **overrides)
        res = sim.run(cfg, seed=seed)
        out.append((cfg, res))
    return out


#: verdict parameters applied to the same runs (the verdict does not change the dynamics)
VERDICT_VARIANTS = (
    {},
    {"verdict.profit_margin_threshold": 0.99},    # every window's margin is below
    {"verdict.profit_margin_threshold": -1.0},    # only the gangs can break it
    {"verdict.gang_share_threshold": 1.0},
    {"verdict.window_weeks": 4},
    {"verdict.window_weeks": 104},                # longer than every run: always provisional
)


def test_the_series_last_day_is_the_summary_verdict(runs):
    seen = set()
    for cfg0, res in runs:
        for overrides in VERDICT_VARIANTS:
            cfg = sim.load_config(cfg0, overrides=overrides)
            summary = summarize(res.timeseries, cfg, res.summary["initial_gangs"])
            # the gangs criterion counts against the gangs active at the policy start
            ref = gangs_at_policy_start(res.timeseries, cfg.returns.start_date, res.summary["initial_gangs"])
            assert ref == summary["gangs_at_policy_start"]
            series = verdict_series(res.timeseries, cfg.verdict, ref)
            last = series.iloc[-1]
            where = f"{cfg0.name} {overrides}"
            assert bool(last["broken"]) == summary["business_model_broken"], where
            assert last["margin"] == pytest.approx(summary["market_profit_margin"], rel=1e-12, abs=1e-12), where
            assert last["revenue_gbp"] == pytest.approx(summary["gang_revenue_gbp_window"], rel=1e-12), where
            assert last["days"] == min(len(res.timeseries), 7 * cfg.verdict.window_weeks), where
            seen.add((summary["business_model_broken"], bool(last["full_window"])))
            full_broken = series.loc[series.index >= pd.Timestamp(cfg.returns.start_date)]
            full_broken = full_broken[full_broken["broken"] & full_broken["full_window"]]
            first = full_broken.index[0].date().isoformat() if len(full_broken) else None
            assert summary["broken_since"] == first, where
            if first is not None:
                weeks = math.ceil((full_broken.index[0] - pd.Timestamp(cfg.returns.start_date)).days / 7)
                assert summary["weeks_to_collapse"] == max(0, weeks), where
    # broken and not broken, on full and on provisional windows
    assert seen == {(True, True), (True, False), (False, True), (False, False)}


def test_each_day_of_the_series_is_the_verdict_had_the_run_ended_then(runs):
    cfg, res = runs[1]
    ts, gangs = res.timeseries, res.summary["initial_gangs"]
    for overrides in VERDICT_VARIANTS[:2] + VERDICT_VARIANTS[4:5]:
        p = sim.load_config(cfg, overrides=overrides).verdict
        series = verdict_series(ts, p, gangs)
        for day in (0, 1, 6, 7 * p.window_weeks - 2, 7 * p.window_weeks - 1, 7 * p.window_weeks, 300, len(ts) - 1):
            r = judge_run(ts.iloc[:day + 1], p, gangs, cfg.returns.start_date)
            row = series.iloc[day]
            assert (bool(row["broken"]), bool(row["margin_broken"]), bool(row["gangs_broken"]),
                    bool(row["full_window"]), int(row["days"])) == (
                r.broken, r.margin_broken, r.gangs_broken, r.full_window, r.days), (overrides, day)
            assert row["margin"] == pytest.approx(r.margin, rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- the aggregation table
def test_overview_figure_aggregates_by_the_table():
    import matplotlib.pyplot as plt

    from sim.plots import OVERVIEW_PANELS, plot_overview

    idx = pd.date_range("2025-01-01", "2025-04-30", freq="D")
    rng = np.random.default_rng(3)
    ts = pd.DataFrame({col: rng.uniform(0, 1e6, len(idx)) for col, _, _ in OVERVIEW_PANELS}, index=idx)
    ts["active_gangs"] = np.arange(len(idx)) // 10
    fig = plot_overview({"run": ts})
    try:
        want = resample(ts, "MS", [c for c, _, _ in OVERVIEW_PANELS])
        for ax, (col, _, scale) in zip(fig.axes, OVERVIEW_PANELS, strict=False):
            got = np.asarray(ax.lines[0].get_ydata(), dtype=float)
            assert got.tolist() == pytest.approx((want[col] * scale).tolist()), col
        assert {aggregation_of(c) for c, _, _ in OVERVIEW_PANELS} == {"sum", "mean", "last"}
        # active gangs: the value on the month's last day, not the month's mean
        assert want["active_gangs"].tolist() == [3, 5, 8, 11]
        assert AGGREGATION["active_gangs"] == "last"
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- the daily collector
def test_the_daily_collectors_table_is_mesas_to_the_dtype():
    """The compact columns of DailyCollector give the table Mesa's own DataCollector gives with the
    same reporters, collected the same days: the same values and the same dtypes."""
    import mesa

    from sim.metrics import model_reporters
    from sim.model import ChannelModel, free_model

    model = ChannelModel(short_config("pilot_50", end_date="2025-03-31"), rng=3)
    plain = mesa.DataCollector(model_reporters=model_reporters([g.name for g in model.config.groups]))
    while model.running:
        model.step()
        plain.collect(model)
    ours = model.datacollector.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(ours, plain.get_model_vars_dataframe(), check_exact=True)
    assert {"int64", "float64"} <= {str(d) for d in ours.dtypes}
    free_model(model)


def test_a_compact_column_widens_as_a_list_of_its_values_would_be_typed():
    import mesa

    from sim.metrics import DailyCollector

    days = [{"a": 1, "b": 0.5, "c": 2}, {"a": 2, "b": 1, "c": None}, {"a": 2.5, "b": 2.0, "c": 3}]
    ours = DailyCollector(model_reporters={k: (lambda m, k=k: m.daily_values[k]) for k in "abc"})
    plain = mesa.DataCollector(model_reporters={k: (lambda m, k=k: m.daily_values[k]) for k in "abc"})
    model = type("Day", (), {})()
    for step, row in enumerate(days):
        model.daily_values, model.time, model.steps = row, float(step), step   # Mesa 3.5 records the time
        ours.collect(model)
        plain.collect(model)
    table = ours.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(table, plain.get_model_vars_dataframe(), check_exact=True)
    assert str(table["a"].dtype) == "float64" and table["b"].tolist() == [0.5, 1.0, 2.0]

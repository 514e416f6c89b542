"""Behaviour of the model: conservation, determinism, policy responses, clean-up."""

from __future__ import annotations

import copy
import gc
import weakref

import mesa
import numpy as np
import pandas as pd
import pytest

import sim
from sim.model import ChannelModel, free_model
from tests.helpers import LIVE_STATES, live_models, money_identity, short_config


# ----------------------------------------------------------------------------- conservation
def test_people_and_money_are_conserved_at_every_step_of_a_multi_year_run():
    cfg = sim.load_config("pilot_50", {"start_date": "2024-06-01", "end_date": "2026-05-31"})
    model = ChannelModel(cfg, rng=11)
    revenue_seen = 0.0
    while model.running:
        cash_before = sum(g.cash_gbp for g in model.gangs)
        model.step()
        # people: every person who entered is in exactly one state
        assert model.counts.sum() == model.cum_inflow
        assert (model.counts >= 0).all()
        live = model.pop.counts()
        for s in LIVE_STATES:
            assert live[s] == model.counts[s], (model.date, s.name)
        # money: the change of gang cash is seat revenue minus cash costs (plus entrants' capital)
        cash, expected = money_identity(model)
        assert cash == pytest.approx(expected, rel=1e-9, abs=1e-3)
        revenue_seen += model.today["gang_revenue_gbp"]
        assert cash - cash_before == pytest.approx(
            model.today["gang_revenue_gbp"] - _cash_costs_today(model) + _entry_capital_today(model),
            rel=1e-9, abs=1e-3)
    ts = model.datacollector.get_model_vars_dataframe()
    stocks = ts[[c for c in ts.columns if c.startswith("n_")]].sum(axis=1)
    assert (stocks == ts["cum_inflow"]).all()
    assert revenue_seen > 0 and ts["returns"].sum() > 0
    free_model(model)


def _cash_costs_today(model: ChannelModel) -> float:
    return model.today["gang_spending_gbp"]


def _entry_capital_today(model: ChannelModel) -> float:
    return model.today["gang_entries"] * model.config.gangs.initial_cash_gbp


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_timeseries_and_other_seeds_differ(pilot_short):
    a = sim.run(pilot_short, seed=5, years=1)
    b = sim.run(pilot_short, seed=5, years=1)
    c = sim.run(pilot_short, seed=6, years=1)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert a.summary == b.summary
    assert not a.timeseries["arrivals_uk"].equals(c.timeseries["arrivals_uk"])


def test_model_and_run_agree():
    cfg = short_config("pilot_50", end_date="2025-03-31")
    model = ChannelModel(cfg, rng=3)
    model.run_model()
    direct = model.datacollector.get_model_vars_dataframe()
    free_model(model)
    res = sim.run(cfg, seed=3)
    np.testing.assert_array_equal(direct["arrivals_uk"].to_numpy(), res.timeseries["arrivals_uk"].to_numpy())
    assert res.timeseries.index[0] == pd.Timestamp("2025-01-01")
    assert res.timeseries.index.freq == "D"


# ----------------------------------------------------------------------------- policy
def test_no_quota_means_no_returns():
    res = sim.run(short_config("baseline"), seed=2)
    assert res.timeseries["returns"].sum() == 0
    assert res.summary["returns"] == 0
    assert res.timeseries["legal_admissions"].sum() == 0


def test_pilot_returns_at_most_its_quota_each_week(pilot_short):
    res = sim.run(pilot_short, seed=4)
    ts = res.timeseries
    start = pd.Timestamp(pilot_short.returns.start_date)
    weekly = ts.loc[ts.index >= start, "returns"].groupby((ts.index[ts.index >= start] - start).days // 7).sum()
    assert weekly.max() <= 50
    assert weekly.sum() > 0
    # the legal route admits one person for each person returned (the week after)
    assert 0 < ts["legal_admissions"].sum() <= ts["returns"].sum()


def test_larger_quota_gives_fewer_arrivals_and_lower_profit_on_paired_seeds():
    seeds = range(3)
    small = [sim.run(short_config("pilot_50"), seed=s) for s in seeds]
    large = [sim.run(short_config("pilot_50", **{"returns.quota_per_week": 400}), seed=s) for s in seeds]
    start = pd.Timestamp("2025-08-04")

    def policy_sum(res, col):
        ts = res.timeseries
        return ts.loc[ts.index >= start, col].sum()

    arrivals = np.mean([policy_sum(b, "arrivals_uk") - policy_sum(a, "arrivals_uk") for a, b in zip(small, large, strict=True)])
    profit = np.mean([policy_sum(b, "gang_profit_gbp") - policy_sum(a, "gang_profit_gbp")
                      for a, b in zip(small, large, strict=True)])
    assert arrivals < 0
    assert profit < 0


def test_returning_every_eligible_arrival_halves_crossings_and_shrinks_the_market():
    cfg = sim.load_config("quota_all", {"start_date": "2025-01-01", "returns.challenge_block_share": 0.0})
    base = sim.load_config("baseline", {"start_date": "2025-01-01"})
    res, ref = sim.run(cfg, seed=1).summary, sim.run(base, seed=1).summary
    assert res["arrivals_uk_policy_period"] < 0.5 * ref["arrivals_uk_policy_period"]
    assert res["market_profit_margin"] < ref["market_profit_margin"]
    assert res["active_gangs_end"] < ref["active_gangs_end"]
    assert not ref["business_model_broken"]


def test_group_with_near_certain_return_stops_crossing_within_months():
    """The Albania pattern: a quarter of arrivals, return near-certain from Dec 2022."""
    cfg = sim.load_config("baseline", {"end_date": "2023-12-31", "groups.0.bilateral_return_prob": 0.98})
    assert cfg.groups[0].name == "albanian" and cfg.groups[0].share == pytest.approx(0.25)
    falls = []
    for seed in (1, 2):
        a = sim.run(cfg, seed=seed).timeseries["arrivals_albanian"]
        falls.append(1 - a["2023-03":"2023-08"].sum() / a["2022-03":"2022-08"].sum())
    assert np.mean(falls) > 0.75
    # other groups keep crossing
    others = sim.run(cfg, seed=1).timeseries["arrivals_afghan"]
    assert others["2023-03":"2023-08"].sum() > 0.5 * others["2022-03":"2022-08"].sum()


def test_no_patrols_and_no_returns_give_more_crossings_than_the_baseline():
    base = short_config("baseline")
    open_coast = short_config("baseline", **{"patrols.base_capacity_units": 0, "patrols.uk_payment_gbp_per_year": 0})
    diffs = [sim.run(open_coast, seed=s).summary["arrivals_uk"] - sim.run(base, seed=s).summary["arrivals_uk"]
             for s in range(2)]
    assert min(diffs) > 0
    assert sim.run(open_coast, seed=0).summary["prevented_share"] == 0


# ----------------------------------------------------------------------------- clean-up
def test_finished_model_is_freed():
    cfg = short_config("pilot_50", end_date="2025-02-28")
    model = ChannelModel(cfg, rng=1)
    model.run_model()
    ref = weakref.ref(model)
    free_model(model)
    del model
    gc.collect()
    assert ref() is None, "a finished model is still referenced (Mesa 3.3 keeps models in Agent._ids)"


def test_repeated_runs_do_not_accumulate_models():
    cfg = short_config("baseline", end_date="2025-01-31")
    sim.run(cfg, seed=0)
    gc.collect()
    before = len(getattr(mesa.Agent, "_ids", {}))
    models_before = live_models()
    for s in range(5):
        sim.run(cfg, seed=s)
    gc.collect()
    assert len(getattr(mesa.Agent, "_ids", {})) <= before
    assert live_models() <= models_before


def test_ramp_up_raises_the_quota_while_it_is_used_and_never_past_its_ceiling():
    cfg = short_config("pilot_50", **{"returns.quota_per_week": 10, "returns.challenge_block_share": 0.0,
                                      "returns.ramp_up.enabled": True, "returns.ramp_up.every_weeks": 2,
                                      "returns.ramp_up.step": 10, "returns.ramp_up.max_quota_per_week": 60})
    ts = sim.run(cfg, seed=1).timeseries
    quota = ts.loc[ts.index >= pd.Timestamp("2025-08-04"), "returns_quota_per_week"]
    assert quota.iloc[0] == 10
    assert quota.max() == 60
    assert quota.is_monotonic_increasing
    start = pd.Timestamp("2025-08-04")
    policy = ts.loc[ts.index >= start]
    week = (policy.index - start).days // 7
    assert (policy.groupby(week)["returns"].sum() <= policy.groupby(week)["returns_quota_per_week"].max()).all()


def test_super_individuals_keep_the_invariants_and_the_scale():
    """people_per_agent=5: counts are in people; totals close to one agent per person."""
    one = sim.run(short_config("baseline"), seed=1).summary["arrivals_uk"]
    cfg = short_config("baseline", people_per_agent=5)
    model = ChannelModel(cfg, rng=1)
    model.run_model()
    ts = model.datacollector.get_model_vars_dataframe()
    stocks = ts[[c for c in ts.columns if c.startswith("n_")]].sum(axis=1)
    assert (stocks == ts["cum_inflow"]).all()
    assert (ts["cum_inflow"] % 5 == 0).all()
    five = ts["arrivals_uk"].sum()
    free_model(model)
    assert 0.6 * one < five < 1.4 * one


def test_a_model_copied_mid_run_goes_on_exactly_as_the_original_with_its_own_streams():
    """copy.deepcopy of a model (to branch a run) copies its random generators; the compiled loops
    of the copy draw from the copy's generators, so both go on alike and independently."""
    m = ChannelModel(short_config("pilot_50", start_date="2025-06-01", end_date="2025-12-31"), rng=1)
    try:
        for _ in range(60):
            m.step()
        branch = copy.deepcopy(m)
        for name in ("choice", "beliefs", "attributes", "upstream"):
            assert getattr(branch.streams, name).rng is getattr(branch.rngs, name) is not getattr(m.rngs, name)
        for _ in range(30):
            branch.step()
        assert m.day == 60    # the branch's days drew nothing from the original
        for _ in range(30):
            m.step()
        pd.testing.assert_frame_equal(branch.datacollector.get_model_vars_dataframe(),
                                      m.datacollector.get_model_vars_dataframe(), check_exact=True)
        free_model(branch)
    finally:
        free_model(m)

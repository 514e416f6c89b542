"""Each submodel on its own, against what its rule says analytically (ODD 7).

A failure here points at the broken rule, not at a whole run: the weather chain, the
prevention curve, sea risk, launch planning, the weekly price step, the population's
moves, the authority's weekly ceiling, patrol redeployment, the boat supply, and the
safety of every agent type's public ``step``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sim
from sim.agents import decision
from sim.agents.binding import ENDED_AGENTS_KEPT, AgentTable
from sim.agents.gang import BoatSupply, SmugglingGang
from sim.agents.migrant import Migrant
from sim.agents.patrol import BorderPatrol, prevention_probability, redeploy_patrols
from sim.agents.returns import ReturnsAuthority
from sim.constants import (
    FILL_WAIT_LAST_RESORT_FACTOR,
    PATROL_SHARE_FLOOR,
    SEIZURE_SMOOTHING,
)
from sim.environment import Weather, sea_death_probability
from sim.model import ChannelModel, free_model
from sim.population import GONE, MigrantState, Population
from tests.helpers import check_invariants, short_config


@pytest.fixture
def model():
    """A pilot model stepped into the policy period (returns, the legal route, launches)."""
    m = ChannelModel(short_config("pilot_50", end_date="2026-06-30"), rng=5)
    for _ in range(240):   # to 2025-08-29: the pilot runs from 2025-08-04
        m.step()
    yield m
    free_model(m)


# ------------------------------------------------------------------------- weather (7.1)
@pytest.mark.parametrize("rho", [0.0, 0.4, 0.8])
def test_weather_chain_long_run_crossable_share_is_the_months_share(rho):
    cfg = sim.load_config(None, {"environment.crossable_share_by_month": [0.2] * 6 + [0.6] * 6,
                                 "environment.weather_persistence": rho})
    w = Weather(cfg, np.random.default_rng(1))
    n = 60_000
    for month, pi in ((3, 0.2), (8, 0.6)):
        days = []
        for _ in range(n):
            w.step(month)
            days.append(w.crossable)
        days = np.array(days)
        assert days.mean() == pytest.approx(pi, abs=0.015)
        # persistence: P(crossable tomorrow | crossable today) = pi + rho (1 - pi)
        stay = days[1:][days[:-1]].mean()
        assert stay == pytest.approx(pi + rho * (1 - pi), abs=0.02)


# --------------------------------------------------------------------- prevention (7.6)
def test_prevention_probability_rises_with_capacity_to_its_ceiling():
    caps = np.linspace(0.0, 50.0, 11)
    p = prevention_probability(caps, 5.0, 0.7, 0.3)
    assert p[0] == 0.0
    assert np.all(np.diff(p) > 0)
    # diminishing returns: each extra unit adds less; the limit is p_max
    assert np.all(np.diff(np.diff(p)) < 0)
    assert prevention_probability(1e6, 5.0, 0.7, 0.3) == pytest.approx(0.7)
    # capacity per launch: twice the launches on twice the capacity is the same probability
    assert prevention_probability(20.0, 10.0, 0.7, 0.3) == pytest.approx(prevention_probability(10.0, 5.0, 0.7, 0.3))
    # fewer than one launch counts as one
    assert prevention_probability(3.0, 0.0, 0.7, 0.3) == pytest.approx(0.7 * (1 - math.exp(-0.9)))


# ----------------------------------------------------------------------- sea risk (7.7)
def test_sea_risk_follows_the_load_power_law_and_marginal_weather():
    cfg = sim.load_config(None)
    env = cfg.environment
    ref = env.reference_people_per_boat
    base = sea_death_probability(np.array([ref]), False, cfg)[0]
    assert base == pytest.approx(env.sea_deaths_per_1000 / 1000)
    double = sea_death_probability(np.array([2 * ref]), False, cfg)[0]
    assert double / base == pytest.approx(2 ** env.overcrowding_elasticity)
    marginal = sea_death_probability(np.array([ref]), True, cfg)[0]
    assert marginal / base == pytest.approx(env.marginal_weather_risk_factor)
    assert sea_death_probability(np.array([1e9]), True, cfg)[0] <= 1.0


# ------------------------------------------------------------------- launches (7.5)
def test_launch_planning_fills_boats_and_sends_short_ones_only_after_the_wait(model):
    gang = model.gangs[0]
    p = model.config.gangs
    gang.people_per_boat, gang.boats = 50.0, 100
    most = min(3, p.max_launches_per_day)
    assert gang.plan_launches(175, 0) == [50] * most              # full boats only; the rest wait
    assert gang.plan_launches(50 * (p.max_launches_per_day + 5), 0) == [50] * p.max_launches_per_day
    gang.boats = 1
    assert gang.plan_launches(175, 0) == [50]                     # no more boats than in stock
    early = max(p.people_per_boat_min, math.ceil(p.min_fill_share * 50))
    assert gang.plan_launches(early, p.max_fill_wait_days - 1) == []        # not yet
    assert gang.plan_launches(early, p.max_fill_wait_days) == [early]       # short boat after the wait
    if early - 1 >= p.people_per_boat_min:
        assert gang.plan_launches(early - 1, p.max_fill_wait_days) == []    # too few for the wait
        late = FILL_WAIT_LAST_RESORT_FACTOR * p.max_fill_wait_days
        assert gang.plan_launches(early - 1, late) == [early - 1]           # last resort
    gang.boats = 0
    assert gang.plan_launches(early, 10 * p.max_fill_wait_days) == []       # no boat, no launch


def test_the_markets_boats_are_each_gangs_plan_for_its_customers_earliest_booked_first(model):
    """GangMarket.plan_boats (one compiled loop over the gangs) gives each active gang the boats of
    its own plan_launches on its queue, filled with its customers by booking day, then row."""
    pop, day = model.pop, model.day
    booked = pop.where(MigrantState.BOOKED)
    pop.booked_day[booked] = day - (booked % 9)            # a spread of booking days, ties broken by row
    active = model.market.active
    for g in active:
        g.boats = max(g.boats, 3)
    boats = model.market.plan_boats(pop, day)
    assert boats is not None and len(boats) > 0
    got: dict[int, list] = {}
    for b, g in enumerate(boats.gangs):
        got.setdefault(g.gang_index, []).append(boats.passengers[boats.boat_of == b].tolist())
    for g in active:
        mine = booked[pop.gang[booked] == g.gang_index]
        mine = mine[np.lexsort((mine, pop.booked_day[mine]))]
        loads = g.plan_launches(mine.size, day - int(pop.booked_day[mine[0]])) if mine.size else []
        want, first = [], 0
        for load in loads:
            want.append(mine[first:first + load].tolist())
            first += load
        assert got.get(g.gang_index, []) == want, f"gang {g.gang_index}"


def _same_books(a: ChannelModel, b: ChannelModel) -> None:
    from sim.agents.gang_book import GANG_COLUMNS

    for name in GANG_COLUMNS:
        assert np.array_equal(getattr(a.market.book, name), getattr(b.market.book, name), equal_nan=True), name
    assert a.today == b.today
    assert [list(g.profits) for g in a.gangs] == [list(g.profits) for g in b.gangs]


def test_the_markets_daily_and_weekly_loops_are_each_gangs_own_rules(model):
    """GangMarket.step and GangMarket.weekly (compiled loops over the book's rows) change every
    gang exactly as its own step, close_week and weekly_review would, one gang after another."""
    import copy

    pp = model.config.patrols
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    for m in (a, b):
        m.begin_day()
        for p in m.patrols:   # many launches prevented in the week: taxi boats and a move of sector
            p.launches_seen_week, p.prevented_week = 40, 30
        for g in m.market.active:
            m.market.book.week_launches[g.gang_index] += 6
            m.market.book.week_prevented[g.gang_index] += 5
    a.market.step()
    for g in b.market.active:
        g.step()
    _same_books(a, b)
    seized, least = 30 * len(pp.sectors), 1
    a.market.weekly(seized, least, a.streams.gangs)
    mb = b.market
    backlog = mb.backlog(b.pop, b.day)
    price = mb.supply.update(seized, b.date.year)
    active = list(mb.active)
    for g in active:
        g.close_week()
    market_seats = float(sum(w["seats"] for g in active for w in g.recent))
    rate = b.authority.public_return_probability()
    for g in active:
        g.weekly_review(price, int(backlog[g.gang_index]) * b.people_per_agent, least, market_seats, b.streams.gangs,
                        rate)
    for g in active:
        if g.should_exit:
            mb.exit(g)
    mb.maybe_enter(b.streams.gangs.rng)
    _same_books(a, b)
    assert a.today["tactic_changes"] > 0 and any(g.taxi_boats for g in a.gangs)   # the test reached the tactics
    assert a.rngs.gangs.random() == b.rngs.gangs.random()                          # and drew the same numbers


# --------------------------------------------------------------------- prices (7.8)
def test_weekly_price_step_is_bounded_by_the_adjustment_rate(model):
    p = model.config.gangs
    gang = next(g for g in model.gangs if g.active)
    window = {"seats": 100.0, "launches": 2.0, "total_launches": 8, "prevented_share": 0.4}
    floor = gang.variable_cost(model.boat_price_gbp, window["prevented_share"])
    for demand, start in ((1e6, 2000.0), (0.0, 5000.0), (100.0, 3000.0)):
        gang.price_gbp = start
        gang.normal_demand = 100.0
        gang.reprice(model.boat_price_gbp, window, demand, market_seats=1200.0)
        step = gang.price_gbp / start - 1
        assert -p.price_adjust_rate - 1e-12 <= step <= p.price_adjust_rate + 1e-12
        assert floor <= gang.price_gbp <= p.price_max_gbp
    # from the price without pressure (the variable cost plus the markup), demand above the normal
    # volume pushes the price up and idle capacity down
    from sim.constants import MAX_MARKET_SHARE

    share = min(window["seats"] * len(gang.recent) / 1200.0, MAX_MARKET_SHARE)
    neutral = floor + model.config.migrants.choice_scale_gbp / (1.0 - share)
    prices = {}
    for demand in (1e6, 0.0):
        gang.price_gbp, gang.normal_demand = neutral, 100.0
        gang.reprice(model.boat_price_gbp, window, demand, market_seats=1200.0)
        prices[demand] = gang.price_gbp
    assert prices[1e6] > prices[0.0]


def test_price_never_falls_below_the_variable_cost_of_a_seat(model):
    """The floor is the cost of a seat, not a constant: collapsing demand lowers the price toward
    it, and a price below it (dearer boats) is raised to it at once."""
    gang = next(g for g in model.gangs if g.active)
    window = {"seats": 100.0, "launches": 2.0, "total_launches": 8, "prevented_share": 0.0}
    floor = gang.variable_cost(model.boat_price_gbp, 0.0)
    gang.price_gbp, gang.normal_demand = 4000.0, 100.0
    seen = []
    for _ in range(30):
        gang.reprice(model.boat_price_gbp, window, 0.0, market_seats=1200.0)
        seen.append(gang.price_gbp)
    assert seen[-1] < 4000.0 and min(seen) >= floor
    dear = 4 * model.boat_price_gbp
    gang.price_gbp = floor
    gang.reprice(dear, window, 0.0, market_seats=1200.0)
    assert gang.price_gbp >= gang.variable_cost(dear, 0.0) > floor


def test_markup_is_the_logit_bertrand_markup_at_normal_demand(model):
    """At normal demand the target price is the variable cost plus sigma / (1 - share)."""
    gang = next(g for g in model.gangs if g.active)
    window = {"seats": 100.0, "launches": 2.0, "total_launches": 8, "prevented_share": 0.0}
    book, i = gang.book, gang.gang_index          # one recent week: 100 seats, 2 launches
    book.n_recent[i] = 1
    book.recent[i, 0] = [0.0, 0.0, 100, 2, 0]
    assert gang.recent == [{"revenue": 0.0, "cost": 0.0, "seats": 100.0, "launches": 2.0, "prevented": 0.0}]
    sigma = model.config.migrants.choice_scale_gbp
    target = gang.variable_cost(model.boat_price_gbp, 0.0) + sigma / (1 - 100 / 400)
    gang.price_gbp, gang.normal_demand = target, 100.0
    gang.reprice(model.boat_price_gbp, window, 100.0, market_seats=400.0)
    assert gang.price_gbp == pytest.approx(target)


def test_boat_supply_price_rises_when_seizures_run_above_the_reference_rate():
    p = sim.load_config(None).gangs
    supply = BoatSupply(p, 2025)
    base = supply.price_gbp
    ref = p.boat_seizures_reference_per_week
    supply.update(int(ref), 2025)
    assert supply.seized == int(ref) and supply.price_gbp == base       # at the reference: no premium
    supply.update(int(3 * ref), 2025)
    seized = int(ref) + SEIZURE_SMOOTHING * 2 * int(ref)
    assert supply.price_gbp == pytest.approx(base * (1 + p.boat_price_seizure_elasticity * (seized / ref - 1)))
    for _ in range(40):
        supply.update(0, 2025)
    assert supply.price_gbp == base


# ---------------------------------------------------------------- population (3.3)
def test_population_moves_keep_counts_and_release_rows_lowest_first():
    pop = Population(capacity=4)
    a = pop.add(3, MigrantState.EN_ROUTE, day=0)
    b = pop.add(3, MigrantState.WAITING, day=0)          # grows past the capacity
    assert pop.cum_inflow == 6 and pop.state_counts[MigrantState.EN_ROUTE] == 3
    assert list(pop.person_id[np.r_[a, b]]) == list(range(6))
    pop.applicant[b[:2]] = True
    assert pop.n_applicants == 2
    pop.move(b[:1], MigrantState.BOOKED, day=3)           # leaving a state ends an application
    assert pop.n_applicants == 1 and pop.since[b[0]] == 3
    pop.move(a[1:], MigrantState.IN_UK, day=4, keep_since=True)
    assert pop.since[a[1]] == 0
    assert (pop.counts() == pop.state_counts).all()
    born, gone = pop.take_changes()
    assert sorted(born) == sorted(np.r_[a, b]) and list(gone) == sorted(a[1:])
    assert set(pop.state[gone]) <= set(GONE)
    pop.release(gone)
    assert pop.n_live == 4 and pop.state_counts.sum() == pop.cum_inflow == 6
    again = pop.add(3, MigrantState.EN_ROUTE, day=5)       # reuses the freed rows, lowest first
    assert list(again[:2]) == sorted(gone) and again[2] == 6
    assert list(pop.person_id[again]) == [6, 7, 8]
    assert not pop.applicant[again].any() and (pop.gang[again] == -1).all()


def test_a_new_person_depends_only_on_the_draws_not_on_the_row_reused(model):
    """Every field of a newcomer is set, so a reused row holds nothing of its last person."""
    groups = np.array([0, 1, 2, 1])
    rng_state = model.rngs.attributes.bit_generator.state
    fresh = Migrant.set_out(model, groups)
    values = {f: getattr(model.pop, f)[fresh].copy() for f in sim.population.FIELDS if f != "person_id"}
    model.pop.move(fresh, MigrantState.DEAD, model.day)
    model.pop.release(model.pop.take_changes()[1])
    for f in sim.population.FIELDS:                          # dirty every released row
        getattr(model.pop, f)[fresh] = 7
    model.rngs.attributes.bit_generator.state = rng_state
    again = Migrant.set_out(model, groups)
    assert sorted(again) == sorted(fresh)
    for f, v in values.items():
        np.testing.assert_array_equal(getattr(model.pop, f)[again], v, err_msg=f)


def test_agents_are_bound_when_the_population_grows_and_people_leave_the_same_day(model):
    """Rows beyond the old capacity that are added and gone within one day (a regression:
    the agent table was grown only after the day's departures were looked up)."""
    pop = model.pop
    n = pop.capacity - pop.n_live + 100                # more than the free rows: the arrays grow today
    rows = Migrant.set_out(model, np.zeros(n, dtype=np.int64), MigrantState.WAITING)
    assert pop.capacity > model.agent_of_row.size
    pop.move(rows[-50:], MigrantState.LEFT_ROUTE, model.day)   # some of the newest leave at once
    model.bind_agents()
    check_invariants(model)
    model.step()
    check_invariants(model)


# ------------------------------------------------------------ returns authority (7.11)
def test_authority_never_returns_more_than_the_weekly_quota_even_stepped_twice_a_day(model):
    auth = model.authority
    quota = auth.quota_per_week
    weekly: dict[int, int] = {}
    def week_of(day: int) -> int:
        return (day - auth.start_day) // 7

    for _ in range(35):
        model.step()                   # the day model.day - 1
        done = int(model.today["returns"])
        weekly[week_of(model.day - 1)] = weekly.get(week_of(model.day - 1), 0) + done
        auth.step()                    # an extra call between days acts on day model.day ...
        extra = int(model.today["returns"]) - done
        weekly[week_of(model.day)] = weekly.get(week_of(model.day), 0) + extra
        auth.step()                    # ... and a second one that day returns nobody else
        assert int(model.today["returns"]) == done + extra
        check_invariants(model, settled=False)
    assert max(weekly.values()) <= quota
    assert sum(weekly.values()) > 0


def test_announced_return_probability_is_the_quotas_share_of_eligible_arrivals(model):
    auth, cfg = model.authority, model.config
    weekly = auth.covered_arrivals_per_week()
    adult, block = cfg.migrants.adult_share, cfg.returns.challenge_block_share
    share = min(1.0, auth.quota_per_week / max(weekly * adult, 1.0))
    assert auth.announced_return_probability() == pytest.approx(share * adult * (1 - block))
    assert auth.expected_returns_per_week() >= 0


# ----------------------------------------------------------------- patrols (7.10)
def test_redeployment_moves_toward_launches_keeps_a_floor_and_sums_to_one(model):
    patrols = model.patrols
    for p in patrols:
        p.launches_seen_week = 0
    patrols[0].launches_seen_week = 100
    before = [p.share for p in patrols]
    redeploy_patrols(patrols, rate=0.5)
    shares = np.array([p.share for p in patrols])
    assert shares.sum() == pytest.approx(1.0)
    assert shares.min() >= PATROL_SHARE_FLOOR * 0.999
    assert shares[0] > before[0]
    assert all(p.launches_seen_week == 0 and p.prevented_week == 0 for p in patrols)
    redeploy_patrols(patrols, rate=0.5)            # no launches seen: shares stay
    np.testing.assert_allclose([p.share for p in patrols], shares)


def test_additional_payment_and_at_sea_interception_start_on_their_dates():
    """The interception alternative to returns is dated: patrol capacity and payments rise on
    ``extra_payment_start_date``, at-sea interception starts on its own date."""
    import datetime as dt

    from sim.agents.patrol import at_sea_interception_on, uk_payment_on

    cfg = short_config(**{"patrols.extra_payment_gbp_per_year": 80e6, "patrols.at_sea_interception": True,
                          "patrols.extra_payment_start_date": "2025-01-10",
                          "patrols.at_sea_interception_start_date": "2025-01-10"})
    pp = cfg.patrols
    start = dt.date(2025, 1, 10)
    assert uk_payment_on(pp, start - dt.timedelta(days=1)) == pp.uk_payment_gbp_per_year
    assert uk_payment_on(pp, start) == pp.uk_payment_gbp_per_year + 80e6
    assert not at_sea_interception_on(pp, start - dt.timedelta(days=1)) and at_sea_interception_on(pp, start)
    assert at_sea_interception_on(pp.model_copy(update={"at_sea_interception_start_date": None}), start)
    model = ChannelModel(cfg, rng=3)
    units = []
    for _ in range(12):
        model.step()
        units.append((model.date, model.patrol_capacity_units, model.today["payments_to_france_gbp"]))
    before = [u for u in units if u[0] < start]
    after = [u for u in units if u[0] >= start]
    assert before and after
    extra_units = 80e6 / pp.gbp_per_unit_per_year
    assert all(u[1] == pytest.approx(before[0][1]) for u in before)
    assert all(u[1] == pytest.approx(before[0][1] + extra_units) for u in after)
    assert after[0][2] == pytest.approx((pp.uk_payment_gbp_per_year + 80e6) / 365.25)
    free_model(model)


# ----------------------------------------------------------------- the future inflow
def test_future_inflow_fixed_keeps_the_last_listed_multiplier_and_ensemble_walks_in_logs():
    from sim.environment import Inflow

    cfg = sim.load_config("baseline", {"environment.future_inflow": "fixed"})
    last = max(cfg.environment.inflow_year_multiplier)
    fixed = Inflow(cfg, np.random.default_rng(0), np.random.default_rng(1))
    assert all(f == 1.0 for f in fixed.future.values()) and cfg.end_date.year in fixed.future
    assert fixed.year_multiplier(last + 2) == cfg.environment.inflow_year_multiplier[last]
    ens = cfg.model_copy(update={"environment": cfg.environment.model_copy(
        update={"future_inflow": "ensemble", "future_inflow_log_sd": 0.3, "future_inflow_log_drift": 0.05})})
    paths = [Inflow(ens, np.random.default_rng(0), np.random.default_rng(s)).future for s in range(4000)]
    first = np.log([p[last + 1] for p in paths])
    second_step = np.log([p[last + 2] / p[last + 1] for p in paths])
    for steps in (first, second_step):          # independent steps of mean drift and sd log_sd
        assert steps.mean() == pytest.approx(0.05, abs=0.02) and steps.std() == pytest.approx(0.3, rel=0.05)
    assert abs(np.corrcoef(first, second_step)[0, 1]) < 0.05
    one = Inflow(ens, np.random.default_rng(0), np.random.default_rng(7))
    assert one.year_multiplier(last + 1) == pytest.approx(cfg.environment.inflow_year_multiplier[last] * one.future[last + 1])
    assert one.year_multiplier(last) == cfg.environment.inflow_year_multiplier[last]


def test_future_inflow_path_is_common_to_scenarios_on_a_seed_and_differs_across_seeds():
    overrides = {"environment.future_inflow": "ensemble", "end_date": "2027-12-31", "start_date": "2025-06-01"}
    a = ChannelModel(sim.load_config("baseline", overrides), rng=5)
    b = ChannelModel(sim.load_config("quota_200", overrides), rng=5)
    c = ChannelModel(sim.load_config("baseline", overrides), rng=6)
    assert a.inflow.future == b.inflow.future != c.inflow.future
    assert a.inflow.future[2027] != 1.0
    for m in (a, b, c):
        free_model(m)


def test_the_shipped_future_inflow_sd_is_the_fit_to_the_series():
    from sim.calibration.future import fit_future_inflow

    fit = fit_future_inflow()
    assert sim.load_config("baseline").environment.future_inflow_log_sd == pytest.approx(fit.log_sd, abs=5e-4)
    assert set(fit.changes) == {2022, 2023, 2024, 2025}


# ----------------------------------------------------------- every agent's step (3.2)
def test_every_agent_types_public_step_keeps_the_invariants(model):
    """As a student or Mesa's tools would: step each agent type through its AgentSet."""
    types = {type(a) for a in model.agents}
    assert {Migrant, SmugglingGang, BorderPatrol, ReturnsAuthority} <= types
    for _ in range(10):
        model.step()
        for cls in (Migrant, SmugglingGang, BorderPatrol, ReturnsAuthority):
            model.agents_by_type[cls].shuffle_do("step")
            check_invariants(model, settled=False)
    # Migrant.step on people en route does nothing: nobody books before reaching the coast
    pop = model.pop
    en_route = pop.where(MigrantState.EN_ROUTE)
    assert en_route.size
    for r in en_route[:50]:
        model.agent_of_row[r].step()
    assert (pop.state[en_route] == MigrantState.EN_ROUTE).all()


def test_the_one_loop_scans_find_the_rows_numpy_finds(model):
    """Scans over every row written as one compiled loop without branches (those due for review,
    those whose journey is over, the mean belief at the coast) agree with the same question put to NumPy."""
    pop = model.pop
    every = np.arange(pop.size)
    en_route = np.zeros(len(MigrantState) + 1, dtype=bool)    # indexed by state; the free rows' -1 is False
    en_route[MigrantState.EN_ROUTE] = True
    journeying = pop.where(MigrantState.EN_ROUTE)
    assert journeying.size
    for day in (model.day - 3, model.day, model.day + 5):
        np.testing.assert_array_equal(Migrant.due_for_review(pop, day), every[Migrant.is_due(pop, every, day)])
        np.testing.assert_array_equal(decision.rows_due(pop.state, pop.due_day, pop.size, day, en_route),
                                      journeying[pop.due_day[journeying] <= day])
    coast = np.isin(pop.state[: pop.size], [int(s) for s in sim.population.AT_COAST])
    assert coast.any()
    r_a, r_b = pop.r_a[: pop.size][coast], pop.r_b[: pop.size][coast]
    assert pop.mean_return_belief_at_coast() == pytest.approx(np.mean(r_a / (r_a + r_b)), rel=1e-12)


def test_migrant_step_does_exactly_what_the_daily_stage_does():
    """Two identical models: the daily stage applied to one due person, and that person's
    agent stepped, leave the same population, gangs' cash and random streams."""
    cfg = short_config("pilot_50", end_date="2025-12-31")
    a, b = ChannelModel(cfg, rng=9), ChannelModel(cfg, rng=9)
    try:
        for _ in range(230):
            a.step()
            b.step()
        due = Migrant.due_for_review(a.pop, a.day)
        assert due.size > 0
        for row in due[:5]:
            Migrant.review(a, np.array([row]))
            b.agent_of_row[row].step()
            b.agent_of_row[row].step()     # a second step the same day: no longer due, nothing happens
        for f in ("state", *sim.population.FIELDS):
            np.testing.assert_array_equal(getattr(a.pop, f), getattr(b.pop, f), err_msg=f)
        assert [g.cash_gbp for g in a.gangs] == [g.cash_gbp for g in b.gangs]
        assert a.rngs.choice.random() == b.rngs.choice.random()
        check_invariants(b, settled=False)
        b.step()
        check_invariants(b)
    finally:
        free_model(a)
        free_model(b)


def test_ended_agents_keep_who_they_were_and_leave_mesa_only_beyond_the_pool(model):
    ended = model.ended_agents
    assert ended, "people have left the model by now"
    a = ended[-1]
    assert not a.bound and a.state in GONE and a.person_id >= 0
    assert "left the model" in repr(a)
    with pytest.raises(AttributeError, match="no longer kept"):
        _ = a.wealth_gbp
    a.step()   # nothing to do
    n_migrants = len(model.agents_by_type[Migrant])
    assert n_migrants == len(model.migrants) + len(ended)


# ------------------------------------------------------------ the compiled rules (sim/agents/decision.py)
def test_the_compiled_rules_do_exactly_what_their_python_says(tmp_path):
    """The per-person loops run as plain Python (NUMBA_DISABLE_JIT=1, in a fresh process) and
    compiled give the same daily series, to the last bit: compiling changes nothing but speed."""
    window = {"start_date": "2025-06-01", "end_date": "2025-09-30"}
    out = tmp_path / "python.pkl"
    code = f"import sim; sim.run(sim.load_config('pilot_50', {window!r}), seed=4).timeseries.to_pickle({str(out)!r})"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, check=True)
    compiled = sim.run(sim.load_config("pilot_50", window), seed=4).timeseries
    assert compiled["arrivals_uk"].sum() > 0 and compiled["decisions"].sum() > 0
    pd.testing.assert_frame_equal(pd.read_pickle(out), compiled, check_exact=True)


def test_the_compiled_loops_draw_numpys_numbers_from_the_same_stream():
    """A compiled loop draws from the model's NumPy generator (through a Stream) the numbers NumPy
    would draw, in the order its docstring gives, and the generator goes on where the loop left it."""
    n, k, distortion, success, death = 60, 5, 0.4, 0.6, 0.02
    return_rate = np.array([0.1, 0.3])
    group = np.arange(n) % 2
    ours, numpys = np.random.default_rng(7), np.random.default_rng(7)
    heard_s, heard_r, heard_d = decision.hear_contacts(np.arange(n), group, decision.stream(ours), k, distortion,
                                                       success, return_rate, death)
    noise = np.exp(distortion * numpys.standard_normal((3, n)))
    want_s = numpys.binomial(k, np.clip(success * noise[0], 0, 1))
    want_r = numpys.binomial(k, np.clip(return_rate[group] * noise[1], 0, 1))
    np.testing.assert_array_equal(heard_s, want_s)
    np.testing.assert_array_equal(heard_r, want_r)
    np.testing.assert_allclose(heard_d, np.clip(death * noise[2], 0, 1), rtol=1e-15)   # exp: C library vs NumPy's
    assert ours.random() == numpys.random()
    # the logit noise: NumPy's Gumbel draw, number for number (its uniform, then its arithmetic)
    s = decision.stream(ours)
    gumbels = [decision._gumbel_of(decision._gumbel_uniform(s.rng)) for _ in range(1000)]
    assert gumbels == numpys.gumbel(size=1000).tolist()
    assert ours.random() == numpys.random()


def test_the_pool_keeps_agents_up_to_the_peak_so_a_population_that_empties_and_refills_creates_none():
    """Agents of people who left wait in the pool, which keeps as many as the most people the model
    has held at once (here 3,000, more than ENDED_AGENTS_KEPT): people who come later reuse them."""
    m = ChannelModel(short_config("baseline", end_date="2025-01-31"), rng=1)
    try:
        pop = Population(16)
        created: list[int] = []
        table = AgentTable(lambda slot: created.append(slot) or Migrant(m, slot), pop.capacity)
        rows = pop.add(3000, MigrantState.WAITING, 0)
        table.bind(pop)
        assert len(created) == 3000 and table.peak_live == 3000 > ENDED_AGENTS_KEPT
        pop.move(rows, MigrantState.LEFT_ROUTE, 1)         # everyone leaves
        table.bind(pop)
        assert pop.n_live == 0 and table.pool.size == 3000   # all kept (above ENDED_AGENTS_KEPT, up to the peak)
        assert all(a is not None for a in table.agents) and (table.row_of_slot[:3000] == -1).all()
        again = pop.add(3000, MigrantState.WAITING, 2)       # as many come again
        table.bind(pop)
        assert len(created) == 3000 and table.pool.size == 0
        assert sorted(table.row_of_slot[:3000].tolist()) == sorted(again.tolist())
        more = pop.add(500, MigrantState.WAITING, 3)         # beyond the peak: new agents, a new peak
        table.bind(pop)
        assert len(created) == 3500 and table.peak_live == 3500
        pop.move(np.concatenate([again, more]), MigrantState.DEAD, 4)
        table.bind(pop)
        assert table.pool.size == 3500 and sum(a is not None for a in table.agents) == 3500
    finally:
        free_model(m)

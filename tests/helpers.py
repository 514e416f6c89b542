"""Test helpers shared by the model tests: short horizons, live states and the invariants.

``check_invariants(model)`` is the one statement of what must hold after every day (and
after any agent's ``step``): people conserved and counted in one state each, every person
in the model bound to exactly one Mesa agent, money conserved in the gangs' ledgers, and
prices within their bounds.
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np

import sim
from sim.population import GONE, MigrantState

# Each short scenario starts in 2025 so that the pilot (from 2025-08-04) is active.
SHORT = {"start_date": "2025-01-01", "end_date": "2026-06-30"}

#: States of people who stay in the model (rows and agents) until their story ends.
LIVE_STATES = tuple(s for s in MigrantState if s not in GONE)
#: The gangs' cash costs booked in their ledgers.
CASH_COSTS = ("boats_bought", "running", "fixed", "arrests")


def short_config(name: str = "baseline", **overrides: object) -> sim.Config:
    """A shipped scenario shortened to 2025-01-01 .. 2026-06-30, with overrides."""
    return sim.load_config(name, {**SHORT, **overrides})


def money_identity(model: Any) -> tuple[float, float]:
    """(cash held by all gangs, what their ledgers say it must be)."""
    led = {k: sum(g.ledger[k] for g in model.gangs) for k in ("revenue", *CASH_COSTS)}
    expected = model.total_initial_cash_gbp + led["revenue"] - sum(led[k] for k in CASH_COSTS)
    return float(sum(g.cash_gbp for g in model.gangs)), expected


def check_invariants(model: Any, settled: bool = True) -> None:
    """What holds after every day (raises AssertionError naming the day and what broke).

    ``settled=False`` checks a model between two days after agents were stepped on their
    own: people whose story ended then keep their rows until the end of the next day.
    """
    day = model.day
    counts, pop = model.counts, model.pop
    assert (counts >= 0).all(), f"day {day}: negative state count {counts}"
    assert counts.sum() == model.cum_inflow, f"day {day}: people not conserved"
    live = pop.counts()
    for s in MigrantState:
        if s in LIVE_STATES:
            assert live[s] == counts[s], f"day {day}: {live[s]} rows of {s.name}, expected {counts[s]}"
        elif settled:
            assert live[s] == 0, f"day {day}: {live[s]} rows of {s.name} not released"
        else:
            assert live[s] <= counts[s], f"day {day}: {live[s]} rows of {s.name}, only {counts[s]} ever"
    assert counts[MigrantState.AT_SEA] == 0, f"day {day}: crossings finish within the day"
    # applicants are waiting at the coast, and only people at the coast have booked
    n = pop.size
    assert (pop.state[:n][pop.applicant[:n]] == MigrantState.WAITING).all(), f"day {day}: applicant not waiting"
    # one bound agent per person with a row (each agent pointing at its row: checked monthly,
    # as it visits every agent)
    rows = np.flatnonzero(pop.state[:n] >= 0)
    agents = model.agent_of_row[rows]
    assert rows.size == pop.n_live and not any(a is None for a in agents), f"day {day}: a person has no agent"
    assert len(model.migrants) == rows.size, f"day {day}: agents bound to released rows"
    if day % 30 == 0:
        assert [a.row for a in agents] == rows.tolist(), f"day {day}: agents bound to the wrong rows"
        assert not any(a.bound for a in model.ended_agents), f"day {day}: a pooled agent is still bound"

    cash, expected = money_identity(model)
    assert abs(cash - expected) <= 1e-6 * max(abs(expected), model.total_initial_cash_gbp), \
        f"day {day}: gang cash {cash} != ledger {expected}"
    gp = model.config.gangs
    for g in model.gangs:
        if g.active:
            assert 0 < g.price_gbp <= max(gp.price_max_gbp, g.variable_cost(model.boat_price_gbp, 1.0)), g


def live_models() -> int:
    """ChannelModel objects the garbage collector tracks, after a collection (dead weak proxies,
    which Numba's dispatchers keep, raise ReferenceError on isinstance and are skipped)."""
    from sim.model import ChannelModel

    gc.collect()
    n = 0
    for o in gc.get_objects():
        try:
            n += isinstance(o, ChannelModel)
        except ReferenceError:
            pass
    return n

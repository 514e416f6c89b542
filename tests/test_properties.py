"""Property-based invariants of the model over a wide range of parameters (hypothesis).

For each drawn parameter set a one-year run (2025, with the returns policy and the
legal route from 2025-03-03, announced 2025-02-10) is stepped day by day, and after
every step:

* people are conserved: the state counts add up to everyone who ever entered, and a
  full scan of the live agents agrees with the incrementally kept counts;
* money is conserved: the gangs' cash equals their initial cash plus revenue minus
  the cash costs booked in their ledgers;
* every active gang's price lies between the variable cost of a seat and ``price_max_gbp``.

After the run the daily time series is checked: stocks add up to the cumulative
inflow, flows are finite and non-negative, returns never exceed the weekly quota and
the legal route never admits more than it may.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sim
from sim.agents.migrant import MigrantState
from sim.metrics import DAILY_FLOWS, STOCK_COLUMNS
from sim.model import free_model
from tests.helpers import check_invariants

POLICY_START = "2025-03-03"
BASE: dict[str, Any] = {
    "name": "property",
    "start_date": "2025-01-01",
    "end_date": "2025-12-31",
    "returns": {"start_date": POLICY_START, "announce_date": "2025-02-10"},
    "legal_route": {"start_date": POLICY_START},
}
FLOWS = list(DAILY_FLOWS)


def scenario(dotted: dict[str, Any]) -> dict[str, Any]:
    """BASE with dotted-name values set, as a mapping.

    A mapping rather than string overrides: those are parsed as YAML, which turns
    ``"off"`` into False (see test_config.py).
    """
    raw: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for name, value in dotted.items():
        section, key = name.split(".")
        raw.setdefault(section, {})[key] = value
    return raw


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """A returns quota and a legal route mode consistent with it."""
    quota = draw(st.one_of(st.integers(0, 500), st.just("all")))
    modes = ["off", "fixed"] if quota == 0 else ["off", "fixed", "matched"]
    mode = draw(st.sampled_from(modes))
    out: dict[str, Any] = {"returns.quota_per_week": quota, "legal_route.mode": mode}
    if mode == "fixed":
        out["legal_route.capacity_per_week"] = draw(st.integers(1, 500))
    return out


PARAMS = st.fixed_dictionaries({
    "environment.base_inflow_per_day": _floats(0.0, 400.0),
    "patrols.uk_payment_gbp_per_year": _floats(0.0, 5e8),
    "patrols.prevention_max": _floats(0.0, 1.0),
    "patrols.at_sea_interception": st.booleans(),
    "returns.processing_delay_days": st.integers(0, 45),
    "returns.challenge_block_share": _floats(0.0, 1.0),
    "gangs.initial_gangs": st.integers(1, 20),
    "gangs.retry_promise_prob": _floats(0.0, 1.0),
    "migrants.valuation_median_gbp": _floats(2000.0, 200000.0),
    "beliefs.rumour_distortion": _floats(0.0, 3.0),
    "uk.illegal_working_enforcement": _floats(0.0, 1.0),
})


def check_step(model: sim.ChannelModel) -> None:
    """Invariants that hold after every day (shared with the other model tests)."""
    check_invariants(model)


def check_series(ts: pd.DataFrame, cfg: sim.Config) -> None:
    """Invariants of the daily time series of a finished run."""
    assert len(ts) == cfg.n_days
    stocks = ts[list(STOCK_COLUMNS)]
    assert (stocks >= 0).all().all()
    np.testing.assert_array_equal(stocks.sum(axis=1).to_numpy(), ts["cum_inflow"].to_numpy())
    assert ts["cum_inflow"].is_monotonic_increasing
    flows = ts[FLOWS]
    assert not flows.isna().any().any(), flows.columns[flows.isna().any()].tolist()
    assert np.isfinite(flows.to_numpy()).all()
    assert (flows >= 0).all().all(), flows.columns[(flows < 0).any()].tolist()

    # returns: none before the policy, at most the quota in each policy week
    start = pd.Timestamp(cfg.returns.start_date)
    before, during = ts.index < start, ts.index >= start
    assert ts.loc[before, "returns"].sum() == 0
    week = (ts.index[during] - start).days // 7
    returns = ts.loc[during, "returns"].groupby(week).sum()
    admitted = ts.loc[during, "legal_admissions"].groupby(week).sum()
    quota = cfg.returns.quota_per_week
    if quota != "all":
        assert (returns <= quota).all(), returns[returns > quota]
    # the legal route: closed before its start; 'fixed' admits at most its capacity a
    # week, 'matched' at most ratio x the returns of the week before
    lr = cfg.legal_route
    assert ts.loc[before, "legal_admissions"].sum() == 0
    if lr.mode == "off":
        assert ts["legal_admissions"].sum() == 0
    elif lr.mode == "fixed":
        assert (admitted <= lr.capacity_per_week).all()
    else:
        allowed = (lr.ratio * returns.shift(1, fill_value=0)).round()
        assert (admitted <= allowed).all(), pd.DataFrame({"admitted": admitted, "allowed": allowed})


#: Defaults of the drawn parameters, for the explicit examples below.
DEFAULTS: dict[str, Any] = {
    "environment.base_inflow_per_day": 150.0, "patrols.uk_payment_gbp_per_year": 160e6,
    "patrols.prevention_max": 0.75, "patrols.at_sea_interception": False,
    "returns.processing_delay_days": 21, "returns.challenge_block_share": 0.4,
    "gangs.initial_gangs": 12, "gangs.retry_promise_prob": 0.5,
    "migrants.valuation_median_gbp": 30000.0, "beliefs.rumour_distortion": 0.3,
    "uk.illegal_working_enforcement": 0.0,
}


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(params=PARAMS, policy=policies(), seed=st.integers(0, 2**32 - 1))
# always also the pilot (a binding quota, the matched route) and a fixed route with 'all'
@example(params=DEFAULTS, policy={"returns.quota_per_week": 50, "legal_route.mode": "matched"},
         seed=1)
@example(params={**DEFAULTS, "returns.processing_delay_days": 0},
         policy={"returns.quota_per_week": "all", "legal_route.mode": "fixed",
                 "legal_route.capacity_per_week": 30}, seed=2)
def test_invariants_hold_every_day(params: dict[str, Any], policy: dict[str, Any],
                                   seed: int) -> None:
    cfg = sim.load_config(scenario({**params, **policy}))
    model = sim.ChannelModel(cfg, rng=seed)
    try:
        check_step(model)  # the first day's state, before any step
        while model.running:
            model.step()
            check_step(model)
        assert model.day == cfg.n_days
        ts = model.datacollector.get_model_vars_dataframe()
        ts.index = pd.date_range(cfg.start_date, periods=len(ts), freq="D")
        check_series(ts, cfg)
    finally:
        free_model(model)


# ---------------------------------------------------------------------- the checks can fail
def test_checks_detect_broken_invariants() -> None:
    cfg = sim.load_config(scenario({"returns.quota_per_week": 50, "legal_route.mode": "matched",
                                    "returns.processing_delay_days": 0}),
                          overrides={"end_date": "2025-04-30"})
    model = sim.ChannelModel(cfg, rng=4)
    try:
        model.run_model()
        check_step(model)
        ts = model.datacollector.get_model_vars_dataframe()
        ts.index = pd.date_range(cfg.start_date, periods=len(ts), freq="D")
        check_series(ts, cfg)

        def broken(change: Any, undo: Any) -> bool:
            change()
            try:
                check_step(model)
            except AssertionError:
                return True
            finally:
                undo()
            return False

        w, gang = MigrantState.WAITING, model.gangs[0]
        assert broken(lambda: model.counts.__setitem__(w, model.counts[w] + 1),
                      lambda: model.counts.__setitem__(w, model.counts[w] - 1))
        assert broken(lambda: setattr(model.pop, "cum_inflow", model.pop.cum_inflow + 1),
                      lambda: setattr(model.pop, "cum_inflow", model.pop.cum_inflow - 1))
        assert broken(lambda: setattr(gang, "cash_gbp", gang.cash_gbp + 1e4),
                      lambda: setattr(gang, "cash_gbp", gang.cash_gbp - 1e4))
        price = gang.price_gbp
        gang.active = True  # prices are checked for active gangs (the last check of this model)
        assert broken(lambda: setattr(gang, "price_gbp", cfg.gangs.price_max_gbp + 1),
                      lambda: setattr(gang, "price_gbp", price))
        corruptions = [("returns", "2025-03-20", 51.0), ("returns", "2025-02-01", 1.0),
                       ("legal_admissions", "2025-03-04", 1000.0), ("n_waiting", "2025-02-01", 1e6),
                       ("deaths", "2025-02-01", -1e6)]
        for column, day, value in corruptions:
            bad = ts.copy()
            bad.loc[pd.Timestamp(day), column] += value
            try:
                check_series(bad, cfg)
            except AssertionError:
                continue
            raise AssertionError(f"check_series missed {column} += {value} on {day}")
    finally:
        free_model(model)

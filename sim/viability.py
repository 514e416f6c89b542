"""Is the smugglers' product still sellable? Demand and cost curves from the model's own state.

A business model is broken when the product can no longer be sold at a price that covers
its cost, not when today's surviving firms report a low margin (``../ECONOMICS.md`` section
4; ODD 7.13). At any moment the model knows both sides:

* **cost**: ``AC_min``, the lowest average cost of a seat: a launch's boat and running
  cost over the most people a gang puts on a boat, grossed up for the launches prevented
  whose passengers keep their seat, plus the weekly fixed cost spread over what one gang
  can launch in a week at that load (:func:`lowest_average_cost`);
* **demand**: each would-be customer's willingness to pay, ``WTP_i(r)``, the fare at which
  the gain of crossing (:meth:`sim.agents.Migrant.crossing_gain`, the decision rule itself)
  is zero, capped by what the person has and can save while trying. Would-be customers are
  a sample of the people who consider the route (drawn as newcomers are, with today's
  public beliefs), so people deterred upstream count as lost demand.

From these: ``viable_demand_share`` (the share with ``WTP >= AC_min``), whether the
customers at cost fill boats at minimum scale (``verdict.min_launches_per_week`` full boats
a week), and ``critical_return_rate``, the return probability at which the customers the
returns cover (adults of covered groups) stop filling boats at minimum scale (NaN when
they fill them at any return rate). The sample uses its own random stream, derived from the
run's seed and the day, so computing it never changes the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.agents.migrant import Migrant
from sim.constants import UNIT_COST_RETRY_FLOOR
from sim.population import MigrantState, Population

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ChannelModel

__all__ = ["Viability", "lowest_average_cost", "market_viability", "willingness_to_pay"]

#: Would-be customers drawn to estimate the demand curve.
SAMPLE_SIZE = 4000
#: Bisection steps for the critical return rate (precision 2^-14).
BISECTION_STEPS = 14


@dataclass(frozen=True)
class Viability:
    """The business at one moment (GBP, people a week, probabilities)."""

    ac_min_gbp: float                   # lowest average cost of a seat
    viable_demand_share: float          # share of would-be customers with WTP >= AC_min
    customers_at_cost_per_week: float   # that share of the people considering the route a week
    min_scale_seats_per_week: float     # seats a week that fill boats at minimum scale
    viable: bool                        # customers at cost fill boats at minimum scale
    critical_return_rate: float         # return probability at which covered demand stops doing so
    covered_share: float                # share of would-be customers the returns cover

    def as_dict(self) -> dict[str, float | bool]:
        return dict(vars(self))


def lowest_average_cost(model: ChannelModel) -> float:
    """``AC_min``: the cost of a seat at efficient loads and full use of one gang's capacity (GBP)."""
    p = model.config.gangs
    load = float(p.people_per_boat_max)
    prevented = model.market.recent_prevented_share()
    gross_up = max(1.0 - prevented * p.retry_promise_prob, UNIT_COST_RETRY_FLOOR)
    per_launch = model.boat_price_gbp + p.running_cost_per_launch_gbp
    crossable = float(np.mean(model.config.environment.crossable_share_by_month))
    seats_per_week = max(p.max_launches_per_day * 7.0 * crossable * load, load)
    return per_launch / load / gross_up + p.fixed_cost_per_week_gbp / seats_per_week


def _sample(model: ChannelModel) -> tuple[Population, np.ndarray]:
    """A sample of people considering the route now, created by the model's own rule for
    newcomers (:meth:`Migrant.newcomers`) in a scratch population, from a random stream of
    its own (the run's streams are not touched)."""
    cfg = model.config
    rng = np.random.default_rng([int(x) for x in np.atleast_1d(model.seed_sequence.entropy)] + [0xB1AB, model.day])
    shares = np.array([g.share for g in cfg.groups]) * model.inflow.year_multiplier(model.date.year)
    groups = rng.choice(len(cfg.groups), size=SAMPLE_SIZE, p=shares / shares.sum())
    pop = Population(SAMPLE_SIZE)
    rows = Migrant.newcomers(pop, groups, MigrantState.EN_ROUTE, model.day, cfg, model.group_terms, model.news, rng)
    return pop, rows


def willingness_to_pay(model: ChannelModel, pop: Population, rows: np.ndarray,
                       r: np.ndarray | None = None) -> np.ndarray:
    """``WTP_i(r)``: the fare at which each person's gain of crossing is zero (GBP), at believed
    return probability ``r`` (default: their own beliefs), capped by wealth plus what they can
    save over their patience. A retry after a return to France is paid at the market's mean price."""
    cfg = model.config
    s, r_own = pop.believed(rows)
    r = r_own if r is None else r
    s_eff = 1.0 - (1.0 - s) ** (1.0 + cfg.gangs.retry_promise_prob)
    surplus, return_cost, to_origin, risk_cost, repeat_floor = Migrant.stakes(pop, rows, cfg, model.group_terms, model.authority)
    price = model.market.mean_price()
    gain_at_zero = Migrant.crossing_gain(s_eff, r, np.maximum(r, repeat_floor), surplus, return_cost, to_origin,
                                         0.0, price, risk_cost)
    budget = pop.wealth[rows] + cfg.migrants.wealth_top_up_gbp_per_day * pop.patience[rows]
    return np.minimum(gain_at_zero, budget)


def market_viability(model: ChannelModel, potential_per_week: float) -> Viability:
    """The demand and cost curves now (see the module's docstring).

    ``potential_per_week`` is the number of people considering the route a week (recent mean of
    the ``potential_inflow`` column) against which the share of viable demand is scaled.
    """
    cfg = model.config
    ac_min = lowest_average_cost(model)
    pop, rows = _sample(model)
    min_scale = cfg.verdict.min_launches_per_week * cfg.gangs.people_per_boat_max
    wtp_now = willingness_to_pay(model, pop, rows)
    share_now = float(np.mean(wtp_now >= ac_min))
    covered = model.authority.group_covered[pop.group[rows]] & pop.adult[rows] & \
        ~model.authority.returns_home(pop.group[rows])
    covered_share = float(covered.mean())

    def covered_customers(r: float) -> float:
        if not covered.any():
            return 0.0
        sub = rows[covered]
        wtp = willingness_to_pay(model, pop, sub, np.full(sub.size, r))
        return float(np.mean(wtp >= ac_min)) * covered_share * potential_per_week

    critical = math.nan
    if covered_customers(0.0) >= min_scale and covered_customers(1.0) < min_scale:
        lo, hi = 0.0, 1.0
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            if covered_customers(mid) >= min_scale:
                lo = mid
            else:
                hi = mid
        critical = hi
    elif covered_customers(0.0) < min_scale:
        critical = 0.0
    customers = share_now * potential_per_week
    return Viability(ac_min_gbp=ac_min, viable_demand_share=share_now, customers_at_cost_per_week=customers,
                     min_scale_seats_per_week=float(min_scale), viable=bool(customers >= min_scale),
                     critical_return_rate=critical, covered_share=covered_share)


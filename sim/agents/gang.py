"""Smuggling gangs: sell seats, buy boats, launch on crossable days, adapt weekly.

Economics (DESIGN 2 and 6b): revenue is seats sold (paid up front); costs are boats
(one is used up by every launch, prevented or not), running costs per launch, a weekly
fixed cost, the extra cost of taxi-boat tactics, and arrests. Every change of a gang's
cash is booked in :attr:`SmugglingGang.ledger`, so that money is conserved exactly:
``cash_end - cash_start = revenue - boat purchases - running - fixed - arrests``.

Economic profit counts a boat at its purchase price when it is used, not when bought.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ChannelModel

__all__ = ["SmugglingGang"]


class SmugglingGang(mesa.Agent):
    """One smuggling network operating from one coastal sector."""

    def __init__(self, model: ChannelModel, gang_index: int, sector: int, cash_gbp: float,
                 price_gbp: float, boats: int) -> None:
        super().__init__(model)
        p = model.config.gangs
        self.gang_index = gang_index      # stable index (migrants store it)
        self.sector = sector              # launch beaches
        self.cash_gbp = float(cash_gbp)
        self.price_gbp = float(price_gbp)
        self.boats = int(boats)
        self.boat_book_value_gbp = model.boat_price_gbp  # average purchase price of the stock
        self.people_per_boat = float(p.people_per_boat_base)
        self.reputation = 0.6             # observed success rate of its launches (EWMA)
        self.taxi_boats = False
        self.active = True
        self.entered_day = model.day
        self.exited_day: int | None = None
        # this week's accounting (GBP, people, launches)
        self.week = {"revenue": 0.0, "cost": 0.0, "seats": 0, "launches": 0, "prevented": 0}
        self.recent = deque(maxlen=4)     # last 4 weeks of the dict above
        self.profits = deque(maxlen=model.config.gangs.exit_after_loss_weeks)  # weekly profits (GBP)
        # cumulative ledger of cash flows (GBP)
        self.ledger = {"revenue": 0.0, "boats_bought": 0.0, "running": 0.0, "fixed": 0.0, "arrests": 0.0}

    # -- money ----------------------------------------------------------------------
    def _spend(self, kind: str, amount: float) -> None:
        """Pay a cash cost that is also an economic cost of the day."""
        self.cash_gbp -= amount
        self.ledger[kind] += amount
        self.model.today["gang_spending_gbp"] += amount
        self.week["cost"] += amount
        self.model.today["gang_costs_gbp"] += amount

    def sell_seats(self, people: int) -> None:
        """Take payment for ``people`` seats at today's price."""
        revenue = people * self.price_gbp
        self.cash_gbp += revenue
        self.ledger["revenue"] += revenue
        self.week["revenue"] += revenue
        self.week["seats"] += people
        self.model.today["gang_revenue_gbp"] += revenue

    def market_weight(self) -> float:
        """How likely a migrant is to know this gang (word of mouth follows reputation)."""
        return 0.5 + self.reputation

    # -- daily ------------------------------------------------------------------------
    def plan_launches(self, queue: int, oldest_wait_days: int) -> list[int]:
        """Split ``queue`` booked agents into boat loads (agents per boat) for today.

        Boats go full: each carries the target load, and whoever does not make a full
        boat stays booked for the next crossable day. With fewer people booked than one
        full boat, one smaller boat takes them all once the earliest booked passenger has
        waited ``max_fill_wait_days``, if they are at least ``min_fill_share`` of the target
        load (and the minimum load), or once that passenger has waited three times as
        long, if they are at least the minimum load.
        """
        p = self.model.config.gangs
        ppa = self.model.people_per_agent
        target = max(1, round(self.people_per_boat / ppa))
        lo = max(1, math.ceil(p.people_per_boat_min / ppa))
        hi = max(lo, p.people_per_boat_max // ppa)
        early = max(lo, math.ceil(p.min_fill_share * self.people_per_boat / ppa))
        if queue >= target:
            n = min(self.boats, p.max_launches_per_day, queue // target)
            return [min(hi, target)] * n
        if self.boats > 0 and ((queue >= early and oldest_wait_days >= p.max_fill_wait_days)
                               or (queue >= lo and oldest_wait_days >= 3 * p.max_fill_wait_days)):
            return [min(hi, queue)]
        return []

    def record_launch(self, prevented: bool, arrested: bool) -> None:
        """Pay for one launch and learn from its outcome."""
        p = self.model.config.gangs
        self.boats -= 1
        self.week["cost"] += self.boat_book_value_gbp  # the boat is used up (economic cost)
        self.model.today["gang_costs_gbp"] += self.boat_book_value_gbp
        running = p.running_cost_per_launch_gbp + (p.taxi_boat_extra_cost_gbp if self.taxi_boats else 0.0)
        self._spend("running", running)
        if arrested:
            self._spend("arrests", p.arrest_cost_gbp)
        self.week["launches"] += 1
        self.week["prevented"] += int(prevented)
        self.reputation += 0.05 * ((0.0 if prevented else 1.0) - self.reputation)

    def pay_fixed_costs(self) -> None:
        """A seventh of the weekly fixed cost, every day."""
        self._spend("fixed", self.model.config.gangs.fixed_cost_per_week_gbp / 7.0)

    # -- weekly -----------------------------------------------------------------------
    def weekly_review(self, rng: np.random.Generator) -> None:
        """Reprice, change tactics and invest; count losses (exit is decided by the model)."""
        p = self.model.config.gangs
        model = self.model
        wk = dict(self.week)
        self.recent.append(wk)
        self.profits.append(wk["revenue"] - wk["cost"])

        # people per boat: fuller boats when boats are dear
        rel = max(model.boat_price_gbp / p.boat_price_gbp, 1e-9) if p.boat_price_gbp > 0 else 1.0
        self.people_per_boat = float(np.clip(p.people_per_boat_base + p.people_per_boat_price_slope * math.log(rel),
                                             p.people_per_boat_min, p.people_per_boat_max))

        # price: toward unit cost x markup, pushed up by excess demand, down by idle capacity
        seats = sum(w["seats"] for w in self.recent)
        launches = sum(w["launches"] for w in self.recent)
        prevented = sum(w["prevented"] for w in self.recent)
        prevented_share = prevented / launches if launches else 0.0
        per_launch = model.boat_price_gbp + p.running_cost_per_launch_gbp + (
            p.taxi_boat_extra_cost_gbp if self.taxi_boats else 0.0)
        seats_per_week = max(seats / len(self.recent), self.people_per_boat)
        unit_cost = (per_launch / self.people_per_boat) / max(1.0 - prevented_share * p.retry_promise_prob, 0.2) \
            + p.fixed_cost_per_week_gbp / seats_per_week
        # demand this week: seats sold, plus the backlog booked before the week and not yet launched
        demand = wk["seats"] + model.backlog_of(self.gang_index) * model.people_per_agent
        capacity = max(self.people_per_boat * max(launches / len(self.recent), 1.0), 1.0)
        pressure = float(np.clip(demand / capacity - 1.0, -0.5, 1.0))
        target = unit_cost * p.target_markup * (1.0 + 0.5 * pressure)
        step = float(np.clip(target / self.price_gbp - 1.0, -p.price_adjust_rate, p.price_adjust_rate))
        self.price_gbp = float(np.clip(self.price_gbp * (1.0 + step), p.price_min_gbp, p.price_max_gbp))

        # tactics: taxi boats when beach patrols prevent too much
        if not self.taxi_boats and launches >= 4 and prevented_share > p.taxi_boat_trigger:
            self.taxi_boats = True
            model.today["tactic_changes"] += 1
            if rng.random() < 0.5:  # and move to the least patrolled sector
                self.sector = model.least_patrolled_sector()

        # investment: keep stock_weeks of expected launches, as cash allows
        expected = max(launches / len(self.recent), demand / self.people_per_boat)
        want = math.ceil(p.stock_weeks * expected) - self.boats
        if want > 0 and model.boat_price_gbp > 0:
            afford = int(max(self.cash_gbp, 0.0) // model.boat_price_gbp)
            self.buy_boats(min(want, afford))
        self.week = {"revenue": 0.0, "cost": 0.0, "seats": 0, "launches": 0, "prevented": 0}

    def buy_boats(self, n: int) -> None:
        if n <= 0:
            return
        price = self.model.boat_price_gbp
        total = n * price
        self.boat_book_value_gbp = (self.boat_book_value_gbp * self.boats + total) / (self.boats + n)
        self.boats += n
        self.cash_gbp -= total
        self.ledger["boats_bought"] += total
        self.model.today["gang_spending_gbp"] += total
        self.model.today["boats_bought"] += n

    @property
    def should_exit(self) -> bool:
        """Insolvent, or unprofitable for a sustained time."""
        full = len(self.profits) == self.profits.maxlen
        return self.cash_gbp < 0 or (full and sum(self.profits) < 0)

    @property
    def cash_out_gbp(self) -> float:
        """Cash taken out of the market when the gang exits."""
        return self.cash_gbp

    def __repr__(self) -> str:
        return (f"SmugglingGang(#{self.gang_index}, sector={self.sector}, price={self.price_gbp:.0f}, "
                f"boats={self.boats}, cash={self.cash_gbp:.0f}, active={self.active})")

"""Smuggling gangs: sell seats, buy boats, launch on crossable days, adapt weekly.

Economics (DESIGN 2 and 6b): revenue is seats sold (paid up front); costs are boats
(one is used up by every launch, prevented or not), running costs per launch, a weekly
fixed cost, the extra cost of taxi-boat tactics, and arrests. Every change of a gang's
cash is booked in :attr:`SmugglingGang.ledger`, so that money is conserved exactly:
``cash_end - cash_start = revenue - boat purchases - running - fixed - arrests``.
Economic profit counts a boat at its purchase price when it is used, not when bought.

Three classes, each with its own rules:

* :class:`SmugglingGang` (a Mesa agent): its launch plan, its accounts, and its weekly
  review (reprice, tactics, investment) and exit test;
* :class:`BoatSupply`: the price of a boat, with the yearly disruption of supply and the
  premium when many boats were seized lately (ODD 7.8.2);
* :class:`GangMarket`: the gangs of the market as a whole: who is active, the boats of a
  crossable day, entry of new gangs and exit (with stranded customers).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numba
import numpy as np
from numba import njit, types
from numba.experimental import structref

from sim.constants import (
    BOATS_ENTRANT,
    BOATS_INITIAL_GANG,
    FILL_WAIT_LAST_RESORT_FACTOR,
    GANG_BASE_MARKET_WEIGHT,
    GANG_INITIAL_REPUTATION,
    GANG_MEMORY_WEEKS,
    GANG_REPUTATION_WEIGHT,
    INSURANCE_STOP_SHARE,
    MAX_MARKET_SHARE,
    NORMAL_DEMAND_SMOOTHING,
    PRICE_PRESSURE_MAX,
    PRICE_PRESSURE_MIN,
    PRICE_PRESSURE_WEIGHT,
    SEIZURE_SMOOTHING,
    TAXI_MIN_LAUNCHES,
    TAXI_MOVE_SECTOR_PROB,
    UNIT_COST_RETRY_FLOOR,
)
from sim.params import GangParams
from sim.population import MigrantState, Population

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ChannelModel

__all__ = ["Boats", "BoatSupply", "GangBook", "GangMarket", "SmugglingGang", "market_weight", "year_multiplier_or_nearest"]


def _clip(x: float, lo: float, hi: float) -> float:
    """``np.clip`` for one number (the same value, without NumPy's overhead)."""
    return float(min(max(x, lo), hi))


def market_weight(reputation: float | np.ndarray) -> float | np.ndarray:
    """How likely a migrant is to know a gang of ``reputation`` (one gang or an array of them): a
    base weight plus its reputation (word of mouth follows reputation)."""
    return GANG_BASE_MARKET_WEIGHT + reputation


#: How many times any gang entered or left the market (:attr:`SmugglingGang.active` set): the
#: key under which a market keeps its list of active gangs.
_ACTIVITY_CHANGES = [0]


#: The per-gang columns of a :class:`GangBook` and their types: the gang's terms and stock, its
#: cumulative ledger of cash flows (GBP, one column per kind of :data:`LEDGER_KINDS`) and this
#: week's accounts (``week_*``: revenue and economic cost in GBP, seats, launches, prevented).
GANG_COLUMNS: dict[str, type] = {
    "sector": np.int64, "active": np.bool_, "price_gbp": np.float64, "cash_gbp": np.float64, "boats": np.int64,
    "boat_book_value_gbp": np.float64, "people_per_boat": np.float64, "reputation": np.float64,
    "taxi_boats": np.bool_, "insures": np.bool_, "recent_seats": np.float64, "written_off_gbp": np.float64,
    "ledger": np.float64, "week_revenue": np.float64, "week_cost": np.float64, "week_seats": np.int64,
    "week_launches": np.int64, "week_prevented": np.int64,
}
#: The kinds of cash flow in a gang's ledger (the columns of :attr:`GangBook.ledger`, in order).
LEDGER_KINDS = ("revenue", "boats_bought", "running", "fixed", "arrests")
REVENUE, BOATS_BOUGHT, RUNNING, FIXED, ARRESTS = range(len(LEDGER_KINDS))


class GangBook:
    """The gangs' state as columns: one array per attribute, one row per gang (its ``gang_index``).

    Each :class:`SmugglingGang` reads and writes its own row through its attributes, and the
    rules that change a gang's accounts are compiled functions of one row (:func:`_charge`,
    :func:`_sell`, :func:`_record_launch`): the gang's methods call them for its own row, and
    the market's daily loops call them for every active gang (:func:`_pay_fixed_all`,
    :func:`_sell_all`, :func:`_record_launches_all`). The arrays grow (doubling) as gangs enter.
    """

    def __init__(self, capacity: int = 16) -> None:
        self.size = 0
        for name, dtype in GANG_COLUMNS.items():
            shape = (max(capacity, 1), len(LEDGER_KINDS)) if name == "ledger" else max(capacity, 1)
            setattr(self, name, np.zeros(shape, dtype=dtype))
        self._view: object | None = None

    def __getstate__(self) -> dict[str, object]:
        """A copy (``copy.deepcopy`` of a model, pickling) leaves the compiled view behind."""
        return {**self.__dict__, "_view": None}

    def add(self) -> int:
        """A new row (all zeros); returns its index."""
        if self.size == self.price_gbp.shape[0]:
            for name in GANG_COLUMNS:
                old = getattr(self, name)
                new = np.zeros((2 * old.shape[0], *old.shape[1:]), dtype=old.dtype)
                new[:old.shape[0]] = old
                setattr(self, name, new)
            self._view = None
        self.size += 1
        return self.size - 1

    @property
    def view(self) -> object:
        """The columns as the compiled rules take them (made once until the arrays grow; with
        ``NUMBA_DISABLE_JIT=1`` the book itself)."""
        if numba.config.DISABLE_JIT:
            return self
        if self._view is None:
            self._view = _new_book(tuple(getattr(self, name) for name in GANG_COLUMNS))
        return self._view


@structref.register
class _BookType(types.StructRef):
    def preprocess_fields(self, fields):  # noqa: ANN001, ANN202
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


_BOOK = _BookType([(name, numba.typeof(np.zeros((1, 1) if name == "ledger" else 1, dtype=dtype)))
                   for name, dtype in GANG_COLUMNS.items()])


@njit(cache=True)
def _new_book(arrays):  # noqa: ANN001, ANN202
    gb = structref.new(_BOOK)
    (gb.sector, gb.active, gb.price_gbp, gb.cash_gbp, gb.boats, gb.boat_book_value_gbp, gb.people_per_boat,
     gb.reputation, gb.taxi_boats, gb.insures, gb.recent_seats, gb.written_off_gbp, gb.ledger, gb.week_revenue,
     gb.week_cost, gb.week_seats, gb.week_launches, gb.week_prevented) = arrays
    return gb


class _BookProxy(structref.StructRefProxy):
    """A :class:`GangBook`'s columns as compiled code holds them (converted once, not at every call)."""


structref.define_boxing(_BookType, _BookProxy)


# -- the rules of a gang's accounts, for one row (compiled) ----------------------------------
@njit(cache=True)
def _charge(gb, i, kind, amount):  # noqa: ANN001, ANN202
    """Gang ``i`` pays ``amount`` (GBP) of cash cost ``kind`` (a ledger column), an economic cost of the week."""
    gb.cash_gbp[i] -= amount
    gb.ledger[i, kind] += amount
    gb.week_cost[i] += amount


@njit(cache=True)
def _sell(gb, i, people):  # noqa: ANN001, ANN202
    """Gang ``i`` takes payment for ``people`` seats at its price; returns the revenue (GBP)."""
    revenue = people * gb.price_gbp[i]
    gb.cash_gbp[i] += revenue
    gb.ledger[i, REVENUE] += revenue
    gb.week_revenue[i] += revenue
    gb.week_seats[i] += people
    return revenue


@njit(cache=True)
def _record_launch(gb, i, prevented, arrested, running_cost, taxi_extra_cost, arrest_cost, reputation_weight,  # noqa: ANN001, ANN202, PLR0913
                   spending, costs):
    """Gang ``i`` pays for one launch (the boat used up at its book value, the running cost, and the
    arrest cost if staff were arrested) and learns from its outcome (its reputation moves toward
    success or failure). ``spending`` and ``costs`` are the day's totals so far; returns them updated."""
    gb.boats[i] -= 1
    used = gb.boat_book_value_gbp[i]
    gb.week_cost[i] += used   # the boat is used up (economic cost)
    costs += used
    running = running_cost + (taxi_extra_cost if gb.taxi_boats[i] else 0.0)
    _charge(gb, i, RUNNING, running)
    spending += running
    costs += running
    if arrested:
        _charge(gb, i, ARRESTS, arrest_cost)
        spending += arrest_cost
        costs += arrest_cost
    gb.week_launches[i] += 1
    gb.week_prevented[i] += 1 if prevented else 0
    gb.reputation[i] += reputation_weight * ((0.0 if prevented else 1.0) - gb.reputation[i])
    return spending, costs


# -- the same rules over many gangs (the market's daily loops) --------------------------------
@njit(cache=True)
def _pay_fixed_all(gb, rows, amount, spending, costs):  # noqa: ANN001, ANN202
    """Every gang of ``rows`` pays ``amount`` of fixed cost (:meth:`SmugglingGang.step`); returns the day's totals."""
    for i in rows:
        _charge(gb, i, FIXED, amount)
        spending += amount
        costs += amount
    return spending, costs


@njit(cache=True)
def _sell_all(gb, rows, agents, people_per_agent, revenue_today):  # noqa: ANN001, ANN202
    """Each gang ``rows[k]`` sells ``agents[k]`` agents' seats (:meth:`SmugglingGang.sell_seats`), in
    order; returns the day's revenue."""
    for k in range(rows.size):
        if agents[k]:
            revenue_today += _sell(gb, rows[k], agents[k] * people_per_agent)
    return revenue_today


@njit(cache=True)
def _record_launches_all(gb, rows, prevented, arrested, running_cost, taxi_extra_cost, arrest_cost,  # noqa: ANN001, ANN202, PLR0913
                         reputation_weight, spending, costs):
    """Every launch to its gang ``rows[k]``, in order (:meth:`SmugglingGang.record_launch`)."""
    for k in range(rows.size):
        spending, costs = _record_launch(gb, rows[k], prevented[k], arrested[k], running_cost, taxi_extra_cost,
                                         arrest_cost, reputation_weight, spending, costs)
    return spending, costs


class _Column:
    """A gang's attribute kept in its row of the :class:`GangBook` column of the same name."""

    def __init__(self, cast: type) -> None:
        self.cast = cast

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, gang: SmugglingGang | None, owner: type) -> object:
        if gang is None:
            return self
        return self.cast(getattr(gang.book, self.name)[gang.gang_index])

    def __set__(self, gang: SmugglingGang, value: object) -> None:
        getattr(gang.book, self.name)[gang.gang_index] = value


class SmugglingGang(mesa.Agent):
    """One smuggling network operating from one coastal sector."""

    sector = _Column(int)                 # launch beaches
    cash_gbp = _Column(float)
    price_gbp = _Column(float)
    boats = _Column(int)
    boat_book_value_gbp = _Column(float)  # average purchase price of the stock
    people_per_boat = _Column(float)
    reputation = _Column(float)           # observed success rate of its launches (EWMA)
    taxi_boats = _Column(bool)
    insures = _Column(bool)               # offers return insurance (a free second crossing)
    recent_seats = _Column(float)         # seats sold over the recent weeks (set in close_week)
    written_off_gbp = _Column(float)      # book value of boats lost when the gang exited

    def __init__(self, model: ChannelModel, gang_index: int, sector: int, cash_gbp: float,
                 price_gbp: float, boat_price_gbp: float, book: GangBook | None = None) -> None:
        super().__init__(model)
        self.params: GangParams = model.config.gangs
        self.people_per_agent = model.people_per_agent
        #: the columns that hold this gang's state, in row ``gang_index`` (the market's book; a gang
        #: made on its own gets a book of its own)
        self.book = book if book is not None else GangBook(gang_index + 1)
        while self.book.size <= gang_index:
            self.book.add()
        self.gang_index = gang_index      # stable index (migrants store it)
        self.sector = sector
        self.cash_gbp = float(cash_gbp)
        self.price_gbp = float(price_gbp)
        self.boats = 0
        self.boat_book_value_gbp = boat_price_gbp
        self.people_per_boat = float(self.params.people_per_boat_base)
        self.normal_demand: float | None = None    # smoothed weekly demand (seats), its normal volume
        self.written_off_gbp = 0.0
        self.reputation = GANG_INITIAL_REPUTATION
        self.taxi_boats = False
        self.insures = False
        self.active = True
        self.recent: deque[dict[str, float]] = deque(maxlen=GANG_MEMORY_WEEKS)  # last weeks' accounts (week)
        self.recent_seats = 0.0
        self.profits: deque[float] = deque(maxlen=self.params.exit_after_loss_weeks)  # weekly profits (GBP)

    @property
    def active(self) -> bool:
        """Whether the gang still operates."""
        return bool(self.book.active[self.gang_index])

    @active.setter
    def active(self, value: bool) -> None:
        self.book.active[self.gang_index] = bool(value)
        _ACTIVITY_CHANGES[0] += 1

    @property
    def ledger(self) -> dict[str, float]:
        """The cumulative ledger of cash flows by kind (GBP; a copy)."""
        i, b = self.gang_index, self.book
        return dict(zip(LEDGER_KINDS, b.ledger[i].tolist(), strict=True))

    @property
    def week(self) -> dict[str, float]:
        """This week's accounts so far (a copy): revenue and economic cost (GBP), seats sold or given,
        launches, and launches prevented."""
        i, b = self.gang_index, self.book
        return {"revenue": float(b.week_revenue[i]), "cost": float(b.week_cost[i]), "seats": int(b.week_seats[i]),
                "launches": int(b.week_launches[i]), "prevented": int(b.week_prevented[i])}

    def __repr__(self) -> str:
        return (f"SmugglingGang(#{self.gang_index}, sector={self.sector}, price={self.price_gbp:.0f}, "
                f"boats={self.boats}, cash={self.cash_gbp:.0f}, active={self.active})")

    # -- money (the rules are the compiled functions of one row above) ---------------
    def _spend(self, kind: int, amount: float) -> None:
        """Pay a cash cost of ledger column ``kind`` that is also an economic cost of the day."""
        _charge(self.book.view, self.gang_index, kind, amount)
        today = self.model.today
        today["gang_spending_gbp"] += amount
        today["gang_costs_gbp"] += amount

    def sell_seats(self, people: int) -> None:
        """Take payment for ``people`` seats at today's price."""
        self.model.today["gang_revenue_gbp"] += _sell(self.book.view, self.gang_index, people)

    def carry_free(self, people: int) -> None:
        """Seats given free under return insurance: they fill boats but bring no revenue."""
        self.book.week_seats[self.gang_index] += people
        self.model.today["free_crossings"] += people

    def bear_entry_cost(self, amount: float) -> None:
        """The sunk cost of entering the market (GBP): an economic cost of the week, not a cash flow
        (the entrant's initial cash is what it has after entering)."""
        self.book.week_cost[self.gang_index] += amount

    def buy_boats(self, n: int, price_gbp: float) -> None:
        """Buy ``n`` boats at ``price_gbp`` each (cash out; the cost is booked when a boat is used)."""
        if n <= 0:
            return
        total = n * price_gbp
        self.boat_book_value_gbp = (self.boat_book_value_gbp * self.boats + total) / (self.boats + n)
        self.boats += n
        self.cash_gbp -= total
        self.book.ledger[self.gang_index, BOATS_BOUGHT] += total
        self.model.today["gang_spending_gbp"] += total
        self.model.today["boats_bought"] += n

    def market_weight(self) -> float:
        """How likely a migrant is to know this gang (word of mouth follows reputation; :func:`market_weight`)."""
        return market_weight(self.reputation)

    # -- daily ------------------------------------------------------------------------
    def step(self) -> None:
        """The gang's daily cost: a seventh of the weekly fixed cost (while active)."""
        if self.active:
            self._spend(FIXED, self.params.fixed_cost_per_week_gbp / 7.0)

    def plan_launches(self, queue: int, oldest_wait_days: int) -> list[int]:
        """Split ``queue`` booked agents into boat loads (agents per boat) for today.

        Boats go full: each carries the target load, and whoever does not make a full
        boat stays booked for the next crossable day. With fewer people booked than one
        full boat, one smaller boat takes them all once the earliest booked passenger has
        waited ``max_fill_wait_days``, if they are at least ``min_fill_share`` of the target
        load (and the minimum load), or once that passenger has waited
        ``FILL_WAIT_LAST_RESORT_FACTOR`` times as long, if they are at least the minimum load.
        The rule is written once, compiled (:func:`_launch_plan`); :meth:`GangMarket.plan_boats`
        applies it to every active gang at once.
        """
        n, load = _launch_plan(int(queue), int(oldest_wait_days), int(self.boats), float(self.people_per_boat),
                               *_launch_terms(self.params, self.people_per_agent))
        return [load] * n

    def record_launch(self, prevented: bool, arrested: bool) -> None:
        """Pay for one launch and learn from its outcome (:func:`_record_launch`)."""
        p, today = self.params, self.model.today
        today["gang_spending_gbp"], today["gang_costs_gbp"] = _record_launch(
            self.book.view, self.gang_index, bool(prevented), bool(arrested), float(p.running_cost_per_launch_gbp),
            float(p.taxi_boat_extra_cost_gbp), float(p.arrest_cost_gbp), float(GANG_REPUTATION_WEIGHT),
            float(today["gang_spending_gbp"]), float(today["gang_costs_gbp"]))

    def running_cost_per_launch(self) -> float:
        p = self.params
        return p.running_cost_per_launch_gbp + (p.taxi_boat_extra_cost_gbp if self.taxi_boats else 0.0)

    # -- weekly -----------------------------------------------------------------------
    def close_week(self) -> None:
        """Close the week's books: the week joins the recent weeks and the profit history."""
        week = self.week
        self.recent.append(week)
        self.recent_seats = sum(w["seats"] for w in self.recent)
        self.profits.append(week["revenue"] - week["cost"])
        b, i = self.book, self.gang_index
        b.week_revenue[i] = b.week_cost[i] = 0.0
        b.week_seats[i] = b.week_launches[i] = b.week_prevented[i] = 0

    def weekly_review(self, boat_price_gbp: float, backlog_people: int, least_patrolled_sector: int,
                      market_seats: float, rng: np.random.Generator, return_rate: float = 0.0) -> None:
        """After :meth:`close_week`: set the boat load, reprice, change tactics and invest (ODD 7.8).

        ``backlog_people`` are people booked before this week began and not yet launched;
        ``market_seats`` are the seats all active gangs sold over their recent weeks (for
        this gang's market share). Exit is tested afterwards (:attr:`should_exit`).
        """
        self.set_boat_load(boat_price_gbp)
        window = self.window()
        demand = self.recent[-1]["seats"] + backlog_people
        self.reprice(boat_price_gbp, window, demand, market_seats)
        self.adapt_tactics(window, least_patrolled_sector, rng)
        self.offer_insurance(return_rate)
        self.invest(boat_price_gbp, window, demand)

    def offer_insurance(self, return_rate: float) -> None:
        """Return insurance (ECONOMICS.md section 3): offer customers a free second crossing if they
        are returned, once returns are frequent enough to matter to them (the news' return
        probability of a covered arrival at or above ``insurance_trigger_return_rate``); stop when
        it falls below ``INSURANCE_STOP_SHARE`` (half) of that. Its cost is the seats given free later."""
        trigger = self.params.insurance_trigger_return_rate
        if not self.insures and return_rate >= trigger > 0:
            self.insures = True
            self.model.today["tactic_changes"] += 1
        elif self.insures and return_rate < INSURANCE_STOP_SHARE * trigger:
            self.insures = False

    def window(self) -> dict[str, float]:
        """Mean seats and launches a week, and the prevented share, over the recent weeks."""
        weeks = len(self.recent)
        launches = sum(w["launches"] for w in self.recent)
        prevented = sum(w["prevented"] for w in self.recent)
        return {"seats": sum(w["seats"] for w in self.recent) / weeks, "launches": launches / weeks,
                "total_launches": launches, "prevented_share": prevented / launches if launches else 0.0}

    def set_boat_load(self, boat_price_gbp: float) -> None:
        """People per boat: fuller boats when boats are dear (log of the relative price)."""
        p = self.params
        rel = max(boat_price_gbp / p.boat_price_gbp, 1e-9) if p.boat_price_gbp > 0 else 1.0
        self.people_per_boat = _clip(p.people_per_boat_base + p.people_per_boat_price_slope * math.log(rel),
                                     p.people_per_boat_min, p.people_per_boat_max)

    def variable_cost(self, boat_price_gbp: float, prevented_share: float) -> float:
        """Cost of one more seat: a launch's boat and running cost over its load, grossed up for
        the prevented launches whose passengers keep their seat for a retry."""
        p = self.params
        per_launch = boat_price_gbp + self.running_cost_per_launch()
        retry_gross_up = max(1.0 - prevented_share * p.retry_promise_prob, UNIT_COST_RETRY_FLOOR)
        return (per_launch / self.people_per_boat) / retry_gross_up

    def unit_cost(self, boat_price_gbp: float, window: dict[str, float]) -> float:
        """Average cost of a seat: the variable cost plus the weekly fixed cost over the seats sold."""
        seats_per_week = max(window["seats"], self.people_per_boat)
        return (self.variable_cost(boat_price_gbp, window["prevented_share"])
                + self.params.fixed_cost_per_week_gbp / seats_per_week)

    def reprice(self, boat_price_gbp: float, window: dict[str, float], demand: float,
                market_seats: float) -> None:
        """Competitive pricing (ODD 7.8.3): the price moves toward the variable cost of a seat plus
        the logit-Bertrand markup ``sigma / (1 - share)`` (``sigma`` the migrants' logit scale among
        gangs, ``share`` this gang's share of recent seats), scaled up with demand above the gang's
        normal volume (a backlog: scarcity) and down with demand below it (idle capacity); at most
        ``price_adjust_rate`` a week, never below the variable cost nor above ``price_max_gbp``."""
        p = self.params
        if not self.model.config.mechanisms.competitive_prices:
            return
        normal = self.normal_demand
        self.normal_demand = demand if normal is None else normal + NORMAL_DEMAND_SMOOTHING * (demand - normal)
        base = max(self.normal_demand, self.people_per_boat)
        pressure = _clip(demand / base - 1.0, PRICE_PRESSURE_MIN, PRICE_PRESSURE_MAX)
        share = min(window["seats"] * len(self.recent) / market_seats, MAX_MARKET_SHARE) if market_seats > 0 else 0.0
        floor = self.variable_cost(boat_price_gbp, window["prevented_share"])
        markup = self.model.config.migrants.choice_scale_gbp / (1.0 - share)
        target = floor + markup * (1.0 + PRICE_PRESSURE_WEIGHT * pressure)
        step = _clip(target / self.price_gbp - 1.0, -p.price_adjust_rate, p.price_adjust_rate)
        self.price_gbp = _clip(self.price_gbp * (1.0 + step), floor, max(p.price_max_gbp, floor))

    def adapt_tactics(self, window: dict[str, float], least_patrolled_sector: int,
                      rng: np.random.Generator) -> None:
        """Switch to taxi boats when beach patrols prevent too much (and perhaps move sector)."""
        p = self.params
        if (not self.taxi_boats and window["total_launches"] >= TAXI_MIN_LAUNCHES
                and window["prevented_share"] > p.taxi_boat_trigger):
            self.taxi_boats = True
            self.model.today["tactic_changes"] += 1
            if rng.random() < TAXI_MOVE_SECTOR_PROB:
                self.sector = least_patrolled_sector

    def invest(self, boat_price_gbp: float, window: dict[str, float], demand: float) -> None:
        """Keep ``stock_weeks`` of expected launches in stock, as cash allows."""
        expected = max(window["launches"], demand / self.people_per_boat)
        want = math.ceil(self.params.stock_weeks * expected) - self.boats
        if want > 0 and boat_price_gbp > 0:
            afford = int(max(self.cash_gbp, 0.0) // boat_price_gbp)
            self.buy_boats(min(want, afford), boat_price_gbp)

    @property
    def should_exit(self) -> bool:
        """Insolvent, or unprofitable over the last ``exit_after_loss_weeks`` weeks."""
        full = len(self.profits) == self.profits.maxlen
        return self.cash_gbp < 0 or (full and sum(self.profits) < 0)


def _launch_terms(p: GangParams, people_per_agent: int) -> tuple[int, int, int, float, int, int, float]:
    """The market-wide terms of :func:`_launch_plan` (its last arguments, in order): people per
    agent, the minimum and maximum load, the early-launch share, the fill wait, the most
    launches a day and the last-resort factor of the wait."""
    return (int(people_per_agent), int(p.people_per_boat_min), int(p.people_per_boat_max), float(p.min_fill_share),
            int(p.max_fill_wait_days), int(p.max_launches_per_day), float(FILL_WAIT_LAST_RESORT_FACTOR))


@njit(cache=True)
def _launch_plan(queue, oldest_wait, boats, people_per_boat, ppa, ppb_min, ppb_max, min_fill_share,  # noqa: ANN001, ANN202, PLR0913
                 max_fill_wait, max_launches, last_resort):
    """One gang's launches today (:meth:`SmugglingGang.plan_launches`): ``(boats, agents per boat)``."""
    target = max(1, round(people_per_boat / ppa))
    lo = max(1, math.ceil(ppb_min / ppa))
    hi = max(lo, ppb_max // ppa)
    early = max(lo, math.ceil(min_fill_share * people_per_boat / ppa))
    if queue >= target:
        return min(boats, max_launches, queue // target), min(hi, target)
    if boats > 0 and ((queue >= early and oldest_wait >= max_fill_wait)
                      or (queue >= lo and oldest_wait >= last_resort * max_fill_wait)):
        return 1, min(hi, queue)
    return 0, 0


@njit(cache=True)
def _plan_boats(booked, booked_day, gang, active, boats, people_per_boat, day, ppa, ppb_min, ppb_max,  # noqa: ANN001, ANN202, PLR0913
                min_fill_share, max_fill_wait, max_launches, last_resort):
    """Today's boats (:meth:`GangMarket.plan_boats`): each active gang (``active``, their indices, in
    order) loads its customers among the ``booked`` rows (ascending), earliest booked first (then
    the lowest row), by :func:`_launch_plan`. Returns each boat's gang (position among the active
    ones) and load (agents), and the rows aboard, boat by boat."""
    # sort by gang, then booking day, then row: one stable sort of the ascending rows by (gang, day)
    first_day = booked_day.min()
    span = booked_day.max() - first_day + 1
    order = np.argsort(gang * span + (booked_day - first_day), kind="mergesort")
    rows, days, gangs = booked[order], booked_day[order], gang[order]
    boat_gang = np.empty(rows.size, dtype=np.int64)
    boat_load = np.empty(rows.size, dtype=np.int64)
    aboard = np.empty(rows.size, dtype=rows.dtype)
    n_boats, n_aboard = 0, 0
    for a in range(active.size):
        first = np.searchsorted(gangs, active[a], side="left")
        end = np.searchsorted(gangs, active[a], side="right")
        if end == first:
            continue
        n, load = _launch_plan(end - first, day - days[first], boats[a], people_per_boat[a], ppa, ppb_min,
                               ppb_max, min_fill_share, max_fill_wait, max_launches, last_resort)
        for _ in range(n):
            boat_gang[n_boats] = a
            boat_load[n_boats] = load
            n_boats += 1
            aboard[n_aboard:n_aboard + load] = rows[first:first + load]
            n_aboard += load
            first += load
    return boat_gang[:n_boats], boat_load[:n_boats], aboard[:n_aboard]


def year_multiplier_or_nearest(table: dict[int, float], year: int) -> float:
    """The year's multiplier: listed, else the last listed year's before it, else the earliest."""
    if not table:
        return 1.0
    if year in table:
        return table[year]
    earlier = [y for y in table if y <= year]
    return table[max(earlier)] if earlier else table[min(table)]


class BoatSupply:
    """The price of a boat and engine (ODD 7.8.2).

    ``price = boat_price_gbp x year multiplier x (1 + elasticity x excess)``, where
    ``excess = max(0, S / S_ref - 1)`` is how far the recent rate of seizures ``S`` (a smoothed
    weekly count of prevented launches, whose boats are lost) runs above the reference rate
    ``S_ref`` (``boat_seizures_reference_per_week``): many boats seized means dearer boats.
    """

    def __init__(self, params: GangParams, year: int) -> None:
        self.params = params
        self.price_gbp = params.boat_price_gbp * year_multiplier_or_nearest(params.boat_price_year_multiplier, year)
        self.seized: float | None = None

    def update(self, seized_this_week: int, year: int) -> float:
        """Reprice after a week with ``seized_this_week`` boats prevented; returns the price."""
        p = self.params
        if self.seized is None:
            self.seized = float(seized_this_week)
        else:
            self.seized += SEIZURE_SMOOTHING * (seized_this_week - self.seized)
        excess = max(0.0, self.seized / p.boat_seizures_reference_per_week - 1.0)
        self.price_gbp = (p.boat_price_gbp * year_multiplier_or_nearest(p.boat_price_year_multiplier, year)
                          * (1.0 + p.boat_price_seizure_elasticity * excess))
        return self.price_gbp


@dataclass
class Boats:
    """The boats launched on one day: one entry per boat, and their passengers' rows."""

    market: GangMarket
    rows: np.ndarray         # each boat's gang (its gang_index, the row of the market's book)
    loads: np.ndarray        # agents per boat
    passengers: np.ndarray   # rows of everyone aboard, boat by boat
    boat_of: np.ndarray      # index of each passenger's boat

    def __len__(self) -> int:
        return self.rows.size

    @property
    def gangs(self) -> list[SmugglingGang]:
        """Each boat's gang."""
        return [self.market.gangs[i] for i in self.rows.tolist()]

    @property
    def sectors(self) -> np.ndarray:
        return self.market.book.sector[self.rows]

    @property
    def taxi(self) -> np.ndarray:
        return self.market.book.taxi_boats[self.rows]


class GangMarket:
    """The smuggling market: every gang that ever operated, entry and exit, and the boat supply."""

    def __init__(self, model: ChannelModel) -> None:
        self.model = model
        self.params: GangParams = model.config.gangs
        self.n_sectors = len(model.config.patrols.sectors)
        self.supply = BoatSupply(self.params, model.date.year)
        self.gangs: list[SmugglingGang] = []
        self.book = GangBook()   # every gang's state, row ``gang_index``
        # (gangs, activity changes, active gangs, their rows)
        self._active: tuple[int, int, list[SmugglingGang], np.ndarray] = (-1, -1, [], np.zeros(0, dtype=np.int64))
        self.initial_gangs = self.params.initial_gangs
        self.total_initial_cash_gbp = 0.0
        for _ in range(self.initial_gangs):
            self.new_gang(boats=BOATS_INITIAL_GANG)

    def configure(self, params: GangParams) -> None:
        """Put new gang parameters in force (a timeline change): the market, the boat supply and every gang."""
        self.params = self.supply.params = params
        for g in self.gangs:
            g.params = params

    @property
    def active(self) -> list[SmugglingGang]:
        """The gangs that still operate, in order of entry (a list kept until a gang enters or leaves;
        do not change it)."""
        return self._active_now()[0]

    @property
    def active_rows(self) -> np.ndarray:
        """The rows of the book (``gang_index``) of the gangs that still operate, in order of entry
        (an array kept until a gang enters or leaves; do not change it)."""
        return self._active_now()[1]

    def _active_now(self) -> tuple[list[SmugglingGang], np.ndarray]:
        n, changes, active, rows = self._active
        if n != len(self.gangs) or changes != _ACTIVITY_CHANGES[0]:
            active = [g for g in self.gangs if g.active]
            rows = np.array([g.gang_index for g in active], dtype=np.int64)
            self._active = (len(self.gangs), _ACTIVITY_CHANGES[0], active, rows)
        return active, rows

    def new_gang(self, boats: int) -> SmugglingGang:
        """A gang enters: the next sector in turn, the market's mean price, ``boats`` bought."""
        p = self.params
        active = self.active
        price = np.mean([g.price_gbp for g in active]) if active else p.initial_price_gbp
        gang = SmugglingGang(self.model, self.book.add(), len(self.gangs) % self.n_sectors, p.initial_cash_gbp,
                             float(price), self.supply.price_gbp, self.book)
        self.total_initial_cash_gbp += p.initial_cash_gbp
        self.gangs.append(gang)
        gang.buy_boats(boats, self.supply.price_gbp)
        return gang

    # -- daily ------------------------------------------------------------------------
    def step(self) -> None:
        """Every active gang pays its daily fixed cost (:meth:`SmugglingGang.step`, for all in one loop)."""
        today = self.model.today
        today["gang_spending_gbp"], today["gang_costs_gbp"] = _pay_fixed_all(
            self.book.view, self.active_rows, self.params.fixed_cost_per_week_gbp / 7.0,
            float(today["gang_spending_gbp"]), float(today["gang_costs_gbp"]))

    def sell_seats(self, agents: np.ndarray) -> None:
        """The active gangs (by position among them) sell ``agents`` agents' seats each
        (:meth:`SmugglingGang.sell_seats`, for all in one loop)."""
        today = self.model.today
        today["gang_revenue_gbp"] = _sell_all(self.book.view, self.active_rows, agents, self.model.people_per_agent,
                                              float(today["gang_revenue_gbp"]))

    def plan_boats(self, pop: Population, day: int) -> Boats | None:
        """Today's boats: each active gang loads its customers, earliest booked first
        (:meth:`SmugglingGang.plan_launches`, for all of them in one compiled loop)."""
        booked = pop.where(MigrantState.BOOKED)
        if booked.size == 0:
            return None
        rows, b = self.active_rows, self.book
        gang_of, boat_load, passengers = _plan_boats(
            booked, pop.booked_day[booked], pop.gang[booked], rows, b.boats[rows], b.people_per_boat[rows], int(day),
            *_launch_terms(self.params, self.model.people_per_agent))
        if gang_of.size == 0:
            return None
        return Boats(self, rows[gang_of], boat_load, passengers, np.repeat(np.arange(gang_of.size), boat_load))

    def record_launches(self, boats: Boats, prevented: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Every launch's cost and outcome to its gang (:meth:`SmugglingGang.record_launch`): a
        prevented launch leads to an arrest of staff with probability ``arrest_prob_per_prevented``
        (7.6). Returns which launches led to an arrest."""
        p, today = self.params, self.model.today
        arrested = prevented & (rng.random(len(boats)) < p.arrest_prob_per_prevented)
        today["gang_spending_gbp"], today["gang_costs_gbp"] = _record_launches_all(
            self.book.view, boats.rows, prevented, arrested, float(p.running_cost_per_launch_gbp),
            float(p.taxi_boat_extra_cost_gbp), float(p.arrest_cost_gbp), float(GANG_REPUTATION_WEIGHT),
            float(today["gang_spending_gbp"]), float(today["gang_costs_gbp"]))
        return arrested

    def keep_seats(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The retry promise (7.6): which of ``n`` passengers of prevented launches keep their
        seat, each with probability ``retry_promise_prob``."""
        return rng.random(n) < self.params.retry_promise_prob

    def vouchers(self, gang_of: np.ndarray) -> np.ndarray:
        """Return insurance (7.8.4): for arrivals who travelled with the gangs ``gang_of``, the gang
        that owes each a free second crossing if returned (their gang, if it insures), else -1."""
        return np.where(self.book.insures[gang_of], gang_of, -1)

    # -- weekly -----------------------------------------------------------------------
    def weekly(self, seized_this_week: int, least_patrolled_sector: int, rng: np.random.Generator) -> None:
        """Boat price, every gang's review, exits, and perhaps an entry (ODD 7.8, 7.9)."""
        model = self.model
        pop = model.pop
        backlog = self.backlog(pop, model.day)
        price = self.supply.update(seized_this_week, model.date.year)
        active = self.active
        for g in active:
            g.close_week()
        market_seats = float(sum(w["seats"] for g in active for w in g.recent))
        return_rate = model.authority.public_return_probability()
        for g in active:
            g.weekly_review(price, int(backlog[g.gang_index]) * model.people_per_agent,
                            least_patrolled_sector, market_seats, rng, return_rate)
        for g in self.gangs:
            if g.active and g.should_exit:
                self.exit(g)
        self.maybe_enter(rng)

    def backlog(self, pop: Population, day: int) -> np.ndarray:
        """Agents booked with each gang before this week began and still waiting to launch."""
        booked = pop.where(MigrantState.BOOKED)
        old = booked[pop.booked_day[booked] <= day - 7]
        return np.bincount(pop.gang[old], minlength=len(self.gangs))

    def exit(self, gang: SmugglingGang) -> None:
        """The gang leaves the market; its booked customers lose their fare and wait again."""
        model = self.model
        gang.active = False
        model.today["gang_exits"] += 1
        # boats it still holds are lost to the business: an economic cost (their cash was spent)
        gang.written_off_gbp = gang.boats * gang.boat_book_value_gbp
        model.today["gang_costs_gbp"] += gang.written_off_gbp
        gang.boats = 0
        pop = model.pop
        booked = pop.where(MigrantState.BOOKED)
        stranded = booked[pop.gang[booked] == gang.gang_index]
        if stranded.size:
            pop.gang[stranded] = -1
            pop.next_review[stranded] = model.day + 1
            pop.move(stranded, MigrantState.WAITING, model.day)

    def recent_margin(self) -> float:
        """Profit over revenue of the active gangs over their recent weeks (-1 without revenue)."""
        recent = [w for g in self.active for w in g.recent]
        revenue = sum(w["revenue"] for w in recent)
        profit = revenue - sum(w["cost"] for w in recent)
        return profit / revenue if revenue > 0 else -1.0

    def recent_prevented_share(self) -> float:
        """Share of the active gangs' launches prevented over their recent weeks (0 without launches)."""
        recent = [w for g in self.active for w in g.recent]
        launches = sum(w["launches"] for w in recent)
        return sum(w["prevented"] for w in recent) / launches if launches else 0.0

    def maybe_enter(self, rng: np.random.Generator) -> None:
        """Free entry: while the recent margin beats the threshold, a gang enters with a weekly
        probability, paying the sunk entry cost (an economic cost) and buying boats."""
        p = self.params
        if len(self.active) >= p.max_gangs:
            return
        if self.recent_margin() > p.entry_margin_threshold and rng.random() < p.entry_prob_per_week:
            gang = self.new_gang(boats=0)
            gang.bear_entry_cost(p.entry_cost_gbp)
            today = self.model.today
            today["gang_costs_gbp"] += p.entry_cost_gbp
            today["gang_entries"] += 1
            gang.buy_boats(BOATS_ENTRANT, self.supply.price_gbp)

    # -- views ----------------------------------------------------------------------
    def mean_price(self) -> float:
        """The mean price of the active gangs (what is heard upstream; the initial price without gangs)."""
        active = self.active
        if not active:
            return self.params.initial_price_gbp
        return float(np.add.reduce(self.book.price_gbp[self.active_rows]) / len(active))   # np.mean, without its overhead

    def insured_share(self) -> float:
        """Share of the active gangs offering return insurance."""
        active = self.active
        return int(np.count_nonzero(self.book.insures[self.active_rows])) / len(active) if active else 0.0

    def prices(self) -> np.ndarray:
        return self.book.price_gbp[self.active_rows]

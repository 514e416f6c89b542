"""Smuggling gangs: sell seats, buy boats, launch on crossable days, adapt weekly.

Economics (DESIGN 2 and 6b): revenue is seats sold (paid up front); costs are boats
(one is used up by every launch, prevented or not), running costs per launch, a weekly
fixed cost, the extra cost of taxi-boat tactics, and arrests. Every change of a gang's
cash is booked in :attr:`SmugglingGang.ledger`, so that money is conserved exactly:
``cash_end - cash_start = revenue - boat purchases - running - fixed - arrests``.
Economic profit counts a boat at its purchase price when it is used, not when bought.

The rules that change a gang's accounts, and its weekly review, are compiled functions of one
gang's row of the market's table of gangs (:mod:`sim.agents.gang_book`): a gang's methods apply
them to that gang, the market's loops to every active gang at once.

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
import numpy as np
from numba import njit

from sim.agents import decision
from sim.agents import gang_book as rules
from sim.agents.gang_book import FIXED, LEDGER_KINDS, WEEK_KEYS, GangBook, gang_terms
from sim.constants import (
    BOATS_ENTRANT,
    BOATS_INITIAL_GANG,
    FILL_WAIT_LAST_RESORT_FACTOR,
    GANG_BASE_MARKET_WEIGHT,
    GANG_INITIAL_REPUTATION,
    SEIZURE_SMOOTHING,
)
from sim.params import GangParams
from sim.population import MigrantState, Population

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ChannelModel

__all__ = ["Boats", "BoatSupply", "GangBook", "GangMarket", "SmugglingGang", "market_weight", "year_multiplier_or_nearest"]


def market_weight(reputation: float | np.ndarray) -> float | np.ndarray:
    """How likely a migrant is to know a gang of ``reputation`` (one gang or an array of them): a
    base weight plus its reputation (word of mouth follows reputation)."""
    return GANG_BASE_MARKET_WEIGHT + reputation


#: The day's totals the weekly review adds to (:func:`sim.agents.gang_book.weekly_review`), in the
#: order of its ``today`` array.
_WEEKLY_TOTALS = ("tactic_changes", "gang_spending_gbp", "boats_bought")


class _Column:
    """A gang's attribute kept in its row of the :class:`GangBook` column of the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, gang: SmugglingGang | None, owner: type) -> object:
        if gang is None:
            return self
        return getattr(gang.book, self.name)[gang.gang_index].item()

    def __set__(self, gang: SmugglingGang, value: object) -> None:
        getattr(gang.book, self.name)[gang.gang_index] = value


class SmugglingGang(mesa.Agent):
    """One smuggling network operating from one coastal sector.

    Its state is its row of the market's :class:`sim.agents.gang_book.GangBook` (the attributes
    below read and write it), and its rules are the compiled functions of one row in
    :mod:`sim.agents.gang_book`: each method here applies one of them to this gang, and the
    market applies the same ones to every active gang in one loop.
    """

    sector = _Column()                 # launch beaches
    cash_gbp = _Column()
    price_gbp = _Column()
    boats = _Column()
    boat_book_value_gbp = _Column()    # average purchase price of the stock
    people_per_boat = _Column()
    reputation = _Column()             # observed success rate of its launches (EWMA)
    taxi_boats = _Column()
    insures = _Column()                # offers return insurance (a free second crossing)
    recent_seats = _Column()           # seats sold over the recent weeks (set in close_week)
    written_off_gbp = _Column()        # book value of boats lost when the gang exited

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
        self.normal_demand = None
        self.written_off_gbp = 0.0
        self.reputation = GANG_INITIAL_REPUTATION
        self.taxi_boats = False
        self.insures = False
        self.active = True
        self.recent_seats = 0.0
        self.profits: deque[float] = deque(maxlen=self.params.exit_after_loss_weeks)  # weekly profits (GBP)

    @property
    def active(self) -> bool:
        """Whether the gang still operates."""
        return bool(self.book.active[self.gang_index])

    @active.setter
    def active(self, value: bool) -> None:
        self.book.active[self.gang_index] = bool(value)
        self.book.activity_changes += 1

    @property
    def normal_demand(self) -> float | None:
        """Smoothed weekly demand (seats), the gang's normal volume (None before its first review)."""
        value = self.book.normal_demand[self.gang_index].item()
        return None if math.isnan(value) else value

    @normal_demand.setter
    def normal_demand(self, value: float | None) -> None:
        self.book.normal_demand[self.gang_index] = math.nan if value is None else value

    @property
    def ledger(self) -> dict[str, float]:
        """The cumulative ledger of cash flows by kind (GBP; a copy)."""
        return dict(zip(LEDGER_KINDS, self.book.ledger[self.gang_index].tolist(), strict=True))

    @property
    def week(self) -> dict[str, float]:
        """This week's accounts so far (a copy): revenue and economic cost (GBP), seats sold or given,
        launches, and launches prevented."""
        i, b = self.gang_index, self.book
        return {"revenue": b.week_revenue[i].item(), "cost": b.week_cost[i].item(), "seats": b.week_seats[i].item(),
                "launches": b.week_launches[i].item(), "prevented": b.week_prevented[i].item()}

    @property
    def recent(self) -> list[dict[str, float]]:
        """The accounts of the recent weeks (at most ``GANG_MEMORY_WEEKS``), oldest first (a copy)."""
        i, b = self.gang_index, self.book
        return [dict(zip(WEEK_KEYS, w, strict=True)) for w in b.recent[i, :b.n_recent[i]].tolist()]

    def __repr__(self) -> str:
        return (f"SmugglingGang(#{self.gang_index}, sector={self.sector}, price={self.price_gbp:.0f}, "
                f"boats={self.boats}, cash={self.cash_gbp:.0f}, active={self.active})")

    @property
    def terms(self) -> rules.GangTerms:
        """The parameters the rules use, from the model's configuration in force."""
        return gang_terms(self.model.config)

    # -- money ------------------------------------------------------------------------
    def _spend(self, kind: int, amount: float) -> None:
        """Pay a cash cost of ledger column ``kind`` that is also an economic cost of the day."""
        rules.charge(self.book.view, self.gang_index, kind, amount)
        today = self.model.today
        today["gang_spending_gbp"] += amount
        today["gang_costs_gbp"] += amount

    def sell_seats(self, people: int) -> None:
        """Take payment for ``people`` seats at today's price."""
        self.model.today["gang_revenue_gbp"] += rules.sell(self.book.view, self.gang_index, people)

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
        today = self.model.today
        today["gang_spending_gbp"], today["boats_bought"] = rules.buy_boats(
            self.book.view, self.gang_index, int(n), float(price_gbp), float(today["gang_spending_gbp"]),
            float(today["boats_bought"]))

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
        """Pay for one launch and learn from its outcome (:func:`sim.agents.gang_book.record_launch`)."""
        today = self.model.today
        today["gang_spending_gbp"], today["gang_costs_gbp"] = rules.record_launch(
            self.book.view, self.gang_index, self.terms, bool(prevented), bool(arrested),
            float(today["gang_spending_gbp"]), float(today["gang_costs_gbp"]))

    def running_cost_per_launch(self) -> float:
        """The running cost of one launch (GBP): more with taxi boats."""
        return rules.running_cost(self.book.view, self.gang_index, self.terms)

    # -- weekly -----------------------------------------------------------------------
    def close_week(self) -> None:
        """Close the week's books: the week joins the recent weeks and the profit history."""
        self.profits.append(rules.close_week(self.book.view, self.gang_index))

    def weekly_review(self, boat_price_gbp: float, backlog_people: int, least_patrolled_sector: int,
                      market_seats: float, rng: np.random.Generator | decision.Stream, return_rate: float = 0.0) -> None:
        """After :meth:`close_week`: set the boat load, reprice, change tactics and invest (ODD 7.8;
        :func:`sim.agents.gang_book.weekly_review`: :meth:`set_boat_load`, :meth:`window`,
        :meth:`reprice`, :meth:`adapt_tactics`, :meth:`offer_insurance`, :meth:`invest`).

        ``backlog_people`` are people booked before this week began and not yet launched;
        ``market_seats`` are the seats all active gangs sold over their recent weeks (for
        this gang's market share). Exit is tested afterwards (:attr:`should_exit`).
        """
        today = self.model.today
        day = np.array([today[k] for k in _WEEKLY_TOTALS])
        rules.weekly_review(self.book.view, self.gang_index, self.terms, float(boat_price_gbp), int(backlog_people),
                            int(least_patrolled_sector), float(market_seats), float(return_rate),
                            decision.stream(rng), day)
        today.update(zip(_WEEKLY_TOTALS, day.tolist(), strict=True))

    def offer_insurance(self, return_rate: float) -> None:
        """Return insurance (ECONOMICS.md section 3): offer customers a free second crossing if they
        are returned, once returns are frequent enough to matter to them (the news' return
        probability of a covered arrival at or above ``insurance_trigger_return_rate``); stop when
        it falls below ``INSURANCE_STOP_SHARE`` (half) of that. Its cost is the seats given free later."""
        self.model.today["tactic_changes"] += rules.offer_insurance(self.book.view, self.gang_index, self.terms,
                                                                    float(return_rate))

    def window(self) -> dict[str, float]:
        """Mean seats and launches a week, and the prevented share, over the recent weeks."""
        seats, launches, total, prevented_share = rules.window(self.book.view, self.gang_index)
        return {"seats": seats, "launches": launches, "total_launches": total, "prevented_share": prevented_share}

    def set_boat_load(self, boat_price_gbp: float) -> None:
        """People per boat: fuller boats when boats are dear (log of the relative price)."""
        rules.set_boat_load(self.book.view, self.gang_index, self.terms, float(boat_price_gbp))

    def variable_cost(self, boat_price_gbp: float, prevented_share: float) -> float:
        """Cost of one more seat: a launch's boat and running cost over its load, grossed up for
        the prevented launches whose passengers keep their seat for a retry."""
        return rules.variable_cost(self.book.view, self.gang_index, self.terms, float(boat_price_gbp),
                                   float(prevented_share))

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
        rules.reprice(self.book.view, self.gang_index, self.terms, float(boat_price_gbp), float(window["seats"]),
                      float(window["prevented_share"]), float(demand), float(market_seats))

    def adapt_tactics(self, window: dict[str, float], least_patrolled_sector: int,
                      rng: np.random.Generator | decision.Stream) -> None:
        """Switch to taxi boats when beach patrols prevent too much (and perhaps move sector)."""
        self.model.today["tactic_changes"] += rules.adapt_tactics(
            self.book.view, self.gang_index, self.terms, float(window["total_launches"]), float(window["prevented_share"]),
            int(least_patrolled_sector), decision.stream(rng))

    def invest(self, boat_price_gbp: float, window: dict[str, float], demand: float) -> None:
        """Keep ``stock_weeks`` of expected launches in stock, as cash allows."""
        today = self.model.today
        today["gang_spending_gbp"], today["boats_bought"] = rules.invest(
            self.book.view, self.gang_index, self.terms, float(boat_price_gbp), float(window["launches"]), float(demand),
            float(today["gang_spending_gbp"]), float(today["boats_bought"]))

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
def _booked_in_order(state, size, booked, booked_day, gang):  # noqa: ANN001, ANN202
    """The rows of the people in state ``booked``, by gang, then booking day, then row: two stable
    counting sorts of the ascending rows, by day and then by gang (the order of a stable sort by
    ``(gang, day)``, in time linear in the rows, the days and the gangs)."""
    n = 0
    for r in range(size):
        n += state[r] == booked
    rows = np.empty(n, dtype=np.int64)
    i = 0
    for r in range(size):
        if state[r] == booked:
            rows[i] = r
            i += 1
    if n == 0:
        return rows
    first_day, last_day = booked_day[rows[0]], booked_day[rows[0]]
    first_gang, last_gang = gang[rows[0]], gang[rows[0]]
    for r in rows:
        first_day, last_day = min(first_day, booked_day[r]), max(last_day, booked_day[r])
        first_gang, last_gang = min(first_gang, gang[r]), max(last_gang, gang[r])
    by_day = _stable_by(rows, booked_day, first_day, last_day - first_day + 1)
    return _stable_by(by_day, gang, first_gang, last_gang - first_gang + 1)


@njit(cache=True)
def _stable_by(rows, key, lowest, span):  # noqa: ANN001, ANN202
    """``rows`` sorted by ``key[row] - lowest`` (in ``[0, span)``), keeping the order of equal keys."""
    start = np.zeros(span + 1, dtype=np.int64)
    for r in rows:
        start[key[r] - lowest + 1] += 1
    for k in range(span):
        start[k + 1] += start[k]
    out = np.empty_like(rows)
    for r in rows:
        k = key[r] - lowest
        out[start[k]] = r
        start[k] += 1
    return out


@njit(cache=True)
def _plan_boats(state, size, booked, booked_day, gang, active, boats, people_per_boat, day, ppa, ppb_min,  # noqa: ANN001, ANN202, PLR0913
                ppb_max, min_fill_share, max_fill_wait, max_launches, last_resort):
    """Today's boats (:meth:`GangMarket.plan_boats`): each active gang (``active``, their indices, in
    order) loads its customers (the people in state ``booked``), earliest booked first (then the
    lowest row), by :func:`_launch_plan`. Returns each boat's gang (position among the active
    ones) and load (agents), and the rows aboard, boat by boat."""
    rows = _booked_in_order(state, size, booked, booked_day, gang)
    days, gangs = booked_day[rows], gang[rows]
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
        self._terms: tuple[object, rules.GangTerms | None] = (None, None)   # (configuration, its terms)
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

    @property
    def terms(self) -> rules.GangTerms:
        """The parameters the gangs' rules use (:func:`sim.agents.gang_book.gang_terms`), made again
        only when the model's configuration in force changes."""
        cfg = self.model.config
        if self._terms[0] is not cfg:
            self._terms = (cfg, gang_terms(cfg))
        return self._terms[1]

    def _active_now(self) -> tuple[list[SmugglingGang], np.ndarray]:
        n, changes, active, rows = self._active
        if n != len(self.gangs) or changes != self.book.activity_changes:
            active = [g for g in self.gangs if g.active]
            rows = np.array([g.gang_index for g in active], dtype=np.int64)
            self._active = (len(self.gangs), self.book.activity_changes, active, rows)
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
        today["gang_spending_gbp"], today["gang_costs_gbp"] = rules.pay_fixed_all(
            self.book.view, self.active_rows, self.params.fixed_cost_per_week_gbp / 7.0,
            float(today["gang_spending_gbp"]), float(today["gang_costs_gbp"]))

    def sell_seats(self, agents: np.ndarray) -> None:
        """The active gangs (by position among them) sell ``agents`` agents' seats each
        (:meth:`SmugglingGang.sell_seats`, for all in one loop)."""
        today = self.model.today
        today["gang_revenue_gbp"] = rules.sell_all(self.book.view, self.active_rows, agents,
                                                   self.model.people_per_agent, float(today["gang_revenue_gbp"]))

    def plan_boats(self, pop: Population, day: int) -> Boats | None:
        """Today's boats: each active gang loads its customers, earliest booked first
        (:meth:`SmugglingGang.plan_launches`, for all of them in one compiled loop)."""
        rows, b = self.active_rows, self.book
        gang_of, boat_load, passengers = _plan_boats(
            pop.state, pop.size, int(MigrantState.BOOKED), pop.booked_day, pop.gang, rows, b.boats[rows],
            b.people_per_boat[rows], int(day), *_launch_terms(self.params, self.model.people_per_agent))
        if gang_of.size == 0:
            return None
        return Boats(self, rows[gang_of], boat_load, passengers, np.repeat(np.arange(gang_of.size), boat_load))

    def record_launches(self, boats: Boats, prevented: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Every launch's cost and outcome to its gang (:meth:`SmugglingGang.record_launch`): a
        prevented launch leads to an arrest of staff with probability ``arrest_prob_per_prevented``
        (7.6). Returns which launches led to an arrest."""
        p, today = self.params, self.model.today
        arrested = prevented & (rng.random(len(boats)) < p.arrest_prob_per_prevented)
        today["gang_spending_gbp"], today["gang_costs_gbp"] = rules.record_launches_all(
            self.book.view, boats.rows, self.terms, prevented, arrested,
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
    def weekly(self, seized_this_week: int, least_patrolled_sector: int,
               rng: np.random.Generator | decision.Stream) -> None:
        """Boat price, every gang's review, exits, and perhaps an entry (ODD 7.8, 7.9): every active
        gang closes its week (:meth:`SmugglingGang.close_week`) and reviews it
        (:meth:`SmugglingGang.weekly_review`), each step for all of them in one compiled loop."""
        model = self.model
        stream = decision.stream(rng)
        backlog = self.backlog(model.pop, model.day)
        price = self.supply.update(seized_this_week, model.date.year)
        active, rows, view = self.active, self.active_rows, self.book.view
        profits, market_seats = rules.close_week_all(view, rows)
        for g, profit in zip(active, profits.tolist(), strict=True):
            g.profits.append(profit)
        return_rate = model.authority.public_return_probability()
        today = model.today
        day = np.array([today[k] for k in _WEEKLY_TOTALS])
        rules.weekly_review_all(view, rows, self.terms, float(price), backlog[rows] * model.people_per_agent,
                                int(least_patrolled_sector), float(market_seats), float(return_rate), stream, day)
        today.update(zip(_WEEKLY_TOTALS, day.tolist(), strict=True))
        for g in list(active):
            if g.should_exit:
                self.exit(g)
        self.maybe_enter(stream.rng)

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

    def _recent_weeks(self) -> list[list[float]]:
        """The recent weeks' accounts of every active gang, gang by gang, oldest first (the
        entries of :data:`sim.agents.gang_book.WEEK_KEYS`)."""
        b = self.book
        return [w for i in self.active_rows.tolist() for w in b.recent[i, :b.n_recent[i]].tolist()]

    def recent_margin(self) -> float:
        """Profit over revenue of the active gangs over their recent weeks (-1 without revenue)."""
        recent = self._recent_weeks()
        revenue = sum(w[rules.W_REVENUE] for w in recent)
        profit = revenue - sum(w[rules.W_COST] for w in recent)
        return profit / revenue if revenue > 0 else -1.0

    def recent_prevented_share(self) -> float:
        """Share of the active gangs' launches prevented over their recent weeks (0 without launches)."""
        recent = self._recent_weeks()
        launches = sum(w[rules.W_LAUNCHES] for w in recent)
        return sum(w[rules.W_PREVENTED] for w in recent) / launches if launches else 0.0

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

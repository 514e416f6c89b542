"""The gangs' state as columns, and the compiled rules that change one gang's row.

A :class:`GangBook` holds every gang's state: one array per attribute, one row per gang (its
``gang_index``). :class:`sim.agents.gang.SmugglingGang` reads and writes its own row through
its attributes, and its methods apply the rules below to that row. The rules are written once,
as compiled functions of one row (``gb`` the book's columns, ``i`` the row), and the market's
loops (:class:`sim.agents.gang.GangMarket`) apply the same functions to every active gang in
one compiled call:

* accounts: :func:`charge` (a cash cost), :func:`sell` (seats), :func:`buy_boats`,
  :func:`record_launch` (a launch's costs and what the gang learns from its outcome);
* the weekly review (ODD 7.8): :func:`close_week`, :func:`set_boat_load`, :func:`window`,
  :func:`variable_cost`, :func:`reprice`, :func:`adapt_tactics`, :func:`offer_insurance`,
  :func:`invest`, composed in :func:`weekly_review`;
* the loops over many gangs: :func:`pay_fixed_all`, :func:`sell_all`,
  :func:`record_launches_all`, :func:`close_week_all`, :func:`weekly_review_all`.

The parameters the rules use are passed as :data:`GangTerms` (:func:`gang_terms`). Each
function does the arithmetic of the plain-Python rule it replaced in the same order, so the
results are the same to the last bit (and with ``NUMBA_DISABLE_JIT=1`` they run as Python on
the :class:`GangBook` itself).
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import TYPE_CHECKING

import numba
import numpy as np
from numba import njit, types
from numba.experimental import structref

from sim.constants import (
    GANG_MEMORY_WEEKS,
    GANG_REPUTATION_WEIGHT,
    INSURANCE_STOP_SHARE,
    MAX_MARKET_SHARE,
    NORMAL_DEMAND_SMOOTHING,
    PRICE_PRESSURE_MAX,
    PRICE_PRESSURE_MIN,
    PRICE_PRESSURE_WEIGHT,
    TAXI_MIN_LAUNCHES,
    TAXI_MOVE_SECTOR_PROB,
    UNIT_COST_RETRY_FLOOR,
)

if TYPE_CHECKING:  # pragma: no cover
    from sim.params import Config

__all__ = ["GANG_COLUMNS", "LEDGER_KINDS", "WEEK_KEYS", "GangBook", "GangTerms", "gang_terms"]

#: The kinds of cash flow in a gang's ledger (the columns of :attr:`GangBook.ledger`, in order).
LEDGER_KINDS = ("revenue", "boats_bought", "running", "fixed", "arrests")
REVENUE, BOATS_BOUGHT, RUNNING, FIXED, ARRESTS = range(len(LEDGER_KINDS))

#: A week's accounts (the last axis of :attr:`GangBook.recent`, in order): revenue and economic
#: cost (GBP), seats sold or given, launches, launches prevented.
WEEK_KEYS = ("revenue", "cost", "seats", "launches", "prevented")
W_REVENUE, W_COST, W_SEATS, W_LAUNCHES, W_PREVENTED = range(len(WEEK_KEYS))

#: The per-gang columns of a :class:`GangBook`, their types and the shape of a row: the gang's
#: terms and stock; its cumulative ledger of cash flows (GBP, one column per kind of
#: :data:`LEDGER_KINDS`); this week's accounts (``week_*``); the smoothed weekly demand, its
#: normal volume (NaN before the first review); the recent weeks' accounts, oldest first
#: (``n_recent`` of them, at most ``GANG_MEMORY_WEEKS``).
GANG_COLUMNS: dict[str, tuple[type, tuple[int, ...]]] = {
    "sector": (np.int64, ()), "active": (np.bool_, ()), "price_gbp": (np.float64, ()),
    "cash_gbp": (np.float64, ()), "boats": (np.int64, ()), "boat_book_value_gbp": (np.float64, ()),
    "people_per_boat": (np.float64, ()), "reputation": (np.float64, ()), "taxi_boats": (np.bool_, ()),
    "insures": (np.bool_, ()), "recent_seats": (np.float64, ()), "written_off_gbp": (np.float64, ()),
    "ledger": (np.float64, (len(LEDGER_KINDS),)), "week_revenue": (np.float64, ()), "week_cost": (np.float64, ()),
    "week_seats": (np.int64, ()), "week_launches": (np.int64, ()), "week_prevented": (np.int64, ()),
    "normal_demand": (np.float64, ()), "n_recent": (np.int64, ()),
    "recent": (np.float64, (GANG_MEMORY_WEEKS, len(WEEK_KEYS))),
}


class GangBook:
    """The gangs' state as columns: one array per entry of :data:`GANG_COLUMNS`, one row per gang.
    The arrays grow (doubling) as gangs enter."""

    def __init__(self, capacity: int = 16) -> None:
        self.size = 0
        #: how many times a gang entered or left (:attr:`sim.agents.gang.SmugglingGang.active` set): the
        #: key under which the market keeps its list of active gangs
        self.activity_changes = 0
        for name, (dtype, shape) in GANG_COLUMNS.items():
            setattr(self, name, np.zeros((max(capacity, 1), *shape), dtype=dtype))
        self._view: object | None = None

    def __getstate__(self) -> dict[str, object]:
        """A copy (``copy.deepcopy`` of a model, pickling) leaves the compiled view behind."""
        return {**self.__dict__, "_view": None}

    def add(self) -> int:
        """A new row (all zeros, no normal demand yet); returns its index."""
        if self.size == self.price_gbp.shape[0]:
            for name in GANG_COLUMNS:
                old = getattr(self, name)
                new = np.zeros((2 * old.shape[0], *old.shape[1:]), dtype=old.dtype)
                new[:old.shape[0]] = old
                setattr(self, name, new)
            self._view = None
        self.normal_demand[self.size] = np.nan
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


_BOOK = _BookType([(name, numba.typeof(np.zeros((1, *shape), dtype=dtype)))
                   for name, (dtype, shape) in GANG_COLUMNS.items()])


@njit(cache=True)
def _new_book(arrays):  # noqa: ANN001, ANN202
    gb = structref.new(_BOOK)
    (gb.sector, gb.active, gb.price_gbp, gb.cash_gbp, gb.boats, gb.boat_book_value_gbp, gb.people_per_boat,
     gb.reputation, gb.taxi_boats, gb.insures, gb.recent_seats, gb.written_off_gbp, gb.ledger, gb.week_revenue,
     gb.week_cost, gb.week_seats, gb.week_launches, gb.week_prevented, gb.normal_demand, gb.n_recent,
     gb.recent) = arrays
    return gb


class _BookProxy(structref.StructRefProxy):
    """A :class:`GangBook`'s columns as compiled code holds them (converted once, not at every call)."""


structref.define_boxing(_BookType, _BookProxy)

#: The gang parameters the rules use (from :class:`sim.params.GangParams`, and the migrants'
#: logit scale among gangs and the competitive-prices mechanism): :func:`gang_terms`.
GangTerms = namedtuple("GangTerms", [
    "boat_price_ref", "people_per_boat_base", "people_per_boat_slope", "people_per_boat_min",
    "people_per_boat_max", "running_cost", "taxi_extra_cost", "arrest_cost", "retry_prob", "price_adjust_rate",
    "price_max", "choice_scale", "competitive_prices", "taxi_trigger", "insurance_trigger", "stock_weeks"])


def gang_terms(cfg: Config) -> GangTerms:
    """The :data:`GangTerms` of the configuration ``cfg``."""
    p = cfg.gangs
    return GangTerms(
        float(p.boat_price_gbp), float(p.people_per_boat_base), float(p.people_per_boat_price_slope),
        float(p.people_per_boat_min), float(p.people_per_boat_max), float(p.running_cost_per_launch_gbp),
        float(p.taxi_boat_extra_cost_gbp), float(p.arrest_cost_gbp), float(p.retry_promise_prob),
        float(p.price_adjust_rate), float(p.price_max_gbp), float(cfg.migrants.choice_scale_gbp),
        bool(cfg.mechanisms.competitive_prices), float(p.taxi_boat_trigger), float(p.insurance_trigger_return_rate),
        float(p.stock_weeks))


@njit(cache=True)
def clip(x, lo, hi):  # noqa: ANN001, ANN201
    """``min(max(x, lo), hi)`` as a float."""
    return float(min(max(x, lo), hi))


# -- accounts --------------------------------------------------------------------------------
@njit(cache=True)
def charge(gb, i, kind, amount):  # noqa: ANN001, ANN201
    """Gang ``i`` pays ``amount`` (GBP) of cash cost ``kind`` (a ledger column), an economic cost of the week."""
    gb.cash_gbp[i] -= amount
    gb.ledger[i, kind] += amount
    gb.week_cost[i] += amount


@njit(cache=True)
def sell(gb, i, people):  # noqa: ANN001, ANN201
    """Gang ``i`` takes payment for ``people`` seats at its price; returns the revenue (GBP)."""
    revenue = people * gb.price_gbp[i]
    gb.cash_gbp[i] += revenue
    gb.ledger[i, REVENUE] += revenue
    gb.week_revenue[i] += revenue
    gb.week_seats[i] += people
    return revenue


@njit(cache=True)
def buy_boats(gb, i, n, price, spending, bought):  # noqa: ANN001, ANN201
    """Gang ``i`` buys ``n`` boats at ``price`` each (cash out; the cost is booked when a boat is used:
    the stock's book value is the average purchase price). ``spending`` and ``bought`` are the
    day's totals so far (GBP, boats); returns them updated."""
    if n <= 0:
        return spending, bought
    total = n * price
    gb.boat_book_value_gbp[i] = (gb.boat_book_value_gbp[i] * gb.boats[i] + total) / (gb.boats[i] + n)
    gb.boats[i] += n
    gb.cash_gbp[i] -= total
    gb.ledger[i, BOATS_BOUGHT] += total
    return spending + total, bought + n


@njit(cache=True)
def running_cost(gb, i, t):  # noqa: ANN001, ANN201
    """The running cost of one launch of gang ``i`` (GBP): more with taxi boats."""
    return t.running_cost + (t.taxi_extra_cost if gb.taxi_boats[i] else 0.0)


@njit(cache=True)
def record_launch(gb, i, t, prevented, arrested, spending, costs):  # noqa: ANN001, ANN201, PLR0913
    """Gang ``i`` pays for one launch (the boat used up at its book value, the running cost, and the
    arrest cost if staff were arrested) and learns from its outcome (its reputation moves toward
    success or failure with weight ``GANG_REPUTATION_WEIGHT``). ``spending`` and ``costs`` are the
    day's totals so far; returns them updated."""
    gb.boats[i] -= 1
    used = gb.boat_book_value_gbp[i]
    gb.week_cost[i] += used   # the boat is used up (economic cost)
    costs += used
    running = running_cost(gb, i, t)
    charge(gb, i, RUNNING, running)
    spending += running
    costs += running
    if arrested:
        charge(gb, i, ARRESTS, t.arrest_cost)
        spending += t.arrest_cost
        costs += t.arrest_cost
    gb.week_launches[i] += 1
    gb.week_prevented[i] += 1 if prevented else 0
    gb.reputation[i] += GANG_REPUTATION_WEIGHT * ((0.0 if prevented else 1.0) - gb.reputation[i])
    return spending, costs


# -- the weekly review -----------------------------------------------------------------------
@njit(cache=True)
def close_week(gb, i):  # noqa: ANN001, ANN201
    """Close gang ``i``'s books for the week: the week joins its recent weeks (the oldest dropped
    beyond ``GANG_MEMORY_WEEKS``), the seats over them are counted, and a new week starts.
    Returns the week's profit (GBP)."""
    n = gb.n_recent[i]
    if n == GANG_MEMORY_WEEKS:   # the width of ``recent``
        for w in range(n - 1):
            gb.recent[i, w, :] = gb.recent[i, w + 1, :]
        n -= 1
    gb.recent[i, n, W_REVENUE] = gb.week_revenue[i]
    gb.recent[i, n, W_COST] = gb.week_cost[i]
    gb.recent[i, n, W_SEATS] = gb.week_seats[i]
    gb.recent[i, n, W_LAUNCHES] = gb.week_launches[i]
    gb.recent[i, n, W_PREVENTED] = gb.week_prevented[i]
    n += 1
    gb.n_recent[i] = n
    seats = 0.0
    for w in range(n):
        seats += gb.recent[i, w, W_SEATS]
    gb.recent_seats[i] = seats
    profit = gb.week_revenue[i] - gb.week_cost[i]
    gb.week_revenue[i] = 0.0
    gb.week_cost[i] = 0.0
    gb.week_seats[i] = 0
    gb.week_launches[i] = 0
    gb.week_prevented[i] = 0
    return profit


@njit(cache=True)
def window(gb, i):  # noqa: ANN001, ANN201
    """Over gang ``i``'s recent weeks: mean seats and launches a week, the launches, and the share
    of them prevented (0 without launches)."""
    n = gb.n_recent[i]
    seats, launches, prevented = 0.0, 0.0, 0.0
    for w in range(n):
        seats += gb.recent[i, w, W_SEATS]
        launches += gb.recent[i, w, W_LAUNCHES]
        prevented += gb.recent[i, w, W_PREVENTED]
    return seats / n, launches / n, launches, prevented / launches if launches else 0.0


@njit(cache=True)
def set_boat_load(gb, i, t, boat_price):  # noqa: ANN001, ANN201
    """People per boat: fuller boats when boats are dear (log of the relative price)."""
    rel = max(boat_price / t.boat_price_ref, 1e-9) if t.boat_price_ref > 0 else 1.0
    gb.people_per_boat[i] = clip(t.people_per_boat_base + t.people_per_boat_slope * math.log(rel),
                                 t.people_per_boat_min, t.people_per_boat_max)


@njit(cache=True)
def variable_cost(gb, i, t, boat_price, prevented_share):  # noqa: ANN001, ANN201
    """Cost of one more seat: a launch's boat and running cost over its load, grossed up for the
    prevented launches whose passengers keep their seat for a retry."""
    per_launch = boat_price + running_cost(gb, i, t)
    retry_gross_up = max(1.0 - prevented_share * t.retry_prob, UNIT_COST_RETRY_FLOOR)
    return (per_launch / gb.people_per_boat[i]) / retry_gross_up


@njit(cache=True)
def reprice(gb, i, t, boat_price, window_seats, prevented_share, demand, market_seats):  # noqa: ANN001, ANN201, PLR0913
    """Competitive pricing (ODD 7.8.3; :meth:`sim.agents.gang.SmugglingGang.reprice`)."""
    if not t.competitive_prices:
        return
    normal = gb.normal_demand[i]
    normal = demand if math.isnan(normal) else normal + NORMAL_DEMAND_SMOOTHING * (demand - normal)
    gb.normal_demand[i] = normal
    base = max(normal, gb.people_per_boat[i])
    pressure = clip(demand / base - 1.0, PRICE_PRESSURE_MIN, PRICE_PRESSURE_MAX)
    share = min(window_seats * gb.n_recent[i] / market_seats, MAX_MARKET_SHARE) if market_seats > 0 else 0.0
    floor = variable_cost(gb, i, t, boat_price, prevented_share)
    markup = t.choice_scale / (1.0 - share)
    target = floor + markup * (1.0 + PRICE_PRESSURE_WEIGHT * pressure)
    price = gb.price_gbp[i]
    step = clip(target / price - 1.0, -t.price_adjust_rate, t.price_adjust_rate)
    gb.price_gbp[i] = clip(price * (1.0 + step), floor, max(t.price_max, floor))


@njit(cache=True)
def adapt_tactics(gb, i, t, total_launches, prevented_share, least_patrolled_sector, stream):  # noqa: ANN001, ANN201, PLR0913
    """Switch to taxi boats when beach patrols prevent too much, and with probability
    ``TAXI_MOVE_SECTOR_PROB`` (a draw from ``stream``, a :class:`sim.agents.decision.Stream`) move
    to the least patrolled sector. Returns 1 if the gang changed tactics, else 0."""
    if not gb.taxi_boats[i] and total_launches >= TAXI_MIN_LAUNCHES and prevented_share > t.taxi_trigger:
        gb.taxi_boats[i] = True
        if stream.rng.random() < TAXI_MOVE_SECTOR_PROB:
            gb.sector[i] = least_patrolled_sector
        return 1
    return 0


@njit(cache=True)
def offer_insurance(gb, i, t, return_rate):  # noqa: ANN001, ANN201
    """Return insurance (ECONOMICS.md section 3): offered once the return probability of a covered
    arrival reaches the trigger, withdrawn below ``INSURANCE_STOP_SHARE`` of it. Returns 1 if the
    gang started offering it, else 0."""
    trigger = t.insurance_trigger
    if not gb.insures[i] and return_rate >= trigger and trigger > 0:
        gb.insures[i] = True
        return 1
    if gb.insures[i] and return_rate < INSURANCE_STOP_SHARE * trigger:
        gb.insures[i] = False
    return 0


@njit(cache=True)
def invest(gb, i, t, boat_price, window_launches, demand, spending, bought):  # noqa: ANN001, ANN201, PLR0913
    """Keep ``stock_weeks`` of expected launches in stock, as cash allows (:func:`buy_boats`)."""
    expected = max(window_launches, demand / gb.people_per_boat[i])
    want = math.ceil(t.stock_weeks * expected) - gb.boats[i]
    if want > 0 and boat_price > 0:
        afford = int(max(gb.cash_gbp[i], 0.0) // boat_price)
        return buy_boats(gb, i, min(want, afford), boat_price, spending, bought)
    return spending, bought


@njit(cache=True)
def weekly_review(gb, i, t, boat_price, backlog_people, least_patrolled_sector, market_seats, return_rate, stream,  # noqa: ANN001, ANN201, PLR0913
                  today):
    """After :func:`close_week`: set the boat load, reprice, change tactics and invest (ODD 7.8).
    ``today`` holds the day's tactic changes, spending (GBP) and boats bought; updated in place."""
    set_boat_load(gb, i, t, boat_price)
    window_seats, window_launches, total_launches, prevented_share = window(gb, i)
    demand = gb.recent[i, gb.n_recent[i] - 1, W_SEATS] + backlog_people
    reprice(gb, i, t, boat_price, window_seats, prevented_share, demand, market_seats)
    today[0] += adapt_tactics(gb, i, t, total_launches, prevented_share, least_patrolled_sector, stream)
    today[0] += offer_insurance(gb, i, t, return_rate)
    today[1], today[2] = invest(gb, i, t, boat_price, window_launches, demand, today[1], today[2])


# -- the same rules over many gangs (the market's loops) ---------------------------------------
@njit(cache=True)
def pay_fixed_all(gb, rows, amount, spending, costs):  # noqa: ANN001, ANN201
    """Every gang of ``rows`` pays ``amount`` of fixed cost; returns the day's totals updated."""
    for i in rows:
        charge(gb, i, FIXED, amount)
        spending += amount
        costs += amount
    return spending, costs


@njit(cache=True)
def sell_all(gb, rows, agents, people_per_agent, revenue_today):  # noqa: ANN001, ANN201
    """Each gang ``rows[k]`` sells ``agents[k]`` agents' seats, in order; returns the day's revenue."""
    for k in range(rows.size):
        if agents[k]:
            revenue_today += sell(gb, rows[k], agents[k] * people_per_agent)
    return revenue_today


@njit(cache=True)
def record_launches_all(gb, rows, t, prevented, arrested, spending, costs):  # noqa: ANN001, ANN201, PLR0913
    """Every launch to its gang ``rows[k]``, in order; returns the day's totals updated."""
    for k in range(rows.size):
        spending, costs = record_launch(gb, rows[k], t, prevented[k], arrested[k], spending, costs)
    return spending, costs


@njit(cache=True)
def close_week_all(gb, rows):  # noqa: ANN001, ANN201
    """Every gang of ``rows`` closes its week, in order. Returns each one's profit of the week, and
    the seats they all sold over their recent weeks (the market's, for the shares)."""
    profits = np.empty(rows.size)
    for k in range(rows.size):
        profits[k] = close_week(gb, rows[k])
    seats = 0.0
    for i in rows:
        for w in range(gb.n_recent[i]):
            seats += gb.recent[i, w, W_SEATS]
    return profits, seats


@njit(cache=True)
def weekly_review_all(gb, rows, t, boat_price, backlog_people, least_patrolled_sector, market_seats,  # noqa: ANN001, ANN201, PLR0913
                      return_rate, stream, today):
    """Every gang of ``rows`` reviews its week (:func:`weekly_review`), in order."""
    for k in range(rows.size):
        weekly_review(gb, rows[k], t, boat_price, backlog_people[k], least_patrolled_sector, market_seats,
                      return_rate, stream, today)

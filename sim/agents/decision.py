"""A migrant's review and decisions, person by person, compiled (ODD 7.3-7.5).

The rules a person applies at each review are plain loops over the people concerned,
compiled by Numba, so that a day's reviews cost a fraction of the NumPy calls they took
as whole-array operations (each of which paid Python's overhead on a few hundred people):

* :func:`set_attributes` and :func:`set_priors`, a newcomer's attributes (from draws made
  with NumPy) and prior beliefs;
* :func:`stakes_one`, what is at stake for a person (the value of staying in the UK over
  the outside option, the cost and destination of a return, the risk cost, the return
  probability expected on a repeat arrival);
* :func:`gain_one`, the expected gain of a crossing at a price (:func:`crossing_gain` is the
  same function as a NumPy ufunc);
* :func:`take_in_news`, savings, memory and rumours at a review;
* :func:`choose`, the decision at the coast: the gangs the person knows of, the logit choice
  among those worth booking and affordable, the legal route, and book, apply, leave or
  wait until the next review;
* :func:`route_gains`, the same gain for people considering the route upstream.

:class:`sim.agents.Migrant` prepares what the market and the authority offer today and
draws the day's random numbers with NumPy (the same streams, shapes and order as before),
calls these loops, and carries out the outcomes. The arithmetic is the same IEEE arithmetic
in the same order as the NumPy version these loops replaced; the powers (memory, the retry
promise) may differ from NumPy's by one unit in the last place on processors where NumPy
uses its own vectorised power, which has moved no result of the shipped scenarios.
Set ``NUMBA_DISABLE_JIT=1`` to run all of it as plain Python (slowly), for debugging.
"""

from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, vectorize

if TYPE_CHECKING:  # pragma: no cover
    from sim.population import Population

__all__ = ["GangOffers", "People", "StakeTerms", "choose", "crossing_gain", "gain_one", "people", "route_gains",
           "set_attributes", "set_priors", "stakes_many", "stakes_one", "take_in_news"]

#: The per-person arrays the rules read and write (fields of :class:`sim.population.Population`).
People = namedtuple("People", ["s_a", "s_b", "r_a", "r_b", "death_belief", "wealth", "valuation", "outside",
                               "risk_aversion", "patience", "group", "adult", "legal_eligible", "times_returned",
                               "voucher", "applicant", "belief_day", "decided_day", "days_bad", "due_day"])

#: What is at stake, by nationality group and overall (:meth:`sim.agents.Migrant.stake_terms`):
#: the multiplier of the valuation for the chance of being allowed to stay (by group), the
#: factor of enforcement against illegal working, whether a return leads to the country of
#: origin (by group), the costs of a return home and to France and the value of life (GBP),
#: and the return probability an adult expects on a repeat arrival (by group).
StakeTerms = namedtuple("StakeTerms", ["value_mult", "enforcement_factor", "to_origin", "return_home_cost",
                                       "return_france_cost", "value_of_life", "repeat_share"])

#: What the active gangs offer (by position among them): price, reputation over the mean
#: (scales the believed chance of getting across), return insurance, the cumulative weight
#: with which they are known by word of mouth; ``position`` maps every gang's index to its
#: position (-1: no longer active); ``retry`` is the retry promise's probability.
GangOffers = namedtuple("GangOffers", ["prices", "success_ratio", "insures", "cum_weight", "position", "retry"])


def people(pop: Population) -> People:
    """The arrays of ``pop`` the rules use (kept in ``pop.views`` until the arrays grow)."""
    view = pop.views.get(People)
    if view is None:
        view = pop.views[People] = People(*(getattr(pop, f) for f in People._fields))
    return view


def _crossing_gain(s: float, r: float, r_again: float, surplus: float, return_cost: float, to_origin: bool,
                   price: float, price_again: float, risk_cost: float) -> float:
    """Expected gain over the outside option of buying a seat at ``price`` (GBP).

    ``G = s [(1 - r) surplus + r after] - price - risk_cost`` where ``after`` (the value after
    a return, over the outside option) is ``-return_cost`` for a return to the country of
    origin, and ``max(0, G_again) - return_cost`` for a return to France, ``G_again`` being the
    gain of one more try at ``price_again`` with the repeat arrival's return probability
    ``r_again`` (after which a return ends the attempt).
    """
    again = s * ((1.0 - r_again) * surplus - r_again * return_cost) - price_again - risk_cost
    after = -return_cost if to_origin else max(again, 0.0) - return_cost
    return s * ((1.0 - r) * surplus + r * after) - price - risk_cost


#: The gain of one crossing for one person (compiled; called inside the loops below).
gain_one = njit(cache=True)(_crossing_gain)

#: The same gain as a NumPy ufunc over arrays (broadcasting), compiled from the same function.
crossing_gain = vectorize(["float64(float64, float64, float64, float64, float64, boolean, float64, float64, float64)"],
                          cache=True)(_crossing_gain)


@njit(cache=True)
def set_attributes(rows, pp, e, patience, u_adult, u_legal, travel, day, wealth_median, valuation_median,  # noqa: ANN001, ANN201, PLR0913
                   valuation_mult, outside_median, outside_mult, risk_median, adult_share, eligible_share):
    """A newcomer's attributes from the draws (:meth:`sim.agents.Migrant.draw_attributes`): ``e`` the
    four log-normal factors (wealth, valuation, outside option, risk aversion) by row, then
    patience, the uniforms that decide adult and eligible for the legal route, and the days of travel."""
    for i in range(rows.size):
        p = rows[i]
        g = pp.group[p]
        pp.wealth[p] = wealth_median * e[0, i]
        pp.valuation[p] = valuation_median * valuation_mult[g] * e[1, i]
        pp.outside[p] = outside_median * outside_mult[g] * e[2, i]
        pp.risk_aversion[p] = risk_median * e[3, i]
        pp.patience[p] = patience[i]
        pp.adult[p] = u_adult[i] < adult_share
        pp.legal_eligible[p] = u_legal[i] < eligible_share
        pp.due_day[p] = day + travel[i]


@njit(cache=True)
def set_priors(rows, pp, strength, success, return_by_group, pseudocount, death):  # noqa: ANN001, ANN201
    """A newcomer's prior beliefs: the public success rate and the public return belief of the
    person's group with the weight of ``strength`` observations (plus ``pseudocount`` on each
    side of the return prior), and the death risk ``death``."""
    for p in rows:
        r_pub = return_by_group[pp.group[p]]
        pp.s_a[p] = strength * success
        pp.s_b[p] = strength * (1 - success)
        pp.r_a[p] = strength * r_pub + pseudocount
        pp.r_b[p] = strength * (1 - r_pub) + pseudocount
        pp.death_belief[p] = death


@njit(cache=True)
def stakes_one(pp, p, t):  # noqa: ANN001, ANN201
    """What is at stake for the person in row ``p`` (``pp``: :data:`People`, ``t``: :data:`StakeTerms`):
    ``(surplus V - O, return cost, return leads home, risk cost a d L, floor of the repeat arrival's
    return probability)``."""
    g = pp.group[p]
    v_eff = pp.valuation[p] * t.value_mult[g]
    v_eff *= t.enforcement_factor
    surplus = v_eff - pp.outside[p]
    home = t.to_origin[g]
    return_cost = t.return_home_cost if home else t.return_france_cost
    risk_cost = pp.risk_aversion[p] * pp.death_belief[p] * t.value_of_life
    repeat_floor = t.repeat_share[g] if pp.adult[p] else 0.0
    return surplus, return_cost, home, risk_cost, repeat_floor


@njit(cache=True)
def stakes_many(idx, pp, t):  # noqa: ANN001, ANN201
    """:func:`stakes_one` for each row of ``idx``, as arrays."""
    n = idx.size
    surplus, return_cost, risk_cost, repeat_floor = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    home = np.empty(n, dtype=np.bool_)
    for i in range(n):
        surplus[i], return_cost[i], home[i], risk_cost[i], repeat_floor[i] = stakes_one(pp, idx[i], t)
    return surplus, return_cost, home, risk_cost, repeat_floor


@njit(cache=True)
def route_gains(idx, pp, t, retry, price, price_again):  # noqa: ANN001, ANN201
    """Upstream: the gain of a crossing of each newcomer at ``idx``, from their beliefs, at the
    market's mean ``price`` (``price_again`` for a retry after a return)."""
    gain = np.empty(idx.size)
    for i in range(idx.size):
        p = idx[i]
        s = pp.s_a[p] / (pp.s_a[p] + pp.s_b[p])
        r = pp.r_a[p] / (pp.r_a[p] + pp.r_b[p])
        s_eff = 1.0 - (1.0 - s) ** (1.0 + retry)
        surplus, return_cost, home, risk_cost, repeat_floor = stakes_one(pp, p, t)
        gain[i] = gain_one(s_eff, r, max(r, repeat_floor), surplus, return_cost, home, price, price_again,
                           risk_cost)
    return gain


@njit(cache=True)
def take_in_news(idx, pp, day, saving_per_day, half_life, heard_s, heard_r, heard_d, k, trust, weight):  # noqa: ANN001, ANN201
    """At a review, for each person at ``idx``: savings grow by ``saving_per_day`` for each day
    since the last review; belief counts halve every ``half_life`` days since then (memory);
    then ``k`` contacts' reports (``heard_s`` successes and ``heard_r`` returns of ``k``, each
    counted with ``trust``) are added, and the believed death risk moves towards the reported
    one ``heard_d`` with ``weight`` (rumours)."""
    for i in range(idx.size):
        p = idx[i]
        since = day - pp.belief_day[p]
        pp.wealth[p] += saving_per_day * since
        fade = 0.5 ** (since / half_life)
        pp.s_a[p] *= fade
        pp.s_b[p] *= fade
        pp.r_a[p] *= fade
        pp.r_b[p] *= fade
        pp.belief_day[p] = day
        if k:
            pp.s_a[p] += trust * heard_s[i]
            pp.s_b[p] += trust * (k - heard_s[i])
            pp.r_a[p] += trust * heard_r[i]
            pp.r_b[p] += trust * (k - heard_r[i])
            pp.death_belief[p] += weight * (heard_d[i] - pp.death_belief[p])


@njit(cache=True)
def choose(idx, pp, t, offers, u_known, gumbel, choice_scale, return_risk_at_coast, returnee_credit,  # noqa: ANN001, ANN201, PLR0913
           legal_q, legal_cost, today, interval, top_up_per_day, max_intervals):
    """Apply the decision rule to each person at ``idx`` (waiting or returned); see
    :meth:`sim.agents.Migrant.decide_many` for the rule. ``u_known`` and ``gumbel`` are the
    person's draws (one per gang they hear of) of which gangs they know and of the logit noise.

    Per person, in place: ``decided_day`` (today) and ``days_bad`` (days on which no option
    was worth it). Returns per person ``(gang, book, apply, leave, rides_free, price, wait)``:
    the position of the chosen gang among the active ones (-1 if none), whether the person
    books, applies to the legal route or leaves the route, rides free on a voucher, the
    price paid, and the days until the next review of those who do none of these.
    """
    n = idx.size
    prices = offers.prices
    n_gangs = prices.size
    m = u_known.shape[1]
    gang = np.full(n, -1, dtype=np.int64)
    book = np.zeros(n, dtype=np.bool_)
    apply = np.zeros(n, dtype=np.bool_)
    leave = np.zeros(n, dtype=np.bool_)
    rides_free = np.zeros(n, dtype=np.bool_)
    price_paid = np.zeros(n)
    wait = np.zeros(n, dtype=np.int32)
    known = np.empty(m, dtype=np.int64)
    gains = np.empty(m)
    for i in range(n):
        p = idx[i]
        s = pp.s_a[p] / (pp.s_a[p] + pp.s_b[p])
        r = pp.r_a[p] / (pp.r_a[p] + pp.r_b[p])
        surplus, return_cost, home, risk_cost, repeat_floor = stakes_one(pp, p, t)
        r_again = max(r, repeat_floor)
        returnee = pp.times_returned[p] > 0
        if returnee:
            r = r_again               # a returnee's next arrival is a repeat
        if not return_risk_at_coast:
            r = 0.0
            r_again = 0.0
        credit = returnee and returnee_credit
        wealth = pp.wealth[p]

        # the gangs the person knows of (word of mouth; a voucher's gang first), and the gain of each
        pick = -1
        best_util = -np.inf
        best_positive = -np.inf
        cheapest_worth_it = np.inf
        free_first = False
        if n_gangs:
            cum = offers.cum_weight
            for j in range(m):
                known[j] = min(np.searchsorted(cum, u_known[i, j] * cum[n_gangs - 1], side="right"), n_gangs - 1)
            v = pp.voucher[p]
            if v >= 0 and offers.position[v] >= 0:
                known[0] = offers.position[v]
                free_first = True
            for j in range(m):
                k = known[j]
                price = 0.0 if (free_first and j == 0) else prices[k]
                price_again = 0.0 if offers.insures[k] else prices[k]
                s_g = min(s * offers.success_ratio[k], 1.0)
                s_eff = 1.0 - (1.0 - s_g) ** (1.0 + offers.retry)
                gain = gain_one(s_eff, r, r_again, surplus, return_cost, home, price, price_again, risk_cost)
                gains[j] = gain
                if gain > 0:
                    best_positive = max(best_positive, gain)
                    cheapest_worth_it = min(cheapest_worth_it, price)
                    if wealth >= price or credit:
                        # logit choice among usable known gangs (Gumbel trick: argmax of gain/scale + noise)
                        util = gain / choice_scale + gumbel[i, j]
                        if util > best_util:
                            best_util = util
                            pick = j
        best_gain = best_positive
        if pick >= 0:
            gang[i] = known[pick]
            best_gain = gains[pick]
            rides_free[i] = free_first and pick == 0
            price_paid[i] = 0.0 if rides_free[i] else prices[known[pick]]

        # the legal route (eligible: meets its criteria, never returned, not applied yet)
        legal_gain = -np.inf
        if legal_q > 0 and pp.legal_eligible[p] and not returnee and not pp.applicant[p]:
            legal_gain = legal_q * surplus - legal_cost
        book[i] = pick >= 0 and not legal_gain > best_gain
        legal_positive = legal_gain > 0
        apply[i] = not book[i] and legal_positive
        worth_it = best_gain > 0 or legal_positive or pp.applicant[p]
        elapsed = max(today - pp.decided_day[p], 1)
        pp.decided_day[p] = today
        pp.days_bad[p] = 0.0 if worth_it else pp.days_bad[p] + elapsed
        leave[i] = not book[i] and not apply[i] and not worth_it and pp.days_bad[p] >= pp.patience[p]
        if not (book[i] or apply[i] or leave[i]):
            # a person who wants a seat but cannot pay yet looks again when savings allow (at most
            # max_intervals reviews later); everyone else at the next periodic review
            w = float(interval)
            if cheapest_worth_it < np.inf and not legal_positive and top_up_per_day > 0:
                short = (cheapest_worth_it - wealth) / top_up_per_day
                w = min(max(np.ceil(short), float(interval)), float(max_intervals * interval))
            wait[i] = int(w)
    return gang, book, apply, leave, rides_free, price_paid, wait

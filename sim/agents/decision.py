"""A migrant's review and decisions, person by person, compiled (ODD 7.3-7.5).

The rules a person applies at each review are plain loops over the people concerned,
compiled by Numba, so that a day's reviews cost a fraction of the NumPy calls they took
as whole-array operations (each of which paid Python's overhead on a few hundred people):

* :func:`set_attributes` and :func:`set_priors`, a newcomer's attributes and prior beliefs;
* :func:`stakes_one`, what is at stake for a person (the value of staying in the UK over
  the outside option, the cost and destination of a return, the risk cost, the return
  probability expected on a repeat arrival);
* :func:`gain_one`, the expected gain of a crossing at a price (:func:`crossing_gain` is the
  same function as a NumPy ufunc);
* :func:`hear_contacts` and :func:`take_in_news`, contacts' rumours, then savings, memory
  and what was heard, at a review;
* :func:`choose`, the decision at the coast: the gangs the person knows of, the logit choice
  among those worth booking and affordable, the legal route, and book, apply, leave or
  wait until the next review;
* :func:`route_gains` and :func:`route_choice`, the same gain for people considering the
  route upstream, and their choice.

:class:`sim.agents.Migrant` prepares what the market and the authority offer today, calls
these loops, and carries out the state changes (:meth:`sim.population.Population.move`)
and the gangs' sales. The loops draw their random numbers from the model's NumPy
generators (Numba runs NumPy's algorithms on the same bit generator, so a draw is the
same number as NumPy's), in the order of the whole-array NumPy version they replaced,
which each loop's docstring states. The arithmetic is the same IEEE arithmetic in the same
order, except that powers, exponentials and logarithms come from the C library (``math``)
rather than NumPy's vectorised versions, from which they may differ by one unit in the last
place on processors where NumPy vectorises them; this has moved no daily series of the
shipped scenarios.
Set ``NUMBA_DISABLE_JIT=1`` to run all of it as plain Python (slowly), for debugging.
"""

from __future__ import annotations

import math
from collections import namedtuple
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numba
import numpy as np
from numba import njit, types, vectorize
from numba.experimental import structref

from sim.population import FIELDS

if TYPE_CHECKING:  # pragma: no cover
    from sim.population import Population

__all__ = ["GangOffers", "People", "StakeTerms", "Stream", "choose", "crossing_gain", "gain_one", "hear_contacts",
           "people", "route_choice", "route_gains", "set_attributes", "set_priors", "stakes_many", "stakes_one",
           "stream", "take_in_news"]

#: The per-person arrays the rules read and write (fields of :class:`sim.population.Population`).
People = namedtuple("People", ["s_a", "s_b", "r_a", "r_b", "death_belief", "wealth", "valuation", "outside",
                               "risk_aversion", "patience", "group", "adult", "legal_eligible", "times_returned",
                               "voucher", "applicant", "belief_day", "decided_day", "days_bad", "due_day", "since",
                               "next_review", "booked_day", "gang"])

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
#: position (-1: no longer active); ``retry`` is the retry promise's probability; ``gang_index``
#: the index of the gang at each position.
GangOffers = namedtuple("GangOffers", ["prices", "success_ratio", "insures", "cum_weight", "position", "retry",
                                       "gang_index"])


@structref.register
class _StreamType(types.StructRef):
    def preprocess_fields(self, fields):  # noqa: ANN001, ANN202
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


_STREAM = _StreamType([("rng", numba.typeof(np.random.default_rng(0)))])


@njit(cache=True)
def _new_stream(rng):  # noqa: ANN001, ANN202
    s = structref.new(_STREAM)
    s.rng = rng
    return s


@njit(cache=True)
def _stream_rng(s):  # noqa: ANN001, ANN202
    return s.rng


class Stream(structref.StructRefProxy):
    """A NumPy ``Generator`` as the compiled loops take it (its ``rng``): they draw from the same
    bit generator, so the Generator's stream goes on where they leave it. Numba converts a
    Generator passed to a compiled function anew at each call (about 9 microseconds, more than
    most of the loops take); a ``Stream`` is converted once, when made (:func:`stream`)."""

    def __new__(cls, rng: np.random.Generator) -> Stream:
        return _new_stream(rng)

    def __reduce__(self) -> tuple:
        # copied (or pickled) as the generator it draws from: a model's deep copy wraps the
        # copy's own generator (``rng`` is that very Generator object, so the copy's memo maps it)
        return Stream, (self.rng,)

    @property
    def rng(self) -> np.random.Generator:
        return _stream_rng(self)


structref.define_boxing(_StreamType, Stream)


def stream(rng: np.random.Generator | Stream) -> Stream:
    """``rng`` as the compiled loops take it (a :class:`Stream`; itself if it is one already). With
    ``NUMBA_DISABLE_JIT=1`` the loops are plain Python, and this is a namespace holding ``rng``."""
    if isinstance(rng, (Stream, SimpleNamespace)):
        return rng
    return SimpleNamespace(rng=rng) if numba.config.DISABLE_JIT else Stream(rng)


@structref.register
class _PeopleType(types.StructRef):
    def preprocess_fields(self, fields):  # noqa: ANN001, ANN202
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


_PEOPLE = _PeopleType([(f, numba.typeof(np.zeros(1, dtype=FIELDS[f]))) for f in People._fields])


@njit(cache=True)
def _new_people(arrays):  # noqa: ANN001, ANN202
    pp = structref.new(_PEOPLE)
    (pp.s_a, pp.s_b, pp.r_a, pp.r_b, pp.death_belief, pp.wealth, pp.valuation, pp.outside, pp.risk_aversion,
     pp.patience, pp.group, pp.adult, pp.legal_eligible, pp.times_returned, pp.voucher, pp.applicant,
     pp.belief_day, pp.decided_day, pp.days_bad, pp.due_day, pp.since, pp.next_review, pp.booked_day,
     pp.gang) = arrays
    return pp


class _PeopleProxy(structref.StructRefProxy):
    """:data:`People` as the compiled loops take it: Numba converts a tuple of arrays passed to a
    compiled function anew at each call (about 3 microseconds for these 24), this once."""


structref.define_boxing(_PeopleType, _PeopleProxy)


def people(pop: Population) -> People:
    """The arrays of ``pop`` the rules use (kept in ``pop.views`` until the arrays grow): a
    :data:`People` (with ``NUMBA_DISABLE_JIT=1``) or the same arrays as compiled code holds them."""
    view = pop.views.get(People)
    if view is None:
        arrays = People(*(getattr(pop, f) for f in People._fields))
        view = pop.views[People] = arrays if numba.config.DISABLE_JIT else _new_people(tuple(arrays))
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
def _standard_normals(rng, rows, n):  # noqa: ANN001, ANN202
    """``rng.standard_normal((rows, n))``: the same numbers in the same order (row by row)."""
    z = np.empty((rows, n))
    for k in range(rows):
        for i in range(n):
            z[k, i] = rng.standard_normal()
    return z


@njit(cache=True)
def set_attributes(rows, pp, stream, day, sigma, patience_mean, travel_mean, wealth_median, valuation_median,  # noqa: ANN001, ANN201, PLR0913
                   valuation_mult, outside_median, outside_mult, risk_median, adult_share, eligible_share):
    """A newcomer's attributes, drawn from ``stream`` (:meth:`sim.agents.Migrant.draw_attributes`), in
    this order: the standard normals of the four log-normal factors (wealth, valuation, outside
    option, risk aversion; scale ``sigma``), every newcomer's first, then the second, ...; patience
    (exponential, mean ``patience_mean`` days); the uniforms that decide adult, then eligible for
    the legal route; the days of travel (Poisson, mean ``travel_mean``)."""
    rng = stream.rng
    n = rows.size
    z = _standard_normals(rng, 4, n)
    patience = np.empty(n)
    for i in range(n):
        patience[i] = rng.exponential(patience_mean)
    u_adult, u_legal = np.empty(n), np.empty(n)
    for i in range(n):
        u_adult[i] = rng.random()
    for i in range(n):
        u_legal[i] = rng.random()
    for i in range(n):
        p = rows[i]
        g = pp.group[p]
        pp.wealth[p] = wealth_median * math.exp(sigma[0] * z[0, i])
        pp.valuation[p] = valuation_median * valuation_mult[g] * math.exp(sigma[1] * z[1, i])
        pp.outside[p] = outside_median * outside_mult[g] * math.exp(sigma[2] * z[2, i])
        pp.risk_aversion[p] = risk_median * math.exp(sigma[3] * z[3, i])
        pp.patience[p] = patience[i]
        pp.adult[p] = u_adult[i] < adult_share
        pp.legal_eligible[p] = u_legal[i] < eligible_share
    for i in range(n):
        pp.due_day[rows[i]] = day + rng.poisson(travel_mean)


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
def route_choice(idx, pp, t, retry, price, price_again, travel_cost, scale, stream, choose_upstream):  # noqa: ANN001, ANN201, PLR0913
    """Upstream: whether each newcomer at ``idx`` sets out (True) or is deterred: a binary logit
    with scale ``scale`` on :func:`route_gains` less ``travel_cost``. One uniform is drawn from
    ``stream`` per newcomer either way; without ``choose_upstream`` everyone sets out."""
    rng = stream.rng
    gain = route_gains(idx, pp, t, retry, price, price_again)
    go = np.empty(idx.size, dtype=np.bool_)
    for i in range(idx.size):
        p_go = 0.5 * (1.0 + math.tanh(0.5 * (gain[i] - travel_cost) / scale))   # logistic, overflow-free
        go[i] = rng.random() < p_go or not choose_upstream
    return go


@njit(cache=True)
def hear_contacts(idx, group, stream, k, distortion, success_rate, return_rate, death_rate):  # noqa: ANN001, ANN201, PLR0913
    """Rumours (:meth:`sim.agents.Migrant.hear_contacts`): for each person at ``idx``, the reports of
    ``k`` contacts of the rates of success, of return after arrival (``return_rate`` by group) and
    of death, each rate distorted by a log-normal factor (scale ``distortion``) and kept in [0, 1].
    Drawn from ``stream`` in this order: the standard normals (everyone's for success, then for
    return, then for death), then the successes heard (binomial), then the returns heard.
    Returns ``(successes, returns, death rate)`` per person."""
    rng = stream.rng
    n = idx.size
    z = _standard_normals(rng, 3, n)
    s_true, r_true, heard_d = np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        s_true[i] = min(max(success_rate * math.exp(distortion * z[0, i]), 0.0), 1.0)
        r_true[i] = min(max(return_rate[group[idx[i]]] * math.exp(distortion * z[1, i]), 0.0), 1.0)
        heard_d[i] = min(max(death_rate * math.exp(distortion * z[2, i]), 0.0), 1.0)
    heard_s, heard_r = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    for i in range(n):
        heard_s[i] = rng.binomial(k, s_true[i])
    for i in range(n):
        heard_r[i] = rng.binomial(k, r_true[i])
    return heard_s, heard_r, heard_d


@njit(cache=True)
def take_in_news(idx, pp, day, max_applicant_wait, saving_per_day, half_life, heard_s, heard_r, heard_d, k, trust,  # noqa: ANN001, ANN201, PLR0913
                 weight):
    """At a review, for each person at ``idx``: an application older than ``max_applicant_wait``
    days lapses; savings grow by ``saving_per_day`` for each day since the last review; belief
    counts halve every ``half_life`` days since then (memory); then ``k`` contacts' reports
    (``heard_s`` successes and ``heard_r`` returns of ``k``, each counted with ``trust``) are
    added, and the believed death risk moves towards the reported one ``heard_d`` with
    ``weight`` (rumours)."""
    for i in range(idx.size):
        p = idx[i]
        if pp.applicant[p] and day - pp.since[p] >= max_applicant_wait:
            pp.applicant[p] = False
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
def rows_due(state, when, size, day, in_state):  # noqa: ANN001, ANN201
    """The rows below ``size`` of the people in a state flagged in ``in_state`` (by state value)
    whose day ``when`` has come by ``day``, ascending: those due for review
    (:meth:`sim.agents.Migrant.due_for_review`), those whose journey is over
    (:meth:`sim.agents.Migrant.reach_coast`). One loop without a branch per row (the rows sought
    are scattered, and a mispredicted branch costs more than a store)."""
    rows = np.empty(size, dtype=np.int64)
    n = 0
    for r in range(size):
        rows[n] = r
        n += in_state[state[r]] & (when[r] <= day)
    return rows[:n]


@njit(cache=True)
def _gumbel_uniform(rng):  # noqa: ANN001, ANN202
    """The uniform of one standard Gumbel draw as NumPy's ``Generator.gumbel`` draws it (``1 - U``,
    drawn again while it is 1); :func:`_gumbel_of` turns it into the draw."""
    while True:
        u = 1.0 - rng.random()
        if u < 1.0:
            return u


@njit(cache=True)
def _gumbel_of(u):  # noqa: ANN001, ANN202
    """The standard Gumbel draw of the uniform ``u`` (:func:`_gumbel_uniform`), with NumPy's arithmetic."""
    return 0.0 - math.log(-math.log(u))


@njit(cache=True)
def choose(idx, pp, t, offers, m, stream, choice_scale, return_risk_at_coast, returnee_credit,  # noqa: ANN001, ANN201, PLR0913
           legal_q, legal_cost, applicant_wait, today, interval, top_up_per_day, max_intervals):
    """Apply the decision rule to each person at ``idx`` (waiting or returned); see
    :meth:`sim.agents.Migrant.decide_many` for the rule. Each person hears of ``m`` gangs
    (by word of mouth, with replacement): drawn from ``stream`` before anyone decides, everyone's
    uniforms that pick the gangs known (person by person), then everyone's logit noise (Gumbel),
    none without active gangs.

    Carried out in place, per person: ``decided_day`` (today) and ``days_bad`` (days on which no
    option was worth it); for those who book, the fare paid (``wealth``), ``booked_day``, their
    ``gang`` (its index) and the voucher used; for those who apply, ``applicant``, ``since`` and
    the next review after ``applicant_wait`` days; for those who do nothing yet, the next review.
    The state changes are left to the caller (:meth:`sim.population.Population.move`).
    Returns per person ``(gang, book, apply, leave, rides_free)``: the position of the chosen
    gang among the active ones (-1 if none), whether the person books, applies to the legal
    route or leaves the route, and rides free on a voucher.
    """
    rng = stream.rng
    n = idx.size
    prices = offers.prices
    n_gangs = prices.size
    if n_gangs == 0:
        m = 0
    u_known = np.empty((n, m))
    gumbel_u = np.empty((n, m))   # the logit noise's uniforms (the noise is computed where it is used)
    for i in range(n):
        for j in range(m):
            u_known[i, j] = rng.random()
    for i in range(n):
        for j in range(m):
            gumbel_u[i, j] = _gumbel_uniform(rng)
    gang = np.full(n, -1, dtype=np.int64)
    book = np.zeros(n, dtype=np.bool_)
    apply = np.zeros(n, dtype=np.bool_)
    leave = np.zeros(n, dtype=np.bool_)
    rides_free = np.zeros(n, dtype=np.bool_)
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
                        util = gain / choice_scale + _gumbel_of(gumbel_u[i, j])
                        if util > best_util:
                            best_util = util
                            pick = j
        best_gain = best_positive
        if pick >= 0:
            gang[i] = known[pick]
            best_gain = gains[pick]
            rides_free[i] = free_first and pick == 0

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
        if book[i]:
            pp.wealth[p] -= 0.0 if rides_free[i] else prices[gang[i]]
            pp.booked_day[p] = today
            pp.gang[p] = offers.gang_index[gang[i]]
            if rides_free[i]:
                pp.voucher[p] = -1
        elif apply[i]:
            pp.applicant[p] = True
            pp.since[p] = today
            pp.next_review[p] = today + applicant_wait
        elif not leave[i]:
            # a person who wants a seat but cannot pay yet looks again when savings allow (at most
            # max_intervals reviews later); everyone else at the next periodic review
            w = float(interval)
            if cheapest_worth_it < np.inf and not legal_positive and top_up_per_day > 0:
                short = (cheapest_worth_it - wealth) / top_up_per_day
                w = min(max(np.ceil(short), float(interval)), float(max_intervals * interval))
            pp.next_review[p] = today + int(w)
    return gang, book, apply, leave, rides_free

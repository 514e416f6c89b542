"""Migrants: one Mesa agent per person (by default), a view on the population's arrays.

A person's state and attributes live in the model's :class:`~sim.population.Population`
(a struct of NumPy arrays), so that the rules can act at once on everyone whose situation
changed. A :class:`Migrant` is a real Mesa agent bound to one person: its properties read
the same arrays, so a student inspecting one agent sees exactly what the rules use.

Every rule about a migrant is here, as a vectorised static method acting on an index
array of people, in the order of a person's story:

* :meth:`Migrant.set_out` creates people (:meth:`newcomers`: :meth:`draw_attributes`,
  :meth:`newcomer_beliefs`);
  :meth:`Migrant.reach_coast` brings those whose journey is over to the coast;
* a launch and its outcome: :meth:`board`, then :meth:`turned_back` (a prevented launch),
  :meth:`die_at_sea` or :meth:`arrive_in_uk`;
* beliefs, one method per source: :meth:`fade_beliefs` (memory), :meth:`hear_contacts`
  (rumours), :meth:`hear_announcement` (public news), :meth:`learn_crossing` and
  :meth:`learn_returned` (own outcomes);
* :meth:`Migrant.review` is the periodic activation: savings, beliefs, then
  :meth:`decide_many`, the decision rule (book, wait, apply to the legal route, leave).

:meth:`Migrant.step` applies :meth:`review` to one person exactly as the model's daily
stage does for everyone due, so stepping agents one by one (as Mesa's tools do) keeps
every invariant. The model binds agents to people at the end of each day: an agent whose
person left the model is re-bound to a newcomer rather than removed and created again
(``person_id`` identifies the person; Mesa's ``unique_id`` identifies the agent object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.agents import decision
from sim.agents.gang import market_weight
from sim.constants import (
    NEWCOMER_PRIOR_DEATH_WEIGHT,
    RETURN_PRIOR_PSEUDOCOUNT,
    SAVING_MAX_REVIEW_INTERVALS,
)
from sim.population import AT_COAST, MigrantState, Population

if TYPE_CHECKING:  # pragma: no cover
    from sim.agents.returns import ReturnsAuthority
    from sim.environment import News
    from sim.model import ChannelModel
    from sim.params import BeliefParams, Config

__all__ = ["GroupTerms", "Migrant", "MigrantState"]

#: The states in which a person reviews their options when the review day comes (by state value;
#: -1, a free row, indexes the last entry): at the coast without a seat.
REVIEWING = np.zeros(len(MigrantState) + 1, dtype=bool)
REVIEWING[[MigrantState.WAITING, MigrantState.RETURNED]] = True
_EN_ROUTE = np.zeros(len(MigrantState) + 1, dtype=bool)     # the state whose journey ends on ``due_day``
_EN_ROUTE[MigrantState.EN_ROUTE] = True


@dataclass(frozen=True)
class GroupTerms:
    """What differs by nationality group, as arrays indexed by group: the asylum grant
    probability and the multipliers of the valuation of the UK and of the outside option."""

    grant: np.ndarray
    valuation: np.ndarray
    outside: np.ndarray

    @classmethod
    def of(cls, cfg: Config) -> GroupTerms:
        return cls(grant=np.array([g.asylum_grant_prob for g in cfg.groups]),
                   valuation=np.array([g.valuation_multiplier for g in cfg.groups]),
                   outside=np.array([g.outside_option_multiplier for g in cfg.groups]))


class Migrant(mesa.Agent):
    """A person travelling to, waiting at, or crossing from the northern French coast.

    Attributes live in the model's :class:`Population`; the properties below read them.

    Decision rule (DESIGN 6b; ``docs/ODD.md`` 7.4): one comparison of expected values,
    made upstream before setting out (:meth:`consider_route`) and at the coast
    (:meth:`decide_many`), from the person's own beliefs. Relative to the outside option
    ``O`` (asylum in France or another EU state), the gain of booking a seat at price ``p``:

    * ``G = s [(1 - r)(V - O) + r (R - O)] - p - a d L`` (:meth:`crossing_gain`), where ``s``
      is the believed chance of getting across (with the gang's retry promise), ``r`` the
      believed chance of being returned after arriving, ``V`` the value of staying in the
      UK (valuation x chance of being allowed to stay, lowered by enforcement against
      illegal working), ``a d L`` the risk cost (risk aversion x believed death risk x
      value of life);
    * ``R - O``, the value after a return, depends on where it leads: to the country of
      origin (a bilateral agreement in force) the journey is over, ``R - O = -c_home``; to
      France the person is back at the coast and may try again,
      ``R - O = max(0, G_again) - c_france`` with ``G_again`` the same gain with the
      return probability of a repeat arrival (identified and returned with priority);
    * the legal route (eligible: meets its criteria, never returned, route open):
      ``G_legal = q (V - O) - c_wait w``;
    * book with a gang (logit over affordable gangs with ``G > 0``) if that beats the legal
      route; apply to the legal route if it is the best positive option; else wait, and
      leave the route once it has not been worth it for longer than the person's patience.
      A person who cannot pay waits while savings grow (a returnee may borrow the fare
      with ``migrants.returnee_credit``).
    """

    def __init__(self, model: ChannelModel, slot: int) -> None:
        super().__init__(model)
        self.slot = int(slot)   # the agent's place in the model's agent table (sim.agents.binding)

    @property
    def row(self) -> int:
        """The person's row in ``model.pop``; -1 once the person's story ended (or before binding)."""
        return int(self.model.agent_table.row_of_slot[self.slot])

    @property
    def ended(self) -> tuple[int, int] | None:
        """(person id, final state) once the person left the model; None while bound."""
        table = self.model.agent_table
        if table.row_of_slot[self.slot] >= 0 or table.person_of_slot[self.slot] < 0:
            return None
        return int(table.person_of_slot[self.slot]), int(table.state_of_slot[self.slot])

    @property
    def bound(self) -> bool:
        """Whether the agent stands for a person in the model now."""
        return self.row >= 0

    def _get(self, field: str) -> np.generic:
        row = self.row
        if row < 0:
            raise AttributeError(f"person {self.person_id} has left the model ({self.state.name}); "
                                 f"their {field} is no longer kept")
        return getattr(self.model.pop, field)[row]

    # -- views on the arrays --------------------------------------------------------
    @property
    def person_id(self) -> int:
        """A number for the person, unique over the run (rows and agents are reused)."""
        return self.ended[0] if self.row < 0 and self.ended else int(self.model.pop.person_id[self.row])

    @property
    def state(self) -> MigrantState:
        if self.row < 0 and self.ended:
            return MigrantState(self.ended[1])
        return MigrantState(int(self.model.pop.state[self.row]))

    @property
    def group(self) -> str:
        return self.model.config.groups[int(self._get("group"))].name

    @property
    def wealth_gbp(self) -> float:
        return float(self._get("wealth"))

    @property
    def valuation_gbp(self) -> float:
        return float(self._get("valuation"))

    @property
    def outside_option_gbp(self) -> float:
        return float(self._get("outside"))

    @property
    def believed_success_prob(self) -> float:
        return float(self._get("s_a") / (self._get("s_a") + self._get("s_b")))

    @property
    def believed_return_prob(self) -> float:
        return float(self._get("r_a") / (self._get("r_a") + self._get("r_b")))

    @property
    def attempts(self) -> int:
        return int(self._get("attempts"))

    @property
    def times_returned(self) -> int:
        return int(self._get("times_returned"))

    def __repr__(self) -> str:
        if self.row < 0:
            return f"Migrant(id={self.unique_id}, person={self.person_id}, state={self.state.name}, left the model)"
        return (f"Migrant(id={self.unique_id}, person={self.person_id}, state={self.state.name}, "
                f"group={self.group}, wealth={self.wealth_gbp:.0f}, V={self.valuation_gbp:.0f})")

    def step(self) -> None:
        """Review this person's options if a review is due, exactly as the model's daily stage
        does (:meth:`due_for_review`, :meth:`review`); otherwise nothing happens."""
        if self.row < 0:
            return
        rows = np.array([self.row])
        model = self.model
        due = rows[Migrant.is_due(model.pop, rows, model.day)]
        Migrant.review(model, due)

    # -- a person's story: setting out and reaching the coast ---------------------------
    @staticmethod
    def set_out(model: ChannelModel, groups: np.ndarray, state: MigrantState = MigrantState.EN_ROUTE) -> np.ndarray:
        """New people of ``groups`` (one agent each) set out for the coast; returns their rows."""
        return Migrant.newcomers(model.pop, groups, state, model.day, model.config, model.group_terms,
                                 model.news, model.streams.attributes)

    @staticmethod
    def newcomers(pop: Population, groups: np.ndarray, state: MigrantState, day: int, cfg: Config,
                  terms: GroupTerms, news: News, rng: np.random.Generator | decision.Stream) -> np.ndarray:
        """Add people of ``groups`` to ``pop`` in ``state`` on ``day``, with their attributes
        (:meth:`draw_attributes`, from ``rng``) and the newcomer's prior beliefs; returns their rows.
        The model's arrivals and the viability sample (:mod:`sim.viability`) both create people here."""
        rows = pop.add(groups.size, state, day)
        pop.group[rows] = groups
        Migrant.draw_attributes(pop, rows, cfg, terms, rng, day)
        Migrant.newcomer_beliefs(pop, rows, news, day, cfg.beliefs)
        return rows

    @staticmethod
    def draw_attributes(pop: Population, rows: np.ndarray, cfg: Config, terms: GroupTerms,
                        rng: np.random.Generator | decision.Stream, day: int) -> None:
        """Wealth, valuation of the UK, outside option and risk aversion (log-normal; the group's
        multipliers scale the medians of valuation and outside option), patience
        (exponential), adult, meets the legal route's criteria, and the day of reaching the coast."""
        mp = cfg.migrants
        sigma = np.array([mp.wealth_sigma, mp.valuation_sigma, mp.outside_option_sigma, mp.risk_aversion_sigma])
        decision.set_attributes(rows, decision.people(pop), decision.stream(rng), day, sigma, float(mp.patience_mean_days),
                                float(cfg.environment.travel_days_mean), float(mp.wealth_median_gbp),
                                float(mp.valuation_median_gbp), terms.valuation, float(mp.outside_option_median_gbp),
                                terms.outside, float(mp.risk_aversion_median), float(mp.adult_share),
                                float(cfg.legal_route.eligible_share))

    @staticmethod
    def reach_coast(model: ChannelModel) -> int:
        """People whose journey is over reach the coast and review at once; returns how many."""
        pop = model.pop
        reach = decision.rows_due(pop.state, pop.due_day, pop.size, model.day, _EN_ROUTE)
        if reach.size:
            pop.move(reach, MigrantState.WAITING, model.day)
            pop.next_review[reach] = model.day
        return int(reach.size)

    # -- a launch and its outcome ------------------------------------------------------
    @staticmethod
    def board(pop: Population, rows: np.ndarray, day: int) -> None:
        """Passengers of today's launches: one more attempt each, at sea."""
        pop.attempts[rows] += 1
        pop.move(rows, MigrantState.AT_SEA, day)

    @staticmethod
    def turned_back(pop: Population, rows: np.ndarray, keep: np.ndarray, day: int) -> None:
        """Passengers of a prevented launch learn of a failure and are back at the coast: those
        whose gang keeps the seat (``keep``, the retry promise) are booked again with their
        booking day (at the front of the queue); the others have lost the fare and wait,
        reviewing their options the next day."""
        Migrant.learn_crossing(pop, rows, succeeded=False)
        pop.move(rows[keep], MigrantState.BOOKED, day, keep_since=True)
        lost = rows[~keep]
        pop.gang[lost] = -1
        pop.next_review[lost] = day + 1
        pop.move(lost, MigrantState.WAITING, day)

    @staticmethod
    def die_at_sea(pop: Population, rows: np.ndarray, day: int) -> None:
        """Passengers who drowned leave the model."""
        pop.move(rows, MigrantState.DEAD, day)

    @staticmethod
    def arrive_in_uk(pop: Population, rows: np.ndarray, voucher: np.ndarray, day: int) -> None:
        """Passengers who arrived learn of a success, hold ``voucher`` (the gang that owes them a
        free second crossing under return insurance, or -1), are no longer any gang's
        customers, and enter the UK process."""
        Migrant.learn_crossing(pop, rows, succeeded=True)
        pop.voucher[rows] = voucher
        pop.gang[rows] = -1
        pop.move(rows, MigrantState.IN_UK, day)

    # -- beliefs, one method per source ------------------------------------------------
    @staticmethod
    def newcomer_beliefs(pop: Population, rows: np.ndarray, news: News, day: int, b: BeliefParams) -> None:
        """A newcomer's prior is what is publicly heard about the route now, with the weight of
        ``prior_strength`` observations."""
        w = NEWCOMER_PRIOR_DEATH_WEIGHT
        decision.set_priors(rows, decision.people(pop), float(b.prior_strength), float(news.success_rate),
                            news.public_return_belief(day), float(RETURN_PRIOR_PSEUDOCOUNT),
                            w * b.prior_death_risk + (1 - w) * news.death_rate)

    @staticmethod
    def hear_contacts(pop: Population, idx: np.ndarray, news: News, rng: np.random.Generator | decision.Stream,
                      b: BeliefParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rumours: ``contacts_per_review`` contacts of the same group report the recent rates of
        success, of return after arrival and of death, each report distorted by log-normal
        noise (Routes and Rumours). Returns the reports, ``(successes, returns, death rate)`` per
        person: :func:`sim.agents.decision.take_in_news` adds them to the beliefs, weighted by trust."""
        k = b.contacts_per_review
        if k == 0 or idx.size == 0:
            return np.zeros(idx.size, dtype=np.int64), np.zeros(idx.size, dtype=np.int64), np.zeros(idx.size)
        return decision.hear_contacts(idx, pop.group, decision.stream(rng), int(k), float(b.rumour_distortion), float(news.success_rate),
                                      news.return_rate, float(news.death_rate))

    @staticmethod
    def hear_announcement(model: ChannelModel, groups: np.ndarray, prob: np.ndarray) -> None:
        """An announcement of the return probability ``prob`` of ``groups``: everyone of those
        groups on the way or at the coast adds it with ``announcement_weight`` observations,
        and those at the coast review their options today."""
        pop = model.pop
        hear = pop.where(MigrantState.EN_ROUTE, *AT_COAST)
        lookup = np.full(len(model.config.groups), -1.0)
        lookup[groups] = prob
        p = lookup[pop.group[hear]]
        hear, p = hear[p >= 0], p[p >= 0]
        w = model.config.beliefs.announcement_weight
        pop.r_a[hear] += w * p
        pop.r_b[hear] += w * (1 - p)
        pop.next_review[hear[pop.state[hear] != int(MigrantState.EN_ROUTE)]] = model.day

    @staticmethod
    def learn_crossing(pop: Population, rows: np.ndarray, succeeded: bool) -> None:
        """Own outcome of a launch: one observation of success or failure."""
        (pop.s_a if succeeded else pop.s_b)[rows] += 1.0

    @staticmethod
    def learn_returned(pop: Population, rows: np.ndarray, weight: float) -> None:
        """Own outcome after arrival: returned, ``weight`` observations of a return (a strong update:
        a returnee knows they are identified on any later arrival)."""
        pop.r_a[rows] += weight

    # -- the decision: one comparison of expected values ------------------------------
    #: Expected gain over the outside option of buying a seat (GBP), a NumPy ufunc over arrays:
    #: ``crossing_gain(s, r, r_again, surplus, return_cost, to_origin, price, price_again, risk_cost)``.
    #: ``G = s [(1 - r) surplus + r after] - price - risk_cost``, ``after`` (the value after a
    #: return, over the outside option) being ``-return_cost`` for a return to the country of
    #: origin and ``max(0, G_again) - return_cost`` for a return to France, ``G_again`` the gain
    #: of one more try at ``price_again`` with the repeat arrival's return probability
    #: ``r_again``. Written once, in :mod:`sim.agents.decision`, for this ufunc and for the
    #: compiled per-person decision.
    crossing_gain = staticmethod(decision.crossing_gain)

    @staticmethod
    def stake_terms(cfg: Config, terms: GroupTerms, authority: ReturnsAuthority) -> decision.StakeTerms:
        """What is at stake by group and overall, from the configuration and the policy the
        people know of (``authority``): see :data:`sim.agents.decision.StakeTerms`."""
        mp = cfg.migrants
        grant = terms.grant    # the value of staying is computed per group, then taken per person
        every_group = np.arange(grant.size)
        return decision.StakeTerms(
            value_mult=grant + (1 - grant) * mp.refused_stay_value_share,
            enforcement_factor=1.0 - cfg.uk.illegal_working_enforcement * cfg.uk.enforcement_valuation_effect,
            to_origin=authority.returns_home(every_group),
            return_home_cost=float(mp.return_home_cost_gbp), return_france_cost=float(mp.return_to_france_cost_gbp),
            value_of_life=float(mp.value_of_life_gbp),
            repeat_share=authority.repeat_return_belief(every_group, np.ones(every_group.size, dtype=bool)))

    @staticmethod
    def stakes(pop: Population, rows: np.ndarray, cfg: Config, terms: GroupTerms,
               authority: ReturnsAuthority) -> tuple[np.ndarray, ...]:
        """What is at stake for each person, from their attributes and the policy they know of
        (``authority``): ``(surplus V - O, return cost, return leads home, risk cost a d L, floor
        of the repeat arrival's return probability)`` (:func:`sim.agents.decision.stakes_one`)."""
        return decision.stakes_many(np.asarray(rows, dtype=np.int64), decision.people(pop),
                                    Migrant.stake_terms(cfg, terms, authority))

    @staticmethod
    def consider_route(model: ChannelModel, rows: np.ndarray) -> np.ndarray:
        """Upstream: whether each newcomer sets out for the coast (True) or takes the outside
        option at once (deterred; displaced to another EU state).

        The same gain as at the coast (:meth:`crossing_gain`), from the newcomer's beliefs (what
        is publicly heard now), at the market's mean price, less the cost of travelling to the
        coast; a binary logit with scale ``environment.upstream_choice_scale_gbp``.
        """
        if rows.size == 0:
            return np.zeros(0, dtype=bool)
        pop, cfg = model.pop, model.config
        env = cfg.environment
        price = model.market.mean_price()
        price_again = price * (1.0 - model.market.insured_share())   # a gang's return insurance: a free retry
        return decision.route_choice(rows, decision.people(pop), model.stake_terms, float(cfg.gangs.retry_promise_prob),
                                     price, price_again, float(env.travel_cost_gbp), float(env.upstream_choice_scale_gbp),
                                     model.streams.upstream, bool(cfg.mechanisms.upstream_choice))

    # -- the periodic review ----------------------------------------------------------
    @staticmethod
    def is_due(pop: Population, rows: np.ndarray, day: int) -> np.ndarray:
        """Whether each person reviews today: in a :data:`REVIEWING` state (at the coast without a
        seat), review day reached."""
        return REVIEWING[pop.state[rows]] & (pop.next_review[rows] <= day)

    @staticmethod
    def due_for_review(pop: Population, day: int) -> np.ndarray:
        """Rows of everyone due for review today (:meth:`is_due`, over every row in one loop)."""
        return decision.rows_due(pop.state, pop.next_review, pop.size, day, REVIEWING)

    @staticmethod
    def review(model: ChannelModel, idx: np.ndarray) -> None:
        """The activation of people due for review: an application past the longest wait lapses,
        savings accrue, beliefs fade and take in contacts' rumours, then the decision."""
        if idx.size == 0:
            return
        pop, cfg, day = model.pop, model.config, model.day
        # savings grow while in France (accrued at each review rather than daily), beliefs fade
        # (memory) and take in what contacts report (rumours)
        b = cfg.beliefs
        heard = Migrant.hear_contacts(pop, idx, model.news, model.streams.beliefs, b)
        w, k = b.rumour_trust, b.contacts_per_review
        decision.take_in_news(idx, decision.people(pop), day, int(cfg.legal_route.max_applicant_wait_days),
                              float(cfg.migrants.wealth_top_up_gbp_per_day), float(b.memory_half_life_days), *heard,
                              int(k), float(w), (w * k) / (w * k + b.prior_strength))
        Migrant.decide_many(model, idx)
        model.today["decisions"] += idx.size

    @staticmethod
    def decide_many(model: ChannelModel, idx: np.ndarray) -> None:
        """Apply the decision rule to the people at ``idx`` (waiting or returned).

        What the market and the authority offer today is prepared here;
        :func:`sim.agents.decision.choose` draws the day's random numbers and applies the rule to
        each person (a compiled loop), carrying out each person's own outcome (the fare, the
        application, the next review); the state changes and the gangs' sales are carried out
        here.
        """
        if idx.size == 0:
            return
        pop, cfg = model.pop, model.config
        mp = cfg.migrants
        market = model.market
        authority = model.authority
        today = model.day

        rows = market.active_rows
        n_gangs = rows.size
        if n_gangs:
            book = market.book
            prices, rep, gang_index, insures = book.price_gbp[rows], book.reputation[rows], rows, book.insures[rows]
            cum = np.add.accumulate(market_weight(rep))   # np.cumsum
            rep_mean = np.add.reduce(rep) / n_gangs   # rep.mean()
            success_ratio = rep / max(rep_mean, 1e-9)
        else:
            prices = success_ratio = cum = np.zeros(0)
            gang_index = np.zeros(0, dtype=np.int64)
            insures = np.zeros(0, dtype=bool)
        position = np.full(len(model.market.gangs), -1, dtype=np.int64)   # of every gang among the active ones
        position[gang_index] = np.arange(n_gangs)
        offers = decision.GangOffers(prices, success_ratio, insures, cum, position, float(cfg.gangs.retry_promise_prob),
                                     gang_index)
        q, wait_days = authority.legal_route_outlook()
        # each person hears of m gangs by word of mouth; choose draws which, and the logit noise
        choice, book, apply, leave, rides_free = decision.choose(
            idx, decision.people(pop), model.stake_terms, offers, int(min(mp.known_gangs, n_gangs)), model.streams.choice,
            float(mp.choice_scale_gbp), bool(cfg.mechanisms.return_risk_at_coast), bool(mp.returnee_credit),
            float(q), float(mp.waiting_cost_gbp_per_day * wait_days), int(cfg.legal_route.max_applicant_wait_days),
            int(today), int(mp.review_interval_days), float(mp.wealth_top_up_gbp_per_day),
            int(SAVING_MAX_REVIEW_INTERVALS))

        ppa = model.people_per_agent
        n_leave = int(np.count_nonzero(leave))
        if n_leave:
            pop.move(idx[leave], MigrantState.LEFT_ROUTE, today)
            model.today["left_route"] += n_leave * ppa
        if np.count_nonzero(book):
            pop.move(idx[book], MigrantState.BOOKED, today)
            paid = book & ~rides_free
            model.today["paid_crossings"] += int(np.count_nonzero(paid)) * ppa
            market.sell_seats(np.bincount(choice[paid], minlength=n_gangs))
            if np.count_nonzero(rides_free):
                given = np.bincount(choice[rides_free], minlength=n_gangs)
                gangs = market.active
                for gi in np.flatnonzero(given).tolist():
                    gangs[gi].carry_free(int(given[gi]) * ppa)

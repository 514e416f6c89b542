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

    def __init__(self, model: ChannelModel, row: int) -> None:
        super().__init__(model)
        self.row = int(row)   # the person's row in model.pop; -1 once the person's story ended
        self.ended: tuple[int, int] | None = None   # (person id, final state) once the person left

    @property
    def bound(self) -> bool:
        """Whether the agent stands for a person in the model now."""
        return self.row >= 0

    def _get(self, field: str) -> np.generic:
        if self.row < 0:
            raise AttributeError(f"person {self.person_id} has left the model ({self.state.name}); "
                                 f"their {field} is no longer kept")
        return getattr(self.model.pop, field)[self.row]

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
                                 model.news, model.rngs.attributes)

    @staticmethod
    def newcomers(pop: Population, groups: np.ndarray, state: MigrantState, day: int, cfg: Config,
                  terms: GroupTerms, news: News, rng: np.random.Generator) -> np.ndarray:
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
                        rng: np.random.Generator, day: int) -> None:
        """Wealth, valuation of the UK, outside option and risk aversion (log-normal; the group's
        multipliers scale the medians of valuation and outside option), patience
        (exponential), adult, meets the legal route's criteria, and the day of reaching the coast."""
        n = rows.size
        mp = cfg.migrants
        grp = pop.group[rows]
        pop.wealth[rows] = mp.wealth_median_gbp * np.exp(mp.wealth_sigma * rng.standard_normal(n))
        pop.valuation[rows] = (mp.valuation_median_gbp * terms.valuation[grp]
                               * np.exp(mp.valuation_sigma * rng.standard_normal(n)))
        pop.outside[rows] = (mp.outside_option_median_gbp * terms.outside[grp]
                             * np.exp(mp.outside_option_sigma * rng.standard_normal(n)))
        pop.risk_aversion[rows] = mp.risk_aversion_median * np.exp(mp.risk_aversion_sigma * rng.standard_normal(n))
        pop.patience[rows] = rng.exponential(mp.patience_mean_days, n)
        pop.adult[rows] = rng.random(n) < mp.adult_share
        pop.legal_eligible[rows] = rng.random(n) < cfg.legal_route.eligible_share
        pop.due_day[rows] = day + rng.poisson(cfg.environment.travel_days_mean, n)

    @staticmethod
    def reach_coast(model: ChannelModel) -> int:
        """People whose journey is over reach the coast and review at once; returns how many."""
        pop = model.pop
        en = pop.where(MigrantState.EN_ROUTE)
        reach = en[pop.due_day[en] <= model.day]
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
        S = b.prior_strength
        s_pub = news.success_rate
        r_pub = news.public_return_belief(day)[pop.group[rows]]
        pop.s_a[rows], pop.s_b[rows] = S * s_pub, S * (1 - s_pub)
        pop.r_a[rows] = S * r_pub + RETURN_PRIOR_PSEUDOCOUNT
        pop.r_b[rows] = S * (1 - r_pub) + RETURN_PRIOR_PSEUDOCOUNT
        w = NEWCOMER_PRIOR_DEATH_WEIGHT
        pop.death_belief[rows] = w * b.prior_death_risk + (1 - w) * news.death_rate

    @staticmethod
    def accrue_savings(pop: Population, idx: np.ndarray, day: int, per_day_gbp: float) -> None:
        """Savings grow by ``per_day_gbp`` for each day since the person's last update."""
        pop.wealth[idx] += per_day_gbp * (day - pop.belief_day[idx])

    @staticmethod
    def fade_beliefs(pop: Population, idx: np.ndarray, day: int, b: BeliefParams) -> None:
        """Memory: belief counts halve every ``memory_half_life_days`` since the last update."""
        fade = 0.5 ** ((day - pop.belief_day[idx]) / b.memory_half_life_days)
        for arr in (pop.s_a, pop.s_b, pop.r_a, pop.r_b):
            arr[idx] *= fade
        pop.belief_day[idx] = day

    @staticmethod
    def hear_contacts(pop: Population, idx: np.ndarray, news: News, rng: np.random.Generator,
                      b: BeliefParams) -> None:
        """Rumours: ``contacts_per_review`` contacts of the same group report the recent rates of
        success, of return after arrival and of death, each report distorted by log-normal
        noise and weighted by trust (Routes and Rumours)."""
        k = b.contacts_per_review
        if k == 0 or idx.size == 0:
            return
        noise = np.exp(b.rumour_distortion * rng.standard_normal((3, idx.size)))
        s_true = np.minimum(np.maximum(news.success_rate * noise[0], 0.0), 1.0)   # np.clip, faster on
        r_true = np.minimum(np.maximum(news.return_rate[pop.group[idx]] * noise[1], 0.0), 1.0)  # small arrays
        heard_s = rng.binomial(k, s_true)
        heard_r = rng.binomial(k, r_true)
        w = b.rumour_trust
        pop.s_a[idx] += w * heard_s
        pop.s_b[idx] += w * (k - heard_s)
        pop.r_a[idx] += w * heard_r
        pop.r_b[idx] += w * (k - heard_r)
        lam = (w * k) / (w * k + b.prior_strength)
        heard_d = np.minimum(np.maximum(news.death_rate * noise[2], 0.0), 1.0)
        pop.death_belief[idx] += lam * (heard_d - pop.death_belief[idx])

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
    @staticmethod
    def crossing_gain(s: np.ndarray, r: np.ndarray, r_again: np.ndarray, surplus: np.ndarray,
                      return_cost: np.ndarray, to_origin: np.ndarray, price: np.ndarray,
                      price_again: np.ndarray, risk_cost: np.ndarray) -> np.ndarray:
        """Expected gain over the outside option of buying a seat at ``price`` (GBP; arrays broadcast).

        ``G = s [(1 - r) surplus + r after] - price - risk_cost`` where ``after`` (the value after
        a return, over the outside option) is ``-return_cost`` for a return to the country of
        origin, and ``max(0, G_again) - return_cost`` for a return to France, ``G_again`` being the
        gain of one more try at ``price_again`` with the repeat arrival's return probability
        ``r_again`` (after which a return ends the attempt).
        """
        again = s * ((1.0 - r_again) * surplus - r_again * return_cost) - price_again - risk_cost
        after = np.where(to_origin, -return_cost, np.maximum(again, 0.0) - return_cost)
        return s * ((1.0 - r) * surplus + r * after) - price - risk_cost

    @staticmethod
    def stakes(pop: Population, rows: np.ndarray, cfg: Config, terms: GroupTerms,
               authority: ReturnsAuthority) -> tuple[np.ndarray, ...]:
        """What is at stake for each person, from their attributes and the policy they know of
        (``authority``): ``(surplus V - O, return cost, return leads home, risk cost a d L, floor
        of the repeat arrival's return probability)``."""
        mp = cfg.migrants
        grp = pop.group[rows]
        grant = terms.grant    # by group: the value of staying is computed per group, then taken per person
        v_eff = pop.valuation[rows] * (grant + (1 - grant) * mp.refused_stay_value_share)[grp]
        v_eff *= 1.0 - cfg.uk.illegal_working_enforcement * cfg.uk.enforcement_valuation_effect
        surplus = v_eff - pop.outside[rows]
        to_origin = authority.returns_home(grp)
        return_cost = np.where(to_origin, mp.return_home_cost_gbp, mp.return_to_france_cost_gbp)
        risk_cost = pop.risk_aversion[rows] * pop.death_belief[rows] * mp.value_of_life_gbp
        repeat_floor = authority.repeat_return_belief(grp, pop.adult[rows])
        return surplus, return_cost, to_origin, risk_cost, repeat_floor

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
        s, r = pop.believed(rows)
        s_eff = 1.0 - (1.0 - s) ** (1.0 + cfg.gangs.retry_promise_prob)
        surplus, return_cost, to_origin, risk_cost, repeat_floor = Migrant.stakes(pop, rows, cfg, model.group_terms, model.authority)
        price = model.market.mean_price()
        price_again = price * (1.0 - model.market.insured_share())   # a gang's return insurance: a free retry
        gain = Migrant.crossing_gain(s_eff, r, np.maximum(r, repeat_floor), surplus, return_cost, to_origin,
                                     price, price_again, risk_cost) - env.travel_cost_gbp
        p_go = 0.5 * (1.0 + np.tanh(0.5 * gain / env.upstream_choice_scale_gbp))   # logistic, overflow-free
        draw = model.rngs.upstream.random(rows.size)      # drawn either way: the switch keeps the streams aligned
        return draw < p_go if cfg.mechanisms.upstream_choice else np.ones(rows.size, dtype=bool)

    # -- the periodic review ----------------------------------------------------------
    @staticmethod
    def is_due(pop: Population, rows: np.ndarray | slice, day: int) -> np.ndarray:
        """Whether each person reviews today: at the coast without a seat, review day reached."""
        st = pop.state[rows]
        # int(): NumPy compares an array with a plain int several times faster than with an IntEnum
        return (pop.next_review[rows] <= day) & ((st == int(MigrantState.WAITING)) | (st == int(MigrantState.RETURNED)))

    @staticmethod
    def due_for_review(pop: Population, day: int) -> np.ndarray:
        """Rows of everyone due for review today."""
        return Migrant.is_due(pop, slice(0, pop.size), day).nonzero()[0]

    @staticmethod
    def review(model: ChannelModel, idx: np.ndarray) -> None:
        """The activation of people due for review: an application past the longest wait lapses,
        savings accrue, beliefs fade and take in contacts' rumours, then the decision."""
        if idx.size == 0:
            return
        pop, cfg, day = model.pop, model.config, model.day
        lapsed = idx[pop.applicant[idx] & (day - pop.since[idx] >= cfg.legal_route.max_applicant_wait_days)]
        pop.applicant[lapsed] = False
        # savings grow while in France (accrued at each activation rather than daily)
        Migrant.accrue_savings(pop, idx, day, cfg.migrants.wealth_top_up_gbp_per_day)
        Migrant.fade_beliefs(pop, idx, day, cfg.beliefs)
        Migrant.hear_contacts(pop, idx, model.news, model.rngs.beliefs, cfg.beliefs)
        Migrant.decide_many(model, idx)
        model.today["decisions"] += idx.size

    @staticmethod
    def decide_many(model: ChannelModel, idx: np.ndarray) -> None:
        """Apply the decision rule to the people at ``idx`` (waiting or returned)."""
        if idx.size == 0:
            return
        pop, cfg = model.pop, model.config
        mp = cfg.migrants
        rng = model.rngs.choice
        gangs = model.market.active
        today = model.day
        n = idx.size

        s, r = pop.believed(idx)
        wealth = pop.wealth[idx]
        surplus, return_cost, to_origin, risk_cost, repeat_floor = Migrant.stakes(pop, idx, cfg, model.group_terms, model.authority)
        r_again = np.maximum(r, repeat_floor)
        returnee = pop.times_returned[idx] > 0
        r = np.where(returnee, r_again, r)   # a returnee's next arrival is a repeat
        if not cfg.mechanisms.return_risk_at_coast:
            r = r_again = np.zeros(n)
        credit = returnee if mp.returnee_credit else np.zeros(n, dtype=bool)

        if gangs:
            n_gangs = len(gangs)
            prices = np.array([g.price_gbp for g in gangs])
            rep = np.array([g.reputation for g in gangs])
            gang_index = np.array([g.gang_index for g in gangs])
            retry = cfg.gangs.retry_promise_prob
            cum = np.add.accumulate(np.array([g.market_weight() for g in gangs]))   # np.cumsum
            m = min(mp.known_gangs, n_gangs)
            # each person hears of m gangs, drawn by word of mouth (with replacement)
            known = np.minimum(np.searchsorted(cum, rng.random((n, m)) * cum[-1], side="right"), n_gangs - 1)
            # a returnee holding a voucher (return insurance) knows that gang, and rides with it free
            position = np.full(len(model.market.gangs), -1)
            position[gang_index] = np.arange(n_gangs)
            voucher = pop.voucher[idx]
            voucher_at = np.where(voucher >= 0, position[voucher], -1)
            has_voucher = voucher_at >= 0
            known[has_voucher, 0] = voucher_at[has_voucher]
            free = np.zeros(known.shape, dtype=bool)
            free[has_voucher, 0] = True
            prices_known = prices[known]
            price_known = np.where(free, 0.0, prices_known)
            insured = np.array([g.insures for g in gangs])[known]
            price_again = np.where(insured, 0.0, prices_known)
            rep_mean = np.add.reduce(rep) / n_gangs   # rep.mean()
            s_g = np.minimum(s[:, None] * (rep / max(rep_mean, 1e-9))[known], 1.0)
            s_eff = 1.0 - (1.0 - s_g) ** (1.0 + retry)
            col = (slice(None), None)
            gain = Migrant.crossing_gain(s_eff, r[col], r_again[col], surplus[col], return_cost[col],
                                         to_origin[col], price_known, price_again, risk_cost[col])
            positive = gain > 0
            usable = positive & ((wealth[:, None] >= price_known) | credit[:, None])
            # logit choice among usable known gangs (Gumbel trick: argmax of gain/scale + noise)
            util = np.where(usable, gain / mp.choice_scale_gbp + rng.gumbel(size=gain.shape), -np.inf)
            pick = np.argmax(util, axis=1)
            rows = np.arange(n)
            has = usable[rows, pick]
            choice = np.where(has, known[rows, pick], -1)
            gain_pos = np.where(positive, gain, -np.inf)
            best_gain = np.where(has, gain[rows, pick], gain_pos.max(axis=1))   # gain of the chosen gang, else the best positive one
            price_choice = np.where(has, price_known[rows, pick], 0.0)
            rides_free = has & free[rows, pick]   # booked with the gang of their voucher (return insurance)
            cheapest_worth_it = np.where(positive, price_known, np.inf).min(axis=1)   # lowest price of a gang worth booking
        else:
            rides_free = np.zeros(n, dtype=bool)
            best_gain = np.full(n, -np.inf)
            choice = np.full(n, -1, dtype=np.int64)
            price_choice = np.zeros(n)
            cheapest_worth_it = np.full(n, np.inf)

        # legal route
        legal_gain = np.full(n, -np.inf)
        q, wait_days = model.authority.legal_route_outlook()
        applicant = pop.applicant[idx]
        if q > 0:
            eligible = pop.legal_eligible[idx] & ~returnee & ~applicant   # never returned, not applied yet
            legal_gain = np.where(eligible, q * surplus - mp.waiting_cost_gbp_per_day * wait_days, -np.inf)

        book = (choice >= 0) & ~(legal_gain > best_gain)
        legal_positive = legal_gain > 0
        apply = ~book & legal_positive
        worth_it = (best_gain > 0) | legal_positive | applicant
        interval = mp.review_interval_days
        elapsed = np.maximum(today - pop.decided_day[idx], 1)
        pop.decided_day[idx] = today
        days_bad = np.where(worth_it, 0.0, pop.days_bad[idx] + elapsed)
        pop.days_bad[idx] = days_bad
        leave = ~book & ~apply & ~worth_it & (days_bad >= pop.patience[idx])

        if apply.any():
            a = idx[apply]
            pop.applicant[a] = True
            pop.since[a] = today
            pop.next_review[a] = today + cfg.legal_route.max_applicant_wait_days
        if leave.any():
            pop.move(idx[leave], MigrantState.LEFT_ROUTE, today)
            model.today["left_route"] += int(leave.sum()) * model.people_per_agent
        if book.any():
            b = idx[book]
            pop.wealth[b] -= price_choice[book]
            pop.booked_day[b] = today
            pop.move(b, MigrantState.BOOKED, today)
            ppa = model.people_per_agent
            paid = book & ~rides_free if gangs else book
            model.today["paid_crossings"] += int(paid.sum()) * ppa
            for gi, k in enumerate(np.bincount(choice[paid], minlength=len(gangs)).tolist()):
                if k:
                    gangs[gi].sell_seats(k * ppa)
            if gangs and rides_free.any():
                pop.voucher[idx[rides_free]] = -1
                given = np.bincount(choice[rides_free], minlength=len(gangs))
                for gi in np.flatnonzero(given).tolist():
                    gangs[gi].carry_free(int(given[gi]) * ppa)
            pop.gang[b] = gang_index[choice[book]]
        rest = ~book & ~apply & ~leave
        if rest.any():
            # a person who wants a seat but cannot pay yet looks again when savings allow
            # (at most SAVING_MAX_REVIEW_INTERVALS later); everyone else at the next periodic review
            wait = np.full(n, float(interval))
            saving = rest & np.isfinite(cheapest_worth_it) & ~legal_positive
            if saving.any() and mp.wealth_top_up_gbp_per_day > 0:
                short = (cheapest_worth_it[saving] - wealth[saving]) / mp.wealth_top_up_gbp_per_day
                # np.clip(ceil(short), interval, SAVING_MAX_REVIEW_INTERVALS * interval), faster on small arrays
                wait[saving] = np.minimum(np.maximum(np.ceil(short), interval), SAVING_MAX_REVIEW_INTERVALS * interval)
            pop.next_review[idx[rest]] = today + wait[rest].astype(np.int32)

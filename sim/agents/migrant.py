"""Migrants: one Mesa agent per person (by default), a view on the population's arrays.

A person's state and attributes live in the model's :class:`~sim.population.Population`
(a struct of NumPy arrays), so that the rules can act at once on everyone whose situation
changed. A :class:`Migrant` is a real Mesa agent bound to one person: its properties read
the same arrays, so a student inspecting one agent sees exactly what the rules use.

Every rule about a migrant is here, as a vectorised static method acting on an index
array of people, in the order of a person's story:

* :meth:`Migrant.set_out` creates people (:meth:`draw_attributes`, :meth:`newcomer_beliefs`);
  :meth:`Migrant.reach_coast` brings those whose journey is over to the coast;
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
    from sim.environment import News
    from sim.model import ChannelModel
    from sim.params import BeliefParams

__all__ = ["Migrant", "MigrantState"]


class Migrant(mesa.Agent):
    """A person travelling to, waiting at, or crossing from the northern French coast.

    Attributes live in the model's :class:`Population`; the properties below read them.

    Decision rule (DESIGN 6b), applied at each activation of a person at the coast:

    * net gain of booking with gang g:
      ``G_g = s_eff * ((1 - r) * (V - O) - r * penalty) - price_g - a * d * L``
      where ``s_eff = 1 - (1 - s_g)^(1 + retry)`` is the believed chance of getting
      across (with the gang's retry promise), ``r`` the believed return probability,
      ``V`` the valuation of the UK (lowered by a low asylum grant chance and by
      enforcement against illegal working), ``O`` the outside option, ``d`` the believed
      death risk, ``a`` risk aversion and ``L`` the value of life;
    * net gain of the legal route (eligible: meets the route's criteria, never returned,
      route open):
      ``G_legal = q * (V - O) - c_wait * w`` with ``q`` the expected admission chance,
      ``w`` the expected days of waiting and ``c_wait`` the daily cost of waiting;
    * book with a gang (logit over affordable gangs with ``G_g > 0``) if that beats the
      legal route; apply to the legal route if it is the best positive option; else
      wait, and leave the route once the route has not been worth it for longer than
      the person's patience. A person who cannot pay waits while savings grow.
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
        pop = model.pop
        rows = pop.add(groups.size, state, model.day)
        pop.group[rows] = groups
        Migrant.draw_attributes(model, rows)
        Migrant.newcomer_beliefs(pop, rows, model.news, model.day, model.config.beliefs)
        return rows

    @staticmethod
    def draw_attributes(model: ChannelModel, rows: np.ndarray) -> None:
        """Wealth, valuation of the UK, outside option and risk aversion (log-normal), patience
        (exponential), adult, meets the legal route's criteria, and the day of reaching the coast."""
        pop, cfg, rng, n = model.pop, model.config, model.rngs.attributes, rows.size
        mp = cfg.migrants
        pop.wealth[rows] = mp.wealth_median_gbp * np.exp(mp.wealth_sigma * rng.standard_normal(n))
        pop.valuation[rows] = mp.valuation_median_gbp * np.exp(mp.valuation_sigma * rng.standard_normal(n))
        pop.outside[rows] = mp.outside_option_median_gbp * np.exp(mp.outside_option_sigma * rng.standard_normal(n))
        pop.risk_aversion[rows] = mp.risk_aversion_median * np.exp(mp.risk_aversion_sigma * rng.standard_normal(n))
        pop.patience[rows] = rng.exponential(mp.patience_mean_days, n)
        pop.adult[rows] = rng.random(n) < mp.adult_share
        pop.legal_eligible[rows] = rng.random(n) < cfg.legal_route.eligible_share
        pop.due_day[rows] = model.day + rng.poisson(cfg.environment.travel_days_mean, n)

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
        pop.next_review[hear[pop.state[hear] != MigrantState.EN_ROUTE]] = model.day

    @staticmethod
    def learn_crossing(pop: Population, rows: np.ndarray, succeeded: bool) -> None:
        """Own outcome of a launch: one observation of success or failure."""
        (pop.s_a if succeeded else pop.s_b)[rows] += 1.0

    @staticmethod
    def learn_returned(pop: Population, rows: np.ndarray) -> None:
        """Own outcome after arrival: returned to France, one observation of a return."""
        pop.r_a[rows] += 1.0

    # -- the periodic review ----------------------------------------------------------
    @staticmethod
    def is_due(pop: Population, rows: np.ndarray | slice, day: int) -> np.ndarray:
        """Whether each person reviews today: at the coast without a seat, review day reached."""
        st = pop.state[rows]
        return (pop.next_review[rows] <= day) & ((st == MigrantState.WAITING) | (st == MigrantState.RETURNED))

    @staticmethod
    def due_for_review(pop: Population, day: int) -> np.ndarray:
        """Rows of everyone due for review today."""
        return np.flatnonzero(Migrant.is_due(pop, slice(0, pop.size), day))

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
        wealth, outside = pop.wealth[idx], pop.outside[idx]
        grant = model.group_grant[pop.group[idx]]
        v_eff = pop.valuation[idx] * (grant + (1 - grant) * mp.refused_stay_value_share)
        v_eff *= 1.0 - cfg.uk.illegal_working_enforcement * cfg.uk.enforcement_valuation_effect
        surplus = v_eff - outside
        gain_if_across = (1 - r) * surplus - r * mp.return_penalty_gbp
        risk_cost = pop.risk_aversion[idx] * pop.death_belief[idx] * mp.value_of_life_gbp

        best_gain = np.full(n, -np.inf)      # gain of the chosen gang, else the best positive one
        choice = np.full(n, -1, dtype=np.int64)
        price_choice = np.zeros(n)
        cheapest_worth_it = np.full(n, np.inf)   # lowest price of a gang worth booking
        if gangs:
            prices = np.array([g.price_gbp for g in gangs])
            rep = np.array([g.reputation for g in gangs])
            retry = cfg.gangs.retry_promise_prob
            cum = np.cumsum([g.market_weight() for g in gangs])
            m = min(mp.known_gangs, len(gangs))
            # each person hears of m gangs, drawn by word of mouth (with replacement)
            known = np.minimum(np.searchsorted(cum, rng.random((n, m)) * cum[-1], side="right"), len(gangs) - 1)
            price_known = prices[known]
            s_g = np.minimum(s[:, None] * (rep / max(rep.mean(), 1e-9))[known], 1.0)
            s_eff = 1.0 - (1.0 - s_g) ** (1.0 + retry)
            gain = s_eff * gain_if_across[:, None] - price_known - risk_cost[:, None]
            positive = gain > 0
            usable = positive & (wealth[:, None] >= price_known)
            # logit choice among usable known gangs (Gumbel trick: argmax of gain/scale + noise)
            util = np.where(usable, gain / mp.choice_scale_gbp + rng.gumbel(size=gain.shape), -np.inf)
            pick = np.argmax(util, axis=1)
            rows = np.arange(n)
            has = usable[rows, pick]
            choice = np.where(has, known[rows, pick], -1)
            gain_pos = np.where(positive, gain, -np.inf)
            best_gain = np.where(has, gain[rows, pick], gain_pos.max(axis=1))
            price_choice = np.where(has, price_known[rows, pick], 0.0)
            cheapest_worth_it = np.where(positive, price_known, np.inf).min(axis=1)

        # legal route
        legal_gain = np.full(n, -np.inf)
        q, wait_days = model.authority.legal_route_outlook()
        if q > 0:
            eligible = pop.legal_eligible[idx] & (pop.times_returned[idx] == 0) & ~pop.applicant[idx]
            legal_gain = np.where(eligible, q * surplus - mp.waiting_cost_gbp_per_day * wait_days, -np.inf)

        book = (choice >= 0) & ~(legal_gain > best_gain)
        apply = ~book & (legal_gain > 0)
        worth_it = (best_gain > 0) | (legal_gain > 0) | pop.applicant[idx]
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
            sold = np.bincount(choice[book], minlength=len(gangs))
            for gi in np.flatnonzero(sold).tolist():
                gangs[gi].sell_seats(int(sold[gi]) * model.people_per_agent)
            pop.gang[b] = np.array([g.gang_index for g in gangs])[choice[book]]
        rest = ~book & ~apply & ~leave
        if rest.any():
            # a person who wants a seat but cannot pay yet looks again when savings allow
            # (at most SAVING_MAX_REVIEW_INTERVALS later); everyone else at the next periodic review
            wait = np.full(n, float(interval))
            saving = rest & np.isfinite(cheapest_worth_it) & ~(legal_gain > 0)
            if saving.any() and mp.wealth_top_up_gbp_per_day > 0:
                short = (cheapest_worth_it[saving] - wealth[saving]) / mp.wealth_top_up_gbp_per_day
                wait[saving] = np.clip(np.ceil(short), interval, SAVING_MAX_REVIEW_INTERVALS * interval)
            pop.next_review[idx[rest]] = today + wait[rest].astype(np.int32)

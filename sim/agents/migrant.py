"""Migrants: one Mesa agent per person (by default), with their state held in arrays.

Each :class:`Migrant` is a real Mesa agent, registered with the model, created when
the person sets out for the coast and removed when their story in the model ends
(they reach the UK and are past the return window, leave the route, are admitted by
the legal route, or die). Its attributes live in a :class:`Population` of NumPy arrays
so that the model can act on everyone whose situation changed at once; the
:class:`Migrant` properties read and write the same arrays, so a student inspecting
one agent sees exactly what the vectorised rules use.

The decision rule (DESIGN 6b) is in :meth:`Migrant.decide_many`; the belief update is
in :meth:`Migrant.update_beliefs_many`. Both act on an index array of people and are
applied by the model to the people activated on a day (newcomers, those with a new
outcome, those hearing an announcement, and periodic reviews).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ChannelModel

__all__ = ["MigrantState", "Population", "Migrant"]


class MigrantState(IntEnum):
    """Where a person is. Every person is in exactly one state on every day."""

    EN_ROUTE = 0        # on the way to the coast
    WAITING = 1         # at the coast, no seat booked (includes legal-route applicants)
    BOOKED = 2          # at the coast, paid a gang for a seat
    AT_SEA = 3          # in a boat (crossings finish within the day)
    IN_UK = 4           # arrived; in the asylum process
    DETAINED = 5        # detained in the UK for return
    RETURNED = 6        # returned to France, at the coast again
    LEFT_ROUTE = 7      # went to another EU state (displacement)
    LEGAL_ADMITTED = 8  # admitted to the UK by the legal route
    DEAD = 9            # died at sea

    @property
    def column(self) -> str:
        """Name of this state's stock column in the time series."""
        return "n_" + self.name.lower()


N_STATES = len(MigrantState)
#: States after which a person's agent is removed from the model (counts are kept).
TERMINAL = (MigrantState.LEFT_ROUTE, MigrantState.LEGAL_ADMITTED, MigrantState.DEAD)
#: States of people physically at the French coast.
AT_COAST = (MigrantState.WAITING, MigrantState.BOOKED, MigrantState.RETURNED)

_FLOAT_FIELDS = ("wealth", "valuation", "outside", "risk_aversion", "patience", "days_bad",
                 "s_a", "s_b", "r_a", "r_b", "death_belief")
_INT_FIELDS = ("group", "attempts", "times_returned", "next_review", "gang", "since",
               "belief_day", "decided_day", "due_day", "booked_day")
_BOOL_FIELDS = ("adult", "legal_eligible", "applicant", "blocked", "bilateral")


class Population:
    """Struct of arrays for every person currently in the model.

    Slots are reused: when a person's agent is removed, its slot goes on a free list.
    ``state`` is -1 for a free slot.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.size = 0  # high-water mark of slots in use
        self.capacity = capacity
        self.state = np.full(capacity, -1, dtype=np.int8)
        for f in _FLOAT_FIELDS:
            setattr(self, f, np.zeros(capacity, dtype=np.float64))
        for f in _INT_FIELDS:
            setattr(self, f, np.zeros(capacity, dtype=np.int32))
        for f in _BOOL_FIELDS:
            setattr(self, f, np.zeros(capacity, dtype=bool))
        self.agent: list[Migrant | None] = [None] * capacity
        self._free: list[int] = []

    def _grow(self, need: int) -> None:
        new = max(self.capacity * 2, need)
        for f in ("state", *_FLOAT_FIELDS, *_INT_FIELDS, *_BOOL_FIELDS):
            old = getattr(self, f)
            arr = np.full(new, -1, dtype=old.dtype) if f == "state" else np.zeros(new, dtype=old.dtype)
            arr[: self.capacity] = old
            setattr(self, f, arr)
        self.agent.extend([None] * (new - self.capacity))
        self.capacity = new

    def allocate(self, n: int) -> np.ndarray:
        """Return ``n`` free slots (reused ones first, lowest first for determinism)."""
        reuse = min(n, len(self._free))
        slots = [self._free.pop() for _ in range(reuse)]
        fresh = n - reuse
        if self.size + fresh > self.capacity:
            self._grow(self.size + fresh)
        slots.extend(range(self.size, self.size + fresh))
        self.size += fresh
        return np.asarray(slots, dtype=np.int64)

    def release(self, slots: np.ndarray) -> None:
        """Free slots of people whose agents were removed."""
        self.state[slots] = -1
        for s in slots.tolist():
            self.agent[s] = None
        # keep the free list sorted descending so pop() yields the lowest slot
        self._free.extend(slots.tolist())
        self._free.sort(reverse=True)

    def where(self, *states: MigrantState) -> np.ndarray:
        """Slots of people in any of ``states``."""
        st = self.state[: self.size]
        mask = st == states[0]
        for s in states[1:]:
            mask |= st == s
        return np.flatnonzero(mask)

    def counts(self) -> np.ndarray:
        """Agents by state (a full scan; the model keeps these counts incrementally)."""
        st = self.state[: self.size]
        return np.bincount(st[st >= 0], minlength=N_STATES)


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

    def __init__(self, model: ChannelModel, slot: int) -> None:
        super().__init__(model)
        self.slot = int(slot)

    # -- views on the arrays --------------------------------------------------------
    @property
    def state(self) -> MigrantState:
        return MigrantState(int(self.model.pop.state[self.slot]))

    @property
    def group(self) -> str:
        return self.model.config.groups[int(self.model.pop.group[self.slot])].name

    @property
    def wealth_gbp(self) -> float:
        return float(self.model.pop.wealth[self.slot])

    @property
    def valuation_gbp(self) -> float:
        return float(self.model.pop.valuation[self.slot])

    @property
    def outside_option_gbp(self) -> float:
        return float(self.model.pop.outside[self.slot])

    @property
    def believed_success_prob(self) -> float:
        p = self.model.pop
        return float(p.s_a[self.slot] / (p.s_a[self.slot] + p.s_b[self.slot]))

    @property
    def believed_return_prob(self) -> float:
        p = self.model.pop
        return float(p.r_a[self.slot] / (p.r_a[self.slot] + p.r_b[self.slot]))

    @property
    def attempts(self) -> int:
        return int(self.model.pop.attempts[self.slot])

    @property
    def times_returned(self) -> int:
        return int(self.model.pop.times_returned[self.slot])

    def __repr__(self) -> str:
        return (f"Migrant(id={self.unique_id}, state={self.state.name}, group={self.group}, "
                f"wealth={self.wealth_gbp:.0f}, V={self.valuation_gbp:.0f})")

    def step(self) -> None:
        """Decide now (the model normally activates people in bulk)."""
        self.decide_many(self.model, np.array([self.slot]))

    # -- vectorised rules -----------------------------------------------------------
    @staticmethod
    def update_beliefs_many(model: ChannelModel, idx: np.ndarray) -> None:
        """Fade old belief counts, then add rumours from contacts of the same group.

        Contacts report the group's recent rates (success of launches, returns after
        arrival, deaths), each report distorted by log-normal noise and weighted by trust
        (Routes and Rumours). Own outcomes are added where they happen.
        """
        if idx.size == 0:
            return
        pop, cfg, rng, info = model.pop, model.config.beliefs, model.rngs.beliefs, model.info
        today = model.day
        elapsed = today - pop.belief_day[idx]
        # savings grow while in France (accrued at each activation rather than daily)
        pop.wealth[idx] += model.config.migrants.wealth_top_up_gbp_per_day * elapsed
        fade = 0.5 ** (elapsed / cfg.memory_half_life_days)
        for arr in (pop.s_a, pop.s_b, pop.r_a, pop.r_b):
            arr[idx] *= fade
        pop.belief_day[idx] = today
        k = cfg.contacts_per_review
        if k == 0:
            return
        n = idx.size
        noise = np.exp(cfg.rumour_distortion * rng.standard_normal((3, n)))
        s_true = np.clip(info.success_rate * noise[0], 0.0, 1.0)
        r_true = np.clip(info.return_rate[pop.group[idx]] * noise[1], 0.0, 1.0)
        heard_s = rng.binomial(k, s_true)
        heard_r = rng.binomial(k, r_true)
        w = cfg.rumour_trust
        pop.s_a[idx] += w * heard_s
        pop.s_b[idx] += w * (k - heard_s)
        pop.r_a[idx] += w * heard_r
        pop.r_b[idx] += w * (k - heard_r)
        lam = (w * k) / (w * k + cfg.prior_strength)
        pop.death_belief[idx] += lam * (np.clip(info.death_rate * noise[2], 0, 1) - pop.death_belief[idx])

    @staticmethod
    def decide_many(model: ChannelModel, idx: np.ndarray) -> None:
        """Apply the decision rule to the people at ``idx`` (waiting or returned)."""
        if idx.size == 0:
            return
        pop, cfg = model.pop, model.config
        mp = cfg.migrants
        rng = model.rngs.choice
        gangs = model.active_gang_list()
        today = model.day
        n = idx.size

        s_a, r_a = pop.s_a[idx], pop.r_a[idx]
        s = s_a / (s_a + pop.s_b[idx])
        r = r_a / (r_a + pop.r_b[idx])
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
            model.move(idx[leave], MigrantState.LEFT_ROUTE)
        if book.any():
            b = idx[book]
            pop.wealth[b] -= price_choice[book]
            pop.booked_day[b] = today
            model.move(b, MigrantState.BOOKED)
            sold = np.bincount(choice[book], minlength=len(gangs))
            for gi in np.flatnonzero(sold).tolist():
                gangs[gi].sell_seats(int(sold[gi]) * model.people_per_agent)
            pop.gang[b] = np.array([g.gang_index for g in gangs])[choice[book]]
        rest = ~book & ~apply & ~leave
        if rest.any():
            # a person who wants a seat but cannot pay yet looks again when savings allow
            # (at most 8 review intervals later); everyone else at the next periodic review
            wait = np.full(n, float(interval))
            saving = rest & np.isfinite(cheapest_worth_it) & ~(legal_gain > 0)
            if saving.any() and mp.wealth_top_up_gbp_per_day > 0:
                short = (cheapest_worth_it[saving] - wealth[saving]) / mp.wealth_top_up_gbp_per_day
                wait[saving] = np.clip(np.ceil(short), interval, 8 * interval)
            pop.next_review[idx[rest]] = today + wait[rest].astype(np.int32)

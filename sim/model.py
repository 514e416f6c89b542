"""The Channel model: Mesa wiring and the daily schedule (DESIGN section 3).

One step is one day:

1. weather and calendar;
2. people setting out reach the model; those en route reach the coast;
3. news: announcements; group-level rumour rates were updated at the end of yesterday;
4. migrants whose situation changed (or whose periodic review is due) update their
   beliefs and decide: book, wait, apply to the legal route, or leave the route;
5. gangs launch boats for the people booked, on crossable days;
6. patrols prevent launches; the rest cross, with sea risk;
7. arrivals enter the UK process; the returns authority detains, returns (within its
   weekly quota) and admits by the legal route;
8. weekly: gangs reprice, change tactics, invest, exit or enter; patrols redeploy;
9. data collection.
"""

from __future__ import annotations

import datetime as dt
import gc
from types import SimpleNamespace
from typing import Any

import mesa
import numpy as np

from sim.agents.gang import SmugglingGang
from sim.agents.migrant import AT_COAST, N_STATES, TERMINAL, Migrant, MigrantState, Population
from sim.agents.patrol import BorderPatrol, total_capacity_units
from sim.agents.returns import UNLIMITED, ReturnsAuthority
from sim.config import load_config
from sim.environment import Inflow, News, Weather, sea_death_probability
from sim.metrics import DAILY_FLOWS, model_reporters
from sim.params import Config

__all__ = ["ChannelModel", "RNG_STREAMS", "free_model"]

#: Independent random streams, one per source of randomness (common random numbers:
#: a policy change does not shift the draws of unrelated processes).
RNG_STREAMS = ("weather", "inflow", "attributes", "beliefs", "choice", "gangs", "patrols", "sea", "returns")


def _seed_sequence(rng: Any) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.SeedSequence(None if rng is None else int(rng))
    raise TypeError(f"rng must be an int seed, a numpy SeedSequence or Generator, or None; got {type(rng).__name__}")


class ChannelModel(mesa.Model):
    """The English Channel small-boat market.

    Parameters
    ----------
    config
        A validated :class:`~sim.params.Config` (or anything :func:`sim.load_config`
        accepts: a path, a shipped scenario name, a mapping).
    rng
        Seed: an int, a ``numpy.random.SeedSequence`` (one stream per source of
        randomness is spawned from it) or a Generator.
    """

    def __init__(self, config: Config | Any = None, *, rng: Any = None) -> None:
        self.seed_sequence = _seed_sequence(rng)
        streams = self.seed_sequence.spawn(len(RNG_STREAMS) + 1)
        super().__init__(rng=np.random.default_rng(streams[-1]))
        self.config = config if isinstance(config, Config) else load_config(config)
        cfg = self.config
        self.rngs = SimpleNamespace(**{name: np.random.default_rng(s) for name, s in zip(RNG_STREAMS, streams, strict=False)})
        self.people_per_agent = cfg.people_per_agent
        self.start_date = cfg.start_date
        self.day = 0
        self.date = cfg.start_date
        self.n_days = cfg.n_days

        self.group_grant = np.array([g.asylum_grant_prob for g in cfg.groups])
        self.group_covered = np.array([g.covered_by_returns for g in cfg.groups])
        self.pop = Population()
        self.counts = np.zeros(N_STATES, dtype=np.int64)   # agents by state, present and removed
        self.cum_inflow = 0                                  # agents who ever entered
        self.n_applicants = 0
        self.n_quota_detained = 0
        self.arrived_today = np.empty(0, dtype=np.int64)
        self._to_retire: list[np.ndarray] = []
        self._returned_by_group = np.zeros(len(cfg.groups))
        self._arrived_by_group = np.zeros(len(cfg.groups))
        self.today: dict[str, float] = dict.fromkeys(DAILY_FLOWS, 0.0)

        # environment
        self.weather = Weather(cfg, self.rngs.weather)
        self.inflow = Inflow(cfg, self.rngs.inflow)
        self.news = News(cfg)
        self.info = self.news

        # patrols
        pp = cfg.patrols
        self.patrol_capacity_units = total_capacity_units(pp.base_capacity_units, pp.uk_payment_gbp_per_year,
                                                          pp.gbp_per_unit_per_year)
        n_sec = len(pp.sectors)
        self.patrols = [BorderPatrol(self, s, 1.0 / n_sec) for s in range(n_sec)]

        # gangs
        gp = cfg.gangs
        self.boat_price_gbp = gp.boat_price_gbp * self._boat_year_multiplier(self.date.year)
        self._seized_short: float | None = None
        self._seized_long: float | None = None
        self.gangs: list[SmugglingGang] = []
        self.initial_gangs = gp.initial_gangs
        self.total_initial_cash_gbp = 0.0
        for _ in range(gp.initial_gangs):
            self._new_gang(boats=3)

        # returns authority
        self.authority = ReturnsAuthority(self)
        self.policy_week_origin = self.authority.start_day
        self._announce_days = self._announcement_schedule()

        # people already waiting at the coast on day 0
        n0 = round(cfg.environment.initial_waiting / self.people_per_agent)
        if n0:
            groups = self.rngs.inflow.choice(len(cfg.groups), size=n0, p=self.inflow.shares)
            slots = self._add_people(groups, MigrantState.WAITING)
            self.pop.next_review[slots] = self.rngs.inflow.integers(0, cfg.migrants.review_interval_days, n0)

        self.datacollector = mesa.DataCollector(model_reporters=model_reporters([g.name for g in cfg.groups]))

    # ------------------------------------------------------------------ helpers
    def day_of(self, date: dt.date | None) -> int:
        """Model day number of a calendar date (day 0 is the start date)."""
        return UNLIMITED if date is None else (date - self.start_date).days

    @property
    def day_of_policy_week(self) -> int:
        return (self.day - self.policy_week_origin) % 7

    def _boat_year_multiplier(self, year: int) -> float:
        table = self.config.gangs.boat_price_year_multiplier
        if not table:
            return 1.0
        if year in table:
            return table[year]
        earlier = [y for y in table if y <= year]
        return table[max(earlier)] if earlier else table[min(table)]

    def active_gang_list(self) -> list[SmugglingGang]:
        return [g for g in self.gangs if g.active]

    def least_patrolled_sector(self) -> int:
        return int(np.argmin([p.share for p in self.patrols]))

    def backlog_of(self, gang_index: int) -> int:
        """Agents booked with a gang before this week began and still waiting to launch."""
        return int(self._backlog[gang_index]) if gang_index < len(self._backlog) else 0

    def _new_gang(self, boats: int) -> SmugglingGang:
        gp = self.config.gangs
        sector = len(self.gangs) % len(self.config.patrols.sectors)
        price = np.mean([g.price_gbp for g in self.gangs if g.active]) if any(g.active for g in self.gangs) \
            else gp.initial_price_gbp
        gang = SmugglingGang(self, len(self.gangs), sector, gp.initial_cash_gbp, float(price), 0)
        self.total_initial_cash_gbp += gp.initial_cash_gbp
        self.gangs.append(gang)
        gang.buy_boats(boats)
        return gang

    # ------------------------------------------------------------------ people
    def _add_people(self, groups: np.ndarray, state: MigrantState) -> np.ndarray:
        """Create agents for new people of the given groups, with drawn attributes."""
        n = groups.size
        cfg, mp, b = self.config, self.config.migrants, self.config.beliefs
        rng = self.rngs.attributes
        pop = self.pop
        slots = pop.allocate(n)
        pop.group[slots] = groups
        pop.wealth[slots] = mp.wealth_median_gbp * np.exp(mp.wealth_sigma * rng.standard_normal(n))
        pop.valuation[slots] = mp.valuation_median_gbp * np.exp(mp.valuation_sigma * rng.standard_normal(n))
        pop.outside[slots] = mp.outside_option_median_gbp * np.exp(mp.outside_option_sigma * rng.standard_normal(n))
        pop.risk_aversion[slots] = mp.risk_aversion_median * np.exp(mp.risk_aversion_sigma * rng.standard_normal(n))
        pop.patience[slots] = rng.exponential(mp.patience_mean_days, n)
        pop.adult[slots] = rng.random(n) < mp.adult_share
        pop.legal_eligible[slots] = rng.random(n) < cfg.legal_route.eligible_share
        pop.due_day[slots] = self.day + rng.poisson(cfg.environment.travel_days_mean, n)
        # beliefs: the newcomer's prior is what is publicly heard about the route now
        S = b.prior_strength
        s_pub = self.news.success_rate
        r_pub = self.news.public_return_belief(self.day)[groups]
        pop.s_a[slots], pop.s_b[slots] = S * s_pub, S * (1 - s_pub)
        pop.r_a[slots], pop.r_b[slots] = S * r_pub + 1e-3, S * (1 - r_pub) + 1e-3
        pop.death_belief[slots] = 0.5 * b.prior_death_risk + 0.5 * self.news.death_rate
        pop.belief_day[slots] = self.day
        pop.decided_day[slots] = self.day
        for f in ("days_bad",):
            getattr(pop, f)[slots] = 0.0
        for f in ("attempts", "times_returned"):
            getattr(pop, f)[slots] = 0
        pop.gang[slots] = -1
        pop.next_review[slots] = self.day
        pop.since[slots] = self.day
        pop.booked_day[slots] = 0
        pop.applicant[slots] = pop.blocked[slots] = pop.bilateral[slots] = False
        pop.state[slots] = state
        self.counts[state] += n
        self.cum_inflow += n
        # one Mesa agent per person (constructed directly: create_agents would also build
        # an AgentSet we do not need, at about a microsecond per agent)
        for s in slots.tolist():
            pop.agent[s] = Migrant(self, s)
        return slots

    def move(self, slots: np.ndarray, new: MigrantState, keep_since: bool = False) -> None:
        """Move people to a new state, keeping the state counts exact."""
        if slots.size == 0:
            return
        pop = self.pop
        old = pop.state[slots]
        any_detained = self.counts[MigrantState.DETAINED] > 0
        self.counts -= np.bincount(old, minlength=N_STATES)
        self.counts[new] += slots.size
        if new == MigrantState.DETAINED:
            self.n_quota_detained += int((~pop.bilateral[slots]).sum())
        if any_detained:
            was_det = old == MigrantState.DETAINED
            if was_det.any():
                self.n_quota_detained -= int((~pop.bilateral[slots[was_det]]).sum())
        if self.n_applicants:
            leaving_applicants = pop.applicant[slots]
            if leaving_applicants.any():
                self.n_applicants -= int(leaving_applicants.sum())
                pop.applicant[slots] = False
        pop.state[slots] = new
        if new in TERMINAL or new == MigrantState.IN_UK:
            self._to_retire.append(slots)
        if not keep_since:
            pop.since[slots] = self.day
        if new == MigrantState.LEFT_ROUTE:
            self.today["left_route"] += slots.size * self.people_per_agent

    def return_to_france(self, slots: np.ndarray, bilateral: bool) -> None:
        """Returned people are back at the coast, barred from the legal route."""
        pop = self.pop
        pop.times_returned[slots] += 1
        pop.r_a[slots] += 1.0          # own outcome: returned
        pop.next_review[slots] = self.day + 1
        pop.gang[slots] = -1
        self.move(slots, MigrantState.RETURNED)
        pop.bilateral[slots] = False   # after the move, which counts quota detention places
        key = "returns_bilateral" if bilateral else "returns"
        self.today[key] += slots.size * self.people_per_agent

    def news_of_detention(self, slots: np.ndarray) -> None:
        """Arrivals detained for return (and not shielded by a challenge) make the news."""
        np.add.at(self._returned_by_group, self.pop.group[slots], 1)

    def _remove_agents(self, slots: np.ndarray) -> None:
        for s in slots.tolist():
            agent = self.pop.agent[s]
            if agent is not None:
                agent.remove()
        self.pop.release(slots)

    # ------------------------------------------------------------------ schedule
    def step(self) -> None:
        """Advance one day."""
        self.today = dict.fromkeys(DAILY_FLOWS, 0.0)
        self.date = self.start_date + dt.timedelta(days=self.day)
        self.weather.step(self.date.month)                       # 1
        self._arrivals_at_coast()                                # 2
        self._announce()                                         # 3
        self._decide()                                           # 4
        if self.weather.crossable:                               # 5-6
            self._launch_and_cross()
        else:
            self.arrived_today = np.empty(0, dtype=np.int64)
        for g in self.gangs:
            if g.active:
                g.pay_fixed_costs()
        self.authority.step()                                    # 7
        if self.day % 7 == 6:                                    # 8
            self._weekly()
        self._update_news()
        self._retire()
        self.datacollector.collect(self)                         # 9
        self.day += 1
        if self.day >= self.n_days:
            self.running = False

    def _arrivals_at_coast(self) -> None:
        counts = self.inflow.step(self.date, self.news.public_return_belief(self.day))
        n = int(counts.sum())
        if n:
            groups = np.repeat(np.arange(counts.size), counts)
            self._add_people(groups, MigrantState.EN_ROUTE)
            self.today["inflow"] += n * self.people_per_agent
        pop = self.pop
        en = pop.where(MigrantState.EN_ROUTE)
        reach = en[pop.due_day[en] <= self.day]
        if reach.size:
            self.move(reach, MigrantState.WAITING)
            pop.next_review[reach] = self.day
            self.today["reached_coast"] += reach.size * self.people_per_agent

    def _announcement_schedule(self) -> dict[int, list[tuple[np.ndarray, str]]]:
        cfg = self.config
        sched: dict[int, list[tuple[np.ndarray, str]]] = {}
        r = cfg.returns
        if (r.quota_per_week == "all" or r.quota_per_week > 0) and r.announce_date is not None:
            sched.setdefault(self.day_of(r.announce_date), []).append((np.flatnonzero(self.group_covered), "quota"))
        for i, g in enumerate(cfg.groups):
            if g.bilateral_returns_from is not None and g.bilateral_return_prob > 0:
                sched.setdefault(self.day_of(g.bilateral_returns_from), []).append((np.array([i]), "bilateral"))
        return sched

    def _announce(self) -> None:
        """Public announcements set a prior on the return probability of covered groups."""
        events = self._announce_days.get(self.day)
        if not events:
            return
        cfg, pop = self.config, self.pop
        for groups, kind in events:
            if kind == "bilateral":
                prob = np.array([cfg.groups[i].bilateral_return_prob for i in groups])
            else:
                q = self.authority.quota_per_week
                weekly_arrivals = 7.0 * float(self.news._arrived[groups].sum()) * self.people_per_agent
                eligible = weekly_arrivals * cfg.migrants.adult_share
                share = 1.0 if q >= UNLIMITED else min(1.0, q / max(eligible, 1.0))
                prob = np.full(groups.size, share * cfg.migrants.adult_share * (1 - cfg.returns.challenge_block_share))
            self.news.announce(self.day, groups, prob)
            hear = pop.where(MigrantState.EN_ROUTE, *AT_COAST)
            lookup = np.full(len(cfg.groups), -1.0)
            lookup[groups] = prob
            p = lookup[pop.group[hear]]
            hear, p = hear[p >= 0], p[p >= 0]
            w = cfg.beliefs.announcement_weight
            pop.r_a[hear] += w * p
            pop.r_b[hear] += w * (1 - p)
            at_coast = hear[pop.state[hear] != MigrantState.EN_ROUTE]
            pop.next_review[at_coast] = self.day
            self.today["announcements"] += 1

    def _decide(self) -> None:
        pop = self.pop
        st = pop.state[: pop.size]
        due = (pop.next_review[: pop.size] <= self.day) & ((st == MigrantState.WAITING) | (st == MigrantState.RETURNED))
        idx = np.flatnonzero(due)
        # applicants whose wait ran out decide again, no longer applying
        lapsed = idx[pop.applicant[idx]
                     & (self.day - pop.since[idx] >= self.config.legal_route.max_applicant_wait_days)]
        if lapsed.size:
            pop.applicant[lapsed] = False
            self.n_applicants -= lapsed.size
        Migrant.update_beliefs_many(self, idx)
        before = int(pop.applicant[idx].sum())
        Migrant.decide_many(self, idx)
        self.n_applicants += int(pop.applicant[idx].sum()) - before
        self.today["decisions"] += idx.size

    def _launch_and_cross(self) -> None:
        pop, cfg = self.pop, self.config
        ppa = self.people_per_agent
        self.arrived_today = np.empty(0, dtype=np.int64)
        booked = pop.where(MigrantState.BOOKED)
        if booked.size == 0:
            return
        order = np.lexsort((booked, pop.booked_day[booked], pop.gang[booked]))
        booked = booked[order]
        gang_of = pop.gang[booked]
        starts = np.searchsorted(gang_of, np.arange(len(self.gangs) + 1))
        boat_gang, boat_load, pax, pax_boat = [], [], [], []
        for g in self.gangs:
            q = starts[g.gang_index + 1] - starts[g.gang_index]
            if not g.active or q == 0:
                continue
            oldest = self.day - int(pop.booked_day[booked[starts[g.gang_index]]])
            loads = g.plan_launches(int(q), oldest)
            pos = starts[g.gang_index]
            for load in loads:
                pax.append(booked[pos:pos + load])
                pax_boat.append(np.full(load, len(boat_load)))
                boat_gang.append(g)
                boat_load.append(load)
                pos += load
        if not boat_load:
            return
        n_boats = len(boat_load)
        loads = np.asarray(boat_load)
        pax = np.concatenate(pax)
        pax_boat = np.concatenate(pax_boat)
        sectors = np.array([g.sector for g in boat_gang])
        taxi = np.array([g.taxi_boats for g in boat_gang])
        prevented = np.zeros(n_boats, dtype=bool)
        for patrol in self.patrols:
            here = np.flatnonzero(sectors == patrol.sector)
            if here.size:
                prevented[here] = patrol.prevent(taxi[here], self.rngs.patrols)
        arrested = prevented & (self.rngs.gangs.random(n_boats) < cfg.gangs.arrest_prob_per_prevented)
        for i, g in enumerate(boat_gang):
            g.record_launch(bool(prevented[i]), bool(arrested[i]))

        # sea: individual risk plus rare incidents that kill a share of a boat
        risk = sea_death_probability(loads * ppa, self.weather.marginal, cfg)
        share, kill = cfg.environment.incident_share, cfg.environment.incident_kill_share
        p_incident = np.minimum(1.0, share * risk / kill) if kill > 0 else np.zeros(n_boats)
        incident = self.rngs.sea.random(n_boats) < p_incident
        p_die = np.where(incident, kill, (1 - share) * risk)
        p_die = np.where(prevented, 0.0, p_die)
        dies = self.rngs.sea.random(pax.size) < p_die[pax_boat]
        stopped = prevented[pax_boat]

        pop.attempts[pax] += 1
        self.move(pax, MigrantState.AT_SEA)
        # prevented: back to the coast; a retry promise keeps the seat
        back = pax[stopped]
        if back.size:
            pop.s_b[back] += 1.0
            keep = self.rngs.gangs.random(back.size) < cfg.gangs.retry_promise_prob
            self.move(back[keep], MigrantState.BOOKED, keep_since=True)
            lost = back[~keep]
            pop.gang[lost] = -1
            pop.next_review[lost] = self.day + 1
            self.move(lost, MigrantState.WAITING)
        dead = pax[dies]
        self.move(dead, MigrantState.DEAD)
        arrived = pax[~stopped & ~dies]
        pop.s_a[arrived] += 1.0
        pop.gang[arrived] = -1
        self.move(arrived, MigrantState.IN_UK)
        self.arrived_today = arrived
        np.add.at(self._arrived_by_group, pop.group[arrived], 1)

        t = self.today
        t["launches"] += n_boats
        t["launches_prevented"] += int(prevented.sum())
        t["boats_arrived"] += int((~prevented).sum())
        t["people_launched"] += pax.size * ppa
        t["people_prevented"] += back.size * ppa
        t["deaths"] += dead.size * ppa
        t["arrivals_uk"] += arrived.size * ppa
        t["repeat_arrivals"] += int((pop.times_returned[arrived] > 0).sum()) * ppa
        t["arrests"] += int(arrested.sum())
        t["people_per_boat_sum"] += pax.size * ppa
        self._seized_day = int(prevented.sum())
        self._launched_sectors = np.bincount(sectors, minlength=len(self.patrols))

    def _weekly(self) -> None:
        cfg = self.config
        pop = self.pop
        booked = pop.where(MigrantState.BOOKED)
        old = booked[pop.booked_day[booked] <= self.day - 7]
        self._backlog = np.bincount(pop.gang[old], minlength=len(self.gangs))
        # boat price: yearly supply disruption, and dearer when many boats were seized lately
        seized = sum(p.prevented_week for p in self.patrols)
        if self._seized_long is None:  # both averages start at the first week with seizures
            if seized > 0:
                self._seized_short = self._seized_long = float(seized)
            excess = 0.0
        else:
            self._seized_short += 0.25 * (seized - self._seized_short)
            self._seized_long += (1 / 52) * (seized - self._seized_long)
            excess = max(0.0, self._seized_short / max(self._seized_long, 1.0) - 1.0)
        self.boat_price_gbp = (cfg.gangs.boat_price_gbp * self._boat_year_multiplier(self.date.year)
                               * (1.0 + cfg.gangs.boat_price_seizure_elasticity * excess))
        for g in self.gangs:
            if g.active:
                g.weekly_review(self.rngs.gangs)
        for g in self.gangs:
            if g.active and g.should_exit:
                self._exit(g)
        self._maybe_enter()
        # patrols redeploy toward where launches were seen
        seen = np.array([p.launches_seen_week for p in self.patrols], dtype=float)
        if seen.sum() > 0:
            share = seen / seen.sum()
            for p, s in zip(self.patrols, share, strict=True):
                p.redeploy(float(s), cfg.patrols.redeploy_rate)
            floor = 0.02
            shares = np.maximum([p.share for p in self.patrols], floor)
            shares /= shares.sum()
            for p, s in zip(self.patrols, shares, strict=True):
                p.share = float(s)
        else:
            for p in self.patrols:
                p.launches_seen_week = p.prevented_week = 0

    def _exit(self, gang: SmugglingGang) -> None:
        gang.active = False
        gang.exited_day = self.day
        self.today["gang_exits"] += 1
        pop = self.pop
        booked = pop.where(MigrantState.BOOKED)
        stranded = booked[pop.gang[booked] == gang.gang_index]
        if stranded.size:  # their fare is lost
            pop.gang[stranded] = -1
            pop.next_review[stranded] = self.day + 1
            self.move(stranded, MigrantState.WAITING)

    def _maybe_enter(self) -> None:
        gp = self.config.gangs
        active = self.active_gang_list()
        if len(active) >= gp.max_gangs:
            return
        recent = [w for g in active for w in g.recent]
        revenue = sum(w["revenue"] for w in recent)
        profit = revenue - sum(w["cost"] for w in recent)
        margin = profit / revenue if revenue > 0 else -1.0
        if margin > gp.entry_margin_threshold and self.rngs.gangs.random() < gp.entry_prob_per_week:
            gang = self._new_gang(boats=0)
            gang.week["cost"] += gp.entry_cost_gbp   # sunk entry cost: an economic cost
            self.today["gang_costs_gbp"] += gp.entry_cost_gbp
            self.today["gang_entries"] += 1
            gang.buy_boats(2)

    def _update_news(self) -> None:
        self.arrivals_by_group_today = self._arrived_by_group.copy()
        t = self.today
        self.news.step(t["people_launched"] / self.people_per_agent, t["arrivals_uk"] / self.people_per_agent,
                       t["deaths"] / self.people_per_agent, self._arrived_by_group, self._returned_by_group)
        self._arrived_by_group[:] = 0
        self._returned_by_group[:] = 0

    def _retire(self) -> None:
        """Remove the agents of people whose story in the model has ended.

        That is the dead, those who left the route or were admitted by the legal route,
        and arrivals in the UK once the authority has made today's detention decisions
        (nothing else happens to them in the model). Their counts are kept.
        """
        if not self._to_retire:
            return
        gone = np.concatenate(self._to_retire)
        self._to_retire = []
        gone = gone[np.isin(self.pop.state[gone], (*TERMINAL, MigrantState.IN_UK))]
        if gone.size:
            self._remove_agents(np.unique(gone))

    # ------------------------------------------------------------------ views
    @property
    def waiting_at_coast(self) -> int:
        """People at the coast: waiting, booked, or returned."""
        return int(sum(self.counts[s] for s in AT_COAST)) * self.people_per_agent

    def mean_believed_return_prob(self) -> float:
        pop = self.pop
        idx = pop.where(*AT_COAST)
        if idx.size == 0:
            return float("nan")
        return float(np.mean(pop.r_a[idx] / (pop.r_a[idx] + pop.r_b[idx])))

    def run_model(self) -> None:  # noqa: D401 - Mesa's name
        """Run to the configured end date."""
        while self.running:
            self.step()


def free_model(model: mesa.Model) -> None:
    """Release a finished model (Mesa 3.3 keeps models alive through class-level registries)."""
    model.remove_all_agents()
    ids = getattr(mesa.Agent, "_ids", None)
    if ids is not None:
        ids.pop(model, None)
    if isinstance(model, ChannelModel):
        model.pop = None  # type: ignore[assignment]
        model.gangs = []
        model.patrols = []
    gc.collect(0)



"""The Channel model: Mesa wiring and the daily schedule (DESIGN section 3).

One step is one day:

1. weather and calendar;
2. people considering the route decide upstream (set out, or are deterred); those en
   route reach the coast;
3. news: announcements; group-level rumour rates were updated at the end of yesterday;
4. migrants whose situation changed (or whose periodic review is due) update their
   beliefs and decide: book, wait, apply to the legal route, or leave the route;
5. gangs launch boats for the people booked, on crossable days;
6. patrols prevent launches; the rest cross, with sea risk;
7. arrivals enter the UK process; the returns authority detains, returns (within its
   weekly quota) and admits by the legal route; gangs pay their daily fixed costs;
8. weekly: gangs reprice, change tactics, invest, exit or enter; patrols redeploy;
9. the news takes in the day; agents of people whose story ended are freed; data collection.

The model wires the parts together and holds nothing but the schedule: the people and
their conservation are in :mod:`sim.population`, weather, inflow, sea risk and news in
:mod:`sim.environment`, and every rule in the agent it belongs to (:mod:`sim.agents`).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import deque
from types import SimpleNamespace
from typing import Any

import mesa
import numpy as np

from sim.agents import decision
from sim.agents.binding import AgentTable
from sim.agents.gang import Boats, GangMarket, SmugglingGang
from sim.agents.migrant import GroupTerms, Migrant
from sim.agents.patrol import (
    BorderPatrol,
    least_patrolled_sector,
    prevent_launches,
    redeploy_patrols,
    total_capacity_units,
    uk_payment_on,
)
from sim.agents.returns import ReturnsAuthority
from sim.config import load_config
from sim.environment import Inflow, News, Weather, sea_deaths
from sim.metrics import DAILY_FLOWS, DailyCollector, arrival_columns, daily_row, model_reporters
from sim.params import Config
from sim.population import AT_COAST, MigrantState, Population
from sim.timeline import Change, timeline_changes

__all__ = ["ChannelModel", "RNG_STREAMS", "free_model"]

#: Independent random streams, one per source of randomness (common random numbers:
#: a policy change does not shift the draws of unrelated processes).
RNG_STREAMS = ("weather", "inflow", "attributes", "beliefs", "choice", "gangs", "patrols", "sea", "returns",
               "upstream")
#: The streams the compiled loops of :mod:`sim.agents.decision` draw from (``model.streams``).
COMPILED_STREAMS = ("attributes", "beliefs", "choice", "gangs", "patrols", "upstream")


#: Spawn-key suffix of the stream of the future inflow path (derived from the run's seed outside
#: RNG_STREAMS, so that adding it changed no other stream; the same path for every scenario on a seed).
FUTURE_INFLOW_STREAM = 0xF07E


def _seed_sequence(rng: Any) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):   # a copy in the same state: the caller's is not consumed
        return np.random.SeedSequence(rng.entropy, spawn_key=rng.spawn_key, pool_size=rng.pool_size,
                                      n_children_spawned=rng.n_children_spawned)
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
        cfg = self.given = self.config       # the scenario as given (not `scenario`: Mesa 3.5 owns that name); self.config: what is in force today
        self.changes: dict[int, Change] = {c.day: c for c in timeline_changes(cfg)}   # by model day
        self.rngs = SimpleNamespace(**{name: np.random.default_rng(s) for name, s in zip(RNG_STREAMS, streams, strict=False)})
        #: the streams the compiled loops draw from, as they take them (the same generators)
        self.streams = SimpleNamespace(**{name: decision.stream(getattr(self.rngs, name)) for name in COMPILED_STREAMS})
        self.people_per_agent = cfg.people_per_agent
        self.start_date = cfg.start_date
        self.day = 0
        self.date = cfg.start_date
        self.n_days = cfg.n_days
        self.today: dict[str, float] = dict.fromkeys(DAILY_FLOWS, 0.0)
        self.daily_values: dict[str, float] = {}                # the day's row of the time series
        self.potential_recent: deque[float] = deque(maxlen=7 * cfg.verdict.window_weeks)  # people/day considering
        self.group_terms = GroupTerms.of(cfg)   # grant probability and multipliers by group

        self.pop = Population()
        self.agent_table = AgentTable(lambda slot: Migrant(self, slot), self.pop.capacity)  # the agent of each person
        self.arrived_today = np.empty(0, dtype=np.int64)      # rows of today's arrivals in the UK
        self.weather = Weather(cfg, self.rngs.weather)
        future_seed = (self.stream_seed(FUTURE_INFLOW_STREAM) if cfg.environment.future_inflow_seed is None else
                       np.random.SeedSequence(cfg.environment.future_inflow_seed, spawn_key=(FUTURE_INFLOW_STREAM,)))
        self.inflow = Inflow(cfg, self.rngs.inflow, np.random.default_rng(future_seed))
        self.news = News(cfg)
        pp = cfg.patrols
        self.uk_payment_gbp_per_year = pp.uk_payment_gbp_per_year        # in force today (uk_payment_on)
        self.patrol_capacity_units = total_capacity_units(pp.base_capacity_units, pp.uk_payment_gbp_per_year,
                                                          pp.gbp_per_unit_per_year)
        self.patrols = [BorderPatrol(self, s, 1.0 / len(pp.sectors)) for s in range(len(pp.sectors))]
        self.market = GangMarket(self)
        self.authority = ReturnsAuthority(self)
        #: what is at stake for migrants today, by group (the policy they know of; set each morning)
        self.stake_terms = Migrant.stake_terms(self.config, self.group_terms, self.authority)
        self._initial_waiting()
        names = [g.name for g in cfg.groups]
        self.arrival_columns = arrival_columns(names)
        self.datacollector = DailyCollector(model_reporters=model_reporters(names))

    def stream_seed(self, key: int) -> np.random.SeedSequence:
        """A seed derived from the run's seed and ``key``, independent of the model's streams."""
        ss = self.seed_sequence
        return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, key), pool_size=ss.pool_size)

    def _initial_waiting(self) -> None:
        """People already waiting at the coast on day 0, with their reviews spread over a period."""
        cfg = self.config
        n0 = round(cfg.environment.initial_waiting / self.people_per_agent)
        if n0:
            groups = self.rngs.inflow.choice(len(cfg.groups), size=n0, p=self.inflow.shares)
            rows = Migrant.set_out(self, groups, MigrantState.WAITING)
            self.pop.next_review[rows] = self.rngs.inflow.integers(0, cfg.migrants.review_interval_days, n0)
        self.bind_agents()

    # ------------------------------------------------------------------ schedule
    def step(self) -> None:
        """Advance one day (ODD 3.1)."""
        self.begin_day()                     # 1 calendar and weather
        self.arrivals_at_coast()             # 2 people set out; those en route reach the coast
        self.announcements()                 # 3 public news
        self.migrants_review()               # 4 migrants due for review decide
        self.launch_and_cross()              # 5-6 gangs launch, patrols prevent, the rest cross
        self.authority.step()                # 7 detentions, returns, the legal route
        self.market.step()                   #   gangs' daily fixed costs
        if self.day % 7 == 6:                # 8 weekly: gangs adapt, enter, exit; patrols redeploy
            self.weekly()
        self.end_day()                       # 9 news, agents, data collection

    def begin_day(self) -> None:
        self.today = dict.fromkeys(DAILY_FLOWS, 0.0)
        self.date = self.start_date + dt.timedelta(days=self.day)
        change = self.changes.get(self.day)
        if change is not None:
            self.apply_change(change)
        pp = self.config.patrols
        payment = uk_payment_on(pp, self.date)
        if change is not None or payment != self.uk_payment_gbp_per_year:
            self.uk_payment_gbp_per_year = payment
            self.patrol_capacity_units = total_capacity_units(pp.base_capacity_units, payment, pp.gbp_per_unit_per_year)
        self.today["payments_to_france_gbp"] = payment / 365.25
        self.arrived_today = np.empty(0, dtype=np.int64)
        self.news.begin_day()
        self.weather.step(self.date.month)
        self.stake_terms = Migrant.stake_terms(self.config, self.group_terms, self.authority)

    def apply_change(self, change: Change) -> None:
        """Put a timeline change in force at the start of its day: the new configuration, and every
        part that keeps something derived from it refreshes it (:mod:`sim.timeline`)."""
        cfg = self.config = change.config
        self.group_terms = GroupTerms.of(cfg)
        self.weather.configure(cfg)
        self.inflow.configure(cfg)
        self.news.configure(cfg)
        self.market.configure(cfg.gangs)
        self.authority.configure(cfg, change)
        self.today["timeline_changes"] += 1

    def arrivals_at_coast(self) -> None:
        """People considering the route decide upstream: they set out for the coast or are
        deterred (the outside option at once); those en route whose journey is over reach it."""
        counts = self.inflow.step(self.date)
        n = int(counts.sum())
        if n:
            rows = Migrant.set_out(self, np.repeat(np.arange(counts.size), counts))
            go = Migrant.consider_route(self, rows)
            self.pop.move(rows[~go], MigrantState.DETERRED, self.day)
            ppa = self.people_per_agent
            self.today["potential_inflow"] += n * ppa
            n_go = int(np.count_nonzero(go))
            self.today["inflow"] += n_go * ppa
            self.today["deterred_upstream"] += (go.size - n_go) * ppa
        self.today["reached_coast"] += Migrant.reach_coast(self) * self.people_per_agent

    def announcements(self) -> None:
        """Public announcements of the return probability set a prior for the groups concerned."""
        for groups, prob in self.authority.announcements():
            self.news.announce(self.day, groups, prob)
            Migrant.hear_announcement(self, groups, prob)
            self.today["announcements"] += 1

    def migrants_review(self) -> None:
        Migrant.review(self, Migrant.due_for_review(self.pop, self.day))

    def launch_and_cross(self) -> None:
        """On a crossable day, each gang's boats launch; patrols prevent some (passengers are
        back at the coast), the sea takes its toll, and the rest arrive in the UK."""
        if not self.weather.crossable:
            return
        boats = self.market.plan_boats(self.pop, self.day)
        if boats is not None:
            self.cross(boats)

    def cross(self, boats: Boats) -> None:
        """Today's boats launch (7.6, 7.7): patrols prevent some, the gangs pay for every launch and
        learn its outcome, the sea takes its toll; passengers of prevented launches go back to the
        coast (keeping the seat if the gang's retry promise holds), the dead are removed and the
        rest arrive in the UK (with a voucher if their gang insures). The rules are the agents'."""
        cfg, pop, ppa, rngs, day = self.config, self.pop, self.people_per_agent, self.rngs, self.day
        n_boats = len(boats)
        prevented = prevent_launches(self.patrols, boats.sectors, boats.taxi, self.streams.patrols)
        arrested = self.market.record_launches(boats, prevented, rngs.gangs)
        pax = boats.passengers
        dies = sea_deaths(boats.loads * ppa, boats.boat_of, prevented, self.weather.marginal, cfg, rngs.sea)
        stopped = prevented[boats.boat_of]
        Migrant.board(pop, pax, day)
        back = pax[stopped]
        if back.size:
            Migrant.turned_back(pop, back, self.market.keep_seats(back.size, rngs.gangs), day)
        dead = pax[dies]
        Migrant.die_at_sea(pop, dead, day)
        arrived = pax[~stopped & ~dies]
        Migrant.arrive_in_uk(pop, arrived, self.market.vouchers(pop.gang[arrived]), day)
        self.arrived_today = arrived
        self.news.record_arrivals(pop.group[arrived])

        t = self.today
        t["launches"] += n_boats
        n_prevented = int(np.count_nonzero(prevented))
        t["launches_prevented"] += n_prevented
        t["boats_arrived"] += n_boats - n_prevented
        t["people_launched"] += pax.size * ppa
        t["people_prevented"] += back.size * ppa
        t["deaths"] += dead.size * ppa
        t["arrivals_uk"] += arrived.size * ppa
        t["repeat_arrivals"] += int(np.count_nonzero(pop.times_returned[arrived])) * ppa   # times_returned >= 0
        t["arrests"] += int(np.count_nonzero(arrested))

    def weekly(self) -> None:
        """Gangs review (price, tactics, investment), exit or enter; patrols redeploy."""
        seized = sum(p.prevented_week for p in self.patrols)
        self.market.weekly(seized, least_patrolled_sector(self.patrols), self.streams.gangs)
        redeploy_patrols(self.patrols, self.config.patrols.redeploy_rate)

    def end_day(self) -> None:
        t, ppa = self.today, self.people_per_agent
        self.news.step(t["people_launched"] / ppa, t["arrivals_uk"] / ppa, t["deaths"] / ppa)
        self.bind_agents()
        self.potential_recent.append(t["potential_inflow"])
        self.daily_values = daily_row(self)
        self.datacollector.collect(self)
        self.day += 1
        if self.day >= self.n_days:
            self.running = False

    # ------------------------------------------------------------------ agents
    def bind_agents(self) -> None:
        """Keep a Mesa agent for every person in the model without paying Mesa's registration
        and removal for every journey (ODD 3.3; :meth:`sim.agents.binding.AgentTable.bind`)."""
        self.agent_table.bind(self.pop)

    @property
    def agent_of_row(self) -> np.ndarray:
        """The Mesa agent of the person in each row of ``pop`` (None: a free row)."""
        return self.agent_table.agent_of_row()

    @property
    def ended_agents(self) -> list[Migrant]:
        """Agents whose person left, kept for reuse, oldest first."""
        return self.agent_table.ended_agents()

    @property
    def migrants(self) -> list[Migrant]:
        """The agents of everyone in the model now (not those kept in the pool of ended agents)."""
        return self.agent_table.bound_agents(self.pop.size)

    # ------------------------------------------------------------------ views
    @property
    def gangs(self) -> list[SmugglingGang]:
        """Every gang that ever operated (``active`` tells whether it still does)."""
        return self.market.gangs

    @property
    def initial_gangs(self) -> int:
        return self.market.initial_gangs

    @property
    def total_initial_cash_gbp(self) -> float:
        return self.market.total_initial_cash_gbp

    @property
    def boat_price_gbp(self) -> float:
        return self.market.supply.price_gbp

    @property
    def counts(self) -> np.ndarray:
        """People by state (agents), including those whose story has ended."""
        return self.pop.state_counts

    @property
    def cum_inflow(self) -> int:
        return self.pop.cum_inflow

    @property
    def n_applicants(self) -> int:
        return self.pop.n_applicants

    @property
    def arrivals_by_group_today(self) -> np.ndarray:
        return self.news.arrived_today

    @property
    def waiting_at_coast(self) -> int:
        """People at the coast: waiting, booked, or returned."""
        counts = self.counts.tolist()
        return sum(counts[s] for s in AT_COAST) * self.people_per_agent

    def mean_believed_return_prob(self) -> float:
        """Mean believed return probability of the people at the coast (NaN if nobody is there)."""
        return self.pop.mean_return_belief_at_coast()

    def end_state(self) -> dict[str, Any]:
        """The business and the returnees now (for the summary and the verdict): the demand and cost
        curves of :func:`sim.viability.market_viability` over the people considering the route in the
        verdict window, and ``recross_share_6m``."""
        from sim.viability import market_viability  # builds on the agents and this module

        per_week = 7.0 * float(np.mean(self.potential_recent)) if self.potential_recent else 0.0
        out: dict[str, Any] = market_viability(self, per_week).as_dict()
        out["potential_per_week"] = per_week
        out["recross_share_6m"] = self.authority.recross_share(self.day - 1)
        # the future inflow path's factor in the year of the last day simulated (1: fixed, or not past the data)
        out["future_inflow_factor"] = self.inflow.future.get(self.date.year, 1.0)
        return out

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
        model.agent_table.clear()
        model.market.gangs = []
        model.patrols = []
    gc.collect(0)



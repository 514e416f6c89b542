"""The returns authority: the weekly quota of returns to France and the legal route.

Each day, among today's arrivals in the UK, the authority detains for return:

* every arrival of a group with a bilateral returns agreement in force, with that
  agreement's probability (the UK-Albania deal of December 2022);
* under the one-in-one-out quota (from ``returns.start_date``): eligible arrivals
  (adults of covered groups) while detention places remain. Places are the weekly quota
  times the weeks a detainee is held, so that detentions keep pace with the quota.
  Repeat arrivals (people returned before) are identified and, with probability
  ``returns.repeat_priority_share``, take places ahead of everyone else.

A detainee is returned once the processing delay has passed, unless a legal challenge
blocks the return (then released into the asylum process), and within the week's
remaining quota (the quota is a ceiling on returns executed in each policy week).
Detainees not returned within ``max_detention_days`` are released.

The legal route admits, each policy week, one applicant per person returned in the
week before (``matched`` mode) or a set number (``fixed``), first come first served.
Returnees are barred from it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.agents.migrant import Migrant
from sim.constants import EXPECTED_RETURNS_SMOOTHING, RAMP_UP_FILLED_SHARE, RECROSS_WINDOW_DAYS
from sim.environment import day_of
from sim.population import MigrantState

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ChannelModel
    from sim.params import Config
    from sim.timeline import Change

__all__ = ["ReturnsAuthority", "UNLIMITED"]

UNLIMITED = 10**9  # a quota without a ceiling, and the day of an event that never comes


def _positive(rate: float | None, quota: int | str) -> bool:
    """Whether a rate or quota returns anyone (a positive rate, a positive quota, or 'all')."""
    return (rate is not None and rate > 0) or (rate is None and (quota == "all" or int(quota) > 0))


class ReturnsAuthority(mesa.Agent):
    """UK Home Office (with French acceptance) running returns and the legal route."""

    def __init__(self, model: ChannelModel) -> None:
        super().__init__(model)
        self.eligible_this_week = 0           # eligible arrivals (people) since the policy week began
        self.eligible_since_start = 0         # eligible arrivals (people) since the policy started
        self.returned_since_start = 0         # returns under the quota (people) since the policy started
        self.week_started_day: int | None = None
        self.remaining_this_week = 0
        self.returned_this_week = 0
        self.returned_last_week = 0
        self.returns_ewma: float | None = None  # smoothed returns per week (people), once returns run
        self.weeks_quota_filled = 0
        self.legal_allowance = 0
        self.admitted_this_week = 0           # legal admissions (agents) since the policy week began
        self.cost_gbp = 0.0
        # returns to France, one entry per return: its day, and whether the person arrived in the
        # UK again within RECROSS_WINDOW_DAYS
        self.return_days: list[int] = []
        self.recrossed: list[bool] = []
        self._policy_in_scenario = any(
            _positive(c.returns.return_rate, c.returns.quota_per_week)
            for c in (model.config, *(ch.config for ch in model.changes.values())))
        self.configure(model.config)

    def configure(self, cfg: Config, change: Change | None = None) -> None:
        """Take the policy from ``cfg``: at the start, and when a timeline ``change`` puts a new
        configuration in force (a new quota applies to what is left of the current week; the legal
        route's allowance is set at the start of each policy week). A change of the quota or rate
        while the policy is announced or running is announced that day."""
        model = self.model
        r = cfg.returns
        announced_before = change is not None and model.day >= min(self.announce_day, self.start_day)
        before = (self.return_rate, self.quota_per_week) if change is not None else None
        self.return_rate = r.return_rate      # the policy as a rate (the weekly quota follows eligible arrivals)
        if change is None or change.touches("returns.quota_per_week"):
            self.quota_per_week: int = UNLIMITED if r.quota_per_week == "all" else int(r.quota_per_week)
            if change is not None and self.week_started_day is not None:
                left = self._quota_in_agents() - self.returned_this_week
                self.remaining_this_week = UNLIMITED if self.quota_per_week >= UNLIMITED else max(0, left)
        if (change is not None and change.touches("legal_route") and self.week_started_day is not None
                and self.legal_route_open):   # a new capacity applies to what is left of the week
            self.legal_allowance = max(0, self.weekly_legal_capacity(cfg) // model.people_per_agent
                                       - self.admitted_this_week)
        self.start_day = day_of(model.start_date, r.start_date, UNLIMITED)
        self.legal_start_day = day_of(model.start_date, cfg.legal_route.start_date, UNLIMITED)
        self.group_covered = np.array([g.covered_by_returns for g in cfg.groups])
        self.bilateral_day = np.array([day_of(model.start_date, g.bilateral_returns_from, UNLIMITED)
                                       for g in cfg.groups])
        self.bilateral_prob = np.array([g.bilateral_return_prob for g in cfg.groups])
        self.announce_day = (UNLIMITED if r.announce_date is None or not self.has_policy
                             else day_of(model.start_date, r.announce_date, UNLIMITED))
        schedule = self._announcement_schedule(cfg)
        if change is not None:   # what is past stays past; a new quota or rate is announced today
            schedule = {d: a for d, a in schedule.items() if d >= model.day}
            policy_change = before != (self.return_rate, self.quota_per_week)
            today = schedule.setdefault(model.day, [])
            if (policy_change and change.announce and r.announce_date is not None and announced_before
                    and not any(kind == "quota" for _, kind in today)):
                today.append((np.flatnonzero(self._quota_groups(model.day)), "quota"))
        self._announcements = schedule

    def __repr__(self) -> str:
        quota = "all" if self.quota_per_week >= UNLIMITED else self.quota_per_week
        return (f"ReturnsAuthority(quota_per_week={quota}, start_day={self.start_day}, "
                f"returned_last_week={self.returned_last_week}, cost_gbp={self.cost_gbp:.0f})")

    # -- state of the policy ------------------------------------------------------------
    @property
    def has_policy(self) -> bool:
        """Whether the scenario has a returns policy: a positive quota, 'all', or a positive rate, now
        or in any entry of its timeline (a quota of 0 for a while is the policy with no returns)."""
        return self._policy_in_scenario or _positive(self.return_rate, self.quota_per_week)

    @property
    def policy_active(self) -> bool:
        return self.has_policy and self.model.day >= self.start_day

    @property
    def legal_route_open(self) -> bool:
        lr = self.model.config.legal_route
        return lr.mode != "off" and self.model.day >= self.legal_start_day

    def weekly_legal_capacity(self, cfg: Config | None = None) -> int:
        """People the legal route admits in the coming policy week."""
        lr = (cfg or self.model.config).legal_route
        if not self.legal_route_open:
            return 0
        if lr.mode == "fixed":
            return lr.capacity_per_week
        return int(round(lr.ratio * self.returned_last_week * self.model.people_per_agent))

    @property
    def day_of_policy_week(self) -> int:
        """0 on the policy's start day and every seventh day from it (weeks are counted from it)."""
        return (self.model.day - self.start_day) % 7

    def covered_arrivals_per_week(self) -> float:
        """Weekly arrivals (people) of the groups the quota covers, as the news carries them."""
        return 7.0 * self.model.news.recent_arrivals(np.flatnonzero(self.group_covered)) * self.model.people_per_agent

    def expected_returns_per_week(self) -> float:
        """Returns a week the public expects (people): recent returns once the policy runs,
        before that what the quota can take of eligible arrivals (after legal challenges)."""
        if self.returns_ewma is not None:
            return self.returns_ewma
        cfg = self.model.config
        eligible = (self.covered_arrivals_per_week() * cfg.migrants.adult_share
                    * (1.0 - cfg.returns.challenge_block_share))
        if self.return_rate is not None:
            return self.return_rate * self.covered_arrivals_per_week() * cfg.migrants.adult_share
        return float(min(self.quota_per_week, eligible)) if self.quota_per_week > 0 else 0.0

    def public_return_probability(self) -> float:
        """Return probability of a covered arrival since the policy started, as the public can count
        it: returns under the quota over covered arrivals (eligible adults over the adult share);
        0 before any return."""
        adults = self.model.config.migrants.adult_share
        covered = self.eligible_since_start / adults if adults > 0 else 0.0
        return min(1.0, self.returned_since_start / covered) if covered > 0 and self.returned_since_start else 0.0

    def announced_return_probability(self) -> float:
        """The return probability an announcement of the quota states for a covered arrival:
        the share of eligible (adult) arrivals the quota can take, times the adult share,
        less those a legal challenge would shield."""
        cfg = self.model.config
        q = self.quota_per_week
        eligible = self.covered_arrivals_per_week() * cfg.migrants.adult_share
        if self.return_rate is not None:   # a stated rate of returns per eligible (adult) arrival
            return self.return_rate * cfg.migrants.adult_share
        share = 1.0 if q >= UNLIMITED else min(1.0, q / max(eligible, 1.0))
        return share * cfg.migrants.adult_share * (1 - cfg.returns.challenge_block_share)

    def returns_home(self, groups: np.ndarray) -> np.ndarray:
        """Whether a return of a person of each group (today) leads to the country of origin: a
        bilateral agreement is in force for the group. Otherwise a return leads to France."""
        return ((self.model.day >= self.bilateral_day) & (self.bilateral_prob > 0))[groups]   # by group, then by person

    def repeat_return_belief(self, groups: np.ndarray, adult: np.ndarray) -> np.ndarray:
        """The return probability a person expects on a repeat arrival after a return to France,
        once the quota is announced or running: identified repeat arrivals are returned with
        priority (``repeat_priority_share``; their claim was already found inadmissible, so no
        legal challenge blocks it); 0 otherwise."""
        cfg = self.model.config.returns
        if (self.model.day < min(self.announce_day, self.start_day) or not self.has_policy
                or not self.model.config.mechanisms.returnee_rules):
            return np.zeros(groups.size)
        return np.where(self.group_covered[groups] & adult, cfg.repeat_priority_share, 0.0)

    def recross_share(self, last_day: int) -> float:
        """Share of the returns to France made at least :data:`RECROSS_WINDOW_DAYS` before
        ``last_day`` whose person arrived in the UK again within that window (NaN if none)."""
        days = np.asarray(self.return_days)
        done = days <= last_day - RECROSS_WINDOW_DAYS
        return float(np.asarray(self.recrossed)[done].mean()) if done.any() else math.nan

    # -- announcements ------------------------------------------------------------------
    def _quota_groups(self, day: int) -> np.ndarray:
        """Groups the quota covers on ``day``: groups whose bilateral agreement is then in force are
        returned home under it, not by the quota."""
        return self.group_covered & ~((day >= self.bilateral_day) & (self.bilateral_prob > 0))

    def _announcement_schedule(self, cfg: Config) -> dict[int, list[tuple[np.ndarray, str]]]:
        """Days of public announcements: the quota (covered groups) and each bilateral deal."""
        model = self.model
        sched: dict[int, list[tuple[np.ndarray, str]]] = {}
        r = cfg.returns
        if self.has_policy and r.announce_date is not None:
            day = day_of(model.start_date, r.announce_date, UNLIMITED)
            sched.setdefault(day, []).append((np.flatnonzero(self._quota_groups(day)), "quota"))
        for i, g in enumerate(cfg.groups):
            if g.bilateral_returns_from is not None and g.bilateral_return_prob > 0:
                day = day_of(model.start_date, g.bilateral_returns_from, UNLIMITED)
                sched.setdefault(day, []).append((np.array([i]), "bilateral"))
        return sched

    def announcements(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Today's announcements: (groups, announced return probability of each group)."""
        out = []
        for groups, kind in self._announcements.get(self.model.day, ()):
            if kind == "bilateral":
                prob = self.bilateral_prob[groups]
            else:
                prob = np.full(groups.size, self.announced_return_probability())
            out.append((groups, prob))
        return out

    def legal_route_outlook(self) -> tuple[float, float]:
        """What a would-be applicant expects: (admission probability, days of waiting).

        Places expected over the longest wait (``max_applicant_wait_days``) against the
        queue of applicants already waiting, first come first served.
        """
        if not self.legal_route_open:
            return 0.0, 0.0
        lr = self.model.config.legal_route
        if lr.mode == "fixed":
            per_week = float(lr.capacity_per_week)
        else:
            per_week = lr.ratio * self.expected_returns_per_week()
        if per_week <= 0:
            return 0.0, 0.0
        queue = (self.model.pop.n_applicants + 1) * self.model.people_per_agent
        max_wait = float(lr.max_applicant_wait_days)
        prob = min(1.0, per_week * max_wait / 7.0 / queue)
        return prob, min(max_wait, 7.0 * queue / per_week)

    # -- daily ------------------------------------------------------------------------
    def step(self) -> None:
        """Detain today's arrivals, carry out due returns, admit by the legal route.

        Safe to call more than once a day: a policy week starts once, only arrivals still
        in the asylum process can be detained, and returns stay within the week's quota.
        """
        model = self.model
        if self.day_of_policy_week == 0 and self.week_started_day != model.day:
            self.start_week()
        self._detain(model.arrived_today)
        self._return_due()
        self._admit_legal()

    def start_week(self) -> None:
        """A new policy week: smooth the returns the public expects, count a filled quota,
        apply the ramp-up rule, and set the week's quota and legal-route allowance."""
        model = self.model
        self.week_started_day = model.day
        rp = model.config.returns.ramp_up
        if self.model.day > self.start_day:
            self.returned_last_week = self.returned_this_week
            last = self.returned_last_week * model.people_per_agent
            if self.returns_ewma is None:
                if last > 0 or model.day >= self.start_day + 7 + model.config.returns.processing_delay_days:
                    self.returns_ewma = float(last)
            else:
                self.returns_ewma += EXPECTED_RETURNS_SMOOTHING * (last - self.returns_ewma)
            if self.quota_per_week < UNLIMITED and self.returned_this_week * model.people_per_agent >= self.quota_per_week:
                self.weeks_quota_filled += 1
            week_no = (model.day - self.start_day) // 7
            if rp.enabled and week_no > 0 and week_no % rp.every_weeks == 0:
                # "start small, increase if it works": raise the quota when it was used up
                # in at least half the weeks since the last review
                if self.weeks_quota_filled >= RAMP_UP_FILLED_SHARE * rp.every_weeks:
                    self.quota_per_week = min(rp.max_quota_per_week, self.quota_per_week + rp.step)
                    model.today["quota_changes"] += 1
                self.weeks_quota_filled = 0
        if self.return_rate is not None:
            # the policy as a rate: this week's quota is the rate times last week's eligible arrivals
            # (before the first policy week, what the news expects of them)
            eligible = (self.eligible_this_week if model.day > self.start_day
                        else self.covered_arrivals_per_week() * model.config.migrants.adult_share)
            self.quota_per_week = int(round(self.return_rate * eligible))
        self.eligible_this_week = 0
        self.returned_this_week = 0
        self.admitted_this_week = 0
        self.remaining_this_week = self._quota_in_agents()
        self.legal_allowance = self.weekly_legal_capacity() // model.people_per_agent  # in agents

    def _quota_due_in_agents(self, due_day: int) -> int:
        """The weekly quota (agents) in force on ``due_day``, when today's detainees become due: today's,
        unless the scenario's timeline changes it before then (the authority detains for the quota it
        will have; without a timeline, today's quota)."""
        quota = self.quota_per_week
        for day, change in self.model.changes.items():
            if self.model.day < day <= due_day and change.touches("returns.quota_per_week"):
                q = change.config.returns.quota_per_week
                quota = UNLIMITED if q == "all" else int(q)
        if quota >= UNLIMITED:
            return UNLIMITED
        return int(quota // self.model.people_per_agent)

    def _quota_in_agents(self) -> int:
        if self.quota_per_week >= UNLIMITED:
            return UNLIMITED
        return int(self.quota_per_week // self.model.people_per_agent)

    def _detain(self, arrivals: np.ndarray) -> None:
        model = self.model
        if arrivals.size == 0:
            return
        pop, rng, day = model.pop, model.rngs.returns, model.day
        arrivals = arrivals[pop.state[arrivals] == int(MigrantState.IN_UK)]
        if arrivals.size == 0:
            return
        self._note_repeat_arrivals(arrivals)
        grp = pop.group[arrivals]
        bilateral = (day >= self.bilateral_day[grp]) & (rng.random(arrivals.size) < self.bilateral_prob[grp])
        if bilateral.any():
            b = arrivals[bilateral]
            pop.bilateral[b] = True
            pop.blocked[b] = False
            pop.move(b, MigrantState.DETAINED, day)
            model.news.record_detentions(pop.group[b])
        # eligible for the quota: adults of covered groups not returned under a bilateral agreement
        cand = arrivals[~bilateral & pop.adult[arrivals] & self.group_covered[grp]]
        model.today["eligible_arrivals"] += cand.size * model.people_per_agent
        self.eligible_this_week += cand.size * model.people_per_agent
        if self.policy_active:
            self.eligible_since_start += cand.size * model.people_per_agent
        if not self.policy_active or cand.size == 0:
            return
        cfg = model.config.returns
        if self.quota_per_week >= UNLIMITED:
            room = cand.size
        else:
            held = pop.n_quota_detained
            weeks_held = math.ceil((cfg.processing_delay_days + 1) / 7)
            # enough to fill the quota once legal challenges have released their share (no gross-up when
            # challenges block everyone: then no detainee can be returned anyway)
            places = self._quota_due_in_agents(day + cfg.processing_delay_days) * weeks_held
            unblocked = 1.0 - cfg.challenge_block_share
            room = max(0, math.ceil(places / unblocked if unblocked > 0 else places) - held)
        if room <= 0:
            return
        # identified repeat arrivals first (with the priority share), then a random choice of the rest
        repeat = pop.times_returned[cand] > 0
        first = repeat & (rng.random(cand.size) < cfg.repeat_priority_share) & model.config.mechanisms.returnee_rules
        take = cand[first][:room]
        rest, left = cand[~first], room - take.size
        if left > 0 and rest.size:
            take = np.concatenate([take, rest if rest.size <= left else rng.choice(rest, size=left, replace=False)])
        if take.size == 0:
            return
        pop.bilateral[take] = False
        unblockable = (pop.times_returned[take] > 0) & model.config.mechanisms.returnee_rules
        pop.blocked[take] = (rng.random(take.size) < cfg.challenge_block_share) & ~unblockable
        pop.move(take, MigrantState.DETAINED, day)
        model.news.record_detentions(pop.group[take[~pop.blocked[take]]])

    def _return_due(self) -> None:
        model = self.model
        cfg = model.config.returns
        pop, day = model.pop, model.day
        det = pop.where(MigrantState.DETAINED)
        if det.size == 0:
            return
        waited = day - pop.since[det]
        due = waited >= cfg.processing_delay_days
        # bilateral returns are outside the quota
        bil = det[due & pop.bilateral[det]]
        # quota detainees: legal challenges release, then the week's quota bounds returns
        quota_due = det[due & ~pop.bilateral[det]]
        released = quota_due[pop.blocked[quota_due]]
        ready = quota_due[~pop.blocked[quota_due]]
        ready = ready[np.argsort(pop.since[ready], kind="stable")]
        n_ret = min(ready.size, self.remaining_this_week) if self.policy_active else 0
        go, stay = ready[:n_ret], ready[n_ret:]
        overdue = stay[(day - pop.since[stay]) >= cfg.max_detention_days]
        released = np.concatenate([released, overdue])
        if released.size:
            pop.move(released, MigrantState.IN_UK, day, keep_since=True)
            model.today["released_from_detention"] += released.size * model.people_per_agent
        if go.size:
            self.remaining_this_week -= go.size
            self.returned_this_week += go.size
            self.returned_since_start += go.size * model.people_per_agent
            self._send_back(go, bilateral=False)
            self.cost_gbp += go.size * model.people_per_agent * cfg.cost_per_return_gbp
            model.today["policy_cost_gbp"] += go.size * model.people_per_agent * cfg.cost_per_return_gbp
        if bil.size:
            self._send_back(bil, bilateral=True)

    def _note_repeat_arrivals(self, arrivals: np.ndarray) -> None:
        """Today's arrivals who were returned to France within the re-crossing window."""
        pop, day = self.model.pop, self.model.day
        again = arrivals[(pop.times_returned[arrivals] > 0) & (pop.return_event[arrivals] >= 0)]
        again = again[day - pop.returned_day[again] <= RECROSS_WINDOW_DAYS]
        for event in pop.return_event[again].tolist():
            self.recrossed[event] = True
        pop.return_event[again] = -1       # one re-crossing per return
        self.model.today["recrossings_6m"] += again.size * self.model.people_per_agent

    def _send_back(self, rows: np.ndarray, bilateral: bool) -> None:
        """Carry out returns. Under a bilateral agreement people go home and their journey is over
        (``RETURNED_HOME``). Under the quota they are back at the French coast (``RETURNED``),
        barred from the legal route, knowing they were returned (a strong update of their belief),
        with claiming asylum in France as an outside option, and deciding again from the next day."""
        model = self.model
        pop = model.pop
        pop.times_returned[rows] += 1
        pop.gang[rows] = -1
        model.today["returns_bilateral" if bilateral else "returns"] += rows.size * model.people_per_agent
        if bilateral:
            pop.move(rows, MigrantState.RETURNED_HOME, model.day)
            pop.bilateral[rows] = False
            return
        mp = model.config.migrants
        if model.config.mechanisms.returnee_rules:
            Migrant.learn_returned(pop, rows, mp.returnee_belief_weight)
            # after a return to France, claiming asylum there is an outside option
            pop.outside[rows] = np.maximum(pop.outside[rows], mp.france_asylum_value_gbp)
        else:
            Migrant.learn_returned(pop, rows, 1.0)
        pop.returned_day[rows] = model.day
        n = len(self.return_days)
        pop.return_event[rows] = np.arange(n, n + rows.size)
        self.return_days.extend([model.day] * rows.size)
        self.recrossed.extend([False] * rows.size)
        pop.next_review[rows] = model.day + 1
        pop.move(rows, MigrantState.RETURNED, model.day)
        pop.bilateral[rows] = False   # after the move, so the quota's detention count stays exact

    def _admit_legal(self) -> None:
        model = self.model
        if self.legal_allowance <= 0 or not self.legal_route_open:
            return
        pop = model.pop
        apps = np.flatnonzero(pop.applicant[: pop.size] & (pop.state[: pop.size] == int(MigrantState.WAITING)))
        if apps.size == 0:
            return
        # spread the week's allowance over its days; first come, first served
        days_left = 7 - self.day_of_policy_week
        n = min(apps.size, math.ceil(self.legal_allowance / days_left))
        chosen = apps[np.argsort(pop.since[apps], kind="stable")[:n]]
        self.legal_allowance -= n
        self.admitted_this_week += n
        pop.move(chosen, MigrantState.LEGAL_ADMITTED, model.day)
        model.today["legal_admissions"] += n * model.people_per_agent
        model.today["legal_route_cost_gbp"] += n * model.people_per_agent * model.config.legal_route.cost_per_admission_gbp

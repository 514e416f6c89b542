"""The environment: calendar, weather, inflow to the coast, sea risk, and public news.

* **Weather.** Whether the sea allows crossings is a two-state Markov chain per day
  whose stationary probability is the month's crossable share ``pi_m`` and whose
  persistence is ``rho``: ``P(c_t=1 | c_{t-1}=1) = pi + rho (1 - pi)`` and
  ``P(c_t=1 | c_{t-1}=0) = pi (1 - rho)``. A crossable day is marginal (riskier) with a
  fixed probability.
* **Potential inflow.** People who consider the Channel route each day (upstream, in
  northern France or before) are Poisson with mean ``base * season_m * year_y * share_g``
  for each group ``g``. Whether each one sets out for the coast or takes the outside
  option at once is that person's decision (:meth:`sim.agents.Migrant.consider_route`),
  the same comparison of expected values they make at the coast.
* **Sea risk.** Expected deaths per person crossing are
  ``d0/1000 * (people per boat / reference)^e``, times a factor on marginal days; part
  of the risk comes as rare incidents that kill a share of a boat (heavy tail).
* **News.** Group-level rates of success, return and death, smoothed with the news lag,
  are what contacts pass on as rumours (see :meth:`sim.agents.Migrant.hear_contacts`);
  policy announcements set a public prior for the return probability.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from numba import njit

from sim.params import Config

__all__ = ["Weather", "Inflow", "News", "day_of", "sea_death_probability", "sea_deaths"]


def day_of(start: dt.date, date: dt.date | None, never: int) -> int:
    """Model day number of a calendar date (day 0 is ``start``); ``never`` for no date."""
    return never if date is None else (date - start).days


class Weather:
    """Crossable days by month, with persistence."""

    def __init__(self, config: Config, rng: np.random.Generator) -> None:
        self.rng = rng
        self.crossable = False
        self.marginal = False
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Take the weather's parameters from ``config`` (at the start and on a timeline change)."""
        self.pi = np.asarray(config.environment.crossable_share_by_month, dtype=float)
        self.rho = config.environment.weather_persistence
        self.marginal_share = config.environment.marginal_weather_share

    def step(self, month: int) -> None:
        pi = self.pi[month - 1]
        p = pi + self.rho * (1.0 - pi) if self.crossable else pi * (1.0 - self.rho)
        u = self.rng.random(2)
        self.crossable = bool(u[0] < p)
        self.marginal = bool(self.crossable and u[1] < self.marginal_share)


class Inflow:
    """People considering the Channel route each day, by group (before their own decision)."""

    def __init__(self, config: Config, rng: np.random.Generator,
                 future_rng: np.random.Generator | None = None) -> None:
        self.rng = rng
        self.people_per_agent = config.people_per_agent
        self.configure(config)
        self.future = self.future_path(config, future_rng)   # drawn once, at the start

    def configure(self, config: Config) -> None:
        """Take the inflow's parameters from ``config`` (at the start and on a timeline change; the
        future path drawn at the start is kept)."""
        env = config.environment
        season = np.asarray(env.inflow_seasonality, dtype=float)
        self.season = season / season.mean()
        self.base = env.base_inflow_per_day
        self.years = dict(env.inflow_year_multiplier)
        self.last_year = max(self.years) if self.years else None
        self.shares = np.array([g.share for g in config.groups])
        self._mean: tuple[tuple[int, int], np.ndarray] | None = None   # the mean of step(), for its (year, month)

    def future_path(self, config: Config, rng: np.random.Generator | None) -> dict[int, float]:
        """The factor on the last listed year's multiplier for each later year of the run: 1 with
        ``future_inflow: fixed``; with ``ensemble``, a random walk in logs from ``rng`` (one step a
        year, mean ``future_inflow_log_drift``, standard deviation ``future_inflow_log_sd``)."""
        env = config.environment
        if self.last_year is None or config.end_date.year <= self.last_year:
            return {}
        years = range(self.last_year + 1, config.end_date.year + 1)
        if env.future_inflow == "fixed" or rng is None:
            return dict.fromkeys(years, 1.0)
        steps = env.future_inflow_log_drift + env.future_inflow_log_sd * rng.standard_normal(len(years))
        return {y: float(f) for y, f in zip(years, np.exp(np.cumsum(steps)), strict=True)}

    def year_multiplier(self, year: int) -> float:
        """The year's multiplier: listed; after the last listed year, that year's times the future
        path's factor (:meth:`future_path`); any other year 1."""
        if year in self.years:
            return self.years[year]
        if self.last_year is not None and year > self.last_year:
            return self.years[self.last_year] * self.future.get(year, 1.0)
        return 1.0

    def step(self, date: dt.date) -> np.ndarray:
        """Agents considering the route today, by group (Poisson; the mean is the same all month)."""
        month = (date.year, date.month)
        if self._mean is None or self._mean[0] != month:
            self._mean = (month, self.base * self.season[date.month - 1] * self.year_multiplier(date.year)
                          * self.shares / self.people_per_agent)
        return self.rng.poisson(self._mean[1])


def sea_death_probability(people_per_boat: np.ndarray, marginal: bool, config: Config) -> np.ndarray:
    """Expected share of a boat's passengers who die, by boat."""
    env = config.environment
    base = env.sea_deaths_per_1000 / 1000.0
    load = np.asarray(people_per_boat, dtype=float) / env.reference_people_per_boat
    factor = env.marginal_weather_risk_factor if marginal else 1.0
    return np.clip(base * load ** env.overcrowding_elasticity * factor, 0.0, 1.0)


def sea_deaths(loads_people: np.ndarray, boat_of: np.ndarray, prevented: np.ndarray, marginal: bool,
               config: Config, rng: np.random.Generator) -> np.ndarray:
    """Which passengers die (ODD 7.7): individual risk, plus rare incidents that kill a share
    of a boat (the heavy tail). Passengers of prevented boats never went to sea."""
    env = config.environment
    risk = sea_death_probability(loads_people, marginal, config)
    share, kill = env.incident_share, env.incident_kill_share
    p_incident = np.minimum(1.0, share * risk / kill) if kill > 0 else np.zeros(risk.size)
    incident = rng.random(risk.size) < p_incident
    p_die = np.where(incident, kill, (1 - share) * risk)
    p_die = np.where(prevented, 0.0, p_die)
    return rng.random(boat_of.size) < p_die[boat_of]


class News:
    """Group-level outcome rates as rumours carry them, and public announcements."""

    def __init__(self, config: Config) -> None:
        n_groups = len(config.groups)
        b = config.beliefs
        # smoothed numerators and denominators (people)
        self._launched = 1.0
        self._succeeded = b.prior_success_prob
        self._died = b.prior_death_risk
        self._arrived = np.full(n_groups, 1.0)
        self._returned = np.zeros(n_groups)
        # today's tallies by group (agents): arrivals in the UK, detentions for return made public
        self.arrived_today = np.zeros(n_groups)
        self.detained_today = np.zeros(n_groups)
        self.announced = np.zeros(n_groups)      # announced return probability by group
        self.announce_day = np.full(n_groups, -10**9)
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Take the news's parameters from ``config`` (at the start and on a timeline change)."""
        b = config.beliefs
        self.lam = 1.0 - math.exp(-1.0 / b.news_lag_days)
        self.weight = b.announcement_weight
        self.half_life = b.memory_half_life_days
        self.prior_strength = b.prior_strength

    @property
    def success_rate(self) -> float:
        return self._succeeded / self._launched

    @property
    def death_rate(self) -> float:
        return self._died / self._launched

    @property
    def return_rate(self) -> np.ndarray:
        """Share of recent arrivals of each group detained for return (news of it)."""
        return np.minimum(self._returned / self._arrived, 1.0)

    def recent_arrivals(self, groups: np.ndarray) -> float:
        """Smoothed daily arrivals (agents) of ``groups`` as the news carries them."""
        return float(self._arrived[groups].sum())

    def begin_day(self) -> None:
        self.arrived_today[:] = 0
        self.detained_today[:] = 0

    def record_arrivals(self, groups: np.ndarray) -> None:
        """Arrivals in the UK (one per entry of ``groups``, their groups) make the news."""
        self.arrived_today += np.bincount(groups, minlength=self.arrived_today.size)

    def record_detentions(self, groups: np.ndarray) -> None:
        """Arrivals detained for return (and not shielded by a challenge) make the news."""
        self.detained_today += np.bincount(groups, minlength=self.detained_today.size)

    def step(self, launched: float, succeeded: float, died: float) -> None:
        """End of day: fold the day's outcomes (agents) into the smoothed rates."""
        lam = self.lam
        self._launched += lam * (launched - self._launched)
        self._succeeded += lam * (succeeded - self._succeeded)
        self._died += lam * (died - self._died)
        self._arrived += lam * (self.arrived_today - self._arrived)
        self._returned += lam * (self.detained_today - self._returned)
        # keep the denominators away from zero so the rates stay defined
        self._launched = max(self._launched, 1e-6)
        self._arrived = np.maximum(self._arrived, 1e-6)

    def announce(self, day: int, groups: np.ndarray, prob: np.ndarray) -> None:
        self.announced[groups] = prob
        self.announce_day[groups] = day

    def public_return_belief(self, day: int) -> np.ndarray:
        """Return probability a newcomer of each group believes (prior mean)."""
        return _public_return_belief(day, float(self.weight), float(self.half_life), float(self.prior_strength),
                                     self.announce_day, self.announced, self.return_rate)


@njit(cache=True)
def _public_return_belief(day, weight, half_life, strength, announce_day, announced, return_rate):  # noqa: ANN001, ANN202, PLR0913
    """:meth:`News.public_return_belief`, group by group: the news's ``return_rate`` (kept in
    [0, 1]) with the weight of ``strength`` observations, and the announced
    probability with ``weight`` observations halving every ``half_life`` days since it was made
    (none before any announcement)."""
    out = np.empty(announced.size)
    for g in range(announced.size):
        fade = weight * 0.5 ** ((day - announce_day[g]) / half_life) if announce_day[g] > -10**8 else 0.0
        rate = min(max(return_rate[g], 0.0), 1.0)
        out[g] = (strength * rate + fade * announced[g]) / (strength + fade)
    return out

"""French border patrols: one agent per coastal sector.

Capacity (patrol units) is funded by France and by the UK's payment (with an optional
additional payment from a date, :func:`uk_payment_on`); it is spread over
sectors and redeployed weekly toward where launches were seen
(:func:`redeploy_patrols`). The probability of preventing a launch in a sector has
diminishing returns in capacity per launch (DESIGN 6b)::

    p = p_max * (1 - exp(-k * capacity_s / launches_s))

lowered by the gangs' taxi-boat tactic. Where at-sea interception is allowed, a boat
that got afloat is intercepted with a further probability.

Patrols act within the day's crossings (:meth:`BorderPatrol.prevent`) and in the weekly
redeployment; they have no daily step of their own (Mesa's ``Agent.step`` does nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import mesa
import numpy as np
from numba import njit

from sim.agents import decision
from sim.constants import PATROL_SHARE_FLOOR

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import ChannelModel
    from sim.params import PatrolParams

__all__ = ["BorderPatrol", "least_patrolled_sector", "prevent_launches", "prevention_probability",
           "redeploy_patrols", "total_capacity_units", "uk_payment_on", "at_sea_interception_on"]


def total_capacity_units(base_units: float, uk_payment_gbp_per_year: float, gbp_per_unit_per_year: float) -> float:
    """Patrol units on the coast: France's own plus what the UK's payment funds."""
    return base_units + uk_payment_gbp_per_year / gbp_per_unit_per_year


def uk_payment_on(pp: PatrolParams, date: dt.date) -> float:
    """The UK's payment to France in force on ``date`` (GBP/year): the standing payment, plus the
    additional payment from its start date."""
    extra = pp.extra_payment_gbp_per_year if date >= pp.extra_payment_start_date else 0.0
    return pp.uk_payment_gbp_per_year + extra


def at_sea_interception_on(pp: PatrolParams, date: dt.date) -> bool:
    """Whether boats can be intercepted once afloat on ``date``."""
    start = pp.at_sea_interception_start_date
    return pp.at_sea_interception and (start is None or date >= start)


def prevention_probability(capacity: float | np.ndarray, launches: float | np.ndarray, p_max: float,
                           k: float) -> np.ndarray:
    """Probability that a beach launch is prevented, with diminishing returns."""
    launches = np.maximum(np.asarray(launches, dtype=float), 1.0)
    return p_max * (1.0 - np.exp(-k * np.asarray(capacity, dtype=float) / launches))


class BorderPatrol(mesa.Agent):
    """French police and gendarmerie units in one coastal sector."""

    def __init__(self, model: ChannelModel, sector: int, share: float) -> None:
        super().__init__(model)
        self.sector = sector
        self.share = share                # share of the total capacity deployed here
        self.launches_seen_week = 0
        self.prevented_week = 0

    def __repr__(self) -> str:
        return f"BorderPatrol(sector={self.sector}, share={self.share:.3f}, units={self.capacity_units:.1f})"

    @property
    def capacity_units(self) -> float:
        return self.share * self.model.patrol_capacity_units

    def prevent(self, taxi: np.ndarray, rng: np.random.Generator | decision.Stream) -> np.ndarray:
        """Decide for each of today's launches in this sector (``taxi``: whether each is a taxi boat)
        whether it is prevented (:func:`_prevent`)."""
        return prevent_launches([self], np.full(taxi.size, self.sector), taxi, rng)

    def redeploy(self, launch_share: float, rate: float) -> None:
        """Move capacity toward where launches were seen last week, and start a new week."""
        self.share = (1.0 - rate) * self.share + rate * launch_share
        self.new_week()

    def new_week(self) -> None:
        self.launches_seen_week = 0
        self.prevented_week = 0


def prevent_launches(patrols: Sequence[BorderPatrol], sectors: np.ndarray, taxi: np.ndarray,
                     rng: np.random.Generator | decision.Stream) -> np.ndarray:
    """Which of today's boats (launching from ``sectors``; ``taxi``: taxi boats) each sector's patrol
    prevents: sector by sector, in the order of ``patrols`` (:func:`_prevent`); each patrol counts
    the launches it saw and prevented this week."""
    if not patrols:
        return np.zeros(sectors.size, dtype=bool)
    model = patrols[0].model
    pp = model.config.patrols
    at_sea = at_sea_interception_on(pp, model.date)
    sector_of = np.array([p.sector for p in patrols], dtype=np.int64)
    # each patrol's capacity, and the prevention probability at its sector's launches today
    capacity = np.array([p.capacity_units for p in patrols])
    seen = np.count_nonzero(sectors[None, :] == sector_of[:, None], axis=1)
    p = prevention_probability(capacity, seen, pp.prevention_max, pp.prevention_k)
    prevented, stopped = _prevent(decision.stream(rng), np.asarray(sectors, dtype=np.int64), np.asarray(taxi, dtype=bool),
                                  sector_of, p, float(pp.taxi_boat_effect), at_sea, capacity > 0,
                                  float(pp.at_sea_interception_prob))
    for patrol, n, k in zip(patrols, seen.tolist(), stopped.tolist(), strict=True):
        patrol.launches_seen_week += n
        patrol.prevented_week += k
    return prevented


@njit(cache=True)
def _prevent(stream, sectors, taxi, sector_of, p, taxi_effect, at_sea, afloat_patrolled, at_sea_prob):  # noqa: ANN001, ANN202, PLR0913
    """The launches each patrol ``k`` (sector ``sector_of[k]``, in order) prevents: each of its
    sector's launches (in order) at the beach with probability ``p[k]``, lowered by
    ``taxi_effect`` for a taxi boat; then, where at-sea interception is allowed and the sector
    patrolled (``afloat_patrolled[k]``), each with a further ``at_sea_prob``. Draws
    ``rng.random(n)`` for the beach, then again at sea, patrol by patrol, as NumPy would.
    Returns which launches were prevented, and how many each patrol prevented."""
    prevented = np.zeros(sectors.size, dtype=np.bool_)
    stopped = np.zeros(sector_of.size, dtype=np.int64)
    rng = stream.rng
    for k in range(sector_of.size):
        here = np.nonzero(sectors == sector_of[k])[0]
        for b in here:
            p_each = p[k] * (1.0 - taxi_effect) if taxi[b] else p[k]
            prevented[b] = rng.random() < p_each
        if at_sea and afloat_patrolled[k]:
            for b in here:
                if rng.random() < at_sea_prob:
                    prevented[b] = True
        for b in here:
            stopped[k] += prevented[b]
    return prevented, stopped


def least_patrolled_sector(patrols: Sequence[BorderPatrol]) -> int:
    return int(np.argmin([p.share for p in patrols]))


def redeploy_patrols(patrols: Sequence[BorderPatrol], rate: float) -> None:
    """Weekly redeployment (ODD 7.10): each sector's share moves by ``rate`` toward its share
    of last week's launches, no sector falls below ``PATROL_SHARE_FLOOR``, and the shares
    sum to one. Without launches, shares stay and the week's counters restart."""
    seen = np.array([p.launches_seen_week for p in patrols], dtype=float)
    if seen.sum() <= 0:
        for p in patrols:
            p.new_week()
        return
    for p, s in zip(patrols, seen / seen.sum(), strict=True):
        p.redeploy(float(s), rate)
    shares = np.maximum([p.share for p in patrols], PATROL_SHARE_FLOOR)
    shares /= shares.sum()
    for p, s in zip(patrols, shares, strict=True):
        p.share = float(s)

"""Which Mesa agent stands for which person (ODD 3.3).

Every person in the model has a real Mesa :class:`~sim.agents.Migrant` agent, a view on
the person's row of the :class:`~sim.population.Population`. Creating and removing one
Mesa agent per journey would cost Mesa's registration and removal for each of the tens of
thousands of people a year who pass through, so agents are reused: an agent whose person
left the model keeps who that person was and how their story ended, waits in a pool, and
is later bound to a newcomer.

The table is a few integer arrays indexed by the agent's *slot* (its fixed place in the
table) and by the person's row, so that binding a day's newcomers and releasing the day's
departures are array operations; only agents created (when the pool is empty) or removed
(when the pool is larger than it needs to be) are touched one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:  # pragma: no cover
    from sim.agents.migrant import Migrant
    from sim.population import Population

__all__ = ["ENDED_AGENTS_KEPT", "AgentTable"]

#: Agents of people whose story ended that are kept for reuse (at least; as many as the most
#: people the model has held at once, if more). Not a rule of the model: only how much of Mesa's
#: registration is saved.
ENDED_AGENTS_KEPT = 2000


def _grown(arr: np.ndarray, size: int, fill: int) -> np.ndarray:
    out = np.full(max(size, 2 * arr.size), fill, dtype=arr.dtype)
    out[: arr.size] = arr
    return out


class AgentTable:
    """The Mesa agents of a model's people.

    ``agents[slot]`` is the agent in ``slot`` (``None`` once removed from the model);
    ``row_of_slot[slot]`` the row of the person it stands for (-1: none, the agent is in the
    pool of ended agents or removed); ``slot_of_row[row]`` the agent of the person in
    ``row`` (-1: none yet). An ended agent keeps its person's id and final state
    (``person_of_slot``, ``state_of_slot``). Slots are never reused.
    """

    def __init__(self, make_agent: Callable[[int], Migrant], capacity: int) -> None:
        self.make_agent = make_agent          # called with a slot, returns a new agent
        self.agents: list[Migrant | None] = []
        self.row_of_slot = np.empty(0, dtype=np.int64)
        self.person_of_slot = np.empty(0, dtype=np.int64)
        self.state_of_slot = np.empty(0, dtype=np.int8)
        self.slot_of_row = np.full(capacity, -1, dtype=np.int64)
        self.pool = np.empty(0, dtype=np.int64)   # slots of ended agents awaiting reuse, oldest first
        self.peak_live = 0                        # the most people the model has held at once

    def bind(self, pop: Population) -> None:
        """At the end of a day: the agents of people whose story ended (``GONE`` states) keep that
        person's id and final state and join the pool, and their rows are released; people who
        entered the model that day are bound to pooled agents, oldest first, a new agent being
        created only when the pool is empty. The pool keeps at most ``ENDED_AGENTS_KEPT``
        agents, or as many as the most people the model has held at once if more (so the Mesa
        agents number at most twice that peak, and a population that swings between crossable
        spells, or falls and grows again, creates no new agents below its peak); beyond that the
        oldest are removed from the model."""
        if self.slot_of_row.size < pop.capacity:   # the population grew today
            self.slot_of_row = _grown(self.slot_of_row, pop.capacity, -1)
        born, gone = pop.take_changes()
        final = pop.state[gone]
        pop.release(gone)
        self.pool, unbound = _end_and_bind(born, gone, final, pop.state, pop.person_id, self.slot_of_row,
                                           self.row_of_slot, self.person_of_slot, self.state_of_slot, self.pool)
        if unbound.size:
            slots = self._create(unbound.size)
            self.row_of_slot[slots] = unbound
            self.slot_of_row[unbound] = slots
        self.peak_live = max(self.peak_live, pop.n_live)
        excess = self.pool.size - max(ENDED_AGENTS_KEPT, self.peak_live)
        if excess > 0:
            for slot in self.pool[:excess].tolist():
                self.agents[slot].remove()
                self.agents[slot] = None
            self.pool = self.pool[excess:]

    def _create(self, n: int) -> np.ndarray:
        first = len(self.agents)
        if first + n > self.row_of_slot.size:
            self.row_of_slot = _grown(self.row_of_slot, first + n, -1)
            self.person_of_slot = _grown(self.person_of_slot, first + n, -1)
            self.state_of_slot = _grown(self.state_of_slot, first + n, -1)
        self.agents.extend(self.make_agent(slot) for slot in range(first, first + n))
        return np.arange(first, first + n)

    # -- views -------------------------------------------------------------------------
    def agent_of_row(self) -> np.ndarray:
        """The agent of the person in each row (``None``: a free row, or a person added today)."""
        out = np.full(self.slot_of_row.size, None, dtype=object)
        bound = self.slot_of_row >= 0
        agents = np.empty(len(self.agents), dtype=object)
        agents[:] = self.agents
        out[bound] = agents[self.slot_of_row[bound]]
        return out

    def bound_agents(self, size: int) -> list[Migrant]:
        """The agents of everyone with a row below ``size``, in the order of their rows."""
        slots = self.slot_of_row[:size]
        return [self.agents[s] for s in slots[slots >= 0].tolist()]

    def ended_agents(self) -> list[Migrant]:
        """The agents in the pool of ended agents, oldest first."""
        return [self.agents[s] for s in self.pool.tolist()]

    def clear(self) -> None:
        self.agents = []
        self.pool = np.empty(0, dtype=np.int64)
        self.slot_of_row = np.empty(0, dtype=np.int64)


@njit(cache=True)
def _end_and_bind(born, gone, final, state, person_id, slot_of_row, row_of_slot, person_of_slot, state_of_slot,  # noqa: ANN001, ANN202, PLR0913
                  pool):
    """:meth:`AgentTable.bind` for the agents in the pool: the agents of the people ``gone`` (their
    final states ``final``; people born and gone today had no agent yet) keep who they were and
    join the end of ``pool``; the people ``born`` still in the model (``state >= 0``) take the
    pooled agents, oldest first. Returns the pool left and the people born who have no agent yet."""
    ended = np.empty(gone.size, dtype=np.int64)
    n_ended = 0
    for i in range(gone.size):
        r = gone[i]
        s = slot_of_row[r]
        if s >= 0:
            person_of_slot[s] = person_id[r]
            state_of_slot[s] = final[i]
            row_of_slot[s] = -1
            ended[n_ended] = s
            n_ended += 1
        slot_of_row[r] = -1
    pool = np.concatenate((pool, ended[:n_ended]))
    unbound = np.empty(born.size, dtype=np.int64)
    n_pooled = n_unbound = 0
    for r in born:
        if state[r] < 0:
            continue
        if n_pooled < pool.size:
            s = pool[n_pooled]
            n_pooled += 1
            row_of_slot[s] = r
            slot_of_row[r] = s
        else:
            unbound[n_unbound] = r
            n_unbound += 1
    return pool[n_pooled:].copy(), unbound[:n_unbound]

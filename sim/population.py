"""The population: every person in the model, their state, and the conservation of people.

A person is a row of a struct of NumPy arrays (:class:`Population`), so that the rules
can act on everyone whose situation changed at once; a Mesa :class:`~sim.agents.Migrant`
agent is a view on one row. This module owns the states and the bookkeeping that makes
people add up:

* :meth:`Population.add` creates people in a state and counts them in ``cum_inflow``;
* :meth:`Population.move` is the only way a person changes state, and keeps
  ``state_counts`` (people by state, including those whose rows were released) exact;
* people whose story in the model has ended (``GONE`` states) are collected as they
  arrive there; :meth:`Population.release` frees their rows for reuse.

So at every moment ``state_counts.sum() == cum_inflow``, and the counts of live rows
by state (:meth:`Population.counts`, a full scan) equal ``state_counts`` for the states
whose rows are kept. Derived quantities (legal-route applicants, quota detainees) are
computed from the rows, never counted separately, so they cannot drift.

Dependency order of the core: ``population`` <- ``environment`` <- ``agents`` <- ``model``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numpy as np
from numba import literal_unroll, njit

__all__ = ["AT_COAST", "DISPLACED", "GONE", "N_STATES", "TERMINAL", "MigrantState", "Population"]


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
    DETERRED = 10       # chose the outside option before setting out for the coast (displacement)
    RETURNED_HOME = 11  # returned to the country of origin under a bilateral agreement

    @property
    def column(self) -> str:
        """Name of this state's stock column in the time series."""
        return "n_" + self.name.lower()


N_STATES = len(MigrantState)
#: States nobody leaves.
TERMINAL = (MigrantState.LEFT_ROUTE, MigrantState.LEGAL_ADMITTED, MigrantState.DEAD, MigrantState.DETERRED,
            MigrantState.RETURNED_HOME)
#: States of people displaced to other EU states: deterred upstream, or left the coast.
DISPLACED = (MigrantState.DETERRED, MigrantState.LEFT_ROUTE)
#: States after which a person's row is released at the end of the day (counts are kept):
#: the terminal states, and arrivals in the UK once the authority has made the day's
#: detention decisions (nothing else happens to them in the model).
GONE = (*TERMINAL, MigrantState.IN_UK)
#: States of people physically at the French coast.
AT_COAST = (MigrantState.WAITING, MigrantState.BOOKED, MigrantState.RETURNED)

#: The per-person fields (name -> dtype).
FIELDS: dict[str, Any] = {
    # attributes drawn when a person sets out (sim.agents.migrant.Migrant.draw_attributes)
    "group": np.int32, "wealth": np.float64, "valuation": np.float64, "outside": np.float64,
    "risk_aversion": np.float64, "patience": np.float64, "adult": bool, "legal_eligible": bool,
    # beliefs: Beta counts of crossing success (s_a, s_b) and of return after arrival (r_a, r_b)
    "s_a": np.float64, "s_b": np.float64, "r_a": np.float64, "r_b": np.float64, "death_belief": np.float64,
    # history and schedule (model days)
    "attempts": np.int32, "times_returned": np.int32, "due_day": np.int32, "next_review": np.int32,
    "belief_day": np.int32, "decided_day": np.int32, "since": np.int32, "booked_day": np.int32,
    "days_bad": np.float64,
    # relations and flags
    "gang": np.int32, "voucher": np.int32, "applicant": bool, "blocked": bool, "bilateral": bool,
    # the last return to France: its day and its number among the run's returns (for re-crossings)
    "returned_day": np.int32, "return_event": np.int64,
    # a stable number for each person (rows are reused, ids are not)
    "person_id": np.int64,
}
#: Fields a new person starts with at zero (:meth:`Population.add` sets ``gang`` to -1, the
#: days and the id; the attributes and beliefs are drawn by the caller).
ZEROED = ("attempts", "times_returned", "booked_day", "days_bad", "applicant", "blocked", "bilateral", "returned_day")
#: Lookups by state value (-1, a free row, indexes the last entry): is it GONE, is it AT_COAST?
_IS_GONE = np.zeros(N_STATES + 1, dtype=bool)
_IS_GONE[list(GONE)] = True
_IS_AT_COAST = np.zeros(N_STATES + 1, dtype=bool)
_IS_AT_COAST[list(AT_COAST)] = True
#: Marks in ``Population.changed``: the row was added, the row moved to a GONE state.
_BORN, _ENTERED_GONE = 1, 2
_IS_MARKED = np.array([False, True, True, True])   # by mark


class Population:
    """Struct of arrays for every person currently in the model.

    Rows are reused: when a person's row is released it goes on a free list, lowest
    first (deterministic). ``state`` is -1 for a free row; ``size`` is the high-water
    mark of rows in use, so ``state[:size]`` covers everyone.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.size = 0
        self.capacity = capacity
        self.state = np.full(capacity, -1, dtype=np.int8)
        for name, dtype in FIELDS.items():
            setattr(self, name, np.zeros(capacity, dtype=dtype))
        self.state_counts = np.zeros(N_STATES, dtype=np.int64)  # people by state, rows kept or released
        self.cum_inflow = 0                                      # people who ever entered
        self.is_free = np.zeros(capacity, dtype=bool)            # released rows, reused lowest first
        self.n_free = 0
        #: rows changed since take_changes(): BORN (added), ENTERED_GONE (moved to a GONE state)
        self.changed = np.zeros(capacity, dtype=np.int8)
        #: views on the arrays kept by their users (sim.agents.decision.people), dropped when the arrays grow
        self.views: dict[Any, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        """A copy (``copy.deepcopy`` of a model, pickling) leaves the views behind: they are views
        on these very arrays, rebuilt on use."""
        return {**self.__dict__, "views": {}}

    # -- rows ----------------------------------------------------------------------------
    def _grow(self, need: int) -> None:
        new = max(self.capacity * 2, need)
        for name in ("state", "is_free", "changed", *FIELDS):
            old = getattr(self, name)
            arr = np.full(new, -1, dtype=old.dtype) if name == "state" else np.zeros(new, dtype=old.dtype)
            arr[: self.capacity] = old
            setattr(self, name, arr)
        self.capacity = new
        self.views.clear()

    def _allocate(self, n: int) -> np.ndarray:
        """``n`` free rows (reused ones first, lowest first for determinism)."""
        reuse = min(n, self.n_free)
        rows = self.is_free[: self.size].nonzero()[0][:reuse] if reuse else np.empty(0, dtype=np.int64)
        self.is_free[rows] = False
        self.n_free -= reuse
        fresh = n - reuse
        if self.size + fresh > self.capacity:
            self._grow(self.size + fresh)
        if fresh:
            rows = np.concatenate([rows, np.arange(self.size, self.size + fresh)])
            self.size += fresh
        return rows

    def add(self, n: int, state: MigrantState, day: int) -> np.ndarray:
        """Create ``n`` people in ``state`` on ``day``; returns their rows.

        Counters and flags start at zero, with no gang, and every schedule day at ``day``;
        the caller must then draw every other field (the attributes and prior beliefs).
        """
        rows = self._allocate(n)
        arrays = self.views.get(_start_rows)
        if arrays is None:
            arrays = self.views[_start_rows] = (
                tuple(getattr(self, f) for f in ZEROED), (self.gang, self.voucher, self.return_event),
                (self.since, self.next_review, self.belief_day, self.decided_day), self.person_id, self.state)
        _start_rows(rows, day, self.cum_inflow, int(state), self.changed, *arrays)
        self.state_counts[state] += n
        self.cum_inflow += n
        return rows

    def move(self, rows: np.ndarray, new: MigrantState, day: int, keep_since: bool = False) -> None:
        """Move people to a new state: the only way a state changes.

        Leaving any state ends a legal-route application. ``since`` (the day the person
        entered the state) is set to ``day`` unless ``keep_since``.
        """
        if rows.size == 0:
            return
        _move(rows, int(new), day, keep_since, self.state, self.state_counts, self.applicant, self.since,
              self.changed, _ENTERED_GONE if _IS_GONE[new] else 0)

    def take_changes(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows added since the last call, and rows that moved to a ``GONE`` state since and are
        in one now, each once and in the order of rows; the marks are then cleared. A row can be
        in both."""
        return _take_changes(self.changed, self.state, self.size, _IS_GONE)

    def release(self, rows: np.ndarray) -> None:
        """Free the rows of people whose story in the model has ended (their counts stay)."""
        self.state[rows] = -1
        self.is_free[rows] = True
        self.n_free += rows.size

    # -- views -------------------------------------------------------------------------
    def where(self, *states: MigrantState) -> np.ndarray:
        """Rows of people in any of ``states``."""
        st = self.state[: self.size]
        # int(): NumPy compares an array with a plain int several times faster than with an IntEnum
        mask = st == int(states[0])
        for s in states[1:]:
            mask |= st == int(s)
        return mask.nonzero()[0]   # np.flatnonzero, without its overhead

    @property
    def n_live(self) -> int:
        """People with a row (everyone whose story in the model has not ended)."""
        return self.size - self.n_free

    def counts(self) -> np.ndarray:
        """People in live rows by state (a full scan; :attr:`state_counts` is kept incrementally)."""
        st = self.state[: self.size]
        return np.bincount(st[st >= 0], minlength=N_STATES)

    @property
    def n_applicants(self) -> int:
        """People waiting at the coast with a legal-route application."""
        return int(np.count_nonzero(self.applicant[: self.size]))

    @property
    def n_quota_detained(self) -> int:
        """People detained for return under the quota (not under a bilateral agreement)."""
        n = self.size
        return int(np.count_nonzero((self.state[:n] == int(MigrantState.DETAINED)) & ~self.bilateral[:n]))

    def mean_return_belief_at_coast(self) -> float:
        """Mean believed return probability of the people at the coast (NaN if nobody is there)."""
        return _mean_return_belief(self.state, self.r_a, self.r_b, self.size, _IS_AT_COAST)

    def believed(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Believed probabilities of success and of return (Beta means) of ``rows``."""
        s_a, r_a = self.s_a[rows], self.r_a[rows]
        return s_a / (s_a + self.s_b[rows]), r_a / (r_a + self.r_b[rows])


@njit(cache=True)
def _mean_return_belief(state, r_a, r_b, size, at_coast):  # noqa: ANN001, ANN202
    rows = _rows_where(at_coast, state, size)
    total = 0.0
    for p in rows:
        total += r_a[p] / (r_a[p] + r_b[p])
    return total / rows.size if rows.size else np.nan


@njit(cache=True)
def _rows_where(flag, values, size):  # noqa: ANN001, ANN202
    """The rows below ``size`` whose ``flag[values[row]]`` is set, ascending (without a branch per
    row: the rows sought are scattered, and a mispredicted branch costs more than a store)."""
    rows = np.empty(size, dtype=np.int64)
    n = 0
    for r in range(size):
        rows[n] = r
        n += flag[values[r]]
    return rows[:n]


@njit(cache=True)
def _start_rows(rows, day, first_id, new, changed, zeroed, no_one, days, person_id, state):  # noqa: ANN001, ANN202, PLR0913
    """A new person's row (:meth:`Population.add`): ``zeroed`` fields 0, ``no_one`` fields (gang,
    voucher, return event) -1, the schedule ``days`` at ``day``, the next ids, the state ``new``,
    marked as added."""
    for arr in literal_unroll(zeroed):
        for r in rows:
            arr[r] = 0
    for arr in literal_unroll(no_one):
        for r in rows:
            arr[r] = -1
    for arr in literal_unroll(days):
        for r in rows:
            arr[r] = day
    for i in range(rows.size):
        person_id[rows[i]] = first_id + i
        state[rows[i]] = new
        changed[rows[i]] |= _BORN


@njit(cache=True)
def _move(rows, new, day, keep_since, state, state_counts, applicant, since, changed, mark):  # noqa: ANN001, ANN202, PLR0913
    for r in rows:
        state_counts[state[r]] -= 1
        state_counts[new] += 1
        state[r] = new
        applicant[r] = False
        changed[r] |= mark
        if not keep_since:
            since[r] = day


@njit(cache=True)
def _take_changes(changed, state, size, is_gone):  # noqa: ANN001, ANN202
    """:meth:`Population.take_changes`: over the rows marked, clearing the marks."""
    marked = _rows_where(_IS_MARKED, changed, size)
    born = np.empty(marked.size, dtype=np.int64)
    gone = np.empty(marked.size, dtype=np.int64)
    n_born = n_gone = 0
    for r in marked:
        c = changed[r]
        if c & _BORN:
            born[n_born] = r
            n_born += 1
        if c & _ENTERED_GONE and is_gone[state[r]]:
            gone[n_gone] = r
            n_gone += 1
        changed[r] = 0
    return born[:n_born], gone[:n_gone]

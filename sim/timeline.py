"""Policies as dated timelines (ODD 7.15; issue 12).

A scenario's ``timeline`` lists dated changes of any field but the run's set-up::

    timeline:
      - date: 2025-09-18
        set: {returns.quota_per_week: 5}
        note: first return under the agreement
      - date: 2025-10-20
        set: {returns.quota_per_week: 12, legal_route.capacity_per_week: 10}

On each date, at the start of the day, the fields take their new values and every part of
the model that keeps something derived from them refreshes it (the returns authority's quota
and dates, the patrols' capacity, the gangs' parameters, the inflow, the weather, the news).
A change of the quota (or of the return rate) while the policy is announced or running is
announced again, so beliefs follow the timeline. What a person drew on setting out
(valuations, risk attitudes) stays with that person: a change of those distributions applies
to newcomers.

:func:`timeline_changes` checks a timeline and turns it into the configuration in force from
each date: every entry is applied to the one before and validated as a whole scenario, so a
value out of range, an unknown field or an inconsistent combination is one error naming the
entry. Fields that set the run up (its dates, the people per agent, the groups and sectors,
the initial market) cannot change during it.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sim.params import Config

__all__ = ["FIXED_FIELDS", "Change", "timeline_changes", "change_dates"]

#: Fields (dotted prefixes) that set the run up and cannot change during it, with why.
FIXED_FIELDS: dict[str, str] = {
    "name": "the scenario's name",
    "description": "the scenario's description",
    "start_date": "the run's first day",
    "end_date": "the run's last day",
    "people_per_agent": "the scale of the population",
    "timeline": "the timeline itself",
    "groups": "the groups are set up at the start (change a group's field, e.g. groups.0.valuation_multiplier)",
    "patrols.sectors": "the coastal sectors are set up at the start",
    "gangs.initial_gangs": "the initial market is set up at the start",
    "gangs.initial_cash_gbp": "the initial market is set up at the start",
    "environment.initial_waiting": "the people waiting on the first day",
    "environment.future_inflow": "the future inflow path is drawn at the start",
    "environment.future_inflow_log_sd": "the future inflow path is drawn at the start",
    "environment.future_inflow_log_drift": "the future inflow path is drawn at the start",
    "environment.future_inflow_seed": "the future inflow path is drawn at the start",
    "verdict.window_weeks": "the verdict's window is set up at the start",
}


@dataclass(frozen=True)
class Change:
    """One timeline entry as the model applies it."""

    index: int                  # position in the scenario's timeline
    date: dt.date               # day it takes effect
    day: int                    # model day number (0 = start_date)
    fields: tuple[str, ...]     # dotted names it sets
    config: Config              # the whole configuration in force from that day (without a timeline)
    note: str = ""
    announce: bool = True       # a change of the returns quota or rate is announced

    def touches(self, prefix: str) -> bool:
        """Whether the change sets ``prefix`` or a field under it (``"returns"``, ``"returns.quota_per_week"``)."""
        return any(f == prefix or f.startswith(prefix + ".") for f in self.fields)


def _fixed(field: str) -> str | None:
    for prefix, why in FIXED_FIELDS.items():
        if field == prefix or field.startswith(prefix + "."):
            if prefix == "groups" and field.count(".") >= 2:   # groups.<i>.<field>: a group's parameter may change
                return None
            return why
    return None


def timeline_changes(config: Config) -> list[Change]:
    """The configuration in force from each date of ``config.timeline``, validated.

    Raises
    ------
    sim.config.ConfigError
        Naming the entry (its index and date) and the field: a field that cannot change during
        a run, an unknown field, a value of the wrong type or out of range, or a combination
        that is inconsistent with the rest of the scenario.
    """
    from sim.config import (  # sim.config builds on params
        ConfigError,
        format_validation_errors,
        set_dotted,
    )

    if not config.timeline:
        return []
    raw = config.model_dump(mode="python")
    raw["timeline"] = []
    out: list[Change] = []
    for i, entry in enumerate(config.timeline):
        where = f"timeline entry {i} ({entry.date})"
        for field in entry.set:
            why = _fixed(field)
            if why is not None:
                raise ConfigError(f"{where}: field '{field}' cannot change during a run ({why})")
            try:
                set_dotted(raw, field, copy.deepcopy(entry.set[field]))
            except ConfigError as exc:
                raise ConfigError(f"{where}: {str(exc).replace('override ', 'field ', 1)}") from None
        try:
            cfg = Config.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_errors(exc, where)) from None
        out.append(Change(i, entry.date, (entry.date - config.start_date).days, tuple(entry.set), cfg, entry.note,
                          entry.announce))
        raw = cfg.model_dump(mode="python")
    return out


def change_dates(config: Config) -> list[dt.date]:
    """The dates of the timeline's changes (for marking them on figures)."""
    return [e.date for e in config.timeline]


def describe(changes: list[Change]) -> list[dict[str, Any]]:
    """The changes as plain rows (date, fields and their new values, note), e.g. for a table."""
    rows = []
    for c in changes:
        values = {}
        for f in c.fields:
            obj: Any = c.config
            for part in f.split("."):
                obj = obj[int(part)] if isinstance(obj, list) else getattr(obj, part)
            values[f] = obj
        rows.append({"date": c.date, "set": values, "announce": c.announce, "note": c.note})
    return rows

"""The "one in, one out" pilot as it was actually run, as a timeline (issue 12).

``sim/data/pilot_returns_realised.csv`` holds the cumulative returns to France and legal
admissions at the dates they were published (copied from the project's shared data with its
sources; ``confidence`` is high, medium or low; the June 2026 figure has a single source and
is ``low``). :func:`realised_timeline` turns them into the timeline of the shipped scenario
``pilot_as_realised``:

- **Between published dates** the cumulative figure is interpolated linearly in time and
  rounded down to whole people (so it passes exactly through every published figure and no
  return happens before the first one was reported).
- **Returns.** The weekly quota of each policy week (weeks from the policy start,
  2025-08-04) is what that interpolated curve adds over the week. Within the week of a
  published date the quota is first what the curve adds up to that date, and from the next
  day the week's whole amount, so the cumulative returns can pass through the published
  figure on its day. After the last published date the last interval's weekly pace carries on.
- **Legal admissions** follow the cumulative admissions the same way, as the fixed weekly
  capacity of the legal route (at least 1 a week from the week of the first admission,
  because a fixed route needs a positive capacity).
- **Announcements.** The July 2025 announcement of the pilot (about 50 returns a week were
  reported) is kept as in ``pilot_50``; the realised pace was not announced, so the entries
  do not announce (``announce: false``): people learn it from the news of detentions and
  returns.

``python -m sim.calibration.realised`` prints the scenario file; a test checks that the
shipped ``sim/configs/pilot_as_realised.yaml`` is what it prints. ``--check`` runs the scenario
on four seeds and sets its cumulative returns and admissions beside every published figure.
"""

from __future__ import annotations

import datetime as dt
import math
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["POLICY_START", "load_realised", "cumulative_target", "realised_timeline", "scenario_yaml"]

#: First day of the agreement (its policy weeks are counted from it).
POLICY_START = dt.date(2025, 8, 4)


def load_realised() -> pd.DataFrame:
    """The published cumulative returns and legal admissions (date, cumulative_returned,
    cumulative_admitted_legal, confidence, source), by date."""
    df = pd.read_csv(files("sim") / "data" / "pilot_returns_realised.csv", parse_dates=["date"])
    df["date"] = df["date"].dt.date
    return df.sort_values("date").reset_index(drop=True)


def cumulative_target(points: pd.DataFrame, column: str, day: dt.date) -> int:
    """The cumulative figure at the end of ``day``: linear between published dates, rounded down;
    after the last date, the last interval's pace carries on; 0 before the first."""
    d = [(p - POLICY_START).days for p in points["date"]]
    v = points[column].to_numpy(dtype=float)
    x = (day - POLICY_START).days
    if x <= d[-1]:
        return int(math.floor(np.interp(x, d, v) + 1e-9))
    pace = (v[-1] - v[-2]) / (d[-1] - d[-2])
    return int(math.floor(v[-1] + pace * (x - d[-1]) + 1e-9))


def realised_timeline(points: pd.DataFrame | None = None, until: dt.date = dt.date(2027, 12, 31)
                      ) -> list[dict[str, Any]]:
    """The timeline entries (date, set, note) of ``pilot_as_realised`` up to ``until`` (module text)."""
    pts = load_realised() if points is None else points
    published = set(pts["date"])
    day = dt.timedelta(days=1)
    entries: dict[dt.date, dict[str, Any]] = {}
    last: dict[str, Any] = {"returns.quota_per_week": None, "legal_route.capacity_per_week": None}
    ws = POLICY_START
    while ws <= until:
        we = min(ws + 6 * day, until)
        base_r = cumulative_target(pts, "cumulative_returned", ws - day)
        base_a = cumulative_target(pts, "cumulative_admitted_legal", ws - day)
        # segments of the week, split the day after each published date inside it: the week's
        # quota and legal capacity are first what the curves add up to the date, then the whole week
        cuts = [ws] + [p + day for p in sorted(published) if ws <= p < we]
        for k, start in enumerate(cuts):
            end = (cuts[k + 1] - day) if k + 1 < len(cuts) else we
            quota = cumulative_target(pts, "cumulative_returned", end) - base_r
            cap = cumulative_target(pts, "cumulative_admitted_legal", end) - base_a
            open_ = base_a > 0 or cumulative_target(pts, "cumulative_admitted_legal", we) > 0
            changes: dict[str, Any] = {}
            if quota != last["returns.quota_per_week"]:
                changes["returns.quota_per_week"] = quota
                last["returns.quota_per_week"] = quota
            if open_ and max(cap, 1) != last["legal_route.capacity_per_week"]:
                changes["legal_route.capacity_per_week"] = max(cap, 1)
                last["legal_route.capacity_per_week"] = max(cap, 1)
            if changes:
                entries.setdefault(start, {}).update(changes)
        ws += 7 * day
    out = []
    for date in sorted(entries):
        note = ""
        if date - day in published:
            row = pts[pts["date"] == date - day].iloc[0]
            note = (f"published {row['date']}: {row['cumulative_returned']} returned, "
                    f"{row['cumulative_admitted_legal']} admitted ({row['confidence']})")
        out.append({"date": date, "set": entries[date], "announce": False, **({"note": note} if note else {})})
    return out


def scenario_yaml() -> str:
    """The shipped scenario file ``sim/configs/pilot_as_realised.yaml``."""
    import yaml

    pts = load_realised()
    entries = realised_timeline(pts)
    first_legal = next(e["date"] for e in entries if "legal_route.capacity_per_week" in e["set"])
    head = f"""# The "one in, one out" pilot as it was actually run (issue 12): returns to France and legal
# admissions follow the cumulative figures published during the pilot
# (sim/data/pilot_returns_realised.csv, with their sources; the {pts['date'].iloc[-1]} figure has a
# single source and is flagged 'low'). Generated by `python -m sim.calibration.realised`; do not
# edit by hand (a test checks it).
#
# How the timeline is made (sim/calibration/realised.py):
# - between published dates the cumulative figure is interpolated linearly and rounded down, so it
#   passes through every published figure; each policy week's quota is what that curve adds over
#   the week (within the week of a published date: first up to that date, then the whole week);
#   after the last published date its interval's pace carries on;
# - legal admissions follow the published cumulative admissions the same way, as the route's fixed
#   weekly capacity (at least 1 a week from the week of the first admission);
# - the July 2025 announcement (about 50 returns a week reported) is kept as in pilot_50; the
#   realised pace was not announced (announce: false): people learn it from the news.
"""
    body = {
        "extends": "pilot_50.yaml",
        "name": "pilot_as_realised",
        "description": "One in, one out as it was run: returns and legal admissions at the published pace "
                       "(about 4 a week to mid-October 2025, 11-19 a week to March 2026).",
        "returns": {"quota_per_week": 50, "start_date": POLICY_START, "announce_date": dt.date(2025, 7, 10)},
        "legal_route": {"mode": "fixed", "capacity_per_week": 1, "start_date": first_legal},
        "timeline": entries,
    }
    class _NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return head + yaml.dump(body, Dumper=_NoAliases, sort_keys=False, default_flow_style=None, width=110)


def check_against_published(replications: int = 4, seed: int = 1) -> pd.DataFrame:
    """Run ``pilot_as_realised`` to the last published date and set its cumulative returns and legal
    admissions (mean, min and max over ``replications`` seeds) beside every published figure."""
    import sim
    from sim.config import load_config

    pts = load_realised()
    cfg = load_config("pilot_as_realised", overrides={"end_date": max(pts["date"]).isoformat()})
    runs = [sim.run(cfg, seed=np.random.SeedSequence(seed, spawn_key=(k,))).timeseries for k in range(replications)]
    rows = []
    for _, p in pts.iterrows():
        d = pd.Timestamp(p["date"])
        ret = np.array([ts["returns"].loc[:d].sum() for ts in runs])
        adm = np.array([ts["legal_admissions"].loc[:d].sum() for ts in runs])
        rows.append({"date": p["date"], "confidence": p["confidence"], "published_returned": p["cumulative_returned"],
                     "simulated_returned": ret.mean(), "returned_min": ret.min(), "returned_max": ret.max(),
                     "published_admitted": p["cumulative_admitted_legal"], "simulated_admitted": adm.mean()})
    return pd.DataFrame(rows)


if __name__ == "__main__":  # pragma: no cover - writes the scenario file, or checks it
    import sys

    if sys.argv[1:] == ["--check"]:
        t = check_against_published()
        print("date        confidence  returned: published  simulated [min-max]   admitted: published  simulated")
        for r in t.itertuples(index=False):
            print(f"{r.date}  {r.confidence:<10} {r.published_returned:>19,} {r.simulated_returned:>10,.0f} "
                  f"[{r.returned_min:,.0f}-{r.returned_max:,.0f}] {r.published_admitted:>20,} {r.simulated_admitted:>10,.0f}")
    else:
        print(scenario_yaml(), end="")

"""Attribution of a change between two periods to its causes, by Shapley values over the levers.

``channel-sim attribute SCENARIO --from 2024-08:2025-07 --to 2025-08:2026-07`` asks how much
of the change in arrivals (and paid crossings, deaths) between two periods each lever caused.

**The levers** (players) are the sections of the configuration in which the scenario differs
from a reference scenario (default ``baseline``: no policy) or which its timeline changes
(for ``pilot_as_realised``: ``returns`` and ``legal_route``), plus ``inflow``: the exogenous
level of people considering the route. A lever *off* means: for a section, the reference's
values and none of the timeline's entries for it; for the inflow, every month of the later
period keeps the inflow multiplier the same month had a year earlier (a timeline entry sets
it), so the level of demand does not change between the periods.

**The value** of a set ``S`` of levers on, for one parameter draw and replication, is the change
``v(S) = X(to) - X(from)`` of a measure ``X`` summed over each period in the run with only the
levers in ``S`` on. All sets run on the same seed (common random numbers), so a difference
between sets is the levers' effect, not noise. The **Shapley value** of lever ``i`` is its
marginal effect ``v(S + i) - v(S)`` averaged over the orders in which the levers could be
switched on (:func:`shapley`); the values add up to ``v(all) - v(none)``, exactly, on every
draw and replication. ``v(none)`` - the change with no lever on - is reported as its own
term (the market's own dynamics and the calendar), so the terms add up to the scenario's change.

The predictive interval of each term is over posterior draws (``--posterior``) and replications.
The cost is ``2^levers x draws x replications`` runs (8 sets for three levers).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError, load_config
from sim.params import Config

__all__ = ["AttributionResult", "Period", "attribute", "format_attribution", "levers_of", "parse_period",
           "plot_attribution", "shapley", "subset_config"]

MEASURES = ("arrivals_uk", "paid_crossings", "deaths")
LABELS = {"arrivals_uk": "arrivals", "paid_crossings": "paid crossings", "deaths": "deaths at sea"}
INFLOW = "inflow"
BASE_TERM = "no lever (dynamics, calendar)"
#: Top-level fields that are not levers (names, dates, scale, the timeline itself).
NOT_LEVERS = ("name", "description", "start_date", "end_date", "people_per_agent", "timeline")


@dataclass(frozen=True)
class Period:
    """A period of whole days, first and last day inclusive."""

    start: dt.date
    end: dt.date

    def __str__(self) -> str:
        return f"{self.start} to {self.end}"


def parse_period(text: str, flag: str = "--from") -> Period:
    """``YYYY-MM:YYYY-MM`` (whole months) or ``YYYY-MM-DD:YYYY-MM-DD``; a clear error otherwise."""
    a, sep, b = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        start = dt.date.fromisoformat(a + "-01") if len(a) == 7 else dt.date.fromisoformat(a)
        if len(b) == 7:
            nxt = dt.date.fromisoformat(b + "-01") + dt.timedelta(days=32)
            end = nxt.replace(day=1) - dt.timedelta(days=1)
        else:
            end = dt.date.fromisoformat(b)
    except ValueError:
        raise ConfigError(f"{flag}: must be a period START:END, e.g. 2024-08:2025-07 or "
                          f"2024-08-01:2025-07-31, got {text!r}") from None
    if end < start:
        raise ConfigError(f"{flag}: the period ends ({end}) before it starts ({start})")
    return Period(start, end)


def shapley(value: Callable[[frozenset], float] | Mapping[frozenset, float], players: Sequence[str]) -> dict[str, float]:
    """Exact Shapley values of ``players`` for the set function ``value`` (a callable or a mapping
    from frozensets of players): ``phi_i = sum_S |S|!(n-|S|-1)!/n! [v(S+i) - v(S)]``."""
    v = value if callable(value) else value.__getitem__
    n = len(players)
    out = {}
    for i in players:
        others = [p for p in players if p != i]
        phi = 0.0
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in combinations(others, k):
                s = frozenset(s)
                phi += w * (v(s | {i}) - v(s))
        out[i] = phi
    return out


def levers_of(scenario: Config, reference: Config) -> list[str]:
    """The sections in which ``scenario`` differs from ``reference`` or which its timeline changes,
    in the configuration's order."""
    a, b = scenario.model_dump(mode="json"), reference.model_dump(mode="json")
    timed = {f.split(".")[0] for e in scenario.timeline for f in e.set}
    return [k for k in a if k not in NOT_LEVERS and (a[k] != b.get(k) or k in timed)]


def _inflow_held(cfg: Config, to: Period) -> list[dict[str, Any]]:
    """Timeline entries that give every month of ``to`` the inflow multiplier of the same month a
    year earlier (the inflow lever off)."""
    from sim.environment import Inflow

    inflow = Inflow(cfg, np.random.default_rng(0), None)   # the multipliers as the model reads them
    table = {y: inflow.year_multiplier(y) for y in range(to.start.year - 1, to.end.year + 1)}
    entries = []
    held = dict(cfg.environment.inflow_year_multiplier)
    for y in range(to.start.year, to.end.year + 1):
        held[y] = table[y - 1]
        entries.append({"date": max(to.start, dt.date(y, 1, 1)),
                        "set": {"environment.inflow_year_multiplier": dict(held)}, "announce": False})
    return entries


def subset_config(scenario: Config, reference: Config, on: frozenset, to: Period,
                  params: Mapping[str, Any] | None = None) -> Config:
    """The configuration with only the levers in ``on`` on (module text), and ``params`` (a posterior
    draw's dotted fields) applied to all."""
    from sim.config import set_dotted
    from sim.experiments.channel import coerce_value

    raw = scenario.model_dump(mode="python")
    ref = reference.model_dump(mode="python")
    levers = levers_of(scenario, reference)
    for lever in levers:
        if lever not in on:
            raw[lever] = copy.deepcopy(ref[lever])
    timeline = []
    for e in raw.get("timeline", []):
        kept = {f: v for f, v in e["set"].items() if f.split(".")[0] in on or f.split(".")[0] not in levers}
        if kept:
            timeline.append({**e, "set": kept})
    raw["timeline"] = []
    for k, v in (params or {}).items():   # a posterior draw: whole-number fields rounded as the engine does
        set_dotted(raw, k, coerce_value(k, v))
    base = Config.model_validate(raw)
    if INFLOW not in on:
        for entry in _inflow_held(base, to):
            same = [e for e in timeline if e["date"] == entry["date"]]
            if same:
                same[0]["set"] = {**same[0]["set"], **entry["set"]}
            else:
                timeline.append(entry)
        timeline.sort(key=lambda e: e["date"])
    raw["timeline"] = timeline
    return load_config(raw)


def _period_sums(task: dict[str, Any]) -> dict[str, Any]:
    """Run one configuration and sum each measure over both periods (a worker's task)."""
    import sim

    ss = np.random.SeedSequence(task["seed"], spawn_key=tuple(task["key"]))
    ts = sim.run(task["config"], seed=ss).timeseries
    out = {k: task[k] for k in ("set", "draw", "replication")}
    for m in MEASURES:
        for name, (a, b) in (("from", task["from"]), ("to", task["to"])):
            out[f"{m}:{name}"] = float(ts[m].loc[str(a):str(b)].sum())
    return out


@dataclass
class AttributionResult:
    """Runs, per-run Shapley values and their summary."""

    scenario: str
    levers: list[str]
    from_period: Period
    to_period: Period
    runs: pd.DataFrame        # one row per lever set, draw and replication: sums over each period
    values: pd.DataFrame      # one row per draw, replication and measure: each term and the total
    seconds: float

    def summary(self) -> pd.DataFrame:
        """Per measure and term: mean, 5% and 95% quantiles over draws and replications."""
        terms = [BASE_TERM, *self.levers, "total"]
        rows = []
        for m, g in self.values.groupby("measure", sort=False):
            for t in terms:
                x = g[t].to_numpy(dtype=float)
                rows.append({"measure": m, "term": t, "mean": x.mean(), "p05": np.quantile(x, 0.05),
                             "p95": np.quantile(x, 0.95), "n": x.size})
        return pd.DataFrame(rows)


def attribute(scenario: str | Config, from_period: Period, to_period: Period, *, reference: str = "baseline",
              posterior: str | Path | None = None, draws: int = 1, replications: int = 2, seed: int = 1,
              executor: str = "process", workers: int | None = None,
              overrides: Mapping[str, Any] | None = None) -> AttributionResult:
    """Shapley attribution of the change between two periods (module text)."""
    import time

    from sim.experiments.executors import use_executor

    if from_period.end >= to_period.start:
        raise ConfigError(f"--from: the earlier period must end ({from_period.end}) before the later one starts "
                          f"({to_period.start})")
    cfg = scenario if isinstance(scenario, Config) else load_config(scenario, overrides=dict(overrides or {}))
    if from_period.start < cfg.start_date:
        raise ConfigError(f"--from: the period starts ({from_period.start}) before the run ({cfg.start_date})")
    cfg = load_config(cfg.model_dump(mode="python"), overrides={"end_date": to_period.end.isoformat()})
    ref = load_config(reference, overrides={**dict(overrides or {}), "end_date": to_period.end.isoformat()})
    levers = [*levers_of(cfg, ref), INFLOW]
    if len(levers) > 6:
        raise ConfigError(f"{len(levers)} levers ({', '.join(levers)}) would need {2 ** len(levers)} runs per draw; "
                          "at most 6")
    if posterior is not None:
        from sim.experiments.predictive import posterior_draws

        params = posterior_draws(posterior, draws, seed).drop(columns="particle").to_dict("records")
    else:
        params = [{}] * draws
    sets = [frozenset(s) for k in range(len(levers) + 1) for s in combinations(levers, k)]
    tasks = []
    for d, p in enumerate(params):
        for si, s in enumerate(sets):
            conf = subset_config(cfg, ref, s, to_period, p).model_dump(mode="json")
            for r in range(replications):
                tasks.append({"config": conf, "seed": seed, "key": (d, r), "set": si, "draw": d, "replication": r,
                              "from": (from_period.start, from_period.end), "to": (to_period.start, to_period.end)})
    t0 = time.perf_counter()
    with use_executor(executor, workers) as ex:
        rows = list(ex.map_unordered(_period_sums, tasks))
    runs = pd.DataFrame(rows).sort_values(["draw", "replication", "set"]).reset_index(drop=True)
    runs.insert(0, "levers", [" + ".join(sorted(sets[i])) or "(none)" for i in runs["set"]])
    vals = []
    for (d, r), g in runs.groupby(["draw", "replication"]):
        by_set = g.set_index("set")
        for m in MEASURES:
            change = {sets[i]: by_set.loc[i, f"{m}:to"] - by_set.loc[i, f"{m}:from"] for i in range(len(sets))}
            phi = shapley(change, levers)
            vals.append({"draw": d, "replication": r, "measure": m, BASE_TERM: change[frozenset()], **phi,
                         "total": change[frozenset(levers)]})
    return AttributionResult(cfg.name, levers, from_period, to_period, runs, pd.DataFrame(vals),
                             time.perf_counter() - t0)


def format_attribution(res: AttributionResult) -> str:
    """The attribution table as printed by ``channel-sim attribute``."""
    s = res.summary()
    n = int(s["n"].iloc[0])
    lines = [f"Change from {res.from_period} to {res.to_period}, scenario {res.scenario}: Shapley values over "
             f"the levers ({len(res.runs)} runs; mean [90% interval] over {n} draws x replications)"]
    for m in MEASURES:
        lines.append(f"  {LABELS[m]}")
        for r in s[s["measure"] == m].itertuples(index=False):
            lines.append(f"    {r.term:<32} {r.mean:>10,.0f}  [{r.p05:,.0f}, {r.p95:,.0f}]")
    lines.append("  (the terms add up to the total on every draw; 'no lever' is the change with every lever off)")
    return "\n".join(lines)


def plot_attribution(res: AttributionResult) -> Any:
    """Bars: each term's mean with its 90% interval, one panel per measure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = res.summary()
    fig = Figure(figsize=(10, 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(MEASURES))
    for ax, m in zip(axes, MEASURES, strict=True):
        g = s[s["measure"] == m].reset_index(drop=True)
        y = np.arange(len(g))[::-1]
        colors = ["0.6" if t in (BASE_TERM, "total") else "C0" for t in g["term"]]
        ax.barh(y, g["mean"], color=colors)
        ax.errorbar(g["mean"], y, xerr=[g["mean"] - g["p05"], g["p95"] - g["mean"]], fmt="none", ecolor="k",
                    capsize=3, lw=1)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, g["term"] if ax is axes[0] else [""] * len(g))
        ax.set_title(LABELS[m])
        ax.xaxis.set_major_locator(__import__("matplotlib.ticker", fromlist=["MaxNLocator"]).MaxNLocator(4))
        ax.set_xlabel("change (people)")
    fig.suptitle(f"{res.scenario}: change from {res.from_period} to {res.to_period}, by lever (Shapley; 90% intervals)",
                 fontsize=9)
    fig.tight_layout()
    return fig

"""Using the model from other tools: Mesa's ``batch_run`` and the EMA workbench.

Mesa's ``batch_run``::

    import sim.interop
    df = sim.interop.batch_run(["baseline", "pilot_50"], seeds=range(5), years=1)   # one row per run

or Mesa itself, with the model class made for it (one Mesa step is the whole scenario, so
``max_steps`` cannot cut a run; the end-of-run row is the run summary; the model frees
Mesa's registries when it finishes)::

    import mesa
    rows = mesa.batch_run(sim.interop.RunModel, parameters={"config": ["pilot_50"], "rng": [1, 2]})

The EMA workbench (``pip install ema_workbench``)::

    from ema_workbench import Model, RealParameter, ScalarOutcome
    m = Model("channel", function=sim.interop.ema_model("pilot_50", years=1))
    m.uncertainties = [RealParameter("returns__quota_per_week", 0, 400)]
    m.outcomes = [ScalarOutcome("arrivals_uk_policy_period")]

See ``docs/interop.md``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim.config import load_config
from sim.metrics import summarize
from sim.model import ChannelModel, free_model
from sim.params import Config
from sim.simulate import end_after_years, run

__all__ = ["RunModel", "batch_run", "ema_model", "ema_name", "dotted_name", "mesa_seeds", "EMA_OUTCOMES"]

#: Summary fields an EMA model returns by default (any numeric or yes/no field of
#: :func:`sim.metrics.summarize` can be asked for).
EMA_OUTCOMES: tuple[str, ...] = (
    "arrivals_uk_policy_period",
    "returns",
    "deaths",
    "left_route",
    "mean_price_gbp",
    "market_profit_margin",
    "active_gangs_end",
    "business_model_broken",
)

#: Columns of Mesa's rows that are replaced by the summary (the model's arguments).
_MESA_KWARGS = ("config", "rng", "years")


def _seed_label(rng: Any) -> str:
    return str(rng.entropy if isinstance(rng, np.random.SeedSequence) else rng)


class RunModel(ChannelModel):
    """:class:`~sim.model.ChannelModel` for ``mesa.batch_run``: one Mesa step runs the whole scenario.

    Parameters
    ----------
    config
        Anything :func:`sim.load_config` accepts (a shipped scenario name, a path, a mapping,
        a :class:`~sim.params.Config`).
    rng
        The seed (an int or a ``numpy.random.SeedSequence``): the same as ``sim.run(config, seed=rng)``.
    years
        Simulate this many years from the start date instead of up to ``end_date``.

    After its one step the model is finished: ``summary`` holds the run summary
    (:func:`sim.metrics.summarize`), ``timeseries`` the daily series (unless
    ``keep_timeseries=False``), its data collector holds one row, the summary (totals, not
    the last day's flows), whatever ``max_steps`` and ``data_collection_period`` Mesa was
    given, and the model has left Mesa's registries (:func:`sim.model.free_model`), so that
    the finished model is garbage once ``batch_run`` drops it.
    """

    def __init__(self, config: Config | Any = None, *, rng: Any = None, years: float | None = None,
                 keep_timeseries: bool = True) -> None:
        cfg = config if isinstance(config, Config) else load_config(config)
        if years is not None:
            cfg = load_config(cfg, overrides={"end_date": end_after_years(cfg.start_date, years)})
        self.seed_label = _seed_label(rng)
        self.keep_timeseries = keep_timeseries
        self.summary: dict[str, Any] | None = None
        self.timeseries: pd.DataFrame | None = None
        super().__init__(cfg, rng=rng)

    def step(self) -> None:
        """Run the scenario to its end date, summarise it and free the model."""
        if self.summary is not None:
            return
        while self.running:
            super().step()
        self.finish()

    def run_model(self) -> None:  # noqa: D401 - Mesa's name
        """Run to the configured end date (one step)."""
        self.step()

    def finish(self) -> None:
        """Summarise the run, put the summary in the data collector and free the model."""
        cfg = self.config
        ts = self.datacollector.get_model_vars_dataframe()
        ts.index = pd.date_range(cfg.start_date, periods=len(ts), freq="D", name="date")
        summary = summarize(ts, cfg, self.initial_gangs, None, economics=self.end_state())
        summary["seed"] = self.seed_label
        self.summary = summary
        self.timeseries = ts if self.keep_timeseries else None
        collector = mesa.DataCollector()
        # one row per Mesa step taken (the one step): Mesa's batch_run reads model_vars[k][step]
        collector.model_vars = {k: [v] * max(self.steps, 1) for k, v in summary.items()}
        if hasattr(collector, "_collection_steps"):
            # Mesa 3.5 reads the rows at the times the collector recorded (Mesa 3.3 by step number)
            collector._collection_steps = [getattr(self, "time", self.steps)]
        self.datacollector = collector
        self.running = False
        free_model(self)


def mesa_seeds(parameters: Mapping[str, Any], seeds: Sequence[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """How to give ``seeds`` to ``mesa.batch_run``, whichever Mesa is installed: Mesa 3.5 takes
    them as its ``rng=`` argument (and would overwrite an ``rng`` parameter with None), Mesa 3.3
    only as a parameter. Returns ``(parameters, extra keyword arguments)``."""
    if "rng" in inspect.signature(mesa.batch_run).parameters:
        return dict(parameters), {"rng": list(seeds)}
    return {**parameters, "rng": list(seeds)}, {}


def batch_run(configs: Sequence[Any] | Any, seeds: Iterable[Any], *, years: float | None = None,
              number_processes: int | None = 1, keep_columns: bool = False) -> pd.DataFrame:
    """Run every scenario with every seed through ``mesa.batch_run``; one row per run.

    Parameters
    ----------
    configs
        Scenarios: names, paths, mappings or :class:`~sim.params.Config` objects (one or a list).
    seeds
        Seeds (ints or ``SeedSequence``); every scenario is run with every seed (common
        random numbers: the same seed in two scenarios gives paired runs).
    years
        Simulate this many years from each scenario's start date instead of up to ``end_date``.
    number_processes
        Mesa's: 1 runs in this process, None uses all cores.
    keep_columns
        Keep Mesa's own columns (``RunId``, ``iteration``, ``Step``, the arguments).

    Returns
    -------
    pandas.DataFrame
        One row per run, in the order (scenario, seed): ``scenario``, ``seed`` and every
        field of the run summary (:func:`sim.metrics.summarize`), equal to
        ``sim.run(config, seed=seed, years=years).summary``.
    """
    if isinstance(configs, (str, Config, Mapping)) or not isinstance(configs, Iterable):
        configs = [configs]
    loaded = [c if isinstance(c, Config) else load_config(c) for c in configs]   # validate before running
    seeds = list(seeds)
    if not loaded or not seeds:
        raise ValueError("batch_run needs at least one scenario and one seed")
    if years is not None:
        end_after_years(loaded[0].start_date, years)                              # validates years
    days = max(c.n_days for c in loaded) if years is None else round(365.25 * years)
    parameters, seed_arg = mesa_seeds({"config": loaded, "years": [years]}, seeds)
    rows = mesa.batch_run(RunModel, parameters=parameters, **seed_arg,
                          number_processes=number_processes, data_collection_period=-1,
                          max_steps=days, display_progress=False)
    df = pd.DataFrame(rows).sort_values("RunId", kind="stable").reset_index(drop=True)
    if not keep_columns:
        df = df.drop(columns=[c for c in ("RunId", "iteration", "Step", *_MESA_KWARGS) if c in df.columns])
    first = ["scenario", "seed"]
    return df[first + [c for c in df.columns if c not in first]]


# --------------------------------------------------------------------------- EMA workbench
def dotted_name(name: str) -> str:
    """A config field from a Python-identifier name: ``returns__quota_per_week`` -> ``returns.quota_per_week``."""
    return name.replace("__", ".")


def ema_name(path: str) -> str:
    """The identifier EMA can use for a dotted config field (``returns.quota_per_week`` -> ``returns__quota_per_week``)."""
    return path.replace(".", "__")


def _outcome_value(summary: Mapping[str, Any], name: str) -> float:
    if name not in summary:
        raise KeyError(f"outcome '{name}' is not a summary field (fields: {', '.join(sorted(summary))})")
    value = summary[name]
    if value is None:
        return math.nan
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return float(value)
    raise TypeError(f"outcome '{name}' is not a number (a {type(value).__name__}: {value!r})")


def ema_model(base: Any = "baseline", *, outcomes: Sequence[str] = EMA_OUTCOMES, years: float | None = None,
              seed: int = 1, overrides: Mapping[str, Any] | None = None) -> Callable[..., dict[str, float]]:
    """A plain function ``f(**uncertainties) -> {outcome: value}`` running :func:`sim.run`, for EMA's
    ``Model(name, function=f)``.

    Parameters
    ----------
    base
        The scenario the uncertainties change (a name, path, mapping or Config).
    outcomes
        Numeric or yes/no fields of the run summary to return (yes/no as 1.0/0.0, missing as NaN).
    years
        Simulate this many years from the start date instead of up to ``end_date``.
    seed
        Seed of every run unless the call passes ``seed=`` (make ``seed`` an EMA constant or
        an integer uncertainty to replicate).
    overrides
        Fields set in every run (dotted names).

    The keyword arguments of ``f`` are config fields, dotted (``f(**{"returns.quota_per_week": 200})``)
    or in EMA's identifier form with ``__`` for each dot (``f(returns__quota_per_week=200)``);
    ``seed`` is the seed. An unknown field raises :class:`sim.ConfigError` naming it.
    """
    base_cfg = base if isinstance(base, Config) else load_config(base, overrides=overrides)
    if overrides and isinstance(base, Config):
        base_cfg = load_config(base_cfg, overrides=overrides)
    if years is not None:
        end_after_years(base_cfg.start_date, years)
    names = tuple(outcomes)
    if not names:
        raise ValueError("ema_model needs at least one outcome")

    def channel_model(**kwargs: Any) -> dict[str, float]:
        run_seed = kwargs.pop("seed", seed)
        fields = {dotted_name(k): (v.item() if isinstance(v, np.generic) else v) for k, v in kwargs.items()}
        cfg = load_config(base_cfg, overrides=fields) if fields else base_cfg
        summary = run(cfg, seed=int(run_seed), years=years).summary
        return {name: _outcome_value(summary, name) for name in names}

    channel_model.__doc__ = (f"Run '{base_cfg.name}' with the given config fields; returns {', '.join(names)}.")
    channel_model.outcomes = names  # type: ignore[attr-defined]
    return channel_model


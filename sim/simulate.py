"""One call to run a scenario: ``sim.run(config, seed=...)``."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError, load_config
from sim.metrics import summarize
from sim.model import ChannelModel, free_model
from sim.params import Config

__all__ = ["RunResult", "end_after_years", "run"]


@dataclass
class RunResult:
    """What a run returns.

    Attributes
    ----------
    timeseries
        One row per simulated day, indexed by date (see ``docs/ODD.md`` for columns).
    summary
        Totals, ratios and the business-model verdict (``sim.metrics.summarize``).
    config
        The validated configuration that was run.
    seed
        The seed (entropy) the run used.
    """

    timeseries: pd.DataFrame
    summary: dict[str, Any]
    config: Config
    seed: Any
    wall_seconds: float = 0.0
    ledger: dict[str, float] = field(default_factory=dict)


def _fresh_copy(seed: Any) -> Any:
    """A copy of a ``SeedSequence`` in the same state, so that the model's spawning does not
    consume the caller's object (the same object twice gives the same run); other seeds as given."""
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size,
                                      n_children_spawned=seed.n_children_spawned)
    return seed


def end_after_years(start: dt.date, years: float) -> dt.date:
    """The last day of a run of ``years`` years from ``start`` (365.25 days a year).

    Raises ``ConfigError`` naming ``years`` unless ``0 < years <= 60``.
    """
    if not 0 < years <= 60:
        raise ConfigError(f"field 'years': must be in (0, 60], got {years}")
    return start + dt.timedelta(days=round(365.25 * years) - 1)


def run(config: Config | Any = None, *, seed: int | np.random.SeedSequence, years: float | None = None,
        counterfactual: pd.DataFrame | None = None) -> RunResult:
    """Run one scenario from its start date.

    Parameters
    ----------
    config
        A :class:`~sim.params.Config`, a path or shipped scenario name, a mapping, or
        None for the embedded defaults.
    seed
        Seed for all random streams (an int or a ``numpy.random.SeedSequence``). A
        ``SeedSequence`` is copied, never consumed: passing the same object again gives
        the same run.
    years
        Simulate this many years from the start date instead of up to ``end_date``.
    counterfactual
        Optional time series of the no-policy run on the same seed; adds the
        counterfactual comparisons to the summary.

    Returns
    -------
    RunResult

    Raises
    ------
    sim.params.ConfigError
        If the configuration or ``years`` is invalid.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    if years is not None:
        cfg = load_config(cfg, overrides={"end_date": end_after_years(cfg.start_date, years)})
    t0 = time.perf_counter()
    model = ChannelModel(cfg, rng=_fresh_copy(seed))
    try:
        model.run_model()
        ts = model.datacollector.get_model_vars_dataframe()
        ts.index = pd.date_range(cfg.start_date, periods=len(ts), freq="D", name="date")
        ledger = {k: sum(g.ledger[k] for g in model.gangs) for k in model.gangs[0].ledger} if model.gangs else {}
        ledger["initial_cash"] = model.total_initial_cash_gbp
        ledger["cash_end"] = float(sum(g.cash_gbp for g in model.gangs))
        summary = summarize(ts, cfg, model.initial_gangs, counterfactual, economics=model.end_state())
    finally:
        free_model(model)
    summary["seed"] = str(seed.entropy if isinstance(seed, np.random.SeedSequence) else seed)
    return RunResult(ts, summary, cfg, seed, time.perf_counter() - t0, ledger)

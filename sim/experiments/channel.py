"""The Channel model as a target of the experiment engine (alias ``"channel"``).

Its capabilities (:class:`~sim.experiments.targets.ModelTarget`): a configuration (a
scenario with fixed overrides, :func:`base_config`) that each design point overrides by
dotted paths; whole-number fields rounded when a sampler gives floats
(:func:`coerce_value`); design points checked as configurations before a sweep starts
(:func:`check_point`); a daily time series from every run (:func:`run_channel`), whose
variables :func:`sim.config.timeseries_variables` lists for a configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sim.config import default_at, load_config, timeseries_variables
from sim.experiments.targets import ModelTarget, RunOutput

__all__ = ["base_config", "channel_model", "check_point", "coerce_params", "coerce_value", "run_channel"]


def base_config(base: str | Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario ``base`` (a shipped name, a path, a mapping or None for the defaults)
    with ``overrides``, validated, as plain JSON-able data."""
    return load_config(base, overrides=dict(overrides)).model_dump(mode="json")


def coerce_value(path: str, value: Any) -> Any:
    """Round a float for a whole-number field (e.g. a Latin hypercube over a quota);
    anything else, or an unknown field (validation names it), is returned unchanged."""
    try:
        default = default_at(path.split("."))
    except (AttributeError, IndexError, KeyError, ValueError, TypeError):
        return value
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
        return int(round(value))
    return value


def coerce_params(values: dict[str, Any]) -> dict[str, Any]:
    """:func:`coerce_value` applied to every field of a design point."""
    return {k: coerce_value(k, v) for k, v in values.items()}


def check_point(base: dict[str, Any] | None, params: dict[str, Any]) -> None:
    """Raise :class:`~sim.config.ConfigError` unless ``params`` make a valid configuration of ``base``."""
    load_config(base, overrides=params)


def run_channel(params: dict[str, Any], seed: np.random.SeedSequence,
                base_config: dict[str, Any] | None = None) -> RunOutput:
    """One run of the Channel model: the configuration ``base_config`` with ``params``
    (dotted overrides) on ``seed``; the summary (without its seed) and the daily series."""
    import sim

    cfg = load_config(base_config, overrides=params)
    res = sim.run(cfg, seed=seed)
    summary = dict(res.summary)
    summary.pop("seed", None)
    return RunOutput(summary, res.timeseries, cfg)


#: The Channel model, ``"sim.experiments.channel:channel_model"`` (alias ``"channel"``).
channel_model = ModelTarget(run=run_channel, configure=base_config, prepare=coerce_params, check=check_point,
                            variables=timeseries_variables)

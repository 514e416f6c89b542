"""What the engine runs: a model target named ``"module:function"``.

Every model the engine runs is named by an import path, ``"module:name"`` (as in the
EMA workbench). ``name`` is either

* a plain function ``f(params: dict, seed: numpy.random.SeedSequence) -> dict`` of plain
  outputs (the simplest model: the test functions of :mod:`sim.experiments.testfunctions`),
  which the engine wraps with :meth:`ModelTarget.from_function`; or
* a :class:`ModelTarget`, a ``run`` function with optional *capabilities*:

  - ``configure(base, overrides) -> dict``: the model has a configuration (a scenario
    name, a path or a mapping, with fixed overrides) that design points override; the
    engine records it in the manifest and sends it to every run;
  - ``prepare(values) -> dict``: the design point's values as the model wants them (the
    Channel model rounds whole-number fields);
  - ``check(base_config, params)``: raises :class:`sim.config.ConfigError` when a design
    point does not make a valid configuration, so that a sweep is refused before anything
    runs;
  - ``variables(base_config) -> list[str]``: the variables of the daily time series a run
    of that configuration gives, so that a sweep file's ``outputs.variables`` naming
    another is refused when the file is loaded (with a spelling suggestion), not by every
    run;
  - a ``run`` that returns a daily time series (:class:`RunOutput`): the engine then
    keeps the requested variables at the requested frequency and computes the
    ``outputs.statistics`` on it.

The Channel model is the target ``"sim.experiments.channel:channel_model"``; ``"channel"`` is
an alias for it, resolved here (:data:`ALIASES`) and nowhere else.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ALIASES", "ModelTarget", "RunOutput", "import_object", "resolve_target"]

#: Short names of model targets.
ALIASES: dict[str, str] = {"channel": "sim.experiments.channel:channel_model"}


@dataclass(frozen=True)
class RunOutput:
    """What one run of a target gives back.

    Attributes
    ----------
    summary
        Plain scalar outputs (one row of the store's ``summaries`` table).
    timeseries
        A daily time series indexed by date (``None`` for a model without one).
    config
        What an ``outputs.statistics`` function receives with the time series (the
        Channel model's :class:`~sim.params.Config`).
    """

    summary: Mapping[str, Any]
    timeseries: pd.DataFrame | None = None
    config: Any = None


@dataclass(frozen=True)
class ModelTarget:
    """A model the engine can run, and what else it can do (see the module text).

    ``run(params, seed, base_config) -> RunOutput | Mapping``: ``params`` are the design
    point's values (after ``prepare``), ``seed`` the run's ``SeedSequence`` and
    ``base_config`` what ``configure`` gave for the point's scenario (``None`` for a target
    without a configuration).
    """

    run: Callable[[dict[str, Any], np.random.SeedSequence, dict[str, Any] | None], RunOutput | Mapping[str, Any]]
    configure: Callable[[Any, Mapping[str, Any]], dict[str, Any]] | None = None
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    check: Callable[[dict[str, Any] | None, dict[str, Any]], None] | None = None
    variables: Callable[[dict[str, Any] | None], list[str]] | None = None

    @classmethod
    def from_function(cls, fn: Callable[[dict[str, Any], np.random.SeedSequence], Mapping[str, Any]]) -> ModelTarget:
        """A target of a plain function ``f(params, seed) -> dict``: no configuration, no time series."""
        return cls(run=_PlainFunction(fn))

    def base_config(self, base: Any, overrides: Mapping[str, Any]) -> dict[str, Any] | None:
        """The configuration design points override, as plain data (None without ``configure``)."""
        return None if self.configure is None else self.configure(base, dict(overrides))

    def point_params(self, values: dict[str, Any]) -> dict[str, Any]:
        """A design point's values as the model's parameters."""
        return values if self.prepare is None else self.prepare(values)

    def execute(self, params: Mapping[str, Any], seed: np.random.SeedSequence,
                base_config: dict[str, Any] | None) -> RunOutput:
        """Run once; a plain mapping returned by ``run`` becomes the summary."""
        out = self.run(dict(params), seed, base_config)
        return out if isinstance(out, RunOutput) else RunOutput(dict(out))


@dataclass(frozen=True)
class _PlainFunction:
    """``run`` of a plain function target: the configuration is not the function's business."""

    fn: Callable[[dict[str, Any], np.random.SeedSequence], Mapping[str, Any]]

    def __call__(self, params: dict[str, Any], seed: np.random.SeedSequence,
                 base_config: dict[str, Any] | None = None) -> RunOutput:
        return RunOutput(dict(self.fn(params, seed)))


def import_object(target: str) -> Any:
    """The object named ``"module:name"``.

    Raises
    ------
    ValueError
        If ``target`` is not of the form ``module:name``.
    """
    module, _, name = str(target).partition(":")
    if not module or not name:
        raise ValueError(f"expected 'module:function', got {target!r}")
    return getattr(importlib.import_module(module), name)


@functools.lru_cache(maxsize=64)
def resolve_target(model: str) -> ModelTarget:
    """The :class:`ModelTarget` named by ``model`` (an alias of :data:`ALIASES` or ``"module:name"``).

    Raises
    ------
    ValueError
        If the name is malformed; ``ImportError``/``AttributeError`` if it names nothing;
        ``TypeError`` if it names something that is neither a target nor a function.
    """
    obj = import_object(ALIASES.get(model, model))
    if isinstance(obj, ModelTarget):
        return obj
    if callable(obj):
        return ModelTarget.from_function(obj)
    raise TypeError(f"model {model!r} is neither a ModelTarget nor a function f(params, seed)")

"""The model's speed as a ratio to plain Mesa stepping of the same waiting population.

The reference is a plain Mesa model whose agents do nothing: each day, ``AgentSet.shuffle_do("step")``
is called on as many of them as the model had at the coast that day (only those calls are timed).
Two ratios of the model's time to the reference's are printed, both in one process:

* ``alone``: whole model runs and reference runs timed alternately, the best of each kept;
* ``by day``: the model's day and the reference's timed one after the other, day by day, in one
  run (the median over the repeats). A slow spell of the machine falls on both alike, so this is
  the steadier figure (each side then runs with some of the other's data in the processor's
  caches; timing blocks of 7 to 91 days instead moved the ratio by no more than the noise here).

Much of the model's cost is a fixed part of the schedule while the reference's is per agent, so
the ratio depends on how many people wait at the coast (``bench_model.py`` prints it for several
market sizes).

Run one scenario, with overrides, on whichever source tree ``--src`` names (by default the
installed ``sim``), for example to measure an earlier revision the same way and in the same session::

    python benchmarks/bench_ratio.py pilot_50
    python benchmarks/bench_ratio.py pilot_50 --set environment.base_inflow_per_day=700
    git worktree add /tmp/rev 6888e29^ && python benchmarks/bench_ratio.py pilot_50 --src /tmp/rev

``bench_model.py`` uses the same functions for its ratios.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from typing import Any

import mesa
import numpy as np


class Idle(mesa.Agent):
    """The reference's agent: its step does nothing."""

    def step(self) -> None:
        pass


def _match(agents: list[Idle], model: mesa.Model, n: int) -> None:
    """Create or remove reference agents until there are ``n`` (not timed)."""
    if n > len(agents):
        agents.extend(Idle(model) for _ in range(n - len(agents)))
    elif n < len(agents):
        for a in agents[n:]:
            a.remove()
        del agents[n:]


def _free(model: mesa.Model) -> None:
    from sim.model import free_model

    free_model(model)


def reference_seconds(waiting: np.ndarray, seed: int = 0) -> float:
    """Seconds of ``shuffle_do('step')`` on ``waiting[d]`` trivial agents for each day d."""
    model = mesa.Model(rng=seed)
    agents: list[Idle] = []
    total = 0.0
    for n in np.asarray(waiting).astype(int).tolist():
        _match(agents, model, n)
        t0 = time.perf_counter()
        model.agents.shuffle_do("step")
        total += time.perf_counter() - t0
    _free(model)
    return total


def model_seconds(cfg: Any, seed: int, years: float) -> tuple[float, np.ndarray]:
    """Seconds of the model's steps over ``years`` (nothing else timed), and the people at the coast each day."""
    from sim.model import ChannelModel

    model = ChannelModel(cfg, rng=seed)
    days = round(365.25 * years)
    waiting = np.empty(days, dtype=np.int64)
    total = 0.0
    for d in range(days):
        t0 = time.perf_counter()
        model.step()
        total += time.perf_counter() - t0
        waiting[d] = model.waiting_at_coast
    _free(model)
    return total, waiting


def interleaved_seconds(cfg: Any, seed: int, years: float) -> tuple[float, float]:
    """The model's days and the reference's, timed one after the other day by day in the same
    process: each day the model steps, then ``shuffle_do('step')`` runs on as many trivial agents
    as the model has at the coast (creating or removing agents to match is not timed). Returns the
    seconds of each, per simulated year."""
    from sim.model import ChannelModel

    model, ref = ChannelModel(cfg, rng=seed), mesa.Model(rng=seed)
    agents: list[Idle] = []
    days = round(365.25 * years)
    t_model = t_ref = 0.0
    for _ in range(days):
        t0 = time.perf_counter()
        model.step()
        t_model += time.perf_counter() - t0
        _match(agents, ref, int(model.waiting_at_coast))
        t0 = time.perf_counter()
        ref.agents.shuffle_do("step")
        t_ref += time.perf_counter() - t0
    _free(model)
    _free(ref)
    return t_model * 365.25 / days, t_ref * 365.25 / days


def ratios(cfg: Any, seed: int = 1, years: float = 4.0, repeat: int = 3) -> dict[str, Any]:
    """Both ratios of one configuration (see the module's docstring), with the figures behind them."""
    model_seconds(cfg, seed, 0.1)   # warm-up: the compiled loops loaded, first allocations made
    alone_model, alone_ref, by_day = [], [], []
    for _ in range(repeat):
        gc.collect()
        t, waiting = model_seconds(cfg, seed, years)
        alone_model.append(t * 365.25 / waiting.size)
        gc.collect()
        alone_ref.append(reference_seconds(waiting, seed) * 365.25 / waiting.size)
        gc.collect()
        m, r = interleaved_seconds(cfg, seed, years)
        by_day.append(m / r)
    return {"mean_waiting": float(waiting.mean()), "model_seconds_per_year": min(alone_model),
            "reference_seconds_per_year": min(alone_ref), "ratio_alone": min(alone_model) / min(alone_ref),
            "ratio_by_day": statistics.median(by_day), "ratios_by_day": sorted(by_day)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", help="a shipped scenario's name or a YAML path")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a parameter (dotted name), as many times as needed")
    ap.add_argument("--src", help="the source tree to import sim from (default: the installed package)")
    ap.add_argument("--years", type=float, default=4.0, help="years per timed run (default 4)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="timed repeats (default 3)")
    args = ap.parse_args(argv)
    if args.src:
        sys.path.insert(0, args.src)
    import sim

    try:
        from sim.config import parse_overrides
    except ImportError:   # a revision before 6888e29 split the configuration's loading out of sim.params
        from sim.params import parse_overrides
    try:
        overrides = parse_overrides(args.set)
        cfg = sim.load_config(args.scenario, overrides or None)
    except ValueError as exc:   # sim's ConfigError: names the field and what it accepts
        ap.error(str(exc))
    r = ratios(cfg, args.seed, args.years, args.repeat)
    print(f"sim from {sim.__file__}; Mesa {mesa.__version__}; {args.scenario} {overrides or ''}")
    print(f"mean at the coast {r['mean_waiting']:,.0f}; s per simulated year: model {r['model_seconds_per_year']:.3f}, "
          f"reference {r['reference_seconds_per_year']:.3f}; ratio alone {r['ratio_alone']:.2f}, by day "
          f"{r['ratio_by_day']:.2f} (repeats {' '.join(f'{x:.2f}' for x in r['ratios_by_day'])})")


if __name__ == "__main__":
    main()

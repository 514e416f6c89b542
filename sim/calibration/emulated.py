"""Emulator-assisted calibration: ABC-SMC on a Gaussian-process emulator fitted to waves of real runs.

**Why an emulator.** The model's distance is noisy, a run costs about 6 CPU-seconds, and
ABC-SMC with a quantile threshold needs thousands of candidates before its population is
both narrow and well spread (a final effective sample size of 100 needs a population of
several hundred). Direct ABC-SMC on 2 cores cannot afford that (the direct calibration, docs/calibration/abc: 40
particles, 856 runs, ESS 4.7). A larger population or more generations multiply the runs;
a better proposal lowers the rejections but not the population needed for the ESS. An
emulator (:mod:`sim.calibration.emulator`) spends the real runs where they inform a
smooth surrogate of the statistics, and ABC-SMC then runs on the surrogate with as large a
population as wanted, at no real cost, with the emulator's uncertainty and the simulator's
noise inside the emulated distance.

**Procedure** (:func:`emulated_abc`, pure apart from ``simulate``; history matching in
waves, Vernon et al. 2010, Bayesian Analysis 5:619; ABC on a GP emulator of the summary
statistics, Wilkinson 2014, AISTATS; Järvenpää et al. 2019, Bayesian Analysis 14:595):

1. Wave 1: ``design_points`` points of a Latin hypercube over the priors, each run
   ``replications`` times on common random numbers (as in :mod:`sim.calibration.abc`);
   their mean statistics are kept.
2. Fit the emulator of the statistics to every point so far
   (:class:`~sim.calibration.emulator.StatisticsEmulator`).
3. Run :func:`sim.calibration.abc.abc_smc` (``abc_initial_factor`` x particles candidates
   from the prior, then ``abc_proposal_factor`` x particles per generation: the threshold
   is their ``1 / abc_proposal_factor`` quantile; emulated candidates are cheap, so the
   threshold can fall further per generation than in the direct calibration, whose
   median of two per particle stalls at the noise level) with the emulated distance as its score: at
   each candidate, one draw of the statistics from the emulator (latent predictive draw
   plus the noise of a mean of ``emulated_replications`` runs), then the same
   :meth:`~sim.calibration.targets.TargetSet.errors` and
   :func:`~sim.calibration.targets.distance` as a real run. Before the last wave it has
   ``wave_particles`` particles and ``wave_generations`` generations.
4. Waves 2..``waves``: ``wave_points`` new points, a space-filling (greedy maximin, also
   away from the earlier points) subset of a pool drawn from the emulated posterior moved by
   its ABC kernel (twice the weighted covariance): the region the data do not rule out,
   where the emulator must be good. Run them, go to 2.
5. After the last wave, the final ABC-SMC: ``particles`` particles, ``generations``
   generations. Its population is the posterior (the ABC posterior at the final
   threshold, as for :func:`sim.calibration.abc.calibrate`).

**Representative point** (the shipped baseline): the best, over ``select_replications``
real runs, of the *posterior medoid* and the ``select_top`` particles of the final population
the emulator puts closest to the data: fewest targets missed, then smallest distance (the rule
of :mod:`sim.calibration.abc`). The medoid is the particle nearest the weighted componentwise
posterior median in the unit cube, each coordinate in units of its weighted posterior sd (a
well-identified parameter counts more). Every candidate is rounded to three significant digits
(whole-number fields to whole numbers) before it runs, so the chosen values are exactly what
was evaluated. The medoid alone is central but can sit where no single particle fits every
target (the targets pull different parameters); the closest particles are where the posterior
fits best, and the real runs decide between them.

**Emulator check**: the candidates for the representative point (``select_replications`` runs) and
``check_draws`` posterior particles (``replications`` runs each) run with the real model;
for each, the real distance and target errors against the emulated ones (the mean and the
90% interval of ``CHECK_EMULATED_DRAWS`` (200) emulated distances for the same number of runs). Written to
``emulator_check.csv`` and ``summary.json`` (``emulator_check``).

Common random numbers: replication ``j`` of every point uses the same seed (as in the
direct calibration), so much of the simulator noise is common to all points; the
emulator sees what differs between points and the posterior is, as the direct one,
conditional on those seeds.

Every random draw comes from ``numpy.random.SeedSequence(seed, spawn_key=...)``; every wave
is its own store (``wave_XX/``), so an interrupted calibration resumes where it stopped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.abc import (
    STATISTICS,
    CalibrationResult,
    CalibrationSpec,
    SMCGeneration,
    abc_smc,
    diagnostics,
    round_3_significant,
    synthetic_targets,
    write_calibration,
)
from sim.calibration.emulator import KERNELS, MEANS, StatisticsEmulator
from sim.calibration.targets import TargetSet, default_targets, distance
from sim.config import ConfigError
from sim.experiments.channel import coerce_value
from sim.experiments.designs import listed, unit_latin_hypercube
from sim.experiments.engine import run_experiment
from sim.experiments.executors import Executor, use_executor
from sim.experiments.stats import weighted_quantile
from sim.experiments.tasks import Experiment, OutputSpec

__all__ = ["EmulatorSettings", "EmulatedFit", "emulated_abc", "calibrate_emulated", "evaluate_statistics",
           "posterior_medoid", "first_wave"]


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class EmulatorSettings:
    """Settings of the emulator-assisted method (the ``emulator:`` block of a calibration file).

    Each field's accepted range is in :data:`_RANGES`; a bad value raises a
    :class:`~sim.config.ConfigError` naming the field (``emulator.<field>``) and its range.
    """

    design_points: int = 128          # wave 1: Latin-hypercube points over the prior (each run `replications` times)
    wave_points: int = 80             # points of each later wave, from the current emulated posterior
    waves: int = 2                    # design waves in all (1: the Latin hypercube only)
    particles: int = 1000             # population of the final ABC-SMC on the emulator
    generations: int = 4              # generations of the final ABC-SMC after its first
    wave_particles: int = 300         # population of the ABC-SMC that places each later wave
    wave_generations: int = 3         # its generations after the first
    abc_initial_factor: float = 10.0  # emulated ABC-SMC generation 0: this x particles candidates from the prior
    abc_proposal_factor: float = 4.0  # later generations: this x particles candidates (threshold: their 1/this quantile)
    emulated_replications: int = 0    # runs whose mean an emulated distance stands for (0: the spec's `replications`)
    kernel: str = "matern52"          # GP kernel: matern52 | sqexp
    mean: str = "linear"              # GP mean function: linear | constant
    restarts: int = 1                 # random restarts of each GP's likelihood maximisation (besides 1-2 fixed starts)
    pca_variance: float = 0.99        # share of a vector target's design variance its kept components explain
    pca_max: int = 6                  # principal components kept per vector target at most
    check_draws: int = 12             # posterior particles run with the real model in the emulator check

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            kind, lo, hi = _RANGES[f.name]
            where = f"calibration field 'emulator.{f.name}'"
            if kind == "choice":
                if v not in lo:
                    raise ConfigError(f"{where}: must be one of {list(lo)}, got {v!r}")
            elif kind == "int":
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                    raise ConfigError(f"{where}: must be a whole number in [{lo}, {hi}], got {v!r}")
            else:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < v <= hi:
                    raise ConfigError(f"{where}: must be a number in ({lo}, {hi}], got {v!r}")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None) -> EmulatorSettings:
        """From a mapping (e.g. the YAML block); unknown keys are an error naming the known ones."""
        m = dict(m or {})
        known = [f.name for f in fields(cls)]
        bad = sorted(set(m) - set(known))
        if bad:
            raise ConfigError(f"calibration field 'emulator': unknown setting(s) {bad}; settings are {known}")
        return cls(**m)

    def replace(self, **changes: Any) -> EmulatorSettings:
        return EmulatorSettings(**{**asdict(self), **{k: v for k, v in changes.items() if v is not None}})

    def planned_runs(self, spec: CalibrationSpec) -> int:
        """Real runs: the design waves and the emulator check."""
        points = self.design_points + (self.waves - 1) * self.wave_points + self.check_draws
        return points * spec.replications + (1 + spec.select_top) * spec.select_replications

    def check_budget(self, spec: CalibrationSpec) -> None:
        if self.design_points < len(spec.parameters) + 2:
            raise ConfigError(f"calibration field 'emulator.design_points': must be at least the number of "
                              f"parameters + 2 = {len(spec.parameters) + 2}, got {self.design_points}")
        need = self.planned_runs(spec)
        if need > spec.budget:
            raise ConfigError(f"calibration field 'budget': the emulator's plan needs {need} real runs "
                              f"((design_points + (waves - 1) x wave_points + check_draws) x replications + "
                              f"(1 + select_top) x select_replications), more than the budget {spec.budget}")


#: Emulated distances per point in the emulator check (its 90% interval and median).
CHECK_EMULATED_DRAWS = 200


#: Accepted range of each setting: (kind, low, high); for "choice", low holds the choices.
_RANGES: dict[str, tuple[str, Any, Any]] = {
    "design_points": ("int", 3, 100_000), "wave_points": ("int", 1, 100_000), "waves": ("int", 1, 10),
    "particles": ("int", 100, 20_000), "generations": ("int", 1, 100), "wave_particles": ("int", 50, 20_000),
    "wave_generations": ("int", 1, 100), "emulated_replications": ("int", 0, 1000),
    "abc_initial_factor": ("float", 1.0, 100.0), "abc_proposal_factor": ("float", 1.0, 100.0),
    "kernel": ("choice", KERNELS, None), "mean": ("choice", MEANS, None), "restarts": ("int", 0, 20),
    "pca_variance": ("float", 0.0, 1.0), "pca_max": ("int", 1, 100), "check_draws": ("int", 0, 1000),
}


# ----------------------------------------------------------------------------- the pure procedure
@dataclass
class EmulatedFit:
    """What :func:`emulated_abc` produced.

    ``design_u``/``design_wave``/``design_stats``: every real point (unit cube), its wave and
    its mean statistics; ``emulator``: the last fit; ``gens``: the final ABC-SMC on it, with
    ``gen_errors`` the target errors of each generation's candidates; ``waves``: per wave,
    its size, fit time and the ABC-SMC run on its emulator.
    """

    design_u: np.ndarray
    design_wave: np.ndarray
    design_stats: np.ndarray
    emulator: StatisticsEmulator
    gens: list[SMCGeneration]
    gen_errors: list[np.ndarray]
    waves: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> SMCGeneration:
        return [g for g in self.gens if g.epsilon is not None][-1]


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(key)))


def first_wave(dim: int, points: int, seed: int) -> np.ndarray:
    """Wave 1: a Latin hypercube of ``points`` points in the unit cube of dimension ``dim``."""
    return unit_latin_hypercube(dim, points, _rng(seed, 2001))


def _next_wave(pop_u: np.ndarray, pop_w: np.ndarray, existing: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
    """``n`` points from the population's ABC kernel density, spread out (greedy maximin
    from a pool of ``5 n``, also away from ``existing``)."""
    dim = pop_u.shape[1]
    cov = 2.0 * np.atleast_2d(np.cov(pop_u.T, aweights=pop_w)) + 1e-12 * np.eye(dim)
    chol = np.linalg.cholesky(cov)
    pool = []
    while len(pool) < 5 * n:
        j = rng.choice(len(pop_u), size=5 * n, p=pop_w)
        x = pop_u[j] + rng.standard_normal((5 * n, dim)) @ chol.T
        pool.extend(x[np.all((x >= 0) & (x <= 1), axis=1)])
    pool_a = np.asarray(pool[:5 * n])
    near = np.min(np.sum((pool_a[:, None, :] - existing[None, :, :]) ** 2, axis=2), axis=1)
    chosen = []
    for _ in range(n):
        k = int(np.argmax(near))
        chosen.append(pool_a[k])
        near = np.minimum(near, np.sum((pool_a - pool_a[k]) ** 2, axis=1))
    return np.asarray(chosen)


def _distances(errors: np.ndarray) -> np.ndarray:
    return np.array([distance(row) for row in errors])


def emulated_abc(simulate: Callable[[np.ndarray, int], np.ndarray],
                 errors: Callable[[np.ndarray], np.ndarray], dim: int, columns: Sequence[str], *,
                 settings: EmulatorSettings, replications: int, seed: int,
                 groups: Mapping[str, Sequence[str]] | None = None, log_groups: Sequence[str] = (),
                 log: Callable[[str], None] | None = None) -> EmulatedFit:
    """The procedure of the module text, in the unit cube of the priors.

    ``simulate(u, wave)`` runs the real model at the rows of ``u`` and returns their mean
    statistics over ``replications`` runs, ``(n, len(columns))`` (NaN where undefined or
    failed); ``errors(stats)`` returns each row's target errors ``(m, targets)``; the
    distance is :func:`sim.calibration.targets.distance` of a row of errors.
    """
    log = log or (lambda s: None)
    s = settings
    initial_factor, proposal_factor = s.abc_initial_factor, s.abc_proposal_factor
    emu_reps = s.emulated_replications or replications
    u = first_wave(dim, s.design_points, seed)
    stats = np.asarray(simulate(u, 1), dtype=float)
    wave_of = np.ones(len(u), dtype=int)
    info: list[dict[str, Any]] = []
    emulator: StatisticsEmulator | None = None
    for wave in range(1, s.waves + 1):
        t0 = time.perf_counter()
        emulator = StatisticsEmulator(columns, groups, log_groups, kernel=s.kernel, mean=s.mean,
                                      restarts=s.restarts, seed=seed + wave, pca_variance=s.pca_variance,
                                      pca_max=s.pca_max).fit(u, stats, replications, previous=emulator)
        fit_s = time.perf_counter() - t0
        last = wave == s.waves
        n, gens_n = (s.particles, s.generations) if last else (s.wave_particles, s.wave_generations)
        errs_by_gen: list[np.ndarray] = []

        def score(cand: np.ndarray, gen: int, emulator: StatisticsEmulator = emulator, wave: int = wave,
                  errs_by_gen: list[np.ndarray] = errs_by_gen) -> np.ndarray:
            sim_stats = emulator.sample(cand, _rng(seed, 4000 + wave, gen), emu_reps)
            e = np.asarray(errors(sim_stats), dtype=float)
            errs_by_gen.append(e)
            return _distances(e)

        t1 = time.perf_counter()
        budget = math.ceil(initial_factor * n) + gens_n * math.ceil(proposal_factor * n)
        gens = abc_smc(score, dim, n, budget, initial_factor=initial_factor, proposal_factor=proposal_factor,
                       rng_for=lambda g, wave=wave: _rng(seed, 3000 + wave, g))
        final = [g for g in gens if g.epsilon is not None][-1]
        info.append({"wave": wave, "design_points": int(len(u)), "new_points": int(np.sum(wave_of == wave)),
                     "fit_seconds": fit_s, "abc_seconds": time.perf_counter() - t1, "abc_particles": n,
                     "abc_generations": len(gens), "epsilon_final": final.epsilon, "ess_final": final.ess,
                     "emulator": emulator.describe()})
        log(f"wave {wave}: {len(u)} points, emulator fitted in {fit_s:.0f} s; ABC-SMC on it: "
            f"{len(gens)} generations, threshold {final.epsilon:.3f}, ESS {final.ess:.0f} of {n}")
        if last:
            return EmulatedFit(u, wave_of, stats, emulator, gens, errs_by_gen, info)
        pop = final.accepted
        new = _next_wave(final.candidates[pop], final.weights[pop], u, s.wave_points, _rng(seed, 2001 + wave))
        new_stats = np.asarray(simulate(new, wave + 1), dtype=float)
        u, stats = np.vstack([u, new]), np.vstack([stats, new_stats])
        wave_of = np.r_[wave_of, np.full(len(new), wave + 1)]
    raise AssertionError("unreachable")  # pragma: no cover


def posterior_medoid(u: np.ndarray, w: np.ndarray) -> int:
    """Index of the particle nearest the weighted componentwise median, each coordinate in
    units of its weighted sd (the module text)."""
    w = np.asarray(w, dtype=float) / np.sum(w)
    med = np.array([weighted_quantile(u[:, k], w, [0.5])[0] for k in range(u.shape[1])])
    mean = w @ u
    sd = np.sqrt(w @ (u - mean) ** 2)
    sd = np.where(sd > 0, sd, 1.0)
    return int(np.argmin(np.sum(((u - med) / sd) ** 2, axis=1)))


# ----------------------------------------------------------------------------- the channel model
def evaluate_statistics(points: pd.DataFrame, spec: CalibrationSpec, out: Path, *,
                        executor: str | Executor = "process", workers: int | None = None, progress: bool = False,
                        name: str = "calibration", replications: int | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every point ``replications`` (default: the spec's) times on common random numbers
    (like :func:`sim.calibration.abc.evaluate_points`) and keep the raw statistics.

    Returns ``(means, runs)``: per point, its parameters, ``ok`` (runs that succeeded) and the
    mean of each ``stat:`` column over its runs (NaN if a run failed, as
    :func:`~sim.calibration.abc.evaluate_points` gives such a point an infinite distance); per
    run, ``point``, ``replication``, ``status``, ``wall_seconds`` and the ``stat:`` columns.
    """
    reps = replications or spec.replications
    design = listed([{k: float(v) for k, v in row.items()} for row in points.to_dict("records")],
                    replications=reps)
    exp = Experiment(design=design, base=spec.base, overrides=dict(spec.overrides), seed=spec.seed,
                     outputs=OutputSpec(frequency="end", statistics=STATISTICS), name=name)
    store = run_experiment(exp, out, executor=executor, workers=workers, progress=progress)
    runs = store.runs(columns=["run_id", "point", "replication", "status", "wall_seconds"])
    sums = store.summaries()
    stat_cols = [c for c in sums.columns if c.startswith("stat:")]
    merged = runs.merge(sums[["run_id", *stat_cols]], on="run_id", how="left")
    ok = merged["status"] == "ok"
    means = merged[ok].groupby("point")[stat_cols].mean().reindex(range(len(points)))
    n_ok = merged[ok].groupby("point").size().reindex(range(len(points))).fillna(0).astype(int)
    means.loc[n_ok.to_numpy() < reps, :] = np.nan
    means.insert(0, "ok", n_ok.to_numpy())
    means = pd.concat([points.reset_index(drop=True), means.reset_index(drop=True)], axis=1)
    return means, merged.sort_values(["point", "replication"]).reset_index(drop=True)


def _errors_fn(targets: TargetSet, columns: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    names = list(columns)

    def errors(stats: np.ndarray) -> np.ndarray:
        out = np.empty((len(stats), len(targets)))
        for i, row in enumerate(np.asarray(stats, dtype=float)):
            e = targets.errors(dict(zip(names, row.tolist(), strict=True)))
            out[i] = [e[t] for t in targets.names]
        return out
    return errors


def calibrate_emulated(spec: CalibrationSpec, out: str | Path, *, executor: str | Executor = "process",
                       workers: int | None = None, progress: bool = True, scheduler: str | None = None,
                       **settings: Any) -> CalibrationResult:
    """Emulator-assisted ABC-SMC for ``spec`` into the folder ``out`` (resumable); see the module text.

    ``settings`` override the spec's ``emulator`` block (:class:`EmulatorSettings`: e.g.
    ``design_points``, ``wave_points``, ``waves``, ``particles``, ``generations``). The
    executor is as for :func:`sim.calibration.abc.calibrate`. Writes the files of
    :func:`sim.calibration.abc.calibrate` (``summary.json`` with ``method: "emulator"``, the
    design, the cost and the emulator check), ``design.parquet`` (every real point),
    ``emulator_check.csv`` and ``posterior_pairs.png``.
    """
    s = EmulatorSettings.from_mapping(spec.emulator).replace(**settings)
    s.check_budget(spec)
    with use_executor(executor, workers, scheduler) as ex:
        return _calibrate_emulated(spec, s, Path(out), ex, progress)


def _calibrate_emulated(spec: CalibrationSpec, s: EmulatorSettings, out: Path, ex: Executor,
                        progress: bool) -> CalibrationResult:
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    targets = spec.target_set or default_targets().subset(spec.targets)
    if spec.synthetic:
        targets = synthetic_targets(spec, targets)
    priors, names, dim, reps = spec.parameters, spec.names, len(spec.parameters), spec.replications

    def to_params(u: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({p.path: p.from_unit(u[:, k]) for k, p in enumerate(priors)})

    def say(msg: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - t0:7.0f} s] {msg}", flush=True)

    wave_tables: list[pd.DataFrame] = []
    columns: list[str] = []

    def simulate(u: np.ndarray, wave: int) -> np.ndarray:
        say(f"wave {wave}: running {len(u)} points x {reps} runs")
        means, _ = evaluate_statistics(to_params(u), spec, out / f"wave_{wave:02d}", executor=ex, progress=progress,
                                       name=f"{spec.name}-wave{wave:02d}")
        if not columns:  # the statistics the targets need, in the order of the run summaries
            wanted = set(targets.names)
            columns.extend(c[5:] for c in means.columns if c.startswith("stat:") and c[5:].split("[")[0] in wanted)
        wave_tables.append(means.assign(wave=wave))
        return means[[f"stat:{c}" for c in columns]].to_numpy(dtype=float)

    # the columns are known after wave 1: simulate it first, then hand the procedure the rest
    u1 = first_wave(dim, s.design_points, spec.seed)
    stats1 = simulate(u1, 1)
    groups: dict[str, list[str]] = {}
    for c in columns:
        groups.setdefault(c.split("[")[0], []).append(c)
    groups = {g: cols for g, cols in groups.items() if len(cols) > 1}
    log_groups = [t.name for t in targets if t.relative]
    errors = _errors_fn(targets, columns)

    def simulate_cached(u: np.ndarray, wave: int) -> np.ndarray:
        return stats1 if wave == 1 else simulate(u, wave)

    fit = emulated_abc(simulate_cached, errors, dim, columns, settings=s, replications=reps, seed=spec.seed,
                       groups=groups, log_groups=log_groups, log=say)
    emu_reps = s.emulated_replications or reps

    # the design: every real point with its real distance and target errors
    design = pd.concat(wave_tables, ignore_index=True)
    design_err = errors(design[[f"stat:{c}" for c in columns]].to_numpy(dtype=float))
    design_d = np.where(design["ok"].to_numpy() < reps, np.inf, _distances(design_err))
    design = design.assign(distance=design_d, **{f"error:{t}": design_err[:, k] for k, t in enumerate(targets.names)})
    design.to_parquet(out / "design.parquet", index=False)

    # the particles of the final ABC-SMC on the emulator (emulated distances and errors)
    rows = []
    for k, (g, e) in enumerate(zip(fit.gens, fit.gen_errors, strict=True)):
        rows.append(to_params(g.candidates).assign(
            distance=g.distances, **{f"error:{t}": e[:, j] for j, t in enumerate(targets.names)},
            generation=k, accepted=g.accepted, weight=g.weights))
    particles = pd.concat(rows, ignore_index=True)
    final = fit.final
    pop_u, pop_w, pop_d = final.candidates[final.accepted], final.weights[final.accepted], final.distances[final.accepted]
    posterior = to_params(pop_u).assign(weight=pop_w, distance=pop_d)
    epsilons = [float(g.epsilon) for g in fit.gens if g.epsilon is not None]

    # the candidates for the representative point: the posterior medoid and the select_top particles
    # closest on the emulator, each rounded as the direct calibration rounds
    def rounded(u: np.ndarray) -> pd.DataFrame:
        return to_params(u).apply(lambda col: col.map(lambda x, c=col.name: coerce_value(c, round_3_significant(float(x)))))

    medoid = rounded(pop_u[[posterior_medoid(pop_u, pop_w)]])
    closest = rounded(pop_u[np.argsort(pop_d, kind="stable")[:spec.select_top]]) if spec.select_top else None

    # the emulator check: the candidates and posterior draws with the real model
    say(f"emulator check: the posterior medoid and the {spec.select_top} closest particles x "
        f"{spec.select_replications} runs, {s.check_draws} posterior particles x {reps} runs")
    rng = _rng(spec.seed, 5000)
    draw_idx = rng.choice(len(pop_u), size=min(s.check_draws, int(np.sum(pop_w > 0))), replace=False, p=pop_w)
    check_sets = [("posterior medoid", medoid, spec.select_replications, "check_representative")]
    if closest is not None:
        check_sets.append(("closest particle", closest, spec.select_replications, "check_closest"))
    if len(draw_idx):
        check_sets.append(("posterior particle", to_params(pop_u[draw_idx]), reps, "check_draws"))
    check_rows = []
    for label, pts, r, folder in check_sets:
        means, _ = evaluate_statistics(pts, spec, out / folder, executor=ex, progress=progress,
                                       name=f"{spec.name}-{folder.replace('_', '-')}", replications=r)
        real_e = errors(means[[f"stat:{c}" for c in columns]].to_numpy(dtype=float))
        real_d = np.where(means["ok"].to_numpy() < r, np.inf, _distances(real_e))
        u_pts = np.column_stack([p.to_unit(pts[p.path].to_numpy(dtype=float)) for p in priors])
        em_r = np.clip(u_pts, 0, 1)
        draws = [errors(fit.emulator.sample(em_r, _rng(spec.seed, 6000, len(check_rows), k), r)) for k in range(CHECK_EMULATED_DRAWS)]
        em_e = np.stack(draws)                               # (draws, points, targets)
        em_d = np.stack([_distances(x) for x in em_e])       # (draws, points)
        q05, q50, q95 = np.quantile(em_d, [0.05, 0.5, 0.95], axis=0)
        for i in range(len(pts)):
            check_rows.append({"candidate": label if len(pts) == 1 else f"{label} {i + 1}", "runs": r,
                               **{p: pts[p].iloc[i] for p in names},
                               "distance": real_d[i], "emulated_distance_median": q50[i],
                               "emulated_distance_q05": q05[i], "emulated_distance_q95": q95[i],
                               "inside_emulated_90": bool(q05[i] <= real_d[i] <= q95[i]),
                               **{f"error:{t}": real_e[i, j] for j, t in enumerate(targets.names)},
                               **{f"emulated_error:{t}": float(np.median(em_e[:, i, j]))
                                  for j, t in enumerate(targets.names)}})
    check = pd.DataFrame(check_rows)
    err_cols = [f"error:{t}" for t in targets.names]
    check["targets_missed"] = (check[err_cols].fillna(np.inf) > 1.0).sum(axis=1)
    # the representative point: fewest targets missed, then smallest distance, among the candidates
    cands = check[check["candidate"].str.startswith(("posterior medoid", "closest particle"))]
    best = cands.sort_values(["targets_missed", "distance"], kind="stable").index[0]
    check["chosen"] = check.index == best
    chosen = {p: coerce_value(p, float(check.at[best, p])) for p in names}      # whole-number fields as int
    chosen_label = str(check.at[best, "candidate"])
    check.to_csv(out / "emulator_check.csv", index=False)
    finite = np.isfinite(check["distance"].to_numpy())
    real_dist, em_med = check["distance"].to_numpy()[finite], check["emulated_distance_median"].to_numpy()[finite]
    check_summary = {
        "points": int(len(check)),
        "inside_emulated_90_share": float(check["inside_emulated_90"].mean()) if len(check) else math.nan,
        "mean_real_minus_emulated": float(np.mean(real_dist - em_med)) if finite.any() else math.nan,
        "rms_real_minus_emulated": float(np.sqrt(np.mean((real_dist - em_med) ** 2))) if finite.any() else math.nan,
        "correlation": (float(np.corrcoef(real_dist, em_med)[0, 1]) if finite.sum() > 2 else math.nan),
        "representative": {k: _plain(v) for k, v in check.loc[best].items()},
    }

    runs_used = int(len(design)) * reps + sum(len(p) * r for _, p, r, _ in check_sets)
    result = CalibrationResult(particles, posterior, chosen, epsilons, runs_used, time.perf_counter() - t0, spec, out,
                               selection=check, chosen_from=f"{chosen_label}: the best of the posterior medoid and the "
                                                           f"{spec.select_top} particles closest on the emulator",
                               diagnostics=diagnostics(fit.gens, s.particles), population=s.particles)
    eps = epsilons
    extra = {"method": "emulator", "emulator_settings": asdict(s), "emulated_replications": emu_reps,
             "design": {"points": int(len(design)), "replications": reps,
                        "by_wave": design.groupby("wave").size().astype(int).to_dict(),
                        "failed_points": int((design["ok"] < reps).sum())},
             "waves": [{k: v for k, v in w.items() if k != "emulator"} for w in fit.waves],
             "emulator": fit.waves[-1]["emulator"],
             "cost": {"real_runs": runs_used, "design_runs": int(len(design)) * reps,
                      "check_runs": runs_used - int(len(design)) * reps},
             "threshold_change_last_generation": (eps[-1] / eps[-2] - 1.0) if len(eps) > 1 else None,
             "emulator_check": check_summary}
    write_calibration(result, targets, method=f"emulator-assisted ABC-SMC ({s.particles} particles on a GP emulator)",
                      extra=extra)
    summary = json.loads((out / "summary.json").read_text())   # the run seconds write_calibration added, into the cost
    summary["cost"].update(wall_seconds=result.wall_seconds, run_seconds=summary.get("run_seconds"))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    pair_plot(posterior, names, out / "posterior_pairs.png", chosen=chosen)
    say(f"done: {runs_used} real runs, final ESS {result.ess_final:.0f} of {s.particles}")
    return result


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def pair_plot(posterior: pd.DataFrame, names: Sequence[str], path: Path,
              chosen: Mapping[str, float] | None = None) -> None:
    """Pairs plot of the weighted posterior: weighted histograms on the diagonal, weighted 2-d
    histograms below it; the chosen point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(names)
    w = posterior["weight"].to_numpy(dtype=float)
    fig, axes = plt.subplots(k, k, figsize=(1.6 * k + 1, 1.6 * k + 1), squeeze=False)
    short = [n.split(".")[-1] if not n.split(".")[-1].isdigit() else ".".join(n.split(".")[-2:]) for n in names]
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            ax.tick_params(labelsize=5)
            if j > i:
                ax.axis("off")
                continue
            x = posterior[xj].to_numpy(dtype=float)
            if i == j:
                ax.hist(x, bins=25, weights=w, color="steelblue")
                if chosen:
                    ax.axvline(chosen[xj], color="crimson", lw=1)
            else:
                y = posterior[yi].to_numpy(dtype=float)
                ax.hist2d(x, y, bins=25, weights=w, cmap="Blues")
                if chosen:
                    ax.plot(chosen[xj], chosen[yi], "x", color="crimson", ms=4)
            if i == k - 1:
                ax.set_xlabel(short[j], fontsize=6)
            if j == 0 and i > 0:
                ax.set_ylabel(short[i], fontsize=6)
    fig.suptitle("Weighted posterior (emulator-assisted ABC-SMC); x: the chosen point (the shipped baseline)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

"""Calibration by sequential Monte Carlo approximate Bayesian computation (ABC-SMC).

The uncertain parameters get uniform priors (on a log scale if asked). Every candidate
parameter set is run through the experiment engine (:mod:`sim.experiments.engine`) with
``replications`` runs on common random numbers: replication ``j`` of every candidate, in
every generation, uses the same seed. The target statistics
(:func:`sim.calibration.targets.run_statistics`) are averaged over replications, and the
distance is the root mean square of the targets' errors in units of their tolerances
(:func:`sim.calibration.targets.distance`).

**Algorithm** (population Monte Carlo ABC with quantile thresholds; Beaumont et al. 2009,
Biometrika 96:983; Del Moral et al. 2012, Stat Comput 22:1009), in the unit cube of the
priors:

1. Generation 0: ``initial_factor x particles`` candidates from a Latin hypercube
   over the prior; the ``particles`` closest form the population, with equal
   weights; the threshold ``eps_0`` is the largest accepted distance.
2. Generation ``t``: ``proposal_factor x particles`` candidates, each drawn from the
   population by weight and moved by a Gaussian kernel with twice the weighted
   covariance (redrawn until inside the prior). The threshold is
   ``eps_t = min(eps_{t-1}, particles-th smallest distance)``; candidates within it form
   the new population, with weights ``prior / sum_j w_j K(theta | theta_j)``.
3. Stop when the budget of runs is spent (or fewer than ``dim + 2`` candidates pass).

Every random draw comes from ``numpy.random.SeedSequence(seed, spawn_key=(1000 + t,))``
and each generation is its own store (``gen_XX/``), so a calibration is reproducible and
an interrupted one resumes where it stopped. One executor (process pool or Dask client)
serves every generation and the selection: opened by :func:`calibrate` and closed at its
end, or passed in already open.

**Selection.** The *chosen* configuration is the best, over ``select_replications`` runs
(more than during the search, on the same common random numbers), of the posterior
weighted mean and the ``select_top`` closest particles of the final population: fewest
targets missed, then smallest distance. Each candidate is rounded to three significant
digits (whole-number fields to whole numbers) before it runs, so the chosen values are exactly what was evaluated. The
validation report (:mod:`sim.calibration.report`) then tests it against every target on
fresh seeds. The ``budget`` is the search's; the selection adds
``(1 + select_top) x select_replications`` runs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.targets import CALIBRATION_END, TargetSet, default_targets, distance
from sim.config import ConfigError, load_config
from sim.experiments.channel import coerce_value
from sim.experiments.designs import listed, unit_latin_hypercube
from sim.experiments.engine import run_experiment
from sim.experiments.executors import Executor, use_executor
from sim.experiments.spec import load_spec
from sim.experiments.stats import weighted_quantile
from sim.experiments.tasks import Experiment, OutputSpec

__all__ = ["Prior", "CalibrationSpec", "CalibrationResult", "SMCGeneration", "abc_smc", "calibrate", "diagnostics",
           "evaluate_points", "load_calibration_spec", "round_3_significant", "synthetic_targets",
           "write_calibration"]

STATISTICS = "sim.calibration.targets:run_statistics"


@dataclass(frozen=True)
class Prior:
    """Uniform prior of one parameter (a dotted configuration path) on ``[low, high]``."""

    path: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ConfigError(f"calibration parameter '{self.path}': needs low < high, got [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ConfigError(f"calibration parameter '{self.path}': a log prior needs low > 0, got {self.low}")

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        if self.log:
            return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        return self.low + u * (self.high - self.low)

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.log:
            return (np.log(x) - np.log(self.low)) / (np.log(self.high) - np.log(self.low))
        return (x - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class CalibrationSpec:
    """What to calibrate, against what, and how much to spend.

    ``targets`` names the targets used (None: all of :func:`default_targets`);
    ``target_set`` replaces them outright (e.g. targets from synthetic data).
    ``synthetic`` (``{"params": {...}, "seed": N, "replications": k, "tolerance_scale": s}``)
    calibrates against data the model generates itself at known parameters (the mean
    statistics of ``k`` runs on ``SeedSequence(N, spawn_key=(j,))``, tolerances times
    ``s``): the identifiability check.
    """

    parameters: tuple[Prior, ...]
    base: str | Mapping[str, Any] = "baseline"
    overrides: Mapping[str, Any] = field(default_factory=lambda: {"end_date": CALIBRATION_END})
    targets: tuple[str, ...] | None = None
    particles: int = 40
    replications: int = 2
    budget: int = 600
    initial_factor: float = 4.0
    proposal_factor: float = 2.0
    select_top: int = 4
    select_replications: int = 4
    seed: int = 1
    name: str = "calibration"
    synthetic: Mapping[str, Any] | None = None
    target_set: TargetSet | None = None
    emulator: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.parameters:
            raise ConfigError("calibration: 'parameters' needs at least one parameter with a prior")
        for k, lo in (("particles", 4), ("replications", 1), ("budget", 1), ("select_top", 0),
                      ("select_replications", 1)):
            v = getattr(self, k)
            if not isinstance(v, int) or v < lo:
                raise ConfigError(f"calibration field '{k}': must be a whole number >= {lo}, got {v!r}")
        for k in ("initial_factor", "proposal_factor"):
            if not 1.0 <= getattr(self, k) <= 100.0:
                raise ConfigError(f"calibration field '{k}': must be in [1, 100], got {getattr(self, k)}")
        first = math.ceil(self.initial_factor * self.particles) * self.replications
        if self.budget < first:
            raise ConfigError(f"calibration field 'budget': must be at least the first generation's "
                              f"{first} runs (initial_factor x particles x replications), got {self.budget}")
        if self.emulator is not None:  # the emulator-assisted method's settings (sim.calibration.emulated)
            from sim.calibration.emulated import EmulatorSettings

            EmulatorSettings.from_mapping(self.emulator).check_budget(self)
        # every parameter must make a valid configuration at both ends of its prior
        for p in self.parameters:
            for v in (p.low, p.high):
                try:
                    load_config(self.base, overrides={**dict(self.overrides), p.path: v})
                except ConfigError as exc:
                    raise ConfigError(f"calibration parameter '{p.path}' prior [{p.low}, {p.high}]: {exc}") from None

    @property
    def names(self) -> list[str]:
        return [p.path for p in self.parameters]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, "overrides": _jsonable(dict(self.overrides)),
                "parameters": {p.path: {"low": p.low, "high": p.high, "log": p.log} for p in self.parameters},
                "targets": list(self.targets) if self.targets else None, "particles": self.particles,
                "replications": self.replications, "budget": self.budget, "initial_factor": self.initial_factor,
                "proposal_factor": self.proposal_factor, "select_top": self.select_top,
                "select_replications": self.select_replications, "seed": self.seed,
                "synthetic": _jsonable(dict(self.synthetic)) if self.synthetic else None,
                **({"emulator": _jsonable(dict(self.emulator))} if self.emulator is not None else {})}


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


#: Fields of a calibration file besides the common ones (:data:`sim.experiments.spec.COMMON_FIELDS`).
CALIBRATION_FIELDS = ("particles", "replications", "budget", "initial_factor", "proposal_factor", "select_top",
                      "select_replications", "parameters", "targets", "synthetic", "emulator")


def load_calibration_spec(path: str | Path, **changes: Any) -> CalibrationSpec:
    """Read a calibration file (YAML), e.g. ``sim/configs/calibration/baseline.yaml``
    (:data:`sim.config.CONFIG_DIR` / ``"calibration"`` / ``"baseline.yaml"``).

    Format::

        name: baseline
        base: baseline                  # scenario calibrated (name or path)
        overrides: {end_date: 2025-07-31}
        seed: 20220101
        particles: 40                   # population size
        replications: 2                 # runs per candidate (common random numbers)
        budget: 800                     # total runs
        parameters:                     # uniform priors: [low, high] or {low, high, log}
          environment.base_inflow_per_day: [100, 260]
        targets: [arrivals_2022, ...]   # optional subset of the default targets
        emulator: {design_points: 128}  # optional: settings of the emulator-assisted method
                                        # (sim.calibration.emulated.EmulatorSettings)
    """
    f = load_spec(path, kind="calibration", fields=CALIBRATION_FIELDS,
                  default_overrides={"end_date": CALIBRATION_END})
    spec = f.fields
    priors = []
    for name, v in (spec.get("parameters") or {}).items():
        if isinstance(v, Mapping):
            priors.append(Prior(str(name), float(v["low"]), float(v["high"]), bool(v.get("log", False))))
        elif isinstance(v, Sequence) and len(v) == 2:
            priors.append(Prior(str(name), float(v[0]), float(v[1])))
        else:
            raise f.error(f"parameter '{name}' needs [low, high] or {{low, high, log}}, got {v!r}")
    targets = spec.get("targets")
    if targets is not None:
        known = default_targets().names
        bad = [t for t in targets if t not in known]
        if bad:
            raise f.error(f"unknown target(s) {bad}; targets are {known}")
    kw: dict[str, Any] = {
        "parameters": tuple(priors), "base": f.base, "overrides": f.overrides,
        "targets": tuple(targets) if targets else None, "seed": f.seed, "name": f.name,
        "synthetic": spec.get("synthetic"),
    }
    if "emulator" in spec:
        if not isinstance(spec["emulator"], Mapping):
            raise f.error(f"emulator needs a mapping of settings, got {spec['emulator']!r}")
        kw["emulator"] = dict(spec["emulator"])
    for k in ("particles", "replications", "budget", "select_top", "select_replications"):
        if k in spec:
            kw[k] = int(spec[k])
    for k in ("initial_factor", "proposal_factor"):
        if k in spec:
            kw[k] = float(spec[k])
    kw.update({k: v for k, v in changes.items() if v is not None})
    return CalibrationSpec(**kw)


@dataclass
class CalibrationResult:
    """What a calibration produced (also written to its output folder).

    Attributes
    ----------
    particles
        Every candidate evaluated: generation, parameters, distance, each target's
        error, whether accepted into its generation's population, and its weight.
    posterior
        The final population (parameters, weight, distance).
    chosen
        The chosen parameter values (see the module text: the best of the posterior mean
        and the closest particles, on ``select_replications`` runs).
    selection
        Those candidates with their distance and target errors; ``chosen_from`` names
        the one chosen.
    epsilons
        The threshold of each generation.
    runs, wall_seconds
        The cost.
    """

    particles: pd.DataFrame
    posterior: pd.DataFrame
    chosen: dict[str, float]
    epsilons: list[float]
    runs: int
    wall_seconds: float
    spec: CalibrationSpec
    path: Path | None = None
    selection: pd.DataFrame | None = None
    chosen_from: str = ""
    diagnostics: pd.DataFrame | None = None
    population: int | None = None   # the ABC population size, when not the spec's ``particles`` (emulator)

    @property
    def ess_final(self) -> float:
        """Effective sample size of the final population (``1 / sum(w^2)``)."""
        w = self.posterior["weight"].to_numpy(dtype=float)
        return float(1.0 / np.sum((w / w.sum()) ** 2)) if w.size else 0.0

    def warnings(self) -> list[str]:
        """Plain statements of what makes the posterior unreliable (empty when nothing does)."""
        out = []
        n = self.population or self.spec.particles
        if self.ess_final < n / 4:
            out.append(f"the final population's effective sample size is {self.ess_final:.1f} of {n} particles "
                       f"(below a quarter): its intervals rest on few draws")
        if self.diagnostics is not None and (self.diagnostics["epsilon"].isna()).any():
            out.append("the search stopped early: too few candidates passed the last threshold")
        return out

    def diagnostics_text(self) -> str:
        """The per-generation diagnostics as a small table, then the warnings."""
        lines = ["generation  candidates  accepted  acceptance  threshold      ESS"]
        if self.diagnostics is not None:
            for r in self.diagnostics.itertuples():
                lines.append(f"{r.generation:>10}  {r.candidates:>10}  {r.accepted:>8}  {r.acceptance_rate:>10.1%}  "
                             f"{r.epsilon:>9.3f}  {r.ess:>7.1f}" + ("  (low)" if r.ess_low else ""))
        lines += [f"warning: {w}" for w in self.warnings()]
        return "\n".join(lines)

    def summary_table(self) -> pd.DataFrame:
        """Prior range, posterior mean, sd, 5% and 95% quantiles, and the chosen value."""
        w = self.posterior["weight"].to_numpy()
        rows = []
        for p in self.spec.parameters:
            x = self.posterior[p.path].to_numpy(dtype=float)
            mean = float(np.sum(w * x))
            sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
            q5, q95 = weighted_quantile(x, w, [0.05, 0.95])
            rows.append({"parameter": p.path, "prior_low": p.low, "prior_high": p.high, "mean": mean, "sd": sd,
                         "q05": q5, "q95": q95, "chosen": self.chosen[p.path]})
        return pd.DataFrame(rows)


def round_3_significant(x: float) -> float:
    """``x`` rounded to three significant figures (zero and non-finite values unchanged): how a
    calibration rounds its candidates for the shipped values before the selection runs them."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(round(x, 2 - int(math.floor(math.log10(abs(x))))))


# ----------------------------------------------------------------------------- evaluation
def evaluate_points(points: pd.DataFrame, spec: CalibrationSpec, targets: TargetSet, out: Path, *,
                    executor: str | Executor = "process", workers: int | None = None, progress: bool = False,
                    name: str = "calibration", scheduler: str | None = None,
                    replications: int | None = None) -> pd.DataFrame:
    """Run every point ``replications`` (default: the spec's) times on common random numbers,
    and score it: distance and target errors. ``executor`` is a kind or an open
    :class:`~sim.experiments.executors.Executor` (see :func:`run_experiment`)."""
    design = listed([{k: float(v) for k, v in row.items()} for row in points.to_dict("records")],
                    replications=replications or spec.replications)
    exp = Experiment(design=design, base=spec.base, overrides=dict(spec.overrides), seed=spec.seed,
                     outputs=OutputSpec(frequency="end", statistics=STATISTICS), name=name)
    store = run_experiment(exp, out, executor=executor, workers=workers, scheduler=scheduler, progress=progress)
    runs = store.runs(columns=["run_id", "point", "status"])
    sums = store.summaries()
    stat_cols = [c for c in sums.columns if c.startswith("stat:")]
    merged = runs.merge(sums[["run_id", *stat_cols]], on="run_id", how="left")
    mean = merged.groupby("point")[stat_cols].mean()
    failed = merged[merged["status"] != "ok"].groupby("point").size()
    rows = []
    for i in range(len(points)):
        flat = {c[5:]: v for c, v in mean.loc[i].items()} if i in mean.index else {}
        errs = targets.errors(flat) if flat else {t: float("nan") for t in targets.names}
        d = distance(errs) if i not in failed.index else float("inf")
        rows.append({"distance": d, **{f"error:{k}": v for k, v in errs.items()}})
    return pd.concat([points.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def synthetic_targets(spec: CalibrationSpec, base_targets: TargetSet) -> TargetSet:
    """``base_targets`` observed on runs of the model instead of the data (a check that a
    calibration recovers known parameters): the spec's base and overrides with
    ``spec.synthetic["params"]``, run ``replications`` times (default 1) on ``seed``
    (default the spec's seed + 1), tolerances scaled by ``tolerance_scale`` (default 1)."""
    import sim
    from sim.calibration.targets import observation_frame

    syn = dict(spec.synthetic or {})
    cfg = load_config(spec.base, overrides={**dict(spec.overrides), **dict(syn.get("params") or {})})
    seed = int(syn.get("seed", spec.seed + 1))
    frames = [observation_frame(sim.run(cfg, seed=np.random.SeedSequence(seed, spawn_key=(k,))).timeseries,
                                [g.name for g in cfg.groups]) for k in range(int(syn.get("replications", 1)))]
    return base_targets.with_observed(frames, tolerance_scale=float(syn.get("tolerance_scale", 1.0)))


# ----------------------------------------------------------------------------- ABC-SMC
def calibrate(spec: CalibrationSpec, out: str | Path, *, executor: str | Executor = "process",
              workers: int | None = None, scheduler: str | None = None, progress: bool = True) -> CalibrationResult:
    """Run ABC-SMC for ``spec`` into the folder ``out`` (resumable); see the module text.

    ``executor`` is a kind (``"serial"``, ``"process"``, ``"dask"``; with ``workers`` and
    ``scheduler``), of which one executor serves the whole calibration and is closed at
    its end (also on error), or an open :class:`~sim.experiments.executors.Executor`,
    used and left open.
    """
    with use_executor(executor, workers, scheduler) as ex:
        return _calibrate(spec, Path(out), ex, progress)


@dataclass
class SMCGeneration:
    """One generation of ABC-SMC in the unit cube of the priors."""

    candidates: np.ndarray      # (m, dim) points evaluated
    distances: np.ndarray       # (m,) their distances
    accepted: np.ndarray        # (m,) bool: in the generation's population
    weights: np.ndarray         # (m,) normalised importance weights (0 outside the population)
    epsilon: float | None       # threshold; None when too few candidates passed (search stopped)

    @property
    def ess(self) -> float:
        """Effective sample size of the population, ``1 / sum(w^2)`` (Kish); 0 without one."""
        w = self.weights[self.accepted]
        return float(1.0 / np.sum(w ** 2)) if w.size else 0.0

    @property
    def acceptance_rate(self) -> float:
        return float(self.accepted.mean()) if self.accepted.size else 0.0


def abc_smc(score: Any, dim: int, particles: int, budget: int, *, replications: int = 1,
            initial_factor: float = 4.0, proposal_factor: float = 2.0,
            rng_for: Any = None) -> list[SMCGeneration]:
    """Population Monte Carlo ABC with quantile thresholds in the unit cube (the module text).

    ``score(u, gen)`` returns the distance of each row of ``u`` (points in ``[0, 1]^dim``, the
    priors' unit cube; uniform prior there); each point costs ``replications`` runs of the
    ``budget``. ``rng_for(gen)`` gives the generator of generation ``gen``. Pure apart from
    ``score``: the channel model's calibration and the toy problems of the tests run the same code.
    """
    rng_for = rng_for or (lambda gen: np.random.default_rng(gen))
    n, reps = particles, replications
    gens: list[SMCGeneration] = []
    m0 = math.ceil(initial_factor * n)
    u = unit_latin_hypercube(dim, m0, rng_for(0))
    d = np.asarray(score(u, 0), dtype=float)
    used = m0 * reps
    keep = np.argsort(d, kind="stable")[:n]
    eps = float(d[keep[-1]])
    weights = np.zeros(m0)
    weights[keep] = 1.0 / len(keep)
    gens.append(SMCGeneration(u, d, np.isin(np.arange(m0), keep), weights, eps))
    pop_u, pop_w = u[keep], weights[keep]
    gen = 0
    while True:
        gen += 1
        m = min(math.ceil(proposal_factor * n), (budget - used) // reps)
        if m < dim + 2:
            break
        rng = rng_for(gen)
        cov = 2.0 * np.atleast_2d(np.cov(pop_u.T, aweights=pop_w)) + 1e-12 * np.eye(dim)
        chol = np.linalg.cholesky(cov)
        cand = np.empty((m, dim))
        for i in range(m):
            for _ in range(1000):
                j = rng.choice(len(pop_u), p=pop_w)
                x = pop_u[j] + chol @ rng.standard_normal(dim)
                if np.all((x >= 0) & (x <= 1)):
                    break
            else:  # pragma: no cover - only with a degenerate population at the prior's edge
                x = np.clip(x, 0, 1)
            cand[i] = x
        d = np.asarray(score(cand, gen), dtype=float)
        used += m * reps
        eps_new = min(eps, float(np.sort(d)[min(n, m) - 1]))
        acc = np.flatnonzero(d <= eps_new)
        if len(acc) < dim + 2:
            gens.append(SMCGeneration(cand, d, np.zeros(m, dtype=bool), np.zeros(m), None))
            break
        # importance weights: uniform prior / kernel mixture density
        inv = np.linalg.inv(cov)
        diff = cand[acc][:, None, :] - pop_u[None, :, :]
        kern = np.exp(-0.5 * np.einsum("abi,ij,abj->ab", diff, inv, diff))
        w = 1.0 / (kern @ pop_w)
        w = w / w.sum()
        weights = np.zeros(m)
        weights[acc] = w
        gens.append(SMCGeneration(cand, d, np.isin(np.arange(m), acc), weights, eps_new))
        pop_u, pop_w, eps = cand[acc], w, eps_new
    return gens


def diagnostics(gens: Sequence[SMCGeneration], particles: int) -> pd.DataFrame:
    """Per generation: candidates, accepted, acceptance rate, threshold, effective sample size,
    and ``ess_low`` (below a quarter of the particles: the population rests on few draws)."""
    rows = [{"generation": g, "candidates": int(x.accepted.size), "accepted": int(x.accepted.sum()),
             "acceptance_rate": x.acceptance_rate, "epsilon": x.epsilon if x.epsilon is not None else math.nan,
             "ess": x.ess, "ess_low": bool(x.ess < particles / 4)} for g, x in enumerate(gens)]
    return pd.DataFrame(rows)


def _calibrate(spec: CalibrationSpec, out: Path, ex: Executor, progress: bool) -> CalibrationResult:
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    targets = spec.target_set or default_targets().subset(spec.targets)
    if spec.synthetic:
        targets = synthetic_targets(spec, targets)
    priors = spec.parameters
    names = spec.names
    dim = len(priors)
    reps = spec.replications

    def to_params(u: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({p.path: p.from_unit(u[:, k]) for k, p in enumerate(priors)})

    def rng_for(gen: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(1000 + gen,)))

    scored_by_gen: list[pd.DataFrame] = []

    def score(u: np.ndarray, gen: int) -> np.ndarray:
        scored = evaluate_points(to_params(u), spec, targets, out / f"gen_{gen:02d}", executor=ex,
                                 progress=progress, name=f"{spec.name}-gen{gen:02d}")
        scored_by_gen.append(scored)
        return scored["distance"].to_numpy()

    gens = abc_smc(score, dim, spec.particles, spec.budget, replications=reps, initial_factor=spec.initial_factor,
                   proposal_factor=spec.proposal_factor, rng_for=rng_for)
    used = sum(g.accepted.size for g in gens) * reps
    all_rows = [sc.assign(generation=k, accepted=g.accepted, weight=g.weights)
                for k, (sc, g) in enumerate(zip(scored_by_gen, gens, strict=True))]
    final = [g for g in gens if g.epsilon is not None][-1]
    pop_u, pop_w, pop_d = final.candidates[final.accepted], final.weights[final.accepted], final.distances[final.accepted]
    epsilons = [float(g.epsilon) for g in gens if g.epsilon is not None]

    particles = pd.concat(all_rows, ignore_index=True)
    posterior = to_params(pop_u).assign(weight=pop_w, distance=pop_d)

    # selection: the posterior mean and the closest particles, rounded, on more replications
    cand_u = np.vstack([np.sum(pop_w[:, None] * pop_u, axis=0), pop_u[np.argsort(pop_d, kind="stable")]])
    cands = to_params(cand_u[:1 + spec.select_top])
    cands = cands.apply(lambda col: col.map(lambda x, c=col.name: coerce_value(c, round_3_significant(float(x)))))
    labels = ["posterior mean"] + [f"particle {k + 1} by distance" for k in range(len(cands) - 1)]
    keep = ~cands.duplicated().to_numpy()
    cands, labels = cands[keep].reset_index(drop=True), [lab for lab, k in zip(labels, keep, strict=True) if k]
    sel = evaluate_points(cands, spec, targets, out / "selection", executor=ex, progress=progress,
                          name=f"{spec.name}-selection", replications=spec.select_replications)
    used += len(cands) * spec.select_replications
    sel.insert(0, "candidate", labels)
    err_cols = [c for c in sel.columns if c.startswith("error:")]
    sel["targets_missed"] = (sel[err_cols].fillna(np.inf) > 1.0).sum(axis=1)
    best = int(np.lexsort((sel["distance"].to_numpy(), sel["targets_missed"].to_numpy()))[0])
    chosen = {p: cands[p].iloc[best] for p in names}
    chosen = {p: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for p, v in chosen.items()}
    result = CalibrationResult(particles, posterior, chosen, epsilons, used, time.perf_counter() - t0, spec, out,
                               selection=sel, chosen_from=str(sel["candidate"].iloc[best]),
                               diagnostics=diagnostics(gens, spec.particles))
    write_calibration(result, targets)
    return result


def write_calibration(result: CalibrationResult, targets: TargetSet, *, method: str = "ABC-SMC",
                      extra: Mapping[str, Any] | None = None) -> None:
    """Write a calibration's files into ``result.path``: ``particles.parquet``, ``posterior.csv``,
    ``parameters.csv``, ``calibrated.yaml`` (the chosen values) and ``summary.json`` (with the
    seconds of every run in the folder's stores); ``method`` names it in the header of
    ``calibrated.yaml`` and ``extra`` adds fields to ``summary.json``."""
    import yaml

    out = result.path
    assert out is not None
    result.particles.to_parquet(out / "particles.parquet", index=False)
    result.posterior.to_csv(out / "posterior.csv", index=False)
    table = result.summary_table()
    table.to_csv(out / "parameters.csv", index=False)
    nested: dict[str, Any] = {}
    for path, v in result.chosen.items():
        node = nested
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(int(k) if k.isdigit() else k, {})
        node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = v
    header = (f"# Calibrated by `channel-sim calibrate` ({result.spec.name}): {method}, {result.runs} runs;\n"
              f"# chosen: {result.chosen_from} of {len(result.posterior)} particles (final threshold "
              f"{result.epsilons[-1]:.3f}).\n")
    (out / "calibrated.yaml").write_text(header + yaml.safe_dump(nested, sort_keys=True))
    from sim.experiments.store import ExperimentStore

    run_seconds = sum(float(ExperimentStore(d).runs(columns=["wall_seconds"])["wall_seconds"].sum())
                      for d in sorted(out.iterdir()) if (d / "manifest.json").is_file())
    summary = {"spec": result.spec.to_dict(), "runs": result.runs, "wall_seconds": result.wall_seconds,
               "run_seconds": run_seconds,
               "generations": len(result.epsilons), "epsilons": result.epsilons, "chosen": result.chosen,
               "chosen_from": result.chosen_from,
               "selection": (result.selection.to_dict("records") if result.selection is not None else None),
               "targets": targets.names, "posterior": table.to_dict("records")}
    if result.diagnostics is not None:
        summary["diagnostics"] = result.diagnostics.to_dict("records")
        summary["ess_final"] = result.ess_final
        summary["warnings"] = result.warnings()
    summary.update(dict(extra or {}))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))

"""Throughput of the experiment engine's executors, and the parent's memory in long sweeps.

Prints (figures only; nothing here fails on speed):

1. **Runs per minute** for one sweep of one-year runs of the pilot (a grid over the weekly
   quota crossed with replications, 2025-01-01 to 2025-12-31, monthly outputs) run three
   ways: serially, on 2 local processes (``executor="process"``) and on a Dask
   ``LocalCluster`` of 2 workers (``executor="dask"``). Then the parallel efficiency of
   2 processes against serial (``serial time / (2 x process time)``, target >= 0.85),
   Dask's time relative to the process pool (target within 15%), and whether the three
   stores are identical (summaries and time series sorted by run id, compared exactly;
   the script exits with status 1 if they are not). Each parallel time includes starting
   the executor (spawning the workers, each importing the model); that start-up is also
   timed on its own, on a tiny sweep of one-week runs, and the figures net of it are
   printed beside the raw ones. Each executor is timed ``--repeat`` times (default 2,
   interleaved with the others, so that load from other processes hits all of them) and
   the best time is kept.
2. **Peak memory of the parent process** (the one that submits runs and writes the
   store) for a 2,000-run sweep against a 200-run one, of the cheap test model
   ``sim.experiments.testfunctions:noisy_linear`` on 2 processes. Each sweep runs in a
   fresh Python process, measured twice: the peak of Python allocations during the sweep
   (``tracemalloc``, started after the imports; NumPy buffers are traced, Arrow's are not)
   and, in another fresh process without tracemalloc, the growth of the peak resident set
   (the process's own peak, ``VmHWM`` on Linux, after the sweep minus before it; the
   workers are separate processes and not included). Target: no growth with the number
   of runs beyond noise. Then the same for the channel model: 2,000 one-week runs of the
   pilot (10 quotas x 200 replications, daily outputs, so the parent receives and stores
   every run's daily time series) against 200.

3. **A posterior-style study** (only with ``--study``): 5 scenarios (``baseline pilot_50
   quota_200 quota_all legal_route_only``) x 40 parameter sets x 2 replications,
   2022-01-01 to 2027-12-31 (400 runs), on 2 processes. The parameter sets are 40 draws
   from the shipped posterior (``docs/calibration/posterior.csv``, drawn by weight as
   ``channel-sim compare --posterior`` draws them); with ``--prior`` they are a Latin
   hypercube (fixed seed) over the calibration's prior ranges
   (``sim/configs/calibration/baseline.yaml``), which the benchmark used before a posterior
   existed: markets up to several times the calibrated one, so a heavier study. Each scenario
   is one experiment (one store, the same seeds: common random numbers across scenarios),
   and all five run on ONE process pool opened once (:func:`sim.experiments.open_executor`).
   Prints the wall time (including the pool's start-up) against the target of 10 minutes.
   ``--study --quick``: 5 x 4 x 1 one-year runs (2025), and the full study's time
   extrapolated from them.

Run ``python benchmarks/bench_experiments.py`` (about 3 minutes on 2 cores) or with
``--quick`` (fewer runs, under a minute); ``--study`` runs only the study (about 10
minutes; ``--study --quick`` under a minute).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from sim.experiments import (
    Experiment,
    OutputSpec,
    grid,
    latin_hypercube,
    listed,
    open_executor,
    run_experiment,
)

ONE_YEAR = {"start_date": "2025-01-01", "end_date": "2025-12-31"}
ONE_WEEK = {"start_date": "2025-01-01", "end_date": "2025-01-07"}
QUOTAS_FULL = [0, 50, 100, 200, 400, 800, 1200, 1600]
QUOTAS_QUICK = [0, 200, 800]


def _sweep(quotas: list[int], replications: int, overrides: dict[str, str]) -> Experiment:
    return Experiment(
        design=grid({"returns.quota_per_week": quotas}, replications=replications),
        base="pilot_50",
        overrides=overrides,
        seed=2025,
        outputs=OutputSpec(frequency="monthly"),
        name="bench",
    )


def _timed(exp: Experiment, out: Path, executor: str, workers: int | None) -> float:
    t0 = time.perf_counter()
    store = run_experiment(exp, out, executor=executor, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    runs = store.runs()
    if len(runs) != exp.design.n_runs or (runs["status"] != "ok").any():
        raise RuntimeError(
            f"{executor}: {len(runs)} runs, failures: {runs['error'].dropna().tolist()[:3]}"
        )
    return wall


def _tables(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sim.experiments import ExperimentStore

    store = ExperimentStore(path)
    summ = store.summaries().sort_values("run_id").reset_index(drop=True)
    ts = store.timeseries().sort_values(["run_id", "date", "variable"]).reset_index(drop=True)
    return summ, ts


def throughput(quick: bool, repeat: int, workers: int = 2) -> bool:
    quotas = QUOTAS_QUICK if quick else QUOTAS_FULL
    reps = 4 if quick else 5
    exp = _sweep(quotas, reps, ONE_YEAR)
    n = exp.design.n_runs
    print(
        f"1. throughput: {n} one-year runs of pilot_50 ({len(quotas)} quotas x {reps} "
        f"replications, monthly outputs); best of {repeat}"
    )
    root = Path(tempfile.mkdtemp(prefix="bench-experiments-"))
    warm = _sweep([0, 50], workers, ONE_WEEK)  # start-up: workers spawn, import, run a week
    kinds = (("serial", None), ("process", workers), ("dask", workers))
    startup: dict[str, float] = {}
    walls: dict[str, float] = {}
    for r in range(repeat):  # executors interleaved, so that load from elsewhere hits all of them
        for kind, w in kinds:
            t_warm = _timed(warm, root / f"warm-{kind}-{r}", kind, w)
            startup[kind] = min(startup.get(kind, float("inf")), t_warm)
            wall = _timed(exp, root / f"{kind}-{r}", kind, w)
            walls[kind] = min(walls.get(kind, float("inf")), wall)
    serial_warm = startup.pop("serial")
    net = {
        k: walls[k] - (startup[k] - serial_warm / workers) if k != "serial" else walls[k]
        for k in walls
    }
    print(f"   {'executor':<22}{'wall s':>8}{'runs/min':>10}{'start-up s':>12}{'runs/min net':>14}")
    labels = {
        "serial": "serial",
        "process": f"{workers} local processes",
        "dask": f"Dask, {workers} workers",
    }
    for k in walls:
        su = "-" if k == "serial" else f"{startup[k] - serial_warm / workers:.1f}"
        print(
            f"   {labels[k]:<22}{walls[k]:>8.1f}{60 * n / walls[k]:>10.1f}{su:>12}"
            f"{60 * n / net[k]:>14.1f}"
        )
    eff = walls["serial"] / (workers * walls["process"])
    eff_net = walls["serial"] / (workers * net["process"])
    rel = walls["dask"] / walls["process"] - 1
    rel_net = net["dask"] / net["process"] - 1
    print(
        f"   parallel efficiency of {workers} processes vs serial: {eff:.2f} "
        f"(net of start-up {eff_net:.2f}; target >= 0.85)"
    )
    print(
        f"   Dask vs process pool: {rel:+.1%} time (net of start-up {rel_net:+.1%}; "
        "target within 15%)"
    )
    ref_s, ref_t = _tables(root / "serial-0")
    same = True
    for k in ("process", "dask"):
        s, t = _tables(root / f"{k}-0")
        same &= s.equals(ref_s) and t.equals(ref_t)
    shutil.rmtree(root, ignore_errors=True)
    print(f"   stores identical (summaries and time series by run id): {'yes' if same else 'NO'}")
    return same


def _memory_experiment(n: int, model: str) -> Experiment:
    """An n-run sweep: of the test function noisy_linear, or of the channel model (pilot_50 over one
    week, 10 quotas x n/10 replications, daily outputs: the parent stores every run's time series)."""
    if model == "channel":
        return Experiment(design=grid({"returns.quota_per_week": list(range(0, 1000, 100))}, replications=n // 10),
                          base="pilot_50", overrides=ONE_WEEK, seed=2025, outputs=OutputSpec(frequency="daily"),
                          name="bench-memory-channel")
    return Experiment(
        design=grid({"x": list(range(n // 10))}, replications=10),
        base=None,
        model="sim.experiments.testfunctions:noisy_linear",
        outputs=OutputSpec(frequency="end"),
        name="bench-memory",
    )


def _memory_child(n: int, mode: str, model: str = "noisy_linear") -> None:
    """Run an n-run sweep (:func:`_memory_experiment`) on 2 processes and print the parent's memory (JSON)."""
    import tracemalloc

    from bench_model import own_peak_rss_kb as peak_kb  # this process's own peak, not its parent's

    exp = _memory_experiment(n, model)
    out = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    rss0 = peak_kb()
    if mode == "tracemalloc":
        tracemalloc.start()
    t0 = time.perf_counter()
    store = run_experiment(exp, out, executor="process", workers=2, progress=False)
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if mode == "tracemalloc" else None
    rss1 = peak_kb()
    ok = int((store.runs()["status"] == "ok").sum())
    shutil.rmtree(out, ignore_errors=True)
    print(
        json.dumps(
            {
                "n": n,
                "ok": ok,
                "wall": wall,
                "tracemalloc_peak": peak,
                "rss_before_kb": rss0,
                "rss_after_kb": rss1,
            }
        )
    )


def _child(n: int, mode: str, model: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(n), "--mode", mode,
           "--memory-model", model]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def memory(quick: bool, model: str = "noisy_linear") -> None:
    small, large = (100, 1000) if quick else (200, 2000)
    what = ("one-week runs of the channel model (pilot_50, daily outputs)" if model == "channel"
            else "runs of noisy_linear")
    print(f"\n2. parent's peak memory, {small} vs {large} {what} on 2 processes (each in a fresh process)")
    rows = {}
    for n in (small, large):
        tm = _child(n, "tracemalloc", model)
        rss = _child(n, "rss", model)
        if tm["ok"] != n or rss["ok"] != n:
            raise RuntimeError(f"memory sweep of {n} runs: only {tm['ok']}/{rss['ok']} ok")
        rows[n] = (
            tm["tracemalloc_peak"] / 2**20,
            (rss["rss_after_kb"] - rss["rss_before_kb"]) / 1024,
            rss["rss_after_kb"] / 1024,
            rss["wall"],
        )
    print(
        f"   {'runs':>6}{'tracemalloc peak MB':>21}{'max RSS growth MB':>19}{'max RSS MB':>12}"
        f"{'wall s':>8}"
    )
    for n, (tm, grow, rss, wall) in rows.items():
        print(f"   {n:>6}{tm:>21.1f}{grow:>19.1f}{rss:>12.1f}{wall:>8.1f}")
    print(
        f"   ratio {large}/{small}: tracemalloc peak {rows[large][0] / rows[small][0]:.2f}, "
        f"max RSS {rows[large][2] / rows[small][2]:.2f} (target: no growth beyond noise)"
    )


STUDY_SCENARIOS = ("baseline", "pilot_50", "quota_200", "quota_all", "legal_route_only")
STUDY_FULL = {"parameter_sets": 40, "replications": 2,
              "overrides": {"start_date": "2022-01-01", "end_date": "2027-12-31"}}
STUDY_QUICK = {"parameter_sets": 4, "replications": 1,
               "overrides": {"start_date": "2025-01-01", "end_date": "2025-12-31"}}
STUDY_TARGET_SECONDS = 600.0


def _posterior(n: int) -> list[dict]:
    """``n`` parameter sets drawn by weight from the shipped posterior (``docs/calibration``), as
    ``channel-sim compare --posterior`` draws them."""
    from sim.experiments.predictive import posterior_draws

    root = Path(__file__).resolve().parents[1]
    return posterior_draws(root / "docs" / "calibration", n).drop(columns=["particle"]).to_dict("records")


def _posterior_like(n: int, seed: int = 20220101) -> list[dict]:
    """``n`` parameter sets: a Latin hypercube over the calibration's prior ranges (far wider than
    the posterior: markets of up to several times the calibrated size, so a heavier study)."""
    from sim.calibration import load_calibration_spec
    from sim.config import CONFIG_DIR

    spec = load_calibration_spec(CONFIG_DIR / "calibration" / "baseline.yaml")
    bounds = {p.path: [p.low, p.high] for p in spec.parameters}
    return latin_hypercube(bounds, n, seed).points.to_dict("records")


def study(quick: bool, workers: int = 2, prior: bool = False) -> None:
    """Section 3: scenarios x parameter sets x replications on one reusable process pool; the
    parameter sets are posterior draws, or with ``prior`` a Latin hypercube over the prior ranges."""

    conf = STUDY_QUICK if quick else STUDY_FULL
    sets = (_posterior_like if prior else _posterior)(conf["parameter_sets"])
    reps = conf["replications"]
    ov = conf["overrides"]
    years = (pd.Timestamp(ov["end_date"]) - pd.Timestamp(ov["start_date"])).days / 365.25 + 1 / 365.25
    n_runs = len(STUDY_SCENARIOS) * len(sets) * reps
    print(
        f"3. posterior-style study: {len(STUDY_SCENARIOS)} scenarios x {len(sets)} parameter sets x {reps} "
        f"replications = {n_runs} runs of {ov['start_date']} to {ov['end_date']} ({years:.1f} years) "
        f"on {workers} processes, one executor for all; parameter sets: "
        + ("a Latin hypercube over the calibration's prior ranges" if prior else
           "draws from the shipped posterior (docs/calibration)")
    )
    root = Path(tempfile.mkdtemp(prefix="bench-study-"))
    walls: dict[str, float] = {}
    pids: set[int] = set()
    t0 = time.perf_counter()
    try:
        with open_executor("process", workers=workers) as ex:
            for name in STUDY_SCENARIOS:
                exp = Experiment(design=listed(sets, replications=reps), base=name, overrides=ov, seed=2027,
                                 outputs=OutputSpec(frequency="monthly"), name=f"study-{name}")
                t1 = time.perf_counter()
                store = run_experiment(exp, root / name, executor=ex, progress=False)
                walls[name] = time.perf_counter() - t1
                runs = store.runs(columns=["run_id", "status", "error", "pid"])
                if len(runs) != exp.design.n_runs or (runs["status"] != "ok").any():
                    raise RuntimeError(f"{name}: {len(runs)} runs, failures: {runs['error'].dropna().tolist()[:3]}")
                pids |= set(runs["pid"])
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"   {'scenario':<18}{'runs':>6}{'wall s':>9}")
    for name in STUDY_SCENARIOS:
        print(f"   {name:<18}{len(sets) * reps:>6}{walls[name]:>9.1f}")
    per_run_year = wall * workers / (n_runs * years)
    print(
        f"   total {wall:.1f} s ({wall / 60:.1f} min) including the pool's start-up; {60 * n_runs / wall:.1f} runs/min; "
        f"{per_run_year:.2f} s per simulated year per process; worker processes used: {len(pids)}"
    )
    if quick:
        full_runs = len(STUDY_SCENARIOS) * STUDY_FULL["parameter_sets"] * STUDY_FULL["replications"]
        full_years = 6.0
        est = per_run_year * full_runs * full_years / workers
        print(
            f"   the full study ({full_runs} runs of {full_years:.0f} years) at this rate: about {est / 60:.1f} min "
            f"(target <= {STUDY_TARGET_SECONDS / 60:.0f} min; extrapolated, run --study for the figure)"
        )
    else:
        verdict = "met" if wall <= STUDY_TARGET_SECONDS else "NOT met"
        print(f"   target <= {STUDY_TARGET_SECONDS / 60:.0f} min: {verdict}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs (12 and 100/1,000; with --study 5 x 4 x 1)")
    ap.add_argument("--study", action="store_true",
                    help="run only the posterior-style study (5 scenarios x 40 parameter sets x 2 replications)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="time each executor this many times and keep the best (default 2; 1 with --quick)",
    )
    ap.add_argument("--prior", action="store_true",
                    help="with --study: parameter sets from a Latin hypercube over the prior ranges instead of "
                         "posterior draws (wider markets: a heavier study)")
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="rss", choices=("rss", "tracemalloc"), help=argparse.SUPPRESS)
    ap.add_argument("--memory-model", default="noisy_linear", choices=("noisy_linear", "channel"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child is not None:
        _memory_child(args.memory_child, args.mode, args.memory_model)
        return 0
    import os

    print(
        f"experiment engine benchmark on {os.cpu_count()} CPUs{' (quick)' if args.quick else ''}; "
        f"load average before: {os.getloadavg()[0]:.2f} (other processes skew the figures)\n"
    )
    if args.study:
        study(args.quick, prior=args.prior)
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
        return 0
    same = throughput(args.quick, args.repeat or (1 if args.quick else 2))
    memory(args.quick)
    memory(args.quick, model="channel")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

"""The command line: ``channel-sim run | compare | sweep | analyze | export | store | params | check | calibrate |
validate | forecast | attribute | data``.

Examples::

    channel-sim compare baseline pilot_50 quota_200 --replications 10   # means, CIs, paired differences
    channel-sim sweep sim/configs/sweeps/quota_vs_interception.yaml --executor dask --workers 4
    channel-sim analyze outputs/sweeps/quota_vs_interception
    channel-sim export outputs/sweeps/quota_vs_interception --csv
    channel-sim run baseline pilot_50                 # one seed each, side by side, figures in outputs/
    channel-sim run my_scenario.yaml --seed 3 --years 2 --set returns.quota_per_week=200
    channel-sim params returns                        # the parameter table of a section
    channel-sim check my_scenario.yaml                # validate only
    channel-sim calibrate --budget 800                # ABC-SMC against the Home Office series
    channel-sim validate --out docs/validation        # report: simulated against observed, every target
    channel-sim store check outputs/sweeps/NAME --repair   # verify (and repair) an experiment store
    channel-sim forecast --until 2025-07-31 --horizon 12     # monthly arrivals after a date, with intervals
    channel-sim attribute pilot_as_realised --from 2024-08:2025-07 --to 2025-08:2026-07   # Shapley by lever
    channel-sim data update newer_small_boats.csv      # merge a newer Home Office series

Every expected failure (a configuration, a file, a store) prints one line naming the file
or field and exits 2; a sweep or comparison with failed runs exits 1; only a bug prints a
traceback (with a request to report it).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import difflib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from sim.config import CONFIG_DIR, ConfigError, load_config, parse_overrides
from sim.params import parameter_table

__all__ = ["main", "format_summary_table", "SUMMARY_ROWS", "posterior_rows"]

#: (summary key, label, format)
SUMMARY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("arrivals_uk", "arrivals in the UK (whole run)", "{:,.0f}"),
    ("arrivals_uk_policy_period", "arrivals since the policy start", "{:,.0f}"),
    ("paid_crossings_policy_period", "paid crossings since the policy start", "{:,.0f}"),
    ("returns", "returns (quota)", "{:,.0f}"),
    ("arrivals_per_return", "arrivals per return (policy period)", "{:,.1f}"),
    ("achieved_return_rate", "returns per eligible arrival (policy period)", "{:.1%}"),
    ("recross_share_6m", "returned people arriving again within 6 months", "{:.1%}"),
    ("prevented_share", "prevented share of people launched", "{:.1%}"),
    ("deaths", "deaths at sea", "{:,.0f}"),
    ("deterred_upstream", "deterred upstream (went elsewhere before the coast)", "{:,.0f}"),
    ("left_route", "left the route (to other EU states)", "{:,.0f}"),
    ("legal_admissions", "admitted by the legal route", "{:,.0f}"),
    ("mean_price_gbp", "mean price per seat, last 26 weeks (GBP)", "{:,.0f}"),
    ("market_profit_margin", "market profit margin, last 26 weeks", "{:.1%}"),
    ("active_gangs_end", "active gangs at the end", "{:,.0f}"),
    ("gangs_at_policy_start", "active gangs at the policy start", "{:,.0f}"),
    ("viable_demand_share", "would-be customers paying the lowest cost of a seat", "{:.1%}"),
    ("critical_return_rate", "return rate at which covered demand stops filling boats", "{:.1%}"),
    ("business_model_broken", "business model broken?", "{}"),
    ("verdict_reasons", "criteria that hold", "{}"),
)


#: Measures ``compare`` reports beyond the run summary's, with its labels
#: (``sim.experiments.analysis.COMPARE_MEASURES``): the industry's rents, the people displaced
#: and the UK's spending.
_MARKET_MEASURES = ("gang_profit_gbp_window", "displaced_policy_period", "uk_cost_gbp_policy_period")


def posterior_rows() -> tuple[tuple[str, str, str], ...]:
    """The rows of ``compare --posterior``: the run summary's measures and, after the market's
    margin, the industry's rents, the people displaced and the UK's spending as ``compare``
    labels them (imported here: the analysis needs pandas, which the CLI loads only to compare)."""
    from sim.experiments.analysis import COMPARE_MEASURES

    rows = []
    for row in SUMMARY_ROWS:
        if row[0] != "verdict_reasons":      # the names of the criteria: text, not a measure
            rows.append(row)
        if row[0] == "market_profit_margin":
            rows.extend((k, COMPARE_MEASURES[k], "{:,.0f}") for k in _MARKET_MEASURES)
    return tuple(rows)


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fmt.format(value)


def format_summary_table(summaries: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: one column per scenario, one row per measure."""
    names = list(summaries)
    width = max(12, *(len(n) + 2 for n in names))
    label_w = max(len(r[1]) for r in SUMMARY_ROWS) + 2
    lines = [" " * label_w + "".join(f"{n:>{width}}" for n in names)]
    for key, label, fmt in SUMMARY_ROWS:
        cells = "".join(f"{_fmt(summaries[n].get(key), fmt):>{width}}" for n in names)
        lines.append(f"{label:<{label_w}}{cells}")
    return "\n".join(lines)


#: ``--years`` accepts this range: at least two days (a run ends after its start), at most 60 years.
YEARS_RANGE = (0.005, 60.0)


def _check_seed(seed: int, flag: str = "--seed") -> None:
    if seed < 0:
        raise ConfigError(f"{flag}: must be a whole number >= 0, got {seed}")


def _check_workers(args: argparse.Namespace) -> None:
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: must be a whole number >= 1 (processes or Dask workers), got {workers}")


def _check_replications(replications: int | None, at_least: int, why: str = "", flag: str = "--replications") -> None:
    if replications is not None and replications < at_least:
        raise ConfigError(f"{flag}: must be a whole number >= {at_least}{why}, got {replications}")


def _check_years(years: float | None) -> None:
    lo, hi = YEARS_RANGE
    if years is not None and not lo <= years <= hi:
        raise ConfigError(f"--years: must be in [{lo:g}, {hi:g}] (at least two days, at most {hi:g} years), "
                          f"got {years:g}")


def _check_date(text: str, flag: str) -> None:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag}: '{text}' is not a date; give YYYY-MM-DD, e.g. 2024-01-01") from None


def _check_distinct(configs: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, c in enumerate(configs, 1):
        if c in seen:
            raise ConfigError(f"scenario '{c}' is given twice (positions {seen[c]} and {i}); compare needs distinct "
                              "scenarios (to compare a scenario with itself, copy it under another name)")
        seen[c] = i


def _output_dir(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a directory this process can write (created if needed), or ConfigError naming it."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {out}: is a file, not a directory; give a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".channel-sim-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{flag} {out}: cannot write there ({exc.strerror or exc}); give a writable directory") \
            from None
    return out


def _file_stem(name: str, taken: set[str]) -> str:
    """A file-name stem for scenario ``name`` that no earlier scenario of the run uses."""
    stem, k = name, 2
    while stem in taken:
        stem = f"{name}-{k}"
        k += 1
    taken.add(stem)
    return stem


def _cmd_run(args: argparse.Namespace) -> int:
    import sim
    from sim.plots import save_figures

    _check_seed(args.seed)
    _check_years(args.years)
    _check_date(args.since, "--since")
    overrides = parse_overrides(args.set)
    configs = [load_config(c, overrides=overrides) for c in args.configs]  # validate all first
    out = _output_dir(args.out)
    results = {}
    taken: set[str] = set()
    for cfg in configs:
        t0 = time.perf_counter()
        res = sim.run(cfg, seed=args.seed, years=args.years)
        name = _file_stem(cfg.name, taken)
        if name != cfg.name:
            print(f"two scenarios are named '{cfg.name}': this one is shown and written as '{name}'",
                  file=sys.stderr)
        results[name] = res
        path = out / f"{name}_timeseries.csv"
        res.timeseries.to_csv(path)
        (out / f"{name}_summary.json").write_text(json.dumps(res.summary, indent=1, default=str, allow_nan=True) + "\n")
        print(f"ran {name}: {len(res.timeseries):,} days in {time.perf_counter() - t0:.1f} s -> {path} "
              f"(summary: {name}_summary.json)", file=sys.stderr)
    print(f"seed {args.seed}; {configs[0].start_date} to {results[next(iter(results))].timeseries.index[-1].date()}")
    print(format_summary_table({n: r.summary for n, r in results.items()}))
    paths = save_figures({n: r.timeseries for n, r in results.items()}, out, since=args.since, fmt=args.format)
    for p in paths:
        print(f"figure: {p}")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    rows = parameter_table(args.section)
    if not rows:
        sections = list(dict.fromkeys(r["path"].split(".")[0] for r in parameter_table(None) if "." in r["path"]))
        close = difflib.get_close_matches(str(args.section), sections, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"no parameters under '{args.section}'{hint} (sections: {', '.join(sections)})")
    for r in rows:
        print(f"{r['path']:<48} {r['default']:>14} {r['unit']:<22} {r['range']:<18} {r['source']}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, overrides=parse_overrides(args.set))
    print(f"{args.config}: valid ({cfg.name}, {cfg.start_date} to {cfg.end_date}, {cfg.n_days:,} days)")
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    """Serve the interactive dashboard (sim/app.py) with ``solara run``; Ctrl-C stops it."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("solara") is None:
        print("channel-sim: error: the dashboard needs the viz extra: pip install -e '.[viz]'", file=sys.stderr)
        return 2
    app = Path(__file__).resolve().parent / "app.py"
    cmd = [sys.executable, "-m", "solara", "run", str(app), "--host", args.host, "--port", str(args.port),
           "--open" if args.open else "--no-open"]
    if not args.dev:
        cmd.append("--production")
    print(f"channel-sim: dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


def _executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=("serial", "process", "dask"), default="process",
                   help="serial, local processes (default), or a Dask cluster")
    p.add_argument("--workers", type=int, default=None, help="processes or Dask workers (default: all cores)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (implies --executor dask)")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim.experiments.engine import describe_failures, failed_runs, load_sweep, run_experiment

    _check_workers(args)
    _check_years(args.years)
    exp = load_sweep(args.sweep, replications=args.replications)
    extra = parse_overrides(args.set)
    if extra or args.years is not None:   # --set and --years on top of the file's overrides
        from sim.simulate import end_after_years

        exp = dataclasses.replace(exp, overrides={**exp.overrides, **extra})
        if args.years is not None:
            base = exp.base_config_dict() or {}
            if "start_date" not in base:
                raise ConfigError(f"--years: the sweep's model ({exp.model}) has no start date; use --set")
            start = dt.date.fromisoformat(str(base["start_date"]))
            exp = dataclasses.replace(exp, overrides={**exp.overrides,
                                                      "end_date": end_after_years(start, args.years).isoformat()})
        try:
            exp.base_config_dict()
        except ConfigError as exc:
            raise ConfigError(f"{args.sweep} with --set/--years: {exc}") from None
    out = Path(args.out) if args.out else Path("outputs") / "sweeps" / exp.name
    executor = "dask" if args.scheduler else args.executor
    print(f"{exp.name}: {exp.design.n_points} points x {exp.design.replications} replications = "
          f"{exp.design.n_runs} runs ({exp.design.kind} design) -> {out}", file=sys.stderr)
    try:
        store = run_experiment(exp, out, executor=executor, workers=args.workers, scheduler=args.scheduler,
                               retry_failed=args.retry_failed, progress=not args.quiet,
                               command_line=["channel-sim", *sys.argv[1:]])
    except ConfigError as exc:  # a design point that is not a valid configuration: name the sweep file too
        raise ConfigError(f"{args.sweep}: {exc}") from None
    failed = failed_runs(store)
    if len(failed):
        print(f"channel-sim: {describe_failures(failed, exp.design.n_runs)}; their tracebacks are in the runs "
              f"table (channel-sim export {out}); rerun with --retry-failed to try them again", file=sys.stderr)
        return 1
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim.experiments.analysis import compare, format_comparison
    from sim.plots import save_comparison_figures
    from sim.simulate import end_after_years

    _check_seed(args.seed)
    _check_years(args.years)
    if args.posterior is None:
        _check_replications(args.replications, 2, " (a confidence interval needs two runs of each scenario)")
    else:
        _check_replications(args.replications, 1, "")
        _check_replications(args.draws, 1, "", flag="--draws")
        _check_replications(args.paths, 1, "", flag="--paths")
    _check_workers(args)
    _check_distinct(args.configs)
    overrides = parse_overrides(args.set)
    if args.posterior is not None and args.future != "scenario":
        overrides = {**overrides, "environment.future_inflow": args.future}
    configs = [load_config(c, overrides=overrides) for c in args.configs]  # validate all before running
    if args.years is not None:   # the same horizon for every scenario: pairs compare the same days
        starts = sorted({c.start_date for c in configs})
        if len(starts) > 1:
            raise ConfigError(f"--years: the scenarios start on different dates ({', '.join(map(str, starts))}); "
                              "set end_date with --set instead")
        overrides = {**overrides, "end_date": end_after_years(starts[0], args.years).isoformat()}
    out = _output_dir(args.out)
    t0 = time.perf_counter()
    executor = "dask" if args.scheduler else args.executor
    if args.posterior is not None:
        return _compare_posterior(args, overrides, out, executor, t0)
    result = compare(args.configs, replications=args.replications, seed=args.seed, overrides=overrides,
                     out=out / "store", executor=executor, workers=args.workers, progress=not args.quiet)
    print(format_comparison(result))
    verdict = result.table[result.table["measure"] == "business_model_broken"]
    if len(verdict):
        broken = ", ".join(f"{r.scenario} {r.mean:.0%}" for r in verdict.itertuples(index=False))
        print(f"\nbusiness model broken (share of {args.replications} runs): {broken}")
    print("one parameter set (the calibration's shipped point): the intervals are Monte Carlo noise only; "
          "over the posterior: --posterior docs/calibration (make study)")
    for p in save_comparison_figures(result, out, fmt=args.format):
        print(f"figure: {p}")
    print(f"({len(args.configs) * args.replications} runs, seed {args.seed}, "
          f"{time.perf_counter() - t0:.0f} s; store: {out / 'store'})", file=sys.stderr)
    return 0


def _compare_posterior(args: argparse.Namespace, overrides: dict[str, Any], out: Path, executor: str,
                       t0: float) -> int:
    """``compare --posterior``: every scenario over weighted posterior draws x future inflow paths x
    replications (:mod:`sim.experiments.predictive`); writes predictive.csv and the band figure."""
    from sim.experiments.predictive import (
        format_predictive,
        plot_predictive,
        posterior_draws,
        predictive_runs,
        predictive_table,
    )

    _check_posterior(args.posterior)
    draws = posterior_draws(args.posterior, args.draws, seed=args.seed)
    n_runs = len(args.configs) * args.draws * args.paths * args.replications
    print(f"{len(args.configs)} scenarios x {args.draws} posterior draws x {args.paths} future inflow paths x "
          f"{args.replications} replications = {n_runs} runs (future inflow: {args.future})", file=sys.stderr)
    if args.block is not None and args.block < 1:
        raise ConfigError(f"--block: must be a whole number of draws >= 1, got {args.block}")
    runs = predictive_runs(args.configs, draws, out / "store", paths=args.paths, replications=args.replications,
                           seed=args.seed, overrides=overrides, executor=executor, workers=args.workers,
                           progress=not args.quiet, block=args.block)
    posterior = posterior_rows()
    rows = {k: (label, fmt) for k, label, fmt in posterior}
    measures = [k for k, _, _ in posterior if k in runs.columns]
    table = predictive_table(runs, measures)
    table.to_csv(out / "predictive.csv", index=False)
    runs.to_csv(out / "predictive_runs.csv", index=False)
    draws.to_csv(out / "posterior_draws.csv", index=False)
    print(format_predictive(table, rows))
    shown = ["arrivals_uk_policy_period", "paid_crossings_policy_period", "deaths", "critical_return_rate"]
    fig = plot_predictive(runs, shown, {k: rows[k][0] for k in shown if k in rows})
    fig.savefig(out / f"predictive_bands.{args.format}", dpi=150)
    print(f"table: {out / 'predictive.csv'}\nfigure: {out / f'predictive_bands.{args.format}'}")
    print(f"({n_runs} runs, seed {args.seed}, {time.perf_counter() - t0:.0f} s; store: {out / 'store'})",
          file=sys.stderr)
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    from sim.experiments.ablation import ablation, format_ablation

    _check_seed(args.seed)
    _check_replications(args.replications, 2, " (a confidence interval needs two runs of each setting)")
    _check_workers(args)
    overrides = parse_overrides(args.set)
    for c in (args.reference, *args.policies):
        load_config(c, overrides=overrides)                       # validate before running
    out = _output_dir(args.out)
    t0 = time.perf_counter()
    df = ablation(args.policies, reference=args.reference, replications=args.replications, seed=args.seed,
                  overrides=overrides, out=out / "stores", executor=args.executor, workers=args.workers,
                  progress=not args.quiet)
    df.to_csv(out / "ablation.csv", index=False)
    print(format_ablation(df))
    print(f"({time.perf_counter() - t0:.0f} s; table: {out / 'ablation.csv'})", file=sys.stderr)
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim.experiments.analysis import load_store, point_table

    store = load_store(args.dir)
    manifest = store.read_manifest()
    runs = store.runs(columns=["run_id", "status"])
    n_ok = int((runs["status"] == "ok").sum()) if len(runs) else 0
    print(f"{manifest.get('name')}: {manifest['design']['kind']} design, {len(runs)} of {manifest['n_runs']} runs "
          f"in the store ({n_ok} ok, {len(runs) - n_ok} failed); root seed {manifest['seed']}")
    table = point_table(store)
    if len(table):
        cols = [c for c in table.columns if not c.endswith(("_lower", "_upper"))]
        with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 200):
            print(table[cols].round(3).to_string(index=False))
    kind = manifest["design"]["kind"]
    if kind in ("sobol", "morris"):
        from sim.experiments import sensitivity

        fn = sensitivity.sobol_indices if kind == "sobol" else sensitivity.morris_indices
        print(fn(store, args.outputs).round(3).to_string(index=False))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from sim.experiments.analysis import load_store

    store = load_store(args.dir)
    if args.flat:   # one row per run: parameters, seed and summary (for spreadsheets and R)
        tables: tuple[tuple[str, Any], ...] = (("results", store.results()),)
    else:
        tables = (("runs", store.runs()), ("summaries", store.summaries()), ("timeseries", store.timeseries()))
    out = _output_dir(args.out if args.out else Path(args.dir) / "csv")
    written = []
    for name, df in tables:
        path = out / f"{name}.csv"
        df.to_csv(path, index=False)
        written.append(f"{path} ({len(df):,} rows)")
    print("\n".join(written))
    return 0


def _cmd_store_check(args: argparse.Namespace) -> int:
    """Verify every chunk of a store (and with --repair, repair it) under the writer's lock."""
    import contextlib

    from sim.experiments.store import ExperimentStore, StoreReadOnlyError

    path = Path(args.dir)
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory (give an experiment store: a folder with manifest.json)")
    store = ExperimentStore(path)
    if not store.exists() and not (path / "runs").is_dir():
        raise ConfigError(f"{path} is not an experiment store (no manifest.json and no runs/)")
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(store.lock(["channel-sim", *sys.argv[1:]]))
        except StoreReadOnlyError as exc:
            if args.repair:
                raise
            print(f"channel-sim: {exc}; checking without the writer's lock", file=sys.stderr)
        report = store.check(repair=args.repair)
    print(report.format())
    return 0 if report.healthy else 1


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.calibration.abc import calibrate, load_calibration_spec

    _check_workers(args)
    spec = load_calibration_spec(args.spec, budget=args.budget, particles=args.particles,
                                 replications=args.replications, seed=args.seed)
    out = Path(args.out) if args.out else Path("outputs") / "calibration" / spec.name
    method = "emulator-assisted ABC-SMC" if spec.emulator else f"ABC-SMC, {spec.particles} particles"
    print(f"calibrating {spec.name}: {len(spec.parameters)} parameters, {method}, {spec.replications} "
          f"replications, budget {spec.budget} runs -> {out}", file=sys.stderr)
    executor = "dask" if args.scheduler else args.executor
    if spec.emulator:   # the spec asks for the emulator-assisted method (sim/calibration/emulated.py)
        from sim.calibration.emulated import calibrate_emulated

        result = calibrate_emulated(spec, out, executor=executor, workers=args.workers, scheduler=args.scheduler,
                                    progress=not args.quiet)
    else:
        result = calibrate(spec, out, executor=executor, workers=args.workers, scheduler=args.scheduler,
                           progress=not args.quiet)
    table = result.summary_table()
    with_prior = table.assign(prior=[f"[{a:g}, {b:g}]" for a, b in zip(table.prior_low, table.prior_high, strict=True)])
    print(with_prior[["parameter", "prior", "mean", "sd", "q05", "q95", "chosen"]].to_string(
        index=False, float_format=lambda x: f"{x:.4g}"))
    print("\n" + result.diagnostics_text())
    print(f"\n{result.runs} runs, {len(result.epsilons)} generations, thresholds "
          f"{', '.join(f'{e:.3f}' for e in result.epsilons)}; {result.wall_seconds / 60:.1f} min "
          "(this invocation; finished runs already in the folder are not rerun)")
    print(f"chosen configuration ({result.chosen_from}): {out / 'calibrated.yaml'}; "
          f"particles: {out / 'particles.parquet'}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from sim.calibration.report import validate, write_report

    _check_workers(args)
    _check_replications(args.replications, 1)
    overrides = parse_overrides(args.set)
    cfg = load_config(args.config, overrides=overrides)
    out = Path(args.out)
    t0 = time.perf_counter()
    v = validate(cfg.model_dump(mode="json"), out=Path(args.store) if args.store else out.parent / f".{out.name}-runs",
                 replications=args.replications, seed=args.seed,
                 executor="dask" if args.scheduler else args.executor, workers=args.workers,
                 scheduler=args.scheduler, progress=not args.quiet)
    path = write_report(v, out, calibration=args.calibration)
    table = v.table()
    for r in table.itertuples(index=False):
        print(f"{'met ' if r.met else 'MISS'}  {r.target:<30} error {r.error:5.2f}  observed {r.observed}")
    cal = table["calibration"] if "calibration" in table else [True] * len(table)
    fit, check = table[cal], table[[not c for c in cal]]
    print(f"{int(fit['met'].sum())} of {len(fit)} calibration targets met"
          + (f", {int(check['met'].sum())} of {len(check)} validation targets met" if len(check) else "")
          + f"; report: {path} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


def _check_posterior(posterior: str | None) -> None:
    """A --posterior folder must hold a posterior.csv (None: the scenario's own parameters)."""
    if posterior is not None and not (Path(posterior) / "posterior.csv").is_file():
        raise ConfigError(f"--posterior: no posterior.csv in {posterior} (a calibration folder such as "
                          "docs/calibration, or 'none' for the scenario's own parameters)")


def _cmd_forecast(args: argparse.Namespace) -> int:
    from sim.calibration.data import load_daily
    from sim.forecast.model import ModelForecaster
    from sim.forecast.report import forecast_table, format_forecast, rolling_validation

    _check_workers(args)
    _check_replications(args.replications, 1)
    _check_replications(args.draws, 1, flag="--draws")
    if not 1 <= args.horizon <= 60:
        raise ConfigError(f"--horizon: must be a whole number of months in [1, 60], got {args.horizon}")
    posterior = None if str(args.posterior).lower() == "none" else args.posterior
    if posterior is None and args.posterior is None and Path("docs/calibration/posterior.csv").is_file():
        posterior = "docs/calibration"      # the default, in a clone of the repository: the converged posterior
    elif args.posterior is None:
        print("channel-sim: no posterior given (--posterior) and no docs/calibration here: the scenario's own "
              "parameters are used", file=sys.stderr)
    _check_posterior(posterior)
    overrides = parse_overrides(args.set)
    load_config(args.scenario, overrides=overrides)          # a bad scenario or override: one clear error
    daily = load_daily()
    fc = ModelForecaster(scenario=args.scenario, posterior=posterior, draws=args.draws,
                         replications=args.replications, seed=args.seed, executor=args.executor,
                         workers=args.workers,
                         out=Path(args.store) if args.store else Path(args.out).parent / f".{Path(args.out).name}-runs",
                         overrides=overrides,
                         progress=not args.quiet)
    t0 = time.perf_counter()
    if args.rolling:
        scores, _ = rolling_validation(fc, daily, args.out, horizon_months=args.horizon)
        cols = ["forecaster", "origin", "coverage50", "coverage90", "interval_score90", "crps", "crps_rel"]
        print(scores[cols].to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
        print(f"rolling-origin forecasts: {args.out}/rolling_scores.csv, rolling.png, rolling.md "
              f"({time.perf_counter() - t0:.0f} s)")
        return 0
    if args.until is None:
        raise ConfigError("--until: give the forecast origin, a month end such as 2025-07-31 (or use --rolling)")
    try:
        until = dt.date.fromisoformat(args.until)
    except ValueError:
        raise ConfigError(f"--until: must be a date YYYY-MM-DD, got {args.until!r}") from None
    first, last = daily.index.min().date(), daily.index.max().date()
    start = load_config(args.scenario, overrides=overrides).start_date
    if (until + dt.timedelta(days=1)).day != 1 or not max(first, start) < until <= last:
        raise ConfigError(f"--until: must be a month end after the runs' start ({start}) and within the data "
                          f"({first} to {last}), got {until}")
    table, samples = forecast_table(fc, daily, until, args.horizon)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "forecast.csv", index=False)
    samples.T.to_csv(out / "forecast_samples.csv")
    print(format_forecast(table, until, len(samples)))
    print(f"written: {out}/forecast.csv, forecast_samples.csv ({time.perf_counter() - t0:.0f} s)")
    return 0


def _cmd_attribute(args: argparse.Namespace) -> int:
    from sim.experiments.attribution import (
        attribute,
        format_attribution,
        parse_period,
        plot_attribution,
    )

    _check_workers(args)
    _check_replications(args.replications, 1)
    _check_replications(args.draws, 1, flag="--draws")
    before, after = parse_period(args.from_period, "--from"), parse_period(args.to_period, "--to")
    posterior = None if args.posterior in (None, "none") else args.posterior
    _check_posterior(posterior)
    res = attribute(args.scenario, before, after, reference=args.reference, posterior=posterior, draws=args.draws,
                    replications=args.replications, seed=args.seed, executor=args.executor, workers=args.workers,
                    overrides=parse_overrides(args.set))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res.summary().to_csv(out / "attribution.csv", index=False)
    res.values.to_csv(out / "attribution_values.csv", index=False)
    res.runs.to_csv(out / "attribution_runs.csv", index=False)
    plot_attribution(res).savefig(out / "attribution.png", dpi=120, bbox_inches="tight")
    print(format_attribution(res))
    print(f"written: {out}/attribution.csv, attribution_values.csv, attribution_runs.csv, attribution.png "
          f"({res.seconds:.0f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    import sim

    ap = argparse.ArgumentParser(prog="channel-sim", description="Agent-based model of the Channel small-boat market.")
    ap.add_argument("--version", action="version", version=f"%(prog)s {sim.__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one or more scenarios and print their summaries side by side")
    r.add_argument("configs", nargs="+", help="scenario files or shipped names (baseline, pilot_50, ...)")
    r.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    r.add_argument("--years", type=float, default=None, help="simulate this many years from the start date")
    r.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field, e.g. returns.quota_per_week=200")
    r.add_argument("--out", default="outputs", help="directory for time series and figures (default outputs/)")
    r.add_argument("--since", default="2024-01-01", help="first date shown in the figures (default 2024-01-01)")
    r.add_argument("--format", choices=("png", "svg", "pdf"), default="png", help="figure file format (default png)")
    r.set_defaults(func=_cmd_run)

    p = sub.add_parser("params", help="print the parameter table (unit, default, range, source)")
    p.add_argument("section", nargs="?", default=None, help="e.g. returns, gangs, migrants")
    p.set_defaults(func=_cmd_params)

    s = sub.add_parser("sweep", help="run (or resume) a parameter sweep from a sweep file into a Parquet store")
    s.add_argument("sweep", help="sweep file, or the name of a shipped one (e.g. quota_vs_interception)")
    s.add_argument("--out", default=None, help="store directory (default outputs/sweeps/NAME)")
    s.add_argument("--replications", type=int, default=None, help="override the file's replications")
    s.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field of the base (repeatable)")
    s.add_argument("--years", type=float, default=None, help="simulate this many years from the start date")
    s.add_argument("--retry-failed", action="store_true", help="rerun runs that failed before")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    _executor_args(s)
    s.set_defaults(func=_cmd_sweep)

    cp = sub.add_parser("compare", help="compare scenarios on common random numbers, with confidence intervals")
    cp.add_argument("configs", nargs="+", help="scenarios; the first is the reference")
    cp.add_argument("--replications", type=int, default=10, help="runs per scenario (default 10)")
    cp.add_argument("--seed", type=int, default=1, help="root seed (default 1)")
    cp.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field in every scenario")
    cp.add_argument("--years", type=float, default=None,
                    help="simulate this many years from the (common) start date instead of up to end_date")
    cp.add_argument("--out", default="outputs/compare", help="directory for the store and figures")
    cp.add_argument("--format", choices=("png", "svg", "pdf"), default="png", help="figure file format (default png)")
    cp.add_argument("--quiet", action="store_true", help="no progress bar")
    cp.add_argument("--posterior", default=None, metavar="DIR",
                    help="run over weighted draws of a calibration's posterior (DIR/posterior.csv, e.g. "
                         "docs/calibration): predictive table with the variance split")
    cp.add_argument("--draws", type=int, default=20, help="with --posterior: posterior draws (default 20)")
    cp.add_argument("--paths", type=int, default=2, help="with --posterior: future inflow paths (default 2)")
    cp.add_argument("--block", type=int, default=None, metavar="N",
                    help="with --posterior: run the draws in blocks of N, each its own store under --out/store "
                         "(an interrupted study keeps its finished blocks and resumes; default: one store)")
    cp.add_argument("--future", choices=("ensemble", "fixed", "scenario"), default="ensemble",
                    help="with --posterior: the inflow after the last calibrated year (default ensemble; "
                         "'scenario' keeps each scenario's environment.future_inflow)")
    _executor_args(cp)
    cp.set_defaults(func=_cmd_compare)

    ab = sub.add_parser("ablate", help="which mechanism carries each policy effect: paired runs with one "
                                       "mechanism switched off at a time")
    ab.add_argument("policies", nargs="+", help="policy scenarios")
    ab.add_argument("--reference", default="baseline", help="the no-policy scenario (default baseline)")
    ab.add_argument("--replications", type=int, default=6, help="runs per scenario and setting (default 6)")
    ab.add_argument("--seed", type=int, default=1, help="root seed (default 1)")
    ab.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field in every scenario")
    ab.add_argument("--out", default="outputs/ablation", help="directory for the stores and the table")
    ab.add_argument("--quiet", action="store_true", help="no progress bar")
    _executor_args(ab)
    ab.set_defaults(func=_cmd_ablate)

    a = sub.add_parser("analyze", help="summarise an experiment store (and sensitivity indices for Sobol/Morris)")
    a.add_argument("dir")
    a.add_argument("--outputs", nargs="+", default=["arrivals_uk_policy_period", "market_profit_margin"],
                   help="summary measures for sensitivity indices")
    a.set_defaults(func=_cmd_analyze)

    e = sub.add_parser("export", help="write an experiment store's tables as CSV (for spreadsheets)")
    e.add_argument("dir")
    e.add_argument("--csv", action="store_true", help="CSV format (the only one; for clarity)")
    e.add_argument("--flat", action="store_true",
                   help="write one table, results.csv: one row per run with its parameters, seed and summary")
    e.add_argument("--out", default=None, help="directory (default DIR/csv)")
    e.set_defaults(func=_cmd_export)

    st = sub.add_parser("store", help="check (and repair) an experiment store")
    st_sub = st.add_subparsers(dest="store_command", required=True)
    sc = st_sub.add_parser("check", help="verify every chunk; find damaged chunks, duplicate and missing runs "
                                         "(exit 0 if healthy, 1 if not)")
    sc.add_argument("dir", help="the store (a sweep's --out directory)")
    sc.add_argument("--repair", action="store_true",
                    help="move damaged chunks to DIR/quarantine/ and keep one row per run id; resuming the "
                         "sweep then reruns what is missing")
    sc.set_defaults(func=_cmd_store_check)

    d = sub.add_parser("app", help="serve the interactive dashboard in the browser (needs the viz extra)")
    d.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    d.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    d.add_argument("--open", action="store_true", help="also open a browser window")
    d.add_argument("--dev", action="store_true", help="solara's development mode: reload when the code changes")
    d.set_defaults(func=_cmd_app)

    cal = sub.add_parser("calibrate", help="calibrate to the Home Office series and published figures (ABC-SMC)")
    cal.add_argument("--spec", default=str(CONFIG_DIR / "calibration" / "baseline_emulated.yaml"),
                     help="calibration file (default: sim/configs/calibration/baseline_emulated.yaml, the "
                          "emulator-assisted method behind the shipped baseline; baseline.yaml: plain ABC-SMC)")
    cal.add_argument("--budget", type=int, default=None, help="total runs (default: the file's)")
    cal.add_argument("--particles", type=int, default=None, help="population size (default: the file's)")
    cal.add_argument("--replications", type=int, default=None, help="runs per candidate (default: the file's)")
    cal.add_argument("--seed", type=int, default=None, help="root seed (default: the file's)")
    cal.add_argument("--out", default=None, help="output folder (default outputs/calibration/NAME)")
    cal.add_argument("--quiet", action="store_true", help="no progress bar")
    _executor_args(cal)
    cal.set_defaults(func=_cmd_calibrate)

    v = sub.add_parser("validate", help="report simulated against observed for every calibration target")
    v.add_argument("--config", default="baseline", help="scenario to validate (default baseline)")
    v.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field")
    v.add_argument("--replications", type=int, default=8, help="runs (default 8)")
    v.add_argument("--seed", type=int, default=20250731, help="root seed (default 20250731)")
    v.add_argument("--out", default="outputs/validation", help="report folder (default outputs/validation)")
    v.add_argument("--store", default=None, help="store for the runs (default: a hidden folder beside --out)")
    v.add_argument("--calibration", default=None, help="calibration folder whose summary.json to include")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    _executor_args(v)
    v.set_defaults(func=_cmd_validate)

    fc = sub.add_parser("forecast", help="forecast monthly arrivals after a date, conditioned on the data up to it "
                                         "(or --rolling: the rolling-origin validation against two benchmarks)")
    fc.add_argument("--until", default=None, help="forecast origin: a month end within the data, e.g. 2025-07-31")
    fc.add_argument("--horizon", type=int, default=12, help="months ahead (default 12)")
    fc.add_argument("--rolling", action="store_true",
                    help="forecast from 2023-07-31, 2024-01-31 and 2024-07-31 and score against the data")
    fc.add_argument("--scenario", default="pilot_as_realised",
                    help="scenario run (default pilot_as_realised: the policies as they were)")
    fc.add_argument("--posterior", default=None,
                    help="calibration folder to draw parameters from (default: docs/calibration, the "
                         "converged posterior, if it is here, else the scenario's own parameters), or 'none'")
    fc.add_argument("--draws", type=int, default=10, help="posterior draws (default 10)")
    fc.add_argument("--replications", type=int, default=2, help="runs per draw (default 2)")
    fc.add_argument("--seed", type=int, default=1, help="root seed (default 1)")
    fc.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field of every run")
    fc.add_argument("--out", default="outputs/forecast", help="output folder (default outputs/forecast)")
    fc.add_argument("--store", default=None, help="folder for the runs' stores (default: a hidden folder beside --out)")
    fc.add_argument("--quiet", action="store_true", help="no progress bar")
    _executor_args(fc)
    fc.set_defaults(func=_cmd_forecast)

    at = sub.add_parser("attribute", help="attribute the change between two periods to the scenario's levers "
                                          "and the inflow (Shapley values over paired runs)")
    at.add_argument("scenario", help="scenario, e.g. pilot_as_realised")
    at.add_argument("--from", dest="from_period", required=True, metavar="START:END",
                    help="the earlier period, e.g. 2024-08:2025-07")
    at.add_argument("--to", dest="to_period", required=True, metavar="START:END",
                    help="the later period, e.g. 2025-08:2026-07")
    at.add_argument("--reference", default="baseline", help="scenario whose values a lever takes when off "
                                                            "(default baseline)")
    at.add_argument("--posterior", default=None, help="calibration folder to draw parameters from (or 'none')")
    at.add_argument("--draws", type=int, default=1, help="posterior draws (default 1)")
    at.add_argument("--replications", type=int, default=4, help="runs per draw and set of levers (default 4)")
    at.add_argument("--seed", type=int, default=1, help="root seed (default 1)")
    at.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field of every run")
    at.add_argument("--out", default="outputs/attribution", help="output folder (default outputs/attribution)")
    _executor_args(at)
    at.set_defaults(func=_cmd_attribute)

    from sim.calibration.update import register as register_data

    register_data(sub)

    c = sub.add_parser("check", help="validate a scenario file")
    c.add_argument("config")
    c.add_argument("--set", action="append", metavar="NAME=VALUE")
    c.set_defaults(func=_cmd_check)
    return ap


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # bare `channel-sim`: the help, not an error
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    from sim.experiments.engine import RunsFailedError, SweepInterrupted
    from sim.experiments.store import StoreError

    try:
        return args.func(args)
    except SweepInterrupted as exc:  # Ctrl-C or SIGTERM: what finished is stored; one line, no traceback
        print(f"channel-sim: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("channel-sim: interrupted", file=sys.stderr)
        return 130
    except RunsFailedError as exc:
        print(f"channel-sim: error: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, FileNotFoundError, StoreError) as exc:
        print(f"channel-sim: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the disk: full, read-only, no permission
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"channel-sim: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad experiment arguments (design, executor, replications)
        if getattr(args, "func", None) in (_cmd_sweep, _cmd_compare, _cmd_analyze, _cmd_calibrate, _cmd_validate):
            print(f"channel-sim: error: {exc}", file=sys.stderr)
            return 2
        _report_bug()
        return BUG_EXIT
    except Exception:  # noqa: BLE001 - a bug: the traceback, and a request to report it
        _report_bug()
        return BUG_EXIT


#: Exit status of a bug (an unexpected exception), as sysexits' EX_SOFTWARE.
BUG_EXIT = 70


def _report_bug() -> None:
    import traceback

    traceback.print_exc()
    print("channel-sim: this is a bug in channel-sim, not a problem with your input: please report it with the "
          "command you ran and the traceback above", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

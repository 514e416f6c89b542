"""The command line: ``channel-sim run``, ``channel-sim params``, ``channel-sim check``.

Examples::

    channel-sim run baseline pilot_50                 # side-by-side summary, figures in outputs/
    channel-sim run configs/pilot_50.yaml --seed 3 --years 2 --set returns.quota_per_week=200
    channel-sim params returns                        # the parameter table of a section
    channel-sim check my_scenario.yaml                # validate only
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from sim.params import ConfigError, load_config, parameter_table, parse_overrides

__all__ = ["main", "format_summary_table", "SUMMARY_ROWS"]

#: (summary key, label, format)
SUMMARY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("arrivals_uk", "arrivals in the UK (whole run)", "{:,.0f}"),
    ("arrivals_uk_policy_period", "arrivals since the policy start", "{:,.0f}"),
    ("returns", "returns (quota)", "{:,.0f}"),
    ("arrivals_per_return", "arrivals per return (policy period)", "{:,.1f}"),
    ("prevented_share", "prevented share of people launched", "{:.1%}"),
    ("deaths", "deaths at sea", "{:,.0f}"),
    ("left_route", "left the route (to other EU states)", "{:,.0f}"),
    ("legal_admissions", "admitted by the legal route", "{:,.0f}"),
    ("mean_price_gbp", "mean price per seat, last 26 weeks (GBP)", "{:,.0f}"),
    ("market_profit_margin", "market profit margin, last 26 weeks", "{:.1%}"),
    ("active_gangs_end", "active gangs at the end", "{:,.0f}"),
    ("business_model_broken", "business model broken?", "{}"),
)


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
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


def _cmd_run(args: argparse.Namespace) -> int:
    import sim
    from sim.plots import save_figures

    overrides = parse_overrides(args.set)
    configs = [load_config(c, overrides=overrides) for c in args.configs]  # validate all first
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for cfg in configs:
        t0 = time.perf_counter()
        res = sim.run(cfg, seed=args.seed, years=args.years)
        name = cfg.name
        while name in results:
            name += "'"
        results[name] = res
        path = out / f"{cfg.name}_timeseries.csv"
        res.timeseries.to_csv(path)
        print(f"ran {name}: {len(res.timeseries):,} days in {time.perf_counter() - t0:.1f} s -> {path}",
              file=sys.stderr)
    print(f"seed {args.seed}; {configs[0].start_date} to {results[next(iter(results))].timeseries.index[-1].date()}")
    print(format_summary_table({n: r.summary for n, r in results.items()}))
    paths = save_figures({n: r.timeseries for n, r in results.items()}, out, since=args.since)
    for p in paths:
        print(f"figure: {p}")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    rows = parameter_table(args.section)
    if not rows:
        raise ConfigError(f"no parameters under '{args.section}'")
    for r in rows:
        print(f"{r['path']:<48} {r['default']:>14} {r['unit']:<22} {r['range']:<18} {r['source']}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, overrides=parse_overrides(args.set))
    print(f"{args.config}: valid ({cfg.name}, {cfg.start_date} to {cfg.end_date}, {cfg.n_days:,} days)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="channel-sim", description="Agent-based model of the Channel small-boat market.")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one or more scenarios and print their summaries side by side")
    r.add_argument("configs", nargs="+", help="scenario files or shipped names (baseline, pilot_50, ...)")
    r.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    r.add_argument("--years", type=float, default=None, help="simulate this many years from the start date")
    r.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a field, e.g. returns.quota_per_week=200")
    r.add_argument("--out", default="outputs", help="directory for time series and figures (default outputs/)")
    r.add_argument("--since", default="2024-01-01", help="first date shown in the figures (default 2024-01-01)")
    r.set_defaults(func=_cmd_run)

    p = sub.add_parser("params", help="print the parameter table (unit, default, range, source)")
    p.add_argument("section", nargs="?", default=None, help="e.g. returns, gangs, migrants")
    p.set_defaults(func=_cmd_params)

    c = sub.add_parser("check", help="validate a scenario file")
    c.add_argument("config")
    c.add_argument("--set", action="append", metavar="NAME=VALUE")
    c.set_defaults(func=_cmd_check)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"channel-sim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

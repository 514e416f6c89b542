"""The command line: ``sim.cli.main(argv)`` in process and the installed ``channel-sim`` script.

Covers ``check`` (valid file, misspelt ``--set``), ``params`` (the parameter table),
``run`` (side-by-side summary table, time series CSVs and the overview PNG, whose
values are recomputed from the CSVs) and the error path: a bad configuration exits
with status 2, names the field on stderr without a traceback, and writes nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import SUMMARY_ROWS, format_summary_table, main
from sim.config import load_config
from sim.experiments.store import ExperimentStore
from sim.metrics import summarize
from sim.params import parameter_table

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LABELS = [label for _, label, _ in SUMMARY_ROWS]
Run = tuple[subprocess.CompletedProcess[str], Path]  # the script's result and its out dir


def _script() -> Path:
    beside = Path(sys.executable).parent / "channel-sim"
    if beside.is_file():
        return beside
    found = shutil.which("channel-sim")
    assert found, "the channel-sim console script is not installed (pip install -e .)"
    return Path(found)


def run_script(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the installed ``channel-sim`` and capture its output."""
    return subprocess.run([str(_script()), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})


def table_block(stdout: str) -> str:
    """The summary table printed by ``run``: from its header to the last measure."""
    lines = stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("seed "))
    last = next(i for i, line in enumerate(lines) if line.startswith(LABELS[-1]))
    return "\n".join(lines[first + 1:last + 1])


def table_cells(stdout: str) -> dict[str, list[str]]:
    """Label -> one cell per scenario (cells never contain two spaces)."""
    rows = {}
    for line in table_block(stdout).splitlines()[1:]:
        label, *cells = re.split(r"\s{2,}", line.strip())
        rows[label] = cells
    return rows


def number(cell: str) -> float:
    return float(cell.replace(",", "").rstrip("%"))


def read_ts(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col="date", parse_dates=["date"])


# ---------------------------------------------------------------------- check
def test_check_valid_file_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "sim" / "configs" / "pilot_50.yaml")]) == 0
    out = capsys.readouterr().out
    assert "valid (pilot_50, 2022-01-01 to 2027-12-31, 2,191 days)" in out


def test_check_script_accepts_the_pilot() -> None:
    res = run_script("check", "sim/configs/pilot_50.yaml")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("sim/configs/pilot_50.yaml: valid (pilot_50")
    assert res.stderr == ""


def test_check_script_misspelt_set_names_the_field() -> None:
    res = run_script("check", "sim/configs/pilot_50.yaml", "--set", "returns.quota_per_wek=5")
    assert res.returncode == 2
    assert "returns.quota_per_wek" in res.stderr
    assert "did you mean 'quota_per_week'" in res.stderr
    assert res.stderr.startswith("channel-sim: error:")
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["check", "pilot_50", "--set", "gangs.initial_gangs=0"],
         ("gangs.initial_gangs", "[1, 200]")),
        (["check", "pilot_50", "--set", "returns.quota_per_week=lots"],
         ("returns.quota_per_week", "[0, 100000] or 'all'")),
        (["check", "pilot_50", "--set", "nonsense"], ("name=value", "nonsense")),
        (["check", "no_such_file.yaml"], ("no_such_file.yaml", "not found")),
    ],
    ids=["out-of-range", "quota-lots", "malformed-set", "missing-file"],
)
def test_check_errors_exit_2(argv: list[str], expect: tuple[str, ...],
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for part in expect:
        assert part in captured.err


def test_check_set_is_applied(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "pilot_50", "--set", "end_date=2025-12-31"]) == 0
    assert "2022-01-01 to 2025-12-31" in capsys.readouterr().out


def test_usage_errors_exit_2() -> None:
    # bare `channel-sim` prints the help and exits 0 (tests/test_metadata.py)
    for argv in (["run"], ["frobnicate"], ["--frobnicate"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


# ---------------------------------------------------------------------- params
def test_params_prints_the_rows_of_a_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", "returns"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(parameter_table("returns")) > 5
    assert all(line.startswith("returns.") for line in lines)
    quota = next(line for line in lines if line.startswith("returns.quota_per_week "))
    assert "returns/week" in quota and "[0, 100000] or 'all'" in quota and "Le Monde" in quota
    assert any(line.startswith("returns.ramp_up.max_quota_per_week") for line in lines)


def test_params_without_section_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(parameter_table())


def test_params_unknown_section_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["params", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_params_script() -> None:
    res = run_script("params", "returns")
    assert res.returncode == 0
    assert "returns.quota_per_week" in res.stdout


# ---------------------------------------------------------------------- run (pilot active)
@pytest.fixture(scope="module")
def pilot_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The script's run of baseline and pilot_50 for half a year from 2025-06-01.

    The pilot starts on 2025-08-04 and returns come after a processing delay: half a
    year gives some four months of returns and legal admissions.
    """
    out = tmp_path_factory.mktemp("run") / "out"
    res = run_script("run", "baseline", "pilot_50", "--years", "0.5", "--seed", "3",
                     "--set", "start_date=2025-06-01", "--out", str(out))
    return res, out


def test_run_script_succeeds(pilot_run: Run) -> None:
    res, _ = pilot_run
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "ran baseline" in res.stderr and "ran pilot_50" in res.stderr
    assert "seed 3; 2025-06-01 to 2025-11-30" in res.stdout


def test_run_prints_a_side_by_side_table(pilot_run: Run) -> None:
    res, _ = pilot_run
    header, *rows = table_block(res.stdout).splitlines()
    assert header.split() == ["baseline", "pilot_50"]
    assert [r for r in rows if r.startswith("arrivals in the UK")]
    assert [r for r in rows if r.startswith("business model broken?")]
    cells = table_cells(res.stdout)
    assert list(cells) == LABELS
    assert all(len(c) == 2 for c in cells.values())


def test_run_writes_time_series_and_figure(pilot_run: Run) -> None:
    res, out = pilot_run
    assert sorted(p.name for p in out.iterdir()) == [
        "baseline_summary.json", "baseline_timeseries.csv", "overview.png", "pilot_50_summary.json",
        "pilot_50_timeseries.csv"]
    assert (out / "overview.png").read_bytes()[:8] == PNG_MAGIC
    assert f"figure: {out / 'overview.png'}" in res.stdout
    for name in ("baseline", "pilot_50"):
        ts = read_ts(out / f"{name}_timeseries.csv")
        assert len(ts) == 183
        assert ts.index[0] == pd.Timestamp("2025-06-01")
        assert ts.index[-1] == pd.Timestamp("2025-11-30")
        assert {"arrivals_uk", "returns", "legal_admissions", "active_gangs"} <= set(ts.columns)


#: Summary keys that come from the model's end state, not from the time series.
END_STATE_KEYS = {"ac_min_gbp", "viable_demand_share", "customers_at_cost_per_week", "min_scale_seats_per_week",
                  "critical_return_rate", "recross_share_6m", "business_model_broken", "verdict_reasons",
                  "future_inflow_factor"}


def test_run_table_matches_the_written_time_series(
        pilot_run: Run) -> None:
    # the table is the written summaries; every value that the time series determines is
    # recomputed from the CSVs with the model's own summary (the rest is the model's end state:
    # the demand and cost curves, re-crossings, and the verdict that uses them)
    res, out = pilot_run
    summaries = {}
    for name in ("baseline", "pilot_50"):
        written = json.loads((out / f"{name}_summary.json").read_text())
        summaries[name] = written
        cfg = load_config(name, {"start_date": "2025-06-01"})
        ts = read_ts(out / f"{name}_timeseries.csv")
        again = summarize(ts, cfg, cfg.gangs.initial_gangs)
        for key, value in again.items():
            if key in END_STATE_KEYS or key.startswith("criterion_") or value is None:
                continue
            if isinstance(value, float) and math.isnan(value):
                assert written[key] is None or math.isnan(float(written[key])), key
            elif isinstance(value, float):
                assert written[key] == pytest.approx(value, rel=1e-9), key
            else:
                assert written[key] == value, key
    assert table_block(res.stdout) == format_summary_table(summaries)


def test_run_table_values_make_sense(pilot_run: Run) -> None:
    res, out = pilot_run
    cells = table_cells(res.stdout)
    col = {"baseline": 0, "pilot_50": 1}

    def val(label: str, name: str) -> str:
        return cells[label][col[name]]

    pilot_ts = read_ts(out / "pilot_50_timeseries.csv")
    for name in col:
        ts = read_ts(out / f"{name}_timeseries.csv")
        assert number(val("arrivals in the UK (whole run)", name)) == round(ts["arrivals_uk"].sum())
        assert (number(val("arrivals since the policy start", name))
                <= number(val("arrivals in the UK (whole run)", name)))
        assert 0 <= number(val("prevented share of people launched", name)) <= 100
        assert number(val("active gangs at the end", name)) == ts["active_gangs"].iloc[-1]
        assert val("business model broken?", name) in ("yes", "no")
    # no returns quota and no legal route in the baseline
    assert val("returns (quota)", "baseline") == "0"
    assert val("arrivals per return (policy period)", "baseline") == "-"
    assert val("admitted by the legal route", "baseline") == "0"
    # the pilot is active from 2025-08-04 and returns people, at most 50 in each policy week
    start = pd.Timestamp("2025-08-04")
    quota = pilot_ts["returns_quota_per_week"]
    assert (quota[quota.index < start] == 0).all() and (quota[quota.index >= start] == 50).all()
    returns = number(val("returns (quota)", "pilot_50"))
    assert returns == pilot_ts["returns"].sum() > 0
    assert pilot_ts.loc[pilot_ts.index < start, "returns"].sum() == 0
    policy = pilot_ts.loc[pilot_ts.index >= start, "returns"]
    weekly = policy.groupby((policy.index - start).days // 7).sum()
    assert weekly.max() <= 50 and returns <= 50 * len(weekly)
    per_return = number(val("arrivals per return (policy period)", "pilot_50"))
    arrivals_policy = number(val("arrivals since the policy start", "pilot_50"))
    assert per_return == pytest.approx(arrivals_policy / returns, abs=0.05)
    # one admission per return, a week later at the earliest
    admitted = number(val("admitted by the legal route", "pilot_50"))
    assert admitted == pilot_ts["legal_admissions"].sum()
    assert 0 < admitted <= returns


# ---------------------------------------------------------------------- run (in process)
def test_run_in_process_before_the_pilot_matches_the_baseline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # with --years the run starts 2022-01-01, before the pilot: same seed, same history
    out = tmp_path / "out"
    argv = ["run", "baseline", "pilot_50", "--years", "0.25", "--seed", "3", "--out", str(out),
            "--since", "2022-01-01"]
    assert main(argv) == 0
    cells = table_cells(capsys.readouterr().out)
    assert all(base == pilot for base, pilot in cells.values())
    assert cells["returns (quota)"] == ["0", "0"]
    base, pilot = (read_ts(out / f"{n}_timeseries.csv") for n in ("baseline", "pilot_50"))
    pd.testing.assert_frame_equal(base, pilot)
    assert (out / "overview.png").read_bytes()[:8] == PNG_MAGIC


def test_run_is_reproducible_for_a_seed(tmp_path: Path) -> None:
    def csv(seed: int, out: str) -> str:
        argv = ["run", "baseline", "--years", "0.1", "--seed", str(seed),
                "--out", str(tmp_path / out), "--since", "2022-01-01"]
        assert main(argv) == 0
        return (tmp_path / out / "baseline_timeseries.csv").read_text()

    assert csv(5, "a") == csv(5, "b")
    assert csv(5, "a") != csv(6, "c")


def test_run_short_horizon_with_default_since(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "baseline", "--years", "0.1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "overview.png").is_file()


# ---------------------------------------------------------------------- run errors
def test_run_script_out_of_range_set_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    res = run_script("run", "baseline", "pilot_50", "--years", "0.1",
                     "--set", "gangs.initial_gangs=0", "--out", "out", cwd=tmp_path)
    assert res.returncode == 2
    for part in ("gangs.initial_gangs", "[1, 200]", "got 0"):
        assert part in res.stderr
    assert "Traceback" not in res.stderr
    assert "ran " not in res.stderr and res.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--set", "returns.quota_per_week=-1"],
         ("returns.quota_per_week", "[0, 100000] or 'all'")),
        (["--set", "patrols.prevention_max=1.5"], ("patrols.prevention_max", "[0.0, 1.0]")),
        (["--set", "returns.quota_per_wek=5"], ("returns.quota_per_wek", "quota_per_week")),
    ],
    ids=["quota", "prevention", "misspelt"],
)
def test_run_bad_set_leaves_out_dir_untouched(extra: list[str], expect: tuple[str, ...],
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    assert main(["run", "baseline", "pilot_50", "--years", "0.1", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    for part in expect:
        assert part in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "outputs").exists()


def test_run_unknown_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "baseline", "no_such_scenario", "--out", str(tmp_path / "out")]) == 2
    assert "no_such_scenario" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_years_sets_one_horizon_for_every_scenario(tmp_path):
    """``compare --years Y`` runs each scenario Y years from their common start date."""
    res = run_script("compare", "baseline", "pilot_50", "--replications", "2", "--years", "0.1", "--quiet",
                     "--out", str(tmp_path / "cmp"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    sums = ExperimentStore(tmp_path / "cmp" / "store").summaries()
    assert len(sums) == 4 and (sums["days"] == round(365.25 * 0.1)).all()


def test_compare_years_refuses_scenarios_that_start_on_different_dates(tmp_path):
    other = tmp_path / "later.yaml"
    other.write_text("extends: baseline\nname: later\nstart_date: 2023-01-01\n")
    res = run_script("compare", "baseline", str(other), "--years", "0.5", "--out", str(tmp_path / "c"), cwd=tmp_path)
    assert res.returncode == 2
    assert "--years" in res.stderr and "different dates" in res.stderr
    assert not (tmp_path / "c" / "store").exists()


def test_sweep_by_shipped_name_with_set_and_years(tmp_path, capsys):
    """A shipped sweep runs by name from any directory; ``--set`` and ``--years`` apply to its base."""
    out = tmp_path / "store"
    assert main(["sweep", "quota_vs_interception", "--replications", "1", "--years", "0.05", "--workers", "2",
                 "--set", "returns.processing_delay_days=7", "--quiet", "--out", str(out)]) == 0
    runs = ExperimentStore(out).results()
    assert len(runs) == 24 and (runs["status"] == "ok").all()
    assert (runs["days"] == round(365.25 * 0.05)).all()
    assert main(["sweep", "quota_vs_intercep", "--out", str(tmp_path / "x")]) == 2
    assert "did you mean 'quota_vs_interception'" in capsys.readouterr().err
    assert main(["sweep", "quota_vs_interception", "--set", "returns.quota_per_wek=3",
                 "--out", str(tmp_path / "y")]) == 2
    assert "quota_per_week" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()

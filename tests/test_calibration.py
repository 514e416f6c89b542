"""Calibration: the targets, the shipped baseline against them, ABC-SMC recovering known parameters."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.calibration import (
    CalibrationSpec,
    Prior,
    Target,
    default_targets,
    load_calibration_spec,
    load_published,
    observed,
    validate,
    write_report,
)
from sim.calibration.targets import ALBANIA_PERIODS, CALIBRATION_END, CALIBRATION_START, all_targets
from sim.cli import main
from sim.config import ConfigError


# ----------------------------------------------------------------------------- targets
def test_deaths_are_fitted_pooled_over_the_period_and_checked_year_by_year():
    """One calibration target pools the published counts of 2022-2025 (2025's at its
    January-July share: the series ends in July); each year is a validation target."""
    t = all_targets()
    pooled = t["deaths_per_1000_2022_2025"]
    assert pooled.calibration and pooled.name in default_targets().names
    arrivals = 45755 + 29437 + 36816 + 25436            # HO, January 2022 to July 2025
    part_2025 = 212 / 365                               # January-July of the 2025 count
    assert pooled.band == pytest.approx((1000 * (5 + 15 + 70 + 17 * part_2025) / arrivals,
                                         1000 * (5 + 15 + 82 + 36 * part_2025) / arrivals))
    for year in (2022, 2023, 2024, 2025):
        assert not t[f"deaths_per_1000_{year}"].calibration
    assert t["deaths_per_1000_2024"].band == pytest.approx((1000 * 70 / 36816, 1000 * 82 / 36816))
    assert t["deaths_per_1000_2025"].band == pytest.approx((1000 * 17 / (25436 / part_2025),
                                                            1000 * 36 / (25436 / part_2025)))


def test_every_pattern_is_a_target_with_observed_values_from_the_data():
    t = default_targets()
    assert t.names == ["arrivals_2022", "arrivals_2023", "arrivals_2024", "arrivals_2025_jan_jul", "monthly_arrivals",
                       "crossing_day_share_by_month", "people_per_boat_by_year", "prevented_share", "price_per_seat",
                       "zero_day_share", "top_1pct_day", "deaths_per_1000_2022_2025",
                       "albania_share_2022",
                       "albania_fall"]
    yearly = observed("yearly")["people"]
    assert float(t["arrivals_2022"].observed.iloc[0]) == yearly.loc["2022-01-01"] == 45755
    assert float(t["arrivals_2025_jan_jul"].observed.iloc[0]) == 25436
    monthly = t["monthly_arrivals"].observed
    assert len(monthly) == 43 and monthly.index[0] == "2022-01" and monthly.index[-1] == "2025-07"
    assert monthly.sum() == yearly.loc["2022-01-01":].sum()
    ppb = t["people_per_boat_by_year"].observed
    assert ppb["2022"] == pytest.approx(41.2, abs=0.1) and ppb["2025"] == pytest.approx(59.0, abs=0.1)
    assert t["prevented_share"].band == (0.38, 0.55)
    assert t["price_per_seat"].band == (1500.0, 6000.0)
    assert t["zero_day_share"].observed.iloc[0] == pytest.approx(0.581, abs=0.001)
    for target in t:
        assert target.source and target.unit and target.tolerance > 0, target.name


DEATHS_VALIDATION = ["deaths_per_1000_2022", "deaths_per_1000_2023", "deaths_per_1000_2024", "deaths_per_1000_2025"]
ALBANIA_VALIDATION = ["albania_share_2022h1", "albania_share_2022q3", "albania_share_2022q4", "albania_share_2023q1",
                      "albania_share_2023_jan_oct"]


def test_albanian_shares_by_period_are_validation_targets_outside_the_calibration_distance(tmp_path):
    full = all_targets()
    assert full.names == default_targets().names + DEATHS_VALIDATION + ALBANIA_VALIDATION
    assert full.validation_only().names == DEATHS_VALIDATION + ALBANIA_VALIDATION
    assert full.calibration_targets().names == default_targets().names
    assert all(t.calibration for t in default_targets())
    # the published figures: points for the Home Office counts, a range for the derived quarter, bounds
    assert float(full["albania_share_2022h1"].observed.iloc[0]) == 0.17
    assert float(full["albania_share_2022q3"].observed.iloc[0]) == 0.45
    assert full["albania_share_2022q4"].band == (0.06, 0.10)
    assert full["albania_share_2023q1"].band == (0.0, 0.05)
    assert full["albania_share_2023_jan_oct"].band == (0.035, 0.045)
    for name in ALBANIA_VALIDATION:
        t = full[name]
        assert not t.calibration and t.source and t.unit == "share" and 0.02 <= t.tolerance <= 0.15, name
    # a calibration cannot name them: the distance is over calibration targets only
    f = tmp_path / "spec.yaml"
    f.write_text(yaml.safe_dump({"parameters": {"patrols.prevention_max": [0.5, 0.9]},
                                 "targets": ["arrivals_2022", "albania_share_2022q3"]}))
    with pytest.raises(ConfigError, match="albania_share_2022q3"):
        load_calibration_spec(f)


def test_published_albanian_counts_agree_with_the_shares_and_the_home_office_series():
    pub = load_published()
    count = pub[pub["quantity"] == "albania_arrivals"].set_index("period")["low"]
    share = pub[pub["quantity"] == "albania_share_of_arrivals"].set_index("period")
    people = observed("daily")["people"]
    h1, q3, q4 = (float(people.loc[a:b].sum()) for a, b in (("2022-01-01", "2022-06-30"),
                                                              ("2022-07-01", "2022-09-30"),
                                                              ("2022-10-01", "2022-12-31")))
    assert (h1, h1 + q3, h1 + q3 + q4) == (12747, 33029, 45755)  # the denominators the sources quote
    assert count["2022-01..2022-06"] / h1 == pytest.approx(share.loc["2022-01..2022-06", "low"], abs=0.005)
    assert count["2022-07..2022-09"] / q3 == pytest.approx(share.loc["2022-07..2022-09", "low"], abs=0.005)
    assert count["2022-01..2022-06"] + count["2022-07..2022-09"] == count["2022-01..2022-09"]
    derived = (count["2022"] - count["2022-01..2022-09"]) / q4  # about 1,060 of 12,726
    assert share.loc["2022-10..2022-12", "low"] < derived < share.loc["2022-10..2022-12", "high"]
    assert [p.period for p in ALBANIA_PERIODS] == [p for p in share.index if p != "2022"]


def test_albanian_share_statistics_cover_their_periods():
    days = pd.date_range("2022-01-01", "2023-12-31", freq="D")
    people = pd.Series(100.0, index=days)
    share = pd.Series(0.03, index=days)
    share[:"2022-06-30"], share["2022-07-01":"2022-09-30"], share["2022-10-01":"2022-12-31"] = 0.17, 0.45, 0.08
    frame = pd.DataFrame({"people": people, "boats": 2.0, "people_albanian": people * share})
    t = all_targets()
    for name in ALBANIA_VALIDATION:
        assert t[name].met(t[name].compute(frame)), name
    assert t["albania_share_2022q4"].compute(frame).iloc[0] == pytest.approx(0.08)
    assert t["albania_share_2023_jan_oct"].error(t["albania_share_2023_jan_oct"].compute(frame)) == pytest.approx(
        0.25)  # 0.03 is 0.005 below the rounding band, tolerance 0.02
    # a constant share over 2022 (the model's) misses the mid-2022 surge and the fall before the deal
    flat = frame.assign(people_albanian=people * np.where(days < "2023-01-01", 0.2, 0.03))
    assert t["albania_share_2022q3"].error(t["albania_share_2022q3"].compute(flat)) == pytest.approx(0.25 / 0.13)
    assert not t["albania_share_2022q4"].met(t["albania_share_2022q4"].compute(flat))
    assert t["albania_share_2022h1"].met(t["albania_share_2022h1"].compute(flat))


def test_the_observed_series_meets_its_own_targets():
    """The statistics applied to the Home Office frame give back the observed values."""
    frame = observed("daily")[["people", "boats"]].astype(float)
    t = default_targets()
    for name in ("arrivals_2022", "arrivals_2024", "monthly_arrivals", "crossing_day_share_by_month",
                 "people_per_boat_by_year", "zero_day_share", "top_1pct_day"):
        assert t[name].error(t[name].compute(frame)) == pytest.approx(0.0, abs=1e-12), name


def test_target_errors_are_misses_in_units_of_the_tolerance():
    stat = lambda f: f["people"]  # noqa: E731 - not used by error()
    rel = Target("r", "relative", stat, pd.Series([100.0], index=["value"]), 0.1, relative=True)
    assert rel.error(110.0) == pytest.approx(1.0) and rel.met(109.0) and not rel.met(111.0)
    band = Target("b", "band", stat, None, 5.0, band=(10.0, 20.0))
    assert band.error(15.0) == 0.0 and band.error(25.0) == pytest.approx(1.0) and band.error(0.0) == pytest.approx(2.0)
    vec = Target("v", "vector", stat, pd.Series([10.0, 20.0], index=["a", "b"]), 2.0)
    assert vec.error(pd.Series([12.0, 20.0], index=["a", "b"])) == pytest.approx(math.sqrt(0.5))
    nrmse = Target("n", "nrmse", stat, pd.Series([10.0, 30.0], index=["a", "b"]), 0.5, relative=True, scale="mean")
    assert nrmse.error(pd.Series([20.0, 40.0], index=["a", "b"])) == pytest.approx(1.0)  # miss 10 / mean 20 / 0.5


def test_apply_calibration_finds_the_whole_number_fields_and_agrees_with_the_shipped_files():
    """scripts/apply_calibration.py reads which fields are whole numbers from sim.params, and its
    --check finds the shipped baseline and defaults equal to docs/calibration's chosen point."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "apply_calibration.py"
    spec = importlib.util.spec_from_file_location("apply_calibration", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.whole_number_fields(["gangs.max_fill_wait_days", "gangs.min_fill_share",
                                       "environment.base_inflow_per_day", "groups.0.valuation_multiplier",
                                       "gangs.no_such_field"]) == {"max_fill_wait_days"}
    assert script.main(["--check"]) == 0


def test_a_band_is_written_with_enough_digits_to_tell_its_bounds_apart():
    stat = lambda f: f["people"]  # noqa: E731 - not used by observed_text()

    def text(lo: float, hi: float) -> str:
        return Target("b", "band", stat, None, 1.0, band=(lo, hi)).observed_text()

    assert text(10.0, 20.0) == "10.0 to 20.0"
    assert text(0.0, 0.5) == "at most 0.5"
    assert text(0.10923, 0.10923) == "0.109"              # known exactly: one number
    assert text(0.10851, 0.10854) == "0.10851 to 0.10854"  # the same at 3 digits: more digits


# ----------------------------------------------------------------------------- the shipped baseline
@pytest.fixture(scope="module")
def baseline_validation(tmp_path_factory):
    """The shipped baseline over the calibration period: 4 replications on seeds the calibration never used."""
    root = tmp_path_factory.mktemp("validation")
    v = validate("baseline", out=root / "store", replications=4, seed=424242, workers=2, progress=False)
    return v, root


#: Targets the shipped baseline is known to miss, each with the reason (README, ODD section 9).
#: Any other miss fails the test.
KNOWN_MISSES = {
    # validation targets (not fitted): deaths year by year (the calibration fits their pooled rate)
    "deaths_per_1000_2022": "5 deaths in 2022 (0.11 per 1,000): the model's sea risk depends on the load, the "
                            "weather and incidents only, and loads were lowest in 2022, but not low enough",
    "deaths_per_1000_2024": "2024 stands out (70-82 deaths, 1.9-2.2 per 1,000) while loads rose every year; "
                            "fitted to the pooled rate, the model puts about 1 per 1,000 into 2024",
    "arrivals_2025_jan_jul": "borderline: met on the calibration's own runs, about 1.04 times its tolerance on "
                             "the validation report's seeds (20,100 against 25,436)",
    # validation targets (not fitted): the model's group shares of the potential inflow are constant
    "albania_share_2022q3": "the mid-2022 Albanian surge (45% of Jul-Sep arrivals) is exogenous and not modelled: "
                            "each group's share of the potential inflow is constant, so the share stays near 19%",
    "albania_share_2022q4": "the observed fall began before the December 2022 deal (removals sped up from July "
                            "2022, winter, lorries); in the model only the deal moves Albanians",
    "albania_share_2023q1": "the model's response to the deal builds up over months (beliefs, news), from a share "
                            "that had not fallen before it; observed, under 5% already in Jan-Mar 2023",
}


def test_shipped_baseline_meets_every_target(baseline_validation):
    v, _ = baseline_validation
    assert set(KNOWN_MISSES) <= set(all_targets().names)
    table = v.table()
    assert table["target"].tolist() == all_targets().names
    missed = table[~table["met"] & ~table["target"].isin(list(KNOWN_MISSES))][["target", "observed", "simulated", "error"]]
    assert missed.empty, f"targets missed by the shipped baseline:\n{missed.to_string()}"
    assert table.loc[table["target"] == "albania_fall", "met"].all()
    assert len(v.stats) == 4 and v.stats.notna().all().all()


def test_validation_report_has_every_target_and_its_figures(baseline_validation, tmp_path):
    v, _ = baseline_validation
    path = write_report(v, tmp_path / "report")
    text = path.read_text()
    for name in all_targets().names:
        assert f"`{name}`" in text, name
    assert f"of {len(default_targets())} calibration targets met" in text and "Albania" in text
    assert "Albanian share of arrivals by period (validation targets)" in text
    for p in ALBANIA_PERIODS:
        assert f"| `{p.name}` | {p.label} |" in text, p.name
    assert "Deaths at sea year by year (validation targets)" in text
    pngs = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert pngs == ["albania.png", "boats_and_days.png", "daily_counts.png", "monthly_arrivals.png",
                    "prices_prevention_deaths.png"]
    for p in pngs:
        assert f"]({p})" in text
    csv = pd.read_csv(tmp_path / "report" / "targets.csv")
    assert csv["target"].tolist() == all_targets().names and (~csv["calibration"]).sum() == len(DEATHS_VALIDATION + ALBANIA_VALIDATION)
    # the natural experiment: the deal is what makes Albanians' crossings fall
    assert v.stats["albania_fall"].mean() > v.stats_no_deal["albania_fall"].mean() + 0.3
    alb = v.albania_table()
    assert alb["target"].tolist() == ALBANIA_VALIDATION
    assert (alb.set_index("target").loc[["albania_share_2023q1", "albania_share_2023_jan_oct"], "no_deal"]
            > alb.set_index("target").loc[["albania_share_2023q1", "albania_share_2023_jan_oct"], "simulated"]
            + 0.05).all()
    assert (alb["sim_low"] <= alb["simulated"]).all() and (alb["simulated"] <= alb["sim_high"]).all()


def test_albania_figure_legend_covers_neither_data_nor_the_deal_label(baseline_validation):
    import matplotlib.pyplot as plt

    from sim.calibration.report import plot_albania

    v, _ = baseline_validation
    fig = plot_albania(v)
    fig.tight_layout()
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    axes_box, legend_box = ax.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer)
    label = next(t for t in ax.texts if t.get_text() == "UK-Albania deal")
    label_box = label.get_window_extent(renderer)
    fig_box = fig.bbox
    assert legend_box.y1 <= axes_box.y0 and legend_box.y0 >= fig_box.y0  # below the axes, inside the figure
    assert label_box.y0 >= axes_box.y1 and not label_box.overlaps(legend_box) and label_box.y1 <= fig_box.y1
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("with the Dec 2022 returns deal" in t for t in texts) and any("without the deal" in t for t in texts)
    assert {"observed share (published period)", "observed range", "observed upper bound"} <= set(texts)
    assert ax.yaxis.get_major_formatter()(0.45, 0) == "45%"
    plt.close(fig)


def test_baseline_run_is_reproducible_through_the_statistics():
    cfg = sim.load_config("baseline", {"end_date": "2022-06-30"})
    a = sim.run(cfg, seed=np.random.SeedSequence(5, spawn_key=(0,))).timeseries
    b = sim.run(cfg, seed=np.random.SeedSequence(5, spawn_key=(0,))).timeseries
    from sim.calibration.targets import run_statistics
    sa, sb = run_statistics(a, cfg), run_statistics(b, cfg)
    assert sa.keys() == sb.keys() and all(sa[k] == sb[k] or (math.isnan(sa[k]) and math.isnan(sb[k])) for k in sa)
    # the statistics behind the calibration distance: calibration targets only
    assert not set(ALBANIA_VALIDATION) & set(sa) and "albania_share_2022" in sa


# ----------------------------------------------------------------------------- the procedure
IDENT_TRUE = {"environment.base_inflow_per_day": 180.0, "patrols.prevention_max": 0.7}
IDENT_PRIORS = {"environment.base_inflow_per_day": (100.0, 260.0), "patrols.prevention_max": (0.45, 0.95)}
#: Recovery tolerance: the posterior mean within this share of the prior's width of the truth.
IDENT_TOLERANCE = 0.15


def test_calibration_recovers_known_parameters_from_synthetic_data(tmp_path):
    """Identifiability: data made by the model at known parameters, calibrated back by ABC-SMC via the CLI."""
    spec = {
        "name": "identifiability", "base": "baseline", "seed": 11,
        "overrides": {"end_date": "2022-12-31"},
        "particles": 12, "replications": 1, "budget": 108, "initial_factor": 4, "proposal_factor": 2,
        "select_top": 2, "select_replications": 2,
        "parameters": {k: list(v) for k, v in IDENT_PRIORS.items()},
        "targets": ["arrivals_2022", "monthly_arrivals", "prevented_share", "people_per_boat_by_year"],
        "synthetic": {"params": IDENT_TRUE, "seed": 99, "replications": 4, "tolerance_scale": 0.25},
    }
    f = tmp_path / "ident.yaml"
    f.write_text(yaml.safe_dump(spec))
    out = tmp_path / "cal"
    assert main(["calibrate", "--spec", str(f), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] <= 108 + 3 * 2 and summary["generations"] >= 2
    assert summary["epsilons"] == sorted(summary["epsilons"], reverse=True)
    for row in summary["posterior"]:
        lo, hi = IDENT_PRIORS[row["parameter"]]
        miss = abs(row["mean"] - IDENT_TRUE[row["parameter"]]) / (hi - lo)
        assert miss <= IDENT_TOLERANCE, (row, miss)
    particles = pd.read_parquet(out / "particles.parquet")
    assert len(particles) + 2 * len(summary["selection"]) == summary["runs"] and particles["accepted"].any()
    chosen_row = next(r for r in summary["selection"] if r["candidate"] == summary["chosen_from"])
    assert chosen_row["distance"] == min(r["distance"] for r in summary["selection"])
    chosen = yaml.safe_load((out / "calibrated.yaml").read_text())
    assert set(chosen) == {"environment", "patrols"}
    assert sim.load_config("baseline", chosen).patrols.prevention_max == summary["chosen"]["patrols.prevention_max"]
    # resuming the finished calibration reruns nothing and gives the same answer
    before = sorted(p.name for p in (out / "gen_00" / "runs").iterdir())
    assert main(["calibrate", "--spec", str(f), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    assert sorted(p.name for p in (out / "gen_00" / "runs").iterdir()) == before
    assert json.loads((out / "summary.json").read_text())["chosen"] == summary["chosen"]


def test_calibration_runs_every_generation_on_one_executor(tmp_path):
    """One process pool for all generations and the selection; the serial calibration's results."""
    from sim.calibration import calibrate
    from sim.experiments import ExperimentStore

    spec = CalibrationSpec(parameters=(Prior("environment.base_inflow_per_day", 100.0, 260.0),
                                       Prior("gangs.max_fill_wait_days", 2, 14)),
                           overrides={"end_date": "2022-02-28"}, particles=4, replications=1, budget=24,
                           select_top=1, select_replications=1, seed=5, name="tiny",
                           targets=("arrivals_2022", "monthly_arrivals", "prevented_share"))
    pooled = calibrate(spec, tmp_path / "p", executor="process", workers=2, progress=False)
    stores = [ExperimentStore(d) for d in sorted((tmp_path / "p").iterdir()) if (d / "manifest.json").is_file()]
    names = [s.path.name for s in stores]
    assert names[:2] == ["gen_00", "gen_01"] and names[-1] == "selection"  # at least three experiments
    assert len(set().union(*(set(s.runs()["pid"]) for s in stores))) <= 2
    serial = calibrate(spec, tmp_path / "s", executor="serial", progress=False)
    assert (serial.chosen, serial.epsilons, serial.runs) == (pooled.chosen, pooled.epsilons, pooled.runs)
    pd.testing.assert_frame_equal(serial.particles, pooled.particles)


def test_calibration_spec_errors_name_the_field(tmp_path, capsys):
    with pytest.raises(ConfigError, match="needs low < high"):
        Prior("patrols.prevention_max", 0.9, 0.5)
    with pytest.raises(ConfigError, match="'budget'"):
        CalibrationSpec(parameters=(Prior("patrols.prevention_max", 0.5, 0.9),), particles=10, replications=2,
                        budget=20)
    with pytest.raises(ConfigError, match="prevention_max.*1.5"):
        CalibrationSpec(parameters=(Prior("patrols.prevention_max", 0.5, 1.5),))
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump({"parameters": {"patrols.prevention_max": [0.5, 0.9]}, "targets": ["arrivals_2099"]}))
    assert main(["calibrate", "--spec", str(f), "--out", str(tmp_path / "x")]) == 2
    assert "arrivals_2099" in capsys.readouterr().err
    f.write_text(yaml.safe_dump({"parameters": {"patrols.prevention_max": [0.5, 0.9]}, "particle": 10}))
    assert main(["calibrate", "--spec", str(f)]) == 2
    assert "unknown field(s) ['particle']" in capsys.readouterr().err


def test_shipped_calibration_file_is_valid():
    spec = load_calibration_spec(sim.config.CONFIG_DIR / "calibration" / "baseline.yaml")
    assert spec.budget >= spec.particles * spec.replications * spec.initial_factor
    assert dict(spec.overrides)["end_date"] in (CALIBRATION_END, pd.Timestamp(CALIBRATION_END).date())
    assert CALIBRATION_START == str(sim.load_config("baseline").start_date)


def test_validate_command_writes_the_report(tmp_path, capsys):
    out = tmp_path / "validation"
    assert main(["validate", "--replications", "1", "--out", str(out), "--store", str(tmp_path / "runs"),
                 "--workers", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "targets met; report:" in printed and "arrivals_2022" in printed
    assert (out / "report.md").is_file() and (out / "monthly_arrivals.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["validate", "--replications", "0", "--out", str(out)]) == 2


def _value_at(cfg, path: str):
    node = cfg
    for key in path.split("."):
        node = node[int(key)] if isinstance(node, (dict, list)) else getattr(node, key)
    return node


def test_baseline_and_defaults_carry_the_shipped_calibration():
    """sim/configs/baseline.yaml and the embedded defaults hold exactly the chosen values of
    docs/calibration/ (the converged, emulator-assisted calibration; no adjustment by hand), and the
    chosen point is the one the emulator check marks."""
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "docs" / "calibration"
    summary = json.loads((shipped / "summary.json").read_text())
    spec = load_calibration_spec(sim.config.CONFIG_DIR / "calibration" / "baseline_emulated.yaml")
    assert summary["method"] == "emulator" and summary["spec"]["name"] == spec.name
    assert sorted(summary["chosen"]) == sorted(spec.names) and summary["spec"]["seed"] == spec.seed
    assert not (shipped / "adjustment.yaml").exists()
    base, default = sim.load_config("baseline"), sim.load_config(None)
    for path, value in summary["chosen"].items():
        assert _value_at(base, path) == value, path
        assert _value_at(default, path) == value, path
    check = pd.read_csv(shipped / "emulator_check.csv")
    row = check[check["chosen"]]
    assert len(row) == 1
    for path, value in summary["chosen"].items():
        assert row[path].iloc[0] == pytest.approx(value), path
    assert summary["diagnostics"][-1]["ess"] >= 100 and not summary["warnings"]
    assert yaml.safe_load((shipped / "calibrated.yaml").read_text()) is not None

"""Returns against interception per pound, and the recross sensitivity (sim.experiments.perpound,
sim.experiments.recross): a tiny design through the engine, the accounting, the shipped tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.config import load_config
from sim.experiments.perpound import (
    INTERCEPTION_PAYMENTS,
    RETURNS_QUOTAS,
    per_pound,
    plot_per_pound,
    ratio_ci,
)
from sim.experiments.recross import PRIORITY_SHARES, plot_recross, recross
from sim.experiments.store import ExperimentStore

ROOT = Path(__file__).resolve().parents[1]
SHORT = {"start_date": "2025-01-01", "end_date": "2025-12-31"}
POLICY = "2025-06-01"
POLICY_DAYS = (pd.Timestamp(SHORT["end_date"]) - pd.Timestamp(POLICY)).days + 1

PER_POUND_COLUMNS = [
    "instrument", "level", "label", "scenario", "replications", "counterfactual_arrivals",
    "prevented", "prevented_lower", "prevented_upper", "prevented_significant",
    "extra_spending_gbp", "extra_spending_gbp_lower", "extra_spending_gbp_upper",
    "extra_returns_gbp", "extra_legal_route_gbp", "extra_payments_france_gbp",
    "gbp_per_prevented", "gbp_per_prevented_lower", "gbp_per_prevented_upper", "gbp_per_prevented_bounded",
    "deaths_change", "deaths_change_lower", "deaths_change_upper",
    "deterred_upstream_change", "left_route_change", "displaced_change",
    "paid_crossings_change", "paid_crossings_change_lower", "paid_crossings_change_upper",
    "rents_change_gbp", "rents_change_gbp_lower", "rents_change_gbp_upper",
]
RECROSS_COLUMNS = ["scenario", "repeat_priority_share", "replications", "recross_share_6m", "recross_share_6m_lower",
                   "recross_share_6m_upper", "arrivals_change", "arrivals_change_lower", "arrivals_change_upper",
                   "arrivals_change_pct"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("per_pound")
    df = per_pound((50, 200), (80e6, 640e6), interception_plus=False, replications=2, policy_start=POLICY,
                   overrides=SHORT, out=out, executor="serial")
    return df, ExperimentStore(out)


def test_per_pound_tiny_design_gives_every_column_finite(tiny):
    df, _ = tiny
    assert list(df["instrument"]) == ["returns", "returns", "interception", "interception"]
    assert list(df["level"]) == ["50", "200", "80", "640"]
    missing = [c for c in PER_POUND_COLUMNS if c not in df.columns]
    assert not missing
    finite = [c for c in PER_POUND_COLUMNS[5:] if c not in ("prevented_significant", "gbp_per_prevented",
                                                            "gbp_per_prevented_lower", "gbp_per_prevented_upper",
                                                            "gbp_per_prevented_bounded")]
    assert np.isfinite(df[finite].to_numpy(dtype=float)).all()
    assert (df["replications"] == 2).all()


def test_per_pound_runs_are_paired_on_one_seed_per_replication(tiny):
    _, store = tiny
    runs = store.runs()
    assert len(runs) == 5 * 2 and (runs["status"] == "ok").all()
    keys = runs.groupby("replication")[["seed_entropy", "spawn_key"]].nunique()
    assert (keys == 1).all().all()                      # the policy and its counterfactual share the seed
    assert runs.groupby("point")["spawn_key"].nunique().eq(2).all()   # and replications differ


def test_gbp_per_prevented_is_spending_over_prevented(tiny):
    df, _ = tiny
    for r in df.itertuples(index=False):
        if r.prevented > 0:
            assert r.gbp_per_prevented == pytest.approx(r.extra_spending_gbp / r.prevented)
        else:
            assert math.isnan(r.gbp_per_prevented)
        if r.gbp_per_prevented_bounded:
            assert r.prevented_significant
            assert r.gbp_per_prevented_lower <= r.gbp_per_prevented <= r.gbp_per_prevented_upper
        else:
            assert math.isnan(r.gbp_per_prevented_lower) and math.isnan(r.gbp_per_prevented_upper)


def test_extra_spending_nets_out_the_standing_payment(tiny):
    df, store = tiny
    # the uk_cost statistic is the summary's uk_cost_gbp_policy_period, run by run
    summ = store.summaries()
    assert np.allclose(summ["stat:uk_cost_gbp"], summ["uk_cost_gbp_policy_period"])
    ret = df[df["instrument"] == "returns"]
    cost_per_return = load_config("pilot_50").returns.cost_per_return_gbp
    assert (ret["extra_payments_france_gbp"] == 0).all()   # the standing payment is in both runs
    assert np.allclose(ret["extra_returns_gbp"], ret["returns"] * cost_per_return)
    assert np.allclose(ret["extra_spending_gbp"],
                       ret[["extra_returns_gbp", "extra_legal_route_gbp", "extra_payments_france_gbp"]].sum(axis=1))
    icp = df[df["instrument"] == "interception"]
    expected = np.array([80e6, 640e6]) * POLICY_DAYS / 365.25   # only the extra payment, from the policy date
    assert np.allclose(icp["extra_spending_gbp"], expected)
    assert (icp[["extra_returns_gbp", "extra_legal_route_gbp"]] == 0).all().all()


def test_ratio_ci_fieller():
    num = np.array([10.0, 12.0, 11.0, 13.0])
    den = np.array([2.0, 2.2, 1.9, 2.1])
    r, lo, hi, bounded = ratio_ci(num, den)
    assert r == pytest.approx(num.mean() / den.mean())
    assert bounded and lo < r < hi
    # a denominator not significantly different from zero has no finite interval
    r, lo, hi, bounded = ratio_ci(num, np.array([2.0, -1.0, 3.0, -2.5]))
    assert not bounded and math.isnan(lo) and math.isnan(hi)
    # with no noise the interval collapses on the ratio
    r, lo, hi, bounded = ratio_ci(np.array([4.0, 4.0, 4.0]), np.array([2.0, 2.0, 2.0]))
    assert bounded and lo == pytest.approx(2.0) and hi == pytest.approx(2.0)


def test_per_pound_refuses_instruments_on_different_dates(tmp_path):
    with pytest.raises(ValueError, match="one date"):
        per_pound((50,), (), interception_plus=False, replications=2, policy_start=POLICY,
                  overrides={**SHORT, "legal_route.start_date": "2025-07-01"}, out=tmp_path, executor="serial")


def test_per_pound_figure(tiny, tmp_path):
    df, _ = tiny
    fig = plot_per_pound(df, tmp_path / "pp.png")
    assert (tmp_path / "pp.png").stat().st_size > 10_000
    assert fig.axes[0].get_xlabel().endswith("(GBP million)")


def test_recross_tiny_design(tmp_path):
    df = recross(("pilot_50",), (0.8, 1.0), replications=2, policy_start=POLICY, overrides=SHORT, out=tmp_path,
                 executor="serial")
    assert list(df["repeat_priority_share"]) == [0.8, 1.0]
    assert not [c for c in RECROSS_COLUMNS if c not in df.columns]
    assert np.isfinite(df[RECROSS_COLUMNS[3:]].to_numpy(dtype=float)).all()
    assert ((df["recross_share_6m"] >= 0) & (df["recross_share_6m"] <= 1)).all()
    # the arrivals change is the paired difference against the counterfactual, from the store
    store = ExperimentStore(tmp_path)
    s = store.runs().merge(store.summaries(), on="run_id")
    arr = s.pivot(index="replication", columns="point", values="stat:arrivals_uk")
    assert df["arrivals_change"].tolist() == pytest.approx([(arr[1] - arr[0]).mean(), (arr[2] - arr[0]).mean()])
    params = [json.loads(p) for p in store.runs().sort_values("point")["params"]]
    assert [p.get("returns.repeat_priority_share") for p in params[::2]] == [None, 0.8, 1.0]
    plot_recross(df, tmp_path / "rc.png")
    assert (tmp_path / "rc.png").stat().st_size > 10_000


def test_shipped_per_pound_table():
    df = pd.read_csv(ROOT / "docs" / "figures" / "per_pound.csv", dtype={"level": str})
    assert not [c for c in PER_POUND_COLUMNS if c not in df.columns]
    assert assert_levels(df, "returns") == [str(q) for q in RETURNS_QUOTAS]
    assert assert_levels(df, "interception") == [f"{x / 1e6:g}" for x in INTERCEPTION_PAYMENTS]
    assert assert_levels(df, "interception_plus") == ["160"]
    assert (df["replications"] >= 4).all()
    pos = df["prevented"] > 0
    assert np.allclose(df.loc[pos, "gbp_per_prevented"], df.loc[pos, "extra_spending_gbp"] / df.loc[pos, "prevented"],
                       rtol=1e-4)
    assert (ROOT / "docs" / "figures" / "per_pound.png").exists()


def assert_levels(df: pd.DataFrame, instrument: str) -> list[str]:
    return df.loc[df["instrument"] == instrument, "level"].tolist()


def test_shipped_recross_table():
    df = pd.read_csv(ROOT / "docs" / "figures" / "recross_sensitivity.csv")
    assert not [c for c in RECROSS_COLUMNS if c not in df.columns]
    assert sorted(df["scenario"].unique()) == ["pilot_50", "quota_200"]
    for _, g in df.groupby("scenario"):
        assert g["repeat_priority_share"].tolist() == list(PRIORITY_SHARES)
    assert (df["replications"] >= 4).all()
    assert (ROOT / "docs" / "figures" / "recross_sensitivity.png").exists()

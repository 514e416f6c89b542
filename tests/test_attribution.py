"""Shapley attribution of a change between two periods (sim/experiments/attribution.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.config import ConfigError, load_config
from sim.experiments.attribution import (
    BASE_TERM,
    MEASURES,
    attribute,
    levers_of,
    parse_period,
    shapley,
    subset_config,
)

QUICK = {"people_per_agent": 50, "start_date": "2024-06-01"}   # short runs: the periods are 2024-2026


def test_shapley_values_add_up_and_treat_players_fairly():
    rng = np.random.default_rng(0)
    players = ["a", "b", "c", "d"]
    v = {frozenset(s): float(rng.normal()) for k in range(5) for s in itertools.combinations(players, k)}
    phi = shapley(v, players)
    assert sum(phi.values()) == pytest.approx(v[frozenset(players)] - v[frozenset()])
    # an additive game: each player's value is its own contribution
    w = {"a": 1.0, "b": -2.0, "c": 0.5}
    phi = shapley(lambda s: sum(w[p] for p in s), list(w))
    assert phi == pytest.approx(w)
    # two symmetric players share an interaction equally; a dummy gets nothing
    phi = shapley(lambda s: 6.0 * ({"x", "y"} <= s), ["x", "y", "z"])
    assert phi == pytest.approx({"x": 3.0, "y": 3.0, "z": 0.0})


def test_periods_parse_and_bad_ones_are_clear_errors():
    p = parse_period("2024-08:2025-07")
    assert (str(p.start), str(p.end)) == ("2024-08-01", "2025-07-31")
    assert str(parse_period("2024-02-03:2024-02-29").end) == "2024-02-29"
    for bad in ("2024-08", "2025-07:2024-08", "August:July"):
        with pytest.raises(ConfigError, match="--from"):
            parse_period(bad)


def test_the_levers_of_the_pilot_as_realised_and_their_configurations():
    cfg, ref = load_config("pilot_as_realised"), load_config("baseline")
    assert levers_of(cfg, ref) == ["returns", "legal_route"]
    to = parse_period("2025-08:2026-07")
    none = subset_config(cfg, ref, frozenset(), to)
    assert none.returns == ref.returns and none.legal_route == ref.legal_route
    # the inflow held: each month of the later period at the multiplier of a year earlier
    assert [str(e.date) for e in none.timeline] == ["2025-08-01", "2026-01-01"]
    assert none.timeline[0].set["environment.inflow_year_multiplier"][2025] == \
        ref.environment.inflow_year_multiplier[2024]
    full = subset_config(cfg, ref, frozenset({"returns", "legal_route", "inflow"}), to)
    assert full.returns == cfg.returns and len(full.timeline) == len(cfg.timeline)


def test_attribution_terms_add_up_to_the_change_on_every_draw():
    res = attribute("pilot_as_realised", parse_period("2024-08:2025-07"), parse_period("2025-08:2026-07"),
                    draws=1, replications=2, executor="serial", overrides=QUICK)
    assert res.levers == ["returns", "legal_route", "inflow"]
    assert len(res.runs) == 8 * 2 and set(res.values["measure"]) == set(MEASURES)
    terms = res.values[[BASE_TERM, *res.levers]].sum(axis=1)
    np.testing.assert_allclose(terms, res.values["total"], rtol=0, atol=1e-6)
    # the total is the scenario's own change between the periods
    full = res.runs[res.runs["levers"] == "inflow + legal_route + returns"]
    change = (full["arrivals_uk:to"] - full["arrivals_uk:from"]).to_numpy()
    got = res.values[res.values["measure"] == "arrivals_uk"]["total"].to_numpy()
    np.testing.assert_allclose(np.sort(got), np.sort(change))
    s = res.summary()
    assert (s["p05"] <= s["mean"] + 1e-9).all() and (s["mean"] <= s["p95"] + 1e-9).all()


@pytest.mark.parametrize("argv", [
    ["pilot_as_realised", "--from", "2025-08:2026-07", "--to", "2024-08:2025-07"],
    ["pilot_as_realised", "--from", "last year", "--to", "2025-08:2026-07"],
    ["pilot_as_realised", "--from", "2021-01:2021-12", "--to", "2025-08:2026-07"],
    ["no_such", "--from", "2024-08:2025-07", "--to", "2025-08:2026-07"],
    ["pilot_as_realised", "--from", "2024-08:2025-07", "--to", "2025-08:2026-07", "--draws", "0"],
])
def test_attribute_rejects_bad_input_with_exit_2(argv, tmp_path):
    assert main(["attribute", *argv, "--out", str(tmp_path)]) == 2


def test_attribute_writes_its_table_and_figure(tmp_path, capsys):
    assert main(["attribute", "pilot_as_realised", "--from", "2025-05:2025-07", "--to", "2025-08:2025-10",
                 "--replications", "1", "--set", "people_per_agent=50", "--set", "start_date=2025-01-01",
                 "--executor", "serial",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "returns" in out and "inflow" in out and "total" in out
    table = pd.read_csv(tmp_path / "attribution.csv")
    assert set(table["term"]) == {BASE_TERM, "returns", "legal_route", "inflow", "total"}
    assert (tmp_path / "attribution.png").stat().st_size > 0


def test_a_posterior_draw_is_applied_with_whole_numbers_rounded():
    cfg, ref = load_config("pilot_as_realised"), load_config("baseline")
    out = subset_config(cfg, ref, frozenset({"returns"}), parse_period("2025-08:2026-07"),
                        {"gangs.max_launches_per_day": 3.28, "patrols.prevention_max": 0.71})
    assert out.gangs.max_launches_per_day == 3 and out.patrols.prevention_max == 0.71

"""Configuration loading and validation (``sim.config``, ``sim.params``).

Every bad configuration must raise one :class:`~sim.config.ConfigError` whose message
names the offending field by its dotted name (and, for range errors, the accepted
range as printed by ``load_config``). Valid scenarios, ``extends`` inheritance, string
overrides and the parameter table are checked too.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sim.config import (
    CONFIG_DIR,
    ConfigError,
    default_at,
    load_config,
    parse_overrides,
    resolve_config_path,
)
from sim.params import Config, parameter_table

SHIPPED = sorted(CONFIG_DIR.glob("*.yaml"))


@dataclass
class Files:
    """Scenario files to write into ``tmp_path``; ``entry`` is the one loaded."""

    texts: dict[str, str]
    entry: str


@dataclass
class Bad:
    """One bad configuration and the substrings its error message must contain."""

    id: str
    source: Any                      # mapping, shipped name, Files, or None (defaults)
    expect: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)


def _groups(*specs: tuple[str, float], **extra: Any) -> list[dict[str, Any]]:
    return [{"name": n, "share": s, **extra} for n, s in specs]


# ---------------------------------------------------------------------- the bad table
BAD: list[Bad] = [
    # unknown keys (misspelt ones get a suggestion)
    Bad("unknown-top-level", {"retuns": {}}, ("unknown field 'retuns'", "did you mean 'returns'")),
    Bad("unknown-top-level-no-match", {"colour": "red"}, ("unknown field 'colour'",)),
    Bad("unknown-returns-key", {"returns": {"quota_per_wek": 5}},
        ("'returns.quota_per_wek'", "did you mean 'quota_per_week'")),
    Bad("unknown-gangs-key", {"gangs": {"intial_gangs": 5}},
        ("'gangs.intial_gangs'", "did you mean 'initial_gangs'")),
    Bad("unknown-ramp-up-key", {"returns": {"ramp_up": {"enabeld": True}}},
        ("'returns.ramp_up.enabeld'", "did you mean 'enabled'")),
    Bad("unknown-group-key", {"groups": [{"name": "a", "share": 1.0, "shar": 1.0}]},
        ("'groups.0.shar'", "did you mean 'share'")),
    # wrong types
    Bad("string-for-number", {"environment": {"base_inflow_per_day": "many"}},
        ("'environment.base_inflow_per_day'", "valid number", "[0.0, 5000.0]", "'many'")),
    Bad("string-for-integer", {"gangs": {"max_gangs": "5x"}},
        ("'gangs.max_gangs'", "valid integer", "[1, 500]", "'5x'")),
    Bad("list-for-scalar", {"migrants": {"wealth_sigma": [1, 2]}},
        ("'migrants.wealth_sigma'", "valid number", "[0.0, 3.0]")),
    Bad("fraction-for-integer", {"migrants": {"known_gangs": 2.5}},
        ("'migrants.known_gangs'", "valid integer", "2.5")),
    Bad("number-for-date", {"start_date": 5}, ("field 'start_date'", "got 5")),
    Bad("number-for-nested-date", {"returns": {"start_date": 20250101}},
        ("'returns.start_date'", "20250101")),
    Bad("impossible-date", {"end_date": "2025-02-30"},
        ("field 'end_date'", "valid date", "2025-02-30")),
    Bad("bad-boolean", {"patrols": {"at_sea_interception": "maybe"}},
        ("'patrols.at_sea_interception'", "valid boolean", "'maybe'")),
    Bad("bad-choice", {"legal_route": {"mode": "sometimes"}},
        ("'legal_route.mode'", "'off', 'matched' or 'fixed'", "'sometimes'")),
    Bad("section-not-mapping", {"environment": 5}, ("field 'environment'", "valid dictionary")),
    Bad("empty-group-name", {"groups": [{"name": "", "share": 1.0}]},
        ("'groups.0.name'", "at least 1")),
    # out of range, section by section
    Bad("environment-negative", {"environment": {"base_inflow_per_day": -1}},
        ("'environment.base_inflow_per_day'", "must be in [0.0, 5000.0]", "got -1")),
    Bad("environment-above-max", {"environment": {"weather_persistence": 0.99}},
        ("'environment.weather_persistence'", "must be in [0.0, 0.95]", "got 0.99")),
    Bad("environment-share-above-1", {"environment": {"crossable_share_by_month": [1.2] * 12}},
        ("'environment.crossable_share_by_month'", "must be <= 1")),
    Bad("environment-11-months", {"environment": {"crossable_share_by_month": [0.3] * 11}},
        ("'environment.crossable_share_by_month'", "needs 12 values", "got 11")),
    Bad("environment-zero-seasonality", {"environment": {"inflow_seasonality": [0] * 12}},
        ("'environment.inflow_seasonality'", "positive weight")),
    Bad("environment-year-multiplier", {"environment": {"inflow_year_multiplier": {2025: 30}}},
        ("'environment.inflow_year_multiplier'", "[0, 20]", "30")),
    Bad("migrants-share-above-1", {"migrants": {"adult_share": 1.5}},
        ("'migrants.adult_share'", "must be in [0.0, 1.0]", "got 1.5")),
    Bad("migrants-open-lower-bound", {"migrants": {"choice_scale_gbp": 0}},
        ("'migrants.choice_scale_gbp'", "must be in (0.0, 100000.0]", "got 0")),
    Bad("beliefs-zero-strength", {"beliefs": {"prior_strength": 0}},
        ("'beliefs.prior_strength'", "must be in (0.0, 1000.0]")),
    Bad("beliefs-above-max", {"beliefs": {"rumour_distortion": 4}},
        ("'beliefs.rumour_distortion'", "must be in [0.0, 3.0]", "got 4")),
    Bad("gangs-zero", {"gangs": {"initial_gangs": 0}},
        ("'gangs.initial_gangs'", "must be in [1, 200]", "got 0")),
    Bad("patrols-prob-above-1", {"patrols": {"prevention_max": 1.1}},
        ("'patrols.prevention_max'", "must be in [0.0, 1.0]", "got 1.1")),
    Bad("patrols-negative-payment", {"patrols": {"uk_payment_gbp_per_year": -5}},
        ("'patrols.uk_payment_gbp_per_year'", "must be in [0.0, 5000000000.0]")),
    Bad("returns-negative-share", {"returns": {"challenge_block_share": -0.1}},
        ("'returns.challenge_block_share'", "must be in [0.0, 1.0]", "got -0.1")),
    Bad("returns-delay-above-max", {"returns": {"processing_delay_days": 400}},
        ("'returns.processing_delay_days'", "must be in [0, 365]", "got 400")),
    Bad("returns-ramp-step-negative", {"returns": {"ramp_up": {"step": -1}}},
        ("'returns.ramp_up.step'", "must be in [0, 100000]")),
    Bad("legal-route-ratio", {"legal_route": {"ratio": 11}},
        ("'legal_route.ratio'", "must be in [0.0, 10.0]", "got 11")),
    Bad("uk-above-max", {"uk": {"illegal_working_enforcement": 2}},
        ("'uk.illegal_working_enforcement'", "must be in [0.0, 1.0]", "got 2")),
    Bad("verdict-zero-window", {"verdict": {"window_weeks": 0}},
        ("'verdict.window_weeks'", "must be in [1, 520]", "got 0")),
    Bad("groups-share-above-1", {"groups": [{"name": "a", "share": 1.5}]},
        ("'groups.0.share'", "must be in [0.0, 1.0]", "got 1.5")),
    Bad("people-per-agent-zero", {"people_per_agent": 0},
        ("'people_per_agent'", "must be in [1, 1000]", "got 0")),
    Bad("two-errors-both-named",
        {"gangs": {"initial_gangs": 0}, "uk": {"illegal_working_enforcement": 2}},
        ("'gangs.initial_gangs'", "[1, 200]", "'uk.illegal_working_enforcement'", "[0.0, 1.0]")),
    # the returns quota: a whole number in [0, 100000] or 'all'
    Bad("quota-lots", {"returns": {"quota_per_week": "lots"}},
        ("'returns.quota_per_week'", "[0, 100000] or 'all'", "'lots'")),
    Bad("quota-negative", {"returns": {"quota_per_week": -1}},
        ("'returns.quota_per_week'", "[0, 100000] or 'all'", "got -1")),
    Bad("quota-fractional", {"returns": {"quota_per_week": 2.5}},
        ("'returns.quota_per_week'", "[0, 100000] or 'all'", "got 2.5")),
    Bad("quota-boolean", {"returns": {"quota_per_week": True}},
        ("'returns.quota_per_week'", "[0, 100000] or 'all'", "got True")),
    Bad("quota-upper-case-all", {"returns": {"quota_per_week": "ALL"}},
        ("'returns.quota_per_week'", "[0, 100000] or 'all'", "'ALL'")),
    # inconsistent combinations
    Bad("end-before-start", {"start_date": "2025-01-01", "end_date": "2024-01-01"},
        ("field 'end_date'", "after start_date (2025-01-01)", "2024-01-01")),
    Bad("end-equals-start", {"start_date": "2025-01-01", "end_date": "2025-01-01"},
        ("field 'end_date'", "after start_date")),
    Bad("run-over-60-years", {"start_date": "1950-01-01", "end_date": "2027-01-01"},
        ("field 'end_date'", "60 years")),
    Bad("initial-price-above-max", {"gangs": {"initial_price_gbp": 12000}},
        ("'gangs.initial_price_gbp'", "gangs.price_max_gbp (10000.0)", "got 12000.0")),
    Bad("boat-load-outside", {"gangs": {"people_per_boat_base": 100}},
        ("'gangs.people_per_boat_base'", "[15, 80]", "got 100.0")),
    Bad("initial-gangs-above-max", {"gangs": {"initial_gangs": 50}},
        ("'gangs.initial_gangs'", "gangs.max_gangs (40)", "got 50")),
    Bad("group-shares-not-1", {"groups": _groups(("a", 0.5), ("b", 0.4))},
        ("field 'groups'", "add up to 1", "0.9")),
    Bad("group-names-duplicate", {"groups": _groups(("a", 0.5), ("a", 0.5))},
        ("field 'groups'", "unique", "'a'")),
    Bad("sectors-duplicate", {"patrols": {"sectors": ["calais", "calais"]}},
        ("'patrols.sectors'", "unique")),
    Bad("legal-fixed-capacity-0", {"legal_route": {"mode": "fixed", "capacity_per_week": 0}},
        ("'legal_route.capacity_per_week'", "'fixed'")),
    Bad("ramp-max-below-quota",
        {"returns": {"quota_per_week": 100,
                     "ramp_up": {"enabled": True, "max_quota_per_week": 50}}},
        ("'returns.ramp_up.max_quota_per_week'", "returns.quota_per_week (100)", "got 50")),
    Bad("ramp-with-all", {"returns": {"quota_per_week": "all", "ramp_up": {"enabled": True}}},
        ("'returns.ramp_up.enabled'", "'all'")),
    Bad("announce-after-start", {"returns": {"announce_date": "2025-09-01"}},
        ("'returns.announce_date'", "returns.start_date (2025-08-04)")),
    Bad("detention-below-delay",
        {"returns": {"max_detention_days": 10, "processing_delay_days": 21}},
        ("'returns.max_detention_days'", "returns.processing_delay_days (21)", "got 10")),
    Bad("bilateral-without-date", {"groups": _groups(("a", 1.0), bilateral_return_prob=0.5)},
        ("'groups.0.bilateral_returns_from'", "group 'a'")),
    # overrides (as from --set)
    Bad("override-unknown-field", "baseline",
        ("'returns.quota_per_wek'", "did you mean 'quota_per_week'"), {"returns.quota_per_wek": 5}),
    Bad("override-unknown-top-level", "baseline", ("'nonexistent'", "top level"),
        {"nonexistent": 1}),
    Bad("override-index-too-large", "baseline", ("'groups.9.share'", "[0, 6]"),
        {"groups.9.share": 0.1}),
    Bad("override-index-not-a-number", "baseline",
        ("'environment.crossable_share_by_month.x'", "[0, 11]"),
        {"environment.crossable_share_by_month.x": 0.5}),
    Bad("override-out-of-range-string", "baseline", ("'gangs.initial_gangs'", "[1, 200]", "got -3"),
        {"gangs.initial_gangs": "-3"}),
    Bad("override-quota-lots", "pilot_50",
        ("'returns.quota_per_week'", "[0, 100000] or 'all'", "'lots'"),
        {"returns.quota_per_week": "lots"}),
    Bad("override-bad-date", None, ("field 'end_date'", "2025-02-30"), {"end_date": "2025-02-30"}),
    # files
    Bad("missing-file", Files({}, "absent.yaml"), ("absent.yaml", "not found", "pilot_50")),
    Bad("missing-shipped-name", "no_such_scenario",
        ("'no_such_scenario'", "not found", "baseline")),
    Bad("invalid-yaml", Files({"bad.yaml": "name: [unclosed\n"}, "bad.yaml"),
        ("bad.yaml", "not valid YAML")),
    Bad("yaml-is-a-list", Files({"list.yaml": "- 1\n- 2\n"}, "list.yaml"),
        ("list.yaml", "must be a mapping", "list")),
    Bad("yaml-is-a-string", Files({"text.yaml": "just some text\n"}, "text.yaml"),
        ("text.yaml", "must be a mapping", "str")),
    Bad("extends-cycle",
        Files({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"}, "a.yaml"),
        ("'extends' forms a cycle", "a.yaml -> b.yaml -> a.yaml")),
    Bad("extends-itself", Files({"self.yaml": "extends: self.yaml\n"}, "self.yaml"),
        ("'extends' forms a cycle", "self.yaml -> self.yaml")),
    Bad("extends-not-a-name", Files({"n.yaml": "extends: 5\n"}, "n.yaml"),
        ("field 'extends'", "got 5")),
    Bad("extends-missing-parent", Files({"orphan.yaml": "extends: nowhere.yaml\n"}, "orphan.yaml"),
        ("'nowhere.yaml'", "not found")),
    Bad("error-in-child-of-extends",
        Files({"child.yaml": "extends: pilot_50.yaml\nreturns:\n  quota_per_week: -5\n"},
              "child.yaml"),
        ("child.yaml", "'returns.quota_per_week'", "[0, 100000] or 'all'", "got -5")),
]


def _source(case: Bad, tmp_path: Path) -> Any:
    if isinstance(case.source, Files):
        for name, text in case.source.texts.items():
            (tmp_path / name).write_text(text)
        return tmp_path / case.source.entry
    return case.source


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_configuration_names_the_field(case: Bad, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_source(case, tmp_path), overrides=case.overrides)
    message = str(info.value)
    for part in case.expect:
        assert part in message, f"{part!r} missing from the message: {message}"


def test_bad_table_is_large_and_ids_are_unique() -> None:
    ids = [c.id for c in BAD]
    assert len(ids) >= 25
    assert len(set(ids)) == len(ids)


def test_config_error_is_a_value_error() -> None:
    # callers that catch ValueError (e.g. the command line) also catch ConfigError
    assert issubclass(ConfigError, ValueError)


def test_unknown_key_without_close_match_gets_no_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"colour": "red"})
    assert "did you mean" not in str(info.value)


def test_override_path_below_a_scalar_is_a_config_error() -> None:
    # e.g. --set returns.quota_per_week.x=1: the path goes below a number
    with pytest.raises(ConfigError) as info:
        load_config("baseline", {"returns.quota_per_week.x": 1})
    assert "returns.quota_per_week.x" in str(info.value)


# ---------------------------------------------------------------------- shipped scenarios
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.name == path.stem
    assert cfg.description
    assert cfg.n_days == (cfg.end_date - cfg.start_date).days + 1


def test_all_expected_scenarios_are_shipped() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"baseline", "pilot_50", "quota_200", "quota_all", "interception_plus",
            "legal_route_only"} <= names


def test_shipped_name_and_path_give_the_same_config() -> None:
    assert load_config("pilot_50") == load_config(CONFIG_DIR / "pilot_50.yaml")
    assert resolve_config_path("pilot_50") == CONFIG_DIR / "pilot_50.yaml"


# ---------------------------------------------------------------------- extends
def test_pilot_inherits_baseline_and_overrides_the_quota() -> None:
    base, pilot = load_config("baseline"), load_config("pilot_50")
    assert pilot.start_date == base.start_date == dt.date(2022, 1, 1)
    assert pilot.end_date == base.end_date
    assert base.returns.quota_per_week == 0
    assert pilot.returns.quota_per_week == 50
    assert pilot.returns.start_date == dt.date(2025, 8, 4)
    assert pilot.returns.announce_date == dt.date(2025, 7, 10)
    assert (base.legal_route.mode, pilot.legal_route.mode) == ("off", "matched")
    # untouched fields keep the parent's (here the embedded default) value
    assert pilot.returns.challenge_block_share == base.returns.challenge_block_share
    assert pilot.gangs == base.gangs


def test_chain_of_extends() -> None:
    q200, qall = load_config("quota_200"), load_config("quota_all")
    assert q200.returns.quota_per_week == 200 and qall.returns.quota_per_week == "all"
    for cfg in (q200, qall):  # from pilot_50 and, through it, from baseline
        assert cfg.returns.start_date == dt.date(2025, 8, 4)
        assert cfg.legal_route.mode == "matched"
        assert cfg.start_date == dt.date(2022, 1, 1)
    interception = load_config("interception_plus")
    assert interception.patrols.uk_payment_gbp_per_year == 160e6          # the standing payment, as in baseline
    assert interception.patrols.extra_payment_gbp_per_year == 160e6       # doubled from the pilot's date
    assert interception.patrols.extra_payment_start_date == dt.date(2025, 8, 4)
    assert interception.patrols.at_sea_interception is True
    assert interception.patrols.at_sea_interception_start_date == dt.date(2025, 8, 4)
    assert interception.returns.quota_per_week == 0


def test_extends_merges_nested_sections_deeply(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(
        "name: parent\nreturns:\n  quota_per_week: 30\n  processing_delay_days: 10\n"
        "legal_route:\n  mode: matched\n")
    (tmp_path / "child.yaml").write_text(
        "extends: parent.yaml\nname: child\nreturns:\n  quota_per_week: 75\n")
    cfg = load_config(tmp_path / "child.yaml")
    assert cfg.name == "child"
    assert cfg.returns.quota_per_week == 75
    assert cfg.returns.processing_delay_days == 10  # kept from the parent, same section
    assert cfg.legal_route.mode == "matched"


def test_extends_a_shipped_scenario_from_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "extends: pilot_50.yaml\nname: mine\nreturns:\n  quota_per_week: 75\n")
    cfg = load_config(tmp_path / "mine.yaml")
    assert (cfg.name, cfg.returns.quota_per_week) == ("mine", 75)
    assert cfg.returns.start_date == dt.date(2025, 8, 4)


def test_mapping_may_extend_a_shipped_scenario() -> None:
    cfg = load_config({"extends": "pilot_50", "returns": {"quota_per_week": 7}})
    assert cfg.returns.quota_per_week == 7
    assert cfg.legal_route.mode == "matched"


def test_empty_file_is_refused_and_an_empty_mapping_gives_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(tmp_path / "empty.yaml")
    (tmp_path / "defaults.yaml").write_text("{}\n")
    assert load_config(tmp_path / "defaults.yaml") == Config()


# ---------------------------------------------------------------------- overrides
@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("returns.quota_per_week", "200", 200),
        ("returns.quota_per_week", "all", "all"),
        ("patrols.at_sea_interception", "true", True),
        ("environment.base_inflow_per_day", "1e2", 100.0),
        ("start_date", "2023-05-01", dt.date(2023, 5, 1)),
        ("name", "my run", "my run"),
    ],
    ids=["int", "all-stays-text", "bool", "float", "date", "text"],
)
def test_string_overrides_are_parsed_as_yaml(name: str, text: str, expected: Any) -> None:
    cfg = load_config("pilot_50", overrides={name: text})
    value: Any = cfg
    for part in name.split("."):
        value = getattr(value, part)
    assert value == expected
    assert type(value) is type(expected)


def test_string_override_off_is_a_legal_route_mode() -> None:
    cfg = load_config("pilot_50", {"legal_route.mode": "off", "returns.quota_per_week": "0"})
    assert cfg.legal_route.mode == "off"


def test_override_of_a_list_item_and_of_a_group() -> None:
    cfg = load_config(None, {"environment.crossable_share_by_month.0": "0.1",
                             "groups.0.asylum_grant_prob": 0.2})
    assert cfg.environment.crossable_share_by_month[0] == 0.1
    default = Config().environment.crossable_share_by_month
    assert cfg.environment.crossable_share_by_month[1:] == default[1:]
    assert cfg.groups[0].asylum_grant_prob == 0.2


def test_parse_overrides() -> None:
    assert parse_overrides(["a.b=1"]) == {"a.b": "1"}
    assert parse_overrides([" x.y = 2 ", "name=a=b"]) == {"x.y": "2", "name": "a=b"}
    assert parse_overrides(None) == {} == parse_overrides([])


@pytest.mark.parametrize("item", ["nonsense", "=3", " =3"],
                         ids=["no-equals", "no-name", "blank-name"])
def test_parse_overrides_rejects_malformed_items(item: str) -> None:
    with pytest.raises(ConfigError, match="name=value"):
        parse_overrides([item])


# ---------------------------------------------------------------------- mappings, Config objects
def test_mapping_config() -> None:
    cfg = load_config({"name": "m", "returns": {"quota_per_week": 10},
                       "legal_route": {"mode": "matched"}})
    assert (cfg.name, cfg.returns.quota_per_week, cfg.legal_route.mode) == ("m", 10, "matched")
    assert cfg.returns.start_date == Config().returns.start_date


def test_mapping_is_not_modified() -> None:
    raw = {"returns": {"quota_per_week": 10}}
    load_config(raw, overrides={"returns.quota_per_week": 20})
    assert raw == {"returns": {"quota_per_week": 10}}


def test_defaults_and_round_trip() -> None:
    cfg = Config()
    assert load_config(None) == cfg
    assert load_config(cfg) == cfg
    assert load_config(cfg.model_dump(mode="json")) == cfg


def test_with_overrides_returns_a_validated_copy() -> None:
    cfg = Config()
    new = cfg.with_overrides({"returns.quota_per_week": 200, "legal_route.mode": "matched",
                              "gangs.initial_gangs": "5"})
    assert new.returns.quota_per_week == 200
    assert new.legal_route.mode == "matched"
    assert new.gangs.initial_gangs == 5
    assert cfg.returns.quota_per_week == 0 and cfg.gangs.initial_gangs == 12  # unchanged
    with pytest.raises(ConfigError, match=re.escape("'returns.quota_per_week'")):
        cfg.with_overrides({"returns.quota_per_week": -1})


def test_default_at_gives_plain_copies_of_the_embedded_defaults() -> None:
    assert default_at(["returns", "quota_per_week"]) == 0
    assert default_at(["environment", "inflow_year_multiplier"]) == Config().environment.inflow_year_multiplier
    ramp = default_at(["returns", "ramp_up"])
    assert ramp == Config().returns.ramp_up.model_dump(mode="python") and isinstance(ramp, dict)
    groups = default_at(["groups"])
    assert [type(g) for g in groups] == [dict] * len(Config().groups)
    assert default_at(["groups", "0", "name"]) == "albanian"
    months = default_at(["environment", "crossable_share_by_month"])
    months[0] = 99.0  # a copy: the next call, and the embedded defaults, are unchanged
    assert default_at(["environment", "crossable_share_by_month"])[0] == 0.30
    assert Config().environment.crossable_share_by_month[0] == 0.30


# ---------------------------------------------------------------------- the parameter table
def _numeric(text: str) -> bool:
    items = text.strip("[]").split(", ") if text.startswith("[") else [text]
    try:
        [float(x) for x in items if x]
    except ValueError:
        return False
    return bool(text)


def _in_range(value: float, rng: str) -> bool:
    m = re.match(r"([\[(])(-?[\d.e+]+|-inf), (-?[\d.e+]+|inf)([\])])", rng)  # may go on: "or 'all'"
    assert m, f"unexpected range format {rng!r}"
    lo, hi = float(m.group(2)), float(m.group(3))
    above = value > lo if m.group(1) == "(" else value >= lo
    below = value < hi if m.group(4) == ")" else value <= hi
    return above and below


def test_parameter_table_rows_have_unit_and_source() -> None:
    rows = parameter_table()
    paths = [r["path"] for r in rows]
    assert "returns.quota_per_week" in paths
    assert len(paths) == len(set(paths))
    numeric = [r for r in rows if _numeric(r["default"])]
    assert len(numeric) > 80
    for r in numeric:
        assert r["unit"], f"{r['path']} has no unit"
        assert r["source"], f"{r['path']} has no source"
        assert r["meaning"], f"{r['path']} has no meaning"


def test_parameter_table_defaults_lie_in_their_ranges() -> None:
    for r in parameter_table():
        if r["range"] and _numeric(r["default"]) and not r["default"].startswith("["):
            assert _in_range(float(r["default"]), r["range"]), r


def test_parameter_table_quota_row_and_sections() -> None:
    quota = next(r for r in parameter_table() if r["path"] == "returns.quota_per_week")
    assert quota["range"] == "[0, 100000] or 'all'"
    assert quota["unit"] == "returns/week"
    returns = parameter_table("returns")
    assert returns and all(r["path"].startswith("returns.") for r in returns)
    assert "returns.ramp_up.max_quota_per_week" in {r["path"] for r in returns}
    assert parameter_table("no_such_section") == []


def test_matched_legal_route_with_no_quota_is_allowed_and_admits_no_one() -> None:
    """A quota sweep from 0 on the pilot: matched mode with quota 0 simply admits no one."""
    cfg = load_config("pilot_50", {"returns.quota_per_week": 0})
    assert cfg.legal_route.mode == "matched"


def test_check_names_names_the_field_the_bad_name_a_suggestion_and_the_accepted_names() -> None:
    from sim.config import check_names, timeseries_variables

    assert check_names("outputs.variables", "returns", ["returns", "deaths"]) == ["returns"]
    with pytest.raises(ConfigError, match=r"^outputs.variables: unknown variable 'deths'; did you mean 'deaths'\? "
                                          r"\(accepted: returns, deaths\)$"):
        check_names("outputs.variables", ["returns", "deths"], ["returns", "deaths"], "variable")
    with pytest.raises(ConfigError, match=r"expected a variable or a list of variables, got 5"):
        check_names("outputs.variables", 5, ["returns"], "variable")
    cfg = load_config("pilot_50")
    names = timeseries_variables(cfg)
    assert names == timeseries_variables(cfg.model_dump(mode="json"))
    assert {"arrivals_uk", "n_dead"} | {f"arrivals_{g.name}" for g in cfg.groups} <= set(names)


def test_an_invalid_scenario_given_as_data_is_named_by_its_name() -> None:
    """A sweep sends its base scenario to every run as data: an error names the scenario, not 'mapping'."""
    data = load_config("pilot_50").model_dump(mode="json")
    with pytest.raises(ConfigError, match=r"invalid configuration \(scenario 'pilot_50' with the overrides "
                                          r"returns.quota_per_week\): field 'returns.quota_per_week'"):
        load_config(data, {"returns.quota_per_week": -5})

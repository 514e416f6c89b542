"""Typed, validated parameters of the Channel model.

Every parameter is declared once, here, with its unit, default, allowed range and
source (``unit`` and ``source`` in the field's metadata; the range in ``ge``/``le``).
The ODD parameter tables (``docs/ODD.md``) are generated from these declarations by
:func:`parameter_table`, so the two cannot drift apart. Reading scenario files
(``extends:`` inheritance, ``--set`` overrides, error messages) is :mod:`sim.config`.

Sources are abbreviated: ``HO`` UK Home Office small-boat statistics (ODD section 6); ``HoC`` House of Commons Library; ``IOM`` Missing Migrants
Project; ``NCA`` National Crime Agency statements; ``assumption`` marks a value chosen
by the modellers; "calibrated" marks a value fitted by ABC-SMC: the shipped point of the emulator-assisted
calibration in docs/calibration (the best-fitting of its candidates, ODD section 6.1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

__all__ = [
    "Config",
    "Date",
    "P",
    "field_model",
    "parameter_table",
    "range_of",
]

MONTHS = 12


def _date_not_number(v: Any) -> Any:
    # pydantic would read a number as seconds since 1970; a scenario date is a calendar date
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        raise ValueError("must be a calendar date written YYYY-MM-DD, not a number")
    return v


#: A calendar date (YYYY-MM-DD); numbers are refused.
Date = Annotated[dt.date, BeforeValidator(_date_not_number)]


def P(default: Any, *, unit: str, source: str, doc: str, ge: float | None = None,
      le: float | None = None, gt: float | None = None, lt: float | None = None) -> Any:
    """Declare a parameter: default, range, unit, source and meaning in one place."""
    return Field(default, ge=ge, le=le, gt=gt, lt=lt, description=doc,
                 json_schema_extra={"unit": unit, "source": source})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False)


# --------------------------------------------------------------------------- sections
class EnvironmentParams(_Section):
    """Weather, calendar, inflow to the coast and sea risk."""

    crossable_share_by_month: list[float] = P(
        [0.30, 0.27, 0.38, 0.45, 0.53, 0.55, 0.55, 0.57, 0.53, 0.42, 0.30, 0.27],
        unit="share of days", source="HO daily series 2022-2024: share of days with any arrival, by month",
        doc="Long-run share of days on which the sea allows crossings, January..December; each in [0, 1].")
    weather_persistence: float = P(
        0.45, ge=0.0, le=0.95, unit="1", source="assumption; HO daily series shows runs of crossing days",
        doc="Autocorrelation of crossable days (0 = independent days).")
    marginal_weather_share: float = P(
        0.30, ge=0.0, le=1.0, unit="share of crossable days", source="assumption",
        doc="Share of crossable days with marginal weather (higher sea risk).")
    base_inflow_per_day: float = P(
        185.0, ge=0.0, le=5000.0, unit="people/day",
        source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 150-450; HO 2022 arrivals)",
        doc="Mean daily number of people considering the Channel route (before their upstream choice), "
            "before seasonality.")
    inflow_seasonality: list[float] = P(
        [0.45, 0.40, 0.55, 0.75, 1.05, 1.15, 1.25, 1.55, 1.50, 1.35, 1.05, 0.60],
        unit="relative weight", source="HO daily series 2022-2024: mean arrivals by month (shape)",
        doc="Relative inflow by month, January..December; rescaled to mean 1.")
    inflow_year_multiplier: dict[int, float] = P(
        {2023: 0.907, 2024: 1.03, 2025: 1.33}, unit="1",
        source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 0.5-1.1, 0.6-1.3, 1.0-2.4; HO yearly arrivals)",
        doc="Multiplier of the inflow by calendar year; a year after the last listed takes the last listed "
            "value times the future path (future_inflow), any other missing year is 1.")
    future_inflow: Literal["fixed", "ensemble"] = P(
        "ensemble", unit="choice", source="issue 11 (the future as an ensemble); see future_inflow_log_sd",
        doc="After the last year listed in inflow_year_multiplier: 'fixed' keeps the last listed multiplier; "
            "'ensemble' lets it follow a random walk in logs, one path per run drawn from the run's seed (so "
            "every scenario run on the same seed has the same future inflow), with steps of mean "
            "future_inflow_log_drift and standard deviation future_inflow_log_sd a year.")
    future_inflow_log_sd: float = P(
        0.295, ge=0.0, le=2.0, unit="log points per year",
        source="fitted: sd of the year-to-year log change of January-July arrivals 2021-2025, HO daily series "
               "(sim.calibration.future.fit_future_inflow; 0.26 from 2022, 0.41 from 2020)",
        doc="Standard deviation of a year's change of the log inflow multiplier after the last listed year "
            "(future_inflow 'ensemble').")
    future_inflow_seed: int | None = P(
        None, ge=0, le=2**31 - 1, unit="seed", source="design choice (issue 11: the inflow's share of the variance)",
        doc="Seed of the future inflow path (future_inflow 'ensemble'); None: derived from the run's seed. "
            "Setting it separates the future inflow from the run's other randomness (sim.experiments.predictive).")
    future_inflow_log_drift: float = P(
        0.0, ge=-1.0, le=1.0, unit="log points per year",
        source="assumption: no trend (the 2021-2025 mean change, +0.25 with standard error 0.15, is the route's "
               "growth, not extrapolated); range -0.3 to 0.3",
        doc="Mean of a year's change of the log inflow multiplier after the last listed year (future_inflow 'ensemble').")
    travel_days_mean: float = P(
        5.0, ge=0.0, le=120.0, unit="days", source="assumption",
        doc="Mean days from setting out (entering the model) to reaching the coast.")
    initial_waiting: int = P(
        1500, ge=0, le=100000, unit="people", source="assumption (camps near Calais and Dunkirk hold a few thousand)",
        doc="People waiting at the coast on the first day.")
    upstream_choice_scale_gbp: float = P(
        2370.0, gt=0.0, le=100000.0, unit="GBP",
        source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 1,000-10,000; the Albania case)",
        doc="Logit scale of the choice upstream between setting out for the coast and the outside "
            "option (larger: the choice responds less to expected values).")
    travel_cost_gbp: float = P(
        1000.0, ge=0.0, le=100000.0, unit="GBP",
        source="assumption (travel to and living at the northern French coast, evictions; range 0-5,000)",
        doc="Cost of going to the coast to try the Channel rather than taking the outside option at once.")
    sea_deaths_per_1000: float = P(
        0.612, ge=0.0, le=50.0, unit="deaths per 1,000 crossing",
        source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 0.1-2; IOM deaths 2022-2025 pooled)",
        doc="Expected deaths per 1,000 people crossing at the reference boat load in calm weather.")
    reference_people_per_boat: float = P(
        45.0, ge=1.0, le=100.0, unit="people/boat", source="HO: 41-53 per boat 2022-2024",
        doc="Boat load at which the sea risk equals sea_deaths_per_1000.")
    overcrowding_elasticity: float = P(
        1.0, ge=0.0, le=6.0, unit="1", source="assumption (range 0-3; deaths per 1,000 fell in 2025 as loads rose)",
        doc="Sea risk scales as (people per boat / reference)^elasticity.")
    marginal_weather_risk_factor: float = P(
        2.5, ge=1.0, le=10.0, unit="1", source="assumption",
        doc="Multiplier of sea risk on marginal-weather days.")
    incident_kill_share: float = P(
        0.3, ge=0.0, le=1.0, unit="share of a boat", source="IOM: incidents such as 2021-11-24 (27 dead) kill a large share",
        doc="Share of the people in a boat who die when an incident (a sinking) happens.")
    incident_share: float = P(
        0.6, ge=0.0, le=1.0, unit="share of deaths", source="IOM: many deaths come in single incidents",
        doc="Share of expected deaths that come as one incident (heavy tail) rather than one by one.")

    @field_validator("crossable_share_by_month", "inflow_seasonality")
    @classmethod
    def _twelve(cls, v: list[float], info: Any) -> list[float]:
        if len(v) != MONTHS:
            raise ValueError(f"needs 12 values (January..December), got {len(v)}")
        if any(x < 0 for x in v):
            raise ValueError("values must be >= 0")
        if info.field_name == "crossable_share_by_month" and any(x > 1 for x in v):
            raise ValueError("values are shares of days and must be <= 1")
        if info.field_name == "inflow_seasonality" and sum(v) <= 0:
            raise ValueError("at least one month needs a positive weight")
        return v

    @field_validator("inflow_year_multiplier")
    @classmethod
    def _years(cls, v: dict[int, float]) -> dict[int, float]:
        for year, m in v.items():
            if not 1900 <= year <= 2200 or not 0 <= m <= 20:
                raise ValueError(f"year {year}: multiplier must be in [0, 20] and year in [1900, 2200], got {m}")
        return v


class MigrantParams(_Section):
    """Heterogeneity and decision parameters of migrants."""

    wealth_median_gbp: float = P(
        4000.0, ge=0.0, le=100000.0, unit="GBP", source="assumption; prices GBP 1,500-6,000 are paid by most",
        doc="Median of lognormal wealth (savings plus what family or a loan adds).")
    wealth_sigma: float = P(0.6, ge=0.0, le=3.0, unit="1 (log sd)", source="assumption",
                            doc="Log standard deviation of wealth.")
    wealth_top_up_gbp_per_day: float = P(
        15.0, ge=0.0, le=1000.0, unit="GBP/day", source="assumption (remittances, informal work)",
        doc="Daily addition to wealth while in France.")
    valuation_median_gbp: float = P(
        30000.0, ge=0.0, le=1000000.0, unit="GBP", source="assumption; cf. UK wage premium over years",
        doc="Median valuation of staying in the UK (family ties, language, jobs).")
    valuation_sigma: float = P(0.8, ge=0.0, le=3.0, unit="1 (log sd)", source="assumption (heavy tail)",
                               doc="Log standard deviation of valuations.")
    refused_stay_value_share: float = P(
        0.5, ge=0.0, le=1.0, unit="share of V", source="assumption; few refused claimants are removed",
        doc="Value of being in the UK with a refused claim, as a share of the full valuation.")
    outside_option_median_gbp: float = P(
        8000.0, ge=0.0, le=1000000.0, unit="GBP", source="assumption",
        doc="Median value of the best alternative (asylum in France or elsewhere in the EU).")
    outside_option_sigma: float = P(0.7, ge=0.0, le=3.0, unit="1 (log sd)", source="assumption",
                                    doc="Log standard deviation of outside options.")
    return_to_france_cost_gbp: float = P(
        2000.0, ge=0.0, le=100000.0, unit="GBP",
        source="assumption (weeks of detention and travel back, lost time; range 500-5,000)",
        doc="Loss from a return to France besides the fare (the person is back at the coast and may try again).")
    return_home_cost_gbp: float = P(
        3000.0, ge=0.0, le=100000.0, unit="GBP",
        source="assumption (detention, the journey lost; range 1,000-10,000)",
        doc="Loss from a return to the country of origin besides the fare and the outside option's "
            "travel (the journey is over; the person takes the outside option from home).")
    returnee_belief_weight: float = P(
        10.0, ge=0.0, le=1000.0, unit="pseudo-observations",
        source="assumption: one's own return is strong evidence (identified on any later arrival)",
        doc="Weight of one's own return in the belief about being returned again.")
    france_asylum_value_gbp: float = P(
        12000.0, ge=0.0, le=1000000.0, unit="GBP",
        source="assumption: returnees under the pilot may claim asylum in France (HO; press); range 5,000-30,000",
        doc="Value of claiming asylum in France, the outside option of a person returned to France "
            "(their outside option becomes the larger of this and their own).")
    returnee_credit: bool = P(
        False, unit="flag", source="Friebel and Guriev (2006): debt-financed smuggling",
        doc="Whether a returnee can take the next fare on credit from a gang (wealth may go below 0).")
    waiting_cost_gbp_per_day: float = P(
        20.0, ge=0.0, le=10000.0, unit="GBP/day", source="assumption (living rough at the coast, evictions, time)",
        doc="Cost of waiting at the coast, weighed against the legal route's expected wait.")
    risk_aversion_median: float = P(1.0, ge=0.0, le=20.0, unit="1", source="assumption",
                                    doc="Median of lognormal risk aversion a.")
    risk_aversion_sigma: float = P(0.5, ge=0.0, le=3.0, unit="1 (log sd)", source="assumption",
                                   doc="Log standard deviation of risk aversion.")
    value_of_life_gbp: float = P(
        2000000.0, ge=0.0, le=20000000.0, unit="GBP", source="assumption; UK VPF is about GBP 2m",
        doc="Value of life L used in the risk cost a*d*L.")
    patience_mean_days: float = P(
        60.0, ge=1.0, le=1000.0, unit="days", source="assumption",
        doc="Mean (exponential) number of days a person keeps trying while the route is not worth it.")
    review_interval_days: int = P(
        7, ge=1, le=90, unit="days", source="assumption",
        doc="Days between periodic reviews of a waiting person's decision (activation).")
    known_gangs: int = P(3, ge=1, le=20, unit="gangs", source="assumption",
                         doc="Gangs a person compares when deciding (drawn by market share).")
    choice_scale_gbp: float = P(
        1030.0, gt=0.0, le=100000.0, unit="GBP",
        source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 500-4,000; seat prices)",
        doc="Logit scale of the choice among gangs (larger = more random); it is also the gangs' "
            "market power: the logit-Bertrand markup over the cost of a seat.")
    adult_share: float = P(0.8, ge=0.0, le=1.0, unit="share", source="assumption; HO age-disputed cases",
                           doc="Share of arrivals who are adults (only adults are eligible for return).")


class BeliefParams(_Section):
    """Beliefs about success, return, death risk; rumours and news."""

    prior_strength: float = P(4.0, gt=0.0, le=1000.0, unit="pseudo-observations", source="assumption",
                              doc="Weight of the prior a newcomer brings (Beta counts).")
    prior_success_prob: float = P(0.6, ge=0.0, le=1.0, unit="probability", source="assumption",
                                  doc="Newcomers' prior belief that a launch succeeds.")
    memory_half_life_days: float = P(
        90.0, ge=1.0, le=3650.0, unit="days", source="assumption (Routes and Rumours: beliefs fade)",
        doc="Half-life of belief counts; gives the lag and the fading of announcements.")
    contacts_per_review: int = P(5, ge=0, le=100, unit="contacts", source="assumption (Bijak et al. 2021)",
                                 doc="Contacts heard from at each review (group-based network).")
    rumour_trust: float = P(0.5, ge=0.0, le=1.0, unit="weight", source="assumption (Bijak et al. 2021)",
                            doc="Weight of one contact's report relative to one own observation.")
    rumour_distortion: float = P(
        0.3, ge=0.0, le=3.0, unit="1 (log sd)", source="assumption (Bijak et al. 2021)",
        doc="Log-normal noise on the rates contacts report (distortion of rumours).")
    news_lag_days: float = P(21.0, ge=1.0, le=365.0, unit="days", source="assumption",
                             doc="Time constant with which group-level outcome rates reach rumours.")
    announcement_weight: float = P(
        5.0, ge=0.0, le=1000.0, unit="pseudo-observations", source="assumption",
        doc="Weight of a public policy announcement in the beliefs of those who hear it.")
    prior_death_risk: float = P(
        0.00283, ge=0.0, le=0.5, unit="probability",
        source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 0.0003-0.004: a belief, "
               "identified through the risk cost by the levels and the Albania case; IOM counts over HO arrivals: "
               "0.73-0.89 per 1,000 pooled 2022-2025, 2.1 in 2024)",
        doc="Newcomers' prior death risk per crossing.")


class GroupParams(_Section):
    """A nationality group."""

    name: str = Field(..., min_length=1, max_length=40, description="Group name.",
                      json_schema_extra={"unit": "label", "source": "HO Irr_D02 nationality groups"})
    share: float = P(0.1, ge=0.0, le=1.0, unit="share of inflow", source="HO Irr_D02 nationality shares (approx.)",
                     doc="Share of the inflow to the coast.")
    asylum_grant_prob: float = P(0.7, ge=0.0, le=1.0, unit="probability", source="Migration Observatory; HO",
                                 doc="Probability an asylum claim is granted.")
    valuation_multiplier: float = P(
        1.0, ge=0.0, le=20.0, unit="x migrants.valuation_median_gbp",
        source="assumption (group ties to the UK); Albanians' calibrated: emulator-assisted "
               "ABC-SMC 2022-2025, docs/calibration (prior 0.5-4; the Albania case)",
        doc="The group's median valuation of the UK relative to the migrants' median.")
    outside_option_multiplier: float = P(
        1.0, ge=0.0, le=20.0, unit="x migrants.outside_option_median_gbp",
        source="assumption (for Albanians: visa-free Schengen access)",
        doc="The group's median outside option relative to the migrants' median.")
    covered_by_returns: bool = P(True, unit="flag", source="one in, one out terms (Le Monde; HO)",
                                 doc="Whether the one-in-one-out returns can cover this group.")
    bilateral_returns_from: Date | None = P(
        None, unit="date", source="UK-Albania deal, Dec 2022 (HO)",
        doc="Start of a bilateral returns agreement covering the group (None: none).")
    bilateral_return_prob: float = P(
        0.0, ge=0.0, le=1.0, unit="probability", source="assumption; near-certain for Albania after 2022",
        doc="Probability an arrival of the group is returned under its bilateral agreement "
            "(a return to the country of origin).")


def _default_groups() -> list[GroupParams]:
    # Shares: approximate 2022 nationality mix of small-boat arrivals (HO Irr_D02);
    # grant probabilities: approximate initial grant rates (Migration Observatory).
    return [
        GroupParams(name="albanian", share=0.25, asylum_grant_prob=0.15, valuation_multiplier=1.44,
                    outside_option_multiplier=2.0,
                    bilateral_returns_from=dt.date(2022, 12, 13), bilateral_return_prob=0.9),
        GroupParams(name="afghan", share=0.20, asylum_grant_prob=0.95),
        GroupParams(name="iranian", share=0.13, asylum_grant_prob=0.80),
        GroupParams(name="iraqi", share=0.12, asylum_grant_prob=0.45),
        GroupParams(name="syrian", share=0.08, asylum_grant_prob=0.95),
        GroupParams(name="eritrean_sudanese", share=0.12, asylum_grant_prob=0.90),
        GroupParams(name="other", share=0.10, asylum_grant_prob=0.50),
    ]


class GangParams(_Section):
    """Smuggling gangs' economics and adaptation."""

    initial_gangs: int = P(12, ge=1, le=200, unit="gangs", source="assumption (NCA: a few dozen networks)",
                           doc="Active gangs at the start.")
    max_gangs: int = P(40, ge=1, le=500, unit="gangs", source="assumption",
                       doc="Cap on active gangs (free entry up to this).")
    initial_cash_gbp: float = P(150000.0, ge=0.0, le=1e8, unit="GBP", source="assumption",
                                doc="Starting cash of each gang (and of an entrant, after its entry cost).")
    entry_cost_gbp: float = P(50000.0, ge=0.0, le=1e8, unit="GBP", source="assumption",
                              doc="Sunk cost paid by an entrant.")
    initial_price_gbp: float = P(3000.0, ge=0.0, le=20000.0, unit="GBP/seat", source="NCA; press (GBP 1,500-6,000)",
                                 doc="Starting price per seat.")
    price_max_gbp: float = P(10000.0, ge=0.0, le=50000.0, unit="GBP/seat",
                             source="assumption (above the late-2024 highs of GBP 5,000-6,000)",
                             doc="Highest price a gang charges (the floor is the variable cost of a seat).")
    price_adjust_rate: float = P(0.08, ge=0.0, le=1.0, unit="share per week", source="assumption",
                                 doc="Largest relative price change in one week.")
    boat_price_gbp: float = P(8000.0, ge=0.0, le=1e6, unit="GBP/boat", source="press (boat and engine)",
                              doc="Base price of a boat with engine.")
    boat_price_year_multiplier: dict[int, float] = P(
        {2022: 1.0, 2023: 1.5, 2024: 2.8, 2025: 3.2}, unit="1",
        source="press: engines about 5x dearer in 2024 than 2023 (boat and engine together less)",
        doc="Exogenous supply disruption: multiplier of the boat price by year (later years keep the last).")
    boat_price_seizure_elasticity: float = P(
        1.0, ge=0.0, le=20.0, unit="1", source="assumption (press: engines about 5x dearer in 2024 than 2023; "
        "Gathmann 2008: seat prices rise modestly with enforcement); range 0-3",
        doc="Boat price rises by this times the relative excess of recent seizures over the reference rate.")
    boat_seizures_reference_per_week: float = P(
        25.0, gt=0.0, le=10000.0, unit="boats/week",
        source="UK-France Joint Leaders' Declaration (Mar 2023): 1,381 boats prevented in 2022 (26.6 a week)",
        doc="Seizures a week that the boat supply absorbs without a premium.")
    running_cost_per_launch_gbp: float = P(6000.0, ge=0.0, le=1e6, unit="GBP/launch",
                                           source="assumption (transport, fuel, pilot)",
                                           doc="Cost per launch besides the boat.")
    fixed_cost_per_week_gbp: float = P(12000.0, ge=0.0, le=1e7, unit="GBP/week", source="assumption",
                                       doc="Weekly fixed cost (staff, safe houses, bribes).")
    arrest_prob_per_prevented: float = P(0.15, ge=0.0, le=1.0, unit="probability", source="assumption",
                                         doc="Probability a prevented launch leads to an arrest of staff.")
    arrest_cost_gbp: float = P(20000.0, ge=0.0, le=1e7, unit="GBP", source="assumption",
                               doc="Cost to the gang of one arrest (replacement, legal).")
    people_per_boat_min: int = P(15, ge=1, le=200, unit="people/boat", source="HO 2022 boats",
                                 doc="Fewest people a gang launches a boat with.")
    people_per_boat_base: float = P(49.6, ge=1.0, le=200.0, unit="people/boat",
                                    source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 20-50; HO people per boat)",
                                    doc="Boat load when boats cost their base price.")
    people_per_boat_max: int = P(80, ge=1, le=200, unit="people/boat", source="HO: record loads of 70-80",
                                 doc="Most people a gang puts on one boat.")
    people_per_boat_price_slope: float = P(
        9.89, ge=0.0, le=100.0, unit="people per log(boat price)",
        source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 0-30; HO people per boat 41 to 59)",
        doc="Rise of the boat load per unit of log relative boat price (boats scarce -> fuller boats).")
    max_fill_wait_days: int = P(7, ge=0, le=90, unit="days", source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 2-14)",
                                doc="Days a gang keeps its earliest passenger waiting for a full boat before it "
                                    "launches a smaller one.")
    min_fill_share: float = P(0.102, ge=0.0, le=1.0, unit="share of the target load",
                              source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 0-1; HO people per boat)",
                              doc="Smallest part of its target load a gang launches a boat with after "
                                  "max_fill_wait_days (0: any load from the minimum); past three times that "
                                  "wait, any load from the minimum goes.")
    max_launches_per_day: int = P(2, ge=1, le=100, unit="launches/day",
                                  source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 1-4; HO busiest days)",
                                  doc="Most boats one gang launches on a day.")
    stock_weeks: float = P(1.5, ge=0.0, le=20.0, unit="weeks", source="assumption",
                           doc="Weeks of expected launches a gang keeps boats for.")
    retry_promise_prob: float = P(0.5, ge=0.0, le=1.0, unit="probability", source="press (packages with retries)",
                                  doc="Probability a prevented passenger keeps a seat for a retry.")
    insurance_trigger_return_rate: float = P(
        0.05, ge=0.0, le=1.0, unit="return probability", source="assumption (ECONOMICS.md section 3; range 0.01-0.2)",
        doc="Return probability of a covered arrival since the policy started (quota returns over covered "
            "arrivals), at or above which a gang offers return insurance (a free second crossing to its "
            "customers who are returned); it stops below half of it.")
    taxi_boat_trigger: float = P(0.55, ge=0.0, le=1.0, unit="prevented share", source="assumption",
                                 doc="Prevented share over 4 weeks above which a gang moves to taxi boats.")
    taxi_boat_extra_cost_gbp: float = P(2000.0, ge=0.0, le=1e6, unit="GBP/launch", source="assumption",
                                        doc="Extra cost per launch of taxi-boat tactics.")
    exit_after_loss_weeks: int = P(26, ge=1, le=520, unit="weeks", source="assumption",
                                   doc="A gang exits when its profit over this many past weeks is negative.")
    entry_margin_threshold: float = P(0.25, ge=-1.0, le=1.0, unit="profit / revenue", source="assumption",
                                      doc="Market profit margin (4 weeks) above which gangs may enter.")
    entry_prob_per_week: float = P(0.3, ge=0.0, le=1.0, unit="probability/week", source="assumption",
                                   doc="Chance that one gang enters in a week when entry pays.")


    @field_validator("boat_price_year_multiplier")
    @classmethod
    def _years(cls, v: dict[int, float]) -> dict[int, float]:
        for year, m in v.items():
            if not 1900 <= year <= 2200 or not 0 < m <= 100:
                raise ValueError(f"year {year}: multiplier must be in (0, 100] and year in [1900, 2200], got {m}")
        return v


class PatrolParams(_Section):
    """French beach patrols, funded in part by the UK."""

    sectors: list[str] = Field(
        default_factory=lambda: ["dunkirk", "calais", "boulogne", "le_touquet", "somme"],
        min_length=1, max_length=20, description="Coastal sectors (launch areas), each with one patrol agent.",
        json_schema_extra={"unit": "names", "source": "launch areas of the Nord, Pas-de-Calais and Somme coast (press)"})
    base_capacity_units: float = P(60.0, ge=0.0, le=10000.0, unit="patrol units",
                                   source="assumption (French deployment ~ 700-800 officers)",
                                   doc="Patrol capacity funded by France alone.")
    uk_payment_gbp_per_year: float = P(
        160e6, ge=0.0, le=5e9, unit="GBP/year", source="HoC: EUR 541m over 2023-26 (about GBP 150-180m a year)",
        doc="UK payment to France for border security.")
    extra_payment_gbp_per_year: float = P(
        0.0, ge=0.0, le=5e9, unit="GBP/year", source="policy lever (issue 10: interception against returns per pound)",
        doc="Additional UK payment to France from extra_payment_start_date, funding more patrol units "
            "(the alternative to returns); counted in payments_to_france_gbp.")
    extra_payment_start_date: Date = P(dt.date(2025, 8, 4), unit="date",
                                       source="the pilot's start, so that the two instruments are compared from one date",
                                       doc="First day of the additional payment.")
    gbp_per_unit_per_year: float = P(4e6, gt=0.0, le=1e9, unit="GBP per unit-year", source="assumption",
                                     doc="Cost of one patrol unit for a year.")
    prevention_max: float = P(0.71, ge=0.0, le=1.0, unit="probability",
                              source="calibrated: emulator-assisted ABC-SMC 2022-2025, docs/calibration (prior 0.5-0.9; HO 38-55% prevented)",
                              doc="Highest achievable probability of preventing a launch.")
    prevention_k: float = P(0.2, ge=0.0, le=100.0, unit="launches per unit", source="assumption",
                            doc="Effectiveness k in p = p_max (1 - exp(-k capacity/launches)).")
    taxi_boat_effect: float = P(0.4, ge=0.0, le=1.0, unit="share", source="press: taxi boats evade beach patrols",
                                doc="Relative fall in beach prevention against a taxi-boat launch.")
    at_sea_interception: bool = P(False, unit="flag", source="press: France moves toward at-sea interception late 2025",
                                  doc="Whether boats can also be intercepted once afloat.")
    at_sea_interception_start_date: Date | None = P(
        None, unit="date", source="press: France moves toward at-sea interception late 2025",
        doc="First day of at-sea interception when it is allowed; None: from the start of the run.")
    at_sea_interception_prob: float = P(0.15, ge=0.0, le=1.0, unit="probability", source="assumption",
                                        doc="Probability an afloat boat is intercepted when allowed.")
    redeploy_rate: float = P(0.3, ge=0.0, le=1.0, unit="share per week", source="assumption",
                             doc="Weight of last week's launches when patrols redeploy across sectors.")


class RampUp(_Section):
    """Optional rule: start small, increase the quota while it works."""

    enabled: bool = P(False, unit="flag", source="press: 'start small, increase if it works'",
                      doc="Whether the weekly quota ramps up.")
    every_weeks: int = P(4, ge=1, le=520, unit="weeks", source="assumption", doc="Weeks between quota reviews.")
    step: int = P(25, ge=0, le=100000, unit="returns/week", source="assumption", doc="Quota increase at a review.")
    max_quota_per_week: int = P(500, ge=0, le=100000, unit="returns/week", source="assumption",
                                doc="Ceiling of the ramped quota.")


class ReturnsParams(_Section):
    """The returns authority (one in, one out)."""

    quota_per_week: Annotated[int, Field(ge=0, le=100000)] | Literal["all"] = Field(
        0, description="Weekly returns quota (0: no policy; 'all': every eligible arrival).",
        json_schema_extra={"unit": "returns/week", "source": "Le Monde: about 50 a week reported",
                           "range": "[0, 100000] or 'all'"})
    return_rate: float | None = P(
        None, ge=0.0, le=1.0, unit="returns per eligible arrival", source="policy lever (ECONOMICS.md section 4)",
        doc="The policy as a return rate instead of a quota: each policy week's quota is this share of the "
            "previous week's eligible arrivals (adults of covered groups); None: use quota_per_week.")
    start_date: Date = P(dt.date(2025, 8, 4), unit="date", source="HO: in force 4-5 Aug 2025",
                            doc="First day of returns.")
    announce_date: Date | None = P(dt.date(2025, 7, 10), unit="date", source="HO: announced 10 Jul 2025",
                                      doc="Day the policy is announced (news); None: not announced.")
    challenge_block_share: float = P(0.4, ge=0.0, le=1.0, unit="share", source="assumption; early pilot returned few",
                                     doc="Share of selected people whose return is blocked by a legal challenge.")
    processing_delay_days: int = P(21, ge=0, le=365, unit="days", source="assumption",
                                   doc="Days from arrival to return.")
    max_detention_days: int = P(60, ge=1, le=730, unit="days", source="assumption",
                                doc="Days after which a detained person not yet returned is released.")
    repeat_priority_share: float = P(
        0.98, ge=0.0, le=1.0, unit="share of repeat arrivals",
        source="HO: returnees are identified biometrically on a later arrival and returned again; 2 re-crossers "
               "known among about 190 returned (press, Dec 2025: about 1%, a lower bound), which the model gives "
               "between 0.95 and 0.99 (docs/figures/recross_sensitivity.csv); range 0.95-0.99",
        doc="Share of identified repeat arrivals (people returned before) detained for return ahead of others.")
    cost_per_return_gbp: float = P(15000.0, ge=0.0, le=1e6, unit="GBP/return", source="assumption (detention, transport)",
                                   doc="Cost of one return.")
    ramp_up: RampUp = Field(default_factory=RampUp, description="Optional ramp-up rule.")

    @field_validator("quota_per_week", mode="before")
    @classmethod
    def _quota(cls, v: Any) -> Any:
        if v == "all":
            return v
        ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100000
        if isinstance(v, float) and v.is_integer() and 0 <= v <= 100000:
            return int(v)
        if not ok:
            raise ValueError("must be a whole number of returns per week in [0, 100000] or 'all'")
        return v


class LegalRouteParams(_Section):
    """The legal route from France to the UK."""

    mode: Literal["off", "matched", "fixed"] = P(
        "off", unit="choice", source="one in, one out terms",
        doc="'off'; 'matched': one admission per return (times ratio); 'fixed': capacity_per_week.")
    @field_validator("mode", mode="before")
    @classmethod
    def _unquoted_off(cls, v: Any) -> Any:
        return "off" if v is False else v  # YAML 1.1 reads an unquoted `off` as False

    ratio: float = P(1.0, ge=0.0, le=10.0, unit="admissions per return", source="one in, one out terms",
                     doc="Admissions per return in 'matched' mode.")
    capacity_per_week: int = P(0, ge=0, le=100000, unit="admissions/week", source="assumption",
                               doc="Admissions per week in 'fixed' mode.")
    start_date: Date = P(dt.date(2025, 8, 4), unit="date", source="HO", doc="First day the route is open.")
    eligible_share: float = P(
        0.3, ge=0.0, le=1.0, unit="share of people", source="assumption; HO: the route is for people meeting its "
        "criteria (e.g. family ties in the UK, nationalities), never for returnees",
        doc="Share of people who meet the legal route's criteria (drawn once per person).")
    max_applicant_wait_days: int = P(120, ge=1, le=3650, unit="days", source="assumption",
                                     doc="Days an applicant waits before deciding again.")
    cost_per_admission_gbp: float = P(
        5000.0, ge=0.0, le=1e6, unit="GBP/admission",
        source="assumption (checks, travel, initial support; range 2,000-20,000)",
        doc="Cost to the UK of one admission by the legal route.")


class UKParams(_Section):
    """UK-side policy levers besides returns."""

    illegal_working_enforcement: float = P(0.0, ge=0.0, le=1.0, unit="index 0-1", source="assumption",
                                           doc="Intensity of enforcement against illegal working.")
    enforcement_valuation_effect: float = P(0.4, ge=0.0, le=1.0, unit="share", source="assumption",
                                            doc="Fall of valuations at full enforcement.")


class VerdictParams(_Section):
    """Definition of a broken business model (DESIGN section 1; ODD 7.13)."""

    window_weeks: int = P(26, ge=1, le=520, unit="weeks", source="DESIGN section 1",
                          doc="Weeks at the end of a run over which the verdict is judged.")
    profit_margin_threshold: float = P(0.0, ge=-1.0, le=1.0, unit="profit / revenue", source="DESIGN section 1",
                                       doc="Industry rents (profit of all gangs, including the losses of those "
                                           "that exited) over revenue at or below which the business earns no rent.")
    gang_share_threshold: float = P(0.25, ge=0.0, le=1.0, unit="share of gangs at the policy start",
                                    source="DESIGN section 1",
                                    doc="Active gangs at the end at or below this share of the gangs active at the "
                                        "policy start means the industry collapsed.")
    min_launches_per_week: float = P(
        2.0, gt=0.0, le=100.0, unit="full boats a week",
        source="assumption: one gang's minimum scale (a crew, a stock of boats; range 1-7)",
        doc="Boats at the largest load a week that customers at cost must fill for the business to be viable.")
    counterfactual_rent_share: float = P(
        0.25, ge=0.0, le=1.0, unit="share of counterfactual rents", source="assumption (range 0.1-0.5)",
        doc="Industry rents at or below this share of the same-seed no-policy rents mean the policy broke them.")
    entry_horizon_weeks: int = P(52, ge=1, le=520, unit="weeks", source="assumption (an entrant's planning horizon)",
                                 doc="Weeks of a gang's recent mean profit that the value of entry counts.")


class MechanismParams(_Section):
    """Ablation switches: every mechanism is on by default. Switching one off in paired runs (same
    seeds) shows how much of an effect it carries (README: which mechanism carries each result)."""

    upstream_choice: bool = P(True, unit="flag", source="ablation switch (ECONOMICS.md section 1)",
                              doc="People considering the route choose upstream between the coast and the outside "
                                  "option (off: everyone considering the route sets out).")
    return_risk_at_coast: bool = P(True, unit="flag", source="ablation switch",
                                   doc="At the coast, people weigh the risk of being returned (off: they decide as "
                                       "if no one were returned).")
    returnee_rules: bool = P(True, unit="flag", source="ablation switch",
                             doc="Repeat arrivals are prioritised for return, a return is a strong update of one's "
                                 "belief, and asylum in France is a returnee's outside option (off: a returnee is "
                                 "like anyone else at the coast).")
    competitive_prices: bool = P(True, unit="flag", source="ablation switch",
                                 doc="Gangs reprice weekly (off: every gang keeps gangs.initial_price_gbp).")


# --------------------------------------------------------------------------- timeline
class TimelineEntry(_Section):
    """A dated change of the scenario: on ``date`` (at the start of the day) the fields in ``set``
    (dotted names, as for ``--set``) take their new values (ODD 7.15; :mod:`sim.timeline`)."""

    date: Date = Field(description="Day the change takes effect (at the start of the day).",
                       json_schema_extra={"unit": "date", "source": "scenario file"})
    set: dict[str, Any] = Field(min_length=1, max_length=200,
                                description="Dotted field names and their new values.",
                                json_schema_extra={"unit": "mapping", "source": "scenario file"})
    announce: bool = Field(True, description="Whether a change of the returns quota or rate is announced "
                                             "(public: shapes beliefs at once) or only learnt from the news.",
                           json_schema_extra={"unit": "flag", "source": "scenario file"})
    note: str = Field("", max_length=500, description="What the change is and its source.",
                      json_schema_extra={"unit": "text", "source": "scenario file"})


# --------------------------------------------------------------------------- root
class Config(_Section):
    """A complete scenario. Field defaults form the embedded default configuration."""

    name: str = Field("default", min_length=1, max_length=80, description="Scenario name.",
                      json_schema_extra={"unit": "label", "source": "scenario file"})
    description: str = Field("", max_length=2000, description="What the scenario is.",
                             json_schema_extra={"unit": "text", "source": "scenario file"})
    start_date: Date = P(dt.date(2022, 1, 1), unit="date", source="HO data start for calibration",
                            doc="First simulated day.")
    end_date: Date = P(dt.date(2027, 12, 31), unit="date", source="issue 2", doc="Last simulated day.")
    people_per_agent: int = P(1, ge=1, le=1000, unit="people", source="design choice",
                              doc="People represented by one migrant agent (1 = one agent per person).")
    environment: EnvironmentParams = Field(default_factory=EnvironmentParams)
    migrants: MigrantParams = Field(default_factory=MigrantParams)
    beliefs: BeliefParams = Field(default_factory=BeliefParams)
    groups: list[GroupParams] = Field(default_factory=_default_groups, min_length=1, max_length=50)
    gangs: GangParams = Field(default_factory=GangParams)
    patrols: PatrolParams = Field(default_factory=PatrolParams)
    returns: ReturnsParams = Field(default_factory=ReturnsParams)
    legal_route: LegalRouteParams = Field(default_factory=LegalRouteParams)
    uk: UKParams = Field(default_factory=UKParams)
    verdict: VerdictParams = Field(default_factory=VerdictParams)
    mechanisms: MechanismParams = Field(default_factory=MechanismParams)
    timeline: list[TimelineEntry] = Field(
        default_factory=list, max_length=5000,
        description="Dated changes of any field but the run's set-up, applied at the start of the day "
                    "(dates after start_date, on or before end_date, increasing).",
        json_schema_extra={"unit": "list of {date, set, note}", "source": "scenario file (issue 12)"})

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        problems: list[tuple[str, str]] = []
        if self.end_date <= self.start_date:
            problems.append(("end_date", f"must be after start_date ({self.start_date}), got {self.end_date}"))
        elif (self.end_date - self.start_date).days > 366 * 60:
            problems.append(("end_date", "a run may span at most 60 years"))
        total = sum(g.share for g in self.groups)
        if abs(total - 1.0) > 1e-6:
            problems.append(("groups", f"shares must add up to 1, got {total:.6g}"))
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            problems.append(("groups", f"names must be unique, got {names}"))
        g = self.gangs
        if g.initial_price_gbp > g.price_max_gbp:
            problems.append(("gangs.initial_price_gbp",
                             f"must be <= gangs.price_max_gbp ({g.price_max_gbp}), got {g.initial_price_gbp}"))
        if not g.people_per_boat_min <= g.people_per_boat_base <= g.people_per_boat_max:
            problems.append(("gangs.people_per_boat_base",
                             f"must lie in [people_per_boat_min, people_per_boat_max] = [{g.people_per_boat_min}, {g.people_per_boat_max}], got {g.people_per_boat_base}"))
        if g.initial_gangs > g.max_gangs:
            problems.append(("gangs.initial_gangs", f"must be <= gangs.max_gangs ({g.max_gangs}), got {g.initial_gangs}"))
        if len(set(self.patrols.sectors)) != len(self.patrols.sectors):
            problems.append(("patrols.sectors", "sector names must be unique"))
        lr = self.legal_route
        if lr.mode == "fixed" and lr.capacity_per_week == 0:
            problems.append(("legal_route.capacity_per_week", "must be > 0 when legal_route.mode is 'fixed'"))
        r = self.returns
        if r.return_rate is not None and r.quota_per_week != 0:
            problems.append(("returns.return_rate", "states the policy as a rate: leave returns.quota_per_week at 0 "
                                                    f"(got {r.quota_per_week})"))
        if r.return_rate is not None and r.ramp_up.enabled:
            problems.append(("returns.ramp_up.enabled", "a ramp-up needs a quota, not returns.return_rate"))
        if r.ramp_up.enabled:
            if r.quota_per_week == "all":
                problems.append(("returns.ramp_up.enabled", "a ramp-up needs a numeric returns.quota_per_week, not 'all'"))
            elif r.ramp_up.max_quota_per_week < r.quota_per_week:
                problems.append(("returns.ramp_up.max_quota_per_week",
                                 f"must be >= returns.quota_per_week ({r.quota_per_week}), got {r.ramp_up.max_quota_per_week}"))
        if r.announce_date is not None and r.announce_date > r.start_date:
            problems.append(("returns.announce_date", f"must be on or before returns.start_date ({r.start_date})"))
        if r.max_detention_days < r.processing_delay_days:
            problems.append(("returns.max_detention_days",
                             f"must be >= returns.processing_delay_days ({r.processing_delay_days}), got {r.max_detention_days}"))
        for i, grp in enumerate(self.groups):
            if grp.bilateral_return_prob > 0 and grp.bilateral_returns_from is None:
                problems.append((f"groups.{i}.bilateral_returns_from",
                                 f"group '{grp.name}' has bilateral_return_prob > 0 but no start date"))
        for i, e in enumerate(self.timeline):
            if not self.start_date < e.date <= self.end_date:
                problems.append((f"timeline.{i}.date", f"must lie after start_date ({self.start_date}) and on or "
                                                       f"before end_date ({self.end_date}), got {e.date}"))
            elif i and e.date <= self.timeline[i - 1].date:
                problems.append((f"timeline.{i}.date", f"dates must increase: {e.date} does not come after the "
                                                       f"previous entry's {self.timeline[i - 1].date} (put changes "
                                                       f"of one day in one entry)"))
        if problems:
            raise ValueError("; ".join(f"field '{field}': {msg}" for field, msg in problems))
        return self

    # convenience ---------------------------------------------------------------
    @property
    def n_days(self) -> int:
        """Number of simulated days (start and end inclusive)."""
        return (self.end_date - self.start_date).days + 1

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """Return a validated copy with dotted-name overrides applied (see :func:`sim.config.load_config`)."""
        from sim.config import load_config  # sim.config builds on this module

        return load_config(self.model_dump(mode="python"), overrides=overrides)



# --------------------------------------------------------------------------- introspection
def field_model(model: Any, name: str) -> Any:
    """The model of a field: a section class, ``("list", item class)`` for a list of sections, else None."""
    ann = model.model_fields[name].annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    args = getattr(ann, "__args__", ())
    for a in args:
        if isinstance(a, type) and issubclass(a, BaseModel):
            return ("list", a)
    return None


def range_of(loc: tuple[Any, ...]) -> str | None:
    """The accepted range of the field at ``loc`` (``("gangs", "price_adjust_rate")``) as printed, e.g. ``[0.0, 1.0]``."""
    model: Any = Config
    info = None
    for part in loc:
        if isinstance(part, str) and part.isdigit():
            part = int(part)
        if isinstance(model, tuple):
            model = model[1]
            if isinstance(part, int):
                continue
        if model is None or isinstance(part, int) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = field_model(model, part)
    if info is None:
        return None
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if "range" in extra:
        return str(extra["range"])
    lo = hi = None
    lo_open = hi_open = False
    for m in info.metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, lo_open = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi, hi_open = m.lt, True
    if lo is None and hi is None:
        return None
    return f"{'(' if lo_open else '['}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}{')' if hi_open else ']'}"


def parameter_table(section: str | None = None) -> list[dict[str, str]]:
    """Rows (path, meaning, unit, default, range, source) for every parameter."""
    rows: list[dict[str, str]] = []

    def walk(model: type[BaseModel], prefix: str, default_obj: Any) -> None:
        for name, info in model.model_fields.items():
            path = f"{prefix}{name}"
            sub = field_model(model, name)
            value = getattr(default_obj, name)
            if isinstance(sub, type):
                walk(sub, path + ".", value)
                continue
            if isinstance(sub, tuple):
                for i, item in enumerate(value):
                    walk(sub[1], f"{path}.{i}.", item)
                continue
            extra = info.json_schema_extra or {}
            rows.append({
                "path": path,
                "meaning": info.description or "",
                "unit": str(extra.get("unit", "")),
                "default": _fmt(value),
                "range": range_of(tuple(path.split("."))) or "",
                "source": str(extra.get("source", "")),
            })

    def _fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, list):
            return "[" + ", ".join(_fmt(x) for x in v) + "]"
        return str(v)

    walk(Config, "", Config())
    if section:
        rows = [r for r in rows if r["path"].startswith(section + ".")]
    return rows

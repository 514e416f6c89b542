"""Numbers fixed in the model's rules (ODD 7.14).

These values are part of the rules, not parameters: they are not in the configuration,
cannot be swept or calibrated, and each is used by exactly one rule. They are named
here, once, so that the code carries no bare numbers and the ODD's table of constants
(section 7.14) is generated from :data:`CONSTANTS` (``docs/make_param_tables.py``);
``tests/test_docs.py`` keeps the two in step.

To make one of them a parameter, move it to ``sim/params.py`` with a unit, a range and
a source, and remove it here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONSTANTS", "Constant"]

# -- gangs (sim/agents/gang.py) -----------------------------------------------------------
GANG_INITIAL_REPUTATION = 0.6
GANG_REPUTATION_WEIGHT = 0.05
GANG_BASE_MARKET_WEIGHT = 0.5
GANG_MEMORY_WEEKS = 4
TAXI_MIN_LAUNCHES = 4
TAXI_MOVE_SECTOR_PROB = 0.5
PRICE_PRESSURE_WEIGHT = 0.5
PRICE_PRESSURE_MIN = -0.5
PRICE_PRESSURE_MAX = 1.0
NORMAL_DEMAND_SMOOTHING = 1 / 13
MAX_MARKET_SHARE = 0.9
UNIT_COST_RETRY_FLOOR = 0.2
BOATS_INITIAL_GANG = 3
BOATS_ENTRANT = 2
FILL_WAIT_LAST_RESORT_FACTOR = 3
SEIZURE_SMOOTHING = 0.25
INSURANCE_STOP_SHARE = 0.5

# -- patrols (sim/agents/patrol.py) -------------------------------------------------------
PATROL_SHARE_FLOOR = 0.02

# -- migrants (sim/agents/migrant.py) -----------------------------------------------------
NEWCOMER_PRIOR_DEATH_WEIGHT = 0.5
RETURN_PRIOR_PSEUDOCOUNT = 1e-3
SAVING_MAX_REVIEW_INTERVALS = 8

# -- returns authority (sim/agents/returns.py) --------------------------------------------
EXPECTED_RETURNS_SMOOTHING = 0.25
RECROSS_WINDOW_DAYS = 182
RAMP_UP_FILLED_SHARE = 0.5


@dataclass(frozen=True)
class Constant:
    """One fixed number: its name here, unit, role in the rules, and where it is used."""

    name: str
    unit: str
    role: str
    used_in: str
    odd: str

    @property
    def value(self) -> float:
        return globals()[self.name]


#: The table of ODD 7.14, one row per constant above (a test checks none is missing).
CONSTANTS: tuple[Constant, ...] = (
    Constant("GANG_INITIAL_REPUTATION", "share", "initial reputation (observed success rate) of a gang",
             "SmugglingGang.__init__", "5, 7.9"),
    Constant("GANG_REPUTATION_WEIGHT", "1", "weight of one launch's outcome in the reputation (EWMA)",
             "gang_book.record_launch", "7.6"),
    Constant("GANG_BASE_MARKET_WEIGHT", "1", "base weight with which a gang is known by word of mouth, "
             "plus its reputation", "market_weight", "7.4"),
    Constant("GANG_MEMORY_WEEKS", "weeks", "window of the price rule, the taxi trigger, the entry margin "
             "and the HHI", "gang_book.close_week", "7.8, 7.9"),
    Constant("TAXI_MIN_LAUNCHES", "launches", "minimum launches in the window before a switch to taxi boats",
             "gang_book.adapt_tactics", "7.8"),
    Constant("TAXI_MOVE_SECTOR_PROB", "probability", "probability that a gang switching to taxi boats also "
             "moves to the least patrolled sector", "gang_book.adapt_tactics", "7.8"),
    Constant("PRICE_PRESSURE_WEIGHT", "1", "weight of demand pressure in the target price",
             "gang_book.reprice", "7.8"),
    Constant("PRICE_PRESSURE_MIN", "1", "lower bound of demand pressure", "gang_book.reprice", "7.8"),
    Constant("PRICE_PRESSURE_MAX", "1", "upper bound of demand pressure", "gang_book.reprice", "7.8"),
    Constant("NORMAL_DEMAND_SMOOTHING", "1/week", "smoothing of a gang's normal weekly demand, against "
             "which demand pressure is measured (about a quarter's memory)", "gang_book.reprice", "7.8"),
    Constant("MAX_MARKET_SHARE", "share", "cap of a gang's market share in the logit-Bertrand markup "
             "sigma / (1 - share)", "gang_book.reprice", "7.8"),
    Constant("UNIT_COST_RETRY_FLOOR", "share", "floor of 1 - (prevented share x retry promise) in the unit "
             "cost", "gang_book.variable_cost", "7.8"),
    Constant("BOATS_INITIAL_GANG", "boats", "boats bought by each initial gang", "GangMarket.__init__", "5"),
    Constant("BOATS_ENTRANT", "boats", "boats bought by an entrant", "GangMarket.maybe_enter", "7.9"),
    Constant("FILL_WAIT_LAST_RESORT_FACTOR", "1", "a short boat of at least the minimum load leaves once the "
             "earliest passenger has waited this many times the fill wait", "SmugglingGang.plan_launches",
             "7.5"),
    Constant("SEIZURE_SMOOTHING", "1/week", "smoothing of the recent weekly rate of seizures",
             "BoatSupply.update", "7.8.2"),
    Constant("INSURANCE_STOP_SHARE", "share", "an insuring gang stops insuring once the return "
             "probability falls below this share of the trigger (hysteresis, so that a probability near "
             "the trigger does not switch insurance on and off every week; an assumption)",
             "gang_book.offer_insurance", "7.8.4"),
    Constant("PATROL_SHARE_FLOOR", "share", "floor of a sector's share of patrol capacity after "
             "redeployment", "redeploy_patrols", "7.10"),
    Constant("NEWCOMER_PRIOR_DEATH_WEIGHT", "share", "weight of the prior death risk against the news death "
             "rate in a newcomer's belief", "Migrant.newcomer_beliefs", "7.3.3"),
    Constant("RETURN_PRIOR_PSEUDOCOUNT", "count", "pseudo-count added to each side of the return prior",
             "Migrant.newcomer_beliefs", "7.3.3"),
    Constant("SAVING_MAX_REVIEW_INTERVALS", "review intervals", "longest wait before a person saving for a "
             "fare is reviewed again", "Migrant.decide_many", "7.4"),
    Constant("RECROSS_WINDOW_DAYS", "days", "window after a return within which a new arrival counts in "
             "recross_share_6m (six months)", "ReturnsAuthority", "7.11"),
    Constant("EXPECTED_RETURNS_SMOOTHING", "1/week", "weight of the last policy week in the expected returns "
             "a week", "ReturnsAuthority.start_week", "7.12"),
    Constant("RAMP_UP_FILLED_SHARE", "share", "the ramp-up rule raises the quota when it was used up in at "
             "least this share of the weeks since its last review (\"start small, increase if it works\"; "
             "an assumption)", "ReturnsAuthority.start_week", "7.11"),
)

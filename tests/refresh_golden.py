"""Refresh the golden regression summary (tests/golden_summary.json).

Run this (``make golden``) only when a change is meant to move results, and say why in
the commit that includes the refreshed file.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sim  # noqa: E402

GOLDEN = HERE / "golden_summary.json"
#: The golden run: the pilot, shortened to 2025-01-01 .. 2026-06-30, one fixed seed.
SCENARIO = "pilot_50"
OVERRIDES = {"start_date": "2025-01-01", "end_date": "2026-06-30"}
SEED = 20250804


def golden_summary() -> dict:
    res = sim.run(sim.load_config(SCENARIO, OVERRIDES), seed=SEED)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in res.summary.items()}


def main() -> None:
    summary = golden_summary()
    GOLDEN.write_text(json.dumps({"scenario": SCENARIO, "overrides": OVERRIDES, "seed": SEED,
                                  "summary": summary}, indent=2, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()

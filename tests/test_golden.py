"""Golden regression: a fixed-seed summary must not move unless a change says so.

If a change is meant to move results, run ``make golden`` and commit the refreshed
``tests/golden_summary.json`` with the change, saying why in the message.
"""

from __future__ import annotations

import json

import pytest

from tests.refresh_golden import GOLDEN, OVERRIDES, SCENARIO, SEED, golden_summary


def test_fixed_seed_summary_matches_the_stored_golden_summary():
    stored = json.loads(GOLDEN.read_text())
    assert (stored["scenario"], stored["overrides"], stored["seed"]) == (SCENARIO, OVERRIDES, SEED)
    now = golden_summary()
    assert set(now) == set(stored["summary"]), "summary keys changed: refresh the golden file (make golden)"
    for key, want in stored["summary"].items():
        got = now[key]
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), f"{key}: {got} != golden {want}"
        else:
            assert got == want, f"{key}: {got!r} != golden {want!r}"

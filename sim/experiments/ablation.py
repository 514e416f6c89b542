"""Which mechanism carries a policy effect: paired runs with one mechanism switched off.

For every setting (all mechanisms on, then each switch of ``mechanisms`` off in turn) the
reference scenario and the policies run on the same seeds (:func:`sim.experiments.analysis.
compare`). A policy's *effect* on a measure in one replication is its relative change
against the reference, ``policy / reference - 1``, both run with the same setting. The share
of the effect a mechanism *carries* is the effect with everything on minus the effect with
that mechanism off, replication by replication (the same seeds in every setting: common
random numbers), with a t interval over replications.

A mechanism that carries most of an effect is what produces it; an effect that survives
every single switch-off rests on several mechanisms at once. Run it as
``channel-sim ablate`` (``make ablation`` writes ``docs/figures/ablation.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.analysis import compare
from sim.experiments.stats import mean_ci

__all__ = ["ABLATION_MEASURES", "MECHANISMS", "ablation", "format_ablation"]

#: The switches of the ``mechanisms`` section, in the order of the table.
MECHANISMS = ("upstream_choice", "return_risk_at_coast", "returnee_rules", "competitive_prices")
#: The measures an ablation reports (summary name -> label).
ABLATION_MEASURES = {
    "arrivals_uk_policy_period": "arrivals since the policy start",
    "paid_crossings_policy_period": "paid crossings since the policy start",
    "gang_profit_gbp_window": "industry rents, last 26 weeks",
}


def ablation(policies: Sequence[str] = ("pilot_50", "quota_200"), *, reference: str = "baseline",
             replications: int = 6, seed: int = 1, overrides: Mapping[str, Any] | None = None,
             out: str | Path | None = None, executor: str = "process", workers: int | None = None,
             progress: bool = False) -> pd.DataFrame:
    """Effects of ``policies`` against ``reference`` with all mechanisms on and with each off.

    Returns one row per (setting, policy, measure): ``effect`` (mean relative change, with
    ``effect_lower``/``effect_upper``) and, for a setting with a mechanism off, ``carried`` (the
    effect with everything on minus the effect with it off, with ``carried_lower``/``_upper``).
    ``setting`` is ``"all on"`` or the name of the mechanism switched off.
    """
    scenarios = [reference, *policies]
    effects: dict[str, dict[tuple[str, str], np.ndarray]] = {}
    for switch in (None, *MECHANISMS):
        setting = "all on" if switch is None else switch
        ov = dict(overrides or {})
        if switch is not None:
            ov[f"mechanisms.{switch}"] = False
        c = compare(scenarios, replications=replications, seed=seed, overrides=ov,
                    out=None if out is None else Path(out) / setting.replace(" ", "_"),
                    executor=executor, workers=workers, progress=progress, measures=list(ABLATION_MEASURES))
        effects[setting] = {}
        for m in ABLATION_MEASURES:
            wide = c.wide(m)
            ref = wide[reference].to_numpy()
            for p in policies:
                with np.errstate(divide="ignore", invalid="ignore"):
                    effects[setting][(p, m)] = np.where(ref != 0, wide[p].to_numpy() / ref - 1.0, np.nan)
    rows = []
    for setting, by in effects.items():
        for (p, m), eff in by.items():
            mean, lo, hi, n = mean_ci(eff)
            row = {"setting": setting, "scenario": p, "measure": m, "effect": mean, "effect_lower": lo,
                   "effect_upper": hi, "n": n}
            if setting != "all on":
                cm, clo, chi, _ = mean_ci(effects["all on"][(p, m)] - eff)
                row.update(carried=cm, carried_lower=clo, carried_upper=chi)
            rows.append(row)
    return pd.DataFrame(rows)


def format_ablation(df: pd.DataFrame) -> str:
    """A plain-text table: effect with everything on, and what each mechanism carries."""
    lines = []
    for (p, m), g in df.groupby(["scenario", "measure"], sort=False):
        on = g[g["setting"] == "all on"].iloc[0]
        lines.append(f"{p}: {ABLATION_MEASURES.get(m, m)}: effect {on['effect']:+.1%} "
                     f"[{on['effect_lower']:+.1%}, {on['effect_upper']:+.1%}]")
        for _, r in g[g["setting"] != "all on"].iterrows():
            lines.append(f"    {r['setting']:<22} off: effect {r['effect']:+.1%}; carries "
                         f"{r['carried']:+.1%} [{r['carried_lower']:+.1%}, {r['carried_upper']:+.1%}]")
    return "\n".join(lines)

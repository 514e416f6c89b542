"""How many returnees cross again: sensitivity of ``recross_share_6m`` to repeat priority.

``returns.repeat_priority_share`` is the share of identified repeat arrivals (people returned
before) detained for return ahead of everyone else. It sets what a second try is worth to a
returnee, and so how many of the people returned arrive in the UK again within 182 days
(``recross_share_6m``). :func:`recross` runs the policies at each share against the same-seed
counterfactual without a policy (``baseline``: without returns the share plays no part, so
one counterfactual serves every share) through the project's engine
(:func:`sim.experiments.perpound.run_points`), and reports for each (policy, share), with 95%
t intervals over replications: ``recross_share_6m``, the change of arrivals in the policy
period against the counterfactual (people, and per cent), returns, repeat arrivals and the
achieved return rate.

Run ``make recross`` (``python -m sim.experiments.recross``): it writes
``docs/figures/recross_sensitivity.csv`` and ``docs/figures/recross_sensitivity.png``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.perpound import difference_ci, experiment_main, paired_against, run_points
from sim.experiments.stats import mean_ci
from sim.params import ReturnsParams

__all__ = ["PRIORITY_SHARES", "format_recross", "plot_recross", "recross", "recross_table"]

#: Levels of ``returns.repeat_priority_share`` (the shipped default, :data:`DEFAULT_SHARE`, among them).
PRIORITY_SHARES: tuple[float, ...] = (0.8, 0.9, 0.95, 0.98, 0.99, 1.0)
FIELD = "returns.repeat_priority_share"
#: The shipped default of ``returns.repeat_priority_share`` (from ``sim/params.py``).
DEFAULT_SHARE: float = ReturnsParams().repeat_priority_share
LABELS = {"pilot_50": "pilot_50: 50 returns a week", "quota_200": "quota_200: 200 returns a week"}


def recross(policies: Sequence[str] = ("pilot_50", "quota_200"), shares: Sequence[float] = PRIORITY_SHARES, *,
            reference: str = "baseline", replications: int = 4, seed: int = 1,
            policy_start: str | dt.date = "2025-08-04", overrides: Mapping[str, Any] | None = None,
            out: str | Path | None = None, executor: str = "process", workers: int | None = 2,
            progress: bool = False) -> pd.DataFrame:
    """``recross_share_6m`` and the arrivals change of ``policies`` at each repeat-priority share.

    Returns one row per (policy, share): ``scenario``, ``repeat_priority_share``,
    ``recross_share_6m`` (mean over replications, with ``_lower``/``_upper``), ``arrivals_change``
    (policy minus same-seed counterfactual arrivals in the policy period) and
    ``arrivals_change_pct`` (per-replication relative change, in per cent), each with a 95% t
    interval; ``returns``, ``repeat_arrivals`` (policy period) and ``achieved_return_rate``.
    """
    points: list[dict[str, Any]] = [{"scenario": reference}]
    points += [{"scenario": p, FIELD: float(s)} for p in policies for s in shares]
    df, _ = run_points(points, name="recross", replications=replications, seed=seed, policy_start=policy_start,
                       overrides=overrides, out=out, executor=executor, workers=workers, progress=progress)
    return recross_table(df, points, policy_start)


def recross_table(df: pd.DataFrame, points: Sequence[Mapping[str, Any]], policy_start: str | dt.date) -> pd.DataFrame:
    """The table of :func:`recross` from its runs (:func:`~sim.experiments.perpound.run_points`):
    point 0 is the counterfactual. The interval of ``recross_share_6m`` (a share) is clipped to [0, 1]."""
    rows = []
    for i, pt in enumerate(points[1:], start=1):
        v = paired_against(df, i)
        arr = v["stat:arrivals_uk"]
        m, lo, hi, n = mean_ci(v["recross_share_6m"][0])
        lo, hi = max(lo, 0.0), min(hi, 1.0)
        row: dict[str, Any] = {"scenario": pt["scenario"], "repeat_priority_share": pt[FIELD],
                               "policy_start": dt.date.fromisoformat(str(policy_start)).isoformat(), "replications": n,
                               "recross_share_6m": m, "recross_share_6m_lower": lo, "recross_share_6m_upper": hi}
        row.update(difference_ci("arrivals_change", arr[0] - arr[1]))
        row.update(difference_ci("arrivals_change_pct", 100 * (arr[0] / arr[1] - 1)))
        for name, col in (("returns", "stat:returns"), ("repeat_arrivals", "stat:repeat_arrivals"),
                          ("achieved_return_rate", "achieved_return_rate")):
            row[name] = float(np.nanmean(v[col][0]))
        rows.append(row)
    return pd.DataFrame(rows)


def format_recross(df: pd.DataFrame) -> str:
    """A plain-text table of :func:`recross`."""
    lines = [f"{'scenario':<12}{'priority':>9}{'recross_share_6m [95% CI]':>30}{'arrivals change [95% CI]':>30}"
             f"{'per cent [95% CI]':>26}{'returns':>10}{'repeat arrivals':>17}"]
    for r in df.itertuples(index=False):
        lines.append(
            f"{r.scenario:<12}{r.repeat_priority_share:>9.2f}"
            f"{f'{r.recross_share_6m:.1%} [{r.recross_share_6m_lower:.1%}, {r.recross_share_6m_upper:.1%}]':>30}"
            f"{f'{r.arrivals_change:+,.0f} [{r.arrivals_change_lower:+,.0f}, {r.arrivals_change_upper:+,.0f}]':>30}"
            f"{f'{r.arrivals_change_pct:+.1f}% [{r.arrivals_change_pct_lower:+.1f}, {r.arrivals_change_pct_upper:+.1f}]':>26}"
            f"{r.returns:>10,.0f}{r.repeat_arrivals:>17,.0f}")
    return "\n".join(lines)


def plot_recross(df: pd.DataFrame, path: str | Path | None = None) -> Any:
    """``recross_share_6m`` (left) and the arrivals change (right) against the repeat-priority
    share, one line per policy with 95% interval bars; the legend below the panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = ["#b2182b", "#2166ac", "#1b7837", "#762a83"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.5, 5.6))
    for k, (scen, g) in enumerate(df.groupby("scenario", sort=False)):
        x = g["repeat_priority_share"]
        c = colours[k % len(colours)]
        off = (k - (df["scenario"].nunique() - 1) / 2) * 0.003   # side by side, so bars do not overlap
        y = 100 * g["recross_share_6m"]
        ax.errorbar(x + off, y, yerr=[y - 100 * g["recross_share_6m_lower"], 100 * g["recross_share_6m_upper"] - y],
                    color=c, marker="o", capsize=3, label=LABELS.get(scen, scen))
        y2 = g["arrivals_change_pct"]
        bx.errorbar(x + off, y2, yerr=[y2 - g["arrivals_change_pct_lower"], g["arrivals_change_pct_upper"] - y2],
                    color=c, marker="o", capsize=3)
    ax.set_ylim(bottom=-1.5)   # points at 0 stay visible above the axis
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel("people returned who arrive again\nwithin 6 months (% of those returned)")
    ax.set_title("Re-crossing after a return", fontsize=11)
    bx.axhline(0, color="0.6", lw=0.8)
    since = f"since {pd.Timestamp(df['policy_start'].iloc[0]):%-d %b %Y}" if "policy_start" in df else "in the policy period"
    bx.set_ylabel(f"change in arrivals {since}\nagainst the same-seed no-policy run (%)")
    bx.set_title("Effect on arrivals", fontsize=11)
    for a in (ax, bx):
        a.set_xlabel("share of identified repeat arrivals returned with priority\n(returns.repeat_priority_share)")
        a.axvline(DEFAULT_SHARE, color="0.7", ls=":", lw=1)
        a.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=9,
               title=f"policy (dotted line: the shipped default, {DEFAULT_SHARE:g})", title_fontsize=9)
    n = int(df["replications"].min())
    fig.suptitle(f"Re-crossing and repeat priority: each policy paired with the same-seed no-policy run; means and "
                 f"95% intervals over {n} replications", fontsize=10.5)
    fig.tight_layout(rect=(0, 0.09, 1, 0.96))
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    return experiment_main(argv, description="Sensitivity of recross_share_6m to returns.repeat_priority_share.",
                           stem="recross_sensitivity", run=recross, plot=plot_recross, fmt=format_recross)


if __name__ == "__main__":
    main()

"""The dashboard's planning panels, from the files ``causalmmm-jax curves`` and ``optimize`` write
in a run directory: response curves (``curves.csv``, ``curve_params.csv``), the budget allocation
(``allocation.csv``, ``allocation.json``), the plan week by week (``plan.csv``, with
``plan_weekly.csv`` from ``optimize --plan`` and ``allocation_by_week.csv`` from ``--by week``)
and by region (``allocation_by_region.csv`` from ``--by region``).  Files from another
``optimize`` than the one that wrote ``plan.csv`` are ignored."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import figures as F
from . import figures_model as FM
from ._section import _ANALYSIS_HINT, Section
from .html import _human

__all__: list[str] = []


def _curves_section(files: dict, chans: list[str], disp: list[str], color_of: dict, weeks: int) -> Section:
    params: Any = files.get("curve_params")
    points: Any = files.get("curves")
    ok = lambda df, cols: df is not None and len(df) and set(cols) <= set(df.columns)  # noqa: E731
    params = params if ok(params, ("channel", "top", "bottom", "half_saturation", "slope")) else None
    points = points if ok(points, ("channel", "kpi")) and ("multiplier" in points or "spend" in points) else None
    if params is None and points is None:
        return Section("curves", "Response curves", "", note="No response curves (curves.csv / curve_params.csv "
                       "are absent). " + _ANALYSIS_HINT.format(cmd="curves"), group="Planning")
    name_of = dict(zip(chans, disp))
    colors: dict[str, str] = {c: color_of.get(name_of.get(c, c)) or "" for c in chans}
    return Section("curves", "Response curves",
                   "Circles: the model's incremental KPI when one channel's media (and spend) is scaled in every "
                   "training week (curves.csv), per week. Lines: the fitted 4-parameter Hill curve f(x) = bottom + "
                   "(top − bottom)·x^slope / (half^slope + x^slope) from curve_params.csv. Diamonds: the "
                   "historical weekly level.",
                   FM.response_curves(params, points, weeks, colors, name_of), group="Planning")


def _budget_section(files: dict, metrics: dict, chans: list[str], disp: list[str]) -> Section:
    alloc, info = files.get("allocation"), files.get("allocation_json") or {}
    if alloc is not None and not {"channel", "total_spend"} <= set(alloc.columns):
        alloc = None
    optimal = None
    if alloc is not None and len(alloc):
        optimal = dict(zip(alloc["channel"].astype(str), pd.to_numeric(alloc["total_spend"], errors="coerce")))
    elif isinstance(info.get("allocation"), dict):
        optimal = {str(k): float(v) for k, v in info["allocation"].items()}
    if not optimal:
        return Section("budget", "Budget allocation", "", note="No budget allocation (allocation.csv / "
                       "allocation.json are absent). " + _ANALYSIS_HINT.format(cmd="optimize"), group="Planning")
    order = [c for c in chans if c in optimal] + [c for c in optimal if c not in chans]
    name_of: dict[str, str] = dict(zip(chans, disp))
    opt = np.array([optimal[c] for c in order], dtype=np.float64)
    budget = float(np.nansum(opt))
    current = None
    cur_src = info.get("current_allocation")
    if isinstance(cur_src, dict) and cur_src:
        current = np.array([float(cur_src.get(c, np.nan)) for c in order])
        how = "current = allocation.json current_allocation"
    elif alloc is not None and "current_spend" in alloc:
        cs = dict(zip(alloc["channel"].astype(str), pd.to_numeric(alloc["current_spend"], errors="coerce")))
        current = np.array([cs.get(c, np.nan) for c in order], dtype=np.float64)
        how = "current = allocation.csv current_spend"
    else:
        spend = np.array([(metrics.get("channels", {}).get(c) or {}).get("spend") or np.nan for c in order],
                         dtype=np.float64)
        if np.isfinite(spend).any() and np.nansum(spend) > 0:
            current = spend / np.nansum(spend) * budget
            how = "current = the training-period spend mix at the same budget"
    parts = [how] if current is not None else ["no current spend known"]
    pr, cr = info.get("predicted_response"), info.get("current_response")
    if isinstance(pr, (int, float)) and isinstance(cr, (int, float)) and cr:
        parts.append(f"predicted response {_human(pr)} vs current {_human(cr)} ({100 * (pr / cr - 1):+.1f} %)")
    if info.get("method"):
        parts.append(f"method {info['method']}" + ("" if info.get("success", True) else " (did not converge)"))
    if info.get("response_unit") == "value":
        parts.append("responses in value units (KPI × value per KPI)")
    fig = FM.budget_allocation([name_of.get(c) or c for c in order],
                               current if current is not None else np.full(len(order), np.nan), opt, "spend",
                               " · ".join(parts))
    return Section("budget", "Budget allocation",
                   "Optimised spend per channel (allocation.csv from <code>causalmmm-jax optimize</code>) next to "
                   "the current allocation at the same total budget." + _observed_range_note(info, name_of), fig,
                   group="Planning")


def _observed_range_note(info: dict, name_of: dict[str, str]) -> str:
    """What allocation.json says about spend outside the training weeks' range: the channels the
    plan holds at their floors (``floors_binding``) and the share of the plan above / below the
    spend seen (national floors; the shares per region, so both can appear)."""
    from html import escape

    out = []
    unit = "exposure" if info.get("unit") == "exposure" else "spend"
    held = info.get("floors_binding")
    if isinstance(held, list) and held:
        names = ", ".join(escape(str(name_of.get(c) or c)) for c in held)
        out.append(f"Held at their floors (the smallest weekly {unit} seen in training, or today's plan where "
                   f"smaller; below it the model never saw them, so the cost of a deeper cut would be the "
                   f"prior's guess): {names}.")
    above, below = info.get("beyond_observed_pct"), info.get("below_observed_pct")
    if isinstance(above, (int, float)) and above > 0.5:
        out.append(f"{above:.0f} % of the planned {unit} is above the largest weekly {unit} seen in training "
                   "(per region): the response there is extrapolated.")
    if isinstance(below, (int, float)) and below > 0.5:
        out.append(f"The plan cuts {below:.0f} % of the current {unit} below the smallest weekly {unit} seen "
                   "(per region).")
    return (" " + " ".join(out)) if out else ""


def _plan_sections(files: dict, chans: list[str], disp: list[str], ccol: list[str]) -> list[Section]:
    """The plan week by week and by region (plan.csv, allocation_by_region.csv, plan_weekly.csv)."""
    plan: Any = files.get("plan")
    unit = None
    if plan is not None and {"region", "week", "channel"} <= set(plan.columns):
        unit = "spend" if "spend" in plan.columns else "exposure" if "exposure" in plan.columns else None
    if unit is None or not len(plan):
        note = ("No plan (plan.csv is absent). " + _ANALYSIS_HINT.format(cmd="optimize")
                + " It writes the plan by region, week and channel.")
        return [Section("plan_weekly", "Plan week by week", "", note=note, group="Planning"),
                Section("plan_regions", "Plan by region", "", note=note, group="Planning")]
    plan = plan.assign(**{unit: pd.to_numeric(plan[unit], errors="coerce").fillna(0.0),
                          "week": plan["week"].astype(str), "region": plan["region"].astype(str)})
    name_of: dict[str, str] = dict(zip(chans, disp))
    col_of: dict[str, str] = dict(zip(chans, ccol))
    order = [c for c in chans if c in set(plan["channel"])] + sorted(set(plan["channel"]) - set(chans))
    weeks = list(dict.fromkeys(plan["week"]))
    wk = plan.pivot_table(index="week", columns="channel", values=unit, aggfunc="sum").reindex(
        index=weeks, columns=order).fillna(0.0)
    inc, sub = None, f"{len(weeks)} weeks from {weeks[0]}, total {unit} {_human(float(wk.to_numpy().sum()))}"
    ev = files.get("plan_weekly")
    if ev is not None and {"week", "incremental"} <= set(ev.columns):
        ev_w = ev.assign(week=ev["week"].astype(str)).drop_duplicates("week").set_index("week")
        same = set(weeks) <= set(ev_w.index) and "spend" in ev_w and np.allclose(  # evaluated this very plan?
            pd.to_numeric(ev_w["spend"].reindex(weeks), errors="coerce").to_numpy(np.float64),
            wk.to_numpy().sum(axis=1), rtol=1e-6, atol=1e-9)
        if same:
            inc = pd.to_numeric(ev_w["incremental"].reindex(weeks), errors="coerce").to_numpy(np.float64)
            sub += " · line: KPI added each week (plan_weekly.csv from optimize --plan)"
    current = None
    by_week = files.get("allocation_by_week")
    if by_week is not None and {"week", "spend", "current_spend"} <= set(by_week.columns):
        bw = by_week.assign(week=by_week["week"].astype(str), **{k: pd.to_numeric(by_week[k], errors="coerce")
                                                                 for k in ("spend", "current_spend")})
        bw = bw.groupby("week", sort=False)[["spend", "current_spend"]].sum()
        if set(weeks) <= set(bw.index) and np.allclose(bw["spend"].reindex(weeks).to_numpy(np.float64),
                                                       wk.to_numpy().sum(axis=1), rtol=1e-6, atol=1e-6):
            current = bw["current_spend"].reindex(weeks).to_numpy(np.float64)  # from the optimize that wrote plan.csv
            sub += f" · dashes: the current plan's weekly {unit} (allocation_by_week.csv from optimize --by week)"
    palette = F.channel_colors(len(order))
    colors = [col_of.get(c, palette[i]) for i, c in enumerate(order)]
    weekly = Section("plan_weekly", "Plan week by week",
                     "The plan from plan.csv (<code>causalmmm-jax optimize</code> writes the recommended one): "
                     f"national {unit} per week, stacked by channel.",
                     FM.plan_weekly(weeks, wk.to_numpy(np.float64), [name_of.get(c) or c for c in order], colors, inc,
                                    unit, sub, current), group="Planning")
    by_reg = files.get("allocation_by_region")
    regions = list(dict.fromkeys(plan["region"]))
    cells = plan.groupby(["region", "channel"])[unit].sum()
    if by_reg is not None and {"region", "channel", "spend", "current_spend"} <= set(by_reg.columns):
        b = by_reg.assign(region=by_reg["region"].astype(str))
        spent = pd.to_numeric(b.set_index(["region", "channel"])["spend"], errors="coerce")
        if not np.allclose(spent.reindex(cells.index).fillna(-1.0).to_numpy(np.float64), cells.to_numpy(np.float64),
                           rtol=1e-6, atol=1e-6):  # from another optimize than plan.csv
            by_reg = None
    if by_reg is not None and {"region", "channel", "spend", "current_spend"} <= set(by_reg.columns):
        with np.errstate(divide="ignore", invalid="ignore"):
            b = b.assign(change=np.where(b["current_spend"] > 0, 100.0 * (b["spend"] / b["current_spend"] - 1.0),
                                         np.nan))
        grid = b.pivot_table(index="channel", columns="region", values="change", aggfunc="first").reindex(
            index=order, columns=regions)
        desc = ("Per region and channel (allocation_by_region.csv from <code>optimize --by region</code>): the "
                f"optimised {unit} as a % change against the current plan (blank: no current {unit}).")
        change = True
    else:
        grid = plan.pivot_table(index="channel", columns="region", values=unit, aggfunc="sum").reindex(
            index=order, columns=regions)
        desc = (f"Planned {unit} per region and channel over the plan (plan.csv). Run <code>optimize --by region"
                "</code> to optimise the regional split too.")
        change = False
    regional = Section("plan_regions", "Plan by region", desc,
                       FM.plan_regions(regions, [name_of.get(c) or c for c in order], grid.to_numpy(np.float64), change,
                                       unit), group="Planning")
    return [weekly, regional]

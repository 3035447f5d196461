"""Budgets from a target: the smallest budget whose best plan adds a KPI, or the largest whose best
plan returns an ROI (Robyn's "target efficiency") or costs at most a given spend per KPI, each
then allocated by
:func:`~causalmmm_jax.analysis.budget.optimize_budget`.

The best plan's response grows with the budget at a falling rate, so the budget is found by
bracketing from the historical spend of the horizon and bisection (:func:`search_budget`, usable
with any ``solve(budget) -> BudgetResult``)."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..train.result import FitResult
from ._bounds import fixed_channels, row_ranges
from .budget import BudgetResult, horizon_spend, optimize_budget, resolve_method
from .curves import curve_params

__all__ = ["optimize_target", "search_budget", "TARGETS"]

TARGETS = ("kpi", "roi", "cost_per_kpi")


def optimize_target(result: FitResult, target: str, value: float, *, weeks: int | None = None,
                    bounds: dict | None = None, fixed=(), method: str | None = None, on: str = "curves",
                    seed: int = 0, rtol: float = 1e-3,
                    max_factor: float = 64.0, by: str = "channel", tail_weeks: int = 0,
                    max_change: float | None = None, region_bounds: dict | None = None,
                    week_bounds: dict | None = None, plan=None, kpi_value=None,
                    floor: str | None = None) -> BudgetResult:
    """Find the budget for a target, then allocate it like :func:`optimize_budget`:

    * ``target="kpi"``: the smallest budget whose best plan adds at least ``value`` KPI over the
      horizon (``predicted_response``: the KPI the media add over ``weeks`` weeks);
    * ``target="roi"``: the largest budget whose best plan returns at least ``value`` KPI per unit
      of spend (``predicted_response / budget``), Robyn's "target efficiency".

    The best plan's response grows with the budget and its ROI falls (diminishing returns), so the
    budget is found by bracketing from the historical spend of the horizon (doubling or halving,
    at most ``max_factor`` times either way) and bisection to ``rtol`` of the budget; each step is
    one :func:`optimize_budget` call.  ``on``: ``"curves"`` by default (about a second a step);
    ``"model"`` re-runs the model at every step (each as long as one model-route plan).
    ``method``: default ``"de"`` on the curves (global: with S-shaped curves a local method can land
    in a worse local optimum at a larger budget, so its best plan's response is not monotone in the
    budget, which breaks the search; benchmarks/optimizer.py measures how often each method misses),
    ``analysis.budget_method`` on the model.
    * ``target="cost_per_kpi"``: the largest budget whose best plan costs at most ``value`` spend
      per unit of KPI added (the ROI target ``1 / value``; ``achieved`` is the plan's cost per KPI).

    ``kpi_value`` (:func:`optimize_budget`): targets in value units (a revenue target, revenue per
    unit of spend).

    ``on="plan"`` (or ``by="region"``/``"week"``, ``region_bounds``, ``week_bounds``, a ``plan``
    to start from) searches on the plan route
    (:func:`~causalmmm_jax.analysis.planning.optimize_plan`, with ``tail_weeks`` and
    ``max_change``): each step one plan through the model run forward, compiled once.
    ``bounds``/``fixed``/``floor`` as in :func:`optimize_budget`; the lower bounds and the fixed
    channels' spend are the smallest budget searched.  Raises :class:`ConfigError` when no budget in the
    searched range reaches the target (the message says what the range reaches).
    Returns the plan with ``BudgetResult.target = {kind, value, achieved, budget, evaluations,
    searched: [low, high]}``."""
    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"the {target} target must be a positive number, got {value}")
    if by != "channel" or region_bounds or week_bounds or plan is not None:
        on = "plan"
    if on not in ("curves", "model", "plan"):
        raise ConfigError(f"targets search on='curves', 'model' or 'plan', got {on!r}")
    if on != "plan" and (tail_weeks or max_change is not None):
        raise ConfigError("tail_weeks and max_change with a target need the plan route (on='plan')")
    acfg = result.config.analysis
    if plan is not None and weeks is not None and int(weeks) != plan.weeks:
        raise ConfigError(f"the plan to start from sets the horizon ({plan.weeks} weeks); drop weeks or give a plan "
                          "with those weeks")
    weeks = int(plan.weeks if plan is not None else (weeks or acfg.budget_weeks))
    channels, _, _, _, hist, unit = horizon_spend(result, weeks)
    fixed_list = fixed_channels(fixed, channels, bounds)
    held = hist if plan is None else plan.spend.sum(axis=(0, 1))  # what fixed channels are held at
    smallest = sum(float(lo) for lo, _ in (bounds or {}).values() if lo is not None)
    smallest += sum(float(held[channels.index(c)]) for c in fixed_list)
    capped = {c for c, (_, hi) in (bounds or {}).items() if hi is not None} | set(fixed_list)
    ceiling = (sum(float(hi) for _, hi in (bounds or {}).values() if hi is not None)
               + sum(float(held[channels.index(c)]) for c in fixed_list)) if capped >= set(channels) else np.inf
    if region_bounds or week_bounds:  # the rows' ranges bound the total too
        rows_by = "region" if region_bounds else "week"
        first_week = result.panel.n_weeks if plan is None else plan.start
        _, rl, ru = row_ranges(result, rows_by, region_bounds or week_bounds or {}, first_week, weeks)
        smallest, ceiling = max(smallest, float(rl.sum())), min(ceiling, float(ru.sum()))
    curves = curve_params(result) if on == "curves" else None
    if on == "plan":
        method = method or "auto"
    else:
        method = method or ("de" if on == "curves" else resolve_method(acfg.budget_method, on))

    def solve(b):
        return optimize_budget(result, b, weeks=weeks, bounds=bounds, fixed=fixed_list, method=method, on=on,
                               seed=seed, curves=curves, by=by, tail_weeks=tail_weeks, max_change=max_change,
                               region_bounds=region_bounds, week_bounds=week_bounds, plan=plan, kpi_value=kpi_value,
                               floor=floor)

    kind, goal = ("roi", 1.0 / value) if target == "cost_per_kpi" else (target, value)
    start = float(hist.sum()) if plan is None else plan.total  # the search brackets from here
    res, info = search_budget(solve, kind, goal, start, floor=smallest, ceiling=ceiling, rtol=rtol,
                              max_factor=max_factor, unit=unit, weeks=weeks)
    if target == "cost_per_kpi":
        info = {**info, "kind": target, "value": float(value),
                "achieved": 1.0 / info["achieved"] if info["achieved"] > 0 else float("inf")}
    res.target = info
    res.message += (f"; budget found for the {target} target {value:g} ({info['evaluations']} plans evaluated, "
                    f"budgets searched {info['searched'][0]:.6g} to {info['searched'][1]:.6g})")
    return res


def search_budget(solve, target: str, value: float, start: float, *, floor: float = 0.0, ceiling: float = np.inf,
                  rtol: float = 1e-3, max_factor: float = 64.0, unit: str = "spend", weeks: int | None = None):
    """The budget search of :func:`optimize_target` on any ``solve(budget) -> BudgetResult``:
    returns ``(plan, info)``.  KPI target: the smallest budget with ``predicted_response >= value``;
    ROI target: the largest budget with ``predicted_response / budget >= value`` (both assume the
    best response grows with the budget at a falling rate, true of concave response curves).
    Budgets searched: from ``max(start / max_factor, floor)`` to ``min(start * max_factor, ceiling)``."""
    if not start > 0:
        raise ConfigError(f"no historical {unit} in the horizon to start the budget search from; "
                          "give a budget instead")
    memo: dict[float, BudgetResult] = {}
    floor = max(float(floor), 0.0)
    low_cap, high_cap = max(start / max_factor, floor), min(start * max_factor, ceiling)
    if high_cap < low_cap:
        raise ConfigError(f"the bounds leave no budget to search: lower bounds and fixed {unit} {floor:.6g} > "
                          f"upper bounds {ceiling:.6g}")
    top = f"{max_factor:g}x the historical {unit}" if high_cap < ceiling else "the sum of the upper bounds"
    span = f" over {weeks} weeks" if weeks else ""

    def plan(b):
        b = float(b)
        if b not in memo:
            memo[b] = solve(b)
        return memo[b]

    def ok(b):  # does budget b meet the target?
        r = plan(b)
        return r.predicted_response >= value if target == "kpi" else r.predicted_response >= value * b

    if target == "kpi":
        if floor > 0 and ok(floor):
            lo = hi = floor
        else:
            lo, hi = floor, min(max(start, floor), high_cap)
            while not ok(hi):
                if hi >= high_cap:
                    raise ConfigError(
                        f"the KPI target {value:g}{span} is out of reach: the best plan at {hi:.6g} "
                        f"({top}, the largest budget searched) adds {plan(hi).predicted_response:.6g}; lower the "
                        "target (the response curves flatten, and far beyond the observed spend they are extrapolated)")
                lo, hi = hi, min(2.0 * hi, high_cap)
        while hi - lo > rtol * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if ok(mid) else (mid, hi)
        best = hi
    else:
        first = min(max(start, floor), high_cap)
        if ok(first):
            lo = first
            hi = min(2.0 * lo, high_cap)
            while ok(hi):
                if hi >= high_cap and high_cap == ceiling:  # the bounds allow no more: spend all they allow
                    lo = hi
                    break
                if hi >= high_cap:
                    raise ConfigError(
                        f"the plan's ROI stays above {value:g} up to {hi:.6g} ({top}, the largest budget searched), "
                        "where the response is extrapolated far beyond the spend seen; raise the target or bound the "
                        "channels")
                lo, hi = hi, min(2.0 * hi, high_cap)
        else:
            hi = first
            lo = max(0.5 * hi, low_cap)
            while not ok(lo):
                if lo <= low_cap:
                    r = plan(lo)
                    raise ConfigError(
                        f"no budget reaches an ROI of {value:g}: the best plan at {lo:.6g} (the smallest budget "
                        f"searched) returns {r.predicted_response / lo:.6g} KPI per unit of {unit}; lower the target")
                hi, lo = lo, max(0.5 * lo, low_cap)
        while hi - lo > rtol * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        best = lo
    res = plan(best)
    achieved = res.predicted_response if target == "kpi" else res.predicted_response / best
    info = {"kind": target, "value": float(value), "achieved": float(achieved), "budget": float(best),
            "evaluations": len(memo), "searched": [float(min(memo)), float(max(memo))]}
    return res, info

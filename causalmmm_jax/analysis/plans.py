"""Spend plans as arrays: a plan ``[regions, weeks, channels]`` evaluated by the fitted model,
continuing the fitted sequence so that carry-over from earlier spend is counted.

A :class:`SpendPlan` holds spend (exposure when the run has no spend columns) per region, week
and channel over ``weeks`` consecutive weeks from ``start``, a position on the fitted weekly grid
(0 = the first fitted week).  ``start = panel.n_weeks`` (the default of :func:`spread_plan`) is
the week after the data: a plan for the future.  An earlier ``start`` replaces the media of
those historical weeks: a what-if on history.

:func:`evaluate_plan` runs the fitted model (``apply``; ensembles: every member) over one
continuous sequence from the first fitted week to the end of the plan plus ``tail_weeks``:

* media: the fitted panel's media (training and holdout weeks) before the plan; the plan in its
  weeks (spend → exposure at each region's and channel's cost per exposure over the training
  weeks, :func:`exposure_per_spend`); after the plan the panel's media where the data have
  weeks, zero beyond;
* controls in weeks beyond the data: each region's mean over its observed training weeks (the
  ``controls`` argument sets them); they enter every scenario alike, so incremental figures hardly
  depend on them, the KPI level does;
* KPI counted on observed cells in historical weeks and on every region in future weeks.

Scenarios, one compiled program (``vmap`` over ensemble members, ``lax.map`` over scenarios):
the plan; no spend in the plan's weeks (history kept: ``kpi_without_plan``); the plan with no
media before it (``carryover_in`` = KPI in the plan's weeks due to spend before them); the plan
with channel ``c`` off (its incremental KPI).  ``incremental`` counts the plan's weeks;
``carryover_after`` the ``tail_weeks`` after them (the effect the plan's spend still has there).
"""

from __future__ import annotations

from ._plan_data import (
    SpendPlan,
    exposure_per_spend,
    kpi_values,
    plan_beyond_observed,
    plan_from_frame,
    plan_shape,
    plan_times,
    plan_to_frame,
    spend_below_floor,
    spend_beyond_peak,
    spread_plan,
    week_label,
    window_spend,
)
from ._plan_eval import PlanEvaluation, evaluate_plan

__all__ = [
    "PlanEvaluation",
    "SpendPlan",
    "evaluate_plan",
    "exposure_per_spend",
    "kpi_values",
    "plan_beyond_observed",
    "plan_from_frame",
    "plan_shape",
    "plan_times",
    "plan_to_frame",
    "spend_below_floor",
    "spend_beyond_peak",
    "spread_plan",
    "week_label",
    "window_spend",
]

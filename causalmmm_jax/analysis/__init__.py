"""Post-fit analysis: contributions, ROI / marginal ROI, response curves, budget optimisation,
spend plans ``[regions, weeks, channels]`` evaluated with carry-over,
lift-test calibration, the channel-interaction graph, and scoring a fit and its plans against a
generator's planted truth (:mod:`.recovery`).

Names are imported lazily (the training step imports :mod:`.calibration`, and importing this
package must stay cheap and free of import cycles).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "roi_table": "curves", "response_curves": "curves", "curve_params": "curves", "posthoc_curves": "curves",
    "fit_hill": "curves", "hill": "curves",
    "optimize_budget": "budget", "optimize_curves": "budget", "maximize_allocation": "budget",
    "BudgetResult": "budget", "parse_bounds": "budget", "beyond_observed": "budget", "below_observed": "budget",
    "observed_floors": "budget",
    "optimize_target": "targets",
    "search_budget": "targets",
    "SpendPlan": "plans", "PlanEvaluation": "plans", "evaluate_plan": "plans", "spread_plan": "plans",
    "plan_from_frame": "plans", "plan_to_frame": "plans", "optimize_plan": "planning",
    "evaluate_against_truth": "recovery",
    "read_lift_tests": "calibration", "lift_data": "calibration", "lift_loss": "calibration",
    "lift_report": "calibration", "LiftData": "calibration",
    "dag_report": "graph", "write_dag_csv": "graph",
    "sensitivity_table": "sensitivity", "sensitivity_summary": "sensitivity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

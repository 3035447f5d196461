"""Fake analysis files shaped like the outputs of ``causalmmm-jax curves`` / ``optimize``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def write_analysis_files(run_dir: Path, channels, weeks: int = 62, result=None) -> None:
    """curves.csv, curve_params.csv, allocation.csv and allocation.json shaped like the outputs of
    ``causalmmm-jax curves`` / ``optimize`` (made-up numbers); with ``result`` also plan.csv,
    allocation_by_region.csv, allocation_by_week.csv and plan_weekly.csv for its regions and weeks."""
    rows, params, alloc = [], [], {}
    for i, ch in enumerate(channels):
        spend, top, half, slope = 5e5 * (i + 1), 3e4 * (i + 1), 8e3 * (i + 1), 1.5
        for m in (0.0, 0.5, 1.0, 1.5, 2.0):
            x = m * spend / weeks
            inc = top * x ** slope / (half ** slope + x ** slope) * weeks
            rows.append({"channel": ch, "multiplier": m, "spend": m * spend, "exposure": m * spend * 40,
                         "kpi": 1e7 + inc, "incremental": inc})
        params.append({"channel": ch, "top": top, "bottom": 0.0, "half_saturation": half, "slope": slope, "r2": 0.99,
                       "x_unit": "weekly_spend", "current_weekly": spend / weeks})
        alloc[ch] = spend * 52 / weeks * (1.2 if i % 2 else 0.8)
    pd.DataFrame(rows).to_csv(run_dir / "curves.csv", index=False)
    pd.DataFrame(params).to_csv(run_dir / "curve_params.csv", index=False)
    total = np.array(list(alloc.values()))
    pd.DataFrame({"channel": list(alloc), "total_spend": total, "weekly_spend": total / 52, "response": total * 1.3,
                  "roi": 1.3, "marginal_roi": 0.7, "spend_pct": 100 * total / total.sum(),
                  "response_pct": 100 * total / total.sum(), "half_saturation": 1.0}).to_csv(
        run_dir / "allocation.csv", index=False)
    (run_dir / "allocation.json").write_text(json.dumps(
        {"success": True, "method": "projected", "allocation": alloc, "predicted_response": 2.2e6,
         "current_response": 2.0e6, "response_unit": "value", "floors": {channels[0]: 1.0e5},
         "floors_binding": [channels[0]],
         "beyond_observed_pct": 12.4, "below_observed_pct": 0.0}))
    if result is not None:
        from causalmmm_jax.analysis.plans import plan_times, plan_to_frame, spread_plan

        plan = spread_plan(result, alloc, 6)
        plan_to_frame(result, plan).to_csv(run_dir / "plan.csv", index=False)
        cells = plan.spend.sum(axis=1)  # [R, C]
        r, c = np.meshgrid(result.panel.regions, list(channels), indexing="ij")
        pd.DataFrame({"region": r.ravel(), "channel": c.ravel(), "spend": cells.ravel(),
                      "current_spend": cells.ravel() * 0.9}).to_csv(run_dir / "allocation_by_region.csv", index=False)
        w, c = np.meshgrid(plan_times(result, plan.start, 6), list(channels), indexing="ij")
        per_week = plan.spend.sum(axis=0)  # [W, C]
        pd.DataFrame({"week": w.ravel(), "channel": c.ravel(), "spend": per_week.ravel(),
                      "current_spend": per_week.ravel() * 1.1}).to_csv(run_dir / "allocation_by_week.csv", index=False)
        pd.DataFrame({"week": plan_times(result, plan.start, 6), "in_plan": True, "spend": plan.spend.sum(axis=(0, 2)),
                      "kpi": 1e6, "kpi_without_plan": 9e5, "incremental": 1e5 + 1e3 * np.arange(6.0)}).to_csv(
            run_dir / "plan_weekly.csv", index=False)

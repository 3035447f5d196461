"""The run directory written by ``causalmmm-jax fit --out RUN_DIR``.

    RUN_DIR/metrics.json        metrics, attribution, channels (with intervals), identifiability, epochs,
                                timing, seed, version
    RUN_DIR/contributions.csv   region, time, component, value (KPI units, every observed cell)
    RUN_DIR/predictions.csv     region, time, split, actual, prediction, prediction_q05/_q95 (the 90 %
                                prediction interval), every observed cell
    RUN_DIR/history.csv         per-epoch training metrics (main phase; ensemble: member 0)
    RUN_DIR/config.json         the configuration used
    RUN_DIR/model/              the saved model (see causalmmm_jax.modelfile)

and, from the analyses (:func:`write_curves`, :func:`write_allocation`; the ``curves`` and
``optimize`` commands): curves.csv, curve_params.csv, allocation.csv, allocation.json, plan.csv,
allocation_by_region.csv / allocation_by_week.csv.

Files are written atomically; other files already in RUN_DIR are left alone.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ._io_util import atomic_write_text, writable_dir
from .analysis.contributions import long_table, prediction_table
from .modelfile import save_model
from .train.result import FitResult

__all__ = ["write_run", "write_curves", "write_allocation", "history_frame", "json_safe", "identifiability_dict"]


def json_safe(obj):
    """Replace NaN/inf by None and NumPy scalars by Python numbers (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def history_frame(result: FitResult) -> pd.DataFrame:
    """Per-epoch metrics of the main phase (member 0 for ensembles)."""
    h = {k: np.asarray(v) for k, v in result.history.items() if not k.startswith(("warm_", "static_"))}
    if not h:
        return pd.DataFrame()
    h = {k: (v[0] if v.ndim > 1 else v) for k, v in h.items()}
    df = pd.DataFrame(h)
    df.insert(0, "epoch", np.arange(1, len(df) + 1))
    return df


def identifiability_dict(result: FitResult) -> dict:
    """The identifiability report (:func:`~causalmmm_jax.analysis.identifiability.identifiability`) as
    ``{channel: {column: value}}`` for metrics.json."""
    from .analysis.identifiability import identifiability

    rep = identifiability(result)
    return {r.pop("channel"): r for r in rep.to_dict("records")}


def write_run(result: FitResult, out: str | os.PathLike) -> Path:
    """Write everything of ``result`` into ``out`` (created if needed)."""
    out = writable_dir(out)
    p = result.panel
    metrics = {**result.metrics, "identifiability": identifiability_dict(result)}
    atomic_write_text(out / "metrics.json", json.dumps(json_safe(metrics), indent=2) + "\n")
    atomic_write_text(out / "config.json", json.dumps(result.config.to_dict(), indent=2) + "\n")
    table = long_table(result.point_components(), p.regions, p.times, p.channels, p.control_names, p.mask)
    atomic_write_text(out / "contributions.csv", table.to_csv(index=False))
    atomic_write_text(out / "predictions.csv", prediction_table(result).to_csv(index=False))
    atomic_write_text(out / "history.csv", history_frame(result).to_csv(index=False))
    save_model(result, out)
    return out


def write_curves(result: FitResult, out: str | os.PathLike,
                 multipliers=None) -> tuple[pd.DataFrame, pd.DataFrame, list[Path]]:
    """Model-based response curves and their Hill fits into the run directory ``out``:
    ``curves.csv`` and ``curve_params.csv``; returns ``(curves, params, [paths])``."""
    from .analysis.curves import curve_params, response_curves

    out = writable_dir(out)
    curves = response_curves(result, multipliers)
    params = curve_params(result, curves)
    atomic_write_text(out / "curves.csv", curves.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(out / "curve_params.csv", params.to_csv(index=False, float_format="%.10g"))
    return curves, params, [out / "curves.csv", out / "curve_params.csv"]


def write_allocation(result: FitResult, res, out: str | os.PathLike) -> list[Path]:
    """A budget result (``optimize_budget``, ``optimize_target``) into the run directory ``out``:
    ``allocation.csv`` (by channel), ``allocation.json`` (its summary), ``plan.csv`` (the plan by
    region, week and channel) and, for plans by region or week, ``allocation_by_region.csv`` /
    ``allocation_by_week.csv`` (a stale one from an earlier plan is removed); returns the paths."""
    from .analysis.plans import plan_to_frame, spread_plan

    out = writable_dir(out)
    atomic_write_text(out / "allocation.csv", res.by_channel.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(out / "allocation.json", json.dumps(json_safe(res.to_dict()), indent=2, default=str) + "\n")
    plan = res.plan or spread_plan(result, res.allocation, res.weeks,
                                   pattern="history" if res.on == "model" else "flat")
    atomic_write_text(out / "plan.csv", plan_to_frame(result, plan).to_csv(index=False, float_format="%.10g"))
    written = [out / "allocation.csv", out / "allocation.json", out / "plan.csv"]
    for name, table in (("allocation_by_region.csv", res.by_region), ("allocation_by_week.csv", res.by_week)):
        if table is not None:
            atomic_write_text(out / name, table.to_csv(index=False, float_format="%.10g"))
            written.append(out / name)
        else:  # an earlier --by region/week's file would no longer match plan.csv
            (out / name).unlink(missing_ok=True)
    return written

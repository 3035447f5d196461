"""Evaluation metrics (host-side NumPy, float64).

Pooled metrics are in KPI units over the selected cells.  Pooled R² is dominated by differences
in region level, so ``r2_within_region`` is reported too: R² of the scaled KPI (y/ȳ_r), the
original's ``holdout_r2_scaled``.  A naive baseline (each region's training mean) is given for
reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["regression_metrics", "evaluate_block"]


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """``{"r2","rmse","mae","mape","trimmed_rmse","n"}`` of predictions ``p`` for targets ``y`` (1-D).

    MAPE is over cells with y ≠ 0 (in %); trimmed RMSE drops errors above the 95th percentile of |e|.
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.size == 0:
        nan = float("nan")
        return {"r2": nan, "rmse": nan, "mae": nan, "mape": nan, "trimmed_rmse": nan, "n": 0}
    e = p - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    nz = y != 0
    ae = np.abs(e)
    keep = ae <= np.percentile(ae, 95)
    return {
        "r2": 1.0 - float((e**2).sum()) / ss_tot if ss_tot > 0 else float("nan"),
        "rmse": float(np.sqrt((e**2).mean())),
        "mae": float(ae.mean()),
        "mape": float(100.0 * (ae[nz] / np.abs(y[nz])).mean()) if nz.any() else float("nan"),
        "trimmed_rmse": float(np.sqrt((e[keep] ** 2).mean())) if keep.sum() > 10 else float(np.sqrt((e**2).mean())),
        "n": int(y.size),
    }


def evaluate_block(y: np.ndarray, pred: np.ndarray, cells: np.ndarray, target_mean: np.ndarray,
                   naive: np.ndarray | None = None) -> dict:
    """Metrics over ``cells [R,T]`` (bool).

    y, pred: ``[R,T]`` KPI units; target_mean: ``[R]`` ȳ_r (for the scaled R²);
    naive: ``[R,T]`` baseline prediction (optional).
    """
    out: dict[str, Any] = dict(regression_metrics(y[cells], pred[cells]))
    ys, ps = y / target_mean[:, None], pred / target_mean[:, None]
    out["r2_within_region"] = regression_metrics(ys[cells], ps[cells])["r2"]
    out["rmse_scaled"] = regression_metrics(ys[cells], ps[cells])["rmse"]
    if naive is not None:
        nb = regression_metrics(y[cells], naive[cells])
        out["naive"] = {"r2": nb["r2"], "rmse": nb["rmse"], "mape": nb["mape"]}
    return out

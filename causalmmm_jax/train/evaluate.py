"""Metrics of a fitted run: one continuous forward over train + holdout, holdout cells scored."""

from __future__ import annotations

import numpy as np

from ..analysis.contributions import channel_table, component_totals, original_units
from .metrics import evaluate_block

__all__ = ["evaluate"]


def _bands(values: np.ndarray) -> dict:
    return {"mean": float(np.mean(values)), "q05": float(np.quantile(values, 0.05)),
            "q50": float(np.quantile(values, 0.5)), "q95": float(np.quantile(values, 0.95))}


def evaluate(result) -> dict:
    """``metrics.json`` content (see README): train/holdout metrics in KPI units, attribution
    shares and per-channel contributions over the training weeks, epochs, timing."""
    panel, split = result.panel, result.split
    comps = original_units(result.decompose(), result.scaler.target_mean)
    point = comps.mean() if result.n_seeds > 1 else comps
    y = panel.target
    naive = np.broadcast_to(result.scaler.target_mean[:, None], y.shape)
    train_cells, hold_cells = split.train_mask(panel.mask), split.holdout_mask(panel.mask)
    out = {
        "train": evaluate_block(y, point.prediction, train_cells, result.scaler.target_mean, naive),
        "holdout": evaluate_block(y, point.prediction, hold_cells, result.scaler.target_mean, naive),
    }
    totals = component_totals(point, train_cells)
    denom = totals["prediction"]
    out["attribution"] = {k: totals[k] / denom for k in ("media", "baseline", "seasonality", "controls", "trend")}
    table = channel_table(point, train_cells, panel.channels, panel.spend, panel.media)
    out["channels"] = {row["channel"]: {k: float(v) for k, v in row.items() if k != "channel"}
                       for row in table.to_dict("records")}
    if result.n_seeds > 1:
        members = [channel_table(type(comps)(*(getattr(comps, k)[i] for k in
                                               ("media", "controls", "baseline", "seasonality", "trend"))),
                                 train_cells, panel.channels, panel.spend) for i in range(result.n_seeds)]
        for j, ch in enumerate(panel.channels):
            out["channels"][ch]["bands"] = {
                k: _bands(np.array([m.iloc[j][k] for m in members]))
                for k in ("contribution", "share", "roi") if k in members[0]}
        hold = [evaluate_block(y, comps.prediction[i], hold_cells, result.scaler.target_mean)
                for i in range(result.n_seeds)]
        out["holdout"]["bands"] = {k: _bands(np.array([h[k] for h in hold])) for k in ("r2", "rmse", "mape")}
    out["epochs_run"] = result.epochs_run
    out["best_epoch"] = result.best_epoch
    out["stopped_early"] = result.stopped_early
    out["split"] = split.to_dict()
    out["timing"] = {k: float(v) for k, v in result.timing.items()}
    out["seed"] = result.seeds[0] if result.n_seeds == 1 else list(result.seeds)
    out["n_seeds"] = result.n_seeds
    out["version"] = result.version
    return out

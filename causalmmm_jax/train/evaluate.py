"""Metrics of a fitted run: one continuous forward over train + holdout, holdout cells scored."""

from __future__ import annotations

from typing import Any

import numpy as np

from .components import channel_table, component_totals
from .metrics import evaluate_block
from .result import INTERVAL_LEVEL, FitResult, carry_interval, member_bands

__all__ = ["evaluate"]


def _bands(values) -> dict | None:
    """Member mean, 5/50/95 % quantiles of a per-member statistic; None for a single member."""
    values = np.asarray(values, np.float64)
    q = member_bands(values, (0.05, 0.5, 0.95))
    if q is None:
        return None
    return {"mean": float(np.mean(values)), "q05": float(q[0]), "q50": float(q[1]), "q95": float(q[2])}


def evaluate(result: FitResult) -> dict:
    """``metrics.json`` content (see README): train/holdout metrics in KPI units of the point
    estimate (the member mean), attribution shares and per-channel contributions over the training
    weeks, member bands for ensembles, intervals from the anchored draws (``interval`` per channel:
    contribution, share, ROI, effect per 1,000; ``intervals``: level, draws, method), the prediction
    intervals' coverage of the holdout (``prediction_interval``), epochs, timing."""
    panel, split = result.panel, result.split
    comps = result.components()
    point = comps.mean()
    y = panel.target
    naive = np.broadcast_to(result.scaler.target_mean[:, None], y.shape)
    train_cells, hold_cells = split.train_mask(panel.mask), split.holdout_mask(panel.mask)
    out: dict[str, Any] = {
        "train": evaluate_block(y, point.prediction, train_cells, result.scaler.target_mean, naive),
        "holdout": evaluate_block(y, point.prediction, hold_cells, result.scaler.target_mean, naive),
    }
    totals = component_totals(point, train_cells)
    denom = totals["prediction"]
    out["attribution"] = {k: totals[k] / denom for k in ("media", "baseline", "seasonality", "controls", "trend")}
    table = channel_table(point, train_cells, panel.channels, panel.spend, panel.media)
    out["channels"] = {row["channel"]: {k: float(v) for k, v in row.items() if k != "channel"}
                       for row in table.to_dict("records")}
    members = [channel_table(comps.member(i), train_cells, panel.channels, panel.spend)
               for i in range(result.n_seeds)]
    for j, ch in enumerate(panel.channels):
        bands = {k: _bands([m.iloc[j][k] for m in members]) for k in ("contribution", "share", "roi")
                 if k in members[0]}
        if all(b is not None for b in bands.values()):
            out["channels"][ch]["bands"] = bands
    draws = None if result.draws is None else result.draws_result().components()
    if draws is not None:
        _draw_intervals(out, result, table, train_cells, draws)
    out["prediction_interval"] = _prediction_interval_metrics(result, point.prediction, hold_cells,
                                                              None if draws is None else draws.prediction)
    hold = [evaluate_block(y, comps.prediction[i], hold_cells, result.scaler.target_mean)
            for i in range(result.n_seeds)]
    hold_bands = {k: _bands([h[k] for h in hold]) for k in ("r2", "rmse", "mape")}
    if all(b is not None for b in hold_bands.values()):
        out["holdout"]["bands"] = hold_bands
    out["epochs_run"] = result.epochs_run
    out["best_epoch"] = result.best_epoch
    out["stopped_early"] = result.stopped_early
    out["split"] = split.to_dict()
    out["timing"] = {k: float(v) for k, v in result.timing.items()}
    seeds = list(result.seeds)
    out["seed"] = seeds if len(seeds) > 1 else seeds[0]  # metrics.json: one number for a single fit
    out["n_seeds"] = result.n_seeds
    out["version"] = result.version
    return out


def _draw_intervals(out: dict, result: FitResult, table, train_cells, draws) -> None:
    """Per channel ``interval``: {contribution, share, roi, effect_per_1000: [lo, hi]} carried from the
    anchored draws (``draws``: their components)."""
    panel = result.panel
    per = [channel_table(draws.member(i), train_cells, panel.channels, panel.spend, panel.media)
           for i in range(result.n_draws)]
    out["intervals"] = {"level": INTERVAL_LEVEL, "draws": result.n_draws, "method": "ratio"}
    for key in ("contribution", "share", "roi", "effect_per_1000"):
        if key not in table:
            continue
        lo, hi = carry_interval(table[key].to_numpy(np.float64), np.stack([d[key].to_numpy(np.float64) for d in per]))
        if key == "share":  # a share of media lies in [0, 1] whatever the carried spread
            lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        for j, ch in enumerate(panel.channels):
            if np.isfinite(lo[j]) and np.isfinite(hi[j]):
                out["channels"][ch].setdefault("interval", {})[key] = [float(lo[j]), float(hi[j])]


def _prediction_interval_metrics(result: FitResult, point: np.ndarray, hold_cells: np.ndarray,
                                 members: np.ndarray | None) -> dict:
    """The prediction intervals (:mod:`.predictive`): level, source, inflation κ and, with holdout
    weeks, the share of holdout cells (and of holdout weeks' totals over the regions) inside them and
    the intervals' median width relative to the prediction.  ``members``: the draws' predictions, if
    computed."""
    from .predictive import member_predictions, prediction_interval

    if members is None:  # no draws: a seed ensemble's members, if any
        members, _ = member_predictions(result)
    cell = prediction_interval(result, point=point, members=members)
    out: dict[str, Any] = {"level": cell.level, "source": cell.source, "inflation": cell.inflation}
    if hold_cells.any():
        y = np.asarray(result.panel.target, np.float64)
        inside = (y >= cell.lo) & (y <= cell.hi)
        rel = (cell.hi - cell.lo) / np.maximum(np.abs(cell.point), 1e-12)
        nat = prediction_interval(result, point=point, national=True, members=members)
        weeks = hold_cells.any(0)
        y_nat = np.where(hold_cells, y, 0.0).sum(0)
        inside_nat = (y_nat >= nat.lo) & (y_nat <= nat.hi)
        out["holdout"] = {"coverage": float(inside[hold_cells].mean()), "cells": int(hold_cells.sum()),
                          "relative_width_median": float(np.median(rel[hold_cells])),
                          "coverage_national": float(inside_nat[weeks].mean()), "weeks": int(weeks.sum())}
    return out

"""Prediction intervals: where the KPI of a region-week (or a week's total over the regions) will
fall, with the model's uncertainty and the noise around the model.

The interval of cell ``(r, t)`` at ``level`` (default 90 %) is centred on the fitted model's
prediction ``ŷ_rt`` with the half-width

    √( (t_K·√(1 + 1/K)·s_rt)²  +  (z·κ·σ_r)² )

* ``s_rt``: the spread (sd) of the anchored draws' predictions of the cell (the model's uncertainty,
  :mod:`.draws`; for a seed ensemble without draws the members' spread; 0 for a single fit without
  draws), ``t_K`` Student's quantile at ``(1 + level)/2`` on K − 1 degrees of freedom, as for every
  channel interval (:func:`~.result.carry_interval`);
* ``σ_r``: region r's residual sd over its fit cells (KPI units), shrunk toward the pooled one with
  :data:`SHRINK_CELLS` pseudo-cells (a region with few cells borrows from the rest);
* ``κ ≥ 1``: the out-of-sample inflation, √(validation MSE / fit MSE) over all regions when the
  run has validation weeks (residuals on weeks the fit never trained on are larger; the holdout is
  never used), 1 without;
* ``z``: the normal quantile at ``(1 + level)/2``.

A week's total over the regions (``national=True``) takes the draws' spread of the total and the
residual sd of the total over the fit weeks (so residuals common to the regions count as such).
The two parts add in quadrature (independent).  ``metrics.json`` reports the intervals' coverage
of the holdout cells (``prediction_interval``); ``predictions.csv`` holds them per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.panel import Panel
from .result import INTERVAL_LEVEL, FitResult

__all__ = ["PredictionInterval", "prediction_interval", "residual_scale", "SHRINK_CELLS"]

#: the pooled residual variance's weight in a region's, in cells
SHRINK_CELLS = 8


@dataclass(frozen=True)
class PredictionInterval:
    """``point``, ``lo``, ``hi`` ``[R,T]`` (``[T]`` for a national interval), KPI units, every cell of
    the panel (read them where the panel's mask is set); ``model_sd`` the draws' (or members') sd,
    ``noise_sd`` the inflated residual sd; ``source``: ``"draws"``, ``"seeds"`` or ``"noise"``;
    ``inflation`` κ; ``level``."""

    point: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    model_sd: np.ndarray
    noise_sd: np.ndarray
    source: str
    inflation: float
    level: float


def residual_scale(result: FitResult, point: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """``(σ_r [R], σ_national, κ)`` from the fitted panel's residuals: σ_r over each region's fit
    cells (shrunk toward the pooled sd), σ_national of the weekly total over the fit weeks, κ the
    out-of-sample inflation (see the module docstring).  ``point``: the fitted panel's point
    prediction ``[R,T]`` if already computed."""
    panel, split = result.panel, result.split
    if point is None:
        point = result.point_components().prediction
    mask = np.asarray(panel.mask, bool)
    resid = np.where(mask, np.asarray(panel.target, np.float64) - point, 0.0)
    fit_cells, val_cells = split.fit_mask(mask), split.val_mask(mask)
    n_r = fit_cells.sum(1).astype(np.float64)
    ss_r = (resid ** 2 * fit_cells).sum(1)
    n_all = max(float(n_r.sum()), 1.0)
    pooled = ss_r.sum() / n_all
    sigma_r = np.sqrt((ss_r + SHRINK_CELLS * pooled) / (n_r + SHRINK_CELLS))
    fit_weeks = fit_cells.any(0)
    total = (resid * fit_cells).sum(0)
    sigma_nat = float(np.sqrt((total[fit_weeks] ** 2).mean())) if fit_weeks.any() else float("nan")
    kappa = 1.0
    if val_cells.any() and pooled > 0:
        kappa = float(max(1.0, np.sqrt((resid[val_cells] ** 2).mean() / pooled)))
    return sigma_r, sigma_nat, kappa


def _model_spread(result: FitResult, panel: Panel | None, national: bool) -> tuple[np.ndarray | None, str, int]:
    """``(sd over draws or members [R,T] or [T], source, K)``; sd None without either."""
    if result.draws is not None:
        pred, source = result.draws_result().components(panel).prediction, "draws"
    elif result.n_seeds >= 2:
        pred, source = result.components(panel).prediction, "seeds"
    else:
        return None, "noise", 0
    if national:
        mask = np.asarray((panel or result.panel).mask, bool)
        pred = (pred * mask).sum(1)
    return pred.std(axis=0, ddof=1), source, pred.shape[0]


def prediction_interval(result: FitResult, panel: Panel | None = None, level: float = INTERVAL_LEVEL, *,
                        national: bool = False, point: np.ndarray | None = None) -> PredictionInterval:
    """The ``level`` prediction interval of every cell of ``panel`` (default: the fitted panel, all
    weeks) or, ``national=True``, of every week's total over the observed cells; see the module
    docstring.  ``point``: the point prediction ``[R,T]`` of ``panel`` if already computed.  ``panel``
    must be on the fitted model's regions and weeks grid (``predict`` builds one)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, e.g. 0.9, got {level}")
    from scipy.stats import norm
    from scipy.stats import t as student_t

    if point is None:
        point = result.point_components(panel).prediction
    sigma_r, sigma_nat, kappa = residual_scale(result, point if panel is None else None)
    mask = np.asarray((panel or result.panel).mask, bool)
    if national:
        point = (point * mask).sum(0)
        noise = np.full(point.shape, kappa * sigma_nat)
    else:
        noise = np.broadcast_to((kappa * sigma_r)[:, None], point.shape)
    spread, source, k = _model_spread(result, panel, national)
    z = float(norm.ppf((1.0 + level) / 2.0))
    half2 = (z * noise) ** 2
    if spread is None:
        spread = np.zeros_like(point)
    else:
        half2 = half2 + (float(student_t.ppf((1.0 + level) / 2.0, k - 1)) * np.sqrt(1.0 + 1.0 / k) * spread) ** 2
    half = np.sqrt(half2)
    return PredictionInterval(point=point, lo=point - half, hi=point + half, model_sd=spread,
                              noise_sd=np.asarray(noise, np.float64), source=source, inflation=kappa, level=level)

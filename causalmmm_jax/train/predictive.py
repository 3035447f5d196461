"""Prediction intervals: where the KPI of a region-week (or a week's total over the regions) will
fall, with the model's uncertainty and the noise around the model.

The interval of cell ``(r, t)`` at ``level`` (default 90 %) is centred on the fitted model's
prediction ``ŷ_rt`` with the half-width

    √( (t_K·√(1 + 1/K)·s_rt)²  +  (q·σ_r)² )

* ``s_rt``: the spread (sd) of the anchored draws' predictions of the cell (the model's uncertainty,
  :mod:`.draws`; for a seed ensemble without draws the members' spread; 0 for a single fit without
  draws), ``t_K`` Student's quantile at ``(1 + level)/2`` on K − 1 degrees of freedom, as for every
  channel interval (:func:`~.result.carry_interval`);
* ``σ_r``: region r's residual sd over its fit cells (KPI units), shrunk toward the pooled one with
  :data:`SHRINK_CELLS` pseudo-cells (a region with few cells borrows from the rest);
* ``q``: the ``level`` quantile of the standardised residuals ``|e_rt|/σ_r``, the larger of the fit
  cells' and the validation cells' (the weeks the fit never trained on; the holdout is never used):
  the residuals' own distribution, not the normal's 1.645, so heavy tails (a few large residuals
  inflate σ_r) do not widen every interval, and out-of-sample residuals larger than the fit's widen
  them by ``κ = q_validation / q_fit`` (≥ 1; 1 without at least :data:`MIN_VALIDATION_CELLS`
  validation cells).

A week's total over the regions (``national=True``) takes the draws' spread of the total, the
residual sd of the total over the fit weeks and the quantile of its own standardised residuals
(so residuals common to the regions count as such), times the cells' κ.  The two parts add in
quadrature (independent).  ``metrics.json`` reports the intervals' coverage of the holdout cells
(``prediction_interval``); ``predictions.csv`` holds them per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.panel import Panel
from .result import INTERVAL_LEVEL, FitResult

__all__ = ["PredictionInterval", "NoiseScale", "prediction_interval", "residual_scale", "SHRINK_CELLS",
           "MIN_VALIDATION_CELLS"]

#: the pooled residual variance's weight in a region's, in cells
SHRINK_CELLS = 8
#: validation cells needed to read the out-of-sample inflation κ from them
MIN_VALIDATION_CELLS = 8


@dataclass(frozen=True)
class PredictionInterval:
    """``point``, ``lo``, ``hi`` ``[R,T]`` (``[T]`` for a national interval), KPI units, every cell of
    the panel (read them where the panel's mask is set); ``model_sd`` the draws' (or members') sd,
    ``noise_half`` the noise part of the half-width (q·σ); ``source``: ``"draws"``, ``"seeds"`` or
    ``"noise"``; ``inflation`` κ; ``level``."""

    point: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    model_sd: np.ndarray
    noise_half: np.ndarray
    source: str
    inflation: float
    level: float


@dataclass(frozen=True)
class NoiseScale:
    """The noise around the model (:func:`residual_scale`): ``sigma_r [R]`` and ``sigma_national``
    (residual sds), ``q_cells``/``q_national`` the ``level`` quantiles of the standardised residuals
    (κ included), ``inflation`` κ, ``level``."""

    sigma_r: np.ndarray
    sigma_national: float
    q_cells: float
    q_national: float
    inflation: float
    level: float


def residual_scale(result: FitResult, point: np.ndarray | None = None, level: float = INTERVAL_LEVEL) -> NoiseScale:
    """The noise around the model from the fitted panel's residuals (see the module docstring): σ_r
    over each region's fit cells (shrunk toward the pooled sd), σ_national of the weekly total over
    the fit weeks, and the ``level`` quantiles of the standardised residuals with the out-of-sample
    inflation κ.  ``point``: the fitted panel's point prediction ``[R,T]`` if already computed."""
    panel, split = result.panel, result.split
    if point is None:
        point = result.point_components().prediction
    mask = np.asarray(panel.mask, bool)
    resid = np.where(mask, np.asarray(panel.target, np.float64) - point, 0.0)
    fit_cells, val_cells = split.fit_mask(mask), split.val_mask(mask)
    n_r = fit_cells.sum(1).astype(np.float64)
    ss_r = (resid ** 2 * fit_cells).sum(1)
    pooled = ss_r.sum() / max(float(n_r.sum()), 1.0)
    sigma_r = np.sqrt((ss_r + SHRINK_CELLS * pooled) / (n_r + SHRINK_CELLS))
    fit_weeks = fit_cells.any(0)
    total = (resid * fit_cells).sum(0)
    sigma_nat = float(np.sqrt((total[fit_weeks] ** 2).mean())) if fit_weeks.any() else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(resid) / sigma_r[:, None]
        z_nat = np.abs(total) / sigma_nat if sigma_nat > 0 else np.zeros_like(total)
    q_fit = float(np.quantile(z[fit_cells], level)) if fit_cells.any() and pooled > 0 else 0.0
    kappa = 1.0
    if val_cells.sum() >= MIN_VALIDATION_CELLS and q_fit > 0:
        kappa = max(1.0, float(np.quantile(z[val_cells], level)) / q_fit)
    q_nat = float(np.quantile(z_nat[fit_weeks], level)) if fit_weeks.any() else 0.0
    return NoiseScale(sigma_r=sigma_r, sigma_national=sigma_nat, q_cells=kappa * q_fit, q_national=kappa * q_nat,
                      inflation=kappa, level=level)


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
    from scipy.stats import t as student_t

    if point is None:
        point = result.point_components(panel).prediction
    noise_scale = residual_scale(result, point if panel is None else None, level)
    mask = np.asarray((panel or result.panel).mask, bool)
    if national:
        point = (point * mask).sum(0)
        noise = np.full(point.shape, noise_scale.q_national * noise_scale.sigma_national)
    else:
        noise = np.broadcast_to((noise_scale.q_cells * noise_scale.sigma_r)[:, None], point.shape)
    spread, source, k = _model_spread(result, panel, national)
    half2 = noise ** 2
    if spread is None:
        spread = np.zeros_like(point)
    else:
        half2 = half2 + (float(student_t.ppf((1.0 + level) / 2.0, k - 1)) * np.sqrt(1.0 + 1.0 / k) * spread) ** 2
    half = np.sqrt(half2)
    return PredictionInterval(point=point, lo=point - half, hi=point + half, model_sd=spread,
                              noise_half=np.asarray(noise, np.float64), source=source,
                              inflation=noise_scale.inflation, level=level)

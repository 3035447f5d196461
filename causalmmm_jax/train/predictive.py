"""Prediction intervals: where the KPI of a region-week (or a week's total over the regions) will
fall, with the model's uncertainty and the noise around the model.

The interval of cell ``(r, t)`` at ``level`` (default 90 %) is centred on the fitted model's
prediction ``ŷ_rt`` with the half-width

    √( (t_K·√(1 + 1/K)·s_rt)²  +  (κ_t·q·σ_r)² )

* ``s_rt``: the spread (sd) of the anchored draws' predictions of the cell (the model's uncertainty,
  :mod:`.draws`; for a seed ensemble of at least :data:`MIN_MEMBERS` members without draws the
  members' spread; 0 otherwise), ``t_K`` Student's quantile at ``(1 + level)/2`` on K − 1 degrees
  of freedom, as for every channel interval (:func:`~.result.carry_interval`);
* ``σ_r``: region r's residual sd over its fit cells (KPI units), shrunk toward the pooled one with
  :data:`SHRINK_CELLS` pseudo-cells (a region with few cells borrows from the rest);
* ``q``: the ``level`` quantile of the fit cells' standardised residuals ``|e_rt|/σ_r``: the
  residuals' own distribution, not the normal's 1.645, so heavy tails (a few large residuals
  inflate σ_r) do not widen every interval;
* ``κ_t``: 1 in the fit weeks; in the weeks after them (validation, holdout, forecasts) the
  out-of-sample inflation κ ≥ 1, the smallest factor with which the whole interval (the draws'
  part included) holds ``level`` of the validation cells, weeks the fit never trained on (the
  holdout is never used); 1 with fewer than :data:`MIN_VALIDATION_CELLS` validation cells.

A week's total over the regions (``national=True``) takes the draws' spread of the total, the
residual sd of the total over the fit weeks and its own standardised residuals' quantile (so
residuals common to the regions count as such), with the cells' κ.  The two parts add in quadrature
(independent).  ``metrics.json`` reports the intervals' coverage of the holdout cells
(``prediction_interval``); ``predictions.csv`` holds them per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.panel import Panel
from .result import INTERVAL_LEVEL, FitResult, predictive_factor

__all__ = ["PredictionInterval", "NoiseScale", "prediction_interval", "residual_scale", "member_predictions",
           "SHRINK_CELLS", "MIN_VALIDATION_CELLS", "MIN_MEMBERS"]

#: the pooled residual variance's weight in a region's, in cells
SHRINK_CELLS = 8
#: validation cells needed to read the out-of-sample inflation κ from them (a 90 % quantile of fewer
#: is close to their maximum)
MIN_VALIDATION_CELLS = 20
#: seed-ensemble members needed for their spread to count (two members' sd times t on 1 degree of
#: freedom, 6.3, would swamp the interval with optimisation noise)
MIN_MEMBERS = 3


@dataclass(frozen=True)
class PredictionInterval:
    """``point``, ``lo``, ``hi`` ``[R,T]`` (``[T]`` for a national interval), KPI units, every cell of
    the panel (read them where the panel's mask is set); ``model_sd`` the draws' (or members') sd,
    ``noise_half`` the noise part of the half-width (κ_t·q·σ); ``source``: ``"draws"``, ``"seeds"``
    or ``"noise"``; ``inflation`` κ; ``level``."""

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
    (residual sds), ``q_cells``/``q_national`` the ``level`` quantiles of the fit cells' (weeks')
    standardised residuals, ``inflation`` κ for the weeks after the fit block, ``level``."""

    sigma_r: np.ndarray
    sigma_national: float
    q_cells: float
    q_national: float
    inflation: float
    level: float


def member_predictions(result: FitResult, panel: Panel | None = None) -> tuple[np.ndarray | None, str]:
    """``(predictions [K,R,T] of the anchored draws (or of a seed ensemble's members), source)`` over
    ``panel`` (default: the fitted panel), KPI units; ``(None, "noise")`` without either."""
    if result.draws is not None:
        return result.draws_result().components(panel).prediction, "draws"
    if result.n_seeds >= MIN_MEMBERS:
        return result.components(panel).prediction, "seeds"
    return None, "noise"


def _model_half(members: np.ndarray | None, level: float) -> np.ndarray | float:
    """The model part of the half-width from members' predictions ``[K, ...]`` (0 without)."""
    if members is None:
        return 0.0
    return predictive_factor(members.shape[0], level) * members.std(axis=0, ddof=1)


def residual_scale(result: FitResult, point: np.ndarray | None = None, level: float = INTERVAL_LEVEL, *,
                   members: np.ndarray | None = None) -> NoiseScale:
    """The noise around the model from the fitted panel's residuals (see the module docstring).
    ``point``: the fitted panel's point prediction ``[R,T]`` and ``members`` its members'
    predictions (:func:`member_predictions`) if already computed."""
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
    sig = np.broadcast_to(sigma_r[:, None], resid.shape)
    q_fit = float(np.quantile(np.abs(resid[fit_cells]) / sig[fit_cells], level)) if fit_cells.any() and pooled > 0 \
        else 0.0
    q_nat = float(np.quantile(np.abs(total[fit_weeks]) / sigma_nat, level)) if sigma_nat > 0 else 0.0
    kappa = 1.0
    if val_cells.sum() >= MIN_VALIDATION_CELLS and q_fit > 0:
        if members is None:
            members, _ = member_predictions(result)
        model = np.broadcast_to(_model_half(members, level), resid.shape)[val_cells]
        e = resid[val_cells]
        need = np.sqrt(np.maximum(e ** 2 - model ** 2, 0.0)) / (q_fit * sig[val_cells])
        kappa = max(1.0, float(np.quantile(need, level)))
    return NoiseScale(sigma_r=sigma_r, sigma_national=sigma_nat, q_cells=q_fit, q_national=q_nat, inflation=kappa,
                      level=level)


def prediction_interval(result: FitResult, panel: Panel | None = None, level: float = INTERVAL_LEVEL, *,
                        national: bool = False, point: np.ndarray | None = None,
                        members: np.ndarray | None = None) -> PredictionInterval:
    """The ``level`` prediction interval of every cell of ``panel`` (default: the fitted panel, all
    weeks) or, ``national=True``, of every week's total over the observed cells; see the module
    docstring.  ``point``: the point prediction ``[R,T]`` of ``panel`` and ``members`` its members'
    predictions ``[K,R,T]`` (:func:`member_predictions`) if already computed.  ``panel`` must be on
    the fitted model's regions and weeks grid, starting at its first week (``predict`` builds one)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, e.g. 0.9, got {level}")
    if point is None:
        point = result.point_components(panel).prediction
    if members is None:
        members, source = member_predictions(result, panel)
    else:
        source = "draws" if result.draws is not None else "seeds"
    noise_scale = residual_scale(result, point if panel is None else None, level,
                                 members=members if panel is None else None)
    mask = np.asarray((panel or result.panel).mask, bool)
    after = np.arange(mask.shape[1]) >= result.split.n_fit  # weeks after the fit block: out of sample
    kappa_t = np.where(after, noise_scale.inflation, 1.0)
    if national:
        point = (point * mask).sum(0)
        noise = noise_scale.q_national * noise_scale.sigma_national * kappa_t
        if members is not None:
            members = (members * mask).sum(1)
    else:
        noise = (noise_scale.q_cells * noise_scale.sigma_r)[:, None] * kappa_t[None, :]
    model_half = _model_half(members, level)
    half = np.sqrt(noise ** 2 + np.asarray(model_half) ** 2)
    spread = np.zeros_like(point) if members is None else members.std(axis=0, ddof=1)
    return PredictionInterval(point=point, lo=point - half, hi=point + half, model_sd=spread,
                              noise_half=np.asarray(noise, np.float64), source=source,
                              inflation=noise_scale.inflation, level=level)

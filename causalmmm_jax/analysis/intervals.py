"""Intervals for every channel quantity from the anchored draws of the structural model.

A run fitted with ``train.interval_draws = K`` holds K anchored members of its structural model
(:mod:`causalmmm_jax.train.draws`).  Each channel quantity q (contribution, incremental KPI, marginal
KPI, the response at a spend multiplier; ROI and mROI are these over spend) is computed for every
draw exactly as :func:`~.curves.roi_table` and :func:`~.curves.response_curves` compute it for the
fitted model, and the draws' spread is carried to the fitted model's estimate q̂ on the ratio scale::

    [lo, hi] = q̂ · [Q_α(q_k), Q_1−α(q_k)] / median_k(q_k)

(the draws' relative uncertainty around the full model's estimate; quantities whose draws change
sign, or whose median is 0, take the draws' spread additively: q̂ + Q(q_k) − median).  ``method="draws"``
reports the draws' own quantiles instead.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..train.result import FitResult
from .curves import _curve_array, _marginal_kpi, _scenario_data, require_level

__all__ = ["draw_result", "draw_quantities", "carry_interval", "METHODS"]

METHODS = ("ratio", "draws")


def draw_result(result: FitResult) -> FitResult:
    """``result`` with the anchored draws as its members (the structural model's ``spec``), so every
    analysis that reads ``result.params`` runs on the draws."""
    if result.draws is None:
        raise ConfigError("this run has no interval draws: fit with train.interval_draws = K (e.g. 32)")
    k = result.n_draws
    return dataclasses.replace(result, params=result.draws, spec=result.draw_spec, seeds=tuple(range(k)),
                               draws=None, metrics={})


def draw_quantities(result: FitResult, multipliers: Sequence[float] = (0.0, 1.0)) -> dict[str, np.ndarray]:
    """Per draw, over the observed training weeks (KPI units): ``contribution [K, C]``,
    ``marginal_kpi [K, C]`` (∂kpi/∂u_c at u = 1), ``curve [K, C, M]`` (scenario KPI at each of
    ``multipliers``, as :func:`~.curves.response_curves`), ``multipliers [M]``."""
    require_level(result, "intervals")
    dr = draw_result(result)
    mults = np.asarray(sorted(set(float(m) for m in multipliers)), np.float64)
    cells = result.split.train_mask(result.panel.mask).astype(np.float64)
    media = dr.components().media  # [K, R, T, C]
    contrib = (media * cells[None, :, :, None]).sum(axis=(1, 2))
    grads = np.asarray(_marginal_kpi(dr.params, *_scenario_data(dr), spec=dr.spec), np.float64)
    curve = _curve_array(dr, mults)
    return {"contribution": contrib, "marginal_kpi": grads, "curve": curve, "multipliers": mults}


def carry_interval(point, per_draw, level: float = 0.9, method: str = "ratio") -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)``: the ``level`` interval of a quantity whose fitted estimate is ``point [...]`` and
    whose draws are ``per_draw [K, ...]`` (module docstring)."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must be strictly between 0 and 1, e.g. 0.9, got {level}")
    a = np.asarray(per_draw, np.float64)
    alpha = (1.0 - level) / 2.0
    lo, med, hi = np.quantile(a, [alpha, 0.5, 1.0 - alpha], axis=0)
    if method == "draws":
        return lo, hi
    p = np.asarray(point, np.float64)
    ratio = (med != 0) & (np.sign(lo) == np.sign(med)) & (np.sign(hi) == np.sign(med))
    safe = np.where(ratio, med, 1.0)
    r_lo, r_hi = p * lo / safe, p * hi / safe
    out_lo = np.where(ratio, np.minimum(r_lo, r_hi), p + lo - med)
    out_hi = np.where(ratio, np.maximum(r_lo, r_hi), p + hi - med)
    return out_lo, out_hi

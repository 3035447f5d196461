"""Per-region seasonal profile indexed by week-of-cycle, so every week gets its calendar phase.

For each region: additive ``statsmodels.tsa.seasonal.seasonal_decompose`` of the *training* KPI
(fit block, observed weeks), keep the periodic ``seasonal`` component, min–max it to [0, 1] and
store one value per phase ``week_index mod period``.  Holdout and future weeks then look up the
phase of their calendar position (the original instead re-used the last training weeks, shifting
the holdout by 13 weeks).

Period: ``DataConfig.seasonal_period`` when set; else 52 when the fit block holds two full years
(statsmodels needs two complete cycles), else the original's fallback ``min(52, n_fit // 2)``
(48 on 96 training weeks).  A region with fewer than two cycles of observed training weeks takes
the median profile of the regions that have them; if no region has, the profile is 0 (no
seasonal term) and a warning says so.  Interior gaps in a region's training series are linearly
interpolated *for the decomposition only*; the panel and the loss never see those values.
"""

from __future__ import annotations

import warnings

import numpy as np
from flax import struct
from statsmodels.tsa.seasonal import seasonal_decompose

__all__ = ["SeasonalProfile", "fit_seasonality", "choose_period"]


@struct.dataclass
class SeasonalProfile:
    """``profile [R, period]`` in [0, 1]; ``profile[r, p]`` is region r's value at phase p."""

    profile: np.ndarray
    period: int = struct.field(pytree_node=False, default=52)

    def lookup(self, week_index) -> np.ndarray:
        """``[T]`` calendar week positions (may be negative or beyond training) → ``[R,T]``."""
        phase = np.mod(np.asarray(week_index), self.period)
        return self.profile[:, phase]

    def to_dict(self) -> dict:
        return {"profile": np.asarray(self.profile).tolist(), "period": self.period}

    @classmethod
    def from_dict(cls, d: dict) -> "SeasonalProfile":
        return cls(profile=np.asarray(d["profile"], dtype=np.float64), period=int(d["period"]))


def choose_period(n_fit: int, requested: int | None = None) -> int:
    """The seasonal period for a fit block of ``n_fit`` weeks (see module docstring)."""
    if requested is not None:
        return requested
    return 52 if n_fit >= 104 else max(2, min(52, n_fit // 2))


def _region_profile(y: np.ndarray, observed: np.ndarray, period: int) -> np.ndarray | None:
    idx = np.flatnonzero(observed)
    if idx.size == 0:
        return None
    start, stop = idx[0], idx[-1] + 1
    if stop - start < 2 * period:
        return None
    series = y[start:stop].astype(np.float64)
    obs = observed[start:stop]
    if not obs.all():  # interior gaps: interpolate for the decomposition only
        t = np.arange(stop - start)
        series = np.interp(t, t[obs], series[obs])
    seasonal = seasonal_decompose(series, model="additive", period=period).seasonal
    phases = np.mod(start + np.arange(period), period)
    prof = np.empty(period)
    prof[phases] = seasonal[:period]
    lo, hi = prof.min(), prof.max()
    return (prof - lo) / (hi - lo) if hi - lo > 1e-12 else np.full(period, 0.5)


def fit_seasonality(target: np.ndarray, fit_mask: np.ndarray, period: int | None = None) -> SeasonalProfile:
    """Fit the profile from ``target [R,T]`` on the cells where ``fit_mask [R,T]`` is True
    (observed cells of the fit block, grid week 0 = phase 0)."""
    fit_mask = np.asarray(fit_mask, dtype=bool)
    n_fit = int(np.flatnonzero(fit_mask.any(axis=0)).max(initial=-1) + 1)
    period = choose_period(n_fit, period)
    profiles = [_region_profile(target[r], fit_mask[r], period) for r in range(target.shape[0])]
    have = [p for p in profiles if p is not None]
    if not have:
        warnings.warn(
            f"no region has two full seasonal cycles ({2 * period} weeks) of training data; "
            "the model is fitted without a seasonal term.", stacklevel=2)
        fallback = np.zeros(period)
    else:
        fallback = np.median(np.stack(have), axis=0)
    prof = np.stack([p if p is not None else fallback for p in profiles])
    return SeasonalProfile(profile=prof, period=period)

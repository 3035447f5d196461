"""Contributions in KPI units: the decomposition converted, totals, shares, ROI (the accounting
``fit``'s metrics and every analysis share; :mod:`causalmmm_jax.analysis.contributions` adds tables).

The model decomposes the *scaled* KPI; multiplying each component by the region's training
mean ȳ_r gives KPI units.  The accounting is done in float64 on the host and the KPI-unit
prediction is defined as the sum of its components, so Σ components = prediction exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Components", "original_units", "component_totals", "channel_table", "COMPONENTS"]

COMPONENTS = ("media", "controls", "baseline", "seasonality", "trend")


@dataclass(frozen=True)
class Components:
    """float64 KPI-unit components; optional leading member axis ``[N]``.

    media ``[..., R,T,C]``, controls ``[..., R,T,K]``, baseline/seasonality/trend/prediction ``[..., R,T]``.
    """

    media: np.ndarray
    controls: np.ndarray
    baseline: np.ndarray
    seasonality: np.ndarray
    trend: np.ndarray

    @property
    def prediction(self) -> np.ndarray:
        return self.media.sum(-1) + self.controls.sum(-1) + self.baseline + self.seasonality + self.trend

    def member(self, i: int) -> "Components":
        """Member ``i`` of components with a leading member axis."""
        return Components(*(getattr(self, k)[i] for k in COMPONENTS))

    def mean(self) -> "Components":
        """Mean over the member axis (the ensemble's point estimate)."""
        return Components(*(getattr(self, k).mean(axis=0) for k in COMPONENTS))


def original_units(decomposition, target_mean: np.ndarray) -> Components:
    """Scaled :class:`~causalmmm_jax.model.Decomposition` (padding removed) → KPI units."""
    tm = np.asarray(target_mean, dtype=np.float64)

    def conv(a, extra_axis: bool):
        a = np.asarray(a, dtype=np.float64)
        return a * (tm[:, None, None] if extra_axis else tm[:, None])

    return Components(media=conv(decomposition.media, True), controls=conv(decomposition.controls, True),
                      baseline=conv(decomposition.baseline, False),
                      seasonality=conv(decomposition.seasonality, False), trend=conv(decomposition.trend, False))


def component_totals(c: Components, cells: np.ndarray) -> dict[str, float]:
    """Totals over ``cells [R,T]`` of each component group and of the prediction."""
    w = np.asarray(cells, dtype=np.float64)
    out = {"media": float((c.media.sum(-1) * w).sum()), "controls": float((c.controls.sum(-1) * w).sum()),
           "baseline": float((c.baseline * w).sum()), "seasonality": float((c.seasonality * w).sum()),
           "trend": float((c.trend * w).sum())}
    out["prediction"] = float((c.prediction * w).sum())
    return out


def channel_table(c: Components, cells: np.ndarray, channels, spend: np.ndarray | None = None,
                  media_raw: np.ndarray | None = None) -> pd.DataFrame:
    """Per channel over ``cells``: contribution, share of media, spend, ROI (contribution/spend),
    cost per incremental KPI, and effect per 1,000 exposure units."""
    w = np.asarray(cells, dtype=np.float64)[..., None]
    contrib = (c.media * w).sum(axis=(0, 1))
    tot = contrib.sum()
    df = pd.DataFrame({"channel": list(channels), "contribution": contrib,
                       "share": contrib / tot if tot != 0 else np.zeros_like(contrib)})
    if spend is not None:
        sp = (np.asarray(spend) * w).sum(axis=(0, 1))
        df["spend"] = sp
        with np.errstate(divide="ignore", invalid="ignore"):
            df["roi"] = np.where(sp > 0, contrib / sp, np.nan)
            df["cost_per_kpi"] = np.where(contrib > 0, sp / contrib, np.nan)
    if media_raw is not None:
        ex = (np.asarray(media_raw) * w).sum(axis=(0, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            df["effect_per_1000"] = np.where(ex > 0, 1000.0 * contrib / ex, np.nan)
    return df

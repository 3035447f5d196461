"""Contributions in KPI units: the accounting of :mod:`causalmmm_jax.train.components` (re-exported
here), the long per-region, per-week table of the run directory's contributions.csv and the
prediction table of its predictions.csv.

The model decomposes the *scaled* KPI; multiplying each component by the region's training
mean ȳ_r gives KPI units.  The accounting is done in float64 on the host and the KPI-unit
prediction is defined as the sum of its components, so Σ components = prediction exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..train.components import (
    COMPONENTS,
    Components,
    channel_table,
    component_totals,
    original_units,
)

__all__ = ["Components", "original_units", "component_totals", "channel_table", "long_table", "prediction_table",
           "COMPONENTS"]


def long_table(c: Components, regions, times, channels, control_names, cells: np.ndarray) -> pd.DataFrame:
    """Long format ``region, time, component, value`` over ``cells`` (every channel, every control,
    baseline, seasonality, trend, and the prediction)."""
    r_idx, t_idx = np.nonzero(cells)
    parts = [(name, c.media[r_idx, t_idx, i]) for i, name in enumerate(channels)]
    parts += [(name, c.controls[r_idx, t_idx, i]) for i, name in enumerate(control_names)]
    parts += [("baseline", c.baseline[r_idx, t_idx]), ("seasonality", c.seasonality[r_idx, t_idx]),
              ("trend", c.trend[r_idx, t_idx]), ("prediction", c.prediction[r_idx, t_idx])]
    regions, times = np.asarray(regions), np.asarray(times)
    n = len(r_idx)
    return pd.DataFrame({
        "region": np.tile(regions[r_idx], len(parts)),
        "time": np.tile(times[t_idx], len(parts)),
        "component": np.repeat([p[0] for p in parts], n),
        "value": np.concatenate([p[1] for p in parts]),
    })


def prediction_table(result) -> pd.DataFrame:
    """Every observed cell of the fitted panel: ``region, time, split`` (fit / validation / holdout),
    ``actual``, ``prediction`` and its 90 % prediction interval ``prediction_q05``, ``prediction_q95``
    (:func:`causalmmm_jax.train.predictive.prediction_interval`)."""
    from ..train.predictive import prediction_interval

    panel, split = result.panel, result.split
    pi = prediction_interval(result)
    mask = np.asarray(panel.mask, bool)
    part = np.where(split.fit_mask(mask), "fit", np.where(split.val_mask(mask), "validation", "holdout"))
    r_idx, t_idx = np.nonzero(mask)
    return pd.DataFrame({
        "region": np.asarray(panel.regions)[r_idx], "time": np.asarray(panel.times)[t_idx],
        "split": part[r_idx, t_idx], "actual": np.asarray(panel.target, np.float64)[r_idx, t_idx],
        "prediction": pi.point[r_idx, t_idx], "prediction_q05": pi.lo[r_idx, t_idx],
        "prediction_q95": pi.hi[r_idx, t_idx]})

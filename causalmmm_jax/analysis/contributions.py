"""Contributions in KPI units: the accounting of :mod:`causalmmm_jax.train.components` (re-exported
here) and the long per-region, per-week table of the run directory's contributions.csv.

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

__all__ = ["Components", "original_units", "component_totals", "channel_table", "long_table", "COMPONENTS"]


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

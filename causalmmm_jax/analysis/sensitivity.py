"""How a sweep's points differ in what a marketer reads: each channel's contribution, share of media,
ROI, incremental ROI and marginal ROI per point, and their spread over the grid.

A sweep over prior scales (``train.transform_prior_weight``, ``train.hill_g_prior_sd``,
``train.media_share_weight``, ...) is a prior-sensitivity analysis: a channel whose ROI moves a lot
while the holdout fit stays the same is set by the prior, not by the data (docs/concepts.md §9).
``train.hill_g_prior_sd`` is the half-saturation prior of the channels the data see only near
today's spend (always-on); sweep ``train.hill_g_prior_sd_flighted`` for the flighted ones::

    sw = causalmmm_jax.sweep(panel, config, over={"train.transform_prior_weight": [0.1, 1.0, 10.0]})
    table = sensitivity_table(sw)         # one row per point and channel
    summary = sensitivity_summary(table)  # one row per channel: range over the points
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["sensitivity_table", "sensitivity_summary", "SENSITIVITY_COLUMNS"]

#: the per-channel quantities compared across points (those a run has)
SENSITIVITY_COLUMNS = ("contribution", "share", "roi", "incremental_roi", "mroi")


def sensitivity_table(sweep_result) -> pd.DataFrame:
    """One row per grid point × channel: the point's swept values, ``point`` (its index), the holdout
    R² and RMSE, then ``channel`` and its ``contribution`` (KPI units over the observed training
    weeks), ``share`` (of the media contribution), ``roi`` (contribution per unit of spend) and, for
    level-scaled runs, ``incremental_roi`` and ``mroi`` (see ``roi_table``); member means for
    ensembles."""
    from .curves import roi_table

    rows = []
    for i, (values, r) in enumerate(zip(sweep_result.points, sweep_result.results)):
        level = r.scaler.media_mode == "level" and r.panel.spend is not None
        extra = roi_table(r).set_index("channel") if level else None
        for ch, v in r.metrics["channels"].items():
            row = {"point": i, **values, "holdout_r2": r.metrics["holdout"]["r2"],
                   "holdout_rmse": r.metrics["holdout"]["rmse"], "channel": ch,
                   "contribution": v.get("contribution", np.nan), "share": v.get("share", np.nan),
                   "roi": v.get("roi", np.nan)}
            if extra is not None:
                row["incremental_roi"] = float(extra.loc[ch, "incremental_roi"])
                row["mroi"] = float(extra.loc[ch, "mroi"])
            rows.append(row)
    return pd.DataFrame(rows)


def sensitivity_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per channel: for each quantity of :data:`SENSITIVITY_COLUMNS` in ``table``, its
    ``<q>_min``, ``<q>_max`` and ``<q>_spread`` (max/min − 1 for positive values, NaN otherwise)
    over the grid points, and ``holdout_rmse_spread`` (how much the fit itself moved)."""
    out = []
    rmse = table.groupby("point")["holdout_rmse"].first()
    fit_spread = float(rmse.max() / rmse.min() - 1.0) if (rmse > 0).all() else np.nan
    for ch, g in table.groupby("channel", sort=False):
        row = {"channel": ch, "points": int(g["point"].nunique())}
        for q in SENSITIVITY_COLUMNS:
            if q not in g:
                continue
            lo, hi = float(g[q].min()), float(g[q].max())
            row[f"{q}_min"], row[f"{q}_max"] = lo, hi
            row[f"{q}_spread"] = hi / lo - 1.0 if lo > 0 else np.nan
        row["holdout_rmse_spread"] = fit_spread
        out.append(row)
    return pd.DataFrame(out)

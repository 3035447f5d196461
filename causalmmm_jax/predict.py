"""Predict and forecast with a fitted model, continuing the fitted sequence (no cold start).

The model is recurrent (GRU state, adstock carry-over), so a week's prediction depends on the
weeks before it.  ``predict`` therefore lays the new rows onto the fitted history: the sequence
runs from the first fitted week to the last requested week; weeks present in the new data use
the new media/controls (a scenario or a media plan), the other weeks keep the fitted panel's
values (zero media beyond it).  Only the requested (region, week) rows are returned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data.load import panel_from_frame
from .data.panel import ColumnMapping, Panel
from .errors import DataError
from .train.predictive import prediction_interval
from .train.result import FitResult

__all__ = ["predict", "week_offsets", "load_prediction_panel"]


def week_offsets(fitted_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Calendar positions of ``times`` on the fitted grid (week 0 = first fitted week)."""
    t0 = fitted_times[0]
    if np.issubdtype(fitted_times.dtype, np.datetime64) != np.issubdtype(np.asarray(times).dtype, np.datetime64):
        raise DataError("the time column of the new data is not of the same kind as the fitted data's "
                        "(dates vs integer weeks); use the same format as in the fit.")
    if np.issubdtype(fitted_times.dtype, np.datetime64):
        step = (fitted_times[1] - fitted_times[0]) if len(fitted_times) > 1 else np.timedelta64(7, "D")
        pos = (np.asarray(times, dtype="datetime64[ns]") - t0) / step
    else:
        pos = np.asarray(times, dtype=np.float64) - float(t0)
    if np.any(np.abs(pos - np.round(pos)) > 1e-9):
        raise DataError("some weeks of the new data are not on the fitted time grid (same step as the fit); "
                        f"first fitted week {t0}.")
    pos = np.round(pos).astype(np.int64)
    if np.any(pos < 0):
        raise DataError(f"the new data has weeks before the first fitted week ({t0}); the model continues the "
                        "fitted sequence forwards only. Drop those rows.")
    return pos


def load_prediction_panel(data, mapping: ColumnMapping | None, missing_media: str = "error") -> Panel:
    """A Panel from a path, DataFrame or Panel (``mapping`` required but for a Panel); a missing
    target column (future weeks) is allowed."""
    if isinstance(data, Panel):
        return data
    if mapping is None:
        raise DataError("no column mapping: pass mapping=ColumnMapping(...) (the fit was run without one).")
    import warnings

    from .data.load import read_csv
    from .data.validate import DataWarning

    df = read_csv(data) if not isinstance(data, pd.DataFrame) else data
    if mapping.target not in df.columns:  # future weeks: no KPI yet
        df = df.assign(**{mapping.target: 0.0})
    with warnings.catch_warnings():  # the constant-target warning concerns fitting, not predicting
        warnings.simplefilter("ignore", DataWarning)
        return panel_from_frame(df, mapping, missing_media=missing_media)


def _combined(result: FitResult, new: Panel, r_idx: np.ndarray, pos: np.ndarray) -> Panel:
    fp = result.panel
    n_t = max(fp.n_weeks, int(pos.max()) + 1)

    def grow(a):
        out = np.zeros((a.shape[0], n_t) + a.shape[2:], dtype=a.dtype)
        out[:, : a.shape[1]] = a
        return out

    media, controls, target, mask = grow(fp.media), grow(fp.controls), grow(fp.target), grow(fp.mask)
    spend = None if fp.spend is None else grow(fp.spend)
    rr, tt = np.nonzero(new.mask)
    gr, gt = r_idx[rr], pos[tt]
    media[gr, gt] = new.media[rr, tt]
    controls[gr, gt] = new.controls[rr, tt]
    target[gr, gt] = new.target[rr, tt]
    mask[gr, gt] = True
    if spend is not None and new.spend is not None:
        spend[gr, gt] = new.spend[rr, tt]
    if np.issubdtype(fp.times.dtype, np.datetime64):
        step = (fp.times[1] - fp.times[0]) if len(fp.times) > 1 else np.timedelta64(7, "D")
        times = fp.times[0] + step * np.arange(n_t)
    else:
        times = fp.times[0] + np.arange(n_t)
    return Panel(media=media, controls=controls, target=target, mask=mask, regions=fp.regions, times=times,
                 channels=fp.channels, control_names=fp.control_names, target_name=fp.target_name, spend=spend,
                 spend_columns=fp.spend_columns)


def predict(result: FitResult, data, mapping: ColumnMapping | None = None) -> pd.DataFrame:
    """Predictions and components (KPI units) for every row of ``data``.

    Args:
        result: a fitted :class:`~causalmmm_jax.train.fit.FitResult` (or loaded model).
        data: a CSV path, DataFrame or Panel with the fit's columns (the target may be absent).
        mapping: column mapping; default: the one used for the fit.
    Returns:
        One row per (region, week): region, time, ``prediction``, one column per media channel and
        control, ``baseline``, ``seasonality``, ``trend``, and ``prediction_q05``/``prediction_q95``: the 90 %
        prediction interval of the KPI (the model's uncertainty from the interval draws or the seed
        ensemble, and the noise around the model; :mod:`causalmmm_jax.train.predictive`).
    """
    mapping = mapping or result.mapping
    if mapping is None and not isinstance(data, Panel):
        raise DataError("no column mapping: pass mapping=ColumnMapping(...) (the fit was run without one).")
    new = load_prediction_panel(data, mapping, result.config.data.missing_media)
    fp = result.panel
    if tuple(new.channels) != tuple(fp.channels) or tuple(new.control_names) != tuple(fp.control_names):
        raise DataError(f"the new data's media/control columns {list(new.channels) + list(new.control_names)} differ "
                        f"from the fitted model's {list(fp.channels) + list(fp.control_names)}; use the same columns.")
    lookup = {r: i for i, r in enumerate(fp.regions.tolist())}
    unknown = [r for r in new.regions.tolist() if r not in lookup]
    if unknown:
        raise DataError(f"region(s) {unknown[:10]} of column '{mapping.region if mapping else 'region'}' were not in "
                        "the fitted data; the model has no baseline for them. Drop those rows or re-fit.")
    r_idx = np.array([lookup[r] for r in new.regions.tolist()], dtype=np.int64)
    pos = week_offsets(fp.times, new.times)
    comb = _combined(result, new, r_idx, pos)
    comps = result.components(comb)
    point = comps.mean()
    rr, tt = np.nonzero(new.mask)
    gr, gt = r_idx[rr], pos[tt]
    out = {"region": new.regions[rr], "time": new.times[tt], "prediction": point.prediction[gr, gt]}
    for i, ch in enumerate(fp.channels):
        out[ch] = point.media[gr, gt, i]
    for i, k in enumerate(fp.control_names):
        out[k] = point.controls[gr, gt, i]
    out.update(baseline=point.baseline[gr, gt], seasonality=point.seasonality[gr, gt], trend=point.trend[gr, gt])
    pi = prediction_interval(result, comb, point=point.prediction)
    out["prediction_q05"], out["prediction_q95"] = pi.lo[gr, gt], pi.hi[gr, gt]
    return pd.DataFrame(out)

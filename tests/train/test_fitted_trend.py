"""The fitted knot trend (default ``model.trend="knots"``) on the shared small fit: knots over the
training weeks, piecewise linear between them, centred, and flat after the last knot — through
the holdout weeks and into a forecast beyond the data (``predict``)."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from causalmmm_jax.model.mmm import knot_count
from causalmmm_jax.predict import predict


def _fitted_trend(result):
    """``(trend [R, T] scaled, knot weeks, centred knot values × scale)`` of a single-seed fit."""
    spacing = result.spec.config.trend_knot_weeks
    kappa = np.asarray(result.member(0)["trend_knots"], np.float64)
    s = float(jax.nn.softplus(result.member(0)["prediction_scale"]))
    trend = np.asarray(result.decompose().trend[0], np.float64)
    return trend, spacing * np.arange(len(kappa)), s * (kappa - kappa.mean())


def test_knots_cover_the_training_weeks(small_fit):
    r = small_fit
    assert r.config.model.trend == "knots"
    spacing = r.spec.config.trend_knot_weeks
    assert r.spec.n_knots == knot_count(r.split.n_train, spacing) > 1
    assert np.asarray(r.member(0)["trend_knots"]).shape == (r.spec.n_knots,)
    last = (r.spec.n_knots - 1) * spacing
    assert last <= r.split.n_train - 1 < last + spacing  # the last knot lies in the training block


def test_fitted_trend_is_piecewise_linear_centred_and_flat_after_the_last_knot(small_fit):
    r = small_fit
    trend, knot_weeks, values = _fitted_trend(r)
    weeks = np.arange(r.panel.n_weeks)
    assert r.pad == 0 and trend.shape == (r.panel.n_regions, r.panel.n_weeks)
    np.testing.assert_allclose(trend, np.broadcast_to(trend[0], trend.shape), rtol=1e-6)  # national
    assert np.ptp(trend[0]) > 1e-4  # the fit moved the knots: the checks below can fail
    np.testing.assert_allclose(trend[0], np.interp(weeks, knot_weeks, values), rtol=1e-4, atol=1e-6)
    assert abs(trend[0][knot_weeks].mean()) < 1e-6  # centred over the knots
    # flat from the last knot on: the rest of the training block and every holdout week
    after = weeks >= knot_weeks[-1]
    assert after[r.split.n_train:].all() and after.sum() > r.split.n_holdout
    np.testing.assert_allclose(trend[0][after], trend[0][knot_weeks[-1]], rtol=1e-6)
    assert np.abs(np.diff(trend[0][~after])).max() > 0  # ... but not before it


def test_forecast_beyond_the_data_keeps_the_last_trend_level(small_fit, small_data):
    """``predict`` on 4 weeks after the fitted panel: the trend of every future week is each region's
    trend at the last fitted week (KPI units: the national level × the region's KPI mean)."""
    r = small_fit
    last = pd.Timestamp(r.panel.times[-1])
    frame = small_data.frame
    plan = frame[frame["week"] == frame["week"].max()].drop(columns=["kpi"])
    future = pd.concat([plan.assign(week=last + pd.Timedelta(weeks=k)) for k in range(1, 5)])
    pred = predict(r, future)
    assert len(pred) == len(future)
    level = r.point_components().trend[:, -1]
    want = dict(zip(r.panel.regions.tolist(), level))
    np.testing.assert_allclose(pred["trend"], [want[g] for g in pred["region"]], rtol=1e-5)
    assert pred.groupby("region")["trend"].nunique().max() == 1
    assert np.abs(level).max() > 0

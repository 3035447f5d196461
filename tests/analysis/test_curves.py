"""Hill fits, model-based response curves (vs the planted truth), ROI / marginal ROI, additivity."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from causalmmm_jax.analysis._jaxopt import use_fallback
from causalmmm_jax.analysis.curves import curve_params, fit_hill, hill, posthoc_curves, response_curves, roi_table
from causalmmm_jax.errors import ConfigError, UserError

MAIN = ("impressions_tv", "impressions_search", "impressions_social", "impressions_display")
NULL = "impressions_null_radio"


# --------------------------------------------------------------------------- Hill fit

@pytest.mark.parametrize("fallback", [False, True])
@pytest.mark.parametrize("true", [(1200.0, 0.0, 1800.0, 2.2), (5e5, 3e3, 40.0, 0.8), (80.0, -5.0, 0.3, 1.0)])
def test_hill_fit_recovers_clean_curve(true, fallback):
    top, bottom, half, slope = true
    x = np.linspace(0, 3 * half, 12)
    y = hill(x, top, bottom, half, slope)
    with use_fallback(fallback):
        fit = fit_hill(x, y)
    assert fit["r2"] >= 0.95
    assert fit["r2"] > 0.9999
    assert fit["half_saturation"] == pytest.approx(half, rel=1e-3)
    assert fit["slope"] == pytest.approx(slope, rel=1e-3)
    assert fit["top"] == pytest.approx(top, rel=1e-3)
    assert fit["bottom"] == pytest.approx(bottom, abs=1e-3 * abs(top - bottom))


def test_hill_fit_noisy_and_fixed_bottom():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(100, 6000, 60))
    y = hill(x, 1000.0, 0.0, 2000.0, 1.5)
    fit = fit_hill(x, y + rng.normal(0, 10, x.size))
    assert fit["r2"] >= 0.95
    assert fit["half_saturation"] == pytest.approx(2000.0, rel=0.1)
    fixed = fit_hill(x, y, fix_bottom=True)
    assert fixed["bottom"] == 0.0 and fixed["r2"] > 0.9999


def test_hill_fit_degenerate_inputs():
    assert np.isnan(fit_hill([0, 0, 0], [1, 2, 3])["r2"])
    assert np.isnan(fit_hill([1, 2], [1, 2])["top"])
    flat = fit_hill(np.arange(1, 10.0), np.full(9, 3.0))
    assert np.isnan(flat["r2"])  # constant y: R² undefined


# --------------------------------------------------------------------------- model curves

@pytest.fixture(scope="module")
def curves(fitted):
    return response_curves(fitted, [0.0, 0.5, 1.0, 1.5, 2.0])


def test_curve_table_shape(fitted, curves):
    assert list(curves.columns) == ["channel", "multiplier", "spend", "exposure", "kpi", "incremental", "change"]
    assert len(curves) == 5 * fitted.panel.n_channels
    one = curves[curves.multiplier == 1.0].set_index("channel")
    # at 1× every channel's scenario is the fitted model itself
    assert np.ptp(one["kpi"].to_numpy()) < 1e-6 * one["kpi"].mean()
    pred = fitted.decompose().prediction * fitted.scaler.target_mean[:, None]
    cells = fitted.split.train_mask(fitted.panel.mask)
    assert one["kpi"].iloc[0] == pytest.approx(float((np.asarray(pred, np.float64) * cells).sum()), rel=1e-5)
    spend = (fitted.panel.spend * cells[..., None]).sum(axis=(0, 1))
    assert one.loc[list(fitted.panel.channels), "spend"].to_numpy() == pytest.approx(spend)
    zero = curves[curves.multiplier == 0.0]
    assert (zero["incremental"] == 0).all() and (zero["spend"] == 0).all()


@pytest.mark.slow
def test_curves_track_truth_in_aggregate(curves, truth_train):
    """Σ over the main channels of the model's KPI change at 0× and 2× is within 25 % of the truth;
    the null channel's curve is flat compared with the others."""
    k = curves.set_index(["channel", "multiplier"])["kpi"]
    for m in (0.0, 2.0):
        model = sum(k[(ch, m)] - k[(ch, 1.0)] for ch in MAIN)
        truth = sum(truth_train[ch][m] for ch in MAIN)
        assert abs(model - truth) <= 0.25 * abs(truth), (m, model, truth)
        null_change = abs(k[(NULL, m)] - k[(NULL, 1.0)])
        main_changes = [abs(k[(ch, m)] - k[(ch, 1.0)]) for ch in MAIN]
        assert null_change < 0.1 * np.mean(main_changes), (m, null_change, main_changes)


@pytest.mark.slow
def test_curves_track_truth_per_channel(curves, truth_train):
    """Per main channel: KPI change at 0× and 2× within 25 % of the true change.

    Measured (hidden 32, 1500 epochs, seed 42, default configuration): tv +10/+7 %, search
    +17/+12 %, social −5/+13 %, display −5/+3 % (0×/2×).  Before the structural pre-fit and the
    knot trend social was +26 % at 0×; before the Hill priors tv −41 %, social +45 %."""
    k = curves.set_index(["channel", "multiplier"])["kpi"]
    errors = {(ch, m): (k[(ch, m)] - k[(ch, 1.0)] - truth_train[ch][m]) / abs(truth_train[ch][m])
              for ch in MAIN for m in (0.0, 2.0)}
    bad = {key: round(v, 3) for key, v in errors.items() if abs(v) > 0.25}
    assert not bad, bad


def test_curve_params_fit_the_model_curves(fitted, curves):
    params = curve_params(fitted, curves)
    assert list(params.columns) == ["channel", "top", "bottom", "half_saturation", "slope", "r2", "x_unit",
                                    "current_weekly"]
    assert (params["x_unit"] == "weekly_spend").all()
    main = params[params.channel.isin(MAIN)]
    assert (main["r2"] >= 0.95).all(), main
    n = fitted.split.n_train
    for row in main.itertuples():
        sub = curves[curves.channel == row.channel]
        pred = hill(sub["spend"].to_numpy() / n, row.top, row.bottom, row.half_saturation, row.slope) * n
        scale = np.abs(sub["incremental"]).max()
        assert np.abs(pred - sub["incremental"].to_numpy()).max() < 0.05 * scale


def test_posthoc_curves(fitted):
    df = posthoc_curves(fitted)
    assert list(df.columns) == ["channel", "top", "bottom", "half_saturation", "slope", "r2", "n_weeks"]
    assert (df["bottom"].fillna(0) == 0).all()
    assert (df["n_weeks"] >= 10).all()
    assert df.loc[df.channel.isin(MAIN), "r2"].notna().all()


def test_multiplier_validation(fitted):
    with pytest.raises(ConfigError):
        response_curves(fitted, [-1.0, 1.0])
    with pytest.raises(ConfigError):
        response_curves(fitted, [])


def test_sov_model_is_refused(fitted):
    sov = dataclasses.replace(fitted, scaler=dataclasses.replace(fitted.scaler, media_mode="sov"))
    for fn in (response_curves, roi_table):
        with pytest.raises(UserError, match="media_scaling"):
            fn(sov)


# --------------------------------------------------------------------------- ROI / mROI

def test_roi_table(fitted, curves):
    t = roi_table(fitted).set_index("channel")
    cells = fitted.split.train_mask(fitted.panel.mask)
    spend = (fitted.panel.spend * cells[..., None]).sum(axis=(0, 1))
    np.testing.assert_allclose(t["roi"], t["contribution"] / spend, rtol=1e-12)
    np.testing.assert_allclose(t["mroi"], t["marginal_kpi"] / spend, rtol=1e-12)
    np.testing.assert_allclose(t["cost_per_kpi"], spend / t["contribution"], rtol=1e-12)
    np.testing.assert_allclose(t["effect_per_1000"], 1000 * t["contribution"] / t["exposure"], rtol=1e-12)
    # contributions match the run's metrics (same accounting)
    for ch in fitted.panel.channels:
        assert t.loc[ch, "contribution"] == pytest.approx(fitted.metrics["channels"][ch]["contribution"], rel=1e-9)
    # incremental = kpi(1) − kpi(0) from the curves
    k = curves.set_index(["channel", "multiplier"])["kpi"]
    for ch in fitted.panel.channels:
        # float32 totals of ~1e8 KPI units: a different batch shape changes the last digits
        assert t.loc[ch, "incremental"] == pytest.approx(k[(ch, 1.0)] - k[(ch, 0.0)], abs=1e-6 * k[(ch, 1.0)])


def test_marginal_kpi_matches_finite_difference(fitted):
    """∂kpi/∂u at u = 1 (jax.grad) equals a central difference of the model curve."""
    t = roi_table(fitted).set_index("channel")
    h = 0.05
    fd = response_curves(fitted, [1 - h, 1 + h]).set_index(["channel", "multiplier"])["kpi"]
    for ch in MAIN:
        slope = (fd[(ch, 1 + h)] - fd[(ch, 1 - h)]) / (2 * h)
        assert t.loc[ch, "marginal_kpi"] == pytest.approx(slope, rel=0.02)


def test_ensemble_bands(ensemble):
    t = roi_table(ensemble)
    for name in ("contribution", "roi", "mroi", "incremental"):
        assert {f"{name}_q05", f"{name}_q95"} <= set(t.columns)
        assert (t[f"{name}_q05"] <= t[name] + 1e-9).all() and (t[name] <= t[f"{name}_q95"] + 1e-9).all()
    assert (t["contribution_q95"] > t["contribution_q05"]).all()
    c = response_curves(ensemble, [0.0, 1.0])
    assert {"kpi_q05", "kpi_q95"} <= set(c.columns)
    assert (c["kpi_q05"] < c["kpi_q95"]).all()


def test_contributions_additive_in_kpi_units(fitted, ensemble):
    """Σ components (KPI units) = the model's prediction × ȳ_r, relative error ≤ 1e-6."""
    from causalmmm_jax.analysis.contributions import original_units

    for res in (fitted, ensemble):
        d = res.decompose()
        comps = original_units(d, res.scaler.target_mean)
        pred = np.asarray(d.prediction, np.float64) * res.scaler.target_mean[:, None]
        total = comps.media.sum(-1) + comps.controls.sum(-1) + comps.baseline + comps.seasonality + comps.trend
        assert np.max(np.abs(total - pred)) / np.max(np.abs(pred)) <= 1e-6
        np.testing.assert_array_equal(total, comps.prediction)

"""Scaling and seasonality: parity with the original, round trips, calendar-phase alignment."""

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from causalmmm_jax.config import DataConfig
from causalmmm_jax.data.panel import Panel
from causalmmm_jax.data.scaling import fit_scaler, inverse_controls, inverse_media, inverse_target, transform
from causalmmm_jax.data.seasonality import choose_period, fit_seasonality

FIX = Path(__file__).parents[1] / "fixtures"


def panel_from(media, controls, target, mask=None):
    r, t, c = media.shape
    return Panel(media=media, controls=controls, target=target,
                 mask=np.ones((r, t), bool) if mask is None else mask, regions=np.arange(r), times=np.arange(t),
                 channels=tuple(f"m{i}" for i in range(c)), control_names=tuple(f"k{i}" for i in range(controls.shape[2])),
                 target_name="y")


def test_original_scaler_parity():
    d = np.load(FIX / "parity_scaler.npz")
    p = panel_from(d["in/Xm"].astype(np.float64), d["in/Xc"].astype(np.float64), d["in/y"].astype(np.float64))
    cfg = DataConfig(media_scaling="sov", control_iqr="multiply", control_clip=float(d["out/clip_range"]))
    st_ = fit_scaler(p, p.mask, cfg)
    m, c, y = transform(st_, p.media, p.controls, p.target)
    np.testing.assert_allclose(m, d["out/Xm"], rtol=1e-5, atol=1e-7)  # SOV, 1/C in the all-zero row
    np.testing.assert_allclose(y, d["out/y"], rtol=1e-5)
    np.testing.assert_allclose(st_.target_mean, d["out/y_mean_per_region"][:, 0], rtol=1e-6)
    np.testing.assert_allclose(st_.control_scale, d["out/control_scale"], rtol=1e-5)  # IQR x 1.349
    # torch.median takes the lower middle value; NumPy averages the two: the only difference
    np.testing.assert_allclose(st_.control_center, d["out/control_median"], atol=float(np.ptp(p.controls)) * 0.05)
    c2 = transform(st_.replace(control_center=d["out/control_median"].astype(np.float64)), p.media, p.controls)[1]
    np.testing.assert_allclose(c2, d["out/Xc"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(inverse_target(st_, y), d["out/y_inverse"], rtol=1e-5)


def test_level_scaling_keeps_the_media_level():
    rng = np.random.default_rng(0)
    media = rng.uniform(0, 100, (3, 20, 2))
    p = panel_from(media, rng.normal(size=(3, 20, 1)), rng.uniform(1, 2, (3, 20)))
    s = fit_scaler(p, p.mask, DataConfig())
    a = transform(s, media, p.controls)[0]
    b = transform(s, 2 * media, p.controls)[0]
    np.testing.assert_allclose(b, 2 * a)  # doubling media doubles the input (SOV would not change)
    sov = fit_scaler(p, p.mask, DataConfig(media_scaling="sov"))
    np.testing.assert_allclose(transform(sov, 2 * media, p.controls)[0], transform(sov, media, p.controls)[0])


def test_scaler_fits_on_fit_cells_only():
    rng = np.random.default_rng(1)
    p = panel_from(rng.uniform(1, 2, (2, 30, 2)), rng.normal(size=(2, 30, 1)), rng.uniform(1, 2, (2, 30)))
    fit = np.zeros((2, 30), bool)
    fit[:, :20] = True
    s1 = fit_scaler(p, fit, DataConfig())
    target = p.target.copy()
    target[:, 20:] *= 1000  # holdout values must not leak into the fitted state
    s2 = fit_scaler(panel_from(p.media, p.controls, target), fit, DataConfig())
    np.testing.assert_array_equal(s1.target_mean, s2.target_mean)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(3, 12), st.integers(1, 3), st.integers(0, 2), st.integers(0, 10_000),
       st.floats(1e-3, 1e6))
def test_round_trip_on_observed_cells(r, t, c, k, seed, scale):
    rng = np.random.default_rng(seed)
    media = rng.uniform(0, scale, (r, t, c)) * (rng.uniform(size=(r, t, c)) > 0.2)
    controls = rng.normal(size=(r, t, k)) * scale
    target = rng.uniform(0.5, 2.0, (r, t)) * scale
    mask = rng.uniform(size=(r, t)) > 0.2
    mask[:, 0] = True
    p = panel_from(media * mask[..., None], controls * mask[..., None], target * mask, mask)
    s = fit_scaler(p, mask, DataConfig(control_clip=1e9))
    m, z, y = transform(s, p.media, p.controls, p.target, mask)
    np.testing.assert_allclose(inverse_media(s, m)[mask], p.media[mask], rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(inverse_controls(s, z)[mask], p.controls[mask], rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(inverse_target(s, y)[mask], p.target[mask], rtol=1e-9)
    assert np.all(m[~mask] == 0) and np.all(z[~mask] == 0) and np.all(y[~mask] == 0)


def test_original_seasonality_parity():
    d = np.load(FIX / "parity_seasonality.npz")
    for y, s, period in ((d["in/y_orig"], d["out/S"], int(d["out/period"])),
                         (d["in/y_long_orig"], d["out/S_long"], int(d["out/period_long"]))):
        prof = fit_seasonality(y, np.ones(y.shape, bool))
        assert prof.period == period
        np.testing.assert_allclose(prof.lookup(np.arange(y.shape[1])), s, atol=2e-6)


def test_holdout_weeks_get_their_calendar_phase():
    t = np.arange(156)
    sine = np.sin(2 * np.pi * t / 52)
    rng = np.random.default_rng(0)
    y = np.stack([1000 + 100 * sine + 2 * t + rng.normal(0, 1, t.size) for _ in range(2)])
    fit = np.zeros(y.shape, bool)
    fit[:, :120] = True
    prof = fit_seasonality(y, fit)
    assert prof.period == 52
    expected = (sine - sine.min()) / (sine.max() - sine.min())
    got = prof.lookup(t[120:])
    assert np.abs(got - expected[120:]).max() < 0.05  # holdout weeks 120..155 in phase with the sine
    assert choose_period(96) == 48 and choose_period(104) == 52 and choose_period(60, 13) == 13


def test_short_regions_take_the_median_profile():
    t = np.arange(120)
    y = np.stack([100 + 10 * np.sin(2 * np.pi * t / 52)] * 3)
    fit = np.ones(y.shape, bool)
    fit[2, :90] = False  # region 2 has only 30 training weeks
    prof = fit_seasonality(y, fit)
    np.testing.assert_allclose(prof.profile[2], np.median(prof.profile[:2], axis=0))

"""Tests of the synthetic panel generator with planted ground truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.data.panel import ColumnMapping
from causalmmm_jax.data.synthetic import (
    COUNTERFACTUAL_MULTIPLIERS,
    SyntheticData,
    counterfactual,
    generate,
    true_kpi,
    write_csv,
)
from causalmmm_jax.errors import ConfigError

SMALL = dict(n_regions=6, n_weeks=60)


@pytest.fixture(scope="module")
def default():
    return generate(0)


@pytest.fixture(scope="module")
def small_missing():
    return generate(3, missing_cells=25, **SMALL)


def _truth_equal(a, b):
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        elif f.name == "params":
            assert va.keys() == vb.keys()
            for k in va:
                if isinstance(va[k], np.ndarray):
                    np.testing.assert_array_equal(va[k], vb[k])
                else:
                    assert va[k] == vb[k], k
        else:
            assert va == vb, f.name


def test_determinism():
    a, b = generate(7, **SMALL), generate(7, **SMALL)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.mapping == b.mapping
    _truth_equal(a.truth, b.truth)
    c = generate(8, **SMALL)
    assert not np.array_equal(a.frame["kpi"].to_numpy(), c.frame["kpi"].to_numpy())
    assert a.truth.params["beta"] != c.truth.params["beta"]


def test_missing_cells_do_not_change_truth():
    a = generate(5, **SMALL)
    b = generate(5, missing_cells=10, **SMALL)
    np.testing.assert_array_equal(a.truth.kpi, b.truth.kpi)
    assert a.truth.roi == b.truth.roi


def test_shapes_and_columns(default):
    d, tr = default, default.truth
    R, T, C = 20, 104, 5
    assert isinstance(d, SyntheticData)
    assert len(d.frame) == R * T
    assert tr.contributions.shape == (R, T, C)
    for arr in (tr.baseline, tr.seasonality, tr.controls_effect, tr.noise, tr.kpi):
        assert arr.shape == (R, T)
    assert tr.impressions.shape == tr.spend.shape == (R, T, C)
    m = d.mapping
    assert isinstance(m, ColumnMapping)
    assert (m.region, m.time, m.target) == ("region", "week", "kpi")
    assert len(m.media) == len(m.spend) == C and len(m.controls) == 2
    assert tr.channels == m.media
    assert all(c.startswith("impressions_") for c in m.media)
    assert [s.removeprefix("spend_") for s in m.spend] == [c.removeprefix("impressions_") for c in m.media]
    assert tr.null_channel == m.media[-1] == "impressions_null_radio"
    assert tr.params["null_channel"] == tr.null_channel
    assert list(d.frame.columns) == ["region", "week", "kpi", *m.media, *m.spend, *m.controls]
    assert sorted(d.frame["region"].unique()) == list(range(100, 100 + R))
    weeks = pd.to_datetime(d.frame["week"].unique())
    assert weeks[0] == pd.Timestamp("2022-01-03") and (np.diff(weeks) == np.timedelta64(7, "D")).all()
    # region sizes: 10x spread; spend and impressions non-negative, with exact zeros for bursty channels
    size = tr.params["region_size"]
    assert size.max() / size.min() == pytest.approx(10.0)
    assert (tr.spend >= 0).all() and (tr.impressions >= 0).all()
    assert (tr.spend[:, :, m.media.index("impressions_tv")] == 0).any()
    assert (tr.params["media_scale"] > 0).all()
    # truth parameters in the documented ranges
    alpha = np.array(list(tr.params["adstock_decay"].values()))
    slope = np.array(list(tr.params["hill_slope"].values()))
    assert ((alpha >= 0.1) & (alpha <= 0.7)).all() and len(set(alpha)) == C
    assert ((slope >= 1) & (slope <= 3)).all()
    assert tr.params["beta"][tr.null_channel] == 0.0


def test_integer_weeks():
    d = generate(1, dates=False, n_regions=3, n_weeks=20, n_channels=3, n_controls=0, null_channel=False)
    assert d.frame["week"].tolist()[:20] == list(range(20))
    assert d.mapping.controls == () and d.truth.null_channel is None
    assert d.truth.media_share == pytest.approx(0.3, rel=0.01)


def test_additivity(small_missing):
    d, tr = small_missing, small_missing.truth
    rr = d.frame["region"].to_numpy() - 100
    tt = np.nonzero(d.mask)[1]
    expected = tr.baseline + tr.seasonality + tr.controls_effect + tr.contributions.sum(-1) + tr.noise
    np.testing.assert_array_equal(d.frame["kpi"].to_numpy(), expected[rr, tt])
    np.testing.assert_array_equal(tr.kpi, expected)
    for c, col in enumerate(tr.channels):
        np.testing.assert_array_equal(d.frame[col].to_numpy(), tr.impressions[rr, tt, c])
        np.testing.assert_array_equal(d.frame[d.mapping.spend[c]].to_numpy(), tr.spend[rr, tt, c])
    assert (d.frame["kpi"] > 0).all()


@pytest.mark.parametrize("share", [0.2, 0.3, 0.4])
def test_media_share(share):
    tr = generate(2, media_share=share, **SMALL).truth
    realised = tr.contributions.sum() / tr.kpi.sum()
    assert realised == pytest.approx(share, rel=0.01)
    assert tr.media_share == pytest.approx(realised, rel=1e-12)


def test_shares_and_roi(default):
    tr = default.truth
    assert sum(tr.shares.values()) == pytest.approx(1.0)
    assert tr.media_share == pytest.approx(0.3, rel=0.01)
    tot = tr.contributions.sum(axis=(0, 1))
    for c, col in enumerate(tr.channels):
        assert tr.shares[col] == pytest.approx(tot[c] / tot.sum())
        assert tr.roi[col] == pytest.approx(tot[c] / tr.spend[:, :, c].sum())
        if col != tr.null_channel:
            assert tr.roi[col] > 0 and tr.shares[col] > 0.02


def test_null_channel(default):
    tr = default.truth
    c = tr.channels.index(tr.null_channel)
    assert (tr.contributions[:, :, c] == 0).all()
    assert tr.shares[tr.null_channel] == 0.0 and tr.roi[tr.null_channel] == 0.0
    curve = list(tr.counterfactual_kpi[tr.null_channel].values())
    assert len(set(curve)) == 1
    assert (tr.impressions[:, :, c] > 0).any()  # the null channel does spend


def test_counterfactual_identity(default):
    tr = default.truth
    total = tr.kpi.sum()
    for col in tr.channels:
        assert set(tr.counterfactual_kpi[col]) == set(COUNTERFACTUAL_MULTIPLIERS)
        assert tr.counterfactual_kpi[col][1.0] == pytest.approx(total, rel=1e-12)
        # multiplier 0 removes exactly that channel's contribution
        c = tr.channels.index(col)
        assert tr.counterfactual_kpi[col][0.0] == pytest.approx(total - tr.contributions[:, :, c].sum(), rel=1e-12)
    # the function: same values, accepts short names and SyntheticData
    np.testing.assert_allclose(counterfactual(default, "tv", 1.0), tr.kpi, rtol=1e-12)
    assert counterfactual(tr, "impressions_tv", 0.5).sum() == pytest.approx(tr.counterfactual_kpi["impressions_tv"][0.5])
    with pytest.raises(KeyError):
        counterfactual(tr, "nope", 1.0)


def test_counterfactual_monotone_and_diminishing(default):
    tr = default.truth
    for col in tr.channels:
        if col == tr.null_channel:
            continue
        v = np.array([tr.counterfactual_kpi[col][m] for m in COUNTERFACTUAL_MULTIPLIERS])
        assert (np.diff(v) > 0).all(), col
        per_cell = np.stack([counterfactual(tr, col, m) for m in (1.0, 1.3, 2.5)])
        assert (np.diff(per_cell, axis=0) >= -1e-9).all()
    # the flattest Hill curve (a close to 1) is concave: diminishing returns
    flat = min((c for c in tr.channels if c != tr.null_channel), key=lambda c: tr.params["hill_slope"][c])
    assert tr.params["hill_slope"][flat] < 1.5
    v = tr.counterfactual_kpi[flat]
    assert v[2.0] - v[1.5] < 0.5 * (v[0.5] - v[0.0])
    # and with slope exactly 1 the curve is concave everywhere
    params = {**tr.params, "hill_slope": {**tr.params["hill_slope"], flat: 1.0}}
    tr1 = dataclasses.replace(tr, params=params)
    w = np.array([counterfactual(tr1, flat, m).sum() for m in np.linspace(0, 3, 7)])
    assert (np.diff(w, 2) < 0).all()


def test_missing_cells(small_missing):
    d = small_missing
    R, T = SMALL["n_regions"], SMALL["n_weeks"]
    assert len(d.frame) == R * T - 25
    assert (~d.mask).sum() == 25 and d.mask[0].all()
    assert (d.frame["region"] == 100).sum() == T
    assert not d.frame.duplicated(["region", "week"]).any()
    assert d.truth.baseline.shape == (R, T)


def test_invalid_arguments():
    with pytest.raises(ConfigError):
        generate(0, media_share=1.0)
    with pytest.raises(ConfigError):
        generate(0, n_regions=2, n_weeks=10, missing_cells=11)
    with pytest.raises(ConfigError):
        generate(0, n_channels=1, null_channel=True)


def test_design_options_leave_the_default_panel_alone():
    """The design options draw from their own seed streams: off, they change nothing."""
    a = generate(2, **SMALL)
    b = generate(2, effect_drift=0.0, region_effects=0.0, **SMALL)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert (a.truth.params["effect_multiplier"] == 1.0).all()
    c = generate(2, effect_drift=0.25, **SMALL)  # media draws identical, KPI moves
    np.testing.assert_array_equal(a.truth.spend, c.truth.spend)
    assert not np.array_equal(a.truth.kpi, c.truth.kpi)


def test_effect_drift_and_region_effects():
    d = generate(1, n_regions=8, n_weeks=104, effect_drift=0.25, drift_channel="social", region_effects=0.3)
    p, tr = d.truth.params, d.truth
    c = tr.channel_index("social")
    path = p["drift_path"][:, c]
    assert path.max() == pytest.approx(1.25, abs=0.01) and path.min() == pytest.approx(0.75, abs=0.01)
    others = np.delete(p["drift_path"], c, axis=1)
    assert (others == 1.0).all() and p["drift_channel"] == "impressions_social"
    mult = p["effect_multiplier"]
    # regional factors: constant over time per (region, channel), different between regions
    ratio = mult[:, :, 0] / mult[:, :1, 0]
    np.testing.assert_allclose(ratio, 1.0)
    assert mult[:, 0, 0].std() > 0.1
    # the contributions carry the multiplier: off the drift, the same weeks and regions scale with it
    assert tr.media_share == pytest.approx(0.3, abs=1e-9)
    m2 = counterfactual(d, "social", 2.0) - tr.kpi
    assert (m2[:, path > 1.2] > 0).all()


def test_design_shapes_and_patterns():
    d = generate(3, n_regions=4, n_weeks=60, n_channels=4, channel_names=("tv", "search", "radio"),
                 flighting=("always_on", "burst", "burst"), hill_slope_range=(1.0, 1.2),
                 half_saturation_range=(3.0, 4.0))
    p = d.truth.params
    assert d.truth.channels == ("impressions_tv", "impressions_search", "impressions_radio", "impressions_null_radio")
    assert p["flighting"]["impressions_tv"] == "always_on" and p["flighting"]["impressions_search"] == "burst"
    assert (d.truth.spend[:, :, 1] == 0).any() and (d.truth.spend[:, :, 0] > 0).all()
    assert all(1.0 <= v <= 1.2 for k, v in p["hill_slope"].items() if "null" not in k)
    assert all(3.0 <= v <= 4.0 for v in p["hill_half_saturation_factor"].values())


def test_true_kpi_is_the_generator():
    d = generate(5, n_regions=4, n_weeks=60, effect_drift=0.2, region_effects=0.2)
    tr = d.truth
    np.testing.assert_allclose(true_kpi(d, tr.spend), tr.kpi, rtol=1e-12)
    spend = tr.spend.copy()
    spend[:, :, 2] *= 1.7
    np.testing.assert_allclose(true_kpi(d, spend), counterfactual(d, tr.channels[2], 1.7), rtol=1e-12)
    # carry-over: spend in week 30 only raises the KPI from week 30 on
    bump = tr.spend.copy()
    bump[:, 30, 0] *= 3.0
    diff = true_kpi(d, bump) - tr.kpi
    assert np.abs(diff[:, :30]).max() < 1e-12 * tr.kpi.max() and (diff[:, 30:32] > 1e-6 * tr.kpi.max()).all()
    with pytest.raises(ConfigError, match="shape"):
        true_kpi(d, tr.spend[:, :10])


def test_true_kpi_traces_in_jax():
    import jax
    import jax.numpy as jnp

    d = generate(5, n_regions=3, n_weeks=30)
    with jax.enable_x64(True):
        f = lambda u: true_kpi(d, jnp.asarray(d.truth.spend) * u, xp=jnp).sum()  # noqa: E731
        g = np.asarray(jax.grad(f)(jnp.ones(5)))
    up = true_kpi(d, d.truth.spend * np.array([1.001, 1, 1, 1, 1])).sum()
    dn = true_kpi(d, d.truth.spend * np.array([0.999, 1, 1, 1, 1])).sum()
    assert g[0] == pytest.approx((up - dn) / 0.002, rel=1e-4)
    assert g[-1] == 0.0  # the null channel


def test_invalid_design_arguments():
    for kw in (dict(effect_drift=1.0), dict(region_effects=-0.1), dict(hill_slope_range=(0.0, 2.0)),
               dict(half_saturation_range=(2.0, 1.0)), dict(flighting=("burst",)),
               dict(flighting=("burst", "weekly", "burst", "burst")), dict(channel_names=("a", "a", "b", "c")),
               dict(effect_drift=0.2, drift_channel="nope")):
        with pytest.raises(ConfigError):
            generate(0, n_regions=2, n_weeks=20, **kw)


def test_write_csv(tmp_path):
    d = generate(4, n_regions=2, n_weeks=8)
    p = write_csv(d, tmp_path / "sub" / "panel.csv")
    back = pd.read_csv(p)
    assert list(back.columns) == list(d.frame.columns)
    assert back["week"].iloc[0] == "2022-01-03"
    np.testing.assert_array_equal(back["kpi"].to_numpy(), d.frame["kpi"].to_numpy())
    assert not [f for f in (tmp_path / "sub").iterdir() if f.name != "panel.csv"]


def test_panel(small_missing):
    d = small_missing
    p = d.panel()
    assert p.media.shape == d.truth.impressions.shape
    np.testing.assert_array_equal(p.mask, d.mask)
    np.testing.assert_allclose(p.target[d.mask], d.truth.kpi[d.mask])
    np.testing.assert_allclose(p.media[d.mask], d.truth.impressions[d.mask])
    assert p.channels == d.truth.channels

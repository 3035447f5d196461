"""Lift tests: reading and validation, resolution against the panel, the loss, and calibration
moving a biased channel's ROI toward the truth."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from causalmmm_jax.analysis.calibration import lift_data, lift_loss, lift_report, read_lift_tests
from causalmmm_jax.errors import ConfigError, DataError


def _row(**kw):
    base = {"channel": "impressions_tv", "start": "2022-02-07", "end": "2022-03-07", "multiplier": 0.0,
            "lift": -1000.0, "se": 100.0}
    base.update(kw)
    return pd.DataFrame([base])


# --------------------------------------------------------------------------- reading

def test_read_from_csv(tmp_path):
    path = tmp_path / "lift.csv"
    path.write_text("Channel,Start,End,spend_change,Lift,SE,region\n"
                    "impressions_tv,3,10,5000,1200,150,101\n"
                    "impressions_search,4,9,,800,90,\n", encoding="utf-8")
    with pytest.raises(DataError, match="exactly one of 'multiplier' and 'spend_change'"):
        read_lift_tests(path)
    path.write_text("Channel,Start,End,spend_change,Lift,SE,region\n"
                    "impressions_tv,3,10,5000,1200,150,101\n"
                    "impressions_search,4,9,-100,800,90,\n", encoding="utf-8")
    df = read_lift_tests(path)
    assert list(df.columns) == ["channel", "start", "end", "multiplier", "spend_change", "lift", "se", "region"]
    assert df["start"].dtype == np.int64 and df["region"].tolist() == [101, None]
    assert df["multiplier"].isna().all() and df["spend_change"].tolist() == [5000.0, -100.0]


def test_read_is_idempotent():
    rows = pd.concat([_row(), _row(multiplier=np.nan, spend_change=500.0, region=101)], ignore_index=True)
    once = read_lift_tests(rows)
    twice = read_lift_tests(once)
    pd.testing.assert_frame_equal(once, twice)
    assert once["region"].tolist() == [None, 101]
    assert str(once["start"].dtype).startswith("datetime64")


@pytest.mark.parametrize("change, match", [
    ({"se": 0.0}, "'se' must be a finite number > 0"),
    ({"se": np.nan}, "'se' must be a finite number > 0"),
    ({"lift": np.inf}, "'lift' must be a finite"),
    ({"multiplier": -0.5}, "'multiplier' must be >= 0"),
    ({"spend_change": 10.0}, "exactly one of"),
    ({"start": "2022-04-04"}, "start after end"),
    ({"start": "not a date"}, "'start' must hold integer weeks or dates"),
    ({"start": 3}, "both be integer weeks or both dates"),
    ({"channel": ""}, "empty 'channel'"),
    ({"lift": "abc"}, "'lift' is not numeric"),
])
def test_read_validation(change, match):
    with pytest.raises(DataError, match=match):
        read_lift_tests(_row(**change))


def test_read_missing_columns_and_empty(tmp_path):
    with pytest.raises(DataError, match="missing column.*se"):
        read_lift_tests(_row().drop(columns=["se"]))
    with pytest.raises(DataError, match="multiplier or spend_change"):
        read_lift_tests(_row().drop(columns=["multiplier"]))
    with pytest.raises(DataError, match="no rows"):
        read_lift_tests(_row().iloc[:0])
    with pytest.raises(DataError, match="not found"):
        read_lift_tests(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- resolution

def test_lift_data_resolution(fitted):
    panel, n = fitted.panel, fitted.split.n_train
    rows = pd.concat([
        _row(),
        _row(channel="spend_search", multiplier=np.nan, spend_change=1000.0, region=panel.regions[2],
             start=str(panel.times[10])[:10], end=str(panel.times[12])[:10]),
    ], ignore_index=True)
    d = lift_data(rows, panel, fitted.scaler, fitted.split, pad_weeks=3)
    assert d.window.shape == (2, 3 + n) and d.region.shape == (2, panel.n_regions)
    # 2022-02-07 .. 2022-03-07 = weeks 5..9 of the grid, shifted by the padding
    assert np.flatnonzero(np.asarray(d.window[0])).tolist() == [8, 9, 10, 11, 12]
    assert np.asarray(d.region[0]).sum() == panel.n_regions
    assert np.flatnonzero(np.asarray(d.region[1])).tolist() == [2]
    assert int(d.channel[1]) == panel.channels.index("impressions_search")
    actual = panel.spend[2, 10:13, 1].sum()
    assert float(d.multiplier[1]) == pytest.approx(1 + 1000.0 / actual, rel=1e-6)
    assert np.asarray(d.observed)[:, :3].sum() == 0  # padding never counts
    # a geo test over a set of regions: their ids in one row, separated by ';'
    both = lift_data(_row(region=f"{panel.regions[1]}; {panel.regions[3]};"), panel, fitted.scaler, fitted.split, 0)
    assert np.flatnonzero(np.asarray(both.region[0])).tolist() == [1, 3]


@pytest.mark.parametrize("change, match", [
    ({"channel": "impressions_nope"}, "unknown channel"),
    ({"end": "2023-12-25"}, "reaches past the training weeks"),
    ({"start": "2030-01-07", "end": "2030-02-04"}, "contains no week"),
    ({"region": 999}, "unknown region"),
    ({"region": "999; 998"}, "unknown region '999'"),
    ({"start": 3, "end": 5}, "must be dates"),
    ({"multiplier": np.nan, "spend_change": -1e12}, "more than the actual spend"),
])
def test_lift_data_errors(fitted, change, match):
    with pytest.raises(DataError, match=match):
        lift_data(_row(**change), fitted.panel, fitted.scaler, fitted.split, 0)


def test_lift_data_refuses_sov(fitted):
    sov = dataclasses.replace(fitted.scaler, media_mode="sov")
    with pytest.raises(ConfigError, match="media_scaling"):
        lift_data(_row(), fitted.panel, sov, fitted.split, 0)


# --------------------------------------------------------------------------- loss

def test_lift_loss_matches_report_and_curves(fitted):
    """The loss is jit/grad-safe; a whole-period 0× test's model lift equals kpi(0) − kpi(1) of the
    response curve; the loss is mean(((model − lift)/se)²)."""
    from causalmmm_jax.analysis.curves import response_curves
    from causalmmm_jax.train.fit import train_data_for

    panel, n = fitted.panel, fitted.split.n_train
    rows = pd.DataFrame({"channel": ["impressions_social", "impressions_tv"],
                         "start": [panel.times[0], panel.times[20]], "end": [panel.times[n - 1], panel.times[30]],
                         "multiplier": [0.0, 1.5], "lift": [-1e6, 2e5], "se": [1e5, 5e4]})
    rep = lift_report(fitted, rows)
    k = response_curves(fitted, [0.0, 1.0]).set_index(["channel", "multiplier"])["kpi"]
    assert rep["model_lift"][0] == pytest.approx(k[("impressions_social", 0.0)] - k[("impressions_social", 1.0)],
                                                 rel=1e-3)
    data = train_data_for(fitted.prepared(), fitted.split, panel.mask,
                          lift_data(rows, panel, fitted.scaler, fitted.split, fitted.pad))
    loss_fn = jax.jit(lambda p: lift_loss(p, data, fitted.spec))
    val = float(loss_fn(fitted.member(0)))
    assert val == pytest.approx(float(np.mean(rep["z"] ** 2)), rel=1e-3)
    grads = jax.jit(jax.grad(lambda p: lift_loss(p, data, fitted.spec)))(fitted.member(0))
    leaves = jax.tree_util.tree_leaves(grads)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert any(float(jnp.abs(g).max()) > 0 for g in leaves)


def test_lift_report_ensemble(ensemble):
    rows = _row(multiplier=2.0, lift=5e5, se=5e4)
    rep = lift_report(ensemble, rows)
    assert {"model_lift", "model_lift_q05", "model_lift_q95", "z"} <= set(rep.columns)
    assert rep["model_lift_q05"][0] < rep["model_lift"][0] < rep["model_lift_q95"][0]
    assert rep["model_lift"][0] > 0  # doubling TV adds KPI


@pytest.mark.slow
def test_calibration_moves_roi_toward_truth(synthetic, fitted):
    """A whole-training-period 'go dark' test on the channel the plain fit over-credits most, with
    the true lift, pulls that channel's ROI toward the truth, and leaves the null channel near zero
    (the default ``train.calibration_weight`` 1 counts the test on the likelihood's scale, as one
    measurement with its standard error, so it does not reshuffle the other channels)."""
    from causalmmm_jax.analysis.curves import roi_table
    from causalmmm_jax.data.synthetic import counterfactual
    from causalmmm_jax.train.fit import fit

    panel, n, tr = fitted.panel, fitted.split.n_train, synthetic.truth
    true_roi = {ch: tr.contributions[:, :n, i].sum() / tr.spend[:, :n, i].sum() for i, ch in enumerate(tr.channels)}
    plain = roi_table(fitted).set_index("channel")["roi"]
    main = [c for c in panel.channels if c != tr.null_channel]
    ch = max(main, key=lambda c: abs(plain[c] - true_roi[c]) / true_roi[c])
    lift = float((counterfactual(synthetic, ch, 0.0)[:, :n] - tr.kpi[:, :n]).sum())
    rows = pd.DataFrame({"channel": [ch], "start": [panel.times[0]], "end": [panel.times[n - 1]],
                         "multiplier": [0.0], "lift": [lift], "se": [0.05 * abs(lift)]})
    calibrated = fit(panel, fitted.config, lift=rows)
    cal = roi_table(calibrated).set_index("channel")["roi"]
    before, after = abs(plain[ch] - true_roi[ch]), abs(cal[ch] - true_roi[ch])
    assert after < 0.5 * before, (ch, true_roi[ch], plain[ch], cal[ch])
    assert abs(lift_report(calibrated, rows)["z"][0]) < 2.0
    assert abs(cal[tr.null_channel]) < 0.2 * np.mean([true_roi[c] for c in main])

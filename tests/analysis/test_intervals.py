"""Intervals from the anchored draws: the carry rule, every output that shows them, persistence, the
identifiability report's columns and words, and the prediction intervals (train.predictive: the
half-width's two parts, the national total, predictions.csv, predict() on new rows, the holdout
coverage in metrics.json); the statistics are in test_interval_coverage.py."""

import dataclasses
import json

import jax
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t

import causalmmm_jax as cm
from causalmmm_jax.analysis.contributions import prediction_table
from causalmmm_jax.analysis.curves import response_curves, roi_table
from causalmmm_jax.analysis.identifiability import identifiability
from causalmmm_jax.analysis.intervals import carry_interval, draw_quantities
from causalmmm_jax.errors import ConfigError
from causalmmm_jax.modelfile import load_model
from causalmmm_jax.predict import predict
from causalmmm_jax.train.predictive import SHRINK_CELLS, prediction_interval, residual_scale
from train_config import small_config


def test_carry_interval_log_normal_predictive_around_the_estimate():
    draws = np.array([[1.0, -1.0], [2.0, 1.0], [4.0, 3.0]])  # channel 0 positive, channel 1 straddles 0
    # level 0.5, K = 3: half-width = t(0.75; 2 df)·sd·sqrt(1 + 1/3) = 0.8165·1.1547 = 0.9428 sd
    f = 0.8164966 * np.sqrt(4.0 / 3.0)
    lo, hi = carry_interval(np.array([10.0, 5.0]), draws, level=0.5)
    # channel 0: sd of log(1, 2, 4) = log 2, around the estimate 10; channel 1 on the linear scale: sd 2
    np.testing.assert_allclose(lo, [10.0 * 2.0 ** -f, 5.0 - 2.0 * f], rtol=1e-6)
    np.testing.assert_allclose(hi, [10.0 * 2.0 ** f, 5.0 + 2.0 * f], rtol=1e-6)
    assert 10.0 * 2.0 ** -f == pytest.approx(5.2022, abs=1e-4)  # the numbers, by hand
    # a negative quantity keeps lo <= hi
    lo, hi = carry_interval(-10.0, -draws[:, 0], level=0.5)
    assert (float(lo), float(hi)) == pytest.approx((-10.0 * 2.0 ** f, -10.0 * 2.0 ** -f))
    # centred on the draws (geometric mean 2), and their sample quantiles
    lo, hi = carry_interval(10.0, draws[:, 0], level=0.5, method="draws")
    assert (float(lo), float(hi)) == pytest.approx((2.0 * 2.0 ** -f, 2.0 * 2.0 ** f))
    lo, hi = carry_interval(10.0, draws[:, 0], level=0.5, method="quantile")
    assert (float(lo), float(hi)) == pytest.approx((1.5, 3.0))
    # identical draws (a channel without spend): a zero-width interval at the estimate, not NaN
    lo, hi = carry_interval(0.0, np.zeros((4, 1)))
    assert lo[0] == hi[0] == 0.0
    with pytest.raises(ValueError, match="level"):
        carry_interval(1.0, draws, level=1.0)
    with pytest.raises(ValueError, match="method"):
        carry_interval(1.0, draws, method="normal")
    with pytest.raises(ValueError, match="2 draws"):
        carry_interval(1.0, draws[:1])


@pytest.fixture(scope="module")
def drawn(synthetic):
    """A small fit with 4 anchored draws (the suite's training settings; statistics elsewhere)."""
    panel = synthetic.panel()
    return cm.fit(panel, config=small_config(interval_draws=4).updated(data={"holdout_weeks": 12}),
                  mapping=synthetic.mapping)


def test_a_fit_with_draws_holds_them_and_metrics_carry_intervals_around_each_estimate(drawn):
    assert drawn.n_draws == 4 and drawn.n_seeds == 1
    for leaf in jax.tree_util.tree_leaves(drawn.draws):
        assert np.shape(leaf)[0] == 4
    assert drawn.draw_spec.constant_coefficients
    assert {"draws_seconds", "draws_compile_seconds"} <= set(drawn.timing)
    m = drawn.metrics
    assert m["intervals"] == {"level": 0.9, "draws": 4, "method": "ratio"}
    for ch, row in m["channels"].items():
        for key in ("contribution", "share", "roi"):
            lo, hi = row["interval"][key]
            assert lo <= row[key] <= hi, (ch, key)
        assert 0.0 <= row["interval"]["share"][0] and row["interval"]["share"][1] <= 1.0


def test_roi_table_and_curves_show_the_draws_intervals(drawn):
    roi = roi_table(drawn)
    for name in ("contribution", "incremental", "marginal_kpi", "share", "roi", "mroi", "incremental_roi"):
        lo, hi = roi[f"{name}_q05"].to_numpy(), roi[f"{name}_q95"].to_numpy()
        assert np.all(lo <= roi[name].to_numpy() + 1e-9) and np.all(roi[name].to_numpy() <= hi + 1e-9), name
    assert roi["share"].sum() == pytest.approx(1.0)
    assert roi["share_q05"].min() >= 0.0 and roi["share_q95"].max() <= 1.0
    # the metrics' intervals and the table's are the same rule on the same draws
    first = roi.iloc[0]
    assert drawn.metrics["channels"][first["channel"]]["interval"]["roi"] == pytest.approx(
        [first["roi_q05"], first["roi_q95"]], rel=1e-6)
    curves = response_curves(drawn, [0.0, 0.5, 1.0, 1.5])
    for name in ("incremental", "change"):
        assert np.all(curves[f"{name}_q05"] <= curves[name] + 1e-9)
        assert np.all(curves[name] <= curves[f"{name}_q95"] + 1e-9)
    at_one = curves[curves["multiplier"] == 1.0]
    np.testing.assert_allclose(at_one["change"], 0.0, atol=1e-6)
    q = draw_quantities(drawn, [0.0, 1.0])
    assert q["curve"].shape == (4, drawn.panel.n_channels, 2) and q["contribution"].shape == (4, drawn.panel.n_channels)


def test_draws_survive_save_and_load(drawn, tmp_path):
    cm.save(drawn, tmp_path)
    assert (tmp_path / "model" / "draws.msgpack").exists()
    loaded = load_model(tmp_path)
    for a, b in zip(jax.tree_util.tree_leaves(drawn.draws), jax.tree_util.tree_leaves(loaded.draws)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    pd.testing.assert_frame_equal(roi_table(drawn), roi_table(loaded))
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["intervals"]["draws"] == 4


def test_without_draws_there_is_no_interval_and_a_clear_error(fitted):
    assert fitted.draws is None and "intervals" not in fitted.metrics
    assert "roi_q05" not in roi_table(fitted)
    with pytest.raises(ConfigError, match="interval_draws"):
        draw_quantities(fitted)


def test_identifiability_report_columns_and_words(drawn):
    rep = identifiability(drawn)
    assert list(rep["channel"]) == list(drawn.panel.channels)
    assert set(rep["level"]) <= {"data", "prior"} and set(rep["response"]) <= {"data", "uncertain"}
    assert rep["collinearity_r2"].between(0.0, 1.0).all()
    for _, r in rep.iterrows():
        assert r["summary"].startswith(f"{r['channel']}: total effect ")
        assert ("set by the prior" in r["summary"]) == (r["level"] == "prior")
        assert r["wide_range"] == (r["spend_low_high"] <= 0.3)
    assert np.all(np.isfinite(rep["contraction"])) and np.all(rep["contraction"] <= 1.0)


def test_the_report_names_a_lift_test_that_measured_a_channel_and_it_survives_save_and_load(drawn, tmp_path):
    import dataclasses

    base = identifiability(drawn).set_index("channel")
    narrow_prior = [ch for ch, r in base.iterrows() if r["level"] == "prior" and r["incremental_width"] <= 0.5]
    tested = dataclasses.replace(drawn, lift_tests={ch: 1 for ch in drawn.panel.channels})
    rep = identifiability(tested).set_index("channel")
    for ch, r in rep.iterrows():  # the flag moves only where the interval is narrow and the spend range is not
        want = "lift test" if ch in narrow_prior else base.loc[ch, "level"]
        assert r["level"] == want
        assert ("measured by your lift test" in r["summary"]) == (want == "lift test")
    cm.save(tested, tmp_path)
    assert load_model(tmp_path).lift_tests == tested.lift_tests


def test_identifiability_without_draws_reads_the_spend_range(fitted):
    rep = identifiability(fitted)
    assert rep["contraction"].isna().all() and rep["response"].isna().all()
    assert list(rep["level"]) == ["data" if w else "prior" for w in rep["wide_range"]]


def test_collinear_channels_are_named():
    """Two channels whose spend moves together: each names the other."""
    from causalmmm_jax.data.synthetic import generate

    data = generate(2, n_regions=4, n_weeks=60, n_channels=3, n_controls=1)
    panel = data.panel()
    media = panel.media.copy()
    media[..., 1] = media[..., 0] * 2.0 + 0.01 * media[..., 1]  # channel 1 follows channel 0
    panel = dataclasses.replace(panel, media=media)
    res = cm.fit(panel, config=small_config(epochs=0, warm_start_epochs=0, static_epochs=0))
    rep = identifiability(res).set_index("channel")
    c0, c1 = panel.channels[0], panel.channels[1]
    assert rep.loc[c0, "collinearity_r2"] > 0.95 and rep.loc[c0, "moves_with"] == c1
    assert rep.loc[c1, "moves_with"] == c0 and "moves with" in rep.loc[c1, "summary"]


def test_degenerate_channels_get_named_warnings_finite_intervals_and_words():
    """A constant channel and one spent in a single region: a DataWarning naming each, finite intervals
    (never NaN) in metrics.json's numbers, and the report's words for each."""
    import math
    import warnings

    from causalmmm_jax.data.synthetic import generate
    from causalmmm_jax.data.validate import DataWarning
    from causalmmm_jax.run import identifiability_dict, json_safe

    data = generate(3, n_regions=4, n_weeks=60, n_channels=4, n_controls=1)
    panel = data.panel()
    media = panel.media.copy()
    media[..., 0] = 2.0  # constant everywhere
    media[1:, :, 1] = 0.0  # spent in region 0 only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = dataclasses.replace(panel, media=media)
        from causalmmm_jax.data.validate import warn_degenerate_media

        warn_degenerate_media(panel.media, panel.mask, panel.regions, panel.channels)
    text = " ".join(str(w.message) for w in caught if issubclass(w.category, DataWarning))
    assert panel.channels[0] in text and "same value" in text
    assert panel.channels[1] in text and "only one of 4 regions" in text
    res = cm.fit(panel, config=small_config(interval_draws=4))
    for ch, row in res.metrics["channels"].items():
        for key in ("contribution", "share"):
            lo, hi = row["interval"][key]
            assert math.isfinite(lo) and math.isfinite(hi), (ch, key)
    ident = json_safe(identifiability_dict(res))
    assert "never changes within a region" in ident[panel.channels[0]]["summary"]
    assert ident[panel.channels[0]]["level"] == "prior"
    json.dumps(ident, allow_nan=False)  # strict JSON: no NaN anywhere


def test_a_share_of_voice_run_with_draws_writes_its_run_and_report(synthetic, tmp_path):
    """Share-of-voice scaling has no response curves: the report keeps its spend-range flags and words,
    and the run directory is written (metrics carry the draws' contribution and share intervals)."""
    cfg = small_config(interval_draws=4).updated(data={"media_scaling": "sov", "holdout_weeks": 12})
    res = cm.fit(synthetic.panel(), config=cfg)
    rep = identifiability(res)
    assert rep["response"].isna().all() and set(rep["level"]) <= {"data", "prior"}
    cm.save(res, tmp_path)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert set(m["identifiability"]) == set(res.panel.channels)
    assert all("share" in row["interval"] for row in m["channels"].values())


Z90 = float(norm.ppf(0.95))


def test_residual_scale_is_each_regions_fit_residual_sd_and_the_residuals_own_quantile(drawn):
    panel, split = drawn.panel, drawn.split
    point = drawn.point_components().prediction
    mask = np.asarray(panel.mask, bool)
    resid = np.where(mask, panel.target - point, 0.0)
    fit_cells, val_cells = split.fit_mask(mask), split.val_mask(mask)
    ns = residual_scale(drawn)
    pooled = (resid[fit_cells] ** 2).mean()
    r = 3
    own = resid[r][fit_cells[r]]
    expected = np.sqrt(((own ** 2).sum() + SHRINK_CELLS * pooled) / (own.size + SHRINK_CELLS))
    assert ns.sigma_r[r] == pytest.approx(expected, rel=1e-9)
    sig = np.broadcast_to(ns.sigma_r[:, None], resid.shape)
    q_fit = np.quantile(np.abs(resid[fit_cells]) / sig[fit_cells], 0.9)
    assert ns.q_cells == pytest.approx(q_fit, rel=1e-9)
    # κ: the smallest factor with which the whole interval (the draws' part included) holds 90 % of
    # the validation cells
    assert val_cells.sum() >= 20
    draws = drawn.draws_result().components().prediction
    k = draws.shape[0]
    model = float(student_t.ppf(0.95, k - 1)) * np.sqrt(1 + 1 / k) * draws.std(0, ddof=1)
    need = np.sqrt(np.maximum(resid ** 2 - model ** 2, 0.0)) / (q_fit * sig)
    assert ns.inflation == pytest.approx(max(1.0, np.quantile(need[val_cells], 0.9)), rel=1e-9)
    total = (resid * fit_cells).sum(0)[fit_cells.any(0)]
    assert ns.sigma_national == pytest.approx(np.sqrt((total ** 2).mean()), rel=1e-9)
    assert ns.q_national == pytest.approx(np.quantile(np.abs(total) / ns.sigma_national, 0.9), rel=1e-9)
    assert residual_scale(drawn, level=0.99).q_cells > ns.q_cells
    # no validation weeks: no inflation
    no_val = dataclasses.replace(drawn, split=dataclasses.replace(split, n_val=0))
    assert residual_scale(no_val).inflation == 1.0


def test_heavy_tails_do_not_widen_every_interval(drawn):
    """A few gross errors in the fit weeks inflate the residual sd; the fit cells' own 90 % quantile of
    the standardised residuals (not the normal 1.645) keeps the noise part near the typical residual."""
    mask = np.asarray(drawn.panel.mask, bool)
    fit_cells = drawn.split.fit_mask(mask)
    target = np.array(drawn.panel.target, np.float64)
    rng = np.random.default_rng(0)
    r_idx, t_idx = np.nonzero(fit_cells)
    pick = rng.choice(len(r_idx), size=max(1, len(r_idx) // 50), replace=False)  # 2 % of the fit cells
    point = drawn.point_components().prediction
    target[r_idx[pick], t_idx[pick]] += 25.0 * (target - point)[fit_cells].std() * rng.choice([-1, 1], len(pick))
    noisy = dataclasses.replace(drawn, panel=dataclasses.replace(drawn.panel, target=target))
    ns = residual_scale(noisy, point)
    assert ns.q_cells < 0.7 * Z90  # the normal rule's noise part would be far wider
    inside = np.abs(target - point)[fit_cells] <= (ns.q_cells * np.broadcast_to(ns.sigma_r[:, None],
                                                                                 target.shape))[fit_cells]
    assert inside.mean() == pytest.approx(0.9, abs=0.01)


def test_the_half_width_adds_the_draws_spread_and_the_noise_in_quadrature(drawn):
    pi = prediction_interval(drawn)
    ns = residual_scale(drawn)
    draws = drawn.draws_result().components().prediction
    k = draws.shape[0]
    t = float(student_t.ppf(0.95, k - 1)) * np.sqrt(1 + 1 / k)
    kappa_t = np.where(np.arange(draws.shape[-1]) >= drawn.split.n_fit, ns.inflation, 1.0)
    half = np.sqrt((t * draws.std(0, ddof=1)) ** 2 + (ns.q_cells * ns.sigma_r[:, None] * kappa_t) ** 2)
    np.testing.assert_allclose(pi.hi - pi.point, half, rtol=1e-9)
    np.testing.assert_allclose(pi.point - pi.lo, half, rtol=1e-9)
    np.testing.assert_allclose(pi.point, drawn.point_components().prediction, rtol=1e-12)
    assert pi.source == "draws" and pi.level == 0.9 and np.all(pi.model_sd > 0)
    # a wider level, a wider interval; the national total's interval is around the total
    wide = prediction_interval(drawn, level=0.99)
    assert np.all(wide.hi - wide.lo > pi.hi - pi.lo)
    nat = prediction_interval(drawn, national=True)
    mask = np.asarray(drawn.panel.mask, bool)
    np.testing.assert_allclose(nat.point, (pi.point * mask).sum(0), rtol=1e-12)
    assert nat.point.shape == (drawn.panel.n_weeks,) and np.all(nat.lo < nat.point) and np.all(nat.point < nat.hi)
    with pytest.raises(ValueError, match="level"):
        prediction_interval(drawn, level=90)


def test_without_draws_or_seeds_the_interval_is_the_noise_alone(fitted):
    pi = prediction_interval(fitted)
    ns = residual_scale(fitted)
    assert pi.source == "noise" and np.all(pi.model_sd == 0)
    kappa_t = np.where(np.arange(pi.point.shape[1]) >= fitted.split.n_fit, ns.inflation, 1.0)
    np.testing.assert_allclose(pi.hi - pi.point, (ns.q_cells * ns.sigma_r)[:, None] * kappa_t[None, :], rtol=1e-9)
    # a two-member ensemble's spread is optimisation noise under t on 1 degree of freedom: not counted
    two = dataclasses.replace(fitted, params=jax.tree_util.tree_map(lambda a: np.concatenate([a, a]), fitted.params),
                              seeds=(0, 1))
    assert prediction_interval(two).source == "noise"


def test_a_seed_ensemble_without_draws_takes_the_members_spread(ensemble):
    three = dataclasses.replace(ensemble, params=jax.tree_util.tree_map(
        lambda a: np.concatenate([np.asarray(a), np.asarray(a)[:1]]), ensemble.params), seeds=(0, 1, 2))
    pi = prediction_interval(three)
    members = three.components().prediction
    assert pi.source == "seeds"
    np.testing.assert_allclose(pi.model_sd, members.std(0, ddof=1), rtol=1e-9)


def test_predictions_csv_predict_and_metrics_agree(drawn, synthetic, tmp_path):
    table = prediction_table(drawn)
    cm.save(drawn, tmp_path)
    on_disk = pd.read_csv(tmp_path / "predictions.csv")
    np.testing.assert_allclose(on_disk["prediction_q95"], table["prediction_q95"], rtol=1e-9)
    # predict() on the same rows gives the same intervals (the model file keeps the draws)
    new = predict(cm.load(tmp_path), synthetic.frame)
    merged = table.merge(new, on=["region", "time"], suffixes=("", "_new"))
    assert len(merged) == len(table)
    np.testing.assert_allclose(merged["prediction_q05_new"], merged["prediction_q05"], rtol=1e-6)
    np.testing.assert_allclose(merged["prediction_q95_new"], merged["prediction_q95"], rtol=1e-6)
    # weeks after the data, in some regions: the draws run on the extended panel; finite, around the point
    frame = synthetic.frame
    last = frame["week"].max()
    some = frame[(frame["week"] == last) & frame["region"].isin(frame["region"].unique()[:3])].drop(columns=["kpi"])
    future = pd.concat([some.assign(week=last + pd.Timedelta(weeks=k)) for k in (1, 8)])
    ahead = predict(drawn, future)
    assert len(ahead) == len(future) and np.isfinite(ahead[["prediction_q05", "prediction_q95"]]).all().all()
    assert ((ahead["prediction_q05"] < ahead["prediction"]) & (ahead["prediction"] < ahead["prediction_q95"])).all()
    # metrics.json's holdout coverage is the share of holdout rows inside their interval
    hold = table[table["split"] == "holdout"]
    m = drawn.metrics["prediction_interval"]
    inside = (hold["actual"] >= hold["prediction_q05"]) & (hold["actual"] <= hold["prediction_q95"])
    assert m["source"] == "draws" and m["holdout"]["cells"] == len(hold)
    assert m["holdout"]["coverage"] == pytest.approx(inside.mean())
    assert m["holdout"]["weeks"] == 12

"""ROI priors a user states (train.roi_prior): the configuration's forms and checks, their resolution
against the panel, the objective's term on the likelihood's scale, the anchors of the draws, and a
fit pulled toward a stated ROI."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_config import small_config

from causalmmm_jax.config import Config
from causalmmm_jax.errors import ConfigError, DataError
from causalmmm_jax.model.mmm import apply
from causalmmm_jax.train import draws as draws_lib
from causalmmm_jax.train.fit import initial_params, make_roi_prior, prepare_data
from causalmmm_jax.train.objective import objective, roi_prior


def test_the_three_forms_normalise_round_trip_and_bad_values_are_named(tmp_path):
    cfg = Config().updated(train={"roi_prior": {"tv": {"median": 2.0, "sd": 0.5}, "search": {"low": 1.0, "high": 4.0},
                                                "*": [1.5, 1.0]}})
    got = dict((ch, (m, s)) for ch, m, s in cfg.train.roi_prior)
    assert got["tv"] == (2.0, 0.5) and got["*"] == (1.5, 1.0)
    m, s = got["search"]  # a 90 % interval [1, 4]: median √(1·4), sd ln 4 / (2·1.645)
    assert m == pytest.approx(2.0) and s == pytest.approx(math.log(4.0) / (2 * 1.6448536), rel=1e-6)
    for suffix in (".toml", ".json"):
        path = cfg.save(tmp_path / f"c{suffix}")
        assert Config.load(path).train.roi_prior == cfg.train.roi_prior
    assert Config().train.roi_prior == () and Config().to_dict()["train"]["roi_prior"] == {}
    hash(cfg.train)  # still hashable (programs are cached on it)
    flipped = Config().updated(train={"roi_prior": {"*": [1.5, 1.0], "search": {"low": 1.0, "high": 4.0},
                                                    "tv": {"median": 2.0, "sd": 0.5}}})
    assert flipped.train == cfg.train  # the order the priors are given in does not matter
    bad = [({"tv": [0.0, 1.0]}, "median ROI 0"), ({"tv": [1.0, -1.0]}, "sd -1"),
           ({"tv": {"low": 3.0, "high": 1.0}}, "0 < low < high"), ({"tv": 5}, "median = m"),
           ("tv", "must be a table"), ({"": [1.0, 1.0]}, "non-empty"), (["tv", 2.0, 0.3], "must be a table"),
           ([["tv", 2.0]], "must be a table")]
    for value, words in bad:
        with pytest.raises(ConfigError, match=words):
            Config().updated(train={"roi_prior": value})


@pytest.fixture(scope="module")
def resolved(small_panel):
    def resolve(roi, **data):
        cfg = small_config().updated(train={"roi_prior": roi}, **({"data": data} if data else {}))
        split, scaler, _, _, spec, train_data = prepare_data(small_panel, cfg)
        return cfg, split, scaler, spec, train_data, make_roi_prior(cfg, small_panel, scaler, split)
    return resolve


def test_priors_resolve_by_media_or_spend_column_and_the_wildcard_covers_the_rest(small_panel, resolved):
    media, spend = small_panel.channels, small_panel.spend_columns
    assert spend is not None
    _, split, scaler, _, _, rp = resolved({media[0]: [2.0, 0.5], spend[1]: [0.5, 0.3], "*": [1.0, 2.0]})
    np.testing.assert_allclose(rp.log_median, np.log([2.0, 0.5] + [1.0] * (len(media) - 2)), rtol=1e-6)
    np.testing.assert_allclose(rp.sd, [0.5, 0.3] + [2.0] * (len(media) - 2), rtol=1e-6)
    assert np.all(np.asarray(rp.on) == 1.0)
    cells = split.train_mask(small_panel.mask)  # fit and validation weeks: the ROI roi_table reports
    want = (np.nan_to_num(small_panel.spend) * cells[..., None]).sum((0, 1))
    np.testing.assert_allclose(rp.spend, want, rtol=1e-5)
    np.testing.assert_allclose(rp.target_mean, scaler.target_mean, rtol=1e-6)
    *_, only = resolved({media[1]: [1.0, 1.0]})
    assert np.asarray(only.on).tolist() == [0.0, 1.0] + [0.0] * (len(media) - 2)
    assert resolved({})[-1] is None


def test_an_unknown_channel_share_of_voice_and_a_channel_without_spend_are_refused(small_panel, resolved):
    with pytest.raises(ConfigError, match="'radio'.*channels are"):
        resolved({"radio": [1.0, 1.0]})
    with pytest.raises(ConfigError, match="media_scaling"):
        resolved({small_panel.channels[0]: [1.0, 1.0]}, media_scaling="sov")
    silent = dataclasses.replace(small_panel, spend=small_panel.spend.copy())
    silent.spend[..., 0] = 0.0
    cfg = small_config().updated(train={"roi_prior": {small_panel.channels[0]: [1.0, 1.0]}})
    split, scaler, *_ = prepare_data(small_panel, cfg)
    with pytest.raises(DataError, match=f"{small_panel.channels[0]} has no spend"):
        make_roi_prior(cfg, silent, scaler, split)
    # the wildcard covers the channels with spend only; naming one channel twice is refused
    wild = small_config().updated(train={"roi_prior": {"*": [1.0, 1.0]}})
    assert np.asarray(make_roi_prior(wild, silent, scaler, split).on).tolist() == [0.0] + [1.0] * (len(
        small_panel.channels) - 1)
    twice = small_config().updated(train={"roi_prior": {small_panel.channels[1]: [1.0, 1.0],
                                                        small_panel.spend_columns[1]: [2.0, 1.0]}})
    with pytest.raises(ConfigError, match="twice"):
        make_roi_prior(twice, small_panel, scaler, split)


def test_the_term_is_the_log_normal_prior_on_the_likelihood_scale_and_an_anchor_moves_its_centre(small_panel,
                                                                                                  resolved):
    ch = small_panel.channels[0]
    cfg, split, scaler, spec, data, rp = resolved({ch: [2.0, 0.4]})
    inits, data = initial_params([jax.random.PRNGKey(0)], spec, data, cfg, rp)
    d = apply(inits[0], data.inputs, spec)
    w = np.asarray(data.fit_w)
    cells = (w > 0) | (np.asarray(data.val_w) > 0)
    kpi = (np.asarray(d.media)[..., 0] * cells * np.asarray(scaler.target_mean)[:, None]).sum()
    z = (np.log(kpi / float(rp.spend[0])) - np.log(2.0)) / 0.4
    var, n = float(data.prior.var), w.sum()
    assert float(roi_prior(d, data.prior, data.fit_w, data.val_w)) == pytest.approx(var / (2 * n) * z * z, rel=1e-4)
    # the objective counts it (and reports it), the same value
    _, aux = objective(inits[0], data, spec, cfg.train)
    assert float(aux["roi_prior"]) == pytest.approx(var / (2 * n) * z * z, rel=1e-4)
    # an anchored draw's ε moves the centre to log 2 + 0.4·ε; channels without a prior stay at 0
    eps = jnp.asarray([0.7, -3.0, 5.0][:spec.n_channels])
    shifted = float(roi_prior(d, data.prior.replace(shift={"roi": eps}), data.fit_w, data.val_w))
    assert shifted == pytest.approx(var / (2 * n) * (z - 0.7) ** 2, rel=1e-4)
    assert float(roi_prior(d, data.prior.replace(roi=None), data.fit_w, data.val_w)) == 0.0


def test_the_draws_anchor_the_roi_priors_and_redraw_each_measured_lift(small_panel, resolved):
    import pandas as pd

    ch = small_panel.channels[0]
    cfg, split, scaler, spec, _, rp = resolved({ch: [2.0, 0.4]})
    times = small_panel.times
    rows = pd.DataFrame({"channel": [ch], "start": [times[5]], "end": [times[12]], "multiplier": [0.0],
                         "lift": [-1000.0], "se": [100.0]})
    *_, data = prepare_data(small_panel, cfg, lift=rows)
    inits, data = initial_params([jax.random.PRNGKey(0)], spec, data, cfg, rp)
    one = draws_lib.anchored_data(jax.random.PRNGKey(1), inits[0], data, spec, cfg.train)
    two = draws_lib.anchored_data(jax.random.PRNGKey(2), inits[0], data, spec, cfg.train)
    assert one.prior.shift["roi"].shape == (spec.n_channels,)
    assert float(one.prior.shift["roi"][0]) != float(two.prior.shift["roi"][0])
    lifts = [float(one.lift.lift[0]), float(two.lift.lift[0])]
    assert lifts[0] != lifts[1] and all(abs(x + 1000.0) < 600.0 for x in lifts)  # lift + 100·ε
    members, _ = draws_lib.train_draws(jax.random.PRNGKey(3), inits[0], data, spec,
                                       dataclasses.replace(cfg.train, static_epochs=20), 2)
    assert all(np.all(np.isfinite(v)) for v in jax.tree_util.tree_leaves(members))


def _roi(result, ch):
    from causalmmm_jax.analysis.curves import roi_table

    return float(roi_table(result).set_index("channel").loc[ch, "roi"])


@pytest.mark.slow
def test_a_stated_prior_pulls_the_fitted_roi_toward_its_median_the_more_the_tighter_it_is(small_panel, small_fit):
    """A stated prior at twice (and at half) the plain fit's ROI moves the channel's ROI toward its
    median, and a tight prior (sd 0.05) further than a loose one (sd 1): the posterior is the
    precision-weighted compromise of the data and the prior (the data's own precision sets how far)."""
    from causalmmm_jax.train.fit import fit

    ch = small_panel.channels[0]
    plain = _roi(small_fit, ch)
    for factor in (2.0, 0.5):
        median = factor * plain
        dist = {sd: abs(math.log(_roi(fit(small_panel, small_fit.config.updated(
            train={"roi_prior": {ch: [median, sd]}})), ch) / median)) for sd in (0.05, 1.0)}
        assert dist[0.05] < dist[1.0] <= math.log(2.0) + 1e-6, (factor, plain, dist)
        assert dist[0.05] < 0.8 * math.log(2.0), (factor, plain, dist)  # a real move, not a nudge


def test_the_roi_the_prior_judges_is_the_roi_the_run_reports(small_panel, small_fit):
    """The prior is stated on the number the user reads: roi_table's ROI (training weeks, KPI per unit of spend)."""
    from causalmmm_jax.analysis.curves import roi_table
    from causalmmm_jax.train.objective import stated_roi

    cfg = small_fit.config.updated(train={"roi_prior": {"*": [1.0, 1.0]}})
    split, scaler, _, _, spec, data = prepare_data(small_panel, cfg)
    rp = make_roi_prior(cfg, small_panel, scaler, split)
    params = jax.tree_util.tree_map(lambda a: a[0], small_fit.params)
    d = apply(params, data.inputs, small_fit.spec)
    got = np.asarray(stated_roi(d, rp, data.fit_w, data.val_w))
    want = roi_table(small_fit)["roi"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=2e-3)


def test_old_configurations_keep_their_lift_weighting():
    assert Config.from_dict({"train": {"calibration_weight": 1e-5}}).train.calibration_weight == 1.0
    assert Config.from_dict({"train": {"calibration_weight": 0.5}}).train.calibration_weight == 0.5

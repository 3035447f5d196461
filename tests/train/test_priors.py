"""The attribution-identifying terms of the objective: Hill priors, coefficient pooling, and which
parameters escape L1/L2 and weight decay."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.config import Config, TrainConfig
from causalmmm_jax.train.objective import TransformPrior, coef_pooling, is_structural, transform_prior
from causalmmm_jax.train.optim import decay_mask

from train_config import small_config


def test_coef_pooling_is_zero_for_constant_coefficients_and_bounded():
    w = jnp.ones((3, 10))
    const = jnp.broadcast_to(jnp.array([0.2, -0.5, 1.0]), (3, 10, 3))
    assert float(coef_pooling(const, w)) < 1e-6
    varied = jax.random.normal(jax.random.PRNGKey(0), (3, 10, 3))
    v = float(coef_pooling(varied, w))
    assert 0.5 < v <= 1.0  # mostly variation around a mean near 0
    assert float(coef_pooling(jnp.zeros((3, 10, 0)), w)) == 0.0
    # cells with weight 0 do not count
    spiky = const.at[:, 0].set(50.0)
    assert float(coef_pooling(spiky, w.at[:, 0].set(0.0))) < 1e-6


def test_coef_pooling_weight_flattens_the_coefficients(small_panel, small_data):
    from causalmmm_jax.train.fit import fit

    spread = {}
    for weight in (0.0, 10.0):
        r = fit(small_panel, small_config(epochs=200, early_stopping=False, coef_pooling_weight=weight),
                mapping=small_data.mapping)
        beta = np.asarray(r.decompose().media_coef[0])
        spread[weight] = float((beta.std(axis=(0, 1)) / beta.mean(axis=(0, 1))).mean())
    assert spread[10.0] < 0.5 * spread[0.0], spread


def _at_the_fit(r):
    """A fitted member's parameters, its decomposition over every cell, unit weights, the mean
    adstocked exposure and the transform parameters: what the Hill prior reads."""
    from causalmmm_jax.model.mmm import apply, transform_params

    p = r.member(0)
    d = apply(p, jax.tree_util.tree_map(jnp.asarray, r.prepared().inputs), r.spec)
    w = jnp.ones(d.prediction.shape)
    mean_a = (d.adstocked * w[..., None]).sum((0, 1)) / w.sum()
    return p, d, w, mean_a, transform_params(p, r.spec)


def test_transform_prior_is_zero_at_its_centre_and_grows_away(small_fit):
    r = small_fit
    p, d, w, mean_a, tp = _at_the_fit(r)
    centre = TransformPrior(log_ratio0=jnp.log(tp["hill_g"]) - jnp.log(mean_a), a0=tp["hill_a"], var=jnp.float32(0.04))
    tcfg = TrainConfig()
    assert abs(float(transform_prior(p, d, r.spec, centre, tcfg, w))) < 1e-9
    off = centre.replace(a0=centre.a0 + 1.0)  # every slope one prior sd away
    got = float(transform_prior(p, d, r.spec, off, tcfg, w))
    assert np.isclose(got, 0.04 / (2 * float(w.sum())) * r.spec.n_channels, rtol=1e-4)
    assert float(transform_prior(p, d, r.spec, off, TrainConfig(transform_prior_weight=0.0), w)) == 0.0
    assert float(transform_prior(p, d, r.spec, None, tcfg, w)) == 0.0


def test_wide_range_channels_are_the_ones_the_data_see_from_near_zero():
    from causalmmm_jax.train.fit import wide_range_channels

    rng = np.random.default_rng(0)
    r, t = 4, 60
    on = rng.uniform(size=(r, t)) < 0.5
    always = 1.0 + 0.2 * np.sin(np.arange(t) / 5.0)[None, :] * np.ones((r, 1))
    media = np.stack([np.where(on, 1.0, 0.0),  # burst: zeros between flights
                      always,  # always on, within ±20 % of its mean
                      0.35 + np.where(on, 1.5, 0.0),  # pulsed: a low floor plus bursts
                      np.zeros((r, t))], axis=-1)  # never used
    w = np.ones((r, t))
    assert wide_range_channels(media, w).tolist() == [True, False, True, False]
    # only fit cells count: the always-on channel's off weeks outside them do not make it wide
    off = media.copy()
    off[:, :20, 1] = 0.0
    assert wide_range_channels(off, w)[1]
    later = w.copy()
    later[:, :20] = 0.0
    assert not wide_range_channels(off, later)[1]


def test_the_half_saturation_prior_is_wider_for_wide_range_channels(small_fit):
    r = small_fit
    p, d, w, mean_a, tp = _at_the_fit(r)
    c = r.spec.n_channels
    # every half-saturation point one unit of log(g) from its centre
    centre = TransformPrior(log_ratio0=jnp.log(tp["hill_g"]) - jnp.log(mean_a) + 1.0, a0=tp["hill_a"],
                            var=jnp.float32(0.04), wide=jnp.zeros(c).at[0].set(1.0))
    tcfg = TrainConfig(hill_g_prior_sd=0.5, hill_g_prior_sd_flighted=2.0)
    unit = 0.04 / (2 * float(w.sum()))
    got = float(transform_prior(p, d, r.spec, centre, tcfg, w))
    assert np.isclose(got, unit * ((c - 1) / 0.5 ** 2 + 1 / 2.0 ** 2), rtol=1e-4)
    narrow = float(transform_prior(p, d, r.spec, centre.replace(wide=None), tcfg, w))
    assert np.isclose(narrow, unit * c / 0.5 ** 2, rtol=1e-4)


def test_drift_prior_is_a_random_walk_on_the_knot_steps_on_the_likelihoods_scale():
    import dataclasses

    from causalmmm_jax.config import ModelConfig
    from causalmmm_jax.model.mmm import ModelSpec
    from causalmmm_jax.train.objective import media_drift_prior

    spec = ModelSpec(2, 3, 0, ModelConfig(hidden_dim=4, media_drift_sd=0.2), n_knots=4)
    prior = TransformPrior(log_ratio0=jnp.zeros(3), a0=jnp.ones(3), var=jnp.float32(0.04))
    w = jnp.ones((2, 30))
    d = jnp.zeros((4, 3)).at[2:, 1].set(0.4)  # one step of 0.4 (two prior sds) in one channel
    assert np.isclose(float(media_drift_prior({"media_drift": d}, spec, prior, w)), 0.04 / (2 * 60) * 2.0 ** 2)
    assert float(media_drift_prior({"media_drift": d + 1.0}, spec, prior, w)) == pytest.approx(0.04 / 120 * 4)
    assert float(media_drift_prior({"media_drift": d}, spec, None, w)) == 0.0
    off = dataclasses.replace(spec, config=ModelConfig(hidden_dim=4))
    assert float(media_drift_prior({}, off, prior, w)) == 0.0


def test_the_objective_adds_the_drift_prior(small_fit):
    import dataclasses

    from causalmmm_jax.train.fit import make_transform_prior, train_data_for
    from causalmmm_jax.train.objective import media_drift_prior, objective

    r = small_fit
    assert r.spec.n_knots > 1
    data = train_data_for(r.prepared(), r.split, r.panel.mask)
    p = {**r.member(0), "media_drift": jnp.zeros((r.spec.n_knots, r.spec.n_channels)).at[-1, 0].set(0.3)}
    specs = [dataclasses.replace(r.spec, config=dataclasses.replace(r.spec.config, media_drift_sd=sd))
             for sd in (0.1, 1e6)]  # the same path; a prior that is all but flat
    data = data.replace(prior=make_transform_prior(p, specs[0], data))
    (total, aux), (flat, flat_aux) = (objective(p, data, s, r.config.train) for s in specs)
    prior = float(media_drift_prior(p, specs[0], data.prior, data.fit_w))
    assert prior > 0 and float(aux["media_drift_prior"]) == pytest.approx(prior, rel=1e-6)
    assert float(flat_aux["media_drift_prior"]) < 1e-9 * prior
    assert float(total) - float(flat) == pytest.approx(prior, rel=1e-3)


def test_effect_sizes_and_seasonal_cycle_escape_l1_l2_and_weight_decay():
    params = {"media_coeff_max_raw": jnp.zeros(3), "ctrl_coeff_max_raw": jnp.zeros(2),
              "seasonal_fourier": jnp.zeros(4), "seasonal_fourier_region": jnp.zeros((2, 4)),
              "coeff_head": {"dense_2": {"kernel": jnp.zeros((4, 3))}}}
    mask = decay_mask(params, regularize_transforms=False)
    assert not mask["media_coeff_max_raw"] and not mask["seasonal_fourier_region"]
    assert mask["coeff_head"]["dense_2"]["kernel"]
    assert decay_mask(params, regularize_transforms=True)["media_coeff_max_raw"]  # the original's choice
    paths = [p for p, _ in jax.tree_util.tree_leaves_with_path(params)]
    assert sum(is_structural(p) for p in paths) == 4


def test_parity_preset_keeps_the_original_objective():
    from causalmmm_jax.config import preset

    c = preset("deepcausalmmm-1.0.21")
    assert c.model.seasonality == "decompose" and c.train.transform_prior_weight == 0.0
    assert c.train.coef_pooling_weight == 0.0 and c.train.regularize_transforms
    assert c.model.trend == "off" and c.train.static_epochs == 0
    d = Config()
    assert d.model.seasonality == "auto" and d.train.transform_prior_weight == 1.0
    assert d.model.trend == "knots" and d.train.static_epochs > 0


@pytest.mark.slow
def test_region_level_effects_recover_regions_whose_channel_effects_differ():
    """On panels whose channel effects differ by region (log-sd 0.6), the spread over regions of
    log(fitted / true contribution) is what one shared curve cannot follow; region-level effects
    (``model.media_region_sd``) shrink it on every generator seed."""
    from causalmmm_jax.data.synthetic import generate
    from causalmmm_jax.train.fit import fit

    def level_spread(result, data):
        fitted, true = np.asarray(result.point_components().media), data.truth.contributions
        spreads = [np.log(fitted[..., c].sum(1) / true[..., c].sum(1)).std()
                   for c in range(true.shape[-1]) if true[..., c].sum() > 0]
        return float(np.median(spreads))

    ratios = []
    for seed in (0, 1, 2):
        data = generate(seed, n_regions=12, n_weeks=80, n_channels=3, n_controls=1, region_effects=0.6, noise=0.03,
                        flighting=("burst", "burst"))
        shared, regional = (level_spread(fit(data.panel(), small_config(static_epochs=300).updated(
            model={"media_region_sd": sd}), mapping=data.mapping), data) for sd in (0.0, 0.3))
        ratios.append(regional / shared)
    assert max(ratios) < 0.75 and float(np.median(ratios)) < 0.6, ratios


@pytest.mark.slow
def test_drift_term_follows_a_planted_drift_that_constant_coefficients_miss():
    """On panels whose always-on channel's effect drifts ±30 % over two years, the fitted effect
    path (β over the training weeks after the burn-in, mean over regions) of the default model stays
    flat (the GRU's coefficients do not move), while the drift term (``model.media_drift_sd``)
    follows the planted path, at about its size, on every generator seed."""
    from causalmmm_jax.data.synthetic import generate
    from causalmmm_jax.train.fit import fit

    def path(result, data):
        """(correlation with the planted path, relative amplitude over the planted one's)"""
        c = data.truth.channel_index(data.truth.params["drift_channel"])
        n = result.split.n_train
        beta = np.asarray(result.decompose().media_coef, np.float64).mean(axis=(0, 1))[:n, c]
        true = data.truth.params["drift_path"][:n, c]
        keep = np.arange(n) >= result.config.model.burn_in_weeks
        beta, true = beta[keep], true[keep]
        if beta.std() == 0:
            return 0.0, 0.0
        return float(np.corrcoef(beta, true)[0, 1]), float((beta.std() / beta.mean()) / (true.std() / true.mean()))

    with_drift, without = [], []
    for seed in (0, 1, 2):
        data = generate(seed, n_regions=12, n_weeks=104, n_channels=3, n_controls=1, effect_drift=0.3, noise=0.03,
                        flighting=("burst", "always_on"))
        off, on = (path(fit(data.panel(), small_config(static_epochs=1000).updated(
            model={"media_drift_sd": sd}), mapping=data.mapping), data) for sd in (0.0, 0.3))
        without.append(off)
        with_drift.append(on)
    corr = [c for c, _ in with_drift]
    assert min(corr) > 0.6 and float(np.median(corr)) > 0.75, with_drift
    assert all(0.4 < a < 1.6 for _, a in with_drift), with_drift  # about the planted size, not a flattened shape
    assert all(a[0] > b[0] + 0.3 and b[1] < 0.01 for a, b in zip(with_drift, without)), (with_drift, without)

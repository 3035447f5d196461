"""Anchored draws of the structural model (train.interval_draws): the bootstrap weights, the prior
anchors, the anchored objective, and the vmapped program against the unbatched pre-fit."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.train import draws as draws_lib
from causalmmm_jax.train.fit import initial_params, prepare_data
from causalmmm_jax.train.objective import TransformPrior, trend_prior
from causalmmm_jax.train.phases import default_phases, run_phases
from train_config import small_config


def test_bootstrap_weights_keep_the_cells_and_the_total_and_share_a_weight_per_region_and_block():
    fit_w = np.ones((4, 20), np.float32)
    fit_w[:, :3] = 0.0  # padding weeks
    fit_w[2, 10] = 0.0  # a missing cell
    w = np.asarray(draws_lib._bootstrap_weights(jax.random.PRNGKey(0), jnp.asarray(fit_w), 8))
    assert np.all(w[fit_w == 0] == 0) and np.all(w[fit_w > 0] > 0)
    assert w.sum() == pytest.approx(fit_w.sum(), rel=1e-5)
    assert np.allclose(w[0, 8:16] / w[0, 8], 1.0)  # one weight per region and block of 8 weeks
    assert not np.allclose(w[0, 8], w[0, 16])  # ... blocks differ
    # ... and regions differ within a block, independently: not one region factor times one block factor
    assert not np.allclose(w[0, 3:8] / w[1, 3:8], (w[0, 8:16] / w[1, 8:16])[0])
    other = np.asarray(draws_lib._bootstrap_weights(jax.random.PRNGKey(1), jnp.asarray(fit_w), 8))
    assert not np.allclose(w, other)


def test_bootstrap_weights_have_the_variance_of_a_bayesian_bootstrap_over_cells():
    """One Exp(1) per region × block cell: each cell's weight (relative to the mean) has variance ≈ 1,
    not the 3 of crossed region × block weights (which over-covered the responses)."""
    fit_w = jnp.ones((40, 80), jnp.float32)
    w = np.stack([np.asarray(draws_lib._bootstrap_weights(k, fit_w, 8)) for k in jax.random.split(
        jax.random.PRNGKey(5), 200)])
    per_cell = w[:, :, ::8]  # one value per region × block cell
    assert per_cell.var() == pytest.approx(1.0, abs=0.08)


@pytest.fixture(scope="module")
def prepared(small_panel):
    cfg = small_config()
    split, scaler, seasonal, prep, spec, data = prepare_data(small_panel, cfg)
    inits, data = initial_params([jax.random.PRNGKey(0)], spec, data, cfg)
    return cfg, spec, data, inits[0]


def test_anchors_move_the_hill_centres_by_prior_draws_and_anchor_the_random_walks(prepared):
    cfg, spec, data, params = prepared
    spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, trend="knots"), n_knots=5)
    params = {**params, "trend_knots": jnp.zeros(5)}
    tcfg = dataclasses.replace(cfg.train, transform_prior_weight=4.0, hill_g_prior_sd=0.5,
                               hill_g_prior_sd_flighted=1.0, hill_a_prior_sd=0.8)
    prior = data.prior.replace(wide=jnp.asarray([1.0, 0.0, 0.0]))
    key = jax.random.PRNGKey(3)
    out = draws_lib._anchors(key, params, prior, spec, tcfg)
    kg, ka, ks = jax.random.split(key, 3)
    # effective prior sd = sd / sqrt(weight): the weight-4 prior is twice as tight
    sd_g = np.array([1.0, 0.5, 0.5]) / 2.0
    np.testing.assert_allclose(out.log_ratio0 - prior.log_ratio0, sd_g * np.asarray(jax.random.normal(kg, (3,))),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.a0 - prior.a0, 0.4 * np.asarray(jax.random.normal(ka, (3,))), rtol=1e-5, atol=1e-6)
    assert set(out.shift) == {"trend_knots"} and out.shift["trend_knots"].shape == (4,)  # one anchor per step


def test_an_anchored_prior_is_the_prior_centred_on_its_anchor(prepared):
    cfg, spec, data, params = prepared
    spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, trend="knots", trend_knot_sd=0.1),
                               n_knots=4)
    knots = jnp.asarray([0.0, 0.05, -0.02, 0.1])
    eps = jnp.asarray([0.3, -1.0, 2.0])
    prior = TransformPrior(log_ratio0=jnp.zeros(3), a0=jnp.ones(3), var=jnp.float32(0.04))
    w = jnp.ones((2, 10))
    anchored = trend_prior({"trend_knots": knots}, spec, prior.replace(shift={"trend_knots": eps}), w)
    z = np.diff(np.asarray(knots)) / 0.1 - np.asarray(eps)
    assert float(anchored) == pytest.approx(0.04 / (2 * 20) * float((z * z).sum()), rel=1e-5)
    plain = trend_prior({"trend_knots": knots}, spec, prior, w)
    assert float(plain) == pytest.approx(0.04 / 40 * float(((np.diff(np.asarray(knots)) / 0.1) ** 2).sum()),
                                         rel=1e-5)


def test_the_vmapped_draws_equal_the_pre_fit_when_nothing_is_drawn(prepared, monkeypatch):
    """With the anchors and weights switched off, every member of the vmapped draws program is the
    unbatched structural pre-fit from the same start (the plumbing, not the statistics)."""
    cfg, spec, data, params = prepared
    tcfg = dataclasses.replace(cfg.train, static_epochs=60)
    monkeypatch.setattr(draws_lib, "anchored_data", lambda key, p, d, s, t: d)
    members, timing = draws_lib.train_draws(jax.random.PRNGKey(5), params, data, spec, tcfg, 2)
    static = default_phases(tcfg)[0]
    run = run_phases([params], [jax.random.PRNGKey(0)], data, spec, [static])
    for got, want in zip(jax.tree_util.tree_leaves(members), jax.tree_util.tree_leaves(run.states.params)):
        assert got.shape[0] == 2
        np.testing.assert_allclose(got[0], want, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(got[1], want, rtol=2e-4, atol=2e-5)
    assert timing["draws_epochs"] == 60 and timing["draws_members"] == 2


def test_draws_differ_and_move_the_hill_curves(prepared):
    cfg, spec, data, params = prepared
    tcfg = dataclasses.replace(cfg.train, static_epochs=60)
    members, _ = draws_lib.train_draws(jax.random.PRNGKey(5), params, data, spec, tcfg, 3)
    g = np.asarray(members["hill_g_raw"])
    assert g.shape == (3, spec.n_channels)
    assert np.all(np.isfinite(g)) and np.ptp(g, axis=0).min() > 1e-4  # every channel's curve differs by member


def test_train_draws_needs_two_members_and_prior_centres(prepared):
    cfg, spec, data, params = prepared
    with pytest.raises(ValueError, match="at least 2"):
        draws_lib.train_draws(jax.random.PRNGKey(0), params, data, spec, cfg.train, 1)
    with pytest.raises(ValueError, match="prior"):
        draws_lib.anchored_data(jax.random.PRNGKey(0), params, data.replace(prior=None), spec, cfg.train)


def test_the_draws_settings_are_checked_and_old_configurations_without_a_pre_fit_still_load():
    from causalmmm_jax.config import Config
    from causalmmm_jax.errors import ConfigError

    assert Config().train.interval_draws == 12
    # no pre-fit and no word on the draws (an older config.json, or a change of static_epochs alone): no draws
    assert Config.from_dict({"train": {"static_epochs": 0}}).train.interval_draws == 0
    assert Config().updated(train={"static_epochs": 0}).train.interval_draws == 0
    with pytest.raises(ConfigError, match="static_epochs"):
        Config().updated(train={"static_epochs": 0, "interval_draws": 8})
    with pytest.raises(ConfigError, match="at least 2"):
        Config().updated(train={"interval_draws": 1})
    from causalmmm_jax.config import preset

    assert preset("deepcausalmmm-1.0.21").train.interval_draws == 0

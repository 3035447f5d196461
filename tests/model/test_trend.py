"""The national knot trend (``model.trend="knots"``): knot count, interpolation weights and the
trend component of the forward pass (piecewise linear between knots, flat before the first and
after the last knot, centred).  The fitted trend and its forecast are checked in
tests/train/test_fitted_trend.py (on the shared small fit)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.config import Config, ModelConfig
from causalmmm_jax.data.synthetic import generate
from causalmmm_jax.model.mmm import ModelInputs, ModelSpec, apply, init, knot_count, knot_weights
from causalmmm_jax.train.fit import prepare_data

SPACING = 4
N_KNOTS = 5          # knots at weeks 0, 4, 8, 12, 16
PAD = 3              # weeks before the first knot (negative time, as padding weeks)
WEEKS = np.arange(-PAD, 27)  # 11 weeks after the last knot
SPEC = ModelSpec(2, 1, 0, ModelConfig(hidden_dim=8, trend="knots", trend_knot_weeks=SPACING, seasonality="off",
                                      dag_mode="off"), n_knots=N_KNOTS)


def _interp(weeks, kappa):
    """The intended trend: linear between knots, the nearest knot's value outside (np.interp)."""
    return np.interp(weeks, SPACING * np.arange(len(kappa)), kappa)


@pytest.mark.parametrize("n_train,spacing,want", [(1, 8, 1), (8, 8, 1), (9, 8, 2), (56, 8, 7), (57, 8, 8),
                                                  (62, 8, 8), (62, 13, 5), (104, 1, 104), (0, 8, 1)])
def test_knot_count(n_train, spacing, want):
    """Knots at weeks 0, spacing, ... up to the last training week (n_train − 1)."""
    assert knot_count(n_train, spacing) == want
    assert (want - 1) * spacing <= max(n_train - 1, 0) < want * spacing


def test_knot_weights_interpolate_linearly_and_hold_outside():
    w = np.asarray(knot_weights(jnp.asarray(WEEKS / 52.0, jnp.float32), N_KNOTS, SPACING))
    assert w.shape == (len(WEEKS), N_KNOTS)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)  # a partition of unity
    assert (w >= 0).all() and ((w > 0).sum(axis=1) <= 2).all()  # at most two neighbouring knots
    for j in range(N_KNOTS):  # one-hot at the knots
        np.testing.assert_allclose(w[WEEKS == j * SPACING][0], np.eye(N_KNOTS)[j], atol=1e-6)
    np.testing.assert_allclose(w[WEEKS < 0], np.eye(N_KNOTS)[[0] * PAD], atol=1e-6)  # first knot's value
    after = WEEKS >= (N_KNOTS - 1) * SPACING
    np.testing.assert_allclose(w[after], np.broadcast_to(np.eye(N_KNOTS)[-1], w[after].shape), atol=1e-6)
    kappa = np.random.default_rng(0).normal(size=N_KNOTS)
    np.testing.assert_allclose(w @ kappa, _interp(WEEKS, kappa), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def trend_of():
    """``trend_of(kappa) -> (trend [R, T], scale s)`` from the model's forward pass."""
    shapes = jax.eval_shape(lambda k: init(k, SPEC), jax.random.PRNGKey(0))  # traced, not compiled
    params = dict(jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), shapes))
    params["prediction_scale"] = jnp.float32(0.4)
    rng = np.random.default_rng(1)
    r, t = SPEC.n_regions, len(WEEKS)
    x = ModelInputs(media=jnp.asarray(rng.gamma(2.0, 0.5, (r, t, 1)), jnp.float32), controls=jnp.zeros((r, t, 0)),
                    seasonal=jnp.zeros((r, t)), region=jnp.arange(r), time=jnp.asarray(WEEKS / 52.0, jnp.float32))
    run = jax.jit(apply, static_argnums=2)

    def f(kappa):
        d = run(dict(params, trend_knots=jnp.asarray(kappa, jnp.float32)), x, SPEC)
        return np.asarray(d.trend, np.float64), float(d.scale)

    return f


def test_trend_is_piecewise_linear_centred_and_flat_after_the_last_knot(trend_of):
    kappa = np.array([0.3, -0.2, 0.5, 0.1, -0.4])
    trend, s = trend_of(kappa)
    assert trend.shape == (SPEC.n_regions, len(WEEKS))
    np.testing.assert_array_equal(trend[0], trend[1])  # national: the same in every region
    want = s * _interp(WEEKS, kappa - kappa.mean())
    np.testing.assert_allclose(trend[0], want, rtol=1e-5, atol=1e-6)
    # linear within each segment (zero second differences): kinks only at the knots (the first and
    # last included: the trend turns flat there)
    second = np.diff(trend[0], 2)
    kinks = WEEKS[1:-1][np.abs(second) > 1e-6]
    assert set(kinks.tolist()) == {j * SPACING for j in range(N_KNOTS)}
    # flat beyond the last knot (a forecast keeps the last level) and before the first
    last = (N_KNOTS - 1) * SPACING
    np.testing.assert_allclose(trend[0][WEEKS >= last], want[WEEKS == last][0], rtol=1e-6)
    np.testing.assert_allclose(trend[0][WEEKS <= 0], want[WEEKS == 0][0], rtol=1e-6)
    # centred: no level of its own (zero mean over the knots; a common shift of the knots changes nothing)
    assert abs(trend[0][np.isin(WEEKS, SPACING * np.arange(N_KNOTS))].mean()) < 1e-6
    np.testing.assert_allclose(trend_of(kappa + 3.0)[0], trend, atol=1e-5)
    np.testing.assert_allclose(trend_of(np.zeros(N_KNOTS))[0], 0.0)


@pytest.mark.parametrize("model,n_knots", [({}, 8), ({"trend_knot_weeks": 13}, 5), ({"trend_knot_weeks": 61}, 2),
                                           ({"trend_knot_weeks": 62}, 1), ({"trend": "linear"}, 0),
                                           ({"trend": "off"}, 0), ({"trend": "off", "media_drift_sd": 0.1}, 8)])
def test_fit_derives_the_knots_from_the_training_weeks(model, n_knots):
    """``fit``'s spec (``prepare_data``): ``n_knots = knot_count(n_train, trend_knot_weeks)`` for the
    knot trend or a drift term (62 training weeks here), 0 otherwise; one ``trend_knots`` parameter
    per knot, none with fewer than two knots (no trend)."""
    panel = generate(0, n_regions=3, n_weeks=70, n_channels=2, n_controls=1).panel()
    cfg = Config().updated(model={"hidden_dim": 8, **model}, data={"holdout_weeks": 8})
    split, *_, spec, _ = prepare_data(panel, cfg)
    assert split.n_train == 62
    assert spec.n_knots == n_knots
    if spec.config.trend == "knots":
        assert n_knots == knot_count(split.n_train, spec.config.trend_knot_weeks)
    shapes = jax.eval_shape(lambda k: init(k, spec), jax.random.PRNGKey(0))
    assert ("trend_knots" in shapes) == (n_knots > 1 and spec.config.trend == "knots")
    assert ("media_drift" in shapes) == (spec.config.media_drift_sd > 0)  # the drift term has its knots
    if n_knots > 1 and spec.config.trend == "knots":
        assert shapes["trend_knots"].shape == (n_knots,)
    assert ("trend_slope" in shapes) == (spec.config.trend == "linear")


def test_a_drift_term_without_two_knots_is_refused():
    from causalmmm_jax.errors import ConfigError

    panel = generate(0, n_regions=3, n_weeks=70, n_channels=2, n_controls=1).panel()
    cfg = Config().updated(model={"hidden_dim": 8, "media_drift_sd": 0.1, "trend_knot_weeks": 62},
                           data={"holdout_weeks": 8})
    with pytest.raises(ConfigError, match="media_drift_sd"):
        prepare_data(panel, cfg)

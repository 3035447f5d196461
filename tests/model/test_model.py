"""Model core: transforms, DAG, Flax modules, init/apply with jit, grad and vmap."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.config import ModelConfig
from causalmmm_jax.model import ModelInputs, ModelSpec, apply, init, transform_params
from causalmmm_jax.model import dag as dag_lib
from causalmmm_jax.model import transforms as tf
from causalmmm_jax.model.data_init import init_from_data

R, T, C, K = 3, 24, 4, 2


def inputs(seed=0, r=R, t=T):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    return ModelInputs(media=jax.random.uniform(k1, (r, t, C)) * 2.0, controls=jax.random.normal(k2, (r, t, K)),
                       seasonal=jax.random.uniform(k3, (r, t)), region=jnp.arange(r), time=jnp.arange(t) / 52.0)


def spec(**kw):
    return ModelSpec(R, C, K, ModelConfig(hidden_dim=16, **kw))


def test_adstock_impulse_decays_as_planted():
    x = jnp.zeros((10, 2)).at[0].set(1.0)
    decay = jnp.array([0.5, 0.2])
    a = tf.adstock_geometric(x, decay)
    np.testing.assert_allclose(a[:, 0], 0.5 ** np.arange(10), rtol=1e-6)
    np.testing.assert_allclose(a[:, 1], 0.2 ** np.arange(10), rtol=1e-5, atol=1e-12)
    n = tf.adstock_normalized(jnp.ones((200, 2)), decay)
    np.testing.assert_allclose(n[-1], [1.0, 1.0], rtol=1e-5)  # level preserved
    w = tf.adstock_weibull(x, jnp.array([2.0, 1.0]), jnp.array([3.0, 1.0]), max_lag=8)
    np.testing.assert_allclose(w.sum(0), [1.0, 1.0], rtol=1e-5)  # weights sum to 1
    assert int(jnp.argmax(w[:, 0])) > 0  # delayed peak


def test_hill_is_half_at_g_and_monotone():
    g, a = jnp.array([0.3, 2.0]), jnp.array([1.0, 3.0])
    np.testing.assert_allclose(tf.hill(g, a, g), [0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(tf.hill_clamped(g, a, g), [0.5, 0.5], rtol=1e-5)
    x = jnp.linspace(0, 5, 50)[:, None]
    h = tf.hill(x, a, g)
    assert jnp.all(jnp.diff(h, axis=0) >= 0) and float(h.max()) < 1.0


def test_reparameterisations_round_trip_and_never_clamp():
    raw = jnp.linspace(-8, 8, 17)
    d = tf.decay_from_raw(raw, 0.8)
    assert float(d.min()) > 0 and float(d.max()) < 0.8
    np.testing.assert_allclose(tf.raw_for_decay(tf.decay_from_raw(0.3, 0.8), 0.8), 0.3, rtol=1e-5)
    np.testing.assert_allclose(tf.hill_a_from_raw(tf.raw_for_hill_a(2.5, 1, 5), 1, 5), 2.5, rtol=1e-5)
    np.testing.assert_allclose(tf.hill_g_from_raw(tf.raw_for_hill_g(0.7, 0.01), 0.01), 0.7, rtol=1e-5)
    grads = jax.vmap(jax.grad(lambda r: tf.hill_a_from_raw(r, 1.0, 5.0)))(raw)
    assert jnp.all(grads > 0)  # smooth: no zero-gradient region
    clamped = jax.vmap(jax.grad(lambda r: tf.hill_a_from_raw(r, 2.0, 5.0, "clamped")))(raw)
    assert jnp.any(clamped == 0)  # the original's clamp freezes parameters


def test_acyclicity():
    upper = jnp.triu(jnp.full((4, 4), 0.7), k=1)
    assert abs(float(dag_lib.h_acyclicity(upper))) < 1e-5
    cyc = upper.at[3, 0].set(0.7)
    assert float(dag_lib.h_acyclicity(cyc)) > 1e-3
    assert float(dag_lib.dag_mask(4, "triangular").sum()) == 6
    assert float(jnp.trace(dag_lib.dag_mask(4, "notears"))) == 0
    pruned = dag_lib.threshold_adjacency(jnp.array([[0, 0.2], [0.5, 0]]), 0.3)
    assert pruned[0, 1] == 0 and pruned[1, 0] == 0.5


@pytest.mark.parametrize("kw", [{}, {"dag_mode": "notears"}, {"dag_mode": "off"}, {"adstock": "weibull"},
                                {"adstock": "normalized", "trend": "linear"}, {"attribution": "target"},
                                {"seasonality": "decompose"}])
def test_additive_decomposition(kw):
    s = spec(**kw)
    p = init(jax.random.PRNGKey(0), s)
    d = jax.jit(apply, static_argnums=2)(p, inputs(), s)
    total = d.media.sum(-1) + d.controls.sum(-1) + d.baseline + d.seasonality + d.trend
    np.testing.assert_allclose(d.prediction, total, rtol=1e-6, atol=1e-6)
    assert d.prediction.shape == (R, T) and d.media.shape == (R, T, C) and d.controls.shape == (R, T, K)
    assert jnp.all(d.media >= 0)


def test_source_and_target_attribution_share_the_total():
    x = inputs()
    p = init(jax.random.PRNGKey(1), spec())
    a = apply(p, x, spec(attribution="source"))
    b = apply(p, x, spec(attribution="target"))
    np.testing.assert_allclose(a.media.sum(-1), b.media.sum(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.prediction, b.prediction, rtol=1e-6)


def test_every_parameter_gets_a_finite_nonzero_gradient():
    s = spec(trend="linear")
    x = inputs()
    p = init(jax.random.PRNGKey(0), s)
    y = jnp.ones((R, T))

    def loss(p):
        d = apply(p, x, s, dropout_key=jax.random.PRNGKey(3))
        return jnp.mean((d.prediction - y) ** 2)

    g = jax.grad(loss)(p)
    for path, v in jax.tree_util.tree_leaves_with_path(g):
        name = jax.tree_util.keystr(path)
        assert jnp.all(jnp.isfinite(v)), name
        assert float(jnp.abs(v).max()) > 0, f"zero gradient for {name}"


@pytest.mark.parametrize("n_controls,n_knots", [(K, 4), (0, 0)])
def test_context_gru_coefficients_do_not_move_with_spend(n_controls, n_knots):
    """``gru_inputs="context"``: the GRU reads controls and calendar time, not the media, so
    scaling a channel's media leaves every coefficient where it was (a what-if on spend moves only
    the curves) while the coefficients still vary over time; with ``"media"`` they move."""
    x = inputs()
    x = x.replace(controls=x.controls[..., :n_controls])
    scaled = x.replace(media=x.media.at[..., 1].multiply(1.5))
    for mode in ("context", "media"):
        s = ModelSpec(R, C, n_controls, ModelConfig(hidden_dim=16, gru_inputs=mode), n_knots=n_knots)
        p = init(jax.random.PRNGKey(0), s)
        b0, b1 = apply(p, x, s).media_coef, apply(p, scaled, s).media_coef
        if mode == "context":
            np.testing.assert_array_equal(b0, b1)
            assert float(jnp.std(b0[:, 10:, 0])) > 0  # after the burn-in weeks: still time-varying
        else:
            assert float(jnp.abs(b0 - b1).max()) > 0


def test_vmap_over_parameter_sets_and_regions():
    s = spec()
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    ps = jax.vmap(lambda k: init(k, s))(keys)
    x = inputs()
    batch = jax.jit(jax.vmap(lambda p: apply(p, x, s).prediction))(ps)
    assert batch.shape == (5, R, T)
    one = apply(jax.tree_util.tree_map(lambda a: a[2], ps), x, s).prediction
    np.testing.assert_allclose(batch[2], one, rtol=1e-5, atol=1e-6)
    assert float(jnp.std(batch[:, 0, 0])) > 0  # different seeds differ


def test_continuous_sequence_prefix_property():
    """Running over more weeks never changes earlier weeks (causal recurrence)."""
    s = spec()
    p = init(jax.random.PRNGKey(0), s)
    x = inputs(t=30)
    short = ModelInputs(media=x.media[:, :20], controls=x.controls[:, :20], seasonal=x.seasonal[:, :20],
                        region=x.region, time=x.time[:20])
    np.testing.assert_allclose(apply(p, x, s).prediction[:, :20], apply(p, short, s).prediction, rtol=1e-5, atol=1e-6)


def test_init_from_data_starts_near_the_target():
    s = spec()
    x = inputs()
    y = jnp.ones((R, T))
    w = jnp.ones((R, T))
    p = init_from_data(jax.random.PRNGKey(0), s, x, y, w, init_media_share=0.2)
    d = apply(p, x, s)
    np.testing.assert_allclose(d.prediction.mean(1), 1.0, rtol=1e-3)
    share = float(d.media.sum() / d.prediction.sum())
    assert 0.1 < share < 0.3
    g = transform_params(p, s)["hill_g"]
    assert jnp.all(g > 0.01)


def test_fourier_seasonality_is_the_shared_cycle_plus_region_offsets():
    from causalmmm_jax.model.mmm import fourier_features

    s = spec(seasonal_harmonics=2)
    p = init(jax.random.PRNGKey(0), s)
    assert p["seasonal_fourier"].shape == (4,) and p["seasonal_fourier_region"].shape == (R, 4)
    assert "seasonal_coeff" not in p and "seasonal_coeff" in init(jax.random.PRNGKey(0), spec(seasonality="decompose"))
    x = inputs(t=104)
    f = fourier_features(x.time, 2)
    np.testing.assert_allclose(f[13], [1.0, 0.0, 0.0, -1.0], atol=1e-6)  # a quarter year: sin 1, cos(π) = −1
    np.testing.assert_allclose(f[:52], f[52:], atol=1e-5)  # period 52 weeks
    p = dict(p, seasonal_fourier=jnp.array([0.1, 0.0, 0.0, 0.05]),
             seasonal_fourier_region=jnp.zeros((R, 4)).at[1, 0].set(0.02))
    d = apply(p, x, s)
    want = (jnp.array([[0.1, 0.0, 0.0, 0.05]] * R).at[1, 0].add(0.02) @ f.T) * d.scale
    np.testing.assert_allclose(d.seasonality, want, rtol=1e-5, atol=1e-6)
    assert float(d.seasonality.min()) < 0 < float(d.seasonality.max())  # a signed cycle


def test_fourier_start_recovers_a_planted_cycle_and_pools_short_regions():
    from causalmmm_jax.model.data_init import _fourier_start
    from causalmmm_jax.model.mmm import fourier_features

    rng = np.random.default_rng(0)
    f = np.asarray(fourier_features(jnp.arange(100) / 52.0, 2), np.float64)
    pooled = np.array([0.08, -0.03, 0.02, 0.01])
    offsets = np.zeros((6, 4))
    offsets[:5, 0] = rng.normal(0, 0.02, 5)
    resid = (pooled + offsets) @ f.T + rng.normal(0, 0.01, (6, 100)) + rng.uniform(-1, 1, (6, 1))
    w = np.ones((6, 100))
    w[5, 4:] = 0  # region 5 has 4 weeks only
    got_pooled, got_off = _fourier_start(f, resid, w, ridge=0.01 / 0.02 ** 2)
    np.testing.assert_allclose(got_pooled, pooled, atol=0.01)
    np.testing.assert_allclose(got_off[:5, 0], offsets[:5, 0], atol=0.01)
    assert np.abs(got_off[5]).max() < 0.02  # the 4-week region stays near the shared cycle


def test_remat_gives_the_same_gradient_with_a_smaller_program():
    """``model.remat`` (jax.checkpoint on the GRU's weekly cell): the same loss and gradient, and the
    backward pass keeps fewer activations (XLA's memory analysis of the compiled gradient)."""
    x = inputs(3, r=8, t=60)

    def grad_and_bytes(remat: bool):
        s = ModelSpec(8, C, K, ModelConfig(hidden_dim=32, remat=remat))
        params = init(jax.random.PRNGKey(1), s)
        loss = jax.jit(jax.value_and_grad(lambda p: (apply(p, x, s).prediction ** 2).mean()))
        mem = loss.lower(params).compile().memory_analysis()
        return loss(params), mem.temp_size_in_bytes

    (v0, g0), b0 = grad_and_bytes(False)
    (v1, g1), b1 = grad_and_bytes(True)
    np.testing.assert_allclose(float(v1), float(v0), rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g0)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-7)
    assert b1 < b0, (b1, b0)


def _plain_gru_states(p, x):
    """The GRU's states by autodiff-able ``lax.scan`` over :func:`gru_step` (the reference)."""
    from causalmmm_jax.model.network import gru_step

    xi = jnp.moveaxis(x @ p["w_i"] + p["b_i"], -2, 0)
    init_h = jnp.broadcast_to(p["h0"], xi.shape[1:-1] + p["h0"].shape)
    _, hs = jax.lax.scan(lambda h, xt: (gru_step(h, xt, p["w_h"], p["b_hn"]),) * 2, init_h, xi)
    return jnp.moveaxis(hs, 0, -2)


@pytest.mark.parametrize("remat", [False, True])
def test_gru_hand_written_gradient_equals_autodiff_of_the_scan(remat):
    """The GRU's custom backward pass (one matmul per week, the recurrent weight's gradient in one
    matmul after the loop; with remat the gates recomputed week by week) gives the gradient that
    autodiff of the plain scan gives, for every parameter and the input, also under vmap."""
    from causalmmm_jax.model.network import TorchGRU

    x = jax.random.normal(jax.random.PRNGKey(3), (2, 5, 17, 6))  # members × regions × weeks × inputs
    gru = TorchGRU(12, remat=remat)
    params = gru.init(jax.random.PRNGKey(0), x[0])["params"]
    w = jax.random.normal(jax.random.PRNGKey(4), (5, 17, 12))

    def loss(f):
        return lambda p, xm: (jnp.sin(f(p, xm)) * w).sum()

    ours = jax.vmap(jax.value_and_grad(loss(lambda p, xm: gru.apply({"params": p}, xm)), argnums=(0, 1)),
                    in_axes=(None, 0))
    ref = jax.vmap(jax.value_and_grad(loss(_plain_gru_states), argnums=(0, 1)), in_axes=(None, 0))
    (v0, g0), (v1, g1) = jax.jit(ref)(params, x), jax.jit(ours)(params, x)
    np.testing.assert_allclose(np.asarray(v1), np.asarray(v0), rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g0)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # time-major output is the same states, transposed
    tm = TorchGRU(12, time_major=True).apply({"params": params}, x[0])
    np.testing.assert_allclose(np.asarray(jnp.moveaxis(tm, 0, -2)), np.asarray(_plain_gru_states(params, x[0])),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("remat", [False, True])
def test_gru_bfloat16_gradient_stays_close_to_float32(remat):
    """With bfloat16 matmuls the GRU layer's states and gradients (every parameter, the input)
    stay within bfloat16 rounding of float32's, with and without remat, and come out float32."""
    from causalmmm_jax.model.network import TorchGRU

    x = jax.random.normal(jax.random.PRNGKey(5), (6, 20, 10))  # regions × weeks × inputs
    w = jax.random.normal(jax.random.PRNGKey(6), (6, 20, 16))
    params = TorchGRU(16).init(jax.random.PRNGKey(1), x)["params"]

    def grads(dtype):
        gru = TorchGRU(16, remat=remat, matmul_dtype=dtype)
        return jax.jit(jax.value_and_grad(lambda p, xv: (jnp.sin(gru.apply({"params": p}, xv)) * w).sum(),
                                          argnums=(0, 1)))(params, x)

    (v32, g32), (v16, g16) = grads(None), grads("bfloat16")
    assert abs(float(v16) - float(v32)) <= 0.02 * abs(float(v32)) + 0.05
    for a, b in zip(jax.tree_util.tree_leaves(g16), jax.tree_util.tree_leaves(g32)):
        assert a.dtype == jnp.float32
        a, b = np.asarray(a), np.asarray(b)
        assert np.abs(a - b).max() <= 0.03 * np.abs(b).max() + 1e-5


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU's dot libraries")
def test_bfloat16_gradient_matmuls_stay_bfloat16_on_cpu():
    """XLA:CPU runs a bfloat16 dot whose operand is a folded transpose as a float32 dot (operands
    converted, about 3x slower on the example panel); the GRU's and the heads' weight and input
    gradients ask for row-major transposes, so no float32 dot of that size is left in the
    compiled gradient."""
    from causalmmm_jax.model.network import CoefficientHead, TorchGRU

    h_dim, d = 16, 12
    x = jax.random.normal(jax.random.PRNGKey(7), (10, 24, d))
    gru, head = TorchGRU(h_dim, matmul_dtype="bfloat16"), CoefficientHead(h_dim, 5, matmul_dtype="bfloat16")
    p = {"gru": gru.init(jax.random.PRNGKey(0), x)["params"],
         "head": head.init(jax.random.PRNGKey(1), jnp.zeros((1, h_dim)))["params"]}

    def loss(p, xv):
        return (head.apply({"params": p["head"]}, gru.apply({"params": p["gru"]}, xv)) ** 2).sum()

    text = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(p, x).compile().as_text()
    types = dict(re.findall(r"%([\w.\-]+) = (\w+)\[", text))
    f32_dots = [line.strip()[:160] for line in text.splitlines() if " dot(" in line
                and all(types.get(op) == "f32" for op in re.findall(r"dot\(%([\w.\-]+), %([\w.\-]+)\)", line)[0])
                and max(int(n) for n in re.findall(r"\d+", line.split("]")[0].split("[")[-1]) or [0]) >= 8]
    assert not f32_dots, f32_dots


def test_bfloat16_matmuls_stay_close_to_float32():
    """``model.matmul_dtype = "bfloat16"``: bfloat16 operands, float32 accumulation; the same
    parameters, predictions within a bfloat16 rounding of float32's, a finite gradient close to
    float32's, and float32 outputs."""
    x = inputs(5)
    s32, s16 = spec(), spec(matmul_dtype="bfloat16")
    params = init(jax.random.PRNGKey(2), s32)
    assert jax.tree_util.tree_structure(init(jax.random.PRNGKey(2), s16)) == jax.tree_util.tree_structure(params)
    run = jax.jit(apply, static_argnums=2)
    d32, d16 = run(params, x, s32), run(params, x, s16)
    assert d16.prediction.dtype == jnp.float32 and d16.media_coef.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(d16.prediction), np.asarray(d32.prediction), rtol=2e-2, atol=1e-3)
    assert not np.array_equal(np.asarray(d16.media_coef), np.asarray(d32.media_coef))  # the switch does something

    def loss(p, s):
        return (apply(p, x, s).prediction ** 2).mean()

    grad = jax.jit(jax.grad(loss), static_argnums=1)
    g32, g16 = grad(params, s32), grad(params, s16)
    for a, b in zip(jax.tree_util.tree_leaves(g16), jax.tree_util.tree_leaves(g32)):
        a, b = np.asarray(a), np.asarray(b)
        assert np.all(np.isfinite(a))
        assert np.abs(a - b).max() <= 0.05 * np.abs(b).max() + 1e-6


def test_matmul_dtype_is_validated():
    from causalmmm_jax.errors import ConfigError

    with pytest.raises(ConfigError, match="matmul_dtype"):
        ModelConfig(matmul_dtype="float16")


def test_hill_a_init_sets_every_slope_and_is_validated():
    from causalmmm_jax.errors import ConfigError

    default = transform_params(init(jax.random.PRNGKey(0), spec()), spec())["hill_a"]
    assert np.allclose(default, float(jax.nn.softplus(2.5)), atol=1e-5)  # the original's start
    s = spec(hill_a_init=1.25)
    assert np.allclose(transform_params(init(jax.random.PRNGKey(0), s), s)["hill_a"], 1.25, atol=1e-5)
    with pytest.raises(ConfigError, match="hill_a_init"):
        ModelConfig(hill_a_init=1.0)  # on the smooth parameterization's open bound
    with pytest.raises(ConfigError, match="hill_a_init"):
        ModelConfig(hill_a_init=6.0)
    assert ModelConfig(parameterization="clamped", hill_a_range=(2.0, 5.0), hill_a_init=2.0).hill_a_init == 2.0


def test_region_level_effects_scale_each_regions_media_and_start_at_the_shared_curve():
    s0, s1 = spec(), spec(media_region_sd=0.3)
    p = init(jax.random.PRNGKey(0), s1)
    assert "media_region" in p and "media_region" not in init(jax.random.PRNGKey(0), s0)
    assert p["media_region"].shape == (R, C) and not np.asarray(p["media_region"]).any()
    x = inputs()
    shared = apply({k: v for k, v in p.items() if k != "media_region"}, x, s0)
    np.testing.assert_allclose(apply(p, x, s1).media, shared.media, rtol=1e-6)
    u = jnp.zeros((R, C)).at[1, 2].set(0.5)
    moved = apply({**p, "media_region": u}, x, s1)
    ratio = np.array(moved.media_coef / shared.media_coef)
    np.testing.assert_allclose(ratio[1, :, 2], np.exp(0.5), rtol=1e-5)
    ratio[1, :, 2] = 1.0
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-6)  # every other region and channel unchanged


def test_drift_term_multiplies_one_channels_effect_along_the_knots_and_holds_after_the_last():
    import dataclasses

    s0 = dataclasses.replace(spec(), n_knots=4)
    s1 = dataclasses.replace(spec(media_drift_sd=0.1), n_knots=4)  # knots at weeks 0, 8, 16, 24
    assert "media_drift" not in init(jax.random.PRNGKey(0), s0)
    assert "media_drift" not in init(jax.random.PRNGKey(0), spec(media_drift_sd=0.1))  # no knots, no drift
    p = init(jax.random.PRNGKey(0), s1)
    assert p["media_drift"].shape == (4, C) and not np.asarray(p["media_drift"]).any()
    x = inputs(t=32)
    shared = apply({k: v for k, v in p.items() if k != "media_drift"}, x, s0)
    np.testing.assert_allclose(apply(p, x, s1).media, shared.media, rtol=1e-6)  # starts without drift
    d = jnp.zeros((4, C)).at[:, 1].set(jnp.array([0.0, 0.4, 0.4, -0.4]))
    moved = apply({**p, "media_drift": d}, x, s1)
    ratio = np.array(moved.media_coef / shared.media_coef)
    centred = np.array([0.0, 0.4, 0.4, -0.4]) - 0.1
    np.testing.assert_allclose(np.log(ratio[:, [0, 8, 16, 24], 1]), np.broadcast_to(centred, (R, 4)), atol=1e-5)
    np.testing.assert_allclose(np.log(ratio[:, 4, 1]), 0.5 * (centred[0] + centred[1]), atol=1e-5)  # linear between
    np.testing.assert_allclose(np.log(ratio[:, 24:, 1]), centred[-1], atol=1e-5)  # flat after the last knot
    ratio[:, :, 1] = 1.0
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-6)  # every other channel unchanged

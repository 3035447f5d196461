"""The structural pre-fit (``train.static_epochs``, ``ModelSpec(constant_coefficients=True)``,
``with_static_coefficients``): what it records, what it trains and what it hands to the warm start.

The fits use the shared small configuration (``small_config()``) on the shared panel, so they reuse
``small_fit``'s compiled programs instead of compiling new ones (they ask for ``small_fit``: under
xdist they run on its worker); the model-level checks run the forward pass only."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.config import ModelConfig
from causalmmm_jax.model.mmm import ModelInputs, ModelSpec, apply, init
from causalmmm_jax.train import phases as phases_module
from causalmmm_jax.train.ensemble import stack_trees, unstack_tree
from causalmmm_jax.train.fit import fit, with_static_coefficients
from causalmmm_jax.train.loop import METRIC_NAMES
from causalmmm_jax.train.optim import static_labels
from train_config import small_config

run_apply = jax.jit(apply, static_argnums=2)

#: what the pre-fit trains: the structural scalars (not the control ceilings) and the control
#: head's output bias (with the GRU state at zero: the constant control effect)
PREFIT_LEAVES = {"adstock_raw", "hill_a_raw", "hill_g_raw", "dag_logits", "dag_mix_raw", "region_baseline",
                 "global_bias", "prediction_scale", "trend_knots", "media_coeff_max_raw",
                 "ctrl_coeff_head/dense_2/bias"}


def _leaves(tree) -> dict[str, np.ndarray]:
    return {"/".join(str(k.key) for k in path): np.asarray(v) for path, v in jax.tree_util.tree_leaves_with_path(tree)}


def _inputs(spec: ModelSpec, n_weeks: int = 24, seed: int = 0) -> ModelInputs:
    rng = np.random.default_rng(seed)
    r, c, k = spec.n_regions, spec.n_channels, spec.n_controls
    return ModelInputs(media=jnp.asarray(rng.gamma(2.0, 0.5, (r, n_weeks, c)), jnp.float32),
                       controls=jnp.asarray(rng.normal(size=(r, n_weeks, k)), jnp.float32),
                       seasonal=jnp.asarray(rng.uniform(size=(r, n_weeks)), jnp.float32),
                       region=jnp.arange(r), time=jnp.arange(n_weeks, dtype=jnp.float32) / 52.0)


def _perturbed(params: dict, seed: int) -> dict:
    """``params`` with every leaf moved by a little noise and the coefficient heads' weights ×10
    (their gain-0.1 initialisation makes β and γ nearly flat), so coefficients differ between
    weeks (full model) and between members."""
    rng = np.random.default_rng(seed)

    def move(path, a):
        a = np.asarray(a)
        keys = [str(k.key) for k in path]
        if keys[0] in ("coeff_head", "ctrl_coeff_head") and keys[-1] == "kernel":
            a = 10.0 * a
        return jnp.asarray(a + 0.3 * rng.normal(size=a.shape), jnp.float32)

    return jax.tree_util.tree_map_with_path(move, params)


#: the full model (2 channels, 2 controls) and its structural pre-fit's forward
SPEC = ModelSpec(3, 2, 2, ModelConfig(hidden_dim=8))
STATIC = dataclasses.replace(SPEC, constant_coefficients=True)


@pytest.fixture(scope="module")
def model_params():
    return _perturbed(init(jax.random.PRNGKey(0), SPEC), 0)


@pytest.fixture
def phase_spy(monkeypatch):
    """Records ``(tag, spec, params in, params out)`` of every training phase ``fit`` runs."""
    calls = []
    real = phases_module.run_phase

    def spy(states, data, spec, phase, **kw):
        out = real(states, data, spec, phase, **kw)
        calls.append((phase.name, phases_module.phase_spec(spec, phase), states.params, out.states.params))
        return out

    monkeypatch.setattr(phases_module, "run_phase", spy)
    return calls


# --------------------------------------------------------------------------- through fit

def test_prefit_history_timing_and_falling_loss(small_fit):
    tcfg = small_fit.config.train
    n = tcfg.static_epochs
    assert n > 0
    for k in METRIC_NAMES:
        assert small_fit.history[f"static_{k}"].shape == (n,), k
    t = small_fit.timing
    assert t["static_epochs"] == n
    assert t["static_seconds"] > 0 and t["static_compile_seconds"] >= 0
    assert t["compile_seconds"] == pytest.approx(
        t["static_compile_seconds"] + t["warm_compile_seconds"] + t["main_compile_seconds"])
    loss = small_fit.history["static_loss"]
    assert np.isfinite(loss).all()
    assert loss[-1] < 0.9 * loss[0]
    block_means = loss[: n - n % 5].reshape(5, -1).mean(axis=1)  # falls from each fifth to the next
    assert np.all(np.diff(block_means) < 0), block_means
    rmse = small_fit.history["static_rmse_fit"]
    assert rmse[-1] < 0.75 * rmse[0]
    # cosine decay from static_learning_rate to 1 % of it; no validation scoring (no early stopping)
    lr = small_fit.history["static_lr"]
    assert lr[0] == pytest.approx(tcfg.static_learning_rate, rel=1e-2)
    assert 0.01 * tcfg.static_learning_rate * (1 - 1e-5) <= lr[-1] < 0.05 * tcfg.static_learning_rate
    assert np.all(np.diff(lr) <= 1e-9)
    assert np.isnan(small_fit.history["static_rmse_val"]).all()
    # the main-phase history (and history.csv) stays separate
    assert small_fit.history["loss"].shape == (small_fit.timing["main_epochs"],)


def test_prefit_trains_only_structural_leaves_and_hands_over_its_coefficients(small_fit, small_panel, small_data,
                                                                              phase_spy):
    # small_fit: the same fit, already compiled (and, under xdist, on the same worker)
    result = fit(small_panel, small_config(), mapping=small_data.mapping)
    assert [c[0] for c in phase_spy] == ["static", "warm", "main"]
    (_, static_spec, before, after), (_, warm_spec, warm_start, _) = phase_spy[0], phase_spy[1]
    assert static_spec == dataclasses.replace(result.spec, constant_coefficients=True) and not warm_spec.constant_coefficients

    # only the leaves labelled "static" move (optax.multi_transform + set_to_zero for the rest)
    labels, b, a = _leaves(static_labels(before)), _leaves(before), _leaves(after)
    changed = {name for name in b if not np.array_equal(b[name], a[name])}
    trained = {name for name, lab in labels.items() if lab == "static"}
    assert changed == trained == PREFIT_LEAVES
    for name in b.keys() - PREFIT_LEAVES:  # GRU, control MLP, heads, stable coefficients, control ceilings
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert any(n.startswith("gru/") for n in b) and "coeff_head/dense_0/kernel" in b

    # the warm start begins from the pre-fit's parameters with β/γ stable set to its constant effects
    expected = _leaves(with_static_coefficients(after, static_spec))
    got = _leaves(warm_start)
    assert got.keys() == expected.keys()
    for name in got:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    inputs = result.prepared().inputs
    d = run_apply(after, inputs, static_spec)
    np.testing.assert_allclose(got["stable_media_coeff"], np.asarray(d.media_coef)[0, 0], rtol=1e-6)
    np.testing.assert_allclose(got["stable_ctrl_coeff"], np.asarray(d.control_coef)[0, 0], rtol=1e-6)
    assert not np.allclose(got["stable_media_coeff"], b["stable_media_coeff"])
    # ... so the full model's first week (burn-in weight 1) uses exactly the pre-fit's effects
    full = run_apply(warm_start, inputs, result.spec)
    np.testing.assert_allclose(np.asarray(full.media_coef)[:, 0], np.asarray(d.media_coef)[:, 0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(full.control_coef)[:, 0], np.asarray(d.control_coef)[:, 0], rtol=1e-6)


def test_static_epochs_zero_skips_the_prefit(small_fit, small_panel, small_data, phase_spy):
    result = fit(small_panel, small_config(static_epochs=0), mapping=small_data.mapping)
    assert [c[0] for c in phase_spy] == ["warm", "main"]
    assert not [k for k in result.history if k.startswith("static_")]
    assert not [k for k in result.timing if k.startswith("static_")]
    assert {"warm_loss", "loss"} <= set(result.history)
    assert result.timing["compile_seconds"] == pytest.approx(
        result.timing["warm_compile_seconds"] + result.timing["main_compile_seconds"])
    assert np.isfinite(result.metrics["train"]["r2"])


# --------------------------------------------------------------------------- model level

def test_static_spec_has_constant_coefficients_and_skips_the_gru(model_params):
    params, x = model_params, _inputs(SPEC)
    d = run_apply(params, x, STATIC)
    beta, gamma = np.asarray(d.media_coef), np.asarray(d.control_coef)
    assert beta.shape == (3, 24, 2) and gamma.shape == (3, 24, 2)
    np.testing.assert_array_equal(beta, np.broadcast_to(beta[0, 0], beta.shape))  # over regions and weeks
    np.testing.assert_array_equal(gamma, np.broadcast_to(gamma[0, 0], gamma.shape))
    # the full model's coefficients do vary over the weeks after the burn-in (the check can fail)
    full = run_apply(params, x, SPEC)
    burn = SPEC.config.burn_in_weeks
    assert np.asarray(full.media_coef)[:, burn:].std(axis=1).min() > 1e-3
    assert np.asarray(full.control_coef)[:, burn:].std(axis=1).min() > 1e-3
    # the GRU and the control MLP are not used: changing them leaves the static forward unchanged
    other = dict(params, gru=jax.tree_util.tree_map(lambda a: a + 1.0, params["gru"]),
                 ctrl_mlp=jax.tree_util.tree_map(lambda a: a - 1.0, params["ctrl_mlp"]))
    np.testing.assert_array_equal(np.asarray(run_apply(other, x, STATIC).prediction), np.asarray(d.prediction))
    assert not np.allclose(np.asarray(run_apply(other, x, SPEC).prediction), np.asarray(full.prediction))


def test_with_static_coefficients_sets_the_stable_coefficients(model_params):
    p = model_params
    new = with_static_coefficients(p, STATIC)
    d = run_apply(p, _inputs(SPEC), STATIC)
    np.testing.assert_allclose(new["stable_media_coeff"], np.asarray(d.media_coef)[0, 0], rtol=1e-6)
    np.testing.assert_allclose(new["stable_ctrl_coeff"], np.asarray(d.control_coef)[0, 0], rtol=1e-6)
    assert not np.allclose(new["stable_media_coeff"], p["stable_media_coeff"])
    assert not np.allclose(new["stable_ctrl_coeff"], p["stable_ctrl_coeff"])
    stable = {"stable_media_coeff", "stable_ctrl_coeff"}
    assert new.keys() == p.keys() and all(new[k] is p[k] for k in p.keys() - stable)  # nothing else touched
    assert p["stable_media_coeff"] is not new["stable_media_coeff"]  # the input is not mutated


def test_with_static_coefficients_hands_over_the_shared_effect_with_region_level_effects(model_params):
    """With region-level effects the stable β is the shared one: the full model multiplies each
    region's β by exp(u_r) itself, so region 0's multiplier must not be folded into it."""
    spec = dataclasses.replace(STATIC, config=dataclasses.replace(STATIC.config, media_region_sd=0.3))
    u = jnp.zeros((STATIC.n_regions, STATIC.n_channels)).at[0].set(0.7).at[2, 1].set(-0.4)
    new = with_static_coefficients({**model_params, "media_region": u}, spec)
    np.testing.assert_allclose(new["stable_media_coeff"],
                               with_static_coefficients(model_params, STATIC)["stable_media_coeff"], rtol=1e-6)
    assert new["media_region"] is u  # handed over as it is


def test_with_static_coefficients_hands_over_the_undrifted_effect_with_a_drift_term(model_params):
    """With a drift term the stable β is the undrifted one: the full model applies exp(d(t)) itself."""
    spec = dataclasses.replace(STATIC, n_knots=3, config=dataclasses.replace(STATIC.config, media_drift_sd=0.1, trend="off"))
    d = jnp.zeros((3, STATIC.n_channels)).at[0].set(0.6).at[2, 1].set(-0.3)
    new = with_static_coefficients({**model_params, "media_drift": d}, spec)
    np.testing.assert_allclose(new["stable_media_coeff"],
                               with_static_coefficients(model_params, STATIC)["stable_media_coeff"], rtol=1e-6)
    assert new["media_drift"] is d


def test_with_static_coefficients_without_controls(model_params):
    """No controls: no γ to set (the params have no ``stable_ctrl_coeff``); β as with controls (the
    static β does not depend on them)."""
    spec = ModelSpec(3, 2, 0, ModelConfig(hidden_dim=8), constant_coefficients=True)
    p = {k: v for k, v in model_params.items() if "ctrl" not in k}
    new = with_static_coefficients(p, spec)
    assert new.keys() == p.keys() and "stable_ctrl_coeff" not in new
    np.testing.assert_allclose(new["stable_media_coeff"],
                               with_static_coefficients(model_params, STATIC)["stable_media_coeff"], rtol=1e-6)


def test_with_static_coefficients_batched_equals_per_member(model_params):
    # jitted both ways (the same function; eager, the vmapped forward compiles op by op: ~10x slower)
    single = jax.jit(with_static_coefficients, static_argnums=1)
    batched = jax.jit(functools.partial(with_static_coefficients, batched=True), static_argnums=1)
    members = [_perturbed(model_params, s) for s in (2, 3, 4)]
    out = unstack_tree(batched(stack_trees(members), STATIC), 3)
    for p, b in zip(members, out):
        want = _leaves(single(p, STATIC))
        got = _leaves(b)
        assert got.keys() == want.keys()
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert not np.allclose(out[0]["stable_media_coeff"], out[1]["stable_media_coeff"])
    # ... and equals the eager single-member result (the path fit takes for one seed)
    np.testing.assert_allclose(out[0]["stable_media_coeff"],
                               with_static_coefficients(members[0], STATIC)["stable_media_coeff"], rtol=1e-6)

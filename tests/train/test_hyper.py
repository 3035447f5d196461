"""Hyper-parameters as data: new values reuse the compiled training program; sweeps are a vmap."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.train import loop as loop_module
from causalmmm_jax.train.ensemble import batched_runner, stack_trees
from causalmmm_jax.train.fit import chunk_length, fit, train_data_for
from causalmmm_jax.train.hyper import LOSS_FIELDS, phase_hyper
from causalmmm_jax.train.phases import init_state
from causalmmm_jax.train.optim import current_lr
from train_config import small_config


@pytest.fixture
def trace_count(monkeypatch):
    """Counts traces of the training step (``_epoch`` runs in Python only while JAX traces)."""
    calls = []
    real = loop_module._epoch

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_module, "_epoch", counting)
    return calls


def test_new_seed_learning_rate_and_loss_weights_reuse_the_compiled_programs(small_fit, small_panel, small_data,
                                                                             trace_count):
    # a fit of small_fit's configuration (same structure, other values) traces and compiles the pre-fit
    # and the warm/main programs here (the suite drops compiled programs between modules)
    fit(small_panel, small_fit.config, mapping=small_data.mapping)
    traced = len(trace_count)
    cfg = small_config(seed=7, learning_rate=0.02, huber_delta=0.5, transform_prior_weight=2.0, l2_weight=1e-3,
                       epochs=30, warm_start_epochs=3, patience=5, static_learning_rate=0.01, plateau_factor=0.5,
                       weight_decay=1e-4, coeff_clip=0.5)
    assert chunk_length(cfg.train, "main") == chunk_length(small_fit.config.train, "main")
    r = fit(small_panel, cfg, mapping=small_data.mapping)
    assert len(trace_count) == traced  # no retrace, so no recompilation
    assert r.history["lr"][0] == pytest.approx(0.02)
    assert r.history["warm_lr"][0] == pytest.approx(0.02 * cfg.train.warm_start_lr_factor)
    assert r.history["static_lr"][0] == pytest.approx(0.01)
    assert r.timing["main_epochs"] <= 30 and r.history["warm_loss"].shape == (3,)
    assert not np.allclose(r.history["loss"][:5], small_fit.history["loss"][:5])

    # the counter does see a trace when the structure changes (another chunk length)
    state = init_state(small_fit.member(0), jax.random.PRNGKey(0), cfg.train)
    data = train_data_for(small_fit.prepared(), small_fit.split, small_panel.mask)
    batched_runner(small_fit.spec, length=3, batched=False).lower(state, data)
    assert len(trace_count) == traced + 1


def test_warm_start_and_main_phase_share_one_program(small_fit):
    tcfg = small_fit.config.train
    params = small_fit.member(0)
    warm = init_state(params, jax.random.PRNGKey(1), tcfg, warm=True)
    main = init_state(params, jax.random.PRNGKey(2), tcfg, early_stop=True)
    assert jax.tree_util.tree_structure(warm) == jax.tree_util.tree_structure(main)
    assert [(x.shape, x.dtype) for x in jax.tree_util.tree_leaves(warm)] == \
        [(x.shape, x.dtype) for x in jax.tree_util.tree_leaves(main)]
    assert chunk_length(tcfg, "warm") == chunk_length(tcfg, "main")
    # ... and differ in values only
    assert bool(warm.hyper.loss_mse) and not bool(main.hyper.loss_mse)
    assert not bool(warm.hyper.early_stop) and bool(main.hyper.early_stop)
    assert not bool(warm.hyper.dual_updates) and bool(main.hyper.dual_updates)
    hw, hm = warm.opt_state.hyperparams, main.opt_state.hyperparams
    assert float(hw["learning_rate"]) == pytest.approx(tcfg.learning_rate * tcfg.warm_start_lr_factor)
    assert float(hm["learning_rate"]) == pytest.approx(tcfg.learning_rate)
    assert float(hw["group_clip"]) == 0.0 and float(hm["group_clip"]) == 1.0
    assert float(hw["plateau_min_scale"]) == 1.0  # the plateau never lowers the warm start's rate
    assert float(hm["weight_decay"]) == pytest.approx(tcfg.weight_decay)


def test_phase_hyper_carries_the_config_values():
    tcfg = small_config(media_l1_weight=0.3, hill_g_prior_sd=0.7, patience=9, eval_every=4).train
    h = phase_hyper(tcfg, "main")
    for name in LOSS_FIELDS:
        assert float(getattr(h, name)) == pytest.approx(getattr(tcfg, name), rel=1e-6), name
    assert int(h.patience) == 9 and int(h.eval_every) == 4 and int(h.n_epochs) == tcfg.epochs
    assert h.n_epochs.dtype == jnp.int32 and h.loss_mse.dtype == jnp.bool_ and h.learning_rate.dtype == jnp.float32
    s = phase_hyper(tcfg, "static")
    assert int(s.n_epochs) == tcfg.static_epochs and s.schedule == "cosine"
    assert float(s.cosine_alpha) == pytest.approx(0.01) and not bool(s.early_stop)
    assert not bool(phase_hyper(tcfg, "main", early_stop=False).early_stop)
    with pytest.raises(ValueError, match="phase"):
        phase_hyper(tcfg, "burn-in")


def test_a_learning_rate_sweep_is_one_vmapped_program(small_fit, small_panel):
    """Members built with different values train side by side; each equals its own single run."""
    tcfg = dataclasses.replace(small_fit.config.train, epochs=20, early_stopping=False)
    data = train_data_for(small_fit.prepared(), small_fit.split, small_panel.mask)
    rates = (0.01, 0.03)

    def state(lr):
        return init_state(small_fit.member(0), jax.random.PRNGKey(5), dataclasses.replace(tcfg, learning_rate=lr))

    length = chunk_length(small_fit.config.train, "main")
    swept, m = batched_runner(small_fit.spec, length=length, batched=True)(stack_trees([state(lr) for lr in rates]),
                                                                           data)
    np.testing.assert_allclose(np.asarray(m["lr"])[:, 0], rates, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(current_lr(swept.opt_state)), rates, rtol=1e-6)
    single = batched_runner(small_fit.spec, length=length, batched=False)
    for i, lr in enumerate(rates):
        alone, ma = single(state(lr), data)
        np.testing.assert_allclose(np.asarray(m["loss"])[i], np.asarray(ma["loss"]), rtol=2e-4, err_msg=str(lr))
        for a, b in zip(jax.tree_util.tree_leaves(alone.params), jax.tree_util.tree_leaves(swept.params)):
            np.testing.assert_allclose(np.asarray(b)[i], np.asarray(a), rtol=2e-3, atol=1e-5)
    assert not np.allclose(np.asarray(m["loss"])[0, 1:], np.asarray(m["loss"])[1, 1:])

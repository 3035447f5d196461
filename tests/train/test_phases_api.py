"""The public training API (``causalmmm_jax.train.phases``): phases as data, ``init`` / ``make_step`` /
``run_phases`` (what ``fit`` runs), a user-supplied optax optimiser, and the checks on phase lists.

The fits use ``small_config()`` on the shared panel, so they reuse ``small_fit``'s compiled programs."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from causalmmm_jax.errors import ConfigError
from causalmmm_jax.train.ensemble import batched_runner
from causalmmm_jax.train.fit import fit, initial_params, prepare_data
from causalmmm_jax.train.phases import (Phase, default_phases, init, make_step, run_phases, stack_phases)
from train_config import small_config


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_default_phases_are_fits_three_phases():
    cfg = small_config(warm_start_epochs=7, static_epochs=30, chunk_epochs=20)
    static, warm, main = default_phases(cfg)
    assert [p.name for p in (static, warm, main)] == ["static", "warm", "main"]
    assert [p.kind for p in (static, warm, main)] == ["structural", "full", "full"]
    assert [p.n_epochs for p in (static, warm, main)] == [30, 7, cfg.train.epochs]
    assert warm.chunk_epochs == main.chunk_epochs == 20 and static.chunk_epochs == 20
    assert [p.key_fold for p in (static, warm, main)] == [3, 1, 2]
    assert bool(main.hyper.early_stop) and not bool(default_phases(cfg, early_stop=False)[2].hyper.early_stop)
    assert main.optimizer is None and main.optimizer_values["learning_rate"] == pytest.approx(cfg.train.learning_rate)
    with pytest.raises(dataclasses.FrozenInstanceError):
        main.name = "other"  # frozen records


def test_run_phases_is_what_fit_runs(small_fit, small_panel):
    """The documented recipe (prepare, initialise, run the default phases) gives fit's parameters exactly."""
    cfg = small_fit.config
    split, _, _, _, spec, data = prepare_data(small_panel, cfg)
    keys = [jax.random.PRNGKey(cfg.train.seed)]
    inits, data = initial_params(keys, spec, data, cfg)
    run = run_phases(inits, keys, data, spec, default_phases(cfg, early_stop=split.n_val > 0))
    for a, b in zip(_leaves(run.params), _leaves(small_fit.member(0))):
        np.testing.assert_array_equal(a, b)
    assert set(run.runs) == {"static", "warm", "main"}
    assert run.history["static_loss"].shape == small_fit.history["static_loss"].shape
    np.testing.assert_array_equal(run.history["loss"], small_fit.history["loss"])


def test_make_step_is_one_epoch_of_fits_program(small_fit, small_panel):
    """Two jitted ``make_step`` calls = a compiled chunk (fit's own program) told to run two epochs."""
    cfg = small_fit.config
    _, _, _, _, spec, data = prepare_data(small_panel, cfg)
    main = default_phases(cfg)[2]
    main = main.replace(hyper=main.hyper.replace(n_epochs=jnp.int32(2)))
    state = init(main, small_fit.member(0), jax.random.PRNGKey(3))
    step = jax.jit(make_step(spec, None, main))
    s, metrics = state, []
    for _ in range(2):
        s, m = step(s, data)
        metrics.append(float(m["loss"]))
    chunk = batched_runner(spec, length=main.chunk_epochs, batched=False)  # fit's program
    c, mc = chunk(state, data)
    np.testing.assert_allclose(np.asarray(mc["loss"])[:2], metrics, rtol=1e-5)
    assert np.isnan(np.asarray(mc["loss"])[2:]).all() and int(c.epoch) == int(s.epoch) == 2
    for a, b in zip(_leaves(s.params), _leaves(c.params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_user_optax_optimizer_trains_warm_start_and_main_phase(small_fit, small_panel, small_data):
    # docs/jax.md's example
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.inject_hyperparams(optax.adamw)(learning_rate=3e-3))
    cfg = small_config(epochs=20)
    r = fit(small_panel, cfg, mapping=small_data.mapping, optimizer=tx)
    np.testing.assert_allclose(r.history["lr"], 3e-3, rtol=1e-6)     # the user's rate, read from its state
    np.testing.assert_allclose(r.history["warm_lr"], 3e-3, rtol=1e-6)  # the warm start uses it too
    assert r.history["static_lr"][0] == pytest.approx(cfg.train.static_learning_rate, rel=1e-2)  # pre-fit: its own
    assert np.isfinite(r.history["loss"]).all() and r.history["loss"][-1] < r.history["loss"][0]
    assert np.isfinite(r.metrics["holdout"]["r2"])
    # a different training path from the built-in AdamW with its clipping groups and plateau
    assert not np.allclose(r.history["loss"][:5], small_fit.history["loss"][:5])
    with pytest.raises(ConfigError, match="either optimizer= or phases="):
        fit(small_panel, cfg, optimizer=tx, phases=default_phases(cfg))


def test_phase_checks_name_what_is_wrong():
    cfg = small_config()
    static, warm, main = default_phases(cfg)
    with pytest.raises(ConfigError, match="kind"):
        Phase("main", "gru-only", main.hyper, None, main.optimizer_values)
    with pytest.raises(ConfigError, match="optimizer_values"):
        Phase("main", "full", main.hyper)
    with pytest.raises(ConfigError, match="identifier"):
        Phase("main phase", "full", main.hyper, optax.adam(1e-3))
    with pytest.raises(ConfigError, match="unique"):
        run_phases([{}], [jax.random.PRNGKey(0)], None, None, (main, main))
    with pytest.raises(ValueError, match="one key per member"):
        run_phases([{}, {}], [jax.random.PRNGKey(0)], None, None, (main,))
    # members may differ in values, not in structure
    other = default_phases(small_config(schedule="cosine"))
    with pytest.raises(ConfigError, match="structure"):
        stack_phases([default_phases(cfg), other])
    both = stack_phases([default_phases(cfg), default_phases(small_config(learning_rate=0.03, epochs=60))])
    assert both[2].n_members == 2 and both[2].n_epochs == 60
    np.testing.assert_allclose(both[2].optimizer_values["learning_rate"], [cfg.train.learning_rate, 0.03])
    assert float(both[2].member(1).hyper.learning_rate) == pytest.approx(0.03)
    with pytest.raises(ValueError, match="several members"):
        init(both[2], {}, jax.random.PRNGKey(0))
    with pytest.raises(ConfigError, match="holds values for 2 members"):
        run_phases([{}], [jax.random.PRNGKey(0)], None, None, both)

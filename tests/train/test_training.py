"""Training: determinism, early stopping, NaN guard, ensembles, sharding, metrics."""

import dataclasses
import json
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from causalmmm_jax.data.synthetic import generate
from causalmmm_jax.train.fit import chunk_length, fit
from causalmmm_jax.train.ensemble import batched_runner
from causalmmm_jax.train.phases import init_state
from causalmmm_jax.train.metrics import regression_metrics
from causalmmm_jax.train.objective import STRUCTURAL_PARAMS, objective

from train_config import small_config


def leaves_equal(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_metrics_json_content(small_fit):
    m = small_fit.metrics
    for block in ("train", "holdout"):
        assert {"r2", "rmse", "mae", "mape"} <= set(m[block])
    assert "r2_within_region" in m["holdout"]
    assert set(m["attribution"]) == {"media", "baseline", "seasonality", "controls", "trend"}
    assert abs(sum(m["attribution"].values()) - 1.0) < 1e-9
    assert set(m["channels"]) == set(small_fit.panel.channels)
    assert all({"contribution", "share", "spend", "roi"} <= set(v) for v in m["channels"].values())
    assert abs(sum(v["share"] for v in m["channels"].values()) - 1.0) < 1e-9
    assert {"fit_seconds", "seconds_per_epoch", "compile_seconds"} <= set(m["timing"])
    assert m["epochs_run"] > 0 and m["seed"] == 42 and m["version"]
    json.dumps(m, allow_nan=True)


def test_holdout_is_scored_on_holdout_cells_only(small_fit):
    r = small_fit
    cells = r.split.holdout_mask(r.panel.mask)
    assert cells[:, : r.split.n_train].sum() == 0
    assert r.metrics["holdout"]["n"] == int(cells.sum())


def test_same_seed_is_bit_identical(small_panel, small_fit):
    again = fit(small_panel, small_config())
    assert leaves_equal(small_fit.params, again.params)
    assert small_fit.metrics["holdout"] == again.metrics["holdout"]
    other = fit(small_panel, small_config(), seed=7)
    assert not leaves_equal(small_fit.params, other.params)


def test_early_stopping_stops_and_restores_best(small_panel):
    # min_delta so large that only the first evaluation counts as an improvement
    # (warm start 20 epochs in both fits: the reference's 5 epochs then run in the same 20-epoch
    # chunks, the train tests' compiled program; the plateau schedule cannot act within 20 epochs)
    cfg = small_config(epochs=200, eval_every=5, patience=3, min_delta=10.0, warm_start_epochs=20)
    r = fit(small_panel, cfg)
    assert r.stopped_early and r.best_epoch == 5
    assert r.epochs_run == 5 * (1 + 3)  # stopped after 3 evaluations without improvement
    ref = fit(small_panel, small_config(epochs=5, early_stopping=False, warm_start_epochs=20))
    assert ref.epochs_run == 5 and not ref.stopped_early
    assert leaves_equal(r.params, ref.params)  # the restored params are those of epoch 5


def test_nonfinite_loss_keeps_last_good_params(small_fit):
    r = small_fit
    prep = r.prepared()
    from causalmmm_jax.train.fit import train_data_for

    data = train_data_for(prep, r.split, r.panel.mask)
    bad = data.replace(target=data.target.at[0, 3].set(jnp.nan))
    tcfg = r.config.train
    state = init_state(r.member(0), jax.random.PRNGKey(0), dataclasses.replace(tcfg, epochs=10), early_stop=True)
    chunk = batched_runner(r.spec, length=chunk_length(tcfg, "main"), batched=False)  # the fit's own program
    new, m = chunk(state, bad)
    assert bool(new.nonfinite) and bool(new.stopped)
    assert leaves_equal(new.params, r.member(0))
    assert np.isnan(np.asarray(m["loss"])[1:]).all()


def test_loss_ignores_unobserved_and_holdout_cells(small_fit):
    r = small_fit
    from causalmmm_jax.train.fit import train_data_for

    data = train_data_for(r.prepared(), r.split, r.panel.mask)
    base, _ = objective(r.member(0), data, r.spec, r.config.train)
    w = np.asarray(data.fit_w)
    poisoned = data.replace(target=jnp.where(jnp.asarray(w) > 0, data.target, 1e6))
    other, _ = objective(r.member(0), poisoned, r.spec, r.config.train)
    assert float(base) == pytest.approx(float(other), rel=1e-6)
    assert w[:, -r.split.n_val:].sum() == 0  # validation weeks never in the loss
    assert (w.sum(1) < r.split.n_fit).any()  # the missing cells are masked out


def test_structural_params_are_not_regularised(small_fit):
    r = small_fit
    from causalmmm_jax.train.objective import regularizers

    reg = regularizers(r.member(0), r.spec, r.config.train, None)
    moved = dict(r.member(0), hill_g_raw=r.member(0)["hill_g_raw"] + 5.0, region_baseline=r.member(0)["region_baseline"] * 3)
    reg2 = regularizers(moved, r.spec, r.config.train, None)
    assert float(reg["l1"]) == float(reg2["l1"]) and float(reg["l2"]) == float(reg2["l2"])
    assert "hill_a_raw" in STRUCTURAL_PARAMS


@pytest.mark.xdist_group("train-fit")  # the 2-member programs of the sweep and sharding tests
def test_ensemble_bands_contain_the_mean(small_panel):
    r = fit(small_panel, small_config(static_epochs=0), seeds=2)  # (no pre-fit: one program fewer)
    assert r.n_seeds == 2
    assert jax.tree_util.tree_leaves(r.params)[0].shape[0] == 2
    for ch, v in r.metrics["channels"].items():
        for k, b in v["bands"].items():
            assert b["q05"] - 1e-12 <= b["mean"] <= b["q95"] + 1e-12, (ch, k)
    hb = r.metrics["holdout"]["bands"]["r2"]
    assert hb["q05"] <= hb["mean"] <= hb["q95"]


SHARD_SCRIPT = textwrap.dedent("""
    import os, sys, numpy as np, jax
    sys.path.insert(0, {tests})
    from train_config import small_config
    from causalmmm_jax._cache import enable_compilation_cache
    from causalmmm_jax.data.synthetic import generate
    enable_compilation_cache(os.environ["CAUSALMMM_CACHE_DIR"])
    assert len(jax.devices()) == 2, jax.devices()
    # a sweep's members (points x seeds) go on the member axis of the mesh: a 2 x 1 mesh here
    from causalmmm_jax.train.sweep import sweep
    sw = sweep(generate(1, n_regions=5, n_weeks=70, n_channels=3, n_controls=1).panel(),
               small_config(epochs=20, static_epochs=0), over={"train.learning_rate": [0.01, 0.03]}, devices=2)
    assert (sw.results[0].timing["member_shards"], sw.results[0].timing["region_shards"]) == (2, 1)
    np.save({sweep_out}, np.array([r.metrics["holdout"]["rmse"] for r in sw.results]))
""")


@pytest.mark.xdist_group("train-fit")
def test_sharded_sweep_equals_single_device(tmp_path, run_on_devices):
    """A 2-point sweep with its members on 2 (forced host) devices in a subprocess equals the same
    sweep on this process's single device (ensembles and region sharding: tests/train/test_sharding.py)."""
    sweep_out = tmp_path / "sweep.npy"
    run_on_devices(SHARD_SCRIPT.replace("{sweep_out}", repr(str(sweep_out))), 2, tmp_path, timeout=600)
    from causalmmm_jax.train.sweep import sweep

    panel = generate(1, n_regions=5, n_weeks=70, n_channels=3, n_controls=1).panel()
    alone = sweep(panel, small_config(epochs=20, static_epochs=0), over={"train.learning_rate": [0.01, 0.03]})
    np.testing.assert_allclose(np.load(sweep_out), [r.metrics["holdout"]["rmse"] for r in alone.results], rtol=1e-5)


def test_regression_metrics_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    m = regression_metrics(y, y)
    assert m["r2"] == 1.0 and m["rmse"] == 0.0 and m["mape"] == 0.0
    m = regression_metrics(y, y + 1.0)
    assert m["rmse"] == pytest.approx(1.0) and m["mae"] == pytest.approx(1.0)
    assert m["r2"] == pytest.approx(1 - 4 / 5.0)


def test_zero_epochs_fit_is_the_data_driven_start(small_panel):
    """epochs = 0 (and no pre-fit, no warm start): nothing is compiled or trained; the model is the
    data-driven initialisation, evaluated like any fit."""
    from causalmmm_jax.train.fit import initial_params, prepare_data

    cfg = small_config(epochs=0, warm_start_epochs=0, static_epochs=0)
    r = fit(small_panel, cfg)
    assert r.epochs_run == 0 and r.history["loss"].shape == (0,) and r.timing["compile_seconds"] == 0.0
    *_, spec, data = prepare_data(small_panel, cfg)
    (start,), _ = initial_params([jax.random.PRNGKey(cfg.train.seed)], spec, data, cfg)
    assert leaves_equal(r.member(0), start)
    assert np.isfinite(r.metrics["holdout"]["r2"])

"""``sweep``: a grid of training values × seeds as one vmapped program, one fitted run per point.

Uses ``small_config()`` on the shared panel: the sweeps run the programs of ``small_fit`` (one member)
and of the 2-member ensemble."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from causalmmm_jax.analysis import sensitivity_summary, sensitivity_table
from causalmmm_jax.errors import ConfigError
from causalmmm_jax.train import loop as loop_module
from causalmmm_jax.train.fit import fit
from causalmmm_jax.train.sweep import grid_points, sweep
from train_config import small_config


def _same_run(a, b):
    """Vmapped and single runs differ in float32 reduction order only: same predictions, losses and
    curve parameters (raw weights with near-zero gradients may wander under Adam's normalisation)."""
    np.testing.assert_allclose(np.asarray(a.decompose().prediction), np.asarray(b.decompose().prediction),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-3)
    for name in ("adstock_raw", "hill_a_raw", "hill_g_raw", "media_coeff_max_raw", "stable_media_coeff"):
        np.testing.assert_allclose(np.asarray(a.params[name]), np.asarray(b.params[name]), rtol=1e-3, atol=1e-4)
    assert a.metrics["holdout"]["r2"] == pytest.approx(b.metrics["holdout"]["r2"], abs=1e-4)


@pytest.fixture(scope="module")
def lr_sweep(small_panel, small_data):
    return sweep(small_panel, small_config(), over={"train.learning_rate": [0.01, 0.03]}, mapping=small_data.mapping)


def test_each_point_equals_its_own_fit(lr_sweep, small_fit, small_panel, small_data):
    assert lr_sweep.points == [{"train.learning_rate": 0.01}, {"train.learning_rate": 0.03}]
    first, second = lr_sweep.results
    # point 0 is small_config() itself: the fit the suite shares
    _same_run(first, small_fit)
    assert first.config.train.learning_rate == 0.01 and second.config.train.learning_rate == 0.03
    alone = fit(small_panel, small_config(learning_rate=0.03), mapping=small_data.mapping)
    _same_run(second, alone)
    assert second.epochs_run == alone.epochs_run and second.history["loss"].shape == alone.history["loss"].shape
    np.testing.assert_allclose(second.history["lr"][0], 0.03, rtol=1e-6)
    assert not np.allclose(first.history["loss"][5:10], second.history["loss"][5:10])

    frame = lr_sweep.frame()
    assert list(frame["train.learning_rate"]) == [0.01, 0.03]
    assert {"holdout_r2", "holdout_rmse", "media_share", "epochs_run", "stopped_early"} <= set(frame.columns)
    values, best = lr_sweep.best("holdout_rmse")
    assert best.metrics["holdout"]["rmse"] == frame["holdout_rmse"].min() and values in lr_sweep.points


def test_seeds_per_point_and_no_recompilation(lr_sweep, small_panel, small_data, monkeypatch):
    traces = []
    real = loop_module._epoch
    monkeypatch.setattr(loop_module, "_epoch", lambda *a, **k: (traces.append(1), real(*a, **k))[1])
    # one point × 2 seeds: the same 2-member program as the 2-point sweep, other values
    sw = sweep(small_panel, small_config(), over={"train.transform_prior_weight": [3.0]}, seeds=2,
               mapping=small_data.mapping)
    assert traces == []
    (r,) = sw.results
    assert r.n_seeds == 2 and r.seeds == sw.seeds == (42, 43)
    assert jax.tree_util.tree_leaves(r.params)[0].shape[0] == 2
    assert "bands" in r.metrics["holdout"] and r.history["loss"].shape[0] == 2
    table = sensitivity_table(sw)
    assert len(table) == small_panel.n_channels
    assert {"point", "train.transform_prior_weight", "channel", "contribution", "share", "roi"} <= set(table.columns)
    np.testing.assert_allclose(table["share"].sum(), 1.0, rtol=1e-6)


def test_sensitivity_summary_spans_the_points(lr_sweep, small_panel):
    table = sensitivity_table(lr_sweep)
    assert len(table) == 2 * small_panel.n_channels and set(table["point"]) == {0, 1}
    summary = sensitivity_summary(table)
    assert list(summary["channel"]) == list(small_panel.channels)
    for q in ("share", "roi"):
        assert (summary[f"{q}_min"] <= summary[f"{q}_max"]).all()
        by_point = table.pivot(index="channel", columns="point", values=q).loc[list(summary["channel"])]
        np.testing.assert_allclose(summary[f"{q}_max"], by_point.max(axis=1))
    assert np.isfinite(summary["holdout_rmse_spread"]).all()


def test_grid_is_the_cartesian_product_in_key_order():
    pts = grid_points({"train.learning_rate": [0.01, 0.03], "train.l2_weight": [0.0, 1e-3, 1e-2]})
    assert len(pts) == 6 and pts[0] == {"train.learning_rate": 0.01, "train.l2_weight": 0.0}
    assert pts[1] == {"train.learning_rate": 0.01, "train.l2_weight": 1e-3}


@pytest.mark.parametrize("over, match", [
    ({"model.hidden_dim": [8, 16]}, "model's structure"),
    ({"data.holdout_weeks": [8, 10]}, "data split"),
    ({"train.schedule": ["plateau", "cosine"]}, "schedule kind"),
    ({"train.seed": [1, 2]}, "seeds="),
    ({"train.no_such_setting": [1]}, "not a training setting"),
    ({"train.learning_rate": []}, "non-empty list"),
    ({}, "at least one key"),
    ({"train.learning_rate": [0.01, -1.0]}, r"sweep point \{'train.learning_rate': -1.0\}"),
    ({"train.static_epochs": [0, 100]}, "'static' phase has 0 epochs at some points"),
])
def test_sweep_refuses_what_cannot_share_a_program(small_panel, over, match):
    with pytest.raises(ConfigError, match=match):
        sweep(small_panel, small_config(), over=over)

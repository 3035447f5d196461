"""``model.seasonality="auto"`` (the default): the annual Fourier cycle with at least
``SEASONAL_MIN_FIT_WEEKS`` (104) fit weeks, none with fewer.  Fit weeks = training weeks minus
validation weeks (data/split.py); ``fit`` records the resolved choice in ``FitResult.config`` and
``FitResult.spec``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from causalmmm_jax.config import SEASONAL_MIN_FIT_WEEKS, Config, ModelConfig, resolve_model_config
from causalmmm_jax.data.synthetic import generate
from causalmmm_jax.train.fit import fit, prepare_data
from train_config import small_config


def test_threshold_is_two_years():
    assert SEASONAL_MIN_FIT_WEEKS == 104


@pytest.mark.parametrize("n_fit,want", [(0, "off"), (56, "off"), (103, "off"), (104, "fourier"), (300, "fourier")])
def test_auto_resolves_on_the_fit_weeks(n_fit, want):
    cfg = ModelConfig()
    assert cfg.seasonality == "auto"
    resolved = resolve_model_config(cfg, n_fit)
    assert resolved.seasonality == want
    # nothing else changes but the matmul type, resolved on the hardware
    assert resolved == dataclasses.replace(cfg, seasonality=want, matmul_dtype=resolved.matmul_dtype)
    assert resolved.matmul_dtype in ("float32", "bfloat16")


@pytest.mark.parametrize("explicit", ["fourier", "decompose", "off"])
@pytest.mark.parametrize("n_fit", [10, 104, 300])
def test_explicit_choices_are_kept(explicit, n_fit):
    cfg = ModelConfig(seasonality=explicit, matmul_dtype="float32")
    assert resolve_model_config(cfg, n_fit) is cfg


@pytest.mark.parametrize("fast", [True, False])
def test_matmul_dtype_auto_follows_the_hardware(monkeypatch, fast):
    """``matmul_dtype="auto"`` becomes bfloat16 where the hardware multiplies it faster, else
    float32; explicit choices are kept; the original's preset stays float32."""
    from causalmmm_jax import _hardware
    from causalmmm_jax.config import preset

    monkeypatch.setattr(_hardware, "fast_bfloat16_matmuls", lambda backend=None: fast)
    assert resolve_model_config(ModelConfig(), 104).matmul_dtype == ("bfloat16" if fast else "float32")
    for explicit in ("float32", "bfloat16"):
        assert resolve_model_config(ModelConfig(matmul_dtype=explicit), 104).matmul_dtype == explicit
    assert preset("deepcausalmmm-1.0.21").model.matmul_dtype == "float32"


def test_the_bfloat16_probe_reads_the_cpu_flags(monkeypatch):
    from causalmmm_jax import _hardware

    monkeypatch.setattr(_hardware, "cpu_bfloat16_flags", lambda: ("avx512_bf16",))
    assert _hardware.fast_bfloat16_matmuls("cpu") is True
    monkeypatch.setattr(_hardware, "cpu_bfloat16_flags", lambda: ())
    assert _hardware.fast_bfloat16_matmuls("cpu") is False
    assert _hardware.fast_bfloat16_matmuls("tpu") is True
    assert _hardware.fast_bfloat16_matmuls("metal") is False


@pytest.fixture(scope="module")
def long_panel():
    """3 regions × 108 weeks (2 channels, no controls)."""
    return generate(2, n_regions=3, n_weeks=108, n_channels=2, n_controls=0).panel()


@pytest.mark.parametrize("holdout,validation,n_fit,want", [
    (4, 0, 104, "fourier"),      # 104 training weeks, no validation block
    (4, 1, 103, "off"),          # the same training weeks; one of them validates: 103 fit weeks
    (3, 1, 104, "fourier"),
    (0, None, 100, "off"),       # automatic validation block (8 weeks) counts too
])
def test_fit_counts_fit_weeks_not_training_weeks(long_panel, holdout, validation, n_fit, want):
    """What ``fit`` resolves (its ``prepare_data`` step, no training): the fit block decides."""
    cfg = Config().updated(model={"hidden_dim": 8}, data={"holdout_weeks": holdout, "validation_weeks": validation,
                                                          "min_train_weeks": 20})
    split, *_, spec, _ = prepare_data(long_panel, cfg)
    assert split.n_fit == n_fit
    assert cfg.model.seasonality == "auto" and spec.config.seasonality == want


def test_short_fit_resolves_to_off(small_fit):
    """The shared small fit: 70 weeks, 8 holdout, 6 validation → 56 fit weeks: no cycle."""
    r = small_fit
    assert small_config().model.seasonality == "auto"
    assert r.split.n_fit == 56
    assert r.config.model.seasonality == "off" and r.spec.config.seasonality == "off"
    assert r.config.to_dict()["model"]["seasonality"] == "off"  # what config.json records
    assert not {"seasonal_fourier", "seasonal_fourier_region", "seasonal_coeff"} & set(r.params)
    np.testing.assert_array_equal(np.asarray(r.decompose().seasonality), 0.0)


def test_two_year_fit_resolves_to_fourier(long_panel):
    """104 fit weeks: a tiny fit learns the annual cycle (no pre-fit or warm start, 10 epochs; no
    DAG, trend or controls: the choice does not depend on them, and the model compiles ~2x faster)."""
    cfg = Config().updated(model={"hidden_dim": 8, "dag_mode": "off", "trend": "off"},
                           data={"holdout_weeks": 4, "validation_weeks": 0, "min_train_weeks": 20},
                           train={"epochs": 10, "chunk_epochs": 10, "warm_start_epochs": 0, "static_epochs": 0,
                                  "interval_draws": 0})
    r = fit(long_panel, cfg)
    assert r.split.n_fit == SEASONAL_MIN_FIT_WEEKS
    assert r.config.model.seasonality == "fourier" and r.spec.config.seasonality == "fourier"
    assert r.config.to_dict()["model"]["seasonality"] == "fourier"
    nf = 2 * r.spec.config.seasonal_harmonics
    assert np.asarray(r.member(0)["seasonal_fourier"]).shape == (nf,)
    assert np.asarray(r.member(0)["seasonal_fourier_region"]).shape == (3, nf)
    seas = np.asarray(r.decompose().seasonality)
    assert np.isfinite(seas).all() and np.abs(seas).max() > 0  # trained away from its zero start
    assert np.isfinite(r.metrics["train"]["r2"])

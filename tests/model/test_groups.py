"""The model's parameter groups (``causalmmm_jax.model.groups``): every parameter of every model
variant has exactly one, unknown parameters are refused, and the unions the training code uses are
the original's rules (clipping by ``coeff`` in the name; no decay on transform scalars)."""

from __future__ import annotations

import itertools

import jax
import pytest

from causalmmm_jax.config import ModelConfig
from causalmmm_jax.model.groups import (COEFFICIENT_GROUPS, GROUPS, PREFIT_GROUPS, STRUCTURAL_GROUPS, group_of,
                                        param_groups)
from causalmmm_jax.model.mmm import ModelSpec, init
from causalmmm_jax.train.optim import decay_mask, param_labels, static_labels

VARIANTS = list(itertools.product(("geometric", "weibull"), ("knots", "linear", "off"), ("fourier", "decompose", "off"),
                                  ("triangular", "notears", "off")))


def _named(tree):
    return {"/".join(str(k.key) for k in p): v for p, v in jax.tree_util.tree_leaves_with_path(tree)}


@pytest.mark.parametrize("adstock, trend, seasonality, dag", VARIANTS[::5] + [VARIANTS[-1]])
def test_every_parameter_of_every_variant_has_a_group(adstock, trend, seasonality, dag):
    cfg = ModelConfig(hidden_dim=4, adstock=adstock, trend=trend, seasonality=seasonality, dag_mode=dag,
                      media_region_sd=0.3 if dag == "off" else 0.0, media_drift_sd=0.1 if trend == "knots" else 0.0)
    for n_controls in (0, 2):
        spec = ModelSpec(3, 2, n_controls, cfg, n_knots=4 if trend == "knots" else 0)
        shapes = jax.eval_shape(lambda: init(jax.random.PRNGKey(0), spec))
        groups = _named(param_groups(shapes))
        assert set(groups.values()) <= set(GROUPS)
        labels = _named(param_labels(shapes))
        for name, g in groups.items():
            # the original's clipping rule: a name that mentions a coefficient
            assert (labels[name] == "coeff") == ("coeff" in name), name
            assert (g in STRUCTURAL_GROUPS) == (not name.startswith(("coeff_head", "ctrl_coeff_head", "stable_",
                                                                     "gru", "ctrl_mlp"))), name


def test_the_unions_drive_decay_clipping_and_the_prefit():
    spec = ModelSpec(3, 2, 2, ModelConfig(hidden_dim=4, seasonality="fourier"), n_knots=4)
    params = init(jax.random.PRNGKey(0), spec)
    groups, decay, prefit = _named(param_groups(params)), _named(decay_mask(params, False)), _named(static_labels(params))
    assert groups["ctrl_coeff_head/dense_2/bias"] == "control_bias" and groups["ctrl_coeff_max_raw"] == "control_scale"
    for name, g in groups.items():
        assert decay[name] == (g not in STRUCTURAL_GROUPS), name
        assert (prefit[name] == "static") == (g in PREFIT_GROUPS), name
    assert all(_named(decay_mask(params, True)).values())
    assert set(COEFFICIENT_GROUPS) | {"structural", "network"} == set(GROUPS)


def test_an_unknown_parameter_is_refused_by_name():
    with pytest.raises(KeyError, match="'new_head/kernel' has no group"):
        param_groups({"new_head": {"kernel": 1.0}})
    assert group_of(("hill_a_raw",)) == "structural"

"""The model's parameter groups: which leaves the optimiser, its clipping, weight decay and the
regularisers treat alike, decided by the model that owns the parameters.

Every leaf of :func:`~.mmm.init`'s pytree belongs to exactly one group; a leaf the table below
does not know raises (a new parameter cannot silently fall into the wrong group):

* ``"structural"``: transform and level scalars (adstock, Weibull, Hill, DAG, baselines, bias,
  prediction scale, seasonal and trend terms): no L1/L2 or weight decay by default, trained by
  the structural pre-fit;
* ``"coefficient_scale"``: the media coefficient ceiling and the seasonal coefficient: structural,
  in the coefficient clipping group, trained by the pre-fit;
* ``"control_scale"``: the control coefficient ceiling: structural, coefficient clipping group,
  not trained by the pre-fit;
* ``"control_bias"``: the control head's output bias (with the GRU state at zero: one constant
  effect per control): coefficient clipping group, trained by the pre-fit;
* ``"coefficient"``: the coefficient heads and the burn-in's stable coefficients;
* ``"network"``: the GRU and the control MLP.

:data:`STRUCTURAL_GROUPS`, :data:`COEFFICIENT_GROUPS` and :data:`PREFIT_GROUPS` are the unions the
training code uses (``optax.multi_transform`` labels, the weight-decay mask, the pre-fit's leaves).
"""

from __future__ import annotations

import jax

__all__ = ["GROUPS", "STRUCTURAL_GROUPS", "COEFFICIENT_GROUPS", "PREFIT_GROUPS", "param_groups", "group_of",
           "STRUCTURAL_NAMES", "REGION_PARAMS", "is_regional"]

GROUPS = ("structural", "coefficient_scale", "control_scale", "control_bias", "coefficient", "network")
STRUCTURAL_GROUPS = ("structural", "coefficient_scale", "control_scale")
#: the original's ``coeff`` clipping group (every parameter whose name mentions a coefficient)
COEFFICIENT_GROUPS = ("coefficient_scale", "control_scale", "control_bias", "coefficient")
#: what the structural pre-fit trains
PREFIT_GROUPS = ("structural", "coefficient_scale", "control_bias")

_TOP = {
    **{name: "structural" for name in (
        "adstock_raw", "weibull_shape_raw", "weibull_scale_raw", "hill_a_raw", "hill_g_raw", "dag_logits",
        "dag_mix_raw", "region_baseline", "global_bias", "prediction_scale", "seasonal_fourier",
        "seasonal_fourier_region", "media_region", "media_drift", "trend_slope", "trend_intercept", "trend_knots")},
    "media_coeff_max_raw": "coefficient_scale", "seasonal_coeff": "coefficient_scale",
    "ctrl_coeff_max_raw": "control_scale",
    "coeff_head": "coefficient", "ctrl_coeff_head": "coefficient", "stable_media_coeff": "coefficient",
    "stable_ctrl_coeff": "coefficient",
    "gru": "network", "ctrl_mlp": "network",
}
#: the control head's output bias (its last dense layer)
_CONTROL_BIAS = ("ctrl_coeff_head", "dense_2", "bias")

#: parameters with a leading region axis (one value per region): sharded over the ``"region"`` mesh
#: axis with the data (``causalmmm_jax.train.sharding``)
REGION_PARAMS = ("region_baseline", "seasonal_fourier_region", "media_region")

#: the top-level names of the structural groups (no L1/L2 or weight decay by default)
STRUCTURAL_NAMES = tuple(k for k, g in _TOP.items() if g in STRUCTURAL_GROUPS)


def _keys(path) -> tuple[str, ...]:
    return tuple(str(getattr(k, "key", getattr(k, "name", k))) for k in path)


def group_of(path) -> str:
    """The group of the leaf at ``path`` (a ``jax.tree_util`` key path or a tuple of names)."""
    keys = _keys(path) if path and not isinstance(path[0], str) else tuple(path)
    if keys == _CONTROL_BIAS:
        return "control_bias"
    try:
        return _TOP[keys[0]]
    except (KeyError, IndexError):
        raise KeyError(f"parameter {'/'.join(keys)!r} has no group: add it to causalmmm_jax.model.groups._TOP "
                       f"(one of {GROUPS})") from None


def param_groups(params):
    """A pytree like ``params`` holding each leaf's group name."""
    return jax.tree_util.tree_map_with_path(lambda path, _: group_of(path), params)


def is_regional(path) -> bool:
    """Whether the leaf at ``path`` (a parameter, or an optimiser moment or best-parameter copy of
    one: any key on the path counts) has a region axis."""
    return any(k in REGION_PARAMS for k in _keys(path))

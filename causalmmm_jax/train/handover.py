"""What one training phase hands to the next: the parameters it ends with (the best validation
parameters under early stopping), and after the structural pre-fit its constant coefficients as the
full model's stable ones (:func:`with_static_coefficients`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..model.mmm import ModelSpec, apply, dummy_inputs
from .loop import TrainState

__all__ = ["handover_params", "with_static_coefficients"]


def handover_params(states: TrainState):
    """The parameters a phase hands on: the best validation parameters of members that scored
    one (early stopping), the last ones otherwise."""
    if not bool(np.asarray(states.hyper.early_stop).any()):
        return states.params
    use_best = jnp.isfinite(states.best_metric)
    return jax.tree_util.tree_map(
        lambda b, p: jnp.where(use_best.reshape(use_best.shape + (1,) * (b.ndim - use_best.ndim)), b, p),
        states.best_params, states.params)


def with_static_coefficients(params, static_spec: ModelSpec, *, batched: bool = False) -> dict:
    """``params`` with the burn-in's stable β and γ set to the structural fit's constant
    coefficients, so the full model starts where the pre-fit ended (``batched``: ``params``
    stacked over ensemble members)."""
    params = dict(params)  # every other leaf is handed over as it is
    params.update(_static_coefficients(params, static_spec, batched))
    return params


@functools.partial(jax.jit, static_argnums=(1, 2))  # one compiled program, not hundreds of eager ops
def _static_coefficients(params, static_spec: ModelSpec, batched: bool) -> dict:
    """``{"stable_media_coeff": β, ["stable_ctrl_coeff": γ]}``: the structural fit's constants."""
    if batched:
        return jax.vmap(lambda p: _static_coefficients(p, static_spec, False))(params)
    # the shared, undrifted effect: the full model applies each region's multiplier and the drift itself
    params = {**params, **{k: jnp.zeros_like(params[k]) for k in ("media_region", "media_drift") if k in params}}
    d = apply(params, dummy_inputs(static_spec), static_spec)
    out = {"stable_media_coeff": d.media_coef[0, 0]}
    if "stable_ctrl_coeff" in params:
        out["stable_ctrl_coeff"] = d.control_coef[0, 0]
    return out

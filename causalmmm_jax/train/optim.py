"""Optax optimisers: per-group clipping, AdamW with a decay mask, LR schedules, warm start.

Main phase (the original's): clip the *coefficient* group (every parameter whose path mentions
``coeff``: heads, coefficient maxima, stable coefficients, seasonal coefficient) to global norm
``coeff_clip`` (1.0) and the rest to ``other_clip`` (2.0), then AdamW(lr 0.01, wd 5e-5).  Weight
decay skips the structural scalars (see ``objective.STRUCTURAL_PARAMS``) unless
``regularize_transforms``.  Schedules: ``plateau`` (``optax.contrib.reduce_on_plateau`` on the
training loss, patience 300, factor 0.8), ``cosine`` (to ``min_lr`` over the run), ``constant``.

Warm start: AdamW at lr × ``warm_start_lr_factor`` with one global clip at ``other_clip``.

Structural pre-fit (``train.static_epochs``): Adam with a cosine decay from ``static_learning_rate``
to 1 % of it over the pre-fit (so it settles instead of oscillating; clip ``other_clip``)
on :func:`static_labels`' ``"static"`` leaves only; every other leaf gets a zero update.
"""

from __future__ import annotations

import jax
import optax

from ..config import TrainConfig
from .objective import is_structural

__all__ = ["param_labels", "static_labels", "decay_mask", "make_optimizer", "make_warm_optimizer",
           "make_static_optimizer", "static_schedule", "current_lr"]

#: the control head's output bias: with the GRU state at zero it is the (constant) control effect
CTRL_BIAS_PATH = ("ctrl_coeff_head", "dense_2", "bias")


def param_labels(params):
    """Pytree of ``"coeff"`` / ``"other"`` labels (the original's two clipping groups)."""
    def label(path, _):
        return "coeff" if any("coeff" in str(getattr(k, "key", "")).lower() for k in path) else "other"

    return jax.tree_util.tree_map_with_path(label, params)


def static_labels(params):
    """``"static"`` for what the structural pre-fit trains (the structural scalars of
    ``objective.STRUCTURAL_PARAMS`` but the control ceilings, plus the control head's output bias,
    i.e. one effect per control), ``"frozen"`` for the rest (GRU, heads, stable coefficients)."""
    def label(path, _):
        keys = tuple(str(getattr(k, "key", "")) for k in path)
        trained = keys == CTRL_BIAS_PATH or (is_structural(path) and "ctrl_coeff_max_raw" not in keys)
        return "static" if trained else "frozen"

    return jax.tree_util.tree_map_with_path(label, params)


def decay_mask(params, regularize_transforms: bool):
    return jax.tree_util.tree_map_with_path(lambda p, _: regularize_transforms or not is_structural(p), params)


def _adamw(lr, tcfg: TrainConfig, params):
    return optax.adamw(lr, b1=tcfg.adam_b1, b2=tcfg.adam_b2, eps=tcfg.adam_eps, weight_decay=tcfg.weight_decay,
                       mask=decay_mask(params, tcfg.regularize_transforms))


def make_optimizer(tcfg: TrainConfig, params, n_epochs: int) -> optax.GradientTransformationExtraArgs:
    """Main-phase optimiser; its ``update`` accepts ``value=`` (the loss, for the plateau schedule)."""
    if tcfg.schedule == "cosine":
        lr = optax.cosine_decay_schedule(tcfg.learning_rate, max(n_epochs, 1),
                                         alpha=min(tcfg.min_lr / tcfg.learning_rate, 1.0))
    else:
        lr = tcfg.learning_rate
    parts = [
        optax.multi_transform({"coeff": optax.clip_by_global_norm(tcfg.coeff_clip),
                               "other": optax.clip_by_global_norm(tcfg.other_clip)}, param_labels(params)),
        _adamw(lr, tcfg, params),
    ]
    if tcfg.schedule == "plateau":
        parts.append(optax.contrib.reduce_on_plateau(
            factor=tcfg.plateau_factor, patience=tcfg.plateau_patience,
            min_scale=min(tcfg.min_lr / tcfg.learning_rate, 1.0)))
    return optax.chain(*parts)


def make_warm_optimizer(tcfg: TrainConfig, params) -> optax.GradientTransformationExtraArgs:
    return optax.chain(optax.clip_by_global_norm(tcfg.other_clip),
                       _adamw(tcfg.learning_rate * tcfg.warm_start_lr_factor, tcfg, params))


def static_schedule(tcfg: TrainConfig) -> optax.Schedule:
    """The pre-fit's learning rate by epoch: cosine from ``static_learning_rate`` to 1 % of it."""
    return optax.cosine_decay_schedule(tcfg.static_learning_rate, max(tcfg.static_epochs, 1), alpha=0.01)


def make_static_optimizer(tcfg: TrainConfig, params) -> optax.GradientTransformation:
    return optax.multi_transform(
        {"static": optax.chain(optax.clip_by_global_norm(tcfg.other_clip), optax.adam(static_schedule(tcfg))),
         "frozen": optax.set_to_zero()}, static_labels(params))


def current_lr(opt_state, tcfg: TrainConfig, epoch) -> jax.Array:
    """The learning rate in effect (for progress reports)."""
    if tcfg.schedule == "plateau":
        return tcfg.learning_rate * opt_state[-1].scale
    if tcfg.schedule == "cosine":
        return optax.cosine_decay_schedule(tcfg.learning_rate, max(tcfg.epochs, 1),
                                           alpha=min(tcfg.min_lr / tcfg.learning_rate, 1.0))(epoch)
    return tcfg.learning_rate

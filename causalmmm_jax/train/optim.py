"""Optax optimisers: per-group clipping, AdamW with a decay mask, LR schedules, warm start.

Main phase (the original's): clip the *coefficient* group (every parameter whose path mentions
``coeff``: heads, coefficient maxima, stable coefficients, seasonal coefficient) to global norm
``coeff_clip`` (1.0) and the rest to ``other_clip`` (2.0), then AdamW(lr 0.01, wd 5e-5).  Weight
decay skips the structural scalars (see ``objective.STRUCTURAL_PARAMS``) unless
``regularize_transforms``.  Schedules: ``plateau`` (``optax.contrib.reduce_on_plateau`` on the
training loss, patience 300, factor 0.8), ``cosine`` (to ``min_lr`` over the run), ``constant``.

Warm start: AdamW at lr × ``warm_start_lr_factor`` with one global clip at ``other_clip``.
"""

from __future__ import annotations

import jax
import optax

from ..config import TrainConfig
from .objective import is_structural

__all__ = ["param_labels", "decay_mask", "make_optimizer", "make_warm_optimizer", "current_lr"]


def param_labels(params):
    """Pytree of ``"coeff"`` / ``"other"`` labels (the original's two clipping groups)."""
    def label(path, _):
        return "coeff" if any("coeff" in str(getattr(k, "key", "")).lower() for k in path) else "other"

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


def current_lr(opt_state, tcfg: TrainConfig, epoch) -> jax.Array:
    """The learning rate in effect (for progress reports)."""
    if tcfg.schedule == "plateau":
        return tcfg.learning_rate * opt_state[-1].scale
    if tcfg.schedule == "cosine":
        return optax.cosine_decay_schedule(tcfg.learning_rate, max(tcfg.epochs, 1),
                                           alpha=min(tcfg.min_lr / tcfg.learning_rate, 1.0))(epoch)
    return tcfg.learning_rate

"""Optax optimisers: per-group clipping, AdamW with a decay mask, LR schedules, warm start.

Every number an optimiser reads lives in its state (``optax.inject_hyperparams``:
``opt_state.hyperparams``), so the compiled training program does not depend on them; the
optimiser object itself is built from structure only (:func:`phase_optimizer`).

Main phase (the original's): clip the *coefficient* group (every parameter whose path mentions
``coeff``: heads, coefficient maxima, stable coefficients, seasonal coefficient: the model's
coefficient groups, :mod:`causalmmm_jax.model.groups`) to global norm ``coeff_clip`` (1.0) and the
rest to ``other_clip`` (2.0), then AdamW(lr 0.01, wd 5e-5).  Weight decay skips the model's
structural groups unless ``regularize_transforms``.  Schedules: ``plateau`` (``optax.contrib.reduce_on_plateau`` on the
training loss, patience 300, factor 0.8), ``cosine`` (to ``min_lr`` over the run), ``constant``.

Warm start: AdamW at lr × ``warm_start_lr_factor`` with one global clip at ``other_clip``: the
main phase's optimiser with other values (``group_clip`` 0, plateau ``min_scale`` 1), so both
phases share one compiled program.

Structural pre-fit (``train.static_epochs``): Adam with a cosine decay from ``static_learning_rate``
to 1 % of it over the pre-fit (so it settles instead of oscillating; clip ``other_clip``)
on :func:`static_labels`' ``"static"`` leaves only; every other leaf gets a zero update.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from ..config import TrainConfig
from ..model.groups import (
    COEFFICIENT_GROUPS,
    PREFIT_GROUPS,
    STRUCTURAL_GROUPS,
    param_groups,
)
from .hyper import phase_rate

__all__ = ["param_labels", "static_labels", "decay_mask", "clip_groups", "reduce_on_plateau", "phase_optimizer",
           "optimizer_hyperparams", "make_optimizer", "cosine_rate", "current_lr"]

def param_labels(params):
    """Pytree of ``"coeff"`` / ``"other"`` labels (the original's two clipping groups: the model's
    coefficient groups, :data:`causalmmm_jax.model.groups.COEFFICIENT_GROUPS`)."""
    return jax.tree_util.tree_map(lambda g: "coeff" if g in COEFFICIENT_GROUPS else "other", param_groups(params))


def static_labels(params):
    """``"static"`` for what the structural pre-fit trains (the model's
    :data:`~causalmmm_jax.model.groups.PREFIT_GROUPS`: the structural scalars but the control
    ceilings, plus the control head's output bias, i.e. one effect per control), ``"frozen"`` for
    the rest (GRU, heads, stable coefficients)."""
    return jax.tree_util.tree_map(lambda g: "static" if g in PREFIT_GROUPS else "frozen", param_groups(params))


def decay_mask(params, regularize_transforms: bool):
    """True where weight decay applies: every leaf outside the model's structural groups (all of
    them with ``regularize_transforms``)."""
    return jax.tree_util.tree_map(lambda g: regularize_transforms or g not in STRUCTURAL_GROUPS, param_groups(params))


def clip_groups(coeff_clip, other_clip, group_clip) -> optax.GradientTransformation:
    """Clip the ``"coeff"`` and ``"other"`` groups of :func:`param_labels` to their own global norms
    (``group_clip`` true: the main phase) or the whole gradient to ``other_clip`` (false: the warm
    start).  Stateless; all three arguments may be traced."""
    grouped = optax.multi_transform({"coeff": optax.clip_by_global_norm(coeff_clip),
                                     "other": optax.clip_by_global_norm(other_clip)}, param_labels)
    whole = optax.clip_by_global_norm(other_clip)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        by_group, _ = grouped.update(updates, grouped.init(updates), params)
        at_once, _ = whole.update(updates, whole.init(updates), params)
        on = jnp.asarray(group_clip) > 0
        return jax.tree_util.tree_map(lambda a, b: jnp.where(on, a, b), by_group, at_once), state

    return optax.GradientTransformation(init_fn, update_fn)


def reduce_on_plateau(factor, patience, min_scale, rtol: float = 1e-4, atol: float = 0.0
                      ) -> optax.GradientTransformationExtraArgs:
    """``optax.contrib.reduce_on_plateau`` (``accumulation_size=1``, ``cooldown=0``) with traced
    ``factor``, ``patience`` and ``min_scale``: optax's checks ``factor`` with a Python ``if``, so it
    cannot take a traced factor.  Same state type and the same arithmetic as optax's, step for step:
    after each update, a loss not below ``(1 − rtol)·best − atol`` counts toward the plateau; after
    ``patience`` such updates the scale becomes ``max(scale·factor, min_scale)``."""
    template = optax.contrib.reduce_on_plateau(factor=0.5, rtol=rtol, atol=atol)  # its init

    def update_fn(updates, state, params=None, *, value, **extra_args):
        del params, extra_args
        avg = (state.count * state.avg_value + jnp.astype(value, state.avg_value.dtype)) / (state.count + 1)
        improved = avg < (1 - rtol) * state.best_value - atol
        best = jnp.where(improved, avg.astype(state.best_value.dtype), state.best_value)
        plateau = jnp.where(improved, 0, state.plateau_count + 1)
        hit = plateau == patience
        scale = jnp.maximum(jnp.where(hit, state.scale * factor, state.scale), min_scale)
        new_state = state._replace(plateau_count=jnp.where(hit, 0, plateau).astype(jnp.int32), best_value=best,
                                   scale=scale.astype(state.scale.dtype), count=jnp.asarray(0, jnp.int32),
                                   avg_value=jnp.asarray(0.0, state.avg_value.dtype))
        return jax.tree_util.tree_map(lambda g: new_state.scale * g, updates), new_state

    return optax.GradientTransformationExtraArgs(template.init, update_fn)


def _main_factory(plateau: bool, regularize_transforms: bool):
    mask = functools.partial(decay_mask, regularize_transforms=regularize_transforms)

    def chain(learning_rate, weight_decay, b1, b2, eps, coeff_clip, other_clip, group_clip,
              plateau_factor=0.8, plateau_patience=300, plateau_min_scale=0.0):
        parts = [clip_groups(coeff_clip, other_clip, group_clip),
                 optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay, mask=mask)]
        if plateau:
            parts.append(reduce_on_plateau(plateau_factor, plateau_patience, plateau_min_scale))
        return optax.chain(*parts)

    if plateau:
        return chain

    def no_plateau(learning_rate, weight_decay, b1, b2, eps, coeff_clip, other_clip, group_clip):
        return chain(learning_rate, weight_decay, b1, b2, eps, coeff_clip, other_clip, group_clip)

    return no_plateau


def _static_factory(learning_rate, b1, b2, eps, other_clip):
    return optax.multi_transform(
        {"static": optax.chain(optax.clip_by_global_norm(other_clip), optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)),
         "frozen": optax.set_to_zero()}, static_labels)


def phase_optimizer(kind: str, schedule: str = "plateau", regularize_transforms: bool = False,
                    hyperparams: dict | None = None) -> optax.GradientTransformationExtraArgs:
    """The optimiser of a phase kind, ``optax.inject_hyperparams``-wrapped: ``"static"`` (the
    structural pre-fit: clip + Adam on :func:`static_labels`' leaves, zero updates elsewhere) or
    ``"main"`` (warm start and main phase: :func:`clip_groups`, AdamW with the decay mask, then
    reduce-on-plateau when ``schedule == "plateau"``).  ``hyperparams`` (from
    :func:`optimizer_hyperparams`) are the values ``init`` stores; ``update`` reads the state's, so the
    same object serves every value.  Its ``update`` accepts ``value=`` (the loss, for the plateau)."""
    values = dict(hyperparams or optimizer_hyperparams(None, "static" if kind == "static" else "main",
                                                       schedule=schedule))
    if kind == "static":
        return optax.inject_hyperparams(_static_factory)(**values)
    if kind != "main":
        raise ValueError(f"optimiser kind must be 'static' or 'main', got {kind!r}")
    return optax.inject_hyperparams(_main_factory(schedule == "plateau", regularize_transforms))(**values)


def optimizer_hyperparams(tcfg: TrainConfig | None, phase: str, *, schedule: str | None = None) -> dict:
    """The values :func:`phase_optimizer` stores for ``phase`` under ``tcfg`` (``None``: the defaults)."""
    tcfg = tcfg or TrainConfig()
    schedule = schedule or tcfg.schedule
    adam = {"b1": tcfg.adam_b1, "b2": tcfg.adam_b2, "eps": tcfg.adam_eps}
    rate, floor = phase_rate(tcfg, phase)
    if phase == "static":
        return {"learning_rate": rate, **adam, "other_clip": tcfg.other_clip}
    out = {"learning_rate": rate, "weight_decay": tcfg.weight_decay, **adam, "coeff_clip": tcfg.coeff_clip,
           "other_clip": tcfg.other_clip, "group_clip": 0.0 if phase == "warm" else 1.0}
    if schedule == "plateau":
        out.update(plateau_factor=tcfg.plateau_factor, plateau_patience=tcfg.plateau_patience, plateau_min_scale=floor)
    return out


def make_optimizer(tcfg: TrainConfig, phase: str = "main") -> optax.GradientTransformationExtraArgs:
    """``phase``'s optimiser holding ``tcfg``'s values (what ``init_state`` uses)."""
    kind = "static" if phase == "static" else "main"
    return phase_optimizer(kind, tcfg.schedule, tcfg.regularize_transforms, optimizer_hyperparams(tcfg, phase))


def cosine_rate(learning_rate, count, n_epochs, alpha):
    """optax's cosine decay with traced arguments: ``lr·((1 − α)·½(1 + cos(π·min(t, N)/N)) + α)``."""
    steps = jnp.maximum(n_epochs, 1).astype(jnp.float32)
    t = jnp.minimum(count.astype(jnp.float32), steps)
    return learning_rate * ((1.0 - alpha) * (0.5 * (1.0 + jnp.cos(jnp.pi * t / steps))) + alpha)


def current_lr(opt_state) -> jax.Array:
    """The learning rate the last update used: the state's ``learning_rate`` hyper-parameter
    (``optax.inject_hyperparams``) times the plateau scale when there is one (both found by name,
    whatever the chain's order); NaN for an optimiser that does not expose its rate."""
    found = optax.tree_utils.tree_get_all_with_path(opt_state, "learning_rate")
    if not found:
        return jnp.float32(jnp.nan)
    lr = jnp.asarray(found[0][1], jnp.float32)
    scales = optax.tree_utils.tree_get_all_with_path(opt_state, "scale")
    return lr if not scales else lr * scales[0][1]

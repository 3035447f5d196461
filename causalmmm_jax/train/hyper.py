"""Hyper-parameters as data: the numbers a training phase reads, as a pytree of arrays.

A compiled training program depends only on structure (the model spec, the chunk length, whether
members are batched, and the few choices below that change the computation's shape: the LR
schedule kind, the prior mode, whether transform scalars are regularised).  Every number the
objective, the loop and the optimiser read (loss weights, prior scales, learning rate, clipping
norms, epochs, early-stopping settings, NOTEARS schedule) is a leaf of :class:`Hyper` (carried in
``TrainState.hyper``) or of the optimiser's ``opt_state.hyperparams`` (``optax.inject_hyperparams``).
So a new seed, learning rate or loss weight reuses the compiled program, and a grid over them is a
``vmap`` over states built with different values (see :mod:`.ensemble`).

:func:`phase_hyper` gives the values of each of ``fit``'s three phases for a :class:`TrainConfig`:
``"static"`` (the structural pre-fit), ``"warm"`` (the warm start) and ``"main"``.  The warm start
and the main phase run the same program: the warm start's differences are values (MSE instead of
Huber, one global clipping norm instead of two groups, a constant rate, no early stopping, no
NOTEARS dual updates).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
from flax import struct

from ..config import TrainConfig

__all__ = ["Hyper", "phase_hyper", "phase_rate", "PHASES", "LOSS_FIELDS"]

PHASES = ("static", "warm", "main")

#: the objective's numbers, named as in :class:`TrainConfig` (so ``objective`` reads either)
LOSS_FIELDS = ("huber_delta", "dag_weight", "sparsity_weight", "l1_weight", "l2_weight", "media_share_prior",
               "media_share_weight", "media_l1_weight", "coef_pooling_weight", "transform_prior_weight",
               "hill_g_prior_sd", "hill_g_prior_sd_flighted", "hill_a_prior_sd", "seasonal_prior",
               "seasonal_prior_weight", "notears_lambda1", "notears_group_l1", "calibration_weight")
_INT_FIELDS = ("n_epochs", "patience", "eval_every", "notears_dual_every", "notears_warmup_epochs")
_BOOL_FIELDS = ("loss_mse", "early_stop", "dual_updates")


@struct.dataclass
class Hyper:
    """Traced hyper-parameters of one phase (scalars; a leading member axis in ensembles and sweeps).

    Schedule: ``n_epochs`` (epochs the phase runs; later scan steps are no-ops), ``learning_rate``
    (the phase's base rate), ``cosine_alpha`` (final / initial rate of the cosine schedule).
    Loop: ``loss_mse`` (MSE instead of Huber), ``early_stop``, ``patience``, ``min_delta``,
    ``eval_every``, ``dual_updates`` (NOTEARS dual ascent in this phase), ``notears_dual_every``,
    ``notears_dual_factor``, ``notears_rho_max``, ``notears_warmup_epochs``.
    Objective: :data:`LOSS_FIELDS`, as documented on :class:`TrainConfig`.
    Static (part of the program's structure): ``schedule``, ``prior_mode``, ``regularize_transforms``.
    """

    n_epochs: jnp.ndarray
    learning_rate: jnp.ndarray
    cosine_alpha: jnp.ndarray
    loss_mse: jnp.ndarray
    early_stop: jnp.ndarray
    patience: jnp.ndarray
    min_delta: jnp.ndarray
    eval_every: jnp.ndarray
    dual_updates: jnp.ndarray
    notears_dual_every: jnp.ndarray
    notears_dual_factor: jnp.ndarray
    notears_rho_max: jnp.ndarray
    notears_warmup_epochs: jnp.ndarray
    huber_delta: jnp.ndarray
    dag_weight: jnp.ndarray
    sparsity_weight: jnp.ndarray
    l1_weight: jnp.ndarray
    l2_weight: jnp.ndarray
    media_share_prior: jnp.ndarray
    media_share_weight: jnp.ndarray
    media_l1_weight: jnp.ndarray
    coef_pooling_weight: jnp.ndarray
    transform_prior_weight: jnp.ndarray
    hill_g_prior_sd: jnp.ndarray
    hill_g_prior_sd_flighted: jnp.ndarray
    hill_a_prior_sd: jnp.ndarray
    seasonal_prior: jnp.ndarray
    seasonal_prior_weight: jnp.ndarray
    notears_lambda1: jnp.ndarray
    notears_group_l1: jnp.ndarray
    calibration_weight: jnp.ndarray
    schedule: str = struct.field(pytree_node=False, default="plateau")
    prior_mode: str = struct.field(pytree_node=False, default="quadratic")
    regularize_transforms: bool = struct.field(pytree_node=False, default=False)

    if TYPE_CHECKING:  # flax.struct adds replace(); declared for the type checker
        def replace(self, **changes: Any) -> "Hyper": ...


def _array(name: str, value):
    if name in _BOOL_FIELDS:
        return jnp.asarray(bool(value), jnp.bool_)
    if name in _INT_FIELDS:
        return jnp.asarray(int(value), jnp.int32)
    return jnp.asarray(float(value), jnp.float32)


def phase_rate(tcfg: TrainConfig, phase: str) -> tuple[float, float]:
    """``(learning rate, floor)`` of a phase: the base rate and the lowest fraction of it the
    schedule reaches (the cosine's final ratio; the plateau's ``min_scale``): pre-fit
    ``static_learning_rate`` down to 1 %, warm start ``learning_rate × warm_start_lr_factor``
    held constant, main phase ``learning_rate`` down to ``min_lr``."""
    if phase == "static":
        return tcfg.static_learning_rate, 0.01
    if phase == "warm":
        return tcfg.learning_rate * tcfg.warm_start_lr_factor, 1.0
    return tcfg.learning_rate, min(tcfg.min_lr / tcfg.learning_rate, 1.0)


def phase_hyper(tcfg: TrainConfig, phase: str = "main", *, early_stop: bool | None = None) -> Hyper:
    """The :class:`Hyper` of ``phase`` (``"static"``, ``"warm"`` or ``"main"``) under ``tcfg``.

    ``early_stop`` (main phase) defaults to ``tcfg.early_stopping``; ``fit`` turns it off when the
    split has no validation weeks."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    main = phase == "main"
    values = {name: getattr(tcfg, name) for name in LOSS_FIELDS}
    values.update(patience=tcfg.patience, min_delta=tcfg.min_delta, eval_every=tcfg.eval_every,
                  notears_dual_every=tcfg.notears_dual_every, notears_dual_factor=tcfg.notears_dual_factor,
                  notears_rho_max=tcfg.notears_rho_max, notears_warmup_epochs=tcfg.notears_warmup_epochs,
                  loss_mse=phase == "warm", dual_updates=main,
                  early_stop=main and (tcfg.early_stopping if early_stop is None else early_stop))
    rate, floor = phase_rate(tcfg, phase)
    epochs = {"static": tcfg.static_epochs, "warm": tcfg.warm_start_epochs, "main": tcfg.epochs}[phase]
    values.update(n_epochs=epochs, learning_rate=rate, cosine_alpha=floor)
    schedule = "cosine" if phase == "static" else tcfg.schedule
    return Hyper(**{k: _array(k, v) for k, v in values.items()}, schedule=schedule, prior_mode=tcfg.prior_mode,
                 regularize_transforms=tcfg.regularize_transforms)

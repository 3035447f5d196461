"""On-device training loop: jit-compiled chunks of epochs with ``lax.scan``.

One epoch = one full-batch step (all regions × training weeks).  A chunk scans ``length`` epochs
in one compiled call and returns per-epoch metrics as device arrays; the host only looks at the
state between chunks (progress, all-stopped check).  Everything in ``TrainState`` is a pytree,
hyper-parameters included (``state.hyper``: :class:`~.hyper.Hyper`; the optimiser's numbers in
``state.opt_state.hyperparams``), so the compiled program depends only on structure (model spec,
chunk length, batching) and the same functions ``vmap`` over seeds or hyper-parameters.

Three phases run through these chunks: the structural pre-fit (``spec.constant_coefficients``: constant
coefficients, only the structural leaves move; its own program), the warm start and the main
phase (one program: the warm start is the main phase's step with other values, see
:func:`~.hyper.phase_hyper`).  Per epoch, inside the compiled program:
1. loss and gradients (dropout key split from the state's key);
2. a non-finite loss or gradient leaves params/optimiser state untouched and stops the run
   (``nonfinite``), keeping the last good parameters;
3. NOTEARS (when ``hyper.dual_updates``): the penalty switches on after ``notears_warmup_epochs``;
   every ``notears_dual_every`` epochs the duals update (the original's schedule);
4. every ``eval_every`` epochs (when ``hyper.early_stop``) a deterministic forward scores the
   validation block; early stopping keeps the best parameters (improvement > ``min_delta``) and
   stops after ``patience`` evaluations without improvement.
Epochs beyond ``hyper.n_epochs`` or after a stop are no-ops with NaN metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ..model import dag as dag_lib
from ..model.mmm import ModelSpec, apply
from .hyper import Hyper
from .objective import TrainData, masked_mean, objective
from .optim import cosine_rate, current_lr, phase_optimizer

__all__ = ["TrainState", "make_chunk", "METRIC_NAMES"]

METRIC_NAMES = ("loss", "base", "rmse_fit", "rmse_val", "media_share", "lr", "dag", "h")


@struct.dataclass
class TrainState:
    params: dict
    opt_state: optax.OptState
    notears: dag_lib.NotearsState
    key: jax.Array
    epoch: jnp.ndarray          # epochs done in this phase
    best_params: dict
    best_metric: jnp.ndarray    # best validation RMSE (scaled)
    best_epoch: jnp.ndarray
    bad_evals: jnp.ndarray
    last_val: jnp.ndarray
    stopped: jnp.ndarray        # early-stopped or non-finite
    nonfinite: jnp.ndarray
    hyper: Hyper

    if TYPE_CHECKING:  # flax.struct adds replace(); declared for the type checker
        def replace(self, **changes: Any) -> "TrainState": ...


def _select(pred, a, b):
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def _epoch(state: TrainState, data: TrainData, spec: ModelSpec, optimizer=None):
    """One epoch (``optimizer``: a user's ``optax`` transformation with extra-args support, or
    None for the built-in optimiser of the phase kind, rebuilt here from the state's numbers)."""
    hp = state.hyper
    opt_state = state.opt_state
    if optimizer is None:
        opt = phase_optimizer("static" if spec.constant_coefficients else "main", hp.schedule, hp.regularize_transforms,
                              state.opt_state.hyperparams)
    else:
        opt = optimizer
    if optimizer is None and hp.schedule == "cosine":  # the rate of this step, written where the optimiser reads it
        lr = cosine_rate(hp.learning_rate, opt_state.count, hp.n_epochs, hp.cosine_alpha)
        opt_state = opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": lr})
    key, drop_key = jax.random.split(state.key)
    notears = state.notears if spec.config.dag_mode == "notears" else None
    (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(
        state.params, data, spec, hp, notears, drop_key if spec.config.dropout > 0 else None, hp.loss_mse)
    updates, new_opt = opt.update(grads, opt_state, state.params, value=loss)
    new_params = optax.apply_updates(state.params, updates)

    running = (~state.stopped) & (state.epoch < hp.n_epochs)
    # one reduction: the global norm is non-finite iff some gradient element is (or it overflows)
    finite = jnp.isfinite(loss) & jnp.isfinite(optax.tree.norm(grads))
    step_ok = running & finite
    # lax.cond rather than an element-wise select over every leaf: same values, a much smaller
    # program to compile (under vmap it becomes that select)
    params, opt_state = jax.lax.cond(step_ok, lambda: (new_params, new_opt), lambda: (state.params, state.opt_state))
    nonfinite = state.nonfinite | (running & ~finite)
    epoch = state.epoch + running.astype(jnp.int32)

    # NOTEARS warm-up switch and dual updates (main phase only), after the step as the original
    nt = state.notears
    h = jnp.float32(0.0)
    if notears is not None and not spec.constant_coefficients:
        w = dag_lib.adjacency(params["dag_logits"], dag_lib.dag_mask(spec.n_channels, "notears"),
                              spec.config.dag_temperature)
        e = epoch - 1  # index of the epoch just run
        live = running & hp.dual_updates
        activate = live & (e >= hp.notears_warmup_epochs)
        nt = nt._replace(active=nt.active | activate)
        do_dual = live & nt.active & (e > 0) & (e % hp.notears_dual_every == 0)
        updated, h = dag_lib.notears_update(nt, w, hp.notears_dual_factor, hp.notears_rho_max)  # h(W) after the step
        nt = _select(do_dual, updated, nt)

    # validation and early stopping
    state = state.replace(params=params, opt_state=opt_state, notears=nt, key=key, epoch=epoch,
                          nonfinite=nonfinite, stopped=state.stopped | nonfinite)
    if not spec.constant_coefficients:
        def evaluate(s):
            d = apply(s.params, data.inputs, spec)
            return jnp.sqrt(masked_mean((d.prediction - data.target) ** 2, data.val_w))

        is_eval = hp.early_stop & running & finite & ((epoch % hp.eval_every) == 0)
        val = jax.lax.cond(is_eval, evaluate, lambda s: s.last_val, state)
        improved = is_eval & (val < state.best_metric - hp.min_delta)
        bad = jnp.where(is_eval, jnp.where(improved, 0, state.bad_evals + 1), state.bad_evals)
        state = state.replace(
            last_val=val, best_params=jax.lax.cond(improved, lambda: state.params, lambda: state.best_params),
            best_metric=jnp.where(improved, val, state.best_metric),
            best_epoch=jnp.where(improved, epoch, state.best_epoch), bad_evals=bad,
            stopped=state.stopped | (hp.early_stop & (bad >= hp.patience)))
    metrics = {"loss": loss, "base": aux["base"], "rmse_fit": aux["rmse_fit"], "rmse_val": state.last_val,
               "media_share": aux["media_share"], "lr": jnp.float32(current_lr(new_opt)),
               "dag": aux["dag"], "h": h}
    metrics = {k: jnp.where(running, v, jnp.nan) for k, v in metrics.items()}
    return state, metrics


def make_chunk(spec: ModelSpec, *, length: int, optimizer: optax.GradientTransformation | None = None):
    """``chunk(state, data) -> (state, metrics)`` running ``length`` epochs with ``lax.scan``
    (epochs beyond ``state.hyper.n_epochs`` or after a stop are no-ops; their metrics are NaN).
    ``optimizer``: a user's ``optax`` transformation (None: the built-in one of the phase kind).
    Not jitted: wrap with ``jax.jit`` (and ``jax.vmap`` for ensembles), see :mod:`.ensemble`."""
    tx = None if optimizer is None else optax.with_extra_args_support(optimizer)

    def chunk(state: TrainState, data: TrainData):
        def body(s: TrainState, _):
            # a real branch on one device: epochs after a stop or past n_epochs cost nothing (under
            # vmap both branches run and _epoch's own masking keeps finished members unchanged)
            running = (~s.stopped) & (s.epoch < s.hyper.n_epochs)
            return jax.lax.cond(running, lambda s: _epoch(s, data, spec, tx), _skip, s)

        return jax.lax.scan(body, state, None, length=length)

    return chunk


def _skip(state: TrainState):
    return state, {k: jnp.float32(jnp.nan) for k in METRIC_NAMES}

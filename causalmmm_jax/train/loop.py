"""On-device training loop: jit-compiled chunks of epochs with ``lax.scan``.

One epoch = one full-batch step (all regions × training weeks).  ``run_chunk`` scans
``chunk_epochs`` epochs in one compiled call and returns per-epoch metrics as device arrays; the
host only looks at the state between chunks (progress, all-stopped check).  Everything in
``TrainState`` is a pytree, so the same functions ``vmap`` over seeds or hyper-parameters.

Three phases run through the same chunks: the structural pre-fit (``spec.static``: constant
coefficients, only the structural leaves move), the warm start (``warm``: MSE at a low rate) and
the main phase.  Per epoch, inside the compiled program:
1. loss and gradients (dropout key split from the state's key);
2. a non-finite loss or gradient leaves params/optimiser state untouched and stops the run
   (``nonfinite``), keeping the last good parameters;
3. NOTEARS: the penalty switches on after ``notears_warmup_epochs``; every
   ``notears_dual_every`` epochs the duals update (the original's schedule);
4. every ``eval_every`` epochs a deterministic forward scores the validation block; early stopping
   keeps the best parameters (improvement > ``min_delta``) and stops after ``patience``
   evaluations without improvement.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ..config import TrainConfig
from ..model import dag as dag_lib
from ..model.mmm import ModelSpec, apply
from .objective import TrainData, masked_mean, objective
from .optim import current_lr, make_optimizer, make_static_optimizer, make_warm_optimizer, static_schedule

__all__ = ["TrainState", "init_state", "make_chunk", "METRIC_NAMES"]

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


def _optimizer(tcfg: TrainConfig, params, warm: bool, static: bool = False):
    if static:
        return make_static_optimizer(tcfg, params)
    return make_warm_optimizer(tcfg, params) if warm else make_optimizer(tcfg, params, tcfg.epochs)


def init_state(params, key, tcfg: TrainConfig, warm: bool = False, static: bool = False) -> TrainState:
    """A fresh state for one phase (structural pre-fit, warm start or main) from ``params``."""
    opt = _optimizer(tcfg, params, warm, static)
    f32 = jnp.float32
    return TrainState(
        params=params, opt_state=opt.init(params),
        notears=dag_lib.notears_init(tcfg.notears_rho_init, tcfg.notears_alpha_init,
                                     active=tcfg.notears_warmup_epochs == 0),
        key=key, epoch=jnp.int32(0), best_params=params, best_metric=f32(jnp.inf), best_epoch=jnp.int32(0),
        bad_evals=jnp.int32(0), last_val=f32(jnp.nan), stopped=jnp.bool_(False), nonfinite=jnp.bool_(False))


def _select(pred, a, b):
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def _all_finite(tree) -> jnp.ndarray:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def _epoch(state: TrainState, data: TrainData, spec: ModelSpec, tcfg: TrainConfig, warm: bool,
           n_epochs: int, early_stop: bool):
    opt = _optimizer(tcfg, state.params, warm, spec.static)
    key, drop_key = jax.random.split(state.key)
    notears = state.notears if spec.config.dag_mode == "notears" else None
    (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(
        state.params, data, spec, tcfg, notears, drop_key if spec.config.dropout > 0 else None,
        "mse" if warm else "huber")
    updates, new_opt = opt.update(grads, state.opt_state, state.params, value=loss)
    new_params = optax.apply_updates(state.params, updates)

    running = (~state.stopped) & (state.epoch < n_epochs)
    finite = jnp.isfinite(loss) & _all_finite(grads)
    step_ok = running & finite
    params = _select(step_ok, new_params, state.params)
    opt_state = _select(step_ok, new_opt, state.opt_state)
    nonfinite = state.nonfinite | (running & ~finite)
    epoch = state.epoch + running.astype(jnp.int32)

    # NOTEARS warm-up switch and dual updates (main phase only), after the step as the original
    nt = state.notears
    h = jnp.float32(0.0)
    if notears is not None and not warm and not spec.static:
        w = dag_lib.adjacency(params["dag_logits"], dag_lib.dag_mask(spec.n_channels, "notears"),
                              spec.config.dag_temperature)
        e = epoch - 1  # index of the epoch just run
        activate = running & (e >= tcfg.notears_warmup_epochs)
        nt = nt._replace(active=nt.active | activate)
        do_dual = running & nt.active & (e > 0) & (e % tcfg.notears_dual_every == 0)
        updated, h = dag_lib.notears_update(nt, w, tcfg.notears_dual_factor, tcfg.notears_rho_max)
        nt = _select(do_dual, updated, nt)
        h = dag_lib.h_acyclicity(w)

    # validation and early stopping
    state = state.replace(params=params, opt_state=opt_state, notears=nt, key=key, epoch=epoch,
                          nonfinite=nonfinite, stopped=state.stopped | nonfinite)
    if early_stop and not warm and not spec.static:
        def evaluate(s):
            d = apply(s.params, data.inputs, spec)
            return jnp.sqrt(masked_mean((d.prediction - data.target) ** 2, data.val_w))

        is_eval = running & finite & ((epoch % tcfg.eval_every) == 0)
        val = jax.lax.cond(is_eval, evaluate, lambda s: s.last_val, state)
        improved = is_eval & (val < state.best_metric - tcfg.min_delta)
        bad = jnp.where(is_eval, jnp.where(improved, 0, state.bad_evals + 1), state.bad_evals)
        state = state.replace(
            last_val=val, best_params=_select(improved, state.params, state.best_params),
            best_metric=jnp.where(improved, val, state.best_metric),
            best_epoch=jnp.where(improved, epoch, state.best_epoch), bad_evals=bad,
            stopped=state.stopped | (bad >= tcfg.patience))
    metrics = {"loss": loss, "base": aux["base"], "rmse_fit": aux["rmse_fit"], "rmse_val": state.last_val,
               "media_share": aux["media_share"], "lr": _phase_lr(state.opt_state, tcfg, epoch, warm, spec.static),
               "dag": aux["dag"], "h": h}
    metrics = {k: jnp.where(running, v, jnp.nan) for k, v in metrics.items()}
    return state, metrics


def _phase_lr(opt_state, tcfg: TrainConfig, epoch, warm: bool, static: bool):
    if static:
        return jnp.float32(static_schedule(tcfg)(epoch))
    if warm:
        return jnp.float32(tcfg.learning_rate * tcfg.warm_start_lr_factor)
    return jnp.float32(current_lr(opt_state, tcfg, epoch))


def make_chunk(spec: ModelSpec, tcfg: TrainConfig, *, warm: bool, n_epochs: int, length: int, early_stop: bool):
    """``chunk(state, data) -> (state, metrics)`` running ``length`` epochs with ``lax.scan``
    (epochs beyond ``n_epochs`` or after a stop are no-ops; their metrics are NaN).  Not jitted:
    wrap with ``jax.jit`` (and ``jax.vmap`` for ensembles), see :mod:`.ensemble`."""
    def chunk(state: TrainState, data: TrainData):
        step = functools.partial(_epoch, data=data, spec=spec, tcfg=tcfg, warm=warm, n_epochs=n_epochs,
                                 early_stop=early_stop)
        return jax.lax.scan(lambda s, _: step(s), state, None, length=length)

    return chunk

"""The model route of :func:`~causalmmm_jax.analysis.budget.optimize_budget`: the KPI that the
media of the last ``weeks`` training weeks add when each channel's spend there is scaled, the
fitted model re-run (ensemble members averaged).  Module-level programs with the run's arrays as
arguments: one compiled program per model structure and shape, reused by every allocation on a
run (a target's budget search, several plans)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..model.mmm import apply
from ..train.result import FitResult
from .curves import train_sequence

__all__: list[str] = []


def _model_pred(params, inputs, win, u, spec):
    factor = 1.0 + win * (u - 1.0)
    return apply(params, inputs.replace(media=inputs.media * factor[None]), spec).prediction


def _model_total(x, members, base, inputs, win, safe, w, *, spec):
    """The model route's response: KPI the scaled window media add, ensemble members averaged
    (module level: one compiled program per run structure, reused across budgets)."""
    u = x.astype(jnp.float32) / safe
    return jax.vmap(lambda p, b0: ((_model_pred(p, inputs, win, u, spec) - b0) * w).sum())(members, base).mean()


@functools.lru_cache(maxsize=None)
def _model_total_for(spec):
    """One ``_model_total`` per model structure (the same object each time: a jit static argument)."""
    return functools.partial(_model_total, spec=spec)


@functools.partial(jax.jit, static_argnames="spec")
def _model_base(members, inputs, win, *, spec):
    return jax.vmap(lambda p: _model_pred(p, inputs, win, jnp.zeros(inputs.media.shape[-1]), spec))(members)


@functools.partial(jax.jit, static_argnames="spec")
def _model_off_one(x, args, *, spec):
    """Per channel: response − response with that channel's spend removed."""
    members, base, inputs, win, safe, w = args
    u = x / safe
    full = _model_total(x, members, base, inputs, win, safe, w, spec=spec)
    drop = jax.vmap(lambda e: _model_total((u * (1.0 - e)) * safe, members, base, inputs, win, safe, w, spec=spec))(
        jnp.eye(x.shape[0]))
    return full - drop


@functools.partial(jax.jit, static_argnames="spec")
def _model_grad(x, args, *, spec):
    return jax.grad(_model_total)(x, *args, spec=spec)


def _model_response(result: FitResult, weeks: int, window_spend: np.ndarray, values: np.ndarray | None = None):
    """``(response, args, per_channel(x) -> [C], grad(x) -> [C])`` of the model route:
    ``response(x, *args)`` for :func:`maximize_allocation`; ensemble members are averaged; KPI ×
    each region's ``values`` when given."""
    inputs, cells, tm = train_sequence(result)
    if values is not None:
        tm = tm * jnp.asarray(values, jnp.float32)
    seq = inputs.media.shape[1]
    window = np.zeros(seq)
    window[seq - weeks:] = 1.0
    after = jnp.asarray(np.cumsum(window) > 0, jnp.float32)[None, :]  # weeks from the window start on
    members = result.params
    spec = result.spec
    safe = jnp.asarray(np.where(window_spend > 0, window_spend, 1.0), jnp.float32)
    win = jnp.asarray(window, jnp.float32)[:, None]
    w = cells * tm[:, None] * after
    base = _model_base(members, inputs, win, spec=spec)  # [N, R, T]
    args = (members, base, inputs, win, safe, w)
    per_channel = lambda x: np.asarray(_model_off_one(jnp.asarray(x, jnp.float32), args, spec=spec),  # noqa: E731
                                       np.float64)
    grad_fn = lambda x: np.asarray(_model_grad(jnp.asarray(x, jnp.float32), args, spec=spec), np.float64)  # noqa: E731
    return _model_total_for(spec), args, per_channel, grad_fn

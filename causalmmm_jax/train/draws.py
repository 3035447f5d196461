"""Anchored draws: an ensemble of the structural model whose members each train on their own draw of
the priors' centres and their own Bayesian-bootstrap weights of the data, side by side as one vmapped
program ("randomise-then-optimise": anchored ensembles, Pearce et al. 2020; randomised prior
functions, Osband et al. 2018; the Bayesian bootstrap, Rubin 1981).

Member k minimises the structural pre-fit's objective (constant coefficients, ``train.static_epochs``
epochs from the data-driven start, the pre-fit's schedule) with

* the Hill priors' centres drawn from the priors themselves: ``log(g/Ā)`` centre + sd_g,c·ε and
  slope centre + sd_a·ε (sd / √``transform_prior_weight``: the prior's effective sd);
* the Gaussian priors on the knot trend's steps, the seasonal and media region offsets, the drift
  steps and the stated ROI priors (log median + sd·ε) anchored at ε (``TransformPrior.shift``);
* each lift test's measured lift redrawn as lift + se·ε (a test is a noisy measurement, as a datum);
* the fit cells reweighted by a Bayesian bootstrap over region × week-block cells: ``w_rt = e_r,b(t)``,
  one ``e ~ Exp(1)`` per region and block of ``train.interval_block_weeks`` consecutive weeks (the
  weeks of a block share a weight: autocorrelation), rescaled so the weights sum to the number of
  fit cells.

For a Gaussian linear model, prior anchors with a plain Bayesian bootstrap give approximate
posterior draws.  The model's region baselines and shared trend and seasonality absorb what region
and week have in common, so the cells are resampled, not whole regions or weeks; the crossed
weights ``u_r·v_b`` used before (variance 3 per cell, Owen's pigeonhole bootstrap) tripled the
noise's share of the variance, and responses to ±50 % spend came out over-covered (97–100 % for a
90 % interval on the decision benchmark's family).  Where the data are silent (an always-on
channel's level) the spread follows the prior.  The draws run unsharded on the default device, whatever
``fit``'s ``devices``.  The members are the structural model's, not the full model's:
:mod:`causalmmm_jax.analysis.intervals` carries their relative spread to the full model's estimates.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..config import TrainConfig
from ..model.mmm import ModelSpec
from .calibration import LiftData
from .ensemble import stack_trees
from .loop import make_chunk
from .objective import TrainData, TransformPrior
from .phases import default_phases, init_members, phase_spec, run_phase

__all__ = ["ANCHORED", "draw_spec", "anchored_data", "train_draws"]

#: the Gaussian priors an anchored draw re-centres (besides the Hill curve's)
ANCHORED = ("trend_knots", "seasonal_fourier_region", "media_region", "media_drift")


def draw_spec(spec: ModelSpec) -> ModelSpec:
    """The model the draws are members of: ``spec`` with constant coefficients (the structural model)."""
    return phase_spec(spec, "structural")


def _bootstrap_weights(key, fit_w, block_weeks: int):
    """``fit_w`` × one Exp(1) weight per region × week-block cell (a Bayesian bootstrap over the cells,
    a Dirichlet once normalised), rescaled to the same total."""
    n_regions, n_weeks = fit_w.shape
    blocks = jnp.arange(n_weeks) // block_weeks
    e = jax.random.exponential(key, (n_regions, int(math.ceil(n_weeks / block_weeks))))[:, blocks]
    w = fit_w * e
    return w * fit_w.sum() / jnp.maximum(w.sum(), 1e-12)


def _anchors(key, params, prior: TransformPrior, spec: ModelSpec, tcfg: TrainConfig) -> TransformPrior:
    """The prior centres of one member: Hill centres moved by a draw from their priors, the other
    Gaussian priors (the stated ROI priors among them) anchored at standard-normal draws (shapes of
    their ``z``)."""
    kg, ka, ks = jax.random.split(key, 3)
    c = prior.log_ratio0.shape[0]
    scale = 1.0 / math.sqrt(tcfg.transform_prior_weight) if tcfg.transform_prior_weight > 0 else 0.0
    wide = jnp.zeros(c) if prior.wide is None else prior.wide
    sd_g = jnp.where(wide > 0, tcfg.hill_g_prior_sd_flighted, tcfg.hill_g_prior_sd) * scale
    shift = {}
    for i, name in enumerate(ANCHORED):
        if name in params:
            shape = np.shape(params[name])
            if name in ("trend_knots", "media_drift"):  # a random walk: one anchor per step
                shape = (shape[0] - 1,) + shape[1:]
            shift[name] = jax.random.normal(jax.random.fold_in(ks, i), shape)
    if prior.roi is not None:
        shift["roi"] = jax.random.normal(jax.random.fold_in(ks, len(ANCHORED)), (c,))
    return prior.replace(log_ratio0=prior.log_ratio0 + sd_g * jax.random.normal(kg, (c,)),
                         a0=prior.a0 + tcfg.hill_a_prior_sd * scale * jax.random.normal(ka, (c,)),
                         shift=shift or None)


def anchored_data(key, params, data: TrainData, spec: ModelSpec, tcfg: TrainConfig) -> TrainData:
    """One member's data: ``data`` with its bootstrap weights on the fit cells, its prior anchors
    (``data.prior`` must hold the priors' centres, see :func:`~.fit.initial_params`) and, with lift tests,
    its draw of the measured lifts (lift + se·ε)."""
    if data.prior is None:
        raise ValueError("anchored draws need the priors' centres: data.prior is None")
    kw, kp = jax.random.split(key)
    kl = jax.random.fold_in(key, 2)  # its own stream: runs without lift tests keep their draws
    out = data.replace(fit_w=_bootstrap_weights(kw, data.fit_w, tcfg.interval_block_weeks),
                       prior=_anchors(kp, params, data.prior, spec, tcfg))
    if data.lift is not None:
        lift = data.lift
        out = out.replace(lift=lift.replace(lift=lift.lift + lift.se * jax.random.normal(kl, lift.lift.shape)))
    return out


@functools.lru_cache(maxsize=8)
def _runner(spec: ModelSpec, length: int, with_lift: bool = False):
    """A jitted chunk of the structural phase, vmapped over members whose fit weights, prior centres
    and (``with_lift``) measured lifts differ (the inputs and targets are shared)."""
    chunk = make_chunk(spec, length=length)
    # vmap's in_axes for the data: a TrainData-shaped prefix (0 = a member axis, None = shared)
    shared: dict = {**dict.fromkeys(("channel", "window", "multiplier", "region", "observed", "target_mean", "se")),
                    "lift": 0}
    lift_axes = LiftData(**shared) if with_lift else None
    axes = TrainData(inputs=None, target=None, fit_w=0, val_w=None, lift=lift_axes, prior=0,  # type: ignore[arg-type]
                     region_w=None)
    return jax.jit(jax.vmap(chunk, in_axes=(0, axes)))


def train_draws(key: jax.Array, params, data: TrainData, spec: ModelSpec, tcfg: TrainConfig, n: int, *,
                progress: Callable | None = None) -> tuple[dict, dict[str, float]]:
    """``(params [n, ...], timing)``: ``n`` anchored members of the structural model (:func:`draw_spec`)
    trained from ``params`` (the data-driven start, no member axis) on ``data`` (with the priors'
    centres), one vmapped program; ``key`` draws the anchors and weights.  ``progress`` as ``fit``'s
    (phase name ``"draws"``).  Timing: ``draws_compile_seconds``, ``draws_seconds``, ``draws_epochs``."""
    if n < 2:
        raise ValueError(f"anchored draws need at least 2 members, got {n}")
    static = default_phases(tcfg)[0].replace(name="draws")
    keys = jax.random.split(key, n)
    per_member = [anchored_data(k, params, data, spec, tcfg) for k in keys]
    batched = data.replace(fit_w=jnp.stack([d.fit_w for d in per_member]),
                           prior=stack_trees([d.prior for d in per_member]))
    if data.lift is not None:
        batched = batched.replace(lift=data.lift.replace(lift=jnp.stack([d.lift.lift for d in per_member])))
    states = init_members(static, [params] * n, list(jax.random.split(jax.random.fold_in(key, 1), n)))
    sspec = draw_spec(spec)
    t0 = time.perf_counter()
    compiled = _runner(sspec, static.chunk_epochs, data.lift is not None).lower(states, batched).compile()
    compile_s = time.perf_counter() - t0
    wrapped = None if progress is None else (lambda name, done, total, m: progress("draws", done, total, m))
    run = run_phase(states, batched, sspec, static, batched=True, progress=wrapped, compiled=compiled)
    bad = int(np.asarray(run.states.nonfinite).sum())
    if bad:
        import warnings

        warnings.warn(f"{bad} of the {n} interval draws stopped early on a non-finite loss or gradient and keep their "
                      "last finite parameters; the intervals may be too narrow or too wide. Lower "
                      "train.static_learning_rate or check the data for extreme values.", RuntimeWarning, stacklevel=3)
    timing = {"draws_compile_seconds": compile_s, "draws_seconds": run.seconds, "draws_epochs": float(run.epochs),
              "draws_members": float(n)}
    return jax.tree_util.tree_map(np.asarray, run.states.params), timing

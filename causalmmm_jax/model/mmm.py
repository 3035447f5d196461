"""The model: ``init(key, spec) -> params`` and ``apply(params, inputs, spec) -> Decomposition``.

Forward pass per region r and week t (scaled units; see docs/concepts.md):

    A   = adstock(x)                        [R,T,C]   geometric / normalised / Weibull
    H   = Hill(A; a, g)                     [R,T,C]
    X̃   = (1 − mix)·H + mix·(H @ W)         [R,T,C]   DAG interaction (unless dag_mode="off")
    F   = Dropout(tanh(Dense(z)))           [R,T,Kh]  control features
    h   = GRU([X̃, F])                       [R,T,H]   PyTorch gate equations, learnable h0
                                                      (gru_inputs="context": GRU([F, knots(t)]))
    β   = σ(head(h))·softplus(βmax)         [R,T,C]   (+0.1 on the ceiling when "clamped", the original)
    γ   = tanh(head'(h))·(softplus(γmax)+0.1) [R,T,K]  both blended with stable values over the burn-in weeks
    β   ← β·exp(u_rc)·exp(d_c(t))               optional region effects (media_region_sd) and a drift on the
                                                      trend's knots (media_drift_sd), each with a prior
    ŷ   = s·(Σ_c X̃·β + Σ_k z·γ + base_r + season_r(t) + trend(t)),   s = softplus(prediction_scale)
    season_r(t) = Σ_k (a_k + a_rk)·sin(2πk·t) + (b_k + b_rk)·cos(2πk·t)   (t in years; "fourier")
                | softplus(c_s)·S_r(t)                                   ("decompose", the original)
    trend(t)    = Σ_j w_j(t)·(κ_j − mean κ)   piecewise linear between knots ("knots", national)

Structural pre-fit (``spec.constant_coefficients``): the GRU is skipped and the heads see a zero state, so β and γ
are constant (one effect per channel and control); ``train.fit`` runs it before the warm start
(docs/concepts.md §8).

Attribution (``model.attribution``): ``"source"`` (default) credits the DAG term
``β_j·mix_j·W_ij·H_i`` to channel i, whose media drives it, so removing a channel's media removes
exactly its credited contribution through the interaction layer; ``"target"`` (the original)
credits ``X̃_j·β_j`` to channel j.  Both sum to the same media total.

``Decomposition`` holds every component already multiplied by ``s``; ``prediction`` is their sum,
so the decomposition is additive by construction.  The sequence can be any length (train,
train + holdout, train + future): the GRU and adstock run continuously over it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from ..config import ModelConfig
from ..data.inputs import ModelInputs
from . import dag as dag_lib
from . import transforms as tf
from .network import CoefficientHead, ControlMLP, TorchGRU
from .sharding import constrain_regions

__all__ = ["ModelSpec", "ModelInputs", "Decomposition", "MMM", "init", "apply", "transform_params", "knot_count",
           "knot_weights", "fourier_features"]


@dataclass(frozen=True)
class ModelSpec:
    """Static sizes and switches (hashable: usable as a ``jit`` static argument).

    n_knots: knots of the national trend (``model.trend="knots"``), of the GRU's clock
    (``model.gru_inputs="context"``) and of the drift term (``model.media_drift_sd`` > 0), from the
    training weeks (:func:`knot_count`); 0 or 1 = none (and no drift term).
    constant_coefficients: the structural pre-fit's forward (the GRU is skipped and the heads see a
    zero state, so the coefficients are constant).  ``config.seasonality`` "auto" is resolved from
    the data by ``fit`` (:func:`~causalmmm_jax.config.resolve_model_config`);
    a spec built by hand with "auto" uses the Fourier cycle.
    """

    n_regions: int
    n_channels: int
    n_controls: int
    config: ModelConfig = ModelConfig()
    n_knots: int = 0
    constant_coefficients: bool = False

    @property
    def ctrl_hidden(self) -> int:
        return int(self.config.hidden_dim * self.config.ctrl_hidden_ratio)


@struct.dataclass
class Decomposition:
    """Additive decomposition in scaled units (multiply by ȳ_r for KPI units).

    prediction ``[R,T]`` = media.sum(-1) + controls.sum(-1) + baseline + seasonality + trend.
    media ``[R,T,C]`` (≥ 0; by source channel unless ``attribution="target"``), controls ``[R,T,K]``
    (signed), baseline/seasonality/trend ``[R,T]``,
    media_coef β ``[R,T,C]``, control_coef γ ``[R,T,K]``, adstocked/saturated/interacted ``[R,T,C]``
    (media signal after adstock, Hill, DAG), scale: s (scalar).
    """

    prediction: jnp.ndarray
    media: jnp.ndarray
    controls: jnp.ndarray
    baseline: jnp.ndarray
    seasonality: jnp.ndarray
    trend: jnp.ndarray
    media_coef: jnp.ndarray
    control_coef: jnp.ndarray
    adstocked: jnp.ndarray
    saturated: jnp.ndarray
    interacted: jnp.ndarray
    scale: jnp.ndarray

    if TYPE_CHECKING:  # flax.struct adds replace(); declared for the type checker
        def replace(self, **changes: Any) -> "Decomposition": ...


def _const(v):
    """Initialiser filling a constant; ``v`` may be a thunk (evaluated only at init time)."""
    return lambda key, shape, dtype=jnp.float32: jnp.full(shape, v() if callable(v) else v, dtype)


def transform_params(params, spec: ModelSpec) -> dict:
    """Interpretable transform parameters from raw params: decay/weibull, hill a and g, W, mix."""
    cfg, mode = spec.config, spec.config.parameterization
    out = {}
    if cfg.adstock == "weibull":
        out["weibull_shape"] = jax.nn.softplus(params["weibull_shape_raw"]) + 0.1
        out["weibull_scale"] = jax.nn.softplus(params["weibull_scale_raw"]) + 0.1
    else:
        out["decay"] = tf.decay_from_raw(params["adstock_raw"], cfg.adstock_max_decay, mode)
    lo, hi = cfg.hill_a_range
    out["hill_a"] = tf.hill_a_from_raw(params["hill_a_raw"], lo, hi, mode)
    out["hill_g"] = tf.hill_g_from_raw(params["hill_g_raw"], cfg.hill_g_min, mode)
    if cfg.dag_mode != "off":
        mask = dag_lib.dag_mask(spec.n_channels, cfg.dag_mode)
        out["W"] = dag_lib.adjacency(params["dag_logits"], mask, cfg.dag_temperature)
        out["mix"] = jax.nn.sigmoid(params["dag_mix_raw"])
    return out


class MMM(nn.Module):
    """Flax module; use :func:`init` / :func:`apply` for the functional interface."""

    spec: ModelSpec

    @nn.compact
    def __call__(self, x: ModelInputs, deterministic: bool = True) -> Decomposition:
        spec, cfg = self.spec, self.spec.config
        c, k, mode = spec.n_channels, spec.n_controls, cfg.parameterization
        mm_dtype = "bfloat16" if cfg.matmul_dtype == "bfloat16" else None  # "auto" unresolved: float32
        lo, hi = cfg.hill_a_range
        # split the regions over the devices of a surrounding region mesh (a no-op without one)
        x = x.replace(media=constrain_regions(x.media), controls=constrain_regions(x.controls),
                      seasonal=constrain_regions(x.seasonal), region=constrain_regions(x.region))

        # 1. adstock
        if cfg.adstock == "weibull":
            self.param("weibull_shape_raw", _const(lambda: tf.inv_softplus(1.9)), (c,))
            self.param("weibull_scale_raw", _const(lambda: tf.inv_softplus(1.9)), (c,))
        else:
            self.param("adstock_raw", _const(lambda: tf.raw_for_decay(
                jax.nn.sigmoid(0.8), cfg.adstock_max_decay, mode)), (c,))
        # 2. Hill (g is re-initialised from the data by model.init_from_data)
        a0 = jax.nn.softplus(2.5) if cfg.hill_a_init is None else cfg.hill_a_init
        self.param("hill_a_raw", _const(lambda: tf.raw_for_hill_a(a0, lo, hi, mode)), (c,))
        self.param("hill_g_raw", _const(lambda: tf.raw_for_hill_g(0.2, cfg.hill_g_min, mode)), (c,))
        if cfg.dag_mode != "off":
            self.param("dag_logits", lambda key, s: jax.random.normal(key, s) * 0.3 - 0.1, (c, c))
            self.param("dag_mix_raw", _const(-1.4), (c,))
        p: dict[str, Any] = {name: self.get_variable("params", name) for name in
             ("adstock_raw", "weibull_shape_raw", "weibull_scale_raw", "hill_a_raw", "hill_g_raw",
              "dag_logits", "dag_mix_raw") if self.has_variable("params", name)}
        tp = transform_params(p, spec)

        if cfg.adstock == "geometric":
            clip = (0.0, 10.0) if mode == "clamped" else None
            adstocked = tf.adstock_geometric(x.media, tp["decay"], clip)
        elif cfg.adstock == "normalized":
            adstocked = tf.adstock_normalized(x.media, tp["decay"])
        else:
            adstocked = tf.adstock_weibull(x.media, tp["weibull_shape"], tp["weibull_scale"], cfg.adstock_max_lag)
        hill_fn = tf.hill_clamped if mode == "clamped" else tf.hill
        saturated = hill_fn(adstocked, tp["hill_a"], tp["hill_g"])
        interacted = dag_lib.blend(saturated, tp["W"], p["dag_mix_raw"]) if cfg.dag_mode != "off" else saturated

        # 3. recurrent coefficients
        if spec.constant_coefficients:
            h = jnp.zeros((1, 1, cfg.hidden_dim))
        else:
            parts = [interacted] if cfg.gru_inputs == "media" else []
            if k:
                parts.append(ControlMLP(spec.ctrl_hidden, cfg.dropout, name="ctrl_mlp")(x.controls, deterministic))
            if cfg.gru_inputs == "context":
                clock = (knot_weights(x.time, spec.n_knots, cfg.trend_knot_weeks) if spec.n_knots > 1
                         else x.time[:, None])  # [T, K]: calendar time, the same for every region
                parts.append(jnp.broadcast_to(clock, x.seasonal.shape + clock.shape[-1:]))
            gru_in = jnp.concatenate(parts, axis=-1)
            # time-major [T, R, H]: the heads work cell by cell, so only their narrow outputs move back
            h = TorchGRU(cfg.hidden_dim, cfg.remat, mm_dtype, time_major=True, name="gru")(gru_in)
        beta_max = self.param("media_coeff_max_raw", _const(cfg.media_coeff_max_init), (c,))
        beta = (jax.nn.sigmoid(_regions_first(CoefficientHead(cfg.hidden_dim, c, mm_dtype, name="coeff_head")(h)))
                * tf.coef_ceiling(beta_max, mode))
        beta = jnp.broadcast_to(beta, interacted.shape)
        w_burn = tf.burn_in_weights(x.media.shape[-2], cfg.burn_in_weeks, cfg.burn_in_method)[:, None]
        stable_beta = self.param("stable_media_coeff", _const(lambda: 0.5 * (jax.nn.softplus(1.0) + 0.1)), (c,))
        if not spec.constant_coefficients:
            beta = w_burn * stable_beta + (1.0 - w_burn) * beta
        if cfg.media_region_sd > 0:  # region-level effects, pooled toward the shared one by a prior
            u = self.param("media_region", nn.initializers.zeros, (spec.n_regions, c))
            beta = beta * jnp.exp(u[x.region])[:, None, :]
        if cfg.media_drift_sd > 0 and spec.n_knots > 1:  # a drifting effect per channel, prior on its steps
            dk = self.param("media_drift", nn.initializers.zeros, (spec.n_knots, c))
            dk = dk - dk.mean(axis=0)  # centred: the level stays with β
            beta = beta * jnp.exp(knot_weights(x.time, spec.n_knots, cfg.trend_knot_weeks) @ dk)
        if cfg.dag_mode != "off" and cfg.attribution == "source":
            # credit the parent part of X̃_j to the parent channel i whose media drives it:
            # M_i = H_i·((1 − mix_i)·β_i + Σ_j W_ij·mix_j·β_j); Σ_i M_i = Σ_j X̃_j·β_j exactly.
            mix = jax.nn.sigmoid(p["dag_mix_raw"])
            media = saturated * ((1.0 - mix) * beta + (mix * beta) @ tp["W"].T)
        else:
            media = interacted * beta

        if k:
            gamma_max = self.param("ctrl_coeff_max_raw", _const(cfg.ctrl_coeff_max_init), (k,))
            head = CoefficientHead(cfg.hidden_dim, k, mm_dtype, name="ctrl_coeff_head")
            gamma = jnp.tanh(_regions_first(head(h))) * (jax.nn.softplus(gamma_max) + 0.1)
            gamma = jnp.broadcast_to(gamma, x.controls.shape)
            stable_gamma = self.param("stable_ctrl_coeff", nn.initializers.zeros, (k,))
            if not spec.constant_coefficients:
                gamma = w_burn * stable_gamma + (1.0 - w_burn) * gamma
        else:
            gamma = jnp.zeros(x.controls.shape)
        controls = x.controls * gamma

        # 4. baseline, seasonality, trend, scale
        rb = self.param("region_baseline", _const(lambda: tf.inv_softplus(1.0)), (spec.n_regions,))
        gb = self.param("global_bias", _const(lambda: tf.inv_softplus(1e-3)), ())
        base = jax.nn.relu(jax.nn.softplus(rb[x.region]) + jax.nn.softplus(gb))[:, None]
        base = jnp.broadcast_to(base, x.seasonal.shape)
        if cfg.seasonality in ("fourier", "auto"):
            # learned annual cycle: Σ_k a_k·sin(2πk·t) + b_k·cos(2πk·t), t in years, shared by all
            # regions plus a per-region offset (held near 0 by the seasonal prior in the objective)
            nf = 2 * cfg.seasonal_harmonics
            coef = (self.param("seasonal_fourier", nn.initializers.zeros, (nf,))
                    + self.param("seasonal_fourier_region", nn.initializers.zeros, (spec.n_regions, nf))[x.region])
            seas = coef @ fourier_features(x.time, cfg.seasonal_harmonics).T
        elif cfg.seasonality == "off":
            seas = jnp.zeros_like(x.seasonal)
        else:
            seas = jax.nn.softplus(self.param("seasonal_coeff", _const(lambda: tf.inv_softplus(0.1)), ())) * x.seasonal
        if cfg.trend == "linear":
            slope = self.param("trend_slope", nn.initializers.zeros, ())
            icpt = self.param("trend_intercept", nn.initializers.zeros, ())
            trend = jnp.broadcast_to(slope * x.time + icpt, x.seasonal.shape)
        elif cfg.trend == "knots" and spec.n_knots > 1:
            knots = self.param("trend_knots", nn.initializers.zeros, (spec.n_knots,))
            knots = knots - knots.mean()  # deviations around the region baselines: no level of its own
            trend = jnp.broadcast_to(knot_weights(x.time, spec.n_knots, cfg.trend_knot_weeks) @ knots, x.seasonal.shape)
        else:
            trend = jnp.zeros_like(x.seasonal)
        s = jax.nn.softplus(self.param("prediction_scale", _const(lambda: tf.inv_softplus(1.0)), ()))

        media, controls, base, seas, trend = (s * media, s * controls, s * base, s * seas, s * trend)
        prediction = media.sum(-1) + controls.sum(-1) + base + seas + trend
        return Decomposition(prediction=prediction, media=media, controls=controls, baseline=base,
                             seasonality=seas, trend=trend, media_coef=beta, control_coef=gamma,
                             adstocked=adstocked, saturated=saturated, interacted=interacted, scale=s)


def _regions_first(v):
    """``[T, R, n] → [R, T, n]`` (the GRU's time-major layout back to the model's); the
    constant-coefficient ``[1, 1, n]`` passes unchanged."""
    return jnp.moveaxis(v, 0, -2)


def knot_count(n_train_weeks: int, spacing: int) -> int:
    """Knots at weeks 0, spacing, 2·spacing, ... up to the last training week."""
    return (max(n_train_weeks, 1) - 1) // spacing + 1


def knot_weights(time: jnp.ndarray, n_knots: int, spacing: int) -> jnp.ndarray:
    """``[T] → [T, K]`` linear-interpolation weights onto knots at weeks 0, spacing, 2·spacing, ...
    (time in years); before the first and after the last knot the nearest knot's value holds, so
    a forecast keeps the trend's last level."""
    pos = jnp.clip(time * 52.0 / spacing, 0.0, n_knots - 1.0)
    return jnp.maximum(0.0, 1.0 - jnp.abs(pos[:, None] - jnp.arange(n_knots)))


def fourier_features(time: jnp.ndarray, harmonics: int) -> jnp.ndarray:
    """``[T] → [T, 2·harmonics]``: sin(2πk·t), k = 1..harmonics, then the cosines (t in years)."""
    ang = 2.0 * jnp.pi * time[:, None] * jnp.arange(1, harmonics + 1)
    return jnp.concatenate([jnp.sin(ang), jnp.cos(ang)], axis=-1)


def dummy_inputs(spec: ModelSpec, n_weeks: int = 2) -> ModelInputs:
    r, c, k = spec.n_regions, spec.n_channels, spec.n_controls
    return ModelInputs(media=jnp.zeros((r, n_weeks, c)), controls=jnp.zeros((r, n_weeks, k)),
                       seasonal=jnp.zeros((r, n_weeks)), region=jnp.arange(r), time=jnp.zeros(n_weeks))


@functools.partial(jax.jit, static_argnums=1)
def init(key: jax.Array, spec: ModelSpec) -> dict:
    """Fresh parameters (a plain nested dict of float32 arrays) from one PRNG key (one compiled
    program, instead of ~170 op-by-op compilations)."""
    return MMM(spec).init({"params": key}, dummy_inputs(spec))["params"]


def apply(params: dict, inputs: ModelInputs, spec: ModelSpec, *, dropout_key: jax.Array | None = None
          ) -> Decomposition:
    """Run the model; dropout is active only when ``dropout_key`` is given (training)."""
    rngs = None if dropout_key is None else {"dropout": dropout_key}
    return cast(Decomposition, MMM(spec).apply({"params": params}, inputs, dropout_key is None, rngs=rngs))

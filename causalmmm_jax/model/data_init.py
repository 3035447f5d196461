"""Data-driven initialisation: start the model near the data instead of at an arbitrary level.

The original sets raw values as if no softplus were applied (initial prediction ≈ 5.5× the
target, media ≈ 60 % of it).  Here, with exact inverse transforms:

1. Hill half-saturation g_c = the ``hill_init_quantile`` (0.6, as the original) of channel c's
   positive *adstocked* media over the fit cells, i.e. of the values the Hill curve actually sees.
2. Media coefficient maxima are scaled so that media start at ``init_media_share`` of the KPI.
3. Fourier seasonality (the default): the shared cycle starts at the least-squares fit of what the
   initial model leaves unexplained over all regions, each region's offset at a ridge fit with the
   seasonal prior's strength (a region with few or noisy weeks starts near the shared cycle).
4. Region baselines absorb the rest, so each region's initial mean prediction equals its mean
   scaled KPI (≈ 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import transforms as tf
from .mmm import ModelInputs, ModelSpec, apply, fourier_features, init, transform_params

__all__ = ["init_from_data"]


def _weighted_quantile_positive(values: np.ndarray, weight: np.ndarray, q: float) -> float:
    sel = (weight > 0) & (values > 1e-6)
    return float(np.quantile(values[sel], q)) if sel.any() else 1.0


def _fourier_start(feats: np.ndarray, resid: np.ndarray, w: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """(pooled ``[F]``, region offsets ``[R, F]``): least squares of the region-demeaned residuals on
    the harmonics over all regions, then per region ``argmin ||X(c̄ + o) + b − r||² + ridge·||o||²``
    over its fit weeks (intercept b free)."""
    sel = w > 0
    n_r = np.maximum(sel.sum(1, keepdims=True), 1)
    mean_r = (resid * sel).sum(1, keepdims=True) / n_r
    x_all = np.broadcast_to(feats, resid.shape + feats.shape[-1:])[sel]
    pooled, *_ = np.linalg.lstsq(x_all, (resid - mean_r)[sel], rcond=None)
    k = feats.shape[1]
    offsets = np.zeros((resid.shape[0], k))
    for r in range(resid.shape[0]):
        m = sel[r]
        if not m.any():
            continue
        design = np.concatenate([np.ones((int(m.sum()), 1)), feats[m]], axis=1)
        a = np.concatenate([design, np.concatenate([np.zeros((k, 1)), np.sqrt(ridge) * np.eye(k)], axis=1)])
        b = np.concatenate([resid[r, m] - feats[m] @ pooled, np.zeros(k)])
        offsets[r] = np.linalg.lstsq(a, b, rcond=None)[0][1:]
    return pooled, offsets


def within_region_variance(target: np.ndarray, w: np.ndarray) -> float:
    """Variance of the scaled KPI around each region's mean over the fit cells (the data's noise scale
    used by the priors)."""
    w = np.asarray(w, np.float64)
    y = np.asarray(target, np.float64)
    mean_r = (y * w).sum(1, keepdims=True) / np.maximum(w.sum(1, keepdims=True), 1.0)
    return float((((y - mean_r) ** 2) * w).sum() / max(w.sum(), 1.0))


def init_from_data(key: jax.Array, spec: ModelSpec, inputs: ModelInputs, target: jnp.ndarray,
                   weight: jnp.ndarray, init_media_share: float = 0.2) -> dict:
    """Parameters from ``key`` adjusted to the data.

    Args:
        inputs: scaled inputs over the training sequence.  target: ``[R,T]`` scaled KPI.
        weight: ``[R,T]`` 1 on fit cells (observed, not validation/holdout/padding), else 0.
    """
    cfg = spec.config
    params = init(key, spec)
    params = jax.tree_util.tree_map(lambda a: a, params)  # shallow copy of the dict tree
    w = np.asarray(weight, dtype=np.float64)
    tgt = np.asarray(target, dtype=np.float64)

    # 1. Hill g from the adstocked media the curve sees
    if cfg.adstock != "weibull":
        decay = transform_params(params, spec)["decay"]
        clip = (0.0, 10.0) if cfg.parameterization == "clamped" else None
        fn = {"geometric": lambda x: tf.adstock_geometric(x, decay, clip),
              "normalized": lambda x: tf.adstock_normalized(x, decay)}[cfg.adstock]
    else:
        tp = transform_params(params, spec)
        fn = lambda x: tf.adstock_weibull(x, tp["weibull_shape"], tp["weibull_scale"], cfg.adstock_max_lag)  # noqa
    adst = np.asarray(jax.jit(fn)(inputs.media))
    g = np.array([_weighted_quantile_positive(adst[..., c], w, cfg.hill_init_quantile)
                  for c in range(spec.n_channels)])
    if cfg.parameterization == "clamped":
        g = np.clip(g, 0.05, 0.9)
    g = np.maximum(g, cfg.hill_g_min + 1e-3)
    params["hill_g_raw"] = jnp.asarray(tf.raw_for_hill_g(g, cfg.hill_g_min, cfg.parameterization))

    def wmean_r(x):  # [R,T] -> [R]
        return (x * w).sum(1) / np.maximum(w.sum(1), 1.0)

    run = jax.jit(apply, static_argnums=2)  # one compiled forward instead of op-by-op dispatch

    # 2. media share at init
    d = run(params, inputs, spec)
    media_total = float((np.asarray(d.media.sum(-1)) * w).sum())
    kpi_total = float((tgt * w).sum())
    if media_total > 0 and init_media_share > 0:
        f = init_media_share * kpi_total / media_total
        m_old = np.asarray(tf.coef_ceiling(params["media_coeff_max_raw"], cfg.parameterization))
        floor = 0.1 + 1e-3 if cfg.parameterization == "clamped" else 1e-6
        m_new = np.maximum(m_old * f, floor)
        params["media_coeff_max_raw"] = tf.raw_for_coef_ceiling(m_new, cfg.parameterization)
        params["stable_media_coeff"] = params["stable_media_coeff"] * jnp.asarray(m_new / m_old, jnp.float32)
        d = run(params, inputs, spec)

    # 3. Fourier seasonality: the pooled cycle, plus region offsets by ridge regression with the
    #    seasonal prior's strength (σ̂² / region_sd² weeks of evidence)
    if cfg.seasonality == "fourier" and "seasonal_fourier" in params:
        ridge = within_region_variance(tgt, w) / cfg.seasonal_region_sd ** 2
        pooled, offsets = _fourier_start(np.asarray(fourier_features(inputs.time, cfg.seasonal_harmonics), np.float64),
                                         tgt - np.asarray(d.prediction - d.seasonality), w, ridge)
        params["seasonal_fourier"] = jnp.asarray(pooled / float(d.scale), jnp.float32)
        params["seasonal_fourier_region"] = jnp.asarray(offsets / float(d.scale), jnp.float32)
        d = run(params, inputs, spec)

    # 4. region baselines absorb the remainder
    s = float(d.scale)
    rest = np.asarray(d.prediction - d.baseline)
    gb = float(jax.nn.softplus(params["global_bias"]))
    need = wmean_r(tgt) - wmean_r(rest)
    base = np.maximum(need / s - gb, 0.05 * wmean_r(tgt) / s + 1e-3)
    params["region_baseline"] = jnp.asarray(tf.inv_softplus(base))
    return params

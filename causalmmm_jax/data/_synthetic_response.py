"""The generator's true response function: the media effect of any spend or impressions, the
KPI of a counterfactual or of a whole spend plan (:func:`counterfactual`, :func:`true_kpi`;
re-exported by :mod:`causalmmm_jax.data.synthetic`, whose docstring states the process).

Functions take a :class:`~causalmmm_jax.data.synthetic.SyntheticData` or its ``truth``.
"""

from __future__ import annotations

import numpy as np

from causalmmm_jax.errors import ConfigError

__all__ = ["counterfactual", "true_kpi", "decay_matrix", "channel_curves", "hill_curve"]


def _truth(data):
    return getattr(data, "truth", data)


def _adstock(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Unnormalised geometric adstock along axis 1 of ``[R,T,C]`` with per-channel ``alpha [C]``."""
    out = np.empty_like(x)
    carry = np.zeros((x.shape[0], x.shape[2]))
    for t in range(x.shape[1]):
        carry = x[:, t, :] + alpha * carry
        out[:, t, :] = carry
    return out


def hill_curve(a, slope, half, xp=np):
    """``a^s / (a^s + half^s)`` for ``a ≥ 0`` (0 at ``a ≤ 0``), NumPy or ``jax.numpy``; the
    ``where`` guard keeps ``jax.grad`` finite at ``a = 0`` for any slope."""
    pos = a > 0
    an = xp.where(pos, a, 1.0) ** slope
    return xp.where(pos, an / (an + half ** slope), 0.0)


def _sum_kpi(baseline, seasonality, controls_effect, contributions, noise) -> np.ndarray:
    return baseline + seasonality + controls_effect + contributions.sum(axis=-1) + noise


def decay_matrix(truth, n_weeks: int | None = None) -> np.ndarray:
    """``[C,T,T]`` lower-triangular ``alpha_c^(t−s)``: ``einsum("cts,rsc->rtc", D, x)`` is the
    generator's adstock of ``x [R,T,C]`` (to rounding), in NumPy or ``jax.numpy``."""
    truth = _truth(truth)
    t = truth.impressions.shape[1] if n_weeks is None else n_weeks
    alpha = np.array([truth.params["adstock_decay"][c] for c in truth.channels])
    lag = np.arange(t)[:, None] - np.arange(t)[None, :]
    return np.where(lag[None] >= 0, alpha[:, None, None] ** np.maximum(lag, 0)[None], 0.0)


def channel_curves(truth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(slope [C], half [C], scale [R,T,C])``: contribution = ``scale · hill_curve(A, slope,
    half)`` with ``scale = region size · β_c · effect multiplier``."""
    truth = _truth(truth)
    p, ch = truth.params, truth.channels
    slope = np.array([p["hill_slope"][c] for c in ch])
    half = np.array([p["hill_half_saturation"][c] for c in ch])
    beta = np.array([p["beta"][c] for c in ch])
    return slope, half, p["region_size"][:, None, None] * beta * p["effect_multiplier"]


def _channel_contribution(truth, c: int, multiplier: float) -> np.ndarray:
    p = truth.params
    x = truth.impressions[:, :, c] * multiplier / p["media_scale"][:, c][:, None]
    ad = _adstock(x[:, :, None], np.array([p["adstock_decay"][truth.channels[c]]]))[:, :, 0]
    ch = truth.channels[c]
    h = hill_curve(ad, p["hill_slope"][ch], p["hill_half_saturation"][ch])
    return p["region_size"][:, None] * p["beta"][ch] * p["effect_multiplier"][:, :, c] * h


def counterfactual(data, channel: str, multiplier: float) -> np.ndarray:
    """``[R,T]`` KPI when ``channel``'s spend and impressions are multiplied by ``multiplier`` in
    every week (media scale ``m_rc`` and noise fixed).  ``channel``: column or short name."""
    truth = _truth(data)
    if multiplier < 0:
        raise ConfigError(f"multiplier must be >= 0, got {multiplier}")
    c = truth.channel_index(channel)
    contrib = truth.contributions.copy()
    contrib[:, :, c] = _channel_contribution(truth, c, float(multiplier))
    return _sum_kpi(truth.baseline, truth.seasonality, truth.controls_effect, contrib, truth.noise)


def true_kpi(data, spend, *, xp=np):
    """``[R,T]`` true KPI when the spend is ``spend [R,T,C]`` (full grid, the generator's channel
    order) instead of the observed spend: each cell's impressions move with its spend at the
    cell's cost per mille; baseline, seasonality, controls and noise stay as drawn, and the media
    scale ``m_rc`` stays fixed (as in :func:`counterfactual`).  ``xp``: ``numpy`` (float64) or
    ``jax.numpy`` (traceable: ``jax.grad`` through a plan).  Adstock is computed as a product with
    :func:`decay_matrix`, so it agrees with the generator to rounding (1e-12 relative)."""
    truth = _truth(data)
    p = truth.params
    shape = truth.impressions.shape
    if tuple(getattr(spend, "shape", ())) != shape:
        raise ConfigError(f"spend must have shape {shape} (regions, weeks, channels), got "
                          f"{tuple(getattr(spend, 'shape', ()))}")
    x = spend * p["impressions_per_spend"] / p["media_scale"][:, None, :]
    ad = xp.einsum("cts,rsc->rtc", xp.asarray(decay_matrix(truth)), x)
    slope, half, scale = channel_curves(truth)
    contrib = scale * hill_curve(ad, slope, half, xp)
    return (truth.baseline + truth.seasonality + truth.controls_effect + truth.noise) + contrib.sum(axis=-1)

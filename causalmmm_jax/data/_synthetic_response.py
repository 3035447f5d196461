"""The generator's true response function: the media effect of any spend or impressions, the
KPI of a counterfactual or of a whole spend plan (:func:`counterfactual`, :func:`true_kpi`;
re-exported by :mod:`causalmmm_jax.data.synthetic`, whose docstring states the process).

Functions take a :class:`~causalmmm_jax.data.synthetic.SyntheticData` or its ``truth``.
"""

from __future__ import annotations

import numpy as np

from causalmmm_jax.errors import ConfigError

__all__ = ["counterfactual", "true_kpi", "planted_lift_test", "decay_matrix", "channel_curves", "hill_curve"]


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


def planted_lift_test(data, channel: str, n_train: int, *, weeks: int = 8, regions=None, multiplier: float = 0.0,
                      rng=None) -> dict:
    """A geo lift test on a generated panel, measured against its planted truth: ``channel``'s spend
    multiplied by ``multiplier`` (0 = switched off) for the ``weeks`` training weeks of its largest
    spend in ``regions`` (row indices of the grid; default the first half of the regions, the one
    region of a single-region panel), with true lift ``Σ_{regions, window} (KPI(test) − KPI)``
    (:func:`true_kpi`: noise fixed) and the standard error of a difference against as many matched
    control cells, ``se = σ·√(2·cells)`` (σ the planted noise's sd).  ``rng`` (a NumPy Generator):
    the measurement is ``true lift + se·ε``; None: the true lift itself.

    Returns a lift-test row for ``fit(..., lift=rows)`` (``region``: the regions' ids joined by ``;``)
    plus ``true_lift``."""
    truth = _truth(data)
    c = truth.channel_index(channel)
    spend = np.asarray(truth.spend, np.float64)
    n_regions = spend.shape[0]
    regions = np.arange(max(1, n_regions // 2)) if regions is None else np.asarray(regions, int)
    if not 1 <= weeks <= n_train:
        raise ConfigError(f"weeks must be in 1..{n_train} (the training weeks), got {weeks}")
    totals = np.convolve(spend[regions, :n_train, c].sum(0), np.ones(weeks), mode="valid")
    start = int(np.argmax(totals))
    test = spend.copy()
    test[np.ix_(regions, np.arange(start, start + weeks), [c])] *= multiplier
    true_lift = float((true_kpi(data, test) - true_kpi(data, spend))[regions, start:start + weeks].sum())
    se = float(np.std(truth.noise) * np.sqrt(2.0 * len(regions) * weeks))
    measured = true_lift if rng is None else true_lift + se * float(rng.standard_normal())
    times = np.asarray(truth.times)

    def plain(v):
        if isinstance(v, np.datetime64):
            return str(v.astype("datetime64[D]"))
        return v.item() if hasattr(v, "item") else v

    return {"channel": truth.channels[c], "start": plain(times[start]), "end": plain(times[start + weeks - 1]),
            "multiplier": float(multiplier), "lift": measured, "se": se,
            "region": ";".join(str(plain(truth.regions[r])) for r in regions), "true_lift": true_lift}

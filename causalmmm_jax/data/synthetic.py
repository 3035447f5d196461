r"""Synthetic weekly multi-region MMM panels that return their ground truth.

Unlike the original package's generator (behaviour spec §8), every planted quantity is returned,
media effects are large enough to be identifiable, region sizes differ by an order of magnitude,
and the result is fully reproducible from ``seed`` (``np.random.default_rng``, no global state).
Each stage draws from its own child of ``np.random.SeedSequence(seed)``, so e.g. ``missing_cells``
or ``n_controls`` never change the media draws.

Notation: regions ``r = 0..R-1``, weeks ``t = 0..T-1``, channels ``c = 0..C-1``, controls
``k = 0..K-1``, ``L0 = 50 000`` (KPI units per week for a region of size 1).

Regions
    ``s_r = exp(ln(10) · (z_r − mean z) / (max z − min z))``, ``z_r ~ N(0, 1)``: lognormal shape,
    rescaled so that the largest region is exactly 10x the smallest (geometric mean 1).
    Region ids are ``100, 101, ...``; weeks are Mondays from 2022-01-03 (``dates=True``) or
    ``0..T-1``.

Spend and impressions
    ``spend_{rct} = B_c · s_r · f_{rct} · exp(ε_{rct} − σ_c²/2)``, with a weekly budget per unit
    size ``B_c ~ U(1000, 4000)``, noise ``ε ~ N(0, σ_c²)``, and a flighting pattern ``f`` that
    depends on the channel: *always-on* (level ≈ 1 with a slow national wave and occasional
    pushes), *burst* (national on/off flights of 2–8 weeks on, 2–7 weeks off, each flight with its
    own intensity; a region sits out a flight with probability 0.15; off weeks are exactly 0),
    or *pulsed* (low always-on level plus bursts).  ``impressions = spend / cpm_{rct} · 1000``
    with ``cpm_{rct} = cpm_c · exp(N(0, 0.05²))`` and ``cpm_c ~ U(2, 30)``.  The last channel is
    the *null channel* (``null_radio``, bursty, β = 0) when ``null_channel=True``.

Media effect (the true response function)
    ``x_{rct} = imp_{rct} / m_{rc}`` with the FIXED scale ``m_{rc} = mean_t imp_{rct}``
    (``params["media_scale"]``, kept fixed under counterfactuals);
    geometric adstock ``A_{rct} = x_{rct} + α_c A_{rc,t-1}``, ``A_{rc,-1} = 0`` (unnormalised,
    ``α_c`` distinct, stratified in [0.1, 0.7]);
    Hill ``H(A) = A^{a_c} / (A^{a_c} + g_c^{a_c})`` with slope ``a_c`` stratified in [1, 3] (so the
    flattest channel has ``a < 1 + 2/C_eff``) and half-saturation
    ``g_c = κ_c · mean_{r,t} A_{rct}``, ``κ_c ~ U(0.5, 1.5)``;
    contribution ``M_{rct} = s_r · β_c · H(A_{rct})``.  ``β_c = k · b_c`` with relative sizes
    ``b_c ~ U(0.5, 1.5)`` (``b = 0`` for the null channel) and one common factor ``k`` solved so that
    ``Σ M / Σ KPI = media_share`` exactly (up to rounding; the noise is included in the total).

KPI
    ``kpi_{rt} = baseline_{rt} + seasonality_{rt} + controls_{rt} + Σ_c M_{rct} + noise_{rt}``
    (added in exactly this order) with

    * ``baseline_{rt} = s_r · L0 · λ_r · (1 + τ_r · t / 52)``, ``λ_r ~ U(0.8, 1.2)``,
      ``τ_r ~ N(0.03, 0.02²)`` per year;
    * ``seasonality_{rt} = s_r · L0 · amp_r · (sin(2πt/52 + φ1) + 0.5 sin(4πt/52 + φ2)) / 1.5``,
      ``amp_r ~ U(0.05, 0.12)``, shared phases;
    * controls: ``u_{rtk} = sqrt(w_k) n_{tk} + sqrt(1 − w_k) e_{rtk}`` with unit-variance AR(1)
      series ``n`` (national) and ``e`` (regional), ``ρ_k ~ U(0.7, 0.95)``; the column holds
      ``loc_k + scale_k · u`` (scales from ~1 to ~1e5); the effect is
      ``Σ_k γ_k · s_r · z_{rtk}`` with ``z = (control − mean_k) / sd_k`` standardised over the whole
      panel (``mean_k, sd_k`` stored) and ``γ_k = ± L0 · U(0.02, 0.06)``;
    * ``noise_{rt} ~ N(0, (noise · mean_t baseline_{rt})²)``.

Truth
    ``shares_c = Σ M_c / Σ_c' Σ M_c'``; ``roi_c = Σ M_c / Σ spend_c``;
    ``counterfactual_kpi[c][m]`` = Σ_{r,t} KPI when channel ``c``'s spend and impressions are
    multiplied by ``m`` in every week (adstock is linear, so ``A → m·A``; ``m_{rc}`` and the
    noise stay fixed), for ``m ∈ {0, 0.5, 1, 1.5, 2}``; :func:`counterfactual` gives the ``[R,T]``
    KPI for any ``m``; :func:`true_kpi` gives the ``[R,T]`` KPI of any spend plan ``[R,T,C]``
    (impressions follow spend at each cell's cost per mille; NumPy or ``jax.numpy``, so a plan can
    be optimised against the truth); :func:`planted_lift_test` a geo lift test measured against it.
    Truth arrays cover the full ``R × T`` grid even when ``missing_cells`` rows are dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from causalmmm_jax.data.panel import ColumnMapping, Panel
from causalmmm_jax.errors import ConfigError

from ._synthetic_response import (
    _adstock,
    _sum_kpi,
    counterfactual,
    hill_curve,
    planted_lift_test,
    true_kpi,
)
from ._synthetic_series import ar1, stratified
from ._synthetic_series import flighting as _flighting

__all__ = [
    "SyntheticTruth",
    "SyntheticData",
    "generate",
    "counterfactual",
    "true_kpi",
    "planted_lift_test",
    "write_csv",
    "COUNTERFACTUAL_MULTIPLIERS",
    "BASE_LEVEL",
]

BASE_LEVEL = 50_000.0
COUNTERFACTUAL_MULTIPLIERS = (0.0, 0.5, 1.0, 1.5, 2.0)
START_DATE = "2022-01-03"
SIZE_SPREAD = 10.0

_CHANNEL_NAMES = ("tv", "search", "social", "display", "video", "audio", "ooh", "print",
                  "email", "affiliate", "podcast", "cinema")
# flighting pattern per channel name
_PATTERN = {"radio": "burst", "tv": "burst", "search": "always_on", "social": "always_on", "display": "pulsed",
            "video": "burst", "audio": "burst", "ooh": "burst", "print": "pulsed", "email": "always_on",
            "affiliate": "always_on", "podcast": "pulsed", "cinema": "burst", "null_radio": "burst"}
# (name, location, scale) of the controls' raw columns
_PATTERNS = ("always_on", "burst", "pulsed")
DRIFT_PERIOD_WEEKS = 104
_CONTROLS = (("price_index", 100.0, 4.0), ("competitor_spend", 2.5e5, 6.0e4), ("temperature", 15.0, 7.0),
             ("consumer_confidence", 95.0, 6.0), ("promo_depth", 0.12, 0.04), ("unemployment", 5.0, 0.8))


@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """Planted ground truth.  Channel-keyed dicts use the media column names (``impressions_tv``).

    Arrays are on the full ``R × T`` grid (``regions`` × ``times``), also for rows dropped from the
    frame.  ``impressions`` / ``spend`` are the full ``[R,T,C]`` inputs the KPI was generated from.
    """

    channels: tuple[str, ...]
    contributions: np.ndarray
    baseline: np.ndarray
    seasonality: np.ndarray
    controls_effect: np.ndarray
    noise: np.ndarray
    shares: dict[str, float]
    media_share: float
    roi: dict[str, float]
    counterfactual_kpi: dict[str, dict[float, float]]
    params: dict[str, Any]
    null_channel: str | None
    regions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    impressions: np.ndarray | None = None
    spend: np.ndarray | None = None

    @property
    def kpi(self) -> np.ndarray:
        """``[R,T]`` KPI on the full grid (same summation order as the frame's ``kpi``)."""
        return _sum_kpi(self.baseline, self.seasonality, self.controls_effect, self.contributions, self.noise)

    def channel_index(self, channel: str) -> int:
        """Index of ``channel`` given as a media column (``impressions_tv``) or a short name (``tv``)."""
        if channel in self.channels:
            return self.channels.index(channel)
        col = f"impressions_{channel}"
        if col in self.channels:
            return self.channels.index(col)
        raise KeyError(f"unknown channel {channel!r}; channels are {list(self.channels)}")


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """A generated panel: long ``frame`` (one row per observed (region, week)), its ``mapping``,
    the planted ``truth`` and the ``[R,T]`` boolean ``mask`` of rows present in the frame."""

    frame: pd.DataFrame
    mapping: ColumnMapping
    truth: SyntheticTruth
    mask: np.ndarray | None = None

    def panel(self) -> Panel:
        """The frame as a :class:`Panel` (``load.panel_from_frame``)."""
        from .load import panel_from_frame

        return panel_from_frame(self.frame, self.mapping)


# ---------------------------------------------------------------------------------------------
# generator pieces


def _check_design(n_channels, null_channel, effect_drift, drift_channel, region_effects, hill_slope_range,
                  half_saturation_range, flighting_, channel_names):
    n_eff = n_channels - 1 if null_channel else n_channels
    if not 0.0 <= effect_drift < 1.0:
        raise ConfigError(f"effect_drift must be in [0, 1), got {effect_drift}")
    if region_effects < 0:
        raise ConfigError(f"region_effects must be >= 0, got {region_effects}")
    for name, (lo, hi) in (("hill_slope_range", hill_slope_range), ("half_saturation_range", half_saturation_range)):
        if not (0.0 < lo <= hi and np.isfinite(hi)):
            raise ConfigError(f"{name} must be (low, high) with 0 < low <= high, got {(lo, hi)}")
    if flighting_ is not None:
        bad = [f for f in flighting_ if f not in _PATTERNS]
        if len(flighting_) != n_eff or bad:
            raise ConfigError(f"flighting needs one pattern per non-null channel ({n_eff}) from {_PATTERNS}, "
                              f"got {list(flighting_)}")
    if channel_names is not None:
        if len(channel_names) != n_eff or len(set(channel_names)) != n_eff or "null_radio" in channel_names:
            raise ConfigError(f"channel_names needs {n_eff} distinct names (the null channel is named "
                              f"null_radio), got {list(channel_names)}")
    if drift_channel is not None and effect_drift > 0:
        names = list(channel_names) if channel_names is not None else _channel_names(n_channels, null_channel)[:n_eff]
        if drift_channel not in names:
            raise ConfigError(f"drift_channel {drift_channel!r} is not one of the channels {names}")


def _check(n_regions, n_weeks, n_channels, n_controls, media_share, noise, null_channel, missing_cells):
    if n_regions < 1:
        raise ConfigError(f"n_regions must be >= 1, got {n_regions}")
    if n_weeks < 2:
        raise ConfigError(f"n_weeks must be >= 2, got {n_weeks}")
    if n_channels < 1:
        raise ConfigError(f"n_channels must be >= 1, got {n_channels}")
    if n_controls < 0:
        raise ConfigError(f"n_controls must be >= 0, got {n_controls}")
    if not 0.0 <= media_share < 1.0:
        raise ConfigError(f"media_share must be in [0, 1), got {media_share}")
    if null_channel and n_channels < 2 and media_share > 0:
        raise ConfigError("null_channel=True needs n_channels >= 2 (or media_share=0)")
    if noise < 0:
        raise ConfigError(f"noise must be >= 0, got {noise}")
    if not 0 <= missing_cells <= (n_regions - 1) * n_weeks:
        raise ConfigError(f"missing_cells must be in [0, (n_regions-1)*n_weeks = {(n_regions - 1) * n_weeks}], "
                          f"got {missing_cells}")


def _channel_names(n: int, null_channel: bool, given=None) -> list[str]:
    n_eff = n - 1 if null_channel else n
    names = list(given) if given is not None else [
        (_CHANNEL_NAMES[i] if i < len(_CHANNEL_NAMES) else f"channel_{i + 1:02d}") for i in range(n_eff)]
    if null_channel:
        names.append("null_radio")
    return names


def _control_names(k: int) -> list[tuple[str, float, float]]:
    out = []
    for i in range(k):
        if i < len(_CONTROLS):
            out.append(_CONTROLS[i])
        else:
            out.append((f"x{i + 1:02d}", 10.0 ** (i % 5), 10.0 ** (i % 5) / 4))
    return out


def generate(
    seed: int = 0,
    *,
    n_regions: int = 20,
    n_weeks: int = 104,
    n_channels: int = 5,
    n_controls: int = 2,
    media_share: float = 0.3,
    noise: float = 0.03,
    null_channel: bool = True,
    dates: bool = True,
    missing_cells: int = 0,
    effect_drift: float = 0.0,
    drift_channel: str | None = None,
    region_effects: float = 0.0,
    hill_slope_range: tuple[float, float] = (1.0, 3.0),
    half_saturation_range: tuple[float, float] = (0.5, 1.5),
    flighting: tuple[str, ...] | None = None,
    channel_names: tuple[str, ...] | None = None,
) -> SyntheticData:
    """Generate a panel with known truth (see the module docstring for the process).

    ``n_channels`` includes the null channel when ``null_channel=True`` (it is the last one).
    ``missing_cells`` random (region, week) rows, never of the first region, are dropped from the
    frame; truth arrays keep the full grid.  ``effect_drift``, ``drift_channel``,
    ``region_effects``, ``hill_slope_range``, ``half_saturation_range``, ``flighting`` and
    ``channel_names`` shape the design (module docstring); names are short (``"tv"``).
    """
    _check(n_regions, n_weeks, n_channels, n_controls, media_share, noise, null_channel, missing_cells)
    _check_design(n_channels, null_channel, effect_drift, drift_channel, region_effects, hill_slope_range,
                  half_saturation_range, flighting, channel_names)
    R, T, C, K = int(n_regions), int(n_weeks), int(n_channels), int(n_controls)
    # children 6 and 7 are new streams: adding them left children 0-5 (and the default panel) unchanged
    rng_size, rng_media, rng_ctrl, rng_eff, rng_noise, rng_miss, rng_drift, rng_region = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)
    )
    L0 = BASE_LEVEL
    t = np.arange(T, dtype=float)

    # regions, baseline, seasonality
    zs = rng_size.normal(size=R)
    zs = zs - zs.mean()
    spread = float(zs.max() - zs.min())
    size = np.exp(np.log(SIZE_SPREAD) * zs / spread) if spread > 0 else np.ones(R)
    level = rng_size.uniform(0.8, 1.2, R)
    trend = rng_size.normal(0.03, 0.02, R)
    baseline = (size * L0 * level)[:, None] * (1.0 + trend[:, None] * t[None, :] / 52.0)
    amp = rng_size.uniform(0.05, 0.12, R)
    ph1, ph2 = rng_size.uniform(0, 2 * np.pi, 2)
    shape = (np.sin(2 * np.pi * t / 52 + ph1) + 0.5 * np.sin(4 * np.pi * t / 52 + ph2)) / 1.5
    seasonality = (size * L0 * amp)[:, None] * shape[None, :]

    # media inputs
    names = _channel_names(C, null_channel, channel_names)
    patterns = {n: (flighting[i] if flighting is not None and i < len(flighting) else _PATTERN.get(n, "burst"))
                for i, n in enumerate(names)}
    media_cols = tuple(f"impressions_{n}" for n in names)
    spend_cols = tuple(f"spend_{n}" for n in names)
    budget = rng_media.uniform(1000.0, 4000.0, C)
    cpm = rng_media.uniform(2.0, 30.0, C)
    sigma = rng_media.uniform(0.1, 0.3, C)
    spend = np.empty((R, T, C))
    impressions = np.empty((R, T, C))
    per_spend = np.empty((R, T, C))
    for c, n in enumerate(names):
        f = _flighting(rng_media, patterns[n], R, T)
        eps = rng_media.normal(0.0, sigma[c], (R, T))
        spend[:, :, c] = budget[c] * size[:, None] * f * np.exp(eps - sigma[c] ** 2 / 2)
        cpm_rt = cpm[c] * np.exp(rng_media.normal(0.0, 0.05, (R, T)))
        impressions[:, :, c] = spend[:, :, c] / cpm_rt * 1000.0
        per_spend[:, :, c] = 1000.0 / cpm_rt

    # controls
    cdefs = _control_names(K)
    control_cols = tuple(f"control_{n}" for n, _, _ in cdefs)
    controls = np.empty((R, T, K))
    ctrl_rho, ctrl_w = np.empty(K), np.empty(K)
    for k, (_, loc, scale) in enumerate(cdefs):
        ctrl_rho[k] = rng_ctrl.uniform(0.7, 0.95)
        ctrl_w[k] = rng_ctrl.uniform(0.3, 0.8)
        nat = ar1(rng_ctrl, (T,), ctrl_rho[k])
        reg = ar1(rng_ctrl, (R, T), ctrl_rho[k])
        u = np.sqrt(ctrl_w[k]) * nat[None, :] + np.sqrt(1 - ctrl_w[k]) * reg
        controls[:, :, k] = loc + scale * u
    ctrl_mean = controls.reshape(-1, K).mean(axis=0) if K else np.zeros(0)
    ctrl_sd = controls.reshape(-1, K).std(axis=0) if K else np.zeros(0)
    ctrl_sd = np.where(ctrl_sd > 0, ctrl_sd, 1.0)
    gamma = L0 * rng_eff.uniform(0.02, 0.06, K) * rng_eff.choice([-1.0, 1.0], K)
    z = (controls - ctrl_mean) / ctrl_sd
    controls_effect = size[:, None] * (z * gamma).sum(axis=-1) if K else np.zeros((R, T))

    # media response
    n_eff = C - 1 if null_channel else C
    alpha = np.concatenate([stratified(rng_eff, n_eff, 0.1, 0.7), rng_eff.uniform(0.1, 0.7, C - n_eff)])
    slope = np.concatenate([stratified(rng_eff, n_eff, *hill_slope_range),
                            rng_eff.uniform(*hill_slope_range, C - n_eff)])
    kappa = rng_eff.uniform(*half_saturation_range, C)
    rel = rng_eff.uniform(0.5, 1.5, C)
    if null_channel:
        rel[-1] = 0.0
    media_scale = impressions.mean(axis=1)  # [R,C]; > 0: every series has on-weeks
    x = impressions / media_scale[:, None, :]
    ad = _adstock(x, alpha)
    half = kappa * ad.reshape(-1, C).mean(axis=0)
    mult = np.ones((R, T, C))  # effect multiplier: drift over time, differences between regions
    drift_path = np.ones((T, C))
    if effect_drift > 0 and n_eff > 0:
        dch = drift_channel if drift_channel is not None else names[min(1, n_eff - 1)]
        phase = rng_drift.uniform(0.0, 2 * np.pi)
        drift_path[:, names.index(dch)] = 1.0 + effect_drift * np.sin(2 * np.pi * t / DRIFT_PERIOD_WEEKS + phase)
        mult = mult * drift_path[None]
    else:
        dch = None
    if region_effects > 0:
        zr = rng_region.normal(size=(R, C))
        mult = mult * np.exp(region_effects * zr - region_effects**2 / 2)[:, None, :]
    unit = size[:, None, None] * rel * mult * hill_curve(ad, slope, half)  # contributions for k = 1

    noise_sd = noise * baseline.mean(axis=1)
    noise_arr = rng_noise.normal(size=(R, T)) * noise_sd[:, None]
    other = float((baseline + seasonality + controls_effect + noise_arr).sum())
    m1 = float(unit.sum())
    kfac = 0.0 if media_share == 0 or m1 == 0 else media_share * other / ((1.0 - media_share) * m1)
    beta = kfac * rel
    contributions = size[:, None, None] * beta * mult * hill_curve(ad, slope, half)
    if null_channel:
        contributions[:, :, -1] = 0.0

    kpi = _sum_kpi(baseline, seasonality, controls_effect, contributions, noise_arr)
    regions = np.arange(100, 100 + R, dtype=np.int64)
    times = (pd.date_range(START_DATE, periods=T, freq="7D").values if dates else np.arange(T, dtype=np.int64))

    tot_c = contributions.sum(axis=(0, 1))
    tot_m = float(tot_c.sum())
    shares = {col: (float(tot_c[c] / tot_m) if tot_m > 0 else 0.0) for c, col in enumerate(media_cols)}
    spend_tot = spend.sum(axis=(0, 1))
    roi = {col: float(tot_c[c] / spend_tot[c]) for c, col in enumerate(media_cols)}
    params: dict[str, Any] = {
        "adstock_decay": dict(zip(media_cols, map(float, alpha))),
        "hill_slope": dict(zip(media_cols, map(float, slope))),
        "hill_half_saturation": dict(zip(media_cols, map(float, half))),
        "hill_half_saturation_factor": dict(zip(media_cols, map(float, kappa))),
        "beta": dict(zip(media_cols, map(float, beta))),
        "beta_relative": dict(zip(media_cols, map(float, rel))),
        "beta_factor": kfac,
        "cpm": dict(zip(media_cols, map(float, cpm))),
        "weekly_budget_per_size": dict(zip(media_cols, map(float, budget))),
        "flighting": {col: patterns[n] for col, n in zip(media_cols, names)},
        "effect_multiplier": mult,
        "drift_path": drift_path,
        "drift_channel": None if dch is None else f"impressions_{dch}",
        "effect_drift": float(effect_drift),
        "region_effects": float(region_effects),
        "impressions_per_spend": per_spend,
        "media_scale": media_scale,
        "region_size": size,
        "base_level": L0,
        "region_level": level,
        "baseline_level": size * L0 * level,
        "trend_per_year": trend,
        "seasonal_amplitude": amp,
        "seasonal_phase": (float(ph1), float(ph2)),
        "control_coef": dict(zip(control_cols, map(float, gamma))),
        "control_mean": dict(zip(control_cols, map(float, ctrl_mean))),
        "control_sd": dict(zip(control_cols, map(float, ctrl_sd))),
        "control_ar1": dict(zip(control_cols, map(float, ctrl_rho))),
        "noise_sd": noise_sd,
        "null_channel": media_cols[-1] if null_channel else None,
        "seed": seed,
    }
    truth = SyntheticTruth(
        channels=media_cols, contributions=contributions, baseline=baseline, seasonality=seasonality,
        controls_effect=controls_effect, noise=noise_arr, shares=shares, media_share=tot_m / float(kpi.sum()),
        roi=roi, counterfactual_kpi={}, params=params, null_channel=params["null_channel"], regions=regions,
        times=times, impressions=impressions, spend=spend,
    )
    for col in media_cols:
        truth.counterfactual_kpi[col] = {
            m: float(counterfactual(truth, col, m).sum()) for m in COUNTERFACTUAL_MULTIPLIERS
        }

    # long frame, observed rows only
    mask = np.ones((R, T), dtype=bool)
    if missing_cells:
        drop = rng_miss.choice((R - 1) * T, size=missing_cells, replace=False) + T
        mask.reshape(-1)[drop] = False
    rr, tt = np.nonzero(mask)
    cols: dict[str, Any] = {"region": regions[rr], "week": times[tt], "kpi": kpi[rr, tt]}
    for c, col in enumerate(media_cols):
        cols[col] = impressions[rr, tt, c]
    for c, col in enumerate(spend_cols):
        cols[col] = spend[rr, tt, c]
    for k, col in enumerate(control_cols):
        cols[col] = controls[rr, tt, k]
    frame = pd.DataFrame(cols)
    mapping = ColumnMapping(region="region", time="week", target="kpi", media=media_cols,
                            controls=control_cols, spend=spend_cols)
    return SyntheticData(frame=frame, mapping=mapping, truth=truth, mask=mask)


def write_csv(data: SyntheticData | pd.DataFrame, path: str | os.PathLike) -> str:
    """Write the frame to ``path`` atomically (dates as ``YYYY-MM-DD``, full float precision)."""
    from causalmmm_jax._io_util import atomic_write_text

    frame = data.frame if isinstance(data, SyntheticData) else data
    text = frame.to_csv(index=False, date_format="%Y-%m-%d", float_format="%.17g")
    return str(atomic_write_text(path, text))

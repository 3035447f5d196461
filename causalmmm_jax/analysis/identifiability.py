"""Which channel numbers the data identify, per channel, in plain words.

:func:`identifiability` reads the data and the run's anchored draws (:mod:`causalmmm_jax.train.draws`):

* **spend range**: the 10th over the 90th percentile of the channel's scaled spend over the fit cells
  (``spend_low_high``; at most 0.3 = flighted or pulsed, :data:`~causalmmm_jax.train.fit.WIDE_RANGE`):
  whether the data see the channel's response from near zero, or only around its usual level;
* **interval widths** (with draws): the 90 % interval's width over the estimate for the incremental
  effect (``incremental_width``) and the widest of the responses to −50 % and +50 % spend
  (``response_width``);
* **contraction** of the half-saturation point: ``1 − sd_draws(log(g/Ā)) / sd_prior`` (Ā the draw's
  mean adstocked exposure over the fit cells, sd_prior the prior's effective sd): near 0 where the
  draws spread as the prior does, near 1 where the data pin the curve's shape (reported, not a flag:
  an always-on channel's data pin the curve's slope near today's spend, not its level).

``level`` (the total effect: incremental KPI, ROI, share) is ``"data"`` when the data see the
channel's spend from near zero (wide range) and, with draws, its incremental effect's interval is
at most :data:`WIDTH_DATA` of the estimate wide (±25 %); ``"lift test"`` when the spend range is
narrow but a lift test of the run measured the channel and the interval is that narrow; otherwise
``"prior"`` (with a ROI prior the user stated, the summary names it).  ``response`` (to
±50 % spend) is ``"data"`` when ``response_width`` is at most :data:`WIDTH_DATA`, else ``"uncertain"``.
* **collinearity**: R² of the channel's within-region spend (scaled, fit cells) regressed on every
  other channel, the controls, a linear trend and a two-harmonic annual cycle
  (``collinearity_r2``), and the single series it moves with most (``moves_with``, ``moves_with_r``);
  NaN when the channel's spend never changes within a region (the baselines can absorb it).

``summary`` says it in words, e.g. ``"search: total effect set by the prior (spend never near zero;
interval 0.47–2.1× the estimate); response to ±50 % spend uncertain (interval 0.67–1.5× the
estimate)"`` (the demo's planted panel).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..train.fit import WIDE_RANGE, spend_low_high, stated_roi_priors
from ..train.result import FitResult
from .curves import response_curves

__all__ = ["identifiability", "WIDTH_DATA", "COLLINEAR_R2"]

#: the widest 90 % interval, over the estimate, that still counts as measured by the data (±25 %)
WIDTH_DATA = 0.5
#: the collinearity R² from which the summary names the series the channel moves with
COLLINEAR_R2 = 0.8


def _within_region(x: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``x [R, T, n]`` minus each region's mean over ``cells``, zero outside them."""
    w = cells[..., None]
    mean = (x * w).sum(1, keepdims=True) / np.maximum(w.sum(1, keepdims=True), 1.0)
    return (x - mean) * w


def _collinearity(result: FitResult, cells: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``(R² [C], partner name [C], partner correlation [C])`` of each channel's within-region spend."""
    p = result.panel
    prep = result.prepared()
    media = np.asarray(prep.inputs.media, np.float64)[:, result.pad:]
    controls = np.asarray(prep.inputs.controls, np.float64)[:, result.pad:]
    weeks = np.arange(p.n_weeks, dtype=np.float64)
    ang = 2.0 * np.pi * weeks[:, None] * np.arange(1, 3) / 52.0
    calendar = np.concatenate([weeks[:, None] / 52.0, np.sin(ang), np.cos(ang)], axis=1)
    calendar = np.broadcast_to(calendar, (p.n_regions,) + calendar.shape)
    names = list(p.channels) + list(p.control_names) + ["trend"] + ["seasonality"] * 4
    x = _within_region(np.concatenate([media, controls, calendar], axis=-1), cells)[cells > 0]  # [n, F]
    scale = np.sqrt((x * x).sum(0))
    z = x / np.where(scale > 0, scale, 1.0)
    r2, partner, partner_r = np.zeros(p.n_channels), [], np.zeros(p.n_channels)
    for c in range(p.n_channels):
        others = [j for j in range(z.shape[1]) if j != c and scale[j] > 0]
        if scale[c] <= 1e-12 * max(float(np.abs(media[..., c]).max(initial=0.0)), 1e-300) or not others:
            r2[c] = np.nan
            partner.append("")
            continue
        coef, *_ = np.linalg.lstsq(z[:, others], z[:, c], rcond=None)
        resid = z[:, c] - z[:, others] @ coef
        r2[c] = 1.0 - float(resid @ resid)  # z[:, c] has unit norm
        corr = z[:, others].T @ z[:, c]
        j = int(np.argmax(np.abs(corr)))
        partner.append(names[others[j]])
        partner_r[c] = float(corr[j])
    return r2, partner, partner_r


def _contraction(result: FitResult, cells: np.ndarray, wide: np.ndarray) -> np.ndarray:
    """``1 − sd_draws(log(g/Ā)) / sd_prior`` per channel (NaN without draws)."""
    c = result.panel.n_channels
    if result.draws is None:
        return np.full(c, np.nan)
    dr = result.draws_result()
    g = np.asarray(dr.transforms()["hill_g"], np.float64)  # [K, C]
    adst = np.asarray(dr.decompose().adstocked, np.float64)  # [K, R, T, C]
    mean_a = (adst * cells[None, ..., None]).sum((1, 2)) / max(cells.sum(), 1.0)
    ratio = np.log(g) - np.log(mean_a + 1e-8)
    t = result.config.train
    sd_prior = np.where(wide, t.hill_g_prior_sd_flighted, t.hill_g_prior_sd)
    if t.transform_prior_weight <= 0:
        return np.full(c, np.nan)
    sd_prior = sd_prior / math.sqrt(t.transform_prior_weight)
    return 1.0 - ratio.std(axis=0, ddof=1) / sd_prior


def _spend_range(result: FitResult, cells: np.ndarray) -> np.ndarray:
    """10th over 90th percentile of each channel's scaled spend over ``cells`` (NaN without spend)."""
    return spend_low_high(np.asarray(result.prepared().inputs.media, np.float64)[:, result.pad:], cells)


def _width(lo, hi, point) -> float:
    return float((hi - lo) / abs(point)) if point else float("nan")


def _range(lo, hi, point) -> str | None:
    """``"0.62–1.71× the estimate"``: the interval as multiples of the estimate."""
    if not point:
        return None
    a, b = sorted((lo / point, hi / point))
    return f"{a:.2g}–{b:.2g}× the estimate"


def identifiability(result: FitResult, curves: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per channel (module docstring): ``channel, spend_low_high, wide_range, contraction,
    level, incremental_width, response_width, response, collinearity_r2, moves_with, moves_with_r,
    roi_prior, summary`` (``roi_prior``: the ROI prior the user stated, ``"median M, sd S"``, or ``""``;
    a level the prior sets is then "set by your ROI prior").  ``curves``: :func:`~.curves.response_curves`
    at 0, 0.5, 1, 1.5 (computed if None)."""
    p = result.panel
    cells = result.split.fit_mask(p.mask).astype(np.float64)
    low_high = _spend_range(result, cells)
    wide = np.nan_to_num(low_high, nan=1.0) <= WIDE_RANGE
    contraction = _contraction(result, cells, wide)
    r2, partner, partner_r = _collinearity(result, cells)
    stated = {p.channels[c]: f"median {m:.3g}, sd {s:.3g}"
              for c, (m, s) in stated_roi_priors(result.config, p, active=~np.isnan(low_high)).items()}
    tested = result.lift_tests or {}
    widths, ranges = {}, {}
    if result.draws is not None and result.scaler.media_mode == "level":  # share-of-voice runs have no curves
        if curves is None:
            curves = response_curves(result, [0.0, 0.5, 1.0, 1.5])
        cv = curves.set_index(["channel", "multiplier"])
        for ch in p.channels:
            incr = cv.loc[(ch, 1.0)]
            resp = [cv.loc[(ch, m)] for m in (0.5, 1.5)]
            wide_resp = max(resp, key=lambda r: _width(r["change_q05"], r["change_q95"], r["change"]))
            widths[ch] = (_width(incr["incremental_q05"], incr["incremental_q95"], incr["incremental"]),
                          _width(wide_resp["change_q05"], wide_resp["change_q95"], wide_resp["change"]))
            ranges[ch] = (_range(incr["incremental_q05"], incr["incremental_q95"], incr["incremental"]),
                          _range(wide_resp["change_q05"], wide_resp["change_q95"], wide_resp["change"]))
    rows = []
    for c, ch in enumerate(p.channels):
        inc_w, resp_w = widths.get(ch, (float("nan"), float("nan")))
        level = "data" if wide[c] and not (inc_w > WIDTH_DATA) else "prior"  # a NaN width (no draws): the range
        if level == "prior" and tested.get(ch) and inc_w <= WIDTH_DATA:
            level = "lift test"
        response = ("data" if resp_w <= WIDTH_DATA else "uncertain") if np.isfinite(resp_w) else None
        rows.append({"channel": ch, "spend_low_high": float(low_high[c]), "wide_range": bool(wide[c]),
                     "contraction": float(contraction[c]), "level": level, "incremental_width": inc_w,
                     "response_width": resp_w, "response": response, "collinearity_r2": float(r2[c]),
                     "moves_with": partner[c], "moves_with_r": float(partner_r[c]),
                     "roi_prior": stated.get(ch, ""),
                     "summary": _summary(ch, level, wide[c], ranges.get(ch, (None, None)), resp_w, r2[c], partner[c],
                                         partner_r[c], low_high[c], stated.get(ch, ""), tested.get(ch, 0))})
    return pd.DataFrame(rows)


def _summary(ch, level, wide, ranges, resp_w, r2, partner, partner_r, low_high, roi_prior="", tests=0) -> str:
    if np.isnan(low_high):  # no spend at all over the fit cells
        return f"{ch}: no spend in the fit weeks: no effect can be estimated (contribution 0, ROI undefined)"
    spend = "spend seen from near zero" if wide else "spend never near zero"
    if not np.isfinite(r2):  # nothing moves within a region: the baselines take it
        spend = "spend never changes within a region, so the baselines can absorb it"
    width = f"; interval {ranges[0]}" if ranges[0] else ""
    source = {"prior": f"set by your ROI prior ({roi_prior})" if roi_prior else "set by the prior",
              "lift test": f"measured by your lift test{'s' if tests > 1 else ''}", "data": "measured by the data"}
    parts = [f"total effect {source[level]} ({spend}{width})"]
    if np.isfinite(resp_w):
        parts.append(f"response to ±50 % spend {'measured by the data' if resp_w <= WIDTH_DATA else 'uncertain'}"
                     + (f" (interval {ranges[1]})" if ranges[1] else ""))
    if np.isfinite(r2) and r2 >= COLLINEAR_R2:
        parts.append(f"moves with {partner} (r = {partner_r:.2f}; R² {r2:.2f} on the other series)")
    return f"{ch}: " + "; ".join(parts)

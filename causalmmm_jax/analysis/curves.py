"""Response curves, ROI and marginal ROI from the fitted model itself, and Hill-curve fits.

Model scenarios.  The fitted model runs continuously over the training sequence (padding + weeks
``[0, n_train)``) with channel ``c``'s scaled media multiplied by ``u_c`` inside a week window
(default: every training week).  Under ``media_scaling = "level"`` the scaled input is raw / m_rc,
so multiplying raw media (and spend) by ``u`` multiplies the model input by ``u``.  The scenario
KPI is Σ over regions and observed training weeks of ŷ_rt·ȳ_r (KPI units)::

    kpi(u) = Σ_{r,t ∈ train} ŷ_rt(media ⊙ (1 + window_t (u − 1))) · ȳ_r

* :func:`response_curves`: ``kpi`` for ``u = m·e_c`` over multipliers ``m`` (``vmap`` over m,
  ``lax.map`` over channels, ``vmap`` over ensemble members) and a 4-parameter Hill fit per channel
  to the weekly incremental curve (x = national weekly spend, or exposure without spend).
* :func:`roi_table`: ROI = contribution ÷ spend, marginal ROI = ∂kpi/∂u_c at u = 1 ÷ spend_c
  (one ``jax.grad`` gives every channel), incremental KPI = kpi(1) − kpi(u_c = 0).
* :func:`posthoc_curves`: the original's regression of weekly attributed contribution on weekly
  national exposure (not a counterfactual).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..model.mmm import apply
from ..train.result import FitResult, carry_interval, member_bands
from ._jaxopt import box_minimize, jaxopt_active

__all__ = ["hill", "fit_hill", "response_curves", "draw_quantities", "curve_params", "roi_table", "posthoc_curves",
           "scenario_kpi", "require_level", "train_sequence", "channel_totals"]

_Q = (0.05, 0.95)


# --------------------------------------------------------------------------- Hill curve

def hill(x, top, bottom, half_saturation, slope):
    """``bottom + (top − bottom)·x^slope / (half^slope + x^slope)`` (NumPy or JAX; x ≥ 0)."""
    xp = jnp if isinstance(x, jax.Array) or isinstance(top, jax.Array) else np
    x = xp.asarray(x)
    pos = x > 0
    logx = xp.log(xp.where(pos, x, 1.0))
    z = slope * (logx - xp.log(half_saturation))
    frac = xp.where(pos, 1.0 / (1.0 + xp.exp(-z)), 0.0)
    return bottom + (top - bottom) * frac


@functools.partial(jax.jit, static_argnames=("maxiter", "jaxopt_on"))
def _hill_multistart(starts, x, y, w, lo, hi, maxiter: int, jaxopt_on: bool):
    """``vmap`` over starts ``[S, 4]`` of a box-constrained weighted least-squares Hill fit
    (normalised data; ``w`` is 0 on padding points)."""
    def loss(p):
        return jnp.sum(w * (hill(x, p[0], p[1], jnp.exp(p[2]), jnp.exp(p[3])) - y) ** 2) / jnp.sum(w)

    return jax.vmap(lambda s: box_minimize(loss, s, lo, hi, maxiter=maxiter))(starts)


def fit_hill(x, y, *, fix_bottom: bool = False, maxiter: int = 500) -> dict:
    """Least-squares 4-parameter Hill fit (``bottom`` fixed at 0 if ``fix_bottom``).

    Args: x ``[n]`` ≥ 0, y ``[n]``.  Multi-start (16 starts, ``vmap``) L-BFGS-B on
    ``(top, bottom, log half, log slope)`` with x and y normalised; slope ∈ [0.1, 10], half ∈
    [1e-3, 100]·max x.  Returns ``{top, bottom, half_saturation, slope, r2}`` (floats; ``r2`` is
    the in-sample R² in y units, NaN for a constant y)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or not np.any(x > 0):
        return {"top": np.nan, "bottom": np.nan, "half_saturation": np.nan, "slope": np.nan, "r2": np.nan}
    xs, ys = np.max(x), max(float(np.max(np.abs(y))), 1e-12)
    xn, yn = x / xs, y / ys
    h = max(float(yn.max() - yn.min()), 1e-6)
    lo = np.array([yn.min() - h, yn.min() - h, np.log(1e-3), np.log(0.1)])
    hi = np.array([yn.max() + 50 * h, yn.max() + h, np.log(100.0), np.log(10.0)])
    if fix_bottom:
        lo[1], hi[1] = 0.0, 0.0
    halves, slopes = np.array([0.2, 0.5, 1.0, 3.0]), np.array([0.7, 1.0, 2.0, 3.0])
    hh, ss = np.meshgrid(halves, slopes)
    frac_at_max = 1.0 / (1.0 + hh.ravel() ** ss.ravel())
    b0 = 0.0 if fix_bottom else float(yn[np.argmin(xn)])
    top0 = np.clip(b0 + (yn.max() - b0) / frac_at_max, lo[0], hi[0])
    starts = np.stack([top0, np.full(top0.shape, b0), np.log(hh.ravel()), np.log(ss.ravel())], axis=1)

    size = max(16, 1 << int(np.ceil(np.log2(xn.size))))  # pad to a power of two: few compiled shapes
    pad = lambda a: np.pad(a, (0, size - a.size))  # noqa: E731
    with jax.enable_x64(True):
        sols, vals = _hill_multistart(jnp.asarray(starts), jnp.asarray(pad(xn)), jnp.asarray(pad(yn)),
                                      jnp.asarray(pad(np.ones_like(xn))), jnp.asarray(lo),
                                      jnp.asarray(hi), maxiter=maxiter, jaxopt_on=jaxopt_active())
        best = np.asarray(sols[int(jnp.nanargmin(vals))])
    top, bottom = best[0] * ys, best[1] * ys
    half, slope = float(np.exp(best[2]) * xs), float(np.exp(best[3]))
    pred = hill(x, top, bottom, half, slope)
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - pred) ** 2).sum()) / sst if sst > 0 else np.nan
    return {"top": float(top), "bottom": float(bottom), "half_saturation": half, "slope": slope, "r2": r2}


# --------------------------------------------------------------------------- model scenarios

def require_level(result: FitResult, what: str) -> None:
    """Raise :class:`ConfigError` unless the run uses level media scaling."""
    if result.scaler.media_mode != "level":
        raise ConfigError(
            f"{what} needs data.media_scaling = 'level'; this run uses '{result.scaler.media_mode}' (share of "
            "voice), which divides each week's media by the week's total, so the model cannot express a change "
            "in the media level. Re-fit with data.media_scaling = 'level'.")


def train_sequence(result: FitResult):
    """``(inputs, cells [R, pad+n_train] float, target_mean [R])`` for the continuous training
    sequence; ``cells`` is 1 on observed training weeks, 0 on padding and missing cells."""
    from ..data.prepare import slice_inputs

    prep = result.prepared()
    stop = result.pad + result.split.n_train
    cells = np.pad(result.split.train_mask(result.panel.mask), [(0, 0), (result.pad, 0)])[:, :stop]
    return (slice_inputs(prep.inputs, stop), jnp.asarray(cells, jnp.float32),
            jnp.asarray(result.scaler.target_mean, jnp.float32))


def channel_totals(result: FitResult, weeks: slice | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(exposure [C], spend [C] or None)``: totals over observed training cells (optionally only
    training weeks ``weeks``)."""
    p = result.panel
    cells = result.split.train_mask(p.mask).astype(np.float64)
    if weeks is not None:
        keep = np.zeros(p.n_weeks, bool)
        keep[weeks] = True
        cells = cells * keep[None, :]
    exposure = (p.media * cells[..., None]).sum(axis=(0, 1))
    spend = None if p.spend is None else (p.spend * cells[..., None]).sum(axis=(0, 1))
    return exposure, spend


def _scenario_data(result: FitResult, window: np.ndarray | None = None) -> tuple[Any, jax.Array, Any, Any]:
    """``(inputs, win [T, 1], cells, target_mean)``: the arrays of :func:`_scenario_total`."""
    inputs, cells, tm = train_sequence(result)
    if window is None:
        window = np.ones(inputs.media.shape[1])
    return inputs, jnp.asarray(window, jnp.float32)[:, None], cells, tm


def _scenario_total(params, u, inputs, win, cells, tm, spec):
    """Total KPI (KPI units, observed training cells) with channel media × ``u`` in the window."""
    factor = 1.0 + win * (u.astype(jnp.float32) - 1.0)
    d = apply(params, inputs.replace(media=inputs.media * factor[None]), spec)
    return (d.prediction * cells * tm[:, None]).sum()


def scenario_kpi(result: FitResult, window: np.ndarray | None = None):
    """A pure ``kpi(params, u [C]) -> scalar``: total KPI (KPI units, observed training cells)
    with channel media multiplied by ``u`` over ``window [pad+n_train]`` (default: all weeks).
    ``params`` is one member's parameters (no seed axis)."""
    data, spec = _scenario_data(result, window), result.spec
    return lambda params, u: _scenario_total(params, u, *data, spec)


# module-level programs with the run's arrays as arguments: compiled once per model structure and
# shape (and found in the persistent compilation cache by every later run of that shape)
@functools.partial(jax.jit, static_argnames="spec")
def _curve_grid(members, m, inputs, win, cells, tm, *, spec):
    def member(params):
        def channel(e):
            us = 1.0 + e[None, :] * (m[:, None] - 1.0)  # [M, C]
            return jax.vmap(lambda u: _scenario_total(params, u, inputs, win, cells, tm, spec))(us)

        return jax.lax.map(channel, jnp.eye(inputs.media.shape[-1]))

    return jax.vmap(member)(members)


@functools.partial(jax.jit, static_argnames="spec")
def _marginal_kpi(members, inputs, win, cells, tm, *, spec):
    ones = jnp.ones(inputs.media.shape[-1])
    return jax.vmap(lambda p: jax.grad(_scenario_total, argnums=1)(p, ones, inputs, win, cells, tm, spec))(members)


def _curve_array(result: FitResult, multipliers: np.ndarray) -> np.ndarray:
    """``[N, C, M]`` scenario KPI for every member, channel and multiplier."""
    return np.asarray(_curve_grid(result.params, jnp.asarray(multipliers, jnp.float32),
                                  *_scenario_data(result), spec=result.spec), np.float64)


def draw_quantities(result: FitResult, multipliers=(0.0, 1.0)) -> dict[str, np.ndarray]:
    """Per anchored draw (``result.draws``, the structural model), over the observed training weeks
    (KPI units), computed as for the fitted model: ``contribution [K, C]``, ``marginal_kpi [K, C]``
    (∂kpi/∂u_c at u = 1), ``curve [K, C, M]`` (scenario KPI at each of the sorted ``multipliers``),
    ``multipliers [M]``."""
    require_level(result, "intervals")
    if result.draws is None:
        raise ConfigError("this run has no interval draws: fit with train.interval_draws = K (e.g. 12)")
    dr = result.draws_result()
    mults = np.asarray(sorted(set(float(m) for m in multipliers)), np.float64)
    cells = result.split.train_mask(result.panel.mask).astype(np.float64)
    media = dr.components().media  # [K, R, T, C]
    contrib = (media * cells[None, :, :, None]).sum(axis=(1, 2))
    grads = np.asarray(_marginal_kpi(dr.params, *_scenario_data(dr), spec=dr.spec), np.float64)
    return {"contribution": contrib, "marginal_kpi": grads, "curve": _curve_array(dr, mults), "multipliers": mults}


def response_curves(result: FitResult, multipliers=None) -> pd.DataFrame:
    """Model-based response curves.

    Returns one row per (channel, multiplier): ``channel`` (media column), ``multiplier``,
    ``spend`` (total training-period spend × multiplier; only when spend is known), ``exposure``
    (same for the media units), ``kpi`` (total predicted KPI over the observed training weeks with
    that channel's media and spend scaled by ``multiplier`` in every training week),
    ``incremental`` (= kpi − kpi at multiplier 0); ensembles add ``kpi_q05``/``kpi_q95`` (member
    quantiles; ``kpi`` is the member mean).  Runs with anchored draws (``train.interval_draws``) add
    the 90 % interval of ``incremental`` and of ``change`` (= kpi − kpi at multiplier 1) as
    ``incremental_q05/_q95``, ``change_q05/_q95`` (:func:`~causalmmm_jax.train.result.carry_interval`), and
    ``kpi_q05/_q95`` = kpi − incremental + the incremental interval.  Hill parameters: :func:`curve_params`."""
    require_level(result, "response curves")
    mults = np.asarray(result.config.analysis.curve_multipliers if multipliers is None else multipliers, float)
    if mults.ndim != 1 or mults.size == 0 or np.any(~np.isfinite(mults)) or np.any(mults < 0):
        raise ConfigError(f"multipliers must be a non-empty list of numbers >= 0, got {list(mults)}")
    grid = np.unique(np.concatenate([mults, [0.0, 1.0]]))
    arr = _curve_array(result, grid)  # [N, C, G]
    draws = None if result.draws is None else draw_quantities(result, grid)["curve"]  # [K, C, G]
    exposure, spend = channel_totals(result)
    at = lambda a, ci, m: a[:, ci, np.searchsorted(grid, m)]  # noqa: E731
    rows = []
    for ci, ch in enumerate(result.panel.channels):
        base, one = at(arr, ci, 0.0), at(arr, ci, 1.0)
        for m in mults:
            vals = at(arr, ci, m)
            row: dict[str, Any] = {"channel": ch, "multiplier": float(m)}
            if spend is not None:
                row["spend"] = float(m * spend[ci])
            row["exposure"] = float(m * exposure[ci])
            row["kpi"] = float(vals.mean())
            row["incremental"] = float((vals - base).mean())
            row["change"] = float((vals - one).mean())
            bands = member_bands(vals, _Q)
            if bands is not None and draws is None:
                row["kpi_q05"], row["kpi_q95"] = (float(q) for q in bands)
            if draws is not None:
                for name, ref in (("incremental", 0.0), ("change", 1.0)):
                    lo, hi = carry_interval(row[name], at(draws, ci, m) - at(draws, ci, ref))
                    row[f"{name}_q05"], row[f"{name}_q95"] = float(lo), float(hi)
                row["kpi_q05"] = row["kpi"] - row["incremental"] + row["incremental_q05"]
                row["kpi_q95"] = row["kpi"] - row["incremental"] + row["incremental_q95"]
            rows.append(row)
    return pd.DataFrame(rows)


def curve_params(result: FitResult, curves: pd.DataFrame | None = None) -> pd.DataFrame:
    """Hill fit per channel to the model-based curve, in weekly national units.

    x = weekly spend (``spend / n_train``; exposure when spend is unknown), y = weekly incremental
    KPI (``incremental / n_train``), so ``weeks·f(total/weeks)`` is the response of a flat plan.
    Columns: ``channel, top, bottom, half_saturation, slope, r2, x_unit, current_weekly``
    (``current_weekly``: the historical weekly average x)."""
    curves = response_curves(result) if curves is None else curves
    n = result.split.n_train
    xcol = "spend" if "spend" in curves.columns else "exposure"
    exposure, spend = channel_totals(result)
    cur = spend if spend is not None and xcol == "spend" else exposure
    out = []
    for ci, ch in enumerate(result.panel.channels):
        sub = curves[curves["channel"] == ch].sort_values("multiplier")
        fit = fit_hill(sub[xcol].to_numpy() / n, sub["incremental"].to_numpy() / n)
        out.append({"channel": ch, **fit, "x_unit": f"weekly_{xcol}", "current_weekly": float(cur[ci] / n)})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- ROI / mROI

def _bands(df: pd.DataFrame, name: str, per_member: np.ndarray) -> None:
    """Add ``name`` (member mean) and ``name_q05``/``name_q95`` columns from ``[N, C]``."""
    df[name] = per_member.mean(axis=0)
    if per_member.shape[0] > 1:
        df[f"{name}_q05"], df[f"{name}_q95"] = np.quantile(per_member, _Q, axis=0)


def roi_table(result: FitResult) -> pd.DataFrame:
    """Per channel over the observed training weeks (KPI units).

    Columns: ``channel, contribution`` (attributed), ``exposure``, ``incremental`` (kpi(1) −
    kpi(channel off)), ``marginal_kpi`` (∂kpi/∂u_c at u = 1: extra KPI per +100 % media, per unit
    multiplier), ``effect_per_1000`` (contribution per 1,000 exposure units),
    ``marginal_effect_per_1000``; with spend: ``spend, roi`` (contribution/spend),
    ``incremental_roi``, ``mroi`` (marginal_kpi/spend: extra KPI per extra unit of spend at the current
    level), ``cost_per_kpi`` (spend/contribution).  Ensembles: member means plus ``_q05/_q95``
    bands for ``contribution, roi, mroi, incremental``; runs with anchored draws: those columns
    (and ``share``, ``incremental_roi``, ``marginal_kpi``) hold the 90 % interval carried from the
    draws (:func:`~causalmmm_jax.train.result.carry_interval`) instead of the members' spread."""
    require_level(result, "ROI / marginal ROI")
    cells = result.split.train_mask(result.panel.mask).astype(np.float64)
    media = result.components().media  # [N, R, T, C]
    contrib = (media * cells[None, :, :, None]).sum(axis=(1, 2))  # [N, C]
    grads = np.asarray(_marginal_kpi(result.params, *_scenario_data(result), spec=result.spec),
                       np.float64)  # [N, C]
    arr = _curve_array(result, np.array([0.0, 1.0]))  # [N, C, 2]
    incr = arr[:, :, 1] - arr[:, :, 0]
    exposure, spend = channel_totals(result)
    df = pd.DataFrame({"channel": list(result.panel.channels)})
    _bands(df, "contribution", contrib)
    df["exposure"] = exposure
    _bands(df, "incremental", incr)
    _bands(df, "marginal_kpi", grads)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["effect_per_1000"] = np.where(exposure > 0, 1000.0 * df["contribution"] / exposure, np.nan)
        df["marginal_effect_per_1000"] = np.where(exposure > 0, 1000.0 * df["marginal_kpi"] / exposure, np.nan)
        if spend is not None:
            df["spend"] = spend
            sp = np.where(spend > 0, spend, np.nan)[None, :]
            _bands(df, "roi", contrib / sp)
            _bands(df, "incremental_roi", incr / sp)
            _bands(df, "mroi", grads / sp)
            df["cost_per_kpi"] = np.where(df["contribution"] > 0, spend / df["contribution"], np.nan)
    tot = df["contribution"].sum()
    df["share"] = df["contribution"] / tot if tot != 0 else 0.0
    if result.draws is not None:
        _draw_bands(df, draw_quantities(result), spend)
    return df


def _draw_bands(df: pd.DataFrame, q: dict, spend) -> None:
    """Set ``_q05/_q95`` of ``df``'s channel quantities to the intervals carried from the draws."""
    contrib, grads = q["contribution"], q["marginal_kpi"]
    per = {"contribution": contrib, "incremental": q["curve"][:, :, 1] - q["curve"][:, :, 0],
           "marginal_kpi": grads, "share": contrib / contrib.sum(axis=1, keepdims=True)}
    if spend is not None:
        sp = np.where(spend > 0, spend, np.nan)[None, :]
        per.update(roi=contrib / sp, incremental_roi=per["incremental"] / sp, mroi=grads / sp)
    for name, vals in per.items():
        lo, hi = carry_interval(df[name].to_numpy(np.float64), vals)
        if name == "share":  # a share of media lies in [0, 1] whatever the carried spread
            lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        df[f"{name}_q05"], df[f"{name}_q95"] = lo, hi


# --------------------------------------------------------------------------- post-hoc fit

def posthoc_curves(result: FitResult, *, fix_bottom: bool = True, min_weeks: int = 10) -> pd.DataFrame:
    """The original's response curve: national weekly exposure (Σ regions, raw media) vs the
    channel's national weekly attributed contribution (KPI units) over the observed training
    weeks; weeks with zero exposure dropped; ``bottom`` fixed at 0 unless ``fix_bottom=False``.
    A regression of attributions on exposure, not a counterfactual.  Columns: ``channel, top,
    bottom, half_saturation, slope, r2, n_weeks`` (NaN parameters with < ``min_weeks`` weeks)."""
    cells = result.split.train_mask(result.panel.mask).astype(np.float64)
    media = result.point_components().media
    x_all = (result.panel.media * cells[..., None]).sum(axis=0)  # [T, C]
    y_all = (media * cells[..., None]).sum(axis=0)
    train = np.zeros(result.panel.n_weeks, bool)
    train[: result.split.n_train] = True
    out = []
    for ci, ch in enumerate(result.panel.channels):
        keep = train & (x_all[:, ci] > 0)
        if keep.sum() < min_weeks:
            fit = {"top": np.nan, "bottom": np.nan, "half_saturation": np.nan, "slope": np.nan, "r2": np.nan}
        else:
            fit = fit_hill(x_all[keep, ci], y_all[keep, ci], fix_bottom=fix_bottom)
        out.append({"channel": ch, **fit, "n_weeks": int(keep.sum())})
    return pd.DataFrame(out)

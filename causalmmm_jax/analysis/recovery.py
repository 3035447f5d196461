"""A fitted model against a generator's planted truth: the numbers a marketer acts on, and the
decisions taken on them.

:func:`evaluate_against_truth` takes a :class:`~causalmmm_jax.train.fit.FitResult` fitted on a
:func:`~causalmmm_jax.data.synthetic.generate` panel and scores, per channel (over the observed
training cells, KPI units):

* **response**: the KPI change when the channel's spend is multiplied by ``m`` in every training
  week, for ``m`` in 0, 0.5, 1.5, 2 (0× is minus the incremental effect), model
  (:func:`~causalmmm_jax.analysis.curves.response_curves`) against the truth
  (:func:`~causalmmm_jax.data.synthetic.counterfactual`), as a relative error;
* **marginal ROI** (KPI per extra unit of spend at today's spend; the truth by a ±1 % central
  difference), **ROI** (contribution / spend), **share** of media;
* **weekly contribution error**: per channel × region, RMSE of the model's weekly contribution
  against the true one over the mean of the true series (channels with a true effect only);
* **coefficient path**: for a channel whose effect the generator drifts, the correlation over
  training weeks after the burn-in of the model's implied effect multiplier (attributed
  contribution over the model's saturated media, pooled over regions) with the planted
  multiplier, beside the same
  correlation of an oracle's path (one that knows every other component: least squares of the
  channel's path on knots next to a national knot trend), a reference for how well the data
  identify the drift;
* **decision regret**: the plan :func:`~causalmmm_jax.analysis.budget.optimize_budget`
  recommends (``on="curves"`` and ``on="model"``, the one ``"auto"`` takes at such horizons) for the last
  ``horizon`` training weeks at ``budget_factor`` ×
  their actual spend, evaluated in the true KPI (:func:`~causalmmm_jax.data.synthetic.true_kpi`:
  KPI over the training weeks from the plan's first week on, carry-over inside them counted), as
  the fraction of the achievable uplift it captures: ``(V(plan) − V(current)) / (V(best) −
  V(current))`` with ``current`` = today's mix scaled to the budget and ``best`` the
  truth-optimal plan under the same constraints (multi-start SLSQP on the generator itself, in
  float64 with ``jax.grad``); also the loss ``V(best) − V(plan)`` in % of the KPI of those weeks;
* **coefficient variation**: per channel, the coefficient β's standard deviation over its mean
  across the training cells after the burn-in weeks (how much the GRU's time- and region-varying
  effect varies at all);
* the **null channel**'s contribution in % of the KPI, total media against the truth, and the
  fit's holdout R²;
* **intervals** (runs with anchored draws, :mod:`~causalmmm_jax.analysis.intervals`): per channel the
  90 % interval of the response at each multiplier, of ROI and of mROI (``<key>_interval``: the default
  rule of :func:`~causalmmm_jax.train.result.carry_interval`; centred on the draws in
  ``<key>_interval_draws``, the draws' sample quantiles in ``<key>_interval_quantile``), whether it
  covers the truth (``<key>_covered`` and the same suffixes), its width over the truth's size
  (``<key>_interval_width``) and the draws' values (``<key>_per_draw``); the summary's
  ``interval_coverage`` over the channels with a true effect.

Everything is plain floats and dicts (JSON-ready).  Ensembles are scored by their member mean.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize as so

from ..data._synthetic_response import channel_curves, decay_matrix, hill_curve
from ..data.synthetic import SyntheticData, counterfactual
from ..errors import ConfigError
from ..model.mmm import knot_count, knot_weights
from ..train.result import FitResult
from ._jaxopt import project_box_section_np
from .budget import optimize_budget
from .contributions import original_units
from .curves import channel_totals, curve_params, response_curves, roi_table
from .identifiability import identifiability
from .intervals import carry_interval, draw_quantities

__all__ = ["evaluate_against_truth", "truth_optimal_plan", "RESPONSE_MULTIPLIERS", "INTERVAL_KEYS"]

#: the per-channel quantities whose intervals are scored (response changes, ROI, marginal ROI)
INTERVAL_KEYS = ("change_0x", "change_0.5x", "change_1.5x", "change_2x", "roi", "mroi")
#: (key suffix, carry_interval method) of the intervals scored: the default rule first
_INTERVAL_SUFFIXES = (("", "ratio"), ("_draws", "draws"), ("_quantile", "quantile"))

RESPONSE_MULTIPLIERS = (0.0, 0.5, 1.5, 2.0)
_MROI_STEP = 0.01


def _finite(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _rel(model: float, true: float) -> float | None:
    return None if true == 0 else float((model - true) / abs(true))


def _generated(a: np.ndarray | None, what: str) -> np.ndarray:
    if a is None:
        raise ConfigError(f"the synthetic truth has no {what}: score against a panel from data.synthetic.generate")
    return a


def _check_alignment(result: FitResult, data: SyntheticData) -> None:
    truth, panel = data.truth, result.panel
    impressions = _generated(truth.impressions, "impressions")
    r, t, c = impressions.shape
    if (panel.n_regions, panel.n_weeks) != (r, t) or list(panel.channels) != list(truth.channels):
        raise ConfigError(f"the fit's panel ({panel.n_regions} regions × {panel.n_weeks} weeks, channels "
                          f"{list(panel.channels)}) is not the generated panel ({r} × {t}, {list(truth.channels)})")
    cells = np.asarray(panel.mask, bool) if panel.mask is not None else np.ones((r, t), bool)
    if not np.allclose(np.asarray(panel.media)[cells], impressions[cells], rtol=1e-5):
        raise ConfigError("the fit's media do not match the generated panel's impressions (regions or weeks in "
                          "another order?)")


def _window_value(data: SyntheticData, cells: np.ndarray, start: int, stop: int, dtype=jnp.float64):
    """``value(u [C]) -> scalar``: true KPI over ``cells`` in weeks [start, stop) when each
    channel's spend in those weeks is multiplied by ``u`` (JAX-traceable, float64 under x64).

    Adstock is linear, so over those weeks ``A(u) = A(1) + (u − 1)·A_window`` with ``A_window`` the
    adstock of the window's input alone: both are computed once (by :func:`true_kpi`'s own
    adstock on the full history), and ``value`` only re-applies the Hill curves (the same
    numbers as ``true_kpi(spend(u))[:, start:stop]``, at a fraction of the cost)."""
    truth = data.truth
    p = truth.params
    win = np.zeros(_generated(truth.spend, "spend").shape[1])
    win[start:stop] = 1.0
    x = _generated(truth.impressions, "impressions") / p["media_scale"][:, None, :]
    decay = decay_matrix(truth)
    ad_all = np.einsum("cts,rsc->rtc", decay, x)[:, start:stop]
    ad_win = np.einsum("cts,rsc->rtc", decay, x * win[None, :, None])[:, start:stop]
    slope, half, scale = channel_curves(truth)
    w = cells[:, start:stop].astype(np.float64)
    other = float(((truth.baseline + truth.seasonality + truth.controls_effect + truth.noise)[:, start:stop] * w).sum())
    a_all, a_win, scale_j, w_j = (jnp.asarray(a, dtype) for a in (ad_all, ad_win, scale[:, start:stop], w[..., None]))

    def value(u):
        h = hill_curve(a_all + (u[None, None, :] - 1.0) * a_win, slope, half, jnp)
        return other + (scale_j * h * w_j).sum()

    return value


def truth_optimal_plan(value, budget: float, lower, upper, starts, *, maxiter: int = 500) -> np.ndarray:
    """Maximise ``value(x)`` (JAX, float64) over ``{lower ≤ x ≤ upper, Σx = budget}`` by SLSQP
    from each of ``starts`` (rows); returns the best ``x``.  The truth is cheap and smooth, but
    S-shaped Hill curves make it non-concave: hence several starts."""
    b = float(budget)
    lo, hi = np.asarray(lower, float) / b, np.asarray(upper, float) / b
    vg = jax.jit(jax.value_and_grad(lambda z: -value(z * b)))
    fg = lambda z: tuple(np.asarray(a, np.float64) for a in vg(jnp.asarray(z, jnp.float64)))  # noqa: E731
    scale = abs(float(fg(np.asarray(starts[0], float) / b)[0])) or 1.0
    best, best_f = None, np.inf
    for s in starts:
        z0 = np.clip(np.asarray(s, float) / b, lo, hi)
        r = so.minimize(lambda z: float(fg(z)[0]) / scale, z0, jac=lambda z: fg(z)[1] / scale, method="SLSQP",
                        bounds=list(zip(lo, hi)), options={"maxiter": maxiter, "ftol": 1e-12},
                        constraints=[{"type": "eq", "fun": lambda z: z.sum() - 1.0,
                                      "jac": lambda z: np.ones_like(z)}])
        z = project_box_section_np(np.asarray(r.x, np.float64), lo, hi, 1.0)
        f = float(fg(z)[0])
        if f < best_f:
            best, best_f = z, f
    assert best is not None  # starts is not empty
    return best * b


def _regret(result: FitResult, data: SyntheticData, cells: np.ndarray, horizon: int, factor: float, seed: int,
            on: str, curves) -> dict:
    n = result.split.n_train
    start = n - horizon
    _, spend = channel_totals(result, slice(start, n))
    if spend is None:
        raise ConfigError("decision regret needs spend columns (the generator writes them)")
    channels = list(result.panel.channels)
    dead = [c for c, s in zip(channels, spend) if s <= 0]
    budget = float(factor * spend.sum())
    bounds = {c: (0.0, 0.0) for c in dead}
    plan = optimize_budget(result, budget, weeks=horizon, on=on, bounds=bounds, seed=seed, curves=curves)
    x_plan = np.array([plan.allocation[c] for c in channels])
    safe = np.where(spend > 0, spend, 1.0)
    current = np.where(spend > 0, factor * spend, 0.0)
    with jax.enable_x64(True):
        value = _window_value(data, cells, start, n)
        # value of a spend vector x: multipliers u = x / spend (window only)
        value_x = lambda x: value(jnp.where(jnp.asarray(spend) > 0, x / jnp.asarray(safe), 0.0))  # noqa: E731
        v = lambda x: float(value_x(jnp.asarray(x, jnp.float64)))  # noqa: E731
        lower = np.zeros(len(channels))
        upper = np.where(spend > 0, budget, 0.0)
        rng = np.random.default_rng(seed)
        starts = [current, x_plan, upper / max((spend > 0).sum(), 1)]
        starts += [budget * rng.dirichlet(np.ones(len(channels))) * (spend > 0) for _ in range(4)]
        starts = [s * budget / s.sum() for s in starts]
        best = truth_optimal_plan(value_x, budget, lower, upper, starts)
        v_cur, v_plan, v_best = v(current), v(x_plan), v(best)
        if v_plan > v_best:  # the model's plan is the better optimum: it is the truth's best found
            best, v_best = x_plan, v_plan
    window_kpi = float((data.truth.kpi * cells)[:, start:n].sum())
    achievable = v_best - v_cur
    return {
        "on": on, "method": plan.method, "budget_factor": float(factor), "horizon_weeks": int(horizon),
        "budget": budget,
        "plan_beyond_observed_pct": plan.beyond_observed_pct,
        "plan_below_observed_pct": plan.below_observed_pct,
        "channels_without_spend": dead,
        "plan": dict(zip(channels, map(float, x_plan))), "current": dict(zip(channels, map(float, current))),
        "truth_optimal": dict(zip(channels, map(float, best))),
        "model_predicted_uplift": float(plan.uplift),
        "true_uplift_of_plan": float(v_plan - v_cur), "achievable_uplift": float(achievable),
        "achievable_uplift_pct_of_kpi": float(100.0 * achievable / window_kpi),
        "captured": float((v_plan - v_cur) / achievable) if achievable > 1e-9 * window_kpi else None,
        "loss_pct_of_kpi": float(100.0 * (v_best - v_plan) / window_kpi),
    }


def _coefficient_path(result: FitResult, data: SyntheticData, model_media: np.ndarray, saturated: np.ndarray,
                      cells: np.ndarray) -> dict:
    truth = data.truth
    p = truth.params
    ch = p.get("drift_channel")
    if not ch:
        return {}
    c = truth.channel_index(ch)
    n = result.split.n_train
    tm = np.asarray(result.scaler.target_mean, np.float64)
    w = cells[:, :n].astype(np.float64)
    num = (model_media[:, :n, c] * w).sum(axis=0)
    den = (saturated[:, :n, c] * tm[:, None] * w).sum(axis=0)
    ok = den > 1e-12 * max(den.max(), 1e-300)
    implied = np.where(ok, num / np.where(ok, den, 1.0), np.nan)
    true = p["drift_path"][:n, c]
    # from the end of the burn-in on: before it β is blended with the stable coefficients
    keep = ok & np.isfinite(implied) & (np.arange(n) >= result.config.model.burn_in_weeks)
    corr = float(np.corrcoef(implied[keep], true[keep])[0, 1]) if keep.sum() > 2 and implied[keep].std() > 0 else 0.0
    amp = lambda a: float(a.std() / a.mean()) if a.mean() else None  # noqa: E731
    oracle = _oracle_path(data, c, cells[:, :n], result.config.model.trend_knot_weeks)
    keep_o = keep & np.isfinite(oracle)
    corr_o = (float(np.corrcoef(oracle[keep_o], true[keep_o])[0, 1])
              if keep_o.sum() > 2 and oracle[keep_o].std() > 0 else 0.0)
    return {"channel": ch, "correlation": corr, "relative_amplitude_model": amp(implied[keep]),
            "relative_amplitude_truth": amp(true[keep]), "oracle_correlation": corr_o,
            "relative_amplitude_oracle": amp(oracle[keep_o])}


def _oracle_path(data: SyntheticData, c: int, cells: np.ndarray, spacing: int) -> np.ndarray:
    """``[n]`` the drifting channel's effect multiplier as the data identify it at best: least
    squares of the training KPI (each region over its mean) on region intercepts, a national trend
    and the channel's undrifted true contribution times a free path, both piecewise linear between
    knots every ``spacing`` weeks (the model's trend knots), with every other component (seasonality,
    controls, the other channels) known and subtracted.  Its correlation with the planted path is a
    reference for how well the data identify the drift: a fit that must also estimate the curves,
    the adstock and the other channels is not expected to beat it (a prior that knows the path's
    shape could)."""
    truth = data.truth
    n = cells.shape[1]
    contrib = truth.contributions[:, :n]
    other = np.delete(contrib, c, axis=-1).sum(-1)
    y = truth.kpi[:, :n] - truth.seasonality[:, :n] - truth.controls_effect[:, :n] - other
    w = cells.astype(bool)
    scale = np.array([truth.kpi[r, :n][w[r]].mean() if w[r].any() else 1.0 for r in range(w.shape[0])])
    path = truth.params["drift_path"][:n, c]
    undrifted = contrib[..., c] / np.where(path > 0, path, 1.0)[None]
    n_knots = knot_count(n, spacing)
    basis = np.asarray(knot_weights(jnp.arange(n) / 52.0, n_knots, spacing), np.float64)  # [n, K] hat functions
    rr, tt = np.nonzero(w)
    x = np.hstack([np.eye(w.shape[0])[rr], basis[tt, 1:], (undrifted[rr, tt] / scale[rr])[:, None] * basis[tt]])
    coef, *_ = np.linalg.lstsq(x, y[rr, tt] / scale[rr], rcond=None)
    return basis @ coef[-n_knots:]


def evaluate_against_truth(result: FitResult, data: SyntheticData, *, horizon: int = 13, budget_factors=(1.0, 1.5),
                           routes=("curves", "model"), seed: int = 0) -> dict:
    """Score ``result`` (fitted on ``data.panel()``) against ``data.truth`` (module docstring).

    ``routes``: the ``optimize_budget(on=...)`` routes whose plans are scored (``optimize``'s
    default ``"auto"`` takes ``"model"`` when the horizon fits in the training weeks).  Returns
    ``{"channels": {column: {...}}, "regret": [{...} per
    route and budget factor], "coefficient_path": {...}, "summary": {...}}``; relative errors are
    ``(model − truth) / |truth|`` (None where the truth is 0); summary keys of the regret are
    ``"<route> <factor>x"``."""
    _check_alignment(result, data)
    truth = data.truth
    n = result.split.n_train
    if not 1 <= horizon < n:
        raise ConfigError(f"horizon must be in [1, {n - 1}] training weeks, got {horizon}")
    mask = np.asarray(result.panel.mask, bool) if result.panel.mask is not None else np.ones(truth.kpi.shape, bool)
    cells = result.split.train_mask(mask).astype(bool)
    cw = cells.astype(np.float64)
    channels = list(truth.channels)
    null = truth.null_channel

    grid = sorted(set(result.config.analysis.curve_multipliers) | {1.0, *RESPONSE_MULTIPLIERS})
    curve_df = response_curves(result, grid)  # once: the scores and optimize's Hill curves share it
    curves = curve_df.set_index(["channel", "multiplier"])["kpi"]
    roi = roi_table(result).set_index("channel")
    dec = result.decompose()
    media = original_units(dec, result.scaler.target_mean).mean().media
    sat = np.asarray(dec.saturated, np.float64).mean(axis=0)
    beta = np.asarray(dec.media_coef, np.float64).mean(axis=0)  # [R,T,C] member mean
    after_burn = cells.copy()
    after_burn[:, :result.config.model.burn_in_weeks] = False
    true_media = truth.contributions
    kpi_total = float((truth.kpi * cw).sum())  # also the truth's KPI at 1x
    _, spend = channel_totals(result)
    true_contrib = (true_media * cw[..., None]).sum(axis=(0, 1))
    model_contrib = (media * cw[..., None]).sum(axis=(0, 1))

    out_ch: dict[str, dict] = {}
    for ci, ch in enumerate(channels):
        row: dict = {"is_null": ch == null, "flighting": truth.params["flighting"][ch]}
        for m in RESPONSE_MULTIPLIERS:
            model = float(curves[(ch, m)] - curves[(ch, 1.0)])
            true = float((counterfactual(truth, ch, m) * cw).sum() - kpi_total)
            row[f"change_{m:g}x"], row[f"change_{m:g}x_truth"] = model, true
            row[f"change_{m:g}x_rel_error"] = _rel(model, true)
        up = float((counterfactual(truth, ch, 1 + _MROI_STEP) * cw).sum())
        dn = float((counterfactual(truth, ch, 1 - _MROI_STEP) * cw).sum())
        sp = float(spend[ci]) if spend is not None else float("nan")
        row["mroi"], row["mroi_truth"] = float(roi.loc[ch, "mroi"]), (up - dn) / (2 * _MROI_STEP) / sp
        row["mroi_rel_error"] = _rel(row["mroi"], row["mroi_truth"])
        row["roi"], row["roi_truth"] = float(roi.loc[ch, "roi"]), float(true_contrib[ci] / sp)
        row["roi_rel_error"] = _rel(row["roi"], row["roi_truth"])
        row["share"] = float(model_contrib[ci] / model_contrib.sum())
        row["share_truth"] = float(true_contrib[ci] / true_contrib.sum())
        row["pct_of_kpi"] = float(100.0 * model_contrib[ci] / kpi_total)
        b = beta[..., ci][after_burn]
        row["coefficient_cv"] = float(b.std() / b.mean()) if b.size and b.mean() > 0 else None
        if ch != null:
            errs = []
            for r in range(truth.kpi.shape[0]):
                k = cells[r]
                tr = true_media[r, k, ci]
                if k.sum() and tr.mean() > 0:
                    errs.append(float(np.sqrt(((media[r, k, ci] - tr) ** 2).mean()) / tr.mean()))
            row["weekly_error_median"] = float(np.median(errs)) if errs else None
            row["weekly_error_by_region"] = errs
        out_ch[ch] = row

    draws = None if result.draws is None else draw_quantities(result, grid)
    if draws is not None:
        mults = list(draws["multipliers"])
        at = lambda m: draws["curve"][:, :, mults.index(m)]  # noqa: E731
        per_spend = (np.where(spend > 0, spend, np.nan) if spend is not None
                     else np.full(len(channels), np.nan))[None, :]
        per_draw = {f"change_{m:g}x": at(m) - at(1.0) for m in RESPONSE_MULTIPLIERS}
        per_draw["roi"] = draws["contribution"] / per_spend
        per_draw["mroi"] = draws["marginal_kpi"] / per_spend
        for ci, ch in enumerate(channels):
            row = out_ch[ch]
            for key, vals in per_draw.items():
                truth_v = row[f"{key}_truth"]
                row[f"{key}_per_draw"] = [float(v) for v in vals[:, ci]]
                for suffix, method in _INTERVAL_SUFFIXES:
                    lo, hi = (float(v) for v in carry_interval(row[key], vals[:, ci], method=method))
                    row[f"{key}_interval{suffix}"] = [lo, hi]
                    row[f"{key}_covered{suffix}"] = bool(lo <= truth_v <= hi)
                row[f"{key}_interval_width"] = (float((row[f"{key}_interval"][1] - row[f"{key}_interval"][0])
                                                      / abs(truth_v)) if truth_v else None)
        report = identifiability(result, curve_df).set_index("channel")
        for ch in channels:
            r = report.loc[ch]
            out_ch[ch]["identifiability"] = {
                "level": r["level"], "response": r["response"], "contraction": _finite(r["contraction"]),
                "spend_low_high": _finite(r["spend_low_high"]), "collinearity_r2": _finite(r["collinearity_r2"]),
                "response_width": _finite(r["response_width"]), "incremental_width": _finite(r["incremental_width"])}

    for on in routes:
        if on not in ("curves", "model"):
            raise ConfigError(f"routes must be 'curves' and/or 'model', got {on!r}")
    hill = curve_params(result, curve_df)
    regret = [_regret(result, data, cells, horizon, f, seed, on, hill) for on in routes for f in budget_factors]
    path = _coefficient_path(result, data, media, sat, cells)
    real = [c for c in channels if c != null]
    flighted = [c for c in real if truth.params["flighting"][c] != "always_on"]
    med = lambda xs: float(np.median(xs)) if xs else None  # noqa: E731

    def absrel(key, chans):
        return [abs(out_ch[c][key]) for c in chans if out_ch[c][key] is not None]

    ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    summary = {
        "response_0.5x_abs_rel_error_median": med(absrel("change_0.5x_rel_error", real)),
        "response_1.5x_abs_rel_error_median": med(absrel("change_1.5x_rel_error", real)),
        "response_near_abs_rel_error_max": max(absrel("change_0.5x_rel_error", real)
                                               + absrel("change_1.5x_rel_error", real), default=None),
        "incremental_abs_rel_error_median": med(absrel("change_0x_rel_error", real)),
        "incremental_flighted_abs_rel_error_median": med(absrel("change_0x_rel_error", flighted)),
        "mroi_abs_rel_error_median": med(absrel("mroi_rel_error", real)),
        "roi_abs_rel_error_median": med(absrel("roi_rel_error", real)),
        "roi_rank_correlation": (float(np.corrcoef(ranks([out_ch[c]["roi"] for c in real]),
                                                   ranks([out_ch[c]["roi_truth"] for c in real]))[0, 1])
                                 if len(real) > 2 else None),
        "share_abs_error_points_max": float(100 * max(abs(out_ch[c]["share"] - out_ch[c]["share_truth"])
                                                      for c in real)) if real else None,
        "weekly_error_median": med([e for c in real for e in out_ch[c]["weekly_error_by_region"]]),
        "null_pct_of_kpi": out_ch[null]["pct_of_kpi"] if null else None,
        "media_total_ratio": float(model_contrib.sum() / true_contrib.sum()) if true_contrib.sum() else None,
        "captured": {f"{r['on']} {r['budget_factor']:g}x": r["captured"] for r in regret},
        "loss_pct_of_kpi": {f"{r['on']} {r['budget_factor']:g}x": r["loss_pct_of_kpi"] for r in regret},
        "coefficient_cv_median": med([out_ch[c]["coefficient_cv"] for c in real
                                      if out_ch[c]["coefficient_cv"] is not None]),
        "drift_correlation": path.get("correlation"),
        "drift_correlation_oracle": path.get("oracle_correlation"),
        "interval_coverage": None if draws is None else {
            f"{key}{suffix}": float(np.mean([out_ch[c][f"{key}_covered{suffix}"] for c in real]))
            for key in INTERVAL_KEYS for suffix, _ in _INTERVAL_SUFFIXES} if real else None,
        "holdout_r2": result.metrics.get("holdout", {}).get("r2"),
        "holdout_r2_within_region": result.metrics.get("holdout", {}).get("r2_within_region"),
    }
    return {"channels": out_ch, "regret": regret, "coefficient_path": path, "summary": summary}

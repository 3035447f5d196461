"""One self-contained HTML dashboard for a fitted run.

``build_dashboard(result_or_run_dir, out_path=None) -> Path`` writes ``dashboard.html``: a summary
header and one section per figure (see docs/dashboard.md), with plotly.js embedded once, so the
file opens offline in any browser.  From a run directory it also shows the analysis files written
by ``causalmmm-jax curves`` (``curves.csv``, ``curve_params.csv``) and ``causalmmm-jax optimize``
(``allocation.csv``, ``allocation.json``) when present, and a short note where they are absent.

Figures are rendered by a small script at the end of the page; it records every JavaScript error
in ``<html data-errors="[...]">`` and counts rendered figures in ``data-figures-rendered`` (out of
``data-figures-expected``; ``data-ready="1"`` once all are drawn), which the browser test reads.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import figures as F
from . import figures_model as FM

__all__ = ["build_dashboard", "dashboard_sections", "render_html", "Section", "DASHBOARD_FILE"]

DASHBOARD_FILE = "dashboard.html"


@dataclass
class Section:
    """One dashboard panel: a figure, or a note when its data is unavailable."""

    id: str
    title: str
    description: str
    figure: go.Figure | None = None
    note: str | None = None
    group: str = ""


@dataclass
class _Inputs:
    result: Any
    metrics: dict
    history: pd.DataFrame | None
    run_dir: Path | None
    files: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading

def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return None


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _inputs(result_or_run_dir, run_dir) -> _Inputs:
    if isinstance(result_or_run_dir, (str, os.PathLike)):
        from ..io import load_model

        run_dir = Path(result_or_run_dir)
        result = load_model(run_dir)
        metrics = _read_json(run_dir / "metrics.json")
        history = _read_csv(run_dir / "history.csv")
    else:
        from ..run import history_frame

        result = result_or_run_dir
        run_dir = None if run_dir is None else Path(run_dir)
        metrics = result.metrics or (None if run_dir is None else _read_json(run_dir / "metrics.json"))
        history = history_frame(result) if result.history else (
            None if run_dir is None else _read_csv(run_dir / "history.csv"))
    if not metrics:
        from ..train.evaluate import evaluate

        metrics = evaluate(result)
    files: dict[str, Any] = {}
    if run_dir is not None:
        files = {"curves": _read_csv(run_dir / "curves.csv"), "curve_params": _read_csv(run_dir / "curve_params.csv"),
                 "allocation": _read_csv(run_dir / "allocation.csv"),
                 "allocation_json": _read_json(run_dir / "allocation.json")}
    return _Inputs(result, metrics, history, run_dir, files)


# --------------------------------------------------------------------------- arrays

def _times(times: np.ndarray) -> list:
    t = np.asarray(times)
    if np.issubdtype(t.dtype, np.datetime64):
        return np.datetime_as_string(t.astype("datetime64[D]"), unit="D").tolist()
    return [int(v) if float(v).is_integer() else float(v) for v in t.tolist()]


def _weekly_mean(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``a [R,T,X]`` → mean over observed regions per week ``[T,X]`` (NaN for empty weeks)."""
    w = mask[..., None].astype(np.float64)
    n = w.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (a * w).sum(0) / n, np.nan)


def _dag_matrix(result) -> np.ndarray | None:
    if result.spec.config.dag_mode == "off":
        return None
    import jax

    from ..model.mmm import transform_params

    if result.n_seeds > 1:
        w = jax.vmap(lambda p: transform_params(p, result.spec)["W"])(result.params)
        return np.asarray(w, dtype=np.float64).mean(0)
    return np.asarray(transform_params(result.params, result.spec)["W"], dtype=np.float64)


# --------------------------------------------------------------------------- sections

_ANALYSIS_HINT = "Run <code>causalmmm-jax {cmd} RUN_DIR</code> and rebuild the dashboard to add it."


def dashboard_sections(result, *, metrics: dict, history: pd.DataFrame | None = None,
                       files: dict[str, Any] | None = None) -> list[Section]:
    """Every dashboard panel for a fitted ``result`` (a FitResult); ensembles use the seed mean."""
    from ..analysis.contributions import original_units
    from ..data.scaling import transform

    files = files or {}
    panel, split, cfg = result.panel, result.split, result.config
    mask = np.asarray(panel.mask, dtype=bool)
    times = _times(panel.times)
    n_train = split.n_train
    chans = list(panel.channels)
    disp = F.short_names(chans)
    ccol = F.channel_colors(len(chans))
    color_of = dict(zip(disp, ccol))

    d = result.decompose()
    comps = original_units(d, result.scaler.target_mean)
    beta = np.asarray(d.media_coef, dtype=np.float64)
    if result.n_seeds > 1:
        comps = comps.mean()
        beta = beta.mean(0)
    pred = comps.prediction
    actual = np.where(mask, panel.target, np.nan)
    pred_obs = np.where(mask, pred, np.nan)
    w3 = mask[..., None]
    train_cells = split.train_mask(mask)
    hold_cells = split.holdout_mask(mask)
    out: list[Section] = []

    # training
    if history is not None and len(history):
        out.append(Section("training", "Training curves",
                           "Loss (log scale) and RMSE of the scaled KPI on the fit cells (and on the validation "
                           "weeks when configured), per epoch of the main phase (ensembles: member 0).",
                           F.training_curves(history), group="Fit"))
    else:
        out.append(Section("training", "Training curves", "", note="No training history (history.csv is absent "
                                                                   "or empty).", group="Fit"))

    # fit
    regions = [str(r) for r in panel.regions]
    out.append(Section("fit", "Actual vs predicted",
                       "Weekly KPI: choose the national total or a region in the menu. Shaded: the holdout weeks, "
                       "never seen in training. Unobserved cells are gaps.",
                       F.actual_vs_predicted(times, regions, actual, pred_obs, n_train), group="Fit"))
    r_idx, t_idx = np.nonzero(hold_cells)
    if len(r_idx):
        labels = [f"region {regions[r]} · {times[t]}" for r, t in zip(r_idx, t_idx)]
        out.append(Section("holdout", "Holdout scatter",
                           "Every observed holdout cell (region × week): points on the dashed line are predicted "
                           "exactly; the title gives the pooled holdout R².",
                           F.holdout_scatter(actual[r_idx, t_idx], pred[r_idx, t_idx], labels,
                                             metrics.get("holdout", {}).get("r2")), group="Fit"))
    else:
        out.append(Section("holdout", "Holdout scatter", "", note="This run has no holdout weeks.", group="Fit"))

    # decomposition, national weekly
    nat = lambda a: (a * mask).sum(0)  # noqa: E731
    media_nat = (comps.media * w3).sum(0)                                  # [T,C]
    colors = {"baseline": F.COMPONENT_COLORS["baseline"], "seasonality": F.COMPONENT_COLORS["seasonality"],
              "controls": F.COMPONENT_COLORS["controls"], "trend": F.COMPONENT_COLORS["trend"], **color_of}
    stacked = {"baseline": nat(comps.baseline), "seasonality": nat(comps.seasonality)}
    signed = {}
    ctrl_nat = (comps.controls * w3).sum((0, 2)) if panel.n_controls else np.zeros(panel.n_weeks)
    for name, series in (("controls", ctrl_nat), ("trend", nat(comps.trend))):
        if np.all(series >= 0) and np.any(series > 0):
            stacked[name] = series
        elif np.any(series != 0):
            signed[name] = series
    stacked.update({disp[j]: media_nat[:, j] for j in range(len(chans))})
    pred_nat = np.where(mask.any(0), nat(pred), np.nan)
    out.append(Section("stacked", "Contributions over time",
                       "National weekly decomposition of the prediction: stacked areas for the non-negative "
                       "components (baseline, seasonality, each channel); components that change sign (controls, "
                       "trend) are dashed lines; the dotted line is the total prediction.",
                       F.contributions_stacked(times, stacked, colors, n_train, signed, pred_nat),
                       group="Decomposition"))
    out.append(Section("channels", "Contribution per channel",
                       "National weekly contribution of each media channel (KPI units).",
                       F.channel_lines(times, media_nat, disp, n_train, ccol), group="Decomposition"))
    tcm = train_cells[..., None]
    ch_tot = (comps.media * tcm).sum((0, 1))
    totals = {"baseline": float((comps.baseline * train_cells).sum()),
              "seasonality": float((comps.seasonality * train_cells).sum()),
              "media": float(ch_tot.sum()), "controls": float((comps.controls * tcm).sum()),
              "trend": float((comps.trend * train_cells).sum())}
    if totals["trend"] == 0.0:
        totals.pop("trend")
    out.append(Section("donut", "Component shares",
                       "Share of the summed prediction over the training weeks (observed cells) by component; "
                       "the same numbers as the attribution in the header.",
                       F.component_donut(totals), group="Decomposition"))
    out.append(Section("waterfall", "Waterfall",
                       "How the total predicted KPI of the training weeks builds up: baseline, then each channel, "
                       "the controls and seasonality (and trend when learned).",
                       F.contribution_waterfall(totals["baseline"], dict(zip(disp, ch_tot.tolist())),
                                                totals["controls"], totals["seasonality"], totals.get("trend", 0.0)),
                       group="Decomposition"))

    # coefficients
    out.append(Section("coefficients", "Coefficients over time",
                       "The time-varying media coefficient β (from the recurrent network) averaged over the "
                       "observed regions of each week. β multiplies the saturated media signal; it is unitless.",
                       F.coefficients_over_time(times, _weekly_mean(beta, mask), disp, n_train, ccol),
                       group="Channels"))
    bt = beta[train_cells]                                                   # [n, C]
    out.append(Section("effectiveness", "Channel effectiveness",
                       "Left: mean β ± one standard deviation over the observed training region-weeks. Right: total "
                       "contribution of each channel over the training weeks.",
                       F.channel_effectiveness(disp, bt.mean(0), bt.std(0), ch_tot, ccol), group="Channels"))
    out.append(_roi_section(metrics, chans, disp, ccol))

    # DAG
    W = _dag_matrix(result)
    thr = float(cfg.analysis.dag_threshold)
    if W is None:
        note = "The interaction layer is off (model.dag_mode = \"off\"): no channel graph."
        out.append(Section("dag_network", "Channel interaction graph", "", note=note, group="Interactions"))
        out.append(Section("dag_heatmap", "Interaction matrix", "", note=note, group="Interactions"))
    else:
        out.append(Section("dag_network", "Channel interaction graph",
                           f"Arrows i → j for the entries of the learned interaction matrix W above the analysis "
                           f"threshold (analysis.dag_threshold = {thr:g}); thicker = larger W. This is the model's "
                           f"interaction layer (mode \"{cfg.model.dag_mode}\"), not an identified causal graph.",
                           FM.dag_network(W, disp, thr), group="Interactions"))
        out.append(Section("dag_heatmap", "Interaction matrix",
                           "The continuous matrix W (row = parent, column = child; 0 outside the mode's mask).",
                           FM.dag_heatmap(W, disp), group="Interactions"))

    # inputs
    media_s, controls_s, _ = transform(result.scaler, panel.media, panel.controls, None, mask)
    scale_note = ("share of voice per region-week" if result.scaler.media_mode == "sov" else
                  "media / the region × channel training mean (1 = an average week)")
    out.append(Section("media_inputs", "Scaled media inputs",
                       f"The model's media input, {scale_note}, averaged over the observed regions of each week.",
                       FM.inputs_over_time(times, _weekly_mean(np.asarray(media_s, dtype=np.float64), mask), disp,
                                           n_train, "Scaled media (national mean)", "scaled media", ccol),
                       group="Inputs"))
    if panel.n_controls:
        cdisp = F.short_names(panel.control_names)
        out.append(Section("control_inputs", "Scaled controls",
                           "Controls after robust standardisation ((x − median) / scale, clipped), averaged over "
                           "the observed regions of each week.",
                           FM.inputs_over_time(times, _weekly_mean(np.asarray(controls_s, dtype=np.float64), mask),
                                               cdisp, n_train, "Scaled controls (national mean)", "scaled control"),
                           group="Inputs"))
    else:
        out.append(Section("control_inputs", "Scaled controls", "", note="This run has no control variables.",
                           group="Inputs"))

    # analysis files
    out.append(_curves_section(files, chans, disp, color_of, n_train))
    out.append(_budget_section(files, metrics, chans, disp))
    return out


def _roi_section(metrics: dict, chans: list[str], disp: list[str], ccol: list[str]) -> Section:
    info = metrics.get("channels", {})
    rows = [info.get(c, {}) for c in chans]
    key, label = "roi", "ROI (contribution / spend)"
    if not any(np.isfinite(r.get("roi", np.nan) if r.get("roi") is not None else np.nan) for r in rows):
        key, label = "effect_per_1000", "contribution per 1,000 exposure units"
    vals = np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=np.float64)
    if not np.isfinite(vals).any():
        return Section("roi", "ROI per channel", "", note="No spend or exposure totals in metrics.json: ROI is "
                                                          "not available.", group="Channels")
    lo = hi = None
    bands = [r.get("bands", {}).get(key) for r in rows]
    if all(b is not None and b.get("q05") is not None for b in bands):
        lo = np.array([b["q05"] for b in bands], dtype=np.float64)
        hi = np.array([b["q95"] for b in bands], dtype=np.float64)
    desc = ("Contribution over the training weeks divided by spend over the same weeks" if key == "roi" else
            "No spend columns were given, so the panel shows the contribution per 1,000 exposure units")
    desc += ("; error bars: 5–95 % range over the ensemble members." if lo is not None else
             ". Fit an ensemble (--seeds K) to see uncertainty bands.")
    return Section("roi", "ROI per channel", desc, FM.roi_bars(disp, vals, lo, hi, label, ccol), group="Channels")


def _curves_section(files: dict, chans: list[str], disp: list[str], color_of: dict, weeks: int) -> Section:
    params, points = files.get("curve_params"), files.get("curves")
    ok = lambda df, cols: df is not None and len(df) and set(cols) <= set(df.columns)  # noqa: E731
    params = params if ok(params, ("channel", "top", "bottom", "half_saturation", "slope")) else None
    points = points if ok(points, ("channel", "kpi")) and ("multiplier" in points or "spend" in points) else None
    if params is None and points is None:
        return Section("curves", "Response curves", "", note="No response curves (curves.csv / curve_params.csv "
                       "are absent). " + _ANALYSIS_HINT.format(cmd="curves"), group="Planning")
    name_of = dict(zip(chans, disp))
    colors = {c: color_of.get(name_of.get(c, c)) for c in chans}
    return Section("curves", "Response curves",
                   "Circles: the model's incremental KPI when one channel's media (and spend) is scaled in every "
                   "training week (curves.csv), per week. Lines: the fitted 4-parameter Hill curve f(x) = bottom + "
                   "(top − bottom)·x^slope / (half^slope + x^slope) from curve_params.csv. Diamonds: the "
                   "historical weekly level.",
                   FM.response_curves(params, points, weeks, colors, name_of), group="Planning")


def _budget_section(files: dict, metrics: dict, chans: list[str], disp: list[str]) -> Section:
    alloc, info = files.get("allocation"), files.get("allocation_json") or {}
    if alloc is not None and not {"channel", "total_spend"} <= set(alloc.columns):
        alloc = None
    optimal = None
    if alloc is not None and len(alloc):
        optimal = dict(zip(alloc["channel"].astype(str), pd.to_numeric(alloc["total_spend"], errors="coerce")))
    elif isinstance(info.get("allocation"), dict):
        optimal = {str(k): float(v) for k, v in info["allocation"].items()}
    if not optimal:
        return Section("budget", "Budget allocation", "", note="No budget allocation (allocation.csv / "
                       "allocation.json are absent). " + _ANALYSIS_HINT.format(cmd="optimize"), group="Planning")
    order = [c for c in chans if c in optimal] + [c for c in optimal if c not in chans]
    name_of = dict(zip(chans, disp))
    opt = np.array([optimal[c] for c in order], dtype=np.float64)
    budget = float(np.nansum(opt))
    current = None
    cur_src = info.get("current_allocation")
    if isinstance(cur_src, dict) and cur_src:
        current = np.array([float(cur_src.get(c, np.nan)) for c in order])
        how = "current = allocation.json current_allocation"
    elif alloc is not None and "current_spend" in alloc:
        cs = dict(zip(alloc["channel"].astype(str), pd.to_numeric(alloc["current_spend"], errors="coerce")))
        current = np.array([cs.get(c, np.nan) for c in order], dtype=np.float64)
        how = "current = allocation.csv current_spend"
    else:
        spend = np.array([(metrics.get("channels", {}).get(c) or {}).get("spend") or np.nan for c in order],
                         dtype=np.float64)
        if np.isfinite(spend).any() and np.nansum(spend) > 0:
            current = spend / np.nansum(spend) * budget
            how = "current = the training-period spend mix at the same budget"
    parts = [how] if current is not None else ["no current spend known"]
    pr, cr = info.get("predicted_response"), info.get("current_response")
    if isinstance(pr, (int, float)) and isinstance(cr, (int, float)) and cr:
        parts.append(f"predicted response {_human(pr)} vs current {_human(cr)} ({100 * (pr / cr - 1):+.1f} %)")
    if info.get("method"):
        parts.append(f"method {info['method']}" + ("" if info.get("success", True) else " (did not converge)"))
    fig = FM.budget_allocation([name_of.get(c, c) for c in order],
                               current if current is not None else np.full(len(order), np.nan), opt, "spend",
                               " · ".join(parts))
    return Section("budget", "Budget allocation",
                   "Optimised spend per channel (allocation.csv from <code>causalmmm-jax optimize</code>) next to "
                   "the current allocation at the same total budget.", fig, group="Planning")


# --------------------------------------------------------------------------- header

def _human(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _fmt(v, spec: str = "num") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return _human(v) if spec == "num" else format(v, spec)


def _header(result, metrics: dict) -> str:
    p, s = result.panel, result.split
    t = _times(p.times)
    e = html.escape
    rng = lambda a, b: f"{e(str(t[a]))} – {e(str(t[b - 1]))}" if b > a else "–"  # noqa: E731
    n_cells = p.n_regions * p.n_weeks
    missing = int((~np.asarray(p.mask, bool)).sum())
    data = [("KPI", e(p.target_name)), ("regions", f"{p.n_regions:,}"), ("weeks", f"{p.n_weeks} ({rng(0, p.n_weeks)})"),
            ("channels", str(p.n_channels)), ("controls", str(p.n_controls)),
            ("missing cells", f"{missing:,} of {n_cells:,} ({100 * missing / max(n_cells, 1):.1f} %)"),
            ("spend", "yes" if p.spend is not None else "no")]
    split = [("fit", f"{s.n_fit} weeks ({rng(0, s.n_fit)})"),
             ("validation", f"{s.n_val} weeks ({rng(s.n_fit, s.n_train)})" if s.n_val else "none"),
             ("holdout", f"{s.n_holdout} weeks ({rng(s.n_train, s.n_weeks)})" if s.n_holdout else "none")]
    tr, ho = metrics.get("train", {}), metrics.get("holdout", {})
    mrows = [("R²", "r2", ".3f"), ("R² within region", "r2_within_region", ".3f"), ("RMSE", "rmse", "num"),
             ("MAE", "mae", "num"), ("MAPE %", "mape", ".2f")]
    bands = ho.get("bands", {})
    mt = "".join(
        f"<tr><th>{lab}</th><td>{_fmt(tr.get(k), f)}</td><td>{_fmt(ho.get(k), f)}"
        + (f" <span class='band'>[{_fmt(bands[k]['q05'], f)}, {_fmt(bands[k]['q95'], f)}]</span>" if k in bands else "")
        + "</td></tr>" for lab, k, f in mrows)
    naive = ho.get("naive")
    if naive:
        mt += (f"<tr class='naive'><th>naive R² (region mean)</th><td>{_fmt(tr.get('naive', {}).get('r2'), '.3f')}"
               f"</td><td>{_fmt(naive.get('r2'), '.3f')}</td></tr>")
    att = metrics.get("attribution", {})
    att_rows = "".join(f"<tr><th>{e(k)}</th><td>{_fmt(100 * v, '.1f')} %</td></tr>" for k, v in att.items()
                       if v is not None and not (k == "trend" and v == 0))
    ch = metrics.get("channels", {})
    top = sorted(((c, v.get("share")) for c, v in ch.items() if v.get("share") is not None), key=lambda kv: -kv[1])
    disp = dict(zip(p.channels, F.short_names(p.channels)))
    top_rows = "".join(f"<tr><th title='{e(c)}'>{e(disp.get(c, c))}</th><td>{100 * v:.1f} %</td></tr>"
                       for c, v in top[:6])
    mc = result.config.model
    timing = metrics.get("timing", {})
    run = [("epochs", f"{metrics.get('epochs_run', result.epochs_run)}"
            + (f" (best {metrics['best_epoch']})" if metrics.get("best_epoch") else "")),
           ("seeds", str(result.n_seeds) + ("" if result.n_seeds == 1 else " (decomposition = seed mean)")),
           ("fit time", f"{timing['fit_seconds']:.1f} s" if "fit_seconds" in timing else "–"),
           ("model", e(f"hidden {mc.hidden_dim}, adstock {mc.adstock}, DAG {mc.dag_mode}, attribution "
                       f"{mc.attribution}, media {result.config.data.media_scaling}")),
           ("version", e(str(metrics.get("version", result.version))))]
    kv = lambda rows: "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)  # noqa: E731
    return (
        "<div class='cards'>"
        f"<div class='card small'><h3>Data</h3><table>{kv(data)}</table></div>"
        f"<div class='card small'><h3>Split</h3><table>{kv(split)}</table><h3>Run</h3><table>{kv(run)}</table></div>"
        "<div class='card small'><h3>Fit (KPI units)</h3><table><tr><th></th><th>train</th><th>holdout</th></tr>"
        f"{mt}</table></div>"
        f"<div class='card small'><h3>Attribution (training weeks)</h3><table>{att_rows}</table>"
        f"<h3>Largest media shares</h3><table>{top_rows}</table></div>"
        "</div>")


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#222}
header{background:#264653;color:#fff;padding:16px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85;font-size:13px}
nav{padding:8px 28px;background:#fff;border-bottom:1px solid #ddd;font-size:13px;position:sticky;top:0;z-index:10}
nav{display:flex;flex-wrap:wrap;gap:2px 12px;align-items:baseline}
nav a{color:#264653;text-decoration:none;white-space:nowrap} nav b{margin-left:8px;color:#888}
main{padding:16px 28px;max-width:1500px;margin:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:14px 18px;margin-bottom:16px}
.card.small h3{margin:4px 0 6px;font-size:14px;color:#264653} .card.small{margin-bottom:0}
table{border-collapse:collapse;font-size:13px;width:100%} th,td{padding:2px 6px;text-align:left;vertical-align:top}
th{font-weight:600;color:#444} td{font-variant-numeric:tabular-nums} tr.naive{color:#888} .band{color:#888}
h2{margin:4px 0;font-size:18px;color:#264653} h2.group{margin:22px 0 8px;font-size:15px;color:#888;
text-transform:uppercase;letter-spacing:.06em}
p.desc{margin:2px 0 8px;font-size:13px;color:#555} .note{padding:14px;background:#fff8e1;border-radius:6px;
font-size:13px;color:#6d5b00} .fig{width:100%;min-height:300px}
code{background:#eee;padding:0 3px;border-radius:3px}
"""

_ERROR_HOOK = """(function(){var root=document.documentElement,errs=[];
function rec(m){errs.push(String(m));root.setAttribute('data-errors',JSON.stringify(errs));}
window.__recordError=rec;
window.addEventListener('error',function(e){rec((e&&e.message)||e);});
window.addEventListener('unhandledrejection',function(e){var r=e&&e.reason;
rec('unhandled rejection: '+((r&&r.message)||r));});
})();"""

_RENDER = """(function(){var root=document.documentElement,ids=%s,done=0;
var tpl=JSON.parse(document.getElementById('plotly-template').textContent);
var cfg={responsive:true,displaylogo:false};
if(typeof Plotly==='undefined'){window.__recordError('plotly.js did not load');return;}
ids.forEach(function(id){try{
var fig=JSON.parse(document.getElementById('data-'+id).textContent);fig.layout.template=tpl;
Plotly.newPlot('fig-'+id,fig.data,fig.layout,cfg).then(function(){done++;
root.setAttribute('data-figures-rendered',String(done));if(done===ids.length)root.setAttribute('data-ready','1');},
function(e){window.__recordError('figure '+id+': '+((e&&e.message)||e));});
}catch(e){window.__recordError('figure '+id+': '+((e&&e.message)||e));}});
})();"""


def _json(obj) -> str:
    """Compact JSON safe inside <script>: no '<' characters (escaped as \\u003c)."""

    def default(o):
        if isinstance(o, np.ndarray):
            return F.round_sig(o)
        if isinstance(o, (np.floating, np.integer)):
            return F.round_sig(float(o))
        if isinstance(o, np.bool_):
            return bool(o)
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    try:
        text = json.dumps(obj, separators=(",", ":"), default=default, allow_nan=False)
    except ValueError:  # a NaN/inf that did not go through round_sig: strict JSON needs null
        text = json.dumps(_finite(obj), separators=(",", ":"), default=default, allow_nan=False)
    return text.replace("<", "\\u003c")


def _finite(obj):
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return F.round_sig(obj)
    return obj


def _figure_json(fig: go.Figure) -> str:
    d = fig.to_plotly_json()
    d.get("layout", {}).pop("template", None)
    return _json({"data": d.get("data", []), "layout": d.get("layout", {})})


def render_html(sections: list[Section], header_html: str, title: str = "causalmmm-jax dashboard",
                subtitle: str = "") -> str:
    """The complete page: plotly.js once, the figure JSON, the render and error-recording scripts."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    e = html.escape
    figs = [s for s in sections if s.figure is not None]
    groups: dict[str, list[Section]] = {}
    for s in sections:
        groups.setdefault(s.group, []).append(s)
    nav = "".join(f"<b>{e(g)}</b>" + "".join(f"<a href='#sec-{s.id}'>{e(s.title)}</a>" for s in ss)
                  for g, ss in groups.items())
    body = []
    for g, ss in groups.items():
        if g:
            body.append(f"<h2 class='group'>{e(g)}</h2>")
        for s in ss:
            inner = (f"<div id='fig-{s.id}' class='fig'></div>" if s.figure is not None
                     else f"<div class='note'>{s.note or 'Not available.'}</div>")
            desc = f"<p class='desc'>{s.description}</p>" if s.description else ""
            body.append(f"<section id='sec-{s.id}' class='card'><h2>{e(s.title)}</h2>{desc}{inner}</section>")
    template = pio.templates["plotly_white"].to_plotly_json()
    data_scripts = "".join(f"<script type='application/json' id='data-{s.id}'>{_figure_json(s.figure)}</script>\n"
                           for s in figs)
    return (
        "<!DOCTYPE html>\n"
        f"<html lang='en' data-errors='[]' data-figures-rendered='0' data-figures-expected='{len(figs)}'>\n"
        "<head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)}</title><style>{_CSS}</style>\n<script>{_ERROR_HOOK}</script>\n"
        f"<script type='text/javascript'>{get_plotlyjs()}</script>\n</head>\n<body>\n"
        f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>\n<nav>{nav}</nav>\n"
        f"<main>{header_html}\n" + "\n".join(body) + "\n</main>\n"
        f"<script type='application/json' id='plotly-template'>{_json(template)}</script>\n{data_scripts}"
        f"<script>{_RENDER % _json([s.id for s in figs])}</script>\n</body>\n</html>\n")


def build_dashboard(result_or_run_dir, out_path: str | os.PathLike | None = None, *,
                    run_dir: str | os.PathLike | None = None) -> Path:
    """Write one self-contained ``dashboard.html`` and return its path.

    Args:
        result_or_run_dir: a run directory written by ``causalmmm-jax fit --out`` (the model,
            metrics.json, history.csv and any curves/optimize outputs are read from it) or a
            fitted :class:`~causalmmm_jax.train.fit.FitResult`.
        out_path: the HTML file (default ``RUN_DIR/dashboard.html``; for a FitResult
            ``run_dir/dashboard.html`` or ``./dashboard.html``).
        run_dir: with a FitResult, a run directory whose analysis files (curves.csv,
            curve_params.csv, allocation.csv/json) should be shown.
    """
    from .._io_util import atomic_write_text

    inp = _inputs(result_or_run_dir, run_dir)
    if out_path is None:
        out_path = (inp.run_dir if inp.run_dir is not None else Path.cwd()) / DASHBOARD_FILE
    out_path = Path(out_path)
    res = inp.result
    sections = dashboard_sections(res, metrics=inp.metrics, history=inp.history, files=inp.files)
    p = res.panel
    sub = (f"{p.target_name}: {p.n_regions} regions × {p.n_weeks} weeks × {p.n_channels} channels"
           + (f" · run {inp.run_dir.resolve().name}" if inp.run_dir is not None else ""))
    page = render_html(sections, _header(res, inp.metrics), "causalmmm-jax dashboard", sub)
    atomic_write_text(out_path, page)
    return out_path

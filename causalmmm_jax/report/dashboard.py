"""One self-contained HTML dashboard for a fitted run.

``build_dashboard(result_or_run_dir, out_path=None) -> Path`` writes ``dashboard.html``: a summary
header and one section per figure (see docs/dashboard.md), with plotly.js embedded once, so the
file opens offline in any browser.  From a run directory it also shows the analysis files written
by ``causalmmm-jax curves`` (``curves.csv``, ``curve_params.csv``) and ``causalmmm-jax optimize``
(``allocation.csv``, ``allocation.json``, ``plan.csv``, ``allocation_by_region.csv``,
``allocation_by_week.csv``; and ``plan_weekly.csv`` from ``optimize --plan``) when present, and a
short note where they are absent (the planning panels: :mod:`causalmmm_jax.report.planning`).

Figures are rendered by a small script at the end of the page; it records every JavaScript error
in ``<html data-errors="[...]">`` and counts rendered figures in ``data-figures-rendered`` (out of
``data-figures-expected``; ``data-ready="1"`` once all are drawn), which the browser test reads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..train.result import FitResult
from . import figures as F
from . import figures_model as FM
from ._section import Section
from .html import _header, _times, render_html
from .planning import _budget_section, _curves_section, _plan_sections

# render_html: see .html
__all__ = ["build_dashboard", "dashboard_sections", "render_html", "Section", "DASHBOARD_FILE"]

DASHBOARD_FILE = "dashboard.html"


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
        from ..modelfile import load_model

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
                 "allocation_json": _read_json(run_dir / "allocation.json"), "plan": _read_csv(run_dir / "plan.csv"),
                 "allocation_by_region": _read_csv(run_dir / "allocation_by_region.csv"),
                 "allocation_by_week": _read_csv(run_dir / "allocation_by_week.csv"),
                 "plan_weekly": _read_csv(run_dir / "plan_weekly.csv")}
    return _Inputs(result, metrics, history, run_dir, files)


# --------------------------------------------------------------------------- arrays

def _weekly_mean(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``a [R,T,X]`` → mean over observed regions per week ``[T,X]`` (NaN for empty weeks)."""
    w = mask[..., None].astype(np.float64)
    n = w.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (a * w).sum(0) / n, np.nan)


def _dag_matrix(result: FitResult) -> np.ndarray | None:
    if result.spec.config.dag_mode == "off":
        return None
    return np.asarray(result.transforms()["W"], dtype=np.float64).mean(0)


# --------------------------------------------------------------------------- sections

def dashboard_sections(result: FitResult, *, metrics: dict, history: pd.DataFrame | None = None,
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
    comps = original_units(d, result.scaler.target_mean).mean()  # the point estimate (member mean)
    beta = np.asarray(d.media_coef, dtype=np.float64).mean(0)
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
    from ..train.predictive import member_predictions, prediction_interval

    members, _ = member_predictions(result)
    cell_pi = prediction_interval(result, point=pred, members=members)
    nat_pi = prediction_interval(result, point=pred, national=True, members=members)
    pi_cov = metrics.get("prediction_interval", {}).get("holdout")
    pi_text = ("" if not pi_cov else f" On the holdout the band holds {100 * pi_cov['coverage']:.0f} % of the cells "
               f"and {100 * pi_cov['coverage_national']:.0f} % of the weeks' national totals.")
    out.append(Section("fit", "Actual vs predicted",
                       "Weekly KPI: choose the national total or a region in the menu. Shaded: the holdout weeks, "
                       "never seen in training. Unobserved cells are gaps. The band is the 90 % prediction "
                       "interval (the model's uncertainty and the noise around it; predictions.csv)." + pi_text,
                       F.actual_vs_predicted(times, regions, actual, pred_obs, n_train, band=(cell_pi.lo, cell_pi.hi),
                                             national_band=(nat_pi.lo, nat_pi.hi)),
                       group="Fit"))
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
    stacked = {"baseline": nat(comps.baseline)}
    signed = {}
    ctrl_nat = (comps.controls * w3).sum((0, 2)) if panel.n_controls else np.zeros(panel.n_weeks)
    # Fourier seasonality is signed (a cycle around the baseline); the original's is non-negative
    for name, series in (("seasonality", nat(comps.seasonality)), ("controls", ctrl_nat), ("trend", nat(comps.trend))):
        if np.all(series >= 0) and np.any(series > 0):
            stacked[name] = series
        elif np.any(series != 0):
            signed[name] = series
    stacked.update({disp[j]: media_nat[:, j] for j in range(len(chans))})
    pred_nat = np.where(mask.any(0), nat(pred), np.nan)
    out.append(Section("stacked", "Contributions over time",
                       "National weekly decomposition of the prediction: stacked areas for the non-negative "
                       "components (baseline, each channel, and seasonality, controls or trend when they never go "
                       "below zero); components that change sign (a learned annual cycle, most controls) are "
                       "dashed lines; the dotted line is the total prediction.",
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
    out.append(_identifiability_section(metrics, result, chans, disp))

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
    out.extend(_plan_sections(files, chans, disp, ccol))
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
    intervals = [r.get("interval", {}).get(key) for r in rows]
    iv = metrics.get("intervals")
    if iv and all(b is not None for b in intervals):
        lo = np.array([b[0] for b in intervals], dtype=np.float64)
        hi = np.array([b[1] for b in intervals], dtype=np.float64)
        bars = (f"; error bars: {100 * iv['level']:.0f} % intervals from {iv['draws']} anchored draws of the "
                "structural model (wide where the data leave the channel to the priors).")
    elif all(b is not None and b.get("q05") is not None for b in bands):
        lo = np.array([b["q05"] for b in bands], dtype=np.float64)
        hi = np.array([b["q95"] for b in bands], dtype=np.float64)
        bars = "; error bars: 5–95 % range over the ensemble members."
    else:
        bars = ". Fit with train.interval_draws = K (e.g. 12) to see intervals."
    desc = ("Contribution over the training weeks divided by spend over the same weeks" if key == "roi" else
            "No spend columns were given, so the panel shows the contribution per 1,000 exposure units")
    desc += bars
    return Section("roi", "ROI per channel", desc, FM.roi_bars(disp, vals, lo, hi, label, ccol), group="Channels")


def _identifiability_section(metrics: dict, result: FitResult, chans: list[str], disp: list[str]) -> Section:
    """What the data identify per channel (metrics.json's ``identifiability``; computed when absent)."""
    ident = metrics.get("identifiability")
    if not ident:
        from ..run import identifiability_dict

        ident = identifiability_dict(result)
    rows = [ident.get(c, {}) for c in chans]

    def pct(v):
        return "-" if v is None or not np.isfinite(v) else f"±{50 * v:.0f} %"

    cells = [disp, [r.get("level", "-") for r in rows], [pct(r.get("response_width")) for r in rows],
             [f"{r['collinearity_r2']:.2f} ({r.get('moves_with', '')})" if r.get("collinearity_r2") is not None
              else "-" for r in rows],
             [r.get("summary", "").split(": ", 1)[-1] for r in rows]]
    fig = FM.text_table(["channel", "total effect from", "±50 % response interval", "collinearity R² (with)",
                         "in words"], cells)
    desc = ("Whether the data or the priors set each channel's numbers. 'prior': the data never see the "
            "channel's spend near zero, or the 90 % interval of its incremental effect is wider than ±25 %, so its "
            "total effect and ROI rest on the priors (a ROI prior you stated, where you stated one, is named); 'data': "
            "spend seen from near zero and the interval within "
            "±25 %. Collinearity: R² of the channel's within-region spend on the other channels, controls, trend "
            "and season.")
    return Section("identifiability", "What the data identify", desc, fig, group="Channels")


# --------------------------------------------------------------------------- header

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

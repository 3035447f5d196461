"""Dashboard figures, part 1: fit quality and decomposition.

Every function takes plain arrays / DataFrames (KPI units unless said otherwise; time axes are
lists of ISO dates or integers) and returns a :class:`plotly.graph_objects.Figure`.  Numbers are
rounded to 4 significant digits (:func:`round_sig`) and stored as plain lists, so the figure JSON
stays small.  Part 2 (inputs, DAG, ROI, curves, budget) is :mod:`causalmmm_jax.report.figures_model`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

__all__ = ["round_sig", "channel_colors", "short_names", "COMPONENT_COLORS", "training_curves",
           "actual_vs_predicted", "holdout_scatter", "contributions_stacked", "channel_lines", "component_donut",
           "contribution_waterfall", "coefficients_over_time", "channel_effectiveness", "add_holdout_shading"]

SIG_DIGITS = 4
COMPONENT_COLORS = {"baseline": "#9e9e9e", "seasonality": "#f2c14e", "controls": "#5d8aa8", "trend": "#8d6e63",
                    "media": "#2a9d8f"}
_PALETTE = list(qualitative.Plotly) + list(qualitative.D3) + list(qualitative.Dark24)
_FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12)


# --------------------------------------------------------------------------- helpers

def _num(v: float, digits: int):
    if not np.isfinite(v):
        return None
    r = float(f"{v:.{digits}g}")
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def round_sig(a, digits: int = SIG_DIGITS):
    """Array-like → nested Python lists rounded to ``digits`` significant digits; NaN/inf → None."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return _num(float(arr), digits)
    flat = [_num(v, digits) for v in arr.ravel().tolist()]
    if arr.ndim == 1:
        return flat
    out = np.empty(arr.size, dtype=object)
    out[:] = flat
    return out.reshape(arr.shape).tolist()


def channel_colors(n: int) -> list[str]:
    """``n`` distinct colours (cycled beyond the palette)."""
    return [_PALETTE[i % len(_PALETTE)] for i in range(n)]


def short_names(names: Sequence[str], max_len: int = 24) -> list[str]:
    """Display names: drop a first ``word_`` shared by every name (``impressions_tv`` → ``tv``), cut
    the original data's ``_delayed/_exponential/_geometric`` suffixes, shorten long names; the
    full names when the short ones would not be unique."""
    names = [str(n) for n in names]
    out = list(names)
    heads = {n.split("_", 1)[0] for n in names}
    if len(names) > 1 and len(heads) == 1 and all("_" in n and n.split("_", 1)[1] for n in names):
        out = [n.split("_", 1)[1] for n in names]
    for tag in ("_delayed", "_exponential", "_geometric"):
        out = [n.split(tag)[0] if tag in n else n for n in out]
    out = [n if len(n) <= max_len else n[: max_len - 1] + "…" for n in out]
    return out if len(set(out)) == len(out) else names


def _base_layout(fig: go.Figure, title: str, height: int = 420, **kw) -> go.Figure:
    """Shared look: title top left; a horizontal legend above the plot for up to 6 entries, a
    vertical one on the right for more (so it never covers the title)."""
    n_legend = sum(1 for t in fig.data if t.type != "pie" and t.showlegend is not False)
    legend = (dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1.0) if n_legend <= 6 else
              dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02))
    kw = {"hovermode": "x unified", "margin": dict(l=60, r=20, t=60, b=50), "legend": legend, **kw}
    fig.update_layout(title=dict(text=title, x=0.01, xanchor="left"), height=height, font=_FONT, **kw)
    return fig


def add_holdout_shading(fig: go.Figure, times: Sequence, n_train: int, **subplot) -> go.Figure:
    """Shade weeks ``[n_train, T)`` (the reported holdout) on a time axis."""
    times = list(times)
    if 0 < n_train < len(times):
        fig.add_vrect(x0=times[n_train], x1=times[-1], fillcolor="rgba(120,120,120,0.12)", line_width=0,
                      layer="below", annotation_text="holdout", annotation_position="top left",
                      annotation_font_size=10, **subplot)
    return fig


# --------------------------------------------------------------------------- training

def training_curves(history: pd.DataFrame) -> go.Figure:
    """Loss (log scale) and RMSE on the fit / validation cells (scaled KPI) per epoch."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "RMSE (scaled KPI)"),
                        horizontal_spacing=0.08)
    h = history if history is not None else pd.DataFrame()
    ep = round_sig(h["epoch"]) if "epoch" in h else list(range(1, len(h) + 1))
    if "loss" in h:
        fig.add_trace(go.Scatter(x=ep, y=round_sig(h["loss"]), name="loss", line=dict(color="#264653")), 1, 1)
    for col, name, color in (("rmse_fit", "RMSE fit", "#2a9d8f"), ("rmse_val", "RMSE validation", "#e76f51")):
        if col in h and np.isfinite(np.asarray(h[col], dtype=float)).any():
            fig.add_trace(go.Scatter(x=ep, y=round_sig(h[col]), name=name, line=dict(color=color)), 1, 2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="epoch", tickformat="d")
    # legend below the plots: above them it would cover the subplot titles
    return _base_layout(fig, "Training curves", height=380, margin=dict(l=60, r=20, t=60, b=90),
                        legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="right", x=1.0))


# --------------------------------------------------------------------------- fit

def actual_vs_predicted(times: Sequence, regions: Sequence, actual: np.ndarray, predicted: np.ndarray,
                        n_train: int, national_actual: np.ndarray | None = None,
                        national_predicted: np.ndarray | None = None, band: tuple | None = None,
                        national_band: tuple | None = None) -> go.Figure:
    """Weekly actual vs predicted KPI with a dropdown: national total first, then each region.

    ``actual``/``predicted`` ``[R,T]`` (NaN where the cell is unobserved); the national series
    default to the sums over observed cells.  ``band``: ``(lo, hi)`` ``[R,T]`` prediction intervals and
    ``national_band`` ``(lo, hi)`` ``[T]`` the national ones, drawn as a shaded band (both or neither).
    Each dropdown entry restyles the same traces."""
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    obs = np.isfinite(actual)
    if national_actual is None:
        national_actual = np.where(obs.any(0), np.where(obs, actual, 0).sum(0), np.nan)
    if national_predicted is None:
        national_predicted = np.where(obs.any(0), np.where(obs, predicted, 0).sum(0), np.nan)
    if (band is None) != (national_band is None):
        raise ValueError("pass band and national_band together (the national band is not the sum of the cells')")
    x = list(times)
    traces = [
        go.Scatter(x=x, y=round_sig(national_actual), name="actual", mode="lines+markers",
                   line=dict(color="#264653", width=1.5), marker=dict(size=3)),
        go.Scatter(x=x, y=round_sig(national_predicted), name="predicted", line=dict(color="#e76f51", width=2)),
    ]
    if band is not None and national_band is not None:  # lower edge, then the upper filled down to it
        shown = np.isfinite(national_predicted)  # the band where the prediction is shown
        national_band = tuple(np.where(shown, np.asarray(b, np.float64), np.nan) for b in national_band)
        traces += [go.Scatter(x=x, y=round_sig(national_band[0]), name="90 % prediction interval", mode="lines",
                              line=dict(width=0), showlegend=False, hoverinfo="skip", legendgroup="band"),
                   go.Scatter(x=x, y=round_sig(national_band[1]), name="90 % prediction interval", mode="lines",
                              line=dict(width=0), fill="tonexty", fillcolor="rgba(231,111,81,0.18)",
                              legendgroup="band", hoverinfo="skip")]
    fig = go.Figure(traces)
    series = [("National total", national_actual, national_predicted)] + [
        (f"Region {r}", actual[i], predicted[i]) for i, r in enumerate(regions)]
    bands = [national_band] + ([(band[0][i], band[1][i]) for i in range(len(regions))] if band is not None else [])

    def ys(j, a, p):
        out = [round_sig(a), round_sig(p)]
        if band is not None:  # the band where the prediction is shown
            out += [round_sig(np.where(np.isfinite(p), b, np.nan)) for b in bands[j]]
        return out

    buttons = [dict(label=label, method="update",
                    args=[{"y": ys(j, a, p)}, {"title.text": f"Actual vs predicted: {label}"}])
               for j, (label, a, p) in enumerate(series)]
    fig.update_layout(updatemenus=[dict(buttons=buttons, direction="down", x=0.0, xanchor="left", y=1.13,
                                        yanchor="bottom", showactive=True, active=0, bgcolor="white")])
    add_holdout_shading(fig, x, n_train)
    fig.update_yaxes(title_text="KPI")
    _base_layout(fig, "Actual vs predicted: National total", height=460)
    fig.update_layout(margin=dict(t=100), title=dict(x=0.3))
    return fig


def holdout_scatter(actual: np.ndarray, predicted: np.ndarray, labels: Sequence[str] | None = None,
                    r2: float | None = None) -> go.Figure:
    """Holdout cells: actual (x) vs predicted (y) with the 45° line."""
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    fig = go.Figure()
    if a.size:
        lo, hi = float(np.nanmin([a.min(), p.min()])), float(np.nanmax([a.max(), p.max()]))
        fig.add_trace(go.Scatter(x=round_sig(a), y=round_sig(p), mode="markers", name="holdout cells",
                                 text=None if labels is None else list(labels),
                                 hovertemplate="%{text}<br>actual %{x:,.4g}<br>predicted %{y:,.4g}<extra></extra>"
                                 if labels is not None else None,
                                 marker=dict(size=5, color="#e76f51", opacity=0.6)))
        fig.add_trace(go.Scatter(x=round_sig([lo, hi]), y=round_sig([lo, hi]), mode="lines", name="y = x",
                                 line=dict(color="#555", dash="dash")))
    title = "Holdout: actual vs predicted"
    if r2 is not None and np.isfinite(r2):
        title += f" (R² {r2:.3f}, {a.size} cells)"
    fig.update_xaxes(title_text="actual KPI")
    fig.update_yaxes(title_text="predicted KPI")
    return _base_layout(fig, title, height=460, hovermode="closest")


# --------------------------------------------------------------------------- decomposition

def contributions_stacked(times: Sequence, stacked: Mapping[str, np.ndarray], colors: Mapping[str, str],
                          n_train: int, signed: Mapping[str, np.ndarray] | None = None,
                          prediction: np.ndarray | None = None) -> go.Figure:
    """National weekly stacked area of the non-negative components (baseline, channels, ...);
    signed components (seasonality cycle, controls, trend) as lines; the prediction as a dotted line."""
    x = list(times)
    fig = go.Figure()
    for name, y in stacked.items():
        fig.add_trace(go.Scatter(x=x, y=round_sig(y), name=name, stackgroup="components", mode="lines",
                                 line=dict(width=0.5, color=colors.get(name)), fillcolor=colors.get(name)))
    for name, y in (signed or {}).items():
        fig.add_trace(go.Scatter(x=x, y=round_sig(y), name=f"{name} (signed)", mode="lines",
                                 line=dict(width=2, color=colors.get(name), dash="dash")))
    if prediction is not None:
        fig.add_trace(go.Scatter(x=x, y=round_sig(prediction), name="prediction", mode="lines",
                                 line=dict(color="black", width=1.5, dash="dot")))
    add_holdout_shading(fig, x, n_train)
    fig.update_yaxes(title_text="KPI")
    return _base_layout(fig, "National weekly contributions (stacked)", height=500)


def channel_lines(times: Sequence, media: np.ndarray, channels: Sequence[str], n_train: int,
                  colors: Sequence[str] | None = None) -> go.Figure:
    """National weekly contribution of each channel, ``media [T,C]``."""
    x = list(times)
    colors = list(colors or channel_colors(len(channels)))
    fig = go.Figure([go.Scatter(x=x, y=round_sig(media[:, j]), name=ch, mode="lines", line=dict(color=colors[j]))
                     for j, ch in enumerate(channels)])
    add_holdout_shading(fig, x, n_train)
    fig.update_yaxes(title_text="KPI")
    return _base_layout(fig, "National weekly contribution per channel", height=460)


def component_donut(totals: Mapping[str, float], colors: Mapping[str, str] | None = None) -> go.Figure:
    """Shares of the component totals.  Negative totals cannot be drawn as slices: they are left out
    and named in the title."""
    colors = colors or COMPONENT_COLORS
    pos = {k: v for k, v in totals.items() if np.isfinite(v) and v > 0}
    neg = [f"{k} {v:,.4g}" for k, v in totals.items() if np.isfinite(v) and v < 0]
    fig = go.Figure(go.Pie(labels=list(pos), values=round_sig(list(pos.values())), hole=0.5, sort=False,
                           marker=dict(colors=[colors.get(k, "#999") for k in pos]),
                           textinfo="label+percent", hovertemplate="%{label}: %{value:,.4g} (%{percent})"
                                                                   "<extra></extra>"))
    title = "Component shares (training weeks)"
    if neg:
        title += "<br><sup>negative, not shown: " + ", ".join(neg) + "</sup>"
    return _base_layout(fig, title, height=420, hovermode="closest")


def contribution_waterfall(baseline: float, channel_totals: Mapping[str, float], controls: float,
                           seasonality: float, trend: float = 0.0) -> go.Figure:
    """Baseline → each channel → controls → seasonality (→ trend) → total prediction."""
    labels = ["baseline", *channel_totals, "controls", "seasonality"]
    values = [baseline, *channel_totals.values(), controls, seasonality]
    if trend != 0.0:
        labels.append("trend")
        values.append(trend)
    total = float(np.sum(values))
    fig = go.Figure(go.Waterfall(
        x=labels + ["total"], y=round_sig(values + [total]),
        measure=["absolute"] + ["relative"] * (len(values) - 1) + ["total"],
        connector=dict(line=dict(color="#bbb", width=1)),
        increasing=dict(marker=dict(color="#2a9d8f")), decreasing=dict(marker=dict(color="#e76f51")),
        totals=dict(marker=dict(color="#264653")),
        hovertemplate="%{x}: %{y:,.4g}<extra></extra>"))
    fig.update_yaxes(title_text="KPI")
    return _base_layout(fig, "Waterfall: baseline → channels → controls → seasonality → total (training weeks)",
                        height=460, hovermode="closest", showlegend=False)


def coefficients_over_time(times: Sequence, beta: np.ndarray, channels: Sequence[str], n_train: int,
                           colors: Sequence[str] | None = None) -> go.Figure:
    """Media coefficient β per channel averaged over regions, ``beta [T,C]``."""
    x = list(times)
    colors = list(colors or channel_colors(len(channels)))
    fig = go.Figure([go.Scatter(x=x, y=round_sig(beta[:, j]), name=ch, mode="lines", line=dict(color=colors[j]))
                     for j, ch in enumerate(channels)])
    add_holdout_shading(fig, x, n_train)
    fig.update_yaxes(title_text="β (mean over regions)")
    return _base_layout(fig, "Media coefficients over time", height=440)


def channel_effectiveness(channels: Sequence[str], beta_mean: np.ndarray, beta_std: np.ndarray,
                          contribution: np.ndarray, colors: Sequence[str] | None = None) -> go.Figure:
    """Left: mean β ± 1 std over observed region-weeks; right: total contribution per channel."""
    colors = list(colors or channel_colors(len(channels)))
    ch = list(channels)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("coefficient β: mean ± std over region-weeks",
                                                        "total contribution (training weeks, KPI)"),
                        horizontal_spacing=0.12)
    fig.add_trace(go.Bar(x=ch, y=round_sig(beta_mean), marker_color=colors, name="β",
                         error_y=dict(type="data", array=round_sig(beta_std), visible=True)), 1, 1)
    fig.add_trace(go.Bar(x=ch, y=round_sig(contribution), marker_color=colors, name="contribution"), 1, 2)
    fig.update_xaxes(tickangle=-35)
    return _base_layout(fig, "Channel effectiveness", height=460, hovermode="closest", showlegend=False)

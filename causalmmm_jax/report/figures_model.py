"""Dashboard figures, part 2: ROI, channel interactions (DAG), model inputs, response curves, budget.

Same conventions as :mod:`causalmmm_jax.report.figures` (plain inputs, rounded lists, one
function per figure returning a :class:`plotly.graph_objects.Figure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .figures import _base_layout, add_holdout_shading, channel_colors, round_sig

__all__ = ["hill_curve", "roi_bars", "dag_network", "dag_heatmap", "inputs_over_time", "response_curves",
           "budget_allocation", "plan_weekly", "plan_regions"]


def hill_curve(x, top: float, bottom: float, half: float, slope: float) -> np.ndarray:
    """The fitted response curve ``bottom + (top − bottom)·x^slope / (half^slope + x^slope)``
    (4-parameter Hill; the original dashboard drew ``slope·x/(half + x)`` instead, a bug)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xs = x ** slope
        frac = np.where(x > 0, xs / (half ** slope + xs), 0.0)
    return bottom + (top - bottom) * frac


def roi_bars(channels: Sequence[str], values: np.ndarray, lo: np.ndarray | None = None,
             hi: np.ndarray | None = None, label: str = "ROI (contribution / spend)",
             colors: Sequence[str] | None = None) -> go.Figure:
    """Per-channel value (ROI) as bars; asymmetric error bars ``[lo, hi]`` (ensemble q05–q95)."""
    v = np.asarray(values, dtype=np.float64)
    colors = list(colors or channel_colors(len(channels)))
    err = None
    if lo is not None and hi is not None:
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        err = dict(type="data", symmetric=False, array=round_sig(np.clip(hi - v, 0, None)),
                   arrayminus=round_sig(np.clip(v - lo, 0, None)), visible=True, color="#333")
    fig = go.Figure(go.Bar(x=list(channels), y=round_sig(v), marker_color=colors, error_y=err, name=label,
                           hovertemplate="%{x}: %{y:,.4g}<extra></extra>"))
    title = label + (" with ensemble 5–95 % band" if err is not None else "")
    fig.update_xaxes(tickangle=-35)
    fig.update_yaxes(title_text=label)
    return _base_layout(fig, title, height=420, hovermode="closest", showlegend=False)


def dag_network(W: np.ndarray, channels: Sequence[str], threshold: float, seed: int = 0,
                max_edges: int = 30) -> go.Figure:
    """Channel-interaction graph: an arrow i → j for every ``W[i, j] > threshold`` (column j holds
    the parents of j; the strongest ``max_edges`` are drawn); ``networkx.spring_layout(seed=seed)``;
    arrow width ∝ weight, node size ∝ number of drawn edges."""
    W = np.asarray(W, dtype=np.float64)
    names = list(channels)
    n = len(names)
    above = sorted(((i, j, float(W[i, j])) for i in range(W.shape[0]) for j in range(W.shape[1])
                    if i != j and W[i, j] > threshold), key=lambda e: -e[2])
    edges = above[:max_edges]
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(edges)
    pos = nx.spring_layout(g, seed=seed, k=2.5 / np.sqrt(max(n, 1)), iterations=100, weight=None) if n > 1 else {
        0: np.zeros(2)}
    deg = dict(g.degree())
    size = {k: 18 + 2 * min(deg[k], 8) for k in range(n)}
    fig = go.Figure()
    annotations = []
    for i, j, w in edges:
        (x0, y0), (x1, y1) = pos[i], pos[j]
        annotations.append(dict(x=float(x1), y=float(y1), ax=float(x0), ay=float(y0), xref="x", yref="y",
                                axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.1,
                                standoff=size[j] / 2 + 2, startstandoff=size[i] / 2,
                                arrowwidth=1 + 3 * (w - threshold) / max(1 - threshold, 1e-9),
                                arrowcolor="rgba(38,70,83,0.55)", text=""))
    if edges:  # invisible midpoints carry the hover text of the edges
        mx = [float((pos[i][0] + pos[j][0]) / 2) for i, j, _ in edges]
        my = [float((pos[i][1] + pos[j][1]) / 2) for i, j, _ in edges]
        fig.add_trace(go.Scatter(x=round_sig(mx), y=round_sig(my), mode="markers", marker=dict(size=8, opacity=0),
                                 text=[f"{names[i]} → {names[j]}: W = {w:.3f}" for i, j, w in edges],
                                 hoverinfo="text", showlegend=False))
    fig.add_trace(go.Scatter(
        x=round_sig([pos[k][0] for k in range(n)]), y=round_sig([pos[k][1] for k in range(n)]),
        mode="markers+text", text=names, textposition="top center", hoverinfo="text", showlegend=False,
        hovertext=[f"{nm}: {sum(1 for e in edges if e[1] == k)} parents, {sum(1 for e in edges if e[0] == k)} "
                   f"children" for k, nm in enumerate(names)],
        marker=dict(size=[size[k] for k in range(n)], color=channel_colors(n), line=dict(color="white", width=1.5))))
    title = f"Channel interactions: {len(above)} edges with W > {threshold:g}"
    if not above:
        title += " (none above the threshold)"
    elif len(above) > len(edges):
        title += f" (the strongest {len(edges)} drawn)"
    fig.update_layout(annotations=annotations)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, title, height=560, hovermode="closest", showlegend=False)


def dag_heatmap(W: np.ndarray, channels: Sequence[str]) -> go.Figure:
    """The continuous interaction matrix W: row = source (parent) channel, column = target."""
    W = np.asarray(W, dtype=np.float64)
    names = list(channels)
    fig = go.Figure(go.Heatmap(z=round_sig(W), x=names, y=names, colorscale="Blues", zmin=0, zmax=1,
                               hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>", colorbar=dict(title="W")))
    fig.update_xaxes(title_text="target channel (child)", tickangle=-35)
    fig.update_yaxes(title_text="source channel (parent)", autorange="reversed")
    return _base_layout(fig, "Interaction matrix W (continuous)", height=520, hovermode="closest")


def inputs_over_time(times: Sequence, values: np.ndarray, names: Sequence[str], n_train: int, title: str,
                     y_title: str, colors: Sequence[str] | None = None) -> go.Figure:
    """One line per column of ``values [T,X]`` (e.g. national mean scaled media or controls)."""
    x = list(times)
    colors = list(colors or channel_colors(len(names)))
    fig = go.Figure([go.Scatter(x=x, y=round_sig(values[:, j]), name=n, mode="lines", line=dict(color=colors[j]))
                     for j, n in enumerate(names)])
    add_holdout_shading(fig, x, n_train)
    fig.update_yaxes(title_text=y_title)
    return _base_layout(fig, title, height=420)


def _curve_axes(params: pd.DataFrame | None, points: pd.DataFrame) -> tuple[str, str, bool]:
    """(x column, y column, weekly?) of the model-based points, matched to the fitted curves' units."""
    unit = ""
    if params is not None and "x_unit" in params and len(params):
        unit = str(params["x_unit"].dropna().iloc[0]) if params["x_unit"].notna().any() else ""
    weekly = unit.startswith("weekly_")
    base = unit[len("weekly_"):] if weekly else unit
    finite = lambda c: c in points and np.isfinite(pd.to_numeric(points[c], errors="coerce")).any()  # noqa: E731
    xcol = base if finite(base) else next((c for c in ("spend", "exposure", "multiplier") if finite(c)), "multiplier")
    ycol = "incremental" if finite("incremental") else "kpi"
    return xcol, ycol, weekly


def response_curves(params: pd.DataFrame | None, points: pd.DataFrame | None, weeks: int = 1,
                    colors: Mapping[str, str] | None = None, display: Mapping[str, str] | None = None,
                    n_grid: int = 60) -> go.Figure:
    """Fitted Hill curves (``curve_params.csv``: channel, top, bottom, half_saturation, slope, r2
    [, x_unit, current_weekly]) drawn with :func:`hill_curve`, plus the model-based points
    (``curves.csv``: channel, multiplier, spend?, exposure?, kpi, incremental?).

    The points use the curves' x unit: with ``x_unit = "weekly_spend"`` (or ``weekly_exposure``)
    x = spend / ``weeks`` and y = incremental KPI / ``weeks`` (a flat weekly plan); without
    ``x_unit``, x is spend (else exposure, else the multiplier) and y the incremental KPI (else the
    KPI).  ``current_weekly`` is marked with a diamond on the curve."""
    fig = go.Figure()
    pts = points if points is not None else pd.DataFrame(columns=["channel", "multiplier", "kpi"])
    xcol, ycol, weekly = _curve_axes(params, pts)
    div = float(max(weeks, 1)) if weekly else 1.0
    chans = list(dict.fromkeys(list(params["channel"] if params is not None else []) + list(pts["channel"])))
    colors = dict(colors or {})
    palette = channel_colors(len(chans))
    display = dict(display or {})
    num = lambda df, c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)  # noqa: E731
    for k, ch in enumerate(chans):
        color = colors.get(ch) or palette[k]
        label = display.get(ch, str(ch))
        p = pts[pts["channel"] == ch]
        x = num(p, xcol) / div if len(p) else np.zeros(0)
        y = num(p, ycol) / div if len(p) else np.zeros(0)
        row = None if params is None else params[params["channel"] == ch]
        if row is not None and len(row):
            r = row.iloc[0]
            vals = [float(pd.to_numeric(r.get(c), errors="coerce")) for c in ("top", "bottom", "half_saturation",
                                                                               "slope")]
            if all(np.isfinite(vals)):
                top, bottom, half, slope = vals
                cur = float(pd.to_numeric(r.get("current_weekly"), errors="coerce"))
                xmax = np.nanmax(x) if np.isfinite(x).any() else 3 * half
                xmax = max(float(xmax), cur if np.isfinite(cur) else 0.0, 1e-12)
                grid = np.linspace(0, xmax * 1.05, n_grid)
                r2 = pd.to_numeric(r.get("r2"), errors="coerce")
                name = f"{label} (fit" + (f", R² {float(r2):.2f})" if np.isfinite(r2) else ")")
                fig.add_trace(go.Scatter(x=round_sig(grid), y=round_sig(hill_curve(grid, top, bottom, half, slope)),
                                         mode="lines", name=name, legendgroup=str(ch), line=dict(color=color)))
                if np.isfinite(cur):
                    fig.add_trace(go.Scatter(x=round_sig([cur]), y=round_sig(hill_curve([cur], top, bottom, half,
                                                                                        slope)),
                                             mode="markers", legendgroup=str(ch), showlegend=False,
                                             marker=dict(color=color, size=11, symbol="diamond",
                                                         line=dict(color="white", width=1)),
                                             hovertemplate=f"{label}: current level %{{x:,.4g}} → %{{y:,.4g}}"
                                                           "<extra></extra>"))
        if len(p):
            fig.add_trace(go.Scatter(x=round_sig(x), y=round_sig(y), mode="markers", name=f"{label} (model)",
                                     legendgroup=str(ch), marker=dict(color=color, size=7, symbol="circle-open"),
                                     showlegend=False, hovertemplate=f"{label}<br>{xcol} %{{x:,.4g}}<br>{ycol} "
                                                                     "%{y:,.4g}<extra></extra>"))
    per = "weekly " if weekly else ""
    fig.update_xaxes(title_text=f"{per}{xcol}" if xcol != "multiplier" else "media multiplier (× current)")
    fig.update_yaxes(title_text=f"{per}{'incremental KPI' if ycol == 'incremental' else 'KPI'}")
    return _base_layout(fig, "Response curves", height=500, hovermode="closest")


def budget_allocation(channels: Sequence[str], current: np.ndarray, optimal: np.ndarray, unit: str,
                      subtitle: str = "") -> go.Figure:
    """Grouped bars: current vs optimised allocation per channel (``unit``: 'spend' or '% of budget')."""
    ch = list(channels)
    fig = go.Figure([go.Bar(x=ch, y=round_sig(current), name="current", marker_color="#9e9e9e"),
                     go.Bar(x=ch, y=round_sig(optimal), name="optimised", marker_color="#2a9d8f")])
    fig.update_xaxes(tickangle=-35)
    fig.update_yaxes(title_text=unit)
    title = "Budget allocation: current vs optimised"
    if subtitle:
        title += f"<br><sup>{subtitle}</sup>"
    return _base_layout(fig, title, height=460, hovermode="x unified", barmode="group")


def plan_weekly(weeks: Sequence, spend: np.ndarray, channels: Sequence[str], colors: Sequence[str],
                incremental: np.ndarray | None = None, unit: str = "spend", subtitle: str = "",
                current: np.ndarray | None = None) -> go.Figure:
    """Stacked bars of the plan's national spend per week and channel (``spend [W, C]``); with
    ``incremental [W]`` the KPI the plan adds each week as a line on a second axis; with
    ``current [W]`` the current plan's weekly total as a dashed line."""
    fig = go.Figure([go.Bar(x=list(weeks), y=round_sig(spend[:, i]), name=ch, marker_color=colors[i])
                     for i, ch in enumerate(channels)])
    if current is not None:
        fig.add_trace(go.Scatter(x=list(weeks), y=round_sig(current), name=f"current plan ({unit})", mode="lines",
                                 line=dict(color="#555", width=2, dash="dash")))
    if incremental is not None:
        fig.add_trace(go.Scatter(x=list(weeks), y=round_sig(incremental), name="KPI added", mode="lines+markers",
                                 line=dict(color="#222", width=2), yaxis="y2"))
        fig.update_layout(yaxis2=dict(title="KPI added", overlaying="y", side="right", showgrid=False))
    fig.update_layout(yaxis=dict(title=f"planned {unit} (national)"))
    title = "Plan week by week"
    if subtitle:
        title += f"<br><sup>{subtitle}</sup>"
    return _base_layout(fig, title, height=460, hovermode="x unified", barmode="stack")


def plan_regions(regions: Sequence[str], channels: Sequence[str], values: np.ndarray, change: bool,
                 unit: str = "spend") -> go.Figure:
    """Heatmap region × channel (``values [C, R]``): % change against the current plan
    (``change``, diverging colours centred on 0) or the planned spend."""
    v = np.asarray(values, dtype=np.float64)
    kw = dict(colorscale="RdBu", zmid=0.0) if change else dict(colorscale="Viridis")
    label = "% change vs current" if change else f"planned {unit}"
    fig = go.Figure(go.Heatmap(z=[round_sig(row) for row in v], x=[str(r) for r in regions], y=list(channels),
                               colorbar=dict(title=label), hovertemplate="region %{x}<br>%{y}: %{z}<extra></extra>",
                               **kw))
    fig.update_xaxes(title_text="region", type="category")
    title = "Plan by region: " + ("change against the current plan" if change else "planned spend")
    return _base_layout(fig, title, height=max(320, 60 + 28 * len(channels)))


def text_table(header: list[str], columns: list[list[str]]) -> go.Figure:
    """A plain table (``columns``: one list of cell texts per column)."""
    fig = go.Figure(go.Table(header=dict(values=header, align="left", font=dict(size=12)),
                             cells=dict(values=columns, align="left", font=dict(size=11), height=24)))
    fig.update_layout(height=80 + 30 * max((len(c) for c in columns), default=1), margin=dict(l=10, r=10, t=10, b=10))
    return fig

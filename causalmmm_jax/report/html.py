"""HTML assembly of the dashboard: summary header, page template, error hook and render script.

The render script records every JavaScript error in ``<html data-errors="[...]">`` and counts
rendered figures in ``data-figures-rendered`` (``data-ready="1"`` once all are drawn).
"""

from __future__ import annotations

import html
import json

import numpy as np
import plotly.graph_objects as go

from ..train.result import FitResult
from . import figures as F

__all__ = ["render_html"]


def _times(times: np.ndarray) -> list:
    t = np.asarray(times)
    if np.issubdtype(t.dtype, np.datetime64):
        return np.datetime_as_string(t.astype("datetime64[D]"), unit="D").tolist()
    return [int(v) if float(v).is_integer() else float(v) for v in t.tolist()]


def _human(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _fmt(v, spec: str = "num") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return _human(v) if spec == "num" else format(v, spec)


def _header(result: FitResult, metrics: dict) -> str:
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
           ("seeds", str(result.n_seeds) + (" (decomposition = seed mean)" if len(result.seeds) > 1 else "")),
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


def render_html(sections: list, header_html: str, title: str = "causalmmm-jax dashboard",
                subtitle: str = "") -> str:
    """The complete page: plotly.js once, the figure JSON, the render and error-recording scripts."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    e = html.escape
    figs = [s for s in sections if s.figure is not None]
    groups: dict[str, list] = {}
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

#!/usr/bin/env python
"""Decision benchmark: the numbers a marketer acts on, and the plans taken on them, scored
against planted truth over a family of generated panels.

Each panel comes from :func:`causalmmm_jax.data.synthetic.generate` (one design × one generator
seed), is fitted once with the default configuration (``Config()``, the last 13 weeks held out,
as ``causalmmm-jax fit`` would), and is scored by
:func:`causalmmm_jax.analysis.recovery.evaluate_against_truth`: per channel the KPI change at 0×,
0.5×, 1.5× and 2× the spend, marginal ROI, ROI, share, the weekly contribution error per
channel × region, the coefficient path of a drifting channel, and the decision regret of the plan
``optimize`` recommends for the last 13 training weeks (at today's budget and at 1.5×; on the
fitted curves and on the model re-run, the route ``optimize``'s default ``on="auto"`` takes at a
13-week horizon), evaluated in the true KPI against
the truth-optimal plan.

Designs (``DESIGNS``; every design has a null channel):

* ``mixed``: 30 regions × 156 weeks; tv and radio flighted, search, social and display always on,
  social's effect drifting ±25 % over two years; media 27 % of the KPI; noise 4 %;
* ``flighted``: 10 × 104; four flighted/pulsed channels, near-linear curves (slope 1–1.5, the
  half-saturation 2–4× the mean adstocked input); noise 2 %;
* ``saturated``: 30 × 208; four always-on channels, saturated (half-saturation 0.3–0.8× the mean
  input); noise 6 %;
* ``regional``: 60 × 104; the default channel mix, channel effects that differ by region
  (log-sd 0.4), search drifting ±25 %; noise 10 %;
* ``single``: one region × 156 weeks, tv flighted, search always on, display pulsed; noise 2 %.

Summary: for each target of issue #15, the median and the worst quartile over the panels (or over
the channel × panel rows), with ``met`` flags.

    .venv/bin/python benchmarks/decisions.py --out benchmarks/recorded/decisions.json

fits 15 panels (5 designs × seeds 0, 1, 2; about 20 minutes on 2 cores: fits and scoring).
``--resume`` keeps the panels an earlier run of the same command already wrote to ``--out`` (the
file is rewritten after every panel); with every panel present it fits nothing and only
re-summarises (the aggregate and the targets).  ``--set SECTION.KEY=VALUE`` (repeatable) fits a candidate configuration instead of
the defaults (``--resume`` then keeps only panels fitted with the same changes).

What a user's outside knowledge does (issue #17): ``--roi-prior SD`` states a **correct ROI prior** on
every channel with an effect: a log-normal of log-scale sd ``SD`` whose median is the channel's true
ROI times exp(SD·ε), ε ~ N(0, 1) drawn per panel and channel (the truth is a draw from the stated
prior, as it would be for a well-calibrated belief); the null channel gets none.  ``--lift-tests``
gives every channel (the null one too) **one lift test**: the channel switched off for the 8 training
weeks of its largest spend, in the first half of the regions (the one region of a single-region
panel), measured as the true KPI change plus noise of the standard error σ·√(2·cells), σ the planted
noise's sd (a geo test against matched control regions); ``train.calibration_weight`` stays 1.
``--compare A.json B.json ...`` prints the docs table of runs side by side (over their panels of
``--seeds``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

HOLDOUT_WEEKS = 13
HORIZON_WEEKS = 13
BUDGET_FACTORS = (1.0, 1.5)
ROUTES = ("curves", "model")
DEFAULT_ROUTE = "model"  # what optimize's default on="auto" takes at HORIZON_WEEKS: the targets score its plans
REGRET_KEYS = tuple(f"{on} {f:g}x" for on in ROUTES for f in BUDGET_FACTORS)

DESIGNS: dict[str, dict] = {
    "mixed": dict(n_regions=30, n_weeks=156, n_channels=6, n_controls=2, media_share=0.27, noise=0.04,
                  channel_names=("tv", "search", "social", "display", "radio"),
                  flighting=("burst", "always_on", "always_on", "always_on", "burst"),
                  effect_drift=0.25, drift_channel="social"),
    "flighted": dict(n_regions=10, n_weeks=104, n_channels=5, n_controls=1, media_share=0.25, noise=0.02,
                     channel_names=("tv", "video", "display", "radio"), flighting=("burst", "burst", "pulsed", "burst"),
                     hill_slope_range=(1.0, 1.5), half_saturation_range=(2.0, 4.0)),
    "saturated": dict(n_regions=30, n_weeks=208, n_channels=5, n_controls=2, media_share=0.30, noise=0.06,
                      channel_names=("search", "social", "email", "affiliate"), flighting=("always_on",) * 4,
                      half_saturation_range=(0.3, 0.8)),
    "regional": dict(n_regions=60, n_weeks=104, n_channels=5, n_controls=2, media_share=0.30, noise=0.10,
                     region_effects=0.4, effect_drift=0.25, drift_channel="search"),
    "single": dict(n_regions=1, n_weeks=156, n_channels=4, n_controls=1, media_share=0.30, noise=0.02,
                   channel_names=("tv", "search", "display"), flighting=("burst", "always_on", "pulsed")),
}
# --quick: the suite's small panel shape and training settings (tests/train_config.py), so the
# smoke test loads the programs the in-process tests compiled
QUICK_DESIGN = dict(n_regions=5, n_weeks=70, n_channels=3, n_controls=1, effect_drift=0.25)
QUICK_TRAIN = {"epochs": 40, "chunk_epochs": 20, "warm_start_epochs": 5, "static_epochs": 100}

# issue #15's targets: (summary key, limit, at_most)
TARGETS = {
    "response_0.5x_abs_rel_error_median": 0.10,
    "response_1.5x_abs_rel_error_median": 0.10,
    "incremental_flighted_abs_rel_error_median": 0.10,
    "captured_1x_median": 0.90,  # optimize's default route (DEFAULT_ROUTE), today's budget
    "captured_1x_worst_quartile": 0.75,
    "null_pct_of_kpi_max": 0.5,
    "drift_correlation_median": 0.70,
    "weekly_error_median": 0.15,
}


def parse_args(argv=None):
    p = C.base_parser("decisions", __doc__.split("\n\n")[0])
    p.add_argument("--designs", default=",".join(DESIGNS), help=f"comma-separated designs (default all: {','.join(DESIGNS)})")
    p.add_argument("--seeds", default="0,1,2", help="generator seeds (default 0,1,2)")
    p.add_argument("--resume", action="store_true", help="keep panels already in --out from the same designs/seeds")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change one configuration key from the default (e.g. model.gru_inputs=context; "
                        "VALUE read as JSON, else as text); repeatable: scores a candidate configuration")
    p.add_argument("--roi-prior", type=float, default=None, metavar="SD",
                   help="state a correct ROI prior of log-scale sd SD on every channel with an effect (see above)")
    p.add_argument("--lift-tests", action="store_true", help="give every channel one lift test (see above)")
    p.add_argument("--save-models", type=Path, default=None, metavar="DIR",
                   help="also save each fitted model to DIR/<design>_<seed> (causalmmm_jax.modelfile; read by "
                        "--rescore-predictions)")
    p.add_argument("--rescore-predictions", type=Path, default=None, metavar="DIR",
                   help="with --resume and every panel present: recompute each fit's prediction intervals "
                        "(metrics.json's prediction_interval) from the models --save-models wrote to DIR with "
                        "today's code, and re-summarise (fits nothing)")
    p.add_argument("--compare", type=Path, nargs="+", default=None, metavar="JSON",
                   help="print the docs table comparing earlier runs' JSONs (fits nothing) and exit")
    p.add_argument("--markdown", type=Path, default=None, metavar="JSON",
                   help="print the docs tables (markdown) of an earlier run's JSON and exit (fits nothing)")
    return p.parse_args(argv)


def _f(v, spec=".2f", pct=False):
    if v is None:
        return "–"
    return f"{100 * v:{spec}} %" if pct else f"{v:{spec}}"


def markdown(report: dict) -> str:
    """The tables docs/analysis.md §9 quotes: targets, then one row per design (medians over seeds)."""
    import numpy as np

    lines = ["| target (issue #15) | value | limit | met |", "|---|---|---|---|"]
    for k, t in report["targets"].items():
        met = {True: "yes", False: "no", None: "–"}[t["met"]]
        lines.append(f"| {k} | {_f(t['value'], '.3f')} | {t['target']:g} | {met} |")
    lines += ["", "| design | panels | holdout R² | response 0.5× / 1.5× (median abs. rel. error) | incremental, "
              "flighted / always-on | ROI rank corr. | weekly contribution error | null % of KPI (max) | drift corr. (oracle) | "
              "captured, curves 1× / 1.5× | captured, model 1× / 1.5× |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    med = lambda xs: (float(np.median([x for x in xs if x is not None])) if any(x is not None for x in xs)  # noqa: E731
                      else None)
    for d in report["designs"]:
        ps = [p for p in report["panels"] if p["design"] == d]
        if not ps:
            continue
        rows = [r for p in ps for r in p["channels"].values() if not r["is_null"]]

        def err(key, pred=lambda r: True):
            return med([abs(r[key]) for r in rows if pred(r) and r[key] is not None])

        s = [p["summary"] for p in ps]
        cap = lambda key: med([x["captured"].get(key) for x in s])  # noqa: E731
        lines.append(
            f"| {d} | {len(ps)} | {_f(med([x['holdout_r2'] for x in s]), '.3f')} | "
            f"{_f(err('change_0.5x_rel_error'), '.0f', True)} / {_f(err('change_1.5x_rel_error'), '.0f', True)} | "
            f"{_f(err('change_0x_rel_error', lambda r: r['flighting'] != 'always_on'), '.0f', True)} / "
            f"{_f(err('change_0x_rel_error', lambda r: r['flighting'] == 'always_on'), '.0f', True)} | "
            f"{_f(med([x['roi_rank_correlation'] for x in s]))} | {_f(med([x['weekly_error_median'] for x in s]))} | "
            f"{_f(max(x['null_pct_of_kpi'] for x in s), '.2f')} | {_f(med([x['drift_correlation'] for x in s]))}"
            f"{_oracle(med([x.get('drift_correlation_oracle') for x in s]))} | "
            f"{_f(cap('curves 1x'))} / {_f(cap('curves 1.5x'))} | {_f(cap('model 1x'))} / {_f(cap('model 1.5x'))} |")
    iv = report["aggregate"].get("intervals")
    if iv:
        lines += ["", interval_markdown(iv)]
    return "\n".join(lines)


def interval_markdown(iv: dict) -> str:
    """The intervals' table docs/analysis.md §10 quotes: coverage of the 90 % intervals (default rule;
    centred on the draws; the draws' sample quantiles), all / always-on / flighted, and median width."""
    names = {"change_0x": "incremental effect (0×)", "roi": "ROI", "change_0.5x": "response to 0.5×",
             "change_1.5x": "response to 1.5×", "change_2x": "response to 2×", "mroi": "marginal ROI"}
    lines = ["| 90 % interval | coverage: all (always-on / flighted) | centred on the draws | draws' quantiles | "
             "median width / truth: always-on / flighted |", "|---|---|---|---|---|"]
    pct = lambda v: "–" if v is None else f"{100 * v:.0f} %"  # noqa: E731
    for key, name in names.items():
        e = iv.get(key)
        if e is None:
            continue
        c = e["coverage_ratio"]
        lines.append(f"| {name} | {pct(c['all'])} ({pct(c['always_on'])} / {pct(c['flighted'])}) | "
                     f"{pct(e['coverage_draws']['all'])} | {pct(e.get('coverage_quantile', {}).get('all'))} | "
                     f"{_f(e['width_median']['always_on'])} / {_f(e['width_median']['flighted'])} |")
    ident = iv.get("identifiability")
    if ident:
        share = ident["level_prior_share"]
        lines += ["", f"Level flagged 'set by the prior': {pct(share['always_on'])} of always-on channels, "
                      f"{pct(share['flighted'])} of flighted ones; incremental effect's median abs. rel. error "
                      f"{pct(ident['incremental_abs_rel_error_median_level_prior'])} where flagged 'prior', "
                      f"{pct(ident['incremental_abs_rel_error_median_level_data'])} where 'data'."]
    pred = iv.get("prediction")
    if pred:
        cp, npp = pred["coverage_cells_per_panel"], pred["coverage_national_per_panel"]
        lines += ["", f"90 % prediction intervals on the holdout weeks ({pred['cells']} cells of {pred['panels']} "
                      f"panels): {pct(pred['coverage_cells'])} of the cells inside (per panel median "
                      f"{pct(cp['median'])}, range {pct(cp['worst_low'])}–{pct(cp['worst_high'])}); the weeks' "
                      f"totals over the regions {pct(pred['coverage_national'])} (per panel "
                      f"{pct(npp['worst_low'])}–{pct(npp['worst_high'])}); median width "
                      f"{pct(pred['relative_width_median'])} of the prediction; κ median {pred['inflation_median']:.2f}."]
    return "\n".join(lines)


def _arm(report: dict) -> str:
    o = report.get("settings", {}).get("outside") or {}
    parts = ([f"correct ROI prior (sd {o['roi_prior_sd']:g})"] if "roi_prior_sd" in o else []) + (
        ["one lift test per channel"] if o.get("lift_tests") else [])
    return " + ".join(parts) or "default (no outside knowledge)"


def compare_markdown(reports: list[dict]) -> str:
    """The docs table of runs side by side (issue #17): per run, the 90 % intervals' coverage and
    median width over the truth (always-on / flighted) for the incremental effect and ROI, the
    incremental effect's median abs. rel. error (always-on / flighted), ROI's, and the plans' captured
    share of the achievable gain (model route, 1×: median and worst quartile)."""
    pct = lambda v: "–" if v is None else f"{100 * v:.0f} %"  # noqa: E731
    lines = ["| run | panels | coverage, incremental: always-on / flighted | width / truth, incremental: always-on / "
             "flighted | coverage, ROI | incremental error: always-on / flighted | ROI error | flag 'prior': always-on "
             "/ flighted | captured 1× (median / worst quartile) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        a = r["aggregate"]
        iv = a.get("intervals") or {}
        inc, roi = iv.get("change_0x") or {}, iv.get("roi") or {}
        cov = inc.get("coverage_ratio") or {}
        wid = inc.get("width_median") or {}
        flag = (iv.get("identifiability") or {}).get("level_prior_share") or {}
        cap = a[f"captured {DEFAULT_ROUTE} 1x"]
        lines.append(
            f"| {_arm(r)} | {len(r['panels'])} | {pct(cov.get('always_on'))} / {pct(cov.get('flighted'))} | "
            f"{_f(wid.get('always_on'))} / {_f(wid.get('flighted'))} | "
            f"{pct((roi.get('coverage_ratio') or {}).get('all'))} | "
            f"{pct(a['incremental_abs_rel_error_always_on']['median'])} / "
            f"{pct(a['incremental_abs_rel_error_flighted']['median'])} | {pct(a['roi_abs_rel_error']['median'])} | "
            f"{pct(flag.get('always_on'))} / {pct(flag.get('flighted'))} | "
            f"{_f(cap['median'], '.3f')} / {_f(cap['worst_quartile'], '.3f')} |")
    return "\n".join(lines)


def _oracle(v) -> str:
    return "" if v is None else f" (oracle {v:.2f})"


def parse_overrides(items: list[str]) -> dict[str, dict]:
    """``["model.gru_inputs=context", "train.l2_weight=0"]`` → ``{"model": {"gru_inputs": "context"},
    "train": {"l2_weight": 0}}`` (values as JSON where they parse, else text)."""
    out: dict[str, dict] = {}
    for item in items:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not (sep and dot and section and name):
            raise ValueError(f"--set {item!r}: write SECTION.KEY=VALUE, e.g. model.gru_inputs=context")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out.setdefault(section, {})[name] = value
    return out


def config_for(quick: bool, overrides: dict[str, dict] | None = None):
    from causalmmm_jax.config import Config

    if quick:
        cfg = Config().updated(model={"hidden_dim": 8}, data={"holdout_weeks": 8, "validation_weeks": 6,
                                                             "min_train_weeks": 20}, train=QUICK_TRAIN)
    else:
        cfg = Config().updated(data={"holdout_weeks": HOLDOUT_WEEKS})
    return cfg.updated(**overrides) if overrides else cfg


LIFT_WEEKS = 8


def planted_roi_prior(data, sd: float, seed: int) -> dict[str, list[float]]:
    """A correct ROI prior per channel with an effect: median true ROI × exp(sd·ε), log-scale sd ``sd``."""
    import numpy as np

    truth = data.truth
    rng = np.random.default_rng([seed, 17])
    eps = rng.standard_normal(len(truth.channels))
    return {ch: [float(truth.roi[ch] * np.exp(sd * e)), sd] for ch, e in zip(truth.channels, eps)
            if ch != truth.null_channel and truth.roi[ch] > 0}


def planted_lift_tests(data, n_train: int, seed: int) -> list[dict]:
    """One go-dark test per channel (:func:`causalmmm_jax.data.synthetic.planted_lift_test`: its 8
    training weeks of largest spend in the first half of the regions, measured with noise)."""
    import numpy as np

    from causalmmm_jax.data.synthetic import planted_lift_test

    rng = np.random.default_rng([seed, 29])
    return [planted_lift_test(data, ch, n_train, weeks=LIFT_WEEKS, rng=rng) for ch in data.truth.channels]


def fit_generated(design: str, seed: int, quick: bool, overrides: dict[str, dict] | None = None,
                  roi_prior_sd: float | None = None, lift_tests: bool = False):
    """``(generator kwargs, SyntheticData, FitResult, fit seconds, outside knowledge)`` of one panel of
    the family (``outside``: the stated ROI priors and lift tests, see the module docstring)."""
    from causalmmm_jax.data.split import temporal_split
    from causalmmm_jax.data.synthetic import generate
    from causalmmm_jax.train.fit import fit

    kw = QUICK_DESIGN if quick else DESIGNS[design]
    data = generate(seed, **kw)
    cfg = config_for(quick, overrides)
    outside: dict = {}
    if roi_prior_sd is not None:
        outside["roi_prior"] = planted_roi_prior(data, roi_prior_sd, seed)
        cfg = cfg.updated(train={"roi_prior": outside["roi_prior"]})
    lift = None
    if lift_tests:
        panel = data.panel()
        n_train = temporal_split(panel.n_weeks, cfg.data).n_train
        outside["lift_tests"] = planted_lift_tests(data, n_train, seed)
        lift = _lift_rows(outside["lift_tests"])
    t0 = time.perf_counter()
    result = fit(data.panel(), cfg, mapping=data.mapping, lift=lift)
    return kw, data, result, time.perf_counter() - t0, outside


def _lift_rows(tests: list[dict]):
    """The lift tests as ``fit``'s rows (without the truth)."""
    import pandas as pd

    return pd.DataFrame(tests).drop(columns=["true_lift"])


def rescore_predictions(panels: list[dict], models: Path) -> None:
    """Each panel's ``fit.prediction_interval`` recomputed by today's code from its model saved in
    ``models/<design>_<seed>`` (``--save-models``): the fits and draws are the saved ones."""
    from causalmmm_jax.modelfile import load_model
    from causalmmm_jax.train.evaluate import evaluate

    for p in panels:
        result = load_model(models / f"{p['design']}_{p['seed']}")
        p["fit"]["prediction_interval"] = evaluate(result)["prediction_interval"]


def run_panel(design: str, seed: int, quick: bool, overrides: dict[str, dict] | None = None,
              roi_prior_sd: float | None = None, lift_tests: bool = False, save_models: Path | None = None) -> dict:
    from causalmmm_jax.analysis.recovery import evaluate_against_truth

    kw, data, result, fit_s, outside = fit_generated(design, seed, quick, overrides, roi_prior_sd, lift_tests)
    if save_models is not None:
        from causalmmm_jax.modelfile import save_model

        save_model(result, save_models / f"{design}_{seed}")
    t1 = time.perf_counter()
    ev = evaluate_against_truth(result, data, horizon=8 if quick else HORIZON_WEEKS, budget_factors=BUDGET_FACTORS,
                                routes=ROUTES, seed=seed)
    return {"design": design, "seed": seed, "generator": {k: (list(v) if isinstance(v, tuple) else v)
                                                          for k, v in kw.items()},
            "truth_media_share": data.truth.media_share,
            "fit": {"seconds": fit_s, "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                    "stopped_early": result.stopped_early, "holdout": result.metrics["holdout"],
                    "prediction_interval": result.metrics.get("prediction_interval"),
                    "resolved_model": {k: getattr(result.config.model, k) for k in ("seasonality", "trend")}},
            "evaluate_seconds": time.perf_counter() - t1, **({"outside": outside} if outside else {}), **ev}


def _quantile(xs, q):
    import numpy as np

    xs = [float(x) for x in xs if x is not None]
    return float(np.quantile(xs, q)) if xs else None


def _amplitude_ratio(path: dict):
    model, truth = path.get("relative_amplitude_model"), path.get("relative_amplitude_truth")
    return model / truth if model is not None and truth else None


def _abs_log(ratio):
    import math

    return abs(math.log(ratio)) if ratio is not None and ratio > 0 else None  # None: no path, or a flat one


def interval_summary(rows: list, panels: list[dict]) -> dict:
    """Coverage of the 90 % intervals over channel × panel rows with a true effect (overall, by design,
    always-on vs flighted), their median width over the truth's size, and the null channel's interval."""
    from causalmmm_jax.analysis.recovery import INTERVAL_KEYS

    kinds = {"all": lambda r: True, "always_on": lambda r: r["flighting"] == "always_on",
             "flighted": lambda r: r["flighting"] != "always_on"}
    designs = sorted({p["design"] for p in panels})
    out: dict = {}
    for key in INTERVAL_KEYS:
        entry: dict = {}
        for suffix, name in (("", "ratio"), ("_draws", "draws"), ("_quantile", "quantile")):
            entry[f"coverage_{name}"] = {kind: C.mean_or_none([r[f"{key}_covered{suffix}"] for _, _, r in rows
                                                               if pred(r) and f"{key}_covered{suffix}" in r])
                                         for kind, pred in kinds.items()}
            entry[f"coverage_{name}_by_design"] = {d: C.mean_or_none([r[f"{key}_covered{suffix}"] for p, _, r in rows
                                                                      if p["design"] == d
                                                                      and f"{key}_covered{suffix}" in r])
                                                   for d in designs}
        entry["width_median"] = {kind: C.median([r[f"{key}_interval_width"] for _, _, r in rows
                                                 if pred(r) and r.get(f"{key}_interval_width") is not None])
                                 for kind, pred in kinds.items()}
        entry["n"] = {kind: sum(1 for _, _, r in rows if pred(r) and f"{key}_covered" in r)
                      for kind, pred in kinds.items()}
        out[key] = entry
    # the identifiability report against the design: the level flagged "prior" for always-on channels,
    # "data" for flighted ones; and the errors and widths of the channels each flag marks
    ident = [(r, r["identifiability"]) for _, _, r in rows if r.get("identifiability")]
    if ident:
        out["identifiability"] = {
            "level_prior_share": {kind: C.mean_or_none([i["level"] == "prior" for r, i in ident if pred(r)])
                                  for kind, pred in kinds.items()},
            "contraction_median": {kind: C.median([i["contraction"] for r, i in ident if pred(r)])
                                   for kind, pred in kinds.items()},
            **{f"incremental_abs_rel_error_median_level_{lv}": C.median(
                [abs(r["change_0x_rel_error"]) for r, i in ident if i["level"] == lv
                 and r["change_0x_rel_error"] is not None]) for lv in ("data", "prior")},
            **{f"incremental_width_median_level_{lv}": C.median(
                [r["change_0x_interval_width"] for r, i in ident if i["level"] == lv]) for lv in ("data", "prior")},
            **{f"incremental_coverage_level_{lv}": C.mean_or_none(
                [r["change_0x_covered"] for r, i in ident if i["level"] == lv]) for lv in ("data", "prior")},
            "response_data_share": {kind: C.mean_or_none([i["response"] == "data" for r, i in ident if pred(r)])
                                    for kind, pred in kinds.items()},
            "n": {kind: sum(1 for r, _ in ident if pred(r)) for kind, pred in kinds.items()},
        }
    pred = prediction_summary(panels, designs)
    if pred:
        out["prediction"] = pred
    # the null channel: how far its interval reaches above 0 (ROI: KPI per unit of spend)
    nulls = [r for p in panels for r in p["channels"].values() if r["is_null"] and "roi_interval" in r]
    out["null_roi_interval_covers_zero"] = C.mean_or_none([r["roi_interval"][0] <= 0.0 for r in nulls])
    return out


def prediction_summary(panels: list[dict], designs: list[str]) -> dict | None:
    """The 90 % prediction intervals on the holdout weeks (metrics.json's ``prediction_interval``): the
    share of holdout cells inside (pooled over the panels, by design, and per panel: median and
    worst), the same for the weeks' totals over the regions, the median relative width and κ."""
    got = [(p["design"], p["fit"]["prediction_interval"]) for p in panels
           if (p["fit"].get("prediction_interval") or {}).get("holdout")]
    if not got:
        return None

    def pooled(items, cov, n):
        total = sum(h["holdout"][n] for _, h in items)
        return sum(h["holdout"][cov] * h["holdout"][n] for _, h in items) / total if total else None

    per_panel = [h["holdout"]["coverage"] for _, h in got]
    per_panel_nat = [h["holdout"]["coverage_national"] for _, h in got]
    return {"coverage_cells": pooled(got, "coverage", "cells"),
            "coverage_cells_by_design": {d: pooled([g for g in got if g[0] == d], "coverage", "cells")
                                         for d in designs},
            "coverage_cells_per_panel": {"median": C.median(per_panel), "worst_low": min(per_panel),
                                         "worst_high": max(per_panel)},
            "coverage_national": pooled(got, "coverage_national", "weeks"),
            "coverage_national_per_panel": {"median": C.median(per_panel_nat), "worst_low": min(per_panel_nat),
                                            "worst_high": max(per_panel_nat)},
            "relative_width_median": C.median([h["holdout"]["relative_width_median"] for _, h in got]),
            "inflation_median": C.median([h["inflation"] for _, h in got]),
            "source": sorted({h["source"] for _, h in got}),
            "cells": sum(h["holdout"]["cells"] for _, h in got), "panels": len(got)}


def summarise(panels: list[dict], quick: bool) -> dict:
    """Medians and worst quartiles over panels (panel-level figures) or channel × panel rows."""
    rows = [(p, ch, r) for p in panels for ch, r in p["channels"].items() if not r["is_null"]]

    def over_rows(key, pred=lambda r: True):
        vals = [abs(r[key]) for _, _, r in rows if pred(r) and r[key] is not None]
        return {"median": C.median(vals), "worst_quartile": _quantile(vals, 0.75), "max": max(vals, default=None),
                "n": len(vals)}

    def over_panels(get, worst_high=True):
        vals = [v for v in (get(x) for x in panels) if v is not None]
        return {"median": C.median(vals), "worst_quartile": _quantile(vals, 0.75 if worst_high else 0.25),
                "worst": (max if worst_high else min)(vals, default=None), "n": len(vals)}

    flighted = lambda r: r["flighting"] != "always_on"  # noqa: E731
    always = lambda r: r["flighting"] == "always_on"  # noqa: E731
    no_region = {p["design"] for p in panels if not p["generator"].get("region_effects")}
    agg = {
        "response_0.5x_abs_rel_error": over_rows("change_0.5x_rel_error"),
        "response_1.5x_abs_rel_error": over_rows("change_1.5x_rel_error"),
        "response_2x_abs_rel_error": over_rows("change_2x_rel_error"),
        **{f"response_{m}x_abs_rel_error_{kind}": over_rows(f"change_{m}x_rel_error", pred)
           for m in ("0.5", "1.5") for kind, pred in (("flighted", flighted), ("always_on", always))},
        "incremental_abs_rel_error_flighted": over_rows("change_0x_rel_error", flighted),
        "incremental_abs_rel_error_always_on": over_rows("change_0x_rel_error", always),
        "mroi_abs_rel_error": over_rows("mroi_rel_error"),
        "roi_abs_rel_error": over_rows("roi_rel_error"),
        **{f"captured {key}": over_panels(lambda x, key=key: x["summary"]["captured"].get(key), worst_high=False)
           for key in REGRET_KEYS},
        **{f"loss_pct_of_kpi {key}": over_panels(lambda x, key=key: x["summary"]["loss_pct_of_kpi"].get(key))
           for key in REGRET_KEYS},
        "null_pct_of_kpi": over_panels(lambda x: x["summary"]["null_pct_of_kpi"]),
        "drift_correlation": over_panels(lambda x: x["summary"]["drift_correlation"], worst_high=False),
        # how well the data identify the drift at all: an oracle's path (recovery._oracle_path)
        "drift_correlation_oracle": over_panels(lambda x: x["summary"].get("drift_correlation_oracle"),
                                                worst_high=False),
        # the fitted path's relative amplitude (sd / mean after the burn-in) over the planted one's:
        # a path that correlates with the drift but is flattened toward 1 reads as a smaller drift
        "drift_amplitude_ratio": over_panels(lambda x: _amplitude_ratio(x.get("coefficient_path") or {}),
                                             worst_high=False),
        # |log(ratio)|: too small and too large alike (a ratio of 2 is as wrong as one of 0.5)
        "drift_amplitude_abs_log_ratio": over_panels(lambda x: _abs_log(_amplitude_ratio(x.get("coefficient_path")
                                                                                           or {}))),
        "weekly_error_median": over_panels(lambda x: x["summary"]["weekly_error_median"]),
        "coefficient_cv_median": over_panels(lambda x: x["summary"].get("coefficient_cv_median")),
        "weekly_error_median_matched_family": over_panels(
            lambda x: x["summary"]["weekly_error_median"] if x["design"] in no_region else None),
        "roi_rank_correlation": over_panels(lambda x: x["summary"]["roi_rank_correlation"], worst_high=False),
        "media_total_ratio": over_panels(lambda x: x["summary"]["media_total_ratio"]),
        "holdout_r2": over_panels(lambda x: x["summary"]["holdout_r2"], worst_high=False),
    }
    if any("roi_covered" in r for _, _, r in rows):  # runs with interval draws (train.interval_draws)
        agg["intervals"] = interval_summary(rows, panels)
    value = {
        "response_0.5x_abs_rel_error_median": agg["response_0.5x_abs_rel_error"]["median"],
        "response_1.5x_abs_rel_error_median": agg["response_1.5x_abs_rel_error"]["median"],
        "incremental_flighted_abs_rel_error_median": agg["incremental_abs_rel_error_flighted"]["median"],
        "captured_1x_median": agg[f"captured {DEFAULT_ROUTE} 1x"]["median"],
        "captured_1x_worst_quartile": agg[f"captured {DEFAULT_ROUTE} 1x"]["worst_quartile"],
        "null_pct_of_kpi_max": agg["null_pct_of_kpi"]["worst"],
        "drift_correlation_median": agg["drift_correlation"]["median"],
        "weekly_error_median": agg["weekly_error_median_matched_family"]["median"],
    }
    # "matched family": designs whose channel curves are shared by all regions, as in the model
    at_least = {"captured_1x_median", "captured_1x_worst_quartile", "drift_correlation_median"}
    targets = {k: C.target(value[k], lim, quick, at_most=k not in at_least) for k, lim in TARGETS.items()}
    return {"aggregate": agg, "targets": targets}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.markdown is not None:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return 0
    if args.compare:  # over the panels of --seeds (default all three) each run holds
        seeds = set(C.int_list(args.seeds))
        reports = []
        for path in args.compare:
            rep = json.loads(path.read_text(encoding="utf-8"))
            panels = [p for p in rep["panels"] if p["seed"] in seeds]
            reports.append({**rep, "panels": panels, **summarise(panels, rep.get("quick", False))})
        print(compare_markdown(reports))
        return 0
    if args.roi_prior is not None and not args.roi_prior > 0:
        print(f"--roi-prior {args.roi_prior}: the sd must be > 0", file=sys.stderr)
        return 2
    chosen = C.designs_and_seeds(args, DESIGNS)
    if chosen is None:
        return 2
    designs, seeds = chosen
    from causalmmm_jax.errors import ConfigError

    try:
        overrides = parse_overrides(args.overrides)
        config_for(args.quick, overrides)
    except ConfigError as e:  # a ValueError too: first
        print(f"--set: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    C.setup_cache()
    outside = {k: v for k, v in (("roi_prior_sd", args.roi_prior), ("lift_tests", args.lift_tests)) if v}
    done, old = {}, {}
    if args.resume and args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        same = (old.get("quick") == args.quick and old.get("settings", {}).get("overrides", {}) == overrides
                and old.get("settings", {}).get("outside", {}) == outside)
        done = {(p["design"], p["seed"]): p for p in old.get("panels", []) if same}
    if args.rescore_predictions is not None and not all((d, sd) in done for d in designs for sd in seeds):
        print("--rescore-predictions needs --resume and every chosen panel already in --out", file=sys.stderr)
        return 2
    report_machine = C.machine_info()
    report = {"benchmark": "decisions", "schema": C.SCHEMA_VERSION, "quick": args.quick,
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": report_machine,
              "command": "benchmarks/decisions.py" + (" --quick" if args.quick else "")
                         + "".join(f" --set {o}" for o in args.overrides)
                         + (f" --roi-prior {args.roi_prior:g}" if args.roi_prior is not None else "")
                         + (" --lift-tests" if args.lift_tests else ""),
              "settings": {"holdout_weeks": 8 if args.quick else HOLDOUT_WEEKS,
                           "horizon_weeks": 8 if args.quick else HORIZON_WEEKS, "budget_factors": BUDGET_FACTORS,
                           "config": "tests' small configuration" if args.quick else "Config() defaults",
                           "overrides": overrides, "outside": outside},
              "designs": {"quick": QUICK_DESIGN} if args.quick else {d: DESIGNS[d] for d in designs}}
    if args.quick:
        report["warning"] = "--quick: tiny panels and 40-epoch fits, the figures mean nothing"
    panels = []
    for d in designs:
        for seed in seeds:
            if (d, seed) in done:
                panels.append(done[(d, seed)])
                continue
            print(f"[decisions] {d} seed {seed} ...", flush=True)
            p = run_panel(d, seed, args.quick, overrides, args.roi_prior, args.lift_tests, args.save_models)
            panels.append(p)
            s = p["summary"]
            cap = ", ".join(f"{k} {C.fmt(v, '.2f')}" for k, v in s["captured"].items())
            print(f"  fit {p['fit']['seconds']:.0f} s, evaluation {p['evaluate_seconds']:.0f} s, holdout R² "
                  f"{s['holdout_r2']:.3f}, captured ({cap}), response 0.5× "
                  f"{C.fmt(s['response_0.5x_abs_rel_error_median'], '.3f')}, null {s['null_pct_of_kpi']:.2f} % of KPI",
                  flush=True)
            report["panels"] = panels
            report.update(summarise(panels, args.quick))
            C.write_json(args.out, report)
    if done and all((p["design"], p["seed"]) in done for p in panels):
        # nothing fitted: the panels (and the machine they were fitted on) are the earlier run's
        report["machine"] = old.get("machine", report["machine"])
        report["resummarised"] = {k: report_machine[k] for k in ("timestamp_utc", "git")}
        if args.rescore_predictions is not None:
            rescore_predictions(panels, args.rescore_predictions)
            report["resummarised"]["prediction_intervals_from"] = str(args.rescore_predictions)
    report["panels"] = panels
    report.update(summarise(panels, args.quick))
    C.write_json(args.out, report)
    rows = [{"target": k, "value": t["value"], "limit": t["target"], "met": t["met"]}
            for k, t in report["targets"].items()]
    C.print_table(rows, [("target", "target", "s"), ("value", "value", ".3f"), ("limit", "limit", "g"),
                         ("met", "met", "s")], title=f"decisions over {len(panels)} panels")
    return 0


if __name__ == "__main__":
    sys.exit(main())

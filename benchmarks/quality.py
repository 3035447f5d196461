#!/usr/bin/env python
"""Quality figures of the default configuration: every number the README and docs quote.

Two panels, each fitted once with ``Config()`` (the defaults), the last 13 weeks held out:

* ``example``: ``../shared/data/mmm_data.csv`` (190 DMAs × 109 weeks × 13 channels × 7 controls),
  exactly as ``causalmmm-jax fit mmm_data.csv --region dmacode --time weekid --target target_visits
  --media 'impressions_*' --controls 'control_*' --holdout-weeks 13``: holdout and train metrics
  (pooled in KPI units, within-region R²), attribution, each channel's share of media, the planted
  null channel ``Channel_10_null``, epochs, timing;
* ``planted``: the demo's planted-truth panel (``generate(0, n_regions=20, n_weeks=156)``), the
  same figures plus each channel's share, ROI and KPI change at 0× and 2× against the generator's
  truth (over the training weeks).

The original DeepCausalMMM 1.0.21 (its default 1500-epoch run on the example panel, scored by its
own final evaluation; within-region R² = its ``holdout_r2_scaled``, the same definition; the null
channel's share of media by its canonical contribution recipe) comes from running
``_original_worker.py`` in its own venv when ``--original run`` (or ``auto`` and the venv exists),
else from the committed record ``benchmarks/recorded/quality_original.json`` that this script
writes with ``--record-original``.

    .venv/bin/python benchmarks/quality.py --original recorded --out benchmarks/recorded/quality.json

took 19 minutes for the committed record on a 2-core machine shared with other jobs (the
original adds ≈ 22 minutes with 2 torch threads when run, 68 with one thread under load).  Quality figures are
deterministic on one machine; timings are not (see RESULTS.md for side-by-side speed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

RECORDED_ORIGINAL = C.BENCH_DIR / "recorded" / "quality_original.json"
HOLDOUT_WEEKS = 13
NULL_TAG = "null"


def parse_args(argv=None):
    p = C.base_parser("quality", __doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV, help="the example CSV (default ../shared/data/mmm_data.csv)")
    p.add_argument("--panels", default="example,planted", help="which panels to fit (default example,planted)")
    p.add_argument("--original", choices=("auto", "run", "recorded", "skip"), default="auto",
                   help="the original's figures: run it (parity venv), use the committed record, or skip; "
                        "auto = run when the parity venv exists, else recorded (default auto)")
    p.add_argument("--parity-python", type=Path, default=C.DEFAULT_PARITY_PYTHON,
                   help="python of the venv with deepcausalmmm==1.0.21 + torch")
    p.add_argument("--original-epochs", type=int, default=1500, help="the original's main epochs (default 1500)")
    p.add_argument("--torch-threads", type=int, default=None, help="the original's torch.set_num_threads")
    p.add_argument("--update", action="store_true",
                   help="keep the sections of an existing --out file that this run does not redo (e.g. "
                        "--panels '' --update re-reads only the original's figures)")
    p.add_argument("--record-original", action="store_true",
                   help=f"write the original's figures to {RECORDED_ORIGINAL.relative_to(C.REPO_ROOT)}")
    return p.parse_args(argv)


def _identifiability(result) -> dict:
    from causalmmm_jax.run import identifiability_dict

    return identifiability_dict(result)


def _metrics_block(result) -> dict:
    m = result.metrics
    keep = ("r2", "rmse", "mae", "mape", "r2_within_region", "n")
    channels = {ch: {k: v for k, v in row.items() if k in ("share", "contribution", "roi", "mroi", "interval")}
                for ch, row in m["channels"].items()}
    null = [ch for ch in channels if NULL_TAG in ch.lower()]
    return {
        "holdout": {k: m["holdout"][k] for k in keep} | {"naive_r2": m["holdout"]["naive"]["r2"]},
        "train": {k: m["train"][k] for k in keep},
        "attribution": m["attribution"],
        "channels": channels,
        "null_channel": None if not null else {"name": null[0], "share_of_media": channels[null[0]]["share"]},
        "top_channel": max(channels, key=lambda c: channels[c]["share"]),
        "epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"], "stopped_early": m["stopped_early"],
        "timing": {k: m["timing"][k] for k in ("fit_seconds", "seconds_per_epoch", "compile_seconds",
                                               "static_seconds", "static_epochs", "warm_seconds", "main_seconds",
                                               "main_epochs", "draws_seconds", "draws_compile_seconds",
                                               "draws_members") if k in m["timing"]},
        # the 90 % intervals' settings and the identifiability report (docs/concepts.md §10)
        "intervals": m.get("intervals"),
        "identifiability": _identifiability(result),
        # the 90 % prediction intervals' coverage of the holdout cells and weekly totals
        "prediction_interval": m.get("prediction_interval"),
        "resolved_model": {k: getattr(result.config.model, k) for k in ("seasonality", "trend", "hidden_dim",
                                                                         "matmul_dtype")},
    }


def fit_example(csv: Path, quick: bool) -> dict:
    from causalmmm_jax.config import Config
    from causalmmm_jax.train.fit import fit

    mapping = C.csv_mapping()
    panel = C.load_csv_panel(csv, 8 if quick else None)
    cfg = Config().updated(data={"holdout_weeks": HOLDOUT_WEEKS})
    if quick:
        cfg = cfg.updated(model={"hidden_dim": 8}, train={"epochs": 4, "static_epochs": 20, "warm_start_epochs": 2})
    t0 = time.perf_counter()
    result = fit(panel, cfg, mapping=mapping)
    out = _metrics_block(result)
    out["wall_seconds"] = time.perf_counter() - t0
    out["data"] = {"path": str(csv), "regions": panel.n_regions, "weeks": panel.n_weeks,
                   "channels": panel.n_channels, "controls": panel.n_controls, "holdout_weeks": HOLDOUT_WEEKS}
    out["command"] = ("causalmmm-jax fit mmm_data.csv --region dmacode --time weekid --target target_visits "
                      "--media 'impressions_*' --controls 'control_*' --holdout-weeks 13")
    return out


def fit_planted(quick: bool) -> dict:
    import numpy as np

    from causalmmm_jax.analysis.curves import response_curves
    from causalmmm_jax.config import Config
    from causalmmm_jax.data.synthetic import counterfactual, generate
    from causalmmm_jax.train.fit import fit

    size = dict(n_regions=5, n_weeks=70) if quick else dict(n_regions=20, n_weeks=156)
    data = generate(0, **size)
    cfg = Config().updated(data={"holdout_weeks": 8 if quick else HOLDOUT_WEEKS})
    if quick:  # the demo's --quick settings (the test suite shares their compiled programs)
        cfg = cfg.updated(model={"hidden_dim": 8}, train={"epochs": 30, "chunk_epochs": 30, "static_epochs": 100,
                                                          "warm_start_epochs": 5})
    t0 = time.perf_counter()
    result = fit(data.panel(), cfg, mapping=data.mapping)
    out = _metrics_block(result)
    out["wall_seconds"] = time.perf_counter() - t0
    truth = data.truth
    n = result.split.n_train
    base = truth.kpi[:, :n].sum()
    k = response_curves(result, [0.0, 1.0, 2.0]).set_index(["channel", "multiplier"])["kpi"]
    per = {}
    for ch in truth.channels:
        row = {"share": out["channels"][ch]["share"], "share_truth": truth.shares[ch],
               "roi": out["channels"][ch].get("roi"), "roi_truth": truth.roi[ch]}
        for m in (0.0, 2.0):
            model = float(k[(ch, m)] - k[(ch, 1.0)])
            true = float(counterfactual(data, ch, m)[:, :n].sum() - base)
            row[f"kpi_change_{m:g}x"] = model
            row[f"kpi_change_{m:g}x_truth"] = true
            row[f"kpi_change_{m:g}x_rel_error"] = (model - true) / abs(true) if true else None
        per[ch] = row
    out["truth"] = {"media_share": truth.media_share, "null_channel": truth.null_channel, "channels": per}
    main = [ch for ch in truth.channels if ch != truth.null_channel]
    out["summary"] = {
        "max_abs_share_error_points": float(100 * max(abs(per[c]["share"] - per[c]["share_truth"]) for c in main)),
        "max_abs_kpi_change_rel_error": float(max(abs(per[c][f"kpi_change_{m:g}x_rel_error"])
                                                  for c in main for m in (0.0, 2.0))),
        "roi_rank_correlation": float(np.corrcoef(np.argsort(np.argsort([per[c]["roi"] for c in main])),
                                                  np.argsort(np.argsort([per[c]["roi_truth"] for c in main])))[0, 1]),
    }
    out["data"] = {"generator": f"generate(0, n_regions={size['n_regions']}, n_weeks={size['n_weeks']})",
                   "holdout_weeks": result.split.n_holdout}
    return out


def original_figures(args) -> dict | None:
    mode = args.original
    if mode == "auto":
        mode = "run" if args.parity_python.exists() and not args.quick else "recorded"
    if mode == "skip":
        return None
    if mode == "recorded":
        if not RECORDED_ORIGINAL.is_file():
            return {"source": "recorded", "error": f"{RECORDED_ORIGINAL} not found"}
        rec = json.loads(RECORDED_ORIGINAL.read_text(encoding="utf-8"))
        return {**rec, "source": f"recorded ({RECORDED_ORIGINAL.relative_to(C.REPO_ROOT)})"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "original.json"
        cmd = [str(args.parity_python), str(C.BENCH_DIR / "_original_worker.py"), "--csv", str(args.csv),
               "--epochs", str(2 if args.quick else args.original_epochs), "--out", str(out)]
        if args.torch_threads:
            cmd += ["--threads", str(args.torch_threads)]
        if args.quick:
            cmd += ["--regions", "8", "--hidden", "16", "--warm-start-epochs", "1"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"source": "run", "error": proc.stderr[-2000:]}
        rep = json.loads(out.read_text(encoding="utf-8"))
    hold = rep["metrics"]["holdout"]
    shares = rep["metrics"]["media_share"]
    null = [c for c in shares if NULL_TAG in c.lower()]
    fig = {
        "source": "run",
        "versions": rep["versions"],
        "config": rep["config"],
        "epochs": rep["epochs"],
        "holdout": {"r2": hold["r2"], "rmse": hold["rmse"], "mae": hold["mae"], "r2_within_region": hold["r2_scaled"]},
        "train": rep["metrics"]["train"],
        "media_share": shares,
        "null_channel": None if not null else {"name": null[0], "share_of_media": shares[null[0]]},
        "wall_seconds": rep["timing"]["wall_seconds"],
        "command": " ".join(["benchmarks/_original_worker.py", "--csv", "mmm_data.csv", "--epochs",
                             str(rep["config"]["n_epochs"])]),
    }
    if args.record_original and not args.quick:
        RECORDED_ORIGINAL.parent.mkdir(parents=True, exist_ok=True)
        C.write_json(RECORDED_ORIGINAL, {**fig, "machine": C.machine_info(with_jax=False)})
    return fig


def main(argv=None) -> int:
    args = parse_args(argv)
    panels = [p for p in args.panels.split(",") if p]
    unknown = set(panels) - {"example", "planted"}
    if unknown:
        print(f"unknown panel(s) {sorted(unknown)}; choose example, planted", file=sys.stderr)
        return 2
    kept = {}
    if args.update and args.out.is_file():
        kept = {k: v for k, v in json.loads(args.out.read_text(encoding="utf-8")).items()
                if k in ("example", "planted") and k not in panels}
    report = {"benchmark": "quality", "schema": C.SCHEMA_VERSION, "quick": args.quick,
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": C.machine_info()}
    if args.quick:
        report["warning"] = "--quick: tiny sizes, the figures mean nothing"
    C.setup_cache()  # only when $CAUSALMMM_BENCH_CACHE_DIR is set (the smoke test)
    report.update(kept)
    if "example" in panels:
        if args.csv.is_file():
            report["example"] = fit_example(args.csv, args.quick)
        else:
            report["example"] = {"error": f"{args.csv} not found"}
    if "planted" in panels:
        report["planted"] = fit_planted(args.quick)
    report["original"] = original_figures(args)
    C.write_json(args.out, report)
    rows = []
    for name, e in (("example", report.get("example")), ("planted", report.get("planted")),
                    ("original (example)", report["original"])):
        if e and "holdout" in e:
            rows.append({"panel": name, "r2": e["holdout"]["r2"], "rmse": e["holdout"]["rmse"],
                         "within": e["holdout"]["r2_within_region"],
                         "null": 100 * e["null_channel"]["share_of_media"] if e.get("null_channel") else None,
                         "epochs": e.get("epochs_run", e.get("epochs"))})
    C.print_table(rows, [("panel", "panel", "s"), ("r2", "holdout R²", ".4f"), ("rmse", "RMSE", ",.0f"),
                         ("within", "within-region R²", ".3f"), ("null", "null % of media", ".2f"),
                         ("epochs", "epochs", "d")])
    return 0


if __name__ == "__main__":
    sys.exit(main())

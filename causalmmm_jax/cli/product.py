"""``causalmmm-jax predict`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._base import add_analysis_devices

__all__ = ["add_predict", "add_demo", "run_demo"]


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predictions and components for any weeks, incl. future media plans",
                       description="Predict every (region, week) row of DATA.csv with the model in RUN_DIR, "
                                   "continuing the fitted sequence (weeks after the fitted period are forecasts "
                                   "of the given media plan). The target column may be absent. Writes one row per "
                                   "region and week: region, time, prediction, one column per component, in "
                                   "KPI units, and the 90 % prediction interval prediction_q05/prediction_q95.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by 'causalmmm-jax fit'")
    p.add_argument("data", metavar="DATA.csv", help="rows to predict, with the fit's columns")
    p.add_argument("--out", required=True, metavar="PRED.csv", help="output CSV")
    p.add_argument("--sep", default=",", metavar="CHAR", help="field delimiter of DATA.csv (default ',')")
    add_analysis_devices(p)
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from .._io_util import atomic_write_text
    from ..data.load import read_csv
    from ..modelfile import load_model
    from ..predict import predict

    result = load_model(args.run_dir)
    pred = predict(result, read_csv(args.data, sep=args.sep))
    if result.mapping is not None:
        pred = pred.rename(columns={"region": result.mapping.region, "time": result.mapping.time})
    atomic_write_text(args.out, pred.to_csv(index=False))
    print(f"{len(pred)} rows written to {args.out}")
    return 0


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="synthetic data → fit → curves → optimize → report",
                       description="Generate a synthetic panel with known truth, fit the model, compute response "
                                   "curves and a budget plan, write the dashboard and print a summary.")
    p.add_argument("--out", default="demo_output", metavar="DIR", help="output folder (default demo_output)")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="training epochs (default 800)")
    p.add_argument("--quick", action="store_true", help="a tiny, fast run (for smoke tests)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    run_demo(Path(args.out), epochs=args.epochs, quick=args.quick)
    return 0


def run_demo(out: Path, *, epochs: int | None = None, quick: bool = False) -> Path:
    """Synthetic data with known truth → fit → response curves → budget plan → dashboard, into
    ``out``, through the library API (what ``fit``, ``curves``, ``optimize`` and ``report`` run),
    printing what those commands print plus the estimate against the truth; returns the dashboard path."""
    from ..analysis.budget import optimize_budget
    from ..config import Config
    from ..data.synthetic import generate, write_csv
    from ..report.dashboard import build_dashboard
    from ..run import write_allocation, write_curves, write_run
    from ..train.fit import fit
    from .analysis import print_allocation, print_curves
    from .fit import print_metrics, progress_printer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate(0, n_regions=5 if quick else 20, n_weeks=70 if quick else 156)
    csv = out / "data.csv"
    write_csv(data, csv)
    m = data.mapping
    print(f"synthetic panel: {data.frame[m.region].nunique()} regions × {data.frame[m.time].nunique()} weeks × "
          f"{len(m.media)} channels (truth: media {data.truth.media_share:.0%} of the KPI) → {csv}")
    cfg = Config().updated(
        model={"hidden_dim": 8 if quick else 64},
        train={"epochs": epochs or (30 if quick else 800), "chunk_epochs": 30 if quick else 100,
               "warm_start_epochs": 5 if quick else 50, **({"static_epochs": 100} if quick else {})},
        data={"holdout_weeks": 8 if quick else 13},
    )
    result = fit(data.panel(), cfg, mapping=m, progress=progress_printer(sys.stderr.isatty()))
    run = write_run(result, out / "run")
    print_metrics(json.loads((run / "metrics.json").read_text(encoding="utf-8")))
    print(f"\n{'channel':<26}{'share':>8}{'truth':>8}{'ROI':>8}{'90 % interval':>16}{'truth':>8}")
    for ch, v in result.metrics["channels"].items():
        lo_hi = v.get("interval", {}).get("roi")
        band = f"[{lo_hi[0]:.2f}, {lo_hi[1]:.2f}]" if lo_hi else "-"
        print(f"{ch:<26}{v['share']:>8.1%}{data.truth.shares[ch]:>8.1%}{v.get('roi', float('nan')):>8.2f}"
              f"{band:>16}{data.truth.roi[ch]:>8.2f}")
    weeks = min(52, result.split.n_train)
    start = result.split.n_train - weeks
    spend = result.panel.spend if result.panel.spend is not None else result.panel.media  # the generator has spend
    budget = round(float(spend[:, start:result.split.n_train].sum()), 2)  # in cents, as the printed command would
    print()
    curves, params, written = write_curves(result, run)
    print_curves(curves, params, written)
    res = optimize_budget(result, budget, weeks=weeks)
    print_allocation(res, write_allocation(result, res, run), run)
    dashboard = build_dashboard(run)
    print(dashboard)
    print(f"\ndashboard: {dashboard.resolve()}")
    return dashboard

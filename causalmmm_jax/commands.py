"""CLI subcommands of the product surface: ``predict`` and ``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["PRODUCT_SUBCOMMANDS"]


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predictions and components for any weeks, incl. future media plans",
                       description="Predict every (region, week) row of DATA.csv with the model in RUN_DIR, "
                                   "continuing the fitted sequence (weeks after the fitted period are forecasts "
                                   "of the given media plan). The target column may be absent. Writes one row per "
                                   "region and week: region, time, prediction and one column per component, in "
                                   "KPI units.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by 'causalmmm-jax fit'")
    p.add_argument("data", metavar="DATA.csv", help="rows to predict, with the fit's columns")
    p.add_argument("--out", required=True, metavar="PRED.csv", help="output CSV")
    p.add_argument("--sep", default=",", metavar="CHAR", help="field delimiter of DATA.csv (default ',')")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from ._io_util import atomic_write_text
    from .data.load import read_csv
    from .modelfile import load_model
    from .predict import predict

    result = load_model(args.run_dir)
    pred = predict(result, read_csv(args.data, sep=args.sep))
    if result.mapping is not None:
        pred = pred.rename(columns={"region": result.mapping.region, "time": result.mapping.time})
    atomic_write_text(args.out, pred.to_csv(index=False))
    print(f"{len(pred)} rows written to {args.out}")
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="synthetic data → fit → curves → optimize → report",
                       description="Generate a synthetic panel with known truth, fit the model, compute response "
                                   "curves and a budget plan, write the dashboard and print a summary.")
    p.add_argument("--out", default="demo_output", metavar="DIR", help="output folder (default demo_output)")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="training epochs (default 800)")
    p.add_argument("--quick", action="store_true", help="a tiny, fast run (for smoke tests)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), epochs=args.epochs, quick=args.quick)
    return 0


PRODUCT_SUBCOMMANDS = [_add_predict, _add_demo]

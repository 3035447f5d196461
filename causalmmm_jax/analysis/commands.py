"""CLI subcommands ``curves`` and ``optimize`` (registered by :mod:`causalmmm_jax.cli` through
:data:`ANALYSIS_SUBCOMMANDS`).

* ``causalmmm-jax curves RUN_DIR [--multipliers 0,0.5,1,1.5,2]`` → ``RUN_DIR/curves.csv``
  (channel, multiplier, spend if known, exposure, kpi, incremental) and ``RUN_DIR/curve_params.csv``.
* ``causalmmm-jax optimize RUN_DIR [--budget B | --target-kpi K | --target-roi R] [--weeks N]
  [--bounds CH=LOW:HIGH ...] [--fixed CH ...]
  [--method auto|projected|slsqp|trust-constr|de|multistart] [--on auto|curves|model]`` → ``RUN_DIR/allocation.csv``
  (by-channel table) and ``RUN_DIR/allocation.json`` (success, method, allocation, responses, uplift,
  the share of the plan beyond the observed spend range).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from .._io_util import atomic_write_text
from ..errors import ConfigError

__all__ = ["ANALYSIS_SUBCOMMANDS"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals or any(not math.isfinite(v) or v < 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected numbers >= 0, got {text!r}")
    return vals


def _load(run_dir: str):
    from ..io import load_model

    return load_model(run_dir)


def _add_curves(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curves", help="model-based response curves of a fitted run",
        description="Re-run the fitted model over the training weeks with each channel's media (and spend) scaled "
                    "by each multiplier; write RUN_DIR/curves.csv (total predicted KPI per channel and multiplier) "
                    "and RUN_DIR/curve_params.csv (4-parameter Hill fit per channel, weekly units, with R²).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder of a saved run (from 'causalmmm-jax fit --out')")
    p.add_argument("--multipliers", type=_floats, default=None, metavar="LIST",
                   help="comma-separated multipliers >= 0 (default: analysis.curve_multipliers, 0,0.25,...,2)")
    p.set_defaults(func=_cmd_curves)


def _cmd_curves(args: argparse.Namespace) -> int:
    from .curves import curve_params, response_curves

    result = _load(args.run_dir)
    curves = response_curves(result, args.multipliers)
    params = curve_params(result, curves)
    out = Path(args.run_dir)
    atomic_write_text(out / "curves.csv", curves.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(out / "curve_params.csv", params.to_csv(index=False, float_format="%.10g"))
    print(f"wrote {out / 'curves.csv'} ({len(curves)} rows) and {out / 'curve_params.csv'}")
    for row in params.itertuples(index=False):
        print(f"  {row.channel}: half-saturation {row.half_saturation:.4g} ({row.x_unit}), slope {row.slope:.3g}, "
              f"R² {row.r2:.3f}")
    return 0


def _add_optimize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize", help="allocate a budget across channels",
        description="Maximise the predicted response of a fitted run subject to the total budget over a horizon "
                    "of N weeks (spent flat) and per-channel bounds; write RUN_DIR/allocation.csv and "
                    "RUN_DIR/allocation.json. Amounts are totals over the horizon in spend units (exposure units "
                    "when the run has no spend columns). Says how much of the plan lies above the largest weekly "
                    "spend seen in training, where the response is extrapolated.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder of a saved run")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--budget", type=float, default=None, metavar="B",
                      help="total budget over the horizon (default: the historical spend of the last N training "
                           "weeks, i.e. re-allocate what was spent)")
    goal.add_argument("--target-kpi", type=float, default=None, metavar="K",
                      help="find the smallest budget whose best plan adds K KPI over the horizon, then allocate it "
                           "(searched on the fitted curves unless --on model, which re-runs the model at each step)")
    goal.add_argument("--target-roi", type=float, default=None, metavar="R",
                      help="find the largest budget whose best plan returns R KPI per unit of spend (Robyn's target "
                           "efficiency), then allocate it (searched like --target-kpi)")
    p.add_argument("--weeks", type=int, default=None, metavar="N",
                   help="horizon in weeks (default: analysis.budget_weeks, 52)")
    p.add_argument("--bounds", nargs="+", default=None, metavar="CHANNEL=LOW:HIGH",
                   help="per-channel totals over the horizon, media column names, e.g. impressions_tv=0:50000 "
                        "(either side may be empty; default 0:budget)")
    p.add_argument("--fixed", nargs="+", default=None, metavar="CHANNEL",
                   help="channels held at their historical spend of the horizon while the others share the rest "
                        "of the budget (media column names, space- or comma-separated); the current plan keeps "
                        "them there too")
    p.add_argument("--method", choices=("auto", "projected", "slsqp", "trust-constr", "de", "multistart"),
                   default=None, help="optimiser (default: analysis.budget_method, auto: multistart on the curves, "
                                      "projected on the model)")
    p.add_argument("--on", choices=("auto", "curves", "model"), default=None,
                   help="response from re-running the fitted model over the last N training weeks (model), "
                        "from the fitted Hill curves (curves), or the model whenever it applies (auto; "
                        "default: analysis.budget_on, auto)")
    p.set_defaults(func=_cmd_optimize)


def _cmd_optimize(args: argparse.Namespace) -> int:
    from .budget import optimize_budget, parse_bounds
    from .targets import optimize_target

    if args.weeks is not None and args.weeks < 1:
        raise ConfigError(f"--weeks must be >= 1, got {args.weeks}")
    result = _load(args.run_dir)
    fixed = [c.strip() for item in args.fixed or () for c in item.split(",") if c.strip()]
    if args.target_kpi is not None or args.target_roi is not None:
        kind, value = ("kpi", args.target_kpi) if args.target_kpi is not None else ("roi", args.target_roi)
        res = optimize_target(result, kind, value, weeks=args.weeks, bounds=parse_bounds(args.bounds), fixed=fixed,
                              method=args.method, on="model" if args.on == "model" else "curves")
    else:
        res = optimize_budget(result, args.budget, weeks=args.weeks, bounds=parse_bounds(args.bounds), fixed=fixed,
                              method=args.method, on=args.on)
    out = Path(args.run_dir)
    atomic_write_text(out / "allocation.csv", res.by_channel.to_csv(index=False, float_format="%.10g"))
    d = res.to_dict()
    d = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}
    atomic_write_text(out / "allocation.json", json.dumps(d, indent=2) + "\n")
    status = "ok" if res.success else "did not converge"
    print(f"{res.method} on {res.on} ({status}): predicted response {res.predicted_response:.6g} vs current "
          f"{res.current_response:.6g} (uplift {res.uplift:+.6g}, {res.uplift_pct:+.2f} %) over {res.weeks} weeks")
    if res.route_note:
        print(f"  {res.route_note}")
    if res.fixed:
        print(f"  held at their historical {res.unit}: {', '.join(res.fixed)}")
    if res.target:
        t = res.target
        what = "KPI added" if t["kind"] == "kpi" else f"KPI per unit of {res.unit}"
        print(f"  target {t['kind'].upper()} {t['value']:.6g}: budget {t['budget']:.6g} ({what} {t['achieved']:.6g}; "
              f"{t['evaluations']} plans evaluated on the {res.on})")
    for row in res.by_channel.itertuples(index=False):
        beyond = (f", {row.beyond_observed_pct:.0f} % above the largest weekly spend seen"
                  if getattr(row, "beyond_observed_pct", 0) > 0.5 else "")
        print(f"  {row.channel}: {row.total_spend:.6g} ({row.spend_pct:.1f} %){beyond}")
    if res.beyond_observed_pct:
        print(f"  {res.beyond_observed_pct:.1f} % of the planned spend lies beyond the spend levels seen in training "
              "(per region and week): the model extrapolates there, treat those channels' gains with caution")
    print(f"wrote {out / 'allocation.csv'} and {out / 'allocation.json'}")
    return 0


ANALYSIS_SUBCOMMANDS = [_add_curves, _add_optimize]

"""``causalmmm-jax curves`` and ``optimize``.

* ``causalmmm-jax curves RUN_DIR [--multipliers 0,0.5,1,1.5,2]`` → ``RUN_DIR/curves.csv``
  (channel, multiplier, spend if known, exposure, kpi, incremental) and ``RUN_DIR/curve_params.csv``.
* ``causalmmm-jax optimize RUN_DIR [--budget B | --target-kpi K | --target-roi R] [--weeks N]
  [--bounds CH=LOW:HIGH ...] [--fixed CH ...]
  [--method auto|projected|slsqp|trust-constr|de|multistart] [--on auto|curves|model]`` → ``RUN_DIR/allocation.csv``
  (by-channel table), ``RUN_DIR/allocation.json`` (success, method, allocation, responses, uplift,
  the share of the plan beyond the observed spend range) and ``RUN_DIR/plan.csv`` (the recommended
  plan week by week from the week after the data: region, week, channel, spend).
* ``causalmmm-jax optimize RUN_DIR --plan FILE.csv [--tail-weeks N]``: evaluate a given plan (same
  columns) with the model continuing the fitted sequence (carry-over counted) →
  ``RUN_DIR/plan_evaluation.json`` and ``RUN_DIR/plan_weekly.csv``.
* The plan route (``--on plan``, ``--by region|week``, ``--region-bounds``, ``--week-bounds``,
  ``--risk``; ``--plan FILE.csv --on plan`` starts from that plan) also writes
  ``RUN_DIR/allocation_by_region.csv`` or ``RUN_DIR/allocation_by_week.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from .._io_util import atomic_write_text
from ..errors import ConfigError
from ..run import json_safe
from ..train.result import FitResult
from ._base import add_analysis_devices

__all__ = ["add_curves", "add_optimize", "print_curves", "print_allocation"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals or any(not math.isfinite(v) or v < 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected numbers >= 0, got {text!r}")
    return vals


def _load(run_dir: str):
    from ..modelfile import load_model

    return load_model(run_dir)


def add_curves(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curves", help="model-based response curves of a fitted run",
        description="Re-run the fitted model over the training weeks with each channel's media (and spend) scaled "
                    "by each multiplier; write RUN_DIR/curves.csv (total predicted KPI per channel and multiplier) "
                    "and RUN_DIR/curve_params.csv (4-parameter Hill fit per channel, weekly units, with R²).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder of a saved run (from 'causalmmm-jax fit --out')")
    p.add_argument("--multipliers", type=_floats, default=None, metavar="LIST",
                   help="comma-separated multipliers >= 0 (default: analysis.curve_multipliers, 0,0.25,...,2)")
    add_analysis_devices(p)
    p.set_defaults(func=_cmd_curves)


def _cmd_curves(args: argparse.Namespace) -> int:
    from ..run import write_curves

    result = _load(args.run_dir)
    curves, params, written = write_curves(result, args.run_dir, args.multipliers)
    print_curves(curves, params, written)
    return 0


def print_curves(curves, params, written) -> None:
    """What ``curves`` prints: the files and each channel's Hill fit."""
    curves_csv, params_csv = written
    print(f"wrote {curves_csv} ({len(curves)} rows) and {params_csv}")
    for row in params.itertuples(index=False):
        print(f"  {row.channel}: half-saturation {row.half_saturation:.4g} ({row.x_unit}), slope {row.slope:.3g}, "
              f"R² {row.r2:.3f}")


def add_optimize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize", help="allocate a budget across channels",
        description="Maximise the predicted response of a fitted run subject to the total budget over a horizon "
                    "of N weeks (spent flat) and per-channel bounds; write RUN_DIR/allocation.csv, "
                    "RUN_DIR/allocation.json and RUN_DIR/plan.csv (the plan by region, week and channel from the "
                    "week after the data). Amounts are totals over the horizon in spend units (exposure units "
                    "when the run has no spend columns). Says how much of the plan lies above the largest weekly "
                    "spend seen in training, where the response is extrapolated. With --plan FILE.csv: evaluate "
                    "that plan instead (RUN_DIR/plan_evaluation.json, RUN_DIR/plan_weekly.csv); with --plan "
                    "FILE.csv --on plan: improve that plan. --by region or week: decide per region or per week "
                    "too (RUN_DIR/allocation_by_region.csv, RUN_DIR/allocation_by_week.csv), with "
                    "--region-bounds or --week-bounds on their totals.")
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
    goal.add_argument("--target-cost-per-kpi", type=float, default=None, metavar="C",
                      help="find the largest budget whose best plan costs at most C units of spend per unit of KPI "
                           "added (the ROI target 1/C), then allocate it")
    p.add_argument("--plan", default=None, metavar="FILE.csv",
                   help="evaluate this plan instead of optimising (or, with --on plan, optimise starting from it: "
                        "its weeks set the horizon, its total the default budget, each decision cell keeps the "
                        "plan's spread (by channel: its flighting and regional mix; --by week: each week's regional "
                        "mix), and --fixed, --max-change and the uplift refer to it): one row per region, week and "
                        "channel with columns region, week, channel, spend (exposure for runs without spend "
                        "columns), weeks consecutive on the fitted grid, before or after the data's end (e.g. "
                        "RUN_DIR/plan.csv from an earlier optimize); the model continues the fitted sequence, so "
                        "carry-over from earlier spend is counted")
    p.add_argument("--tail-weeks", type=int, default=0, metavar="N",
                   help="with --plan or --on plan: also count the plan's carry-over in the N weeks after it "
                        "(default 0)")
    p.add_argument("--by", choices=("channel", "region", "week"), default=None,
                   help="allocate per channel (default), per region and channel (region) or per week and channel "
                        "(week: the flighting; add --tail-weeks so late spend's carry-over counts); region and week "
                        "run on the plan route, and --bounds then apply to each channel's total")
    p.add_argument("--risk", type=float, default=None, metavar="Q",
                   help="ensembles, plan route: maximise the Q quantile of the members' KPI added (e.g. 0.1) "
                        "instead of their mean, a plan that holds up when the model is pessimistic")
    p.add_argument("--max-change", type=float, default=None, metavar="F",
                   help="keep every channel's total (with --by region or week: every region's or week's and "
                        "channel's) within "
                        "(1 ± F) × the current plan's, e.g. 0.2 for at most 20 %% up or down")
    p.add_argument("--weeks", type=int, default=None, metavar="N",
                   help="horizon in weeks (default: analysis.budget_weeks, 52)")
    p.add_argument("--bounds", nargs="+", default=None, metavar="CHANNEL=LOW:HIGH",
                   help="per-channel totals over the horizon, media column names, e.g. impressions_tv=0:50000 "
                        "(either side may be empty; default 0:budget)")
    p.add_argument("--region-bounds", nargs="+", default=None, metavar="REGION=LOW:HIGH",
                   help="with --by region: each region's total over channels and the horizon, e.g. 101=0:20000 "
                        "('*' for every region; a named region replaces '*')")
    p.add_argument("--week-bounds", nargs="+", default=None, metavar="WEEK=LOW:HIGH",
                   help="with --by week: each week's total over channels and regions, weeks as in plan.csv, e.g. "
                        "'*=:50000' for a weekly cap, 2024-12-23=0:0 for a week without spend (a named week "
                        "replaces '*')")
    p.add_argument("--kpi-value", nargs="+", default=None, metavar="V|REGION=V",
                   help="the value of one unit of KPI (e.g. revenue per visit): one number, or per region "
                        "REGION=V with '*=V' for the rest (per region: the model and plan routes); the plan then "
                        "maximises value, and responses, uplift, ROI and targets are in value units")
    p.add_argument("--fixed", nargs="+", default=None, metavar="CHANNEL",
                   help="channels held at their historical spend of the horizon (with --plan FILE --on plan: at "
                        "the plan's) while the others share the rest of the budget (media column names, space- or "
                        "comma-separated); the current plan keeps them there too")
    p.add_argument("--floor", choices=("observed", "none"), default=None,
                   help="observed: keep every channel not bounded or fixed at or above its smallest national weekly "
                        "spend in training × the weeks, or its current plan where that is smaller (below it the "
                        "model never saw the channel, so the cost of a deeper cut is the prior's guess; channels "
                        "seen at zero spend have no floor); none: allow cuts to zero (default: "
                        "analysis.budget_floor, observed)")
    p.add_argument("--method", choices=("auto", "projected", "slsqp", "trust-constr", "de", "multistart"),
                   default=None, help="optimiser (default: analysis.budget_method, auto: multistart on the curves, "
                                      "projected on the model)")
    p.add_argument("--on", choices=("auto", "curves", "model", "plan"), default=None,
                   help="response from re-running the fitted model over the last N training weeks (model), "
                        "from the fitted Hill curves (curves), from the model run forward over the N weeks after "
                        "the data, spend before them carrying in (plan), or the model whenever it applies (auto; "
                        "default: analysis.budget_on, auto)")
    add_analysis_devices(p)
    p.set_defaults(func=_cmd_optimize)


def _cmd_optimize(args: argparse.Namespace) -> int:
    from ..analysis.budget import optimize_budget, parse_bounds
    from ..analysis.targets import optimize_target

    if args.weeks is not None and args.weeks < 1:
        raise ConfigError(f"--weeks must be >= 1, got {args.weeks}")
    result = _load(args.run_dir)
    start_plan = None
    if args.plan is not None:
        if args.on != "plan":
            return _evaluate_plan(result, args)
        from ..analysis.plans import plan_from_frame
        from ..data.load import read_csv

        if args.weeks is not None:
            raise ConfigError("--plan with --on plan optimises over the plan's own weeks; drop --weeks")
        start_plan = plan_from_frame(result, read_csv(args.plan))
    plan_route = (args.on == "plan" or args.by in ("region", "week") or args.risk is not None
                  or args.region_bounds or args.week_bounds)
    if args.tail_weeks and not plan_route:
        raise ConfigError("--tail-weeks applies to --plan and --on plan only")
    rows = {"region_bounds": parse_bounds(args.region_bounds, "REGION") or None,
            "week_bounds": parse_bounds(args.week_bounds, "WEEK") or None, "plan": start_plan,
            "kpi_value": _kpi_value(args.kpi_value)}
    fixed = [c.strip() for item in args.fixed or () for c in item.split(",") if c.strip()]
    targets = {"kpi": args.target_kpi, "roi": args.target_roi, "cost_per_kpi": args.target_cost_per_kpi}
    if any(v is not None for v in targets.values()):
        if args.risk is not None:
            raise ConfigError("--risk applies to a given budget, not to a target")
        kind, value = next((k, v) for k, v in targets.items() if v is not None)
        res = optimize_target(result, kind, value, weeks=args.weeks, bounds=parse_bounds(args.bounds), fixed=fixed,
                              method=args.method, on=args.on if args.on in ("model", "plan") else "curves",
                              by=args.by or "channel", tail_weeks=args.tail_weeks, max_change=args.max_change,
                              floor=args.floor, **rows)
    else:
        res = optimize_budget(result, args.budget, weeks=args.weeks, bounds=parse_bounds(args.bounds), fixed=fixed,
                              method=args.method, on=args.on, by=args.by or "channel", max_change=args.max_change,
                              tail_weeks=args.tail_weeks, risk=args.risk, floor=args.floor, **rows)
    from ..run import write_allocation

    written = write_allocation(result, res, args.run_dir)
    print_allocation(res, written, Path(args.run_dir))
    return 0


def print_allocation(res, written, out: Path) -> None:
    """What ``optimize`` prints for a budget result and the files written."""
    from ..analysis.plans import week_label

    status = "ok" if res.success else "did not converge"
    print(f"{res.method} on {res.on} ({status}): predicted response {res.predicted_response:.6g}"
          f"{' (value units)' if res.response_unit == 'value' else ''} vs current "
          f"{res.current_response:.6g} (uplift {res.uplift:+.6g}, {res.uplift_pct:+.2f} %) over {res.weeks} weeks")
    if res.route_note:
        print(f"  {res.route_note}")
    if res.floors:
        at = res.floors_binding()
        print(f"  floors (the smallest weekly {res.unit} seen in training × {res.weeks} weeks, or the current plan "
              "where smaller): " + ", ".join(f"{c} >= {v:.6g}" for c, v in res.floors.items())
              + (f"; held there: {', '.join(at)}" if at else ""))
    if res.fixed:
        where = "the given plan's" if "current = the given plan" in res.message else "their historical"
        print(f"  held at {where} {res.unit}: {', '.join(res.fixed)}")
    if res.target:
        t = res.target
        what = {"kpi": "KPI added", "roi": f"KPI per unit of {res.unit}",
                "cost_per_kpi": f"{res.unit} per unit of KPI"}[t["kind"]]
        kind = t["kind"].replace("_", " ")
        print(f"  target {kind} {t['value']:.6g}: budget {t['budget']:.6g} ({what} {t['achieved']:.6g}; "
              f"{t['evaluations']} plans evaluated on the {res.on})")
    for row in res.by_channel.itertuples(index=False):
        beyond = (f", {row.beyond_observed_pct:.0f} % above the largest weekly spend seen"
                  if getattr(row, "beyond_observed_pct", 0) > 0.5 else "")
        below = (f", cuts {row.below_observed_pct:.0f} % of its spend below the smallest weekly spend seen"
                 if getattr(row, "below_observed_pct", 0) > 0.5 else "")
        print(f"  {row.channel}: {row.total_spend:.6g} ({row.spend_pct:.1f} %){beyond}{below}")
    if res.beyond_observed_pct:
        print(f"  {res.beyond_observed_pct:.1f} % of the planned spend lies beyond the spend levels seen in training "
              "(per region and week): the model extrapolates there, treat those channels' gains with caution")
    if res.below_observed_pct:
        print(f"  the plan cuts {res.below_observed_pct:.1f} % of today's spend below the lowest weekly spend seen in "
              "training (per region): the model never saw those channels that low, so what the cut costs is the "
              "prior's guess, not a measurement")
    tot = res.evaluation.totals if res.evaluation is not None else {}
    if "incremental_q05" in tot:
        print(f"  the plan adds {tot['incremental']:.6g} KPI in its weeks "
              f"(members' 5–95 %: {tot['incremental_q05']:.6g} "
              f"to {tot['incremental_q95']:.6g})")
    if res.by_region is not None:
        moved = res.by_region.assign(change=res.by_region["spend"] - res.by_region["current_spend"])
        gain = moved.groupby("region")["change"].sum().sort_values()
        print(f"  by region: most added in {', '.join(str(r) for r in gain.index[::-1][:3])}; most cut in "
              f"{', '.join(str(r) for r in gain.index[:3])} (allocation_by_region.csv)")
    if res.by_week is not None:
        per_week = res.by_week.groupby("week", sort=True)[["spend", "current_spend"]].sum()
        heavy = per_week["spend"].sort_values(ascending=False)
        print(f"  by week: {per_week['spend'].min():.6g} to {per_week['spend'].max():.6g} a week (current "
              f"{per_week['current_spend'].min():.6g} to {per_week['current_spend'].max():.6g}); heaviest "
              f"{', '.join(week_label(w) for w in heavy.index[:3])} (allocation_by_week.csv)")
    print(f"wrote {', '.join(str(w) for w in written)} (plan.csv: the plan by region, week and channel; evaluate it "
          f"with --plan {out / 'plan.csv'}, or improve it with --plan {out / 'plan.csv'} --on plan)")


def _kpi_value(items):
    """``--kpi-value``: one number, or ``REGION=V`` pairs (``*`` for the rest)."""
    if not items:
        return None
    try:
        if len(items) == 1 and "=" not in items[0]:
            return float(items[0])
        out = {}
        for item in items:
            name, sep, v = str(item).partition("=")
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(v)
        return out
    except ValueError:
        raise ConfigError(f"bad --kpi-value {' '.join(items)}: give one number (e.g. 2.5) or REGION=V pairs "
                          "(e.g. '*=2.5' 101=4)") from None


def _evaluate_plan(result: FitResult, args: argparse.Namespace) -> int:
    from ..analysis.plans import evaluate_plan, plan_from_frame, week_label
    from ..data.load import read_csv

    if args.tail_weeks < 0:
        raise ConfigError(f"--tail-weeks must be >= 0, got {args.tail_weeks}")
    other = [flag for flag, v in (("--weeks", args.weeks), ("--bounds", args.bounds), ("--fixed", args.fixed),
                                  ("--method", args.method), ("--on", args.on), ("--budget", args.budget),
                                  ("--target-kpi", args.target_kpi), ("--target-roi", args.target_roi),
                                  ("--target-cost-per-kpi", args.target_cost_per_kpi), ("--by", args.by),
                                  ("--max-change", args.max_change), ("--risk", args.risk),
                                  ("--region-bounds", args.region_bounds), ("--week-bounds", args.week_bounds),
                                  ("--floor", args.floor))
             if v is not None]
    if other:
        raise ConfigError(f"--plan evaluates a given plan; {', '.join(other)} apply to optimising (add --on plan to "
                          "optimise starting from the plan)")
    plan = plan_from_frame(result, read_csv(args.plan))
    ev = evaluate_plan(result, plan, tail_weeks=args.tail_weeks, kpi_value=_kpi_value(args.kpi_value))
    out = Path(args.run_dir)
    d = json_safe(ev.to_dict())
    atomic_write_text(out / "plan_evaluation.json", json.dumps(d, indent=2, default=str) + "\n")
    atomic_write_text(out / "plan_weekly.csv", ev.weekly.to_csv(index=False, float_format="%.10g"))
    t = ev.totals
    first, last = week_label(ev.weekly["week"].iloc[0]), week_label(ev.weekly["week"].iloc[plan.weeks - 1])
    kpi = "KPI" if ev.kpi_unit == "KPI" else "value"
    print(f"plan {first} .. {last} ({plan.weeks} weeks, {plan.unit} {t['spend']:.6g}): predicted {kpi} {t['kpi']:.6g}, "
          f"{t['incremental']:+.6g} from the plan ({t['kpi_without_plan']:.6g} without it)")
    print(f"  carry-over from spend before the plan: {t['carryover_in']:+.6g}"
          + (f"; the plan's carry-over in the {ev.tail_weeks} weeks after it: {t['carryover_after']:+.6g}"
             if ev.tail_weeks else ""))
    if t.get("roi") is not None:
        print(f"  {kpi} per unit of {plan.unit}: {t['roi']:.4g}")
    for row in ev.by_channel.itertuples(index=False):
        if row.spend > 0:
            print(f"  {row.channel}: {row.spend:.6g} ({row.spend_pct:.1f} %), incremental {row.incremental:+.6g}, "
                  f"per unit {row.roi:.4g}")
    for note in ev.notes:
        print(f"  note: {note}")
    print(f"wrote {out / 'plan_evaluation.json'} and {out / 'plan_weekly.csv'}")
    return 0

#!/usr/bin/env python
"""Planning benchmark: the plan route's objectives and constraints, scored against planted truth.

Each panel comes from :func:`causalmmm_jax.data.synthetic.generate` (designs of
``benchmarks/decisions.py``), fitted once with the default configuration and the last 13 weeks
held out.  The plans are made for those 13 held-out weeks (``start`` = the first held-out week:
the model never saw their KPI, spend before them carries in), with
:func:`causalmmm_jax.analysis.planning.optimize_plan`, and evaluated in the generator's true KPI
(:func:`causalmmm_jax.data.synthetic.true_kpi`, the plan's spend in those weeks, every other week
as observed):

* ``channel 1x`` / ``channel 1.5x``: totals per channel at the window's spend and at 1.5×;
* ``region 1x``: totals per region and channel;
* ``fixed``: the channel with the most spend held, the others re-allocated;
* ``max_change 0.2``: per region and channel, every cell within ±20 % of the current plan.

For each, the truth's best plan under the same decision space and constraints (the same cells,
the same weekly and regional spread) is found by the same solver on the true KPI (float32; the
model's plan and the current plan among its starts, SLSQP up to 400 cells), and ``captured`` =
(true KPI of the model's plan − of the current plan) / (the truth's best − the current plan);
``loss_pct_of_kpi`` = (best − model's plan) / the window's true KPI.  The current plan: the spend
of the last 13 training weeks in the same cells, scaled to the budget.

Targets (the curves route, as ``optimize --target-kpi/--target-roi``): the KPI target is 90 % of
what the model says the window's spend adds; the ROI target the model's ROI at 1.5× that spend.
Each found plan is evaluated in the truth over the last 13 training weeks (the route's window):
``delivered`` = true KPI the plan adds ÷ the target (KPI), or true KPI per unit of spend ÷ the
target (ROI).

    .venv/bin/python benchmarks/planning.py --out benchmarks/recorded/planning.json

fits 6 panels (mixed, flighted, regional × seeds 0, 1; about an hour on 2 cores).  ``--quick``:
one tiny panel, ``channel 1x`` and ``region 1x`` only, no targets (the smoke test).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402
from decisions import DESIGNS, HOLDOUT_WEEKS, QUICK_DESIGN, fit_generated  # noqa: E402

WEEKS = HOLDOUT_WEEKS
PLAN_DESIGNS = ("mixed", "flighted", "regional")
OBJECTIVES = ("channel 1x", "channel 1.5x", "region 1x", "fixed", "max_change 0.2")
SLSQP_TRUTH_CELLS = 400


def parse_args(argv=None):
    p = C.base_parser("planning", __doc__.split("\n\n")[0])
    p.add_argument("--designs", default=",".join(PLAN_DESIGNS), help=f"comma-separated designs (default "
                                                                     f"{','.join(PLAN_DESIGNS)})")
    p.add_argument("--seeds", default="0,1", help="generator seeds (default 0,1)")
    p.add_argument("--resume", action="store_true", help="keep panels already in --out")
    return p.parse_args(argv)


def _truth_value(data, result, start: int, weeks: int, shape, by: str):
    """``value(x [R', C]) -> scalar`` (JAX): the true KPI over the observed cells of the plan's
    weeks when the plan's spend is ``shape · x`` there and every other week is as observed."""
    import jax.numpy as jnp
    import numpy as np

    from causalmmm_jax.data.synthetic import true_kpi

    base = np.asarray(data.truth.spend, np.float64)
    cells = np.asarray(result.panel.mask, np.float64)[:, start:start + weeks]
    shape_j = jnp.asarray(shape, jnp.float32)

    def value(x):
        spend = shape_j * (x[None] if by == "channel" else x[:, None, :])
        grid = jnp.asarray(base, jnp.float32).at[:, start:start + weeks].set(spend)
        kpi = true_kpi(data, grid, xp=jnp)[:, start:start + weeks]
        return (kpi * jnp.asarray(cells, jnp.float32)).sum()

    return value


def _score(data, result, res, start: int, kw: dict, seed: int) -> dict:
    """Evaluate the model's plan ``res`` in the truth and find the truth's best plan in the same
    decision space."""
    import jax.numpy as jnp
    import numpy as np

    from causalmmm_jax.analysis.planning import _cells_constraints, _solve
    from causalmmm_jax.analysis.plans import exposure_per_spend, plan_shape, window_spend

    by, weeks = res.by, res.weeks
    channels = list(result.panel.channels)
    shape = plan_shape(result, weeks, "history", by)
    win = window_spend(result, weeks)
    cells = (res.by_region["current_spend"].to_numpy().reshape(result.panel.n_regions, -1) if by == "region"
             else np.array([res.current_allocation[c] for c in channels])[None, :])
    x_model = (res.by_region["spend"].to_numpy().reshape(result.panel.n_regions, -1) if by == "region"
               else np.array([res.allocation[c] for c in channels])[None, :])
    never = np.isnan(exposure_per_spend(result)).all(axis=0)
    lower, upper, g_lo, g_hi = _cells_constraints(channels, cells.shape[0], res.budget, cells, kw.get("bounds"),
                                                  res.fixed, kw.get("max_change"), never)
    value = _truth_value(data, result, start, weeks, shape, by)
    v = lambda x: float(value(jnp.asarray(x, jnp.float32)))  # noqa: E731
    rng = np.random.default_rng(seed)
    starts = [x_model, upper * res.budget / max(upper.sum(), 1e-12)]
    starts += [rng.dirichlet(np.ones(cells.size)).reshape(cells.shape) * res.budget for _ in range(2)]
    best, _, _ = _solve(value, res.budget, cells, lower, upper, g_lo, g_hi, "multistart", 300, starts)
    if cells.size <= SLSQP_TRUTH_CELLS:
        alt, _, _ = _solve(value, res.budget, x_model, lower, upper, g_lo, g_hi, "slsqp", 300)
        best = alt if v(alt) > v(best) else best
    v_cur, v_plan, v_best = v(cells), v(x_model), v(best)
    if v_plan > v_best:
        v_best = v_plan
    window = v(win.sum(axis=1) if by == "region" else win.sum(axis=(0, 1))[None, :])
    achievable = v_best - v_cur
    return {"budget": res.budget, "method": res.method, "model_predicted_uplift": res.uplift,
            "true_uplift_of_plan": v_plan - v_cur, "achievable_uplift": achievable,
            "achievable_uplift_pct_of_kpi": 100.0 * achievable / window,
            "captured": (v_plan - v_cur) / achievable if achievable > 1e-6 * abs(window) else None,
            "loss_pct_of_kpi": 100.0 * (v_best - v_plan) / window,
            "plan_beyond_observed_pct": res.beyond_observed_pct,
            "plan": {c: float(a) for c, a in res.allocation.items()},
            "current": {c: float(a) for c, a in res.current_allocation.items()}}


def _targets(data, result, weeks: int) -> dict:
    """KPI and ROI targets on the curves route, delivered in the truth over the route's window."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from causalmmm_jax.analysis.budget import horizon_spend, optimize_budget
    from causalmmm_jax.analysis.recovery import _window_value
    from causalmmm_jax.analysis.targets import optimize_target

    n = result.split.n_train
    channels, _, _, window, hist, _ = horizon_spend(result, weeks)
    cells = np.asarray(result.panel.mask, bool)
    with jax.enable_x64(True):
        value = _window_value(data, cells, n - weeks, n)
        safe = np.where(window > 0, window, 1.0)
        added = lambda x: float(value(jnp.asarray(np.where(window > 0, x / safe, 0.0)))  # noqa: E731
                                - value(jnp.zeros(len(channels))))
    base = optimize_budget(result, float(hist.sum()), weeks=weeks, on="curves")
    out = {}
    for kind, goal in (("kpi", 0.9 * base.predicted_response),
                       ("roi", optimize_budget(result, 1.5 * float(hist.sum()), weeks=weeks,
                                               on="curves").predicted_response / (1.5 * float(hist.sum())))):
        res = optimize_target(result, kind, goal, weeks=weeks)
        x = np.array([res.allocation[c] for c in channels])
        true_added = added(x)
        delivered = true_added / goal if kind == "kpi" else (true_added / res.budget) / goal
        out[kind] = {"target": goal, "budget": res.budget, "budget_vs_window_spend": res.budget / float(hist.sum()),
                     "model_achieved": res.target["achieved"], "true": true_added if kind == "kpi"
                     else true_added / res.budget, "delivered": delivered}
    return out


def run_panel(design: str, seed: int, quick: bool) -> dict:
    from causalmmm_jax.analysis.planning import optimize_plan

    _, data, result, fit_s = fit_generated(design, seed, quick)
    n = result.split.n_train
    weeks = result.panel.n_weeks - n
    assert weeks == (8 if quick else WEEKS)
    hist = float(data.truth.spend[:, n - weeks:n].sum())
    top = list(result.panel.channels)[int(data.truth.spend[:, n - weeks:n].sum(axis=(0, 1)).argmax())]
    specs = {"channel 1x": dict(by="channel"), "channel 1.5x": dict(by="channel", budget=1.5 * hist),
             "region 1x": dict(by="region"), "fixed": dict(by="channel", fixed=[top]),
             "max_change 0.2": dict(by="region", max_change=0.2)}
    if quick:  # the smoke test: one objective per decision shape
        specs = {k: specs[k] for k in ("channel 1x", "region 1x")}
    objectives = {}
    for name, spec in specs.items():
        t1 = time.perf_counter()
        budget = spec.pop("budget", None)
        res = optimize_plan(result, budget, weeks=weeks, start=n, **spec)
        plan_s = time.perf_counter() - t1
        objectives[name] = {**_score(data, result, res, n, spec, seed), "plan_seconds": plan_s, **spec}
        o = objectives[name]
        print(f"  {name}: captured {C.fmt(o['captured'], '.3f')}, loss {o['loss_pct_of_kpi']:.3f} % of KPI, "
              f"achievable {o['achievable_uplift_pct_of_kpi']:.2f} % ({plan_s:.0f} s)", flush=True)
    targets = {} if quick else _targets(data, result, weeks)
    for kind, t in targets.items():
        print(f"  target {kind}: delivered {t['delivered']:.3f} (budget {t['budget_vs_window_spend']:.2f}× the "
              "window's spend)", flush=True)
    return {"design": design, "seed": seed, "fit": {"seconds": fit_s, "holdout": result.metrics["holdout"]},
            "objectives": objectives, "targets": targets}


def summarise(panels: list[dict]) -> dict:
    import numpy as np

    def stats(vals, worst_high: bool):
        vals = [float(v) for v in vals if v is not None]
        if not vals:
            return {"median": None, "worst": None, "n": 0}
        return {"median": float(np.median(vals)), "worst": max(vals) if worst_high else min(vals), "n": len(vals)}

    out = {}
    for name in OBJECTIVES:
        rows = [p["objectives"][name] for p in panels if name in p["objectives"]]
        out[name] = {"captured": stats([r["captured"] for r in rows], False),
                     "loss_pct_of_kpi": stats([r["loss_pct_of_kpi"] for r in rows], True),
                     "achievable_uplift_pct_of_kpi": stats([r["achievable_uplift_pct_of_kpi"] for r in rows], False)}
    for kind in ("kpi", "roi"):
        vals = [p["targets"][kind]["delivered"] for p in panels if kind in p["targets"]]
        if vals:
            out[f"target {kind} delivered"] = {"median": float(np.median(vals)), "min": min(vals), "max": max(vals),
                                               "n": len(vals)}
    return out


def markdown(report: dict) -> str:
    lines = ["| objective | captured, median | worst | loss, % of KPI (median / worst) | achievable, % of KPI (median) |",
             "|---|---|---|---|---|"]
    for name in OBJECTIVES:
        s = report["aggregate"][name]
        if not s["captured"]["n"]:
            continue
        lines.append(f"| {name} | {C.fmt(s['captured']['median'], '.2f')} | {C.fmt(s['captured']['worst'], '.2f')} | "
                     f"{C.fmt(s['loss_pct_of_kpi']['median'], '.3f')} / {C.fmt(s['loss_pct_of_kpi']['worst'], '.3f')} | "
                     f"{C.fmt(s['achievable_uplift_pct_of_kpi']['median'], '.2f')} |")
    for kind in ("kpi", "roi"):
        s = report["aggregate"].get(f"target {kind} delivered")
        if s is None:
            continue
        lines.append(f"| target {kind.upper()}: delivered in the truth (median, range) | {s['median']:.2f} | "
                     f"{s['min']:.2f}–{s['max']:.2f} | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="Explicitly requested dtype float64")  # the truth in float32
    args = parse_args(argv)
    designs = ["quick"] if args.quick else [d for d in args.designs.split(",") if d]
    unknown = set(designs) - set(DESIGNS) - ({"quick"} if args.quick else set())
    if unknown:
        print(f"unknown design(s) {sorted(unknown)}; choose from {', '.join(DESIGNS)}", file=sys.stderr)
        return 2
    seeds = [0] if args.quick else C.int_list(args.seeds)
    C.setup_cache()
    done = {}
    if args.resume and args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        done = {(p["design"], p["seed"]): p for p in old.get("panels", []) if old.get("quick") == args.quick}
    report = {"benchmark": "planning", "schema": C.SCHEMA_VERSION, "quick": args.quick,
              "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": C.machine_info(), "command": "benchmarks/planning.py" + (" --quick" if args.quick else ""),
              "settings": {"weeks": WEEKS, "objectives": OBJECTIVES, "config": "tests' small configuration"
                           if args.quick else "Config() defaults"},
              "designs": {"quick": QUICK_DESIGN} if args.quick else {d: DESIGNS[d] for d in designs}}
    if args.quick:
        report["warning"] = "--quick: tiny panels and 40-epoch fits, the figures mean nothing"
    panels = []
    for d in designs:
        for seed in seeds:
            if (d, seed) in done:
                panels.append(done[(d, seed)])
                continue
            print(f"[planning] {d} seed {seed} ...", flush=True)
            panels.append(run_panel(d, seed, args.quick))
            report["panels"] = panels
            report["aggregate"] = summarise(panels)
            C.write_json(args.out, report)
    report["panels"] = panels
    report["aggregate"] = summarise(panels)
    C.write_json(args.out, report)
    print(markdown(report))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

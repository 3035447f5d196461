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
* ``max_change 0.2``: per region and channel, every cell within ±20 % of the current plan;
* ``week 1x``: totals per week and channel (the flighting);
* ``week cap``: per week and channel, no week's total above the current plan's heaviest week;
* ``region ±25 %``: per region and channel, each region's total within ±25 % of its current one;
* ``from a flat plan``: a given plan (the window's channel totals spent flat over the weeks) as
  the start: totals per channel, each spread like that plan;
* ``region revenue``: per region and channel, maximising revenue: KPI × a value per unit of KPI
  that differs by region (lognormal, σ = 0.5, seeded), scored in true revenue.

For each, the truth's best plan under the same decision space and constraints (the same cells,
the same weekly and regional spread) is found by the same solver on the true KPI (float32; the
model's plan and the current plan among its starts, SLSQP up to 400 cells), and ``captured`` =
(true KPI of the model's plan − of the current plan) / (the truth's best − the current plan);
``loss_pct_of_kpi`` = (best − model's plan) / the window's true KPI.  The current plan: the spend
of the last 13 training weeks in the same cells, scaled to the budget (the given plan for ``from
a flat plan``).

Targets (the curves route, as ``optimize --target-kpi/--target-roi``): the KPI target is 90 % of
what the model says the window's spend adds; the ROI target the model's ROI at 1.5× that spend.
Each found plan is evaluated in the truth over the last 13 training weeks (the route's window):
``delivered`` = true KPI the plan adds ÷ the target (KPI), or true KPI per unit of spend ÷ the
target (ROI).

    .venv/bin/python benchmarks/planning.py --out benchmarks/recorded/planning.json

fits 6 panels (mixed, flighted, regional × seeds 0, 1; about an hour and a half on 2 cores).
``--quick``: one tiny panel, ``channel 1x``, ``region 1x`` and ``week cap`` only, no targets (the
smoke test).  ``--resume`` keeps the panels already in ``--out``; a panel there without some of
``--objectives`` is fitted again (the same fit: the JSON records whether its holdout metrics
match) and only the missing objectives run.
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
OBJECTIVES = ("channel 1x", "channel 1.5x", "region 1x", "fixed", "max_change 0.2", "week 1x", "week cap",
              "region ±25 %", "from a flat plan", "region revenue")
SLSQP_TRUTH_CELLS = 400
QUICK_OBJECTIVES = ("channel 1x", "region 1x", "week cap")


def parse_args(argv=None):
    p = C.base_parser("planning", __doc__.split("\n\n")[0])
    p.add_argument("--designs", default=",".join(PLAN_DESIGNS), help=f"comma-separated designs (default "
                                                                     f"{','.join(PLAN_DESIGNS)})")
    p.add_argument("--seeds", default="0,1", help="generator seeds (default 0,1)")
    p.add_argument("--resume", action="store_true", help="keep panels already in --out (run only their missing "
                                                        "objectives)")
    p.add_argument("--objectives", default=",".join(OBJECTIVES), help="comma-separated objectives (default: all)")
    p.add_argument("--markdown", type=Path, default=None, metavar="JSON",
                   help="print the docs block (docs/analysis.md, between the planning-benchmark markers) of an "
                        "earlier run's JSON and exit (fits nothing)")
    return p.parse_args(argv)


def _truth_value(data, result, start: int, weeks: int, shape, by: str, values=None):
    """``value(x [R', C]) -> scalar`` (JAX): the true KPI (× each region's ``values`` when given)
    over the observed cells of the plan's weeks when the plan's spend is ``shape · x`` there and
    every other week is as observed."""
    import jax.numpy as jnp
    import numpy as np

    from causalmmm_jax.analysis.planning import _expand
    from causalmmm_jax.data.synthetic import true_kpi

    base = np.asarray(data.truth.spend, np.float64)
    cells = np.asarray(result.panel.mask, np.float64)[:, start:start + weeks]
    if values is not None:
        cells = cells * np.asarray(values, np.float64)[:, None]
    shape_j = jnp.asarray(shape, jnp.float32)

    def value(x):
        spend = shape_j * _expand(x, by)
        grid = jnp.asarray(base, jnp.float32).at[:, start:start + weeks].set(spend)
        kpi = true_kpi(data, grid, xp=jnp)[:, start:start + weeks]
        return (kpi * jnp.asarray(cells, jnp.float32)).sum()

    return value


def _score(data, result, res, start: int, kw: dict, seed: int) -> dict:
    """Evaluate the model's plan ``res`` in the truth and find the truth's best plan in the same
    decision space (the same cells, spread and constraints)."""
    import jax.numpy as jnp
    import numpy as np

    from causalmmm_jax.analysis._bounds import cells_constraints, row_bounds
    from causalmmm_jax.analysis.planning import _cells, _shape_like, _solve
    from causalmmm_jax.analysis.plans import exposure_per_spend, kpi_values, plan_shape, window_spend

    by, weeks = res.by, res.weeks
    channels = list(result.panel.channels)
    hist_shape = plan_shape(result, weeks, "history", by)
    given = kw.get("plan")
    shape = hist_shape if given is None else _shape_like(given.spend, by, hist_shape)
    win = window_spend(result, weeks)
    table = {"region": res.by_region, "week": res.by_week}.get(by)
    if table is None:
        cells = np.array([res.current_allocation[c] for c in channels])[None, :]
        x_model = np.array([res.allocation[c] for c in channels])[None, :]
    else:
        cells = table["current_spend"].to_numpy().reshape(-1, len(channels))
        x_model = table["spend"].to_numpy().reshape(-1, len(channels))
    never = np.isnan(exposure_per_spend(result)).all(axis=0)
    lower, upper, g_lo, g_hi = cells_constraints(channels, cells.shape[0], res.budget, cells, kw.get("bounds"),
                                                 res.fixed, kw.get("max_change"), never)
    r_lo, r_hi = row_bounds(result, by, res.budget, lower, upper, g_lo, g_hi, kw.get("region_bounds"),
                            kw.get("week_bounds"), start, weeks)
    values = kpi_values(result, kw.get("kpi_value"))
    value = _truth_value(data, result, start, weeks, shape, by, values)
    v = lambda x: float(value(jnp.asarray(x, jnp.float32)))  # noqa: E731
    rng = np.random.default_rng(seed)
    starts = [x_model, upper * res.budget / max(upper.sum(), 1e-12)]
    starts += [rng.dirichlet(np.ones(cells.size)).reshape(cells.shape) * res.budget for _ in range(2)]
    best, _, _ = _solve(value, res.budget, cells, lower, upper, g_lo, g_hi, "multistart", 300, starts, r_lo, r_hi)
    if cells.size <= SLSQP_TRUTH_CELLS:
        alt, _, _ = _solve(value, res.budget, x_model, lower, upper, g_lo, g_hi, "slsqp", 300, (), r_lo, r_hi)
        best = alt if v(alt) > v(best) else best
    v_cur, v_plan, v_best = v(cells), v(x_model), v(best)
    if v_plan > v_best:
        v_best = v_plan
    window = float(_truth_value(data, result, start, weeks, hist_shape, by, values)(
        jnp.asarray(_cells(win, by), jnp.float32)))
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


def run_panel(design: str, seed: int, quick: bool, only=OBJECTIVES, old: dict | None = None) -> dict:
    """One panel: fit, then each objective in ``only`` (added to ``old``'s, a record of the same
    panel, when given)."""
    import numpy as np

    from causalmmm_jax.analysis.planning import optimize_plan
    from causalmmm_jax.analysis.plans import spread_plan, window_spend

    _, data, result, fit_s, _ = fit_generated(design, seed, quick)
    n = result.split.n_train
    weeks = result.panel.n_weeks - n
    assert weeks == (8 if quick else WEEKS)
    hist = float(data.truth.spend[:, n - weeks:n].sum())
    top = list(result.panel.channels)[int(data.truth.spend[:, n - weeks:n].sum(axis=(0, 1)).argmax())]
    win = window_spend(result, weeks)
    specs = {"channel 1x": dict(by="channel"), "channel 1.5x": dict(by="channel", budget=1.5 * hist),
             "region 1x": dict(by="region"), "fixed": dict(by="channel", fixed=[top]),
             "max_change 0.2": dict(by="region", max_change=0.2), "week 1x": dict(by="week"),
             "week cap": dict(by="week", week_bounds={"*": (None, float(win.sum(axis=(0, 2)).max()))}),
             "region ±25 %": dict(by="region", region_bounds={
                 str(r): (0.75 * t, 1.25 * t) for r, t in zip(result.panel.regions.tolist(), win.sum(axis=(1, 2)))}),
             "from a flat plan": dict(by="channel", plan=spread_plan(result, win.sum(axis=(0, 1)), weeks, start=n,
                                                                     pattern="flat")),
             "region revenue": dict(by="region", kpi_value=dict(zip(
                 [str(r) for r in result.panel.regions.tolist()],
                 np.random.default_rng([seed, 11]).lognormal(0.0, 0.5, result.panel.n_regions).round(3).tolist())))}
    specs = {k: v for k, v in specs.items() if k in only}
    if quick:  # the smoke test: one objective per decision shape
        specs = {k: specs[k] for k in QUICK_OBJECTIVES if k in specs}
    objectives = dict(old["objectives"]) if old else {}
    for name, spec in specs.items():
        t1 = time.perf_counter()
        budget = spec.pop("budget", None)
        given = spec.get("plan")
        res = optimize_plan(result, budget, weeks=None if given else weeks, start=None if given else n, **spec)
        plan_s = time.perf_counter() - t1
        settings = {k: (v if k != "plan" else "flat, the window's channel totals") for k, v in spec.items()}
        if "kpi_value" in settings:
            settings["kpi_value"] = "lognormal(0, 0.5) per region, seeded"
        objectives[name] = {**_score(data, result, res, n, spec, seed), "plan_seconds": plan_s, **settings}
        o = objectives[name]
        print(f"  {name}: captured {C.fmt(o['captured'], '.3f')}, loss {o['loss_pct_of_kpi']:.3f} % of KPI, "
              f"achievable {o['achievable_uplift_pct_of_kpi']:.2f} % ({plan_s:.0f} s)", flush=True)
    if old:
        holdout = {k: float(v) for k, v in result.metrics["holdout"].items() if isinstance(v, (int, float))}
        same = all(np.isclose(holdout[k], old["fit"]["holdout"][k], rtol=1e-6) for k in holdout
                   if isinstance(old["fit"]["holdout"].get(k), (int, float)))
        print(f"  refit for {', '.join(specs)}: holdout metrics {'equal' if same else 'DIFFER from'} the recorded fit's",
              flush=True)
        return {**old, "objectives": objectives, "refits": old.get("refits", []) + [
            {"objectives": list(specs), "fit_seconds": fit_s, "holdout_equal_to_recorded": bool(same),
             "holdout": holdout}]}
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
        s = report["aggregate"].get(name)
        if not s or not s["captured"]["n"]:
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


def _true_pct(o: dict) -> float | None:
    """The plan's true uplift over the current plan, % of the window's true KPI (None when the
    JSON cannot tell: nothing achievable)."""
    if not o["achievable_uplift_pct_of_kpi"]:
        return None
    window = 100.0 * o["achievable_uplift"] / o["achievable_uplift_pct_of_kpi"]
    return 100.0 * o["true_uplift_of_plan"] / window


def docs_block(report: dict) -> str:
    """The text docs/analysis.md quotes between its planning-benchmark markers, every figure from
    ``report`` (the JSON this script writes)."""
    import textwrap

    import numpy as np

    panels = report["panels"]
    n = len(panels)
    designs = ", ".join(dict.fromkeys(p["design"] for p in panels))
    seeds = ", ".join(str(s) for s in dict.fromkeys(p["seed"] for p in panels))
    out = [f"Scored against planted truth (`benchmarks/planning.py`, {n} panels: {designs} designs ×",
           f"seeds {seeds}; default fits, 13 held-out weeks planned with the plan route",
           "from the first held-out week, each plan's true KPI against the truth's best plan in the same decision",
           "space; `captured` = the plan's true uplift over the current plan ÷ the best plan's):", "",
           markdown(report), ""]
    if any("region revenue" in p["objectives"] for p in panels):
        out[-1:] = ["", "`region revenue`: loss and achievable in % of the window's true revenue (KPI × the region's "
                    "value).", ""]

    def versus(name: str, base: str = "channel 1x") -> str:
        pairs = [(_true_pct(p["objectives"][name]), _true_pct(p["objectives"][base])) for p in panels
                 if name in p["objectives"] and base in p["objectives"]]
        pairs = [pair for pair in pairs if None not in pair]
        if not pairs:
            return ""
        a, b = np.array(pairs).T
        return (f"their true uplift was at least that of the plan by channel on {int((a >= b - 1e-9).sum())} of "
                f"{len(pairs)} panels (median {np.median(a):.2f} % of the window's KPI against {np.median(b):.2f} %)")

    sentences = []
    if versus("region 1x"):
        sentences.append("By region the plans capture a smaller share of a larger achievable uplift: "
                         + versus("region 1x") + ".")
    if versus("week 1x"):
        sentences.append("By week (the flighting), " + versus("week 1x") + "; plans and truth count only the "
                         "plan's own weeks (there are no later weeks in the data), so part of that gain is carry-over "
                         "moved into the window by spending earlier: a plan for the future should weigh the weeks "
                         "after it (`tail_weeks`).")
    ch = sorted((p["objectives"]["channel 1x"]["captured"], p) for p in panels
                if p["objectives"].get("channel 1x", {}).get("captured") is not None)[:2]
    if ch:
        weak = []
        for cap, p in ch:
            o = p["objectives"]["channel 1x"]
            ratio = o["model_predicted_uplift"] / o["true_uplift_of_plan"] if o["true_uplift_of_plan"] else float("nan")
            weak.append(f"{p['design']} seed {p['seed']} ({cap:.2f} captured, the model predicted {ratio:.1f}× the "
                        "uplift its plan achieved)")
        sentences.append("The weakest panels per channel at today's budget: " + "; ".join(weak) + ".")
    agg = report["aggregate"]
    tk, tr = agg.get("target kpi delivered"), agg.get("target roi delivered")
    if tk and tr:
        sentences.append(f"Targets in the truth: the KPI target's plan delivered {tk['min']:.2f}–{tk['max']:.2f} of the "
                         f"target (median {tk['median']:.2f}), the ROI target's {tr['min']:.2f}–{tr['max']:.2f} (median "
                         f"{tr['median']:.2f}): as accurate as the model's response, no more.")
    refits = [r for p in panels for r in p.get("refits", [])]
    if refits:
        same = sum(r["holdout_equal_to_recorded"] for r in refits)
        gaps = [abs(r["holdout"]["r2"] - p["fit"]["holdout"]["r2"]) for p in panels for r in p.get("refits", [])
                if "holdout" in r]
        gap = f" (largest holdout R² difference {max(gaps):.4f})" if gaps else ""
        sentences.append(f"The objectives added later ({', '.join(dict.fromkeys(o for r in refits for o in r['objectives']))}) "
                         f"ran on refits of the recorded panels, each scored on its own refit; {same} of {len(refits)} "
                         f"refits reproduced the recorded holdout metrics exactly{gap}.")
    out += [textwrap.fill(" ".join(sentences), 100, break_on_hyphens=False), "", "```bash", ".venv/bin/python benchmarks/planning.py --out "
            "benchmarks/recorded/planning.json", "```"]
    return "\n".join(out)


def main(argv=None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="Explicitly requested dtype float64")  # the truth in float32
    args = parse_args(argv)
    if args.markdown is not None:
        print(docs_block(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return 0
    chosen = C.designs_and_seeds(args, DESIGNS)
    if chosen is None:
        return 2
    designs, seeds = chosen
    C.setup_cache()
    only = [o for o in args.objectives.split(",") if o]
    if args.quick:  # the smoke test runs these only
        only = [o for o in only if o in QUICK_OBJECTIVES]
    if set(only) - set(OBJECTIVES):
        print(f"unknown objective(s) {sorted(set(only) - set(OBJECTIVES))}; choose from {', '.join(OBJECTIVES)}",
              file=sys.stderr)
        return 2
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
            old = done.get((d, seed))
            missing = [o for o in only if o not in (old or {}).get("objectives", {})]
            if old and not missing:
                panels.append(old)
                continue
            print(f"[planning] {d} seed {seed} ...", flush=True)
            panels.append(run_panel(d, seed, args.quick, missing if old else only, old))
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

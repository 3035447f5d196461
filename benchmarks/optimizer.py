"""Budget optimisers on response-curve problems: how far each method's plan falls short of the best
plan any of them finds, over a family of generated curve sets.

    .venv/bin/python benchmarks/optimizer.py --out benchmarks/recorded/optimizer.json

Cases: seeds 0..N-1 (``--seeds``, default 8) × channels 3, 5, 8 × budget 0.5, 1, 2 × the current
spend, over a 26-week horizon.  Channel c's weekly response is Hill's ``top·x^s / (h^s + x^s)``
(what ``optimize --on curves`` maximises): slope ``s ~ U(0.8, 3)`` (S-shaped above 1, as the
curves fitted on planted-truth panels: 1.4–2.5 on the analysis tests' fit), half-saturation
``h ~ U(0.3, 3)`` × the channel's current weekly spend, ``top`` such that the channel's current
ROI is ``U(0.5, 5)``; current weekly spends ``U(0.2, 2)`` (arbitrary units).  Every method starts
from the current mix scaled to the budget, as ``optimize`` does (``multistart``, the curves'
default, adds its own seeded random starts).  The reference is the best plan of all methods and
of 48 further SLSQP runs from random starts (Dirichlet mixes drawn from another seed).

Per method: the shortfall ``1 − response / reference`` (median, 90th percentile, max), the share of
cases short by more than 0.1 %, and the median seconds per plan (2-core machine; one jitted
objective per case, each method's own compilation included).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

WEEKS = 26
CHANNELS = (3, 5, 8)
FACTORS = (0.5, 1.0, 2.0)
STARTS = 48


def make_case(seed: int, n: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, n])
    cur = rng.uniform(0.2, 2.0, n)
    slope = rng.uniform(0.8, 3.0, n)
    half = cur * rng.uniform(0.3, 3.0, n)
    roi = rng.uniform(0.5, 5.0, n)
    sat = cur**slope / (half**slope + cur**slope)
    top = roi * cur / sat  # ROI at the current spend = top·sat / cur
    params = pd.DataFrame({"channel": [f"ch{i}" for i in range(n)], "top": top, "bottom": 0.0,
                           "half_saturation": half, "slope": slope})
    return params, cur * WEEKS


def run_case(params, current, factor: float, seed: int, methods, starts: int = STARTS) -> dict:
    import numpy as np

    from causalmmm_jax.analysis.budget import _curves_response, _curves_total, maximize_allocation

    n = len(params)
    budget = float(current.sum() * factor)
    lower, upper = np.zeros(n), np.full(n, budget)
    args, resp_np = _curves_response(params, WEEKS)
    x0 = current * factor
    out = {}
    for m in methods:
        t0 = time.perf_counter()
        x, _, _ = maximize_allocation(_curves_total, budget, lower, upper, method=m, x0=x0, seed=seed, args=args)
        out[m] = {"response": float(resp_np(x).sum()), "seconds": time.perf_counter() - t0}
    rng = np.random.default_rng([seed, n, int(factor * 10), 7])  # not multistart's seeds
    best = max(v["response"] for v in out.values())
    for _ in range(starts):
        x, _, _ = maximize_allocation(_curves_total, budget, lower, upper, method="slsqp",
                                      x0=rng.dirichlet(np.ones(n)) * budget, args=args)
        best = max(best, float(resp_np(x).sum()))
    for v in out.values():
        v["shortfall"] = 1.0 - v["response"] / best
    return {"reference_response": best, "budget": budget, "methods": out}


def main(argv=None) -> int:
    p = C.base_parser("optimizer", __doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=8, help="generator seeds per (channels, budget) cell")
    args = p.parse_args(argv)
    import numpy as np

    from causalmmm_jax.analysis.budget import METHODS

    methods = [m for m in METHODS if m != "auto"]
    seeds = 1 if args.quick else args.seeds
    channels, factors = ((3,), (1.0,)) if args.quick else (CHANNELS, FACTORS)
    cases = []
    for seed in range(seeds):
        for n in channels:
            params, current = make_case(seed, n)
            for f in factors:
                r = run_case(params, current, f, seed, methods, 4 if args.quick else STARTS)
                cases.append({"seed": seed, "channels": n, "budget_factor": f, "slopes": params["slope"].tolist(), **r})
                print(f"seed {seed} channels {n} budget {f:g}x: "
                      + ", ".join(f"{m} {v['shortfall'] * 100:.3f} %" for m, v in r["methods"].items()), flush=True)
    summary = {}
    for m in methods:
        s = np.array([c["methods"][m]["shortfall"] for c in cases])
        summary[m] = {"shortfall_median": float(np.median(s)), "shortfall_p90": float(np.quantile(s, 0.9)),
                      "shortfall_max": float(s.max()), "share_short_over_0.1pct": float((s > 1e-3).mean()),
                      "seconds_median": C.median(c["methods"][m]["seconds"] for c in cases)}
    rows = [{"method": m, **v} for m, v in summary.items()]
    C.print_table(rows, [("method", "method", "s"), ("shortfall_median", "median short", ".2e"),
                         ("shortfall_p90", "p90 short", ".2e"), ("shortfall_max", "max short", ".2e"),
                         ("share_short_over_0.1pct", "share > 0.1 %", ".2f"), ("seconds_median", "s/plan", ".2f")],
                  title=f"optimisers over {len(cases)} curve problems (shortfall = 1 - response / best found)")
    C.write_json(args.out, {"benchmark": "optimizer", "schema": 1, "quick": bool(args.quick),
                            "command": "benchmarks/optimizer.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                            "weeks": WEEKS, "starts": 4 if args.quick else STARTS, "cases": cases, "summary": summary,
                            "machine": C.machine_info()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

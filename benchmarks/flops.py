#!/usr/bin/env python
"""Model FLOPs per epoch vs measured time, against the machine's float32 matmul rate.

1. Matmul rate: ``jnp.dot`` of two ``--matmul-n``² float32 matrices (jitted), best of
   ``--matmul-repeats`` timed calls → FLOP/s = 2n³ / seconds.
2. FLOPs of one training epoch (main phase, example CSV, hidden 280): the chunk program
   (``batched_runner``, ``--chunk-epochs`` epochs) is compiled, and XLA's
   ``compiled.cost_analysis()`` is recorded as is; the model FLOPs of one epoch are those of the
   step's loss and gradient (:func:`step_counts`; the chunk's jaxpr, whose ``cond`` branches
   cannot be told apart, is counted too, as an upper bound), traced to a jaxpr and counted by
   this script: ``dot_general`` = 2·|out|·|contracted|,
     elementwise/compare/select = 1 per output element, reductions = 1 per input element,
     transcendentals (exp, log, tanh, logistic, ...) counted separately, data movement 0;
     ``scan`` bodies × their length, ``cond`` = the costliest branch.

   XLA's cost analysis counts the body of a ``while`` loop once, not once per trip (the probe
   in ``xla_loop_probe`` shows it on a 10-step scan of matmuls); the chunk is a scan over epochs
   and the model scans over weeks (GRU, adstock), so XLA's number is far below the work done.
   The jaxpr count is therefore the model-FLOP figure used for utilisation; XLA's is kept for
   reference.  Both are pre-fusion counts (what the model asks for), not hardware counters.
3. Seconds per epoch: median over ``--chunks`` timed chunks after one warm-up chunk.
4. Per-stage profile (``model.stages``): the GRU forward and forward + backward, one coefficient
   head forward + backward, and the GRU's scanned cell split into its recurrent matmul
   ``[R, H] × [H, 3H]`` and the rest, each timed alone at the model's shapes.  It says where the
   time goes when utilisation is below target.

Utilisation = (FLOPs per epoch / seconds per epoch) / matmul FLOP/s, against the rate of the
operand type the model runs (``model.matmul_dtype`` as resolved here: bfloat16 operands with
float32 accumulation on CPUs with bfloat16 arithmetic); the float32 rate is recorded too.
Target ≥ 60 %.

    .venv/bin/python benchmarks/flops.py            # ≈ 1-2 min on 2 cores
    .venv/bin/python benchmarks/flops.py --quick    # seconds
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

TARGET_UTILISATION = 0.60

ARITH = {"add", "add_any", "sub", "mul", "div", "neg", "max", "min", "abs", "sign", "rem", "integer_pow", "square",
         "select_n", "clamp", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "xor", "floor", "ceil", "round",
         "is_finite", "nextafter", "reciprocal"}
TRANSCENDENTAL = {"exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos", "tan", "atan2", "asin",
                  "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "sqrt", "rsqrt", "cbrt", "pow", "erf",
                  "erfc", "erf_inv", "lgamma", "digamma"}
REDUCE = {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or", "argmax", "argmin",
          "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"}
MOVE = {"broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "slice", "dynamic_slice",
        "dynamic_update_slice", "concatenate", "pad", "gather", "convert_element_type", "iota", "copy", "copy_p", "rev",
        "stop_gradient", "random_bits", "random_seed", "random_wrap", "random_unwrap", "random_fold_in",
        "random_split", "threefry2x32", "shift_right_logical", "shift_left", "shift_right_arithmetic",
        "sharding_constraint", "device_put", "pvary", "bitcast_convert_type", "reduce_precision", "split",
        "optimization_barrier", "stack", "select_and_gather_add", "full_like", "empty"}


def _size(v) -> int:
    shape = getattr(getattr(v, "aval", None), "shape", ())
    return int(math.prod(shape)) if shape is not None else 1


def _inner(v):
    """The Jaxpr inside a param value (ClosedJaxpr or Jaxpr), else None."""
    if hasattr(v, "eqns"):
        return v
    j = getattr(v, "jaxpr", None)
    return j if hasattr(j, "eqns") else None


def count_jaxpr(jaxpr) -> Counter:
    """FLOP counts of a (Closed)Jaxpr: keys flops, matmul_flops, transcendentals, while_loops,
    plus ``uncounted:<primitive>`` occurrences of primitives this counter does not know."""
    jaxpr = _inner(jaxpr)
    c: Counter = Counter()
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        p = eqn.params
        out = sum(_size(v) for v in eqn.outvars)
        if name == "scan":
            sub = count_jaxpr(p["jaxpr"])
            for k, v in sub.items():
                c[k] += v * (p["length"] if not k.startswith(("uncounted:", "while_loops")) else 1)
        elif name == "while":
            c.update(count_jaxpr(p["body_jaxpr"]))
            c.update(count_jaxpr(p["cond_jaxpr"]))
            c["while_loops"] += 1
        elif name == "cond":
            subs = [count_jaxpr(b) for b in p["branches"]]
            c.update(max(subs, key=lambda s: s["flops"] + s["transcendentals"]))
        elif name == "dot_general":
            (lc, _rc), _ = p["dimension_numbers"]
            lhs_shape = eqn.invars[0].aval.shape
            f = 2 * out * int(math.prod(lhs_shape[d] for d in lc))
            c["flops"] += f
            c["matmul_flops"] += f
        elif name in ARITH:
            c["flops"] += out
        elif name in TRANSCENDENTAL:
            c["transcendentals"] += out
        elif name in REDUCE:
            c["flops"] += sum(_size(v) for v in eqn.invars)
        elif name in ("scatter-add", "scatter_add", "scatter"):
            c["flops"] += _size(eqn.invars[-1])
        elif name in MOVE:
            pass
        else:
            subs = [s for s in (_inner(v) for v in p.values()) if s is not None]
            subs += [s for v in p.values() if isinstance(v, (tuple, list)) for s in (_inner(x) for x in v)
                     if s is not None]
            if subs:
                for s in subs:
                    c.update(count_jaxpr(s))
            else:
                c[f"uncounted:{name}"] += 1
    return c


def step_counts(tr, states) -> Counter:
    """FLOPs of one training step's model work: the loss and its gradient (forward and backward
    through the model, dropout on), as the chunk runs it every epoch.  The chunk's own jaxpr
    counts every ``cond`` at its costliest branch, which would add the validation forward (run
    every ``eval_every`` epochs, and never in this script's fixed-epoch chunks) to every epoch;
    its count is kept as ``chunk_jaxpr_flops_per_epoch_upper_bound``."""
    import jax

    from causalmmm_jax.train.objective import objective

    hp = states.hyper
    key = jax.random.PRNGKey(0)

    def step(params):
        return jax.value_and_grad(objective, has_aux=True)(params, tr.data, tr.spec, hp, None,
                                                           key if tr.spec.config.dropout > 0 else None, hp.loss_mse)

    return count_jaxpr(jax.make_jaxpr(step)(states.params))


def parse_args(argv=None):
    p = C.base_parser("flops", __doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV,
                   help="example CSV (default ../shared/data/mmm_data.csv); a synthetic 190 x 109 panel "
                        "when missing (--quick: synthetic 5 x 70)")
    p.add_argument("--hidden", type=int, default=None, help="default 280 (--quick 8)")
    p.add_argument("--chunk-epochs", type=int, default=None, help="epochs per chunk (default 10; --quick 20)")
    p.add_argument("--chunks", type=int, default=None, help="timed chunks (default 3; --quick 2)")
    p.add_argument("--warmup-chunks", type=int, default=1, help="untimed chunks first (default 1)")
    p.add_argument("--matmul-n", type=int, default=None, help="matrix size (default 2048; --quick 256)")
    p.add_argument("--matmul-repeats", type=int, default=None, help="timed matmuls, best taken (default 10; --quick 3)")
    a = p.parse_args(argv)
    for name, full, quick in (("hidden", 280, 8), ("chunk_epochs", 10, 20), ("chunks", 3, 2), ("matmul_n", 2048, 256),
                              ("matmul_repeats", 10, 3)):
        if getattr(a, name) is None:
            setattr(a, name, quick if a.quick else full)
    return a


def matmul_rate(n: int, repeats: int, dtype: str = "float32") -> dict:
    """Best rate of an ``n``² matmul; ``dtype="bfloat16"``: bfloat16 operands, float32 accumulation
    (what ``model.matmul_dtype = "bfloat16"`` runs)."""
    import jax
    import jax.numpy as jnp

    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (n, n), jnp.float32).astype(dtype)
    b = jax.random.normal(kb, (n, n), jnp.float32).astype(dtype)
    f = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32)).lower(a, b).compile()
    jax.block_until_ready(f(a, b))  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(a, b))
        times.append(time.perf_counter() - t0)
    flops = 2.0 * n ** 3
    counted = count_jaxpr(jax.make_jaxpr(jnp.dot)(a, b))["flops"]
    return {"n": n, "dtype": dtype, "repeats": repeats, "best_seconds": min(times), "median_seconds": C.median(times),
            "flops": flops, "flops_per_second": flops / min(times),
            "flops_per_second_median": flops / C.median(times),
            "jaxpr_counter_flops": counted, "xla_cost_analysis_flops": C.cost_analysis(f).get("flops")}


def xla_loop_probe() -> dict:
    """XLA cost analysis of a scan of L matmuls (64²) for L = 1 and 10, vs the jaxpr counter."""
    import jax
    import jax.numpy as jnp

    x = jnp.ones((64, 64), jnp.float32)
    out = {}
    for length in (1, 10):
        def f(x, length=length):
            return jax.lax.scan(lambda c, _: (jnp.tanh(c @ c), None), x, None, length=length)[0]
        out[f"xla_flops_length_{length}"] = C.cost_analysis(jax.jit(f).lower(x).compile()).get("flops")
        out[f"jaxpr_flops_length_{length}"] = count_jaxpr(jax.make_jaxpr(f)(x))["flops"]
    x1, x10 = out["xla_flops_length_1"], out["xla_flops_length_10"]
    out["xla_counts_loop_body_once"] = bool(x1 and x10 and x10 < 2 * x1)
    return out


def _time(f, *a, repeats: int) -> float:
    """Median seconds of a jitted call (after one warm-up call)."""
    import jax

    f = jax.jit(f)
    jax.block_until_ready(f(*a))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*a))
        times.append(time.perf_counter() - t0)
    return C.median(times)


def stage_profile(tr, repeats: int) -> dict:
    """Where an epoch's time goes, from per-stage timings at the model's own shapes: the GRU
    (forward; forward + backward), one coefficient head (forward + backward), the scan's
    per-week work split into its recurrent matmul ``[R, H] × [H, 3H]`` and the rest (gates)."""
    import jax
    import jax.numpy as jnp

    from causalmmm_jax.model.network import CoefficientHead, TorchGRU, gru_step

    spec = tr.spec
    r, t = tr.data.target.shape
    h = spec.config.hidden_dim
    d_in = spec.n_channels + (spec.ctrl_hidden if spec.n_controls else 0)
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    x = jax.random.normal(k[0], (r, t, d_in), jnp.float32)
    gru = TorchGRU(h)
    pg = gru.init(k[1], x)
    hs = jax.random.normal(k[2], (r, t, h), jnp.float32)
    head = CoefficientHead(h, spec.n_channels)
    ph = head.init(k[3], hs)
    gru_sum = lambda p, x: gru.apply(p, x).sum()  # noqa: E731
    head_sum = lambda p, hs: head.apply(p, hs).sum()  # noqa: E731
    a = jnp.ones((r, h), jnp.float32)
    w = jnp.full((h, 3 * h), 0.01, jnp.float32)
    xi = jnp.ones((t, r, 3 * h), jnp.float32)

    b_hn = jnp.zeros((h,), jnp.float32)

    def cell_scan(xi, w):  # the GRU's per-week work with the input projection precomputed
        return jax.lax.scan(lambda hc, xt: (gru_step(hc, xt, w, b_hn), None), jnp.zeros((r, h), jnp.float32), xi)[0]

    out = {"shapes": {"regions": r, "weeks": t, "hidden": h, "gru_input": d_in},
           "gru_forward_seconds": _time(gru_sum, pg, x, repeats=repeats),
           "gru_forward_backward_seconds": _time(jax.grad(gru_sum), pg, x, repeats=repeats),
           "head_forward_backward_seconds": _time(jax.grad(head_sum, argnums=(0, 1)), ph, hs, repeats=repeats),
           "step_matmul_seconds": _time(jnp.dot, a, w, repeats=max(repeats, 50)),
           "cell_scan_forward_seconds": _time(cell_scan, xi, w, repeats=repeats)}
    out["step_matmul_flops_per_second"] = 2.0 * r * h * 3 * h / out["step_matmul_seconds"]
    out["scan_matmul_share_of_cell_scan"] = t * out["step_matmul_seconds"] / out["cell_scan_forward_seconds"]
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    import jax
    import numpy as np

    cache = C.setup_cache()
    print(f"[{time.strftime('%H:%M:%S')}] matmul {args.matmul_n}^2 x {args.matmul_repeats}", flush=True)
    mm32 = matmul_rate(args.matmul_n, args.matmul_repeats)
    probe = xla_loop_probe()

    panel, dinfo = C.data_panel(args.csv, (5, 70) if args.quick else None)
    L = args.chunk_epochs
    n_total = (args.warmup_chunks + args.chunks) * L
    cfg = C.make_config(hidden=args.hidden, epochs=n_total, warm_start_epochs=0)
    tr = C.prepare_training(panel, cfg)
    mm_dtype = tr.spec.config.matmul_dtype  # resolved for this machine ("auto" -> float32 or bfloat16)
    mm = mm32 if mm_dtype == "float32" else matmul_rate(args.matmul_n, args.matmul_repeats, mm_dtype)
    states = C.init_states(tr, tr.inits, n_epochs=n_total)
    print(f"[{time.strftime('%H:%M:%S')}] compile chunk ({L} epochs)", flush=True)
    compiled, compile_s, runner = C.compile_runner(tr, states, length=L)
    xla = C.cost_analysis(compiled)
    chunk_counts = count_jaxpr(jax.make_jaxpr(runner)(states, tr.data))
    counts = step_counts(tr, states)
    res = C.time_chunks(compiled, states, tr.data, length=L, warmup=args.warmup_chunks, timed=args.chunks)
    spe = res["seconds_per_epoch"]
    print(f"[{time.strftime('%H:%M:%S')}] per-stage profile", flush=True)
    stages = stage_profile(tr, 3 if args.quick else 10)
    flops_epoch = counts["flops"]
    mm_epoch = counts["matmul_flops"]
    achieved = flops_epoch / spe
    util = achieved / mm["flops_per_second"]
    model = {
        "chunk_epochs": L, "compile_seconds": compile_s, "seconds_per_epoch": spe,
        "seconds_per_epoch_chunks": res["seconds_per_epoch_chunks"],
        "flops_per_epoch": flops_epoch, "matmul_flops_per_epoch": mm_epoch,
        "transcendentals_per_epoch": counts["transcendentals"],
        "chunk_jaxpr_flops_per_epoch_upper_bound": chunk_counts["flops"] / L,
        "flops_per_second": achieved, "matmul_flops_per_second": mm_epoch / spe,
        "utilisation": util, "matmul_utilisation": (mm_epoch / spe) / mm["flops_per_second"],
        "uncounted_primitives": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("uncounted:")},
        "while_loops_counted_once": chunk_counts.get("while_loops", 0),
        "xla_cost_analysis_chunk": {k: float(v) for k, v in xla.items()
                                    if k in ("flops", "transcendentals", "bytes accessed", "optimal_seconds")},
        "xla_flops_per_epoch_as_reported": (float(xla["flops"]) / L) if "flops" in xla else None,
        "n_parameters": int(sum(np.size(x) for x in jax.tree_util.tree_leaves(tr.inits[0]))),
        "compiled_memory": C.compiled_memory(compiled),
        "stages": stages,
        "gru_share_of_epoch": stages["gru_forward_backward_seconds"] / spe,
    }
    payload = {"benchmark": "flops", "schema": C.SCHEMA_VERSION, "quick": args.quick,
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": C.machine_info(), "persistent_cache": cache,
               "data": {**dinfo, **C.panel_shape(panel)}, "config": {"hidden_dim": args.hidden},
               "matmul_dtype": mm_dtype, "matmul": mm, "matmul_float32": mm32, "xla_loop_probe": probe,
               "model": model | {"utilisation_of_float32_rate": achieved / mm32["flops_per_second"]},
               "targets": {"utilisation": C.target(util, TARGET_UTILISATION, args.quick, at_most=False)},
               "notes": ["flops_per_epoch: jaxpr count (scan bodies x length); XLA's cost analysis counts while-loop "
                         "bodies once (see xla_loop_probe), so xla_flops_per_epoch_as_reported undercounts.",
                         "matmul rate: best of the timed calls; utilisation = achieved model FLOP/s / matmul FLOP/s."]}
    if args.quick:
        payload["warning"] = "--quick: tiny sizes; timings are not measurements"
    C.write_json(args.out, payload)
    rows = [{"what": f"matmul {args.matmul_n}^2 f32", "gflop": mm32["flops"] / 1e9, "s": mm32["best_seconds"],
             "gflops": mm32["flops_per_second"] / 1e9, "util": None}]
    if mm is not mm32:
        rows.append({"what": f"matmul {args.matmul_n}^2 {mm_dtype}", "gflop": mm["flops"] / 1e9,
                     "s": mm["best_seconds"], "gflops": mm["flops_per_second"] / 1e9, "util": None})
    rows += [
            {"what": "model epoch (all ops)", "gflop": flops_epoch / 1e9, "s": spe, "gflops": achieved / 1e9,
             "util": 100 * util},
            {"what": "model epoch (matmuls)", "gflop": mm_epoch / 1e9, "s": spe, "gflops": mm_epoch / spe / 1e9,
             "util": 100 * model["matmul_utilisation"]}]
    C.print_table(rows, [("what", "", ""), ("gflop", "GFLOP", ".4g"), ("s", "seconds", ".4g"),
                         ("gflops", "GFLOP/s", ".4g"), ("util", "% of matmul", ".1f")],
                  title="flops" + (" (--quick)" if args.quick else ""))
    st = stages
    print(f"per stage: GRU forward {st['gru_forward_seconds']:.4g} s, forward+backward "
          f"{st['gru_forward_backward_seconds']:.4g} s ({100 * model['gru_share_of_epoch']:.0f} % of the epoch); "
          f"one coefficient head forward+backward {st['head_forward_backward_seconds']:.4g} s; per week the "
          f"recurrent matmul takes {1e3 * st['step_matmul_seconds']:.3g} ms "
          f"({st['step_matmul_flops_per_second'] / 1e9:.4g} GFLOP/s), "
          f"{100 * st['scan_matmul_share_of_cell_scan']:.0f} % of the scanned cell's time")
    print(f"utilisation {100 * util:.1f} % of the {mm_dtype} matmul rate (target >= {100 * TARGET_UTILISATION:.0f} %); "
          f"XLA cost analysis reports "
          f"{C.fmt(model['xla_flops_per_epoch_as_reported'], '.4g')} FLOP/epoch (loop bodies counted once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Cost per epoch vs panel size: regions x weeks, and the fitted log-log exponent.

For every (regions, weeks) pair a synthetic panel (``causalmmm_jax.data.synthetic.generate``,
13 channels, 7 controls) is trained with the default configuration (hidden 280, no warm start):
the main-phase chunk program is compiled ahead of time, one warm-up chunk runs untimed, then
``--chunks`` chunks of ``--chunk-epochs`` epochs are timed; seconds per epoch = median over
those chunks of chunk time / chunk length.

The exponent ``b`` of ``seconds/epoch ≈ a · (regions × training weeks)^b`` is the slope of a
least-squares line through (log cells, log seconds); also per axis (regions at fixed weeks,
weeks at fixed regions).  Target: b ≤ 1.05.

    .venv/bin/python benchmarks/scaling.py                    # 3 x 3 grid, ≈ 5-10 min on 2 cores
    .venv/bin/python benchmarks/scaling.py --quick            # seconds
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

TARGET_EXPONENT = 1.05


def parse_args(argv=None):
    p = C.base_parser("scaling", __doc__.split("\n\n")[0])
    p.add_argument("--regions", type=C.int_list, default=None, help="comma list (default 48,190,760; --quick 5,10)")
    p.add_argument("--weeks", type=C.int_list, default=None, help="comma list (default 52,109,208; --quick 70)")
    p.add_argument("--channels", type=int, default=None, help="default 13 (--quick 3)")
    p.add_argument("--controls", type=int, default=None, help="default 7 (--quick 1)")
    p.add_argument("--hidden", type=int, default=None, help="default 280 (--quick 8)")
    p.add_argument("--chunk-epochs", type=int, default=None, help="epochs per timed chunk (default 5; --quick 20)")
    p.add_argument("--chunks", type=int, default=None, help="timed chunks per size (default 3; --quick 2)")
    p.add_argument("--warmup-chunks", type=int, default=1, help="untimed chunks first (default 1)")
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed (default 0)")
    a = p.parse_args(argv)
    q = a.quick
    # --quick: the test suite's small panel shape (5 × 70 × 3 × 1) and one twice as wide
    for name, full, quick in (("regions", [48, 190, 760], [5, 10]), ("weeks", [52, 109, 208], [70]),
                              ("channels", 13, 3), ("controls", 7, 1), ("hidden", 280, 8), ("chunk_epochs", 5, 20),
                              ("chunks", 3, 2)):
        if getattr(a, name) is None:
            setattr(a, name, quick if q else full)
    return a


def measure(n_regions: int, n_weeks: int, args) -> dict:
    import jax

    t0 = time.perf_counter()
    panel = C.synthetic_panel(n_regions, n_weeks, args.channels, args.controls, seed=args.seed)
    gen_s = time.perf_counter() - t0
    n_total = (args.warmup_chunks + args.chunks) * args.chunk_epochs
    cfg = C.make_config(hidden=args.hidden, epochs=n_total, warm_start_epochs=0)
    t0 = time.perf_counter()
    tr = C.prepare_training(panel, cfg)
    jax.block_until_ready(tr.inits)
    prep_s = time.perf_counter() - t0
    states = C.init_states(tr, tr.inits, n_epochs=n_total)
    compiled, compile_s, _ = C.compile_runner(tr, states, length=args.chunk_epochs)
    res = C.time_chunks(compiled, states, tr.data, length=args.chunk_epochs, warmup=args.warmup_chunks,
                        timed=args.chunks)
    seq = tr.split.n_train + tr.prep.pad
    return {"regions": n_regions, "weeks": n_weeks, "train_weeks": tr.split.n_train, "sequence_weeks": seq,
            "cells": n_regions * seq, "generate_seconds": gen_s, "prepare_seconds": prep_s,
            "compile_seconds": compile_s, "seconds_per_epoch": res["seconds_per_epoch"],
            "seconds_per_epoch_chunks": res["seconds_per_epoch_chunks"],
            "microseconds_per_cell_epoch": 1e6 * res["seconds_per_epoch"] / (n_regions * seq),
            "compiled_memory": C.compiled_memory(compiled), "device_memory": C.device_memory_stats()}


def build_payload(args, rows: list, cache, machine: dict, complete: bool) -> dict:
    fit_all = C.loglog_fit([x["cells"] for x in rows], [x["seconds_per_epoch"] for x in rows])
    by_regions = {str(w): C.loglog_fit([x["regions"] for x in rows if x["weeks"] == w],
                                       [x["seconds_per_epoch"] for x in rows if x["weeks"] == w]) for w in args.weeks}
    by_weeks = {str(r): C.loglog_fit([x["sequence_weeks"] for x in rows if x["regions"] == r],
                                     [x["seconds_per_epoch"] for x in rows if x["regions"] == r]) for r in args.regions}
    exp = fit_all["exponent"] if fit_all else None
    payload = {"benchmark": "scaling", "schema": C.SCHEMA_VERSION, "quick": args.quick, "complete": complete,
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": machine, "persistent_cache": cache,
               "config": {"hidden_dim": args.hidden, "channels": args.channels, "controls": args.controls,
                          "warm_start_epochs": 0, "data": "synthetic generate(seed)"},
               "results": rows,
               "fit": {"cells": fit_all, "regions_at_fixed_weeks": by_regions, "weeks_at_fixed_regions": by_weeks,
                       "x": "regions x training-sequence weeks", "y": "median seconds per epoch"},
               "targets": {"exponent": C.target(exp, TARGET_EXPONENT, args.quick)}}
    if args.quick:
        payload["warning"] = "--quick: tiny sizes; timings are not measurements"
    return payload


def main(argv=None) -> int:
    args = parse_args(argv)
    cache = C.setup_cache()
    machine = C.machine_info()
    rows = []
    for w in args.weeks:
        for r in args.regions:
            print(f"[{time.strftime('%H:%M:%S')}] regions={r} weeks={w}", flush=True)
            rows.append(measure(r, w, args))
            # after every size, so that an interrupted run keeps what it measured
            C.write_json(args.out, build_payload(args, rows, cache, machine, complete=False))
    payload = build_payload(args, rows, cache, machine, complete=True)
    C.write_json(args.out, payload)
    fit_all, exp = payload["fit"]["cells"], payload["targets"]["exponent"]["value"]
    C.print_table(rows, [("regions", "regions", ""), ("weeks", "weeks", ""), ("cells", "cells", ""),
                         ("compile_seconds", "compile s", ".3g"), ("seconds_per_epoch", "s/epoch", ".4g"),
                         ("microseconds_per_cell_epoch", "us/cell-epoch", ".4g")],
                  title="scaling" + (" (--quick)" if args.quick else ""))
    print(f"exponent (s/epoch ~ cells^b): b = {C.fmt(exp, '.3f')} (target <= {TARGET_EXPONENT})"
          + (f", log-log R2 {fit_all['r2_loglog']:.3f}" if fit_all and fit_all.get("r2_loglog") is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

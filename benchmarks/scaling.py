#!/usr/bin/env python
"""Cost per epoch and memory vs panel size and device count: regions x weeks x devices, and the
fitted log-log exponent.

For every (regions, weeks) pair a synthetic panel (``causalmmm_jax.data.synthetic.generate``,
13 channels, 7 controls by default) is trained with the default configuration (hidden 280, no warm
start), its regions split over D devices (``--devices``; a ``1 x D`` mesh, masked padding regions,
as ``fit(..., devices=D)``): the main-phase chunk program is compiled ahead of time, one warm-up
chunk runs untimed, then ``--chunks`` chunks of ``--chunk-epochs`` epochs are timed; seconds per
epoch = median over those chunks of chunk time / chunk length.  Memory per device: XLA's memory
analysis of the chunk program (arguments + outputs + temporaries − aliased, per device); the
process's peak RSS is reported beside it (on forced host devices every device lives in the one
process, so RSS is the sum over devices).

Each device count runs in its own process (a count above the machine's devices uses forced host
devices, ``--xla_force_host_platform_device_count``, which share the CPU cores: on a CPU the
point is memory per device and equal results, not speed).

The exponent ``b`` of ``seconds/epoch ≈ a · (regions × training weeks)^b`` is the slope of a
least-squares line through (log cells, log seconds) at the smallest device count; also per axis
(regions at fixed weeks, weeks at fixed regions).  Target: b ≤ 1.05.

    .venv/bin/python benchmarks/scaling.py                    # 3 x 3 grid, 1 device, ≈ 5-10 min on 2 cores
    .venv/bin/python benchmarks/scaling.py --regions 190,750,3000 --weeks 104,156 --channels 20 \
        --devices 1,2,4 --chunk-epochs 2 --chunks 2 --out benchmarks/results/scaling_3000.json   # ≈ 40 min
    .venv/bin/python benchmarks/scaling.py --quick            # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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
    p.add_argument("--devices", type=C.int_list, default=None, help="comma list of device counts (default 1; "
                   "--quick 1,2); each runs in its own process, on forced host devices where needed")
    p.add_argument("--remat", action="store_true", help="model.remat: rematerialise the GRU cell in the backward pass")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    q = a.quick
    # --quick: the test suite's small panel shape (5 × 70 × 3 × 1) and one twice as wide
    for name, full, quick in (("regions", [48, 190, 760], [5, 10]), ("weeks", [52, 109, 208], [70]),
                              ("channels", 13, 3), ("controls", 7, 1), ("hidden", 280, 8), ("chunk_epochs", 5, 20),
                              ("chunks", 3, 2), ("devices", [1], [1, 2])):
        if getattr(a, name) is None:
            setattr(a, name, quick if q else full)
    return a


def measure(n_regions: int, n_weeks: int, args, n_devices: int) -> dict:
    import contextlib
    import dataclasses

    import jax

    from causalmmm_jax.train.phases import compile_phase, init_members, program_bytes
    from causalmmm_jax.train.sharding import layout_for, place_data

    t0 = time.perf_counter()
    panel = C.synthetic_panel(n_regions, n_weeks, args.channels, args.controls, seed=args.seed)
    gen_s = time.perf_counter() - t0
    n_total = (args.warmup_chunks + args.chunks) * args.chunk_epochs
    cfg = C.make_config(hidden=args.hidden, epochs=n_total, warm_start_epochs=0, model={"remat": args.remat})
    t0 = time.perf_counter()
    tr = C.prepare_training(panel, cfg)
    jax.block_until_ready(tr.inits)
    prep_s = time.perf_counter() - t0
    layout = layout_for(n_devices, 1, n_regions)
    phase = C.main_phase(tr, n_epochs=n_total, length=args.chunk_epochs)
    with jax.set_mesh(layout.mesh) if layout is not None else contextlib.nullcontext():
        # what fit does on D devices (train.phases.run_phases): padded, placed, the padded spec
        data = tr.data if layout is None else place_data(tr.data, layout)
        spec = tr.spec if layout is None else dataclasses.replace(tr.spec, n_regions=layout.n_padded)
        states = init_members(phase, tr.inits, tr.keys, layout=layout)
        compiled, compile_s = compile_phase(states, data, spec, phase, batched=False)
        res = C.time_chunks(compiled, states, data, length=args.chunk_epochs, warmup=args.warmup_chunks,
                            timed=args.chunks)
    seq = tr.split.n_train + tr.prep.pad
    return {"regions": n_regions, "weeks": n_weeks, "devices": n_devices, "channels": args.channels,
            "padded_regions": 0 if layout is None else layout.n_padded - n_regions,
            "train_weeks": tr.split.n_train, "sequence_weeks": seq,
            "cells": n_regions * seq, "generate_seconds": gen_s, "prepare_seconds": prep_s,
            "compile_seconds": compile_s, "seconds_per_epoch": res["seconds_per_epoch"],
            "seconds_per_epoch_chunks": res["seconds_per_epoch_chunks"],
            "microseconds_per_cell_epoch": 1e6 * res["seconds_per_epoch"] / (n_regions * seq),
            "device_memory_mib": program_bytes(compiled) / 2**20, "peak_rss_mib": C.peak_rss_mb(),
            "compiled_memory": C.compiled_memory(compiled), "device_memory": C.device_memory_stats()}


def build_payload(args, all_rows: list, cache, machine: dict, complete: bool) -> dict:
    d0 = min(args.devices)
    rows = [x for x in all_rows if x["devices"] == d0]  # the exponent at the smallest device count
    fit_all = C.loglog_fit([x["cells"] for x in rows], [x["seconds_per_epoch"] for x in rows])
    by_regions = {str(w): C.loglog_fit([x["regions"] for x in rows if x["weeks"] == w],
                                       [x["seconds_per_epoch"] for x in rows if x["weeks"] == w]) for w in args.weeks}
    by_weeks = {str(r): C.loglog_fit([x["sequence_weeks"] for x in rows if x["regions"] == r],
                                     [x["seconds_per_epoch"] for x in rows if x["regions"] == r]) for r in args.regions}
    by_devices = {f"{x['regions']}x{x['weeks']}": {str(y["devices"]): {
        "seconds_per_epoch": y["seconds_per_epoch"], "device_memory_mib": y["device_memory_mib"]}
        for y in all_rows if (y["regions"], y["weeks"]) == (x["regions"], x["weeks"])} for x in rows}
    exp = fit_all["exponent"] if fit_all else None
    payload = {"benchmark": "scaling", "schema": C.SCHEMA_VERSION, "quick": args.quick, "complete": complete,
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": machine, "persistent_cache": cache,
               "config": {"hidden_dim": args.hidden, "channels": args.channels, "controls": args.controls,
                          "warm_start_epochs": 0, "remat": args.remat, "data": "synthetic generate(seed)"},
               "results": all_rows, "by_devices": by_devices,
               "fit": {"cells": fit_all, "regions_at_fixed_weeks": by_regions, "weeks_at_fixed_regions": by_weeks,
                       "devices": d0, "x": "regions x training-sequence weeks", "y": "median seconds per epoch"},
               "targets": {"exponent": C.target(exp, TARGET_EXPONENT, args.quick)}}
    if args.quick:
        payload["warning"] = "--quick: tiny sizes; timings are not measurements"
    return payload


def child(args) -> int:
    """One device count (this process's devices): every size, rows appended to ``args.child``."""
    import jax

    n_dev = len(jax.devices())
    for w in args.weeks:
        for r in args.regions:
            print(f"[{time.strftime('%H:%M:%S')}] devices={n_dev} regions={r} weeks={w}", flush=True)
            row = measure(r, w, args, n_dev)
            with open(args.child, "a", encoding="utf-8") as f:
                f.write(json.dumps(C._jsonable(row)) + "\n")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args)
    cache = C.setup_cache()
    machine = C.machine_info()
    rows: list = []
    argv = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        for d in args.devices:
            part = Path(tmp) / f"rows_{d}.jsonl"
            flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split()
                             if not f.startswith("--xla_force_host_platform_device_count"))
            env = dict(os.environ, XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count={d}".strip())
            proc = subprocess.run([sys.executable, __file__, *argv, "--child", str(part)], env=env)
            if part.exists():
                rows += [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
            # after every device count, so that an interrupted run keeps what it measured
            C.write_json(args.out, build_payload(args, rows, cache, machine, complete=False))
            if proc.returncode:
                print(f"devices={d}: the worker failed (exit {proc.returncode})", file=sys.stderr)
                return proc.returncode
    payload = build_payload(args, rows, cache, machine, complete=True)
    C.write_json(args.out, payload)
    fit_all, exp = payload["fit"]["cells"], payload["targets"]["exponent"]["value"]
    C.print_table(rows, [("regions", "regions", ""), ("weeks", "weeks", ""), ("devices", "devices", ""),
                         ("cells", "cells", ""), ("compile_seconds", "compile s", ".3g"),
                         ("seconds_per_epoch", "s/epoch", ".4g"), ("microseconds_per_cell_epoch", "us/cell-epoch", ".4g"),
                         ("device_memory_mib", "MiB/device", ".5g"), ("peak_rss_mib", "RSS MiB", ".5g")],
                  title="scaling" + (" (--quick)" if args.quick else ""))
    print(f"exponent (s/epoch ~ cells^b, {payload['fit']['devices']} device(s)): b = {C.fmt(exp, '.3f')} "
          f"(target <= {TARGET_EXPONENT})"
          + (f", log-log R2 {fit_all['r2_loglog']:.3f}" if fit_all and fit_all.get("r2_loglog") is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

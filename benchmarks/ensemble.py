#!/usr/bin/env python
"""Ensembles: N seeds trained in one compiled program (``vmap`` over the seed axis).

For each N in ``--seeds`` (default 1, 4, 8, 16), in a fresh subprocess (so peak RSS is per N):
prepare the data and N data-driven initialisations, compile the main-phase chunk program
(``batched_runner``: plain for N = 1 as ``fit(seeds=1)``, vmapped for N > 1), run one untimed
warm-up chunk, then time ``--chunks`` chunks.  Reported per N: seconds per epoch (all N models),
seconds per epoch per model, the ratio to one seed, compile time, peak RSS, XLA's static memory
analysis of the program and, where the backend has them (GPU), JAX device memory statistics.

Target on CPU: 8 vmapped seeds ≤ 8.5 × the time of one seed.

    .venv/bin/python benchmarks/ensemble.py               # example CSV (190 x 109), ≈ 5-10 min on 2 cores
    .venv/bin/python benchmarks/ensemble.py --quick       # seconds
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

TARGET_RATIO_8 = 8.5


def parse_args(argv=None):
    p = C.base_parser("ensemble", __doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=C.int_list, default=None, help="ensemble sizes (default 1,4,8,16; --quick 1,2)")
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV,
                   help="example CSV (default ../shared/data/mmm_data.csv); a synthetic 190 x 109 panel "
                        "when missing (--quick: synthetic 5 x 70)")
    p.add_argument("--hidden", type=int, default=None, help="default 280 (--quick 8)")
    p.add_argument("--chunk-epochs", type=int, default=None, help="epochs per timed chunk (default 5; --quick 20)")
    p.add_argument("--chunks", type=int, default=None, help="timed chunks (default 3; --quick 2)")
    p.add_argument("--warmup-chunks", type=int, default=1, help="untimed chunks first (default 1)")
    p.add_argument("--in-process", action="store_true", help="no subprocesses (peak RSS then is cumulative)")
    p.add_argument("--worker", type=int, default=None, help=argparse_hidden())
    p.add_argument("--worker-out", type=Path, default=None, help=argparse_hidden())
    a = p.parse_args(argv)
    for name, full, quick in (("seeds", [1, 4, 8, 16], [1, 2]), ("hidden", 280, 8), ("chunk_epochs", 5, 20),
                              ("chunks", 3, 2)):
        if getattr(a, name) is None:
            setattr(a, name, quick if a.quick else full)
    return a


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def measure(n: int, args) -> dict:
    import jax

    cache = C.setup_cache()
    panel, dinfo = C.data_panel(args.csv, (5, 70) if args.quick else None)
    n_total = (args.warmup_chunks + args.chunks) * args.chunk_epochs
    cfg = C.make_config(hidden=args.hidden, epochs=n_total, warm_start_epochs=0)
    t0 = time.perf_counter()
    tr = C.prepare_training(panel, cfg, n_seeds=n)
    states = C.init_states(tr, tr.inits, n_epochs=n_total)
    jax.block_until_ready(states)
    prep_s = time.perf_counter() - t0
    rss_setup = C.peak_rss_mb()
    compiled, compile_s, _ = C.compile_runner(tr, states, length=args.chunk_epochs)
    res = C.time_chunks(compiled, states, tr.data, length=args.chunk_epochs, warmup=args.warmup_chunks,
                        timed=args.chunks)
    spe = res["seconds_per_epoch"]
    return {"seeds": n, "vmapped": n > 1, "data": {**dinfo, **C.panel_shape(panel)}, "persistent_cache": cache,
            "prepare_seconds": prep_s, "compile_seconds": compile_s, "seconds_per_epoch": spe,
            "seconds_per_epoch_per_model": spe / n, "seconds_per_epoch_chunks": res["seconds_per_epoch_chunks"],
            "peak_rss_mb": C.peak_rss_mb(), "peak_rss_after_setup_mb": rss_setup,
            "compiled_memory": C.compiled_memory(compiled), "device_memory": C.device_memory_stats()}


def build_payload(args, rows: list, errors: list, machine: dict, complete: bool) -> dict:
    one = next((r for r in rows if r["seeds"] == 1), None)
    for r in rows:
        r["ratio_to_one_seed"] = (r["seconds_per_epoch"] / one["seconds_per_epoch"]) if one else None
        r["efficiency"] = (r["seeds"] / r["ratio_to_one_seed"]) if r["ratio_to_one_seed"] else None
    r8 = next((r["ratio_to_one_seed"] for r in rows if r["seeds"] == 8), None)
    payload = {"benchmark": "ensemble", "schema": C.SCHEMA_VERSION, "quick": args.quick, "complete": complete,
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": machine, "config": {"hidden_dim": args.hidden, "warm_start_epochs": 0},
               "data": rows[0]["data"] if rows else None, "results": rows, "errors": errors,
               "targets": {"ratio_8_seeds": {**C.target(r8, TARGET_RATIO_8, args.quick),
                                             "applies_to": "cpu", "backend": machine.get("backend")}}}
    if args.quick:
        payload["warning"] = "--quick: tiny sizes; timings are not measurements"
    return payload


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker is not None:
        C.write_json(args.worker_out, measure(args.worker, args))
        return 0
    machine = C.machine_info()
    rows, errors = [], []
    with tempfile.TemporaryDirectory(prefix="causalmmm-ensemble-") as tmp:
        for n in args.seeds:
            print(f"[{time.strftime('%H:%M:%S')}] seeds={n}", flush=True)
            if args.in_process:
                rows.append(measure(n, args))
            else:
                out = Path(tmp) / f"seeds-{n}.json"
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv, "--worker", str(n),
                                       "--worker-out", str(out)], cwd=C.REPO_ROOT, env=env, capture_output=True,
                                      text=True)
                if proc.returncode != 0 or not out.exists():
                    errors.append({"seeds": n, "error": f"exit code {proc.returncode}",
                                   "stderr_tail": proc.stderr[-4000:]})
                else:
                    rows.append(json.loads(out.read_text(encoding="utf-8")))
            # after every size, so that an interrupted run keeps what it measured
            C.write_json(args.out, build_payload(args, rows, errors, machine, complete=False))
    payload = build_payload(args, rows, errors, machine, complete=True)
    C.write_json(args.out, payload)
    for r in rows:
        dm = r.get("device_memory") or []
        r["device_peak_mb"] = (max(d.get("peak_bytes_in_use", 0) for d in dm) / 2**20) if dm else None
        cm = r.get("compiled_memory") or {}
        r["temp_mb"] = cm.get("temp_size_in_bytes", 0) / 2**20 if cm else None
    C.print_table(rows, [("seeds", "seeds", ""), ("compile_seconds", "compile s", ".3g"),
                         ("seconds_per_epoch", "s/epoch", ".4g"),
                         ("seconds_per_epoch_per_model", "s/epoch/model", ".4g"),
                         ("ratio_to_one_seed", "x one seed", ".3g"), ("peak_rss_mb", "peak RSS MB", ".0f"),
                         ("temp_mb", "XLA temp MB", ".1f"), ("device_peak_mb", "device peak MB", ".1f")],
                  title="ensemble" + (" (--quick)" if args.quick else ""))
    print(f"8 seeds / 1 seed: {C.fmt(payload['targets']['ratio_8_seeds']['value'], '.3f')} "
          f"(target <= {TARGET_RATIO_8} on CPU)")
    for e in errors:
        print("worker error:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

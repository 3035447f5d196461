#!/usr/bin/env python
"""Where a default fit's memory goes: resident memory step by step, and the programs' device memory.

Each variant (``--remat`` off and on by default) runs in a fresh process: a default ``fit`` of the
example CSV (190 regions; the full default configuration with ``--epochs`` main-phase epochs and
early stopping off, so every variant runs the same epochs), sampling the process's resident set
(``VmRSS``) and its peak (``VmHWM``, from /proc) after importing JAX, after reading the CSV, after
each training chunk (the ``progress`` callback) and at the end.  The compiled programs' memory per
device (XLA's memory analysis: arguments + outputs + temporaries − aliased) comes from
``FitResult.timing`` (``<phase>_device_mb``).  The original's peak RSS on the same panel
(benchmarks/vs_original.py, RESULTS.md §1) is the comparison.

    .venv/bin/python benchmarks/memory.py --out benchmarks/results/memory.json     # ≈ 5 min on 2 cores
    .venv/bin/python benchmarks/memory.py --quick                                  # seconds
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


def parse_args(argv=None):
    p = C.base_parser("memory", __doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV, help="the example CSV (default ../shared/data)")
    p.add_argument("--epochs", type=int, default=None, help="main-phase epochs (default 100; --quick 5)")
    p.add_argument("--variants", default="plain,remat", help="comma list of plain, remat (default both)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.epochs is None:
        a.epochs = 5 if a.quick else 100
    return a


def _status_mib() -> dict:
    """Current and peak resident memory of this process (MiB), from /proc/self/status."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        out["VmHWM"] = C.peak_rss_mb()
    return out


def child(args, variant: str) -> dict:
    samples = [{"step": "python started", **_status_mib()}]
    import jax

    jax.devices()
    samples.append({"step": "jax imported, backend up", **_status_mib()})
    from causalmmm_jax.train.fit import fit

    if args.quick:
        panel = C.synthetic_panel(5, 70, 3, 1)
        cfg = C.make_config(hidden=8, epochs=args.epochs, data={"holdout_weeks": 8, "validation_weeks": 6,
                                                                 "min_train_weeks": 20},
                            train={"static_epochs": 20, "warm_start_epochs": 5, "chunk_epochs": 5,
                                   "early_stopping": False}, model={"remat": variant == "remat"})
    else:
        panel = C.load_csv_panel(args.csv)
        cfg = C.make_config(hidden=280, epochs=args.epochs, warm_start_epochs=50,
                            train={"early_stopping": False}, model={"remat": variant == "remat"})
    samples.append({"step": "panel read", **_status_mib()})

    def progress(phase, done, total, _m):
        samples.append({"step": f"{phase} epoch {done}", **_status_mib()})

    t0 = time.perf_counter()
    result = fit(panel, cfg, progress=progress)
    samples.append({"step": "fit done", **_status_mib()})
    t = result.timing
    return {"variant": variant, "remat": variant == "remat", "regions": panel.n_regions, "weeks": panel.n_weeks,
            "fit_seconds": time.perf_counter() - t0, "seconds_per_epoch": t["seconds_per_epoch"],
            "holdout_r2": result.metrics["holdout"]["r2"], "peak_rss_mib": samples[-1]["VmHWM"],
            "device_mib": {k[: -len("_device_mb")]: v for k, v in t.items() if k.endswith("_device_mb")},
            "samples": samples}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        variant, path = args.child.split(":", 1)
        Path(path).write_text(json.dumps(C._jsonable(child(args, variant))), encoding="utf-8")
        return 0
    machine = C.machine_info()
    rows, argv = [], list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        for v in args.variants.split(","):
            part = Path(tmp) / f"{v}.json"
            print(f"[{time.strftime('%H:%M:%S')}] {v}", flush=True)
            proc = subprocess.run([sys.executable, __file__, *argv, "--child", f"{v}:{part}"], env=dict(os.environ))
            if proc.returncode or not part.exists():
                print(f"{v}: the worker failed (exit {proc.returncode})", file=sys.stderr)
                return proc.returncode or 1
            rows.append(json.loads(part.read_text(encoding="utf-8")))
    payload = {"benchmark": "memory", "schema": C.SCHEMA_VERSION, "quick": args.quick, "complete": True,
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": machine, "results": rows}
    C.write_json(args.out, payload)
    C.print_table([{**r, **{f"dev_{k}": v for k, v in r["device_mib"].items()}} for r in rows],
                  [("variant", "variant", ""), ("peak_rss_mib", "peak RSS MiB", ".5g"),
                   ("dev_static", "pre-fit MiB/dev", ".4g"), ("dev_main", "main MiB/dev", ".4g"),
                   ("seconds_per_epoch", "s/epoch", ".4g"), ("holdout_r2", "holdout R2", ".4f")],
                  title="memory" + (" (--quick)" if args.quick else ""))
    for r in rows:
        print(f"{r['variant']}: " + "; ".join(f"{s['step']} {s.get('VmRSS', float('nan')):.0f}/{s['VmHWM']:.0f}"
                                              for s in r["samples"][:4] + r["samples"][-1:]) + " (RSS/peak MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

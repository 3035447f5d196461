#!/usr/bin/env python
"""Run the benchmark scripts one after another with presets for a device; one summary JSON.

    .venv/bin/python benchmarks/run_all.py --device gpu       # scaling, ensemble, flops on a GPU, < 5 min
    .venv/bin/python benchmarks/run_all.py --device cpu       # the same three with the full CPU settings
    .venv/bin/python benchmarks/run_all.py --quick            # all four with --quick (seconds each)

Each script writes its own JSON into ``--out-dir`` (default ``benchmarks/results/<device>/``);
``run_all.json`` there records what ran, return codes, durations and the headline figures.
``vs_original`` is included only with ``--with-original`` (CPU; ≈ 45 min at full size) or
``--quick``.  ``benchmarks/gpu.sh`` is a wrapper for ``--device gpu``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

# per-device presets: extra flags per script (scripts not listed are not run)
PRESETS = {
    "gpu": {
        "scaling": ["--chunk-epochs", "10", "--chunks", "3"],
        "ensemble": ["--chunk-epochs", "10", "--chunks", "3"],
        "flops": ["--chunk-epochs", "10", "--chunks", "5", "--matmul-n", "8192", "--matmul-repeats", "10"],
    },
    "cpu": {"scaling": [], "ensemble": [], "flops": []},
}
ORDER = ("flops", "ensemble", "scaling", "vs_original")


def headline(name: str, d: dict) -> str:
    try:
        if name == "scaling":
            return f"exponent {C.fmt(d['targets']['exponent']['value'], '.3f')} (<= 1.05)"
        if name == "ensemble":
            return f"8 seeds / 1 seed {C.fmt(d['targets']['ratio_8_seeds']['value'], '.2f')} (<= 8.5 on CPU)"
        if name == "flops":
            return (f"utilisation {C.fmt(100 * d['model']['utilisation'], '.1f')} % of "
                    f"{d['matmul']['flops_per_second'] / 1e9:.4g} GFLOP/s matmul (>= 60 %)")
        if name == "vs_original":
            t = d["summary"]["targets"]
            return (f"per-epoch ratio {C.fmt(t['per_epoch_ratio']['value'], '.3f')} (<= 0.5), time-to-quality ratio "
                    f"{C.fmt(t['time_to_quality_ratio']['value'], '.3f')} (<= 0.2)")
    except (KeyError, TypeError):
        pass
    return "-"


def backend(py: str) -> str:
    out = subprocess.run([py, "-c", "import jax; print(jax.default_backend())"], capture_output=True, text=True,
                         timeout=300)
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else "unknown"


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--quick", action="store_true", help="every script with --quick")
    p.add_argument("--out-dir", type=Path, default=None, help="default benchmarks/results/<device>[-quick]/")
    p.add_argument("--only", default=None, help="comma list of scripts (scaling,ensemble,flops,vs_original)")
    p.add_argument("--with-original", action="store_true", help="also run vs_original (full: ≈ 45 min on 2 cores)")
    p.add_argument("--allow-cpu", action="store_true", help="--device gpu: run even when JAX has no GPU")
    p.add_argument("--budget", type=float, default=None,
                   help="total seconds; a script that would start past it is skipped (default gpu 290, else none)")
    args = p.parse_args(argv)
    out_dir = args.out_dir or (C.RESULTS_DIR / (args.device + ("-quick" if args.quick else "")))
    budget = args.budget if args.budget is not None else (290.0 if args.device == "gpu" else None)
    py = sys.executable

    got = backend(py)
    print(f"JAX backend: {got}", flush=True)
    if args.device == "gpu" and got != "gpu" and not args.allow_cpu:
        print("no GPU visible to JAX (install jax[cuda12] or pass --allow-cpu)", file=sys.stderr)
        return 2

    names = [n for n in ORDER if n in PRESETS[args.device] or (n == "vs_original" and (args.with_original or
                                                                                       args.quick))]
    if args.only:
        want = set(args.only.split(","))
        names = [n for n in ORDER if n in want]
    t_begin = time.perf_counter()
    runs = []
    for name in names:
        elapsed = time.perf_counter() - t_begin
        if budget is not None and elapsed >= budget:
            runs.append({"script": name, "status": "skipped (budget)"})
            continue
        out = out_dir / f"{name}.json"
        flags = ["--quick"] if args.quick else list(PRESETS[args.device].get(name, []))
        cmd = [py, str(C.BENCH_DIR / f"{name}.py"), *flags, "--out", str(out)]
        print(f"[{time.strftime('%H:%M:%S')}] {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        timeout = None if budget is None else max(30.0, budget - elapsed)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        try:
            rc = subprocess.run(cmd, cwd=C.REPO_ROOT, env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        dt = time.perf_counter() - t0
        rec = {"script": name, "command": cmd, "returncode": rc, "seconds": dt, "json": str(out)}
        if out.exists():
            rec["headline"] = headline(name, json.loads(out.read_text(encoding="utf-8")))
        runs.append(rec)
    payload = {"benchmark": "run_all", "schema": C.SCHEMA_VERSION, "device": args.device, "quick": args.quick,
               "backend": got, "machine": C.machine_info(), "runs": runs,
               "total_seconds": time.perf_counter() - t_begin}
    C.write_json(out_dir / "run_all.json", payload)
    C.print_table(runs, [("script", "script", ""), ("returncode", "rc", ""), ("seconds", "seconds", ".1f"),
                         ("headline", "headline", "")], title=f"run_all --device {args.device}")
    return 0 if all(r.get("returncode") == 0 for r in runs if "returncode" in r) else 1


if __name__ == "__main__":
    sys.exit(main())

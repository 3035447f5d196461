#!/usr/bin/env python
"""causalmmm-jax vs the original DeepCausalMMM 1.0.21 on the example CSV, side by side.

Both are trained on the same data and split (last 13 of 109 weeks held out), hidden size 280,
the same number of warm-start and main epochs, each in its own subprocess (so peak RSS is its
own), one at a time and alternating: original, jax, original, jax, ... for ``--repeats``.

* original: ``benchmarks/_original_worker.py`` under the parity venv's python (torch CPU);
* causalmmm-jax: ``benchmarks/_jax_worker.py`` under this python; the main phase runs in chunks of
  ``--eval-every`` epochs and the holdout is scored after each chunk, which gives the time to
  reach the original's final pooled holdout R² (wall time since the start, compile included).

Then two compile-only jax runs with a fresh persistent compilation cache measure the cold and
the warm-cache compile time.

Reported (JSON ``summary``): median seconds per epoch, setup/compile time, peak RSS, holdout R² and
RMSE in original units after the same epochs, time to quality, and the targets.

Full run (≈ 35-45 min on an idle 2-core machine, the original ≈ 22 min of it)::

    .venv/bin/python benchmarks/vs_original.py --epochs 1500 --repeats 1

Without re-running the original's 1500 epochs, compare against its recorded figures::

    .venv/bin/python benchmarks/vs_original.py --epochs 1500 --skip-original \\
        --original-final-r2 0.978 --original-wall-seconds 1263 --original-seconds-per-epoch 0.668
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

TARGETS = {"per_epoch_ratio_max": 0.5, "time_to_quality_ratio_max": 0.2, "cold_compile_seconds_max": 20.0,
           "warm_cache_compile_seconds_max": 3.0}


def parse_args(argv=None):
    p = C.base_parser("vs_original", __doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=C.DEFAULT_CSV,
                   help="the example CSV (default ../shared/data/mmm_data.csv); when missing, a synthetic "
                        "panel in the same column format is written to a temporary CSV and used by both sides")
    p.add_argument("--epochs", type=int, default=None, help="main epochs for both (default 1500; --quick 40)")
    p.add_argument("--warm-start-epochs", type=int, default=None,
                   help="warm-start epochs for both (default 50; --quick 5)")
    p.add_argument("--hidden", type=int, default=None, help="hidden size for both (default 280; --quick 8)")
    p.add_argument("--regions", type=int, default=None, help="keep the first N regions (default all)")
    p.add_argument("--repeats", type=int, default=1, help="original/jax pairs, run alternately (default 1)")
    p.add_argument("--eval-every", type=int, default=None,
                   help="jax: epochs per chunk = holdout evaluation cadence for time to quality "
                        "(default 50; --quick 20)")
    p.add_argument("--seed", type=int, default=42, help="seed of both (default 42)")
    p.add_argument("--preset", default="default",
                   help="causalmmm-jax config preset: default | deepcausalmmm-1.0.21 (default: default)")
    p.add_argument("--skip-original", action="store_true", help="do not run the original")
    p.add_argument("--parity-python", type=Path, default=C.DEFAULT_PARITY_PYTHON,
                   help="python of the venv that holds deepcausalmmm==1.0.21 + torch "
                        "(default /work/parity-venv/bin/python or $CAUSALMMM_PARITY_PYTHON)")
    p.add_argument("--torch-threads", type=int, default=None, help="original: torch.set_num_threads")
    p.add_argument("--original-final-r2", type=float, default=None,
                   help="time-to-quality threshold: the original's pooled holdout R² from a previous run "
                        "(default: the final R² of the original run in the same repeat)")
    p.add_argument("--original-wall-seconds", type=float, default=None,
                   help="the original's wall time for that previous run (for the time-to-quality ratio)")
    p.add_argument("--original-seconds-per-epoch", type=float, default=None,
                   help="the original's median s/epoch from a previous run (used when the original is skipped)")
    p.add_argument("--compile-check", action=argparse.BooleanOptionalAction, default=True,
                   help="two compile-only jax runs with a fresh persistent cache: cold, then warm.  With --quick "
                        "and $CAUSALMMM_BENCH_CACHE_DIR set they use that cache (a smoke test, not cold).  Default: on")
    p.add_argument("--timeout", type=float, default=None, help="seconds per worker process (default: none)")
    args = p.parse_args(argv)
    q = args.quick
    # --quick: a synthetic 5 × 70 × 3 × 1 panel in the example CSV's format with the test suite's
    # small settings (hidden 8, 20-epoch chunks, 100 pre-fit epochs), so the smoke test loads the
    # suite's compiled programs
    for name, full, quick in (("epochs", 1500, 40), ("warm_start_epochs", 50, 5), ("hidden", 280, 8),
                              ("eval_every", 50, 20)):
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    return args


def synthetic_csv(path: Path, regions: int | None, quick: bool) -> Path:
    """A synthetic panel written in the example CSV's column format (dmacode, weekid, ...):
    190 (or ``regions``) × 109 × 13 × 7, or 5 × 70 × 3 × 1 with ``quick``."""
    from causalmmm_jax.data.synthetic import generate

    r, t, c, k = (5, 70, 3, 1) if quick else (regions or 190, 109, 13, 7)
    d = generate(0, n_regions=r, n_weeks=t, n_channels=c, n_controls=k, dates=False)
    m = d.mapping
    df = d.frame.rename(columns={m.region: "dmacode", m.time: "weekid", m.target: "target_visits"})
    df = df.drop(columns=list(m.spend or ()))
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def time_to_quality(traj: list[dict], threshold: float | None) -> dict:
    if threshold is None:
        return {"reached": None}
    for row in traj:
        if row["holdout_r2"] is not None and row["holdout_r2"] >= threshold:
            return {"reached": True, "epoch": row["epoch"], "seconds": row["elapsed_seconds"],
                    "train_seconds": row["elapsed_train_seconds"]}
    return {"reached": False, "epoch": None, "seconds": None, "train_seconds": None}


def summarise(args, orig_runs: list[dict], jax_runs: list[dict], compile_runs: dict) -> dict:
    ok_o = [r for r in orig_runs if "error" not in r]
    ok_j = [r for r in jax_runs if "error" not in r]
    med = C.median
    orig = None
    if ok_o:
        orig = {"runs": len(ok_o),
                "seconds_per_epoch_median": med(r["timing"]["seconds_per_epoch_median"] for r in ok_o),
                "setup_seconds": med(r["timing"]["setup_seconds"] for r in ok_o),
                "warm_start_seconds": med(r["timing"]["warm_start_seconds"] for r in ok_o),
                "main_seconds": med(r["timing"]["main_seconds"] for r in ok_o),
                "wall_seconds": med(r["timing"]["wall_seconds"] for r in ok_o),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in ok_o),
                "holdout_r2": med(r["metrics"]["holdout"]["r2"] for r in ok_o),
                "holdout_rmse": med(r["metrics"]["holdout"]["rmse"] for r in ok_o),
                "epochs": ok_o[0]["epochs"]}
    jx = None
    if ok_j:
        jx = {"runs": len(ok_j),
              "seconds_per_epoch_median": med(r["timing"]["seconds_per_epoch_median"] for r in ok_j),
              "compile_seconds": med(r["timing"]["compile_seconds"] for r in ok_j),
              "eval_compile_seconds": med(r["timing"]["eval_compile_seconds"] for r in ok_j),
              "setup_seconds": med(r["timing"]["prepare_seconds"] + r["timing"]["compile_seconds"]
                                   + r["timing"]["eval_compile_seconds"] for r in ok_j),
              "warm_start_seconds": med(r["timing"]["warm_seconds"] for r in ok_j),
              "main_seconds": med(r["timing"]["main_seconds"] for r in ok_j),
              "wall_seconds": med(r["timing"]["wall_seconds"] for r in ok_j),
              "peak_rss_mb": max(r["peak_rss_mb"] for r in ok_j),
              "holdout_r2": med(r["metrics"]["holdout"]["r2"] for r in ok_j),
              "holdout_rmse": med(r["metrics"]["holdout"]["rmse"] for r in ok_j),
              "epochs": ok_j[0]["timing"]["main_epochs"]}

    # time to quality: threshold = --original-final-r2, else the same repeat's original
    ttq_runs = []
    for i, r in enumerate(jax_runs):
        if "error" in r:
            continue
        o = orig_runs[i] if i < len(orig_runs) and "error" not in orig_runs[i] else None
        if args.original_final_r2 is not None:
            thr, src = args.original_final_r2, "--original-final-r2"
            wall = args.original_wall_seconds if args.original_wall_seconds is not None else (
                o["timing"]["wall_seconds"] if o is not None else None)
        elif o is not None:
            thr, src = o["metrics"]["holdout"]["r2"], f"original run of repeat {i}"
            wall = o["timing"]["wall_seconds"]
        else:
            thr, src, wall = None, None, None
        t = time_to_quality(r["trajectory"], thr)
        t.update({"repeat": i, "threshold_r2": thr, "threshold_source": src, "original_wall_seconds": wall,
                  "ratio_to_original_wall": (t["seconds"] / wall) if t.get("seconds") is not None and wall else None})
        ttq_runs.append(t)
    reached = [t for t in ttq_runs if t.get("reached")]
    ttq = {"runs": ttq_runs,
           "threshold_r2": ttq_runs[0]["threshold_r2"] if ttq_runs else args.original_final_r2,
           "seconds": med(t["seconds"] for t in reached) if reached else None,
           "epoch": med(t["epoch"] for t in reached) if reached else None,
           "ratio_to_original_wall": med(t["ratio_to_original_wall"] for t in reached) if reached else None,
           "reached_in": f"{len(reached)}/{len(ttq_runs)} runs"}

    o_spe = orig["seconds_per_epoch_median"] if orig else args.original_seconds_per_epoch
    j_spe = jx["seconds_per_epoch_median"] if jx else None
    ratio = (j_spe / o_spe) if (o_spe and j_spe) else None
    cold = compile_runs.get("cold", {}).get("timing", {}).get("compile_seconds")
    warm = compile_runs.get("warm", {}).get("timing", {}).get("compile_seconds")
    return {
        "original": orig, "jax": jx,
        "original_seconds_per_epoch_source": "this run" if orig else (
            "--original-seconds-per-epoch" if args.original_seconds_per_epoch else None),
        "per_epoch_ratio_jax_over_original": ratio,
        "per_epoch_speedup": (1.0 / ratio) if ratio else None,
        "time_to_quality": ttq,
        "compile_cache": {"cold_compile_seconds": cold, "warm_cache_compile_seconds": warm,
                          "cold_eval_compile_seconds": compile_runs.get("cold", {}).get("timing", {}).get(
                              "eval_compile_seconds"),
                          "warm_eval_compile_seconds": compile_runs.get("warm", {}).get("timing", {}).get(
                              "eval_compile_seconds")},
        "targets": {
            "per_epoch_ratio": C.target(ratio, TARGETS["per_epoch_ratio_max"], args.quick),
            "time_to_quality_ratio": C.target(ttq["ratio_to_original_wall"], TARGETS["time_to_quality_ratio_max"],
                                              args.quick),
            "cold_compile_seconds": C.target(cold, TARGETS["cold_compile_seconds_max"], args.quick),
            "warm_cache_compile_seconds": C.target(warm, TARGETS["warm_cache_compile_seconds_max"], args.quick),
        },
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="causalmmm-vs-original-"))
    notes = []
    try:
        csv = args.csv
        data_info = {"source": "csv", "path": str(csv)}
        if args.quick or not Path(csv).exists():
            csv = synthetic_csv(workdir / "synthetic.csv", args.regions, args.quick)
            why = "--quick" if args.quick else f"{args.csv} not found"
            data_info = {"source": "synthetic", "path": None, "note": f"{why}; synthetic panel "
                         "(generate(0)) written in the example CSV's column format"}
        run_original = not args.skip_original
        skip_reason = "--skip-original" if args.skip_original else None
        if run_original and not Path(args.parity_python).exists():
            run_original, skip_reason = False, f"{args.parity_python} not found"
        common = ["--csv", str(csv), "--epochs", str(args.epochs), "--warm-start-epochs", str(args.warm_start_epochs),
                  "--hidden", str(args.hidden), "--seed", str(args.seed)]
        if args.regions and not args.quick:
            common += ["--regions", str(args.regions)]
        cache = C.bench_cache_dir()
        jax_extra = ["--eval-every", str(args.eval_every), "--preset", args.preset] + (
            ["--static-epochs", "100"] if args.quick else [])
        jax_cmd = [sys.executable, str(C.BENCH_DIR / "_jax_worker.py"), *common, *jax_extra] + (
            ["--cache-dir", str(cache)] if cache else [])
        orig_cmd = [str(args.parity_python), str(C.BENCH_DIR / "_original_worker.py"), *common] + (
            ["--threads", str(args.torch_threads)] if args.torch_threads else [])

        orig_runs, jax_runs = [], []
        for i in range(args.repeats):
            if run_original:
                out = workdir / f"original-{i}.json"
                orig_runs.append(C.run_worker(orig_cmd + ["--out", str(out)], out, args.timeout,
                                              f"repeat {i + 1}/{args.repeats} original"))
            out = workdir / f"jax-{i}.json"
            jax_runs.append(C.run_worker(jax_cmd + ["--out", str(out)], out, args.timeout,
                                       f"repeat {i + 1}/{args.repeats} causalmmm-jax"))
        compile_runs = {}
        compile_cache_kind = None
        if args.compile_check:
            cdir = (cache if (args.quick and cache) else workdir / "xla-cache")
            compile_cache_kind = "bench cache ($CAUSALMMM_BENCH_CACHE_DIR; not cold)" if cdir == cache else "fresh"
            for kind in ("cold", "warm"):
                out = workdir / f"compile-{kind}.json"
                compile_runs[kind] = C.run_worker(
                    [sys.executable, str(C.BENCH_DIR / "_jax_worker.py"), *common, *jax_extra,
                     "--compile-only", "--cache-dir", str(cdir),
                     "--out", str(out)], out, args.timeout, f"compile {kind} cache")
        summary = summarise(args, orig_runs, jax_runs, compile_runs)
        summary["compile_cache"]["cache"] = compile_cache_kind
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    notes.append("Holdout metrics are pooled over region x holdout-week cells in original units. The original "
                 "scores every cell of its filled grid (missing target weeks forward/back-filled by its loader); "
                 "causalmmm-jax scores observed cells only (on the example CSV 39 of the 2,470 holdout cells are "
                 "missing: DMAs 509, 734 and 766 have no holdout weeks).")
    notes.append("Seconds per epoch: original = median over main epochs of the time between consecutive train_epoch "
                 "starts (includes its holdout evaluation every 10 epochs); causalmmm-jax = median over chunks of "
                 "chunk time / chunk length (holdout scoring between chunks excluded, counted in time to quality).")
    payload = {"benchmark": "vs_original", "schema": C.SCHEMA_VERSION, "quick": args.quick,
               "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": C.machine_info(), "data": data_info,
               "original_skipped": skip_reason, "targets": TARGETS, "summary": summary,
               "runs": {"original": orig_runs, "jax": jax_runs, "compile": compile_runs}, "notes": notes}
    if args.quick:
        payload["warning"] = "--quick: tiny sizes; timings are not measurements"
    C.write_json(args.out, payload)

    rows = []
    for name, s in (("original", summary["original"]), ("causalmmm-jax", summary["jax"])):
        if s:
            rows.append({"tool": name, "spe": s["seconds_per_epoch_median"],
                         "setup": s.get("setup_seconds"), "compile": s.get("compile_seconds"),
                         "warm": s["warm_start_seconds"], "wall": s["wall_seconds"], "rss": s["peak_rss_mb"],
                         "r2": s["holdout_r2"], "rmse": s["holdout_rmse"], "epochs": s["epochs"]})
    C.print_table(rows, [("tool", "tool", ""), ("epochs", "epochs", ""), ("spe", "s/epoch", ".4g"),
                         ("setup", "setup s", ".3g"), ("compile", "compile s", ".3g"), ("warm", "warm-start s", ".3g"),
                         ("wall", "wall s", ".4g"), ("rss", "peak RSS MB", ".0f"), ("r2", "holdout R2", ".4f"),
                         ("rmse", "holdout RMSE", ".6g")], title="vs_original" + (" (--quick)" if args.quick else ""))
    t = summary["targets"]
    ttq = summary["time_to_quality"]
    print(f"per-epoch ratio jax/original: {C.fmt(t['per_epoch_ratio']['value'], '.3f')} (target <= 0.5)")
    print(f"time to original's holdout R2 {C.fmt(ttq['threshold_r2'], '.4f')}: {C.fmt(ttq['seconds'], '.1f')} s "
          f"at epoch {C.fmt(ttq['epoch'])}, ratio to original wall {C.fmt(ttq['ratio_to_original_wall'], '.3f')} "
          f"(target <= 0.2; reached in {ttq['reached_in']})")
    cc = summary["compile_cache"]
    print(f"compile: cold {C.fmt(cc['cold_compile_seconds'], '.2f')} s (target <= 20), warm cache "
          f"{C.fmt(cc['warm_cache_compile_seconds'], '.2f')} s (target <= 3)")
    errors = [r for r in orig_runs + jax_runs + list(compile_runs.values()) if "error" in r]
    for e in errors:
        print("worker error:", e["error"], e.get("stderr_tail", "")[-1500:], file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Worker: train causalmmm-jax once on the example CSV and write a JSON report.

Started by ``benchmarks/vs_original.py`` (one process per run, so peak RSS is its own)::

    .venv/bin/python benchmarks/_jax_worker.py --csv ../shared/data/mmm_data.csv --epochs 1500 --out /tmp/jax.json

It performs the steps of ``causalmmm_jax.train.fit.fit`` (split with the last 12 % = 13 of 109
weeks held out, scaling, seasonality, data-driven init, warm start, main phase) with the package's
loop functions, but runs the main phase in chunks of ``--eval-every`` epochs and, after each
chunk, scores the holdout with one continuous forward over all weeks (the same pooled
original-unit metrics as ``fit(...).metrics["holdout"]``).  The trajectory (epoch, wall time since
the start, holdout R²/RMSE) lets the caller read off the time to any holdout quality.

``--compile-only`` compiles the warm, main and evaluation programs and stops (for cold/warm
persistent-cache compile times with ``--cache-dir``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

T_PROCESS = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--epochs", type=int, default=1500, help="main epochs")
    ap.add_argument("--warm-start-epochs", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=280)
    ap.add_argument("--regions", type=int, default=None, help="keep the first N regions (sorted ids)")
    ap.add_argument("--eval-every", type=int, default=50, help="epochs per chunk = holdout evaluation cadence")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--preset", default="default", help="causalmmm-jax config preset (default | deepcausalmmm-1.0.21)")
    ap.add_argument("--static-epochs", type=int, default=None,
                    help="structural pre-fit epochs (default: the preset's, 2000 by default)")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="enable JAX's persistent compilation cache in this folder (default: no persistent cache)")
    ap.add_argument("--compile-only", action="store_true")
    args = ap.parse_args(argv)

    import jax
    import numpy as np

    from causalmmm_jax.model.mmm import apply
    from causalmmm_jax.train.metrics import evaluate_block

    t_import = time.perf_counter() - T_PROCESS
    if args.cache_dir is not None:
        from causalmmm_jax._cache import enable_compilation_cache

        enable_compilation_cache(args.cache_dir)

    t0 = time.perf_counter()
    panel = C.load_csv_panel(args.csv, args.regions)
    load_seconds = time.perf_counter() - t0

    # ---- wall time starts here (as the original's worker: after loading the CSV)
    t_start = time.perf_counter()
    K = max(1, min(args.eval_every, max(args.epochs, 1)))
    # chunks of K epochs in every phase (the pre-fit included, as fit runs it with chunk_epochs = K)
    cfg = C.make_config(hidden=args.hidden, epochs=args.epochs, warm_start_epochs=args.warm_start_epochs,
                        seed=args.seed, preset=args.preset,
                        train={"chunk_epochs": K, **({} if args.static_epochs is None
                                                     else {"static_epochs": args.static_epochs})})
    tr = C.prepare_training(panel, cfg)
    jax.block_until_ready(tr.inits)
    t_prep = time.perf_counter()
    timing: dict = {"import_seconds": t_import, "load_seconds": load_seconds, "prepare_seconds": t_prep - t_start}
    W, N = args.warm_start_epochs, args.epochs

    # structural pre-fit (as fit; 0 epochs under the parity preset), then the warm start: one chunk of W epochs
    params = C.run_static_phase(tr, timing, compile_only=args.compile_only)
    timing["warm_compile_seconds"] = 0.0
    timing["warm_seconds"] = 0.0
    if W > 0:
        states = C.init_states(tr, params, warm=True, fold=1)
        # the warm start runs the main phase's program (as fit): same chunk length
        comp_w, timing["warm_compile_seconds"], _ = C.compile_runner(tr, states, length=K)
        if not args.compile_only:
            for _ in range(math.ceil(W / K)):
                states, _, dt = C.run_chunk(comp_w, states, tr.data)
                timing["warm_seconds"] += dt
            params = C.unstack(tr, states.params)
    states = C.init_states(tr, params, warm=False, fold=2)
    comp_m, timing["main_compile_seconds"], _ = C.compile_runner(tr, states, length=K)

    pad, prep, spec = tr.prep.pad, tr.prep, tr.spec
    t0 = time.perf_counter()
    comp_e = jax.jit(lambda p: apply(p, prep.inputs, spec).prediction).lower(states.params).compile()
    timing["eval_compile_seconds"] = time.perf_counter() - t0
    timing["compile_seconds"] = (timing["warm_compile_seconds"] + timing["main_compile_seconds"]
                                 + timing["static_compile_seconds"])

    def header() -> dict:
        return {"tool": "causalmmm-jax",
                "data": {**C.panel_shape(panel), "path": str(Path(args.csv).resolve()), "regions_kept": args.regions},
                "config": {"preset": args.preset, "hidden_dim": args.hidden, "epochs": N, "warm_start_epochs": W,
                           "static_epochs": cfg.train.static_epochs,
                           "eval_every": K, "seed": args.seed, "pad_weeks": cfg.data.pad_weeks},
                "split": tr.split.to_dict(), "cache_dir": str(args.cache_dir) if args.cache_dir else None,
                "n_parameters": int(sum(np.size(x) for x in jax.tree_util.tree_leaves(tr.inits[0])))}

    if args.compile_only:
        out = header()
        out["compile_only"] = True
        out["timing"] = timing
        out["peak_rss_mb"] = C.peak_rss_mb()
        out["machine"] = C.machine_info()
        C.write_json(args.out, out)
        return 0

    y, mask, tm = panel.target, panel.mask, tr.scaler.target_mean
    hold_cells, train_cells = tr.split.holdout_mask(mask), tr.split.train_mask(mask)

    def predict(p):
        return np.asarray(comp_e(p), dtype=np.float64)[:, pad:] * np.asarray(tm, np.float64)[:, None]

    traj, per_epoch, eval_time, main_time = [], [], 0.0, 0.0
    n_chunks = math.ceil(N / K) if N > 0 else 0
    for _ in range(n_chunks):
        before = int(np.asarray(states.epoch))
        states, m, dt = C.run_chunk(comp_m, states, tr.data)
        main_time += dt
        per_epoch.append(dt / max(int(np.asarray(states.epoch)) - before, 1))  # epochs past N are skipped
        t_ev = time.perf_counter()
        hold = evaluate_block(y, predict(states.params), hold_cells, tm)
        eval_time += time.perf_counter() - t_ev
        now = time.perf_counter()
        traj.append({"epoch": int(np.asarray(states.epoch)), "elapsed_seconds": now - t_start,
                     "elapsed_train_seconds": (now - t_start) - eval_time, "holdout_r2": hold["r2"],
                     "holdout_rmse": hold["rmse"], "loss": float(np.nanmean(np.asarray(m["loss"])))})
        if bool(np.asarray(states.stopped)):
            break
    pred = predict(states.params)
    metrics = {"holdout": evaluate_block(y, pred, hold_cells, tm), "train": evaluate_block(y, pred, train_cells, tm)}
    t_end = time.perf_counter()
    timing.update({"main_seconds": main_time, "eval_seconds": eval_time, "main_epochs": int(np.asarray(states.epoch)),
                   "wall_seconds": t_end - t_start,
                   "seconds_per_epoch_median": C.median(per_epoch),
                   "seconds_per_epoch_mean": (main_time / max(int(np.asarray(states.epoch)), 1)) if per_epoch else None,
                   "epoch_seconds_per_chunk": per_epoch})
    out = header()
    out.update({"machine": C.machine_info(), "timing": timing, "metrics": metrics, "trajectory": traj,
                "nonfinite": bool(np.asarray(states.nonfinite)), "peak_rss_mb": C.peak_rss_mb()})
    C.write_json(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

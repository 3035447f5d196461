#!/usr/bin/env python
"""Worker: train causalmmm-jax once on the example CSV and write a JSON report.

Started by ``benchmarks/vs_original.py`` (one process per run, so peak RSS is its own)::

    .venv/bin/python benchmarks/_jax_worker.py --csv ../shared/data/mmm_data.csv --epochs 1500 --out /tmp/jax.json

It performs the steps of ``causalmmm_jax.train.fit.fit`` (split with the last 12 % = 13 of 109
weeks held out, scaling, seasonality, data-driven init, then the structural pre-fit, warm start and
main phase through the package's phase runner, ``causalmmm_jax.train.phases.run_phases``), but
runs the main phase in chunks of ``--eval-every`` epochs and, after each chunk, scores the holdout with one continuous forward over all weeks (the same pooled
original-unit metrics as ``fit(...).metrics["holdout"]``).  The trajectory (epoch, wall time since
the start, holdout R²/RMSE) lets the caller read off the time to any holdout quality.

``--compile-only`` compiles the warm, main and evaluation programs and stops (for cold/warm
persistent-cache compile times with ``--cache-dir``).
"""

from __future__ import annotations

import argparse
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
    from causalmmm_jax.train.phases import compile_phase, default_phases, init_members, run_phases
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
    # fit's phases (structural pre-fit: 0 epochs under the parity preset; warm start; main phase without
    # early stopping: a fixed epoch count), run by the package's phase runner as fit runs them
    phases = default_phases(cfg, early_stop=False)
    for name in ("static", "warm", "main"):
        timing[f"{name}_compile_seconds"] = timing[f"{name}_seconds"] = 0.0

    pad, prep, spec = tr.prep.pad, tr.prep, tr.spec
    t0 = time.perf_counter()
    comp_e = jax.jit(lambda p: apply(p, prep.inputs, spec).prediction).lower(tr.inits[0]).compile()
    timing["eval_compile_seconds"] = time.perf_counter() - t0

    def header() -> dict:
        return {"tool": "causalmmm-jax",
                "data": {**C.panel_shape(panel), "path": str(Path(args.csv).resolve()), "regions_kept": args.regions},
                "config": {"preset": args.preset, "hidden_dim": args.hidden, "epochs": N, "warm_start_epochs": W,
                           "static_epochs": cfg.train.static_epochs,
                           "eval_every": K, "seed": args.seed, "pad_weeks": cfg.data.pad_weeks},
                "split": tr.split.to_dict(), "cache_dir": str(args.cache_dir) if args.cache_dir else None,
                "n_parameters": int(sum(np.size(x) for x in jax.tree_util.tree_leaves(tr.inits[0])))}

    if args.compile_only:
        for phase in phases:
            if phase.n_epochs > 0 or phase.name == "main":
                states = init_members(phase, tr.inits, tr.keys)
                _, timing[f"{phase.name}_compile_seconds"] = compile_phase(states, tr.data, spec, phase, batched=False)
        timing["compile_seconds"] = sum(timing[f"{n}_compile_seconds"] for n in ("static", "warm", "main"))
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

    traj, eval_time = [], [0.0]

    def on_chunk(phase, states, m):  # after each main-phase chunk: score the holdout (not timed as training)
        if phase.name != "main":
            return False
        t_ev = time.perf_counter()
        hold = evaluate_block(y, predict(states.params), hold_cells, tm)
        eval_time[0] += time.perf_counter() - t_ev
        now = time.perf_counter()
        traj.append({"epoch": int(np.asarray(states.epoch)), "elapsed_seconds": now - t_start,
                     "elapsed_train_seconds": (now - t_start) - eval_time[0], "holdout_r2": hold["r2"],
                     "holdout_rmse": hold["rmse"], "loss": float(np.nanmean(np.asarray(m["loss"])))})
        return False

    run = run_phases(tr.inits, tr.keys, tr.data, spec, phases, on_chunk=on_chunk)
    states = run.states
    timing.update(run.timing)
    timing["compile_seconds"] = sum(timing[f"{n}_compile_seconds"] for n in ("static", "warm", "main"))
    main = run.runs["main"]
    per_epoch = [dt / max(n, 1) for dt, n in zip(main.chunk_seconds, main.chunk_epochs)]  # epochs past N: skipped
    main_time = main.seconds
    pred = predict(states.params)
    metrics = {"holdout": evaluate_block(y, pred, hold_cells, tm), "train": evaluate_block(y, pred, train_cells, tm)}
    t_end = time.perf_counter()
    timing.update({"main_seconds": main_time, "eval_seconds": eval_time[0], "main_epochs": int(np.asarray(states.epoch)),
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

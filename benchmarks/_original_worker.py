#!/usr/bin/env python
"""Worker: train the ORIGINAL DeepCausalMMM 1.0.21 once and write a JSON report.

Runs under the parity venv (python 3.11, torch CPU, deepcausalmmm==1.0.21, numpy<2), never under
causalmmm-jax's venv; ``benchmarks/vs_original.py`` starts it as a subprocess::

    /work/parity-venv/bin/python benchmarks/_original_worker.py --csv ../shared/data/mmm_data.csv \
        --epochs 1500 --out /tmp/orig.json

Steps (the original's live path, behaviour spec §1.2 and §3):

1. load the CSV like the original's example loader ``load_real_mmm_data``: full grid of sorted
   regions × sorted weeks, missing media → 0, missing controls/target → per-region forward fill
   then back fill, then the column mean;
2. ``UnifiedDataPipeline.temporal_split`` (holdout_ratio 0.12 → the last 13 of 109 weeks),
   ``fit_and_transform_training``, ``transform_holdout``;
3. ``ModelTrainer.create_model`` / ``create_optimizer_and_scheduler`` / ``train`` with the default
   config (hidden 280, 50 warm-start epochs, ``n_epochs`` = ``--epochs``), seeds 42;
4. the final metrics are the trainer's own final evaluation (original units, pooled over every
   region × holdout week after the burn-in trim).

Timing: ``train_epoch`` and ``evaluate_holdout`` are wrapped to record wall-clock stamps;
seconds per main epoch are the differences between consecutive ``train_epoch`` starts (so an
epoch includes the loop's holdout evaluation every 10 epochs, scheduler step and bookkeeping).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import logging
import os
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

T_PROCESS = time.perf_counter()


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0


def load_like_original(path: str, regions: int | None):
    """The example loader's procedure (behaviour spec §1.1) → float32 arrays + names."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path)
    media_cols = [c for c in df.columns if "impressions_" in c]
    ctrl_cols = [c for c in df.columns if c.startswith("control_")]
    region_ids = sorted(df["dmacode"].unique())
    if regions is not None:
        region_ids = region_ids[:regions]
        df = df[df["dmacode"].isin(region_ids)]
    weeks = sorted(df["weekid"].unique())
    grid = pd.MultiIndex.from_product([region_ids, weeks], names=["dmacode", "weekid"]).to_frame(index=False)
    full = grid.merge(df, on=["dmacode", "weekid"], how="left")
    n_missing = int(full["target_visits"].isna().sum())
    full[media_cols] = full[media_cols].fillna(0.0)
    fill = ctrl_cols + ["target_visits"]
    full[fill] = full.groupby("dmacode")[fill].transform(lambda s: s.ffill().bfill())
    full[fill] = full[fill].fillna(full[fill].mean())
    R, T = len(region_ids), len(weeks)
    xm = full[media_cols].to_numpy(np.float32).reshape(R, T, len(media_cols))
    xc = full[ctrl_cols].to_numpy(np.float32).reshape(R, T, len(ctrl_cols))
    y = full["target_visits"].to_numpy(np.float32).reshape(R, T)
    return xm, xc, y, {"regions": R, "weeks": T, "channels": len(media_cols), "controls": len(ctrl_cols),
                       "filled_cells": n_missing}, (media_cols, ctrl_cols)


def media_shares(pipeline, model, xm, xc, names, n_train: int) -> dict:
    """Each channel's share of the media contribution over the training weeks, by the original's
    canonical recipe (behaviour spec §5.1): one forward over the full padded sequence
    (``predict_and_postprocess``), padding stripped, contributions × ȳ_r (the common prediction
    scale cancels in a share)."""
    pp = pipeline.predict_and_postprocess(model, xm, xc, list(names[0]), list(names[1]))
    mc = pp["media_contributions"].detach().cpu().numpy().astype("float64")   # [R, T, C], scaled
    ymean = pipeline.get_scaler().scaling_constants["y_mean_per_region"].detach().cpu().numpy()  # [R, 1]
    total = (mc[:, :n_train] * ymean[..., None].astype("float64")).sum(axis=(0, 1))
    return {c: float(v / total.sum()) for c, v in zip(names[0], total)}


def build_original(xm, xc, y, seed: int, overrides: dict):
    """The original's default configuration (with ``overrides``), seeded: its pipeline's train /
    holdout split and transforms, trainer, model, optimiser and scheduler, as its own
    ``train_model`` builds them.  Returns ``(config, pipeline, (train, holdout) split, (train,
    holdout) transformed, trainer, model)``."""
    import numpy as np
    import torch
    from deepcausalmmm.core.config import get_default_config
    from deepcausalmmm.core.data import UnifiedDataPipeline
    from deepcausalmmm.core.trainer import ModelTrainer

    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    config = get_default_config()
    config.update(overrides)
    pipeline = UnifiedDataPipeline(config)
    train_d, hold_d = pipeline.temporal_split(xm, xc, y)
    tr = pipeline.fit_and_transform_training(train_d)
    ho = pipeline.transform_holdout(hold_d)
    trainer = ModelTrainer(config)
    model = trainer.create_model(xm.shape[2], xc.shape[2], xm.shape[0])
    trainer.create_optimizer_and_scheduler()
    return config, pipeline, (train_d, hold_d), (tr, ho), trainer, model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=1500, help="main epochs (config n_epochs)")
    ap.add_argument("--warm-start-epochs", type=int, default=None, help="default: the config's (50)")
    ap.add_argument("--hidden", type=int, default=280)
    ap.add_argument("--regions", type=int, default=None, help="keep the first N regions (sorted ids)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    logging.disable(logging.WARNING)
    # imported before the clock starts (build_original's imports are then free): import time is t_import
    import deepcausalmmm.core.config  # noqa: F401
    import deepcausalmmm.core.data  # noqa: F401
    import deepcausalmmm.core.trainer  # noqa: F401

    if args.threads:
        torch.set_num_threads(args.threads)
    t_import = time.perf_counter() - T_PROCESS

    t0 = time.perf_counter()
    xm, xc, y, shape, names = load_like_original(args.csv, args.regions)
    load_seconds = time.perf_counter() - t0

    # ---- from here on: wall time (what the original spends to produce a fitted model + metrics)
    t_start = time.perf_counter()
    overrides = {"n_epochs": int(args.epochs), "hidden_dim": int(args.hidden)}
    if args.warm_start_epochs is not None:
        overrides["warm_start_epochs"] = int(args.warm_start_epochs)
    config, pipeline, (train_d, hold_d), (tr, ho), trainer, model = build_original(xm, xc, y, args.seed, overrides)
    t_pipeline = time.perf_counter()

    stamps = {"epoch_start": [], "epoch_end": [], "eval": [], "warm": None, "train_call": None}
    orig_epoch, orig_eval, orig_warm = trainer.train_epoch, trainer.evaluate_holdout, trainer.warm_start_training

    def timed_epoch(*a, **k):
        stamps["epoch_start"].append(time.perf_counter())
        out = orig_epoch(*a, **k)
        stamps["epoch_end"].append(time.perf_counter())
        return out

    def timed_eval(*a, **k):
        t = time.perf_counter()
        out = orig_eval(*a, **k)
        stamps["eval"].append((len(stamps["epoch_start"]) - 1, t, time.perf_counter()))
        return out

    def timed_warm(*a, **k):
        t = time.perf_counter()
        out = orig_warm(*a, **k)
        stamps["warm"] = (t, time.perf_counter())
        return out

    trainer.train_epoch, trainer.evaluate_holdout, trainer.warm_start_training = timed_epoch, timed_eval, timed_warm
    t_train = time.perf_counter()
    res = trainer.train(tr["X_media"], tr["X_control"], tr["R"], tr["y"], ho["X_media"], ho["X_control"], ho["R"],
                        ho["y"], pipeline=pipeline, verbose=False)
    t_end = time.perf_counter()

    shares = media_shares(pipeline, res["model"], xm, xc, names, int(train_d["y"].shape[1]))

    starts, ends = stamps["epoch_start"], stamps["epoch_end"]
    per_epoch = [b - a for a, b in zip(starts[:-1], starts[1:])]
    if starts:
        last = ends[-1] - starts[-1] + sum(e - s for i, s, e in stamps["eval"] if i == len(starts) - 1)
        per_epoch.append(last)
    warm = stamps["warm"]
    warm_seconds = (warm[1] - warm[0]) if warm else 0.0
    init_seconds = (warm[0] - t_train) if warm else ((starts[0] - t_train) if starts else 0.0)
    main_seconds = (starts[-1] - starts[0] + per_epoch[-1]) if starts else 0.0
    last_loop = max([ends[-1]] + [e for _, _, e in stamps["eval"]]) if starts else t_train
    n_params = int(sum(p.numel() for p in model.parameters() if p.requires_grad))

    def f(k):
        v = res.get(k)
        return None if v is None else float(v)

    out = {
        "tool": "deepcausalmmm",
        "versions": {"deepcausalmmm": md.version("deepcausalmmm"), "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "torch_threads": torch.get_num_threads(),
        "device": str(trainer.device),
        "data": {**shape, "path": os.path.abspath(args.csv)},
        "config": {"hidden_dim": config["hidden_dim"], "n_epochs": config["n_epochs"],
                   "warm_start_epochs": config.get("warm_start_epochs"), "burn_in_weeks": config.get("burn_in_weeks"),
                   "holdout_ratio": config.get("holdout_ratio"), "seed": args.seed},
        "split": {"train_weeks": int(train_d["y"].shape[1]), "holdout_weeks": int(hold_d["y"].shape[1])},
        "n_parameters": n_params,
        "epochs": len(starts),
        "timing": {
            "import_seconds": t_import,
            "load_seconds": load_seconds,
            "pipeline_seconds": t_pipeline - t_start,           # split, scaler, padding, model + optimiser
            "init_seconds": init_seconds,                       # in train(): baseline/seasonality/Hill init
            "setup_seconds": (t_pipeline - t_start) + init_seconds,
            "warm_start_seconds": warm_seconds,
            "main_seconds": main_seconds,
            "final_eval_seconds": t_end - last_loop,
            "wall_seconds": t_end - t_start,
            "seconds_per_epoch_median": statistics.median(per_epoch) if per_epoch else None,
            "seconds_per_epoch_mean": statistics.fmean(per_epoch) if per_epoch else None,
            "epoch_seconds": per_epoch,
        },
        "metrics": {
            "holdout": {"r2": f("final_holdout_r2"), "rmse": f("final_holdout_rmse"), "mae": f("holdout_mae_orig"),
                        "trimmed_rmse": f("holdout_trimmed_rmse"), "r2_scaled": f("holdout_r2_scaled"),
                        "rmse_scaled": f("holdout_rmse_scaled")},
            "train": {"r2": f("final_train_r2"), "rmse": f("final_train_rmse")},
            "final_train_loss": f("final_train_loss"),
            # each channel's share of media over the training weeks (the example panel plants a null
            # channel, Channel_10_null); r2_scaled above is the within-region R² (y/ȳ_r), the same
            # definition as causalmmm-jax's r2_within_region
            "media_share": shares,
        },
        "peak_rss_mb": peak_rss_mb(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

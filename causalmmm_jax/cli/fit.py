"""``causalmmm-jax fit``: CSV → fitted model → RUN_DIR (see :mod:`causalmmm_jax.run`)."""

from __future__ import annotations

import argparse
import json
import sys

from ._base import add_mapping_args, mapping_from_args

__all__ = ["add_fit", "progress_printer", "print_metrics", "config_from_args"]


def progress_printer(enabled: bool = True):
    """A ``fit(progress=...)`` callback drawing a tqdm bar on stderr, updated between chunks."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    bars: dict = {}

    def cb(phase, done, total, m):
        import numpy as np

        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(total=total, desc=phase, unit="epoch", file=sys.stderr, leave=False,
                                     dynamic_ncols=True)
        last = lambda k: float(np.nanmean(np.asarray(m[k])[..., -1]))  # noqa: E731
        post = {"loss": f"{last('loss'):.4g}", "rmse": f"{last('rmse_fit'):.4g}"}
        if not np.all(np.isnan(np.asarray(m["rmse_val"]))):
            post["val"] = f"{float(np.nanmin(np.asarray(m['rmse_val'])[..., -1:])):.4g}"
        bar.set_postfix(post)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return cb


def print_metrics(metrics: dict, file=None) -> None:
    """A short table of the headline metrics."""
    file = file or sys.stdout
    tr, ho = metrics["train"], metrics["holdout"]
    rows = [("R²", "r2"), ("RMSE", "rmse"), ("MAE", "mae"), ("MAPE %", "mape"),
            ("R² within region", "r2_within_region")]
    print(f"{'metric':<18}{'train':>14}{'holdout':>14}", file=file)
    for label, k in rows:
        print(f"{label:<18}{tr.get(k, float('nan')):>14.4g}{ho.get(k, float('nan')):>14.4g}", file=file)
    pi = metrics.get("prediction_interval", {}).get("holdout")
    if pi:
        print(f"{100 * metrics['prediction_interval']['level']:.0f} % prediction intervals (predictions.csv) hold "
              f"{100 * pi['coverage']:.0f} % of the {pi['cells']} holdout cells and "
              f"{100 * pi['coverage_national']:.0f} % of the {pi['weeks']} holdout weeks' totals", file=file)
    att = metrics["attribution"]
    print("attribution: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in att.items()), file=file)
    chans = sorted(metrics["channels"].items(), key=lambda kv: -kv[1]["share"])
    iv = metrics.get("intervals")
    if iv:  # the anchored draws' intervals beside each estimate
        def band(v, key, scale=1.0, fmt=".1f"):
            lo_hi = v.get("interval", {}).get(key)
            return "" if lo_hi is None else f" [{scale * lo_hi[0]:{fmt}}, {scale * lo_hi[1]:{fmt}}]"

        print(f"{100 * iv['level']:.0f} % intervals from {iv['draws']} anchored draws", file=file)
        print("media shares: " + ", ".join(f"{k} {100 * v['share']:.1f}%{band(v, 'share', 100.0)}" for k, v in chans),
              file=file)
        if any(v.get("roi") is not None for _, v in chans):
            print("ROI: " + ", ".join(f"{k} {v['roi']:.3g}{band(v, 'roi', fmt='.3g')}" for k, v in chans
                                      if v.get("roi") is not None), file=file)
    else:
        print("media shares: " + ", ".join(f"{k} {100 * v['share']:.1f}%" for k, v in chans), file=file)
    ident = metrics.get("identifiability")
    if ident:
        print("what the data identify:", file=file)
        for ch, _ in chans:
            if ch in ident:
                print(f"  {ident[ch]['summary']}", file=file)
    t = metrics["timing"]
    mem = ""
    if t.get("peak_rss_mb") is not None:
        mem = f" | peak RSS {t['peak_rss_mb']:,.0f} MiB"
        if t.get("device_mb") == t.get("device_mb"):  # not NaN
            mem += f", {t['device_mb']:,.0f} MiB per device"
    if t.get("devices"):
        mem += (f" | {t['devices']:.0f} devices ({t['member_shards']:.0f} member x {t['region_shards']:.0f} region "
                f"shards)")
    print(f"epochs {metrics['epochs_run']} | fit {t['fit_seconds']:.1f}s | {1000 * t['seconds_per_epoch']:.1f} ms/epoch"
          f" | compile {t['compile_seconds']:.1f}s{mem}", file=file)


def add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="fit the model to a CSV and write a run directory",
                       description="Fit the model (optionally an ensemble of seeds) and write metrics.json, "
                                   "contributions.csv, predictions.csv, history.csv, config.json and the saved model "
                                   "into RUN_DIR.")
    p.add_argument("data", metavar="DATA.csv", help="the data file")
    add_mapping_args(p)
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="output directory (created if needed)")
    p.add_argument("--config", metavar="FILE", help="a .toml/.json configuration (see 'causalmmm-jax config')")
    p.add_argument("--preset", metavar="NAME", help="'default' or 'deepcausalmmm-1.0.21' (before --config keys)")
    p.add_argument("--epochs", type=int, metavar="N", help="override train.epochs")
    p.add_argument("--seed", type=int, metavar="S", help="override train.seed")
    p.add_argument("--seeds", type=int, default=1, metavar="K", help="ensemble size (vmapped seeds S..S+K-1)")
    p.add_argument("--intervals", type=int, default=None, metavar="K",
                   help="override train.interval_draws: anchored draws behind the 90 %% intervals (0 = none)")
    add_device_args(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--holdout-weeks", type=int, metavar="H", help="override data.holdout_weeks")
    g.add_argument("--holdout-ratio", type=float, metavar="F", help="override data.holdout_ratio")
    p.add_argument("--lift-tests", metavar="FILE.csv", help="lift-test results for calibration")
    p.add_argument("--roi-prior", action="append", type=roi_prior_arg, default=[], metavar="CHANNEL=M:SD|LOW..HIGH",
                   help="a prior on a channel's ROI (KPI per unit of spend): log-normal with median M and log-scale "
                        "sd SD, or a 90 %% interval LOW..HIGH; CHANNEL is a media or spend column, '*' every other "
                        "channel; repeatable (adds to or replaces train.roi_prior of the config)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=_cmd_fit)


def roi_prior_arg(text: str) -> tuple[str, dict]:
    """``"tv=2:0.5"`` → ``("tv", {"median": 2.0, "sd": 0.5})``; ``"tv=1..4"`` → ``("tv", {"low": 1.0,
    "high": 4.0})``."""
    name, sep, value = text.rpartition("=")
    try:
        if not sep or not name.strip():
            raise ValueError
        if ".." in value:
            lo, hi = (float(v) for v in value.split(".."))
            return name.strip(), {"low": lo, "high": hi}
        m, sd = (float(v) for v in value.split(":"))
        return name.strip(), {"median": m, "sd": sd}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give CHANNEL=MEDIAN:SD (e.g. tv=2:0.5) or CHANNEL=LOW..HIGH "
                                         "(a 90 % interval, e.g. tv=1..4)") from None


def _mesh_shape(text: str) -> tuple[int, int]:
    try:
        m, r = (int(v) for v in text.lower().replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give MEMBERS,REGIONS, e.g. 2,4") from None
    return m, r


def add_device_args(p: argparse.ArgumentParser) -> None:
    """--devices, --mesh and the multi-process options of a fit."""
    g = p.add_argument_group("devices and processes")
    g.add_argument("--devices", type=int, metavar="D",
                   help="spread the fit over D devices: ensemble members first, then regions (data parallel)")
    g.add_argument("--mesh", type=_mesh_shape, metavar="M,R",
                   help="the device mesh: M member shards x R region shards (default: members take what divides)")
    g.add_argument("--distributed", action="store_true",
                   help="run as one process of a jax.distributed job (SLURM, TPU pod, Kubernetes: found "
                        "automatically); each process reads only its regions, the first writes RUN_DIR")
    g.add_argument("--coordinator", metavar="HOST:PORT", help="the coordinator of a jax.distributed job (implies "
                   "--distributed; with --num-processes and --process-id)")
    g.add_argument("--num-processes", type=int, metavar="N", help="processes of the jax.distributed job")
    g.add_argument("--process-id", type=int, metavar="I", help="this process's index (0..N-1)")


def start_distributed(args: argparse.Namespace) -> bool | None:
    """Start ``jax.distributed`` when asked: None for a single process, else whether this process
    is the first (the one that writes outputs)."""
    if not (args.distributed or args.coordinator):
        return None
    from ..data.distributed import initialize
    from ..errors import ConfigError

    if args.coordinator and (args.num_processes is None or args.process_id is None):
        raise ConfigError("--coordinator needs --num-processes and --process-id.")
    initialize(args.coordinator, args.num_processes, args.process_id)
    import jax

    return jax.process_index() == 0


def config_from_args(args: argparse.Namespace):
    """Preset → config file → command-line overrides."""
    from ..config import Config, preset

    cfg = preset(args.preset) if args.preset else Config()
    if args.config:
        import json
        import tomllib
        from pathlib import Path

        from ..errors import ConfigError

        path = Path(args.config)
        try:
            text = path.read_text(encoding="utf-8")
            d = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror or e}.") from None
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"config file {path} is not valid: {e}.") from None
        cfg = Config.from_dict(d, base=cfg)
    over: dict = {"data": {}, "train": {}}
    if args.epochs is not None:
        over["train"]["epochs"] = args.epochs
    if args.seed is not None:
        over["train"]["seed"] = args.seed
    if getattr(args, "intervals", None) is not None:
        over["train"]["interval_draws"] = args.intervals
    if args.holdout_weeks is not None:
        over["data"]["holdout_weeks"] = args.holdout_weeks
    if args.holdout_ratio is not None:
        over["data"].update(holdout_ratio=args.holdout_ratio, holdout_weeks=None)
    if getattr(args, "missing_media", None):
        over["data"]["missing_media"] = args.missing_media
    if getattr(args, "roi_prior", None):
        stated = {ch: {"median": m, "sd": sd} for ch, m, sd in cfg.train.roi_prior}
        over["train"]["roi_prior"] = {**stated, **dict(args.roi_prior)}
    return cfg.updated(**over)


def _cmd_fit(args: argparse.Namespace) -> int:
    from .._io_util import writable_dir
    from ..data.load import panel_from_csv
    from ..errors import ConfigError
    from ..run import write_run
    from ..train.fit import fit

    cfg = config_from_args(args)
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds} must be >= 1.")
    mapping = mapping_from_args(args)
    leader = start_distributed(args)
    if leader is None:  # one process
        panel = panel_from_csv(args.data, mapping, missing_media=cfg.data.missing_media, sep=args.sep)
    else:  # this process reads its own regions only; every process then holds the panel
        from ..data.distributed import load_panel

        panel = load_panel(args.data, mapping, sep=args.sep, missing_media=cfg.data.missing_media)
    writable_dir(args.out)  # before the fit, not after it (every process: none goes on alone)
    lift = None
    if args.lift_tests:
        from ..train.calibration import read_lift_tests

        lift = read_lift_tests(args.lift_tests)
    result = fit(panel, cfg, seeds=args.seeds, mapping=mapping, lift=lift, devices=args.devices,
                 mesh_shape=args.mesh, progress=progress_printer(leader is not False and not args.quiet
                                                                 and sys.stderr.isatty()))
    if leader is False:  # the first process writes the run
        return 0
    out = write_run(result, args.out)
    if not args.quiet:
        print_metrics(json.loads((out / "metrics.json").read_text(encoding="utf-8")))  # what was written
        print(f"run written to {out}")
    return 0

